"""Shared fixtures. Data is read from $SEQLM_DATA or ../shared/data, never copied."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IN_CI = bool(os.environ.get("CI"))


def shared_data_dir() -> Path | None:
    for cand in (os.environ.get("SEQLM_DATA"), REPO.parent / "shared" / "data"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def ptb_dir() -> Path:
    base = shared_data_dir()
    if base is None or not (base / "ptb" / "ptb.train.txt").exists():
        pytest.skip("PTB not found in $SEQLM_DATA or ../shared/data/ptb")
    return base / "ptb"


@pytest.fixture(scope="session")
def ptb_dir_or_none() -> Path | None:
    """PTB's directory, or None where it is not (for tests that run either way)."""
    base = shared_data_dir()
    return base / "ptb" if base is not None and (base / "ptb" / "ptb.train.txt").exists() else None


@pytest.fixture
def one_thread():
    """Tiny models: one thread is faster than two on a shared 2-core machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def require_tool(name: str) -> str:
    """Path of an external tool; skip without it, but fail under CI (which installs it)."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed, but .ci/run installs it")
        pytest.skip(f"{name} not installed")
    return path
