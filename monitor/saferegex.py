"""Rule regexes, compiled with RE2: matching runs in time linear in the text, whatever the pattern.

Why RE2 and not `re` with a time budget: a Python regex cannot be interrupted from outside (it
holds the GIL inside one C call), so `(a+)+$` against "aaaa...b" stalls every thread of the
daemon, and a timeout would need a subprocess per match. RE2 has no backtracking, so there is
nothing to time out; in exchange it refuses the two constructs that need backtracking,
backreferences (`\\1`) and lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`), and those are refused when
the config is loaded. Other differences from Python's `re` that a rule author may meet: `\\w`,
`\\d`, `\\s` and `\\b` are ASCII-only (use `\\pL` for any letter, `\\pN` for any digit).

This is the only module that imports re2 (tests/test_architecture.py).
"""

from __future__ import annotations

import re2

from monitor.errors import ConfigError

# A pattern longer than this is a mistake, not a rule (RE2 would also refuse one using > max_mem).
MAX_PATTERN = 4096

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 logs every refused pattern to stderr; we report it ourselves
_OPTIONS.max_mem = 32 << 20  # per pattern; RE2 falls back to slower (still linear) matching beyond

_WHY = (
    ("invalid escape sequence: \\1", "backreferences (\\1 ...) are not supported"),
    ("invalid escape sequence: \\2", "backreferences (\\2 ...) are not supported"),
    ("invalid perl operator: (?=", "lookahead (?=...) is not supported"),
    ("invalid perl operator: (?!", "negative lookahead (?!...) is not supported"),
    ("invalid perl operator: (?<", "lookbehind (?<=...) / (?<!...) is not supported"),
)


class Pattern:
    """A compiled rule regex. search(text) is linear in len(text)."""

    __slots__ = ("pattern", "_re")

    def __init__(self, pattern: str, compiled: object) -> None:
        self.pattern = pattern
        self._re = compiled

    def search(self, text: str) -> bool:
        """Return whether the pattern occurs in `text`; raises RegexError if RE2 gives up."""
        try:
            return self._re.search(text) is not None  # type: ignore[attr-defined]
        except Exception as exc:  # re2 raises its own error type (e.g. out of memory)
            raise RegexError(f"regex {self.pattern!r} failed on this text: {_text(exc)}") from None

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"


class RegexError(ConfigError):
    """A regex RE2 refuses (at load time) or gives up on (at match time)."""


def compile_regex(pattern: str) -> Pattern:
    """Return the compiled pattern; raises RegexError with a one-line reason (RE2 syntax)."""
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"the regex is {len(pattern)} characters long; at most {MAX_PATTERN}")
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except Exception as exc:  # re2.error, but also TypeError/ValueError for odd input
        why = _text(exc)
        for needle, plain in _WHY:
            if why.startswith(needle):
                why = f"{plain} (rules use RE2 syntax, which runs in linear time): {why}"
                break
        raise RegexError(why) from None
    return Pattern(pattern, compiled)


def _text(exc: BaseException) -> str:
    arg = exc.args[0] if exc.args else exc
    if isinstance(arg, bytes):
        return arg.decode("utf-8", "replace")
    return str(arg)
