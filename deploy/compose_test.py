"""`make compose-test`: the compose stack built and run the way the README tells operators to.

Builds the image, starts Redis, ingest, three enrich and two publish replicas and the demo
outlet (`up -d --scale enrich=3 --scale publish=2 --wait`), posts stories to ingest's
published port the way a partner does (retrying on 503 and on a dropped connection), and
while they flow: `docker kill`s one enrich and one publish replica, restarts Redis
(`docker compose restart redis`, AOF on), and restarts publish replica by replica
(deploy/rolling-restart.sh). Then it checks, from what the demo outlet received (it
verifies every Standard Webhooks signature and logs the delivery): every accepted story
arrived, signed, and no story arrived under two webhook-ids (a redelivery under the same
webhook-id is what an outlet deduplicates, and is counted apart); that every replica took
work (its own log lines) and is a consumer of its group (`XINFO CONSUMERS`) with nothing
left pending; and that `down -v` leaves no container, network or volume. Prints a table;
exits 1 when a check fails.

Runs outside any container, with the project's venv (`.venv/bin/python`); needs only the
docker CLI with Compose v2, which deploy/ensure-engine.sh provides.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.config import load_config  # noqa: E402
from shared.keys import Keys  # noqa: E402
from shared.streams import Streams  # noqa: E402

# Several runs may share one engine (CI of several branches on one machine): each has its
# own project and image tag, so none tears down or runs another's stack or code.
PROJECT_PREFIX = "newsroom-compose-test-"
PROJECT = f"{PROJECT_PREFIX}{os.getpid()}"
IMAGE = f"newsroom:compose-test-{os.getpid()}"
STORIES = int(os.environ.get("NEWSROOM_TEST_STORIES", "300"))
RATE = float(os.environ.get("NEWSROOM_TEST_RATE", "10"))  # stories per second
ENRICH, PUBLISH = 3, 2
UP = ("up", "-d", "--no-build", "--scale", f"enrich={ENRICH}", "--scale", f"publish={PUBLISH}")
# the demo config's partner key and editor token (deploy/newsroom.compose.toml)
PARTNER_KEY = "demo-partner-key"
EDITOR_TOKEN = "demo-editor-token"
OUTLET = "demo"
# Enrich reads one lane per partner besides the shared streams: the partners come from the
# config the stack runs with.
STREAMS = Streams.for_keys(
    Keys(), [partner.id for partner in load_config(ROOT / "deploy" / "newsroom.compose.toml").partners]
)
ENRICH_STREAMS = [stream.name for stream in STREAMS.for_enrich()]
HEALTHY_TIMEOUT = 600
DRAIN_TIMEOUT = 300
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[compose-test {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def run(*args: str, check: bool = True, quiet: bool = False) -> str:
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    if not quiet and result.returncode != 0:
        say(f"{' '.join(args)}: exit {result.returncode}: {result.stderr.strip()[-500:]}")
    return result.stdout


def compose(*args: str, check: bool = True) -> str:
    return run("docker", "compose", *args, check=check)


def compose_shown(*args: str) -> None:
    """A long compose step (build, up --wait) with its own progress lines shown as they come."""
    say("docker compose " + " ".join(args))
    subprocess.run(["docker", "compose", "--progress", "plain", *args], cwd=ROOT, check=True)


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports on this host."""
    for first in range(random.randrange(20000, 30000), 40000, count):
        socks = [socket.socket() for _ in range(count)]
        try:
            for offset, sock in enumerate(socks):
                sock.bind(("", first + offset))  # all interfaces, as docker publishes
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        return first
    raise RuntimeError("no free host ports")


# --- pure: what the outlet received and what each replica did ------------------------------


@dataclass
class Received:
    """What the demo outlet logged: webhook-ids per story, and every raw delivery."""

    ids_by_story: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    deliveries: int = 0
    bad_signatures: int = 0

    def lost(self, accepted: set[str]) -> set[str]:
        return accepted - set(self.ids_by_story)

    def duplicates(self) -> dict[str, set[str]]:
        """Stories that arrived under more than one webhook-id: sent twice after dedup."""
        return {story: ids for story, ids in self.ids_by_story.items() if len(ids) > 1}

    def redeliveries(self) -> int:
        """Deliveries repeating a webhook-id already received (an outlet drops these)."""
        return self.deliveries - sum(len(ids) for ids in self.ids_by_story.values())


def parse_outlet_log(lines: list[str]) -> Received:
    received = Received()
    for line in lines:
        record = _json_record(line)
        if record is None:
            continue
        if record.get("event") == "outlet received story":
            received.deliveries += 1
            received.ids_by_story[str(record["story_id"])].add(str(record["webhook_id"]))
        elif record.get("event") == "rejected delivery with a bad signature":
            received.bad_signatures += 1
    return received


def count_events(lines: list[str], event: str) -> Counter[str]:
    """Per replica ("enrich-2"), the log lines of `event`, from `docker compose logs` output."""
    counts: Counter[str] = Counter()
    for line in lines:
        replica, sep, rest = line.partition("|")
        record = _json_record(rest) if sep else None
        if record is not None and record.get("event") == event:
            counts[replica.strip()] += 1
    return counts


def _json_record(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def make_story(run_id: str, index: int) -> dict[str, Any]:
    """A plausible wire story with people, places and organisations for the tagger."""
    rng = random.Random(index)
    city, country = rng.choice(
        [
            ("Nairobi", "Kenya"),
            ("Lyon", "France"),
            ("Osaka", "Japan"),
            ("Porto Alegre", "Brazil"),
            ("Gdansk", "Poland"),
            ("Chennai", "India"),
        ]
    )
    who = rng.choice(["the United Nations", "the World Bank", "the European Commission", "NATO"])
    topic = rng.choice(["flood defences", "a rail strike", "grain exports", "a new port", "power cuts"])
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "uri": f"urn:compose-test:{run_id}:{index:05d}",
        "version": "1",
        "type": "text",
        "language": "en",
        "urgency": rng.choice([3, 4, 5]),
        "pubstatus": "usable",
        "firstcreated": now,
        "versioncreated": now,
        "byline": "Compose Test Wire",
        "located": city,
        "headlines": [{"role": "main", "value": f"{city} officials discuss {topic} ({index})"}],
        "bodies": [
            {
                "role": "main",
                "contenttype": "text/html",
                "value": (
                    f"<p>Officials in {city}, {country}, met representatives of {who} on "
                    f"Tuesday to discuss {topic}, story {index} of run {run_id}.</p>"
                    f"<p>The talks in {country} are expected to continue next week, a "
                    f"spokesperson said.</p>"
                ),
            }
        ],
    }


# --- the partner: posts stories, retries what was not acknowledged ------------------------------


class Feeder(threading.Thread):
    """Posts STORIES stories at RATE per second, each until ingest acknowledges it (2xx).

    A partner retries on 503 (Redis down or backlog) and on a dropped connection; ingest's
    version registry makes the retry of a story it did accept an answer, not a second story.
    """

    def __init__(self, url: str, run_id: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.run_id = run_id
        self.accepted: dict[str, str] = {}  # uri -> story id
        self.retries = 0
        self.refused: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        start = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=15) as client:
            for index in range(STORIES):
                delay = start + index / RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._post(client, make_story(self.run_id, index))

    def _post(self, client: httpx.Client, story: dict[str, Any]) -> None:
        body = json.dumps(story).encode()
        headers = {"authorization": f"Bearer {PARTNER_KEY}", "content-type": "application/json"}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                response = client.post("/v1/stories", content=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code < 300:
                with self.lock:
                    self.accepted[story["uri"]] = response.json()["id"]
                return
            if response is not None and response.status_code not in (429, 502, 503, 504):
                self.refused.append(f"{story['uri']}: {response.status_code} {response.text[:200]}")
                return
            self.retries += 1
            time.sleep(0.5)
        self.refused.append(f"{story['uri']}: not acknowledged within 180 s")

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


# --- the stack ----------------------------------------------------------------------------------


def container_ids(service: str, *, stopped_too: bool = False) -> list[str]:
    return compose("ps", *(["-a"] if stopped_too else []), "-q", service).split()


def replica_name(container_id: str) -> str:
    return run("docker", "inspect", "-f", "{{.Name}}", container_id).strip().lstrip("/")


def xinfo_consumers(stream: str, group: str) -> list[dict[str, Any]]:
    out = compose("exec", "-T", "redis", "redis-cli", "--json", "XINFO", "CONSUMERS", stream, group)
    consumers: list[dict[str, Any]] = json.loads(out) if out.strip().startswith("[") else []
    return consumers


def redis_number(*command: str) -> int:
    return int(compose("exec", "-T", "redis", "redis-cli", *command).strip() or 0)


def consumers_by_replica(service: str, streams: list[str], group: str) -> dict[str, dict[str, int]]:
    """Each replica's consumer in the group (name hostname-pid), with its pending entries."""
    hosts = {cid[:12]: replica_name(cid) for cid in container_ids(service, stopped_too=True)}
    found: dict[str, dict[str, int]] = {}
    for stream in streams:
        for consumer in xinfo_consumers(stream, group):
            host = str(consumer["name"]).rsplit("-", 1)[0]
            replica = hosts.get(host, f"gone:{consumer['name']}")
            entry = found.setdefault(replica, {"pending": 0})
            entry["pending"] += int(consumer["pending"])
    return found


def busiest(service: str, streams: list[str], group: str) -> str:
    """The replica holding the most unacknowledged entries (waiting up to 5 s for one that
    holds any), so that killing it takes work down with it."""
    deadline = time.monotonic() + 5
    while True:
        consumers = consumers_by_replica(service, streams, group)
        pending, name = max(
            ((info["pending"], name) for name, info in consumers.items() if not name.startswith("gone:")),
            default=(0, ""),
        )
        if pending > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    by_name = {replica_name(cid): cid for cid in container_ids(service)}
    name = name if name in by_name else sorted(by_name)[0]
    say(f"{service}: {name} holds {pending} unacknowledged entries")
    return by_name[name]


def deliveries() -> dict[str, int]:
    """Deliveries to the demo outlet by status, from the editors' API of one publish replica."""
    port = compose("port", "publish", "8003").strip().rsplit(":", 1)[1]
    response = httpx.get(
        f"http://127.0.0.1:{port}/v1/deliveries",
        params={"outlet": OUTLET, "limit": 1},
        headers={"authorization": f"Bearer {EDITOR_TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    counts: dict[str, int] = response.json()["counts"]["by_status"]
    return counts


def outlet_received() -> Received:
    return parse_outlet_log(compose("logs", "--no-color", "--no-log-prefix", "demo-outlet").splitlines())


def remove_abandoned_runs() -> None:
    """Stacks of earlier runs whose process is gone (an interrupted run), taken down."""
    projects = run(
        "docker", "ps", "-a", "--filter", "label=com.docker.compose.project",
        "--format", '{{.Label "com.docker.compose.project"}}',
    ).split()  # fmt: skip
    for project in sorted(set(projects)):
        pid = project.removeprefix(PROJECT_PREFIX)
        if project.startswith(PROJECT_PREFIX) and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            say(f"removing {project}, left by an interrupted run")
            run("docker", "compose", "-p", project, "down", "-v", "--remove-orphans", check=False)


def leftovers() -> list[str]:
    label = f"label=com.docker.compose.project={PROJECT}"
    found = []
    for kind in ("container", "network", "volume"):
        names = run("docker", kind, "ls", *(["-a"] if kind == "container" else []), "-q", "--filter", label)
        found += [f"{kind} {name}" for name in names.split()]
    return found


def image_check(image: str, build_ca: str | None) -> str:
    """The shipped image must not trust the build-time CA bundle's extra certificates."""
    if not build_ca:
        return "no build CA given"
    extra = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    bundle = run("docker", "run", "--rm", "--entrypoint", "cat", image, "/etc/ssl/certs/ca-certificates.crt")
    flat = "".join(bundle.split())
    baked = [p.name for p in extra if "".join(p.read_text().split("-----")[2].split()) in flat]
    if baked:
        raise AssertionError(f"the image trusts the build-time CA(s) {baked}")
    return f"none of the host's {len(extra)} extra CA(s) is in the image"


def kb_check(image: str) -> str:
    """The image carries the compiled knowledge base, current for its code, so no replica
    builds one at start (and none could: /app is read-only to it)."""
    probe = (
        "from services.enrich.tagging.kbfile import COMPILED, fingerprint, open_current; "
        "kb = open_current(COMPILED, fingerprint()); "
        "print(f'{kb.entries_count} entries, {COMPILED.stat().st_size / 1e6:.0f} MB' if kb else 'stale')"
    )
    answer = run("docker", "run", "--rm", "--entrypoint", "python", image, "-c", probe).strip()
    if answer == "stale":
        raise AssertionError("the image's compiled knowledge base is missing or stale")
    return f"compiled in the image: {answer}"


class Registry:
    """A private registry on this host (Debian's docker-registry), standing in for an
    air-gapped site's: the images are pushed to it, dropped locally under its names, and
    the stack then runs from what `docker compose pull` brings back."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="newsroom-registry.", dir="/var/tmp"))
        self.address = f"127.0.0.1:{free_ports(1)}"
        self.process: subprocess.Popen[bytes] | None = None
        self.pushed: list[str] = []

    @staticmethod
    def available() -> bool:
        if shutil.which("docker-registry"):
            return True
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            return False
        say("installing Debian's docker-registry (once)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "docker-registry"], env=env, capture_output=True, check=False
        )
        return result.returncode == 0 and shutil.which("docker-registry") is not None

    def start(self) -> None:
        config = self.root / "config.yml"
        config.write_text(
            f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            f"http:\n  addr: {self.address}\n"
        )
        log = (self.root / "registry.log").open("wb")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{self.address}/v2/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"the registry did not answer on {self.address}")

    def stop(self) -> None:
        """Stop it, delete what it stored and the images pulled from it (run at exit)."""
        for remote in self.pushed:
            run("docker", "rmi", remote, check=False, quiet=True)
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def run_from_registry(registry: Registry, images: dict[str, str]) -> str:
    """The README's air-gapped recipe: tag, push, point compose at the registry, pull."""
    for variable, image in images.items():
        remote = f"{registry.address}/{image.split('/')[-1].replace(':', '-')}:compose-test"
        run("docker", "tag", image, remote)
        run("docker", "push", "-q", remote)
        run("docker", "rmi", remote)  # so the pull below is a real one
        registry.pushed.append(remote)
        os.environ[variable] = remote
        say(f"{variable}={remote} (pushed, then removed locally)")
    compose("pull")
    return ", ".join(os.environ[variable] for variable in images)


# --- the run -------------------------------------------------------------------------------------


def ensure_engine() -> dict[str, str]:
    result = subprocess.run(
        [str(ROOT / "deploy" / "ensure-engine.sh")], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(result.returncode)
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def main() -> int:
    env = ensure_engine()
    if env.get("NEWSROOM_BASE_IMAGE") and Path("/etc/ssl/certs/ca-certificates.crt").exists():
        # the offline base means this machine's registries are reached through its proxy
        env["NEWSROOM_BUILD_CA"] = "/etc/ssl/certs/ca-certificates.crt"
    # host ports nobody uses, so the test runs beside a stack (or tests) on the defaults
    env["NEWSROOM_INGEST_PORT"] = str(free_ports(1))
    env["NEWSROOM_OUTLET_PORT"] = str(free_ports(1))
    first = free_ports(PUBLISH)
    env["NEWSROOM_PUBLISH_PORTS"] = f"{first}-{first + PUBLISH - 1}"
    env["COMPOSE_PROJECT_NAME"] = PROJECT
    env["COMPOSE_PROFILES"] = "demo"
    os.environ.update(env)
    for key in sorted(env):
        say(f"{key}={os.environ[key]}")
    failures: list[str] = []
    figures: dict[str, str] = {}

    env["NEWSROOM_IMAGE"] = IMAGE
    os.environ.update(env)
    # at exit, also after a failure: the stack down, then the image tag (its layers stay cached)
    atexit.register(run, "docker", "rmi", IMAGE, check=False, quiet=True)
    atexit.register(run, "docker", "compose", "down", "-v", "--remove-orphans", check=False, quiet=True)
    remove_abandoned_runs()

    say("building the image (docker compose build)")
    began = time.monotonic()
    compose_shown("build")
    figures["build"] = f"{time.monotonic() - began:.0f} s"
    image = IMAGE
    size = int(run("docker", "image", "inspect", "-f", "{{.Size}}", image).strip())
    figures["image size"] = f"{size / 1e6:.0f} MB"
    figures["build CA"] = image_check(image, env.get("NEWSROOM_BUILD_CA"))
    figures["knowledge base"] = kb_check(image)
    say(f"built in {figures['build']}, {figures['image size']}; {figures['build CA']}")
    say(figures["knowledge base"])

    registry = Registry() if Registry.available() else None
    if registry is None:
        figures["registry"] = "NOT CHECKED: no docker-registry can be had here"
    else:
        say(f"private registry at {registry.address}: pushing the images, then running from it")
        atexit.register(registry.stop)
        registry.start()
        redis_image = os.environ.get("NEWSROOM_REDIS_IMAGE", "redis:7.4-alpine")
        figures["registry"] = run_from_registry(
            registry, {"NEWSROOM_IMAGE": image, "NEWSROOM_REDIS_IMAGE": redis_image}
        )
    say(f"starting: up -d --scale enrich={ENRICH} --scale publish={PUBLISH} --wait")
    began = time.monotonic()
    try:
        compose_shown(*UP, "--wait", "--wait-timeout", str(HEALTHY_TIMEOUT))
    except subprocess.CalledProcessError:
        say(compose("ps", "-a", check=False))
        say(compose("logs", "--tail", "30", check=False))
        compose("down", "-v", "--remove-orphans", check=False)
        raise
    figures["time to healthy"] = f"{time.monotonic() - began:.0f} s"
    say(f"all {3 + ENRICH + PUBLISH} containers healthy after {figures['time to healthy']}")
    if registry is not None:
        running = {
            row["Service"]: row["Image"]
            for row in map(json.loads, compose("ps", "--format", "json").splitlines())
        }
        wanted = {"redis": os.environ["NEWSROOM_REDIS_IMAGE"], "ingest": os.environ["NEWSROOM_IMAGE"]}
        if any(running.get(service) != image for service, image in wanted.items()):
            failures.append(f"the stack does not run the registry's images: {running}")

    ingest_url = f"http://127.0.0.1:{os.environ['NEWSROOM_INGEST_PORT']}"
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    feeder = Feeder(ingest_url, run_id)
    say(f"posting {STORIES} stories at {RATE:g}/s to {ingest_url}")
    feeder.start()
    faults: list[str] = []
    try:
        _wait_for(lambda: feeder.count() >= STORIES // 4, feeder, "a quarter of the stories")
        enrich_victim = busiest("enrich", ENRICH_STREAMS, STREAMS.received.group)
        publish_victim = busiest("publish", [STREAMS.enriched.name], STREAMS.enriched.group)
        for victim in (enrich_victim, publish_victim):
            name = replica_name(victim)
            run("docker", "kill", victim)
            faults.append(f"docker kill {name} at {feeder.count()} accepted")
            say(faults[-1])
        # A killed container stays down (to Docker, a kill is a manual stop; a crash inside
        # it is restarted by `restart: always`): the operator scales back up.
        compose(*UP)
        say(f"up -d --scale enrich={ENRICH} --scale publish={PUBLISH}: the killed replicas start again")

        _wait_for(lambda: feeder.count() >= STORIES // 2, feeder, "half of the stories")
        say("docker compose restart redis")
        began = time.monotonic()
        compose("restart", "redis")
        faults.append(f"docker compose restart redis at {feeder.count()} accepted")
        say(f"redis restarted in {time.monotonic() - began:.1f} s")

        _wait_for(lambda: feeder.count() >= 3 * STORIES // 4, feeder, "three quarters of the stories")
        say("deploy/rolling-restart.sh publish")
        for line in run(str(ROOT / "deploy" / "rolling-restart.sh"), "publish").splitlines():
            say(line)
            faults.append(line)
    finally:
        feeder.join()
    accepted = set(feeder.accepted.values())
    say(f"all posted: {len(accepted)} accepted, {feeder.retries} retries, {len(feeder.refused)} refused")
    failures += [f"refused: {line}" for line in feeder.refused]

    say("waiting until every accepted story reached the outlet and no delivery is in flight")
    deadline = time.monotonic() + DRAIN_TIMEOUT
    received = outlet_received()
    counts: dict[str, int] = {}
    last = -1
    while time.monotonic() < deadline:
        received = outlet_received()
        try:
            counts = deliveries()
        except (httpx.HTTPError, RuntimeError):
            counts = {}
        in_flight = sum(counts.get(s, 0) for s in ("queued", "held", "sending", "retrying"))
        arrived = len(set(received.ids_by_story) & accepted)
        if arrived != last:
            say(f"outlet has {arrived}/{len(accepted)} stories; deliveries {counts}")
            last = arrived
        if arrived == len(accepted) and counts and in_flight == 0:
            break
        time.sleep(2)
    say("up --wait: every replica healthy again after the faults")
    compose_shown(*UP, "--wait", "--wait-timeout", str(HEALTHY_TIMEOUT))
    lost = received.lost(accepted)
    duplicates = received.duplicates()
    unknown = set(received.ids_by_story) - accepted
    if lost:
        failures.append(f"{len(lost)} lost: {sorted(lost)[:10]}")
    if duplicates:
        failures.append(
            f"{len(duplicates)} sent twice under different webhook-ids: {list(duplicates.items())[:5]}"
        )
    if unknown:
        failures.append(f"the outlet received stories nobody posted: {sorted(unknown)[:10]}")
    if received.bad_signatures:
        failures.append(f"{received.bad_signatures} deliveries with a bad signature")
    if counts.get("failed", 0):
        failures.append(f"{counts['failed']} deliveries failed")

    logs = compose("logs", "--no-color", "enrich", "publish").splitlines()
    shares = {
        "enrich": count_events(logs, "story enriched"),
        "publish": count_events(logs, "story routed"),
    }
    consumers = {
        "enrich": consumers_by_replica("enrich", ENRICH_STREAMS, STREAMS.received.group),
        "publish": consumers_by_replica("publish", [STREAMS.enriched.name], STREAMS.enriched.group),
    }
    for service, expected in (("enrich", ENRICH), ("publish", PUBLISH)):
        replicas = sorted(replica_name(cid) for cid in container_ids(service))
        for replica in replicas:
            short = replica.removeprefix(f"{PROJECT}-")
            if shares[service][short] == 0:
                failures.append(f"{replica} took no work")
            if replica not in consumers[service]:
                failures.append(f"{replica} is not a consumer of the {service} group (XINFO CONSUMERS)")
        if len(replicas) != expected:
            failures.append(f"{len(replicas)} {service} replicas running, expected {expected}")
        pending = sum(info["pending"] for info in consumers[service].values())
        if pending:
            failures.append(f"{pending} entries still pending in the {service} group")
    dead = redis_number("XLEN", Keys().dead_letter)
    if dead:
        failures.append(f"{dead} entries in the dead letter")

    say("docker compose down -v")
    compose("down", "-v", "--remove-orphans")
    left = leftovers()
    if left:
        failures.append(f"down -v left {left}")
    figures["compose-test"] = f"{time.monotonic() - STARTED:.0f} s"

    rows = [
        ("stories posted / accepted", f"{STORIES} / {len(accepted)} ({feeder.retries} retried posts)"),
        ("delivered to the outlet, signed", f"{len(set(received.ids_by_story) & accepted)}"),
        ("lost", str(len(lost))),
        ("duplicates after webhook-id dedup", str(len(duplicates))),
        ("redeliveries under the same webhook-id", str(received.redeliveries())),
        ("bad signatures", str(received.bad_signatures)),
        ("dead letter", str(dead)),
        ("faults", "; ".join(faults)),
    ]
    for service in ("enrich", "publish"):
        total = sum(shares[service].values()) or 1
        share = ", ".join(
            f"{name} {count} ({100 * count / total:.0f} %)" for name, count in sorted(shares[service].items())
        )
        event = "stories enriched" if service == "enrich" else "stories routed"
        rows.append((f"{service} share ({event})", share))
        consumer_names = ", ".join(
            f"{name}: {info['pending']} pending" for name, info in consumers[service].items()
        )
        rows.append((f"{service} consumers (XINFO)", consumer_names))
    rows += [
        ("time to healthy", figures["time to healthy"]),
        ("image size", figures["image size"]),
        ("image build", figures["build"]),
        ("build CA in image", figures["build CA"]),
        ("knowledge base", figures["knowledge base"]),
        ("ran from a private registry", figures["registry"]),
        ("containers/networks/volumes after down -v", str(len(left))),
        ("compose-test total", figures["compose-test"]),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n| " + "check".ljust(width) + " | result")
    print("|" + "-" * (width + 2) + "|-------")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value}")
    print()
    if failures:
        for failure in failures:
            print(f"FAIL: {failure}")
        print(f"compose-test: 0 passed, {len(failures)} failed")
        return 1
    print("compose-test: 1 passed, 0 failed")
    return 0


def _wait_for(condition: Any, feeder: Feeder, what: str) -> None:
    while not condition():
        if not feeder.is_alive():
            raise RuntimeError(f"the feeder stopped before {what} were accepted")
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
