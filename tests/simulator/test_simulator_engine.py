"""render() and trace_pixel() of the PyTorch engine: API behaviour, dtypes, chunking, progress, cancellation and
trace/render agreement (decisions D4)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from simulator.config import ConfigError, NanoBraggConfig
from simulator.engine import format_trace, render, trace_pixel
from tracing.records import Cancelled


def cubic(n: int = 64, **sampling) -> NanoBraggConfig:
    """-cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 6.2 -detpixels n -distance 100 (+ sampling)."""
    c = NanoBraggConfig()
    c.crystal.cell = (100, 100, 100, 90, 90, 90)
    c.crystal.default_F = 100
    c.crystal.Na = c.crystal.Nb = c.crystal.Nc = 5
    c.beam.lambda_A = 6.2
    c.detector.fpixels = c.detector.spixels = n
    for k, v in sampling.items():
        setattr(c.sampling, k, v)
    return c


def test_brightest_pixel_of_the_direct_beam_spot():
    """At the direct beam (h = k = l = 0 for every tick of a 1-step run) F_latt = 5^3, so
    I = F^2 F_latt^2 = 100^2 * 125^2; S = r_e^2 * fluence * I * omega * polar with omega = px^2/R^2 * close/R and
    polar = 1/2 (1 + cos^2 2theta). The MOSFLM beam centre of a 64^2 detector is Fbeam = Sbeam = 3.3 mm, one
    pixel past the centre, so pixel (32, 32) at (3.25, 3.25) mm is nearest: evaluate the formula there."""
    r = render(cubic(64))
    px, d = 1e-4, 0.1
    # pix0 + Fdet f + Sdet s = [0.1, 3.3 mm, -3.3 mm] + 3.25 mm [0, 0, 1] + 3.25 mm [0, -1, 0]
    pos = np.array([d, 3.3e-3 - 3.25e-3, 3.25e-3 - 3.3e-3])
    R = np.linalg.norm(pos)
    dvec = pos / R
    q = (dvec - np.array([1.0, 0, 0])) / 6.2e-10
    a = 100e-10
    hkl = q * a
    f = [np.sin(5 * np.pi * h) / np.sin(np.pi * h) for h in hkl]
    I = 100.0 ** 2 * np.prod(f) ** 2
    omega = px * px / R ** 2 * (0.1 / R)
    polar = 0.5 * (1 + dvec[0] ** 2)
    S = 7.94079248018965e-30 * 125932015286227086360700780544.0 * I * omega * polar
    assert r.image[32, 32] == pytest.approx(S, rel=1e-6)
    assert r.image.dtype == np.float32 and r.image.shape == (64, 64)
    assert r.engine == "torch" and r.meta["steps"] == 1 and r.meta["dtype"] == "float64"


def test_float32_agrees_with_float64():
    """Parity target for float32 (issue): correlation >= 0.99999, max relative error <= 1e-3 on bright pixels."""
    cfg = cubic(96, phi_deg=0.0, osc_deg=1.0, phisteps=4)
    a = render(cfg, dtype="float64").image.astype(np.float64)
    b = render(cfg, dtype="float32").image.astype(np.float64)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] >= 0.99999
    m = a > 1e-3 * a.max()
    assert (np.abs(b - a)[m] / a[m]).max() <= 1e-3


def test_chunking_does_not_change_the_image():
    """Chunks are independent: a tiny element budget (many chunks) gives the same image as one chunk."""
    cfg = cubic(40, phi_deg=0.0, osc_deg=1.0, phisteps=3, phi0_carryover=True)
    one = render(cfg)
    many = render(cfg, budget=300)
    assert many.meta["chunks"] > 10
    np.testing.assert_array_equal(one.image, many.image)


def test_progress_called_per_chunk_and_cancel():
    cfg = cubic(32)
    seen: list[float] = []
    r = render(cfg, progress=seen.append, budget=3 * 32 * 4)
    assert len(seen) == r.meta["chunks"] == 8 and seen[-1] == 1.0 and seen == sorted(seen)
    ev = threading.Event()

    def stop_after_two(frac: float) -> None:
        if frac >= 2 / 8:
            ev.set()
    with pytest.raises(Cancelled):
        render(cfg, progress=stop_after_two, cancel=ev, budget=3 * 32 * 4)


def test_roi_outside_is_zero():
    """Spec 7.4: pixels outside -roi (inclusive bounds) are never rendered."""
    cfg = cubic(48)
    cfg.output.roi = (10, 20, 5, 30)
    img = render(cfg).image
    inside = np.zeros_like(img, dtype=bool)
    inside[5:31, 10:21] = True
    assert np.all(img[~inside] == 0) and np.all(img[inside] > 0)


def test_steps_normalisation_with_oversample_and_phi():
    """Spec 7.1: steps = N_src * N_mos * phisteps * oversample^2; two identical phi ticks (phistep 0)
    give the single-tick image (AT-SAM-001)."""
    one = render(cubic(32, oversample=2))
    two = render(cubic(32, oversample=2, phisteps=2, osc_deg=0.0, phistep_deg=0.0))
    assert two.meta["steps"] == 2 * 4 and one.meta["steps"] == 4
    np.testing.assert_allclose(two.image, one.image, rtol=1e-6)


@pytest.mark.parametrize("carry", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_trace_equals_render(carry, dtype):
    """Decisions D4: the traced floatimage_accumulated equals the image at that pixel, also for the run's first
    pixel, whose first path sees the unrotated lattice under the carry-over."""
    cfg = cubic(24, phi_deg=0.0, osc_deg=3.0, phisteps=3, oversample=2, phi0_carryover=carry)
    cfg.output.roi = (2, 20, 3, 22)
    img = render(cfg, dtype=dtype).image
    for s, f in [(3, 2), (12, 11), (22, 20)]:
        tr = trace_pixel(cfg, s, f, dtype=dtype)
        assert tr.scalar("floatimage_accumulated") == pytest.approx(float(img[s, f]), rel=1e-6)
        assert len(tr.paths()) == 4 and len(tr.samples) == 4 * 3
    tr = trace_pixel(cfg, 0, 0, dtype=dtype)
    assert tr.scalar("floatimage_accumulated") == 0.0 and tr.notes


def test_carryover_first_path_only_sees_unrotated_lattice():
    """Under the carry-over, tick 0 of the run's first path uses the unrotated lattice (k equals a fresh run's
    k at tick 0); every other path's tick 0 repeats its last tick."""
    cfg = cubic(16, phi_deg=0.0, osc_deg=3.0, phisteps=3, oversample=2, phi0_carryover=True)
    fresh = cubic(16, phi_deg=0.0, osc_deg=3.0, phisteps=3, oversample=2, phi0_carryover=False)
    tr, tf = trace_pixel(cfg, 0, 0), trace_pixel(fresh, 0, 0)
    paths = tr.paths()
    first, second = tr.series(paths[0]), tr.series(paths[1])
    assert first[0].get("k_frac") == tf.series(paths[0])[0].get("k_frac")
    assert second[0].get("k_frac") == second[2].get("k_frac")
    assert second[0].get("k_frac") != tf.series(paths[1])[0].get("k_frac")


def test_format_trace_lines():
    cfg = cubic(16, phi_deg=0.0, osc_deg=1.0, phisteps=2)
    text = format_trace(trace_pixel(cfg, 8, 8))
    lines = text.splitlines()
    assert lines[0].startswith("TRACE_PY: pix0_vector_meters ")
    assert any(ln.startswith("TRACE_PY: hkl_rounded ") and "." not in ln.split(" ", 2)[2] for ln in lines)
    phi = [ln for ln in lines if ln.startswith("TRACE_PY_PHI ")]
    assert len(phi) == 2
    keys = [kv.split("=")[0] for kv in phi[0].split()[1:]]
    assert keys == ["phi_tic", "phi_deg", "k_frac", "F_latt_b", "F_latt", "h_frac", "l_frac", "h0", "k0", "l0",
                    "F_latt_a", "F_latt_c", "F_cell", "I_contrib", "layer", "sub_s", "sub_f", "src", "mos",
                    "lambda_A", "capture", "polar"]
    assert lines.index(next(ln for ln in lines if ln.startswith("TRACE_PY: floatimage_accumulated"))) < \
        lines.index(phi[0])


def test_bad_dtype_and_interpolation_are_config_errors():
    with pytest.raises(ConfigError, match="dtype"):
        render(cubic(8), dtype="float16")
    cfg = cubic(8)
    cfg.crystal.interpolate = True
    render(cfg)   # no HKL file: interpolation is off whatever the flag says (spec 5.4)


def test_interpolation_switch_off_is_run_wide(tmp_path):
    """Spec 5.4: with interpolation on (auto: N <= 2 and an HKL file), the first out-of-range evaluation in loop
    order switches it off for the rest of the run; traces of pixels before and after that point still equal the
    image (decisions D4), and the log carries the C's two warning lines."""
    lines = [f"{h} {k} {l} {10 + (h * 7 + k * 3 + l) % 11}" for h in range(-6, 7) for k in range(-6, 7)
             for l in range(-6, 7)]
    (tmp_path / "f.hkl").write_text("\n".join(lines) + "\n")
    cfg = cubic(96)
    cfg.crystal.Na = cfg.crystal.Nb = cfg.crystal.Nc = 2
    cfg.crystal.hkl_file = str(tmp_path / "f.hkl")
    cfg.beam.lambda_A = 1.0
    cfg.detector.distance_mm = 80
    r = render(cfg)
    assert "WARNING: out of range for three point interpolation" in r.log
    for s, f in [(0, 0), (5, 90), (48, 48), (95, 95)]:
        tr = trace_pixel(cfg, s, f)
        assert tr.scalar("floatimage_accumulated") == pytest.approx(float(r.image[s, f]), rel=1e-6)
