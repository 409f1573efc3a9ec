#!/usr/bin/env bash
# The receive-path benchmark: in one run, on loopback, 64 connections for 10 s each, compares
#   bare       axum parsing the JSON and answering 200 (no storage)
#   naive      one INSERT and commit per request (what a straightforward app does)
#   framework  the bigcommerce-app receiver, on SQLite and on PostgreSQL
# and prints requests/s, p50/p99 latency and peak RSS, with the ratios the targets are about.
# Installs wrk from Debian's packages if missing. PostgreSQL: BENCH_DATABASE_URL or the local
# server (postgres@127.0.0.1:5432); its part is skipped, with a message, if unreachable.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bigcommerce-app-target}"
duration="${BENCH_DURATION:-10s}"
connections="${BENCH_CONNECTIONS:-64}"
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
  psql "$pg_admin" -qtAc "DROP DATABASE IF EXISTS $name" >/dev/null
  psql "$pg_admin" -qtAc "CREATE DATABASE $name" >/dev/null
  echo "${pg_admin%/*}/$name"
}

declare -A RPS P50 P99 RSS
run() { # label mode url
  local label=$1 mode=$2 url=$3
  rm -f "$work/port" "$work/secret"
  "$server" "$mode" "$url" "$work/port" "$work/secret" 2>"$work/$label.err" &
  local pid=$!
  for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || { echo "$label did not start:"; cat "$work/$label.err"; exit 1; }
  local port; port=$(cat "$work/port")
  # Warm-up (connection pools, caches), not measured; its events are distinct from the run's.
  BENCH_SECRET=$(cat "$work/secret" 2>/dev/null || true) BENCH_OFFSET=900000000 \
    wrk -t1 -c"$connections" -d2s -s "$repo/bench/post.lua" "http://127.0.0.1:$port/webhooks" >/dev/null
  BENCH_SECRET=$(cat "$work/secret" 2>/dev/null || true) \
    wrk -t1 -c"$connections" -d"$duration" --latency -s "$repo/bench/post.lua" "http://127.0.0.1:$port/webhooks" >"$work/$label.out"
  RSS[$label]=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  RPS[$label]=$(awk '/Requests\/sec/ {print $2}' "$work/$label.out")
  P50[$label]=$(awk '$1=="50%" {print $2}' "$work/$label.out")
  P99[$label]=$(awk '$1=="99%" {print $2}' "$work/$label.out")
  if grep -q "Non-2xx" "$work/$label.out"; then
    echo "warning: $label answered non-2xx: $(grep Non-2xx "$work/$label.out")" >&2
  fi
}

run bare bare "sqlite::memory:"
run naive_sqlite naive "sqlite://$work/naive.db?mode=rwc"
run framework_sqlite framework "sqlite://$work/framework.db?mode=rwc"
if [ "$pg_ok" = 1 ]; then
  run naive_pg naive "$(fresh_pg naive)"
  run framework_pg framework "$(fresh_pg framework)"
else
  echo "PostgreSQL at $pg_admin unreachable: its rows are skipped" >&2
fi

printf '\n| server | req/s | p50 | p99 | peak RSS MiB |\n|---|---:|---:|---:|---:|\n'
for label in bare naive_sqlite framework_sqlite naive_pg framework_pg; do
  [ -n "${RPS[$label]:-}" ] || continue
  printf '| %s | %s | %s | %s | %s |\n' "$label" "${RPS[$label]}" "${P50[$label]}" "${P99[$label]}" "${RSS[$label]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "framework on SQLite / bare: $(ratio "${RPS[framework_sqlite]}" "${RPS[bare]}")x (target >= 0.35x)"
echo "framework on SQLite / naive on SQLite: $(ratio "${RPS[framework_sqlite]}" "${RPS[naive_sqlite]}")x"
if [ "$pg_ok" = 1 ]; then
  echo "framework on PostgreSQL / naive on PostgreSQL: $(ratio "${RPS[framework_pg]}" "${RPS[naive_pg]}")x (target >= 2x)"
fi
echo "targets: p99 < 10ms on SQLite, < 25ms on PostgreSQL, RSS < 64 MiB"
