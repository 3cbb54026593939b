"""A bound on what a page may cost to parse, checked by one linear scan before any parser sees it.

Why: libxml2 (under lxml and trafilatura) checks each new attribute against the element's others,
so one element with 200,000 attributes costs minutes of CPU and grows quadratically (40,000 took
26 s); a parse cannot be interrupted from Python, so the only cheap bound is to refuse such a
page before parsing. A release page is far inside every limit below: of 18 real release pages
(wires, syndication and finance sites, newsrooms) the largest held 6,045 elements, at most 70
attributes on one element and 32 levels of nesting. Within the limits the cost is linear: a
2.7 MB page of 98,000 elements cost ~12 s of CPU in trafilatura, so the element cap is half that.

check(html) raises PageError (kind "too-complex", failed: refetching gives the same page).
"""

from __future__ import annotations

import re

from monitor.errors import PageError

MAX_ELEMENTS = 50_000
MAX_ATTRIBUTES = 1_000  # on one element
MAX_DEPTH = 500  # open elements that need a closing tag, approximately

# A start or end tag and its attributes, read as the parser reads them: a value quoted after "="
# may hold "<" and ">" (a quote anywhere else is part of a name). It always matches once it starts
# (at ">", before the next unquoted "<", or at the end, an unclosed quote included), so every
# character is read once: linear on any input.
_TAG = re.compile(
    r"""<(/?)([a-zA-Z][^\s/<>]*)((?:[^<>"'=]+|=\s*(?:"[^"]*(?:"|\Z)|'[^']*(?:'|\Z))|[="'])*)(?:>|(?=<)|\Z)""")
_ATTRIBUTE = re.compile(r"""[^\s<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s<>]*))?""")
_HIDDEN = re.compile(r"<!--.*?(?:-->|\Z)|<(script|style)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.S | re.I)
# Elements with no closing tag, or whose closing tag HTML lets the parser infer: not counted as depth.
_NO_DEPTH = frozenset((
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "thead", "tbody", "tfoot", "colgroup", "rp", "rt",
    "optgroup", "html", "head", "body",
))  # fmt: skip


def check(html: str | bytes) -> None:
    """Raise PageError when parsing html would cost far more than any release page does."""
    text = html.decode("latin-1") if isinstance(html, bytes) else html  # one byte, one character: no errors
    text = _HIDDEN.sub("", text)
    elements = depth = deepest = 0
    for tag in _TAG.finditer(text):
        closing, name, rest = tag.group(1, 2, 3)
        name = name.lower()
        if closing:
            if name not in _NO_DEPTH and depth:
                depth -= 1
            continue
        elements += 1
        if elements > MAX_ELEMENTS:
            raise _refuse(f"more than {MAX_ELEMENTS:,} elements")
        if len(rest) > MAX_ATTRIBUTES * 2 and _count_attributes(rest) > MAX_ATTRIBUTES:
            raise _refuse(f"a <{name[:20]}> element with more than {MAX_ATTRIBUTES:,} attributes")
        if name not in _NO_DEPTH and not rest.rstrip().endswith("/"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                raise _refuse(f"elements nested more than {MAX_DEPTH:,} deep")


def _count_attributes(rest: str) -> int:
    n = 0
    for _ in _ATTRIBUTE.finditer(rest):
        n += 1
        if n > MAX_ATTRIBUTES:
            break
    return n


def _refuse(what: str) -> PageError:
    return PageError(f"page too complex to read: {what}", kind="too-complex", outcome="failed")
