"""`newsroom`: run a service, the whole stack, or send stories."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.progress import Progress

from services.enrich.tagging.cli import make_tag_command
from shared.story import Story
from shared.untrusted import terminal_text


def _read_stories(raw: bytes) -> list[Story]:
    """A story file read by ingest's own parsers, for the tagger (enrich does not import ingest)."""
    from services.ingest.formats import read_items
    from services.ingest.schemas import NinjsSchemas

    content_type = "application/xml" if raw.lstrip()[:1] == b"<" else "application/json"
    parsed = read_items(raw, content_type, "cli", NinjsSchemas(), max_original=0)
    stories = [item.story for item in parsed.items if item.story is not None]
    if not stories:
        errors = [str(item.error) for item in parsed.items if item.error is not None]
        raise typer.BadParameter("; ".join(errors) or "no story in the file")
    return stories


app = typer.Typer(help="Newsroom wire pipeline.", no_args_is_help=True, add_completion=False)
app.command(name="tag")(make_tag_command(_read_stories))
console = Console(stderr=True)

DEMO_SECRET = "whsec_ZGVtby1vdXRsZXQtc2lnbmluZy1zZWNyZXQtMzJieXQ="
Port = Annotated[int, typer.Option(help="HTTP port.")]


def _serve(factory: str, service: str, port: int, host: str) -> None:
    from shared.logging import configure_logging

    configure_logging(service)
    # Bounds uvicorn can enforce: open connections (more are answered 503 at once) and idle
    # keep-alive. It cannot time out a client that sends its headers or body slowly: the
    # reverse proxy in front must (README, "Behind a reverse proxy").
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        limit_concurrency=1000,
        timeout_keep_alive=5,
    )


@app.command()
def ingest(port: Port = 8001, host: str = "127.0.0.1") -> None:
    """Run the ingest HTTP API (wire partners push here)."""
    _serve("services.bootstrap:ingest_app", "ingest", port, host)


@app.command()
def enrich(port: Port = 8002, host: str = "127.0.0.1") -> None:
    """Run an enrich worker (health and metrics on PORT)."""
    _serve("services.enrich.worker:create_app", "enrich", port, host)


@app.command()
def publish(port: Port = 8003, host: str = "127.0.0.1") -> None:
    """Run a publish worker with the editors' API and queue page."""
    _serve("services.publish.worker:create_app", "publish", port, host)


@app.command()
def queue(
    url: Annotated[str, typer.Option(envvar="NEWSROOM_PUBLISH_URL", help="Publish service.")] = (
        "http://127.0.0.1:8003"
    ),
    token: Annotated[
        str, typer.Option(envvar="NEWSROOM_EDITOR_TOKEN", help="Editor token (prompted when absent).")
    ] = "",
    outlet: Annotated[str | None, typer.Option(help="Only this outlet.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status (queued, failed, …).")] = None,
    partner: Annotated[str | None, typer.Option(help="Only this partner.")] = None,
    flag: Annotated[
        str | None, typer.Option(help="Only deliveries with this flag (FLASH, KILLED, …).")
    ] = None,
    search: Annotated[str | None, typer.Option("--search", "-q", help="Headline contains.")] = None,
    story: Annotated[str | None, typer.Option(help="Only this story id.")] = None,
    limit: Annotated[int, typer.Option(help="Rows shown.")] = 50,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    once: Annotated[bool, typer.Option(help="Print one snapshot and exit.")] = False,
) -> None:
    """Watch the publish queue live in the terminal (same columns, filters and counts as the page)."""
    from services.publish.page.terminal import QueueFilters, watch

    if not token:
        token = typer.prompt("Editor token", hide_input=True)
    filters = QueueFilters(outlet, status, partner, flag, search, story, limit=limit)
    raise typer.Exit(watch(url, token, filters, interval=interval, once=once, console=Console()))


@app.command("demo-outlet")
def demo_outlet(port: Port = 8009, secret: str = DEMO_SECRET, host: str = "127.0.0.1") -> None:
    """Run a demo outlet that verifies and logs what it receives."""
    from services.demo_outlet import create_app
    from shared.logging import configure_logging

    configure_logging("demo-outlet")
    uvicorn.run(create_app(secret), host=host, port=port, log_level="warning", access_log=False)


def _wait_ready(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


@app.command()
def up(
    config: Annotated[Path, typer.Option(help="Config file.")] = Path("newsroom.example.toml"),
    demo: Annotated[bool, typer.Option(help="Send the demo stories once ready.")] = True,
) -> None:
    """Run ingest, enrich, publish and a demo outlet as child processes (Ctrl-C stops all)."""
    env = {**os.environ, "NEWSROOM_CONFIG": str(config.resolve())}
    me = [sys.executable, "-m", "services.cli"]
    children = {
        "demo-outlet": subprocess.Popen([*me, "demo-outlet", "--port", "8009"], env=env),
        "ingest": subprocess.Popen([*me, "ingest", "--port", "8001"], env=env),
        "enrich": subprocess.Popen([*me, "enrich", "--port", "8002"], env=env),
        "publish": subprocess.Popen([*me, "publish", "--port", "8003"], env=env),
    }

    def stop(*_: object) -> None:
        for proc in children.values():
            proc.terminate()
        for proc in children.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise typer.Exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        for name, port in (("ingest", 8001), ("enrich", 8002), ("publish", 8003)):
            if not _wait_ready(f"http://127.0.0.1:{port}/readyz"):
                console.print(f"[red]{name} did not become ready; see its log above[/red]")
                stop()
        if demo:
            run = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            stories = demo_stories(sorted(Path("examples/stories").glob("*.json")), run)
            console.print(f"sending the demo stories as run {run} (a new run sends them anew)")
            if _post_all(stories, url="http://127.0.0.1:8001", key="demo-partner-key"):
                console.print("[yellow]some demo stories were refused; see above[/yellow]")
        console.print(
            "\n[bold green]Newsroom is running.[/bold green]\n"
            "  ingest API + docs   http://127.0.0.1:8001/docs\n"
            "  publish queue       http://127.0.0.1:8003/   (editor token: demo-editor-token)\n"
            "  demo outlet         http://127.0.0.1:8009/  (each article as its readers see it)\n"
            "  metrics             http://127.0.0.1:800[1-3]/metrics\n"
            "  send more stories   newsroom send examples/stories/*.json\n"
            "Ctrl-C stops everything."
        )
        while all(proc.poll() is None for proc in children.values()):
            time.sleep(0.5)
        console.print("[red]a service exited; stopping the rest[/red]")
        stop()
    except KeyboardInterrupt:
        stop()


@app.command()
def check(
    paths: Annotated[
        list[Path], typer.Argument(help="Partner files: ninjs, NewsML-G2, NITF, NewsML 1.2, ANPA, 7901.")
    ],
    timezone: Annotated[
        str, typer.Option(help="The partner's timezone for times without an offset.")
    ] = "UTC",
    strict: Annotated[
        bool, typer.Option(help="Refuse IPTC schema violations, as for a strict partner.")
    ] = False,
    schemas: Annotated[
        Path | None, typer.Option(help="IPTC's ninjs schema folder (default: NEWSROOM_NINJS_SCHEMA_DIR).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON report per file.")] = False,
) -> None:
    """How ingest would read each file (format, id, version, headline, dates, media, warnings); no Redis."""
    from zoneinfo import ZoneInfo

    from services.ingest.check import as_text, check_file
    from services.ingest.items import Reading
    from services.ingest.schemas import NinjsSchemas
    from shared.settings import Settings

    schema_dir = schemas or Settings().ninjs_schema_dir
    reading = Reading("check", ZoneInfo(timezone), strict, NinjsSchemas.load(schema_dir), 0)
    refused = False
    for path in paths:
        report = check_file(path.read_bytes(), reading)
        refused = refused or "problem" in report or any("refused" in i for i in report["items"])
        typer.echo(
            json.dumps({"file": str(path), **report}, ensure_ascii=False)
            if as_json
            else as_text(str(path), report)
        )
    if refused:
        raise typer.Exit(1)


@app.command()
def send(
    paths: Annotated[list[Path], typer.Argument(help="Story files (ninjs JSON).")],
    url: Annotated[str, typer.Option(envvar="NEWSROOM_INGEST_URL")] = "http://127.0.0.1:8001",
    key: Annotated[str, typer.Option(envvar="NEWSROOM_API_KEY")] = "demo-partner-key",
) -> None:
    """Post story files to ingest, with a progress bar."""
    stories = [(path.name, path.read_bytes(), _content_type(path)) for path in paths]
    if _post_all(stories, url=url, key=key):
        raise typer.Exit(1)


def _content_type(path: Path) -> str:
    return "application/xml" if path.suffix == ".xml" else "application/json"


def demo_stories(paths: list[Path], run: str) -> list[tuple[str, bytes, str]]:
    """The demo feed for one `newsroom up`: each story's URI gets the run's id, so a second
    run on the same Redis sends new stories instead of duplicates nobody sees delivered."""
    stories = []
    for path in paths:
        item = json.loads(path.read_bytes())
        item["uri"] = f"{item['uri']}:run-{run}"
        stories.append((path.name, json.dumps(item).encode(), "application/json"))
    return stories


def _post_all(stories: list[tuple[str, bytes, str]], url: str, key: str) -> int:
    """Post each (name, body, content type) to ingest with a progress bar; the failures."""
    failures = 0
    with httpx.Client(base_url=url, timeout=30) as client, Progress(console=console) as progress:
        task = progress.add_task("sending", total=len(stories))
        for name, body, content_type in stories:
            response = client.post(
                "/v1/stories",
                content=body,
                headers={"authorization": f"Bearer {key}", "content-type": content_type},
            )
            ok = response.status_code < 300
            failures += not ok
            progress.console.print(
                terminal_text(f"{'✓' if ok else '✗'} {name}: {response.status_code} {response.text[:200]}"),
                markup=False,
            )
            progress.advance(task)
    return failures


@app.command("replay-dead-letter")
def replay_dead_letter(
    entry_ids: Annotated[
        list[str] | None, typer.Argument(help="Dead-letter entry ids (default: all).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only list what is in the dead letter.")] = False,
) -> None:
    """List the dead letter and put replayable entries back on their source stream."""
    import asyncio

    from services.dead_letter import list_dead_letters, replay
    from shared.connections import make_redis
    from shared.settings import Settings

    async def run() -> None:
        settings = Settings()
        redis = make_redis(settings)
        try:
            for letter in await list_dead_letters(redis, settings.keys):
                mark = "replayable" if letter.replayable else "retry from the publish queue"
                console.print(
                    terminal_text(
                        f"{letter.entry_id}  {letter.source}  story={letter.story_id or '-'}  "
                        f"attempts={letter.deliveries}  [{mark}]  {letter.error[:120]}"
                    ),
                    markup=False,
                )
            if not dry_run:
                for dead_id, new_id in await replay(redis, settings.keys, entry_ids or None):
                    console.print(terminal_text(f"replayed {dead_id} → {new_id}"), markup=False)
        finally:
            await redis.aclose()

    asyncio.run(run())


if __name__ == "__main__":
    app()
