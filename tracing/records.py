"""Records shared by both engines, the comparison code and the app.

Units and layout follow spec/decisions.md D6: images are float32 arrays of shape (slow, fast), photons per pixel,
row-major; trace scalars use the units of the C's trace lines (metres, m^-1); per-phi values are dimensionless.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

# Per-phi fields every dialect carries (the golden C's five), then the richer ones our engines add.
GOLDEN_PHI_FIELDS: tuple[str, ...] = ("phi_tic", "phi_deg", "k_frac", "F_latt_b", "F_latt")
RICH_PHI_FIELDS: tuple[str, ...] = (
    "h_frac", "l_frac", "h0", "k0", "l0", "F_latt_a", "F_latt_c", "F_cell", "I_contrib",
)
# Which path a per-phi sample belongs to (integers); absent in the golden dialect, where they read as 0.
PATH_FIELDS: tuple[str, ...] = ("layer", "sub_s", "sub_f", "src", "mos")
# Fields plotted by the inspector, in display order.
PLOT_FIELDS: tuple[str, ...] = (
    "h_frac", "k_frac", "l_frac", "F_latt_a", "F_latt_b", "F_latt_c", "F_latt", "F_cell", "I_contrib",
)


@dataclass(frozen=True)
class PathKey:
    """Identifies one (thickness layer, sub-pixel, source, mosaic domain) path through a pixel's loop nest."""

    layer: int = 0
    sub_s: int = 0
    sub_f: int = 0
    src: int = 0
    mos: int = 0


@dataclass
class PhiSample:
    """One phi tick of one path: `values` maps field name (GOLDEN/RICH_PHI_FIELDS) to a float."""

    phi_tic: int
    phi_deg: float
    path: PathKey
    values: dict[str, float]

    def get(self, name: str) -> float | None:
        if name == "phi_tic":
            return float(self.phi_tic)
        if name == "phi_deg":
            return self.phi_deg
        return self.values.get(name)


@dataclass
class PixelTrace:
    """Everything one engine reports about one pixel.

    scalars: pixel-level keys (e.g. "pixel_pos_meters" -> [x, y, z] in m, "I_pixel_final" -> [v]); when a key is
        printed several times (once per sub-pixel in the C), the first occurrence is kept in `scalars` and all of them
        in `scalars_all`.
    samples: per-phi samples in the order printed.
    dialect: "golden" (only the five golden fields), "rich" (our C), "py" (our PyTorch), "port" (the PyTorch port's
        §11.3 dialect, read into this vocabulary by tracing.parse), "none" (no trace output).
    text: keys whose values are not all numbers, as printed (first occurrence).
    missing: per-phi fields of RICH_PHI_FIELDS this trace does not carry (named, so views can say so).
    """

    engine: str
    slow: int
    fast: int
    scalars: dict[str, list[float]] = field(default_factory=dict)
    scalars_all: dict[str, list[list[float]]] = field(default_factory=dict)
    samples: list[PhiSample] = field(default_factory=list)
    dialect: str = "none"
    notes: list[str] = field(default_factory=list)
    # Keys whose values are not all numbers (e.g. "detector_convention" -> "CUSTOM"), first occurrence, raw text.
    text: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    # Free-form TRACE: blocks and other TRACE_* tags, "section/name" -> numbers (tracing.parse.TraceReader).
    free: dict[str, list[float]] = field(default_factory=dict)
    samples_dropped: int = 0   # per-phi lines read beyond the samples kept (tracing.parse.MAX_SAMPLES)

    def paths(self) -> list[PathKey]:
        """Distinct paths, in first-seen order."""
        seen: dict[PathKey, None] = {}
        for s in self.samples:
            seen.setdefault(s.path, None)
        return list(seen)

    def series(self, path: PathKey | None = None) -> list[PhiSample]:
        """Samples of one path (default: the first path) sorted by phi tick."""
        if not self.samples:
            return []
        key = path if path is not None else self.samples[0].path
        return sorted((s for s in self.samples if s.path == key), key=lambda s: s.phi_tic)

    def fields(self) -> list[str]:
        """Per-phi fields present in this trace, golden ones first."""
        present = {k for s in self.samples for k in s.values}
        order = [f for f in GOLDEN_PHI_FIELDS if f in present or f in ("phi_tic", "phi_deg")]
        order += [f for f in RICH_PHI_FIELDS if f in present]
        order += sorted(present - set(order) - set(PATH_FIELDS))
        return order

    def scalar(self, key: str) -> float | None:
        v = self.scalars.get(key)
        return v[0] if v else None


@dataclass
class ImageResult:
    """One engine's image and how it was made.

    image: float32 (slow, fast) photons/pixel. wall_s: wall time of the render in seconds.
    meta: free-form provenance (binary path and sha256, dtype, device, threads, ...).
    """

    engine: str
    image: np.ndarray
    argv: list[str]
    log: str = ""
    wall_s: float = 0.0
    returncode: int | None = None
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        n_slow, n_fast = self.image.shape
        return n_slow, n_fast


class EngineError(RuntimeError):
    """An engine failed; `log_tail` holds the last lines of its output for display."""

    def __init__(self, message: str, log_tail: str = "", returncode: int | None = None):
        super().__init__(message)
        self.log_tail = log_tail
        self.returncode = returncode


class Cancelled(RuntimeError):
    """Raised by an engine that stopped because its cancel flag was set."""


class CancelFlag(Protocol):
    """What an engine polls to stop early: a threading.Event, or an object that also says yes when a time limit
    has passed (app.engines.torch_engine.Deadline)."""

    def is_set(self) -> bool: ...
