"""The one place where a sweep case meets the session: a session built for a case.

Spellings are the engine registry's (app.engines.spec: cref, torch[:DTYPE[:DEVICE]], bin:PATH, cmd:COMMAND),
checked when the matrix is read (app.engines.spec.check_engine).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.session import ComparisonSession
    from app.sweep.matrix import CaseSpec


def case_session(case: CaseSpec, threads: int | None) -> ComparisonSession:
    """A ComparisonSession for the case: side A = case.engines[0], side B = case.engines[1], any engine kinds.

    threads: OpenMP / torch threads of each side (None: the session decides).
    """
    from app.core.session import ComparisonSession, SessionOptions, SideOptions
    from tracing.metrics import ParityThresholds

    a, b = case.engines
    options = SessionOptions(SideOptions(a, threads=threads), SideOptions(b, threads=threads),
                             timeout_s=case.timeout_s)
    return ComparisonSession(list(case.argv), options, ParityThresholds(**asdict(case.thresholds)))
