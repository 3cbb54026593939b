"""The archive's tables, indexes, FTS index and triggers, and the migrations that bring an archive up to date.

Migrations are sqlite-utils' own (`sqlite_utils.Migrations`, in sqlite-utils since 4.0, so no extra
package): each is a function of a `sqlite_utils.Database`, recorded by name in `_sqlite_migrations`
once applied. A writer opening the archive applies the pending ones, all in one `BEGIN IMMEDIATE`
transaction (each step a savepoint inside it): two processes starting together cannot both apply a
step, and a failed step leaves the archive as it was. A reader refuses an archive with pending steps
(it cannot write) or with steps it does not know (a newer press-monitor made them).

Archives made before migrations carried their version in PRAGMA user_version (1); the first step
recognises them and leaves their tables alone. Once migrated, user_version is set to GUARD_VERSION,
which older press-monitor releases refuse as "newer than this press-monitor" instead of misreading.

To change the schema: append a function decorated with `@migration(name)` below; never edit or
reorder one that has shipped. The schema the steps add up to is kept in schema.sql beside this
file (checked by tests/test_store_upgrade.py); regenerate it with `python -m tests.schema_snapshot`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlite_utils

from monitor.errors import StoreError
from monitor.fold import fold, split_cjk
from monitor.types import FTS_COLUMNS, FTS_TOKENIZE, AlertStatus
from monitor.wires import wire_name

if TYPE_CHECKING:
    import sqlite3

    from monitor.store.base import Connection

Step = Callable[[sqlite_utils.Database], None]

MIGRATIONS = sqlite_utils.Migrations("press-monitor")
NAMES: list[str] = []  # every migration this press-monitor knows, in order


def migration(name: str) -> Callable[[Step], Step]:
    """Register a migration step under `name` (kept in NAMES too: Migrations does not list them publicly)."""
    NAMES.append(name)
    return MIGRATIONS(name=name)

# PRAGMA user_version of archives made before migrations; and what it is set to once they ran.
LEGACY_VERSION = 1
GUARD_VERSION = 2


def _state(db: sqlite_utils.Database) -> tuple[list[str], list[str]]:
    """Return (names of pending migrations, names of applied migrations this press-monitor does not know)."""
    applied = [m.name for m in MIGRATIONS.applied(db)]
    return [name for name in NAMES if name not in applied], [name for name in applied if name not in NAMES]


def _refuse_newer(store: Connection, unknown: list[str]) -> None:
    if unknown or store.version() > GUARD_VERSION:
        what = f"migration {unknown[0]!r}" if unknown else f"schema version {store.version()}"
        raise StoreError(f"{store.path}: the archive has {what}, newer than this press-monitor; "
                         "upgrade press-monitor")


def migrate(store: Connection) -> list[str]:
    """Apply the pending migrations (one write transaction); return their names."""
    pending, unknown = _state(store.db)
    _refuse_newer(store, unknown)
    if not pending:
        return []  # the common case: no write lock taken just to open the archive
    with store.transaction():
        # Another process may have migrated between the check above and the lock: ask again.
        pending, unknown = _state(store.db)
        _refuse_newer(store, unknown)
        MIGRATIONS.apply(store.db)
        store.conn.execute(f"PRAGMA user_version = {GUARD_VERSION}")
    return pending


def check_readable(store: Connection) -> None:
    """Refuse to read an archive that is not exactly at this press-monitor's schema."""
    pending, unknown = _state(store.db)
    _refuse_newer(store, unknown)
    if pending:
        raise StoreError(f"{store.path}: the archive needs migrating ({', '.join(pending)}); run the daemon "
                         "or `press-monitor run --once` once to migrate it")


@migration("schema_v1")
def schema_v1(db: sqlite_utils.Database) -> None:
    """The first schema: feeds, releases (+ FTS), sightings, versions, matches, the outbox, channels, meta."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= LEGACY_VERSION:
        return  # made before migrations, by the user_version scheme: these tables exist already
    db.table("feeds").create(
        {"id": int, "name": str, "url": str, "etag": str, "last_modified": str,
         "last_polled_at": str, "last_ok_at": str, "last_error": str, "last_error_kind": str,
         "consecutive_failures": int, "retry_after_until": str, "next_poll_at": str,
         "gone": int, "redirect_to": str, "redirect_since": str, "entries": int, "item_hashes": str},
        pk="id", not_null={"name", "url"}, defaults={"consecutive_failures": 0, "gone": 0, "entries": 0},
    )
    db.table("feeds").create_index(["name"], unique=True)
    db.table("releases").create(
        {"id": int, "url": str, "title": str, "summary": str, "body": str, "author": str,
         "dateline": str, "tickers": str, "source": str,
         "published_at": str, "published_known": int, "first_seen_at": str, "updated_at": str,
         "dateline_place": str, "dateline_date": str, "wire": str,
         "fingerprint": str, "content_hash": str},
        pk="id", not_null={"title", "published_at", "first_seen_at", "fingerprint"},
    )
    for column in ("url", "fingerprint", "published_at", "first_seen_at"):
        db.table("releases").create_index([column])
    db.table("sightings").create(
        {"id": int, "feed_id": int, "release_id": int, "key": str, "link": str,
         "content_hash": str, "first_seen_at": str, "last_seen_at": str},
        pk="id", foreign_keys=[("feed_id", "feeds", "id"), ("release_id", "releases", "id")],
        not_null={"feed_id", "release_id", "key"},
    )
    db.table("sightings").create_index(["feed_id", "key"], unique=True)
    db.table("sightings").create_index(["release_id"])
    db.table("release_versions").create(
        {"id": int, "release_id": int, "title": str, "summary": str, "body": str, "author": str,
         "published_at": str, "content_hash": str, "replaced_at": str},
        pk="id", foreign_keys=[("release_id", "releases", "id")], not_null={"release_id"},
    )
    db.table("release_versions").create_index(["release_id"])
    db.table("matches").create(
        {"id": int, "release_id": int, "rule": str, "snippet": str, "matched_at": str},
        pk="id", foreign_keys=[("release_id", "releases", "id")], not_null={"release_id", "rule"},
    )
    db.table("matches").create_index(["release_id", "rule"], unique=True)
    db.table("matches").create_index(["rule", "matched_at"])
    db.table("alerts").create(
        {"id": int, "release_id": int, "rule": str, "channel": str, "status": str,
         "attempts": int, "next_attempt_at": str, "last_error": str, "created_at": str,
         "sent_at": str, "digest_id": str},
        pk="id", foreign_keys=[("release_id", "releases", "id")],
        not_null={"release_id", "rule", "channel", "status"},
        defaults={"attempts": 0, "status": AlertStatus.PENDING.value},
    )
    db.table("alerts").create_index(["release_id", "rule", "channel"], unique=True)
    db.table("alerts").create_index(["status", "next_attempt_at"])
    db.table("channels").create({"name": str, "disabled_at": str, "disabled_reason": str}, pk="name")
    db.table("meta").create({"key": str, "value": str}, pk="key")
    # A random id per archive makes alert ids unique across installations sending to one receiver.
    db.execute("INSERT INTO meta (key, value) VALUES ('install_id', lower(hex(randomblob(4))))")
    # External-content FTS5 over the releases columns, kept in sync by triggers: the text is
    # stored once, and search can never see a release that is not in the table.
    db.table("releases").enable_fts(list(FTS_COLUMNS), fts_version="FTS5", tokenize=FTS_TOKENIZE,
                              create_triggers=True)
    # Title hits count most, then summary/tickers: bm25 weights per column in FTS_COLUMNS order.
    db.execute("INSERT INTO releases_fts(releases_fts, rank)"
               " VALUES ('rank', 'bm25(10.0, 4.0, 1.0, 2.0, 2.0, 4.0, 1.0)')")


def split_legacy_tickers(text: str) -> list[str]:
    """Return the tickers of a space-joined tickers column ('NYSE:A NYSE American:PLG' -> two tickers).

    Each ticker is EXCHANGE:SYMBOL, with spaces only in the exchange and before a share class
    ('NASDAQ STOCKHOLM:HEXA B'): a single letter A-D right after a ticker is its share class (no
    exchange is named so); any other word without a colon belongs to the ticker that the next word
    with a colon ends.
    """
    out: list[str] = []
    words: list[str] = []
    for word in text.split():
        if out and not words and len(word) == 1 and word in "ABCD":
            out[-1] += f" {word}"
            continue
        words.append(word)
        if ":" in word:
            out.append(" ".join(words))
            words = []
    if words:  # trailing words without a colon: keep them rather than lose them
        out.append(" ".join(words))
    return out


@migration("tickers_json")
def tickers_json(db: sqlite_utils.Database) -> None:
    """releases.tickers: a JSON list instead of space-joined text, which split 'NYSE American:PLG' in two.

    The FTS index keeps indexing the column as text (the update trigger re-indexes each converted
    row); JSON's brackets and quotes are not tokens, so every query matches as before. Rows without
    tickers keep '' (read as an empty list), so the archive is not rewritten for them.
    """
    rows = db.execute("SELECT id, tickers FROM releases WHERE coalesce(tickers, '') <> ''"
                      " AND substr(tickers, 1, 1) <> '['").fetchall()
    for rid, text in rows:
        db.execute("UPDATE releases SET tickers = :tickers WHERE id = :id",
                   {"tickers": json.dumps(split_legacy_tickers(text)), "id": rid})


# --------------------------------------------------------------------------- the folded index
#
# Why this shape (monitor/fold.py says what folding does): the index must hold fold(text), the
# text people see must stay the original, and both search and snippet() must keep working in SQL.
# SQLite 3.40 has no contentless-delete and Python cannot register an FTS5 tokenizer, so:
# - the triggers index pm_fold(column): what rules and queries are folded to (fold.py);
# - the external content is a view showing pm_split_cjk(column): the original text with only the
#   CJK characters set apart by zero-width spaces. fold() moves no other word boundary, so when
#   snippet() re-tokenizes this view the tokens stand exactly where the index has them, and the
#   snippet shows the original words (the queries strip the zero-width spaces: review.py).
# Every connection that writes releases or reads snippets needs the two functions: Connection
# registers them on open; any other tool writing releases fails loudly ("no such function").
# Never use FTS5 'rebuild' (it would index the view's unfolded text; reindex() does it right) nor
# 'integrity-check' (it compares the index with the view's unfolded text, so it always objects).
# Changing fold() means a new migration that calls reindex().

_COLS = ", ".join(f'"{c}"' for c in FTS_COLUMNS)


def _fold_sql(value: str | None) -> str | None:
    return fold(value) if isinstance(value, str) else value


def _split_sql(value: str | None) -> str | None:
    return split_cjk(value) if isinstance(value, str) else value


def register_functions(conn: sqlite3.Connection) -> None:
    """Make pm_fold() and pm_split_cjk() known to this connection (the index and its view use them)."""
    conn.create_function("pm_fold", 1, _fold_sql, deterministic=True)
    conn.create_function("pm_split_cjk", 1, _split_sql, deterministic=True)


def _folded(prefix: str) -> str:
    return ", ".join(f'pm_fold({prefix}"{c}")' for c in FTS_COLUMNS)


def reindex(db: sqlite_utils.Database) -> None:
    """Index every release again with the current fold()."""
    db.execute("INSERT INTO releases_fts(releases_fts) VALUES ('delete-all')")
    db.execute(f"INSERT INTO releases_fts (rowid, {_COLS}) SELECT id, {_folded('')} FROM releases")
    for notes in ("fts_pending", "fts_stale"):
        if db.table(notes).exists():  # the index holds exactly the releases now: nothing is left to flush
            db.execute(f"DELETE FROM {notes}")


@migration("folded_index")
def folded_index(db: sqlite_utils.Database) -> None:
    """The FTS index holds folded text (NFKC, ı, ß, CJK characters as tokens) behind a view of the original.

    Replaces schema_v1's plain external-content index and its triggers, then indexes every
    release once (~20 s per 100,000 releases).
    """
    for trigger in ("releases_ai", "releases_ad", "releases_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute("DROP TABLE IF EXISTS releases_fts")
    shown = ", ".join(f'pm_split_cjk("{c}") AS "{c}"' for c in FTS_COLUMNS)
    db.execute(f"CREATE VIEW releases_fts_text AS SELECT id, {shown} FROM releases")
    tok = FTS_TOKENIZE.replace("'", "''")
    db.execute(f"CREATE VIRTUAL TABLE releases_fts USING fts5({_COLS}, tokenize='{tok}',"
               " content='releases_fts_text', content_rowid='id')")
    insert = f"INSERT INTO releases_fts (rowid, {_COLS}) VALUES (new.id, {_folded('new.')});"
    delete = (f"INSERT INTO releases_fts (releases_fts, rowid, {_COLS})"
              f" VALUES ('delete', old.id, {_folded('old.')});")
    db.execute(f"CREATE TRIGGER releases_ai AFTER INSERT ON releases BEGIN {insert} END")
    db.execute(f"CREATE TRIGGER releases_ad AFTER DELETE ON releases BEGIN {delete} END")
    # Only a change to an indexed column re-indexes the release (not updated_at and the like).
    db.execute(f"CREATE TRIGGER releases_au AFTER UPDATE OF {_COLS} ON releases BEGIN {delete} {insert} END")
    # Title hits count most, then summary/tickers: bm25 weights per column in FTS_COLUMNS order.
    db.execute("INSERT INTO releases_fts(releases_fts, rank)"
               " VALUES ('rank', 'bm25(10.0, 4.0, 1.0, 2.0, 2.0, 4.0, 1.0)')")
    reindex(db)


@migration("pages")
def pages(db: sqlite_utils.Database) -> None:
    """The page queue (full text): one row per release whose page is fetched, written with the release."""
    db.table("pages").create(
        {"id": int, "release_id": int, "url": str, "feed": str, "feed_url": str, "host": str, "status": str,
         "attempts": int, "next_attempt_at": str, "last_error": str, "error_kind": str, "method": str,
         "created_at": str, "done_at": str},
        pk="id", foreign_keys=[("release_id", "releases", "id")],
        not_null={"release_id", "url", "status"}, defaults={"attempts": 0, "status": "pending"},
    )
    db.table("pages").create_index(["release_id"], unique=True)
    db.table("pages").create_index(["status", "next_attempt_at"])
    db.table("pages").create_index(["feed", "status"])


def rename_wires(db: sqlite_utils.Database) -> None:
    """Bring every release's wire to its display name (monitor/wires.py), in `wire` and the dateline text.

    The dateline text (`place date wire`, as types.Release.dateline_text writes it) is an indexed
    column: the update trigger re-indexes exactly the rows whose wire changes, folded as always, so
    the index stays consistent and a search for "PR Newswire" finds old releases as it finds new ones.
    Rows are touched only when their name changes: one UPDATE per distinct wire name written.
    """
    written = [w for (w,) in db.execute("SELECT DISTINCT wire FROM releases WHERE coalesce(wire, '') <> ''")]
    for old in written:
        new = wire_name(old)
        if new == old:
            continue
        # The wire ends the dateline text; anything else (never written so) keeps its text.
        db.execute(
            "UPDATE releases SET wire = :new, dateline = CASE"
            " WHEN dateline = :old THEN :new"
            " WHEN substr(dateline, -length(:tail)) = :tail THEN substr(dateline, 1, length(dateline) - length(:old))"
            " || :new ELSE dateline END WHERE wire = :old",
            {"old": old, "new": new, "tail": " " + old})


@migration("wire_names")
def wire_names(db: sqlite_utils.Database) -> None:
    """Archives stored wires as datelines wrote them ("PRNewswire", "ACCESSWIRE"): one display name each now."""
    rename_wires(db)


@migration("sightings_by_feed")
def sightings_by_feed(db: sqlite_utils.Database) -> None:
    """An index of each feed's release ids: a feed-filtered web search reads the feed's ids from it alone.

    Without it the ids came through the (feed_id, key) index plus one sightings row each: at 1M
    releases ~65,000 row reads for a feed carrying 10% (measured ~15x slower at 100k).
    """
    db.table("sightings").create_index(["feed_id", "release_id"], if_not_exists=True)


# --------------------------------------------------------------------------- the index, once per transaction
#
# Why: FTS5 indexing from a per-row trigger costs ~2.5x what indexing the same rows in one
# INSERT ... SELECT costs (measured, 13,771 releases, folding included: 2.8-3.5 s vs 1.05 s of CPU;
# apparently FTS5 writes its pending terms out at every statement savepoint, which each
# trigger-firing INSERT opens), and a release a second feed carries was indexed twice more (the
# join appends the feed name to `source`, an indexed column: delete with the old values, insert with
# the new). So inside a write transaction of Connection.transaction() (pm_defer() answers 1 there)
# the triggers only take notes, and flush_index() does the index work in two statements right
# before COMMIT, at most one delete and one insert per release however often it changed:
#   fts_pending  ids to index with their current values (written in this transaction);
#   fts_stale    the values the index holds for a release indexed before and changed or deleted
#                since (the first old values: those are what the index has).
# Atomic with the data: no reader ever sees a committed release the index does not hold, and a
# crash rolls the notes back with the rows. Outside such a transaction (pm_defer() is 0: a plain
# statement, another tool) the triggers index at once, as before. Both tables are empty whenever
# no write transaction is open. Every fts_stale id is in fts_pending until the release is deleted.
# So a search run inside a write transaction does not see that transaction's own writes (nothing
# does that today: matching reads the batch in memory, rules/fts.py).

_PENDING = "EXISTS (SELECT 1 FROM fts_pending WHERE id = old.id)"
_STALE_COLS = ", ".join(f'"{c}" TEXT' for c in FTS_COLUMNS)
# Outside the store's transactions: index at once, as the triggers always did.
_INDEX = f"INSERT INTO releases_fts (rowid, {_COLS}) VALUES (new.id, {_folded('new.')});"
_UNINDEX = f"INSERT INTO releases_fts (releases_fts, rowid, {_COLS}) VALUES ('delete', old.id, {_folded('old.')});"
# Inside: note the id; a release not pending is in the index with its old values: keep them for the flush.
_NOTE = "INSERT OR IGNORE INTO fts_pending (id) VALUES (new.id);"
_NOTE_STALE = (f"INSERT OR IGNORE INTO fts_stale (id, {_COLS})"
               f" SELECT old.id, {', '.join(f'old.{c}' for c in FTS_COLUMNS)} WHERE NOT {_PENDING};")
_FLUSH = (
    f"INSERT INTO releases_fts (releases_fts, rowid, {_COLS}) SELECT 'delete', id, {_folded('')} FROM fts_stale",
    f"INSERT INTO releases_fts (rowid, {_COLS}) SELECT id, {_folded('')} FROM releases"
    " WHERE id IN (SELECT id FROM fts_pending) ORDER BY id",
    "DELETE FROM fts_stale",
    "DELETE FROM fts_pending",
)


def flush_index(conn: sqlite3.Connection) -> None:
    """Bring the index up to date with this transaction's writes (call right before its COMMIT)."""
    if conn.execute("SELECT EXISTS (SELECT 1 FROM fts_pending) OR EXISTS (SELECT 1 FROM fts_stale)").fetchone()[0]:
        for sql in _FLUSH:
            conn.execute(sql)


@migration("index_at_commit")
def index_at_commit(db: sqlite_utils.Database) -> None:
    """The FTS triggers take notes inside the store's transactions; the store indexes once, at COMMIT."""
    db.execute("CREATE TABLE fts_pending (id INTEGER PRIMARY KEY)")
    db.execute(f"CREATE TABLE fts_stale (id INTEGER PRIMARY KEY, {_STALE_COLS})")
    for trigger in ("releases_ai", "releases_ad", "releases_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    # Two triggers per event, one for each side of pm_defer(): exactly one fires for a row.
    # Only a change to an indexed column re-indexes the release (not updated_at and the like).
    update = f"AFTER UPDATE OF {_COLS} ON releases"
    for name, event, now, deferred in (
        ("releases_ai", "AFTER INSERT ON releases", _INDEX, _NOTE),
        ("releases_au", update, f"{_UNINDEX} {_INDEX}", f"{_NOTE_STALE} {_NOTE}"),
        ("releases_ad", "AFTER DELETE ON releases", _UNINDEX,
         f"{_NOTE_STALE} DELETE FROM fts_pending WHERE id = old.id;"),
    ):
        db.execute(f"CREATE TRIGGER {name} {event} WHEN NOT pm_defer() BEGIN {now} END")
        db.execute(f"CREATE TRIGGER {name}_deferred {event} WHEN pm_defer() BEGIN {deferred} END")


@migration("page_boilerplate")
def page_boilerplate(db: sqlite_utils.Database) -> None:
    """releases.boilerplate: the end matter cut from a page's release text (About, contacts, safe harbor);
    pages.quality: a page-quality flag ("anchor-missing": the feed's release was not found in the page);
    the wire names monitor/wires.py learnt (EIN Presswire, Marketwired, JCN Newswire) brought to old rows.

    Not in the FTS index: indexed, every bare query and rule would match About text again, the false
    alerts the cut is there to stop. It is shown with the release (`show`).
    """
    db.execute("ALTER TABLE releases ADD COLUMN boilerplate TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE pages ADD COLUMN quality TEXT")
    rename_wires(db)  # "EINPresswire.com" as older archives wrote it is "EIN Presswire" now


@migration("cluster")
def cluster(db: sqlite_utils.Database) -> None:
    """nodes: one row per daemon process (registry and heartbeat); leases: who holds what until when.

    One lease table for every kind of work ("feed:NAME", "page:ID", "alert:ID", "host:NAME", "slot:HOST:N", "job:NAME"):
    a claim is one conditional upsert that succeeds only where no live lease exists, the same SQL on both
    backends, and `nodes` can show what each node holds with one GROUP BY.
    """
    db.table("nodes").create(
        {"id": str, "host": str, "pid": int, "version": str, "config_hash": str,
         "started_at": str, "heartbeat_at": str, "stopped_at": str},
        pk="id", not_null={"host", "pid", "started_at", "heartbeat_at"},
    )
    db.table("leases").create(
        {"resource": str, "node": str, "expires_at": str, "acquired_at": str},
        pk="resource", not_null={"node", "expires_at"},
    )
    db.table("leases").create_index(["node"])
    db.table("leases").create_index(["expires_at"])


@migration("pg_ingest")
def pg_ingest(db: sqlite_utils.Database) -> None:
    """Nothing on SQLite. On PostgreSQL the ingest writes a new release's search vector with its row, so the
    insert trigger notes only a release written without one (pgschema.pg_ingest)."""


@migration("pg_search_speed")
def pg_search_speed(db: sqlite_utils.Database) -> None:
    """PostgreSQL only (each release's tsvector gains its id's bucket lexeme, store/pgsearch.py): FTS5
    already walks its index newest first within a range of rowids. A step here too, so that both
    backends have the same steps and version check."""


@migration("spikes")
def spikes(db: sqlite_utils.Database) -> None:
    """spikes: one row per rule.spike alert (the window, its count, the baseline, the top releases);
    alerts.spike_id: an outbox row about a spike instead of a release (release_id NULL then);
    alerts.group_id: the message id one send of several rows of one release went under, so a retry
    re-sends them together under that id (deliver.py: one message per release per channel).

    The outbox stays one row per (release, rule, channel): states, `alerts retry` and the web view
    keep working per rule; grouping is a delivery-time stage.
    """
    db.table("spikes").create(
        {"id": int, "rule": str, "window_start": str, "window_end": str, "matches": int, "baseline": float,
         "factor": float, "min_matches": int, "releases": str, "created_at": str},
        pk="id", not_null={"rule", "window_start", "window_end", "matches", "created_at"},
    )
    db.table("spikes").create_index(["rule", "created_at"])
    db.table("alerts").transform(not_null={"release_id": False}, defaults={"attempts": 0})
    db.execute("ALTER TABLE alerts ADD COLUMN spike_id INTEGER REFERENCES spikes (id)")
    db.execute("ALTER TABLE alerts ADD COLUMN group_id TEXT")
    db.execute("CREATE UNIQUE INDEX idx_alerts_spike_id_channel ON alerts (spike_id, channel)")


@migration("stories")
def stories(db: sqlite_utils.Database) -> None:
    """releases.story_id: the first copy of the release's story (monitor/stories.py); story_bands: the LSH
    band keys of each release's lead, looked up when a later release may be a near-copy.

    A release whose story_id is NULL is its story's first copy (or alone): the story's id is its own id,
    so older releases need no write here (a story each, lazily: they have no bands, so later releases do
    not find them as near-copies; exact copies still join them through dedupe). The index is partial: only
    copies have a story_id. story_bands has no rowid: the (band_key, release_id) key is the lookup's index.
    """
    db.execute("ALTER TABLE releases ADD COLUMN story_id INTEGER")
    db.execute("CREATE INDEX idx_releases_story_id ON releases (story_id) WHERE story_id IS NOT NULL")
    db.execute("CREATE TABLE story_bands (band_key INTEGER NOT NULL, release_id INTEGER NOT NULL,"
               " PRIMARY KEY (band_key, release_id)) WITHOUT ROWID")
    db.execute("CREATE INDEX idx_story_bands_release_id ON story_bands (release_id)")
