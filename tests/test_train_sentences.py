"""Training on independent sentences (``TrainConfig.unit = "sentence"``)."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from lm_helpers import tiny_model_config, toy_corpus

from seqlm.data.batching import sentence_batches, sentences
from seqlm.errors import SeqlmError
from seqlm.eval import evaluate
from seqlm.train import TrainConfig, load_model, train
from seqlm.train import checkpoint as ckpt

EOS = 1


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus(n_train=150, n_eval=20)


def test_every_token_is_a_target_exactly_once_per_epoch(corpus):
    batches = sentence_batches(corpus.train, 8, EOS, np.random.default_rng(0))
    targets = torch.cat([y[y != -100] for _, y in batches]).tolist()
    assert Counter(targets) == Counter(np.asarray(corpus.train).tolist())
    for x, y in batches:
        assert x.shape == y.shape and x.size(1) <= 8
        assert torch.all(x[0] == EOS)                      # every column starts at a sentence start
        real = y != -100
        assert torch.all(real[:, :].sum(0) >= 1)
        # a column is one sentence: its inputs are <eos> then its targets shifted by one
        for b in range(x.size(1)):
            n = int(real[:, b].sum())
            assert y[n - 1, b] == EOS and torch.equal(x[1:n, b], y[:n - 1, b])
    assert len(batches) == -(-len(sentences(corpus.train, EOS)) // 8)


def test_batches_are_a_function_of_the_rng_and_change_between_epochs(corpus):
    a = sentence_batches(corpus.train, 8, EOS, np.random.default_rng([0, 0]))
    b = sentence_batches(corpus.train, 8, EOS, np.random.default_rng([0, 0]))
    c = sentence_batches(corpus.train, 8, EOS, np.random.default_rng([0, 1]))
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, b))
    assert not all(x1.shape == x2.shape and torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, c))


def test_sentence_unit_trains_and_validates_in_sentence_mode(tmp_path, corpus):
    tc = TrainConfig(epochs=3, batch_size=8, lr=5e-3, optimizer="adamw", schedule="constant",
                     unit="sentence", clip=1.0, precision="fp32")
    r = train(corpus, tiny_model_config(len(corpus.vocab)), tc, tmp_path, seed=0, progress=False,
              device="cpu")
    epochs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()
              if json.loads(x)["event"] == "epoch"]
    assert epochs[-1]["valid_ppl"] < epochs[0]["valid_ppl"] < len(corpus.vocab)
    model, _ = load_model(tmp_path)
    # the validation perplexity that picked best/ is the sentence-mode one
    assert evaluate(model, corpus.valid, "sentence").ppl == pytest.approx(r.best_valid_ppl, rel=1e-9)
    # no hidden state is kept in the checkpoint: nothing is carried between batches
    assert not ckpt.load_checkpoint(tmp_path / "checkpoint").trainer_state["hidden"]


def test_resume_across_an_epoch_is_identical(tmp_path, corpus):
    def tc(epochs):
        return TrainConfig(epochs=epochs, batch_size=8, lr=1.0, schedule="constant",
                           unit="sentence", precision="fp32")
    mc = tiny_model_config(len(corpus.vocab), dropout=0.3, num_layers=2)
    train(corpus, mc, tc(2), tmp_path / "full", seed=3, progress=False, device="cpu")
    train(corpus, mc, tc(1), tmp_path / "part", seed=3, progress=False, device="cpu")
    train(corpus, mc, tc(2), tmp_path / "part", seed=3, progress=False, device="cpu",
          resume=tmp_path / "part")
    a = ckpt.load_checkpoint(tmp_path / "full" / "checkpoint").model.state_dict()
    b = ckpt.load_checkpoint(tmp_path / "part" / "checkpoint").model.state_dict()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_unknown_unit_is_refused():
    with pytest.raises(SeqlmError, match="unit must be one of stream, sentence, got 'words'"):
        TrainConfig(unit="words")
