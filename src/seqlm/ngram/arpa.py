"""ARPA files: the backoff-form text format of KenLM, SRILM and friends (log10).

Token mapping (see docs/ngram.md):

====================  ==========
seqlm                 ARPA
====================  ==========
sentence start        ``<s>``  (log10 p = -99: never predicted, context only)
``<eos>`` (id 1)      ``</s>``
``<unk>`` (id 0)      ``<unk>``
====================  ==========

seqlm's ``<unk>`` *is* the unknown word (DESIGN.md: PTB's literal ``<unk>``
and every out-of-vocabulary token are the same token), so writing it as ARPA's
``<unk>`` says what the model means: a reader such as KenLM maps any word it
does not know to it, exactly as :meth:`Vocabulary.encode` does.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from seqlm.data.vocab import EOS, UNK, Vocabulary
from seqlm.errors import SeqlmError
from seqlm.io import atomic_open
from seqlm.ngram.base import BackoffModel
from seqlm.ngram.counts import lookup

LN10 = math.log(10.0)
BOS_ARPA, EOS_ARPA, UNK_ARPA = "<s>", "</s>", "<unk>"
MISSING_UNK_LOG10 = -100.0   # what KenLM substitutes when an ARPA file has no <unk>


def _arpa_tokens(vocab: Vocabulary) -> list[str]:
    toks = list(vocab.tokens)
    for i, t in enumerate(toks[2:], start=2):
        if t in (BOS_ARPA, EOS_ARPA) or not t or any(c.isspace() for c in t):
            raise SeqlmError(f"token {t!r} (id {i}) cannot be written to an ARPA file "
                             "(ARPA words are whitespace-free and <s>, </s> are reserved)")
    toks[0], toks[1] = UNK_ARPA, EOS_ARPA
    return toks + [BOS_ARPA]


def _fmt(x: float) -> str:
    return f"{x:.8g}"


def write_arpa(model: BackoffModel, path) -> None:
    """Write a fitted backoff model (KN, MKN, WB, or a loaded ARPA model)."""
    if not isinstance(model, BackoffModel):
        raise SeqlmError(f"ARPA export needs a backoff model (kn, mkn, wb), not {type(model).__name__}")
    model._require_fitted()
    N, V, B = model.order, model.V, model.V + 1
    toks = _arpa_tokens(model.vocab)
    # Unigrams: every vocabulary word plus <s>.
    lp1 = model.logp[1] / LN10
    lp1 = np.where(np.isfinite(lp1), lp1, -99.0)
    lp1[V] = -99.0
    keep = np.flatnonzero(lp1 > -99.0) if model._remap is not None else np.arange(B)
    keep = np.union1d(keep, [0, 1, V])
    strs = {1: toks}
    sections = []
    bows = {m: model.logbow[m] / LN10 for m in range(1, N)}

    def lines(m, idx, words):
        bo = bows.get(m)
        out = []
        lp = (lp1 if m == 1 else model.logp[m] / LN10)
        for i, w in zip(idx.tolist(), words):
            if bo is not None and bo[i] != 0.0:
                out.append(f"{_fmt(lp[i])}\t{w}\t{_fmt(bo[i])}")
            else:
                out.append(f"{_fmt(lp[i])}\t{w}")
        return out

    sections.append(lines(1, keep, [toks[i] for i in keep.tolist()]))
    for m in range(2, N + 1):
        keys = model.keys[m]
        prev = strs[m - 1]
        words = [prev[c] + " " + toks[w] for c, w in zip((keys // B).tolist(), (keys % B).tolist())]
        strs[m] = words
        sections.append(lines(m, np.arange(keys.size), words))
    with atomic_open(path, "w") as fh:
        fh.write("\\data\\\n")
        for m, sec in enumerate(sections, start=1):
            fh.write(f"ngram {m}={len(sec)}\n")
        for m, sec in enumerate(sections, start=1):
            fh.write(f"\n\\{m}-grams:\n")
            fh.write("\n".join(sec))
            fh.write("\n")
        fh.write("\n\\end\\\n")


class ArpaModel(BackoffModel):
    """A backoff model read from an ARPA file; scores like KenLM does."""

    name = "arpa"

    def fit(self, *a, **kw):
        raise SeqlmError("an ARPA model is already estimated; it cannot be fitted")

    def _score_padded(self, padded):
        out = super()._score_padded(padded)
        if out.size and np.nanmax(out) > 1e-9:  # a backoff weight of the file lifted p above 1
            k = int(np.nanargmax(out))
            raise SeqlmError(f"the ARPA model gives token {k} of the text a probability of "
                             f"{float(np.exp(out[k])):.4g} > 1: a backoff weight in the file is too large; "
                             "such a file is refused rather than scored")
        return out


def _parse(path: Path) -> dict[int, list[list[str]]]:
    """The split lines of every ``\\m-grams:`` section, checked against the header."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeqlmError(f"{path}: ARPA file not found") from None
    except IsADirectoryError:
        raise SeqlmError(f"{path}: is a directory, expected an ARPA file") from None
    except UnicodeDecodeError as e:
        raise SeqlmError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    lines = text.splitlines()
    i = 0
    while i < len(lines) and lines[i].strip() != "\\data\\":
        i += 1
    if i == len(lines):
        raise SeqlmError(f"{path}: not an ARPA file (no \\data\\ line)")
    declared: dict[int, int] = {}
    i += 1
    while i < len(lines) and (lines[i].strip().startswith("ngram ") or not lines[i].strip()):
        if lines[i].strip():
            try:
                m, n = lines[i].strip()[6:].split("=")
                declared[int(m)] = int(n)
            except ValueError:
                raise SeqlmError(f"{path}:{i + 1}: malformed header line {lines[i].strip()!r}") from None
        i += 1
    if not declared or sorted(declared) != list(range(1, max(declared) + 1)):
        raise SeqlmError(f"{path}: ARPA header must declare ngram 1=… up to the model order")
    sections: dict[int, list[list[str]]] = {m: [] for m in declared}
    rows = None
    ended = False
    for j in range(i, len(lines)):
        s = lines[j].strip()
        if not s:
            continue
        if s == "\\end\\":
            ended = True
            break
        if s.startswith("\\"):
            if not s.endswith("-grams:") or not s[1:-7].isdigit() or int(s[1:-7]) not in declared:
                raise SeqlmError(f"{path}:{j + 1}: unexpected section header {s!r}")
            rows = sections[int(s[1:-7])]
            continue
        if rows is None:
            raise SeqlmError(f"{path}:{j + 1}: n-gram line outside a section")
        rows.append(s.split())
    if not ended:
        raise SeqlmError(f"{path}: no \\end\\ line (truncated file?)")
    for m, n in declared.items():
        if len(sections[m]) != n:
            raise SeqlmError(f"{path}: header declares {n} {m}-grams, found {len(sections[m])}")
    return sections


def _section(path: Path, m: int, rows: list, stoi: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word ids (n, m), log10 probs, log10 backoffs) of one section."""
    n = len(rows)
    lens = np.fromiter(map(len, rows), dtype=np.int64, count=n)
    bad = np.flatnonzero((lens != m + 1) & (lens != m + 2))
    if bad.size:
        raise SeqlmError(f"{path}: {m}-gram entry {bad[0] + 1} has {lens[bad[0]]} fields: "
                         f"{' '.join(rows[bad[0]])!r}")
    try:
        prob = np.array([r[0] for r in rows], dtype=np.float64)
        bow = np.zeros(n)
        has = np.flatnonzero(lens == m + 2)
        bow[has] = np.array([rows[k][m + 1] for k in has.tolist()], dtype=np.float64)
    except ValueError as e:
        raise SeqlmError(f"{path}: malformed number in the {m}-grams ({e})") from None
    # log10 p must be a finite number <= 0 (KenLM refuses the rest too); a backoff
    # weight may be positive but must be finite.
    for bad, what, col in ((np.flatnonzero(~np.isfinite(prob) | (prob > 0)), "log10 probability", 0),
                           (np.flatnonzero(~np.isfinite(bow)), "backoff weight", m + 1)):
        if bad.size:
            k = int(bad[0])
            raise SeqlmError(f"{path}: {m}-gram {' '.join(rows[k][1:m + 1])!r} has {what} "
                             f"{rows[k][col]} (log10 probabilities must be finite and <= 0, "
                             "backoff weights finite)")
    get = stoi.get
    W = np.array([get(w, -1) for r in rows for w in r[1:m + 1]], dtype=np.int64).reshape(n, m)
    if (W < 0).any():
        k = int(np.flatnonzero((W < 0).any(axis=1))[0])
        raise SeqlmError(f"{path}: {m}-gram {' '.join(rows[k][1:m + 1])!r} has a word "
                         "that is not in the given vocabulary")
    return W, prob, bow


def _check_unigram_backoffs(path: Path, rows: list, log10_p, log10_bow) -> None:
    """A bigram context backs off to the unigrams: bow(h) · p(w) must stay ≤ 1 for every
    w, or the file gives some word a probability above 1 (deeper contexts: at scoring)."""
    top = float(np.max(log10_p))
    over = np.flatnonzero(log10_bow + top > 1e-6)
    if over.size:
        k = int(over[0])
        raise SeqlmError(f"{path}: unigram {rows[k][1]!r} has backoff weight {rows[k][-1]} (log10): "
                         f"with the largest unigram log10 p {top:.4g} it gives a probability above 1")


def load_arpa(path, vocab: Vocabulary | None = None) -> ArpaModel:
    """Read an ARPA file into a model with the seqlm interface.

    Without ``vocab`` the vocabulary is the file's unigrams (``<unk>``,
    ``<eos>``, then the others in file order). With ``vocab``, words of the
    vocabulary absent from the file are scored as ``<unk>`` (as KenLM does);
    a file word outside the vocabulary is an error.
    """
    path = Path(path)
    sections = _parse(path)
    N = max(sections)
    uni_words = [r[1] if len(r) > 1 else "" for r in sections[1]]
    if vocab is None:
        others = [w for w in uni_words if w not in (BOS_ARPA, EOS_ARPA, UNK_ARPA)]
        if len(set(others)) != len(others):
            raise SeqlmError(f"{path}: duplicate unigrams")
        vocab = Vocabulary([UNK, EOS] + others, "word")
    V, B = len(vocab), len(vocab) + 1
    stoi = {t: i for i, t in enumerate(vocab.tokens)}
    stoi.pop(EOS, None)
    stoi.pop(UNK, None)
    stoi.update({BOS_ARPA: V, EOS_ARPA: vocab.eos_id, UNK_ARPA: vocab.unk_id})

    model = ArpaModel(N)
    model.vocab = vocab
    W, p, b = _section(path, 1, sections[1], stoi)
    lp1 = np.full(B, np.nan)
    bo1 = np.zeros(B)
    lp1[W[:, 0]], bo1[W[:, 0]] = p, b
    if np.isnan(lp1[vocab.unk_id]):
        warnings.warn(f"{path}: no <unk> unigram; using log10 p = {MISSING_UNK_LOG10} as KenLM does",
                      stacklevel=2)
        lp1[vocab.unk_id] = MISSING_UNK_LOG10
    if np.isnan(lp1[V]):
        lp1[V] = -99.0
    missing = np.isnan(lp1)
    model._remap = np.where(missing, vocab.unk_id, np.arange(B))
    lp1[missing] = lp1[vocab.unk_id]
    _check_unigram_backoffs(path, sections[1], lp1[:V], bo1[W[:, 0]])
    keys, logp, logbow = {}, {1: lp1 * LN10}, {1: bo1 * LN10}
    for m in range(2, N + 1):
        W, p, b = _section(path, m, sections[m], stoi)
        prefix = W[:, 0]
        for j in range(1, m - 1):
            prefix = lookup(keys[j + 1], prefix * B + W[:, j])
            if (prefix < 0).any():
                bad = " ".join(sections[m][int(np.flatnonzero(prefix < 0)[0])][1:m + 1])
                raise SeqlmError(f"{path}: {m}-gram {bad!r} has no {m - 1}-gram context entry")
        k = prefix * B + W[:, -1]
        order = np.argsort(k, kind="stable")
        k = k[order]
        if k.size > 1 and (k[1:] == k[:-1]).any():
            raise SeqlmError(f"{path}: duplicate {m}-grams")
        keys[m], logp[m], logbow[m] = k, p[order] * LN10, b[order] * LN10
    model._set_tables(keys, logp, logbow)
    return model
