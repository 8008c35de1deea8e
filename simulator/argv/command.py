"""A parsed command line as a value: the tokens, their configuration and what the parse said, made once and handed
on (session → engines → C driver) so that nobody parses the same line again."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from simulator.config import ConfigError, NanoBraggConfig, PhiTicks, phi_ticks

from . import parse as _parse  # through the module: a test counts every parse by patching parse._parse_tokens


@dataclass(frozen=True)
class ParsedCommand:
    """tokens: the nanoBragg arguments (no program name). config: what they mean (treat as read-only: it is
    shared by everyone the value is handed to). warnings: D8 warnings and unknown flags. errors: what a lenient
    parse (`lenient_command`) refused; the refused flags are not applied to `config`; () after `parse_command`."""

    tokens: tuple[str, ...]
    config: NanoBraggConfig
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        """(slow, fast) pixels the C renders (spec 3.1; -img/-mask headers applied when the parse could read them)."""
        s, f = self.config.pixel_counts()
        return int(s), int(f)

    @property
    def phi(self) -> PhiTicks:
        """The resolved φ ticks (spec 8.2)."""
        return phi_ticks(self.config.sampling)

    def argv(self) -> list[str]:
        return list(self.tokens)

    def derived(self, tokens: Sequence[str], **sections: Any) -> ParsedCommand:
        """The command line after an edit whose meaning the editor knows: `tokens`, and the configuration with the
        sections it changed replaced (e.g. output=replace(config.output, roi=...)). No parse: the caller states
        what its appended flags mean, next to the edit."""
        config = replace(self.config, **sections) if sections else self.config
        return ParsedCommand(tuple(tokens), config, self.warnings, self.errors)


def parse_command(argv: Sequence[str], *, check_files: bool = True, require_inputs: bool = True) -> ParsedCommand:
    """parse_argv as a ParsedCommand. Raises ConfigError with the first error."""
    parsed = _parse.parse_argv(list(argv), check_files=check_files, require_inputs=require_inputs)
    return ParsedCommand(tuple(argv), parsed.config, tuple(parsed.warnings))


def lenient_command(argv: Sequence[str]) -> ParsedCommand:
    """A parse that never refuses the line (for a binary that decides for itself what it accepts): files are not
    checked, missing inputs are not errors, a flag with a bad value is left out of `config` and named in
    `errors`."""
    tokens = [str(a) for a in argv]
    parsed = _parse._parse_tokens(tokens, False)
    errors = tuple(d.message for d in parsed.diagnostics if d.severity == "error" and d.token >= 0)
    return ParsedCommand(tuple(tokens), parsed.config, tuple(parsed.warnings), errors)


def as_command(args: ParsedCommand | Sequence[str]) -> ParsedCommand:
    """args itself when already parsed, else its lenient parse (one parse)."""
    return args if isinstance(args, ParsedCommand) else lenient_command(args)


__all__ = ["ConfigError", "ParsedCommand", "as_command", "lenient_command", "parse_command"]
