# Sourced by the scripts: installs, as root, the Debian packages the data plane needs
# (strongSwan with kernel-libipsec, iproute2, nftables, ping, BIRD, iperf3 for
# bench/dataplane) when they are missing, and etcd-server (etcd 3.4, the oldest etcd the
# store supports, run by the store's tests).
# Without root, or with OPENCEN_SKIP_DATAPLANE=1, it installs nothing; what needs the
# packages then says what is missing.
DATAPLANE_PKGS=(strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins iproute2 nftables iputils-ping bird2 iperf3 etcd-server)
install_dataplane_deps() {
	if [ "$(id -u)" != 0 ] || [ "${OPENCEN_SKIP_DATAPLANE:-}" = 1 ]; then
		return 0
	fi
	local missing=() p
	for p in "${DATAPLANE_PKGS[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "=== installing ${missing[*]}"
	# Keep package scripts from starting system daemons (charon, etcd): OpenCEN's tests run their own.
	local created_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	[ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
	return 0
}

# install_browser_deps installs, as root, what the console's browser tests drive: Debian's
# chromium (with chromium-driver) and node/npm when they are missing. With
# OPENCEN_SKIP_BROWSER=1 it installs nothing.
install_browser_deps() {
	if [ "$(id -u)" != 0 ] || [ "${OPENCEN_SKIP_BROWSER:-}" = 1 ]; then
		return 0
	fi
	local missing=() p
	for p in chromium chromium-driver; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	command -v node >/dev/null || missing+=(nodejs)
	command -v npm >/dev/null || missing+=(npm)
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "=== installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
