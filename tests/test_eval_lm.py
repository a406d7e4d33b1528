"""Neural-LM evaluation: every token once, stream vs sentence, independent of bptt / batch size."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqlm.data.batching import sentences
from seqlm.errors import SeqlmError
from seqlm.eval import evaluate, score_tokens
from seqlm.lm import RNNLMConfig, build_model

V, EOS = 20, 1


@pytest.fixture(scope="module")
def model():
    m = build_model(RNNLMConfig(vocab_size=V, cell="lstm", num_layers=2, embed_size=8,
                                hidden_size=8, init_scale=0.5), seed=0)
    return m.eval()


@pytest.fixture(scope="module")
def ids():
    rng = np.random.default_rng(0)
    ids = rng.integers(2, V, size=300)
    ids[rng.random(300) < 0.15] = EOS  # sentences of varied length
    ids[-1] = EOS
    return ids


def hand_rolled(model, ids, reset_at_sentences: bool) -> np.ndarray:
    """Token-by-token loop: input <eos> then w_1..w_{N-1}, float64 log-softmax."""
    out = []
    state = model.init_state(1)
    prev = EOS
    with torch.no_grad():
        for w in ids:
            logits, state = model(torch.tensor([[prev]]), state)
            out.append(torch.log_softmax(logits[0, 0].double(), -1)[w].item())
            prev = int(w)
            if reset_at_sentences and w == EOS:
                state = model.init_state(1)
    return np.array(out)


def test_stream_matches_hand_rolled_and_ignores_bptt(model, ids):
    ref = hand_rolled(model, ids, reset_at_sentences=False)
    a = score_tokens(model, ids, "stream", bptt=35)
    b = score_tokens(model, ids, "stream", bptt=7)
    assert a.dtype == np.float64 and a.shape == (len(ids),)
    np.testing.assert_allclose(a, ref, rtol=1e-5, atol=1e-6)
    assert evaluate(model, ids, "stream", bptt=35).ppl == pytest.approx(
        evaluate(model, ids, "stream", bptt=7).ppl, rel=1e-6)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_sentence_matches_hand_rolled_and_ignores_batch_size(model, ids):
    ref = hand_rolled(model, ids, reset_at_sentences=True)
    ppl = {}
    for bs in (1, 3, 16, 1000):
        lp = score_tokens(model, ids, "sentence", batch_size=bs, bptt=5)
        np.testing.assert_allclose(lp, ref, rtol=1e-5, atol=1e-6)
        ppl[bs] = evaluate(model, ids, "sentence", batch_size=bs).ppl
    assert max(ppl.values()) - min(ppl.values()) < 1e-6 * ppl[1]
    assert ppl[1] == pytest.approx(math.exp(-ref.mean()), rel=1e-6)


def test_modes_differ_and_every_token_is_counted_once(model, ids):
    s = evaluate(model, ids, "stream")
    t = evaluate(model, ids, "sentence")
    assert s.tokens == t.tokens == len(ids)
    assert s.mode == "stream" and t.mode == "sentence"
    assert s.ppl != t.ppl  # the state carried across sentences changes the scores
    # the first sentence starts from the same context in both modes
    n0 = len(sentences(ids, EOS)[0])
    np.testing.assert_allclose(score_tokens(model, ids, "stream")[:n0],
                               score_tokens(model, ids, "sentence")[:n0], rtol=1e-5)


def test_stream_with_batches_keeps_every_token(model, ids):
    lp = score_tokens(model, ids, "stream", batch_size=7)
    assert lp.shape == (len(ids),)
    ref = score_tokens(model, ids, "stream", batch_size=1)
    # column starts lose their history, everything else is the same computation
    assert np.isclose(lp, ref, rtol=1e-4).mean() > 0.5
    assert abs(math.log(evaluate(model, ids, "stream", 7).ppl / evaluate(model, ids, "stream", 1).ppl)) < 0.1


def test_bad_input_is_a_user_error(model):
    with pytest.raises(SeqlmError, match="empty"):
        score_tokens(model, np.array([], dtype=np.int64))
    with pytest.raises(SeqlmError, match="outside the model's vocabulary"):
        score_tokens(model, np.array([3, V + 5, 1]))
    with pytest.raises(SeqlmError, match="mode"):
        score_tokens(model, np.array([3, 1]), mode="bogus")
