"""Generation and scoring with a trained checkpoint: determinism, OOV prompts, CLI output."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from lm_helpers import tiny_model_config, write_toy_dir

from seqlm.data import load_corpus
from seqlm.errors import SeqlmError
from seqlm.eval import score_tokens
from seqlm.lm.generate import encode_prompt, generate
from seqlm.train import TrainConfig, load_model, train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("gen")
    data = write_toy_dir(base / "data", n_train=150, n_eval=20)
    corpus = load_corpus(str(data))
    train(corpus, tiny_model_config(len(corpus.vocab)),
          TrainConfig(epochs=1, batch_size=4, bptt=8, lr=2.0, schedule="constant"),
          base / "run", seed=0, progress=False, device="cpu")
    return data, base / "run"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "seqlm", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")}, timeout=120)


def test_sampling_is_deterministic_and_logprob_is_the_models(run):
    model, vocab = load_model(run[1])
    prompt, oov = encode_prompt(vocab, "w3 w4")
    assert oov == []
    s1 = generate(model, prompt, 30, 1.0, None, torch.Generator().manual_seed(5))
    s2 = generate(model, prompt, 30, 1.0, None, torch.Generator().manual_seed(5))
    s3 = generate(model, prompt, 30, 1.0, None, torch.Generator().manual_seed(6))
    assert s1.ids == s2.ids and len(s1.ids) == 30
    assert s1.ids != s3.ids
    # the reported log-probability is what the evaluator gives the same tokens
    lp = score_tokens(model, np.array(prompt + s1.ids), "stream")
    assert s1.logprob == pytest.approx(lp[len(prompt):].sum(), rel=1e-5)


def test_greedy_and_top1_agree_and_stop_at_eos(run):
    model, vocab = load_model(run[1])
    prompt, _ = encode_prompt(vocab, "w5")
    g = generate(model, prompt, 20, 0.0, None, torch.Generator().manual_seed(1))
    k = generate(model, prompt, 20, 0.7, 1, torch.Generator().manual_seed(2))
    assert g.ids == k.ids
    e = generate(model, prompt, 200, 1.0, None, torch.Generator().manual_seed(0), stop_at_eos=True)
    assert e.ids[-1] == vocab.eos_id and vocab.eos_id not in e.ids[:-1]
    with pytest.raises(SeqlmError, match="temperature"):
        generate(model, prompt, 5, -1.0)


def test_generate_cli_is_repeatable_and_warns_on_oov(run):
    args = ("generate", "--checkpoint", str(run[1]), "--prompt", "w1 zebra w2", "--max-tokens", "12",
            "--seed", "4", "--top-k", "5")
    a, b = _cli(*args), _cli(*args)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert a.stdout.startswith("w1 <unk> w2 ")
    assert "1 prompt word(s) not in the vocabulary, read as <unk>: zebra" in a.stderr
    assert "log-probability of the 12 generated tokens" in a.stderr


def test_score_and_eval_cli_agree(run):
    data, out = run
    s = _cli("score", "--checkpoint", str(out), str(data / "test.txt"), "--json")
    assert s.returncode == 0, s.stderr
    js = json.loads(s.stdout)
    assert js["n_tokens"] == len(js["logprobs"]) == len(js["tokens"])
    assert js["total_logprob"] == pytest.approx(sum(js["logprobs"]))
    assert js["ppl"] == pytest.approx(math.exp(-js["total_logprob"] / js["n_tokens"]))
    e = _cli("eval", "--checkpoint", str(out), "--data", str(data), "--json")
    assert e.returncode == 0, e.stderr
    je = json.loads(e.stdout)
    assert {"valid_ppl", "test_ppl", "mode", "valid_tokens", "test_tokens"} <= set(je)
    assert je["mode"] == "stream" and je["test_tokens"] == js["n_tokens"]
    assert je["test_ppl"] == pytest.approx(js["ppl"], rel=1e-9)
    t = _cli("score", "--checkpoint", str(out), str(data / "test.txt"), "--tsv")
    lines = t.stdout.splitlines()
    assert lines[0] == "token\tlogprob_ln"  # the log base is in the header
    assert len(lines) == js["n_tokens"] + 1 and lines[1].split("\t")[0] == js["tokens"][0]


def test_eval_refuses_a_corpus_with_another_vocabulary(run, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    for split in ("train", "valid", "test"):
        (other / f"{split}.txt").write_text("a b c\nd e\n")
    r = _cli("eval", "--checkpoint", str(run[1]), "--data", str(other))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "vocabulary mismatch" in r.stderr
