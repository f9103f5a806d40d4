# SPDX-License-Identifier: GPL-2.0
# The test VM's igb SR-IOV PF and its VFs, for the suites that use them
# (igb_vf.sh, igb_vfio.sh, qemu_igb.sh): source it.

# igb_pf: find the PF (8086:10c9 with SR-IOV); sets pf, pfdev and pfnet,
# fails when there is none
igb_pf() {
	local d

	pf=
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10c9 ] || continue
		pf=${d##*/}
		break
	done
	[ -n "$pf" ] && [ -e "/sys/bus/pci/devices/$pf/sriov_numvfs" ] || return 1
	pfdev=/sys/bus/pci/devices/$pf
	pfnet=$(ls "$pfdev/net" 2>/dev/null | head -n1)
}

# igb_vfs N: the PF up, N fresh VFs that probe no driver by themselves;
# their PCI addresses in vfs
igb_vfs() {
	local i vf

	ip link set "$pfnet" up
	echo 0 >"$pfdev/sriov_numvfs"
	echo 0 >"$pfdev/sriov_drivers_autoprobe"
	echo "$1" >"$pfdev/sriov_numvfs"
	vfs=()
	for ((i = 0; i < $1; i++)); do
		vf=$(readlink "$pfdev/virtfn$i")
		vfs+=("${vf##*/}")
	done
}

# igb_bind VF DRIVER: bind VF to DRIVER with driver_override; fails unless
# it is bound to it then
igb_bind() {
	local drv

	echo "$2" >"/sys/bus/pci/devices/$1/driver_override"
	echo "$1" >/sys/bus/pci/drivers_probe
	drv=$(readlink "/sys/bus/pci/devices/$1/driver")
	[ "${drv##*/}" = "$2" ]
}

# igb_cleanup: no VFs, autoprobe back on, the PF down without addresses
igb_cleanup() {
	echo 0 >"$pfdev/sriov_numvfs"
	echo 1 >"$pfdev/sriov_drivers_autoprobe"
	ip addr flush dev "$pfnet" scope global 2>/dev/null
	ip link set "$pfnet" down
}
