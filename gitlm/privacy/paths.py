"""Which files' content may enter gitlm's outputs: --exclude / --include globs, default
excludes, and a maximum file size.

Patterns use .gitignore syntax (pathspec's GitIgnoreSpec): `*.py` matches at any depth,
`docs/` a directory anywhere, `/build/` only at the top, `**` any number of directories,
and `!pattern` re-includes. The default excludes come first and the user's --exclude
patterns after them, so `--exclude '!vendor/'` brings vendored code back. --include, when
given, keeps only the paths that match one of its patterns (excludes still apply).

The defaults (`DEFAULT_EXCLUDES`) drop what is not the project's own writing and would only
teach a model to reproduce someone else's code or a tool's output: vendored and installed
dependencies (with the front-end libraries projects copy in: jQuery, CodeMirror, Bootstrap's
styles, MathJax, ...), lock files, minified bundles and source maps, and well-known generated files
(protobuf/gRPC stubs, *.generated.*). `default_excludes: false` turns them off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import pathspec

DEFAULT_EXCLUDES: tuple[str, ...] = (
    # vendored and installed dependencies
    "vendor/", "vendors/", "_vendor/", "third_party/", "third-party/", "thirdparty/",
    "node_modules/", "bower_components/", "jspm_packages/", "Pods/", "Carthage/",
    ".venv/", "venv/",
    # front-end libraries copied into a project, by the names GitHub Linguist's vendor.yml
    # knows them (only names no project's own files take: not bootstrap.js, not components/)
    "jquery*.js", "jquery*.css", "[Cc]ode[Mm]irror*/", "bootstrap*.css", "bootstrap*.less", "bootstrap*.scss",
    "MathJax/", "ace-builds/", "d3.js", "d3.v[0-9]*.js", "modernizr*.js", "html5shiv*.js", "MochiKit.js",
    "*-vsdoc.js", "*.intellisense.js",
    # lock files
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
    "Cargo.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "uv.lock", "Gemfile.lock",
    "composer.lock", "go.sum", "mix.lock", "pubspec.lock", "Podfile.lock", "packages.lock.json",
    "flake.lock", "gradle.lockfile", "conda-lock.yml",
    # minified bundles and source maps
    "*.min.js", "*.min.mjs", "*.min.css", "*-min.js", "*.bundle.js", "*.js.map", "*.css.map",
    # generated code
    "*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py", "*.pb.go", "*.pb.cc", "*.pb.h", "*.pb.swift",
    "*.generated.*", "*_generated.go", "*.g.dart", "*.freezed.dart", "*.designer.cs",
    "__generated__/",
)

DEFAULT_MAX_FILE_SIZE = 1 << 20  # 1 MiB: as BigCode's The Stack, larger files are data, not code


class PathFilter:
    """Decide, per path, whether a file's content is kept, and count what was dropped.

    reason(path) is None for a kept path, else why it is dropped: "default" (a default
    exclude), "exclude" (a user --exclude), "include" (no --include pattern matched);
    too_large(size) applies max_file_size ("size"). Decisions are cached per path.
    """

    def __init__(
        self,
        exclude: Iterable[str] = (),
        include: Iterable[str] = (),
        *,
        default_excludes: bool = True,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    ) -> None:
        self.exclude = [p for p in exclude if p.strip()]
        self.include = [p for p in include if p.strip()]
        self.default_excludes = default_excludes
        self.max_file_size = max_file_size
        defaults = list(DEFAULT_EXCLUDES) if default_excludes else []
        self._all = pathspec.GitIgnoreSpec.from_lines(defaults + self.exclude)
        self._user = pathspec.GitIgnoreSpec.from_lines(self.exclude) if self.exclude else None
        self._include = pathspec.GitIgnoreSpec.from_lines(self.include) if self.include else None
        self._cache: dict[str, str | None] = {}
        self.dropped: Counter[str] = Counter()

    @classmethod
    def from_config(cls, config: Any) -> PathFilter:
        """From a PrivacyConfig (gitlm.config)."""
        return cls(config.exclude, config.include, default_excludes=config.default_excludes,
                   max_file_size=config.max_file_size)

    @property
    def excludes_nothing(self) -> bool:
        return not self.default_excludes and not self.exclude and not self.include and not self.max_file_size

    def reason(self, path: str) -> str | None:
        cached = self._cache.get(path, "")
        if cached != "":
            return cached
        found: str | None = None
        if self._include is not None and not self._include.match_file(path):
            found = "include"
        elif self._all.match_file(path):
            found = "exclude" if self._user is not None and self._user.match_file(path) else "default"
        self._cache[path] = found
        return found

    def keep(self, path: str) -> bool:
        return self.reason(path) is None

    def too_large(self, size: int | None) -> bool:
        return bool(self.max_file_size) and size is not None and size > self.max_file_size

    def count(self, reason: str) -> None:
        self.dropped[reason] += 1

    def filter(self, paths: Iterable[str]) -> list[str]:
        """The kept paths, counting the dropped ones."""
        kept = []
        for path in paths:
            why = self.reason(path)
            if why is None:
                kept.append(path)
            else:
                self.dropped[why] += 1
        return kept

    def stats(self) -> dict[str, Any]:
        return {"files_excluded": sum(self.dropped.values()), "files_excluded_by_reason": dict(sorted(self.dropped.items()))}
