"""Forward+backward throughput of the recurrent layers: NumPy reference,
explicit PyTorch cells (hand-written layer backward), fused torch.nn.LSTM/GRU.

    python benchmarks/cells.py [--quick] [--json FILE] [--device cpu|cuda]

One training step = forward over (T, B) tokens + backward of a fixed random
linear function of all outputs, with gradients for every weight and for the
inputs (as in a language model, where the inputs are embeddings). Input size
= hidden size. Backends of one configuration are timed interleaved, round
after round, so the ratios are fair on a loaded machine; tokens_per_s uses the
fastest round (the least disturbed by other processes), the JSON also has the
median. peak_mb: on CUDA torch.cuda.max_memory_allocated during a step; on CPU
the growth of the process RSS during a step, sampled every 0.5 ms
(after returning freed heap to the OS with malloc_trim).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

if "--threads" in sys.argv[:-1]:     # NumPy's BLAS reads these once, at import
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from seqlm.nn import RecurrentStack, reference_params  # noqa: E402
from seqlm.reference import GRU, LSTM  # noqa: E402


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Peak RSS growth (bytes) over a with-block, sampled by a thread."""

    def __enter__(self):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        self.start = self.peak = _rss_bytes()
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop:
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.0005)

    def __exit__(self, *exc):
        self._stop = True
        self._t.join()
        self.peak = max(self.peak, _rss_bytes())
        self.mb = (self.peak - self.start) / 2**20


def torch_step(stack, x, w, device):
    def step():
        for p in stack.parameters():
            p.grad = None
        x.grad = None
        y, _ = stack(x)
        (y * w).sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()
    return step


def reference_step(layer, xs, dhs):
    def step():
        hs, cache = layer.forward(xs)
        layer.backward(dhs, cache)
    return step


def make_steps(cell, variant, H, T, B, device, dtype, with_reference, ref_dtypes=(np.float32, np.float64)):
    """{backend label: (step function, backend, variant, dtype name)}."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, H, generator=g).to(device=device, dtype=dtype).requires_grad_()
    w = torch.randn(T, B, H, generator=g).to(device=device, dtype=dtype)
    steps = {}
    explicit = RecurrentStack(cell, H, H, variant=variant, init="uniform", generator=g, device=device, dtype=dtype)
    steps["explicit"] = (torch_step(explicit, x, w, device), "explicit", variant, str(dtype)[6:])
    if variant != "cho":
        fused = RecurrentStack(cell, H, H, backend="fused", init="uniform", generator=g, device=device, dtype=dtype)
        steps["fused"] = (torch_step(fused, x, w, device), "fused", variant, str(dtype)[6:])
    if with_reference:
        for np_dtype in ref_dtypes:
            p = {k: v.astype(np_dtype) for k, v in reference_params(explicit)[0].items()}
            layer = LSTM(p) if cell == "lstm" else GRU(p, variant)
            xs = x.detach().cpu().numpy().astype(np_dtype)
            dhs = w.detach().cpu().numpy().astype(np_dtype)
            name = np.dtype(np_dtype).name
            steps[f"reference-{name}"] = (reference_step(layer, xs, dhs), "reference", variant, name)
    return steps


def bench_config(cell, variant, H, T, B, device, dtype, rounds, with_reference, ref_dtypes, settle):
    steps = make_steps(cell, variant, H, T, B, device, dtype, with_reference, ref_dtypes)
    times = {k: [] for k in steps}
    for fn, *_ in steps.values():        # warm-up (allocator, oneDNN primitive caches)
        fn()
    for _ in range(rounds):
        for k, (fn, *_) in steps.items():
            time.sleep(settle)           # let the previous backend's spinning BLAS/OpenMP threads go idle
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    rows = []
    for k, (fn, backend, var, dt) in steps.items():
        if device == "cuda" and backend != "reference":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            fn()
            peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        else:
            with PeakRSS() as m:
                fn()
            peak = m.mb
        best, med = min(times[k]), statistics.median(times[k])
        rows.append({"cell": cell, "variant": var, "backend": backend, "dtype": dt, "device": device,
                     "hidden": H, "T": T, "B": B, "tokens_per_s": T * B / best,
                     "ms_per_step": 1e3 * best, "ms_per_step_median": 1e3 * med, "peak_mb": round(peak, 1), "rounds": rounds})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few rounds, finishes in under a minute")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--hidden", type=int, nargs="*", default=[200, 650])
    ap.add_argument("--cells", nargs="*", default=["lstm", "gru"])
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--settle", type=float, default=0.2,
                    help="seconds of sleep before each timed step (spinning thread pools of the previous backend "
                         "would otherwise steal the cores: NumPy's BLAS and torch's OpenMP both spin)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch (and BLAS) threads; default: torch's choice (one per core)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    T, B = 35, 20
    rounds = args.rounds or (2 if args.quick else 10)
    ref_dtypes = (np.float32,) if args.quick else (np.float32, np.float64)
    dtype = torch.float32
    rows = []
    for cell in args.cells:
        variants = [None] if cell == "lstm" else ["reset_after", "cho"]
        for H in args.hidden:
            for variant in variants:
                with_ref = not args.no_reference and (args.device == "cpu" or not args.quick)
                rows += bench_config(cell, variant, H, T, B, args.device, dtype, rounds, with_ref, ref_dtypes, args.settle)
    print(f"# torch {torch.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, device {args.device}, T={T} B={B}, best of {rounds} interleaved rounds")
    print("| cell | variant | backend | dtype | hidden | tokens/s | ms/step | peak MB | time vs fused | time vs explicit |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        same = [q for q in rows if q["cell"] == r["cell"] and q["hidden"] == r["hidden"]
                and (r["cell"] == "lstm" or q["variant"] == r["variant"] or q["backend"] == "fused")]
        ratios = []
        for backend in ("fused", "explicit"):
            base = [q for q in same if q["backend"] == backend]
            ratios.append(f"{base[0]['tokens_per_s'] / r['tokens_per_s']:.2f}×" if base else "")
        print(f"| {r['cell']} | {r['variant'] or '-'} | {r['backend']} | {r['dtype']} | {r['hidden']} | "
              f"{r['tokens_per_s']:.0f} | {r['ms_per_step']:.1f} | {r['peak_mb']:.1f} | {ratios[0]} | {ratios[1]} |")
    if args.json:
        meta = {"torch": torch.__version__, "numpy": np.__version__, "threads": torch.get_num_threads(),
                "machine": platform.machine(), "device": args.device, "quick": args.quick}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
