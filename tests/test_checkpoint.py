"""Checkpoints: round trip, safe loading, refusal of mismatched or corrupt checkpoints."""
from __future__ import annotations

import json

import pytest
import torch
from lm_helpers import tiny_model_config, toy_corpus

from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError
from seqlm.lm import build_model
from seqlm.train import checkpoint as ckpt


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus()


@pytest.mark.parametrize("tie", [False, True])
def test_round_trip_keeps_weights_config_vocab_and_state(tmp_path, corpus, tie):
    cfg = tiny_model_config(len(corpus.vocab), tie_weights=tie, cell="gru", backend="explicit")
    model = build_model(cfg, seed=1)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randint(0, len(corpus.vocab), (3, 2)), None)[0].sum().backward()
    opt.step()
    state = {"step": 7, "optimizer": opt.state_dict(), "rng": ckpt.snapshot_rng()}
    ckpt.save_checkpoint(tmp_path / "c", model, corpus.vocab, {"lr": 1.0}, state)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "config.json", "model.safetensors", "trainer_state.json", "trainer_state.safetensors",
        "vocab.json"]
    conf = json.loads((tmp_path / "c" / "config.json").read_text())
    assert conf["schema_version"] == ckpt.SCHEMA_VERSION and conf["model"]["cell"] == "gru"
    ck = ckpt.load_checkpoint(tmp_path / "c")
    assert ck.vocab == corpus.vocab and ck.train_config == {"lr": 1.0}
    for (n, p), (_, q) in zip(model.state_dict().items(), ck.model.state_dict().items()):
        assert torch.equal(p, q), n
    if tie:
        assert ck.model.decoder.weight is ck.model.embedding.weight
    assert ck.trainer_state["step"] == 7
    opt2 = torch.optim.AdamW(ck.model.parameters())
    opt2.load_state_dict(ck.trainer_state["optimizer"])
    # and nothing in the checkpoint is a pickle: every file is JSON or safetensors
    for f in (tmp_path / "c").iterdir():
        head = f.read_bytes()[:2]
        assert head[:1] != b"\x80" and not head.startswith(b"PK"), f"{f.name} looks like a pickle"
    json.loads((tmp_path / "c" / "trainer_state.json").read_text())


def test_mismatched_vocabulary_and_config_are_refused(tmp_path, corpus):
    cfg = tiny_model_config(len(corpus.vocab))
    ckpt.save_checkpoint(tmp_path / "c", build_model(cfg, seed=0), corpus.vocab)
    ck = ckpt.load_checkpoint(tmp_path / "c")
    other = Vocabulary(list(corpus.vocab.tokens[:-1]) + ["zebra"])
    with pytest.raises(SeqlmError, match=r"vocabulary differs.*token \d+ differs \('w\d+' vs 'zebra'\)"):
        ckpt.check_compatible(ck, vocab=other)
    with pytest.raises(SeqlmError, match=r"model config differs.*hidden_size=12 in the checkpoint vs 32"):
        ckpt.check_compatible(ck, model_config={**ck.model_config, "hidden_size": 32})
    ckpt.check_compatible(ck, vocab=corpus.vocab, model_config=dict(ck.model_config))


@pytest.mark.parametrize("damage", ["weights", "config", "missing", "state", "schema"])
def test_corrupt_checkpoint_is_one_line_error(tmp_path, corpus, damage):
    model = build_model(tiny_model_config(len(corpus.vocab)), seed=0)
    d = ckpt.save_checkpoint(tmp_path / "c", model, corpus.vocab, trainer_state={"step": 1})
    if damage == "weights":
        data = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif damage == "config":
        (d / "config.json").write_text("{not json")
    elif damage == "missing":
        (d / "vocab.json").unlink()
    elif damage == "state":
        (d / "trainer_state.safetensors").write_bytes(b"garbage")
    else:
        conf = json.loads((d / "config.json").read_text())
        conf["schema_version"] = 99
        (d / "config.json").write_text(json.dumps(conf))
    with pytest.raises(SeqlmError) as e:
        ckpt.load_checkpoint(d)
    assert "\n" not in str(e.value) and str(d) in str(e.value)


def test_run_directory_resolution(tmp_path, corpus):
    model = build_model(tiny_model_config(len(corpus.vocab)), seed=0)
    ckpt.save_checkpoint(tmp_path / "run" / "best", model, corpus.vocab)
    ckpt.save_checkpoint(tmp_path / "run" / "checkpoint", model, corpus.vocab, trainer_state={"step": 0})
    assert ckpt.resolve(tmp_path / "run") == tmp_path / "run" / "best"
    assert ckpt.resolve(tmp_path / "run", prefer="checkpoint") == tmp_path / "run" / "checkpoint"
    with pytest.raises(SeqlmError, match="not found"):
        ckpt.resolve(tmp_path / "nope")
    with pytest.raises(SeqlmError, match="not a seqlm checkpoint"):
        ckpt.resolve(tmp_path)


def test_cuda_saved_checkpoint_loads_on_cpu(tmp_path, corpus):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model = build_model(tiny_model_config(len(corpus.vocab)), seed=0).cuda()
    ckpt.save_checkpoint(tmp_path / "c", model, corpus.vocab)
    m, _ = ckpt.load_model(tmp_path / "c")
    assert next(m.parameters()).device.type == "cpu"
