#!/usr/bin/env bash
# The test suite (fast tests; add -m slow for the slow ones). Usage: bash test.sh [pytest args]
source "$(dirname "$0")/tools/venv.sh"
exec .venv/bin/python -m pytest -q "$@"
