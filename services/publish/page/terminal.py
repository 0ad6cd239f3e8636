"""`newsroom queue`: the publish queue as a live table in a terminal, for operators on a server.

The same columns, filters and counts as the queue page, read from the same
editors' API (`GET /v1/deliveries`, polled). Rendering is pure (`render`), so it
is tested without a terminal or a server.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from services.publish.deliveries import STATUSES
from shared.untrusted import terminal_text

STATUS_STYLES = {
    "queued": "bold blue",
    "held": "bold yellow",
    "sending": "bold magenta",
    "delivered": "bold green",
    "retrying": "bold dark_orange",
    "failed": "bold white on red",
    "canceled": "dim",
}
FLAG_STYLES = {
    "FLASH": "bold white on red",
    "BULLETIN": "bold white on red",
    "URGENT": "bold red",
    "KILLED": "bold white on black",
    "EMBARGOED": "bold yellow",
    "WITHHELD": "bold yellow",
}


class QueueError(Exception):
    """The API refused or could not answer; `fatal` when retrying cannot help (bad token)."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


@dataclass(frozen=True)
class QueueFilters:
    outlet: str | None = None
    status: str | None = None
    partner: str | None = None
    flag: str | None = None
    q: str | None = None
    story: str | None = None
    limit: int = 50

    def params(self) -> dict[str, str]:
        return {name: str(value) for name, value in asdict(self).items() if value not in (None, "")}

    def describe(self) -> str:
        shown = {k: v for k, v in self.params().items() if k != "limit"}
        return ", ".join(f"{k}={v}" for k, v in shown.items()) or "none"


def fetch(client: httpx.Client, filters: QueueFilters) -> dict[str, Any]:
    """One snapshot of the queue: {"deliveries": [...], "counts": {...}}."""
    try:
        response = client.get("/v1/deliveries", params=filters.params())
    except httpx.HTTPError as exc:
        raise QueueError(f"cannot reach the publish service: {exc!r}") from exc
    if response.status_code == 401:
        raise QueueError("the editor token was refused (401)", fatal=True)
    if response.status_code >= 400:
        detail = response.text[:300]
        with contextlib.suppress(ValueError):
            detail = str(response.json().get("detail", detail))
        raise QueueError(f"HTTP {response.status_code}: {detail}", fatal=response.status_code < 500)
    snapshot: dict[str, Any] = response.json()
    return snapshot


def _shown(value: object) -> str:
    """A value from the API as one line of plain terminal text (partners wrote most of it)."""
    return terminal_text(str(value)) if value is not None else ""


def _time(value: object) -> str:
    if not value:
        return "—"
    if not isinstance(value, str):
        return _shown(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return _shown(value)
    local = moment.astimezone()
    if local.date() == datetime.now(UTC).astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%d %b %H:%M")


def _flags(delivery: Mapping[str, Any], story_killed: bool) -> Text:
    text = Text()
    if delivery.get("age_label"):
        text.append(f" {_shown(delivery['age_label'])} ", style="bold cyan")
    flags = list(delivery.get("flags") or [])
    if story_killed and "KILLED" not in flags:
        flags.insert(0, "KILLED")  # the kill notice went out: every copy of the story says so
    for flag in flags:
        style = FLAG_STYLES.get(str(flag).split(" ")[0], "bold")
        text.append(" ")
        text.append(f"[{_shown(flag)}]", style=style)
    return text


def deliveries_table(deliveries: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(expand=True, header_style="bold", show_lines=False, pad_edge=False)
    table.add_column("Queued", no_wrap=True)
    table.add_column("Headline", ratio=3)
    table.add_column("Action", no_wrap=True)
    table.add_column("Outlet", no_wrap=True)
    table.add_column("Partner", no_wrap=True)
    table.add_column("Ver.", justify="right")
    table.add_column("Status", no_wrap=True)
    table.add_column("Tries", justify="right")
    table.add_column("Last error", ratio=2, style="red")
    table.add_column("Sent", no_wrap=True)
    killed = {d.get("story_id") for d in deliveries if d.get("event_type") == "story.killed"}
    for d in deliveries:
        headline = Text(_shown(d.get("headline") or d.get("story_id")))
        headline.append_text(_flags(d, d.get("story_id") in killed))
        if d.get("waiting"):  # the API's reason, e.g. "embargoed until 14:00 UTC"
            headline.append(f"\n{_shown(d['waiting'])}", style="yellow")
        status = _shown(d.get("status"))
        error = _shown(d.get("last_error"))
        code = d.get("status_code")
        if error and code and status in ("failed", "retrying") and f"HTTP {code}" not in error:
            error = f"HTTP {code} · {error}"
        cells: list[str | Text] = [
            _time(d.get("queued_at")),
            headline,
            _shown(d.get("event_type")).removeprefix("story."),
            _shown(d.get("outlet")),
            _shown(d.get("partner")) or "—",
            _shown(d.get("version")),
            Text(status, style=STATUS_STYLES.get(status, "")),
            _shown(d.get("attempts", 0)),
            error,
            _time(d.get("sent_at")),
        ]
        # Text, never a str: rich reads a str cell as markup, and an outlet's "[/]" would crash it.
        table.add_row(*(c if isinstance(c, Text) else Text(c) for c in cells))
    return table


def counts_table(counts: Mapping[str, Any]) -> Table:
    """Counts per status, then one line per outlet; failing outlets marked in words and colour."""
    by_status: Mapping[str, int] = counts.get("by_status") or {}
    by_outlet: Mapping[str, Mapping[str, int]] = counts.get("by_outlet") or {}
    table = Table(header_style="bold", pad_edge=False)
    table.add_column("Outlet", no_wrap=True)
    for status in STATUSES:
        table.add_column(Text(status, style=STATUS_STYLES[status]), justify="right")
    table.add_column("", no_wrap=True)
    for name, per in sorted(by_outlet.items()):
        failing = per.get("failed", 0) + per.get("retrying", 0)
        table.add_row(
            Text(_shown(name), style="bold red" if failing else "bold"),
            *[Text(_shown(per.get(status, 0) or "·")) for status in STATUSES],
            Text("⚠ FAILING", style="bold white on red") if failing else Text("ok", style="green"),
        )
    table.add_row(
        Text("all outlets", style="bold"),
        *[Text(_shown(by_status.get(status, 0)), style="bold") for status in STATUSES],
        "",
        end_section=True,
    )
    return table


def render(
    snapshot: Mapping[str, Any] | None,
    filters: QueueFilters,
    *,
    url: str,
    error: str | None = None,
    at: datetime | None = None,
) -> RenderableType:
    at = at or datetime.now(UTC)
    title = Text.assemble(
        ("Publish queue", "bold"),
        _shown(f"  {url}  ·  filters: {filters.describe()}  ·  updated {at.astimezone():%H:%M:%S}"),
    )
    parts: list[RenderableType] = [title]
    if error:
        parts.append(Panel(Text(_shown(error), style="bold red"), title="not updating", border_style="red"))
    if snapshot is not None:
        deliveries = snapshot.get("deliveries") or []
        parts.append(counts_table(snapshot.get("counts") or {}))
        parts.append(deliveries_table(deliveries))
        parts.append(Text(f"{len(deliveries)} deliveries shown (newest change first)", style="dim"))
    return Group(*parts)


def watch(
    url: str,
    token: str,
    filters: QueueFilters,
    *,
    interval: float = 1.0,
    once: bool = False,
    console: Console | None = None,
    client: httpx.Client | None = None,
) -> int:
    """Show the queue until Ctrl-C (or once); returns the process exit code."""
    console = console or Console()
    own_client = client is None
    client = client or httpx.Client(base_url=url, timeout=10, headers={"authorization": f"Bearer {token}"})
    try:
        if once:
            try:
                console.print(render(fetch(client, filters), filters, url=url))
            except QueueError as exc:
                console.print(Text(_shown(exc), style="bold red"))
                return 2 if exc.fatal else 1
            return 0
        snapshot: dict[str, Any] | None = None
        with Live(render(None, filters, url=url), console=console, auto_refresh=False) as live:
            while True:
                error = None
                try:
                    snapshot = fetch(client, filters)
                except QueueError as exc:
                    if exc.fatal:
                        live.stop()
                        console.print(Text(_shown(exc), style="bold red"))
                        return 2
                    error = str(exc)
                live.update(render(snapshot, filters, url=url, error=error), refresh=True)
                time.sleep(interval)
    except KeyboardInterrupt:
        return 0
    finally:
        if own_client:
            client.close()
