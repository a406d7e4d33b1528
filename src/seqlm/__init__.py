"""seqlm: recurrent sequence models and language models, from the equations up.

The public API is small and re-exported here::

    import seqlm
    corpus = seqlm.load_corpus("synthetic")                 # or "ptb", a directory, a file
    kn = seqlm.ModifiedKneserNey(order=3).fit(corpus.train, corpus.vocab)
    print(kn.perplexity(corpus.test).ppl)                    # sentence mode, <eos> counted
    model = seqlm.RNNLanguageModel(seqlm.RNNLMConfig(vocab_size=len(corpus.vocab), cell="gru"))
    print(seqlm.evaluate(model, corpus.valid).ppl)           # untrained: about |V|

    lines = ["the cat sat on the mat", "a dog ran"] * 100         # or text in memory
    small = seqlm.load_corpus(lines)                          # cut 90/5/5, as one file is
    result = seqlm.train.train(corpus, seqlm.RNNLMConfig(vocab_size=len(corpus.vocab)),
                               seqlm.TrainConfig(epochs=1, max_steps=50))   # a temporary run dir
    model, vocab = seqlm.load_model(result.out / "checkpoint")
    print(seqlm.evaluate(model, "the dogs see the cat", vocab=vocab).ppl)   # text, with its vocab

Training lives in :func:`seqlm.train.train` (the subpackage ``seqlm.train``, there after
``import seqlm``); the workflows behind the commands are library calls too
(:func:`seqlm.run_compare`, :func:`seqlm.train.launch.launch`,
:func:`seqlm.ngram.experiment.run_ngram`, :func:`seqlm.exercises.check`).

The names are imported on first use (PEP 562), so ``import seqlm`` and
``seqlm --help`` do not pay for torch.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

from seqlm.errors import SeqlmError
from seqlm.metrics import Evaluation, summarize

# public name -> the module that defines it
_LAZY = {
    # data: vocabulary, corpora, TBPTT batching
    "Vocabulary": "seqlm.data", "Corpus": "seqlm.data", "load_corpus": "seqlm.data",
    "batchify": "seqlm.data",
    # the equations: NumPy reference with hand-written BPTT, and the PyTorch layers
    "reference": "seqlm", "RecurrentStack": "seqlm.nn", "clip_grad_norm_": "seqlm.nn",
    # n-gram baselines
    "MLE": "seqlm.ngram", "AddK": "seqlm.ngram", "KneserNey": "seqlm.ngram",
    "ModifiedKneserNey": "seqlm.ngram", "WittenBell": "seqlm.ngram", "build_ngram": "seqlm.ngram",
    "load_arpa": "seqlm.ngram", "write_arpa": "seqlm.ngram",
    # neural language models: build, train, evaluate
    "RNNLanguageModel": "seqlm.lm", "RNNLMConfig": "seqlm.lm", "TrainConfig": "seqlm.train",
    "load_model": "seqlm.train", "evaluate": "seqlm.eval",
    "score_tokens": "seqlm.eval",
    # the gradient lab and the chapter's experiment
    "gradient_flow": "seqlm.analysis", "run_compare": "seqlm.compare",
    "generate": "seqlm.lm.generate", "save_checkpoint": "seqlm.train.checkpoint",
    "register_model": "seqlm.lm.base", "build_model": "seqlm.lm.build",
    # subpackages, there after `import seqlm` (seqlm.train.train, seqlm.exercises.check, ...)
    "train": "seqlm", "exercises": "seqlm", "data": "seqlm", "ngram": "seqlm", "lm": "seqlm",
    "analysis": "seqlm", "eval": "seqlm",
}

__all__ = ["__version__", "SeqlmError", "Evaluation", "summarize", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seqlm' has no attribute {name!r}")
    if module == "seqlm":  # a subpackage exported as itself
        return importlib.import_module(f"seqlm.{name}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
