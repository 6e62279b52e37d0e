#!/usr/bin/env bash
# Build the extension, load it the way swamp does, and run its tests under Deno.
#
# 1. Pinned tools from npm (Deno, jco, zod) into extension/node_modules.
# 2. The installable folder (extension/dist/gcs-datastore) from the component.
# 3. deno fmt --check and deno lint over the hand-written sources.
# 4. `deno bundle --platform deno` with zod external, the zod import rewritten to the
#    instance swamp shares (globalThis.__swamp_zod), written to another directory.
# 5. Every test in extension/tests against that bundle (GCS_EXT_MODULE).
set -euo pipefail
cd "$(dirname "$0")/.."
../scripts/build-extension.sh
DENO="$PWD/node_modules/@deno/linux-x64-glibc/deno"
export DENO_NO_UPDATE_CHECK=1
echo "== extension: deno fmt --check, deno lint"
"$DENO" fmt --check
"$DENO" lint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== extension: bundling as swamp does (into $work)"
"$DENO" bundle --quiet --platform deno --external 'npm:zod@4' -o "$work/bundle/gcs_datastore.js" \
  dist/gcs-datastore/datastores/gcs_datastore.ts
sed -i 's#^import { z } from "npm:zod@4";#const z = globalThis.__swamp_zod;#' "$work/bundle/gcs_datastore.js"
if grep -q 'npm:zod' "$work/bundle/gcs_datastore.js"; then
  echo "extension: the bundle still imports zod itself" >&2
  exit 1
fi
echo "== extension: tests (Deno, through the bundle)"
GCS_EXT_MODULE="$work/bundle/gcs_datastore.js" GCS_EXT_DIST="$PWD/dist/gcs-datastore" TMPDIR="${TMPDIR:-/tmp}" \
  "$DENO" test -A --no-check=remote tests/
