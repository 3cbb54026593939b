"""Watch rules: compile and validate them, and match a batch of releases against all of them.

A rule's query is SQLite FTS5 query syntax, so the same string searches the archive and watches
the stream. What the user typed goes through query.fts_query() first, the one door every entry
point uses (rules, `rules test`, `search`, `export --query`, the web view): punctuated words
become phrases, `AND NOT` becomes `NOT`, `@name` expands a [terms] list into `(a OR b OR ...)`,
and the text is folded as the releases were (monitor/fold.py).

How a batch is matched (RuleSet.match), never touching the archive:
1. The batch is tokenized by FTS5 itself (in memory, see fts.py) into an inverted index of
   bitmasks (batch.py).
2. Presearch: every rule is indexed at compile time under a few terms or prefixes of which a
   release must contain at least one for the rule to match (the rarest-looking term of an AND,
   every alternative of an OR, the left side of a NOT). Only rules whose keys occur in the batch
   are evaluated; `last_stats` counts them. FTS5 has no pure-NOT query, so every query has keys;
   the only rules run on every batch are the rare ones our parser does not understand but SQLite
   accepts, which are run by FTS5 itself on an in-memory table of the batch.
3. Each candidate's compiled query is evaluated over the bitmasks with FTS5's semantics
   (nodes.py), then the feeds filter and the regex, then a snippet (snippet.py).

Refused at load time, with the rule and the reason: queries nested deeper than 100, regexes RE2
cannot run (backreferences, lookaround: monitor/saferegex.py), FTS5 syntax errors (with the position),
unknown columns, unknown @lists, duplicate names, regexes that do not compile, and queries that
can never match: every phrase tokenizes to nothing (`"---"`), a column filter that leaves no
column, or a NOT that excludes everything the rest matches (`a NOT a`, `summit NOT summit*`,
`a NOT (a OR b)`). That last check is structural and cheap, so it is not complete. Also refused:
a NEAR group with a phrase that has no letters or digits (SQLite 3.40 mishandles those).

compile_query() gives a one-rule RuleSet (the rule is called "query") for ad hoc queries, as used
by `rules test`; check_query() validates a query for `search` the same way rules are validated.

Why a little over 400 lines: RuleSet (compile + match) and the query entry points share the private
compile step (_analyze, _prelearn); the pieces with a life of their own are already modules.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, overload

from monitor.errors import ConfigError, QueryError
from monitor.excerpt import WIDE, at_risk, column_of, mend
from monitor.rules.batch import Batch, PrefixIndex, bits
from monitor.rules.compiler import Compiler, all_tokens, keys, never_reason
from monitor.rules.fts import FTS
from monitor.rules.nodes import And, Node, Not, Or
from monitor.rules.query import forgive, fts_query
from monitor.rules.snippet import CLOSE as _CLOSE
from monitor.rules.snippet import ELLIPSIS, TOKENS, mended
from monitor.rules.snippet import OPEN as _OPEN
from monitor.rules.syntax import PAnd, PColumns, PNear, PNode, PNot, POr, PPhrase, TooDeep, clip, expand_terms, parse
from monitor.saferegex import Pattern, RegexError, compile_regex
from monitor.types import Doc, Match, RuleSpec, SpikeSpec

log = logging.getLogger(__name__)

__all__ = [
    "MatchStats",
    "Rule",
    "RuleSet",
    "check_query",
    "compile_query",
    "compile_rules",
    "expand_terms",
    "forgive",
    "fts_query",
    "search_query",
]


@dataclass(frozen=True)
class Rule:
    name: str
    query: str  # as written
    expanded: str  # FTS5 query after @list expansion: what the archive search runs
    notify: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    regex: Pattern | None = None  # RE2 (linear time); see monitor/saferegex.py
    enabled: bool = True
    spike: SpikeSpec | None = None  # alert when its matches jump (monitor/spikes.py)
    once_per: str = "story"  # "story": a near-copy of a release it alerted for does not alert again


@dataclass(frozen=True)
class MatchStats:
    """What the last RuleSet.match() did: how many rules the presearch let through."""

    docs: int = 0
    rules: int = 0  # enabled rules
    candidates: int = 0  # rules evaluated (their keys occur in the batch)
    skipped: int = 0  # enabled rules never evaluated
    fallback: int = 0  # rules run by FTS5 itself
    matched_rules: int = 0
    matches: int = 0


@dataclass
class _Compiled:
    rule: Rule
    node: Node | None  # None: run by FTS5 (our parser disagrees with SQLite about this query)
    feeds: frozenset[str] = field(default_factory=frozenset)


class RuleSet:
    """Compiled rules, indexed for presearch. match() is safe to call from several threads."""

    def __init__(self, compiled: Sequence[_Compiled]) -> None:
        self._all = list(compiled)
        self.rules: tuple[Rule, ...] = tuple(c.rule for c in compiled)
        self._by_name = {r.name: r for r in self.rules}
        self.last_stats: MatchStats = MatchStats()
        self._active = [i for i, c in enumerate(compiled) if c.rule.enabled]
        by_term: dict[str, list[int]] = {}
        by_prefix: dict[str, list[int]] = {}
        always: list[int] = []
        needed: set[str] = set()
        prefixes: set[str] = set()
        for i in self._active:
            node = compiled[i].node
            if node is None:
                always.append(i)
                continue
            _, exact, pref = keys(node)
            for t in exact:
                by_term.setdefault(t, []).append(i)
            for p in pref:
                by_prefix.setdefault(p, []).append(i)
            used_exact, used_prefixes = all_tokens(node)
            needed |= used_exact
            prefixes |= used_prefixes
        self._by_term = by_term
        self._key_terms = frozenset(by_term)
        self._by_prefix = by_prefix
        self._always = always
        self._needed = frozenset(needed)
        self._prefixes = PrefixIndex(frozenset(prefixes))
        _mark_shared([compiled[i].node for i in self._active])

    def get(self, name: str) -> Rule | None:
        """Return the rule called `name`, or None."""
        return self._by_name.get(name)

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, docs: Sequence[Doc]) -> list[Match]:
        """Return one Match per (doc, enabled rule) whose query, feeds filter and regex all match.

        The cyclic garbage collector stays on: switching it off for the process while matching
        (as this did before issue 23) measured within noise of leaving it on (bench/bench_gc.py).
        """
        if not docs or not self._active:
            self.last_stats = MatchStats(docs=len(docs), rules=len(self._active), skipped=len(self._active))
            return []
        b = Batch(docs, self._needed, self._prefixes)
        cands: set[int] = set(self._always)
        by_term = self._by_term
        for t in b.vocab & self._key_terms:
            cands.update(by_term[t])
        by_prefix = self._by_prefix
        for p in b.expansions:
            got = by_prefix.get(p)
            if got:
                cands.update(got)
        found: list[tuple[int, int, str]] = []
        matched_rules = 0
        fallback = 0
        texts: dict[int, str] = {}
        every = b.all
        compiled = self._all
        # Any order: `found` is sorted below (a one-release batch evaluates ~200 candidates, so
        # the per-candidate overhead here is a good part of its time).
        for i in cands:
            c = compiled[i]
            node = c.node
            if node is None:
                fallback += 1
                hits = FTS.search(docs, c.rule.expanded, (_OPEN, _CLOSE, ELLIPSIS, TOKENS), WIDE)
                mask = sum(1 << d for d in hits)
            else:
                hits = None
                mask = node.ev(b, every)
            if not mask:
                continue
            rule = c.rule
            if c.feeds:
                mask &= b.feed_mask(c.feeds)
            n_before = len(found)
            for d in bits(mask):
                if rule.regex is not None:
                    text = texts.get(d)
                    if text is None:
                        doc = docs[d]
                        text = texts[d] = f"{doc.title}\n{doc.summary}\n{doc.body}"
                    try:
                        if not rule.regex.search(text):
                            continue
                    except RegexError as e:
                        # One release's text defeats the regex: skip this match, never the poll.
                        log.warning("rule %r: release %s skipped: %s", rule.name, docs[d].key, e)
                        continue
                snip = mended(c.node, b, d) if hits is None else _fallback_snippet(hits[d])  # type: ignore[arg-type]
                found.append((d, i, snip))
            matched_rules += len(found) > n_before
        found.sort(key=lambda x: (x[0], x[1]))
        self.last_stats = MatchStats(
            docs=len(docs),
            rules=len(self._active),
            candidates=len(cands),
            skipped=len(self._active) - len(cands),
            fallback=fallback,
            matched_rules=matched_rules,
            matches=len(found),
        )
        return [Match(key=docs[d].key, rule=self._all[i].rule.name, snippet=s) for d, i, s in found]


def _fallback_snippet(found: tuple[str, list[str], list[str]]) -> str:
    """The FTS5 fallback's snippet, mended as snippet.mended() mends the replica's."""
    narrow, narrows, wides = found
    col = column_of(narrow, narrows) if at_risk(narrow) else None
    return mend(narrow, None if col is None else wides[col])


def _mark_shared(roots: Sequence[Node | None]) -> None:
    """Let AND/OR/NOT nodes that occur only once skip the per-batch memo (it costs more than it saves)."""
    seen: dict[Node, int] = {}
    stack = [r for r in roots if r is not None]
    while stack:
        n = stack.pop()
        seen[n] = seen.get(n, 0) + 1
        if seen[n] == 1:
            if isinstance(n, And | Or):
                stack.extend(n.children)
            elif isinstance(n, Not):
                stack.extend((n.left, n.right))
    for n, count in seen.items():
        if isinstance(n, And | Or | Not):
            n.shared = count > 1


# --------------------------------------------------------------------------- compiling


def _texts(tree: PNode) -> list[str]:
    """Return every phrase part in a parse tree (to tokenize them all in one FTS5 round trip)."""
    out: list[str] = []
    stack = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, PPhrase):
            out.extend(text for text, _ in t.parts)
        elif isinstance(t, PNear):
            stack.extend(t.phrases)
        elif isinstance(t, PColumns):
            stack.append(t.child)
        elif isinstance(t, PAnd | POr):
            stack.extend(t.children)
        elif isinstance(t, PNot):
            stack.extend((t.left, t.right))
    return out


def _sqlite_says(message: str) -> str:
    message = message.removeprefix("fts5: ")
    if message == "parser stack overflow":
        return "the query nests too deeply for SQLite (about 90 parentheses, fewer with column filters)"
    return message


def _analyze(expanded: str, compiler: Compiler, tree: PNode | None = None) -> Node | None:
    """Return the compiled query, or None when only SQLite understands it; raises QueryError."""
    mine: QueryError | None = None
    if tree is None:
        try:
            tree = parse(expanded)
        except TooDeep:
            raise
        except QueryError as e:
            mine = e
    theirs = FTS.check(expanded)
    if mine is not None:
        if theirs is not None:
            raise mine
        return None  # SQLite accepts what we do not: let SQLite run it (correctness first)
    if theirs is not None:
        raise QueryError(f"{_sqlite_says(theirs)}: {clip(expanded)}")
    assert tree is not None
    node = compiler.compile(tree)
    reason = never_reason(node)
    if reason:
        raise QueryError(f"can never match: {reason}: {expanded}")
    return node


def check_query(query: str) -> None:
    """Return None when `query` is a usable FTS5 query; raises QueryError (one line) otherwise."""
    _analyze(query, Compiler())


@overload
def search_query(query: str, terms: Mapping[str, Sequence[str]], *, everything: Literal[False] = False) -> str: ...
@overload
def search_query(query: str | None, terms: Mapping[str, Sequence[str]], *, everything: bool) -> str | None: ...
def search_query(query: str | None, terms: Mapping[str, Sequence[str]], *, everything: bool = False) -> str | None:
    """Return the FTS5 query for the archive (`search`, `export --query`, the web view), checked.

    The same rewriting as rules (query.fts_query) and the same checks, so a bad query gets our
    one-line message with a hint, never SQLite's. With `everything`, a blank query or "*" alone
    means no filter and gives None.
    """
    if everything and (query is None or query.strip() in ("", "*")):
        return None
    try:
        prepared = fts_query(query or "", terms)
        _analyze(prepared, Compiler())
    except QueryError as e:
        raise QueryError(f"invalid query: {e}") from None
    return prepared


def _prelearn(trees: Sequence[PNode | None]) -> None:
    chunks: list[str] = []
    for t in trees:
        if t is not None:
            for text in _texts(t):
                chunks.extend(text.split())
    FTS.learn(chunks)


def compile_rules(
    specs: Sequence[RuleSpec], terms: Mapping[str, Sequence[str]], *, source: str = "config.toml"
) -> RuleSet:
    """Return the compiled RuleSet; raises ConfigError naming the rule (or term list) and the reason."""
    compiler = Compiler()
    for name, entries in terms.items():
        for j, entry in enumerate(entries):
            try:
                _analyze(fts_query(str(entry), terms), compiler)
            except QueryError as e:
                raise ConfigError(f"{source}: terms.{name}[{j + 1}] {str(entry)!r}: {e}") from None
    seen: dict[str, int] = {}
    staged: list[tuple[int, RuleSpec, str, PNode | None, QueryError | None]] = []
    for i, spec in enumerate(specs):
        # Rules count from 1 in messages, as config.py's key paths do (feeds[1] is the first feed).
        where = f'{source}: rules[{i + 1}] "{spec.name}"'
        if not spec.name.strip():
            raise ConfigError(f"{source}: rules[{i + 1}]: name is empty")
        if spec.name in seen:
            raise ConfigError(f"{where}: duplicate name (rules[{seen[spec.name] + 1}] has the same name)")
        seen[spec.name] = i
        if not spec.query.strip():
            raise ConfigError(f"{where}: query is empty")
        try:
            expanded = fts_query(spec.query, terms)
        except QueryError as e:
            raise ConfigError(f"{where}: query: {e}") from None
        try:
            tree: PNode | None = parse(expanded)
            err = None
        except QueryError as e:
            tree, err = None, e
        staged.append((i, spec, expanded, tree, err))
    _prelearn([s[3] for s in staged])
    compiled: list[_Compiled] = []
    for i, spec, expanded, tree, err in staged:
        where = f'{source}: rules[{i + 1}] "{spec.name}"'
        try:
            node = _analyze(expanded, compiler, tree) if err is None else _analyze(expanded, compiler)
        except QueryError as e:
            note = f" (expanded from: {spec.query})" if "@" in spec.query else ""
            raise ConfigError(f"{where}: query: {e}{note}") from None
        regex = None
        if spec.regex is not None:
            try:
                regex = compile_regex(spec.regex)
            except RegexError as e:
                raise ConfigError(f"{where}: regex: {e}: {spec.regex}") from None
        rule = Rule(
            name=spec.name,
            query=spec.query,
            expanded=expanded,
            notify=tuple(spec.notify),
            feeds=tuple(spec.feeds),
            regex=regex,
            enabled=spec.enabled,
            spike=spec.spike,
            once_per=spec.once_per,
        )
        compiled.append(_Compiled(rule, node, frozenset(spec.feeds)))
    return RuleSet(compiled)


def compile_query(
    query: str, terms: Mapping[str, Sequence[str]] | None = None, *, name: str = "query"
) -> RuleSet:
    """Return a one-rule RuleSet for an ad hoc query (`rules test`, `search`); raises QueryError."""
    expanded = fts_query(query, terms or {})
    compiler = Compiler()
    node = _analyze(expanded, compiler)
    rule = Rule(name=name, query=query, expanded=expanded)
    return RuleSet([_Compiled(rule, node)])
