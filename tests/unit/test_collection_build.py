"""`ansible-galaxy collection build` makes a tarball of the collection without dev-only files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY_TOP = ("molecule", "tools", "tests", ".ci", ".config", ".venv", ".cache", ".ansible",
                "Makefile", "pyproject.toml", "uv.lock", "site.yml", "ansible.cfg")  # fmt: skip
DEV_ONLY_ANYWHERE = ("node_modules", "__pycache__", "dist")
# The tool environment's, also when pytest is run as .venv/bin/pytest without it on PATH.
GALAXY = shutil.which("ansible-galaxy", path=str(Path(sys.executable).parent)) or "ansible-galaxy"


def test_build_contains_the_collection_and_no_dev_files(tmp_path: Path) -> None:
    subprocess.run(
        [GALAXY, "collection", "build", "--output-path", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (tarball,) = tmp_path.glob("fullstack-webapp-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    for required in ("MANIFEST.json", "README.md", "meta/runtime.yml", "playbooks/site.yml",
                     "plugins/modules/web_path_access.py"):  # fmt: skip
        assert required in names, required
    for role in ("python_uv", "gunicorn", "frontend", "nginx_gateway", "deploy"):
        assert f"roles/{role}/meta/argument_specs.yml" in names, role
    leaked = [
        name
        for name in names
        if name.split("/")[0] in DEV_ONLY_TOP
        or any(part in DEV_ONLY_ANYWHERE for part in name.split("/"))
    ]
    assert leaked == []
