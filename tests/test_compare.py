"""`seqlm compare --preset tiny`: every artifact, the schema, the ordering, resuming.

One interrupted run (``--stop-after ngram``), its continuation and a third run
of the same command are made once per module (real subprocesses) and checked
by the tests below.
"""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from seqlm.compare.results import RESULTS_SCHEMA, validate
from seqlm.compare.runner import stable_hash
from test_figures import check_pdf, check_png

NAMES = ["unigram", "bigram", "trigram", "bigram-add1", "trigram-add1", "trigram-mle",
         "ffnn", "rnn", "lstm", "gru"]


def compare(out: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqlm", "compare", "--preset", "tiny", "--out", str(out),
                           "--device", "cpu", *extra], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "run"
    first = compare(out, "--stop-after", "ngram")
    assert first.returncode == 0, first.stderr
    stage_files = list((out / "stages").glob("ngram-*.json"))
    snapshot = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in stage_files}
    second = compare(out)
    assert second.returncode == 0, second.stderr
    results = json.loads((out / "results.json").read_text())
    third = compare(out, "--no-figures")
    assert third.returncode == 0, third.stderr
    third_results = json.loads((out / "results.json").read_text())
    # A run killed inside the LSTM stage after its last checkpoint: the stage record is
    # missing, the model directory is there; the next run resumes from the checkpoint.
    lstm_record, = (out / "stages").glob("lstm-*.json")
    lstm_record.unlink()
    fourth = compare(out, "--no-figures")
    assert fourth.returncode == 0, fourth.stderr
    return {"out": out, "first": first, "second": second, "third": third, "fourth": fourth,
            "results": results, "third_results": third_results, "ngram_snapshot": snapshot}


def test_interrupted_run_writes_only_the_ngram_stage(run):
    first = run["first"]
    assert "stopped after stage ngram" in first.stderr
    assert len(run["ngram_snapshot"]) == 1
    assert first.stdout == ""   # no table: no results yet


def test_resumed_run_skips_the_finished_stage_and_reuses_it(run):
    second = run["second"].stderr
    assert "stage 1/5: ngram skipped" in second
    for name in ("ffnn", "rnn", "lstm", "gru"):
        assert f": {name}\n" in second and f"{name} skipped" not in second
    (path, (mtime, content)), = run["ngram_snapshot"].items()
    assert path.stat().st_mtime_ns == mtime and path.read_bytes() == content
    stored = json.loads(content)["models"]
    got = [m for m in run["results"]["models"] if m["family"] == "ngram"]
    assert got == stored


def test_rerun_skips_everything_and_yields_the_same_results(run):
    third = run["third"].stderr
    for k, name in enumerate(["ngram", "ffnn", "rnn", "lstm", "gru"], 1):
        assert f"stage {k}/5: {name} skipped" in third
    again = run["third_results"]
    assert again["config_hash"] == run["results"]["config_hash"]
    assert again["models"] == run["results"]["models"]


def test_a_stage_killed_after_its_checkpoint_resumes_from_it(run):
    log = run["fourth"].stderr
    assert "stage 4/5: lstm\n" in log and "resuming lstm from" in log
    for name in ("ngram", "ffnn", "rnn", "gru"):
        assert f"{name} skipped" in log
    again = json.loads((run["out"] / "results.json").read_text())
    strip = lambda m: {k: v for k, v in m.items() if k not in ("train_seconds", "resumed")}
    assert [strip(m) for m in again["models"]] == [strip(m) for m in run["results"]["models"]]
    assert next(m for m in again["models"] if m["name"] == "lstm")["resumed"] is True


def test_every_artifact_is_written(run):
    out = run["out"]
    for name in ("results.json", "results.csv", "results.md", "results.schema.json", "report.html",
                 "report.md"):
        assert (out / name).stat().st_size > 200, name
    figs = out / "figures"
    for stem in ("fig5_2_vanishing_gradients", "fig5_5_training_curves", "fig5_6_perplexity"):
        check_pdf(figs / f"{stem}.pdf")
        check_png(figs / f"{stem}.png")
    for stem in ("fig5_1_rnn_unrolled", "fig5_3_lstm_cell", "fig5_4_gru_cell"):
        assert (figs / f"{stem}.tex").exists()   # compiled here, or the shipped renders
        check_pdf(figs / f"{stem}.pdf")
        check_png(figs / f"{stem}.png")
    for name in ("ffnn", "rnn", "lstm", "gru"):
        assert (out / "models" / name / "best" / "config.json").exists()
        assert (out / "models" / name / "metrics.jsonl").exists()
    html = (out / "report.html").read_text()
    # Figures 5.1-5.6 (5.1, 5.3, 5.4 compiled here or the shipped renders), the LSTM's gates
    # (seqlm inspect on one test sentence) and the probe figure
    assert html.count("data:image/png;base64,") == 8 and "not available" not in html
    assert "Inside the LSTM" in html and 'href="inspect/inspect.html"' in html
    ins = json.loads((out / "inspect" / "inspect.json").read_text())
    assert ins["model"]["cell"] == "lstm" and 10 <= ins["text"]["tokens"] <= 20
    check_png(out / "inspect" / "heatmap_layer1.png")
    # the probes of the recurrent models (synthetic corpus): table, figure, files
    probes = json.loads((out / "results.json").read_text())["probes"]
    assert [(r["model"], r["feature"]) for r in probes["summary"]] == \
        [(m, f) for m in ("rnn", "lstm", "gru")
         for f in ("topic", "subject_number", "verb_number", "pending_verbs")]
    assert "Probes: what the recurrent states hold" in html and "| lstm | verb_number |" in \
        (out / "probes" / "probe.md").read_text()
    check_png(out / "probes" / "probe_accuracy.png")
    # the CLI prints the table
    assert "| trigram |" in run["second"].stdout and "oracle" in run["second"].stdout


def test_results_validate_against_the_schema(run):
    """Checked by jsonschema itself (Draft 2020-12), on the file as written."""
    r = json.loads((run["out"] / "results.json").read_text())
    jsonschema.Draft202012Validator.check_schema(RESULTS_SCHEMA)
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(r)
    assert json.loads((run["out"] / "results.schema.json").read_text()) == RESULTS_SCHEMA
    assert [m["name"] for m in r["models"]] == NAMES
    assert r["command"].startswith("seqlm compare --data synthetic --preset tiny --out ")
    assert r["seed"] == 0 and r["preset"] == "tiny" and r["config"]["preset"] == "tiny"
    assert r["config_hash"] == stable_hash(r["config"])
    assert set(r["versions"]) >= {"seqlm", "torch", "numpy", "python"}
    assert r["machine"]["cores"] >= 1 and r["machine"]["device"] == "cpu"
    assert r["data"]["test_tokens"] == r["models"][0]["test_tokens"]   # every token scored


def test_the_numbers_make_sense(run):
    r = run["results"]
    by = {m["name"]: m for m in r["models"]}
    assert by["unigram"]["test_ppl"] > by["bigram"]["test_ppl"] > by["trigram"]["test_ppl"]
    assert by["unigram"]["valid_ppl"] > by["bigram"]["valid_ppl"] > by["trigram"]["valid_ppl"]
    oracle = r["oracle_test_ppl"]
    assert oracle and 1 < oracle < by["trigram"]["test_ppl"]
    mle = by["trigram-mle"]
    assert mle["test_ppl"] is None and mle["test_zero_prob"] > 0 and mle["test_ppl_finite"] > 1
    for m in r["models"]:
        assert m["mode"] == "sentence"
        if m["test_ppl"] is None:
            continue
        assert m["test_ppl"] >= oracle   # nothing beats the true distribution
        assert m["test_bits_per_token"] == pytest.approx(math.log2(m["test_ppl"]))
        assert m["gap_to_oracle_bits"] == pytest.approx(math.log2(m["test_ppl"] / oracle))
        assert m["parameters"] > 0 and m["train_seconds"] >= 0
    for name in ("ffnn", "rnn", "lstm", "gru"):
        m = by[name]
        assert m["stream_test_ppl"] is not None and m["tokens_per_s"] > 0
        assert m["test_ppl"] < len_vocab(r)                 # better than uniform
        assert [h["epoch"] for h in m["history"]] == [1]   # tiny: one epoch


def len_vocab(r) -> int:
    return r["data"]["vocab_size"]


def test_csv_and_markdown(run):
    rows = list(csv.DictReader((run["out"] / "results.csv").open()))
    assert [row["name"] for row in rows] == NAMES
    mle = next(row for row in rows if row["name"] == "trigram-mle")
    assert mle["test_ppl"] == "inf" and int(mle["test_zero_prob"]) > 0
    tri = next(row for row in rows if row["name"] == "trigram")
    assert float(tri["test_ppl"]) == pytest.approx(run["results"]["models"][2]["test_ppl"])
    md = (run["out"] / "results.md").read_text()
    assert "| trigram-mle | ∞ (" in md and "oracle (true distribution)" in md


@pytest.mark.parametrize("args, message", [
    (["--stop-after", "bogus"], "--stop-after 'bogus': not a stage"),
    (["--data", "/nonexistent/corpus"], "no such file or directory"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    proc = compare(tmp_path / "out", *args, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "results.json").exists()


# ------------------------------------------------------------------ the validator itself
def test_validator_reports_what_is_wrong():
    from seqlm.compare.example import example_results
    good = example_results()
    assert validate(good) == []
    bad = example_results()
    del bad["oracle_test_ppl"]
    bad["seed"] = "0"
    bad["models"][1]["family"] = "bayesian"
    bad["models"][2].pop("test_ppl")
    errors = validate(bad)
    assert any(e.startswith("$: ") and "'oracle_test_ppl' is a required property" in e for e in errors)
    assert any(e.startswith("$.seed: '0' is not of type 'integer'") for e in errors)
    assert any(e.startswith("$.models[1].family: 'bayesian' is not one of") for e in errors)
    assert any(e.startswith("$.models[2]: ") and "'test_ppl' is a required property" in e for e in errors)
    assert len(errors) == 4
    assert [e.split(":")[0] for e in validate({**good, "models": []})] == ["$.models"]
    nan = example_results()
    nan["models"][0]["valid_ppl"] = float("nan")
    assert validate(nan) == ["$: contains a non-finite number (NaN or inf is not JSON)"]


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


@pytest.mark.parametrize("preset", ["tiny", "quick", "paper", "ptb-fast", "ptb-quick"])
def test_every_preset_builds_its_models(preset):
    """Typos in a preset would only surface hours into a paper run: build everything now."""
    from seqlm.compare.presets import NEURAL_ORDER, get_preset
    from seqlm.lm import build_model
    from seqlm.ngram import build_ngram
    from seqlm.train import TrainConfig
    cfg = get_preset(preset)
    assert [n["name"] for n in cfg["ngrams"]][:3] == ["unigram", "bigram", "trigram"]
    for spec in cfg["ngrams"]:
        build_ngram(spec["smoothing"], spec["order"])
    assert sorted(cfg["neural"]) == sorted(NEURAL_ORDER)  # the stages run in NEURAL_ORDER
    for name, spec in cfg["neural"].items():
        model = build_model({**spec["model"], "vocab_size": 50}, seed=0)
        assert model.config.kind == ("ffnn" if name == "ffnn" else "rnn")
        if name != "ffnn":
            assert model.config.cell == name
        TrainConfig(**spec["train"])


def test_a_signal_during_training_does_not_finish_the_stage(tmp_path):
    # SIGTERM mid-training: the trainer saves a checkpoint and returns; the stage
    # must raise instead of evaluating a half-trained model and recording it as done.
    import os
    import signal
    import threading
    import time

    from lm_helpers import tiny_model_config, toy_corpus

    from seqlm.compare.stages import StageInterrupted, run_neural
    from seqlm.train.faults import fault_hook

    corpus = toy_corpus(n_train=150, n_eval=20)
    spec = {"model": tiny_model_config(len(corpus.vocab)),
            "train": dict(epochs=100, batch_size=4, bptt=8, lr=1.0, schedule="constant",
                          precision="fp32")}
    done = threading.Event()

    def send_when_training():  # the trainer's handler is installed once it logs
        metrics = tmp_path / "lstm" / "metrics.jsonl"
        while not done.is_set():
            if metrics.exists() and metrics.stat().st_size:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.02)

    spec["train"]["log_interval"] = 2
    sender = threading.Thread(target=send_when_training)
    sender.start()
    try:
        with pytest.raises(StageInterrupted, match="interrupted by signal 15"):
            run_neural("lstm", spec, corpus, {}, tmp_path / "lstm", "h", 0, "cpu",
                       {"sentence_batch_size": 8, "stream_batch_size": 1}, "lstm", "toy",
                       log=lambda *a: None, step_hook=fault_hook(sleep_per_step=0.01))
    finally:
        done.set()
        sender.join()
    assert (tmp_path / "lstm" / "checkpoint" / "config.json").exists()


def test_raw_text_gets_words_and_a_vocabulary_cap_and_prints_the_oov_rate(tmp_path):
    """`seqlm compare --data FILE.txt`: a raw text is cut into words and punctuation, the
    vocabulary capped (here with --max-vocab, as a user would pass a smaller one), and the
    run's checkpoints remember that corpus for `seqlm eval`."""
    from seqlm.compare.presets import fit_to_corpus, get_preset
    from seqlm.compare.runner import compare_spec
    from seqlm.data import load_corpus
    from seqlm.data.spec import RAW_TEXT_DEFAULTS
    text = tmp_path / "Book.txt"
    words = ["Alice", "said", "the", "Queen", "cat", "Hatter", "tea", "time", "Why", "no", "yes"]
    lines = [f"{words[i % 11]} {words[(3 * i) % 11].lower()}, {words[(5 * i) % 11]}{'.!?'[i % 3]}"
             for i in range(400)]
    text.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    spec = load_corpus(compare_spec(str(text), get_preset("quick"))).spec  # resolved as it reads the text
    assert (spec.tokenizer, spec.max_vocab) == (RAW_TEXT_DEFAULTS["tokenizer"], RAW_TEXT_DEFAULTS["max_vocab"])
    own = load_corpus(compare_spec(str(text), get_preset("quick"), {"tokenizer": "whitespace"})).spec
    assert (own.tokenizer, own.max_vocab) == ("whitespace", 10_000)   # each default has its own flag
    assert compare_spec("synthetic", get_preset("quick")).tokenizer is None
    fitted = fit_to_corpus(get_preset("quick"), "quick", 250_000, synthetic=False)
    assert {s["train"]["epochs"] for s in fitted["neural"].values()} == {4} and fitted["threads"] == 0
    assert fit_to_corpus(get_preset("quick"), "quick", 250_000, synthetic=True) == get_preset("quick")
    r = compare(tmp_path / "run", "--data", str(text), "--max-vocab", "12", "--stop-after", "ffnn")
    assert r.returncode == 0, r.stderr
    assert "words and punctuation (Unicode), the 12 most frequent; OOV rate" in r.stderr
    ffnn = tmp_path / "run" / "models" / "ffnn" / "best"
    config = json.loads((ffnn / "config.json").read_text())
    assert (config["corpus"]["tokenizer"], config["corpus"]["max_vocab"]) == ("words", 12)
    c = load_corpus(config["corpus"])
    assert len(c.vocab) == 12 and c.fingerprint == config["corpus"]["fingerprint"]
    e = subprocess.run([sys.executable, "-m", "seqlm", "eval", "--checkpoint", str(ffnn), "--json"],
                       capture_output=True, text=True, timeout=240)
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["fingerprint"] == c.fingerprint


@pytest.mark.parametrize("damage", [b"\xff\xfe not utf-8", b"{\"stage\": \"ngram\"", b"[]",
                                    b"{\"hash\": \"HASH\", \"models\": [{\"name\": \"unigram\"}]}"])
def test_an_unreadable_stage_file_counts_as_not_done(tmp_path, damage):
    """Not UTF-8, not JSON, not an object, rows without their keys: the stage runs again."""
    from seqlm.compare import run_compare
    logs: list[str] = []
    run_compare(tmp_path, preset="tiny", device="cpu", stop_after="ngram", log=logs.append)
    path, = (tmp_path / "stages").glob("ngram-*.json")
    good = json.loads(path.read_text())
    path.write_bytes(damage.replace(b"HASH", good["hash"].encode()))
    logs.clear()
    run_compare(tmp_path, preset="tiny", device="cpu", stop_after="ngram", log=logs.append)
    assert any("is unreadable or incomplete; running the stage again" in m for m in logs)
    assert not any("skipped" in m for m in logs)
    again = json.loads(path.read_text())["models"]  # rewritten whole (timings differ, numbers do not)
    assert [(m["name"], m["test_ppl"]) for m in again] == [(m["name"], m["test_ppl"]) for m in good["models"]]
