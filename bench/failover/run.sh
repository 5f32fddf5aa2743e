#!/usr/bin/env bash
# Gateway failover outage (issue 13): a real etcd, two API servers and two `opencen gateway`
# processes on the lab's WAN; a stock strongSwan data center pings a VPC host (every 100 ms)
# through a connection; the node running it is lost (kill -9, its charons and namespaces
# removed, as a machine loss leaves it), and comes back for the next loss, so traffic moves
# back and forth. It runs contract/e2e TestGatewayFailover with ROUNDS losses and prints a
# table: from the death to the placement's move, and to the first reply through the new
# node. Needs root and strongSwan (as the e2e tests).
#
#   bench/failover/run.sh [ROUNDS]     # default 5
set -euo pipefail
rounds=${1:-5}
cd "$(dirname "$0")/../.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! (cd contract && OPENCEN_FAILOVER_ROUNDS=$rounds go test -count=1 -run '^TestGatewayFailover$' -v -timeout 30m ./e2e/) >"$log" 2>&1; then
	tail -n 80 "$log"
	echo "bench/failover: the failover test failed" >&2
	exit 1
fi
echo "## Gateway failover (\`bench/failover/run.sh $rounds\`; lease 10 s, cell DPD 10 s, data center DPD 10 s)"
echo
echo "- $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| loss | from → to | placement moved after | traffic back after |"
echo "|---:|---|---:|---:|"
sed -n 's/.*failover \([0-9]*\): \([^ ]*\) -> \([^:]*\): placement moved after \([^,]*\), traffic back after \(.*\)$/| \1 | \2 → \3 | \4 | \5 |/p' "$log"
echo
sed -n 's/.*traffic back after \(.*\)$/\1/p' "$log" | sed 's/ms$/e-3/; s/s$//' | sort -g | awk '
	{ v[NR] = $1 + 0; sum += v[NR] }
	END {
		if (NR == 0) { print "no failover lines in the test output"; exit 1 }
		printf "Outage (death to first reply): min %.2f s, median %.2f s, max %.2f s over %d losses; target < 15 s: %s\n",
			v[1], v[int((NR + 1) / 2)], v[NR], NR, (v[NR] < 15 ? "met" : "missed")
	}'
