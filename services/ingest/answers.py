"""What ingest answers per item once the acceptor has decided, and the status it records.

A story's status record (`received`) is written after it is on the stream; a
failure to write it is logged, never answered as an error: the story is stored.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from redis.exceptions import RedisClusterException, RedisError

from services.ingest import responses
from services.ingest.acceptance import Acceptance
from services.ingest.formats import Parsed
from services.ingest.intake import invalid
from services.ingest.items import ItemError, ParsedItem
from services.ingest.responses import BatchResult, ItemResult
from shared import status
from shared.connections import RedisClient
from shared.events import StoryReceived
from shared.keys import Keys
from shared.logging import get_logger
from shared.metrics import STORIES_RECEIVED
from shared.problems import Problem, broken_redis_connection
from shared.timeline import Received

log = get_logger(__name__)
CODES = {"accepted": 202, "duplicate": 200, "superseded": 200, "killed": 409}


SLICE = 100
"""Items answered (and status records written) per step of the event loop: a batch's
answers cost ~0.1 ms of CPU per item, so other requests and /healthz go between slices."""

Outcome = tuple[StoryReceived, Acceptance] | None  # None: the item carried no story
Answer = tuple[ParsedItem, Outcome]


async def item_results(
    redis: RedisClient,
    keys: Keys,
    partner: str,
    parsed: Parsed,
    events: list[StoryReceived],
    acceptances: list[Acceptance],
) -> list[ItemResult]:
    """One result per parsed item, in order; accepted stories get their status recorded."""
    outcomes = iter(zip(events, acceptances, strict=True))
    pairs: list[Answer] = [(item, None if item.story is None else next(outcomes)) for item in parsed.items]
    results: list[ItemResult] = []
    for start in range(0, len(pairs), SLICE):
        if start:
            await asyncio.sleep(0)
        answered, records = answer_items(partner, pairs[start : start + SLICE], parsed.batch)
        await record_received(redis, keys, records)
        results += answered
    if parsed.batch:
        for index, result in enumerate(results):
            result.index = index
    return results


def answer_items(
    partner: str, pairs: list[Answer], batch: bool = False
) -> tuple[list[ItemResult], list[status.Record]]:
    """Each item's result, in order, and the `received` records of the accepted ones.

    Every log line about a story carries its id. A batch's accepted stories share one line
    (`stories accepted`, each with its id, trace id, version and received_as): a line per
    story cost ~17 µs of the loop's CPU each (structlog's processors, rendering, the write).
    Warnings and stories not forwarded keep a line of their own."""
    results, records = [], []
    outcomes: Counter[str] = Counter()
    accepted: list[dict[str, object]] = []
    for item, outcome in pairs:
        if outcome is None:
            results.append(_not_ingested(item))
            continue
        event, acceptance = outcome
        outcomes[acceptance.outcome] += 1
        results.append(_after_accept(item, event, acceptance))
        _log_story(item, event, acceptance, accepted if batch else None)
        if acceptance.outcome == "accepted":
            records.append(status.Record(event.story_id, _received(partner, event, acceptance), "ingest"))
    if accepted:
        log.info("stories accepted", partner=partner, count=len(accepted), stories=accepted)
    for name, count in outcomes.items():
        STORIES_RECEIVED.labels(partner, name).inc(count)
    return results, records


def _log_story(
    item: ParsedItem, event: StoryReceived, result: Acceptance, accepted: list[dict[str, object]] | None
) -> None:
    """A story's log lines; an accepted one is added to `accepted` (a batch's one line) if given."""
    story, ids = event.story, {"story_id": event.story_id, "trace_id": event.trace_id}
    if item.warnings:
        log.info("story read with warnings", **ids, fields=[w.field for w in item.warnings])
    if result.outcome != "accepted":
        log.info("story not forwarded", **ids, outcome=result.outcome, version=story.version)
    elif accepted is not None:
        accepted.append({**ids, "version": story.version, "received_as": result.received_as})
    else:
        log.info("story accepted", **ids, version=story.version, received_as=result.received_as)


async def record_received(redis: RedisClient, keys: Keys, records: list[status.Record]) -> None:
    """Accepted stories' status records, in one pipelined round trip.

    The stories are already durably on the stream, so a failure is logged (per story) and
    never answered as an error; enrich records its own status when it takes the story.
    """
    try:
        errors: list[BaseException | None] = await status.record_many(redis, keys, records)
    except (RedisError, RedisClusterException, OSError, TypeError, AttributeError) as exc:
        if isinstance(exc, TypeError | AttributeError) and not broken_redis_connection(exc):
            raise
        errors = [exc] * len(records)
    for record, error in zip(records, errors, strict=True):
        if error is not None:
            log.warning("status not recorded", story_id=record.story_id, error=repr(error))


def batch_result(results: list[ItemResult]) -> BatchResult:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return BatchResult(items=results, counts=counts)


def killed_problem(only: ItemResult) -> Problem:
    return Problem(
        409,
        "killed",
        "Item was killed",
        f"Item {only.uri!r} was canceled (killed) at version {only.current_version}; "
        "a kill is final and no later version is accepted.",
        pointer="/uri",
        id=only.id,
        current_version=only.current_version,
    )


def _after_accept(item: ParsedItem, event: StoryReceived, result: Acceptance) -> ItemResult:
    story, accepted = event.story, result.outcome == "accepted"
    return ItemResult(
        status=result.outcome,
        code=CODES[result.outcome],
        id=event.story_id,
        uri=story.uri,
        version=story.version,
        format=item.source_format,
        warnings=item.warnings,
        received_as=result.received_as if accepted else None,
        entry_id=result.entry_id if accepted else None,
        trace_id=event.trace_id if accepted else None,
        current_version=None if accepted else result.current_version,
    )


def _received(partner: str, event: StoryReceived, result: Acceptance) -> Received:
    story = event.story
    return Received(
        partner=partner,
        uri=story.uri,
        version=story.version,
        headline=story.headline,
        trace_id=event.trace_id,
        received_as=result.received_as or "new",
        pubstatus=story.pubstatus,
        format=event.source_format,
        embargoed=story.embargoed.isoformat() if story.embargoed else None,
        expires=story.expires.isoformat() if story.expires else None,
        warnings=event.warnings or None,
    )


def _not_ingested(item: ParsedItem) -> ItemResult:
    if item.skipped is not None:
        return ItemResult(status="skipped", code=200, format=item.source_format, detail=item.skipped)
    problem = invalid(item.error or ItemError("/", "no story"))
    return ItemResult(
        status="invalid",
        code=422,
        format=item.source_format,
        problem=responses.ProblemDetails.model_validate(problem.body()),
        warnings=item.warnings,
    )
