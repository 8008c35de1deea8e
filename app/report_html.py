"""A self-contained `report.html` for a snapshot (Qt-free): opens in any browser with no network and no other file.

Sections: the verdict and the command line; both engines (name, command, time or "loaded"); the image metrics;
the panel pictures; for each inspected pixel its first-divergence sentence, its figure and its per-φ table (the
divergence row highlighted), then the whole calculation diffed (tracing.pipeline: every quantity both sides trace,
in nanoBragg's order, the first divergent quantity named, unit problems listed); provenance (the manifest's
versions, commit, binary hash). Pictures are embedded as
`data:image/png;base64,…` URIs and the style sheet is inline, so the file can be mailed on its own.
"""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Any

from tracing.pipeline import PipelineDiff, diff_pipeline
from tracing.pipeline_report import COLUMNS, row_cells
from tracing.tables import phi_table_rows

PANEL_CAPTIONS = {"panel_c.png": "Side A", "panel_py.png": "Side B", "panel_diff.png": "Difference",
                  "panel_compare.png": "Swipe or overlay, as shown"}
PROVENANCE_KEYS = ("nbparity_version", "time_utc", "git_commit", "git_dirty", "schedule", "c_binary", "c_binary_sha256",
                   "c_threads", "torch_version", "torch_dtype", "torch_device", "torch_threads", "c_carryover",
                   "torch_carryover", "python", "platform")
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;background:#fff;margin:24px;
max-width:1500px} h1{font-size:24px;margin:0 0 6px} h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ccc}
h3{font-size:16px;margin:18px 0 6px} code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f4f4f4;padding:8px;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;font-size:13px;margin:6px 0} td,th{border:1px solid #bbb;padding:3px 7px;
text-align:right;white-space:nowrap} th{background:#eee} td.l,th.l{text-align:left}
tr.div td{background:#ffd6d6;font-weight:600} tr.unit td{background:#fff3c4}
.pass{color:#1a7f1a;font-weight:700} .fail{color:#c00000;font-weight:700} .note{color:#444;font-size:13px}
figure{margin:10px 0} figcaption{font-size:13px;color:#333} img{max-width:100%;border:1px solid #ddd}
.panels figure{margin:14px 0} .scroll{overflow-x:auto} td.l code{white-space:pre-wrap;word-break:break-all}
td.l{white-space:normal}
"""


@dataclass
class ReportInput:
    """Everything the report shows; pictures as PNG bytes keyed by their bundle file names."""

    manifest: dict
    names: tuple[str, str]
    metric_rows: list[tuple[str, str]] = field(default_factory=list)
    verdict: str | None = None
    passed: bool | None = None
    side_notes: tuple[str, str] = ("", "")          # e.g. "2.31 s", or "loaded from x.cbf (counts, gain 1)"
    panels: dict[str, bytes] = field(default_factory=dict)
    inspections: list[Any] = field(default_factory=list)   # app.session.PixelInspection
    figures: dict[tuple[int, int], bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.9g}"
    return str(v)


def phi_table_html(cmp) -> str:
    """The per-φ table of a PhiComparison (tracing.tables.phi_table_rows), divergence row highlighted."""
    rows = phi_table_rows(cmp)
    if not rows:
        return "<p class='note'>No common φ ticks.</p>"
    cols = list(rows[0])
    caption = ("<p class='note'>c_… = side A, py_… = side B, d_… = B − A; the highlighted row is the first "
               "divergence.</p>")
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cls = " class='div'" if r.get("first") else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_e(_num(r[c]))}</td>" for c in cols) + "</tr>")
    return f"{caption}<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>"


def pipeline_html(diff: PipelineDiff) -> str:
    """The whole-calculation table of one pixel: sentence, unit problems, rows (divergent ones highlighted, unit
    problems shaded)."""
    cls = "fail" if diff.first_divergent is not None else "pass"
    out = [f"<p class='{cls}'>{_e(diff.sentence)}</p>"]
    if diff.unit_problems:
        out.append("<ul>" + "".join(f"<li class='note'>{_e(u)}</li>" for u in diff.unit_problems) + "</ul>")
    head = "".join(f"<th class='l'>{_e(c)}</th>" for c in COLUMNS)
    body = []
    for r in diff.rows:
        c = row_cells(r)
        kind = " class='div'" if r.diverged else (" class='unit'" if r.status.startswith("unit") else "")
        body.append(f"<tr{kind}>" + "".join(f"<td class='l'>{_e(c[k])}</td>" for k in COLUMNS) + "</tr>")
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>"


def build_report(inp: ReportInput) -> str:
    """The report as one HTML string (UTF-8)."""
    a, b = inp.names
    m = inp.manifest
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>nbparity snapshot: {_e(a)} vs {_e(b)}</title><style>{STYLE}</style></head><body>",
           f"<h1>nbparity snapshot: A = {_e(a)} vs B = {_e(b)}</h1>",
           f"<p class='note'>Written {_e(m.get('time_utc'))} by nbparity {_e(m.get('nbparity_version'))}.</p>"]
    if inp.verdict:
        cls = "pass" if inp.passed else "fail"
        out.append(f"<p class='{cls}'>{_e(inp.verdict)}</p>")
    for n in inp.notes:
        out.append(f"<p class='note'>{_e(n)}</p>")
    out.append("<h2>Command line</h2>")
    out.append(f"<pre>{_e(' '.join(m.get('argv') or []))}</pre>")
    out.append("<h2>Engines</h2><table><tr><th class='l'>side</th><th class='l'>engine</th>"
               "<th class='l'>run</th><th class='l'>command</th></tr>")
    sides = m.get("sides") or {}
    cmds = tuple((sides.get(k) or {}).get("command") or [] for k in ("a", "b"))
    for side, name, note, cmd in (("A", a, inp.side_notes[0], cmds[0]), ("B", b, inp.side_notes[1], cmds[1])):
        out.append(f"<tr><td class='l'>{side}</td><td class='l'>{_e(name)}</td><td class='l'>{_e(note)}</td>"
                   f"<td class='l'><code>{_e(' '.join(map(str, cmd)))}</code></td></tr>")
    out.append("</table>")
    out.append("<h2>Image metrics</h2>")
    if inp.metric_rows:
        out.append("<table>" + "".join(f"<tr><th class='l'>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                       for k, v in inp.metric_rows) + "</table>")
    else:
        out.append("<p class='note'>No metrics: the two images were not both available with the same shape.</p>")
    if inp.panels:
        out.append("<h2>Images</h2><div class='panels'>")
        for name, png in inp.panels.items():
            cap = PANEL_CAPTIONS.get(name, name)
            cap = {"Side A": f"A: {a}", "Side B": f"B: {b}"}.get(cap, cap)
            out.append(f"<figure><img alt='{_e(cap)}' src='{data_uri(png)}'><figcaption>{_e(cap)} "
                       f"({_e(name)})</figcaption></figure>")
        out.append("</div>")
    out.append("<h2>Inspected pixels</h2>")
    if not inp.inspections:
        out.append("<p class='note'>No pixel was inspected.</p>")
    for insp in inp.inspections:
        out.append(f"<h3 id='{_e(insp.stem)}'>Pixel (slow {insp.slow}, fast {insp.fast})</h3>")
        cmp_ = insp.comparison
        sentence = cmp_.describe() if cmp_ is not None else insp.describe()
        cls = "fail" if cmp_ is not None and cmp_.first_divergence is not None else "pass"
        out.append(f"<p class='{cls}'>{_e(sentence)}</p>")
        fig_png = inp.figures.get((insp.slow, insp.fast))
        if fig_png is not None:
            out.append(f"<figure><img alt='per-φ figure of pixel ({insp.slow}, {insp.fast})' src='{data_uri(fig_png)}'>"
                       f"<figcaption>h, k, l and F_latt per φ tick; A = {_e(a)}, B = {_e(b)}; red line: first "
                       "divergence.</figcaption></figure>")
        if cmp_ is not None:
            out.append(phi_table_html(cmp_))
        ta, tb = insp.traces.get("a"), insp.traces.get("b")
        if ta is not None and tb is not None:
            out.append(f"<h3>Whole calculation of pixel (slow {insp.slow}, fast {insp.fast})</h3>")
            out.append(pipeline_html(diff_pipeline(ta, tb, names=inp.names)))
    out.append("<h2>Provenance</h2><table>")
    for k in PROVENANCE_KEYS:
        if k in m:
            out.append(f"<tr><th class='l'>{_e(k)}</th><td class='l'><code>{_e(m[k])}</code></td></tr>")
    out.append("</table></body></html>")
    return "\n".join(out)
