// SPDX-License-Identifier: GPL-2.0
/*
 * igb PF: a VF's state in the PF, for the VF's migration driver
 * (drivers/vfio/pci/igb/).
 *
 * What a VF asked its PF for over the mailbox lives here, not in the VF:
 * its MAC filter and the switch enabling its queues (the reset request),
 * its multicast hashes, multicast promiscuous mode, and its VLAN filters.
 * igb_vf_mig_save() reads it on the source; igb_vf_mig_restore() replays
 * it on the destination VF through the PF's own mailbox handlers, as if
 * the VF had sent those requests again, so the destination PF's policy
 * (a port VLAN, an administrator's MAC) still applies.  The administrator's
 * settings (port VLAN, rate, spoof check, trust) are not carried: the
 * destination's own apply, and a conflict fails the restore.
 *
 * Both first run the PF's pending mailbox work (igb_msg_task()), so that a
 * request the VF made before it stopped is in what is saved, and the reset
 * the destination VF's FLR raised when it was opened does not wipe the
 * restore later.  Both hold the PF's vfs_lock, as the mailbox handlers do.
 */
#include <linux/etherdevice.h>
#include <linux/igb_vf_mig.h>
#include <linux/pci.h>

#include "igb.h"

static struct igb_adapter *igb_vf_mig_adapter(struct pci_dev *vf, int *vfn)
{
	struct igb_adapter *adapter;
	struct net_device *netdev;

	netdev = pci_iov_get_pf_drvdata(vf, &igb_driver);
	if (IS_ERR(netdev))
		return ERR_CAST(netdev);
	adapter = netdev_priv(netdev);
	/* A PF being reset, or gone from the bus, has nothing to give */
	if (E1000_REMOVED(adapter->hw.hw_addr))
		return ERR_PTR(-EIO);
	if (test_bit(__IGB_RESETTING, &adapter->state))
		return ERR_PTR(-EBUSY);
	*vfn = pci_iov_vf_id(vf);
	if (*vfn < 0)
		return ERR_PTR(*vfn);
	if (*vfn >= adapter->vfs_allocated_count)
		return ERR_PTR(-ENODEV);
	return adapter;
}

/**
 * igb_vf_mig_save() - read a VF's state in its PF
 * @vf: the VF, stopped (its driver sends no more requests)
 * @st: where the state goes
 *
 * Context: process context; takes the PF's vfs_lock.
 * Return: 0, -EINVAL/-ENODEV when @vf is not a VF of an igb PF, -EBUSY
 * while the PF is being reset, -EIO when it is gone from the bus.
 */
int igb_vf_mig_save(struct pci_dev *vf, struct igb_vf_mig_state *st)
{
	struct vf_data_storage *vf_data;
	struct igb_adapter *adapter;
	struct e1000_hw *hw;
	unsigned long flags;
	int vfn, i;

	adapter = igb_vf_mig_adapter(vf, &vfn);
	if (IS_ERR(adapter))
		return PTR_ERR(adapter);
	hw = &adapter->hw;
	igb_msg_task(adapter);

	memset(st, 0, sizeof(*st));
	spin_lock_irqsave(&adapter->vfs_lock, flags);
	vf_data = &adapter->vf_data[vfn];
	ether_addr_copy(st->mac, vf_data->vf_mac_addresses);
	st->multi_promisc = vf_data->flags & IGB_VF_FLAG_MULTI_PROMISC;
	st->n_mc = vf_data->num_vf_mc_hashes;
	memcpy(st->mc, vf_data->vf_mc_hashes,
	       min_t(u16, st->n_mc, IGB_VF_MIG_MC_HASHES) * sizeof(st->mc[0]));
	/* The VLANs are in the filters only: every one this VF's pool is in */
	for (i = 0; i < E1000_VLVF_ARRAY_SIZE; i++) {
		u32 vlvf = rd32(E1000_VLVF(i));
		u16 vid = vlvf & E1000_VLVF_VLANID_MASK;

		if (!(vlvf & E1000_VLVF_VLANID_ENABLE) ||
		    !(vlvf & BIT(E1000_VLVF_POOLSEL_SHIFT + vfn)))
			continue;
		/* The port VLAN (or VLAN 0) comes with every reset */
		if (vid == vf_data->pf_vlan)
			continue;
		if (st->n_vlan < IGB_VF_MIG_VLANS)
			st->vlan[st->n_vlan++] = vid;
	}
	spin_unlock_irqrestore(&adapter->vfs_lock, flags);
	return 0;
}
EXPORT_SYMBOL_GPL(igb_vf_mig_save);

/**
 * igb_vf_mig_restore() - give a VF the state another VF had in its PF
 * @vf: the destination VF, stopped
 * @st: the state igb_vf_mig_save() read on the source
 *
 * Replays the VF's reset request (its MAC, its queues on in the switch;
 * the reply lands in the VF's mailbox, which the VF's migration driver
 * then overwrites with the migrated mailbox), then its multicast, promisc
 * and VLAN requests, through the PF's handlers.
 *
 * Context: process context; takes the PF's vfs_lock.
 * Return: 0; -EINVAL/-ENODEV when @vf is not a VF of an igb PF or @st is
 * not valid; -EBUSY while the PF is being reset, -EIO when it is gone;
 * -EPERM when the destination's administrator set another MAC for it, or a
 * port VLAN while the VF had VLANs of its own; or the error of a request
 * the PF refused.
 */
int igb_vf_mig_restore(struct pci_dev *vf, const struct igb_vf_mig_state *st)
{
	struct vf_data_storage *vf_data;
	struct igb_adapter *adapter;
	u32 msg[E1000_VFMAILBOX_SIZE];
	unsigned long flags;
	int vfn, i, rc = 0;

	if (st->n_vlan > IGB_VF_MIG_VLANS ||
	    st->n_mc > FIELD_MAX(E1000_VT_MSGINFO_MASK) ||
	    (!is_zero_ether_addr(st->mac) && !is_valid_ether_addr(st->mac)))
		return -EINVAL;
	for (i = 0; i < st->n_vlan; i++)
		if (st->vlan[i] > E1000_VLVF_VLANID_MASK)
			return -EINVAL;
	adapter = igb_vf_mig_adapter(vf, &vfn);
	if (IS_ERR(adapter))
		return PTR_ERR(adapter);
	igb_msg_task(adapter);

	spin_lock_irqsave(&adapter->vfs_lock, flags);
	vf_data = &adapter->vf_data[vfn];
	/* Refuse before changing anything */
	if (((vf_data->flags & IGB_VF_FLAG_PF_SET_MAC) &&
	     !ether_addr_equal(vf_data->vf_mac_addresses, st->mac)) ||
	    (vf_data->pf_vlan && st->n_vlan)) {
		rc = -EPERM;
		goto out;
	}
	if (!(vf_data->flags & IGB_VF_FLAG_PF_SET_MAC))
		ether_addr_copy(vf_data->vf_mac_addresses, st->mac);
	igb_vf_reset_msg(adapter, vfn);

	memset(msg, 0, sizeof(msg));
	msg[0] = E1000_VF_SET_MULTICAST |
		 FIELD_PREP(E1000_VT_MSGINFO_MASK, st->n_mc);
	memcpy(&msg[1], st->mc,
	       min_t(u16, st->n_mc, IGB_VF_MIG_MC_HASHES) * sizeof(st->mc[0]));
	rc = igb_set_vf_multicasts(adapter, msg, vfn);
	if (!rc && st->multi_promisc) {
		msg[0] = E1000_VF_SET_PROMISC | E1000_VF_SET_PROMISC_MULTICAST;
		rc = igb_set_vf_promisc(adapter, msg, vfn);
	}
	for (i = 0; i < st->n_vlan && !rc; i++) {
		msg[0] = E1000_VF_SET_VLAN | FIELD_PREP(E1000_VT_MSGINFO_MASK, 1);
		msg[1] = st->vlan[i];
		rc = igb_set_vf_vlan_msg(adapter, msg, vfn);
	}
out:
	spin_unlock_irqrestore(&adapter->vfs_lock, flags);
	return rc;
}
EXPORT_SYMBOL_GPL(igb_vf_mig_restore);
