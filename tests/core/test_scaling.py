"""Qt-free display helpers of the GUI: scaling, max downsampling, difference modes, image loading, panel PNGs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.core import difference as diffmod
from app.core.image_loading import ImageLoadError, load_image
from app.core.scaling import (Levels, colorize, downsample_factor, downsample_max, inverse_value, log_floor,
                              percentile_levels, symmetric_levels, transform, transform_value)


def test_log_scale_survives_zero_and_negative_pixels():
    a = np.array([[0.0, -5.0], [1e-3, 100.0]], dtype=np.float32)
    t = transform(a, "log")
    assert np.all(np.isfinite(t))
    fl = log_floor(a)
    assert fl == pytest.approx(5e-4)
    assert t[0, 0] == pytest.approx(math.log10(fl)) and t[0, 1] == t[0, 0]
    assert t[1, 1] == pytest.approx(2.0)
    assert np.all(np.isfinite(transform(np.zeros((3, 3), np.float32), "log")))  # all-zero image


def test_sqrt_and_inverse_roundtrip():
    a = np.array([[-1.0, 0.0, 4.0]], dtype=np.float32)
    assert transform(a, "sqrt").tolist() == [[0.0, 0.0, 2.0]]
    for scale in ("linear", "sqrt", "log"):
        assert inverse_value(transform_value(9.0, scale, 1e-9), scale) == pytest.approx(9.0)
    with pytest.raises(ValueError, match="unknown scale"):
        transform(a, "cubic")


def test_percentile_levels_shared_and_ordered():
    rng = np.random.default_rng(0)
    c = rng.exponential(1.0, (64, 64)).astype(np.float32)
    py = c * 2
    lv = percentile_levels([c, py], 99.5, "linear")
    assert lv.low < lv.high
    assert lv.high == pytest.approx(np.percentile(np.concatenate([c.ravel(), py.ravel()]), 99.5), rel=1e-6)
    flat = percentile_levels([np.ones((4, 4), np.float32)], 99.5, "log")
    assert flat.low < flat.high  # a constant image still gets a usable range
    assert percentile_levels([], 99.5).as_tuple() == (0.0, 1.0)


def test_symmetric_levels_centre_on_zero():
    d = np.array([-3.0, 1.0, 2.0, 0.0], dtype=np.float32)
    lv = symmetric_levels(d, 100.0)
    assert lv == Levels(-3.0, 3.0)
    assert symmetric_levels(np.zeros(5, np.float32)) == Levels(-1.0, 1.0)


def test_max_downsampling_keeps_single_pixel_peak():
    a = np.zeros((1000, 999), dtype=np.float32)
    a[517, 3] = 1234.0
    ds = downsample_max(a, 8, 8)
    assert ds.shape == (125, 125)
    assert ds.max() == 1234.0 and ds[517 // 8, 0] == 1234.0
    # the mean would have diluted it 64 times
    d = np.zeros((4, 4), np.float32)
    d[1, 1] = -7.0
    d[2, 2] = 3.0
    sd = downsample_max(d, 4, 4, signed=True)
    assert sd.tolist() == [[-7.0]]
    x = np.random.default_rng(1).random((37, 53)).astype(np.float32)
    ref = np.array([[x[i * 4:i * 4 + 4, j * 4:j * 4 + 4].max() for j in range(14)] for i in range(10)])
    assert np.array_equal(downsample_max(x, 4, 4), ref)
    x[0:4, 0:4] = np.nan
    x[5, 5] = np.nan
    r = downsample_max(x, 4, 4)
    assert np.isnan(r[0, 0]) and r[1, 1] == np.nanmax(x[4:8, 4:8])
    assert downsample_factor(1.0) == 1 and downsample_factor(5.3) == 4 and downsample_factor(float("nan")) == 1


def test_colorize_uses_levels():
    lut = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)
    rgb = colorize(np.array([[0.0, 0.5, 1.0, 2.0]]), Levels(0.0, 1.0), lut)
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 255]


def test_difference_modes():
    c = np.array([[1.0, 0.0, 10.0]], np.float32)
    p = np.array([[0.5, 0.0, 10.0]], np.float32)
    assert diffmod.difference(c, p, "diff").tolist() == [[0.5, 0.0, 0.0]]
    rel = diffmod.difference(c, p, "relative", floor=1e-3)
    assert rel[0, 0] == pytest.approx(0.5) and rel[0, 1] == 0.0
    lr = diffmod.difference(c, p, "logratio", floor=1e-3)
    assert lr[0, 0] == pytest.approx(math.log10(2)) and lr[0, 1] == 0.0 and np.all(np.isfinite(lr))
    with pytest.raises(ValueError, match="shape"):
        diffmod.difference(c, np.zeros((2, 2), np.float32), "diff")
    mask = diffmod.beyond_tolerance(c, p, diffmod.Tolerance(rtol=1e-3))
    assert mask.tolist() == [[True, False, False]]
    # same count as the metrics' rule
    from tracing.metrics import compare_images
    rng = np.random.default_rng(1)
    a = rng.exponential(1.0, (50, 50)).astype(np.float32)
    b = a * (1 + rng.normal(0, 1e-5, a.shape)).astype(np.float32)
    m = compare_images(a, b, tol_rel=1e-5)
    assert int(diffmod.beyond_tolerance(a, b, diffmod.Tolerance(rtol=1e-5)).sum()) == m.n_beyond_tol


def test_load_raw_and_fabio_images(tmp_path):
    img = np.arange(12, dtype=np.float32).reshape(3, 4)
    raw = tmp_path / "img.bin"
    img.astype("<f4").tofile(raw)
    assert np.array_equal(load_image(raw, (3, 4)), img)
    with pytest.raises(ImageLoadError, match="bytes"):
        load_image(raw, (4, 4))
    with pytest.raises(ImageLoadError, match="no header"):
        load_image(raw, None)
    import fabio.edfimage
    edf = tmp_path / "img.edf"
    fabio.edfimage.EdfImage(data=img).write(str(edf))
    assert np.array_equal(load_image(edf), img)
    bad = tmp_path / "junk.cbf"
    bad.write_text("not an image")
    with pytest.raises(ImageLoadError, match="junk.cbf"):
        load_image(bad)
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.tif")


def test_panel_pngs_without_window(tmp_path, qapp):
    from PySide6 import QtGui

    from app.bundle.panel_png import write_panel_pngs
    c = np.zeros((40, 60), np.float32)
    c[10, 20] = 100.0
    py = c.copy()
    py[10, 20] = 90.0
    paths = write_panel_pngs(tmp_path, c, py, scale="log", percentile=99.5)
    assert [p.name for p in paths] == ["panel_a.png", "panel_b.png", "panel_diff.png"]
    for p in paths:
        im = QtGui.QImage(str(p))
        assert not im.isNull() and im.width() > 60 and im.height() > 40
