"""End-to-end replay of the Reuters wire through the real services, against a bare relay.

    make bench                      # or: .venv/bin/python -m bench pipeline
    BENCH_STORIES=500 BENCH_LATENCY_SECONDS=15 .venv/bin/python -m bench pipeline   # shorter
    BENCH_PROFILE=0 .venv/bin/python -m bench pipeline    # without the profiled pass-through run

All runs happen in one invocation on the same machine and the same Redis (REDIS_URL):

1. bare relay: the same three hops (HTTP → stream → worker → stream → worker → HTTP)
   with no parsing, enrichment or formatting — the baseline;
2. the pipeline as a pass-through, every enricher off (NEWSROOM_TAGGING=false and
   NEWSROOM_RELATED=false): the framework's overhead over the relay. Until issue 18's
   pass-through work, "pass-through" meant tagging off only, so enrich still ran the
   related-story index (3 Redis round trips and term weighting per story): that is an
   enricher, not overhead. The old row is kept, as "pass-through, related on", for continuity;
3. enrich alone on a backlog (full enrichment), then the whole pipeline with full
   enrichment: how much the pipeline adds to its slowest stage;
4. latency ingest → outlet at a fixed 20 stories/s (relay, pass-through, full with three
   outlets: a story's latency is until it reached the last of them), and with full
   enrichment at 80 % of the capacity measured in step 3;
5. the pass-through services under cProfile: Redis commands and round trips per story
   (related on, as the "before" figures were taken).

Targets (issue 18): pass-through ≥ 0.8 × relay; full pipeline ≥ 0.9 × enrich alone;
p99 ≤ 40 ms at 20 stories/s and ≤ 250 ms at 80 % of capacity. Stories come from
../shared/data/reuters21578 (never committed); when absent the benchmark says so and skips.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

from bench._stack import (
    LOGS,
    REUTERS,
    ROOT,
    Calls,
    CpuMeter,
    Figures,
    ProfiledService,
    Relay,
    cleanup,
    drive,
    pipeline_env,
    post_to_pipeline,
    profile_calls,
    progress,
    reuters_items,
    stories_wanted,
)
from shared.connections import make_redis
from shared.settings import Settings
from tests.helpers.pipeline import Pipeline, percentile, write_config
from tests.helpers.receiver import Receiver

RATE = 20.0
CAPACITY_SHARE = 0.8
OUTLETS = ("alpha", "beta", "gamma")
# Before issue 18's round-trip work (main at fa03ac5, this profile, 400 stories, one outlet):
# Redis commands and round trips per story. The "7.8 / 10.0 / 29.5 round trips" were
# double counts (see profile_calls); these are socket writes, as counted now.
BEFORE = {"ingest": (7.5, 3.5), "enrich": (12.0, 5.5), "publish": (27.9, 14.9), "relay": (4.0, 4.0)}
Stories = list[dict[str, Any]]
Target = tuple[str, str, str, str, bool]  # target, figure, baseline, threshold, met
# Every enricher off: what the pipeline costs over the relay. `RELATED_ON` is the old
# definition (tagging off only), kept as a row for continuity with earlier figures.
PASS_THROUGH = {"NEWSROOM_TAGGING": "false", "NEWSROOM_RELATED": "false"}
RELATED_ON = {"NEWSROOM_TAGGING": "false"}


def redis_env() -> dict[str, str]:
    return {"REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), "REDIS_CLUSTER_NODES": ""}


Cpu = dict[str, float]  # CPU ms per story by process, over a throughput run
LOAD_GENERATOR = "bench process (client, outlets)"


async def run_relay(items: list[dict[str, Any]], paced: list[dict[str, Any]]) -> tuple[Figures, Figures, Cpu]:
    with Receiver() as outlet, Relay(redis_env()["REDIS_URL"], outlet.url) as relay:
        pids = {f"relay {role}": proc.pid for role, proc in zip(Relay.ROLES, relay.procs, strict=True)}
        with CpuMeter({**pids, LOAD_GENERATOR: os.getpid()}) as meter:
            throughput = await drive("bare relay: throughput", relay.post, items, outlet)
        latency = await drive(
            f"bare relay: {RATE:.0f}/s", relay.post, paced, outlet, rate=RATE, concurrency=4
        )
    await cleanup(redis_env(), relay.prefix)
    return throughput, latency, meter.per_story(len(items))


async def profile_pass_through(items: list[dict[str, Any]]) -> dict[str, Calls]:
    """The pass-through pipeline with every service under cProfile."""
    with Receiver() as outlet:
        config = LOGS / "bench-profile.toml"
        write_config(config, {"alpha": outlet})
        env = pipeline_env(redis_env(), config, **RELATED_ON)
        pipeline = Pipeline(env, LOGS)
        pipeline.ingest = ProfiledService("ingest", pipeline.env, LOGS)
        pipeline.enrichers = [ProfiledService("enrich", pipeline.enrichers[0].env, LOGS)]
        pipeline.publishers = [ProfiledService("publish", pipeline.env, LOGS)]
        try:
            with pipeline:
                post = await post_to_pipeline(pipeline)
                await drive("pass-through under cProfile", post, items, outlet)
        finally:
            await cleanup(redis_env(), env["NEWSROOM_KEY_PREFIX"])
    return {
        service: profile_calls(LOGS / f"{service}.prof", len(items))
        for service in BEFORE
        if service != "relay"
    }


async def run_pass_through(
    items: list[dict[str, Any]],
    paced: list[dict[str, Any]],
    name: str = "pass-through",
    enrichers: dict[str, str] = PASS_THROUGH,
) -> tuple[Figures, Figures | None, Cpu]:
    """Throughput (CPU metered), then latency at RATE when `paced` is given."""
    with Receiver() as outlet:
        config = LOGS / "bench-pass-through.toml"
        write_config(config, {"alpha": outlet})
        env = pipeline_env(redis_env(), config, **enrichers)
        latency = None
        try:
            with Pipeline(env, LOGS) as pipeline:
                post = await post_to_pipeline(pipeline)
                pids = {p.service: p.proc.pid for p in pipeline.processes() if p.proc is not None}
                with CpuMeter({**pids, LOAD_GENERATOR: os.getpid()}) as meter:
                    throughput = await drive(f"{name}: throughput", post, items, outlet)
                if paced:
                    latency = await drive(
                        f"{name}: {RATE:.0f}/s", post, paced, outlet, rate=RATE, concurrency=4
                    )
        finally:
            await cleanup(redis_env(), env["NEWSROOM_KEY_PREFIX"])
    return throughput, latency, meter.per_story(len(items))


async def run_full(
    backlog: list[dict[str, Any]], items: list[dict[str, Any]], paced: list[dict[str, Any]], pool: Stories
) -> tuple[Figures, Figures, Figures, Figures, dict[str, tuple[Cpu, float]]]:
    with Receiver() as alpha, Receiver() as beta, Receiver() as gamma:
        outlets = [alpha, beta, gamma]
        config = LOGS / "bench-full.toml"
        write_config(config, dict(zip(OUTLETS, outlets, strict=True)))
        env = pipeline_env(redis_env(), config, NEWSROOM_TAGGING="true")
        settings = Settings(redis_url=env["REDIS_URL"], key_prefix=env["NEWSROOM_KEY_PREFIX"])
        redis = make_redis(settings)
        try:
            with Pipeline(env, LOGS) as pipeline:
                post = await post_to_pipeline(pipeline)
                enrich, publish = pipeline.enrichers[0], pipeline.publishers[0]
                # enrich alone: a backlog on the received stream, nothing else running
                enrich.stop()
                publish.stop()
                await pipeline.post_all(backlog, concurrency=16)
                start_len = int(await redis.xlen(settings.keys.enriched))
                enrich.start()
                redis_pid = await local_redis_pid(redis)
                started = time.time()
                with progress() as bar, CpuMeter(pids(pipeline, redis_pid)) as alone_cpu:
                    task = bar.add_task("enrich alone: backlog", total=len(backlog))
                    done = 0
                    while done < len(backlog):
                        done = int(await redis.xlen(settings.keys.enriched)) - start_len
                        bar.update(task, completed=done)
                        await asyncio.sleep(0.05)
                alone = Figures("enrich alone (full enrichment)", len(backlog), time.time() - started, [])
                publish.start()
                while min(len(o.unique_ids()) for o in outlets) < len(backlog):  # drain first
                    await asyncio.sleep(0.1)
                with CpuMeter(pids(pipeline, redis_pid)) as full_cpu:
                    throughput = await drive("full enrichment: throughput", post, items, outlets)
                latency = await drive(
                    f"full, 3 outlets: {RATE:.0f}/s", post, paced, outlets, rate=RATE, concurrency=4
                )
                rate = CAPACITY_SHARE * throughput.rate
                busy = pool[: max(20, int(rate * len(paced) / RATE))]
                loaded = await drive(
                    f"full, 3 outlets: {rate:.0f}/s (80 %)", post, busy, outlets, rate=rate, concurrency=8
                )
        finally:
            await redis.aclose()
            await cleanup(redis_env(), env["NEWSROOM_KEY_PREFIX"])
    cores = {
        alone.name: (alone_cpu.per_story(alone.stories), sum(alone_cpu.spent.values()) / alone.seconds),
        throughput.name: (
            full_cpu.per_story(throughput.stories),
            sum(full_cpu.spent.values()) / throughput.seconds,
        ),
    }
    return alone, throughput, latency, loaded, cores


def pids(pipeline: Pipeline, redis_pid: int | None) -> dict[str, int]:
    """The processes a full-enrichment run keeps busy, Redis included when it runs here."""
    found = {p.service: p.proc.pid for p in pipeline.processes() if p.proc and p.proc.poll() is None}
    found[LOAD_GENERATOR] = os.getpid()
    if redis_pid is not None:
        found["redis-server"] = redis_pid
    return found


async def local_redis_pid(redis: Any) -> int | None:
    """The Redis server's pid when it is a process on this machine (not in a container, not remote)."""
    pid = int((await redis.info("server")).get("process_id", 0))
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return pid if comm.startswith("redis") else None


def cores_table(cores: dict[str, tuple[Cpu, float]]) -> str:
    """CPU ms per story by process and the cores kept busy: whether a run was CPU-bound."""
    names = list(dict.fromkeys(name for per_story, _ in cores.values() for name in per_story))
    lines = ["| run | " + " | ".join(names) + " | all | cores busy |", "|---|" + "---:|" * (len(names) + 2)]
    for run, (per_story, busy) in cores.items():
        cells = [f"{per_story[n]:.2f}" if n in per_story else "–" for n in names]
        lines.append(f"| {run} | " + " | ".join(cells) + f" | {sum(per_story.values()):.2f} | {busy:.2f} |")
    return "\n".join(lines)


def cpu_table(relay: Cpu, passing: Cpu, old: Cpu) -> str:
    """CPU ms per story by process: the relay's hops, then the pipeline's services."""
    lines = [
        "| process | bare relay ms | pass-through ms | pass-through, related on ms |",
        "|---|---:|---:|---:|",
    ]
    for name in [*relay, *(name for name in passing if name not in relay)]:
        cells = [relay.get(name), passing.get(name), old.get(name)]
        lines.append(f"| {name} | " + " | ".join("–" if c is None else f"{c:.2f}" for c in cells) + " |")
    totals = [sum(v for k, v in cpu.items() if k != LOAD_GENERATOR) for cpu in (relay, passing, old)]
    lines.append("| services in all | " + " | ".join(f"{t:.2f}" for t in totals) + " |")
    return "\n".join(lines)


def table(rows: list[Figures]) -> str:
    lines = [
        "| run | stories | seconds | stories/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lat = (
            f"{row.p(50):.0f} | {row.p(95):.0f} | {row.p(99):.0f}"
            if row.latencies and "/s" in row.name
            else "– | – | –"
        )
        lines.append(f"| {row.name} | {row.stories} | {row.seconds:.1f} | {row.rate:.1f} | {lat} |")
    return "\n".join(lines)


def by_length(rows: list[Figures], lengths: dict[str, int]) -> str:
    """Latency by the story's body length (quartiles of the run's stories): what sets the tail."""
    lines = [
        "| run | body characters | stories | p50 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        ranked = sorted((lengths[uri], seconds * 1000) for uri, seconds in row.by_uri.items())
        bounds = [len(ranked) * k // 4 for k in range(5)]
        for low, high in itertools.pairwise(bounds):
            part = ranked[low:high]
            if not part:
                continue
            ms = [latency for _, latency in part]
            lines.append(
                f"| {row.name} | {part[0][0]}–{part[-1][0]} | {len(part)} | {percentile(ms, 50):.0f} |"
                f" {percentile(ms, 99):.0f} | {max(ms):.0f} |"
            )
    return "\n".join(lines)


def tagging_floor(items: list[dict[str, Any]]) -> list[float]:
    """Milliseconds to tag each story alone, in this process, one after another, on the same
    model and knowledge base as enrich: the part of ingest → outlet no hop can remove.

    Run after the pipeline's processes are gone, so it is the tagger's own time on a core
    nobody else wants: a floor, not a figure of the pipeline's."""
    from services.enrich.tagging.model import load_tagger  # the model is loaded only here
    from shared.story import Story

    tagger = load_tagger(Settings())
    stories = [
        Story(
            partner="bench",
            uri=item["uri"],
            headline=item["headlines"][0]["value"],
            body_html=item["bodies"][0]["value"],
            language="en",
        )
        for item in items
    ]
    tagger.tag_many(stories[:10])  # first calls warm spaCy's caches
    spent = []
    for story in stories:
        started = time.perf_counter()
        tagger.tag_many([story])
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def main() -> list[Target]:
    if not REUTERS.exists():
        print(f"SKIPPED: {REUTERS} is absent (set NEWSROOM_SHARED_DATA to the shared data folder)")
        return []
    n = stories_wanted(2000)
    n_full = max(50, n // 4)
    n_paced = int(RATE * float(os.environ.get("BENCH_LATENCY_SECONDS", "30")))
    n_pool = 5 * n_paced  # enough for 80 % of a capacity up to 125 stories/s
    run = time.strftime("%H%M%S")
    stories = reuters_items(4 * n + 3 * n_paced + 2 * n_full + n_pool, run)
    lengths = {item["uri"]: len(item["bodies"][0]["value"]) for item in stories}

    def take(count: int) -> list[dict[str, Any]]:
        nonlocal stories
        head, stories = stories[:count], stories[count:]
        return head

    print(f"Reuters-21578 replay: {n} stories per throughput run, {n_paced} at {RATE:.0f}/s for latency")
    relay, relay_paced, relay_cpu = asyncio.run(run_relay(take(n), take(n_paced)))
    passing, passing_paced, passing_cpu = asyncio.run(run_pass_through(take(n), take(n_paced)))
    assert passing_paced is not None
    old, _, old_cpu = asyncio.run(
        run_pass_through(take(n), [], name="pass-through, related on", enrichers=RELATED_ON)
    )
    alone_items, full_items, paced_items = take(n_full), take(n_full), take(n_paced)
    alone, full, full_paced, loaded, cores = asyncio.run(
        run_full(alone_items, full_items, paced_items, take(n_pool))
    )
    rows = [relay, passing, old, alone, full, relay_paced, passing_paced, full_paced, loaded]
    floor = tagging_floor(paced_items)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)")
    print(table(rows))
    print("\nLatency by story length, full enrichment, 3 outlets")
    print(by_length([full_paced, loaded], lengths))
    print(
        f"\nTagging alone, the {len(floor)} stories paced at {RATE:.0f}/s, one at a time in this process"
        f" (the floor under ingest → outlet): p50 {percentile(floor, 50):.1f},"
        f" p95 {percentile(floor, 95):.1f}, p99 {percentile(floor, 99):.1f}, max {max(floor):.1f} ms"
    )
    print(f"\nCPU ms per story, enrich alone and full enrichment (of {os.cpu_count()} cores here)")
    print(cores_table(cores))
    print("\nCPU per story over the throughput runs (each process's user + system time; Redis not counted)")
    print(cpu_table(relay_cpu, passing_cpu, old_cpu))
    targets: list[Target] = [
        (
            "pass-through / bare relay throughput",
            f"{passing.rate:.1f}/s",
            f"{relay.rate:.1f}/s",
            f"≥ 0.8 (is {passing.rate / relay.rate:.2f})",
            passing.rate / relay.rate >= 0.8,
        ),
        (
            "pass-through, related on (the old definition) / bare relay",
            f"{old.rate:.1f}/s",
            f"{relay.rate:.1f}/s",
            f"for continuity (is {old.rate / relay.rate:.2f})",
            old.rate / relay.rate >= 0.8,
        ),
        (
            "full pipeline / enrich alone throughput",
            f"{full.rate:.1f}/s",
            f"{alone.rate:.1f}/s",
            f"≥ 0.9 (is {full.rate / alone.rate:.2f})",
            full.rate / alone.rate >= 0.9,
        ),
        (
            f"p99 ingest → last of 3 outlets at {RATE:.0f}/s, full",
            f"{full_paced.p(99):.0f} ms",
            f"relay {relay_paced.p(99):.0f} ms; tagging the same stories alone, in process:"
            f" p50 {percentile(floor, 50):.0f}, p99 {percentile(floor, 99):.0f} ms",
            "≤ 40 ms",
            full_paced.p(99) <= 40,
        ),
        (
            f"p99 at 80 % of capacity ({loaded.rate:.0f}/s), full",
            f"{loaded.p(99):.0f} ms",
            f"relay {relay_paced.p(99):.0f} ms at {RATE:.0f}/s",
            "≤ 250 ms",
            loaded.p(99) <= 250,
        ),
    ]
    calls: dict[str, Calls] = {}
    if os.environ.get("BENCH_PROFILE", "1") == "1":
        calls = asyncio.run(profile_pass_through(reuters_items(400, f"profile{run}")))
        print("\nRedis per story, pass-through under cProfile (400 stories, one outlet; polling included)")
        print("| service | commands | round trips | before: commands | before: trips | loop idle |")
        print("|---|---:|---:|---:|---:|---:|")
        for service, figures in calls.items():
            idle = f"{figures.idle:.0%}" if figures.idle is not None else "–"
            commands, trips = BEFORE[service]
            print(
                f"| {service} | {figures.commands:.1f} | {figures.round_trips:.1f} |"
                f" {commands:.1f} | {trips:.1f} | {idle} |"
            )
        print("| bare relay (all three hops) | ~4 | ~4 | ~4 | ~4 | – |")
        for service, figures in calls.items():
            print(f"\n--- {service}: round trips per story by the function that made them")
            for name, count in figures.by_caller:
                print(f"{count:6.2f}  {name}")
            print(f"--- {service}: top functions by own time\n{figures.top}")
        targets += [
            (
                f"Redis round trips per story, {service} (pass-through)",
                f"{figures.round_trips:.1f}",
                f"before {BEFORE[service][1]:.1f}; relay ~4 for all three hops",
                "fewer than before",
                figures.round_trips < BEFORE[service][1],
            )
            for service, figures in calls.items()
        ]
    print()
    print_targets(targets)
    out = ROOT / "bench" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rows": [
                    {"name": r.name, "stories": r.stories, "seconds": r.seconds, "rate": r.rate}
                    | ({"p50_ms": r.p(50), "p95_ms": r.p(95), "p99_ms": r.p(99)} if "/s" in r.name else {})
                    for r in rows
                ],
                "targets": [list(t) for t in targets],
                "redis_per_story": {k: [v.commands, v.round_trips] for k, v in calls.items()},
                "cpu_ms_per_story": {
                    "relay": relay_cpu,
                    "pass-through": passing_cpu,
                    "pass-through, related on": old_cpu,
                },
            },
            indent=2,
        )
    )
    print(f"\nfigures saved to {out.relative_to(ROOT)}; service logs in {Path(LOGS).relative_to(ROOT)}")
    return targets


def print_targets(targets: list[Target]) -> None:
    print("| target | figure | baseline (same run) | threshold | |")
    print("|---|---:|---:|---|---|")
    for name, figure, baseline, threshold, met in targets:
        print(f"| {name} | {figure} | {baseline} | {threshold} | {'met' if met else 'MISSED'} |")


if __name__ == "__main__":
    main()
