"""Prepare the machine that runs the demo and the tests.

Installs the host packages the harness needs (Docker, debootstrap, and Debian's Chromium for
the browser checks), starts a Docker daemon when none
answers, and builds the systemd base images locally with debootstrap (no image
registry is assumed to be reachable). Standard library only: it runs before the
tool environment exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# chromium: the real browser of the browser checks (plugins/module_utils/browser.py), driven
# by Playwright for Python (the tool environment), which never downloads a browser of its own.
HOST_PACKAGES = ("docker.io", "debootstrap", "chromium")
IMAGE_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",
    "ca-certificates",
    "sudo",
    "curl",
    "iproute2",
    "procps",
    "psmisc",
)
DEBIAN_MIRROR = os.environ.get("FULLSTACK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DOCKERD_LOG = Path("/var/log/fullstack-dockerd.log")
# `docker run` arguments for a container that boots systemd as PID 1 (the demo and the
# benchmarks; each Molecule scenario's platforms say the same in its molecule.yml).
SYSTEMD_CONTAINER_ARGS = (
    "--cap-add", "SYS_ADMIN",
    "--security-opt", "seccomp=unconfined",
    "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run",
    "--tmpfs", "/run/lock",
    "-e", "container=docker",
)  # fmt: skip


@dataclass(frozen=True)
class BaseImage:
    suite: str
    tag: str


BASE_IMAGES = (
    BaseImage("bookworm", "fullstack-webapp/debian:12"),
    BaseImage("trixie", "fullstack-webapp/debian:13"),
)


def log(message: str) -> None:
    print(f"[hostprep] {message}", flush=True)


def run(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def install_host_packages() -> None:
    missing = [pkg for pkg in HOST_PACKAGES if not _dpkg_installed(pkg)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"[hostprep] need root to install {', '.join(missing)}")
    log(f"installing {', '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)


def _dpkg_installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "install ok installed"


def docker_answers() -> bool:
    return (
        subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30).returncode
        == 0
    )


def ensure_docker_daemon(timeout_s: float = 60.0) -> None:
    if docker_answers():
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        sys.exit("[hostprep] no dockerd on PATH after installing docker.io")
    log(f"starting dockerd (log: {DOCKERD_LOG})")
    with DOCKERD_LOG.open("ab") as log_file:
        subprocess.Popen(
            [dockerd],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if docker_answers():
            return
        time.sleep(1)
    sys.exit(f"[hostprep] dockerd did not answer within {timeout_s:.0f}s; see {DOCKERD_LOG}")


def image_exists(tag: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", tag], capture_output=True, check=False
        ).returncode
        == 0
    )


def build_base_image(image: BaseImage) -> None:
    if image_exists(image.tag):
        return
    log(f"building {image.tag} from Debian {image.suite} with debootstrap")
    with tempfile.TemporaryDirectory(prefix=f"rootfs-{image.suite}-") as rootfs:
        run(
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(IMAGE_PACKAGES)}",
            image.suite,
            rootfs,
            DEBIAN_MIRROR,
            stdout=subprocess.DEVNULL,
        )
        _make_container_ready(Path(rootfs))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        run(
            "docker",
            "import",
            "--change",
            'CMD ["/lib/systemd/systemd"]',
            "--change",
            "ENV container=docker",
            "-",
            image.tag,
            stdin=tar.stdout,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            sys.exit(f"[hostprep] tar of {rootfs} failed")


def _make_container_ready(rootfs: Path) -> None:
    """Trim what makes no sense in a container, as Debian's own images do."""
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n'
    )
    for unit in (
        "getty.target",
        "systemd-timesyncd.service",
        "apt-daily.timer",
        "apt-daily-upgrade.timer",
        "e2scrub_all.timer",
        "fstrim.timer",
    ):
        (rootfs / "etc/systemd/system" / unit).unlink(missing_ok=True)
        mask = rootfs / "etc/systemd/system" / unit
        mask.symlink_to("/dev/null")
    (rootfs / "etc/machine-id").write_text("")
    # Like a cloud image: no package lists, and apt must see them as stale.
    lists = rootfs / "var/lib/apt/lists"
    shutil.rmtree(lists, ignore_errors=True)
    (lists / "partial").mkdir(parents=True)
    os.utime(lists / "partial", (0, 0))
    os.utime(lists, (0, 0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--images",
        nargs="*",
        default=[image.tag for image in BASE_IMAGES],
        help="base images to build (default: all)",
    )
    args = parser.parse_args(argv)
    install_host_packages()
    ensure_docker_daemon()
    for image in BASE_IMAGES:
        if image.tag in args.images:
            build_base_image(image)
    log("host ready")


if __name__ == "__main__":
    main()
