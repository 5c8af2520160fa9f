"""The build inside the deploy: site.yml with frontend_build_src builds the front end on the
controller when its sources changed, serves the fresh build, skips the build when nothing
changed, and stops before any host changes when the build fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from testinfra.host import Host

from tools.testing import ROOT, recap_changed, run_playbook

SCENARIO = Path(__file__).resolve().parent.parent
EXAMPLE_FRONTEND = ROOT / "examples" / "app" / "frontend"
TITLE = "<title>fullstack.webapp example</title>"


def served_index(host: Host) -> str:
    return str(host.check_output("curl -sf --max-time 10 http://127.0.0.1/"))


def test_a_changed_source_is_built_and_served_by_one_run(host: Host, tmp_path: Path) -> None:
    project = tmp_path / "frontend"
    shutil.copytree(
        EXAMPLE_FRONTEND, project, ignore=shutil.ignore_patterns("node_modules", "dist")
    )
    index = project / "index.html"
    index.write_text(index.read_text().replace(TITLE, "<title>built by site.yml</title>"))
    build = {"frontend_build_src": str(project), "frontend_dist_src": str(project / "dist")}
    name = host.backend.get_hostname()

    first = run_playbook(SCENARIO / "converge.yml", name, "-e", json.dumps(build))
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-6000:]
    assert "<title>built by site.yml</title>" in served_index(host)

    again = run_playbook(SCENARIO / "converge.yml", name, "-e", json.dumps(build))
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-6000:]
    assert recap_changed(output, host) == 0, output[-6000:]

    main = project / "src" / "main.js"
    main.write_text(main.read_text() + "\nthis is not javascript (\n")
    broken = run_playbook(SCENARIO / "converge.yml", name, "-e", json.dumps(build))
    output = broken.stdout + broken.stderr
    assert broken.returncode != 0, output[-6000:]
    refusal = " ".join(output.split())
    assert "check 'front-end build' failed: `npm ci && npm run build`" in refusal, output[-6000:]
    assert "src/main.js" in refusal, output[-6000:]
    assert recap_changed(output, host) == 1, "only the failed build on the controller changed"
    assert "<title>built by site.yml</title>" in served_index(host)

    # The scenario's own dist back, for the tests after this file.
    back = run_playbook(SCENARIO / "converge.yml", name)
    assert back.returncode == 0, (back.stdout + back.stderr)[-6000:]
    assert TITLE in served_index(host)
