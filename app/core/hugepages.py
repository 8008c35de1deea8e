"""NumPy's transparent-huge-page advice, switched off for the window's process (issue 19).

NumPy asks the kernel for huge pages (madvise MADV_HUGEPAGE) on every array of 4 MB or more. Where the kernel's
THP defrag policy is "madvise" (a common default), each first touch of such an array may then stall in direct
memory compaction and zero 2 MB at a time. The display plan of two 6-megapixel images makes tens of such short-lived
arrays: measured on the 2-core test machine, 0.55 s of the plan's 1.0 s CPU was kernel time with the advice on,
0.12 s with it off. The values computed are the same either way; only the page size of the memory differs.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)
ENV = "NUMPY_MADVISE_HUGEPAGE"   # NumPy's own switch: a user who set it keeps their choice


def avoid_hugepage_stalls() -> bool:
    """Turn NumPy's huge-page advice off for this process unless NUMPY_MADVISE_HUGEPAGE is set; True when
    turned off here. It stays off for the process (app.widgets.display_planner calls this; again is harmless)."""
    if os.environ.get(ENV) is not None:
        return False
    import numpy._core.multiarray as multiarray   # where NumPy >= 2 keeps the switch (not in its type stubs)
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is None:  # another NumPy layout: keep its default
        log.debug("numpy has no _set_madvise_hugepage; huge-page advice left as it is")
        return False
    switch(False)
    return True
