"""Dask worker preload of the sweep's LocalCluster: the worker process ignores SIGINT.

A terminal's Ctrl-C goes to the whole foreground process group; the sweep process handles it (cancels the running
cases, closes the cluster), so a worker must neither die half-way through writing a bundle nor print a traceback.
"""
from __future__ import annotations

import signal
import threading


def dask_setup(worker) -> None:
    """Called by distributed in the worker process as it starts (on its main thread, the event loop's)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
