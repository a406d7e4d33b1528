"""The trainer: schedules, metrics, the NaN guard, signals, and bitwise resume after SIGKILL."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from lm_helpers import tiny_model_config, toy_corpus, write_toy_dir

from seqlm.errors import SeqlmError
from seqlm.train import TrainConfig, train
from seqlm.train import checkpoint as ckpt
from seqlm.train.faults import fault_hook

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus(n_train=150, n_eval=20)


def _metrics(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_zaremba_schedule_metrics_and_run_layout(tmp_path, corpus):
    tc = TrainConfig(epochs=4, batch_size=4, bptt=8, lr=2.0, schedule="zaremba", decay_start=2,
                     lr_decay=0.5, log_interval=5, clip=1.0)
    r = train(corpus, tiny_model_config(len(corpus.vocab)), tc, tmp_path, seed=0, progress=False,
              device="cpu")
    epochs = [m for m in _metrics(tmp_path) if m["event"] == "epoch"]
    assert [m["lr"] for m in epochs] == [2.0, 2.0, 1.0, 0.5]
    steps = [m for m in _metrics(tmp_path) if m["event"] == "train"]
    for key in ("train_loss", "lr", "grad_norm", "tokens_per_s", "wall_time"):
        assert all(key in m for m in steps)
    assert all(math.isfinite(m["valid_ppl"]) for m in epochs)
    assert r.best_valid_ppl == min(m["valid_ppl"] for m in epochs)
    assert epochs[-1]["valid_ppl"] < epochs[0]["valid_ppl"] < len(corpus.vocab)  # it learns
    assert (tmp_path / "best" / "model.safetensors").exists()
    st = ckpt.load_checkpoint(tmp_path / "checkpoint").trainer_state
    assert st["epoch"] == 4 and st["step"] == r.steps


def test_cosine_schedule_with_warmup_step_by_step(tmp_path, corpus):
    tc = TrainConfig(epochs=2, batch_size=4, bptt=8, lr=0.8, schedule="cosine", warmup_steps=4,
                     min_lr=0.05, log_interval=1, clip=1.0, optimizer="adamw")
    train(corpus, tiny_model_config(len(corpus.vocab)), tc, tmp_path, seed=0, progress=False,
          device="cpu")
    steps = [m for m in _metrics(tmp_path) if m["event"] == "train"]
    per_epoch = sum(1 for m in steps if m["epoch"] == 1)
    n = len(steps)
    assert n == 2 * per_epoch
    for k, m in enumerate(steps):  # the step's lr, logged after it: step k+1, progress k / n
        want = 0.05 + 0.75 * 0.5 * (1 + math.cos(math.pi * k / n))
        if k < 4:
            want *= (k + 1) / 4
        assert m["lr"] == pytest.approx(want, rel=1e-9), k
    assert steps[-1]["lr"] < 0.06 and max(m["lr"] for m in steps) > 0.75


def test_step_lr_keeps_the_epoch_rate_but_for_cosine_and_warmup():
    z = TrainConfig(schedule="zaremba", lr=2.0)
    assert z.step_lr(1.5, 0.7, 100) == 1.5
    assert TrainConfig(schedule="plateau", warmup_steps=10).step_lr(1.0, 0.0, 4) == 0.5
    c = TrainConfig(schedule="cosine", lr=1.0)
    assert c.step_lr(9.9, 0.0, 0) == 1.0 and c.step_lr(9.9, 0.5, 0) == pytest.approx(0.5)
    assert c.step_lr(9.9, 1.0, 0) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(SeqlmError):
        TrainConfig(warmup_steps=-1)


@pytest.mark.parametrize("unit", ["stream", "sentence"])
def test_fused_loss_trains_the_same_model_to_rounding(tmp_path, corpus, unit):
    """--fused-loss changes how the loss is computed, not what: in fp32 the two runs
    stay within float rounding of each other (seqlm.nn.loss has the exact checks)."""
    runs = {}
    for fused in (False, True):
        tc = TrainConfig(epochs=1, batch_size=4, bptt=8, lr=1.0, schedule="constant", unit=unit,
                         precision="fp32", fused_loss=fused, log_interval=1)
        out = tmp_path / f"{unit}-{fused}"
        train(corpus, tiny_model_config(len(corpus.vocab)), tc, out, seed=0, progress=False,
              device="cpu")
        runs[fused] = [m["train_loss"] for m in _metrics(out) if m["event"] == "train"]
    assert len(runs[True]) == len(runs[False]) > 5
    assert runs[True] == pytest.approx(runs[False], rel=1e-4)


def test_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, corpus):
    tc = TrainConfig(epochs=2, batch_size=4, bptt=8, lr=1.0, checkpoint_every=10, schedule="constant")
    with pytest.raises(SeqlmError) as e:
        train(corpus, tiny_model_config(len(corpus.vocab)), tc, tmp_path, seed=0, progress=False,
              device="cpu", step_hook=fault_hook(nan_at_step=25))
    msg = str(e.value)
    assert "\n" not in msg and "step 25" in msg and "loss is nan" in msg
    assert f"last good checkpoint: {tmp_path / 'checkpoint'} (step 20)" in msg
    ck = ckpt.load_checkpoint(tmp_path / "checkpoint")
    assert ck.trainer_state["step"] == 20
    assert all(torch.isfinite(p).all() for p in ck.model.parameters())


def test_exploding_lr_without_clipping_is_caught(tmp_path, corpus):
    tc = TrainConfig(epochs=1, batch_size=4, bptt=8, lr=1e38, clip=None, schedule="constant")
    with pytest.raises(SeqlmError, match=r"training diverged at step \d+ .*no checkpoint was written yet"):
        train(corpus, tiny_model_config(len(corpus.vocab)), tc, tmp_path, seed=0, progress=False,
              device="cpu")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqlm", *args]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


def _read_state(run: Path) -> dict | None:
    """The JSON part of the latest trainer state (step, epoch, segment), or None."""
    try:
        return json.loads((run / "checkpoint" / "trainer_state.json").read_text())["tree"]
    except Exception:  # not written yet, or being swapped into place
        return None


def _wait_for(proc, run: Path, cond, timeout: float = 120.0) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = _read_state(run)
        if st is not None and cond(st):
            return st
        if proc.poll() is not None:
            pytest.fail(f"training ended before the checkpoint we wait for: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("timed out waiting for a checkpoint")


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(tmp_path):
    data = write_toy_dir(tmp_path / "data", n_train=150, n_eval=20)
    common = ["--data", str(data), "--preset", "tiny", "--epochs", "2", "--seed", "7",
              "--dropout", "0.3", "--layers", "2", "--no-progress", "--deterministic", "--no-final-eval",
              "--checkpoint-every", "4", "--device", "cpu"]
    full = subprocess.Popen(_cli("train", "--out", str(tmp_path / "full"), *common), env=_env(),
                            stderr=subprocess.PIPE, text=True)
    killed = subprocess.Popen(_cli("train", "--out", str(tmp_path / "killed"), *common,
                                   "--sleep-per-step", "0.05"),
                              env=_env(), stderr=subprocess.PIPE, text=True)
    # Kill in the middle of the second epoch, after a mid-epoch checkpoint was written.
    st = _wait_for(killed, tmp_path / "killed", lambda s: s["epoch"] == 1 and s["segment"] > 0)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert st["segment"] > 0
    resumed = subprocess.run(_cli("train", "--resume", str(tmp_path / "killed"), "--no-progress",
                                  "--deterministic", "--no-final-eval", "--device", "cpu"),
                             env=_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert full.wait(timeout=300) == 0, full.stderr.read()
    for sub in ("checkpoint", "best"):
        a = ckpt.load_checkpoint(tmp_path / "full" / sub).model.state_dict()
        b = ckpt.load_checkpoint(tmp_path / "killed" / sub).model.state_dict()
        for name in a:
            assert torch.equal(a[name], b[name]), f"{sub}/{name} differs after resume"
    la = [m for m in _metrics(tmp_path / "full") if m["event"] == "epoch"]
    lb = [m for m in _metrics(tmp_path / "killed") if m["event"] == "epoch"]
    assert [m["valid_ppl"] for m in la] == [m["valid_ppl"] for m in lb]


def test_sigint_saves_a_checkpoint_before_exiting(tmp_path):
    data = write_toy_dir(tmp_path / "data", n_train=150, n_eval=20)
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli("train", "--data", str(data), "--out", str(out), "--preset", "tiny",
                                 "--epochs", "3", "--no-progress", "--no-final-eval",
                                 "--checkpoint-every", "3", "--sleep-per-step", "0.05",
                                 "--device", "cpu"),
                            env=_env(), stderr=subprocess.PIPE, text=True)
    _wait_for(proc, out, lambda s: s["step"] >= 3)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    err = proc.stderr.read()
    assert "resume with: seqlm train --resume" in err
    last = _metrics(out)[-1]
    assert last["event"] == "interrupted"
    assert ckpt.load_checkpoint(out / "checkpoint").trainer_state["step"] == last["step"]


def test_cli_rejects_bad_settings_with_one_line(tmp_path):
    data = write_toy_dir(tmp_path / "data", n_train=20, n_eval=5)
    r = subprocess.run(_cli("train", "--data", str(data), "--out", str(tmp_path / "o"), "--preset",
                            "tiny", "--hidden", "20", "--embed", "16", "--tie-weights"),
                       env=_env(), capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "seqlm train: error: tie_weights needs hidden_size == embed_size, got hidden_size=20 and embed_size=16"]
    r = subprocess.run(_cli("train", "--data", str(data), "--out", str(tmp_path / "o"), "--preset", "nope"),
                       env=_env(), capture_output=True, text=True)
    assert r.returncode == 2 and "unknown preset 'nope'" in r.stderr


def test_the_trainer_trains_any_lm_protocol_model(tmp_path, corpus):
    cfg = {"kind": "ffnn", "vocab_size": len(corpus.vocab), "context": 3, "embed_size": 8,
           "hidden_size": 16}
    tc = TrainConfig(epochs=2, batch_size=4, bptt=8, lr=0.5, checkpoint_every=7, schedule="constant",
                     precision="fp32")
    r = train(corpus, cfg, tc, tmp_path, seed=0, progress=False, device="cpu")
    ck = ckpt.load_checkpoint(tmp_path / "checkpoint")
    assert ck.model_config["kind"] == "ffnn" and ck.trainer_state["epoch"] == 2
    assert r.history[-1]["valid_ppl"] < len(corpus.vocab)


def _settings_from_args(args):
    from seqlm.train.settings import flag_values, resolve
    s = resolve(args.preset, args.config, flag_values(args), args.seed)
    return s.model, s.train, s.seed


def test_settings_layer_preset_then_toml_then_flags(tmp_path):
    from seqlm.cli import build_parser
    settings_from_args = _settings_from_args
    toml = tmp_path / "run.toml"
    toml.write_text('preset = "zaremba-small"\nseed = 3\n[model]\ndropout = 0.2\n'
                    '[train]\nepochs = 6\nlr = 10.0\n')
    args = build_parser().parse_args(["train", "--config", str(toml), "--lr", "5", "--hidden", "300",
                                      "--embed", "300"])
    model, train_cfg, seed = settings_from_args(args)
    assert seed == 3
    assert model["cell"] == "lstm" and model["num_layers"] == 2        # preset
    assert model["dropout"] == 0.2 and train_cfg["epochs"] == 6       # TOML over preset
    assert train_cfg["lr"] == 5.0 and model["hidden_size"] == 300     # flags over TOML
    assert train_cfg["bptt"] == 20                                    # preset kept
    toml.write_text("[train]\nlearning_rate = 1.0\n")
    with pytest.raises(SeqlmError, match="unknown setting 'learning_rate'"):
        settings_from_args(build_parser().parse_args(["train", "--config", str(toml)]))


def test_early_stopping_after_epochs_without_improvement(tmp_path, corpus):
    # lr 1e-12 leaves every float32 weight unchanged, so validation never improves
    # after the first epoch: two bad epochs, then the run stops (not at epoch 10).
    tc = TrainConfig(epochs=10, batch_size=4, bptt=8, lr=1e-12, schedule="constant",
                     early_stopping=2, precision="fp32")
    r = train(corpus, tiny_model_config(len(corpus.vocab)), tc, tmp_path, seed=0, progress=False,
              device="cpu")
    records = _metrics(tmp_path)
    epochs = [m for m in records if m["event"] == "epoch"]
    assert [m["epoch"] for m in epochs] == [1, 2, 3]
    assert epochs[1]["valid_ppl"] == epochs[0]["valid_ppl"] == epochs[2]["valid_ppl"]
    assert records[-1]["event"] == "early_stop" and records[-1]["epoch"] == 3
    assert r.best_valid_ppl == epochs[0]["valid_ppl"]
