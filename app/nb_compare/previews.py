"""nb-compare's preview PNGs (8-bit greyscale, stdlib zlib only): c.png and py.png on one linear scale from 0 to a
percentile of the positive pixels of both images; diff.png (py - c) on a symmetric scale, mid-grey = 0."""
from __future__ import annotations

import struct
import zlib

import numpy as np


def png_gray8(img: np.ndarray) -> bytes:
    """An (h, w) uint8 array as PNG bytes (colour type 0, bit depth 8, no filter)."""
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def image_scale(c_img: np.ndarray, py_img: np.ndarray, percentile: float) -> float:
    """Top of the linear scale: `percentile` of the positive pixels of both images together (1.0 when none)."""
    both = np.concatenate([c_img[c_img > 0].ravel(), py_img[py_img > 0].ravel()])
    return float(np.percentile(both, percentile)) if both.size else 1.0


def to_uint8(img: np.ndarray, vmax: float) -> np.ndarray:
    """Linear 0..vmax -> 0..255, clipped."""
    if not vmax > 0:
        return np.zeros(img.shape, dtype=np.uint8)
    return np.clip(img / vmax * 255, 0, 255).astype(np.uint8)


def diff_uint8(diff: np.ndarray, percentile: float) -> np.ndarray:
    """-v..+v -> 0..255 with v the `percentile` of |diff|; all mid-grey (127) when v is 0 (identical images)."""
    v = float(np.percentile(np.abs(diff), percentile)) if diff.size else 0.0
    if not v > 0:
        return np.full(diff.shape, 127, dtype=np.uint8)
    return np.clip((diff + v) / (2 * v) * 255, 0, 255).astype(np.uint8)


def preview_files(c_img: np.ndarray, py_img: np.ndarray, percentile: float, with_diff: bool) -> dict[str, bytes]:
    """{"c.png", "py.png"[, "diff.png"]} -> PNG bytes. 2-D images of one shape."""
    vmax = image_scale(c_img, py_img, percentile)
    files = {"c.png": png_gray8(to_uint8(c_img, vmax)), "py.png": png_gray8(to_uint8(py_img, vmax))}
    if with_diff:
        files["diff.png"] = png_gray8(diff_uint8(py_img - c_img, percentile))
    return files
