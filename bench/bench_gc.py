"""Benchmark: does matching need the cyclic garbage collector switched off? (issue 23)

    python bench/bench_gc.py [--rules 10000] [--batch 1000] [--rounds 7] [--seed 1]

The same RuleSet matches the same batch under three collector policies, alternating round by
round in one process so that machine load hits all three alike; CPU time per match, best and
median of the rounds:

  paused   gc.disable() while matching (what rules.match did before issue 23)
  frozen   gc.freeze() once after compiling, collector on (what it does now)
  on       collector on, nothing frozen

`frozen` moves the compiled rules and the tokenizer memo out of the collector's generations, so
its full passes no longer rescan them; `paused` stopped collection for the whole process, every
thread included, while any batch was matched.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import monitor.rules as rules_mod  # noqa: E402
from bench.bench_rules import TERMS, make_rules  # noqa: E402
from tests.corpus import Corpus  # noqa: E402


@contextlib.contextmanager
def paused():  # the pre-issue-23 policy, rebuilt here to measure it
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--small", type=int, default=10, help="releases per small batch (a poll's worth)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    if hasattr(rules_mod, "_collector_paused"):  # measure the policies, not the one built in
        rules_mod._collector_paused = contextlib.nullcontext  # type: ignore[attr-defined]
    corpus = Corpus(seed=args.seed)
    rules = rules_mod.compile_rules(make_rules(corpus, args.rules, args.seed), TERMS)
    batch = corpus.docs(args.batch)
    rules.match(corpus.docs(args.batch, start=10_000_000))  # warm the tokenizer memo
    # Something like a daemon's heap besides the rules: a few hundred thousand live containers.
    ballast = [{"k": [i, str(i)]} for i in range(300_000)]

    smalls = [batch[i : i + args.small] for i in range(0, len(batch), args.small)]
    modes = ("paused", "frozen", "on")
    big: dict[str, list[float]] = {m: [] for m in modes}
    small: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            gc.unfreeze()
            gc.collect()
            if mode == "frozen":
                gc.freeze()
            wrap = paused if mode == "paused" else contextlib.nullcontext
            t = time.process_time()
            with wrap():
                rules.match(batch)
            big[mode].append(time.process_time() - t)
            t = time.process_time()
            for few in smalls:  # one match per poll's worth of releases, the daemon's usual case
                with wrap():
                    rules.match(few)
            small[mode].append(time.process_time() - t)
    gc.unfreeze()
    del ballast
    print(f"{args.rules} rules, {args.rounds} alternating rounds, CPU seconds (best / median)")
    for mode in modes:
        print(f"  {mode:<7} {args.batch} releases at once: {min(big[mode]):.3f} / {statistics.median(big[mode]):.3f}"
              f" ({statistics.median(big[mode]) / statistics.median(big['paused']):.2f}x paused);"
              f"  in batches of {args.small}: {min(small[mode]):.3f} / {statistics.median(small[mode]):.3f}"
              f" ({statistics.median(small[mode]) / statistics.median(small['paused']):.2f}x paused)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
