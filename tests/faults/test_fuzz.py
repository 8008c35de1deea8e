"""Property-based fuzzing (hypothesis) of everything that reads user input (issue 8).

- the argv grammar through the preflight and the engine's set-up: only ConfigError comes out;
- the HKL, source-file, matrix and SMV-header readers: only ConfigError, and the C reference (run on the same
  file through its command line) accepts exactly the files the PyTorch side accepts, exits 0 or 9 and never dies
  on a signal or runs past its limit;
- the HKL reader's fast path (numpy) and its line-by-line path agree on every file;
- the trace parser: only TraceParseError.
Budgets are fixed for CI (derandomized, a fixed number of examples, no example database), about half a minute in
all on two cores. Memory is capped at 64 MiB through $NBPARITY_MEMORY_LIMIT so that a fuzzed count can only be
refused, never built.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fault_cases import BASE, MASK_OK, smv
from simulator.argv import KNOWN_FLAGS, flag_nargs, parse_argv
from simulator.config import ConfigError
from simulator.hkl import _read_hkl_fast, read_hkl
from simulator.preflight import check
from simulator.setup import build_setup
from simulator.textfile import content_lines
from tracing.parse import TraceParseError, parse_trace

MEMORY_CAP = 64 << 20
C_LIMIT_S = 20
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
C_FUZZ = settings(FUZZ, max_examples=120)

# Values chosen to hit every branch of the value checks: signs, zero, tiny, huge, beyond int, non-numbers.
VALUES = st.sampled_from(["0", "1", "-1", "2", "3", "10", "0.5", "-0.5", "100", "1e-300", "1e300", "inf", "-inf",
                          "nan", "2147483647", "2147483648", "1000000000000", "abc", "", "1e", "0x10", "on", "off",
                          "beam", "sample", "1_0", "\u0664", "-", "--"])
FLAGS = st.sampled_from(sorted(f for f in KNOWN_FLAGS if f not in ("-hkl", "-mat", "-sourcefile", "-mask", "-img",
                                                                    "-dump", "-floatfile", "-intfile", "-pgmfile",
                                                                    "-noisefile", "-device")))


@pytest.fixture(autouse=True)
def _memory_cap(monkeypatch):
    monkeypatch.setenv("NBPARITY_MEMORY_LIMIT", str(MEMORY_CAP))


@st.composite
def argvs(draw) -> list[str]:
    out = list(BASE)
    for _ in range(draw(st.integers(1, 4))):
        flag = draw(FLAGS)
        n = flag_nargs(flag) or 0
        out += [flag, *(draw(VALUES) for _ in range(n))]
    return out


@FUZZ
@given(argv=argvs())
def test_argv_through_setup_only_config_error(argv: list[str]) -> None:
    try:
        est = check(argv)
    except ConfigError:
        return
    assert est.bytes <= MEMORY_CAP
    if est.sources * est.mosaic_domains * est.phi_steps > 10 ** 5:
        return  # accepted and budgeted; building its set-up is the render's job, too slow for a fuzz example
    try:
        build_setup(parse_argv(argv).config)
    except ConfigError:
        pass


# ---- readers: PyTorch side and C side on the same file ---------------------------------------------
NUM_TOKENS = st.sampled_from(["0", "1", "-1", "2", "10", "1.5", "-3", "1e3", "1e20", "2147483647", "-2147483648",
                              "inf", "nan", "-nan", "1e999", "0x1", "1_0", "+2", ".5", "5.", "e", "#", "abc",
                              "\u0664", "1e-9", "-10", "0.01"])
SEPARATORS = st.sampled_from([" ", "  ", "\t", ",", ";", " \x0b", "\r", " \xa0", ":", "!"])
JUNK = st.binary(max_size=6)


@st.composite
def text_files(draw, columns: tuple[int, int]) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from(["", "# comment", "   ", "\t#x"])).encode())
            continue
        toks = [draw(NUM_TOKENS) for _ in range(draw(st.integers(*columns)))]
        line = "".join(t + draw(SEPARATORS) for t in toks).rstrip(" ").encode("utf-8")
        if kind == 1:
            line += draw(JUNK)
        lines.append(line)
    return draw(st.sampled_from([b"\n", b"\r\n"])).join(lines) + draw(st.sampled_from([b"", b"\n"]))


def _c_run(c_binary: Path, argv: list[str], cwd: str) -> int:
    p = subprocess.run([str(c_binary), *argv, "-floatfile", "c.bin"], cwd=cwd, capture_output=True,
                       timeout=C_LIMIT_S, env=dict(os.environ, NBPARITY_MEMORY_LIMIT=str(MEMORY_CAP)))
    assert p.returncode in (0, 9), (p.returncode, p.stderr[-1000:])
    return p.returncode


def _both(c_binary: Path, name: str, data: bytes, flag: str, extra: tuple[str, ...] = ()) -> None:
    small = [a if a != "16" else "4" for a in BASE]  # a 4 x 4 detector: the C renders accepted files instantly
    with tempfile.TemporaryDirectory() as d:
        Path(d, name).write_bytes(data)
        argv = [*small, flag, name, *extra]
        try:
            check(argv, cwd=d)
            py_ok = True
        except ConfigError:
            py_ok = False
        c_ok = _c_run(c_binary, argv, d) == 0
        assert py_ok == c_ok, (flag, data, py_ok, c_ok)


@C_FUZZ
@given(data=text_files((3, 7)))
def test_hkl_reader_same_verdict_as_c(data: bytes, c_binary: Path) -> None:
    _both(c_binary, "f.hkl", data, "-hkl")


@C_FUZZ
@given(data=text_files((0, 6)))
def test_sourcefile_reader_same_verdict_as_c(data: bytes, c_binary: Path) -> None:
    _both(c_binary, "s.txt", data, "-sourcefile")


@C_FUZZ
@given(data=text_files((2, 4)))
def test_matrix_reader_same_verdict_as_c(data: bytes, c_binary: Path) -> None:
    _both(c_binary, "A.mat", data, "-mat")


HEADER_KEYS = st.sampled_from(["SIZE1", "SIZE2", "PIXEL_SIZE", "WAVELENGTH", "DISTANCE", "CLOSE_DISTANCE",
                               "BEAM_CENTER_X", "BEAM_CENTER_Y", "ORGX", "ORGY", "PHI", "OSC_RANGE", "HEADER_BYTES"])


@st.composite
def smv_files(draw) -> bytes:
    header = MASK_OK.replace("SIZE1=16", "SIZE1=4").replace("SIZE2=16", "SIZE2=4")
    for _ in range(draw(st.integers(0, 3))):
        header += f"{draw(HEADER_KEYS)}={draw(NUM_TOKENS)};\n"
    return smv(header, data_bytes=draw(st.sampled_from([0, 10, 32, 64])))


@C_FUZZ
@given(data=smv_files(), flag=st.sampled_from(["-mask", "-img"]))
def test_smv_header_reader_same_verdict_as_c(data: bytes, flag: str, c_binary: Path) -> None:
    _both(c_binary, "m.img", data, flag)


@FUZZ
@given(data=text_files((3, 7)))
def test_hkl_fast_path_agrees_with_line_reader(data: bytes) -> None:
    text = data.decode("latin-1")
    fast = _read_hkl_fast(text)
    if fast is None:
        return
    with tempfile.TemporaryDirectory() as d:
        p = Path(d, "f.hkl")
        p.write_bytes(data)
        slow_rows = sum(1 for _ in content_lines(text))
        hkl, F = read_hkl(str(p))
    assert len(F) == slow_rows and np.array_equal(fast[0], hkl) and np.array_equal(fast[1], F)


@FUZZ
@given(data=st.binary(max_size=300))
def test_readers_on_raw_bytes_only_config_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        for flag, name in (("-hkl", "f.hkl"), ("-sourcefile", "s.txt"), ("-mat", "A.mat"), ("-mask", "m.img"),
                           ("-img", "i.img")):
            Path(d, name).write_bytes(data if flag not in ("-mask", "-img") else b"{\nHEADER_BYTES=512;\n" + data)
            try:
                check([*BASE, flag, name], cwd=d)
            except ConfigError:
                pass


# ---- the trace parser ------------------------------------------------------------------------------
TRACE_HEADS = st.sampled_from(["TRACE_C:", "TRACE_PY:", "TRACE_C_PHI", "TRACE_PY_PHI", "TRACE_C_PHI:", "TRACE",
                               "TRACE_CONFIG: tracing pixel (spixel=1, fpixel=2)", "noise"])
TRACE_TOKENS = st.one_of(
    st.sampled_from(["phi_tic=0", "phi_tic=1", "phi_tic=1.5", "phi_tic=inf", "phi_tic=1e300", "phi_deg=0.1",
                     "k_frac=0.5", "F_latt_b=1", "F_latt=nan", "layer=0", "layer=-1", "src=1e400", "mos=x",
                     "=1", "a=", "=", "key", "pixel_pos", "1 2 3", "[1;2]", "h=1", "l:2", "x.y-z=3", "(", ")"]),
    st.text(alphabet=st.characters(codec="latin-1"), max_size=8))


@st.composite
def trace_texts(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        toks = [draw(TRACE_TOKENS) for _ in range(draw(st.integers(0, 7)))]
        lines.append(draw(TRACE_HEADS) + " " + " ".join(toks))
    return "\n".join(lines)


@settings(FUZZ, max_examples=400)
@given(text=trace_texts())
def test_trace_parser_only_trace_parse_error(text: str) -> None:
    try:
        parse_trace(text, "c", 1, 2)
    except TraceParseError:
        pass


# ---- issue 22: every reader on both sides, each input bounded in time (fuzz_inputs.py) ----------------------
# The long run by hand is fuzz_long.py (10,000 inputs per reader and side); the suite runs a few seeds each.
from fuzz_inputs import READERS, c_verdict, is_finding, python_verdict  # noqa: E402

INPUT_LIMIT_S = 10.0   # a hang fails the example instead of stalling the suite; each input takes milliseconds


@settings(FUZZ, max_examples=40)
@given(seed=st.integers(0, 2 ** 31))
@pytest.mark.parametrize("reader", READERS)
def test_python_readers_documented_errors_only_and_no_hang(reader: str, seed: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        verdict = python_verdict(reader, seed, Path(d), INPUT_LIMIT_S)
    assert not is_finding(verdict), (reader, seed, verdict)


@settings(FUZZ, max_examples=15)
@given(seed=st.integers(0, 2 ** 31))
@pytest.mark.parametrize("reader", READERS)
def test_c_readers_exit_0_or_9_no_hang_no_flood(reader: str, seed: int, c_binary: Path) -> None:
    with tempfile.TemporaryDirectory() as d:
        verdict = c_verdict(c_binary, reader, seed, Path(d), INPUT_LIMIT_S)
    assert not is_finding(verdict), (reader, seed, verdict)


# Seeds of tests/support/fuzz_long.py that found something before the fixes (short SMV files whose HEADER_BYTES exceeds
# their size: a negative read length in the driver's smv_size).
@pytest.mark.parametrize("reader,seed", [("smv", 47), ("smv", 149), ("smv", 372)])
def test_fuzz_findings_stay_fixed(reader: str, seed: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        verdict = python_verdict(reader, seed, Path(d), INPUT_LIMIT_S)
    assert not is_finding(verdict), verdict


def test_side_match_nan_is_a_config_error() -> None:
    """-misset_seed N a b is also read as -misset N a b by upstream's substring match, with atof: "nan" became a
    float NaN that format_value could not write (ValueError); now the value check refuses it."""
    from simulator.argv import format_value
    assert format_value(float("nan")) == "nan"
    with pytest.raises(ConfigError, match="-misset"):
        parse_argv([*BASE, "-misset_seed", "1", "nan", "nan"])


def test_huge_atoi_saturates_like_strtol() -> None:
    """int() of more than 4300 digits raises ValueError; the C's atoi/strtol saturate instead."""
    from simulator.argv import LONG_MAX, _c_number
    assert _c_number("9" * 5000, True) == LONG_MAX and _c_number("-" + "9" * 5000, True) == -LONG_MAX - 1
    assert _c_number("123abc", True) == 123


def test_long_digit_token_is_linear() -> None:
    """A 16,000-digit token took 9 s in the decimal regex (quadratic backtracking: the HKL hang); 10^6 digits now
    answer within the bound (an interval timer turns a hang into a failure)."""
    import signal

    from simulator.textfile import decimal

    def alarm(_s, _f):
        raise TimeoutError("decimal() hung on a long token")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, INPUT_LIMIT_S)
    try:
        assert decimal("1" * 10 ** 6 + "x") is None and decimal("1" * 1000 + ".5e3") == float("1" * 1000 + ".5e3")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("header_bytes", [b"99999999999999999999999", b"9" * 5000, b"1000000000000000", b"1024"])
def test_smv_size_reads_no_more_than_the_file(header_bytes: bytes, tmp_path: Path) -> None:
    """HEADER_BYTES is untrusted: 10^15 announced bytes raised MemoryError in the driver's smv_size, 5000 digits
    ValueError, and 1024 on a 200-byte file a negative read. Each gives the header's size now (None when the bytes
    that are there hold no SIZE1/SIZE2); the preflight answers with the documented error at most."""
    from c_reference.driver import smv_size
    data = smv(MASK_OK).replace(b"HEADER_BYTES=512", b"HEADER_BYTES=" + header_bytes)
    for size, body in ((len(data), data), (200, data[:200])):
        p = tmp_path / f"h{size}.img"
        p.write_bytes(body)
        assert smv_size(p) == ((16, 16) if b"SIZE2=16" in body else None)
        try:
            check([*BASE, "-img", str(p)])
        except ConfigError:
            pass


@pytest.mark.parametrize("flag", ["-mask", "-img"])
def test_smv_header_ends_at_a_nul_byte_on_both_sides(flag: str, tmp_path: Path, c_binary: Path) -> None:
    """Fuzz seeds 6231 and 7490 (tests/support/fuzz_long.py, smv): a NUL byte before SIZE1/SIZE2 hides them from the C,
    which reads the header as a C string; the PyTorch side read past it and accepted a mask the C refused."""
    from c_reference.driver import smv_size
    header = MASK_OK.replace("BYTE_ORDER=little_endian", "BYTE_ORDER=lit\0le_endian")
    _both(c_binary, "m.img", smv(header.replace("SIZE1=16", "SIZE1=4").replace("SIZE2=16", "SIZE2=4"), 32), flag)
    (tmp_path / "m.img").write_bytes(smv(header))
    assert smv_size(tmp_path / "m.img") is None
    if flag == "-mask":
        with pytest.raises(ConfigError, match="no image size"):
            check([*BASE, "-mask", str(tmp_path / "m.img")])


def test_smv_reader_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """A FIFO as -img would block the reader forever: refused before it is opened for reading."""
    from simulator.smv_in import load_smv
    fifo = tmp_path / "pipe.img"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="regular file"):
        load_smv(str(fifo), "-img")
