"""n-gram models: exact normalisation, hand-computed probabilities, conventions."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError
from seqlm.ngram import (MLE, SMOOTHINGS, AddK, KneserNey, ModifiedKneserNey, WittenBell,
                         build_ngram)

# ---------------------------------------------------------------- toy corpus
# Lines "a b", "a b a", "b", "a c". Vocabulary (by frequency): <unk>=0 <eos>=1 a=2 b=3 c=4, V = 5.
# Padded with <s>:  <s> a b </s> | <s> a b a </s> | <s> b </s> | <s> a c </s>
# Bigram counts: (<s> a)=3 (<s> b)=1 (a b)=2 (a </s>)=1 (a c)=1 (b </s>)=2 (b a)=1 (c </s>)=1
TOY = ["a b", "a b a", "b", "a c"]
pytestmark = pytest.mark.filterwarnings("ignore:.*count-of-counts:UserWarning")
UNK, EOS, A, B, C = range(5)


@pytest.fixture(scope="module")
def toy():
    vocab = Vocabulary.build(TOY)
    assert vocab.tokens == ("<unk>", "<eos>", "a", "b", "c")
    return vocab, vocab.encode_lines(TOY)


def test_toy_bigram_mle(toy):
    vocab, ids = toy
    m = MLE(2).fit(ids, vocab)
    # c(a •) = 4: p(b|a) = 2/4, p(</s>|a) = 1/4, p(a|a) = 0; c(<s> •) = 4: p(a|<s>) = 3/4
    assert math.exp(m.logprob([A], B)) == pytest.approx(0.5, abs=1e-15)
    assert math.exp(m.logprob([A], EOS)) == pytest.approx(0.25, abs=1e-15)
    assert m.logprob([A], A) == -math.inf
    assert math.exp(m.logprob([], A)) == pytest.approx(0.75, abs=1e-15)
    # Unseen context <unk>: every word has probability zero.
    assert np.all(np.isneginf(m.distribution([UNK])))


def test_toy_bigram_add1(toy):
    vocab, ids = toy
    m = AddK(2, k=1).fit(ids, vocab)
    # p(w|h) = (c(h w) + 1) / (c(h •) + V), V = 5: p(b|a) = 3/9, p(unk|a) = 1/9, p(a|<s>) = 4/9
    assert math.exp(m.logprob([A], B)) == pytest.approx(1 / 3, abs=1e-15)
    assert math.exp(m.logprob([A], UNK)) == pytest.approx(1 / 9, abs=1e-15)
    assert math.exp(m.logprob([], A)) == pytest.approx(4 / 9, abs=1e-15)
    # Unseen context: uniform 1/V.
    assert np.allclose(np.exp(m.distribution([UNK])), 0.2, atol=1e-15)


def test_toy_bigram_interpolated_kn(toy):
    vocab, ids = toy
    m = KneserNey(2).fit(ids, vocab)
    # Bigram raw counts 3,1,2,1,1,2,1,1: n1 = 5, n2 = 2  ->  D_2 = 5 / (5 + 2*2) = 5/9.
    # Unigram continuation counts N1+(• w): a {<s>, b} = 2, b {<s>, a} = 2, c {a} = 1,
    #   </s> {a, b, c} = 3, <unk> 0; total 8; n1 = 1, n2 = 2  ->  D_1 = 1 / (1 + 4) = 1/5.
    assert m.discount_table == {1: [0.2] * 3, 2: [pytest.approx(5 / 9)] * 3}
    # γ(ε) = D_1 * 4 / 8 = 1/10, uniform share 1/10 / 5 = 1/50:
    #   p(a) = (2 - 1/5)/8 + 1/50 = 0.245, p(c) = (1 - 1/5)/8 + 1/50 = 0.12,
    #   p(</s>) = (3 - 1/5)/8 + 1/50 = 0.37, p(<unk>) = 0.02.
    uni = np.exp(m.distribution([UNK]))           # <unk> was never a context: unigram
    assert uni == pytest.approx([0.02, 0.37, 0.245, 0.245, 0.12], abs=1e-15)
    # Context a: c(a •) = 4 over 3 types, γ(a) = (5/9)(3/4) = 5/12.
    #   p(b|a) = (2 - 5/9)/4 + (5/12)(0.245) = 13/36 + 49/480 = 667/1440
    #   p(<unk>|a) = (5/12)(1/50) = 1/120
    assert math.exp(m.logprob([A], B)) == pytest.approx(667 / 1440, abs=1e-15)
    assert math.exp(m.logprob([A], UNK)) == pytest.approx(1 / 120, abs=1e-15)
    # Context <s>: (<s> a) = 3, (<s> b) = 1, γ(<s>) = (5/9)(2/4) = 5/18.
    #   p(a|<s>) = (3 - 5/9)/4 + (5/18)(0.245) = 22/36 + 49/720 = 489/720
    assert math.exp(m.logprob([], A)) == pytest.approx(489 / 720, abs=1e-15)


def test_toy_bigram_witten_bell(toy):
    """Interpolated Witten-Bell by hand (Chen & Goodman 1998, eq. 15): the weight
    of the lower order is N1+(h •), the number of distinct words seen after h."""
    vocab, ids = toy
    m = WittenBell(2).fit(ids, vocab)
    # Unigrams (targets): a 4, b 3, c 1, </s> 4, <unk> 0; total 12, N1+(•) = 4 types,
    #   below them the uniform 1/V = 1/5:  p(w) = (c(w) + 4/5) / (12 + 4)
    #   p(<unk>) = 0.05, p(</s>) = 0.3, p(a) = 0.3, p(b) = 0.2375, p(c) = 0.1125.
    uni = np.exp(m.distribution([UNK]))           # <unk> was never a context: unigram
    assert uni == pytest.approx([0.05, 0.3, 0.3, 0.2375, 0.1125], abs=1e-15)
    # Context a: c(a •) = 4 over N1+(a •) = 3 types (b 2, </s> 1, c 1):
    #   p(b|a) = (2 + 3 · 0.2375) / (4 + 3) = 0.3875,  p(<unk>|a) = 3 · 0.05 / 7
    assert math.exp(m.logprob([A], B)) == pytest.approx(0.3875, abs=1e-15)
    assert math.exp(m.logprob([A], UNK)) == pytest.approx(0.15 / 7, abs=1e-15)
    # Context <s>: (<s> a) 3, (<s> b) 1; N1+ = 2:  p(a|<s>) = (3 + 2 · 0.3) / 6 = 0.6,
    #   p(c|<s>) = 2 · 0.1125 / 6 = 0.0375
    assert math.exp(m.logprob([], A)) == pytest.approx(0.6, abs=1e-15)
    assert math.exp(m.logprob([], C)) == pytest.approx(0.0375, abs=1e-15)


# ------------------------------------------------------------- normalisation
ALL = [lambda n: MLE(n), lambda n: AddK(n, k=1.0), lambda n: AddK(n, k=0.1),
       lambda n: KneserNey(n), lambda n: ModifiedKneserNey(n), lambda n: WittenBell(n)]
NAMES = ["mle", "add1", "add0.1", "kn", "mkn", "wb"]


def random_corpus(draw_lines):
    words = [f"w{i}" for i in range(7)] + ["<unk>"]
    return [" ".join(words[i] for i in line) for line in draw_lines]


lines_st = st.lists(st.lists(st.integers(0, 7), min_size=0, max_size=7), min_size=1, max_size=12)


@pytest.mark.parametrize("make", ALL, ids=NAMES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_st, order=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       mode=st.sampled_from(["sentence", "stream"]))
def test_distributions_sum_to_one(make, lines, order, seed, mode):
    text = random_corpus(lines)
    vocab = Vocabulary.build(text)
    ids = vocab.encode_lines(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # tiny corpora: discount fallbacks warn
        model = make(order).fit(ids, vocab, mode=mode)
    rng = np.random.default_rng(seed)
    V = len(vocab)
    contexts = [rng.integers(0, V, size=rng.integers(0, order)) for _ in range(4)]  # mostly unseen
    for t in rng.integers(0, ids.size, size=4):                                     # seen
        contexts.append(ids[max(0, t - order + 1):t])
    for ctx in contexts:
        total = np.exp(model.distribution(ctx)).sum()
        if isinstance(model, MLE) and total == 0.0:
            continue                              # MLE: an unseen context has no distribution
        assert abs(total - 1.0) < 1e-9, (ctx, total)
    # Seen contexts of an MLE model are distributions too: the sentence start always is.
    if isinstance(model, MLE) and mode == "sentence":
        assert abs(np.exp(model.distribution([])).sum() - 1.0) < 1e-9


# ------------------------------------------------------ score vs logprob, modes
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("mode", ["sentence", "stream"])
def test_score_matches_logprob(toy, smoothing, mode):
    vocab, ids = toy
    order = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_ngram(smoothing, order).fit(ids, vocab, mode=mode)
    test = vocab.encode_lines(["a b c", "c a", "b b b a"])
    lp = model.score(test, mode)
    assert lp.shape == test.shape and lp.dtype == np.float64
    start = 0
    for t in range(test.size):
        ctx = test[max(start, t - order + 1):t]
        assert lp[t] == pytest.approx(model.logprob(ctx, int(test[t])), abs=1e-12)
        if mode == "sentence" and test[t] == EOS:
            start = t + 1


def test_first_token_is_predicted_from_sentence_start(toy):
    vocab, ids = toy
    m = ModifiedKneserNey(3).fit(ids, vocab)
    test = vocab.encode_lines(["a b", "a"])
    s = m.score(test, "sentence")
    with pytest.warns(UserWarning, match="fitted in sentence mode"):   # a likely mistake
        r = m.score(test, "stream")
    assert s[0] == r[0] == pytest.approx(m.logprob([], A), abs=1e-15)
    # In sentence mode the second line starts afresh; in stream mode it does not.
    assert s[3] == pytest.approx(m.logprob([], A), abs=1e-15)
    assert r[3] == pytest.approx(m.logprob([B, EOS], A), abs=1e-15)
    assert s[3] != r[3]


def test_mle_zero_probability_is_counted_not_crashed(toy):
    vocab, ids = toy
    m = MLE(2).fit(ids, vocab)
    ev = m.perplexity(vocab.encode_lines(["a a b", "c"]))   # (a a) and (<s> c) unseen
    assert ev.zero_prob == 2 and ev.tokens == 6
    assert ev.ppl == math.inf and math.isfinite(ev.finite_ppl)
    assert "2 of 6 tokens had zero probability" in ev.message()


def test_discount_fallback_warns_not_raises():
    vocab = Vocabulary.build(["a b"])
    ids = vocab.encode_lines(["a b"])
    for cls in (KneserNey, ModifiedKneserNey):
        with pytest.warns(UserWarning, match="count-of-counts"):
            m = cls(3).fit(ids, vocab)
        assert abs(np.exp(m.distribution([2])).sum() - 1) < 1e-12


def test_mkn_discounts_follow_chen_goodman():
    # Count-of-counts n1..n4 = 4, 3, 2, 1 (unigram model: raw counts) ->
    # Y = 4/10, D1 = 1 - 2(.4)(3/4) = .4, D2 = 2 - 3(.4)(2/3) = 1.2, D3+ = 3 - 4(.4)(1/2) = 2.2
    words = ["a", "b", "c", "d", "e", "e", "f", "f", "g", "g", "h", "h", "h",
             "i", "i", "i", "j", "j", "j", "j"]
    lines = [" ".join(words)]
    vocab = Vocabulary.build(lines)
    m = ModifiedKneserNey(1).fit(vocab.encode_lines(lines), vocab)   # <eos> has count 1 too
    # with <eos>: n1 = 5 (a b c d <eos>), n2 = 3, n3 = 2, n4 = 1: Y = 5/11
    Y = 5 / 11
    assert m.discount_table[1] == pytest.approx([1 - 2 * Y * 3 / 5, 2 - 3 * Y * 2 / 3,
                                                 3 - 4 * Y * 1 / 2], abs=1e-12)


def test_bad_input_is_a_user_error(toy):
    vocab, ids = toy
    with pytest.raises(SeqlmError, match="order"):
        ModifiedKneserNey(0)
    with pytest.raises(SeqlmError, match="smoothing"):
        build_ngram("good-turing", 3)
    with pytest.raises(SeqlmError, match="outside the vocabulary"):
        MLE(2).fit(np.array([0, 9, 1]), vocab)
    m = ModifiedKneserNey(2).fit(ids, vocab)
    with pytest.raises(SeqlmError, match="outside the vocabulary"):
        m.score(np.array([2, 5]))
    with pytest.raises(SeqlmError, match="mode"):
        m.score(ids, "bidirectional")
    with pytest.raises(SeqlmError, match="not fitted"):
        MLE(2).score(ids)
    with pytest.raises(SeqlmError, match="empty"):
        MLE(2).fit(np.zeros(0, dtype=np.int64), vocab)
    assert m.score(np.zeros(0, dtype=np.int64)).shape == (0,)


def test_num_parameters_and_fit_returns_self(toy):
    vocab, ids = toy
    m = ModifiedKneserNey(2)
    assert m.fit(ids, vocab) is m and m.vocab is vocab and m.order == 2
    # 5 word unigrams + <s> context... the <s> unigram is never predicted (not a parameter);
    # 8 bigrams; backoff weights for the 4 contexts <s>, a, b, c.
    assert m.num_parameters() == 5 + 8 + 4
