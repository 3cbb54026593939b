"""Main text of any page: trafilatura.

Why trafilatura: it is the maintained, benchmarked standard for main-text extraction (it leads
the published comparisons against readability, jusText, newspaper and boilerpipe on precision and
recall), needs only lxml, and works offline on HTML we already fetched.

Options, chosen by measurement (bench/bench_extract.py on 18 real release pages, with the feed's
anchor; mean precision / recall): tables off and favor_precision 0.998 / 1.000; tables on 0.812 /
1.000 (on sites laid out with tables trafilatura then returned the whole page, navigation and
sidebars up to the 100,000-character cap); neither favor 0.970 / 0.995; favor_recall 0.781 /
1.000. When the feed's release is not in trafilatura's text at all, monitor.extract reads the
page's own blocks from the anchor instead.
"""

from __future__ import annotations

import trafilatura

OPTIONS = {"include_tables": False, "favor_precision": True, "favor_recall": False}


def extract(html: bytes | str, *, url: str = "") -> str:
    """Return the page's main text (lines separated by newlines), "" when none is found."""
    try:
        text = trafilatura.extract(
            html, url=url or None, output_format="txt", include_comments=False, include_images=False,
            include_links=False, deduplicate=False, with_metadata=False, include_tables=OPTIONS["include_tables"],
            favor_precision=OPTIONS["favor_precision"], favor_recall=OPTIONS["favor_recall"],
        )
    except (ValueError, TypeError, AttributeError):  # trafilatura gives up on some malformed input
        return ""
    return text or ""
