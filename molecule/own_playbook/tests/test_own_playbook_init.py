"""playbooks/init.yml on a project laid out with the back end at the repository's root and
the front end in web/ (a copy of the example app), then site.yml with the inventory it
wrote, beside the shop the other tests deployed on the same host: the app answers through
nginx (its API and the SPA), the build init made is the one served and site.yml did not
build again, and the shop still serves. Runs after test_own_playbook.py (file order)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from testinfra.host import Host

from tools.testing import ROOT, recap_changed, serving_service

APP = ROOT / "examples" / "app"
NAME = "rootshop"
SITE = "rootshop.test"
PLAIN = {"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}


def ansible_playbook(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ansible-playbook", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, **PLAIN},
    )


@pytest.fixture(scope="module")
def initialised(host: Host, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The project (back end at its root, front end in web/), init run on it, then site.yml
    run with what init wrote."""
    base = tmp_path_factory.mktemp("init")
    project = base / NAME
    project.mkdir()
    for name in ("app", "pyproject.toml", "uv.lock"):
        source = APP / "backend" / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / name)
    shutil.copytree(
        APP / "frontend", project / "web", ignore=shutil.ignore_patterns("node_modules", "dist")
    )
    inventory = base / "inventory"
    status, body = get(host, "/api/health", site="shop.test")
    assert status == 200, body
    shop = json.loads(body)["release"]
    variables = {
        "init_project": NAME,
        "init_host": host.backend.get_hostname(),
        "init_user": "root",
        # Also "_": nginx's default server on a host with two sites (the shop has none).
        "init_server_name": f"{SITE} _",
        "init_inventory": str(inventory),
        # The test host is a container: what hosts.yml needs to reach it.
        "init_host_vars": {"ansible_connection": "community.docker.docker"},
    }
    init = ansible_playbook(str(ROOT / "playbooks" / "init.yml"), "-e", json.dumps(variables),
                            cwd=base)  # fmt: skip
    assert init.returncode == 0, (init.stdout + init.stderr)[-4000:]
    index = project / "web" / "dist" / "index.html"
    built = {"mtime": index.stat().st_mtime_ns, "text": index.read_text()}
    site = ansible_playbook("-i", str(inventory), str(ROOT / "playbooks" / "site.yml"), cwd=base)
    return {
        "project": project,
        "inventory": inventory,
        "init": init.stdout + init.stderr,
        "site": site,
        "built": built,
        "index": index,
        "shop": shop,
    }


def get(host: Host, path: str, site: str = SITE) -> tuple[int, str]:
    """Status and body of a GET through the host's nginx for a site."""
    result = host.run(
        "curl -s --max-time 10 -w '\\n%{http_code}' -H "
        + shlex.quote(f"Host: {site}")
        + " "
        + shlex.quote(f"http://127.0.0.1{path}")
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status or 0), body


def test_init_finds_the_root_layout_and_writes_the_inventory(initialised: dict[str, Any]) -> None:
    project: Path = initialised["project"]
    inventory: Path = initialised["inventory"]
    written = yaml.safe_load((inventory / "group_vars" / "webapp.yml").read_text())
    assert written["python_uv_app_name"] == NAME
    assert written["python_uv_app_src"] == str(project)
    assert written["gunicorn_app_module"] == "app.main:app"
    assert written["python_uv_add_gunicorn"] is False
    assert written["frontend_build_src"] == str(project / "web")
    assert written["frontend_dist_src"] == str(project / "web" / "dist")
    assert written["nginx_gateway_server_names"] == [SITE, "_"]
    assert written["deploy_app_health_checks"] == [{"path": "/api/health", "status": [200]}]
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    assert list(hosts["webapp"]["hosts"]) == ["own-debian12"]
    assert "<title>" in initialised["built"]["text"]


def test_site_yml_deploys_what_init_wrote(initialised: dict[str, Any], host: Host) -> None:
    site: subprocess.CompletedProcess[str] = initialised["site"]
    assert site.returncode == 0, (site.stdout + site.stderr)[-5000:]
    assert recap_changed(site.stdout, host) > 0
    # init's build is the one site.yml found up to date: not built again.
    assert initialised["index"].stat().st_mtime_ns == initialised["built"]["mtime"]


def test_the_app_answers_through_nginx(initialised: dict[str, Any], host: Host) -> None:
    status, body = get(host, "/api/health")
    assert status == 200, body
    health = json.loads(body)
    assert health["status"] == "ok"
    status, body = get(host, "/")
    assert status == 200
    assert body == initialised["built"]["text"]
    status, body = get(host, "/dashboard")
    assert (status, body) == (200, initialised["built"]["text"])
    asset = host.check_output(f"ls /var/www/{NAME}/dist/assets | grep -m1 '[.]js$'")
    assert get(host, f"/assets/{asset}")[0] == 200
    assert host.service(serving_service(host, NAME)).is_running
    assert host.file(f"/opt/{NAME}/current").is_symlink


def test_the_other_app_on_the_host_still_serves(initialised: dict[str, Any], host: Host) -> None:
    assert initialised["site"].returncode == 0
    status, body = get(host, "/api/health", site="shop.test")
    assert status == 200, body
    assert json.loads(body)["release"] == initialised["shop"]


def test_init_does_not_overwrite_the_inventory(initialised: dict[str, Any]) -> None:
    inventory: Path = initialised["inventory"]
    before = (inventory / "group_vars" / "webapp.yml").read_text()
    variables = {
        "init_project": str(initialised["project"]),
        "init_host": "203.0.113.10",
        "init_server_name": "other.test",
        "init_inventory": str(inventory),
    }
    again = ansible_playbook(str(ROOT / "playbooks" / "init.yml"), "-e", json.dumps(variables),
                             cwd=inventory)  # fmt: skip
    assert again.returncode != 0
    assert "already exist: set init_force=true" in again.stdout + again.stderr
    assert (inventory / "group_vars" / "webapp.yml").read_text() == before
