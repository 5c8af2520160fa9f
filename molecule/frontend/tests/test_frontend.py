"""fullstack.webapp.frontend alone: the dist is installed with the right owner and modes,
the web server's user can read it, and a converged host passes check mode unchanged."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

import pytest
from testinfra.host import Host

from tools.testing import run_playbook

SCENARIO = Path(__file__).resolve().parent.parent
FIXTURE = SCENARIO / "files" / "dist"
FILES = sorted(str(p.relative_to(FIXTURE)) for p in FIXTURE.rglob("*") if p.is_file())
DIRS = sorted(str(p.relative_to(FIXTURE)) for p in FIXTURE.rglob("*") if p.is_dir())

# (dest, owner, group, file mode, dir mode) as converge.yml installs them
INSTALLS = [
    ("/var/www/webapp/dist", "root", "root", 0o644, 0o755),
    ("/srv/webapp-archive/dist", "root", "www-data", 0o640, 0o750),
]


def changed_count(name: str, stdout: str) -> int:
    """changed= of a host in an ansible-playbook recap (colour codes removed)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    recap = re.search(rf"{re.escape(name)}\s*:\s*ok=\d+\s+changed=(\d+)", plain)
    assert recap is not None, plain[-2000:]
    return int(recap.group(1))


def test_fixture_is_what_the_tests_expect() -> None:
    assert "index.html" in FILES
    assert "assets/app-1a2b3c.js" in FILES
    assert "assets/img" in DIRS


@pytest.mark.parametrize(("dest", "owner", "group", "file_mode", "dir_mode"), INSTALLS)
def test_files_are_installed_with_owner_and_mode(
    host: Host, dest: str, owner: str, group: str, file_mode: int, dir_mode: int
) -> None:
    for name in FILES:
        installed = host.file(f"{dest}/{name}")
        assert installed.is_file, name
        assert installed.user == owner, name
        assert installed.group == group, name
        assert installed.mode == file_mode, f"{name}: {installed.mode:o}"
        expected = hashlib.sha256((FIXTURE / name).read_bytes()).hexdigest()
        assert installed.sha256sum == expected, name
    for name in ["", *DIRS]:
        directory = host.file(f"{dest}/{name}".rstrip("/"))
        assert directory.is_directory, name
        assert directory.user == owner, name
        assert directory.group == group, name
        assert directory.mode == dir_mode, f"{name}: {directory.mode:o}"


@pytest.mark.parametrize("parent", ["/var/www", "/var/www/webapp", "/srv/webapp-archive"])
def test_missing_parents_are_created_0755(host: Host, parent: str) -> None:
    directory = host.file(parent)
    assert directory.is_directory
    assert directory.user == "root"
    assert directory.mode == 0o755


@pytest.mark.parametrize("dest", [install[0] for install in INSTALLS])
def test_www_data_can_read_index_html(host: Host, dest: str) -> None:
    result = host.run(f"runuser -u www-data -- cat {dest}/index.html")
    assert result.rc == 0, result.stderr
    assert "frontend-fixture-index" in result.stdout
    asset = host.run(f"runuser -u www-data -- cat {dest}/assets/app-1a2b3c.js")
    assert asset.rc == 0, asset.stderr


def test_group_only_install_is_closed_to_others(host: Host) -> None:
    """0640/0750 with group www-data: www-data reads through its group, nobody cannot."""
    result = host.run("runuser -u nobody -- cat /srv/webapp-archive/dist/index.html")
    assert result.rc != 0
    assert "Permission denied" in result.stderr


def staging_dirs() -> set[Path]:
    """The controller's staging directories of the role (archives unpacked for comparison)."""
    return set(Path(tempfile.gettempdir()).glob("ansible.*-frontend-*"))


def test_check_mode_on_a_converged_host_changes_nothing(host: Host) -> None:
    """Also: the archive install's staging directories on the controller are removed."""
    name = host.backend.get_hostname()
    staging_before = staging_dirs()
    result = run_playbook(SCENARIO / "converge.yml", name, "--check", "--diff")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert changed_count(name, result.stdout) == 0, result.stdout[-4000:]
    assert "Unpack the archive on the controller" in result.stdout
    assert staging_dirs() - staging_before == set()
