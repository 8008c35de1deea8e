"""Per-φ images: a φ-tick slider over both sides' single-tick images and their difference.

The tick where the engines part lights up in the difference panel (for the demo's C carry-over: tick 0 only).
Each (side, tick) image is a single-tick render (app.core.phi_ticks) made on a background thread of this widget and
cached; clicking a pixel asks the window to inspect it. The panels are app.widgets.image_panels.ImagePanels, so fit, box
zoom, scales and difference modes work as in the main panels.

`install(window)` puts the view in a dock of the main window ("Per-φ images", View menu), fed by the run model.
"""
from __future__ import annotations

import logging
import queue
import threading

from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

from app.core.display_plan import DisplayPlan, plan_display
from app.widgets.image_panels import ImagePanels
from app.core.phi_ticks import TickCache, TickRender
from app.core.sides import SIDES

log = logging.getLogger(__name__)
PLAN_ON_THREAD_PIXELS = 1_000_000   # from this many pixels on, tick images are planned off the GUI thread
JOIN_S = 10.0    # how long shutdown waits for the render thread (a running C tick is killed through cancel)


class PhiTickView(QtWidgets.QWidget):
    """The slider, a status line and three linked panels for one φ tick.

    Signals: tickShown(tick) both sides' images of `tick` are on show; pixelClicked(slow, fast) a click on them;
    _rendered(TickRender) from the render thread (queued to this GUI-thread object).
    """

    tickShown = Signal(int)
    pixelClicked = Signal(int, int)
    _rendered = Signal(object, int)
    _planned = Signal(object, int, int)

    def __init__(self, parent: QtWidgets.QWidget | None = None, side_names: tuple[str, str] = ("A", "B")):
        super().__init__(parent)
        self.cache: TickCache | None = None
        self.names = side_names
        self._gen = 0                       # bumped by every new session: renders of an older one are dropped
        self._queue: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._wanted: int | None = None
        self._errors: dict[tuple[str, int], str] = {}
        self.stale_reason = ""

        self.slider = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setTickPosition(QtWidgets.QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip("φ tick: both sides are rendered for this one tick only (-phisteps 1)")
        self.tick_label = QtWidgets.QLabel("φ tick —")
        self.tick_label.setMinimumWidth(170)
        self.all_button = QtWidgets.QPushButton("Render all ticks")
        self.all_button.setEnabled(False)
        self.all_button.setToolTip("Render every tick of both sides in the background (the cost is said first)")
        self.status = QtWidgets.QLabel("Run both engines first; each φ tick is then rendered on its own.")
        self.status.setWordWrap(True)
        self.panels = ImagePanels(side_names=(f"{side_names[0]}, one tick", f"{side_names[1]}, one tick"))
        top = QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("φ tick"), self.slider, self.tick_label, self.all_button):
            top.addWidget(w)
        top.setStretch(1, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.panels, 1)

        self.slider.valueChanged.connect(self.show_tick)
        self.all_button.clicked.connect(self.render_all)
        self.panels.pixelClicked.connect(self.pixelClicked)
        self._rendered.connect(self._on_rendered)
        self._planned.connect(self._on_planned)
        # Scale or difference-mode changes on multi-megapixel ticks are re-planned off the GUI thread too.
        self.panels.async_threshold = PLAN_ON_THREAD_PIXELS
        self.panels.replanRequested.connect(self._replan)

    # ---- session -------------------------------------------------------------------------------------------------
    def set_session(self, session, names: tuple[str, str] | None = None) -> None:
        """A new command line (None: none): forget every tick image, show tick 0 when visible."""
        self._gen += 1
        self._drain()
        self._errors.clear()
        self.panels.clear()
        self.set_stale("")
        if names is not None:
            self.names = names
            self.panels.set_side_names(f"{names[0]}, one tick", f"{names[1]}, one tick")
        self.cache = None
        if session is not None:
            try:
                self.cache = TickCache(session)
            except Exception as exc:  # noqa: BLE001 - a command line without a φ grid: said, not raised
                self.status.setText(f"No per-φ images: {exc}")
        enabled = self.cache is not None
        self.slider.setEnabled(enabled)
        self.all_button.setEnabled(enabled)
        if not enabled:
            self.tick_label.setText("φ tick —")
            return
        n = self.cache.grid.n
        self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.status.setText(f"{self.cache.estimate()}. Move the slider to render a tick. (Each tick is rendered "
                            "alone, so state carried from tick to tick, like the C's φ=0 carry-over, does not show "
                            "here: the inspector's per-φ traces show it.)")
        self._wanted = None
        if self.isVisible():
            self.show_tick(0)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self.cache is not None and self._wanted is None:
            self.show_tick(self.slider.value())

    def set_stale(self, reason: str) -> None:
        """Say that the tick images belong to an earlier command line (reason '' : they are current again)."""
        self.stale_reason = reason
        for panel in (self.panels.panel_a, self.panels.panel_b, self.panels.diff_panel):
            panel.set_title(panel.title.split(" — ")[0] + (f" — {reason}" if reason else ""))

    # ---- ticks ---------------------------------------------------------------------------------------------------
    @Slot(int)
    def show_tick(self, tick: int) -> None:
        """Show tick `tick`: at once when both sides are cached, else after their renders (background)."""
        if self.cache is None:
            return
        self._wanted = tick
        g = self.cache.grid
        self.tick_label.setText(f"φ tick {tick} of {g.n - 1} (φ = {g.angle(tick):.4g}°)")
        if self.slider.value() != tick:
            self.slider.blockSignals(True)
            self.slider.setValue(tick)
            self.slider.blockSignals(False)
        missing = [s for s in SIDES if self.cache.get(s, tick) is None and (s, tick) not in self._errors]
        if not missing:
            self._display(tick)
            return
        self.status.setText(f"Rendering φ tick {tick} on {' and '.join(self._name(s) for s in missing)}…")
        for side in missing:
            self._enqueue(side, tick, front=True)

    @Slot()
    def render_all(self) -> None:
        """Queue every tick of both sides (after the one on show)."""
        if self.cache is None:
            return
        self.status.setText(f"Rendering every tick in the background: {self.cache.estimate()}")
        for tick in range(self.cache.grid.n):
            for side in SIDES:
                if self.cache.get(side, tick) is None:
                    self._enqueue(side, tick)

    def _name(self, side: str) -> str:
        return self.names[0 if side == "a" else 1]

    def _display(self, tick: int) -> None:
        """Show tick `tick`'s cached images. Small images are planned here; multi-megapixel ones on a short-lived
        thread (scaling, difference and zoomed-out copies take ~0.5 s for 6 Mpx), then handed over (_planned)."""
        a, b = self.cache.get("a", tick), self.cache.get("b", tick)
        n = max((x.size for x in (a, b) if x is not None), default=0)
        if n < PLAN_ON_THREAD_PIXELS:
            self.panels.set_images(a, b)
            self._shown(tick)
            return
        opts, gen = self.panels.plan_options(), self._gen

        def plan() -> None:
            try:
                self._planned.emit(plan_display(a, b, **opts), gen, tick)
            except Exception:  # noqa: BLE001 - the panels keep what they showed; the log says why
                log.exception("planning the tick images failed")
        threading.Thread(target=plan, name="nbparity-phi-plan", daemon=True).start()

    @Slot(object, int, int)
    def _on_planned(self, plan: DisplayPlan, gen: int, tick: int) -> None:
        if gen != self._gen or tick != self._wanted:
            return  # another tick or command line was asked for meanwhile
        self.panels.apply_plan(plan)
        self._shown(tick)

    @Slot(str)
    def _replan(self, _kind: str) -> None:
        if self._wanted is not None and self.cache is not None:
            self._display(self._wanted)

    def _shown(self, tick: int) -> None:
        errs = [f"{self._name(s)}: {self._errors[(s, tick)]}" for s in SIDES if (s, tick) in self._errors]
        for panel in (self.panels.panel_a, self.panels.panel_b):
            panel.set_note(f"φ tick {tick} only")
        self.status.setText("; ".join(errs) if errs else
                            f"φ tick {tick}: single-tick renders of both sides (-phi {self.cache.grid.angle(tick):.6g}"
                            f" -osc {self.cache.grid.step:.6g} -phisteps 1); click a pixel to inspect it.")
        self.tickShown.emit(tick)

    # ---- render thread -------------------------------------------------------------------------------------------
    def _enqueue(self, side: str, tick: int, front: bool = False) -> None:
        item = (self._gen, side, tick)
        if front:
            # The tick asked for now goes before the background ones: rebuild the queue with it first.
            rest = []
            while True:
                try:
                    rest.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._queue.put(item)
            for r in rest:
                if r != item:
                    self._queue.put(r)
        else:
            self._queue.put(item)
        if self._thread is None or not self._thread.is_alive():
            self._cancel.clear()
            self._thread = threading.Thread(target=self._work, name="nbparity-phi-ticks", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while not self._cancel.is_set():
            try:
                gen, side, tick = self._queue.get(timeout=0.2)
            except queue.Empty:
                return
            cache = self.cache
            if gen != self._gen or cache is None:
                continue
            try:
                r = cache.render(side, tick, self._cancel)
            except Exception as exc:  # noqa: BLE001 - shown in the view, never a traceback
                log.exception("tick render failed")
                r = TickRender(side, tick, error=f"{type(exc).__name__}: {exc}")
            self._rendered.emit(r, gen)

    @Slot(object, int)
    def _on_rendered(self, r: TickRender, gen: int) -> None:
        if gen != self._gen or self.cache is None:
            return  # rendered for an earlier command line
        if r.error:
            self._errors[(r.side, r.tick)] = r.error
        if r.tick == self._wanted and all(self.cache.get(s, r.tick) is not None or (s, r.tick) in self._errors
                                          for s in SIDES):
            self._display(r.tick)

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def shutdown(self, wait_s: float = JOIN_S) -> bool:
        """Cancel the renders and wait for the thread (bounded); True when it has ended."""
        self._gen += 1
        self._drain()
        self._cancel.set()
        t = self._thread
        if t is not None and t.is_alive():
            t.join(wait_s)
            return not t.is_alive()
        return True


def install(window) -> PhiTickView:
    """Add the per-φ view to `window` (app.window.main_window.MainWindow) as a hidden dock with a View-menu toggle;
    it follows the run model (a finished run gives it the session) and inspects the pixels clicked on it."""
    view = PhiTickView(side_names=tuple(window.names))
    dock = QtWidgets.QDockWidget("Per-φ images", window)
    dock.setObjectName("phi_dock")
    dock.setWidget(view)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    toggle = dock.toggleViewAction()
    toggle.setText("Per-φ images")
    toggle.setShortcut("Ctrl+P")
    toggle.setStatusTip("Show both sides' images of one φ tick and their difference (Ctrl+P)")
    window.addAction(toggle)
    for menu in window.menuBar().findChildren(QtWidgets.QMenu):
        if menu.title() == "&View":
            menu.addSeparator()
            menu.addAction(toggle)
    view.pixelClicked.connect(window.inspect_pixel)
    relay = _RunRelay(window, view)
    window.model.run_finished.connect(relay.on_run_finished)
    window.model.stale.connect(relay.on_stale)
    window.phi_view, window.phi_dock, window._phi_relay = view, dock, relay
    app = QtWidgets.QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(view.shutdown)
    return view


class _RunRelay(QtCore.QObject):
    """Hands each finished run's session (and side names) to the per-φ view (GUI thread)."""

    def __init__(self, window, view: PhiTickView):
        super().__init__(window)
        self._window, self._view = window, view

    @Slot(str, str)
    def on_stale(self, view: str, reason: str) -> None:
        if view == "images":
            self._view.set_stale(reason)

    @Slot(int)
    def on_run_finished(self, _run_id: int) -> None:
        w = self._window
        ok = all(w.model.outcome(s) is not None and w.model.outcome(s).ok for s in SIDES)
        self._view.set_session(w.model.session if ok else None, tuple(w.names))
