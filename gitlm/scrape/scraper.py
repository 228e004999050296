"""git history -> Commit records, streamed oldest first.

Never one git process per commit:
1. `git rev-list --date-order --parents` once: the order, each commit's branches (refs.py);
2. `git log --no-walk=unsorted -z --raw --numstat -p` over batches of that list, oldest
   first, a few processes at a time so every core computes diffs, each stream parsed as it
   arrives (parse.py). Output is in batch order, so it does not depend on the parallelism.

Diff conventions: a merge is diffed against its first parent (what the merge brought into
that line of history, as `git log --diff-merges=first-parent`); a root commit, including a
shallow clone's boundary commits, against the empty tree. Renames and copies are detected
(-M -C: copies only from files modified in the same commit). Order: committer-date order
that never shows a parent after its child, ties broken by git's deterministic walk, so two
runs over the same refs give byte-identical output.

Privacy (gitlm.privacy, config section `privacy`): each message and patch goes through the
SecretRedactor before the record exists, so no secret reaches commits.jsonl or any later
phase; files that the PathFilter drops (default excludes, --exclude/--include, blobs over
max_file_size on either side) are left out of the record, and the record's totals
(insertions, deletions, files_changed, stats, complexity) describe the files it keeps:
sum(files) == totals always. What was left out is counted in ScrapeStats
(files_excluded_by_reason, excluded_insertions/deletions).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from gitlm.config import PrivacyConfig, ScrapeConfig
from gitlm.languages import language_of
from gitlm.schema import Commit, FileChange, LineStats, Rename
from gitlm.errors import GitlmError
from gitlm.privacy import PathFilter, SecretRedactor
from gitlm.scrape.blobs import LargeBlobs
from gitlm.scrape.git import Repository, git_batches, open_repository
from gitlm.scrape.history import FileHistory
from gitlm.scrape.message import parse_message
from gitlm.scrape.parse import LOG_FORMAT, LogParser, RawFile
from gitlm.scrape.refs import BranchIndex, RefSnapshot, read_refs, shallow_boundary
from gitlm.scrape.stats import ScrapeStats

_SUBMODULE = b"160000"
_SYMLINK = b"120000"


BATCH_COMMITS = 1024  # commits per git log process: measured best on flask (256: 2.0 s, 1024: 1.8 s, 2048: 1.9 s)


def log_arguments(config: ScrapeConfig) -> list[str]:
    args = [
        "log", "--no-walk=unsorted", "-z", "--raw", "--numstat", "-M", "-C", "--root",
        "--diff-merges=first-parent", "--no-ext-diff", "--no-textconv", "--no-color",
        "--ignore-submodules=none", "--encoding=UTF-8", f"-O{Path('/dev/null')}",
        "--src-prefix=a/", "--dst-prefix=b/", f"--format={LOG_FORMAT}",
    ]
    if config.patches:
        args += ["-p", "-U3", "--inter-hunk-context=0"]
    return args + ["--stdin"]


class _Decoder:
    """UTF-8 decoding that never fails: invalid bytes become U+FFFD and are counted (the
    example kept for the stats is redacted first: it is printed and stored)."""

    def __init__(self, stats: ScrapeStats, redactor: SecretRedactor):
        self.stats = stats
        self.redactor = redactor

    def __call__(self, data: bytes, kind: str) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "replace")
            self.stats.decode_error(kind, self.redactor.scrub(text) if self.stats.decode_error_example is None else text)
            return text


def scrape(
    path: Path | str | Repository,
    config: ScrapeConfig | None = None,
    *,
    stats: ScrapeStats | None = None,
    refs: RefSnapshot | None = None,
    temp_dir: Path | None = None,
    on_start: Callable[[int], None] | None = None,
    privacy: PrivacyConfig | None = None,
) -> Iterator[Commit]:
    """Yield every commit reachable from the repository's refs as a Commit, oldest first.

    `privacy` (default: PrivacyConfig(), redaction and default excludes on) sets the secret
    redaction and path filters applied to every record; PrivacyConfig(redact_secrets=False,
    default_excludes=False, max_file_size=0) gives git's raw view.

    `stats` (if given) is filled as commits stream; `on_start(total)` is called once the
    number of commits in the walk is known (for a progress bar). `refs` lets a caller that
    already read the refs (to fingerprint them) scrape exactly that snapshot.
    """
    repo = path if isinstance(path, Repository) else open_repository(path)
    config = config or ScrapeConfig()
    privacy = privacy or PrivacyConfig()
    stats = stats if stats is not None else ScrapeStats()
    refs = refs if refs is not None else read_refs(repo, config.branches)
    stats.branches = len(refs.branches)
    stats.tags = refs.tag_count
    index = BranchIndex(refs, temp_dir)
    large = LargeBlobs(repo, privacy.max_file_size) if privacy.max_file_size else None  # reads on a thread
    steps = Privacy(privacy, large)  # starts importing detect-secrets on a thread
    try:
        total = index.build(repo)
        if large is not None:
            large.wait()
        if on_start is not None:
            on_start(total)
        if total == 0:
            steps.finish(stats)
            return
        yield from _stream_commits(repo, config, refs, index, stats, temp_dir, steps)
    finally:
        index.close()


class Privacy:
    """The privacy steps the scraper applies per record (see the module docstring)."""

    def __init__(self, config: PrivacyConfig, large: LargeBlobs | None):
        self.redactor = SecretRedactor(enabled=config.redact_secrets, min_entropy=config.min_entropy)
        if self.redactor.enabled:
            self.redactor.warm_up()
        paths = PathFilter.from_config(config)
        self.paths = None if not (config.default_excludes or config.exclude or config.include) else paths
        self.large = large

    def excluded(self, path: str, raw: RawFile) -> str | None:
        """Why this file is left out of the record, or None to keep it."""
        if self.paths is not None:
            reason = self.paths.reason(path)
            if reason is not None:
                return reason
        if self.large is not None and (self.large.is_large(raw.new_blob) or self.large.is_large(raw.old_blob)):
            return "size"
        return None

    def finish(self, stats: ScrapeStats) -> None:
        stats.secret_redaction = self.redactor.enabled
        stats.secrets_by_type = dict(sorted(self.redactor.counts.items()))
        stats.secrets_redacted = sum(self.redactor.counts.values())


def walk_window(config: ScrapeConfig) -> tuple[int | None, int | None]:
    """The committer-time window (--since/--until) as timestamps for BranchIndex.oldest_first."""
    since = int(config.since.timestamp()) if config.since is not None else None
    until = int(config.until.timestamp()) if config.until is not None else None
    return since, until


def _stream_commits(repo: Repository, config: ScrapeConfig, refs: RefSnapshot, index: BranchIndex, stats: ScrapeStats, temp_dir: Path | None, privacy: Privacy) -> Iterator[Commit]:
    yield from stream_commits(repo, config, refs, index.oldest_first(*walk_window(config)), FileHistory(), stats,
                              temp_dir, privacy)


def stream_commits(repo: Repository, config: ScrapeConfig, refs: RefSnapshot, items: Iterator[tuple[int, str, int]],
                   history: FileHistory, stats: ScrapeStats, temp_dir: Path | None, privacy: Privacy) -> Iterator[Commit]:
    """Commit records for `items` ((commit_number, hash, branch mask), oldest first), with the
    per-file counters continuing from `history` (an incremental scrape passes the replayed one)."""
    decode = _Decoder(stats, privacy.redactor)
    shallow = shallow_boundary(repo) if repo.is_shallow else set()
    batches = _batches(items, BATCH_COMMITS)
    window = max(2, os.cpu_count() or 1)
    for batch, stream in git_batches(repo.git_dir, log_arguments(config), batches, window, temp_dir):
        parsed = iter(LogParser(stream, config.patches, config.max_patch_bytes))
        for (number, expected, mask), raw in itertools.zip_longest(batch, parsed):
            if raw is None or number is None or raw.header[0].decode("ascii") != expected:
                raise GitlmError(f"internal error: git log did not return commit {expected} in order")
            commit = _build_commit(raw.header, raw.files, number, mask, config, refs, history, decode, stats, privacy)
            if raw.patch_misaligned:
                stats.patch_misaligned_commits += 1
            if commit.hash in shallow:
                stats.shallow_boundary_commits += 1
            yield commit
    stats.files_touched = len(history.paths_seen)
    privacy.finish(stats)


def _batches(items: Iterator[tuple[int, str, int]], size: int) -> Iterator[tuple[bytes, list[tuple[int, str, int]]]]:
    """(stdin for git log, the commits it covers), `size` commits at a time."""
    while batch := list(itertools.islice(items, size)):
        yield "".join(f"{commit}\n" for _, commit, _ in batch).encode(), batch


def _build_commit(header, raw_files: list[RawFile], commit_number: int, mask: int, config, refs, history, decode, stats, privacy: Privacy) -> Commit:
    (hash_b, abbrev_b, parents_b, an, ae, at, a_iso, cn, ce, ct, c_iso, message_b) = header
    commit_hash = hash_b.decode("ascii")
    parents = parents_b.decode("ascii").split()
    author_email = decode(ae, "author")
    author_key = FileHistory.author_key(author_email)
    redact = privacy.redactor.redact
    message = parse_message(redact(decode(message_b, "message"), raw=message_b))

    files: list[FileChange] = []
    added: list[str] = []
    modified: list[str] = []
    deleted: list[str] = []
    renamed: list[Rename] = []
    per_file: dict[str, LineStats] = {}
    insertions = deletions = 0
    languages: set[str] = set()
    for raw in raw_files:
        path = decode(raw.path, "path")
        is_binary = raw.insertions is None
        ins = raw.insertions or 0
        dels = raw.deletions or 0
        reason = privacy.excluded(path, raw)
        if reason is not None:
            stats.exclude_file(reason, ins, dels)
            continue
        old_path = decode(raw.old_path, "path") if raw.old_path is not None else None
        is_submodule = raw.new_mode == _SUBMODULE or raw.old_mode == _SUBMODULE
        is_symlink = (raw.new_mode if raw.status != "D" else raw.old_mode) == _SYMLINK
        language = None if is_submodule or is_symlink else language_of(path)
        patch, truncated = _patch_text(raw.patch, config.max_patch_bytes, decode)
        if patch:
            patch = redact(patch, path, raw=raw.patch)
        frequency, ownership = history.touch(path, old_path, raw.status, author_key)
        files.append(FileChange(
            path=path, old_path=old_path, change_type=raw.status, similarity=raw.similarity,
            insertions=ins, deletions=dels, is_binary=is_binary, is_submodule=is_submodule,
            is_symlink=is_symlink, language=language, patch=patch, patch_truncated=truncated,
            change_frequency=frequency, author_ownership=ownership,
            old_blob=_blob_id(raw.old_blob), new_blob=_blob_id(raw.new_blob),
        ))
        if raw.status in ("A", "C"):
            added.append(path)
        elif raw.status == "D":
            deleted.append(path)
        elif raw.status == "R":
            renamed.append(Rename(old_path=old_path or path, path=path))
        else:
            modified.append(path)
        stat = per_file.get(path)
        per_file[path] = LineStats(ins, dels) if stat is None else LineStats(stat.insertions + ins, stat.deletions + dels)
        insertions += ins
        deletions += dels
        stats.binary_changes += is_binary
        stats.truncated_patches += truncated
        if language:
            languages.add(language)

    lines = insertions + deletions
    complexity = math.log1p(lines) + math.sqrt(len(files)) + 0.5 * max(0, len(languages) - 1)
    tags = refs.tags.get(commit_hash, [])
    timestamp = int(at)
    stats.add_commit(author_email, timestamp, len(parents), insertions, deletions)
    return Commit(
        hash=commit_hash,
        abbrev_hash=abbrev_b.decode("ascii"),
        parents=parents,
        is_merge=len(parents) > 1,
        commit_number=commit_number,
        author_name=decode(an, "author"),
        author_email=author_email,
        author_timestamp=timestamp,
        author_date=a_iso.decode("ascii"),
        committer_name=decode(cn, "committer"),
        committer_email=decode(ce, "committer"),
        committer_timestamp=int(ct),
        committer_date=c_iso.decode("ascii"),
        co_authors=message.co_authors,
        message_subject=message.subject,
        message_body=message.body,
        conventional_type=message.conventional_type,
        conventional_scope=message.conventional_scope,
        is_breaking_change=message.is_breaking_change,
        referenced_issues=message.referenced_issues,
        branches=refs.branch_names(mask),
        tags=tags,
        has_tags=bool(tags),
        files=files,
        files_added=added,
        files_modified=modified,
        files_deleted=deleted,
        files_renamed=renamed,
        insertions=insertions,
        deletions=deletions,
        files_changed=len(files),
        total_lines_changed=lines,
        diff_summary=f"Files changed: {len(files)}, Insertions: +{insertions}, Deletions: -{deletions}",
        stats=per_file,
        complexity=round(complexity, 3),
    )


def _blob_id(raw: bytes) -> str | None:
    """A --raw object id as text; None for the all-zero id of a side that does not exist."""
    text = raw.rstrip(b".").decode("ascii")
    return text if text.strip("0") else None


def _patch_text(patch: bytes | None, limit: int, decode: _Decoder) -> tuple[str | None, bool]:
    """Decode a file's patch, cut at the last line end within `limit` bytes (or, when the
    first line alone is longer, at the last whole UTF-8 character within it)."""
    if patch is None:
        return None, False
    truncated = len(patch) > limit
    if truncated:
        cut = patch.rfind(b"\n", 0, limit) + 1
        if cut == 0:
            cut = limit
            while cut > 0 and (patch[cut] & 0xC0) == 0x80:  # do not split a character
                cut -= 1
        patch = patch[:cut]
    return decode(patch, "patch"), truncated
