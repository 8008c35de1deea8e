"""The nbparity main window: command line → both engines → three linked panels, metrics, φ inspector, snapshot.

The window composes widgets and actions and only shows and asks. The run itself (session, both outcomes,
metrics, verdict, pixel traces, jobs, cancellation, staleness) belongs to app.qt.run_model.RunModel, whose signals
arrive at the @Slot methods here. Actions and menus: app.window.actions; status-bar pieces: app.widgets.status_bar;
how the process ends (close, signals): app.window.lifecycle.
"""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Slot

import pyqtgraph as pg  # noqa: F401  (after PySide6, so pyqtgraph binds to it)

from app.window import export as export_mod
from app.window.actions import build_actions
from app.widgets.engine_picker import EnginesBox, engine_label
from app.qt.errors import install_excepthook
from app.widgets.image_panels import ImagePanels
from app.widgets.inspector import PhiInspector
from app.widgets.auto_trace_view import AutoTraceView
from app.widgets.metrics_panel import MetricsPanel, esc
from app.widgets.params_editor import ParamsEditor
from app.widgets.phi_slider import install as install_phi_view
from app.core.pixel_geometry import PixelGeometry
from app.qt.run_model import RunModel
from app.core.sides import SIDES
from app.core.session import ComparisonSession, SideOptions
from app.qt.settings import AppSettings
from app.widgets.run_views import RunViews
from app.widgets.status_bar import EngineBar, readout_text, run_finished_text, run_started_text
from app.window.window_io import confirm_long_run, export_to, load_side_image
from app.window.window_layout import build_layout
from app.window.window_settings import reset_window, restore_window, save_view, save_window
from app.qt.workers import preload_engines, warm_up_engines
from simulator.config import ConfigError

APP_NAME = "nbparity"


class MainWindow(QtWidgets.QMainWindow):
    """The parity viewer. `argv` None loads the demo; `autorun` starts it at once; `a` / `b`: ENGINE spellings
    for the sides (None: the last ones chosen, else our C reference and PyTorch float64).

    Signal idle_reached(): the last engine, display, metrics, trace or export job has ended (tests wait on it).
    """

    idle_reached = QtCore.Signal()

    def __init__(self, argv: list[str] | None = None, c_binary: str | None = None, *,
                 settings: AppSettings | None = None, autorun: bool = False, install_hook: bool = True,
                 a: str | None = None, b: str | None = None, auto_trace: bool = True):
        super().__init__()
        self.setWindowTitle(f"{APP_NAME} — nanoBragg parity viewer")
        self.settings = settings if settings is not None else AppSettings()
        self.model = RunModel(self)
        self.geometry_info: PixelGeometry | None = None
        self.last_bundle: Path | None = None
        self.last_error: str | None = None
        self._reinspect: tuple[int, int] | None = None  # the pixel to trace again when the new run is done
        self._run_note = ""                  # said once in the status bar when the next run starts
        self._closing = False

        preload_engines()
        self.warm_up = warm_up_engines()  # issue 9: the first Run at warm speed
        self.editor = ParamsEditor(last_dir_getter=lambda: self.settings.last_dir("files"),
                                   last_dir_setter=lambda d: self.settings.set_last_dir("files", d))
        self.panels = ImagePanels()
        self.metrics_panel = MetricsPanel()
        self.inspector = PhiInspector()
        self.a_bar, self.b_bar = EngineBar("A"), EngineBar("B")
        self.engines = EnginesBox(self.settings)
        self.views = RunViews(self.model, self.panels, self.metrics_panel, self.inspector, (self.a_bar, self.b_bar),
                              self)
        self.display = self.views.display
        self.actions = build_actions(self)
        build_layout(self)
        self._connect()
        install_phi_view(self)   # the per-φ images dock (app.widgets.phi_slider): self.phi_view, self.phi_dock
        self.auto_trace_view = AutoTraceView(self, session_off=not auto_trace)   # issue 21
        restore_window(self, self.settings, c_binary)
        for side, spec in (("a", a), ("b", b)):
            if spec:
                self.engines.pickers[side].set_side_options(SideOptions(spec))
        self._on_engines_changed()
        self.hook = install_excepthook(self) if install_hook else None

        saved = self.settings.get_argv() if argv is None else None
        if argv is None and saved is None:
            self.load_demo(run=autorun)
        elif argv is None:
            # The last session's command line, not run: it may be a long one (the demo is Ctrl+D away).
            self.editor.set_argv(saved)
            self.status("The last command line is restored; press Run (Ctrl+R), or Ctrl+D for the demo.")
        else:
            self.editor.set_argv(list(argv))
            if autorun and self.editor.is_valid():
                QtCore.QTimer.singleShot(0, self.run)
            else:
                self.status("Command line loaded; press Run (Ctrl+R).")
        if self.settings_note:
            self.refuse(self.settings_note)  # said once: restore_window has forgotten the broken setting

    # ---- construction ----------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        m = self.model
        for signal, slot in ((m.started, self._on_started), (m.run_finished, self._on_run_finished),
                             (m.busy_changed, self._on_busy), (m.metrics_ready, self._on_metrics),
                             (m.inspection_started, self._on_inspection_started), (m.exported, self._on_exported),
                             (m.pipeline_ready, self.inspector.show_pipeline), (m.failed, self._on_failed),
                             (m.inspection_ready, self._on_inspection), (m.inspection_failed, self._on_trace_failed),
                             (m.runner.finished, self._check_idle), (self.display.runner.finished, self._check_idle)):
            signal.connect(slot)
        self.editor.validityChanged.connect(self._on_validity)
        self.engines.changed.connect(self._on_engines_changed)
        self.editor.runRequested.connect(self.run)
        self.panels.hovered.connect(self._on_hover)
        self.panels.unhovered.connect(self._on_unhover)
        self.panels.pixelClicked.connect(self.inspect_pixel)
        self.inspector.inspectRequested.connect(self.jump_to)  # typed in the box: bring the pixel into view
        self.inspector.gotoMaxRequested.connect(self.goto_max)
        self.metrics_panel.jumpRequested.connect(self.jump_to)
        for signal in self.panels.settings_changed_signals():
            signal.connect(self._save_view_settings)

    @Slot()
    def _save_view_settings(self, *args) -> None:
        save_view(self, self.settings)

    @Slot()
    def reset_settings(self) -> None:
        reset_window(self, self.settings)
        self.status("Settings reset to defaults: view, C binary, docks and splitters.")

    # ---- status ----------------------------------------------------------------------------------------------------
    def status(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def refuse(self, message: str) -> None:
        """Say why something was not done, in the status bar and the editor's message line."""
        self.last_error = message
        self.status(message)
        self.editor.message.setText(f"<span style='color:#b00020'>{esc(message)}</span>")

    def busy(self) -> bool:
        """True while an engine runs (Run is refused, Cancel is offered)."""
        return self.model.busy

    def idle(self) -> bool:
        """No engine, display, metrics, trace or export work pending."""
        return self.model.idle() and not self.display.busy()

    @Slot(int, str)
    def _check_idle(self, *_job) -> None:
        if self.idle():
            self.idle_reached.emit()

    @Slot(bool)
    def _on_validity(self, valid: bool) -> None:
        self.actions.run.setEnabled(valid and not self.busy())
        errs = self.editor.errors()
        self.actions.run.setToolTip("Fix the command line first: " + errs[0].message if not valid and errs
                                    else "Run both engines on the command line (Ctrl+R)")
        self.model.note_command_line(self.editor.argv() if valid else None, self._options_or_none())

    def _options_or_none(self):
        try:
            return self.engines.session_options()
        except ConfigError:
            return None

    @Slot()
    def _on_engines_changed(self) -> None:
        """Another engine on a side: name the views after it (until a run names them) and mark old data stale."""
        if self.model.session is None:
            self.views.set_names(*(engine_label(p.spec()) for p in self.engines.pickers.values()))
        self.model.note_command_line(self.editor.argv() if self.editor.is_valid() else None,
                                     self._options_or_none())

    # ---- demo and command ------------------------------------------------------------------------------------------
    @Slot()
    def load_demo(self, run: bool = False) -> None:
        try:
            from app.core.demo import demo_argv
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

    def editor_session(self):
        """A session for the editor's command line and engine choices; ConfigError says what is wrong."""
        self.editor.validate_now()
        if not self.editor.is_valid():
            errs = self.editor.errors()
            raise ConfigError(errs[0].message if errs else "the command line is not valid")
        return ComparisonSession(self.editor.argv(), self.engines.session_options())

    # ---- running ---------------------------------------------------------------------------------------------------
    @Slot()
    def run(self) -> bool:
        """Start both engines on the editor's command line. Returns False (with a message) when refused."""
        if self.busy():
            self.status("Already running: press Esc to cancel first.")
            return False
        try:
            session = self.editor_session()
        except ConfigError as exc:
            self.refuse(f"Run refused: {exc}")
            return False
        if not confirm_long_run(self, session.config):
            self.status("Run not started: the estimate was declined.")
            return False
        shown = self.inspector.inspection
        s_n, f_n = session.config.pixel_counts()
        # Trace the same pixel again once the run is done (when it is still on the detector).
        self._reinspect = (shown.slow, shown.fast) if shown is not None and shown.slow < s_n and shown.fast < f_n \
            else None
        self.geometry_info = PixelGeometry.from_config(session.config)
        self.panels.marks.set_config(session.config)  # rings and predicted reflections follow the command line
        self.model.start_run(session)
        return True

    @Slot(int)
    def _on_started(self, _run_id: int) -> None:
        session = self.model.session
        if session is None:  # a record read from a bundle (app.window.bundle_view.show_bundle): nothing runs
            return
        s_n, f_n = session.config.pixel_counts()
        self.inspector.reset("Tracing pixel (slow {}, fast {}) again when the run is done…".format(*self._reinspect)
                             if self._reinspect else "")
        self.inspector.set_detector_shape(s_n, f_n)
        # The editor's wording of the warnings adds "did you mean …?" to a mistyped flag.
        warnings = [d.message for d in self.editor.diagnostics if d.severity == "warning"] or list(session.warnings)
        self.status(self._run_note + run_started_text(self.names, self.model.parallel, (s_n, f_n), warnings))
        self._run_note = ""

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.actions.run.setEnabled(not busy and self.editor.is_valid())
        self.actions.cancel.setEnabled(busy or self.model.tracing())

    @Slot(int)
    def _on_run_finished(self, _run_id: int) -> None:
        outs = [self.model.outcome(s) for s in SIDES]
        self.status(run_finished_text(self.names, outs, sum(d.severity == "warning" for d in self.editor.diagnostics)))
        if self._reinspect is not None and any(o is not None and o.ok for o in outs):
            s, f = self._reinspect
            self._reinspect = None
            self.inspect_pixel(s, f)

    @Slot()
    def cancel(self) -> None:
        """Stop both engines (the C process is killed through the cancel event) and any running trace."""
        self._reinspect = None
        if self.model.cancel():
            self.status("Cancelling…")
            if self.model.busy:
                self.views.cancelling()
        self.actions.cancel.setEnabled(self.model.busy)

    @Slot(object, object)
    def _on_metrics(self, metrics, _verdict) -> None:
        if metrics is None:
            shapes = [o.result.image.shape for o in (self.model.outcome(s) for s in SIDES) if o is not None and o.ok]
            self.status(f"Images differ in shape: {self.names[0]} {shapes[0]}, {self.names[1]} {shapes[-1]}")

    @property
    def names(self) -> tuple[str, str]:
        """Display names of the engines (or files) shown as sides A and B."""
        return self.views.names

    @property
    def metrics(self):
        return self.model.metrics

    @property
    def verdict(self):
        return self.model.verdict

    # ---- files ---------------------------------------------------------------------------------------------------
    def load_image_file(self, side: str, path: str) -> bool:
        """Show an image file as side 'a' or 'b'; False (with a message) when unreadable."""
        return load_side_image(self, side, path)

    def export_snapshot(self, parent: Path) -> bool:
        """Write a snapshot under `parent` on a worker; `last_bundle` is set when it is done."""
        return export_to(self, parent)

    # ---- cursor readout --------------------------------------------------------------------------------------------
    @Slot(int, int)
    def _on_hover(self, slow: int, fast: int) -> None:
        self.readout.setText(self.readout_text(slow, fast))

    @Slot()
    def _on_unhover(self) -> None:
        self.readout.setText("")

    def readout_text(self, slow: int, fast: int) -> str:
        values = (self.panels.panel_a.value_at(slow, fast), self.panels.panel_b.value_at(slow, fast))
        text = readout_text(slow, fast, values, self.names, self.geometry_info,
                            self.inspector._cache.get((slow, fast)))
        near = self.panels.marks.readout(slow, fast)
        return text + (f" &nbsp;·&nbsp; {near}" if near else "")

    # ---- pixel inspection ------------------------------------------------------------------------------------------
    @Slot(int, int)
    def inspect_pixel(self, slow: int, fast: int) -> bool:
        """Trace pixel (slow, fast) on both engines in the background; the inspector shows the result."""
        self._reinspect = None  # a pixel asked for now wins over the one to trace again after a run
        try:
            session = self.model.session if self.model.session is not None else self.editor_session()
            self.model.inspect(slow, fast, session)
        except ConfigError as exc:
            self.refuse(f"Cannot trace: {exc}")
            return False
        return True

    @Slot(int, int)
    def _on_inspection_started(self, slow: int, fast: int) -> None:
        self.panels.show_marker(slow, fast)
        self.inspector.set_busy(slow, fast)
        self.actions.cancel.setEnabled(True)
        self.status(f"Tracing pixel (slow {slow}, fast {fast}) on both engines…")

    @Slot(object)
    def _on_inspection(self, insp) -> None:
        self.inspector.show_inspection(insp)
        self.panels.show_marker(insp.slow, insp.fast)
        self.actions.cancel.setEnabled(self.model.busy)
        self.status(self.inspector.status_text(insp))

    @Slot(str)
    def _on_trace_failed(self, message: str) -> None:
        self.inspector.set_idle(message)
        self.actions.cancel.setEnabled(self.model.busy)

    @Slot()
    def goto_max(self) -> None:
        px = self.metrics_panel.max_pixel()
        if px is None and self.metrics_panel.identical:
            self.status(f"{self.names[0]} and {self.names[1]} are identical: no pixel differs. Click a pixel to "
                        "trace it anyway.")
        elif px is None:
            self.status("No max |Δ| yet: run both engines (or load both images) first.")
        else:
            self.jump_to(*px)

    @Slot(int, int)
    def jump_to(self, slow: int, fast: int) -> None:
        self.panels.center_on(slow, fast)
        self.inspect_pixel(slow, fast)

    @Slot(object)
    def _on_exported(self, path) -> None:
        self.last_bundle = Path(path)
        self.status(f"Snapshot written to {path} (open report.html to read it)")
        self.export_notice = export_mod.notify_written(self, Path(path))

    @Slot(str, str, str)
    def _on_failed(self, tag: str, message: str, details: str) -> None:
        # Session calls return failures as values; reaching here means a bug: show it readably, keep details.
        self.last_error = message
        if tag == "export":
            from app.qt.errors import show_error_dialog
            show_error_dialog(self, "Export failed", f"The snapshot was not written: {message}", details)
        self.status(f"{tag}: {message}")

    # ---- shutdown --------------------------------------------------------------------------------------------------
    def shutdown(self) -> bool:
        """Cancel every job without waiting on the event loop; True when all worker threads have ended (the
        wait is bounded: see app.qt.run_model.SHUTDOWN_WAIT_S)."""
        self._closing = True
        ended = self.model.shutdown()
        ended = self.phi_view.shutdown() and ended
        ended = self.display.close() and ended
        if self.hook is not None:
            self.hook.uninstall()
            self.hook = None
        return ended

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt name)
        if not self._closing:
            save_window(self, self.settings)
            self.shutdown()
        super().closeEvent(event)

    @Slot(int)
    def close_on_signal(self, signum: int) -> None:
        """SIGINT/SIGTERM/SIGHUP (app.window.lifecycle): the same as the close button."""
        self.close()
