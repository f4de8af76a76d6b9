#!/usr/bin/env bash
# Runs the test suite in the project's environment (made on first use).
# Extra arguments go to pytest, e.g. `bash tools/test.sh tests/test_model.py -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
python -m pytest -q "$@"
