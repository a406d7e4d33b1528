"""Corpus layouts on raw text the tests write themselves: PREFIX.SPLIT.EXT folders, PTB and
WikiText names, explicit files, TOML corpus files, and one-line errors for bad folders."""
from __future__ import annotations

import json

import pytest
from cli_helpers import one_line_error, seqlm

from seqlm.data import load_corpus
from seqlm.data.layout import find_split_files
from seqlm.data.spec import CorpusSpec, corpus_spec
from seqlm.data.tokenize import Tokenizer
from seqlm.errors import SeqlmError

# Raw prose: punctuation, mixed case, Unicode (accents, CJK, curly quotes, an em dash), CRLF.
TRAIN = ("The cat sat on the mat.\r\n“Well,” said the Cat — “don’t go!”\r\n"
         "Ça va? Straße, naïve café; 東京 3.14 and 1,000 cats.\n")
VALID = "the cat said: well.\r\nUnseen words here!\n"
TEST = "The mat, the cat.\n"


def write(d, names, texts=(TRAIN, VALID, TEST)):
    d.mkdir(parents=True, exist_ok=True)
    for name, text in zip(names, texts):
        (d / name).write_bytes(text.encode("utf-8"))
    return d


# Raw prose reads with the words tokenizer whatever the files are called (the text decides,
# not the names: docs/data.md), every line ending with <eos>.
_WORDS = Tokenizer("words", False)
EXPECTED_TOKENS = tuple(sum(len(_WORDS(line)) + 1 for line in text.splitlines()) for text in (TRAIN, VALID, TEST))


@pytest.mark.parametrize("names", [
    ("novel.train.txt", "novel.valid.txt", "novel.test.txt"),
    ("my.book.train.raw", "my.book.valid.raw", "my.book.test.raw"),
    ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
    ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
    ("wiki.train.raw", "wiki.valid.raw", "wiki.test.raw"),
    ("train.txt", "valid.txt", "test.txt"),
    ("course.train.txt", "course.dev.txt", "course.test.txt"),
    ("train.tokens", "validation.tokens", "test.tokens"),
])
def test_every_folder_layout_reads_the_same_corpus(tmp_path, names):
    d = write(tmp_path / "c", names)
    files = find_split_files(d)
    assert [files[s].name for s in ("train", "valid", "test")] == list(names)
    c = load_corpus(d)
    assert (c.train.size, c.valid.size, c.test.size) == EXPECTED_TOKENS
    assert "\r" not in "".join(c.vocab.tokens)  # CRLF line ends are line ends
    assert c.spec.type == "directory" and c.spec.path == str(d.resolve())


def test_explicit_files_and_toml_spec(tmp_path):
    d = write(tmp_path / "any", ("a.txt", "b.text", "c.md"))  # names no layout would find
    c = load_corpus(train=d / "a.txt", valid=d / "b.text", test=d / "c.md")
    assert (c.train.size, c.valid.size, c.test.size) == EXPECTED_TOKENS
    toml = tmp_path / "corpus.toml"
    toml.write_text('train = "any/a.txt"\nvalid = "any/b.text"\ntest = "any/c.md"\n'
                    'tokenizer = "words"\nlowercase = true\nmax-vocab = 12\n')
    t = load_corpus(toml)
    assert t.spec.type == "files" and t.spec.tokenizer == "words" and t.spec.lowercase
    assert len(t.vocab) == 12 and t.vocab.tokenizer.kind == "words"
    assert all(tok == tok.lower() for tok in t.vocab.tokens)
    # a flag overrides the file
    assert load_corpus(toml, max_vocab=20).vocab.max_size == 20
    one = tmp_path / "one.toml"
    (tmp_path / "all.txt").write_text("".join(f"Line {i}, here.\n" for i in range(40)))
    one.write_text('file = "all.txt"\nsplit = [0.5, 0.25, 0.25]\n')
    o = load_corpus(one)
    assert o.spec.type == "file" and o.valid.size == o.test.size == 10 * 6  # Line, i, ",", here, ".", <eos>


@pytest.mark.parametrize("toml, needle", [
    ('train = "a.txt"\n', "valid, test missing"),
    ('file = "a.txt"\ntrain = "a.txt"\nvalid = "a.txt"\ntest = "a.txt"\n', "exactly one"),
    ('fiel = "a.txt"\n', "unknown key 'fiel'"),
    ('file = "a.txt"\nmax_vocab = "ten"\n', "max_vocab must be a int"),
    ('file = [\n', "not valid TOML"),
])
def test_bad_toml_is_one_line(tmp_path, toml, needle):
    (tmp_path / "a.txt").write_text(TRAIN * 20)
    (tmp_path / "c.toml").write_text(toml)
    one_line_error(seqlm("data", "info", str(tmp_path / "c.toml")), "c.toml", needle)


def test_incomplete_ambiguous_and_empty_folders_are_one_line(tmp_path):
    inc = write(tmp_path / "inc", ("novel.train.txt", "novel.valid.txt"))
    one_line_error(seqlm("data", "info", str(inc)), "incomplete corpus folder",
                   "novel.train.txt", "novel.test.txt")
    amb = write(tmp_path / "amb", ("a.train.txt", "a.valid.txt", "a.test.txt"))
    write(amb, ("b.train.txt", "b.valid.txt", "b.test.txt"))
    one_line_error(seqlm("data", "info", str(amb)), "ambiguous", "a.train.txt", "b.train.txt",
                   "--train/--valid/--test")
    two_valid = write(tmp_path / "tv", ("train.txt", "valid.txt", "test.txt"))
    (two_valid / "dev.txt").write_text(VALID)
    one_line_error(seqlm("data", "info", str(two_valid)), "ambiguous valid split", "dev.txt")
    other = write(tmp_path / "other", ("notes.md", "book.txt"))
    one_line_error(seqlm("data", "info", str(other)), "no training file found", "book.txt",
                   "PREFIX.train")


def test_explicit_file_flags_on_the_command_line(tmp_path):
    d = write(tmp_path / "x", ("a.txt", "b.txt", "c.txt"))
    r = seqlm("data", "info", "--train", str(d / "a.txt"), "--valid", str(d / "b.txt"),
              "--test", str(d / "c.txt"), "--json", "--no-choices")
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert (js["train_tokens"], js["valid_tokens"], js["test_tokens"]) == EXPECTED_TOKENS
    one_line_error(seqlm("data", "info", "--train", str(d / "a.txt"), "--valid", str(d / "b.txt")),
                   "--test is missing")
    one_line_error(seqlm("data", "info", str(d), "--train", str(d / "a.txt")), "not both")


def test_spec_round_trips_and_names_synthetic_by_its_own_parameters():
    s = corpus_spec("synthetic:seed=3,train_tokens=5000")
    assert s.synthetic == {"seed": 3, "train_tokens": 5000}
    assert s.label() == "synthetic:seed=3,train_tokens=5000"
    assert corpus_spec("synthetic").label() == "synthetic"
    assert CorpusSpec.from_dict(s.to_dict()) == s
    with pytest.raises(SeqlmError, match="unknown option 'sede'"):
        corpus_spec("synthetic:sede=3")
    with pytest.raises(SeqlmError, match="do not apply"):
        corpus_spec("synthetic", tokenizer="words")
    with pytest.raises(SeqlmError, match="applies to word level"):
        corpus_spec("synthetic", level="char", tokenizer="words")
