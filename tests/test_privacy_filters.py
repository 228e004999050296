"""PathFilter and NearDuplicateFilter on their own."""

from __future__ import annotations

import numpy as np
import pytest

from gitlm.config import PrivacyConfig
from gitlm.privacy import DEFAULT_EXCLUDES, NearDuplicateFilter, PathFilter, dedup_from_config, path_filter_from_config


@pytest.mark.parametrize("path", [
    "vendor/github.com/pkg/errors/errors.go", "src/third_party/zlib/inflate.c", "web/node_modules/left-pad/index.js",
    "package-lock.json", "frontend/yarn.lock", "Cargo.lock", "poetry.lock", "go.sum", "uv.lock",
    "static/js/app.min.js", "static/css/site.min.css", "dist/app.js.map", "api/service_pb2.py", "api/service.pb.go",
    "lib/src/model.g.dart", "src/Form1.designer.cs", "ui/__generated__/types.ts", ".venv/lib/python3.11/x.py",
    # copied front-end libraries
    "static/jquery-1.7.1.js", "static/unminified/jquery-ui.js", "static/jquery/css/jquery-ui.css",
    "static/components/CodeMirror/lib/codemirror.js", "static/codemirror-2.12/mode/python.js",
    "static/components/bootstrap/less/bootstrap.less", "css/bootstrap-responsive.css", "static/MathJax/MathJax.js",
    "web/d3.v3.js", "js/modernizr-2.6.2.js",
])
def test_default_excludes(path):
    assert PathFilter().reason(path) == "default"


@pytest.mark.parametrize("path", [
    "src/app.py", "vendored.py", "docs/vendor.md", "lockfile.py", "src/minify.js", "README.md", "pkg/locks/mutex.go",
    "tests/test_apps/lib/python2.5/site-packages/site_app.py",
    "src/bootstrap.js", "app/bootstrap/app.php", "src/components/Button.tsx", "static/js/codecell.js",
    "src/editor/codemirror_mode.py", "charts/d3_helpers.js",
])
def test_ordinary_paths_are_kept(path):
    assert PathFilter().reason(path) is None


def test_user_patterns_follow_gitignore_rules():
    paths = PathFilter(exclude=["docs/*.md", "/build/", "!vendor/keep/"], include=["*.py", "*.md", "vendor/**"])
    assert paths.reason("docs/guide.md") == "exclude"
    assert paths.reason("docs/sub/deep.md") is None  # docs/*.md is one level
    assert paths.reason("build/gen.py") == "exclude"
    assert paths.reason("src/build/gen.py") is None  # /build/ only at the top
    assert paths.reason("vendor/keep/x.py") is None  # re-included
    assert paths.reason("vendor/other/x.py") == "default"
    assert paths.reason("src/app.js") == "include"
    assert paths.filter(["a.py", "b.js", "vendor/x/y.py", "c.md"]) == ["a.py", "c.md"]
    assert dict(paths.dropped) == {"include": 1, "default": 1}
    assert paths.stats() == {"files_excluded": 2, "files_excluded_by_reason": {"default": 1, "include": 1}}


def test_defaults_off_and_size():
    paths = PathFilter(default_excludes=False, max_file_size=10)
    assert paths.reason("package-lock.json") is None
    assert paths.too_large(11) and not paths.too_large(10) and not paths.too_large(None)
    assert not PathFilter(max_file_size=0).too_large(10**12)
    config = PrivacyConfig(exclude=["*.txt"], default_excludes=False)
    assert path_filter_from_config(config).reason("a.txt") == "exclude"
    assert "vendor/" in DEFAULT_EXCLUDES


def _function(i: int, body: str = "return x + 1") -> str:
    return f"def handler_{i}(request, x):\n    value = compute(request, x)\n    log.info('value %s', value)\n    {body}\n"


def test_near_duplicates_are_dropped_first_kept():
    dedup = NearDuplicateFilter()
    base = "\n".join(_function(i) for i in range(20))
    near = base.replace("handler_7(", "handler_seven(")  # one token differs
    different = "\n".join(_function(i, "return str(x) * 2") + f"# note {i * 7}\n" for i in range(40, 60))
    docs = [("a", base), ("b", near), ("c", different), ("d", base), ("e", "x = 1"), ("f", "x = 1"), ("g", "x = 2")]
    kept = [key for key, _ in dedup.filter(docs, text=lambda item: item[1])]
    assert kept == ["a", "c", "e", "g"]
    assert dedup.stats() == {"near_duplicates_removed": 3, "near_duplicate_checked": 7, "near_duplicate_threshold": 0.85}


def test_threshold_is_jaccard_of_shingles():
    dedup = NearDuplicateFilter(threshold=0.85, num_perm=256)
    tokens = [f"tok{i}" for i in range(400)]
    a = " ".join(tokens)
    b = " ".join(tokens[:360] + [f"new{i}" for i in range(40)])  # 10% of the tokens replaced at the end
    estimate = float(np.mean(dedup.signature(a) == dedup.signature(b)))
    # exact Jaccard of 5-token shingles: 356 shared of 396 + 40 distinct each side
    exact = 356 / (396 + 40)
    assert abs(estimate - exact) < 0.08
    assert dedup.shingle_hashes("a b c").shape == (1,)  # shorter than a shingle: one shingle of all tokens
    assert len(dedup.shingle_hashes("")) == 0


def test_dedup_config_switch():
    assert dedup_from_config(PrivacyConfig(dedup=False)) is None
    made = dedup_from_config(PrivacyConfig(dedup_threshold=0.7, dedup_num_perm=64, dedup_ngram=3))
    assert (made.threshold, made.num_perm, made.ngram) == (0.7, 64, 3)
    with pytest.raises(ValueError):
        NearDuplicateFilter(threshold=0)
