"""diagnose_argv: every error and warning of a command-line text with the character span of its token (for the
editor's underlines)."""
from __future__ import annotations

from dataclasses import replace

from .parse import _parse_tokens
from .records import Diagnostic
from .text import strip_program, tokenize

def diagnose_argv(text: str, *, check_files: bool = True) -> list[Diagnostic]:
    """Every error and warning of a command-line text, each with the character span of the offending token."""
    spans = tokenize(text)
    tokens = [t for t, _, _ in spans]
    offset = len(tokens) - len(strip_program(tokens))
    parsed = _parse_tokens(tokens[offset:], check_files)
    out = []
    for d in parsed.diagnostics:
        if d.token >= 0:
            _, start, end = spans[d.token + offset]
            out.append(replace(d, start=start, end=end, token=d.token + offset))
        else:
            out.append(d)
    return out


