"""The one link policy: only absolute http(s) URLs are links.

Feed text is untrusted. A `javascript:`, `data:`, `file:` or any other scheme, a relative or
host-less URL, a URL with control, separator or invisible format characters, or one longer than
URL_MAX is not a link: the archive keeps it as text (the sighting's link as the feed gave it) but
never stores it as a release's URL and nothing renders it as a link (alerts, web view, Atom,
export). Every place that makes or shows a link asks `safe_link`.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Browsers and servers refuse URLs far shorter than this; a longer "link" is junk (normalize caps
# an item's link at the same length).
URL_MAX = 8192

# Characters that are legal in a URL a feed hands us but break out of an HTML attribute, a Slack
# <url|text> link or a Markdown link; they are percent-encoded (which keeps the link working).
_URL_ESCAPES = str.maketrans(
    {" ": "%20", '"': "%22", "'": "%27", "<": "%3C", ">": "%3E", "`": "%60", "|": "%7C", "\\": "%5C",
     "^": "%5E", "{": "%7B", "}": "%7D"}  # fmt: skip
)
# Cc: C0/C1 controls (incl. ESC, CR, LF, U+0085); Zl/Zp: U+2028/U+2029; Cs: lone surrogates;
# Cf: invisible format characters (bidi overrides, zero-width space) that disguise a URL.
_REFUSED = frozenset({"Cc", "Zl", "Zp", "Cs", "Cf"})
_SCHEMES = ("http", "https")
# C0 controls and DEL, refused in ASCII URLs too (one regex search: a cold ingest checks ~20,000 links).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def safe_link(url: str | None) -> str | None:
    """Return url when it is an absolute http(s) URL (characters that break out of markup
    percent-encoded, surrounding whitespace dropped), else None."""
    if not url:
        return None
    url = url.strip()
    if not url or len(url) > URL_MAX or not url.isascii() and any(unicodedata.category(c) in _REFUSED for c in url):
        return None
    if _CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if parts.scheme.lower() not in _SCHEMES or not host:
        return None
    return url.translate(_URL_ESCAPES)
