"""`seqlm probe`: linear probes of a trained model's h_t (and c_t) for the synthetic
language's grammatical features."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "probe", help="linear probes: which grammatical features a trained RNN/LSTM/GRU holds",
        description="Record h_t (and c_t for an LSTM) of every layer of a language model trained on "
                    "the synthetic corpus, fit a multinomial logistic regression per feature (topic, "
                    "subject_number, verb_number, pending_verbs) on one held-out split and score it "
                    "on another, against the majority baseline and the same model untrained; name "
                    "the single unit that tracks each feature best. Writes probe.json, probe.csv, "
                    "probe.md and probe_accuracy.pdf/.png.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", metavar="RUN", help="a run directory (uses best/) or a checkpoint")
    src.add_argument("--compare-run", metavar="DIR",
                     help="a seqlm compare run: probe its rnn, lstm and gru side by side")
    p.add_argument("--data", default=None,
                   help="the corpus, e.g. synthetic:seed=3 (default: the one the model was trained on, "
                        "as its checkpoint records)")
    p.add_argument("--fit-split", choices=("train", "valid", "test"), default="valid",
                   help="split the probes are fitted on (default valid)")
    p.add_argument("--eval-split", choices=("train", "valid", "test"), default="test",
                   help="split the probes are scored on (default test)")
    p.add_argument("--mode", choices=("sentence", "stream"), default=None,
                   help="state reset at every sentence or carried (default: as the model was trained)")
    p.add_argument("--no-control", action="store_true", help="skip the untrained-model control")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for probe.json/.csv/.md")
    p.set_defaults(func=run)


def _corpus_for(path, data: str | None):
    """The corpus the model at ``path`` was trained on (its config.json records it), or
    ``data``; its vocabulary must be the model's (``seqlm.train.run_corpus``)."""
    from seqlm.data.vocab import Vocabulary
    from seqlm.train.checkpoint import read_config, resolve
    from seqlm.train.run_corpus import corpus_for_run

    where = resolve(path, "best")
    corpus, note = corpus_for_run(read_config(where), Vocabulary.load(where / "vocab.json"), where,
                                  data=data)
    return corpus, note


def run(args) -> int:
    import shlex
    import sys
    from pathlib import Path

    from seqlm.errors import SeqlmError

    if args.fit_split == args.eval_split:
        raise SeqlmError(f"--fit-split and --eval-split must differ (both {args.fit_split})")
    from seqlm.io import check_output_dir
    out = check_output_dir(args.out)  # under a file, unwritable, /proc, /sys: before any work
    import torch

    from seqlm.compare.probes import compare_run_models, probe_checkpoints, write_probes

    torch.set_num_threads(1)  # small recurrent models and probes: one thread is fastest
    if args.compare_run:
        paths = compare_run_models(args.compare_run)
    else:
        from seqlm.train.checkpoint import read_config, resolve
        cell = read_config(resolve(args.checkpoint, "best"))["model"].get("cell")
        if cell not in ("rnn", "lstm", "gru"):
            raise SeqlmError(f"{args.checkpoint}: probes need a recurrent model (rnn, lstm, gru), "
                             f"not {cell or 'a feed-forward LM'}")
        paths = {cell: Path(args.checkpoint)}
    corpus, note = _corpus_for(next(iter(paths.values())), args.data)
    if note:
        print(note, file=sys.stderr)
    results = probe_checkpoints(paths, corpus, control=not args.no_control, fit_split=args.fit_split,
                                eval_split=args.eval_split, mode=args.mode,
                                log=lambda m: print(m, file=sys.stderr, flush=True))
    command = ["seqlm", "probe", *(["--compare-run", args.compare_run] if args.compare_run
                                   else ["--checkpoint", args.checkpoint])]
    for flag, v in (("--data", args.data), ("--mode", args.mode)):
        if v is not None:
            command += [flag, str(v)]
    command += ["--fit-split", args.fit_split, "--eval-split", args.eval_split]
    command += (["--no-control"] if args.no_control else []) + ["--out", str(out)]
    written = write_probes(out, results, shlex.join(command))
    print((out / "probe.md").read_text(encoding="utf-8"))
    for p in written:
        print(f"wrote {p}")
    return 0
