"""Structure factors: the HKL text reader (decisions D5) and the C's grid with default_F (spec 5.1, 5.3).

Torch-free. The grid covers h_min..h_max (and k, l) with every cell prefilled by default_F; a lookup outside it gives
default_F, which is what the C's padded grid plus range test amounts to for nearest-neighbour lookup.
"""
from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.budget import GRID_BYTES_PER_CELL, WORDS, require_memory
from simulator.config import INT_MAX, ConfigError
from simulator.errors import file_error
from simulator.textfile import content_lines, decimal, read_input_text


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
        n_h, n_k, n_l = self.grid.shape
        return n_h, n_k, n_l

    def lookup(self, h0: int, k0: int, l0: int) -> float:
        """Nearest-neighbour F for integer indices (default_F outside the grid)."""
        i, j, k = h0 - self.h_min, k0 - self.k_min, l0 - self.l_min
        hr, kr, lr = self.grid.shape
        if self.hkls > 0 and 0 <= i < hr and 0 <= j < kr and 0 <= k < lr:
            return float(self.grid[i, j, k])
        return self.default_F


HKL_SEPARATORS = re.compile(r"[ \t\r\n]+")   # the C reference's strtok set
INDEX_MAX = INT_MAX                          # indices must fit the C's int
# A file made of these characters only is plain numbers: numpy's C parser may read it (nothing it accepts differs).
_PLAIN = re.compile(r"[0-9eE+\-. \t\r\n]*")


def _index(tok: str, path: str, lineno: int, what: str) -> int:
    v = decimal(tok)
    if v is None or not math.isfinite(v) or v != int(v) or abs(v) > INDEX_MAX:
        raise file_error("-hkl", path, lineno, f"an integer {what} index within +-{INDEX_MAX}", tok)
    return int(v)


def read_hkl(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(hkl int64 (n, 3), F float64 (n,)) from a text file of `h k l F [more columns]` lines.

    Lines starting with `#` and blank lines are skipped; 4 to 6 columns are accepted, only the first four used;
    indices are integers within the C's int, F a finite number. Anything else raises ConfigError naming the file,
    the line number and what was expected (the C reference stops on the same lines, textfile's rules).
    """
    text = read_input_text("-hkl", path)
    fast = _read_hkl_fast(text)
    if fast is not None:
        return fast
    hkl: list[tuple[int, int, int]] = []
    fs: list[float] = []
    for lineno, line in content_lines(text):
        toks = [t for t in HKL_SEPARATORS.split(line) if t]
        if not 4 <= len(toks) <= 6:
            raise file_error("-hkl", path, lineno, "4 to 6 columns (h k l F ...)", f"{len(toks)} columns")
        h = _index(toks[0], path, lineno, "h")
        k = _index(toks[1], path, lineno, "k")
        ll = _index(toks[2], path, lineno, "l")
        F = decimal(toks[3])
        if F is None or not math.isfinite(F):
            raise file_error("-hkl", path, lineno, "a finite number for F", toks[3])
        hkl.append((h, k, ll))
        fs.append(F)
    return np.asarray(hkl, dtype=np.int64).reshape(-1, 3), np.asarray(fs, dtype=np.float64)


def _read_hkl_fast(text: str) -> tuple[np.ndarray, np.ndarray] | None:
    """numpy's C parser for a well-formed file (a 64k-line file in ~30 ms instead of ~150 ms of Python, which also
    holds the GIL and stalls the viewer); None when anything is unusual, so the line-by-line reader can say where."""
    if not _PLAIN.fullmatch(text) or not text.strip():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = np.loadtxt(io.StringIO(text), ndmin=2, dtype=np.float64)
    except (ValueError, IndexError):
        return None  # includes rows of differing column counts: the slow reader handles and checks those
    if table.ndim != 2 or not 4 <= table.shape[1] <= 6 or table.size == 0:
        return None
    idx = table[:, :3]
    if not np.all(np.isfinite(table[:, :4])) or np.any(idx != np.round(idx)) or np.any(np.abs(idx) > INDEX_MAX):
        return None
    return idx.astype(np.int64), table[:, 3].copy()


# Parsed HKL files by (path, mtime, size): the text parse of a 64k-reflection file takes ~0.14 s per render and
# an app re-renders the same configuration often. The cached grid is shared between renders: never write to it.
_GRID_CACHE: dict[tuple, HKLGrid] = {}
_GRID_CACHE_MAX = 4


def grid_extent(path: str, hkl: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """(lowest, highest index (3,), grid shape) of the reflections read from `path`; ConfigError when there are none
    (the C stops there whatever -default_F says: "not enough HKL indices")."""
    if len(hkl) == 0:
        raise ConfigError(f"-hkl: {path}: no reflections found; expected at least one h k l F line", flag="-hkl",
                          file=path, expected="at least one h k l F line")
    lo, hi = hkl.min(axis=0), hkl.max(axis=0)
    n = hi - lo + 1
    return lo, hi, (int(n[0]), int(n[1]), int(n[2]))


def grid_bytes(shape: tuple[int, ...]) -> int:
    """Bytes of the float64 grid (h, k, l ranges); the C's grid has one more cell along each axis."""
    return GRID_BYTES_PER_CELL * math.prod(int(n) + 1 for n in shape)


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
    lo, hi, shape = grid_extent(path, hkl)
    require_memory(grid_bytes(shape), "-hkl", WORDS["PART_GRID"] % (path, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]))
    grid = np.full(shape, float(default_F))
    idx = hkl - lo
    grid[idx[:, 0], idx[:, 1], idx[:, 2]] = F  # later duplicates win, as the C's second pass
    return HKLGrid(int(lo[0]), int(lo[1]), int(lo[2]), grid, float(default_F), int(len(F)))
