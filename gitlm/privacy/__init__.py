"""Privacy and safety filters every stage applies before it writes anything.

- SecretRedactor: secrets -> typed placeholders `<SECRET:aws_access_key>`; per-type counts.
  `redact(text, path)` for any text, `redact_commit(commit)`, `redact_chunk(chunk)` for
  records. On by default (PrivacyConfig.redact_secrets; --keep-secrets turns it off).
- PathFilter: --exclude / --include globs (.gitignore syntax), default excludes (vendored
  directories, lock files, minified and generated files) and a maximum file size.
- NearDuplicateFilter: MinHash LSH near-duplicate removal for training documents
  (threshold 0.85 on 5-token shingles by default).

Build them from the configuration with `redactor_from_config`, `path_filter_from_config`
and `dedup_from_config` (gitlm.config.PrivacyConfig), so every stage honours the same keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from gitlm.privacy.paths import DEFAULT_EXCLUDES, DEFAULT_MAX_FILE_SIZE, PathFilter
from gitlm.privacy.secrets import PLACEHOLDER, SECRET_TYPES, Finding, SecretRedactor

KEEP_SECRETS_WARNING = (
    "secret redaction is OFF (--keep-secrets): API keys, tokens, passwords and private keys in "
    "this history will be written to the workspace and can reach datasets, indexes and models"
)


def redactor_from_config(config: Any) -> SecretRedactor:
    """A SecretRedactor for a PrivacyConfig (or a GitlmConfig, whose .privacy is used)."""
    privacy = getattr(config, "privacy", config)
    return SecretRedactor(enabled=privacy.redact_secrets, min_entropy=privacy.min_entropy)


def redact_records(records: Iterable[Any], config: Any) -> Iterator[Any]:
    """Commit or Chunk records with their text redacted when privacy.redact_secrets is on.

    For phases that read records (embed, tokenize): the scrape redacts commits.jsonl, but a
    workspace scraped with --keep-secrets holds secrets, and each phase honours its own
    privacy.redact_secrets before writing. On already-redacted records it finds nothing new
    (placeholders never match) and costs one prefilter pass per text.
    """
    redactor = redactor_from_config(config)
    if not redactor.enabled:
        yield from records
        return
    for record in records:
        yield redactor.redact_chunk(record) if hasattr(record, "chunk_id") else redactor.redact_commit(record)


def path_filter_from_config(config: Any) -> PathFilter:
    privacy = getattr(config, "privacy", config)
    return PathFilter.from_config(privacy)


def __getattr__(name: str) -> Any:
    # the dedup module pulls numpy: only for stages that need it
    if name in ("NearDuplicateFilter", "DEFAULT_NGRAM", "DEFAULT_NUM_PERM", "DEFAULT_THRESHOLD"):
        from gitlm.privacy import dedup

        return getattr(dedup, name)
    raise AttributeError(name)


def dedup_from_config(config: Any) -> Any:
    """The training-data near-duplicate filter, or None when privacy.dedup is off."""
    privacy = getattr(config, "privacy", config)
    if not privacy.dedup:
        return None
    from gitlm.privacy.dedup import NearDuplicateFilter

    return NearDuplicateFilter(privacy.dedup_threshold, num_perm=privacy.dedup_num_perm, ngram=privacy.dedup_ngram)


__all__ = [
    "DEFAULT_EXCLUDES", "DEFAULT_MAX_FILE_SIZE", "DEFAULT_NGRAM", "DEFAULT_NUM_PERM", "DEFAULT_THRESHOLD",
    "Finding", "KEEP_SECRETS_WARNING", "NearDuplicateFilter", "PLACEHOLDER", "PathFilter", "SECRET_TYPES",
    "SecretRedactor", "dedup_from_config", "path_filter_from_config", "redact_records", "redactor_from_config",
]
