"""Reading the text input files (-hkl, -mat, -sourcefile) the way the C reference does, byte for byte.

Both engines must accept and reject the same files, so the rules are the C's: a file is bytes (decoded as latin-1,
one character per byte, never a UnicodeDecodeError); lines end at '\\n'; blanks are the C locale's isspace set; a
number is a whole decimal token as strtod reads it (no hexadecimal, no digit separators, no non-ASCII digits).
Something that is not a regular file (a folder, /dev/zero, a FIFO) or holds NUL bytes is refused before reading on.
"""
from __future__ import annotations

import os
import re
import stat

from simulator.errors import ConfigError, file_error

C_SPACE = " \t\n\v\f\r"     # isspace() in the C locale
# One way to match each digit: `[0-9]+\.?[0-9]*` could split a run of digits anywhere, and a long token that then
# failed took quadratic time (a 16,000-digit token: 9 s; the fuzzed HKL file that hung the reader, issue 22).
_DECIMAL = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\.[0-9]+([eE][-+]?[0-9]+)?|inf(inity)?|nan)",
                      re.IGNORECASE | re.ASCII)


def decimal(tok: str) -> float | None:
    """The value of a whole decimal token (strtod's decimal forms, inf and nan included), None otherwise."""
    return float(tok) if _DECIMAL.fullmatch(tok) else None


def read_input_text(flag: str, path: str) -> str:
    """The file's text (latin-1). ConfigError naming the flag and file when it is missing, unreadable, not a regular
    file or holds a NUL byte (then with the line)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{flag}: file not found: {path}", flag=flag, file=path,
                          expected="an existing file") from None
    except OSError as e:
        raise ConfigError(f"{flag}: cannot read {path}: {e.strerror or e}", flag=flag, file=path) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device or pipe"
        raise ConfigError(f"{flag}: {path} is {kind}, not a regular file", flag=flag, file=path,
                          expected="a regular file")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ConfigError(f"{flag}: cannot read {path}: {e.strerror or e}", flag=flag, file=path) from None
    nul = data.find(b"\0")
    if nul >= 0:
        raise file_error(flag, path, data.count(b"\n", 0, nul) + 1, "text", "binary data (a NUL byte)")
    return data.decode("latin-1")


def content_lines(text: str):
    """(line number, line) for every line that is neither blank nor a '#' comment (after leading C blanks)."""
    for lineno, line in enumerate(text.split("\n"), start=1):
        s = line.lstrip(C_SPACE)
        if s and not s.startswith("#"):
            yield lineno, s
