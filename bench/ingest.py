"""Ingest throughput against a bare endpoint that only XADDs the raw body, in the same run.

    python -m bench ingest
    python -m bench ingest --requests 3000 --concurrency 16 --batch 50   # same as python -m bench.ingest …

Both servers are real single-process uvicorn instances on loopback, talking to
the same Redis (`REDIS_URL`). The bare endpoint is the floor any ingest must
pay (HTTP + one XADD); ingest adds authentication, parsing, IPTC schema
validation, sanitising, the rate-limit bucket, the atomic version check and
the status record. Rounds alternate bare/ingest so drift hits both alike.
Reported: requests/s for single ninjs items and for NDJSON batches, items/s
for batches, and ingest ÷ bare (issue 18's targets: single items ≥ 0.8 × bare,
batches ≥ 3,000 items/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.config import sha256_hex
from shared.connections import make_redis
from shared.settings import Settings

KEY = "bench-ingest-key"
SHARED = Path(os.environ.get("NEWSROOM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SCHEMAS = SHARED / "iptc" / "ninjs" / "specification"
PARAGRAPH = (
    "The central bank held its benchmark rate steady on Wednesday, saying inflation had eased but "
    "remained above target, and signalled that it would wait for more data before cutting. "
)


def bare_app() -> FastAPI:
    """The floor: accept any body and XADD it, nothing else."""
    settings = Settings()
    redis = make_redis(settings)
    stream = f"{{{settings.key_prefix}:bare}}:raw"
    app = FastAPI()

    @app.post("/v1/stories", status_code=202)
    async def post(request: Request) -> JSONResponse:
        entry = await redis.xadd(stream, {"__data__": await request.body()})
        return JSONResponse({"entry_id": entry.decode()}, status_code=202)

    return app


def item(n: int, run: str) -> dict[str, Any]:
    return {
        "uri": f"urn:bench:{run}:{n}",
        "version": "1",
        "versioncreated": "2024-05-01T10:00:00Z",
        "firstcreated": "2024-05-01T09:30:00Z",
        "pubstatus": "usable",
        "urgency": 4,
        "language": "en",
        "headlines": [{"role": "main", "value": f"Central bank holds rates, story {n}"}],
        "bodies": [
            {
                "role": "main",
                "contenttype": "text/html",
                "value": "".join(f"<p>{PARAGRAPH}</p>" for _ in range(8)),
            }
        ],
        "by": "Bench Reporter",
        "located": "Frankfurt",
        "subjects": [{"name": "economy", "uri": "http://cv.iptc.org/newscodes/mediatopic/04000000"}],
    }


def _serve(args: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, *args], env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on {port} did not start; see {log}")


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _drive(url: str, bodies: list[tuple[bytes, str]], concurrency: int) -> tuple[float, int]:
    """Send every body once with `concurrency` clients; (seconds, non-2xx count)."""
    queue = list(reversed(bodies))
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal failures
            while queue:
                body, content_type = queue.pop()
                response = await client.post(
                    "/v1/stories",
                    content=body,
                    headers={"Authorization": f"Bearer {KEY}", "Content-Type": content_type},
                )
                if response.status_code >= 300:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, failures


def _singles(count: int, run: str) -> list[tuple[bytes, str]]:
    return [(json.dumps(item(n, run)).encode(), "application/json") for n in range(count)]


def _batches(count: int, size: int, run: str) -> list[tuple[bytes, str]]:
    return [
        (
            "\n".join(json.dumps(item(b * size + i, run)) for i in range(size)).encode(),
            "application/x-ndjson",
        )
        for b in range(count)
    ]


def _cpu_seconds(pid: int, child: bool = False) -> float:
    """User + system CPU time so far of a process and its live children (ingest's parse
    processes), from Linux /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        if child:
            return 0.0  # it ended between the listing and now
        raise
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(int(c), child=True) for c in children)


def _measure(
    label: str,
    targets: dict[str, tuple[str, int]],
    make: Callable[[str], list[tuple[bytes, str]]],
    rounds: int,
    conc: int,
) -> dict[str, tuple[float, float]]:
    """Per target: (median requests/s, server CPU milliseconds per request)."""
    rates: dict[str, list[float]] = {name: [] for name in targets}
    cpu: dict[str, list[float]] = {name: [] for name in targets}
    for r in range(rounds):
        for name, (url, pid) in targets.items():
            bodies = make(f"{label}-{name}-{r}-{uuid.uuid4().hex[:6]}")
            before = _cpu_seconds(pid)
            seconds, failures = asyncio.run(_drive(url, bodies, conc))
            if failures:
                raise RuntimeError(f"{name}: {failures} of {len(bodies)} requests failed")
            rates[name].append(len(bodies) / seconds)
            cpu[name].append((_cpu_seconds(pid) - before) * 1000 / len(bodies))
    return {name: (statistics.median(rates[name]), statistics.median(cpu[name])) for name in targets}


def main(argv: list[str] | None = None) -> list[tuple[str, str, str, str, bool]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="single-item requests per round")
    parser.add_argument("--batches", type=int, default=60, help="batch requests per round")
    parser.add_argument("--batch", type=int, default=50, help="items per NDJSON batch")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])

    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    config = workdir / "newsroom.toml"
    config.write_text(
        f'[[partners]]\nid = "bench"\nkeys_sha256 = ["{sha256_hex(KEY)}"]\n'
        "rate_per_second = 1000000.0\nrate_burst = 1000000\n"
    )
    env = {
        "REDIS_URL": redis_url,
        "REDIS_CLUSTER_NODES": "",
        "NEWSROOM_KEY_PREFIX": prefix,
        "NEWSROOM_CONFIG": str(config),
        "NEWSROOM_BACKLOG_LIMIT": str(10**9),
    }
    if SCHEMAS.is_dir():
        env["NEWSROOM_NINJS_SCHEMA_DIR"] = str(SCHEMAS)
    ingest_port, bare_port = _port(), _port()
    ingest_cmd = ["-m", "services.cli", "ingest", "--port", str(ingest_port)]
    bare_cmd = ["-m", "uvicorn", "bench.ingest:bare_app", "--factory", "--port", str(bare_port)]
    bare_cmd += ["--log-level", "warning", "--no-access-log"]  # as `newsroom ingest` runs uvicorn
    servers = [
        _serve(ingest_cmd, env, ingest_port, workdir / "ingest.log"),
        _serve(bare_cmd, env, bare_port, workdir / "bare.log"),
    ]
    targets = {
        "bare": (f"http://127.0.0.1:{bare_port}", servers[1].pid),
        "ingest": (f"http://127.0.0.1:{ingest_port}", servers[0].pid),
    }
    try:
        _measure("warmup", targets, lambda run: _singles(200, run), 1, args.concurrency)
        # ingest starts its parse processes on the first large body; bodies meanwhile go to a thread
        _measure("warmup", targets, lambda run: _batches(args.batches, args.batch, run), 1, args.concurrency)
        singles = _measure(
            "single", targets, lambda run: _singles(args.requests, run), args.rounds, args.concurrency
        )
        batches = _measure(
            "batch",
            targets,
            lambda run: _batches(args.batches, args.batch, run),
            args.rounds,
            args.concurrency,
        )
    finally:
        for server in servers:
            server.terminate()
            server.wait(15)
        asyncio.run(_cleanup(redis_url, prefix))

    schema_note = "with IPTC schema validation" if SCHEMAS.is_dir() else "WITHOUT schema validation"
    print(
        f"ninjs 2.x items (~{len(json.dumps(item(0, 'x')))} bytes), concurrency {args.concurrency}, "
        f"median of {args.rounds} rounds, {schema_note}"
    )
    rows = [
        ("single item, requests/s", singles, 1),
        (f"batch of {args.batch}, requests/s", batches, 1),
        (f"batch of {args.batch}, items/s", batches, args.batch),
    ]
    print(f"{'workload':<28}{'bare':>10}{'ingest':>10}{'ratio':>8}   server CPU ms/request bare, ingest")
    for title, figures, scale in rows:
        (bare_rate, bare_cpu), (ingest_rate, ingest_cpu) = figures["bare"], figures["ingest"]
        print(
            f"{title:<28}{bare_rate * scale:>10.0f}{ingest_rate * scale:>10.0f}"
            f"{ingest_rate / bare_rate:>8.2f}   {bare_cpu:.2f}, {ingest_cpu:.2f}"
        )
    ratio = singles["ingest"][0] / singles["bare"][0]
    items_per_s = batches["ingest"][0] * args.batch
    results = [
        (
            "ingest single items / bare endpoint",
            f"{singles['ingest'][0]:.0f} req/s",
            f"{singles['bare'][0]:.0f} req/s",
            f"≥ 0.8 (is {ratio:.2f})",
            ratio >= 0.8,
        ),
        (
            f"ingest NDJSON batches of {args.batch}, one process",
            f"{items_per_s:.0f} items/s",
            f"bare {batches['bare'][0] * args.batch:.0f} items/s",
            "≥ 3000 items/s",
            items_per_s >= 3000,
        ),
    ]
    for name, figure, baseline, threshold, met in results:
        print(f"{name}: {figure} (baseline {baseline}), target {threshold}: {'met' if met else 'MISSED'}")
    return results


async def _cleanup(redis_url: str, prefix: str) -> None:
    redis = make_redis(Settings(redis_url=redis_url, redis_cluster_nodes=""))
    try:
        async for key in redis.scan_iter(match=f"*{prefix}*", count=1000):
            await redis.delete(key)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    main()
