#!/usr/bin/env bash
# Dual-tunnel failover outage (issue 15), measured on the cloud's side: a stock strongSwan
# data center with one gateway per tunnel; the master tunnel's path dies (its IKE/ESP
# packets are dropped in the data center) and the VPC host pings the data center every
# 100 ms until it is answered over the slave. It runs contract/e2e
# BenchmarkDualTunnelFailover ROUNDS times on one world (the master comes back between
# rounds, untimed) and prints a table. Needs root and strongSwan (as the e2e tests).
#
#   bench/dualtunnel/run.sh [ROUNDS]     # default 5
set -euo pipefail
rounds=${1:-5}
cd "$(dirname "$0")/../.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! (cd contract && go test -count=1 -run '^$' -bench '^BenchmarkDualTunnelFailover$' -benchtime "${rounds}x" -v -timeout 30m ./e2e/) >"$log" 2>&1; then
	tail -n 80 "$log"
	echo "bench/dualtunnel: the benchmark failed" >&2
	exit 1
fi
echo "## Dual-tunnel failover (\`bench/dualtunnel/run.sh $rounds\`; tunnel cells with FastDPD: DPD every 1 s, 2 retransmits 0.7 s apart)"
echo
echo "- $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| failover | outage (master path lost → answered over the slave) |"
echo "|---:|---:|"
grep -o 'outage [0-9.]*m\?s$' "$log" | awk '{ printf "| %d | %s |\n", NR, $2 }'
echo
grep -o 'outage [0-9.]*m\?s$' "$log" | awk '{ v = $2; if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else { sub(/s$/, "", v) } print v + 0 }' | sort -g | awk '
	{ v[NR] = $1 }
	END {
		if (NR == 0) { print "no outage lines in the benchmark output"; exit 1 }
		printf "Outage: min %.2f s, median %.2f s, max %.2f s over %d failovers; target < 5 s: %s\n",
			v[1], v[int((NR + 1) / 2)], v[NR], NR, (v[NR] < 5 ? "met" : "missed")
	}'
