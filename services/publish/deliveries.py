"""The delivery state machine, as data: its states, its transitions, the editors' actions (pure).

This is the one place these rules exist. The queue's Lua scripts (queue.py) carry
out exactly these transitions and take the statuses an action is allowed from as an
argument; the editors' API serves each delivery's allowed actions and the reason it
waits, so the queue page and the terminal view show them without knowing the rules.
Whether a copy may leave at all is the gate's question (gate.py), not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from services.publish.gate import Refusal

Status = Literal["queued", "held", "sending", "delivered", "retrying", "failed", "canceled"]
STATUSES: tuple[Status, ...] = get_args(Status)
FINISHED: tuple[Status, ...] = ("delivered", "failed", "canceled")
Action = Literal["retry", "hold", "release", "cancel"]
ACTIONS: tuple[Action, ...] = get_args(Action)
Actor = Literal["story", "worker", "editor"]
PAST: dict[Action, str] = {"retry": "retried", "hold": "held", "release": "released", "cancel": "canceled"}


@dataclass(frozen=True)
class Transition:
    """`event` moves a delivery from one of `source` to `target` (None: it did not exist)."""

    event: str
    actor: Actor
    source: tuple[Status | None, ...]
    target: Status
    why: str


# Every move a delivery can make. The table-driven test walks each line on real Redis.
TRANSITIONS: tuple[Transition, ...] = (
    Transition("queue", "story", (None,), "queued", "a version the gate lets go now"),
    Transition("queue-embargoed", "story", (None,), "held", "a version the gate holds for its embargo"),
    Transition("supersede", "story", ("queued", "held", "retrying"), "canceled", "a newer version waits"),
    Transition("kill", "story", ("queued", "held", "retrying"), "canceled", "the story was killed"),
    Transition(
        "withhold", "story", ("queued", "held", "retrying"), "canceled", "a newer version is withheld"
    ),
    Transition("claim", "worker", ("queued", "retrying"), "sending", "due: a worker takes it"),
    Transition("claim-after-embargo", "worker", ("held",), "sending", "its embargo is over"),
    Transition("delivered", "worker", ("sending",), "delivered", "the outlet answered 2xx"),
    Transition("retry-later", "worker", ("sending",), "retrying", "5xx, timeout: tried again on schedule"),
    Transition("give-up", "worker", ("sending",), "failed", "retries exhausted (dead letter)"),
    Transition("disable", "worker", ("sending",), "failed", "410 Gone: the outlet is disabled"),
    Transition("refuse", "worker", ("sending",), "canceled", "the gate refused it at the last moment"),
    Transition("wait", "worker", ("sending",), "held", "the gate holds it for its embargo"),
    Transition("lost", "worker", ("sending",), "retrying", "its worker was lost (lease expired)"),
    Transition(
        "delivered-after-cancel", "worker", ("canceled",), "delivered", "the attempt under way arrived"
    ),
    Transition(
        "hold", "editor", ("queued", "retrying", "held"), "held", "an editor holds it (past its embargo)"
    ),
    Transition("release", "editor", ("held",), "queued", "an editor releases it"),
    Transition("release-embargoed", "editor", ("held",), "held", "released, but its embargo still holds"),
    Transition("retry", "editor", ("failed", "canceled", "retrying"), "queued", "an editor sends it again"),
    Transition(
        "retry-embargoed", "editor", ("failed", "canceled", "retrying"), "held", "again, at its embargo"
    ),
    Transition(
        "cancel",
        "editor",
        ("queued", "held", "retrying", "failed", "sending"),
        "canceled",
        "an editor cancels it",
    ),
)


def allowed_from(action: Action) -> tuple[Status, ...]:
    """The statuses an editor's action applies to (the Lua refuses it from any other)."""
    found: list[Status] = []
    for t in TRANSITIONS:
        if t.actor == "editor" and t.event.partition("-")[0] == action:
            found.extend(s for s in t.source if s is not None and s not in found)
    return tuple(found)


REFUSALS: tuple[Refusal, ...] = get_args(Refusal)


def allowed_actions(fields: Mapping[str, str], flags: list[str]) -> list[Action]:
    """What an editor may do with this delivery now; a copy the gate refused for good is not retried."""
    status = fields.get("status", "")
    refused = any(flag in REFUSALS for flag in flags)
    held_by_editor = status == "held" and fields.get("hold_reason") == "editor"
    return [
        action
        for action in ACTIONS
        if status in allowed_from(action)
        and not (refused and action in ("retry", "release"))
        and not (held_by_editor and action == "hold")
    ]


def waiting_reason(fields: Mapping[str, str], flags: list[str]) -> str | None:
    """Why it has not gone (yet), in an editor's words; None when nothing holds it back."""
    status, hold = fields.get("status", ""), fields.get("hold_reason", "")
    if status == "held" and hold == "embargo":
        return f"embargoed until {_clock(fields.get('next_attempt_at', ''))}"
    if status == "held":
        return "held by an editor"
    if status == "retrying":
        return f"retrying at {_clock(fields.get('next_attempt_at', ''))}"
    if status == "canceled" and any(flag in REFUSALS for flag in flags):
        return fields.get("last_error") or None
    return None


def _clock(ms: str) -> str:
    if not ms:
        return "a moment to be set"
    moment = datetime.fromtimestamp(int(float(ms)) / 1000, UTC)
    return moment.strftime("%H:%M:%S UTC") if moment.second else moment.strftime("%H:%M UTC")
