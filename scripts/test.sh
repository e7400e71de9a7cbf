#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the checks: ruff, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
