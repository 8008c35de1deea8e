"""Reading one flag value as the C does: strict strtod/strtol for typed values (our engines), the C's lenient
atof/atoi for upstream's substring side effects, and input-file checks. Errors are `_Bad` with the token index."""
from __future__ import annotations

import math
import os
import re


class _Bad(Exception):
    """Internal: a bad value at token index `token` (relative to the flag's first value when >= 0)."""

    def __init__(self, message: str, token: int):
        super().__init__(message)
        self.token = token


# --------------------------------------------------------------------------------------------- value readers

# A value typed after its flag is read as the C reference reads it (strtod / strtol over the whole token, C locale):
# ASCII digits only. Python's own float()/int() also take "1_0", Unicode digits ("\u0664") and trailing blanks, which
# the C refuses: the engines disagreed on 8 % of fuzzed command lines (issue 22).
_STRTOD = re.compile(r"[ \t\n\v\f\r]*[-+]?(?:(?P<dec>[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?"
                     r"|\.[0-9]+(?:[eE][-+]?[0-9]+)?)|(?P<hex>0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][-+]?[0-9]+)?)"
                     r"|(?P<special>inf(?:inity)?|nan))", re.IGNORECASE | re.ASCII)
_STRTOL = re.compile(r"[ \t\n\v\f\r]*[-+]?[0-9]+", re.ASCII)


def c_strtod(text: str) -> float | None:
    """strtod over the whole of `text` (decimal, hexadecimal, inf, nan; leading C blanks), None when it is not."""
    m = _STRTOD.fullmatch(text)
    if m is None:
        return None
    body = text.strip(" \t\n\v\f\r")
    if m.group("hex"):
        sign = -1.0 if body.startswith("-") else 1.0
        digits = body.lstrip("+-")[2:]
        try:
            return sign * float.fromhex(digits if "p" in digits.lower() else digits + "p0")
        except OverflowError:
            return sign * math.inf
    return float(body)


def _num(flag: str, text: str, tok: int) -> float:
    v = c_strtod(text)
    if v is None:
        raise _Bad(f"{flag}: expected a number, got '{text}'", tok)
    if math.isnan(v):
        raise _Bad(f"{flag}: expected a number, got NaN", tok)
    return v


def _int(flag: str, text: str, tok: int) -> int:
    # The C parses counts with strtol over the whole token (a typo is refused, not truncated as atoi would).
    if _STRTOL.fullmatch(text) is None:
        raise _Bad(f"{flag}: expected an integer, got '{text}'", tok)
    digits = text.strip(" \t\n\v\f\r")
    if len(digits.lstrip("+-")) > 18:   # beyond any count (and int() refuses more than 4300 digits)
        raise _Bad(f"{flag}: expected an integer within +-2147483647, got '{text[:40]}...'", tok)
    return int(digits)


def _file(flag: str, text: str, tok: int, check: bool) -> str:
    if check and not os.path.isfile(text):
        what = "not a regular file" if os.path.exists(text) else "file not found"
        raise _Bad(f"{flag}: {what}: {text}", tok)
    return text


_C_FLOAT_RE = re.compile(r"\s*[+-]?(inf(inity)?|nan|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)", re.I)
_C_INT_RE = re.compile(r"\s*[+-]?\d+")
LONG_MAX = 2 ** 63 - 1


def _c_number(text: str, integer: bool) -> float | int:
    """The C's atoi/atof: the longest numeric prefix, 0 when there is none ("-default_F" reads as 0)."""
    m = (_C_INT_RE if integer else _C_FLOAT_RE).match(text)
    if not m:
        return 0 if integer else 0.0
    if integer:  # strtol saturates (int() of a 5000-digit text would raise ValueError: a fuzz finding, issue 22)
        digits = m.group(0).strip()
        return int(digits) if len(digits.lstrip("+-")) <= 18 else (-LONG_MAX - 1 if digits.startswith("-")
                                                                     else LONG_MAX)
    return float(m.group(0))



def _looks_numeric(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False
