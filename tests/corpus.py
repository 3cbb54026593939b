"""A deterministic generator of PR Newswire-style press releases for benchmarks.

    from tests.corpus import Corpus
    c = Corpus(seed=1)
    rels = c.releases(1000)          # GeneratedRelease values, same seed -> same text
    docs = c.docs(1000)              # monitor.types.Doc, ready for rules matching

Each release has a headline, an RSS-style summary (the first paragraph), a full body (dateline
lead, topic paragraphs, a quote, boilerplate "About ..." and a forward-looking-statements line),
the issuing company as author, a dateline, exchange tickers and the category feeds carrying it.
Topics: earnings, acquisitions, product launches, partnerships, appointments, funding rounds,
clinical trials, dividends, energy projects, and summits/forums (including China–Central Asia
with Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan, Uzbekistan). Company names are made up
from syllables, so any number of distinct companies (and tickers) can be drawn.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

CENTRAL_ASIA = ("Kazakhstan", "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Uzbekistan")
COUNTRIES = CENTRAL_ASIA + (
    "China", "Germany", "France", "Brazil", "India", "Japan", "Canada", "Mexico", "Australia",
    "Singapore", "Saudi Arabia", "United Arab Emirates", "South Korea", "Indonesia", "Vietnam",
    "Nigeria", "Kenya", "Chile", "Norway", "Poland", "Türkiye", "Azerbaijan", "Mongolia",
)  # fmt: skip
CITIES = {
    "BEIJING": "China", "SHANGHAI": "China", "XI'AN": "China", "ASTANA": "Kazakhstan",
    "ALMATY": "Kazakhstan", "TASHKENT": "Uzbekistan", "BISHKEK": "Kyrgyzstan",
    "DUSHANBE": "Tajikistan", "ASHGABAT": "Turkmenistan", "NEW YORK": "United States",
    "SAN FRANCISCO": "United States", "AUSTIN, Texas": "United States", "BOSTON": "United States",
    "CHICAGO": "United States", "TORONTO": "Canada", "LONDON": "United Kingdom",
    "FRANKFURT": "Germany", "PARIS": "France", "TOKYO": "Japan", "SINGAPORE": "Singapore",
    "DUBAI, UAE": "United Arab Emirates", "SÃO PAULO": "Brazil", "MUMBAI": "India",
    "SEOUL": "South Korea", "SYDNEY": "Australia", "MEXICO CITY": "Mexico",
}  # fmt: skip
EXCHANGES = ("NYSE", "NASDAQ", "TSX", "LSE", "HKEX", "KASE", "SSE")
SECTORS = {
    "energy": ("energy", "oil", "gas", "pipeline", "solar", "wind", "hydrogen", "grid", "uranium"),
    "tech": ("software", "cloud", "AI", "semiconductor", "cybersecurity", "data", "platform", "5G"),
    "health": ("biotech", "oncology", "vaccine", "therapy", "diagnostics", "clinical", "FDA"),
    "finance": ("bank", "fintech", "payments", "insurance", "asset", "lending", "capital"),
    "industry": ("logistics", "mining", "steel", "chemicals", "aerospace", "automotive", "rail"),
    "consumer": ("retail", "beverage", "fashion", "travel", "hotel", "food", "gaming"),
}  # fmt: skip
_SYL = ("al", "ver", "no", "qua", "tex", "ri", "zen", "mar", "lo", "vi", "son", "cor", "da", "tri",
        "ka", "bel", "ion", "gra", "fi", "tan", "or", "sel", "ex", "um", "pra", "dyn", "ax", "lu")  # fmt: skip
_SUFFIX = ("Holdings", "Group", "Technologies", "Energy", "Therapeutics", "Systems", "Capital",
           "Industries", "Networks", "Pharma", "Logistics", "Resources", "Labs", "Partners", "Inc.",
           "Corporation", "Bank", "Motors", "Foods", "Mining")  # fmt: skip
_FIRST = ("Anna", "Timur", "Li", "Wei", "Maria", "James", "Aigerim", "Rustam", "Priya", "Jonas",
          "Sofia", "Kenji", "Fatima", "Daniel", "Elena", "Nurlan", "Olivia", "Carlos", "Dilnoza", "Amir")  # fmt: skip
_LAST = ("Chen", "Nazarbayeva", "Smith", "Garcia", "Tanaka", "Karimov", "Müller", "Dubois", "Patel",
         "Kim", "Rossi", "Ivanova", "Okafor", "Silva", "Nguyen", "Johansson", "Sultanov", "Haddad")  # fmt: skip
ROLES = ("Chief Executive Officer", "Chief Financial Officer", "Chief Technology Officer",
         "President", "Chair of the Board", "General Counsel", "Head of Investor Relations")  # fmt: skip
FEEDS = ("prn-all", "prn-energy", "prn-tech", "prn-health", "prn-financial", "prn-industry",
         "prn-consumer", "prn-asia", "cgtn")  # fmt: skip
SUMMITS = ("China–Central Asia Summit", "Global Energy Summit", "World Economic Forum",
           "Astana International Forum", "Tashkent Investment Forum", "Belt and Road Forum",
           "Digital Silk Road Conference", "Climate Finance Summit")  # fmt: skip
QUARTERS = ("first", "second", "third", "fourth")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip

FILLER = (
    "The company continues to invest in innovation and operational excellence.",
    "Management will host a conference call and webcast to discuss the results.",
    "The transaction is subject to customary closing conditions and regulatory approvals.",
    "These efforts reflect a long-term commitment to customers, partners and shareholders.",
    "The initiative builds on more than a decade of work across the region.",
    "Customers can learn more at the company's website and at upcoming industry events.",
    "Analysts expect demand to remain strong through the rest of the year.",
    "The agreement strengthens cooperation in trade, transport, energy and digital infrastructure.",
    "Further details will be shared with investors in the coming weeks.",
    "The program is expected to create hundreds of local jobs.",
)  # fmt: skip


@dataclass(frozen=True)
class Company:
    name: str
    short: str  # the first word, as headlines use it
    ticker: str
    exchange: str
    sector: str
    country: str


@dataclass(frozen=True)
class GeneratedRelease:
    key: int
    guid: str
    link: str
    title: str
    summary: str
    body: str
    author: str
    place: str
    day: date
    wire: str
    tickers: tuple[str, ...]  # "NYSE:NVX"
    feeds: tuple[str, ...]
    published: datetime
    topic: str

    @property
    def dateline_text(self) -> str:
        return f"{self.place} {self.day.isoformat()} {self.wire}"


class Corpus:
    """Deterministic release generator: the same seed always yields the same releases."""

    def __init__(self, seed: int = 0, companies: int = 10_000) -> None:
        self.seed = seed
        rnd = random.Random(f"companies-{seed}")
        seen: set[str] = set()
        tickers: set[str] = set()
        out: list[Company] = []
        while len(out) < companies:
            short = "".join(rnd.choice(_SYL) for _ in range(rnd.randint(2, 3))).capitalize()
            if short in seen:
                continue
            seen.add(short)
            ticker = "".join(c for c in short.upper() if c.isalpha())[: rnd.randint(3, 4)]
            while ticker in tickers:
                ticker = "".join(rnd.choice("ABCDEFGHJKLMNPRSTVXZ") for _ in range(4))
            tickers.add(ticker)
            sector = rnd.choice(list(SECTORS))
            out.append(
                Company(
                    name=f"{short} {rnd.choice(_SUFFIX)}",
                    short=short,
                    ticker=ticker,
                    exchange=rnd.choice(EXCHANGES),
                    sector=sector,
                    country=rnd.choice(COUNTRIES),
                )
            )
        self.companies: tuple[Company, ...] = tuple(out)

    def person(self, rnd: random.Random) -> str:
        return f"{rnd.choice(_FIRST)} {rnd.choice(_LAST)}"

    def releases(self, n: int, start: int = 0) -> list[GeneratedRelease]:
        """Return releases number start .. start+n-1 (each depends only on the seed and its number)."""
        return [self.release(i) for i in range(start, start + n)]

    def docs(self, n: int, start: int = 0) -> list:
        """Return releases start .. start+n-1 as monitor.types.Doc (key = number + 1)."""
        return [to_doc(r) for r in self.releases(n, start)]

    def release(self, i: int) -> GeneratedRelease:
        rnd = random.Random(f"release-{self.seed}-{i}")
        co = rnd.choice(self.companies)
        other = rnd.choice(self.companies)
        place = rnd.choice(list(CITIES))
        day = date(2023, 1, 1) + timedelta(days=rnd.randrange(1000))
        words = SECTORS[co.sector]
        topic = rnd.choice(
            ("earnings", "acquisition", "product", "partnership", "appointment", "funding", "trial",
             "dividend", "energy", "summit", "summit", "earnings")
        )  # fmt: skip
        w1, w2 = rnd.sample(words, 2)
        country = rnd.choice(COUNTRIES)
        q = rnd.choice(QUARTERS)
        year = day.year
        amount = f"${rnd.randint(2, 950)}{rnd.choice(('', '.5', '.2'))} {rnd.choice(('million', 'billion'))}"
        who = self.person(rnd)
        role = rnd.choice(ROLES)
        if topic == "earnings":
            title = f"{co.name} Reports {q.capitalize()} Quarter {year} Financial Results"
            lead = (f"{co.name} ({co.exchange}: {co.ticker}) today reported financial results for the {q} "
                    f"quarter of {year}, with revenue of {amount} and record {w1} sales.")  # fmt: skip
            more = [f"Earnings per share rose {rnd.randint(2, 40)} percent compared with the prior year.",
                    f"The company raised its full-year guidance on strong {w2} demand in {country}."]  # fmt: skip
        elif topic == "acquisition":
            title = f"{co.name} to Acquire {other.name} for {amount}"
            lead = (f"{co.name} ({co.exchange}: {co.ticker}) and {other.name} today announced a definitive "
                    f"agreement under which {co.short} will acquire {other.short} for cash.")  # fmt: skip
            more = [f"The acquisition expands {co.short}'s {w1} portfolio and adds {other.short}'s {w2} business.",
                    "The boards of directors of both companies have approved the merger."]  # fmt: skip
        elif topic == "product":
            title = f"{co.name} Launches New {w1.capitalize()} {rnd.choice(('Platform', 'Solution', 'Suite'))} for {w2.capitalize()} Customers"  # noqa: E501
            lead = f"{co.name} today unveiled a new {w1} offering designed for {w2} customers in {country}."
            more = [f"The launch follows two years of development with partners across {country}.",
                    f"Availability begins in {rnd.choice(MONTHS)} {year}."]  # fmt: skip
        elif topic == "partnership":
            title = f"{co.short} and {other.short} Announce Strategic Partnership in {country}"
            lead = (f"{co.name} and {other.name} today announced a strategic partnership to expand {w1} "
                    f"and {w2} services in {country}.")  # fmt: skip
            more = [f"The memorandum of understanding was signed in {place.title()}.",
                    "The partners plan joint investments over the next five years."]  # fmt: skip
        elif topic == "appointment":
            title = f"{co.name} Appoints {who} as {role}"
            lead = f"{co.name} today announced the appointment of {who} as {role}, effective immediately."
            more = [f"{who.split()[0]} brings more than twenty years of {w1} experience.",
                    f"{who} succeeds a founder who will remain an adviser to the board."]  # fmt: skip
        elif topic == "funding":
            title = f"{co.short} Raises {amount} Series {rnd.choice('ABCD')} to Scale {w1.capitalize()}"
            lead = f"{co.name}, a {w1} company, today announced it has raised {amount} in new funding."
            more = [f"The round was led by {other.name} with participation from existing investors.",
                    f"Proceeds will fund expansion in {country} and new {w2} products."]  # fmt: skip
        elif topic == "trial":
            title = f"{co.name} Announces Positive Phase {rnd.randint(1, 3)} Results for {w1.capitalize()} Candidate"
            lead = f"{co.name} today announced positive topline results from a clinical trial in {w2}."
            more = ["The study met its primary endpoint with a favorable safety profile.",
                    "The company plans to discuss the data with regulators."]  # fmt: skip
        elif topic == "dividend":
            title = f"{co.name} Declares Quarterly Dividend"
            lead = f"The board of directors of {co.name} ({co.exchange}: {co.ticker}) declared a quarterly dividend."
            more = [f"The dividend is payable in {rnd.choice(MONTHS)} to shareholders of record.",
                    "The company has increased its dividend for ten consecutive years."]  # fmt: skip
        elif topic == "energy":
            title = f"{co.name} Signs {amount} {w1.capitalize()} Project Agreement with {country}"
            lead = (f"{co.name} signed an agreement with the government of {country} to develop a {w1} "
                    f"project, including a new pipeline and {w2} capacity.")  # fmt: skip
            more = [f"The project will supply energy to {rnd.choice(COUNTRIES)} and neighbouring markets.",
                    "Construction is expected to begin next year."]  # fmt: skip
        else:
            summit = rnd.choice(SUMMITS)
            if summit == "China–Central Asia Summit":
                place = "XI'AN" if rnd.random() < 0.5 else "BEIJING"
                ca = ", ".join(CENTRAL_ASIA[:-1]) + " and " + CENTRAL_ASIA[-1]
                title = f"Leaders Gather for the {rnd.choice(('First', 'Second'))} China–Central Asia Summit"
                lead = (f"Chinese President Xi Jinping and the leaders of {ca} met at the China–Central Asia "
                        f"Summit to deepen cooperation on trade, energy and transport.")  # fmt: skip
                more = ["The summit adopted a joint declaration and a plan for regular meetings.",
                        f"Delegations discussed {w1} and {w2} projects along the Belt and Road."]  # fmt: skip
                co = Company("CGTN", "CGTN", "", "", co.sector, "China")
            else:
                title = f"{co.name} to Showcase {w1.capitalize()} Innovations at {summit} {year}"
                lead = f"{co.name} will join leaders from {country} and {rnd.choice(COUNTRIES)} at the {summit}."
                more = [f"{who}, {role}, will speak on a panel about {w2}.",
                        "The summit brings together officials, investors and executives."]  # fmt: skip
        wire = "PRNewswire" if rnd.random() < 0.9 else "PRNewswire-Asia"
        when = f"{place}, {MONTHS[day.month - 1]} {day.day}, {day.year} /{wire}/ --"
        quote = (f'"{rnd.choice(FILLER)[:-1]}," said {who}, {role} of {co.name}. '
                 f'"{rnd.choice(FILLER)}"')  # fmt: skip
        paras = [f"{when} {lead} {more[0]}", " ".join([more[1], *rnd.sample(FILLER, 2)]), quote]
        paras += [" ".join(rnd.sample(FILLER, 3)) for _ in range(rnd.randint(0, 2))]
        paras.append(
            f"About {co.name}: {co.name} is a {co.sector} company headquartered in {co.country}, "
            f"focused on {', '.join(SECTORS[co.sector][:3])} and related services."
        )
        paras.append(
            "Forward-Looking Statements: This press release contains forward-looking statements "
            "that involve risks and uncertainties."
        )
        summary = f"{lead} {more[0]}"
        tickers = (f"{co.exchange}:{co.ticker}",) if co.ticker else ()
        if topic == "acquisition" and other.ticker:
            tickers += (f"{other.exchange}:{other.ticker}",)
        feeds = ("prn-all", f"prn-{co.sector}" if f"prn-{co.sector}" in FEEDS else "prn-all")
        if CITIES[place] in CENTRAL_ASIA + ("China",) or co.name == "CGTN":
            feeds += ("prn-asia",) if co.name != "CGTN" else ("cgtn",)
        feeds = tuple(dict.fromkeys(feeds))
        published = datetime(day.year, day.month, day.day, rnd.randrange(24), rnd.randrange(60), tzinfo=UTC)
        slug = "-".join(title.lower().split()[:8]).replace("'", "").replace("$", "")
        return GeneratedRelease(
            key=i + 1,
            guid=f"prn-{self.seed}-{i}",
            link=f"https://www.prnewswire.com/news-releases/{slug}-{300000000 + i}.html",
            title=title,
            summary=summary,
            body="\n\n".join(paras),
            author=co.name,
            place=place,
            day=day,
            wire=wire,
            tickers=tickers,
            feeds=feeds,
            published=published,
            topic=topic,
        )


def to_doc(r: GeneratedRelease):  # -> monitor.types.Doc (imported lazily: corpus needs no monitor)
    """Return the release as the searchable Doc that rules match."""
    from monitor.types import Doc

    return Doc(
        key=r.key,
        title=r.title,
        summary=r.summary,
        body=r.body,
        author=r.author,
        dateline=r.dateline_text,
        tickers=" ".join(r.tickers),
        feeds=r.feeds,
    )


if __name__ == "__main__":
    c = Corpus(seed=1)
    for rel in c.releases(3):
        print(rel.title, "|", rel.dateline_text, "|", rel.tickers, "|", rel.feeds)
        print(rel.summary)
        print(rel.body[:300], "...\n")
    docs = c.docs(1000)
    words = sum(len(" ".join(d.columns()).split()) for d in docs)
    chars = sum(len("".join(d.columns())) for d in docs)
    print(f"1000 releases: {words / 1000:.0f} words and {chars / 1000:.0f} chars each")
