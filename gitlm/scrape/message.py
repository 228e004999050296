"""What a commit message says: subject/body, conventional-commit type, issues, co-authors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitlm.schema import Person

# Conventional Commits (https://www.conventionalcommits.org) types, plus common variants.
CONVENTIONAL_TYPES = frozenset(
    {"feat", "fix", "docs", "style", "refactor", "perf", "test", "tests", "build", "ci",
     "chore", "revert", "deps", "security"}
)
_CONVENTIONAL = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?:\s+\S")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:", re.MULTILINE)
# #123 or GH-123, not inside a word, a URL path or an HTML entity (&#123;).
_ISSUE = re.compile(r"(?<![\w/&])(?:#|GH-)(\d{1,9})\b")
_CO_AUTHOR = re.compile(r"^[ \t]*co-authored-by:[ \t]*(.*?)[ \t]*<([^<>\n]*)>[ \t]*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class MessageParts:
    subject: str
    body: str
    conventional_type: str | None = None
    conventional_scope: str | None = None
    is_breaking_change: bool = False
    referenced_issues: list[int] = field(default_factory=list)
    co_authors: list[Person] = field(default_factory=list)


def parse_message(message: str) -> MessageParts:
    """Split and read a raw commit message (%B): subject = first line, body = the rest."""
    text = message.strip("\n")
    subject, _, rest = text.partition("\n")
    parts = MessageParts(subject=subject.strip(), body=rest.strip("\n").rstrip())
    match = _CONVENTIONAL.match(parts.subject)
    if match and match.group("type").lower() in CONVENTIONAL_TYPES:
        parts.conventional_type = match.group("type").lower()
        scope = match.group("scope")
        parts.conventional_scope = scope.strip() if scope and scope.strip() else None
        parts.is_breaking_change = bool(match.group("bang"))
    if _BREAKING_FOOTER.search(parts.body):
        parts.is_breaking_change = True
    seen: set[int] = set()
    for found in _ISSUE.finditer(text):
        number = int(found.group(1))
        if number not in seen:
            seen.add(number)
            parts.referenced_issues.append(number)
    people: set[Person] = set()
    for found in _CO_AUTHOR.finditer(parts.body):
        person = Person(name=found.group(1), email=found.group(2).strip())
        if person not in people:
            people.add(person)
            parts.co_authors.append(person)
    return parts
