"""Predicted reflections and resolution rings (app.core.predict), against d = λ / (2 sin θ) and against our engine's
brightest pixels on CLI-FLAGS-003 (data from ../shared; ROIs keep the renders around a second each)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.core import predict
from app.core.known_cases import cli_flags_003_args
from simulator.argv import parse_argv
from simulator.config import NanoBraggConfig
from simulator.setup import build_setup
from tracing.metrics import local_maxima


def config_of(args: list[str]) -> NanoBraggConfig:
    p = parse_argv(args)
    return p.config if hasattr(p, "config") else p[0]


def test_rings_on_a_square_on_detector_have_radius_distance_tan_two_theta():
    # A detector square to the beam (MOSFLM, beam centre in the middle): the ring of d lies at
    # r = distance · tan(2θ), 2θ = 2 asin(λ / 2d), around the beam centre.
    cfg = config_of("-cell 50 60 70 90 90 90 -default_F 10 -N 5 -lambda 1.0 -distance 100 -pixel 0.1 "
                    "-detpixels 1000 -Xbeam 50 -Ybeam 50".split())
    frame = predict.DetectorFrame.from_setup(build_setup(cfg))
    cx, cy, _ = frame.project(frame.incident[None, :])   # the direct beam (MOSFLM puts it half a pixel off 500)
    assert abs(cx[0] - 500.0) <= 0.5 and abs(cy[0] - 500.0) <= 0.5
    for d in (5.0, 3.0, 2.0):
        x, y = predict.ring_points(frame, d)
        r_px = np.hypot(x - cx[0], y - cy[0])
        expected = 100.0 * math.tan(2 * math.asin(1.0 / (2 * d))) / 0.1
        np.testing.assert_allclose(r_px, expected, rtol=1e-9)
        np.testing.assert_allclose(frame.d_spacing(x, y), d, rtol=1e-9)
    assert predict.ring_points(frame, 0.4)[0].size == 0          # λ/2d > 1: no ring
    # The edge ring: the nearest border, (50 mm − the beam's offset) from the beam at 100 mm.
    near_mm = 0.1 * min(cx[0], cy[0], 1000 - cx[0], 1000 - cy[0])
    assert predict.edge_resolution(frame) == pytest.approx(1.0 / (2 * math.sin(math.atan(near_mm / 100) / 2)),
                                                           rel=1e-6)
    assert predict.parse_d_list("3.5, 2 1.5") == [3.5, 2.0, 1.5]
    with pytest.raises(ValueError, match="'x'"):
        predict.parse_d_list("3 x")


def test_rings_on_cli_flags_003_follow_its_tilted_detector(cli_flags_003):
    frame = predict.DetectorFrame.from_setup(build_setup(config_of(cli_flags_003_args(cli_flags_003))))
    for d in (4.0, 2.5, predict.edge_resolution(frame)):
        x, y = predict.ring_points(frame, d)
        ok = np.isfinite(x)
        assert ok.all()
        # Every ring point's own 2θ gives back d through d = λ / (2 sin θ).
        pos = frame.position(x, y)
        two_theta = np.arccos(pos @ frame.incident / np.linalg.norm(pos, axis=1))
        np.testing.assert_allclose(frame.lambda_m * 1e10 / (2 * np.sin(two_theta / 2)), d, rtol=1e-9)
    # The edge ring touches the border and stays on the image.
    x, y = predict.ring_points(frame, predict.edge_resolution(frame), n=4000)
    s_n, f_n = frame.shape
    assert x.min() >= -0.5 and x.max() <= f_n + 0.5 and y.min() >= -0.5 and y.max() <= s_n + 0.5
    assert min(x.min(), y.min(), f_n - x.max(), s_n - y.max()) < 1.0


# Two ROIs of CLI-FLAGS-003 (xmin xmax ymin ymax, inclusive) around the strongest predicted spots.
ROIS = [(493, 876, 847, 1230), (1240, 1539, 760, 1059)]


@pytest.mark.parametrize("roi", ROIS)
def test_predicted_spots_sit_on_the_engines_brightest_pixels(cli_flags_003, roi):
    from simulator.engine import render
    cfg = config_of(cli_flags_003_args(cli_flags_003, roi))
    img = render(cfg).image
    xmin, xmax, ymin, ymax = roi
    sub = img[ymin:ymax + 1, xmin:xmax + 1]
    spots = predict.predict_spots(build_setup(cfg), roi=roi)
    assert spots, "no reflection predicted in the ROI"
    # Every predicted spot with intensity (strength |F|²·L at least 1e-4 of the ROI's strongest) lies within
    # 2 px of a local maximum of the image that stands far above the background (100x the median).
    top = spots[0].strength
    strong = [s for s in spots if s.strength >= 1e-4 * top]
    floor = 100.0 * float(np.median(sub))
    for s in strong:
        sl, fa = s.pixel
        win = img[sl - 2:sl + 3, fa - 2:fa + 3]
        ds, df = np.unravel_index(int(np.argmax(win)), win.shape)
        ps, pf = sl - 2 + ds, fa - 2 + df
        assert win.max() > floor, (s, win.max(), floor)
        assert img[ps, pf] >= img[ps - 1:ps + 2, pf - 1:pf + 2].max(), f"{s.label()} is not at a peak"
    # And vice versa: each of the image's top peaks (above 1% of its maximum, side lobes within 10 px of a
    # brighter peak left out) has a predicted spot within 2 px.
    peaks = [(a + ymin, b + xmin) for a, b in local_maxima(sub, 99.9, 50)]
    peaks = [p for p in peaks if img[p] >= 0.01 * sub.max()]
    kept: list[tuple[int, int]] = []
    for p in sorted(peaks, key=lambda p: -img[p]):
        if all(math.hypot(p[0] - q[0], p[1] - q[1]) > 10 for q in kept):
            kept.append(p)
    assert kept
    for p in kept:
        near = predict.nearest_spot(spots, *p)
        assert near is not None and near[1] <= 2.0 + math.sqrt(0.5), (p, img[p], near)
