"""Issue 19: a trace run of a binary whose trace prints the pixel's stored float value (`TRACE_C:
floatimage_accumulated`) sends its float file to /dev/null, once that value has been seen equal to the binary's
float file (c_reference/trace_value.py, driver.trace_c_run). The real golden C gives identical inspections with
and without its float file; fakes (faults) show that a binary whose value lies is never trusted, that one that
stops printing it is run again with the float file, and that a NaN value is refused."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from app.core.known_cases import CLI_FLAGS_003_PIXEL, cli_flags_003_args
from app.core.session import ComparisonSession, SessionOptions, SideOptions
from c_reference import trace as c_trace
from c_reference.driver import TraceValues, binary_sha256, trace_c_run
from tracing.records import EngineError

ARGS = ["-detpixels", "8", "-default_F", "1", "-cell", "10", "10", "10", "90", "90", "90"]

# A fake nanoBragg: float image value s*1000+f; its trace prints the traced pixel's value as FAKE_VALUE says:
# "true" the stored value, "lie" the stored value + 1, "none-later" / "nan-later" true on its first run, then none /
# nan. Every run appends the -floatfile it was given to FAKE_RUNS.
FAKE = f"""#!{sys.executable}
import os, struct, sys
args = sys.argv[1:]
def val(name, n=1):
    i = max(i for i, a in enumerate(args) if a == name)
    return args[i + 1:i + 1 + n]
FLOAT = val("-floatfile")[0]
with open(os.environ["FAKE_RUNS"], "a") as fh:
    fh.write(FLOAT + "\\n")
with open(os.environ["FAKE_RUNS"]) as fh:
    n_run = len(fh.read().split())
vals = [float(s * 1000 + f) for s in range(8) for f in range(8)]
with open(FLOAT, "wb") as fh:
    fh.write(struct.pack("<64f", *vals))
s, f = map(int, val("-trace_pixel", 2))
mode = os.environ.get("FAKE_VALUE", "true")
value = repr(float(s * 1000 + f) + (1.0 if mode == "lie" else 0.0))
if n_run > 1 and mode == "nan-later":
    value = "nan"
print(f"TRACE_CONFIG: tracing pixel (spixel={{s}}, fpixel={{f}})")
print("TRACE_C: hkl_frac 1 2 3")
if not (n_run > 1 and mode == "none-later"):
    print("TRACE_C: floatimage_accumulated " + value)
"""


@pytest.fixture
def fake_nb(tmp_path, monkeypatch):
    runs = tmp_path / "runs.txt"
    monkeypatch.setenv("FAKE_RUNS", str(runs))
    b = tmp_path / "fakenb"
    b.write_text(FAKE)
    b.chmod(0o755)

    def floatfiles() -> list[str]:
        return runs.read_text().split() if runs.exists() else []
    return b, floatfiles


def test_a_binary_whose_value_matches_its_float_file_then_writes_none(fake_nb):
    b, floatfiles = fake_nb
    tv = TraceValues()
    first = trace_c_run(ARGS, 3, 5, binary=b, trace_values=tv)      # writes its float file: the cross-check
    assert floatfiles()[0] != os.devnull and tv.trusted(binary_sha256(b))
    later = trace_c_run(ARGS, 4, 6, binary=b, trace_values=tv)
    assert floatfiles()[1] == os.devnull
    assert first.image[3, 5] == 3005.0 and later.image[4, 6] == 4006.0     # s*1000+f, from the trace
    assert later.image.shape == (8, 8) and np.count_nonzero(later.image) == 1   # that pixel only
    assert later.trace is not None and later.trace.scalar("floatimage_accumulated") == 4006.0


def test_without_trace_values_or_for_a_command_the_float_file_is_always_written(fake_nb):
    b, floatfiles = fake_nb
    tv = TraceValues()
    for _ in range(2):
        trace_c_run(ARGS, 3, 5, binary=b)
        trace_c_run(ARGS, 3, 5, command=[str(b)], trace_values=tv)   # a command may write files its own way
    assert os.devnull not in floatfiles() and len(floatfiles()) == 4 and tv.learnt == {}


def test_a_binary_whose_value_differs_from_its_float_file_is_never_trusted(fake_nb, monkeypatch):
    monkeypatch.setenv("FAKE_VALUE", "lie")
    b, floatfiles = fake_nb
    tv = TraceValues()
    trace_c_run(ARGS, 3, 5, binary=b, trace_values=tv)
    later = trace_c_run(ARGS, 4, 6, binary=b, trace_values=tv)
    assert tv.learnt == {binary_sha256(b): False}
    assert os.devnull not in floatfiles()
    assert later.image[4, 6] == 4006.0          # the float file's value, not the trace's 4007


def test_a_trusted_binary_that_prints_no_value_is_run_again_with_its_float_file(fake_nb, monkeypatch):
    monkeypatch.setenv("FAKE_VALUE", "none-later")
    b, floatfiles = fake_nb
    tv = TraceValues()
    trace_c_run(ARGS, 3, 5, binary=b, trace_values=tv)
    later = trace_c_run(ARGS, 4, 6, binary=b, trace_values=tv)
    runs = floatfiles()
    assert len(runs) == 3 and runs[1] == os.devnull and runs[2] != os.devnull   # tried, then the float file
    assert later.image[4, 6] == 4006.0 and not tv.trusted(binary_sha256(b))


def test_a_nan_value_from_the_trace_is_refused(fake_nb, monkeypatch):
    monkeypatch.setenv("FAKE_VALUE", "nan-later")
    b, _ = fake_nb
    tv = TraceValues()
    trace_c_run(ARGS, 3, 5, binary=b, trace_values=tv)
    with pytest.raises(EngineError, match=r"traced pixel \(slow 4, fast 6\) of fakenb is nan in its trace"):
        trace_c_run(ARGS, 4, 6, binary=b, trace_values=tv)


@pytest.mark.slow
def test_the_golden_c_gives_identical_inspections_with_and_without_its_float_file(cli_flags_003, golden_c,
                                                                                   monkeypatch):
    modes: list[bool] = []     # float_from_trace of each C trace run
    real = c_trace.run_c

    def watched(*a, **k):
        res = real(*a, **k)
        modes.append(bool(k.get("float_from_trace")))
        return res

    monkeypatch.setattr(c_trace, "run_c", watched)
    args = cli_flags_003_args(cli_flags_003)
    opts = SessionOptions(SideOptions(f"bin:{golden_c}"), SideOptions("torch:float32"))
    slow, fast = CLI_FLAGS_003_PIXEL
    tv = TraceValues()
    # A first session's click: the float file written and cross-checked against the trace's value.
    assert ComparisonSession(args, opts, trace_values=tv).inspect_pixel(slow, fast + 2).errors == {}
    assert modes == [False] and tv.trusted(binary_sha256(golden_c))
    # The next Run's session (the window passes its TraceValues on): no float file.
    without = ComparisonSession(args, opts, trace_values=tv).inspect_pixel(slow, fast)
    with_file = ComparisonSession(args, opts).inspect_pixel(slow, fast)      # knows nothing: writes it
    assert modes == [False, True, False]
    assert without.errors == with_file.errors == {}
    assert without.traces == with_file.traces and without.comparison == with_file.comparison
    assert len(without.traces["a"].series()) == 10                         # -phisteps 10
    # The driver's image value too: the trace's value is the float file's, bit for bit.
    by_trace = trace_c_run(args, slow, fast, binary=golden_c, trace_values=tv)
    by_file = trace_c_run(args, slow, fast, binary=golden_c)
    assert by_trace.run_argv[by_trace.run_argv.index("-floatfile") + 1] == os.devnull
    assert by_file.image[slow, fast].tobytes() == by_trace.image[slow, fast].tobytes()
    assert by_file.image[slow, fast] > 0
