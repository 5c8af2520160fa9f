"""tools/molecule_suite.py with a shell script in place of `molecule test -s`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import molecule_suite

# Each "scenario" records when it started and ended, and fails when its name says so.
SCRIPT = (
    'echo "start $(date +%s.%N)" > "$0.times"; sleep 0.5; '
    'echo "end $(date +%s.%N)" >> "$0.times"; echo "output of $0"; '
    'case "$0" in *fail*) exit 3;; esac'
)


def times(path: Path) -> tuple[float, float]:
    lines = dict(line.split() for line in path.read_text().splitlines())
    return float(lines["start"]), float(lines["end"])


def test_runs_scenarios_at_once_and_keeps_each_output_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [str(tmp_path / "first"), str(tmp_path / "second-fail"), str(tmp_path / "third")]
    outcomes = molecule_suite.run_all(
        names, jobs=2, command=("sh", "-c", SCRIPT), logs=tmp_path / "logs"
    )

    assert [outcome.scenario for outcome in outcomes] == names
    assert [outcome.returncode for outcome in outcomes] == [0, 3, 0]
    first, second, third = (times(Path(f"{name}.times")) for name in names)
    assert second[0] < first[1], "the second scenario waited for the first"
    assert third[0] >= min(first[1], second[1]), "three ran at once with jobs=2"
    printed = capsys.readouterr().out
    for name in names:
        assert f"[00:00] output of {name}\n" in printed, "each line behind its time"


def test_exit_status_says_whether_any_scenario_failed(tmp_path: Path) -> None:
    command = ("sh", "-c", 'case "$0" in *fail*) exit 1;; esac')
    assert molecule_suite.run_and_report(["ok", "also-ok"], 2, command, tmp_path) == 0
    assert molecule_suite.run_and_report(["ok", "fail"], 2, command, tmp_path) == 1


def test_the_checks_run_first_beside_the_scenarios_and_count_in_the_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [str(tmp_path / "first"), str(tmp_path / "second")]
    checks = ["sh", "-c", SCRIPT, str(tmp_path / "checks-fail")]
    status = molecule_suite.run_and_report(
        names, 2, ("sh", "-c", SCRIPT), tmp_path / "logs", checks
    )

    assert status == 1, "a failed check fails the run"
    checks_times = times(Path(f"{tmp_path / 'checks-fail'}.times"))
    first, second = (times(Path(f"{name}.times")) for name in names)
    assert checks_times[0] < first[1], "the checks ran beside the first scenario"
    assert second[0] >= min(checks_times[1], first[1]), "two jobs at once, the checks one"
    printed = capsys.readouterr().out
    assert "checks           FAILED (exit 3)" in printed
    assert (tmp_path / "logs" / "checks.log").read_text().endswith("checks-fail\n")
