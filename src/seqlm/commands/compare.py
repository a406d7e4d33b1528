"""`seqlm compare`: the chapter's experiment — n-gram and neural LMs on the same held-out set.

Trains/estimates unigram, bigram, trigram (modified Kneser-Ney, plus add-one and
MLE rows), a feed-forward LM (Bengio et al. 2003), and RNN, LSTM, GRU language
models on one vocabulary and one split; evaluates them all the same way; writes
results.json/.csv/.md, Figures 5.1–5.6 and report.html/.md into --out.
Re-running the same command skips every finished stage.
"""
from __future__ import annotations

import argparse
import sys

from seqlm.commands import nonnegative_int, positive_int, seed_int
from seqlm.commands.corpus_args import add_corpus_args, settings_from_args, split_files


def register(sub) -> None:
    p = sub.add_parser("compare", help="the chapter's experiment: n-grams vs RNN/LSTM/GRU (report, figures)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_args(p, data_default="synthetic",
                    data_help="corpus: 'synthetic' (default, with a known oracle; "
                              "synthetic:seed=N for another draw), 'ptb', a folder of "
                              "PREFIX.train/valid/test.txt files, a text file or a .toml corpus file")
    p.add_argument("--preset", default="quick", choices=("tiny", "quick", "ptb-quick", "ptb-fast", "paper"),
                   help="tiny (seconds, tests), quick (default, at most 5 min on a 2-core CPU), "
                        "ptb-quick (PTB in a class period: 12 min on 2 cores), ptb-fast (PTB, "
                        "under an hour), paper (PTB, Zaremba-small recipe: 34 min on 2 cores "
                        "with --workers 2)")
    p.add_argument("--out", default="runs/compare", help="output directory (default runs/compare)")
    p.add_argument("--seed", type=seed_int, default=0, help="the one seed (default 0)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps for the neural models (default auto)")
    p.add_argument("--stop-after", metavar="STAGE", default=None,
                   help="stop after this stage (ngram, ffnn, rnn, lstm, gru); re-run to continue")
    p.add_argument("--threads", type=nonnegative_int, default=None,
                   help="torch CPU threads (default: the preset's; 0 = torch's default)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="neural models trained side by side, one process and one thread each "
                        "(default: the preset's, 2 for ptb-quick, else 1); the results do not change")
    p.add_argument("--no-figures", action="store_true",
                   help="do not redraw the figures (the report shows those already in OUT/figures)")
    p.set_defaults(func=run)


def run(args) -> int:
    from seqlm.compare import run_compare
    from seqlm.compare.results import results_markdown_table

    from seqlm.compare.stages import StageInterrupted

    try:
        files = split_files(args)
        results = run_compare(args.out, data=None if files else args.data, preset=args.preset,
                              seed=args.seed, device=args.device, stop_after=args.stop_after,
                              figures=not args.no_figures, threads=args.threads, workers=args.workers,
                              corpus={**files, **settings_from_args(args)})
    except StageInterrupted as stop:
        print(f"seqlm compare: {stop}; run the same command again to resume", file=sys.stderr)
        return 128 + stop.signum
    if results is not None:
        print(results_markdown_table(results), end="")
    return 0
