"""Plays on the controller keep Ansible's temporary files under HOME (the checkout's own in
`make`), not in the home the password database names: Ansible expands the default
remote_tmp, ~/.ansible/tmp, as ~USER. The repository's ansible.cfg (the demo, the
benchmarks) and the Makefile (Molecule's own configuration) both set `$HOME/.ansible/tmp`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A copy needs a temporary directory on the target even with pipelining.
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "{{ out }}"
        content: "x"
        mode: "0600"
"""


def temporary_dirs(tmp_path: Path, env: dict[str, str], cwd: Path) -> list[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    playbook = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    run = subprocess.run(
        [
            playbook or "ansible-playbook",
            "-vvv",
            "-i",
            "localhost,",
            str(tmp_path / "play.yml"),
            "-e",
            f"out={tmp_path / 'out'}",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        cwd=cwd,
        env={**env, "HOME": str(home), "ANSIBLE_HOME": str(home / ".ansible")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    made = re.findall(r"mkdir -p \"` echo ([^`]*?) `\"", run.stdout)
    assert made, run.stdout[-3000:]
    return made


@pytest.mark.parametrize("source", ["ansible.cfg", "ANSIBLE_REMOTE_TMP"])
def test_a_controller_play_keeps_its_temporary_files_under_home(
    tmp_path: Path, source: str
) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ANSIBLE_REMOTE_TMP"}
    if source == "ansible.cfg":
        cwd = ROOT
        env.pop("ANSIBLE_CONFIG", None)
    else:
        cwd = tmp_path
        (tmp_path / "empty.cfg").write_text("[defaults]\n")
        env["ANSIBLE_CONFIG"] = str(tmp_path / "empty.cfg")
        env["ANSIBLE_REMOTE_TMP"] = makefile_remote_tmp()
    assert temporary_dirs(tmp_path, env, cwd) == ["$HOME/.ansible/tmp"]


def makefile_remote_tmp() -> str:
    """ANSIBLE_REMOTE_TMP as the Makefile exports it, asked of make itself."""
    out = subprocess.run(
        ["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", "-", "print-remote-tmp"],
        input="print-remote-tmp:\n\t@printf '%s' \"$$ANSIBLE_REMOTE_TMP\"\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout
