"""Which engine runs on each side: a picker per side (A, B) and named engine profiles kept in the settings.

A picker offers our C reference, the built-in PyTorch engine (float64, float32, and CUDA where torch sees a GPU),
any nanoBragg-compatible binary (`bin:PATH`) and any external command taking nanoBragg's flags (`cmd:COMMAND`),
plus the carry-over switch and thread count of that side. Its choice is an app.core.session.SideOptions (an ENGINE
spelling of app.engines.spec); a profile is such a choice under a name, stored by app.qt.settings.
"""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Signal, Slot

from app.core.session import SessionOptions, SideOptions
from app.qt.settings import AppSettings
from simulator.config import ConfigError

# (menu text, ENGINE spelling or its prefix); "bin:" and "cmd:" take the text of the line edit.
KINDS: tuple[tuple[str, str], ...] = (
    ("our C reference", "cref"),
    ("PyTorch float64", "torch:float64"),
    ("PyTorch float32", "torch:float32"),
    ("nanoBragg binary…", "bin:"),
    ("external command…", "cmd:"),
)
CUDA_KINDS: tuple[tuple[str, str], ...] = (("PyTorch float64 CUDA", "torch:float64:cuda"),
                                           ("PyTorch float32 CUDA", "torch:float32:cuda"))
CARRY = ((None, "engine default"), (True, "on"), (False, "off"))
NO_PROFILE = "(no profile)"


def engine_label(spec: str, c_binary: str | None = None) -> str:
    """The display name an ENGINE spelling will get (app.engines.registry), or the spelling when it cannot be
    made yet (a path being typed)."""
    try:
        from app.engines.registry import make_engine
        return make_engine(f"bin:{c_binary}" if spec == "cref" and c_binary else spec).identity.display_name
    except (ConfigError, OSError):
        return spec


def canonical_spec(spec: str) -> str:
    """The picker entry's data for a cref/torch spelling: `cref`, `torch:DTYPE` (CPU) or `torch:DTYPE:DEVICE`
    (`torch` and `torch:f32` name the float64 and float32 entries); ConfigError for anything else."""
    from app.engines.spec import parse_engine_spec

    parsed = parse_engine_spec(spec)
    if parsed.kind == "cref":
        return "cref"
    if parsed.kind != "torch":
        raise ConfigError(f"engine {spec!r}: expected cref or a torch spelling here")
    return f"torch:{parsed.dtype}" + ("" if parsed.device == "cpu" else f":{parsed.device}")


class EnginePicker(QtWidgets.QGroupBox):
    """One side's engine. Signal changed(): any control changed (the choice may not be valid yet)."""

    changed = Signal()
    profiles_changed = Signal()

    def __init__(self, side: str, settings: AppSettings, parent: QtWidgets.QWidget | None = None):
        super().__init__(f"Side {side.upper()}", parent)
        self.side = side
        self.settings = settings
        self.setObjectName(f"engine_picker_{side}")
        self.kind_combo = QtWidgets.QComboBox()
        kinds = KINDS + (CUDA_KINDS if _cuda_available() else ())
        for text, spec in kinds:
            self.kind_combo.addItem(text, spec)
        self.kind_combo.setToolTip("The engine of this side")
        self.text_edit = QtWidgets.QLineEdit()
        self.text_edit.setPlaceholderText("path of the binary, or the command (e.g. python -m nanobrag_torch)")
        self.browse = QtWidgets.QToolButton()
        self.browse.setText("…")
        self.browse.setToolTip("Choose a binary")
        self.carry_combo = QtWidgets.QComboBox()
        for value, text in CARRY:
            self.carry_combo.addItem(text, value)
        self.carry_combo.setToolTip("-phi0_carryover for this side (decisions D3: on for a C, off for PyTorch)")
        self.threads_spin = QtWidgets.QSpinBox()
        self.threads_spin.setRange(0, 256)
        self.threads_spin.setSpecialValueText("auto")
        self.threads_spin.setToolTip("Threads of this side; auto = all cores (1 for a foreign binary whose "
                                     "carry-over meets a φ tick at 0°, spec 8.3)")
        self.profile_combo = QtWidgets.QComboBox()
        self.profile_combo.setToolTip("Named engine profiles (kept in the settings)")
        self.save_button = QtWidgets.QToolButton()
        self.save_button.setText("Save…")
        self.save_button.setToolTip("Keep this side's engine, carry-over and threads as a named profile")

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.kind_combo)
        top.addWidget(self.text_edit, 1)
        top.addWidget(self.browse)
        bottom = QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("carry-over"), self.carry_combo, QtWidgets.QLabel("threads"), self.threads_spin,
                  QtWidgets.QLabel("profile"), self.profile_combo):
            bottom.addWidget(w)
        bottom.addWidget(self.save_button)
        bottom.addStretch(1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addLayout(bottom)

        self.refresh_profiles()
        self._sync_text()
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.text_edit.editingFinished.connect(self.changed)
        self.carry_combo.currentIndexChanged.connect(self.changed)
        self.threads_spin.valueChanged.connect(self.changed)
        self.profile_combo.activated.connect(self._on_profile)
        self.browse.clicked.connect(self._browse)
        self.save_button.clicked.connect(self._ask_profile_name)

    # ---- the choice ----------------------------------------------------------------------------------------------
    def spec(self) -> str:
        """The ENGINE spelling chosen (bin:/cmd: with the line edit's text)."""
        base = self.kind_combo.currentData()
        return base + self.text_edit.text().strip() if base in ("bin:", "cmd:") else base

    def side_options(self) -> SideOptions:
        """The side's app.core.session.SideOptions; ConfigError names what is wrong with the spelling."""
        from app.engines.spec import parse_engine_spec
        parse_engine_spec(self.spec())
        return SideOptions(self.spec(), self.carry_combo.currentData(), self.threads_spin.value() or None)

    def set_side_options(self, opts: SideOptions) -> None:
        """Show `opts`. Every ENGINE spelling selects its own entry: `torch` is the float64 entry, and a torch
        spelling without an entry (a device this machine lacks, `mps`, `cuda:1`) gets one. ConfigError for a
        spelling that is none of app.engines.spec's (nothing changes then).

        Matching by the canonical spelling, not by the text: the old loop left the previous entry selected when
        nothing matched exactly (`torch` is no entry's data), so after a `cmd:PATH` side, `--b torch` kept
        "external command" and cut four characters off the spelling ("h"), which was then saved."""
        spec = opts.engine.strip()
        if spec.startswith(("bin:", "cmd:")):
            data, text = spec[:4], spec[4:]   # possibly empty: a path or command still to be typed
        else:
            data, text = canonical_spec(spec), ""
        index = self.kind_combo.findData(data)
        if index < 0:  # a valid torch spelling this machine offers no entry for
            self.kind_combo.addItem(f"PyTorch {data[len('torch:'):].replace(':', ' ')}", data)
            index = self.kind_combo.count() - 1
        carry = opts.carryover if any(opts.carryover is v for v, _t in CARRY) else None
        with QtCore.QSignalBlocker(self.kind_combo):
            self.kind_combo.setCurrentIndex(index)
            self.text_edit.setText(text)
        self._sync_text()
        self.carry_combo.setCurrentIndex([v for v, _t in CARRY].index(carry))
        self.threads_spin.setValue(opts.threads if isinstance(opts.threads, int) else 0)
        self.changed.emit()

    @Slot(int)
    def _on_kind(self, _index: int) -> None:
        self._sync_text()
        self.changed.emit()

    def _sync_text(self) -> None:
        base = self.kind_combo.currentData()
        self.text_edit.setEnabled(base in ("bin:", "cmd:"))
        self.browse.setEnabled(base == "bin:")

    @Slot()
    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, f"Binary for side {self.side.upper()}",
                                                        self.settings.last_dir("binaries"))
        if path:
            self.settings.set_last_dir("binaries", str(QtCore.QFileInfo(path).absolutePath()))
            self.text_edit.setText(path)
            self.changed.emit()

    # ---- profiles ------------------------------------------------------------------------------------------------
    def refresh_profiles(self) -> None:
        with QtCore.QSignalBlocker(self.profile_combo):
            self.profile_combo.clear()
            self.profile_combo.addItem(NO_PROFILE)
            for name in sorted(self.settings.engine_profiles()):
                self.profile_combo.addItem(name)

    def save_profile(self, name: str) -> None:
        """Keep this side's choice as profile `name` (replacing one of that name); ConfigError when invalid."""
        name = name.strip()
        if not name or name == NO_PROFILE:
            raise ConfigError("a profile needs a name")
        opts = self.side_options()
        self.settings.set_engine_profile(name, {"engine": opts.engine, "carryover": opts.carryover,
                                                "threads": opts.threads})

    def apply_profile(self, name: str) -> bool:
        """Choose the engine of profile `name`; False when there is no such profile."""
        p = self.settings.engine_profiles().get(name)
        if p is None:
            return False
        self.set_side_options(SideOptions(str(p.get("engine", "cref")), p.get("carryover"), p.get("threads")))
        self.profile_combo.setCurrentText(name)
        return True

    @Slot(int)
    def _on_profile(self, _index: int) -> None:
        if self.profile_combo.currentText() != NO_PROFILE:
            self.apply_profile(self.profile_combo.currentText())

    @Slot()
    def _ask_profile_name(self) -> None:
        name, ok = QtWidgets.QInputDialog.getText(self, "Engine profile", "Name of the profile:")
        if ok and name.strip():
            try:
                self.save_profile(name)
            except ConfigError as exc:
                QtWidgets.QMessageBox.warning(self, "Engine profile", f"Not saved: {exc}")
                return
            self.profiles_changed.emit()


class EnginesBox(QtWidgets.QWidget):
    """The pickers of sides A and B, side by side. Signal changed(): either side changed."""

    changed = Signal()

    def __init__(self, settings: AppSettings, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.pickers = {"a": EnginePicker("a", settings, self), "b": EnginePicker("b", settings, self)}
        self.pickers["b"].set_side_options(SideOptions("torch:float64"))
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for p in self.pickers.values():
            lay.addWidget(p, 1)
            p.changed.connect(self.changed)
            p.profiles_changed.connect(self.refresh_profiles)

    @Slot()
    def refresh_profiles(self) -> None:
        for p in self.pickers.values():
            p.refresh_profiles()

    def session_options(self) -> SessionOptions:
        """Both sides as app.core.session.SessionOptions; ConfigError names the side and what is wrong."""
        sides = {}
        for key, p in self.pickers.items():
            try:
                sides[key] = p.side_options()
            except ConfigError as exc:
                raise ConfigError(f"side {key.upper()}: {exc}") from None
        return SessionOptions(sides["a"], sides["b"])

    def set_session_options(self, opts: SessionOptions) -> None:
        self.pickers["a"].set_side_options(opts.a)
        self.pickers["b"].set_side_options(opts.b)

    def set_c_binary(self, path: str | None) -> None:
        """The --c-bin / NB_C_BIN shortcut: side A runs `bin:PATH` (None: our C reference)."""
        self.pickers["a"].set_side_options(SideOptions(f"bin:{path}" if path else "cref"))

    def c_binary(self) -> str:
        """The binary of side A when it is a `bin:` engine, else ''."""
        spec = self.pickers["a"].spec()
        return spec[4:] if spec.startswith("bin:") else ""

    def restore(self) -> None:
        """The sides chosen at the last close (settings), else A = our C reference, B = PyTorch float64."""
        for key, p in self.pickers.items():
            saved = self.settings.engine_side(key)
            if saved:
                p.set_side_options(SideOptions(str(saved.get("engine", "cref")), saved.get("carryover"),
                                               saved.get("threads")))

    def save(self) -> None:
        for key, p in self.pickers.items():
            try:
                o = p.side_options()
            except ConfigError:
                continue  # a half-typed path is not worth keeping
            self.settings.set_engine_side(key, {"engine": o.engine, "carryover": o.carryover, "threads": o.threads})


def _cuda_available() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - torch missing or broken: CPU entries only
        return False
