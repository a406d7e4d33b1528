"""A run remembers its corpus: find it again, or check that another one fits.

Every checkpoint's ``config.json`` holds ``corpus``, the record of
:meth:`seqlm.data.corpus.Corpus.record`: the spec (source, level, tokenizer,
case folding, vocabulary limits, the synthetic generator's own parameters) and
a fingerprint of the vocabulary and the three id streams. ``seqlm eval`` and
``score`` load it when no ``--data`` is given (``generate`` needs only the
checkpoint, and checks a ``--data`` it is given the same way). A ``--data``
corpus is read with the model's own tokenizer and limits and must build the
model's vocabulary: otherwise its perplexity would be over other tokens, not
comparable with the run's, and it is refused in one line.
"""
from __future__ import annotations

from pathlib import Path

from seqlm.data.spec import CorpusSpec, corpus_spec, load
from seqlm.data.vocab import Vocabulary
from seqlm.errors import SeqlmError


def recorded_spec(config: dict, vocab: Vocabulary, where) -> CorpusSpec:
    """The spec a checkpoint config records (``data`` alone for checkpoints older than
    the record: read with the vocabulary's level)."""
    rec = config.get("corpus")
    if isinstance(rec, dict) and "kind" in rec:  # a corpus built in code has no spec, only a fingerprint
        return CorpusSpec.from_dict(rec, f"{where}: corpus")
    if config.get("data"):
        return corpus_spec(str(config["data"]), **vocab_settings(vocab))
    raise SeqlmError(f"{where}: the run does not record its corpus; pass --data")


def vocab_settings(vocab: Vocabulary) -> dict:
    """The corpus settings that rebuild ``vocab`` (defaults left out)."""
    tok = vocab.tokenizer
    d: dict = {"level": vocab.level}
    if tok.kind == "words":
        d["tokenizer"] = "words"
    if tok.lowercase:
        d["lowercase"] = True
    if vocab.max_size is not None:
        d["max_vocab"] = vocab.max_size
    if vocab.min_freq != 1:
        d["min_freq"] = vocab.min_freq
    return d


def describe(rec: dict | None, spec: CorpusSpec) -> str:
    level = rec.get("level") if rec else spec.level
    tok = (rec or {}).get("tokenizer") or ("chars" if level == "char" else "whitespace")
    return f"{spec.label()} ({level or 'word'} level, {tok} tokenizer)"


def corpus_for_run(config: dict, vocab: Vocabulary, where, data: str | None = None,
                   files: dict | None = None, settings: dict | None = None, root=None):
    """``(corpus, note)``: the run's own corpus, or the one named by ``data`` /
    ``files`` (read with the model's tokenizer and limits unless ``settings`` say
    otherwise), checked against the model. ``note`` is a line to show when the
    corpus is not the one the run was trained on (but has its vocabulary)."""
    rec = config.get("corpus") if isinstance(config.get("corpus"), dict) else None
    own = recorded_spec(config, vocab, where)
    given = bool(data or files)
    if given:
        spec = corpus_spec(data, **(files or {}), **{**vocab_settings(vocab), **(settings or {})})
    else:
        spec = own.with_settings(**(settings or {}))
    try:
        corpus = load(spec, root)
    except SeqlmError as e:
        if given:
            raise
        raise SeqlmError(f"{where}: cannot load the run's corpus {own.label()} ({e}); "
                         "pass --data") from None
    diff = vocab.diff(corpus.vocab)
    if diff is not None:
        what = f"--data {spec.label()}" if given else f"the run's corpus {spec.label()}"
        raise SeqlmError(f"{what} cannot be scored honestly by {where} (vocabulary mismatch: "
                         f"{diff}); the model was trained on {describe(rec, own)}")
    note = None
    if rec and rec.get("fingerprint") and rec["fingerprint"] != corpus.fingerprint:
        note = (f"{spec.label()} is not the corpus {where} was trained on (fingerprint "
                f"{corpus.fingerprint}, the run's {rec['fingerprint']}), but it has the model's "
                "vocabulary: scoring it")
    return corpus, note


def checkpoint_config(path) -> tuple[Path, dict]:
    """The resolved checkpoint directory and its config (no weights loaded)."""
    from seqlm.train import checkpoint as ckpt
    resolved = ckpt.resolve(path)
    return resolved, ckpt.read_config(resolved)
