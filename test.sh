#!/usr/bin/env bash
# The test suite (fast tests; add -m slow for the slow ones). Usage: bash test.sh [pytest args]
# Two pytest-xdist workers by default (TEST_WORKERS=N for another count, TEST_WORKERS=0 for one process):
# most tests wait on a subprocess, a tracer or the converter, so two share 2 cores well (10.5 -> 6 min).
source "$(dirname "$0")/tools/venv.sh"
exec .venv/bin/python -m pytest -q -n "${TEST_WORKERS:-2}" "$@"
