"""Unit tests for the pure parts of the benchmarks: wrk and recap parsing, medians,
ratios, goals and the Markdown tables (tools/bench_report.py), and, from tools/bench.py,
the source changes the Ansible benchmark makes between deploys and how it runs the
current tree and a baseline's (environment, inventory, steps), without a container."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tools import bench, bench_hosts, bench_report
from tools.bench_report import Sample, WrkResult

WRK_PLAIN = """\
Running 8s test @ http://127.0.0.1:80/api/health
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.93ms    3.21ms  45.67ms   75.00%
    Req/Sec     3.61k   312.45     4.20k    70.00%
  Latency Distribution
     50%  812.00us
     75%   10.20ms
     90%   12.80ms
     99%    1.02s
  57563 requests in 8.01s, 10.43MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:   7186.46
Transfer/sec:      1.30MB
"""

SUMMARY = {
    "requests": 57563,
    "bytes": 10936970,
    "duration_us": 8010000,
    "p50_us": 812,
    "p99_us": 1020345,
    "connect": 0,
    "read": 0,
    "write": 0,
    "timeout": 0,
    "status": 0,
}


def result(rps: float, p99: float = 10.0, errors: int = 0, size: int = 1000) -> WrkResult:
    return WrkResult(
        requests=1000,
        duration_s=1.0,
        requests_per_s=rps,
        p50_ms=p99 / 2,
        p99_ms=p99,
        bytes_read=size * 1000,
        socket_errors=0,
        non_2xx=errors,
    )


# --- wrk ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [("812.00us", 0.812), ("8.93ms", 8.93), ("1.02s", 1020.0), ("2.00m", 120_000.0)],
)
def test_parse_duration_ms(text: str, ms: float) -> None:
    assert bench_report.parse_duration_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize(
    ("text", "size"), [("512.00B", 512), ("1.50KB", 1536), ("10.43MB", 10936648)]
)
def test_parse_size(text: str, size: int) -> None:
    assert bench_report.parse_size(text) == size


@pytest.mark.parametrize("bad", ["", "8.93 parsecs", "ms", "1,000B"])
def test_parse_units_refuse_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="not a wrk"):
        bench_report.parse_duration_ms(bad)
    with pytest.raises(ValueError, match="not a wrk"):
        bench_report.parse_size(bad)


def test_parse_wrk_report() -> None:
    parsed = bench_report.parse_wrk(WRK_PLAIN)
    assert parsed.requests == 57563
    assert parsed.duration_s == pytest.approx(8.01)
    assert parsed.requests_per_s == pytest.approx(7186.46)
    assert parsed.p50_ms == pytest.approx(0.812)
    assert parsed.p99_ms == pytest.approx(1020.0)
    assert parsed.bytes_read == 10936648
    assert parsed.socket_errors == 10
    assert parsed.non_2xx == 12
    assert parsed.errors == 22
    assert parsed.bytes_per_request == pytest.approx(10936648 / 57563)


def test_parse_wrk_without_errors_has_zero_errors() -> None:
    text = "\n".join(
        line
        for line in WRK_PLAIN.splitlines()
        if "Socket errors" not in line and "Non-2xx" not in line
    )
    assert bench_report.parse_wrk(text).errors == 0


def test_parse_wrk_prefers_the_exact_summary_line() -> None:
    text = WRK_PLAIN + bench_report.SUMMARY_MARKER + json.dumps(SUMMARY) + "\n"
    parsed = bench_report.parse_wrk(text)
    assert parsed.bytes_read == 10936970
    assert parsed.requests_per_s == pytest.approx(57563 / 8.01)
    assert parsed.p99_ms == pytest.approx(1020.345)
    assert parsed.errors == 0


def test_parse_wrk_without_a_report_fails() -> None:
    with pytest.raises(ValueError, match="no wrk report"):
        bench_report.parse_wrk("unable to connect to 127.0.0.1:80 Connection refused\n")


def test_parse_wrk_needs_the_latency_distribution() -> None:
    head, _, tail = WRK_PLAIN.partition("  Latency Distribution\n")
    without = head + tail.split("\n", 4)[4]
    with pytest.raises(ValueError, match="--latency"):
        bench_report.parse_wrk(without)


# --- medians, ratios and goals -----------------------------------------------------------


def test_median_and_ratio() -> None:
    assert bench_report.median([3.0, 1.0, 2.0]) == 2.0
    assert bench_report.median([1.0, 2.0, 3.0, 10.0]) == 2.5
    with pytest.raises(ValueError, match="no values"):
        bench_report.median([])
    assert bench_report.ratio(9.0, 10.0) == pytest.approx(0.9)
    assert bench_report.ratio(1.0, 0.0) is None


def test_summarize_takes_medians_and_sums_errors() -> None:
    samples = [
        Sample(1, "seed", "health", result(100.0, p99=30.0, errors=1)),
        Sample(2, "seed", "health", result(300.0, p99=10.0)),
        Sample(3, "seed", "health", result(200.0, p99=20.0, errors=2)),
        Sample(1, "collection", "health", result(500.0)),
    ]
    summaries = bench_report.summarize(samples)
    seed = summaries[("seed", "health")]
    assert seed.rounds == 3
    assert seed.requests_per_s == 200.0
    assert seed.p99_ms == 20.0
    assert seed.errors == 3
    assert seed.bytes_per_request == 1000.0
    assert summaries[("collection", "health")].rounds == 1


def _summaries(
    seed: float, coll: float, direct: float, *, coll_p99: float = 5.0, errors: int = 0
) -> dict[tuple[str, str], bench_report.Summary]:
    samples = [
        Sample(1, "seed", "health", result(seed, p99=10.0)),
        Sample(1, "collection", "health", result(coll, p99=coll_p99, errors=errors)),
        Sample(1, "direct", "health", result(direct)),
        Sample(1, "seed", "index", result(1000.0)),
        Sample(1, "collection", "index", result(999.0)),
    ]
    return bench_report.summarize(samples)


SPECS = [
    bench_report.EndpointSpec("health", "/api/health", api=True),
    bench_report.EndpointSpec("index", "/", api=False),
]


def test_http_targets_all_met_for_the_api() -> None:
    targets = bench_report.http_targets(_summaries(100.0, 190.0, 200.0), SPECS)
    by_name = {t.name: t for t in targets}
    assert by_name["/api/health: collection / seed"].met
    assert by_name["/api/health: collection / seed"].measured == "1.90x"
    assert by_name["/api/health: collection / direct"].met
    assert by_name["/api/health: collection errors"].met
    assert by_name["/api/health: collection p99 vs seed p99"].met
    assert not by_name["/: collection / seed"].met  # 999 < 1000


def test_http_targets_missed() -> None:
    targets = bench_report.http_targets(
        _summaries(100.0, 170.0, 200.0, coll_p99=11.0, errors=1), SPECS
    )
    missed = {t.name for t in targets if not t.met}
    assert missed == {
        "/api/health: collection / seed",
        "/api/health: collection / direct",
        "/api/health: collection errors",
        "/api/health: collection p99 vs seed p99",
        "/: collection / seed",
    }


def test_http_markdown_has_the_ratio_table() -> None:
    summaries = _summaries(100.0, 190.0, 200.0)
    targets = bench_report.http_targets(summaries, SPECS)
    text = bench_report.http_markdown(summaries, SPECS, targets, {"date": "2026-01-01"})
    assert "- **date**: 2026-01-01" in text
    assert "| `/api/health` | 100 | 190 | 200 | 1.90x | 0.95x |" in text
    assert "| `/` | 1,000 | 999 | - | 1.00x | - |" in text
    assert "| `/api/health` | direct | 200 | 5.00 | 10.00 | 0 | 1,000 |" in text
    assert "| /: collection / seed | 1.00x | >= 1.0x | **no** |" in text


ENCODINGS = [
    bench_report.EncodingRow("", "asset", "", 164_921),
    bench_report.EncodingRow("gzip", "asset_gzip", "gzip", 62_687),
    bench_report.EncodingRow("br", "asset_br", "br", 54_000),
]


def _asset_summaries() -> dict[tuple[str, str], bench_report.Summary]:
    return bench_report.summarize(
        [
            Sample(1, "collection", "asset", result(20_000.0, p99=8.0, size=165_300)),
            Sample(1, "collection", "asset_gzip", result(40_000.0, p99=4.0, size=63_300)),
            Sample(1, "collection", "asset_br", result(44_000.0, p99=5.0, size=54_600)),
            Sample(1, "seed", "asset_br", result(1.0)),
        ]
    )


def test_encoding_comparison_is_br_over_gzip_for_the_collection() -> None:
    compared = bench_report.encoding_comparison(_asset_summaries(), ENCODINGS)
    assert compared["body_bytes"] == pytest.approx(54_000 / 62_687)
    assert compared["requests_per_s"] == pytest.approx(1.1)
    assert compared["p99_ms"] == pytest.approx(1.25)
    assert bench_report.encoding_comparison(_asset_summaries(), ENCODINGS[:2]) == {
        "body_bytes": None,
        "requests_per_s": None,
        "p99_ms": None,
    }


def test_encoding_markdown_puts_the_encodings_side_by_side() -> None:
    summaries = _asset_summaries()
    lines = bench_report.encoding_markdown(summaries, "/assets/index-X.js", ENCODINGS)
    assert lines[0] == (
        "## `/assets/index-X.js` by Accept-Encoding (collection, medians of the rounds)"
    )
    assert "| (none) | (none) | 164,921 | 165,300 | 20,000 | 4.00 | 8.00 |" in lines
    assert "| gzip | gzip | 62,687 | 63,300 | 40,000 | 2.00 | 4.00 |" in lines
    assert "| br | br | 54,000 | 54,600 | 44,000 | 2.50 | 5.00 |" in lines
    assert lines[-1] == "br / gzip: body bytes 0.86x, requests/s 1.10x, p99 1.25x."
    text = bench_report.http_markdown(summaries, SPECS, [], {"date": "d"}, lines)
    assert text.index("by Accept-Encoding") < text.index("## Goals")


# --- Ansible -----------------------------------------------------------------------------

_COUNTS = "unreachable=0    failed=0    skipped={}   rescued=0    ignored=0"
RECAP = (
    "PLAY RECAP ****************************************************************\n"
    "fullstack-webapp-bench-1   : ok=81   changed=0    " + _COUNTS.format(25) + "\n"
    "\x1b[0;33mfullstack-webapp-bench-2\x1b[0m   : \x1b[0;32mok=80\x1b[0m   "
    "\x1b[0;33mchanged=2\x1b[0m    " + _COUNTS.format(26) + "\n"
    "\n"
    "TASKS RECAP ***************************************************************\n"
    "Sunday 29 November 2026  03:21:59 +0000 (0:00:00.855)       0:00:56.228 *******\n"
    "===========================================================================\n"
    "fullstack.webapp.python_uv : Copy the application source directory ----- 13.85s\n"
    "fullstack.webapp.frontend : Copy the files of the dist ------------------ 3.75s\n"
    "Gathering Facts --------------------------------------------------------- 1.68s\n"
)


def test_parse_recap_with_and_without_colours() -> None:
    recaps = bench_report.parse_recap(RECAP)
    assert set(recaps) == {"fullstack-webapp-bench-1", "fullstack-webapp-bench-2"}
    assert recaps["fullstack-webapp-bench-1"].ok == 81
    assert recaps["fullstack-webapp-bench-1"].skipped == 25
    assert recaps["fullstack-webapp-bench-2"].changed == 2


def test_parse_profile_tasks() -> None:
    assert bench_report.parse_profile_tasks(RECAP, limit=2) == [
        ("fullstack.webapp.python_uv : Copy the application source directory", 13.85),
        ("fullstack.webapp.frontend : Copy the files of the dist", 3.75),
    ]
    assert bench_report.parse_profile_tasks("no recap here") == []


def test_ansible_run_sums_over_hosts_and_needs_every_host() -> None:
    hosts = ["fullstack-webapp-bench-1", "fullstack-webapp-bench-2"]
    run = bench_report.ansible_run("no-change re-run", hosts, 12.5, RECAP)
    assert (run.hosts, run.tasks_ok, run.changed, run.skipped) == (2, 161, 2, 51)
    assert run.slowest[0][1] == 13.85
    with pytest.raises(ValueError, match="fullstack-webapp-bench-3"):
        bench_report.ansible_run("x", [*hosts, "fullstack-webapp-bench-3"], 1.0, RECAP)


def _run(
    name: str,
    seconds: float,
    hosts: int = 1,
    cpu: float = 0.0,
    transport: str = "docker",
    strategy: str = "linear",
) -> bench_report.AnsibleRun:
    return bench_report.AnsibleRun(name, hosts, seconds, 10, 0, 0, controller_cpu_s=cpu,
                                   transport=transport, strategy=strategy)  # fmt: skip


def test_ansible_targets_for_each_transport_and_strategy() -> None:
    runs = [
        _run("fresh converge, 1 host", 60.0),
        _run("no-change re-run", 5.0, cpu=1.9),
        _run("back-end-only redeploy", 15.1),
        _run("front-end-only redeploy", 8.0),
        _run("no-change re-run, 4 hosts", 7.4, hosts=4, cpu=8.4),
        _run("no-change re-run, 8 hosts", 10.5, hosts=8, cpu=15.0),
        _run("no-change re-run", 4.0, cpu=1.0, transport="ssh", strategy="mitogen"),
    ]
    targets = {t.name: t for t in bench_report.ansible_targets(runs)}
    assert targets["no-change re-run [docker, linear]"].met  # at most 5 s
    assert not targets["back-end-only redeploy [docker, linear]"].met
    assert targets["front-end-only redeploy [docker, linear]"].met
    four = targets["no-change re-run, 4 hosts / 1 host [docker, linear]"]
    assert (four.measured, four.met) == ("1.48x", True)
    eight = targets["no-change re-run, 8 hosts / 1 host [docker, linear]"]
    assert (eight.measured, eight.met) == ("2.10x", False)
    cpu = targets["controller CPU per host, no-change re-run, 4 hosts [docker, linear]"]
    assert (cpu.measured, cpu.met) == ("2.1 s", False)
    assert targets["controller CPU per host, no-change re-run [docker, linear]"].met
    assert targets["no-change re-run [ssh, mitogen]"].measured == "4.0 s"
    assert "back-end-only redeploy [ssh, mitogen]" not in targets, "only what was measured"
    text = bench_report.ansible_markdown(runs, list(targets.values()), {})
    assert "| no-change re-run | 1 | docker, linear | 5.0 | 1.9 + 0.0 | 10 | 0 | 0 | - |" in text
    assert "| no-change re-run | 1 | ssh, mitogen | 4.0 | 1.0 + 0.0 | 10 | 0 | 0 | - |" in text


def test_the_baseline_is_compared_on_its_own_transport_and_strategy() -> None:
    current = [_run("no-change re-run", 5.0), _run("no-change re-run", 4.0, transport="ssh")]
    baseline = [_run("no-change re-run", 10.0)]
    [comparison] = bench_report.compare_runs(current, baseline)
    assert comparison.current.way == "docker, linear"
    assert comparison.seconds_ratio == 0.5


def _timed(
    name: str, seconds: float, cpu: float = 10.0, changed: int = 0, hosts: int = 1
) -> bench_report.AnsibleRun:
    return bench_report.AnsibleRun(
        name, hosts, seconds, 70, changed, 80, [(f"task of {seconds}", 1.0)], cpu, 5.0
    )


def test_combine_rounds_takes_medians_and_keeps_each_round() -> None:
    rounds = [
        _timed("no-change re-run", s, cpu=c) for s, c in ((15.0, 9.0), (13.0, 9.5), (14.0, 12.0))
    ]
    run = bench_report.combine_rounds(rounds)
    assert (run.name, run.seconds, run.controller_cpu_s, run.hosts_cpu_s) == (
        "no-change re-run", 14.0, 9.5, 5.0)  # fmt: skip
    assert run.slowest == [("task of 14.0", 1.0)]  # the median round's
    assert run.round_seconds == [15.0, 13.0, 14.0]
    assert run.round_changed == [0, 0, 0]
    assert bench_report.combine_rounds(rounds[:1]) is rounds[0]
    with pytest.raises(ValueError, match="no rounds"):
        bench_report.combine_rounds([])


def test_rounds_that_disagree_on_changes_show_each() -> None:
    run = bench_report.combine_rounds(
        [_timed("no-change re-run", 14.0, changed=n) for n in (1, 0, 0)]
    )
    assert run.changed == 1  # the first round's
    text = bench_report.ansible_markdown([run], [], {})
    assert "| no-change re-run | 1 | docker, linear | 14.0 | 10.0 + 5.0 | 70 | 1/0/0 | 80 |" in text
    assert "- no-change re-run [docker, linear]: median of 3 rounds, 14.0, 14.0, 14.0 s" in text


def test_the_report_without_a_baseline_has_no_comparison() -> None:
    text = bench_report.ansible_markdown([_timed("no-change re-run", 14.0)], [], {})
    assert "baseline" not in text
    assert "rounds" not in text


def test_compare_runs_pairs_the_steps_by_name() -> None:
    current = [
        _timed("fresh converge, 1 host", 45.0, cpu=15.0),
        _timed("no-change re-run", 12.0, cpu=8.0),
    ]
    baseline = [_timed("no-change re-run", 16.0, cpu=10.0)]
    fresh, nochange = bench_report.compare_runs(current, baseline)
    assert (fresh.baseline, fresh.seconds_ratio, fresh.controller_cpu_ratio) == (None, None, None)
    assert nochange.baseline is baseline[0]
    assert nochange.seconds_ratio == pytest.approx(0.75)
    assert nochange.controller_cpu_ratio == pytest.approx(0.8)
    assert bench_report.comparisons_jsonable([nochange]) == [
        {"name": "no-change re-run", "hosts": 1, "current_seconds": 12.0,
         "baseline_seconds": 16.0, "seconds_ratio": 0.75, "controller_cpu_ratio": 0.8}
    ]  # fmt: skip


def test_the_report_with_a_baseline_has_both_trees_and_the_ratios() -> None:
    current = [
        _timed("fresh converge, 1 host", 45.0, cpu=15.0, changed=34),
        _timed("no-change re-run", 12.0, cpu=8.0),
    ]
    baseline = [
        _timed("fresh converge, 1 host", 50.0, cpu=16.0, changed=33),
        _timed("no-change re-run", 16.0, cpu=10.0),
    ]
    text = bench_report.ansible_markdown(current, [], {}, baseline=baseline)
    assert "## Against the baseline" in text
    assert (
        "| fresh converge, 1 host | 1 | 45.0 | 50.0 | 0.90x | 15.0 | 16.0 | 0.94x "
        "| 70/34/80 | 70/33/80 |" in text
    )
    assert (
        "| no-change re-run | 1 | 12.0 | 16.0 | 0.75x | 8.0 | 10.0 | 0.80x | 70/0/80 | 70/0/80 |"
        in text
    )
    assert "### The baseline's runs" in text
    assert "| no-change re-run | 1 | docker, linear | 16.0 | 10.0 + 5.0 | 70 | 0 | 80 |" in text
    assert "failed" not in text
    # the current tree's table and the goals come as without a baseline
    assert text.index("| no-change re-run | 1 | docker, linear | 12.0 | 8.0 + 5.0 |") < text.index(
        "## Against"
    )
    assert text.rstrip().endswith("|---|---|---|---|")


def test_a_failed_baseline_is_reported_and_the_current_tree_still_is() -> None:
    current = [_timed("fresh converge, 1 host", 45.0), _timed("no-change re-run", 12.0)]
    failure = bench_report.BaselineFailure(
        "no-change re-run", "fatal: [h]: FAILED! =>\n  msg: boom"
    )
    text = bench_report.ansible_markdown(
        current, [], {}, baseline=[_timed("fresh converge, 1 host", 50.0)], baseline_failure=failure
    )
    assert "| no-change re-run | 1 | 12.0 | **failed** | - | 10.0 | - | - | 70/0/80 | - |" in text
    assert "**The baseline failed** at `no-change re-run`" in text
    assert "```\nfatal: [h]: FAILED! =>\n  msg: boom\n```" in text
    assert "| fresh converge, 1 host | 1 | 45.0 |" in text
    # failed before its first run: no table of its own, every step without a figure
    text = bench_report.ansible_markdown(
        current, [], {}, baseline=[], baseline_failure=bench_report.BaselineFailure("setup", "x")
    )
    assert "### The baseline's runs" not in text
    assert "| fresh converge, 1 host | 1 | 45.0 | - | - | 10.0 | - | - | 70/0/80 | - |" in text


def test_failure_summary_keeps_what_failed() -> None:
    output = (
        "TASK [fullstack.webapp.python_uv : Install] ***\n"
        "ok: [h]\n"
        "fatal: [h]: FAILED! =>\n"
        "  changed: false\n"
        "  msg: No package matching 'pyhton3' is available\n"
        "\n"
        "PLAY RECAP ***\n"
        "h : ok=3 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0\n"
    )
    summary = bench_report.failure_summary(output, limit=3)
    assert summary.splitlines() == [
        "fatal: [h]: FAILED! =>",
        "  changed: false",
        "  msg: No package matching 'pyhton3' is available",
    ]
    assert bench_report.failure_summary("[ERROR]: the playbook site.yml could not be found") == (
        "[ERROR]: the playbook site.yml could not be found"
    )
    assert bench_report.failure_summary("a\nb\nc\n", limit=2) == "b\nc"
    assert bench_report.failure_summary("fatal: " + "x" * 500, width=20) == "fatal: xxxxxxxxxx..."


# --- the sources the Ansible benchmark changes between deploys ----------------------------


def test_change_frontend_makes_a_new_bundle_and_index(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "index-OLD.js").write_text("console.log('/api')\n")
    (tmp_path / "index.html").write_text(
        '<script type="module" crossorigin src="/assets/index-OLD.js"></script>\n'
    )
    script = bench.change_frontend(tmp_path, "b42")
    assert script == "/assets/index-b42.js"
    assert not (tmp_path / "assets" / "index-OLD.js").exists()
    assert "build b42" in (tmp_path / "assets" / "index-b42.js").read_text()
    assert 'src="/assets/index-b42.js"' in (tmp_path / "index.html").read_text()


def test_change_backend_writes_a_version_file(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    bench.change_backend(tmp_path, "b42")
    assert 'BUILD_ID = "b42"' in (tmp_path / "app" / "build_info.py").read_text()


def test_endpoints_cover_the_api_the_spa_and_the_asset_each_way() -> None:
    points = bench.endpoints("/assets/index-X.js")
    assert [e.path for e in points if e.api] == ["/api/health", "/api/items"]
    assert [e.path for e in points if not e.api] == ["/", "/dashboard"] + ["/assets/index-X.js"] * 3
    assert [e.gzip for e in points].count(True) == 1
    by_key = {e.key: e for e in points}
    # gzip and br side by side, in this order, in every round
    assert [e.key for e in points][-2:] == ["asset_gzip", "asset_br"]
    assert {accept: by_key[key].accept_encoding for accept, key in bench.ASSET_ENCODINGS} == {
        "": "",
        "gzip": "gzip",
        "br": "br",
    }


# --- the trees the Ansible benchmark runs -------------------------------------------------


def test_the_inventory_sets_only_the_roles_own_variables(tmp_path: Path) -> None:
    inventory = json.loads(
        bench.write_inventory(tmp_path / "i.yml", ["a", "b"], tmp_path, tmp_path).read_text()
    )
    assert set(inventory["webapp"]["hosts"]) == {"a", "b"}
    prefixes = ("python_uv_", "gunicorn_", "frontend_", "nginx_gateway_")
    assert all(name.startswith(prefixes) for name in inventory["webapp"]["vars"])


def test_collections_path_puts_the_tree_first_without_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    checkout = str(bench.ROOT / ".cache" / "collections")
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", f"{checkout}:/venv/site-packages")
    assert bench.collections_path(tmp_path) == f"{tmp_path}/.cache/collections:/venv/site-packages"
    assert bench.collections_path(bench.ROOT) == f"{checkout}:/venv/site-packages"
    assert bench.site_env(tmp_path)["ANSIBLE_COLLECTIONS_PATH"] == bench.collections_path(tmp_path)
    assert bench.site_env(bench.ROOT)["ANSIBLE_CONFIG"] == str(bench.ROOT / "ansible.cfg")
    # unset: each tree's ansible.cfg says where (./.cache/collections, next to it)
    monkeypatch.delenv("ANSIBLE_COLLECTIONS_PATH")
    assert "ANSIBLE_COLLECTIONS_PATH" not in bench.site_env(tmp_path)
    assert bench.collections_path(tmp_path) == f"{tmp_path}/.cache/collections"


def test_each_tree_has_containers_of_its_own() -> None:
    current = bench.Tree("current", bench.ROOT)
    baseline = bench.Tree("baseline", bench.ROOT / "b", bench.BASELINE_SUFFIX)
    assert current.names(2) == ["fullstack-webapp-bench-1", "fullstack-webapp-bench-2"]
    assert baseline.names(1) == ["fullstack-webapp-bench-1-base"]


def _bench(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fail_at: int
) -> tuple[bench.AnsibleBench, list[str]]:
    """An AnsibleBench with a baseline whose `fail_at`-th run fails, and the list of the
    runs it makes (tree and round); no container is started."""
    monkeypatch.setattr(bench, "WORK", tmp_path)
    monkeypatch.setattr(bench, "stage_sources", lambda: (tmp_path / "b", tmp_path / "d"))
    monkeypatch.setattr(bench, "load_snapshot", dict)
    args = argparse.Namespace(
        hosts=[1],
        rounds=3,
        keep=False,
        transports=["docker"],
        strategies=["linear"],
        paths=["whole"],
    )
    ab = bench.AnsibleBench(args)
    ab.baseline = bench.Tree("baseline", tmp_path, bench.BASELINE_SUFFIX)
    calls: list[str] = []

    def timed(
        tree: bench.Tree, name: str, hosts: list[str], note: str, combo: bench_hosts.Combo
    ) -> bench_report.AnsibleRun:
        calls.append(f"{tree.label}{note}" + ("" if combo.strategy == "linear" else " mitogen"))
        if tree.label == "baseline" and sum(c.startswith("baseline") for c in calls) == fail_at:
            raise bench.SiteFailed(2, "TASK [x]\nfatal: [h]: FAILED! =>\n  msg: boom\n")
        return _timed(name, 10.0 + len(calls))

    monkeypatch.setattr(ab, "timed", timed)
    return ab, calls


def test_a_step_runs_both_trees_round_by_round(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ab, calls = _bench(monkeypatch, tmp_path, fail_at=0)
    ab.step("no-change re-run", 1, rounds=3)
    assert calls == [f"{tree}, round {n}/3" for n in (1, 2, 3) for tree in ("current", "baseline")]
    assert ab.runs["current"][0].round_seconds == [11.0, 13.0, 15.0]
    assert ab.runs["baseline"][0].seconds == 14.0
    assert ab.failure is None


def test_the_baseline_runs_the_first_transport_and_strategy_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ab, calls = _bench(monkeypatch, tmp_path, fail_at=0)
    ab.args.strategies = ["linear", "mitogen"]
    ab.step("no-change re-run", 1, combo=bench_hosts.Combo("docker", "linear"))
    ab.step("no-change re-run", 1, combo=bench_hosts.Combo("docker", "mitogen"))
    assert calls == ["current", "baseline", "current mitogen"]


def test_a_failed_baseline_drops_its_step_and_the_current_tree_goes_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ab, calls = _bench(monkeypatch, tmp_path, fail_at=3)  # round 2 of the no-change re-run
    ab.step("fresh converge, 1 host", 1)
    ab.step("no-change re-run", 1, rounds=3)
    ab.step("back-end-only redeploy", 1)
    assert [run.name for run in ab.runs["baseline"]] == ["fresh converge, 1 host"]
    assert [run.name for run in ab.runs["current"]] == [
        "fresh converge, 1 host", "no-change re-run", "back-end-only redeploy"]  # fmt: skip
    assert calls == [
        "current", "baseline", "current, round 1/3", "baseline, round 1/3",
        "current, round 2/3", "baseline, round 2/3", "current, round 3/3", "current"]  # fmt: skip
    assert ab.runs["current"][1].round_seconds == [13.0, 15.0, 17.0]
    assert ab.failure == bench_report.BaselineFailure(
        "no-change re-run", "fatal: [h]: FAILED! =>\n  msg: boom"
    )
    assert "msg: boom" in (tmp_path / "baseline-failure.log").read_text()
    assert ab.trees() == [ab.current]


def test_a_failure_of_the_current_tree_ends_the_benchmark(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ab, _ = _bench(monkeypatch, tmp_path, fail_at=0)

    def broken(
        tree: bench.Tree, name: str, hosts: list[str], note: str, combo: bench_hosts.Combo
    ) -> bench_report.AnsibleRun:
        raise bench.SiteFailed(2, "fatal: [h]: FAILED!")

    monkeypatch.setattr(ab, "timed", broken)
    with pytest.raises(bench.SiteFailed):
        ab.step("fresh converge, 1 host", 1)


@pytest.mark.parametrize("value", ["ansible-latest", "deploy-role-vs-1ef1ba1", "run.2"])
def test_output_takes_a_file_stem(value: str) -> None:
    assert bench.result_stem(value) == value


@pytest.mark.parametrize("value", ["benchmarks/results/x", "../x", "", "x y"])
def test_output_refuses_a_path_before_anything_runs(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a file stem"):
        bench.result_stem(value)


def test_what_one_task_costs_bounds_the_no_change_re_run() -> None:
    floors = [
        bench_report.TaskFloor("skipped", "docker", "linear", 50, 2.0, 1.5),
        bench_report.TaskFloor("set_fact", "docker", "linear", 50, 3.0, 2.0),
        bench_report.TaskFloor("stat", "docker", "linear", 50, 10.0, 3.0),
    ]
    assert (floors[2].ms_per_task, floors[2].cpu_ms_per_task) == (200.0, 60.0)
    run = bench_report.AnsibleRun("no-change re-run", 1, 30.0, 80, 0, 120)
    elsewhere = bench_report.AnsibleRun("no-change re-run", 1, 9.0, 80, 0, 120, transport="ssh")
    [bound] = bench_report.floor_bounds([run, elsewhere], floors)
    # 120 skipped at 40 ms, then 80 run at 60 to 200 ms
    assert bound.startswith("- no-change re-run [docker, linear]: 30.0 s for 80 tasks run")
    assert "they cost 9.6 s (every task run a controller-only one) to 20.8 s" in bound
    text = bench_report.ansible_markdown([run], [], {}, floors=floors)
    assert "| stat | docker, linear | 50 | 200 | 60 |" in text
    assert bound in text
