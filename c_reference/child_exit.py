"""Waiting for a child process to end without a polling delay (issue 19): on Linux a pidfd (pidfd_open, 5.3+)
becomes readable the moment the child exits, so a wait of up to `timeout_s` returns at once then. Where pidfds
are missing or refused (another OS, a seccomp filter), the wait sleeps its timeout and the caller's loop polls."""
from __future__ import annotations

import logging
import os
import select
import threading
import time

log = logging.getLogger(__name__)


class ChildExit:
    """wait(timeout_s) blocks until the child `pid` (not yet reaped) has ended or timeout_s (s) passed, or
    `cancel` was set (only without a pidfd: a cancel is then seen at once; with one, at the end of the timeout).
    Returns True when the wait ended because the child did. close() releases the descriptor."""

    def __init__(self, pid: int, cancel: threading.Event | None = None):
        self._cancel = cancel
        self._fd: int | None = None
        self._poll: select.poll | None = None
        try:
            # The child is ours and not reaped, so its pid cannot be reused before this opens it (a zombie opens).
            self._fd = os.pidfd_open(pid)
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)
        except (AttributeError, OSError) as exc:
            log.debug("no pidfd for pid %d (%s): polling", pid, exc)
            self.close()

    @property
    def immediate(self) -> bool:
        """Whether the child's end wakes a wait at once (a pidfd is open)."""
        return self._poll is not None

    def wait(self, timeout_s: float) -> bool:
        timeout_s = max(0.0, timeout_s)
        if self._poll is not None:
            try:
                return bool(self._poll.poll(timeout_s * 1000.0))
            except OSError:  # EINTR is retried by Python; anything else: fall back to sleeping
                self.close()
        if self._cancel is not None:
            self._cancel.wait(timeout_s)
        else:
            time.sleep(timeout_s)
        return False

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = None
        self._poll = None
