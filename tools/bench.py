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
- adds **HTTPS**: the nginx_gateway role run alone as a second site (``webapp-tls``) with
  ``nginx_gateway_tls_mode: selfsigned`` on port 443, role defaults otherwise (TLS 1.2/1.3,
  HTTP/2, shared session cache, HSTS), the same Gunicorn socket and web root; its
  collection figures are **https_h1** (wrk, HTTP/1.1 over TLS) and **https_h2** (h2load from
  Debian's nghttp2-client, HTTP/2, one stream per connection at a time), loaded in the same
  rounds right after the plain setups;
- runs wrk (Debian's package, installed in the container) against 127.0.0.1 inside the
  container with fixed threads, connections and duration, and writes the medians and
  ratios to benchmarks/results/latest.{md,json};
- measures the **CPU per request**: nginx.service's and the answering Gunicorn unit's CPU
  time, read from their cgroups before and after each load (systemd's CPUUsageNSec, else
  the unit's cgroup v2 cpu.stat: under this host's hybrid cgroup v1 layout systemd has no
  cpuacct of its own), and the load generator's from the shell that waited for it (bash's
  ``times``), each divided by the requests completed: CPU-µs per request for the gateway,
  the app, the load generator and their total, beside requests/s: CPU time, not wall
  time, so a load generator sharing the cores does not enter it (contention still moves
  it somewhat, through caches and batching);
- loads the largest hashed asset three ways, one after the other in every round: without
  Accept-Encoding, with ``gzip`` (the role's NAME.gz, gzip_static) and with ``br`` (its
  NAME.br, brotli_static), and reports for the collection each one's Content-Encoding, body
  and wire bytes, requests/s and p99 side by side, and br / gzip.

``python -m tools.bench ansible`` (make bench-ansible) times site.yml itself on fresh
containers ``fullstack-webapp-bench-N``: for each host count (``--hosts``, 1 4 8), a fresh
converge, then for each transport (Docker's exec, SSH) and strategy (Ansible's linear,
Mitogen's), see tools/bench_hosts.py, a no-change re-run (``--rounds`` of them, the median
reported), a back-end-only and a front-end-only redeploy; on one host, what one task of
each kind costs (tools/bench_hosts.FLOOR_TASKS); results in
benchmarks/results/ansible-latest.{md,json}. With ``--baseline REF`` the same steps also
run site.yml of another revision (the first transport and strategy only): a detached git
worktree of REF under .cache/bench/baseline-<sha>/ with its own collection link, on
containers of its own (``fullstack-webapp-bench-N-base``), each step on both trees back to
back, so that the ratios current / baseline are measured under the same load; the worktree
is removed at the end.

Every container this starts is removed at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools import bench_hosts, hostprep
from tools import bench_report as report
from tools.checklist import main_script_path, serving_unit_command

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / ".cache" / "bench"
HTTP_CONTAINER = "fullstack-webapp-bench"
ANSIBLE_CONTAINER_PREFIX = "fullstack-webapp-bench-"
FLOOR_TASK_COUNT = 50
BASELINE_SUFFIX = "-base"
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
# The collection over HTTPS: a second site of the nginx_gateway role, TLS on (self-signed),
# beside the plain one; the same upstream (the collection's Gunicorn socket) and web root.
TLS_SITE = f"{APP}-tls"
TLS_PORT = 443
TLS_REDIRECT_PORT = 8080
NGINX_UNIT = "nginx.service"
H2LOAD_LOG = "/root/h2load.log"

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


def unit_cpu_script(units: Sequence[str]) -> str:
    """A shell script printing each unit's CPU use so far (report.parse_unit_cpu_s):
    systemd's CPUUsageNSec where it has one (cgroup v2; v1 with cpu,cpuacct mounted
    together), else usage_usec from the unit's cgroup v2 cpu.stat (the unified hierarchy of
    a hybrid layout, where systemd has no cpuacct controller of its own)."""
    lines = []
    for unit in units:
        u = shlex.quote(unit)
        lines.append(
            f"ns=$(systemctl show -p CPUUsageNSec --value {u}); "
            f'case "$ns" in ""|*[!0-9]*) '
            f"cg=$(systemctl show -p ControlGroup --value {u}); "
            'us=$(cat "/sys/fs/cgroup/unified$cg/cpu.stat" "/sys/fs/cgroup$cg/cpu.stat" '
            "2>/dev/null | sed -n 's/^usage_usec //p' | head -n 1); "
            f'echo "{unit} usage_usec ${{us:-none}}";; '
            f'*) echo "{unit} CPUUsageNSec $ns";; esac'
        )
    return "\n".join(lines)


def tls_site_playbook() -> list[dict[str, object]]:
    """The nginx_gateway role alone, as a second site with TLS on: HTTPS on 443 (HTTP/2 on,
    the role's session cache), its HTTP port (8080) redirecting; everything else the role's
    defaults, as the collection's plain site has them."""
    return [
        {
            "name": "The collection's gateway over HTTPS, beside its plain HTTP site",
            "hosts": "webapp",
            "gather_facts": True,
            "vars": {
                "nginx_gateway_site_name": TLS_SITE,
                "nginx_gateway_server_names": ["_"],
                "nginx_gateway_listen_port": TLS_REDIRECT_PORT,
                "nginx_gateway_tls_mode": "selfsigned",
                "nginx_gateway_tls_listen_port": TLS_PORT,
                "nginx_gateway_tls_selfsigned_names": ["localhost"],
                "nginx_gateway_web_root": WEB_ROOT,
                "nginx_gateway_upstream_servers": [f"unix:/run/{APP}/gunicorn.sock"],
            },
            "roles": ["fullstack.webapp.nginx_gateway"],
        }
    ]


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


def start_containers(names: Sequence[str], *, ssh: bool = False) -> None:
    """Fresh systemd containers (any old one of the same name is removed first); with ssh,
    from the image with Debian's OpenSSH server, root's key authorized (tools/bench_hosts)."""
    remove_containers(names)
    image = bench_hosts.build_ssh_image(IMAGE, hostprep.SYSTEMD_CONTAINER_ARGS) if ssh else IMAGE
    for name in names:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--hostname", name,
             *hostprep.SYSTEMD_CONTAINER_ARGS, image, "/lib/systemd/systemd"],
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
        if ssh:
            bench_hosts.authorize_key(name)


# --- ansible-playbook --------------------------------------------------------------------


def write_inventory(
    path: Path,
    hosts: Sequence[str],
    backend: Path,
    dist: Path,
    extra: Mapping[str, object] | None = None,
    *,
    transport: str = "docker",
) -> Path:
    """inventories/demo's variables for the given containers (JSON is valid YAML).

    Only the four roles' own variables (python_uv_*, frontend_*, nginx_gateway_*,
    gunicorn_*): --baseline runs this inventory with the site.yml of other revisions too,
    whose playbooks may name everything else differently (and the deploy role refuses the
    fullstack_webapp_* names of the earlier site.yml)."""
    inventory = {
        "webapp": {
            "hosts": {host: bench_hosts.host_vars(host, transport) for host in hosts},
            "vars": {
                "python_uv_app_name": APP,
                "python_uv_app_src": str(backend),
                "frontend_dist_src": str(dist),
                "frontend_dest": WEB_ROOT,
                # "_": the collection's site is the default server, which answers 127.0.0.1
                # (the seed's block answers "Host: localhost", the name it was loaded first with).
                "nginx_gateway_server_names": ["localhost", "_"],
                "python_uv_app_environment": {
                    "APP_SECRET_KEY": "bench-only-not-a-secret",
                    "APP_LOG_LEVEL": "INFO",
                },
                "python_uv_extra_ca_bundle": os.environ.get(
                    "FULLSTACK_EXTRA_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"
                ),
                **(extra or {}),
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


class SiteFailed(RuntimeError):
    """ansible-playbook site.yml exited non-zero; `output` is all it printed."""

    def __init__(self, returncode: int, output: str) -> None:
        super().__init__(f"site.yml failed (exit {returncode}):\n{output[-6000:]}")
        self.output = output


def collections_path(tree: Path) -> str:
    """ANSIBLE_COLLECTIONS_PATH for running the tree's site.yml: the tree's own
    .cache/collections (where fullstack.webapp links to the tree) first, then the rest of
    the inherited environment's path (the tool venv's site-packages: ansible.posix,
    community.docker...) without the checkout's link, so fullstack.webapp is the tree's."""
    own = {(ROOT / ".cache" / "collections").resolve(), (tree / ".cache" / "collections").resolve()}
    rest = [
        entry
        for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)
        if entry and Path(entry).resolve() not in own
    ]
    return os.pathsep.join([str(tree / ".cache" / "collections"), *rest])


def site_env(tree: Path) -> dict[str, str]:
    """The environment of ansible-playbook for the tree: its collection, its ansible.cfg
    (whose collections_path, ./.cache/collections, is the tree's when the environment sets
    none)."""
    env = dict(os.environ)
    if "ANSIBLE_COLLECTIONS_PATH" in env:
        env["ANSIBLE_COLLECTIONS_PATH"] = collections_path(tree)
    if (tree / "ansible.cfg").exists():
        env["ANSIBLE_CONFIG"] = str(tree / "ansible.cfg")
    return env


def run_site(
    inventory: Path,
    hosts: Sequence[str] = (),
    *,
    profile: bool = True,
    extra_vars: Sequence[str] = (),
    tree: Path = ROOT,
    playbook: Path | None = None,
    strategy: str = "linear",
) -> SiteRun:
    """ansible-playbook site.yml of `tree` (the checkout, or a baseline's worktree), from
    that tree with its collection: its wall time, output and the CPU it used. `playbook`
    runs another playbook the same way; `strategy` is Ansible's or Mitogen's
    (tools/bench_hosts). The run starts without SSH control masters, and the CPU of those it
    started counts as the controller's."""
    env = {
        **site_env(tree),
        **bench_hosts.strategy_env(strategy),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    bench_hosts.stop_control_masters()
    if profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
        env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "10"
    hosts_before = sum(container_cpu_s(host) for host in hosts)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook or tree / "site.yml")]
        + [arg for value in extra_vars for arg in ("-e", value)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    masters_cpu = bench_hosts.stop_control_masters()
    hosts_cpu = sum(container_cpu_s(host) for host in hosts) - hosts_before
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SiteFailed(result.returncode, output)
    controller_cpu = (
        masters_cpu
        + (children.ru_utime + children.ru_stime)
        - (children_before.ru_utime + children_before.ru_stime)
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


def result_stem(value: str) -> str:
    """--output: a name for the files in benchmarks/results, checked before anything runs."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a file stem: give a name such as 'ansible-latest', without a "
            "directory or an extension (the files go to benchmarks/results/NAME.md and .json)"
        )
    return value


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
    brotli: bool = False

    @property
    def spec(self) -> report.EndpointSpec:
        return report.EndpointSpec(self.key, self.label, self.api)

    @property
    def accept_encoding(self) -> str:
        """The Accept-Encoding wrk sends ("" sends none)."""
        return "br" if self.brotli else "gzip" if self.gzip else ""


def endpoints(asset: str) -> list[Endpoint]:
    return [
        Endpoint("health", "/api/health", "/api/health", api=True),
        Endpoint("items", "/api/items", "/api/items", api=True),
        Endpoint("index", "/", "/", api=False),
        Endpoint("deep_link", "/dashboard", "/dashboard", api=False),
        Endpoint("asset", f"{asset} (identity)", asset, api=False),
        Endpoint("asset_gzip", f"{asset} (gzip)", asset, api=False, gzip=True),
        Endpoint("asset_br", f"{asset} (br)", asset, api=False, brotli=True),
    ]


# The largest hashed asset asked for with each Accept-Encoding: endpoint keys above.
ASSET_ENCODINGS = (("", "asset"), ("gzip", "asset_gzip"), ("br", "asset_br"))


def wait_http(container: str, url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = docker_exec(
            container, f"curl -sk -o /dev/null -w '%{{http_code}}' --max-time 2 {url}", check=False
        )
        if code.strip() == "200":
            return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s in {container}")


class HttpBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.c = HTTP_CONTAINER
        self.app_units: dict[str, str] = {}

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
            # A request takes the same path with either switch (nginx, the unix socket,
            # Gunicorn); one service, NAME.service, is what the setups below measure.
            {"deploy_switch": "restart"},
        )
        log("deploying the collection with site.yml (role defaults, deploy_switch restart)")
        site = run_site(inventory, profile=False, extra_vars=self.args.extra_vars)
        log(f"site.yml converged in {site.seconds:.0f} s")
        if self.tls:
            playbook = WORK / "tls-site.yml"
            playbook.write_text(json.dumps(tls_site_playbook(), indent=2) + "\n")
            log(f"adding the gateway's HTTPS site {TLS_SITE} (nginx_gateway, tls_mode selfsigned)")
            tls_site = run_site(
                inventory, profile=False, playbook=playbook, extra_vars=self.args.extra_vars
            )
            log(f"{TLS_SITE} converged in {tls_site.seconds:.0f} s")
        log("installing wrk, h2load (Debian) and the seed's recipe beside the collection")
        packages = "wrk nghttp2-client" if "https_h2" in self.args.setups else "wrk"
        self.sh(f"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {packages} >/dev/null")
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
        if self.tls:
            wait_http(self.c, f"https://127.0.0.1:{TLS_PORT}/api/health")
        # CPU accounting (off by default under cgroup v1) for the units whose CPU is read;
        # --runtime: undone by the container's end, nothing written under /etc.
        self.app_units = {
            "seed": SEED_UNIT,
            "collection": self.sh(serving_unit_command(APP)).strip() or f"{APP}.service",
        }
        for unit in {NGINX_UNIT, *self.app_units.values()}:
            self.sh(f"systemctl set-property --runtime {unit} CPUAccounting=yes")
        for setup in self.args.setups:
            self.check_setup(setup)
        # Every worker up and warm before anything is measured.
        time.sleep(2)
        for setup in self.args.setups:
            self.load(setup, "/api/health", duration_s=2)
        asset = self.sh(
            f"cd {WEB_ROOT} && ls -S assets | grep -v -E '\\.(gz|br)$' | head -n 1"
        ).strip()
        if not asset:
            raise RuntimeError(f"no hashed asset under {WEB_ROOT}/assets")
        return f"/assets/{asset}"

    def check_setup(self, setup: str) -> None:
        """The setup is answered by its own back end: the app's X-Served-By (host/pid) names a
        worker, whose cgroup names its systemd unit."""
        unit = self.app_unit(setup)
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
            f"systemctl stop {SEED_UNIT} 2>/dev/null; rm -f {SEED_SITE_ENABLED} {DIRECT_DROPIN} "
            f"/etc/nginx/sites-enabled/{TLS_SITE}.conf; "
            "systemctl daemon-reload; nginx -t -q && systemctl reload nginx; "
            f"systemctl restart {APP}.socket {APP}.service"
        )

    @property
    def tls(self) -> bool:
        return any(setup in report.TLS_SETUPS for setup in self.args.setups)

    def app_unit(self, setup: str) -> str:
        """The Gunicorn unit that answers the setup (the seed's, else the collection's)."""
        return self.app_units["seed" if setup == "seed" else "collection"]

    def url(self, setup: str, path: str) -> str:
        # An explicit port: the image has no /etc/services for wrk to resolve "http".
        if setup in report.TLS_SETUPS:
            return f"https://127.0.0.1:{TLS_PORT}{path}"
        port = DIRECT_PORT if setup == "direct" else 80
        return f"http://127.0.0.1:{port}{path}"

    def headers(self, setup: str) -> list[str]:
        # The seed's block is chosen by its server_name; the collection's is the default.
        return ["Host: localhost"] if setup == "seed" else []

    def curl_args(self, setup: str) -> str:
        headers = " ".join(f"-H {shlex.quote(h)}" for h in self.headers(setup))
        version = "--http2" if setup == "https_h2" else "--http1.1"
        return f"--max-time 5 -k {version} {headers} {self.url(setup, '/api/health')}"

    def cpu_s(self, setup: str) -> tuple[float, float]:
        """CPU seconds used so far by nginx and by the setup's Gunicorn unit."""
        units = (NGINX_UNIT, self.app_unit(setup))
        cpu = report.parse_unit_cpu_s(self.sh(unit_cpu_script(units)))
        return cpu[units[0]], cpu[units[1]]

    def load(
        self, setup: str, path: str, *, duration_s: int, accept_encoding: str = ""
    ) -> tuple[report.WrkResult, report.CpuUsage]:
        """One load: wrk (h2load for HTTP/2), with nginx's and Gunicorn's CPU read from their
        units before and after it and the load generator's from the shell that waited for it
        (bash's `times`: every thread of it, to the millisecond)."""
        encoding = [f"Accept-Encoding: {accept_encoding}"] if accept_encoding else []
        headers = [arg for h in self.headers(setup) + encoding for arg in ("-H", h)]
        url = self.url(setup, path)
        if setup == "https_h2":
            argv = ["h2load", f"-t{self.args.threads}", f"-c{self.args.connections}",
                    f"-D{duration_s}", f"--log-file={H2LOAD_LOG}", *headers, url]  # fmt: skip
        else:
            argv = ["wrk", f"-t{self.args.threads}", f"-c{self.args.connections}",
                    f"-d{duration_s}s", "--latency", "-s", LUA_PATH, *headers, url]  # fmt: skip
        script = f"{shlex.join(argv)}; rc=$?; echo {report.TIMES_MARKER}; times; exit $rc"
        gateway_before, app_before = self.cpu_s(setup)
        output = self.sh(f"bash -c {shlex.quote(script)}")
        gateway_after, app_after = self.cpu_s(setup)
        if setup == "https_h2":
            if not re.search(r"^Application protocol: h2$", output, re.M):
                raise RuntimeError(f"h2load did not speak HTTP/2:\n{output[-1500:]}")
            result = report.parse_h2load(output, self.sh(f"cat {H2LOAD_LOG}"))
        else:
            result = report.parse_wrk(output)
        cpu = report.CpuUsage(
            gateway_s=gateway_after - gateway_before,
            app_s=app_after - app_before,
            loadgen_s=report.parse_times_children_s(output),
        )
        return result, cpu

    def asset_encodings(self, asset: str) -> list[report.EncodingRow]:
        """What the collection sends for the asset with each Accept-Encoding: the body's
        bytes and its Content-Encoding (curl, once, before the load)."""
        rows = []
        for accept, key in ASSET_ENCODINGS:
            header = f"-H {shlex.quote('Accept-Encoding: ' + accept)}" if accept else ""
            size, _, sent = self.sh(
                "curl -s -o /dev/null -w '%{size_download} %header{content-encoding}' "
                f"{header} {self.url('collection', asset)}"
            ).strip().partition(" ")  # fmt: skip
            rows.append(report.EncodingRow(accept, key, sent.strip(), int(size)))
        return rows

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
            **(
                {"h2load": self.sh("h2load --version").strip().removeprefix("h2load ")}
                if "https_h2" in self.args.setups
                else {}
            ),
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
        encodings = self.asset_encodings(asset)
        gzip_bytes = {row.accept_encoding or "identity": row.body_bytes for row in encodings}
        versions = self.versions()
        samples: list[report.Sample] = []
        for round_no in range(1, self.args.rounds + 1):
            loads.append(load_snapshot())
            log(f"round {round_no}/{self.args.rounds}")
            for endpoint in all_endpoints:
                for setup in self.setups_for(endpoint):
                    result, cpu = self.load(
                        setup,
                        endpoint.path,
                        duration_s=self.args.duration,
                        accept_encoding=endpoint.accept_encoding,
                    )
                    samples.append(report.Sample(round_no, setup, endpoint.key, result, cpu))
                    us = cpu.per_request_us(result.requests) if result.requests else {}
                    log(
                        f"  {endpoint.label:<40} {setup:<10} {result.requests_per_s:>9,.0f} "
                        f"req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                        f"errors {result.errors}  {result.bytes_per_request:,.0f} B/resp  "
                        "CPU-µs/req "
                        + " ".join(
                            f"{part} {us.get(part, 0):.1f}" for part in (*report.CPU_PARTS, "total")
                        )
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
                f"--latency (HTTP/1.1, also over TLS)"
                + (
                    f", h2load -t{self.args.threads} -c{self.args.connections} "
                    f"-D{self.args.duration} (HTTP/2 over TLS, one stream per connection at a "
                    "time)"
                    if "https_h2" in self.args.setups
                    else ""
                )
                + f", run by bash inside the container against 127.0.0.1, "
                f"{self.args.rounds} rounds, each endpoint {' -> '.join(self.args.setups)} "
                "back to back"
            ),
            **(
                {
                    "https": (
                        f"the nginx_gateway role's second site {TLS_SITE} on port {TLS_PORT}: "
                        "tls_mode selfsigned (RSA 2048 as the role makes it), role defaults "
                        "(TLS 1.2/1.3, HTTP/2, shared session cache, HSTS), same upstream and "
                        "web root; each connection does one full handshake, then keep-alive"
                    )
                }
                if self.tls
                else {}
            ),
            "workers": ", ".join(f"{k} {v}" for k, v in workers.items()),
            **(
                {"site.yml extra vars": " ".join(self.args.extra_vars)}
                if self.args.extra_vars
                else {}
            ),
            "asset bytes": (
                f"{asset}: {gzip_bytes['identity']:,} B without compression, "
                f"{gzip_bytes['gzip']:,} B with Accept-Encoding: gzip, "
                f"{gzip_bytes['br']:,} B with Accept-Encoding: br (collection, body only)"
            ),
        }
        sections: list[str] = []
        for section in (
            report.cpu_markdown(summaries, specs),
            report.tls_markdown(summaries, specs),
            report.encoding_markdown(summaries, asset, encodings),
        ):
            if section:
                sections += [*([""] if sections else []), *section]
        markdown = report.http_markdown(summaries, specs, targets, header, sections)
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
                {
                    "key": e.key,
                    "label": e.label,
                    "path": e.path,
                    "api": e.api,
                    "gzip": e.gzip,
                    "accept_encoding": e.accept_encoding,
                }
                for e in all_endpoints
            ],
            "asset_body_bytes": gzip_bytes,
            "asset_encodings": [report.to_jsonable(row) for row in encodings],
            "brotli_vs_gzip": report.encoding_comparison(summaries, encodings),
            "samples": [
                {
                    "round": s.round,
                    "setup": s.setup,
                    "endpoint": s.endpoint,
                    **report.to_jsonable(s.result),  # type: ignore[dict-item]
                    "errors": s.result.errors,
                    "bytes_per_request": round(s.result.bytes_per_request, 1),
                    "cpu_s": report.to_jsonable(s.cpu),
                    "cpu_us_per_request": (
                        {k: round(v, 2) for k, v in s.cpu.per_request_us(s.result.requests).items()}
                        if s.cpu is not None and s.result.requests
                        else None
                    ),
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


# --- the trees measured: the checkout and, with --baseline, another revision -------------


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


@dataclass(frozen=True)
class Revision:
    ref: str
    sha: str
    short: str
    subject: str


def resolve_revision(ref: str) -> Revision:
    try:
        sha = git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"--baseline {ref}: not a commit of this repository") from None
    return Revision(
        ref, sha, git("rev-parse", "--short", sha), git("log", "-1", "--format=%s", sha)
    )


def add_baseline_worktree(revision: Revision) -> Path:
    """A detached worktree of the revision under .cache/bench/ (inside the checkout), with
    its own .cache/collections/ansible_collections/fullstack/webapp link to itself, as
    `make tools` links the checkout."""
    path = WORK / f"baseline-{revision.short}"
    remove_baseline_worktree(path)  # left over by an interrupted run
    path.parent.mkdir(parents=True, exist_ok=True)
    git("worktree", "add", "--detach", "--quiet", str(path), revision.sha)
    link = path / ".cache" / "collections" / "ansible_collections" / "fullstack" / "webapp"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("../../../.."))
    return path


def remove_baseline_worktree(path: Path) -> None:
    """git worktree remove (also when its directory is gone), then whatever is left."""
    subprocess.run(
        ["git", "worktree", "remove", "--force", str(path)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    shutil.rmtree(path, ignore_errors=True)


# What ansible-playbook does before it loads a play: init_plugin_loader() installs the
# collection finder over the configured COLLECTIONS_PATHS, in their order.
_FIND_COLLECTION = """\
import importlib
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
print(list(importlib.import_module("ansible_collections.fullstack.webapp").__path__)[0])
"""


def collection_dir(tree: Path) -> Path:
    """Where Ansible's collection loader, configured as run_site configures it for the
    tree, finds fullstack.webapp; it must be a link to the tree itself."""
    result = subprocess.run(
        [sys.executable, "-c", _FIND_COLLECTION],
        cwd=tree,
        env=site_env(tree),
        capture_output=True,
        text=True,
        check=False,
    )
    found = Path(result.stdout.strip())
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"fullstack.webapp not found for {tree}:\n{result.stderr[-2000:]}")
    if found.resolve() != tree.resolve():
        raise RuntimeError(f"fullstack.webapp for {tree} is {found} -> {found.resolve()}")
    return found


def syntax_check(tree: Path, inventory: Path) -> None:
    """ansible-playbook --syntax-check of the tree's site.yml (no host is contacted)."""
    result = subprocess.run(
        ["ansible-playbook", "--syntax-check", "-i", str(inventory), str(tree / "site.yml")],
        cwd=tree,
        env=site_env(tree),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SiteFailed(result.returncode, result.stdout + result.stderr)


@dataclass(frozen=True)
class Tree:
    """A tree whose site.yml is measured, on containers of its own."""

    label: str
    root: Path
    suffix: str = ""

    def names(self, count: int) -> list[str]:
        return [f"{ANSIBLE_CONTAINER_PREFIX}{n}{self.suffix}" for n in range(1, count + 1)]


# A check around one run of a step, for one container: called before the run, it returns
# what to call after it (which raises when the step did not do what it should).
Check = Callable[[str], Callable[[], None]]


def gunicorn_restarted(container: str) -> Callable[[], None]:
    def main_pid() -> str:
        # The serving instance's master: NAME.service, or NAME@blue/green (deploy_switch).
        return docker_exec(
            container, f"systemctl show -p MainPID --value $({serving_unit_command(APP)})"
        ).strip()

    before = main_pid()

    def after() -> None:
        if main_pid() == before:
            raise RuntimeError(f"{container}: the back-end redeploy did not start a new Gunicorn")
        wait_http(container, "http://127.0.0.1/api/health")

    return after


def serves(script: str) -> Check:
    def check(container: str) -> Callable[[], None]:
        def after() -> None:
            if script not in docker_exec(container, "curl -s http://127.0.0.1/"):
                raise RuntimeError(f"{container}: the front-end redeploy does not serve {script}")

        return after

    return check


class AnsibleBench:
    """The steps of make bench-ansible, each on the checkout and (--baseline) on the
    baseline's worktree back to back; a failure of the baseline ends its part only."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = dt.datetime.now(dt.UTC)
        self.loads = [load_snapshot()]
        self.current = Tree("current", ROOT)
        self.baseline: Tree | None = None
        self.revision: Revision | None = None
        self.baseline_collection: Path | None = None
        self.failure: report.BaselineFailure | None = None
        self.runs: dict[str, list[report.AnsibleRun]] = {"current": [], "baseline": []}
        self.floors: list[report.TaskFloor] = []
        self.backend, self.dist = stage_sources()

    def trees(self) -> list[Tree]:
        """The trees still measured: the current one, and the baseline until it fails."""
        if self.baseline is None or self.failure is not None:
            return [self.current]
        return [self.current, self.baseline]

    def inventory(
        self, tree: Tree, hosts: Sequence[str], combo: bench_hosts.Combo = bench_hosts.DEFAULT_COMBO
    ) -> Path:
        fast = "-fast" if combo.fast_path else ""
        path = WORK / f"ansible-{tree.label}-{len(hosts)}-{combo.transport}{fast}.yml"
        extra = {"deploy_fast_path": True} if combo.fast_path else None
        return write_inventory(
            path, hosts, self.backend, self.dist, extra, transport=combo.transport
        )

    def fail(self, step: str, error: Exception) -> None:
        output = error.output if isinstance(error, SiteFailed) else str(error)
        self.failure = report.BaselineFailure(step, report.failure_summary(output))
        saved = WORK / "baseline-failure.log"
        saved.write_text(output)
        log(f"THE BASELINE FAILED at {step!r} (all of its output: {saved}); "
            f"the current tree goes on alone:\n{self.failure.message}")  # fmt: skip

    def timed(
        self, tree: Tree, name: str, hosts: list[str], note: str, combo: bench_hosts.Combo
    ) -> report.AnsibleRun:
        inventory = self.inventory(tree, hosts, combo)
        log(f"{name} [{tree.label}, {combo.label}{note}]: site.yml on {len(hosts)} host(s)")
        self.loads.append(load_snapshot())
        site = run_site(inventory, hosts, tree=tree.root, strategy=combo.strategy)
        run = report.ansible_run(
            name,
            hosts,
            site.seconds,
            site.output,
            controller_cpu_s=round(site.controller_cpu_s, 2),
            hosts_cpu_s=round(site.hosts_cpu_s, 2),
            transport=combo.transport,
            strategy=combo.way,
        )
        log(
            f"  {run.seconds:.1f} s (CPU {run.controller_cpu_s:.1f} s controller + "
            f"{run.hosts_cpu_s:.1f} s hosts), ok={run.tasks_ok} changed={run.changed} "
            f"skipped={run.skipped}"
        )
        for task, task_s in run.slowest[:3]:
            log(f"    {task_s:5.1f} s  {task}")
        return run

    def step(
        self,
        name: str,
        count: int,
        *,
        rounds: int = 1,
        check: Check | None = None,
        combo: bench_hosts.Combo = bench_hosts.DEFAULT_COMBO,
    ) -> None:
        """One step on every tree, back to back (rounds alternate the trees); the median of
        the rounds is kept. A failure of the current tree ends the benchmark. The baseline
        runs the first transport and strategy only."""
        measured: dict[str, list[report.AnsibleRun]] = {}
        first = self.combos()[0]
        for round_no in range(1, rounds + 1):
            note = f", round {round_no}/{rounds}" if rounds > 1 else ""
            for tree in self.trees() if combo == first else [self.current]:
                hosts = tree.names(count)
                try:
                    afters = [check(host) for host in hosts] if check else []
                    run = self.timed(tree, name, hosts, note, combo)
                    for after in afters:
                        after()
                except (RuntimeError, ValueError) as error:
                    if tree is self.current:
                        raise
                    self.fail(name, error)
                    measured.pop(tree.label, None)
                    continue
                measured.setdefault(tree.label, []).append(run)
        for label, runs in measured.items():
            self.runs[label].append(report.combine_rounds(runs))

    def prepare_baseline(self, ref: str) -> None:
        self.revision = resolve_revision(ref)
        path = add_baseline_worktree(self.revision)
        if self.args.baseline_edit:
            # A variant of the revision: the script edits the worktree (e.g. the roles
            # without their skip layer, benchmarks/variants/unguard.py).
            edit = [sys.executable, str(ROOT / self.args.baseline_edit), str(path)]
            subprocess.run(edit, check=True)
        self.baseline = Tree("baseline", path, BASELINE_SUFFIX)
        log(f"baseline: {ref} = {self.revision.short} {self.revision.subject!r}, "
            f"worktree {path.relative_to(ROOT)}")  # fmt: skip
        try:
            self.baseline_collection = collection_dir(path)
            syntax_check(path, self.inventory(self.baseline, self.baseline.names(1)))
        except RuntimeError as error:
            self.fail("setup", error)

    def all_names(self) -> list[str]:
        """Every container name a run with these --hosts may use, for either tree."""
        return [
            f"{ANSIBLE_CONTAINER_PREFIX}{n}{suffix}"
            for suffix in ("", BASELINE_SUFFIX)
            for n in range(1, max(self.args.hosts) + 1)
        ]

    def measure(self) -> None:
        """For each host count, on fresh containers: a fresh converge (the first transport
        and strategy), then for each transport and strategy a no-change re-run (--rounds of
        them), a back-end-only and a front-end-only redeploy."""
        rounds = self.args.rounds
        combos = self.combos()
        stamp = self.started.strftime("%Y%m%d%H%M%S")
        for count in self.args.hosts:
            remove_containers(self.all_names())
            start_containers(
                [name for tree in self.trees() for name in tree.names(count)],
                ssh="ssh" in self.args.transports,
            )
            suffix = "" if count == 1 else f", {count} hosts"
            self.step(f"fresh converge, {count} host{'s' if count > 1 else ''}", count,
                      combo=combos[0])  # fmt: skip
            for combo in combos:
                build = f"{stamp}-{count}-{combo.transport}-{combo.strategy}-{combo.fast_path}"
                if combo.fast_path:
                    self.prime(count, combo)
                self.step(f"no-change re-run{suffix}", count, rounds=rounds, combo=combo)
                change_backend(self.backend, build)
                self.step(f"back-end-only redeploy{suffix}", count, check=gunicorn_restarted,
                          combo=combo)  # fmt: skip
                script = change_frontend(self.dist, build)
                self.step(f"front-end-only redeploy{suffix}", count, check=serves(script),
                          combo=combo)  # fmt: skip
                if count == 1 and not combo.fast_path:
                    self.measure_floors(combo)

    def combos(self) -> list[bench_hosts.Combo]:
        return bench_hosts.combos(self.args.transports, self.args.strategies, self.args.paths)

    def prime(self, count: int, combo: bench_hosts.Combo) -> None:
        """One untimed run with the fast path on, which records what it left: the runs of
        the other ways before it (without the fast path) deleted the record."""
        hosts = self.current.names(count)
        log(f"record for the fast path [{combo.label}]: site.yml on {len(hosts)} host(s), untimed")
        inventory = self.inventory(self.current, hosts, combo)
        run_site(inventory, hosts, tree=self.current.root, strategy=combo.strategy)

    def measure_floors(self, combo: bench_hosts.Combo) -> None:
        """What one task of each kind costs on the first container (tools/bench_hosts)."""
        hosts = self.current.names(1)
        inventory = self.inventory(self.current, hosts, combo)
        for kind in bench_hosts.FLOOR_TASKS:
            playbook = WORK / f"floor-{kind}.yml"
            playbook.write_text(bench_hosts.floor_playbook(kind, FLOOR_TASK_COUNT))
            log(f"what one task costs: {FLOOR_TASK_COUNT} tasks {kind} [{combo.label}]")
            site = run_site(inventory, hosts, profile=False, playbook=playbook,
                            strategy=combo.strategy)  # fmt: skip
            floor = report.TaskFloor(
                kind,
                combo.transport,
                combo.strategy,
                FLOOR_TASK_COUNT,
                round(site.seconds, 2),
                round(site.controller_cpu_s, 2),
            )
            log(f"  {floor.ms_per_task:.0f} ms per task, {floor.cpu_ms_per_task:.0f} ms CPU")
            self.floors.append(floor)

    def run(self) -> int:
        try:
            if self.args.baseline:
                self.prepare_baseline(self.args.baseline)
            self.measure()
        finally:
            if not self.args.keep:
                remove_containers(self.all_names())
            if self.baseline is not None:
                remove_baseline_worktree(self.baseline.root)
                log(f"removed the worktree {self.baseline.root.relative_to(ROOT)}")
        self.loads.append(load_snapshot())
        self.report()
        if self.failure is not None:
            log(f"the baseline failed at {self.failure.step!r}: the report has the current "
                "tree's figures and the baseline's up to there")  # fmt: skip
            return 1
        return 0

    def report(self) -> None:
        runs, base_runs = self.runs["current"], self.runs["baseline"]
        targets = report.ansible_targets(runs)
        header = {
            "date": self.started.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": ", ".join(f"{k} {v}" for k, v in machine().items()),
            "load": describe_load(self.loads),
            "how": (
                "wall time of `ansible-playbook -i <generated inventory> site.yml` from the "
                "controller (this machine) to fresh systemd containers, over Docker's exec "
                "(`docker`, i.e. community.docker.docker) or SSH (Debian's sshd in the "
                "containers, key-only; Ansible's ControlPersist and the checkout's "
                "pipelining), with Ansible's `linear` strategy or Mitogen's `mitogen_linear`; "
                "`+ fast path`: `deploy_fast_path: true`, after an untimed run that recorded "
                "the hosts' state (the runs of the other ways delete the record); "
                "the inventory has the demo's variables; counts from PLAY RECAP; controller "
                "CPU includes the SSH control masters a run started"
            ),
            "ansible": _ansible_version(),
        }
        if self.args.rounds > 1:
            header["no-change re-runs"] = f"{self.args.rounds} rounds each, medians"
        if self.baseline is not None and self.revision is not None:
            header["current"] = _describe_checkout()
            collection = (
                f", fullstack.webapp from {self.baseline_collection.relative_to(ROOT)}"
                if self.baseline_collection is not None
                else ""
            )
            header["baseline"] = (
                f"`{self.revision.ref}` = {self.revision.short} ({self.revision.subject}): "
                f"its own site.yml and ansible.cfg in a detached worktree "
                f"{self.baseline.root.relative_to(ROOT)}/{collection}, on containers "
                f"`*{BASELINE_SUFFIX}`; same Ansible (.venv), inventory and sources"
                + (f"; edited by {self.args.baseline_edit}" if self.args.baseline_edit else "")
            )
        markdown = report.ansible_markdown(
            runs,
            targets,
            header,
            baseline=base_runs if self.baseline is not None else None,
            baseline_failure=self.failure,
            floors=self.floors,
        )
        data: dict[str, object] = {
            "kind": "ansible",
            "floors": report.to_jsonable(self.floors),
            "date": self.started.isoformat(timespec="seconds"),
            "machine": machine(),
            "load": self.loads,
            "config": {
                "hosts": list(self.args.hosts),
                "rounds": self.args.rounds,
                "transports": list(self.args.transports),
                "strategies": list(self.args.strategies),
                "paths": list(self.args.paths),
            },
            "runs": report.to_jsonable(runs),
            "targets": report.to_jsonable(targets),
        }
        if self.baseline is not None and self.revision is not None:
            data["baseline"] = {
                "ref": self.revision.ref,
                "sha": self.revision.sha,
                "subject": self.revision.subject,
                "runs": report.to_jsonable(base_runs),
                "failure": None if self.failure is None else report.to_jsonable(self.failure),
            }
            data["comparison"] = report.comparisons_jsonable(report.compare_runs(runs, base_runs))
        write_results(self.args.output, markdown, data)
        print()
        print(markdown)


def _describe_checkout() -> str:
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} ({git('log', '-1', '--format=%s', 'HEAD')})" + (
        " with uncommitted changes" if dirty else ""
    )


def ansible_bench(args: argparse.Namespace) -> int:
    return AnsibleBench(args).run()


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
    http.add_argument("--duration", type=int, default=4, help="seconds per load (wrk, h2load)")
    http.add_argument("--connections", type=int, default=64)
    http.add_argument("--threads", type=int, default=2)
    http.add_argument("--setups", nargs="+", default=list(report.SETUPS),
                      choices=report.SETUPS)  # fmt: skip
    http.add_argument(
        "--output", type=result_stem, default="latest", help="file stem under benchmarks/results"
    )
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
    ans.add_argument("--hosts", type=int, nargs="+", default=[1, 4, 8])
    ans.add_argument(
        "--transports",
        nargs="+",
        choices=bench_hosts.TRANSPORTS,
        default=list(bench_hosts.TRANSPORTS),
        help="how Ansible reaches the containers (default: both)",
    )
    ans.add_argument(
        "--strategies",
        nargs="+",
        choices=bench_hosts.STRATEGIES,
        default=list(bench_hosts.STRATEGIES),
        help="Ansible's linear strategy, Mitogen's mitogen_linear (default: both)",
    )
    ans.add_argument(
        "--paths",
        nargs="+",
        choices=bench_hosts.PATHS,
        default=list(bench_hosts.PATHS),
        help="whole runs, runs with deploy_fast_path on (default: both)",
    )
    ans.add_argument(
        "--output",
        type=result_stem,
        default="ansible-latest",
        help="file stem under benchmarks/results",
    )
    ans.add_argument("--keep", action="store_true", help="leave the containers running")
    ans.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="no-change re-runs per host count and tree (their median is reported)",
    )
    ans.add_argument(
        "--baseline",
        metavar="REF",
        help="also measure site.yml of this git revision, step by step beside the checkout's",
    )
    ans.add_argument(
        "--baseline-edit",
        metavar="SCRIPT",
        help="a Python script (path in the checkout) run on the baseline's worktree before it is"
        " measured, to measure a variant, e.g. benchmarks/variants/unguard.py",
    )
    args = parser.parse_args(argv)
    if args.command == "ansible" and args.rounds < 1:
        parser.error("--rounds must be at least 1")

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
