"""What the machine has, the defaults that follow from it, and a monitor thread that samples
CPU, RAM and GPU while training runs.

Defaults (the issue's rules): batch size by GPU memory (>= 8 GB: 8, 4-8 GB: 4, < 4 GB: 2;
CPU: 2), data-loader workers min(8, cpus // 2), torch threads = every CPU this process may
use, precision bf16-mixed on GPUs that support it, 16-mixed on older GPUs, 32-true on CPU.
GPU temperature and utilisation need NVML (`pip install nvidia-ml-py`); without it those
figures are null in the report, never guessed.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil


def usable_cpus() -> int:
    """CPUs this process may run on (affinity and cgroup-pinned containers included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Hardware:
    cpus: int
    ram_bytes: int
    gpu_name: str | None = None
    gpu_count: int = 0
    gpu_memory_bytes: int = 0
    bf16_supported: bool = False

    @property
    def accelerator(self) -> str:
        return "gpu" if self.gpu_count else "cpu"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"accelerator": self.accelerator}


def detect_hardware() -> Hardware:
    import torch

    hw = Hardware(cpus=usable_cpus(), ram_bytes=psutil.virtual_memory().total)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        hw.gpu_name = props.name
        hw.gpu_count = torch.cuda.device_count()
        hw.gpu_memory_bytes = props.total_memory
        hw.bf16_supported = torch.cuda.is_bf16_supported()
    return hw


def default_batch_size(hw: Hardware) -> int:
    if not hw.gpu_count:
        return 2
    gib = hw.gpu_memory_bytes / 2**30
    return 8 if gib >= 8 else 4 if gib >= 4 else 2


def default_workers(hw: Hardware) -> int:
    return min(8, hw.cpus // 2)


def default_precision(hw: Hardware) -> str:
    if not hw.gpu_count:
        return "32-true"
    return "bf16-mixed" if hw.bf16_supported else "16-mixed"


# -- monitor -------------------------------------------------------------------------------


@dataclass
class HardwareSample:
    t: float  # seconds since the monitor started
    cpu_percent: float
    ram_percent: float
    rss_bytes: int  # this process
    children_rss_bytes: int  # data-loader workers (their pages shared with this process count in both)
    gpu_memory_bytes: int | None = None
    gpu_utilization: float | None = None
    gpu_temperature_c: float | None = None


@dataclass
class HardwarePeaks:
    samples: int = 0
    interval_seconds: float = 0.0
    cpu_percent_max: float = 0.0
    cpu_percent_mean: float = 0.0
    ram_percent_max: float = 0.0
    rss_bytes_max: int = 0
    children_rss_bytes_max: int = 0
    gpu_memory_bytes_max: int | None = None
    gpu_memory_allocated_bytes_max: int | None = None  # torch's own peak (exact, not sampled)
    gpu_utilization_max: float | None = None
    gpu_temperature_c_max: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


class _Nvml:
    """GPU figures through NVML when the library and a driver are present, else nothing."""

    def __init__(self) -> None:
        self.handle = None
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            index = int(os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] or 0)
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self.nvml = pynvml
        except Exception:  # no package, no driver, no GPU, or a MIG/remote setup NVML cannot see
            self.handle = None

    def read(self) -> tuple[int | None, float | None, float | None]:
        if self.handle is None:
            return None, None, None
        nv = self.nvml
        try:
            memory = int(nv.nvmlDeviceGetMemoryInfo(self.handle).used)
            util = float(nv.nvmlDeviceGetUtilizationRates(self.handle).gpu)
            temp = float(nv.nvmlDeviceGetTemperature(self.handle, nv.NVML_TEMPERATURE_GPU))
            return memory, util, temp
        except Exception:
            return None, None, None


class HardwareMonitor:
    """A daemon thread that samples every `interval` seconds until stopped.

    Samples go into a bounded history (every sample up to `max_history`, then every other
    one is dropped so a week-long run still yields a small report); peaks are exact over
    every sample taken.
    """

    def __init__(self, interval: float = 5.0, max_history: int = 2000) -> None:
        self.interval = interval
        self.max_history = max_history
        self.peaks = HardwarePeaks(interval_seconds=interval)
        self._cpu_sum = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process = psutil.Process()
        self._nvml = _Nvml()
        self._start = 0.0

    def __enter__(self) -> HardwareMonitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._start = time.perf_counter()
        psutil.cpu_percent(None)  # prime: the first call always returns 0.0
        self._thread = threading.Thread(target=self._run, name="gitlm-hardware-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> HardwarePeaks:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.sample()  # one last sample so even a run shorter than the interval has figures
        self._torch_peak()
        return self.peaks

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def _children_rss(self) -> int:
        rss = 0
        for child in self._process.children(recursive=True):  # data-loader workers
            try:
                rss += child.memory_info().rss
            except psutil.Error:  # exited between listing and reading
                pass
        return rss

    def sample(self) -> HardwareSample:
        gpu_memory, gpu_util, gpu_temp = self._nvml.read()
        s = HardwareSample(
            t=round(time.perf_counter() - self._start, 3),
            cpu_percent=psutil.cpu_percent(None),
            ram_percent=psutil.virtual_memory().percent,
            rss_bytes=self._process.memory_info().rss,
            children_rss_bytes=self._children_rss(),
            gpu_memory_bytes=gpu_memory,
            gpu_utilization=gpu_util,
            gpu_temperature_c=gpu_temp,
        )
        p = self.peaks
        p.samples += 1
        self._cpu_sum += s.cpu_percent
        p.cpu_percent_mean = round(self._cpu_sum / p.samples, 1)
        p.cpu_percent_max = max(p.cpu_percent_max, s.cpu_percent)
        p.ram_percent_max = max(p.ram_percent_max, s.ram_percent)
        p.rss_bytes_max = max(p.rss_bytes_max, s.rss_bytes)
        p.children_rss_bytes_max = max(p.children_rss_bytes_max, s.children_rss_bytes)
        p.gpu_memory_bytes_max = _max_or_none(p.gpu_memory_bytes_max, s.gpu_memory_bytes)
        p.gpu_utilization_max = _max_or_none(p.gpu_utilization_max, s.gpu_utilization)
        p.gpu_temperature_c_max = _max_or_none(p.gpu_temperature_c_max, s.gpu_temperature_c)
        p.history.append(asdict(s))
        if len(p.history) > self.max_history:
            p.history = p.history[::2]
        return s

    def _torch_peak(self) -> None:
        import torch

        if torch.cuda.is_available():
            self.peaks.gpu_memory_allocated_bytes_max = int(torch.cuda.max_memory_allocated())


def _max_or_none(current: float | int | None, new: float | int | None):
    if new is None:
        return current
    return new if current is None else max(current, new)
