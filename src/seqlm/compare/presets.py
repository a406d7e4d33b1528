"""Presets of ``seqlm compare``: which models, how big, how long.

A preset is a plain JSON-able dictionary; the resolved preset (with the data
source) is the run's ``config``, and each stage is keyed by a hash of its own
part of it, so changing the LSTM's settings re-runs only the LSTM stage.

``tiny``   seconds, for tests: a 20k-token synthetic corpus, tiny models, one epoch.
``quick``  the default (``make demo``): the whole comparison in about five minutes
           on a 2-core CPU, on the built-in synthetic corpus.
``paper``  for ``--data ptb``: Zaremba et al. (2014) "small" 2×200 recurrent models,
           13 epochs, and modified Kneser-Ney n-grams up to order 5 (Mikolov et al.'s
           KN-5 baseline, ≈141 test perplexity in stream counting). 34 min on 2 cores with
           `--workers 2` (docs/compare.md).
``ptb-fast`` for ``--data ptb`` on a CPU: tied 200-unit models with dropout 0.2 trained
           for 6 epochs (LSTM and GRU 2×200, the vanilla RNN 1×200) — the whole PTB
           comparison in under an hour on 2 cores.
``ptb-quick`` for ``--data ptb`` in a class period: tied 200-unit models (the recurrent
           ones 1×200 alike), every model trained on independent sentences for 4-5
           epochs with a cosine schedule and the fused output layer, two at a time — the
           whole comparison in under 15 minutes on 2 cores, every neural model below
           KN-5 (docs/compare.md).
"""
from __future__ import annotations

import copy

from seqlm.errors import SeqlmError

# n-gram rows: the three the figure shows, then the rows "for the lesson":
# add-one smoothing (what goes wrong with a uniform prior) and the unsmoothed MLE
# (infinite perplexity, with its zero-probability count).
NGRAMS = [
    {"name": "unigram", "smoothing": "mkn", "order": 1, "description": "unigram (modified Kneser-Ney)"},
    {"name": "bigram", "smoothing": "mkn", "order": 2, "description": "bigram, modified Kneser-Ney"},
    {"name": "trigram", "smoothing": "mkn", "order": 3, "description": "trigram, modified Kneser-Ney"},
    {"name": "bigram-add1", "smoothing": "add1", "order": 2, "description": "bigram, add-one (Laplace)"},
    {"name": "trigram-add1", "smoothing": "add1", "order": 3, "description": "trigram, add-one (Laplace)"},
    {"name": "trigram-mle", "smoothing": "mle", "order": 3, "description": "trigram, unsmoothed MLE"},
]
KN5 = {"name": "5-gram", "smoothing": "mkn", "order": 5, "description": "5-gram, modified Kneser-Ney"}


def _rnn(cell: str, **model) -> dict:
    # The GRU runs on the fused backend (torch.nn.GRU / cuDNN), which computes the
    # reset-after variant: r_t multiplies (W_hh h_{t-1} + b_hn) instead of h_{t-1}
    # (eq. 5.11). Both are GRUs of equal capacity; the explicit backend has "cho".
    extra = {"variant": "reset_after"} if cell == "gru" else {}
    return {"kind": "rnn", "cell": cell, **extra, **model}


def _quick_train(**kw) -> dict:
    # AdamW at a constant rate, then halved every epoch for the last four (the
    # Zaremba schedule's shape); measured on the synthetic corpus, where every
    # recurrent model is within about 1% of its best perplexity after 12 epochs.
    base = dict(epochs=12, batch_size=32, bptt=35, optimizer="adamw", lr=5e-3, clip=1.0,
                schedule="zaremba", decay_start=8, lr_decay=0.5, valid_batch_size=16,
                log_interval=10 ** 9)
    base.update(kw)
    return base


# One recurrent layer of 128 units for all three cells: the same width, epochs and
# optimiser, so the table compares architectures, not budgets.
_QUICK_RNN = dict(num_layers=1, embed_size=32, hidden_size=128, init="pytorch")

PRESETS: dict[str, dict] = {
    "tiny": {
        "threads": 1,
        "synthetic": {"train_tokens": 20_000, "valid_tokens": 2_000, "test_tokens": 2_000},
        "ngrams": NGRAMS,
        "neural": {
            "ffnn": {"model": {"kind": "ffnn", "context": 2, "embed_size": 8, "hidden_size": 16},
                     "train": _quick_train(epochs=1, batch_size=16, bptt=20, lr=1e-2, decay_start=4)},
            **{cell: {"model": _rnn(cell, num_layers=1, embed_size=8, hidden_size=16, init="pytorch"),
                      "train": _quick_train(epochs=1, batch_size=16, bptt=20, lr=1e-2, decay_start=4)}
               for cell in ("rnn", "lstm", "gru")},
        },
        "eval": {"sentence_batch_size": 64, "stream_batch_size": 1},
        "figures": {"gradient_kwargs": {"length": 30, "hidden": 16, "input_size": 8}},
    },
    "quick": {
        "threads": 1,
        "synthetic": {},
        "ngrams": NGRAMS,
        "neural": {
            # The trigram's horizon (n - 1 = 2): differs from the trigram only in smoothing.
            "ffnn": {"model": {"kind": "ffnn", "context": 2, "embed_size": 32, "hidden_size": 128},
                     "train": _quick_train()},
            # The synthetic sentences are independent draws, so the recurrent models
            # are trained as they are scored: sentence by sentence from the zero state.
            "rnn": {"model": _rnn("rnn", **_QUICK_RNN), "train": _quick_train(unit="sentence")},
            "lstm": {"model": _rnn("lstm", **_QUICK_RNN), "train": _quick_train(unit="sentence")},
            "gru": {"model": _rnn("gru", **_QUICK_RNN), "train": _quick_train(unit="sentence")},
        },
        "eval": {"sentence_batch_size": 64, "stream_batch_size": 1},
        "figures": {"gradient_kwargs": {}},
    },
    "paper": {
        "threads": 0,   # torch's default: 2x200 models with a 10k softmax use every core
        "synthetic": {},
        "ngrams": NGRAMS + [KN5],
        "neural": {
            # Bengio et al. (2003): n = 5, 100-dimensional features (their AP News setting).
            "ffnn": {"model": {"kind": "ffnn", "context": 4, "embed_size": 100, "hidden_size": 200,
                               "dropout": 0.2},
                     "train": dict(epochs=10, batch_size=64, bptt=35, optimizer="adamw", lr=1e-3,
                                   clip=1.0, schedule="plateau", lr_decay=0.25, log_interval=200)},
            # Zaremba et al. (2014) "small, non-regularized": 2×200, 13 epochs, SGD lr 20
            # (per-token mean loss; see seqlm.train.config), clip 0.25, halve from epoch 5.
            **{cell: {"model": _rnn(cell, num_layers=2, embed_size=200, hidden_size=200,
                                    init="uniform", init_scale=0.1),
                      "train": dict(epochs=13, batch_size=20, bptt=20, optimizer="sgd", lr=lr,
                                    clip=0.25, schedule="zaremba", decay_start=4, lr_decay=0.5,
                                    log_interval=200)}
               for cell, lr in (("rnn", 1.0), ("lstm", 20.0), ("gru", 20.0))},
        },
        "eval": {"sentence_batch_size": 64, "stream_batch_size": 1},
        "figures": {"gradient_kwargs": {}},
    },
}

# ptb-fast: the paper preset's sizes, trained as the `cpu-fast` preset of `seqlm train`
# (pytorch/examples' tied recipe: 110.4 test ppl after 6 epochs there).
_FAST = dict(num_layers=2, embed_size=200, hidden_size=200, dropout=0.2, tie_weights=True,
             init="uniform", init_scale=0.1)
_ADAMW_DECAY = dict(epochs=6, batch_size=20, bptt=20, optimizer="adamw", lr=2e-3, clip=0.25,
                    schedule="zaremba", decay_start=2, lr_decay=0.5, log_interval=200)
PRESETS["ptb-fast"] = copy.deepcopy(PRESETS["paper"])
PRESETS["ptb-fast"]["neural"] = {
    # Bengio's n = 5 window with the recurrent models' tied 200-dim embeddings, trained
    # on independent sentences: the windows and the <eos> padding an n-gram sees.
    # Untied (100-dim features, 200 hidden) it overfits: valid 156.6 in sentence mode
    # after 4 epochs at training ppl 96, no better than the trigram (157.8).
    "ffnn": {"model": {"kind": "ffnn", "context": 4, "embed_size": 200, "hidden_size": 200,
                       "dropout": 0.25, "tie_weights": True},
             "train": dict(unit="sentence", epochs=6, batch_size=32, optimizer="adamw", lr=3e-3,
                           clip=1.0, schedule="zaremba", decay_start=2, lr_decay=0.5,
                           log_interval=200)},
    # The LSTM takes the cpu-fast recipe as it is: SGD at lr 20.
    "lstm": {"model": _rnn("lstm", **_FAST),
             "train": dict(epochs=6, batch_size=20, bptt=20, optimizer="sgd", lr=20.0, clip=0.25,
                           schedule="plateau", lr_decay=0.25, log_interval=200)},
    # The other two do not survive it (measured on PTB, 2-core CPU): the vanilla RNN
    # diverges at lr 20 (training ppl in the millions after 100 steps) and crawls at
    # lr 4 (valid 186.6 after 6 epochs); the GRU at lr 20 blows up in its third epoch
    # (valid 220 -> 212 -> 372). AdamW at 2e-3, halved every epoch after the second,
    # learns fastest of what was tried (without the halving the RNN stalls at valid
    # 188-192 from epoch 2 on).
    # The vanilla RNN has one layer: a second tanh layer trains worse (valid 193.9 vs
    # 171.0 after two epochs, same recipe), as Mikolov's single-layer RNNLMs suggest.
    "rnn": {"model": _rnn("rnn", **{**_FAST, "num_layers": 1}), "train": _ADAMW_DECAY},
    # The GRU trains on independent sentences. Stream-trained with this recipe it has
    # the best stream perplexity of all (test 102.18) but enters sentence mode from a
    # zero state it never saw and scores 141.00 there, no better than KN-5.
    "gru": {"model": _rnn("gru", **_FAST), "train": {**_ADAMW_DECAY, "unit": "sentence"}},
}

# ptb-quick: the PTB comparison in a class period (<= 15 min on 2 cores). What it
# changes against ptb-fast, each measured on PTB (docs/compare.md, "ptb-quick"):
# - every neural model trains on independent sentences, as the table scores it;
# - the three recurrent models have one 200-unit layer: the same width and depth, so the
#   rows compare cells. In four epochs a second layer slows the GRU down (valid 144.2
#   against 130.9 with one) and does not help the LSTM (129.3 after five epochs, one
#   layer 129.2 after four), at about 1.3x the time per epoch;
# - the output layer and its loss are one fused node (seqlm.nn.loss; the same model);
# - AdamW with decoupled weight decay 0.1 on a cosine schedule after a short warmup:
#   few epochs, the last ones at small rates. Decay 0.05 / 0.1 / none: FFNN valid
#   144.1 / 141.7 after five epochs (none, at dropout 0.25: 150.2), RNN 142.2 / 141.4 /
#   143.6 and GRU 129.2 / 128.7 / 130.9 after four;
# - two models train at a time, one process and one thread each (seqlm.compare.parallel),
#   longest first.
_QUICK_PTB = dict(embed_size=200, hidden_size=200, dropout=0.1, tie_weights=True,
                  init="uniform", init_scale=0.1)


def _ptb_quick_train(epochs: int, **kw) -> dict:
    base = dict(unit="sentence", epochs=epochs, batch_size=64, optimizer="adamw", lr=5e-3,
                weight_decay=0.1, warmup_steps=200, clip=1.0, schedule="cosine",
                fused_loss=True, log_interval=200)
    base.update(kw)
    return base


PRESETS["ptb-quick"] = copy.deepcopy(PRESETS["paper"])
PRESETS["ptb-quick"].update(threads=1, workers=2, parallel_order=["ffnn", "rnn", "lstm", "gru"])
PRESETS["ptb-quick"]["neural"] = {
    # With weight decay it needs little dropout: at decay 0.05, dropout 0.1 gives valid
    # 144.1 after five epochs, 0.2 145.3, 0.25 147.3 (without the decay 0.25 overfits:
    # training ppl 116 against valid 152.7 after four).
    "ffnn": {"model": {"kind": "ffnn", "context": 4, "embed_size": 200, "hidden_size": 200,
                       "dropout": 0.1, "tie_weights": True},
             "train": _ptb_quick_train(5)},
    # The vanilla RNN gets the FFNN's five epochs (the gated cells four): after four it
    # is still improving fast (valid 145.3 -> 141.4 in the fourth).
    "rnn": {"model": _rnn("rnn", num_layers=1, **_QUICK_PTB), "train": _ptb_quick_train(5)},
    # The LSTM learns slowest of the three under AdamW (1x200: valid 148.5 after four
    # epochs, the GRU 130.9); SGD at Zaremba's lr 20 on batches of 32 sentences, with the
    # forget gate opened at init (b_f = 1, Jozefowicz et al. 2015), reaches 129.2. (SGD's
    # weight decay is an L2 term scaled by lr 20: none here.)
    "lstm": {"model": _rnn("lstm", num_layers=1, forget_bias=1.0, **_QUICK_PTB),
             "train": _ptb_quick_train(4, batch_size=32, optimizer="sgd", lr=20.0, clip=0.25,
                                       warmup_steps=0, weight_decay=0.0)},
    "gru": {"model": _rnn("gru", num_layers=1, **_QUICK_PTB), "train": _ptb_quick_train(4)},
}

NEURAL_ORDER = ("ffnn", "rnn", "lstm", "gru")

# `quick` on a corpus other than the synthetic one (your own text, PTB): the same models,
# trained for about this many tokens each (whole epochs, 1 to 12), on every core. Measured
# on a 4.1 MB text (the King James Bible, 0.9M training tokens, 10k words): one epoch per
# model, the whole comparison in 4 min 13 s on 2 idle cores (docs/data.md).
QUICK_TEXT_TOKENS = 1_000_000


def fit_to_corpus(config: dict, preset: str, train_tokens: int | None, synthetic: bool) -> dict:
    """The ``quick`` preset sized to a corpus that is not the synthetic one it was tuned
    on: torch's default threads (a 10k-word softmax uses both cores) and, once
    ``train_tokens`` is known, epochs so that each neural model sees about
    :data:`QUICK_TEXT_TOKENS` tokens (the learning rate halved over the last third, as
    on the synthetic corpus). Other presets, and the synthetic corpus, are returned
    unchanged."""
    if preset != "quick" or synthetic:
        return config
    config = copy.deepcopy(config)
    config["threads"] = 0
    if train_tokens is not None:
        epochs = max(1, min(12, round(QUICK_TEXT_TOKENS / max(1, train_tokens))))
        for spec in config["neural"].values():
            spec["train"].update(epochs=epochs, decay_start=max(1, epochs * 2 // 3))
    return config


def get_preset(name: str) -> dict:
    """A deep copy of a preset (safe to modify)."""
    if name not in PRESETS:
        raise SeqlmError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return copy.deepcopy(PRESETS[name])
