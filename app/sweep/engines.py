"""The one place where a sweep case meets the session: engine spellings checked, a session built for a case.

Spellings are the engine registry's (app.engines.spec: cref, torch[:DTYPE[:DEVICE]], bin:PATH, cmd:COMMAND).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from app.engines.spec import parse_engine_spec
from simulator.config import ConfigError

if TYPE_CHECKING:
    from app.session import ComparisonSession
    from app.sweep.matrix import CaseSpec


def check_engine(text: str, where: str) -> None:
    """Raise ConfigError naming `where` when `text` is not an ENGINE spelling."""
    try:
        parse_engine_spec(text)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def case_session(case: CaseSpec, threads: int | None) -> ComparisonSession:
    """A ComparisonSession for the case: side A = case.engines[0], side B = case.engines[1], any engine kinds.

    threads: OpenMP / torch threads of each side (None: the session decides).
    """
    from app.session import ComparisonSession, SessionOptions, SideOptions
    from tracing.metrics import ParityThresholds

    a, b = case.engines
    options = SessionOptions(SideOptions(a, threads=threads), SideOptions(b, threads=threads),
                             timeout_s=case.timeout_s)
    return ComparisonSession(list(case.argv), options, ParityThresholds(**asdict(case.thresholds)))
