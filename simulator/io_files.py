"""Output files as the C writes them (spec 9.3, 9.5, 10.2-10.4), numpy only (torch-free).

Images are float32 arrays (slow, fast) of photons/pixel. `roi` = (xmin, xmax, ymin, ymax) inclusive; pixels
outside it are 0 in every output (no ADC offset). Every file is written to a temporary name and then renamed, so a
file is either whole or absent.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

INT_SCALE_TARGET = 55000.0
SMV_HEADER_BYTES = 512


@dataclass
class SMVHeader:
    """The resolved values an SMV header reports (mm, Angstrom, degrees, pixels), spec 10.3."""

    fpixels: int
    spixels: int
    pixel_mm: float
    distance_mm: float
    wavelength_A: float
    beam_center_x_mm: float     # Xbeam as given or defaulted
    beam_center_y_mm: float
    adxv_center_x_mm: float     # Fbeam
    adxv_center_y_mm: float     # detsize_s - Sbeam
    mosflm_center_x_mm: float   # Sbeam - px/2
    mosflm_center_y_mm: float   # Fbeam - px/2
    denzo_x_beam_mm: float      # Sbeam
    denzo_y_beam_mm: float      # Fbeam
    dials_origin_mm: tuple[float, float, float]
    xds_orgx: float
    xds_orgy: float
    close_distance_mm: float
    phi_deg: float
    osc_deg: float
    twotheta_deg: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dials_origin_mm"] = list(self.dials_origin_mm)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SMVHeader:
        d = dict(d)
        d["dials_origin_mm"] = tuple(d["dials_origin_mm"])
        return cls(**d)


def _atomic_write(path: str | os.PathLike, data: bytes) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, p)


def write_float(path: str | os.PathLike, image: np.ndarray) -> None:
    """Raw native-endian float32, row-major (slow, fast), no header (spec 10.2)."""
    _atomic_write(path, np.ascontiguousarray(image, dtype=np.float32).tobytes())


def roi_mask(shape: tuple[int, int], roi: tuple[int, int, int, int]) -> np.ndarray:
    """Boolean (slow, fast) mask of the inclusive ROI."""
    xmin, xmax, ymin, ymax = roi
    m = np.zeros(shape, dtype=bool)
    m[max(0, ymin):ymax + 1, max(0, xmin):xmax + 1] = True
    return m


def int_scale(image: np.ndarray, roi: tuple[int, int, int, int], scale: float = 0.0) -> float:
    """`-scale` if > 0, else 55000/max over the ROI (1 if the max is not positive), spec 9.3."""
    if scale > 0:
        return float(scale)
    m = roi_mask(image.shape, roi)
    mx = float(image[m].max()) if m.any() else 0.0
    return INT_SCALE_TARGET / mx if mx > 0 else 1.0


def int_image(image: np.ndarray, roi: tuple[int, int, int, int], scale: float, adc: float = 40.0) -> np.ndarray:
    """uint16 (slow, fast): floorf(clamp(v*scale + adc, 0, 65535) + 0.5) inside the ROI, 0 outside (spec 9.3).

    As nanoBragg's `floorf`: the double v + 0.5 is rounded to float32 first, then floored (spec 9.3, corrected), so
    a value just below k - 0.5 that rounds to k - 0.5 in float gives k, not k - 1."""
    v = image.astype(np.float32).astype(np.float64) * scale + adc
    v = np.floor((np.clip(v, 0.0, 65535.0) + 0.5).astype(np.float32)).astype(np.float64)
    out = np.where(roi_mask(image.shape, roi), v, 0.0)
    return np.minimum(out, 65535).astype(np.uint16)


def smv_header_text(h: SMVHeader, byte_order: str | None = None) -> bytes:
    """The SMV header: `{`, KEY=value; lines in the C's order (%g), DIALS_ORIGIN without `;`, then `}` + form
    feed, padded with spaces to 512 bytes. A longer header (long %g values) is returned whole and unpadded, as the C
    writes it (its HEADER_BYTES=512 is then wrong; readers must scan for the form feed)."""
    bo = byte_order or ("little_endian" if sys.byteorder == "little" else "big_endian")
    g = lambda x: f"{x:g}"  # noqa: E731
    lines = [
        f"HEADER_BYTES={SMV_HEADER_BYTES};", "DIM=2;", f"BYTE_ORDER={bo};", "TYPE=unsigned_short;",
        f"SIZE1={h.fpixels};", f"SIZE2={h.spixels};", f"PIXEL_SIZE={g(h.pixel_mm)};",
        f"DISTANCE={g(h.distance_mm)};", f"WAVELENGTH={g(h.wavelength_A)};",
        f"BEAM_CENTER_X={g(h.beam_center_x_mm)};", f"BEAM_CENTER_Y={g(h.beam_center_y_mm)};",
        f"ADXV_CENTER_X={g(h.adxv_center_x_mm)};", f"ADXV_CENTER_Y={g(h.adxv_center_y_mm)};",
        f"MOSFLM_CENTER_X={g(h.mosflm_center_x_mm)};", f"MOSFLM_CENTER_Y={g(h.mosflm_center_y_mm)};",
        f"DENZO_X_BEAM={g(h.denzo_x_beam_mm)};", f"DENZO_Y_BEAM={g(h.denzo_y_beam_mm)};",
        "DIALS_ORIGIN={}".format(",".join(g(x) for x in h.dials_origin_mm)),
        f"XDS_ORGX={g(h.xds_orgx)};", f"XDS_ORGY={g(h.xds_orgy)};", f"CLOSE_DISTANCE={g(h.close_distance_mm)};",
        f"PHI={g(h.phi_deg)};", f"OSC_START={g(h.phi_deg)};", f"OSC_RANGE={g(h.osc_deg)};",
        f"TWOTHETA={g(h.twotheta_deg)};", "DETECTOR_SN=000;", "BEAMLINE=fake;",
    ]
    text = ("{\n" + "\n".join(lines) + "\n}\f").encode("ascii")
    return text + b" " * max(0, SMV_HEADER_BYTES - len(text))


def write_smv(path: str | os.PathLike, header: SMVHeader, data: np.ndarray) -> str | None:
    """SMV file: header then native uint16 (slow, fast) row-major. Returns a warning when the header is longer
    than 512 bytes (written whole, like the C), else None."""
    if data.shape != (header.spixels, header.fpixels):
        raise ValueError(f"image shape {data.shape} does not match SIZE2 x SIZE1 {header.spixels} x {header.fpixels}")
    head = smv_header_text(header)
    _atomic_write(path, head + np.ascontiguousarray(data, dtype=np.uint16).tobytes())
    if len(head) > SMV_HEADER_BYTES:
        return (f"WARNING: the SMV header of {path} is {len(head)} bytes, longer than its HEADER_BYTES="
                f"{SMV_HEADER_BYTES} (as nanoBragg writes it)")
    return None


def pgm_scale(image: np.ndarray, roi: tuple[int, int, int, int], intfile_scale: float, rmsd: float,
              pgmscale: float = 0.0) -> float:
    """`-pgmscale` if > 0; else 250/(5*rmsd) when rmsd > 0, else the int-file scale (spec 9.5)."""
    if pgmscale > 0:
        return float(pgmscale)
    return 250.0 / (5.0 * rmsd) if rmsd > 0 else intfile_scale


def pgm_bytes(image: np.ndarray, roi: tuple[int, int, int, int], scale: float) -> bytes:
    """P5 PGM: header with `# pixels scaled by <scale>` then (unsigned char) min(255, v*scale), 0 outside the ROI."""
    v = np.minimum(255.0, image.astype(np.float64) * scale)
    v = np.where(roi_mask(image.shape, roi) & (v > 0), np.floor(v), 0.0).astype(np.uint8)
    head = f"P5\n{image.shape[1]} {image.shape[0]}\n# pixels scaled by {scale:g}\n255\n".encode("ascii")
    return head + v.tobytes()


def write_pgm(path: str | os.PathLike, image: np.ndarray, roi: tuple[int, int, int, int], scale: float) -> None:
    _atomic_write(path, pgm_bytes(image, roi, scale))


def header_from_setup(setup) -> SMVHeader:
    """SMVHeader from a resolved simulator.setup.Setup (post-geometry values, spec 3.9)."""
    g = setup.geometry
    o = g.dials_origin_mm
    mm = 1000.0
    return SMVHeader(
        fpixels=g.fpixels, spixels=g.spixels, pixel_mm=g.px * mm, distance_mm=g.distance * mm,
        wavelength_A=setup.beam.lambda0 * 1e10, beam_center_x_mm=g.Xbeam * mm, beam_center_y_mm=g.Ybeam * mm,
        adxv_center_x_mm=g.Fbeam * mm, adxv_center_y_mm=(g.detsize_s - g.Sbeam) * mm,
        mosflm_center_x_mm=(g.Sbeam - 0.5 * g.px) * mm, mosflm_center_y_mm=(g.Fbeam - 0.5 * g.px) * mm,
        denzo_x_beam_mm=g.Sbeam * mm, denzo_y_beam_mm=g.Fbeam * mm,
        dials_origin_mm=(float(o[0]), float(o[1]), float(o[2])), xds_orgx=g.orgx, xds_orgy=g.orgy,
        close_distance_mm=g.close_distance * mm, phi_deg=math.degrees(setup.phi.phi0),
        osc_deg=math.degrees(setup.phi.osc), twotheta_deg=math.degrees(g.twotheta),
    )
