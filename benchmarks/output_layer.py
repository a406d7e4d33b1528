"""The output layer and its loss, fused (seqlm.nn.loss) against unfused
(F.linear, then F.cross_entropy on the fp32 logits), forward + backward.

    python benchmarks/output_layer.py [--quick] [--json FILE] [--threads N]

N rows of hidden states (H) against a V-word softmax, about 6% of rows ignored
(the padding of sentence batches), in fp32 and under CPU bf16 autocast (the
trainer's default precision). The two are timed interleaved, round after round,
so the ratio is fair on a loaded machine; tokens_per_s uses the fastest round.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from seqlm.nn.loss import linear_cross_entropy  # noqa: E402


def unfused(h, W, b, y):
    z = F.linear(h, W, b)
    return F.cross_entropy(z.float(), y, ignore_index=-100)


def step(fn, h, W, b, y, bf16: bool) -> None:
    for t in (h, W, b):
        t.grad = None
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = fn(h, W, b, y)
    loss.backward()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small case, seconds (CI)")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    N, H, V = (256, 32, 1000) if args.quick else (1600, 200, 10_000)  # batch 64 × 25 tokens, PTB
    g = torch.Generator().manual_seed(0)
    h = torch.randn(N, H, generator=g).requires_grad_()
    W = (torch.randn(V, H, generator=g) * 0.1).requires_grad_()
    b = torch.zeros(V).requires_grad_()
    y = torch.randint(0, V, (N,), generator=g)
    y[: N // 16] = -100
    impls = {"unfused": unfused, "fused": linear_cross_entropy}
    rows = []
    for bf16 in (False, True):
        best = {k: float("inf") for k in impls}
        for _ in range(args.rounds + 1):  # the first round warms up
            for name, fn in impls.items():
                t0 = time.perf_counter()
                step(fn, h, W, b, y, bf16)
                best[name] = min(best[name], time.perf_counter() - t0)
        for name in impls:
            rows.append({"precision": "bf16" if bf16 else "fp32", "impl": name, "N": N, "H": H, "V": V,
                         "ms": 1000 * best[name], "tokens_per_s": N / best[name],
                         "speedup": best["unfused"] / best[name]})
    print(f"{'precision':<9} {'impl':<8} {'ms':>8} {'tokens/s':>10} {'× unfused':>9}")
    for r in rows:
        print(f"{r['precision']:<9} {r['impl']:<8} {r['ms']:8.1f} {r['tokens_per_s']:10.0f} {r['speedup']:9.2f}")
    if args.json:
        meta = {"machine": platform.processor() or platform.machine(), "threads": args.threads,
                "torch": torch.__version__, "command": " ".join(sys.argv)}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
