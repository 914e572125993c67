#!/usr/bin/env bash
# Set up (first time) and run the main job: simulate a scenario and print its summary.
#   ./scripts/run.sh                                   # data/scenarios/chat-basic.yaml
#   ./scripts/run.sh data/scenarios/livestream-basic.yaml --set workload.clients=5000 --json
set -euo pipefail
source "$(dirname "$0")/_venv.sh" notebooks
scenario=${1:-data/scenarios/chat-basic.yaml}
shift || true
exec .venv/bin/python -m simulator run "$scenario" "$@"
