"""Which files of a folder are the train/valid/test splits, and corpus spec files.

A folder holds a corpus when its files are named ``[PREFIX.]SPLIT.EXT``: one
prefix (possibly none) shared by the three splits, ``SPLIT`` one of ``train``,
``valid`` (or ``validation``, ``dev``) and ``test``, and ``EXT`` one of
``txt``, ``tokens``, ``raw``. That covers PTB (``ptb.train.txt``), WikiText
(``wiki.train.tokens``, ``wiki.train.raw``), the plain ``train.txt`` and the
``novel.train.txt`` of split books and course data. Exactly one complete set
must be present: an incomplete or ambiguous folder is a one-line error naming
what was found and what is expected.

A corpus can also be described by a small TOML file (``--data corpus.toml``)::

    train = "novel.train.txt"        # paths relative to the TOML file
    valid = "novel.valid.txt"
    test  = "novel.test.txt"
    # or: file = "novel.txt"  (one file, split contiguously) with split = [0.9, 0.05, 0.05]
    # or: dir = "novel/"
    level = "word"                   # the settings below are optional
    tokenizer = "words"
    lowercase = true
    max_vocab = 10000
    min_freq = 1
"""
from __future__ import annotations

import re
from pathlib import Path

from seqlm.errors import SeqlmError

SPLITS = ("train", "valid", "test")
SPLIT_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "dev": "valid",
               "test": "test"}
EXTENSIONS = ("txt", "tokens", "raw")
_NAME = re.compile(r"^(?:(?P<prefix>.+)\.)?(?P<split>train|valid|validation|dev|test)"
                   r"\.(?P<ext>txt|tokens|raw)$")
EXPECTED = ("PREFIX.train/valid/test.txt (.tokens, .raw; e.g. ptb.train.txt, "
            "wiki.train.tokens, train.txt)")

# Keys a corpus TOML file may hold, and their types.
SPEC_KEYS = {"train": str, "valid": str, "test": str, "file": str, "dir": str, "split": list,
             "level": str, "tokenizer": str, "lowercase": bool, "max_vocab": int, "min_freq": int}


def _show(names: list[str], n: int = 4) -> str:
    more = f", … ({len(names) - n} more)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def find_split_files(directory: str | Path) -> dict[str, Path]:
    """``{"train": path, "valid": path, "test": path}`` of a corpus folder (see the module doc)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SeqlmError(f"{directory}: directory not found")
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    for p in sorted(directory.iterdir()):
        m = _NAME.match(p.name)
        if m and p.is_file():
            split = SPLIT_NAMES[m["split"]]
            groups.setdefault((m["prefix"] or "", m["ext"]), {}).setdefault(split, []).append(p.name)
    complete = {k: g for k, g in groups.items() if all(s in g for s in SPLITS)}
    for g in complete.values():
        for s in SPLITS:
            if len(g[s]) > 1:  # e.g. valid.txt and dev.txt side by side
                raise SeqlmError(f"{directory}: ambiguous {s} split ({' and '.join(g[s])}); "
                                 "keep one, or pass --train/--valid/--test")
    if len(complete) > 1:
        sets = ["/".join(g[s][0] for s in SPLITS) for g in complete.values()]
        raise SeqlmError(f"{directory}: ambiguous corpus folder, {len(complete)} complete sets of "
                         f"split files ({'; '.join(sets)}); keep one, or pass --train/--valid/--test")
    if complete:
        g = next(iter(complete.values()))
        return {s: directory / g[s][0] for s in SPLITS}
    if groups:
        found = sorted(n for g in groups.values() for names in g.values() for n in names)
        missing = [f"{prefix + '.' if prefix else ''}{s}.{ext}"
                   for (prefix, ext), g in groups.items() for s in SPLITS if s not in g]
        raise SeqlmError(f"{directory}: incomplete corpus folder, found {_show(found)} but not "
                         f"{_show(missing)} (expected {EXPECTED})")
    present = sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
    seen = f"found {_show(present)}" if present else "the folder is empty"
    raise SeqlmError(f"{directory}: no training file found ({seen}; expected {EXPECTED}, "
                     "or pass --train/--valid/--test, or a single text file)")


def read_spec_file(path: str | Path) -> dict:
    """A corpus TOML file as a dict of checked settings, paths made absolute
    (relative to the file)."""
    import tomllib
    path = Path(path)
    try:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeqlmError(f"{path}: corpus spec file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SeqlmError(f"{path}: not valid TOML ({e})") from None
    out: dict = {}
    for k, v in d.items():
        key = k.replace("-", "_")
        want = SPEC_KEYS.get(key)
        if want is None:
            raise SeqlmError(f"{path}: unknown key {k!r} (known: {', '.join(SPEC_KEYS)})")
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            raise SeqlmError(f"{path}: {k} must be a {want.__name__}, got {v!r}")
        if key in ("train", "valid", "test", "file", "dir"):
            v = str((path.parent / v).resolve())
        out[key] = v
    given = [k for k in ("file", "dir") if k in out] + (["train/valid/test"] if any(
        s in out for s in SPLITS) else [])
    if len(given) != 1:
        raise SeqlmError(f"{path}: give exactly one of train/valid/test, file or dir"
                         + (f" (found {', '.join(given)})" if given else ""))
    if given == ["train/valid/test"] and not all(s in out for s in SPLITS):
        missing = [s for s in SPLITS if s not in out]
        raise SeqlmError(f"{path}: {', '.join(missing)} missing (give train, valid and test)")
    return out
