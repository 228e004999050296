"""Phase 2: diffs become code chunks with structure and intent (chunks.jsonl).

`chunk_workspace(workspace)` runs the phase on a scraped workspace; `chunk_commits(commits,
repo)` streams Chunk records from any stream of Commit records. See chunker.py for how a
file change is chunked, select.py for which units, rules.py for change_type.
"""

from gitlm import native

native.install()  # before the modules it may serve compiled are imported

from gitlm.chunk.stage import chunk_commits, chunk_workspace  # noqa: E402
from gitlm.chunk.stats import ChunkStats  # noqa: E402

__all__ = ["ChunkStats", "chunk_commits", "chunk_workspace"]
