"""ComparisonSession: two sides, command lines per side, engine failures as values, verdict, manifest, bundles,
scheduling and the thread rule for binaries other than our C reference.

Engine runs use the real engines on a 32x32 cubic case (a few hundred ms each); failure paths use a fake C binary
(a shell script that exits 3) and a missing path.
"""
from __future__ import annotations

import hashlib
import json
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from app.core.demo import DemoMissing, demo_argv
from app.core.session import (
                              ComparisonSession,
                              EngineOptions,
                              EngineOutcome,
                              ParityThresholds,
                              SessionOptions,
                              SideOptions,
                              parity_verdict,
                              )
from app.bundle.snapshot import side_tag, write_snapshot
from c_reference.driver import run_c
from simulator.config import ConfigError
from tracing.metrics import compare_images
from tracing.records import ImageResult

# 32x32 cubic crystal, 3 phi ticks over 1 degree: a few bright spots, fast on both engines.
TINY = ("-cell 100 100 100 90 90 90 -default_F 100 -N 3 -lambda 6.2 -detpixels 32 -distance 100 "
        "-phi 0 -osc 1 -phisteps 3").split()
MANIFEST_KEYS = {
    "nbparity_version", "time_utc", "git_commit", "argv", "cwd", "sides", "schedule", "torch_version",
    "torch_threads", "python", "platform", "parity_thresholds", "warnings", "config", "files", "files_by_side",
}
SIDE_KEYS = {"side", "label", "kind", "spec", "display_name", "fingerprint", "capabilities", "command", "carryover",
             "threads", "env", "notes", "outcome"}


def _fake_binary(folder: Path, exit_code: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "fake_nanobragg"
    script.write_text(f"#!/bin/sh\necho 'fake nanoBragg: giving up' >&2\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _outcome(engine: str, image: np.ndarray) -> EngineOutcome:
    """A finished render without running an engine (for bundle and verdict tests)."""
    return EngineOutcome(engine, result=ImageResult(engine=engine, image=image.astype(np.float32), argv=TINY,
                                                    log=f"{engine} log\n", wall_s=0.25))


# ---- command lines and options ---------------------------------------------------------------------------------
def test_carryover_switch_is_appended_to_each_sides_argv_only_when_set():
    s = ComparisonSession(TINY, SessionOptions(SideOptions("cref", carryover=False), SideOptions("torch", True)))
    assert s.side_args("a") == TINY + ["-phi0_carryover", "off"]
    assert s.side_args("b") == TINY + ["-phi0_carryover", "on"]
    assert s.config.sampling.phi0_carryover is None  # the session's own config is not modified
    plain = ComparisonSession(TINY)
    assert plain.side_args("a") == TINY and plain.sides["b"].job.carryover is None
    # A switch already on the command line is replaced, not repeated (simulator.argv.with_flag).
    again = ComparisonSession(TINY + ["-phi0_carryover", "on"], SessionOptions(SideOptions("cref", False)))
    assert again.side_args("a").count("-phi0_carryover") == 1 and again.side_args("a")[-1] == "off"


def test_default_sides_are_our_c_reference_and_our_pytorch_engine_named_after_them(c_binary, monkeypatch):
    monkeypatch.delenv("NB_C_BIN", raising=False)
    s = ComparisonSession(TINY)
    sha = s.sides["a"].engine.identity.fingerprint.removeprefix("sha256:")
    assert s.label("a") == f"nbparity C reference {sha[:8]}" and len(sha) == 64
    assert s.label("b") == "nbparity PyTorch f64"


def test_the_same_engine_on_both_sides_is_told_apart_by_its_carryover(c_binary):
    s = ComparisonSession(TINY, SessionOptions(SideOptions("cref", True), SideOptions("cref", False)))
    assert s.label("a").endswith("(carry-over on)") and s.label("b").endswith("(carry-over off)")
    t = ComparisonSession(TINY, SessionOptions(SideOptions("torch:float32"), SideOptions("torch:float64")))
    assert (t.label("a"), t.label("b")) == ("nbparity PyTorch f32", "nbparity PyTorch f64")


def test_dtype_on_the_command_line_is_a_warning_the_side_spelling_decides():
    s = ComparisonSession(TINY + ["-dtype", "float32"])
    assert s.warnings == ["-dtype float32 on the command line is ignored: each side's engine spelling decides "
                          "(e.g. --b torch:float32)"]
    assert ComparisonSession(TINY).warnings == []


@pytest.mark.parametrize("argv, needle", [
    (TINY[:-1], "-phisteps"),                               # a flag without its value
    (["-default_F", "100", "-N", "3"], "no crystal"),      # nothing to simulate
    (TINY + ["-hkl", "/nonexistent/x.hkl"], "x.hkl"),      # missing input file
])
def test_bad_command_line_raises_config_error_naming_the_problem(argv, needle):
    with pytest.raises(ConfigError, match=needle.replace("-", r"\-")):
        ComparisonSession(argv)


@pytest.mark.parametrize("opts, needle", [
    (EngineOptions(torch_dtype="float16"), "dtype"),
    (EngineOptions(torch_device="gpu"), "device"),
    (EngineOptions(c_threads=0), "threads"),
    (SessionOptions(SideOptions("gpu")), "unknown kind 'gpu'"),
    (SessionOptions(b=SideOptions("torch:float16")), "float16"),
    (SessionOptions(b=SideOptions("cmd:no-such-program-xyz")), "no-such-program-xyz"),
    (SessionOptions(b=SideOptions("cmd:'unclosed")), "cannot be split"),
    (SessionOptions(schedule="random"), "schedule"),
])
def test_bad_engine_options_raise_config_error(opts, needle):
    with pytest.raises(ConfigError, match=needle):
        ComparisonSession(TINY, opts)


def test_pixel_off_the_detector_is_a_config_error():
    s = ComparisonSession(TINY)
    s.check_pixel(31, 0)
    with pytest.raises(ConfigError, match="outside the 32 x 32"):
        s.check_pixel(32, 0)


# ---- demo ------------------------------------------------------------------------------------------------------
def test_demo_argv_makes_input_files_absolute_and_skips_comments(tmp_path):
    (tmp_path / "x.hkl").write_text("0 0 0 1\n")
    (tmp_path / "command.txt").write_text("# a comment\nnanoBragg -hkl x.hkl -cell 10 10 10 90 90 90 \\\n"
                                          "  -floatfile out.bin -N -1  # trailing comment\n")
    assert demo_argv(tmp_path) == ["-hkl", str(tmp_path / "x.hkl"), "-cell", "10", "10", "10", "90", "90", "90",
                                   "-floatfile", "out.bin", "-N", "-1"]


def test_demo_argv_without_resources_says_where_it_looked(tmp_path):
    with pytest.raises(DemoMissing, match="command.txt"):
        demo_argv(tmp_path)


def test_shipped_demo_parses():
    s = ComparisonSession(demo_argv())
    assert s.warnings == []
    assert Path(s.config.crystal.hkl_file).is_absolute()


# ---- verdict and int image ---------------------------------------------------------------------------------------
def test_verdict_passes_identical_images_and_fails_a_1e4_relative_change():
    rng = np.random.default_rng(1)
    c = rng.uniform(1.0, 100.0, (16, 16)).astype(np.float32)
    ok = parity_verdict(compare_images(c, c.copy()))
    assert ok.passed and ok.correlation == 1.0 and ok.max_rel_error == 0.0
    py = c.copy()
    py[3, 4] *= 1 + 1e-4  # one bright pixel off by 1e-4: correlation stays > 0.999999, relative error does not
    bad = parity_verdict(compare_images(c, py))
    assert not bad.passed
    assert bad.reasons == [f"max relative error {bad.max_rel_error:.3g} > 1e-05"]
    assert bad.max_rel_error == pytest.approx(1e-4, rel=1e-2)
    # The same figures pass looser thresholds (they are parameters).
    assert parity_verdict(compare_images(c, py), ParityThresholds(max_rel_error=2e-4)).passed


# ---- bundles (no engine run) -----------------------------------------------------------------------------------
def test_bundle_holds_every_file_and_a_second_one_does_not_overwrite_the_first(tmp_path):
    c_binary = _fake_binary(tmp_path / "bin")  # only hashed here, never run
    s = ComparisonSession(TINY, EngineOptions(c_binary=str(c_binary)))
    img = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    c, py = _outcome("c", img), _outcome("torch", img * (1 + 1e-7))
    out = tmp_path / "out"
    first = write_snapshot(s.record(c, py), out, extra_files={"window.png": b"\x89PNG fake"})
    second = write_snapshot(s.record(c, py), out)  # same second: gets a "-2" name
    assert first != second and first.parent == second.parent == out
    names = {p.name for p in first.iterdir()}
    # Files are named after the engines: side letter + label ("fake_nanobragg <sha8>", "nbparity PyTorch f64").
    ta, tb = side_tag("a", s.label("a")), side_tag("b", s.label("b"))
    assert ta.startswith("A-fake_nanobragg-") and tb == "B-nbparity-PyTorch-f64"
    assert {f"{ta}_float.bin", f"{tb}_float.bin", "diff_A_minus_B.bin", f"{ta}.img", f"{tb}.img", "metrics.json",
            "summary.md", f"{ta}_log.txt", f"{tb}_log.txt", "manifest.json", "window.png"} <= names
    assert (first / "window.png").read_bytes() == b"\x89PNG fake"
    assert "window.png" not in {p.name for p in second.iterdir()}  # the first bundle was not touched either
    # float files: raw float32, (slow, fast) row-major, exactly the images
    back = np.fromfile(first / f"{ta}_float.bin", dtype="<f4").reshape(32, 32)
    assert np.array_equal(back, img)
    diff = np.fromfile(first / "diff_A_minus_B.bin", dtype="<f4").reshape(32, 32)
    assert np.array_equal(diff, img - (img * np.float32(1 + 1e-7)))
    # SMV as the C's -intfile: 512-byte header with the resolved geometry, then uint16; auto scale 55000/max and
    # ADC 40, so the brightest pixel reads 55040 and the dark corner (0 photons) reads 40 (spec 9.3).
    smv = (first / f"{ta}.img").read_bytes()
    assert smv.startswith(b"{\nHEADER_BYTES=512;") and b"SIZE1=32;" in smv[:512] and b"BEAMLINE=fake;" in smv[:512]
    counts = np.frombuffer(smv[512:], dtype=np.uint16).reshape(32, 32)
    assert counts[0, 0] == 40 and counts.max() == 55040 and counts[31, 31] == 55040
    metrics = json.loads((first / "metrics.json").read_text())
    assert metrics["parity"]["verdict"] == "pass"  # 1e-7 relative change: within 1e-5
    manifest = json.loads((first / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(manifest)
    side_a = manifest["sides"]["a"]
    assert SIDE_KEYS <= set(side_a) and side_a["label"] == s.label("a")
    assert side_a["fingerprint"] == "sha256:" + hashlib.sha256(c_binary.read_bytes()).hexdigest()
    assert side_a["command"] == [str(c_binary)] + TINY
    assert manifest["sides"]["b"]["command"] == ["nbparity", "sim"] + TINY
    assert manifest["files_by_side"]["a"] == {"float": f"{ta}_float.bin", "smv": f"{ta}.img", "log": f"{ta}_log.txt"}
    assert {f["name"] for f in manifest["files"]} == names - {"manifest.json"}
    summary = (first / "summary.md").read_text()
    assert "## Verdict" in summary and "PASS" in summary and "correlation" in summary


def test_bundle_with_a_failed_engine_keeps_the_other_image_and_the_error(tmp_path):
    s = ComparisonSession(TINY, EngineOptions(c_binary=str(_fake_binary(tmp_path))))
    failed = EngineOutcome("c", error="C binary exited with code 3", log_tail="fake nanoBragg: giving up")
    folder = write_snapshot(s.record(failed, _outcome("torch", np.ones((32, 32)))), tmp_path / "out")
    names = {p.name for p in folder.iterdir()}
    ta, tb = side_tag("a", s.label("a")), side_tag("b", s.label("b"))
    assert f"{tb}_float.bin" in names and f"{ta}_float.bin" not in names and "diff_A_minus_B.bin" not in names
    assert "giving up" in (folder / f"{ta}_log.txt").read_text()
    assert json.loads((folder / "metrics.json").read_text())["parity"] is None
    assert "FAILED: C binary exited with code 3" in (folder / "summary.md").read_text()


def test_bundle_rejects_extra_files_that_would_replace_bundle_files(tmp_path):
    s = ComparisonSession(TINY)
    with pytest.raises(ConfigError, match="metrics.json"):
        write_snapshot(s.record(), tmp_path, extra_files={"metrics.json": b"{}"})
    assert list(tmp_path.iterdir()) == []  # nothing half-written


# ---- real engines ----------------------------------------------------------------------------------------------
def test_run_both_gives_two_matching_images_when_carryover_agrees(c_binary):
    # Both engines with the carry-over off: the same physics, so parity holds at the default thresholds.
    s = ComparisonSession(TINY, EngineOptions(c_binary=str(c_binary), c_carryover=False, c_threads=1))
    seen: dict[str, list[float]] = {"c": [], "torch": []}
    finished: list[str] = []
    c, py = s.run_both(lambda f: seen["c"].append(f), lambda f: seen["torch"].append(f),
                       on_finished=lambda o: finished.append(o.side))
    assert c.ok and py.ok, (c.error, c.log_tail, py.error, py.log_tail)
    # On a CPU-only machine the sides run one after the other, each reported as soon as it is done; our in-process
    # engine (side B here) first, so that a window shows an image at once (session.run_order, issue 19).
    assert s.schedule() == "sequential" and s.run_order() == ("b", "a") and finished == ["b", "a"]
    assert c.result.shape == py.result.shape == (32, 32)
    assert c.result.image.max() > 0
    verdict = s.verdict(s.compare(c.result, py.result))
    assert verdict.passed, verdict.sentence()


def test_failing_c_binary_is_an_outcome_error_and_torch_still_renders(tmp_path):
    s = ComparisonSession(TINY, EngineOptions(c_binary=str(_fake_binary(tmp_path))))
    c, py = s.run_both()
    assert not c.ok and c.result is None
    assert "3" in c.error  # the exit code is named
    assert "giving up" in c.log_tail
    assert py.ok and py.result.image.shape == (32, 32)


def test_missing_binary_is_a_config_error_before_any_engine_runs(tmp_path):
    with pytest.raises(ConfigError, match="bin:.*no-such-binary': C binary not found"):
        ComparisonSession(TINY, SessionOptions(SideOptions(f"bin:{tmp_path / 'no-such-binary'}")))


def test_cancel_before_start_is_reported_as_cancelled(c_binary):
    cancel = threading.Event()
    cancel.set()
    c, py = ComparisonSession(TINY, EngineOptions(c_binary=str(c_binary))).run_both(cancel=cancel)
    assert c.cancelled and py.cancelled
    assert c.result is None and py.result is None


def test_inspect_pixel_traces_both_engines_and_compares_per_phi(c_binary):
    s = ComparisonSession(TINY, EngineOptions(c_binary=str(c_binary), c_carryover=False))
    insp = s.inspect_pixel(16, 16)
    assert insp.error_a is None and insp.error_b is None, (insp.error_a, insp.error_b)
    assert len(insp.trace_a.series()) == 3 and len(insp.trace_b.series()) == 3  # one sample per phi tick
    assert insp.comparison is not None and insp.comparison.first_divergence is None
    assert insp.curve_a is None  # our C prints per-phi lines, so no single-tick runs are needed


def test_inspect_pixel_with_failing_c_keeps_the_torch_trace(tmp_path):
    s = ComparisonSession(TINY, EngineOptions(c_binary=str(_fake_binary(tmp_path))))
    insp = s.inspect_pixel(3, 4)
    assert insp.error_a and insp.error_b is None and insp.trace_b is not None
    assert insp.comparison is None
    assert f"{s.label('a')} failed" in insp.describe()


def test_manifest_records_threads_dtype_device_and_versions(tmp_path):
    s = ComparisonSession(TINY, EngineOptions(c_binary=str(_fake_binary(tmp_path)), c_threads=2,
                                              torch_dtype="float32"))
    m = s.manifest({})
    assert m["sides"]["a"]["threads"] == 2 and m["sides"]["a"]["env"] == {"OMP_NUM_THREADS": "2"}
    assert m["sides"]["b"]["capabilities"]["dtype"] == "float32" and m["sides"]["b"]["capabilities"]["device"] == "cpu"
    assert m["torch_version"] and m["python"] and m["nbparity_version"] != "unknown"
    assert m["time_utc"].endswith("+00:00")
    assert m["git_commit"] is None or len(m["git_commit"]) == 40
    json.dumps(m)  # JSON-ready


def test_binary_without_trace_lines_gets_a_per_tick_curve_from_single_tick_runs(tmp_path, c_binary):
    # An upstream-like binary: our C with its TRACE lines filtered out. Each single-tick run divides by steps = 1,
    # so the mean of the 3 tick values is the spec-compliant 3-tick pixel (spec 15), i.e. the torch image value
    # with the carry-over off, to float32 rounding.
    wrapper = tmp_path / "upstream_like"
    wrapper.write_text(f'#!/bin/sh\n"{c_binary}" "$@" | grep -v "^TRACE"\nexit 0\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    rotating = TINY[:-6] + "-phi 0 -osc 6 -phisteps 3 -misset 10 20 30".split()
    s = ComparisonSession(rotating, EngineOptions(c_binary=str(wrapper)))
    py = s.run_side("b")
    # The pixel where the carry-over matters most (our C with it on vs off).
    on, off = (run_c(rotating + ["-phi0_carryover", x], binary=c_binary, threads=1).image for x in ("on", "off"))
    slow, fast = np.unravel_index(int(np.argmax(np.abs(on - off))), on.shape)
    assert on[slow, fast] != off[slow, fast]
    insp = s.inspect_pixel(int(slow), int(fast))
    assert insp.error_a is None and insp.trace_a is not None and not insp.trace_a.samples
    curve = insp.curves["a"]
    assert insp.comparison is None and len(curve.ticks) == 3
    assert [phi for phi, _ in curve.ticks] == pytest.approx([0.0, 2.0, 4.0])
    # Each tick's contribution is the single-tick value / 3, so their sum is the fresh-rotation 3-tick value.
    assert curve.sum_value == pytest.approx(float(py.result.image[slow, fast]), rel=1e-5)
    # The binary's own image holds the carry-over (tick 0 reuses tick 2's lattice): the mismatch is named.
    assert curve.image_value is not None and curve.image_value != pytest.approx(curve.sum_value, rel=1e-5)
    assert curve.explanation.startswith("the image holds ") and "the φ=0 carry-over" in curve.explanation
    assert "no per-phi trace" in insp.describe()
    folder = write_snapshot(s.record(inspections=[insp]), tmp_path / "out", prefix="trace")
    text = (folder / f"{insp.stem}_{side_tag('a', s.label('a'))}_curve.csv").read_text()
    header = text.splitlines()[2]
    assert header == "phi_tic,phi_deg,I_tick"  # one phi_deg column, no duplicate
    assert (folder / f"{insp.stem}.csv").is_file()  # the torch side's per-phi table is still written


# ---- threads of a binary other than our C reference (spec 8.3, decisions D3) -------------------------------------
def _upstream_like(folder: Path, c_binary: Path) -> Path:
    """A 'nanoBragg' that is not our build (a wrapper around it): the thread rule applies to it."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = folder / "nanoBragg"
    nb.write_text(f'#!/bin/sh\nexec "{c_binary}" "$@"\n')
    nb.chmod(nb.stat().st_mode | stat.S_IXUSR)
    return nb


def test_a_binary_other_than_ours_runs_with_one_thread_at_a_zero_degree_tick_and_the_verdict_says_why(
        tmp_path, c_binary):
    nb = _upstream_like(tmp_path / "bin", c_binary)
    s = ComparisonSession(TINY, SessionOptions(SideOptions(f"bin:{nb}", carryover=False), SideOptions("cref")))
    side = s.sides["a"]
    # TINY has a tick at exactly 0 deg (-phi 0) and the binary's carry-over counts as on (it may ignore the flag).
    assert side.label.startswith("upstream nanoBragg ") and side.job.threads == 1
    assert "OMP_NUM_THREADS=1" in side.notes[0] and "spec 8.3" in side.notes[0]
    a, b = s.run_both()
    assert a.ok and a.result.meta["env"] == {"OMP_NUM_THREADS": "1"}
    verdict = s.verdict(s.compare(a.result, b.result))
    assert "runs with OMP_NUM_THREADS=1" in verdict.sentence()
    manifest = s.manifest({"a": a, "b": b})
    assert manifest["sides"]["a"]["threads"] == 1 and manifest["sides"]["a"]["notes"] == list(side.notes)
    # Our own C reference is exempt: its carry-over does not depend on threads (decisions D3).
    assert s.sides["b"].job.threads is None and s.sides["b"].notes == ()


def test_more_threads_for_such_a_binary_are_the_users_choice_with_a_warning(tmp_path, c_binary):
    nb = _upstream_like(tmp_path / "bin", c_binary)
    s = ComparisonSession(TINY, SessionOptions(SideOptions(f"bin:{nb}", threads=2)))
    assert s.sides["a"].job.threads == 2 and dict(s.sides["a"].job.env) == {"OMP_NUM_THREADS": "2"}
    assert any("runs with 2 threads" in w and "may change from run to run" in w for w in s.warnings)


def test_no_zero_degree_tick_means_no_thread_rule(tmp_path, c_binary):
    nb = _upstream_like(tmp_path / "bin", c_binary)
    shifted = TINY[:TINY.index("-phi")] + ["-phi", "0.5", "-osc", "1", "-phisteps", "3"]
    s = ComparisonSession(shifted, SessionOptions(SideOptions(f"bin:{nb}")))
    assert s.sides["a"].job.threads is None and s.sides["a"].notes == ()


def test_sequential_order_puts_the_in_process_engine_first(c_binary):
    """run_order: our in-process engine before a process engine on either side (its first image in the window within
    a second, issue 19); two engines of one kind keep A then B."""
    def order(a: str, b: str) -> tuple[str, str]:
        return ComparisonSession(TINY, SessionOptions(SideOptions(a), SideOptions(b))).run_order()

    c = f"bin:{c_binary}"
    assert order(c, "torch:float32") == ("b", "a")
    assert order("torch:float32", c) == ("a", "b")
    assert order(c, c) == ("a", "b")
    assert order("torch:float32", "torch:float64") == ("a", "b")


def test_a_gpu_side_runs_beside_the_cpu_side_and_auto_is_sequential_otherwise():
    assert ComparisonSession(TINY).schedule() == "sequential"
    gpu = ComparisonSession(TINY, SessionOptions(b=SideOptions("torch:float32:cuda")))
    assert gpu.schedule() == "parallel"
    forced = ComparisonSession(TINY, SessionOptions(schedule="parallel"))
    assert forced.schedule() == "parallel"


def test_the_table_of_a_side_without_per_phi_samples_has_one_phi_deg_column_per_side(tmp_path, c_binary):
    # Side A prints no per-phi trace (TRACE lines filtered out): the per-phi table holds side B's columns only,
    # with a_/b_ angles once each (no duplicate b_phi_deg column).
    wrapper = tmp_path / "quiet_nb"
    wrapper.write_text(f'#!/bin/sh\n"{c_binary}" "$@" | grep -v "^TRACE"\nexit 0\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    s = ComparisonSession(TINY, SessionOptions(SideOptions(f"bin:{wrapper}"), SideOptions("torch")))
    insp = s.inspect_pixel(16, 16)
    folder = write_snapshot(s.record(inspections=[insp]), tmp_path / "out", prefix="trace")
    header = (folder / f"{insp.stem}.csv").read_text().splitlines()[0].split(",")
    assert header.count("b_phi_deg") == 1 and header.count("a_phi_deg") == 1
    assert len(header) == len(set(header))
