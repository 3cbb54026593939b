"""Finding a feed to add: wire presets by short name, and feed links in a web page.

Pure: the caller fetches. `feed_links` reads the <link rel="alternate" type="application/rss+xml">
(or atom+xml) elements a site puts in its pages' <head> for exactly this purpose (the RSS
autodiscovery convention), resolved against the page's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")


@dataclass(frozen=True)
class Preset:
    key: str  # "prnewswire:energy"
    name: str  # the feed name it gets in config.toml
    url: str


def _prn(slug: str, title: str) -> Preset:
    return Preset(f"prnewswire:{slug}", f"PR Newswire: {title}",
                  f"https://www.prnewswire.com/rss/{slug}-latest-news/{slug}-latest-news-list.rss")


def _gnw(code: str, title: str, key: str) -> Preset:
    return Preset(f"globenewswire:{key}", f"GlobeNewswire: {title}",
                  f"https://www.globenewswire.com/RssFeed/subjectcode/{code}-{title.replace(' ', '%20')}"
                  f"/feedTitle/GlobeNewswire%20-%20{title.replace(' ', '%20')}")


# The wires' own public feed addresses (their RSS index pages). A wire can move a feed; `press-monitor
# feeds` then shows it failing, and `feeds add URL` takes any address.
PRESETS: tuple[Preset, ...] = (
    Preset("prnewswire:all", "PR Newswire: all", "https://www.prnewswire.com/rss/news-releases-list.rss"),
    _prn("automotive-transportation", "automotive & transportation"),
    _prn("business-technology", "business & technology"),
    _prn("consumer-products-retail", "consumer products & retail"),
    _prn("energy", "energy"),
    _prn("entertainment-media", "entertainment & media"),
    _prn("environment", "environment"),
    _prn("financial-services", "financial services"),
    _prn("general-business", "general business"),
    _prn("health", "health"),
    _prn("heavy-industry-manufacturing", "heavy industry & manufacturing"),
    _prn("policy-public-interest", "policy & public interest"),
    Preset("businesswire:all", "Business Wire: all",
           "https://feed.businesswire.com/rss/home/?rss=G1QFDERJXkJeEFpRWA=="),
    Preset("globenewswire:public-companies", "GlobeNewswire: public companies",
           "https://www.globenewswire.com/RssFeed/orgclass/1/feedTitle/GlobeNewswire%20-%20News%20about%20Public%20Companies"),
    _gnw("27", "Mergers And Acquisitions", "mergers-acquisitions"),
    _gnw("39", "Stock Market News", "stock-market"),
)


def preset(key: str) -> Preset | None:
    """Return the preset called `key` (case-insensitive), or None."""
    wanted = key.strip().lower()
    return next((p for p in PRESETS if p.key == wanted), None)


def looks_like_preset(text: str) -> bool:
    """Return True for `wire:topic` (no `//`): what a user types to name a preset."""
    head, sep, _ = text.partition(":")
    wires = {p.key.split(":")[0] for p in PRESETS}
    return bool(sep) and head.lower() in wires and not text[len(head) + 1:].startswith("//")


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, title)
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"]
        if tag != "link" or not a.get("href"):
            return
        rels = a.get("rel", "").lower().split()
        kind = a.get("type", "").split(";")[0].strip().lower()
        if "alternate" in rels and kind in FEED_TYPES:
            self.links.append((a["href"].strip(), " ".join(a.get("title", "").split())))


def feed_links(html: str, page_url: str) -> list[tuple[str, str]]:
    """Return [(absolute feed URL, title)] the page advertises, in page order, without repeats."""
    finder = _LinkFinder()
    try:
        finder.feed(html)
        finder.close()
    except Exception:  # noqa: BLE001 - html.parser copes with nearly anything; a page it cannot read has none
        pass
    base = urljoin(page_url, finder.base) if finder.base else page_url
    out: list[tuple[str, str]] = []
    for href, title in finder.links:
        url = urljoin(base, href)
        if url.split(":", 1)[0].lower() in ("http", "https") and url not in [u for u, _ in out]:
            out.append((url, title))
    return out
