"""Corpora from directories, single files and registry names, and every bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from seqlm.data import load_corpus
from seqlm.data.corpus import read_lines
from seqlm.errors import SeqlmError


def seqlm(*args, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "seqlm", *args], capture_output=True, text=True,
                          env=e, timeout=120)


def assert_user_error(r, *needles):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def write_splits(d, texts, layout="{}.txt"):
    d.mkdir(parents=True, exist_ok=True)
    for split, text in zip(("train", "valid", "test"), texts):
        (d / layout.format(split)).write_text(text, encoding="utf-8")
    return d


# ------------------------------------------------------------------ reading
def test_ptb_info_json(ptb_dir):
    r = seqlm("data", "info", str(ptb_dir), "--json")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    assert (d["train_tokens"], d["valid_tokens"], d["test_tokens"], d["vocab_size"]) == \
        (929_589, 73_760, 82_430, 10_000)


def test_ptb_by_name(ptb_dir):
    c = load_corpus("ptb", root=ptb_dir.parent)
    assert c.name == "ptb" and c.train.size == 929_589


@pytest.mark.parametrize("layout", ["{}.txt", "ptb.{}.txt", "wiki.{}.tokens"])
def test_directory_layouts(tmp_path, layout):
    d = write_splits(tmp_path / "c", ["a b\nb c\n", "a x\n", "c\n"], layout)
    c = load_corpus(d)
    assert (c.train.size, c.valid.size, c.test.size) == (6, 3, 2)
    assert c.oov == {"train": 0, "valid": 1, "test": 0}
    assert c.info()["valid_oov_rate"] == pytest.approx(1 / 3)
    assert c.chars == {"train": 8, "valid": 4, "test": 2}


def test_missing_trailing_newline_is_accepted(tmp_path):
    d = write_splits(tmp_path / "c", ["a b\nb c", "a", "c c c"])
    c = load_corpus(d)
    # each last line still gets its <eos>; a file without any newline is one line
    assert (c.train.size, c.valid.size, c.test.size) == (6, 2, 4)
    assert c.vocab.decode(c.valid) == ["a", "<eos>"]
    assert read_lines(d / "train.txt") == read_lines(write_splits(tmp_path / "n", ["a b\nb c\n"] * 3)
                                                     / "train.txt")


def test_line_ends(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("a\r\nb\u2028c\n\nd\n".encode())
    # only \n ends a line; \r\n is a line end too; U+2028 is just a character
    assert read_lines(p) == ["a", "b\u2028c", "", "d"]


def test_single_file_split_word_and_char(tmp_path):
    p = tmp_path / "raw.txt"
    p.write_text("".join(f"w{i % 7} x\n" for i in range(100)))
    c = load_corpus(p)
    assert (c.train.size, c.valid.size, c.test.size) == (90 * 3, 5 * 3, 5 * 3)
    c = load_corpus(p, split=(0.8, 0.1, 0.1))
    assert (c.train.size, c.valid.size, c.test.size) == (80 * 3, 10 * 3, 10 * 3)
    ch = load_corpus(p, level="char")
    assert ch.level == "char"
    for s in ("train", "valid", "test"):  # every character and every newline is a token
        assert ch.chars[s] == ch.split(s).size
    assert ch.train.size == sum(len(f"w{i % 7} x") + 1 for i in range(90))


def test_single_file_too_short_and_bad_fractions(tmp_path):
    p = tmp_path / "raw.txt"
    p.write_text("a\nb\nc\n")
    with pytest.raises(SeqlmError, match="too few"):
        load_corpus(p)
    p.write_text("a\n" * 100)
    with pytest.raises(SeqlmError, match="fractions"):
        load_corpus(p, split=(0.5, 0.5, 0.5))


def test_registry_lookup_and_missing(tmp_path):
    write_splits(tmp_path / "ptb", ["a b\n", "a\n", "b\n"], "ptb.{}.txt")
    with pytest.raises(SeqlmError, match="damaged copy of dataset 'ptb'.*seqlm data download ptb --force"):
        load_corpus("ptb", root=tmp_path)  # not PTB: never used under its name
    assert load_corpus(tmp_path / "ptb").train.size == 3  # as a folder of its own, it is fine
    (tmp_path / "tiny-shakespeare").mkdir()
    # the right size is not enough: the file is checked by its SHA-256
    (tmp_path / "tiny-shakespeare" / "input.txt").write_text(("First Citizen:\n" * 80_000)[:1_115_394])
    with pytest.raises(SeqlmError, match="damaged copy of dataset 'tiny-shakespeare' \\(sha256"):
        load_corpus("tiny-shakespeare", root=tmp_path)
    from seqlm.data.registry import REGISTRY
    assert REGISTRY["tiny-shakespeare"].level == "char"
    with pytest.raises(SeqlmError) as e:
        load_corpus("wikitext-2", root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "wikitext-2") in msg and "wiki.train.tokens" in msg
    assert "seqlm data download wikitext-2" in msg


# --------------------------------------------------------------- bad input
def test_cli_missing_file_and_directory(tmp_path):
    assert_user_error(seqlm("data", "info", str(tmp_path / "nope.txt")), "nope.txt")
    assert_user_error(seqlm("data", "info", str(tmp_path / "nodir/")), "nodir")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_user_error(seqlm("data", "info", str(empty)), "no training file")
    write_splits(tmp_path / "partial", ["a\n", "a\n", "a\n"])
    (tmp_path / "partial" / "test.txt").unlink()
    assert_user_error(seqlm("data", "info", str(tmp_path / "partial")), "test.txt")


def test_cli_empty_split(tmp_path):
    d = write_splits(tmp_path / "c", ["a b\n", "  \n\n", "a\n"])
    assert_user_error(seqlm("data", "info", str(d)), str(d / "valid.txt"), "empty")


def test_cli_non_utf8_names_file_and_offset(tmp_path):
    d = write_splits(tmp_path / "c", ["a b\n", "a\n", "a\n"])
    (d / "test.txt").write_bytes(b"good line\nbad \xff byte\n")
    assert_user_error(seqlm("data", "info", str(d)), str(d / "test.txt"), "byte offset 14", "0xff")


def test_cli_unknown_dataset():
    assert_user_error(seqlm("data", "info", "penn-treebank"), "unknown dataset", "ptb")


def test_cli_missing_registry_dataset(tmp_path):
    r = seqlm("data", "info", "wikitext-2", env={"SEQLM_DATA": str(tmp_path)})
    assert_user_error(r, str(tmp_path / "wikitext-2"), "seqlm data download wikitext-2")


def test_cli_info_human_and_synthetic_json():
    r = seqlm("data", "info", "synthetic", "--json", "--seed", "2")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["oracle_valid_ppl"] > 1 and d["oracle_test_ppl"] > 1
    assert d["train_tokens"] >= 100_000 and d["vocab_size"] < 50
    r = seqlm("data", "info", "synthetic")
    assert r.returncode == 0 and "oracle ppl" in r.stdout and "valid" in r.stdout


def test_a_hugging_face_dataset_saved_to_disk_is_a_corpus_offline(tmp_path):
    datasets = pytest.importorskip("datasets")  # in the dev extra: CI has it
    saved = tmp_path / "saved"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": ["the cat sat", "a dog ran\nthe end"] * 50}),
        "validation": datasets.Dataset.from_dict({"text": ["the cat ran"] * 5}),
        "test": datasets.Dataset.from_dict({"text": ["a cat sat", "a bird"] * 3})}).save_to_disk(str(saved))
    r = seqlm("data", "info", f"hf:{saved}", "--json", env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["train_tokens"] == 50 * 4 + 50 * (4 + 3) and info["test_oov"] == 3  # <eos> counted; "bird": <unk>
    only = tmp_path / "one"
    datasets.Dataset.from_dict({"body": [f"line {i} of text" for i in range(200)]}).save_to_disk(str(only))
    c = load_corpus(f"hf:{only}")  # one split, one string column: cut 90/5/5
    assert c.train.size == 180 * 5 and c.valid.size == 10 * 5
    assert_user_error(seqlm("data", "info", "hf:"), "expected hf:NAME")


def test_hf_without_the_library_is_one_line_naming_the_extra(tmp_path):
    code = ("import sys; sys.modules['datasets'] = None; from seqlm.cli import main; "
            f"sys.exit(main(['data', 'info', 'hf:{tmp_path}']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "pip install 'seqlm[hf]'" in r.stderr and r.stderr.count("\n") == 1


def test_one_tokenizer_default_for_every_command_raw_text_and_pretokenised(tmp_path, ptb_dir):
    """`seqlm ngram --data book.txt` and `seqlm compare --data book.txt` read the same
    vocabulary; a PTB copy under other file names reads as `--data ptb` does."""
    book = tmp_path / "book.txt"
    book.write_text("".join(f"Alice said, \"Why not {i % 7}?\" The Queen laughed.\n" for i in range(300)))
    infos = {}
    for cmd in (["data", "info", str(book), "--json"], ["ngram", "--data", str(book), "--order", "2", "--json"]):
        r = seqlm(*cmd)
        assert r.returncode == 0, r.stderr
        infos[cmd[0]] = json.loads(r.stdout)
    from seqlm.compare.runner import compare_spec
    from seqlm.compare.presets import get_preset
    c = load_corpus(compare_spec(str(book), get_preset("quick")))
    assert infos["data"]["tokenizer"] == c.spec.tokenizer == "words"
    assert infos["data"]["vocab_size"] == len(c.vocab)
    renamed = tmp_path / "ptb-renamed"
    renamed.mkdir()
    for split in ("train", "valid", "test"):
        (renamed / f"{split}.txt").write_bytes((ptb_dir / f"ptb.{split}.txt").read_bytes())
    a, b = load_corpus(renamed), load_corpus(str(ptb_dir))
    assert a.spec.tokenizer == "whitespace" and a.vocab.tokens == b.vocab.tokens
    assert a.train.size == b.train.size == 929_589
