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

EQ_PPL = "perplexity = exp of the mean negative natural-log probability per token (Sec. 5.5.3)"
EQ_KN = ("interpolated Kneser-Ney (the starter's formulas): discounted counts plus γ(context) times the next "
         "lower order, continuation counts below the top order, sentence mode")
EQ_SCORING = ("sentence mode (Sec. 5.5.3): each sentence from a fresh state with <eos> as its first input; "
              "every token, <eos> included, scored once from the logits before it")
EQ_TRAIN = "training (Sec. 5.5.2): next-token targets, truncated BPTT with the state detached between segments"
H_PPL_BASE = "your perplexity is what base 2 or 10 gives, where the log-probabilities are natural logs"
H_PPL_MEAN = "your perplexity is what the sum gives, where it is per token: the mean of the negative log-probability"
H_PPL_ZERO = "a token with probability 0 (log p = −inf) makes the perplexity infinite"
H_KN_SENTENCE = ("your log-probabilities are what n-grams across sentence boundaries give, where every "
                 "sentence starts from the context <s>")
H_KN_ONE_D = "your log-probabilities are what three discounts per order (modified Kneser-Ney) give"
H_KN_ORDER = "your log-probabilities are what a bigram gives, where a trigram conditions on two tokens"
H_LOG10 = "your log-probabilities are log10, where the exercise (and perplexity = exp(mean NLL)) uses natural logs"
H_EOS = ("<eos> is predicted and counted: your array has one entry per token except the <eos> tokens "
         "(Sec. 5.5.3)")
H_INTERFACE = ("the LM protocol of the starter: init_state(B) -> state; forward(inputs (T, B) long, state) -> "
               "(logits (T, B, V), new state)")
H_STREAM = "your scores are what a state carried across sentences (stream mode) gives"
H_ORACLE = ("nothing beats the true distribution: a perplexity below the oracle's means the model saw "
            "the token it predicts, or tokens were left out of the count")
STUBS = {"seqlm.data.synthetic": (
    '"""While grading, the synthetic corpus comes from the grader: it calls train_lm with it."""\n\n\n'
    'def synthetic_corpus(*args, **kwargs):\n'
    '    raise RuntimeError("synthetic_corpus is not available while grading (the grader passes the corpus); '
    'put experiments under if __name__ == \'__main__\': or in a notebook cell, which may fail")\n')}


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
        want = summarize(lp).ppl
        got = ctx.fn("perplexity", lp)
        if math.isinf(want):
            if not (isinstance(got, (float, np.floating)) and math.isinf(got) and got > 0):
                raise Fail(f"perplexity is {got!r} with one zero-probability token, expected inf", H_PPL_ZERO)
            return f"{lp.size} tokens, one with p = 0: inf"
        mean = -lp.mean()
        mistakes = [Mistake(2 ** mean, H_PPL_BASE), Mistake(10 ** mean, H_PPL_BASE),
                    Mistake(math.exp(-lp.sum()) if -lp.sum() < 700 else math.inf, H_PPL_MEAN)]
        compare(np.float64(got) if isinstance(got, (int, float, np.number)) else got, np.float64(want),
                "perplexity", TOL_PPL, EQ_PPL, mistakes)
        return f"{lp.size} tokens: perplexity {want:.6g}"
    return run


def _random_corpus(rng, V, n):
    ids = rng.integers(2, V, n)
    ids[rng.random(n) < 0.15] = 1  # <eos>
    ids[-1] = 1
    return ids


def _eos_shapes(ids, eos_id) -> dict:
    """The wrong length that leaving <eos> out of the count gives, and what it means."""
    return {(int(np.sum(ids != eos_id)),): H_EOS}


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
        want = _kn(train, test, vocab)
        got = ctx.fn("kn_trigram_logprobs", train, test, V, vocab.eos_id)
        mistakes = [Mistake(lambda: _kn(train, test, vocab, mode="stream"), H_KN_SENTENCE),
                    Mistake(lambda: _kn(train, test, vocab, ModifiedKneserNey), H_KN_ONE_D),
                    Mistake(lambda: _kn(train, test, vocab, order=2), H_KN_ORDER),
                    Mistake(want / math.log(10), H_LOG10)]
        err = compare(got, want, "log p", TOL_LP, EQ_KN, mistakes, _eos_shapes(test, vocab.eos_id))
        return (f"{train.size} training / {test.size} test tokens, V={V}: perplexity "
                f"{summarize(want).ppl:.4f}; max |Δ log p| = {err:.2g}")
    return run


def _interface_case(ctx):
    V = int(ctx.rng.integers(5, 12))
    shapes = [(1, 1), (5, 3)]
    outs = ctx.call("lm_interface", V=V, shapes=shapes, seed=ctx.seed)
    for (T, B), out in zip(shapes, outs):
        if not isinstance(out, tuple) or len(out) != 2:
            raise Fail(f"LSTMLM.forward returned {getattr(out, 'name', 'a ' + type(out).__name__)}, expected "
                       "(logits, state)", H_INTERFACE)
        logits = out[0]
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (T, B, V):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise Fail(f"logits for inputs of shape {(T, B)} have shape {shape}, expected {(T, B, V)}", H_INTERFACE)
    return f"V={V}: (T, B) = (1, 1) and (5, 3) give logits (T, B, V) and a state"


def _grader_lm(rng, V, E=16, H=24):
    """Parameters of a small LM of the protocol, and that model built here."""
    from seqlm.exercises.grading.drivers import protocol_lm
    shapes = {"embedding.weight": (V, E), "lstm.weight_ih_l0": (4 * H, E), "lstm.weight_hh_l0": (4 * H, H),
              "lstm.bias_ih_l0": (4 * H,), "lstm.bias_hh_l0": (4 * H,), "decoder.weight": (V, H),
              "decoder.bias": (V,)}
    params = {k: rng.normal(0, 0.5, s).astype(np.float32) for k, s in shapes.items()}
    return params, protocol_lm(V, E, H, params)


def _scoring_case(ctx):
    c = _corpus(ctx.seed)
    ids, eos, V = c.test[:600], c.vocab.eos_id, len(c.vocab)
    params, model = _grader_lm(ctx.rng, V)
    want = score_tokens(model, ids, mode="sentence", eos_id=eos)
    got = ctx.call("lm_score", V=V, E=16, H=24, params=params, ids=ids, eos_id=eos)
    mistakes = [Mistake(lambda: score_tokens(model, ids, mode="stream", eos_id=eos), H_STREAM),
                Mistake(want / math.log(10), H_LOG10)]
    err = compare(got, want, "log p", TOL_LM, EQ_SCORING, mistakes, _eos_shapes(ids, eos))
    return f"{ids.size} tokens of the grader's model scored as seqlm scores them (sentence mode): max |Δ| = {err:.2g}"


def lockstep_logprobs(ctx, ids: np.ndarray, eos: int, V: int) -> np.ndarray:
    """Sentence-mode log-probabilities of ``ids`` under the learner's trained model, asked
    one step at a time: the learner's process gets step t's inputs only after step
    t - 1 is scored, so it never sees a token before predicting it."""
    cuts = np.flatnonzero(ids == eos) + 1
    sentences = [s for s in np.split(ids, cuts) if s.size]
    T, B = max(s.size for s in sentences), len(sentences)
    targets = np.full((T, B), -1)
    for b, s in enumerate(sentences):
        targets[: s.size, b] = s
    inputs = np.vstack([np.full((1, B), eos), np.where(targets[:-1] >= 0, targets[:-1], eos)])
    out = np.full((T, B), np.nan)
    for t in range(T):
        logits = ctx.call("lm_step", inputs=inputs[t], reset=t == 0)
        arr = np.asarray(logits.detach().double().numpy() if isinstance(logits, torch.Tensor) else logits,
                         dtype=np.float64)
        if arr.shape != (B, V) or not np.all(np.isfinite(arr)):
            raise Fail(f"one step of the trained model gave logits of shape {arr.shape} (finite: "
                       f"{bool(np.all(np.isfinite(arr)))}), expected ({B}, {V}), finite", H_INTERFACE)
        logp = arr - np.logaddexp.reduce(arr, axis=1, keepdims=True)
        alive = targets[t] >= 0
        out[t, alive] = logp[alive, targets[t, alive]]
    return np.concatenate([out[: s.size, b] for b, s in enumerate(sentences)])


def _comparison_case(ctx):
    c = _corpus(ctx.seed)
    V, eos = len(c.vocab), c.vocab.eos_id
    answer = ctx.call("lm_train", train_ids=c.train, V=V, eos_id=eos, seed=ctx.seed)
    if answer.get("type") != "Module":
        raise Fail(f"train_lm returned a {answer.get('type')}, expected the trained LSTMLM",
                   "the starter's docstring says what each function returns")
    lstm = summarize(lockstep_logprobs(ctx, c.test, eos, V)).ppl
    kn = summarize(_kn(c.train, c.test, c.vocab)).ppl
    oracle = c.oracle_ppl("test")
    text = f"test perplexity: LSTM {lstm:.3f}, KN trigram {kn:.3f}, oracle {oracle:.3f} (scored by the grader)"
    if lstm < 0.98 * oracle:
        raise Fail(text + " — below the oracle", H_ORACLE)
    if not lstm < kn:
        raise Fail(text + " — the LSTM does not beat the trigram", f"the model did not learn enough: {EQ_TRAIN}",
                   "neutral")
    return text + f" ({100 * (1 - lstm / kn):.0f}% lower than the trigram)"


CASES = [
    Case("perplexity", _perplexity_case(False), EQ_PPL, str(TOL_PPL)),
    Case("perplexity with a zero-probability token", _perplexity_case(True), EQ_PPL),
    Case("Kneser-Ney trigram, a toy corpus", _kn_case("toy"), EQ_KN, str(TOL_LP)),
    Case("Kneser-Ney trigram, a random corpus with unseen words", _kn_case("random"), EQ_KN, str(TOL_LP)),
    Case(SYNTHETIC, _kn_case("synthetic"), EQ_KN, str(TOL_LP), points=2),
    Case(INTERFACE, _interface_case, EQ_SCORING),
    Case(SCORING, _scoring_case, EQ_SCORING, str(TOL_LM), points=2),
    Case("the LSTM LM beats the trigram (perplexity)", _comparison_case, EQ_TRAIN,
         "oracle ≤ LSTM < KN trigram", (INTERFACE,), seconds=90, points=3),
]
