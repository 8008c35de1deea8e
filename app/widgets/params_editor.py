"""The command-line editor: a nanoBragg argv text, validated as you type, kept in sync with a form.

- The text is the truth. The form shows the common parameters parsed from it; editing a form field rewrites only
  the tokens of that flag in place (other flags, their order and the user's spacing elsewhere are kept).
- Validation runs 300 ms after the last keystroke (simulator.argv.diagnose_argv): errors get a red wave underline,
  warnings (unknown flags, which the C ignores) an orange one; hovering a mark shows its reason, and the message
  line under the editor lists them all.
- Per-engine options (C binary, threads, carry-over; torch dtype, device, carry-over) build
  app.core.session.EngineOptions.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

from simulator.argv import (
    KNOWN_FLAGS,
    Diagnostic,
    diagnose_argv,
    format_value,
    is_flag_token,
    parse_argv,
    strip_program,
    tokenize,
)
from simulator.config import ConfigError, NanoBraggConfig
from app.widgets.metrics_panel import esc

DEBOUNCE_MS = 300
CONVENTION_FLAGS: dict[str, str] = {"MOSFLM": "-mosflm", "XDS": "-xds", "DIALS": "-dials", "ADXV": "-adxv",
                                    "DENZO": "-denzo"}


def _fmt(x: float) -> str:
    """Shortest text that reads back as x (integers without a decimal point)."""
    return format_value(int(x) if float(x).is_integer() and abs(x) < 1e15 else float(x))


@dataclass
class TokenSpan:
    text: str
    start: int
    end: int


def spans_of(text: str) -> list[TokenSpan]:
    return [TokenSpan(t, s, e) for t, s, e in tokenize(text)]


def text_to_argv(text: str) -> list[str]:
    """The argv of a pasted command text (program name dropped, backslash continuations ignored)."""
    return strip_program([t for t, _, _ in tokenize(text)])


def replace_flags(text: str, aliases: tuple[str, ...], new_tokens: list[str]) -> str:
    """Remove every occurrence of the flags in `aliases` (with their value tokens) and put `new_tokens` where the
    first one was (or at the end). A flag's values are the following tokens that are not flags; quoting of the
    remaining text is untouched."""
    spans = spans_of(text)
    cuts: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        if spans[i].text in aliases:
            j = i + 1
            while j < len(spans) and not is_flag_token(spans[j].text):
                j += 1
            cuts.append((spans[i].start, spans[j - 1].end))
            i = j
        else:
            i += 1
    insert = " ".join(_quote(t) for t in new_tokens)
    if not cuts:
        if not insert:
            return text
        sep = "" if not text or text[-1].isspace() else " "
        return text + sep + insert
    out, pos = [], 0
    for k, (a, b) in enumerate(cuts):
        out.append(text[pos:a])
        if k == 0:
            out.append(insert)
        pos = b
        # Swallow one following space for a removed (not replaced) occurrence, so blanks do not pile up.
        if (k > 0 or not insert) and pos < len(text) and text[pos] == " ":
            pos += 1
    out.append(text[pos:])
    return "".join(out)


def _quote(tok: str) -> str:
    return f'"{tok}"' if (" " in tok or not tok) else tok


class ArgvEdit(QtWidgets.QPlainTextEdit):
    """QPlainTextEdit that shows the diagnostic under the mouse as a tooltip."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.diagnostics: list[Diagnostic] = []

    def diagnostic_at(self, pos: int) -> Diagnostic | None:
        for d in self.diagnostics:
            if d.start >= 0 and d.start <= pos < max(d.end, d.start + 1):
                return d
        return None

    def event(self, e: QtCore.QEvent) -> bool:
        if e.type() == QtCore.QEvent.Type.ToolTip:
            he: QtGui.QHelpEvent = e  # type: ignore[assignment]
            vp = self.viewport().mapFromGlobal(he.globalPos())
            d = self.diagnostic_at(self.cursorForPosition(vp).position())
            if d is not None:
                QtWidgets.QToolTip.showText(he.globalPos(), f"{d.severity}: {d.message}", self)
            else:
                QtWidgets.QToolTip.hideText()
                e.ignore()
            return True
        return super().event(e)


class _NumField(QtWidgets.QLineEdit):
    """A number field that may be blank (= the flag is absent, the engine's default applies)."""

    def __init__(self, placeholder: str = "default", width: int = 70):
        super().__init__()
        self.setPlaceholderText(placeholder)
        self.setMaximumWidth(width)
        v = QtGui.QDoubleValidator()
        v.setNotation(QtGui.QDoubleValidator.Notation.ScientificNotation)
        self.setValidator(v)

    def set_value(self, value: float | int | None) -> None:
        self.setText("" if value is None else _fmt(value))
        self.setCursorPosition(0)  # a long number shows its leading digits, not its tail

    def value(self) -> float | None:
        t = self.text().strip()
        if not t:
            return None
        try:
            return float(t)
        except ValueError:
            return None


class ParamsEditor(QtWidgets.QWidget):
    """Command-line text + form + engine options.

    Signals:
        validityChanged(bool)  False while the text has an error (Run should refuse)
        runRequested()         Ctrl+Enter in the editor
    """

    validityChanged = Signal(bool)
    runRequested = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None, last_dir_getter=None, last_dir_setter=None):
        super().__init__(parent)
        self._syncing = False
        self._valid = False
        self.config: NanoBraggConfig | None = None
        self.diagnostics: list[Diagnostic] = []
        self._last_dir = last_dir_getter or (lambda: "")
        self._set_last_dir = last_dir_setter or (lambda _d: None)

        self.edit = ArgvEdit()
        self.edit.setObjectName("argv_edit")
        self.edit.setPlaceholderText("Paste a nanoBragg command line, e.g.\n-hkl P1.hkl -cell 100 100 100 90 90 90 "
                                     "-N 5 -lambda 1 -distance 100 -detpixels 512")
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.edit.setFont(font)
        self.edit.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.edit.setMinimumHeight(90)
        self.message = QtWidgets.QLabel("")
        self.message.setObjectName("argv_message")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.validate_now)
        self.edit.textChanged.connect(self._timer.start)
        QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Return"), self.edit, activated=self.runRequested.emit)

        form_box = QtWidgets.QGroupBox("Common parameters")
        form_box.setToolTip("Edit here or in the command line: each follows the other")
        form = QtWidgets.QFormLayout(form_box)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # Crystal.
        self.cell_fields = [_NumField(p, 60) for p in ("a Å", "b Å", "c Å", "α°", "β°", "γ°")]
        cell_grid = QtWidgets.QGridLayout()
        for i, f in enumerate(self.cell_fields):
            cell_grid.addWidget(f, i // 3, i % 3)
        form.addRow("cell (Å, °)", cell_grid)
        self.mat_edit, mat_row = self._file_row("A matrix file (-mat)")
        form.addRow("or -mat", mat_row)
        self.hkl_edit, hkl_row = self._file_row("structure factors (-hkl)")
        form.addRow("-hkl file", hkl_row)
        self.n_fields = [_NumField(p, 60) for p in ("Na", "Nb", "Nc")]
        n_row = QtWidgets.QHBoxLayout()
        for f in self.n_fields:
            n_row.addWidget(f)
        n_row.addStretch(1)
        form.addRow("N (cells)", n_row)
        # Beam and detector.
        self.lambda_field = _NumField("1 Å")
        form.addRow("λ (Å)", self.lambda_field)
        self.distance_field = _NumField("100 mm")
        form.addRow("distance (mm)", self.distance_field)
        self.pixel_field = _NumField("0.1 mm")
        form.addRow("pixel size (mm)", self.pixel_field)
        self.fpix_field, self.spix_field = _NumField("fast", 60), _NumField("slow", 60)
        pix_row = QtWidgets.QHBoxLayout()
        pix_row.addWidget(self.fpix_field)
        pix_row.addWidget(QtWidgets.QLabel("fast ×"))
        pix_row.addWidget(self.spix_field)
        pix_row.addWidget(QtWidgets.QLabel("slow"))
        pix_row.addStretch(1)
        form.addRow("pixels", pix_row)
        self.xbeam_field, self.ybeam_field = _NumField("centre", 85), _NumField("centre", 85)
        beam_row = QtWidgets.QHBoxLayout()
        for lab, f in (("X", self.xbeam_field), ("Y", self.ybeam_field)):
            beam_row.addWidget(QtWidgets.QLabel(lab))
            beam_row.addWidget(f)
        beam_row.addStretch(1)
        form.addRow("beam centre (mm)", beam_row)
        self.convention_combo = QtWidgets.QComboBox()
        self.convention_combo.addItems(list(CONVENTION_FLAGS) + ["CUSTOM"])
        self.convention_combo.setToolTip("CUSTOM is set by giving detector vectors (-fdet_vector etc.)")
        form.addRow("convention", self.convention_combo)
        self.phi_field, self.osc_field, self.phisteps_field = (_NumField("0", 50), _NumField("auto", 50),
                                                               _NumField("auto", 50))
        phi_row = QtWidgets.QHBoxLayout()
        for lab, f in (("φ0°", self.phi_field), ("osc°", self.osc_field), ("n", self.phisteps_field)):
            phi_row.addWidget(QtWidgets.QLabel(lab))
            phi_row.addWidget(f)
        phi_row.addStretch(1)
        form.addRow("φ (spindle)", phi_row)
        self.phisteps_field.setToolTip("-phisteps: number of φ ticks")
        self.mosaic_field, self.mosdom_field = _NumField("0°", 55), _NumField("auto", 55)
        mos_row = QtWidgets.QHBoxLayout()
        for lab, f in (("spread°", self.mosaic_field), ("domains", self.mosdom_field)):
            mos_row.addWidget(QtWidgets.QLabel(lab))
            mos_row.addWidget(f)
        mos_row.addStretch(1)
        form.addRow("mosaic", mos_row)
        self.oversample_field = _NumField("auto")
        form.addRow("oversample", self.oversample_field)

        inner = QtWidgets.QWidget()
        il = QtWidgets.QVBoxLayout(inner)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(form_box)
        il.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        # The form scrolls vertically only: the dock may not get narrower than the form (with room for the vertical
        # scroll bar), so nothing at its right edge (the "…" buttons) is ever cut off.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(inner.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 2)
        self.form_scroll = scroll

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(QtWidgets.QLabel("<b>nanoBragg command line</b> (Ctrl+Enter runs)"))
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.message)
        layout.addWidget(scroll, 2)

        self._connect_form()

    # ---- building helpers ------------------------------------------------------------------------------------------
    def _file_row(self, placeholder: str, binary: bool = False) -> tuple[QtWidgets.QLineEdit, QtWidgets.QHBoxLayout]:
        edit = QtWidgets.QLineEdit()
        edit.setPlaceholderText(placeholder)
        button = QtWidgets.QToolButton()
        button.setText("…")
        button.setToolTip("Choose a file")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        button.clicked.connect(lambda: self._pick_file(edit, binary))  # GUI-thread signal: a lambda is fine here
        return edit, row

    def _pick_file(self, edit: QtWidgets.QLineEdit, binary: bool) -> None:
        start = os.path.dirname(edit.text()) if edit.text() else self._last_dir()
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Choose a file", start or "")
        if path:
            self._set_last_dir(os.path.dirname(path))
            edit.setText(path)
            edit.editingFinished.emit()

    def _connect_form(self) -> None:
        for f in self.cell_fields:
            f.editingFinished.connect(self._form_cell)
        self.mat_edit.editingFinished.connect(self._form_mat)
        self.hkl_edit.editingFinished.connect(self._form_hkl)
        for f in self.n_fields:
            f.editingFinished.connect(self._form_n)
        self.lambda_field.editingFinished.connect(self._form_scalars)
        self.distance_field.editingFinished.connect(self._form_scalars)
        self.pixel_field.editingFinished.connect(self._form_scalars)
        self.xbeam_field.editingFinished.connect(self._form_scalars)
        self.ybeam_field.editingFinished.connect(self._form_scalars)
        self.phi_field.editingFinished.connect(self._form_scalars)
        self.osc_field.editingFinished.connect(self._form_scalars)
        self.phisteps_field.editingFinished.connect(self._form_scalars)
        self.mosaic_field.editingFinished.connect(self._form_scalars)
        self.mosdom_field.editingFinished.connect(self._form_scalars)
        self.oversample_field.editingFinished.connect(self._form_scalars)
        self.fpix_field.editingFinished.connect(self._form_pixels)
        self.spix_field.editingFinished.connect(self._form_pixels)
        self.convention_combo.activated.connect(self._form_convention)

    # ---- text API ----------------------------------------------------------------------------------------------------
    def text(self) -> str:
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the command text (validation and the form follow at once)."""
        self.edit.setPlainText(text)
        self.validate_now()

    def set_argv(self, argv: list[str]) -> None:
        self.set_text(" ".join(_quote(a) for a in argv))

    def argv(self) -> list[str]:
        return text_to_argv(self.text())

    def is_valid(self) -> bool:
        return self._valid

    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def _rewrite(self, aliases: tuple[str, ...], tokens: list[str]) -> None:
        """Apply a form edit to the text (keeping the undo history) and revalidate."""
        new = replace_flags(self.text(), aliases, tokens)
        if new == self.text():
            return
        cursor = self.edit.textCursor()
        cursor.beginEditBlock()
        cursor.select(QtGui.QTextCursor.SelectionType.Document)
        cursor.insertText(new)
        cursor.endEditBlock()
        self._syncing = True  # this change came from the form: do not rewrite the form from it
        try:
            self.validate_now()
        finally:
            self._syncing = False

    # ---- validation ------------------------------------------------------------------------------------------------
    @Slot()
    def validate_now(self) -> None:
        self._timer.stop()
        text = self.text()
        try:
            diags = diagnose_argv(text)
        except Exception as exc:  # noqa: BLE001 - the grammar must never take the editor down
            diags = [Diagnostic("error", f"could not read the command line: {exc}")]
        if not text.strip():
            diags = [Diagnostic("error", "the command line is empty")]
        diags = with_suggestions(diags, text)
        self.diagnostics = diags
        self.edit.diagnostics = diags
        self._underline(diags)
        self._show_messages(diags)
        valid = not any(d.severity == "error" for d in diags)
        self.config = None
        if valid:
            try:
                self.config = parse_argv(self.argv(), check_files=False, require_inputs=False).config
            except ConfigError as exc:
                valid = False
                self.message.setText(f"<span style='color:#b00020'>error: {esc(str(exc))}</span>")
        else:
            # Fill the form from what can be read, so the form follows partial edits too.
            try:
                self.config = parse_argv(self.argv(), check_files=False, require_inputs=False).config
            except ConfigError:
                self.config = None
        if self.config is not None and not self._syncing:
            self._fill_form(self.config)
        if valid != self._valid:
            self._valid = valid
        self.validityChanged.emit(valid)

    def _underline(self, diags: list[Diagnostic]) -> None:
        selections = []
        doc_len = len(self.text())
        for d in diags:
            if d.start < 0:
                continue
            sel = QtWidgets.QTextEdit.ExtraSelection()
            fmt = QtGui.QTextCharFormat()
            fmt.setUnderlineStyle(QtGui.QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(QtGui.QColor("#d00000" if d.severity == "error" else "#e69500"))
            fmt.setToolTip(f"{d.severity}: {d.message}")
            sel.format = fmt
            cur = self.edit.textCursor()
            cur.setPosition(min(d.start, doc_len))
            cur.setPosition(min(max(d.end, d.start + 1), doc_len), QtGui.QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cur
            selections.append(sel)
        self.edit.setExtraSelections(selections)

    def _show_messages(self, diags: list[Diagnostic]) -> None:
        if not diags:
            self.message.setText("<span style='color:#2ca02c'>✓ command line OK</span>")
            return
        lines = []
        for d in diags[:6]:
            color = "#b00020" if d.severity == "error" else "#a86400"
            lines.append(f"<span style='color:{color}'>{d.severity}: {esc(d.message)}</span>")
        if len(diags) > 6:
            lines.append(f"… and {len(diags) - 6} more")
        self.message.setText("<br>".join(lines))

    # ---- form <- text ------------------------------------------------------------------------------------------------
    def _fill_form(self, cfg: NanoBraggConfig) -> None:
        c, d, b, s = cfg.crystal, cfg.detector, cfg.beam, cfg.sampling
        for i, f in enumerate(self.cell_fields):
            f.set_value(c.cell[i] if c.cell else None)
        for edit, path in ((self.mat_edit, c.mat_file), (self.hkl_edit, c.hkl_file)):
            edit.setText(path or "")  # the cursor ends up at the end: the file name shows
            edit.setToolTip(path or "")
        for f, v in zip(self.n_fields, (c.Na, c.Nb, c.Nc), strict=True):
            f.set_value(v)
        self.lambda_field.set_value(b.lambda_A)
        self.distance_field.set_value(d.distance_mm)
        self.pixel_field.set_value(d.pixel_mm)
        s_n, f_n = cfg.pixel_counts()
        self.fpix_field.set_value(f_n)
        self.spix_field.set_value(s_n)
        self.xbeam_field.set_value(d.xbeam_mm)
        self.ybeam_field.set_value(d.ybeam_mm)
        self.convention_combo.setCurrentText(d.convention)
        self.phi_field.set_value(s.phi_deg)
        self.osc_field.set_value(s.osc_deg)
        self.phisteps_field.set_value(s.phisteps)
        self.mosaic_field.set_value(c.mosaic_spread_deg)
        self.mosdom_field.set_value(c.mosaic_domains)
        self.oversample_field.set_value(s.oversample)

    # ---- text <- form ------------------------------------------------------------------------------------------------
    @Slot()
    def _form_cell(self) -> None:
        vals = [f.value() for f in self.cell_fields]
        if all(v is not None for v in vals):
            self._rewrite(("-cell",), ["-cell"] + [_fmt(v) for v in vals])
        elif all(v is None for v in vals):
            self._rewrite(("-cell",), [])

    @Slot()
    def _form_mat(self) -> None:
        path = self.mat_edit.text().strip()
        self._rewrite(("-mat", "-matrix"), ["-mat", path] if path else [])

    @Slot()
    def _form_hkl(self) -> None:
        path = self.hkl_edit.text().strip()
        self._rewrite(("-hkl",), ["-hkl", path] if path else [])

    @Slot()
    def _form_n(self) -> None:
        vals = [f.value() for f in self.n_fields]
        aliases = ("-N", "-Na", "-Nb", "-Nc")
        if all(v is None for v in vals):
            self._rewrite(aliases, [])
        elif len({v for v in vals}) == 1:
            self._rewrite(aliases, ["-N", _fmt(vals[0])])
        else:
            toks: list[str] = []
            for flag, v in zip(("-Na", "-Nb", "-Nc"), vals, strict=True):
                if v is not None:
                    toks += [flag, _fmt(v)]
            self._rewrite(aliases, toks)

    @Slot()
    def _form_scalars(self) -> None:
        field = self.sender()
        table = {
            self.lambda_field: (("-lambda", "-wave", "-energy"), "-lambda"),
            self.distance_field: (("-distance",), "-distance"),
            self.pixel_field: (("-pixel",), "-pixel"),
            self.xbeam_field: (("-Xbeam",), "-Xbeam"),
            self.ybeam_field: (("-Ybeam",), "-Ybeam"),
            self.phi_field: (("-phi",), "-phi"),
            self.osc_field: (("-osc",), "-osc"),
            self.phisteps_field: (("-phisteps",), "-phisteps"),
            self.mosaic_field: (("-mosaic", "-mosaic_spread", "-mosaici", "-mosaic_spr"), "-mosaic"),
            self.mosdom_field: (("-mosaic_dom", "-mosaic_domains"), "-mosaic_dom"),
            self.oversample_field: (("-oversample",), "-oversample"),
        }
        if field not in table:
            return
        aliases, flag = table[field]
        v = field.value()
        self._rewrite(aliases, [flag, _fmt(v)] if v is not None else [])

    @Slot()
    def _form_pixels(self) -> None:
        f, s = self.fpix_field.value(), self.spix_field.value()
        aliases = ("-detpixels", "-detpixels_f", "-detpixels_x", "-detpixels_s", "-detpixels_y")
        if f is None and s is None:
            self._rewrite(aliases, [])
        elif f == s:
            self._rewrite(aliases, ["-detpixels", _fmt(f)])
        else:
            toks: list[str] = []
            if f is not None:
                toks += ["-detpixels_f", _fmt(f)]
            if s is not None:
                toks += ["-detpixels_s", _fmt(s)]
            self._rewrite(aliases, toks)

    @Slot(int)
    def _form_convention(self, _index: int) -> None:
        name = self.convention_combo.currentText()
        if name == "CUSTOM":
            return  # CUSTOM comes from detector vectors; nothing to write
        self._rewrite(tuple(CONVENTION_FLAGS.values()), [CONVENTION_FLAGS[name]])


def suggest_flag(flag: str) -> str | None:
    """The known flag closest to a mistyped one ('-lamda' -> '-lambda'), or None when nothing is close."""
    import difflib
    lower = flag.lower()
    for known in KNOWN_FLAGS:  # a wrong case first: '-Lambda' -> '-lambda'
        if known.lower() == lower and known != flag:
            return known
    close = difflib.get_close_matches(flag, KNOWN_FLAGS, n=1, cutoff=0.75)
    return close[0] if close else None


def with_suggestions(diags: list[Diagnostic], text: str) -> list[Diagnostic]:
    """Diagnostics with "did you mean -X?" added to unknown flags, and the values stranded by an unknown flag
    said to belong to it (the grammar reports both; a typo is the usual cause)."""
    import dataclasses
    out: list[Diagnostic] = []
    last_unknown: str | None = None
    last_token = -2
    prefix = "unknown flag "
    for d in diags:
        if d.message.startswith(prefix):
            flag = d.message[len(prefix):].split(" ", 1)[0]
            last_unknown, last_token = flag, d.token
            hint = suggest_flag(flag)
            if hint:
                d = dataclasses.replace(d, message=f"{d.message}; did you mean {hint}?")
        elif (d.message.startswith("unexpected value") and last_unknown is not None and d.token >= 0
              and d.token == last_token + 1):
            last_token = d.token  # the values right after the unknown flag
            d = dataclasses.replace(d, message=f"{d.message}; probably a value of {last_unknown}")
        else:
            last_unknown = None
        out.append(d)
    return out


