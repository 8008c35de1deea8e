"""The inspector's top row: the pixel boxes, its buttons, the progress note and the path choosers.

`InspectorControls` asks for work through its widgets' own signals (the inspector connects them); the path choosers
(mosaic domain, source, sub-pixel, layer) appear only for a dimension with more than one value in the traces.
"""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from tracing.records import PathKey, PixelTrace

PATH_DIMS: tuple[tuple[str, str], ...] = (("mos", "mosaic domain"), ("src", "source"), ("sub", "sub-pixel"),
                                          ("layer", "layer"))
MAX_INDEX = 100_000   # the pixel boxes' range until the detector's shape is known


class PixelSpinBox(QtWidgets.QSpinBox):
    """A slow or fast index box whose Enter (or Return) is a request to inspect the pixel."""

    returnPressed = Signal()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt name)
        super().keyPressEvent(event)  # commits the typed value first
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.returnPressed.emit()
            event.accept()


class InspectorControls(QtWidgets.QWidget):
    """slow / fast boxes, Inspect, Go to max |Δ|, Maximise, Own window, the busy note and the path choosers.

    pathChanged(): the user chose another path in one of the choosers."""

    pathChanged = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.slow_spin = PixelSpinBox()
        self.fast_spin = PixelSpinBox()
        for sp in (self.slow_spin, self.fast_spin):
            sp.setRange(0, MAX_INDEX)
            sp.setKeyboardTracking(False)
            sp.setToolTip("Pixel index; Enter inspects the pixel and brings it into view")
        self.inspect_button = QtWidgets.QPushButton("Inspect")
        self.inspect_button.setToolTip("Trace this pixel on both engines (or click a pixel in an image)")
        self.max_button = QtWidgets.QPushButton("Go to max |Δ|")
        self.busy_label = QtWidgets.QLabel("")
        # Long progress notes never widen the window: clipped, full text in the tooltip.
        self.busy_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.own_window_button = QtWidgets.QToolButton()
        self.own_window_button.setText("Own window")
        self.own_window_button.setCheckable(True)
        self.own_window_button.setToolTip("Move the inspector into its own window (maximise it there); click again "
                                          "or close that window to bring it back")
        self.maximise_button = QtWidgets.QToolButton()
        self.maximise_button.setText("Maximise")
        self.maximise_button.setCheckable(True)
        self.maximise_button.setToolTip("Give the inspector the room of the image panels and the metrics (click "
                                        "again to bring them back)")
        self.path_combos: dict[str, QtWidgets.QComboBox] = {}
        self.path_labels: dict[str, QtWidgets.QLabel] = {}
        top = QtWidgets.QHBoxLayout(self)
        top.setContentsMargins(0, 0, 0, 0)
        for w in (QtWidgets.QLabel("slow"), self.slow_spin, QtWidgets.QLabel("fast"), self.fast_spin,
                  self.inspect_button, self.max_button, self.maximise_button, self.own_window_button,
                  self.busy_label):
            top.addWidget(w)
        for key, label in PATH_DIMS:
            lab = QtWidgets.QLabel(label)
            combo = QtWidgets.QComboBox()
            combo.currentIndexChanged.connect(lambda *_: self.pathChanged.emit())
            lab.setVisible(False)
            combo.setVisible(False)
            self.path_combos[key], self.path_labels[key] = combo, lab
            top.addWidget(lab)
            top.addWidget(combo)
        top.addStretch(1)

    def set_pixel(self, slow: int, fast: int) -> None:
        self.slow_spin.setValue(slow)
        self.fast_spin.setValue(fast)

    def hide_paths(self) -> None:
        for key, combo in self.path_combos.items():
            combo.setVisible(False)
            self.path_labels[key].setVisible(False)

    def fill_paths(self, paths: list[PathKey]) -> None:
        """Offer the values of each path dimension in `paths`; a chooser shows only when it has several."""
        values = {
            "mos": sorted({p.mos for p in paths}), "src": sorted({p.src for p in paths}),
            "sub": sorted({(p.sub_s, p.sub_f) for p in paths}), "layer": sorted({p.layer for p in paths}),
        }
        for key, combo in self.path_combos.items():
            combo.blockSignals(True)
            combo.clear()
            for v in values[key]:
                combo.addItem(f"{v[0]},{v[1]}" if isinstance(v, tuple) else str(v), v)
            combo.blockSignals(False)
            several = len(values[key]) > 1
            combo.setVisible(several)
            self.path_labels[key].setVisible(several)

    def selected_path(self) -> PathKey:
        """The path the choosers name (a dimension without values: 0)."""
        def val(key, default):
            c = self.path_combos[key]
            return c.currentData() if c.count() else default
        sub = val("sub", (0, 0))
        return PathKey(layer=val("layer", 0), sub_s=sub[0], sub_f=sub[1], src=val("src", 0), mos=val("mos", 0))


def trace_paths(*traces: PixelTrace | None) -> list[PathKey]:
    """The distinct paths of the given traces, in first-seen order."""
    seen: dict[PathKey, None] = {}
    for tr in traces:
        if tr is not None:
            for p in tr.paths():
                seen.setdefault(p, None)
    return list(seen)


def path_for(trace: PixelTrace | None, path: PathKey | None) -> PathKey | None:
    """The selected path if this trace has it; else the trace's first path (golden traces carry only one)."""
    if trace is None or not trace.samples:
        return None
    return path if path in trace.paths() else trace.paths()[0]
