"""Where the controller's CPU goes in an ansible-playbook run: per task, and per template.

    python -m tools.profile_templates [--top N] -- ansible-playbook arguments...

Runs ansible-playbook in this process with two of ansible-core's methods wrapped: the
templating engine's ``template`` and ``evaluate_conditional`` (the CPU each top-level call
takes, the templates it renders lazily included), and the task executor's ``run`` (the
CPU each task takes in the process Ansible forks for it, module payload and transport
included; not the CPU of the programs the transport starts, such as ``docker exec``). Each
worker writes its figures when its task ends; the summary is
printed at the end. It relies on ansible-core 2.19's internals and is a measuring tool,
not part of the collection.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Figures = dict[str, list[float]]  # key -> [calls, CPU seconds]


def _wrap_templating(stats: Figures, depth: list[int]) -> None:
    from ansible._internal._templating import _engine

    def wrap(name: str) -> None:
        original: Callable[..., Any] = getattr(_engine.TemplateEngine, name)

        def measured(self: object, *args: object, **kwargs: object) -> object:
            value = args[0] if args else next(iter(kwargs.values()), None)
            top = depth[0] == 0
            depth[0] += 1
            started = time.process_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                depth[0] -= 1
                if top:
                    entry = stats.setdefault(
                        f"{name}: {' '.join(str(value).split())[:140]}", [0, 0.0]
                    )
                    entry[0] += 1
                    entry[1] += time.process_time() - started

        setattr(_engine.TemplateEngine, name, measured)

    wrap("template")
    wrap("evaluate_conditional")


def _wrap_worker(stats: Figures, out: Path) -> None:
    # The task executor, not the worker process: its figures are written before the worker
    # sends the result, so they are there when the run ends.
    from ansible.executor.task_executor import TaskExecutor

    original: Callable[..., Any] = TaskExecutor.run

    def measured(self: TaskExecutor) -> object:
        stats.clear()  # what the main process counted before the fork is its own
        started = time.process_time()
        try:
            return original(self)
        finally:
            entry = stats.setdefault(f"task: {self._task.get_name()[:140]}", [0, 0.0])
            entry[0] += 1
            entry[1] += time.process_time() - started
            # A later worker may get the same pid: one file per task.
            (out / f"worker-{os.getpid()}-{time.monotonic_ns()}.json").write_text(json.dumps(stats))

    TaskExecutor.run = measured


def merge(files: Iterable[Path]) -> Figures:
    merged: Figures = defaultdict(lambda: [0, 0.0])
    for path in files:
        for key, (calls, seconds) in json.loads(path.read_text()).items():
            merged[key][0] += calls
            merged[key][1] += seconds
    return dict(merged)


def summary(workers: Figures, main: Figures, top: int) -> str:
    tasks = {k: v for k, v in workers.items() if k.startswith("task: ")}
    templates = {k: v for k, v in workers.items() if not k.startswith("task: ")}
    main_templates = sum(seconds for _, seconds in main.values())

    def ranked(figures: Figures) -> list[str]:
        order = sorted(figures.items(), key=lambda item: -item[1][1])[:top]
        return [
            f"{seconds * 1000:8.0f} ms {int(calls):5d}x  {key}" for key, (calls, seconds) in order
        ]

    total = sum(seconds for _, seconds in tasks.values())
    rendered = sum(seconds for _, seconds in templates.values())
    return "\n".join(
        [
            f"CPU of the task workers: {total:.2f} s over {sum(int(c) for c, _ in tasks.values())} "
            f"tasks; templating in them {rendered:.2f} s; templating in the main process "
            f"{main_templates:.2f} s",
            "slowest tasks (worker CPU):",
            *ranked(tasks),
            "costliest templates and conditions in the workers (CPU, calls):",
            *ranked(templates),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("playbook_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    playbook_args = [a for a in args.playbook_args if a != "--"] if args.playbook_args else []
    out = Path(tempfile.mkdtemp(prefix="profile-templates-"))
    stats: Figures = {}
    _wrap_templating(stats, [0])
    _wrap_worker(stats, out)
    from ansible.cli.playbook import main as playbook_main

    sys.argv = ["ansible-playbook", *playbook_args]
    code = 0
    try:
        playbook_main()
    except SystemExit as done:
        code = int(done.code or 0)
    print(summary(merge(out.glob("worker-*.json")), stats, args.top), flush=True)
    shutil.rmtree(out, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
