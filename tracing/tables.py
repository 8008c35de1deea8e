"""Per-φ tables of one pixel, sides A and B side by side with B − A deltas and the divergence marker.

Column order of every format: tick, a_phi_deg, b_phi_deg, then for each common field f: a_f, b_f, d_f (B − A),
then the fields only one side has (a_f or b_f), then status ("OK", "DIVERGE", or "only A"/"only B"), and
first ("<<" on the first diverging tick). Missing values are empty (CSV, markdown) or null (JSON). The JSON's
summary keys each side's facts by "a" and "b" (engines, dialects, notes, path_a/path_b, missing_in_a/_b,
ticks_only_a/_b); the engine names say which program ran on each side. Bundles written before this used c_/py_
(and "c"/"py") for A/B: app.bundle.bundle_reader reads both (LEGACY_PREFIXES).
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from .bundle import json_safe
from .phi_compare import PhiComparison, fmt_num
from .records import PixelTrace


def _columns(cmp: PhiComparison) -> list[str]:
    cols = ["tick", "a_phi_deg", "b_phi_deg"]
    for f in cmp.fields:
        if f == "phi_deg":
            continue
        cols += [f"a_{f}", f"b_{f}", f"d_{f}"]
    # phi_deg already has its two columns above: never again as a one-side field.
    cols += [f"a_{f}" for f in cmp.missing_in_py if f != "phi_deg"]
    cols += [f"b_{f}" for f in cmp.missing_in_c if f != "phi_deg"]
    return cols + ["status", "first"]


def phi_table_rows(cmp: PhiComparison) -> list[dict]:
    """One dict per tick (keys as in the module docstring; values float, int, str or None)."""
    cols = _columns(cmp)
    first_tic = cmp.first_divergence.phi_tic if cmp.first_divergence else None
    out: list[dict] = []
    for r in cmp.rows:
        row: dict = {k: None for k in cols}
        row.update(tick=r.phi_tic, a_phi_deg=r.phi_deg_c, b_phi_deg=r.phi_deg_py)
        for f, v in r.c.items():   # PhiRow.c / .py: sides A and B (tracing.phi_compare's names)
            if f"a_{f}" in row:
                row[f"a_{f}"] = v
        for f, v in r.py.items():
            if f"b_{f}" in row:
                row[f"b_{f}"] = v
        for f, d in r.delta.items():
            if f"d_{f}" in row:
                row[f"d_{f}"] = d
        if r.phi_deg_c is None:
            row["status"] = "only B"
        elif r.phi_deg_py is None:
            row["status"] = "only A"
        else:
            row["status"] = "DIVERGE" if r.diverged else "OK"
        row["first"] = "<<" if r.phi_tic == first_tic else ""
        out.append(row)
    return out


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)  # repr: shortest text that reads back the same double
    return str(v)


def _md_cell(v, delta: bool) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return fmt_num(v) if delta else f"{v:.10g}"
    return str(v)


def summary_dict(cmp: PhiComparison, trace_a: PixelTrace, trace_b: PixelTrace) -> dict:
    """Header facts for the tables: pixel, engines, dialects, paths, tolerance, the one-line verdict."""
    d = cmp.first_divergence
    return {
        "pixel": {"slow": trace_a.slow, "fast": trace_a.fast},
        "engines": {"a": trace_a.engine, "b": trace_b.engine},
        "dialects": {"a": trace_a.dialect, "b": trace_b.dialect},
        "path_a": cmp.path_c, "path_b": cmp.path_py,
        "tol": cmp.tol,
        "describe": cmp.describe(),
        "first_divergence": d,
        "max_abs_delta": cmp.max_abs_delta,
        "missing_in_a": cmp.missing_in_c, "missing_in_b": cmp.missing_in_py,
        "ticks_only_a": cmp.ticks_only_c, "ticks_only_b": cmp.ticks_only_py,
        "notes": {"a": trace_a.notes, "b": trace_b.notes},
    }


def _scalar_rows(trace_a: PixelTrace, trace_b: PixelTrace) -> list[dict]:
    """Pixel-level keys both sides printed, first occurrence, with element-wise B − A."""
    rows = []
    for k, va in trace_a.scalars.items():
        vb = trace_b.scalars.get(k)
        if vb is None:
            continue
        d = [p - q for p, q in zip(vb, va, strict=True)] if len(vb) == len(va) else None
        rows.append({"key": k, "a": va, "b": vb, "delta": d})
    return rows


def path_text(p) -> str:
    """A PathKey in words: 'layer 0, sub-pixel (0, 0), source 0, mosaic domain 0' ('—' for None)."""
    if p is None:
        return "—"
    return f"layer {p.layer}, sub-pixel ({p.sub_s}, {p.sub_f}), source {p.src}, mosaic domain {p.mos}"


def write_phi_tables(folder: Path | str, stem: str, cmp: PhiComparison, trace_a: PixelTrace,
                     trace_b: PixelTrace) -> list[Path]:
    """Write <stem>.json, <stem>.csv and <stem>.md into `folder` (which must exist); returns the three paths."""
    folder = Path(folder)
    rows = phi_table_rows(cmp)
    cols = _columns(cmp)
    summary = summary_dict(cmp, trace_a, trace_b)
    scalars = _scalar_rows(trace_a, trace_b)

    pj = folder / f"{stem}.json"
    pj.write_text(json.dumps(json_safe({"summary": summary, "columns": cols, "rows": rows, "scalars": scalars}),
                             indent=2, allow_nan=False) + "\n", encoding="utf-8")

    pc = folder / f"{stem}.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r[c]) for c in cols])
    pc.write_text(buf.getvalue(), encoding="utf-8")

    pm = folder / f"{stem}.md"
    lines = [f"# Per-φ trace, pixel (slow {trace_a.slow}, fast {trace_a.fast})", "",
             f"a (side A): {trace_a.engine} ({trace_a.dialect} dialect), path {path_text(cmp.path_c)}; "
             f"b (side B): {trace_b.engine} ({trace_b.dialect} dialect), path {path_text(cmp.path_py)}.  ",
             f"Δ = {trace_b.engine} − {trace_a.engine}; tolerance on h, k, l: {fmt_num(cmp.tol)}.", "",
             f"**{cmp.describe()}**", ""]
    if cmp.missing_in_c or cmp.missing_in_py:
        lines += [f"Fields only in {trace_b.engine}: {', '.join(cmp.missing_in_c) or '—'}; "
                  f"only in {trace_a.engine}: {', '.join(cmp.missing_in_py) or '—'}.", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_md_cell(r[c], c.startswith("d_")) for c in cols) + " |")
    if scalars:
        lines += ["", "## Pixel-level values (first occurrence)", "",
                  f"| key | A: {trace_a.engine} | B: {trace_b.engine} | Δ |", "|---|---|---|---|"]
        for s in scalars:
            fmt = lambda vs: " ".join(f"{v:.10g}" for v in vs)  # noqa: E731
            dd = " ".join(fmt_num(v) for v in s["delta"]) if s["delta"] is not None else "(lengths differ)"
            lines.append(f"| {s['key']} | {fmt(s['a'])} | {fmt(s['b'])} | {dd} |")
    pm.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [pj, pc, pm]
