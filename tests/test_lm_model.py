"""RNNLanguageModel: the LM protocol, weight tying, dropout placement, one step, flat graphs."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from seqlm.errors import SeqlmError
from seqlm.lm import RNNLanguageModel, RNNLMConfig, build_model, detach_state

V = 30


@pytest.mark.parametrize("cell,variant", [("rnn", None), ("lstm", None), ("gru", "cho"),
                                          ("gru", "reset_after")])
@pytest.mark.parametrize("backend", ["explicit", "fused"])
def test_protocol_shapes_and_state_carry(cell, variant, backend):
    if cell == "gru" and backend == "fused" and variant == "cho":
        with pytest.raises(SeqlmError, match="reset_after"):
            RNNLMConfig(vocab_size=V, cell=cell, variant=variant, backend=backend)
        return
    m = build_model(RNNLMConfig(vocab_size=V, cell=cell, variant=variant, backend=backend,
                                num_layers=2, embed_size=8, hidden_size=10), seed=0)
    x = torch.randint(0, V, (7, 3))
    logits, state = m(x, m.init_state(3))
    assert logits.shape == (7, 3, V)
    hs = state if isinstance(state, tuple) else (state,)
    assert all(h.shape == (2, 3, 10) for h in hs)
    # Running 7 steps at once == 3 steps then 4 steps with the state carried.
    a, s = m(x[:3], m.init_state(3))
    b, _ = m(x[3:], s)
    torch.testing.assert_close(torch.cat([a, b]), logits, rtol=1e-5, atol=1e-6)


def test_config_round_trips_through_json_and_seed_fixes_weights():
    cfg = RNNLMConfig(vocab_size=V, cell="gru", embed_size=8, hidden_size=8, tie_weights=True)
    d = json.loads(json.dumps(asdict(cfg)))
    m1, m2 = build_model(d, seed=3), build_model(cfg, seed=3)
    assert m1.config == cfg
    for (n, p), (_, q) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(p, q), n
    before = torch.get_rng_state()
    build_model(cfg, seed=4)
    assert torch.equal(before, torch.get_rng_state()), "build_model(seed=) must not touch global RNG"


def test_tying_shares_the_matrix_and_refuses_mismatched_sizes():
    m = RNNLanguageModel(RNNLMConfig(vocab_size=V, embed_size=8, hidden_size=8, tie_weights=True))
    assert m.decoder.weight is m.embedding.weight
    with pytest.raises(SeqlmError, match="tie_weights needs hidden_size == embed_size"):
        RNNLMConfig(vocab_size=V, embed_size=8, hidden_size=10, tie_weights=True)
    with pytest.raises(SeqlmError, match="cell must be one of rnn, lstm, gru, got .transformer."):
        RNNLMConfig(vocab_size=V, cell="transformer")
    with pytest.raises(SeqlmError, match="unknown field"):
        build_model({"kind": "rnn", "vocab_size": V, "hiden_size": 3})


def test_dropout_only_in_training_mode():
    m = build_model(RNNLMConfig(vocab_size=V, embed_size=8, hidden_size=8, dropout=0.5), seed=0)
    x = torch.randint(0, V, (5, 2))
    m.eval()
    a, _ = m(x, None)
    b, _ = m(x, None)
    assert torch.equal(a, b)
    m.train()
    c, _ = m(x, None)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("tie", [False, True])
def test_one_optimisation_step_changes_every_trainable_parameter(tie):
    m = build_model(RNNLMConfig(vocab_size=V, num_layers=2, embed_size=8, hidden_size=8,
                                tie_weights=tie), seed=0)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    # every word appears as input so every embedding row gets a gradient
    x = torch.arange(V).view(V, 1).repeat(1, 2)
    y = torch.roll(x, -1, 0)
    logits, _ = m(x, m.init_state(2))
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
    opt.step()
    for n, p in m.named_parameters():
        assert not torch.equal(before[n], p.detach()), f"{n} did not change"


def _graph_size(t: torch.Tensor) -> int:
    seen, stack = set(), [t.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(f for f, _ in fn.next_functions)
    return len(seen)


def test_trainer_graph_stays_flat_over_many_segments(tmp_path):
    from lm_helpers import tiny_model_config, toy_corpus

    from seqlm.train import TrainConfig, Trainer
    corpus = toy_corpus()
    sizes: dict[int, int] = {}
    hook = lambda step, loss: sizes.__setitem__(step, _graph_size(loss))  # noqa: E731
    tc = TrainConfig(epochs=1, batch_size=4, bptt=6, lr=1.0, clip=1.0, schedule="constant",
                     log_interval=1000)
    Trainer(corpus, tiny_model_config(len(corpus.vocab)), tc, tmp_path, seed=0, progress=False,
            device="cpu", step_hook=hook).fit()
    full = [s for k, s in sizes.items() if k < len(sizes)]  # the last segment may be shorter
    assert len(full) > 50
    assert len(set(full)) == 1, f"graph grows across segments: {sorted(set(full))}"


def test_detach_state_cuts_the_graph_but_keeps_values():
    m = build_model(RNNLMConfig(vocab_size=V, embed_size=8, hidden_size=8), seed=0)
    _, s = m(torch.randint(0, V, (4, 2)), None)
    d = detach_state(s)
    assert all(t.grad_fn is None and not t.requires_grad for t in d)
    assert all(torch.equal(a, b) for a, b in zip(s, d))


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_gru_variant_on_another_cell_is_refused(cell):
    with pytest.raises(SeqlmError, match="is a GRU setting"):
        RNNLMConfig(vocab_size=V, cell=cell, variant="cho")
