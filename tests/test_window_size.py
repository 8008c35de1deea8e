"""The window stays a composition (issue 7): app/main_window.py under 400 lines, the run's logic in app.run_model."""
from __future__ import annotations

from pathlib import Path

MAIN_WINDOW = Path(__file__).resolve().parents[1] / "app" / "main_window.py"
LIMIT = 400


def test_main_window_is_under_400_lines():
    n = len(MAIN_WINDOW.read_text(encoding="utf-8").splitlines())
    assert n < LIMIT, f"app/main_window.py has {n} lines (limit {LIMIT}): move logic into the run model or a module"
