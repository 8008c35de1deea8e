"""The one place where a sweep case meets the session: engine spellings checked, a session built for a case.

Spellings are the engine registry's (app.engines.spec: cref, torch[:DTYPE[:DEVICE]], bin:PATH, cmd:COMMAND).
"""
from __future__ import annotations

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
    """A ComparisonSession for the case: side A = case.engines[0], side B = case.engines[1].

    threads: OpenMP threads of a process engine and torch intra-op threads (None: the engines' defaults).
    """
    from app.session import ComparisonSession, EngineOptions, ParityThresholds

    a, b = (parse_engine_spec(e) for e in case.engines)
    if a.kind not in ("cref", "bin") or b.kind != "torch":
        raise ConfigError(f"case {case.name!r}: engines {list(case.engines)}: this session runs a C-like side A "
                          "(cref or bin:PATH) against a torch side B")
    options = EngineOptions(c_binary=a.path, c_threads=threads, torch_dtype=b.dtype, torch_device=b.device,
                            timeout_s=case.timeout_s)
    t = case.thresholds
    return ComparisonSession(list(case.argv), options, ParityThresholds(t.min_correlation, t.max_rel_error,
                                                                        t.rel_floor))
