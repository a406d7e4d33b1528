"""`seqlm data`: corpus statistics, downloads, and the synthetic corpus on disk.

    seqlm data info SOURCE [--json] [--seed S] [--level word|char]
    seqlm data download NAME [--url URL] [--force]
    seqlm data synth --out DIR [--seed S]
"""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("data", help="corpus statistics, dataset downloads, the synthetic corpus",
                       description="Corpus statistics, dataset downloads and the built-in "
                                   "synthetic corpus.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")

    info = dsub.add_parser("info", help="token counts, vocabulary, OOV rate (and oracle perplexity)",
                           description="SOURCE is a directory (PTB/WikiText layout), a text file, "
                                       "a dataset name (ptb, wikitext-2, tiny-shakespeare) or "
                                       "'synthetic'.")
    info.add_argument("source")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpus (default 0)")
    info.add_argument("--level", choices=("word", "char"), default=None,
                      help="tokenisation level (default: the source's own, word for most)")
    info.add_argument("--min-freq", type=int, default=1)
    info.add_argument("--max-size", type=int, default=None)

    dl = dsub.add_parser("download", help="download, verify and unpack a named dataset",
                         description="Downloads into $SEQLM_DATA/NAME (default ~/.cache/seqlm/NAME). "
                                     "$SEQLM_DOWNLOAD_BASE overrides the base address.")
    dl.add_argument("name")
    dl.add_argument("--url", default=None, help="address of the file (single-file datasets)")
    dl.add_argument("--force", action="store_true", help="download even if already present")
    dl.add_argument("--no-progress", action="store_true")

    sy = dsub.add_parser("synth", help="write the synthetic corpus and its oracle to a directory")
    sy.add_argument("--out", required=True, help="directory for train/valid/test.txt, oracle.json")
    sy.add_argument("--seed", type=int, default=0)

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
    lines = [f"{d['name']}: {d['level']} level, vocabulary {d['vocab_size']:,} "
             "(<unk> and <eos> included; counts include one <eos> per line)"]
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
        from seqlm.data import load_corpus

        corpus = load_corpus(args.source, level=args.level, seed=args.seed,
                             min_freq=args.min_freq, max_size=args.max_size)
        d = corpus.info()
        print(json.dumps(d) if args.json else _human_info(d))
        return 0
    if cmd == "download":
        from seqlm.data import registry

        path = registry.download(args.name, url=args.url, force=args.force,
                                 progress=not args.no_progress)
        print(f"{args.name}: {path}")
        return 0
    if cmd == "synth":
        from seqlm.data.synthetic import write_corpus

        out = write_corpus(args.out, seed=args.seed)
        print(f"synthetic corpus (seed {args.seed}) written to {out}")
        return 0
    raise SeqlmError(f"unknown data action {cmd!r}")  # pragma: no cover
