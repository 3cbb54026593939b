"""The archive: the only package that speaks SQL (sqlite-utils for the schema, plain SQL on the hot path).

One SQLite file in WAL mode, so readers (CLI, web view) never block the writer (daemon). Each feed
poll is one `BEGIN IMMEDIATE` transaction (`Store.transaction()`): a crash leaves the archive as
before or after the poll, never between. A transaction opened inside another is a savepoint, so
`run --once` can commit the polls that are ready together (each still all or nothing). The FTS
index is brought up to date once per transaction, right before its COMMIT (schema.flush_index:
triggers only take notes inside the store's transactions), so a release that several polls of one
transaction write or join is indexed once.

One module per aggregate, each a mixin over `base.Connection`, composed into `Store`:

  base.py         open/close, transactions, meta values, row helpers (rows by name, named parameters)
  schema.py       tables, indexes, FTS and its triggers, migrations
  rows.py         the row types handed back (frozen dataclasses built `from_row`)
  feeds.py        feed identity, validators, poll health, the daemon's schedule
  ingest.py       what one poll writes: releases, sightings, versions, matches, alerts queued
  outbox.py       alert delivery state, digests, requeue, channels switched off
  review.py       search, one release, export, rule feeds, the web view's browse and facets
  webview.py      the web view's and API's windowed search, facets, day counts and keyset pages
  maintenance.py  checkpoint, FTS merge, analyze, purge
  pagequeue.py    the page queue (full text): queue, due pages, attempts, the page text applied
  nodes.py        the node registry (daemons sharing the archive): register, heartbeat, stopped, leases held
  leases.py       who holds which work until when (several daemons on one archive)
  stories.py      stories: LSH band keys, which story a release is in, its copies
"""

from __future__ import annotations

from typing import TypeAlias

from monitor.store import rows
from monitor.store.base import Connection, parse_ts, ts
from monitor.store.feeds import FeedStore
from monitor.store.ingest import IngestStore
from monitor.store.leases import Lease, LeaseStore
from monitor.store.maintenance import MaintenanceStore
from monitor.store.nodes import NodeRow, NodeStore
from monitor.store.outbox import OutboxStore
from monitor.store.pagequeue import PageRow, PageStore
from monitor.store.review import RANK_WINDOW, REVIEW_FILTERS
from monitor.store.rows import (
    FeedRow,
    Hit,
    MatchRow,
    OutboxRow,
    ReleaseDetail,
    Schedule,
    Sighting,
    Story,
    StoryCopy,
    Version,
)
from monitor.store.schema import MIGRATIONS
from monitor.store.stories import StoryStore
from monitor.store.webview import WebViewStore
from monitor.types import AlertStatus, FeedCondition, FeedStatus

__all__ = [
    "MIGRATIONS", "RANK_WINDOW", "REVIEW_FILTERS", "AlertStatus", "Connection", "FeedCondition", "FeedRow",
    "FeedStatus", "Hit", "Lease", "MatchRow", "NodeRow", "OutboxRow", "PageRow",
    "ReleaseDetail", "Schedule", "Sighting", "Store", "Story", "StoryCopy", "Version", "parse_ts", "ts",
]


class Store(FeedStore, IngestStore, WebViewStore, OutboxStore, MaintenanceStore, PageStore, NodeStore, LeaseStore,
            StoryStore):
    """An open archive. Not shared between threads: open one per thread (they are cheap)."""

    Schedule: TypeAlias = rows.FeedStatus  # `Store.Schedule`, as callers spelled it when it was a nested class
