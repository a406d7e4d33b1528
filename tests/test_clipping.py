"""Gradient clipping (Pascanu Alg. 1 and element-wise) and the divergence/convergence demo."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqlm.analysis.clipping import ClipDemoConfig, clipping_demo
from seqlm.analysis.tasks import ADDING_MEAN_MSE
from seqlm.nn.clip import clip_grad_norm_, clip_grad_value_, clip_norm_np


pytestmark = pytest.mark.usefixtures("one_thread")


def _params(scale: float) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ps = [torch.zeros(3, 4, requires_grad=True), torch.zeros(5, requires_grad=True)]
    for p in ps:
        p.grad = torch.randn(p.shape, generator=g) * scale
    return ps


def _norm(ps) -> float:
    return math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in ps))


@pytest.mark.parametrize("scale,threshold", [(10.0, 1.0), (0.01, 1.0)])
def test_norm_clipping(scale, threshold):
    ps = _params(scale)
    before = [p.grad.clone() for p in ps]
    n0 = _norm(ps)
    returned = clip_grad_norm_(ps, threshold)
    assert returned == pytest.approx(n0, rel=1e-6)
    if n0 > threshold:
        assert _norm(ps) == pytest.approx(threshold, rel=1e-6)
        for p, b in zip(ps, before):  # the direction is kept
            torch.testing.assert_close(p.grad, b * (threshold / n0), rtol=1e-5, atol=0)
    else:
        for p, b in zip(ps, before):
            assert torch.equal(p.grad, b)


@pytest.mark.parametrize("scale", [10.0, 0.01])
def test_value_clipping(scale):
    ps = _params(scale)
    before = [p.grad.clone() for p in ps]
    clip_grad_value_(ps, 0.5)
    for p, b in zip(ps, before):
        assert float(p.grad.abs().max()) <= 0.5
        inside = b.abs() <= 0.5
        assert torch.equal(p.grad[inside], b[inside])  # small components untouched
        assert torch.equal(p.grad[~inside], 0.5 * b[~inside].sign())


def test_numpy_norm_clipping():
    rng = np.random.default_rng(0)
    grads = {"W": rng.standard_normal((4, 4)) * 5, "b": rng.standard_normal(4)}
    n0 = math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
    clipped, returned = clip_norm_np(grads, 1.0)
    assert returned == pytest.approx(n0)
    assert math.sqrt(sum(float((g ** 2).sum()) for g in clipped.values())) == pytest.approx(1.0)
    same, _ = clip_norm_np(grads, 10 * n0)
    assert all(np.array_equal(same[k], grads[k]) for k in grads)


def test_clipping_rescues_the_exploding_rnn():
    cfg = ClipDemoConfig(steps=400)
    runs = clipping_demo(cfg, modes=("none", "norm"))
    none, norm = runs["none"], runs["norm"]
    assert none.sigma_max_init > 3  # a large initial scale
    assert none.diverged and none.diverged_at < 100  # NaN/inf, caught and reported, no crash
    assert not norm.diverged and all(math.isfinite(v) for v in norm.losses)
    assert norm.converged and norm.final_loss < ADDING_MEAN_MSE
    assert norm.final_loss < norm.losses[0] / 20
    assert max(norm.grad_norms) > 10 * cfg.threshold  # clipping was actually needed


def test_cli_clipping(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "clip"
    proc = subprocess.run([sys.executable, "-m", "seqlm", "clipping", "--steps", "100", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "clipping.json").read_text())
    runs = data["runs"]
    assert list(runs) == ["none", "norm", "value"]
    assert runs["none"]["diverged"] and runs["none"]["diverged_at"] < 100
    assert not runs["norm"]["diverged"] and len(runs["norm"]["losses"]) == 100
    rows = (out / "clipping.csv").read_text().splitlines()
    assert rows[0] == "mode,step,loss,grad_norm"
    for mode, r in runs.items():  # one row per finite step, the same numbers as the JSON
        mine = [line.split(",") for line in rows[1:] if line.startswith(mode + ",")]
        assert len(mine) == len(r["losses"])
        assert float(mine[-1][2]) == pytest.approx(r["losses"][-1], rel=1e-8)
    assert f"diverged at step {runs['none']['diverged_at']}" in proc.stdout
    assert (out / "clipping.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "clipping.pdf").read_bytes().startswith(b"%PDF")
    bad = subprocess.run([sys.executable, "-m", "seqlm", "clipping", "--modes", "none,sometimes",
                          "--out", str(tmp_path / "bad")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and not (tmp_path / "bad").exists()
