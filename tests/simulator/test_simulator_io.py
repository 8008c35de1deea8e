"""Output files of the PyTorch engine (spec 9.3, 9.5, 10.2-10.4) and its command line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from simulator import io_files
from simulator.cli import main

REPO = Path(__file__).resolve().parents[2]


def tiny_header() -> io_files.SMVHeader:
    return io_files.SMVHeader(
        fpixels=3, spixels=2, pixel_mm=0.1, distance_mm=100, wavelength_A=1, beam_center_x_mm=0.15,
        beam_center_y_mm=0.2, adxv_center_x_mm=0.2, adxv_center_y_mm=0.05, mosflm_center_x_mm=0.15,
        mosflm_center_y_mm=0.15, denzo_x_beam_mm=0.2, denzo_y_beam_mm=0.2, dials_origin_mm=(-0.2, 0.2, -100),
        xds_orgx=2, xds_orgy=1.5, close_distance_mm=100, phi_deg=0, osc_deg=0.1, twotheta_deg=0)


def test_smv_header_bytes(tmp_path):
    """Spec 10.3: `{`, the keys in order with %g values, DIALS_ORIGIN without its `;`, `}` + form feed, spaces to
    512 bytes, then native uint16 (slow, fast)."""
    p = tmp_path / "t.img"
    io_files.write_smv(p, tiny_header(), np.array([[1, 2, 3], [4, 5, 65535]], dtype=np.uint16))
    raw = p.read_bytes()
    bo = "little_endian" if sys.byteorder == "little" else "big_endian"
    expect = ("{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=" + bo + ";\nTYPE=unsigned_short;\nSIZE1=3;\nSIZE2=2;\n"
              "PIXEL_SIZE=0.1;\nDISTANCE=100;\nWAVELENGTH=1;\nBEAM_CENTER_X=0.15;\nBEAM_CENTER_Y=0.2;\n"
              "ADXV_CENTER_X=0.2;\nADXV_CENTER_Y=0.05;\nMOSFLM_CENTER_X=0.15;\nMOSFLM_CENTER_Y=0.15;\n"
              "DENZO_X_BEAM=0.2;\nDENZO_Y_BEAM=0.2;\nDIALS_ORIGIN=-0.2,0.2,-100\nXDS_ORGX=2;\nXDS_ORGY=1.5;\n"
              "CLOSE_DISTANCE=100;\nPHI=0;\nOSC_START=0;\nOSC_RANGE=0.1;\nTWOTHETA=0;\nDETECTOR_SN=000;\n"
              "BEAMLINE=fake;\n}\f").encode()
    assert raw[:len(expect)] == expect
    assert raw[len(expect):512] == b" " * (512 - len(expect))
    assert len(raw) == 512 + 12
    np.testing.assert_array_equal(np.frombuffer(raw[512:], dtype=np.uint16).reshape(2, 3),
                                  [[1, 2, 3], [4, 5, 65535]])


def test_int_image_rounding_adc_and_roi():
    """Spec 9.3: v = float*scale + 40, clamped to [0, 65535], floor(v + 0.5) (2.5 + 40 -> 43); auto scale is
    55000/max; outside the ROI 0 with no ADC."""
    img = np.array([[0.0, 2.5, 1.0], [1e9, 0.2, 0.0]], dtype=np.float32)
    out = io_files.int_image(img, (0, 1, 0, 1), 1.0, 40.0)
    np.testing.assert_array_equal(out, [[40, 43, 0], [65535, 40, 0]])
    assert io_files.int_scale(np.array([[2.0, 4.0]]), (0, 1, 0, 0)) == 55000 / 4.0
    assert io_files.int_scale(np.zeros((1, 2)), (0, 1, 0, 0)) == 1.0


def test_pgm_bytes():
    """Spec 9.5/10.4: P5 header with '# pixels scaled by <s>', bytes (unsigned char) min(255, v*s)."""
    img = np.array([[0.0, 1.0, 100.0]], dtype=np.float32)
    data = io_files.pgm_bytes(img, (0, 2, 0, 0), 2.7)
    assert data == b"P5\n3 1\n# pixels scaled by 2.7\n255\n" + bytes([0, 2, 255])
    assert io_files.pgm_scale(img, (0, 2, 0, 0), 7.0, rmsd=5.0) == 250 / 25.0


def test_cli_writes_the_c_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = main("-cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 6.2 -detpixels 32 -distance 100 "
              "-nonoise -trace_pixel 16 16 -dtype float32".split())
    assert rc == 0
    out = capsys.readouterr().out
    img = np.fromfile(tmp_path / "floatimage.bin", dtype=np.float32).reshape(32, 32)
    assert img.max() > 0
    smv = (tmp_path / "intimage.img").read_bytes()
    assert smv.startswith(b"{\nHEADER_BYTES=512;") and len(smv) == 512 + 2 * 32 * 32
    assert (tmp_path / "image.pgm").read_bytes().startswith(b"P5\n32 32\n")
    assert not (tmp_path / "noiseimage.img").exists()
    for needle in ("TRACE_PY: floatimage_accumulated", "max_I = ", "mean= ", "intfile_scale = ", "pgm_scale = "):
        assert needle in out


def test_cli_usage_and_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["-h"]) == 0
    assert "-floatfile" in capsys.readouterr().out
    assert main("-cell 100 100 100 90 90 90 -detpixels 8".split()) == 9      # no -hkl and default_F 0
    assert main("-cell 100 100 100 90 90 90 -default_F 1 -pixel 0".split()) == 9
    assert "ERROR" in capsys.readouterr().err


def test_python_dash_m(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-m", "simulator", "-cell", "100", "100", "100", "90", "90", "90",
                        "-default_F", "100", "-detpixels", "8", "-nopgm", "-nonoise", "-bogus_flag"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "bogus_flag" in p.stderr
    assert (tmp_path / "floatimage.bin").stat().st_size == 8 * 8 * 4
