"""Pure presentation helpers for the web view: times in the display zone, highlights, links, text.

Nothing here knows HTML: the templates escape everything; these functions only shape values
(e.g. a snippet becomes a list of (text, highlighted) pieces the template wraps in <mark>).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

# FTS5 highlight()/snippet() in the web queries mark matches with these (never in stored text).
OPEN, CLOSE = "\x02", "\x03"
# Rule-match snippets are stored as FTS5 snippet(…, '[', ']', '…') produced them.
_BRACKETED = re.compile(r"\[([^\[\]\n]{1,200})\]")


@dataclass(frozen=True)
class Zone:
    """The zone every date on the web view is shown in (`[monitor] display_timezone`)."""

    name: str

    def when(self, value: datetime | None, *, seconds: bool = False) -> str:
        """Return "2026-11-30 14:05 CET" (the zone's abbreviation named), or "–" for None."""
        if value is None:
            return "–"
        local = value.astimezone(UTC if self.name == "UTC" else ZoneInfo(self.name))
        return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")

    def day(self, value: datetime | None) -> str:
        if value is None:
            return "–"
        return value.astimezone(UTC if self.name == "UTC" else ZoneInfo(self.name)).strftime("%Y-%m-%d")


def pieces(marked: str) -> list[tuple[str, bool]]:
    """Split text carrying \\x02…\\x03 match markers into (text, highlighted) pieces."""
    out: list[tuple[str, bool]] = []
    on = False
    for part in re.split(r"([\x02\x03])", marked):
        if part == OPEN:
            on = True
        elif part == CLOSE:
            on = False
        elif part:
            out.append((part, on))
    return out


def from_brackets(snippet: str) -> str:
    """Return a stored rule-match snippet ("a [summit] in …") with \\x02…\\x03 markers instead of brackets."""
    return _BRACKETED.sub(lambda m: f"{OPEN}{m.group(1)}{CLOSE}", snippet)


def cut(text: str, limit: int = 240) -> str:
    """Return text with whitespace collapsed, cut at a word boundary near `limit`, "…" where it was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return head.rstrip(",;:.-–") + "…"


def link(url: str | None) -> str | None:
    """Return the URL if it may be rendered as a link (http or https only), else None: shown as text."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def paragraphs(text: str) -> list[str]:
    """Return a release text as paragraphs: blank lines separate them; a single-line body splits on lines."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return []
    blocks = re.split(r"\n\s*\n", text)
    if len(blocks) == 1:
        blocks = text.split("\n")
    return [" ".join(b.split()) for b in blocks if b.strip()]


def clamp_int(text: str | None, default: int, low: int, high: int) -> int:
    """Return text as an int within [low, high]; the default for anything that is not a number."""
    if text is None or not re.fullmatch(r"[+-]?[0-9]{1,30}", text.strip()):
        return default
    return max(low, min(high, int(text)))
