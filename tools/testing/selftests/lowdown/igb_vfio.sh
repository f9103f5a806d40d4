#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# igb-vfio-pci on the test VM's igb VFs: the PF up with an address, two
# VFs, the first with a MAC the PF set (the second gets it by migration),
# both bound to igb-vfio-pci with
# driver_override, and a static neighbour entry per VF so that a ping from
# the PF sends packets to that VF's MAC (igb_vfio is the VF's driver and
# answers nothing).  igb_vfio runs the tests (kselftest harness) and prints
# the TAP; this script adds the binding checks before it.
#
# Needs the VF BAR workaround of tools/testing/vm/run (see igb_vf.sh).
set -u
dir=$(dirname "$0")
. "$dir/ktap.sh"
. "$dir/igb_lib.sh"

if ! igb_pf; then
	echo "TAP version 13"
	echo "1..0 # SKIP no igb SR-IOV PF (8086:10c9)"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 0
fi
mac=(52:54:00:1d:0e:01 52:54:00:1d:0e:02)
ip=(10.78.0.10 10.78.0.11)

cleanup() {
	local i

	for i in 0 1; do
		ip neigh del "${ip[$i]}" dev "$pfnet" 2>/dev/null
	done
	igb_cleanup
}
trap cleanup EXIT

echo "# pf $pf ($pfnet)"
modprobe igb-vfio-pci || { echo "Bail out! igb-vfio-pci does not load"; exit 1; }
igb_vfs 2
ip addr add 10.78.0.1/24 dev "$pfnet"
bound=0
for i in 0 1; do
	# VF1 gets its MAC from VF0's migration stream
	[ "$i" = 1 ] || ip link set "$pfnet" vf "$i" mac "${mac[$i]}"
	ip neigh replace "${ip[$i]}" lladdr "${mac[$i]}" dev "$pfnet" nud permanent
	igb_bind "${vfs[$i]}" igb_vfio_pci && bound=$((bound + 1))
	echo "# ${vfs[$i]}: MAC ${mac[$i]} at ${ip[$i]}"
done
if [ "$bound" != 2 ]; then
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 vfs_bound"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	exit 1
fi
IGBV_VF0=${vfs[0]} IGBV_VF1=${vfs[1]} IGBV_IP0=${ip[0]} IGBV_IP1=${ip[1]} \
	IGBV_MAC0=${mac[0]} IGBV_PFNET=$pfnet "$dir/igb_vfio" ${IGBV_ARGS:-}
