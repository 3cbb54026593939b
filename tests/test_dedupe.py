from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.dedupe import Kind, decide
from monitor.types import Candidate, Known, Release

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def rel(key: str, url: str = "", fp: str = "fp", h: str = "h", published: datetime | None = DAY) -> Release:
    return Release(sighting_key=key, url=url, link=url, title="t", summary="", body="", author="",
                   published_at=published or DAY, published_known=published is not None, dateline=None,
                   tickers=(), fingerprint=fp, content_hash=h)


def kinds(decisions):
    return [(d.kind, d.release_id, d.joins) for d in decisions]


def test_unknown_items_are_new_and_known_sightings_seen_or_revised() -> None:
    known = Known(sightings={"a": (7, "h"), "b": (8, "old")})
    out = decide([rel("a"), rel("b", fp="x"), rel("c", fp="y")], known)
    assert kinds(out) == [(Kind.SEEN, 7, None), (Kind.REVISED, 8, None), (Kind.NEW, None, None)]


def test_new_sighting_joins_by_canonical_url_or_fingerprint_of_a_regional_copy() -> None:
    known = Known(urls={"https://x.com/1": 3},
                  fingerprints={"fp2": [Candidate(4, "https://x.co.uk/2", DAY)]})
    out = decide([rel("k1", url="https://x.com/1", fp="other"), rel("k2", url="https://x.com/2", fp="fp2")], known)
    assert kinds(out) == [(Kind.JOINED, 3, None), (Kind.JOINED, 4, None)]


def test_same_text_is_not_the_same_release_at_another_address_of_one_site_or_weeks_apart() -> None:
    # Quarterly dividend notices share title and opening: templates, not copies.
    known = Known(fingerprints={"fp": [Candidate(4, "https://x.com/q1", DAY),
                                       Candidate(5, "https://y.com/q1", DAY - timedelta(days=90))]})
    out = decide([rel("k1", url="https://x.com/q2", fp="fp", published=DAY + timedelta(days=1))], known)
    assert kinds(out) == [(Kind.NEW, None, None)]
    # ... but a copy on another site published the same week joins, and so does an undated one.
    out = decide([rel("k2", url="https://z.com/q1", fp="fp", published=DAY + timedelta(days=2)),
                  rel("k3", url="https://w.com/q1", fp="fp", published=None)], known)
    assert kinds(out) == [(Kind.JOINED, 4, None), (Kind.JOINED, 4, None)]


def test_copies_inside_one_batch_join_the_first_copy_even_at_index_zero() -> None:
    out = decide([rel("k1", url="https://x.com/1", fp="a"), rel("k2", url="https://x.com/1", fp="b"),
                  rel("k3", url="https://x.co.uk/1", fp="a")], Known())
    assert kinds(out) == [(Kind.NEW, None, None), (Kind.JOINED, None, 0), (Kind.JOINED, None, 0)]


def test_a_feed_listing_the_same_item_twice_counts_once() -> None:
    assert len(decide([rel("k1"), rel("k1")], Known())) == 1


def test_item_without_url_is_matched_by_fingerprint_only() -> None:
    out = decide([rel("k1", url="", fp="a")], Known(urls={"": 9}, fingerprints={}))
    assert kinds(out) == [(Kind.NEW, None, None)]
