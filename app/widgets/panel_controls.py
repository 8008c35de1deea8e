"""The controls of the three image panels (scale, colours, auto-contrast, levels, difference mode, tolerance,
per-side sharing, compare mode), their layout above the panels, their connections, and the view settings they
save and restore (app.qt.settings.ViewSettings)."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from app.core import compare_modes
from app.core import difference as diffmod
from app.widgets.colour_bar import IMAGE_COLORMAPS
from app.core.scaling import DEFAULT_PERCENTILE, SCALES
from tracing.metrics import ParityThresholds


class PanelsControlsMixin:
    """Controls for app.widgets.image_panels.ImagePanels (needs its panels, colour bars, tolerance and slots)."""

    def _build_controls(self) -> None:
        """The scaling, colour-map, level, difference-mode, sharing and compare controls above the panels, and
        the grid of the three panels and two colour bars (self.grid)."""
        # Controls.
        self.scale_combo = QtWidgets.QComboBox()
        self.scale_combo.addItems(list(SCALES))
        self.scale_combo.setToolTip("Colour scale for the A and B images (readouts stay raw)")
        self.cmap_combo = QtWidgets.QComboBox()
        self.cmap_combo.addItems(list(IMAGE_COLORMAPS))
        self.percentile_spin = QtWidgets.QDoubleSpinBox()
        self.percentile_spin.setRange(50.0, 100.0)
        self.percentile_spin.setDecimals(2)
        self.percentile_spin.setSingleStep(0.1)
        self.percentile_spin.setValue(DEFAULT_PERCENTILE)
        self.percentile_spin.setSuffix(" %")
        self.percentile_spin.setToolTip("Auto-contrast: the top of the colour scale is this percentile of both images")
        self.auto_button = QtWidgets.QPushButton("Auto")
        self.auto_button.setToolTip("Reset the levels to the auto-contrast percentile")
        self.low_edit = QtWidgets.QLineEdit()
        self.high_edit = QtWidgets.QLineEdit()
        for e, tip in ((self.low_edit, "Lower level (photons)"), (self.high_edit, "Upper level (photons)")):
            e.setValidator(QtGui.QDoubleValidator())
            e.setMaximumWidth(90)
            e.setToolTip(tip + "; press Enter to apply")
        self.mode_combo = QtWidgets.QComboBox()
        for key, text in diffmod.MODES.items():
            self.mode_combo.addItem(text, key)
        self.overlay_check = QtWidgets.QCheckBox("Highlight beyond tol.")
        self.rtol_edit = QtWidgets.QLineEdit(f"{self.tolerance.rtol:g}")
        self.rtol_edit.setValidator(QtGui.QDoubleValidator(0.0, 1e6, 12))
        self.rtol_edit.setMaximumWidth(70)
        self.rtol_edit.setToolTip("Relative tolerance, the metrics' rule: beyond when |B−A| > rtol·|A| (bright "
                                  f"pixels, |A| ≥ {ParityThresholds().rel_floor:g}·max) or > rtol·max|A| (dim pixels)")
        self.beyond_label = QtWidgets.QLabel("")
        self.sharing_combo = QtWidgets.QComboBox()
        for key, text in compare_modes.SHARINGS.items():
            self.sharing_combo.addItem(text, key)
        self.sharing_combo.setToolTip("One colour scale for A and B, or one per side (auto: shared while both "
                                      "sides' upper levels are within 10× of each other)")
        self.b_sum_check = QtWidgets.QCheckBox("B × (A's sum)")
        self.b_sum_check.setToolTip("Show B multiplied by sum(A)/sum(B), for the eye only: metrics, difference "
                                    "and readouts keep the raw values; B's panel names the factor")
        from app.widgets.compare_view import CompareView  # the compare modes draw into the third panel
        from app.widgets.marks_view import ReflectionMarks
        from app.widgets.profile_view import ProfileController
        self.compare = CompareView(self)
        self.profile = ProfileController(self)
        self.marks = ReflectionMarks(self)
        self.compare_combo = QtWidgets.QComboBox()
        for key, text in compare_modes.MODES.items():
            self.compare_combo.addItem(f"{text} ({compare_modes.KEYS[key]})", key)
        self.compare_combo.setCurrentIndex(self.compare_combo.findData(self.compare.mode()))
        self.compare_combo.setToolTip("Compare mode (single keys on an image: S side by side, D difference, W/H "
                                      "swipe with a vertical/horizontal split line, O overlay)")

        # Controls sit above the columns they act on: scaling over A + B, modes over the difference.
        img_row1, img_row2 = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("Scale"), self.scale_combo, QtWidgets.QLabel("Colours"), self.cmap_combo,
                  QtWidgets.QLabel("Auto-contrast"), self.percentile_spin, self.auto_button):
            img_row1.addWidget(w)
        img_row1.addStretch(1)
        for w in (QtWidgets.QLabel("Levels (photons)"), self.low_edit, QtWidgets.QLabel("–"), self.high_edit,
                  self.sharing_combo, self.b_sum_check):
            img_row2.addWidget(w)
        img_row2.addStretch(1)
        diff_row1, diff_row2 = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for w in (self.compare_combo, self.mode_combo):
            diff_row1.addWidget(w)
        diff_row1.addStretch(1)
        self.rtol_label = QtWidgets.QLabel("rtol")
        # The difference's own controls: shown in the difference mode only (app.widgets.compare_view).
        self.diff_controls = (self.mode_combo, self.overlay_check, self.rtol_label, self.rtol_edit, self.beyond_label)
        for w in (self.overlay_check, self.rtol_label, self.rtol_edit, self.beyond_label):
            diff_row2.addWidget(w)
        diff_row2.addWidget(self.compare.blend_label)   # the overlay's (the difference controls are hidden then)
        diff_row2.addWidget(self.compare.blend_slider)
        diff_row2.addSpacing(8)
        diff_row2.addWidget(QtWidgets.QLabel("Rings"))
        diff_row2.addWidget(self.marks.d_edit)
        diff_row2.addStretch(1)

        # One grid: the three panels take equal stretch and both colour bars the same fixed width, so the linked
        # views show the same range in every panel.
        grid = QtWidgets.QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(2)
        grid.addLayout(img_row1, 0, 0, 1, 3)
        grid.addLayout(img_row2, 1, 0, 1, 3)
        grid.addLayout(diff_row1, 0, 3, 1, 2)
        grid.addLayout(diff_row2, 1, 3, 1, 2)
        grid.addWidget(self.panel_a, 2, 0)
        grid.addWidget(self.panel_b, 2, 1)
        grid.addWidget(self.image_bar, 2, 2)
        grid.addWidget(self.diff_panel, 2, 3)
        grid.addWidget(self.diff_bar, 2, 4)
        for col in (0, 1, 3):
            grid.setColumnStretch(col, 1)
        self.grid = grid  # the compare view gives the third column's room to A and B when side by side
        grid.setRowStretch(2, 1)


    def _connect_controls(self) -> None:
        """Panels' cursor, clicks and right clicks, and every control, to their slots."""

        for p in self.panels:
            p.cursorMoved.connect(self._on_cursor)
            p.cursorLeft.connect(self._on_cursor_left)
            p.pixelClicked.connect(self.pixelClicked)
            p.contextRequested.connect(self._on_context)
        self.scale_combo.currentTextChanged.connect(self._on_scale_changed)
        self.cmap_combo.currentTextChanged.connect(self.set_colormap)
        self.percentile_spin.valueChanged.connect(self.auto_levels)
        self.auto_button.clicked.connect(self.auto_levels)
        self.low_edit.editingFinished.connect(self._on_manual_levels)
        self.high_edit.editingFinished.connect(self._on_manual_levels)
        self.image_bar.bar.sigLevelsChangeFinished.connect(self._on_bar_levels)
        self.mode_combo.currentIndexChanged.connect(self.refresh_difference)
        self.mode_combo.currentIndexChanged.connect(self._sync_mode_actions)
        self.overlay_check.toggled.connect(self.refresh_difference)
        self.rtol_edit.editingFinished.connect(self._on_rtol)
        self.sharing_combo.currentIndexChanged.connect(self._on_sharing_changed)
        self.b_sum_check.toggled.connect(self._on_sharing_changed)
        self.compare_combo.currentIndexChanged.connect(
            lambda _i: self.compare.set_mode(self.compare_combo.currentData()))
        self.compare.modeChanged.connect(self._on_compare_mode)

    def view_settings(self):
        """The view's choices as app.qt.settings.ViewSettings."""
        from app.qt.settings import ViewSettings
        return ViewSettings(scale=self.scale, colormap=self.colormap(), percentile=self.percentile_spin.value(),
                            diff_mode=self.mode(), rtol=self.tolerance.rtol, overlay=self.overlay_check.isChecked())

    def apply_view_settings(self, vs) -> None:
        """Show app.qt.settings.ViewSettings' choices (unknown colour maps keep the current one)."""
        self.set_scale(vs.scale)
        if self.cmap_combo.findText(vs.colormap) >= 0:
            self.set_colormap(vs.colormap)
        self.percentile_spin.setValue(vs.percentile)
        self.set_mode(vs.diff_mode)
        self.rtol_edit.setText(f"{vs.rtol:g}")
        self.tolerance = diffmod.Tolerance(rtol=vs.rtol, floor_frac=self.tolerance.floor_frac)
        self.overlay_check.setChecked(vs.overlay)

    def settings_changed_signals(self) -> list:
        """Signals after which the view's choices should be saved."""
        return [self.scale_combo.currentTextChanged, self.cmap_combo.currentTextChanged,
                self.percentile_spin.valueChanged, self.mode_combo.currentIndexChanged,
                self.rtol_edit.editingFinished, self.overlay_check.toggled, self.compare.modeChanged,
                self.sharing_combo.currentIndexChanged]
