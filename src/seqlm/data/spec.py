"""A corpus spec: everything that decides a corpus, so a run can load it again.

``--data`` names a source (a registry name, ``synthetic`` or
``synthetic:seed=3,train_tokens=20000``, a folder, a text file, a ``.toml``
corpus file) or ``--train/--valid/--test`` name the files; ``--level``,
``--tokenizer``, ``--lowercase``, ``--max-vocab`` and ``--min-freq`` say how
text becomes tokens and which tokens get an id. :func:`corpus_spec` turns them
into a :class:`CorpusSpec`; :func:`load` builds the :class:`Corpus`, whose
:meth:`~seqlm.data.corpus.Corpus.record` (the spec plus a fingerprint of the
vocabulary and the three id streams) every checkpoint stores. ``seqlm eval``
and friends reload it with :meth:`CorpusSpec.from_dict`.

The synthetic corpus is named by its own parameters (its generator seed
included): the training ``--seed`` never changes the data.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from seqlm.data import hf, registry
from seqlm.data.corpus import (  # noqa: F401
    Corpus,
    corpus_from_lines,
    fingerprint,
    read_lines,
    split_contiguous,
)
from seqlm.data.layout import SPLITS, find_split_files, read_spec_file
from seqlm.data.synthetic import SyntheticConfig, synthetic_corpus
from seqlm.data.tokenize import WORD_TOKENIZERS
from seqlm.errors import SeqlmError

KIND = "seqlm.corpus"
SCHEMA_VERSION = 1
DEFAULT_SPLIT = (0.9, 0.05, 0.05)
TYPES = ("registry", "synthetic", "directory", "file", "files", "hf")


@dataclass(frozen=True)
class CorpusSpec:
    """What to read and how to cut it. ``type`` says how ``source`` was resolved:
    ``registry`` (``name``), ``synthetic`` (``synthetic`` = its generator's seed and
    options), ``directory`` / ``file`` (``path``, absolute) or ``files`` (``files``,
    absolute). ``level`` None means the source's own (word, tiny-shakespeare: char)."""

    source: str
    type: str
    name: str | None = None
    path: str | None = None
    files: dict | None = None
    synthetic: dict | None = None
    split: tuple = DEFAULT_SPLIT
    level: str | None = None
    tokenizer: str | None = None      # None: whitespace (word level)
    lowercase: bool = False
    max_vocab: int | None = None
    min_freq: int = 1
    extra: dict = field(default_factory=dict, compare=False)  # not part of the identity

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise SeqlmError(f"corpus spec: unknown type {self.type!r}")
        if self.level not in (None, "word", "char"):
            raise SeqlmError(f"unknown level {self.level!r} (choose from word, char)")
        if self.tokenizer is not None and self.tokenizer not in WORD_TOKENIZERS:
            raise SeqlmError(f"unknown tokenizer {self.tokenizer!r} (choose from "
                             f"{', '.join(WORD_TOKENIZERS)})")
        if self.level == "char" and self.tokenizer is not None:
            raise SeqlmError(f"--tokenizer {self.tokenizer} applies to word level, not --level char")
        if self.max_vocab is not None and self.max_vocab < 3:
            raise SeqlmError(f"--max-vocab must be >= 3 (<unk>, <eos> and one word), got {self.max_vocab}")
        if self.min_freq < 1:
            raise SeqlmError(f"--min-freq must be >= 1, got {self.min_freq}")
        if self.type == "synthetic" and (self.level not in (None, "word") or self.tokenizer
                                         or self.lowercase or self.max_vocab or self.min_freq != 1):
            raise SeqlmError("the synthetic corpus is word level with its own vocabulary (its oracle "
                             "is over its words): --level, --tokenizer, --lowercase, --max-vocab "
                             "and --min-freq do not apply")

    # ------------------------------------------------------------- identity
    @property
    def vocab_settings(self) -> dict:
        return {"level": self.level, "tokenizer": self.tokenizer, "lowercase": self.lowercase,
                "max_vocab": self.max_vocab, "min_freq": self.min_freq}

    @property
    def pretokenised(self) -> bool:
        """True for corpora distributed already tokenised (PTB, WikiText ``.tokens``,
        the synthetic language): whitespace is their tokenizer."""
        if self.type in ("synthetic",):
            return True
        if self.type == "registry":
            return self.name in ("ptb", "wikitext-2")
        files = list((self.files or {}).values()) or ([self.path] if self.path else [])
        return bool(files) and all(Path(f).name.startswith("ptb.") or f.endswith(".tokens")
                                   for f in files)

    def label(self) -> str:
        """The source as a user would type it again."""
        if self.type == "synthetic":
            return synthetic_name(self.synthetic or {})
        return self.source

    def to_dict(self) -> dict:
        d = {"kind": KIND, "schema_version": SCHEMA_VERSION}
        d.update({k: v for k, v in asdict(self).items() if k != "extra"})
        d["split"] = list(self.split)
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "corpus spec") -> "CorpusSpec":
        if not isinstance(d, dict) or d.get("kind") != KIND:
            raise SeqlmError(f"{where}: not a seqlm corpus spec")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise SeqlmError(f"{where}: corpus spec version {d.get('schema_version')!r} is not "
                             f"supported (this seqlm reads version {SCHEMA_VERSION})")
        names = {f for f in cls.__dataclass_fields__ if f != "extra"}
        try:
            kw = {k: d[k] for k in names if k in d}
            kw["split"] = tuple(kw.get("split", DEFAULT_SPLIT))
            return cls(**kw)
        except TypeError as e:
            raise SeqlmError(f"{where}: malformed corpus spec ({e})") from None

    def with_settings(self, **settings) -> "CorpusSpec":
        """The same source cut another way (None values leave a setting as it is)."""
        return replace(self, **{k: v for k, v in settings.items() if v is not None})


def synthetic_name(params: dict) -> str:
    """``synthetic`` for the default corpus, else ``synthetic:seed=3,train_tokens=20000``."""
    extra = {k: v for k, v in params.items() if not (k == "seed" and v == 0)}
    return "synthetic" + (":" + ",".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


def parse_synthetic(source: str, seed: int | None = None, overrides: dict | None = None) -> dict:
    """``synthetic[:k=v,...]`` → ``{"seed": S, **options}`` (options checked by the generator)."""
    params: dict = {"seed": 0 if seed is None else int(seed)}
    params.update(overrides or {})
    _, _, rest = source.partition(":")
    for item in filter(None, rest.split(",")):
        k, eq, v = item.partition("=")
        if not eq:
            raise SeqlmError(f"{source}: expected synthetic:NAME=VALUE,..., got {item!r}")
        try:
            params[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else float(v)
        except ValueError:
            raise SeqlmError(f"{source}: {k.strip()} must be a number, got {v!r}") from None
    known = set(SyntheticConfig().to_dict()) | {"seed"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise SeqlmError(f"{source}: unknown option {unknown[0]!r} of the synthetic corpus (known: "
                         f"{', '.join(sorted(known))})")
    return params


def corpus_spec(source: str | None = None, *, train=None, valid=None, test=None, level=None,
                tokenizer=None, lowercase=None, max_vocab=None, min_freq=None, split=None,
                seed: int | None = None, root=None, **synthetic) -> CorpusSpec:
    """Resolve what a user named into a :class:`CorpusSpec` (see the module doc).

    Settings given here override those of a ``.toml`` corpus file; ``seed`` and
    ``synthetic`` options apply to the synthetic corpus only; ``root`` overrides
    ``$SEQLM_DATA`` when checking a registry name.
    """
    settings: dict = {}
    files = {s: f for s, f in (("train", train), ("valid", valid), ("test", test)) if f is not None}
    src = "" if source is None else str(source)
    if files and src:
        raise SeqlmError("give either --data or --train/--valid/--test, not both")
    if src.endswith(".toml"):
        settings = read_spec_file(src)
        for s in SPLITS:
            if s in settings:
                files[s] = settings.pop(s)
    for k, v in (("level", level), ("tokenizer", tokenizer), ("lowercase", lowercase),
                 ("max_vocab", max_vocab), ("min_freq", min_freq), ("split", split)):
        if v is not None:
            settings[k] = v
    split_ = tuple(float(f) for f in settings.pop("split", DEFAULT_SPLIT))
    common = dict(split=split_, **settings)
    if (seed is not None or synthetic) and not src.startswith("synthetic"):
        raise SeqlmError(f"options {sorted(synthetic) or ['seed']} apply only to the synthetic corpus")
    if src == "synthetic" or src.startswith("synthetic:"):
        return CorpusSpec(src, "synthetic", synthetic=parse_synthetic(src, seed, synthetic), **common)
    if src.startswith(hf.PREFIX):
        hf.parse(src)
        return CorpusSpec(src, "hf", **common)
    if files:
        missing = [s for s in SPLITS if s not in files]
        if missing:
            raise SeqlmError(f"--{missing[0]} is missing: give all of --train, --valid and --test")
        files = {s: str(Path(files[s]).expanduser().resolve()) for s in SPLITS}
        return CorpusSpec(src or files["train"], "files", files=files, **common)
    if "dir" in common or "file" in common:
        where = common.pop("dir", None) or common.pop("file")
        kind = "directory" if Path(where).is_dir() else "file"
        return CorpusSpec(src, kind, path=where, **common)
    if not src:
        raise SeqlmError("no corpus given: --data SOURCE (or --train/--valid/--test FILE)")
    path = Path(src).expanduser()
    if path.is_dir():
        return CorpusSpec(src, "directory", path=str(path.resolve()), **common)
    if path.is_file():
        return CorpusSpec(src, "file", path=str(path.resolve()), **common)
    if src in registry.REGISTRY:
        return CorpusSpec(src, "registry", name=src, **common)
    if path.suffix or "/" in src or src.startswith("."):
        raise SeqlmError(f"{src}: no such file or directory")
    registry.get(src)  # raises: unknown dataset name, listing the known ones
    raise AssertionError("unreachable")  # pragma: no cover


# Raw text at word level, unless a flag says otherwise: words and punctuation (Unicode),
# the 10,000 most frequent kept — the choice for a book or a web page. Pre-tokenised text
# (PTB, WikiText: tokens already separated by spaces) keeps whitespace and its own vocabulary.
RAW_TEXT_DEFAULTS = {"tokenizer": "words", "max_vocab": 10_000}
# a word with punctuation stuck to it ("dog," "it?" "(see"), but not an abbreviation's period
# ("mr." "inc.", which PTB keeps as one token)
_ATTACHED = re.compile(r"^\w+[,;:!?\"”’)\]]+\.?$|^[\"“‘(\[]+\w+")


def looks_pretokenised(lines: list[str], sample: int = 2000) -> bool:
    """Is the text already tokenised — punctuation set off by spaces, as in PTB and
    WikiText? Raw prose attaches it ("dog," "it?" "(see"): more than 1% of such tokens in
    the first ``sample`` lines says raw (an abbreviation's period does not count)."""
    tokens = [t for line in lines[:sample] for t in line.split()]
    if not tokens:
        return True
    return sum(bool(_ATTACHED.match(t)) for t in tokens) <= 0.01 * len(tokens)


def with_text_defaults(spec: CorpusSpec, train_lines: list[str]) -> CorpusSpec:
    """One default for every command: word-level text that is not pre-tokenised gets
    :data:`RAW_TEXT_DEFAULTS`, each unless its own flag was given; the choice is recorded
    in the spec (so a checkpoint reads its corpus the same way again)."""
    if (spec.level or "word") != "word":
        return spec
    known = spec.type == "registry" and spec.pretokenised  # PTB, WikiText under their registry names
    raw = not (known or looks_pretokenised(train_lines))  # else the text decides, never its file names
    return replace(spec, tokenizer=spec.tokenizer or (RAW_TEXT_DEFAULTS["tokenizer"] if raw else "whitespace"),
                   max_vocab=spec.max_vocab if spec.max_vocab is not None else
                   (RAW_TEXT_DEFAULTS["max_vocab"] if raw else None))


def read_splits(spec: CorpusSpec, root=None) -> tuple[dict[str, list[str]], str, CorpusSpec]:
    """``(lines per split, corpus name, spec with its level resolved)`` of a text source."""
    if spec.type == "synthetic":
        raise SeqlmError("the synthetic corpus is generated, not read")  # pragma: no cover
    level, name = spec.level, None
    if spec.type == "registry":
        ds = registry.get(spec.name)
        directory = registry.locate(spec.name, root)
        level, name = level or ds.level, ds.name
        if ds.single_file:
            lines = split_contiguous(read_lines(directory / ds.files[0]), spec.split,
                                     str(directory / ds.files[0]))
        else:
            lines = {s: read_lines(p) for s, p in find_split_files(directory).items()}
    elif spec.type == "file":
        lines = split_contiguous(read_lines(spec.path), spec.split, spec.path)
        name = Path(spec.path).stem
    elif spec.type == "directory":
        lines = {s: read_lines(p) for s, p in find_split_files(spec.path).items()}
        name = Path(spec.path).name
    elif spec.type == "hf":
        got = hf.read(spec.source)
        lines = got if isinstance(got, dict) else split_contiguous(got, spec.split, spec.source)
        name = Path(hf.parse(spec.source)[0]).name.replace("/", "-")
    else:
        lines = {s: read_lines(spec.files[s]) for s in SPLITS}
        name = Path(spec.source).stem if spec.source.endswith(".toml") else Path(spec.files["train"]).stem
    return lines, name, with_text_defaults(replace(spec, level=level or "word"), lines["train"])


def load(spec: CorpusSpec, root=None):
    """The :class:`~seqlm.data.corpus.Corpus` a spec names, with ``corpus.spec`` set."""
    if spec.type == "synthetic":
        params = dict(spec.synthetic or {"seed": 0})
        corpus = synthetic_corpus(params.pop("seed", 0), **params)
        corpus.spec = spec
        return corpus
    lines, name, resolved = read_splits(spec, root)
    corpus = corpus_from_lines(lines, name, resolved.level, resolved.min_freq, resolved.max_vocab,
                               tokenizer=resolved.tokenizer, lowercase=resolved.lowercase)
    corpus.spec = resolved
    return corpus


# ------------------------------------------------------------ the friendly front

def _in_memory(source, level, tokenizer, lowercase, max_vocab, min_freq, split) -> Corpus:
    """Sentences or texts in memory: a list (cut 90/5/5 by default, as one text file is)
    or ``{"train": [...], "valid": [...], "test": [...]}``; a string with line breaks is
    several lines. The same defaults as a file's (raw text: words, 10,000 kept)."""
    def lines_of(items, what) -> list[str]:
        if isinstance(items, str) or not all(isinstance(t, str) for t in items):
            raise SeqlmError(f"{what}: expected a list of strings (sentences or texts)")
        return [line for t in items for line in t.split("\n")]
    if isinstance(source, dict):
        missing = [s for s in SPLITS if s not in source]
        if missing or set(source) - set(SPLITS):
            raise SeqlmError(f"in-memory splits: expected the keys train, valid, test, got {sorted(source)}")
        lines = {s: lines_of(source[s], s) for s in SPLITS}
    else:
        lines = split_contiguous(lines_of(source, "the given lines"), tuple(split or DEFAULT_SPLIT),
                                 "the given lines")
    spec = CorpusSpec("<in memory>", "files", level=level, tokenizer=tokenizer, lowercase=bool(lowercase),
                      max_vocab=max_vocab, min_freq=min_freq or 1)
    spec = with_text_defaults(replace(spec, level=level or "word"), lines["train"])
    corpus = corpus_from_lines(lines, "in-memory", spec.level, spec.min_freq, spec.max_vocab,
                               tokenizer=spec.tokenizer, lowercase=spec.lowercase)
    return corpus  # no spec: a corpus built in code is known by its fingerprint

def corpus_from_directory(directory: str | Path, level: str = "word", min_freq: int = 1,
                          max_size: int | None = None, **settings) -> Corpus:
    """A folder of ``[PREFIX.]SPLIT.EXT`` files (see :mod:`seqlm.data.layout`)."""
    return load_corpus(Path(directory), level=level, min_freq=min_freq, max_vocab=max_size, **settings)


def corpus_from_file(path: str | Path, level: str = "word", split=(0.9, 0.05, 0.05),
                     min_freq: int = 1, max_size: int | None = None, name: str | None = None,
                     **settings) -> Corpus:
    """One raw UTF-8 text file, split contiguously by lines (90/5/5 by default)."""
    c = load_corpus(Path(path), level=level, split=split, min_freq=min_freq, max_vocab=max_size,
                    **settings)
    c.name = name or c.name
    return c


def load_corpus(source=None, level: str | None = None, seed: int | None = None,
                split=None, min_freq: int | None = None, max_size: int | None = None,
                root: str | Path | None = None, *, tokenizer: str | None = None,
                lowercase: bool | None = None, max_vocab: int | None = None,
                train=None, valid=None, test=None, **synthetic_kwargs) -> Corpus:
    """A corpus from a directory, a text file, explicit split files, a ``.toml``
    corpus file, a registry name or ``"synthetic"`` (``"synthetic:seed=3"``), or a
    :class:`~seqlm.data.spec.CorpusSpec` / its dictionary (a checkpoint's record).

    ``level`` is ``"word"`` or ``"char"``; ``None`` means the source's default
    (word, except ``tiny-shakespeare``: char). ``tokenizer`` (``whitespace`` or
    ``words``), ``lowercase``, ``max_vocab`` (alias ``max_size``) and
    ``min_freq`` shape the vocabulary. ``seed`` and ``synthetic_kwargs``
    (fields of :class:`~seqlm.data.synthetic.SyntheticConfig`) apply to the
    synthetic corpus only; ``split`` to single files; ``root`` overrides
    ``$SEQLM_DATA`` for registry names.
    """
    if isinstance(source, dict) and "kind" not in source:
        return _in_memory(source, level, tokenizer, lowercase, max_vocab if max_vocab is not None else max_size,
                          min_freq, split)
    if isinstance(source, (list, tuple)):
        return _in_memory(list(source), level, tokenizer, lowercase,
                          max_vocab if max_vocab is not None else max_size, min_freq, split)
    if isinstance(source, dict):
        source = CorpusSpec.from_dict(source)
    if isinstance(source, CorpusSpec):
        return load(source, root)
    if max_size is not None and max_vocab is not None and max_size != max_vocab:
        raise SeqlmError("give max_vocab or max_size, not both")
    spec = corpus_spec(source, train=train, valid=valid, test=test, level=level,
                       tokenizer=tokenizer, lowercase=lowercase,
                       max_vocab=max_vocab if max_vocab is not None else max_size,
                       min_freq=min_freq, split=split, seed=seed, root=root, **synthetic_kwargs)
    return load(spec, root)
