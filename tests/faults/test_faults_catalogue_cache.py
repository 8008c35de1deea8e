"""The compiled kernel cache and build fault catalogue (fault_cases_cache.py): every row ends in its class.

Each case runs child processes (a torch import each: seconds), so the whole catalogue takes about a minute.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from simulator import compiled
from fault_cache_harness import classify, run_case
from fault_cases_cache import CACHE_CASE_IDS, CACHE_CASES, CacheCase

REPO = Path(__file__).resolve().parents[2]
HANDLED = {"compiled", "eager", "stopped"}


@pytest.fixture(scope="module")
def good_so() -> Path:
    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("no C++ compiler: the cases need one correct library")
    k = compiled.kernel()
    if k is None:
        pytest.skip(f"no compiled kernel here: {compiled.unavailable_reason()}")
    return k.path


@pytest.mark.parametrize("case", CACHE_CASES, ids=CACHE_CASE_IDS)
def test_cache_fault(case: CacheCase, tmp_path: Path, good_so: Path) -> None:
    if case.plant == "other_owner" and os.getuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    if case.plant == "fast_math_cxx" and shutil.which("g++") is None:
        pytest.skip("the -ffast-math compiler wraps g++")
    run = run_case(case, tmp_path, REPO, good_so)
    got, evidence = classify(case, run)
    assert got == case.expect, f"{case.id}: {got} ({evidence}); stderr tail: {run.err[-800:]}"


def test_remembered_failure_is_not_retried(tmp_path: Path, good_so: Path) -> None:
    """The second process after a hanging build starts no compiler at all (no retry storm): its pid file stays
    empty, and its one line names the marker file to delete."""
    case = next(c for c in CACHE_CASES if c.id == "hanging-compiler-remembered")
    run = run_case(case, tmp_path, REPO, good_so)
    assert not (tmp_path / "pids").exists(), "the second process started the compiler again"
    assert ".failed" in run.err and "delete" in run.err


def test_catalogue_rows_are_well_formed() -> None:
    assert len(set(CACHE_CASE_IDS)) == len(CACHE_CASE_IDS) >= 15
    assert {c.expect for c in CACHE_CASES} <= HANDLED
    assert all(c.done and c.surface for c in CACHE_CASES)
