"""ARPA export/import, checked against KenLM's own reader (the `kenlm` package)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError
from seqlm.ngram import MLE, KneserNey, ModifiedKneserNey, WittenBell, load_arpa, write_arpa

LOG10 = math.log(10)

# Written by hand: backoff weights, and most n-grams missing so that scoring must back off
# (e.g. "a c </s>": no trigram, no bigram "c </s>" -> bow(a c) is absent (0), bow(c) = -0.1).
HAND_ARPA = """\
\\data\\
ngram 1=6
ngram 2=6
ngram 3=3

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.5
-0.7\t</s>
-0.6\ta\t-0.3
-0.8\tb\t-0.2
-1.2\tc\t-0.1

\\2-grams:
-0.3\t<s> a\t-0.25
-0.5\ta b\t-0.15
-0.4\tb </s>
-0.9\tb a\t-0.05
-0.6\ta c
-0.45\t<unk> b

\\3-grams:
-0.2\t<s> a b
-0.1\ta b </s>
-0.35\tb a b

\\end\\
"""
SENTENCES = ["a b", "a c", "b a c b", "c c", "a b a b", "x a", "<unk> b a b", "", "b a b a c"]

TRAIN = ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog",
         "the <unk> sat", "on the mat the cat sat", "a dog saw the <unk> on a log",
         "cat", "the cat", "dog dog dog"]


def kenlm_model(path):
    kenlm = pytest.importorskip("kenlm")
    return kenlm.Model(str(path))


def per_sentence_log10(model, vocab, sentences):
    out = []
    for s in sentences:
        ids = vocab.encode(s.split() + ["<eos>"])
        out.append(model.score(ids, "sentence").sum() / LOG10)
    return np.array(out)


def test_hand_written_arpa_scores_as_kenlm_scores_it(tmp_path):
    path = tmp_path / "hand.arpa"
    path.write_text(HAND_ARPA)
    m = load_arpa(path)
    assert m.order == 3 and m.vocab.tokens == ("<unk>", "<eos>", "a", "b", "c")
    assert m.num_parameters() == 5 + 6 + 3 + 7          # entries (<s> is not predicted) + backoffs
    # Hand-checked: p(</s> | a c) = bow(a c) [absent: 0] + bow(c) + p(</s>) = -0.1 - 0.7
    lp = m.score(m.vocab.encode("a c <eos>".split())) / LOG10
    assert lp == pytest.approx([-0.3, -0.6 + -0.25, -0.1 - 0.7], abs=1e-12)
    k = kenlm_model(path)
    for s in SENTENCES:
        ids = m.vocab.encode(s.split() + ["<eos>"])
        ours = m.score(ids) / LOG10
        theirs = [p for p, _, _ in k.full_scores(s, bos=True, eos=True)]
        assert ours == pytest.approx(theirs, abs=1e-6), s


def test_words_outside_the_arpa_file_score_as_unk(tmp_path):
    path = tmp_path / "hand.arpa"
    path.write_text(HAND_ARPA)
    vocab = Vocabulary(["<unk>", "<eos>", "a", "b", "c", "d"])
    m = load_arpa(path, vocab)
    d, unk = m.score(vocab.encode("d b".split())), m.score(vocab.encode("<unk> b".split()))
    assert d == pytest.approx(unk, abs=0)
    with pytest.raises(SeqlmError, match="not in the given vocabulary"):
        load_arpa(path, Vocabulary(["<unk>", "<eos>", "a", "b"]))


@pytest.mark.parametrize("cls,order", [(ModifiedKneserNey, 3), (KneserNey, 4), (WittenBell, 2),
                                       (ModifiedKneserNey, 5)])  # KenLM reads order >= 2
def test_export_loads_in_kenlm_with_same_scores(tmp_path, cls, order):
    vocab = Vocabulary.build(TRAIN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # tiny corpus: discount fallbacks
        model = cls(order).fit(vocab.encode_lines(TRAIN), vocab)
    path = tmp_path / "m.arpa"
    write_arpa(model, path)
    test = ["the cat sat on the log", "a <unk> dog", "zebra on the mat", "", "dog"]
    ours = per_sentence_log10(model, vocab, test)
    # seqlm reads its own file back to the same numbers (8 significant digits in the file).
    back = load_arpa(path, vocab)
    assert per_sentence_log10(back, vocab, test) == pytest.approx(ours, abs=1e-6)
    k = kenlm_model(path)
    theirs = np.array([k.score(s, bos=True, eos=True) for s in test])
    assert np.abs(ours - theirs).max() <= 1e-4
    n = sum(len(s.split()) + 1 for s in test)
    ppl_ours = model.perplexity(vocab.encode_lines(test)).ppl
    assert ppl_ours == pytest.approx(10 ** (-theirs.sum() / n), rel=1e-5)


def test_export_refuses_what_arpa_cannot_hold(tmp_path):
    vocab = Vocabulary.build(TRAIN)
    ids = vocab.encode_lines(TRAIN)
    with pytest.raises(SeqlmError, match="backoff model"):
        write_arpa(MLE(2).fit(ids, vocab), tmp_path / "x.arpa")
    chars = Vocabulary.build(["a b"], level="char")          # has the token " "
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ModifiedKneserNey(2).fit(chars.encode_lines(["a b"]), chars)
    with pytest.raises(SeqlmError, match="cannot be written"):
        write_arpa(m, tmp_path / "c.arpa")
    assert not (tmp_path / "c.arpa").exists()


@pytest.mark.filterwarnings("ignore:.*no <unk> unigram")
@pytest.mark.parametrize("text,match", [
    ("hello\n", "no \\\\data\\\\"),
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1 a\n\\end\\\n", "declares 2 1-grams, found 1"),
    ("\\data\\\nngram 1=1\n\n\\1-grams:\n-1 a\n", "no \\\\end"),
    ("\\data\\\nngram 1=1\n\n\\1-grams:\nx a\n\\end\\\n", "malformed number"),
    ("\\data\\\nngram 1=1\nngram 2=1\n\\1-grams:\n-1 a\n\\2-grams:\n-1 b a\n\\end\\\n",
     "has a word"),
])
def test_malformed_arpa_is_a_one_line_user_error(tmp_path, text, match):
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(SeqlmError, match=match) as e:
        load_arpa(path, Vocabulary(["<unk>", "<eos>", "a"]))
    assert "\n" not in str(e.value)
    with pytest.raises(SeqlmError, match="not found"):
        load_arpa(tmp_path / "missing.arpa")


MISSING = """\\data\\
ngram 1=5
ngram 2=3
ngram 3=2

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.5
-0.7\t</s>
-0.6\ta\t-0.3
-0.8\tb\t-0.2

\\2-grams:
-0.3\t<s> a\t-0.25
-0.5\ta b\t-0.15
-0.4\tb </s>

\\3-grams:
-0.2\t<s> a b
-0.11\t{last}

\\end\\
"""


def test_missing_suffix_still_finds_the_longer_ngram(tmp_path):
    # "a b a" is stored but its suffix "b a" is not (a pruned file). KenLM inserts a blank
    # "b a" and finds the trigram; seqlm finds it too. Hand-computed log10 probabilities:
    #   a | <s>      -0.3  (bigram)
    #   b | <s> a    -0.2  (trigram)
    #   a | a b      -0.11 (trigram, despite the missing "b a")
    #   </s> | b a   no "b a </s>", no "a </s>": bow("b a") [absent, 0] + bow("a") + p(</s>)
    #                = -0.3 - 0.7
    path = tmp_path / "pruned.arpa"
    path.write_text(MISSING.format(last="a b a"))
    m = load_arpa(path)
    lp = m.score(m.vocab.encode("a b a <eos>".split())) / LOG10
    assert lp == pytest.approx([-0.3, -0.2, -0.11, -1.0], abs=1e-12)


def test_missing_context_is_refused_as_kenlm_does(tmp_path):
    # KenLM: "The context of every 3-gram should appear as a 2-gram".
    path = tmp_path / "bad.arpa"
    path.write_text(MISSING.format(last="b a b"))
    with pytest.raises(SeqlmError, match="'b a b' has no 2-gram context entry"):
        load_arpa(path)
