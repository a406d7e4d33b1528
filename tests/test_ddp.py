"""Data-parallel training under torchrun (gloo, 2 CPU processes) matches one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lm_helpers import write_toy_dir

REPO = Path(__file__).resolve().parents[1]


def _metrics(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    import torch.distributed as dist
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    data = write_toy_dir(tmp_path / "data", n_train=120, n_eval=20)
    args = ["train", "--data", str(data), "--preset", "tiny", "--epochs", "2", "--batch-size", "4",
            "--layers", "2", "--log-interval", "1", "--checkpoint-every", "10", "--no-progress",
            "--no-final-eval", "--device", "cpu", "--seed", "3"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    one = subprocess.run([sys.executable, "-m", "seqlm", *args, "--out", str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", "-m", "seqlm", *args, "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    la = [m["train_loss"] for m in a if m["event"] == "train"]
    lb = [m["train_loss"] for m in b if m["event"] == "train"]
    assert len(la) == len(lb) > 40  # rank 0 alone logs: no duplicated lines
    assert [m["step"] for m in a] == [m["step"] for m in b]
    for i, (x, y) in enumerate(zip(la, lb)):
        assert abs(x - y) <= 1e-4 * abs(x), f"step {i + 1}: {x} vs {y}"
    # each rank trained its own half of the columns: different losses, whose mean is the global one
    ranks = [m["rank_train_loss"] for m in b if m["event"] == "train"]
    assert all(len(r) == 2 for r in ranks)
    assert sum(r[0] != r[1] for r in ranks) > 0.9 * len(ranks)
    va = [m["valid_ppl"] for m in a if m["event"] == "epoch"]
    vb = [m["valid_ppl"] for m in b if m["event"] == "epoch"]
    assert va == pytest.approx(vb, rel=1e-4)
    # exactly one checkpoint (and one best model), no stray temporary directories
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["best", "checkpoint", "metrics.jsonl"]
