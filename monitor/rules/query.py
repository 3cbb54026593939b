"""What a user types, turned into the FTS5 query the archive and the stream matcher both run.

fts_query() is the one door: rules (compile_rules), `rules test` (compile_query), `search`,
`export --query` and the web view all pass through it, so a query means the same everywhere and
a rule matches a release exactly when `search` finds it. It applies, in order:

1. forgive(): ordinary company text is taken as the phrase a user means. A word with punctuation
   inside or around it (`AT&T`, `U.S.`, `Xi'an`, `summit-2026`, `$SYM`) is put in double quotes,
   so FTS5 reads it as the phrase of its parts instead of failing on the "&", "." or "'" (or
   reading `-2026` as a column filter). `AND NOT` (what Lucene and Google users write) becomes
   `NOT`, and `near(` is the NEAR operator. Two terms side by side mean both, as everywhere
   else people search: FTS5 agrees for words, phrases and NEAR groups but refuses a bracketed
   group (or an @list, which becomes one) next to another term, so `summit (Astana OR Tashkent)`
   gets the `AND` FTS5 wants. Everything
   FTS5 itself understands is left alone, except a "-" inside a word: `a-b:c` would be FTS5 for
   "a AND NOT column b: c", which nobody means.
2. @list expansion (syntax.expand_terms), each entry forgiven the same way.
3. fold() (monitor/fold.py), as the releases were folded before indexing: `Straße` is `strasse`,
   and a CJK word becomes a phrase of its characters.

A query that is still not FTS5 gets our parser's message with a hint (syntax.py), never SQLite's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from monitor.errors import QueryError
from monitor.fold import fold
from monitor.rules.syntax import expand_terms, is_bareword

_TERM_NAME = re.compile(r"@[A-Za-z0-9_][A-Za-z0-9_-]*")  # as syntax.expand_terms reads them
# FTS5 syntax characters that end a word; "-" is not among them (see forgive()).
_SYNTAX = set('(){}:,+*^"')
_SPACE = set(" \t\n\r")  # fts5ExprIsspace

ALL_HINT = (
    '"*" alone is not a search: leave the query out to list everything, or give a word '
    "or a prefix such as summ*"
)


def forgive(query: str) -> str:
    """Return `query` with punctuated words quoted and `AND NOT` as `NOT` (see the module docstring)."""
    pieces: list[str] = []  # words, quoted strings, syntax characters and whitespace, in order
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c in _SPACE or c in _SYNTAX and c != '"':
            pieces.append(c)
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and not (query[j] == '"' and not (j + 1 < n and query[j + 1] == '"')):
                j += 2 if query[j] == '"' else 1
            pieces.append(query[i : j + 1])  # an unterminated string is left for the lexer to report
            i = j + 1
        else:
            j = i + 1
            while j < n and query[j] not in _SPACE and query[j] not in _SYNTAX:
                j += 1
            pieces.append(_word(query[i:j], query[j : j + 1]))
            i = j
    return "".join(_implicit_and(_and_not(pieces)))


def _word(run: str, before: str) -> str:
    if run.lower() == "near" and before == "(":
        return "NEAR"  # near(a b): the operator, typed in lower case
    if all(is_bareword(c) for c in run):
        return run  # a plain word, or AND/OR/NOT/NEAR
    if run[0] == "-" and all(is_bareword(c) for c in run[1:]):
        return run  # -column: an excluding column filter
    if _TERM_NAME.fullmatch(run):
        return run  # @list
    if run == "-":
        return run
    return f'"{run}"'


def _and_not(pieces: list[str]) -> list[str]:
    out: list[str] = []
    k = 0
    while k < len(pieces):
        if pieces[k] == "AND":
            j = k + 1
            while j < len(pieces) and pieces[j] in _SPACE:
                j += 1
            if j < len(pieces) and pieces[j] == "NOT":
                k = j  # drop "AND" and the space after it
                continue
        out.append(pieces[k])
        k += 1
    return out


_OPERATORS = {"AND", "OR", "NOT"}


def _implicit_and(pieces: list[str]) -> list[str]:
    """Return `pieces` with `AND ` put where two terms meet and FTS5 would refuse the implicit AND.

    FTS5 reads `a b`, `a "b c"`, `a NEAR(b c)` and `a title: b` as AND, but not a group: neither
    `a (b OR c)`, `(a OR b) c`, `a title: (b OR c)` nor `a @list` (expanded to a group). Only those
    places change, so a query FTS5 accepts keeps its exact meaning.
    """
    sig = [k for k, p in enumerate(pieces) if p not in _SPACE]  # positions of non-space pieces
    at = {k: n for n, k in enumerate(sig)}

    def nxt(k: int, step: int = 1) -> str:
        n = at[k] + step
        return pieces[sig[n]] if 0 <= n < len(sig) else ""

    def opens_group(k: int) -> bool:
        """Does the operand starting at piece k begin with a group FTS5 will not AND implicitly?"""
        p = pieces[k]
        if p == "(" or _TERM_NAME.fullmatch(p):
            return True
        j = at[k]
        if p == "-":  # an excluding column filter: look at what follows the "-"
            j += 1
        if j < len(sig) and pieces[sig[j]] == "{":
            while j < len(sig) and pieces[sig[j]] != "}":
                j += 1
        elif j >= len(sig) or pieces[sig[j]] in _SYNTAX or pieces[sig[j]] in _OPERATORS:
            return False
        # j is on the column name or the "}": a column filter whose ":" is followed by a group.
        return j + 2 < len(sig) and pieces[sig[j + 1]] == ":" and pieces[sig[j + 2]] == "("

    out: list[str] = []
    after = ""  # what the last operand ended with: "term" (phrase, prefix, NEAR group), "group", or ""
    nears: list[bool] = []  # for each open "(": is it a NEAR group's?
    for k, p in enumerate(pieces):
        if p in _SPACE:
            out.append(p)
            continue
        starts = p not in _OPERATORS and p not in ")*:+,^}" and not (p == "(" and nxt(k, -1) in ("NEAR", ":"))
        if starts and (after == "group" or after == "term" and opens_group(k)):
            out.append("AND " if out and out[-1] in _SPACE else " AND ")
        out.append(p)
        if p == "(":
            nears.append(nxt(k, -1) == "NEAR")
            after = ""
        elif p == ")":
            after = "term" if nears and nears.pop() else "group"
        elif _TERM_NAME.fullmatch(p):
            after = "group"
        elif p == "*" or p[0] == '"' or (p not in _OPERATORS and p != "NEAR" and p[0] not in _SYNTAX
                                          and p != "-" and nxt(k) != ":"):
            after = "term"
        elif p != "^" and p != "+":
            after = ""
    return out


def fts_query(query: str, terms: Mapping[str, Sequence[str]]) -> str:
    """Return the FTS5 query for what the user typed; raises QueryError (one line, with a hint)."""
    if query.strip() == "*":
        raise QueryError(ALL_HINT)
    return fold(expand_terms(forgive(query), terms, forgive))
