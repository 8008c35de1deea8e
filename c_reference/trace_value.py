"""Which binaries' trace gives the traced pixel's stored float value, so that their trace runs may send the float
file to /dev/null (issue 19: the golden C writes its whole 2463 x 2527 float image, 25 MB, even for a two-pixel
-roi, ~45 ms of a ~150 ms click).

Some builds print `TRACE_C: floatimage_accumulated V` for the traced pixel: the value stored in their float image
(the golden build does, with %.15g of a float, so V read back and rounded to float32 is that float exactly);
upstream nanoBragg prints no trace at all. Nothing is assumed from a binary's name or dialect: a binary is trusted
only once a trace run of it (same sha256) printed V and V, as float32, equalled that run's float file at the traced
pixel bit for bit. A binary that printed no V, or a different one, is never trusted (its float file is always
written and read). What is learnt lives in a TraceValues object (per window, per session or per engine: whoever
owns it), never in a file.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

from tracing.records import EngineError, PixelTrace

TRACE_VALUE_KEY = "floatimage_accumulated"


class TraceValueMissing(EngineError):
    """A trace run that was to take the pixel's value from its trace printed none (the caller runs it again with
    the float file)."""


def trace_value(trace: PixelTrace | None) -> float | None:
    """The traced pixel's stored float value (photons) as printed by the trace, or None when it printed none."""
    if trace is None:
        return None
    values = trace.scalars.get(TRACE_VALUE_KEY)
    return float(values[0]) if values else None


@dataclass
class TraceValues:
    """Per binary sha256: True once its trace's value was seen equal to its float file, False once it was not
    (missing or different). Thread-safe (a click's trace and an auto-trace may run at once)."""

    learnt: dict[str, bool] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def trusted(self, sha256: str) -> bool:
        with self._lock:
            return self.learnt.get(sha256, False)

    def learn(self, sha256: str, trace: PixelTrace | None, image_value: float) -> bool:
        """Cross-check one trace run that wrote its float file: the trace's value against `image_value` (the float
        file at the traced pixel). A binary found wrong once stays untrusted. Returns whether they agreed."""
        v = trace_value(trace)
        ok = (v is not None and math.isfinite(v) and math.isfinite(image_value)
              and np.float32(v) == np.float32(image_value))
        with self._lock:
            self.learnt[sha256] = ok and self.learnt.get(sha256, True)
        return ok

    def distrust(self, sha256: str) -> None:
        with self._lock:
            self.learnt[sha256] = False
