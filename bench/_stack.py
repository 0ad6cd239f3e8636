"""What the pipeline benchmarks share: the Reuters replay, real processes, and the bare relay.

The bare relay is the baseline: the same three hops as the pipeline (HTTP → stream →
worker → stream → worker → HTTP), each a separate process reading with XREADGROUP in
batches and acknowledging per entry, but with no parsing, enrichment or formatting.
Run one hop: `python -m bench._stack ingest|hop|deliver` (used by `Relay`).
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tests.helpers.pipeline import Pipeline, percentile
from tests.helpers.ports import free_port
from tests.helpers.processes import ServiceProcess
from tests.helpers.receiver import Receiver

if TYPE_CHECKING:
    from shared.redis_client import RedisClient

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEWSROOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
REUTERS = SHARED_DATA / "reuters21578" / "reuters21578.jsonl"
LOGS = ROOT / "bench" / "results" / "logs"

# Production timings, except a partner rate limit high enough to measure throughput.
BENCH_ENV = {
    "NEWSROOM_RATE_PER_SECOND": "1000000",
    "NEWSROOM_RATE_BURST": "1000000",
}


def reuters_items(limit: int, run: str) -> list[dict[str, Any]]:
    """The first `limit` Reuters stories with a title and a body, as ninjs 2.x items."""
    items: list[dict[str, Any]] = []
    with REUTERS.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            title, body = (record.get("title") or "").strip(), (record.get("body") or "").strip()
            if not title or not body:
                continue
            paragraphs = "".join(
                f"<p>{html.escape(p.strip())}</p>" for p in body.split("\n    ") if p.strip()
            )
            date = record.get("date") or "1987-03-01T00:00:00"
            items.append(
                {
                    "uri": f"urn:reuters21578:{run}:{record['id']}",
                    "version": "1",
                    "type": "text",
                    "language": "en",
                    "firstcreated": f"{date}Z",
                    "versioncreated": f"{date}Z",
                    "pubstatus": "usable",
                    "byline": "Reuters",
                    "located": (record.get("dateline") or "").split(",")[0].strip().title() or None,
                    "headlines": [{"role": "main", "value": title.title()}],
                    "bodies": [{"role": "main", "contenttype": "text/html", "value": paragraphs}],
                }
            )
            if len(items) >= limit:
                break
    return items


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU milliseconds per story of named processes over one run (`with` around it)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *_: object) -> None:
        self.spent = {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}

    def per_story(self, stories: int) -> dict[str, float]:
        return {name: 1000 * seconds / max(1, stories) for name, seconds in self.spent.items()}


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )


@dataclass
class Figures:
    name: str
    stories: int
    seconds: float
    latencies: list[float]
    by_uri: dict[str, float] = field(default_factory=dict)  # each story's latency, seconds

    @property
    def rate(self) -> float:
        return self.stories / self.seconds if self.seconds else float("nan")

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


class Arrivals:
    """Per story uri, when it had reached every outlet (its last first arrival), read
    incrementally from the outlets' Receivers."""

    def __init__(self, receivers: Receiver | list[Receiver]) -> None:
        self.receivers = receivers if isinstance(receivers, list) else [receivers]
        self.seen = [len(receiver.received) for receiver in self.receivers]
        self.at: list[dict[str, float]] = [{} for _ in self.receivers]
        self.first: dict[str, float] = {}

    def update(self) -> int:
        for n, receiver in enumerate(self.receivers):
            received = receiver.received
            while self.seen[n] < len(received):
                delivery = received[self.seen[n]]
                uri = _uri_of(delivery.body)
                if uri not in self.at[n]:
                    self.at[n][uri] = delivery.at
                    if all(uri in at for at in self.at):
                        self.first[uri] = max(at[uri] for at in self.at)
                self.seen[n] += 1
        return len(self.first)


async def drive(
    name: str,
    post: Any,
    items: list[dict[str, Any]],
    receiver: Receiver | list[Receiver],
    *,
    rate: float | None = None,
    concurrency: int = 16,
    timeout: float = 900.0,
) -> Figures:
    """Post `items` (as fast as possible, or at `rate`/s) and wait until all arrived at every outlet.

    Throughput is stories / (last arrival - first post); latency is each story's
    arrival at its last outlet minus the moment ingest acknowledged it.
    """
    acked: dict[str, float] = {}
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    arrivals = Arrivals(receiver)
    started = time.time()
    with progress() as bar:
        task = bar.add_task(name, total=len(items))
        async with httpx.AsyncClient(timeout=60) as client:

            async def sender() -> None:
                while (item := await queue.get()) is not None:
                    await post(client, item)
                    acked[item["uri"]] = time.time()

            senders = [asyncio.create_task(sender()) for _ in range(concurrency)]
            for n, item in enumerate(items):
                if rate:
                    delay = started + n / rate - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                while queue.qsize() > concurrency * 2:
                    await asyncio.sleep(0.002)
                await queue.put(item)
                bar.update(task, completed=arrivals.update())
            for _ in senders:
                await queue.put(None)
            await asyncio.gather(*senders)
            deadline = time.time() + timeout
            while arrivals.update() < len(items) and time.time() < deadline:
                bar.update(task, completed=len(arrivals.first))
                await asyncio.sleep(0.05)
            bar.update(task, completed=arrivals.update())
    first = {uri: at for uri, at in arrivals.first.items() if uri in acked}
    if len(first) < len(items):
        raise RuntimeError(f"{name}: only {len(first)} of {len(items)} stories arrived")
    finished = max(first.values())
    by_uri = {uri: first[uri] - acked[uri] for uri in first}
    return Figures(name, len(items), finished - started, list(by_uri.values()), by_uri)


def _uri_of(body: bytes) -> str:
    data = json.loads(body)
    if "data" in data:  # the pipeline's webhook body
        return str(data["data"]["item"]["uri"])
    return str(data["uri"])  # the relay forwards the partner's item untouched


async def post_to_pipeline(pipeline: Pipeline) -> Any:
    async def post(client: httpx.AsyncClient, item: dict[str, Any]) -> None:
        status = await pipeline.post(client, item)
        if status >= 300:
            raise RuntimeError(f"ingest answered {status}")

    return post


def pipeline_env(redis_env: dict[str, str], config: Path, **extra: str) -> dict[str, str]:
    return {
        **redis_env,
        "NEWSROOM_KEY_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
        "NEWSROOM_CONFIG": str(config),
        **BENCH_ENV,
        **extra,
    }


async def cleanup(redis_env: dict[str, str], prefix: str) -> None:
    """Delete one benchmark run's keys (benchmarks only; the services never scan)."""
    from shared.connections import make_redis
    from shared.settings import Settings

    settings = Settings(
        redis_url=redis_env.get("REDIS_URL") or "redis://unused",
        redis_cluster_nodes=redis_env.get("REDIS_CLUSTER_NODES", ""),
    )
    client = make_redis(settings)
    try:
        async for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


# --- profiling ------------------------------------------------------------------------


class ProfiledService(ServiceProcess):
    """A service process run under cProfile; its profile is written when it stops."""

    def __init__(self, service: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(service, env, log_dir)
        self.profile_path = log_dir / f"{service}.prof"

    def start(self, wait: bool = True) -> ProfiledService:
        command = [sys.executable, "-m", "bench._profiled", str(self.profile_path), self.service]
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port)],
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_ready()
        return self


@dataclass(frozen=True)
class Calls:
    commands: float  # Redis commands per story
    round_trips: float  # writes to a Redis socket per story (a pipeline is one)
    idle: float | None  # share of the event loop's wall time spent waiting
    top: str
    by_caller: list[tuple[str, float]]  # round trips per story, by the project function that made them


# Helpers every caller goes through: round trips are charged to whoever called them.
_PASS_THROUGH = {"run", "call", "record", "record_many", "append_once", "append_once_each", "queue"}


def profile_calls(path: Path, stories: int) -> Calls:
    """Redis commands and round trips per story, event-loop idle share, top functions.

    A round trip is one write to a Redis socket (`StreamWriter.writelines`, called once per
    command or per pipeline). Counting `send_packed_command` instead counts twice: with a
    socket timeout it is resumed once more after `wait_for`, and cProfile counts each
    resumption as a call (before this was known, the figures were double).
    """
    import io
    import pstats

    stats = pstats.Stats(str(path), stream=io.StringIO())
    entries: Any = stats.stats  # type: ignore[attr-defined]
    commands = trips = idle = wall = 0.0
    for (filename, _line, name), (_cc, calls, tottime, cumtime, callers) in entries.items():
        # Commands are packed by redis-py or, on redis:// connections, by our hiredis
        # subclass (shared/connections.py), which calls redis-py's only as a fallback.
        ours = filename.endswith("shared/connections.py")
        if name == "pack_command" and (ours or "redis" in filename):
            fallback = (
                0
                if ours
                else sum(n[1] for (f, _l, _n), n in callers.items() if f.endswith("shared/connections.py"))
            )
            commands += calls - fallback
        if filename.endswith("asyncio/streams.py") and name == "writelines":
            trips += sum(n[1] for (f, _l, _n), n in callers.items() if "redis" in f)
        if name == "run" and filename.endswith("asyncio/runners.py"):
            idle, wall = tottime, cumtime
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(8)
    top = "\n".join(line for line in out.getvalue().splitlines() if line.strip()[:1].isdigit())
    per = max(1, stories)
    return Calls(
        commands / per, trips / per, idle / wall if wall else None, top, _by_caller(entries, trips / per)
    )


def _by_caller(entries: Any, per_story: float) -> list[tuple[str, float]]:
    """Share out the round trips over the project functions that caused them: walk up from
    redis-py's `send_packed_command` along the call graph, splitting each count by its
    callers' shares, and stop at the first function of services/ or shared/ that is not a
    mere helper (scripts, status records, append-once)."""
    charged: dict[str, float] = {}

    def ours(key: tuple[str, int, str]) -> bool:
        filename, _line, name = key
        mine = "/services/" in filename or "/shared/" in filename
        return mine and name not in _PASS_THROUGH

    def walk(key: tuple[str, int, str], count: float, seen: frozenset[Any]) -> None:
        callers = entries[key][4] if key in entries else {}
        total = sum(n[1] for n in callers.values())
        if not total:
            charged["(other)"] = charged.get("(other)", 0.0) + count
            return
        for caller, n in callers.items():
            share = count * n[1] / total
            if "faststream/redis/subscriber" in caller[0]:
                charged["FastStream reads (XREADGROUP, XAUTOCLAIM)"] = (
                    charged.get("FastStream reads (XREADGROUP, XAUTOCLAIM)", 0.0) + share
                )
            elif ours(caller):
                name = f"{Path(caller[0]).stem}.{caller[2]}"
                charged[name] = charged.get(name, 0.0) + share
            elif caller in seen or len(seen) > 30:
                charged["(other)"] = charged.get("(other)", 0.0) + share
            else:
                walk(caller, share, seen | {caller})

    for key in entries:
        if "redis" in key[0] and key[2] == "send_packed_command":
            walk(key, float(entries[key][1]), frozenset({key}))
    total = sum(charged.values()) or 1.0
    ranked = sorted(charged.items(), key=lambda kv: -kv[1])
    return [(name, per_story * count / total) for name, count in ranked if per_story * count / total >= 0.05]


# --- the bare relay ------------------------------------------------------------------


class Relay:
    """Three processes: HTTP ingest → stream A → hop → stream B → deliver → the outlet."""

    ROLES = ("hop", "deliver", "ingest")

    def __init__(self, redis_url: str, outlet_url: str) -> None:
        self.prefix = f"relay{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "REDIS_URL": redis_url, "RELAY_PREFIX": self.prefix, "RELAY_OUTLET": outlet_url}
        env["RELAY_PORT"] = str(self.port)
        LOGS.mkdir(parents=True, exist_ok=True)
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench._stack", role],
                env=env,
                stdout=(LOGS / f"relay-{role}.log").open("ab"),
                stderr=subprocess.STDOUT,
            )
            for role in self.ROLES
        ]

    def __enter__(self) -> Relay:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("relay did not start")

    def __exit__(self, *_: object) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(10)

    async def post(self, client: httpx.AsyncClient, item: dict[str, Any]) -> None:
        response = await client.post(f"{self.url}/v1/stories", json=item)
        if response.status_code != 202:
            raise RuntimeError(f"relay answered {response.status_code}")


async def _relay_ingest(redis: RedisClient, stream: str, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def stories(request: Request) -> Response:
        entry = await redis.xadd(stream, {"body": await request.body()})
        return JSONResponse({"entry_id": entry.decode()}, status_code=202)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    app = Starlette(routes=[Route("/v1/stories", stories, methods=["POST"]), Route("/healthz", healthz)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    await uvicorn.Server(config).serve()


async def _relay_worker(redis: RedisClient, source: str, group: str, forward: Any) -> None:
    consumer = f"{group}-{os.getpid()}"
    while True:
        batches = await redis.xreadgroup(group, consumer, {source: ">"}, count=50, block=1000)
        for _stream, entries in batches or []:
            for entry_id, fields in entries:
                await forward(fields)
                await redis.xack(source, group, entry_id)


def _relay_main(role: str) -> None:
    from redis.asyncio import Redis
    from redis.exceptions import ResponseError

    from shared.redis_client import as_client

    prefix = os.environ["RELAY_PREFIX"]
    first, second = f"{{{prefix}:a}}:stream", f"{{{prefix}:b}}:stream"

    async def run() -> None:
        redis = as_client(Redis.from_url(os.environ["REDIS_URL"]))
        for stream, group in ((first, "hop"), (second, "deliver")):
            try:
                await redis.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        if role == "ingest":
            await _relay_ingest(redis, first, int(os.environ["RELAY_PORT"]))
        elif role == "hop":

            async def forward(fields: dict[bytes, bytes]) -> None:
                await redis.xadd(second, {name: value for name, value in fields.items()})

            await _relay_worker(redis, first, "hop", forward)
        else:
            outlet = os.environ["RELAY_OUTLET"]
            async with httpx.AsyncClient(timeout=30) as client:

                async def deliver(fields: dict[bytes, bytes]) -> None:
                    response = await client.post(
                        outlet, content=fields[b"body"], headers={"content-type": "application/json"}
                    )
                    response.raise_for_status()

                await _relay_worker(redis, second, "deliver", deliver)

    asyncio.run(run())


def stories_wanted(default: int) -> int:
    return int(os.environ.get("BENCH_STORIES", default))


def batched(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


if __name__ == "__main__":
    _relay_main(sys.argv[1])
