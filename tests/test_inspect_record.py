"""Recording every gate and state of a language model, held to the NumPy reference cells."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from inspect_helpers import reference_gates, reference_lookback

from seqlm.analysis.inspect import (Recording, context_starts, encode_text, gate_names, record,
                                    saturation, stream_inputs)
from seqlm.analysis.lookback import lookback
from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError
from seqlm.eval import score_tokens
from seqlm.lm.build import build_model

CASES = [("lstm", "fused", None), ("lstm", "explicit", None), ("gru", "explicit", "cho"),
         ("gru", "fused", "reset_after"), ("gru", "explicit", "reset_after"),
         ("rnn", "fused", None), ("rnn", "explicit", None)]
V = 17


def _model(cell, backend, variant, layers=2):
    cfg = {"kind": "rnn", "vocab_size": V, "cell": cell, "backend": backend, "variant": variant,
           "num_layers": layers, "embed_size": 6, "hidden_size": 5, "init": "uniform", "init_scale": 0.6}
    return build_model(cfg, seed=3).eval()


def _ids(n=40, seed=0):
    ids = np.random.default_rng(seed).integers(2, V, size=n)
    ids[[4, 5, 13, 27, n - 1]] = 1                      # sentences of 5, 1, 8, 14 and 12 tokens
    return ids


@pytest.mark.parametrize("cell,backend,variant", CASES)
@pytest.mark.parametrize("mode", ["sentence", "stream"])
def test_every_gate_equals_the_numpy_reference(cell, backend, variant, mode):
    model = _model(cell, backend, variant)
    ids = _ids()
    ref, ref_logp = reference_gates(model, ids, mode)
    rec64 = record(model, ids, mode, dtype=torch.float64, top_k=4)
    rec32 = record(model, ids, mode, batch_size=2)        # several sentence batches
    names = gate_names(cell, variant or model.rnn.variant)
    assert rec64.names == names and set(ref[0]) == set(names)
    for l in range(2):
        for n in names:
            np.testing.assert_allclose(rec64.gate(l, n), ref[l][n], atol=1e-12, err_msg=f"{l} {n}")
            np.testing.assert_allclose(rec32.gate(l, n), ref[l][n], atol=1e-5, err_msg=f"{l} {n}")
    if cell != "rnn":                                       # gates are not all alike or constant
        assert rec64.gate(0, names[0]).std() > 0.05
    tgt = ref_logp[np.arange(ids.size), ids]
    np.testing.assert_allclose(rec64.logprob, tgt, atol=1e-12)
    np.testing.assert_allclose(rec32.logprob, score_tokens(model, ids, mode), atol=1e-5)
    np.testing.assert_array_equal(rec64.top_ids, np.argsort(-ref_logp, axis=1, kind="stable")[:, :4])
    np.testing.assert_allclose(rec64.top_probs, np.exp(np.sort(ref_logp, 1)[:, ::-1][:, :4]), atol=1e-12)
    p = np.exp(ref_logp)
    np.testing.assert_allclose(rec64.entropy, -(p * ref_logp).sum(1), atol=1e-12)


def test_keep_a_subset_and_no_decoder():
    model = _model("lstm", "fused", None)
    rec = record(model, _ids(), keep=("c",), next_word=False)
    assert rec.names == ("c",) and set(rec.layers[1]) == {"c"} and rec.logprob is None
    full = record(model, _ids())
    np.testing.assert_array_equal(rec.gate(1, "c"), full.gate(1, "c"))
    with pytest.raises(SeqlmError, match="not recorded"):
        rec.gate(0, "h")
    with pytest.raises(SeqlmError, match="has no z"):
        record(model, _ids(), keep=("z",))
    with pytest.raises(SeqlmError, match="outside"):
        record(model, np.array([3, V]))
    ffnn = build_model({"kind": "ffnn", "vocab_size": V, "context": 2, "embed_size": 4, "hidden_size": 4})
    with pytest.raises(SeqlmError, match="recurrent language model"):
        record(ffnn, _ids())


def test_context_starts_and_inputs():
    ids = np.array([5, 6, 1, 7, 1, 8, 9, 1])
    np.testing.assert_array_equal(stream_inputs(ids), [1, 5, 6, 1, 7, 1, 8, 9])
    np.testing.assert_array_equal(context_starts(ids, "sentence"), [0, 0, 0, 3, 3, 5, 5, 5])
    np.testing.assert_array_equal(context_starts(ids, "stream"), np.zeros(8))


def test_encode_text_counts_unknown_words():
    vocab = Vocabulary(["<unk>", "<eos>", "the", "cat", "sees"])
    ids, toks, unk = encode_text(vocab, "the cat sees the dog\nthe bird\n\n")
    assert ids.tolist() == [2, 3, 4, 2, 0, 1, 2, 0, 1] and unk == ["dog", "bird"]
    assert toks == ["the", "cat", "sees", "the", "dog", "<eos>", "the", "bird", "<eos>"]
    chars = Vocabulary(["<unk>", "<eos>", "a", "b", " "], level="char")
    ids, _, unk = encode_text(chars, "ab ba\nc")
    assert ids.tolist() == [2, 3, 4, 3, 2, 1, 0, 1] and unk == ["c"]
    with pytest.raises(SeqlmError, match="empty"):
        encode_text(vocab, " \n\n")


def test_saturation_counts_by_hand():
    f = np.array([[0.05, 0.5], [0.95, 0.5], [0.99, 0.08], [0.5, 0.95]])   # (N=4, H=2)
    layer = {"f": f, "i": 1 - f, "o": np.full_like(f, 0.5)}
    rec = Recording("lstm", None, "stream", ("f", "i", "o"), [layer], np.zeros(4, int), np.zeros(4, int))
    sat = saturation(rec)
    left, right = sat.layers[0]["f"]
    np.testing.assert_allclose(left, [0.25, 0.25])
    np.testing.assert_allclose(right, [0.5, 0.25])
    rows = {r["gate"]: r for r in sat.rows()}
    assert rows["o"]["rarely_saturated"] == 2 and rows["o"]["mean_right"] == 0.0
    assert rows["f"]["mostly_right"] == 0 and rows["i"]["mean_left"] == pytest.approx(0.375)
    with pytest.raises(SeqlmError, match="no gates"):
        saturation(Recording("rnn", None, "stream", ("h",), [{"h": f}], np.zeros(4, int), np.zeros(4, int)))


@pytest.mark.parametrize("cell,backend,variant", [("lstm", "fused", None), ("gru", "explicit", "cho"),
                                                  ("gru", "fused", "reset_after"), ("rnn", "explicit", None)])
@pytest.mark.parametrize("mode", ["sentence", "stream"])
def test_lookback_equals_reference_bptt(cell, backend, variant, mode):
    model = _model(cell, backend, variant)
    ids = _ids(30)
    # max_lag 3 starts most columns inside their context, from the recorded state
    for max_lag, dtype, tol in ((3, torch.float64, 1e-10), (40, torch.float64, 1e-10), (3, torch.float32, 1e-4)):
        lb = lookback(model, ids, mode, max_lag=max_lag, dtype=dtype, batch_size=7)
        assert lb.norms.shape == (30, max_lag)
        for t in range(30):
            want = reference_lookback(model, ids, mode, t)[:max_lag]
            np.testing.assert_allclose(lb.norms[t, :want.size], want, rtol=tol, atol=tol * want.max())
            assert np.isnan(lb.norms[t, want.size:]).all()
    assert lb.counts()[0] == 30 and np.all(np.diff(lb.counts()) <= 0)
    assert np.isfinite(lb.mean()).all() and lb.median()[0] > 0
