"""frontend_assets_bridge: the hashed assets of earlier dists stay on the host after a new one
is installed, for tabs opened before it; with releases in a bridge directory that follows the
kept releases, in place until frontend_release_keep later dists lack them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from testinfra.host import Host

from tools.testing import recap_changed, run_playbook

SCENARIO = Path(__file__).resolve().parent.parent
FIXTURE = SCENARIO / "files" / "dist"


def dist(base: Path, name: str) -> Path:
    """The fixture dist with an asset of its own, assets/NAME-<hash>.js."""
    dest = base / name
    shutil.copytree(FIXTURE, dest)
    (dest / "assets" / f"{name}-0a1b2c.js").write_text(f"console.log('{name}')\n" * 20)
    index = dest / "index.html"
    index.write_text(index.read_text().replace("</head>", f"<!-- {name} --></head>"))
    return dest


def install(host: Host, source: Path, **variables: object) -> str:
    result = run_playbook(
        SCENARIO / "refuse.yml",
        host.backend.get_hostname(),
        "-e",
        json.dumps(
            {
                "frontend_dist_src": str(source),
                "frontend_release_keep": 2,
                # No web server in this scenario.
                "frontend_reload_services": [],
                **variables,
            }
        ),
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def assets(host: Host, path: str) -> set[str]:
    return set(host.check_output(f"ls {path} 2>/dev/null || true").split())


def test_in_place_a_file_that_left_the_dist_goes_after_keep_later_dists(
    host: Host, tmp_path: Path
) -> None:
    dest = "/srv/bridge-in-place/dist"
    install(host, dist(tmp_path, "one"), frontend_dest=dest)
    install(host, dist(tmp_path, "two"), frontend_dest=dest)
    held = assets(host, f"{dest}/assets")
    assert {"one-0a1b2c.js", "one-0a1b2c.js.gz", "two-0a1b2c.js"} <= held, held
    install(host, dist(tmp_path, "three"), frontend_dest=dest)
    held = assets(host, f"{dest}/assets")
    assert "one-0a1b2c.js" not in held, held
    assert "one-0a1b2c.js.gz" not in held, held
    assert {"two-0a1b2c.js", "three-0a1b2c.js", "app-1a2b3c.js"} <= held, held


def test_with_releases_the_bridge_holds_the_kept_releases_assets(
    host: Host, tmp_path: Path
) -> None:
    dest = "/srv/bridge-releases/dist"
    bridge = "/srv/bridge-releases/bridge/assets"
    for name in ("one", "two"):
        install(host, dist(tmp_path, name), frontend_dest=dest, frontend_releases=True)
    assert {"one-0a1b2c.js", "two-0a1b2c.js", "app-1a2b3c.js"} <= assets(host, bridge)
    served = host.check_output(f"readlink -f {dest}")
    # Hard links into the releases: the bridge costs no second copy.
    links = host.check_output(f"stat -c %h {served}/assets/two-0a1b2c.js")
    assert int(links) == 2, links
    three = dist(tmp_path, "three")
    install(host, three, frontend_dest=dest, frontend_releases=True)
    held = assets(host, bridge)
    assert "one-0a1b2c.js" not in held, "pruned with its release"
    assert {"two-0a1b2c.js", "three-0a1b2c.js"} <= held, held
    again = install(host, three, frontend_dest=dest, frontend_releases=True)
    assert recap_changed(again, host) == 0, again[-3000:]
