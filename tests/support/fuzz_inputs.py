"""Fuzzed inputs for every reader of user input, and one verdict per input (issue 22).

Shared by the in-suite fuzz run (`tests/faults/test_fuzz.py`, a few dozen seeds per reader) and the long run by hand
(`tests/support/fuzz_long.py`, 10,000 inputs per reader). An input is made from a seed (random.Random), so a finding is
replayed from its seed alone. Readers: the command line (`argv`), the SMV header (`smv`, through -img and -mask) and
the HKL file (`hkl`), each through the PyTorch side (in this process) and through `nbref` (a process).

Verdicts: "accepted", "refused" (the documented error: ConfigError here, exit 9 from nbref), "estimated" (nbref
printed its estimate and was still working at the time bound: a long run, announced, not a hang), and the
findings: "undocumented: <what>" (another exception, another exit status or a signal), "hang" (no answer within the
time bound) and "flood" (more than FLOOD_BYTES of output).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from fault_cases import MASK_OK, smv

# A 4 x 4 detector: an accepted input renders in milliseconds on both engines.
BASE = ["-cell", "100", "100", "100", "90", "90", "90", "-N", "2", "-default_F", "100", "-lambda", "1",
        "-distance", "100", "-pixel", "0.1", "-detpixels", "4", "-oversample", "1", "-nonoise", "-nopgm"]
MEMORY_CAP = 64 << 20          # $NBPARITY_MEMORY_LIMIT: a fuzzed count can only be refused, never built
FLOOD_BYTES = 1 << 20          # nbref's stdout before its answer: bounded lists keep it far below this
READERS = ("argv", "smv", "hkl")

_VALUES = ["0", "1", "-1", "2", "3", "10", "0.5", "-0.5", "100", "1e-300", "1e300", "inf", "-inf", "nan", "-nan",
           "2147483647", "2147483648", "-2147483649", "1000000000", "99999999999999999999", "abc", "", "1e", "0x10",
           "on", "off", "beam", "sample", "random", "1_0", "\u0664", "-", "--", "1e309", "+5", ".5", "5.", "1e-5",
           "\xe9", " 1", "1 ", "0.000001", "360", "-360"]
_NUM = ["0", "1", "-1", "2", "10", "1.5", "-3", "1e3", "1e20", "2147483647", "-2147483648", "2147483648", "inf",
        "nan", "-nan", "1e999", "0x1", "1_0", "+2", ".5", "5.", "e", "#", "abc", "\u0664", "1e-9", "-10", "0.01"]
_SEPS = [" ", "  ", "\t", ",", ";", " \x0b", "\r", " \xa0", ":", "!", "\f"]
_HEADER_KEYS = ["SIZE1", "SIZE2", "PIXEL_SIZE", "WAVELENGTH", "DISTANCE", "CLOSE_DISTANCE", "BEAM_CENTER_X",
                "BEAM_CENTER_Y", "ORGX", "ORGY", "PHI", "OSC_RANGE", "HEADER_BYTES", "TWOTHETA", "BYTE_ORDER"]


def _long_digits(rng: random.Random) -> str:
    """A run of digits long enough to find quadratic parsing (a 16,000-digit token took 9 s) or int() limits."""
    return rng.choice("123456789") * rng.choice([19, 400, 5000, 40000])


def _value(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.05:
        return _long_digits(rng) + rng.choice(["", "x", ".5", "e5"])
    if r < 0.15:
        return repr(rng.uniform(-1e6, 1e6)) if rng.random() < 0.5 else str(rng.randint(-10 ** 10, 10 ** 10))
    return rng.choice(_VALUES)


def argv_input(rng: random.Random) -> list[str]:
    """BASE plus 1-5 known flags (some with the wrong number of values), mangled flags (upstream's substring
    matching: prefixes, suffixes, compounds) and stray values."""
    from simulator.argv import KNOWN_FLAGS, flag_nargs

    flags = sorted(f for f in KNOWN_FLAGS if f not in ("-hkl", "-mat", "-sourcefile", "-mask", "-img", "-dump",
                                                        "-floatfile", "-intfile", "-pgmfile", "-noisefile",
                                                        "-device"))
    out = list(BASE)
    for _ in range(rng.randint(1, 5)):
        r = rng.random()
        flag = rng.choice(flags)
        if r < 0.2:
            flag = flag[:rng.randint(2, len(flag))] + rng.choice(["", "_x", "s", "_seed", flag])
        elif r < 0.27:
            flag = _value(rng)
        n = flag_nargs(flag) or 0
        n = max(0, n + rng.choice([0, 0, 0, 0, -1, 1]))
        out += [flag, *(_value(rng) for _ in range(n))]
    return out


def _text_line(rng: random.Random, columns: tuple[int, int]) -> bytes:
    kind = rng.randint(0, 11)
    if kind == 0:
        return rng.choice(["", "# comment", "   ", "\t#x"]).encode()
    if kind >= 8:  # a good line, so that files get past their first line
        return " ".join(str(rng.randint(-5, 5)) for _ in range(3)).encode() + f" {rng.uniform(0, 100):g}".encode()
    toks = [rng.choice(_NUM) for _ in range(rng.randint(*columns))]
    if kind == 1:
        toks[rng.randrange(len(toks))] = _long_digits(rng) if toks else ""
    line = "".join(t + rng.choice(_SEPS) for t in toks).rstrip(" ").encode("utf-8")
    if kind == 2:
        line += bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return line


def hkl_input(rng: random.Random) -> bytes:
    """An HKL text: 0-8 lines of 3-7 tokens (numbers, junk, huge indices, long digit runs, odd separators)."""
    lines = [_text_line(rng, (3, 7)) for _ in range(rng.randint(0, 8))]
    if rng.random() < 0.1:   # a wide index range: the grid is refused by the budget, never built
        lines.append(f"{rng.choice(['-', ''])}{rng.randint(10 ** 3, 2 ** 31)} 0 0 1".encode())
    return rng.choice([b"\n", b"\r\n"]).join(lines) + rng.choice([b"", b"\n"])


def smv_input(rng: random.Random) -> bytes:
    """An SMV file: a 4 x 4 header with 0-4 extra key=value lines (HEADER_BYTES included), some data, and now and
    then bytes flipped or the file cut short."""
    header = MASK_OK.replace("SIZE1=16", "SIZE1=4").replace("SIZE2=16", "SIZE2=4")
    for _ in range(rng.randint(0, 4)):
        v = _long_digits(rng) if rng.random() < 0.05 else rng.choice(_NUM + ["99999999999999999999",
                                                                            "1000000000000000"])
        header += f"{rng.choice(_HEADER_KEYS)}={v};\n"
    data = bytearray(smv(header, data_bytes=rng.choice([0, 10, 32, 64]),
                         header_bytes=rng.choice([512, 512, 512, 1024])))
    if rng.random() < 0.2:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    if rng.random() < 0.1:
        del data[rng.randint(12, len(data)):]
    return bytes(data)


MAKERS = {"argv": argv_input, "smv": smv_input, "hkl": hkl_input}


def materialise(reader: str, seed: int, folder: Path) -> list[str]:
    """Write the input of (`reader`, `seed`) into `folder`; the command line that reads it (relative names)."""
    rng = random.Random(f"{reader}-{seed}")
    if reader == "argv":
        return argv_input(rng)
    if reader == "hkl":
        (folder / "f.hkl").write_bytes(hkl_input(rng))
        return [*BASE, "-hkl", "f.hkl"]
    (folder / "m.img").write_bytes(smv_input(rng))
    return [*BASE, rng.choice(["-img", "-mask"]), "m.img"]


class _Hang(BaseException):
    """Raised by the interval timer in the middle of a reader that runs past its bound (not an Exception, so no
    `except Exception` in the code under test can swallow it)."""


def _alarm(_sig, _frame):
    raise _Hang


def python_verdict(reader: str, seed: int, folder: Path, limit_s: float = 5.0) -> str:
    """The PyTorch side's readers (parse, validate, read the files, budget: simulator.preflight.check, plus the
    driver's own SMV size reader) on one input, bounded by `limit_s` seconds of wall time (main thread only)."""
    from c_reference.driver import smv_size
    from simulator.config import ConfigError
    from simulator.preflight import check

    argv = materialise(reader, seed, folder)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        if reader == "smv":
            smv_size(folder / "m.img")   # None or a size: anything raised is a finding
        check(argv, cwd=folder)
        return "accepted"
    except ConfigError:
        return "refused"
    except _Hang:
        return "hang"
    except Exception as e:  # noqa: BLE001 - the finding this fuzzing looks for
        return f"undocumented: {type(e).__name__}: {str(e)[:120]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def c_verdict(binary: Path, reader: str, seed: int, folder: Path, limit_s: float = 5.0) -> str:
    """nbref on one input (stdout and stderr to files in `folder`), killed at `limit_s` seconds: still running
    then is "estimated" when its estimate line came out, else "hang"."""
    argv = materialise(reader, seed, folder)
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    env = dict(os.environ, NBPARITY_MEMORY_LIMIT=str(MEMORY_CAP), OMP_NUM_THREADS="1")
    with open(out, "wb") as fo, open(err, "wb") as fe:
        p = subprocess.Popen([str(binary), *argv, "-floatfile", "c.bin"], cwd=folder, stdout=fo, stderr=fe,
                             stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            rc: int | None = p.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    size = out.stat().st_size + err.stat().st_size
    if size > FLOOD_BYTES:
        return f"flood: {size} bytes"
    if rc is None:
        with open(out, "rb") as fh:
            return "estimated" if b"\nnbref: estimate: " in b"\n" + fh.read() else "hang"
    if rc == 0:
        return "accepted"
    if rc == 9:
        return "refused"
    return f"undocumented: exit {rc}" + (f" (signal {-rc})" if rc < 0 else "")


def is_finding(verdict: str) -> bool:
    return verdict.split(":")[0] in ("undocumented", "hang", "flood")


def timed(fn, *args) -> tuple[str, float]:
    t0 = time.monotonic()
    v = fn(*args)
    return v, time.monotonic() - t0
