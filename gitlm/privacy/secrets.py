"""Secret detection and redaction: every secret becomes a typed placeholder `<SECRET:type>`.

What counts as a secret (the `SECRET_TYPES` table below names each placeholder type):
- well-known token formats: AWS access key ids and secret keys, GitHub, GitLab, Slack
  (tokens and webhooks), Stripe secret/restricted keys, JWTs, private key blocks (PEM,
  OpenSSH, PGP, PuTTY), credentials inside URLs (`scheme://user:PASSWORD@host`);
- every regex plugin of detect-secrets (Artifactory, Azure storage, Discord, IBM, Mailchimp,
  npm, OpenAI, PyPI, SendGrid, Square, Telegram, Twilio, ... and again AWS, GitHub, GitLab,
  Slack, Stripe, JWT, basic auth), run on candidate lines;
- high-entropy values assigned to secret-sounding names (password, passwd, pwd, secret,
  token, api_key, auth_key, access_key, private_key, credentials, ...): found by
  detect-secrets' KeywordDetector and our own assignment pattern, kept as a secret when the
  value is at least `min_length` characters with Shannon entropy >= `min_entropy` bits per
  character and is not a template or reference (`${VAR}`, `<your-key>`, `$HOME`, ...).

Not used on their own: detect-secrets' Base64/Hex high-entropy plugins (every quoted hash,
checksum and test vector in code would go) and its public-IP plugin (an address is not a
secret). Nothing here ever talks to the network (detect-secrets' verifiers are never called).

Speed: one RE2 pass (a DFA, linear time) over the whole text finds candidate positions; a
text without one is returned untouched, which is almost every text. Only a window of at most
~800 characters around each candidate goes through the Python regexes and detect-secrets'
plugins, so a 64 KB minified line costs no more than a short one.

No secret value ever leaves this module except inside the text it was given: findings carry
the type and position only, counts are per type, and nothing is logged.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import msgspec
import re2

PLACEHOLDER = "<SECRET:{}>"

# Placeholder types, with what they stand for (documented in README / SECURITY.md).
SECRET_TYPES: dict[str, str] = {
    "aws_access_key": "AWS access key id (AKIA.../ASIA...)",
    "aws_secret_key": "AWS secret access key (40 characters next to an aws...key name)",
    "github_token": "GitHub token (ghp_/gho_/ghu_/ghs_/ghr_, github_pat_)",
    "gitlab_token": "GitLab token (glpat-, gldt-, glrt-, ...)",
    "slack_token": "Slack token (xoxb-, xoxp-, ...)",
    "slack_webhook": "Slack incoming-webhook URL",
    "stripe_key": "Stripe secret or restricted key (sk_/rk_, live or test)",
    "private_key": "private key block (PEM, OpenSSH, PGP, PuTTY)",
    "jwt": "JSON Web Token",
    "url_credentials": "password inside a URL (scheme://user:PASSWORD@host)",
    "password": "high-entropy value assigned to a password/passwd/pwd name",
    "secret": "high-entropy value assigned to a secret/credentials name",
    "token": "high-entropy value assigned to a token name",
    "api_key": "high-entropy value assigned to an api/auth/access/private key name",
    "artifactory_credentials": "Artifactory API token or password (detect-secrets)",
    "azure_storage_key": "Azure storage account key (detect-secrets)",
    "cloudant_credentials": "Cloudant credentials (detect-secrets)",
    "discord_bot_token": "Discord bot token (detect-secrets)",
    "ibm_cloud_iam_key": "IBM Cloud IAM key (detect-secrets)",
    "ibm_cos_hmac": "IBM COS HMAC credentials (detect-secrets)",
    "mailchimp_key": "Mailchimp API key (detect-secrets)",
    "npm_token": "npm auth token (detect-secrets)",
    "openai_key": "OpenAI API key (detect-secrets)",
    "pypi_token": "PyPI upload token (detect-secrets)",
    "sendgrid_key": "SendGrid API key (detect-secrets)",
    "softlayer_credentials": "SoftLayer credentials (detect-secrets)",
    "square_oauth_secret": "Square OAuth secret (detect-secrets)",
    "telegram_bot_token": "Telegram bot token (detect-secrets)",
    "twilio_key": "Twilio API key or account SID (detect-secrets)",
}

# detect-secrets plugin class -> (our type, RE2 trigger: a superset of what it matches).
_PLUGINS: dict[str, tuple[str, str]] = {
    "AWSKeyDetector": ("aws_access_key", r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}|(?i:aws.{0,20}(?:key|pwd|pw|pass|token))"),
    "GitHubTokenDetector": ("github_token", r"gh[pousr]_[A-Za-z0-9_]{30}"),
    "GitLabTokenDetector": ("gitlab_token", r"(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-|GR1348941"),
    "SlackDetector": ("slack_token", r"(?i:xox[abposr]-|hooks\.slack\.com/services/)"),
    "StripeDetector": ("stripe_key", r"[rs]k_live_"),
    "JwtTokenDetector": ("jwt", r"eyJ[A-Za-z0-9_=-]+\."),
    "PrivateKeyDetector": ("private_key", r"PRIVATE KEY|PuTTY-User-Key-File"),
    "BasicAuthDetector": ("url_credentials", r"://[^\s/?#@]*:[^\s/?#@]+@"),
    "ArtifactoryDetector": ("artifactory_credentials", r"AKC[a-zA-Z0-9]{10}|AP[0-9A-F][a-zA-Z0-9]{8}"),
    "AzureStorageKeyDetector": ("azure_storage_key", r"AccountKey="),
    "CloudantDetector": ("cloudant_credentials", r"(?i:cloudant|cl[_-]?(?:key|pw|pass|secret|token|api))"),
    # the token's tail only: three counted runs in one trigger multiply RE2's DFA states (20x slower)
    "DiscordBotTokenDetector": ("discord_bot_token", r"\.[a-zA-Z0-9_-]{6}\.[a-zA-Z0-9_-]{27}"),
    "IbmCloudIamDetector": ("ibm_cloud_iam_key", r"(?i:ibm|cloud[_-]?iam)"),
    "IbmCosHmacDetector": ("ibm_cos_hmac", r"(?i:ibm|cos[_-]?hmac|hmac)"),
    "MailchimpDetector": ("mailchimp_key", r"[0-9a-z]{4}-us[0-9]"),
    "NpmDetector": ("npm_token", r"_authToken="),
    "OpenAIDetector": ("openai_key", r"T3BlbkFJ"),
    "PypiTokenDetector": ("pypi_token", r"pypi-AgE"),
    "SendGridDetector": ("sendgrid_key", r"SG\.[a-zA-Z0-9_-]{22}\."),
    "SoftlayerDetector": ("softlayer_credentials", r"(?i:softlayer|sl[_-]?(?:key|pw|pass|secret|token|api))"),
    "SquareOAuthDetector": ("square_oauth_secret", r"sq0csp-"),
    "TelegramBotTokenDetector": ("telegram_bot_token", r"[0-9]{8,10}:[0-9A-Za-z_-]{35}"),
    "TwilioKeyDetector": ("twilio_key", r"(?:AC|SK)[a-z0-9]{32}"),
}

# Our own well-known patterns: type -> (RE2 trigger, Python regex whose group "v" (else the
# whole match) is the secret).
_KNOWN: dict[str, tuple[str, str]] = {
    "aws_access_key": (
        r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}",
        r"(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])",
    ),
    "aws_secret_key": (
        r"(?i:aws[\w.\-]{0,40}(?:secret|key))",
        r"(?i:aws[\w.\-]{0,40}(?:secret|key)[\w.\-]{0,20})[\"'\]]{0,2}\s*(?:=|:|:=|=>|,)?\s*[\"'`]?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
    ),
    "github_token": (
        r"gh[pousr]_[A-Za-z0-9]{30}|github_pat_[A-Za-z0-9_]{20}",
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])",
    ),
    "gitlab_token": (
        r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-",
        r"(?<![A-Za-z0-9_])gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-[A-Za-z0-9_\-]{20,1024}(?![A-Za-z0-9_\-])",
    ),
    "slack_token": (
        r"xox[abposr]-",
        r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,250}",
    ),
    "slack_webhook": (
        r"hooks\.slack\.com/services/",
        r"https?://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
    ),
    "stripe_key": (
        r"[rs]k_(?:live|test)_",
        r"(?<![A-Za-z0-9_])[rs]k_(?:live|test)_[0-9A-Za-z]{16,247}(?![A-Za-z0-9])",
    ),
    "jwt": (
        r"eyJ[A-Za-z0-9_-]{4}",
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
    ),
    "url_credentials": (
        r"://[^\s/?#@]*:[^\s/?#@]+@",
        r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:\"'`<>]*:(?P<v>[^\s/?#@\"'`<>]+)@",
    ),
}

# Names whose assigned value is a secret when it looks random enough.
_KEYWORD = (
    r"pass(?:wd|word|phrase)?|pwd|contrase(?:ñ|n)a|secret|token|credentials?"
    r"|api[_\-]?key|apikey|auth[_\-]?key|access[_\-]?key|client[_\-]?key|service[_\-]?key"
    r"|account[_\-]?key|db[_\-]?key|database[_\-]?(?:key|pass)|priv(?:ate)?[_\-]?key|key[_\-]?pass"
    r"|consumer[_\-]?key|signing[_\-]?key|encryption[_\-]?key|master[_\-]?key|session[_\-]?(?:id|key)"
)
_KEYWORD_TRIGGER = (
    r"(?i:(?:" + _KEYWORD + r")[\w.\-]*[\"'\]]{0,2}\s*(?:[:=!]|=>|\(|\s[\"'`]))"
    r"|[!=]=\s*[\w.]*(?i:" + _KEYWORD + r")"  # "value" == password
)
_ASSIGNMENT = re.compile(
    r"(?i)(?P<name>[\w.\-]*(?:" + _KEYWORD + r")[\w.\-]*)[\"'\]]{0,2}\s*"
    r"(?::=|=>|:|==?=?|!==?|\()\s*@?(?:[bru]{1,2}(?=[\"']))?"
    r"(?:\"(?P<dq>(?:[^\"\\\n]|\\.){1,500})\"|'(?P<sq>(?:[^'\\\n]|\\.){1,500})'|`(?P<bq>[^`\n]{1,500})`"
    r"|(?P<uq>[^\s\"'`,;)\]}]{1,500}))"
)
_KEYWORD_NAME = re.compile(r"(?i)" + _KEYWORD)
# Plain words ('development key', 'my-dev-secret'): a placeholder someone typed, not a secret.
# Random material: runs of letters and digits that are not words. A word is lower-case,
# Capitalised, UPPER, camelCase/PascalCase (with a leading acronym: OSMagics) or a number
# ('development key', 'tokens/tokenized_commits.jsonl', 'bold #2080D0' has 6 random
# characters); a random value mixes digits into letters or changes case ('q8Jd0Zs').
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_WORD = re.compile(r"(?:[A-Z]+|[A-Z]?[a-z]+)(?:[A-Z][a-z]+)*|[0-9]+")
MIN_RANDOM_CHARS = 8
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[.\-][A-Za-z_][A-Za-z0-9_]*)*")
_PLACEHOLDER_VALUES = frozenset({
    "password", "passwd", "secret", "token", "changeme", "change_me", "changeit", "example",
    "redacted", "placeholder", "your_password", "your-password", "yourpassword", "mypassword",
    "none", "null", "undefined", "true", "false", "xxx", "dummy", "default",
})
_CONFIG_SUFFIXES = (".env", ".ini", ".cfg", ".conf", ".properties", ".toml", ".yaml", ".yml",
                    ".sh", ".bash", ".zsh", ".envrc", ".netrc", ".npmrc", ".pypirc", ".tf", ".tfvars")

_PEM_BEGIN = re.compile(r"-{4,5} ?BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)? ?-{4,5}")
_PEM_END = re.compile(r"-{4,5} ?END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)? ?-{4,5}")
_KEY_BODY_LINE = re.compile(r"[+\- ]?\s*[\"'`]?(?:[A-Za-z0-9+/=]{16,}|[A-Za-z\-]+: .*)(?:\\n|[\"'`,])*\s*$")
_PUTTY = re.compile(r"Private-Lines: *(\d+)")
_PUTTY_MAC = re.compile(r"Private-MAC: *(?P<v>[0-9a-fA-F]+)")
_LINE_BODY = re.compile(r"^(?P<pre>[+\- ]?(?:\\n|[\s\"'`])*)(?P<body>.*?)(?P<post>(?:\\n|[\"'`,;\s])*)$")
# What may stand between BEGIN and END: base64 lines (possibly joined by \n escapes in a
# JSON/code string) and RFC 1421 headers (Proc-Type, DEK-Info); code that merely mentions
# the markers (a test asserting on them) is not key material.
_KEY_MATERIAL = re.compile(r"(?:\\n|[A-Za-z0-9+/=\s\"',.:\-])+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{16,}|^[A-Za-z\-]+: ")
_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@", re.MULTILINE)
_LINE_BODY_PLAIN = re.compile(r"^(?P<pre>(?:\\n|[\s\"'`])*)(?P<body>.*?)(?P<post>(?:\\n|[\"'`,;\s])*)$")

WINDOW_BEFORE = 256  # characters of context before a candidate that the detectors see
WINDOW_AFTER = 512  # and after it (a value follows its name; a token starts at the match)


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret's type and position in the scanned text (never its value). `continued`
    marks the further lines of one private key: replaced, but counted once."""

    type: str
    start: int
    end: int
    continued: bool = False


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's own character distribution."""
    if not value:
        return 0.0
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in Counter(value).values())


class SecretRedactor:
    """Find secrets in text and replace each with `<SECRET:type>`; count them per type.

    redact(text, path) is the one call every stage makes before writing text anywhere:
    commit messages, patches, chunk code, embedding payloads, training documents. `path`
    (the file the text belongs to, if any) lets config files (.env, .yaml, .ini, ...) match
    unquoted `password = value` assignments, which in code would mostly be expressions.
    `counts` holds how many secrets of each type were replaced so far; `enabled=False`
    (the --keep-secrets opt-out) makes every call return its input unchanged.
    """

    def __init__(self, *, enabled: bool = True, min_entropy: float = 3.0, min_length: int = 8) -> None:
        self.enabled = enabled
        self.min_entropy = min_entropy
        self.min_length = min_length
        self.counts: Counter[str] = Counter()

    # -- public API ---------------------------------------------------------------------

    def redact(self, text: str, path: str | None = None, raw: bytes | None = None) -> str:
        """The text with every secret replaced by its placeholder (counted in `counts`).

        `raw`, when the caller has it, is the text's UTF-8 bytes: the prefilter then scans
        them directly instead of encoding the text again (the scraper's case)."""
        if not self.enabled or not text:
            return text
        findings = self.scan(text, path, raw)
        if not findings:
            return text
        parts = []
        position = 0
        for finding in findings:
            parts.append(text[position:finding.start])
            parts.append(PLACEHOLDER.format(finding.type))
            position = finding.end
            if not finding.continued:
                self.counts[finding.type] += 1
        parts.append(text[position:])
        return "".join(parts)

    def scrub(self, text: str, path: str | None = None) -> str:
        """Like redact, without counting: for text that is redacted again elsewhere (stats
        examples, error messages), so a secret is counted once."""
        counts = self.counts.copy()
        try:
            return self.redact(text, path)
        finally:
            self.counts = counts

    def scan(self, text: str, path: str | None = None, raw: bytes | None = None) -> list[Finding]:
        """Non-overlapping findings in text order (merged where detectors overlap)."""
        if not text:
            return []
        ascii_text = text.isascii()  # O(1) in CPython: then byte offsets are text offsets
        if raw is None and ascii_text:
            raw = text.encode("ascii")
        if raw is not None:
            if self._prefilter_bytes.search(raw) is None:
                return []
        elif self._prefilter_text.search(text) is None:
            return []
        spans: list[tuple[int, int, int, str, bool]] = []  # start, end, rank, type, continued
        if "PRIVATE KEY" in text or "PuTTY-User-Key-File" in text:
            spans.extend((f.start, f.end, 0, f.type, f.continued) for f in _private_key_spans(text))
        # candidates are found in the UTF-8 bytes (re2's str interface costs ~200 µs a match
        # converting offsets); a window's byte offsets become text offsets below
        data = text.encode("ascii") if ascii_text else text.encode("utf-8", "surrogatepass")
        to_text = None if ascii_text else _CharOffsets(data)
        for start, end, families in self._windows(data):
            if to_text is not None:
                start, end = to_text.window(start, end)
            window = text[start:end]
            for found_type, s, e, rank in self._detect(window, families, path):
                spans.append((start + s, start + e, rank, found_type, False))
        return _merge(spans)

    def warm_up(self) -> None:
        """Import detect-secrets (~0.2 s: it pulls requests) on a background thread, so a
        caller that starts with slow I/O (the scraper walking refs) does not wait for it."""
        threading.Thread(target=_import_detect_secrets, name="gitlm-warm-up", daemon=True).start()

    def contains_secret(self, text: str, path: str | None = None) -> bool:
        return bool(self.scan(text, path))

    def redact_commit(self, commit: Any) -> Any:
        """A Commit (gitlm.schema) with its message and every file's patch redacted."""
        if not self.enabled:
            return commit
        changes: dict[str, Any] = {}
        subject = self.redact(commit.message_subject)
        body = self.redact(commit.message_body)
        if subject is not commit.message_subject:
            changes["message_subject"] = subject
        if body is not commit.message_body:
            changes["message_body"] = body
        files = None
        for index, change in enumerate(commit.files):
            if change.patch:
                patch = self.redact(change.patch, change.path)
                if patch is not change.patch:
                    files = files or list(commit.files)
                    files[index] = msgspec.structs.replace(change, patch=patch)
        if files is not None:
            changes["files"] = files
        return msgspec.structs.replace(commit, **changes) if changes else commit

    def redact_chunk(self, chunk: Any) -> Any:
        """A Chunk (gitlm.schema) with old_code, new_code, patch and the subject redacted."""
        if not self.enabled:
            return chunk
        changes: dict[str, Any] = {}
        for name in ("old_code", "new_code", "patch"):
            value = getattr(chunk, name)
            if value:
                redacted = self.redact(value, chunk.file_path)
                if redacted is not value:
                    changes[name] = redacted
        subject = self.redact(chunk.commit_meta.subject)
        if subject is not chunk.commit_meta.subject:
            changes["commit_meta"] = msgspec.structs.replace(chunk.commit_meta, subject=subject)
        return msgspec.structs.replace(chunk, **changes) if changes else chunk

    def redact_all(self, texts: Iterable[str], path: str | None = None) -> Iterator[str]:
        for text in texts:
            yield self.redact(text, path)

    def stats(self) -> dict[str, Any]:
        """{"secrets_redacted": total, "secrets_by_type": {type: n}} for a phase's stats."""
        return {"secrets_redacted": sum(self.counts.values()), "secrets_by_type": dict(sorted(self.counts.items()))}

    # -- detection ----------------------------------------------------------------------

    @cached_property
    def _plugins(self) -> dict[str, list[Any]]:
        """family -> detect-secrets plugin instances (imported on first use: it is slow)."""
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

        by_name = {cls.__name__: cls for cls in get_mapping_from_secret_type_to_class().values()}
        families: dict[str, list[Any]] = {}
        for name, (family, _) in _PLUGINS.items():
            if name in by_name:
                families.setdefault(f"plugin_{name}", []).append(by_name[name]())
        return families

    @cached_property
    def _prefilter_text(self) -> Any:
        """Every trigger, no groups: "any candidate?" for text given without its bytes."""
        return _compile_re2("|".join(f"(?:{trigger})" for _, trigger in _triggers()), groups=False)

    @cached_property
    def _family_names(self) -> list[str]:
        return [name for name, _ in _triggers()]

    @cached_property
    def _family_set(self) -> Any:
        """Which families' triggers match a candidate's bytes exactly (indexes into _family_names)."""
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        options.never_capture = True
        family_set = re2.Set.FullMatchSet(options)
        for _, trigger in _triggers():
            family_set.Add(trigger.encode())
        family_set.Compile()
        return family_set

    @cached_property
    def _prefilter_bytes(self) -> Any:
        return _compile_re2("|".join(f"(?:{trigger})" for _, trigger in _triggers()).encode(), groups=False)

    @cached_property
    def _known(self) -> dict[str, re.Pattern]:
        return {t: re.compile(pattern) for t, (_, pattern) in _KNOWN.items()}

    def _windows(self, data: bytes) -> list[tuple[int, int, set[str]]]:
        """Merged windows (within one line, byte offsets) around every candidate, with
        their families."""
        windows: list[list[Any]] = []
        names = self._family_names
        families_of = self._family_set.Match
        line_start = line_end = -1  # the line of the previous match: many matches share one long line
        # Positions come from the capture-free pattern (RE2's DFA); which trigger matched
        # comes from an RE2::Set over the few matched bytes. A pattern with a capture group
        # per family costs ~100x more per match (RE2 runs its NFA to fill the groups).
        for match in self._prefilter_bytes.finditer(data):
            found = families_of(data[match.start():match.end()])
            if not found:
                continue
            families = {names[i] for i in found}
            if match.start() >= line_end:  # a new line: search only from the previous line's end
                line_start = data.rfind(b"\n", max(line_end, 0), match.start()) + 1 or max(line_end + 1, 0)
                line_end = data.find(b"\n", match.end())
                if line_end < 0:
                    line_end = len(data)
            start = max(line_start, match.start() - WINDOW_BEFORE)
            end = min(line_end, match.end() + WINDOW_AFTER)
            if windows and windows[-1][0] <= start <= windows[-1][1] and windows[-1][2] == line_start:
                windows[-1][1] = max(windows[-1][1], end)
                windows[-1][3].update(families)
            else:
                windows.append([start, end, line_start, families])
        return [(s, e, families) for s, e, _, families in windows]

    def _detect(self, window: str, families: set[str], path: str | None) -> Iterator[tuple[str, int, int, int]]:
        """(type, start, end, rank) in the window; rank 0: our patterns, 1: detect-secrets'
        plugins, 2: keyword assignments. Where findings overlap, the lowest rank names it."""
        for family in families:
            if family.startswith("known_"):
                found_type = family[len("known_"):]
                for match in self._known[found_type].finditer(window):
                    start, end = match.span("v") if "v" in match.re.groupindex else match.span()
                    if found_type == "url_credentials" and not self._is_url_password(match.group("v")):
                        continue
                    if found_type == "jwt" and not _valid_jwt(match.group()):
                        continue
                    yield found_type, start, end, 0
            elif family.startswith("plugin_"):
                name = family[len("plugin_"):]
                found_type = _PLUGINS[name][0]
                if name == "PrivateKeyDetector":
                    continue  # whole blocks are handled by _private_key_spans
                for plugin in self._plugins.get(family, ()):
                    for value in plugin.analyze_string(window):
                        if not value or len(value) < 8:
                            continue
                        if found_type == "url_credentials" and not self._is_url_password(value):
                            continue
                        yield from ((found_type, s, e, 1) for s, e in _occurrences(window, value))
            elif family == "keyword":
                yield from self._keyword_values(window, path)

    def _keyword_values(self, window: str, path: str | None) -> Iterator[tuple[str, int, int, int]]:
        unquoted_ok = path is None or path.lower().endswith(_CONFIG_SUFFIXES) or "/.env" in f"/{path.lower()}"
        seen: set[str] = set()
        assignments = 0
        for match in _ASSIGNMENT.finditer(window):
            assignments += 1
            quoted = match.lastgroup != "uq"
            value = match.group(match.lastgroup)
            if value in seen or not (quoted or unquoted_ok) or not self._is_secret_value(value, quoted):
                continue
            seen.add(value)
            found_type = _keyword_type(match.group("name"))
            yield from ((found_type, s, e, 2) for s, e in _occurrences(window, value))
        keyword_plugin = self._keyword_plugin
        if not assignments:  # forms our pattern does not read (`private_key "value";`, reversed comparisons)
            import detect_secrets.plugins.keyword as keyword

            filetype = keyword.determine_file_type(path or "message.txt")
            groups = keyword.REGEX_BY_FILETYPE.get(filetype, keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
            for value in keyword_plugin.analyze_string(window, denylist_regex_to_group=groups):
                value = value.strip()
                if value in seen or not self._is_secret_value(value, True):
                    continue
                seen.add(value)
                name_match = _KEYWORD_NAME.search(window)
                found_type = _keyword_type(name_match.group() if name_match else "secret")
                yield from ((found_type, s, e, 2) for s, e in _occurrences(window, value))

    @cached_property
    def _keyword_plugin(self) -> Any:
        from detect_secrets.plugins.keyword import KeywordDetector

        return KeywordDetector()

    def _is_secret_value(self, value: str, quoted: bool) -> bool:
        """A value assigned to a secret-sounding name is a secret when it looks random."""
        if len(value) < self.min_length or value.lower() in _PLACEHOLDER_VALUES:
            return False
        if value.startswith(("$", "%(", "{{", "<SECRET:")) or _is_templated(value):
            return False
        if not quoted and (_IDENTIFIER.fullmatch(value) and not any(c.isdigit() for c in value)):
            return False  # an unquoted name or attribute path: a reference, not a value
        if not quoted and ("(" in value or "[" in value):
            return False
        if _is_sequential(value) or len(set(value)) <= 2 or _is_words(value):
            return False
        if _random_chars(value) < MIN_RANDOM_CHARS:  # 'bold #2080D0', 'Prompt.L1', 'v1.2.3-rc1'
            return False
        return shannon_entropy(value) >= self.min_entropy

    def _is_url_password(self, value: str) -> bool:
        if not value or value.lower() in _PLACEHOLDER_VALUES or value.startswith(("$", "%(", "{{", "<SECRET:")):
            return False
        if _is_templated(value) or set(value) <= {"*", "x", "X", "."}:
            return False
        return True


class _CharOffsets:
    """Byte offsets in UTF-8 data -> character offsets, for increasing positions (linear)."""

    def __init__(self, data: bytes):
        self.data = data
        self.byte = 0
        self.char = 0

    def _char(self, position: int) -> int:
        data = self.data
        while 0 < position < len(data) and (data[position] & 0xC0) == 0x80:
            position -= 1  # never inside a character: back to its first byte
        if position < self.byte:
            self.byte = self.char = 0
        self.char += len(data[self.byte:position].decode("utf-8", "surrogatepass"))
        self.byte = position
        return self.char

    def window(self, start: int, end: int) -> tuple[int, int]:
        first = self._char(start)
        return first, first + len(self.data[self.byte:self._end(end)].decode("utf-8", "surrogatepass"))

    def _end(self, position: int) -> int:
        data = self.data
        while position < len(data) and (data[position] & 0xC0) == 0x80:
            position += 1  # a window ends after a whole character
        return position


def _import_detect_secrets() -> None:
    import detect_secrets.core.plugins.util  # noqa: F401
    import detect_secrets.filters.heuristic  # noqa: F401
    import detect_secrets.plugins.keyword  # noqa: F401


def _triggers() -> list[tuple[str, str]]:
    triggers = [(f"known_{t}", trigger) for t, (trigger, _) in _KNOWN.items()]
    triggers += [(f"plugin_{name}", trigger) for name, (_, trigger) in _PLUGINS.items()]
    triggers.append(("keyword", _KEYWORD_TRIGGER))
    return triggers


def _compile_re2(pattern: str | bytes, *, groups: bool = True) -> Any:
    options = re2.Options()
    options.max_mem = 64 << 20  # room for the union's DFA, so RE2 never falls back to its NFA
    options.never_capture = not groups
    if isinstance(pattern, bytes):
        # every trigger is ASCII; reading bytes as Latin-1 keeps them a superset on any
        # input, including bytes that are not valid UTF-8
        options.encoding = re2.Options.Encoding.LATIN1
    return re2.compile(pattern, options)


def _random_chars(value: str) -> int:
    return sum(len(run) for run in _ALNUM_RUN.findall(value) if not _WORD.fullmatch(run))


def _is_words(value: str) -> bool:
    """Words or prose, not a random string (see _WORD)."""
    runs = _ALNUM_RUN.findall(value)
    if not runs:
        return False
    words = sum(1 for run in runs if _WORD.fullmatch(run))
    if words == len(runs):
        return True
    # a sentence ('private key block (PEM, OpenSSH, PuTTY)'): 3+ parts, mostly plain words
    return len(value.split()) >= 3 and words >= 0.6 * len(runs)


def _keyword_type(name: str) -> str:
    lowered = name.lower()
    if "pass" in lowered or "pwd" in lowered or "contrase" in lowered:
        return "password"
    if "token" in lowered or "session" in lowered:
        return "token"
    if "secret" in lowered or "credential" in lowered:
        return "secret"
    return "api_key"


def _is_templated(value: str) -> bool:
    from detect_secrets.filters.heuristic import is_templated_secret

    return is_templated_secret(value)


def _is_sequential(value: str) -> bool:
    from detect_secrets.filters.heuristic import is_sequential_string

    return is_sequential_string(value)


def _valid_jwt(token: str) -> bool:
    from detect_secrets.plugins.jwt import JwtTokenDetector

    return JwtTokenDetector.is_formally_valid(token.rstrip("."))


def _occurrences(window: str, value: str) -> Iterator[tuple[int, int]]:
    start = window.find(value)
    while start >= 0:
        yield start, start + len(value)
        start = window.find(value, start + len(value))


def _private_key_spans(text: str) -> Iterator[Finding]:
    """Key material between BEGIN/END markers (each body line's content, so a patch keeps
    its line structure), or, when the END is missing (a cut patch), the key-like lines that
    follow the BEGIN marker; PuTTY files' private lines and MAC."""
    for begin in _PEM_BEGIN.finditer(text):
        end = _PEM_END.search(text, begin.end())
        next_begin = _PEM_BEGIN.search(text, begin.end())
        diff_prefix = _in_patch(text, text.rfind("\n", 0, begin.start()) + 1, begin.start())
        if end is not None and (next_begin is None or end.start() < next_begin.start()):
            yield from _body_spans(text, begin.end(), end.start(), diff_prefix)
        else:
            stop = begin.end()
            line_end = text.find("\n", stop)
            while line_end >= 0:
                following = text.find("\n", line_end + 1)
                line = text[line_end + 1: following if following >= 0 else len(text)]
                if not _KEY_BODY_LINE.match(line):
                    break
                stop = following if following >= 0 else len(text)
                line_end = following
            yield from _body_spans(text, begin.end(), stop, diff_prefix)
    for putty in _PUTTY.finditer(text):
        lines = int(putty.group(1))
        start = text.find("\n", putty.end())
        stop = start
        for _ in range(min(lines, 10_000)):
            if stop < 0:
                break
            stop = text.find("\n", stop + 1)
        stop = len(text) if stop < 0 else stop
        if start >= 0:
            yield from _body_spans(text, start, stop, _in_patch(text, text.rfind("\n", 0, putty.start()) + 1, putty.start()))
        mac = _PUTTY_MAC.search(text, putty.end())
        if mac is not None:
            yield Finding("private_key", *mac.span("v"))


def _in_patch(text: str, line_start: int, marker: int) -> bool:
    """Whether the marker's line is a line of a unified diff: git's +/-/space mark right
    before the marker, or anywhere before it on a line after a hunk header. Then every line of
    the key keeps its first character: a mark taken with the key would turn the line into
    context and change the hunk's line counts (`+KEY = '-----BEGIN ...` in a patch)."""
    if text[line_start:line_start + 1] not in ("+", "-", " "):
        return False
    return marker == line_start + 1 or _HUNK_HEADER.search(text, 0, line_start) is not None


def _body_spans(text: str, start: int, stop: int, diff_prefix: bool) -> Iterator[Finding]:
    """One private_key finding per non-empty line content in text[start:stop]; the first
    counts the key, the others are `continued`. In a patch (`diff_prefix`) each line's
    first character is git's +/-/space, kept so the patch keeps its shape."""
    first = True
    position = start
    for line in text[start:stop].split("\n"):
        match = (_LINE_BODY if diff_prefix else _LINE_BODY_PLAIN).match(line)
        if match and _KEY_MATERIAL.fullmatch(match.group("body")) and _BASE64_RUN.search(match.group("body")):
            s = position + match.start("body")
            e = position + match.end("body")
            yield Finding("private_key", s, e, continued=not first)
            first = False
        position += len(line) + 1


def _merge(spans: list[tuple[int, int, int, str, bool]]) -> list[Finding]:
    """Overlapping findings become one; the lowest rank names it (our own pattern over a
    detect-secrets plugin over a keyword assignment), then the earliest, longest one."""
    if not spans:
        return []
    spans.sort(key=lambda f: (f[0], -f[1], f[2]))
    merged = [list(spans[0])]
    for start, end, rank, kind, continued in spans[1:]:
        last = merged[-1]
        if start < last[1]:
            last[1] = max(last[1], end)
            if rank < last[2]:
                last[2], last[3] = rank, kind
            last[4] = last[4] and continued
        else:
            merged.append([start, end, rank, kind, continued])
    return [Finding(kind, start, end, continued) for start, end, _, kind, continued in merged]

