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
import re
import resource
from dataclasses import dataclass, field
from pathlib import Path

from simulator.errors import ConfigError

SPEC_FILE = Path(__file__).with_name("budget.def")
_COST = re.compile(r"^NB_COST\((\w+),\s*([-+0-9.eE]+)\)")
_WORDS = re.compile(r'^NB_WORDS\((\w+),\s*"([^"\\]*)"\)')


def _load_spec(path: Path) -> tuple[dict[str, float], dict[str, str]]:
    """(costs, words) of budget.def: the one spec of the budget, also #included by the C reference."""
    costs: dict[str, float] = {}
    words: dict[str, str] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if m := _COST.match(line):
            costs[m.group(1)] = float(m.group(2))
        elif m := _WORDS.match(line):
            words[m.group(1)] = m.group(2)
    return costs, words


COSTS, WORDS = _load_spec(SPEC_FILE)
IMAGE_BYTES_PER_PIXEL = int(COSTS["IMAGE_BYTES_PER_PIXEL"])
MOSAIC_BYTES_PER_DOMAIN = int(COSTS["MOSAIC_BYTES_PER_DOMAIN"])
SOURCE_BYTES = int(COSTS["SOURCE_BYTES"])
PHI_BYTES_PER_TICK = int(COSTS["PHI_BYTES_PER_TICK"])
GRID_BYTES_PER_CELL = int(COSTS["GRID_BYTES_PER_CELL"])
PATHS_PER_SECOND = COSTS["PATHS_PER_SECOND"]
CONSOLE_LIST_MAX = int(COSTS["CONSOLE_LIST_MAX"])

IMAGE_FLAG = WORDS["IMAGE_FLAG"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def format_bytes(n: float) -> str:
    """'7.11 PiB' (binary units, three significant figures)."""
    n = float(n)
    for unit in _UNITS:
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return WORDS["BYTES"] % (n, unit) if unit != "B" else WORDS["BYTES_SMALL"] % int(n)
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


# Amounts below this are not checked against the system's figures: the interpreter alone holds tens of MiB, so
# they cannot be refused meaningfully, and each look at /proc and the cgroup files costs about 0.2 ms (a warm
# 1-megapixel render made four such checks for a few kilobytes of sources, ticks and domains).
SMALL_BYTES = 1 << 20


def require_memory(nbytes: int, flag: str, what: str, available: int | None = None) -> None:
    """ConfigError naming `flag` unless `nbytes` fit in the available memory; `what` says what would be built.
    Without `available`, amounts under SMALL_BYTES pass unchecked."""
    if available is None and nbytes < SMALL_BYTES:
        return
    avail = available_memory() if available is None else available
    if nbytes > avail:
        raise ConfigError(WORDS["REFUSE_ONE"] % (flag, what, format_bytes(nbytes), format_bytes(avail)), flag=flag,
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
        """One line for the window and both engines' consoles: size, work, the rough time and the memory."""
        return WORDS["ESTIMATE"] % (self.fpixels, self.spixels, self.oversample, self.oversample, self.layers,
                                    self.sources, self.phi_steps, self.mosaic_domains, float(self.work),
                                    when(self.seconds_guess), format_bytes(self.bytes),
                                    format_bytes(self.available))

    def check(self) -> None:
        """ConfigError naming the flag of the largest component when the whole does not fit."""
        if self.bytes <= self.available:
            return
        name, (nbytes, flag) = max(self.memory.items(), key=lambda kv: kv[1][0])
        raise ConfigError(WORDS["REFUSE_RUN"] % (flag, format_bytes(self.bytes), name, format_bytes(nbytes),
                                                 format_bytes(self.available)),
                          flag=flag, expected=f"at most {format_bytes(self.available)}")


def require_auto_oversample(n: int) -> int:
    """`n`, the auto-selected sub-pixel count per side, unless it is beyond the C's int: then the ConfigError both
    engines give in budget.def's words (a crystal of metres would otherwise wrap around in the C)."""
    if n > int(COSTS["INT_MAX"]):
        raise ConfigError(WORDS["REFUSE_OVERSAMPLE"] % n, flag="-oversample",
                          expected=f"at most {int(COSTS['INT_MAX'])}-fold oversampling")
    return n


def when(seconds: float) -> str:
    """The rough time in words ("under a second", "42 s", "6 min", "3 h"), by budget.def's thresholds."""
    if seconds < COSTS["ONE_SECOND_S"]:
        return WORDS["WHEN_UNDER_SECOND"]
    if seconds < COSTS["MINUTES_FROM_S"]:
        return WORDS["WHEN_SECONDS"] % seconds
    if seconds < COSTS["HOURS_FROM_S"]:
        return WORDS["WHEN_MINUTES"] % (seconds / 60)
    return WORDS["WHEN_HOURS"] % (seconds / 3600)


def product(*counts: int) -> int:
    """Exact product of counts (Python ints do not overflow)."""
    return math.prod(int(c) for c in counts)
