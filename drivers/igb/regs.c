// SPDX-License-Identifier: GPL-2.0
/*
 * igb-vfio-pci: the VF's BAR0, trapped, and the DMA it implies.
 *
 * The 82576 VF writes guest memory in three places: receive buffers,
 * descriptor write-backs in both rings, and the transmit head write-back
 * when that is enabled.  Its IOMMU here has no dirty bits, so the driver
 * reports each write with iommufd_device_dirty_report(), from what it sees
 * of the rings:
 *
 * - BAR0 is not mmap'able: every register access of userspace goes through
 *   igbv_bar0_read()/igbv_bar0_write().
 * - An advanced receive descriptor loses its buffer addresses when the
 *   device writes it back.  So before a receive tail (RDT) write reaches
 *   the device, the driver reads the descriptors it hands over,
 *   [old RDT, new RDT), through the IOAS (iommufd_device_dma_read()),
 *   keeps their buffer addresses, and reports the buffers: the device owns
 *   them from then on.
 * - A flush reports what the device completed since the previous flush:
 *   receive descriptors [head at last flush, RDH now), their buffers a
 *   second time, and their ring slots; transmit ring slots
 *   [head at last flush, TDH now) and the head write-back word.  The
 *   device moves the head past a descriptor only after writing its buffer
 *   and its write-back (QEMU: igb_write_packet_to_guest()), so a head read
 *   bounds what was written.
 * - Flushes run on every trapped queue register write, and at the end of
 *   igbv_quiesce(), after the queues are disabled: no DMA follows, so the
 *   last flush reports everything (see "Races" below).
 * - What the driver cannot follow makes the queue blind, never silent: an
 *   unknown descriptor type, a ring larger than it shadows, a ring it
 *   could not read.  A blind queue's flush reports every IOVA the device
 *   may write (iommufd clips the report to what is mapped writable).
 *
 * Races.  A write the device made is reported at the latest by the flush
 * after its head moved; until then a dirty read does not show it, and the
 * next one after that flush does.  QEMU reads the dirty bitmap a last time
 * after the device is in STOP (vCPUs stop, then the VFIO arcs, then the
 * final RAM sync), and STOP flushes after disabling the queues, so that
 * read has every page.  A read-and-clear racing a flush loses nothing: the
 * flush's marks land either before the clear (the read returns them) or
 * after it (the next read does).  Reports while no one tracks are dropped
 * by iommufd; a buffer handed over before tracking started and written
 * after is still reported at its completion.  A guest that rewrites a
 * descriptor it already handed to the device breaks only its own
 * migration: the device may use the address the driver did not learn.
 *
 * Locking: igbv->lock serialises all of it and the engine's callbacks
 * (which hold the engine's state lock first); register accesses take the
 * core's memory_lock for read inside vfio_pci_core_ioread32() and
 * vfio_pci_core_iowrite32(), and iommufd_device_dma_read() the IOAS's
 * locks, both after igbv->lock.
 */
#include <linux/bitfield.h>
#include <linux/iommufd.h>
#include <linux/iommufd_dirty.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "regs.h"

static int igbv_rd(struct igbv_dev *igbv, u32 off, u32 *val)
{
	return vfio_pci_core_ioread32(&igbv->core, true, val,
				      igbv->core.barmap[0] + off);
}

static int igbv_wr(struct igbv_dev *igbv, u32 off, u32 val)
{
	return vfio_pci_core_iowrite32(&igbv->core, true, val,
				       igbv->core.barmap[0] + off);
}

static void igbv_report(struct igbv_dev *igbv, u64 iova, u64 len)
{
	struct iommufd_device *idev = igbv->core.vdev.iommufd_device;

	if (!igbv->reports || !idev || !len || iova > ULONG_MAX)
		return;
	/* Nothing is mapped at the very top: stop short of wrapping */
	if (len > ULONG_MAX - iova)
		len = ULONG_MAX - iova;
	if (len)
		iommufd_device_dirty_report(idev, iova, len);
}

/* Everything the device may write: iommufd clips to what is mapped */
static void igbv_report_all(struct igbv_dev *igbv)
{
	igbv_report(igbv, 0, ULONG_MAX);
}

static u64 igbv_ring(u32 bal, u32 bah)
{
	return (u64)bah << 32 | bal;
}

/* Ring slots [first, first + n) of a ring of @ndesc, which may wrap */
static void igbv_report_slots(struct igbv_dev *igbv, u64 base, u32 ndesc,
			      u32 first, u32 n)
{
	u32 run = min(n, ndesc - first);

	igbv_report(igbv, base + (u64)first * IGBV_DESC, (u64)run * IGBV_DESC);
	if (n > run)
		igbv_report(igbv, base, (u64)(n - run) * IGBV_DESC);
}

static u32 igbv_desctype(u32 srrctl)
{
	return FIELD_GET(IGBV_SRRCTL_DESCTYPE, srrctl);
}

static bool igbv_split(u32 srrctl)
{
	u32 type = igbv_desctype(srrctl);

	return type == IGBV_DESCTYPE_HDR_SPLIT ||
	       type == IGBV_DESCTYPE_SPLIT_ALWAYS;
}

static u64 igbv_pkt_size(u32 srrctl)
{
	u32 kib = FIELD_GET(IGBV_SRRCTL_BSIZEPKT, srrctl);

	return kib ? (u64)kib * SZ_1K : IGBV_MAX_BUF;
}

static u64 igbv_hdr_size(u32 srrctl)
{
	u32 units = FIELD_GET(IGBV_SRRCTL_BSIZEHDR, srrctl);

	return units ? units * 64 : FIELD_MAX(IGBV_SRRCTL_BSIZEHDR) * 64;
}

/* Descriptor @i's buffers, which the device owns or just completed */
static void igbv_report_bufs(struct igbv_dev *igbv, struct igbv_rxq *q,
			     u32 i)
{
	igbv_report(igbv, q->pkt[i], igbv_pkt_size(q->srrctl));
	if (igbv_split(q->srrctl))
		igbv_report(igbv, q->hdr[i], igbv_hdr_size(q->srrctl));
}

/*
 * Everything the device may have written of what it was given: the
 * buffers and ring slots of [q->head, q->tail), whether or not it got to
 * them.  For when the driver is about to lose track of them (a reset, a
 * queue being set up anew, a detach) and cannot know how far it got.
 */
static void igbv_rx_report_owned(struct igbv_dev *igbv, struct igbv_rxq *q)
{
	u32 n, i;

	if (q->blind) {
		igbv_report_all(igbv);
		return;
	}
	if (!q->ndesc)
		return;
	n = (q->tail + q->ndesc - q->head) % q->ndesc;
	for (i = 0; i < n; i++)
		igbv_report_bufs(igbv, q, (q->head + i) % q->ndesc);
	igbv_report_slots(igbv, igbv_ring(q->bal, q->bah), q->ndesc, q->head,
			  n);
}

/* The same for a transmit queue: its whole ring, and the head word */
static void igbv_tx_report_owned(struct igbv_dev *igbv, struct igbv_txq *q)
{
	if (q->wbal & IGBV_TX_WBAL_EN)
		igbv_report(igbv, igbv_ring(q->wbal & ~3U, q->wbah), 4);
	igbv_report(igbv, igbv_ring(q->bal, q->bah), q->len);
}

/*
 * Hand descriptors [q->tail, @tail) over: learn and report their buffers.
 * A descriptor that cannot be read makes the queue blind.
 */
static void igbv_rx_learn(struct igbv_dev *igbv, struct igbv_rxq *q,
			  u32 tail)
{
	struct iommufd_device *idev = igbv->core.vdev.iommufd_device;
	u64 base = igbv_ring(q->bal, q->bah);
	__le64 *d = igbv->desc_buf;
	u32 n, i, k;

	if (q->blind || !q->ndesc)
		return;
	if (tail >= q->ndesc) {
		q->blind = true;
		return;
	}
	n = (tail + q->ndesc - q->tail) % q->ndesc;
	while (n) {
		k = min3(n, q->ndesc - q->tail, IGBV_DESC_BUF / IGBV_DESC);
		if (!idev ||
		    iommufd_device_dma_read(idev,
					    base + (u64)q->tail * IGBV_DESC, d,
					    k * IGBV_DESC)) {
			q->blind = true;
			return;
		}
		for (i = 0; i < k; i++) {
			q->pkt[q->tail + i] = le64_to_cpu(d[2 * i]);
			q->hdr[q->tail + i] = le64_to_cpu(d[2 * i + 1]);
			igbv_report_bufs(igbv, q, q->tail + i);
		}
		q->tail = (q->tail + k) % q->ndesc;
		n -= k;
	}
}

/*
 * The device was reset (or is being reset) since the driver last took its
 * state: every index the shadow holds may be stale.  Counted by the PCI
 * core's reset_prepare and reset_done, which run without igbv->lock.
 */
static bool igbv_reset_missed(struct igbv_dev *igbv)
{
	return atomic_read(&igbv->resets) != igbv->resets_seen;
}

/*
 * The ring is no longer where the shadow has it: something reset the queue
 * behind the driver's back (a reset of the PF clears the VFs' queues in
 * QEMU's model, and the VF's own reset callbacks do not run for it).
 */
static bool igbv_ring_moved(struct igbv_dev *igbv, u32 q, u32 bal, u32 len)
{
	u32 now_bal, now_len;

	if (igbv_rd(igbv, q + IGBV_Q_BAL, &now_bal) ||
	    igbv_rd(igbv, q + IGBV_Q_LEN, &now_len))
		return true;
	return now_bal != bal || now_len != len;
}

/* Report what the device completed since the last flush */
static void igbv_rx_flush(struct igbv_dev *igbv, struct igbv_rxq *q, int n)
{
	u32 head, done, i;

	if (q->blind) {
		igbv_report_all(igbv);
		return;
	}
	if (!q->ndesc)
		return;
	/* Its head says nothing now: all it owned, and blind until set up */
	if (igbv_ring_moved(igbv, IGBV_RXQ(n), q->bal, q->len)) {
		igbv_rx_report_owned(igbv, q);
		q->blind = true;
		return;
	}
	/*
	 * Unreadable, or past what it was given: all it owns may be done,
	 * and still may be; report it and keep following from where it was
	 */
	if (igbv_rd(igbv, IGBV_RXQ(n) + IGBV_Q_HEAD, &head) ||
	    igbv_reset_missed(igbv) || head >= q->ndesc ||
	    (head + q->ndesc - q->head) % q->ndesc >
	    (q->tail + q->ndesc - q->head) % q->ndesc) {
		igbv_rx_report_owned(igbv, q);
		return;
	}
	done = (head + q->ndesc - q->head) % q->ndesc;
	for (i = 0; i < done; i++)
		igbv_report_bufs(igbv, q, (q->head + i) % q->ndesc);
	igbv_report_slots(igbv, igbv_ring(q->bal, q->bah), q->ndesc, q->head,
			  done);
	q->head = head;
}

static void igbv_tx_flush(struct igbv_dev *igbv, struct igbv_txq *q, int n)
{
	u32 ndesc = q->len / IGBV_DESC, head = U32_MAX, done;
	u64 base = igbv_ring(q->bal, q->bah);

	if (q->wbal & IGBV_TX_WBAL_EN)
		igbv_report(igbv, igbv_ring(q->wbal & ~3U, q->wbah), 4);
	if (!ndesc)
		return;
	if (igbv_ring_moved(igbv, IGBV_TXQ(n), q->bal, q->len) ||
	    igbv_rd(igbv, IGBV_TXQ(n) + IGBV_Q_HEAD, &head) ||
	    igbv_reset_missed(igbv) || head >= ndesc || q->head >= ndesc) {
		/* Lost track: the whole ring may have been written back */
		igbv_report(igbv, base, q->len);
		q->head = head < ndesc ? head : U32_MAX;
		return;
	}
	done = (head + ndesc - q->head) % ndesc;
	igbv_report_slots(igbv, base, ndesc, q->head, done);
	q->head = head;
}

/**
 * igbv_flush() - report everything the VF completed since the last flush
 * @igbv: the VF; its lock is held
 */
void igbv_flush(struct igbv_dev *igbv)
{
	int n;

	lockdep_assert_held(&igbv->lock);
	for (n = 0; n < IGBV_NQUEUES; n++) {
		igbv_rx_flush(igbv, &igbv->rxq[n], n);
		igbv_tx_flush(igbv, &igbv->txq[n], n);
	}
}

static void igbv_rxq_free(struct igbv_rxq *q)
{
	kvfree(q->pkt);
	kvfree(q->hdr);
	q->pkt = NULL;
	q->hdr = NULL;
	q->ndesc = 0;
}

/*
 * Take receive queue @n's layout from the device, after anything that may
 * have changed it (a write to one of its registers, a reset), then learn
 * what it already owns, [RDH, RDT).
 */
static void igbv_rx_resync(struct igbv_dev *igbv, int n)
{
	struct igbv_rxq *q = &igbv->rxq[n];
	u32 r = IGBV_RXQ(n), head, tail, ndesc, type;

	/* What the old layout gave the device is not followed any more */
	igbv_rx_report_owned(igbv, q);
	q->blind = false;
	if (igbv_rd(igbv, r + IGBV_Q_BAL, &q->bal) ||
	    igbv_rd(igbv, r + IGBV_Q_BAH, &q->bah) ||
	    igbv_rd(igbv, r + IGBV_Q_LEN, &q->len) ||
	    igbv_rd(igbv, r + IGBV_RX_SRRCTL, &q->srrctl) ||
	    igbv_rd(igbv, r + IGBV_Q_HEAD, &head) ||
	    igbv_rd(igbv, r + IGBV_Q_TAIL, &tail))
		goto blind;
	ndesc = q->len / IGBV_DESC;
	type = igbv_desctype(q->srrctl);
	if (q->len % IGBV_RING_ALIGN || ndesc > IGBV_MAX_DESCS ||
	    (type != IGBV_DESCTYPE_LEGACY && type != IGBV_DESCTYPE_ONEBUF &&
	     !igbv_split(q->srrctl)))
		goto blind;
	if (ndesc != q->ndesc) {
		igbv_rxq_free(q);
		if (ndesc) {
			q->pkt = kvcalloc(ndesc, sizeof(*q->pkt), GFP_KERNEL);
			q->hdr = kvcalloc(ndesc, sizeof(*q->hdr), GFP_KERNEL);
			if (!q->pkt || !q->hdr) {
				igbv_rxq_free(q);
				goto blind;
			}
		}
		q->ndesc = ndesc;
	}
	if (!ndesc)
		return;
	if (head >= ndesc)
		goto blind;
	q->head = head;
	q->tail = head;
	if (head == tail)
		return;
	/*
	 * A running queue may be writing back the descriptor at its head
	 * while the driver reads it: what the driver learns could be a
	 * write-back, not an address.  Guests set a queue up disabled.
	 */
	if (igbv_rd(igbv, r + IGBV_Q_DCTL, &type) || type & IGBV_DCTL_ENABLE)
		goto blind;
	igbv_rx_learn(igbv, q, tail);
	return;
blind:
	q->blind = true;
}

static void igbv_tx_resync(struct igbv_dev *igbv, int n)
{
	struct igbv_txq *q = &igbv->txq[n];
	u32 t = IGBV_TXQ(n);

	igbv_tx_report_owned(igbv, q);
	if (igbv_rd(igbv, t + IGBV_Q_BAL, &q->bal) ||
	    igbv_rd(igbv, t + IGBV_Q_BAH, &q->bah) ||
	    igbv_rd(igbv, t + IGBV_Q_LEN, &q->len) ||
	    igbv_rd(igbv, t + IGBV_TX_WBAL, &q->wbal) ||
	    igbv_rd(igbv, t + IGBV_TX_WBAH, &q->wbah) ||
	    igbv_rd(igbv, t + IGBV_Q_HEAD, &q->head))
		q->head = U32_MAX;	/* the next flush reports the ring */
}

/**
 * igbv_reset_shadow() - take every queue's state from the device again
 * @igbv: the VF; its lock is held
 *
 * After a reset, a restore, or at open.
 */
void igbv_reset_shadow(struct igbv_dev *igbv)
{
	int n;

	lockdep_assert_held(&igbv->lock);
	for (n = 0; n < IGBV_NQUEUES; n++) {
		igbv_rx_resync(igbv, n);
		igbv_tx_resync(igbv, n);
	}
}

/**
 * igbv_report_owned() - report all the VF may write with what it was given
 * @igbv: the VF; its lock is held
 *
 * Before the driver loses sight of the device's writes for a while (a
 * detach or replace of its IOAS, close): every buffer and ring slot it
 * owns, whether or not it wrote them yet.
 */
void igbv_report_owned(struct igbv_dev *igbv)
{
	int n;

	lockdep_assert_held(&igbv->lock);
	igbv_flush(igbv);
	for (n = 0; n < IGBV_NQUEUES; n++) {
		igbv_rx_report_owned(igbv, &igbv->rxq[n]);
		igbv_tx_report_owned(igbv, &igbv->txq[n]);
	}
}

/* After a reset the driver did not see: start over from the device */
static void igbv_catch_up(struct igbv_dev *igbv)
{
	int n;

	igbv->resets_seen = atomic_read(&igbv->resets);
	for (n = 0; n < IGBV_NQUEUES; n++) {
		igbv->dctl_rx[n] = 0;
		igbv->dctl_tx[n] = 0;
	}
	igbv->eims = 0;
	igbv->eiac = 0;
	igbv->eiam = 0;
	igbv->ivar0 = 0;
	igbv->ivar_misc = 0;
	/* Reports what the old shadow gave the device first */
	igbv_reset_shadow(igbv);
}

/**
 * igbv_lock() - take the VF's lock
 * @igbv: the VF
 *
 * Catches up with a reset of the device the driver has not seen yet
 * (an FLR through config space or sysfs).  A reset of the PF runs none
 * of the VF's callbacks: a flush finds its ring moved instead.
 */
void igbv_lock(struct igbv_dev *igbv)
{
	mutex_lock(&igbv->lock);
	if (igbv_reset_missed(igbv))
		igbv_catch_up(igbv);
}

/* Which queue register @off is: queue in *@n, register offset returned */
static int igbv_queue_reg(u32 off, u32 base, int *n)
{
	for (*n = 0; *n < IGBV_NQUEUES; (*n)++) {
		u32 q = base + 0x100 * *n;

		if (off >= q && off < q + IGBV_Q_REGS)
			return off - q;
	}
	return -1;
}

/*
 * A queue enable as userspace writes it: kept, and held off while the
 * device is stopped (igbv_resume() applies it)
 */
static int igbv_dctl_write(struct igbv_dev *igbv, u32 *dctl, u32 off,
			   u32 val)
{
	*dctl = val;
	if (igbv->run != VFIO_MIG_RUN)
		val &= ~IGBV_DCTL_ENABLE;
	return igbv_wr(igbv, off, val);
}

static int igbv_rx_write(struct igbv_dev *igbv, int n, int reg, u32 val)
{
	struct igbv_rxq *q = &igbv->rxq[n];
	u32 off = IGBV_RXQ(n) + reg;
	int rc;

	igbv_rx_flush(igbv, q, n);
	switch (reg) {
	case IGBV_Q_TAIL:
		/* Learn before the device can see the descriptors */
		igbv_rx_learn(igbv, q, val);
		return igbv_wr(igbv, off, val);
	case IGBV_Q_DCTL:
		return igbv_dctl_write(igbv, &igbv->dctl_rx[n], off, val);
	}
	rc = igbv_wr(igbv, off, val);
	igbv_rx_resync(igbv, n);
	return rc;
}

static int igbv_tx_write(struct igbv_dev *igbv, int n, int reg, u32 val)
{
	struct igbv_txq *q = &igbv->txq[n];
	u32 off = IGBV_TXQ(n) + reg;
	int rc;

	igbv_tx_flush(igbv, q, n);
	switch (reg) {
	case IGBV_Q_TAIL:
		/* QEMU transmits inside the write: report its write-backs */
		rc = igbv_wr(igbv, off, val);
		igbv_tx_flush(igbv, q, n);
		return rc;
	case IGBV_Q_DCTL:
		return igbv_dctl_write(igbv, &igbv->dctl_tx[n], off, val);
	}
	rc = igbv_wr(igbv, off, val);
	igbv_tx_resync(igbv, n);
	return rc;
}

/**
 * igbv_bar0_write() - a 4-byte write of userspace to the VF's BAR0
 * @igbv: the VF
 * @off: register offset, 4-byte aligned, inside BAR0
 * @val: the value
 *
 * Return: 0, or -EIO when the device's memory space is disabled.
 */
int igbv_bar0_write(struct igbv_dev *igbv, u32 off, u32 val)
{
	int n, reg, rc;

	igbv_lock(igbv);
	reg = igbv_queue_reg(off, IGBV_RXQ(0), &n);
	if (reg >= 0) {
		rc = igbv_rx_write(igbv, n, reg, val);
		goto out;
	}
	reg = igbv_queue_reg(off, IGBV_TXQ(0), &n);
	if (reg >= 0) {
		rc = igbv_tx_write(igbv, n, reg, val);
		goto out;
	}
	switch (off) {
	case IGBV_EIMS:
		igbv->eims |= val;
		break;
	case IGBV_EIMC:
		igbv->eims &= ~val;
		break;
	/* QEMU's model ORs these in (igb_core.c); so does the copy */
	case IGBV_EIAC:
		igbv->eiac |= val;
		break;
	case IGBV_EIAM:
		igbv->eiam = val;
		break;
	case IGBV_IVAR0:
		igbv->ivar0 |= val;
		break;
	case IGBV_IVAR_MISC:
		igbv->ivar_misc |= val;
		break;
	}
	if (off == IGBV_CTRL && (val & IGBV_CTRL_RST))
		igbv_flush(igbv);
	rc = igbv_wr(igbv, off, val);
	if (off == IGBV_CTRL && (val & IGBV_CTRL_RST))
		igbv_catch_up(igbv);
out:
	mutex_unlock(&igbv->lock);
	return rc;
}

/**
 * igbv_bar0_read() - a 4-byte read of userspace from the VF's BAR0
 * @igbv: the VF
 * @off: register offset, 4-byte aligned, inside BAR0
 * @val: the value read
 *
 * While the device is stopped its queue enables read as userspace wrote
 * them, not as the driver holds them.
 *
 * Return: 0, or -EIO when the device's memory space is disabled.
 */
int igbv_bar0_read(struct igbv_dev *igbv, u32 off, u32 *val)
{
	int n, reg, rc;

	igbv_lock(igbv);
	rc = igbv_rd(igbv, off, val);
	if (!rc && igbv->run != VFIO_MIG_RUN) {
		reg = igbv_queue_reg(off, IGBV_RXQ(0), &n);
		if (reg == IGBV_Q_DCTL)
			*val = igbv->dctl_rx[n];
		reg = igbv_queue_reg(off, IGBV_TXQ(0), &n);
		if (reg == IGBV_Q_DCTL)
			*val = igbv->dctl_tx[n];
	}
	mutex_unlock(&igbv->lock);
	return rc;
}

/* The queue registers that migrate, in struct igbv_regs' order */
static const u32 igbv_rxq_regs[] = { IGBV_Q_BAL, IGBV_Q_BAH, IGBV_Q_LEN,
			       IGBV_RX_SRRCTL, IGBV_Q_HEAD, IGBV_Q_TAIL };
static const u32 igbv_txq_regs[] = { IGBV_Q_BAL, IGBV_Q_BAH, IGBV_Q_LEN,
			       IGBV_Q_HEAD, IGBV_Q_TAIL, IGBV_TX_WBAL,
			       IGBV_TX_WBAH };

/**
 * igbv_save() - read the VF's migrating state
 * @igbv: the VF, quiesced; its lock is held
 * @regs: where it goes
 *
 * The queue enables are the ones userspace wrote; the interrupt masks and
 * vector maps are the driver's copies, since the VF's own read-back of
 * them is not the mask (EIMS) or not the value written (EIAM).
 *
 * Return: 0, or -EIO when a register could not be read.
 */
int igbv_save(struct igbv_dev *igbv, struct igbv_regs *regs)
{
	int n, i, rc = 0;

	lockdep_assert_held(&igbv->lock);
	memset(regs, 0, sizeof(*regs));
	for (n = 0; n < IGBV_NQUEUES && !rc; n++) {
		for (i = 0; i < ARRAY_SIZE(igbv_rxq_regs) && !rc; i++)
			rc = igbv_rd(igbv, IGBV_RXQ(n) + igbv_rxq_regs[i],
				     &regs->rx[n][i]);
		regs->rx[n][IGBV_RX_SAVED_DCTL] = igbv->dctl_rx[n];
		for (i = 0; i < ARRAY_SIZE(igbv_txq_regs) && !rc; i++)
			rc = igbv_rd(igbv, IGBV_TXQ(n) + igbv_txq_regs[i],
				     &regs->tx[n][i]);
		regs->tx[n][IGBV_TX_SAVED_DCTL] = igbv->dctl_tx[n];
	}
	for (i = 0; i < IGBV_NVEC && !rc; i++)
		rc = igbv_rd(igbv, IGBV_EITR(i), &regs->eitr[i]);
	regs->ivar0 = igbv->ivar0;
	regs->ivar_misc = igbv->ivar_misc;
	regs->eiac = igbv->eiac;
	regs->eiam = igbv->eiam;
	regs->eims = igbv->eims;
	for (i = 0; i < IGBV_VMBMEM_WORDS && !rc; i++)
		rc = igbv_rd(igbv, IGBV_VMBMEM(i), &regs->vmbmem[i]);
	return rc;
}

/**
 * igbv_restore() - load migrated state into the stopped VF
 * @igbv: the VF, in STOP; its lock is held
 * @regs: the state
 *
 * The queues stay disabled; igbv_resume() enables them as @regs says.
 *
 * Return: 0, or -EIO when the device's memory space is disabled.
 */
int igbv_restore(struct igbv_dev *igbv, const struct igbv_regs *regs)
{
	int n, i, rc = 0;
	u32 v2p;

	lockdep_assert_held(&igbv->lock);
	for (n = 0; n < IGBV_NQUEUES; n++) {
		rc |= igbv_wr(igbv, IGBV_RXQ(n) + IGBV_Q_DCTL,
			      regs->rx[n][IGBV_RX_SAVED_DCTL] & ~IGBV_DCTL_ENABLE);
		rc |= igbv_wr(igbv, IGBV_TXQ(n) + IGBV_Q_DCTL,
			      regs->tx[n][IGBV_TX_SAVED_DCTL] & ~IGBV_DCTL_ENABLE);
		for (i = 0; i < ARRAY_SIZE(igbv_rxq_regs); i++)
			rc |= igbv_wr(igbv, IGBV_RXQ(n) + igbv_rxq_regs[i],
				      regs->rx[n][i]);
		for (i = 0; i < ARRAY_SIZE(igbv_txq_regs); i++)
			rc |= igbv_wr(igbv, IGBV_TXQ(n) + igbv_txq_regs[i],
				      regs->tx[n][i]);
		igbv->dctl_rx[n] = regs->rx[n][IGBV_RX_SAVED_DCTL];
		igbv->dctl_tx[n] = regs->tx[n][IGBV_TX_SAVED_DCTL];
	}
	for (i = 0; i < IGBV_NVEC; i++)
		rc |= igbv_wr(igbv, IGBV_EITR(i), regs->eitr[i]);
	rc |= igbv_wr(igbv, IGBV_IVAR0, regs->ivar0);
	rc |= igbv_wr(igbv, IGBV_IVAR_MISC, regs->ivar_misc);
	rc |= igbv_wr(igbv, IGBV_EIAC, regs->eiac);
	rc |= igbv_wr(igbv, IGBV_EIAM, regs->eiam);
	rc |= igbv_wr(igbv, IGBV_EIMC, ~0U);
	rc |= igbv_wr(igbv, IGBV_EIMS, regs->eims);
	for (i = 0; i < IGBV_VMBMEM_WORDS; i++)
		rc |= igbv_wr(igbv, IGBV_VMBMEM(i), regs->vmbmem[i]);
	/* The reset-done and message bits clear on read: start clean */
	rc |= igbv_rd(igbv, IGBV_V2PMAILBOX, &v2p);
	igbv->ivar0 = regs->ivar0;
	igbv->ivar_misc = regs->ivar_misc;
	igbv->eiac = regs->eiac;
	igbv->eiam = regs->eiam;
	igbv->eims = regs->eims;
	return rc ? -EIO : 0;
}

/**
 * igbv_quiesce() - stop the VF's DMA (P2P and STOP)
 * @igbv: the VF; its lock is held
 *
 * Disables both queues of both directions (QEMU's igb checks the enable
 * bit for every received packet and at the start of every transmit), reads
 * a register back so the writes have reached the device, then flushes:
 * after this nothing the device wrote is unreported, and it writes nothing
 * more.
 *
 * Return: 0, -EIO when the device's memory space is disabled, or -EBUSY
 * when a queue still reads enabled (then the queues are put back as they
 * were, and the state stays).
 */
int igbv_quiesce(struct igbv_dev *igbv)
{
	int n, disabled, rc = 0;
	u32 status, rx, tx;

	lockdep_assert_held(&igbv->lock);
	for (disabled = 0; disabled < IGBV_NQUEUES && !rc; disabled++) {
		n = disabled;
		rc = igbv_rd(igbv, IGBV_RXQ(n) + IGBV_Q_DCTL, &rx);
		if (!rc)
			rc = igbv_rd(igbv, IGBV_TXQ(n) + IGBV_Q_DCTL, &tx);
		if (rc)
			break;
		igbv->dctl_rx[n] = rx;
		igbv->dctl_tx[n] = tx;
		rc = igbv_wr(igbv, IGBV_RXQ(n) + IGBV_Q_DCTL,
			     rx & ~IGBV_DCTL_ENABLE);
		if (!rc)
			rc = igbv_wr(igbv, IGBV_TXQ(n) + IGBV_Q_DCTL,
				     tx & ~IGBV_DCTL_ENABLE);
	}
	if (!rc)
		rc = igbv_rd(igbv, IGBV_STATUS, &status);
	/* A queue that did not stop would go on writing */
	for (n = 0; n < IGBV_NQUEUES && !rc; n++) {
		rc = igbv_rd(igbv, IGBV_RXQ(n) + IGBV_Q_DCTL, &rx);
		if (!rc)
			rc = igbv_rd(igbv, IGBV_TXQ(n) + IGBV_Q_DCTL, &tx);
		if (!rc && (rx | tx) & IGBV_DCTL_ENABLE)
			rc = -EBUSY;
	}
	if (rc) {
		/* Put back what was disabled already */
		for (n = 0; n < disabled; n++) {
			igbv_wr(igbv, IGBV_RXQ(n) + IGBV_Q_DCTL,
				igbv->dctl_rx[n]);
			igbv_wr(igbv, IGBV_TXQ(n) + IGBV_Q_DCTL,
				igbv->dctl_tx[n]);
		}
		return rc;
	}
	igbv_flush(igbv);
	return 0;
}

/**
 * igbv_resume() - let the VF run again (RUNNING)
 * @igbv: the VF; its lock is held
 * @restored: igbv_restore() loaded new state since the last run
 *
 * Enables the queues as userspace last wrote them; after a restore, first
 * learns the receive buffers the ring already gives the device (guest
 * memory is loaded by then), and raises the enabled vectors once, for any
 * interrupt the source raised that the guest had not seen.  Tail writes
 * with the same values then make the device look at its rings again (QEMU
 * transmits only on a TDT write).
 *
 * Return: 0, or -EIO when the device's memory space is disabled.
 */
int igbv_resume(struct igbv_dev *igbv, bool restored)
{
	int n, rc = 0;
	u32 tail;

	lockdep_assert_held(&igbv->lock);
	if (restored)
		igbv_reset_shadow(igbv);
	for (n = 0; n < IGBV_NQUEUES; n++) {
		rc |= igbv_wr(igbv, IGBV_RXQ(n) + IGBV_Q_DCTL,
			      igbv->dctl_rx[n]);
		rc |= igbv_wr(igbv, IGBV_TXQ(n) + IGBV_Q_DCTL,
			      igbv->dctl_tx[n]);
	}
	for (n = 0; n < IGBV_NQUEUES && restored; n++) {
		if (!igbv_rd(igbv, IGBV_RXQ(n) + IGBV_Q_TAIL, &tail))
			rc |= igbv_wr(igbv, IGBV_RXQ(n) + IGBV_Q_TAIL, tail);
		if (!igbv_rd(igbv, IGBV_TXQ(n) + IGBV_Q_TAIL, &tail))
			rc |= igbv_wr(igbv, IGBV_TXQ(n) + IGBV_Q_TAIL, tail);
	}
	if (restored && igbv->eims)
		rc |= igbv_wr(igbv, IGBV_EICS, igbv->eims);
	if (rc) {
		/* Still stopped, as the engine will say: no queue left on */
		for (n = 0; n < IGBV_NQUEUES; n++) {
			igbv_wr(igbv, IGBV_RXQ(n) + IGBV_Q_DCTL,
				igbv->dctl_rx[n] & ~IGBV_DCTL_ENABLE);
			igbv_wr(igbv, IGBV_TXQ(n) + IGBV_Q_DCTL,
				igbv->dctl_tx[n] & ~IGBV_DCTL_ENABLE);
		}
		return -EIO;
	}
	return 0;
}

/**
 * igbv_open() - set up the shadow of a VF being opened
 * @igbv: the VF; BAR0 is mapped
 *
 * Return: 0 or -ENOMEM.
 */
int igbv_open(struct igbv_dev *igbv)
{
	igbv->desc_buf = kmalloc(IGBV_DESC_BUF, GFP_KERNEL);
	if (!igbv->desc_buf)
		return -ENOMEM;
	mutex_lock(&igbv->lock);
	igbv->resets_seen = atomic_read(&igbv->resets);
	igbv->run = VFIO_MIG_RUN;
	igbv->staged = false;
	igbv->eims = 0;
	igbv->eiac = 0;
	igbv->eiam = 0;
	igbv->ivar0 = 0;
	igbv->ivar_misc = 0;
	igbv_reset_shadow(igbv);
	mutex_unlock(&igbv->lock);
	return 0;
}

/**
 * igbv_close() - free the shadow of a VF being closed
 * @igbv: the VF
 */
void igbv_close(struct igbv_dev *igbv)
{
	int n;

	igbv_lock(igbv);
	igbv_report_owned(igbv);
	for (n = 0; n < IGBV_NQUEUES; n++)
		igbv_rxq_free(&igbv->rxq[n]);
	kfree(igbv->desc_buf);
	igbv->desc_buf = NULL;
	mutex_unlock(&igbv->lock);
}
