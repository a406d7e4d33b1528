"""Tokenisers and vocabulary limits: what they cut, that the vocabulary file keeps them, and that
an n-gram and a neural model read text through one and the same vocabulary."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from cli_helpers import ok, seqlm

from seqlm.data import Vocabulary, load_corpus
from seqlm.data.tokenize import Tokenizer
from seqlm.errors import SeqlmError

TRAIN = ("The cat sat on the mat.\r\n“Well,” said the Cat — “don’t go!”\r\n"
         "Ça va? Straße, naïve café; 東京 3.14 and 1,000 cats.\n") * 3
VALID = "The cat said: well.\r\nthe CAT sat, 2.5 times!\n"
TEST = "Ça va, the mat.\n"


def write_corpus(d):
    d.mkdir(parents=True, exist_ok=True)
    for split, text in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        (d / f"raw.{split}.txt").write_bytes(text.encode("utf-8"))
    return d


def test_words_tokenizer_splits_punctuation_numbers_and_unicode():
    t = Tokenizer("words")
    assert t("“Well,” said the Cat — “don’t go!”\r") == \
        ["“", "Well", ",", "”", "said", "the", "Cat", "—", "“", "don’t", "go", "!", "”"]
    assert t("Ça va? Straße 3.14, 1,000 and 3rd well-known_x 東京") == \
        ["Ça", "va", "?", "Straße", "3.14", ",", "1,000", "and", "3rd", "well-known_x", "東京"]
    assert Tokenizer("words", lowercase=True)("ÇA Va") == ["ça", "va"]
    assert Tokenizer("whitespace")("said, the\tCat.\r") == ["said,", "the", "Cat."]
    assert Tokenizer("chars", lowercase=True)("Ab\r") == ["a", "b"]
    assert Tokenizer("words").join(["“", "Well", ",", "”", "said", "(", "it", ")", "."]) == \
        "“ Well, ” said (it)."
    with pytest.raises(SeqlmError, match="unknown tokenizer"):
        Tokenizer("bpe")


def test_vocabulary_file_keeps_tokenizer_case_and_limits(tmp_path):
    c = load_corpus(write_corpus(tmp_path / "c"), tokenizer="words", lowercase=True, min_freq=2,
                    max_vocab=12)
    v = c.vocab
    assert len(v) == 12 and v.tokenizer == Tokenizer("words", True)
    assert all(t == t.lower() for t in v.tokens) and "," in v and "cat" in v
    assert all(n >= 2 for n in v.counts[2:])
    v.save(tmp_path / "vocab.json")
    d = json.loads((tmp_path / "vocab.json").read_text())
    assert (d["schema_version"], d["tokenizer"], d["lowercase"], d["min_freq"], d["max_size"]) == \
        (2, "words", True, 2, 12)
    back = Vocabulary.load(tmp_path / "vocab.json")
    assert back == v and back.tokenize("The CAT, sat") == ["the", "cat", ",", "sat"]
    # a version-1 file (before tokenizers were saved) reads as whitespace, case kept
    d1 = {"schema_version": 1, "kind": "seqlm.vocabulary", "level": "word", "tokens": ["<unk>", "<eos>", "a"]}
    (tmp_path / "v1.json").write_text(json.dumps(d1))
    assert Vocabulary.load(tmp_path / "v1.json").tokenizer == Tokenizer("whitespace", False)
    # the same tokens cut another way are another vocabulary, and the diff says so
    other = Vocabulary(list(v.tokens), "word", tokenizer=Tokenizer("whitespace", True))
    assert v != other and "tokenizers differ" in v.diff(other)


def test_each_option_changes_vocabulary_and_oov_as_it_should(tmp_path):
    d = write_corpus(tmp_path / "c")
    ws = load_corpus(d, tokenizer="whitespace")
    words = load_corpus(d, tokenizer="words")
    assert load_corpus(d).vocab == words.vocab  # raw text: words is the default
    lower = load_corpus(d, tokenizer="words", lowercase=True)
    assert "sat," not in words.vocab and "sat" in words.vocab and "mat." in ws.vocab
    assert len(lower.vocab) < len(words.vocab)          # The/the, Cat/cat merged
    assert lower.oov["valid"] < words.oov["valid"] < ws.oov["valid"]
    capped = load_corpus(d, tokenizer="words", max_vocab=5)
    assert capped.vocab.tokens[2:] == words.vocab.tokens[2:5]   # the most frequent kept
    assert capped.oov["train"] == sum(c for c in words.vocab.counts[5:])
    rare = load_corpus(d, tokenizer="words", min_freq=4)
    assert all(c >= 4 for c in rare.vocab.counts[2:]) and len(rare.vocab) < len(words.vocab)
    # counts are over <eos>-terminated lines; CRLF never leaks into a token
    assert all("\r" not in t for t in ws.vocab.tokens)
    with pytest.raises(SeqlmError, match="max-vocab must be >= 3"):
        load_corpus(d, max_vocab=2)
    with pytest.raises(SeqlmError, match="min-freq must be >= 1"):
        load_corpus(d, min_freq=0)
    with pytest.raises(SeqlmError, match="applies to word level"):
        load_corpus(d, level="char", tokenizer="words")


@pytest.mark.parametrize("opts", [
    {}, {"tokenizer": "words"}, {"tokenizer": "words", "lowercase": True},
    {"tokenizer": "words", "max_vocab": 10}, {"min_freq": 2}, {"level": "char", "lowercase": True},
])
def test_ngram_and_neural_model_share_one_vocabulary(tmp_path, opts, one_thread):
    from seqlm.lm.build import build_model
    from seqlm.eval import score_tokens
    from seqlm.ngram import ModifiedKneserNey, load_arpa, write_arpa
    c = load_corpus(write_corpus(tmp_path / "c"), **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a toy corpus leaves some discounts undefined
        kn = ModifiedKneserNey(order=2).fit(c.train, c.vocab)
    model = build_model({"kind": "rnn", "cell": "gru", "vocab_size": len(c.vocab), "embed_size": 4,
                         "hidden_size": 4}, seed=0).eval()
    assert kn.vocab is c.vocab and model.config.vocab_size == len(c.vocab)
    # new text goes through the vocabulary (tokenizer, case, limits) for both models alike
    ids = c.vocab.encode_lines(["THE cat, said: ‘hello’ 東京!"])
    assert ids[-1] == c.vocab.eos_id and ids.max() < len(c.vocab)
    assert np.isfinite(kn.score(ids, "sentence")).all()
    lp = score_tokens(model, ids, "stream")
    assert lp.shape == ids.shape and np.isfinite(lp).all()
    if c.level == "word":   # the ARPA export carries the vocabulary and reads back the same ids
        write_arpa(kn, tmp_path / "m.arpa")
        back = load_arpa(tmp_path / "m.arpa", vocab=c.vocab)
        assert back.score(ids, "sentence") == pytest.approx(kn.score(ids, "sentence"), abs=1e-5)


def test_data_info_reports_the_oov_rate_of_each_choice(tmp_path):
    d = write_corpus(tmp_path / "c")
    r = ok(seqlm("data", "info", d, "--json"))
    js = json.loads(r.stdout)
    rows = {(row["tokenizer"], row["lowercase"]): row for row in js["choices"]}
    assert set(rows) == {("whitespace", False), ("whitespace", True), ("words", False), ("words", True)}
    assert rows[("words", False)]["chosen"] and not rows[("whitespace", False)]["chosen"]  # raw text
    for (tok, lower), row in rows.items():   # every cell is what loading with that choice gives
        full = row["cells"][0]
        c = load_corpus(d, tokenizer=tok, lowercase=lower)
        assert (full["vocab_size"], full["oov"]) == (len(c.vocab), c.oov["valid"])
        cap = next(x for x in row["cells"] if x["max_vocab"] == 10_000)
        assert cap["oov"] == full["oov"]   # a cap above the vocabulary changes nothing
    h = ok(seqlm("data", "info", d, "--tokenizer", "words", "--lowercase", "--max-vocab", "9"))
    assert "words tokenizer, lowercased, max-vocab 9" in h.stdout
    assert "validation OOV rate by vocabulary choice" in h.stdout and "max-vocab 9" in h.stdout
    assert "* words" in h.stdout


@pytest.mark.parametrize("flags, kwargs", [
    ((), {}),
    (("--tokenizer", "words"), {"tokenizer": "words"}),
    (("--tokenizer", "words", "--lowercase"), {"tokenizer": "words", "lowercase": True}),
    (("--tokenizer", "words", "--max-vocab", "10"), {"tokenizer": "words", "max_vocab": 10}),
    (("--min-freq", "2"), {"min_freq": 2}),
])
def test_cli_ngram_and_train_save_one_and_the_same_vocabulary(tmp_path, flags, kwargs):
    """The same flags on `seqlm ngram` and `seqlm train`: the vocabulary file beside the ARPA
    model and the checkpoint's are one vocabulary (tokens, tokenizer, case, limits), and both
    models score the test split over the same tokens."""
    d = write_corpus(tmp_path / "c")
    ng = json.loads(ok(seqlm("ngram", "--data", d, *flags, "--order", "2", "--arpa",
                             tmp_path / "m.arpa", "--json")).stdout)
    ok(seqlm("train", "--data", d, *flags, "--preset", "tiny", "--max-steps", "2", "--no-progress",
             "--no-final-eval", "--out", tmp_path / "run"))
    a = Vocabulary.load(tmp_path / "m.vocab.json")
    b = Vocabulary.load(tmp_path / "run" / "checkpoint" / "vocab.json")
    want = load_corpus(d, **kwargs).vocab
    assert a == b == want and a.diff(b) is None
    assert (a.max_size, a.min_freq) == (b.max_size, b.min_freq) == (want.max_size, want.min_freq)
    assert a.tokenizer == Tokenizer(kwargs.get("tokenizer", "words"), kwargs.get("lowercase", False))  # raw text
    ev = json.loads(ok(seqlm("eval", "--checkpoint", tmp_path / "run" / "checkpoint", "--split", "test",
                             "--json")).stdout)   # no --data: the run's own corpus and settings
    assert ev["test_tokens"] == ng["test_tokens"] and ng["vocab_size"] == len(want)
