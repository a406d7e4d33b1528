"""Training throughput of the zaremba-small LM (2x200 LSTM, bptt 20, batch 20) on PTB.

Side by side, in one process, over the same batches:

* ``reference``      the pytorch/examples word_language_model design: nn.Embedding →
                     nn.LSTM → nn.Linear, hand-written SGD, torch's clip_grad_norm_;
* ``seqlm fused``    seqlm's trainer, fused backend (nn.LSTM / oneDNN / cuDNN), fp32;
* ``seqlm explicit`` seqlm's trainer, the explicit (book-equation) backend, fp32;
* ``seqlm bf16``     fused backend under bf16 autocast (where the device supports it);
* ``seqlm default``  exactly what ``seqlm train --preset zaremba-small`` runs.

It also measures the share of a reference step spent in the 10k-way output
layer (decoder + log-softmax + NLL, forward and backward).

    python benchmarks/ptb_lm.py [--quick] [--json FILE] [--data DIR] [--device cpu|cuda]

Quality (a full 13-epoch run) is not measured here: see docs/benchmarks/ptb_lm.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]


def find_ptb(arg: str | None) -> str:
    """``--data`` as given, else PTB from $SEQLM_DATA or ../shared/data, else the synthetic corpus."""
    if arg:
        return arg
    for cand in (os.environ.get("SEQLM_DATA") and str(Path(os.environ["SEQLM_DATA"]) / "ptb"),
                 str(REPO.parent / "shared" / "data" / "ptb")):
        if cand and (Path(cand) / "ptb.train.txt").exists():
            return cand
    return "synthetic"


class ReferenceLM(nn.Module):
    """pytorch/examples word_language_model RNNModel (LSTM, untied, no dropout)."""

    def __init__(self, ntoken: int, ninp: int = 200, nhid: int = 200, nlayers: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return self.decoder(self.drop(out)), hidden


def reference_tokens_per_s(corpus, steps: int, warmup: int, device, pre: dict) -> tuple[float, float]:
    """(tokens/s, decoder share of a step) for the pytorch/examples loop."""
    from seqlm.data.batching import lm_batches
    torch.manual_seed(0)
    V, H, L, B, T = (len(corpus.vocab), pre["hidden_size"], pre["num_layers"], pre["batch_size"],
                     pre["bptt"])
    model = ReferenceLM(V, H, H, L, pre["dropout"]).to(device)
    inputs, targets, _ = lm_batches(corpus.train, B, corpus.vocab.eos_id)
    inputs, targets = inputs.to(device), targets.to(device)
    h = (torch.zeros(L, B, H, device=device), torch.zeros(L, B, H, device=device))
    lr, t0 = 20.0, None
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        x, y = inputs[i * T:(i + 1) * T], targets[i * T:(i + 1) * T]
        h = tuple(t.detach() for t in h)
        model.zero_grad()
        out, h = model(x, h)
        loss = F.cross_entropy(out.view(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
    sync(device)
    tps = steps * T * B / (time.perf_counter() - t0)
    # The output layer's share: full forward+backward vs decoder + cross-entropy
    # alone on the same shapes, interleaved step by step so that a change in the
    # machine's load hits both equally; median of the ratios.
    hid = torch.randn(T, B, H, device=device, requires_grad=True)
    x, y = inputs[:T], targets[:T].reshape(-1)
    ratios = []
    for i in range(warmup + steps):
        sync(device)
        ta = time.perf_counter()
        model.zero_grad()
        out, _ = model(x, None)
        F.cross_entropy(out.view(-1, V), y).backward()
        sync(device)
        tb = time.perf_counter()
        model.zero_grad()
        F.cross_entropy(model.decoder(hid).view(-1, V), y).backward()
        sync(device)
        tc = time.perf_counter()
        if i >= warmup:
            ratios.append((tc - tb) / (tb - ta))
    ratios.sort()
    return tps, ratios[len(ratios) // 2]


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def seqlm_tokens_per_s(corpus, steps: int, warmup: int, device, preset_name: str,
                       **overrides) -> tuple[float, str]:
    """tokens/s of seqlm's trainer over ``steps`` steps after ``warmup`` (from its metrics)."""
    from seqlm.train import TrainConfig
    from seqlm.train.config import preset
    from seqlm.train.settings import split
    model_cfg, train_cfg = split({**preset(preset_name), **overrides})
    train_cfg.update(max_steps=warmup + steps, log_interval=warmup if warmup else steps)
    with tempfile.TemporaryDirectory() as out:
        recs = []
        tc = TrainConfig(**train_cfg)
        from seqlm.train.trainer import Trainer
        tr = Trainer(corpus, model_cfg, tc, out, seed=0, device=device.type, progress=False,
                     callback=lambda r: recs.append(r) if r.get("event") == "train" else None)
        tr.fit()
        timed = recs[1:] if warmup else recs  # equal-sized intervals after the warm-up one
        return sum(r["tokens_per_s"] for r in timed) / len(timed), tr.precision


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps (about a minute on 2 cores)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--data", help="PTB directory (default: $SEQLM_DATA/ptb or ../shared/data/ptb)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--rounds", type=int, default=None, help="repeat every variant, keep the best")
    p.add_argument("--preset", default="zaremba-small", help="zaremba-small (default) or zaremba-medium")
    a = p.parse_args(argv)
    from seqlm.data import load_corpus
    from seqlm.train.devices import bf16_supported, resolve_device
    device = resolve_device(a.device)
    source = find_ptb(a.data)
    corpus = load_corpus(source)
    warmup = 10
    steps = a.steps or (40 if a.quick else 200)
    steps = -(-steps // warmup) * warmup  # whole logging intervals of `warmup` steps
    rounds = a.rounds or (1 if a.quick else 2)
    variants = {"seqlm fused fp32": dict(backend="fused", precision="fp32"),
                "seqlm explicit fp32": dict(backend="explicit", precision="fp32")}
    if bf16_supported(device):
        variants["seqlm fused bf16"] = dict(backend="fused", precision="bf16")
    variants[f"seqlm default (preset {a.preset})"] = {}
    from seqlm.train.config import preset
    pre = preset(a.preset)
    best: dict[str, float] = {}
    precision: dict[str, str] = {}
    dec_share = math.nan
    for r in range(rounds):
        tps, share = reference_tokens_per_s(corpus, steps, warmup, device, pre)
        best["reference (pytorch/examples)"] = max(best.get("reference (pytorch/examples)", 0), tps)
        dec_share = share if r == 0 else (dec_share + share) / 2
        precision["reference (pytorch/examples)"] = "fp32"
        for name, over in variants.items():
            tps, prec = seqlm_tokens_per_s(corpus, steps, warmup, device, a.preset, **over)
            best[name] = max(best.get(name, 0), tps)
            precision[name] = prec
    ref = best["reference (pytorch/examples)"]
    rows = [{"variant": k, "precision": precision[k], "tokens_per_s": v, "vs_reference": v / ref}
            for k, v in best.items()]
    print(f"{a.preset} training throughput on {source} ({device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {steps} steps x {rounds} rounds, best of rounds)")
    print(f"{'variant':40s} {'precision':>9s} {'tokens/s':>10s} {'vs ref':>7s}")
    for row in rows:
        print(f"{row['variant']:40s} {row['precision']:>9s} {row['tokens_per_s']:10.0f} "
              f"{row['vs_reference']:6.2f}x")
    print(f"output layer (decoder + cross-entropy, fwd+bwd) share of the reference forward+backward: "
          f"{dec_share:.0%}")
    if a.json:
        result = {"preset": a.preset, "data": source, "device": str(device), "torch": torch.__version__,
                  "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
                  "steps": steps, "rounds": rounds, "rows": rows, "decoder_share": dec_share}
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
