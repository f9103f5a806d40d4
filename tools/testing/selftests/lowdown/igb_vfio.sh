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

pf=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10c9 ] || continue
	pf=${d##*/}
	break
done
if [ -z "$pf" ] || [ ! -e /sys/bus/pci/devices/"$pf"/sriov_numvfs ]; then
	echo "TAP version 13"
	echo "1..0 # SKIP no igb SR-IOV PF (8086:10c9)"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 0
fi
pfdev=/sys/bus/pci/devices/$pf
pfnet=$(ls "$pfdev/net" 2>/dev/null | head -n1)
mac=(52:54:00:1d:0e:01 52:54:00:1d:0e:02)
ip=(10.78.0.10 10.78.0.11)

cleanup() {
	local i

	for i in 0 1; do
		ip neigh del "${ip[$i]}" dev "$pfnet" 2>/dev/null
	done
	echo 0 >"$pfdev/sriov_numvfs"
	echo 1 >"$pfdev/sriov_drivers_autoprobe"
	ip addr flush dev "$pfnet" scope global 2>/dev/null
	ip link set "$pfnet" down
}
trap cleanup EXIT

echo "# pf $pf ($pfnet)"
modprobe igb-vfio-pci || { echo "Bail out! igb-vfio-pci does not load"; exit 1; }
ip link set "$pfnet" up
ip addr add 10.78.0.1/24 dev "$pfnet"
echo 0 >"$pfdev/sriov_numvfs"
echo 0 >"$pfdev/sriov_drivers_autoprobe"
echo 2 >"$pfdev/sriov_numvfs"
vfs=()
bound=0
for i in 0 1; do
	vf=$(readlink "$pfdev/virtfn$i")
	vf=${vf##*/}
	vfs+=("$vf")
	# VF1 gets its MAC from VF0's migration stream
	[ "$i" = 1 ] || ip link set "$pfnet" vf "$i" mac "${mac[$i]}"
	ip neigh replace "${ip[$i]}" lladdr "${mac[$i]}" dev "$pfnet" nud permanent
	echo igb_vfio_pci >"/sys/bus/pci/devices/$vf/driver_override"
	echo "$vf" >/sys/bus/pci/drivers_probe
	drv=$(readlink "/sys/bus/pci/devices/$vf/driver")
	echo "# $vf: ${drv##*/}, MAC ${mac[$i]} at ${ip[$i]}"
	[ "${drv##*/}" = igb_vfio_pci ] && bound=$((bound + 1))
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
