#!/usr/bin/env bash
# `make run`: find or start Redis, run the whole pipeline with the demo feed and
# outlet, and on Ctrl-C stop everything this script started (Redis included).
set -euo pipefail
state=".newsroom"
mkdir -p "$state"
rm -f "$state/redis.pid"
REDIS_URL="$(NEWSROOM_STATE_DIR="$state" deploy/ensure-redis.sh)"
export REDIS_URL
echo "Redis: $REDIS_URL"
cleanup() {
  if [ -f "$state/redis.pid" ]; then
    echo "stopping the Redis started for this run"
    kill "$(cat "$state/redis.pid")" 2>/dev/null || true
    rm -f "$state/redis.pid"
  fi
}
trap cleanup EXIT INT TERM
.venv/bin/newsroom up --config newsroom.example.toml
