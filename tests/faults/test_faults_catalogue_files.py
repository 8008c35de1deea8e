"""The fault catalogue of the files nbparity reads back (issue 18, part B): every row of
`fault_cases_files.CASES` (sweeps, bundles, settings, loaded images) run here, in this process, must come out
`handled`: refused with every one of its words (the file, the field, what was expected), or, for a bad setting or
a dead writer's leftovers, accepted with the defaults and said in a log line. Any other class (traceback, silent,
data loss, outside, misleading, orphan) fails with the message that was seen. `fault_baseline_files.py` replays
the same rows against an older checkout for the before -> after counts."""
from __future__ import annotations

import os

import pytest

from fault_cases_files import CASE_IDS, CASES, CLASSES, SURFACES, FileCase
from fault_probes_files import observe

pytestmark = pytest.mark.gui   # settings and image rows open Qt widgets


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_every_file_fault_is_handled(case: FileCase, tmp_path, qapp) -> None:
    if "nonroot" in case.needs and os.geteuid() == 0:
        pytest.skip("permissions do not bind root: a chmod 000 file is still readable")
    cls, message = observe(case, tmp_path)
    assert cls == "handled", (case.id, cls, message)
    for w in case.words:   # observe checked them; said again here for the failure message
        assert w.lower() in message.lower(), (case.id, w, message)


def test_the_catalogue_covers_every_surface_with_the_probe_kinds() -> None:
    """Each surface has the 125-fault probe's kinds of case: garbage, empty or truncated content, wrong types,
    links or escapes, and (where the file has a version) a newer one; every row's probe exists."""
    import fault_probes_files as probes
    kinds = {s: {c.kind for c in CASES if c.surface == s} for s in SURFACES}
    for surface in SURFACES:
        assert {"garbage", "wrong-type"} <= kinds[surface], surface
        assert kinds[surface] & {"empty", "truncated"}, surface
    assert {"symlink", "escape", "newer-version", "forged", "huge"} <= kinds["bundles"]
    assert {"forged", "escape", "huge", "dead", "data loss"} <= kinds["sweeps"]
    assert "newer-version" in kinds["settings"] and "symlink" in kinds["images"]
    assert all(callable(getattr(probes, c.probe_name, None)) for c in CASES)
    assert set(CLASSES) >= {"crash", "hang", "traceback", "silent", "data loss", "orphan", "misleading", "handled"}
