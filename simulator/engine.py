"""Public API of the PyTorch engine: render(), trace_pixel(), format_trace(), warm_up().

On CPU, renders of the usual case (`fastpath.covers`: SQUARE shape, no interpolation, no oversample_* flags, flat
detector) run through the compiled kernel (`simulator.compiled`, `fastkernel.cpp`): the whole path from pixel
geometry to the pixel value in one pass, W pixels per SIMD vector, float64 in the C reference's order of operations
(its images are bit-identical to the C's), float32 with reduced-argument polynomials; memory is the image plus the
setup. Without a working C++ compiler, on CUDA, for traces and for the other cases, the torch kernel below runs.

The torch path evaluates the ROI in raster order in chunks of pixels. The chunk size comes from an element budget:
P·J·S·T·M·3 <= `ELEMENT_BUDGET` (P pixels, J sub-paths, S sources, T phi ticks, M mosaic domains). Renders of the
usual case (SQUARE shape, no interpolation, no oversample_* flags) keep about five buffers of that many elements in
the working dtype, reused from chunk to chunk (kernel.Workspace), plus two (T·M per path) index buffers with an
HKL file: at most 5 · ELEMENT_BUDGET · 8 + 2 · ELEMENT_BUDGET / 3 · 8 bytes ≈ 48 MB; the other cases (and traces)
keep about 12 live tensors of that many elements, 12 · ELEMENT_BUDGET · 8 bytes = 100 MB. On top of that: the image
itself (4 bytes per pixel) and the setup (structure-factor grid, padded up to 2^23 cells). The budget was swept
from 2^16 to 2^22 elements on 2 CPU cores (float32 and float64): 2^18 to 2^20 were equally fast, smaller chunks
lose to per-operation overhead, larger ones to cache misses; a GPU would prefer larger chunks (pass `budget`).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import torch

from simulator.compiled import FastKernel
from simulator.config import ConfigError, NanoBraggConfig
from simulator.fastpath import kernel_inputs
from simulator.kernel import KernelConsts, Workspace, evaluate, make_consts, positions
from simulator.render_compiled import (  # noqa: F401 - re-exported: the engine's public names since issue 9
    CARRYOVER_DEFAULT, COMPILED_BUDGET, ELEMENT_BUDGET, MIN_CHUNKS, Moments, PixelOrder, chunk_pixels, compiled_for,
    finish, render_setup, stats_from_moments,
)
from simulator.setup import Setup, build_setup
from tracing.records import CancelFlag, Cancelled, ImageResult, PixelTrace

# The trace's scans use smaller chunks (equally fast per element, see above) so a cancel is seen sooner.
SCAN_BUDGET = ELEMENT_BUDGET // 4
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return DTYPES[str(dtype)]
    except KeyError:
        raise ConfigError(f"-dtype: expected float32 or float64, got {dtype!r}") from None


def resolve_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(f"-device: not a torch device: {device!r}") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("-device cuda: CUDA is not available on this machine")
    return dev


def find_first_path(setup: Setup, k: KernelConsts, chunk: int, order: PixelOrder,
                    cancel: CancelFlag | None = None) -> tuple[int, int, int] | None:
    """(ROI-flat pixel, sub-path j, source) of the run's first path that reaches the phi loop (raster order,
    then layer/sub-pixel/source order), or None when no path survives the dmin cut. Only needed for the carry-over.
    `cancel` is checked between chunks (raises Cancelled)."""
    n = order.n
    if n == 0:
        return None
    if k.dmin <= 0:
        return 0, 0, 0
    S = k.incident.shape[0]
    for start in range(0, n, chunk):
        _check_cancel(cancel, "trace cancelled")
        s_idx, f_idx = order.indices(start, min(n, start + chunk), k.device)
        pos = positions(k, s_idx, f_idx)
        d = pos / torch.linalg.vector_norm(pos, dim=-1, keepdim=True)
        q = (d[:, :, None, :] - k.incident[None, None]) / k.lambdas[None, None, :, None]
        stol = 0.5 * torch.linalg.vector_norm(q, dim=-1)
        keep = ~((stol > 0) & (k.dmin > 0.5 / stol))
        flat = keep.reshape(-1)
        if bool(flat.any()):
            i = int(torch.nonzero(flat)[0, 0])
            per_pix = keep.shape[1] * S
            return start + i // per_pix, (i % per_pix) // S, i % S
    return None


def _interp_warning(k: KernelConsts, s_idx, f_idx, fp, flat: int) -> list[str]:
    """The C's two warning lines for the first out-of-range interpolation (h, k, l and h0, k0, l0 of it)."""
    res = evaluate(k, s_idx, f_idx, first=fp, detail=True)
    hkl = res["hkl"].reshape(-1, 3)[flat].tolist()
    h0 = res["h0"].reshape(-1, 3)[flat].tolist()
    return ["WARNING: out of range for three point interpolation: h,k,l,h0,k0,l0: "
            f"{hkl[0]:g},{hkl[1]:g},{hkl[2]:g},{int(h0[0])},{int(h0[1])},{int(h0[2])}",
            "WARNING: further warnings will not be printed!"]


def interp_on_at(setup: Setup, k: KernelConsts, roi_index: int, order: PixelOrder,
                 cancel: CancelFlag | None = None) -> bool:
    """Whether tricubic interpolation is still on when pixel `roi_index` (ROI-flat) starts: False once an earlier
    pixel had an out-of-range evaluation. Scans the earlier pixels (about the cost of rendering them); `cancel` is
    checked between chunks."""
    if not setup.interpolate:
        return False
    chunk = chunk_pixels(setup, SCAN_BUDGET)
    first = find_first_path(setup, k, chunk, order, cancel) if k.mat_first is not None else None
    with torch.inference_mode():
        for start in range(0, roi_index, chunk):
            _check_cancel(cancel, "trace cancelled")
            stop = min(roi_index, start + chunk)
            s_idx, f_idx = order.indices(start, stop, k.device)
            fp = None
            if first is not None and start <= first[0] < stop:
                fp = (first[0] - start, first[1], first[2])
            if evaluate(k, s_idx, f_idx, first=fp, interp_on=True)["interp_fail"] >= 0:
                return False
    return True


def moments_torch(values: torch.Tensor) -> Moments:
    """Moments of values (n,) (any device) in float64 torch ops, which release the GIL (numpy's whole-image passes
    held it for tens of ms each on a 2463 x 2527 image while a GUI thread ran)."""
    n = int(values.numel())
    if n == 0:
        return Moments(0, 0.0, 0.0, 0.0, -1, 0.0, 0.0)
    v = values.to(torch.float64)
    total = float(v.sum())
    mean = total / max(n, 2)
    return Moments(n, total, float(v.square().sum()), float(v.max()), int(torch.argmax(v)),   # first max
                   float((v - mean).square_().sum()), mean)


def image_stats(image: np.ndarray, setup: Setup) -> dict:
    """`stats_from_moments` of a rendered image (slow, fast) of `setup`."""
    order = PixelOrder(setup)
    roi = torch.from_numpy(image[order.ymin:order.ymin + order.h, order.xmin:order.xmin + order.w])
    if order.s_abs is None:
        return stats_from_moments(moments_torch(roi.reshape(-1)), setup, order)
    assert setup.mask is not None  # PixelOrder lists pixels (s_abs) only under a mask
    keep = torch.from_numpy(setup.mask[order.ymin:order.ymin + order.h, order.xmin:order.xmin + order.w] != 0)
    m = moments_torch(roi[keep])
    masked = float((roi[~keep].to(torch.float64) - m.mean).square_().sum())
    return stats_from_moments(m, setup, order, masked)


def _first_path(setup: Setup, order: PixelOrder, k: KernelConsts | None, tdt: torch.dtype, dev: torch.device,
                chunk: int) -> tuple[int, int, int] | None:
    """The carry-over's first path (see find_first_path) when it changes that path's lattice, else None."""
    if not np.any(setup.phi.eff_first != setup.phi.eff_rest) or order.n == 0:
        return None
    if setup.beam.dmin <= 0:
        return 0, 0, 0
    return find_first_path(setup, k if k is not None else make_consts(setup, tdt, dev), chunk, order)


def first_path_torch(setup: Setup, order: PixelOrder, chunk: int, double: bool) -> tuple[int, int, int] | None:
    """find_first_path with a fresh torch kernel set-up in the render's dtype (the compiled render's carry-over)."""
    tdt = torch.float64 if double else torch.float32
    return find_first_path(setup, make_consts(setup, tdt, torch.device("cpu")), chunk, order)


def _compiled_kernel(setup: Setup, dev: torch.device, compiled: bool | None,
                     cancel=None) -> tuple[FastKernel | None, str]:
    """(the compiled kernel when it renders this setup, else None; why not)."""
    return compiled_for(setup, "cpu" if dev.type == "cpu" else str(dev), compiled, cancel)


def render(config: NanoBraggConfig, *, dtype: str = "float64", device: str = "cpu",
           progress: Callable[[float], None] | None = None, cancel: CancelFlag | None = None,
           budget: int = ELEMENT_BUDGET, fused: bool | None = None, compiled: bool | None = None) -> ImageResult:
    """Render the float image of `config`: ImageResult with image float32 (slow, fast) photons/pixel.

    compiled: on CPU, render through the compiled kernel (`simulator.compiled`; float64 follows the C's operations)
    where it covers the setup (`fastpath.covers`); None = yes unless NBPARITY_COMPILED=0; it falls back to the torch
    path (one log line) without a working C++ compiler. meta["kernel"] says which ran.
    fused: torch path, float32 only, opt-in: run the lattice sums through torch.compile (needs a working inductor
    backend; the first render of a process compiles for seconds). None = the environment variable NBPARITY_FUSED=1.

    progress(done_fraction) is called after every chunk; `cancel` is checked between chunks (raises Cancelled).
    Raises ConfigError for values the engine cannot use.
    """
    t0 = time.perf_counter()
    tdt, dev = resolve_dtype(dtype), resolve_device(device)
    setup = build_setup(config, carryover_default=CARRYOVER_DEFAULT)
    kern, why_not = _compiled_kernel(setup, dev, compiled, cancel)
    dname = str(tdt).replace("torch.", "")
    if kern is not None:
        return render_setup(setup, kern, t0, dtype=dname, device=str(dev), threads=torch.get_num_threads(),
                            budget=budget, progress=progress, cancel=cancel, find=first_path_torch)
    g = setup.geometry
    image = np.zeros((g.spixels, g.fpixels), dtype=np.float32)
    order = PixelOrder(setup)
    n = order.n
    chunk = chunk_pixels(setup, budget)
    if fused is None:
        fused = os.environ.get("NBPARITY_FUSED") == "1"
    k = make_consts(setup, tdt, dev, fused=fused)
    out_flat, omega_sum, n_chunks, interp_log = _render_torch(setup, k, order, chunk, progress, cancel)
    if cancel is not None and cancel.is_set():
        raise Cancelled("render cancelled")
    if n == 0 and progress is not None:
        progress(1.0)            # an empty ROI: nothing to render, but report completion
    order.place(image, out_flat.cpu().numpy())
    return finish(setup, image, order, moments_torch(out_flat), omega_sum, n_chunks, chunk, interp_log, t0,
                  dtype=dname, device=str(dev), threads=torch.get_num_threads(), kernel_name="torch",
                  why_not=why_not if compiled is not False else "", fused=bool(k.fused))


def _render_torch(setup: Setup, k: KernelConsts, order: PixelOrder, chunk: int,
                  progress: Callable[[float], None] | None, cancel: CancelFlag | None
                  ) -> tuple[torch.Tensor, float, int, list[str]]:
    """The torch kernel over the rendered pixels, on k.device: (values (n,) float32 on the device, omega sum (sr),
    chunks, interpolation warning lines). The loop keeps every tensor on the device; the only host reads are the
    interpolation switch-off (when interpolating) and the omega sum after the loop."""
    n, dev = order.n, k.device
    first = _first_path(setup, order, k, k.dtype, dev, chunk) if k.mat_first is not None else None
    out_flat = torch.empty(n, dtype=torch.float32, device=dev)
    omega_sum = torch.zeros((), dtype=torch.float64, device=dev)
    interp_on, interp_log = setup.interpolate, []
    n_chunks = max(1, -(-n // chunk))
    ws = Workspace(dev)            # per-chunk buffers, reused by every chunk of this render
    with torch.inference_mode():
        for ci, start in enumerate(range(0, n, chunk)):
            if cancel is not None and cancel.is_set():
                raise Cancelled("render cancelled")
            stop = min(n, start + chunk)
            s_idx, f_idx = order.indices(start, stop, dev)
            fp = None
            if first is not None and start <= first[0] < stop:
                fp = (first[0] - start, first[1], first[2])
            res = evaluate(k, s_idx, f_idx, first=fp, interp_on=interp_on, ws=ws)
            if interp_on and res["interp_fail"] >= 0:
                # The C switches interpolation off for the rest of the run at the first out-of-range evaluation.
                interp_on = False
                interp_log = _interp_warning(k, s_idx, f_idx, fp, res["interp_fail"])
            out_flat[start:stop] = res["S"].to(torch.float32)
            omega_sum += res["omega_sum_w"].sum()
            if progress is not None:
                progress((ci + 1) / n_chunks)
    return out_flat, float(omega_sum), n_chunks, interp_log


WARM_UP_ARGS = "-cell 100 100 100 90 90 90 -N 3 -default_F 10 -lambda 1 -distance 100 -pixel 0.1 -detpixels 8"


def warm_up(dtype: str = "float64", device: str = "cpu") -> dict:
    """Make the next render and trace start fast; Qt-free, safe on any thread (the window calls it on a background
    thread at start; a render that starts meanwhile waits for the kernel's build or load, then proceeds).

    Loads the compiled kernel from the disk cache, or builds it there (seconds, the first launch on a machine
    only), and runs one tiny render and one pixel trace in `dtype` on `device`, which primes torch's kernels,
    allocator and thread pool. Returns {"kernel": "compiled" | "torch", "seconds": wall time, "reason": why the
    compiled kernel is not used ('' when it is)}."""
    from simulator.argv import parse_argv

    t0 = time.perf_counter()
    cfg = parse_argv(WARM_UP_ARGS.split()).config
    res = render(cfg, dtype=dtype, device=device)
    trace_pixel(cfg, 4, 4, dtype=dtype, device=device)
    _, why = _compiled_kernel(build_setup(cfg), resolve_device(device), None)
    return {"kernel": res.meta["kernel"], "seconds": time.perf_counter() - t0, "reason": why}


def _check_cancel(cancel: CancelFlag | None, message: str) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled(message)


def trace_pixel(config: NanoBraggConfig, slow: int, fast: int, *, dtype: str = "float64",
                device: str = "cpu", cancel: CancelFlag | None = None) -> PixelTrace:
    """Trace of pixel (slow, fast): what render() computes for it with the same config (decisions D4).

    `cancel` is checked between the chunks of the scans that find the carry-over state and the interpolation
    switch-off before the pixel, and before the pixel itself (raises Cancelled)."""
    _check_cancel(cancel, "trace cancelled")
    from simulator.trace import build_trace

    tdt, dev = resolve_dtype(dtype), resolve_device(device)
    setup = build_setup(config, carryover_default=CARRYOVER_DEFAULT)
    g = setup.geometry
    if not (0 <= slow < g.spixels and 0 <= fast < g.fpixels):
        raise ConfigError(f"-trace_pixel: ({slow}, {fast}) is outside the {g.spixels} x {g.fpixels} detector")
    k = make_consts(setup, tdt, dev, pad=False)      # one pixel: the range-checked F lookup, no padded grid
    order = PixelOrder(setup)
    roi_index = order.index_of(slow, fast)
    if roi_index is None:
        tr = PixelTrace(engine="torch", slow=slow, fast=fast, dialect="py")
        tr.notes.append("pixel outside the ROI or masked: not rendered (image value 0)")
        tr.scalars["floatimage_accumulated"] = [0.0]
        tr.scalars_all["floatimage_accumulated"] = [[0.0]]
        return tr
    fp = None
    first = find_first_path(setup, k, chunk_pixels(setup), order, cancel) if k.mat_first is not None else None
    if first is not None and first[0] == roi_index:
        fp = (0, first[1], first[2])
    interp_on = interp_on_at(setup, k, roi_index, order, cancel)
    _check_cancel(cancel, "trace cancelled")
    with torch.inference_mode():
        res = evaluate(k, torch.tensor([slow], device=dev), torch.tensor([fast], device=dev), first=fp, detail=True,
                       interp_on=interp_on)
    res["_first"] = fp
    kern, _ = _compiled_kernel(setup, dev, None)
    if kern is not None:
        # The image value as render() computes it (decisions D4), from the compiled kernel on this one pixel.
        inputs = kernel_inputs(setup, first, pad=False)   # one pixel: the file's grid, range-checked
        inputs.params.first_pix = 0 if fp is not None else -1
        vals, _ = kern.render(inputs.params, (np.array([slow], np.int32), np.array([fast], np.int32)),
                              tdt == torch.float64, 1)
        res["image_value"] = float(vals[0])
    return build_trace(setup, k, res, slow, fast)


def format_trace(trace: PixelTrace) -> str:
    """TRACE_PY lines (see simulator.trace.format_trace)."""
    from simulator.trace import format_trace as _fmt

    return _fmt(trace)
