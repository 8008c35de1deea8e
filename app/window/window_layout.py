"""The window's layout: parameter dock, image panels over metrics and inspector, and the readout line."""
from __future__ import annotations

from PySide6 import QtWidgets
from PySide6.QtCore import Qt

from app.widgets import profile_view


def build_layout(win) -> None:
    """The parameter dock (left), the three panels over the metrics and the inspector, the readout line."""
    dock = QtWidgets.QDockWidget("Parameters", win)
    dock.setObjectName("params_dock")
    dock.setWidget(win.editor)
    dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    win.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    win.params_dock = dock
    bottom = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
    metrics_scroll = QtWidgets.QScrollArea()
    metrics_scroll.setWidgetResizable(True)
    metrics_scroll.setWidget(win.metrics_panel)
    # Vertical scrolling only: the long values wrap to the panel's width instead of running off its edge.
    metrics_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    metrics_scroll.setMinimumWidth(250)
    bottom.addWidget(metrics_scroll)
    bottom.addWidget(win.inspector)
    bottom.setStretchFactor(0, 0)
    bottom.setStretchFactor(1, 1)
    bottom.setSizes([270, 1000])
    win.splitter = QtWidgets.QSplitter(Qt.Orientation.Vertical)
    win.splitter.addWidget(win.panels)
    win.splitter.addWidget(bottom)
    win.splitter.setSizes([390, 530])
    # Splitter handles that can be seen and grabbed (the default 1-2 px line was nearly invisible).
    for sp in (win.splitter, bottom):
        sp.setHandleWidth(7)
        sp.setStyleSheet("QSplitter::handle { background: #c9ced6; } QSplitter::handle:hover { background: #8fa3c0; }")
        sp.setChildrenCollapsible(False)
    central = QtWidgets.QWidget()
    col = QtWidgets.QVBoxLayout(central)
    col.setContentsMargins(2, 2, 2, 0)
    col.setSpacing(2)
    col.addWidget(win.engines)  # the engine of each side, above the panels that show them
    col.addWidget(win.splitter, 1)
    win.setCentralWidget(central)
    win.readout = QtWidgets.QLabel("")
    win.readout.setObjectName("readout")
    win.readout.setTextFormat(Qt.TextFormat.RichText)
    # A long readout must never widen the window: it is clipped instead.
    win.readout.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
    win.readout.setMinimumWidth(200)
    win.statusBar().addPermanentWidget(win.readout, 1)
    profile_view.install(win)  # the line-profile dock, shown once a profile is drawn
    win.resize(1500, 950)
