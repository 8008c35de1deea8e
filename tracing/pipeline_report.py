"""A pipeline diff (tracing.pipeline) as table rows, markdown and JSON: the forms `nbparity trace` / `compare`
write into a bundle (`pipeline_s<S>_f<F>.md` / `.json`) and report.html shows.

Columns: stage, quantity, tick, unit, A, B (canonical unit), A raw, B raw (as printed), rel Δ, status, note.
Vectors print as space-separated components; a missing side is empty (markdown) or null (JSON).
"""
from __future__ import annotations

from .bundle import json_safe
from .pipeline import PipelineDiff, PipelineRow

COLUMNS: tuple[str, ...] = ("stage", "quantity", "tick", "unit", "A", "B", "A raw", "B raw", "rel Δ", "status",
                            "note")


def fmt_values(v: tuple[float, ...] | None) -> str:
    return "" if v is None else " ".join(f"{x:.9g}" for x in v)


def row_cells(r: PipelineRow) -> dict[str, str]:
    """One row as display strings keyed by COLUMNS (raw columns empty when nothing was converted)."""
    raw_a = fmt_values(r.a_raw) if r.a_raw != r.a else ""
    raw_b = fmt_values(r.b_raw) if r.b_raw != r.b else ""
    status = r.status + (" (diverges)" if r.status.startswith("unit") and r.diverged else "")
    return {"stage": r.stage, "quantity": r.name, "tick": "" if r.tick is None else str(r.tick), "unit": r.unit,
            "A": fmt_values(r.a), "B": fmt_values(r.b), "A raw": raw_a, "B raw": raw_b,
            "rel Δ": "" if r.rel_delta is None else f"{r.rel_delta:.2e}", "status": status, "note": r.note}


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def pipeline_markdown(diff: PipelineDiff, names: tuple[str, str], title: str = "") -> str:
    """A markdown section: the first-divergence sentence, the unit problems, then the table."""
    lines = [f"## {title or 'Whole calculation'} (A = {_md(names[0])}, B = {_md(names[1])})", "",
             f"**{_md(diff.sentence)}**", ""]
    if diff.unit_problems:
        lines += ["Unit problems:", ""] + [f"- {_md(u)}" for u in diff.unit_problems] + [""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in diff.rows:
        c = row_cells(r)
        lines.append("| " + " | ".join(_md(c[k]) for k in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def pipeline_json(diff: PipelineDiff, names: tuple[str, str]) -> dict:
    """JSON-ready dict: sides, sentence, first divergent row, unit problems and every row (numbers as numbers)."""
    def row(r: PipelineRow | None) -> dict | None:
        if r is None:
            return None
        return {"stage": r.stage, "name": r.name, "tick": r.tick, "unit": r.unit, "a": r.a, "b": r.b,
                "a_raw": r.a_raw, "b_raw": r.b_raw, "rel_delta": r.rel_delta, "status": r.status,
                "diverged": r.diverged, "note": r.note}
    return json_safe({"sides": {"a": names[0], "b": names[1]}, "sentence": diff.sentence,
                      "first_divergent": row(diff.first_divergent), "unit_problems": list(diff.unit_problems),
                      "rows": [row(r) for r in diff.rows]})
