"""The probes of `fault_cases_files`: each sets one fault up in a scratch folder `d` and does what a user does
(resume a sweep, open a bundle, start with a settings file, load an image). They use only entry points that the
checkout before issue 18 had too, so `fault_baseline_files.py` can replay them there. A probe returns `Seen` or
raises; `observe` sorts the outcome into one of fault_cases_files.CLASSES.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fault_cases_files import FileCase

# The program's error values: anything else that escapes is a traceback.
REFUSALS = {"ConfigError", "BundleError", "ImageLoadError", "UsageError", "SweepSetupError"}
ARGV16 = "-cell 100 100 100 90 90 90 -default_F 100 -N 2 -lambda 1 -distance 100 -pixel 0.1 -detpixels 16"
MATRIX = f"""
[sweep]
name = "one"
engines = ["torch:float32", "torch:float64"]
[sweep.thresholds]
max_rel_error = 0.0
min_correlation = 1.0
[[case]]
name = "small"
args = "{ARGV16}"
"""
GARBAGE = bytes(range(256)) * 8 + b"\xff\xfe\x00{["


@dataclass
class Seen:
    """refused: the program said no (an error value, exit 3, a record not believed). message: its words (or the
    log lines of an accepted input). problem: a class the probe saw itself (data loss, outside, misleading...)."""

    refused: bool
    message: str = ""
    problem: str | None = None


def observe(case: FileCase, d: Path) -> tuple[str, str]:
    """(outcome class, message) of `case` run in scratch folder `d` (in this process)."""
    import fault_probes_files as probes
    fn = getattr(probes, case.probe_name)
    try:
        with _warnings() as logged:
            seen = fn(d)
        if case.accept and not seen.message:
            seen.message = "\n".join(logged)
    except Exception as exc:  # noqa: BLE001 - sorting every outcome is the point
        names = {c.__name__ for c in type(exc).__mro__}
        if not names & REFUSALS:
            return "traceback", f"{type(exc).__name__}: {exc}"
        seen = Seen(True, str(exc))
    if seen.problem:
        return seen.problem, seen.message
    has_words = all(w.lower() in seen.message.lower() for w in case.words)
    if case.accept:
        if seen.refused:
            return "misleading", seen.message
        return ("handled" if has_words else "silent"), seen.message
    if not seen.refused:
        return "silent", seen.message
    return ("handled" if has_words else "misleading"), seen.message


@contextlib.contextmanager
def _warnings():
    """Every WARNING+ log line while the probe runs (an accepted bad value must be said in one)."""
    lines: list[str] = []

    class H(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())
    h = H(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(h)
    try:
        yield lines
    finally:
        root.removeHandler(h)


# ---- sweeps --------------------------------------------------------------------------------------------------------
def _main(args: list[str]) -> tuple[int, str, str]:
    from app.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    return rc, out.getvalue(), err.getvalue()


def _usage(rc: int, err: str) -> Seen:
    """exit 3 with a sentence is a refusal; a traceback or another exit status is not."""
    if "Traceback" in err:
        return Seen(False, err[-600:], "traceback")
    if rc == 3:
        return Seen(True, err)
    return Seen(False, f"exit {rc}: {err[-600:]}", "misleading" if rc in (1, 2) else None)


def _matrix(d: Path, text: str = MATRIX) -> Path:
    path = d / "one.toml"
    path.write_text(text)
    return path


def _finished(d: Path):
    """A sweep folder whose one case ran (bundle and record.json), as an earlier `nbparity sweep` leaves it."""
    from app.sweep.cli import _write_matrix_copy
    from app.sweep.matrix import load_matrix
    from app.sweep.task import run_case
    path = _matrix(d)
    matrix = load_matrix(path)
    out = d / "sweep"
    out.mkdir()
    _write_matrix_copy(out, matrix)
    run_case(matrix.cases[0], str(out), threads=1)
    case = matrix.cases[0]
    return path, case, out, out / "cases" / case.slug / "record.json"


def _believed(out: Path, case):
    """What a resumed sweep takes as finished for `case` (None: it runs the case again)."""
    try:
        from app.sweep.trust import verified_record
    except ImportError:   # the checkout before issue 18
        from app.sweep.record import finished_record
        return finished_record(out, case.slug, case.fingerprint())
    checked = verified_record(out, case)
    return checked.record if checked is not None else None


def _resume_seen(out: Path, case) -> Seen:
    rec = _believed(out, case)
    if rec is None:
        return Seen(True, "not believed: the case runs again")
    return Seen(False, f"believed: {rec.status} {getattr(rec, 'error', '')}")


def probe_sweep_record_forged_pass(d):
    path, _case, out, rp = _finished(d)
    body = json.loads(rp.read_text())
    body["status"] = "pass"
    rp.write_text(json.dumps(body))
    rc, stdout, err = _main(["sweep", str(path), "--out", str(out)])
    if rc == 1:
        recs = json.loads((out / "records.json").read_text())["records"]
        return Seen(True, stdout + " " + " ".join(str(r.get("error")) for r in recs))
    return Seen(False, f"exit {rc}: {stdout} {err[-300:]}")


def _edit_record(d, content: bytes) -> Seen:
    _path, case, out, rp = _finished(d)
    rp.write_bytes(content)
    return _resume_seen(out, case)


def probe_sweep_record_garbage(d):
    return _edit_record(d, GARBAGE)


def probe_sweep_record_truncated(d):
    _path, case, out, rp = _finished(d)
    rp.write_bytes(rp.read_bytes()[: len(rp.read_bytes()) // 2])
    return _resume_seen(out, case)


def probe_sweep_record_empty(d):
    return _edit_record(d, b"")


def probe_sweep_record_wrong_type(d):
    return _edit_record(d, b"[1, 2, 3]\n")


def probe_sweep_record_status_number(d):
    _path, case, out, rp = _finished(d)
    body = json.loads(rp.read_text())
    body.update(status=5, bundle=["x"], probes="none")
    rp.write_text(json.dumps(body))
    return _resume_seen(out, case)


def _case_bundle(out: Path, rp: Path) -> Path:
    return out / json.loads(rp.read_text())["bundle"]


def probe_sweep_bundle_edited(d):
    _path, case, out, rp = _finished(d)
    m = _case_bundle(out, rp) / "metrics.json"
    m.write_text(m.read_text().replace('"fail"', '"pass"').replace('"passed": false', '"passed": true'))
    body = json.loads(rp.read_text())
    body["status"] = "pass"
    rp.write_text(json.dumps(body))
    return _resume_seen(out, case)


def probe_sweep_bundle_nan_image(d):
    _path, case, out, rp = _finished(d)
    bundle = _case_bundle(out, rp)
    _nan_side_b(bundle)
    body = json.loads(rp.read_text())
    body["status"] = "pass"
    rp.write_text(json.dumps(body))
    return _resume_seen(out, case)


def probe_sweep_bundle_symlink(d):
    import shutil
    _path, case, out, rp = _finished(d)
    bundle = _case_bundle(out, rp)
    elsewhere = d / "elsewhere"
    shutil.move(str(bundle), elsewhere)
    bundle.symlink_to(elsewhere, target_is_directory=True)
    seen = _resume_seen(out, case)
    return seen if seen.refused else Seen(False, seen.message, "outside")


def probe_sweep_out_foreign(d):
    path = _matrix(d)
    out = d / "mine"
    out.mkdir()
    (out / "report.html").write_text("my own report")
    (out / "notes.txt").write_text("keep")
    rc, _o, err = _main(["sweep", str(path), "--out", str(out)])
    if (out / "report.html").read_text() != "my own report":
        return Seen(False, "report.html overwritten", "data loss")
    return _usage(rc, err)


def probe_sweep_out_file(d):
    path = _matrix(d)
    (d / "o").write_text("a file")
    rc, _o, err = _main(["sweep", str(path), "--out", str(d / "o")])
    return _usage(rc, err)


def probe_sweep_case_dotdot(d):
    from app.sweep.matrix import parse_matrix
    m = parse_matrix(MATRIX.replace('name = "small"', 'name = ".."'), source="m.toml")
    slug = m.cases[0].slug
    if slug in (".", "..") or "/" in slug:
        return Seen(False, f"case folder cases/{slug}", "outside")
    return Seen(False, f"case folder cases/{slug}")


def _output_flag(d, extra: str) -> Seen:
    from app.sweep.matrix import parse_matrix
    parse_matrix(MATRIX.replace(ARGV16, f"{ARGV16} {extra}"), source="m.toml")
    return Seen(False, f"accepted a case with {extra}", "outside")


def probe_sweep_case_floatfile(d):
    return _output_flag(d, f"-floatfile {d}/abs/x.bin")


def probe_sweep_case_intfile_relative(d):
    return _output_flag(d, "-intfile x.img")


def probe_sweep_grid_huge(d):
    from app.sweep.matrix import parse_matrix
    values = ", ".join(str(1 + i / 1000) for i in range(1000))
    distances = ", ".join(str(100 + i) for i in range(1000))
    parse_matrix(f'[[grid]]\nname = "huge"\nargs = "{ARGV16}"\n[grid.flags]\n"-lambda" = [{values}]\n'
                 f'"-distance" = [{distances}]\n', source="huge.toml")
    return Seen(False, "expanded a million cases")


def probe_sweep_scheduler_dead(d):
    path = _matrix(d)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        rc, _o, err = _main(["sweep", str(path), "--out", str(d / "o"), "--scheduler",
                             f"tcp://127.0.0.1:{s.getsockname()[1]}"])
    return _usage(rc, err)


def probe_sweep_scheduler_garbage(d):
    rc, _o, err = _main(["sweep", str(_matrix(d)), "--out", str(d / "o"), "--scheduler", "http://x:1/path"])
    return _usage(rc, err)


def probe_sweep_engine_missing(d):
    path = _matrix(d, MATRIX.replace('"torch:float32"', f'"bin:{d}/no/nanoBragg"'))
    rc, _o, err = _main(["sweep", str(path), "--out", str(d / "o")])
    return _usage(rc, err)


def _matrix_file(d, content: bytes | None) -> Seen:
    path = d / "m.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    rc, _o, err = _main(["sweep", str(path), "--out", str(d / "o")])
    return _usage(rc, err)


def probe_sweep_matrix_empty(d):
    return _matrix_file(d, b"")


def probe_sweep_matrix_garbage(d):
    return _matrix_file(d, GARBAGE)


def probe_sweep_matrix_folder(d):
    return _matrix_file(d, None)


def probe_sweep_matrix_unreadable(d):
    path = _matrix(d)
    path.chmod(0)
    rc, _o, err = _main(["sweep", str(path), "--out", str(d / "o")])
    return _usage(rc, err)


# ---- bundles -------------------------------------------------------------------------------------------------------
def _bundle(d: Path) -> Path:
    """A real comparison bundle (PyTorch float32 vs float64, 16², one inspected pixel) under d/bundles."""
    from app.bundle.snapshot import write_snapshot
    from app.core.session import ComparisonSession, SessionOptions, SideOptions
    session = ComparisonSession(ARGV16.split(), SessionOptions(SideOptions("torch:float32"), SideOptions("torch")))
    a, b = session.run_both()
    insp = [session.inspect_pixel(8, 8)]
    rec = session.record(a, b, None, insp)
    return Path(write_snapshot(session.record(a, b, rec.metrics, insp), d / "bundles"))


def _phi_table(folder: Path) -> Path:
    """The per-φ table of the bundle's pixel (not its whole-calculation `*_pipeline.json`, which the reader does
    not read back; glob order is the file system's)."""
    return next(p for p in sorted(folder.glob("pixel_s*_f*.json")) if not p.name.endswith("_pipeline.json"))


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _write_manifest(folder: Path, m) -> None:
    (folder / "manifest.json").write_text(json.dumps(m))


def _rehash(folder: Path, m: dict | None = None) -> None:
    """The manifest's sizes and sha256 made to match the files again (a consistent forgery)."""
    m = m or _manifest(folder)
    for e in m["files"]:
        p = folder / e["name"]
        if p.is_file():
            e["bytes"] = p.stat().st_size
            e["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
    _write_manifest(folder, m)


def _open(folder: Path) -> Seen:
    from app.bundle.bundle_reader import read_bundle
    rec = read_bundle(folder)
    v = rec.verdict
    return Seen(False, f"opened ({'PASS' if v is not None and v.passed else 'FAIL'})")


def _manifest_bytes(d, fn) -> Seen:
    b = _bundle(d)
    raw = (b / "manifest.json").read_bytes()
    (b / "manifest.json").write_bytes(fn(raw))
    return _open(b)


def probe_bundle_manifest_truncated(d):
    return _manifest_bytes(d, lambda raw: raw[: len(raw) // 2])


def probe_bundle_manifest_garbage(d):
    return _manifest_bytes(d, lambda raw: GARBAGE)


def probe_bundle_manifest_empty(d):
    return _manifest_bytes(d, lambda raw: b"")


def probe_bundle_manifest_list(d):
    return _manifest_bytes(d, lambda raw: b"[1, 2]")


def _edit(d, fn) -> Seen:
    b = _bundle(d)
    m = _manifest(b)
    fn(m, b)
    _write_manifest(b, m)
    return _open(b)


def probe_bundle_files_not_list(d):
    return _edit(d, lambda m, b: m.update(files=5))


def probe_bundle_missing_argv(d):
    return _edit(d, lambda m, b: m.pop("argv"))


def _shape(value):
    def fn(m, b):
        m["sides"]["a"]["outcome"]["shape"] = value
    return fn


def probe_bundle_shape_negative(d):
    return _edit(d, _shape([-16, 16]))


def probe_bundle_shape_huge(d):
    return _edit(d, _shape([100000, 100000]))


def probe_bundle_shape_text(d):
    return _edit(d, _shape(["a", 16]))


def _point_a_to(name_fn):
    def fn(m, b):
        src = b / m["files_by_side"]["a"]["float"]
        target, name = name_fn(b)
        target.write_bytes(src.read_bytes())
        m["files"].append({"name": name, "bytes": target.stat().st_size,
                           "sha256": hashlib.sha256(target.read_bytes()).hexdigest()})
        m["files_by_side"]["a"]["float"] = name
    return fn


def _outside(seen: Seen) -> Seen:
    return seen if seen.refused else Seen(False, seen.message, "outside")


def probe_bundle_name_dotdot(d):
    return _outside(_edit(d, _point_a_to(lambda b: (b.parent / "outside.bin", "../outside.bin"))))


def probe_bundle_name_absolute(d):
    return _outside(_edit(d, _point_a_to(lambda b: (b.parent / "abs.bin", str(b.parent / "abs.bin")))))


def probe_bundle_image_symlink(d):
    b = _bundle(d)
    name = _manifest(b)["files_by_side"]["a"]["float"]
    outside = d / "same.bin"
    outside.write_bytes((b / name).read_bytes())
    (b / name).unlink()
    (b / name).symlink_to(outside)
    return _outside(_open(b))


def _nan_side_b(b: Path) -> None:
    m = _manifest(b)
    name = m["files_by_side"]["b"]["float"]
    img = np.fromfile(b / name, "<f4")
    img[:] = np.nan
    img.tofile(b / name)
    metrics = json.loads((b / "metrics.json").read_text())
    if isinstance(metrics.get("parity"), dict):
        metrics["parity"]["passed"] = True
    (b / "metrics.json").write_text(json.dumps(metrics))
    _rehash(b, m)


def probe_bundle_nan_image(d):
    b = _bundle(d)
    _nan_side_b(b)
    return _open(b)


def probe_bundle_newer_format(d):
    return _edit(d, lambda m, b: m.update(bundle_format=99))


def probe_bundle_unlisted_table(d):
    b = _bundle(d)
    table = _phi_table(b)
    (b / "pixel_s1_f1.json").write_text(table.read_text())
    return _open(b)


def probe_bundle_metrics_wrong_type(d):
    b = _bundle(d)
    (b / "metrics.json").write_text(json.dumps({"metrics": 5, "parity": "yes"}))
    _rehash(b)
    return _open(b)


def probe_bundle_table_wrong_type(d):
    b = _bundle(d)
    table = _phi_table(b)
    body = json.loads(table.read_text())
    body["rows"] = 7
    table.write_text(json.dumps(body))
    _rehash(b)
    return _open(b)


def probe_bundle_image_unreadable(d):
    b = _bundle(d)
    (b / _manifest(b)["files_by_side"]["a"]["float"]).chmod(0)
    return _open(b)


def _dead_pid() -> int:
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def probe_bundle_partial_opened(d):
    part = d / f".compare-20260101-000000.{_dead_pid()}.abcd1234.partial"
    part.mkdir()
    (part / "A_float.bin").write_bytes(b"\0" * 1024)
    return _open(part)


def probe_bundle_partial_cleaned(d):
    b = _bundle(d)
    part = b.parent / f".compare-20260101-000000.{_dead_pid()}.abcd1234.partial"
    part.mkdir()
    (part / "A_float.bin").write_bytes(b"\0" * 1024)
    from tracing.bundle import BundleWriter
    with BundleWriter(b.parent, "compare") as w:
        w.write_text("x.txt", "x")
    if part.exists():
        return Seen(False, f"{part.name} left", "orphan")
    return Seen(False, "removed at the next write")


# ---- settings ------------------------------------------------------------------------------------------------------
def _qapp():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def _ini(d: Path, values: dict, schema: int | None = None):
    _qapp()
    from PySide6 import QtCore

    from app.qt.settings import SCHEMA_VERSION
    qs = QtCore.QSettings(str(d / "s.ini"), QtCore.QSettings.Format.IniFormat)
    qs.setValue("schema_version", SCHEMA_VERSION if schema is None else schema)
    for k, v in values.items():
        qs.setValue(k, v)
    qs.sync()
    return d / "s.ini"


def _start(ini: Path):
    """What the window does with the settings at start: read them, restore both engine pickers and the view."""
    from PySide6 import QtCore

    from app.widgets.engine_picker import EnginesBox
    from app.qt.settings import AppSettings, ViewSettings
    s = AppSettings(QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat))
    box = EnginesBox(s)
    box.restore()
    ViewSettings.load(s)
    return s, box


def _settings_accept(d, values: dict) -> Seen:
    _start(_ini(d, values))
    return Seen(False)


def probe_settings_carryover_list(d):
    return _settings_accept(d, {"engines/side_b": json.dumps({"engine": "torch:float32", "carryover": [1]})})


def probe_settings_threads_text(d):
    return _settings_accept(d, {"engines/side_b": json.dumps({"engine": "torch:float32", "threads": "many"})})


def probe_settings_engine_garbage(d):
    s, box = _start(_ini(d, {"engines/side_a": json.dumps({"engine": "warp-drive"})}))
    spec = box.pickers["a"].spec()
    if spec != "cref":
        return Seen(False, f"side A {spec!r}", "misleading")
    return Seen(False)


def probe_settings_side_not_json(d):
    return _settings_accept(d, {"engines/side_b": '{"engine": "torch:fl'})


def probe_settings_profiles_list(d):
    _s, box = _start(_ini(d, {"engines/profiles": "[1, 2]"}))
    box.refresh_profiles()
    return Seen(False)


def probe_settings_percentile_text(d):
    return _settings_accept(d, {"view/percentile": "lots"})


def probe_settings_newer_schema(d):
    profiles = json.dumps({"port f32": {"engine": "torch:float32", "carryover": True, "threads": None}})
    ini = _ini(d, {"engines/profiles": profiles, "future/key": "kept"}, schema=99)
    s, box = _start(ini)
    box.save()
    s.sync()
    text = ini.read_text()
    if "port f32" not in text or "future" not in text or "99" not in text:
        return Seen(False, "the newer settings file was wiped", "data loss")
    return Seen(False, getattr(s, "note", None) or "")


def probe_settings_cmd_then_torch(d):
    from app.core.session import SideOptions
    ini = _ini(d, {"engines/side_b": json.dumps({"engine": "cmd:/opt/port/run-nanobragg", "carryover": None,
                                                 "threads": None})})
    s, box = _start(ini)
    box.pickers["b"].set_side_options(SideOptions("torch"))   # `nbparity gui --b torch`
    spec = box.pickers["b"].spec()
    box.save()
    s.sync()
    if spec != "torch:float64":
        return Seen(False, f"side B became {spec!r} and was saved", "misleading")
    return Seen(False, "side B torch:float64")


def probe_settings_file_garbage(d):
    (d / "s.ini").write_bytes(GARBAGE)
    _qapp()
    _start(d / "s.ini")
    return Seen(False)


def probe_settings_geometry_garbage(d):
    ini = _ini(d, {"window/geometry": "not a geometry", "window/state": "[1, 2]"})
    w = _window(d, ini)
    w.close()
    return Seen(False)


# ---- loaded images -------------------------------------------------------------------------------------------------
def _window(d: Path, ini: Path | None = None):
    _qapp()
    from PySide6 import QtCore

    from app.window.main_window import MainWindow
    from app.qt.settings import AppSettings
    qs = QtCore.QSettings(str(ini or d / "w.ini"), QtCore.QSettings.Format.IniFormat)
    return MainWindow(ARGV16.split(), None, settings=AppSettings(qs), install_hook=False)


def _load_in_window(d: Path, loads: list[tuple[str, Path]]) -> Seen:
    w = _window(d)
    said: list[str] = []
    w.statusBar().messageChanged.connect(said.append)   # every message the window showed, in order
    try:
        ok = True
        for side, path in loads:
            ok = w.load_image_file(side, str(path))
        return Seen(not ok, " | ".join(x for x in (w.last_error, *said) if x))
    finally:
        w.shutdown()


def _edf(path: Path, data: np.ndarray) -> Path:
    import fabio.edfimage
    fabio.edfimage.EdfImage(data=data).write(str(path))
    return path


def probe_image_zero_size(d):
    np.save(d / "z.npy", np.zeros((0, 0), np.float32))
    return _load_in_window(d, [("b", d / "z.npy")])


def probe_image_wrong_size(d):
    a = _edf(d / "a8.edf", np.ones((8, 8), np.float32))
    b = _edf(d / "b16.edf", np.ones((16, 16), np.float32))
    seen = _load_in_window(d, [("a", a), ("b", b)])
    # Both load (each is a fine image); the report that they differ in shape must name the file, not an engine.
    said = [m for m in seen.message.split(" | ") if "differ" in m.lower()]
    return Seen(bool(said), " | ".join(said))


def _load(path: Path, shape=None) -> Seen:
    from app.core.image_loading import load_detector_image
    img = load_detector_image(path, shape)
    return Seen(False, f"loaded {img.data.shape}")


def probe_image_1e300(d):
    return _load(_edf(d / "big.edf", np.full((4, 4), 1e300)))


def probe_image_fifo(d):
    os.mkfifo(d / "x.edf")
    return _load(d / "x.edf")


def probe_image_folder(d):
    (d / "x.edf").mkdir()
    return _load(d / "x.edf")


def probe_image_dangling_link(d):
    (d / "x.edf").symlink_to(d / "gone.edf")
    return _load(d / "x.edf")


def probe_image_truncated_smv(d):
    header = "{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\nSIZE1=16;\nSIZE2=16;\n}\n"
    (d / "t.img").write_bytes(header.encode().ljust(512, b" ") + b"\1\0" * 100)
    return _load(d / "t.img")


def probe_image_garbage(d):
    (d / "g.cbf").write_bytes(GARBAGE)
    return _load(d / "g.cbf")


def probe_image_empty_file(d):
    (d / "e.edf").write_bytes(b"")
    return _load(d / "e.edf")


def probe_image_raw_wrong_size(d):
    (d / "r.bin").write_bytes(b"\0" * 100)
    return _load(d / "r.bin", (16, 16))


def probe_image_raw_nan(d):
    np.full(16 * 16, np.nan, "<f4").tofile(d / "n.bin")
    return _load(d / "n.bin", (16, 16))


def probe_image_unreadable(d):
    p = _edf(d / "p.edf", np.ones((4, 4), np.float32))
    p.chmod(0)
    return _load(p)
