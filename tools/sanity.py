"""`ansible-test sanity` on the collection as it ships (`make sanity`).

ansible-test wants to run from a directory .../ansible_collections/fullstack/webapp/. The
checkout is not one, and .cache/collections/ansible_collections/fullstack/webapp, a symlink
to it, does not do either: ansible-test takes os.getcwd(), the resolved path. So the
collection is built with `ansible-galaxy collection build` (galaxy.yml's build_ignore decides
what ships, as for Galaxy) and unpacked under .cache/sanity/ansible_collections/fullstack/webapp,
with tests/sanity/ (the ignore files) added. ANSIBLE_TEST_CONTENT_ROOT names that directory:
without it ansible-test takes the checkout's git repository (a parent directory) as the
source of the file list, in which .cache/ is ignored, and finds no file to test.

ansible-test runs each test in a virtual environment of its own (--venv) and installs its
pinned requirements there with pip, passing it only PATH, HOME and a few more variables
(ansible_test/_internal/util.py, common_environment()). Two things make that work here:

- pip is bootstrapped in those environments by a get-pip.py from ci-files.testing.ansible.com,
  unless ~/.ansible/test/cache/get_pip_<version>.py exists: tools/ansible_test_get_pip.py is
  put there, which does it with ensurepip;
- that pip does not see PIP_* variables, XDG_CONFIG_HOME or the proxy variables, so the
  controller's effective pip configuration (`pip config list`: files and PIP_* variables),
  its CA bundle and proxy are written to ~/.config/pip/pip.conf, where that pip looks.

HOME is the checkout's own (.cache/home, set by the Makefile): this file, the bootstrap
script and ansible-test's virtual environments (~/.ansible/test/venv, reused by later runs)
stay in the checkout. Arguments are passed to `ansible-test sanity`.
"""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import types
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".cache" / "sanity"
COLLECTION = WORK / "ansible_collections" / "fullstack" / "webapp"
DELEGATION = Path("tests", "output", ".tmp", "delegation")
BOOTSTRAP_PYTHON = ROOT / ".cache" / "bootstrap" / "bin" / "python"
GET_PIP = ROOT / "tools" / "ansible_test_get_pip.py"
# The controller's Python (Debian 12's too); the tests that run on each Python use this one.
PYTHON = "3.11"
# Where pip finds a CA bundle when its configuration names none (requests, then OpenSSL).
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")


def log(message: str) -> None:
    print(f"[sanity] {message}", flush=True)


def check_home() -> Path:
    home = Path.home().resolve()
    if not home.is_relative_to(ROOT):
        sys.exit(
            f"[sanity] HOME ({home}) is outside the checkout: run `make sanity`, which gives "
            "the tests a home of their own (.cache/home); this writes pip's configuration there"
        )
    return home


def build_collection() -> None:
    """Unpack the collection's build under COLLECTION, with the sanity ignore files.

    The virtual environment ansible-test re-runs itself in (--venv) lives in the content
    root, tests/output/.tmp/delegation; it is kept from one build to the next (~25 s).
    """
    with tempfile.TemporaryDirectory(prefix="build-", dir=WORK) as out:
        subprocess.run(
            ["ansible-galaxy", "collection", "build", "--output-path", out, str(ROOT)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(out).glob("fullstack-webapp-*.tar.gz")
        kept = Path(out) / "delegation"
        if (COLLECTION / DELEGATION).is_dir():
            (COLLECTION / DELEGATION).rename(kept)
        shutil.rmtree(COLLECTION, ignore_errors=True)
        COLLECTION.mkdir(parents=True)
        with tarfile.open(tarball) as archive:
            archive.extractall(COLLECTION, filter="data")
        if kept.is_dir():
            (COLLECTION / DELEGATION).parent.mkdir(parents=True)
            kept.rename(COLLECTION / DELEGATION)
        log(f"built {tarball.name}, unpacked in {COLLECTION.relative_to(ROOT)}")
    ignores = ROOT / "tests" / "sanity"
    if ignores.is_dir():
        shutil.copytree(ignores, COLLECTION / "tests" / "sanity")


def pip_version() -> str:
    """The pip version ansible-test bootstraps in its virtual environments."""
    from ansible_test._internal.python_requirements import get_venv_packages

    return str(get_venv_packages(types.SimpleNamespace(version=PYTHON))["pip"])


def install_get_pip(home: Path) -> None:
    version = pip_version()
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(GET_PIP, cache / f"get_pip_{version.replace('.', '_')}.py")


def controller_pip_config() -> dict[str, dict[str, str]]:
    listing = subprocess.run(
        [str(BOOTSTRAP_PYTHON), "-m", "pip", "config", "list"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return pip_config(listing, os.environ)


def pip_config(listing: str, environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """pip's configuration by section from `pip config list` (PIP_* under global), with the
    CA bundle and the proxy the controller's pip would take from the environment."""
    sections: dict[str, dict[str, str]] = {}
    from_env: dict[str, str] = {}
    for line in listing.splitlines():
        name, sep, value = line.partition("=")
        if not sep:
            continue
        section, _dot, key = name.rpartition(".")
        parsed = str(ast.literal_eval(value))
        if section == ":env:":
            from_env[key] = parsed
        else:
            sections.setdefault(section, {})[key] = parsed
    settings = sections.setdefault("global", {})
    settings.update(from_env)  # a PIP_* variable beats the files
    for key, variables in (("cert", CA_VARIABLES), ("proxy", PROXY_VARIABLES)):
        found = next((environ[v] for v in variables if environ.get(v)), None)
        if key not in settings and found:
            settings[key] = found
    return sections


def write_pip_config(home: Path) -> None:
    config = configparser.ConfigParser(interpolation=None)
    config.read_dict(controller_pip_config())
    path = home / ".config" / "pip" / "pip.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)  # it may hold an index URL with credentials
    path.chmod(0o600)
    with path.open("w", encoding="utf-8") as handle:
        config.write(handle)


def main(argv: list[str]) -> int:
    home = check_home()
    WORK.mkdir(parents=True, exist_ok=True)
    build_collection()
    install_get_pip(home)
    write_pip_config(home)
    command = ["ansible-test", "sanity", "--venv", "--python", PYTHON, *argv]
    log(" ".join(command))
    env = {**os.environ, "ANSIBLE_TEST_CONTENT_ROOT": str(COLLECTION)}
    return subprocess.run(command, cwd=COLLECTION, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
