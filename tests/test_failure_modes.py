"""What seqlm promises under faults (docs/failure_modes.md), beyond the bad-input matrix:
divergence keeps no diverged weights, a run directory holds one run written by one
process, interrupted swaps are recovered, resumed runs say what changed, identical
runs write identical bytes, and the typed settings are the one list everything reads."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from lm_helpers import tiny_model_config, toy_corpus, write_toy_dir

from seqlm.errors import SeqlmError, SeqlmWarning
from seqlm.io import atomic_dir, lock_dir
from seqlm.metrics import summarize
from seqlm.train import TrainConfig, Trainer, train
from seqlm.train import checkpoint as ckpt

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus(n_train=60, n_eval=10)


def _tc(**kw) -> TrainConfig:
    d = dict(epochs=2, batch_size=4, bptt=8, lr=1.0, schedule="constant", precision="fp32", log_interval=5)
    d.update(kw)
    return TrainConfig(**d)


def _train(corpus, out, **kw):
    tc = kw.pop("tc", None) or _tc()
    return train(corpus, tiny_model_config(len(corpus.vocab)), tc, out, seed=0, progress=False,
                 device="cpu", **kw)


def _finite(path: Path) -> bool:
    return all(torch.isfinite(p).all() for p in ckpt.load_checkpoint(path).model.parameters())


# ----------------------------------------------------------------- perplexity
def test_perplexity_of_a_huge_loss_is_inf_with_a_reason_not_an_overflow():
    ev = summarize(np.full(4, -1e5), "stream")         # mean loss 1e5 nats: exp() overflows
    assert ev.ppl == math.inf and ev.bits_per_token > 0
    assert "overflows" in ev.inf_reason and ev.message().startswith("perplexity inf: ")
    ev = summarize([-1.0, float("nan"), -2.0], "sentence")  # a model whose numbers overflowed
    assert ev.ppl == math.inf and ev.undefined == 1 and "NaN" in ev.inf_reason
    ev = summarize([-1.0, -2.0], "sentence")
    assert ev.inf_reason is None and ev.ppl == pytest.approx(math.exp(1.5))


# ----------------------------------------------------------------- divergence
def test_finite_divergence_stops_in_one_line_and_saves_nothing_diverged(tmp_path, corpus):
    """--lr 1e6 --clip none: the loss explodes without becoming NaN (the issue's case)."""
    with pytest.raises(SeqlmError) as e:
        _train(corpus, tmp_path, tc=_tc(lr=1e6, clip=None, checkpoint_every=1))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("training diverged at step ")
    step = int(msg.split("step ")[1].split()[0])
    assert f"last good checkpoint: {tmp_path / 'checkpoint'} (step {step - 1})" in msg or \
        "no checkpoint was written yet" in msg
    assert not (tmp_path / "best").exists()
    if (tmp_path / "checkpoint").exists():
        assert _finite(tmp_path / "checkpoint")
    events = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "diverged" and events[-1]["step"] == step


def test_diverged_validation_keeps_the_last_good_best_and_checkpoint(tmp_path, corpus):
    """Weights that blow up at the last step of epoch 2: validation catches it, and
    best/ and checkpoint/ stay those of epoch 1."""
    steps = _train(corpus, tmp_path / "probe", tc=_tc(epochs=1)).steps
    holder = {}

    def poison(step, loss):  # at the last step of epoch 2, make <unk> (id 0) win everything
        if step == 2 * steps:
            with torch.no_grad():
                holder["tr"].raw_model.decoder.bias[0] += 1e4
    tr = Trainer(corpus, tiny_model_config(len(corpus.vocab)), _tc(epochs=3), tmp_path / "run", seed=0,
                 progress=False, device="cpu", step_hook=poison)
    holder["tr"] = tr
    with pytest.raises(SeqlmError, match=rf"diverged at step {2 * steps} \(epoch 2\): the validation "
                                         r"perplexity is inf .*last good checkpoint: .*checkpoint "
                                         rf"\(step {steps}\)"):
        tr.fit()
    assert ckpt.load_checkpoint(tmp_path / "run" / "checkpoint").trainer_state["step"] == steps
    assert _finite(tmp_path / "run" / "best")
    events = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in events if m["event"] == "epoch"] == [1]


# ----------------------------------------------------------------- run directories
def test_a_directory_holding_a_run_is_refused_and_force_starts_clean(tmp_path, corpus):
    _train(corpus, tmp_path, tc=_tc(epochs=1))
    (tmp_path / "notes.txt").write_text("mine")
    old_best = (tmp_path / "best" / "model.safetensors").read_bytes()
    with pytest.raises(SeqlmError, match=r"already holds a training run \(best/, checkpoint/, metrics.jsonl"):
        _train(corpus, tmp_path, tc=_tc(epochs=1, lr=0.1))
    assert (tmp_path / "best" / "model.safetensors").read_bytes() == old_best
    _train(corpus, tmp_path, tc=_tc(epochs=1, lr=0.1), force=True)
    assert (tmp_path / "best" / "model.safetensors").read_bytes() != old_best
    events = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in events if m["event"] == "epoch"] == [1]  # only the new run's
    assert all(m.get("lr", 0.1) == 0.1 for m in events)
    assert (tmp_path / "notes.txt").read_text() == "mine"              # --force deletes only run files


HOLD = """
import sys, time
from seqlm.io import lock_dir
with lock_dir(sys.argv[1], "holder"):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SeqlmError, match=rf"in use by another seqlm process \(pid {holder.pid} on .*holder\)"):
            with lock_dir(run):
                pass
        holder.send_signal(signal.SIGKILL)  # dies holding it: the lock file stays behind
        holder.wait()
        assert (run / ".seqlm.lock").exists()
        with lock_dir(run, "the next writer"):
            assert f"pid {os.getpid()}" in (run / ".seqlm.lock").read_text()
        assert not (run / ".seqlm.lock").exists()
    finally:
        holder.kill()
        holder.wait()


def test_an_interrupted_checkpoint_swap_is_recovered(tmp_path, corpus):
    _train(corpus, tmp_path, tc=_tc(epochs=1))
    state = ckpt.load_checkpoint(tmp_path / "checkpoint").trainer_state
    # A kill between "old -> .old" and "new -> checkpoint": only checkpoint.old is
    # complete, and the half-written new one lies in a temporary directory.
    os.replace(tmp_path / "checkpoint", tmp_path / "checkpoint.old")
    (tmp_path / ".checkpoint.abc123.tmp").mkdir()
    (tmp_path / ".checkpoint.abc123.tmp" / "config.json").write_text("{")
    assert ckpt.resolve(tmp_path, prefer="checkpoint") == tmp_path / "checkpoint.old"
    # named directly (eval --checkpoint RUN/checkpoint), the same copy is found
    assert ckpt.resolve(tmp_path / "checkpoint") == tmp_path / "checkpoint.old"
    # atomic_dir never drops the only complete copy before the new one is in place
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "checkpoint"):
            raise RuntimeError("killed while writing")
    assert (tmp_path / "checkpoint.old" / "config.json").exists()
    r = _train(corpus, tmp_path, tc=_tc(epochs=2), resume=tmp_path)
    assert r.epochs == 2 and r.steps == 2 * state["step"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best", "checkpoint", "metrics.jsonl"]


def test_resume_through_launch_after_an_interrupted_swap_works_the_first_time(tmp_path):
    # `seqlm train --resume RUN` resolves RUN to checkpoint.old before the lock's
    # recovery moves it back to checkpoint/: the trainer must follow it there.
    from seqlm.train.launch import TrainRequest, launch
    data = write_toy_dir(tmp_path / "data", n_train=60, n_eval=10)
    common = dict(device="cpu", progress=False, final_eval=False)
    run = tmp_path / "run"
    launch(TrainRequest(data=str(data), out=run, preset="tiny", settings={"max_steps": 5}, **common))
    os.replace(run / "checkpoint", run / "checkpoint.old")
    (run / ".checkpoint.abc123.tmp").mkdir()
    with pytest.warns(SeqlmWarning, match="max_steps 5 -> 8"):
        again = launch(TrainRequest(resume=run, settings={"max_steps": 8}, **common))
    assert again.result.steps == 8
    assert (run / "checkpoint").is_dir() and not (run / "checkpoint.old").exists()
    assert not (run / ".checkpoint.abc123.tmp").exists()


# ----------------------------------------------------------------- resume
def test_max_steps_is_kept_raised_on_resume_and_the_change_is_said(tmp_path, corpus):
    from seqlm.train.launch import TrainRequest, launch
    data = write_toy_dir(tmp_path / "data", n_train=60, n_eval=10)
    common = dict(device="cpu", progress=False, final_eval=False)
    first = launch(TrainRequest(data=str(data), out=tmp_path / "run", preset="tiny",
                                settings={"max_steps": 5}, **common))
    assert first.result.steps == 5 and first.result.max_steps_reached
    assert ckpt.load_checkpoint(tmp_path / "run" / "checkpoint").trainer_state["step"] == 5
    with pytest.raises(SeqlmError, match="already at max_steps 5"):
        launch(TrainRequest(resume=tmp_path / "run", **common))
    with pytest.warns(SeqlmWarning, match="with max_steps 5 -> 9"):
        again = launch(TrainRequest(resume=tmp_path / "run", settings={"max_steps": 9}, **common))
    assert again.result.steps == 9
    with pytest.raises(SeqlmError, match=r"--hidden 99 conflicts with the resumed run \(hidden_size = 16\)"):
        launch(TrainRequest(resume=tmp_path / "run", settings={"hidden_size": 99}, **common))


def test_max_steps_at_the_end_of_an_epoch_validates_and_stops_there(tmp_path, corpus):
    steps = _train(corpus, tmp_path / "probe", tc=_tc(epochs=1)).steps
    r = _train(corpus, tmp_path / "run", tc=_tc(epochs=3, max_steps=steps))
    assert (r.steps, r.epochs, r.max_steps_reached) == (steps, 1, True)
    assert (tmp_path / "run" / "best").exists()


# ----------------------------------------------------------------- checkpoints
def test_identical_runs_write_byte_identical_checkpoints(tmp_path, corpus):
    for name in ("a", "b"):
        _train(corpus, tmp_path / name, tc=_tc(epochs=2, checkpoint_every=3, optimizer="adamw", lr=0.01))
    for sub in ("checkpoint", "best"):
        files = sorted(p.name for p in (tmp_path / "a" / sub).iterdir())
        assert files == sorted(p.name for p in (tmp_path / "b" / sub).iterdir())
        for f in files:
            a, b = tmp_path / "a" / sub / f, tmp_path / "b" / sub / f
            assert a.read_bytes() == b.read_bytes(), f"{sub}/{f} differs"
            assert a.stat().st_mode == b.stat().st_mode
    assert (tmp_path / "a" / "checkpoint").stat().st_mode == (tmp_path / "b" / "checkpoint").stat().st_mode


def test_a_tensor_tree_round_trips_what_json_cannot_hold(tmp_path):
    from seqlm.train.tensortree import load_tree, save_tree
    tree = {"best": math.inf, "betas": (0.9, 0.999), "state": {0: {"step": torch.tensor(3.0)}, 1: {}},
            "$odd": 1, "hidden": [torch.arange(6).reshape(2, 3), None], "flag": True}
    save_tree(tree, tmp_path / "t.json", tmp_path / "t.safetensors")
    back = load_tree(tmp_path / "t.json", tmp_path / "t.safetensors")
    assert back["best"] == math.inf and back["betas"] == (0.9, 0.999) and back["$odd"] == 1
    assert torch.equal(back["state"][0]["step"], torch.tensor(3.0)) and back["state"][1] == {}
    assert torch.equal(back["hidden"][0], torch.arange(6).reshape(2, 3)) and back["hidden"][1] is None


def test_eval_of_a_run_without_best_says_which_model_it_uses(tmp_path):
    data = write_toy_dir(tmp_path / "data", n_train=60, n_eval=10)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "seqlm", "train", "--data", str(data), "--out", str(run),
                        "--preset", "tiny", "--max-steps", "3", "--no-progress", "--device", "cpu"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "no best/ yet" in r.stdout and not (run / "best").exists()
    r = subprocess.run([sys.executable, "-m", "seqlm", "eval", "--checkpoint", str(run), "--data", str(data)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"seqlm eval: note: {run} has no best/ (no epoch has finished its validation yet); using "
        f"{run / 'checkpoint'}"]


# ----------------------------------------------------------------- settings
def test_every_config_field_is_a_typed_setting_with_a_flag():
    from seqlm.cli import build_parser
    from seqlm.lm.config import RNNLMConfig
    from seqlm.train.settings import SETTINGS
    fields = {f for cls in (RNNLMConfig, TrainConfig) for f in cls.__dataclass_fields__} - {"vocab_size", "kind"}
    assert set(SETTINGS) == fields
    train = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    dests = {a.dest for a in train._actions}
    assert fields <= dests
    assert len({s.spelling for s in SETTINGS.values()}) == len(SETTINGS)


def test_toml_none_is_flag_none_and_presets_pass_the_schema(tmp_path):
    from seqlm.train.config import PRESETS
    from seqlm.train.settings import checked_preset, resolve
    toml = tmp_path / "c.toml"
    toml.write_text('clip = "none"\nmax-steps = "none"\nbatch-size = 8\n[model]\nlayers = 3\nembed_size = 4\n')
    s = resolve("tiny", toml)
    assert s.train["clip"] is None and s.train["max_steps"] is None and s.train["batch_size"] == 8
    assert s.model["num_layers"] == 3 and s.model["embed_size"] == 4
    assert resolve("tiny", flags={"clip": None}).train["clip"] is None
    for name in PRESETS:
        TrainConfig(**resolve(name).train)
        assert checked_preset(name)
    with pytest.raises(SeqlmError, match="did you mean 'lr'"):
        toml.write_text("lrr = 3\n")
        resolve(None, toml)


# ----------------------------------------------------------------- ARPA
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0.5"])
def test_arpa_with_a_non_finite_or_positive_log_probability_is_refused(tmp_path, value):
    from seqlm.ngram import load_arpa
    text = f"\\data\\\nngram 1=4\n\n\\1-grams:\n-1.0\t<unk>\n-99\t<s>\n-0.5\t</s>\n{value}\ta\n\n\\end\\\n"
    (tmp_path / "m.arpa").write_text(text)
    with pytest.raises(SeqlmError, match=rf"1-gram 'a' has log10 probability {value}") as e:
        load_arpa(tmp_path / "m.arpa")
    assert "\n" not in str(e.value)
    (tmp_path / "m.arpa").write_text(text.replace(f"{value}\ta", "-0.3\ta\tnan"))
    with pytest.raises(SeqlmError, match="backoff weight nan"):
        load_arpa(tmp_path / "m.arpa")


def test_sigkill_during_a_run_leaves_a_lock_the_resume_takes_over(tmp_path):
    """The CLI end to end: killed mid-run (lock file left behind), then resumed."""
    data = write_toy_dir(tmp_path / "data", n_train=150, n_eval=20)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    p = subprocess.Popen([sys.executable, "-m", "seqlm", "train", "--data", str(data), "--out", str(run),
                          "--preset", "tiny", "--checkpoint-every", "2", "--sleep-per-step", "0.05",
                          "--no-progress", "--no-final-eval", "--device", "cpu"], env=env,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not (run / "checkpoint" / "trainer_state.json").exists():
        assert p.poll() is None, p.stderr.read()
        assert time.time() - t0 < 120
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert (run / ".seqlm.lock").exists()
    r = subprocess.run([sys.executable, "-m", "seqlm", "train", "--resume", str(run), "--no-progress",
                        "--no-final-eval", "--device", "cpu"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert not (run / ".seqlm.lock").exists() and (run / "best").exists()
