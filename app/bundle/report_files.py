"""A comparison's report files, drawn from its record (any thread, Qt offscreen for the figures): one figure per
inspected pixel (app.bundle.figures) and a self-contained report.html (app.bundle.report_html). The window's export
(app/window/export.py) and the headless snapshot (app/bundle/snapshot.py, `--png`) both call `report_files`.
"""
from __future__ import annotations

from app.core.sides import SIDES
from tracing.metrics import ParityThresholds
from app.bundle import figures, report_html
from app.core.records import ComparisonRecord, EngineOutcome


def report_files(record: ComparisonRecord, pictures: dict[str, bytes], names: tuple[str, str] | None = None,
                 side_notes: tuple[str, str] | None = None, notes: list[str] | None = None,
                 tol: float = ParityThresholds().phi_tol) -> dict[str, bytes]:
    """One figure per inspected pixel and report.html for a ComparisonRecord (any thread; also for
    headless bundles). pictures: the panel PNGs already drawn (file name -> bytes), embedded in the report."""
    from tracing.metrics import metric_rows
    names = names or (record.label("a"), record.label("b"))
    if side_notes is None:
        side_notes = (_side_note(record.outcome(SIDES[0])), _side_note(record.outcome(SIDES[1])))
    files: dict[str, bytes] = {}
    figs: dict[tuple[int, int], bytes] = {}
    for insp in record.inspections:
        png = figures.pixel_figure_png(insp, names, tol, notes or ())
        figs[(insp.slow, insp.fast)] = png
        files[f"{insp.stem}_figure.png"] = png
    v = record.verdict
    inp = report_html.ReportInput(
        manifest=record.manifest, names=names,
        metric_rows=metric_rows(record.metrics) if record.metrics is not None else [],
        verdict=v.sentence() if v is not None else None, passed=v.passed if v is not None else None,
        side_notes=side_notes, panels={k: b for k, b in pictures.items() if k.startswith("panel_")},
        inspections=list(record.inspections), figures=figs, notes=list(notes or []))
    files["report.html"] = report_html.build_report(inp).encode("utf-8")
    return files


def _side_note(outcome: EngineOutcome | None) -> str:
    """A side's run column in the report: its time, "loaded …", or why it has no image."""
    if outcome is None:
        return "not run"
    if not outcome.ok:
        return f"failed: {outcome.error}"
    result = outcome.result
    assert result is not None  # outcome.ok: a result and no error
    meta = result.meta or {}
    return str(meta["loaded"]) if meta.get("loaded") else f"{result.wall_s:.2f} s"
