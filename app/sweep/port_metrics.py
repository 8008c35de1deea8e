"""A sweep case's `metrics.json` in the port team's terms: the fields of their nb-compare `summary.json`
(app.nb_compare.metrics: correlation, mse, rmse, max_abs_diff, c_sum, py_sum, sum_ratio, peak distances, run times,
args, binaries), side A standing for their C and side B for their PyTorch, plus the run's thresholds under their
matrix names and the verdict. Written beside the case's record.json by the worker that ran it."""
from __future__ import annotations

import math
from pathlib import Path

from app.nb_compare.metrics import image_metrics
from tracing.bundle import json_safe

METRICS_FILE = "metrics.json"


def port_metrics(case, a, b, passed: bool) -> dict:
    """The metrics dict of one case; a, b: the sides' EngineOutcome (both ok, one image shape)."""
    m = image_metrics(a.result.image, b.result.image)
    tc, tp = a.result.wall_s, b.result.wall_s
    t = case.thresholds
    m.update({"runtime_c_ms": int(tc * 1000), "runtime_py_ms": int(tp * 1000),
              "speedup": tc / tp if tp > 0 else math.inf, "args": list(case.argv),
              "c_binary": _program(a), "py_binary": _program(b), "roi": None, "resample": False,
              "engines": list(case.engines),
              "thresholds": {"corr_min": t.min_correlation, "sum_ratio_min": t.sum_ratio_min,
                             "sum_ratio_max": t.sum_ratio_max, "max_abs_max": t.max_abs_max},
              "pass": bool(passed)})
    return m


def _program(o) -> str:
    command = o.result.meta.get("command")
    return " ".join(map(str, command)) if command else o.engine


def write_port_metrics(folder: Path, case, a, b, passed: bool) -> Path:
    """folder/metrics.json, whole or not at all (NaN and inf written as null: strict JSON)."""
    from app.sweep.record import write_json_atomic
    return write_json_atomic(folder / METRICS_FILE, json_safe(port_metrics(case, a, b, passed)))
