/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The state the igb PF driver keeps for one of its VFs, as a VF migration
 * driver carries it: what the VF asked the PF for over the mailbox, and its
 * MAC.  See drivers/net/ethernet/intel/igb/igb_vf_mig.c.
 */
#ifndef __LINUX_IGB_VF_MIG_H
#define __LINUX_IGB_VF_MIG_H

#include <linux/if_ether.h>
#include <linux/types.h>

struct pci_dev;

#define IGB_VF_MIG_MC_HASHES	30
#define IGB_VF_MIG_VLANS	32

/**
 * struct igb_vf_mig_state - a VF's state in the PF
 * @mac: the VF's MAC address (zero: none)
 * @multi_promisc: the VF asked for multicast promiscuous mode
 * @n_mc: multicast hashes the VF set (more than @IGB_VF_MIG_MC_HASHES
 *	means the PF put it in multicast promiscuous mode for them)
 * @mc: the hashes, the first min(@n_mc, IGB_VF_MIG_MC_HASHES)
 * @n_vlan: VLAN filters the VF is in, besides the PF's port VLAN
 * @vlan: their VLAN ids
 */
struct igb_vf_mig_state {
	u8 mac[ETH_ALEN];
	bool multi_promisc;
	u16 n_mc;
	u16 mc[IGB_VF_MIG_MC_HASHES];
	u16 n_vlan;
	u16 vlan[IGB_VF_MIG_VLANS];
};

#if IS_ENABLED(CONFIG_IGB)
int igb_vf_mig_save(struct pci_dev *vf, struct igb_vf_mig_state *st);
int igb_vf_mig_restore(struct pci_dev *vf, const struct igb_vf_mig_state *st);
#else
static inline int igb_vf_mig_save(struct pci_dev *vf,
				  struct igb_vf_mig_state *st)
{
	return -EOPNOTSUPP;
}

static inline int igb_vf_mig_restore(struct pci_dev *vf,
				     const struct igb_vf_mig_state *st)
{
	return -EOPNOTSUPP;
}
#endif

#endif
