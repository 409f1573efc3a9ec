#!/usr/bin/env bash
# Measures what the generated events module costs in a clean debug build of the root crate:
# builds the framework crate twice in a scratch copy, once with the full scopes.json and once
# with a two-scope catalogue, dependencies prebuilt, and prints both times and the difference.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export CARGO_TARGET_DIR="$scratch/target" CARGO_INCREMENTAL=0
# The whole working tree (cargo reads every workspace member), without build output or history.
tar -C "$repo" --exclude=./.git --exclude=./target --exclude=./fuzz/target -cf - . | tar -C "$scratch" -xf -
cd "$scratch"
cargo build -q -p bigcommerce-app # dependencies and build script, not measured

measure() {
  touch src/lib.rs
  local start end
  start=$(date +%s.%N)
  cargo build -q -p bigcommerce-app
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}

full=$(measure)
python3 - <<'PY'
import json
c = json.load(open("crates/catalogue/scopes.json"))
# The framework itself names store/channel/created (it keeps the channel list fresh); both
# scopes share one payload.
kept = ("store/order/created", "store/channel/created")
c["scopes"] = [s for s in c["scopes"] if s["scope"] in kept]
c["payloads"] = [p for p in c["payloads"] if p["name"] in {s["payload"] for s in c["scopes"]}]
json.dump(c, open("crates/catalogue/scopes.json", "w"))
PY
cargo build -q -p bigcommerce-app # re-run the build script for the small catalogue
minimal=$(measure)
printf 'root crate, debug, clean: full catalogue %.1f s, two-scope catalogue %.1f s, generated code adds %.1f s\n' \
  "$full" "$minimal" "$(python3 -c "print($full - $minimal)")"
