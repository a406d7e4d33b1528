"""Batching for truncated BPTT: the docstring diagram, full coverage, tiling segments."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlm.data import batchify, lm_batches, segments, sentences
from seqlm.errors import SeqlmError


def test_batchify_matches_docstring_diagram():
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    data = torch.arange(26)
    cols = batchify(data, 4)
    assert cols.shape == (6, 4)
    rows = ["".join(alphabet[i] for i in row) for row in cols.tolist()]
    assert rows == ["agms", "bhnt", "ciou", "djpv", "ekqw", "flrx"]  # y, z dropped
    assert cols.is_contiguous()


def test_batchify_errors():
    with pytest.raises(SeqlmError):
        batchify(torch.arange(3), 0)
    with pytest.raises(SeqlmError, match="too short"):
        batchify(torch.arange(3), 4)


def test_lm_batches_train_shifts_by_one():
    ids = np.arange(2, 30)
    x, y, mask = lm_batches(ids, 3, eos_id=1)
    assert mask is None and x.shape == y.shape == (9, 3)
    assert x[0, 0].item() == 1 and y[0, 0].item() == 2  # first token predicted from <eos>
    assert torch.equal(x[1:], y[:-1])


@pytest.mark.parametrize("n,b", [(1, 1), (7, 3), (26, 4), (24, 4), (5, 8)])
def test_lm_batches_pad_covers_every_token_once(n, b):
    ids = np.arange(2, 2 + n)  # distinct ids, so each target is identifiable
    x, y, mask = lm_batches(ids, b, eos_id=1, pad=True)
    assert x.shape == y.shape == mask.shape
    assert int(mask.sum()) == n
    assert sorted(y[mask].tolist()) == ids.tolist()
    # every input is the token before its target (or <eos> for the first)
    prev = {int(t): int(p) for t, p in zip(ids, np.concatenate([[1], ids[:-1]]))}
    assert all(prev[int(t)] == int(i) for t, i in zip(y[mask], x[mask]))


def test_lm_batches_empty():
    with pytest.raises(SeqlmError, match="empty"):
        lm_batches(np.array([], dtype=np.int64), 2, eos_id=1)


@pytest.mark.parametrize("n_rows,bptt", [(1, 35), (35, 35), (100, 35), (101, 7)])
def test_fixed_segments_tile(n_rows, bptt):
    segs = list(segments(n_rows, bptt))
    assert segs[0][0] == 0
    assert all(a + la == b for (a, la), (b, _) in zip(segs, segs[1:]))
    assert sum(la for _, la in segs) == n_rows
    assert all(la == bptt for _, la in segs[:-1]) and 0 < segs[-1][1] <= bptt


def test_variable_segments_tile_and_are_reproducible():
    a = list(segments(5000, 70, variable=True, rng=np.random.default_rng(3)))
    b = list(segments(5000, 70, variable=True, rng=np.random.default_rng(3)))
    c = list(segments(5000, 70, variable=True, rng=np.random.default_rng(4)))
    assert a == b and a != c
    assert sum(la for _, la in a) == 5000
    assert all(x + lx == y for (x, lx), (y, _) in zip(a, a[1:]))
    lengths = [la for _, la in a[:-1]]
    assert min(lengths) >= 5 and len(set(lengths)) > 5
    assert 40 < np.mean(lengths) < 75  # N(70, 5) mostly, N(35, 5) 5% of the time
    with pytest.raises(SeqlmError):
        list(segments(10, 5, variable=True))
    with pytest.raises(SeqlmError):
        list(segments(10, 0))


def test_sentences_split_on_eos():
    parts = sentences([5, 6, 1, 7, 1, 8], eos_id=1)
    assert [p.tolist() for p in parts] == [[5, 6, 1], [7, 1], [8]]
