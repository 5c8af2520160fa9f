# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""What the init role finds in a project directory: its uv back end and package.json front
end, the ASGI app (from the project's own uvicorn / gunicorn command, else from the code),
whether Gunicorn is in the lock, the build's output directory, and the habits of an app
written elsewhere (routes outside /api, a health route, Alembic, a seed, files written in
the working directory). Read-only; shared by the project_facts module and its tests.

Every finding says where it was found (``source``), for the comments of the inventory the
role writes; what cannot be found is a problem naming the variable to set."""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from typing import Any

try:
    import tomllib
except ImportError:  # pragma: no cover - Python < 3.11
    tomllib = None  # type: ignore[assignment]

SKIP_DIRS = frozenset(
    {
        "node_modules", ".git", ".hg", ".venv", "venv", "env", ".env", "__pycache__",
        ".tox", ".nox", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".cache", "site-packages",
        "dist", "build", ".ansible", ".idea", ".vscode", "inventories",
    }
)  # fmt: skip
# Directories of a back end whose code is not the app's (tests, migrations' scripts).
NOT_APP_CODE = frozenset({"tests", "test", "migrations", "alembic", "docs", "scripts"})
BACKEND_NAMES = ("backend", "api", "server", "app", "src")
FRONTEND_NAMES = ("frontend", "web", "client", "ui", "app", "www", "spa")
ASGI_CLASSES = frozenset({"FastAPI", "Starlette", "Litestar", "Quart", "get_asgi_application"})
ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "api_route", "route", "websocket",
     "websocket_route", "add_api_route", "add_api_websocket_route", "add_route",
     "add_websocket_route", "mount"}
)  # fmt: skip
WEBSOCKET_METHODS = frozenset({"websocket", "websocket_route", "add_api_websocket_route"})
ROUTE_CLASSES = {"Route": False, "WebSocketRoute": True, "Mount": False, "APIRoute": False}
FILE_HANDLERS = frozenset(
    {"FileHandler", "WatchedFileHandler", "RotatingFileHandler", "TimedRotatingFileHandler"}
)
HEALTH_PATHS = ("/api/health", "/health", "/healthz", "/api/healthz", "/api/v1/health", "/ping")
# FastAPI's own routes, unless turned off (docs_url=None ...).
FASTAPI_DOCS = {"docs_url": "/docs", "redoc_url": "/redoc", "openapi_url": "/openapi.json"}
MAX_DEPTH = 4
MAX_TEXT_BYTES = 512 * 1024
# A command line (`uvicorn app.main:app`), or uvicorn.run("app.main:app") in Python.
SERVER_COMMAND = re.compile(
    r"\b(uvicorn|gunicorn|hypercorn|granian)(?:\.run\(|\b(?![\w.-]))([^\n]*)"
)
APP_SPEC = re.compile(
    r"(?<![\w./:@-])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)(\(\))?(?![\w/:.-])"
)
SQLITE_URL = re.compile(r"^sqlite(?:\+\w+)?:///(?!/)([^?]+)")
OUT_DIR = re.compile(r"""\b(?:outDir|outputDir)\s*:\s*['"]([^'"]+)['"]""")
CLI_OUT_DIR = re.compile(r"--(?:outDir|out-dir|output-path)[= ]+['\"]?([^'\"\s&;]+)")


def _walk(root: str, max_depth: int = MAX_DEPTH) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk in sorted order, without SKIP_DIRS, hidden directories and links, at most
    max_depth levels below root."""
    base = root.rstrip("/").count("/")
    for directory, dirs, files in os.walk(root):
        depth = directory.rstrip("/").count("/") - base
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.startswith(".")
            and not os.path.islink(os.path.join(directory, d))
            and depth < max_depth
        )
        yield directory, dirs, sorted(files)


def _relative(path: str, root: str) -> str:
    relative = os.path.relpath(path, root)
    return "." if relative == "." else relative


def _read(path: str) -> str | None:
    try:
        if os.path.getsize(path) > MAX_TEXT_BYTES:
            return None
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _ranked(paths: list[str], root: str, names: tuple[str, ...]) -> list[str]:
    """Shallowest first, then the usual names, then alphabetical."""

    def key(path: str) -> tuple[int, int, str]:
        relative = _relative(path, root)
        depth = 0 if relative == "." else relative.count("/") + 1
        name = os.path.basename(path)
        return (depth, names.index(name) if name in names else len(names), relative)

    return sorted(paths, key=key)


# ---------------------------------------------------------------- back end and front end


def find_backends(root: str) -> tuple[list[str], list[str]]:
    """Directories with pyproject.toml and uv.lock, and those with pyproject.toml alone."""
    locked: list[str] = []
    unlocked: list[str] = []
    for directory, _dirs, files in _walk(root):
        if "pyproject.toml" in files:
            (locked if "uv.lock" in files else unlocked).append(directory)
    return _ranked(locked, root, BACKEND_NAMES), _ranked(unlocked, root, BACKEND_NAMES)


def _package_json(directory: str) -> dict[str, Any] | None:
    text = _read(os.path.join(directory, "package.json"))
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def find_frontends(root: str) -> list[str]:
    """Directories whose package.json has a build script."""
    found = []
    for directory, _dirs, files in _walk(root):
        if "package.json" in files:
            data = _package_json(directory)
            scripts = data.get("scripts") if data else None
            if isinstance(scripts, dict) and isinstance(scripts.get("build"), str):
                found.append(directory)
    return _ranked(found, root, FRONTEND_NAMES)


def _pick(candidates: list[str], root: str, names: tuple[str, ...]) -> tuple[str | None, bool]:
    """The best of candidates (ranked by _ranked), and whether it is a clear choice: not tied
    with the next one on depth and usual name."""
    if not candidates:
        return None, True

    def rank(path: str) -> tuple[int, int]:
        relative = _relative(path, root)
        name = os.path.basename(path)
        depth = 0 if relative == "." else relative.count("/") + 1
        return (depth, names.index(name) if name in names else len(names))

    clear = len(candidates) == 1 or rank(candidates[0]) < rank(candidates[1])
    return candidates[0], clear


def frontend_build(directory: str) -> dict[str, str]:
    """The build command (from the lockfile) and its output directory (vite's or Vue CLI's
    outDir / outputDir, a --outDir in the build script, react-scripts' build/, else dist/)."""
    data = _package_json(directory) or {}
    script = str((data.get("scripts") or {}).get("build", ""))
    if os.path.exists(os.path.join(directory, "pnpm-lock.yaml")):
        command = "pnpm install --frozen-lockfile && pnpm run build"
    elif os.path.exists(os.path.join(directory, "yarn.lock")):
        command = "yarn install --frozen-lockfile && yarn run build"
    elif os.path.exists(os.path.join(directory, "package-lock.json")):
        command = "npm ci && npm run build"
    else:
        command = "npm install && npm run build"
    out_dir, source = "dist", "the default of vite"
    configs = ("vite.config.js", "vite.config.ts", "vite.config.mjs", "vite.config.mts",
               "vite.config.cjs", "vue.config.js")  # fmt: skip
    cli = CLI_OUT_DIR.search(script)
    for name in configs:
        match = OUT_DIR.search(_read(os.path.join(directory, name)) or "")
        if match:
            out_dir, source = match.group(1), f"{name} ({match.group(0).split(':')[0].strip()})"
            break
    if cli:
        out_dir, source = cli.group(1), "package.json's build script"
    elif "react-scripts build" in script:
        out_dir, source = "build", "react-scripts' default"
    dist = os.path.normpath(os.path.join(directory, out_dir))
    return {"command": command, "script": script, "dist": dist, "dist_source": source}


# ---------------------------------------------------------------- Python code


def python_files(backend: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """The back end's own .py files, outside tests, migrations and the excluded directories
    (a front end inside it)."""
    found = []
    for directory, dirs, files in _walk(backend, max_depth=6):
        dirs[:] = [
            d for d in dirs if d not in NOT_APP_CODE and os.path.join(directory, d) not in exclude
        ]
        found += [os.path.join(directory, f) for f in files if f.endswith(".py")]
    return found


def _parse(path: str) -> ast.Module | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return None


def module_name(path: str, backend: str) -> str | None:
    """The dotted name that imports path with backend as the working directory."""
    relative = os.path.relpath(path, backend)[: -len(".py")]
    parts = relative.split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _constant(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _module_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _makes_asgi_app(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(node, ast.Call) and _call_name(node) in ASGI_CLASSES
        for node in ast.walk(function)
    )


def asgi_apps_in(tree: ast.Module) -> list[tuple[str, str, int]]:
    """Module-level NAME = FastAPI(...) / Starlette(...) / a factory of this module that
    makes one: (name, what makes it, line)."""
    factories = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _makes_asgi_app(node)
    }
    found = []
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        called = _call_name(value) if isinstance(value, ast.Call) else None
        if called in ASGI_CLASSES or called in factories:
            found += [
                (t.id, f"{called}()", node.lineno) for t in targets if isinstance(t, ast.Name)
            ]
    return found


def _module_file(backend: str, dotted: str) -> str | None:
    base = os.path.join(backend, *dotted.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _text_files(root: str) -> list[tuple[int, str]]:
    """The files where a project writes its server command, with a rank: deployment files
    first, then configuration, documentation, code."""
    ranked = []
    for directory, _dirs, files in _walk(root):
        for name in files:
            lower = name.lower()
            if (
                lower.startswith(("procfile", "dockerfile", "docker-compose", "compose"))
                or lower in ("makefile", "justfile", "entrypoint", "start", "run")
                or lower.endswith((".sh", ".service", ".dockerfile"))
            ):
                rank = 0
            elif lower.endswith((".toml", ".cfg", ".ini", ".json", ".yml", ".yaml", ".conf")):
                rank = 1
            elif lower.endswith((".md", ".rst", ".txt")):
                rank = 2
            elif lower.endswith(".py"):
                rank = 3
            else:
                continue
            ranked.append((rank, os.path.join(directory, name)))
    return sorted(ranked, key=lambda item: (item[0], item[1].count("/"), item[1]))


def server_commands(root: str) -> list[dict[str, Any]]:
    """Every `uvicorn X:Y` / `gunicorn X:Y` (also hypercorn, granian) in the project's
    files: the app spec, the file and line, the rank of the file."""
    found = []
    for rank, path in _text_files(root):
        text = _read(path)
        if text is None or not SERVER_COMMAND.search(text):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for command in SERVER_COMMAND.finditer(line):
                rest = command.group(2)
                spec = APP_SPEC.search(rest.replace("`", " ").replace('"', " ").replace("'", " "))
                if spec is None:
                    continue
                factory = bool(spec.group(3)) or "--factory" in rest
                found.append(
                    {
                        "module": spec.group(1),
                        "attribute": spec.group(2),
                        "factory": factory,
                        "server": command.group(1),
                        "file": path,
                        "line": number,
                        "rank": rank,
                    }
                )
    return found


def find_app_module(
    project: str, backend: str, files: list[str]
) -> tuple[str | None, str, list[str]]:
    """The app spec for gunicorn (module:attribute, with () for a factory), where it was
    found, and the other candidates."""
    candidates: list[tuple[str, str]] = []
    for command in server_commands(project):
        path = _module_file(backend, command["module"])
        tree = _parse(path) if path else None
        if tree is None or command["attribute"] not in _module_level_names(tree):
            continue
        spec = f"{command['module']}:{command['attribute']}" + ("()" if command["factory"] else "")
        where = f"{_relative(command['file'], project)}:{command['line']}"
        candidates.append((spec, f"the `{command['server']} {spec}` command in {where}"))
    for path in files:
        tree = _parse(path)
        dotted = module_name(path, backend)
        if tree is None or dotted is None:
            continue
        for name, made_by, line in asgi_apps_in(tree):
            where = f"{_relative(path, project)}:{line}"
            candidates.append((f"{dotted}:{name}", f"`{name} = {made_by}` in {where}"))
    if not candidates:
        return None, "", []
    if len(candidates) > 1 and not any(c[1].startswith("the `") for c in candidates):
        # Only from the code: prefer main / app / asgi modules, then the shallowest.
        preferred = ("main", "app", "asgi", "server", "api", "application")

        def key(candidate: tuple[str, str]) -> tuple[int, int, str]:
            module = candidate[0].split(":")[0]
            last = module.split(".")[-1]
            rank = preferred.index(last) if last in preferred else len(preferred)
            return (module.count("."), rank, module)

        candidates.sort(key=key)
    spec, source = candidates[0]
    others = sorted({c[0] for c in candidates if c[0] != spec})
    return spec, source, others


class _Routes(ast.NodeVisitor):
    """Paths the app serves: route decorators, add_*_route / mount calls, Starlette's Route
    objects, APIRouter prefixes and include_router prefixes (matched by the router's name),
    FastAPI's docs routes."""

    def __init__(self) -> None:
        self.routes: list[dict[str, Any]] = []
        self.router_prefix: dict[str, str] = {}
        self.include_prefix: dict[str, list[str]] = {}
        self.docs: list[dict[str, Any]] = []
        self.where = ""

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call) and _call_name(node.value) == "APIRouter":
            prefix = _constant(_keyword(node.value, "prefix")) or ""
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.router_prefix[target.id] = prefix
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node)
        owner = node.func.value if isinstance(node.func, ast.Attribute) else None
        owner_name = _call_name(owner) if owner is not None else None
        first = _constant(node.args[0]) if node.args else _constant(_keyword(node, "path"))
        if name == "FastAPI":
            for keyword, default in FASTAPI_DOCS.items():
                value = _keyword(node, keyword)
                paths = [default] if value is None else [
                    c for c in (_constant(n) for n in ast.walk(value)) if c and c.startswith("/")
                ]  # fmt: skip
                self.docs += [
                    {
                        "path": p,
                        "prefix": keyword == "docs_url",
                        "where": f"{self.where}:{node.lineno}",
                    }
                    for p in paths
                ]
        elif name == "include_router" and node.args:
            router = _call_name(node.args[0])
            if router:
                prefix = _constant(_keyword(node, "prefix")) or ""
                self.include_prefix.setdefault(router, []).append(prefix)
        elif name in ROUTE_CLASSES and first and first.startswith("/"):
            self._add(first, ROUTE_CLASSES[name], None, name == "Mount", node.lineno)
        elif name in ROUTE_METHODS and owner_name is not None and first and first.startswith("/"):
            self._add(first, name in WEBSOCKET_METHODS, owner_name, name == "mount", node.lineno)
        self.generic_visit(node)

    def _add(self, path: str, websocket: bool, owner: str | None, prefix: bool, line: int) -> None:
        self.routes.append(
            {"path": path, "websocket": websocket, "owner": owner, "prefix": prefix,
             "where": f"{self.where}:{line}"}
        )  # fmt: skip

    def full_routes(self) -> list[dict[str, Any]]:
        result = []
        for route in self.routes:
            owner = route["owner"]
            own_prefix = self.router_prefix.get(owner, "") if owner else ""
            includes = self.include_prefix.get(owner, [""]) if owner in self.router_prefix else [""]
            for include in includes:
                result.append({**route, "path": include + own_prefix + route["path"]})
        return result


def find_routes(
    files: list[str], project: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    visitor = _Routes()
    for path in files:
        tree = _parse(path)
        if tree is not None:
            visitor.where = _relative(path, project)
            visitor.visit(tree)
    return visitor.full_routes(), visitor.docs


def proxy_locations(
    routes: list[dict[str, Any]], api_location: str = "/api"
) -> list[dict[str, Any]]:
    """nginx_gateway_proxy_locations for the routes outside api_location: exact for a
    fixed path, a prefix up to the first {parameter} or for a mount; / is the SPA's."""
    locations: list[dict[str, Any]] = []
    seen: set[str] = set()
    for route in routes:
        path = str(route["path"])
        if path == api_location or path.startswith(api_location.rstrip("/") + "/"):
            continue
        prefix = route.get("prefix") or "{" in path
        location = path.split("{", maxsplit=1)[0].rstrip("/") if prefix else path
        # /, /index.html and /assets/ are the SPA's (refused by nginx_gateway).
        spa = location in ("", "/", "/index.html") or location.startswith("/assets")
        if spa or location in seen:
            continue
        seen.add(location)
        entry: dict[str, Any] = {"path": location}
        if not prefix:
            entry["exact"] = True
        if route.get("websocket"):
            entry["websocket"] = True
        entry["where"] = route.get("where", "")
        locations.append(entry)
    return locations


def health_path(routes: list[dict[str, Any]]) -> tuple[str, str]:
    paths = {str(r["path"]): r for r in routes if not r.get("websocket") and not r.get("prefix")}
    for candidate in HEALTH_PATHS:
        if candidate in paths:
            return candidate, str(paths[candidate].get("where", ""))
    return "", ""


def _is_name(func: ast.expr, owner: str) -> bool:
    """func is OWNER.something."""
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == owner
    )


def _written_path(value: str) -> str:
    """What python_uv_shared_paths lists for a relative path the app writes: its first
    directory (with /), or the file itself."""
    parts = os.path.normpath(value).split(os.sep)
    return parts[0] + "/" if len(parts) > 1 else parts[0]


def written_paths(files: list[str], project: str) -> list[dict[str, str]]:
    """Relative paths the app writes in its working directory: a relative SQLite URL, a
    logging file handler or basicConfig(filename=...), sqlite3.connect("relative"), an
    open(..., "w" or "a")."""
    found: dict[str, dict[str, str]] = {}

    def add(value: str, why: str, path: str, line: int) -> None:
        if not value or value.startswith(("/", "~", ":memory:")) or "{" in value:
            return
        shared = _written_path(value)
        if shared not in (".", "..") and shared not in found:
            where = f"{_relative(path, project)}:{line}"
            found[shared] = {"path": shared, "source": f"{why} in {where}"}

    for path in files:
        tree = _parse(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            text = _constant(node)
            if text is not None:
                match = SQLITE_URL.match(text)
                if match:
                    add(match.group(1), f"the SQLite URL {text}", path, getattr(node, "lineno", 0))
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            first = _constant(node.args[0]) if node.args else None
            if name in FILE_HANDLERS and first:
                add(first, f"logging.{name}({first!r})", path, node.lineno)
            elif name == "basicConfig":
                filename = _constant(_keyword(node, "filename"))
                if filename:
                    add(filename, f"logging.basicConfig(filename={filename!r})", path, node.lineno)
            elif name == "connect" and _is_name(node.func, "sqlite3") and first:
                add(first, f"sqlite3.connect({first!r})", path, node.lineno)
            elif name == "open" and isinstance(node.func, ast.Name) and first:
                mode = _constant(node.args[1]) if len(node.args) > 1 else None
                mode = mode or _constant(_keyword(node, "mode")) or "r"
                if any(flag in mode for flag in "wax+"):
                    add(first, f"open({first!r}, {mode!r})", path, node.lineno)
    return list(found.values())


def _has_main_guard(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            left = node.test.left
            if isinstance(left, ast.Name) and left.id == "__name__":
                return True
    return False


def pre_switch_commands(backend: str, files: list[str], project: str) -> list[dict[str, str]]:
    """alembic upgrade head (alembic.ini in the back end), then `python -m PKG.seed` for a
    seed module with a __main__ guard."""
    commands = []
    if os.path.isfile(os.path.join(backend, "alembic.ini")):
        where = _relative(os.path.join(backend, "alembic.ini"), project)
        commands.append({"command": "alembic upgrade head", "source": f"{where} (Alembic)"})
    for path in files:
        stem = os.path.basename(path)[: -len(".py")]
        if stem not in ("seed", "seeds", "seed_data"):
            continue
        tree = _parse(path)
        dotted = module_name(path, backend)
        if tree is not None and dotted and _has_main_guard(tree):
            where = _relative(path, project)
            commands.append(
                {"command": f"python -m {dotted}", "source": f"{where} (a seed with a __main__)"}
            )
    return commands


# ---------------------------------------------------------------- the lock


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_facts(backend: str) -> dict[str, Any]:
    """Whether uv.lock has gunicorn and uvicorn-worker among what `uv sync --no-dev`
    installs (the project's dependencies, followed through the lock)."""
    text = _read(os.path.join(backend, "uv.lock")) or ""
    packages: list[dict[str, Any]] = []
    if tomllib is not None:
        try:
            packages = list(tomllib.loads(text).get("package") or [])
        except ValueError:
            packages = []
    by_name = {_normalise(str(p.get("name", ""))): p for p in packages}
    roots = [
        p
        for p in packages
        if isinstance(p.get("source"), dict)
        and (p["source"].get("virtual") == "." or p["source"].get("editable") == ".")
    ]
    installed: set[str] = set()
    todo = [_normalise(str(p.get("name", ""))) for p in roots]
    while todo:
        name = todo.pop()
        if name in installed:
            continue
        installed.add(name)
        for dependency in (by_name.get(name) or {}).get("dependencies") or []:
            todo.append(_normalise(str(dependency.get("name", ""))))
    names = set(by_name)
    return {
        "packages": sorted(names),
        "installed": sorted(installed),
        "gunicorn_locked": "gunicorn" in names,
        "gunicorn_installed": {"gunicorn", "uvicorn-worker"} <= installed,
        "alembic": "alembic" in installed,
    }


# ---------------------------------------------------------------- the whole project


def app_name_of(project: str, backend: str) -> tuple[str, str]:
    """A POSIX name for the app: the project directory's name, else the pyproject's."""
    candidates = [(os.path.basename(os.path.normpath(project)), "the project directory's name")]
    if tomllib is not None:
        try:
            data = tomllib.loads(_read(os.path.join(backend, "pyproject.toml")) or "")
            name = str((data.get("project") or {}).get("name") or "")
            if name:
                candidates.append((name, "pyproject.toml's [project] name"))
        except ValueError:
            pass
    for raw, source in candidates:
        name = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-")[:32]
        if re.match(r"^[a-z_][a-z0-9_-]{0,31}$", name):
            return name, source
    return "", ""


def discover(
    project: str, backend: str = "", frontend: str = "", app_module: str = ""
) -> dict[str, Any]:
    """Everything init finds in project; backend, frontend (relative to project or
    absolute) and app_module, when given, are taken as
    they are. problems lists what is missing or ambiguous, naming the variable to set."""
    project = os.path.abspath(project)
    problems: list[str] = []
    notes: list[str] = []
    result: dict[str, Any] = {"project": project, "problems": problems, "notes": notes}

    backend_dir: str | None
    if backend:
        backend_dir = os.path.normpath(os.path.join(project, backend))
        backend_source = "init_backend"
        if not all(
            os.path.isfile(os.path.join(backend_dir, f)) for f in ("pyproject.toml", "uv.lock")
        ):
            problems.append(f"init_backend {backend_dir} has no pyproject.toml and uv.lock")
    else:
        locked, unlocked = find_backends(project)
        backend_dir, clear = _pick(locked, project, BACKEND_NAMES)
        backend_source = "pyproject.toml and uv.lock"
        if backend_dir is None:
            hint = (
                f" ({', '.join(_relative(u, project) for u in unlocked)} has a pyproject.toml "
                "without uv.lock: run `uv lock` there)"
                if unlocked
                else ""
            )
            problems.append(
                "no back end found: no directory of the project has both pyproject.toml and "
                f"uv.lock{hint}; set init_backend"
            )
        elif not clear:
            listed = ", ".join(_relative(c, project) for c in locked)
            problems.append(f"several back ends found ({listed}): set init_backend to one of them")
            backend_dir = None
    result["backend"] = {
        "path": backend_dir or "",
        "relative": _relative(backend_dir, project) if backend_dir else "",
        "source": backend_source,
    }

    frontend_dir: str | None
    if frontend:
        frontend_dir = os.path.normpath(os.path.join(project, frontend))
        frontend_source = "init_frontend"
        if _package_json(frontend_dir) is None:
            problems.append(f"init_frontend {frontend_dir} has no package.json")
    else:
        candidates = find_frontends(project)
        frontend_dir, clear = _pick(candidates, project, FRONTEND_NAMES)
        frontend_source = "package.json with a build script"
        if frontend_dir is None:
            problems.append(
                'no front end found: no package.json with a "build" script in the project; '
                "set init_frontend"
            )
        elif not clear:
            listed = ", ".join(_relative(c, project) for c in candidates)
            problems.append(
                f"several front ends found ({listed}): set init_frontend to one of them"
            )
    build = frontend_build(frontend_dir) if frontend_dir else {}
    result["frontend"] = {
        "path": frontend_dir or "",
        "relative": _relative(frontend_dir, project) if frontend_dir else "",
        "source": frontend_source,
        **build,
    }

    result.update(
        app_module=app_module, app_module_source="init_app_module" if app_module else "",
        app_module_candidates=[], add_gunicorn=False, add_gunicorn_source="",
        routes=[], proxy_locations=[], docs_locations=[], health_path="", health_source="",
        pre_switch_commands=[], shared_paths=[], app_name="", app_name_source="",
    )  # fmt: skip
    if not backend_dir or not os.path.isfile(os.path.join(backend_dir, "uv.lock")):
        return result

    exclude = (frontend_dir,) if frontend_dir else ()
    files = python_files(backend_dir, exclude)
    result["app_name"], result["app_name_source"] = app_name_of(project, backend_dir)
    if not app_module:
        found, source, others = find_app_module(project, backend_dir, files)
        if found is None:
            problems.append(
                "no ASGI app found: no `uvicorn MODULE:APP` or `gunicorn MODULE:APP` command "
                "in the project's files, and no module-level `app = FastAPI(...)` (or Starlette) "
                f"in "
                f"{_relative(backend_dir, project)}; set init_app_module (e.g. app.main:app)"
            )
        else:
            result.update(app_module=found, app_module_source=source, app_module_candidates=others)

    lock = lock_facts(backend_dir)
    if lock["gunicorn_installed"]:
        result["add_gunicorn_source"] = "gunicorn and uvicorn-worker are in uv.lock"
    elif not lock["gunicorn_locked"]:
        result["add_gunicorn"] = True
        result["add_gunicorn_source"] = "uv.lock has no gunicorn: the collection adds it"
    else:
        problems.append(
            "uv.lock has gunicorn, but not gunicorn and uvicorn-worker among the dependencies "
            "`uv sync --no-dev` installs: run `uv add gunicorn uvicorn-worker` in "
            f"{_relative(backend_dir, project)}"
        )

    routes, docs = find_routes(files, project)
    result["routes"] = routes
    result["proxy_locations"] = proxy_locations(routes)
    result["docs_locations"] = proxy_locations(docs)
    result["health_path"], result["health_source"] = health_path(routes)
    commands = pre_switch_commands(backend_dir, files, project)
    if commands and commands[0]["command"].startswith("alembic") and not lock["alembic"]:
        notes.append("alembic.ini found but alembic is not among the locked dependencies")
    result["pre_switch_commands"] = commands
    result["shared_paths"] = written_paths(files, project)
    return result
