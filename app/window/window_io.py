"""What the window reads and writes: an image file shown as side A or B, and a snapshot of the comparison.

Functions of the MainWindow `win` (they use its model, views, editor and settings); the work itself is the run
model's (app.qt.run_model) and the export module's (app.window.export).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6 import QtWidgets

from app.core.image_loading import FABIO_FILTER, ImageLoadError, load_detector_image, prepare_side
from app.core.pixel_geometry import PixelGeometry
from app.core.records import EngineOutcome
from app.core.scaling import Levels
from app.core.sides import SIDES
from app.window import export as export_mod
from simulator.config import ConfigError
from tracing.records import ImageResult

log = logging.getLogger(__name__)


def open_image_dialog(win, side: str) -> None:
    path, _ = QtWidgets.QFileDialog.getOpenFileName(win, f"Load image as side {side.upper()}",
                                                    win.settings.last_dir("images"), FABIO_FILTER)
    if path:
        win.settings.set_last_dir("images", os.path.dirname(path))
        load_side_image(win, side, path)


def load_side_image(win, side: str, path: str) -> bool:
    """Show an image file as side 'a' or 'b' (named after the file); False (with a message) when unreadable."""
    if win.busy():
        win.status("Wait for the run to finish (or cancel it) before loading an image.")
        return False
    cfg = win.editor.config if win.editor.is_valid() else None
    shape = cfg.pixel_counts() if cfg is not None else None
    try:
        loaded = load_detector_image(path, shape)
    except ImageLoadError as exc:
        win.refuse(f"Cannot load image: {exc}")
        return False
    # Counts become photons before any comparison (offset, then a gain fitted to the other side's photons).
    other = win.model.outcome("b" if side == "a" else "a")
    other_img = other.result.image if other is not None and other.ok else None
    prepared = prepare_side(loaded, other_img, cfg.output.adc if cfg is not None else 40.0)
    img = prepared.photons
    name = Path(path).name
    label = f"{name} (file)"
    result = ImageResult(engine=label, image=img, argv=[], log=f"{prepared.sentence}\n{path}",
                         meta={"source_file": str(path), "unit_in_file": loaded.unit, "loaded": prepared.sentence})
    try:
        session = win.editor_session()
    except ConfigError:
        session = None
    # The file's name first: load_outcome may report at once (e.g. "images differ in shape"), and that report
    # must name the file, not the engine whose image it replaces.
    names = dict(win.model.labels, **{side: label})
    win.views.set_names(names["a"], names["b"])
    win.model.load_outcome(side, EngineOutcome(label, result=result, side=side), session)
    win.views.set_names(win.model.labels["a"], win.model.labels["b"])
    win.display.show(side, img)
    win.views.image_panels[side].set_note(prepared.sentence)
    tracer = session.label(side) if session is not None else None
    win.inspector.set_trace_source(side, name, tracer)
    if cfg is not None and win.geometry_info is None:
        win.geometry_info = PixelGeometry.from_config(cfg)  # readouts use the command line's geometry
    win.inspector.set_detector_shape(*img.shape)
    win.metrics_panel.set_metrics(None)
    win.status(f"Loaded {name} ({img.shape[0]} x {img.shape[1]}) as side {side.upper()}.")
    return True


def export_dialog(win) -> None:
    folder = choose_export_folder(win, win.settings.last_dir("export"))
    if folder:
        win.settings.set_last_dir("export", folder)
        export_to(win, Path(folder))


def export_to(win, parent: Path) -> bool:
    """Write a snapshot under `parent` on a worker (the model's `exported` follows); False (with a message) when
    there is nothing to write or no valid command line."""
    if win.model.exporting():
        win.status("An export is already being written.")
        return False
    if all(win.model.outcome(s) is None for s in SIDES):
        win.refuse("Nothing to export yet: run the engines or load an image first.")
        return False
    plan = export_mod.prepare(view_state(win))  # GUI thread, milliseconds; the drawing happens on the worker

    def extra(session, c, py, metrics) -> dict[str, bytes]:
        try:
            return export_mod.render(plan, session, c, py, metrics)
        except Exception:  # noqa: BLE001 - pictures are a bonus; the data still gets written
            log.exception("snapshot pictures skipped")
            return {"window.png": plan.window_png}
    try:
        session = win.model.session if win.model.session is not None else win.editor_session()
        win.model.export(Path(parent), extra, win.inspector.inspections(), session)
    except ConfigError as exc:
        win.refuse(f"Cannot export: {exc}")
        return False
    win.status("Writing the snapshot…")
    return True


def view_state(win) -> export_mod.ViewState:
    """What the window shows now, as the plain value app.window.export.prepare takes (GUI thread, milliseconds:
    two widget grabs, arrays by reference)."""
    panels, inspector = win.panels, win.inspector
    insps = inspector.inspections()
    lv = panels.levels()
    marks = [(i.slow, i.fast) for i in insps]
    return export_mod.ViewState(
        window_png=export_mod.widget_png(win), images=(panels.image_a(), panels.image_b()),
        names=(panels.panel_a.title, panels.panel_b.title),
        side_notes=(panels.panel_a.note(), panels.panel_b.note()), scale=panels.scale,
        percentile=panels.percentile_spin.value(), cmap=panels.colormap(), diff_mode=panels.mode(),
        levels=Levels(lv.low, lv.high), floor=panels.display_floor(),
        side_levels=None if panels.scales_shared() else panels.side_levels(),
        diff_raw=panels.diff_raw, diff_levels=panels.diff_bar.levels() if panels.diff_raw is not None else None,
        inspections=tuple(insps), tol=inspector.tol,
        inspector_png=export_mod.widget_png(inspector.plots_widget()) if inspector.inspection is not None else None,
        trace_notes=tuple(inspector.trace_source_notes()), extra=panels.profile.export_files(),
        compare=panels.compare.capture(marks))


def choose_export_folder(parent: QtWidgets.QWidget, start: str) -> str:
    """Ask for the folder that receives a new timestamped snapshot folder; '' when cancelled.

    Nothing is created by asking: the dialog starts in the remembered folder (or its nearest existing parent), else
    in ~/nbparity-snapshots when that exists, else in the home folder (the dialog can make a new folder there)."""
    if not start:
        default = Path.home() / "nbparity-snapshots"
        start = str(default if default.is_dir() else Path.home())
    while start and not Path(start).is_dir() and Path(start).parent != Path(start):
        start = str(Path(start).parent)  # a remembered folder that has gone: its nearest parent
    return QtWidgets.QFileDialog.getExistingDirectory(
        parent, "Folder for the snapshot (a new timestamped folder is created inside)", start)


LONG_RUN_S = 120.0  # a run guessed longer than this is confirmed first (issue 8: "ask before a run of minutes")


def confirm_long_run(parent: QtWidgets.QWidget, config) -> bool:
    """True when the run of `config` may start: at once when its quick work estimate (simulator.preflight, without
    reading the large input files) is under LONG_RUN_S, else when the user says yes to the estimate shown.
    A command line the estimate refuses is left to the run, which reports it on each side."""
    from simulator.preflight import estimate
    try:
        est = estimate(config, large_files=False)
    except ConfigError:
        return True
    if est.seconds_guess < LONG_RUN_S:
        return True
    answer = QtWidgets.QMessageBox.question(
        parent, "A long run", f"This run is large: {est.sentence()}.\n\nRun it now?",
        QtWidgets.QMessageBox.Yes | QtWidgets.QMessageBox.No, QtWidgets.QMessageBox.No)
    return answer == QtWidgets.QMessageBox.Yes
