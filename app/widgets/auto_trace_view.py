"""The window's side of issue 21: a FAIL's worst pixels, traced by the run model (app.qt.run_model, signals
`auto_trace_started` / `auto_trace_ready`), shown without a click — the comparison panel's verdict names the first
divergent quantity and whether the known-divergence ledger explains it, and the traced pixels are listed in the
inspector's history (labelled with why they were chosen), the worst one shown.

On or off: the setting `auto_trace/enabled` (the Run menu's checkable "Trace the worst pixels on FAIL"), its
budget `auto_trace/budget_s` (seconds), and `nbparity gui --no-auto-trace` for one session (not saved).
"""
from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Slot

from app.core.auto_trace import DEFAULT_BUDGET_S, AutoTraceOptions

SETTING_ENABLED = "auto_trace/enabled"
SETTING_BUDGET = "auto_trace/budget_s"
SHORT = {"worst relative error": "worst rel.", "worst absolute difference": "worst |Δ|",
         "brightest peak": "peak"}


def options_from_settings(settings) -> AutoTraceOptions:
    """AutoTraceOptions from app.qt.settings.AppSettings (untrusted: anything but a true/false spelling is on, a
    budget that is not a positive finite number of seconds is the default)."""
    raw = settings.get(SETTING_ENABLED, True)
    enabled = not (raw is False or (isinstance(raw, str) and raw.strip().lower() in ("false", "0", "off", "no")))
    budget = settings.get_float(SETTING_BUDGET, DEFAULT_BUDGET_S)
    if not (math.isfinite(budget) and budget > 0):
        budget = DEFAULT_BUDGET_S
    return AutoTraceOptions(enabled, budget)


class AutoTraceView(QtCore.QObject):
    """Connects the run model's auto-trace signals to the comparison panel and the inspector; owns the menu
    action. session_off: `--no-auto-trace` (off for this window, the setting unchanged)."""

    def __init__(self, window, session_off: bool = False):
        super().__init__(window)
        self.win, self.model = window, window.model
        self.session_off = session_off
        opts = options_from_settings(window.settings)
        self.action = QtGui.QAction("Trace the worst pixels on FAIL", window)
        self.action.setCheckable(True)
        self.action.setChecked(opts.enabled and not session_off)
        self.action.setToolTip("When a comparison fails, trace the worst pixels on both engines and name the first "
                               f"divergent quantity (budget {opts.budget_s:g} s)")
        self.action.toggled.connect(self._on_toggled)
        for menu in window.menuBar().findChildren(QtWidgets.QMenu):
            if menu.title().replace("&", "") == "Run":
                menu.addAction(self.action)
                break
        self._apply()
        self.model.auto_trace_started.connect(self._on_started)
        self.model.auto_trace_ready.connect(self._on_ready)
        self.model.started.connect(self._on_run_started)

    def _apply(self) -> None:
        opts = options_from_settings(self.win.settings)
        self.model.auto_trace_options = AutoTraceOptions(self.action.isChecked(), opts.budget_s)

    @Slot(bool)
    def _on_toggled(self, on: bool) -> None:
        self.win.settings.set(SETTING_ENABLED, bool(on))
        self._apply()

    @Slot(float)
    def _on_started(self, budget_s: float) -> None:
        self.win.metrics_panel.set_auto_trace_note(f"tracing the worst pixels to name the cause (at most "
                                                   f"{budget_s:g} s)…")

    @Slot(int)
    def _on_run_started(self, _run_id: int) -> None:
        # A new run drops the last run's auto-trace (RunModel.start_run): its "tracing…" line must go with it.
        self.win.metrics_panel.set_auto_trace_note("")

    @Slot(object, object)
    def _on_ready(self, auto, verdict) -> None:
        self.win.metrics_panel.set_verdict(verdict)
        self.win.metrics_panel.set_auto_trace_note("")
        inspector = self.win.inspector
        pairs = list(zip(auto.traced, auto.inspections, strict=True))
        # A pixel the user traced since this run started stays on screen: the traced ones are only listed.
        keep = inspector.inspection if inspector.inspection is not None and self.model.tracing() is False and \
            (inspector.inspection.slow, inspector.inspection.fast) not in {(t.pixel.slow, t.pixel.fast)
                                                                            for t, _ in pairs} else None
        for _t, insp in reversed(pairs):   # the worst last: it is the one shown
            inspector.show_inspection(insp)
        if keep is not None:
            inspector.show_inspection(keep)
        labels = {(t.pixel.slow, t.pixel.fast): t for t, _ in pairs}
        for i in range(inspector.history.count()):
            item = inspector.history.item(i)
            t = labels.get(item.data(Qt.ItemDataRole.UserRole))
            if t is not None:
                item.setText(f"{t.pixel.slow}, {t.pixel.fast} ({SHORT.get(t.pixel.reason, t.pixel.reason)})")
                item.setToolTip(f"{t.pixel.reason}: " + (t.diff.sentence if t.diff is not None else t.note))
