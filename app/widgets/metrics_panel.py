"""The comparison numbers of a run (tracing.metrics.ImageMetrics and the verdict), named after both engines.

The max |Δ| pixel is a button that asks for a jump there (and a trace of it).
"""
from __future__ import annotations

import html

from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt, Slot
from tracing.metrics import ParityThresholds


def esc(text: str) -> str:
    """Text made safe for a rich-text label (every widget's one escape)."""
    return html.escape(text, quote=False)


class MetricsPanel(QtWidgets.QGroupBox):
    """The image comparison numbers; the max |Δ| pixel is a button that jumps there and traces it."""

    jumpRequested = QtCore.Signal(int, int)

    ROWS = (("correlation", "correlation"), ("rms", "RMS Δ (photons)"),
            ("max_abs", "max |Δ| (photons)"), ("sum_ratio", "sum B / A"),
            ("max_rel", "max rel. error"), ("beyond", "beyond tolerance"),
            ("peaks", "peak match"), ("times", "time A / B"), ("verdict", "verdict"))
    TIPS = {"rms": "root mean square of A − B over all pixels", "max_rel": "largest |Δ|/|A| over bright "
            f"pixels (|A| ≥ {ParityThresholds().rel_floor:g}·max)",
            "beyond": "pixels with |Δ| > rtol·|A| (bright) or rtol·max|A| (dim)",
            "peaks": "3×3 local maxima above the 99.5th percentile, top 25, matched within 1 px",
            "verdict": "parity thresholds of app.core.session.ParityThresholds"}

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("Comparison", parent)
        form = QtWidgets.QFormLayout(self)
        # Who A and B are, in full, on rows of their own: the rows below keep short labels ("sum B / A").
        self.sides_label = QtWidgets.QLabel("A: —<br>B: —")
        self.sides_label.setWordWrap(True)
        self.sides_label.setTextFormat(Qt.TextFormat.RichText)
        form.addRow(self.sides_label)
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
        self.names = ("A", "B")

    def set_names(self, a: str, b: str) -> None:
        """Name sides A and B after their engines (display names): the panel's first rows say who is who."""
        self.names = (a, b)
        self.sides_label.setText(f"<b>A</b>: {esc(a)}<br><b>B</b>: {esc(b)}")
        self.sides_label.setToolTip(f"A = {a}\nB = {b}")

    def clear(self) -> None:
        self.identical = False
        for v in self.values.values():
            v.setText("—")
        self.jump_button.setText("")
        self.jump_button.setEnabled(False)
        self._max_pixel = None

    def set_times(self, time_a: float | str | None, time_b: float | str | None) -> None:
        """Run times in seconds; a string (e.g. "loaded" for a side read from a file) is shown as it is."""
        def fmt(t) -> str:
            return "—" if t is None else t if isinstance(t, str) else f"{t:.2f} s"
        parts = [fmt(time_a), fmt(time_b)]
        timed = all(isinstance(t, float | int) and t for t in (time_a, time_b))
        ratio = f" (ratio {time_a / time_b:.2f})" if timed else ""
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
            self.values["peaks"].setText(f"{len(pk.pairs)} of {len(pk.peaks_a)} {esc(self.names[0])} peaks matched "
                                         f"({pk.fraction_matched:.0%}), mean distance {pk.mean_distance:.2f} px")
        else:
            self.values["peaks"].setText(f"no peaks found in the {esc(self.names[0])} image")
        if verdict is not None:
            color = "#2ca02c" if verdict.passed else "#d62728"
            self.values["verdict"].setText(f"<span style='color:{color}'>{esc(verdict.sentence())}</span>")
        else:
            self.values["verdict"].setText("—")

    def set_verdict(self, verdict) -> None:
        """Show a newer verdict of the same metrics (issue 21: the one that names the cause)."""
        if verdict is not None:
            color = "#2ca02c" if verdict.passed else "#d62728"
            self.values["verdict"].setText(f"<span style='color:{color}'>{esc(verdict.sentence())}</span>")

    def set_auto_trace_note(self, text: str) -> None:
        """A line under the verdict while the worst pixels are traced ("" hides it)."""
        self.values["verdict"].setToolTip(text or self.TIPS["verdict"])
        note = getattr(self, "_auto_note", None)
        if note is None:
            note = self._auto_note = QtWidgets.QLabel("")
            note.setWordWrap(True)
            note.setStyleSheet("color: #777")
            self.layout().addRow(note)
        note.setText(esc(text))
        note.setVisible(bool(text))

    def max_pixel(self) -> tuple[int, int] | None:
        return self._max_pixel

    @Slot()
    def _jump(self) -> None:
        if self._max_pixel is not None:
            self.jumpRequested.emit(*self._max_pixel)
