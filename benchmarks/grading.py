"""A class graded at once: N generated P5 submissions, serial against ``--jobs``.

    python benchmarks/grading.py [--count 100] [--jobs 2] [--json FILE] [--quick]

The submissions are the reference solution and one-line mistakes of it (the GRU's
z convention, reset after the product, a detached candidate, the mean of h read
out, a random h_0), in turn — a class where most work and some do not. Both runs
grade the same folder with the same seed; the table shows the wall time of each,
their ratio (the issue's bar: ≤ 0.6 with 2 jobs on 2 cores), and that every file
got the same score both ways. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from seqlm import __version__, exercises

VARIANTS = [
    ("correct", None, None),
    ("z convention", "return (1 - z) * h_prev + z * cand", "return z * h_prev + (1 - z) * cand"),
    ("correct", None, None),
    ("detached candidate", "return (1 - z) * h_prev + z * cand", "return (1 - z) * h_prev + z * cand.detach()"),
    ("correct", None, None),
    ("reset after W_h", "cand = torch.tanh(torch.cat([r * h_prev, x_t], dim=1) @ self.W_h.T + self.b_h)",
     "H = h_prev.shape[1]; cand = torch.tanh(x_t @ self.W_h[:, H:].T + r * (h_prev @ self.W_h[:, :H].T) "
     "+ self.b_h)"),
    ("correct", None, None),
    ("random h_0", "h = x.new_zeros(x.shape[1], self.head.in_features)",
     "h = torch.randn(x.shape[1], self.head.in_features)"),
]


def make_class(directory: Path, count: int) -> list[Path]:
    source = (Path(__file__).resolve().parents[1] / "tests" / "exercise_solutions" / "p5.py").read_text()
    paths = []
    for i in range(count):
        name, old, new = VARIANTS[i % len(VARIANTS)]
        text = source if old is None else source.replace(old, new)
        path = directory / f"student{i:03d}_{name.replace(' ', '_')}.py"
        path.write_text(f"# student {i}: {name}\n" + text)
        paths.append(path)
    return paths


def grade(paths: list[Path], jobs: int, only: tuple[str, ...]) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    results = exercises.check("P5", paths, jobs=jobs, only=only)
    return time.perf_counter() - t0, [r.score for r in results]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100, help="submissions in the class (default 100)")
    p.add_argument("--jobs", type=int, default=2, help="files graded at a time in the parallel run (default 2)")
    p.add_argument("--quick", action="store_true", help="8 submissions, the cell cases only (CI smoke)")
    p.add_argument("--json", default=None, help="write the numbers here")
    args = p.parse_args(argv)
    count, only = (8, ("GRU cell",)) if args.quick else (args.count, ())
    with tempfile.TemporaryDirectory(prefix="seqlm-class-") as tmp:
        paths = make_class(Path(tmp), count)
        serial, scores1 = grade(paths, 1, only)
        parallel, scores2 = grade(paths, args.jobs, only)
    row = {"submissions": count, "cases": "cell cases only" if only else "all", "jobs": args.jobs,
           "serial_s": round(serial, 1), "parallel_s": round(parallel, 1), "ratio": round(parallel / serial, 3),
           "per_file_serial_s": round(serial / count, 2), "same_scores": scores1 == scores2,
           "passed": sum(s == max(scores1) for s in scores1),
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "python": platform.python_version(), "seqlm": __version__}
    print(f"{'submissions':>11}  {'serial s':>8}  {'--jobs ' + str(args.jobs) + ' s':>11}  {'ratio':>5}  same scores")
    print(f"{count:>11}  {serial:>8.1f}  {parallel:>11.1f}  {parallel / serial:>5.2f}  {scores1 == scores2}")
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=2) + "\n")
    return 0 if scores1 == scores2 else 1


if __name__ == "__main__":
    sys.exit(main())
