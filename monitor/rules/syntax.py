"""The FTS5 query language, parsed in Python exactly as SQLite's fts5parse.y accepts it.

parse(query) returns a tree of P* nodes (words still untokenized); expand_terms() replaces @lists.
The grammar, from fts5parse.y (precedence OR < AND < NOT, all left-associative; the implicit AND
between neighbouring phrases binds tighter than any operator):

    expr      := expr AND expr | expr OR expr | expr NOT expr
               | colset ":" "(" expr ")" | "(" expr ")" | exprlist
    exprlist  := cnearset | exprlist cnearset                 -- implicit AND
    cnearset  := nearset | colset ":" nearset
    colset    := ["-"] STRING | ["-"] "{" STRING+ "}"
    nearset   := phrase | "^" phrase | NEAR "(" phrase+ ["," INTEGER] ")"
    phrase    := STRING ["*"] ("+" STRING ["*"])*

Two consequences users trip over, both kept because the archive search runs the same FTS5:
`a (b OR c)` and `(a) b` are syntax errors (write AND), and only upper-case AND/OR/NOT/NEAR are
operators. The property test in tests/test_rules_property.py checks acceptance against SQLite.

Why ~450 lines: it is one grammar — the lexer, the recursive-descent parser that mirrors
fts5parse.y rule by rule, and the @list expansion that works on its tree. Split apart, a reader
would have to hold two files to check one production against SQLite's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from monitor.errors import QueryError
from monitor.types import FTS_COLUMNS

DEFAULT_NEAR = 10  # FTS5_DEFAULT_NEARDIST
MAX_NEAR = 1_000_000  # beyond this SQLite's int arithmetic is not worth imitating
# Deeper queries are refused before parsing: parsing, compiling and matching recurse once per
# level, and SQLite's own FTS5 parser overflows its stack at ~97 nested parentheses anyway.
MAX_DEPTH = 100

_SPACE = " \t\n\r"  # fts5ExprIsspace: \f and \v are NOT spaces for the FTS5 lexer
_PUNCT = {"(": "LP", ")": "RP", "{": "LCP", "}": "RCP", ":": "COLON", ",": "COMMA",
          "+": "PLUS", "*": "STAR", "-": "MINUS", "^": "CARET"}  # fmt: skip
_KEYWORDS = {"AND": "AND", "OR": "OR", "NOT": "NOT"}


class TooDeep(QueryError):
    """A query nested deeper than MAX_DEPTH: refused even where SQLite would accept it."""


def is_bareword(c: str) -> bool:
    # sqlite3Fts5IsBareword: any non-ASCII byte, ASCII letters/digits, "_" and 0x1A.
    return c >= "\x80" or c.isascii() and (c.isalnum() or c in "_\x1a")


@dataclass(frozen=True)
class Tok:
    kind: str  # STRING, AND, OR, NOT, LP, RP, LCP, RCP, COLON, COMMA, PLUS, STAR, MINUS, CARET, EOF
    text: str  # as written (quotes included for a quoted STRING)
    pos: int
    value: str = ""  # a STRING's text with the quotes removed


# --------------------------------------------------------------------------- parse tree


@dataclass(frozen=True)
class PPhrase:
    """A phrase: STRING parts joined by "+"; `star` marks a part whose last token is a prefix."""

    parts: tuple[tuple[str, bool], ...]  # (text with quotes removed, star)
    caret: bool
    text: str  # the phrase as written, for messages


@dataclass(frozen=True)
class PNear:
    phrases: tuple[PPhrase, ...]
    distance: int


@dataclass(frozen=True)
class PColumns:
    """A column filter applied to a nearset or a parenthesised expression."""

    columns: frozenset[int]
    child: PNode
    text: str


@dataclass(frozen=True)
class PAnd:
    children: tuple[PNode, ...]
    implicit: bool  # juxtaposition: FTS5 drops operands that tokenize to nothing


@dataclass(frozen=True)
class POr:
    children: tuple[PNode, ...]


@dataclass(frozen=True)
class PNot:
    left: PNode
    right: PNode


PNode = PPhrase | PNear | PColumns | PAnd | POr | PNot


# --------------------------------------------------------------------------- lexer


def lex(query: str) -> list[Tok]:
    """Return the FTS5 tokens of `query`, ending with an EOF token; raises QueryError."""
    toks: list[Tok] = []
    i, n = 0, len(query)
    while True:
        while i < n and query[i] in _SPACE:
            i += 1
        # FTS5 reads the query as a C string: a NUL ends it.
        if i >= n or query[i] == "\0":
            toks.append(Tok("EOF", "", i))
            return toks
        c = query[i]
        if c in _PUNCT:
            toks.append(Tok(_PUNCT[c], c, i))
            i += 1
        elif c == '"':
            j = i + 1
            while True:
                if j >= n or query[j] == "\0":
                    raise QueryError(f"unterminated string: the quote at position {i} is never closed: {query}")
                if query[j] == '"':
                    if j + 1 < n and query[j + 1] == '"':
                        j += 2
                        continue
                    break
                j += 1
            text = query[i : j + 1]
            toks.append(Tok("STRING", text, i, text[1:-1].replace('""', '"')))
            i = j + 1
        elif is_bareword(c):
            j = i + 1
            while j < n and is_bareword(query[j]):
                j += 1
            word = query[i:j]
            toks.append(Tok(_KEYWORDS.get(word, "STRING"), word, i, word))
            i = j
        else:
            raise QueryError(
                f"syntax error near {_show(c)} at position {i}: {query} "
                f'(put words with punctuation in double quotes, e.g. "U.S.")'
            )


def _show(text: str) -> str:
    return '"' + text.replace("\n", "\\n").replace("\t", "\\t") + '"'


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.toks = lex(query)
        self.i = 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self, kind: str) -> Tok:
        if self.tok.kind != kind:
            self.fail()
        t = self.tok
        self.i += 1
        return t

    def fail(self, hint: str = "") -> None:
        t = self.tok
        if t.kind == "EOF":
            # Point at what came last: "summit AND" fails at the end, because of the AND.
            last = self.toks[self.i - 1] if self.i else t
            where = f"near {_show(last.text)} at position {last.pos}" if self.i else "at position 0"
            unclosed = _unclosed(self.toks[: self.i])
            hint = hint or (f'the "(" at position {unclosed} is never closed' if unclosed is not None
                            else "the query ends too early")
        else:
            where = f"near {_show(t.text)} at position {t.pos}"
        raise QueryError(f"syntax error {where}: {self.query}" + (f" ({hint})" if hint else ""))

    # expr with precedence climbing: OR < AND < NOT
    def expr(self, level: int = 0) -> PNode:
        ops = ("OR", "AND", "NOT")
        if level == 3:
            return self.primary()
        left = self.expr(level + 1)
        while self.tok.kind == ops[level]:
            self.i += 1
            right = self.expr(level + 1)
            if level == 0:
                left = POr(_flat(POr, left, right))
            elif level == 1:
                left = PAnd(_flat(PAnd, left, right, explicit_only=True), implicit=False)
            else:
                left = PNot(left, right)
        return left

    def primary(self) -> PNode:
        t = self.tok
        if t.kind == "LP":
            self.i += 1
            e = self.expr()
            self.take("RP")
            return self.after_group(e)
        if self.starts_colset():
            start = self.i
            cols, text = self.colset()
            self.take("COLON")
            if self.tok.kind == "LP":
                self.i += 1
                e = self.expr()
                self.take("RP")
                return self.after_group(PColumns(cols, e, text))
            self.i = start  # a filtered nearset: parse it as the first item of an exprlist
        if t.kind in ("STRING", "CARET", "MINUS", "LCP"):
            return self.exprlist()
        self.fail(_hint_for(t))
        raise AssertionError  # fail() always raises

    def after_group(self, e: PNode) -> PNode:
        if self.tok.kind in ("STRING", "CARET", "MINUS", "LCP", "LP"):
            self.fail("FTS5 needs an explicit AND after a parenthesised group or @list")
        return e

    def starts_colset(self) -> bool:
        k = self.tok.kind
        if k == "STRING":
            return self.peek().kind == "COLON"
        return k in ("MINUS", "LCP")

    def exprlist(self) -> PNode:
        items = [self.cnearset()]
        while self.tok.kind in ("STRING", "CARET", "MINUS", "LCP"):
            items.append(self.cnearset())
        if self.tok.kind == "LP":
            self.fail("FTS5 needs an explicit AND before a parenthesised group or @list")
        return items[0] if len(items) == 1 else PAnd(tuple(items), implicit=True)

    def cnearset(self) -> PNode:
        if self.starts_colset():
            cols, text = self.colset()
            self.take("COLON")
            if self.tok.kind == "LP":
                self.fail("FTS5 needs an explicit AND before a parenthesised group or @list")
            return PColumns(cols, self.nearset(), text)
        return self.nearset()

    def colset(self) -> tuple[frozenset[int], str]:
        start = self.tok.pos
        invert = False
        if self.tok.kind == "MINUS":
            invert = True
            self.i += 1
        names: list[Tok] = []
        if self.tok.kind == "LCP":
            self.i += 1
            names.append(self.take("STRING"))
            while self.tok.kind == "STRING":
                names.append(self.take("STRING"))
            self.take("RCP")
        else:
            names.append(self.take("STRING"))
        cols = frozenset(self.column(t) for t in names)
        if invert:
            cols = frozenset(range(len(FTS_COLUMNS))) - cols
        return cols, self.query[start : self.tok.pos].strip()

    def column(self, t: Tok) -> int:
        # sqlite3_stricmp folds ASCII only; bytes.lower() does the same.
        want = t.value.encode().lower()
        for i, name in enumerate(FTS_COLUMNS):
            if name.encode() == want:
                return i
        raise QueryError(
            f"no such column {_show(t.value)} at position {t.pos}: {self.query} "
            f"(columns: {', '.join(FTS_COLUMNS)})"
        )

    def nearset(self) -> PNode:
        t = self.tok
        if t.kind == "CARET":
            self.i += 1
            return self.phrase(caret=True)
        if t.kind == "STRING" and self.peek().kind == "LP":
            if t.text != "NEAR":
                self.i += 1
                self.fail("FTS5 needs an explicit AND before a parenthesised group or @list")
            self.i += 2
            phrases = [self.phrase()]
            while self.tok.kind == "STRING":
                phrases.append(self.phrase())
            distance = DEFAULT_NEAR
            if self.tok.kind == "COMMA":
                self.i += 1
                d = self.take("STRING")
                if not (d.text.isascii() and d.text.isdigit()):
                    raise QueryError(f"NEAR distance must be a whole number, got {_show(d.text)}: {self.query}")
                distance = int(d.text)
                if distance > MAX_NEAR:
                    raise QueryError(f"NEAR distance {distance} is too large (at most {MAX_NEAR}): {self.query}")
            self.take("RP")
            return PNear(tuple(phrases), distance)
        if t.kind != "STRING":
            self.fail(_hint_for(t))
        return self.phrase()

    def phrase(self, caret: bool = False) -> PPhrase:
        start = self.tok.pos
        parts: list[tuple[str, bool]] = []
        while True:
            s = self.take("STRING")
            star = self.tok.kind == "STAR"
            if star:
                self.i += 1
            parts.append((s.value, star))
            if self.tok.kind != "PLUS":
                break
            self.i += 1
        if self.tok.kind == "LP":
            self.fail("FTS5 needs an explicit AND before a parenthesised group or @list")
        return PPhrase(tuple(parts), caret, self.query[start : self.tok.pos].strip())


def _unclosed(toks: Sequence[Tok]) -> int | None:
    """The position of the last "(" among `toks` that no ")" closes, if any."""
    opened: list[int] = []
    for t in toks:
        if t.kind == "LP":
            opened.append(t.pos)
        elif t.kind == "RP" and opened:
            opened.pop()
    return opened[-1] if opened else None


def _hint_for(t: Tok) -> str:
    if t.kind in ("AND", "OR", "NOT"):
        return f"{t.text} needs a search term on both sides; FTS5 has no leading NOT"
    return ""


def _flat(cls: type, left: PNode, right: PNode, explicit_only: bool = False) -> tuple[PNode, ...]:
    out: list[PNode] = []
    for side in (left, right):
        if isinstance(side, cls) and not (explicit_only and getattr(side, "implicit", False)):
            out.extend(side.children)  # type: ignore[union-attr]
        else:
            out.append(side)
    return tuple(out)


def parse(query: str) -> PNode:
    """Return the parse tree of an FTS5 query; raises QueryError naming the position."""
    p = _Parser(query)
    if p.tok.kind == "EOF":
        raise QueryError("the query is empty")
    _check_nesting(p.toks, query)
    tree = p.expr()
    if p.tok.kind != "EOF":
        p.fail(_hint_for(p.tok) or ("unbalanced parenthesis" if p.tok.kind == "RP" else ""))
    depth = tree_depth(tree)
    if depth > MAX_DEPTH:
        raise TooDeep(f"the query nests {depth} operators deep; at most {MAX_DEPTH}: {clip(query)}")
    return tree


def _check_nesting(toks: Sequence[Tok], query: str) -> None:
    depth = deepest = 0
    for t in toks:
        if t.kind == "LP":
            depth += 1
            deepest = max(deepest, depth)
        elif t.kind == "RP":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise TooDeep(f"the query nests {deepest} parentheses deep; at most {MAX_DEPTH}: {clip(query)}")


def tree_depth(tree: PNode) -> int:
    """Return how deep the parse tree is (iteratively: it is what guards the recursive passes)."""
    deepest = 0
    stack: list[tuple[PNode, int]] = [(tree, 1)]
    while stack:
        t, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(t, PColumns):
            stack.append((t.child, d + 1))
        elif isinstance(t, PAnd | POr):
            stack.extend((c, d + 1) for c in t.children)
        elif isinstance(t, PNot):
            stack.extend(((t.left, d + 1), (t.right, d + 1)))
        elif isinstance(t, PNear):
            stack.extend((p, d + 1) for p in t.phrases)
    return deepest


def clip(query: str, n: int = 60) -> str:
    """A long query shortened for a one-line message."""
    return query if len(query) <= n else query[:n] + f"… ({len(query)} characters)"


# --------------------------------------------------------------------------- @term lists

_TERM_REF = re.compile(r'"(?:[^"]|"")*"?|@([A-Za-z0-9_][A-Za-z0-9_-]*)')


def expand_terms(
    query: str, terms: Mapping[str, Sequence[str]], entry: Callable[[str], str] = lambda s: s
) -> str:
    """Return `query` with every @name outside quotes replaced by (a OR b OR ...) from `terms`.

    `entry` rewrites each list entry before it is expanded in turn (query.forgive, for one).
    """
    return _expand(query, terms, (), entry)


def _expand(
    query: str, terms: Mapping[str, Sequence[str]], stack: tuple[str, ...], entry: Callable[[str], str]
) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:  # a quoted string: left alone
            return m.group(0)
        if name not in terms:
            known = ", ".join("@" + k for k in sorted(terms)) or "none defined in [terms]"
            raise QueryError(f"unknown term list @{name} (known: {known})")
        if len(stack) >= MAX_DEPTH:
            raise QueryError(f"term lists nest more than {MAX_DEPTH} deep via @{name}")
        if name in stack:
            raise QueryError(f"term list @{name} refers to itself via {' -> '.join('@' + s for s in stack)}")
        entries = [str(e).strip() for e in terms[name]]
        if not entries or not all(entries):
            raise QueryError(f"term list @{name} is empty or has an empty entry")
        parts = [_expand(entry(e), terms, (*stack, name), entry) for e in entries]
        return "(" + " OR ".join(p if _is_simple(p) else f"({p})" for p in parts) + ")"

    return _TERM_REF.sub(one, query)


def _is_simple(entry: str) -> bool:
    """True when the entry is one phrase, so it needs no parentheses inside an OR."""
    try:
        toks = lex(entry)
    except QueryError:
        return False
    kinds = [t.kind for t in toks[:-1]]
    if not kinds or kinds[0] != "STRING":
        return False
    expect_string = False
    for k in kinds[1:]:
        if expect_string:
            if k != "STRING":
                return False
            expect_string = False
        elif k == "PLUS":
            expect_string = True
        elif k != "STAR":
            return False
    return not expect_string
