#!/usr/bin/env bash
# One command on a fresh machine: set up, build, and run the self-contained demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ ! -x target/release/swamp-gcs ]; then
  # The first build compiles wasmtime: say so and let cargo show its progress, rather than
  # minutes of silence that look like a hang.
  echo "demo: first run: building the component and the wasmtime host (about 7 minutes on 2 cores)"
  cargo build --release -p host-test --bin swamp-gcs
fi
cargo run --release --quiet -p host-test --bin swamp-gcs -- demo "$@"
