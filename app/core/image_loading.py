"""Loading existing images as either side of the comparison: SMV, CBF, EDF, TIFF and HDF5/NeXus via fabio; raw
float32 .bin.

Raw `.bin` files (the C's -floatfile) carry no header: their shape comes from the command line (spixels, fpixels),
and the file size must match exactly; their values are photons. Every other format holds detector counts: integer
ADC units, an offset (nanoBragg's -adc, 40 by default) plus photons times a gain that the file does not record
(nanoBragg's -scale defaults to 55000 / the brightest pixel). Before such an image is compared with photons it is
converted: photons = (counts − offset) / gain, with the gain either given or fitted to the other side by least
squares (Calibration; the view then says "fitted"). Multi-frame files (HDF5 stacks) give their first frame and say
so. Every failure is an ImageLoadError whose message names the file and what was expected.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RAW_SUFFIXES = (".bin", ".raw", ".float")
HDF5_SUFFIXES = (".h5", ".hdf5", ".nxs", ".nx5")
FABIO_FILTER = ("Images (*.img *.smv *.cbf *.edf *.tif *.tiff *.h5 *.hdf5 *.nxs *.bin *.raw *.float);;"
                "All files (*)")
F32_MAX = float(np.finfo(np.float32).max)
SATURATION = 65535      # nanoBragg's uint16 ceiling: saturated pixels carry no gain information


class ImageLoadError(ValueError):
    """The file could not be read as a detector image; the message says why."""


@dataclass
class LoadedImage:
    """An image read from a file: values (slow, fast) float32 in `unit` ('photons' or 'counts')."""

    path: Path
    data: np.ndarray
    unit: str
    format: str
    note: str = ""        # e.g. "frame 1 of 20"


@dataclass(frozen=True)
class Calibration:
    """counts → photons: photons = (counts − offset) / gain. fitted: the gain was fitted to the other side."""

    offset: float = 40.0
    gain: float = 1.0
    fitted: bool = False

    def describe(self) -> str:
        how = "fitted to the other side" if self.fitted else "given"
        return f"photons = (counts − {self.offset:g}) / {self.gain:.6g} (gain {how})"


def to_photons(counts: np.ndarray, cal: Calibration) -> np.ndarray:
    """Photons (float32) from counts with a calibration."""
    if not cal.gain > 0:
        raise ValueError(f"the gain must be positive, got {cal.gain:g}")
    return ((np.asarray(counts, dtype=np.float64) - cal.offset) / cal.gain).astype(np.float32)


def fit_gain(counts: np.ndarray, photons: np.ndarray, offset: float = 40.0) -> Calibration:
    """The least-squares gain g of counts − offset ≈ g · photons over pixels where the photons are positive and
    the counts are neither saturated nor at the floor: g = Σ x·y / Σ x² (x photons, y counts − offset)."""
    if counts.shape != photons.shape:
        raise ValueError(f"cannot fit a gain: the images differ in shape, {counts.shape} vs {photons.shape}")
    y = np.asarray(counts, dtype=np.float64) - offset
    x = np.asarray(photons, dtype=np.float64)
    use = np.isfinite(x) & np.isfinite(y) & (x > 0) & (np.asarray(counts) < SATURATION) & (y > 0)
    sxx = float(np.sum(x[use] ** 2))
    if not use.any() or not sxx > 0:
        raise ValueError("cannot fit a gain: no pixel is bright on both images")
    return Calibration(offset, float(np.sum(x[use] * y[use]) / sxx), fitted=True)


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


def _file_problem(p: Path) -> str | None:
    """Why `p` cannot be read as an image file, in words (None for a regular file): what it is, not "no such
    file" for a folder, a FIFO or a device (opening a FIFO would block the window)."""
    try:
        st = p.stat()
    except FileNotFoundError:
        return "no such file" + (" (a link to nothing)" if p.is_symlink() else "")
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    mode = st.st_mode
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return f"{what}, not an image file"
    if not os.access(p, os.R_OK):
        return "not readable (permission denied)"
    return None


def load_detector_image(path: str | Path, shape: tuple[int, int] | None = None) -> LoadedImage:
    """Read an image file (see the module docstring). `shape` is needed for raw .bin files only."""
    p = Path(path)
    problem = _file_problem(p)
    if problem:
        raise ImageLoadError(f"{p}: {problem}")
    if p.suffix.lower() in RAW_SUFFIXES:
        if shape is None:
            raise ImageLoadError(f"{p.name}: a raw float file has no header; its size comes from the command line, "
                                 "which is not valid yet")
        return LoadedImage(p, _finite(p, load_raw_float32(p, shape)), "photons", "raw float32")
    try:
        import fabio
        img = fabio.open(str(p))
        data = np.asarray(img.data)
        nframes = int(getattr(img, "nframes", 1) or 1)
        fmt = type(img).__name__.replace("Image", "").replace("image", "") or "fabio"
    except Exception as exc:  # noqa: BLE001 - fabio raises many types; all mean "not readable"
        raise ImageLoadError(f"{p.name}: not a readable SMV/CBF/EDF/TIFF/HDF5 image ({type(exc).__name__}: "
                             f"{exc})") from None
    if data.ndim == 3 and data.shape[0] >= 1:
        nframes, data = max(nframes, data.shape[0]), data[0]
    if data.ndim != 2:
        raise ImageLoadError(f"{p.name}: expected a 2-D image, got shape {data.shape}")
    if data.size == 0:
        raise ImageLoadError(f"{p.name}: an empty image ({data.shape[0]} x {data.shape[1]} pixels, slow x fast); "
                             "expected at least one pixel")
    if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        raise ImageLoadError(f"{p.name}: pixels of type {data.dtype}, expected integer or floating-point values")
    note = f"frame 1 of {nframes}" if nframes > 1 else ""
    unit = "counts" if np.issubdtype(data.dtype, np.integer) else "photons"
    data = _finite(p, data)  # before the float32 conversion: 1e300 is out of range, not "infinite"
    return LoadedImage(p, data.astype(np.float32, copy=False), unit, fmt, note)


def _finite(p: Path, img: np.ndarray) -> np.ndarray:
    """The image, unless it holds NaN or infinite pixels, or values float32 cannot hold (|x| > 3.4e38): a view
    must never show those as if they were data."""
    if np.issubdtype(img.dtype, np.integer):
        return img
    bad = ~np.isfinite(img)
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        n_nan = int(np.count_nonzero(np.isnan(img)))
        what = ("NaN" if n_nan == n_bad else "infinite" if n_nan == 0 else "NaN or infinite")
        raise ImageLoadError(f"{p.name}: {n_bad} pixel{'s' if n_bad > 1 else ''} of {img.size} "
                             f"are {what}; expected finite intensities")
    big = np.abs(img) > F32_MAX
    n_big = int(np.count_nonzero(big))
    if n_big:
        raise ImageLoadError(f"{p.name}: {n_big} pixel{'s' if n_big > 1 else ''} of {img.size} out of range for "
                             f"float32 (largest {float(np.max(np.abs(img))):.3g}, float32 holds up to "
                             f"{F32_MAX:.3g}); expected detector intensities")
    return img


def load_image(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image's values as float32 (slow, fast), as stored (counts stay counts)."""
    return load_detector_image(path, shape).data


@dataclass
class PreparedSide:
    """A loaded image ready to compare: photons (slow, fast) float32 and the sentence that says how they were
    obtained (shown on the panel and in snapshots)."""

    photons: np.ndarray
    calibration: Calibration | None
    sentence: str


def prepare_side(loaded: LoadedImage, other_photons: np.ndarray | None, offset: float = 40.0,
                 gain: float | None = None) -> PreparedSide:
    """Photons for a loaded image: photon files as they are; counts through a Calibration, the gain given, else
    fitted to `other_photons` (the other side's photon image of the same shape), else 1 (and said so)."""
    name = loaded.path.name + (f", {loaded.note}" if loaded.note else "")
    if loaded.unit == "photons":
        return PreparedSide(loaded.data, None, f"loaded from {name} (photons)")
    if gain is not None:
        cal = Calibration(offset, gain)
    elif other_photons is not None and other_photons.shape == loaded.data.shape:
        try:
            cal = fit_gain(loaded.data, other_photons, offset)
        except ValueError as exc:
            cal = Calibration(offset, 1.0)
            return PreparedSide(to_photons(loaded.data, cal), cal,
                                f"loaded from {name} (counts; {exc}: {cal.describe()}, not a real scale)")
    else:
        cal = Calibration(offset, 1.0)
        return PreparedSide(to_photons(loaded.data, cal), cal,
                            f"loaded from {name} (counts, offset {offset:g} removed; no gain known: load or run the "
                            "other side to fit one)")
    return PreparedSide(to_photons(loaded.data, cal), cal, f"loaded from {name} (counts; {cal.describe()})")
