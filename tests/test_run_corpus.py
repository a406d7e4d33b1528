"""A run remembers its corpus: eval/score/generate without --data, a --data corpus checked by
fingerprint and vocabulary, the synthetic corpus independent of --seed, character level."""
from __future__ import annotations

import json

import pytest
from cli_helpers import ok, one_line_error, seqlm

from seqlm.data import load_corpus
from seqlm.data.spec import CorpusSpec
from seqlm.errors import SeqlmError
from seqlm.train.run_corpus import corpus_for_run

TINY = ("--preset", "tiny", "--no-progress", "--no-final-eval")


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    """`seqlm train --data synthetic --seed 3`: the seed of the run, not of the corpus."""
    out = tmp_path_factory.mktemp("syn") / "run"
    ok(seqlm("train", "--data", "synthetic", "--seed", "3", *TINY, "--max-steps", "40",
             "--out", str(out)))
    return out


def test_synthetic_corpus_does_not_follow_the_training_seed(synthetic_run):
    config = json.loads((synthetic_run / "checkpoint" / "config.json").read_text())
    rec = config["corpus"]
    assert config["seed"] == 3 and rec["synthetic"] == {"seed": 0}
    assert rec["fingerprint"] == load_corpus("synthetic").fingerprint
    assert rec["tokens"]["test"] == load_corpus("synthetic").test.size
    assert CorpusSpec.from_dict(rec).label() == "synthetic"


def test_eval_score_generate_without_and_with_data(synthetic_run):
    run = str(synthetic_run / "checkpoint")  # the run has no best/ yet (--max-steps): name it
    common = ("--split", "test", "--mode", "sentence", "--json")
    own = json.loads(ok(seqlm("eval", "--checkpoint", run, *common)).stdout)
    given = ok(seqlm("eval", "--checkpoint", run, "--data", "synthetic", *common))
    assert json.loads(given.stdout)["test_ppl"] == own["test_ppl"] and given.stderr == ""
    assert own["data"] == "synthetic" and own["fingerprint"] == load_corpus("synthetic").fingerprint
    s = json.loads(ok(seqlm("score", "--checkpoint", run, "--mode", "sentence", "--json")).stdout)
    assert s["n_tokens"] == own["test_tokens"] and s["ppl"] == pytest.approx(own["test_ppl"], rel=1e-9)
    s2 = json.loads(ok(seqlm("score", "--checkpoint", run, "--data", "synthetic", "--mode", "sentence",
                             "--json")).stdout)
    assert s2["total_logprob"] == s["total_logprob"]
    g = ok(seqlm("generate", "--checkpoint", run, "--max-tokens", "30", "--seed", "1"))
    assert "<eos>" not in g.stdout and g.stdout.strip()
    words = set(load_corpus("synthetic").vocab.tokens)
    assert set(g.stdout.split()) <= words
    g2 = ok(seqlm("generate", "--checkpoint", run, "--data", "synthetic", "--max-tokens", "30",
                  "--seed", "1"))   # --data is only checked: the same sample, no note
    assert g2.stdout == g.stdout and "note:" not in g2.stderr


def test_a_corpus_with_another_vocabulary_is_refused_in_one_line(synthetic_run, tmp_path):
    run = str(synthetic_run / "checkpoint")
    one_line_error(seqlm("eval", "--checkpoint", run, "--data", "synthetic:seed=3"),
                   "synthetic:seed=3", "cannot be scored honestly", "vocabulary mismatch",
                   "trained on synthetic")
    one_line_error(seqlm("generate", "--checkpoint", run, "--data", "synthetic:seed=3"),
                   "synthetic:seed=3", "vocabulary mismatch", "trained on synthetic")
    d = tmp_path / "text"
    d.mkdir()
    for s in ("train", "valid", "test"):
        (d / f"{s}.txt").write_text("the dog sees the cat\n")
    one_line_error(seqlm("score", "--checkpoint", run, "--data", str(d)), "vocabulary mismatch")
    one_line_error(seqlm("eval", "--checkpoint", run, "--data", "synthetic", "--tokenizer", "words"),
                   "do not apply")


def test_same_vocabulary_other_text_is_scored_with_a_note(tmp_path, one_thread):
    d = tmp_path / "c"
    d.mkdir()
    lines = ["a b c d .", "b c d a ,", "c d a b !"] * 30
    for s in ("train", "valid", "test"):
        (d / f"{s}.txt").write_text("\n".join(lines) + "\n")
    ok(seqlm("train", "--data", str(d), *TINY, "--max-steps", "5", "--out", str(tmp_path / "run")))
    other = tmp_path / "o"
    other.mkdir()
    (other / "train.txt").write_text("\n".join(lines) + "\n")  # the same training text: same vocabulary
    for s in ("valid", "test"):                                 # new held-out text
        (other / f"{s}.txt").write_text("d c b a .\nzebra a b\n")
    r = ok(seqlm("eval", "--checkpoint", str(tmp_path / "run" / "checkpoint"), "--data", str(other)))
    assert "note:" in r.stderr and "is not the corpus" in r.stderr and "fingerprint" in r.stderr
    # the run's corpus moved away: one line that says to pass --data
    d.rename(tmp_path / "moved")
    one_line_error(seqlm("eval", "--checkpoint", str(tmp_path / "run" / "checkpoint")),
                   "cannot load the run's corpus",
                   "--data")


def test_checkpoint_without_a_record_falls_back_to_its_data_field(synthetic_run, tmp_path):
    import shutil
    old = tmp_path / "old"
    shutil.copytree(synthetic_run / "checkpoint", old)
    cfg = json.loads((old / "config.json").read_text())
    del cfg["corpus"]
    (old / "config.json").write_text(json.dumps(cfg))
    from seqlm.data.vocab import Vocabulary
    corpus, note = corpus_for_run(cfg, Vocabulary.load(old / "vocab.json"), old)
    assert corpus.fingerprint == load_corpus("synthetic").fingerprint and note is None
    del cfg["data"]
    with pytest.raises(SeqlmError, match="does not record its corpus; pass --data"):
        corpus_for_run(cfg, Vocabulary.load(old / "vocab.json"), old)


def test_character_level_generates_lines_and_reports_bits_per_character(tmp_path):
    text = "".join(f"To be, or not {i % 3}.\nThat is the question!\n" for i in range(60))
    (tmp_path / "play.txt").write_text(text.replace("\n", "\r\n"))  # CRLF on disk
    run = str(tmp_path / "run")
    ok(seqlm("train", "--data", str(tmp_path / "play.txt"), "--level", "char", *TINY,
             "--epochs", "1", "--out", run))
    g = ok(seqlm("generate", "--checkpoint", run, "--max-tokens", "300", "--seed", "0",
                 "--temperature", "0.5", "--prompt", "To"))
    assert "<eos>" not in g.stdout and "\r" not in g.stdout
    assert g.stdout.startswith("To") and g.stdout.count("\n") >= 2   # line breaks where <eos> was
    e = ok(seqlm("eval", "--checkpoint", run, "--split", "test"))
    assert "bits/char" in e.stdout and "bits/token" not in e.stdout
    js = json.loads(ok(seqlm("eval", "--checkpoint", run, "--json")).stdout)
    assert js["level"] == "char"
    # one token per character, the line end included: bits per char = bits per token here
    assert js["test_bits_per_char"] == pytest.approx(js["test_bits_per_token"], rel=1e-12)
    s = ok(seqlm("score", "--checkpoint", run))
    assert "bits/char" in s.stdout
    sj = json.loads(ok(seqlm("score", "--checkpoint", run, "--json")).stdout)
    assert sj["bits_per_char"] == pytest.approx(js["test_bits_per_char"], rel=1e-9)
