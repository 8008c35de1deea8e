"""Spec tests for the C reference engine (c_reference/build/nbref).

Every test runs the binary in its own scratch folder (tmp_path) and checks a figure from
shared/spec/nanobragg.md or shared/spec/decisions.md; each test says which figure and why.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

# The CLI-FLAGS-003 command of spec section 12.1 (file names are filled in per test).
CLI_FLAGS_003 = (
    "-mat {A} -floatfile img.bin -hkl {HKL} -nonoise -nointerpolate -oversample 1 "
    "-exposure 1 -flux 1e18 -beamsize 1.0 -spindle_axis -1 0 0 "
    "-Xbeam 217.742295 -Ybeam 213.907080 -distance 231.274660 -lambda 0.976800 "
    "-pixel 0.172 -detpixels_x 2463 -detpixels_y 2527 "
    "-odet_vector -0.000088 0.004914 -0.999988 -sdet_vector -0.005998 -0.999970 -0.004913 "
    "-fdet_vector 0.999982 -0.005998 -0.000118 "
    "-pix0_vector_mm -216.336293 215.205512 -230.200866 -beam_vector 0.00051387949 0.0 -0.99999986 "
    "-Na 36 -Nb 47 -Nc 29 -osc 0.1 -phi 0 -phisteps 10 -detector_rotx 0 -detector_roty 0 "
    "-detector_rotz 0 -twotheta 0"
)


def run(binary: Path, args, cwd: Path, threads: int = 1, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    args = args.split() if isinstance(args, str) else list(args)
    proc = subprocess.run([str(binary), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr}"
    return proc


def vector_line(stdout: str, key: str) -> np.ndarray:
    m = re.search(rf"^(?:nbref: )?{key} (\S+) (\S+) (\S+)$", stdout, re.M)  # our own lines carry "nbref: "
    assert m, f"no {key} line"
    return np.array([float(x) for x in m.groups()])


def trace_value(stdout: str, key: str) -> float:
    m = re.search(rf"^TRACE_C: {key} (\S+)$", stdout, re.M)
    assert m, f"no TRACE_C: {key} line"
    return float(m.group(1))


def phi_lines(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        if line.startswith("TRACE_C_PHI "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            out.append(fields)
    return out


def smv_header(path: Path) -> dict:
    raw = path.read_bytes()
    text = raw[: raw.index(b"}")].decode()
    keys = {}
    for line in text.splitlines()[1:]:
        k, _, v = line.partition("=")
        keys[k] = v.rstrip(";")
    return keys


def cli003(data: Path, extra: str = "") -> list[str]:
    return CLI_FLAGS_003.format(A=data / "A.mat", HKL=data / "scaled.hkl").split() + extra.split()


# --------------------------------------------------------------------------------------------- geometry


def test_at_geo_001_pix0(c_binary, tmp_path):
    """AT-GEO-001 (spec 3.5, 13.1): MOSFLM, -Xbeam/-Ybeam 51.2 mm, 100 mm, 0.1 mm pixels gives
    Fbeam = Sbeam = 51.25 mm (the +0.5 px mapping) and pix0 = (0.1, 0.05125, -0.05125) m within 1e-9 m."""
    p = run(c_binary, "-Xbeam 51.2 -Ybeam 51.2 -distance 100 -pixel 0.1 -detpixels 1024 -default_F 1 "
                      "-cell 100 100 100 90 90 90 -N 1 -roi 0 3 0 3 -nopgm -nonoise", tmp_path)
    pix0 = vector_line(p.stdout, "DETECTOR_PIX0_VECTOR")
    assert np.allclose(pix0, [0.1, 0.05125, -0.05125], rtol=0, atol=1e-9)
    assert "pivoting detector around direct beam spot" in p.stdout


def test_mosflm_default_beam_centre_header(c_binary, tmp_path):
    """Spec 3.5: with default centres MOSFLM puts the beam one whole pixel past the geometric centre:
    1024 x 0.1 mm gives Fbeam = Sbeam = 51.3 mm, which the SMV header reports (spec 10.3) as
    ADXV_CENTER_X = DENZO_X_BEAM = DENZO_Y_BEAM = 51.3 and MOSFLM_CENTER_X/Y = 51.25 (S/Fbeam - px/2);
    BEAM_CENTER_X/Y are the defaulted Xbeam/Ybeam = (102.4 + 0.1)/2 = 51.25."""
    run(c_binary, "-distance 100 -pixel 0.1 -detpixels 1024 -default_F 1 -cell 100 100 100 90 90 90 -N 1 "
                  "-roi 0 1 0 1 -nopgm -nonoise -intfile int.img", tmp_path)
    h = smv_header(tmp_path / "int.img")
    assert float(h["ADXV_CENTER_X"]) == pytest.approx(51.3, abs=1e-9)
    assert float(h["DENZO_X_BEAM"]) == pytest.approx(51.3, abs=1e-9)
    assert float(h["DENZO_Y_BEAM"]) == pytest.approx(51.3, abs=1e-9)
    assert float(h["MOSFLM_CENTER_X"]) == pytest.approx(51.25, abs=1e-9)
    assert float(h["MOSFLM_CENTER_Y"]) == pytest.approx(51.25, abs=1e-9)
    assert float(h["BEAM_CENTER_X"]) == pytest.approx(51.25, abs=1e-9)
    assert float(h["ADXV_CENTER_Y"]) == pytest.approx(102.4 - 51.3, abs=1e-9)


def test_xds_default_beam_is_geometric_centre(c_binary, tmp_path):
    """Spec 3.5/3.6: XDS defaults put the beam at detsize/2 (no +0.5 px) and force the SAMPLE pivot;
    ORGX = Fclose/px + 0.5 = 512.5 on 1024 x 0.1 mm."""
    p = run(c_binary, "-xds -distance 100 -pixel 0.1 -detpixels 1024 -default_F 1 -cell 100 100 100 90 90 90 "
                      "-N 1 -roi 0 1 0 1 -nopgm -nonoise -intfile int.img", tmp_path)
    assert "pivoting detector around sample" in p.stdout
    h = smv_header(tmp_path / "int.img")
    assert float(h["XDS_ORGX"]) == pytest.approx(512.5)
    assert float(h["ADXV_CENTER_X"]) == pytest.approx(51.2)


def test_custom_switch_and_pix0_ignored(c_binary, tmp_path):
    """Spec 3.8 artefact: -pix0_vector_mm 0 0 200 on a 2x2, 0.1 mm, 100 mm detector switches to CUSTOM, is
    ignored, and gives DETECTOR_PIX0_VECTOR 0.1 0.0001 -0.0001 (the default CUSTOM BEAM-pivot value)."""
    p = run(c_binary, "-pix0_vector_mm 0 0 200 -detpixels 2 -pixel 0.1 -distance 100 -default_F 1 "
                      "-cell 100 100 100 90 90 90 -N 1 -nopgm -nonoise", tmp_path)
    assert np.allclose(vector_line(p.stdout, "DETECTOR_PIX0_VECTOR"), [0.1, 0.0001, -0.0001], atol=1e-12)
    assert "custom convention selected" in p.stdout


def test_twotheta_axis_also_sets_twotheta(c_binary, tmp_path):
    """Spec 2.2: -twotheta_axis x y z is also matched by -twotheta, so 2theta = x degrees (here -1) and the
    header reports TWOTHETA=-1; the convention becomes CUSTOM with the SAMPLE pivot.  Order matters
    (spec 3.6): a later -distance sets the BEAM pivot again."""
    p = run(c_binary, "-distance 100 -twotheta_axis -1 0 0 -detpixels 4 -pixel 0.1 -default_F 1 "
                      "-cell 100 100 100 90 90 90 -N 1 -nopgm -nonoise -intfile int.img", tmp_path)
    assert float(smv_header(tmp_path / "int.img")["TWOTHETA"]) == pytest.approx(-1.0)
    assert "pivoting detector around sample" in p.stdout
    p = run(c_binary, "-twotheta_axis -1 0 0 -distance 100 -detpixels 4 -pixel 0.1 -default_F 1 "
                      "-cell 100 100 100 90 90 90 -N 1 -nopgm -nonoise", tmp_path)
    assert "pivoting detector around direct beam spot" in p.stdout


def test_cli_flags_003_pix0(c_binary, cli_flags_003, tmp_path):
    """Spec 12.2: the CLI-FLAGS-003 command (CUSTOM, SAMPLE pivot from -twotheta 0, odet replaced by f x s,
    -pix0_vector_mm ignored) gives pix0 = (-0.216475836204836, 0.216343050492215, -0.230192414300537) m."""
    p = run(c_binary, cli003(cli_flags_003, "-roi 0 0 0 0"), tmp_path)
    pix0 = vector_line(p.stdout, "DETECTOR_PIX0_VECTOR")
    assert np.allclose(pix0, [-0.216475836204836, 0.216343050492215, -0.230192414300537], rtol=0, atol=1e-9)
    assert "pivoting detector around sample" in p.stdout
    assert "WARNING: auto-generating odet_vector" in p.stdout
    assert np.allclose(vector_line(p.stdout, "DETECTOR_NORMAL_AXIS"), [-8.85283e-05, 0.00491362, -0.999988], atol=1e-6)


# --------------------------------------------------------------------------------------------- traces


def test_cli_flags_003_trace_carryover_on(c_binary, cli_flags_003, tmp_path):
    """Spec 8.3/11.1: pixel (slow 685, fast 1039) with the phi=0 carry-over (default ON, decisions D3):
    k at tick 0 equals k at tick 9 = -0.607255839576692, F_latt(tick 0) = -2.38320, I_before_scaling =
    943654.81, I_pixel_final = 2.88139542684698e-07; the ROI has two pixels so the traced one is not the
    run's first path, and floatimage_accumulated equals the image value (decisions D4)."""
    p = run(c_binary, cli003(cli_flags_003, "-roi 1038 1039 685 685 -trace_pixel 685 1039"), tmp_path)
    ticks = phi_lines(p.stdout)
    assert len(ticks) == 10
    assert [int(t["phi_tic"]) for t in ticks] == list(range(10))
    k0, k9 = float(ticks[0]["k_frac"]), float(ticks[9]["k_frac"])
    assert k0 == k9
    assert k0 == pytest.approx(-0.607255839576692, rel=1e-6)
    assert float(ticks[0]["F_latt"]) == pytest.approx(-2.38320, rel=1e-5)
    assert trace_value(p.stdout, "I_before_scaling") == pytest.approx(943654.81, rel=1e-6)
    assert trace_value(p.stdout, "I_pixel_final") == pytest.approx(2.88139542684698e-07, rel=1e-6)
    assert trace_value(p.stdout, "steps") == 10
    assert trace_value(p.stdout, "polar") == pytest.approx(0.91463969894451, rel=1e-9)
    assert trace_value(p.stdout, "omega_pixel") == pytest.approx(4.20412684465831e-07, rel=1e-9)
    assert trace_value(p.stdout, "F_cell") == pytest.approx(190.27)
    img = np.fromfile(tmp_path / "img.bin", "<f4").reshape(2527, 2463)
    assert np.float32(trace_value(p.stdout, "floatimage_accumulated")) == img[685, 1039]
    # the I_contrib of all ticks add up to I_before_scaling (nothing else is added here)
    assert sum(float(t["I_contrib"]) for t in ticks) == pytest.approx(943654.81, rel=1e-9)


def test_cli_flags_003_trace_carryover_off(c_binary, cli_flags_003, tmp_path):
    """Decisions D3 switch: with -phi0_carryover off tick 0 uses the unrotated lattice.  Spec 8.3 quotes the
    spec-compliant k(tick 0) = -0.589139352775903 from the PyTorch port, which differs from the C's
    arithmetic by ~2.8e-5 at every tick (spec 8.3, 12.4), so we check it to 5e-5 and check exactly that tick 0
    continues the tick grid (k1 - k0 = k2 - k1 to 1e-6), and that ticks 1-9 equal the carry-over run's."""
    p_off = run(c_binary, cli003(cli_flags_003, "-roi 1038 1039 685 685 -trace_pixel 685 1039 -phi0_carryover off"),
                tmp_path)
    off = phi_lines(p_off.stdout)
    k = [float(t["k_frac"]) for t in off]
    assert k[0] == pytest.approx(-0.589139352775903, abs=5e-5)
    assert (k[1] - k[0]) == pytest.approx(k[2] - k[1], abs=1e-6)
    p_on = run(c_binary, cli003(cli_flags_003, "-roi 1038 1039 685 685 -trace_pixel 685 1039"), tmp_path)
    on = phi_lines(p_on.stdout)
    assert [t["k_frac"] for t in on[1:]] == [t["k_frac"] for t in off[1:]]
    img = np.fromfile(tmp_path / "img.bin", "<f4").reshape(2527, 2463)
    assert np.float32(trace_value(p_on.stdout, "floatimage_accumulated")) == img[685, 1039]


def test_carryover_first_path_sees_unrotated_lattice(c_binary, tmp_path):
    """Decisions D3: only the very first path of the run sees the unrotated lattice.  With one sub-pixel and
    one source, the first rendered pixel equals the carry-over-off image there, and later pixels differ."""
    args = ("-cell 50 60 70 90 90 90 -default_F 10 -N 8 -lambda 1 -distance 80 -pixel 0.2 -detpixels 48 "
            "-osc 3 -phisteps 4 -oversample 1 -nopgm -nonoise -roi 10 30 5 25 -misset 10 20 30")
    run(c_binary, args + " -floatfile on.bin", tmp_path)
    run(c_binary, args + " -floatfile off.bin -phi0_carryover off", tmp_path)
    on = np.fromfile(tmp_path / "on.bin", "<f4").reshape(48, 48)
    off = np.fromfile(tmp_path / "off.bin", "<f4").reshape(48, 48)
    assert on[5, 10] == off[5, 10]
    assert np.count_nonzero(on[5:26, 10:31] != off[5:26, 10:31]) > 100


def test_trace_matches_image_with_oversample_and_mosaic(c_binary, tmp_path):
    """Decisions D4: the traced pixel's floatimage_accumulated equals the float image there, also with
    oversample 2, 3 mosaic domains and the carry-over; TRACE_C_PHI covers every (layer, sub-pixel, source,
    mosaic, tick) = 1 x 4 x 1 x 3 x 3 = 36 lines."""
    args = ("-cell 40 50 60 80 95 100 -default_F 5 -N 6 -lambda 1.2 -distance 60 -pixel 0.3 -detpixels 40 "
            "-osc 1 -phisteps 3 -oversample 2 -mosaic 1 -mosaic_dom 3 -mosaic_seed 7 -nopgm -nonoise "
            "-trace_pixel 21 17")
    p = run(c_binary, args, tmp_path, threads=2)
    img = np.fromfile(tmp_path / "floatimage.bin", "<f4").reshape(40, 40)
    assert np.float32(trace_value(p.stdout, "floatimage_accumulated")) == img[21, 17]
    assert np.float32(trace_value(p.stdout, "I_pixel_final")) == img[21, 17]
    assert len(phi_lines(p.stdout)) == 36


# --------------------------------------------------------------------------------------------- crystal


def test_triclinic_cell_angle_drift(c_binary, tmp_path):
    """Spec 4.1: the c*_z formula makes -cell 70 80 90 75 85 95 end up as 70 80 90 75.0391 85.0136 95.0081."""
    p = run(c_binary, "-cell 70 80 90 75 85 95 -default_F 1 -N 1 -detpixels 4 -nopgm -nonoise", tmp_path)
    assert "Unit Cell: 70 80 90 75.0391 85.0136 95.0081" in p.stdout


def test_mat_read_without_rescale(c_binary, cli_flags_003, tmp_path):
    """Spec 12.2: A.mat divided by lambda 0.9768 A gives the cell 26.7514 31.31 33.6734 88.687 71.5295 68.1375
    (no user_cell rescale, spec 4.4) and V = 24682.3 A^3."""
    p = run(c_binary, cli003(cli_flags_003, "-roi 0 0 0 0"), tmp_path)
    assert "Unit Cell: 26.7514 31.31 33.6734 88.687 71.5295 68.1375" in p.stdout
    assert "volume = 24682.3 A^3" in p.stdout


def test_thread_independence(c_binary, tmp_path):
    """Decisions D3 and the brief: mosaic domains + phi ticks with an exact zero + the carry-over + oversample 2
    give byte-identical float images with OMP_NUM_THREADS=1 and 2."""
    args = ("-cell 70 80 90 75 85 95 -default_F 100 -N 5 -mosaic 0.5 -mosaic_dom 5 -mosaic_seed 42 "
            "-osc 0.5 -phisteps 3 -oversample 2 -detpixels 64 -pixel 0.4 -distance 100 -lambda 1.5 "
            "-misset 15 25 35 -nonoise -nopgm")
    run(c_binary, args + " -floatfile t1.bin", tmp_path, threads=1)
    run(c_binary, args + " -floatfile t2.bin", tmp_path, threads=2)
    a = (tmp_path / "t1.bin").read_bytes()
    assert a == (tmp_path / "t2.bin").read_bytes()
    assert np.frombuffer(a, "<f4").max() > 0


# --------------------------------------------------------------------------------------------- files


def test_smv_header_layout(c_binary, tmp_path):
    """Spec 10.3: the SMV header starts with '{\\nHEADER_BYTES=512;\\n', has the keys in nanoBragg's order,
    DIALS_ORIGIN without the semicolon, then '}' + form feed + spaces to byte 512; data are 2*f*s bytes."""
    run(c_binary, "-detpixels_x 5 -detpixels_y 3 -pixel 0.1 -distance 100 -default_F 1 -cell 100 100 100 90 90 90 "
                  "-N 1 -nopgm -nonoise -intfile small.img", tmp_path)
    raw = (tmp_path / "small.img").read_bytes()
    assert raw.startswith(b"{\nHEADER_BYTES=512;\n")
    assert len(raw) == 512 + 2 * 5 * 3
    head = raw[:512]
    end = head.index(b"}")
    assert head[end + 1:end + 2] == b"\f"
    assert head[end + 2:] == b" " * (512 - end - 2)
    lines = head[:end].decode().splitlines()[1:]
    keys = [ln.split("=")[0] for ln in lines]
    assert keys == ["HEADER_BYTES", "DIM", "BYTE_ORDER", "TYPE", "SIZE1", "SIZE2", "PIXEL_SIZE", "DISTANCE",
                    "WAVELENGTH", "BEAM_CENTER_X", "BEAM_CENTER_Y", "ADXV_CENTER_X", "ADXV_CENTER_Y",
                    "MOSFLM_CENTER_X", "MOSFLM_CENTER_Y", "DENZO_X_BEAM", "DENZO_Y_BEAM", "DIALS_ORIGIN",
                    "XDS_ORGX", "XDS_ORGY", "CLOSE_DISTANCE", "PHI", "OSC_START", "OSC_RANGE", "TWOTHETA",
                    "DETECTOR_SN", "BEAMLINE"]
    assert all(ln.endswith(";") for ln in lines if not ln.startswith("DIALS_ORIGIN"))
    assert not [ln for ln in lines if ln.startswith("DIALS_ORIGIN")][0].endswith(";")
    assert "BYTE_ORDER=little_endian;" in lines and "BEAMLINE=fake;" in lines
    assert "SIZE1=5;" in lines and "SIZE2=3;" in lines


def test_int_image_scaling_and_roi(c_binary, tmp_path):
    """Spec 9.3/7.4: auto scale 55000/max, ADC 40, round half up, and pixels outside the ROI stay 0 (no ADC)."""
    run(c_binary, "-detpixels 16 -pixel 0.1 -distance 100 -default_F 1 -cell 20 20 20 90 90 90 -N 2 -lambda 1 "
                  "-roi 2 9 3 12 -nopgm -nonoise -intfile i.img -floatfile f.bin", tmp_path)
    fimg = np.fromfile(tmp_path / "f.bin", "<f4").reshape(16, 16)
    raw = (tmp_path / "i.img").read_bytes()
    iimg = np.frombuffer(raw[512:], "<u2").reshape(16, 16)
    scale = 55000.0 / fimg.max()
    expect = np.floor(np.clip(fimg.astype(np.float64) * scale + 40.0, 0, 65535) + 0.5)
    roi = np.zeros_like(fimg, bool)
    roi[3:13, 2:10] = True
    assert np.all(fimg[~roi] == 0) and np.all(iimg[~roi] == 0)
    assert np.abs(iimg[roi].astype(int) - expect[roi].astype(int)).max() <= 1
    assert iimg.max() == 55040


def test_pgm_layout(c_binary, tmp_path):
    """Spec 10.4: P5, width height, '# pixels scaled by <scale>', 255, then f*s bytes."""
    run(c_binary, "-detpixels_x 6 -detpixels_y 4 -default_F 1 -cell 30 30 30 90 90 90 -N 2 -nonoise "
                  "-pgmfile p.pgm -pgmscale 2", tmp_path)
    raw = (tmp_path / "p.pgm").read_bytes()
    assert raw.startswith(b"P5\n6 4\n# pixels scaled by 2\n255\n")
    assert len(raw) == len(b"P5\n6 4\n# pixels scaled by 2\n255\n") + 24


def test_hkl_comments_columns_and_errors(c_binary, tmp_path):
    """Decisions D5: '#' comments, blank lines and 4-6 columns are accepted; a malformed line is rejected with
    'file:line: expected h k l F' and exit 9.  A 4-column file and the same data with extra columns and
    comments give identical images."""
    (tmp_path / "a.hkl").write_text("0 0 0 10\n1 0 0 20\n0 1 0 30\n-1 2 3 40\n")
    (tmp_path / "b.hkl").write_text("# comment\n\n0 0 0 10 0.5\n1 0 0 20 1 2\n  # another\n0 1 0 30\n-1 2 3 40 7\n")
    common = "-cell 30 30 30 90 90 90 -N 3 -detpixels 32 -pixel 0.2 -distance 50 -lambda 2 -nopgm -nonoise"
    run(c_binary, f"{common} -hkl a.hkl -floatfile a.bin", tmp_path)
    run(c_binary, f"{common} -hkl b.hkl -floatfile b.bin", tmp_path)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    assert not (tmp_path / "Fdump.bin").exists()
    (tmp_path / "c.hkl").write_text("0 0 0 10\n1 0 zero 20\n")
    p = run(c_binary, f"{common} -hkl c.hkl", tmp_path, check=False)
    assert p.returncode == 9
    assert "-hkl: c.hkl, line 2: expected" in p.stderr


def test_dump_writes_padded_grid(c_binary, tmp_path):
    """Spec 5.2 layout, written only on request (-dump FILE, decisions D5): header 'hmin hmax ... \\n\\f', then
    (h_range+1)(k_range+1)(l_range+1) doubles with the padding planes (zero) and default_F prefill."""
    (tmp_path / "a.hkl").write_text("0 0 0 10\n1 0 0 20\n0 1 1 30\n")
    run(c_binary, "-hkl a.hkl -default_F 3 -cell 30 30 30 90 90 90 -N 3 -detpixels 4 -nopgm -nonoise -dump d.bin",
        tmp_path)
    raw = (tmp_path / "d.bin").read_bytes()
    head, _, body = raw.partition(b"\f")
    assert head == b"0 1 0 1 0 1\n"
    grid = np.frombuffer(body, "<f8").reshape(3, 3, 3)
    assert grid[0, 0, 0] == 10 and grid[1, 0, 0] == 20 and grid[0, 1, 1] == 30 and grid[1, 1, 1] == 3
    assert np.all(grid[2] == 0) and np.all(grid[:, 2] == 0) and np.all(grid[:, :, 2] == 0)


# --------------------------------------------------------------------------------------------- CLI


def test_help_exits_zero_with_flags(c_binary, tmp_path):
    """AT-CLI-001: -h / --help list the main flags and exit 0."""
    for flag in ("-h", "--help"):
        p = run(c_binary, [flag], tmp_path)
        for name in ("-hkl", "-mat", "-cell", "-pixel", "-detpixels", "-distance", "-lambda", "-energy",
                     "-floatfile", "-intfile", "-noisefile", "-pgmfile", "-scale", "-adc", "-mosflm", "-xds",
                     "-dials", "-adxv", "-denzo", "-roi", "-trace_pixel", "-phi0_carryover"):
            assert name in p.stdout, name


@pytest.mark.parametrize("args,flag", [
    ("-detpixels -5", "-detpixels"),
    ("-detpixels_x -1", "-detpixels_x"),
    ("-pixel 0", "-pixel"),
    ("-pixel -0.1", "-pixel"),
    ("-distance abc", "-distance"),
    ("-lambda 1.0x", "-lambda"),
    ("-N two", "-N"),
    ("-lambda nan", "-lambda"),
    ("-phi0_carryover maybe", "-phi0_carryover"),
])
def test_bad_values_exit_9(c_binary, tmp_path, args, flag):
    """Decisions D5: bad values stop the run before any work, with exit 9 and a message naming the flag."""
    p = run(c_binary, f"-default_F 1 -cell 50 50 50 90 90 90 -detpixels 8 {args}", tmp_path, check=False)
    assert p.returncode == 9
    assert flag in p.stderr
    assert not (tmp_path / "floatimage.bin").exists()


def test_missing_inputs_exit_9(c_binary, tmp_path):
    """Spec 2.3 / AT-CLI-009: no -hkl with default_F 0, or no -mat and no -cell, prints usage and exits 9;
    a file that cannot be opened names the flag and the file."""
    p = run(c_binary, "-cell 50 50 50 90 90 90 -detpixels 8", tmp_path, check=False)
    assert p.returncode == 9 and "usage" in p.stdout
    p = run(c_binary, "-default_F 1 -detpixels 8", tmp_path, check=False)
    assert p.returncode == 9 and "usage" in p.stdout
    p = run(c_binary, "-hkl nothere.hkl -cell 50 50 50 90 90 90 -detpixels 8", tmp_path, check=False)
    assert p.returncode == 9 and "-hkl" in p.stderr and "nothere.hkl" in p.stderr
    p = run(c_binary, "-mat nothere.mat -default_F 1 -detpixels 8", tmp_path, check=False)
    assert p.returncode == 9 and "-mat" in p.stderr and "nothere.mat" in p.stderr


def test_unknown_flag_warns(c_binary, tmp_path):
    """Decisions D5: unknown flags are ignored (as the C) but reported as a warning on stderr;
    negative numbers given as values are not flags."""
    p = run(c_binary, "-default_F 1 -cell 50 50 50 90 90 90 -detpixels 4 -nopgm -nonoise -frobnicate "
                      "-spindle_axis -1 0 0", tmp_path)
    assert "-frobnicate" in p.stderr
    assert "-1" not in p.stderr


def test_progress_lines(c_binary, tmp_path):
    """Spec 11.2 as upstream main prints it (decisions D8): before its pp-th rendered pixel, pp*100/P when pp is a
    multiple of P/20, or of P/100 in the first and last tenth, with P = (fpixels+1)*(spixels+1) (the C's default
    roi_xmax = fpixels), so 100% is never printed; the same lines for any thread count."""
    p = run(c_binary, "-default_F 1 -cell 50 50 50 90 90 90 -detpixels 200 -N 1 -nopgm -nonoise", tmp_path,
            threads=2)
    pct = [int(m) for m in re.findall(r"^(\d+)% done$", p.stdout, re.M)]
    P = 201 * 201
    expect = [pp * 100 // P for pp in range(200 * 200)
              if pp % (P // 20) == 0 or ((10 * pp < P or 10 * pp > 9 * P) and pp % (P // 100) == 0)]
    assert pct == expect
    assert set(range(91, 99)) <= set(pct) and 99 not in pct and 50 not in pct


def test_phi_step_resolution(c_binary, tmp_path):
    """Spec 8.2: '-osc 90 -phisteps 9' gives 0, 10, ..., 80 degrees; '-osc 0.1' alone gives 2 steps of 0.05."""
    base = "-default_F 1 -cell 50 50 50 90 90 90 -detpixels 2 -nopgm -nonoise"
    p = run(c_binary, base + " -osc 90 -phisteps 9", tmp_path)
    assert re.findall(r"^phi(\d) = (\S+)$", p.stdout, re.M)[-1] == ("8", "80")
    p = run(c_binary, base + " -osc 0.1", tmp_path)
    assert re.findall(r"^phi(\d) = (\S+)$", p.stdout, re.M) == [("0", "0"), ("1", "0.05")]
