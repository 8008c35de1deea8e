"""The compiled kernel's padded F grid reused across renders (issue 19, simulator.fastpath.GRID_CACHE): the same
arrays while the HKL grid object, wavelength and cell are the same, a fresh grid when any of them changes, and the
reused grid gives the same image as a fresh one."""
from __future__ import annotations

import numpy as np
import pytest

from simulator import fastpath
from simulator.argv import parse_argv
from simulator.setup import build_setup

ARGS = "-cell 50 60 70 90 90 90 -N 3 -distance 100 -pixel 0.1 -detpixels 32 -nointerpolate -default_F 2"


def _hkl(path, scale: float) -> str:
    lines = [f"{h} {k} {l} {scale * (1 + abs(h) + 2 * abs(k) + 3 * abs(l))}" for h in range(-3, 4)
             for k in range(-3, 4) for l in range(-3, 4)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _setup(hkl: str, lam: float = 1.0, cell: str = "50 60 70"):
    args = ARGS.replace("-cell 50 60 70", f"-cell {cell}") + f" -lambda {lam} -hkl {hkl}"
    return build_setup(parse_argv(args.split()).config)


@pytest.fixture(autouse=True)
def _fresh_cache():
    fastpath.GRID_CACHE.clear()
    yield
    fastpath.GRID_CACHE.clear()


def test_same_inputs_reuse_the_grid_and_changes_rebuild_it(tmp_path):
    one = _hkl(tmp_path / "one.hkl", 1.0)
    a = fastpath.kernel_inputs(_setup(one), None)
    b = fastpath.kernel_inputs(_setup(one), None)
    assert a.arrays[4] is b.arrays[4] and a.arrays[5] is b.arrays[5]     # F64, F2f: the same arrays
    assert not a.arrays[4].flags.writeable and not a.arrays[5].flags.writeable
    unpadded = fastpath.kernel_inputs(_setup(one), None, pad=False)   # a trace's grid between two renders
    assert unpadded.arrays[4].size == 7 * 7 * 7 + 1 and not unpadded.params.padded
    assert fastpath.kernel_inputs(_setup(one), None).arrays[4] is a.arrays[4]
    # another file, another reach (wavelength, cell): each gets its own grid, with the values f_grid gives
    for setup in (_setup(_hkl(tmp_path / "two.hkl", 3.0)), _setup(one, lam=0.5), _setup(one, cell="80 60 70")):
        c = fastpath.kernel_inputs(setup, None)
        assert c.arrays[4] is not a.arrays[4]
        F64, origin, shape, padded = fastpath.f_grid(setup)
        np.testing.assert_array_equal(c.arrays[4], F64)
        assert (c.params.h_min, c.params.k_min, c.params.l_min) == origin
        assert (c.params.h_n, c.params.k_n, c.params.l_n) == shape and bool(c.params.padded) == padded
        np.testing.assert_array_equal(c.arrays[5], np.square(F64).astype(np.float32))


def test_the_reused_grid_renders_the_same_image(tmp_path):
    from simulator.render_compiled import render_fast

    one = _hkl(tmp_path / "one.hkl", 1.0)
    cfg = parse_argv((ARGS + f" -lambda 1 -hkl {one}").split()).config
    first = render_fast(cfg, dtype="float64")
    if first is None:
        pytest.skip("no compiled kernel here")
    again = render_fast(cfg, dtype="float64")
    fastpath.GRID_CACHE.clear()
    fresh = render_fast(cfg, dtype="float64")
    assert first.image.max() > 0
    np.testing.assert_array_equal(again.image, first.image)
    np.testing.assert_array_equal(fresh.image, first.image)
