"""Node instruments: each turns one kind of counter or gauge into telemetry readings.

Metrics and units (``metric[/subsystem]``):

=================  ====================================================  =========
metric             meaning                                               unit
=================  ====================================================  =========
cpu[/<core>]       busy time (all but idle+iowait) over the window       percent
freq[/<core>]      current CPU frequency                                 MHz
load1, load5       load average over 1 and 5 minutes                     processes
procs              processes running right now (``procs_running``)       count
ram/used           memory in use (total - available)                     bytes
ram/available      memory available to new processes                     bytes
rx/<iface>         bytes received over the window                        bytes/s
tx/<iface>         bytes sent over the window                            bytes/s
read/<dev>         bytes read from a block device over the window        bytes/s
write/<dev>        bytes written to a block device over the window       bytes/s
psi_<r>/some|full  share of the window some/all tasks stalled on r       percent
                   (r = cpu, io, memory; from /proc/pressure)
gpu_util/<i>       GPU utilisation (NVML; only when a GPU is present)    percent
gpu_memory/<i>     GPU memory in use                                     bytes
=================  ====================================================  =========

Windowed values ("over the window") are counter differences between two consecutive samples of
the same instrument: the window of one sample starts exactly where the previous one ended.
Cgroup and process metrics live in :mod:`galileo.telemetry.cgroups`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import psutil

log = logging.getLogger(__name__)

Reading = tuple[str, str, float, int]  # metric, subsystem, value, window_ns
NS_PER_S: Final = 1_000_000_000
PSI_DIR: Final = Path("/proc/pressure")
PSI_RESOURCES: Final = ("cpu", "io", "memory")
_SKIP_DISK: Final = re.compile(r"^(loop|ram|zram|dm-|sr|fd)")
_SKIP_NET: Final = ("lo",)


class Instrument:
    """A source of readings. ``sample(now_ns)`` returns readings for the window ending at
    ``now_ns``; counter instruments return nothing on their first call (the baseline) and after
    :meth:`reset` (e.g. on unpause, so no window spans a pause)."""

    name: str = ""

    def sample(self, now_ns: int) -> list[Reading]:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the baseline of windowed counters."""

    def close(self) -> None:
        """Release what the instrument holds (NVML handle, …)."""


class CounterInstrument(Instrument):
    """Base of windowed instruments: ``read()`` gives cumulative counters by (metric, subsystem);
    ``sample`` turns the difference to the previous read into a rate per second × ``scale``."""

    scale: float = 1.0

    def __init__(self) -> None:
        self._prev: dict[tuple[str, str], float] | None = None
        self._prev_ns = 0

    def read(self) -> dict[tuple[str, str], float]:
        raise NotImplementedError

    def reset(self) -> None:
        self._prev = None

    def sample(self, now_ns: int) -> list[Reading]:
        current = self.read()
        prev, prev_ns = self._prev, self._prev_ns
        self._prev, self._prev_ns = current, now_ns
        window = now_ns - prev_ns
        if prev is None or window <= 0:
            return []
        out = []
        for key, value in current.items():
            before = prev.get(key)
            if before is None or value < before:  # new device, or a counter reset
                continue
            out.append((key[0], key[1], (value - before) * NS_PER_S / window * self.scale, window))
        return out


class CpuInstrument(Instrument):
    """``cpu`` busy percent, node-wide and (``per_core``) per core."""

    name = "cpu"

    def __init__(self, per_core: bool = False) -> None:
        self.per_core = per_core
        self._prev: list[tuple[float, float]] | None = None
        self._prev_ns = 0

    @staticmethod
    def _busy_total(t: Any) -> tuple[float, float]:
        total = sum(t)
        idle = t.idle + getattr(t, "iowait", 0.0)
        return total - idle, total

    def reset(self) -> None:
        self._prev = None

    def sample(self, now_ns: int) -> list[Reading]:
        times = [psutil.cpu_times()]
        if self.per_core:
            times += psutil.cpu_times(percpu=True)
        current = [self._busy_total(t) for t in times]
        prev, prev_ns = self._prev, self._prev_ns
        self._prev, self._prev_ns = current, now_ns
        if prev is None or len(prev) != len(current):
            return []
        window = now_ns - prev_ns
        out = []
        for i, ((busy, total), (busy0, total0)) in enumerate(zip(current, prev, strict=True)):
            span = total - total0
            pct = 0.0 if span <= 0 else max(0.0, min(100.0, (busy - busy0) / span * 100.0))
            out.append(("cpu", "" if i == 0 else str(i - 1), pct, window))
        return out


class FreqInstrument(Instrument):
    name = "freq"

    def __init__(self, per_core: bool = False) -> None:
        self.per_core = per_core

    def sample(self, now_ns: int) -> list[Reading]:
        try:
            overall = psutil.cpu_freq()
        except (OSError, NotImplementedError):
            return []
        if overall is None:
            return []
        out: list[Reading] = [("freq", "", float(overall.current), 0)]
        if self.per_core:
            with contextlib.suppress(OSError, NotImplementedError):
                out += [("freq", str(i), float(f.current), 0)
                        for i, f in enumerate(psutil.cpu_freq(percpu=True))]
        return out


class LoadInstrument(Instrument):
    name = "load"

    def sample(self, now_ns: int) -> list[Reading]:
        load1, load5, _ = os.getloadavg()
        return [("load1", "", load1, 0), ("load5", "", load5, 0)]


class ProcsInstrument(Instrument):
    """``procs``: processes running now (``procs_running`` of /proc/stat, else all processes)."""

    name = "procs"

    def sample(self, now_ns: int) -> list[Reading]:
        with contextlib.suppress(OSError), open("/proc/stat", "rb") as fh:
            for line in fh:
                if line.startswith(b"procs_running"):
                    return [("procs", "", float(line.split()[1]), 0)]
        return [("procs", "", float(len(psutil.pids())), 0)]


class RamInstrument(Instrument):
    name = "ram"

    def sample(self, now_ns: int) -> list[Reading]:
        vm = psutil.virtual_memory()
        return [("ram", "used", float(vm.total - vm.available), 0),
                ("ram", "available", float(vm.available), 0)]


class NetInstrument(CounterInstrument):
    name = "net"

    def read(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        for iface, c in psutil.net_io_counters(pernic=True).items():
            if iface in _SKIP_NET:
                continue
            out["rx", iface] = float(c.bytes_recv)
            out["tx", iface] = float(c.bytes_sent)
        return out


class DiskInstrument(CounterInstrument):
    name = "disk"

    def read(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        counters = psutil.disk_io_counters(perdisk=True) or {}
        for dev, c in counters.items():
            if _SKIP_DISK.match(dev):
                continue
            out["read", dev] = float(c.read_bytes)
            out["write", dev] = float(c.write_bytes)
        return out


def read_psi(path: Path) -> dict[str, float]:
    """``some``/``full`` cumulative stall time (µs) from a PSI file (``/proc/pressure/cpu`` or a
    cgroup's ``cpu.pressure``)."""
    out: dict[str, float] = {}
    for line in path.read_text().splitlines():
        kind, *fields = line.split()
        for f in fields:
            if f.startswith("total="):
                out[kind] = float(f[6:])
    return out


class PsiInstrument(CounterInstrument):
    """``psi_<resource>/some|full``: percent of the window stalled (from cumulative µs)."""

    name = "psi"
    scale = 100.0 / 1e6  # µs stalled per second → percent

    def __init__(self, directory: Path = PSI_DIR) -> None:
        super().__init__()
        self.files = {r: directory / r for r in PSI_RESOURCES if (directory / r).is_file()}

    def read(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        for resource, path in self.files.items():
            try:
                values = read_psi(path)
            except OSError:  # e.g. PSI compiled in but disabled (EOPNOTSUPP)
                continue
            for kind, total in values.items():
                out[f"psi_{resource}", kind] = total
        return out


class GpuInstrument(Instrument):
    """NVML GPU utilisation and memory; :func:`gpu_instrument` returns None without a GPU."""

    name = "gpu"

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self.nvml = nvml
        self.handles = handles

    def sample(self, now_ns: int) -> list[Reading]:
        out: list[Reading] = []
        for i, handle in enumerate(self.handles):
            util = self.nvml.nvmlDeviceGetUtilizationRates(handle)
            mem = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            out += [("gpu_util", str(i), float(util.gpu), 0),
                    ("gpu_memory", str(i), float(mem.used), 0)]
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.nvml.nvmlShutdown()


def gpu_instrument() -> GpuInstrument | None:
    """The GPU instrument when NVML (``pynvml``) and at least one GPU are there, else None."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as e:  # not installed, no driver, no GPU
        log.debug("no GPU telemetry: %s", e)
        return None
    count = pynvml.nvmlDeviceGetCount()
    if not count:
        pynvml.nvmlShutdown()
        return None
    return GpuInstrument(pynvml, [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)])


def _psi() -> Instrument | None:
    inst = PsiInstrument()
    return inst if inst.files else None


# name -> factory(per_core); a factory may return None when the node lacks the source
SYSTEM_INSTRUMENTS: Final[dict[str, Callable[[bool], Instrument | None]]] = {
    "cpu": lambda per_core: CpuInstrument(per_core),
    "freq": lambda per_core: FreqInstrument(per_core),
    "load": lambda per_core: LoadInstrument(),
    "procs": lambda per_core: ProcsInstrument(),
    "ram": lambda per_core: RamInstrument(),
    "net": lambda per_core: NetInstrument(),
    "disk": lambda per_core: DiskInstrument(),
    "psi": lambda per_core: _psi(),
    "gpu": lambda per_core: gpu_instrument(),
}


def build_instruments(names: Iterable[str], per_core: bool = False) -> list[Instrument]:
    """The named system instruments that this node supports (others are skipped, logged)."""
    out = []
    for name in names:
        inst = SYSTEM_INSTRUMENTS[name](per_core)
        if inst is None:
            log.info("instrument %s is not available on this node; skipped", name)
            continue
        out.append(inst)
    return out
