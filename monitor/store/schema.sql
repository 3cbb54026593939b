-- The press-monitor archive's schema after every migration (monitor/store/schema.py), as SQLite
-- records it. Generated: do not edit; regenerate with `.venv/bin/python -m tests.schema_snapshot`.
-- Migrations: schema_v1, tickers_json, folded_index, pages, wire_names, sightings_by_feed, index_at_commit, page_boilerplate, cluster, pg_ingest, pg_search_speed, spikes, stories

CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);

CREATE TABLE "alerts" (
   "id" INTEGER PRIMARY KEY,
   "release_id" INTEGER REFERENCES "releases"("id"),
   "rule" TEXT NOT NULL,
   "channel" TEXT NOT NULL,
   "status" TEXT NOT NULL DEFAULT 'pending',
   "attempts" INTEGER DEFAULT 0,
   "next_attempt_at" TEXT,
   "last_error" TEXT,
   "created_at" TEXT,
   "sent_at" TEXT,
   "digest_id" TEXT
, spike_id INTEGER REFERENCES spikes (id), group_id TEXT);

CREATE TABLE "channels" (
   "name" TEXT PRIMARY KEY,
   "disabled_at" TEXT,
   "disabled_reason" TEXT
);

CREATE TABLE "feeds" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL,
   "url" TEXT NOT NULL,
   "etag" TEXT,
   "last_modified" TEXT,
   "last_polled_at" TEXT,
   "last_ok_at" TEXT,
   "last_error" TEXT,
   "last_error_kind" TEXT,
   "consecutive_failures" INTEGER DEFAULT 0,
   "retry_after_until" TEXT,
   "next_poll_at" TEXT,
   "gone" INTEGER DEFAULT 0,
   "redirect_to" TEXT,
   "redirect_since" TEXT,
   "entries" INTEGER DEFAULT 0,
   "item_hashes" TEXT
);

CREATE TABLE fts_pending (id INTEGER PRIMARY KEY);

CREATE TABLE fts_stale (id INTEGER PRIMARY KEY, "title" TEXT, "summary" TEXT, "body" TEXT, "author" TEXT, "dateline" TEXT, "tickers" TEXT, "source" TEXT);

CREATE TABLE "leases" (
   "resource" TEXT PRIMARY KEY,
   "node" TEXT NOT NULL,
   "expires_at" TEXT NOT NULL,
   "acquired_at" TEXT
);

CREATE TABLE "matches" (
   "id" INTEGER PRIMARY KEY,
   "release_id" INTEGER NOT NULL REFERENCES "releases"("id"),
   "rule" TEXT NOT NULL,
   "snippet" TEXT,
   "matched_at" TEXT
);

CREATE TABLE "meta" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);

CREATE TABLE "nodes" (
   "id" TEXT PRIMARY KEY,
   "host" TEXT NOT NULL,
   "pid" INTEGER NOT NULL,
   "version" TEXT,
   "config_hash" TEXT,
   "started_at" TEXT NOT NULL,
   "heartbeat_at" TEXT NOT NULL,
   "stopped_at" TEXT
);

CREATE TABLE "pages" (
   "id" INTEGER PRIMARY KEY,
   "release_id" INTEGER NOT NULL REFERENCES "releases"("id"),
   "url" TEXT NOT NULL,
   "feed" TEXT,
   "feed_url" TEXT,
   "host" TEXT,
   "status" TEXT NOT NULL DEFAULT 'pending',
   "attempts" INTEGER DEFAULT 0,
   "next_attempt_at" TEXT,
   "last_error" TEXT,
   "error_kind" TEXT,
   "method" TEXT,
   "created_at" TEXT,
   "done_at" TEXT
, quality TEXT);

CREATE TABLE "release_versions" (
   "id" INTEGER PRIMARY KEY,
   "release_id" INTEGER NOT NULL REFERENCES "releases"("id"),
   "title" TEXT,
   "summary" TEXT,
   "body" TEXT,
   "author" TEXT,
   "published_at" TEXT,
   "content_hash" TEXT,
   "replaced_at" TEXT
);

CREATE TABLE "releases" (
   "id" INTEGER PRIMARY KEY,
   "url" TEXT,
   "title" TEXT NOT NULL,
   "summary" TEXT,
   "body" TEXT,
   "author" TEXT,
   "dateline" TEXT,
   "tickers" TEXT,
   "source" TEXT,
   "published_at" TEXT NOT NULL,
   "published_known" INTEGER,
   "first_seen_at" TEXT NOT NULL,
   "updated_at" TEXT,
   "dateline_place" TEXT,
   "dateline_date" TEXT,
   "wire" TEXT,
   "fingerprint" TEXT NOT NULL,
   "content_hash" TEXT
, boilerplate TEXT NOT NULL DEFAULT '', story_id INTEGER);

CREATE VIRTUAL TABLE releases_fts USING fts5("title", "summary", "body", "author", "dateline", "tickers", "source", tokenize='porter unicode61 remove_diacritics 2', content='releases_fts_text', content_rowid='id');

CREATE VIEW releases_fts_text AS SELECT id, pm_split_cjk("title") AS "title", pm_split_cjk("summary") AS "summary", pm_split_cjk("body") AS "body", pm_split_cjk("author") AS "author", pm_split_cjk("dateline") AS "dateline", pm_split_cjk("tickers") AS "tickers", pm_split_cjk("source") AS "source" FROM releases;

CREATE TABLE "sightings" (
   "id" INTEGER PRIMARY KEY,
   "feed_id" INTEGER NOT NULL REFERENCES "feeds"("id"),
   "release_id" INTEGER NOT NULL REFERENCES "releases"("id"),
   "key" TEXT NOT NULL,
   "link" TEXT,
   "content_hash" TEXT,
   "first_seen_at" TEXT,
   "last_seen_at" TEXT
);

CREATE TABLE "spikes" (
   "id" INTEGER PRIMARY KEY,
   "rule" TEXT NOT NULL,
   "window_start" TEXT NOT NULL,
   "window_end" TEXT NOT NULL,
   "matches" INTEGER NOT NULL,
   "baseline" REAL,
   "factor" REAL,
   "min_matches" INTEGER,
   "releases" TEXT,
   "created_at" TEXT NOT NULL
);

CREATE TABLE story_bands (band_key INTEGER NOT NULL, release_id INTEGER NOT NULL, PRIMARY KEY (band_key, release_id)) WITHOUT ROWID;

CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");

CREATE UNIQUE INDEX "idx_alerts_release_id_rule_channel"
    ON "alerts" ("release_id", "rule", "channel");

CREATE UNIQUE INDEX idx_alerts_spike_id_channel ON alerts (spike_id, channel);

CREATE INDEX "idx_alerts_status_next_attempt_at"
    ON "alerts" ("status", "next_attempt_at");

CREATE UNIQUE INDEX "idx_feeds_name"
    ON "feeds" ("name");

CREATE INDEX "idx_leases_expires_at"
    ON "leases" ("expires_at");

CREATE INDEX "idx_leases_node"
    ON "leases" ("node");

CREATE UNIQUE INDEX "idx_matches_release_id_rule"
    ON "matches" ("release_id", "rule");

CREATE INDEX "idx_matches_rule_matched_at"
    ON "matches" ("rule", "matched_at");

CREATE INDEX "idx_pages_feed_status"
    ON "pages" ("feed", "status");

CREATE UNIQUE INDEX "idx_pages_release_id"
    ON "pages" ("release_id");

CREATE INDEX "idx_pages_status_next_attempt_at"
    ON "pages" ("status", "next_attempt_at");

CREATE INDEX "idx_release_versions_release_id"
    ON "release_versions" ("release_id");

CREATE INDEX "idx_releases_fingerprint"
    ON "releases" ("fingerprint");

CREATE INDEX "idx_releases_first_seen_at"
    ON "releases" ("first_seen_at");

CREATE INDEX "idx_releases_published_at"
    ON "releases" ("published_at");

CREATE INDEX idx_releases_story_id ON releases (story_id) WHERE story_id IS NOT NULL;

CREATE INDEX "idx_releases_url"
    ON "releases" ("url");

CREATE UNIQUE INDEX "idx_sightings_feed_id_key"
    ON "sightings" ("feed_id", "key");

CREATE INDEX "idx_sightings_feed_id_release_id"
    ON "sightings" ("feed_id", "release_id");

CREATE INDEX "idx_sightings_release_id"
    ON "sightings" ("release_id");

CREATE INDEX "idx_spikes_rule_created_at"
    ON "spikes" ("rule", "created_at");

CREATE INDEX idx_story_bands_release_id ON story_bands (release_id);

CREATE TRIGGER releases_ad AFTER DELETE ON releases WHEN NOT pm_defer() BEGIN INSERT INTO releases_fts (releases_fts, rowid, "title", "summary", "body", "author", "dateline", "tickers", "source") VALUES ('delete', old.id, pm_fold(old."title"), pm_fold(old."summary"), pm_fold(old."body"), pm_fold(old."author"), pm_fold(old."dateline"), pm_fold(old."tickers"), pm_fold(old."source")); END;

CREATE TRIGGER releases_ad_deferred AFTER DELETE ON releases WHEN pm_defer() BEGIN INSERT OR IGNORE INTO fts_stale (id, "title", "summary", "body", "author", "dateline", "tickers", "source") SELECT old.id, old.title, old.summary, old.body, old.author, old.dateline, old.tickers, old.source WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE id = old.id); DELETE FROM fts_pending WHERE id = old.id; END;

CREATE TRIGGER releases_ai AFTER INSERT ON releases WHEN NOT pm_defer() BEGIN INSERT INTO releases_fts (rowid, "title", "summary", "body", "author", "dateline", "tickers", "source") VALUES (new.id, pm_fold(new."title"), pm_fold(new."summary"), pm_fold(new."body"), pm_fold(new."author"), pm_fold(new."dateline"), pm_fold(new."tickers"), pm_fold(new."source")); END;

CREATE TRIGGER releases_ai_deferred AFTER INSERT ON releases WHEN pm_defer() BEGIN INSERT OR IGNORE INTO fts_pending (id) VALUES (new.id); END;

CREATE TRIGGER releases_au AFTER UPDATE OF "title", "summary", "body", "author", "dateline", "tickers", "source" ON releases WHEN NOT pm_defer() BEGIN INSERT INTO releases_fts (releases_fts, rowid, "title", "summary", "body", "author", "dateline", "tickers", "source") VALUES ('delete', old.id, pm_fold(old."title"), pm_fold(old."summary"), pm_fold(old."body"), pm_fold(old."author"), pm_fold(old."dateline"), pm_fold(old."tickers"), pm_fold(old."source")); INSERT INTO releases_fts (rowid, "title", "summary", "body", "author", "dateline", "tickers", "source") VALUES (new.id, pm_fold(new."title"), pm_fold(new."summary"), pm_fold(new."body"), pm_fold(new."author"), pm_fold(new."dateline"), pm_fold(new."tickers"), pm_fold(new."source")); END;

CREATE TRIGGER releases_au_deferred AFTER UPDATE OF "title", "summary", "body", "author", "dateline", "tickers", "source" ON releases WHEN pm_defer() BEGIN INSERT OR IGNORE INTO fts_stale (id, "title", "summary", "body", "author", "dateline", "tickers", "source") SELECT old.id, old.title, old.summary, old.body, old.author, old.dateline, old.tickers, old.source WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE id = old.id); INSERT OR IGNORE INTO fts_pending (id) VALUES (new.id); END;
