"""How `make bench-ansible` reaches its containers: the transport (Docker's exec, or SSH as
users deploy) and Ansible's strategy (the default `linear`, or Mitogen's `mitogen_linear`).

- **SSH**: the containers run Debian's OpenSSH server (an image built once from the base
  image, ``fullstack-webapp/debian:12-sshd``), key-only, root's key from
  ``.cache/bench/ssh``; Ansible reaches them on their address on Docker's bridge with its
  defaults for SSH (``ControlMaster=auto``, ``ControlPersist=60s``) and the checkout's
  ``ansible.cfg`` (pipelining on), as a user would have them.
- **Mitogen** (``mitogen`` on PyPI, in the tool environment): its strategy plugin replaces
  Ansible's connection plugins ``docker`` and ``ssh`` with its own, which keep one Python
  interpreter per host for the whole run.

Each run starts without an SSH control master (a user's first run of the day), and the
CPU of the masters it started is added to the controller's CPU: they are not children
ansible-playbook waits for, so the rusage of its children does not count them.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SSH_DIR = ROOT / ".cache" / "bench" / "ssh"
SSH_KEY = SSH_DIR / "id_ed25519"
SSH_IMAGE_SUFFIX = "-sshd"
TRANSPORTS = ("docker", "ssh")
STRATEGIES = ("linear", "mitogen")
# Whole runs (the default) and runs with deploy_fast_path on.
PATHS = ("whole", "fast")
# Key-only root login: the bench's own key is the only way in.
SSHD_CONFIG = (
    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
    "PermitRootLogin prohibit-password\n"
)


@dataclass(frozen=True)
class Combo:
    """One way of running site.yml: a transport, a strategy, and whether the deploy role's
    fast path (deploy_fast_path) is on."""

    transport: str
    strategy: str
    fast_path: bool = False

    @property
    def label(self) -> str:
        return f"{self.transport}, {self.strategy}" + (", fast path" if self.fast_path else "")

    @property
    def way(self) -> str:
        """The strategy column of the report: the strategy, and the fast path when on."""
        return self.strategy + (" + fast path" if self.fast_path else "")


DEFAULT_COMBO = Combo("docker", "linear")


def combos(
    transports: list[str], strategies: list[str], paths: tuple[str, ...] | list[str] = ("whole",)
) -> list[Combo]:
    """Every transport with every strategy and path, docker/linear first when it is one of
    them (the fresh converges run with the first), whole runs before fast-path ones."""
    found = [Combo(t, s, p == "fast") for p in paths for t in transports for s in strategies]
    default = (DEFAULT_COMBO.transport, DEFAULT_COMBO.strategy)
    return sorted(found, key=lambda c: (c.fast_path, (c.transport, c.strategy) != default))


def ssh_image(base: str) -> str:
    return base + SSH_IMAGE_SUFFIX


def ssh_key() -> Path:
    """The bench's SSH key pair (made once, git-ignored under .cache)."""
    if not SSH_KEY.exists():
        SSH_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fullstack-webapp-bench",
             "-f", str(SSH_KEY)],
            check=True,
        )  # fmt: skip
    return SSH_KEY


def build_ssh_image(base: str, container_args: tuple[str, ...]) -> str:
    """The base image with Debian's OpenSSH server, key-only, built once (docker commit)."""
    image = ssh_image(base)
    exists = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
    if exists.returncode == 0:
        return image
    builder = "fullstack-webapp-bench-sshd-build"
    subprocess.run(["docker", "rm", "-f", builder], capture_output=True, check=False)
    subprocess.run(
        ["docker", "run", "-d", "--name", builder, *container_args, base, "/lib/systemd/systemd"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # A mirror caught mid-update answers lists whose signature does not match: try again.
    script = (
        "systemctl is-system-running --wait >/dev/null 2>&1; "
        "for try in 1 2 3; do apt-get update -qq && break; sleep 5; done && "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
        "openssh-server >/dev/null && "
        f"printf '{SSHD_CONFIG}' > /etc/ssh/sshd_config.d/fullstack-bench.conf && "
        "systemctl enable ssh.service >/dev/null 2>&1"
    )
    try:
        subprocess.run(["docker", "exec", builder, "sh", "-c", script], check=True)
        subprocess.run(["docker", "commit", builder, image], check=True, stdout=subprocess.DEVNULL)
    finally:
        subprocess.run(["docker", "rm", "-f", builder], capture_output=True, check=False)
    return image


def authorize_key(container: str) -> None:
    """Root's authorized_keys in the container: the bench's public key only."""
    public = ssh_key().with_suffix(".pub").read_text()
    subprocess.run(
        ["docker", "exec", "-i", container, "sh", "-c",
         "install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys && "
         "chmod 600 /root/.ssh/authorized_keys && systemctl is-active --quiet ssh.service"],
        input=public,
        text=True,
        check=True,
    )  # fmt: skip


def address(container: str) -> str:
    result = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
         container],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    found = result.stdout.strip()
    if not found:
        raise RuntimeError(f"{container} has no address on a Docker network")
    return found


def host_vars(container: str, transport: str) -> dict[str, str]:
    """The inventory variables that reach a container by the transport. `docker` is the
    short name (Ansible routes it to community.docker.docker) that Mitogen replaces too."""
    if transport == "docker":
        return {"ansible_connection": "docker"}
    if transport == "ssh":
        return {
            "ansible_connection": "ssh",
            "ansible_host": address(container),
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(ssh_key()),
        }
    raise ValueError(f"unknown transport {transport!r}: one of {', '.join(TRANSPORTS)}")


def strategy_env(strategy: str) -> dict[str, str]:
    """ansible-playbook's environment for the strategy."""
    if strategy == "linear":
        return {}
    if strategy == "mitogen":
        try:
            import ansible_mitogen  # only the Mitogen runs need it
        except ImportError as error:
            raise RuntimeError(
                "the mitogen strategy needs the mitogen package: `make tools` installs it "
                "(pyproject.toml, dependency group mitogen)"
            ) from error
        plugins = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
        return {"ANSIBLE_STRATEGY_PLUGINS": str(plugins), "ANSIBLE_STRATEGY": "mitogen_linear"}
    raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")


def _control_masters(control_dir: Path) -> list[int]:
    """The pids of the SSH control masters whose socket is under control_dir (their process
    title is ``ssh: <ControlPath> [mux]``)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith(f"ssh: {control_dir}/") and "[mux]" in cmdline:
            pids.append(int(proc.name))
    return pids


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime, the 14th and 15th fields (12th and 13th after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def control_dir() -> Path:
    """Where Ansible keeps its SSH control sockets (its default, under ANSIBLE_HOME)."""
    home = os.environ.get("ANSIBLE_HOME") or str(Path.home() / ".ansible")
    return Path(home) / "cp"


def stop_control_masters() -> float:
    """Stop the SSH control masters of Ansible's control directory; their CPU seconds."""
    used = 0.0
    for pid in _control_masters(control_dir()):
        used += _cpu_s(pid)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    return used


# What one task costs, whatever the roles do: a playbook of `count` tasks of one kind.
# skipped: `when: false` (the controller's work only); set_fact: a task that runs on the
# controller; stat: a module run on the host (the transport, and Python started there).
FLOOR_TASKS = {
    "skipped": "ansible.builtin.debug:\n        msg: never shown\n      when: false",
    "set_fact": "ansible.builtin.set_fact:\n        bench_floor_fact: 1",
    "stat": "ansible.builtin.stat:\n        path: /etc/hostname",
}


def floor_playbook(kind: str, count: int) -> str:
    """A playbook of `count` tasks of the kind (FLOOR_TASKS), no facts gathered."""
    if kind not in FLOOR_TASKS:
        raise ValueError(f"unknown kind of task {kind!r}: one of {', '.join(FLOOR_TASKS)}")
    tasks = "".join(
        f"    - name: {kind} {number}\n      {FLOOR_TASKS[kind]}\n"
        for number in range(1, count + 1)
    )
    play = f"- name: What one task costs ({kind})\n  hosts: all\n  gather_facts: false\n"
    return f"---\n{play}  tasks:\n{tasks}"
