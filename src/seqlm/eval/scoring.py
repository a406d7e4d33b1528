"""Per-token log-probabilities from a neural LM, and perplexity from them.

Every model answers one question: the natural-log probability of every token
of an id stream, ``<eos>`` included, each exactly once. Perplexity is then
computed only by :func:`seqlm.metrics.summarize`. Two ways to run the model:

``stream``
    The state is carried across sentence boundaries, as in training: the
    first word of a sentence is predicted from ``<eos>`` *and* everything
    before it. With ``batch_size=1`` (the default, the PTB literature's
    convention) the whole split is one stream. With ``B > 1`` the stream is
    cut into B contiguous columns (padded, masked; nothing dropped) and each
    column starts from a zero state, so B-1 positions lose their history: the
    perplexity moves slightly with B (typically well under 1% on PTB with
    B = 10). It never depends on ``bptt``: segments only bound memory.

``sentence``
    The state is reset at every sentence: each sentence is predicted from the
    start-of-sentence context ``<eos>`` alone — the apples-to-apples
    comparison with n-gram models. Sentences are sorted by length and packed
    into padded batches; a recurrent model is causal, so padding *after* a
    sentence cannot change its scores and the result does not depend on the
    batch size (up to float rounding in batched matrix products).

Logits and log-softmax run in the model's precision (float32, or bf16 under
autocast, then upcast to float32 for the log-softmax); the log-probabilities
are accumulated in float64.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from seqlm.data.batching import lm_batches, pack_sentences, segments, sentences
from seqlm.data.vocab import EOS_ID
from seqlm.errors import SeqlmError
from seqlm.lm.base import detach_state
from seqlm.metrics import MODES, Evaluation, summarize



def _model_device(model: nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def autocast_context(device: torch.device, precision: str):
    """``torch.autocast`` for bf16, a no-op for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    raise SeqlmError(f"unknown precision {precision!r} (choose from fp32, bf16)")


def _token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) for every position: (T, B, V), (T, B) -> (T, B) float32."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def as_ids(ids, vocab=None) -> np.ndarray:
    """Token ids from ``ids``: ids already, or text — a string (its lines) or a list of
    sentences — encoded with ``vocab`` (each line ends with ``<eos>``, as in a corpus)."""
    text = isinstance(ids, str) or (isinstance(ids, (list, tuple)) and len(ids) > 0
                                    and all(isinstance(x, str) for x in ids))
    if not text:
        return np.asarray(ids, dtype=np.int64)
    if vocab is None:
        raise SeqlmError("scoring text needs the model's vocabulary: pass vocab= (seqlm.load_model(path) "
                         "returns the model and its vocabulary), or token ids")
    lines = ids.split("\n") if isinstance(ids, str) else [ln for t in ids for ln in t.split("\n")]
    return vocab.encode_lines([ln for ln in lines if ln.strip()])


@torch.no_grad()
def score_tokens(model: nn.Module, ids, mode: str = "stream", batch_size: int | None = None,
                 bptt: int = 256, device: torch.device | str | None = None,
                 precision: str = "fp32", eos_id: int = EOS_ID, vocab=None) -> np.ndarray:
    """Natural-log probability of every token of ``ids`` (float64, ``len(ids)``): token ids,
    or text (a string or a list of sentences) with its ``vocab``.

    ``batch_size`` defaults to 1 in ``stream`` mode and 64 in ``sentence``
    mode. ``bptt`` only bounds the length of the chunks run at once; it never
    changes the result. The model is put in eval mode and restored after.
    """
    if mode not in MODES:
        raise SeqlmError(f"unknown evaluation mode {mode!r} (choose from {', '.join(MODES)})")
    ids = as_ids(ids, vocab)
    if vocab is not None:
        eos_id = vocab.eos_id
    if ids.ndim != 1 or ids.size == 0:
        raise SeqlmError("cannot score an empty token stream")
    vocab_size = getattr(getattr(model, "config", None), "vocab_size", None)
    if vocab_size is not None and (ids.min() < 0 or ids.max() >= vocab_size):
        raise SeqlmError(f"token id {int(ids.max())} is outside the model's vocabulary of {vocab_size}")
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    try:
        with autocast_context(device, precision):
            if mode == "stream":
                return _score_stream(model, ids, batch_size or 1, bptt, device, eos_id)
            return _score_sentences(model, ids, batch_size or 64, bptt, device, eos_id)
    finally:
        model.train(was_training)


def _score_stream(model, ids, batch_size, bptt, device, eos_id) -> np.ndarray:
    inputs, targets, mask = lm_batches(ids, batch_size, eos_id, pad=True)   # (T, B) each
    out = torch.empty(inputs.shape, dtype=torch.float64)
    state = model.init_state(batch_size, device)
    for start, length in segments(inputs.size(0), bptt):
        x = inputs[start:start + length].to(device)
        y = targets[start:start + length].to(device)
        logits, state = model(x, state)
        state = detach_state(state)
        out[start:start + length] = _token_logprobs(logits, y).double().cpu()
    # Column b holds tokens b*T .. (b+1)*T - 1: transpose back to stream order.
    return out.t().reshape(-1)[mask.t().reshape(-1)].numpy()


def _score_sentences(model, ids, batch_size, bptt, device, eos_id) -> np.ndarray:
    sents = sentences(ids, eos_id)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sents])])
    out = np.empty(ids.size, dtype=np.float64)
    order = sorted(range(len(sents)), key=lambda i: (len(sents[i]), i))
    for k in range(0, len(order), batch_size):
        group = order[k:k + batch_size]
        inputs, targets = pack_sentences([sents[i] for i in group], eos_id, pad_target=0)  # (T, B)
        longest = inputs.size(0)
        lp = torch.empty(inputs.shape, dtype=torch.float64)
        state = model.init_state(len(group), device)   # fresh state: every sentence starts over
        for start, length in segments(longest, bptt):
            logits, state = model(inputs[start:start + length].to(device), state)
            state = detach_state(state)
            lp[start:start + length] = _token_logprobs(
                logits, targets[start:start + length].to(device)).double().cpu()
        for b, i in enumerate(group):
            out[offsets[i]:offsets[i + 1]] = lp[:len(sents[i]), b].numpy()
    return out


def evaluate(model: nn.Module, ids, mode: str = "stream", batch_size: int | None = None,
             chars: int | None = None, **kwargs) -> Evaluation:
    """:func:`score_tokens` (ids, or text with ``vocab=``), summarised by
    :func:`seqlm.metrics.summarize`: perplexity, bits per token, bits per character when
    ``chars`` is given."""
    return summarize(score_tokens(model, ids, mode, batch_size, **kwargs), mode, chars=chars)
