"""Memory and work budgets of a command line, known before the memory or the time is spent (torch-free).

`available_memory()` is what this process may still use: the smallest of MemAvailable (/proc/meminfo), the cgroup
limit minus its usage (v2 or v1), RLIMIT_AS and $NBPARITY_MEMORY_LIMIT (bytes; a way to cap a run, and what the
tests use so that refusals do not depend on the host). `require_memory` refuses an allocation that cannot fit with a
ConfigError naming the flag that asked for it and both figures. `Estimate` adds up the big arrays of one run (image,
structure-factor grid, mosaic matrices, source and phi lists) and its work (pixels x sub-pixels x layers x sources x
phi ticks x mosaic domains), with a rough time for the window's "this will take minutes: run?" question.
"""
from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass, field

from simulator.errors import ConfigError

# Bytes per item, as the PyTorch side holds them (the C needs less of each):
IMAGE_BYTES_PER_PIXEL = 32   # float64 accumulator + float32 image per engine, the difference map, display copies
MOSAIC_BYTES_PER_DOMAIN = 2 * 9 * 8   # float64 3x3 in numpy and again on the device
SOURCE_BYTES = 200           # direction + wavelength in numpy and on the device, plus the Python list while built
PHI_BYTES_PER_TICK = 100     # three float64 angle arrays and one log line per tick
# Sub-pixel path evaluations (pixel x sub-pixel x layer x source x phi tick x domain) per second of a comparison,
# both sides one after the other on a 2-core machine: `make bench` case (a), 1024^2 pixels x 2^2 sub-pixels =
# 4.19e6 paths, took 0.511 s on our C reference and 0.200 s on the compiled PyTorch kernel (float64), so
# 4.19e6 / 0.711 s = 5.9e6/s. Order of magnitude only: it answers "seconds or minutes?".
PATHS_PER_SECOND = 6e6

IMAGE_FLAG = "-detpixels/-detsize"

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def format_bytes(n: float) -> str:
    """'7.11 PiB' (binary units, three significant figures)."""
    n = float(n)
    for unit in _UNITS:
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> int | None:
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit = _read_int(limit_file)
        if limit is not None and limit < (1 << 60):  # v1 reports "no limit" as a huge number, v2 as "max"
            return max(0, limit - (_read_int(usage_file) or 0))
    return None


def available_memory() -> int:
    """Bytes this process may still allocate (see the module docstring); 2**63 when nothing says."""
    figures = [_meminfo_available(), _cgroup_headroom()]
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        figures.append(soft)
    env = os.environ.get("NBPARITY_MEMORY_LIMIT", "").strip()
    if env.isdigit():
        figures.append(int(env))
    known = [f for f in figures if f is not None]
    return min(known) if known else 1 << 63


def require_memory(nbytes: int, flag: str, what: str, available: int | None = None) -> None:
    """ConfigError naming `flag` unless `nbytes` fit in the available memory; `what` says what would be built."""
    avail = available_memory() if available is None else available
    if nbytes > avail:
        raise ConfigError(f"{flag}: {what} would need about {format_bytes(nbytes)}, but only "
                          f"{format_bytes(avail)} of memory is available", flag=flag,
                          expected=f"at most {format_bytes(avail)}")


@dataclass
class Estimate:
    """What one run of the PyTorch engine costs. memory: component -> (bytes, flag responsible)."""

    spixels: int
    fpixels: int
    roi_pixels: int
    oversample: int
    layers: int
    sources: int
    phi_steps: int
    mosaic_domains: int
    memory: dict[str, tuple[int, str]] = field(default_factory=dict)
    available: int = 0

    @property
    def bytes(self) -> int:
        """Estimated peak memory of the run's big arrays (bytes)."""
        return sum(b for b, _ in self.memory.values())

    @property
    def work(self) -> int:
        """Sub-pixel path evaluations: ROI pixels x oversample^2 x layers x sources x phi ticks x domains."""
        return (self.roi_pixels * self.oversample ** 2 * self.layers * self.sources * self.phi_steps
                * self.mosaic_domains)

    @property
    def seconds_guess(self) -> float:
        """Order-of-magnitude run time of the torch engine on a CPU (s)."""
        return self.work / PATHS_PER_SECOND

    def sentence(self) -> str:
        """One line for the window: size, work and the rough time."""
        t = self.seconds_guess
        when = ("under a second" if t < 1 else f"{t:.0f} s" if t < 120 else f"{t / 60:.0f} min" if t < 7200
                else f"{t / 3600:.0f} h")
        return (f"{self.fpixels} x {self.spixels} pixels, {self.oversample}x{self.oversample} sub-pixels, "
                f"{self.layers} layer(s), {self.sources} source(s), {self.phi_steps} phi step(s), "
                f"{self.mosaic_domains} mosaic domain(s): {self.work:.3g} path evaluations, about {when} on a CPU; "
                f"memory about {format_bytes(self.bytes)} of {format_bytes(self.available)} available")

    def check(self) -> None:
        """ConfigError naming the flag of the largest component when the whole does not fit."""
        if self.bytes <= self.available:
            return
        name, (nbytes, flag) = max(self.memory.items(), key=lambda kv: kv[1][0])
        raise ConfigError(f"{flag}: this run would need about {format_bytes(self.bytes)} of memory "
                          f"({name}: {format_bytes(nbytes)}), but only {format_bytes(self.available)} is available",
                          flag=flag, expected=f"at most {format_bytes(self.available)}")


def product(*counts: int) -> int:
    """Exact product of counts (Python ints do not overflow)."""
    return math.prod(int(c) for c in counts)
