// SPDX-License-Identifier: GPL-2.0
/*
 * Software dirty tracking for iommufd.
 *
 * Live migration needs the guest pages a device wrote by DMA.  iommufd
 * reports them only from IOMMU dirty bits (VT-d SSADS, AMD HAD, SMMUv3 HTTU);
 * without those, userspace either gets nothing or refuses to migrate.  Yet
 * the kernel often knows exactly what a device wrote: emulated devices write
 * guest memory through iommufd_access_rw() and pin it for write through
 * iommufd_access_pin_pages(), and a driver may be able to report its device's
 * DMA.  This file logs those writes per IOAS and reports them through the
 * standard uAPI, beside the hardware bits.
 *
 * Data model
 * ----------
 * One struct iommufd_dirty_log per io_pagetable, allocated on first use and
 * freed with the io_pagetable.  It holds no bits itself: it is the list of
 * the *trackers* of the IOAS, the write pins standing in it, and the place
 * sources write to.  A tracker is
 * - a dirty-tracking paging HWPT while IOMMU_HWPT_SET_DIRTY_TRACKING is on,
 * - an iommufd_access (an emulated device) while its DMA logging is on.
 *
 * Every tracker has its own view: one bit per PAGE_SIZE page of IOVA, bit
 * (iova >> PAGE_SHIFT), in chunks of one page of bits each (128 MiB of IOVA
 * with 4 KiB pages) kept in an xarray by chunk number.  A source sets its
 * bits in the view of every tracker of the IOAS; a read takes bits out of
 * the reader's view only.  So each read returns every write since that
 * tracker's last read, whoever else reads: two HWPTs of one IOAS, or a HWPT
 * and an access, never take each other's bits, just as IOMMU dirty bits are
 * per domain.  Each extra tracker costs one more bit set per write and
 * 32 KiB per GiB of writable IOVA.
 *
 * The chunks of every writable mapped area are allocated when a tracker
 * starts, and those of a new writable mapping before the IOMMU can reach it
 * (iommufd_dirty_log_map()).  Sources never allocate: a source in hard
 * interrupt context cannot fail on memory, and a report of any length costs
 * only the chunks it touches.  A write outside every chunk is to IOVA that
 * was not mapped writable while the tracker tracked, which no device could
 * write.  Chunks stay until the tracker stops (a view is keyed by IOVA and
 * outlives mappings, see Unmap).
 *
 * Every bit is an atomic_long_t word: sources OR bits in, readers take them
 * out with atomic fetch-and-clear, so no lock is held on the write path and
 * a write racing a read is reported by this read or the next, never lost.
 *
 * Write pins are not bits: a device may write a page pinned for write at any
 * moment until it is unpinned, so a write pin is kept as a range in @pins
 * and every read reports it for as long as it stands (what type1 did for
 * pinned pages); unpinning logs it one last time.  Read pins are kept too,
 * only so that an unpin, which does not say whether it ends a read or a
 * write pin, never ends a write pin too early.  Pins are recorded only while
 * the IOAS has trackers: the first tracker to start takes the pins already
 * standing from iommufd's own record of them (iopt_pages::access_itree),
 * each as a write pin if its area is writable, and the last to stop drops
 * them, so that pinning costs nothing while no one tracks.
 *
 * Sources
 * -------
 * - iommufd_access_rw() with IOMMUFD_ACCESS_RW_WRITE: the range of each area
 *   it tried to write, whether or not the copy succeeded in full
 *   (iommufd_dirty_log_record());
 * - iommufd_access_pin_pages() with IOMMUFD_ACCESS_RW_WRITE, until unpinned
 *   (iommufd_dirty_log_pin() / _unpin());
 * - drivers of physical devices, for what their device wrote by DMA
 *   (iommufd_device_dirty_report(), any context): the report goes to the log
 *   the device's group publishes under RCU while attached;
 * - conservative trackers: every IOVA mapped writable is dirty on every
 *   read.  That is type1's behaviour for a device with no exact source:
 *   never a silent loss, but nothing converges, since all device-writable
 *   memory is sent again on every pass.  A HWPT is conservative when its
 *   device's driver declared IOMMUFD_DIRTY_SOURCE_CONSERVATIVE, or the
 *   dirty_conservative module parameter was on when it was allocated; an
 *   access when the parameter was on when its logging started.  The choice
 *   is made once: writing the parameter changes only what is allocated or
 *   started afterwards.
 *
 * If a chunk cannot be allocated for a new mapping, or the pins standing at
 * start cannot all be recorded, the tracker overflows: until it restarts,
 * its reads report every IOVA in their range.  Not only what is mapped
 * writable, as a conservative tracker does: the write the view could not
 * record may be to IOVA that has been unmapped since, and the view is what
 * keeps the bits of unmapped IOVA.  A read that cannot hand out the bits it took
 * (the user's bitmap cannot be written) puts them back.  Losing a write is
 * the one thing the log must never do.
 *
 * Unmap
 * -----
 * A view is keyed by IOVA and outlives the mappings: bits of an unmapped
 * range are reported when the IOVA is mapped and read again (QEMU 10 unmaps
 * without reading the bitmap first, and may map the same memory at the same
 * IOVA again).  The IOMMU's bits of an unmapped range cannot be kept, and a
 * conservative tracker's "mapped writable" goes with the area, so an
 * unmapped writable area is logged dirty as a whole in the view of every
 * tracker whose IOMMU keeps bits and of every conservative one
 * (iommufd_dirty_log_unmap()).  Pins left in an area that goes away end
 * with it.
 *
 * uAPI
 * ----
 * A device is dirty-capable when its IOMMU has dirty bits, its driver
 * declared a software source (iommufd_device_dirty_declare()), or the
 * dirty_conservative parameter is on.  IOMMU_GET_HW_INFO reports
 * IOMMU_HW_CAP_DIRTY_TRACKING for it and IOMMU_HWPT_ALLOC accepts
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING; the IOMMU driver sees the flag only when
 * it has the dirty bits itself, otherwise the HWPT is a software one (no
 * dirty_ops).  A software HWPT takes only devices whose writes software
 * sees: an exact one only devices whose driver reports all DMA (a device
 * whose IOMMU has dirty bits would write into a domain that keeps none), a
 * conservative one any device.  A software HWPT cannot be a nesting parent:
 * drivers would report stage-1 addresses the log cannot key.
 * IOMMU_HWPT_SET_DIRTY_TRACKING starts the HWPT's view empty (as the IOMMU
 * path clears its IOPTEs), and IOMMU_HWPT_GET_DIRTY_BITMAP returns the union
 * of the hardware bits and the view, with the hardware path's argument
 * checks and errnos, and EINVAL for a page size that is not a power of two.
 *
 * Emulated devices are not behind a HWPT: their vfio driver reports their
 * view through VFIO device DMA logging (drivers/vfio/access_log.c), with
 * iommufd_access_dirty_set() and iommufd_access_dirty_read().  An access's
 * view goes with it when it moves to another IOAS: it joins the new log
 * before it leaves the old one, so that the unpins of the move still reach
 * it, and keeps every bit it has not read.
 *
 * Locking
 * -------
 * Sources run with the io_pagetable's iova_rwsem held for read, or (driver
 * reports) under RCU only, in any context; they take no lock of the log and
 * walk @links under RCU.  A tracker joins or leaves a log with the
 * io_pagetable's iova_rwsem held for write and the log's @lock: so whether
 * an IOAS has trackers is stable for whoever holds iova_rwsem, which the pin
 * hooks rely on.  @lock also protects @pins and serialises the allocation of
 * chunks.  An access's tracker pointer is protected by its ioas_lock, a
 * HWPT's by the log's @lock.  A reader holds a reference on the tracker and
 * no lock while it writes the user's bitmap, so a page fault in the bitmap
 * never stalls a source.  Lock order: an access's ioas_lock, iova_rwsem,
 * then @lock, then pages->mutex.  Logs and trackers are freed an RCU grace
 * period after their last user, from a workqueue drained at module exit.
 *
 * Tracing
 * -------
 * include/trace/events/iommufd_dirty.h: tracking switched on and off, each
 * bitmap read with what the IOMMU and the log each found, and each range
 * the log records.  A read counts the bits of the user's bitmap before, in
 * between (when the IOMMU has a half) and after its two halves, but only
 * while its event is on.
 *
 * Naming: 'last' is inclusive, 'end' exclusive, as in the rest of iommufd.
 * A chunk is one page of a view's bits.
 */
#include <linux/atomic.h>
#include <linux/interval_tree.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/iommufd_dirty.h>
#include <linux/iova_bitmap.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/user_bitmap.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <uapi/linux/iommufd.h>

#include "dirty_log.h"
#include "io_pagetable.h"
#include "iommufd_private.h"

#define CREATE_TRACE_POINTS
#include <trace/events/iommufd_dirty.h>

#define DIRTY_CHUNK_BITS (PAGE_SIZE * BITS_PER_BYTE)
#define DIRTY_CHUNK_WORDS (PAGE_SIZE / sizeof(atomic_long_t))
/* Recently used chunks, by chunk number modulo this */
#define DIRTY_HINTS 16

static bool dirty_conservative;
module_param(dirty_conservative, bool, 0644);
MODULE_PARM_DESC(dirty_conservative,
		 "Devices with no exact dirty source may track: HWPTs allocated (and access logging started) while this is on report every IOVA mapped writable as dirty on every read (type1 behaviour: never loses a write, never converges)");

/* Frees logs and trackers after a grace period; drained at module exit */
static struct workqueue_struct *dirty_wq;
/*
 * Objects allocated and not yet freed, by kind, for the selftest's leak
 * checks (iommufd_dirty_objects_live())
 */
static atomic_t dirty_live[IOMMUFD_DIRTY_OBJ_NR];

static void dirty_obj_new(enum iommufd_dirty_obj kind)
{
	atomic_inc(&dirty_live[kind]);
}

static void dirty_obj_gone(enum iommufd_dirty_obj kind)
{
	atomic_dec(&dirty_live[kind]);
}

/* One page of a view's bits; immutable once published */
struct dirty_chunk {
	unsigned long index;
	/* atomic_long_t[DIRTY_CHUNK_WORDS], PAGE_SIZE bytes */
	atomic_long_t *bits;
};

/* A tracker's membership of one log */
struct dirty_link {
	/* In iommufd_dirty_log::links, under RCU */
	struct list_head node;
	struct iommufd_dirty_tracker *tracker;
	/* The log it is on, NULL when unused */
	struct iommufd_dirty_log *log;
	/*
	 * Left a log: a driver report may still be walking through @node,
	 * so it is not reused before a grace period
	 */
	bool stale;
};

struct iommufd_dirty_tracker {
	/* chunk number -> struct dirty_chunk; inserted under a log's lock */
	struct xarray chunks;
	/*
	 * The chunk last looked up in each slot, so that the write path
	 * mostly skips the xarray walk.  Written with release, read with
	 * acquire, never cleared: chunks live as long as the tracker.
	 */
	struct dirty_chunk *hints[DIRTY_HINTS];
	/* Its IOMMU keeps dirty bits: an unmapped area is logged whole */
	bool hw;
	/* Every writable mapped IOVA reads dirty */
	bool conservative;
	/* A chunk could not be allocated: all IOVA read reads dirty */
	bool overflow;
	/* An access is on two logs while it moves; a HWPT on one */
	struct dirty_link links[2];
	/* The owner's, and one per read in progress */
	struct kref ref;
	struct rcu_work free_work;
};

struct iommufd_dirty_log {
	struct io_pagetable *iopt;
	/* Orders trackers joining and leaving, protects @pins */
	struct mutex lock;
	/* struct dirty_link of every tracker, RCU */
	struct list_head links;
	/* Pinned IOVA ranges while there are trackers, struct dirty_pin */
	struct rb_root_cached pins;
	/*
	 * Some pins standing when the first tracker started could not be
	 * recorded: every tracker reports all the IOVA it reads until the last
	 * one leaves (and overflows if it leaves first).  Written under @lock
	 * and iova_rwsem held for write, read under either.
	 */
	bool pins_lost;
	/* Driver reports reach the log under RCU: freed after a grace period */
	struct rcu_work free_work;
};

/* The pins of one page-aligned IOVA range, all of exactly that range */
struct dirty_pin {
	struct interval_tree_node node;
	/* Pins of the range, for read or for write */
	unsigned int users;
	/* How many of them may be for write; the range is dirty while > 0 */
	unsigned int writers;
};

/**
 * iommufd_dirty_init() - set up software dirty tracking at module load
 *
 * Return: 0 or -ENOMEM.
 */
int iommufd_dirty_init(void)
{
	dirty_wq = alloc_workqueue("iommufd_dirty", WQ_UNBOUND, 0);
	return dirty_wq ? 0 : -ENOMEM;
}

/**
 * iommufd_dirty_exit() - wait for every free queued, at module unload
 *
 * Every log and tracker is gone from iommufd's objects by now, but their
 * frees may still wait for a grace period (queue_rcu_work()) or for the
 * workqueue; both run code of this module.
 */
void iommufd_dirty_exit(void)
{
	rcu_barrier();
	destroy_workqueue(dirty_wq);
}

/*
 * Is anyone tracking?  Sources ask after the write they log: the full
 * barrier orders the written data before the load of @links and pairs with
 * the one in dirty_tracker_join() after a tracker is linked.  So either the
 * source sees the tracker and logs the write, or everything the tracker's
 * owner reads of memory after starting sees the data.
 */
static bool dirty_log_tracked(struct iommufd_dirty_log *log)
{
	/* Pairs with smp_mb() in dirty_tracker_join() */
	smp_mb();
	return !list_empty(&log->links);
}

static struct iommufd_dirty_log *dirty_log_of(struct io_pagetable *iopt)
{
	/* Pairs with the cmpxchg_release() in dirty_log_get() */
	return smp_load_acquire(&iopt->dirty_log);
}

/* The iopt's log, allocated on first use.  May sleep. */
static struct iommufd_dirty_log *dirty_log_get(struct io_pagetable *iopt)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt), *old;

	if (log)
		return log;
	log = kzalloc(sizeof(*log), GFP_KERNEL_ACCOUNT);
	if (!log)
		return NULL;
	dirty_obj_new(IOMMUFD_DIRTY_OBJ_LOG);
	log->iopt = iopt;
	mutex_init(&log->lock);
	INIT_LIST_HEAD(&log->links);
	log->pins = RB_ROOT_CACHED;

	old = cmpxchg_release(&iopt->dirty_log, NULL, log);
	if (old) {
		mutex_destroy(&log->lock);
		kfree(log);
		dirty_obj_gone(IOMMUFD_DIRTY_OBJ_LOG);
		return dirty_log_of(iopt);
	}
	return log;
}

/* log->lock held */
static void dirty_pins_free(struct iommufd_dirty_log *log)
{
	struct interval_tree_node *node;

	while ((node = interval_tree_iter_first(&log->pins, 0, ULONG_MAX))) {
		interval_tree_remove(node, &log->pins);
		kfree(container_of(node, struct dirty_pin, node));
		dirty_obj_gone(IOMMUFD_DIRTY_OBJ_PIN);
	}
}

static void dirty_log_free(struct work_struct *work)
{
	struct iommufd_dirty_log *log =
		container_of(to_rcu_work(work), struct iommufd_dirty_log,
			     free_work);

	mutex_lock(&log->lock);
	WARN_ON(!list_empty(&log->links));
	dirty_pins_free(log);
	mutex_unlock(&log->lock);
	mutex_destroy(&log->lock);
	kfree(log);
	dirty_obj_gone(IOMMUFD_DIRTY_OBJ_LOG);
}

/**
 * iommufd_dirty_log_destroy() - free the io_pagetable's log
 * @iopt: the io_pagetable being destroyed; nothing else uses it any more
 *
 * A driver report that found the log through a group just before the group
 * detached may still be running: the log is freed after an RCU grace period.
 */
void iommufd_dirty_log_destroy(struct io_pagetable *iopt)
{
	struct iommufd_dirty_log *log = iopt->dirty_log;

	if (!log)
		return;
	iopt->dirty_log = NULL;
	INIT_RCU_WORK(&log->free_work, dirty_log_free);
	queue_rcu_work(dirty_wq, &log->free_work);
}

static void dirty_chunk_free(struct dirty_chunk *chunk)
{
	if (!chunk)
		return;
	kfree(chunk->bits);
	kfree(chunk);
	dirty_obj_gone(IOMMUFD_DIRTY_OBJ_CHUNK);
}

static struct iommufd_dirty_tracker *dirty_tracker_alloc(bool hw,
							 bool conservative)
{
	struct iommufd_dirty_tracker *tracker;
	int i;

	tracker = kzalloc(sizeof(*tracker), GFP_KERNEL_ACCOUNT);
	if (!tracker)
		return NULL;
	xa_init(&tracker->chunks);
	tracker->hw = hw;
	tracker->conservative = conservative;
	for (i = 0; i < ARRAY_SIZE(tracker->links); i++) {
		INIT_LIST_HEAD(&tracker->links[i].node);
		tracker->links[i].tracker = tracker;
	}
	kref_init(&tracker->ref);
	dirty_obj_new(IOMMUFD_DIRTY_OBJ_TRACKER);
	return tracker;
}

static void dirty_tracker_free(struct work_struct *work)
{
	struct iommufd_dirty_tracker *tracker =
		container_of(to_rcu_work(work), struct iommufd_dirty_tracker,
			     free_work);
	struct dirty_chunk *chunk;
	unsigned long index;

	xa_for_each(&tracker->chunks, index, chunk)
		dirty_chunk_free(chunk);
	xa_destroy(&tracker->chunks);
	kfree(tracker);
	dirty_obj_gone(IOMMUFD_DIRTY_OBJ_TRACKER);
}

/**
 * iommufd_dirty_objects_live() - objects of a kind allocated and not yet freed
 * @kind: logs, trackers, chunks or pin records
 *
 * Logs, trackers and their chunks are freed after an RCU grace period and a
 * workqueue pass, so a count that should drop may take a moment to.
 *
 * Return: the count, over every IOAS.
 */
unsigned int iommufd_dirty_objects_live(enum iommufd_dirty_obj kind)
{
	return atomic_read(&dirty_live[kind]);
}

/* Sources may still be marking it: free after a grace period */
static void dirty_tracker_release(struct kref *ref)
{
	struct iommufd_dirty_tracker *tracker =
		container_of(ref, struct iommufd_dirty_tracker, ref);

	INIT_RCU_WORK(&tracker->free_work, dirty_tracker_free);
	queue_rcu_work(dirty_wq, &tracker->free_work);
}

static void dirty_tracker_put(struct iommufd_dirty_tracker *tracker)
{
	if (tracker)
		kref_put(&tracker->ref, dirty_tracker_release);
}

/*
 * Allocate the chunks of [iova, last] that the tracker lacks.  Inserters
 * hold the lock of a log the tracker is on; a tracker that moves is on two,
 * so a chunk may be inserted by another inserter first.
 */
static int dirty_tracker_alloc_range(struct iommufd_dirty_tracker *tracker,
				     unsigned long iova, unsigned long last)
{
	unsigned long index = (iova >> PAGE_SHIFT) / DIRTY_CHUNK_BITS;
	unsigned long last_index = (last >> PAGE_SHIFT) / DIRTY_CHUNK_BITS;
	struct dirty_chunk *chunk;
	int rc;

	for (; index <= last_index; index++) {
		if (xa_load(&tracker->chunks, index))
			continue;
		chunk = kzalloc(sizeof(*chunk), GFP_KERNEL_ACCOUNT);
		if (!chunk)
			return -ENOMEM;
		dirty_obj_new(IOMMUFD_DIRTY_OBJ_CHUNK);
		chunk->bits = kzalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
		if (!chunk->bits) {
			dirty_chunk_free(chunk);
			return -ENOMEM;
		}
		chunk->index = index;
		rc = xa_insert(&tracker->chunks, index, chunk,
			       GFP_KERNEL_ACCOUNT);
		if (rc) {
			dirty_chunk_free(chunk);
			if (rc != -EBUSY)
				return rc;
		}
	}
	return 0;
}

/* The chunks of every writable area of @iopt; iova_rwsem held */
static int dirty_tracker_alloc_areas(struct iommufd_dirty_tracker *tracker,
				     struct io_pagetable *iopt)
{
	struct iopt_area *area;
	int rc;

	lockdep_assert_held(&iopt->iova_rwsem);
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
		if (!(area->iommu_prot & IOMMU_WRITE))
			continue;
		rc = dirty_tracker_alloc_range(tracker, iopt_area_iova(area),
					       iopt_area_last_iova(area));
		if (rc)
			return rc;
	}
	return 0;
}

static void dirty_tracker_overflow(struct iommufd_dirty_tracker *tracker)
{
	if (READ_ONCE(tracker->overflow))
		return;
	WRITE_ONCE(tracker->overflow, true);
	pr_warn_ratelimited("iommufd: dirty log out of memory, reporting all IOVA read until tracking restarts\n");
}

/* Chunk @index of the tracker's view, or NULL */
static struct dirty_chunk *dirty_chunk_find(struct iommufd_dirty_tracker *tracker,
					    unsigned long index)
{
	struct dirty_chunk **hint = &tracker->hints[index % DIRTY_HINTS];
	/* Pairs with the smp_store_release() below: *chunk is initialised */
	struct dirty_chunk *chunk = smp_load_acquire(hint);

	if (chunk && chunk->index == index)
		return chunk;
	chunk = xa_load(&tracker->chunks, index);
	if (chunk)
		/* Pairs with the smp_load_acquire() above, on any CPU */
		smp_store_release(hint, chunk);
	return chunk;
}

/* Set @nbits bits of @words from bit @start */
static void dirty_bits_set(atomic_long_t *words, unsigned long start,
			   unsigned long nbits)
{
	unsigned long end = start + nbits;

	while (start < end) {
		unsigned long lo = start % BITS_PER_LONG;
		unsigned long n = min(end - start, BITS_PER_LONG - lo);
		unsigned long mask = GENMASK(lo + n - 1, lo);
		atomic_long_t *word = &words[start / BITS_PER_LONG];

		/* Hot pages are written again and again: skip the atomic */
		if ((atomic_long_read(word) & mask) != mask)
			atomic_long_or(mask, word);
		start += n;
	}
}

/*
 * Mark [iova, last] in the tracker's view.  Only the chunks it has are
 * touched (see the design comment), so any length costs what it covers.
 * Any context; never sleeps.
 */
static void dirty_tracker_mark(struct iommufd_dirty_tracker *tracker,
			       unsigned long iova, unsigned long last)
{
	unsigned long page = iova >> PAGE_SHIFT;
	unsigned long last_page = last >> PAGE_SHIFT;
	unsigned long index = page / DIRTY_CHUNK_BITS;
	unsigned long last_index = last_page / DIRTY_CHUNK_BITS;
	struct dirty_chunk *chunk;

	if (index == last_index) {
		chunk = dirty_chunk_find(tracker, index);
		if (chunk)
			dirty_bits_set(chunk->bits, page % DIRTY_CHUNK_BITS,
				       last_page - page + 1);
		return;
	}
	xa_for_each_range(&tracker->chunks, index, chunk, index, last_index) {
		unsigned long base = index * DIRTY_CHUNK_BITS;
		unsigned long lo = max(page, base) - base;
		unsigned long hi = min(last_page - base, DIRTY_CHUNK_BITS - 1);

		dirty_bits_set(chunk->bits, lo, hi - lo + 1);
	}
}

/*
 * @source: IOMMUFD_DIRTY_SRC_*, for the trace.  With the io_pagetable's
 * iova_rwsem held, which no tracker joins or leaves under: the list is
 * walked without RCU, which the write path of emulated devices would pay
 * for on every write.
 */
static void dirty_log_mark(struct iommufd_dirty_log *log, unsigned long iova,
			   unsigned long last, u8 source)
{
	struct dirty_link *link;

	lockdep_assert_held(&log->iopt->iova_rwsem);
	trace_iommufd_dirty_log_mark(source, iova, (u64)last - iova + 1);
	list_for_each_entry(link, &log->links, node)
		dirty_tracker_mark(link->tracker, iova, last);
}

/* dirty_log_mark() for driver reports: any context, under RCU only */
static void dirty_log_mark_rcu(struct iommufd_dirty_log *log,
			       unsigned long iova, unsigned long last)
{
	struct dirty_link *link;

	trace_iommufd_dirty_log_mark(IOMMUFD_DIRTY_SRC_REPORT, iova,
				     (u64)last - iova + 1);
	list_for_each_entry_rcu(link, &log->links, node)
		dirty_tracker_mark(link->tracker, iova, last);
}

/**
 * iommufd_dirty_log_record() - log a write to [iova, iova + length)
 * @iopt: the io_pagetable the IOVA belongs to
 * @iova: first byte written
 * @length: bytes written, or that a failed copy may have written
 *
 * Called by iommufd_access_rw() for every area it wrote or tried to write.
 * Nothing happens unless the IOAS has trackers.  Context: iova_rwsem held
 * for read.
 */
void iommufd_dirty_log_record(struct io_pagetable *iopt, unsigned long iova,
			      unsigned long length)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);

	if (!log || !length || !dirty_log_tracked(log))
		return;
	dirty_log_mark(log, iova, iova + length - 1, IOMMUFD_DIRTY_SRC_WRITE);
}

/**
 * iommufd_dirty_log_map() - a range is about to be mapped
 * @iopt: the io_pagetable
 * @iova: first byte of the new areas
 * @length: bytes
 * @iommu_prot: their IOMMU_* protection
 *
 * Gives every tracker the chunks of a writable range before the IOMMU can
 * reach it, so that no source ever allocates.  A tracker that cannot have
 * them overflows (reports all IOVA it reads) instead of failing the map.
 *
 * Context: process context, no iova_rwsem held; the areas are in the
 * io_pagetable but not yet in any domain.
 */
void iommufd_dirty_log_map(struct io_pagetable *iopt, unsigned long iova,
			   unsigned long length, int iommu_prot)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	struct dirty_link *link;

	if (!log || !length || !(iommu_prot & IOMMU_WRITE))
		return;
	mutex_lock(&log->lock);
	list_for_each_entry(link, &log->links, node)
		if (dirty_tracker_alloc_range(link->tracker, iova,
					      iova + length - 1))
			dirty_tracker_overflow(link->tracker);
	mutex_unlock(&log->lock);
}

/* log->lock held: end every pin record overlapping [iova, last] */
static bool dirty_pins_end(struct iommufd_dirty_log *log, unsigned long iova,
			   unsigned long last)
{
	struct interval_tree_node *node, *next;
	bool was_write = false;

	lockdep_assert_held(&log->lock);
	for (node = interval_tree_iter_first(&log->pins, iova, last); node;
	     node = next) {
		struct dirty_pin *pin = container_of(node, struct dirty_pin,
						     node);

		next = interval_tree_iter_next(node, iova, last);
		was_write |= pin->writers;
		interval_tree_remove(node, &log->pins);
		kfree(pin);
		dirty_obj_gone(IOMMUFD_DIRTY_OBJ_PIN);
	}
	return was_write;
}

/**
 * iommufd_dirty_log_unmap() - an area is about to be unmapped
 * @iopt: the io_pagetable
 * @area: the area; no access pins it any more
 *
 * What the views hold for the area stays there: the bits are keyed by IOVA,
 * and read again once the IOVA is mapped and read (userspace such as QEMU 10
 * unmaps without reading the bitmap first, and may map the same memory at
 * the same IOVA again).  The IOMMU's own dirty bits go with the IOPTEs and
 * cannot be read into a view (iova_bitmap writes only user memory), so a
 * writable area is logged dirty as a whole in the views of trackers whose
 * IOMMU keeps bits: conservative, never lossy.  Pin records still standing
 * in the area are stale (iommufd unmaps only an area no access pins), as
 * when a driver unpinned in other pieces than it pinned: they end here,
 * logged one last time.
 *
 * Context: iova_rwsem held for write, domains_rwsem for read.
 */
void iommufd_dirty_log_unmap(struct io_pagetable *iopt, struct iopt_area *area)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	unsigned long iova = iopt_area_iova(area);
	unsigned long last = iopt_area_last_iova(area);
	struct dirty_link *link;
	bool marked = false, was_write;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	if (!log || list_empty(&log->links))
		return;
	mutex_lock(&log->lock);
	was_write = dirty_pins_end(log, ALIGN_DOWN(iova, PAGE_SIZE),
				   last | (PAGE_SIZE - 1));
	mutex_unlock(&log->lock);
	if (!(area->iommu_prot & IOMMU_WRITE))
		return;
	if (was_write) {
		dirty_log_mark(log, iova, last, IOMMUFD_DIRTY_SRC_UNMAP);
		return;
	}
	/*
	 * The IOMMU's bits of the area go with its IOPTEs, and a conservative
	 * tracker's "mapped writable" with the area: both keep it in the view
	 */
	list_for_each_entry(link, &log->links, node) {
		if (!link->tracker->hw && !link->tracker->conservative)
			continue;
		dirty_tracker_mark(link->tracker, iova, last);
		marked = true;
	}
	if (marked)
		trace_iommufd_dirty_log_mark(IOMMUFD_DIRTY_SRC_UNMAP, iova,
					     (u64)last - iova + 1);
}

/* The pins of exactly [iova, last], if any; log->lock held */
static struct dirty_pin *dirty_pin_find(struct iommufd_dirty_log *log,
					unsigned long iova, unsigned long last)
{
	struct interval_tree_node *node;

	lockdep_assert_held(&log->lock);
	for (node = interval_tree_iter_first(&log->pins, iova, last); node;
	     node = interval_tree_iter_next(node, iova, last))
		if (node->start == iova && node->last == last)
			return container_of(node, struct dirty_pin, node);
	return NULL;
}

/* Add @users pins of [iova, last], @writers of them for write; lock held */
static int dirty_pin_add(struct iommufd_dirty_log *log, unsigned long iova,
			 unsigned long last, unsigned int users,
			 unsigned int writers)
{
	struct dirty_pin *pin = dirty_pin_find(log, iova, last);

	if (!pin) {
		pin = kzalloc(sizeof(*pin), GFP_KERNEL_ACCOUNT);
		if (!pin)
			return -ENOMEM;
		dirty_obj_new(IOMMUFD_DIRTY_OBJ_PIN);
		pin->node.start = iova;
		pin->node.last = last;
		interval_tree_insert(&pin->node, &log->pins);
	}
	pin->users += users;
	pin->writers += writers;
	return 0;
}

/*
 * The first tracker of the IOAS starts: record the pins already standing,
 * from iommufd's own record of them.  Which of them are for write is not
 * known; any in a writable area may be.  iova_rwsem held for write (no pin
 * comes or goes), log->lock held.
 */
static int dirty_pins_take_standing(struct iommufd_dirty_log *log)
{
	struct io_pagetable *iopt = log->iopt;
	struct interval_tree_node *node;
	struct iopt_area *area;
	int rc = 0;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	lockdep_assert_held(&log->lock);
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area && !rc;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
		unsigned long first = iopt_area_index(area);
		unsigned long last = iopt_area_last_index(area);
		/* The IOVA of the page of index @first */
		unsigned long base = iopt_area_iova(area) - area->page_offset;
		struct iopt_pages *pages = area->pages;

		if (!pages || !(area->iommu_prot & IOMMU_WRITE))
			continue;
		mutex_lock(&pages->mutex);
		for (node = interval_tree_iter_first(&pages->access_itree,
						     first, last);
		     node && !rc;
		     node = interval_tree_iter_next(node, first, last)) {
			struct iopt_pages_access *access =
				container_of(node, struct iopt_pages_access,
					     node);
			unsigned long lo = max(node->start, first);
			unsigned long hi = min(node->last, last);

			rc = dirty_pin_add(log, base + (lo - first) * PAGE_SIZE,
					   base + (hi - first + 1) * PAGE_SIZE - 1,
					   access->users, access->users);
		}
		mutex_unlock(&pages->mutex);
	}
	return rc;
}

/**
 * iommufd_dirty_log_pin() - note a pin of [iova, iova + length)
 * @iopt: the io_pagetable the IOVA belongs to
 * @iova: first byte pinned
 * @length: bytes pinned
 * @flags: the pin's IOMMUFD_ACCESS_RW_* flags
 *
 * While the IOAS has trackers, a write pin reads as dirty until it is
 * unpinned.  Read pins are counted too: iommufd_access_unpin_pages() does
 * not say which pin of a range ends, so a range pinned for read and for
 * write stays dirty until the last of its pins ends (see
 * iommufd_dirty_log_unpin()).  Without trackers nothing is recorded: the
 * first tracker takes the pins standing then (dirty_pins_take_standing()).
 *
 * Context: before the pages are pinned, with iova_rwsem held for read.
 * Return: 0, or -ENOMEM (then the pin must fail).
 */
int iommufd_dirty_log_pin(struct io_pagetable *iopt, unsigned long iova,
			  unsigned long length, unsigned int flags)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	bool write = flags & IOMMUFD_ACCESS_RW_WRITE;
	unsigned long last = iova + length - 1;
	int rc;

	lockdep_assert_held(&iopt->iova_rwsem);
	/* Stable: trackers join and leave with iova_rwsem held for write */
	if (!log || list_empty(&log->links))
		return 0;

	mutex_lock(&log->lock);
	rc = dirty_pin_add(log, ALIGN_DOWN(iova, PAGE_SIZE),
			   last | (PAGE_SIZE - 1), 1, write);
	mutex_unlock(&log->lock);
	if (rc)
		return rc;

	if (write && dirty_log_tracked(log))
		dirty_log_mark(log, iova, last, IOMMUFD_DIRTY_SRC_PIN);
	return 0;
}

/*
 * One pin of @pin's range ends.  Which one is not known, so the range keeps
 * reading dirty while it has pins left and any of them may be for write.
 * Return: the range had write pins; log->lock held.
 */
static bool dirty_pin_put(struct iommufd_dirty_log *log, struct dirty_pin *pin)
{
	bool was_write = pin->writers;

	lockdep_assert_held(&log->lock);
	pin->users--;
	pin->writers = min(pin->writers, pin->users);
	if (!pin->users) {
		interval_tree_remove(&pin->node, &log->pins);
		kfree(pin);
		dirty_obj_gone(IOMMUFD_DIRTY_OBJ_PIN);
	}
	return was_write;
}

/**
 * iommufd_dirty_log_unpin() - end a pin of [iova, iova + length)
 * @iopt: the io_pagetable the IOVA belongs to
 * @iova: first byte of the pin
 * @length: bytes of the pin, as pinned
 *
 * A range that had write pins is logged one last time (the device may have
 * written just before).  iommufd wants unpins to match pins exactly; a
 * driver that pins page by page and unpins them as one range (kvmgt does)
 * trips a WARN in iopt_pages_remove_access(), and here ends one pin of
 * every pinned range inside the one unpinned.  One that unpins less than a
 * pinned range leaves the range pinned for iommufd too; its record ends
 * when the area is unmapped (iommufd_dirty_log_unmap()) or tracking stops.
 *
 * Context: iova_rwsem held for read.
 */
void iommufd_dirty_log_unpin(struct io_pagetable *iopt, unsigned long iova,
			     unsigned long length)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	unsigned long last = iova + length - 1;
	unsigned long pin_iova = ALIGN_DOWN(iova, PAGE_SIZE);
	unsigned long pin_last = last | (PAGE_SIZE - 1);
	struct interval_tree_node *node, *next;
	struct dirty_pin *pin;
	bool was_write = false;

	lockdep_assert_held(&iopt->iova_rwsem);
	if (!log || list_empty(&log->links))
		return;

	mutex_lock(&log->lock);
	pin = dirty_pin_find(log, pin_iova, pin_last);
	if (pin) {
		was_write = dirty_pin_put(log, pin);
	} else {
		for (node = interval_tree_iter_first(&log->pins, pin_iova,
						     pin_last);
		     node; node = next) {
			next = interval_tree_iter_next(node, pin_iova,
						       pin_last);
			if (node->start < pin_iova || node->last > pin_last)
				continue;
			pin = container_of(node, struct dirty_pin, node);
			was_write |= dirty_pin_put(log, pin);
		}
	}
	mutex_unlock(&log->lock);

	if (was_write && dirty_log_tracked(log))
		dirty_log_mark(log, iova, last, IOMMUFD_DIRTY_SRC_UNPIN);
}

/*
 * @tracker joins @log through a free link.  The caller allocated the chunks
 * of every writable area (dirty_tracker_alloc_areas()) but areas may have
 * been mapped since: they are allocated again here, and a tracker that
 * cannot have them overflows.  The first tracker records the pins standing.
 * iova_rwsem held for write, log->lock held.
 */
static void dirty_tracker_join(struct iommufd_dirty_log *log,
			       struct iommufd_dirty_tracker *tracker)
{
	struct dirty_link *link = &tracker->links[0];

	lockdep_assert_held_write(&log->iopt->iova_rwsem);
	lockdep_assert_held(&log->lock);
	if (link->log)
		link = &tracker->links[1];
	if (WARN_ON(link->log))
		return;
	if (WARN_ON(link->stale))
		return;
	if (dirty_tracker_alloc_areas(tracker, log->iopt))
		dirty_tracker_overflow(tracker);
	if (list_empty(&log->links) && dirty_pins_take_standing(log)) {
		/* Unrecorded pins may be written: every tracker reports all */
		dirty_pins_free(log);
		log->pins_lost = true;
		pr_warn_ratelimited("iommufd: dirty log out of memory for pins, reporting all IOVA read until tracking stops\n");
	}
	link->log = log;
	list_add_tail_rcu(&link->node, &log->links);
	/* Pairs with dirty_log_tracked() */
	smp_mb();
}

/* iova_rwsem held for write, log->lock held */
static void dirty_tracker_leave(struct iommufd_dirty_log *log,
				struct iommufd_dirty_tracker *tracker)
{
	struct dirty_link *link = &tracker->links[0];

	lockdep_assert_held_write(&log->iopt->iova_rwsem);
	lockdep_assert_held(&log->lock);
	if (link->log != log)
		link = &tracker->links[1];
	if (WARN_ON(link->log != log))
		return;
	list_del_rcu(&link->node);
	link->log = NULL;
	link->stale = true;
	/*
	 * The lost pins' unpins are not logged: a tracker that moves on to
	 * another log must go on reporting as this one does
	 */
	if (log->pins_lost)
		dirty_tracker_overflow(tracker);
	if (list_empty(&log->links)) {
		dirty_pins_free(log);
		log->pins_lost = false;
	}
}

/*
 * Make the link dirty_tracker_join() will use reusable: after a grace
 * period no driver report walks through a link that left a log.  Called
 * with no log lock held (the wait would stall the IOAS).
 */
static void dirty_tracker_links_ready(struct iommufd_dirty_tracker *tracker)
{
	struct dirty_link *link = &tracker->links[0];

	if (link->log)
		link = &tracker->links[1];
	if (!link->stale)
		return;
	synchronize_rcu();
	link->stale = false;
}

static void dirty_log_lock(struct iommufd_dirty_log *log)
{
	down_write(&log->iopt->iova_rwsem);
	mutex_lock(&log->lock);
}

static void dirty_log_unlock(struct iommufd_dirty_log *log)
{
	mutex_unlock(&log->lock);
	up_write(&log->iopt->iova_rwsem);
}

/*
 * A new tracker for @log, with the chunks of every writable area allocated
 * (so that a start fails cleanly on memory), not yet joined.
 */
static struct iommufd_dirty_tracker *
dirty_tracker_prepare(struct iommufd_dirty_log *log, bool hw,
		      bool conservative)
{
	struct iommufd_dirty_tracker *tracker;
	int rc;

	tracker = dirty_tracker_alloc(hw, conservative);
	if (!tracker)
		return ERR_PTR(-ENOMEM);
	down_read(&log->iopt->iova_rwsem);
	mutex_lock(&log->lock);
	rc = dirty_tracker_alloc_areas(tracker, log->iopt);
	mutex_unlock(&log->lock);
	up_read(&log->iopt->iova_rwsem);
	if (rc) {
		dirty_tracker_put(tracker);
		return ERR_PTR(rc);
	}
	return tracker;
}

/*
 * A read in progress: the user's bitmap, the range it covers, and the
 * ranges to report besides the tracker's bits (standing write pins, all
 * writable IOVA of a conservative tracker, all of the range of an
 * overflowed one), gathered under the locks so
 * that the user's bitmap is written with none held.
 */
struct dirty_read {
	struct iova_bitmap *bitmap;
	unsigned long iova;
	unsigned long last;
	bool clear;
	/* One chunk's bits taken out of the tracker */
	unsigned long *taken;
	/* [start, last] pairs */
	unsigned long (*ranges)[2];
	unsigned int nranges;
	unsigned int max_ranges;
};

static int dirty_read_init(struct dirty_read *read, unsigned long iova,
			   unsigned long last, bool clear)
{
	*read = (struct dirty_read){ .iova = iova, .last = last,
				     .clear = clear };
	read->taken = kmalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	return read->taken ? 0 : -ENOMEM;
}

static void dirty_read_destroy(struct dirty_read *read)
{
	kvfree(read->ranges);
	kfree(read->taken);
}

/* Note [iova, last], clipped to the read's range, to be reported */
static int dirty_read_add(struct dirty_read *read, unsigned long iova,
			  unsigned long last)
{
	iova = max(iova, read->iova);
	last = min(last, read->last);
	if (iova > last)
		return 0;
	if (read->nranges &&
	    read->ranges[read->nranges - 1][1] + 1 == iova) {
		read->ranges[read->nranges - 1][1] = last;
		return 0;
	}
	if (read->nranges == read->max_ranges) {
		unsigned int n = max(16U, read->max_ranges * 2);
		void *ranges = kvrealloc(read->ranges,
					 array_size(n, sizeof(*read->ranges)),
					 GFP_KERNEL_ACCOUNT);

		if (!ranges)
			return -ENOMEM;
		read->ranges = ranges;
		read->max_ranges = n;
	}
	read->ranges[read->nranges][0] = iova;
	read->ranges[read->nranges][1] = last;
	read->nranges++;
	return 0;
}

/* Every writable area in the read's range; iova_rwsem held */
static int dirty_read_add_writable(struct dirty_read *read,
				   struct io_pagetable *iopt)
{
	struct iopt_area *area;
	int rc;

	lockdep_assert_held(&iopt->iova_rwsem);
	for (area = iopt_area_iter_first(iopt, read->iova, read->last); area;
	     area = iopt_area_iter_next(area, read->iova, read->last)) {
		if (!(area->iommu_prot & IOMMU_WRITE))
			continue;
		rc = dirty_read_add(read, iopt_area_iova(area),
				    iopt_area_last_iova(area));
		if (rc)
			return rc;
	}
	return 0;
}

/* The standing write pins in the read's range; iova_rwsem held */
static int dirty_read_add_pins(struct dirty_read *read,
			       struct iommufd_dirty_log *log)
{
	struct interval_tree_node *node;
	int rc = 0;

	mutex_lock(&log->lock);
	for (node = interval_tree_iter_first(&log->pins, read->iova,
					     read->last);
	     node && !rc;
	     node = interval_tree_iter_next(node, read->iova, read->last))
		if (container_of(node, struct dirty_pin, node)->writers)
			rc = dirty_read_add(read, node->start, node->last);
	mutex_unlock(&log->lock);
	return rc;
}

/*
 * Gather what the tracker reports of @iopt besides its bits.  Allocates,
 * so it runs before anything is taken out of any view.  iova_rwsem held.
 */
static int dirty_read_gather(struct dirty_read *read,
			     struct iommufd_dirty_tracker *tracker,
			     struct io_pagetable *iopt)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	int rc = 0;

	lockdep_assert_held(&iopt->iova_rwsem);
	/*
	 * What an overflowed view could not record may have been written at
	 * IOVA unmapped since, or mapped again read-only: all of the range,
	 * which holds the pins too (gathering them could only fail)
	 */
	if (READ_ONCE(tracker->overflow) || (log && READ_ONCE(log->pins_lost)))
		return dirty_read_add(read, read->iova, read->last);
	if (tracker->conservative)
		rc = dirty_read_add_writable(read, iopt);
	if (!rc && log)
		rc = dirty_read_add_pins(read, log);
	return rc;
}

/* Report [iova, last], clipped to the read's range */
static int dirty_read_emit(struct dirty_read *read, unsigned long iova,
			   unsigned long last)
{
	iova = max(iova, read->iova);
	last = min(last, read->last);
	if (iova > last)
		return 0;
	return iova_bitmap_set(read->bitmap, iova, last - iova + 1);
}

/* Report the bits of read->taken, chunk @index, merging runs of pages */
static int dirty_read_emit_taken(struct dirty_read *read, unsigned long index,
				 unsigned long lo_word, unsigned long hi_word)
{
	unsigned long base = index * DIRTY_CHUNK_BITS;
	unsigned long bit = lo_word * BITS_PER_LONG;
	unsigned long end = (hi_word + 1) * BITS_PER_LONG;
	unsigned long run_end;
	int rc;

	for (;;) {
		bit = find_next_bit(read->taken, end, bit);
		if (bit >= end)
			return 0;
		run_end = find_next_zero_bit(read->taken, end, bit);
		rc = dirty_read_emit(read, (base + bit) << PAGE_SHIFT,
				     ((base + run_end) << PAGE_SHIFT) - 1);
		if (rc)
			return rc;
		bit = run_end;
	}
}

/*
 * Bits of the read's first and last page, when the range covers them only
 * in part (a page_size below PAGE_SIZE, or a DMA logging range that is not
 * page aligned): they are reported but not taken, the rest of the page is
 * still to be read.
 */
static unsigned long dirty_read_partial(struct dirty_read *read,
					unsigned long base, unsigned long w)
{
	unsigned long first = read->iova >> PAGE_SHIFT;
	unsigned long last = read->last >> PAGE_SHIFT;
	unsigned long mask = 0;

	if (offset_in_page(read->iova) && first >= base + w * BITS_PER_LONG &&
	    first < base + (w + 1) * BITS_PER_LONG)
		mask |= BIT(first % BITS_PER_LONG);
	if (offset_in_page(read->last + 1) &&
	    last >= base + w * BITS_PER_LONG &&
	    last < base + (w + 1) * BITS_PER_LONG)
		mask |= BIT(last % BITS_PER_LONG);
	return mask;
}

/*
 * Take (or, without read->clear, copy) the tracker's bits of the read's
 * range and report them, one chunk at a time.  No lock held: sources and
 * other readers of the same view use atomics only.
 *
 * When the user's bitmap cannot be written the ioctl fails, and userspace
 * drops the bitmap with every bit this read took: the chunk that failed
 * gets its bits back exactly, the chunks before it (already handed out)
 * have the span of pages taken from them logged again, and nothing after
 * it is taken.  The next read reports them all, and maybe more.
 */
static int dirty_read_bits(struct dirty_read *read,
			   struct iommufd_dirty_tracker *tracker)
{
	unsigned long first_page = read->iova >> PAGE_SHIFT;
	unsigned long last_page = read->last >> PAGE_SHIFT;
	unsigned long taken_first = ULONG_MAX, taken_last = 0;
	struct dirty_chunk *chunk;
	unsigned long index;
	int rc;

	xa_for_each_range(&tracker->chunks, index, chunk,
			  first_page / DIRTY_CHUNK_BITS,
			  last_page / DIRTY_CHUNK_BITS) {
		unsigned long base = index * DIRTY_CHUNK_BITS;
		unsigned long lo = max(first_page, base) - base;
		unsigned long hi = min(last_page - base, DIRTY_CHUNK_BITS - 1);
		unsigned long w, lo_word = lo / BITS_PER_LONG;
		unsigned long hi_word = hi / BITS_PER_LONG;
		bool any = false;

		for (w = lo_word; w <= hi_word; w++) {
			unsigned long wlo = max(lo, w * BITS_PER_LONG);
			unsigned long whi = min(hi, w * BITS_PER_LONG +
						BITS_PER_LONG - 1);
			unsigned long mask = GENMASK(whi % BITS_PER_LONG,
						     wlo % BITS_PER_LONG);
			unsigned long take = mask & ~dirty_read_partial(read,
									base, w);
			atomic_long_t *word = &chunk->bits[w];

			read->taken[w] = atomic_long_read(word) & mask;
			if (read->taken[w] && read->clear && take)
				read->taken[w] =
					atomic_long_fetch_andnot(take, word) &
					mask;
			any |= read->taken[w];
		}
		if (!any)
			continue;
		rc = dirty_read_emit_taken(read, index, lo_word, hi_word);
		if (rc) {
			if (!read->clear)
				return rc;
			for (w = lo_word; w <= hi_word; w++)
				if (read->taken[w])
					atomic_long_or(read->taken[w],
						       &chunk->bits[w]);
			if (taken_first <= taken_last)
				dirty_tracker_mark(tracker,
						   taken_first << PAGE_SHIFT,
						   ((taken_last + 1) << PAGE_SHIFT) - 1);
			return rc;
		}
		taken_first = min(taken_first, base + lo);
		taken_last = base + hi;
	}
	return 0;
}

/*
 * Report the gathered ranges, then the tracker's bits (which puts back what
 * it took if it fails); no lock held.
 */
static int dirty_read_report(struct dirty_read *read,
			     struct iommufd_dirty_tracker *tracker)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < read->nranges && !rc; i++)
		rc = dirty_read_emit(read, read->ranges[i][0],
				     read->ranges[i][1]);
	if (!rc)
		rc = dirty_read_bits(read, tracker);
	return rc;
}

/*
 * A read failed after it took the IOMMU's bits, which are in no view now
 * (the IOMMU's half failed part-way, or the software half failed after
 * it).  Log every writable IOVA of the range in the tracker's view instead,
 * so the next read reports them: the IOMMU's bits are only ever of
 * writable mapped IOVA.  Takes iova_rwsem for read.
 */
static void dirty_read_put_back(struct iommufd_dirty_tracker *tracker,
				struct io_pagetable *iopt, unsigned long iova,
				unsigned long last)
{
	struct iopt_area *area;

	down_read(&iopt->iova_rwsem);
	for (area = iopt_area_iter_first(iopt, iova, last); area;
	     area = iopt_area_iter_next(area, iova, last))
		if (area->iommu_prot & IOMMU_WRITE)
			dirty_tracker_mark(tracker,
					   max(iova, iopt_area_iova(area)),
					   min(last, iopt_area_last_iova(area)));
	up_read(&iopt->iova_rwsem);
}

/**
 * iommufd_dirty_log_bytes() - the memory the io_pagetable's log takes
 * @iopt: the io_pagetable
 *
 * Return: bytes allocated for the log, the views of its trackers and its
 * pin records, in the kmalloc sizes they take (the xarrays' own nodes not
 * counted); 0 when the io_pagetable has no log.
 */
size_t iommufd_dirty_log_bytes(struct io_pagetable *iopt)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	struct interval_tree_node *node;
	struct dirty_chunk *chunk;
	struct dirty_link *link;
	unsigned long index;
	size_t bytes;

	if (!log)
		return 0;
	bytes = kmalloc_size_roundup(sizeof(*log));
	mutex_lock(&log->lock);
	list_for_each_entry(link, &log->links, node) {
		bytes += kmalloc_size_roundup(sizeof(*link->tracker));
		xa_for_each(&link->tracker->chunks, index, chunk)
			bytes += kmalloc_size_roundup(sizeof(*chunk)) +
				 PAGE_SIZE;
	}
	for (node = interval_tree_iter_first(&log->pins, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX))
		bytes += kmalloc_size_roundup(sizeof(struct dirty_pin));
	mutex_unlock(&log->lock);
	return bytes;
}

/**
 * iommufd_dirty_hw_capable() - does the device's IOMMU have dirty bits?
 * @idev: the device
 *
 * Return: true if IOMMU_HWPT_ALLOC_DIRTY_TRACKING can go to the IOMMU driver.
 */
bool iommufd_dirty_hw_capable(struct iommufd_device *idev)
{
	return device_iommu_capable(idev->dev, IOMMU_CAP_DIRTY_TRACKING);
}

static enum iommufd_dirty_source dirty_source(struct iommufd_device *idev)
{
	return READ_ONCE(idev->dirty.source);
}

/**
 * iommufd_dirty_capable() - can the device's DMA writes be tracked?
 * @idev: the device
 *
 * Return: true with IOMMU dirty bits, a driver that declared a software
 * source, or the dirty_conservative parameter on.
 */
bool iommufd_dirty_capable(struct iommufd_device *idev)
{
	return iommufd_dirty_hw_capable(idev) ||
	       dirty_source(idev) != IOMMUFD_DIRTY_SOURCE_NONE ||
	       READ_ONCE(dirty_conservative);
}

/**
 * iommufd_dirty_hwpt_alloc_flags() - decide who tracks a new HWPT
 * @idev: the device the HWPT is allocated for
 * @flags: IOMMU_HWPT_ALLOC_* flags; DIRTY_TRACKING is taken out when
 *	software tracks, so the IOMMU driver never sees a flag it cannot honour
 * @dirty: the new HWPT's software dirty state, filled in
 *
 * A software HWPT is exact when the device's driver reports all its DMA,
 * conservative when the driver said so or the dirty_conservative parameter
 * is on now; the choice holds for the HWPT's life.
 *
 * Return: 0, or -EOPNOTSUPP when dirty tracking is asked for a device that
 * cannot be tracked (the errno of the hardware-only path), or for a nesting
 * parent that software would track.
 */
int iommufd_dirty_hwpt_alloc_flags(struct iommufd_device *idev, u32 *flags,
				   struct iommufd_dirty_hwpt *dirty)
{
	enum iommufd_dirty_source source = dirty_source(idev);

	*dirty = (struct iommufd_dirty_hwpt){};
	if (!(*flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) ||
	    iommufd_dirty_hw_capable(idev))
		return 0;
	if (source == IOMMUFD_DIRTY_SOURCE_NONE && !READ_ONCE(dirty_conservative))
		return -EOPNOTSUPP;
	/* A nested domain's DMA is in stage-1 addresses, the log in IOVA */
	if (*flags & IOMMU_HWPT_ALLOC_NEST_PARENT)
		return -EOPNOTSUPP;
	*flags &= ~IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
	dirty->software = true;
	dirty->conservative = source != IOMMUFD_DIRTY_SOURCE_REPORTS_ALL_DMA;
	return 0;
}

/* Does a software HWPT see every write of a device with this source? */
static bool dirty_hwpt_covers(struct iommufd_hwpt_paging *hwpt_paging,
			      enum iommufd_dirty_source source)
{
	return hwpt_paging->dirty.conservative ||
	       source == IOMMUFD_DIRTY_SOURCE_REPORTS_ALL_DMA;
}

/**
 * iommufd_dirty_hwpt_check_attach() - may the device's group attach to it?
 * @hwpt_paging: the HWPT
 * @idev: the device attaching, or whose group is being replaced; its
 *	igroup->lock is held
 *
 * A software dirty-tracking HWPT takes only devices whose writes software
 * sees: an exact one, devices whose driver reports all DMA; a conservative
 * one, any.  A device whose IOMMU has dirty bits is no exception: its DMA
 * would set them in a domain that has no dirty_ops, where no one reads
 * them.  (IOMMU drivers refuse devices without dirty bits on their own
 * dirty-tracking domains.)  A replace moves the whole group, so every
 * device already in it is checked too.  Also makes sure the IOAS has the
 * log the group's driver reports go to, published once attached.
 *
 * Return: 0, -ENOMEM or -EINVAL.
 */
int iommufd_dirty_hwpt_check_attach(struct iommufd_hwpt_paging *hwpt_paging,
				    struct iommufd_device *idev)
{
	struct iommufd_device *other;

	lockdep_assert_held(&idev->igroup->lock);
	if (!dirty_log_get(&hwpt_paging->ioas->iopt))
		return -ENOMEM;
	if (!hwpt_paging->dirty.software)
		return 0;
	if (!dirty_hwpt_covers(hwpt_paging, dirty_source(idev)))
		return -EINVAL;
	list_for_each_entry(other, &idev->igroup->device_list, group_item)
		if (!dirty_hwpt_covers(hwpt_paging, dirty_source(other)))
			return -EINVAL;
	return 0;
}

/**
 * iommufd_dirty_group_update() - the group's HWPT changed
 * @igroup: the group; its lock is held and igroup->hwpt is the new HWPT,
 *	or NULL once the last device detached
 *
 * Publishes the log of the new HWPT's IOAS (iommufd_dirty_hwpt_check_attach()
 * made sure it exists) for the group's driver reports, or none.
 */
void iommufd_dirty_group_update(struct iommufd_group *igroup)
{
	struct iommufd_hwpt_paging *hwpt_paging = NULL;
	struct iommufd_dirty_log *log = NULL;

	lockdep_assert_held(&igroup->lock);
	if (igroup->hwpt)
		hwpt_paging = find_hwpt_paging(igroup->hwpt);
	if (hwpt_paging)
		log = dirty_log_of(&hwpt_paging->ioas->iopt);
	rcu_assign_pointer(igroup->dirty.log, log);
}

/* Stop the HWPT's tracker, if any; iova_rwsem held for write, log->lock */
static struct iommufd_dirty_tracker *
dirty_hwpt_stop(struct iommufd_hwpt_paging *hwpt_paging,
		struct iommufd_dirty_log *log)
{
	struct iommufd_dirty_tracker *tracker = hwpt_paging->dirty.tracker;

	if (tracker) {
		dirty_tracker_leave(log, tracker);
		WRITE_ONCE(hwpt_paging->dirty.tracker, NULL);
	}
	return tracker;
}

/**
 * iommufd_dirty_hwpt_set() - IOMMU_HWPT_SET_DIRTY_TRACKING
 * @hwpt_paging: the HWPT
 * @enable: start or stop
 *
 * Starts or stops the IOMMU's dirty bits when the domain has them, and the
 * HWPT's view of the software log in every case.  Starting gives the HWPT a
 * new, empty view, also when it already tracked: the IOMMU path clears its
 * IOPTE bits on every start too.
 *
 * Return: 0, -EOPNOTSUPP for a HWPT allocated without dirty tracking,
 * -ENOMEM, or the IOMMU driver's error.
 */
int iommufd_dirty_hwpt_set(struct iommufd_hwpt_paging *hwpt_paging,
			   bool enable)
{
	struct io_pagetable *iopt = &hwpt_paging->ioas->iopt;
	struct iommu_domain *domain = hwpt_paging->common.domain;
	bool hw = domain->dirty_ops;
	struct iommufd_dirty_tracker *tracker = NULL, *old;
	struct iommufd_dirty_log *log;
	int rc = -EOPNOTSUPP;

	if (!hw && !hwpt_paging->dirty.software)
		goto out;

	rc = -ENOMEM;
	log = dirty_log_get(iopt);
	if (!log)
		goto out;
	if (enable) {
		tracker = dirty_tracker_prepare(log, hw,
						hwpt_paging->dirty.conservative);
		if (IS_ERR(tracker)) {
			rc = PTR_ERR(tracker);
			goto out;
		}
	}

	if (hw) {
		rc = iopt_set_dirty_tracking(iopt, domain, enable);
		if (rc) {
			dirty_tracker_put(tracker);
			goto out;
		}
	}

	dirty_log_lock(log);
	old = dirty_hwpt_stop(hwpt_paging, log);
	if (tracker) {
		dirty_tracker_join(log, tracker);
		WRITE_ONCE(hwpt_paging->dirty.tracker, tracker);
	}
	dirty_log_unlock(log);
	dirty_tracker_put(old);
	rc = 0;
out:
	trace_iommufd_dirty_tracking(hwpt_paging->common.obj.id, enable, hw,
				     rc);
	return rc;
}

/**
 * iommufd_dirty_hwpt_destroy() - a HWPT goes away
 * @hwpt_paging: the HWPT, no longer reachable from userspace
 *
 * Stops its view, if it tracked.
 */
void iommufd_dirty_hwpt_destroy(struct iommufd_hwpt_paging *hwpt_paging)
{
	struct iommufd_dirty_tracker *tracker;
	struct iommufd_dirty_log *log;

	if (!hwpt_paging->ioas || !hwpt_paging->dirty.tracker)
		return;
	log = dirty_log_of(&hwpt_paging->ioas->iopt);
	dirty_log_lock(log);
	tracker = dirty_hwpt_stop(hwpt_paging, log);
	dirty_log_unlock(log);
	dirty_tracker_put(tracker);
}

/* The HWPT's view with a reference, or NULL when it does not track */
static struct iommufd_dirty_tracker *
dirty_hwpt_tracker_get(struct iommufd_hwpt_paging *hwpt_paging)
{
	struct iommufd_dirty_log *log = dirty_log_of(&hwpt_paging->ioas->iopt);
	struct iommufd_dirty_tracker *tracker;

	if (!log)
		return NULL;
	mutex_lock(&log->lock);
	tracker = hwpt_paging->dirty.tracker;
	if (tracker)
		kref_get(&tracker->ref);
	mutex_unlock(&log->lock);
	return tracker;
}

/*
 * The iommufd_dirty_read event of one read: the weight of the user's bitmap
 * before the read, after the IOMMU's part, and at the end.  With the event
 * off, or a range the read refuses, nothing is weighed.
 */
struct dirty_read_trace {
	const u64 __user *map;
	u64 nbits;
	u64 t0;
	u64 before;
	u64 hw;
	u64 after;
};

static void dirty_read_trace_weigh(struct dirty_read_trace *trace, u64 *weight)
{
	if (trace->map && user_bitmap_weight(trace->map, trace->nbits, weight))
		trace->map = NULL;
}

static void dirty_read_trace_begin(struct dirty_read_trace *trace,
				   struct io_pagetable *iopt,
				   struct iommu_hwpt_get_dirty_bitmap *cmd)
{
	if (!trace_iommufd_dirty_read_enabled())
		return;
	trace->t0 = ktime_get_ns();
	if (!is_power_of_2(cmd->page_size) ||
	    iommufd_check_iova_range(iopt, cmd))
		return;
	trace->map = u64_to_user_ptr(cmd->data);
	trace->nbits = div64_u64(cmd->length, cmd->page_size);
	dirty_read_trace_weigh(trace, &trace->before);
}

static void dirty_read_trace_end(struct dirty_read_trace *trace,
				 struct iommufd_hwpt_paging *hwpt_paging,
				 struct iommu_hwpt_get_dirty_bitmap *cmd, int rc)
{
	u64 ns;

	if (!trace->t0)
		return;
	ns = ktime_get_ns() - trace->t0;
	dirty_read_trace_weigh(trace, &trace->after);
	if (!trace->map || trace->hw < trace->before ||
	    trace->after < trace->hw) {
		/* Unreadable, or changed by userspace meanwhile: no counts */
		trace->before = 0;
		trace->hw = 0;
		trace->after = 0;
	}
	trace_iommufd_dirty_read(hwpt_paging->common.obj.id, cmd->iova,
				 cmd->length, cmd->page_size, cmd->flags,
				 trace->hw - trace->before,
				 trace->after - trace->hw, rc, ns);
}

/*
 * What the software half of IOMMU_HWPT_GET_DIRTY_BITMAP needs that takes
 * locks or memory, before the IOMMU's half takes any bit: the ranges to
 * report besides the view's bits.  A software HWPT's range must be mapped,
 * as the IOMMU path demands.
 */
static int dirty_hwpt_read_gather(struct iommufd_hwpt_paging *hwpt_paging,
				  struct iommufd_dirty_tracker *tracker,
				  struct dirty_read *read)
{
	struct io_pagetable *iopt = &hwpt_paging->ioas->iopt;
	struct iopt_area_contig_iter iter;
	struct iopt_area *area;
	int rc = 0;

	down_read(&iopt->iova_rwsem);
	if (hwpt_paging->dirty.software) {
		iopt_for_each_contig_area(&iter, area, iopt, read->iova,
					  read->last)
			;
		if (!iopt_area_contig_done(&iter))
			rc = -EINVAL;
	}
	if (!rc)
		rc = dirty_read_gather(read, tracker, iopt);
	up_read(&iopt->iova_rwsem);
	return rc;
}

/**
 * iommufd_dirty_hwpt_read() - IOMMU_HWPT_GET_DIRTY_BITMAP
 * @hwpt_paging: the HWPT
 * @cmd: the user's command, checked for flags and reserved fields
 *
 * The union of the IOMMU's dirty bits (when the domain has them) and the
 * HWPT's view, with the hardware path's checks: the range must be aligned
 * and fully mapped, and tracking must be on.  Everything the software half
 * allocates is allocated before the IOMMU's half clears its bits; a read
 * that fails after the IOMMU's bits were taken logs the range in the view
 * (dirty_read_put_back()), and one that fails writing the view's bits puts
 * them back (dirty_read_bits()): a failed read loses nothing.
 *
 * Return: 0, -EOPNOTSUPP for a HWPT without dirty tracking, -EINVAL,
 * -EOVERFLOW, -ENOMEM, -EFAULT, or the IOMMU driver's error.
 */
int iommufd_dirty_hwpt_read(struct iommufd_hwpt_paging *hwpt_paging,
			    struct iommu_hwpt_get_dirty_bitmap *cmd)
{
	bool clear = !(cmd->flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	struct io_pagetable *iopt = &hwpt_paging->ioas->iopt;
	struct iommu_domain *domain = hwpt_paging->common.domain;
	bool software = hwpt_paging->dirty.software;
	struct iommufd_dirty_tracker *tracker = NULL;
	struct dirty_read_trace trace = {};
	struct dirty_read read = {};
	unsigned long last;
	int rc;

	dirty_read_trace_begin(&trace, iopt, cmd);
	/* iova_bitmap would take a smaller one, and overrun the bitmap */
	rc = -EINVAL;
	if (!is_power_of_2(cmd->page_size))
		goto out;
	rc = iommufd_check_iova_range(iopt, cmd);
	if (rc)
		goto out;
	last = cmd->iova + cmd->length - 1;

	tracker = dirty_hwpt_tracker_get(hwpt_paging);
	if (software && !tracker) {
		rc = -EINVAL;
		goto out;
	}
	if (tracker) {
		rc = dirty_read_init(&read, cmd->iova, last, clear);
		if (!rc) {
			read.bitmap = iova_bitmap_alloc(cmd->iova, cmd->length,
							cmd->page_size,
							u64_to_user_ptr(cmd->data));
			if (IS_ERR(read.bitmap)) {
				rc = PTR_ERR(read.bitmap);
				read.bitmap = NULL;
			}
		}
		if (!rc)
			rc = dirty_hwpt_read_gather(hwpt_paging, tracker, &read);
		if (rc)
			goto out;
	}

	/*
	 * Any HWPT but a software one takes the upstream path first, with its
	 * checks and errnos (-EOPNOTSUPP after the range checks when the
	 * domain cannot track).
	 */
	if (!software) {
		rc = iopt_read_and_clear_dirty_data(iopt, domain, cmd->flags,
						    cmd);
		if (rc) {
			if (tracker && clear)
				dirty_read_put_back(tracker, iopt, cmd->iova,
						    last);
			goto out;
		}
		dirty_read_trace_weigh(&trace, &trace.hw);
	} else {
		trace.hw = trace.before;
	}

	if (tracker) {
		rc = dirty_read_report(&read, tracker);
		/* The IOMMU's bits went to a bitmap that will not be used */
		if (rc && clear && !software)
			dirty_read_put_back(tracker, iopt, cmd->iova, last);
	}
out:
	if (read.bitmap)
		iova_bitmap_free(read.bitmap);
	dirty_read_destroy(&read);
	dirty_tracker_put(tracker);
	dirty_read_trace_end(&trace, hwpt_paging, cmd, rc);
	return rc;
}

/**
 * iommufd_device_dirty_declare() - say what a driver knows of its DMA writes
 * @idev: the device, bound to iommufd
 * @source: IOMMUFD_DIRTY_SOURCE_REPORTS_ALL_DMA if the driver reports every
 *	IOVA range its device writes by DMA, so that a software log is exact
 *	for it; IOMMUFD_DIRTY_SOURCE_CONSERVATIVE if it does not, but the
 *	device may be tracked as writing everything it can; NONE to withdraw
 *
 * A device so declared is dirty-capable even when its IOMMU has no dirty
 * bits: IOMMU_GET_HW_INFO says so and IOMMU_HWPT_ALLOC accepts
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING for it (a conservative HWPT for a
 * conservative source).
 *
 * Context: process context; takes the device's group lock.
 * Return: 0, -EINVAL for an unknown @source, or -EBUSY when the device is
 * attached to a software dirty-tracking HWPT that would not see its writes
 * under the new declaration.
 */
int iommufd_device_dirty_declare(struct iommufd_device *idev,
				 enum iommufd_dirty_source source)
{
	struct iommufd_hw_pagetable *hwpt;
	int rc = 0;

	if (source > IOMMUFD_DIRTY_SOURCE_CONSERVATIVE)
		return -EINVAL;
	mutex_lock(&idev->igroup->lock);
	hwpt = idev->igroup->hwpt;
	if (hwpt && hwpt_is_paging(hwpt) &&
	    to_hwpt_paging(hwpt)->dirty.software &&
	    !dirty_hwpt_covers(to_hwpt_paging(hwpt), source))
		rc = -EBUSY;
	else
		WRITE_ONCE(idev->dirty.source, source);
	mutex_unlock(&idev->igroup->lock);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_dirty_declare, IOMMUFD);

/**
 * iommufd_device_dirty_report() - report that the device wrote by DMA
 * @idev: the device, bound to iommufd
 * @iova: first byte the device wrote
 * @length: bytes written
 *
 * For drivers that know what their device writes (descriptor rings,
 * completion queues, receive buffers) on an IOMMU without dirty bits.  The
 * write goes to every tracker of the IOAS the device's group is attached to
 * and shows in the next IOMMU_HWPT_GET_DIRTY_BITMAP of a HWPT of that IOAS.
 * A driver that reports every write declares so with
 * iommufd_device_dirty_declare().  Nothing is logged while no one tracks,
 * or while the device is not attached (then it cannot DMA).  Only IOVA
 * mapped writable while tracking is logged, whatever @length says: no
 * device can write anything else.
 *
 * Context: any, including hard interrupt; never sleeps, never allocates.
 * Return: 0, or -EINVAL for an empty range, -EOVERFLOW if it wraps.
 */
int iommufd_device_dirty_report(struct iommufd_device *idev,
				unsigned long iova, size_t length)
{
	struct iommufd_dirty_log *log;
	unsigned long last;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;

	rcu_read_lock();
	log = rcu_dereference(idev->igroup->dirty.log);
	if (log && dirty_log_tracked(log))
		dirty_log_mark_rcu(log, iova, last);
	rcu_read_unlock();
	return 0;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_dirty_report, IOMMUFD);

/**
 * iommufd_device_dma_read() - read memory as the device would by DMA
 * @idev: the device, bound to iommufd and attached
 * @iova: first byte to read, in the device's IOVA space
 * @data: where the bytes go
 * @length: bytes to read
 *
 * For drivers that must look at what userspace gave their device before
 * the device uses it, such as a receive descriptor whose buffer address
 * the device overwrites when it completes: the driver reads it here, then
 * reports the buffer with iommufd_device_dirty_report() once the device
 * may have written it.  The read goes through the IOAS of the HWPT the
 * device's group is attached to; it needs the whole range mapped readable
 * by the device.  It logs nothing.
 *
 * Context: process context; takes the group's lock and the IOAS's IOVA
 * lock for read, so not under a lock an unmap or attach may wait for.
 * Return: 0, -EINVAL for an empty range, -EOVERFLOW if it wraps, -ENOENT
 * when the device is not attached (or attached to a nested HWPT) or part
 * of the range is not mapped (or is being unmapped),
 * -EPERM when part is mapped but not readable by the device, or the copy's
 * error (-EFAULT, -ENOMEM).
 */
int iommufd_device_dma_read(struct iommufd_device *idev, unsigned long iova,
			    void *data, size_t length)
{
	struct iommufd_hwpt_paging *hwpt_paging = NULL;
	struct iopt_area_contig_iter iter;
	struct io_pagetable *iopt;
	struct iopt_area *area;
	unsigned long last_iova;
	int rc = -ENOENT;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last_iova))
		return -EOVERFLOW;

	mutex_lock(&idev->igroup->lock);
	/* A nested HWPT's IOVA is not the IOAS's: not read here */
	if (idev->igroup->hwpt && hwpt_is_paging(idev->igroup->hwpt))
		hwpt_paging = to_hwpt_paging(idev->igroup->hwpt);
	if (!hwpt_paging)
		goto out_unlock;
	iopt = &hwpt_paging->ioas->iopt;
	down_read(&iopt->iova_rwsem);
	iopt_for_each_contig_area(&iter, area, iopt, iova, last_iova) {
		unsigned long last = min(last_iova, iopt_area_last_iova(area));
		unsigned long bytes = last - iter.cur_iova + 1;

		/* Being unmapped: the pages may be going */
		if (area->prevent_access) {
			rc = -ENOENT;
			goto out_up;
		}
		if (!(area->iommu_prot & IOMMU_READ)) {
			rc = -EPERM;
			goto out_up;
		}
		rc = iopt_pages_rw_access(area->pages,
					  iopt_area_start_byte(area,
							       iter.cur_iova),
					  data, bytes, 0);
		if (rc)
			goto out_up;
		data += bytes;
	}
	rc = iopt_area_contig_done(&iter) ? 0 : -ENOENT;
out_up:
	up_read(&iopt->iova_rwsem);
out_unlock:
	mutex_unlock(&idev->igroup->lock);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_dma_read, IOMMUFD);

/**
 * iommufd_dirty_access_prepare() - an access is about to change its IOAS
 * @access: the access; its ioas_lock is held
 * @new_ioas: the IOAS it moves to, or NULL when it detaches
 *
 * While the access logs, its view moves with it: the new IOAS needs a log,
 * and the view the chunks of the new IOAS's writable areas, allocated here
 * so that the move cannot fail half-way.
 *
 * Return: 0 or -ENOMEM.
 */
int iommufd_dirty_access_prepare(struct iommufd_access *access,
				 struct iommufd_ioas *new_ioas)
{
	struct iommufd_dirty_tracker *tracker = access->dirty.tracker;
	struct iommufd_dirty_log *log;
	int rc;

	lockdep_assert_held(&access->ioas_lock);
	if (!tracker || !new_ioas)
		return 0;
	log = dirty_log_get(&new_ioas->iopt);
	if (!log)
		return -ENOMEM;
	down_read(&log->iopt->iova_rwsem);
	mutex_lock(&log->lock);
	rc = dirty_tracker_alloc_areas(tracker, log->iopt);
	mutex_unlock(&log->lock);
	up_read(&log->iopt->iova_rwsem);
	return rc;
}

/**
 * iommufd_dirty_access_moved() - an access is changing its IOAS
 * @access: the access; its ioas_lock is held
 * @old_ioas: the IOAS it is leaving, or NULL; still referenced by the
 *	access, so its log cannot go away under this call
 * @new_ioas: the IOAS it joined, or NULL
 *
 * A logging access's view joins the log of @new_ioas and leaves that of
 * @old_ioas, keeping its bits.  iommufd_access_change_ioas() makes the two
 * calls apart, the join first and the leave after the driver unpinned what
 * it pinned in @old_ioas, so that those unpins still reach the view.
 */
void iommufd_dirty_access_moved(struct iommufd_access *access,
				struct iommufd_ioas *old_ioas,
				struct iommufd_ioas *new_ioas)
{
	struct iommufd_dirty_tracker *tracker = access->dirty.tracker;
	struct iommufd_dirty_log *log;
	int i;

	lockdep_assert_held(&access->ioas_lock);
	if (!tracker)
		return;
	if (new_ioas) {
		/* iommufd_dirty_access_prepare() allocated it */
		log = dirty_log_of(&new_ioas->iopt);
		dirty_tracker_links_ready(tracker);
		dirty_log_lock(log);
		dirty_tracker_join(log, tracker);
		dirty_log_unlock(log);
	}
	if (old_ioas) {
		log = dirty_log_of(&old_ioas->iopt);
		for (i = 0; i < ARRAY_SIZE(tracker->links); i++) {
			if (!log || tracker->links[i].log != log)
				continue;
			dirty_log_lock(log);
			dirty_tracker_leave(log, tracker);
			dirty_log_unlock(log);
			break;
		}
	}
}

/* Take the tracker off every log it is on; the access's ioas_lock held */
static void dirty_access_stop(struct iommufd_dirty_tracker *tracker)
{
	struct iommufd_dirty_log *log;
	int i;

	for (i = 0; i < ARRAY_SIZE(tracker->links); i++) {
		log = tracker->links[i].log;
		if (!log)
			continue;
		dirty_log_lock(log);
		dirty_tracker_leave(log, tracker);
		dirty_log_unlock(log);
	}
	dirty_tracker_put(tracker);
}

/**
 * iommufd_dirty_access_destroy() - an access goes away
 * @access: the access, detached; its ioas_lock is held
 *
 * A logging access keeps its view while detached, to carry it to the next
 * IOAS; at destruction there is no next one.
 */
void iommufd_dirty_access_destroy(struct iommufd_access *access)
{
	lockdep_assert_held(&access->ioas_lock);
	if (!access->dirty.tracker)
		return;
	dirty_access_stop(access->dirty.tracker);
	access->dirty.tracker = NULL;
}

/**
 * iommufd_access_dirty_set() - start or stop logging an access's writes
 * @access: the access, attached to an IOAS to start
 * @enable: start or stop
 *
 * For drivers of emulated devices (vfio's access-backed DMA logging):
 * while on, every iommufd_access_rw() write, every write pin and every
 * driver report of the IOAS the access is attached to is logged in the
 * access's own view, to be taken by iommufd_access_dirty_read().  The view
 * starts empty, and follows the access when it moves to another IOAS, or
 * detaches and attaches again.  Other trackers of the IOAS (HWPTs, other
 * accesses) have views of their own.  The access is conservative (reports
 * every writable IOVA) if the dirty_conservative parameter is on now.
 * Stopping an access that does not log does nothing.
 *
 * Context: process context; takes the access's ioas_lock.
 * Return: 0, -EINVAL to start an access that is not attached, -EBUSY to
 * start one that already logs, or -ENOMEM.
 */
int iommufd_access_dirty_set(struct iommufd_access *access, bool enable)
{
	struct iommufd_dirty_access *dirty = &access->dirty;
	struct iommufd_dirty_tracker *tracker;
	struct iommufd_dirty_log *log;
	int rc = 0;

	mutex_lock(&access->ioas_lock);
	if (!enable) {
		if (dirty->tracker)
			dirty_access_stop(dirty->tracker);
		dirty->tracker = NULL;
		goto out;
	}
	if (dirty->tracker) {
		rc = -EBUSY;
		goto out;
	}
	if (!access->ioas) {
		rc = -EINVAL;
		goto out;
	}
	log = dirty_log_get(&access->ioas->iopt);
	if (!log) {
		rc = -ENOMEM;
		goto out;
	}
	tracker = dirty_tracker_prepare(log, false,
					READ_ONCE(dirty_conservative));
	if (IS_ERR(tracker)) {
		rc = PTR_ERR(tracker);
		goto out;
	}
	dirty_log_lock(log);
	dirty_tracker_join(log, tracker);
	dirty_log_unlock(log);
	dirty->tracker = tracker;
out:
	mutex_unlock(&access->ioas_lock);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_dirty_set, IOMMUFD);

/**
 * iommufd_access_dirty_read() - take the logged writes of an IOVA range
 * @access: the access, logging (iommufd_access_dirty_set())
 * @iova: first byte of the range
 * @length: bytes in the range
 * @bitmap: the user's bitmap; the dirty pages of the range are set in it,
 *	no bit is cleared
 *
 * Reports and clears what the access's view holds for the range, the write
 * pins standing in it, for a conservative access every writable mapping in
 * it, and for an overflowed one all of it.  Unmapped parts of the range are allowed: the view is
 * keyed by IOVA.  The user's bitmap is written with no lock held, so a
 * fault in it does not stall the device's own writes.  Meant to be called
 * from an iova_bitmap_for_each() walk.
 *
 * Context: process context; takes the access's ioas_lock, then the
 * IOAS's iova_rwsem for read.
 * Return: 0, -EINVAL if the access does not log or is not attached or the
 * range is empty, -EOVERFLOW if it wraps, -ENOMEM, or the error of writing
 * the user's bitmap (then the view keeps the bits).
 */
int iommufd_access_dirty_read(struct iommufd_access *access,
			      unsigned long iova, unsigned long length,
			      struct iova_bitmap *bitmap)
{
	struct iommufd_dirty_tracker *tracker;
	struct io_pagetable *iopt;
	struct dirty_read read;
	unsigned long last;
	int rc;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;
	rc = dirty_read_init(&read, iova, last, true);
	if (rc)
		return rc;
	read.bitmap = bitmap;

	mutex_lock(&access->ioas_lock);
	tracker = access->dirty.tracker;
	if (!tracker || !access->ioas) {
		mutex_unlock(&access->ioas_lock);
		rc = -EINVAL;
		goto out;
	}
	kref_get(&tracker->ref);
	iopt = &access->ioas->iopt;
	down_read(&iopt->iova_rwsem);
	rc = dirty_read_gather(&read, tracker, iopt);
	up_read(&iopt->iova_rwsem);
	mutex_unlock(&access->ioas_lock);

	if (!rc)
		rc = dirty_read_report(&read, tracker);
	dirty_tracker_put(tracker);
out:
	dirty_read_destroy(&read);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_dirty_read, IOMMUFD);
