// SPDX-License-Identifier: GPL-2.0
/*
 * igb-vfio-pci: a vfio-pci variant driver for the Intel 82576 VF
 * (8086:10ca) that migrates it and reports its DMA for software dirty
 * tracking.  This file is the vfio glue: the device ops, BAR0 trapped
 * (regs.c does the rest), the migration engine's callbacks and the
 * migration stream.  Documentation/lowdown/igb-vfio-pci.rst has the design.
 *
 * Bind it like any variant driver:
 *
 *   echo igb_vfio_pci >/sys/bus/pci/devices/$VF/driver_override
 *   echo $VF >/sys/bus/pci/drivers_probe
 */
#include <linux/igb_vf_mig.h>
#include <linux/iommufd.h>
#include <linux/iommufd_dirty.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "regs.h"

static bool dma_reports = true;
module_param(dma_reports, bool, 0644);
MODULE_PARM_DESC(dma_reports,
		 "Report the VF's DMA writes for dirty tracking; read when a device is bound to iommufd (default: on)");

#define IGBV_VENDOR	PCI_VENDOR_ID_INTEL
#define IGBV_DEVICE	0x10ca

static struct igbv_dev *to_igbv(struct vfio_device *vdev)
{
	return container_of(vdev, struct igbv_dev, core.vdev);
}

static struct igbv_dev *eng_to_igbv(struct vfio_mig_engine *eng)
{
	return container_of(eng, struct igbv_dev, eng);
}

/*
 * The stream: one FINAL record of little-endian TLVs, all of them
 * required (an older driver that does not know one refuses the stream).
 */
enum {
	IGBV_TLV_CONFIG = 1,
	IGBV_TLV_PF = 2,
	IGBV_TLV_MBX = 3,
	IGBV_TLV_IRQ = 4,
	IGBV_TLV_RXQ = 5,
	IGBV_TLV_TXQ = 6,
};

#define IGBV_LAYOUT	1

struct igbv_tlv_config {
	__le16 vendor;
	__le16 device;
	__le16 nqueues;
	__le16 layout;
};

/* The VF's state in the PF (struct igb_vf_mig_state) */
struct igbv_tlv_pf {
	u8 mac[ETH_ALEN];
	u8 multi_promisc;
	u8 pad;
	__le16 n_mc;
	__le16 mc[IGB_VF_MIG_MC_HASHES];
	__le16 n_vlan;
	__le16 vlan[IGB_VF_MIG_VLANS];
};

struct igbv_tlv_mbx {
	__le32 vmbmem[IGBV_VMBMEM_WORDS];
};

struct igbv_tlv_irq {
	__le32 eitr[IGBV_NVEC];
	__le32 ivar0;
	__le32 ivar_misc;
	__le32 eiac;
	__le32 eiam;
	__le32 eims;
};

/* RX: BAL, BAH, LEN, SRRCTL, RDH, RDT, RXDCTL */
struct igbv_tlv_rxq {
	u8 queue;
	u8 pad[3];
	__le32 regs[7];
};

/* TX: BAL, BAH, LEN, TDH, TDT, WBAL, WBAH, TXDCTL */
struct igbv_tlv_txq {
	u8 queue;
	u8 pad[3];
	__le32 regs[8];
};

#define IGBV_PAYLOAD_MAX	SZ_4K

static void igbv_le32s(__le32 *to, const u32 *from, int n)
{
	while (n--)
		*to++ = cpu_to_le32(*from++);
}

static void igbv_u32s(u32 *to, const __le32 *from, int n)
{
	while (n--)
		*to++ = le32_to_cpu(*from++);
}

static int igbv_put(struct vfio_mig_buf *buf, u16 type, const void *v,
		    u32 len)
{
	return vfio_mig_buf_put_tlv(buf, type, VFIO_MIG_TLV_F_REQUIRED, v, len);
}

static int igbv_save_tlvs(struct vfio_mig_buf *buf, const struct igbv_regs *r,
			  const struct igb_vf_mig_state *pf)
{
	struct igbv_tlv_config cfg = {
		.vendor = cpu_to_le16(IGBV_VENDOR),
		.device = cpu_to_le16(IGBV_DEVICE),
		.nqueues = cpu_to_le16(IGBV_NQUEUES),
		.layout = cpu_to_le16(IGBV_LAYOUT),
	};
	struct igbv_tlv_pf pft = { .multi_promisc = pf->multi_promisc };
	struct igbv_tlv_mbx mbx;
	struct igbv_tlv_irq irq;
	int n, rc;

	memcpy(pft.mac, pf->mac, ETH_ALEN);
	pft.n_mc = cpu_to_le16(pf->n_mc);
	for (n = 0; n < IGB_VF_MIG_MC_HASHES; n++)
		pft.mc[n] = cpu_to_le16(pf->mc[n]);
	pft.n_vlan = cpu_to_le16(pf->n_vlan);
	for (n = 0; n < IGB_VF_MIG_VLANS; n++)
		pft.vlan[n] = cpu_to_le16(pf->vlan[n]);

	igbv_le32s(mbx.vmbmem, r->vmbmem, IGBV_VMBMEM_WORDS);
	igbv_le32s(irq.eitr, r->eitr, IGBV_NVEC);
	irq.ivar0 = cpu_to_le32(r->ivar0);
	irq.ivar_misc = cpu_to_le32(r->ivar_misc);
	irq.eiac = cpu_to_le32(r->eiac);
	irq.eiam = cpu_to_le32(r->eiam);
	irq.eims = cpu_to_le32(r->eims);
	rc = igbv_put(buf, IGBV_TLV_CONFIG, &cfg, sizeof(cfg));
	if (!rc)
		rc = igbv_put(buf, IGBV_TLV_PF, &pft, sizeof(pft));
	if (!rc)
		rc = igbv_put(buf, IGBV_TLV_MBX, &mbx, sizeof(mbx));
	if (!rc)
		rc = igbv_put(buf, IGBV_TLV_IRQ, &irq, sizeof(irq));
	for (n = 0; n < IGBV_NQUEUES && !rc; n++) {
		struct igbv_tlv_rxq rxq = { .queue = n };

		igbv_le32s(rxq.regs, r->rx[n], ARRAY_SIZE(rxq.regs));
		rc = igbv_put(buf, IGBV_TLV_RXQ, &rxq, sizeof(rxq));
	}
	for (n = 0; n < IGBV_NQUEUES && !rc; n++) {
		struct igbv_tlv_txq txq = { .queue = n };

		igbv_le32s(txq.regs, r->tx[n], ARRAY_SIZE(txq.regs));
		rc = igbv_put(buf, IGBV_TLV_TXQ, &txq, sizeof(txq));
	}
	return rc;
}

/* A stream being loaded: what it said so far */
struct igbv_load {
	struct igbv_regs regs;
	struct igb_vf_mig_state pf;
	bool config;
	bool pf_seen;
	u8 rxq_seen;
	u8 txq_seen;
	bool mbx;
	bool irq;
};

static int igbv_load_config(void *priv, u16 type, const void *value,
			    u32 length)
{
	const struct igbv_tlv_config *cfg = value;
	struct igbv_load *load = priv;

	if (load->config || le16_to_cpu(cfg->vendor) != IGBV_VENDOR ||
	    le16_to_cpu(cfg->device) != IGBV_DEVICE ||
	    le16_to_cpu(cfg->nqueues) != IGBV_NQUEUES ||
	    le16_to_cpu(cfg->layout) != IGBV_LAYOUT)
		return -EINVAL;
	load->config = true;
	return 0;
}

static int igbv_load_pf(void *priv, u16 type, const void *value, u32 length)
{
	const struct igbv_tlv_pf *pft = value;
	struct igbv_load *load = priv;
	struct igb_vf_mig_state *pf = &load->pf;
	int i;

	memcpy(pf->mac, pft->mac, ETH_ALEN);
	if (pft->multi_promisc > 1 || pft->pad)
		return -EINVAL;
	pf->multi_promisc = pft->multi_promisc;
	pf->n_mc = le16_to_cpu(pft->n_mc);
	for (i = 0; i < IGB_VF_MIG_MC_HASHES; i++)
		pf->mc[i] = le16_to_cpu(pft->mc[i]);
	pf->n_vlan = le16_to_cpu(pft->n_vlan);
	for (i = 0; i < IGB_VF_MIG_VLANS; i++)
		pf->vlan[i] = le16_to_cpu(pft->vlan[i]);
	/* The PF checks the rest when it applies it */
	if (pf->n_vlan > IGB_VF_MIG_VLANS || pf->n_mc > 255)
		return -EINVAL;
	load->pf_seen = true;
	return 0;
}

static int igbv_load_mbx(void *priv, u16 type, const void *value, u32 length)
{
	const struct igbv_tlv_mbx *mbx = value;
	struct igbv_load *load = priv;

	igbv_u32s(load->regs.vmbmem, mbx->vmbmem, IGBV_VMBMEM_WORDS);
	load->mbx = true;
	return 0;
}

static int igbv_load_irq(void *priv, u16 type, const void *value, u32 length)
{
	const struct igbv_tlv_irq *irq = value;
	struct igbv_load *load = priv;

	igbv_u32s(load->regs.eitr, irq->eitr, IGBV_NVEC);
	load->regs.ivar0 = le32_to_cpu(irq->ivar0);
	load->regs.ivar_misc = le32_to_cpu(irq->ivar_misc);
	load->regs.eiac = le32_to_cpu(irq->eiac);
	load->regs.eiam = le32_to_cpu(irq->eiam);
	load->regs.eims = le32_to_cpu(irq->eims);
	load->irq = true;
	return 0;
}

/* A ring the device could use: aligned, whole descriptors, indices in it */
static bool igbv_ring_ok(u32 bal, u32 len, u32 head, u32 tail)
{
	u32 ndesc = len / IGBV_DESC;

	if (bal % IGBV_RING_ALIGN || len % IGBV_RING_ALIGN)
		return false;
	return ndesc ? head < ndesc && tail < ndesc : !head && !tail;
}

static int igbv_load_rxq(void *priv, u16 type, const void *value,
			 u32 length)
{
	const struct igbv_tlv_rxq *rxq = value;
	struct igbv_load *load = priv;
	u32 *r;

	if (rxq->queue >= IGBV_NQUEUES || load->rxq_seen & BIT(rxq->queue))
		return -EINVAL;
	r = load->regs.rx[rxq->queue];
	igbv_u32s(r, rxq->regs, ARRAY_SIZE(rxq->regs));
	if (!igbv_ring_ok(r[0], r[2], r[4], r[5]))
		return -EINVAL;
	load->rxq_seen |= BIT(rxq->queue);
	return 0;
}

static int igbv_load_txq(void *priv, u16 type, const void *value,
			 u32 length)
{
	const struct igbv_tlv_txq *txq = value;
	struct igbv_load *load = priv;
	u32 *t;

	if (txq->queue >= IGBV_NQUEUES || load->txq_seen & BIT(txq->queue))
		return -EINVAL;
	t = load->regs.tx[txq->queue];
	igbv_u32s(t, txq->regs, ARRAY_SIZE(txq->regs));
	if (!igbv_ring_ok(t[0], t[2], t[3], t[4]))
		return -EINVAL;
	load->txq_seen |= BIT(txq->queue);
	return 0;
}

#define IGBV_TLV(t, f, s, fn) {				\
	.type = (t), .flags = (f), .min_len = sizeof(s),	\
	.max_len = sizeof(s), .consume = (fn),			\
}

static const struct vfio_mig_tlv_desc igbv_tlvs[] = {
	IGBV_TLV(IGBV_TLV_CONFIG, VFIO_MIG_TLV_DESC_IN_FULL,
		 struct igbv_tlv_config, igbv_load_config),
	IGBV_TLV(IGBV_TLV_PF, VFIO_MIG_TLV_DESC_IN_FULL,
		 struct igbv_tlv_pf, igbv_load_pf),
	IGBV_TLV(IGBV_TLV_MBX, VFIO_MIG_TLV_DESC_IN_FULL,
		 struct igbv_tlv_mbx, igbv_load_mbx),
	IGBV_TLV(IGBV_TLV_IRQ, VFIO_MIG_TLV_DESC_IN_FULL,
		 struct igbv_tlv_irq, igbv_load_irq),
	IGBV_TLV(IGBV_TLV_RXQ,
		 VFIO_MIG_TLV_DESC_IN_FULL | VFIO_MIG_TLV_DESC_REPEAT,
		 struct igbv_tlv_rxq, igbv_load_rxq),
	IGBV_TLV(IGBV_TLV_TXQ,
		 VFIO_MIG_TLV_DESC_IN_FULL | VFIO_MIG_TLV_DESC_REPEAT,
		 struct igbv_tlv_txq, igbv_load_txq),
};

static const struct vfio_mig_tlv_set igbv_tlv_set = {
	.descs = igbv_tlvs,
	.ndescs = ARRAY_SIZE(igbv_tlvs),
};

/* Engine callbacks: all under the engine's state lock */
static int igbv_set_run(struct vfio_mig_engine *eng, enum vfio_mig_run run)
{
	struct igbv_dev *igbv = eng_to_igbv(eng);
	int rc = 0;

	igbv_lock(igbv);
	if (run == VFIO_MIG_RUN) {
		rc = igbv_resume(igbv, igbv->staged);
		if (!rc)
			igbv->staged = false;
	} else if (igbv->run == VFIO_MIG_RUN) {
		rc = igbv_quiesce(igbv);
	}
	if (!rc)
		igbv->run = run;
	mutex_unlock(&igbv->lock);
	return rc;
}

static int igbv_save_cb(struct vfio_mig_engine *eng, u8 type, bool delta_ok,
			struct vfio_mig_buf *buf, u8 *flags)
{
	struct igbv_dev *igbv = eng_to_igbv(eng);
	struct igb_vf_mig_state *pf;
	struct igbv_regs *regs;
	int rc;

	/* STOP_COPY only: the whole state fits one small FINAL record */
	if (type != VFIO_MIG_RECORD_FINAL)
		return -EINVAL;
	regs = kzalloc(sizeof(*regs), GFP_KERNEL);
	pf = kzalloc(sizeof(*pf), GFP_KERNEL);
	rc = regs && pf ? 0 : -ENOMEM;
	if (!rc)
		rc = igb_vf_mig_save(igbv->core.pdev, pf);
	if (!rc) {
		igbv_lock(igbv);
		rc = igbv_save(igbv, regs);
		mutex_unlock(&igbv->lock);
	}
	if (!rc)
		rc = igbv_save_tlvs(buf, regs, pf);
	kfree(pf);
	kfree(regs);
	return rc;
}

static void igbv_dirty(struct vfio_mig_engine *eng, struct vfio_mig_dirty *d)
{
	*d = (struct vfio_mig_dirty){};
}

static u64 igbv_data_size(struct vfio_mig_engine *eng, bool delta_ok)
{
	return vfio_mig_tlv_size(sizeof(struct igbv_tlv_config)) +
	       vfio_mig_tlv_size(sizeof(struct igbv_tlv_pf)) +
	       vfio_mig_tlv_size(sizeof(struct igbv_tlv_mbx)) +
	       vfio_mig_tlv_size(sizeof(struct igbv_tlv_irq)) +
	       IGBV_NQUEUES * (vfio_mig_tlv_size(sizeof(struct igbv_tlv_rxq)) +
			       vfio_mig_tlv_size(sizeof(struct igbv_tlv_txq)));
}

static int igbv_load_cb(struct vfio_mig_engine *eng,
			const struct vfio_mig_record *rec, const void *payload,
			struct vfio_mig_parse_err *err)
{
	struct igbv_dev *igbv = eng_to_igbv(eng);
	struct igbv_load *load;
	int rc;

	/* The source makes one small record: anything else is not igbvf's */
	if (rec->type != VFIO_MIG_RECORD_FINAL ||
	    rec->flags & (VFIO_MIG_RECORD_F_DELTA | VFIO_MIG_RECORD_F_MORE)) {
		err->offset = 0;
		err->what = "not a full final image in one record";
		return -EINVAL;
	}
	load = kzalloc(sizeof(*load), GFP_KERNEL);
	if (!load)
		return -ENOMEM;
	rc = vfio_mig_tlv_parse(&igbv_tlv_set, rec, payload, load, err);
	if (!rc && (!load->config || !load->pf_seen || !load->mbx ||
		    !load->irq ||
		    load->rxq_seen != GENMASK(IGBV_NQUEUES - 1, 0) ||
		    load->txq_seen != GENMASK(IGBV_NQUEUES - 1, 0))) {
		rc = -EINVAL;
		err->offset = 0;
		err->what = "a queue or the device state missing";
	}
	if (!rc) {
		igbv_lock(igbv);
		igbv->saved = load->regs;
		igbv->saved_pf = load->pf;
		igbv->staged = false;
		mutex_unlock(&igbv->lock);
	}
	kfree(load);
	return rc;
}

static int igbv_load_end(struct vfio_mig_engine *eng, bool commit)
{
	struct igbv_dev *igbv = eng_to_igbv(eng);
	int rc = 0;

	igbv_lock(igbv);
	if (commit) {
		/* The PF's part first: its reset reply lands in the mailbox */
		rc = igb_vf_mig_restore(igbv->core.pdev, &igbv->saved_pf);
		if (!rc)
			rc = igbv_restore(igbv, &igbv->saved);
		igbv->staged = !rc;
	}
	mutex_unlock(&igbv->lock);
	return rc;
}

/*
 * The engine's reset (VFIO_DEVICE_RESET, a hot reset, close), under its
 * lock: the VF runs again, nothing staged; the shadow is taken anew
 * (igbv_lock() catches up with the reset, which reset_done counted,
 * reporting what the old shadow gave the device)
 */
static void igbv_engine_reset(struct vfio_mig_engine *eng)
{
	struct igbv_dev *igbv = eng_to_igbv(eng);

	igbv_lock(igbv);
	igbv->run = VFIO_MIG_RUN;
	igbv->staged = false;
	mutex_unlock(&igbv->lock);
}

static const struct vfio_mig_engine_ops igbv_engine_ops = {
	.owner = THIS_MODULE,
	.set_run = igbv_set_run,
	.save = igbv_save_cb,
	.dirty = igbv_dirty,
	.data_size = igbv_data_size,
	.load = igbv_load_cb,
	.load_end = igbv_load_end,
	.reset = igbv_engine_reset,
};

static struct file *igbv_set_state(struct vfio_device *vdev,
				   enum vfio_device_mig_state new_state)
{
	return vfio_mig_engine_set_state(&to_igbv(vdev)->eng, new_state);
}

static int igbv_get_state(struct vfio_device *vdev,
			  enum vfio_device_mig_state *state)
{
	return vfio_mig_engine_get_state(&to_igbv(vdev)->eng, state);
}

static int igbv_get_data_size(struct vfio_device *vdev,
			      unsigned long *stop_copy_length)
{
	return vfio_mig_engine_data_size(&to_igbv(vdev)->eng,
					 stop_copy_length);
}

static const struct vfio_migration_ops igbv_mig_ops = {
	.migration_set_state = igbv_set_state,
	.migration_get_state = igbv_get_state,
	.migration_get_data_size = igbv_get_data_size,
};

/* Device ops */
struct igbv_reset_args {
	unsigned int cmd;
	unsigned long arg;
};

/*
 * VFIO_DEVICE_RESET or a hot reset, through vfio_mig_engine_reset_device():
 * arcs wait it out, and the engine is reset with it (igbv_engine_reset())
 * before any can run.  Other VFs a hot reset takes along learn of it from
 * reset_done (igbv_lock() catches up); their engines are not reset.
 */
static int igbv_pci_reset(struct vfio_mig_engine *eng, void *arg)
{
	struct igbv_reset_args *a = arg;

	return vfio_pci_core_ioctl(&eng_to_igbv(eng)->core.vdev, a->cmd,
				   a->arg);
}

static int igbv_open_device(struct vfio_device *vdev)
{
	struct igbv_dev *igbv = to_igbv(vdev);
	int rc;

	rc = vfio_pci_core_enable(&igbv->core);
	if (rc)
		return rc;
	rc = vfio_pci_core_setup_barmap(&igbv->core, 0);
	if (!rc)
		rc = igbv_open(igbv);
	if (rc) {
		vfio_pci_core_disable(&igbv->core);
		return rc;
	}
	vfio_pci_core_finish_enable(&igbv->core);
	return 0;
}

static void igbv_close_device(struct vfio_device *vdev)
{
	struct igbv_dev *igbv = to_igbv(vdev);

	vfio_mig_engine_reset(&igbv->eng);
	igbv_close(igbv);
	vfio_pci_core_close_device(vdev);
}

/*
 * BAR0 is trapped: no mmap, so every access reaches igbv_rw().  BAR3 (the
 * MSI-X table and PBA, nothing else) is not mmap'able either: QEMU 10
 * would map the part of it after the 48-byte table as RAM, with a start
 * that is not page aligned, and its dirty log sync then asks for a bitmap
 * of a length that is not a multiple of the page size, which iommufd
 * refuses (EINVAL, and the migration fails).  Trapped, it is no RAM
 * section and nothing asks.
 */
static int igbv_bar_info(struct igbv_dev *igbv, u32 index, void __user *arg)
{
	struct vfio_region_info info = {};
	size_t minsz = offsetofend(struct vfio_region_info, offset);

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	info.offset = VFIO_PCI_INDEX_TO_OFFSET(index);
	info.size = pci_resource_len(igbv->core.pdev, index);
	info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	info.cap_offset = 0;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long igbv_ioctl(struct vfio_device *vdev, unsigned int cmd,
		       unsigned long arg)
{
	struct igbv_dev *igbv = to_igbv(vdev);
	struct vfio_region_info info;

	switch (cmd) {
	case VFIO_DEVICE_GET_REGION_INFO:
		if (copy_from_user(&info, (void __user *)arg,
				   offsetofend(struct vfio_region_info, index)))
			return -EFAULT;
		if (info.index == VFIO_PCI_BAR0_REGION_INDEX ||
		    info.index == VFIO_PCI_BAR3_REGION_INDEX)
			return igbv_bar_info(igbv, info.index,
					     (void __user *)arg);
		break;
	case VFIO_DEVICE_IOEVENTFD:
		/* It would write BAR0 behind the driver's back */
		return -ENOTTY;
	case VFIO_DEVICE_RESET:
	case VFIO_DEVICE_PCI_HOT_RESET: {
		struct igbv_reset_args a = { .cmd = cmd, .arg = arg };

		return vfio_mig_engine_reset_device(&igbv->eng, igbv_pci_reset,
						    &a);
	}
	}
	return vfio_pci_core_ioctl(vdev, cmd, arg);
}

static ssize_t igbv_rw(struct igbv_dev *igbv, char __user *buf, size_t count,
		       loff_t *ppos, bool write)
{
	u64 off = *ppos & VFIO_PCI_OFFSET_MASK;
	u32 val;
	int rc;

	/* The VF's registers are 4 bytes wide, and so are QEMU's accesses */
	if (count != 4 || off % 4 || off >= pci_resource_len(igbv->core.pdev, 0))
		return -EINVAL;
	if (write) {
		if (copy_from_user(&val, buf, 4))
			return -EFAULT;
		rc = igbv_bar0_write(igbv, off, le32_to_cpu((__force __le32)val));
	} else {
		rc = igbv_bar0_read(igbv, off, &val);
		if (!rc) {
			__le32 le = cpu_to_le32(val);

			if (copy_to_user(buf, &le, 4))
				return -EFAULT;
		}
	}
	if (rc)
		return rc;
	*ppos += 4;
	return 4;
}

static ssize_t igbv_read(struct vfio_device *vdev, char __user *buf,
			 size_t count, loff_t *ppos)
{
	if (VFIO_PCI_OFFSET_TO_INDEX(*ppos) == VFIO_PCI_BAR0_REGION_INDEX)
		return igbv_rw(to_igbv(vdev), buf, count, ppos, false);
	return vfio_pci_core_read(vdev, buf, count, ppos);
}

static ssize_t igbv_write(struct vfio_device *vdev, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	if (VFIO_PCI_OFFSET_TO_INDEX(*ppos) == VFIO_PCI_BAR0_REGION_INDEX)
		return igbv_rw(to_igbv(vdev), (char __user *)buf, count, ppos,
			       true);
	return vfio_pci_core_write(vdev, buf, count, ppos);
}

static int igbv_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	u64 index = vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);

	if (index == VFIO_PCI_BAR0_REGION_INDEX ||
	    index == VFIO_PCI_BAR3_REGION_INDEX)
		return -EINVAL;
	return vfio_pci_core_mmap(vdev, vma);
}

static int igbv_bind_iommufd(struct vfio_device *vdev,
			     struct iommufd_ctx *ictx, u32 *out_device_id)
{
	enum iommufd_dirty_source src = IOMMUFD_DIRTY_SOURCE_REPORTS_ALL_DMA;
	struct igbv_dev *igbv = to_igbv(vdev);
	int rc;

	rc = vfio_iommufd_physical_bind(vdev, ictx, out_device_id);
	if (rc)
		return rc;
	/* Before userspace can ask GET_HW_INFO whether it may track */
	igbv->reports = READ_ONCE(dma_reports);
	if (igbv->reports) {
		rc = iommufd_device_dirty_declare(vdev->iommufd_device, src);
		if (rc) {
			vfio_iommufd_physical_unbind(vdev);
			return rc;
		}
	}
	return 0;
}

/*
 * Replacing or dropping the IOAS: the device's writes from now on land in
 * another log or none, so everything it may write with what it was given
 * is reported to the old one first, and to the new one after.
 */
static int igbv_attach_ioas(struct vfio_device *vdev, u32 *pt_id)
{
	struct igbv_dev *igbv = to_igbv(vdev);
	int rc;

	igbv_lock(igbv);
	igbv_report_owned(igbv);
	mutex_unlock(&igbv->lock);
	rc = vfio_iommufd_physical_attach_ioas(vdev, pt_id);
	igbv_lock(igbv);
	igbv_report_owned(igbv);
	mutex_unlock(&igbv->lock);
	return rc;
}

static void igbv_detach_ioas(struct vfio_device *vdev)
{
	struct igbv_dev *igbv = to_igbv(vdev);

	igbv_lock(igbv);
	igbv_report_owned(igbv);
	mutex_unlock(&igbv->lock);
	vfio_iommufd_physical_detach_ioas(vdev);
}

static int igbv_init_dev(struct vfio_device *vdev)
{
	struct igbv_dev *igbv = to_igbv(vdev);
	int rc;

	rc = vfio_pci_core_init_dev(vdev);
	if (rc)
		return rc;
	mutex_init(&igbv->lock);
	vfio_mig_engine_init(&igbv->eng, vdev, &igbv_engine_ops,
			     IGBV_PAYLOAD_MAX);
	vdev->mig_ops = &igbv_mig_ops;
	vdev->migration_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P;
	return 0;
}

static void igbv_release_dev(struct vfio_device *vdev)
{
	mutex_destroy(&to_igbv(vdev)->lock);
	vfio_pci_core_release_dev(vdev);
}

static const struct vfio_device_ops igbv_ops = {
	.name = "igb-vfio-pci",
	.init = igbv_init_dev,
	.release = igbv_release_dev,
	.open_device = igbv_open_device,
	.close_device = igbv_close_device,
	.ioctl = igbv_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = igbv_read,
	.write = igbv_write,
	.mmap = igbv_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	.bind_iommufd = igbv_bind_iommufd,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = igbv_attach_ioas,
	.detach_ioas = igbv_detach_ioas,
};

static int igbv_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct igbv_dev *igbv;
	int rc;

	igbv = vfio_alloc_device(igbv_dev, core.vdev, &pdev->dev, &igbv_ops);
	if (IS_ERR(igbv))
		return PTR_ERR(igbv);
	dev_set_drvdata(&pdev->dev, &igbv->core);
	rc = vfio_pci_core_register_device(&igbv->core);
	if (rc)
		goto err_put;
	rc = vfio_mig_engine_sysfs_add(&igbv->eng);
	if (rc)
		goto err_unregister;
	return 0;

err_unregister:
	vfio_pci_core_unregister_device(&igbv->core);
err_put:
	vfio_put_device(&igbv->core.vdev);
	return rc;
}

static void igbv_remove(struct pci_dev *pdev)
{
	struct igbv_dev *igbv = container_of(dev_get_drvdata(&pdev->dev),
					     struct igbv_dev, core);

	vfio_mig_engine_exit(&igbv->eng);
	vfio_pci_core_unregister_device(&igbv->core);
	vfio_put_device(&igbv->core.vdev);
}

/*
 * QEMU's model only (subsystem 1af4:1100): the driver relies on its
 * ordering (the receive head moves after the write-back) and on a queue
 * stopping as soon as its enable bit clears, which the 82576 itself, with
 * descriptor prefetch and write-back batching, does not promise.
 */
static const struct pci_device_id igbv_ids[] = {
	{
		PCI_DEVICE_SUB(IGBV_VENDOR, IGBV_DEVICE,
			       PCI_SUBVENDOR_ID_REDHAT_QUMRANET,
			       PCI_SUBDEVICE_ID_QEMU),
		.override_only = PCI_ID_F_VFIO_DRIVER_OVERRIDE,
	},
	{}
};
MODULE_DEVICE_TABLE(pci, igbv_ids);

/* Resets the driver does not start: counted, caught up with later */
static void igbv_reset_count(struct pci_dev *pdev)
{
	struct igbv_dev *igbv = container_of(dev_get_drvdata(&pdev->dev),
					     struct igbv_dev, core);

	atomic_inc(&igbv->resets);
}

static const struct pci_error_handlers igbv_err_handlers = {
	.reset_prepare = igbv_reset_count,
	.reset_done = igbv_reset_count,
	.error_detected = vfio_pci_core_aer_err_detected,
};

static struct pci_driver igbv_driver = {
	.name = KBUILD_MODNAME,
	.id_table = igbv_ids,
	.probe = igbv_probe,
	.remove = igbv_remove,
	.err_handler = &igbv_err_handlers,
	.driver_managed_dma = true,
};
module_pci_driver(igbv_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO variant driver for Intel 82576 VFs: migration and DMA reports for dirty tracking");
MODULE_IMPORT_NS(IOMMUFD);
