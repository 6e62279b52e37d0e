#!/usr/bin/env bash
# One command on a fresh machine: set up, build, and run the self-contained demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo run --release --quiet -p host-test --bin swamp-gcs -- demo "$@"
