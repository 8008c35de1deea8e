"""The torch path's speed paths (simulator/kernel.py; renders here pass compiled=False, the compiled kernel has
test_simulator_compiled.py): the float32 reference split of the Miller indices, the polynomial sincg, the reused chunk
buffers, the opt-in torch.compile'd float32 kernel, and the GIL-free grid and image statistics. Each is checked
against the plain float64 computation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from simulator.argv import parse_argv
from simulator.engine import image_stats, render, trace_pixel
from simulator.kernel import _padded_grid, make_consts, sincg_poly, sincg_reduced
from simulator.setup import build_setup

CUBIC = "-cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 6.2 -detpixels 96 -distance 100"
MOSAIC = ("-cell 70 80 90 75 85 95 -misset 10 5 3 -default_F 100 -N 8 -lambda 1.5 -detpixels 96 -distance 100"
          " -mosaic 0.3 -mosaic_dom 5")


def write_hkl(path) -> str:
    rng = np.random.default_rng(2)
    lines = [f"{h} {k} {l} {20 + 80 * rng.random():.2f}" for h in range(-8, 9) for k in range(-8, 9)
             for l in range(-8, 9)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    m = a > 1e-3 * a.max()
    return float((np.abs(b - a)[m] / a[m]).max())


def cases(tmp_path) -> dict[str, list[str]]:
    hkl = write_hkl(tmp_path / "f.hkl")
    return {
        "cubic_phi10_carry": (CUBIC + " -phi 0 -osc 1 -phisteps 10 -phi0_carryover on").split(),
        "mosaic": MOSAIC.split(),
        "hkl_oversample": (CUBIC + " -phi 0 -osc 0.5 -phisteps 3 -oversample 2 -default_F 0").split()
        + ["-hkl", hkl, "-N", "4"],
    }


def test_float32_split_matches_float64(tmp_path):
    """float32 (reduced indices from the float64 reference split + polynomial sincg) stays within 1e-4 of float64
    on bright pixels (measured ~5e-6)."""
    for name, args in cases(tmp_path).items():
        cfg = parse_argv(args).config
        k = make_consts(build_setup(cfg), torch.float32, torch.device("cpu"))
        assert k.split, name
        a = render(cfg, dtype="float64", compiled=False).image
        b = render(cfg, dtype="float32", compiled=False).image
        assert max_rel(a, b) <= 1e-4, name


def test_chunk_buffers_do_not_change_the_image(tmp_path):
    """Reused buffers across chunks of different sizes (the last one is short): the image of one chunk; bit for bit
    in float64, to float32 rounding in float32 (BLAS may block a float32 product differently for another width)."""
    for dtype in ("float32", "float64"):
        for name, args in cases(tmp_path).items():
            cfg = parse_argv(args).config
            one = render(cfg, dtype=dtype, budget=1 << 26, compiled=False)
            many = render(cfg, dtype=dtype, budget=7919, compiled=False)
            assert many.meta["chunks"] > 3
            if dtype == "float64":
                np.testing.assert_array_equal(one.image, many.image, err_msg=name)
            else:
                np.testing.assert_allclose(many.image, one.image, rtol=2e-6, err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trace_matches_render_on_hkl_and_mosaic(tmp_path, dtype):
    """Decisions D4 on the speed paths: the traced pixel value equals the rendered one."""
    for name in ("mosaic", "hkl_oversample"):
        cfg = parse_argv(cases(tmp_path)[name]).config
        img = render(cfg, dtype=dtype).image
        s, f = np.unravel_index(int(np.argmax(img)), img.shape)
        tr = trace_pixel(cfg, int(s), int(f), dtype=dtype)
        assert tr.scalar("floatimage_accumulated") == pytest.approx(float(img[s, f]), rel=1e-6), name


def test_sincg_poly_matches_sine_form():
    """The float32 polynomial sincg (with its sign) against sin(N pi h)/sin(pi h) in float64."""
    rng = np.random.default_rng(0)
    h = np.concatenate([rng.uniform(-60, 60, 4000), np.arange(-5, 6, dtype=float), [0.5, -0.5, 2.5, 1e-6]])
    for n in (1, 2, 5, 8, 29, 100):
        h0 = np.ceil(h - 0.5)
        frac = torch.tensor(np.stack([h - h0] * 3, -1), dtype=torch.float32)
        h0t = torch.tensor(np.stack([h0] * 3, -1), dtype=torch.float32)

        class K:
            nvec = torch.tensor([float(n)] * 3, dtype=torch.float32)
        got = sincg_poly(K, frac.clone(), h0t, True)[:, 0].double().numpy()
        ref = sincg_reduced(torch.tensor(h - h0)[:, None], torch.tensor(h0)[:, None],
                            torch.tensor([float(n)]), True)[:, 0].numpy()
        big = np.abs(ref) > 1e-2 * n
        assert np.all(np.sign(got[big]) == np.sign(ref[big])), n
        assert np.max(np.abs(got - ref) / n) <= 2e-5 * max(1, n / 10), n


def test_padded_grid_leaves_the_file_grid_alone(tmp_path):
    """The torch-built F^2 grid: F^2 at the file's indices, default_F^2 elsewhere, and setup.hkl.grid stays F."""
    cfg = parse_argv(cases(tmp_path)["hkl_oversample"] + ["-default_F", "3"]).config
    setup = build_setup(cfg)
    before = setup.hkl.grid.copy()
    flat, strides, off = _padded_grid(setup, torch.float64, torch.device("cpu"))
    np.testing.assert_array_equal(setup.hkl.grid, before)
    hk = setup.hkl
    for h, k, l in [(0, 0, 0), (3, -2, 8), (-8, -8, -8)]:
        idx = int(h * strides[0] + k * strides[1] + l * strides[2] + off)
        assert float(flat[idx]) == hk.lookup(h, k, l) ** 2
    idx = int(30 * strides[0] + off)
    assert float(flat[idx]) == 9.0


def test_image_stats_match_numpy():
    """image_stats (torch, GIL-free) against the numpy formulas of spec 7.4, with a mask and an ROI."""
    cfg = parse_argv(CUBIC.split()).config
    setup = build_setup(cfg)
    rng = np.random.default_rng(3)
    img = rng.random((96, 96)).astype(np.float32)
    img[40, 50] = 7.0
    img[60, 10] = 7.0
    setup.roi = (5, 90, 3, 80)
    mask = np.ones((96, 96), bool)
    mask[10:20, :] = False
    for m in (None, mask):
        setup.mask = m
        st = image_stats(img, setup)
        roi = img[3:81, 5:91].astype(np.float64)
        rendered = roi if m is None else roi[m[3:81, 5:91]]
        n = rendered.size
        mean = rendered.sum() / n
        assert st["n"] == n and st["max_I"] == 7.0
        assert st["mean"] == pytest.approx(mean, rel=1e-12)
        assert st["rms"] == pytest.approx(math.sqrt((rendered ** 2).sum() / (n - 1)), rel=1e-12)
        assert st["rmsd"] == pytest.approx(math.sqrt(((roi - mean) ** 2).sum() / (n - 1)), rel=1e-12)
        assert st["max_S"] == pytest.approx(setup.geometry.px * 40.5)      # first maximum in raster order


def _compile_works() -> bool:
    try:
        torch.compile(lambda x: x * 2 + 1, dynamic=True)(torch.ones(4))
        return True
    except Exception:       # no C++ compiler / inductor backend on this machine
        return False


@pytest.mark.skipif(not _compile_works(), reason="torch.compile has no working backend here")
def test_fused_float32_matches_eager(tmp_path):
    """The opt-in torch.compile'd float32 kernel (render(fused=True)) agrees with the eager float32 path, also on
    the carry-over's first path and with an HKL grid."""
    for name in ("cubic_phi10_carry", "hkl_oversample"):
        cfg = parse_argv(cases(tmp_path)[name]).config
        eager = render(cfg, dtype="float32", compiled=False)
        fused = render(cfg, dtype="float32", fused=True, compiled=False)
        assert fused.meta["fused"] and not eager.meta["fused"]
        assert max_rel(eager.image, fused.image) <= 1e-5, name
        assert fused.image[0, 0] == pytest.approx(eager.image[0, 0], rel=1e-5)
