"""`make bench` and `make bench-ansible`: measure what site.yml deploys, and site.yml itself.

``python -m tools.bench http`` (make bench), in ONE systemd container
(``fullstack-webapp-bench``) running the example app:

- deploys the collection with site.yml (demo variables, role defaults), then installs,
  side by side on the same host, the seed's recipe: its nginx server block (kept in
  sites-available, enabled only while it is measured) and its
  ``gunicorn -w 4 -k uvicorn.workers.UvicornWorker -b 127.0.0.1:8000`` from the app's
  virtual environment, as a plain systemd service;
- keeps the three setups up side by side and loads them in interleaved rounds, each
  endpoint seed -> collection -> direct back to back, so that a change in the machine's
  load hits all three alike: **seed** (the recipe above, reached with ``Host: localhost``,
  its ``server_name``), **collection** (site.yml's nginx site, the default server, and its
  Gunicorn service) and **direct** (the collection's own Gunicorn service, loaded without
  nginx: a systemd drop-in adds a ``ListenStream=127.0.0.1:8001`` to its socket unit, so
  the very same unit, config file, workers and sandbox answer); a back end not being
  loaded sits idle;
- runs wrk (Debian's package, installed in the container) against 127.0.0.1 inside the
  container with fixed threads, connections and duration, and writes the medians and
  ratios to benchmarks/results/latest.{md,json}.

``python -m tools.bench ansible`` (make bench-ansible) times site.yml itself on fresh
containers ``fullstack-webapp-bench-N``: a fresh converge, a no-change re-run, a
back-end-only and a front-end-only redeploy, then fresh converges of 2 and 4 hosts at
once; results in benchmarks/results/ansible-latest.{md,json}.

Every container this starts is removed at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools import bench_report as report
from tools import hostprep
from tools.checklist import main_script_path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / ".cache" / "bench"
HTTP_CONTAINER = "fullstack-webapp-bench"
ANSIBLE_CONTAINER_PREFIX = "fullstack-webapp-bench-"
IMAGE = os.environ.get("FULLSTACK_BENCH_IMAGE", "fullstack-webapp/debian:12")

APP = "webapp"
WEB_ROOT = "/var/www/webapp/dist"
VENV = f"/opt/{APP}/venv"
COLLECTION_SITE = f"/etc/nginx/sites-enabled/{APP}.conf"
SEED_SITE = "/etc/nginx/sites-available/seed.conf"
SEED_SITE_ENABLED = "/etc/nginx/sites-enabled/seed.conf"
SEED_UNIT = "seed-gunicorn.service"
DIRECT_DROPIN = f"/etc/systemd/system/{APP}.socket.d/bench-direct.conf"
DIRECT_PORT = 8001
LUA_PATH = "/root/bench-summary.lua"

# The seed's nginx server block, word for word but for the dist path.
SEED_NGINX = f"""\
server {{
    listen 80;
    server_name localhost;

    location / {{
        root {WEB_ROOT};
        index index.html;
        try_files $uri $uri/ /index.html;
    }}

    location /api {{
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
    }}
}}
"""

# The seed's back end: its command line from the app's virtual environment, under a plain
# systemd service with Restart=always (its part 4), as the app's user with its settings.
SEED_SERVICE = f"""\
[Unit]
Description=The seed's recipe: gunicorn -w 4 -k uvicorn.workers.UvicornWorker
After=network.target

[Service]
User={APP}
Group={APP}
WorkingDirectory=/opt/{APP}/app
EnvironmentFile=/etc/{APP}/{APP}.env
StateDirectory={APP}-seed
ExecStart={VENV}/bin/gunicorn app.main:app -w 4 -k uvicorn.workers.UvicornWorker \
-b 127.0.0.1:8000
Restart=always
"""

DIRECT_SOCKET = f"[Socket]\nListenStream=127.0.0.1:{DIRECT_PORT}\n"

WRK_LUA = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_SUMMARY {"requests":%d,"bytes":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\\n',
    summary.requests, summary.bytes, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- containers --------------------------------------------------------------------------


def docker_exec(container: str, script: str, *, check: bool = True, stdin: str = "") -> str:
    result = subprocess.run(
        ["docker", "exec", "-i", container, "sh", "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"in {container}: {script}\nexit {result.returncode}\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def write_file(container: str, path: str, content: str) -> None:
    docker_exec(container, f"mkdir -p {shlex.quote(str(Path(path).parent))} && "
                f"cat > {shlex.quote(path)}", stdin=content)  # fmt: skip


def remove_containers(names: Sequence[str]) -> None:
    if names:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)


def container_running(name: str) -> bool:
    result = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "true"


def start_containers(names: Sequence[str]) -> None:
    """Fresh systemd containers (any old one of the same name is removed first)."""
    remove_containers(names)
    for name in names:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--hostname", name,
             *hostprep.SYSTEMD_CONTAINER_ARGS, IMAGE, "/lib/systemd/systemd"],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    for name in names:
        deadline = time.monotonic() + 90
        while True:
            state = docker_exec(name, "systemctl is-system-running --wait 2>&1", check=False)
            if state.strip() in {"running", "degraded"}:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: systemd did not boot ({state.strip()})")
            time.sleep(0.5)


# --- ansible-playbook --------------------------------------------------------------------


def write_inventory(path: Path, hosts: Sequence[str], backend: Path, dist: Path) -> Path:
    """inventories/demo's variables for the given containers (JSON is valid YAML)."""
    inventory = {
        "webapp": {
            "hosts": {host: {"ansible_connection": "community.docker.docker"} for host in hosts},
            "vars": {
                "python_uv_app_name": APP,
                "python_uv_app_src": str(backend),
                "frontend_dist_src": str(dist),
                "frontend_dest": WEB_ROOT,
                "nginx_gateway_server_names": ["localhost"],
                "python_uv_app_environment": {
                    "APP_SECRET_KEY": "bench-only-not-a-secret",
                    "APP_LOG_LEVEL": "INFO",
                },
                "python_uv_extra_ca_bundle": os.environ.get(
                    "FULLSTACK_EXTRA_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"
                ),
            },
        }
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(inventory, indent=2) + "\n")
    return path


def container_cpu_s(name: str) -> float:
    """CPU seconds used so far inside a container (cgroup v1 or v2), 0 when unknown."""
    cid = subprocess.run(
        ["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not cid:
        return 0.0
    v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
    if v1.exists():
        return int(v1.read_text()) / 1e9
    for v2 in (
        Path(f"/sys/fs/cgroup/docker/{cid}/cpu.stat"),
        Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"),
    ):
        if v2.exists():
            for line in v2.read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
    return 0.0


@dataclass(frozen=True)
class SiteRun:
    seconds: float
    output: str
    controller_cpu_s: float
    hosts_cpu_s: float


def run_site(
    inventory: Path,
    hosts: Sequence[str] = (),
    *,
    profile: bool = True,
    extra_vars: Sequence[str] = (),
) -> SiteRun:
    """ansible-playbook site.yml: its wall time, output and the CPU it used."""
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    if profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
        env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "10"
    hosts_before = sum(container_cpu_s(host) for host in hosts)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "site.yml"]
        + [arg for value in extra_vars for arg in ("-e", value)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    hosts_cpu = sum(container_cpu_s(host) for host in hosts) - hosts_before
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"site.yml failed (exit {result.returncode}):\n{output[-6000:]}")
    controller_cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return SiteRun(seconds, output, controller_cpu, hosts_cpu)


# --- context for the reports -------------------------------------------------------------


def machine() -> dict[str, str]:
    memory_kb = 0
    cpu_model = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": str(os.cpu_count() or 0),
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "cpu": cpu_model or platform.machine(),
        "kernel": platform.release(),
    }


def load_snapshot() -> dict[str, object]:
    """How busy the machine is besides us: load average and the other containers."""
    one, five, fifteen = os.getloadavg()
    names = subprocess.run(
        ["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True, check=False
    ).stdout.split()
    others = sorted(n for n in names if not n.startswith(HTTP_CONTAINER))
    return {
        "loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)],
        "other_containers": others,
    }


def describe_load(snapshots: Sequence[dict[str, object]]) -> str:
    loads = [float(s["loadavg"][0]) for s in snapshots]  # type: ignore[index]
    others = sorted({str(n) for s in snapshots for n in s["other_containers"]})  # type: ignore[attr-defined]
    text = f"1-min load average {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} cores"
    if others:
        text += f"; other containers running meanwhile: {', '.join(others)}"
    else:
        text += "; no other container running"
    return text


def write_results(stem: str, markdown: str, data: dict[str, object]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.md").write_text(markdown)
    (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    log(f"wrote {(RESULTS / f'{stem}.md').relative_to(ROOT)} and {stem}.json")


# --- the HTTP benchmark ------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    api: bool
    gzip: bool = False

    @property
    def spec(self) -> report.EndpointSpec:
        return report.EndpointSpec(self.key, self.label, self.api)


def endpoints(asset: str) -> list[Endpoint]:
    return [
        Endpoint("health", "/api/health", "/api/health", api=True),
        Endpoint("items", "/api/items", "/api/items", api=True),
        Endpoint("index", "/", "/", api=False),
        Endpoint("deep_link", "/dashboard", "/dashboard", api=False),
        Endpoint("asset", f"{asset} (identity)", asset, api=False),
        Endpoint("asset_gzip", f"{asset} (gzip)", asset, api=False, gzip=True),
    ]


def wait_http(container: str, url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = docker_exec(
            container, f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 {url}", check=False
        )
        if code.strip() == "200":
            return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s in {container}")


class HttpBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.c = HTTP_CONTAINER

    def sh(self, script: str, *, check: bool = True) -> str:
        return docker_exec(self.c, script, check=check)

    # setups ----------------------------------------------------------------------------

    def prepare(self) -> str:
        if self.args.reuse and container_running(self.c):
            log(f"reusing {self.c}: back to the collection alone, then site.yml")
            self.restore()
        else:
            log(f"starting {self.c} from {IMAGE}")
            start_containers([self.c])
        inventory = write_inventory(
            WORK / "http-inventory.yml",
            [self.c],
            ROOT / "examples/app/backend",
            ROOT / "examples/app/frontend/dist",
        )
        log("deploying the collection with site.yml (role defaults)")
        site = run_site(inventory, profile=False, extra_vars=self.args.extra_vars)
        log(f"site.yml converged in {site.seconds:.0f} s")
        log("installing wrk (Debian) and the seed's recipe beside the collection")
        self.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null")
        write_file(self.c, LUA_PATH, WRK_LUA)
        write_file(self.c, SEED_SITE, SEED_NGINX)
        write_file(self.c, f"/etc/systemd/system/{SEED_UNIT}", SEED_SERVICE)
        write_file(self.c, DIRECT_DROPIN, DIRECT_SOCKET)
        self.sh(f"ln -sfn {SEED_SITE} {SEED_SITE_ENABLED} && nginx -t -q && systemctl reload nginx")
        self.sh("systemctl daemon-reload")
        self.sh(f"systemctl stop {APP}.service {APP}.socket")
        self.sh(f"systemctl start {APP}.socket {APP}.service {SEED_UNIT}")
        wait_http(self.c, "http://127.0.0.1:8000/api/health")
        wait_http(self.c, f"http://127.0.0.1:{DIRECT_PORT}/api/health")
        wait_http(self.c, "http://127.0.0.1/api/health")
        for setup in self.args.setups:
            self.check_setup(setup)
        # Every worker up and warm before anything is measured.
        time.sleep(2)
        for setup in self.args.setups:
            self.wrk(setup, "/api/health", duration_s=2, gzip=False)
        asset = self.sh(
            f"cd {WEB_ROOT} && ls -S assets | grep -v -E '\\.(gz|br)$' | head -n 1"
        ).strip()
        if not asset:
            raise RuntimeError(f"no hashed asset under {WEB_ROOT}/assets")
        return f"/assets/{asset}"

    def check_setup(self, setup: str) -> None:
        """The setup is answered by its own back end: the app's X-Served-By (host/pid) names a
        worker, whose cgroup names its systemd unit."""
        unit = SEED_UNIT if setup == "seed" else f"{APP}.service"
        served_by = self.sh(
            f"curl -s -o /dev/null -D - {self.curl_args(setup)} | "
            "sed -n 's/^[Xx]-[Ss]erved-[Bb]y: *//p' | tr -d '\\r'"
        ).strip()
        pid = served_by.rpartition("/")[2]
        if not pid.isdigit():
            raise RuntimeError(f"{setup}: no worker pid in X-Served-By ({served_by!r})")
        if unit not in self.sh(f"cat /proc/{pid}/cgroup"):
            raise RuntimeError(f"{setup}: /api/health was answered by pid {pid}, not by {unit}")

    def restore(self) -> None:
        """The collection alone, as site.yml left it."""
        self.sh(
            f"systemctl stop {SEED_UNIT} 2>/dev/null; rm -f {SEED_SITE_ENABLED} {DIRECT_DROPIN}; "
            "systemctl daemon-reload; nginx -t -q && systemctl reload nginx; "
            f"systemctl restart {APP}.socket {APP}.service"
        )

    def url(self, setup: str, path: str) -> str:
        # An explicit port: the image has no /etc/services for wrk to resolve "http".
        port = DIRECT_PORT if setup == "direct" else 80
        return f"http://127.0.0.1:{port}{path}"

    def headers(self, setup: str) -> list[str]:
        # The seed's block is chosen by its server_name; the collection's is the default.
        return ["Host: localhost"] if setup == "seed" else []

    def curl_args(self, setup: str) -> str:
        headers = " ".join(f"-H {shlex.quote(h)}" for h in self.headers(setup))
        return f"--max-time 5 {headers} {self.url(setup, '/api/health')}"

    def wrk(self, setup: str, path: str, *, duration_s: int, gzip: bool) -> report.WrkResult:
        argv = ["wrk", f"-t{self.args.threads}", f"-c{self.args.connections}",
                f"-d{duration_s}s", "--latency", "-s", LUA_PATH]  # fmt: skip
        for header in self.headers(setup) + (["Accept-Encoding: gzip"] if gzip else []):
            argv += ["-H", header]
        argv.append(self.url(setup, path))
        return report.parse_wrk(self.sh(shlex.join(argv)))

    def setups_for(self, endpoint: Endpoint) -> list[str]:
        return [s for s in self.args.setups if endpoint.api or s != "direct"]

    # versions --------------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        py = f"{VENV}/bin/python"
        dist_version = (
            f"{py} -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))'"
        )
        return {
            "nginx": self.sh("nginx -v 2>&1").strip().removeprefix("nginx version: "),
            "gunicorn": self.sh(f"{dist_version} gunicorn").strip(),
            "uvicorn": self.sh(f"{dist_version} uvicorn").strip(),
            "uvicorn-worker": self.sh(f"{dist_version} uvicorn-worker").strip(),
            "python (container)": self.sh(
                f"{py} -c 'import platform; print(platform.python_version())'"
            ).strip(),
            "wrk": self.sh("wrk -v 2>&1 | head -n 1").split(" [")[0].strip(),
            "debian": self.sh("cat /etc/debian_version").strip(),
        }

    def workers(self) -> dict[str, int]:
        collection = self.sh(f"grep -E '^workers = ' /etc/{APP}/gunicorn.conf.py").split("=")[1]
        return {"seed": 4, "collection": int(collection), "direct": int(collection)}

    # the run ---------------------------------------------------------------------------

    def run(self) -> int:
        started = dt.datetime.now(dt.UTC)
        loads = [load_snapshot()]
        asset = self.prepare()
        all_endpoints = endpoints(asset)
        gzip_bytes = {
            label: int(
                self.sh(
                    f"curl -s -o /dev/null -w '%{{size_download}}' {header} http://127.0.0.1{asset}"
                )
            )
            for label, header in (("identity", ""), ("gzip", "-H 'Accept-Encoding: gzip'"))
        }
        versions = self.versions()
        samples: list[report.Sample] = []
        for round_no in range(1, self.args.rounds + 1):
            loads.append(load_snapshot())
            log(f"round {round_no}/{self.args.rounds}")
            for endpoint in all_endpoints:
                for setup in self.setups_for(endpoint):
                    result = self.wrk(
                        setup, endpoint.path, duration_s=self.args.duration, gzip=endpoint.gzip
                    )
                    samples.append(report.Sample(round_no, setup, endpoint.key, result))
                    log(
                        f"  {endpoint.label:<40} {setup:<10} {result.requests_per_s:>9,.0f} "
                        f"req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                        f"errors {result.errors}  {result.bytes_per_request:,.0f} B/resp"
                    )
        loads.append(load_snapshot())
        summaries = report.summarize(samples)
        specs = [e.spec for e in all_endpoints]
        targets = report.http_targets(summaries, specs)
        workers = self.workers()
        header = {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": ", ".join(f"{k} {v}" for k, v in machine().items()),
            "load": describe_load(loads),
            "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
            "load generator": (
                f"wrk -t{self.args.threads} -c{self.args.connections} -d{self.args.duration}s "
                f"--latency, inside the container against 127.0.0.1, {self.args.rounds} rounds, "
                f"each endpoint {' -> '.join(self.args.setups)} back to back"
            ),
            "workers": ", ".join(f"{k} {v}" for k, v in workers.items()),
            **(
                {"site.yml extra vars": " ".join(self.args.extra_vars)}
                if self.args.extra_vars
                else {}
            ),
            "asset bytes": (
                f"{asset}: {gzip_bytes['identity']:,} B without compression, "
                f"{gzip_bytes['gzip']:,} B with Accept-Encoding: gzip (collection, body only)"
            ),
        }
        markdown = report.http_markdown(summaries, specs, targets, header)
        data: dict[str, object] = {
            "kind": "http",
            "date": started.isoformat(timespec="seconds"),
            "machine": machine(),
            "load": loads,
            "versions": versions,
            "workers": workers,
            "config": {
                "threads": self.args.threads,
                "connections": self.args.connections,
                "duration_s": self.args.duration,
                "rounds": self.args.rounds,
                "setups": list(self.args.setups),
                "container": self.c,
                "image": IMAGE,
                "site_extra_vars": list(self.args.extra_vars),
            },
            "endpoints": [
                {"key": e.key, "label": e.label, "path": e.path, "api": e.api, "gzip": e.gzip}
                for e in all_endpoints
            ],
            "asset_body_bytes": gzip_bytes,
            "samples": [
                {
                    "round": s.round,
                    "setup": s.setup,
                    "endpoint": s.endpoint,
                    **report.to_jsonable(s.result),  # type: ignore[dict-item]
                    "errors": s.result.errors,
                    "bytes_per_request": round(s.result.bytes_per_request, 1),
                }
                for s in samples
            ],
            "medians": [report.to_jsonable(s) for s in summaries.values()],
            "ratios": [
                {
                    "endpoint": spec.key,
                    "collection_vs_seed": _ratio(summaries, spec.key, "seed"),
                    "collection_vs_direct": _ratio(summaries, spec.key, "direct"),
                }
                for spec in specs
            ],
            "targets": report.to_jsonable(targets),
        }
        write_results(self.args.output, markdown, data)
        print()
        print(markdown)
        return 0


def _ratio(
    summaries: dict[tuple[str, str], report.Summary], endpoint: str, other: str
) -> float | None:
    coll, base = summaries.get(("collection", endpoint)), summaries.get((other, endpoint))
    if coll is None or base is None:
        return None
    value = report.ratio(coll.requests_per_s, base.requests_per_s)
    return None if value is None else round(value, 3)


# --- the Ansible benchmark ---------------------------------------------------------------


def stage_sources() -> tuple[Path, Path]:
    """Copies of the example back end and dist that the redeploy steps may change."""
    staged = WORK / "src"
    shutil.rmtree(staged, ignore_errors=True)
    backend, dist = staged / "backend", staged / "dist"
    shutil.copytree(
        ROOT / "examples/app/backend",
        backend,
        ignore=shutil.ignore_patterns(".venv", "__pycache__", "var", ".pytest_cache"),
    )
    shutil.copytree(ROOT / "examples/app/frontend/dist", dist)
    return backend, dist


def change_backend(backend: Path, build_id: str) -> None:
    """What a CI build does to the back end between two deploys: a new version file."""
    (backend / "app" / "build_info.py").write_text(
        f'"""Generated by the build."""\n\nBUILD_ID = "{build_id}"\n'
    )


def change_frontend(dist: Path, build_id: str) -> str:
    """What `npm run build` does after a front-end change: a new hashed bundle, a new
    index.html pointing at it, and the old bundle gone from dist/."""
    index = dist / "index.html"
    html = index.read_text()
    old = main_script_path(html).lstrip("/")
    new = f"assets/index-{build_id}.js"
    content = (dist / old).read_text() + f"\n// build {build_id}\n"
    (dist / old).unlink()
    (dist / new).write_text(content)
    index.write_text(html.replace(f"/{old}", f"/{new}"))
    return f"/{new}"


def ansible_bench(args: argparse.Namespace) -> int:
    started = dt.datetime.now(dt.UTC)
    loads = [load_snapshot()]
    backend, dist = stage_sources()
    runs: list[report.AnsibleRun] = []
    build = started.strftime("%Y%m%d%H%M%S")

    def timed(name: str, hosts: list[str]) -> report.AnsibleRun:
        inventory = write_inventory(WORK / f"ansible-{len(hosts)}.yml", hosts, backend, dist)
        log(f"{name}: site.yml on {len(hosts)} host(s)")
        loads.append(load_snapshot())
        site = run_site(inventory, hosts)
        run = report.ansible_run(
            name,
            hosts,
            site.seconds,
            site.output,
            controller_cpu_s=round(site.controller_cpu_s, 2),
            hosts_cpu_s=round(site.hosts_cpu_s, 2),
        )
        runs.append(run)
        log(
            f"  {run.seconds:.1f} s (CPU {run.controller_cpu_s:.1f} s controller + "
            f"{run.hosts_cpu_s:.1f} s hosts), ok={run.tasks_ok} changed={run.changed} "
            f"skipped={run.skipped}"
        )
        for task, task_s in run.slowest[:3]:
            log(f"    {task_s:5.1f} s  {task}")
        return run

    one = [f"{ANSIBLE_CONTAINER_PREFIX}1"]
    all_names = [f"{ANSIBLE_CONTAINER_PREFIX}{n}" for n in range(1, max(args.hosts) + 1)]
    try:
        start_containers(one)
        timed("fresh converge, 1 host", one)
        timed("no-change re-run", one)
        change_backend(backend, build)
        before = docker_exec(one[0], f"systemctl show -p MainPID --value {APP}.service").strip()
        timed("back-end-only redeploy", one)
        after = docker_exec(one[0], f"systemctl show -p MainPID --value {APP}.service").strip()
        if before == after:
            raise RuntimeError("the back-end redeploy did not restart Gunicorn")
        wait_http(one[0], "http://127.0.0.1/api/health")
        script = change_frontend(dist, build)
        timed("front-end-only redeploy", one)
        served = docker_exec(one[0], "curl -s http://127.0.0.1/")
        if script not in served:
            raise RuntimeError(f"the front-end redeploy does not serve {script}")
        for count in args.hosts:
            if count == 1:
                continue
            names = all_names[:count]
            remove_containers(all_names)
            start_containers(names)
            timed(f"fresh converge, {count} hosts", names)
            timed(f"no-change re-run, {count} hosts", names)
    finally:
        if not args.keep:
            remove_containers(all_names)
    loads.append(load_snapshot())
    by_name = {run.name: run for run in runs}
    targets = report.ansible_targets(by_name)
    header = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": ", ".join(f"{k} {v}" for k, v in machine().items()),
        "load": describe_load(loads),
        "how": (
            "wall time of `ansible-playbook -i <generated inventory> site.yml` from the "
            "controller (this machine) to fresh systemd containers over "
            "community.docker.docker; the inventory has the demo's variables; "
            "counts from PLAY RECAP"
        ),
        "ansible": _ansible_version(),
    }
    markdown = report.ansible_markdown(runs, targets, header)
    data: dict[str, object] = {
        "kind": "ansible",
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "load": loads,
        "runs": report.to_jsonable(runs),
        "targets": report.to_jsonable(targets),
    }
    write_results(args.output, markdown, data)
    print()
    print(markdown)
    return 0


def _ansible_version() -> str:
    out = subprocess.run(
        ["ansible-playbook", "--version"], capture_output=True, text=True, check=False
    ).stdout
    return out.splitlines()[0] if out else "unknown"


# --- command line ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    http = sub.add_parser("http", help="seed vs collection vs direct under wrk (make bench)")
    http.add_argument("--rounds", type=int, default=3)
    http.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    http.add_argument("--connections", type=int, default=64)
    http.add_argument("--threads", type=int, default=2)
    http.add_argument("--setups", nargs="+", default=list(report.SETUPS),
                      choices=report.SETUPS)  # fmt: skip
    http.add_argument("--output", default="latest", help="file stem under benchmarks/results")
    http.add_argument("--keep", action="store_true", help="leave the container running")
    http.add_argument(
        "--reuse", action="store_true", help="converge a running container instead of a fresh one"
    )
    http.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        help="passed to site.yml for experiments (the collection is then not its defaults)",
    )
    ans = sub.add_parser("ansible", help="site.yml's own run time (make bench-ansible)")
    ans.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4])
    ans.add_argument("--output", default="ansible-latest")
    ans.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args(argv)

    hostprep.main([])
    if args.command == "http":
        bench = HttpBench(args)
        try:
            return bench.run()
        finally:
            if not args.keep:
                remove_containers([HTTP_CONTAINER])
    return ansible_bench(args)


if __name__ == "__main__":
    sys.exit(main())
