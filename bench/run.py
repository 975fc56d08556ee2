"""`make bench`: seed, serve as in production, load with wrk, print the table beside the baseline.

python -m bench.run [--duration 8] [--warmup 2] [--concurrency 1,10,50] [--label after]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from bench import counting, profile, seed
from bench.operations import Operation, operations

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LUA = HERE / "wrk" / "request.lua"
LOOPBACK = "127.0.0.1"
LITELLM_MASTER_KEY = "sk-bench-master"
SESSION_MAX_AGE = 8 * 3600
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# Which baseline an operation is held against, where it is not its own.
BASELINE_OF = {"modelAccess": "authz", "graphql-floor": "api-keys"}


@dataclass(frozen=True, slots=True)
class Target:
    """A server under load: the service or the baseline."""

    name: str
    url: str
    pid: int


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--duration", type=int, default=2, help="seconds measured per run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="measured runs of each server per operation and concurrency, alternating",
    )
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first")
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--workers", type=int, default=1, help="WEB_CONCURRENCY of both servers")
    parser.add_argument("--port-base", type=int, default=4400)
    parser.add_argument("--only", default="", help="comma-separated operations (default: all)")
    parser.add_argument("--label", default="latest", help="names the results file")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated operations to sample with py-spy while the service is under load",
    )
    parser.add_argument(
        "--database-server", default=os.environ.get("BENCH_DATABASE_SERVER", DEFAULT_SERVER)
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    asyncio.run(_run(args))
    return 0


async def _run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    session_secret = secrets.token_urlsafe(48)
    db_name = f"bench_{uuid.uuid4().hex[:10]}"
    database_url = await seed.create_database(args.database_server, db_name)
    try:
        seeded = await seed.seed(
            database_url, session_secret=session_secret, session_max_age=SESSION_MAX_AGE
        )
        print(f"seeded {db_name}: {seeded.counts}", flush=True)
        ops = [
            o
            for o in operations(seeded.access_model)
            if not args.only or o.name in args.only.split(",")
        ]
        # Every operation's headers: a baseline held against another operation's sends those.
        headers = {o.name: _headers(o, seeded) for o in operations(seeded.access_model)}
        port = iter(range(args.port_base, args.port_base + 100))
        emulator_port, service_port, baseline_port = next(port), next(port), next(port)
        config = _service_config(
            database_url, session_secret, f"http://{LOOPBACK}:{emulator_port}", args.workers
        )
        with ExitStack() as stack:
            stack.enter_context(_emulator(emulator_port))
            service = stack.enter_context(
                _server("service", [str(seed.CLI), "serve"], service_port, {**config})
            )
            baseline = stack.enter_context(
                _server(
                    "baseline",
                    _baseline_command(baseline_port, args.workers),
                    baseline_port,
                    {**config, "BENCH_DATABASE_URL": database_url},
                )
            )
            await _check_answers(ops, headers, service, baseline)
            per_request = await counting.count_per_request(
                Settings.model_validate({k.lower(): v for k, v in config.items()}),
                ops,
                headers,
            )
            rows = []
            for op in ops:
                for c in concurrencies:
                    # Baseline and service take turns, so that a change in the machine's speed
                    # during the run weighs on both.
                    runs = [
                        _load(
                            op,
                            target,
                            c,
                            _headers_for(op, target, headers),
                            args,
                            first=round_ == 0,
                        )
                        for round_ in range(args.rounds)
                        for target in (baseline, service)
                    ]
                    for target in (baseline, service):
                        row = _combined([r for r in runs if r["target"] == target.name])
                        rows.append(row)
                        print(_row_line(row), flush=True)
    finally:
        if not args.keep_database:
            await seed.drop_database(args.database_server, db_name)
    report = _report(rows, per_request, seeded.counts, args, time.monotonic() - started)
    print()
    print(_table(report))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{args.label}-{stamp}.json", f"{args.label}.json"):
        (RESULTS / name).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to bench/results/{args.label}.json in {report['seconds']:.0f} s")


def _service_config(
    database_url: str, session_secret: str, litellm_url: str, workers: int
) -> dict[str, str]:
    """The service's environment: production settings, as an operator would set them."""
    return {
        "ENV": "production",
        "AUTH_MODE": "oidc",
        # Where browsers would reach it; only sign-in redirects use it.
        "PUBLIC_URL": "https://litemaas.example.com",
        # Sign-in is not exercised; the provider only has to be configured.
        "OIDC_ISSUER": f"http://{LOOPBACK}:9/",
        "OIDC_CLIENT_ID": "litemaas-bench",
        "OIDC_CLIENT_SECRET": secrets.token_urlsafe(24),
        "SESSION_SECRET": session_secret,
        "SESSION_MAX_AGE": str(SESSION_MAX_AGE),
        "DATABASE_URL": database_url,
        "LITELLM_URL": litellm_url,
        "LITELLM_MASTER_KEY": LITELLM_MASTER_KEY,
        "WEB_CONCURRENCY": str(workers),
        # The access log would be the same cost on both sides; neither writes one.
        "LOG_LEVEL": "warning",
        # Left running, the reconciler would revoke the seeded keys (the emulator never made
        # them) in the middle of the load.
        "RECONCILE_INTERVAL_SECONDS": "86400",
        "CATALOG_SYNC_INTERVAL_SECONDS": "86400",
    }


def _baseline_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "bench.baseline:create_app", "--factory",
        "--host", LOOPBACK, "--port", str(port), "--workers", str(workers),
        "--log-level", "warning",
    ]  # fmt: skip


def _headers(op: Operation, seeded: seed.Seeded) -> dict[str, str]:
    headers = {}
    if op.session:
        headers["Cookie"] = seeded.session_cookie
    if op.api_key:
        headers["Authorization"] = f"Bearer {seeded.api_key}"
    return headers


def _headers_for(
    op: Operation, target: Target, headers: dict[str, dict[str, str]]
) -> dict[str, str]:
    """What `op` sends to `target`: the baseline answers as the operation it is held against."""
    if target.name == "baseline":
        return headers[BASELINE_OF.get(op.name, op.name)]
    return headers[op.name]


@contextmanager
def _emulator(port: int) -> Iterator[None]:
    command = [
        sys.executable, "-m", "litellm_emulator", "--port", str(port),
        "--master-key", LITELLM_MASTER_KEY, "--models", ",".join(seed.MODELS),
        "--log-level", "warning",
    ]  # fmt: skip
    with _process(command, {"ENV": "development"}, port):
        yield


@contextmanager
def _server(name: str, command: list[str], port: int, env: dict[str, str]) -> Iterator[Target]:
    with _process(command, {**env, "HOST": LOOPBACK, "PORT": str(port)}, port) as pid:
        yield Target(name, f"http://{LOOPBACK}:{port}", pid)


@contextmanager
def _process(command: list[str], env: dict[str, str], port: int) -> Iterator[int]:
    """Start a server on 127.0.0.1:`port`, wait until it listens, stop it (by its pid) after."""
    # Only what the benchmark chooses: nothing from a developer's shell or .env leaks in.
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}  # noqa: S108
    environ["PYTHONPATH"] = str(HERE.parent)  # `bench.baseline`
    # A directory without a .env file, so that nothing but `env` configures the server.
    RESULTS.mkdir(exist_ok=True)
    process = subprocess.Popen(command, env=environ, cwd=RESULTS)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:3]} did not start on port {port}")
            time.sleep(0.1)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((LOOPBACK, port)) == 0


async def _check_answers(
    ops: list[Operation], headers: dict[str, dict[str, str]], service: Target, baseline: Target
) -> None:
    """Before any load: each answer is a success, and the baseline's is the service's."""
    async with httpx.AsyncClient(timeout=10) as client:
        for op in ops:
            answer = await _send(client, service.url, op, headers[op.name], baseline=False)
            assert "errors" not in answer, (op.name, answer)
            base = await _send(
                client, baseline.url, op, _headers_for(op, baseline, headers), baseline=True
            )
            if op.name == "modelAccess":
                assert answer["data"][op.name]["__typename"] == "ModelAccessGranted", answer
            elif op.name not in BASELINE_OF:
                assert answer == base, f"{op.name}: the baseline answers differently"


async def _send(
    client: httpx.AsyncClient, url: str, op: Operation, headers: dict[str, str], *, baseline: bool
) -> Any:
    method, path, body = op.request(baseline=baseline)
    headers = {**headers, "Content-Type": "application/json"}
    response = await client.request(method, url + path, content=body, headers=headers)
    assert response.status_code == 200, (url + path, response.status_code, response.text)
    return response.json()


def _load(
    op: Operation,
    target: Target,
    concurrency: int,
    headers: dict[str, str],
    args: argparse.Namespace,
    *,
    first: bool,
) -> dict[str, Any]:
    """Measure one (operation, server, concurrency); warm up first on the first round."""
    method, path, body = op.request(baseline=target.name == "baseline")
    env = {**os.environ, "BENCH_METHOD": method}
    if body is not None:
        env["BENCH_BODY"] = body
    if "Cookie" in headers:
        env["BENCH_COOKIE"] = headers["Cookie"]
    if "Authorization" in headers:
        env["BENCH_AUTHORIZATION"] = headers["Authorization"]

    def wrk(seconds: int) -> dict[str, Any]:
        # One thread: the load generator keeps to one core, the server gets the other.
        command = [
            "wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "5s",
            "-s", str(LUA), target.url + path,
        ]  # fmt: skip
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603
        line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH_RESULT "))
        result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
        return result

    if first and args.warmup:
        wrk(args.warmup)
    cpu_before = _cpu_seconds(target.pid)
    profiled = op.name in args.profile.split(",") and concurrency == 10
    if first and target.name == "service" and profiled:
        collapsed = RESULTS / f"profile-{args.label}-{op.name}.txt"
        with profile.sampling(target.pid, args.duration, collapsed):
            measured = wrk(args.duration)
        print(profile.summary(collapsed), flush=True)
    else:
        measured = wrk(args.duration)
    seconds = measured["duration_us"] / 1e6
    cpu = _cpu_seconds(target.pid) - cpu_before
    return {
        "operation": op.name,
        "target": target.name,
        "concurrency": concurrency,
        "requests_per_second": measured["requests"] / seconds,
        "p50_ms": measured["p50_us"] / 1000,
        "p90_ms": measured["p90_us"] / 1000,
        "p99_ms": measured["p99_us"] / 1000,
        "max_ms": measured["max_us"] / 1000,
        "requests": measured["requests"],
        "seconds": seconds,
        "cpu_seconds": cpu,
        "errors": measured["errors"],
        # CPU the server spent per answer: steadier than req/s when others share the machine.
        "cpu_ms_per_request": 1000 * cpu / max(measured["requests"], 1),
        "peak_rss_mb": _peak_rss_kb(target.pid) / 1024,
        # The machine may be shared: how busy it was, beside what this run put on it.
        "loadavg_1m": os.getloadavg()[0],
    }


def _combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One server's runs of one operation and concurrency as one row: throughput and CPU over
    all of them; latencies from the middle run (a stall of the shared machine in one short run
    would otherwise decide), with the worst run's p99 kept beside; memory at its peak."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    cpu = sum(r["cpu_seconds"] for r in runs)
    errors: dict[str, int] = {}
    for run in runs:
        for kind, count in run["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    middle = {k: statistics.median(r[k] for r in runs) for k in ("p50_ms", "p90_ms", "p99_ms")}
    return {
        **runs[0],
        **middle,
        "p99_worst_run_ms": max(r["p99_ms"] for r in runs),
        "max_ms": max(r["max_ms"] for r in runs),
        "requests": requests,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "requests_per_second": requests / seconds,
        "cpu_ms_per_request": 1000 * cpu / max(requests, 1),
        "errors": errors,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "loadavg_1m": max(r["loadavg_1m"] for r in runs),
        "runs_requests_per_second": [r["requests_per_second"] for r in runs],
    }


def _peak_rss_kb(pid: int) -> int:
    """VmHWM of the server: of its worker processes when it has them, the largest."""
    pids = [pid, *_children(pid)]
    peaks = []
    for p in pids:
        status = Path(f"/proc/{p}/status").read_text()
        peaks.append(next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM:")))
    return max(peaks)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of the server and its worker processes so far."""
    ticks = 0
    for p in [pid, *_children(pid)]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def _report(
    rows: list[dict[str, Any]],
    per_request: dict[str, dict[str, int]],
    counts: dict[str, int],
    args: argparse.Namespace,
    seconds: float,
) -> dict[str, Any]:
    baselines = {
        (r["operation"], r["concurrency"]): r["requests_per_second"]
        for r in rows
        if r["target"] == "baseline"
    }
    for row in rows:
        if row["target"] == "service":
            base = baselines[
                (BASELINE_OF.get(row["operation"], row["operation"]), row["concurrency"])
            ]
            row["ratio_to_baseline"] = row["requests_per_second"] / base
            row.update(per_request[row["operation"]])
    return {
        "label": args.label,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "workers": args.workers},
        "duration_s": args.duration,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "seeded": counts,
        "per_request": per_request,
        "rows": rows,
        "targets": _targets(rows, per_request),
        "seconds": seconds,
    }


def _targets(
    rows: list[dict[str, Any]], per_request: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    def service(op: str, c: int) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in rows
                if r["operation"] == op and r["concurrency"] == c and r["target"] == "service"
            ),
            None,
        )

    checks: list[tuple[str, float | None, str]] = []
    if row := service("api-keys", 10):
        checks.append(
            ("api-keys rps >= 50% of baseline at c=10", row["ratio_to_baseline"], ">=0.5")
        )
    if row := service("api-keys", 50):
        checks.append(("api-keys p99 < 50 ms at c=50", row["p99_ms"], "<50"))
    for c in (1, 10, 50):
        if row := service("authz", c):
            checks.append(
                (f"authz rps >= 80% of baseline at c={c}", row["ratio_to_baseline"], ">=0.8")
            )
    if row := service("authz", 10):
        checks.append(("authz p99 < 5 ms at c=10", row["p99_ms"], "<5"))
    if "api-keys" in per_request:
        checks.append(
            ("api-keys SQL statements <= 3", per_request["api-keys"]["statements"], "<=3")
        )
    for op in ("api-keys", "models", "subscriptions"):
        if op in per_request:
            checks.append((f"{op} LiteLLM calls = 0", per_request[op]["litellm_calls"], "<=0"))
    peak = max((r["peak_rss_mb"] for r in rows if r["target"] == "service"), default=None)
    checks.append(("service peak RSS < 150 MB per worker", peak, "<150"))
    return [
        {
            "target": name,
            "value": value,
            "bound": bound,
            "met": value is not None and _meets(value, bound),
        }
        for name, value, bound in checks
    ]


def _meets(value: float, bound: str) -> bool:
    for op, test in ((">=", float.__ge__), ("<=", float.__le__), ("<", float.__lt__)):
        if bound.startswith(op):
            return bool(test(float(value), float(bound.removeprefix(op))))
    raise ValueError(bound)


def _row_line(row: dict[str, Any]) -> str:
    errors = sum(row["errors"].values())
    return (
        f"{row['operation']:<14}{row['target']:<9}c={row['concurrency']:<3}"
        f"{row['requests_per_second']:>9.0f} req/s  p50 {row['p50_ms']:>7.2f} ms  "
        f"cpu {row['cpu_ms_per_request']:>6.3f} ms/req  "
        f"p99 {row['p99_ms']:>7.2f} ms  errors {errors}"
    )


def _table(report: dict[str, Any]) -> str:
    lines = [
        f"{'operation':<14}{'c':>3}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu ms':>8}"
        f"{'| base':>7}{'req/s':>7}{'p99 ms':>8}{'cpu ms':>8}{'| ratio':>8}"
        f"{'SQL':>5}{'trips':>6}{'LLM':>5}{'RSS MB':>8}{'err':>5}",
    ]
    rows = report["rows"]
    for row in (r for r in rows if r["target"] == "service"):
        base_op = BASELINE_OF.get(row["operation"], row["operation"])
        base = next(
            r
            for r in rows
            if r["target"] == "baseline"
            and r["operation"] == base_op
            and r["concurrency"] == row["concurrency"]
        )
        lines.append(
            f"{row['operation']:<14}{row['concurrency']:>3}{row['requests_per_second']:>8.0f}"
            f"{row['p50_ms']:>8.2f}{row['p99_ms']:>8.2f}{row['cpu_ms_per_request']:>8.3f}"
            f"{'|':>7}{base['requests_per_second']:>7.0f}{base['p99_ms']:>8.2f}"
            f"{base['cpu_ms_per_request']:>8.3f}{'|':>3}{row['ratio_to_baseline']:>5.2f}"
            f"{row['statements']:>5}{row['round_trips']:>6}{row['litellm_calls']:>5}"
            f"{row['peak_rss_mb']:>8.1f}{sum(row['errors'].values()):>5}"
        )
    lines.append("")
    lines.extend(
        f"{'met   ' if t['met'] else 'MISSED'}  {t['target']}: {t['value']:.3g}"
        if t["value"] is not None
        else f"MISSED  {t['target']}: not measured"
        for t in report["targets"]
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
