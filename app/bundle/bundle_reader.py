"""Read a comparison bundle (app/bundle/snapshot.py) back into the `app.core.records.ComparisonRecord` it was
written from, without running anything: `nbparity gui --bundle DIR` and the sweep's reports use it. Qt-free.

What comes back: both sides' float32 (slow, fast) images with their labels, wall times and logs; the metrics and
the verdict as written; the inspected pixels with their per-phi traces rebuilt from the tables (one path per side:
the path the tables compare, `PixelTrace.notes` says so), the comparison redone from them with the bundle's
tolerance, the pixel-level values both sides printed, single-tick curves and errors; the manifest.

Every file the manifest lists is checked against its size and sha256 first: a damaged or edited bundle is refused
with the file's name (`BundleError`, a ConfigError), never shown as if it were the original. The manifest itself is
untrusted input (app.bundle.bundle_manifest: schema, shapes against file sizes, names confined to the bundle, no
links, a newer format named); every file read is one the manifest lists, images must be finite, and any other damage
is a BundleError naming the bundle, never a traceback.
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

from app.bundle.bundle_manifest import BundleError, check_manifest, member_path
from app.core.records import ComparisonRecord, EngineOutcome, PixelInspection
from app.engines.base import PhiCurve
from simulator.config import ConfigError
from tracing.bundle import is_partial_name, sha256_file
from tracing.metrics import ImageMetrics, ParityThresholds, PeakMatch, Verdict
from tracing.phi_compare import compare_traces
from tracing.records import PathKey, PhiSample, PixelTrace, ImageResult
from app.core.sides import SIDES

_TABLE = re.compile(r"^pixel_s(\d+)_f(\d+)\.json$")
# tracing.tables keys side A's columns a_* and its summary facts "a" (B: b_*, "b"); bundles written before the
# sides were named A and B everywhere used c_* / "c" for A and py_* / "py" for B, whatever engines ran.
TABLE_KEYS = {"a": "a", "b": "b"}
LEGACY_KEYS = {"a": "c", "b": "py"}


__all__ = ["BundleError", "read_bundle", "verify_bundle"]


def read_bundle(folder: Path | str, *, verify: bool = True):
    """The ComparisonRecord stored in `folder`. verify: check every listed file's size and sha256 first (and
    read no file the manifest does not list). BundleError for anything that is not a sound bundle."""
    folder = Path(folder)
    if is_partial_name(folder.name):
        raise BundleError(f"{folder}: an unfinished bundle (its writer was stopped before it was complete); it is "
                          "not a comparison bundle, and the next bundle written beside it removes it")
    manifest = _json(folder, "manifest.json", what="a comparison bundle's manifest")
    listed = check_manifest(folder, manifest)
    try:
        if verify:
            verify_bundle(folder, manifest)
        return _read(folder, manifest, listed if verify else None)
    except BundleError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OSError) as exc:
        # Content the checks above do not cover (a table row of the wrong type, ...): still a sentence.
        raise BundleError(f"{folder}: not a readable comparison bundle: unexpected content "
                          f"({type(exc).__name__}: {exc})") from None


def _read(folder: Path, manifest: dict, listed: dict | None):
    argv = list(manifest["argv"])
    sides = manifest["sides"]
    labels = {k: str(sides[k].get("label") or k.upper()) for k in SIDES}
    files_by_side = manifest.get("files_by_side") or {}
    outcomes = {k: _outcome(folder, k, labels[k], sides[k], files_by_side.get(k, {}), listed) for k in SIDES}
    metrics = verdict = None
    if (folder / "metrics.json").is_file():
        body = _json(folder, "metrics.json", what="the metrics", listed=listed)
        if not isinstance(body, dict) or not all(isinstance(body.get(k) or {}, dict) for k in ("metrics", "parity")):
            raise BundleError(f"{folder / 'metrics.json'}: expected a JSON object with tables metrics and parity")
        try:
            metrics = metrics_from_dict(body["metrics"]) if body.get("metrics") else None
            verdict = verdict_from_dict(body["parity"]) if body.get("parity") else None
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise BundleError(f"{folder / 'metrics.json'}: not metrics this nbparity reads "
                              f"({type(exc).__name__}: {exc})") from None
    thresholds = ParityThresholds(**_known(ParityThresholds, manifest.get("parity_thresholds") or {}))
    inspections = tuple(read_inspections(folder, labels, thresholds.phi_tol, listed=listed))
    return ComparisonRecord(argv=tuple(argv), config=_config(argv, manifest), labels=tuple(labels.items()),
                            outcomes=tuple(outcomes.items()), metrics=metrics, verdict=verdict,
                            inspections=inspections, thresholds=thresholds,
                            warnings=tuple(manifest.get("warnings") or ()), manifest=manifest)


def verify_bundle(folder: Path, manifest: dict) -> None:
    """BundleError naming the first listed file that is missing or differs from what was written (the manifest
    is checked first: names inside the bundle, no links)."""
    check_manifest(folder, manifest)
    for entry in manifest["files"]:
        path = member_path(folder, entry["name"], "files")
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


def read_inspections(folder: Path, labels: dict[str, str], tol: float, *, listed: dict | None = None) -> list:
    """PixelInspection per pixel_s<S>_f<F>.json table (plus curves and errors), in (slow, fast) order.
    listed: the manifest's files (a table it does not list is refused); None reads what is there."""
    found: dict[tuple[int, int], Any] = {}
    for path in sorted(folder.glob("pixel_s*_f*.json")):
        m = _TABLE.match(path.name)
        if not m:
            continue
        _member(folder, path.name, listed)
        s, f = int(m.group(1)), int(m.group(2))
        table = _json(folder, path.name, what="a per-phi table", listed=listed)
        if not isinstance(table, dict):
            raise BundleError(f"{path}: expected a JSON object (a per-phi table)")
        try:
            found[(s, f)] = _inspection(table, labels, s, f, tol)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise BundleError(f"{path}: not a per-phi table this nbparity reads (summary, columns, rows, scalars): "
                              f"{type(exc).__name__}: {exc}") from None
    for path in sorted(folder.glob("pixel_s*_f*_errors.json")):
        m = re.match(r"^pixel_s(\d+)_f(\d+)_errors\.json$", path.name)
        if not m:
            continue
        s, f = int(m.group(1)), int(m.group(2))
        insp = found.setdefault((s, f), PixelInspection(s, f, labels=dict(labels)))
        errors = _json(folder, path.name, what="a pixel's errors", listed=listed)
        if not isinstance(errors, dict):
            raise BundleError(f"{path}: expected a JSON object (a pixel's errors)")
        for key, value in errors.items():
            side = "a" if key.startswith("A-") else "b" if key.startswith("B-") else None
            if side is None:
                continue
            (insp.log_tails if key.endswith("_log_tail") else insp.errors)[side] = str(value)
    for path in sorted(folder.glob("pixel_s*_f*_*_curve.csv")):
        m = re.match(r"^pixel_s(\d+)_f(\d+)_([AB])-.*_curve\.csv$", path.name)
        if m:
            s, f, side = int(m.group(1)), int(m.group(2)), m.group(3).lower()
            insp = found.setdefault((s, f), PixelInspection(s, f, labels=dict(labels)))
            insp.curves[side] = _curve(_member(folder, path.name, listed), labels[side], s, f)
    return [found[k] for k in sorted(found)]


# ---- pieces ---------------------------------------------------------------------------------------------------------
def _inspection(table: dict, labels: dict[str, str], s: int, f: int, tol: float):
    """One PixelInspection from a per-phi table (TypeError, KeyError, ... on a malformed one)."""
    insp = PixelInspection(s, f, labels=dict(labels))
    summary = table.get("summary") or {}
    tol_here = float(summary.get("tol") or tol)
    keys = table_keys(table)
    for k in SIDES:
        insp.traces[k] = _trace_from_table(table, keys[k], labels[k], s, f)
    ta, tb = insp.traces["a"], insp.traces["b"]
    if ta.samples and tb.samples:
        insp.comparison = compare_traces(ta, tb, tol=tol_here)
    for k in SIDES:
        if not insp.traces[k].samples and summary.get("dialects", {}).get(keys[k]) == "none":
            insp.traces.pop(k)
    return insp


def _member(folder: Path, name: str, listed: dict | None) -> Path:
    """folder/name, refused when the manifest (listed, when verifying) does not list it or it leaves the bundle."""
    if listed is not None and name not in listed:
        raise BundleError(f"{folder / name}: not listed in manifest.json, so not verified: the bundle was changed")
    return member_path(folder, name)


def _outcome(folder: Path, side: str, label: str, summary: dict, files: dict, listed: dict | None = None):
    o = summary.get("outcome")
    if o is None:
        return None
    log = (_member(folder, files["log"], listed).read_text(encoding="utf-8", errors="replace")
           if files.get("log") else "")
    if not o.get("ok"):
        return EngineOutcome(label, error=o.get("error") or "failed", log_tail=log[-4000:],
                             cancelled=bool(o.get("cancelled")), side=side)
    name = files.get("float")
    shape = o.get("shape")
    if not name or not shape:
        raise BundleError(f"{folder / 'manifest.json'}: side {side.upper()} ran but its image file or shape is "
                          "not recorded")
    path = _member(folder, name, listed)
    if not path.is_file() or path.stat().st_size != 4 * shape[0] * shape[1]:
        raise BundleError(f"{path}: expected {shape[0]} x {shape[1]} (slow x fast) float32 values from "
                          "manifest.json" + ("" if path.is_file() else ": missing"))
    img = np.fromfile(path, dtype="<f4")
    bad = int(np.count_nonzero(~np.isfinite(img)))
    if bad:
        raise BundleError(f"{path}: {bad} of {img.size} pixels are NaN or infinite; a bundle's images hold finite "
                          "intensities (a verdict read with them would mean nothing)")
    result = ImageResult(engine=label, image=img.reshape(shape[0], shape[1]).astype(np.float32, copy=False),
                         argv=list(summary.get("command") or []), log=log, wall_s=float(o.get("wall_s") or 0.0),
                         returncode=o.get("returncode"), meta=dict(o.get("meta") or {}, read_from=str(folder)))
    return EngineOutcome(label, result=result, side=side)


def table_keys(table: dict) -> dict[str, str]:
    """side -> the key a per-phi table uses for it: TABLE_KEYS, or LEGACY_KEYS for a table whose columns or
    summary say c_/py_ (written before the A/B names)."""
    cols = table.get("columns") or []
    summary = table.get("summary") or {}
    legacy = "c_phi_deg" in cols or ("a_phi_deg" not in cols and "path_c" in summary)
    return LEGACY_KEYS if legacy else TABLE_KEYS


def _trace_from_table(table: dict, key: str, label: str, slow: int, fast: int) -> PixelTrace:
    """One side's per-phi samples from the table's <key>_* columns (key: "a"/"b", or "c"/"py" in an old bundle),
    on the path the table compared."""
    prefix = f"{key}_"
    summary = table.get("summary") or {}
    path_d = summary.get(f"path_{key}")
    path = PathKey(**_known(PathKey, path_d)) if path_d else PathKey()
    cols = [c for c in table.get("columns", []) if c.startswith(prefix) and c != f"{prefix}phi_deg"]
    tr = PixelTrace(engine=label, slow=slow, fast=fast,
                    dialect=str(summary.get("dialects", {}).get(key) or "none"))
    for row in table.get("rows", []):
        phi = row.get(f"{prefix}phi_deg")
        if phi is None:
            continue  # this side has no sample at the tick
        values = {c[len(prefix):]: float(row[c]) for c in cols if row.get(c) is not None}
        tr.samples.append(PhiSample(phi_tic=int(row["tick"]), phi_deg=float(phi), path=path, values=values))
    for s in table.get("scalars", []):
        v = s.get(key)
        if v is not None:
            tr.scalars[s["key"]] = [float(x) for x in v]
            tr.scalars_all[s["key"]] = [tr.scalars[s["key"]]]
    tr.notes = list((summary.get("notes") or {}).get(key) or [])
    tr.notes.append(f"read from a bundle: the compared path only ({path})")
    return tr


def _curve(path: Path, label: str, slow: int, fast: int):
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


def _json(folder: Path, name: str, *, what: str, listed: dict | None = None) -> Any:
    if not folder.is_dir():
        raise BundleError(f"{folder}: no such folder (expected a comparison bundle)")
    path = folder / name if name == "manifest.json" else _member(folder, name, listed)
    if path.is_symlink():
        raise BundleError(f"{path}: a symbolic link; a bundle holds its own files only")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if name != "manifest.json":
            raise BundleError(f"{path}: missing ({what})") from None
        hint = (": it is a sweep folder; open one of its cases (report.html lists the commands)"
                if (folder / "records.json").is_file() and (folder / "cases").is_dir() else "")
        raise BundleError(f"{path}: missing: {folder} is not a comparison bundle{hint}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise BundleError(f"{path}: cannot read {what} ({type(exc).__name__}: {str(exc)[:200]})") from None


def _known(cls, d: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in (d or {}).items() if k in names}


def _float(v) -> float:
    return math.nan if v is None else float(v)
