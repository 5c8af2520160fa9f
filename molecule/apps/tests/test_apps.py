"""Two apps on one host, in order: both answer by their own names after converge; the notes
app (examples/notes) migrated and seeded once, writes only its shared paths, and has its
routes outside /api; a notes release with a new migration runs it once, before the switch;
one whose migration fails is refused; a package that does not build is named; each app rolls
back without touching the other; re-runs change nothing. The tests share the host's state
and run in file order."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

from tools.testing import (
    ROOT,
    backend_variant,
    host_fingerprint,
    recap_changed,
    run_playbook,
    serving_service,
)

SCENARIO = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"
NOTES_BACKEND = ROOT / "examples" / "notes" / "backend"
NOTES_FACT = "/etc/ansible/facts.d/python_uv_notes.fact"
WEBAPP_FACT = "/etc/ansible/facts.d/python_uv_webapp.fact"
SHARED = "/var/lib/notes/shared"
DATABASE = f"{SHARED}/instance/notes.db"
# What a run of one app must leave as it is in the other.
WEBAPP_STATE = (
    "/opt/webapp /etc/webapp /var/www/webapp /etc/nginx/sites-enabled/webapp.conf",
    "'webapp@*.service'",
)
NOTES_STATE = (
    "/opt/notes /etc/notes /var/www/notes /etc/nginx/sites-enabled/notes.conf",
    "'notes@*.service'",
)

# Records, in the database, which release served while it ran: proof that it ran before
# the switch.
MIGRATION_0002 = '''"""v2: a table recording the release serving while this migration ran."""

import os

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "migration_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("serving", sa.String(200), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "serving": os.path.realpath("/opt/notes/current")}])


def downgrade() -> None:
    op.drop_table("migration_log")
'''
MIGRATION_0003 = '''"""v3: a migration that fails."""

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    raise RuntimeError("migration 0003 fails on purpose")


def downgrade() -> None:
    pass
'''
# A local package whose wheel cannot be built (an in-tree build backend that fails), as a
# package with no wheel for the platform fails without its headers.
BROKEN_PYPROJECT = """[project]
name = "brokenpkg"
version = "1.0"

[build-system]
requires = []
build-backend = "broken_backend"
backend-path = ["."]
"""
BROKEN_BACKEND = """def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise SystemExit("brokenpkg: fatal error: cairo.h: No such file or directory")


build_editable = build_wheel


def build_sdist(sdist_directory, config_settings=None):
    raise SystemExit("no sdist")
"""


def notes_variant(base: Path, name: str, migrations: dict[str, str]) -> Path:
    return backend_variant(
        base,
        name,
        {},
        source=NOTES_BACKEND,
        add={f"migrations/versions/{file}": text for file, text in migrations.items()},
    )


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("apps")
    made = {
        "notes-v2": notes_variant(base, "v2", {"0002_migration_log.py": MIGRATION_0002}),
        "notes-v3": notes_variant(
            base,
            "v3",
            {"0002_migration_log.py": MIGRATION_0002, "0003_fails.py": MIGRATION_0003},
        ),
        "webapp-v2": backend_variant(base, "webapp-v2", {"app/items.py": ("", "# v2\n")}),
    }
    unbuildable = backend_variant(base, "unbuildable", {}, source=made["notes-v2"])
    (unbuildable / "brokenpkg").mkdir()
    (unbuildable / "brokenpkg" / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (unbuildable / "brokenpkg" / "broken_backend.py").write_text(BROKEN_BACKEND)
    subprocess.run(
        [uv_binary(), "add", "--quiet", "--no-sync", "./brokenpkg"],
        cwd=unbuildable,
        check=True,
        timeout=300,
    )
    made["unbuildable"] = unbuildable
    return made


def uv_binary() -> str:
    found = shutil.which("uv") or str(ROOT / ".cache" / "bootstrap" / "bin" / "uv")
    assert os.access(found, os.X_OK), "uv comes with the tool environment (make tools)"
    return found


def get(host: Host, path: str, site: str = "notes.test") -> str:
    return str(
        host.check_output(
            f"curl -sf --max-time 10 -H {shlex.quote('Host: ' + site)} http://127.0.0.1{path}"
        )
    )


def get_json(host: Host, path: str, site: str = "notes.test") -> Any:  # noqa: ANN401 (JSON)
    return json.loads(get(host, path, site))


def query(host: Host, sql: str) -> list[list[object]]:
    """One query on the notes app's database, with the Python of its serving release."""
    script = (
        "import json, sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
        "print(json.dumps(db.execute(sys.argv[2]).fetchall()))"
    )
    python = "/opt/notes/current/venv/bin/python"
    rows: list[list[object]] = json.loads(
        host.check_output(f"{python} -c {shlex.quote(script)} {DATABASE} {shlex.quote(sql)}")
    )
    return rows


def notes_facts(host: Host) -> dict[str, Any]:
    return dict(json.loads(host.file(NOTES_FACT).content_string))


def run(host: Host, playbook: Path, *extra: str) -> str:
    result = run_playbook(playbook, host.backend.get_hostname(), *extra)
    return f"rc={result.returncode}\n{result.stdout}{result.stderr}"


def deploy_notes(host: Host, *extra: str) -> str:
    return run(host, SCENARIO / "notes.yml", *extra)


def notes_vars() -> tuple[str, str]:
    return ("-e", f"@{SCENARIO / 'vars' / 'notes.yml'}")


def test_both_apps_answer_by_their_own_names(host: Host) -> None:
    assert get_json(host, "/api/health", site="anything.example")["status"] == "ok"
    assert "<title>Notes</title>" in get(host, "/")
    assert "<title>Notes</title>" not in get(host, "/", site="anything.example")
    assert [note["title"] for note in get_json(host, "/api/notes")], "the seed's notes"
    # One default server on port 80: the site whose server names hold "_".
    defaults = host.run("grep -l default_server /etc/nginx/sites-enabled/*").stdout.split()
    assert defaults == ["/etc/nginx/sites-enabled/webapp.conf"], defaults


def test_the_first_deploy_migrated_and_seeded_once(host: Host) -> None:
    assert get_json(host, "/api/schema") == {"revision": "0001"}
    # Converge, then Molecule's idempotence run: the seed ran once, on the release's build.
    assert get_json(host, "/api/seed-runs") == {"count": 1}
    assert len(get_json(host, "/api/notes")) == 3
    manifest = notes_facts(host)["releases"][-1]
    assert manifest["pre_switch_commands"] == ["alembic upgrade head", "python -m notes.seed"]
    assert manifest["pre_switch_host"] == host.backend.get_hostname()


def test_the_notes_app_writes_only_its_shared_paths(host: Host) -> None:
    app = "/opt/notes/current/app"
    assert host.file(f"{app}/instance").linked_to == f"{SHARED}/instance"
    assert host.file(f"{app}/activity.log").linked_to == f"{SHARED}/activity.log"
    assert host.file(DATABASE).user == "notes"
    assert host.file(f"{SHARED}/activity.log").user == "notes"
    assert "started pid=" in host.file(f"{SHARED}/activity.log").content_string
    assert host.file(f"{app}/notes/main.py").user == "root"
    assert not host.file(f"{app}/notes/main.py").mode & 0o002
    writable = host.check_output(
        f"systemctl show --property=ReadWritePaths --value {serving_service(host, 'notes')}"
    )
    assert SHARED in writable.split()
    # Its lock has no gunicorn: python_uv_add_gunicorn put the pinned one in its environment.
    version = host.check_output(
        "/opt/notes/current/venv/bin/python -c "
        "'import gunicorn, uvicorn_worker; print(gunicorn.__version__)'"
    )
    assert version == "27.0.1"


def test_its_mapping_setting_reaches_the_app_as_json(host: Host) -> None:
    line = next(
        line
        for line in host.file("/etc/notes/notes.env").content_string.splitlines()
        if line.startswith("NOTES_DB=")
    )
    # systemd's double-quoted value, then the JSON the app reads.
    assert json.loads(json.loads(line.removeprefix("NOTES_DB="))) == {
        "url": "sqlite:///instance/notes.db",
        "echo": False,
    }


def test_routes_outside_the_api_reach_the_app(host: Host) -> None:
    assert "swagger" in get(host, "/docs").lower()
    assert json.loads(get(host, "/openapi.json"))["paths"]
    assert get_json(host, "/health") == {"status": "ok"}
    handshake = host.run(
        "curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: notes.test' "
        "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' "
        "-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' http://127.0.0.1/ws"
    )
    assert handshake.stdout == "101", handshake
    # The example app's site proxies none of them: its SPA answers.
    assert "<div id=" in get(host, "/docs", site="anything.example")


def test_the_gz_files_the_build_ships_match_what_is_served(host: Host) -> None:
    dist = "/var/www/notes/dist"
    listing = host.check_output(f"find -L {dist}/assets -name '*.js.gz' -o -name '*.css.gz'")
    assert listing.split(), "the build ships .gz files"
    for gz in listing.split():
        same = host.run(f"gzip -dc {gz} | cmp -s - {gz.removesuffix('.gz')}")
        assert same.rc == 0, f"{gz} does not decompress to its file"


def test_a_release_with_a_new_migration_runs_it_once_before_the_switch(
    host: Host, artifacts: dict[str, Path]
) -> None:
    created = host.check_output(
        "curl -sf --max-time 10 -H 'Host: notes.test' -H 'Content-Type: application/json' "
        """-d '{"title": "kept", "body": "across releases"}' http://127.0.0.1/api/notes"""
    )
    assert json.loads(created)["title"] == "kept"
    v1 = notes_facts(host)["current"]
    output = deploy_notes(host, "-e", f"python_uv_app_src={artifacts['notes-v2']}")
    assert output.startswith("rc=0"), output[-6000:]
    v2 = notes_facts(host)["current"]
    assert v2 != v1
    assert get_json(host, "/api/schema") == {"revision": "0002"}
    assert query(host, "select serving from migration_log") == [[f"/opt/notes/releases/{v1}"]]
    assert get_json(host, "/api/seed-runs") == {"count": 2}
    titles = [note["title"] for note in get_json(host, "/api/notes")]
    assert titles.count("kept") == 1, titles
    assert len(titles) == 4, titles


def test_a_release_whose_migration_fails_is_refused(host: Host, artifacts: dict[str, Path]) -> None:
    before = notes_facts(host)
    output = deploy_notes(host, "-e", f"python_uv_app_src={artifacts['notes-v3']}")
    assert output.startswith("rc=2"), output[-6000:]
    assert "python_uv_pre_switch_commands: 'alembic upgrade head' failed" in output, output[-6000:]
    assert "RuntimeError: migration 0003 fails on purpose" in output, output[-6000:]
    after = notes_facts(host)
    assert after["current"] == before["current"]
    assert [m["release"] for m in after["releases"]] == [m["release"] for m in before["releases"]]
    assert get_json(host, "/api/schema") == {"revision": "0002"}
    assert get_json(host, "/health") == {"status": "ok"}


def test_a_package_that_does_not_build_is_named_with_the_variable_to_set(
    host: Host, artifacts: dict[str, Path]
) -> None:
    before = notes_facts(host)
    output = deploy_notes(host, "-e", f"python_uv_app_src={artifacts['unbuildable']}")
    assert output.startswith("rc=2"), output[-6000:]
    assert "it could not build brokenpkg" in output, output[-6000:]
    assert "python_uv_system_packages" in output
    assert "cairo.h: No such file or directory" in output, "uv's own output follows"
    assert notes_facts(host)["current"] == before["current"]


def test_notes_rolls_back_with_its_downgrade_and_leaves_the_example_app(host: Host) -> None:
    releases = [m["release"] for m in notes_facts(host)["releases"]]
    webapp_before = host_fingerprint(host, *WEBAPP_STATE)
    output = run(
        host,
        PLAYBOOKS / "rollback.yml",
        *notes_vars(),
        "-e",
        json.dumps({"deploy_rollback_commands": ["alembic downgrade 0001"]}),
    )
    assert output.startswith("rc=0"), output[-6000:]
    assert "A rollback switches code, not data" in output
    assert notes_facts(host)["current"] == releases[0]
    # The downgrade ran with the release being left, which has the migration's script.
    assert get_json(host, "/api/schema") == {"revision": "0001"}
    assert "kept" in [note["title"] for note in get_json(host, "/api/notes")]
    assert host_fingerprint(host, *WEBAPP_STATE) == webapp_before


def test_the_example_app_deploys_and_rolls_back_without_touching_notes(
    host: Host, artifacts: dict[str, Path]
) -> None:
    notes_before = host_fingerprint(host, *NOTES_STATE)
    webapp_v1 = json.loads(host.file(WEBAPP_FACT).content_string)["current"]
    output = run(host, PLAYBOOKS / "site.yml", "-e", f"python_uv_app_src={artifacts['webapp-v2']}")
    assert output.startswith("rc=0"), output[-6000:]
    assert json.loads(host.file(WEBAPP_FACT).content_string)["current"] != webapp_v1
    output = run(host, PLAYBOOKS / "rollback.yml")
    assert output.startswith("rc=0"), output[-6000:]
    assert json.loads(host.file(WEBAPP_FACT).content_string)["current"] == webapp_v1
    assert host_fingerprint(host, *NOTES_STATE) == notes_before
    assert get_json(host, "/health") == {"status": "ok"}


def test_a_second_catch_all_site_is_refused_before_any_change(host: Host) -> None:
    notes_before = host_fingerprint(host, *NOTES_STATE)
    output = deploy_notes(host, "-e", json.dumps({"nginx_gateway_server_names": ["_"]}))
    assert output.startswith("rc=2"), output[-6000:]
    assert "already is the default server on port 80" in output, output[-6000:]
    assert "Nothing was changed" in output
    assert host_fingerprint(host, *NOTES_STATE) == notes_before


def test_a_third_app_in_place_shares_its_paths_and_runs_its_commands(host: Host) -> None:
    """The notes app again, as "memo" and without releases: its shared paths are links in
    its app directory, its commands ran after uv sync, and a re-run changes nothing."""
    memo = json.dumps(
        {
            "python_uv_app_name": "memo",
            "nginx_gateway_server_names": ["memo.test"],
            "deploy_releases": False,
        }
    )
    output = deploy_notes(host, "-e", memo)
    assert output.startswith("rc=0"), output[-6000:]
    app = "/opt/memo/app"
    assert host.file(f"{app}/instance").linked_to == "/var/lib/memo/shared/instance"
    assert host.file(f"{app}/activity.log").linked_to == "/var/lib/memo/shared/activity.log"
    assert get_json(host, "/health", site="memo.test") == {"status": "ok"}
    assert get_json(host, "/api/seed-runs", site="memo.test") == {"count": 1}
    assert get_json(host, "/api/schema", site="memo.test") == {"revision": "0001"}
    again = deploy_notes(host, "-e", memo)
    assert again.startswith("rc=0"), again[-6000:]
    assert recap_changed(again, host) == 0, again[-6000:]
    assert get_json(host, "/api/seed-runs", site="memo.test") == {"count": 1}


def test_reruns_change_nothing_in_either_app(host: Host) -> None:
    # The converge's sources: the notes release they built serves again since the rollback
    # (its downgrade left the schema at 0001), so nothing is built and nothing migrates.
    output = deploy_notes(host)
    assert output.startswith("rc=0"), output[-6000:]
    assert get_json(host, "/api/schema") == {"revision": "0001"}
    webapp_before = host_fingerprint(host, *WEBAPP_STATE)
    notes_before = host_fingerprint(host, *NOTES_STATE)
    for playbook in (SCENARIO / "notes.yml", SCENARIO / "converge.yml"):
        output = run(host, playbook)
        assert output.startswith("rc=0"), output[-6000:]
        assert recap_changed(output, host) == 0, output[-6000:]
    assert host_fingerprint(host, *WEBAPP_STATE) == webapp_before
    assert host_fingerprint(host, *NOTES_STATE) == notes_before
