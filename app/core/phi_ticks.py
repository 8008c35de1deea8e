"""Single-φ-tick renders of both sides, for the per-φ image slider (Qt-free).

A command line with N φ ticks (spec 8.2: φ_i = φ0 + i·Δ, i = 0..N−1, Δ the resolved step) has, for each tick i, a
single-tick command line: the same flags with `-phi φ_i -osc Δ -phisteps 1` (and no -phistep, and no output-file
flags, so a tick render never overwrites the user's files). Because each single-tick run divides by steps = 1, the
mean over i of the tick images is the N-tick image of an engine that rotates freshly at every tick. A single-tick
run carries no state from one tick to the next, so a divergence that lives in such state (the C's φ=0 carry-over,
C-PARITY-001) does not show in tick images; the inspector's per-φ traces show it. Divergences of the per-tick
physics (geometry, rotation, F_latt) do, tick by tick.

TickCache renders (side, tick) through a ComparisonSession of the tick's command line and keeps the images, least
recently used first out, within a memory bound set before anything is rendered.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from app.core.session import OUTPUT_FLAGS, ComparisonSession
from simulator.argv import single_tick_argv
from simulator.config import NanoBraggConfig, PhiTicks, phi_ticks

log = logging.getLogger(__name__)
DEFAULT_CACHE_BYTES = 1 << 30   # 1 GiB of tick images (CLI-FLAGS-003: 25 MB per image, 2 per tick)



def phi_grid(config: NanoBraggConfig) -> PhiTicks:
    """The resolved φ grid (spec 8.2) of a parsed command line's configuration."""
    return phi_ticks(config.sampling)


def tick_argv(argv: list[str], grid: PhiTicks, tick: int, output_flags: tuple[str, ...] = ()) -> list[str]:
    """The single-tick command line of φ tick `tick` of `grid` (see the module docstring;
    simulator.argv.single_tick_argv builds it, as it does for the C driver's φ curves)."""
    if not 0 <= tick < grid.n:
        raise ValueError(f"φ tick {tick} is outside 0..{grid.n - 1}")
    return single_tick_argv(list(argv), grid.angle(tick), grid.step, drop=output_flags)


@dataclass
class TickRender:
    """One side's single-tick render: the image (slow, fast) float32 photons, or the error."""

    side: str
    tick: int
    image: np.ndarray | None = None
    error: str | None = None
    wall_s: float | None = None


class TickCache:
    """Single-tick images of one session's two sides, rendered on demand and kept within `max_bytes`.

    session: the app.core.session.ComparisonSession of the full command line; its options (engines, carry-over,
    threads, timeout) and folder are used for every tick. Thread-safe: render() may run on a worker.
    """

    def __init__(self, session, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.session = session
        self.grid = phi_grid(session.config)
        self.max_bytes = int(max_bytes)
        self._outputs = OUTPUT_FLAGS
        self._images: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._sessions: dict[int, object] = {}

    def image_bytes(self) -> int:
        """Bytes of one side's image: slow × fast × 4 (float32)."""
        s_n, f_n = self.session.config.pixel_counts()
        return int(s_n) * int(f_n) * 4

    def estimate(self) -> str:
        """What rendering every tick would cost, said before it is spent."""
        per = self.image_bytes()
        total = 2 * self.grid.n * per
        keep = min(total, self.max_bytes)
        return (f"{self.grid.n} φ ticks × 2 sides = {2 * self.grid.n} single-tick renders, each the cost of a "
                f"1/{self.grid.n} run; {total / 2**20:.0f} MiB for all images (at most {keep / 2**20:.0f} MiB kept)")

    def argv_for(self, tick: int) -> list[str]:
        return tick_argv(self.session.argv, self.grid, tick, self._outputs)

    def session_for(self, tick: int):
        """The ComparisonSession of tick `tick`'s command line, same options as the full run."""
        with self._lock:
            s = self._sessions.get(tick)
        if s is None:
            s = ComparisonSession(self.argv_for(tick), self.session.options, self.session.thresholds,
                                  cwd=self.session.cwd, trace_values=self.session.trace_values)
            with self._lock:
                self._sessions[tick] = s
        return s

    def get(self, side: str, tick: int) -> np.ndarray | None:
        with self._lock:
            img = self._images.get((side, tick))
            if img is not None:
                self._images.move_to_end((side, tick))
            return img

    def render(self, side: str, tick: int, cancel: threading.Event | None = None) -> TickRender:
        """The cached image, or a single-tick render of `side` now (in this thread)."""
        img = self.get(side, tick)
        if img is not None:
            return TickRender(side, tick, img)
        outcome = self.session_for(tick).run_side(side, None, cancel)
        if not outcome.ok:
            return TickRender(side, tick, error=outcome.error or "failed")
        img = np.asarray(outcome.result.image, dtype=np.float32)
        self._store((side, tick), img)
        return TickRender(side, tick, img, wall_s=outcome.result.wall_s)

    def _store(self, key: tuple[str, int], img: np.ndarray) -> None:
        with self._lock:
            self._images[key] = img
            self._images.move_to_end(key)
            while len(self._images) > 1 and sum(a.nbytes for a in self._images.values()) > self.max_bytes:
                old, _ = self._images.popitem(last=False)
                log.debug("tick image %s dropped from the cache (memory bound %d bytes)", old, self.max_bytes)
