"""`seqlm train`: train a neural language model with truncated BPTT.

Settings are layered: the built-in defaults, then ``--preset``, then
``--config FILE.toml`` (the flags' spellings as keys, flat or in [model] /
[train] tables), then explicit flags. ``--out`` must be a new directory, or one
without a run in it: ``--resume DIR`` continues a run from its last checkpoint
with the settings saved there (--epochs, --max-steps, --lr, --clip and the
logging and checkpoint intervals may change, and the run says so); ``--force``
deletes a previous run's outputs and starts over. Under ``torchrun`` every
process runs this same command; rank 0 writes the files.
"""
from __future__ import annotations

import argparse
import sys

from seqlm.commands import seed_int
from seqlm.commands.corpus_args import add_corpus_args, settings_from_args, split_files
from seqlm.train.config import PRESET_NOTES, PRESETS
from seqlm.train.settings import add_arguments, flag_values


def register(sub) -> None:
    p = sub.add_parser("train", help="train an RNN/LSTM/GRU language model (truncated BPTT)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    add_corpus_args(p)
    a("--out", help="run directory (checkpoint/, best/, metrics.jsonl); a new one, or see --resume/--force")
    a("--preset", type=_preset, metavar="{" + ",".join(PRESETS) + "}",
      help="named settings (default: none, the built-in defaults): "
           + "; ".join(f"{k}: {v}" for k, v in PRESET_NOTES.items()))
    a("--config", help="TOML file of settings (field = value), applied after the preset")
    a("--resume", metavar="DIR", help="continue the run in DIR (a run directory or its checkpoint/)")
    a("--force", action="store_true", help="--out holds a previous run: delete its outputs, start over")
    a("--seed", type=seed_int, default=None,
      help="the one seed of the training run (default 0); it never changes the corpus")
    a("--device", default="auto", help="auto | cpu | cuda | mps (default auto: CUDA when there is one)")
    a("--no-progress", action="store_true", help="no progress bar")
    a("--log-lines", action=argparse.BooleanOptionalAction, default=None,
      help="a plain line per log interval and per validation (default: when stderr is not a terminal, "
           "e.g. in a batch job)")
    a("--tensorboard", metavar="DIR", default=None,
      help="also write the training scalars as TensorBoard event files in DIR (the tensorboard extra)")
    a("--deterministic", action="store_true",
      help="torch.use_deterministic_algorithms(True): bitwise repeatable CPU runs")
    a("--no-final-eval", action="store_true", help="skip the final stream-mode eval of best/")
    # Test-only fault injection (seqlm.train.faults): a step hook, never a setting.
    a("--inject-nan-at-step", type=int, default=None, help=argparse.SUPPRESS)
    a("--sleep-per-step", type=float, default=0.0, help=argparse.SUPPRESS)
    add_arguments(p)
    p.set_defaults(func=run)


def _preset(name: str) -> str:
    if name not in PRESETS:
        raise argparse.ArgumentTypeError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return name


def run(args) -> int:
    from seqlm.train.faults import fault_hook
    from seqlm.train.launch import TrainRequest, launch

    req = TrainRequest(data=args.data, files=split_files(args), corpus=settings_from_args(args),
                       out=args.out, preset=args.preset, config=args.config,
                       resume=args.resume, seed=args.seed, settings=flag_values(args),
                       device=args.device, force=args.force, deterministic=args.deterministic,
                       progress=not args.no_progress, final_eval=not args.no_final_eval,
                       step_hook=fault_hook(args.inject_nan_at_step, args.sleep_per_step),
                       tensorboard=args.tensorboard, log_lines=args.log_lines)
    done = launch(req)
    r, out = done.result, done.out
    if r.interrupted:
        print(f"interrupted at step {r.steps}; checkpoint saved in {out / 'checkpoint'} "
              f"(resume with: seqlm train --resume {out})", file=sys.stderr)
        return 128 + (r.signal or 2)
    if not done.main:
        return 0
    if r.best_valid_ppl == float("inf"):
        print(f"stopped at step {r.steps} (--max-steps) before the first validation, so there is no "
              f"best/ yet; checkpoint in {out / 'checkpoint'} (continue with: seqlm train --resume "
              f"{out} --max-steps N)")
    else:
        stop = ", stopped by --max-steps" if r.max_steps_reached else ""
        print(f"trained {r.epochs} epochs ({r.steps} steps{stop}); best valid ppl "
              f"{r.best_valid_ppl:.2f}; run in {out}")
    if done.final:
        f = done.final
        print(f"best model, stream mode (batch 1): valid ppl {_ppl(f, 'valid')}, test ppl {_ppl(f, 'test')}")
    return 0


def _ppl(res: dict, split: str) -> str:
    v = res.get(f"{split}_ppl")
    return "inf" if v is None else f"{v:.2f}"
