"""Sampling text from a neural LM (any model implementing the LM protocol).

The prompt is read after the start-of-sentence context ``<eos>``, exactly as
in training and evaluation; then each next token is drawn from

    p_T(w) ∝ exp(z_w / T)   restricted to the k most likely words (top-k),

or taken greedily (argmax) when ``T = 0``. The reported log-probability is the
*model's* (untempered, untruncated) natural-log probability of the generated
tokens given the prompt, so samples drawn at different temperatures are scored
on the same scale.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError


@dataclass
class Sample:
    ids: list[int]              # the generated tokens (prompt excluded)
    logprobs: list[float]       # model log p of each generated token
    prompt_ids: list[int]

    @property
    def logprob(self) -> float:
        return float(np.sum(np.asarray(self.logprobs, dtype=np.float64)))


def encode_prompt(vocab: Vocabulary, text: str) -> tuple[list[int], list[str]]:
    """Prompt text → ids (each line ends with ``<eos>`` except the last, which is
    being continued) and the list of out-of-vocabulary words mapped to ``<unk>``."""
    lines = text.split("\n")
    ids: list[int] = []
    oov: list[str] = []
    for i, line in enumerate(lines):
        toks = vocab.tokenize(line)
        oov.extend(t for t in toks if t not in vocab)
        ids.extend(int(x) for x in vocab.encode(toks))
        if i < len(lines) - 1:
            ids.append(vocab.eos_id)
    return ids, oov


@torch.no_grad()
def generate(model: nn.Module, prompt_ids: list[int], max_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, generator: torch.Generator | None = None,
             stop_at_eos: bool = False, eos_id: int = 1, on_token=None) -> Sample:
    """Continue ``prompt_ids`` by up to ``max_tokens`` tokens (see module docstring).

    Randomness comes only from ``generator`` (a CPU ``torch.Generator``), so a
    fixed seed gives the same sample. ``on_token(id)`` is called as each token is
    drawn (a long sample can be shown while it grows).
    """
    if max_tokens < 0:
        raise SeqlmError(f"--max-tokens must be >= 0, got {max_tokens}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise SeqlmError(f"--temperature must be a finite number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise SeqlmError(f"--top-k must be >= 1, got {top_k}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        context = torch.tensor([eos_id] + list(prompt_ids), dtype=torch.long, device=device)
        logits, state = model(context.view(-1, 1), model.init_state(1, device))  # (T, 1, V)
        z = logits[-1, 0].float().cpu()                                           # (V,)
        out, lps = [], []
        for _ in range(max_tokens):
            logp = torch.log_softmax(z.double(), -1)
            if temperature == 0:
                w = int(torch.argmax(z))
            else:
                zz = z / temperature
                if top_k is not None and top_k < zz.numel():
                    kth = torch.topk(zz, top_k).values[-1]
                    zz = zz.masked_fill(zz < kth, float("-inf"))
                w = int(torch.multinomial(torch.softmax(zz.double(), -1), 1, generator=generator))
            out.append(w)
            lps.append(float(logp[w]))
            if on_token is not None:
                on_token(w)
            if stop_at_eos and w == eos_id:
                break
            logits, state = model(torch.tensor([[w]], device=device), state)
            z = logits[-1, 0].float().cpu()
        return Sample(out, lps, list(prompt_ids))
    finally:
        model.train(was_training)
