// SPDX-License-Identifier: GPL-2.0
/*
 * vfsim: a software VF for live-migration tests.
 *
 * An mdev that QEMU attaches like an SR-IOV VF (vfio-pci, through its
 * iommufd backend), with what makes a VF hard to migrate:
 *
 * - a DMA engine: a worker that, while the device runs, writes records
 *   (struct vfsim_record, one per 4 KiB page, numbered and checksummed)
 *   into a window of guest memory through vfio_dma_rw(), so iommufd's
 *   access path logs them; driven by the guest through BAR0 or, with no
 *   guest driver, by the "traffic" file in sysfs;
 * - a device context (4 MiB by default, up to 256 MiB) that changes at a
 *   configured rate while the device runs, standing for a VF's queue,
 *   flow and filter state;
 * - migration through lowdown's engine (mig_engine.c): STOP_COPY, P2P and
 *   PRE_COPY with the rate limiter, the context as block TLVs
 *   (mig_blocks.c), the registers and the DMA engine's position in a state
 *   TLV, so that the destination goes on with the next record number, and
 *   what the device still owes (doorbell records, the rates' remainders,
 *   the INTx mask) in a pending TLV, so that nothing asked of the source is
 *   lost;
 * - VFIO DMA logging through iommufd's access log (access_log.c).
 * Each capability can be switched off in sysfs, for ablations.
 *
 * The PCI function: 1af4:10f5 (see vfsim.h), class ff, a 256-byte config
 * space without capabilities, BAR0 (4 KiB of registers, read and write
 * through the region), INTx pin A.  Documentation/lowdown/vfsim.rst has
 * the register set and the knobs.
 *
 * Locking: vfsim::lock protects the registers, the config space, the
 * traffic settings, the context and the counters; the DMA worker holds it
 * while it writes, so once set_run() has taken it to stop the device, no
 * DMA and no context change follows.  Engine callbacks run under the
 * engine's state lock and take vfsim::lock: state lock first.
 */
#include <linux/crc32.h>
#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/ktime.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci_regs.h>
#include <linux/random.h>
#include <linux/math64.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <linux/vfio.h>
#include <linux/vfio_access_log.h>
#include <linux/vfio_mig_blocks.h>
#include <linux/vfio_mig_engine.h>
#include <linux/workqueue.h>

#include "vfsim.h"
#include "../test_mdev.h"

#define VFSIM_CONFIG_SIZE 256
/* Region offsets in the device fd: the region index above this bit */
#define VFSIM_REGION_SHIFT 40
#define VFSIM_REGION(index) ((u64)(index) << VFSIM_REGION_SHIFT)
#define VFSIM_DEFAULT_CTX (4ULL << 20)
/* The context is the device's memory; an image is never whole in memory */
#define VFSIM_MAX_CTX SZ_1G
/* The worker's period, and the most records it writes in one period */
#define VFSIM_TICK_MS 10
#define VFSIM_MAX_BURST 256

struct vfsim {
	struct vfio_device vdev;
	struct vfio_mig_engine eng;
	/* Protects everything below */
	struct mutex lock;
	enum vfio_mig_run run;
	bool open;
	u8 config[VFSIM_CONFIG_SIZE];
	/* BAR0 */
	u32 ctrl;
	u32 status;
	u32 rate;
	u32 qsize;
	u64 qbase;
	u32 pattern;
	u32 hot;
	u64 seq;
	u64 pos;
	u64 doorbell;
	/* The context */
	struct vfio_mig_blocks ctx;
	u64 churn;
	/* The churn writes the context's first churn_span bytes; 0: all */
	u64 churn_span;
	/* Sub-unit remainders of the rates, carried between ticks */
	u64 rate_ns;
	u64 churn_ns;
	u64 last_tick_ns;
	/* Counters */
	u64 records;
	u64 dma_errors;
	/* Loading: the registers and debts of the last record that had them */
	struct vfsim_tlv_state staged;
	struct vfsim_tlv_pending staged_pending;
	/*
	 * The image being saved still has its pending TLV to carry; the
	 * registers and debts it carries, taken when it started, so that an
	 * image of several records is one snapshot of them
	 */
	bool save_tail;
	struct vfsim_tlv_state save_st;
	struct vfsim_tlv_pending save_pend;
	/* The image being loaded carried a state, a pending TLV so far */
	bool image_state;
	bool image_pending;
	/* Traffic was set in sysfs: a reset keeps it going */
	bool sysfs_traffic;
	/* Capabilities, for ablations: set while the device is not open */
	bool precopy;
	bool p2p;
	bool dma_logging;
	/* INTx: the eventfd and its auto-mask */
	struct eventfd_ctx *intx;
	bool intx_masked;
	/* Migrated in masked: signal again when the device runs */
	bool intx_resend;
	struct delayed_work work;
	struct vfsim_record *rec;
};

static struct test_mdev_parent vfsim_parent;

static struct vfsim *to_vfsim(struct vfio_device *vdev)
{
	return container_of(vdev, struct vfsim, vdev);
}

static struct vfsim *eng_to_vfsim(struct vfio_mig_engine *eng)
{
	return container_of(eng, struct vfsim, eng);
}

static void vfsim_config_init(struct vfsim *vf)
{
	u8 *c = vf->config;

	memset(c, 0, sizeof(vf->config));
	put_unaligned_le16(VFSIM_VENDOR_ID, c + PCI_VENDOR_ID);
	put_unaligned_le16(VFSIM_DEVICE_ID, c + PCI_DEVICE_ID);
	put_unaligned_le16(VFSIM_VENDOR_ID, c + PCI_SUBSYSTEM_VENDOR_ID);
	put_unaligned_le16(VFSIM_DEVICE_ID, c + PCI_SUBSYSTEM_ID);
	put_unaligned_le32(VFSIM_CLASS << 8 | 1, c + PCI_CLASS_REVISION);
	c[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	/* BAR0: 32-bit non-prefetchable memory, all other BARs absent */
	c[PCI_INTERRUPT_PIN] = 1;
}

/* Is the DMA engine to run?  lock held */
static bool vfsim_dma_on(struct vfsim *vf)
{
	return vf->run == VFIO_MIG_RUN && vf->qsize &&
	       ((vf->ctrl & VFSIM_CTRL_DMA && vf->rate) || vf->doorbell);
}

static bool vfsim_busy(struct vfsim *vf)
{
	return vf->open && vf->run == VFIO_MIG_RUN &&
	       (vfsim_dma_on(vf) || vf->churn);
}

/* Signal INTx unless masked; it masks itself until unmasked.  lock held */
static void vfsim_intx(struct vfsim *vf)
{
	if (!(vf->ctrl & VFSIM_CTRL_IRQ) || !(vf->status & VFSIM_STATUS_IRQ) ||
	    !vf->intx || vf->intx_masked ||
	    vf->config[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8))
		return;
	vf->intx_masked = true;
	eventfd_signal(vf->intx);
}

/* The page the next record goes to; lock held */
static u64 vfsim_next_page(struct vfsim *vf)
{
	u64 page;

	switch (vf->pattern) {
	case VFSIM_PATTERN_RANDOM:
		return get_random_u64() % vf->qsize;
	case VFSIM_PATTERN_HOT:
		return get_random_u64() % clamp_t(u64, vf->hot, 1, vf->qsize);
	default:
		page = vf->pos % vf->qsize;
		vf->pos = page + 1;
		return page;
	}
}

/* Write one record; lock held.  Return: 0 or the vfio_dma_rw() error. */
static int vfsim_write_record(struct vfsim *vf)
{
	struct vfsim_record *rec = vf->rec;
	u64 iova = vf->qbase + vfsim_next_page(vf) * VFSIM_PAGE;
	u64 seq = vf->seq;
	int i, rc;

	rec->magic = cpu_to_le32(VFSIM_RECORD_MAGIC);
	rec->crc = 0;
	rec->seq = cpu_to_le64(seq);
	rec->iova = cpu_to_le64(iova);
	for (i = 0; i < sizeof(rec->data); i++)
		rec->data[i] = seq * 131 + i;
	rec->crc = cpu_to_le32(~crc32_le(~0, (u8 *)rec, sizeof(*rec)));
	rc = vfio_dma_rw(&vf->vdev, iova, rec, sizeof(*rec), true);
	if (rc)
		return rc;
	vf->seq++;
	vf->records++;
	return 0;
}

/* Change the context at the churn rate; lock held */
static void vfsim_churn(struct vfsim *vf, u64 elapsed_ns)
{
	u64 bytes, off, span = vf->ctx.size;

	if (vf->churn_span)
		span = min(span, vf->churn_span);
	vf->churn_ns += min_t(u64, elapsed_ns, NSEC_PER_SEC);
	bytes = mul_u64_u64_div_u64(vf->churn, vf->churn_ns, NSEC_PER_SEC);
	if (!bytes)
		return;
	vf->churn_ns -= div_u64(bytes * NSEC_PER_SEC, vf->churn);
	while (bytes) {
		u64 n = min3(bytes, 256ULL, span);

		off = get_random_u64() % (span - n + 1);
		get_random_bytes(vf->ctx.data + off, n);
		vfio_mig_blocks_wrote(&vf->ctx, off, n);
		bytes -= n;
	}
	vfio_mig_engine_changed(&vf->eng);
}

static void vfsim_work(struct work_struct *work)
{
	struct vfsim *vf = container_of(to_delayed_work(work), struct vfsim,
					work);
	u64 now = ktime_get_ns(), elapsed, n = 0, bell;
	int rc = 0;

	mutex_lock(&vf->lock);
	elapsed = now - vf->last_tick_ns;
	vf->last_tick_ns = now;
	/* Closed, the device has no access to write through */
	if (!vf->open || vf->run != VFIO_MIG_RUN)
		goto out;

	if (vf->churn)
		vfsim_churn(vf, elapsed);
	if (vfsim_dma_on(vf)) {
		if (vf->ctrl & VFSIM_CTRL_DMA && vf->rate) {
			/*
			 * At most a second's worth at a time; what is left
			 * towards the next record stays (under 1e9 / rate ns)
			 */
			vf->rate_ns += min_t(u64, elapsed, NSEC_PER_SEC);
			n = mul_u64_u64_div_u64(vf->rate, vf->rate_ns,
						NSEC_PER_SEC);
			vf->rate_ns -= div_u64(n * NSEC_PER_SEC, vf->rate);
		}
		/* Doorbell records get at least half a burst */
		bell = min_t(u64, vf->doorbell,
			     VFSIM_MAX_BURST - min_t(u64, n, VFSIM_MAX_BURST / 2));
		n = min_t(u64, n, VFSIM_MAX_BURST - bell);
		vf->doorbell -= bell;
		n += bell;
		while (n-- && !rc)
			rc = vfsim_write_record(vf);
		if (rc) {
			/* An unmapped window: stop, as a VF gets a fault */
			vf->status |= VFSIM_STATUS_ERROR;
			vf->ctrl &= ~VFSIM_CTRL_DMA;
			vf->doorbell = 0;
			vf->dma_errors++;
		} else {
			vf->status |= VFSIM_STATUS_IRQ;
			vfsim_intx(vf);
		}
	}
out:
	if (vfsim_busy(vf))
		schedule_delayed_work(&vf->work,
				      msecs_to_jiffies(VFSIM_TICK_MS));
	mutex_unlock(&vf->lock);
}

/* Start the worker if there is work; lock held */
static void vfsim_kick(struct vfsim *vf)
{
	if (vfsim_busy(vf) && !delayed_work_pending(&vf->work)) {
		vf->last_tick_ns = ktime_get_ns();
		schedule_delayed_work(&vf->work, 0);
	}
}

/* Engine callbacks */

static int vfsim_set_run(struct vfio_mig_engine *eng, enum vfio_mig_run run)
{
	struct vfsim *vf = eng_to_vfsim(eng);

	/* Taking the lock waits out a worker that is writing */
	mutex_lock(&vf->lock);
	vf->run = run;
	if (run == VFIO_MIG_RUN) {
		if (vf->intx_resend) {
			vf->intx_resend = false;
			vfsim_intx(vf);
		}
		vfsim_kick(vf);
	}
	mutex_unlock(&vf->lock);
	return 0;
}

static void vfsim_state_get(struct vfsim *vf, struct vfsim_tlv_state *st)
{
	*st = (struct vfsim_tlv_state){
		.ctrl = cpu_to_le32(vf->ctrl),
		.status = cpu_to_le32(vf->status),
		.rate = cpu_to_le32(vf->rate),
		.qsize = cpu_to_le32(vf->qsize),
		.qbase = cpu_to_le64(vf->qbase),
		.seq = cpu_to_le64(vf->seq),
		.pattern = cpu_to_le32(vf->pattern),
		.hot = cpu_to_le32(vf->hot),
		.pos = cpu_to_le64(vf->pos),
	};
}

static void vfsim_pending_get(struct vfsim *vf, struct vfsim_tlv_pending *p)
{
	*p = (struct vfsim_tlv_pending){
		.doorbell = cpu_to_le64(vf->doorbell),
		.rate_ns = cpu_to_le64(vf->rate_ns),
		.churn_ns = cpu_to_le64(vf->churn_ns),
		/* Outstanding: signalled, or migrated in and not signalled yet */
		.flags = cpu_to_le32(vf->intx_masked || vf->intx_resend ?
				     VFSIM_PENDING_INTX_MASKED : 0),
	};
}

/*
 * An image is the configuration (full images), the registers (not in a
 * delta), the blocks, and what is pending (not in a delta), in that TLV
 * order, over as many records as the blocks take
 */
static int vfsim_save(struct vfio_mig_engine *eng, u8 type, bool delta_ok,
		      struct vfio_mig_buf *buf, u8 *flags)
{
	struct vfsim *vf = eng_to_vfsim(eng);
	bool full = type == VFIO_MIG_RECORD_INITIAL ||
		    (type == VFIO_MIG_RECORD_FINAL && !delta_ok);
	bool start = !(*flags & VFIO_MIG_RECORD_F_MORE);
	struct vfsim_tlv_config cfg = {
		.ctx_size = cpu_to_le64(vf->ctx.size),
		.block = cpu_to_le32(VFIO_MIG_BLOCK),
	};
	int rc = 0, more;

	mutex_lock(&vf->lock);
	if (start) {
		vfsim_state_get(vf, &vf->save_st);
		vfsim_pending_get(vf, &vf->save_pend);
	}
	if (full && start)
		rc = vfio_mig_buf_put_tlv(buf, VFSIM_TLV_CONFIG,
					  VFIO_MIG_TLV_F_REQUIRED, &cfg,
					  sizeof(cfg));
	else if (!full && type == VFIO_MIG_RECORD_FINAL)
		*flags |= VFIO_MIG_RECORD_F_DELTA;
	/* The registers only mean something in the first and last image */
	if (!rc && start && type != VFIO_MIG_RECORD_DELTA)
		rc = vfio_mig_buf_put_tlv(buf, VFSIM_TLV_STATE,
					  VFIO_MIG_TLV_F_REQUIRED, &vf->save_st,
					  sizeof(vf->save_st));
	if (rc)
		goto out;
	more = vfio_mig_blocks_save(&vf->ctx, buf, VFSIM_TLV_BLOCK, full,
				    start);
	*flags |= VFIO_MIG_RECORD_F_MORE;
	vf->save_tail = type != VFIO_MIG_RECORD_DELTA;
	if (!more && vf->save_tail) {
		/* Blocks (3) first: TLVs go in ascending type order */
		rc = vfio_mig_buf_put_tlv(buf, VFSIM_TLV_PENDING,
					  VFIO_MIG_TLV_F_REQUIRED,
					  &vf->save_pend,
					  sizeof(vf->save_pend));
		/* No room left: it goes alone in the image's last record */
		if (rc == -EFBIG) {
			rc = 0;
		} else if (!rc) {
			*flags &= ~VFIO_MIG_RECORD_F_MORE;
			vf->save_tail = false;
		}
	} else if (!more) {
		*flags &= ~VFIO_MIG_RECORD_F_MORE;
	}
	/* The engine calls save_end only for a save that worked */
	if (rc)
		vfio_mig_blocks_save_end(&vf->ctx, false);
out:
	mutex_unlock(&vf->lock);
	return rc;
}

static void vfsim_save_end(struct vfio_mig_engine *eng, bool commit)
{
	struct vfsim *vf = eng_to_vfsim(eng);

	mutex_lock(&vf->lock);
	vfio_mig_blocks_save_end(&vf->ctx, commit);
	mutex_unlock(&vf->lock);
}

static void vfsim_dirty(struct vfio_mig_engine *eng, struct vfio_mig_dirty *d)
{
	struct vfsim *vf = eng_to_vfsim(eng);

	mutex_lock(&vf->lock);
	vfio_mig_blocks_dirty(&vf->ctx, d);
	if (vf->save_tail)
		d->rest += vfio_mig_tlv_size(sizeof(struct vfsim_tlv_pending));
	mutex_unlock(&vf->lock);
}

/* A FINAL image: the whole context, or with @delta_ok its dirty blocks */
static u64 vfsim_data_size(struct vfio_mig_engine *eng, bool delta_ok)
{
	struct vfsim *vf = eng_to_vfsim(eng);
	u64 size;

	mutex_lock(&vf->lock);
	size = vfio_mig_tlv_size(sizeof(struct vfsim_tlv_config)) +
	       vfio_mig_tlv_size(sizeof(struct vfsim_tlv_state)) +
	       vfio_mig_tlv_size(sizeof(struct vfsim_tlv_pending)) +
	       (delta_ok ? vf->ctx.ndirty : vf->ctx.size / VFIO_MIG_BLOCK) *
	       vfio_mig_tlv_size(VFIO_MIG_BLOCK_TLV_LEN);
	mutex_unlock(&vf->lock);
	return size;
}

/* A record being loaded */
struct vfsim_load {
	struct vfsim *vf;
	bool state_seen;
	bool pending_seen;
	struct vfsim_tlv_state st;
	struct vfsim_tlv_pending pend;
};

static int vfsim_load_config(void *priv, u16 type, const void *value,
			     u32 length)
{
	struct vfsim_load *load = priv;
	struct vfsim_tlv_config cfg;

	memcpy(&cfg, value, sizeof(cfg));
	/* Another configuration: refuse rather than guess */
	if (le64_to_cpu(cfg.ctx_size) != load->vf->ctx.size ||
	    le32_to_cpu(cfg.block) != VFIO_MIG_BLOCK || cfg.reserved)
		return -EINVAL;
	return 0;
}

static int vfsim_load_state(void *priv, u16 type, const void *value,
			    u32 length)
{
	struct vfsim_load *load = priv;

	memcpy(&load->st, value, sizeof(load->st));
	if (le32_to_cpu(load->st.pattern) > VFSIM_PATTERN_HOT ||
	    le64_to_cpu(load->st.qbase) % VFSIM_PAGE)
		return -EINVAL;
	load->state_seen = true;
	return 0;
}

static int vfsim_load_pending(void *priv, u16 type, const void *value,
			      u32 length)
{
	struct vfsim_load *load = priv;

	memcpy(&load->pend, value, sizeof(load->pend));
	/* Remainders are under a second: anything else is not from a vfsim */
	if (le32_to_cpu(load->pend.flags) & ~VFSIM_PENDING_INTX_MASKED ||
	    load->pend.reserved ||
	    le64_to_cpu(load->pend.rate_ns) >= NSEC_PER_SEC ||
	    le64_to_cpu(load->pend.churn_ns) >= NSEC_PER_SEC)
		return -EINVAL;
	load->pending_seen = true;
	return 0;
}

static int vfsim_load_block(void *priv, u16 type, const void *value,
			    u32 length)
{
	struct vfsim_load *load = priv;

	return vfio_mig_blocks_consume(&load->vf->ctx, value, length);
}

static const struct vfio_mig_tlv_desc vfsim_tlvs[] = {
	{
		.type = VFSIM_TLV_CONFIG,
		.flags = VFIO_MIG_TLV_DESC_IN_FULL,
		.min_len = sizeof(struct vfsim_tlv_config),
		.max_len = sizeof(struct vfsim_tlv_config),
		.consume = vfsim_load_config,
	},
	{
		.type = VFSIM_TLV_STATE,
		.flags = VFIO_MIG_TLV_DESC_IN_FULL,
		.min_len = sizeof(struct vfsim_tlv_state),
		.max_len = sizeof(struct vfsim_tlv_state),
		.consume = vfsim_load_state,
	},
	{
		.type = VFSIM_TLV_BLOCK,
		.flags = VFIO_MIG_TLV_DESC_REPEAT,
		.min_len = VFIO_MIG_BLOCK_TLV_LEN,
		.max_len = VFIO_MIG_BLOCK_TLV_LEN,
		.consume = vfsim_load_block,
	},
	{
		.type = VFSIM_TLV_PENDING,
		.flags = VFIO_MIG_TLV_DESC_IN_FULL,
		.min_len = sizeof(struct vfsim_tlv_pending),
		.max_len = sizeof(struct vfsim_tlv_pending),
		.consume = vfsim_load_pending,
	},
};

static const struct vfio_mig_tlv_set vfsim_tlv_set = {
	.descs = vfsim_tlvs,
	.ndescs = ARRAY_SIZE(vfsim_tlvs),
};

static int vfsim_load(struct vfio_mig_engine *eng,
		      const struct vfio_mig_record *rec, const void *payload,
		      struct vfio_mig_parse_err *err)
{
	struct vfsim *vf = eng_to_vfsim(eng);
	struct vfsim_load load = { .vf = vf };
	int rc;

	mutex_lock(&vf->lock);
	if (rec->first) {
		vf->image_state = false;
		vf->image_pending = false;
	}
	rc = vfio_mig_blocks_load_begin(&vf->ctx, rec);
	if (!rc)
		rc = vfio_mig_tlv_parse(&vfsim_tlv_set, rec, payload, &load,
					err);
	if (!rc)
		rc = vfio_mig_blocks_load_end(&vf->ctx, rec, err);
	if (!rc) {
		vf->image_state |= load.state_seen;
		vf->image_pending |= load.pending_seen;
	}
	if (!rc && rec->type == VFIO_MIG_RECORD_FINAL &&
	    !(rec->flags & VFIO_MIG_RECORD_F_MORE) &&
	    (!vf->image_state || !vf->image_pending)) {
		rc = -EINVAL;
		err->offset = 0;
		err->what = "final image without the device state";
	}
	if (!rc && load.state_seen)
		vf->staged = load.st;
	if (!rc && load.pending_seen)
		vf->staged_pending = load.pend;
	mutex_unlock(&vf->lock);
	return rc;
}

static int vfsim_load_end(struct vfio_mig_engine *eng, bool commit)
{
	struct vfsim *vf = eng_to_vfsim(eng);
	struct vfsim_tlv_state *st = &vf->staged;
	int rc = 0;

	mutex_lock(&vf->lock);
	if (!commit) {
		vfio_mig_blocks_abort(&vf->ctx);
		goto out;
	}
	rc = vfio_mig_blocks_commit(&vf->ctx);
	if (rc)
		goto out;
	vf->ctrl = le32_to_cpu(st->ctrl);
	vf->status = le32_to_cpu(st->status);
	vf->rate = le32_to_cpu(st->rate);
	vf->qsize = le32_to_cpu(st->qsize);
	vf->qbase = le64_to_cpu(st->qbase);
	vf->seq = le64_to_cpu(st->seq);
	vf->pattern = le32_to_cpu(st->pattern);
	vf->hot = le32_to_cpu(st->hot);
	vf->pos = le64_to_cpu(st->pos);
	vf->doorbell = le64_to_cpu(vf->staged_pending.doorbell);
	vf->rate_ns = le64_to_cpu(vf->staged_pending.rate_ns);
	vf->churn_ns = le64_to_cpu(vf->staged_pending.churn_ns);
	/*
	 * An interrupt the source signalled and the guest has not finished
	 * with: signalled again once the device runs (QEMU's INTx set-up on
	 * this side unmasked it; a second signal of a level interrupt is
	 * harmless, a lost one is not)
	 */
	vf->intx_masked = false;
	vf->intx_resend = le32_to_cpu(vf->staged_pending.flags) &
			  VFSIM_PENDING_INTX_MASKED;
out:
	mutex_unlock(&vf->lock);
	return rc;
}

static void vfsim_regs_reset(struct vfsim *vf);

/* A reset's migration side, under the engine's lock: power-on, running */
static void vfsim_engine_reset(struct vfio_mig_engine *eng)
{
	struct vfsim *vf = eng_to_vfsim(eng);

	mutex_lock(&vf->lock);
	vfsim_regs_reset(vf);
	vf->run = VFIO_MIG_RUN;
	vfsim_kick(vf);
	mutex_unlock(&vf->lock);
}

static const struct vfio_mig_engine_ops vfsim_engine_ops = {
	.owner = THIS_MODULE,
	.set_run = vfsim_set_run,
	.save = vfsim_save,
	.save_end = vfsim_save_end,
	.dirty = vfsim_dirty,
	.data_size = vfsim_data_size,
	.load = vfsim_load,
	.load_end = vfsim_load_end,
	.reset = vfsim_engine_reset,
};

static struct file *vfsim_set_state(struct vfio_device *vdev,
				    enum vfio_device_mig_state new_state)
{
	return vfio_mig_engine_set_state(&to_vfsim(vdev)->eng, new_state);
}

static int vfsim_get_state(struct vfio_device *vdev,
			   enum vfio_device_mig_state *state)
{
	return vfio_mig_engine_get_state(&to_vfsim(vdev)->eng, state);
}

static int vfsim_get_data_size(struct vfio_device *vdev,
			       unsigned long *stop_copy_length)
{
	return vfio_mig_engine_data_size(&to_vfsim(vdev)->eng,
					 stop_copy_length);
}

static const struct vfio_migration_ops vfsim_mig_ops = {
	.migration_set_state = vfsim_set_state,
	.migration_get_state = vfsim_get_state,
	.migration_get_data_size = vfsim_get_data_size,
};

/* Config space and BAR0 */

static void vfsim_config_write(struct vfsim *vf, u64 off, const u8 *val,
			       size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		u64 o = off + i;

		if (o == PCI_COMMAND || o == PCI_COMMAND + 1 ||
		    o == PCI_INTERRUPT_LINE)
			vf->config[o] = val[i];
		else if (o >= PCI_BASE_ADDRESS_0 && o < PCI_BASE_ADDRESS_0 + 4)
			/* A 4 KiB BAR: the low 12 bits are read only */
			vf->config[o] = o == PCI_BASE_ADDRESS_0 ? 0 :
					o == PCI_BASE_ADDRESS_0 + 1 ?
					val[i] & 0xf0 : val[i];
		/* Everything else, the ROM BAR included, is read only */
	}
}

static u32 vfsim_bar_read(struct vfsim *vf, u64 off)
{
	switch (off) {
	case VFSIM_REG_ID:
		return VFSIM_ID;
	case VFSIM_REG_CTRL:
		return vf->ctrl;
	case VFSIM_REG_STATUS:
		return vf->status | (vfsim_dma_on(vf) ? VFSIM_STATUS_ACTIVE : 0);
	case VFSIM_REG_RATE:
		return vf->rate;
	case VFSIM_REG_QBASE_LO:
		return lower_32_bits(vf->qbase);
	case VFSIM_REG_QBASE_HI:
		return upper_32_bits(vf->qbase);
	case VFSIM_REG_QSIZE:
		return vf->qsize;
	case VFSIM_REG_SEQ_LO:
		return lower_32_bits(vf->seq);
	case VFSIM_REG_SEQ_HI:
		return upper_32_bits(vf->seq);
	case VFSIM_REG_PATTERN:
		return vf->pattern;
	case VFSIM_REG_HOT:
		return vf->hot;
	default:
		return 0;
	}
}

static void vfsim_bar_write(struct vfsim *vf, u64 off, u32 val)
{
	switch (off) {
	case VFSIM_REG_CTRL:
		vf->ctrl = val & (VFSIM_CTRL_DMA | VFSIM_CTRL_IRQ);
		vf->sysfs_traffic = false;
		break;
	case VFSIM_REG_STATUS:
		vf->status &= ~val;
		break;
	case VFSIM_REG_RATE:
		vf->rate = val;
		break;
	case VFSIM_REG_QBASE_LO:
		vf->qbase = (vf->qbase & GENMASK_ULL(63, 32)) |
			    (val & ~(VFSIM_PAGE - 1));
		break;
	case VFSIM_REG_QBASE_HI:
		vf->qbase = lower_32_bits(vf->qbase) | (u64)val << 32;
		break;
	case VFSIM_REG_QSIZE:
		vf->qsize = val;
		vf->pos = 0;
		break;
	case VFSIM_REG_DOORBELL:
		vf->doorbell += val;
		break;
	case VFSIM_REG_PATTERN:
		if (val <= VFSIM_PATTERN_HOT)
			vf->pattern = val;
		break;
	case VFSIM_REG_HOT:
		vf->hot = val;
		break;
	}
	vfsim_kick(vf);
}

static ssize_t vfsim_rw(struct vfio_device *vdev, char *buf, size_t count,
			loff_t *ppos, bool write)
{
	struct vfsim *vf = to_vfsim(vdev);
	u64 index = *ppos >> VFSIM_REGION_SHIFT;
	u64 off = *ppos & (VFSIM_REGION(1) - 1);
	ssize_t rc = count;

	mutex_lock(&vf->lock);
	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		if (off >= VFSIM_CONFIG_SIZE ||
		    count > VFSIM_CONFIG_SIZE - off) {
			rc = -EINVAL;
		} else if (write) {
			vfsim_config_write(vf, off, buf, count);
		} else {
			memcpy(buf, vf->config + off, count);
		}
	} else if (index == VFIO_PCI_BAR0_REGION_INDEX) {
		/* Registers are 32 bits wide, accessed whole */
		if (count != 4 || off % 4 || off >= VFSIM_BAR0_SIZE)
			rc = -EINVAL;
		else if (write)
			vfsim_bar_write(vf, off, get_unaligned_le32(buf));
		else
			put_unaligned_le32(vfsim_bar_read(vf, off), buf);
	} else {
		rc = -EINVAL;
	}
	mutex_unlock(&vf->lock);
	return rc;
}

static ssize_t vfsim_read(struct vfio_device *vdev, char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	u8 buf[VFSIM_CONFIG_SIZE];
	ssize_t rc;

	if (count > sizeof(buf))
		return -EINVAL;
	rc = vfsim_rw(vdev, buf, count, ppos, false);
	if (rc > 0 && copy_to_user(ubuf, buf, rc))
		return -EFAULT;
	return rc;
}

static ssize_t vfsim_write(struct vfio_device *vdev, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	u8 buf[VFSIM_CONFIG_SIZE];

	if (count > sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	return vfsim_rw(vdev, buf, count, ppos, true);
}

/* ioctls */

static long vfsim_get_info(unsigned long arg)
{
	struct vfio_device_info info;
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static long vfsim_get_region_info(unsigned long arg)
{
	struct vfio_region_info info;
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	if (info.index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	info.offset = VFSIM_REGION(info.index);
	info.cap_offset = 0;
	info.flags = 0;
	info.size = 0;
	if (info.index == VFIO_PCI_CONFIG_REGION_INDEX)
		info.size = VFSIM_CONFIG_SIZE;
	else if (info.index == VFIO_PCI_BAR0_REGION_INDEX)
		info.size = VFSIM_BAR0_SIZE;
	if (info.size)
		info.flags = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static long vfsim_get_irq_info(unsigned long arg)
{
	struct vfio_irq_info info;
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	info.flags = 0;
	info.count = 0;
	if (info.index == VFIO_PCI_INTX_IRQ_INDEX) {
		info.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
			     VFIO_IRQ_INFO_AUTOMASKED;
		info.count = 1;
	}
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static long vfsim_set_irqs(struct vfsim *vf, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct eventfd_ctx *ctx = NULL;
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	s32 fd = -1;
	int rc;

	if (copy_from_user(&hdr, (void __user *)arg, minsz))
		return -EFAULT;
	rc = vfio_set_irqs_validate_and_prepare(&hdr, 1, VFIO_PCI_NUM_IRQS,
						&data_size);
	if (rc)
		return rc;
	if (hdr.index != VFIO_PCI_INTX_IRQ_INDEX)
		return -EINVAL;
	if (data_size) {
		if (copy_from_user(&fd, (void __user *)(arg + minsz),
				   sizeof(fd)))
			return -EFAULT;
	}

	switch (hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) {
	case VFIO_IRQ_SET_ACTION_TRIGGER:
		if ((hdr.flags & VFIO_IRQ_SET_DATA_EVENTFD) && fd >= 0) {
			ctx = eventfd_ctx_fdget(fd);
			if (IS_ERR(ctx))
				return PTR_ERR(ctx);
		}
		if (hdr.flags & VFIO_IRQ_SET_DATA_BOOL)
			return 0;
		/* An eventfd, or none (count 0, or fd -1): disabled */
		mutex_lock(&vf->lock);
		swap(vf->intx, ctx);
		vf->intx_masked = false;
		mutex_unlock(&vf->lock);
		if (ctx)
			eventfd_ctx_put(ctx);
		return 0;
	case VFIO_IRQ_SET_ACTION_MASK:
		mutex_lock(&vf->lock);
		vf->intx_masked = true;
		mutex_unlock(&vf->lock);
		return 0;
	case VFIO_IRQ_SET_ACTION_UNMASK:
		mutex_lock(&vf->lock);
		vf->intx_masked = false;
		vfsim_intx(vf);
		mutex_unlock(&vf->lock);
		return 0;
	}
	return -EINVAL;
}

/* Registers and DMA back to power-on; the context stays.  lock held */
static void vfsim_regs_reset(struct vfsim *vf)
{
	vf->ctrl &= vf->sysfs_traffic ? VFSIM_CTRL_DMA : 0;
	vf->status = 0;
	vf->doorbell = 0;
	vf->rate_ns = 0;
	vf->churn_ns = 0;
	vf->intx_resend = false;
	vf->config[PCI_COMMAND] = 0;
	vf->config[PCI_COMMAND + 1] = 0;
	vf->intx_masked = false;
}

/*
 * The engine resets and calls vfsim_engine_reset() under its lock, so no
 * STOP can come between the two
 */
static int vfsim_reset(struct vfsim *vf)
{
	vfio_mig_engine_reset(&vf->eng);
	return 0;
}

static long vfsim_ioctl(struct vfio_device *vdev, unsigned int cmd,
			unsigned long arg)
{
	struct vfsim *vf = to_vfsim(vdev);

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return vfsim_get_info(arg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return vfsim_get_region_info(arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return vfsim_get_irq_info(arg);
	case VFIO_DEVICE_SET_IRQS:
		return vfsim_set_irqs(vf, arg);
	case VFIO_DEVICE_RESET:
		return vfsim_reset(vf);
	}
	return -ENOTTY;
}

static int vfsim_open(struct vfio_device *vdev)
{
	struct vfsim *vf = to_vfsim(vdev);

	mutex_lock(&vf->lock);
	vf->open = true;
	vfsim_kick(vf);
	vdev->migration_flags = VFIO_MIGRATION_STOP_COPY |
				(vf->p2p ? VFIO_MIGRATION_P2P : 0) |
				(vf->precopy ? VFIO_MIGRATION_PRE_COPY : 0);
	vdev->log_ops = NULL;
	if (vf->dma_logging)
		vfio_access_log_init(vdev);
	mutex_unlock(&vf->lock);
	return 0;
}

static void vfsim_close(struct vfio_device *vdev)
{
	struct vfsim *vf = to_vfsim(vdev);
	struct eventfd_ctx *ctx;

	mutex_lock(&vf->lock);
	vf->open = false;
	ctx = vf->intx;
	vf->intx = NULL;
	mutex_unlock(&vf->lock);
	vfsim_reset(vf);
	if (ctx)
		eventfd_ctx_put(ctx);
}

static int vfsim_init(struct vfio_device *vdev)
{
	struct vfsim *vf = to_vfsim(vdev);
	int rc;

	vf->rec = kzalloc(sizeof(*vf->rec), GFP_KERNEL);
	if (!vf->rec)
		return -ENOMEM;
	rc = vfio_mig_blocks_alloc(&vf->ctx, VFSIM_DEFAULT_CTX);
	if (rc) {
		kfree(vf->rec);
		return rc;
	}
	mutex_init(&vf->lock);
	INIT_DELAYED_WORK(&vf->work, vfsim_work);
	vfsim_config_init(vf);
	vf->run = VFIO_MIG_RUN;
	vf->seq = 1;
	vf->precopy = true;
	vf->p2p = true;
	vf->dma_logging = true;
	/* A target takes an image in one record too, as older sources sent */
	vfio_mig_engine_init(&vf->eng, vdev, &vfsim_engine_ops,
			     VFSIM_MAX_CTX + VFSIM_MAX_CTX / 64);
	vdev->mig_ops = &vfsim_mig_ops;
	vdev->migration_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
				VFIO_MIGRATION_PRE_COPY;
	vfio_access_log_init(vdev);
	return 0;
}

static void vfsim_release(struct vfio_device *vdev)
{
	struct vfsim *vf = to_vfsim(vdev);

	vfio_mig_blocks_free(&vf->ctx);
	kfree(vf->rec);
	mutex_destroy(&vf->lock);
}

static const struct vfio_device_ops vfsim_ops = {
	.name = "vfsim",
	.init = vfsim_init,
	.release = vfsim_release,
	.open_device = vfsim_open,
	.close_device = vfsim_close,
	.read = vfsim_read,
	.write = vfsim_write,
	.ioctl = vfsim_ioctl,
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

/* sysfs: /sys/bus/mdev/devices/UUID/vfsim/ */

static struct vfsim *dev_to_vfsim(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static const char * const vfsim_patterns[] = { "seq", "random", "hot" };

static ssize_t traffic_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	ssize_t n;

	mutex_lock(&vf->lock);
	n = sysfs_emit(buf, "%u 0x%llx %u %s %u\n",
		       vf->ctrl & VFSIM_CTRL_DMA ? vf->rate : 0, vf->qbase,
		       vf->qsize, vfsim_patterns[vf->pattern], vf->hot);
	mutex_unlock(&vf->lock);
	return n;
}

/* "RATE IOVA PAGES [seq|random|hot [HOT_PAGES]]"; RATE 0 stops */
static ssize_t traffic_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	char pattern[8] = "seq";
	u32 rate, pages, hot = 0, p;
	u64 iova;
	int n;

	n = sscanf(buf, "%u %llx %u %7s %u", &rate, &iova, &pages, pattern,
		   &hot);
	if (n < 3 || iova % VFSIM_PAGE || (rate && !pages))
		return -EINVAL;
	for (p = 0; p < ARRAY_SIZE(vfsim_patterns); p++)
		if (!strcmp(pattern, vfsim_patterns[p]))
			break;
	if (p == ARRAY_SIZE(vfsim_patterns))
		return -EINVAL;

	mutex_lock(&vf->lock);
	vf->rate = rate;
	vf->qbase = iova;
	vf->qsize = pages;
	vf->pattern = p;
	vf->hot = hot;
	vf->pos = 0;
	vf->status &= ~VFSIM_STATUS_ERROR;
	if (rate)
		vf->ctrl |= VFSIM_CTRL_DMA;
	else
		vf->ctrl &= ~VFSIM_CTRL_DMA;
	vf->sysfs_traffic = rate;
	vfsim_kick(vf);
	mutex_unlock(&vf->lock);
	return count;
}
static DEVICE_ATTR_RW(traffic);

static ssize_t ctx_size_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	u64 size;

	mutex_lock(&vf->lock);
	size = vf->ctx.size;
	mutex_unlock(&vf->lock);
	return sysfs_emit(buf, "%llu\n", size);
}

/* Swap in the context at @arg; no migration going on */
static int vfsim_swap_ctx(struct vfio_mig_engine *eng, void *arg)
{
	struct vfsim *vf = eng_to_vfsim(eng);

	mutex_lock(&vf->lock);
	swap(vf->ctx, *(struct vfio_mig_blocks *)arg);
	mutex_unlock(&vf->lock);
	return 0;
}

/* Only while no migration runs; the new context is zero */
static ssize_t ctx_size_store(struct device *dev,
			      struct device_attribute *attr, const char *buf,
			      size_t count)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	struct vfio_mig_blocks ctx;
	u64 size;
	int rc;

	rc = kstrtou64(buf, 0, &size);
	if (rc)
		return rc;
	if (size > VFSIM_MAX_CTX)
		return -EINVAL;
	rc = vfio_mig_blocks_alloc(&ctx, size);
	if (rc)
		return rc;
	rc = vfio_mig_engine_when_idle(&vf->eng, vfsim_swap_ctx, &ctx);
	vfio_mig_blocks_free(&ctx);
	return rc ? rc : count;
}
static DEVICE_ATTR_RW(ctx_size);

static ssize_t vfsim_show_u64(struct vfsim *vf, u64 *field, char *buf)
{
	u64 val;

	mutex_lock(&vf->lock);
	val = *field;
	mutex_unlock(&vf->lock);
	return sysfs_emit(buf, "%llu\n", val);
}

static ssize_t churn_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);

	return vfsim_show_u64(vf, &vf->churn, buf);
}

/* Bytes of context changed per second while the device runs */
static ssize_t churn_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t count)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	u64 churn;
	int rc;

	rc = kstrtou64(buf, 0, &churn);
	if (rc)
		return rc;
	/* Up to 1 GB/s: keeps the churn's arithmetic far from overflow */
	if (churn > 1000000000ULL)
		return -EINVAL;
	mutex_lock(&vf->lock);
	vf->churn = churn;
	vf->churn_ns = 0;
	vfsim_kick(vf);
	mutex_unlock(&vf->lock);
	return count;
}
static DEVICE_ATTR_RW(churn);

static ssize_t churn_span_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);

	return vfsim_show_u64(vf, &vf->churn_span, buf);
}

/*
 * The churn changes only the context's first churn_span bytes (0: all of
 * it): a hot set, such as queue state and counters, beside colder tables
 */
static ssize_t churn_span_store(struct device *dev,
				struct device_attribute *attr, const char *buf,
				size_t count)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	u64 span;
	int rc;

	rc = kstrtou64(buf, 0, &span);
	if (rc)
		return rc;
	mutex_lock(&vf->lock);
	vf->churn_span = span;
	mutex_unlock(&vf->lock);
	return count;
}
static DEVICE_ATTR_RW(churn_span);

static ssize_t seq_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);

	return vfsim_show_u64(vf, &vf->seq, buf);
}
static DEVICE_ATTR_RO(seq);

static ssize_t records_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);

	return vfsim_show_u64(vf, &vf->records, buf);
}
static DEVICE_ATTR_RO(records);

static ssize_t dma_errors_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);

	return vfsim_show_u64(vf, &vf->dma_errors, buf);
}
static DEVICE_ATTR_RO(dma_errors);

/* The context's CRC-32, to compare a migrated device's with its source's */
static ssize_t ctx_crc_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	u32 crc;

	mutex_lock(&vf->lock);
	crc = ~crc32_le(~0, vf->ctx.data, vf->ctx.size);
	mutex_unlock(&vf->lock);
	return sysfs_emit(buf, "%08x\n", crc);
}
static DEVICE_ATTR_RO(ctx_crc);

/* The capability switches: 0 or 1, only while the device is not open */
static bool *vfsim_cap(struct vfsim *vf, struct device_attribute *attr)
{
	if (!strcmp(attr->attr.name, "precopy"))
		return &vf->precopy;
	if (!strcmp(attr->attr.name, "p2p"))
		return &vf->p2p;
	return &vf->dma_logging;
}

static ssize_t cap_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	bool val;

	mutex_lock(&vf->lock);
	val = *vfsim_cap(vf, attr);
	mutex_unlock(&vf->lock);
	return sysfs_emit(buf, "%d\n", val);
}

static ssize_t cap_store(struct device *dev, struct device_attribute *attr,
			 const char *buf, size_t count)
{
	struct vfsim *vf = dev_to_vfsim(dev);
	bool val;
	int rc;

	rc = kstrtobool(buf, &val);
	if (rc)
		return rc;
	mutex_lock(&vf->lock);
	if (vf->open)
		rc = -EBUSY;
	else
		*vfsim_cap(vf, attr) = val;
	mutex_unlock(&vf->lock);
	return rc ? rc : count;
}

static struct device_attribute dev_attr_precopy =
	__ATTR(precopy, 0644, cap_show, cap_store);
static struct device_attribute dev_attr_p2p =
	__ATTR(p2p, 0644, cap_show, cap_store);
static struct device_attribute dev_attr_dma_logging =
	__ATTR(dma_logging, 0644, cap_show, cap_store);

static struct attribute *vfsim_attrs[] = {
	&dev_attr_traffic.attr,
	&dev_attr_ctx_size.attr,
	&dev_attr_churn.attr,
	&dev_attr_churn_span.attr,
	&dev_attr_seq.attr,
	&dev_attr_records.attr,
	&dev_attr_dma_errors.attr,
	&dev_attr_ctx_crc.attr,
	&dev_attr_precopy.attr,
	&dev_attr_p2p.attr,
	&dev_attr_dma_logging.attr,
	NULL,
};

static const struct attribute_group vfsim_group = {
	.name = "vfsim",
	.attrs = vfsim_attrs,
};

static const struct attribute_group *vfsim_groups[] = {
	&vfsim_group,
	NULL,
};

static int vfsim_probe(struct mdev_device *mdev)
{
	struct vfsim *vf;
	int rc;

	vf = vfio_alloc_device(vfsim, vdev, &mdev->dev, &vfsim_ops);
	if (IS_ERR(vf))
		return PTR_ERR(vf);
	dev_set_drvdata(&mdev->dev, vf);
	rc = vfio_register_emulated_iommu_dev(&vf->vdev);
	if (rc)
		goto err_put;
	rc = vfio_mig_engine_sysfs_add(&vf->eng);
	if (rc)
		goto err_unregister;
	return 0;

err_unregister:
	vfio_unregister_group_dev(&vf->vdev);
err_put:
	vfio_put_device(&vf->vdev);
	return rc;
}

static void vfsim_remove(struct mdev_device *mdev)
{
	struct vfsim *vf = dev_get_drvdata(&mdev->dev);

	vfio_mig_engine_exit(&vf->eng);
	vfio_unregister_group_dev(&vf->vdev);
	/* Closed: the worker no longer has work, but may be queued */
	cancel_delayed_work_sync(&vf->work);
	vfio_put_device(&vf->vdev);
}

static struct mdev_type vfsim_type = { .sysfs_name = "vf" };
static struct mdev_type *vfsim_types[] = { &vfsim_type };

static struct mdev_driver vfsim_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.max_instances = 16,
	.driver = {
		.name = VFSIM_PARENT_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = vfsim_groups,
	},
	.probe = vfsim_probe,
	.remove = vfsim_remove,
};

static int __init vfsim_module_init(void)
{
	return test_mdev_parent_register(&vfsim_parent, VFSIM_PARENT_NAME,
					 &vfsim_driver, vfsim_types,
					 ARRAY_SIZE(vfsim_types));
}

static void __exit vfsim_module_exit(void)
{
	test_mdev_parent_unregister(&vfsim_parent, &vfsim_driver);
}

module_init(vfsim_module_init);
module_exit(vfsim_module_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfsim: a software VF for live-migration tests");
