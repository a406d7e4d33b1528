"""n-gram speed and memory on PTB: seqlm vs NLTK's nltk.lm.

    python benchmarks/ngram.py [--quick] [--json FILE] [--data DIR] [--no-nltk]

Every row runs in its own subprocess so that its peak memory (ru_maxrss: the
whole Python process, interpreter and corpus included) is its own. A seqlm row
times counting + estimation (``fit``) and scoring both valid and test (sentence
mode). An NLTK row fits ``nltk.lm`` once per order (MLE, Laplace and
KneserNeyInterpolated share the counts), scores a fixed prefix of the test
split with each, and extrapolates the time to score valid + test.
Run it under ``flock /tmp/seqlm-bench.lock`` on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    base = os.environ.get("SEQLM_DATA") or REPO.parent / "shared" / "data"
    return Path(base) / "ptb"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


# ---------------------------------------------------------------- one row each
def row_seqlm(data: Path, smoothing: str, order: int) -> dict:
    from seqlm.data import corpus_from_directory
    from seqlm.ngram import build_ngram

    corpus = corpus_from_directory(data)
    base = peak_mb()
    t0 = time.perf_counter()
    model = build_ngram(smoothing, order).fit(corpus.train, corpus.vocab)
    t1 = time.perf_counter()
    valid, test = model.perplexity(corpus.valid), model.perplexity(corpus.test)
    t2 = time.perf_counter()
    n = valid.tokens + test.tokens
    return {"tool": "seqlm", "smoothing": smoothing, "order": order, "build_s": t1 - t0,
            "score_s": t2 - t1, "total_s": t2 - t0, "scored_tokens": n,
            "tokens_per_s": n / (t2 - t1), "valid_ppl": valid.ppl, "test_ppl": test.ppl,
            "peak_mb": peak_mb(), "baseline_mb": base, "parameters": model.num_parameters()}


def row_nltk(data: Path, order: int, prefix: int, prefix_kn: int) -> dict:
    from nltk.lm import MLE, KneserNeyInterpolated, Laplace
    from nltk.lm.preprocessing import padded_everygram_pipeline

    read = lambda s: [line.split() for line in (data / f"ptb.{s}.txt").read_text().splitlines()]  # noqa: E731
    train, valid, test = read("train"), read("valid"), read("test")
    n_eval = sum(len(s) + 1 for s in valid) + sum(len(s) + 1 for s in test)
    base = peak_mb()
    t0 = time.perf_counter()
    grams, vocab = padded_everygram_pipeline(order, train)
    kn = KneserNeyInterpolated(order)
    kn.fit(grams, vocab)
    fit_s = time.perf_counter() - t0
    # The same events seqlm scores: every word and one </s> per line, context padded with <s>.
    events = []
    for s in test:
        padded = ["<s>"] * (order - 1) + s + ["</s>"]
        for i in range(order - 1, len(padded)):
            events.append((padded[i], tuple(padded[i - order + 1:i])))
    out = {"tool": "nltk", "order": order, "fit_s": fit_s, "scored_tokens_full": n_eval}
    models = {"mle": MLE(order, vocabulary=kn.vocab, counter=kn.counts),
              "add1": Laplace(order, vocabulary=kn.vocab, counter=kn.counts), "kn": kn}
    for name, lm in models.items():
        ev = events[: prefix_kn if name == "kn" else prefix]
        t = time.perf_counter()
        logs = [lm.logscore(w, ctx) for w, ctx in ev]
        dt = time.perf_counter() - t
        rate = len(ev) / dt
        finite = [x for x in logs if math.isfinite(x)]
        out[name] = {"prefix_tokens": len(ev), "score_s": dt, "tokens_per_s": rate,
                     "prefix_ppl": 2 ** (-sum(logs) / len(logs)) if len(finite) == len(logs)
                     else math.inf,
                     "zero_prob": len(logs) - len(finite),
                     "extrapolated_total_s": fit_s + n_eval / rate}
    out["peak_mb"], out["baseline_mb"] = peak_mb(), base
    return out


def prefix_ppl_seqlm(data: Path, smoothing: str, order: int, prefix: int) -> float:
    from seqlm.data import corpus_from_directory
    from seqlm.metrics import summarize
    from seqlm.ngram import build_ngram

    corpus = corpus_from_directory(data)
    model = build_ngram(smoothing, order).fit(corpus.train, corpus.vocab)
    return summarize(model.score(corpus.test)[:prefix]).ppl


# ------------------------------------------------------------------- driver
def run_row(args: list[str]) -> dict:
    r = subprocess.run([sys.executable, __file__, "--row", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"row {args} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rows, shorter NLTK prefixes")
    p.add_argument("--json", default=None, metavar="FILE", help="write all rows as JSON")
    p.add_argument("--data", default=str(default_data()), help="PTB directory")
    p.add_argument("--no-nltk", action="store_true", help="skip the NLTK rows")
    p.add_argument("--row", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    data = Path(a.data)
    if a.row:
        kind, *rest = a.row
        if kind == "seqlm":
            res = row_seqlm(data, rest[0], int(rest[1]))
        elif kind == "nltk":
            res = row_nltk(data, int(rest[0]), int(rest[1]), int(rest[2]))
        else:
            res = {"ppl": prefix_ppl_seqlm(data, rest[0], int(rest[1]), int(rest[2]))}
        print(json.dumps(res))
        return 0
    if not (data / "ptb.train.txt").exists():
        raise SystemExit(f"PTB not found in {data} (pass --data or set $SEQLM_DATA)")

    orders = [1, 2, 3, 4, 5]
    smoothings = ["mkn"] if a.quick else ["mle", "add1", "kn", "mkn"]
    rows = []
    print(f"{'tool':<6} {'smoothing':<5} {'N':>2} {'build s':>8} {'score s':>8} {'total s':>8} "
          f"{'tok/s':>11} {'peak MB':>8} {'valid':>9} {'test':>9}")
    for s in smoothings:
        for n in orders:
            r = run_row(["seqlm", s, str(n)])
            rows.append(r)
            print(f"{'seqlm':<6} {s:<5} {n:>2} {r['build_s']:>8.2f} {r['score_s']:>8.3f} "
                  f"{r['total_s']:>8.2f} {r['tokens_per_s']:>11,.0f} {r['peak_mb']:>8.0f} "
                  f"{r['valid_ppl']:>9.2f} {r['test_ppl']:>9.2f}", flush=True)
    nltk_rows = []
    if not a.no_nltk:
        prefix, prefix_kn = (500, 50) if a.quick else (2000, 200)
        for n in ([3] if a.quick else [2, 3]):
            r = run_row(["nltk", str(n), str(prefix), str(prefix_kn)])
            r["seqlm_kn_prefix_ppl"] = run_row(["prefix", "kn", str(n), str(prefix_kn)])["ppl"]
            r["seqlm_mkn_prefix_ppl"] = run_row(["prefix", "mkn", str(n), str(prefix_kn)])["ppl"]
            nltk_rows.append(r)
            ours = next((x for x in rows if x["smoothing"] in ("kn", "mkn") and x["order"] == n
                         and x["smoothing"] == ("kn" if not a.quick else "mkn")), None)
            for name in ("mle", "add1", "kn"):
                m = r[name]
                line = (f"nltk   {name:<5} {n:>2} fit {r['fit_s']:.1f} s, {m['tokens_per_s']:,.1f} tok/s "
                        f"over {m['prefix_tokens']} tokens -> valid+test in "
                        f"{m['extrapolated_total_s']:,.0f} s (extrapolated); peak {r['peak_mb']:.0f} MB; "
                        f"prefix ppl {m['prefix_ppl']:.2f}")
                print(line)
            if ours:
                r["speedup_kn_scoring"] = ours["tokens_per_s"] / r["kn"]["tokens_per_s"]
                r["speedup_kn_end_to_end"] = r["kn"]["extrapolated_total_s"] / ours["total_s"]
                print(f"       seqlm {ours['smoothing']} {n}-gram scores {r['speedup_kn_scoring']:,.0f}x faster "
                      f"than nltk KneserNeyInterpolated; end to end {r['speedup_kn_end_to_end']:,.0f}x; "
                      f"on the same {m['prefix_tokens']}-token prefix seqlm KN gives "
                      f"{r['seqlm_kn_prefix_ppl']:.2f}, MKN {r['seqlm_mkn_prefix_ppl']:.2f}, "
                      f"nltk {r['kn']['prefix_ppl']:.2f}")
    result = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "cpus": os.cpu_count(), "python": platform.python_version()},
              "quick": a.quick, "seqlm": rows, "nltk": nltk_rows}
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
