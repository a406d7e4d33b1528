"""``--data hf:NAME[:CONFIG]``: a Hugging Face ``datasets`` dataset as a seqlm corpus.

``hf:wikitext:wikitext-2-raw-v1`` loads a dataset from the Hub (online, the library's own
cache); ``hf:/path/to/dir`` loads one saved with ``Dataset.save_to_disk`` — offline. The
text column is ``text`` (or the one string column); a row's text may hold several lines.
Splits ``train``, ``validation`` (or ``valid``/``dev``) and ``test`` are used as given;
a dataset with ``train`` alone is cut 90/5/5 into contiguous parts, like one text file.
The library is an optional extra: ``pip install 'seqlm[hf]'``.
"""
from __future__ import annotations

from pathlib import Path

from seqlm.errors import SeqlmError

PREFIX = "hf:"
VALID_NAMES = ("validation", "valid", "dev")


def parse(source: str) -> tuple[str, str | None]:
    """(dataset name or saved directory, config or None) of ``hf:NAME[:CONFIG]``."""
    ref = source[len(PREFIX):]
    if not ref:
        raise SeqlmError(f"{source}: expected hf:NAME[:CONFIG] or hf:DIRECTORY (a dataset saved with save_to_disk)")
    if Path(ref).expanduser().is_dir():
        return str(Path(ref).expanduser().resolve()), None
    name, _, config = ref.partition(":")
    return name, config or None


def _library():
    try:
        import datasets
    except ImportError:
        raise SeqlmError("--data hf:…: needs the Hugging Face datasets library: pip install 'seqlm[hf]'") from None
    return datasets


def _column(split, source: str) -> str:
    strings = [k for k, f in split.features.items() if getattr(f, "dtype", None) in ("string", "large_string")]
    if "text" in split.features:
        return "text"
    if len(strings) == 1:
        return strings[0]
    raise SeqlmError(f"{source}: no 'text' column and {len(strings)} string columns ({', '.join(strings)}); "
                     "seqlm reads one text column")


def read(source: str) -> dict[str, list[str]] | list[str]:
    """{split: lines} of the dataset (or the lines of ``train`` alone, to be split)."""
    datasets = _library()
    name, config = parse(source)
    try:
        if Path(name).is_dir():
            ds = datasets.load_from_disk(name)
        else:
            ds = datasets.load_dataset(name, config)
    except Exception as err:  # noqa: BLE001 - offline, unknown name, a bad config: the library's many types
        msg = " ".join(str(err).split())[:200] or type(err).__name__
        raise SeqlmError(f"{source}: could not load the dataset ({msg})") from None
    if not hasattr(ds, "keys"):  # a single split saved on its own
        ds = {"train": ds}
    splits = {s: ds[s] for s in ds.keys()}
    valid = next((s for s in VALID_NAMES if s in splits), None)

    def lines(split) -> list[str]:
        col = _column(split, source)
        out: list[str] = []
        for text in split[col]:
            out.extend(str(text).split("\n"))
        return out
    if "train" not in splits:
        raise SeqlmError(f"{source}: no 'train' split (splits: {', '.join(splits)})")
    if valid and "test" in splits:
        return {"train": lines(splits["train"]), "valid": lines(splits[valid]), "test": lines(splits["test"])}
    return lines(splits["train"])
