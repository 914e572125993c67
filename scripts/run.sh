#!/usr/bin/env bash
# Set up (first time) and run the main job: compare the designs on a scenario and write the
# design-review report (one self-contained HTML file; prints where it is).
#   ./scripts/run.sh                                  # data/scenarios/design-review.yaml -> reports/design-review.html
#   ./scripts/run.sh --pdf                            # the same, and reports/design-review.pdf
#   ./scripts/run.sh chat-compare --set workload.clients=20000 --pdf     # any scenario, report flags
#   ./scripts/run.sh run chat-basic --json            # any other subcommand: run, compare, sweep, ...
set -euo pipefail
source "$(dirname "$0")/_venv.sh" notebooks
case "${1:-}" in
  run|compare|validate|sweep|capacity|calibrate|list|report)
    exec .venv/bin/python -m simulator "$@" ;;
esac
if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then   # no scenario (none, or flags only)
  exec .venv/bin/python -m simulator report design-review "$@"
fi
exec .venv/bin/python -m simulator report "$@"
