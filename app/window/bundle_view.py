"""Open a comparison bundle in the viewer without re-running it (`nbparity gui --bundle DIR`).

The bundle is read Qt-free (app.bundle.bundle_reader) into the ComparisonRecord it was written from; the window's run
model shows it as it shows a finished run (images, metrics, verdict, the inspected pixels' per-phi tables), the
editor holds the bundle's command line, and the title and status bar say that what is shown was read from the
bundle, not computed now.
"""
from __future__ import annotations

from pathlib import Path

from app.bundle.bundle_reader import read_bundle
from app.core.pixel_geometry import PixelGeometry


def show_bundle(window, folder: Path | str, record=None):
    """Show the bundle in `folder` in `window` (an app.window.main_window.MainWindow); returns the record shown.
    record: the already-read record of `folder` (read here when None). BundleError when it cannot be read."""
    folder = Path(folder)
    record = record if record is not None else read_bundle(folder)
    window.editor.set_argv(list(record.argv))
    window.editor.validate_now()  # the editor's verdict on the command line lands before the record
    window.geometry_info = PixelGeometry.from_config(record.config)
    window.inspector.reset("")
    window.inspector.set_detector_shape(*record.config.pixel_counts())
    window.model.load_record(record)
    when = record.manifest.get("time_utc") or record.manifest.get("created") or "an unknown time"
    window.setWindowTitle(f"nbparity — bundle {folder.name} (read from disk, not re-run)")
    window.status(f"Bundle {folder} opened: images, metrics and traces as written at {when}; nothing was "
                  "re-run (Run computes them again).")
    return record
