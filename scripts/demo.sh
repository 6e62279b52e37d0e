#!/usr/bin/env bash
# One command on a fresh machine: set up, build, and run the self-contained demo.
#
# Everything slow says so before it starts: the first build compiles wasmtime (minutes of
# silence would look like a hang), so the first-run line comes before the set-up, and cargo
# shows its own progress. With everything built and up to date, nothing but the demo prints.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/swamp-gcs"
build=""
if [ ! -x "$bin" ]; then
  echo "demo: first run: setting up, then building the component and the wasmtime host; the first build takes several minutes (about 7 on 2 cores), cargo shows its progress"
  build=first
elif [ -n "$(find src host/src host/build.rs swamp-gcs/src wit Cargo.toml Cargo.lock host/Cargo.toml swamp-gcs/Cargo.toml -newer "$bin" -print -quit 2>/dev/null)" ]; then
  echo "demo: the sources changed since the last build: rebuilding (usually under 2 minutes)"
  build=changed
fi
./scripts/setup.sh
if [ -n "$build" ]; then
  cargo build --release -p swamp-gcs
fi
cargo run --release --quiet -p swamp-gcs -- demo "$@"
