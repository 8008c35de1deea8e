"""The compiled kernel's render, torch-free: `python -m simulator` on a compiled-eligible command line imports
neither torch nor Qt (issue 19); `engine.render` takes the same path once torch is loaded, so both give the same
image bit for bit.

Also the pieces both paths share: `PixelOrder` (the rendered pixels in the C's raster order), `Moments` and
`stats_from_moments` (the C's max/mean/rms/rmsd lines), and `finish` (the ImageResult's log and meta).
"""
from __future__ import annotations

import importlib.metadata
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulator.compiled import FastKernel, unavailable_reason
from simulator.compiled import kernel as compiled_kernel
from simulator.config import ConfigError, NanoBraggConfig
from simulator.fastpath import covers, kernel_inputs
from simulator.io_files import header_from_setup
from simulator.setup import Setup, build_setup
from tracing.records import CancelFlag, Cancelled, ImageResult

# The PyTorch engine's default for the phi=0 carry-over (decisions D3): off.
CARRYOVER_DEFAULT = False
ELEMENT_BUDGET = 1 << 20
# The compiled kernel's chunks at the default budget: about 2^24 elements (no tensors to bound) and at least 8
# chunks for progress and cancel. Every call ends at a thread barrier, which on a loaded machine waits for a
# descheduled thread (measured on bench case (b) float32, load ~7 on 2 cores: 0.30 s in 8 calls, 0.72 s in 121).
COMPILED_BUDGET = 1 << 24
MIN_CHUNKS = 8


def chunk_pixels(setup: Setup, budget: int = ELEMENT_BUDGET) -> int:
    """Pixels per chunk so that P·J·S·T·M·3 <= budget (at least 1)."""
    per_pixel = setup.n_paths * setup.beam.n_sources * setup.phi.steps * setup.crystal.n_mosaic * 3
    return max(1, budget // per_pixel)


def kernel_threads() -> int:
    """Threads for the compiled kernel without torch: $OMP_NUM_THREADS when a positive integer, else the CPUs this
    process may run on (torch's own default on a machine without SMT; the engine passes torch's count)."""
    raw = os.environ.get("OMP_NUM_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):   # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class PixelOrder:
    """The rendered pixels (ROI minus masked ones) in the C's raster order; position r in this order is the
    "render index" used for chunking, the carry-over's first path and the interpolation switch-off."""

    def __init__(self, setup: Setup):
        xmin, xmax, ymin, ymax = setup.roi
        self.xmin, self.ymin = xmin, ymin
        self.w, self.h = max(0, xmax - xmin + 1), max(0, ymax - ymin + 1)
        self.s_abs: np.ndarray | None = None
        self.f_abs: np.ndarray | None = None
        if setup.mask is not None:
            ss, ff = np.nonzero(setup.mask[ymin:ymax + 1, xmin:xmax + 1])   # row-major: raster order
            self.s_abs, self.f_abs = ss + ymin, ff + xmin
            self.n = int(len(ss))
        else:
            self.n = self.w * self.h

    def indices(self, start: int, stop: int, device):
        """(slow, fast) int64 torch tensors of render indices start..stop-1 (the torch kernel's input)."""
        import torch   # only the torch path asks for tensors

        if self.s_abs is not None:
            assert self.f_abs is not None  # set together with s_abs
            return (torch.as_tensor(self.s_abs[start:stop], device=device),
                    torch.as_tensor(self.f_abs[start:stop], device=device))
        r = torch.arange(start, stop, device=device, dtype=torch.int64)
        return self.ymin + r // self.w, self.xmin + r % self.w

    def indices_np(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(slow, fast) int32 arrays of render indices start..stop-1 (the compiled kernel's input)."""
        if self.s_abs is not None:
            assert self.f_abs is not None  # set together with s_abs
            return self.s_abs[start:stop].astype(np.int32), self.f_abs[start:stop].astype(np.int32)
        r = np.arange(start, stop, dtype=np.int64)
        return (self.ymin + r // self.w).astype(np.int32), (self.xmin + r % self.w).astype(np.int32)

    def index_of(self, slow: int, fast: int) -> int | None:
        """Render index of pixel (slow, fast), or None when it is not rendered."""
        if not (self.xmin <= fast < self.xmin + self.w and self.ymin <= slow < self.ymin + self.h):
            return None
        if self.s_abs is None:
            return (slow - self.ymin) * self.w + (fast - self.xmin)
        assert self.f_abs is not None  # set together with s_abs
        key = slow * (1 << 32) + fast
        keys = self.s_abs.astype(np.int64) * (1 << 32) + self.f_abs
        i = int(np.searchsorted(keys, key))
        return i if i < self.n and keys[i] == key else None

    def place(self, image: np.ndarray, values: np.ndarray) -> None:
        """Write values (n,) into image (slow, fast) at the rendered pixels."""
        if self.s_abs is not None:
            image[self.s_abs, self.f_abs] = values
        elif self.n:
            image[self.ymin:self.ymin + self.h, self.xmin:self.xmin + self.w] = values.reshape(self.h, self.w)


@dataclass
class Moments:
    """Sums over the rendered pixels' values (render order): total, sum of squares, max, render index of the first
    max, and the sum of (v - mean)^2 with mean = total / max(n, 2)."""

    n: int
    total: float
    sumsq: float
    vmax: float
    imax: int
    centered: float
    mean: float


def stats_from_moments(m: Moments, setup: Setup, order: PixelOrder, masked_centered: float | None = None) -> dict:
    """max_I (first maximum in raster order) with the last sub-pixel's Fdet/Sdet (m), mean and rms over the
    rendered pixels; rmsd sums over every ROI pixel (masked ones included, as the C's second loop) but divides by
    the rendered count minus one (spec 7.4). masked_centered: the masked ROI pixels' sum of (v - mean)^2; None =
    they hold 0, as in a render."""
    if m.n == 0:
        return dict(max_I=0.0, max_F=0.0, max_S=0.0, mean=0.0, rms=0.0, rmsd=0.0, n=0)
    n = max(m.n, 2)
    s_idx, f_idx = order.indices_np(m.imax, m.imax + 1)
    N, sub = setup.oversample, setup.geometry.px / setup.oversample
    if masked_centered is None:
        masked_centered = (order.w * order.h - m.n) * m.mean * m.mean
    return dict(
        max_I=m.vmax, max_F=sub * (int(f_idx[0]) * N + N - 1) + sub / 2,
        max_S=sub * (int(s_idx[0]) * N + N - 1) + sub / 2, mean=m.mean, rms=math.sqrt(m.sumsq / (n - 1)),
        rmsd=math.sqrt((m.centered + masked_centered) / (n - 1)), n=m.n,
    )


def compiled_for(setup: Setup, device: str, compiled: bool | None, cancel=None) -> tuple[FastKernel | None, str]:
    """(the compiled kernel when it renders this setup on `device` ('cpu', 'cuda:0', ...), else None; why not)."""
    if compiled is False:
        return None, "not requested"
    if device != "cpu":
        return None, f"device {device}"
    why = covers(setup)
    if why is not None:
        return None, why
    kern = compiled_kernel(cancel)   # a first build is cut by the run's cancel / time limit too
    return kern, "" if kern is not None else unavailable_reason() or "disabled (NBPARITY_COMPILED=0)"


def first_path(setup: Setup, order: PixelOrder, chunk: int, double: bool, find=None) -> tuple[int, int, int] | None:
    """The carry-over's first path (engine.find_first_path) when it changes that path's lattice, else None.
    Only that case (-phi0_carryover on with dmin > 0) loads the torch kernel to find it (in the render's dtype)."""
    if not np.any(setup.phi.eff_first != setup.phi.eff_rest) or order.n == 0:
        return None
    if setup.beam.dmin <= 0:
        return 0, 0, 0
    if find is None:
        from simulator.engine import first_path_torch as find
    return find(setup, order, chunk, double)


def render_values(setup: Setup, kern: FastKernel, double: bool, order: PixelOrder, chunk: int, threads: int,
                  progress: Callable[[float], None] | None, cancel: CancelFlag | None,
                  find=None, out: np.ndarray | None = None) -> tuple[np.ndarray, float, int]:
    """The compiled CPU kernel over the rendered pixels, `chunk` pixels per call (progress and cancel between
    calls): (values (n,) float32 (`out` when given: a contiguous (n,) float32 view), omega sum (sr), chunks)."""
    n = order.n
    inputs = kernel_inputs(setup, first_path(setup, order, chunk, double, find))
    first_global = inputs.params.first_pix
    if out is None:
        out = np.empty(n, dtype=np.float32)
    omega_sum, n_chunks = 0.0, max(1, -(-n // chunk))
    for ci, start in enumerate(range(0, n, chunk)):
        if cancel is not None and cancel.is_set():
            raise Cancelled("render cancelled")
        stop = min(n, start + chunk)
        pixels = order.indices_np(start, stop) if order.s_abs is not None else \
            (start, stop - start, order.w, order.xmin, order.ymin)
        inputs.params.first_pix = first_global - start if start <= first_global < stop else -1
        _, omega = kern.render(inputs.params, pixels, double, threads, out=out[start:stop])
        omega_sum += float(omega.sum()) * setup.n_paths
        if progress is not None:
            progress((ci + 1) / n_chunks)
    return out, omega_sum, n_chunks


def torch_version() -> str:
    """torch's version without importing it where it is not loaded yet (meta["torch"])."""
    mod = sys.modules.get("torch")
    if mod is not None:
        return str(mod.__version__)
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return ""


def finish(setup: Setup, image: np.ndarray, order: PixelOrder, mom: Moments, omega_sum: float, n_chunks: int,
           chunk: int, extra_log: list[str], t0: float, *, dtype: str, device: str, threads: int, kernel_name: str,
           why_not: str, fused: bool) -> ImageResult:
    """The ImageResult of a render (either kernel): the C's statistics lines, our engine line and meta."""
    wall = time.perf_counter() - t0
    stats = stats_from_moments(mom, setup, order)
    log = list(setup.warnings) + list(setup.log) + list(extra_log)
    log.append(f"{setup.steps} initialized steps (sources {setup.beam.n_sources} x mosaic {setup.crystal.n_mosaic}"
               f" x phi {setup.phi.steps} x oversample {setup.oversample}^2)")
    sa = omega_sum / setup.steps
    log.append(f"solid angle subtended by detector = {sa:g} steradian ( {100 * sa / 4 / math.pi:g}% sphere)")
    log.append(f"max_I = {stats['max_I']:g}  at {stats['max_F']:g} {stats['max_S']:g}")
    log.append(f"mean= {stats['mean']:g} rms= {stats['rms']:g} rmsd= {stats['rmsd']:g}")
    log.append(f"torch render: {wall:.3f} s on {device} in {dtype}, {n_chunks} chunks, {kernel_name} kernel"
               + (f" ({why_not})" if why_not else ""))
    meta = {"dtype": dtype, "device": device, "torch": torch_version(), "threads": threads, "steps": setup.steps,
            "oversample": setup.oversample, "phisteps": setup.phi.steps, "mosaic_domains": setup.crystal.n_mosaic,
            "sources": setup.beam.n_sources, "chunk_pixels": chunk, "chunks": n_chunks, "fused": fused,
            "kernel": kernel_name, "phi0_carryover": setup.phi.carryover, "stats": stats, "roi": list(setup.roi),
            "smv_header": header_from_setup(setup).to_dict()}
    return ImageResult(engine="torch", image=image, argv=[], log="\n".join(log) + "\n", wall_s=wall, meta=meta,
                       returncode=0)


def render_setup(setup: Setup, kern: FastKernel, t0: float, *, dtype: str, device: str, threads: int,
                 budget: int = ELEMENT_BUDGET, progress: Callable[[float], None] | None = None,
                 cancel: CancelFlag | None = None, find=None) -> ImageResult:
    """render() of `setup` through the compiled kernel; dtype 'float32' | 'float64'."""
    g = setup.geometry
    image = np.zeros((g.spixels, g.fpixels), dtype=np.float32)
    order = PixelOrder(setup)
    n = order.n
    chunk = chunk_pixels(setup, budget)
    if budget == ELEMENT_BUDGET:
        chunk = max(1, min(chunk_pixels(setup, COMPILED_BUDGET), -(-n // MIN_CHUNKS)))
    # Whole rows without a mask: the kernel writes straight into the image (no copy of a 6-megapixel image).
    direct = order.s_abs is None and order.w == g.fpixels and n > 0
    rows = image[order.ymin:order.ymin + order.h].reshape(-1) if direct else None
    values, omega_sum, n_chunks = render_values(setup, kern, dtype == "float64", order, chunk, threads, progress,
                                                cancel, find, out=rows)
    if cancel is not None and cancel.is_set():
        raise Cancelled("render cancelled")
    if n == 0 and progress is not None:
        progress(1.0)            # an empty ROI: nothing to render, but report completion
    if not direct:
        order.place(image, values)
    mom = Moments(n, *kern.moments(values))
    return finish(setup, image, order, mom, omega_sum, n_chunks, chunk, [], t0, dtype=dtype, device=device,
                  threads=threads, kernel_name="compiled", why_not="", fused=False)


def render_fast(config: NanoBraggConfig, *, dtype: str = "float64", device: str = "cpu",
                progress: Callable[[float], None] | None = None, cancel: CancelFlag | None = None
                ) -> ImageResult | None:
    """engine.render(config, dtype=..., device=...) without torch where the compiled kernel renders it (the same
    image, statistics and meta); None where it does not (the caller then runs engine.render)."""
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"-dtype: expected float32 or float64, got {dtype!r}")
    if device != "cpu":
        return None
    t0 = time.perf_counter()
    setup = build_setup(config, carryover_default=CARRYOVER_DEFAULT)
    kern, _ = compiled_for(setup, "cpu", None, cancel)
    if kern is None:
        return None
    return render_setup(setup, kern, t0, dtype=dtype, device="cpu", threads=kernel_threads(), progress=progress,
                        cancel=cancel)
