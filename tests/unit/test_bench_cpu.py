"""Unit tests for `make bench`'s CPU per request and HTTPS parts: h2load's report and log,
the units' CPU readings, bash's `times`, the medians of CPU-µs per request and their tables
(tools/bench_report.py), and the HTTPS site tools/bench.py adds with the nginx_gateway role."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tools import bench, bench_report
from tools.bench_report import CpuUsage, EndpointSpec, Sample, WrkResult

ROOT = Path(__file__).resolve().parents[2]

# A report in the format of h2load 1.52.0 (Debian 12's nghttp2-client), with -D (duration).
H2LOAD = """\
starting benchmark...
spawning thread #0: 32 total client(s). Timing-based test with 0s warm-up time and 2s main \
duration for each client
spawning thread #1: 32 total client(s). Timing-based test with 0s warm-up time and 2s main \
duration for each client
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 3040.50 req/s, 2.05MB/s
requests: 6081 total, 6145 started, 6081 done, 6079 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 6079 2xx, 0 3xx, 1 4xx, 1 5xx
traffic: 4.10MB (4300231) total, 170.47KB (174560) headers (space savings 88.31%), \
1.48MB (1551624) data
                     min         max         mean         sd        +/- sd
time for request:      812us     41.23ms     20.73ms      4.12ms    71.40%
"""


def h2load_log(times_us: list[int]) -> str:
    return "".join(f"1764923400{n:06d}\t200\t{t}\n" for n, t in enumerate(times_us))


def result(requests: int, rps: float = 1000.0, p99: float = 10.0) -> WrkResult:
    return WrkResult(requests, 1.0, rps, p99 / 2, p99, requests * 300, 0, 0)


# --- h2load --------------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(100, 0, -1)]  # 1..100, unsorted
    assert bench_report.percentile(values, 50) == 50.0
    assert bench_report.percentile(values, 99) == 99.0
    assert bench_report.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        bench_report.percentile([], 50)


def test_parse_h2load_takes_counts_from_the_report_and_latency_from_the_log() -> None:
    parsed = bench_report.parse_h2load(H2LOAD, h2load_log([1000] * 98 + [5000, 40_000]))
    assert parsed.requests == 6081
    assert parsed.duration_s == pytest.approx(2.0)
    assert parsed.requests_per_s == pytest.approx(3040.5)
    assert parsed.bytes_read == 4300231
    assert parsed.p50_ms == pytest.approx(1.0)
    assert parsed.p99_ms == pytest.approx(5.0)
    assert parsed.socket_errors == 2
    assert parsed.non_2xx == 2
    assert parsed.errors == 4


def test_parse_h2load_refuses_a_missing_report_or_an_empty_log() -> None:
    with pytest.raises(ValueError, match="no h2load report"):
        bench_report.parse_h2load("h2load: connection refused\n", h2load_log([1000]))
    with pytest.raises(ValueError, match="no request"):
        bench_report.parse_h2load(H2LOAD, "")


# --- CPU readings --------------------------------------------------------------------------


def test_parse_unit_cpu_reads_systemd_and_cgroup_figures() -> None:
    cpu = bench_report.parse_unit_cpu_s(
        "nginx.service usage_usec 9867980\nwebapp.service CPUUsageNSec 2500000000\n"
    )
    assert cpu == {
        "nginx.service": pytest.approx(9.86798),
        "webapp.service": pytest.approx(2.5),
    }


@pytest.mark.parametrize(
    "line", ["nginx.service usage_usec none", "nginx.service CPUUsageNSec [not set]", "nginx"]
)
def test_parse_unit_cpu_refuses_a_unit_without_a_figure(line: str) -> None:
    with pytest.raises(ValueError, match="no CPU figure"):
        bench_report.parse_unit_cpu_s(line + "\n")


def test_unit_cpu_script_reports_systemds_figure_when_it_has_one(tmp_path: Path) -> None:
    """The script itself, run by sh with a systemctl that answers as systemd does with CPU
    accounting (cgroup v2) and as under this host's hybrid v1 layout ([not set])."""
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        "  *CPUUsageNSec*nginx.service*) echo 1234567890;;\n"
        '  *CPUUsageNSec*) echo "[not set]";;\n'
        "  *ControlGroup*) echo /no/such/cgroup;;\n"
        "esac\n"
    )
    systemctl.chmod(0o755)
    script = bench.unit_cpu_script(["nginx.service", "webapp.service"])
    out = subprocess.run(
        ["sh", "-c", script],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "nginx.service CPUUsageNSec 1234567890\nwebapp.service usage_usec none\n"
    with pytest.raises(ValueError, match=r"webapp\.service"):
        bench_report.parse_unit_cpu_s(out)


def test_times_of_the_children_from_bash() -> None:
    """bash's own `times` after a child that used CPU: the second line is the children's."""
    out = subprocess.run(
        [
            "bash",
            "-c",
            f"python3 -c 'sum(range(3_000_000))'; echo {bench_report.TIMES_MARKER}; times",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 0.01 < bench_report.parse_times_children_s(out) < 5.0


def test_parse_times_adds_user_and_system() -> None:
    text = f"wrk's report\n{bench_report.TIMES_MARKER}\n0m0.004s 0m0.001s\n1m2.500s 0m0.750s\n"
    assert bench_report.parse_times_children_s(text) == pytest.approx(63.25)
    with pytest.raises(ValueError, match=bench_report.TIMES_MARKER):
        bench_report.parse_times_children_s("wrk's report only\n")


# --- CPU per request -----------------------------------------------------------------------


def test_cpu_per_request_is_cpu_time_over_requests_completed() -> None:
    cpu = CpuUsage(gateway_s=0.5, app_s=1.5, loadgen_s=0.25)
    assert cpu.total_s == pytest.approx(2.25)
    assert cpu.per_request_us(10_000) == {
        "gateway": pytest.approx(50.0),
        "app": pytest.approx(150.0),
        "loadgen": pytest.approx(25.0),
        "total": pytest.approx(225.0),
    }
    with pytest.raises(ValueError, match="no request"):
        cpu.per_request_us(0)


def test_summarize_takes_the_median_of_each_parts_cpu_per_request() -> None:
    samples = [
        Sample(1, "collection", "health", result(10_000), CpuUsage(0.5, 1.0, 0.2)),
        Sample(2, "collection", "health", result(20_000), CpuUsage(0.6, 4.0, 0.2)),
        Sample(3, "collection", "health", result(10_000), CpuUsage(0.3, 1.2, 0.9)),
        Sample(1, "seed", "health", result(5_000)),
    ]
    summaries = bench_report.summarize(samples)
    coll = summaries[("collection", "health")]
    # per request: gateway 50, 30, 30; app 100, 200, 120; loadgen 20, 10, 90.
    assert coll.gateway_cpu_us == pytest.approx(30.0)
    assert coll.app_cpu_us == pytest.approx(120.0)
    assert coll.loadgen_cpu_us == pytest.approx(20.0)
    assert coll.total_cpu_us == pytest.approx(240.0)  # totals 170, 240, 240
    seed = summaries[("seed", "health")]
    assert seed.total_cpu_us is None
    assert seed.cpu_us("gateway") is None


def summaries_with_cpu() -> dict[tuple[str, str], bench_report.Summary]:
    samples = [
        Sample(1, "seed", "health", result(10_000, 2000.0, 20.0), CpuUsage(0.4, 2.0, 0.3)),
        Sample(1, "collection", "health", result(10_000, 4000.0, 10.0), CpuUsage(0.5, 1.0, 0.3)),
        Sample(1, "direct", "health", result(10_000, 5000.0, 9.0), CpuUsage(0.0, 1.0, 0.3)),
        Sample(1, "https_h1", "health", result(10_000, 3000.0, 12.0), CpuUsage(0.8, 1.0, 0.5)),
        Sample(1, "https_h2", "health", result(10_000, 3500.0, 11.0), CpuUsage(0.7, 1.0, 0.6)),
    ]
    return bench_report.summarize(samples)


SPECS = [EndpointSpec("health", "/api/health", True)]


def test_cpu_markdown_lists_every_setup_with_each_part() -> None:
    lines = bench_report.cpu_markdown(summaries_with_cpu(), SPECS)
    text = "\n".join(lines)
    header = "| endpoint | setup | req/s | nginx µs | Gunicorn µs | load generator µs | total µs |"
    assert header in text
    assert "| `/api/health` | seed | 2,000 | 40.0 | 200.0 | 30.0 | 270.0 |" in text
    assert "| `/api/health` | direct | 5,000 | 0.0 | 100.0 | 30.0 | 130.0 |" in text
    h2 = "| `/api/health` | collection HTTPS, HTTP/2 | 3,500 | 70.0 | 100.0 | 60.0 | 230.0 |"
    assert h2 in text


def test_cpu_markdown_is_empty_without_cpu_figures() -> None:
    summaries = bench_report.summarize([Sample(1, "seed", "health", result(100))])
    assert bench_report.cpu_markdown(summaries, SPECS) == []
    assert bench_report.tls_markdown(summaries, SPECS) == []


def test_tls_markdown_puts_https_beside_plain_http() -> None:
    lines = bench_report.tls_markdown(summaries_with_cpu(), SPECS)
    assert lines[0].startswith("## HTTPS against plain HTTP")
    row = next(line for line in lines if line.startswith("| `/api/health`"))
    assert row == (
        "| `/api/health` | 4,000 | 3,000 | 3,500 | 10.00 | 12.00 | 11.00 "
        "| 50.0 | 80.0 | 70.0 | 180.0 | 230.0 | 230.0 |"
    )


def test_http_targets_compare_the_gateways_cpu_with_the_seeds() -> None:
    targets = {t.name: t for t in bench_report.http_targets(summaries_with_cpu(), SPECS)}
    target = targets["/api/health: collection nginx CPU-µs/request vs seed"]
    assert target.measured == "50.0 µs vs 40.0 µs"
    assert not target.met


# --- the HTTPS site ------------------------------------------------------------------------


def test_the_https_site_sets_only_declared_variables_of_the_gateway() -> None:
    specs = yaml.safe_load((ROOT / "roles/nginx_gateway/meta/argument_specs.yml").read_text())
    declared = set(specs["argument_specs"]["main"]["options"])
    (play,) = bench.tls_site_playbook()
    assert play["roles"] == ["fullstack.webapp.nginx_gateway"]
    variables = play["vars"]
    assert isinstance(variables, dict)
    assert set(variables) <= declared
    assert variables["nginx_gateway_tls_mode"] == "selfsigned"
    assert variables["nginx_gateway_tls_listen_port"] == bench.TLS_PORT
    # Its own site beside the plain one: another name, no port of the plain site.
    assert variables["nginx_gateway_site_name"] != bench.APP
    assert variables["nginx_gateway_listen_port"] not in (80, bench.DIRECT_PORT)
