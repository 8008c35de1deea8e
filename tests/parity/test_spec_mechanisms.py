"""Spec-derived checks of the mechanisms behind the newer flags, on both engines (C reference and PyTorch).

Every expected figure here is computed from the formulas of shared/spec/nanobragg.md, not from either engine's
output: detector capture fractions (§3.13), the generated source grid (§6.1, §6.2), tricubic interpolation of F
(§5.4), the three Poisson regimes of the noise image (§9.4, decisions D2), the int/PGM/SMV bytes (§9.3, §9.5, §10.3,
§10.4), the -dump cache layout (§5.2) and the per-φ trace fields lambda_A / capture / polar (§7.1).
"""
from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from c_reference.driver import trace_c
from simulator.argv import parse_argv
from simulator.engine import render, trace_pixel
from tracing.parse import parse_trace

# ----------------------------------------------------------------------------------------------------- helpers


def run_c(c_binary: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The C reference in `cwd` (it writes intimage.img/image.pgm there unless redirected); must succeed."""
    p = subprocess.run([str(c_binary), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return p


def run_torch_cli(args: list[str], cwd: Path, monkeypatch, capsys) -> str:
    """`python -m simulator args` in-process in `cwd`; returns stdout; must exit 0."""
    from simulator.cli import main

    monkeypatch.chdir(cwd)
    rc = main(list(args))
    out = capsys.readouterr()
    assert rc == 0, out.err[-2000:]
    return out.out


def cfg(args: list[str]):
    return parse_argv(list(args)).config


def rodrigues(v: np.ndarray, axis: np.ndarray, phi: float) -> np.ndarray:
    """Right-handed rotation of v about the unit axis by phi (rad)."""
    c, s = math.cos(phi), math.sin(phi)
    return v * c + np.cross(axis, v) * s + axis * np.dot(axis, v) * (1 - c)


def smv_split(raw: bytes) -> tuple[str, np.ndarray]:
    head = raw[:512].decode("ascii")
    return head, np.frombuffer(raw[512:], dtype="<u2")


# ------------------------------------------------------------------------------------------- §3.13 capture

# 16 x 16 pixels of 0.1 mm, the direct beam on the centre of pixel (8, 8) (MOSFLM: Fbeam = Ybeam + px/2), so that
# pixel's ray is along the detector normal (rho = d.o = 1 at every layer) and q = 0 there.
CAP_BASE = ["-cell", "100", "100", "100", "90", "90", "90", "-N", "3", "-default_F", "10", "-lambda", "1",
            "-detpixels", "16", "-pixel", "0.1", "-distance", "50", "-Xbeam", "0.8", "-Ybeam", "0.8",
            "-oversample", "1", "-nopolar"]
CAP_PX = (8, 8)
THICK_UM, LAYERS, ABS_UM = 300.0, 4, 200.0
CAP_THICK = ["-detector_thick", str(THICK_UM), "-detector_thicksteps", str(LAYERS), "-detector_abs", str(ABS_UM)]


def capture(t: int, delta: float, mu: float, rho: float) -> float:
    """Spec §3.13: cap_t = exp(-t*D*mu/rho) - exp(-(t+1)*D*mu/rho)."""
    return math.exp(-t * delta * mu / rho) - math.exp(-(t + 1) * delta * mu / rho)


def test_capture_fraction_last_layer_and_sum_rule(c_binary):
    """thick and N given: D = thick/(N-1); the traced capture_fraction is the last layer's; the per-layer capture
    of the per-phi lines sums to 1 - exp(-N*D*mu/rho) (one layer more than the nominal thickness)."""
    delta, mu = THICK_UM * 1e-6 / (LAYERS - 1), 1.0 / (ABS_UM * 1e-6)
    caps = [capture(t, delta, mu, 1.0) for t in range(LAYERS)]
    assert sum(caps) == pytest.approx(1 - math.exp(-LAYERS * delta * mu), rel=1e-12)   # the formula itself
    args = CAP_BASE + CAP_THICK
    for tr in (trace_c(args, *CAP_PX, binary=c_binary), trace_pixel(cfg(args), *CAP_PX)):
        assert tr.scalars["capture_fraction"][0] == pytest.approx(caps[-1], rel=1e-9), tr.engine
        per_layer = {}
        for smp in tr.samples:
            per_layer.setdefault(smp.path.layer, set()).add(round(smp.values["capture"], 15))
        assert sorted(per_layer) == list(range(LAYERS)), tr.engine
        got = [per_layer[t].pop() for t in range(LAYERS)]
        assert got == pytest.approx(caps, rel=1e-9), tr.engine
        assert sum(got) == pytest.approx(1 - math.exp(-LAYERS * delta * mu), rel=1e-9), tr.engine


def test_capture_fraction_off_axis_pixel(c_binary):
    """At an off-axis pixel rho = d.o of the last layer's ray: P = P_0 + t*D*o (o = +x in MOSFLM, spec §3.3)."""
    delta, mu = THICK_UM * 1e-6 / (LAYERS - 1), 1.0 / (ABS_UM * 1e-6)
    args = CAP_BASE + CAP_THICK
    s, f = 1, 14
    for tr in (trace_c(args, s, f, binary=c_binary), trace_pixel(cfg(args), s, f)):
        p0 = np.asarray(tr.scalars_all["pixel_pos_meters"][0])          # layer 0, first sub-pixel
        p_last = p0 + (LAYERS - 1) * delta * np.array([1.0, 0.0, 0.0])
        rho = p_last[0] / np.linalg.norm(p_last)
        assert rho < 0.9999                                               # really off-axis
        assert tr.scalars["capture_fraction"][0] == pytest.approx(capture(LAYERS - 1, delta, mu, rho), rel=1e-9)


def test_capture_only_thick_given(c_binary):
    """Only -detector_thick: N = 2, D = thick/2, mu = 1/thick (spec §3.13): last layer e^-0.5 - e^-1."""
    args = CAP_BASE + ["-detector_thick", "100"]
    want = math.exp(-0.5) - math.exp(-1.0)
    for tr in (trace_c(args, *CAP_PX, binary=c_binary), trace_pixel(cfg(args), *CAP_PX)):
        assert tr.scalars["capture_fraction"][0] == pytest.approx(want, rel=1e-9), tr.engine
        assert {smp.path.layer for smp in tr.samples} == {0, 1}, tr.engine


def test_capture_in_the_image(c_binary, tmp_path, monkeypatch, capsys):
    """At the on-axis pixel every layer adds the same term, so (spec §7.1, §7.3):
    without -oversample_thick  S_thick / S_thin = N * cap_last      (layers summed, not averaged);
    with -oversample_thick     S_thick / S_thin = sum_t prod_{u>=t} cap_u   (running-sum product)."""
    delta, mu = THICK_UM * 1e-6 / (LAYERS - 1), 1.0 / (ABS_UM * 1e-6)
    caps = [capture(t, delta, mu, 1.0) for t in range(LAYERS)]
    want_plain = LAYERS * caps[-1]
    want_over = sum(math.prod(caps[t:]) for t in range(LAYERS))
    s, f = CAP_PX
    for label, extra, want in (("plain", [], want_plain), ("oversample_thick", ["-oversample_thick"], want_over)):
        for engine in ("c", "torch"):
            imgs = []
            for a in (CAP_BASE, CAP_BASE + CAP_THICK + extra):
                a = a + ["-roi", str(f), str(f), str(s), str(s)]
                if engine == "c":
                    run_c(c_binary, a + ["-floatfile", "f.bin", "-nonoise", "-nopgm"], tmp_path)
                    imgs.append(np.fromfile(tmp_path / "f.bin", "<f4").reshape(16, 16)[s, f])
                else:
                    imgs.append(render(cfg(a)).image[s, f])
            assert imgs[1] / imgs[0] == pytest.approx(want, rel=1e-6), (label, engine)


# ---------------------------------------------------------------------------------------------- §6.2 sources

SRC_BASE = ["-cell", "100", "100", "100", "90", "90", "90", "-N", "2", "-default_F", "10", "-lambda", "1",
            "-detpixels", "4", "-pixel", "0.1", "-distance", "100", "-oversample", "1", "-nonoise", "-nopgm"]
B = np.array([1.0, 0.0, 0.0])          # MOSFLM beam (spec §3.3)
P = np.array([0.0, 0.0, 1.0])          # MOSFLM polarisation axis
V = np.cross(B, P) / np.linalg.norm(np.cross(B, P))


def expected_sources(hs, hr, hst, vs, vr, vst, round_div=True, lambdas=(1e-10,)):
    """Spec §6.2 verbatim (ranges/steps in rad): list of (unit sample->source vector, lambda)."""
    out = []
    for hi in range(hs):
        for vi in range(vs):
            hdiv = hst * hi - hr / 2.0
            vdiv = vst * vi - vr / 2.0
            with np.errstate(invalid="ignore", divide="ignore"):
                T = (np.float64(hdiv ** 2 - hst ** 2 / 4 * (1 - hs % 2)) / np.float64(hr ** 2)
                     + np.float64(vdiv ** 2 - vst ** 2 / 4 * (1 - vs % 2)) / np.float64(vr ** 2))
            if round_div and 4 * T > 1.1:
                continue
            d = rodrigues(rodrigues(-10.0 * B, P, vdiv), V, hdiv)
            out += [(d / np.linalg.norm(d), lam) for lam in lambdas]
    return out


def c_sources(stdout: str) -> list[tuple[np.ndarray, float]]:
    """The C's `created a total of N sources:` block: N lines `X Y Z   weight lambda` (%g)."""
    m = re.search(r"created a total of (\d+) sources:\n", stdout)
    assert m, "no source block"
    lines = stdout[m.end():].splitlines()[:int(m.group(1))]
    out = []
    for ln in lines:
        x, y, z, _w, lam = (float(t) for t in ln.split())
        d = np.array([x, y, z])
        out.append((d / np.linalg.norm(d), lam))
    return out


def check_sources(got, want, tol):
    assert len(got) == len(want)
    for (dg, lg), (dw, lw) in zip(got, want, strict=True):
        np.testing.assert_allclose(dg, dw, rtol=0, atol=tol)
        assert lg == pytest.approx(lw, rel=1e-5)


@pytest.mark.parametrize("name, extra, grid, round_div, n_want", [
    # -divergence X alone: range X, step X, 2 steps per axis -> the 4 corners, all inside the ellipse test.
    ("divergence", ["-divergence", "0.5"], (2, 5e-4, 5e-4, 2, 5e-4, 5e-4), True, 4),
    # 0.28/0.02 mrad: ceil((0.28/1000)/(0.02/1000)) = 14 per axis (the mrad ratio would ceil to 15), then the
    # elliptical cut; -square_div keeps all 14 x 14.
    ("round", ["-hdivrange", "0.28", "-hdivstep", "0.02", "-vdivrange", "0.28", "-vdivstep", "0.02"],
     (14, 0.28e-3, 0.02e-3, 14, 0.28e-3, 0.02e-3), True, None),
    ("square", ["-hdivrange", "0.28", "-hdivstep", "0.02", "-vdivrange", "0.28", "-vdivstep", "0.02",
                "-square_div"], (14, 0.28e-3, 0.02e-3, 14, 0.28e-3, 0.02e-3), False, 196),
    # odd counts: range/(count-1) steps, centred grid, no quarter-step correction
    ("odd", ["-hdivrange", "1", "-hdivsteps", "5", "-vdivrange", "0.6", "-vdivsteps", "3"],
     (5, 1e-3, 0.25e-3, 3, 0.6e-3, 0.3e-3), True, None),
])
def test_source_grid(c_binary, tmp_path, name, extra, grid, round_div, n_want):
    assert math.ceil(0.28 / 0.02) == 15 and math.ceil((0.28 / 1000) / (0.02 / 1000)) == 14   # the §6.2 trap
    hs, hr, hst, vs, vr, vst = grid
    # compute the grid from the mrad values the way the flags give them (mrad -> rad first)
    want = expected_sources(hs, hr, hst, vs, vr, vst, round_div)
    if n_want is not None:
        assert len(want) == n_want
    if name == "round":
        assert 4 < len(want) < 196                      # the ellipse really cuts
    if name == "divergence":                            # the 4 corners +-X/2 about both axes
        assert all(abs(abs(d[2]) - math.sin(2.5e-4)) < 1e-9 for d, _ in want)
    p = run_c(c_binary, SRC_BASE + extra, tmp_path)
    check_sources(c_sources(p.stdout), want, 2e-6)       # %g: 6 significant digits of a length-10 vector
    devs = re.findall(r"divergence deviation: (\S+) (\S+)", p.stdout)
    assert len(devs) == len(want)
    beam = __import__("simulator.setup", fromlist=["build_setup"]).build_setup(cfg(SRC_BASE + extra)).beam
    torch_src = [(-i, lam) for i, lam in zip(beam.incident, beam.lambdas, strict=True)]
    check_sources(torch_src, want, 1e-12)


def test_source_grid_with_dispersion(c_binary, tmp_path):
    """-dispersion 10 -dispsteps 3: step = 0.1/2, lambda = l0*(1 + step*i - 0.05) = 0.95, 1.00, 1.05 A per direction."""
    extra = ["-divergence", "0.5", "-dispersion", "10", "-dispsteps", "3"]
    lams = tuple(1e-10 * (1 + 0.05 * i - 0.05) for i in range(3))
    want = expected_sources(2, 5e-4, 5e-4, 2, 5e-4, 5e-4, True, lams)
    p = run_c(c_binary, SRC_BASE + extra, tmp_path)
    check_sources(c_sources(p.stdout), want, 2e-6)
    from simulator.setup import build_setup
    beam = build_setup(cfg(SRC_BASE + extra)).beam
    check_sources([(-i, lam) for i, lam in zip(beam.incident, beam.lambdas, strict=True)], want, 1e-12)


# ------------------------------------------------------------------------------------ §5.4 tricubic on cubics

def poly(h, k, l):  # noqa: E741 - the Miller index
    """Degree <= 3 in each index separately: reproduced exactly by tensor-product cubic Lagrange interpolation."""
    return (100 + 3 * h - 2 * k + l + 0.5 * h * k - 0.25 * k * l + 0.1 * h * l + 0.05 * h ** 3
            - 0.02 * k ** 2 * l + 0.01 * h * k * l - 0.03 * l ** 3 + 0.004 * h ** 3 * k ** 2 * l ** 3)


def test_tricubic_reproduces_a_cubic_polynomial(c_binary, tmp_path):
    hkl = tmp_path / "poly.hkl"
    rng = range(-5, 6)
    hkl.write_text("".join(f"{h} {k} {l} {poly(h, k, l)!r}\n" for h in rng for k in rng for l in rng))  # noqa: E741
    args = ["-cell", "60", "70", "80", "90", "90", "90", "-misset", "10", "20", "30", "-N", "2", "-hkl", str(hkl),
            "-interpolate", "-lambda", "1", "-detpixels", "16", "-pixel", "0.1", "-distance", "40",
            "-oversample", "1", "-phi", "0", "-osc", "20", "-phisteps", "4", "-mosaic", "0.5", "-mosaic_dom", "2"]
    # every evaluation of the image stays inside h_min+2 <= h <= h_max-2, so interpolation is never switched off
    full = run_c(c_binary, args + ["-nonoise", "-nopgm"], tmp_path)
    assert "out of range" not in full.stdout
    for tr in (trace_c(args, 3, 12, binary=c_binary), trace_pixel(cfg(args), 3, 12)):
        assert len(tr.samples) == 8, tr.engine
        fracs = 0
        for smp in tr.samples:
            h, k, l = (smp.values[x] for x in ("h_frac", "k_frac", "l_frac"))  # noqa: E741
            assert all(-3 <= x <= 3 for x in (h, k, l))                          # inside the interpolation range
            fracs += any(abs(x - round(x)) > 0.05 for x in (h, k, l))
            assert smp.values["F_cell"] == pytest.approx(poly(h, k, l), rel=1e-10, abs=1e-10), (tr.engine, h, k, l)
        assert fracs == len(tr.samples)                                          # really between grid points


def test_interpolation_switch_off_reaches_the_trace(c_binary, tmp_path):
    """With 0.2 mm pixels some evaluations leave h_min+2..h_max-2, so the C switches interpolation off for the rest
    of the run (spec 5.4). A later pixel's trace must report what the image used (decisions D4): nearest-neighbour
    F_cell on grid values, and the image's value, on both engines."""
    from c_reference.driver import run_c as driver_run_c

    hkl = tmp_path / "poly.hkl"
    rng = range(-5, 6)
    hkl.write_text("".join(f"{h} {k} {l} {poly(h, k, l)!r}\n" for h in rng for k in rng for l in rng))  # noqa: E741
    args = ["-cell", "60", "70", "80", "90", "90", "90", "-misset", "10", "20", "30", "-N", "2", "-hkl", str(hkl),
            "-interpolate", "-lambda", "1", "-detpixels", "16", "-pixel", "0.2", "-distance", "40",
            "-oversample", "1", "-phi", "0", "-osc", "20", "-phisteps", "4", "-mosaic", "0.5", "-mosaic_dom", "2"]
    full = driver_run_c(args, binary=c_binary)
    assert "out of range for three point interpolation" in full.stdout
    timg = render(cfg(args)).image
    s, f = 3, 12
    for tr, img in ((trace_c(args, s, f, binary=c_binary), full.image), (trace_pixel(cfg(args), s, f), timg)):
        assert tr.scalars["floatimage_accumulated"][0] == pytest.approx(float(img[s, f]), rel=1e-6), tr.engine
        for smp in tr.samples:
            h0, k0, l0 = (int(smp.values[x]) for x in ("h0", "k0", "l0"))
            assert smp.values["F_cell"] == pytest.approx(poly(h0, k0, l0), rel=1e-12), tr.engine


# ----------------------------------------------------------------------------------------- §9.4 Poisson noise

# A flat image: N = 1 (F_latt = 1 everywhere), F = 1, no polarisation, 1 m away with 0.1 mm pixels:
# mean = r_e^2 * fluence * omega, omega ~ 1e-8 sr, so fluence = mean / 7.94e-38 for a mean of `mean`.
R_E2 = 7.94079248018965e-30


def flat_args(mean: float, pixels: int) -> list[str]:
    return ["-cell", "10", "10", "10", "90", "90", "90", "-N", "1", "-default_F", "1", "-nopolar", "-lambda", "1",
            "-distance", "1000", "-pixel", "0.1", "-detpixels", str(pixels), "-oversample", "1",
            "-fluence", repr(mean / (R_E2 * 1e-8)), "-nopgm"]


def c_noise(c_binary, tmp_path, mean, pixels, seed):
    p = run_c(c_binary, flat_args(mean, pixels) + ["-seed", str(seed), "-floatfile", "f.bin", "-noisefile", "n.img"],
              tmp_path)
    xm = np.fromfile(tmp_path / "f.bin", "<f4").astype(np.float64)
    _, noise = smv_split((tmp_path / "n.img").read_bytes())
    photons, overloads = re.search(r"(\d+) photons on noise image \((\d+) overloads\)", p.stdout).groups()
    return xm, noise.astype(np.float64) - 40.0, float(photons), int(overloads), (tmp_path / "n.img").read_bytes()


def assert_poisson(n: np.ndarray, xm: np.ndarray, label: str) -> None:
    """Standardised residuals z = (n - xm)/sqrt(xm): mean 0 within 5/sqrt(M), variance 1 within 5*sqrt(2/M)
    (5 standard errors; the seeds are fixed, so each check is deterministic, not flaky)."""
    z = (n - xm) / np.sqrt(xm)
    M = z.size
    assert abs(z.mean()) < 5 / math.sqrt(M), (label, z.mean())
    assert abs(z.var(ddof=1) - 1) < 5 * math.sqrt(2 / M), (label, z.var(ddof=1))


@pytest.mark.parametrize("mean", [5.0, 1000.0])
def test_noise_regimes_small_and_medium_c(c_binary, tmp_path, mean):
    """Means < 12 (product of uniforms) and 12..1e6 (rejection): Poisson mean and variance, 64 x 64 pixels."""
    xm, n, photons, overloads, _ = c_noise(c_binary, tmp_path, mean, 64, 7)
    assert xm.min() > 0.98 * mean and xm.max() < 1.02 * mean                # flat
    assert np.all(n == np.round(n)) and overloads == 0
    assert photons == n.sum()
    assert_poisson(n, xm, f"C mean {mean}")


def test_noise_regime_large_c(c_binary, tmp_path):
    """Mean > 1e6: xm + sqrt(xm)*gauss, unrounded, always an overload in the image; the photon count (before the
    clamp) over 80 one-pixel runs has mean xm and variance xm."""
    mean, K = 4e6, 80
    samples, xm0 = [], None
    for seed in range(1, K + 1):
        xm, n, photons, overloads, _ = c_noise(c_binary, tmp_path, mean, 1, seed)
        assert overloads == 1 and n[0] == 65535 - 40
        samples.append(photons)
        xm0 = xm[0]
    s = np.asarray(samples)
    assert abs(s.mean() - xm0) < 5 * math.sqrt(xm0 / K)
    assert abs(s.var(ddof=1) / xm0 - 1) < 5 * math.sqrt(2 / (K - 1))


def test_noise_same_seed_bit_identical_c(c_binary, tmp_path):
    a = c_noise(c_binary, tmp_path, 50.0, 16, 11)[4]
    b = c_noise(c_binary, tmp_path, 50.0, 16, 11)[4]
    c = c_noise(c_binary, tmp_path, 50.0, 16, 12)[4]
    assert a == b and a != c and a[:512] == c[:512]


@pytest.mark.parametrize("mean", [5.0, 1000.0, 4e6])
def test_noise_regimes_torch(mean):
    """simulator.noise over a flat 200 x 200 image (and, above 1e6, 400 one-pixel draws of the photon count)."""
    from simulator.noise import noise_image

    img = np.full((200, 200), mean, dtype=np.float32)
    roi = (0, 199, 0, 199)
    out, photons, overloads = noise_image(img, roi, 40.0, 5)
    if mean < 1e6:
        n = out.astype(np.float64) - 40.0
        assert overloads == 0 and photons == n.sum()
        assert_poisson(n, img.astype(np.float64), f"torch mean {mean}")
    else:
        assert overloads == img.size and np.all(out == 65535)
        s = np.array([noise_image(img[:1, :1], (0, 0, 0, 0), 40.0, seed)[1] for seed in range(400)])
        assert abs(s.mean() - mean) < 5 * math.sqrt(mean / 400)
        assert abs(s.var(ddof=1) / mean - 1) < 5 * math.sqrt(2 / 399)
        assert np.any(s != np.round(s))                    # unrounded, as the C's regime


def test_noise_image_torch_cli(tmp_path, monkeypatch, capsys):
    """End to end: the CLI's noise image of a flat mean-1000 image is Poisson about its own float image; the same
    -seed gives the same file."""
    args = flat_args(1000.0, 48) + ["-seed", "3", "-floatfile", "f.bin", "-noisefile", "n.img"]
    out = run_torch_cli(args, tmp_path, monkeypatch, capsys)
    xm = np.fromfile(tmp_path / "f.bin", "<f4").astype(np.float64)
    raw = (tmp_path / "n.img").read_bytes()
    n = smv_split(raw)[1].astype(np.float64) - 40.0
    assert f"{n.sum():.0f} photons on noise image (0 overloads)" in out
    assert_poisson(n, xm, "torch cli")
    run_torch_cli(args, tmp_path, monkeypatch, capsys)
    assert (tmp_path / "n.img").read_bytes() == raw


# --------------------------------------------------------------------------------- §9.3/9.5/10.3/10.4 bytes

TINY = ["-cell", "30", "30", "30", "90", "90", "90", "-N", "3", "-default_F", "100", "-lambda", "1",
        "-detpixels_x", "4", "-detpixels_y", "3", "-pixel", "1", "-distance", "20", "-Xbeam", "1.25", "-Ybeam",
        "2.5", "-oversample", "1", "-nonoise", "-floatfile", "f.bin", "-intfile", "i.img", "-pgmfile", "p.pgm"]
SMV_KEYS = ["HEADER_BYTES", "DIM", "BYTE_ORDER", "TYPE", "SIZE1", "SIZE2", "PIXEL_SIZE", "DISTANCE", "WAVELENGTH",
            "BEAM_CENTER_X", "BEAM_CENTER_Y", "ADXV_CENTER_X", "ADXV_CENTER_Y", "MOSFLM_CENTER_X", "MOSFLM_CENTER_Y",
            "DENZO_X_BEAM", "DENZO_Y_BEAM", "DIALS_ORIGIN", "XDS_ORGX", "XDS_ORGY", "CLOSE_DISTANCE", "PHI",
            "OSC_START", "OSC_RANGE", "TWOTHETA", "DETECTOR_SN", "BEAMLINE"]


def expected_files(img: np.ndarray) -> tuple[np.ndarray, bytes, float]:
    """(int image, PGM bytes, int scale) from the float image by spec §9.3, §9.5, §10.4."""
    v = img.astype(np.float64).ravel()
    scale = 55000.0 / v.max()
    ints = np.floor(np.clip(v * scale + 40.0, 0, 65535) + 0.5).astype("<u2")
    n = v.size
    mean = 0.0
    for x in v:
        mean += x
    mean /= n
    acc = 0.0
    for x in v:
        acc += (x - mean) ** 2
    pscale = 250.0 / (5.0 * math.sqrt(acc / (n - 1)))
    pg = bytes(int(min(255.0, x * pscale)) for x in v)
    head = f"P5\n{img.shape[1]} {img.shape[0]}\n# pixels scaled by {pscale:g}\n255\n".encode()
    return ints, head + pg, scale


def test_int_pgm_smv_bytes(c_binary, tmp_path, monkeypatch, capsys):
    files = {}
    for engine in ("c", "torch"):
        d = tmp_path / engine
        d.mkdir()
        if engine == "c":
            run_c(c_binary, TINY, d)
        else:
            run_torch_cli(TINY, d, monkeypatch, capsys)
        img = np.fromfile(d / "f.bin", "<f4").reshape(3, 4)
        assert img.min() > 0 and img.std() > 0
        ints, pgm, _ = expected_files(img)
        raw = (d / "i.img").read_bytes()
        assert len(raw) == 512 + 2 * 12
        head, data = smv_split(raw)
        np.testing.assert_array_equal(data, ints)
        body, _, pad = head.partition("}\f")
        assert body.startswith("{\n") and set(pad) == {" "} and len(body) + 2 + len(pad) == 512
        lines = body[2:].rstrip("\n").split("\n")
        assert [ln.split("=")[0] for ln in lines] == SMV_KEYS
        assert all(ln.endswith(";") != ln.startswith("DIALS_ORIGIN=") for ln in lines)   # DIALS_ORIGIN has no ';'
        kv = {ln.split("=")[0]: ln.split("=", 1)[1].rstrip(";") for ln in lines}
        # MOSFLM (spec §3.5): Fbeam = Ybeam + px/2, Sbeam = Xbeam + px/2 (mm here); detsize_s = 3 mm
        Fb, Sb = 2.5 + 0.5, 1.25 + 0.5
        want = {"HEADER_BYTES": "512", "DIM": "2", "BYTE_ORDER": "little_endian", "TYPE": "unsigned_short",
                "SIZE1": "4", "SIZE2": "3", "PIXEL_SIZE": "1", "DISTANCE": "20", "WAVELENGTH": "1",
                "BEAM_CENTER_X": "1.25", "BEAM_CENTER_Y": "2.5", "ADXV_CENTER_X": f"{Fb:g}",
                "ADXV_CENTER_Y": f"{3 - Sb:g}", "MOSFLM_CENTER_X": f"{Sb - 0.5:g}", "MOSFLM_CENTER_Y": f"{Fb - 0.5:g}",
                "DENZO_X_BEAM": f"{Sb:g}", "DENZO_Y_BEAM": f"{Fb:g}", "CLOSE_DISTANCE": "20", "PHI": "0",
                "OSC_START": "0", "OSC_RANGE": "0", "TWOTHETA": "0", "DETECTOR_SN": "000", "BEAMLINE": "fake"}
        assert {k: kv[k] for k in want} == want, engine
        assert re.fullmatch(r"[-+0-9.e]+,[-+0-9.e]+,[-+0-9.e]+", kv["DIALS_ORIGIN"])
        assert (d / "p.pgm").read_bytes() == pgm, engine
        files[engine] = {n: (d / n).read_bytes() for n in ("f.bin", "i.img", "p.pgm")}
    assert files["c"] == files["torch"]


# ----------------------------------------------------------------------------------------------- §5.2 -dump

def test_dump_layout_and_engines_byte_identical(c_binary, tmp_path, monkeypatch, capsys):
    hkl = tmp_path / "a.hkl"
    hkl.write_text("# h k l F\n0 0 0 10\n1 -1 2 20.5\n-1 0 1 30 0.5\n\n2 1 0 -4.25\n")
    args = ["-cell", "50", "50", "50", "90", "90", "90", "-N", "3", "-hkl", str(hkl), "-default_F", "7",
            "-detpixels", "4", "-pixel", "0.1", "-distance", "100", "-nonoise", "-nopgm", "-dump", "dump.bin"]
    (tmp_path / "c").mkdir()
    (tmp_path / "t").mkdir()
    run_c(c_binary, args, tmp_path / "c")
    out = run_torch_cli(args, tmp_path / "t", monkeypatch, capsys)
    assert "writing dump file for next time: dump.bin" in out  # upstream main's words (issue 10)
    c_raw, t_raw = (tmp_path / "c" / "dump.bin").read_bytes(), (tmp_path / "t" / "dump.bin").read_bytes()
    assert c_raw == t_raw
    # spec §5.2: header, then (h_range+1)(k_range+1)(l_range+1) native doubles, padding planes 0, default_F on
    # 0..range-1, each record at [h-h_min][k-k_min][l-l_min]
    head = b"-1 2 -1 1 0 2\n\f"
    assert c_raw.startswith(head)
    g = np.frombuffer(c_raw[len(head):], dtype="<f8")
    hr, kr, lr = 4, 3, 3
    assert g.size == (hr + 1) * (kr + 1) * (lr + 1)
    g = g.reshape(hr + 1, kr + 1, lr + 1)
    want = np.zeros_like(g)
    want[:hr, :kr, :lr] = 7.0
    for h, k, l, F in ((0, 0, 0, 10), (1, -1, 2, 20.5), (-1, 0, 1, 30), (2, 1, 0, -4.25)):  # noqa: E741
        want[h + 1, k + 1, l] = F
    np.testing.assert_array_equal(g, want)


def test_no_dump_without_the_flag(tmp_path, monkeypatch, capsys):
    hkl = tmp_path / "a.hkl"
    hkl.write_text("0 0 0 10\n")
    run_torch_cli(["-cell", "50", "50", "50", "90", "90", "90", "-hkl", str(hkl), "-detpixels", "4", "-nonoise",
                   "-nopgm"], tmp_path, monkeypatch, capsys)
    assert not (tmp_path / "Fdump.bin").exists()


# ------------------------------------------------------------------------ per-φ trace: lambda_A, capture, polar

def kahn(K, i, d, p):
    """Spec §6.4."""
    c2 = float(np.dot(i, d))
    s2 = 1 - c2 * c2
    psi = 0.0
    if K != 0:
        Bv = np.cross(p, i)
        Bv /= np.linalg.norm(Bv)
        E = np.cross(i, Bv)
        E /= np.linalg.norm(E)
        psi = -math.atan2(np.dot(d, Bv), np.dot(d, E))
    return 0.5 * (1 + c2 * c2 - K * math.cos(2 * psi) * s2)


@pytest.mark.parametrize("over_polar", [False, True])
def test_phi_trace_lambda_capture_polar(c_binary, over_polar):
    """Each per-φ line carries the source's λ (Å), the capture fraction in force (this layer's first sub-pixel) and
    the polarisation in force (the pixel's first path, or this path with -oversample_polar)."""
    args = CAP_BASE[:CAP_BASE.index("-nopolar")] + ["-polar", "0.7", "-dispersion", "10", "-dispsteps", "3",
                                                    "-detector_thick", "100", "-detector_thicksteps", "2",
                                                    "-detector_abs", "300", "-phisteps", "2", "-osc", "1"]
    if over_polar:
        args += ["-oversample_polar"]
    s, f = 2, 13
    lams = [1 + 0.05 * i - 0.05 for i in range(3)]
    delta, mu = 100e-6, 1 / 300e-6
    for tr in (trace_c(args, s, f, binary=c_binary), trace_pixel(cfg(args), s, f)):
        assert len(tr.samples) == 2 * 3 * 2, tr.engine                  # layers x sources x ticks
        p0 = np.asarray(tr.scalars_all["pixel_pos_meters"][0])
        first_polar = None
        for smp in tr.samples:
            t, src = smp.path.layer, smp.path.src
            P_t = p0 + t * delta * np.array([1.0, 0.0, 0.0])
            d = P_t / np.linalg.norm(P_t)
            assert smp.values["lambda_A"] == pytest.approx(lams[src], rel=1e-12), tr.engine
            assert smp.values["capture"] == pytest.approx(capture(t, delta, mu, d[0]), rel=1e-9), tr.engine
            pol = kahn(0.7, B, d, P)
            if first_polar is None:
                first_polar = pol
            assert smp.values["polar"] == pytest.approx(pol if over_polar else first_polar, rel=1e-9), tr.engine
        assert over_polar or tr.scalars["polar"][0] == pytest.approx(first_polar, rel=1e-9)


def test_parse_keeps_extra_phi_keys():
    text = ("TRACE_C_PHI phi_tic=0 phi_deg=0 k_frac=0.1 F_latt_b=1 F_latt=2 layer=1 sub_s=0 sub_f=0 src=2 mos=0 "
            "lambda_A=1.05 capture=0.25 polar=0.9 something_new=3\n")
    tr = parse_trace(text, "c", 0, 0)
    v = tr.samples[0].values
    assert (v["lambda_A"], v["capture"], v["polar"], v["something_new"]) == (1.05, 0.25, 0.9, 3.0)
    assert tr.samples[0].path.layer == 1 and tr.samples[0].path.src == 2
