#!/usr/bin/env bash
# Set up (first time, with the test, notebooks and dask extras: the Dask sweep test runs on a
# real LocalCluster) and run the checks: lint, type checking of simulator/ (mypy, configured
# in pyproject.toml), then the whole test suite (unit, theory, functional, property and
# notebook tests). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" test,notebooks,dask
.venv/bin/python -m ruff check simulator tests benchmarks
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest "$@"
