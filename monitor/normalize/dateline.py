"""Datelines: where, when and through which wire a release was sent ("BEIJING, May 11, 2023 /PRNewswire/ --").

Each wire writes its own
shape (examples in _DATELINES); tests/data/wire_paragraphs.json holds real paragraphs of each
and bench/bench_datelines.py measures precision and recall over them. Adding a shape changes
where the fingerprint's "start of the body" begins for the releases it now recognizes (see
monitor.normalize.fingerprint()), so copies stored before and after the change stop joining on
the fingerprint, and stored releases keep the dateline they were stored with (nothing is
recomputed; only wire names are brought to their display names, by a store migration: see
monitor/wires.py). To add a wire: a pattern in _DATELINES, its names in monitor/wires.py, real
paragraphs in the golden file.
"""

from __future__ import annotations

import re
from datetime import date

from monitor.types import Dateline
from monitor.wires import wire_name

_DATELINE_SCAN = 300

_MONTH_NUMBERS: dict[str, int] = {
    **{name: n for n, names in enumerate((
        # English, Spanish (PR Newswire HISPANIC PR WIRE), French (CNW, Newsfile in Quebec)
        ("jan", "january", "ene", "enero", "janv", "janvier"),
        ("feb", "february", "febrero", "févr", "fevr", "février", "fevrier"),
        ("mar", "march", "marzo", "mars"),
        ("apr", "april", "abr", "abril", "avr", "avril"),
        ("may", "mayo", "mai"),
        ("jun", "june", "junio", "juin"),
        ("jul", "july", "julio", "juil", "juillet"),
        ("aug", "august", "ago", "agosto", "août", "aout"),
        ("sep", "sept", "september", "set", "septiembre", "setiembre", "septembre"),
        ("oct", "october", "octubre", "octobre"),
        ("nov", "november", "noviembre", "novembre"),
        ("dec", "december", "dic", "diciembre", "déc", "décembre", "decembre"),
    ), start=1) for name in names},
}  # fmt: skip
# Longest first, so "sept" is not read as "sep" + "t" and "june" not as "jun" + "e".
_MONTH = "(?:" + "|".join(re.escape(m) for m in sorted(_MONTH_NUMBERS, key=len, reverse=True)) + ")"
_DAY = r"\d{1,2}(?:er|st|nd|rd|th)?"
_DATE = (
    rf"(?:{_MONTH}\.?\s+{_DAY}\s*,?\s+\d{{4}}"  # Jan. 5, 2024 / Sept 3 2023 / June 5 , 2018
    # 5 January 2024 / 4 de marzo de 2025 / le 1er oct. 2026
    rf"|(?:le\s+)?{_DAY}\.?\s+(?:de\s+)?{_MONTH}\.?,?\s+(?:del?\s+)?\d{{4}})"
)
# PR Newswire's older datelines carry no year ("Feb. 26 /PRNewswire-FirstCall/"): a dateline, no date.
_DATE_OR_DAY = rf"(?:{_DATE}|{_MONTH}\.?\s+\d{{1,2}}(?!\d))"
_DATE_PARTS = re.compile(
    rf"(?i)(?:({_MONTH})\.?\s+(\d{{1,2}})|(\d{{1,2}})(?:er|st|nd|rd|th)?\.?\s+(?:de\s+)?({_MONTH}))\D+(\d{{4}})"
)
_CJK_DATE = r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
# A place: starts with a letter, no digits, slashes, parentheses or line breaks; lazy so that it
# stops at the first separator that lets the rest of the dateline match.
_PLACE = r"(?P<place>[^\W\d_][^\d/()\n]{0,100}?)"
_DASH = r"(?:-{1,2}|[–—]{1,2})"
# With no wire to anchor it, a place is shorter and holds no dash but a hyphen inside a word
# (WINSTON-SALEM), so "Acme – Our Team – June 5, 2024 –" is no dateline.
_PLACE_SHORT = r"(?P<place>[^\W\d_](?:[^\d/()\n–—-]|(?<=\w)-(?=\w)){0,60}?)"
_DASHES = rf"{_DASH}(?:\s*{_DASH})?"  # "– –" (PRISM MediaWire)
# Wires that name themselves between dashes rather than in slashes or parentheses: only these
# names, since "PLACE – words – DATE –" would otherwise read any phrase as a wire.
_BARE_WIRE = r"(?P<wire>Media\s+OutReach(?:\s+Newswire)?|PRISM\s+MediaWire)"
# (a character every match contains, pattern): the cheap `in` test skips patterns that cannot
# match, which matters because a lazy place that fails tries every length up to 100.
_DATELINES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (needle, re.compile(pattern, re.IGNORECASE))
    for needle, pattern in (
        # AUSTIN, TX / ACCESSWIRE / January 5, 2024 /
        ("/", rf"\s*{_PLACE}\s*/\s*(?P<wire>[^/\n\d]{{2,60}}?)\s*/\s*(?P<date>{_DATE})\s*/\s*"),
        # BEIJING, May 11, 2023 /PRNewswire/ --    (date optional: "NEW YORK /PRNewswire/ --")
        # WILMINGTON, NC, September 23, 2022 /24-7PressRelease/ --   LONGUEUIL, QC , le 22 sept. 2026 /CNW/ --
        (
            "/",
            rf"\s*{_PLACE}(?:\s*,\s*(?P<date>{_DATE_OR_DAY}))?\s*/\s*(?P<wire>24-7PressRelease|[^/\n\d]{{2,60}}?)\s*/"
            rf"\s*{_DASH}\s*",
        ),
        # 北京2023年8月25日/美通社/ --    杭州2018年9月20日电 /美通社/ --
        ("年", rf"\s*{_PLACE}\s*(?P<date>{_CJK_DATE})\s*电?\s*/\s*(?P<wire>[^/\n\d]{{2,60}}?)\s*/\s*{_DASH}?\s*"),
        # TORONTO, Jan. 05, 2024 (GLOBE NEWSWIRE) --    LOS ANGELES, CA - October 21, 2025 (NEWMEDIAWIRE) -
        # TOKYO, June 22, 2015 - (JCN Newswire) -
        (
            "(",
            rf"\s*{_PLACE}\s*(?:,|{_DASH})\s*(?P<date>{_DATE})\s*(?:{_DASH}\s*)?\(\s*(?P<wire>[^()\n\d]{{2,60}}?)\s*\)"
            rf"\s*{_DASH}\s*",
        ),
        # San Antonio, Texas--(Newsfile Corp. - September 24, 2025) -    TORONTO, ON--(Marketwired - Aug 1, 2016) -
        (
            "(",
            rf"\s*{_PLACE}\s*{_DASH}\s*\(\s*(?P<wire>[^()\n\d]{{2,60}}?)\s*{_DASH}\s*(?P<date>{_DATE})\s*\)"
            rf"\s*{_DASH}\s*",
        ),
        # SAN FRANCISCO--(BUSINESS WIRE)--Jan 5, 2024--    Pune, India - (NewMediaWire) - March 9, 2023 -
        (
            "(",
            rf"\s*{_PLACE}\s*{_DASH}\s*\(\s*(?P<wire>[^()\n\d]{{2,60}}?)\s*\)\s*{_DASH}\s*"
            rf"(?:(?P<date>{_DATE})\s*{_DASH}?\s*)?",
        ),
        # HONG KONG SAR – Media OutReach Newswire – 22 September 2025 –
        # HONG KONG--Media OutReach--31 May 2013--
        ("", rf"\s*{_PLACE}\s*{_DASH}\s*{_BARE_WIRE}\s*{_DASH}\s*(?P<date>{_DATE})\s*{_DASH}\s*"),
        # Fort Lauderdale, FL, March 18, 2026 – PRISM MediaWire –
        # New York, New York, March 23, 2025 – – PRISM MediaWire (Press Release Service …) –
        (
            "",
            rf"\s*{_PLACE}\s*,\s*(?P<date>{_DATE})\s*{_DASHES}\s*{_BARE_WIRE}(?:\s*\([^()\n]{{0,80}}\))?\s*{_DASH}\s*",
        ),
        # No wire named: NEW YORK, Feb. 18, 2026 --    POMPANO BEACH, FL – October 10, 2012 -
        # Lévis, le 14 novembre 2026 –
        ("", rf"\s*{_PLACE_SHORT}\s*(?:,|{_DASH})\s*(?P<date>{_DATE})\s*{_DASH}\s*(?P<wire>)"),
    )
)

_EIN_PREFIX = re.compile(rf"\s*/\s*(?P<wire>EIN\s*Presswire(?:\.com)?)\s*/\s*{_DASH}\s*(?P<place>)(?P<date>)", re.I)


def parse_dateline(text: str) -> Dateline | None:
    """Return the dateline (place, date, wire) that opens a release's text, or None.

    wire is "" for a dateline that names no wire ("NEW YORK, Feb. 18, 2026 --").
    """
    return _dateline(_match_dateline(text))


def _dateline(match: re.Match[str] | None) -> Dateline | None:
    """Return the Dateline of a _match_dateline() match, or None."""
    if match is None:
        return None
    place = " ".join(match["place"].split()).rstrip(",")
    raw_date = match["date"]
    return Dateline(
        place=place,
        date=_parse_date(raw_date) if raw_date else None,
        wire=wire_name(match["wire"]) if match["wire"] else "",
    )


def _match_dateline(text: str) -> re.Match[str] | None:
    """Return the regex match of a dateline at the very start of text, or None.

    EIN Presswire puts its own name before the dateline of the release it carries
    ("/EINPresswire.com/ -- SAN FRANCISCO, CA--(Marketwired - August 11, 2016) -"): the dateline
    is read after it, and the name alone is the dateline when none follows.
    """
    head = text[:_DATELINE_SCAN]
    ein = _EIN_PREFIX.match(head)
    pos = ein.end() if ein is not None else 0
    for needle, pattern in _DATELINES:
        if needle in head:
            match = pattern.match(head, pos)
            if match is not None:
                return match
    return ein


def find_dateline(text: str, *, blocks: int = 6) -> Dateline | None:
    """Return the dateline that opens one of the first paragraphs of text, or None.

    A page's text may open with the headline, a subtitle, a byline or a "Published ..." line
    before the paragraph that carries the dateline.
    """
    for paragraph in [p for p in re.split(r"\n\s*\n|\n", text[: _DATELINE_SCAN * (blocks + 4)]) if p.strip()][:blocks]:
        found = parse_dateline(paragraph.strip())
        if found is not None:
            return found
    return None


def _parse_date(text: str) -> date | None:
    """Return the calendar date in a dateline's date text, or None when it is not a real date."""
    cjk = re.search(_CJK_DATE, text)
    if cjk is not None:
        year, month, day = int(cjk["y"]), int(cjk["m"]), int(cjk["d"])
    else:
        m = _DATE_PARTS.search(text)
        if m is None:
            return None
        month = _MONTH_NUMBERS.get((m[1] or m[4]).lower(), 0)
        year, day = int(m[5]), int(m[2] or m[3])
    try:
        return date(year, month, day)
    except ValueError:
        return None
