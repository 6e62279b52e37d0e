#!/usr/bin/env bash
# One command on a fresh machine: set up, check formatting and lints, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d "${CARGO_TARGET_DIR:-target}/release" ]; then
  # Said before the set-up: minutes of compiling must not look like a hang.
  echo "test: first run: setting up, then building and testing everything; the first build takes several minutes (about 10 on 2 cores), cargo shows its progress"
fi
./scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== references stay inside the repository"
./scripts/check-references.sh
echo "== clippy (guest for wasm32-wasip2, then the workspace)"
cargo clippy --release -p gcs-datastore --target wasm32-wasip2 -- -D warnings
cargo clippy --release --workspace --all-targets -- -D warnings
echo "== tests (release: the harness compiles the component in ~0.3 s instead of seconds)"
cargo test --release --workspace
echo "== the swamp extension (Deno from npm): build, bundle as swamp does, contract, end to end, event loop, sandbox, packaging"
./extension/scripts/test.sh
echo "== bench smoke (one trial of each scenario: correctness checks only, no timing thresholds)"
cargo run --release -q -p gcs-bench --bin bench -- --smoke
echo "== extension bench smoke (the v1 scenarios through the extension beside wasmtime: same requests)"
DENO_NO_UPDATE_CHECK=1 extension/node_modules/@deno/linux-x64-glibc/deno run -A --config extension/deno.json extension/bench/bench.ts --smoke
