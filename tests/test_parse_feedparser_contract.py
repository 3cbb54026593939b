"""What parse/ takes from feedparser beyond its public API, checked so an upgrade fails here, loudly.

parse/fast.py and parse/fast_input.py replicate feedparser 6.0's behaviour field by field: they call
two private names (`feedparser.datetimes._parse_date`, `feedparser.mixin._FeedParserMixin`: its
`looks_like_html` and `namespaces`) and copy some of its regular expressions. pyproject.toml pins
feedparser to 6.0.x, the series this was verified against. Widening the pin: run this file and
tests/test_parse_fastpath.py (fast path == feedparser, field by field) on the new version first.
"""

from __future__ import annotations

import inspect
import re
import time

import feedparser
import feedparser.encodings
import feedparser.mixin
import feedparser.urls
import pytest

from monitor.parse import fast, fast_input

FIX = "parse/fast.py relies on it; see tests/test_parse_feedparser_contract.py before changing the feedparser pin"


def test_the_feedparser_version_is_the_series_the_fast_path_replicates() -> None:
    major, minor = (int(p) for p in feedparser.__version__.split(".")[:2])
    assert (major, minor) == (6, 0), f"feedparser {feedparser.__version__} is not 6.0.x: {FIX}"


def test_the_private_names_parse_uses_still_exist_and_behave() -> None:
    try:
        from feedparser.datetimes import _parse_date
        from feedparser.mixin import _FeedParserMixin
    except ImportError as exc:  # pragma: no cover - only on a feedparser that moved them
        pytest.fail(f"feedparser no longer has {exc.name or exc}: {FIX}")
    got = _parse_date("Mon, 01 Jan 2024 10:00:00 GMT")
    assert isinstance(got, time.struct_time) and got[:6] == (2024, 1, 1, 10, 0, 0), f"_parse_date changed: {FIX}"
    assert _parse_date("2024-01-01T10:00:00Z")[:6] == (2024, 1, 1, 10, 0, 0), f"_parse_date changed: {FIX}"
    assert _parse_date("not a date") is None, f"_parse_date changed: {FIX}"
    assert list(inspect.signature(_FeedParserMixin.looks_like_html).parameters) == ["s"], FIX
    assert (_FeedParserMixin.looks_like_html("<p>x</p>"), _FeedParserMixin.looks_like_html("a < b")) == (True, False)
    assert _FeedParserMixin.namespaces["http://purl.org/rss/1.0/modules/content/"] == "content", FIX
    assert _FeedParserMixin.namespaces["http://purl.org/dc/elements/1.1/"] == "dc", FIX
    assert fast._fp_looks_like_html is _FeedParserMixin.looks_like_html
    assert fast_input._FP_NAMESPACES["http://purl.org/rss/1.0/modules/content/"] == "content"


def _unquoted(pattern: str | bytes) -> str:
    """A pattern with quotes unescaped: `[\\'"]` and `['\\"]` are the same class."""
    text = pattern.decode() if isinstance(pattern, bytes) else pattern
    return text.replace("\\'", "'").replace('\\"', '"')


@pytest.mark.parametrize(("theirs", "ours"), [
    (feedparser.urls._urifixer, fast._URI_FIXER),
    (feedparser.encodings.RE_XML_DECLARATION, fast_input._XML_DECLARATION),
    (feedparser.encodings.RE_XML_PI_ENCODING, fast_input._XML_PI_ENCODING),
], ids=["urls._urifixer", "encodings.RE_XML_DECLARATION", "encodings.RE_XML_PI_ENCODING"])
def test_the_expressions_copied_from_feedparser_are_still_its_own(theirs: re.Pattern, ours: re.Pattern) -> None:
    assert _unquoted(theirs.pattern) == _unquoted(ours.pattern), f"feedparser changed {theirs.pattern!r}: {FIX}"


def test_the_entity_expression_copied_from_mixin_pop_is_still_there() -> None:
    assert f'"{fast._LINK_ENTITY.pattern}"' in inspect.getsource(feedparser.mixin), FIX
