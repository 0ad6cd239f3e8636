"""One sender per outlet: claims due deliveries from its own queue and sends them.

Each outlet has its own loop, its own concurrency limit and its own HTTP client,
so a dead or hanging outlet only ever holds up itself. Every sender also requeues
deliveries whose worker died mid-send (their lease expired), so no delivery stays
"sending" after a crash.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import structlog

from services.publish.formats import Rendition
from services.publish.publisher import Publisher, sleep_until_woken
from services.publish.queue import Delivery, OutletQueue, now_ms
from services.publish.retries import Attempt, judge
from services.publish.transports import Transport
from shared import status
from shared.config import Outlet
from shared.events import StoryEnriched
from shared.logging import get_logger
from shared.metrics import DEAD_LETTERS, DELIVERIES, END_TO_END_SECONDS, OUTLET_DISABLED, RETRIES
from shared.redis_client import RedisPipeline
from shared.streams import dead_letter
from shared.timeline import DeliveryAttempted

log = get_logger(__name__)


class OutletSender:
    def __init__(self, outlet: Outlet, publisher: Publisher, transport: Transport) -> None:
        settings = publisher.settings
        self.outlet = outlet
        self.publisher = publisher
        self.queue: OutletQueue = publisher.queues[outlet.name]
        self.transport = transport
        self.concurrency = outlet.concurrency or settings.outlet_concurrency
        timeout = outlet.timeout_seconds or settings.outlet_timeout_seconds
        self.lease_ms = int((timeout + settings.delivery_lease_seconds) * 1000)
        self.poll = settings.publish_poll_ms / 1000
        self.housekeeping_seconds = settings.housekeeping_seconds
        self.token_prefix = f"{settings.consumer_name}-{uuid.uuid4().hex[:6]}"
        self.slots = asyncio.Semaphore(self.concurrency)
        self.woken = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    def wake(self) -> None:
        self.woken.set()

    async def run(self) -> None:
        last_recovery = last_housekeeping = 0.0
        while not self.stopping:
            try:
                if time.monotonic() - last_recovery > 1.0:
                    last_recovery = time.monotonic()
                    for line in await self.queue.recover():
                        log.warning("lost mid-send; queued again", outlet=self.outlet.name, result=line)
                if time.monotonic() - last_housekeeping > self.housekeeping_seconds:
                    last_housekeeping = time.monotonic()
                    await self.queue.forget_finished()
                await self._claim_and_send()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis blips must not stop the outlet
                log.warning("outlet sender loop failed", outlet=self.outlet.name, error=repr(exc))
                await asyncio.sleep(self.poll)

    async def _claim_and_send(self) -> None:
        await self.slots.acquire()
        free = 1
        while not self.slots.locked():  # every free slot in one claim (acquire does not wait here)
            await self.slots.acquire()
            free += 1
        try:
            token = f"{self.token_prefix}-{uuid.uuid4().hex[:8]}"
            claim = await self.queue.claim(token, self.lease_ms, free)
        except BaseException:
            for _ in range(free):
                self.slots.release()
            raise
        for delivery in claim.deliveries:
            task = asyncio.create_task(self._send_then_release(delivery))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        for _ in range(free - len(claim.deliveries)):
            self.slots.release()
        if len(claim.deliveries) == free:
            return  # every slot taken: the next claim waits for one to free
        # Fewer due than free slots: asking again at once would find nothing (it was ~1.6 idle
        # claims per delivery). Sleep until an accept or a requeue wakes us, or the next is due.
        if not claim.deliveries:
            OUTLET_DISABLED.labels(self.outlet.name).set(1 if claim.disabled else 0)
        wait = self.poll
        if claim.next_due_ms is not None:
            wait = min(wait, max(0.0, (claim.next_due_ms - now_ms()) / 1000))
        await sleep_until_woken(self.woken, wait)

    async def _send_then_release(self, delivery: Delivery) -> None:
        try:
            await self.send(delivery)
        except Exception as exc:  # the lease brings it back; log and carry on
            log.error("delivery crashed", outlet=self.outlet.name, delivery_id=delivery.id, error=repr(exc))
        finally:
            # A freed slot needs no wake: a loop short of slots waits on them, and one asleep
            # had nothing due (a delivery waiting for this one is due again by its own score).
            self.slots.release()

    async def send(self, delivery: Delivery) -> None:
        settings = self.publisher.settings
        enriched = StoryEnriched.model_validate_json(delivery.fields["event"])
        structlog.contextvars.bind_contextvars(
            story_id=enriched.story_id,
            trace_id=enriched.trace_id,
            outlet=self.outlet.name,
            delivery_id=delivery.id,
        )
        now = datetime.now(UTC)
        # The last moment before the bytes leave: whatever path brought it here, the gate decides
        # (read in the round trip that announces the claim).
        gate = await self.publisher.announce_and_gate(delivery, enriched, self.outlet, now)
        if gate.verdict == "never":
            result, row = await self.queue.finish(
                delivery, outcome="canceled", error=gate.reason, refusal=gate.refusal or ""
            )
            log.info("gate refused", reason=gate.reason, result=result)
            await self._after(row, result, enriched, final=True)
            return
        if gate.verdict == "wait" and gate.until is not None:
            until_ms = int(gate.until.timestamp() * 1000)
            result, row = await self.queue.finish(delivery, outcome="wait", error="", next_ms=until_ms)
            log.info("gate holds it", reason=gate.reason, result=result)
            await self._after(row, result, enriched, final=False)
            return
        schedule = settings.retry_schedule_seconds
        started = time.perf_counter()
        rendition: Rendition | None = None
        body = b""
        if delivery.round_attempts > len(schedule) + 1:
            # Attempts lost with their worker (lease expired) count too: past the schedule is never sent.
            attempt = Attempt(error=f"{delivery.round_attempts - 1} attempts made, none finished")
        else:
            try:
                rendition = self.publisher.render(enriched, self.outlet, now)
                attempt, body = await self.transport.send(delivery.id, enriched, rendition, now)
            except Exception as exc:
                # Judged like any failed attempt, so the schedule bounds it: left to the lease,
                # it would be sent again and again, "sending", past every schedule.
                log.error("delivery attempt crashed", error=repr(exc))
                attempt = Attempt(error=f"attempt crashed: {exc!r}")
        judgement = judge(
            attempt,
            delivery.round_attempts,
            schedule,
            jitter=settings.retry_jitter,
            retry_after_max=settings.retry_after_max_seconds,
        )
        DELIVERIES.labels(self.outlet.name, str(attempt.status_code or "error")).inc()
        result, row = await self.queue.finish(
            delivery,
            outcome=judgement.outcome,
            status_code=attempt.status_code,
            error=judgement.error,
            next_ms=now_ms() + int(judgement.delay * 1000),
            payload=body,
            age_label=rendition.age_label if rendition else None,
            flags=rendition.flags if rendition else None,
            disabled_reason=judgement.error,
        )
        log.info(
            "delivery attempt",
            attempt=delivery.attempts,
            status_code=attempt.status_code,
            result=result,
            error=judgement.error or None,
            seconds=round(time.perf_counter() - started, 4),
            next_in=round(judgement.delay, 3) if result == "retrying" else None,
        )
        if result == "delivered":
            END_TO_END_SECONDS.observe(max(0.0, time.time() - enriched.received_at.timestamp()))
        elif result == "retrying":
            RETRIES.labels(self.outlet.name).inc()
        elif result == "failed":
            await dead_letter(
                self.publisher.redis,
                settings.keys,
                source=f"publish:{self.outlet.name}",
                entry_id=delivery.id,
                error=judgement.error,
                deliveries=delivery.attempts,
                payload=body,
                story_id=enriched.story_id,
            )
            DEAD_LETTERS.labels(f"publish:{self.outlet.name}").inc()
            if judgement.outcome == "disable":
                OUTLET_DISABLED.labels(self.outlet.name).set(1)
                log.error("ALERT: outlet answered 410 Gone and is disabled", error=judgement.error)
        await self._after(row, result, enriched, final=result in ("failed", "canceled"))

    async def _after(
        self, current: Delivery | None, result: str, enriched: StoryEnriched, final: bool
    ) -> None:
        publisher = self.publisher
        if result in ("retrying", "held"):
            self.woken.set()  # queued again, perhaps due sooner than the loop's sleep
        if current is None:
            return
        attempted = DeliveryAttempted.model_validate(
            {
                "outlet": self.outlet.name,
                "delivery_id": current.id,
                "version": enriched.story.version,
                "attempt": current.attempts,
                "result": result,
                "status_code": current.fields.get("status_code") or None,
                "error": current.fields.get("last_error") or None,
            }
        )
        announcement = publisher.announcement(current)
        records = [status.Record(enriched.story_id, attempted, "publish")]
        outcome = (
            await publisher.outcome(current, final=final)
            if result in ("delivered", "retrying", "failed")
            else None
        )

        def add(pipe: RedisPipeline) -> int:
            publisher.queue_announcement(pipe, current, announcement)
            replies = 1 + status.queue_records(pipe, publisher.keys, records)
            if outcome is not None:
                publisher.queue_outcome(pipe, outcome)
                replies += 1
            return replies

        # The live feed, the story's timeline and the operators' event: one round trip,
        # shared with other senders' at the same moment.
        replies = await publisher.together.run(add)
        structlog.contextvars.unbind_contextvars("story_id", "trace_id", "outlet", "delivery_id")
        errors = [reply for reply in replies if isinstance(reply, BaseException)]
        if errors:
            raise errors[0]

    async def stop(self) -> None:
        """Stop sending; a delivery cut short stays 'sending' until its lease brings it back."""
        self.stopping = True
        self.woken.set()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)
        await self.transport.close()
