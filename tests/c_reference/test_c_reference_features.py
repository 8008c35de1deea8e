"""Priority-2 features of the C reference engine (spec sections 3.13, 4.3, 4.7, 5.4, 6.1-6.3, 6.6, 9.4),
each checked on a tiny detector in a scratch folder."""
from __future__ import annotations

import math
import re

import numpy as np

from test_c_reference_spec import phi_lines, run, trace_value, vector_line  # noqa: F401

BASE = ("-cell 50 60 70 90 90 90 -default_F 10 -N 5 -detpixels 32 -pixel 0.4 -distance 80 -lambda 1 -nopgm -nonoise "
        "-oversample 1")


def _grid_hkl(path, n=6):
    rng = np.random.default_rng(1)
    with open(path, "w") as f:
        for h in range(-n, n + 1):
            for k in range(-n, n + 1):
                for l in range(-n, n + 1):
                    f.write(f"{h} {k} {l} {rng.uniform(1, 100):.2f}\n")


def test_interpolation_switch_off_is_deterministic(c_binary, tmp_path):
    """Spec 5.4: tricubic interpolation until the first out-of-range evaluation, which prints the warning once
    and switches interpolation off for the rest of the run (raster order).  Our engine makes that point
    independent of the thread count: pixels before it differ from the nearest-neighbour image, pixels after
    it equal it, and 1 and 2 threads give the same bytes."""
    _grid_hkl(tmp_path / "g.hkl")
    base = ("-cell 30 30 30 90 90 90 -hkl g.hkl -N 2 -detpixels 64 -pixel 0.5 -distance 100 -lambda 1.5 "
            "-nopgm -nonoise -oversample 1 -Xbeam 1 -Ybeam 16")
    p = run(c_binary, base + " -interpolate -floatfile i1.bin", tmp_path, threads=1)
    run(c_binary, base + " -interpolate -floatfile i2.bin", tmp_path, threads=2)
    run(c_binary, base + " -nointerpolate -floatfile nn.bin", tmp_path)
    assert (tmp_path / "i1.bin").read_bytes() == (tmp_path / "i2.bin").read_bytes()
    assert p.stdout.count("WARNING: out of range for three point interpolation") == 1
    a = np.fromfile(tmp_path / "i1.bin", "<f4")
    b = np.fromfile(tmp_path / "nn.bin", "<f4")
    diff = np.nonzero(a != b)[0]
    assert 0 < len(diff) < a.size
    assert np.all(a[diff[-1] + 1:] == b[diff[-1] + 1:])


def test_auto_interpolation_rule(c_binary, tmp_path):
    """Spec 5.4: interpolation is auto-selected when any N <= 2 (and only with an HKL file)."""
    _grid_hkl(tmp_path / "g.hkl", 2)
    p = run(c_binary, "-cell 30 30 30 90 90 90 -hkl g.hkl -N 2 -detpixels 4 -nopgm -nonoise", tmp_path)
    assert "auto-selected tricubic interpolation" in p.stdout
    p = run(c_binary, "-cell 30 30 30 90 90 90 -hkl g.hkl -N 3 -detpixels 4 -nopgm -nonoise", tmp_path)
    assert "auto-selected no interpolation" in p.stdout


def test_divergence_alone_gives_four_sources(c_binary, tmp_path):
    """Spec 6.2 example: -divergence X alone gives 2x2 = 4 corner sources, and steps counts them."""
    p = run(c_binary, BASE + " -divergence 0.5", tmp_path)
    assert "created a total of 4 sources" in p.stdout
    assert re.search(r"steps = 4$", p.stdout, re.M)


def test_sourcefile_comments_and_lambda(c_binary, tmp_path):
    """Spec 6.3 + decisions D5: '#' lines are comments, missing columns default (direction -10 m * b,
    weight 1, lambda0), and the per-source wavelength is used (here seen in the trace's lambda_meters)."""
    (tmp_path / "src.txt").write_text("# X Y Z weight lambda\n-10 0 0 1 1.2e-10\n\n-10 0.001 0\n")
    p = run(c_binary, BASE + " -sourcefile src.txt -trace_pixel 16 16", tmp_path)
    assert "created a total of 2 sources" in p.stdout
    assert trace_value(p.stdout, "lambda_meters") == 1.2e-10
    assert re.search(r"steps = 2$", p.stdout, re.M)


def test_mosaic_spread_alone_gives_ten_domains(c_binary, tmp_path):
    """Spec 4.7 table: a spread without a domain count gives 10 domains with a warning; domains with no spread
    give 1 domain with a warning."""
    p = run(c_binary, BASE + " -mosaic 0.3", tmp_path)
    assert "upping to 10 mosaic domains" in p.stdout and "created a total of 10 mosaic domains" in p.stdout
    p = run(c_binary, BASE + " -mosaic_dom 5", tmp_path)
    assert "created a total of 1 mosaic domains" in p.stdout


def test_detector_layers_capture_fraction(c_binary, tmp_path):
    """Spec 3.13: thick & N layers use step = thick/(N-1); without -oversample_thick the pixel is multiplied by
    the LAST layer's capture fraction exp(-t*D*mu/rho) - exp(-(t+1)*D*mu/rho), rho = d.o; layers are not in steps."""
    p = run(c_binary, BASE + " -detector_thick 100 -detector_thicksteps 3 -detector_abs 200 -trace_pixel 3 5", tmp_path)
    d = [np.array([float(x) for x in m.split()]) for m in re.findall(r"^TRACE_C: diffracted_vec (.+)$", p.stdout, re.M)]
    assert len(d) == 3  # one block per layer (oversample 1, one source)
    rho = float(d[-1] @ np.array([1.0, 0.0, 0.0]))
    step, mu = 100e-6 / 2, 1.0 / 200e-6
    cap = math.exp(-2 * step * mu / rho) - math.exp(-3 * step * mu / rho)
    assert trace_value(p.stdout, "capture_fraction") == np.float64(cap).item() or \
        abs(trace_value(p.stdout, "capture_fraction") - cap) < 1e-12
    assert trace_value(p.stdout, "steps") == 1
    assert re.findall(r"^thick(\d) = (\S+) um$", p.stdout, re.M) == [("0", "0"), ("1", "50"), ("2", "100")]


def test_noise_reproducible_with_seed(c_binary, tmp_path):
    """Spec 9.4: the same -seed gives the same noise image and photon count, another seed a different image;
    outside the ROI the noise image stays 0."""
    args = BASE.replace("-nonoise", "") + " -fluence 1e32 -roi 4 20 4 20"
    p1 = run(c_binary, args + " -seed 123 -noisefile n1.img", tmp_path)
    p2 = run(c_binary, args + " -seed 123 -noisefile n2.img", tmp_path)
    run(c_binary, args + " -seed 456 -noisefile n3.img", tmp_path)
    n1, n2, n3 = ((tmp_path / f).read_bytes() for f in ("n1.img", "n2.img", "n3.img"))
    assert n1[512:] == n2[512:] and n1[512:] != n3[512:]
    photons = re.findall(r"^(\d+) photons on noise image \((\d+) overloads\)$", p1.stdout, re.M)
    assert photons and photons == re.findall(r"^(\d+) photons on noise image \((\d+) overloads\)$", p2.stdout, re.M)
    img = np.frombuffer(n1[512:], "<u2").reshape(32, 32)
    assert np.all(img[:4] == 0) and np.all(img[21:] == 0) and np.all(img[4:21, 4:21] >= 40)


def test_random_misset_repeatable(c_binary, tmp_path):
    """Spec 4.3: -misset random with -misset_seed draws the same angles every time (and prints them)."""
    a = run(c_binary, BASE + " -misset random -misset_seed 12345", tmp_path).stdout
    b = run(c_binary, BASE + " -misset random -misset_seed 12345", tmp_path).stdout
    c = run(c_binary, BASE + " -misset random -misset_seed 54321", tmp_path).stdout
    pat = r"^random orientation misset angles: (.+) deg$"
    assert re.findall(pat, a, re.M) == re.findall(pat, b, re.M) != re.findall(pat, c, re.M)


def test_dmin_reduces_sum(c_binary, tmp_path):
    """Spec 6.6 / AT-CLI-008: paths beyond dmin are skipped, so the image sum can only drop."""
    run(c_binary, BASE + " -floatfile a.bin -distance 30", tmp_path)
    run(c_binary, BASE + " -floatfile b.bin -distance 30 -dmin 5", tmp_path)
    a = np.fromfile(tmp_path / "a.bin", "<f4")
    b = np.fromfile(tmp_path / "b.bin", "<f4")
    assert b.sum() < a.sum() and np.all((b == a) | (b == 0))


def test_xtalsize_sets_N_and_beam_clips(c_binary, tmp_path):
    """Spec 4.5/6.5: -xtalsize 0.2 mm is clipped to the 0.1 mm beam in y and z; N = ceil(size/|a|)."""
    p = run(c_binary, BASE + " -xtalsize 0.2 -N 1 -oversample 1 -detpixels 2", tmp_path)
    assert "WARNING: clipping sample" in p.stdout
    assert "parallelpiped xtal: 40000x16667x14286 cells" in p.stdout
