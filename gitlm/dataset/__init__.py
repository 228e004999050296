"""Phase 4: packed tokens -> chronological context/target windows per temporal split
(dataset/{train,val,test}.parquet, loadable with `datasets.load_dataset("parquet", ...)`).
`build_dataset` is the entry point."""

from gitlm.dataset.runner import DatasetStats, build_dataset
from gitlm.dataset.windows import WindowBuilder, window_count

__all__ = ["DatasetStats", "WindowBuilder", "build_dataset", "window_count"]
