"""`seqlm train`: train a neural language model with truncated BPTT.

Settings are layered: the built-in defaults, then ``--preset``, then
``--config FILE.toml``, then explicit flags. ``--resume DIR`` continues a run
from its last checkpoint with the settings saved there (``--epochs`` may be
raised to train longer). Under ``torchrun`` every process runs this same
command; rank 0 writes the files.
"""
from __future__ import annotations

import argparse
import sys

from seqlm.commands.corpus_args import add_corpus_args, has_corpus, spec_from_args, split_files
from seqlm.commands.corpus_args import settings_from_args as corpus_settings
from seqlm.errors import SeqlmError

# flag dest -> config field name (model or training)
FLAG_FIELDS = {
    "cell": "cell", "variant": "variant", "backend": "backend", "layers": "num_layers",
    "embed": "embed_size", "hidden": "hidden_size", "dropout": "dropout", "tie_weights": "tie_weights",
    "init": "init", "init_scale": "init_scale", "epochs": "epochs", "batch_size": "batch_size",
    "bptt": "bptt", "variable_bptt": "variable_bptt", "unit": "unit", "optimizer": "optimizer", "lr": "lr",
    "momentum": "momentum", "weight_decay": "weight_decay", "schedule": "schedule",
    "decay_start": "decay_start", "lr_decay": "lr_decay", "clip": "clip",
    "early_stopping": "early_stopping", "log_interval": "log_interval",
    "checkpoint_every": "checkpoint_every", "precision": "precision", "max_steps": "max_steps",
    "valid_batch_size": "valid_batch_size", "inject_nan_at_step": "inject_nan_at_step",
    "sleep_per_step": "sleep_per_step",
}


def _clip(value: str):
    return None if value.lower() in ("none", "off", "0") else float(value)


def register(sub) -> None:
    p = sub.add_parser("train", help="train an RNN/LSTM/GRU language model (truncated BPTT)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    add_corpus_args(p)
    a("--out", help="run directory (checkpoint/, best/, metrics.jsonl)")
    a("--preset", help="named settings: zaremba-small, zaremba-medium, zaremba-large, cpu-fast, tiny")
    a("--config", help="TOML file of settings (field = value), applied after the preset")
    a("--resume", metavar="DIR", help="continue the run in DIR (a run directory or its checkpoint/)")
    a("--seed", type=int, default=None,
      help="the one seed of the training run (default 0); it never changes the corpus")
    a("--device", default="auto", help="auto | cpu | cuda | mps")
    a("--no-progress", action="store_true", help="no progress bar")
    a("--deterministic", action="store_true",
      help="torch.use_deterministic_algorithms(True): bitwise repeatable CPU runs")
    a("--no-final-eval", action="store_true", help="skip the final stream-mode eval of best/")
    g = p.add_argument_group("model")
    g.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=None)
    g.add_argument("--variant", choices=("cho", "reset_after"), default=None, help="GRU variant")
    g.add_argument("--backend", choices=("fused", "explicit"), default=None)
    g.add_argument("--layers", type=int, default=None)
    g.add_argument("--embed", type=int, default=None, help="embedding size")
    g.add_argument("--hidden", type=int, default=None, help="hidden size")
    g.add_argument("--dropout", type=float, default=None)
    g.add_argument("--tie-weights", action="store_true", default=None)
    g.add_argument("--init", choices=("pytorch", "uniform", "orthogonal"), default=None)
    g.add_argument("--init-scale", type=float, default=None)
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--bptt", type=int, default=None)
    g.add_argument("--variable-bptt", action="store_true", default=None)
    g.add_argument("--unit", choices=("stream", "sentence"), default=None,
                   help="train on the token stream with state carried (default) or on "
                        "independent sentences, each from the zero state")
    g.add_argument("--optimizer", choices=("sgd", "adamw"), default=None)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--momentum", type=float, default=None)
    g.add_argument("--weight-decay", type=float, default=None)
    g.add_argument("--schedule", choices=("zaremba", "plateau", "constant"), default=None)
    g.add_argument("--decay-start", type=int, default=None, help="zaremba: epochs at constant lr")
    g.add_argument("--lr-decay", type=float, default=None)
    g.add_argument("--clip", type=_clip, default=None, help="gradient-norm threshold; 'none' disables")
    g.add_argument("--early-stopping", type=int, default=None, metavar="EPOCHS")
    g.add_argument("--log-interval", type=int, default=None)
    g.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS")
    g.add_argument("--precision", choices=("fp32", "bf16", "auto"), default=None)
    g.add_argument("--max-steps", type=int, default=None)
    g.add_argument("--valid-batch-size", type=int, default=None)
    g.add_argument("--inject-nan-at-step", type=int, default=None, help=argparse.SUPPRESS)
    g.add_argument("--sleep-per-step", type=float, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def read_toml(path: str) -> dict:
    import tomllib
    from pathlib import Path
    try:
        d = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeqlmError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SeqlmError(f"{path}: not valid TOML ({e})") from None
    flat = {}
    for k, v in d.items():  # accept [model] / [train] tables or a flat file
        if isinstance(v, dict):
            flat.update({kk.replace("-", "_"): vv for kk, vv in v.items()})
        else:
            flat[k.replace("-", "_")] = v
    return flat


def settings_from_args(args) -> tuple[dict, dict, int]:
    """(model fields, training fields, seed) from preset, TOML and flags."""
    from seqlm.train.config import preset, split_fields
    values: dict = {}
    if args.preset:
        values.update(preset(args.preset))
    seed = 0
    if args.config:
        toml = read_toml(args.config)
        if "preset" in toml:
            values.update(preset(toml.pop("preset")))
        seed = int(toml.pop("seed", seed))
        values.update(toml)
    for dest, name in FLAG_FIELDS.items():
        v = getattr(args, dest, None)
        if v is not None:
            values[name] = v
    if args.seed is not None:
        seed = args.seed
    model, train = split_fields(values)
    return model, train, seed


def run(args) -> int:
    from pathlib import Path

    from seqlm.data import load_corpus
    from seqlm.train import checkpoint as ckpt
    from seqlm.train.config import TrainConfig
    from seqlm.train.trainer import train

    resume = None
    if args.resume:
        resume = ckpt.resolve(args.resume, prefer="checkpoint")
        saved = ckpt.read_config(resume)
        model_cfg, train_dict = saved["model"], dict(saved.get("train") or {})
        if args.epochs is not None:
            train_dict["epochs"] = args.epochs
        seed = saved.get("seed", 0) if args.seed is None else args.seed
        out = Path(args.out) if args.out else (resume.parent if resume.name == "checkpoint" else resume)
        # The run's own corpus, cut as it was, unless --data names another one with the
        # same vocabulary (seqlm.train.run_corpus).
        from seqlm.data.vocab import Vocabulary
        from seqlm.train.run_corpus import corpus_for_run
        corpus, note = corpus_for_run(saved, Vocabulary.load(resume / "vocab.json"), resume,
                                      data=args.data, files=split_files(args),
                                      settings=corpus_settings(args))
        if note:
            print(f"seqlm train: note: {note}", file=sys.stderr)
        data = args.data or saved.get("data") or corpus.spec.label()
    else:
        if not has_corpus(args) or not args.out:
            raise SeqlmError("--data (or --train/--valid/--test) and --out are required (or --resume DIR)")
        model_cfg, train_dict, seed = settings_from_args(args)
        corpus, out = load_corpus(spec_from_args(args)), Path(args.out)
        data = corpus.spec.label()
    tc = TrainConfig(**train_dict)
    result = train(corpus, model_cfg, tc, out, seed=seed, device=args.device, resume=resume,
                   progress=not args.no_progress, deterministic=args.deterministic,
                   data_source=str(data))
    if result.interrupted:
        print(f"interrupted at step {result.steps}; checkpoint saved in {out / 'checkpoint'} "
              f"(resume with: seqlm train --resume {out})", file=sys.stderr)
        return 128 + (result.signal or 2)
    import os
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(f"trained {result.epochs} epochs ({result.steps} steps); best valid ppl "
          f"{result.best_valid_ppl:.2f}; run in {out}")
    if not args.no_final_eval and (out / "best").exists():
        from seqlm.eval import evaluate
        from seqlm.io import write_json
        model, _vocab = ckpt.load_model(out / "best")
        res = {"mode": "stream", "batch_size": 1}
        for split in ("valid", "test"):
            ev = evaluate(model, corpus.split(split), "stream", 1, chars=corpus.chars.get(split))
            res[f"{split}_ppl"] = ev.ppl
            res[f"{split}_tokens"] = ev.tokens
            res[f"{split}_bits_per_token"] = ev.bits_per_token
        write_json(out / "results.json", res)
        print(f"best model, stream mode (batch 1): valid ppl {res['valid_ppl']:.2f}, "
              f"test ppl {res['test_ppl']:.2f}")
    return 0
