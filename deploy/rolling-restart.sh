#!/usr/bin/env bash
# Restart one service's replicas one at a time: stop (SIGTERM, then SIGKILL after 30 s),
# start, and wait until the replica is healthy again before the next one, so the
# service never stops serving. Run it where you run `docker compose` (it uses the same
# project: COMPOSE_PROJECT_NAME, -f files via COMPOSE_FILE).
#   deploy/rolling-restart.sh enrich [seconds to wait for healthy, default 300]
set -euo pipefail
service="${1:?usage: $0 SERVICE [TIMEOUT_SECONDS]}"
timeout="${2:-300}"
ids="$(docker compose ps -q "$service")"
[ -n "$ids" ] || { echo "no running replica of $service" >&2; exit 1; }
for id in $ids; do
  name="$(docker inspect -f '{{.Name}}' "$id")"
  name="${name#/}"
  started=$SECONDS
  docker stop -t 30 "$id" >/dev/null
  stopped=$((SECONDS - started))
  docker start "$id" >/dev/null
  deadline=$((SECONDS + timeout))
  until [ "$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}' "$id")" = healthy ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$name is not healthy ${timeout} s after its restart; the others were left alone" >&2
      exit 1
    fi
    sleep 1
  done
  echo "$name restarted: stopped in ${stopped} s, healthy again after $((SECONDS - started)) s"
done
