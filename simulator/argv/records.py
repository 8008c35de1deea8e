"""What a parse returns: the configuration, warnings, engine-only extras and diagnostics with token indices."""
from __future__ import annotations

from dataclasses import dataclass, field

from simulator.config import NanoBraggConfig


@dataclass
class Diagnostic:
    """One problem in a command line: `token` index, character span [start, end) in the text when known."""

    severity: str  # "error" or "warning"
    message: str
    token: int = -1
    start: int = -1
    end: int = -1


@dataclass
class ParsedArgs:
    config: NanoBraggConfig
    warnings: list[str] = field(default_factory=list)
    extras: dict[str, str] = field(default_factory=dict)  # engine-only options, e.g. dtype, device
    diagnostics: list[Diagnostic] = field(default_factory=list)

