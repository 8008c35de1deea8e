"""Per-φ tables of one pixel, both engines side by side with py − c deltas and the divergence marker.

Column order of every format: tick, c_phi_deg, py_phi_deg, then for each common field f: c_f, py_f, d_f (py − c),
then the fields only one engine has (c_f or py_f), then status ("OK", "DIVERGE", or "only C"/"only Py"), and
first ("<<" on the first diverging tick). Missing values are empty (CSV, markdown) or null (JSON).
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
    cols = ["tick", "c_phi_deg", "py_phi_deg"]
    for f in cmp.fields:
        if f == "phi_deg":
            continue
        cols += [f"c_{f}", f"py_{f}", f"d_{f}"]
    # phi_deg already has its two columns above: never again as a one-side field.
    cols += [f"c_{f}" for f in cmp.missing_in_py if f != "phi_deg"]
    cols += [f"py_{f}" for f in cmp.missing_in_c if f != "phi_deg"]
    return cols + ["status", "first"]


def phi_table_rows(cmp: PhiComparison) -> list[dict]:
    """One dict per tick (keys as in the module docstring; values float, int, str or None)."""
    cols = _columns(cmp)
    first_tic = cmp.first_divergence.phi_tic if cmp.first_divergence else None
    out: list[dict] = []
    for r in cmp.rows:
        row: dict = {k: None for k in cols}
        row.update(tick=r.phi_tic, c_phi_deg=r.phi_deg_c, py_phi_deg=r.phi_deg_py)
        for f, v in r.c.items():
            if f"c_{f}" in row:
                row[f"c_{f}"] = v
        for f, v in r.py.items():
            if f"py_{f}" in row:
                row[f"py_{f}"] = v
        for f, d in r.delta.items():
            if f"d_{f}" in row:
                row[f"d_{f}"] = d
        if r.phi_deg_c is None:
            row["status"] = "only Py"
        elif r.phi_deg_py is None:
            row["status"] = "only C"
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


def summary_dict(cmp: PhiComparison, c_trace: PixelTrace, py_trace: PixelTrace) -> dict:
    """Header facts for the tables: pixel, dialects, paths, tolerance, the one-line verdict."""
    d = cmp.first_divergence
    return {
        "pixel": {"slow": c_trace.slow, "fast": c_trace.fast},
        "engines": {"c": c_trace.engine, "py": py_trace.engine},
        "dialects": {"c": c_trace.dialect, "py": py_trace.dialect},
        "path_c": cmp.path_c, "path_py": cmp.path_py,
        "tol": cmp.tol,
        "describe": cmp.describe(),
        "first_divergence": d,
        "max_abs_delta": cmp.max_abs_delta,
        "missing_in_c": cmp.missing_in_c, "missing_in_py": cmp.missing_in_py,
        "ticks_only_c": cmp.ticks_only_c, "ticks_only_py": cmp.ticks_only_py,
        "notes": {"c": c_trace.notes, "py": py_trace.notes},
    }


def _scalar_rows(c_trace: PixelTrace, py_trace: PixelTrace) -> list[dict]:
    """Pixel-level keys both engines printed, first occurrence, with element-wise py − c."""
    rows = []
    for k, vc in c_trace.scalars.items():
        vp = py_trace.scalars.get(k)
        if vp is None:
            continue
        d = [p - q for p, q in zip(vp, vc, strict=True)] if len(vp) == len(vc) else None
        rows.append({"key": k, "c": vc, "py": vp, "delta": d})
    return rows


def path_text(p) -> str:
    """A PathKey in words: 'layer 0, sub-pixel (0, 0), source 0, mosaic domain 0' ('—' for None)."""
    if p is None:
        return "—"
    return f"layer {p.layer}, sub-pixel ({p.sub_s}, {p.sub_f}), source {p.src}, mosaic domain {p.mos}"


def write_phi_tables(folder: Path | str, stem: str, cmp: PhiComparison, c_trace: PixelTrace,
                     py_trace: PixelTrace) -> list[Path]:
    """Write <stem>.json, <stem>.csv and <stem>.md into `folder` (which must exist); returns the three paths."""
    folder = Path(folder)
    rows = phi_table_rows(cmp)
    cols = _columns(cmp)
    summary = summary_dict(cmp, c_trace, py_trace)
    scalars = _scalar_rows(c_trace, py_trace)

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
    lines = [f"# Per-φ trace, pixel (slow {c_trace.slow}, fast {c_trace.fast})", "",
             f"c (side A): {c_trace.engine} ({c_trace.dialect} dialect), path {path_text(cmp.path_c)}; "
             f"py (side B): {py_trace.engine} ({py_trace.dialect} dialect), path {path_text(cmp.path_py)}.  ",
             f"Δ = {py_trace.engine} − {c_trace.engine}; tolerance on h, k, l: {fmt_num(cmp.tol)}.", "",
             f"**{cmp.describe()}**", ""]
    if cmp.missing_in_c or cmp.missing_in_py:
        lines += [f"Fields only in {py_trace.engine}: {', '.join(cmp.missing_in_c) or '—'}; "
                  f"only in {c_trace.engine}: {', '.join(cmp.missing_in_py) or '—'}.", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_md_cell(r[c], c.startswith("d_")) for c in cols) + " |")
    if scalars:
        lines += ["", "## Pixel-level values (first occurrence)", "", "| key | C | PyTorch | Δ |", "|---|---|---|---|"]
        for s in scalars:
            fmt = lambda vs: " ".join(f"{v:.10g}" for v in vs)  # noqa: E731
            dd = " ".join(fmt_num(v) for v in s["delta"]) if s["delta"] is not None else "(lengths differ)"
            lines.append(f"| {s['key']} | {fmt(s['c'])} | {fmt(s['py'])} | {dd} |")
    pm.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [pj, pc, pm]
