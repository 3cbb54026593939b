"""Benchmark: dateline and ticker extraction on real wire paragraphs — precision and recall.

    python bench/bench_datelines.py [--golden tests/data/wire_paragraphs.json] [--misses]

Reads the golden set (real first paragraphs, each with its source and the dateline and tickers a
reader sees in it) and runs monitor.normalize.parse_dateline / extract_tickers over every text.

Datelines: a paragraph counts as found when the whole (place, date, wire) triple equals the
expected one. precision = right / datelines returned; recall = right / datelines expected.
Tickers: "EXCHANGE:SYMBOL" strings, counted one by one over the whole set.
Also prints the figures per wire and the time per paragraph. --misses lists every disagreement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.normalize import extract_tickers, parse_dateline  # noqa: E402
from monitor.types import Dateline  # noqa: E402

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "data" / "wire_paragraphs.json"


def as_triple(d: Dateline | None) -> tuple[str, str | None, str] | None:
    if d is None:
        return None
    return (d.place, d.date.isoformat() if d.date else None, d.wire)


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--golden", type=Path, default=GOLDEN)
    ap.add_argument("--misses", action="store_true", help="list every paragraph the extractor gets wrong")
    args = ap.parse_args()
    rows = json.loads(args.golden.read_text(encoding="utf-8"))["paragraphs"]

    d_right = d_returned = d_expected = 0
    t_right = t_returned = t_expected = 0
    per_wire: Counter[str] = Counter()
    per_wire_right: Counter[str] = Counter()
    misses: list[str] = []
    started = time.perf_counter()
    for row in rows:
        text = row["text"]
        want = row["dateline"]
        want_t = None if want is None else (want["place"], want["date"], want["wire"])
        got_t = as_triple(parse_dateline(text))
        d_expected += want_t is not None
        d_returned += got_t is not None
        if want_t is not None:
            per_wire[want_t[2] or "(none)"] += 1
            if got_t == want_t:
                d_right += 1
                per_wire_right[want_t[2] or "(none)"] += 1
        if got_t != want_t:
            misses.append(f"dateline  want {want_t}  got {got_t}\n          {text[:110]!r}")
        want_k = set(row["tickers"])
        got_k = set(extract_tickers(text))
        t_expected += len(want_k)
        t_returned += len(got_k)
        t_right += len(want_k & got_k)
        if want_k != got_k:
            misses.append(f"tickers   want {sorted(want_k)}  got {sorted(got_k)}\n          {text[:110]!r}")
    elapsed = time.perf_counter() - started

    print(f"{len(rows)} paragraphs from {args.golden}")
    print(f"{'wire':<20} {'expected':>8} {'right':>6}")
    for wire, n in sorted(per_wire.items()):
        print(f"{wire:<20} {n:>8} {per_wire_right[wire]:>6}")
    result = {
        "paragraphs": len(rows),
        "dateline_precision": round(ratio(d_right, d_returned), 3),
        "dateline_recall": round(ratio(d_right, d_expected), 3),
        "ticker_precision": round(ratio(t_right, t_returned), 3),
        "ticker_recall": round(ratio(t_right, t_expected), 3),
        "us_per_paragraph": round(elapsed / max(len(rows), 1) * 1e6, 1),
    }
    print(
        f"datelines: precision {result['dateline_precision']:.3f}  recall {result['dateline_recall']:.3f}"
        f"  ({d_right} right, {d_returned} returned, {d_expected} expected)"
    )
    print(
        f"tickers:   precision {result['ticker_precision']:.3f}  recall {result['ticker_recall']:.3f}"
        f"  ({t_right} right, {t_returned} returned, {t_expected} expected)"
    )
    if args.misses:
        print("\n".join(misses) or "no misses")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
