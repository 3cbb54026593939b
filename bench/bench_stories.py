"""Benchmark: stories (issue 21) — precision and recall of "same story" on a labelled set of release pairs.

    python bench/bench_stories.py [--pairs bench/data/story_pairs.json] [--sweep] [--datasketch]

Each pair of bench/data/story_pairs.json is two releases (title, text, published) and whether they are
one story. The decision measured is the pipeline's whole one (monitor/pipeline.place_in_stories):
the two must share an LSH band key (else the later never sees the earlier as a candidate), pass
stories.same_story() and be published within stories.MAX_SKEW. Also printed: the text decision alone
(no band, no time: how much the thresholds do by themselves), every wrong pair with its Jaccard and
containment, and the cost of a sketch. --sweep prints precision/recall over a grid of the two
thresholds (how MIN_JACCARD and MIN_CONTAINMENT were chosen). --datasketch times datasketch's MinHash
on the same leads, when it is installed (it is not a dependency: see bench/README.md, issue 21).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import stories  # noqa: E402

PAIRS = Path(__file__).resolve().parent / "data" / "story_pairs.json"


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def score(pairs, sketches, published, *, text_only: bool = False) -> tuple[float, float, list]:
    tp = fp = fn = 0
    wrong = []
    for a, b, same, why in pairs:
        sa, sb = sketches[a], sketches[b]
        if sa is None or sb is None:
            said = False
        elif text_only:
            said = stories.same_story(sa, sb)
        else:
            shares = bool(set(sa.bands) & set(sb.bands))
            cand = stories.Candidate(0, 0, published[a], sa)
            said = shares and stories.pick(sb, published[b], [cand]) is not None
        tp += said and same
        fp += said and not same
        fn += same and not said
        if said != same:
            wrong.append((a, b, same, why))
    return ratio(tp, tp + fp), ratio(tp, tp + fn), wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=Path, default=PAIRS)
    ap.add_argument("--sweep", action="store_true", help="precision/recall over a grid of thresholds")
    ap.add_argument("--datasketch", action="store_true", help="time datasketch's MinHash too (if installed)")
    args = ap.parse_args()
    data = json.loads(args.pairs.read_text())
    releases, pairs = data["releases"], data["pairs"]
    sketches = {k: stories.sketch(r["title"], r["text"]) for k, r in releases.items()}
    published = {k: datetime.fromisoformat(r["published"]) for k, r in releases.items()}
    n_same = sum(1 for p in pairs if p[2])
    print(f"{len(releases)} releases, {len(pairs)} pairs ({n_same} one story, {len(pairs) - n_same} two)")
    print(f"lead {stories.LEAD_WORDS} words, {stories.SHINGLE}-word shingles, {stories.BANDS} bands x "
          f"{stories.ROWS} rows; Jaccard >= {stories.MIN_JACCARD} or containment >= {stories.MIN_CONTAINMENT}"
          f" (>= {stories.MIN_CONTAINED} shingles); published within {stories.MAX_SKEW}")
    for label, text_only in (("pipeline decision (band + text + time)", False), ("text decision alone", True)):
        p, r, wrong = score(pairs, sketches, published, text_only=text_only)
        print(f"{label:40} precision {p:.3f}  recall {r:.3f}")
        for a, b, same, why in wrong:
            sa, sb = sketches[a], sketches[b]
            j, c = stories.similarity(sa, sb) if sa and sb else (0.0, 0.0)
            bands = len(set(sa.bands) & set(sb.bands)) if sa and sb else 0
            f = len(sa.numbers & sb.numbers) / max(1, min(len(sa.numbers), len(sb.numbers))) if sa and sb else 0
            print(f"   {'missed' if same else 'false '} {a} ~ {b}: Jaccard {j:.2f} containment {c:.2f}"
                  f" figures {f:.2f} bands {bands}  ({why})")
    print("pairs by similarity (one story: +, two: -):")
    for a, b, same, why in sorted(pairs, key=lambda p: -stories.similarity(sketches[p[0]], sketches[p[1]])[0]):
        sa, sb = sketches[a], sketches[b]
        j, c = stories.similarity(sa, sb)
        f = len(sa.numbers & sb.numbers) / max(1, min(len(sa.numbers), len(sb.numbers)))
        print(f"   {'+' if same else '-'} J {j:.2f} C {c:.2f} F {f:.2f} bands {len(set(sa.bands) & set(sb.bands)):2}"
              f"  {why}")
    if args.sweep:
        print("sweep (pipeline decision): MIN_JACCARD x MIN_CONTAINMENT -> precision/recall")
        for mj in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
            row = []
            for mc in (0.6, 0.7, 0.8, 0.9, 1.01):
                with patch.object(stories, "MIN_JACCARD", mj), patch.object(stories, "MIN_CONTAINMENT", mc):
                    p, r, _ = score(pairs, sketches, published)
                row.append(f"C{mc:.2f}: {p:.2f}/{r:.2f}")
            print(f"   J{mj:.2f}  " + "  ".join(row))
    # LSH is a lottery per pair: how often a one-story pair shares no band, over many hash salts.
    seeds, found, total = 200, 0, 0
    for seed in range(seeds):
        with patch.object(stories, "_SALT", seed.to_bytes(4, "big")), patch.object(stories, "_WORDS", {}):
            sk = {k: stories.sketch(r["title"], r["text"]) for k, r in releases.items()}
            for a, b, same, _ in pairs:
                if same and stories.same_story(sk[a], sk[b]):
                    total += 1
                    found += bool(set(sk[a].bands) & set(sk[b].bands))
    print(f"LSH: one-story pairs the text decision accepts that share a band: {found}/{total} = {found / total:.4f}"
          f" over {seeds} hash salts")
    texts = [(r["title"], r["text"]) for r in releases.values()] * 50
    start = time.perf_counter()
    for title, text in texts:
        stories.sketch(title, text)
    per = (time.perf_counter() - start) / len(texts)
    print(f"sketch: {per * 1e6:.0f} µs per release (pure Python, {len(texts)} sketches)")
    if args.datasketch:
        t0 = time.perf_counter()
        try:
            from datasketch import MinHash  # type: ignore[import-not-found]
        except ImportError:
            print("datasketch: not installed")
            return
        print(f"datasketch: import {time.perf_counter() - t0:.3f} s (numpy, scipy)")
        start = time.perf_counter()
        for title, text in texts:
            m = MinHash(num_perm=stories.BANDS * stories.ROWS)
            ws = stories.words(title) + stories.words(stories.lead(text))[:stories.LEAD_WORDS]
            m.update_batch([" ".join(ws[i:i + 3]).encode() for i in range(len(ws) - 2)])
        per_ds = (time.perf_counter() - start) / len(texts)
        print(f"datasketch MinHash({stories.BANDS * stories.ROWS} perms): {per_ds * 1e6:.0f} µs per release "
              f"({per_ds / per:.2f}x ours)")


if __name__ == "__main__":
    main()
