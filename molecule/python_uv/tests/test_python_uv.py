"""The python_uv role: pinned uv, system Python, an unprivileged user, a locked environment."""

from __future__ import annotations

from testinfra.host import Host

APP_ROOT = "/opt/webapp"
VENV = f"{APP_ROOT}/venv"
ENV_FILE = "/etc/webapp/webapp.env"


def install_method(host: Host) -> str:
    return str(host.ansible.get_variables().get("python_uv_install_method", "pypi"))


def test_uv_is_the_pinned_version_installed_by_the_chosen_method(host: Host) -> None:
    assert host.check_output("/usr/local/bin/uv --version").startswith("uv 0.13.9")
    expected = {"pypi": "/opt/uv/venv/bin/uv", "controller": "/opt/uv/bin/uv"}[install_method(host)]
    assert host.file("/usr/local/bin/uv").linked_to == expected
    assert host.file(expected).user == "root"
    assert host.file(expected).mode == 0o755


def test_source_installed_from_a_directory_or_an_archive(host: Host) -> None:
    for name in ("pyproject.toml", "uv.lock", "app/main.py"):
        installed = host.file(f"{APP_ROOT}/app/{name}")
        assert installed.exists, name
        assert installed.user == "root"
        assert installed.group == "webapp"
        assert installed.mode & 0o027 == 0, f"{name} must not be group-writable or world-readable"
    assert not host.file(f"{APP_ROOT}/app/__pycache__").exists


def test_app_user_is_an_unprivileged_system_user(host: Host) -> None:
    user = host.user("webapp")
    assert user.exists
    assert user.uid < 1000
    assert user.shell == "/usr/sbin/nologin"
    assert user.group == "webapp"


def test_environment_uses_the_system_python_and_no_downloaded_one(host: Host) -> None:
    pyvenv = host.file(f"{VENV}/pyvenv.cfg").content_string
    assert "home = /usr/bin" in pyvenv
    assert not host.file("/root/.local/share/uv/python").exists
    version = host.check_output(f"{VENV}/bin/python -c 'import sys; print(sys.version_info[:2])'")
    system = host.check_output("/usr/bin/python3 -c 'import sys; print(sys.version_info[:2])'")
    assert version == system


def test_locked_dependencies_installed_without_dev_group(host: Host) -> None:
    freeze = host.check_output(f"/usr/local/bin/uv pip list --python {VENV}/bin/python")
    for package in ("fastapi", "gunicorn", "uvicorn-worker", "pydantic"):
        assert package in freeze, package
    assert "pytest" not in freeze, "the dev group must not be installed"


def test_bytecode_is_compiled(host: Host) -> None:
    compiled = host.check_output(f"find {VENV}/lib -path '*fastapi/__pycache__/*.pyc' | head -n 1")
    assert compiled.endswith(".pyc")


def test_app_user_can_import_the_app_but_not_change_it(host: Host) -> None:
    result = host.run(
        f"cd {APP_ROOT}/app && runuser -u webapp -- {VENV}/bin/python -c 'import app.main'"
    )
    assert result.rc == 0, result.stderr
    for path in (f"{APP_ROOT}/app", f"{APP_ROOT}/app/app/main.py", VENV):
        assert host.run(f"runuser -u webapp -- test -w {path}").rc != 0, path
    assert host.file(f"{APP_ROOT}/app").user == "root"


def test_source_is_not_readable_by_others(host: Host) -> None:
    app_dir = host.file(f"{APP_ROOT}/app")
    assert app_dir.mode & 0o007 == 0
    assert host.run("runuser -u nobody -- ls /opt/webapp/app").rc != 0


def test_environment_file_is_private_to_root_and_the_app_group(host: Host) -> None:
    env_file = host.file(ENV_FILE)
    assert env_file.user == "root"
    assert env_file.group == "webapp"
    assert env_file.mode == 0o640
    assert 'APP_SECRET_KEY="molecule-not-a-real-secret-5f2c"' in env_file.content_string
    assert host.run(f"runuser -u nobody -- cat {ENV_FILE}").rc != 0
