"""A real single-node SLURM (Debian's slurm-wlm + munge) for tests, everything in one scratch folder.

Facts from ../shared/notes/slurm-single-node.md: munged with its own key, then slurmctld and slurmd, as root on
localhost, no cgroups. Here every path (key, socket, pid files, state, spool, logs) lives in the scratch folder and
the daemons listen on free ports, so nothing of the machine's own configuration is read or touched. `stop()` cancels
every job, then stops exactly the daemons this object started (by the pids in their pid files) and always runs.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo")


class SlurmUnavailable(RuntimeError):
    """SLURM cannot start here; the message says exactly why (a pytest skip reason)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(name: str) -> str:
    for folder in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        p = Path(folder, name)
        if p.is_file():
            return str(p)
    found = shutil.which(name)
    if found is None:
        raise SlurmUnavailable(f"{name} not found (apt-get install slurm-wlm munge)")
    return found


class LocalSlurm:
    """start() -> self with .conf (SLURM_CONF), .env (environment for the clients), .partition; stop()."""

    partition = "debug"

    def __init__(self, scratch: Path) -> None:
        self.dir = Path(scratch)
        self.conf = self.dir / "slurm.conf"
        self.pids: dict[str, int] = {}
        self.env = dict(os.environ)

    def start(self, timeout_s: float = 60.0) -> LocalSlurm:
        if os.geteuid() != 0:
            raise SlurmUnavailable("the daemons run as root here (the notes' set-up) and this test is not root")
        exe = {n: _which(n) for n in DAEMONS + CLIENTS}
        d = self.dir
        for sub in ("munge", "state", "spool", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d / "munge", 0o700)
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        sock = d / "munge" / "munge.socket"
        self._run([exe["munged"], "--force", f"--key-file={key}", f"--socket={sock}",
                   f"--pid-file={d / 'munge' / 'munged.pid'}", f"--log-file={d / 'log' / 'munged.log'}",
                   f"--seed-file={d / 'munge' / 'munged.seed'}"], "munged")
        self._pid("munged", d / "munge" / "munged.pid", timeout_s)
        host = socket.gethostname().split(".")[0]
        mem_mb = max(1024, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1024)
        self.conf.write_text("\n".join([
            "ClusterName=nbparitytest", f"SlurmctldHost={host}", f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}", "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge",
            f"AuthInfo=socket={sock}", "CredType=cred/munge", "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none", "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory", "ReturnToService=2", "MpiDefault=none",
            f"StateSaveLocation={d / 'state'}", f"SlurmdSpoolDir={d / 'spool'}",
            f"SlurmctldPidFile={d / 'slurmctld.pid'}", f"SlurmdPidFile={d / 'slurmd.pid'}",
            f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={d / 'log' / 'slurmd.log'}",
            f"NodeName={host} CPUs={os.cpu_count() or 1} RealMemory={mem_mb} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes={host} Default=YES State=UP MaxTime=INFINITE", ""]))
        self.env["SLURM_CONF"] = str(self.conf)
        self._run([exe["slurmctld"], "-f", str(self.conf)], "slurmctld")
        self._pid("slurmctld", d / "slurmctld.pid", timeout_s)
        self._run([exe["slurmd"], "-f", str(self.conf)], "slurmd")
        self._pid("slurmd", d / "slurmd.pid", timeout_s)
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            out = subprocess.run([exe["sinfo"], "-h", "-o", "%t"], env=self.env, capture_output=True, text=True)
            state = out.stdout.strip() or out.stderr.strip()
            if state in ("idle", "mix", "alloc"):
                return self
            time.sleep(0.5)
        raise SlurmUnavailable(f"the node did not come up within {timeout_s:.0f} s (sinfo: {state!r}); "
                               f"slurmd log: {self.log_tail('slurmd.log')}")

    def _run(self, cmd: list[str], name: str) -> None:
        out = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise SlurmUnavailable(f"{name} did not start (exit {out.returncode}): "
                                   f"{(out.stderr or out.stdout).strip()[-500:]}")

    def _pid(self, name: str, pid_file: Path, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self.pids[name] = int(pid_file.read_text().split()[0])
                return
            except (OSError, ValueError, IndexError):
                time.sleep(0.1)
        raise SlurmUnavailable(f"{name} wrote no pid file {pid_file} within {timeout_s:.0f} s; "
                               f"log: {self.log_tail(name + '.log')}")

    def log_tail(self, name: str, n: int = 600) -> str:
        try:
            return (self.dir / "log" / name).read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def jobs(self) -> list[str]:
        out = subprocess.run([_which("squeue"), "-h", "-o", "%i"], env=self.env, capture_output=True, text=True)
        return out.stdout.split()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Cancel every job, wait for them to end, then stop our daemons (reverse order) and wait for each."""
        if "slurmctld" in self.pids:
            try:
                subprocess.run([_which("scancel"), "--full", "--user=root"], env=self.env, capture_output=True,
                               timeout=30)
                deadline = time.monotonic() + timeout_s
                while self.jobs() and time.monotonic() < deadline:
                    time.sleep(0.5)
            except (OSError, subprocess.SubprocessError, SlurmUnavailable):
                pass
        for name in reversed(DAEMONS):
            pid = self.pids.pop(name, None)
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + timeout_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
            try:  # reap it when it is our child (a subreaper inherits daemonised processes)
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
