# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""What playbooks/status.yml reports: one host's summary from what the deploy role's status
entry point read (releases, health checks, units, nginx -T, certificates, disk, the deploy
lock, the check-mode pass), the problems in it, and the run's table. Shared by the
status_summary and status_report filters and their tests."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

Result = Mapping[str, Any]


def certificate_days_left(pem: str, now: datetime.datetime | None = None) -> int:
    """Whole days before the first certificate of a PEM text expires (negative after)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem.encode())
    moment = now or datetime.datetime.now(datetime.UTC)
    return (cert.not_valid_after_utc - moment).days


def _results(registered: Result | None) -> list[Result]:
    return list((registered or {}).get("results") or [])


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _sides(releases: Result, disk: Result, in_releases: bool) -> dict[str, dict[str, Any]]:
    sizes = {r["item"]["name"]: r for r in _results(disk)}
    sides: dict[str, dict[str, Any]] = {}
    for result in _results(releases):
        name = result["item"]["name"]
        manifests = result.get("releases") or []
        current = result.get("current") or ""
        good = any(m.get("release") == current and m.get("good_at") for m in manifests)
        size = sizes.get(name) or {}
        stdout = str(size.get("stdout") or "")
        sides[name] = {
            "serving": current if in_releases else "in place",
            "releases": len(manifests),
            "good": good,
            "bytes": int(stdout.split()[0]) if size.get("rc") == 0 and stdout else None,
        }
    return sides


def _units(states: Result) -> list[dict[str, Any]]:
    units = []
    for result in _results(states):
        status = result.get("status") or {}
        units.append(
            {
                "name": result["item"],
                "load": status.get("LoadState", "?"),
                "active": status.get("ActiveState", "?"),
                "sub": status.get("SubState", "?"),
                "restarts": int(status.get("NRestarts") or 0),
            }
        )
    return units


def _certificates(read: Result, now: datetime.datetime | None) -> list[dict[str, Any]]:
    certificates = []
    for result in _results(read):
        entry: dict[str, Any] = {"path": result["item"], "days": None, "error": ""}
        if result.get("content"):
            try:
                pem = base64.b64decode(result["content"]).decode()
                entry["days"] = certificate_days_left(pem, now)
            except ValueError as exc:
                entry["error"] = f"not a PEM certificate ({exc})"
        else:
            entry["error"] = str(result.get("msg") or "unreadable")
        certificates.append(entry)
    return certificates


def _lock(read: Result) -> str:
    if not (read or {}).get("content"):
        return ""
    try:
        lock = json.loads(base64.b64decode(read["content"]))
        who = f"{lock.get('user', '?')} from {lock.get('controller', '?')}"
        return f"{who} since {lock.get('since', '?')}"
    except ValueError:
        return "a garbled lock file"


def summarize(
    host: str,
    *,
    releases: Result,
    disk: Result,
    in_releases: bool,
    checks: Result,
    units: Result,
    nginx: Result,
    certificates: Result,
    lock: Result,
    drift: Result,
    certificate_days: int,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """One host's summary and its problems. `drift` is {"enabled", "rc", "output",
    "findings"}: the check-mode pass's exit status and output, and what the task_changes
    callback wrote for this host (None when it wrote nothing for it)."""
    summary: dict[str, Any] = {
        "host": host,
        "sides": _sides(releases, disk, in_releases),
        "checks": list((checks or {}).get("checks") or []),
        "units": _units(units),
        "nginx": "-"
        if (nginx or {}).get("skipped") or not nginx
        else ("ok" if nginx.get("rc") == 0 else "failed"),
        "certificates": _certificates(certificates, now),
        "lock": _lock(lock),
        "drift": None,
    }
    problems: list[str] = []
    for check in summary["checks"]:
        if not check.get("ok"):
            answer = (
                f"status {check.get('status')}"
                if check.get("status", -1) >= 0
                else check.get("error", "")
            )
            problems.append(f"check '{check.get('name')}' of {check.get('url')} failed: {answer}")
    if (checks or {}).get("msg") and not summary["checks"]:
        problems.append(f"the health checks did not run: {checks['msg']}")
    for unit in summary["units"]:
        if unit["load"] != "loaded":
            problems.append(f"unit {unit['name']} is {unit['load']}")
        elif unit["active"] != "active":
            problems.append(f"unit {unit['name']} is {unit['active']} ({unit['sub']})")
    if summary["nginx"] == "failed":
        problems.append(
            f"nginx -t failed: {_tail(str(nginx.get('stderr') or nginx.get('msg') or ''))}"
        )
    for cert in summary["certificates"]:
        if cert["error"]:
            problems.append(f"certificate {cert['path']}: {cert['error']}")
        elif cert["days"] < certificate_days:
            problems.append(
                f"certificate {cert['path']} expires in {cert['days']} days "
                f"(deploy_status_certificate_days: {certificate_days})"
            )
    if drift.get("enabled"):
        findings = drift.get("findings")
        if findings is None:
            problems.append(
                f"the check-mode pass of the deploy reported nothing for this host "
                f"(exit {drift.get('rc')}): {_tail(str(drift.get('output') or ''))}"
            )
        else:
            summary["drift"] = list(findings.get("changed") or [])
            problems.extend(
                f"the check-mode pass of the deploy failed: {f}"
                for f in findings.get("failed") or []
            )
            if summary["drift"]:
                tasks = _tasks(len(summary["drift"]))
                problems.append(f"a deploy would change {tasks}: {'; '.join(summary['drift'])}")
    summary["problems"] = problems
    return summary


def disagreements(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """One sentence per side whose hosts serve different releases."""
    found = []
    for side in ("back end", "front end"):
        serving = {
            s["host"]: s["sides"][side]["serving"]
            for s in summaries
            if side in s["sides"] and s["sides"][side]["serving"] != "in place"
        }
        if len(set(serving.values())) > 1:
            listed = ", ".join(f"{host} {release or '(none)'}" for host, release in serving.items())
            found.append(f"the hosts serve different {side} releases: {listed}")
    return found


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _size(count: int | None) -> str:
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return "-"


def _side(summary: Mapping[str, Any], name: str) -> str:
    side = summary["sides"].get(name)
    if not side:
        return "-"
    serving = side["serving"] or "(none)"
    mark = " good" if side["good"] else ""
    return (
        f"{serving}{mark} [{side['releases']}, {_size(side['bytes'])}]"
        if side["releases"]
        else serving
    )


def _units_cell(summary: Mapping[str, Any]) -> str:
    units = summary["units"]
    down = [u for u in units if u["load"] != "loaded" or u["active"] != "active"]
    restarts = sum(u["restarts"] for u in units)
    text = ", ".join(f"{u['name']} {u['active']}" for u in down) if down else f"{len(units)} active"
    return f"{text}, {restarts} restarts"


def _certificates_cell(summary: Mapping[str, Any]) -> str:
    days = [c["days"] for c in summary["certificates"] if c["days"] is not None]
    if not summary["certificates"]:
        return "-"
    return f"{min(days)} days" if days else "unreadable"


def report(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's table (one row per host, then every problem, host by host) and each host's
    problems, its own and the disagreements between hosts."""
    header = (
        "HOST",
        "BACK END",
        "FRONT END",
        "CHECKS",
        "UNITS",
        "NGINX -T",
        "CERTIFICATE",
        "DRIFT",
        "LOCK",
    )
    rows = [header]
    for s in summaries:
        failed = [c for c in s["checks"] if not c.get("ok")]
        checks = f"{len(s['checks']) - len(failed)}/{len(s['checks'])} ok" if s["checks"] else "-"
        drift = "-" if s["drift"] is None else _tasks(len(s["drift"]))
        rows.append(
            (
                s["host"],
                _side(s, "back end"),
                _side(s, "front end"),
                checks,
                _units_cell(s),
                s["nginx"],
                _certificates_cell(s),
                drift,
                s["lock"] or "-",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        for row in rows
    ]
    disagreeing = disagreements(summaries)
    problems = {s["host"]: list(s["problems"]) + disagreeing for s in summaries}
    lines.append("")
    lines.extend(f"{host}: {p}" for host, found in problems.items() for p in found)
    if not any(problems.values()):
        lines.append("no problem found")
    return {"table": "\n".join(lines), "problems": problems}
