#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job on the embedded default (offline reference agents).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/aslgate assess --out out "$@"
