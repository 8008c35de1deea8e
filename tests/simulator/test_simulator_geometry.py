"""Detector geometry of the PyTorch engine against figures stated in the spec (nanobragg.md sections 3 and 12)."""
from __future__ import annotations

import numpy as np
import pytest

from simulator.config import ConfigError, DetectorConfig
from simulator.geometry import build_geometry


def test_at_geo_001_pix0():
    """AT-GEO-001: MOSFLM, Xbeam = Ybeam = 51.2 mm, distance 100 mm, px 0.1 mm: Fbeam = Sbeam = 51.25 mm
    (the +1/2 px) and pix0 = -Fbeam*f - Sbeam*s + distance*b = [0.1, 0.05125, -0.05125] m within 1e-9 m."""
    g = build_geometry(DetectorConfig(xbeam_mm=51.2, ybeam_mm=51.2, distance_mm=100, pixel_mm=0.1))
    assert g.pivot == "BEAM"
    assert g.Fbeam == pytest.approx(0.05125, abs=1e-12)
    assert g.Sbeam == pytest.approx(0.05125, abs=1e-12)
    np.testing.assert_allclose(g.pix0, [0.1, 0.05125, -0.05125], atol=1e-9)


def test_mosflm_default_beam_centre_is_51_3_mm():
    """Spec 3.5: MOSFLM default on 1024 x 0.1 mm: Xbeam = (102.4 + 0.1)/2 = 51.25 mm, plus 1/2 px -> 51.3 mm."""
    g = build_geometry(DetectorConfig(fpixels=1024, spixels=1024))
    assert (g.fpixels, g.spixels) == (1024, 1024)
    assert g.Fbeam == pytest.approx(0.0513, abs=1e-12)
    assert g.Sbeam == pytest.approx(0.0513, abs=1e-12)


def test_detsize_gives_ceil_pixel_count():
    """Spec 3.1: -detsize 100 -pixel 0.1 gives ceil(1000 - 0.5) = 1000 pixels."""
    g = build_geometry(DetectorConfig(detsize_f_mm=100, detsize_s_mm=100, pixel_mm=0.1))
    assert (g.fpixels, g.spixels) == (1000, 1000)


def cli_flags_003_detector() -> DetectorConfig:
    """The detector part of the spec 12.1 command (CUSTOM because of the vector flags; -twotheta 0 -> SAMPLE)."""
    return DetectorConfig(
        convention="CUSTOM", pivot="SAMPLE", xbeam_mm=217.742295, ybeam_mm=213.907080, distance_mm=231.274660,
        pixel_mm=0.172, fpixels=2463, spixels=2527, odet_vector=(-0.000088, 0.004914, -0.999988),
        sdet_vector=(-0.005998, -0.999970, -0.004913), fdet_vector=(0.999982, -0.005998, -0.000118),
        beam_vector=(0.00051387949, 0.0, -0.99999986), spindle_axis=(-1, 0, 0),
        pix0_vector_m=(-0.216336293, 0.215205512, -0.230200866),
    )


def test_cli_flags_003_geometry():
    """Spec 12.2: odet replaced by f x s = (-8.85283e-05, 0.00491362, -0.999988); r = 0.999987746654913;
    close_distance = 0.231271826111781 m; distance stays 0.23127466 m; pix0 = (-0.216475836204836,
    0.216343050492215, -0.230192414300537) m (the -pix0_vector_mm is ignored); Fbeam = 0.217889,
    Sbeam = 0.215043 m; DIALS origin (-230.192, 216.343, 216.476) mm."""
    g = build_geometry(cli_flags_003_detector())
    assert g.pivot == "SAMPLE"
    np.testing.assert_allclose(g.odet, [-8.85283e-05, 0.00491362, -0.999988], rtol=1e-5)
    assert g.ratio == pytest.approx(0.999987746654913, rel=1e-13)
    assert g.close_distance == pytest.approx(0.231271826111781, rel=1e-13)
    assert g.distance == pytest.approx(0.23127466, rel=1e-13)
    np.testing.assert_allclose(g.pix0, [-0.216475836204836, 0.216343050492215, -0.230192414300537], atol=1e-14)
    assert g.Fbeam == pytest.approx(0.217889, abs=5e-7)
    assert g.Sbeam == pytest.approx(0.215043, abs=5e-7)
    np.testing.assert_allclose(g.dials_origin_mm, [-230.192, 216.343, 216.476], atol=5e-4)
    assert "auto-generating odet_vector" in g.warnings


def test_convention_forces_pivot():
    """Spec 3.6: MOSFLM forces BEAM even with -pivot sample; XDS forces SAMPLE; CUSTOM keeps the CLI pivot."""
    assert build_geometry(DetectorConfig(pivot="SAMPLE")).pivot == "BEAM"
    assert build_geometry(DetectorConfig(convention="XDS", pivot="BEAM")).pivot == "SAMPLE"
    assert build_geometry(DetectorConfig(convention="CUSTOM", pivot="SAMPLE")).pivot == "SAMPLE"


def test_custom_default_beam_centre_is_geometric_centre():
    """C-DESIGN-FLAW-001 (spec 8.4): on a 4x4, 0.1 mm detector the default Fbeam goes from 0.3 mm (MOSFLM) to
    0.2 mm (CUSTOM)."""
    assert build_geometry(DetectorConfig(fpixels=4, spixels=4)).Fbeam == pytest.approx(3e-4, abs=1e-15)
    g = build_geometry(DetectorConfig(fpixels=4, spixels=4, convention="CUSTOM", spindle_axis=(0, 0, 1)))
    assert g.Fbeam == pytest.approx(2e-4, abs=1e-15)


def test_pix0_vector_is_ignored():
    """Spec 3.8: -pix0_vector_mm 0 0 200 on a 2x2, 0.1 mm, 100 mm detector gives the default CUSTOM BEAM-pivot
    value DETECTOR_PIX0_VECTOR 0.1 0.0001 -0.0001."""
    g = build_geometry(DetectorConfig(fpixels=2, spixels=2, convention="CUSTOM", pix0_vector_m=(0, 0, 200)))
    np.testing.assert_allclose(g.pix0, [0.1, 0.0001, -0.0001], atol=1e-15)


def test_thickness_layers():
    """Spec 3.13: only a thickness -> 2 layers with step thick/2; thick and N -> step thick/(N-1);
    only N -> 1 layer, no thickness."""
    g = build_geometry(DetectorConfig(thick_um=100))
    assert (g.thicksteps, g.thickstep, g.mu) == (2, pytest.approx(50e-6), pytest.approx(1 / 100e-6))
    g = build_geometry(DetectorConfig(thick_um=90, thicksteps=4, abs_um=500))
    assert (g.thicksteps, g.thickstep, g.mu) == (4, pytest.approx(30e-6), pytest.approx(1 / 500e-6))
    g = build_geometry(DetectorConfig(thicksteps=5))
    assert (g.thicksteps, g.thick) == (1, 0.0)


def test_bad_pixel_size_is_config_error():
    with pytest.raises(ConfigError, match="-pixel"):
        build_geometry(DetectorConfig(pixel_mm=0.0))
