"""The known-answer check of a freshly built compiled kernel (issue 18): a tiny render through the library against
the engine's eager torch path, so a compiler that builds a wrong library (e.g. `-ffast-math`: NaN, or other
roundings) is refused before the library enters the cache.

The configuration is a 12 x 12 triclinic, misset, 2-step phi, two mosaic domains render (~1 ms compiled, ~50 ms
torch): every part of the float64 path (lattice sines, polarisation, omega, the F grid) contributes. The budget is
the one `test_simulator_compiled.py` holds the two CPU paths to: every pixel finite, and each pixel brighter than
1e-3 of the maximum within 1e-6 relative (float32 rounding of a float64 sum).
"""
from __future__ import annotations

import numpy as np

KNOWN_ANSWER_ARGV = ("-cell 70 80 90 75 85 95 -misset 10 20 30 -default_F 100 -N 5 -lambda 1 -distance 100 "
                     "-pixel 0.4 -detpixels 12 -phi 0 -osc 0.2 -phisteps 2 -mosaic 0.3 -mosaic_dom 2").split()
REL_TOL = 1e-6


def known_answer(lib) -> str | None:
    """None when the library `lib` (a ctypes.CDLL with the kernel's symbols) renders the known answer, else why
    not. Imports torch (the eager path is the reference)."""
    from simulator.argv import parse_argv
    from simulator.compiled import FastKernel
    from simulator.engine import CARRYOVER_DEFAULT, render
    from simulator.fastpath import kernel_inputs
    from simulator.setup import build_setup

    cfg = parse_argv(list(KNOWN_ANSWER_ARGV)).config
    setup = build_setup(cfg, carryover_default=CARRYOVER_DEFAULT)
    want = np.asarray(render(cfg, dtype="float64", compiled=False).image, dtype=np.float64)
    kern = FastKernel(lib, path=None, built=True)
    inputs = kernel_inputs(setup, None)
    h, w = want.shape
    got, _ = kern.render(inputs.params, (0, h * w, w, 0, 0), True, 1)
    got = got.astype(np.float64).reshape(h, w)
    if not np.all(np.isfinite(got)):
        return f"known-answer render: {int(np.sum(~np.isfinite(got)))} of {got.size} pixels NaN or infinite"
    bright = want > 1e-3 * want.max()
    rel = float((np.abs(got - want)[bright] / want[bright]).max()) if bright.any() else float(np.abs(got).max())
    if not rel <= REL_TOL:
        return f"known-answer render differs from the torch path by {rel:.3g} (relative; allowed {REL_TOL:g})"
    return None
