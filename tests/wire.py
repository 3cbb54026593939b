"""The synthetic PR Newswire-style wire behind bench/wire.py's server and the parser's tests:
N category feeds of M items each, rendered to RSS bytes (text from tests/corpus.py).

Same seed, same bytes, same ETags. About `overlap` of the releases are carried by 2-3 feeds. Each
feed has its own tracking parameters in the item links and its own guid style, so one release looks
different in every feed that carries it. An item renders to the same bytes in every version of its
feed, as a real wire's unchanged items do. (It lives in tests/ so tests never import bench/.)
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from tests.corpus import MONTHS, Corpus

FIRST_ID = 100_000  # release ids are 6 digits, as in PR Newswire links
START = datetime(2023, 5, 11, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=3)  # release i is published at START + i * STEP: ids and dates rise together
CATEGORIES = ("all", "energy", "tech", "health", "financial", "industry", "consumer", "asia", "policy", "europe")
GUID_STYLES = ("tracked-link", "canonical-link", "prn-id", "urn")
_DATELINE = re.compile(r"^.*? /PRNewswire(?:-Asia)?/ -- ?")


def release_id(n: int) -> int:
    """Return the 6-digit public id of release number n."""
    return FIRST_ID + n


class Wire:
    """The corpus and its feeds; thread-safe. Release numbers start at 0 and rise with publication time."""

    def __init__(self, feeds: int = 200, items: int = 100, overlap: float = 0.3, seed: int = 1) -> None:
        if feeds < 1 or items < 1 or not 0 <= overlap <= 1:
            raise ValueError("need feeds >= 1, items >= 1 and 0 <= overlap <= 1")
        self.n, self.m, self.overlap, self.seed = feeds, items, overlap, seed
        self.corpus = Corpus(seed=seed)
        self.names = [f"prn-{CATEGORIES[i % len(CATEGORIES)]}-{i}" for i in range(feeds)]
        self.feeds: list[list[int]] = [[] for _ in range(feeds)]  # release numbers, newest first
        self.lock = threading.Lock()
        self.rnd = random.Random(f"wire-{seed}")
        self.next_release = 0
        self.items_published = 0
        self._item_cache: dict[tuple[int, int], str] = {}
        self._rendered: dict[int, tuple[bytes, bytes, str, str]] = {}  # feed -> body, gzip body, etag, lm
        self.stats = dict(requests=0, status_200=0, status_304=0, status_404=0, conditional=0, gzip=0,
                          bytes_sent=0, body_bytes=0)
        self._fill()

    # ------------------------------------------------------------------ corpus

    def _copies(self) -> int:
        """Return how many feeds carry the next release: 1, or 2-3 for an `overlap` share."""
        return self.rnd.choice((2, 3)) if self.rnd.random() < self.overlap else 1

    def _fill(self) -> None:
        """Publish releases until every feed holds M items (oldest first, so feeds end newest first)."""
        room = [self.m] * self.n
        while any(room):
            open_feeds = [i for i in range(self.n) if room[i]]
            k = min(self._copies(), len(open_feeds))
            # Weighting by free room keeps the feeds filling evenly, so every feed's newest items
            # are recent, as on a real wire.
            chosen: set[int] = set()
            while len(chosen) < k:
                chosen.add(self.rnd.choices(open_feeds, weights=[room[i] for i in open_feeds])[0])
            for f in chosen:
                self.feeds[f].insert(0, self.next_release)
                room[f] -= 1
            self.items_published += k
            self.next_release += 1

    def advance(self, k: int) -> dict:
        """Publish k new releases at the top of random feeds; return what changed."""
        with self.lock:
            changed: set[int] = set()
            added = 0
            for _ in range(k):
                chosen = self.rnd.sample(range(self.n), min(self._copies(), self.n))
                for f in chosen:
                    self.feeds[f].insert(0, self.next_release)
                    del self.feeds[f][self.m:]
                    self._rendered.pop(f, None)
                    changed.add(f)
                added += len(chosen)
                self.next_release += 1
            self.items_published += added
            live = {f: set(self.feeds[f]) for f in changed}
            self._item_cache = {key: v for key, v in self._item_cache.items()
                                if key[0] not in live or key[1] in live[key[0]]}
            return {"published": k, "items_added": added, "feeds_changed": sorted(changed),
                    "releases_published": self.next_release}

    def published(self, n: int) -> datetime:
        return START + n * STEP

    # ------------------------------------------------------------------ rendering

    def item_xml(self, feed: int, n: int) -> str:
        """Return release n as an <item> of the given feed (cached: the same bytes every time)."""
        key = (feed, n)
        if key in self._item_cache:
            return self._item_cache[key]
        r = self.corpus.release(n)
        rid = release_id(n)
        when = self.published(n)
        slug = re.sub(r"[^a-z0-9]+", "-", r.title.lower()).strip("-")[:80].rstrip("-")
        canonical = f"https://www.prnewswire.com/news-releases/{slug}-{rid}.html"
        name = self.names[feed]
        # Tracking parameters differ per feed, as PR Newswire's do per syndication channel.
        medium = ("rss", "feed", "syndication")[feed % 3]
        link = f"{canonical}?utm_source={medium}&utm_campaign={name}"
        style = GUID_STYLES[feed % len(GUID_STYLES)]
        if style == "tracked-link":
            guid = f'<guid isPermaLink="true">{escape(link)}</guid>'
        elif style == "canonical-link":
            guid = f'<guid isPermaLink="true">{canonical}</guid>'
        elif style == "prn-id":
            guid = f'<guid isPermaLink="false">prn-{rid}</guid>'
        else:
            guid = f'<guid isPermaLink="false">urn:prnewswire:release:{rid}</guid>'
        paras = r.body.split("\n\n")
        dateline = f"{r.place}, {MONTHS[when.month - 1]} {when.day}, {when.year} /{r.wire}/ -- "
        paras[0] = dateline + _DATELINE.sub("", paras[0], count=1)
        html = "".join(f"<p>{escape(p)}</p>" for p in paras)
        xml = (
            "<item>\n"
            f"  <title>{escape(r.title)}</title>\n"
            f"  <link>{escape(link)}</link>\n"
            f"  {guid}\n"
            f"  <pubDate>{format_datetime(when, usegmt=True)}</pubDate>\n"
            f"  <dc:creator>{escape(r.author)}</dc:creator>\n"
            f"  <category>{escape(r.topic.capitalize())}</category>\n"
            f"  <description>{escape(html)}</description>\n"
            "</item>\n"
        )
        self._item_cache[key] = xml
        return xml

    def rendered(self, feed: int) -> tuple[bytes, bytes, str, str]:
        """Return (body, gzipped body, etag, last-modified) of a feed's current version."""
        with self.lock:
            got = self._rendered.get(feed)
            if got is not None:
                return got
            items = self.feeds[feed]
            newest = self.published(items[0])
            name = self.names[feed]
            head = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
                f"<title>PR Newswire: {escape(name)}</title>\n"
                f"<link>https://www.prnewswire.com/rss/{escape(name)}.rss</link>\n"
                f"<description>News releases in {escape(name)}</description>\n"
                "<language>en-us</language>\n"
                f"<lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>\n"
            )
            body = (head + "".join(self.item_xml(feed, n) for n in items) + "</channel>\n</rss>\n").encode()
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            got = (body, gzip.compress(body, 6, mtime=0), etag, format_datetime(newest, usegmt=True))
            self._rendered[feed] = got
            return got

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.stats, feeds=self.n, items_per_feed=self.m, overlap=self.overlap, seed=self.seed,
                        releases_published=self.next_release, items_published=self.items_published)

    def count(self, **kw: int) -> None:
        with self.lock:
            for k, v in kw.items():
                self.stats[k] += v
