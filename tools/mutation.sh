#!/usr/bin/env bash
# Mutation testing of the modules whose mistakes users would not see at once (issue 12).
#
#   bash tools/mutation.sh            # mutate HEAD's committed code, run the relevant tests
#   REF=some-commit bash tools/mutation.sh
#   REF=worktree bash tools/mutation.sh      # the working tree as it is, uncommitted files too
#   MUTATION_MODULES=seeds,codec bash tools/mutation.sh   # only these modules (see mutation.py)
#
# Not part of CI: it takes minutes on 2 cores. Needs the dev extra (mutmut). The workspace is a
# clean export of REF outside the git tree ($MUTATION_WORKDIR, default /tmp/sweeps-mutation);
# mutmut writes only there. The per-module scores are printed at the end and written to
# $MUTATION_WORKDIR/scores.txt; the surviving mutants to $MUTATION_WORKDIR/survivors.txt
# (see one with: cd $MUTATION_WORKDIR && python -m mutmut show NAME).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
ref="${REF:-HEAD}"
work="${MUTATION_WORKDIR:-${TMPDIR:-/tmp}/sweeps-mutation}"
children="${MUTATION_CHILDREN:-2}"

python -c "import mutmut" 2>/dev/null || {
    echo "mutmut is missing: pip install -e '.[dev]' (keep your torch pinned)" >&2; exit 2; }

rm -rf "$work"
mkdir -p "$work"
if [ "$ref" = worktree ]; then
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' |
        tar --null -T - -cf -) | tar -x -C "$work"
else
    git -C "$repo" archive "$ref" | tar -x -C "$work"
fi
cd "$work"
# mutmut needs the tests green before it mutates: a test failing already is left out (and named)
mapfile -t tests < <(python "$here/mutation.py" tests)
python -m pytest -q -rfE -m "not slow" -p no:cacheprovider "${tests[@]}" > pretest.txt 2>&1 || true
tail -n 1 pretest.txt
python "$here/mutation.py" config pretest.txt
echo "mutating ${ref} in $work with $children children"

# Only the mutants of the functions under test (the other functions of _work, _sweep and _store
# are the queue's, covered by the slow process tests).
mapfile -t patterns < <(python "$here/mutation.py" patterns)
# mutmut exits non-zero when mutants survive; the report below is what counts.
python -m mutmut run --max-children "$children" "${patterns[@]}" || true
python -m mutmut results --all true > results.txt 2>&1 || true
python "$here/mutation.py" report results.txt | tee scores.txt
