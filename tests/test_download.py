"""Downloads against a real HTTP server on 127.0.0.1 serving archives the tests build."""
from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from seqlm.data import load_corpus
from seqlm.data.registry import REGISTRY, Dataset, RemoteFile, download, locate
from seqlm.errors import SeqlmError

SPLITS = {"train": "a b c\nb c\n", "valid": "a c\n", "test": "c b\n"}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(directory) -> base URL; servers are shut down after the test."""
    servers = []

    def start(directory: Path) -> str:
        handler = functools.partial(QuietHandler, directory=str(directory))
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/"
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def build_archive(path: Path, kind: str) -> str:
    """A tiny dataset nested in a folder, as tar.gz or zip; returns its sha256."""
    if kind == "tar.gz":
        with tarfile.open(path, "w:gz") as tf:
            for split, text in SPLITS.items():
                data = text.encode()
                info = tarfile.TarInfo(f"toy-v1/{split}.txt")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    else:
        with zipfile.ZipFile(path, "w") as zf:
            for split, text in SPLITS.items():
                zf.writestr(f"toy-v1/{split}.txt", text)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def toy(archive: str, sha256: str) -> Dataset:
    return Dataset("toy", "http://unused.invalid/", (RemoteFile(archive, sha256=sha256),),
                   ("train.txt", "valid.txt", "test.txt"))


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_download_unpack_success(tmp_path, serve, kind):
    www = tmp_path / "www"
    www.mkdir()
    sha = build_archive(www / f"toy.{kind}", kind)
    root = tmp_path / "data"
    out = download(toy(f"toy.{kind}", sha), root=root, base_url=serve(www), progress=False)
    assert out == root / "toy"
    assert sorted(p.name for p in out.iterdir()) == [".seqlm-download.json", "test.txt", "train.txt",
                                                     "valid.txt"]
    assert (out / "train.txt").read_text() == SPLITS["train"]
    assert sorted(p.relative_to(root).as_posix() for p in files_under(root)) == \
        ["toy/.seqlm-download.json", "toy/test.txt", "toy/train.txt", "toy/valid.txt"]  # no archive, no temp dirs
    c = load_corpus(out)
    assert (c.train.size, c.valid.size, c.test.size) == (7, 3, 3)


def test_checksum_mismatch_leaves_nothing(tmp_path, serve):
    www = tmp_path / "www"
    www.mkdir()
    build_archive(www / "toy.tar.gz", "tar.gz")
    root = tmp_path / "data"
    with pytest.raises(SeqlmError, match="checksum mismatch") as e:
        download(toy("toy.tar.gz", "0" * 64), root=root, base_url=serve(www), progress=False)
    assert "\n" not in str(e.value)
    assert files_under(root) == [] and not (root / "toy").exists()


def test_existing_dataset_survives_failed_redownload(tmp_path, serve):
    www = tmp_path / "www"
    www.mkdir()
    sha = build_archive(www / "toy.zip", "zip")
    root = tmp_path / "data"
    download(toy("toy.zip", sha), root=root, base_url=serve(www), progress=False)
    with pytest.raises(SeqlmError):
        download(toy("toy.zip", "f" * 64), root=root, base_url=serve(www), progress=False,
                 force=True)
    assert sorted(p.name for p in files_under(root)) == [".seqlm-download.json", "test.txt", "train.txt",
                                                         "valid.txt"]


def test_http_404_and_unreachable(tmp_path, serve):
    www = tmp_path / "www"
    www.mkdir()
    root = tmp_path / "data"
    with pytest.raises(SeqlmError, match="HTTP 404") as e:
        download(toy("toy.zip", "0" * 64), root=root, base_url=serve(www), progress=False)
    assert "\n" not in str(e.value) and "put train.txt, valid.txt, test.txt in" in str(e.value)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SeqlmError, match="could not download") as e:
        download(toy("toy.zip", "0" * 64), root=root, base_url=f"http://127.0.0.1:{port}/",
                 progress=False, timeout=5)
    assert str(root / "toy") in str(e.value) and "seqlm data download toy" in str(e.value)
    assert files_under(root) == []


def test_archive_escaping_its_directory_is_refused(tmp_path, serve):
    www = tmp_path / "www"
    www.mkdir()
    with zipfile.ZipFile(www / "evil.zip", "w") as zf:
        zf.writestr("../../escaped.txt", "x")
    sha = hashlib.sha256((www / "evil.zip").read_bytes()).hexdigest()
    with pytest.raises(SeqlmError, match="escapes"):
        download(toy("evil.zip", sha), root=tmp_path / "data", base_url=serve(www), progress=False)
    assert not list(tmp_path.rglob("escaped.txt"))


def test_registry_entries_are_complete():
    assert set(REGISTRY) == {"ptb", "wikitext-2", "tiny-shakespeare"}
    for ds in REGISTRY.values():
        assert ds.base_url.startswith("https://")
        assert all(rf.md5 or rf.sha256 or rf.size for rf in ds.downloads)
    assert REGISTRY["tiny-shakespeare"].level == "char"


# --------------------------------------------------------------------- CLI
def seqlm(*args, env):
    return subprocess.run([sys.executable, "-m", "seqlm", *args], capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=120)


def test_cli_download_ptb_from_local_mirror(tmp_path, serve, ptb_dir):
    env = {"SEQLM_DATA": str(tmp_path / "data"), "SEQLM_DOWNLOAD_BASE": serve(ptb_dir)}
    r = seqlm("data", "download", "ptb", env=env)
    assert r.returncode == 0, r.stderr
    got = locate("ptb", tmp_path / "data")
    for rf in REGISTRY["ptb"].downloads:
        assert hashlib.md5((got / rf.name).read_bytes()).hexdigest() == rf.md5
    r = seqlm("data", "info", "ptb", "--json", env=env)
    assert '"train_tokens": 929589' in r.stdout


def test_cli_checksum_mismatch(tmp_path, serve):
    www = tmp_path / "www"
    www.mkdir()
    for name in REGISTRY["ptb"].files:
        (www / name).write_text("not the penn treebank\n")
    data = tmp_path / "data"
    r = seqlm("data", "download", "ptb", env={"SEQLM_DATA": str(data),
                                              "SEQLM_DOWNLOAD_BASE": serve(www)})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "checksum mismatch" in r.stderr
    assert files_under(data) == []
    # --url on a single-archive dataset: same refusal, nothing left
    build_archive(www / "wikitext-2-v1.zip", "zip")
    r = seqlm("data", "download", "wikitext-2", "--url", serve(www) + "wikitext-2-v1.zip",
              env={"SEQLM_DATA": str(data)})
    assert r.returncode == 2 and "checksum mismatch" in r.stderr and "Traceback" not in r.stderr
    assert files_under(data) == []


def test_cli_unknown_dataset(tmp_path):
    r = seqlm("data", "download", "imagenet", env={"SEQLM_DATA": str(tmp_path)})
    assert r.returncode == 2 and "unknown dataset 'imagenet'" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_existing_damaged_copy_is_refused(tmp_path, serve):
    """Asked again, a download re-verifies every file of the copy it left."""
    www = tmp_path / "www"
    www.mkdir()
    sha = build_archive(www / "toy.zip", "zip")
    root = tmp_path / "data"
    ds = toy("toy.zip", sha)
    out = download(ds, root=root, base_url=serve(www), progress=False)
    assert download(ds, root=root, base_url=serve(www), progress=False) == out  # intact: nothing to do
    (out / "valid.txt").write_text(SPLITS["valid"][:-2])                      # truncated
    with pytest.raises(SeqlmError, match=r"valid.txt: damaged copy of dataset 'toy' \(size 2, expected 4\); "
                                         r"download again with: seqlm data download toy --force") as e:
        download(ds, root=root, base_url=serve(www), progress=False)
    assert "\n" not in str(e.value)
    download(ds, root=root, base_url=serve(www), progress=False, force=True)
    assert (out / "valid.txt").read_text() == SPLITS["valid"]
    download(ds, root=root, base_url=serve(www), progress=False)


def test_mirrors_are_tried_in_order_and_the_one_that_served_is_recorded(tmp_path, serve):
    from seqlm.data.registry import served_by
    good, bad, empty = tmp_path / "good", tmp_path / "bad", tmp_path / "empty"
    for d in (good, bad, empty):
        d.mkdir()
    sha = build_archive(good / "toy.zip", "zip")
    (bad / "toy.zip").write_bytes(b"not the archive")  # a mirror that serves other bytes
    mirrors = (serve(empty), serve(bad), serve(good))  # gone (404), wrong bytes, right
    ds = Dataset("toy", mirrors, (RemoteFile("toy.zip", sha256=sha),), ("train.txt", "valid.txt", "test.txt"))
    out = download(ds, root=tmp_path / "data", progress=False)
    assert (out / "train.txt").read_text() == SPLITS["train"]
    assert served_by(out) == {"toy.zip": mirrors[2] + "toy.zip"}
    with pytest.raises(SeqlmError, match=r"could not download toy.zip from any of 2 addresses .*HTTP 404.*checksum"):
        download(Dataset("toy", mirrors[:2], ds.downloads, ds.files), root=tmp_path / "data2", progress=False)
    assert not (tmp_path / "data2" / "toy").exists()


def test_every_named_dataset_has_a_checksum():
    for ds in REGISTRY.values():
        for rf in ds.downloads:
            assert rf.sha256 or rf.md5, (ds.name, rf.name)
        assert len(ds.mirrors) >= 2, ds.name
