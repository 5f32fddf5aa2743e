#!/usr/bin/env bash
# The main job (README): installs what the data plane needs, then runs the OpenCEN server
# with its embedded store and gateway, and the product page's flow on this machine.
# Root is required (namespaces). Arguments go to `opencen demo` (e.g. --once).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
install_dataplane_deps
exec go run ./cmd/opencen demo "$@"
