"""The small record one sweep case returns to the scheduler (a few hundred bytes: no image), and its file.

`record.json` sits in the case's folder beside its comparison bundle, written last and atomically. It is a claim,
never the judge: on resume app.sweep.trust.verified_record believes it only as far as the verified bundle it names
supports it (hashes, finite images, metrics recomputed with the case's thresholds).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from tracing.bundle import json_safe

RECORD_FILE = "record.json"
STATUSES = ("error", "cancelled", "fail", "pass")  # worst first
_TEXT = ("first_quantity", "first_where", "explained_by", "cause")


@dataclass
class ProbeRecord:
    """First divergence of one probe pixel (slow, fast): `describe` is the sentence of the per-phi comparison;
    field/tick/phi_deg/delta (py − c) are None when nothing diverged or nothing could be compared."""

    slow: int
    fast: int
    describe: str
    field: str | None = None
    tick: int | None = None
    phi_deg: float | None = None
    delta: float | None = None
    error: str | None = None


@dataclass
class CaseRecord:
    """Outcome of one case. status: pass | fail | error | cancelled. Figures are tracing.metrics.ImageMetrics's
    (correlation: Pearson r; max_rel_err: max |B−A|/|A| over bright pixels, at max_rel_err_pixel (slow, fast);
    sum_ratio: ΣB/ΣA); time_a_s/time_b_s: each engine's render wall time, s; wall_s: the whole case, s.
    bundle: the comparison bundle's path relative to the sweep folder."""

    name: str
    slug: str
    status: str
    argv: list[str]
    engines: list[str]
    fingerprint: str
    group: str = ""
    verdict: str = ""
    correlation: float | None = None
    max_rel_err: float | None = None
    max_rel_err_pixel: list[int] | None = None
    sum_ratio: float | None = None
    max_abs_diff: float | None = None
    n_beyond_tol: int | None = None
    shape: list[int] | None = None
    time_a_s: float | None = None
    time_b_s: float | None = None
    wall_s: float | None = None
    probes: list[ProbeRecord] = field(default_factory=list)
    error: str | None = None
    bundle: str | None = None
    worker: str = ""
    labels: list[str] = field(default_factory=list)   # the engines' display names, sides A and B
    resumed: bool = False          # taken from a finished bundle of an earlier run, not run now
    thresholds: dict = field(default_factory=dict)
    # issue 21: what the auto-trace of a failing case found (app/core/auto_trace.py); "" when none ran
    first_quantity: str = ""       # "k", "" (nothing diverged), "not traced"
    first_where: str = ""          # "φ tick 0 at (30, 33)"
    explained_by: str = ""         # "C φ=0 carry-over (known)", "unexplained", ...
    cause: str = ""                # the verdict's head, e.g. "first divergent quantity: k at φ tick 0 at ..."
    auto_trace_s: float | None = None

    def to_dict(self) -> dict:
        return json_safe(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> CaseRecord:
        known = {f.name for f in fields(cls)}
        body = {k: v for k, v in d.items() if k in known}
        body["probes"] = [ProbeRecord(**p) for p in d.get("probes", [])]
        for k in _TEXT:   # read back from record.json: untrusted, shown in reports
            body[k] = body[k] if isinstance(body.get(k), str) else ""
        t = body.get("auto_trace_s")
        body["auto_trace_s"] = float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and \
            math.isfinite(t) and t >= 0 else None
        return cls(**body)

    def badness(self) -> tuple:
        """Sort key, worst first: status (error, cancelled, fail, pass), then max relative error over its limit
        (larger first), then correlation (smaller first)."""
        limit = self.thresholds.get("max_rel_error") or 0.0
        rel = self.max_rel_err if self.max_rel_err is not None else math.inf
        ratio = rel / limit if limit > 0 else rel
        corr = self.correlation if self.correlation is not None else -math.inf
        return (STATUSES.index(self.status) if self.status in STATUSES else 0, -ratio, corr, self.name)


def write_record(folder: Path, record: CaseRecord) -> Path:
    """record.json in `folder`, via a temporary file renamed over it (never half-written)."""
    return write_json_atomic(folder / RECORD_FILE, record.to_dict())


def write_json_atomic(path: Path, data) -> Path:
    """`data` as strict JSON at `path`, whole or not at all (a temporary file beside it, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
