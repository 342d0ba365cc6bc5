"""How long `infra --help` and `infra validate local` take, beside the floor and a baseline.

    python -m bench.cli_speed [--runs 21] [--baseline REV]

Each command is a fresh process (what a user waits for), run `--runs` times,
interleaved so that a busy moment of the machine hits every command alike:

- `python -c pass` with the venv's interpreter: the floor no CLI can beat;
- `infra --help` and `infra validate local` as installed (this checkout);
- the same two from `--baseline` (a git revision, checked out in a temporary
  worktree and run with the same interpreter), so the change is measured
  against what it replaces in the same run.

Goals (issue 11): median `--help` <= 0.3 s, `validate local` <= 0.5 s.
Writes bench/results/cli_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "cli_speed.json"
GOALS = {"help": 0.3, "validate": 0.5}
# Run a checkout's CLI from its own directory, whichever checkout the venv installed.
RUN_FROM = (
    "import sys; sys.path.insert(0, {root!r}); sys.argv = ['infra', *{args!r}]; "
    "from cli.main import run; run()"
)


def timed(argv: list[str], cwd: Path) -> float:
    env = {**os.environ, "INFRA_PROJECT_DIR": str(cwd)}
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return took


def infra(python: str, root: Path, *args: str) -> list[str]:
    return [python, "-c", RUN_FROM.format(root=str(root), args=list(args))]


def commands(python: str, baseline: Path | None) -> dict[str, tuple[list[str], Path]]:
    found = {
        "floor": ([python, "-c", "pass"], REPO),
        "help": (infra(python, REPO, "--help"), REPO),
        "validate": (infra(python, REPO, "validate", "local"), REPO),
    }
    if baseline is not None:
        found["baseline_help"] = (infra(python, baseline, "--help"), baseline)
        found["baseline_validate"] = (infra(python, baseline, "validate", "local"), baseline)
    return found


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(samples), 3),
        "min_s": round(min(samples), 3),
        "max_s": round(max(samples), 3),
    }


def worktree(rev: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(into), rev],
        check=True,
        capture_output=True,
    )
    stack = REPO / "stacks" / "Pulumi.local.yaml"
    if stack.exists():  # the same stack file for both: only the code differs
        shutil.copy(stack, into / "stacks" / "Pulumi.local.yaml")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--baseline", default="27fc48e", help="git revision to compare with")
    args = parser.parse_args()
    python = sys.executable
    timed(infra(python, REPO, "validate", "local"), REPO)  # creates the local stack file
    with TemporaryDirectory() as tmp:
        base = worktree(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        try:
            runs = commands(python, base)
            samples: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.runs):
                for name, (argv, cwd) in runs.items():
                    samples[name].append(timed(argv, cwd))
        finally:
            if base is not None:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)],
                    capture_output=True,
                )
    figures = {name: summary(values) for name, values in samples.items()}
    goals = {
        name: {
            "goal_s": goal,
            "median_s": figures[name]["median_s"],
            "met": figures[name]["median_s"] <= goal,
        }
        for name, goal in GOALS.items()
    }
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "runs": args.runs,
        "baseline": args.baseline,
        "figures": figures,
        "goals": goals,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"figures": figures, "goals": goals}, indent=2))


if __name__ == "__main__":
    main()
