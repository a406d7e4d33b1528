"""Vocabulary: specials, min_freq/max_size, frozen ids, round trips, persistence."""
from __future__ import annotations

import json

import numpy as np
import pytest

from seqlm.data import EOS, UNK, Vocabulary
from seqlm.data.vocab import SCHEMA_VERSION
from seqlm.errors import SeqlmError

LINES = ["the cat sat", "the dog sat", "a cat ran", "the <unk> ran"]


def test_specials_and_frequency_order():
    v = Vocabulary.build(LINES)
    assert v.tokens[:2] == (UNK, EOS) and v.unk_id == 0 and v.eos_id == 1
    # the:3, then cat/sat/ran:2 in first-occurrence order, then dog/a:1
    assert v.tokens[2:] == ("the", "cat", "sat", "ran", "dog", "a")
    assert v.counts[v.index(EOS)] == 4
    assert v.counts[v.index(UNK)] == 1  # the literal <unk> is the same token


def test_min_freq_and_max_size():
    v = Vocabulary.build(LINES, min_freq=2)
    assert set(v.tokens) == {UNK, EOS, "the", "cat", "sat", "ran"}
    assert v.counts[0] == 1 + 2  # literal <unk> + dog + a
    w = Vocabulary.build(LINES, max_size=4)
    assert w.tokens == (UNK, EOS, "the", "cat")
    with pytest.raises(SeqlmError):
        Vocabulary.build(LINES, min_freq=0)
    with pytest.raises(SeqlmError):
        Vocabulary.build(LINES, max_size=1)


def test_frozen_ids_and_unknowns():
    v = Vocabulary.build(LINES)
    ids = v.encode(["the", "zebra", "<unk>", "cat"])
    assert ids.dtype == np.int64
    assert ids.tolist() == [v.index("the"), 0, 0, v.index("cat")]
    assert len(v) == 8 and "zebra" not in v  # encoding never grows the vocabulary
    assert isinstance(v.tokens, tuple) and v.decode(v.encode(v.tokens)) == list(v.tokens)


def test_encode_decode_round_trip():
    v = Vocabulary.build(LINES)
    ids = v.encode_lines(LINES)
    assert ids.size == sum(len(line.split()) + 1 for line in LINES)
    assert v.detokenize(ids) == "".join(line + "\n" for line in LINES)
    assert v.decode(ids)[:4] == ["the", "cat", "sat", EOS]


def test_char_level():
    v = Vocabulary.build(["ab a", "b"], level="char")
    ids = v.encode_lines(["ab a", "b"])
    assert ids.size == 4 + 1 + 1 + 1
    assert v.detokenize(ids) == "ab a\nb\n"
    assert " " in v


def test_save_load(tmp_path):
    v = Vocabulary.build(LINES, level="word")
    p = tmp_path / "vocab.json"
    v.save(p)
    d = json.loads(p.read_text())
    assert d["schema_version"] == SCHEMA_VERSION and d["kind"] == "seqlm.vocabulary"
    w = Vocabulary.load(p)
    assert w == v and w.counts == v.counts and v.diff(w) is None


def test_incompatible_schema_version(tmp_path):
    p = tmp_path / "vocab.json"
    d = Vocabulary.build(LINES).to_dict()
    d["schema_version"] = SCHEMA_VERSION + 1
    p.write_text(json.dumps(d))
    with pytest.raises(SeqlmError, match="schema version"):
        Vocabulary.load(p)
    p.write_text("{not json")
    with pytest.raises(SeqlmError, match="not valid JSON"):
        Vocabulary.load(p)
    with pytest.raises(SeqlmError, match="not found"):
        Vocabulary.load(tmp_path / "missing.json")


def test_diff_and_check_same():
    a = Vocabulary.build(LINES)
    b = Vocabulary.build(LINES + ["zebra zebra zebra zebra"])
    assert "sizes differ" in a.diff(b)
    c = Vocabulary.build(LINES, level="char")
    assert "levels differ" in a.diff(c)
    with pytest.raises(SeqlmError, match="vocabulary mismatch"):
        a.check_same(b)
    a.check_same(Vocabulary.build(LINES))
