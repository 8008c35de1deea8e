"""The one tokenizer of command text (the editor, pasted lines, demo files, sweep matrices, `cmd:` engines).

Shell-like words, as a POSIX shell splits a simple command: blanks separate words; 'single quotes' keep everything
literally; "double quotes" keep everything but `\\"` and `\\\\` (as shlex); outside quotes a backslash keeps
the next character; a backslash before a line end joins the lines (continuation, also before CRLF); with
`comments=True` a word starting with `#` runs to the end of the line and is dropped. Quotes may sit anywhere in a
word (`-hkl 'my file'.hkl` is one word). Each word keeps its character span [start, end) in the text, for the
editor's underlines and in-place rewriting.

An unclosed quote: `split_command` raises ConfigError naming the character; `tokenize` (the editor, which must
underline as the user types) lets the word run to the end of the text.
"""
from __future__ import annotations

import os

from simulator.config import ConfigError

_BLANKS = " \t\n\r\v\f"
_DQ_ESCAPES = '"\\'   # as shlex (posix): a sweep matrix written for it reads the same


def _scan(text: str, *, comments: bool, strict: bool) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _BLANKS:
            i += 1
            continue
        if ch == "\\" and _continuation(text, i):   # a continuation between words
            i = _continuation(text, i)
            continue
        if comments and ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        start, word = i, []
        while i < n and text[i] not in _BLANKS:
            ch = text[i]
            if ch == "\\":
                if _continuation(text, i):            # a continuation inside a word joins it
                    i = _continuation(text, i)
                else:
                    word.append(text[i + 1])
                    i += 2
            elif ch in "'\"":
                close = _closing(text, i)
                if close < 0:
                    if strict:
                        raise ConfigError(f"command text: unclosed {ch} quote at character {i + 1} "
                                          f"(expected a matching {ch})", expected=f"a closing {ch}")
                    close = n
                body = text[i + 1:close]
                if ch == '"':
                    body = _unescape_double(body)
                word.append(body)
                i = min(close + 1, n)
            else:
                word.append(ch)
                i += 1
        out.append(("".join(word), start, i))
    return out


def _continuation(text: str, i: int) -> int:
    """For the backslash at i: the index after its line end when only spaces or tabs lie between them (a pasted
    `\\ ` before the line end is meant as a continuation too; so is a backslash at the very end), else 0."""
    j = i + 1
    while j < len(text) and text[j] in " \t":
        j += 1
    if text.startswith("\r\n", j):
        return j + 2
    if text.startswith("\n", j) or j == len(text):
        return j + 1 if j < len(text) else j
    return 0


def _closing(text: str, i: int) -> int:
    """Index of the quote that closes the one at i, or -1."""
    q = text[i]
    if q == "'":
        return text.find("'", i + 1)
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == '"':
            return j
        j += 1
    return -1


def _unescape_double(body: str) -> str:
    out, j = [], 0
    while j < len(body):
        if body[j] == "\\" and j + 1 < len(body):
            nxt = body[j + 1]
            if nxt == "\n":
                j += 2
                continue
            if nxt in _DQ_ESCAPES:
                out.append(nxt)
                j += 2
                continue
        out.append(body[j])
        j += 1
    return "".join(out)


def tokenize(text: str, *, comments: bool = False) -> list[tuple[str, int, int]]:
    """(word, start, end) of every word of `text` (see the module docstring); never raises. A leading program
    name is kept (strip_program drops it)."""
    return _scan(text, comments=comments, strict=False)


def split_command(text: str, *, comments: bool = False) -> list[str]:
    """The words of `text` (see the module docstring). Raises ConfigError for an unclosed quote."""
    return [w for w, _, _ in _scan(text, comments=comments, strict=True)]


def strip_program(tokens: list[str]) -> list[str]:
    """Drop a leading program name (nanoBragg, ./nanoBragg, nbref, python -m simulator...) if present."""
    if tokens and not tokens[0].startswith("-"):
        prog = os.path.basename(tokens[0])
        if prog.lower().startswith(("nanobragg", "nbref")) or prog in ("nbparity", "simulator"):
            return tokens[1:]
    return tokens
