"""nb-compare's figures, previews, program resolution and command line on small arrays with known answers."""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from app.nb_compare import locate
from app.nb_compare.command import Usage, check_roi, default_outdir, parse_options, worst_pixel
from app.nb_compare.metrics import (find_peaks, image_metrics, local_max_3x3, pearson, peak_distances,
                                    resample_nearest, square_shape)
from app.nb_compare.previews import diff_uint8, png_gray8, preview_files


def _spots(shape, spots, value=100.0):
    img = np.zeros(shape, dtype=np.float32)
    for i, (s, f) in enumerate(spots):
        img[s, f] = value + i  # distinct values: a fixed brightness order
    return img


def test_pearson_matches_the_textbook_formula_and_is_nan_for_a_constant_image():
    rng = np.random.default_rng(1)
    a = rng.random((8, 9)).astype(np.float32)
    b = (2 * a + rng.random((8, 9)).astype(np.float32) * 0.1).astype(np.float32)
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    dx, dy = x - x.mean(), y - y.mean()
    want = np.sum(dx * dy) / math.sqrt(np.sum(dx ** 2) * np.sum(dy ** 2))
    assert pearson(a, b) == pytest.approx(want, rel=1e-12)
    assert pearson(a, -a) == pytest.approx(-1.0, abs=1e-12)
    assert math.isnan(pearson(np.ones((4, 4), np.float32), a[:4, :4]))


def test_image_metrics_figures_and_field_order():
    c = np.array([[1, 2], [3, 4]], dtype=np.float32)
    p = np.array([[1, 2], [3, 6]], dtype=np.float32)
    m = image_metrics(c, p)
    assert list(m) == ["correlation", "mse", "rmse", "max_abs_diff", "c_sum", "py_sum", "sum_ratio",
                       "mean_peak_distance", "max_peak_distance"]
    assert m["mse"] == 1.0            # one pixel off by 2 of four: 4 / 4
    assert m["rmse"] == 1.0
    assert m["max_abs_diff"] == 2.0
    assert (m["c_sum"], m["py_sum"]) == (10.0, 12.0)
    assert m["sum_ratio"] == pytest.approx(1.2, rel=1e-7)  # float32 quotient, as the port team's tool
    assert image_metrics(np.zeros((2, 2), np.float32), p)["sum_ratio"] == math.inf


def test_roi_is_inclusive_x_fast_y_slow():
    c = np.zeros((10, 12), dtype=np.float32)
    p = c.copy()
    p[4, 7] = 3.0      # inside xmin..xmax = 6..7, ymin..ymax = 3..4
    p[9, 11] = 50.0    # outside
    m = image_metrics(c, p, roi=(6, 7, 3, 4))
    assert m["max_abs_diff"] == 3.0
    assert m["mse"] == pytest.approx(9.0 / 4)  # a 2 x 2 box


def test_peaks_are_3x3_local_maxima_above_the_95th_percentile_top_10():
    spots = [(2 + 3 * i, 2 + 2 * i) for i in range(12)]
    img = _spots((40, 40), spots)
    peaks = find_peaks(img)
    assert len(peaks) == 10
    assert peaks[0] == spots[-1]                      # brightest first
    assert set(peaks) == set(spots[2:])               # the two dimmest of 12 are dropped
    plateau = np.zeros((5, 5), np.float32)
    plateau[1:3, 1:3] = 1
    assert local_max_3x3(plateau)[1:3, 1:3].all()     # equal neighbours are all maxima


def test_peak_distances_nearest_py_peak_per_c_peak():
    c = _spots((30, 30), [(5, 5), (20, 20)])
    p = _spots((30, 30), [(5, 6), (23, 24)])          # shifted by 1 px and by (3, 4): 5 px
    mean_d, max_d = peak_distances(c, p)
    assert (mean_d, max_d) == (3.0, 5.0)
    assert all(math.isnan(v) for v in peak_distances(np.zeros((8, 8), np.float32), p))


def test_resample_nearest_maps_corners_to_corners():
    img = np.arange(16, dtype=np.float32).reshape(4, 4)
    up = resample_nearest(img, (7, 7))                 # step (4-1)/(7-1) = 0.5: rows 0,0.5,1,... round half up
    assert up.shape == (7, 7)
    assert up[0, 0] == img[0, 0] and up[-1, -1] == img[-1, -1]
    assert list(up[0]) == [0, 1, 1, 2, 2, 3, 3]        # floor(o*0.5 + 0.5)
    assert square_shape(32 * 32) == (32, 32) and square_shape(10) is None


def test_png_is_a_valid_greyscale_png_with_the_pixels():
    img = np.array([[0, 128], [255, 7]], dtype=np.uint8)
    data = png_gray8(img)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (w, h, depth, colour) == (2, 2, 8, 0)
    idat = data.index(b"IDAT")
    n = struct.unpack(">I", data[idat - 4:idat])[0]
    raw = zlib.decompress(data[idat + 4:idat + 4 + n])
    assert raw == b"\x00\x00\x80\x00\xff\x07"         # filter byte 0 before each row


def test_previews_scale_and_diff_only_when_asked():
    c = np.array([[0, 1], [2, 4]], dtype=np.float32)
    files = preview_files(c, c, 100.0, with_diff=False)
    assert set(files) == {"c.png", "py.png"}
    assert set(preview_files(c, c, 100.0, with_diff=True)) == {"c.png", "py.png", "diff.png"}
    # identical images: the difference is mid-grey, not NaN garbage
    assert (diff_uint8(np.zeros((3, 3), np.float32), 99.5) == 127).all()


def test_resolution_order(tmp_path, monkeypatch):
    (tmp_path / "golden_suite_generator").mkdir()
    golden = tmp_path / "golden_suite_generator" / "nanoBragg"
    golden.write_bytes(b"x")
    (tmp_path / "nanoBragg").write_bytes(b"x")
    explicit = tmp_path / "mine"
    explicit.write_bytes(b"x")
    env = {"NB_C_BIN": str(tmp_path / "nanoBragg"), "PATH": ""}
    assert locate.find_c_binary(str(explicit), env, tmp_path) == explicit.resolve()
    assert locate.find_c_binary(None, env, tmp_path) == (tmp_path / "nanoBragg").resolve()
    assert locate.find_c_binary(None, {}, tmp_path) == golden.resolve()
    with pytest.raises(locate.NotFound, match="--c-bin"):
        locate.find_c_binary("nope", env, tmp_path)
    with pytest.raises(locate.NotFound, match="NB_C_BIN"):
        locate.find_c_binary(None, {"NB_C_BIN": "gone"}, tmp_path)
    assert locate.find_py_command("run.py", {"NB_PY_BIN": "x"}) == ["python", "run.py"]
    assert locate.find_py_command(None, {"NB_PY_BIN": "x", "PATH": ""}) == ["x"]
    assert locate.find_py_command(None, {"PATH": ""}) == ["python", "-m", "nanobrag_torch"]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    nb = bindir / "nanoBragg"
    nb.write_text("#!/bin/sh\n")
    nb.chmod(0o755)
    assert locate.find_py_command(None, {"PATH": str(bindir)}) == ["nanoBragg"]


def test_options_their_flags_and_usage_errors():
    o = parse_options(["--roi", "1", "2", "3", "4", "--threshold", "0.9", "--resample", "--png-scale", "90",
                       "--save-diff", "--c-bin", "c", "--py-bin", "p", "--outdir", "d", "--", "-N", "1"])
    assert (o.roi, o.threshold, o.resample, o.png_scale, o.save_diff) == ((1, 2, 3, 4), 0.9, True, 90.0, True)
    assert (o.c_bin, o.py_bin, o.outdir, o.args) == ("c", "p", Path("d"), ("-N", "1"))
    for bad in (["--"], ["--threshold", "x", "--", "-N", "1"], ["--png-scale", "101", "--", "-N", "1"],
                ["--roi", "1", "2", "--", "-N", "1"], ["--bogus", "--", "-N", "1"]):
        with pytest.raises(Usage):
            parse_options(bad)
    with pytest.raises(Usage, match="xmin <= xmax"):
        check_roi((0, 64, 0, 10), (64, 64))       # xmax is inclusive: 64 is off a 64-wide detector
    check_roi((0, 63, 0, 63), (64, 64))


def test_default_outdir_name_and_no_overwrite(tmp_path):
    import datetime as dt
    import hashlib
    when = dt.datetime(2026, 12, 6, 21, 5, 7)
    args = ["-N", "1", "-detpixels", "64"]
    want = f"20261206-210507-{hashlib.md5(b'-N 1 -detpixels 64').hexdigest()[:8]}"
    first = default_outdir(args, when, tmp_path)
    assert first == tmp_path / "comparisons" / want
    first.mkdir(parents=True)
    assert default_outdir(args, when, tmp_path).name == want + "-2"


def test_worst_pixel_inside_the_roi():
    c = np.zeros((8, 8), np.float32)
    p = c.copy()
    p[1, 1], p[6, 5] = 9.0, 2.0
    assert worst_pixel(c, p, None) == (1, 1)
    assert worst_pixel(c, p, (4, 7, 4, 7)) == (6, 5)
