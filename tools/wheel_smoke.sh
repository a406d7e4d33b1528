#!/usr/bin/env bash
# A stranger's install, as README "Install" describes it: build the wheel and the sdist,
# `twine check` them, install the wheel into a new venv (torch's CPU build first), and
# run seqlm from an empty directory; then collect the unpacked sdist's own test suite.
# Run after `make dev` (it needs build and twine): bash tools/wheel_smoke.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEV="$REPO/.venv/bin"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
step() { printf '== %s\n' "$*"; }

step "build the wheel and the sdist; twine check"
"$DEV/python" -m build --outdir "$WORK/dist" "$REPO" >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; exit 1; }
"$DEV/twine" check "$WORK/dist"/*
WHEEL=$(ls "$WORK"/dist/*.whl)
"$DEV/python" -m zipfile -l "$WHEEL" >"$WORK/wheel.txt"
for f in seqlm/py.typed licenses/LICENSE seqlm/exercises/check.schema.json seqlm/report/templates; do
  grep -q "$f" "$WORK/wheel.txt" || { echo "the wheel lacks $f"; exit 1; }
done
if grep -q "exercises/solutions" "$WORK/wheel.txt"; then
  echo "the wheel holds the reference solutions"; exit 1
fi

step "a new venv: torch (CPU), then the wheel with the notebook extra"
"${PYTHON:-python3}" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "${TORCH:-torch==2.13.0}"
"$WORK/venv/bin/pip" install -q "$WHEEL" 'nbformat>=5' 'ipython>=8'
"$WORK/venv/bin/pip" check

step "seqlm from an empty directory"
mkdir "$WORK/empty" && cd "$WORK/empty"
umask 022
S="$WORK/venv/bin/seqlm"
"$S" --version
"$S" ngram --data synthetic --order 3 --arpa m.arpa >/dev/null
test -s m.arpa && test -s m.vocab.json
"$S" exercises start P1 work >/dev/null
rc=0; "$S" exercises check P1 work/p1_rnn_forward.py --json --out grade.json 2>/dev/null || rc=$?
test "$rc" -eq 1  # the untouched starter fails, cleanly
"$S" compare --preset tiny --out cmp --no-figures >/dev/null 2>&1
test -s cmp/results.json && test -s cmp/report.html
"$S" inspect --checkpoint cmp/models/lstm --text "the dogs near the cat see the bird" --out insp >/dev/null 2>&1
test -s insp/inspect.html
mode=$(stat -c %a cmp/models/lstm/best/model.safetensors)
test "$mode" = 644 || { echo "weights are $mode under umask 022, not 644"; exit 1; }

step "the sdist's test suite collects"
mkdir "$WORK/sdist" && tar xzf "$WORK"/dist/*.tar.gz -C "$WORK/sdist"
cd "$WORK"/sdist/seqlm-*/
"$DEV/python" -m pytest --collect-only -q -p no:cacheprovider >"$WORK/collect.log" 2>&1 || { tail -20 "$WORK/collect.log"; exit 1; }
grep -E "^[0-9]+ tests collected" "$WORK/collect.log"
! grep -q "error" "$WORK/collect.log"
step "the wheel works for a stranger"
