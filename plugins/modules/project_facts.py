#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Find what a deploy needs in a project directory (the init role's discovery)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: project_facts
short_description: Find the back end, front end, ASGI app and habits of a FastAPI + SPA project
version_added: 0.1.0
description:
  - Looks at a project directory, read-only, and reports what a deploy with this collection
    needs, each finding with where it was found.
  - The back end is the directory with C(pyproject.toml) and C(uv.lock) (the project's root
    or a folder); the front end is the directory whose C(package.json) has a C(build) script;
    the build's output directory is vite's (or Vue CLI's) C(outDir), a C(--outDir) of the
    build script, or C(dist).
  - The ASGI app is taken from the project's own C(uvicorn MODULE:APP) or C(gunicorn
    MODULE:APP) command (Procfile, Dockerfile, compose files, Makefile, scripts,
    C(pyproject.toml), READMEs, docstrings), checked against the code; else from a
    module-level C(app = FastAPI(...)) (or Starlette, Litestar, Quart, or a factory of
    the same module) found by parsing the back end's code with C(ast). Nothing is imported.
  - It also reports, from the code and the lock, whether gunicorn and uvicorn-worker are
    among what C(uv sync --no-dev) installs; the routes outside C(/api) (route decorators,
    C(add_api_route), C(mount), Starlette's C(Route)); FastAPI's docs routes; a health route;
    C(alembic upgrade head) when the back end has C(alembic.ini), and C(python -m PKG.seed)
    for a C(seed) module with a C(__main__) guard; the relative paths the app writes (a
    relative SQLite URL, a logging file handler, C(sqlite3.connect), C(open) for writing).
  - What cannot be found, or is ambiguous, is listed in RV(project.problems), naming the
    variable of the C(fullstack.webapp.init) role to set.
options:
  path:
    description: The project directory.
    type: path
    required: true
  backend:
    description:
      - The back end's directory, relative to O(path) (or absolute), instead of looking.
    type: str
    default: ""
  frontend:
    description:
      - The front end's directory, relative to O(path) (or absolute), instead of looking.
    type: str
    default: ""
  app_module:
    description: The ASGI app (C(MODULE:APP)) instead of looking.
    type: str
    default: ""
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
author:
  - fullstack.webapp maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Find what the project needs
  fullstack.webapp.project_facts:
    path: /home/me/src/shop
  register: __found

- name: Stop when something could not be found
  ansible.builtin.assert:
    that: __found.project.problems | length == 0
    fail_msg: "{{ __found.project.problems | join('; ') }}"
"""

RETURN = r"""
project:
  description: What was found.
  returned: always
  type: dict
  sample:
    project: /home/me/src/notes
    problems: []
    notes: []
    backend:
      path: /home/me/src/notes/backend
      relative: backend
      source: pyproject.toml and uv.lock
    frontend:
      path: /home/me/src/notes/frontend
      relative: frontend
      source: package.json with a build script
      command: npm ci && npm run build
      script: vite build
      dist: /home/me/src/notes/frontend/dist
      dist_source: vite.config.js (outDir)
    app_name: notes
    app_name_source: the project directory's name
    app_module: notes.main:app
    app_module_source: the `uvicorn notes.main:app` command in backend/pyproject.toml:10
    app_module_candidates: []
    add_gunicorn: true
    add_gunicorn_source: "uv.lock has no gunicorn: the collection adds it"
    proxy_locations:
      - {path: /health, exact: true, where: "backend/notes/main.py:71"}
      - {path: /ws, exact: true, websocket: true, where: "backend/notes/main.py:101"}
    docs_locations:
      - {path: /docs, where: "backend/notes/main.py:67"}
    health_path: /health
    health_source: backend/notes/main.py:71
    pre_switch_commands:
      - {command: alembic upgrade head, source: backend/alembic.ini (Alembic)}
    shared_paths:
      - path: instance/
        source: the SQLite URL sqlite:///instance/notes.db in backend/notes/settings.py:18
  contains:
    project:
      description: The project directory, absolute.
      type: str
    problems:
      description: What is missing or ambiguous, each naming the variable to set.
      type: list
      elements: str
    notes:
      description: Findings worth a look that do not stop a deploy.
      type: list
      elements: str
    backend:
      description:
        - The back end's directory (C(path), C(relative) to the project) and how it was chosen.
      type: dict
    frontend:
      description:
        - The front end's directory, its build C(command) (from its lockfile), its build
          C(script), and the build's output directory C(dist) with C(dist_source). Its
          C(path) is empty when none was found.
      type: dict
    app_name:
      description: A POSIX name for the app, from the project directory's name or the pyproject's.
      type: str
    app_name_source:
      description: Where RV(project.app_name) comes from.
      type: str
    app_module:
      description:
        - The ASGI app for gunicorn, C(MODULE:APP) (C(MODULE:FACTORY()) for a factory); empty
          when not found.
      type: str
    app_module_source:
      description: Where RV(project.app_module) was found.
      type: str
    app_module_candidates:
      description: Other ASGI apps found.
      type: list
      elements: str
    add_gunicorn:
      description: Whether the lock lacks gunicorn (the collection then adds it).
      type: bool
    add_gunicorn_source:
      description: Why.
      type: str
    routes:
      description: Every route found (path, websocket, prefix, where).
      type: list
      elements: dict
    proxy_locations:
      description:
        - The routes outside C(/api) as C(nginx_gateway_proxy_locations) entries, with where
          they were found.
      type: list
      elements: dict
    docs_locations:
      description: FastAPI's docs routes outside C(/api), in the same form.
      type: list
      elements: dict
    health_path:
      description: A health route (C(/api/health), C(/health), C(/healthz) ...); empty when none.
      type: str
    health_source:
      description: Where it was found.
      type: str
    pre_switch_commands:
      description: Commands to run once per deploy before the switch (C(command), C(source)).
      type: list
      elements: dict
    shared_paths:
      description: Relative paths the app writes in its working directory (C(path), C(source)).
      type: list
      elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fullstack.webapp.plugins.module_utils.project import discover


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "backend": {"type": "str", "default": ""},
            "frontend": {"type": "str", "default": ""},
            "app_module": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    path: str = module.params["path"]
    if not os.path.isdir(path):
        module.fail_json(msg=f"the project {path} is not a directory")
    try:
        project = discover(
            path,
            backend=module.params["backend"],
            frontend=module.params["frontend"],
            app_module=module.params["app_module"],
        )
    except OSError as exc:
        module.fail_json(msg=f"cannot read the project {path}: {exc}")
    module.exit_json(changed=False, project=project)


if __name__ == "__main__":
    main()
