"""tools/bench_hosts.py: the transports and strategies of make bench-ansible."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools import bench_hosts
from tools.bench_hosts import Combo


def test_combos_put_the_default_first() -> None:
    assert bench_hosts.combos(["ssh", "docker"], ["mitogen", "linear"]) == [
        Combo("docker", "linear"),
        Combo("ssh", "mitogen"),
        Combo("ssh", "linear"),
        Combo("docker", "mitogen"),
    ]
    assert bench_hosts.combos(["ssh"], ["linear"]) == [Combo("ssh", "linear")]


def test_fast_path_ways_come_after_the_whole_runs_and_say_so() -> None:
    found = bench_hosts.combos(["ssh", "docker"], ["linear"], ["fast", "whole"])
    assert found == [
        Combo("docker", "linear"),
        Combo("ssh", "linear"),
        Combo("docker", "linear", fast_path=True),
        Combo("ssh", "linear", fast_path=True),
    ]
    assert found[2].label == "docker, linear, fast path"
    assert found[2].way == "linear + fast path"
    assert found[0].way == "linear"


def test_docker_hosts_use_the_short_name_mitogen_replaces() -> None:
    assert bench_hosts.host_vars("any", "docker") == {"ansible_connection": "docker"}
    with pytest.raises(ValueError, match="unknown transport 'winrm'"):
        bench_hosts.host_vars("any", "winrm")


def test_the_strategies_environment() -> None:
    assert bench_hosts.strategy_env("linear") == {}
    mitogen = bench_hosts.strategy_env("mitogen")
    assert mitogen["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert (Path(mitogen["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_linear.py").is_file()
    with pytest.raises(ValueError, match="unknown strategy 'free'"):
        bench_hosts.strategy_env("free")


def test_control_masters_are_counted_and_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processes titled as OpenSSH titles a control master: one busy for a moment, then
    idle, under Ansible's control directory; one under another directory."""
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path))
    busy = "import time; sum(range(5_000_000)); print('busy', flush=True); time.sleep(30)"
    master = subprocess.Popen(
        ["bash", "-c", f'exec -a "ssh: {tmp_path}/cp/0123abcd [mux]" python3 -c "{busy}"'],
        stdout=subprocess.PIPE,
        text=True,
    )
    other = subprocess.Popen(["bash", "-c", 'exec -a "ssh: /elsewhere/cp/x [mux]" sleep 30'])
    try:
        assert master.stdout is not None
        assert master.stdout.readline() == "busy\n"
        assert bench_hosts._control_masters(tmp_path / "cp") == [master.pid]
        used = bench_hosts.stop_control_masters()
        assert used > 0.0
        assert master.wait(timeout=5) == -15, "stopped by SIGTERM"
        assert other.poll() is None, "a master of another control directory is left alone"
    finally:
        for process in (master, other):
            process.kill()
            process.wait()


def test_floor_playbooks_parse_and_hold_the_tasks() -> None:
    import yaml

    for kind in bench_hosts.FLOOR_TASKS:
        [play] = yaml.safe_load(bench_hosts.floor_playbook(kind, 3))
        assert play["gather_facts"] is False
        assert [task["name"] for task in play["tasks"]] == [f"{kind} 1", f"{kind} 2", f"{kind} 3"]
    [play] = yaml.safe_load(bench_hosts.floor_playbook("skipped", 2))
    assert play["tasks"][0]["when"] is False
    with pytest.raises(ValueError, match="unknown kind of task 'ping'"):
        bench_hosts.floor_playbook("ping", 1)
