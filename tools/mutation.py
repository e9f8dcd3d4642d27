"""The mutation run's configuration and report (used by tools/mutation.sh; not part of CI).

    python tools/mutation.py tests      # the test files of the run, one a line
    python tools/mutation.py config [pytest-output]   # writes mutmut's setup.cfg here, leaving
                                        # out the tests that output shows failing already
    python tools/mutation.py patterns   # the mutant names to run, one fnmatch pattern a line
    python tools/mutation.py report results.txt   # the score per module, the survivors

MODULES maps each module users would not see fail at once to the functions mutated there
(fnmatch patterns over mutmut's mutant names) and the tests that pin them. Test files that a
checkout does not hold are left out, so the same script measures an older commit.
"""
from __future__ import annotations

import collections
import fnmatch
import pathlib
import re
import sys

MODULES = {
    "autonamer": {
        "file": "sweeps/_autonamer.py",
        "mutants": ["sweeps._autonamer.*"],
        "tests": ["tests/sweeps/test_autonamer.py", "tests/sweeps/test_autonamer_pinned.py"],
    },
    "codec": {
        "file": "sweeps/_codec.py",
        "mutants": ["sweeps._codec.*"],
        "tests": ["tests/sweeps/test_pinned_types.py", "tests/sweeps/test_store.py",
                  "tests/sweeps/test_codec_pinned.py"],
    },
    "seeds": {
        "file": "sweeps/_work.py",
        "mutants": ["sweeps._work.x_derive_seed__mutmut_*",
                    "sweeps._work.x_seed_everything__mutmut_*"],
        "tests": ["tests/sweeps/test_pinned_seeds.py", "tests/sweeps/test_sweep.py"],
    },
    "split": {
        "file": "sweeps_core/_split.py",
        "mutants": ["sweeps_core._split.*"],
        "tests": ["tests/sweeps_core/test_split.py", "tests/sweeps_core/test_split_pinned.py"],
    },
    "transformers": {
        "file": "sweeps_core/_transformers.py",
        "mutants": ["sweeps_core._transformers.*"],
        "tests": ["tests/sweeps_core/test_transformers.py",
                  "tests/sweeps_core/test_transformers_pinned.py"],
    },
    "metrics": {
        "file": "sweeps_core/_metrics.py",
        "mutants": ["sweeps_core._metrics.*"],
        "tests": ["tests/sweeps_core/test_metrics.py", "tests/sweeps_core/test_metrics_pinned.py"],
    },
    "results": {
        "file": "sweeps/_results.py",
        "mutants": ["sweeps._results.*"],
        "tests": ["tests/sweeps/test_results.py", "tests/sweeps/test_plots.py",
                  "tests/sweeps/test_pinned_direction.py", "tests/sweeps/test_results_pinned.py"],
    },
    "objective": {
        "file": "sweeps/_objective.py",
        "mutants": ["sweeps._objective.*"],
        "tests": ["tests/sweeps/test_results.py", "tests/sweeps/test_pinned_direction.py",
                  "tests/sweeps/test_objective_pinned.py"],
    },
    "resume": {
        "file": "sweeps/_sweep.py",
        "mutants": ["sweeps._sweep.x__enqueue_grid__mutmut_*",
                    "sweeps._store.xǁStoreǁrecords__mutmut_*",
                    "sweeps._store.x__record_order__mutmut_*"],
        "tests": ["tests/sweeps/test_pinned_resume.py", "tests/sweeps/test_sweep.py",
                  "tests/sweeps/test_store.py", "tests/sweeps/test_resume_pinned.py"],
        "also": ["sweeps/_store.py"],
    },
}



def _selected() -> dict:
    """The modules of this run: all, or those named in $MUTATION_MODULES (comma-separated)."""
    import os

    wanted = [m.strip() for m in os.environ.get("MUTATION_MODULES", "").split(",") if m.strip()]
    unknown = [m for m in wanted if m not in MODULES]
    if unknown:
        sys.exit(f"MUTATION_MODULES names {unknown}; the modules are {list(MODULES)}")
    return {k: v for k, v in MODULES.items() if not wanted or k in wanted}


# mutmut's words for a result; killed and timeout count as caught.
CAUGHT = {"killed", "timeout"}


def _files() -> list[str]:
    files = []
    for module in _selected().values():
        for path in [module["file"], *module.get("also", [])]:
            if path not in files:
                files.append(path)
    return files


def _tests() -> list[str]:
    tests = []
    for module in _selected().values():
        for path in module["tests"]:
            if path not in tests and pathlib.Path(path).exists():
                tests.append(path)
    return tests


def failing(pretest_output: str) -> list[str]:
    """The node ids a plain run of the tests reported FAILED or ERROR (mutmut needs a green
    start; a test that already fails at this commit cannot catch a mutant anyway)."""
    text = pathlib.Path(pretest_output).read_text() if pretest_output else ""
    return sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+::\S+)", text, re.M)))


def config(pretest_output: str = "") -> str:
    lines = ["[mutmut]", "source_paths=", "    sweeps", "    sweeps_core", "only_mutate="]
    lines += [f"    {path}" for path in _files()]
    lines += ["also_copy=", "    docs", "    studies", "pytest_add_cli_args="]
    # the slow tests start process pools and PostgreSQL: minutes per mutant, not seconds
    lines += ["    -m", "    not slow", "    -p", "    no:cacheprovider", "    -x"]
    for node in failing(pretest_output):
        lines += ["    --deselect", f"    {node}"]
    lines += ["pytest_add_cli_args_test_selection="] + [f"    {path}" for path in _tests()]
    return "\n".join(lines) + "\n"


def patterns() -> list[str]:
    return [pattern for module in _selected().values() for pattern in module["mutants"]]


# A reason starting so marks a mutant that is not equivalent but that only a slow test (left out
# of the run: process pools, PostgreSQL) catches; the reason names the test.
SLOW = "caught by the slow test"


def equivalent() -> dict:
    """mutant name -> why it cannot be caught, from tools/mutation_equivalent/<module>.txt
    (one ``name: reason`` a line; # starts a comment). Read after each run to explain the
    survivors that no test can kill (the mutant behaves exactly like the code)."""
    reasons = {}
    folder = pathlib.Path(__file__).with_name("mutation_equivalent")
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and ":" in line:
                name, reason = line.split(":", 1)
                reasons[name.strip()] = reason.strip()
    return reasons


def report(results_path: str) -> str:
    reasons = equivalent()
    outcome = {}
    for line in pathlib.Path(results_path).read_text().splitlines():
        match = re.match(r"\s*([\w.ǁ]+__mutmut_\d+): (.+)$", line)
        if match:
            outcome[match.group(1)] = match.group(2).strip()
    lines = [f"{'module':<14}{'mutants':>8}{'caught':>8}{'score':>8}   other outcomes"]
    survivors = []
    total = collections.Counter()
    for label, module in _selected().items():
        names = [n for n in outcome if any(fnmatch.fnmatchcase(n, p) for p in module["mutants"])]
        counts = collections.Counter(outcome[n] for n in names)
        caught = sum(counts[k] for k in CAUGHT)
        tested = len(names) - counts["not checked"]
        other = {k: v for k, v in counts.items() if k not in CAUGHT}
        score = f"{100 * caught / tested:.1f}%" if tested else "-"
        lost = [n for n in names if outcome[n] not in CAUGHT | {"not checked"}]
        slow = sum(reasons.get(n, "").startswith(SLOW) for n in lost)
        explained = sum(n in reasons for n in lost) - slow
        notes = [f"{explained} explained as equivalent"] if explained else []
        notes += [f"{slow} caught only by a slow test"] if slow else []
        lines.append(f"{label:<14}{tested:>8}{caught:>8}{score:>8}   {dict(other) or ''}"
                     + (f" ({', '.join(notes)})" if notes else ""))
        total.update(tested=tested, caught=caught)
        survivors += [f"{n}: {outcome[n]}" + (
            f" - {reasons[n]}" if reasons.get(n, "").startswith(SLOW) else
            f" - equivalent: {reasons[n]}" if n in reasons else "") for n in lost]
    if total["tested"]:
        lines.append(f"{'all':<14}{total['tested']:>8}{total['caught']:>8}"
                     f"{100 * total['caught'] / total['tested']:>7.1f}%")
    pathlib.Path(results_path).with_name("survivors.txt").write_text("\n".join(survivors) + "\n")
    unexplained = sum(" - equivalent: " not in line and f" - {SLOW}" not in line
                      for line in survivors)
    lines.append(f"{unexplained} not caught and not explained; all {len(survivors)} listed in "
                 f"{pathlib.Path(results_path).with_name('survivors.txt')}")
    return "\n".join(lines)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "tests":
        print("\n".join(_tests()))
    elif command == "config":
        pathlib.Path("setup.cfg").write_text(config(*sys.argv[2:3]))
        for node in failing(*sys.argv[2:3]):
            print(f"left out (fails before any mutation): {node}", file=sys.stderr)
    elif command == "patterns":
        print("\n".join(patterns()))
    elif command == "report" and len(sys.argv) == 3:
        print(report(sys.argv[2]))
    else:
        sys.exit(__doc__)
