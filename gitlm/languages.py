"""File language from its name: one table, shared by the scraper and the chunker.

Adding a language is one entry. Names follow GitHub Linguist's spelling, lower-cased.
"""

from __future__ import annotations

import posixpath

EXTENSIONS: dict[str, str] = {
    ".rs": "rust", ".py": "python", ".pyi": "python", ".pyx": "cython",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
    ".hh": "cpp", ".hxx": "cpp", ".cs": "csharp", ".fs": "fsharp", ".swift": "swift",
    ".m": "objective-c", ".mm": "objective-c", ".rb": "ruby", ".php": "php", ".pl": "perl",
    ".pm": "perl", ".lua": "lua", ".r": "r", ".jl": "julia", ".dart": "dart", ".zig": "zig",
    ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell", ".ml": "ocaml",
    ".clj": "clojure", ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".fish": "shell",
    ".ps1": "powershell", ".sql": "sql", ".proto": "protobuf", ".graphql": "graphql",
    ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss", ".sass": "sass",
    ".less": "less", ".vue": "vue", ".svelte": "svelte",
    ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonc": "json",
    ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".xml": "xml", ".csv": "csv",
    ".md": "markdown", ".markdown": "markdown", ".rst": "restructuredtext", ".txt": "text",
    ".tex": "latex", ".cmake": "cmake", ".gradle": "groovy", ".groovy": "groovy",
    ".tf": "hcl", ".hcl": "hcl", ".nix": "nix", ".vim": "vim", ".el": "emacs-lisp",
}

FILENAMES: dict[str, str] = {
    "Dockerfile": "dockerfile", "Makefile": "make", "GNUmakefile": "make",
    "CMakeLists.txt": "cmake", "Cargo.lock": "toml", "Gemfile": "ruby", "Rakefile": "ruby",
    "Jenkinsfile": "groovy", "BUILD": "starlark", "WORKSPACE": "starlark",
    ".gitignore": "gitignore", ".gitattributes": "gitattributes", ".gitmodules": "ini",
    ".editorconfig": "ini",
}


def language_of(path: str) -> str | None:
    """The language of a path by file name, then extension (case-insensitive); None if unknown."""
    name = posixpath.basename(path)
    if name in FILENAMES:
        return FILENAMES[name]
    dot = name.rfind(".")
    if dot <= 0:
        return None
    return EXTENSIONS.get(name[dot:].lower())
