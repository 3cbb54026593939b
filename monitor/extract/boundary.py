"""Where a release starts and ends in a page's text blocks. Pure: blocks in, blocks out.

A block is (text, heading): heading is the block's title when it starts like one (an <h*>, a
bold lead, or on the plain-text path a short line), else None.

Start: the feed told us the release's title and first words (Anchor). The release starts at the
block holding those first words (the dateline is in it), else right after the block that is the
title; what comes before (navigation, a "Published ..." line, the headline) is not the release.
When neither is in the blocks the text is kept as it is but flagged: it may not be the release.

End: the release's end matter, the same in every release of a company or wire, is cut: About
sections, contacts, safe-harbor and forward-looking-statement blocks, "SOURCE ...", "###", "View
original content", "Related links". It is kept apart (boilerplate), not thrown away, so a user can
still read it. A heading like "About the Summit" in the first third of the story is the story
itself, not its end matter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Block = tuple[str, str | None]

# Section headings whose section (and everything after it) is end matter.
_END_HEADING = re.compile(
    # "About Acme", "About the Summit", "About us"; not "About 200 people" or "About half".
    r"(?i)^(?:\d{1,2}\.\s*)?(?:about\s+(?:(?-i:[A-Z])|the\s+(?-i:[A-Z])|us\b)"
    # "Contacts", "Media Contact: Jo Doe"; not "Contact lenses sell well".
    r"|(?:media|press|investor|company|news|public relations)?\s*(?:relations\s+)?(?:contacts?|inquiries|enquiries)"
    r"\s*(?::|$)"
    r"|contact\s+(?:us|information|info)\b"
    r"|for (?:more|further|additional) information\s*(?:contact|please contact|:|$)"
    r"|(?:cautionary|important)?\s*(?:note|statement)s?\s+(?:regarding|on|about|concerning)\s+forward[- ]looking"
    r"|(?:safe[- ]harbou?r|forward[- ]looking)\s*(?:statements?|information|language)?\s*(?:$|:|\(|statement)"
    r"|(?:legal\s+)?disclaimer\s*:?\s*$"
    r"|notes?\s+(?:to|for)\s+editors?\b"
    r"|related\s+links?\b|related\s+(?:news|releases|stories)\s*:?\s*$)"
)
_ABOUT = re.compile(r"(?i)^(?:\d{1,2}\.\s*)?about\s")  # an About heading (the only end the top of a story may hold)
# Lines that end a release wherever they stand (wire end marks), heading or not.
_END_LINE = re.compile(
    # "SOURCE Acme" as PR Newswire writes it, or "Source: Acme"; not "Source code is on GitHub".
    r"(?i)^(?:#{3}\s*$|-\s*#{3}\s*-|(?-i:SOURCE)\s+\S.{0,120}$|source:\s*\S.{0,120}$"
    r"|view (?:original|source) (?:content|version)\b"
    r"|to view the original version\b|(?:media|press|investor)\s+contacts?\s*:|contacts?\s*:\s*\S{0,80}$"
    r"|(?:this|the) (?:press |news )?release (?:contains|includes|may contain) .{0,60}forward[- ]looking"
    r"|except for (?:the )?historical (?:information|facts?)\b.{0,120}forward[- ]looking"
    r"|certain statements (?:in|contained in) this (?:press |news )?release\b"
    r"|for (?:more|further|additional) information\b[^.]{0,80}@)"
)
# Single lines that are wire metadata inside a release, dropped wherever they stand.
_METADATA_LINE = re.compile(r"(?i)^(?:\(?(?:logo|photo|video|image)s?\s*(?:available)?\s*[-:]\s*https?://\S+\s*\)?$)")
_HEADING_WORDS = 12


@dataclass(frozen=True)
class Anchor:
    """What the feed said the release is: its title and its first words (the feed's summary)."""

    title: str = ""
    lead: str = ""

    def __bool__(self) -> bool:
        return bool(self.title.strip() or self.lead.strip())


_WORD = re.compile(r"\w+")
_LEAD_WORDS = 8  # consecutive words of the feed's lead that must be found together


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def start(blocks: Sequence[Block], anchor: Anchor) -> int | None:
    """Return the index of the block where the release starts, None when the anchor is not there."""
    texts = [words(t) for t, _ in blocks]
    lead = _lead_words(anchor.lead)
    if lead:
        # The feed's lead may carry a dateline the page writes differently, or begin later: try a few
        # windows of its first words, each must be found whole in one block or across a block break.
        for offset in range(0, max(1, min(len(lead) - _LEAD_WORDS + 1, 24)), 4):
            window = lead[offset:offset + _LEAD_WORDS]
            found = _find(texts, window)
            if found is not None:
                return found
    title = words(anchor.title)
    if len(title) >= 3:
        for i, ws in enumerate(texts):
            if ws[: len(title)] == title and len(ws) <= len(title) + 4:  # the title as a block of its own
                return i + 1 if i + 1 < len(blocks) else None
    return None


def _lead_words(lead: str) -> list[str]:
    ws = words(lead)
    return ws if len(ws) >= min(_LEAD_WORDS, 5) else []


def _find(texts: list[list[str]], window: list[str]) -> int | None:
    """Return the block where window starts (it may run on into the next blocks)."""
    flat: list[str] = []
    owner: list[int] = []
    for i, ws in enumerate(texts):
        flat.extend(ws)
        owner.extend([i] * len(ws))
    n = len(window)
    first = window[0]
    for pos, w in enumerate(flat):
        if w == first and flat[pos:pos + n] == window:
            return owner[pos]
    return None


def is_heading_line(line: str) -> bool:
    """A short line without a closing full stop: a heading on the plain-text path."""
    stripped = line.strip()
    return 0 < len(stripped.split()) <= _HEADING_WORDS and not stripped.endswith((".", ",", ";"))


def split(blocks: Sequence[Block]) -> tuple[list[str], list[str]]:
    """Return (the release's blocks, its end matter), metadata lines dropped from the release.

    End marks (contacts, safe harbor, SOURCE, ###) end the release anywhere after its first block;
    an About heading only past the top fifth of the text, where "About the Summit" is the story.
    """
    kept: list[str] = []
    cut: list[str] = []
    total = sum(len(t) for t, _ in blocks)
    seen = 0
    for i, (text, heading) in enumerate(blocks):
        past_top = i >= 2 and seen >= total // 5
        seen += len(text)
        if not cut and i >= 1 and _ends(text, heading, about=past_top):
            cut.append(text)
            continue
        if cut:
            cut.append(text)
            continue
        lines = [line for line in text.split("\n") if not _METADATA_LINE.match(line)]
        kept_lines: list[str] = []
        for j, line in enumerate(lines):
            # An end mark inside a block (text joined by <br>): the rest of the block is end matter.
            if j > 0 and _ends(line, line if is_heading_line(line) else None, about=past_top):
                cut.append("\n".join(lines[j:]))
                break
            kept_lines.append(line)
        if kept_lines:
            kept.append("\n".join(kept_lines))
    return kept, cut


def _ends(text: str, heading: str | None, *, about: bool) -> bool:
    first = text.split("\n", 1)[0].strip()
    if heading is None and is_heading_line(first):
        heading = first
    if heading is not None and _END_HEADING.match(heading.strip()):
        return about or not _ABOUT.match(heading.strip())
    return bool(_END_LINE.match(first))
