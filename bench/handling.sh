#!/usr/bin/env bash
# The handling benchmark: a user's app as it runs (the framework's Server with its handlers),
# next to a bare axum endpoint and a naive one-INSERT-per-request endpoint, in one run on
# loopback. wrk sends unique callbacks with 64 connections for 20 s per server.
#
#   bare            axum parsing the JSON, answering 200 (no storage)
#   naive           one INSERT and commit per request
#   receiver        the framework's receiver alone, nothing handled (ingest only)
#   app             the whole app, no-op handler: acknowledged/s, handled/s, ack p99
#   app 100ms       the whole app, a handler that awaits 100 ms (one BigCommerce API call)
#   noisy           the 100 ms app flooded by store `bench` while store `probe` sends 20
#                   events/s: the probe's lag from sending to handled (p50, p99)
#   drain           100,000 stored events, no-op handler: events/s until drained
#
# Prints a table and each target. Installs wrk from Debian's packages if missing. PostgreSQL:
# BENCH_DATABASE_URL or the local server (postgres@127.0.0.1:5432); its rows are skipped,
# with a message, if it is unreachable. BENCH_BACKENDS (default "sqlite pg") picks the backends.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bigcommerce-app-target}"
duration="${BENCH_DURATION:-20s}"
connections="${BENCH_CONNECTIONS:-64}"
backlog="${BENCH_BACKLOG:-100000}"
backends="${BENCH_BACKENDS:-sqlite pg}"
pg_admin="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
cargo build --release -q -p bcapp-bench-server --manifest-path "$repo/Cargo.toml"
server="$CARGO_TARGET_DIR/release/bcapp-bench-server"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

pg_ok=0
if command -v psql >/dev/null && psql "$pg_admin" -qtAc 'select 1' >/dev/null 2>&1; then pg_ok=1; fi

fresh_pg() { # a new database per run
  local name="bcapp_bench_$1_$$"
  psql "$pg_admin" -qtAc "DROP DATABASE IF EXISTS $name" >/dev/null 2>&1
  psql "$pg_admin" -qtAc "CREATE DATABASE $name" >/dev/null
  # Each run starts from a checkpoint, with the previous run's pages written out: a checkpoint
  # falling inside a run (every 5 minutes, spread over most of them) made the same PostgreSQL
  # run measure 3k or 10k.
  psql "$pg_admin" -qtAc "CHECKPOINT" >/dev/null
  echo "${pg_admin%/*}/$name"
}
fresh_sqlite() { echo "sqlite://$work/$1.db?mode=rwc"; }
# A finished run's database goes: a SQLite WAL (up to a GiB) must not be written back during the
# next run, and a PostgreSQL database left behind would be autovacuum's work during later runs
# (each run left one behind before).
forget() {
  rm -f "$work"/*.db "$work"/*.db-wal "$work"/*.db-shm
  case "$1" in
    postgres*) psql "$pg_admin" -qtAc "DROP DATABASE IF EXISTS ${1##*/}" >/dev/null ;;
  esac
  sync
}

handled() { curl -sf "http://127.0.0.1:$1/bench/stats" | sed -E 's/^\{"handled":([0-9]+).*/\1/'; }

declare -A RPS P99 RSS HANDLED PROBE
run() { # label mode url [env...]
  local label=$1 mode=$2 url=$3; shift 3
  rm -f "$work/port" "$work/secret"
  env "$@" "$server" "$mode" "$url" "$work/port" "$work/secret" 2>"$work/$label.err" &
  local pid=$!
  for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || { echo "$label did not start:"; cat "$work/$label.err"; exit 1; }
  local port; port=$(cat "$work/port")
  local secret; secret=$(cat "$work/secret" 2>/dev/null || true)
  # Warm-up (connection pools, caches), not measured; its events are distinct from the run's.
  BENCH_SECRET=$secret BENCH_OFFSET=900000000 \
    wrk -t1 -c"$connections" -d2s -s "$repo/bench/post.lua" "http://127.0.0.1:$port/webhooks" >/dev/null
  local before=0
  [ "$mode" = app ] && before=$(handled "$port")
  local started; started=$(date +%s.%N)
  BENCH_SECRET=$secret \
    wrk -t1 -c"$connections" -d"$duration" --latency -s "$repo/bench/post.lua" "http://127.0.0.1:$port/webhooks" >"$work/$label.out"
  local ended; ended=$(date +%s.%N)
  if [ "$mode" = app ]; then
    local after; after=$(handled "$port")
    HANDLED[$label]=$(awk -v a="$after" -v b="$before" -v s="$started" -v e="$ended" 'BEGIN { printf "%.0f", (a - b) / (e - s) }')
    PROBE[$label]=$(curl -sf "http://127.0.0.1:$port/bench/stats" | sed -E 's/.*"probe":\{([^}]*)\}.*/\1/')
  fi
  RSS[$label]=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  forget "$url"
  RPS[$label]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/$label.out")
  P99[$label]=$(awk '$1=="99%" {print $2}' "$work/$label.out")
  if grep -q "Non-2xx" "$work/$label.out"; then
    echo "warning: $label answered non-2xx: $(grep Non-2xx "$work/$label.out")" >&2
  fi
}

declare -A DRAIN DRAIN_RSS
drain() { # label url
  local out; out=$("$server" drain "$2" "$backlog")
  DRAIN[$1]=$(echo "$out" | sed -E 's/.*"per_second":([0-9.]+).*/\1/' | awk '{printf "%.0f", $1}')
  DRAIN_RSS[$1]=$(echo "$out" | sed -E 's/.*"peak_rss_mib":([0-9.]+).*/\1/' | awk '{printf "%.1f", $1}')
  forget "$2"
}

run bare bare "sqlite::memory:"
[[ " $backends " == *" pg "* ]] || pg_ok=0
[[ " $backends " == *" pg "* && "$pg_ok" = 0 ]] && echo "PostgreSQL at $pg_admin unreachable: its rows are skipped" >&2
for db in sqlite pg; do
  [[ " $backends " == *" $db "* ]] || continue
  [ "$db" = pg ] && [ "$pg_ok" = 0 ] && continue
  run naive_$db naive "$(fresh_$db naive)"
  run receiver_$db receiver "$(fresh_$db receiver)"
  run app_$db app "$(fresh_$db app)"
  run app_${db}_100ms app "$(fresh_$db app100)" BENCH_HANDLER_MS=100
  run noisy_$db app "$(fresh_$db noisy)" BENCH_HANDLER_MS=100 BENCH_PROBE_EVERY_MS=50
  drain $db "$(fresh_$db drain)"
done

printf '\n| server | acknowledged/s | ack p99 | handled/s | peak RSS MiB |\n|---|---:|---:|---:|---:|\n'
for label in bare naive_sqlite receiver_sqlite app_sqlite app_sqlite_100ms noisy_sqlite \
             naive_pg receiver_pg app_pg app_pg_100ms noisy_pg; do
  [ -n "${RPS[$label]:-}" ] || continue
  printf '| %s | %s | %s | %s | %s |\n' "$label" "${RPS[$label]}" "${P99[$label]}" "${HANDLED[$label]:--}" "${RSS[$label]}"
done
printf '\n| backlog drain (%s events, no-op) | events/s | peak RSS MiB |\n|---|---:|---:|\n' "$backlog"
for label in sqlite pg; do
  [ -n "${DRAIN[$label]:-}" ] || continue
  printf '| %s | %s | %s |\n' "$label" "${DRAIN[$label]}" "${DRAIN_RSS[$label]}"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for db in sqlite pg; do
  [ -n "${RPS[app_$db]:-}" ] || continue
  echo "$db: handled/acknowledged, no-op handler: $(ratio "${HANDLED[app_$db]}" "${RPS[app_$db]}") (target >= 0.9)"
  echo "$db: 100 ms handler: ${HANDLED[app_${db}_100ms]} events/s handled (target >= 2000)"
  echo "$db: noisy neighbour, probe store: ${PROBE[noisy_$db]} (target p99 < 1000 ms)"
  echo "$db: backlog drain ${DRAIN[$db]} events/s (target >= 10000)"
done
[ -n "${RPS[app_sqlite]:-}" ] && echo "app on SQLite / bare: $(ratio "${RPS[app_sqlite]}" "${RPS[bare]}")x (target >= 0.35x)"
if [ "$pg_ok" = 1 ]; then
  echo "app on PostgreSQL / naive on PostgreSQL: $(ratio "${RPS[app_pg]}" "${RPS[naive_pg]}")x (target >= 2x)"
fi
echo "targets: ack p99 < 25 ms; peak RSS < 64 MiB throughout"
