"""SQLite FTS5 in memory: the tokenizer of record, the syntax checker, and the batch index.

This is the one place outside the store package that speaks SQL (DESIGN: the batch is matched in an
in-memory FTS5 index, never against the archive). Everything is built from FTS_COLUMNS and
FTS_TOKENIZE, the constants the archive uses, so a word means the same thing in both places.

Tokenizing through FTS5 for every release would cost more than matching itself (reading
fts5vocab back into Python runs at ~2 µs a token), so words are memoized: text is split on
whitespace into chunks, and each chunk's tokens are learned from FTS5 once. That is exact, not
an approximation: unicode61 treats every character Python calls whitespace as a separator (checked
in the tests), tokens never span whitespace, and porter stems each token on its own. What FTS5
tokenizes is fold(chunk) (monitor/fold.py), exactly as the archive folds a release before indexing
it; fold() works character by character, so folding chunk by chunk is folding the whole text.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import threading
from collections.abc import Iterable, Sequence
from itertools import chain

from monitor.fold import fold, unsplit
from monitor.types import FTS_COLUMNS, FTS_TOKENIZE, Doc

# Display-only approximation of unicode61 token characters, used to find where each token
# sits inside its (original, unfolded) chunk for snippets: each CJK character is a token of its
# own, as fold() makes it. Where it disagrees with FTS5's token count for a chunk, the whole
# chunk is highlighted instead (see spans()).
_CJK = "\u3005\u3006\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9d\U00020000-\U0003134f"
_WORD = re.compile(f"[{_CJK}]|(?:[^\\W_{_CJK}]|[\u0300-\u036f])+")

# A chunk learned from FTS5: its tokens, interned so equal tokens compare by identity.
Tokens = tuple[str, ...]

_CACHE_LIMIT = 100_000  # chunks (~25 MB with their tokens); then the memo starts over
_MARK = "qzxchunkqzx"  # a word no release contains (and if one does, learn() notices)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_COLS = ", ".join(_quote(c) for c in FTS_COLUMNS)


class Fts:
    """A private in-memory SQLite connection plus the chunk -> tokens memo. Thread-safe."""

    def __init__(self) -> None:
        # check_same_thread=False: the daemon polls feeds from a thread pool; the lock below
        # serializes every use of the connection.
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        tok = FTS_TOKENIZE.replace("'", "''")
        self._db.executescript(
            f"""
            CREATE VIRTUAL TABLE learn USING fts5(chunk, tokenize='{tok}');
            CREATE VIRTUAL TABLE learn_v USING fts5vocab(learn, 'instance');
            CREATE VIRTUAL TABLE probe USING fts5({_COLS}, tokenize='{tok}');
            """
        )
        self._chunks: dict[str, Tokens] = {}
        self._counts: dict[str, int] = {}  # chunk -> number of tokens (snippets' position maps)
        self._spans: dict[str, tuple[tuple[int, int], ...]] = {}
        self.learned = 0  # chunks ever sent to FTS5 (stats for tests and benchmarks)

    # ------------------------------------------------------------------ tokens

    def learn(self, chunks: Iterable[str]) -> None:
        """Make sure every chunk's tokens are memoized (one FTS5 round trip for the unknown ones)."""
        known = self._chunks
        todo = [c for c in set(chunks) if c not in known]
        if not todo:
            return
        with self._lock:
            if len(known) + len(todo) > _CACHE_LIMIT:
                # New dicts rather than clear(): a batch being matched in another thread keeps
                # the ones it holds; anything it then misses it asks for again (chunk_of()).
                known = self._chunks = {}
                self._counts = {}
                self._spans = {}
            got = self._tokenize_joined(todo)
            if got is None:
                got = self._tokenize_rows(todo)
            intern = sys.intern
            counts = self._counts
            for chunk, toks in zip(todo, got, strict=True):
                known[chunk] = tuple(intern(t) for t in toks)
                counts[chunk] = len(toks)
            self.learned += len(todo)

    def _tokenize_joined(self, chunks: list[str]) -> list[list[str]] | None:
        # One document, chunks separated by a marker word: ~4x faster than one row per chunk.
        # None when a chunk itself yields the marker token (then the rows are counted wrong).
        tokens = self._run([f" {_MARK} ".join(map(fold, chunks))])[0]
        out: list[list[str]] = [[]]
        for t in tokens:
            if t == _MARK:
                out.append([])
            else:
                out[-1].append(t)
        return out if len(out) == len(chunks) else None

    def _tokenize_rows(self, chunks: list[str]) -> list[list[str]]:
        return self._run([fold(c) for c in chunks])

    def _run(self, texts: list[str]) -> list[list[str]]:
        """Return the FTS5 tokens of each text, in order (caller holds the lock)."""
        db = self._db
        got: list[list[tuple[int, str]]] = [[] for _ in texts]
        db.execute("BEGIN")
        try:
            db.executemany("INSERT INTO learn(rowid, chunk) VALUES (?, ?)", enumerate(texts))
            for doc, offset, term in db.execute("SELECT doc, offset, term FROM learn_v"):
                got[doc].append((offset, term))
            db.execute("DELETE FROM learn")
        finally:
            db.execute("COMMIT")
        return [[t for _, t in sorted(g)] for g in got]

    def chunk_counts(self) -> dict[str, int]:
        """Return the memo of token counts (read-only use: chunk -> number of tokens)."""
        return self._counts

    def chunk_tokens(self) -> dict[str, Tokens]:
        """Return the memo itself (read-only use: chunk -> tokens) for fast lookups in loops."""
        return self._chunks

    def chunk_of(self, chunk: str) -> Tokens:
        """Return one chunk's tokens, learning it if needed (also when the memo was just reset)."""
        got = self._chunks.get(chunk)
        if got is None:
            self.learn((chunk,))
            got = self._chunks.get(chunk)
            if got is None:  # reset again by another thread in between: ask FTS5 directly
                with self._lock:
                    got = tuple(sys.intern(t) for t in self._run([fold(chunk)])[0])
        return got

    def lookup(self, chunks: list[str]) -> list[Tokens]:
        """Return the tokens of each chunk."""
        try:
            return list(map(self._chunks.__getitem__, chunks))
        except KeyError:
            self.learn(chunks)
            return [self.chunk_of(c) for c in chunks]

    def tokens(self, text: str) -> list[str]:
        """Return the tokens FTS5 makes of `text`, in order."""
        return list(chain.from_iterable(self.lookup(text.split())))

    def spans(self, chunk: str) -> tuple[tuple[int, int], ...]:
        """Return (start, end) of each token inside `chunk` (display only; chunk must be learned)."""
        got = self._spans.get(chunk)
        if got is not None:
            return got
        n = len(self.chunk_of(chunk))
        found = [m.span() for m in _WORD.finditer(chunk)]
        if len(found) != n:
            # Our regex and unicode61 disagree about this chunk: mark all of it.
            found = [(0, len(chunk))] + [(len(chunk), len(chunk))] * (n - 1) if n else []
        got = tuple(found)
        self._spans[chunk] = got
        return got

    # ------------------------------------------------------------------ FTS5 itself

    def check(self, query: str) -> str | None:
        """Return SQLite's own complaint about an FTS5 query, or None when it accepts it."""
        with self._lock:
            try:
                self._db.execute("SELECT rowid FROM probe WHERE probe MATCH ?", (query,)).fetchall()
            except sqlite3.Error as e:
                return str(e)
        return None

    def search(self, docs: Sequence[Doc], query: str, snippet: tuple[str, str, str, int],
               wide: int) -> dict[int, tuple[str, list[str], list[str]]]:
        """Return {index in docs: (snippet, [each column's snippet], [each column's snippet of `wide`
        tokens])} for the docs FTS5 matches; the slow, exact fallback."""
        o, c, ell, n = snippet
        ncols = len(FTS_COLUMNS)
        per_column = ", ".join([f"snippet(probe, {k}, :o, :c, :e, :n)" for k in range(ncols)]
                               + [f"snippet(probe, {k}, :o, :c, :e, :w)" for k in range(ncols)])
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany(
                    f"INSERT INTO probe(rowid, {_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    ((i, *map(fold, d.columns())) for i, d in enumerate(docs)),
                )
                rows = db.execute(
                    f"SELECT rowid, snippet(probe, -1, :o, :c, :e, :n), {per_column} FROM probe WHERE probe MATCH :q",
                    {"o": o, "c": c, "e": ell, "n": n, "w": wide, "q": query},
                ).fetchall()
            finally:
                db.execute("DELETE FROM probe")
                db.execute("COMMIT")
        return {row[0]: (unsplit(row[1]), [unsplit(t) for t in row[2 : 2 + ncols]],
                         [unsplit(t) for t in row[2 + ncols :]]) for row in rows}


FTS = Fts()  # one per process: the memo is worth sharing between rule sets and threads
