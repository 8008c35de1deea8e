"""Supervisor of one external engine process (Linux): nothing the engine starts outlives it or nbparity.

Run by c_reference.driver as `python -I -S supervise.py --parent PID --status FILE --scratch DIR -- CMD...`
(standard library only, so it starts in milliseconds: every engine run and every click's trace run pays its start,
so it imports only what the normal path needs; `shutil` is imported where the scratch folder is removed, and the
signal functions come from `_signal`, the C module behind `signal`, without `enum`; issue 19). It

- makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), so descendants the engine orphans, `setsid` ones
  included, are reparented to it and can be found and reaped;
- asks for SIGUSR1 when its parent (nbparity) dies (PR_SET_PDEATHSIG), even by kill -9 (a signal of its own, so
  that it can tell nbparity's death from nbparity's deliberate SIGTERM);
- starts CMD in a new session with PR_SET_PDEATHSIG = SIGKILL (so a killed supervisor takes the engine along);
- on SIGTERM / SIGINT / SIGHUP, or once the engine exits, SIGKILLs every remaining descendant, reaps them all,
  writes `exit N` / `signal N` (the engine's status) or `stopped N` (the signal that stopped it) to FILE and exits 0;
- when the parent died, also removes the scratch folder DIR (nbparity cannot any more). The kernel sends the
  death signal when the parent THREAD that started us exits; in a multi-threaded nbparity being killed, the other
  threads may still be exiting then (getppid() still names nbparity), so it waits, bounded, for the process to go.

The first status line `pid N` is written as soon as the engine runs, so the driver can kill its group should the
supervisor itself be killed.
"""
from __future__ import annotations

import ctypes
import os
import sys
import time

try:  # `signal` is `_signal` (the same functions, int constants) plus enums: importing it costs ~6 ms of enum
    import _signal as signal
except ImportError:  # not CPython
    import signal  # type: ignore[no-redef]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
KILL_ROUNDS_S = 3.0
PARENT_GONE_WAIT_S = 5.0
PARENT_DIED = signal.SIGUSR1


class _Stop(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(root: int) -> list[int]:
    """Pids of every living descendant of `root` (from /proc/*/stat parent links), children first."""
    parent_of: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:  # no procfs (not Linux): only the engine's process group can be reached
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            parent_of[int(name)] = int(fields[1])
    children: dict[int, list[int]] = {}
    for pid, ppid in parent_of.items():
        children.setdefault(ppid, []).append(pid)
    out: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop(0)
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _reap_all() -> dict[int, int]:
    """Reap every exited child without blocking: {pid: raw wait status}."""
    done: dict[int, int] = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done[pid] = status


def kill_everything(engine_pid: int | None) -> dict[int, int]:
    """SIGKILL the engine's group and every descendant until none is left (bounded time); reap them all."""
    reaped: dict[int, int] = {}
    end = time.monotonic() + KILL_ROUNDS_S
    while True:
        if engine_pid is not None:
            try:
                os.killpg(engine_pid, signal.SIGKILL)
            except OSError:
                pass
        left = descendants(os.getpid())
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reaped.update(_reap_all())
        if not left or time.monotonic() > end:
            return reaped
        time.sleep(0.005)


def _status_text(raw: int) -> str:
    if os.WIFSIGNALED(raw):
        return f"signal {os.WTERMSIG(raw)}"
    return f"exit {os.WEXITSTATUS(raw)}"


def _parent_gone(parent: int, wait_s: float) -> bool:
    """True once `parent` is no longer our parent or no longer runs (a zombie counts as gone), within wait_s."""
    end = time.monotonic() + wait_s
    while True:
        if os.getppid() != parent:
            return True
        try:
            with open(f"/proc/{parent}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
            if state in (b"Z", b"X"):
                return True
        except (OSError, IndexError):
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.01)


def _engine_preexec() -> None:
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("supervise.py: usage: --parent PID --status FILE --scratch DIR -- CMD...", file=sys.stderr)
        return 125
    i = argv.index("--")
    opts, cmd = argv[:i], argv[i + 1:]
    named = dict(zip(opts[::2], opts[1::2], strict=False))
    parent, status_path, scratch = int(named["--parent"]), named["--status"], named.get("--scratch")

    def on_signal(signum, _frame):
        raise _Stop(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, PARENT_DIED):
        signal.signal(sig, on_signal)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, PARENT_DIED)
    status = open(status_path, "w", buffering=1)
    engine_pid = None
    outcome = "stopped 0"
    try:
        if os.getppid() != parent:  # the parent died before PDEATHSIG was armed
            raise _Stop(PARENT_DIED)
        try:
            engine_pid = os.fork()
        except OSError as exc:
            outcome = f"spawn-failed {exc.strerror}"
            return 0
        if engine_pid == 0:
            try:
                _engine_preexec()
                os.execvp(cmd[0], cmd)
            except OSError as exc:
                print(f"cannot start {cmd[0]}: {exc.strerror}", file=sys.stderr)
            os._exit(127)
        status.write(f"pid {engine_pid}\n")
        while True:
            pid, raw = os.waitpid(-1, 0)  # any child: orphans reparented to us are reaped too
            if pid == engine_pid:
                outcome = _status_text(raw)
                break
    except _Stop as stop:
        outcome = f"stopped {stop.signum}"
    except ChildProcessError:
        outcome = "exit 127"
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, PARENT_DIED):
            signal.signal(sig, signal.SIG_IGN)  # finish the clean-up whatever arrives now
        reaped = kill_everything(engine_pid)
        if engine_pid in reaped and outcome.startswith("stopped"):
            outcome += f" {_status_text(reaped[engine_pid])}"
        status.write(outcome + "\n")
        status.close()
        died = outcome.startswith(f"stopped {int(PARENT_DIED)}")
        if scratch and (os.getppid() != parent or (died and _parent_gone(parent, PARENT_GONE_WAIT_S))):
            import shutil  # only here: its imports (fnmatch, re, bz2, lzma) cost ~10 ms of every start

            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
