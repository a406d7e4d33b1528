"""`seqlm ngram` through a real subprocess, on a small corpus written to tmp_path."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from seqlm.data import corpus_from_directory
from seqlm.ngram import build_ngram, load_arpa

TRAIN = ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog", "the cat ran",
         "a dog ran on the mat", "the mat sat", "a log", "the dog saw the cat on a log"]
VALID = ["the cat sat on a log", "a dog saw the mat", "the bird sat"]
TEST = ["a cat sat on the dog", "the log ran", "a bird saw a cat"]
pytestmark = pytest.mark.filterwarnings("ignore:.*count-of-counts:UserWarning")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    for name, lines in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        (d / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return d


def seqlm(*args):
    return subprocess.run([sys.executable, "-m", "seqlm", "ngram", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_json_output_matches_the_library(data):
    r = seqlm("--data", data, "--order", 3, "--smoothing", "mkn", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    corpus = corpus_from_directory(data)
    m = build_ngram("mkn", 3).fit(corpus.train, corpus.vocab)
    assert out["valid_ppl"] == pytest.approx(m.perplexity(corpus.valid).ppl, rel=1e-12)
    assert out["test_ppl"] == pytest.approx(m.perplexity(corpus.test).ppl, rel=1e-12)
    assert out["valid_tokens"] == corpus.valid.size == 17      # 14 words + 3 <eos>
    assert out["test_tokens"] == corpus.test.size
    assert out["build_seconds"] >= 0 and out["score_seconds"] >= 0
    assert out["mode"] == "sentence" and out["num_parameters"] == m.num_parameters()


def test_human_output_and_stream_mode(data):
    r = seqlm("--data", data, "--order", 2, "--smoothing", "kn", "--mode", "stream")
    assert r.returncode == 0, r.stderr
    assert "stream mode" in r.stdout
    lines = r.stdout.splitlines()
    assert any(line.split()[0] == "valid" for line in lines[1:])
    assert "built in" in lines[-1]


def test_mle_infinite_perplexity_is_null_with_counts(data):
    r = seqlm("--data", data, "--order", 2, "--smoothing", "mle", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["valid_ppl"] is None and out["valid_zero_prob"] > 0
    assert out["valid_finite_ppl"] > 1
    human = seqlm("--data", data, "--order", 2, "--smoothing", "mle")
    assert f"{out['valid_zero_prob']} of {out['valid_tokens']} tokens had zero probability" \
        in human.stdout


def test_arpa_export(data, tmp_path):
    path = tmp_path / "out" / "m.arpa"
    r = seqlm("--data", data, "--order", 3, "--arpa", path, "--json")
    assert r.returncode == 0, r.stderr
    corpus = corpus_from_directory(data)
    back = load_arpa(path, corpus.vocab)
    assert back.perplexity(corpus.test).ppl == pytest.approx(json.loads(r.stdout)["test_ppl"],
                                                             rel=1e-6)


@pytest.mark.parametrize("args,match", [
    (["--order", "0"], "--order must be >= 1"),
    (["--order", "three"], "--order must be a number"),
    (["--smoothing", "good-turing"], "unknown smoothing"),
    (["--mode", "both"], "unknown mode"),
    (["--smoothing", "add1", "--k", "2"], "--k applies only"),
    (["--smoothing", "mle", "--arpa", "x.arpa"], "needs a backoff model"),
])
def test_bad_input_exits_2_with_one_line(data, tmp_path, args, match):
    r = subprocess.run([sys.executable, "-m", "seqlm", "ngram", "--data", str(data), *args],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2
    assert match in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == "" and not (tmp_path / "x.arpa").exists()


def test_missing_data_exits_2(tmp_path):
    r = seqlm("--data", tmp_path / "nowhere")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
