"""Run Molecule scenarios, a few at a time (`make molecule`, `make test`).

Much of a scenario's time is spent waiting (systemd booting in a container, apt and PyPI
downloads, the tests' own load loops and sleeps), so a few scenarios at once on two cores
take less time than one after the other. Each scenario's output goes to
.cache/molecule-logs/<scenario>.log, every line behind the minutes and seconds since the
scenario started, and is printed whole when the scenario ends, so that outputs never
interleave; the end of the run lists every scenario with its time and result, and the exit
status is not 0 when one failed. `--checks COMMAND` runs a command of its own (make test:
lint, unit tests, sanity) as the first job, beside the first scenarios, its output in
checks.log: mostly single-threaded, it would otherwise leave a core idle before them.

    python -m tools.molecule_suite [--jobs N] [--checks COMMAND] SCENARIO...
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".cache" / "molecule-logs"


@dataclass
class Outcome:
    scenario: str
    returncode: int
    seconds: float


MOLECULE_TEST = ("molecule", "test", "-s")


def run_timestamped(argv: list[str], out: TextIO, started: float) -> int:
    """Run argv, writing each line of its output to `out` behind the minutes and seconds
    since `started`: where a scenario spends its time is read in its log."""
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    for line in process.stdout:
        minutes, seconds = divmod(int(time.monotonic() - started), 60)
        out.write(f"[{minutes:02d}:{seconds:02d}] {line}")
    return process.wait()


def run_job(name: str, argv: list[str], print_lock: threading.Lock, logs: Path) -> Outcome:
    log = logs / f"{name}.log"
    started = time.monotonic()
    with log.open("w") as out:
        returncode = run_timestamped(argv, out, started)
    outcome = Outcome(name, returncode, time.monotonic() - started)
    with print_lock:
        print(f"===== {shlex.join(argv)} =====", flush=True)
        sys.stdout.write(log.read_text(errors="replace"))
        verdict = "passed" if outcome.returncode == 0 else f"FAILED (exit {outcome.returncode})"
        print(f"===== {name}: {verdict} in {outcome.seconds:.0f} s =====", flush=True)
    return outcome


def run_all(
    scenarios: list[str],
    jobs: int,
    command: tuple[str, ...] = MOLECULE_TEST,
    logs: Path = LOGS,
    checks: list[str] | None = None,
) -> list[Outcome]:
    """Every scenario, at most `jobs` at once, taken in the order given; `checks`, a
    command of its own, first (job `checks`)."""
    logs.mkdir(parents=True, exist_ok=True)
    queue = [(name, [*command, name]) for name in scenarios]
    if checks:
        queue.insert(0, ("checks", checks))
    order = {name: index for index, (name, _) in enumerate(queue)}
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    print_lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                name, argv = queue.pop(0)
            outcome = run_job(name, argv, print_lock, logs)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes, key=lambda outcome: order[outcome.scenario])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--jobs", type=int, default=2, help="jobs at once (default 2)")
    parser.add_argument(
        "--checks", help="a command run as the first job, e.g. 'make lint unit sanity'"
    )
    args = parser.parse_args(argv)
    checks = shlex.split(args.checks) if args.checks else None
    return run_and_report(args.scenarios, args.jobs, MOLECULE_TEST, LOGS, checks)


def run_and_report(
    scenarios: list[str],
    jobs: int,
    command: tuple[str, ...],
    logs: Path,
    checks: list[str] | None = None,
) -> int:
    started = time.monotonic()
    outcomes = run_all(scenarios, jobs, command, logs, checks)
    print(
        f"\nChecks and Molecule scenarios, {jobs} at a time ({time.monotonic() - started:.0f} s):"
    )
    for outcome in outcomes:
        verdict = "passed" if outcome.returncode == 0 else f"FAILED (exit {outcome.returncode})"
        print(f"  {outcome.scenario:<16} {verdict:<18} {outcome.seconds:6.0f} s")
    return 0 if all(outcome.returncode == 0 for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
