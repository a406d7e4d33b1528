"""P6 — a Kneser-Ney trigram and a small LSTM language model on the same corpus,
compared by perplexity (Section 5.5).

Token conventions (the same for both models, as in seqlm): a corpus is one id
stream in which every sentence ends with <eos> (id eos_id); <eos> is predicted
and counted. Scoring is in *sentence mode*: every sentence is predicted from a
sentence-start context alone — <s> for the n-gram (never predicted), a fresh
state with <eos> as the first input for the LSTM.

The grader runs it on seqlm's synthetic corpus:
    from seqlm.data.synthetic import synthetic_corpus
    c = synthetic_corpus(0, train_tokens=40_000, valid_tokens=2_000, test_tokens=4_000)
    c.train, c.test (int arrays), len(c.vocab), c.vocab.eos_id, c.oracle_ppl("test")

Check your work:   seqlm exercises check P6 p6_lm_comparison.py
"""
import numpy as np
import torch
from torch import nn


def kn_trigram_logprobs(train_ids, test_ids, vocab_size, eos_id):
    """Natural-log probability of every token of test_ids under an interpolated
    Kneser-Ney trigram estimated on train_ids (sentence mode). Returns (len(test_ids),).

    With a(·) the counts used at each order — raw trigram counts; for bigrams the
    continuation count N1+(• v w) (distinct words before "v w", <s> included),
    except bigrams "<s> w", which keep their raw count; for unigrams N1+(• w) —
    and one discount per order D = n1 / (n1 + 2 n2) from that order's counts-of-counts
    (D = 0.75 when n1 or n2 is 0):

      p(w | u v) = max(a(u v w) − D3, 0) / Σ_x a(u v x) + γ(u v) p(w | v)
      γ(u v)     = D3 · #{x : a(u v x) > 0} / Σ_x a(u v x)
      (likewise p(w | v) from p(w); a context never seen: use the lower order as it is)
      p(w)       = max(a(w) − D1, 0) / Σ_x a(x) + γ(ε) / vocab_size

    The first word of a sentence has the context <s> alone: p(w | <s>).
    """
    raise NotImplementedError


def perplexity(logprobs):
    """exp of the mean negative log-probability per token (inf if one is -inf)."""
    raise NotImplementedError


class LSTMLM(nn.Module):
    """Embedding -> one-layer LSTM -> linear decoder over the vocabulary."""

    def __init__(self, vocab_size, embed_size=32, hidden_size=64):
        super().__init__()
        raise NotImplementedError

    def init_state(self, batch_size, device=None):
        """The zero state for a batch: (h, c), each (1, batch_size, hidden_size)."""
        raise NotImplementedError

    def forward(self, inputs, state):
        """inputs (T, B) long -> (logits (T, B, V), new state); logits[t] scores the
        token that follows inputs[t]."""
        raise NotImplementedError


def train_lm(train_ids, vocab_size, eos_id, seed):
    """Train an LSTMLM on the stream train_ids (next-token cross-entropy, truncated
    BPTT) and return it. Everything random comes from seed. A few epochs of Adam
    at lr 1e-2 with batch 32 and bptt 35 take seconds."""
    raise NotImplementedError


def lm_logprobs(model, ids, eos_id):
    """Natural-log probability of every token of ids under the model, in sentence
    mode: each sentence from a fresh state, <eos> as its first input. Returns (len(ids),)."""
    raise NotImplementedError
