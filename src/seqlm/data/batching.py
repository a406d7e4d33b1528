"""Batching for truncated backpropagation through time.

A split is one long id stream ``w_1 … w_N`` (every sentence ends with
``<eos>``). The language model predicts every ``w_i`` from the tokens before
it; ``w_1`` is predicted from ``<eos>``, the sentence-start padding, so the
input stream is ``<eos> w_1 … w_{N-1}`` and the target stream is
``w_1 … w_N``: N predictions, every token exactly once.

Both streams are cut into ``B`` contiguous columns (:func:`batchify`) that the
model reads in parallel, ``bptt`` rows at a time (:func:`segments`), carrying
(and detaching) the hidden state from one segment to the next.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from seqlm.errors import SeqlmError

if TYPE_CHECKING:  # torch is imported where it is used, so `seqlm data` starts fast
    import torch


def batchify(data: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D stream into ``batch_size`` contiguous columns, dropping the tail.

    With the alphabet as the stream and ``batch_size = 4``::

        ┌ a g m s ┐
        │ b h n t │
        │ c i o u │
        │ d j p v │
        │ e k q w │
        └ f l r x ┘

    ``y`` and ``z`` (the ``N mod B`` tail) are dropped. Columns are
    independent: the model never sees ``f`` before ``g``. Returns ``(T, B)``.
    For evaluation use :func:`lm_batches` with ``pad=True``, which drops
    nothing.
    """
    import torch

    if batch_size < 1:
        raise SeqlmError(f"batch size must be >= 1, got {batch_size}")
    data = torch.as_tensor(data)
    n = data.size(0) // batch_size
    if n == 0:
        raise SeqlmError(f"a stream of {data.size(0)} tokens is too short for batch size {batch_size}")
    return data[: n * batch_size].view(batch_size, n).t().contiguous()  # (T, B)


def _pad_columns(data: torch.Tensor, batch_size: int, n_rows: int, pad_value: int) -> torch.Tensor:
    import torch

    out = torch.full((batch_size * n_rows,), pad_value, dtype=data.dtype)
    out[: data.size(0)] = data
    return out.view(batch_size, n_rows).t().contiguous()


def lm_batches(ids, batch_size: int, eos_id: int, pad: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Input and target columns for language modelling over a split.

    Returns ``(inputs, targets, mask)``, each ``(T, B)``. ``targets[t, b]`` is
    the token that follows ``inputs[t, b]``. With ``pad=False`` (training) the
    ``N mod B`` tail is dropped and ``mask`` is ``None``; with ``pad=True``
    (evaluation) the last column is padded and ``mask`` is ``True`` exactly on
    the N real predictions.
    """
    import torch

    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    if ids.dim() != 1 or ids.numel() == 0:
        raise SeqlmError("cannot batch an empty split")
    inputs = torch.cat([torch.tensor([eos_id], dtype=torch.long), ids[:-1]])
    if not pad:
        return batchify(inputs, batch_size), batchify(ids, batch_size), None
    if batch_size < 1:
        raise SeqlmError(f"batch size must be >= 1, got {batch_size}")
    n = ids.numel()
    rows = -(-n // batch_size)  # ceil
    valid = torch.zeros(batch_size * rows, dtype=torch.bool)
    valid[:n] = True
    return (_pad_columns(inputs, batch_size, rows, eos_id),
            _pad_columns(ids, batch_size, rows, 0),
            valid.view(batch_size, rows).t().contiguous())


def segments(n_rows: int, bptt: int, variable: bool = False,
             rng: np.random.Generator | None = None, min_len: int = 5,
             ) -> Iterator[tuple[int, int]]:
    """Yield ``(start, length)`` of consecutive segments covering ``n_rows`` rows.

    Fixed: ``length = bptt`` (the last one shorter). Variable (AWD-LSTM,
    Merity et al. 2018): the base length is ``bptt`` with probability 0.95 and
    ``bptt / 2`` otherwise, then ``length ~ N(base, 5)``, at least ``min_len``;
    ``rng`` makes it reproducible. The segments always tile ``[0, n_rows)``.
    """
    if bptt < 1:
        raise SeqlmError(f"bptt must be >= 1, got {bptt}")
    if variable and rng is None:
        raise SeqlmError("variable-length segments need an explicit rng")
    start = 0
    while start < n_rows:
        if variable:
            base = bptt if rng.random() < 0.95 else bptt / 2
            length = max(min_len, int(round(rng.normal(base, 5))))
        else:
            length = bptt
        length = min(length, n_rows - start)
        yield start, length
        start += length


def sentences(ids, eos_id: int) -> list[np.ndarray]:
    """Split an id stream into sentences, each ending with its ``<eos>``.

    A trailing fragment without ``<eos>`` (not produced by seqlm's readers)
    is kept as a last sentence so no token is lost.
    """
    ids = np.asarray(ids)
    ends = np.flatnonzero(ids == eos_id) + 1
    parts = np.split(ids, ends)
    return [p for p in parts if p.size]


def pack_sentences(sents: list[np.ndarray], eos_id: int, pad_target: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad a group of sentences into ``(inputs, targets)``, each ``(T, B)``.

    Column ``b`` is sentence ``b`` predicted from the start context alone:
    inputs ``<eos> w_1 … w_{n-1}``, targets ``w_1 … w_n`` (``w_n = <eos>``).
    Shorter sentences are padded at the end (inputs with ``<eos>``, targets with
    ``pad_target``); a recurrent model is causal, so the padding after a
    sentence never changes its predictions.
    """
    import torch

    longest = max(len(s) for s in sents)
    inputs = torch.full((longest, len(sents)), eos_id, dtype=torch.long)   # (T, B)
    targets = torch.full((longest, len(sents)), pad_target, dtype=torch.long)
    for b, s in enumerate(sents):
        s = torch.as_tensor(s, dtype=torch.long)
        inputs[1:len(s), b] = s[:-1]
        targets[:len(s), b] = s
    return inputs, targets


def sentence_batches(ids, batch_size: int, eos_id: int, rng: np.random.Generator,
                     pad_target: int = -100) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Training batches of whole sentences, for models trained on independent
    sentences (``TrainConfig.unit = "sentence"``; Mikolov's RNNLM calls it
    "independent sentences").

    The sentences are shuffled by ``rng``, then stably sorted by length and cut
    into groups of ``batch_size``, so a batch holds sentences of about one length
    (little padding) and its members change from epoch to epoch; the order of
    the batches is shuffled too. Targets are ``pad_target`` (cross-entropy's
    ``ignore_index``) on padding, so every token of the split is predicted
    exactly once per epoch.
    """
    if batch_size < 1:
        raise SeqlmError(f"batch size must be >= 1, got {batch_size}")
    sents = sentences(ids, eos_id)
    if not sents:
        raise SeqlmError("cannot batch an empty split")
    order = rng.permutation(len(sents))
    order = order[np.argsort([len(sents[i]) for i in order], kind="stable")]
    groups = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
    return [pack_sentences([sents[i] for i in groups[g]], eos_id, pad_target)
            for g in rng.permutation(len(groups))]
