"""Extraction quality benchmark: per page, how much of the release the stored body holds and how
much of the body is the release.

    .venv/bin/python bench/bench_extract.py                                  # our corpus, tests/data/pages
    .venv/bin/python bench/bench_extract.py --pages DIR [--refs DIR]         # any saved pages
    .venv/bin/python bench/bench_extract.py --no-anchor                      # as if the feed gave nothing
    .venv/bin/python bench/bench_extract.py --option include_tables=true     # try trafilatura options

A page is NAME.html (or NAME.html.gz) with, in the references directory, NAME.expected.txt (the
release's text; a first line "# headline" is the title, neither required nor held against the
extractor) and NAME.json: {"url": page address, "title": the feed's title, "lead": the feed's
first words, "end": the first words of the release's end matter, "dateline": true when the page
has one}. Printed per page:

  recall      share of the expected words the body holds (counted with repeats)
  precision   share of the body's words that are expected words
  leaked      the end matter (its first words, or an e-mail address the release does not have) is in the body
  dateline    a dateline is found in the first paragraphs of the body (- when the page has none)
  method      which path fired: a wire's extractor, generic (trafilatura) or anchored; quality flag if any

This is a benchmark, not a test: tests/test_extract.py asserts the thresholds on our corpus.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.extract import Anchor, extract, generic  # noqa: E402
from monitor.normalize import find_dateline  # noqa: E402

_WORD = re.compile(r"\w+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


def score(got: str, expected: str) -> tuple[float, float]:
    if expected.startswith("# "):
        headline, _, expected = expected[2:].partition("\n")
        lines = got.splitlines()
        if headline in lines:
            lines.remove(headline)
        got = "\n".join(lines)
    g, e = words(got), words(expected)
    common = sum((g & e).values())
    return common / max(1, sum(e.values())), common / max(1, sum(g.values()))


def leaked(got: str, expected: str, end: str) -> bool:
    folded = " ".join(w.lower() for w in _WORD.findall(got))
    marker = " ".join(w.lower() for w in _WORD.findall(end))
    if marker and marker in folded:
        return True
    return bool(set(_EMAIL.findall(got)) - set(_EMAIL.findall(expected)))


def read_page(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=Path, default=ROOT / "tests" / "data" / "pages")
    parser.add_argument("--refs", type=Path, help="references directory (default: --pages)")
    parser.add_argument("--no-anchor", action="store_true", help="extract as if the feed gave no title or lead")
    parser.add_argument("--option", action="append", default=[], help="trafilatura option NAME=true|false")
    args = parser.parse_args()
    refs = args.refs or args.pages
    for option in args.option:
        name, _, value = option.partition("=")
        generic.OPTIONS[name] = value.lower() in ("1", "true", "yes")
    pages = sorted(p for p in args.pages.iterdir() if p.name.endswith((".html", ".html.gz")))
    print(f"{'page':30} {'recall':>6} {'prec':>6} {'leaked':>6} {'dateline':>8}  method")
    totals = {"recall": 0.0, "precision": 0.0, "leaked": 0, "datelines": 0, "with_dateline": 0, "n": 0}
    for path in pages:
        name = path.name.removesuffix(".gz").removesuffix(".html")
        expected_path, meta_path = refs / f"{name}.expected.txt", refs / f"{name}.json"
        if not expected_path.exists():
            continue
        expected = expected_path.read_text()
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        anchor = None if args.no_anchor else Anchor(meta.get("title", ""), meta.get("lead", ""))
        got = extract(read_page(path), url=meta.get("url", ""), anchor=anchor)
        text = got.text if got else ""
        recall, precision = score(text, expected)
        leak = leaked(text, expected, meta.get("end", ""))
        has_dateline = meta.get("dateline", True)
        found = find_dateline(text) is not None
        method = (got.method + (f" [{got.quality}]" if got.quality else "")) if got else "none"
        mark = ("yes" if found else "NO") if has_dateline else "-"
        print(f"{name:30} {recall:6.3f} {precision:6.3f} {'LEAK' if leak else 'no':>6} {mark:>8}  {method}")
        totals["n"] += 1
        totals["recall"] += recall
        totals["precision"] += precision
        totals["leaked"] += leak
        totals["with_dateline"] += has_dateline
        totals["datelines"] += has_dateline and found
    n = max(1, int(totals["n"]))
    print(f"\n{int(totals['n'])} pages: mean recall {totals['recall'] / n:.3f}, mean precision "
          f"{totals['precision'] / n:.3f}, end matter leaked on {int(totals['leaked'])}, datelines found on "
          f"{int(totals['datelines'])} of {int(totals['with_dateline'])} that have one")


if __name__ == "__main__":
    main()
