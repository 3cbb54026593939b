"""Benchmark: dateline and ticker extraction on real wire paragraphs — precision and recall.

    python bench/bench_datelines.py [--golden tests/data/wire_paragraphs.json] [--misses]

Reads the golden set (real first paragraphs, each with its source and the dateline and tickers a
reader sees in it) and runs monitor.normalize.parse_dateline / extract_tickers over every text.

Datelines: a paragraph counts as found when the whole (place, date, wire) triple equals the
expected one. precision = right / datelines returned; recall = right / datelines expected.
Tickers: "EXCHANGE:SYMBOL" strings, counted one by one over the whole set.
Also prints the figures per wire, the same figures for the held-out rows alone (collected after
the extractor was written, never tuned on) and the time per paragraph. --misses lists every
disagreement.
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


class Score:
    """Dateline and ticker counts over a set of golden rows."""

    def __init__(self) -> None:
        self.d_right = self.d_returned = self.d_expected = 0
        self.t_right = self.t_returned = self.t_expected = 0

    def add(self, want_t: tuple[str, str | None, str] | None, got_t: tuple[str, str | None, str] | None,
            want_k: set[str], got_k: set[str]) -> None:  # fmt: skip
        self.d_expected += want_t is not None
        self.d_returned += got_t is not None
        self.d_right += want_t is not None and got_t == want_t
        self.t_expected += len(want_k)
        self.t_returned += len(got_k)
        self.t_right += len(want_k & got_k)

    def figures(self) -> dict[str, float]:
        return {
            "dateline_precision": round(ratio(self.d_right, self.d_returned), 3),
            "dateline_recall": round(ratio(self.d_right, self.d_expected), 3),
            "ticker_precision": round(ratio(self.t_right, self.t_returned), 3),
            "ticker_recall": round(ratio(self.t_right, self.t_expected), 3),
        }

    def lines(self, label: str) -> str:
        f = self.figures()
        return (
            f"{label}: datelines precision {f['dateline_precision']:.3f} recall {f['dateline_recall']:.3f}"
            f" ({self.d_right} right, {self.d_returned} returned, {self.d_expected} expected);"
            f" tickers precision {f['ticker_precision']:.3f} recall {f['ticker_recall']:.3f}"
            f" ({self.t_right} right, {self.t_returned} returned, {self.t_expected} expected)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--golden", type=Path, default=GOLDEN)
    ap.add_argument("--misses", action="store_true", help="list every paragraph the extractor gets wrong")
    args = ap.parse_args()
    rows = json.loads(args.golden.read_text(encoding="utf-8"))["paragraphs"]

    everything, held_out = Score(), Score()
    per_wire: Counter[str] = Counter()
    per_wire_right: Counter[str] = Counter()
    misses: list[str] = []
    started = time.perf_counter()
    for row in rows:
        text = row["text"]
        want = row["dateline"]
        want_t = None if want is None else (want["place"], want["date"], want["wire"])
        got_t = as_triple(parse_dateline(text))
        want_k, got_k = set(row["tickers"]), set(extract_tickers(text))
        for score in (everything, held_out) if row.get("held_out") else (everything,):
            score.add(want_t, got_t, want_k, got_k)
        if want_t is not None:
            per_wire[want_t[2] or "(none)"] += 1
            per_wire_right[want_t[2] or "(none)"] += got_t == want_t
        if got_t != want_t:
            misses.append(f"dateline  want {want_t}  got {got_t}\n          {text[:110]!r}")
        if want_k != got_k:
            misses.append(f"tickers   want {sorted(want_k)}  got {sorted(got_k)}\n          {text[:110]!r}")
    elapsed = time.perf_counter() - started

    n_held = sum(1 for r in rows if r.get("held_out"))
    print(f"{len(rows)} paragraphs ({n_held} held out) from {args.golden}")
    print(f"{'wire':<20} {'expected':>8} {'right':>6}")
    for wire, n in sorted(per_wire.items()):
        print(f"{wire:<20} {n:>8} {per_wire_right[wire]:>6}")
    print(everything.lines("all     "))
    print(held_out.lines("held out"))
    if args.misses:
        print("\n".join(misses) or "no misses")
    result = {"paragraphs": len(rows), **everything.figures(),
              **{f"held_out_{k}": v for k, v in held_out.figures().items()},
              "us_per_paragraph": round(elapsed / max(len(rows), 1) * 1e6, 1)}  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
