#!/usr/bin/env bash
# Runs the Playwright suite against two nodes sharing one redis-server and
# one embedded MongoDB-wire store, all started here on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
work=$(mktemp -d /tmp/multitab-e2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning &
pids+=($!)
store_port=$(free_port)
./bin/multitab devstore --addr "127.0.0.1:$store_port" --dir "$work/store" &
pids+=($!)

for _ in $(seq 1 100); do
  if redis-cli -p "$redis_port" ping >/dev/null 2>&1 && (exec 3<>/dev/tcp/127.0.0.1/"$store_port") 2>/dev/null; then break; fi
  sleep 0.1
done

export E2E_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export E2E_MONGO_URI="mongodb://127.0.0.1:$store_port/"
export E2E_DATA_DIR="$work/data"
export E2E_PORT_A=$(free_port) E2E_PORT_B=$(free_port)
npx playwright test "$@"
