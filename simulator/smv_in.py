"""Reading SMV files given with -mask and -img (spec 3.14), numpy only (torch-free).

The C applies the mask header first, then the img header, before the main pass over the command line; the
argv grammar is the place to call `apply_smv_headers` (so later flags still win). The engine itself only needs the
mask pixels (`read_mask`): a pixel whose mask value is 0 is not rendered.
"""
from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass

import numpy as np

from simulator.budget import require_memory
from simulator.config import INT_MAX, ConfigError, NanoBraggConfig

_MAGIC = b"{\nHEADER_BYT"


@dataclass
class SMVFile:
    """Raw bytes of an SMV file with its header text and size (bytes)."""

    data: bytes
    header: str
    header_size: int


def load_smv(path: str, flag: str) -> SMVFile | None:
    """The file, or None when it does not start with '{\\nHEADER_BYT' (the C then ignores it).

    Only a regular file is read, and only once its size is known to fit in memory (a FIFO or /dev/zero would never
    end; a huge file would raise MemoryError): ConfigError otherwise, naming the flag and the file."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer before fstat could refuse it
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device or pipe"   # the C's words
                raise ConfigError(f"{flag}: {path} is {kind}, not a regular file", flag=flag, file=path,
                                  expected="a regular file")
            require_memory(2 * st.st_size, flag, f"reading {path}")
            data = fh.read(st.st_size)
    except OSError as e:
        raise ConfigError(f"{flag}: cannot read {path}: {e.strerror or e}", flag=flag, file=path) from e
    if not data.startswith(_MAGIC):
        return None
    text = data.decode("latin-1")
    m = re.search(r"HEADER_BYTES=\s*(\d+)", text)
    # more than 18 digits is more than any file (and int() refuses > 4300 digits): the C's atol saturates too
    size = (int(m.group(1)) if len(m.group(1)) <= 18 else len(data) + 1) if m else 512
    if size <= 0 or size > len(data):
        size = min(512, len(data))
    return SMVFile(data=data, header=text[:size], header_size=size)


_ATOF = re.compile(r"[ \t\n\v\f\r]*[-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\.[0-9]+([eE][-+]?[0-9]+)?)")


def header_value(header: str, key: str) -> float | None:
    """The C's lookup: the LAST occurrence of the key as a substring, atof of the text after the next '='.
    (So "DISTANCE" finds CLOSE_DISTANCE in a nanoBragg header, and "ORGX" finds XDS_ORGX.)"""
    pos = header.rfind(key)
    if pos < 0:
        return None
    eq = header.find("=", pos)
    if eq < 0:
        return None
    m = _ATOF.match(header, eq + 1)
    return float(m.group(0)) if m else 0.0


def apply_smv_headers(cfg: NanoBraggConfig) -> list[str]:
    """Apply the -mask header, then the -img header, to `cfg` (in place) as the C's pre-pass does; returns
    warnings. Call before the command line's own flags are applied."""
    warnings: list[str] = []
    for flag, path, is_mask in (("-mask", cfg.detector.mask_file, True), ("-img", cfg.detector.img_file, False)):
        if path is None:
            continue
        smv = load_smv(path, flag)
        if smv is None:
            if is_mask:  # decisions D5: an error (nanoBragg ignores such a mask silently)
                raise ConfigError(_not_smv(path))
            warnings.append(f"{flag}: {path} is not an SMV image; ignored")
            continue
        d, h = cfg.detector, smv.header
        _check_header(flag, path, h)
        v = header_value(h, "SIZE1")
        if v is not None:
            d.fpixels = int(v)
        v = header_value(h, "SIZE2")
        if v is not None:
            d.spixels = int(v)
        v = header_value(h, "PIXEL_SIZE")
        if v is not None:
            d.pixel_mm = v
        if d.fpixels is not None:
            d.detsize_f_mm = d.pixel_mm * d.fpixels
        if d.spixels is not None:
            d.detsize_s_mm = d.pixel_mm * d.spixels
        for key, attr in (("DISTANCE", "distance_mm"), ("CLOSE_DISTANCE", "close_distance_mm"),
                          ("BEAM_CENTER_X", "xbeam_mm"), ("ORGX", "orgx_px"), ("ORGY", "orgy_px")):
            v = header_value(h, key)
            if v is not None:
                setattr(d, attr, v)
        v = header_value(h, "BEAM_CENTER_Y")
        if v is not None:
            d.ybeam_mm = d.detsize_s_mm - v if is_mask else v
        v = header_value(h, "WAVELENGTH")
        if v is not None:
            cfg.beam.lambda_A = v
        v = header_value(h, "PHI")
        if v is not None:
            cfg.sampling.phi_deg = v
        v = header_value(h, "OSC_RANGE")
        if v is not None:
            cfg.sampling.osc_deg = v
    return warnings


# Header values the engines use, and what each must be (both engines stop on the same ones, before any work).
_POSITIVE = ("SIZE1", "SIZE2", "PIXEL_SIZE", "WAVELENGTH")
_FINITE = ("DISTANCE", "CLOSE_DISTANCE", "BEAM_CENTER_X", "BEAM_CENTER_Y", "ORGX", "ORGY", "PHI", "OSC_RANGE")


def _check_header(flag: str, path: str, header: str) -> None:
    """ConfigError naming the file and the key for a header value that is not a number the engines can use:
    sizes must be pixel counts within the C's int, pixel size and wavelength positive, the rest finite."""
    for key in _POSITIVE + _FINITE:
        v = header_value(header, key)
        if v is None:
            continue
        ok = math.isfinite(v) and (v > 0 if key in _POSITIVE else True)
        if key in ("SIZE1", "SIZE2"):
            ok = ok and v < INT_MAX + 1
        if not ok:
            pos = header.rfind(key)
            raw = header[pos:header.find("\n", pos) if "\n" in header[pos:] else None].strip().rstrip(";")
            need = "a pixel count" if key.startswith("SIZE") else "a positive number" if key in _POSITIVE \
                else "a finite number"
            raise ConfigError(f"{flag}: '{path}': header value {raw}: expected {need} for {key}", flag=flag,
                              file=path, expected=f"{need} for {key}")


def _not_smv(path: str) -> str:
    return f"-mask: '{path}' is not an SMV image (it must start with \"{{\\nHEADER_BYTES=\")"


def read_mask(path: str, spixels: int, fpixels: int) -> np.ndarray:
    """Bool (slow, fast): True where the mask value is non-zero (rendered). Native uint16 after the header, no
    byte swap (as the C).

    Decisions D5 (improvements on nanoBragg, the same in our C reference): ConfigError when the file is not SMV,
    when its header gives no size or a size other than the detector's (`spixels` x `fpixels`, as resolved after
    the whole command line), or when it holds fewer pixels of data than its header says."""
    smv = load_smv(path, "-mask")
    if smv is None:
        raise ConfigError(_not_smv(path))
    _check_header("-mask", path, smv.header)   # finite pixel counts within the C's int before int()
    f_m, s_m = header_value(smv.header, "SIZE1"), header_value(smv.header, "SIZE2")
    mf, ms = int(f_m or 0), int(s_m or 0)
    if mf <= 0 or ms <= 0:
        raise ConfigError(f"-mask: '{path}': its header gives no image size (SIZE1={mf}, SIZE2={ms})")
    have = (len(smv.data) - smv.header_size) // 2
    if have < mf * ms:
        raise ConfigError(f"-mask: '{path}' is {mf} x {ms} pixels (fast x slow) by its header but holds only "
                          f"{have} pixels of data")
    if (mf, ms) != (fpixels, spixels):
        raise ConfigError(f"-mask: '{path}' is {mf} x {ms} pixels (fast x slow) but the detector is "
                          f"{fpixels} x {spixels}")
    n = spixels * fpixels
    raw = np.frombuffer(smv.data[smv.header_size:smv.header_size + 2 * n], dtype=np.uint16)
    return (raw != 0).reshape(spixels, fpixels)
