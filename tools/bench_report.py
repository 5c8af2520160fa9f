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

SETUPS = ("seed", "collection", "direct")

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


# --- rounds, medians and ratios ----------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    round: int
    setup: str
    endpoint: str
    result: WrkResult


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


def median(values: Iterable[float]) -> float:
    data = list(values)
    if not data:
        raise ValueError("median of no values")
    return float(statistics.median(data))


def summarize(samples: Iterable[Sample]) -> dict[tuple[str, str], Summary]:
    grouped: dict[tuple[str, str], list[WrkResult]] = {}
    for sample in samples:
        grouped.setdefault((sample.setup, sample.endpoint), []).append(sample.result)
    return {
        (setup, endpoint): Summary(
            setup=setup,
            endpoint=endpoint,
            rounds=len(results),
            requests_per_s=median(r.requests_per_s for r in results),
            p50_ms=median(r.p50_ms for r in results),
            p99_ms=median(r.p99_ms for r in results),
            bytes_per_request=median(r.bytes_per_request for r in results),
            errors=sum(r.errors for r in results),
        )
        for (setup, endpoint), results in grouped.items()
    }


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


def ansible_run(
    name: str,
    hosts: Sequence[str],
    seconds: float,
    output: str,
    slowest_limit: int = 5,
    *,
    controller_cpu_s: float = 0.0,
    hosts_cpu_s: float = 0.0,
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
    name."""
    by_name = {run.name: run for run in baseline}
    comparisons = []
    for run in current:
        base = by_name.get(run.name)
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


def ansible_targets(runs: Mapping[str, AnsibleRun]) -> list[Target]:
    goals = (
        ("no-change re-run", 15.0),
        ("back-end-only redeploy", 30.0),
        ("front-end-only redeploy", 15.0),
    )
    targets = [
        Target(name, f"{runs[name].seconds:.1f} s", f"< {limit:.0f} s", runs[name].seconds < limit)
        for name, limit in goals
        if name in runs
    ]
    for kind, one_name, four_name in (
        ("fresh converge", "fresh converge, 1 host", "fresh converge, 4 hosts"),
        ("no-change re-run", "no-change re-run", "no-change re-run, 4 hosts"),
    ):
        one, four = runs.get(one_name), runs.get(four_name)
        if one is not None and four is not None:
            factor = four.seconds / one.seconds
            targets.append(
                Target(f"4 hosts / 1 host ({kind})", f"{factor:.2f}x", "< 1.5x", factor < 1.5)
            )
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
                f"| `{spec.label}` | {setup} | {_fmt_num(summary.requests_per_s)} "
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
        "| run | hosts | seconds | CPU s controller + hosts | tasks ok | changed | skipped "
        "| slowest task |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        slowest = f"{run.slowest[0][0]} ({run.slowest[0][1]:.1f} s)" if run.slowest else "-"
        lines.append(
            f"| {run.name} | {run.hosts} | {run.seconds:.1f} "
            f"| {run.controller_cpu_s:.1f} + {run.hosts_cpu_s:.1f} | {run.tasks_ok} "
            f"| {_changed_cell(run)} | {run.skipped} | {slowest} |"
        )
    return lines


def rounds_notes(runs: Sequence[AnsibleRun], tree: str = "") -> list[str]:
    """One line per run measured in rounds: each round's seconds."""
    prefix = f"{tree} " if tree else ""
    return [
        f"- {prefix}{run.name}: median of {len(run.round_seconds)} rounds, "
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
) -> str:
    """The report: the current tree's runs and, with a baseline, the two trees side by side
    (ratios current / baseline), the baseline's own runs and where it failed, if it did."""
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
