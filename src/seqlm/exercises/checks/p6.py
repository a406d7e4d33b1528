"""P6: a Kneser-Ney trigram and an LSTM LM on the synthetic corpus, compared by perplexity.

Ground truth: ``seqlm.ngram.KneserNey`` (order 3, sentence mode), the one
perplexity definition ``seqlm.metrics.summarize``, the evaluation seam
``seqlm.eval.score_tokens`` (sentence mode) and the synthetic corpus's oracle.
"""
from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import torch

from seqlm.data import Vocabulary
from seqlm.data.synthetic import synthetic_corpus
from seqlm.eval import score_tokens
from seqlm.exercises.grading.cases import Case, Fail, Mistake, Tol, compare
from seqlm.metrics import summarize
from seqlm.ngram import KneserNey, ModifiedKneserNey

TOL_LP = Tol(1e-9, 1e-9)
TOL_PPL = Tol(0.0, 1e-10)
TOL_LM = Tol(1e-4, 1e-5)
INTERFACE, SCORING, SYNTHETIC = "LSTMLM interface", "sentence-mode scoring", "Kneser-Ney trigram, the synthetic corpus"
SIZES = {"train_tokens": 40_000, "valid_tokens": 2_000, "test_tokens": 4_000}

H_PPL = "perplexity = exp of the mean negative natural-log probability per token (eq. of Sec. 5.5.3)"
H_PPL_BASE = "the log-probabilities are natural logs: perplexity is e^(mean NLL), not 2^ or 10^"
H_PPL_MEAN = "perplexity is per token: exp of the MEAN negative log-probability, not of the sum"
H_PPL_ZERO = "a token with probability 0 (log p = −inf) makes the perplexity infinite"
H_KN = ("interpolated Kneser-Ney: discounted counts plus γ(context) times the next lower order; "
        "the lower orders use continuation counts N1+(• w), except n-grams that start with <s>")
H_KN_SENTENCE = ("sentence mode: every sentence starts from the context <s>, never from the words of "
                 "the previous sentence; n-grams do not cross <eos>")
H_KN_ONE_D = "Kneser-Ney here has one discount per order, D = n1 / (n1 + 2 n2), not three (modified KN)"
H_KN_ORDER = "a trigram conditions on the two previous tokens (with <s> at a sentence start)"
H_INTERFACE = ("the LM protocol: init_state(B) -> state; forward(inputs (T, B) long, state) -> "
               "(logits (T, B, V), new state)")
H_SCORING = ("sentence mode (Sec. 5.5.3): each sentence starts from a fresh state with <eos> as its "
             "first input, and every token — <eos> included — is scored once, from the logits before it")
H_STREAM = ("sentence mode: the state is reset at every sentence; your scores match a state carried "
            "across sentences (stream mode)")
H_TRAIN = ("training (Sec. 5.5.2): next-token targets, truncated BPTT with the state detached between "
           "segments, Adam about 1e-2, a few epochs")
H_ORACLE = ("nothing beats the true distribution: a perplexity below the oracle's means the model saw "
            "the token it predicts, or tokens were left out of the count")


@lru_cache(maxsize=2)
def _corpus(seed: int):
    return synthetic_corpus(seed, **SIZES)


def _kn(train, test, vocab, model=KneserNey, order=3, mode="sentence"):
    with warnings.catch_warnings():  # the unigram discount falls back to 0.75 on small corpora
        warnings.simplefilter("ignore")
        return model(order).fit(train, vocab, mode=mode).score(test, mode)


def _perplexity_case(with_zero):
    def run(ctx):
        lp = np.log(ctx.rng.uniform(0.01, 1.0, int(ctx.rng.integers(5, 60))))
        if with_zero:
            lp[int(ctx.rng.integers(0, lp.size))] = -math.inf
        got = ctx.fn("perplexity")(lp.copy())
        want = summarize(lp).ppl
        if math.isinf(want):
            if not (isinstance(got, (float, np.floating)) and math.isinf(got) and got > 0):
                raise Fail(f"perplexity is {got!r} with one zero-probability token, expected inf", H_PPL_ZERO)
            return f"{lp.size} tokens, one with p = 0: inf"
        mean = -lp.mean()
        mistakes = [Mistake(2 ** mean, H_PPL_BASE), Mistake(10 ** mean, H_PPL_BASE),
                    Mistake(math.exp(-lp.sum()) if -lp.sum() < 700 else math.inf, H_PPL_MEAN)]
        compare(np.float64(got) if isinstance(got, (int, float, np.number)) else got, np.float64(want),
                "perplexity", TOL_PPL, H_PPL, mistakes)
        return f"{lp.size} tokens: perplexity {want:.6g}"
    return run


def _random_corpus(rng, V, n):
    ids = rng.integers(2, V, n)
    ids[rng.random(n) < 0.15] = 1  # <eos>
    ids[-1] = 1
    return ids


def _kn_case(kind):
    def run(ctx):
        rng = ctx.rng
        if kind == "toy":
            V = 6
            train = np.array([2, 3, 1, 2, 4, 1, 3, 2, 3, 1, 5, 2, 3, 1, 4, 2, 1, 2, 3, 4, 1])
            test = np.array([2, 3, 4, 1, 5, 3, 1, 2, 2, 1])
            vocab = Vocabulary(["<unk>", "<eos>", "a", "b", "c", "d"])
        elif kind == "random":
            V = int(rng.integers(8, 20))
            train, test = _random_corpus(rng, V, 600), _random_corpus(rng, V + 2, 200)
            test[test >= V] = 0  # words never seen in training: <unk>
            vocab = Vocabulary(["<unk>", "<eos>"] + [f"w{i}" for i in range(2, V)])
        else:
            c = _corpus(ctx.seed)
            train, test, vocab, V = c.train, c.test, c.vocab, len(c.vocab)
        got = ctx.fn("kn_trigram_logprobs")(train.copy(), test.copy(), V, vocab.eos_id)
        want = _kn(train, test, vocab)
        mistakes = [Mistake(lambda: _kn(train, test, vocab, mode="stream"), H_KN_SENTENCE),
                    Mistake(lambda: _kn(train, test, vocab, ModifiedKneserNey), H_KN_ONE_D),
                    Mistake(lambda: _kn(train, test, vocab, order=2), H_KN_ORDER)]
        err = compare(got, want, "log p", TOL_LP, H_KN, mistakes)
        return (f"{train.size} training / {test.size} test tokens, V={V}: perplexity "
                f"{summarize(want).ppl:.4f}; max |Δ log p| = {err:.2g}")
    return run


def _interface_case(ctx):
    V = int(ctx.rng.integers(5, 12))
    model = ctx.fn("LSTMLM")(V)
    for T, B in ((1, 1), (5, 3)):
        state = model.init_state(B)
        x = torch.as_tensor(ctx.rng.integers(0, V, (T, B)), dtype=torch.long)
        with torch.no_grad():
            out = model(x, state)
        if not isinstance(out, tuple) or len(out) != 2:
            raise Fail(f"LSTMLM.forward returned a {type(out).__name__}, expected (logits, state)", H_INTERFACE)
        logits, _ = out
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (T, B, V):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise Fail(f"logits for inputs of shape {(T, B)} have shape {shape}, expected {(T, B, V)}", H_INTERFACE)
    return f"V={V}: (T, B) = (1, 1) and (5, 3) give logits (T, B, V) and a state"


def _scoring_case(ctx):
    c = _corpus(ctx.seed)
    ids = c.test[:600]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed)
        model = ctx.fn("LSTMLM")(len(c.vocab))  # untrained: its scores are still a distribution
    got = ctx.fn("lm_logprobs")(model, ids.copy(), c.vocab.eos_id)
    want = score_tokens(model, ids, mode="sentence", eos_id=c.vocab.eos_id)
    mistakes = [Mistake(lambda: score_tokens(model, ids, mode="stream", eos_id=c.vocab.eos_id), H_STREAM)]
    err = compare(got, want, "log p", TOL_LM, H_SCORING, mistakes)
    return f"{ids.size} tokens of an untrained model agree with seqlm's sentence-mode scoring: max |Δ| = {err:.2g}"


def _comparison_case(ctx):
    c = _corpus(ctx.seed)
    model = ctx.fn("train_lm")(c.train.copy(), len(c.vocab), c.vocab.eos_id, ctx.seed)
    if not isinstance(model, torch.nn.Module):
        raise Fail(f"train_lm returned a {type(model).__name__}, expected the trained LSTMLM", H_TRAIN)
    lstm = summarize(score_tokens(model, c.test, mode="sentence", eos_id=c.vocab.eos_id)).ppl
    kn = summarize(_kn(c.train, c.test, c.vocab)).ppl
    oracle = c.oracle_ppl("test")
    text = f"test perplexity: LSTM {lstm:.3f}, KN trigram {kn:.3f}, oracle {oracle:.3f}"
    if lstm < 0.98 * oracle:
        raise Fail(text + " — below the oracle", H_ORACLE)
    if not lstm < kn:
        raise Fail(text + " — the LSTM does not beat the trigram", H_TRAIN)
    return text + f" ({100 * (1 - lstm / kn):.0f}% lower than the trigram)"


CASES = [
    Case("perplexity", _perplexity_case(False), H_PPL, str(TOL_PPL)),
    Case("perplexity with a zero-probability token", _perplexity_case(True), H_PPL_ZERO),
    Case("Kneser-Ney trigram, a toy corpus", _kn_case("toy"), H_KN, str(TOL_LP)),
    Case("Kneser-Ney trigram, a random corpus with unseen words", _kn_case("random"), H_KN, str(TOL_LP)),
    Case(SYNTHETIC, _kn_case("synthetic"), H_KN, str(TOL_LP)),
    Case(INTERFACE, _interface_case, H_INTERFACE),
    Case(SCORING, _scoring_case, H_SCORING, str(TOL_LM), (INTERFACE,)),
    Case("the LSTM LM beats the trigram (perplexity)", _comparison_case, H_TRAIN,
         "oracle ≤ LSTM < KN trigram", (INTERFACE, SCORING), seconds=90),
]
