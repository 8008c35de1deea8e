"""The one error vocabulary for bad input (torch-free, dependency-free).

Every reader and validator raises `ConfigError`; its message says which flag, which file and line, and what was
expected, and the same facts are kept as fields so that the editor, the dialogs and the tests need not parse text.
Entry points turn it into their usage exit status (9 for `python -m simulator` / `nbparity sim` / nbref, 3 for
`nbparity compare|trace`) and never show a traceback.
"""
from __future__ import annotations

import re

_LEADING_FLAG = re.compile(r"^(--?[A-Za-z][\w/-]*)[: ]")


class ConfigError(ValueError):
    """A bad value: names the flag (or file and line) and what was expected.

    flag: the command-line flag ('-hkl'), file: the path as given, line: 1-based line number in that file,
    expected: what would have been accepted (short phrase); each None when it does not apply.
    """

    def __init__(self, message: str, *, flag: str | None = None, file: str | None = None, line: int | None = None,
                 expected: str | None = None):
        super().__init__(message)
        if flag is None:  # messages start with the flag by convention ("-hkl: ..."): keep it as a field too
            m = _LEADING_FLAG.match(message)
            flag = m.group(1) if m else None
        self.flag = flag
        self.file = file
        self.line = line
        self.expected = expected


def file_error(flag: str, path: str, line: int | None, expected: str, got: str | None = None) -> ConfigError:
    """'-hkl: f.hkl, line 3: expected ..., got '...'' as a ConfigError with its fields set."""
    where = f"{path}, line {line}" if line is not None else f"{path}"
    tail = f", got {got!r}" if got is not None else ""
    return ConfigError(f"{flag}: {where}: expected {expected}{tail}", flag=flag, file=path, line=line,
                       expected=expected)
