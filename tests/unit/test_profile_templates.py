"""tools/profile_templates.py on a real ansible-playbook run on localhost."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PLAYBOOK = """\
- name: Profiled
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    many: "{{ range(3000) | map('string') | join(',') }}"
  tasks:
    - name: A condition over a costly variable
      ansible.builtin.debug:
        msg: "{{ many | length }}"
      when: many | length > 10
    - name: Never run
      ansible.builtin.debug:
        msg: never
      when: false
"""


def test_the_costly_condition_and_task_come_first(tmp_path: Path) -> None:
    playbook = tmp_path / "profiled.yml"
    playbook.write_text(PLAYBOOK)
    result = subprocess.run(
        [sys.executable, "-m", "tools.profile_templates", "--top", "3", "--",
         "-i", "localhost,", str(playbook)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout[result.stdout.index("CPU of the task workers") :]
    assert re.match(r"CPU of the task workers: [0-9.]+ s over 2 tasks", summary), summary
    tasks = summary.split("slowest tasks (worker CPU):\n")[1].splitlines()
    assert tasks[0].endswith("1x  task: A condition over a costly variable"), summary
    templates = summary.split("(CPU, calls):\n")[1].splitlines()
    assert any("evaluate_conditional: many | length > 10" in line for line in templates[:2])
