"""A fake nanoBragg-compatible program with one behaviour per mode: `python fake_nb.py MODE <nanoBragg flags>`.

Modes: ok (writes the float image s*1000+f), sleep (sleeps 60 s), setsid (forks a `setsid` child that sleeps, then
sleeps itself), setsid-exit (forks a `setsid` child that sleeps, writes the image and exits 0 at once), crash
(SIGSEGV), exit:N (exit status N), garbage (10 MB of random bytes on stdout, then the image), wrong-size (a float
file 4 bytes short), no-output (exits 0 without a float file), nan (an image with one NaN), ignore-term (ignores
SIGTERM, sleeps), outputs (the image, plus the -intfile/-pgmfile/-noisefile it was given, each as a small file).
Pids go to $FAKE_PIDS ("engine child", child 0 when none) as soon as they are known. Size: -detpixels N (8).
"""
from __future__ import annotations

import os
import signal
import struct
import sys
import time


def val(args: list[str], name: str, n: int = 1) -> list[str] | None:
    v = None
    for i, a in enumerate(args):
        if a == name and i + n < len(args):
            v = args[i + 1:i + 1 + n]
    return v


def write_image(args: list[str], short: int = 0, nan: bool = False) -> None:
    n = int(val(args, "-detpixels")[0]) if val(args, "-detpixels") else 8
    vals = [float(s * 1000 + f) for s in range(n) for f in range(n)]
    if nan:
        vals[n + 1] = float("nan")
    data = struct.pack(f"<{len(vals)}f", *vals)
    with open(val(args, "-floatfile")[0], "wb") as fh:
        fh.write(data[:len(data) - short] if short else data)


def note_pids(child: int = 0) -> None:
    path = os.environ.get("FAKE_PIDS")
    if path:
        with open(path + ".tmp", "w") as fh:
            fh.write(f"{os.getpid()} {child}")
        os.replace(path + ".tmp", path)


def fork_setsid_child() -> int:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        time.sleep(60)
        os._exit(0)
    return pid


def main(mode: str, args: list[str]) -> int:
    print(f"fake nanoBragg ({mode})", flush=True)
    if mode in ("sleep", "ignore-term"):
        if mode == "ignore-term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        note_pids()
        print("1% done", flush=True)
        time.sleep(60)
        return 0
    if mode in ("setsid", "setsid-exit"):
        child = fork_setsid_child()
        note_pids(child)
        if mode == "setsid":
            print("1% done", flush=True)
            time.sleep(60)
        write_image(args)
        return 0
    note_pids()
    if mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode.startswith("exit:"):
        print("cannot open foo.hkl", file=sys.stderr)
        return int(mode[5:])
    if mode == "garbage":
        out = sys.stdout.buffer
        for _ in range(10):
            out.write(os.urandom(1 << 20))
        out.write(b"\nlast line after the garbage\n")
        out.flush()
    if mode == "no-output":
        return 0
    if mode == "outputs":
        for flag in ("-intfile", "-pgmfile", "-noisefile"):
            v = val(args, flag)
            if v:
                with open(v[0], "w") as fh:
                    fh.write(f"{flag} from cwd {os.getcwd()}\n")
    write_image(args, short=4 if mode == "wrong-size" else 0, nan=mode == "nan")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
