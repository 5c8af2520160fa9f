"""Unit tests for the init role's discovery (plugins/module_utils/project.py, the
project_facts module) on both example apps and on projects made here: the back end at the
repository's root with the front end in a folder, a Procfile's command, nothing to find,
two back ends; and the role itself under ansible-playbook (without the build): the
inventory it writes, a refused overwrite, refused inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.testing import ROOT, load_plugin, run_local_playbook, run_module

project = load_plugin("module_utils", "project")
module = load_plugin("modules", "project_facts")
APP = ROOT / "examples" / "app"
NOTES = ROOT / "examples" / "notes"
EXAMPLE_LOCK = (APP / "backend" / "uv.lock").read_text()
NOTES_LOCK = (NOTES / "backend" / "uv.lock").read_text()
# The collection's playbook (its questions skipped: every answer is given with -e), whose
# directory is not the current one: relative paths must be taken from the current one.
PLAY = """\
- name: Init
  ansible.builtin.import_playbook: fullstack.webapp.init
"""


def locations(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in entry.items() if k != "where"} for entry in found]


def write(base: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return base


def test_the_example_app() -> None:
    found = project.discover(str(APP))
    assert found["problems"] == []
    assert found["backend"]["path"] == str(APP / "backend")
    assert found["frontend"]["path"] == str(APP / "frontend")
    assert found["frontend"]["dist"] == str(APP / "frontend" / "dist")
    assert found["frontend"]["command"] == "npm ci && npm run build"
    assert found["app_module"] == "app.main:app"
    assert "gunicorn app.main:app" in found["app_module_source"]
    assert found["add_gunicorn"] is False
    assert found["health_path"] == "/api/health"
    # Everything it serves is under /api, its docs too (docs_url="/api/docs" ...).
    assert found["proxy_locations"] == []
    assert found["docs_locations"] == []
    assert found["pre_switch_commands"] == []
    assert found["shared_paths"] == []


def test_the_notes_app_gets_what_a_human_wrote_for_it() -> None:
    """molecule/apps/vars/notes.yml, written by hand, against what init finds in the code."""
    human = yaml.safe_load((ROOT / "molecule" / "apps" / "vars" / "notes.yml").read_text())
    found = project.discover(str(NOTES))
    assert found["problems"] == []
    assert found["app_name"] == human["python_uv_app_name"]
    assert found["app_module"] == human["gunicorn_app_module"]
    assert found["add_gunicorn"] is human["python_uv_add_gunicorn"]
    assert {p["path"] for p in found["shared_paths"]} == set(human["python_uv_shared_paths"])
    commands = [c["command"] for c in found["pre_switch_commands"]]
    assert commands == human["python_uv_pre_switch_commands"]
    assert found["health_path"] == "/health"
    assert {"path": "/health", "status": [200]} in human["deploy_health_checks"]
    # The human made /docs and /openapi.json public; init finds them and leaves that choice.
    every = locations(found["proxy_locations"]) + locations(found["docs_locations"])
    wanted = human["nginx_gateway_proxy_locations"]
    by_path = sorted([e for e in every if e["path"] != "/redoc"], key=lambda e: str(e["path"]))
    assert by_path == sorted(wanted, key=lambda e: str(e["path"]))
    assert [e["path"] for e in found["docs_locations"]] == ["/docs", "/redoc", "/openapi.json"]


@pytest.fixture
def root_layout(tmp_path: Path) -> Path:
    """The back end at the repository's root (the ASGI app only in the code, no command
    anywhere), the front end in web/ (yarn, vite with its own outDir)."""
    base = tmp_path / "Rootshop"
    return write(
        base,
        {
            "pyproject.toml": '[project]\nname = "rootshop"\nversion = "1"\n',
            "uv.lock": EXAMPLE_LOCK,
            "service/__init__.py": "",
            "service/asgi.py": (
                "import sqlite3\n"
                "from starlette.applications import Starlette\n"
                "from starlette.routing import Mount, Route, WebSocketRoute\n"
                "from .api import router\n"
                "def db():\n    return sqlite3.connect('data/shop.db')\n"
                "application = Starlette(routes=[Route('/healthz', None),\n"
                "    WebSocketRoute('/live', None), Mount('/static', None)])\n"
            ),
            "service/api.py": (
                "from fastapi import APIRouter\n"
                "router = APIRouter(prefix='/api/v1')\n"
                "@router.get('/items/{item_id}')\n"
                "def item(item_id: int) -> int:\n    return item_id\n"
            ),
            # Not the app's code: ignored.
            "tests/test_app.py": "from fastapi import FastAPI\napp = FastAPI()\n",
            "web/package.json": json.dumps({"scripts": {"build": "vite build"}}),
            "web/yarn.lock": "",
            "web/vite.config.ts": "export default { build: { outDir: 'public_html' } }\n",
            "web/node_modules/x/package.json": json.dumps({"scripts": {"build": "x"}}),
        },
    )


def test_the_back_end_at_the_root_and_the_front_end_in_a_folder(root_layout: Path) -> None:
    found = project.discover(str(root_layout))
    assert found["problems"] == []
    assert found["backend"]["path"] == str(root_layout)
    assert found["backend"]["relative"] == "."
    assert found["frontend"]["path"] == str(root_layout / "web")
    assert found["frontend"]["dist"] == str(root_layout / "web" / "public_html")
    assert found["frontend"]["dist_source"] == "vite.config.ts (outDir)"
    assert found["frontend"]["command"] == "yarn install --frozen-lockfile && yarn run build"
    assert found["app_module"] == "service.asgi:application"
    assert found["app_module_source"] == "`application = Starlette()` in service/asgi.py:7"
    assert found["app_name"] == "rootshop"
    assert found["add_gunicorn"] is False
    assert locations(found["proxy_locations"]) == [
        {"path": "/healthz", "exact": True},
        {"path": "/live", "exact": True, "websocket": True},
        {"path": "/static"},
    ]
    assert "/api/v1/items/{item_id}" in [r["path"] for r in found["routes"]]
    assert found["health_path"] == "/healthz"
    assert [p["path"] for p in found["shared_paths"]] == ["data/"]


def test_the_projects_own_command_wins_over_the_code(tmp_path: Path) -> None:
    """A Procfile's gunicorn command with a factory; a README's command naming a module
    that does not exist is not taken; the app the code makes is listed as another one."""
    base = write(
        tmp_path / "svc",
        {
            "api/pyproject.toml": "[project]\nname = 'svc'\n",
            "api/uv.lock": NOTES_LOCK,
            "api/svc/__init__.py": "",
            "api/svc/main.py": "from fastapi import FastAPI\napp = FastAPI(docs_url=None)\n",
            "api/svc/factory.py": (
                "from fastapi import FastAPI\n"
                "def create_app():\n    return FastAPI(openapi_url=None, redoc_url=None)\n"
            ),
            "Procfile": "web: cd api && gunicorn -k uvicorn_worker.UvicornWorker "
            "-b 0.0.0.0:8000 'svc.factory:create_app()'\n",
            "README.md": "Run `uvicorn nothere.main:app --reload` (old).\n",
            "client/package.json": json.dumps({"scripts": {"build": "ng build --output-path out"}}),
        },
    )
    found = project.discover(str(base))
    assert found["problems"] == []
    assert found["app_module"] == "svc.factory:create_app()"
    assert found["app_module_source"] == (
        "the `gunicorn svc.factory:create_app()` command in Procfile:1"
    )
    assert found["app_module_candidates"] == ["svc.main:app"]
    assert found["add_gunicorn"] is True
    assert found["frontend"]["dist"] == str(base / "client" / "out")
    assert found["frontend"]["command"] == "npm install && npm run build"
    # Each app's docs routes unless turned off there: /docs of the factory's, the rest main's.
    docs = sorted(d["path"] for d in found["docs_locations"])
    assert docs == ["/docs", "/openapi.json", "/redoc"]


def test_uvicorn_run_in_the_code_counts_as_a_command(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": "",
            "uv.lock": NOTES_LOCK,
            "api.py": "from fastapi import FastAPI\napp = FastAPI()\n",
            "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
            "serve.py": "import uvicorn\nif __name__ == '__main__':\n    uvicorn.run('api:app')\n",
            "ui/package.json": '{"scripts": {"build": "vite build"}}',
        },
    )
    found = project.discover(str(tmp_path))
    assert found["app_module"] == "api:app"
    assert found["app_module_source"] == "the `uvicorn api:app` command in serve.py:3"
    assert found["app_module_candidates"] == ["main:app"]


def test_nothing_to_find_names_what_to_set(tmp_path: Path) -> None:
    found = project.discover(str(tmp_path))
    assert len(found["problems"]) == 2, found["problems"]
    assert "no back end found" in found["problems"][0]
    assert "set init_backend" in found["problems"][0]
    assert "no front end found" in found["problems"][1]
    assert "set init_frontend" in found["problems"][1]


def test_a_back_end_without_an_app_or_a_lock(tmp_path: Path) -> None:
    write(tmp_path, {"backend/pyproject.toml": "", "web/package.json": '{"scripts": {}}'})
    found = project.discover(str(tmp_path))
    assert "backend has a pyproject.toml without uv.lock: run `uv lock` there" in " ".join(
        found["problems"]
    )
    write(tmp_path, {"backend/uv.lock": NOTES_LOCK, "backend/main.py": "print('hello')\n"})
    found = project.discover(str(tmp_path))
    assert any("no ASGI app found" in p and "init_app_module" in p for p in found["problems"])
    assert any("no front end found" in p for p in found["problems"])
    given = project.discover(str(tmp_path), app_module="main:hello", frontend="web")
    assert given["app_module"] == "main:hello"
    assert given["problems"] == []


def test_two_back_ends_are_a_choice_for_the_user(tmp_path: Path) -> None:
    for name in ("orders", "billing"):
        write(tmp_path, {f"{name}/pyproject.toml": "", f"{name}/uv.lock": NOTES_LOCK})
    write(tmp_path, {"frontend/package.json": '{"scripts": {"build": "vite build"}}'})
    found = project.discover(str(tmp_path))
    assert found["problems"] == [
        "several back ends found (billing, orders): set init_backend to one of them"
    ]
    assert project.discover(str(tmp_path), backend="orders")["problems"] == [
        "no ASGI app found: no `uvicorn MODULE:APP` or `gunicorn MODULE:APP` command in the "
        "project's files, and no module-level `app = FastAPI(...)` (or Starlette) in orders; "
        "set init_app_module (e.g. app.main:app)"
    ]


def test_gunicorn_only_in_the_dev_group_is_named(tmp_path: Path) -> None:
    lock = (
        'version = 1\n\n[[package]]\nname = "shop"\nversion = "1"\nsource = { virtual = "." }\n'
        'dependencies = [{ name = "fastapi" }]\n\n[package.dev-dependencies]\n'
        'dev = [{ name = "gunicorn" }]\n\n'
        '[[package]]\nname = "fastapi"\nversion = "1"\nsource = { registry = "x" }\n\n'
        '[[package]]\nname = "gunicorn"\nversion = "1"\nsource = { registry = "x" }\n'
    )
    write(tmp_path, {"b/pyproject.toml": "", "b/uv.lock": lock})
    facts = project.lock_facts(str(tmp_path / "b"))
    assert facts["gunicorn_locked"] is True
    assert facts["gunicorn_installed"] is False
    assert facts["installed"] == ["fastapi", "shop"]


def test_the_module_reports_and_refuses_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_module(module, {"path": str(NOTES)}, capsys)
    assert result["changed"] is False
    assert result["project"]["app_module"] == "notes.main:app"
    result = run_module(module, {"path": str(tmp_path / "nothing")}, capsys)
    assert result["failed"] is True
    assert "is not a directory" in result["msg"]


def init(tmp_path: Path, **extra: object) -> tuple[int, str]:
    variables = {
        "init_project": str(NOTES),
        "init_host": "203.0.113.10",
        "init_user": "deploy",
        "init_server_name": "notes.example.com, www.notes.example.com",
        "init_inventory": str(tmp_path / "inventory"),
        "init_build": False,
        **extra,
    }
    result = run_local_playbook(tmp_path, PLAY, variables)
    return result.returncode, result.stdout + result.stderr


def test_the_role_writes_the_inventory_and_refuses_to_overwrite_it(tmp_path: Path) -> None:
    """init_project and init_inventory relative to the current directory at first."""
    code, output = init(tmp_path, init_project=os.path.relpath(NOTES, tmp_path),
                        init_inventory="inventory")  # fmt: skip
    assert code == 0, output[-3000:]
    hosts = yaml.safe_load((tmp_path / "inventory" / "hosts.yml").read_text())
    assert hosts == {"webapp": {"hosts": {"203.0.113.10": {"ansible_user": "deploy"}}}}
    group_vars = tmp_path / "inventory" / "group_vars" / "webapp.yml"
    written = yaml.safe_load(group_vars.read_text())
    human = yaml.safe_load((ROOT / "molecule" / "apps" / "vars" / "notes.yml").read_text())
    same = ("python_uv_app_name", "gunicorn_app_module", "python_uv_add_gunicorn",
            "python_uv_pre_switch_commands", "deploy_app_health_checks",
            "deploy_health_checks")  # fmt: skip
    assert {k: written[k] for k in same} == {k: human[k] for k in same}
    assert sorted(written["python_uv_shared_paths"]) == sorted(human["python_uv_shared_paths"])
    assert written["python_uv_app_src"] == str(NOTES / "backend")
    assert written["frontend_build_src"] == str(NOTES / "frontend")
    assert written["frontend_dist_src"] == str(NOTES / "frontend" / "dist")
    assert written["nginx_gateway_server_names"] == ["notes.example.com", "www.notes.example.com"]
    assert written["nginx_gateway_proxy_locations"] == [
        {"path": "/health", "exact": True},
        {"path": "/ws", "exact": True, "websocket": True},
    ]
    assert written["deploy_releases"] is True
    text = group_vars.read_text()
    assert "`uvicorn notes.main:app` command in backend/pyproject.toml" in text
    assert "FastAPI also serves /docs, /redoc, /openapi.json: kept private" in text

    before = group_vars.read_text()
    code, output = init(tmp_path, init_server_name="other.example.com")
    assert code != 0
    assert "group_vars/webapp.yml already exist: set init_force=true" in output, output[-3000:]
    assert group_vars.read_text() == before
    code, output = init(tmp_path, init_server_name="other.example.com", init_force=True,
                        init_public_docs=True)  # fmt: skip
    assert code == 0, output[-3000:]
    written = yaml.safe_load(group_vars.read_text())
    assert written["nginx_gateway_server_names"] == ["other.example.com"]
    assert {"path": "/docs"} in written["nginx_gateway_proxy_locations"]


BAD_INPUTS = {
    "init_server_name": ("not a/name", "init_server_name must be the site's host names"),
    "init_host": ("two hosts", "init_host must be the server's address"),
    "init_user": ("Root User", "init_user must be empty or a user name"),
    "init_app_module": ("notes.main", "init_app_module must be MODULE:APP"),
    "init_app_name": ("Notes App", "init_app_name must be a POSIX user name"),
    "init_host_vars": ({"not a name": 1}, "init_host_vars must map variable names to values"),
    "init_forse": (True, "init_forse is not a variable of the init role (did you mean init_force"),
}


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    """Every bad input named in one message (one run for all of them)."""
    code, output = init(tmp_path, **{name: value for name, (value, _) in BAD_INPUTS.items()})
    assert code != 0
    text = " ".join(output.split())
    for _value, message in BAD_INPUTS.values():
        assert message in text, output[-3000:]
    assert "Nothing was built or written" in text
    assert not (tmp_path / "inventory").exists()
    code, output = init(tmp_path, init_project=str(tmp_path / "nothing"))
    assert code != 0
    assert "init_project must be the project's directory" in output, output[-3000:]


def test_a_project_with_nothing_to_find_fails_naming_what_to_set(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, output = init(tmp_path, init_project=str(empty))
    assert code != 0
    text = " ".join(output.split())
    assert "init cannot write an inventory for" in text, output[-3000:]
    assert "no back end found" in text
    assert "set init_backend" in text
    assert "set init_frontend" in text
    assert not (tmp_path / "inventory").exists()
