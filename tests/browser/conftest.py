"""The queue page in a real browser against the real pipeline.

One stack per module: ingest, enrich and publish as real processes on a fresh key
prefix, two real outlets (`Receiver`s) and Debian's Chromium driven by
Playwright. The `mobile-app` outlet answers as each test scripts it per story
(fail, throttle for an hour, or accept), so a delivery can fail, be retried,
held and released on purpose.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, sync_playwright
from starlette.requests import Request

from shared.config import sha256_hex
from shared.story import make_story_id
from tests.conftest import ARTIFACTS, FAST_TIMINGS
from tests.helpers.pipeline import PARTNER_ID, PARTNER_KEY, SECRETS, Pipeline
from tests.helpers.receiver import Answer, Receiver
from tests.helpers.redis_target import RedisTarget

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EDITOR_TOKEN = "browser-test-editor-token"
SCREENSHOTS = ARTIFACTS / "screenshots"
LAPTOP: ViewportSize = {"width": 1366, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


@dataclass
class Script:
    """How the scripted outlet answers, per story id: 'ok' (default), 'fail' or 'throttle'.

    The story is recognised by its `webhook-id`, which publish builds from the story id.
    """

    modes: dict[str, str] = field(default_factory=dict)

    def set(self, uri: str, mode: str) -> None:
        self.modes[make_story_id(PARTNER_ID, uri)] = mode

    def respond(self, _receiver: Receiver, request: Request) -> Answer:
        webhook_id = request.headers.get("webhook-id", "")
        mode = next((m for sid, m in self.modes.items() if f"_{sid}_" in webhook_id), "ok")
        if mode == "fail":
            return Answer(status=500)
        if mode == "throttle":
            return Answer(status=503, headers={"retry-after": "3600"})
        return Answer()


@dataclass
class Stack:
    pipeline: Pipeline
    web: Receiver
    app: Receiver
    script: Script

    @property
    def url(self) -> str:
        return self.pipeline.publishers[0].url

    def post(self, item: dict[str, Any]) -> str:
        """POST a ninjs item to ingest as the partner; returns the story id."""
        response = httpx.post(
            f"{self.pipeline.ingest.url}/v1/stories",
            json=item,
            headers={"authorization": f"Bearer {PARTNER_KEY}"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def received_by(self, receiver: Receiver, uri: str) -> list[dict[str, Any]]:
        bodies = [json.loads(r.body) for r in list(receiver.received)]
        return [b for b in bodies if b["data"]["uri"] == uri]


def write_config(path: Path, web: Receiver, app: Receiver) -> None:
    path.write_text(
        "\n".join(
            [
                "[[partners]]",
                f'id = "{PARTNER_ID}"',
                'name = "Test Wire"',
                f'keys_sha256 = ["{sha256_hex(PARTNER_KEY)}"]',
                "",
                "[[outlets]]",
                'name = "web-desk"',
                f'url = "{web.url}"',
                f'secret = "{SECRETS["alpha"]}"',
                'format = "html"',
                "",
                "[[outlets]]",
                'name = "mobile-app"',
                f'url = "{app.url}"',
                f'secret = "{SECRETS["beta"]}"',
                "",
                "[[editors]]",
                'id = "desk"',
                f'token_sha256 = "{sha256_hex(EDITOR_TOKEN)}"',
                "",
            ]
        )
    )


def ninjs(headline: str, *, urgency: int = 4, body: str = "", located: str = "Geneva") -> dict[str, Any]:
    """A realistic wire item with a fresh uri (the module shares one stack)."""
    return {
        "uri": f"urn:test:queue:{uuid.uuid4().hex[:12]}",
        "version": "1",
        "type": "text",
        "language": "en",
        "urgency": urgency,
        "pubstatus": "usable",
        "byline": "Test Wire staff",
        "located": located,
        "headlines": [{"role": "main", "value": headline}],
        "descriptions": [{"role": "summary", "value": f"{headline}, our correspondent reports."}],
        "bodies": [
            {
                "role": "main",
                "contenttype": "text/html",
                "value": body
                or f"<p>{located.upper()} — {headline}. Officials in {located} said talks would resume.</p>",
            }
        ],
    }


def _cleanup(target: RedisTarget, prefix: str) -> None:
    # Test-only cleanup by pattern; the services never scan.
    client: Any
    if target.is_cluster:
        host, _, port = target.cluster_nodes.split(",")[0].rpartition(":")
        client = redis.cluster.RedisCluster(host=host, port=int(port))
    else:
        client = redis.Redis.from_url(target.url)
    try:
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture(scope="module")
def stack(redis_target: RedisTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    workdir = tmp_path_factory.mktemp("queue-page")
    config = workdir / "newsroom.toml"
    script = Script()
    env = {
        **redis_target.env(),
        "NEWSROOM_KEY_PREFIX": prefix,
        "NEWSROOM_CONFIG": str(config),
        "NEWSROOM_TAGGING": os.environ.get("NEWSROOM_TEST_TAGGING", "true"),
        "NEWSROOM_RETRY_SCHEDULE_SECONDS": "[0.2, 0.2]",
        **{f"NEWSROOM_{name.upper()}": str(value) for name, value in FAST_TIMINGS.items()},
    }
    with Receiver() as web, Receiver(script.respond) as app:
        write_config(config, web, app)
        try:
            with Pipeline(env, workdir) as pipeline:
                yield Stack(pipeline, web, app, script)
        finally:
            for log in workdir.glob("*.log"):
                shutil.copy(log, _artifact_dir() / log.name)
            _cleanup(redis_target, prefix)


def _artifact_dir() -> Path:
    path = ARTIFACTS / "browser-logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


# Module scope, not session: the sync API runs its own event loop in this thread
# while it is open, which would stop pytest-asyncio from running the async tests
# of the modules that come after.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Finite animations (a row's "just changed" highlight) are shown at their end.
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, animations="disabled")
