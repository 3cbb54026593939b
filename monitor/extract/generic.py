"""Main text of any page: trafilatura.

Why trafilatura: it is the maintained, benchmarked standard for main-text extraction (it leads
the published comparisons against readability, jusText, newspaper and boilerpipe on precision and
recall), needs only lxml, and works offline on HTML we already fetched.

Options, chosen by measurement (bench/bench_extract.py, 18 real release pages and our corpus):
tables are left out — on sites laid out with tables, including them made trafilatura return the
whole page (navigation, sidebars, up to the 100,000-character cap) while no release page kept a
data table that was not also read without them; precision is favoured — it dropped the headline
and "Published ..." lines the anchor cuts anyway and never cost a release sentence, while
favor_recall pulled sidebars in. When the page's main text is not where the feed's release is
(the anchor is missing from it), monitor.extract reads the page's own blocks from the anchor instead.
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
