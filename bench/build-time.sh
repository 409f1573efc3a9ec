#!/usr/bin/env bash
# Measures what the generated code costs in a clean debug build of the root crate: builds the
# framework crate in a scratch copy three times (dependencies prebuilt): with everything, without
# the API resources of resources.json, and with a two-scope event catalogue and no resources; the
# differences are what the generated events and resources cost.
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
# Without the API resources (resources.json emptied): what they cost on their own.
python3 - <<'PY'
import json
r = json.load(open("crates/catalogue/resources.json"))
r["resources"], r["objects"] = [], []
json.dump(r, open("crates/catalogue/resources.json", "w"))
PY
cargo build -q -p bigcommerce-app 2>/dev/null # re-run the build script
no_resources=$(measure)
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
cargo build -q -p bigcommerce-app 2>/dev/null # re-run the build script for the small catalogue
minimal=$(measure)
python3 - "$full" "$no_resources" "$minimal" <<'PY'
import sys
full, no_resources, minimal = map(float, sys.argv[1:])
print(f"root crate, debug, clean: full {full:.1f} s, without resources {no_resources:.1f} s, "
      f"two-scope catalogue and no resources {minimal:.1f} s")
print(f"events add {no_resources - minimal:.1f} s (target < 10 s), "
      f"resources add {full - no_resources:.1f} s (target < 15 s)")
PY
