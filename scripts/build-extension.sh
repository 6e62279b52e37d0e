#!/usr/bin/env bash
# Build the installable swamp extension folder, extension/dist/gcs-datastore/, from the
# component: pinned Deno and jco from npm (installed into extension/node_modules on first
# use), the guest built in release with LTO, the core modules embedded in .ts files.
set -euo pipefail
cd "$(dirname "$0")/../extension"
if [ ! -x node_modules/@deno/linux-x64-glibc/deno ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "build-extension: first run: installing the pinned Deno, jco and zod from npm (once, about 30 s)"
  npm ci --no-audit --no-fund --loglevel=error
fi
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "build-extension: adding the wasm32-wasip2 target (once)"
  rustup target add wasm32-wasip2
fi
DENO_NO_UPDATE_CHECK=1 node_modules/@deno/linux-x64-glibc/deno run -A scripts/build.ts "$@"
