"""The nanoBragg command line a binary gets, and what it wrote: input and output file flags resolved against the
user's folder, -floatfile forced into scratch, output flags dropped for auxiliary runs; the float image read back
with the shape the command line (or the SMV header the C used) says."""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from simulator.argv import ParsedCommand, append_flags, as_command, map_values, without_flag
from tracing.records import EngineError

# Flags whose value is a file the binary opens for reading (made absolute against the caller's folder).
INPUT_FILE_FLAGS: tuple[str, ...] = ("-hkl", "-mat", "-sourcefile", "-mask", "-img", "-stol")
# Output files of the user's command line (resolved against the caller's folder; dropped for auxiliary runs).
OUTPUT_FILE_FLAGS: tuple[str, ...] = ("-intfile", "-pgmfile", "-noisefile", "-dump")

def remove_flags(args: Sequence[str], *flags: str) -> list[str]:
    """args without every occurrence of each flag (any alias) and its values (simulator.argv's flag table)."""
    out = list(args)
    for flag in flags:
        out = without_flag(out, flag)
    return out


def _absolute(cwd: str | Path) -> Callable[[str, str], str]:
    def fn(_flag: str, value: str) -> str:
        v = os.path.expanduser(value)
        return v if os.path.isabs(v) else os.path.normpath(os.path.join(str(cwd), v))
    return fn


def absolutize_inputs(args: Sequence[str], cwd: str | Path) -> list[str]:
    """Copy of args with the value of each input-file and output-file flag made absolute against `cwd`."""
    return map_values(list(args), INPUT_FILE_FLAGS + OUTPUT_FILE_FLAGS, _absolute(cwd))


def prepare_args(args: Sequence[str], float_path: Path, cwd: str | Path) -> list[str]:
    """The argv the binary gets: file paths absolute, any -floatfile/-floatimage replaced by `float_path`."""
    # append_flags: appended flags must not change what the user's mean (a trailing -curved_det, spec 2.2)
    return append_flags(absolutize_inputs(remove_flags(args, "-floatfile"), cwd), ["-floatfile", str(float_path)])


def auxiliary_args(args: Sequence[str]) -> list[str]:
    """args for a run whose outputs are not the user's (traces, single-tick curves): output flags removed."""
    return remove_flags(args, *OUTPUT_FILE_FLAGS)

def smv_size(path: Path) -> tuple[int, int] | None:
    """(SIZE2, SIZE1) = (slow, fast) from an SMV header, last occurrence of each key (as the C reads them); None
    when the file cannot be read or is not SMV. HEADER_BYTES is untrusted: the header read is cut at the file's
    size (a header announcing 10^15 bytes raised MemoryError, issue 22), and only regular files are read."""
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:   # a FIFO: no wait for a writer
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            head = fh.read(512)
            m = re.search(rb"HEADER_BYTES=\s*(\d+)", head)
            announced = (int(m.group(1)) if len(m.group(1)) <= 18 else st.st_size) if m else 0
            if announced > 512 and st.st_size > 512:
                head += fh.read(min(announced, st.st_size) - 512)
    except OSError:
        return None
    if not head.startswith(b"{\nHEADER_BYT"):
        return None
    head = head.split(b"\0", 1)[0]   # a C string, as nbref reads the header
    f = re.findall(rb"SIZE1=\s*(\d{1,18})(?!\d)", head)
    s = re.findall(rb"SIZE2=\s*(\d{1,18})(?!\d)", head)
    return (int(s[-1]), int(f[-1])) if f and s else None


def image_shape(args: ParsedCommand | Sequence[str]) -> tuple[int, int]:
    """(spixels, fpixels) the C will use for this command line (from the parse; the header of an -img/-mask the
    parse could not open is not consulted: read_float_image then asks the SMV files)."""
    return as_command(args).shape


Region = tuple[int, int, int, int]   # xmin, xmax, ymin, ymax inclusive (fast, fast, slow, slow), as -roi


def read_float_image(float_path: Path, command: ParsedCommand, scratch: Path, cwd: str, log_tail: str,
                     name: str, region: Region | None = None) -> np.ndarray:
    """The float32 (slow, fast) image the engine wrote to `float_path`; EngineError when missing or not finite,
    ImageSizeError when its size fits neither the command line nor the SMV headers the C may have used.

    region: only the rows ymin..ymax are read from the file (a pixel trace of a 2463 x 2527 detector reads one row,
    not 25 MB) and only the region is checked; every other pixel of the returned array is 0 (np.zeros: pages the
    operating system never materialises)."""
    if not float_path.exists():
        raise EngineError(f"engine {name} finished but wrote no float image (-floatfile {float_path.name})",
                          log_tail)
    nbytes = float_path.stat().st_size
    s, f = command.shape
    if nbytes != 4 * s * f:
        # The C may take its size from an -img/-mask header (spec §3.14); the SMV it wrote says what it used.
        det = command.config.detector
        candidates = [scratch / "intimage.img"]
        candidates += [Path(cwd, v) for v in (det.img_file, det.mask_file) if v]
        for c in candidates:
            sz = smv_size(c)
            if sz is not None and nbytes == 4 * sz[0] * sz[1]:
                s, f = sz
                break
        else:
            raise ImageSizeError(
                f"float image from {name} has {nbytes} bytes, expected {4 * s * f} bytes "
                f"({s} slow x {f} fast float32 pixels from the command line)", log_tail,
                data=np.fromfile(float_path, dtype=np.float32), expected=(s, f))
    if region is None:
        image = np.fromfile(float_path, dtype=np.float32).reshape(s, f)
        checked = image
    else:
        x0, x1, y0, y1 = (max(0, region[0]), min(f - 1, region[1]), max(0, region[2]), min(s - 1, region[3]))
        image = np.zeros((s, f), dtype=np.float32)
        if x0 <= x1 and y0 <= y1:
            rows = np.fromfile(float_path, dtype=np.float32, count=(y1 - y0 + 1) * f, offset=4 * y0 * f)
            image[y0:y1 + 1] = rows.reshape(y1 - y0 + 1, f)
        checked = image[y0:y1 + 1, x0:x1 + 1]
    if not np.isfinite(checked).all():
        bad = int((~np.isfinite(checked)).sum())
        raise EngineError(f"float image from {name} holds {bad} NaN or infinite pixel(s) of {checked.size}: not "
                          "accepted", log_tail)
    return image


class ImageSizeError(EngineError):
    """The engine's float file does not hold the command line's slow x fast pixels. `data`: its float32 values
    (1-D, as read), `expected`: (slow, fast) from the command line; nb-compare's shape check reads them."""

    def __init__(self, message: str, log_tail: str = "", *, data: np.ndarray, expected: tuple[int, int]):
        super().__init__(message, log_tail)
        self.data = data
        self.expected = expected
