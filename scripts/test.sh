#!/usr/bin/env bash
# The project's test command (README, .ci/run): vet, unit and API tests, the contract
# tests with the stock Alibaba clients, the robustness tests, and a short run of every
# fuzz target. Fails loudly; skips nothing silently.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}

step() { printf '\n=== %s\n' "$*"; }

command -v go >/dev/null || { echo "go is not installed (Go 1.26 is required)" >&2; exit 1; }

# Data-plane tests need strongSwan and friends: installed here as root.
. scripts/deps.sh
install_dataplane_deps

step "go vet"
go vet ./...
(cd contract && go vet ./...)

step "unit, API and robustness tests"
go test -count=1 ./...

step "race detector on the concurrent packages"
go test -count=1 -race ./internal/store/... ./internal/rpc/... ./internal/service/... ./internal/server/...

step "contract tests with the stock Alibaba clients"
(cd contract && go test -count=1 ./...)

step "fuzz targets (${FUZZTIME} each)"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -hoE '^func Fuzz[A-Za-z0-9_]+' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "--- $pkg $target"
		go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME"
	done
done

echo
echo "all tests passed"
