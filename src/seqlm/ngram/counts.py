"""Vectorised n-gram counting and lookup over id streams.

An id stream ``w_1 … w_T`` (every sentence ends with ``<eos>``) is first
*padded*: a sentence-start symbol ``<s>`` (id ``V``, one past the vocabulary)
is put before every sentence (``sentence`` mode) or only before the whole
stream (``stream`` mode). ``<s>`` is context only, never predicted. A single
``<s>`` is equivalent to the textbook padding with ``N-1`` of them: the
n-gram ``<s> <s> w_1`` says nothing that ``<s> w_1`` does not (KenLM collapses
them the same way).

N-grams are stored per order ``m`` as sorted int64 keys

    key = prefix_id * B + w        (B = V + 1)

where ``prefix_id`` is the index of the (m-1)-gram prefix in the order m-1
table (order 1 is dense: the unigram id *is* the word id). Keys therefore
never overflow whatever the order, n-grams that share a context are
contiguous (``key // B`` is sorted), and a lookup is one ``np.searchsorted``
per order. No Python dictionaries on any hot path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlm.errors import SeqlmError


@dataclass
class Padded:
    """A padded stream: ``ids`` with ``<s>`` inserted, and per-position facts."""

    ids: np.ndarray       # (L,) int64 word ids, <s> = V at sentence starts
    pos: np.ndarray       # (L,) int64 position in the sentence (<s> is 0)
    target: np.ndarray    # (L,) bool: True where a real token is predicted (all but <s>)


def pad(ids: np.ndarray, bos: int, eos: int, mode: str) -> Padded:
    """Insert ``<s>`` before every sentence (``sentence``) or once (``stream``)."""
    ids = np.asarray(ids, dtype=np.int64).ravel()
    T = ids.size
    if mode == "sentence":
        ends = np.flatnonzero(ids == eos) + 1
        starts = np.concatenate([[0], ends[ends < T]])
    elif mode == "stream":
        starts = np.zeros(1, dtype=np.int64)
    else:
        raise SeqlmError(f"mode must be 'sentence' or 'stream', got {mode!r}")
    if T == 0:
        starts = np.zeros(0, dtype=np.int64)
    P = np.insert(ids, starts, bos)
    is_bos = np.zeros(P.size, dtype=bool)
    is_bos[starts + np.arange(starts.size)] = True
    idx = np.arange(P.size, dtype=np.int64)
    seg_start = np.maximum.accumulate(np.where(is_bos, idx, 0)) if P.size else idx
    return Padded(P, idx - seg_start, ~is_bos)


@dataclass
class Order:
    """The n-grams of one order m >= 2, sorted by key = prefix_id * B + word."""

    keys: np.ndarray      # (n,) int64, sorted, unique
    counts: np.ndarray    # (n,) int64 raw counts
    suffix: np.ndarray    # (n,) int64 id of the (m-1)-gram suffix w_2..w_m

    @property
    def size(self) -> int:
        return int(self.keys.size)


def group(ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For sorted context ids: (unique contexts, start offsets, group index per entry)."""
    if ctx.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    new = np.empty(ctx.size, dtype=bool)
    new[0] = True
    np.not_equal(ctx[1:], ctx[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    return ctx[starts], starts, np.cumsum(new) - 1


class NGramCounts:
    """Raw counts of every order 1..N of a padded training stream.

    ``unigram`` is dense (length ``B``, ``<s>`` has count 0); ``orders[m]``
    for m >= 2 is an :class:`Order`. ``bos_start[m]`` marks the n-grams that
    begin with ``<s>`` (they cannot be extended to the left, which Kneser-Ney
    needs to know).
    """

    def __init__(self, padded: Padded, order: int, V: int):
        self.order, self.V, self.B = order, V, V + 1
        P, pos = padded.ids, padded.pos
        B = self.B
        self.unigram = np.bincount(P[padded.target], minlength=B).astype(np.int64)
        self.orders: dict[int, Order] = {}
        self.bos_start: dict[int, np.ndarray] = {1: np.arange(B) == V}
        prev_ids = P  # id of the (m-1)-gram ending at each position
        for m in range(2, order + 1):
            t = np.flatnonzero(pos >= m - 1)          # windows of length m inside a sentence
            keys = prev_ids[t - 1] * B + P[t]
            uniq, inv, cnt = np.unique(keys, return_inverse=True, return_counts=True)
            suffix = np.empty(uniq.size, dtype=np.int64)
            suffix[inv] = prev_ids[t]                  # the (m-1)-gram ending at t
            self.orders[m] = Order(uniq, cnt.astype(np.int64), suffix)
            self.bos_start[m] = self.bos_start[m - 1][uniq // B]
            ids = np.full(P.size, -1, dtype=np.int64)
            ids[t] = inv
            prev_ids = ids

    def size(self, m: int) -> int:
        return self.B if m == 1 else self.orders[m].size

    def continuation(self, m: int) -> np.ndarray:
        """N1+(• g): distinct left extensions of every m-gram g (m < N), `<s>` included
        as an extension; n-grams that begin with ``<s>`` keep their raw count."""
        a = np.bincount(self.orders[m + 1].suffix, minlength=self.size(m)).astype(np.int64)
        raw = self.unigram if m == 1 else self.orders[m].counts
        start = self.bos_start[m]
        a[start] = raw[start]
        if m == 1:
            a[self.V] = 0                              # <s> is never predicted
        return a


def lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each query key in sorted ``keys``, or -1."""
    if keys.size == 0 or query.size == 0:
        return np.full(query.size, -1, dtype=np.int64)
    j = np.searchsorted(keys, query)
    j[j == keys.size] = 0
    return np.where(keys[j] == query, j, -1)


def chain_ids(table_keys: dict[int, np.ndarray], padded: Padded, order: int, B: int) -> list:
    """``ids[m][t]``: the table index of the m-gram ending at ``t`` (or -1)."""
    P, pos = padded.ids, padded.pos
    ids = [None, P]
    for m in range(2, order + 1):
        prev = np.full(P.size, -1, dtype=np.int64)
        prev[1:] = ids[m - 1][:-1]
        ok = np.flatnonzero((pos >= m - 1) & (prev >= 0))
        out = np.full(P.size, -1, dtype=np.int64)
        out[ok] = lookup(table_keys[m], prev[ok] * B + P[ok])
        ids.append(out)
    return ids


def gather(values: np.ndarray, idx: np.ndarray, default: float = 0.0) -> np.ndarray:
    """``values[idx]`` where ``idx >= 0``, ``default`` where it is -1."""
    out = np.full(idx.size, default, dtype=np.result_type(values.dtype, type(default)))
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out
