"""The Bengio et al. (2003) feed-forward LM: its window, its state, its protocol."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from seqlm.errors import SeqlmError
from seqlm.lm import build_model
from seqlm.lm.ffnn import FFNNConfig, FFNNLanguageModel

V = 23


def make(context=3, direct=False, seed=0, **kw) -> FFNNLanguageModel:
    cfg = FFNNConfig(vocab_size=V, context=context, embed_size=5, hidden_size=7, direct=direct, **kw)
    model = build_model(cfg, seed=seed)
    model.eval()
    return model


def rand_ids(T, B, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(2, V, (T, B), generator=g)


@pytest.mark.parametrize("context", [1, 2, 4])
@pytest.mark.parametrize("direct", [False, True])
def test_window_is_exactly_n_minus_1_tokens(context, direct):
    """Changing the token n positions back leaves the prediction unchanged; n-1 back changes it."""
    model = make(context, direct)
    x = rand_ids(12, 2)
    t = 9
    logits, _ = model(x, None)
    far = x.clone()
    far[t - context, 0] = (far[t - context, 0] + 1 - 2) % (V - 2) + 2   # just outside the window
    near = x.clone()
    near[t - context + 1, 0] = (near[t - context + 1, 0] + 1 - 2) % (V - 2) + 2  # oldest in it
    with torch.no_grad():
        lf, _ = model(far, None)
        ln, _ = model(near, None)
    assert torch.equal(lf[t], logits[t])
    assert not torch.allclose(ln[t, 0], logits[t, 0])
    assert torch.equal(ln[t, 1], logits[t, 1])  # columns are independent


@pytest.mark.parametrize("context", [1, 2, 5])
def test_state_carry_equals_one_long_segment(context):
    model = make(context)
    x = rand_ids(20, 3)
    with torch.no_grad():
        whole, s_whole = model(x, model.init_state(3))
        parts, state = [], model.init_state(3)
        for a, b in ((0, 1), (1, 4), (4, 11), (11, 20)):   # segments shorter than the window too
            lg, state = model(x[a:b], state)
            parts.append(lg)
    # same windows, same weights; only the GEMM blocking of differently sized segments differs
    torch.testing.assert_close(torch.cat(parts), whole, rtol=1e-6, atol=1e-6)
    assert torch.equal(state, s_whole)
    assert state.shape == (3, context - 1)
    if context > 1:
        assert torch.equal(state, x[-(context - 1):].t())


def test_initial_state_is_eos_padding():
    """The first window of a stream/sentence is <eos> padding, like an n-gram's <s> context."""
    model = make(context=3)
    s = model.init_state(2)
    assert s.dtype == torch.long and s.shape == (2, 2) and bool((s == 1).all())
    x = rand_ids(4, 2)
    with torch.no_grad():
        a, _ = model(x, None)
        padded = torch.cat([torch.ones(2, 2, dtype=torch.long), x])   # explicit <eos> <eos> prefix
        b, _ = model(padded, torch.full((2, 2), 7, dtype=torch.long))  # any state: it is pushed out
    assert torch.allclose(a, b[2:], atol=1e-6)


def test_sentence_mode_equals_per_sentence_padding():
    """seqlm.eval's sentence mode scores every sentence from the <eos> padding alone."""
    from seqlm.eval import score_tokens
    model = make(context=3)
    rng = np.random.default_rng(0)
    sents = [np.append(rng.integers(2, V, size=n), 1) for n in (3, 1, 6, 2)]
    ids = np.concatenate(sents)
    got = score_tokens(model, ids, mode="sentence", batch_size=3)
    want = []
    with torch.no_grad():
        for s in sents:
            inputs = torch.as_tensor(np.concatenate([[1], s[:-1]])).view(-1, 1)
            logits, _ = model(inputs, model.init_state(1))
            lp = torch.log_softmax(logits.double(), -1)[:, 0]
            want.extend(lp[torch.arange(len(s)), torch.as_tensor(s)].tolist())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    stream = score_tokens(model, ids, mode="stream")
    assert not np.allclose(stream, got)   # stream mode does see across sentence ends


def test_probabilities_normalise_and_gradients_reach_every_parameter():
    model = make(context=2, direct=True)
    model.train()
    x = rand_ids(6, 2)
    logits, _ = model(x, None)
    total = torch.logsumexp(torch.log_softmax(logits.double(), -1), -1)
    assert torch.allclose(total, torch.zeros_like(total), atol=1e-9)
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), rand_ids(6, 2, seed=3).flatten()).backward()
    # the direct weights start at zero; all get a gradient
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_parameter_count_matches_bengio_formula():
    c = FFNNConfig(vocab_size=V, context=3, embed_size=5, hidden_size=7, direct=True)
    m = FFNNLanguageModel(c)
    # |V| m  +  h (1 + (n-1) m)  +  |V| (1 + h + (n-1) m)   (Bengio et al. 2003, sec. 2)
    n1, D, H = 3, 5, 7
    assert m.num_parameters() == V * D + H * (1 + n1 * D) + V * (1 + H + n1 * D)


def test_config_round_trip_and_errors():
    c = FFNNConfig(vocab_size=V, context=2)
    m = build_model(dataclasses.asdict(c), seed=1)
    assert isinstance(m, FFNNLanguageModel) and m.config == c
    m2 = build_model(dataclasses.asdict(c), seed=1)
    for a, b in zip(m.parameters(), m2.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(SeqlmError, match="context"):
        FFNNConfig(vocab_size=V, context=0)
    with pytest.raises(SeqlmError, match="unknown field"):
        build_model({"kind": "ffnn", "vocab_size": V, "cell": "lstm"})
    with pytest.raises(SeqlmError, match="state has shape"):
        m(rand_ids(3, 2), torch.ones(2, 5, dtype=torch.long))


def test_trains_with_the_shared_trainer(tmp_path):
    """The LM helper's trainer, checkpoints and evaluator work unchanged (TBPTT over windows)."""
    from seqlm.data import load_corpus
    from seqlm.eval import evaluate
    from seqlm.train import TrainConfig, load_model, train
    corpus = load_corpus("synthetic", seed=0)
    small = type(corpus)(corpus.vocab, corpus.train[:6000], corpus.valid[:1500], corpus.test[:1500])
    cfg = FFNNConfig(vocab_size=len(corpus.vocab), context=2, embed_size=16, hidden_size=32)
    tc = TrainConfig(epochs=2, batch_size=8, bptt=16, optimizer="adamw", lr=3e-3, clip=1.0,
                     schedule="constant", log_interval=1000, valid_batch_size=4)
    res = train(small, cfg, tc, out_dir=tmp_path / "run", seed=0, progress=False, device="cpu")
    assert res.epochs == 2 and math.isfinite(res.best_valid_ppl)
    assert res.history[1]["valid_ppl"] < len(corpus.vocab)   # learned something beyond uniform
    model, vocab = load_model(tmp_path / "run")
    assert isinstance(model, FFNNLanguageModel) and vocab == corpus.vocab
    ev = evaluate(model, small.valid, "stream")
    assert ev.ppl == pytest.approx(res.best_valid_ppl, rel=2e-3)


def test_mid_epoch_resume_is_bitwise_identical(tmp_path):
    """The (B, n-2) token state goes through the trainer's checkpoint and comes back."""
    from seqlm.data import load_corpus
    from seqlm.train import TrainConfig, load_checkpoint, train
    c = load_corpus("synthetic", train_tokens=6000, valid_tokens=1000, test_tokens=1000)
    cfg = FFNNConfig(vocab_size=len(c.vocab), context=3, embed_size=8, hidden_size=16)
    base = dict(epochs=1, batch_size=8, bptt=16, optimizer="adamw", lr=3e-3, schedule="constant",
                log_interval=1000, valid_batch_size=4)
    kw = dict(seed=0, progress=False, device="cpu")
    train(c, cfg, TrainConfig(**base), out_dir=tmp_path / "full", **kw)
    train(c, cfg, TrainConfig(**base, checkpoint_every=5, max_steps=7), out_dir=tmp_path / "part", **kw)
    st = load_checkpoint(tmp_path / "part", prefer="checkpoint").trainer_state
    assert st["step"] == 7 and st["segment"] == 7                    # saved mid-epoch, at the stop
    assert [t.dtype for t in st["hidden"]] == [torch.long]            # the window state
    train(c, cfg, TrainConfig(**base, checkpoint_every=5), out_dir=tmp_path / "part",
          resume=tmp_path / "part", **kw)
    a = load_checkpoint(tmp_path / "full", prefer="checkpoint").model.state_dict()
    b = load_checkpoint(tmp_path / "part", prefer="checkpoint").model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_tied_output_is_the_embedding_and_survives_a_checkpoint(tmp_path):
    from seqlm.data.vocab import Vocabulary
    from seqlm.train import checkpoint as ckpt

    cfg = FFNNConfig(vocab_size=V, context=3, embed_size=6, hidden_size=6, tie_weights=True)
    model = build_model(cfg, seed=0)
    untied = build_model(dataclasses.replace(cfg, tie_weights=False), seed=0)
    assert model.decoder.weight is model.embedding.weight
    assert model.num_parameters() == untied.num_parameters() - V * 6
    # a gradient step moves the one matrix through both of its uses
    x = rand_ids(5, 2)
    model(x, None)[0].logsumexp(-1).sum().backward()
    g_both = model.embedding.weight.grad.clone()
    model.zero_grad()
    model.decoder.weight = torch.nn.Parameter(model.embedding.weight.detach().clone())
    model(x, None)[0].logsumexp(-1).sum().backward()
    assert not torch.allclose(g_both, model.embedding.weight.grad)
    assert torch.allclose(g_both, model.embedding.weight.grad + model.decoder.weight.grad, atol=1e-6)

    tied = build_model(cfg, seed=0).eval()
    vocab = Vocabulary(["<unk>", "<eos>"] + [f"w{i}" for i in range(V - 2)])
    ckpt.save_checkpoint(tmp_path / "c", tied, vocab)
    loaded = ckpt.load_checkpoint(tmp_path / "c").model.eval()
    assert loaded.decoder.weight is loaded.embedding.weight
    assert torch.equal(loaded(x, None)[0], tied(x, None)[0])


def test_tying_needs_equal_sizes():
    with pytest.raises(SeqlmError, match="hidden_size == embed_size"):
        FFNNConfig(vocab_size=V, embed_size=5, hidden_size=7, tie_weights=True)
