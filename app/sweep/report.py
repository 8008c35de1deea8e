"""The sweep's report: one table of every case, worst first, as CSV, markdown and a self-contained HTML page
(no scripts, no external files), plus records.json (every CaseRecord). Each row names the case's comparison bundle
and how to open it: `nbparity gui --bundle DIR`.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
import shlex
from pathlib import Path

from app.sweep.record import CaseRecord
from tracing.bundle import json_safe

COLUMNS = ("case", "status", "correlation", "max_rel_err", "max_rel_err_pixel", "sum_ratio", "max_abs_diff",
           "n_beyond_tol", "first divergent quantity", "where", "explained by", "first_divergence", "time_a_s",
           "time_b_s", "engines", "bundle", "note")
REPORT_FILES = ("report.csv", "report.md", "report.html", "records.json")


def worst_first(records: list[CaseRecord]) -> list[CaseRecord]:
    return sorted(records, key=CaseRecord.badness)


def _num(v, digits: int = 9) -> str:
    if v is None:
        return ""
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _pixel(p) -> str:
    return f"({p[0]}, {p[1]})" if p else ""


def divergence_text(rec: CaseRecord) -> str:
    """First divergence per probe, '; '-joined: 'pixel (s, f): tick T (φ°) Δfield=δ' or 'none' or the error."""
    parts = []
    for p in rec.probes:
        head = f"({p.slow}, {p.fast})"
        if p.error:
            parts.append(f"{head}: {p.error}")
        elif p.field is not None:
            phi = f" ({p.phi_deg:.4g}°)" if p.phi_deg is not None else ""
            parts.append(f"{head}: tick {p.tick}{phi} Δ{p.field}={p.delta:.3g}")
        else:
            parts.append(f"{head}: none")
    return "; ".join(parts)


def row(rec: CaseRecord, csv_exact: bool = False) -> dict[str, str]:
    """One table row as text; csv_exact writes floats with repr (they read back as the same double)."""
    fmt = (lambda v: "" if v is None else repr(v)) if csv_exact else _num
    note = rec.error or ("resumed: from an earlier run" if rec.resumed else "")
    return {"case": rec.name, "status": rec.status.upper(), "correlation": fmt(rec.correlation),
            "max_rel_err": fmt(rec.max_rel_err), "max_rel_err_pixel": _pixel(rec.max_rel_err_pixel),
            "sum_ratio": fmt(rec.sum_ratio), "max_abs_diff": fmt(rec.max_abs_diff),
            "n_beyond_tol": _num(rec.n_beyond_tol), "first divergent quantity": rec.first_quantity,
            "where": rec.first_where, "explained by": rec.explained_by, "first_divergence": divergence_text(rec),
            "time_a_s": _num(rec.time_a_s, 4), "time_b_s": _num(rec.time_b_s, 4),
            "engines": " vs ".join(rec.labels or rec.engines), "bundle": rec.bundle or "", "note": note}


def counts(records: list[CaseRecord]) -> dict[str, int]:
    out = {"pass": 0, "fail": 0, "error": 0, "cancelled": 0}
    for r in records:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def summary_line(records: list[CaseRecord]) -> str:
    c = counts(records)
    return (f"{len(records)} cases: {c['pass']} pass, {c['fail']} fail, {c['error']} error, "
            f"{c['cancelled']} not finished")


def write_reports(folder: Path, records: list[CaseRecord], *, title: str, facts: dict[str, str]) -> list[Path]:
    """Write REPORT_FILES into `folder` (each via a temporary file renamed into place); returns their paths."""
    recs = worst_first(records)
    folder.mkdir(parents=True, exist_ok=True)
    body = json_safe({"title": title, "facts": facts, "records": [r.to_dict() for r in recs]})
    return [_atomic(folder / "report.csv", to_csv(recs)),
            _atomic(folder / "report.md", to_markdown(recs, title, facts, folder)),
            _atomic(folder / "report.html", to_html(recs, title, facts, folder)),
            _atomic(folder / "records.json", json.dumps(body, indent=2, allow_nan=False) + "\n")]


def to_csv(recs: list[CaseRecord]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in recs:
        w.writerow(row(r, csv_exact=True))
    return buf.getvalue()


def _open_cmd(folder: Path, rec: CaseRecord) -> str:
    return f"nbparity gui --bundle {shlex.quote(str(folder / rec.bundle))}" if rec.bundle else ""


def to_markdown(recs: list[CaseRecord], title: str, facts: dict[str, str], folder: Path) -> str:
    lines = [f"# {title}", "", summary_line(recs) + " (worst first).", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()] + [""]
    groups = cause_groups(recs)
    if groups:
        lines += ["## Failing cases by cause", ""]
        lines += [f"{i}. {line}: {', '.join(m.name for m in members)}" for i, (line, members) in
                  enumerate(groups, start=1)] + [""]
    cols = [c for c in COLUMNS if c != "bundle"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in recs:
        cells = row(r)
        lines.append("| " + " | ".join(cells[c].replace("|", "\\|") for c in cols) + " |")
    lines += ["", "## Open a case in the viewer", "",
              "Each case's comparison bundle (images, metrics, per-φ tables of the probe pixels) opens without "
              "re-running:", ""]
    lines += [f"- {r.name}: `{_open_cmd(folder, r)}`" for r in recs if r.bundle]
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#eee;position:sticky;top:0}
td.num{text-align:right;font-family:monospace}tr.pass td.status{background:#d7f5d7}tr.fail td.status{background:#fbd3d3}
tr.error td.status,tr.cancelled td.status{background:#fde9b8}code{background:#f3f3f3;padding:1px 3px}
.muted{color:#777}table.cases{table-layout:fixed;width:1390px}table.cases td,table.cases th{overflow-wrap:anywhere}"""
# Column widths (px) of the HTML table: a fixed layout at most 1390 px wide (CSS 2.1 17.5.2.1: the columns take
# these widths and long cells wrap inside them), with room for "engine A vs engine B" on two lines.
HTML_WIDTHS = {"case": 100, "status": 50, "correlation": 68, "max_rel_err": 68, "max_rel_err_pixel": 68,
               "sum_ratio": 60, "max_abs_diff": 68, "n_beyond_tol": 50, "first divergent quantity": 80, "where": 90,
               "explained by": 100, "first_divergence": 92, "time_a_s": 45, "time_b_s": 45, "engines": 256,
               "note": 60, "open in the viewer": 90}


def to_html(recs: list[CaseRecord], title: str, facts: dict[str, str], folder: Path) -> str:
    e = html.escape
    num_cols = {"correlation", "max_rel_err", "sum_ratio", "max_abs_diff", "n_beyond_tol", "time_a_s", "time_b_s"}
    cols = [c for c in COLUMNS if c != "bundle"] + ["open in the viewer"]
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{_CSS}</style>"
           f"</head><body><h1>{e(title)}</h1><p>{e(summary_line(recs))}, worst first.</p><ul>"]
    out += [f"<li>{e(k)}: {e(v)}</li>" for k, v in facts.items()]
    out.append("</ul><p>To open a case without re-running it (images, metrics, per-φ tables of the probe pixels), "
               "copy its command from the last column, e.g. <code>nbparity gui --bundle DIR</code>.</p>"
               + causes_html(recs) +
               "<table class='cases'><colgroup>" + "".join(f"<col style='width:{HTML_WIDTHS[c]}px'>" for c in cols)
               + "</colgroup><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr></thead><tbody>")
    for r in recs:
        cells = row(r)
        tds = []
        for c in cols[:-1]:
            cls = "num" if c in num_cols else ("status" if c == "status" else "")
            tds.append(f"<td class='{cls}'>{e(cells[c])}</td>")
        cmd = _open_cmd(folder, r)
        summary = f" <a href='{e(r.bundle)}/summary.md'>summary</a>" if r.bundle else ""
        tds.append(f"<td><code>{e(cmd)}</code>{summary}</td>" if cmd else "<td class='muted'>no bundle</td>")
        out.append(f"<tr class='{e(r.status)}'>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></body></html>\n")
    return "".join(out)


def cause_groups(recs: list[CaseRecord]) -> list[tuple[str, list[CaseRecord]]]:
    """Failing cases grouped by cause (issue 21): one group per (first divergent quantity, where without the
    pixel, explained by), largest group first; a case with no auto-trace finding forms the group 'cause not
    traced'. Returns (the group's line, its cases in report order)."""
    groups: dict[tuple[str, str, str, bool], list[CaseRecord]] = {}
    for r in recs:
        if r.status == "fail":
            where = _PIXEL_AT.sub("", r.first_where).strip()
            groups.setdefault((r.first_quantity, where, r.explained_by, bool(r.cause)), []).append(r)
    out = []
    for (q, where, by, traced), members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        if not traced:
            line = "cause not traced (auto-trace off, cut short by its budget, or the case was resumed)"
        elif q == "":   # the traced pixels agree (their coordinates differ from case to case: not in the line)
            line = "no divergent quantity in the traced pixels: the divergence is elsewhere"
        elif q == "not traced":
            line = members[0].cause
        else:
            line = f"first divergent quantity: {q}" + (f" at {where}" if where else "") + \
                f" — {by or 'unexplained'}"
        out.append((line, members))
    return out


_PIXEL_AT = re.compile(r"\s*\bat \(\d+, \d+\)$")


def causes_html(recs: list[CaseRecord]) -> str:
    """The HTML section of failing cases by cause: one line per cause, its cases listed under it."""
    groups = cause_groups(recs)
    if not groups:
        return ""
    e = html.escape
    items = "".join(f"<li class='cause'><b>{e(line)}</b>: {len(members)} case{'s' if len(members) > 1 else ''}"
                    f"<div class='muted'>{e(', '.join(m.name for m in members))}</div></li>"
                    for line, members in groups)
    return f"<h2>Failing cases by cause</h2><ol class='causes'>{items}</ol>"


def _atomic(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
