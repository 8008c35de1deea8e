"""Loading existing images as either side of the comparison: SMV, CBF, EDF, TIFF via fabio; raw float32 .bin.

Raw `.bin` files (the C's -floatfile) carry no header: their shape comes from the command line (spixels, fpixels),
and the file size must match exactly. Every failure is an ImageLoadError whose message names the file and what was
expected.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

RAW_SUFFIXES = (".bin", ".raw", ".float")
FABIO_FILTER = "Images (*.img *.smv *.cbf *.edf *.tif *.tiff *.bin *.raw *.float);;All files (*)"


class ImageLoadError(ValueError):
    """The file could not be read as a detector image; the message says why."""


def load_raw_float32(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A headerless little-endian float32 file of shape (slow, fast)."""
    s, f = shape
    expected = s * f * 4
    size = path.stat().st_size
    if size != expected:
        raise ImageLoadError(f"{path.name}: {size} bytes, but the command line's detector is {s} x {f} "
                             f"(slow x fast) float32 = {expected} bytes; fix -detpixels or choose another file")
    # No copy on little-endian machines ('<f4' is float32 there): multi-megapixel files load in milliseconds.
    return np.fromfile(path, dtype="<f4").reshape(s, f).astype(np.float32, copy=False)


def load_image(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image as float32 (slow, fast). `shape` is needed for raw .bin files only."""
    p = Path(path)
    if not p.is_file():
        raise ImageLoadError(f"{p}: {'a folder, not an image file' if p.is_dir() else 'no such file'}")
    if p.suffix.lower() in RAW_SUFFIXES:
        if shape is None:
            raise ImageLoadError(f"{p.name}: a raw float file has no header; its size comes from the command line, "
                                 "which is not valid yet")
        return _finite(p, load_raw_float32(p, shape))
    try:
        import fabio
        img = fabio.open(str(p))
        data = np.asarray(img.data)
    except Exception as exc:  # noqa: BLE001 - fabio raises many types; all mean "not readable"
        raise ImageLoadError(f"{p.name}: not a readable SMV/CBF/EDF/TIFF image ({type(exc).__name__}: {exc})") from None
    if data.ndim != 2:
        raise ImageLoadError(f"{p.name}: expected a 2-D image, got shape {data.shape}")
    return _finite(p, data.astype(np.float32, copy=False))


def _finite(p: Path, img: np.ndarray) -> np.ndarray:
    """The image, unless it holds NaN or infinite pixels: a view must never show those as if they were data."""
    bad = int(np.count_nonzero(~np.isfinite(img)))
    if bad:
        raise ImageLoadError(f"{p.name}: {bad} pixel{'s' if bad > 1 else ''} of {img.size} are NaN or infinite; "
                             "expected finite intensities")
    return img
