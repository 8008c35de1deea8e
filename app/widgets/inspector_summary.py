"""The inspector's summary line (rich text): the pixel, where loaded sides' traces come from, the first divergence,
trace failures and the per-φ fields a side does not trace where the other does."""
from __future__ import annotations

from app.widgets.inspector_plots import SMALL_TITLES
from tracing.phi_compare import PhiComparison
from tracing.records import PLOT_FIELDS
from app.core.sides import SIDES
from app.widgets.metrics_panel import esc



def trace_source_notes(sources: dict[str, tuple[str, str | None]]) -> list[str]:
    """Sentences for the sides loaded from files (side -> (file name, tracing engine or None))."""
    notes = []
    for side in SIDES:
        if side not in sources:
            continue
        name, tracer = sources[side]
        letter = side.upper()
        if tracer is None:
            notes.append(f"Side {letter} is the file {name}: no engine can trace it (the command line is not "
                         "valid), so its per-φ values are missing")
        else:
            notes.append(f"Side {letter} is the file {name}: its per-φ trace is not read from the file but "
                         f"computed by {tracer} on the command line; choose side {letter}'s engine and "
                         "carry-over to match how the file was made")
    return notes


def summary_html(insp, side_names: tuple[str, str], comparison: PhiComparison | None, notes: list[str]) -> str:
    """One rich-text line about an app.core.records.PixelInspection; parts joined by ' · '."""
    a, b = side_names
    parts = [f"<b>Pixel (slow={insp.slow}, fast={insp.fast})</b>"]
    parts += [f"<span style='color:#b35900'><b>{esc(n)}</b></span>" for n in notes]
    if comparison is not None:
        color = "#d62728" if comparison.first_divergence is not None else "#2ca02c"
        parts.append(f"<span style='color:{color}'><b>{comparison.describe()}</b></span>")
    for name, err in ((a, insp.error_a), (b, insp.error_b)):
        if err:
            parts.append(f"<span style='color:#b00020'>{name} trace failed: {esc(err)}</span>")
    traces = (insp.trace_a, insp.trace_b)
    for i, (name, tr) in enumerate(((a, insp.trace_a), (b, insp.trace_b))):
        if tr is None:
            continue
        if not tr.samples:
            parts.append(f"{name} printed no per-φ trace lines (dialect '{tr.dialect}')")
            continue
        # Only what the other side traces: a field neither traces has no plot and needs no sentence.
        other = traces[1 - i]
        other_fields = set(other.fields()) if other is not None else set()
        missing = [SMALL_TITLES[f] for f in PLOT_FIELDS if f not in tr.fields() and f in other_fields]
        if missing:
            parts.append(f"{name} ({tr.dialect} dialect) traces no {', '.join(missing)}")
    if insp.curve_a is not None:
        parts.append(f"{a} per-φ intensity shown from single-tick runs (green squares, contribution plot)")
    if comparison is not None and (comparison.ticks_only_c or comparison.ticks_only_py):
        parts.append(f"ticks only in {a}: {comparison.ticks_only_c}; only in {b}: {comparison.ticks_only_py}")
    return " · ".join(parts)
