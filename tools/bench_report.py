"""The pure half of `make bench` / `make bench-ansible`: parsing, statistics and tables.

Nothing here starts a process or touches a container, so all of it is unit tested
(tests/unit/test_bench_report.py); tools/bench.py does the deploying and the loading.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

# seed, collection and direct over plain HTTP (wrk); then the collection's gateway over HTTPS,
# HTTP/1.1 (wrk) and HTTP/2 (h2load), from a second site of the same role with TLS on.
SETUPS = ("seed", "collection", "direct", "https_h1", "https_h2")
PLAIN_SETUPS = ("seed", "collection", "direct")
TLS_SETUPS = ("https_h1", "https_h2")
SETUP_LABELS = {
    "seed": "seed",
    "collection": "collection",
    "direct": "direct",
    "https_h1": "collection HTTPS, HTTP/1.1",
    "https_h2": "collection HTTPS, HTTP/2",
}

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

# The line tools/bench.py's Lua `done` hook prints after wrk's own report: exact figures.
SUMMARY_MARKER = "WRK_SUMMARY "


# --- wrk ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    """One wrk run. Latencies in milliseconds; errors as wrk counts them."""

    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    bytes_read: int
    socket_errors: int
    non_2xx: int

    @property
    def errors(self) -> int:
        """Socket errors (connect, read, write, timeout) plus HTTP answers >= 400."""
        return self.socket_errors + self.non_2xx

    @property
    def bytes_per_request(self) -> float:
        """Bytes received per response, headers included (what crosses the wire)."""
        return self.bytes_read / self.requests if self.requests else 0.0


def parse_duration_ms(text: str) -> float:
    """wrk's latency notation ("812.00us", "8.93ms", "1.02s", "2.00m") in milliseconds."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)\s*", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _TIME_UNITS_MS[match.group(2)]


def parse_size(text: str) -> int:
    """wrk's size notation ("10.43MB", "512.00B"; powers of 1024) in bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)(B|KB|MB|GB|TB)\s*", text)
    if match is None:
        raise ValueError(f"not a wrk size: {text!r}")
    return round(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def _metric(value: str) -> float:
    """wrk's plain numbers, which may carry a k/M/G suffix ("3.61k")."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([kMG]?)", value.strip())
    if match is None:
        raise ValueError(f"not a wrk number: {value!r}")
    scale = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[match.group(2)]
    return float(match.group(1)) * scale


def parse_wrk(output: str) -> WrkResult:
    """Parse wrk's report (run with --latency). A WRK_SUMMARY line, when present, gives
    exact requests, bytes, percentiles and errors that override the rounded report."""
    totals = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+), ([0-9.]+\w+) read", output, re.M)
    rate = re.search(r"^Requests/sec:\s*([0-9.]+[kMG]?)", output, re.M)
    if totals is None or rate is None:
        raise ValueError("no wrk report found:\n" + output[-1500:])
    requests = int(totals.group(1))
    duration_s = parse_duration_ms(totals.group(2)) / 1000
    bytes_read = parse_size(totals.group(3))
    requests_per_s = _metric(rate.group(1))
    percentiles: dict[str, float] = {}
    distribution = re.search(r"Latency Distribution\n((?:\s+\d+%\s+\S+\n?)+)", output)
    if distribution is not None:
        for line in distribution.group(1).splitlines():
            pct, value = line.split()
            percentiles[pct.rstrip("%")] = parse_duration_ms(value)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = sum(int(n) for n in sockets.groups()) if sockets else 0
    status = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non_2xx = int(status.group(1)) if status else 0

    summary_line = next(
        (line for line in output.splitlines() if line.startswith(SUMMARY_MARKER)), None
    )
    if summary_line is not None:
        exact = json.loads(summary_line[len(SUMMARY_MARKER) :])
        requests = int(exact["requests"])
        bytes_read = int(exact["bytes"])
        duration_s = float(exact["duration_us"]) / 1e6
        requests_per_s = requests / duration_s if duration_s else 0.0
        percentiles["50"] = float(exact["p50_us"]) / 1000
        percentiles["99"] = float(exact["p99_us"]) / 1000
        socket_errors = sum(int(exact[k]) for k in ("connect", "read", "write", "timeout"))
        non_2xx = int(exact["status"])
    if "50" not in percentiles or "99" not in percentiles:
        raise ValueError("wrk report has no latency distribution (run wrk with --latency)")
    return WrkResult(
        requests=requests,
        duration_s=duration_s,
        requests_per_s=requests_per_s,
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        bytes_read=bytes_read,
        socket_errors=socket_errors,
        non_2xx=non_2xx,
    )


# --- h2load (HTTP/2) ---------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0-100) of unsorted values."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100), at least 1
    return float(ordered[int(rank) - 1])


def parse_h2load(output: str, log: str) -> WrkResult:
    """h2load's report and its --log-file (tab-separated: start time in µs since the epoch,
    HTTP status, µs to complete the request), as a WrkResult: the log gives p50 and p99,
    which the report lacks. Failed, errored and timed-out requests count as socket errors,
    statuses >= 400 as non-2xx."""
    finished = re.search(r"^finished in ([0-9.]+)(\w+), ", output, re.M)
    counts = re.search(
        r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout",
        output,
        re.M,
    )
    statuses = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", output, re.M)
    traffic = re.search(r"^traffic: \S+ \((\d+)\) total", output, re.M)
    if finished is None or counts is None or statuses is None or traffic is None:
        raise ValueError("no h2load report found:\n" + output[-1500:])
    duration_s = parse_duration_ms(finished.group(1) + finished.group(2)) / 1000
    done = int(counts.group(3))
    failed, errored, timeout = (int(counts.group(n)) for n in (5, 6, 7))
    times_ms = [int(line.split("\t")[2]) / 1000 for line in log.splitlines() if line.strip()]
    if not times_ms:
        raise ValueError("h2load's log file has no request")
    return WrkResult(
        requests=done,
        duration_s=duration_s,
        requests_per_s=done / duration_s if duration_s else 0.0,
        p50_ms=percentile(times_ms, 50),
        p99_ms=percentile(times_ms, 99),
        bytes_read=int(traffic.group(1)),
        socket_errors=failed + errored + timeout,
        non_2xx=int(statuses.group(3)) + int(statuses.group(4)),
    )


# --- CPU per request ---------------------------------------------------------------------

# The parts of a request's path whose CPU is read, in report order.
CPU_PARTS = ("gateway", "app", "loadgen")
CPU_PART_LABELS = {
    "gateway": "nginx",
    "app": "Gunicorn",
    "loadgen": "load generator",
    "total": "total",
}


@dataclass(frozen=True)
class CpuUsage:
    """CPU seconds (user + system) used during one load by nginx.service (gateway), the
    Gunicorn service that answered (app) and the load generator's own unit (loadgen)."""

    gateway_s: float
    app_s: float
    loadgen_s: float

    @property
    def total_s(self) -> float:
        return self.gateway_s + self.app_s + self.loadgen_s

    def per_request_us(self, requests: int) -> dict[str, float]:
        """CPU-µs per request completed, by part and in total: the CPU time the load cost,
        whatever share of the cores each process got meanwhile."""
        if requests <= 0:
            raise ValueError("no request completed")
        values = dict(zip(CPU_PARTS, (self.gateway_s, self.app_s, self.loadgen_s), strict=True))
        values["total"] = self.total_s
        return {part: seconds * 1e6 / requests for part, seconds in values.items()}


def parse_unit_cpu_s(output: str) -> dict[str, float]:
    """tools/bench.py's UNIT_CPU_SCRIPT: one line per unit, "UNIT CPUUsageNSec N" (systemd's
    own figure) or "UNIT usage_usec N" (the unit's cgroup v2 cpu.stat, where systemd has no
    cpuacct to read, as under a hybrid cgroup v1 layout), in CPU seconds by unit. A unit
    with neither is refused."""
    scale = {"CPUUsageNSec": 1e-9, "usage_usec": 1e-6}
    cpu: dict[str, float] = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        unit, kind, value = [*line.split(), "", ""][:3]
        if kind not in scale or not value.isdigit():
            raise ValueError(f"no CPU figure for {unit or line!r}: {line.strip()!r}")
        cpu[unit] = int(value) * scale[kind]
    return cpu


TIMES_MARKER = "LOADGEN_TIMES"


def parse_times_children_s(output: str) -> float:
    """The CPU seconds (user + system) of the children a shell has waited for: the second
    line that bash's `times` prints ("0m1.234s 0m0.567s") after TIMES_MARKER."""
    _, marker, rest = output.rpartition(TIMES_MARKER + "\n")
    lines = rest.splitlines()
    if not marker or len(lines) < 2:
        raise ValueError(f"no {TIMES_MARKER} and `times` lines:\n" + output[-800:])
    spans = re.findall(r"([0-9]+)m([0-9]+(?:\.[0-9]+)?)s", lines[1])
    if len(spans) != 2:
        raise ValueError(f"not the output of `times`: {lines[1]!r}")
    return sum(int(minutes) * 60 + float(seconds) for minutes, seconds in spans)


# --- rounds, medians and ratios ----------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    round: int
    setup: str
    endpoint: str
    result: WrkResult
    cpu: CpuUsage | None = None


@dataclass(frozen=True)
class Summary:
    """The median of the rounds for one setup and one endpoint (errors: the total)."""

    setup: str
    endpoint: str
    rounds: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    bytes_per_request: float
    errors: int
    # Medians over the rounds of the CPU-µs per request (None: not measured).
    gateway_cpu_us: float | None = None
    app_cpu_us: float | None = None
    loadgen_cpu_us: float | None = None
    total_cpu_us: float | None = None

    def cpu_us(self, part: str) -> float | None:
        value: float | None = getattr(self, f"{part}_cpu_us")
        return value


def median(values: Iterable[float]) -> float:
    data = list(values)
    if not data:
        raise ValueError("median of no values")
    return float(statistics.median(data))


def _cpu_medians(samples: Sequence[Sample]) -> dict[str, float]:
    """Medians of each part's CPU-µs per request over the samples that measured CPU (each
    part's own median, so the total's median need not be the sum of the parts')."""
    per_request = [
        s.cpu.per_request_us(s.result.requests)
        for s in samples
        if s.cpu is not None and s.result.requests > 0
    ]
    if not per_request:
        return {}
    return {
        f"{part}_cpu_us": median(values[part] for values in per_request)
        for part in (*CPU_PARTS, "total")
    }


def summarize(samples: Iterable[Sample]) -> dict[tuple[str, str], Summary]:
    grouped: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        grouped.setdefault((sample.setup, sample.endpoint), []).append(sample)
    summaries = {}
    for (setup, endpoint), group in grouped.items():
        results = [s.result for s in group]
        summaries[(setup, endpoint)] = Summary(
            setup=setup,
            endpoint=endpoint,
            rounds=len(results),
            requests_per_s=median(r.requests_per_s for r in results),
            p50_ms=median(r.p50_ms for r in results),
            p99_ms=median(r.p99_ms for r in results),
            bytes_per_request=median(r.bytes_per_request for r in results),
            errors=sum(r.errors for r in results),
            **_cpu_medians(group),
        )
    return summaries


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    goal: str
    met: bool


@dataclass(frozen=True)
class EndpointSpec:
    key: str
    label: str
    api: bool


def http_targets(
    summaries: Mapping[tuple[str, str], Summary], endpoints: Sequence[EndpointSpec]
) -> list[Target]:
    """The issue's goals for the deployed stack, from the medians."""
    targets: list[Target] = []
    for spec in endpoints:
        coll = summaries.get(("collection", spec.key))
        seed = summaries.get(("seed", spec.key))
        if coll is None or seed is None:
            continue
        vs_seed = ratio(coll.requests_per_s, seed.requests_per_s) or 0.0
        if not spec.api:
            targets.append(
                Target(
                    f"{spec.label}: collection / seed", f"{vs_seed:.2f}x", ">= 1.0x", vs_seed >= 1.0
                )
            )
            continue
        targets.append(
            Target(f"{spec.label}: collection / seed", f"{vs_seed:.2f}x", ">= 1.8x", vs_seed >= 1.8)
        )
        direct = summaries.get(("direct", spec.key))
        if direct is not None:
            vs_direct = ratio(coll.requests_per_s, direct.requests_per_s) or 0.0
            targets.append(
                Target(
                    f"{spec.label}: collection / direct",
                    f"{vs_direct:.2f}x",
                    ">= 0.9x",
                    vs_direct >= 0.9,
                )
            )
        targets.append(
            Target(f"{spec.label}: collection errors", str(coll.errors), "0", coll.errors == 0)
        )
        targets.append(
            Target(
                f"{spec.label}: collection p99 vs seed p99",
                f"{coll.p99_ms:.2f} ms vs {seed.p99_ms:.2f} ms",
                "<= seed",
                coll.p99_ms <= seed.p99_ms,
            )
        )
        if coll.gateway_cpu_us is not None and seed.gateway_cpu_us is not None:
            targets.append(
                Target(
                    f"{spec.label}: collection nginx CPU-µs/request vs seed",
                    f"{coll.gateway_cpu_us:.1f} µs vs {seed.gateway_cpu_us:.1f} µs",
                    "<= seed",
                    coll.gateway_cpu_us <= seed.gateway_cpu_us,
                )
            )
    return targets


# --- one asset, by content encoding ------------------------------------------------------


@dataclass(frozen=True)
class EncodingRow:
    """The largest hashed asset asked for with one Accept-Encoding: what the collection sent
    (its Content-Encoding, "" for none, and the body's bytes) and the wrk endpoint that loaded
    it so (Summary.endpoint)."""

    accept_encoding: str
    endpoint: str
    content_encoding: str
    body_bytes: int


def encoding_comparison(
    summaries: Mapping[tuple[str, str], Summary],
    rows: Sequence[EncodingRow],
    first: str = "gzip",
    second: str = "br",
    setup: str = "collection",
) -> dict[str, float | None]:
    """`second` against `first` for `setup`: body bytes, requests/s and p99 as ratios (second
    / first), None where either side is missing."""
    by_encoding = {row.accept_encoding: row for row in rows}
    one, two = by_encoding.get(first), by_encoding.get(second)
    if one is None or two is None:
        return {"body_bytes": None, "requests_per_s": None, "p99_ms": None}
    a, b = summaries.get((setup, one.endpoint)), summaries.get((setup, two.endpoint))
    return {
        "body_bytes": ratio(two.body_bytes, one.body_bytes),
        "requests_per_s": ratio(b.requests_per_s, a.requests_per_s) if a and b else None,
        "p99_ms": ratio(b.p99_ms, a.p99_ms) if a and b else None,
    }


def encoding_markdown(
    summaries: Mapping[tuple[str, str], Summary],
    asset: str,
    rows: Sequence[EncodingRow],
    setup: str = "collection",
) -> list[str]:
    """The asset by Accept-Encoding, side by side (same run, same rounds), and br / gzip."""
    lines = [
        f"## `{asset}` by Accept-Encoding ({setup}, medians of the rounds)",
        "",
        "| Accept-Encoding | Content-Encoding sent | body bytes | bytes/response (wire) "
        "| req/s | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        summary = summaries.get((setup, row.endpoint))
        lines.append(
            f"| {row.accept_encoding or '(none)'} | {row.content_encoding or '(none)'} "
            f"| {_fmt_num(row.body_bytes)} | {_cell(summary, 'bytes_per_request', 0)} "
            f"| {_cell(summary, 'requests_per_s', 0)} | {_cell(summary, 'p50_ms', 2)} "
            f"| {_cell(summary, 'p99_ms', 2)} |"
        )
    compared = encoding_comparison(summaries, rows, setup=setup)
    if any(value is not None for value in compared.values()):
        lines += [
            "",
            f"br / gzip: body bytes {_fmt_ratio(compared['body_bytes'])}, "
            f"requests/s {_fmt_ratio(compared['requests_per_s'])}, "
            f"p99 {_fmt_ratio(compared['p99_ms'])}.",
        ]
    return lines


# --- CPU per request and HTTPS, as tables -----------------------------------------------


def _cpu_cell(summary: Summary | None, part: str) -> str:
    value = summary.cpu_us(part) if summary is not None else None
    return "-" if value is None else f"{value:,.1f}"


def cpu_markdown(
    summaries: Mapping[tuple[str, str], Summary], endpoints: Sequence[EndpointSpec]
) -> list[str]:
    """CPU-µs per request completed, by part, beside requests/s, for every setup measured."""
    if not any(s.total_cpu_us is not None for s in summaries.values()):
        return []
    parts = (*CPU_PARTS, "total")
    lines = [
        "## CPU per request (CPU-µs per request completed, medians of the rounds)",
        "",
        "CPU time (user + system) used during the load, divided by the requests completed: "
        "the time a process waited for a core is not in it. nginx is `nginx.service` "
        "(idle for direct) and Gunicorn the unit that answered, each read from its cgroup "
        "before and after the load (systemd's `CPUUsageNSec`, else the unit's cgroup v2 "
        "`cpu.stat`); the load generator (wrk; h2load for HTTP/2) is read from the shell "
        "that waited for it (bash's `times`).",
        "",
        "| endpoint | setup | req/s | "
        + " | ".join(f"{CPU_PART_LABELS[p]} µs" for p in parts)
        + " |",
        "|---|---|---:|" + "---:|" * len(parts),
    ]
    for spec in endpoints:
        for setup in SETUPS:
            summary = summaries.get((setup, spec.key))
            if summary is None:
                continue
            cells = " | ".join(_cpu_cell(summary, p) for p in parts)
            lines.append(
                f"| `{spec.label}` | {SETUP_LABELS.get(setup, setup)} "
                f"| {_fmt_num(summary.requests_per_s)} | {cells} |"
            )
    return lines


def tls_markdown(
    summaries: Mapping[tuple[str, str], Summary], endpoints: Sequence[EndpointSpec]
) -> list[str]:
    """The collection over HTTPS (HTTP/1.1, HTTP/2) against plain HTTP, endpoint by endpoint."""
    setups = ("collection", *TLS_SETUPS)
    if not any((setup, spec.key) in summaries for setup in TLS_SETUPS for spec in endpoints):
        return []
    names = ("HTTP", "HTTPS/1.1", "HTTPS/2")
    lines = [
        "## HTTPS against plain HTTP (collection, same rounds)",
        "",
        "| endpoint | "
        + " | ".join(f"{n} req/s" for n in names)
        + " | "
        + " | ".join(f"{n} p99 ms" for n in names)
        + " | "
        + " | ".join(f"{n} nginx µs" for n in names)
        + " | "
        + " | ".join(f"{n} total µs" for n in names)
        + " |",
        "|---|" + "---:|" * 12,
    ]
    for spec in endpoints:
        row = [summaries.get((setup, spec.key)) for setup in setups]
        if all(summary is None for summary in row[1:]):
            continue
        cells = (
            [_cell(s, "requests_per_s", 0) for s in row]
            + [_cell(s, "p99_ms", 2) for s in row]
            + [_cpu_cell(s, "gateway") for s in row]
            + [_cpu_cell(s, "total") for s in row]
        )
        lines.append(f"| `{spec.label}` | " + " | ".join(cells) + " |")
    return lines


# --- Ansible runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recap:
    """One host's line of an ansible-playbook PLAY RECAP."""

    host: str
    ok: int
    changed: int
    unreachable: int
    failed: int
    skipped: int
    rescued: int
    ignored: int


def parse_recap(output: str) -> dict[str, Recap]:
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    recaps: dict[str, Recap] = {}
    for match in re.finditer(
        r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
        r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)",
        plain,
        re.M,
    ):
        host, *counts = match.groups()
        ok, changed, unreachable, failed, skipped, rescued, ignored = (int(c) for c in counts)
        recaps[host] = Recap(host, ok, changed, unreachable, failed, skipped, rescued, ignored)
    return recaps


def parse_profile_tasks(output: str, limit: int = 5) -> list[tuple[str, float]]:
    """The slowest tasks listed by the ansible.posix.profile_tasks callback."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    _, _, recap = plain.rpartition("TASKS RECAP")
    tasks = [
        (match.group(1).strip(), float(match.group(2)))
        for match in re.finditer(r"^(.+?) -+ ([0-9.]+)s\s*$", recap, re.M)
    ]
    return tasks[:limit]


@dataclass(frozen=True)
class AnsibleRun:
    name: str
    hosts: int
    seconds: float
    tasks_ok: int
    changed: int
    skipped: int
    slowest: list[tuple[str, float]] = field(default_factory=list)
    # CPU time used by ansible-playbook and its children (controller) and inside the
    # containers (hosts): unlike the wall time, it barely depends on the machine's load.
    controller_cpu_s: float = 0.0
    hosts_cpu_s: float = 0.0
    # A run measured in several rounds (combine_rounds): each round's seconds and changes.
    round_seconds: list[float] = field(default_factory=list)
    round_changed: list[int] = field(default_factory=list)
    # How site.yml reached the hosts and which strategy ran it (tools/bench_hosts).
    transport: str = "docker"
    strategy: str = "linear"

    @property
    def way(self) -> str:
        return f"{self.transport}, {self.strategy}"

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies a step: its name, transport and strategy."""
        return (self.name, self.transport, self.strategy)


def ansible_run(
    name: str,
    hosts: Sequence[str],
    seconds: float,
    output: str,
    slowest_limit: int = 5,
    *,
    controller_cpu_s: float = 0.0,
    hosts_cpu_s: float = 0.0,
    transport: str = "docker",
    strategy: str = "linear",
) -> AnsibleRun:
    """Figures of one ansible-playbook run; counts are the sums over its hosts."""
    recaps = parse_recap(output)
    missing = [host for host in hosts if host not in recaps]
    if missing:
        raise ValueError(f"no PLAY RECAP line for {', '.join(missing)}:\n{output[-2000:]}")
    chosen = [recaps[host] for host in hosts]
    return AnsibleRun(
        name=name,
        hosts=len(hosts),
        seconds=seconds,
        tasks_ok=sum(r.ok for r in chosen),
        changed=sum(r.changed for r in chosen),
        skipped=sum(r.skipped for r in chosen),
        slowest=parse_profile_tasks(output, slowest_limit),
        controller_cpu_s=controller_cpu_s,
        hosts_cpu_s=hosts_cpu_s,
        transport=transport,
        strategy=strategy,
    )


def combine_rounds(rounds: Sequence[AnsibleRun]) -> AnsibleRun:
    """Rounds of the same run as one: the medians of the seconds and of the CPU, the task
    counts of the first round, the slowest tasks of the median round; each round's seconds
    and changes are kept (round_seconds, round_changed)."""
    if not rounds:
        raise ValueError("no rounds to combine")
    if len(rounds) == 1:
        return rounds[0]
    middle = sorted(rounds, key=lambda run: run.seconds)[len(rounds) // 2]
    return replace(
        rounds[0],
        seconds=median(run.seconds for run in rounds),
        controller_cpu_s=round(median(run.controller_cpu_s for run in rounds), 2),
        hosts_cpu_s=round(median(run.hosts_cpu_s for run in rounds), 2),
        slowest=middle.slowest,
        round_seconds=[run.seconds for run in rounds],
        round_changed=[run.changed for run in rounds],
    )


@dataclass(frozen=True)
class BaselineFailure:
    """The step at which the baseline's site.yml failed; its later steps were not run."""

    step: str
    message: str


_FAILURE_START = re.compile(r"^(fatal:|failed:|ERROR!|\[ERROR\]|\S*Error\b)")


def failure_summary(output: str, limit: int = 8, width: int = 300) -> str:
    """What a failed run says about its failure: from its last line that starts one
    (fatal:, failed:, ERROR!, [ERROR], ...Error), at most `limit` lines, else its last
    lines; lines cut at `width` characters."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    lines = [line.rstrip() for line in plain.splitlines() if line.strip()]
    starts = [n for n, line in enumerate(lines) if _FAILURE_START.match(line.strip())]
    chosen = lines[starts[-1] : starts[-1] + limit] if starts else lines[-limit:]
    return "\n".join(line if len(line) <= width else line[: width - 3] + "..." for line in chosen)


@dataclass(frozen=True)
class Comparison:
    """One step measured on both trees: current / baseline of the seconds and of the
    controller's CPU (None when the baseline has no figure for it)."""

    name: str
    hosts: int
    current: AnsibleRun
    baseline: AnsibleRun | None
    seconds_ratio: float | None
    controller_cpu_ratio: float | None


def compare_runs(current: Sequence[AnsibleRun], baseline: Sequence[AnsibleRun]) -> list[Comparison]:
    """The current tree's runs, in their order, each beside the baseline's run of the same
    name, transport and strategy."""
    by_key = {run.key: run for run in baseline}
    ways = {run.way for run in baseline}
    comparisons = []
    for run in current:
        if ways and run.way not in ways:
            continue  # the baseline runs one transport and strategy
        base = by_key.get(run.key)
        comparisons.append(
            Comparison(
                name=run.name,
                hosts=run.hosts,
                current=run,
                baseline=base,
                seconds_ratio=None if base is None else ratio(run.seconds, base.seconds),
                controller_cpu_ratio=(
                    None if base is None else ratio(run.controller_cpu_s, base.controller_cpu_s)
                ),
            )
        )
    return comparisons


def comparisons_jsonable(comparisons: Sequence[Comparison]) -> list[dict[str, object]]:
    """The ratios for the JSON report (the runs themselves are stored once, elsewhere)."""
    return [
        {
            "name": c.name,
            "hosts": c.hosts,
            "current_seconds": round(c.current.seconds, 2),
            "baseline_seconds": None if c.baseline is None else round(c.baseline.seconds, 2),
            "seconds_ratio": None if c.seconds_ratio is None else round(c.seconds_ratio, 3),
            "controller_cpu_ratio": (
                None if c.controller_cpu_ratio is None else round(c.controller_cpu_ratio, 3)
            ),
        }
        for c in comparisons
    ]


@dataclass(frozen=True)
class TaskFloor:
    """What one task of a kind costs (tools/bench_hosts.FLOOR_TASKS): a playbook of `tasks`
    of them on one host, by a transport and strategy."""

    kind: str
    transport: str
    strategy: str
    tasks: int
    seconds: float
    controller_cpu_s: float

    @property
    def way(self) -> str:
        return f"{self.transport}, {self.strategy}"

    @property
    def ms_per_task(self) -> float:
        return 1000 * self.seconds / self.tasks

    @property
    def cpu_ms_per_task(self) -> float:
        return 1000 * self.controller_cpu_s / self.tasks


def floor_bounds(runs: Sequence[AnsibleRun], floors: Sequence[TaskFloor]) -> list[str]:
    """For each one-host no-change re-run: what its tasks cost at the floor of its transport
    and strategy, a skipped task at the `skipped` floor and a task that ran at least at the
    `set_fact` floor (a controller-only task) and at most at the `stat` one (a module run)."""
    by_way = {(floor.way, floor.kind): floor for floor in floors}
    lines = []
    for run in runs:
        if run.name != "no-change re-run":
            continue
        skipped = by_way.get((run.way, "skipped"))
        low = by_way.get((run.way, "set_fact"))
        high = by_way.get((run.way, "stat"))
        if skipped is None or low is None or high is None:
            continue
        base = run.skipped * skipped.ms_per_task
        least = (base + run.tasks_ok * low.ms_per_task) / 1000
        most = (base + run.tasks_ok * high.ms_per_task) / 1000
        lines.append(
            f"- no-change re-run [{run.way}]: {run.seconds:.1f} s for {run.tasks_ok} tasks run "
            f"and {run.skipped} skipped; at this transport's floor they cost "
            f"{least:.1f} s (every task run a controller-only one) to {most:.1f} s (every "
            "one a module run)"
        )
    return lines


def floors_markdown(floors: Sequence[TaskFloor]) -> list[str]:
    lines = [
        "| task | transport, strategy | tasks | ms per task | controller CPU ms per task |",
        "|---|---|---:|---:|---:|",
    ]
    for floor in floors:
        lines.append(
            f"| {floor.kind} | {floor.way} | {floor.tasks} | {floor.ms_per_task:.0f} "
            f"| {floor.cpu_ms_per_task:.0f} |"
        )
    return lines


# The goals of site.yml's run time: seconds on one host, no-change re-runs on N hosts
# against one, and the controller's CPU per host of a no-change re-run.
RUN_GOALS = (
    ("no-change re-run", 5.0),
    ("front-end-only redeploy", 8.0),
    ("back-end-only redeploy", 15.0),
)
SCALE_GOALS = ((4, 1.5), (8, 2.0))
CONTROLLER_CPU_PER_HOST_GOAL = 2.0


def ansible_targets(runs: Sequence[AnsibleRun]) -> list[Target]:
    """The goals, for each transport and strategy measured."""
    targets = []
    for way in dict.fromkeys(run.way for run in runs):
        by_name = {run.name: run for run in runs if run.way == way}
        for name, limit in RUN_GOALS:
            run = by_name.get(name)
            if run is not None:
                targets.append(
                    Target(f"{name} [{way}]", f"{run.seconds:.1f} s", f"<= {limit:.0f} s",
                           run.seconds <= limit)
                )  # fmt: skip
        one = by_name.get("no-change re-run")
        for count, factor_limit in SCALE_GOALS:
            many = by_name.get(f"no-change re-run, {count} hosts")
            if one is not None and many is not None:
                factor = many.seconds / one.seconds
                targets.append(
                    Target(f"no-change re-run, {count} hosts / 1 host [{way}]", f"{factor:.2f}x",
                           f"<= {factor_limit}x", factor <= factor_limit)
                )  # fmt: skip
        for run in by_name.values():
            if run.name.startswith("no-change re-run"):
                per_host = run.controller_cpu_s / run.hosts
                targets.append(
                    Target(f"controller CPU per host, {run.name} [{way}]", f"{per_host:.1f} s",
                           f"<= {CONTROLLER_CPU_PER_HOST_GOAL:.0f} s",
                           per_host <= CONTROLLER_CPU_PER_HOST_GOAL)
                )  # fmt: skip
    return targets


# --- rendering ---------------------------------------------------------------------------


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _fmt_num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _cell(summary: Summary | None, attribute: str, digits: int) -> str:
    if summary is None:
        return "-"
    value = getattr(summary, attribute)
    return _fmt_num(float(value), digits)


def targets_markdown(targets: Sequence[Target]) -> list[str]:
    lines = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for target in targets:
        lines.append(
            f"| {target.name} | {target.measured} | {target.goal} | "
            f"{'yes' if target.met else '**no**'} |"
        )
    return lines


def http_markdown(
    summaries: Mapping[tuple[str, str], Summary],
    endpoints: Sequence[EndpointSpec],
    targets: Sequence[Target],
    header: Mapping[str, str],
    sections: Sequence[str] = (),
) -> str:
    """The Markdown report: context, the ratio table, the medians, `sections` (lines of
    Markdown, e.g. encoding_markdown's), the goals."""
    lines = ["# HTTP benchmark: seed vs collection vs direct", ""]
    lines += [f"- **{key}**: {value}" for key, value in header.items()]
    lines += ["", "## Ratios (medians of the rounds)", ""]
    lines += [
        "| endpoint | seed req/s | collection req/s | direct req/s "
        "| collection / seed | collection / direct |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for spec in endpoints:
        seed = summaries.get(("seed", spec.key))
        coll = summaries.get(("collection", spec.key))
        direct = summaries.get(("direct", spec.key))
        vs_seed = ratio(coll.requests_per_s, seed.requests_per_s) if coll and seed else None
        vs_direct = ratio(coll.requests_per_s, direct.requests_per_s) if coll and direct else None
        lines.append(
            f"| `{spec.label}` | {_cell(seed, 'requests_per_s', 0)} "
            f"| {_cell(coll, 'requests_per_s', 0)} | {_cell(direct, 'requests_per_s', 0)} "
            f"| {_fmt_ratio(vs_seed)} | {_fmt_ratio(vs_direct)} |"
        )
    lines += ["", "## Latency, errors and bytes (medians; errors summed over the rounds)", ""]
    lines += [
        "| endpoint | setup | req/s | p50 ms | p99 ms | errors | bytes/response |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for spec in endpoints:
        for setup in SETUPS:
            summary = summaries.get((setup, spec.key))
            if summary is None:
                continue
            lines.append(
                f"| `{spec.label}` | {SETUP_LABELS.get(setup, setup)} "
                f"| {_fmt_num(summary.requests_per_s)} "
                f"| {summary.p50_ms:.2f} | {summary.p99_ms:.2f} | {summary.errors} "
                f"| {_fmt_num(summary.bytes_per_request)} |"
            )
    if sections:
        lines += ["", *sections]
    lines += ["", "## Goals", ""]
    lines += targets_markdown(targets)
    return "\n".join(lines) + "\n"


def _changed_cell(run: AnsibleRun) -> str:
    """The changes, or each round's when the rounds of a run disagree."""
    if len(set(run.round_changed)) > 1:
        return "/".join(str(n) for n in run.round_changed)
    return str(run.changed)


def _counts(run: AnsibleRun) -> str:
    return f"{run.tasks_ok}/{_changed_cell(run)}/{run.skipped}"


def runs_markdown(runs: Sequence[AnsibleRun]) -> list[str]:
    lines = [
        "| run | hosts | transport, strategy | seconds | CPU s controller + hosts | tasks ok "
        "| changed | skipped | slowest task |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        slowest = f"{run.slowest[0][0]} ({run.slowest[0][1]:.1f} s)" if run.slowest else "-"
        lines.append(
            f"| {run.name} | {run.hosts} | {run.way} | {run.seconds:.1f} "
            f"| {run.controller_cpu_s:.1f} + {run.hosts_cpu_s:.1f} | {run.tasks_ok} "
            f"| {_changed_cell(run)} | {run.skipped} | {slowest} |"
        )
    return lines


def rounds_notes(runs: Sequence[AnsibleRun], tree: str = "") -> list[str]:
    """One line per run measured in rounds: each round's seconds."""
    prefix = f"{tree} " if tree else ""
    return [
        f"- {prefix}{run.name} [{run.way}]: median of {len(run.round_seconds)} rounds, "
        + ", ".join(f"{s:.1f}" for s in run.round_seconds)
        + " s"
        for run in runs
        if run.round_seconds
    ]


def comparison_markdown(
    comparisons: Sequence[Comparison], failure: BaselineFailure | None = None
) -> list[str]:
    """current vs baseline, step by step; a failed step of the baseline says so."""
    lines = [
        "| run | hosts | seconds current | seconds baseline | current / baseline "
        "| CPU s controller current | CPU s controller baseline | current / baseline "
        "| ok/changed/skipped current | ok/changed/skipped baseline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for c in comparisons:
        cur, base = c.current, c.baseline
        if base is not None:
            base_cells = [f"{base.seconds:.1f}", _fmt_ratio(c.seconds_ratio),
                          f"{base.controller_cpu_s:.1f}", _fmt_ratio(c.controller_cpu_ratio),
                          _counts(base)]  # fmt: skip
        else:
            missing = "**failed**" if failure is not None and failure.step == c.name else "-"
            base_cells = [missing, "-", "-", "-", "-"]
        lines.append(
            f"| {c.name} | {c.hosts} | {cur.seconds:.1f} | {base_cells[0]} | {base_cells[1]} "
            f"| {cur.controller_cpu_s:.1f} | {base_cells[2]} | {base_cells[3]} "
            f"| {_counts(cur)} | {base_cells[4]} |"
        )
    return lines


def ansible_markdown(
    runs: Sequence[AnsibleRun],
    targets: Sequence[Target],
    header: Mapping[str, str],
    *,
    baseline: Sequence[AnsibleRun] | None = None,
    baseline_failure: BaselineFailure | None = None,
    floors: Sequence[TaskFloor] = (),
) -> str:
    """The report: the current tree's runs, what one task costs (floors) and, with a
    baseline, the two trees side by side (ratios current / baseline), the baseline's own
    runs and where it failed, if it did."""
    lines = ["# Ansible benchmark: site.yml's own run time", ""]
    lines += [f"- **{key}**: {value}" for key, value in header.items()]
    lines += [""]
    lines += runs_markdown(runs)
    lines += [
        "",
        "Tasks and changes are summed over the hosts of a run. CPU seconds: ansible-playbook "
        "and its children on the controller, and everything inside the containers; they "
        "depend far less on the machine's load than the wall time does.",
    ]
    notes = rounds_notes(runs)
    if notes:
        lines += [
            "",
            "Runs measured in rounds show the medians of the seconds and the CPU, and the "
            "tasks of the first round (changes per round when they differ):",
            "",
            *notes,
        ]
    if floors:
        lines += ["", "## What one task costs", ""]
        lines += floors_markdown(floors)
        lines += [
            "",
            "A playbook of tasks of one kind on one host, without facts: skipped (`when: "
            "false`), `set_fact` (on the controller only) and `stat` (a module run on the "
            "host). What site.yml's runs cost at these floors:",
            "",
            *floor_bounds(runs, floors),
        ]
    if baseline is not None:
        lines += ["", "## Against the baseline", ""]
        lines += comparison_markdown(compare_runs(runs, baseline), baseline_failure)
        lines += [
            "",
            "Each step ran on both trees back to back (current, then baseline; rounds "
            "alternated), each tree on fresh containers of its own, with the same Ansible, "
            "inventory and sources: only the collection differs. A ratio below 1.00x: the "
            "current tree is faster.",
        ]
        if baseline_failure is not None:
            lines += [
                "",
                f"**The baseline failed** at `{baseline_failure.step}`; its later steps were "
                "not run:",
                "",
                "```",
                baseline_failure.message,
                "```",
            ]
        if baseline:
            lines += ["", "### The baseline's runs", ""]
            lines += runs_markdown(baseline)
            base_notes = rounds_notes(baseline)
            if base_notes:
                lines += ["", *base_notes]
    lines += ["", "## Goals", ""]
    lines += targets_markdown(targets)
    return "\n".join(lines) + "\n"


def to_jsonable(value: object) -> object:
    """Dataclasses (and tuples of them) as plain JSON data."""
    if hasattr(value, "__dataclass_fields__"):
        data: dict[str, object] = asdict(value)  # type: ignore[call-overload]
        return data
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    return value
