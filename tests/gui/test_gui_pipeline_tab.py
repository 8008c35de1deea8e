"""The inspector's Pipeline tab (issue 16): the whole calculation of the inspected pixel, quantity by quantity, filled
when an inspection completes (the diff is made on the trace's worker and arrives as RunModel.pipeline_ready).

- A PipelineDiff built by hand: every row shown with its status colour, raw values in tooltips, the first divergent
  row selected, the sentence and the unit problems on top.
- Our engines on the demo (64 x 64): the C reference carries the lattice over at φ = 0 (decisions D3). With the
  PyTorch side's carry-over on too, no quantity diverges; with it off (its default), the first divergent quantity is
  a tick-0 one and no per-φ quantity of a later tick diverges.
- The real clients (golden C vs the port, ../shared/clients) on a small case of our own: the port's trace prints k
  at 1e-10 of the Miller index (a unit problem of *its* trace, named in the tab), and after conversion its k agrees
  with the C's at ticks 1..9; the first divergence is at tick 0 (the golden C's carry-over). The plots show the
  port's k converted (app.core.inspection_pipeline), not flat at 1e-12.
"""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtGui  # noqa: E402

from gui_util import demo_with, inspect_and_wait, run_and_wait  # noqa: E402

pytestmark = pytest.mark.gui

N_TICKS = 10


def _row(stage, name, tick, a, b, status, rel=None, a_raw=None, b_raw=None, note="", diverged=False):
    from tracing.pipeline import PipelineRow
    return PipelineRow(stage, name, tick, "Å" if name == "rot_a" else "", a, b, a_raw or a, b_raw or b, rel, status,
                       note, diverged)


def test_pipeline_page_shows_rows_status_colours_raw_values_and_the_first_divergence(qtbot):
    from app.widgets.inspector_pipeline import COLUMNS, STATUS_COLOURS, PipelinePage
    from tracing.pipeline import PipelineDiff
    rows = (
        _row("lattice", "rot_a", None, (20.8, 0.0, 0.0), (20.8, 0.0, 0.0), "unit B", 0.0, b_raw=(2.08e-9, 0.0, 0.0),
             note="B prints rot_a_angstroms in m: converted × 1e10"),
        _row("per-φ", "k", 0, (1.992798,), (1.99968,), "diverge", 3.4e-3, diverged=True),
        _row("per-φ", "k", 1, (2.0,), (2.0,), "match", 0.0),
        _row("scaling", "fluence", None, None, (1.259e29,), "only B"),
    )
    diff = PipelineDiff(rows, rows[1], "first divergent quantity: k at φ tick 0 (Δ 6.9e-03)",
                        ("B's rot_a is 1e-10 of A's at every sample: B's trace prints it in another unit",))
    page = PipelinePage(("golden C", "the port"))
    qtbot.addWidget(page)
    page.show()
    page.show_diff(diff)
    t = page.table
    assert t.rowCount() == 4 and t.columnCount() == len(COLUMNS)
    assert t.horizontalHeaderItem(COLUMNS.index("A")).text() == "A: golden C"
    assert "first divergent quantity: k at φ tick 0" in page.sentence.text()
    assert "#d62728" in page.sentence.text()            # red: something diverges
    assert page.units.isVisibleTo(page) and "the port's trace prints rot_a in another unit" in page.units.text()
    assert "prints it in another unit" in page.units.toolTip()
    status_col = COLUMNS.index("status")
    for r, row in enumerate(rows):
        assert t.item(r, status_col).background().color() == QtGui.QColor(STATUS_COLOURS[row.status]), row.status
    assert page.status_of("k", 0) == "diverge" and page.status_of("k", 1) == "match"
    assert page.status_of("fluence") == "only B" and page.status_of("k", 5) is None
    # The value in the canonical unit in the cell, what the engine printed in its tooltip.
    b_cell = t.item(0, COLUMNS.index("B"))
    assert b_cell.text() == "20.8, 0, 0" and "as printed: 2.08e-09, 0, 0" in b_cell.toolTip()
    assert t.item(3, COLUMNS.index("A")).text() == ""   # A does not trace the fluence
    # The first divergent row is selected (and scrolled to).
    assert [i.row() for i in t.selectionModel().selectedRows()] == [1]
    # Nothing diverging: a green sentence, no unit list.
    page.show_diff(PipelineDiff(rows[2:3], None, "no divergent quantity among the 1 traced by both", ()))
    assert "#2ca02c" in page.sentence.text() and not page.units.isVisibleTo(page)
    page.show_reason("no trace from the port")
    assert t.rowCount() == 0 and "no trace from the port" in page.sentence.text()


def trace_max_with_pipeline(qtbot, w, a: str, b: str, a_carry=None, b_carry=None):
    """Choose the engines, run, trace the pixel of largest |A − B| and wait until its pipeline is on show."""
    from app.core.session import SideOptions
    w.engines.pickers["a"].set_side_options(SideOptions(a, a_carry))
    w.engines.pickers["b"].set_side_options(SideOptions(b, b_carry))
    run_and_wait(qtbot, w)
    s, f = w.metrics.max_abs_diff_pixel
    with qtbot.waitSignal(w.inspector.pipelineShown, check_params_cb=lambda *px: px == (s, f)):
        insp = inspect_and_wait(qtbot, w, s, f)
    return insp, w.inspector.pipeline_of(s, f)


@pytest.mark.parametrize("carry", [True, False], ids=["carry-over on", "carry-over off"])
def test_pipeline_tab_for_our_engines(qtbot, make_window, c_binary, carry):
    from app.widgets.inspector_pipeline import COLUMNS
    w = make_window(demo_with(detpixels=64))
    insp, pipe = trace_max_with_pipeline(qtbot, w, "cref", "torch", b_carry=carry)
    page = w.inspector.pipeline
    assert insp.errors == {} and pipe is not None and pipe.diff is not None, pipe
    diff = pipe.diff
    assert page.diff is diff and page.table.rowCount() == len(diff.rows) > 0
    assert w.inspector.tabs.tabText(2) == "Pipeline"
    assert diff.unit_problems == () and not page.units.isVisibleTo(page)   # one engine family, one set of units
    phi_rows = [r for r in diff.rows if r.tick is not None]
    assert {r.tick for r in phi_rows} == set(range(N_TICKS))
    if carry:
        # Both carry the lattice over: every quantity both trace agrees.
        assert diff.first_divergent is None, diff.sentence
        assert not any(r.diverged for r in diff.rows)
        assert "#2ca02c" in page.sentence.text() and "no divergent quantity" in page.sentence.text()
        return
    # The C carries over, PyTorch rotates afresh: the first divergence is a tick-0 quantity (a pixel-level lattice
    # row, which both print at tick 0, or a per-φ row of tick 0); k at tick 0 differs, no per-φ row after it.
    first = diff.first_divergent
    assert first is not None and (first.tick == 0 or (first.tick is None and first.stage == "lattice")), first
    assert w.inspector.divergence_tick() == 0
    k0 = next(r for r in phi_rows if r.name == "k" and r.tick == 0)
    assert k0.diverged and page.status_of("k", 0) == "diverge"
    assert not [(r.name, r.tick) for r in phi_rows if r.tick >= 1 and r.diverged]
    assert first.name in page.sentence.text() and "#d62728" in page.sentence.text()
    selected = page.table.selectionModel().selectedRows()
    assert len(selected) == 1
    assert page.table.item(selected[0].row(), COLUMNS.index("quantity")).text() == first.name


@pytest.mark.slow
def test_pipeline_tab_golden_c_against_the_port(qtbot, make_window, golden_c, port_client):
    """Trace only (no images): pixel (16, 16) of the demo cell on a 32 x 32 detector, golden C vs the real port."""
    from app.widgets.inspector_pipeline import COLUMNS
    from app.core.session import SideOptions
    w = make_window(demo_with(detpixels=32))
    w.engines.pickers["a"].set_side_options(SideOptions(f"bin:{golden_c}"))
    w.engines.pickers["b"].set_side_options(SideOptions(f"bin:{port_client.command}"))
    with qtbot.waitSignal(w.inspector.pipelineShown, timeout=300_000):
        insp = inspect_and_wait(qtbot, w, 16, 16, timeout=300_000)
    assert insp.errors == {}, insp.log_tails
    a_name, b_name = w.names
    pipe = w.inspector.pipeline_of(16, 16)
    assert pipe is not None and pipe.diff is not None, pipe
    diff, page = pipe.diff, w.inspector.pipeline
    # The port's k is printed at 1e-10 of the Miller index: a unit problem of the port's trace, named in the tab.
    assert any(b_name in p and "k" in p for p in diff.unit_problems), diff.unit_problems
    assert page.units.isVisibleTo(page) and f"{b_name}'s trace prints " in page.units.text()
    assert all(p in page.units.toolTip() for p in diff.unit_problems)   # the full sentences on hover
    k = {r.tick: r for r in diff.rows if r.name == "k" and r.tick is not None}
    assert sorted(k) == list(range(N_TICKS))
    assert all(r.status == "unit B" for r in k.values())
    assert all(abs(r.b_raw[0]) < 1e-9 < abs(r.b[0]) for r in k.values())   # printed ~1e-12, converted ~1e-2
    # After conversion the port's k agrees with the C's at ticks 1..9 (to 1e-4 relative: the port computes in
    # float32); tick 0 is where the C's carry-over shows.
    assert all(k[t].rel_delta < 1e-4 for t in range(1, N_TICKS)), [(t, k[t].rel_delta) for t in k]
    assert k[0].rel_delta > 10 * max(k[t].rel_delta for t in range(1, N_TICKS))
    # The port's trace computes F_latt from its unconverted k (F_latt_b = sincg(π·1e-12, N) = N): its unit problem,
    # shown as "unit B" in the tab and named among the unit problems, never a divergence (tracing.derived).
    assert page.status_of("F_latt_b", 1) == "unit B"
    assert not any(r.diverged and r.name.startswith("F_latt") for r in diff.rows)
    assert any("unconverted Miller index" in p for p in diff.unit_problems)
    # The first divergent quantity is a tick-0 one (the lattice, printed at tick 0), not a unit artefact.
    first = diff.first_divergent
    assert first is not None and (first.tick == 0 or (first.tick is None and first.stage == "lattice")), first
    assert first.name in page.sentence.text()
    k0_cell = page.table.item(next(r for r in range(page.table.rowCount())
                                   if page.table.item(r, COLUMNS.index("quantity")).text() == "k"
                                   and page.table.item(r, COLUMNS.index("φ tick")).text() == "0"),
                              COLUMNS.index("B"))
    assert "as printed: " in k0_cell.toolTip() and "e-1" in k0_cell.toolTip()   # the raw 1e-10-scaled value
    assert a_name in page.table.horizontalHeaderItem(COLUMNS.index("A")).text()
    # The plots and the per-φ compare use the converted k: the port's curve is not drawn flat at 1e-12.
    assert "B's k_frac × 1e+10" in pipe.conversions and "Unit problem" in w.inspector.summary.text()
    assert insp.traces["b"].series()[1].get("k_frac") == pytest.approx(k[1].b_raw[0])   # the inspection keeps raw
    ticks, kb = w.inspector.curve_data("k_frac", "b")
    _, ka = w.inspector.curve_data("k_frac", "a")
    assert ticks.tolist() == list(range(N_TICKS))
    assert kb.tolist() == pytest.approx([k[t].b[0] for t in range(N_TICKS)], rel=1e-12)
    assert abs(kb[1:] - ka[1:]).max() < 1e-4 * abs(ka).max()
    assert "after converting B's k_frac × 1e+10" in w.statusBar().currentMessage()
