"""Status-bar pieces: one progress bar per engine, and the cursor readout line."""
from __future__ import annotations

import math

from PySide6 import QtWidgets

from app.core.pixel_geometry import PixelGeometry
from app.widgets.metrics_panel import esc


class EngineBar(QtWidgets.QWidget):
    """Label + progress bar for one engine; `set_name` follows the engine picker."""

    def __init__(self, name: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self._state = "idle"
        self.label = QtWidgets.QLabel(f"{name}: idle")
        self.label.setFixedWidth(300)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setFormat("%p%")
        self.bar.setFixedWidth(110)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Fixed, QtWidgets.QSizePolicy.Policy.Fixed)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 12, 0)  # a gap before the next engine's name
        lay.addWidget(self.label)
        lay.addWidget(self.bar)

    def set_name(self, name: str) -> None:
        self.name = name
        self.set_state(self._state)

    def set_state(self, text: str, fraction: float | None = None) -> None:
        self._state = text
        self.label.setText(f"{self.name}: {text}")
        self.label.setToolTip(self.label.text())
        if fraction is not None:
            self.bar.setValue(int(round(fraction * 1000)))


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.6g}"


def readout_text(slow: int, fast: int, values: tuple[float | None, float | None], names: tuple[str, str],
                 geometry: PixelGeometry | None, inspection=None) -> str:
    """The status-bar line for pixel (slow, fast): both raw values (named after the engines), Δ = A − B, relative
    Δ, 2θ and d, and h, k, l at tick 0 when the pixel has been traced (app.core.records.PixelInspection)."""
    a, b = values
    parts = [f"<b>(slow {slow}, fast {fast})</b>", f"{esc(names[0])} {_num(a)}", f"{esc(names[1])} {_num(b)}"]
    if a is not None and b is not None:
        d = a - b
        parts.append(f"Δ {_num(d)}")
        parts.append(f"rel Δ {_num(d / abs(a)) if a != 0 else ('0' if d == 0 else '∞')}")
    if geometry is not None:
        tt, dd = geometry.two_theta_d(slow, fast)
        parts.append(f"2θ {tt:.3f}°")
        parts.append(f"d {dd:.3f} Å" if math.isfinite(dd) else "d ∞")
    if inspection is not None:
        tr = inspection.trace_b if inspection.trace_b is not None and inspection.trace_b.samples \
            else inspection.trace_a
        if tr is not None and tr.samples:
            s0 = tr.series()[0]
            hkl = [s0.get(k) for k in ("h_frac", "k_frac", "l_frac")]
            parts.append("hkl(tick 0) " + " ".join("?" if v is None else f"{v:.3f}" for v in hkl))
    else:
        parts.append("<span style='color:#777'>click to trace h,k,l</span>")
    return " &nbsp;·&nbsp; ".join(parts)


def run_started_text(names: tuple[str, str], parallel: bool, shape: tuple[int, int], warnings: list[str]) -> str:
    """'Running A and B (one after the other) on S x F pixels…', with the first warning of the command line."""
    warn = f" ({len(warnings)} warning(s): {warnings[0]})" if warnings else ""
    order = "at once" if parallel else "one after the other"
    return f"Running {names[0]} and {names[1]} ({order}) on {shape[0]} x {shape[1]} pixels…{warn}"


def run_finished_text(names: tuple[str, str], outcomes: list, n_warnings: int) -> str:
    """'Run finished: A ok; B failed: …' (app.core.records.EngineOutcome per side, None when not run)."""
    parts = [f"{name} {'ok' if o.ok else ('cancelled' if o.cancelled else 'failed: ' + str(o.error))}"
             for name, o in zip(names, outcomes, strict=True) if o is not None]
    both = all(o is not None and o.ok for o in outcomes)
    warn = f" The command line has {n_warnings} warning(s) (ignored flags?): see the editor." if n_warnings else ""
    return "Run finished: " + "; ".join(parts) + (". Click a pixel to trace it." if both else ".") + warn
