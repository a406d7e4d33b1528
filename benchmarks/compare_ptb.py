"""The chapter's experiment end to end, timed: `seqlm compare` from an empty directory.

    python benchmarks/compare_ptb.py [--quick] [--preset ptb-quick] [--data ptb]
                                     [--workers N] [--json FILE] [--keep DIR]

Runs the real CLI (a subprocess, as a user would) and reports the wall time of
the whole and of each stage, the peak resident memory of the process tree (the
parent and its workers together, sampled every 0.2 s from /proc; the largest
single process's from getrusage where /proc is missing), each neural model's
training tokens/s, and each model's sentence-mode test perplexity against the
best n-gram of the run (KN-5 when the preset has it). ``--quick``: the `tiny`
preset on the synthetic corpus with two workers, seconds (CI).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (Linux /proc), 0 if unreadable."""
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def run(cmd: list[str], env: dict) -> tuple[int, float, int, str]:
    """(exit code, wall seconds, peak tree RSS in bytes, stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_bytes(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.join()
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    return proc.returncode, wall, max(peak[0], largest), err


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny preset, synthetic corpus, seconds (CI)")
    ap.add_argument("--preset", default=None, help="default ptb-quick (tiny with --quick)")
    ap.add_argument("--data", default=None, help="default ptb (synthetic with --quick)")
    ap.add_argument("--workers", type=int, default=None, help="default: the preset's (2 with --quick)")
    ap.add_argument("--json", type=Path, help="write the measurements here")
    ap.add_argument("--keep", type=Path, help="run into this (new) directory and keep it")
    args = ap.parse_args()
    preset = args.preset or ("tiny" if args.quick else "ptb-quick")
    data = args.data or ("synthetic" if args.quick else "ptb")
    workers = args.workers if args.workers is not None else (2 if args.quick else None)
    scratch = None
    if args.keep is None:
        scratch = Path(tempfile.mkdtemp(prefix="compare_ptb-"))
    out = args.keep or scratch / "run"
    cmd = [sys.executable, "-m", "seqlm", "compare", "--data", data, "--preset", preset,
           "--out", str(out), "--device", "cpu"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    try:
        code, wall, peak, err = run(cmd, env)
        if code != 0:
            print(err, file=sys.stderr)
            print(f"compare_ptb: the comparison failed (exit {code})", file=sys.stderr)
            return 1
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    models = results["models"]
    ngrams = [m for m in models if m["family"] == "ngram" and m["test_ppl"] is not None
              and m["config"]["smoothing"] == "mkn"]
    baseline = min(ngrams, key=lambda m: m["test_ppl"])
    rows = []
    for m in models:
        if m["family"] != "neural" and m is not baseline:
            continue
        rows.append({"name": m["name"], "test_ppl": m["test_ppl"], "valid_ppl": m["valid_ppl"],
                     "stage_seconds": results["stage_seconds"].get(m["stage"]),
                     "tokens_per_s": m.get("tokens_per_s"),
                     "beats_baseline": m is not baseline and m["test_ppl"] < baseline["test_ppl"]})
    report = {"command": " ".join(cmd[2:]).replace(str(out), "OUT"), "preset": preset, "data": data,
              "wall_seconds": wall, "compare_total_seconds": results.get("total_seconds"),
              "peak_rss_bytes": peak, "stage_seconds": results["stage_seconds"],
              "baseline": {"name": baseline["name"], "test_ppl": baseline["test_ppl"]},
              "every_neural_model_beats_baseline": all(r["beats_baseline"] for r in rows
                                                       if r["name"] != baseline["name"]),
              "rows": rows,
              "machine": {**results["machine"], "processor": platform.processor()},
              "versions": results["versions"]}
    print(f"seqlm compare --data {data} --preset {preset}: {wall:.0f} s wall "
          f"({wall / 60:.1f} min), peak memory {peak / 2**30:.2f} GiB (all processes)")
    print(f"{'model':<10} {'test ppl':>9} {'valid ppl':>9} {'stage s':>8} {'tokens/s':>9}  "
          f"beats {baseline['name']}")
    for r in rows:
        tps = f"{r['tokens_per_s']:9.0f}" if r["tokens_per_s"] else f"{'–':>9}"
        mark = "–" if r["name"] == baseline["name"] else ("yes" if r["beats_baseline"] else "NO")
        print(f"{r['name']:<10} {r['test_ppl']:9.2f} {r['valid_ppl']:9.2f} "
              f"{r['stage_seconds'] or 0:8.0f} {tps}  {mark}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
