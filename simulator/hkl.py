"""Structure factors: the HKL text reader (decisions D5) and the C's grid with default_F (spec 5.1, 5.3).

Torch-free. The grid covers h_min..h_max (and k, l) with every cell prefilled by default_F; a lookup outside it gives
default_F, which is what the C's padded grid plus range test amounts to for nearest-neighbour lookup.
"""
from __future__ import annotations

import io

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.config import ConfigError


@dataclass
class HKLGrid:
    """F on an integer grid. grid shape (h_range, k_range, l_range) float64; hkls = records read (0 = none)."""

    h_min: int
    k_min: int
    l_min: int
    grid: np.ndarray
    default_F: float
    hkls: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.grid.shape)  # type: ignore[return-value]

    def lookup(self, h0: int, k0: int, l0: int) -> float:
        """Nearest-neighbour F for integer indices (default_F outside the grid)."""
        i, j, k = h0 - self.h_min, k0 - self.k_min, l0 - self.l_min
        hr, kr, lr = self.grid.shape
        if self.hkls > 0 and 0 <= i < hr and 0 <= j < kr and 0 <= k < lr:
            return float(self.grid[i, j, k])
        return self.default_F


def _index(tok: str, path: str, lineno: int, what: str) -> int:
    try:
        v = float(tok)
    except ValueError:
        raise ConfigError(f"{path}, line {lineno}: expected an integer {what}, got {tok!r}") from None
    if v != int(v):
        raise ConfigError(f"{path}, line {lineno}: expected an integer {what}, got {tok!r}")
    return int(v)


def read_hkl(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(hkl int64 (n, 3), F float64 (n,)) from a text file of `h k l F [more columns]` lines.

    Lines starting with `#` and blank lines are skipped; 4 to 6 columns are accepted, only the first four used.
    A malformed line raises ConfigError naming the file, the line number and what was expected.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"-hkl: cannot read {path}: {e.strerror or e}") from e
    fast = _read_hkl_fast(text)
    if fast is not None:
        return fast
    hkl: list[tuple[int, int, int]] = []
    fs: list[float] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        toks = s.split()
        if not 4 <= len(toks) <= 6:
            raise ConfigError(f"{path}, line {lineno}: expected 4 to 6 columns (h k l F ...), found {len(toks)}")
        h = _index(toks[0], path, lineno, "h")
        k = _index(toks[1], path, lineno, "k")
        ll = _index(toks[2], path, lineno, "l")
        try:
            F = float(toks[3])
        except ValueError:
            raise ConfigError(f"{path}, line {lineno}: expected a number for F, got {toks[3]!r}") from None
        hkl.append((h, k, ll))
        fs.append(F)
    return np.asarray(hkl, dtype=np.int64).reshape(-1, 3), np.asarray(fs, dtype=np.float64)


def _read_hkl_fast(text: str) -> tuple[np.ndarray, np.ndarray] | None:
    """numpy's C parser for a well-formed file (a 64k-line file in ~30 ms instead of ~150 ms of Python, which also
    holds the GIL and stalls the viewer); None when anything is unusual, so the line-by-line reader can say where."""
    try:
        table = np.loadtxt(io.StringIO(text), comments="#", ndmin=2, dtype=np.float64)
    except (ValueError, IndexError):
        return None  # includes rows of differing column counts: the slow reader handles and checks those
    idx = table[:, :3]
    if not 4 <= table.shape[1] <= 6 or table.size == 0 or not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
        return None
    return table[:, :3].astype(np.int64), table[:, 3].copy()


# Parsed HKL files by (path, mtime, size): the text parse of a 64k-reflection file takes ~0.14 s per render and
# an app re-renders the same configuration often. The cached grid is shared between renders: never write to it.
_GRID_CACHE: dict[tuple, HKLGrid] = {}
_GRID_CACHE_MAX = 4


def build_grid(path: str | None, default_F: float) -> HKLGrid:
    """The grid for `-hkl path` (or an empty one using default_F everywhere when path is None). Files are parsed
    once per (path, modification time, size, default_F) and then served from a small cache."""
    if path is not None:
        try:
            st = Path(path).stat()
            key = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size, float(default_F))
        except OSError:
            key = None
        if key is not None and key in _GRID_CACHE:
            return _GRID_CACHE[key]
        grid = _build_grid(path, default_F)
        if key is not None:
            if len(_GRID_CACHE) >= _GRID_CACHE_MAX:
                _GRID_CACHE.pop(next(iter(_GRID_CACHE)))
            _GRID_CACHE[key] = grid
        return grid
    return _build_grid(path, default_F)


def _build_grid(path: str | None, default_F: float) -> HKLGrid:
    if path is None:
        if default_F == 0:
            raise ConfigError("no structure factors: give -hkl FILE or a non-zero -default_F")
        return HKLGrid(0, 0, 0, np.zeros((0, 0, 0)), float(default_F), 0)
    hkl, F = read_hkl(path)
    if len(F) == 0:
        if default_F == 0:
            raise ConfigError(f"{path}: no reflections found and -default_F is 0")
        return HKLGrid(0, 0, 0, np.zeros((0, 0, 0)), float(default_F), 0)
    lo = hkl.min(axis=0)
    hi = hkl.max(axis=0)
    shape = tuple(int(x) for x in hi - lo + 1)
    grid = np.full(shape, float(default_F))
    idx = hkl - lo
    grid[idx[:, 0], idx[:, 1], idx[:, 2]] = F  # later duplicates win, as the C's second pass
    return HKLGrid(int(lo[0]), int(lo[1]), int(lo[2]), grid, float(default_F), int(len(F)))
