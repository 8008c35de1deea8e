"""Read a comparison bundle (app/snapshot.py) back into the `app.session.ComparisonRecord` it was written from,
without running anything: `nbparity gui --bundle DIR` and the sweep's reports use it. Qt-free.

What comes back: both sides' float32 (slow, fast) images with their labels, wall times and logs; the metrics and
the verdict as written; the inspected pixels with their per-phi traces rebuilt from the tables (one path per side:
the path the tables compare, `PixelTrace.notes` says so), the comparison redone from them with the bundle's
tolerance, the pixel-level values both sides printed, single-tick curves and errors; the manifest.

Every file the manifest lists is checked against its size and sha256 first: a damaged or edited bundle is refused
with the file's name (`BundleError`, a ConfigError), never shown as if it were the original.
"""
from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from simulator.config import ConfigError
from tracing.bundle import sha256_file
from tracing.metrics import ImageMetrics, ParityThresholds, PeakMatch, Verdict
from tracing.phi_compare import compare_traces
from tracing.records import PathKey, PhiSample, PixelTrace, ImageResult

SIDES = ("a", "b")
_TABLE = re.compile(r"^pixel_s(\d+)_f(\d+)\.json$")
_TABLE_PREFIX = {"a": "c_", "b": "py_"}  # tracing.tables names side A's columns c_*, side B's py_*


class BundleError(ConfigError):
    """The folder is not a readable comparison bundle; the message names the file and what is wrong."""


def read_bundle(folder: Path | str, *, verify: bool = True):
    """The ComparisonRecord stored in `folder`. verify: check every listed file's size and sha256 first."""
    from app.session import ComparisonRecord

    folder = Path(folder)
    manifest = _json(folder, "manifest.json", what="a comparison bundle's manifest")
    if verify:
        verify_bundle(folder, manifest)
    argv = [str(a) for a in manifest.get("argv") or []]
    sides = manifest.get("sides") or {}
    if set(sides) != set(SIDES):
        raise BundleError(f"{folder / 'manifest.json'}: expected sides a and b, found {sorted(sides)} (a bundle "
                          "written before engines were named per side cannot be opened)")
    labels = {k: str(sides[k].get("label") or k.upper()) for k in SIDES}
    files_by_side = manifest.get("files_by_side") or {}
    outcomes = {k: _outcome(folder, k, labels[k], sides[k], files_by_side.get(k, {})) for k in SIDES}
    metrics = verdict = None
    if (folder / "metrics.json").is_file():
        body = _json(folder, "metrics.json", what="the metrics")
        metrics = metrics_from_dict(body["metrics"]) if body.get("metrics") else None
        verdict = verdict_from_dict(body["parity"]) if body.get("parity") else None
    thresholds = ParityThresholds(**_known(ParityThresholds, manifest.get("parity_thresholds") or {}))
    inspections = tuple(read_inspections(folder, labels, thresholds.phi_tol))
    return ComparisonRecord(argv=tuple(argv), config=_config(argv, manifest), labels=tuple(labels.items()),
                            outcomes=tuple(outcomes.items()), metrics=metrics, verdict=verdict,
                            inspections=inspections, thresholds=thresholds,
                            warnings=tuple(manifest.get("warnings") or ()), manifest=manifest)


def verify_bundle(folder: Path, manifest: dict) -> None:
    """BundleError naming the first listed file that is missing or differs from what was written."""
    for entry in manifest.get("files") or []:
        path = folder / entry["name"]
        if not path.is_file():
            raise BundleError(f"{path}: listed in manifest.json but missing: the bundle is incomplete")
        if path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            raise BundleError(f"{path}: differs from what was written (size or sha256 of manifest.json): the "
                              "bundle was changed or damaged")


def metrics_from_dict(d: dict) -> ImageMetrics:
    """tracing.metrics.ImageMetrics from its to_dict() (null figures read back as NaN, lists as tuples)."""
    body = _known(ImageMetrics, d)
    for f in fields(ImageMetrics):
        if f.name not in body:
            continue
        v = body[f.name]
        if f.name == "peaks":
            p = _known(PeakMatch, v or {})
            body[f.name] = PeakMatch(
                peaks_a=[tuple(x) for x in p.get("peaks_a", [])], peaks_b=[tuple(x) for x in p.get("peaks_b", [])],
                pairs=[(int(i), int(j), float(dist)) for i, j, dist in p.get("pairs", [])],
                **{k: _float(p.get(k)) for k in ("fraction_matched", "mean_distance", "max_distance")})
        elif isinstance(v, list):
            body[f.name] = tuple(v)
        elif v is None and "float" in str(f.type) and "None" not in str(f.type):
            body[f.name] = math.nan
    return ImageMetrics(**body)


def verdict_from_dict(d: dict) -> Verdict:
    body = _known(Verdict, d)
    body["thresholds"] = ParityThresholds(**_known(ParityThresholds, d.get("thresholds") or {}))
    for k in ("correlation", "max_rel_error"):
        body[k] = _float(body.get(k))
    return Verdict(**body)


def read_inspections(folder: Path, labels: dict[str, str], tol: float) -> list:
    """PixelInspection per pixel_s<S>_f<F>.json table (plus curves and errors), in (slow, fast) order."""
    from app.session import PixelInspection

    found: dict[tuple[int, int], Any] = {}
    for path in sorted(folder.glob("pixel_s*_f*.json")):
        m = _TABLE.match(path.name)
        if not m:
            continue
        s, f = int(m.group(1)), int(m.group(2))
        insp = PixelInspection(s, f, labels=dict(labels))
        table = _json(folder, path.name, what="a per-phi table")
        summary = table.get("summary") or {}
        tol_here = float(summary.get("tol") or tol)
        for k in SIDES:
            insp.traces[k] = _trace_from_table(table, k, labels[k], s, f)
        ta, tb = insp.traces["a"], insp.traces["b"]
        if ta.samples and tb.samples:
            insp.comparison = compare_traces(ta, tb, tol=tol_here)
        for k in SIDES:
            if not insp.traces[k].samples and summary.get("dialects", {}).get(_TABLE_PREFIX[k][:-1]) == "none":
                insp.traces.pop(k)
        found[(s, f)] = insp
    for path in sorted(folder.glob("pixel_s*_f*_errors.json")):
        m = re.match(r"^pixel_s(\d+)_f(\d+)_errors\.json$", path.name)
        if not m:
            continue
        s, f = int(m.group(1)), int(m.group(2))
        insp = found.setdefault((s, f), PixelInspection(s, f, labels=dict(labels)))
        for key, value in _json(folder, path.name, what="a pixel's errors").items():
            side = "a" if key.startswith("A-") else "b" if key.startswith("B-") else None
            if side is None:
                continue
            (insp.log_tails if key.endswith("_log_tail") else insp.errors)[side] = str(value)
    for path in sorted(folder.glob("pixel_s*_f*_*_curve.csv")):
        m = re.match(r"^pixel_s(\d+)_f(\d+)_([AB])-.*_curve\.csv$", path.name)
        if m:
            s, f, side = int(m.group(1)), int(m.group(2)), m.group(3).lower()
            insp = found.setdefault((s, f), PixelInspection(s, f, labels=dict(labels)))
            insp.curves[side] = _curve(path, labels[side], s, f)
    return [found[k] for k in sorted(found)]


# ---- pieces ---------------------------------------------------------------------------------------------------------
def _outcome(folder: Path, side: str, label: str, summary: dict, files: dict):
    from app.session import EngineOutcome

    o = summary.get("outcome")
    if o is None:
        return None
    log = (folder / files["log"]).read_text(encoding="utf-8", errors="replace") if files.get("log") else ""
    if not o.get("ok"):
        return EngineOutcome(label, error=o.get("error") or "failed", log_tail=log[-4000:],
                             cancelled=bool(o.get("cancelled")), side=side)
    name = files.get("float")
    shape = o.get("shape")
    if not name or not shape:
        raise BundleError(f"{folder / 'manifest.json'}: side {side.upper()} ran but its image file or shape is "
                          "not recorded")
    img = np.fromfile(folder / name, dtype="<f4")
    if img.size != shape[0] * shape[1]:
        raise BundleError(f"{folder / name}: {img.size} float32 values, expected {shape[0]} x {shape[1]} "
                          "(slow x fast) from manifest.json")
    result = ImageResult(engine=label, image=img.reshape(shape[0], shape[1]).astype(np.float32, copy=False),
                         argv=list(summary.get("command") or []), log=log, wall_s=float(o.get("wall_s") or 0.0),
                         returncode=o.get("returncode"), meta=dict(o.get("meta") or {}, read_from=str(folder)))
    return EngineOutcome(label, result=result, side=side)


def _trace_from_table(table: dict, side: str, label: str, slow: int, fast: int) -> PixelTrace:
    """One side's per-phi samples from the table's c_*/py_* columns, on the path the table compared."""
    prefix = _TABLE_PREFIX[side]
    summary = table.get("summary") or {}
    path_d = summary.get(f"path_{prefix[:-1]}")
    path = PathKey(**_known(PathKey, path_d)) if path_d else PathKey()
    cols = [c for c in table.get("columns", []) if c.startswith(prefix) and c != f"{prefix}phi_deg"]
    tr = PixelTrace(engine=label, slow=slow, fast=fast,
                    dialect=str(summary.get("dialects", {}).get(prefix[:-1]) or "none"))
    for row in table.get("rows", []):
        phi = row.get(f"{prefix}phi_deg")
        if phi is None:
            continue  # this side has no sample at the tick
        values = {c[len(prefix):]: float(row[c]) for c in cols if row.get(c) is not None}
        tr.samples.append(PhiSample(phi_tic=int(row["tick"]), phi_deg=float(phi), path=path, values=values))
    for s in table.get("scalars", []):
        v = s.get(prefix[:-1])
        if v is not None:
            tr.scalars[s["key"]] = [float(x) for x in v]
            tr.scalars_all[s["key"]] = [tr.scalars[s["key"]]]
    tr.notes = list((summary.get("notes") or {}).get(prefix[:-1]) or [])
    tr.notes.append(f"read from a bundle: the compared path only ({path})")
    return tr


def _curve(path: Path, label: str, slow: int, fast: int):
    from app.engines.base import PhiCurve

    lines = path.read_text(encoding="utf-8").splitlines()
    meta = next((ln for ln in lines if ln.startswith("# sum ")), "")
    m = re.match(r"# sum (\S+), image value ([^:]+)(?::\s*(.*))?$", meta)
    rows = list(csv.DictReader(ln for ln in lines if not ln.startswith("#")))
    ticks = tuple((float(r["phi_deg"]), float(r["I_tick"])) for r in rows)
    image_value = None if not m or m.group(2).strip() == "None" else float(m.group(2))
    total = float(m.group(1)) if m else float(sum(v for _, v in ticks))
    return PhiCurve(engine=label, slow=slow, fast=fast, ticks=ticks, image_value=image_value, sum_value=total,
                    explanation=(m.group(3) or "") if m else "")


def _config(argv: list[str], manifest: dict):
    from simulator.argv import parse_argv
    try:
        return parse_argv(argv, check_files=False, require_inputs=False).config
    except ConfigError as exc:
        raise BundleError(f"manifest.json: its command line no longer parses ({exc})") from None


def _json(folder: Path, name: str, *, what: str) -> Any:
    path = folder / name
    if not folder.is_dir():
        raise BundleError(f"{folder}: no such folder (expected a comparison bundle)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if name != "manifest.json":
            raise BundleError(f"{path}: missing ({what})") from None
        hint = (": it is a sweep folder; open one of its cases (report.html lists the commands)"
                if (folder / "records.json").is_file() and (folder / "cases").is_dir() else "")
        raise BundleError(f"{path}: missing: {folder} is not a comparison bundle{hint}") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: cannot read {what} ({exc})") from None


def _known(cls, d: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in (d or {}).items() if k in names}


def _float(v) -> float:
    return math.nan if v is None else float(v)
