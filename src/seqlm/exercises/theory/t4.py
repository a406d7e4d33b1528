"""T4: perplexity as exponentiated cross-entropy, and what makes two perplexities comparable."""
from __future__ import annotations

import math
import warnings

import numpy as np

from seqlm.data.corpus import corpus_from_lines
from seqlm.data.synthetic import generate, synthetic_corpus
from seqlm.exercises.theory import Claim, claim
from seqlm.metrics import summarize
from seqlm.ngram import AddK, ModifiedKneserNey

TOY = ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog", "the mat was red"]


def _kn(train, test, vocab, order, mode="sentence"):
    with warnings.catch_warnings():  # tiny corpora: the discount falls back, with a warning
        warnings.simplefilter("ignore")
        return ModifiedKneserNey(order).fit(train, vocab, mode=mode).score(test, mode)


def verify() -> list[Claim]:
    rng = np.random.default_rng(0)
    lp = np.log(rng.dirichlet(np.ones(20), 50).max(axis=1))
    ev = summarize(lp)
    c1 = abs(ev.ppl - math.exp(-lp.mean())) < 1e-12 * ev.ppl and abs(2 ** ev.bits_per_token - ev.ppl) < 1e-9 * ev.ppl
    toy = corpus_from_lines({"train": TOY, "valid": TOY[:1], "test": TOY[1:3]}, "toy")
    V = len(toy.vocab)
    uniform = summarize(np.full(25, -math.log(V))).ppl
    addk = AddK(1, k=1e9).fit(toy.train, toy.vocab).perplexity(toy.test).ppl
    c = synthetic_corpus(0, train_tokens=40_000, valid_tokens=2_000, test_tokens=4_000)
    oracle = c.oracle_ppl("test")
    ppl = {n: summarize(_kn(c.train, c.test, c.vocab, n)).ppl for n in (1, 2, 3)}
    lp3 = _kn(c.train, c.test, c.vocab, 3)
    no_eos = summarize(lp3[c.test != c.vocab.eos_id]).ppl
    stream = summarize(_kn(c.train, c.test, c.vocab, 3, "stream")).ppl
    data = generate(0)
    lines = {s: data.lines(s)[:400] for s in ("train", "valid", "test")}
    big = corpus_from_lines(lines, "synthetic-text")
    small = corpus_from_lines(lines, "synthetic-text", max_size=12)
    unk = {name: summarize(_kn(k.train, k.test, k.vocab, 2)).ppl for name, k in (("full", big), ("small", small))}
    return [
        claim("C1", "perplexity = exp(mean negative log-probability per token) = 2^(bits per token)", c1,
              f"50 tokens: ppl {ev.ppl:.6f}, exp(mean NLL) {math.exp(-lp.mean()):.6f}, "
              f"2^bits {2 ** ev.bits_per_token:.6f}"),
        claim("C2", "the uniform model over the vocabulary has perplexity |V|",
              abs(uniform - V) < 1e-9 * V and abs(addk - V) < 1e-6 * V,
              f"|V| = {V}: uniform {uniform:.9g}; add-k unigram with k = 1e9 {addk:.9g}"),
        claim("C3", "cross-entropy ≥ entropy: no model's perplexity falls below the oracle's (the true "
              "distribution)", all(p >= oracle for p in ppl.values()),
              f"synthetic test set: oracle {oracle:.3f}; KN unigram {ppl[1]:.3f}, bigram {ppl[2]:.3f}, "
              f"trigram {ppl[3]:.3f}"),
        claim("C4", "counting <eos> or not changes the number: the same model scores differently on the "
              "same text", abs(no_eos / ppl[3] - 1) > 0.01,
              f"KN trigram: {ppl[3]:.3f} with <eos> counted, {no_eos:.3f} without"),
        claim("C5", "a smaller vocabulary (more words mapped to <unk>) lowers the perplexity of the same "
              "text: perplexities compare only with the same vocabulary", unk["small"] < unk["full"],
              f"KN bigram, 400 sentences: |V| = {len(big.vocab)}: {unk['full']:.3f}; |V| = {len(small.vocab)}: "
              f"{unk['small']:.3f} ({small.oov['test']} test tokens became <unk>)"),
        claim("C6", "sentence and stream mode are different quantities: the same model family on the same "
              "tokens gives two numbers (close here, where sentences are independent)",
              abs(stream / ppl[3] - 1) > 1e-4, f"KN trigram: sentence mode {ppl[3]:.4f}, stream mode {stream:.4f}"),
        _untrained(c),
    ]


def _untrained(c) -> Claim:
    """Measured, not stated: seqlm's RNN, LSTM and GRU LMs before any training."""
    import torch

    from seqlm.eval import score_tokens
    from seqlm.lm import RNNLanguageModel, RNNLMConfig
    V, out = len(c.vocab), {}
    for cell in ("rnn", "lstm", "gru"):
        torch.manual_seed(0)
        model = RNNLanguageModel(RNNLMConfig(vocab_size=V, cell=cell))
        out[cell] = summarize(score_tokens(model, c.test, mode="sentence", eos_id=c.vocab.eos_id)).ppl
    return claim("C7", "a freshly initialised neural LM has small random logits: its perplexity starts near |V|",
                 all(abs(p / V - 1) < 0.1 for p in out.values()),
                 f"synthetic test set, |V| = {V}, seqlm's default initialisation, seed 0: "
                 + ", ".join(f"{k.upper()} {v:.2f}" for k, v in out.items()))
