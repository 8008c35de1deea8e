"""Process helpers shared by the lifecycle and driver tests."""
from __future__ import annotations

import time
from pathlib import Path


def gone(pid: int, wait_s: float) -> bool:
    """True once pid no longer runs, within wait_s seconds (a zombie waiting to be reaped counts as gone)."""
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False
