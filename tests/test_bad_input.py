"""The bad-input matrix: every failure a user can cause ends in one clear line.

Each row is a command and a faulty input, run through the real CLI in a
subprocess in a directory of its own. Every row must exit with status 2, print
exactly one line on stderr that says what is wrong (the row's fragment), no
``Traceback``, and leave every file that existed before byte-for-byte unchanged
(and, unless the row says otherwise, create nothing). The rows are the classes
of issue 14 — crashes, divergence, lost or mixed work, two writers, unwritable
outputs, bad settings, damaged files — plus what an attacker or a tired user
would try. Grow the table with every new case.

The subprocesses run a few at a time (most fail before any work, so the table
costs mostly interpreter and torch start-up).
"""
from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import torch
from lm_helpers import tiny_model_config, write_toy_dir

from seqlm.io import lock_dir

REPO = Path(__file__).resolve().parents[1]
HAS_CUDA = torch.cuda.is_available()


@dataclass
class Case:
    id: str
    argv: list[str]              # after "seqlm"; {data}, {run}, {tmp}, {file}, {other} are filled in
    expect: str                  # a fragment of the one stderr line
    setup: Callable[[Path], None] | None = None
    env: dict = field(default_factory=dict)
    creates: bool = False        # the command may create new files (pre-existing ones never change)
    hold_lock: str | None = None  # a directory (relative to the case dir) locked while it runs


# ----------------------------------------------------------------- setups
def write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
    return setup


def edit_json(rel: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        p = tmp / rel
        d = json.loads(p.read_text())
        change(d)
        p.write_text(json.dumps(d))
    return setup


def poison_weights(rel: str, value: float = float("nan"), dtype=None, extra: bool = False):
    def setup(tmp: Path) -> None:
        from safetensors.torch import load_file, save_file
        p = tmp / rel
        state = load_file(str(p))
        name = sorted(state)[0]
        if dtype is not None:
            state[name] = state[name].to(dtype)
        elif extra:
            state["sneaky.weight"] = torch.zeros(2)
        else:
            state[name] = state[name].clone()
            state[name].view(-1)[0] = value
        save_file(state, str(p))
    return setup


def truncate(rel: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        p = tmp / rel
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return setup


class Boom:
    """A pickle that, if ever unpickled, creates a file (the matrix forbids new files)."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def legacy_pickle_state(tmp: Path) -> None:
    ck = tmp / "run" / "checkpoint"
    for name in ("trainer_state.json", "trainer_state.safetensors"):
        (ck / name).unlink()
    (ck / "trainer_state.pt").write_bytes(pickle.dumps({"step": Boom()}))


def both(*setups):
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)
    return setup


def damaged_ptb(tmp: Path) -> None:
    d = tmp / "datahome" / "ptb"
    d.mkdir(parents=True)
    for split in ("train", "valid", "test"):
        (d / f"ptb.{split}.txt").write_text("a truncated copy\n")


TRAIN = ["train", "--data", "{data}", "--out", "{tmp}/new", "--preset", "tiny", "--no-progress",
         "--device", "cpu"]
TRAIN_BARE = ["train", "--data", "{data}", "--out", "{tmp}/new", "--no-progress"]
RESUME = ["train", "--resume", "{run}", "--no-progress", "--device", "cpu"]
EVAL = ["eval", "--checkpoint", "{run}", "--data", "{data}"]
CK, BEST = "run/checkpoint", "run/best"

CASES = [
    # ---- settings on the command line: types and ranges
    Case("train-lr-nan", TRAIN + ["--lr", "nan"], "argument --lr: must be a finite number > 0"),
    Case("train-lr-negative", TRAIN + ["--lr", "-1"], "argument --lr: must be a finite number > 0"),
    Case("train-clip-inf", TRAIN + ["--clip", "inf"], "argument --clip: must be a finite number > 0"),
    Case("train-momentum-above-1", TRAIN + ["--momentum", "1.5"], "must be a finite number in [0, 1)"),
    Case("train-checkpoint-every-negative", TRAIN + ["--checkpoint-every", "-1"], "must be an integer >= 0"),
    Case("train-epochs-zero", TRAIN + ["--epochs", "0"], "argument --epochs: must be an integer >= 1"),
    Case("train-epochs-word", TRAIN + ["--epochs", "many"], "argument --epochs: must be an integer"),
    Case("train-dropout-one", TRAIN + ["--dropout", "1"], "argument --dropout: must be a finite number in [0, 1)"),
    Case("train-hidden-zero", TRAIN + ["--hidden", "0"], "argument --hidden: must be an integer >= 1"),
    Case("train-max-steps-zero", TRAIN + ["--max-steps", "0"], "argument --max-steps: must be an integer >= 1"),
    Case("train-lr-decay-zero", TRAIN + ["--lr-decay", "0"], "argument --lr-decay"),
    Case("train-cell-unknown", TRAIN + ["--cell", "transformer"], "must be one of rnn, lstm, gru"),
    Case("train-precision-unknown", TRAIN + ["--precision", "fp16"], "must be one of fp32, bf16, auto"),
    Case("train-preset-unknown", TRAIN_BARE + ["--preset", "huge"], "unknown preset 'huge'"),
    Case("train-seed-negative", TRAIN + ["--seed", "-1"], "argument --seed: must be an integer"),
    Case("train-unknown-flag", TRAIN + ["--learning-rate", "1"], "unrecognized arguments"),
    Case("train-tied-sizes", TRAIN + ["--hidden", "20", "--embed", "16", "--tie-weights"],
         "tie_weights needs hidden_size == embed_size"),
    Case("train-fused-cho", TRAIN + ["--cell", "gru", "--variant", "cho", "--backend", "fused"],
         "computes variant='reset_after' only"),
    Case("train-device-unknown", TRAIN + ["--device", "tpu"], "unknown device 'tpu'"),
    *([] if HAS_CUDA else [Case("train-device-cuda", TRAIN + ["--device", "cuda"], "no CUDA device")]),
    Case("train-no-data", ["train", "--out", "{tmp}/new"], "--data (or --train/--valid/--test) and --out are required"),
    Case("train-diverges", TRAIN + ["--lr", "1e6", "--clip", "none"], "training diverged at step",
         creates=True),
    Case("train-data-missing", ["train", "--data", "{tmp}/nope", "--out", "{tmp}/new", "--preset", "tiny"],
         "nope"),
    # ---- settings in TOML
    Case("toml-directory", TRAIN + ["--config", "{tmp}"], "is a directory, expected a TOML file"),
    Case("toml-missing", TRAIN + ["--config", "{tmp}/nope.toml"], "config file not found"),
    Case("toml-device", TRAIN + ["--config", "/dev/zero"], "is a device, expected a TOML file"),
    Case("toml-not-toml", TRAIN + ["--config", "{tmp}/c.toml"], "not valid TOML",
         setup=write("c.toml", "lr = = 3\n")),
    Case("toml-not-utf8", TRAIN + ["--config", "{tmp}/c.toml"], "not UTF-8",
         setup=write("c.toml", b"lr = 1\n# \xff\xfe\n")),
    Case("toml-clip-word", TRAIN + ["--config", "{tmp}/c.toml"], "clip must be a finite number > 0 (or none)",
         setup=write("c.toml", 'clip = "fast"\n')),
    Case("toml-unknown-key", TRAIN + ["--config", "{tmp}/c.toml"], "unknown setting 'learning_rate'",
         setup=write("c.toml", "[train]\nlearning_rate = 1.0\n")),
    Case("toml-unknown-table", TRAIN + ["--config", "{tmp}/c.toml"], "unknown table [optim]",
         setup=write("c.toml", "[optim]\nlr = 1.0\n")),
    Case("toml-wrong-table", TRAIN + ["--config", "{tmp}/c.toml"], "'lr' is a train setting, not a [model] one",
         setup=write("c.toml", "[model]\nlr = 1.0\n")),
    Case("toml-nested-table", TRAIN + ["--config", "{tmp}/c.toml"], "[model.cell] is a table",
         setup=write("c.toml", "[model.cell]\nkind = 1\n")),
    Case("toml-float-epochs", TRAIN + ["--config", "{tmp}/c.toml"], "epochs must be an integer >= 1, got 2.5",
         setup=write("c.toml", "epochs = 2.5\n")),
    Case("toml-bool-epochs", TRAIN + ["--config", "{tmp}/c.toml"], "epochs must be an integer >= 1, got True",
         setup=write("c.toml", "epochs = true\n")),
    Case("toml-string-lr", TRAIN + ["--config", "{tmp}/c.toml"], "lr must be a finite number > 0, got the string '20'",
         setup=write("c.toml", 'lr = "20"\n')),
    Case("toml-nan-lr", TRAIN + ["--config", "{tmp}/c.toml"], "lr must be a finite number > 0, got nan",
         setup=write("c.toml", "lr = nan\n")),
    Case("toml-array", TRAIN + ["--config", "{tmp}/c.toml"], "hidden must be an integer >= 1",
         setup=write("c.toml", "hidden = [200, 200]\n")),
    Case("toml-twice", TRAIN + ["--config", "{tmp}/c.toml"], "hidden_size is given twice",
         setup=write("c.toml", "hidden = 10\nhidden_size = 20\n")),
    Case("toml-negative-seed", TRAIN + ["--config", "{tmp}/c.toml"], "seed must be an integer >= 0",
         setup=write("c.toml", "seed = -1\n")),
    Case("toml-unknown-preset", TRAIN_BARE + ["--config", "{tmp}/c.toml"], "unknown preset 'huge'",
         setup=write("c.toml", 'preset = "huge"\n')),
    # ---- output locations, checked before any work
    Case("train-out-is-file", ["train", "--data", "{data}", "--out", "{file}", "--preset", "tiny"],
         "exists and is not a directory"),
    Case("train-out-under-file", ["train", "--data", "{data}", "--out", "{file}/run", "--preset", "tiny"],
         "is a file, not a directory"),
    Case("train-out-proc", ["train", "--data", "{data}", "--out", "/proc/seqlm-test", "--preset", "tiny"],
         "virtual filesystem /proc"),
    Case("train-out-sys", ["train", "--data", "{data}", "--out", "/sys/seqlm-test", "--preset", "tiny"],
         "virtual filesystem /sys"),
    # ---- one run per directory, one writer per run
    Case("train-out-holds-a-run", ["train", "--data", "{data}", "--out", "{run}", "--preset", "tiny"],
         "already holds a training run"),
    Case("train-second-writer", RESUME, "in use by another seqlm process", hold_lock="run"),
    Case("train-resume-and-force", RESUME + ["--force"], "cannot be combined with --resume"),
    # ---- resume: flags that would change the run
    Case("resume-architecture", RESUME + ["--hidden", "99"], "--hidden 99 conflicts with the resumed run"),
    Case("resume-batch", RESUME + ["--batch-size", "7"], "--batch-size 7 conflicts with the resumed run"),
    Case("resume-preset", RESUME + ["--preset", "tiny"], "a resumed run keeps the settings"),
    Case("resume-seed", RESUME + ["--seed", "5"], "--seed 5 conflicts with the resumed run"),
    Case("resume-max-steps-reached", RESUME + ["--max-steps", "1"], "already at max_steps 1"),
    Case("resume-missing", ["train", "--resume", "{tmp}/nope"], "checkpoint not found"),
    Case("resume-file", ["train", "--resume", "{file}"], "a checkpoint is a directory, got a file"),
    Case("resume-not-a-run", ["train", "--resume", "{tmp}/empty"], "not a seqlm checkpoint or run directory",
         setup=lambda t: (t / "empty").mkdir()),
    # ---- damaged checkpoints (resume reads checkpoint/, eval reads best/)
    Case("resume-state-garbage", RESUME, "corrupt checkpoint",
         setup=write(f"{CK}/trainer_state.safetensors", b"garbage")),
    Case("resume-state-not-json", RESUME, "corrupt checkpoint", setup=write(f"{CK}/trainer_state.json", "{")),
    Case("resume-state-negative-step", RESUME, "step must be an integer >= 0",
         setup=edit_json(f"{CK}/trainer_state.json", lambda d: d["tree"].update(step=-3))),
    Case("resume-state-lr-string", RESUME, "lr must be a finite number > 0",
         setup=edit_json(f"{CK}/trainer_state.json", lambda d: d["tree"].update(lr="fast"))),
    Case("resume-state-missing-tensor", RESUME, "is missing from the tensor file",
         setup=edit_json(f"{CK}/trainer_state.json",
                         lambda d: d["tree"].update(hidden=[{"$tensor": "nope"}]))),
    Case("resume-state-bad-tag", RESUME, "malformed entry",
         setup=edit_json(f"{CK}/trainer_state.json", lambda d: d["tree"].update(rng={"$eval": "x"}))),
    Case("resume-nan-weights", RESUME, "holds non-finite values (nan)",
         setup=poison_weights(f"{CK}/model.safetensors")),
    Case("resume-legacy-pickle", RESUME, "a pickle file, which seqlm never loads", setup=legacy_pickle_state),
    Case("resume-config-typo", RESUME, "corrupt checkpoint",
         setup=edit_json(f"{CK}/config.json", lambda d: d["model"].update(hidden_size="abc"))),
    Case("resume-config-train-range", RESUME, "clip must be a finite number > 0",
         setup=edit_json(f"{CK}/config.json", lambda d: d["train"].update(clip=-1))),
    Case("eval-missing", ["eval", "--checkpoint", "{tmp}/nope", "--data", "{data}"], "checkpoint not found"),
    Case("eval-truncated-weights", EVAL, "corrupt checkpoint", setup=truncate(f"{BEST}/model.safetensors")),
    Case("eval-nan-weights", EVAL, "non-finite values (nan)", setup=poison_weights(f"{BEST}/model.safetensors")),
    Case("eval-inf-weights", EVAL, "non-finite values (inf)",
         setup=poison_weights(f"{BEST}/model.safetensors", float("inf"))),
    Case("eval-float64-weights", EVAL, "decoder.bias is F64",
         setup=poison_weights(f"{BEST}/model.safetensors", dtype=torch.float64)),
    Case("eval-extra-tensor", EVAL, "unexpected sneaky.weight",
         setup=poison_weights(f"{BEST}/model.safetensors", extra=True)),
    Case("eval-config-not-json", EVAL, "corrupt checkpoint", setup=write(f"{BEST}/config.json", "{nope")),
    Case("eval-config-not-utf8", EVAL, "corrupt checkpoint", setup=write(f"{BEST}/config.json", b"\xff\xfe{")),
    Case("eval-config-cell", EVAL, "corrupt checkpoint",
         setup=edit_json(f"{BEST}/config.json", lambda d: d["model"].update(cell="transformer"))),
    Case("eval-config-layers-string", EVAL, "num_layers must be an integer >= 1",
         setup=edit_json(f"{BEST}/config.json", lambda d: d["model"].update(num_layers="2"))),
    Case("eval-config-schema", EVAL, "schema version 99 is not supported",
         setup=edit_json(f"{BEST}/config.json", lambda d: d.update(schema_version=99))),
    Case("eval-config-corpus", EVAL, "corpus: [1] is not of type",
         setup=edit_json(f"{BEST}/config.json", lambda d: d.update(corpus=[1]))),
    Case("eval-vocab-garbage", EVAL, "corrupt checkpoint", setup=write(f"{BEST}/vocab.json", "[1, 2]")),
    Case("eval-vocab-missing", EVAL, "vocab.json missing", setup=lambda t: (t / BEST / "vocab.json").unlink()),
    Case("eval-other-vocabulary", ["eval", "--checkpoint", "{run}", "--data", "{other}"], "vocabulary mismatch"),
    Case("eval-batch-zero", EVAL + ["--batch-size", "0"], "must be an integer >= 1"),
    # ---- score and generate
    Case("score-missing", ["score", "{tmp}/nope.txt", "--checkpoint", "{run}"], "nope.txt"),
    Case("score-directory", ["score", "{tmp}", "--checkpoint", "{run}"], "directory"),
    Case("score-not-utf8", ["score", "{tmp}/b.txt", "--checkpoint", "{run}"], "UTF-8",
         setup=write("b.txt", b"\xff\xfe\x00abc\n")),
    Case("score-empty", ["score", "{tmp}/e.txt", "--checkpoint", "{run}"], "empty", setup=write("e.txt", "")),
    Case("score-device", ["score", "/dev/zero", "--checkpoint", "{run}"], "is a device, expected a text file"),
    Case("generate-temperature-nan", ["generate", "--checkpoint", "{run}", "--temperature", "nan"],
         "must be a finite number"),
    Case("generate-temperature-negative", ["generate", "--checkpoint", "{run}", "--temperature", "-1"],
         "--temperature must be a finite number >= 0"),
    Case("generate-top-k-zero", ["generate", "--checkpoint", "{run}", "--top-k", "0"], "--top-k must be >= 1"),
    Case("generate-max-tokens-negative", ["generate", "--checkpoint", "{run}", "--max-tokens", "-1"],
         "--max-tokens must be >= 0"),
    Case("generate-prompt-file-missing", ["generate", "--checkpoint", "{run}", "--prompt-file", "{tmp}/p.txt"],
         "p.txt"),
    # ---- n-grams
    Case("ngram-order-zero", ["ngram", "--data", "{data}", "--order", "0"], "--order must be >= 1"),
    Case("ngram-smoothing", ["ngram", "--data", "{data}", "--smoothing", "magic"], "unknown smoothing"),
    Case("ngram-k-nan", ["ngram", "--data", "{data}", "--smoothing", "addk", "--k", "nan"], "add-k needs k > 0"),
    Case("ngram-arpa-under-file", ["ngram", "--data", "{data}", "--arpa", "{file}/m.arpa"],
         "is a file, not a directory"),
    Case("ngram-arpa-directory", ["ngram", "--data", "{data}", "--arpa", "{tmp}"], "is a directory"),
    Case("ngram-arpa-proc", ["ngram", "--data", "{data}", "--arpa", "/proc/m.arpa"], "virtual filesystem /proc"),
    Case("ngram-arpa-device", ["ngram", "--data", "{data}", "--arpa", "/dev/null"], "not a regular file"),
    Case("ngram-data-not-utf8", ["ngram", "--data", "{tmp}/b.txt"], "UTF-8", setup=write("b.txt", b"ok\n\xff\n")),
    # ---- data
    Case("data-info-missing", ["data", "info", "{tmp}/nope"], "no such file or directory"),
    Case("data-info-device", ["data", "info", "/dev/zero"], "/dev/zero"),
    Case("data-info-empty-dir", ["data", "info", "{tmp}/empty"], "empty",
         setup=lambda t: (t / "empty").mkdir()),
    Case("data-download-unknown", ["data", "download", "imagenet"], "unknown dataset 'imagenet'"),
    Case("data-download-damaged-copy", ["data", "download", "ptb"], "damaged copy of dataset 'ptb'",
         setup=damaged_ptb, env={"SEQLM_DATA": "{tmp}/datahome"}),
    Case("data-info-damaged-copy", ["data", "info", "ptb"], "damaged copy of dataset 'ptb'",
         setup=damaged_ptb, env={"SEQLM_DATA": "{tmp}/datahome"}),
    Case("data-download-root-is-file", ["data", "download", "ptb"], "is a file, not a directory",
         env={"SEQLM_DATA": "{file}"}),
    Case("data-synth-under-file", ["data", "synth", "--out", "{file}/syn"], "is a file, not a directory"),
    Case("data-synth-proc", ["data", "synth", "--out", "/proc/syn"], "virtual filesystem /proc"),
    # ---- the gradient lab
    Case("gradients-out-under-file", ["gradients", "--out", "{file}/g"], "is a file, not a directory"),
    Case("gradients-length-zero", ["gradients", "--out", "{tmp}/g", "--length", "0"], "--length must be positive"),
    Case("gradients-sigma-nan", ["gradients", "--out", "{tmp}/g", "--sigma-max", "nan"], "must be a finite number"),
    Case("gradients-corrupt-checkpoint", ["gradients", "--out", "{tmp}/g", "--checkpoint", "{run}"],
         "corrupt checkpoint", setup=truncate(f"{BEST}/model.safetensors")),
    Case("longlag-out-under-file", ["longlag", "--out", "{file}/l"], "is a file, not a directory"),
    Case("longlag-lr-negative", ["longlag", "--out", "{tmp}/l", "--lr", "-1"], "must be a finite number > 0"),
    Case("longlag-length-one", ["longlag", "--out", "{tmp}/l", "--length", "1"], "lengths must be integers >= 2"),
    Case("bottleneck-out-under-file", ["bottleneck", "--out", "{file}/b"], "is a file, not a directory"),
    Case("bottleneck-lr-inf", ["bottleneck", "--out", "{tmp}/b", "--lr", "inf"], "must be a finite number > 0"),
    Case("bottleneck-cells", ["bottleneck", "--out", "{tmp}/b", "--cells", "lstm,transformer"],
         "expected a comma-separated subset of rnn,lstm,gru"),
    Case("clipping-out-proc", ["clipping", "--out", "/proc/c"], "virtual filesystem /proc"),
    Case("clipping-threshold-nan", ["clipping", "--out", "{tmp}/c", "--threshold", "nan"],
         "must be a finite number > 0"),
    # ---- looking inside a model
    Case("inspect-out-under-file", ["inspect", "--checkpoint", "{run}", "--text", "w1 w2", "--out", "{file}/i"],
         "is a file, not a directory"),
    Case("inspect-out-proc", ["inspect", "--checkpoint", "{run}", "--text", "w1 w2", "--out", "/proc/i"],
         "virtual filesystem /proc"),
    Case("inspect-nan-weights", ["inspect", "--checkpoint", "{run}", "--text", "w1 w2", "--out", "{tmp}/i"],
         "non-finite values", setup=poison_weights(f"{BEST}/model.safetensors")),
    Case("probe-out-under-file", ["probe", "--checkpoint", "{run}", "--out", "{file}/p"],
         "is a file, not a directory"),
    Case("probe-out-proc", ["probe", "--checkpoint", "{run}", "--out", "/proc/p"], "virtual filesystem /proc"),
    Case("probe-same-splits", ["probe", "--checkpoint", "{run}", "--out", "{tmp}/p", "--fit-split", "test"],
         "must differ"),
    Case("probe-corrupt-config", ["probe", "--checkpoint", "{run}", "--out", "{tmp}/p"], "corrupt checkpoint",
         setup=write(f"{BEST}/config.json", "{")),
    Case("inspect-nothing", ["inspect", "--checkpoint", "{run}", "--out", "{tmp}/i"], "nothing to inspect"),
    # ---- the comparison and its figures
    Case("compare-out-is-file", ["compare", "--preset", "tiny", "--out", "{file}"], "exists and is not a directory"),
    Case("compare-out-proc", ["compare", "--preset", "tiny", "--out", "/proc/c"], "virtual filesystem /proc"),
    Case("compare-out-is-a-train-run", ["compare", "--preset", "tiny", "--out", "{run}"],
         "holds a 'seqlm train' run"),
    Case("compare-preset", ["compare", "--preset", "huge"], "invalid choice: 'huge'"),
    Case("compare-stop-after", ["compare", "--preset", "tiny", "--out", "{tmp}/c", "--stop-after", "rnn2"],
         "not a stage"),
    Case("compare-second-writer", ["compare", "--preset", "tiny", "--out", "{tmp}/c"],
         "in use by another seqlm process", setup=lambda t: (t / "c").mkdir(), hold_lock="c"),
    Case("compare-threads-negative", ["compare", "--threads", "-2"], "must be an integer >= 0"),
    Case("figures-run-without-results", ["figures", "--run", "{tmp}", "--no-tikz", "--no-gradients"],
         "results.json: not found"),
    Case("figures-results-not-utf8", ["figures", "--run", "{tmp}/r", "--no-tikz", "--no-gradients"], "not UTF-8",
         setup=write("r/results.json", b"\xff\xfe")),
    Case("figures-results-not-results", ["figures", "--run", "{tmp}/r", "--no-tikz", "--no-gradients"],
         "not a seqlm compare results file", setup=write("r/results.json", "[]")),
    Case("figures-out-under-file", ["figures", "--out", "{file}/f", "--no-tikz", "--no-gradients"],
         "is a file, not a directory"),
    # ---- the exercises
    Case("exercises-unknown", ["exercises", "show", "P99"], "P99"),
    Case("exercises-start-under-file", ["exercises", "start", "P1", "{file}/x"], "is a file, not a directory"),
    Case("exercises-start-proc", ["exercises", "start", "P1", "/proc/x"], "virtual filesystem /proc"),
    Case("exercises-start-existing", ["exercises", "start", "P1", "{tmp}/mine"], "already exists",
         setup=lambda t: subprocess.run([sys.executable, "-m", "seqlm", "exercises", "start", "P1",
                                         str(t / "mine")], capture_output=True, check=True,
                                        env={**os.environ, "PYTHONPATH": str(REPO / "src")})),
    Case("exercises-check-missing", ["exercises", "check", "P1", "{tmp}/nope.py"], "nope.py"),
    Case("exercises-check-out-under-file", ["exercises", "check", "P1", "{tmp}/s.py", "--out", "{file}/r.json"],
         "is a file, not a directory", setup=write("s.py", "x = 1\n")),
    Case("exercises-check-time-nan", ["exercises", "check", "P1", "{tmp}/s.py", "--time-limit", "nan"],
         "--time-limit: must be a finite number > 0, got nan", setup=write("s.py", "x = 1\n")),
]


# ----------------------------------------------------------------- the run
@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A toy corpus, another corpus with other words, and a trained run (best/ and checkpoint/)."""
    from seqlm.data import load_corpus
    from seqlm.train import TrainConfig, train
    root = tmp_path_factory.mktemp("matrix-base")
    data = write_toy_dir(root / "data", n_train=80, n_eval=10)
    other = root / "other"
    other.mkdir()
    for split in ("train", "valid", "test"):
        (other / f"{split}.txt").write_text("x y z\nz y x\n")
    corpus = load_corpus(str(data))
    tc = TrainConfig(epochs=1, batch_size=4, bptt=8, lr=1.0, schedule="constant", precision="fp32",
                     checkpoint_every=0)
    train(corpus, tiny_model_config(len(corpus.vocab)), tc, root / "run", seed=0, progress=False,
          device="cpu", data_source=str(data))
    return root


def snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[p.relative_to(root).as_posix()] = (st.st_mode, p.read_bytes() if p.is_file() else None)
    return out


def run_case(case: Case, base: Path, tmp: Path) -> dict:
    shutil.copytree(base / "run", tmp / "run")
    (tmp / "file").write_text("a regular file\n")
    if case.setup:
        case.setup(tmp)
    names = {"data": str(base / "data"), "other": str(base / "other"), "run": str(tmp / "run"),
             "tmp": str(tmp), "file": str(tmp / "file")}
    argv = [a.format(**names) for a in case.argv]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "SEQLM_DATA": str(tmp / "no-datasets"),
           **{k: v.format(**names) for k, v in case.env.items()}}
    before = snapshot(tmp)
    cmd = [sys.executable, "-m", "seqlm", *argv]
    t0 = time.perf_counter()
    if case.hold_lock:
        with lock_dir(tmp / case.hold_lock, "the matrix test"):
            before = snapshot(tmp)
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env, timeout=300)
            after = snapshot(tmp)
    else:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env, timeout=300)
        after = snapshot(tmp)
    return {"rc": r.returncode, "stderr": r.stderr, "before": before, "after": after,
            "seconds": time.perf_counter() - t0}


@pytest.fixture(scope="module")
def results(base, tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    dirs = {}
    for c in CASES:
        dirs[c.id] = root / c.id
        dirs[c.id].mkdir()
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {c.id: pool.submit(run_case, c, base, dirs[c.id]) for c in CASES}
        out = {k: f.result() for k, f in futures.items()}
    if os.environ.get("SEQLM_MATRIX_TIMES"):
        for k, v in sorted(out.items(), key=lambda kv: -kv[1]["seconds"])[:25]:
            print(f"{v['seconds']:6.1f}s {k}")
    return out


def test_case_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(results, case):
    r = results[case.id]
    lines = r["stderr"].strip().splitlines()
    assert "Traceback" not in r["stderr"], r["stderr"]
    assert r["rc"] == 2, r["stderr"]
    assert len(lines) == 1, r["stderr"]
    assert re.match(rf"seqlm {case.argv[0]}( [a-z]+)?: error: ", lines[0]), lines[0]
    assert case.expect in lines[0], lines[0]
    before, after = r["before"], r["after"]
    changed = [k for k in before if after.get(k) != before[k]]
    assert not changed, f"pre-existing files changed or removed: {changed[:5]}"
    if not case.creates:
        assert sorted(set(after) - set(before)) == [], "new files created"
