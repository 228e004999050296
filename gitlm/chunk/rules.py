"""change_type: what a chunk's change is, from code structure first and the commit message second.

The rules, first match wins (documented in README, `gitlm chunk`):

1. dependency_update: a dependency list or lock file (requirements*.txt, Cargo.lock,
   package-lock.json, go.mod, ...), or a manifest's dependency section (Cargo.toml
   [dependencies], pyproject.toml dependencies / [tool.poetry.dependencies],
   package.json dependencies / devDependencies, setup.cfg install_requires, ...).
2. documentation: a documentation file (Markdown, reStructuredText, plain text, LaTeX,
   anything under doc/ or docs/, README/CHANGES/CHANGELOG/NEWS/AUTHORS/LICENSE/...), or a
   commit typed `docs:`.
3. configuration: any other config file (TOML, YAML, JSON, INI, XML, Dockerfile, Makefile,
   .gitignore, CI workflows, ...).
4. new_test / modified_test: a test (def test_*, #[test], it(...)/test(...), func TestX,
   @Test, TEST(...)) or any unit of a test file: new_test when it is new, else modified_test
   (a deleted test is a modified test suite).
5. a new unit: new_function (function, method), new_type (class, struct, enum, type
   alias), new_interface (trait, interface), new_impl (impl block).
6. a deleted unit: deleted_function for functions and methods (and whole deleted code
   files), refactor for other units.
7. a renamed unit, or one moved without any change: refactor.
8. a modified unit: documentation when every changed line is a comment; refactor when only
   whitespace changed; otherwise the message decides: bug_fix (`fix:`, "fix", "bug",
   "crash", "regression", ...), optimization (`perf:`, "optimize", "speed up", "faster",
   "performance", ...), refactor (`refactor:`/`style:`, "refactor", "clean up", "rename",
   "simplify", ...); failing those, modified_function for functions and methods, other for
   the rest.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

from gitlm.chunk.languages import CALLABLE_KINDS, CONFIG_LANGUAGES, DOC_LANGUAGES

CHANGE_TYPES = (
    "new_function", "modified_function", "deleted_function", "new_test", "modified_test", "new_type",
    "new_interface", "new_impl", "bug_fix", "optimization", "refactor", "configuration", "documentation",
    "dependency_update", "other",
)

_BUG = re.compile(r"\b(fix(es|ed|ing)?|bug(s|fix)?|hotfix|crash(es|ed|ing)?|regression|broken|wrong|incorrect|"
                  r"segfault|(closes|resolves) #\d+)\b", re.IGNORECASE)
_PERF = re.compile(r"\b(optimi[sz]\w*|perf(ormance)?|speed(s|ed)?[ -]?up|faster|slow(er|ness)?|latency|"
                   r"throughput|reduce (memory|allocations?)|memory (usage|footprint))\b", re.IGNORECASE)
_REFACTOR = re.compile(r"\b(refactor\w*|clean(ed|s|ing)?[ -]?up|rename[sd]?|renaming|simplif\w*|restructur\w*|"
                       r"reorganiz\w*|tidy|deduplicat\w*|extract(ed|s)? (a |the )?(method|function|class|helper))\b",
                       re.IGNORECASE)

_DOC_DIRS = ("doc/", "docs/", "documentation/")
_DEPENDENCY_FILES = re.compile(
    r"^(requirements[\w.-]*\.(txt|in)|constraints[\w.-]*\.txt|Pipfile(\.lock)?|poetry\.lock|uv\.lock|pdm\.lock|"
    r"Cargo\.lock|package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|bun\.lockb?|go\.mod|go\.sum|"
    r"Gemfile(\.lock)?|composer\.lock|environment\.ya?ml|conda-lock\.yml|vcpkg\.json|conanfile\.txt|deno\.lock)$"
)
_DEPENDENCY_SECTIONS: dict[str, re.Pattern] = {
    "Cargo.toml": re.compile(r"^(workspace\.)?(target\..+\.)?(dev-|build-)?dependencies(\..+)?$"),
    "pyproject.toml": re.compile(r"^(project\.optional-dependencies|dependency-groups|build-system|"
                                 r"tool\.poetry(\.group\.[^.]+)?\.(dev-)?dependencies|tool\.pdm\.dev-dependencies|"
                                 r"tool\.uv\.(dev-dependencies|sources))(\..+)?$"),
    "package.json": re.compile(r"^(dependencies|devDependencies|peerDependencies|optionalDependencies|"
                               r"bundledDependencies|bundleDependencies|overrides|resolutions)$"),
    "setup.cfg": re.compile(r"^options\.extras_require$"),
    "composer.json": re.compile(r"^(require|require-dev)$"),
}
_DEPENDENCY_KEYS: dict[str, re.Pattern] = {  # keys of other sections that list dependencies
    "pyproject.toml": re.compile(r"^(dependencies|optional-dependencies|requires)$"),
    "setup.cfg": re.compile(r"^(install_requires|setup_requires|tests_require|extras_require)$"),
}
_CONFIG_FILES = re.compile(
    r"^(Dockerfile|Containerfile|Makefile|GNUmakefile|CMakeLists\.txt|Jenkinsfile|Procfile|Vagrantfile|"
    r"\.gitignore|\.gitattributes|\.gitmodules|\.editorconfig|\.dockerignore|\.npmrc|\.nvmrc|\.flake8|"
    r"\.pylintrc|\.coveragerc|\.pre-commit-config\.yaml|tox\.ini|setup\.cfg|MANIFEST\.in|\.env\.example)$"
)
_CONFIG_LANGUAGES = CONFIG_LANGUAGES | {"dockerfile", "make", "cmake", "gitignore", "gitattributes", "hcl", "nix", "starlark"}

_TEST_PATH = re.compile(
    r"(^|/)(tests?|__tests__|spec|testing)/|(^|/)(test_[^/]*\.py|[^/]*_test\.(py|go|c|cc|cpp|cxx|rs)|conftest\.py|"
    r"[^/]*\.(test|spec)\.[jt]sx?|[^/]*(Test|Tests|IT)\.java|[^/]*_unittest\.(cc|cpp))$"
)

_COMMENT_PREFIXES: dict[str, tuple[str, ...]] = {
    "python": ("#",), "rust": ("//", "/*", "*"), "javascript": ("//", "/*", "*"), "typescript": ("//", "/*", "*"),
    "tsx": ("//", "/*", "*"), "go": ("//", "/*", "*"), "java": ("//", "/*", "*"), "c": ("//", "/*", "*"),
    "cpp": ("//", "/*", "*"), "toml": ("#",), "yaml": ("#",), "ini": ("#", ";"),
}


@lru_cache(maxsize=8192)
def is_test_path(path: str) -> bool:
    return bool(_TEST_PATH.search(path))


_DOC_NAMES = frozenset({"readme", "changes", "changelog", "history", "news", "authors", "contributors", "license",
                        "licence", "copying", "notice", "contributing", "code_of_conduct", "security"})


@lru_cache(maxsize=8192)
def is_doc_path(path: str, language: str | None) -> bool:
    lower = path.lower()
    stem = posixpath.basename(lower).split(".", 1)[0]
    return (language in DOC_LANGUAGES or lower.startswith(_DOC_DIRS) or "/docs/" in lower
            or (language is None and stem in _DOC_NAMES))  # CHANGES, LICENSE (not security.py)


def is_dependency_change(path: str, section: str | None, members: list[str]) -> bool:
    name = posixpath.basename(path)
    if _is_dependency_file(name):
        return True
    sections = _DEPENDENCY_SECTIONS.get(name)
    if sections is not None and section is not None and sections.match(section.split(".", 1)[0] if name == "package.json" else section):
        return True
    keys = _DEPENDENCY_KEYS.get(name)
    return keys is not None and bool(members) and all(keys.match(m) for m in members)


@lru_cache(maxsize=8192)
def _is_dependency_file(name: str) -> bool:
    return bool(_DEPENDENCY_FILES.match(name))


@lru_cache(maxsize=8192)
def is_config_path(path: str, language: str | None) -> bool:
    name = posixpath.basename(path)
    return language in _CONFIG_LANGUAGES or bool(_CONFIG_FILES.match(name)) or path.startswith(".github/")


@lru_cache(maxsize=8192)
def message_intent(subject: str, conventional_type: str | None) -> str | None:
    """bug_fix, optimization or refactor when the commit message says so, else None."""
    kind = (conventional_type or "").lower()
    if kind in ("fix", "bugfix", "hotfix"):
        return "bug_fix"
    if kind == "perf":
        return "optimization"
    if kind in ("refactor", "style"):
        return "refactor"
    if _BUG.search(subject):
        return "bug_fix"
    if _PERF.search(subject):
        return "optimization"
    if _REFACTOR.search(subject):
        return "refactor"
    return None


def change_type(*, kind: str, status: str, test: bool, path: str, language: str | None, section: str | None,
                members: list[str], removed: list[str], added: list[str], subject: str,
                conventional_type: str | None, family: str | None, unchanged: bool = False) -> str:
    """The change_type of one chunk (rules in the module docstring). `removed`/`added` are
    the chunk's -/+ lines without their markers; `unchanged` marks a unit whose code is the
    same before and after (moved)."""
    conventional = (conventional_type or "").lower()
    if is_dependency_change(path, section, members):
        return "dependency_update"
    if family == "docs" or is_doc_path(path, language) or conventional == "docs":
        return "documentation"
    if family == "config" or is_config_path(path, language):
        return "configuration"
    if test or is_test_path(path):
        return "new_test" if status == "added" else "modified_test"
    callable_kind = kind in CALLABLE_KINDS
    if status == "added":
        if callable_kind:
            return "new_function"
        return {"type": "new_type", "interface": "new_interface", "impl": "new_impl"}.get(kind) or (
            message_intent(subject, conventional_type) or "other")
    if status == "deleted":
        if callable_kind or kind == "file":
            return "deleted_function"
        return "refactor"
    if status == "renamed" or unchanged:
        return "refactor"
    if removed or added:
        if _only_comments(removed + added, language):
            return "documentation"
        if "".join("".join(removed).split()) == "".join("".join(added).split()):
            return "refactor"  # only whitespace changed (formatting)
    intent = message_intent(subject, conventional_type)
    if intent is not None:
        return intent
    return "modified_function" if callable_kind else "other"


def _only_comments(lines: list[str], language: str | None) -> bool:
    prefixes = _COMMENT_PREFIXES.get(language or "")
    if not prefixes:
        return False
    seen = False
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if not text.startswith(prefixes):
            return False
        seen = True
    return seen
