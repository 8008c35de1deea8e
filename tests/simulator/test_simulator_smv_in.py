"""SMV header reading for -mask/-img (spec 3.14)."""
from __future__ import annotations

import numpy as np

from simulator.config import NanoBraggConfig
from simulator.io_files import SMVHeader, write_smv
from simulator.smv_in import apply_smv_headers, header_value, read_mask


def _header() -> SMVHeader:
    return SMVHeader(fpixels=4, spixels=3, pixel_mm=0.2, distance_mm=150, wavelength_A=1.5, beam_center_x_mm=0.3,
                     beam_center_y_mm=0.25, adxv_center_x_mm=0.4, adxv_center_y_mm=0.2, mosflm_center_x_mm=0.2,
                     mosflm_center_y_mm=0.3, denzo_x_beam_mm=0.3, denzo_y_beam_mm=0.4, dials_origin_mm=(1, 2, 3),
                     xds_orgx=2.5, xds_orgy=1.5, close_distance_mm=149, phi_deg=5, osc_deg=0.5, twotheta_deg=7)


def test_header_quirks(tmp_path):
    """The C takes the LAST substring match: in a nanoBragg header DISTANCE reads CLOSE_DISTANCE (149), ORGX
    reads XDS_ORGX; the mask's BEAM_CENTER_Y is flipped to detsize_s - value; -img is applied after -mask."""
    p = tmp_path / "a.img"
    write_smv(p, _header(), np.array([[1, 0, 2, 3], [4, 5, 0, 6], [7, 8, 9, 0]], dtype=np.uint16))
    text = p.read_bytes()[:512].decode()
    assert header_value(text, "DISTANCE") == 149 and header_value(text, "ORGX") == 2.5
    cfg = NanoBraggConfig()
    cfg.detector.mask_file = str(p)
    assert apply_smv_headers(cfg) == []
    d = cfg.detector
    assert (d.fpixels, d.spixels, d.pixel_mm) == (4, 3, 0.2)
    assert d.distance_mm == 149 and d.close_distance_mm == 149 and d.orgx_px == 2.5
    assert abs(d.ybeam_mm - (0.6 - 0.25)) < 1e-12            # detsize_s = 3 * 0.2 mm
    assert cfg.beam.lambda_A == 1.5 and cfg.sampling.phi_deg == 5 and cfg.sampling.osc_deg == 0.5
    cfg.detector.img_file = str(p)
    apply_smv_headers(cfg)
    assert cfg.detector.ybeam_mm == 0.25                     # -img wins, unflipped
    m = read_mask(str(p), 3, 4)
    np.testing.assert_array_equal(m, [[1, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]])
