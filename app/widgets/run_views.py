"""The views of a run that follow the run model on their own: per side a progress bar and an image panel, the
difference (through the display planner), the metrics panel, and the staleness banners.

They only show: every change comes from an app.qt.run_model.RunModel signal.
"""
from __future__ import annotations

from PySide6 import QtCore
from PySide6.QtCore import Slot

from app.widgets.display_planner import DisplayPlanner
from app.widgets.image_panels import ImagePanels
from app.widgets.metrics_panel import MetricsPanel
from app.qt.run_model import RunModel
from app.core.sides import SIDES
from app.widgets.stale_banner import StaleBanner
from app.widgets.status_bar import EngineBar


class RunViews(QtCore.QObject):
    """Bars, panels, metrics and banners of sides A and B, driven by `model`."""

    def __init__(self, model: RunModel, panels: ImagePanels, metrics_panel: MetricsPanel, inspector,
                 bars: tuple[EngineBar, EngineBar], parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.model, self.panels, self.metrics_panel, self.inspector = model, panels, metrics_panel, inspector
        self.bars = dict(zip(SIDES, bars, strict=True))
        self.names: tuple[str, str] = ("A", "B")
        self.image_panels = {"a": panels.panel_a, "b": panels.panel_b}
        self.display = DisplayPlanner(panels, self)
        # The next side's engine and the run's metrics wait for the display plans (the images get the cores first,
        # issue 19).
        model.display_busy = self.display.busy
        self.display.runner.finished.connect(self._on_display_done)
        self.banners = {"a": StaleBanner(panels.panel_a), "b": StaleBanner(panels.panel_b),
                        "diff": StaleBanner(panels.diff_panel), "metrics": StaleBanner(metrics_panel),
                        "inspector": StaleBanner(inspector)}
        model.started.connect(self._on_started)
        model.engine_progress.connect(self._on_progress)
        model.engine_finished.connect(self._on_engine_finished)
        model.metrics_ready.connect(self._on_metrics)
        model.stale.connect(self._on_stale)
        model.started.connect(self._name_after_run)

    @Slot(int, str)
    def _on_display_done(self, _job: int, _tag: str) -> None:
        if not self.display.busy():
            self.model.display_done()

    @Slot(int)
    def _name_after_run(self, _run_id: int) -> None:
        self.set_names(self.model.labels["a"], self.model.labels["b"])

    def set_names(self, a: str, b: str) -> None:
        """Name everything after the engines of sides A and B."""
        self.names = (a, b)
        self.bars["a"].set_name(a)
        self.bars["b"].set_name(b)
        self.panels.set_side_names(a, b)
        self.metrics_panel.set_names(a, b)
        self.inspector.set_side_names(a, b)

    @Slot(int)
    def _on_started(self, _run_id: int) -> None:
        self.metrics_panel.clear()
        self.panels.clear()
        self.display.reset()
        self.panels.show_marker(None, None)
        if self.model.session is None:  # a record read from a bundle: nothing runs
            for side in SIDES:
                self.bars[side].set_state("read from the bundle", 1.0)
            return
        for side in SIDES:
            first = self.model.parallel or side == "a"
            self.image_panels[side].set_note("running…" if first else "waiting for side A…")
            self.bars[side].set_state("running" if first else "waiting", 0.0)

    @Slot(str, float)
    def _on_progress(self, side: str, fraction: float) -> None:
        self.bars[side].set_state("running", fraction)

    @Slot(str, object)
    def _on_engine_finished(self, side: str, outcome) -> None:
        bar, panel = self.bars[side], self.image_panels[side]
        if outcome.ok:
            r = outcome.result
            bar.set_state(f"done in {r.wall_s:.2f} s" if r.wall_s else "done", 1.0)
            self.display.show(side, r.image)
            panel.set_note(f"{r.wall_s:.2f} s" if r.wall_s else "")
        else:
            word = "cancelled" if outcome.cancelled else "failed"
            bar.set_state(word, 0.0)
            panel.show_error(f"{panel.title}: cancelled" if outcome.cancelled else
                             f"{panel.title} failed: {outcome.error}", outcome.log_tail)
            panel.set_note(word)
            self.display.drop(side)  # the difference of what is left, never of an earlier image
        if side == "a" and not self.model.parallel and self.model.busy:
            self.bars["b"].set_state("running", 0.0)
            self.image_panels["b"].set_note("running…")
        self.show_times()

    def cancelling(self) -> None:
        for side in SIDES:
            self.bars[side].set_state("cancelling…")

    def show_times(self) -> None:
        outs = (self.model.outcome(s) for s in SIDES)
        # A side loaded from a file did not run: "loaded", not "0.00 s".
        self.metrics_panel.set_times(*[("loaded" if o.result.meta.get("source_file") else o.result.wall_s)
                                       if o is not None and o.ok else None for o in outs])

    @Slot(object, object)
    def _on_metrics(self, metrics, verdict) -> None:
        self.metrics_panel.set_metrics(metrics, verdict)
        self.show_times()

    @Slot(str, str)
    def _on_stale(self, view: str, reason: str) -> None:
        for key in (("a", "b", "diff", "metrics") if view == "images" else ("inspector",)):
            self.banners[key].set_reason(reason)
        if reason and view == "images":
            self.panels.diff_panel.set_note("")  # never "identical" beside data that is not a finished comparison

    def stale_text(self, key: str) -> str:
        """The banner shown on view `key` (a, b, diff, metrics, inspector); '' when it is current."""
        return self.banners[key].reason()
