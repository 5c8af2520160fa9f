"""What fullstack.webapp.frontend refuses: a source that is not a usable dist (before the
host is touched) and a destination the web server's user cannot reach."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from testinfra.host import Host

from tools.testing import run_playbook

SCENARIO = Path(__file__).resolve().parent.parent
FIXTURE = SCENARIO / "files" / "dist"
NO_INDEX = SCENARIO / "files" / "dist-noindex"
DEST = "/var/www/webapp/dist"


def refuse(host: Host, **variables: str) -> str:
    """Run refuse.yml with the given role variables; it must fail. Returns its output."""
    name = host.backend.get_hostname()
    result = run_playbook(SCENARIO / "refuse.yml", name, "-e", json.dumps(variables))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    return output


def snapshot(host: Host, path: str) -> str:
    """Every file under path with its type, mode, owner and checksum."""
    listing = host.check_output(
        f"find {path} -printf '%y %m %u:%g %p\\n' | sort; "
        f"find {path} -type f -exec sha256sum {{}} + | sort"
    )
    return str(listing)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Archives made on the controller: one with dist/ at its root instead of index.html."""
    base = tmp_path_factory.mktemp("frontend-archives")
    nested = base / "nested.tar.gz"
    with tarfile.open(nested, "w:gz") as archive:
        archive.add(FIXTURE, arcname="dist")
    plain_file = base / "dist.zip"
    plain_file.write_bytes(b"not an archive the role accepts")
    return {"nested": nested, "zip": plain_file}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-index-dir", "has no index.html at its root"),
        ("no-index-archive", "has no index.html at its root"),
        ("missing", "does not exist on the controller"),
        ("relative", "must be an absolute path"),
        ("not-a-dist", "neither a directory nor a .tar.gz/.tgz/.tar archive"),
    ],
)
def test_unusable_source_is_refused_before_the_host_is_touched(
    host: Host, archives: dict[str, Path], case: str, expected: str
) -> None:
    sources = {
        "no-index-dir": str(NO_INDEX),
        "no-index-archive": str(archives["nested"]),
        "missing": str(SCENARIO / "files" / "no-such-dist"),
        "relative": "files/dist",
        "not-a-dist": str(archives["zip"]),
    }
    before = snapshot(host, DEST)
    output = refuse(host, frontend_dist_src=sources[case])
    assert "frontend_dist_src" in output, output[-3000:]
    assert expected in output, output[-3000:]
    assert snapshot(host, DEST) == before


@pytest.fixture
def private_dir(host: Host) -> Iterator[str]:
    """/srv/private, mode 0700: the seed's home directory the web server cannot enter."""
    assert host.run("install -d -o root -g root -m 0700 /srv/private").rc == 0
    yield "/srv/private"
    host.run("rm -rf /srv/private")


def test_dest_below_a_0700_directory_fails_naming_it(host: Host, private_dir: str) -> None:
    output = refuse(host, frontend_dist_src=str(FIXTURE), frontend_dest=f"{private_dir}/www/dist")
    assert f"cannot traverse (search, x) {private_dir}: mode 0700" in output, output[-3000:]
    assert f"chmod o+x {private_dir}" in output, output[-3000:]
    # Refused before anything was created under it.
    assert host.run(f"ls -A {private_dir}").stdout == ""
    assert host.file(private_dir).mode == 0o700


@pytest.fixture
def unreadable_dest(host: Host) -> Iterator[str]:
    yield "/srv/unreadable/dist"
    host.run("rm -rf /srv/unreadable")


def test_unreadable_index_html_fails_naming_it(host: Host, unreadable_dest: str) -> None:
    output = refuse(
        host,
        frontend_dist_src=str(FIXTURE),
        frontend_dest=unreadable_dest,
        frontend_file_mode="0600",
    )
    assert f"cannot read (r) {unreadable_dest}/index.html: mode 0600" in output, output[-3000:]
    assert f"chmod o+r {unreadable_dest}/index.html" in output, output[-3000:]
