"""`seqlm data`: corpus statistics, downloads, and the synthetic corpus on disk.

    seqlm data info SOURCE [--json] [--level word|char] [--tokenizer whitespace|words]
                    [--lowercase] [--max-vocab N] [--min-freq K]
    seqlm data info --train F --valid F --test F [...]
    seqlm data download NAME [--url URL] [--force]
    seqlm data synth --out DIR [--seed S]
"""
from __future__ import annotations

import json

from seqlm.commands import seed_int
from seqlm.commands.corpus_args import DATA_HELP, add_corpus_args, spec_from_args


def register(sub) -> None:
    p = sub.add_parser("data", help="corpus statistics, dataset downloads, the synthetic corpus",
                       description="Corpus statistics, dataset downloads and the built-in "
                                   "synthetic corpus.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")

    info = dsub.add_parser("info", help="token counts, vocabulary, OOV rate (and oracle perplexity)",
                           description="Token counts, vocabulary size and OOV rate of a corpus, "
                                       "and the vocabulary size and OOV rate every tokenizer, "
                                       "case and vocabulary limit would give. SOURCE: " + DATA_HELP)
    info.add_argument("source", nargs="?", help="the corpus (or --train/--valid/--test)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--seed", type=seed_int, default=None,
                      help="seed of the synthetic corpus (the same as SOURCE synthetic:seed=S)")
    info.add_argument("--no-choices", action="store_true",
                      help="skip the table of vocabulary choices (it reads the text four times)")
    add_corpus_args(info, data=False)

    dl = dsub.add_parser("download", help="download, verify and unpack a named dataset",
                         description="Downloads into $SEQLM_DATA/NAME (default ~/.cache/seqlm/NAME). "
                                     "$SEQLM_DOWNLOAD_BASE overrides the base address.")
    dl.add_argument("name")
    dl.add_argument("--url", default=None, help="address of the file (single-file datasets)")
    dl.add_argument("--force", action="store_true", help="download even if already present")
    dl.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal anyway)")

    sy = dsub.add_parser("synth", help="write the synthetic corpus and its oracle to a directory")
    sy.add_argument("--out", required=True, help="directory for train/valid/test.txt, oracle.json")
    sy.add_argument("--seed", type=seed_int, default=0, help="seed of the generated corpus (default 0)")

    p.set_defaults(func=run, _data_parser=p)


def _human_info(d: dict) -> str:
    rows = [("split", "tokens", "oov", "oov rate", "chars")]
    has_oracle = any(f"oracle_{s}_ppl" in d for s in ("train", "valid", "test"))
    if has_oracle:
        rows[0] += ("oracle ppl",)
    for s in ("train", "valid", "test"):
        r = (s, f"{d[f'{s}_tokens']:,}", f"{d[f'{s}_oov']:,}", f"{100 * d[f'{s}_oov_rate']:.2f}%",
             f"{d.get(f'{s}_chars', 0):,}")
        if has_oracle:
            r += (f"{d[f'oracle_{s}_ppl']:.3f}",)
        rows.append(r)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    limits = [f"min-freq {d['min_freq']}"] if d.get("min_freq", 1) != 1 else []
    limits += [f"max-vocab {d['max_vocab']:,}"] if d.get("max_vocab") else []
    cut = "characters" if d["level"] == "char" else f"{d.get('tokenizer', 'whitespace')} tokenizer"
    cut += ", lowercased" if d.get("lowercase") else ""
    lines = [f"{d['name']}: {d['level']} level ({', '.join([cut, *limits])}), vocabulary "
             f"{d['vocab_size']:,} (<unk> and <eos> included; counts include one <eos> per line)"]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def run(args) -> int:
    from seqlm.errors import SeqlmError

    cmd = getattr(args, "data_command", None)
    if cmd is None:
        args._data_parser.print_help()
        return 2
    if cmd == "info":
        from seqlm.data.choices import choices_table, vocabulary_choices
        from seqlm.data.spec import load

        extra = {"seed": args.seed} if args.seed is not None else {}
        spec = spec_from_args(args, source=args.source or None, **extra)
        corpus = load(spec)
        d = corpus.info()
        d["source"], d["fingerprint"] = corpus.spec.label(), corpus.fingerprint
        rows = [] if args.no_choices or spec.type == "synthetic" else vocabulary_choices(spec)
        if args.json:
            print(json.dumps({**d, "choices": rows} if rows else d))
        else:
            print(_human_info(d) + ("\n\n" + choices_table(rows) if rows else ""))
        return 0
    if cmd == "download":
        from seqlm.data import registry

        path = registry.download(args.name, url=args.url, force=args.force,
                                 progress=not args.no_progress)
        print(f"{args.name}: {path}")
        for name, src in registry.served_by(path).items():
            print(f"  {name} from {src} (checksums verified)")
        return 0
    if cmd == "synth":
        from seqlm.data.synthetic import write_corpus
        from seqlm.io import check_output_dir

        check_output_dir(args.out)
        out = write_corpus(args.out, seed=args.seed)
        print(f"synthetic corpus (seed {args.seed}) written to {out}")
        return 0
    raise SeqlmError(f"unknown data action {cmd!r}")  # pragma: no cover
