"""Issue 19: the window keeps one TraceValues (c_reference/trace_value.py) for its whole life, so a binary found to
print its pixel's float value in one Run's session is trusted in the next Run's session too (the first click after a
Run then writes no float file)."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


def test_every_session_of_a_window_shares_one_trace_values(make_window, cli_flags_003, c_binary):
    from app.core.known_cases import cli_flags_003_args
    from app.core.session import SideOptions

    w = make_window(cli_flags_003_args(cli_flags_003))
    w.engines.pickers["a"].set_side_options(SideOptions(f"bin:{c_binary}"))
    first, second = w.editor_session(), w.editor_session()
    assert first is not second
    assert first.trace_values is second.trace_values
    assert first.sides["a"].engine.trace_values is first.trace_values   # what the C side's trace runs consult
    other = make_window(cli_flags_003_args(cli_flags_003)).editor_session()
    assert other.trace_values is not first.trace_values                  # per window, not global
