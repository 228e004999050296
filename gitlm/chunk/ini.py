"""INI files (setup.cfg, tox.ini, .editorconfig, .gitmodules, ...) as an outline of sections
and keys. No tree-sitter grammar for INI ships as a wheel, and the format is line-based:
`[section]` starts a section, `key = value` / `key: value` a key, indented lines continue
the key above (configparser's rules), `#`/`;` lines are comments."""

from __future__ import annotations

import re

from gitlm.chunk.languages import Analyzer
from gitlm.chunk.outline import Entry, LineIndex, Outline

_SECTION = re.compile(rb"^\[([^\]\n]+)\]")
_KEY = re.compile(rb"^([^=:\s][^=:]*?)\s*[=:]")

INI = Analyzer("ini", lambda: None, {}, family="config")


def ini_outline(data: bytes, lines: LineIndex) -> Outline:
    """Sections (with their keys as members) and the keys before the first section."""
    top: list[Entry] = []
    section: tuple[str, int, list[Entry]] | None = None
    key: list = []  # [name, start, end] of the key being read (its continuation lines extend it)

    def close_key() -> None:
        if key:
            name, start, end = key
            target = section[2] if section is not None else top
            base = section[1] if section is not None else 0
            target.append(Entry("key", name, start - base, end - base))
            key.clear()

    def close_section(end: int) -> None:
        nonlocal section
        close_key()
        if section is not None:
            name, start, members = section
            last = max([start + 1] + [start + m.end for m in members])
            entry = Entry("section", name, start, max(last, min(end, start + 1)), nested=True)
            if members:
                entry.members = tuple(members)
                entry.head = members[0].start
                entry.tail = (entry.end - entry.start) - members[-1].end
            top.append(entry)
        section = None

    for number in range(lines.count):
        raw = data[lines.byte(number):lines.byte(number + 1)].rstrip(b"\r\n")
        stripped = raw.strip()
        if not stripped:
            continue
        if raw[:1] in (b" ", b"\t") and key:
            key[2] = number + 1  # a continuation line
            continue
        match = _SECTION.match(raw)
        if match:
            close_section(number)
            section = (match.group(1).strip().decode("utf-8", "replace"), number, [])
            continue
        close_key()
        if stripped[:1] in (b"#", b";"):
            target = section[2] if section is not None else top
            base = section[1] if section is not None else 0
            target.append(Entry("statement", None, number - base, number + 1 - base))
            continue
        match = _KEY.match(raw)
        name = match.group(1).strip().decode("utf-8", "replace") if match else stripped.decode("utf-8", "replace")
        key.extend([name, number, number + 1])
    close_section(lines.count)
    close_key()
    top.sort(key=lambda e: e.start)
    return Outline(tuple(top))
