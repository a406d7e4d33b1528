"""The corpus flags every data-reading command shares, and their translation to a spec.

``--data`` (or ``--train/--valid/--test``) names the text; ``--level``,
``--tokenizer``, ``--lowercase``, ``--max-vocab`` and ``--min-freq`` say how it
becomes tokens. Flags left out are ``None`` here, so a ``.toml`` corpus file or
a checkpoint's recorded corpus supplies them.
"""
from __future__ import annotations

from seqlm.data.tokenize import WORD_TOKENIZERS
from seqlm.data.vocab import LEVELS

DATA_HELP = ("corpus: a registry name (ptb, wikitext-2, tiny-shakespeare), 'synthetic' "
             "(or synthetic:seed=N), a folder of PREFIX.train/valid/test.txt files, one text "
             "file (split 90/5/5), a .toml corpus file, or hf:NAME[:CONFIG] / hf:DIR (Hugging Face "
             "datasets, the hf extra)")
SETTINGS = ("level", "tokenizer", "lowercase", "max_vocab", "min_freq")


def add_corpus_args(p, data: bool = True, data_help: str = DATA_HELP, data_default=None) -> None:
    """Add ``--data`` (when ``data``), the explicit split files and the vocabulary flags."""
    if data:
        p.add_argument("--data", default=data_default, metavar="SOURCE", help=data_help)
    g = p.add_argument_group("corpus and vocabulary")
    g.add_argument("--train", metavar="FILE", help="training text (with --valid and --test, instead of --data)")
    g.add_argument("--valid", metavar="FILE", help="validation text")
    g.add_argument("--test", metavar="FILE", help="test text")
    g.add_argument("--level", choices=LEVELS, default=None,
                   help="token unit (default: the corpus's own, word for most)")
    g.add_argument("--tokenizer", choices=WORD_TOKENIZERS, default=None,
                   help="word level: split on whitespace, or into words, numbers and punctuation "
                        "(Unicode-aware); default: whitespace for pre-tokenised text (PTB, WikiText), "
                        "words for raw text")
    g.add_argument("--lowercase", action="store_true", default=None, help="fold case first")
    g.add_argument("--max-vocab", type=int, default=None, metavar="N",
                   help="keep the N - 2 most frequent training tokens (N counts <unk> and <eos>; "
                        "default 10000 for raw text, no cap for pre-tokenised text)")
    g.add_argument("--min-freq", type=int, default=None, metavar="K",
                   help="keep tokens seen at least K times in training (default 1)")


def settings_from_args(args) -> dict:
    """The vocabulary flags that were given (``None`` ones left out)."""
    return {k: getattr(args, k) for k in SETTINGS if getattr(args, k, None) is not None}


def spec_from_args(args, source: str | None = None, **extra):
    """A :class:`~seqlm.data.spec.CorpusSpec` from ``--data``/``--train``… and the
    vocabulary flags; ``source`` replaces ``--data``."""
    from seqlm.data.spec import corpus_spec
    src = source if source is not None else getattr(args, "data", None)
    return corpus_spec(src, train=args.train, valid=args.valid, test=args.test,
                       **settings_from_args(args), **extra)


def has_corpus(args) -> bool:
    return bool(getattr(args, "data", None) or args.train or args.valid or args.test)


def split_files(args) -> dict:
    """``--train/--valid/--test`` as given (empty when none)."""
    return {s: getattr(args, s) for s in ("train", "valid", "test") if getattr(args, s, None)}
