"""`seqlm exercises`: the chapter's ten exercises — read them, start them, get them graded.

    seqlm exercises list [--json]
    seqlm exercises show ID [--solution]
    seqlm exercises verify ID|all
    seqlm exercises start ID DIR [--force]
    seqlm exercises check ID FILE [FILE ...] [--json | --format gradescope] [--out PATH]
          [--seed S] [--config grading.toml] [--jobs N] [--time-limit SECONDS]
          [--memory-mb MB] [--load-limit SECONDS] [--threads N] [--only TEXT]

`check` exits 0 when every case of every file passes, 1 when one fails, 2 on a
user error (an unknown exercise, a missing file). Each file runs in its own process
tree, which sees only its inputs: the expected values and the verdict stay here.
"""
from __future__ import annotations

import argparse
import json
import sys

from seqlm.commands import positive_float, positive_int, seed_int


def register(sub) -> None:
    p = sub.add_parser("exercises", help="the chapter's 10 exercises: statements, starters, grading",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    es = p.add_subparsers(dest="exercises_command", metavar="ACTION")
    ls = es.add_parser("list", help="the ten exercises: id, objective, section, time")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    sh = es.add_parser("show", help="an exercise's statement (Markdown with LaTeX math)")
    sh.add_argument("id")
    sh.add_argument("--solution", action="store_true", help="the worked solution (theory exercises)")
    sh.add_argument("--cases", action="store_true",
                    help="a programming exercise's graded cases: default points, visibility, time limit")
    ve = es.add_parser("verify", help="measure every claim of a theory exercise's worked solution")
    ve.add_argument("id", help="T1, T2, T3, T4 or all")
    st = es.add_parser("start", help="write a programming exercise's starter file into DIR")
    st.add_argument("id")
    st.add_argument("dir")
    st.add_argument("--force", action="store_true", help="overwrite an existing file")
    ch = es.add_parser("check", help="grade one or more files (.py or .ipynb)")
    ch.add_argument("id")
    ch.add_argument("files", nargs="+", metavar="FILE")
    ch.add_argument("--json", action="store_true", help="one JSON record per file (same as --format json)")
    ch.add_argument("--format", choices=("text", "json", "gradescope"), default=None,
                    help="text (default), json, or gradescope (Gradescope's results.json)")
    ch.add_argument("--out", default=None, help="write the report to this file instead of stdout")
    ch.add_argument("--seed", type=seed_int, default=None,
                    help="seed of every randomised case (default: the config's, else 0); a teacher keeps it secret")
    ch.add_argument("--config", default=None, metavar="TOML",
                    help="a teacher's grading config: points and Gradescope visibility per case, a seed")
    ch.add_argument("--jobs", type=positive_int, default=1, help="files graded at a time (default 1)")
    ch.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS",
                    help="wall time of one submission's cases (default: the exercise's)")
    ch.add_argument("--memory-mb", type=positive_int, default=None,
                    help="memory of one submission's whole process tree (default: the exercise's)")
    ch.add_argument("--load-limit", type=positive_float, default=None, metavar="SECONDS",
                    help="time the file may take to load, a notebook's cells included (default 60)")
    ch.add_argument("--threads", type=positive_int, default=None,
                    help="CPU threads of the learner's process (default 1)")
    ch.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="grade only the cases whose name contains TEXT (repeatable), e.g. --only 'GRU cell'")
    p.set_defaults(func=run, _parser=p)


def _list(as_json: bool) -> str:
    from seqlm.exercises import EXERCISES, OBJECTIVES

    if as_json:
        return json.dumps({"schema_version": 1, "objectives": {str(k): v for k, v in OBJECTIVES.items()},
                           "exercises": [e.to_dict() for e in EXERCISES.values()]}, indent=2)
    rows = [("id", "kind", "obj.", "section", "min", "title")]
    rows += [(e.id, e.kind, str(e.objective), ", ".join(e.sections), str(e.minutes), e.title)
             for e in EXERCISES.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows]
    lines.append("\nobjectives: " + "; ".join(f"{k}. {v}" for k, v in OBJECTIVES.items()))
    lines.append("seqlm exercises show ID | verify T1..T4 | start P1..P6 DIR | check P1..P6 FILE")
    return "\n".join(lines)


def _cases(ex) -> str:
    from seqlm.errors import SeqlmError
    from seqlm.exercises.grading.grader import checks_of

    if ex.kind != "programming":
        raise SeqlmError(f"{ex.id} is a theory exercise: it has claims to verify, not graded cases")
    cases = checks_of(ex.id).CASES
    width = max(len(c.name) for c in cases)
    lines = [f"{'case'.ljust(width)}  points  visibility  seconds"]
    lines += [f"{c.name.ljust(width)}  {c.points:>6g}  {c.visibility:<10}  {c.seconds:>7g}" for c in cases]
    lines.append(f"{'total'.ljust(width)}  {sum(c.points for c in cases):>6g}")
    return "\n".join(lines)


def _verify(ids: list[str]) -> int:
    from seqlm.exercises import verify

    ok = True
    for i in ids:
        claims = verify(i)
        print(f"{i.upper()}: {sum(c.holds for c in claims)}/{len(claims)} claims hold")
        for c in claims:
            print(f"  {'holds' if c.holds else 'FAILS'}  {c.label}  {c.text}")
            print(f"         {c.measured}")
        ok &= all(c.holds for c in claims)
    return 0 if ok else 1


def _check(args) -> int:
    from seqlm import exercises
    from seqlm.errors import SeqlmError
    from seqlm.exercises.grading.report import gradescope_report, json_report, text_report
    from seqlm.io import check_output_file, write_json, write_text

    if args.out:
        check_output_file(args.out, "report")  # before any grading
    fmt = args.format or ("json" if args.json else "text")
    if args.json and args.format not in (None, "json"):
        raise SeqlmError("--json and --format gradescope exclude each other")
    limits = exercises.limits_for(args.id, args.time_limit, args.memory_mb, None, args.threads, args.load_limit)
    config = None
    if args.config:
        from seqlm.exercises.grading.config import load_config
        from seqlm.exercises.grading.grader import checks_of
        config = load_config(args.config, checks_of(exercises.get(args.id).id).CASES)
    seed = args.seed if args.seed is not None else (config.seed if config and config.seed is not None else 0)
    results = exercises.check(args.id, args.files, seed=seed, limits=limits, only=tuple(args.only),
                              jobs=args.jobs, weights=config.weights if config else None)
    if fmt == "text":
        text = text_report(results, {k: e.title for k, e in exercises.EXERCISES.items()})
        if args.out:
            write_text(args.out, text)
        else:
            print(text, end="")
    else:
        doc = json_report(results) if fmt == "json" else gradescope_report(results)
        if args.out:
            write_json(args.out, doc)
        else:
            print(json.dumps(doc, indent=2))
    if args.out:
        passed = sum(r.passed for r in results)
        flagged = sum(bool(r.flags) for r in results)
        print(f"{passed}/{len(results)} files passed every case" + (f", {flagged} flagged" if flagged else "")
              + f"; report written to {args.out}", file=sys.stderr)
    return 0 if all(r.passed for r in results) else 1


def run(args) -> int:
    from seqlm import exercises

    cmd = args.exercises_command
    if cmd is None:
        args._parser.print_help()
        return 2
    if cmd == "list":
        print(_list(args.json))
    elif cmd == "show" and args.cases:
        print(_cases(exercises.get(args.id)))
    elif cmd == "show":
        print(exercises.solution(args.id) if args.solution else exercises.statement(args.id), end="")
    elif cmd == "verify":
        ids = [e for e, x in exercises.EXERCISES.items() if x.kind == "theory"] if args.id.lower() == "all" \
            else [exercises.get(args.id).id]
        return _verify(ids)
    elif cmd == "start":
        from seqlm.io import check_output_dir
        check_output_dir(args.dir)
        path = exercises.start(args.id, args.dir, args.force)
        print(f"wrote {path}; when it is done: seqlm exercises check {exercises.get(args.id).id} {path}")
    elif cmd == "check":
        return _check(args)
    return 0
