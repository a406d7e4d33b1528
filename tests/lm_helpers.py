"""Tiny corpora and configs shared by the neural-LM tests (not a test module)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = [f"w{i}" for i in range(24)]


def toy_lines(n: int, seed: int) -> list[str]:
    """Sentences with a little structure (w_{k+1} tends to follow w_k) so a model can learn."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(0, len(WORDS)))
        sent = []
        for _ in range(int(rng.integers(2, 9))):
            sent.append(WORDS[k % len(WORDS)])
            k += 1 if rng.random() < 0.7 else int(rng.integers(0, len(WORDS)))
        out.append(" ".join(sent))
    return out


def toy_corpus(n_train: int = 300, n_eval: int = 40):
    from seqlm.data.corpus import corpus_from_lines
    return corpus_from_lines({"train": toy_lines(n_train, 0), "valid": toy_lines(n_eval, 1),
                              "test": toy_lines(n_eval, 2)}, "toy")


def write_toy_dir(path: Path, n_train: int = 300, n_eval: int = 40) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("valid", n_eval, 1), ("test", n_eval, 2)):
        (path / f"{split}.txt").write_text("\n".join(toy_lines(n, seed)) + "\n", encoding="utf-8")
    return path


def tiny_model_config(vocab_size: int, **kw) -> dict:
    d = dict(kind="rnn", vocab_size=vocab_size, cell="lstm", num_layers=1, embed_size=12,
             hidden_size=12, dropout=0.0, init="uniform", init_scale=0.1)
    d.update(kw)
    return d
