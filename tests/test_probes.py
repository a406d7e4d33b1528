"""Linear probes: the math on planted features, a trained LSTM against the majority
baseline and its untrained control, and `seqlm probe`."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from seqlm.analysis.probes import probe_model, probe_states, summary_markdown
from seqlm.data.synthetic_features import TokenFeatures

pytestmark = pytest.mark.usefixtures("one_thread")


def _planted(n: int, seed: int):
    """10 noise units; unit 7 carries feature "a" (3 classes), feature "b" is noise."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, n)
    b = rng.choice(2, n, p=[0.7, 0.3])
    X = rng.normal(size=(n, 10))
    X[:, 7] = 2.0 * a + 0.3 * rng.normal(size=n)
    feats = TokenFeatures({"a": ("x", "y", "z"), "b": ("no", "yes")}, {"a": a, "b": b})
    return [{"h": X.astype(np.float32)}], feats


def test_probe_math_on_planted_features():
    fit_x, fit_f = _planted(3000, 0)
    ev_x, ev_f = _planted(2000, 1)
    a, b = probe_states(fit_x, ev_x, fit_f, ev_f)
    assert a.accuracy > 0.99 and a.unit == 7 and a.unit_accuracy > 0.99
    assert a.unit_means["x"] < a.unit_means["y"] < a.unit_means["z"]
    assert abs(a.majority - 1 / 3) < 0.05 and a.n_fit == 3000 and a.n_eval == 2000
    # Nothing to find: the probe is no better than always answering the majority class.
    assert b.majority_class == "no" and abs(b.majority - 0.7) < 0.03
    assert b.accuracy < b.majority + 0.02 and b.unit_accuracy < b.majority + 0.02


@pytest.fixture(scope="module")
def trained_lstm(tmp_path_factory):
    """A 1x32 LSTM LM trained for 300 steps on the default synthetic corpus (seconds)."""
    import torch

    from seqlm.data import load_corpus
    from seqlm.train import TrainConfig, train

    torch.set_num_threads(1)
    corpus = load_corpus("synthetic", seed=0)
    out = tmp_path_factory.mktemp("probe") / "lstm"
    cfg = dict(kind="rnn", vocab_size=len(corpus.vocab), cell="lstm", num_layers=1, embed_size=16,
               hidden_size=32, init="pytorch")
    train(corpus, cfg, TrainConfig(epochs=1, batch_size=16, bptt=20, optimizer="adamw", lr=1e-2,
                                   clip=1.0, max_steps=300, log_interval=10 ** 9),
          out_dir=out, seed=0, progress=False, data_source="synthetic")
    return out, corpus


def test_trained_lstm_holds_verb_number_linearly(trained_lstm):
    """verb_number is linearly decodable from a model near the oracle (where a verb may
    come, the singular and plural verbs' logits differ by a linear function of h_t):
    the trained LSTM's probe must beat the majority baseline by far, and its untrained
    control."""
    from seqlm.train import load_model

    path, corpus = trained_lstm
    model, _ = load_model(path)
    res = probe_model(model, corpus, "lstm", mode="stream")
    table = summary_markdown([res])
    best = max((s for s in res.scores if s.feature == "verb_number"), key=lambda s: s.accuracy)
    control = next(s for s in res.control if (s.feature, s.layer, s.state) == ("verb_number", 1, best.state))
    assert best.majority_class == "none" and 0.6 < best.majority < 0.72, table
    assert best.accuracy > best.majority + 0.2, table
    assert best.accuracy > control.accuracy + 0.03, table
    assert {s.state for s in res.scores} == {"h", "c"} and len(res.scores) == 8


def test_cli_probe(trained_lstm, tmp_path):
    path, _ = trained_lstm
    out = tmp_path / "p"
    proc = subprocess.run([sys.executable, "-m", "seqlm", "probe", "--checkpoint", str(path),
                           "--no-control", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "probe.json").read_text())
    assert data["kind"] == "seqlm-probes" and data["command"].startswith("seqlm probe --checkpoint")
    feats = [r["feature"] for r in data["summary"]]
    assert feats == ["topic", "subject_number", "verb_number", "pending_verbs"]
    assert all(r["control"] is None and r["accuracy"] >= r["majority"] for r in data["summary"])
    assert "| lstm | verb_number |" in (out / "probe.md").read_text()
    assert len((out / "probe.csv").read_text().splitlines()) == 1 + 8
    assert (out / "probe_accuracy.png").read_bytes().startswith(b"\x89PNG")
    bad = subprocess.run([sys.executable, "-m", "seqlm", "probe", "--checkpoint", str(path),
                          "--fit-split", "test", "--out", str(tmp_path / "bad")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and not (tmp_path / "bad").exists()
    assert len(bad.stderr.strip().splitlines()) == 1
