"""`-dump FILE`: the HKL grid cache in nanoBragg's Fdump.bin layout (spec 5.2), numpy only (torch-free).

Layout: the ASCII header "%d %d %d %d %d %d\\n\\f" (h_min h_max k_min k_max l_min l_max), then for h0 = 0..h_range,
k0 = 0..k_range (inclusive) l_range+1 native-endian doubles: (h_range+1)(k_range+1)(l_range+1) doubles in all, with
range = max - min + 1, so one padding plane at index `range` on each axis. Indices 0..range-1 are prefilled with
default_F when it is non-zero; the padding planes stay 0. Written only when asked for (decisions D5) and only when an
-hkl file was read, as the C does; the file is never read back.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from simulator.config import ConfigError, NanoBraggConfig


def fdump_grid(hkl: np.ndarray, F: np.ndarray, default_F: float) -> tuple[tuple[int, ...], np.ndarray]:
    """((h_min, h_max, k_min, k_max, l_min, l_max), float64 grid (h_range+1, k_range+1, l_range+1)) for records
    hkl (n, 3) int and F (n,); later duplicates win, as in the C's second pass."""
    if len(F) == 0:
        raise ConfigError("-dump: no reflections to write")
    lo, hi = hkl.min(axis=0), hkl.max(axis=0)
    rng = hi - lo + 1
    grid = np.zeros(tuple(int(r) + 1 for r in rng), dtype=np.float64)
    if default_F != 0:
        grid[:rng[0], :rng[1], :rng[2]] = default_F
    idx = hkl - lo
    grid[idx[:, 0], idx[:, 1], idx[:, 2]] = F
    bounds = (int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1]), int(lo[2]), int(hi[2]))
    return bounds, grid


def fdump_bytes(bounds: tuple[int, ...], grid: np.ndarray) -> bytes:
    """The file's bytes: header, then the grid row-major (h slowest, l fastest) as native doubles."""
    head = ("{} {} {} {} {} {}\n\f".format(*bounds)).encode("ascii")
    return head + np.ascontiguousarray(grid, dtype=np.float64).tobytes()


def write_fdump(path: str | os.PathLike, hkl_file: str, default_F: float) -> None:
    """Read `hkl_file` (simulator.hkl's reader: '#' comments, 4-6 columns) and write the cache to `path`."""
    from simulator.hkl import read_hkl

    hkl, F = read_hkl(hkl_file)
    data = fdump_bytes(*fdump_grid(hkl, F, default_F))
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise ConfigError(f"-dump: cannot write {path}: {e.strerror or e}") from e


def maybe_write_fdump(cfg: NanoBraggConfig) -> str | None:
    """Write the -dump file when the configuration asks for one and reads an -hkl file; returns the log line."""
    c = cfg.crystal
    if c.dump_file is None or c.hkl_file is None:
        return None
    write_fdump(c.dump_file, c.hkl_file, c.default_F)
    return f"writing dump file: {c.dump_file}"
