"""`seqlm inspect` on trained checkpoints: inspect.json against the NumPy reference, the
self-contained page in headless Chromium, saturation and lookback over a split, the CLI."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require_tool
from inspect_helpers import reference_gates, reference_lookback

from seqlm.data import load_corpus
from seqlm.data.corpus import corpus_from_lines
from seqlm.data.synthetic import SyntheticConfig, write_corpus
from seqlm.lm.build import build_model
from seqlm.report.inspect import inspect_schema, inspect_split, inspect_text
from seqlm.train import TrainConfig, load_model, save_checkpoint, train

TEXT = "the teachers that the child helps see the dog\nthe robot near the zebras moves"
TRAINED = [("lstm", "fused", None), ("gru", "fused", "reset_after"), ("gru", "explicit", "cho"),
           ("rnn", "fused", None)]


def _train(corpus, out: Path, cell, backend, variant, data_source):
    model = {"kind": "rnn", "vocab_size": len(corpus.vocab), "cell": cell, "backend": backend,
             "variant": variant, "num_layers": 2 if cell == "lstm" else 1, "embed_size": 10,
             "hidden_size": 12, "init": "pytorch"}
    tc = TrainConfig(epochs=1, batch_size=16, unit="sentence", optimizer="adamw", lr=2e-2, clip=1.0,
                     schedule="constant", log_interval=10 ** 9, precision="fp32")
    train(corpus, model, tc, out_dir=out, seed=0, progress=False, device="cpu", data_source=data_source)
    return out


def _as_explicit(run: Path, out: Path) -> Path:
    """The same trained weights in an explicit-backend checkpoint (exact conversion)."""
    fused, vocab = load_model(run)
    cfg = {**vars(fused.config), "backend": "explicit"}
    model = build_model(cfg)
    model.load_state_dict({k: v for k, v in fused.state_dict().items() if not k.startswith("rnn.")}, strict=False)
    model.rnn.load_reference_params(fused.rnn.reference_params())
    return save_checkpoint(out, model, vocab, train_config={"unit": "sentence"},
                           extra={"seed": 0, "data": None})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("inspect")
    data = write_corpus(base / "syn", 0, SyntheticConfig(train_tokens=5000, valid_tokens=900,
                                                         test_tokens=900))
    corpus = load_corpus(str(data))
    out = {"data": data}
    for cell, backend, variant in TRAINED:
        out[f"{cell}-{backend}"] = _train(corpus, base / f"{cell}-{backend}", cell, backend, variant, str(data))
    for cell in ("lstm", "gru", "rnn"):
        out[f"{cell}-explicit-converted"] = _as_explicit(out[f"{cell}-fused"], base / f"{cell}-converted")
    lines = ["the cat sat on the mat", "a dog ran", "the cat ran to the dog"] * 20
    chars = corpus_from_lines({"train": lines, "valid": lines[:6], "test": lines[:6]}, "toy", level="char")
    out["char"] = _train(chars, base / "char", "lstm", "fused", None, None)
    torch.set_num_threads(threads)
    return out


CASES = ["lstm-fused", "lstm-explicit-converted", "gru-fused", "gru-explicit-converted",
         "gru-explicit", "rnn-fused", "rnn-explicit-converted"]


@pytest.mark.parametrize("name", CASES)
def test_inspect_json_equals_the_numpy_reference(runs, name, tmp_path):
    import jsonschema

    out = tmp_path / "out"
    inspect_text(runs[name], TEXT, out, max_lag=6, log=lambda m: None)
    doc = json.loads((out / "inspect.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, inspect_schema())
    model, vocab = load_model(runs[name])
    assert doc["model"]["backend"] == model.config.backend and doc["mode"] == "sentence"
    ids = np.array(doc["steps"]["target_id"])
    assert doc["text"]["unknown"] == 1 and doc["text"]["unknown_tokens"] == ["zebras"]
    assert vocab.decode(ids)[-2:] == ["moves", "<eos>"] and ids[-3] == vocab.unk_id
    ref, ref_logp = reference_gates(model, ids, "sentence")
    assert len(doc["layers"]) == model.config.num_layers
    for l, layer in enumerate(doc["layers"]):
        assert set(layer) == set(ref[l]) == set(doc["gates"])
        for g, values in layer.items():
            np.testing.assert_allclose(np.array(values), ref[l][g], atol=1e-5, rtol=0, err_msg=f"{l} {g}")
    np.testing.assert_allclose(doc["next"]["logprob"], ref_logp[np.arange(ids.size), ids], atol=1e-5)
    np.testing.assert_allclose(doc["next"]["p"], np.exp(ref_logp[np.arange(ids.size), ids]), atol=1e-5)
    for t, top in enumerate(doc["next"]["top"]):
        assert [vocab.index(w) for w, _ in top] == list(np.argsort(-ref_logp[t], kind="stable")[:5])
        np.testing.assert_allclose([p for _, p in top], np.sort(np.exp(ref_logp[t]))[::-1][:5], atol=1e-5)
    for t, norms in enumerate(doc["lookback"]["norms"]):
        want = reference_lookback(model, ids, "sentence", t)[:6]
        np.testing.assert_allclose(norms, want, rtol=1e-6, atol=1e-12)
    if name == "lstm-fused":
        assert (out / "heatmap_layer1.png").stat().st_size > 20_000 and (out / "heatmap_layer2.pdf").exists()
        assert json.loads((out / "inspect.schema.json").read_text()) == inspect_schema()


def _colours(png: Path) -> int:
    import matplotlib.image as mpimg
    img = mpimg.imread(png)[..., :3]
    return len(np.unique((img.reshape(-1, 3) * 255).round().astype(np.uint8), axis=0))


@pytest.mark.parametrize("name", ["lstm-fused", "char"])
def test_page_renders_in_chromium_and_fetches_nothing(runs, name, tmp_path):
    chromium = require_tool("chromium")
    text = "the cat ran to a dog\nthe mat" if name == "char" else TEXT
    inspect_text(runs[name], text, tmp_path, log=lambda m: None)
    page = (tmp_path / "inspect.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://|//cdn|<link\b|\bsrc\s*=|@import|url\(", page, re.I), "external reference"
    assert 'id="inspect-data"' in page and "</script>" not in page.split('id="inspect-data">')[1].split("</script>")[0]
    shot = tmp_path / "shot.png"
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                           "--window-size=1280,1800", (tmp_path / "inspect.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.exists(), proc.stderr[-2000:]
    # the coloured text, the heatmaps (viridis and red-blue) and the charts: hundreds of
    # colours; a page whose script failed shows its few CSS colours only
    assert _colours(shot) > 300


def test_char_model_reads_characters(runs, tmp_path):
    doc = inspect_text(runs["char"], "the cat\nxyz", tmp_path, log=lambda m: None)
    assert doc["model"]["level"] == "char"
    assert doc["steps"]["input"][:5] == ["<eos>", "t", "h", "e", " "]
    assert doc["text"]["unknown"] == 3 and doc["text"]["tokens"] == 12


def test_saturation_and_lookback_over_a_split(runs, tmp_path):
    ckpts = [runs["lstm-fused"], runs["gru-fused"], runs["rnn-fused"]]
    res = inspect_split(ckpts, "valid", tmp_path, max_lag=8, max_targets=300, log=lambda m: None)
    labels = [m["label"] for m in res["models"]]
    assert labels == ["LSTM 2×12", "GRU (reset-after) 1×12", "RNN 1×12"]
    lstm, gru, rnn = res["models"]
    assert {(r["layer"], r["gate"]) for r in lstm["saturation"]["rows"]} == \
        {(l, g) for l in (1, 2) for g in "fio"}
    assert [r["gate"] for r in gru["saturation"]["rows"]] == ["z", "r"] and "saturation" not in rnn
    for m in (lstm, gru):
        for layer in m["saturation"]["units"]:
            for fr in layer.values():
                left, right = np.array(fr["left"]), np.array(fr["right"])
                assert left.shape == (12,) and np.all((left >= 0) & (right >= 0) & (left + right <= 1))
    assert lstm["tokens"] == 900 and lstm["lookback"]["targets"] == 300
    mean = np.array(rnn["lookback"]["mean"], dtype=float)
    assert mean[0] > 0 and np.isfinite(mean[:4]).all()
    csv = (tmp_path / "saturation.csv").read_text().splitlines()
    assert csv[0].startswith("model,layer,gate") and len(csv) == 1 + 6 + 2
    assert "| LSTM 2×12 | 1 | f |" in (tmp_path / "saturation.md").read_text()
    for stem in ("saturation", "lookback"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 10_000 and (tmp_path / f"{stem}.pdf").exists()


def _seqlm(*args, **kw):
    return subprocess.run([sys.executable, "-m", "seqlm", "inspect", *map(str, args)],
                          capture_output=True, text=True, timeout=300, **kw)


def test_cli_text_file_and_one_line_errors(runs, tmp_path):
    f = tmp_path / "text.txt"
    f.write_text(TEXT + "\n", encoding="utf-8")
    ok = _seqlm("--checkpoint", runs["gru-explicit"], "--file", f, "--out", tmp_path / "o", "--max-lag", 5)
    assert ok.returncode == 0, ok.stderr
    assert "1 of 17 tokens are not in the model's vocabulary" in ok.stderr and "zebras" in ok.stderr
    assert "wrote" in ok.stdout and (tmp_path / "o" / "inspect.html").exists()
    for args, msg in [
        (["--checkpoint", tmp_path / "nope", "--text", "a", "--out", tmp_path / "x"], "not found"),
        (["--checkpoint", runs["gru-explicit"], "--out", tmp_path / "x"], "nothing to inspect"),
        (["--checkpoint", runs["gru-explicit"], "--checkpoint", runs["rnn-fused"], "--text", "the",
          "--out", tmp_path / "x"], "one --checkpoint"),
        (["--checkpoint", runs["gru-explicit"], "--text", "the cat", "--out", f], "not a directory"),
        (["--checkpoint", runs["char"], "--split", "valid", "--out", tmp_path / "x"], "--data"),
        (["--checkpoint", runs["gru-explicit"], "--text", " ", "--out", tmp_path / "x"], "empty"),
    ]:
        bad = _seqlm(*args)
        assert bad.returncode == 2, (args, bad.stderr)
        assert msg in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
