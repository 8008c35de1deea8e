"""The nbparity main window: command line → both engines → three linked panels, metrics, φ inspector, snapshot.

The window only shows and asks. The Qt-free app.session.ComparisonSession runs the engines, the comparison, the
pixel traces and the snapshot; each call runs on a Worker (app.workers) whose signals arrive at @Slot methods here.
"""
from __future__ import annotations

import math
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Slot

import pyqtgraph as pg  # noqa: F401  (after PySide6, so pyqtgraph binds to it)

from app import export as export_mod
from app.errors import install_excepthook
from app.image_loading import FABIO_FILTER, ImageLoadError, load_image
from app.image_panels import ImagePanels
from app.inspector import PhiInspector
from app.params_editor import ParamsEditor
from app.settings import AppSettings
from app.workers import Job, JobKeeper, Worker, start_job
from simulator.config import ConfigError, NanoBraggConfig
from tracing.records import ImageResult

APP_NAME = "nbparity"
# From this many pixels on, a scale or difference-mode change is computed on a worker (it takes 0.1–0.5 s).
ASYNC_REPLAN_PIXELS = 1_000_000
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+R", "Run both engines"),
    ("Ctrl+Enter", "Run (from the command-line editor)"),
    ("Esc", "Cancel the running engines and traces"),
    ("Ctrl+E", "Export a snapshot (new timestamped folder)"),
    ("Ctrl+O", "Load an image as the C side"),
    ("Ctrl+Shift+O", "Load an image as the PyTorch side"),
    ("Ctrl+M", "Trace the pixel of largest |C − PyTorch|"),
    ("Ctrl+D", "Reload the demo command line"),
    ("Ctrl+1 / Ctrl+2 / Ctrl+3 (1 / 2 / 3 on an image)", "Difference: A − B / relative / log10 ratio"),
    ("Ctrl+0 (F on an image)", "Fit the view to the whole image"),
    ("B (on an image)", "Box zoom on/off (drag a box)"),
    ("Right click (on an image)", "Inspect, centre, copy values, fit, box zoom, difference modes"),
    ("Enter (slow/fast box)", "Inspect that pixel and bring it into view"),
    ("Ctrl+L", "Cycle the colour scale (linear, log, sqrt)"),
    ("Ctrl+C (table)", "Copy the φ table as TSV"),
    ("Ctrl+Q", "Quit"),
)


@dataclass
class PixelGeometry:
    """Detector geometry for readouts: pixel (s, f) centre at pix0 + (f+0.5)·px·fdet + (s+0.5)·px·sdet (m)."""

    pix0: np.ndarray
    fdet: np.ndarray
    sdet: np.ndarray
    beam: np.ndarray
    px: float
    lambda_m: float

    @classmethod
    def from_config(cls, cfg: NanoBraggConfig) -> PixelGeometry | None:
        try:
            from simulator.geometry import build_geometry
            g = build_geometry(cfg.detector)
        except Exception:  # noqa: BLE001 - readouts then omit d and 2θ rather than guess
            return None
        return cls(np.asarray(g.pix0, float), np.asarray(g.fdet, float), np.asarray(g.sdet, float),
                   np.asarray(g.beam, float), float(g.px), cfg.beam.lambda_A * 1e-10)

    def two_theta_d(self, slow: int, fast: int) -> tuple[float, float]:
        """(2θ in degrees, d in Å) of the pixel centre (flat detector)."""
        pos = self.pix0 + (fast + 0.5) * self.px * self.fdet + (slow + 0.5) * self.px * self.sdet
        n = np.linalg.norm(pos)
        b = self.beam / np.linalg.norm(self.beam)
        cos2t = float(np.clip(np.dot(pos / n, b), -1.0, 1.0))
        two_theta = math.acos(cos2t)
        s = math.sin(two_theta / 2.0)
        d = self.lambda_m / (2.0 * s) * 1e10 if s > 0 else math.inf
        return math.degrees(two_theta), d


class MetricsPanel(QtWidgets.QGroupBox):
    """The image comparison numbers; the max |Δ| pixel is a button that jumps there and traces it."""

    jumpRequested = QtCore.Signal(int, int)

    ROWS = (("correlation", "correlation"), ("rms", "RMS Δ (photons)"),
            ("max_abs", "max |Δ| (photons)"), ("sum_ratio", "sum PyTorch / C"),
            ("max_rel", "max rel. error"), ("beyond", "beyond tolerance"),
            ("peaks", "peak match"), ("times", "time C / PyTorch"), ("verdict", "verdict"))
    TIPS = {"rms": "root mean square of C − PyTorch over all pixels", "max_rel": "largest |Δ|/|C| over bright "
            "pixels (|C| ≥ 1e-3·max)", "beyond": "pixels with |Δ| > rtol·|C| (bright) or rtol·max|C| (dim)",
            "peaks": "3×3 local maxima above the 99.5th percentile, top 25, matched within 1 px",
            "verdict": "parity thresholds of app.session.ParityThresholds"}

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("Comparison", parent)
        form = QtWidgets.QFormLayout(self)
        self.values: dict[str, QtWidgets.QLabel] = {}
        for key, label in self.ROWS:
            v = QtWidgets.QLabel("—")
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            v.setWordWrap(True)
            v.setToolTip(self.TIPS.get(key, ""))
            self.values[key] = v
            if key in ("verdict", "peaks"):
                form.addRow(QtWidgets.QLabel(label + ":"))
                form.addRow(v)  # long sentences get the full width
            else:
                form.addRow(label, v)
            if key == "max_abs":
                self.jump_button = QtWidgets.QPushButton("")
                self.jump_button.setFlat(True)
                self.jump_button.setStyleSheet("color: #1f5fbf; text-decoration: underline; text-align: left;")
                self.jump_button.setToolTip("Zoom to this pixel and trace it (Ctrl+M)")
                self.jump_button.setEnabled(False)
                self.jump_button.clicked.connect(self._jump)
                form.addRow(self.jump_button)  # a row of its own: the pixel never widens the panel
        self._max_pixel: tuple[int, int] | None = None
        self.identical = False

    def clear(self) -> None:
        self.identical = False
        for v in self.values.values():
            v.setText("—")
        self.jump_button.setText("")
        self.jump_button.setEnabled(False)
        self._max_pixel = None

    def set_times(self, c_s: float | None, py_s: float | None) -> None:
        parts = [f"{c_s:.2f} s" if c_s is not None else "—", f"{py_s:.2f} s" if py_s is not None else "—"]
        ratio = f" (ratio {c_s / py_s:.2f})" if c_s and py_s else ""
        self.values["times"].setText(" / ".join(parts) + ratio)

    def set_metrics(self, m, verdict=None) -> None:
        """Fill from tracing.metrics.ImageMetrics (None clears the numbers but keeps run times)."""
        if m is None:
            self.identical = False
            self._max_pixel = None
            for k in ("correlation", "rms", "max_abs", "sum_ratio", "max_rel", "beyond", "peaks", "verdict"):
                self.values[k].setText("—")
            self.jump_button.setText("")
            self.jump_button.setEnabled(False)
            return
        self.values["correlation"].setText(f"{m.correlation:.9f}")
        self.values["rms"].setText(f"{m.rms_diff:.4g}")
        self.values["max_abs"].setText(f"{m.max_abs_diff:.4g}")
        self._max_pixel = tuple(m.max_abs_diff_pixel) if m.max_abs_diff_pixel is not None else None
        self.identical = m.max_abs_diff == 0
        if self.identical:
            # No pixel differs: a "largest difference" at pixel (0, 0) would only mislead.
            self._max_pixel = None
            self.values["max_abs"].setText("0 (identical images)")
            self.jump_button.setText("")
            self.jump_button.setEnabled(False)
        if self._max_pixel is not None:
            self.jump_button.setText(f"at (slow {self._max_pixel[0]}, fast {self._max_pixel[1]}) →")
            self.jump_button.setEnabled(True)
        self.values["sum_ratio"].setText(f"{m.sum_ratio:.8f}")
        self.values["max_rel"].setText(f"{m.max_rel_err:.3g}")
        self.values["beyond"].setText(f"{m.n_beyond_tol} of {m.n_pixels} px (rtol {m.tol_rel:g})")
        pk = m.peaks
        if pk.peaks_a:
            self.values["peaks"].setText(f"{len(pk.pairs)} of {len(pk.peaks_a)} C peaks matched "
                                         f"({pk.fraction_matched:.0%}), mean distance {pk.mean_distance:.2f} px")
        else:
            self.values["peaks"].setText("no peaks found in the C image")
        if verdict is not None:
            color = "#2ca02c" if verdict.passed else "#d62728"
            self.values["verdict"].setText(f"<span style='color:{color}'>{_esc(verdict.sentence())}</span>")
        else:
            self.values["verdict"].setText("—")

    def max_pixel(self) -> tuple[int, int] | None:
        return self._max_pixel

    @Slot()
    def _jump(self) -> None:
        if self._max_pixel is not None:
            self.jumpRequested.emit(*self._max_pixel)


class EngineBar(QtWidgets.QWidget):
    """Label + progress bar for one engine."""

    def __init__(self, name: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self.label = QtWidgets.QLabel(f"{name}: idle")
        self.label.setFixedWidth(190)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setFormat("%p%")
        self.bar.setFixedWidth(160)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Fixed, QtWidgets.QSizePolicy.Policy.Fixed)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 12, 0)  # a gap before the next engine's name
        lay.addWidget(self.label)
        lay.addWidget(self.bar)

    def set_state(self, text: str, fraction: float | None = None) -> None:
        self.label.setText(f"{self.name}: {text}")
        if fraction is not None:
            self.bar.setValue(int(round(fraction * 1000)))


class MainWindow(QtWidgets.QMainWindow):
    """The parity viewer. `argv` None loads the demo; `autorun` starts it at once."""

    def __init__(self, argv: list[str] | None = None, c_binary: str | None = None, *,
                 settings: AppSettings | None = None, autorun: bool = False, install_hook: bool = True):
        super().__init__()
        self.setWindowTitle(f"{APP_NAME} — nanoBragg C vs PyTorch parity viewer")
        self.settings = settings if settings is not None else AppSettings()
        self.session = None                     # app.session.ComparisonSession of the last run
        self.c_outcome = None                   # app.session.EngineOutcome (or a loaded image wrapped as one)
        self.py_outcome = None
        self.metrics = None
        self.verdict = None
        self.geometry_info: PixelGeometry | None = None
        self.jobs: dict[str, Job] = {}
        self.keeper = JobKeeper(self)
        self.run_cancel: threading.Event | None = None
        self.last_bundle: Path | None = None
        self.last_error: str | None = None
        self._pending_inspect: tuple[int, int] | None = None
        self._run_gen = 0                   # bumped by every run: traces of an older command line are dropped
        self._reinspect: tuple[int, int] | None = None  # the pixel to trace again when the new run is done
        self._run_started = 0.0
        self._running_engines: set[str] = set()
        self._shown: tuple = (None, None)    # raw (C, PyTorch) arrays most recently sent to the panels
        self._display_gen = 0
        self._full_plan_pending = False    # a plan with new images is being computed
        self.display_ready = False
        self._run_note = ""                 # said once in the status bar when the next run starts
        self._run_warnings = 0              # warnings of the running command line (repeated when it finishes)

        preload_engines()
        self.editor = ParamsEditor(last_dir_getter=lambda: self.settings.last_dir("files"),
                                   last_dir_setter=lambda d: self.settings.set_last_dir("files", d))
        self.panels = ImagePanels()
        self.metrics_panel = MetricsPanel()
        self.inspector = PhiInspector()
        self.c_bar = EngineBar("C")
        self.py_bar = EngineBar("PyTorch")

        self._build_actions()
        self._build_layout()
        self._connect()
        self._restore_settings(c_binary)
        self.hook = install_excepthook(self) if install_hook else None

        if argv is None:
            self.load_demo(run=autorun)
        else:
            self.editor.set_argv(list(argv))
            if autorun and self.editor.is_valid():
                QtCore.QTimer.singleShot(0, self.run)
            else:
                self.status("Command line loaded; press Run (Ctrl+R).")

    # ---- construction ----------------------------------------------------------------------------------------------
    def _action(self, text: str, shortcut: str | None, slot, tip: str = "") -> QtGui.QAction:
        a = QtGui.QAction(text, self)
        if shortcut:
            a.setShortcut(QtGui.QKeySequence(shortcut))
        a.setToolTip(tip or text)
        a.setStatusTip(tip or text)
        a.triggered.connect(slot)
        self.addAction(a)  # shortcuts work wherever the focus is
        return a

    def _build_actions(self) -> None:
        self.run_action = self._action("Run", "Ctrl+R", self.run, "Run both engines on the command line (Ctrl+R)")
        self.cancel_action = self._action("Cancel", "Esc", self.cancel, "Stop both engines and any trace (Esc)")
        self.cancel_action.setEnabled(False)
        self.export_action = self._action("Export snapshot…", "Ctrl+E", self.export_dialog,
                                          "Write a new timestamped snapshot folder (Ctrl+E)")
        self.load_c_action = self._action("Load C image…", "Ctrl+O", self.load_c_dialog)
        self.load_py_action = self._action("Load PyTorch image…", "Ctrl+Shift+O", self.load_py_dialog)
        self.demo_action = self._action("Load demo", "Ctrl+D", lambda: self.load_demo(run=False))
        self.max_action = self._action("Go to max |Δ|", "Ctrl+M", self.goto_max)
        self.quit_action = self._action("Quit", "Ctrl+Q", self.close)
        self.reset_action = self._action("Reset settings", None, self.reset_settings)
        self.shortcuts_action = self._action("Shortcuts", "F1", self.show_shortcuts)
        self.about_action = self._action("About nbparity", None, self.show_about)
        self.scale_action = self._action("Cycle colour scale", "Ctrl+L", self._cycle_scale)
        # Fit view, box zoom and the exclusive difference modes belong to the panels (app.image_panels).
        self.view_actions = self.panels.view_actions()
        self.addActions(self.view_actions)

        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.load_c_action, self.load_py_action, self.demo_action):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.export_action)
        m.addSeparator()
        m.addAction(self.quit_action)
        m = mb.addMenu("&Run")
        for a in (self.run_action, self.cancel_action, self.max_action):
            m.addAction(a)
        m = mb.addMenu("&View")
        for a in self.view_actions:
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.scale_action)
        m = mb.addMenu("&Settings")
        m.addAction(self.reset_action)
        m = mb.addMenu("&Help")
        m.addAction(self.shortcuts_action)
        m.addAction(self.about_action)

        tb = self.addToolBar("Run")
        tb.setObjectName("run_toolbar")
        tb.setMovable(False)
        tb.addAction(self.run_action)
        tb.addAction(self.cancel_action)
        tb.addSeparator()
        tb.addWidget(self.c_bar)
        tb.addWidget(self.py_bar)
        tb.addSeparator()
        tb.addAction(self.export_action)
        tb.addSeparator()
        tb.addAction(self.panels.fit_action)
        tb.addAction(self.panels.box_zoom_action)

    def _build_layout(self) -> None:
        dock = QtWidgets.QDockWidget("Parameters", self)
        dock.setObjectName("params_dock")
        dock.setWidget(self.editor)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.params_dock = dock

        bottom = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        metrics_scroll = QtWidgets.QScrollArea()
        metrics_scroll.setWidgetResizable(True)
        metrics_scroll.setWidget(self.metrics_panel)
        # Vertical scrolling only: the long values wrap to the panel's width instead of running off its edge.
        metrics_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        metrics_scroll.setMinimumWidth(250)
        bottom.addWidget(metrics_scroll)
        bottom.addWidget(self.inspector)
        bottom.setStretchFactor(0, 0)
        bottom.setStretchFactor(1, 1)
        bottom.setSizes([270, 1000])
        self.splitter = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.panels)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([390, 530])
        self.setCentralWidget(self.splitter)

        self.readout = QtWidgets.QLabel("")
        self.readout.setObjectName("readout")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        # A long readout must never widen the window: it is clipped instead.
        self.readout.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.readout.setMinimumWidth(200)
        self.statusBar().addPermanentWidget(self.readout, 1)
        self.resize(1500, 950)

    def _connect(self) -> None:
        self.editor.validityChanged.connect(self._on_validity)
        self.editor.runRequested.connect(self.run)
        self.panels.hovered.connect(self._on_hover)
        self.panels.unhovered.connect(self._on_unhover)
        self.panels.pixelClicked.connect(self.inspect_pixel)
        self.inspector.inspectRequested.connect(self.jump_to)  # typed in the box: bring the pixel into view
        self.inspector.gotoMaxRequested.connect(self.goto_max)
        self.metrics_panel.jumpRequested.connect(self.jump_to)
        self.panels.cmap_combo.currentTextChanged.connect(self._save_view_settings)
        # Multi-megapixel images (CLI-FLAGS-003 is 6.2 Mpx) are rescaled and re-differenced on a worker.
        self.panels.async_threshold = ASYNC_REPLAN_PIXELS
        self.panels.replanRequested.connect(self._replan)
        self.panels.scale_combo.currentTextChanged.connect(self._save_view_settings)

    def _restore_settings(self, c_binary: str | None) -> None:
        s = self.settings
        geo = s.get_bytes("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        state = s.get_bytes("window/state")
        if state is not None:
            self.restoreState(state)
        else:
            # First start: a narrow parameter dock (after the first layout pass, or it keeps its size hint).
            QtCore.QTimer.singleShot(0, self._default_dock_width)
        self.editor.set_c_binary(c_binary or s.get_str("engines/c_binary", ""))
        self.panels.set_colormap(s.get_str("view/colormap", "viridis"))
        self.panels.set_scale(s.get_str("view/scale", "log"))

    @Slot()
    def _default_dock_width(self) -> None:
        self.resizeDocks([self.params_dock], [370], Qt.Orientation.Horizontal)

    @Slot()
    def _save_view_settings(self, *args) -> None:
        self.settings.set("view/colormap", self.panels.colormap())
        self.settings.set("view/scale", self.panels.scale)

    def save_settings(self) -> None:
        s = self.settings
        s.set("window/geometry", self.saveGeometry())
        s.set("window/state", self.saveState())
        s.set("engines/c_binary", self.editor.c_binary_edit.text().strip())
        self._save_view_settings()
        s.sync()

    # ---- status ----------------------------------------------------------------------------------------------------
    def status(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def busy(self) -> bool:
        """True while an engine runs (Run is refused, Cancel is offered)."""
        return bool(self._running_engines)

    def idle(self) -> bool:
        """No engine, display, metrics, trace or export work pending."""
        return not self._running_engines and not self.jobs

    @Slot(bool)
    def _on_validity(self, valid: bool) -> None:
        self.run_action.setEnabled(valid and not self.busy())
        if not valid and self.editor.errors():
            self.run_action.setToolTip("Fix the command line first: " + self.editor.errors()[0].message)
        else:
            self.run_action.setToolTip("Run both engines on the command line (Ctrl+R)")

    # ---- demo and command ------------------------------------------------------------------------------------------
    def load_demo(self, run: bool = False) -> None:
        try:
            from app.demo import demo_argv
            argv = demo_argv()
        except ConfigError as exc:
            self.status(f"Demo not available: {exc}")
            return
        self.editor.set_argv(argv)
        if run:
            self._run_note = "Demo scenario, run automatically (C carry-over on, PyTorch off; Ctrl+R reruns). "
            self.status(self._run_note)
            QtCore.QTimer.singleShot(0, self.run)
        else:
            self.status("Demo scenario loaded (not run yet): press Run (Ctrl+R).")

    # ---- running ---------------------------------------------------------------------------------------------------
    @Slot()
    def run(self) -> bool:
        """Start both engines on the editor's command line. Returns False (with a message) when refused."""
        if self.busy():
            self.status("Already running: press Esc to cancel first.")
            return False
        self.editor.validate_now()
        if not self.editor.is_valid():
            errs = self.editor.errors()
            msg = errs[0].message if errs else "the command line is not valid"
            self.refuse(f"Run refused: {msg}")
            return False
        try:
            from app.session import ComparisonSession
            session = ComparisonSession(self.editor.argv(), self.editor.engine_options())
        except ConfigError as exc:
            self.refuse(f"Run refused: {exc}")
            return False
        self.session = session
        self.geometry_info = PixelGeometry.from_config(session.config)
        s_n, f_n = session.config.pixel_counts()
        # The inspector's traces belong to the previous command line: forget them (a snapshot must not mix runs),
        # and trace the same pixel again once this run is done.
        self._run_gen += 1
        shown = self.inspector.inspection
        busy = self.jobs.get("inspect")
        if busy is not None:
            busy.cancel()
        target = self._pending_inspect or ((shown.slow, shown.fast) if shown is not None else None)
        self._pending_inspect = None
        self._reinspect = target if target is not None and target[0] < s_n and target[1] < f_n else None
        self.inspector.reset("Tracing pixel (slow {}, fast {}) again when the run is done…".format(*self._reinspect)
                             if self._reinspect else "")
        self.inspector.set_detector_shape(s_n, f_n)
        self.c_outcome = self.py_outcome = None
        self.metrics = self.verdict = None
        self.metrics_panel.clear()
        self.panels.clear()
        self._shown = (None, None)
        self._display_gen += 1
        self._full_plan_pending = False
        self.display_ready = False
        self.panels.show_marker(None, None)
        for p in (self.panels.c_panel, self.panels.py_panel):
            p.set_note("running…")
        self.run_cancel = threading.Event()
        self._run_started = QtCore.QDateTime.currentMSecsSinceEpoch() / 1000.0
        self._running_engines = {"c", "py"}
        self.c_bar.set_state("running", 0.0)
        self.py_bar.set_state("running", 0.0)
        self._set_running_ui(True)
        # The editor's wording of the warnings adds "did you mean …?" to a mistyped flag.
        warnings = [d.message for d in self.editor.diagnostics if d.severity == "warning"] or list(session.warnings)
        self._run_warnings = len(warnings)
        warn = f" ({len(warnings)} warning(s): {warnings[0]})" if warnings else ""
        self.status(f"{self._run_note}Running C and PyTorch on {s_n} x {f_n} pixels…{warn}")
        self._run_note = ""
        cancel = self.run_cancel
        self._start("c", lambda progress, _c: session.run_c(progress, cancel), self._on_engine_result)
        self._start("py", lambda progress, _c: session.run_torch(progress, cancel), self._on_engine_result)
        return True

    def refuse(self, message: str) -> None:
        """Say why something was not done, in the status bar and the editor's message line."""
        self.last_error = message
        self.status(message)
        self.editor.message.setText(f"<span style='color:#b00020'>{_esc(message)}</span>")

    def _start(self, tag: str, fn, on_result) -> Job:
        worker = Worker(tag, fn, cancel=self.run_cancel if tag in ("c", "py") else None)
        job = start_job(worker, keeper=self.keeper, on_progress=self._on_progress, on_result=on_result,
                        on_error=self._on_worker_error,
                        on_finished=self._on_worker_finished)
        self.jobs[tag] = job
        return job

    def _set_running_ui(self, running: bool) -> None:
        self.run_action.setEnabled(not running and self.editor.is_valid())
        self.cancel_action.setEnabled(running or "inspect" in self.jobs)

    @Slot(str, float)
    def _on_progress(self, tag: str, fraction: float) -> None:
        bar = {"c": self.c_bar, "py": self.py_bar}.get(tag)
        if bar is not None:
            bar.set_state("running", fraction)

    @Slot(str, object)
    def _on_engine_result(self, tag: str, outcome) -> None:
        self._running_engines.discard(tag)
        bar = self.c_bar if tag == "c" else self.py_bar
        panel = self.panels.c_panel if tag == "c" else self.panels.py_panel
        if tag == "c":
            self.c_outcome = outcome
        else:
            self.py_outcome = outcome
        if outcome.ok:
            r = outcome.result
            bar.set_state(f"done in {r.wall_s:.2f} s", 1.0)
            self.show_images(c=r.image if tag == "c" else None, py=r.image if tag == "py" else None,
                             which=tag)
            panel.set_note(f"{r.wall_s:.2f} s")
        elif outcome.cancelled:
            bar.set_state("cancelled", 0.0)
            panel.show_error(f"{panel.title}: cancelled", outcome.log_tail)
            panel.set_note("cancelled")
        else:
            bar.set_state("failed", 0.0)
            panel.show_error(f"{panel.title} failed: {outcome.error}", outcome.log_tail)
            panel.set_note("failed")
            self.panels.refresh_difference()
        self._times()
        if not self._running_engines:
            self._run_finished()

    def show_images(self, c=None, py=None, *, which: str, kind: str = "full") -> None:
        """Display new raw images: scaling, levels, difference and zoomed-out copies are computed on a worker
        (they take a while for multi-megapixel images) and handed to the panels when ready.

        which: the side(s) replaced, 'c', 'py', 'both', or 'keep' (re-plan the images shown, after a control
        changed); kind 'diff' hands over only the difference (a mode change keeps the images' manual levels)."""
        cur_c, cur_py = self._shown
        c2 = c if which in ("c", "both") else cur_c
        py2 = py if which in ("py", "both") else cur_py
        self._shown = (c2, py2)
        if kind != "full" and self._full_plan_pending:
            kind = "full"  # a newer plan supersedes the pending one, which carried new images: keep them
        if kind == "full":
            self._full_plan_pending = True
        self._display_gen += 1
        gen, opts = self._display_gen, self.panels.plan_options()
        from app.image_panels import plan_display

        def work(_progress, _cancel):
            return gen, kind, plan_display(c2, py2, **opts)
        self._start(f"display{gen}", work, self._on_display_plan)

    @Slot(str)
    def _replan(self, kind: str) -> None:
        self.show_images(which="keep", kind="full" if kind == "scale" else "diff")

    @Slot(str, object)
    def _on_display_plan(self, _tag: str, value) -> None:
        gen, kind, plan = value
        if gen != self._display_gen:
            return  # a newer image or setting arrived meanwhile; its plan follows
        if kind == "full":
            self._full_plan_pending = False
            self.panels.apply_plan(plan)
        else:
            self.panels.apply_difference(plan)
        self.display_ready = True

    def _times(self) -> None:
        c = self.c_outcome.result.wall_s if self.c_outcome is not None and self.c_outcome.ok else None
        p = self.py_outcome.result.wall_s if self.py_outcome is not None and self.py_outcome.ok else None
        self.metrics_panel.set_times(c, p)

    def _run_finished(self) -> None:
        self._set_running_ui(False)
        c_ok = self.c_outcome is not None and self.c_outcome.ok
        p_ok = self.py_outcome is not None and self.py_outcome.ok
        parts = []
        for name, o in (("C", self.c_outcome), ("PyTorch", self.py_outcome)):
            if o is None:
                continue
            parts.append(f"{name} {'ok' if o.ok else ('cancelled' if o.cancelled else 'failed: ' + str(o.error))}")
        warn = (f" The command line has {self._run_warnings} warning(s) (ignored flags?): see the editor."
                if self._run_warnings else "")
        self.status("Run finished: " + "; ".join(parts) + (". Click a pixel to trace it." if c_ok and p_ok else ".")
                    + warn)
        if c_ok and p_ok:
            self._compute_metrics()
        if self._reinspect is not None and (c_ok or p_ok):
            s, f = self._reinspect
            self._reinspect = None
            self.inspect_pixel(s, f)

    def _compute_metrics(self) -> None:
        """Image metrics on a worker (they take a while for multi-megapixel images)."""
        c, p = self.c_outcome, self.py_outcome
        if c is None or p is None or not c.ok or not p.ok:
            return
        if c.result.image.shape != p.result.image.shape:
            self.metrics_panel.set_metrics(None)
            self.status(f"Images differ in shape: C {c.result.image.shape}, PyTorch {p.result.image.shape}")
            return
        session = self.session or self._session_for_loaded()
        if session is None:
            from tracing.metrics import compare_images

            def work(_progress, _cancel):
                return compare_images(c.result.image, p.result.image), None
        else:
            def work(_progress, _cancel):
                m = session.compare(c.result, p.result)
                try:
                    v = session.verdict(m)
                except Exception:  # noqa: BLE001 - the verdict is optional decoration
                    v = None
                return m, v
        self._start("metrics", work, self._on_metrics)

    @Slot(str, object)
    def _on_metrics(self, _tag: str, value) -> None:
        self.metrics, self.verdict = value
        self.metrics_panel.set_metrics(self.metrics, self.verdict)
        self._times()

    @Slot(str, str, str)
    def _on_worker_error(self, tag: str, message: str, details: str) -> None:
        # Session calls return failures as values; reaching here means a bug: show it readably, keep details.
        self.last_error = message
        if tag in ("c", "py"):
            self._running_engines.discard(tag)
            panel = self.panels.c_panel if tag == "c" else self.panels.py_panel
            panel.show_error(f"{panel.title} failed: {message}", details)
            panel.set_note("failed")
            if not self._running_engines:
                self._run_finished()
        elif tag == "inspect":
            self.inspector.set_idle(f"trace failed: {message}")
        elif tag == "export":
            from app.errors import show_error_dialog
            show_error_dialog(self, "Export failed", f"The snapshot was not written: {message}", details)
        self.status(f"{tag}: {message}")

    @Slot(str)
    def _on_worker_finished(self, tag: str) -> None:
        self.jobs.pop(tag, None)
        if tag == "inspect":
            self.cancel_action.setEnabled(self.busy())
            if self._pending_inspect is not None:
                s, f = self._pending_inspect
                self._pending_inspect = None
                self.inspect_pixel(s, f)

    @Slot()
    def cancel(self) -> None:
        """Stop both engines (the C process is killed through the cancel event) and any running trace."""
        if self.run_cancel is not None:
            self.run_cancel.set()
        job = self.jobs.get("inspect")
        if job is not None:
            job.cancel()
            self._pending_inspect = None
        if self.busy():
            self.status("Cancelling…")
            for b in (self.c_bar, self.py_bar):
                b.set_state("cancelling…")

    # ---- loading images --------------------------------------------------------------------------------------------
    @Slot()
    def load_c_dialog(self) -> None:
        self._load_dialog("c")

    @Slot()
    def load_py_dialog(self) -> None:
        self._load_dialog("py")

    def _load_dialog(self, which: str) -> None:
        name = "C" if which == "c" else "PyTorch"
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, f"Load {name} image", self.settings.last_dir("images"),
                                                        FABIO_FILTER)
        if path:
            self.settings.set_last_dir("images", os.path.dirname(path))
            self.load_image_file(which, path)

    def load_image_file(self, which: str, path: str) -> bool:
        """Show an image file as the C ('c') or PyTorch ('py') side; False (with a message) when unreadable."""
        if self.busy():
            self.status("Wait for the run to finish (or cancel it) before loading an image.")
            return False
        shape = None
        cfg = self.editor.config
        if cfg is not None:
            try:
                shape = cfg.pixel_counts()
            except Exception:  # noqa: BLE001
                shape = None
        try:
            img = load_image(path, shape)
        except ImageLoadError as exc:
            self.refuse(f"Cannot load image: {exc}")
            return False
        from app.session import EngineOutcome
        engine = "c" if which == "c" else "torch"
        result = ImageResult(engine=engine, image=img, argv=[], log=f"loaded from {path}",
                             meta={"source_file": str(path)})
        outcome = EngineOutcome(engine, result=result)
        panel = self.panels.c_panel if which == "c" else self.panels.py_panel
        if which == "c":
            self.c_outcome = outcome
            self.show_images(c=img, which="c")
        else:
            self.py_outcome = outcome
            self.show_images(py=img, which="py")
        panel.set_note(f"loaded from {Path(path).name}")
        if cfg is not None and self.geometry_info is None:
            self.geometry_info = PixelGeometry.from_config(cfg)  # readouts use the command line's geometry
        self.inspector.set_detector_shape(*img.shape)
        self.metrics_panel.set_metrics(None)
        self._compute_metrics()
        self.status(f"Loaded {Path(path).name} ({img.shape[0]} x {img.shape[1]}) as the {which.upper()} image.")
        return True

    def _session_for_loaded(self):
        """A session for the editor's command line (for traces and snapshots of loaded images); None if invalid."""
        if not self.editor.is_valid():
            return None
        try:
            from app.session import ComparisonSession
            return ComparisonSession(self.editor.argv(), self.editor.engine_options())
        except ConfigError:
            return None

    # ---- cursor readout --------------------------------------------------------------------------------------------
    @Slot(int, int)
    def _on_hover(self, slow: int, fast: int) -> None:
        self.readout.setText(self.readout_text(slow, fast))

    @Slot()
    def _on_unhover(self) -> None:
        self.readout.setText("")

    def readout_text(self, slow: int, fast: int) -> str:
        """The status-bar line for pixel (slow, fast): raw values, Δ, relative Δ, 2θ, d, and h,k,l when traced."""
        c = self.panels.c_panel.value_at(slow, fast)
        p = self.panels.py_panel.value_at(slow, fast)
        parts = [f"<b>(slow {slow}, fast {fast})</b>"]
        parts.append(f"C {_num(c)}")
        parts.append(f"PyTorch {_num(p)}")
        if c is not None and p is not None:
            d = c - p
            parts.append(f"Δ {_num(d)}")
            parts.append(f"rel Δ {_num(d / abs(c)) if c != 0 else ('0' if d == 0 else '∞')}")
        if self.geometry_info is not None:
            tt, dd = self.geometry_info.two_theta_d(slow, fast)
            parts.append(f"2θ {tt:.3f}°")
            parts.append(f"d {dd:.3f} Å" if math.isfinite(dd) else "d ∞")
        insp = self.inspector._cache.get((slow, fast))
        if insp is not None:
            tr = insp.py_trace if insp.py_trace is not None and insp.py_trace.samples else insp.c_trace
            if tr is not None and tr.samples:
                s0 = tr.series()[0]
                hkl = [s0.get(k) for k in ("h_frac", "k_frac", "l_frac")]
                parts.append("hkl(tick 0) " + " ".join("?" if v is None else f"{v:.3f}" for v in hkl))
        else:
            parts.append("<span style='color:#777'>click to trace h,k,l</span>")
        return " &nbsp;·&nbsp; ".join(parts)

    # ---- pixel inspection ------------------------------------------------------------------------------------------
    @Slot(int, int)
    def inspect_pixel(self, slow: int, fast: int) -> bool:
        """Trace pixel (slow, fast) on both engines in the background; the inspector shows the result."""
        self._reinspect = None  # a pixel asked for now wins over the one to trace again after a run
        session = self.session or self._session_for_loaded()
        if session is None:
            self.refuse("Cannot trace: the command line is not valid (the traces rerun it for one pixel).")
            return False
        try:
            session.check_pixel(slow, fast)
        except ConfigError as exc:
            self.status(str(exc))
            return False
        self.panels.show_marker(slow, fast)
        if "inspect" in self.jobs:
            self._pending_inspect = (slow, fast)
            self.jobs["inspect"].cancel()
            return True
        self.inspector.set_busy(slow, fast)
        self.status(f"Tracing pixel (slow {slow}, fast {fast}) on both engines…")
        gen = self._run_gen
        self._start("inspect", lambda _p, cancel: (gen, session.inspect_pixel(slow, fast, cancel)),
                    self._on_inspection)
        self.cancel_action.setEnabled(True)
        return True

    @Slot(str, object)
    def _on_inspection(self, _tag: str, value) -> None:
        gen, insp = value
        if self._pending_inspect is not None or gen != self._run_gen:
            return  # superseded by a newer click, or traced for an earlier command line
        self.inspector.show_inspection(insp)
        self.panels.show_marker(insp.slow, insp.fast)
        self.status(insp.describe())

    @Slot()
    def goto_max(self) -> None:
        px = self.metrics_panel.max_pixel()
        if px is None and self.metrics_panel.identical:
            self.status("C and PyTorch are identical: no pixel differs. Click a pixel to trace it anyway.")
            return
        if px is None:
            self.status("No max |Δ| yet: run both engines (or load both images) first.")
            return
        self.jump_to(*px)

    @Slot(int, int)
    def jump_to(self, slow: int, fast: int) -> None:
        self.panels.center_on(slow, fast)
        self.inspect_pixel(slow, fast)

    # ---- view helpers ----------------------------------------------------------------------------------------------
    @Slot()
    def _cycle_scale(self) -> None:
        combo = self.panels.scale_combo
        combo.setCurrentIndex((combo.currentIndex() + 1) % combo.count())

    # ---- export ----------------------------------------------------------------------------------------------------
    @Slot()
    def export_dialog(self) -> None:
        start = self.settings.last_dir("export")
        if not start:
            # The suggested default must exist, or the dialog opens elsewhere with its Choose button greyed out.
            default = Path.home() / "nbparity-snapshots"
            try:
                default.mkdir(parents=True, exist_ok=True)
                start = str(default)
            except OSError:
                start = str(Path.home())
        while start and not Path(start).is_dir() and Path(start).parent != Path(start):
            start = str(Path(start).parent)  # a remembered folder that has gone: its nearest parent
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for the snapshot (a new timestamped "
                                                            "folder is created inside)", start)
        if folder:
            self.settings.set_last_dir("export", folder)
            self.export_snapshot(Path(folder))

    def export_snapshot(self, parent: Path) -> bool:
        """Write a snapshot under `parent` on a worker; `last_bundle` is set when it is done."""
        if "export" in self.jobs:
            self.status("An export is already being written.")
            return False
        session = self.session or self._session_for_loaded()
        if session is None:
            self.refuse("Cannot export: the command line is not valid (the snapshot records it).")
            return False
        if self.c_outcome is None and self.py_outcome is None:
            self.refuse("Nothing to export yet: run the engines or load an image first.")
            return False
        try:
            extra = export_mod.window_pngs(self)
        except Exception as exc:  # noqa: BLE001 - pictures are a bonus; the data still gets written
            extra = {}
            self.status(f"Pictures skipped: {exc}")
        c, p, m, insps = self.c_outcome, self.py_outcome, self.metrics, self.inspector.inspections()

        def work(_progress, _cancel):
            return session.write_bundle(Path(parent), c=c, py=p, metrics=m, inspections=insps, extra_files=extra,
                                        png=False)
        self.status("Writing the snapshot…")
        self._start("export", work, self._on_exported)
        return True

    @Slot(str, object)
    def _on_exported(self, _tag: str, path) -> None:
        self.last_bundle = Path(path)
        self.status(f"Snapshot written to {path}")

    # ---- settings, help --------------------------------------------------------------------------------------------
    @Slot()
    def reset_settings(self) -> None:
        self.settings.reset()
        self.panels.set_colormap("viridis")
        self.panels.set_scale("log")
        self.editor.set_c_binary(None)
        self.status("Settings reset to defaults (window layout applies at the next start).")

    @Slot()
    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText(f"<table>{rows}</table><p>Mouse: wheel zooms, drag pans (all three panels together); "
                    "click a pixel to trace it.</p>")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    @Slot()
    def show_about(self) -> None:
        from app.session import nbparity_version
        QtWidgets.QMessageBox.about(
            self, "About nbparity",
            f"<b>nbparity {nbparity_version()}</b><p>Runs the nanoBragg C reference and its PyTorch port on the "
            "same command line, shows both images and their difference, and traces any pixel across the φ ticks "
            "(h, k, l, F_latt) with the first divergence marked.</p><p>Images: float32 (slow, fast), photons per "
            "pixel; pixel (s, f) has its centre at (s+0.5, f+0.5) px.</p>")

    # ---- shutdown --------------------------------------------------------------------------------------------------
    def shutdown(self, wait_ms: int = 10000) -> None:
        """Cancel everything and wait for the worker threads (no C process outlives the window)."""
        if self.run_cancel is not None:
            self.run_cancel.set()
        for job in self.keeper.running():
            job.cancel()
        self.keeper.wait_all(wait_ms)
        if self.hook is not None:
            self.hook.uninstall()
            self.hook = None

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)


def preload_engines() -> list[str]:
    """Import the engine modules now, on the GUI thread, before any run.

    A first import inside a worker thread holds the GIL for hundreds of milliseconds (module code, torch
    extensions), which would freeze the window mid-run. Returns the modules that could not be imported (the run
    then reports the failure in the engine's panel).
    """
    import importlib
    missing = []
    for name in ("numpy.ma", "torch", "c_reference.driver", "simulator.engine", "tracing.metrics",
                 "tracing.phi_compare", "tracing.tables", "tracing.bundle", "app.session", "app.snapshot"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - surfaced later, per engine, as a readable error
            missing.append(name)
    return missing


def _num(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.6g}"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_gui(argv: list[str] | None = None, c_binary: str | None = None) -> int:
    """Open the window (argv None → the demo, run at once) and return the application's exit code."""
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setOrganizationName("nbparity")
    app.setApplicationName("nbparity")
    win = MainWindow(argv, c_binary, autorun=True)
    win.show()
    return int(app.exec())
