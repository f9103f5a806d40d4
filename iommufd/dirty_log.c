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
 * DMA.  This file keeps those writes in a log per IOAS and reports the log
 * through the standard uAPI, beside the hardware bits.
 *
 * Data model
 * ----------
 * One struct iommufd_dirty_log per io_pagetable, allocated on first use
 * (tracking enabled, or a write pin) and freed with the io_pagetable.  It
 * holds one bit per PAGE_SIZE page of IOVA: bit (iova >> PAGE_SHIFT).  The
 * bits live in chunks of one page each (PAGE_SIZE * 8 bits, 128 MiB of IOVA
 * with 4 KiB pages) in an xarray indexed by chunk number; a small array of
 * hints remembers the chunks last used, so that most writes find theirs
 * without walking the xarray.  A log costs
 * 32 KiB per GiB of IOVA that was ever written while tracking, and nothing
 * for IOVA never written.  Chunks stay until the log is freed; starting
 * tracking clears them.
 *
 * Every bit is an atomic_long_t word: sources OR bits in, readers take them
 * out with atomic fetch-and-clear, so no lock is held on the write path and a
 * write racing a read is reported by this read or the next, never lost.
 *
 * Write pins are not bits: a device may write a page pinned for write at any
 * moment until it is unpinned, so a write pin is kept as a range in @pins and
 * every read reports it dirty for as long as it stands (what type1 did for
 * pinned pages); unpinning logs it one last time.  Read pins are kept too,
 * only so that an unpin, which does not say whether it ends a read or a
 * write pin, never ends a write pin too early.
 *
 * Sources
 * -------
 * - iommufd_access_rw() with IOMMUFD_ACCESS_RW_WRITE: each area's bytes once
 *   written (iommufd_dirty_log_record());
 * - iommufd_access_pin_pages() with IOMMUFD_ACCESS_RW_WRITE, until unpinned
 *   (iommufd_dirty_log_pin() / _unpin());
 * - drivers of physical devices, for what their device wrote by DMA
 *   (iommufd_device_dirty_report(), any context): the report goes to the log
 *   the device's group publishes under RCU while attached;
 * - conservative mode (the dirty_conservative module parameter): every IOVA
 *   mapped writable is dirty on every read.  This is type1's behaviour for a
 *   device with no exact source: never a silent loss, but nothing converges,
 *   since all device-writable memory is sent again on every pass.  Off by
 *   default.
 * Nothing is recorded while no one tracks (@users == 0).
 *
 * If a chunk cannot be allocated, or a read cannot write the bits it took
 * into the user's bitmap, the log overflows: until tracking is restarted,
 * reads report every writable mapped IOVA in their range, exactly as
 * conservative mode does.  Losing a write is the one thing the log must
 * never do.
 *
 * Unmap
 * -----
 * The log is keyed by IOVA and outlives the mappings: bits of an unmapped
 * range are reported when the IOVA is mapped and read again.  The IOMMU's
 * bits of an unmapped range cannot be kept, so while an IOMMU tracks, an
 * unmapped writable area is logged dirty as a whole
 * (iommufd_dirty_log_unmap()).
 *
 * uAPI
 * ----
 * A device is dirty-capable when its IOMMU has dirty bits, its driver
 * declared that it reports every DMA write, or conservative mode is on.
 * IOMMU_GET_HW_INFO reports IOMMU_HW_CAP_DIRTY_TRACKING for it and
 * IOMMU_HWPT_ALLOC accepts IOMMU_HWPT_ALLOC_DIRTY_TRACKING; the IOMMU driver
 * sees the flag only when it has the dirty bits itself, otherwise the HWPT is
 * a software one (no dirty_ops) to which only dirty-capable devices attach.
 * IOMMU_HWPT_SET_DIRTY_TRACKING on any dirty-tracking HWPT also starts the
 * log of its IOAS, and IOMMU_HWPT_GET_DIRTY_BITMAP returns the union of the
 * hardware bits and the log, with the same argument checks and errnos as the
 * hardware path.  The log belongs to the IOAS: with several tracking HWPTs on
 * one IOAS, a read of any of them takes the log's bits (userspace such as
 * QEMU ORs the bitmaps of all its HWPTs).
 *
 * Emulated devices are not behind a HWPT: their vfio driver reports the log
 * through VFIO device DMA logging (drivers/vfio/access_log.c), with
 * iommufd_access_dirty_set() and iommufd_access_dirty_read().  An access
 * that tracks is one more user of the log of the IOAS it is attached to, and
 * takes its tracking along when it moves to another IOAS.
 *
 * Locking
 * -------
 * Sources run with the io_pagetable's iova_rwsem held for read, or (driver
 * reports) under RCU only, in any context; they take no lock of the log.  A
 * log is freed an RCU grace period after its io_pagetable.  @lock (a mutex) orders
 * starting and stopping against each other and protects @pins and each
 * HWPT's iommufd_dirty_hwpt::enabled.  An access's iommufd_dirty_access is
 * protected by its ioas_lock.  Readers hold iova_rwsem for read, so the
 * areas they walk stay put.  Lock order: an access's ioas_lock, iova_rwsem,
 * then @lock.
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
 */
#include <linux/atomic.h>
#include <linux/interval_tree.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/iommufd_dirty.h>
#include <linux/iova_bitmap.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
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
		 "Report every IOVA mapped writable as dirty on every read, for devices with no exact dirty source (type1 behaviour: never loses a write, never converges)");

/* One chunk of the log; immutable once published */
struct dirty_chunk {
	unsigned long index;
	/* atomic_long_t[DIRTY_CHUNK_WORDS], PAGE_SIZE bytes */
	atomic_long_t *bits;
};

struct iommufd_dirty_log {
	/* chunk number -> struct dirty_chunk */
	struct xarray chunks;
	/*
	 * The chunk last looked up in each slot, so that the write path
	 * mostly skips the xarray walk.  Written with release, read with
	 * acquire, never cleared: chunks live as long as the log.
	 */
	struct dirty_chunk *hints[DIRTY_HINTS];
	/* Trackers on: HWPTs with tracking enabled, and tracking accesses */
	atomic_t users;
	/* Those of them whose IOMMU keeps dirty bits in its page table */
	atomic_t hw_users;
	/* A chunk could not be allocated: report like conservative mode */
	bool overflow;
	/* Orders start/stop, protects @pins and iommufd_dirty_hwpt::enabled */
	struct mutex lock;
	/* Write-pinned IOVA ranges, struct iommufd_dirty_pin */
	struct rb_root_cached pins;
	/* Driver reports reach the log under RCU: freed after a grace period */
	struct rcu_work free_work;
};

/* The pins of one IOVA range, all of exactly that range */
struct iommufd_dirty_pin {
	struct interval_tree_node node;
	/* Pins of the range, for read or for write */
	unsigned int users;
	/* How many of them may be for write; the range is dirty while > 0 */
	unsigned int writers;
};

/*
 * Is anyone tracking?  Sources ask after the write they log: the full
 * barrier orders the written data before the load of @users and pairs with
 * the one in dirty_log_start() after @users is raised.  So either the source
 * sees the tracker and logs the write, or everything the tracker reads of
 * memory after starting sees the data.
 */
static bool dirty_log_tracking(struct iommufd_dirty_log *log)
{
	/* Pairs with smp_mb__after_atomic() in dirty_log_start() */
	smp_mb();
	return atomic_read(&log->users);
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
	xa_init_flags(&log->chunks, XA_FLAGS_LOCK_IRQ);
	mutex_init(&log->lock);
	log->pins = RB_ROOT_CACHED;

	old = cmpxchg_release(&iopt->dirty_log, NULL, log);
	if (old) {
		mutex_destroy(&log->lock);
		kfree(log);
		return dirty_log_of(iopt);
	}
	return log;
}

static void dirty_log_free(struct work_struct *work)
{
	struct iommufd_dirty_log *log =
		container_of(to_rcu_work(work), struct iommufd_dirty_log,
			     free_work);
	struct interval_tree_node *node;
	struct dirty_chunk *chunk;
	unsigned long index;

	while ((node = interval_tree_iter_first(&log->pins, 0, ULONG_MAX))) {
		interval_tree_remove(node, &log->pins);
		kfree(container_of(node, struct iommufd_dirty_pin, node));
	}
	xa_for_each(&log->chunks, index, chunk) {
		kfree(chunk->bits);
		kfree(chunk);
	}
	xa_destroy(&log->chunks);
	mutex_destroy(&log->lock);
	kfree(log);
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
	queue_rcu_work(system_wq, &log->free_work);
}

static void dirty_chunk_free(struct dirty_chunk *chunk)
{
	if (chunk)
		kfree(chunk->bits);
	kfree(chunk);
}

/*
 * Publish a new chunk unless another CPU was first.  Driver reports insert
 * from hard interrupts, so the xarray's lock is IRQ-safe everywhere; an
 * atomic allocation keeps it held across the xarray's node allocation,
 * where a sleeping one lets the xarray drop it.
 *
 * Return: NULL when @chunk went in, else the chunk already there or an
 * xa_err() entry.
 */
static struct dirty_chunk *dirty_chunk_insert(struct iommufd_dirty_log *log,
					      struct dirty_chunk *chunk,
					      gfp_t gfp)
{
	struct dirty_chunk *old;
	unsigned long flags;

	if (gfpflags_allow_blocking(gfp))
		return xa_cmpxchg_irq(&log->chunks, chunk->index, NULL, chunk,
				      gfp);
	xa_lock_irqsave(&log->chunks, flags);
	old = __xa_cmpxchg(&log->chunks, chunk->index, NULL, chunk, gfp);
	xa_unlock_irqrestore(&log->chunks, flags);
	return old;
}

/* The bits of chunk @index, allocated on first use; NULL if out of memory */
static atomic_long_t *dirty_chunk(struct iommufd_dirty_log *log,
				  unsigned long index, gfp_t gfp)
{
	struct dirty_chunk **hint = &log->hints[index % DIRTY_HINTS];
	/* Pairs with the smp_store_release() below: *chunk is initialised */
	struct dirty_chunk *chunk = smp_load_acquire(hint), *old;

	if (chunk && chunk->index == index)
		return chunk->bits;

	chunk = xa_load(&log->chunks, index);
	if (!chunk) {
		chunk = kzalloc(sizeof(*chunk), gfp | __GFP_ACCOUNT);
		if (chunk)
			chunk->bits = kzalloc(PAGE_SIZE, gfp | __GFP_ACCOUNT);
		if (!chunk || !chunk->bits) {
			dirty_chunk_free(chunk);
			return NULL;
		}
		chunk->index = index;
		old = dirty_chunk_insert(log, chunk, gfp);
		if (old) {
			dirty_chunk_free(chunk);
			if (xa_is_err(old))
				return NULL;
			chunk = old;
		}
	}
	/* Pairs with the smp_load_acquire() above, on any CPU */
	smp_store_release(hint, chunk);
	return chunk->bits;
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

/* @source: IOMMUFD_DIRTY_SRC_*, for the trace */
static void dirty_log_mark(struct iommufd_dirty_log *log, unsigned long iova,
			   unsigned long last, gfp_t gfp, u8 source)
{
	unsigned long page = iova >> PAGE_SHIFT;
	unsigned long last_page = last >> PAGE_SHIFT;

	trace_iommufd_dirty_log_mark(source, iova, (u64)last - iova + 1);

	for (;;) {
		unsigned long bit = page % DIRTY_CHUNK_BITS;
		unsigned long nbits = min(last_page - page,
					  DIRTY_CHUNK_BITS - 1 - bit) + 1;
		atomic_long_t *chunk;

		chunk = dirty_chunk(log, page / DIRTY_CHUNK_BITS, gfp);
		if (!chunk) {
			WRITE_ONCE(log->overflow, true);
			pr_warn_ratelimited("iommufd: dirty log overflow, reporting all writable IOVA until tracking restarts\n");
			return;
		}
		dirty_bits_set(chunk, bit, nbits);
		if (last_page - page < nbits)
			return;
		page += nbits;
	}
}

/**
 * iommufd_dirty_log_record() - log a write to [iova, iova + length)
 * @iopt: the io_pagetable the IOVA belongs to
 * @iova: first byte written
 * @length: bytes written
 *
 * Called by iommufd_access_rw() for every area it wrote.  Nothing happens
 * unless tracking is on.  Process context: may allocate with GFP_KERNEL.
 */
void iommufd_dirty_log_record(struct io_pagetable *iopt, unsigned long iova,
			      unsigned long length)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);

	if (!log || !length || !dirty_log_tracking(log))
		return;
	dirty_log_mark(log, iova, iova + length - 1, GFP_KERNEL,
		       IOMMUFD_DIRTY_SRC_WRITE);
}

/**
 * iommufd_dirty_log_unmap() - an area is about to be unmapped
 * @iopt: the io_pagetable
 * @area: the area; no access pins it any more
 *
 * What the log holds for the area stays there: the bits are keyed by IOVA,
 * and read again once the IOVA is mapped and read (userspace such as QEMU 10
 * unmaps without reading the bitmap first, and may map the same memory at
 * the same IOVA again).  The IOMMU's own dirty bits go with the IOPTEs and
 * cannot be read into the log (iova_bitmap writes only user memory), so
 * while an IOMMU tracks, a writable area is logged dirty as a whole:
 * conservative, never lossy.
 *
 * Context: iova_rwsem held for write, domains_rwsem for read.
 */
void iommufd_dirty_log_unmap(struct io_pagetable *iopt, struct iopt_area *area)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);

	lockdep_assert_held_write(&iopt->iova_rwsem);
	if (!log || !atomic_read(&log->hw_users) ||
	    !(area->iommu_prot & IOMMU_WRITE))
		return;
	dirty_log_mark(log, iopt_area_iova(area), iopt_area_last_iova(area),
		       GFP_KERNEL, IOMMUFD_DIRTY_SRC_UNMAP);
}

/* The pins of exactly [iova, last], if any; log->lock held */
static struct iommufd_dirty_pin *dirty_pin_find(struct iommufd_dirty_log *log,
						unsigned long iova,
						unsigned long last)
{
	struct interval_tree_node *node;

	lockdep_assert_held(&log->lock);
	for (node = interval_tree_iter_first(&log->pins, iova, last); node;
	     node = interval_tree_iter_next(node, iova, last))
		if (node->start == iova && node->last == last)
			return container_of(node, struct iommufd_dirty_pin,
					    node);
	return NULL;
}

/**
 * iommufd_dirty_log_pin() - note a pin of [iova, iova + length)
 * @iopt: the io_pagetable the IOVA belongs to
 * @iova: first byte pinned
 * @length: bytes pinned
 * @flags: the pin's IOMMUFD_ACCESS_RW_* flags
 *
 * A write pin reads as dirty until it is unpinned.  Read pins are counted
 * too: iommufd_access_unpin_pages() does not say which pin of a range ends,
 * so a range pinned for read and for write stays dirty until the last of
 * its pins ends (see iommufd_dirty_log_unpin()).  Called before the pages
 * are pinned, with iova_rwsem held for read.
 *
 * Return: 0, or -ENOMEM (then the pin must fail).
 */
int iommufd_dirty_log_pin(struct io_pagetable *iopt, unsigned long iova,
			  unsigned long length, unsigned int flags)
{
	struct iommufd_dirty_log *log = dirty_log_get(iopt);
	bool write = flags & IOMMUFD_ACCESS_RW_WRITE;
	unsigned long last = iova + length - 1;
	struct iommufd_dirty_pin *pin;

	if (!log)
		return -ENOMEM;

	mutex_lock(&log->lock);
	pin = dirty_pin_find(log, iova, last);
	if (!pin) {
		pin = kzalloc(sizeof(*pin), GFP_KERNEL_ACCOUNT);
		if (!pin) {
			mutex_unlock(&log->lock);
			return -ENOMEM;
		}
		pin->node.start = iova;
		pin->node.last = last;
		interval_tree_insert(&pin->node, &log->pins);
	}
	pin->users++;
	if (write)
		pin->writers++;
	mutex_unlock(&log->lock);

	if (write && dirty_log_tracking(log))
		dirty_log_mark(log, iova, last, GFP_KERNEL,
			       IOMMUFD_DIRTY_SRC_PIN);
	return 0;
}

/*
 * One pin of @pin's range ends.  Which one is not known, so the range keeps
 * reading dirty while it has pins left and any of them may be for write.
 * Return: the range had write pins; log->lock held.
 */
static bool dirty_pin_put(struct iommufd_dirty_log *log,
			  struct iommufd_dirty_pin *pin)
{
	bool was_write = pin->writers;

	lockdep_assert_held(&log->lock);
	pin->users--;
	pin->writers = min(pin->writers, pin->users);
	if (!pin->users) {
		interval_tree_remove(&pin->node, &log->pins);
		kfree(pin);
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
 * every pinned range inside the one unpinned, so that nothing stays pinned
 * in the log for good.
 */
void iommufd_dirty_log_unpin(struct io_pagetable *iopt, unsigned long iova,
			     unsigned long length)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	unsigned long last = iova + length - 1;
	struct interval_tree_node *node, *next;
	struct iommufd_dirty_pin *pin;
	bool was_write = false;

	if (!log)
		return;

	mutex_lock(&log->lock);
	pin = dirty_pin_find(log, iova, last);
	if (pin) {
		was_write = dirty_pin_put(log, pin);
	} else {
		for (node = interval_tree_iter_first(&log->pins, iova, last);
		     node; node = next) {
			next = interval_tree_iter_next(node, iova, last);
			if (node->start < iova || node->last > last)
				continue;
			pin = container_of(node, struct iommufd_dirty_pin,
					   node);
			was_write |= dirty_pin_put(log, pin);
		}
	}
	mutex_unlock(&log->lock);

	if (was_write && dirty_log_tracking(log))
		dirty_log_mark(log, iova, last, GFP_KERNEL,
			       IOMMUFD_DIRTY_SRC_UNPIN);
}

/* A read in progress: the user's bitmap, the range it covers */
struct dirty_report {
	struct iova_bitmap *bitmap;
	unsigned long iova;
	unsigned long last;
	/* First error setting bits in the user's bitmap */
	int err;
};

/* Adds [iova, last] to the user bitmap, clipped to the bitmap's range */
static void dirty_report_range(struct dirty_report *report, unsigned long iova,
			       unsigned long last)
{
	int rc;

	iova = max(iova, report->iova);
	last = min(last, report->last);
	if (iova > last)
		return;
	rc = iova_bitmap_set(report->bitmap, iova, last - iova + 1);
	if (rc && !report->err)
		report->err = rc;
}

static void dirty_report_pages(struct dirty_report *report,
			       unsigned long first_page, unsigned long npages)
{
	unsigned long last = ((first_page + npages) << PAGE_SHIFT) - 1;

	dirty_report_range(report, first_page << PAGE_SHIFT, last);
}

/*
 * Take (or, with @clear false, copy) the log's bits of the pages in
 * [report->iova, report->last] and report them, merging runs of pages.
 */
static void dirty_log_report_bits(struct iommufd_dirty_log *log,
				  struct dirty_report *report, bool clear)
{
	unsigned long first_page = report->iova >> PAGE_SHIFT;
	unsigned long last_page = report->last >> PAGE_SHIFT;
	unsigned long run_start = 0, run_pages = 0;
	struct dirty_chunk *chunk;
	unsigned long index;

	xa_for_each_range(&log->chunks, index, chunk,
			  first_page / DIRTY_CHUNK_BITS,
			  last_page / DIRTY_CHUNK_BITS) {
		unsigned long base = index * DIRTY_CHUNK_BITS;
		unsigned long lo = max(first_page, base) - base;
		unsigned long hi = min(last_page - base, DIRTY_CHUNK_BITS - 1);
		unsigned long w;

		for (w = lo / BITS_PER_LONG; w <= hi / BITS_PER_LONG; w++) {
			unsigned long wlo = max(lo, w * BITS_PER_LONG);
			unsigned long whi = min(hi, w * BITS_PER_LONG +
						BITS_PER_LONG - 1);
			unsigned long mask = GENMASK(whi % BITS_PER_LONG,
						     wlo % BITS_PER_LONG);
			unsigned long bits, bit;

			if (!(atomic_long_read(&chunk->bits[w]) & mask))
				continue;
			if (clear)
				bits = atomic_long_fetch_andnot(mask,
								&chunk->bits[w]);
			else
				bits = atomic_long_read(&chunk->bits[w]);
			bits &= mask;

			for_each_set_bit(bit, &bits, BITS_PER_LONG) {
				unsigned long page =
					base + w * BITS_PER_LONG + bit;

				if (run_pages && run_start + run_pages == page) {
					run_pages++;
					continue;
				}
				if (run_pages)
					dirty_report_pages(report, run_start,
							   run_pages);
				run_start = page;
				run_pages = 1;
			}
		}
	}
	if (run_pages)
		dirty_report_pages(report, run_start, run_pages);
}

/* Every writable area in the report's range; iova_rwsem held */
static void dirty_report_writable(struct io_pagetable *iopt,
				  struct dirty_report *report)
{
	struct iopt_area *area;

	for (area = iopt_area_iter_first(iopt, report->iova, report->last);
	     area; area = iopt_area_iter_next(area, report->iova, report->last))
		if (area->iommu_prot & IOMMU_WRITE)
			dirty_report_range(report, iopt_area_iova(area),
					   iopt_area_last_iova(area));
}

static void dirty_report_pins(struct iommufd_dirty_log *log,
			      struct dirty_report *report)
{
	struct interval_tree_node *node;

	mutex_lock(&log->lock);
	for (node = interval_tree_iter_first(&log->pins, report->iova,
					     report->last);
	     node; node = interval_tree_iter_next(node, report->iova,
						  report->last))
		if (container_of(node, struct iommufd_dirty_pin, node)->writers)
			dirty_report_range(report, node->start, node->last);
	mutex_unlock(&log->lock);
}

/* Is all of [iova, last] mapped?  iova_rwsem held. */
static bool dirty_range_mapped(struct io_pagetable *iopt, unsigned long iova,
			       unsigned long last)
{
	struct iopt_area_contig_iter iter;
	struct iopt_area *area;

	iopt_for_each_contig_area(&iter, area, iopt, iova, last)
		;
	return iopt_area_contig_done(&iter);
}

/*
 * Report the software side of a read: the log, the standing write pins, and
 * everything writable in conservative mode or after an overflow.
 *
 * Bits are taken out of the log before they reach the user's bitmap.  If
 * that bitmap cannot be written (iova_bitmap pins it page by page, and a
 * page may be unmapped or read-only, or pinning may run out of memory), what
 * was taken is in neither place: the log overflows, so that every later read
 * reports all writable IOVA until tracking restarts, and the read fails.
 * iova_rwsem held for read.
 */
static int dirty_log_report(struct io_pagetable *iopt,
			    struct iommufd_dirty_log *log,
			    struct dirty_report *report, bool clear,
			    bool conservative)
{
	lockdep_assert_held(&iopt->iova_rwsem);
	if (conservative || (log && READ_ONCE(log->overflow)))
		dirty_report_writable(iopt, report);
	if (log) {
		dirty_log_report_bits(log, report, clear);
		dirty_report_pins(log, report);
		if (report->err && clear) {
			WRITE_ONCE(log->overflow, true);
			pr_warn_ratelimited("iommufd: dirty bitmap unwritable (%d), reporting all writable IOVA until tracking restarts\n",
					    report->err);
		}
	}
	return report->err;
}

/* The software side of IOMMU_HWPT_GET_DIRTY_BITMAP; iova_rwsem held */
static int dirty_log_read(struct io_pagetable *iopt,
			  struct iommu_hwpt_get_dirty_bitmap *cmd)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	struct dirty_report report = {
		.iova = cmd->iova,
		.last = cmd->iova + cmd->length - 1,
	};
	bool conservative = READ_ONCE(dirty_conservative);
	int rc;

	if (!log && !conservative)
		return 0;

	report.bitmap = iova_bitmap_alloc(cmd->iova, cmd->length,
					  cmd->page_size,
					  u64_to_user_ptr(cmd->data));
	if (IS_ERR(report.bitmap))
		return PTR_ERR(report.bitmap);
	rc = dirty_log_report(iopt, log, &report,
			      !(cmd->flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR),
			      conservative);
	iova_bitmap_free(report.bitmap);
	return rc;
}

/**
 * iommufd_dirty_log_bytes() - the memory the io_pagetable's log takes
 * @iopt: the io_pagetable
 *
 * Return: bytes allocated for the log, its chunks and its write pins, in
 * the kmalloc sizes they take (the xarray's own nodes not counted); 0 when
 * the io_pagetable has no log.
 */
size_t iommufd_dirty_log_bytes(struct io_pagetable *iopt)
{
	struct iommufd_dirty_log *log = dirty_log_of(iopt);
	struct interval_tree_node *node;
	struct dirty_chunk *chunk;
	unsigned long index;
	size_t bytes;

	if (!log)
		return 0;
	bytes = kmalloc_size_roundup(sizeof(*log));
	xa_for_each(&log->chunks, index, chunk)
		bytes += kmalloc_size_roundup(sizeof(*chunk)) + PAGE_SIZE;
	mutex_lock(&log->lock);
	for (node = interval_tree_iter_first(&log->pins, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX))
		bytes += kmalloc_size_roundup(sizeof(struct iommufd_dirty_pin));
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

/**
 * iommufd_dirty_capable() - can the device's DMA writes be tracked?
 * @idev: the device
 *
 * Return: true with IOMMU dirty bits, a driver that reports every DMA write,
 * or conservative mode.
 */
bool iommufd_dirty_capable(struct iommufd_device *idev)
{
	return iommufd_dirty_hw_capable(idev) ||
	       READ_ONCE(idev->dirty.reports_all_dma) ||
	       READ_ONCE(dirty_conservative);
}

/**
 * iommufd_dirty_hwpt_alloc_flags() - decide who tracks a new HWPT
 * @idev: the device the HWPT is allocated for
 * @flags: IOMMU_HWPT_ALLOC_* flags; DIRTY_TRACKING is taken out when
 *	software tracks, so the IOMMU driver never sees a flag it cannot honour
 * @dirty: the new HWPT's software dirty state, filled in
 *
 * Return: 0, or -EOPNOTSUPP when dirty tracking is asked for a device that
 * cannot be tracked (the errno of the hardware-only path).
 */
int iommufd_dirty_hwpt_alloc_flags(struct iommufd_device *idev, u32 *flags,
				   struct iommufd_dirty_hwpt *dirty)
{
	*dirty = (struct iommufd_dirty_hwpt){};
	if (!(*flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) ||
	    iommufd_dirty_hw_capable(idev))
		return 0;
	if (!iommufd_dirty_capable(idev))
		return -EOPNOTSUPP;
	*flags &= ~IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
	dirty->software = true;
	return 0;
}

/**
 * iommufd_dirty_hwpt_attach() - may the device's group attach to the HWPT?
 * @hwpt_paging: the HWPT
 * @idev: the device attaching, or whose group is being replaced; its
 *	igroup->lock is held
 *
 * A software dirty-tracking HWPT takes only devices whose writes can be
 * tracked: any other would write memory the log never hears of.  (IOMMU
 * drivers enforce the same for their own dirty-tracking domains.)  A
 * replace moves the whole group, so every device already in it is checked
 * too.
 *
 * Return: 0 or -EINVAL.
 */
int iommufd_dirty_hwpt_attach(struct iommufd_hwpt_paging *hwpt_paging,
			      struct iommufd_device *idev)
{
	struct iommufd_device *other;

	lockdep_assert_held(&idev->igroup->lock);
	/* The log driver reports go to, published once attached */
	if (!dirty_log_get(&hwpt_paging->ioas->iopt))
		return -ENOMEM;
	if (!hwpt_paging->dirty.software)
		return 0;
	if (!iommufd_dirty_capable(idev))
		return -EINVAL;
	list_for_each_entry(other, &idev->igroup->device_list, group_item)
		if (!iommufd_dirty_capable(other))
			return -EINVAL;
	return 0;
}

/**
 * iommufd_dirty_group_attached() - the group's HWPT changed
 * @igroup: the group; its lock is held and igroup->hwpt is the new HWPT,
 *	or NULL once the last device detached
 *
 * Publishes the log of the new HWPT's IOAS (iommufd_dirty_hwpt_attach()
 * made sure it exists) for the group's driver reports.
 */
void iommufd_dirty_group_attached(struct iommufd_group *igroup)
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

/*
 * One more tracker.  The first one clears the log (@clean), as the hardware
 * path clears its PTEs when tracking starts, unless it is an access that
 * only moved here: the log may hold its writes, not yet reported.
 */
static void dirty_log_start(struct iommufd_dirty_log *log, bool hw,
			    bool clean)
{
	struct dirty_chunk *chunk;
	unsigned long index;

	lockdep_assert_held(&log->lock);
	if (clean && atomic_read(&log->users) == 0) {
		xa_for_each(&log->chunks, index, chunk)
			memset(chunk->bits, 0, PAGE_SIZE);
		WRITE_ONCE(log->overflow, false);
	}
	if (hw)
		atomic_inc(&log->hw_users);
	atomic_inc(&log->users);
	/* Pairs with dirty_log_tracking() */
	smp_mb__after_atomic();
}

static void dirty_log_stop(struct iommufd_dirty_log *log, bool hw)
{
	lockdep_assert_held(&log->lock);
	if (hw)
		atomic_dec(&log->hw_users);
	atomic_dec(&log->users);
}

/**
 * iommufd_dirty_hwpt_set() - IOMMU_HWPT_SET_DIRTY_TRACKING
 * @hwpt_paging: the HWPT
 * @enable: start or stop
 *
 * Starts or stops the IOMMU's dirty bits when the domain has them, and the
 * software log of the HWPT's IOAS in every case.
 *
 * Return: 0, -EOPNOTSUPP for a HWPT allocated without dirty tracking,
 * -ENOMEM, or the IOMMU driver's error.
 */
int iommufd_dirty_hwpt_set(struct iommufd_hwpt_paging *hwpt_paging,
			   bool enable)
{
	struct io_pagetable *iopt = &hwpt_paging->ioas->iopt;
	struct iommu_domain *domain = hwpt_paging->common.domain;
	struct iommufd_dirty_log *log;
	int rc = -EOPNOTSUPP;

	if (!domain->dirty_ops && !hwpt_paging->dirty.software)
		goto out;

	rc = -ENOMEM;
	log = dirty_log_get(iopt);
	if (!log)
		goto out;

	if (domain->dirty_ops) {
		rc = iopt_set_dirty_tracking(iopt, domain, enable);
		if (rc)
			goto out;
	}

	mutex_lock(&log->lock);
	if (enable && !hwpt_paging->dirty.enabled)
		dirty_log_start(log, domain->dirty_ops, true);
	else if (!enable && hwpt_paging->dirty.enabled)
		dirty_log_stop(log, domain->dirty_ops);
	WRITE_ONCE(hwpt_paging->dirty.enabled, enable);
	mutex_unlock(&log->lock);
	rc = 0;
out:
	trace_iommufd_dirty_tracking(hwpt_paging->common.obj.id, enable,
				     domain->dirty_ops, rc);
	return rc;
}

/**
 * iommufd_dirty_hwpt_destroy() - a HWPT goes away
 * @hwpt_paging: the HWPT, no longer reachable from userspace
 *
 * Drops the HWPT's hold on the log being on.
 */
void iommufd_dirty_hwpt_destroy(struct iommufd_hwpt_paging *hwpt_paging)
{
	struct iommufd_dirty_log *log;

	if (!hwpt_paging->ioas)
		return;
	log = dirty_log_of(&hwpt_paging->ioas->iopt);
	if (!log)
		return;
	mutex_lock(&log->lock);
	if (hwpt_paging->dirty.enabled)
		dirty_log_stop(log, hwpt_paging->common.domain->dirty_ops);
	WRITE_ONCE(hwpt_paging->dirty.enabled, false);
	mutex_unlock(&log->lock);
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
	if (iommufd_check_iova_range(iopt, cmd))
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

/**
 * iommufd_dirty_hwpt_read() - IOMMU_HWPT_GET_DIRTY_BITMAP
 * @hwpt_paging: the HWPT
 * @cmd: the user's command, checked for flags and reserved fields
 *
 * The union of the IOMMU's dirty bits (when the domain has them) and the
 * software log, with the hardware path's checks: the range must be aligned
 * and fully mapped, and tracking must be on.
 *
 * Return: 0, -EOPNOTSUPP for a HWPT without dirty tracking, -EINVAL,
 * -EOVERFLOW, -ENOMEM, or the IOMMU driver's error.
 */
int iommufd_dirty_hwpt_read(struct iommufd_hwpt_paging *hwpt_paging,
			    struct iommu_hwpt_get_dirty_bitmap *cmd)
{
	struct io_pagetable *iopt = &hwpt_paging->ioas->iopt;
	struct iommu_domain *domain = hwpt_paging->common.domain;
	struct dirty_read_trace trace = {};
	int rc;

	dirty_read_trace_begin(&trace, iopt, cmd);
	/*
	 * A software HWPT never has dirty_ops.  Any other HWPT takes the
	 * upstream path first, with its checks and errnos (-EOPNOTSUPP after
	 * the range checks when the domain cannot track); the software read
	 * checks the same way.
	 */
	if (!hwpt_paging->dirty.software)
		rc = iopt_read_and_clear_dirty_data(iopt, domain, cmd->flags,
						    cmd);
	else
		rc = iommufd_check_iova_range(iopt, cmd);
	if (rc)
		goto out;

	if (hwpt_paging->dirty.software)
		trace.hw = trace.before;
	else
		dirty_read_trace_weigh(&trace, &trace.hw);
	down_read(&iopt->iova_rwsem);
	if (hwpt_paging->dirty.software &&
	    (!READ_ONCE(hwpt_paging->dirty.enabled) ||
	     !dirty_range_mapped(iopt, cmd->iova,
				 cmd->iova + cmd->length - 1)))
		rc = -EINVAL;
	else
		rc = dirty_log_read(iopt, cmd);
	up_read(&iopt->iova_rwsem);
out:
	dirty_read_trace_end(&trace, hwpt_paging, cmd, rc);
	return rc;
}

/**
 * iommufd_device_dirty_declare() - say whether a driver reports all DMA writes
 * @idev: the device, bound to iommufd
 * @reports_all_dma: true if the driver reports every IOVA range its device
 *	writes by DMA, so that a software log is exact for it
 *
 * A device so declared is dirty-capable even when its IOMMU has no dirty
 * bits: IOMMU_GET_HW_INFO says so and IOMMU_HWPT_ALLOC accepts
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING for it.
 *
 * Context: process context; takes the device's group lock.
 * Return: 0, or -EBUSY when withdrawing the declaration while the device is
 * attached to a software dirty-tracking HWPT.
 */
int iommufd_device_dirty_declare(struct iommufd_device *idev,
				 bool reports_all_dma)
{
	struct iommufd_hw_pagetable *hwpt;
	int rc = 0;

	mutex_lock(&idev->igroup->lock);
	hwpt = idev->igroup->hwpt;
	if (!reports_all_dma && hwpt && hwpt_is_paging(hwpt) &&
	    to_hwpt_paging(hwpt)->dirty.software &&
	    !iommufd_dirty_hw_capable(idev) && !READ_ONCE(dirty_conservative))
		rc = -EBUSY;
	else
		WRITE_ONCE(idev->dirty.reports_all_dma, reports_all_dma);
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
 * write goes to the log of the IOAS the device's group is attached to and
 * shows in the next IOMMU_HWPT_GET_DIRTY_BITMAP of a HWPT of that IOAS.  A
 * driver that reports every write declares so with
 * iommufd_device_dirty_declare().  Nothing is logged while no one tracks, or
 * while the device is not attached (then it cannot DMA).
 *
 * Context: any, including hard interrupt; never sleeps.  If a log page
 * cannot be allocated the log turns conservative (see dirty_log.c), so a
 * report is never lost.
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
	if (log && dirty_log_tracking(log))
		dirty_log_mark(log, iova, last, GFP_ATOMIC,
			       IOMMUFD_DIRTY_SRC_REPORT);
	rcu_read_unlock();
	return 0;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_dirty_report, IOMMUFD);

/**
 * iommufd_dirty_access_prepare() - an access is about to change its IOAS
 * @access: the access; its ioas_lock is held
 * @new_ioas: the IOAS it moves to, or NULL when it detaches
 *
 * While the access tracks, its tracking moves with it: the new IOAS needs a
 * log, allocated here so that the move cannot fail half-way.
 *
 * Return: 0 or -ENOMEM.
 */
int iommufd_dirty_access_prepare(struct iommufd_access *access,
				 struct iommufd_ioas *new_ioas)
{
	lockdep_assert_held(&access->ioas_lock);
	if (!access->dirty.enabled || !new_ioas)
		return 0;
	return dirty_log_get(&new_ioas->iopt) ? 0 : -ENOMEM;
}

/* Start or stop @log for @access; ioas_lock held */
static void dirty_access_start(struct iommufd_dirty_log *log, bool clean)
{
	mutex_lock(&log->lock);
	dirty_log_start(log, false, clean);
	mutex_unlock(&log->lock);
}

static void dirty_access_stop(struct iommufd_dirty_log **logp)
{
	struct iommufd_dirty_log *log = *logp;

	if (!log)
		return;
	mutex_lock(&log->lock);
	dirty_log_stop(log, false);
	mutex_unlock(&log->lock);
	*logp = NULL;
}

/**
 * iommufd_dirty_access_moved() - an access is changing its IOAS
 * @access: the access; its ioas_lock is held
 * @old_ioas: the IOAS it is leaving, or NULL; still referenced by the
 *	access, so its log cannot go away under this call
 * @new_ioas: the IOAS it joined, or NULL
 *
 * A tracking access starts the log of @new_ioas, without clearing it, and
 * stops that of @old_ioas.  iommufd_access_change_ioas() makes the two
 * calls apart, dropping ioas_lock in between: the logs held meanwhile are
 * in iommufd_dirty_access, so that iommufd_access_dirty_set() can stop them
 * whenever it runs.  What the old log holds stays with the old IOAS.
 */
void iommufd_dirty_access_moved(struct iommufd_access *access,
				struct iommufd_ioas *old_ioas,
				struct iommufd_ioas *new_ioas)
{
	struct iommufd_dirty_access *dirty = &access->dirty;
	struct iommufd_dirty_log *log;

	lockdep_assert_held(&access->ioas_lock);
	if (new_ioas && dirty->enabled) {
		/* iommufd_dirty_access_prepare() allocated it */
		log = dirty_log_of(&new_ioas->iopt);
		dirty_access_start(log, false);
		WARN_ON(dirty->old_log);
		dirty->old_log = dirty->log;
		dirty->log = log;
	}
	if (old_ioas) {
		log = dirty_log_of(&old_ioas->iopt);
		if (log && dirty->old_log == log)
			dirty_access_stop(&dirty->old_log);
		else if (log && dirty->log == log)
			dirty_access_stop(&dirty->log);
	}
}

/**
 * iommufd_access_dirty_set() - start or stop logging an access's writes
 * @access: the access, attached to an IOAS to start
 * @enable: start or stop
 *
 * For drivers of emulated devices (vfio's access-backed DMA logging):
 * while on, every iommufd_access_rw() write and every write pin of the IOAS
 * the access is attached to is logged, to be taken by
 * iommufd_access_dirty_read().  Tracking follows the access when it moves
 * to another IOAS, or detaches and attaches again.  The log belongs to the
 * IOAS and is shared with every other tracker of it (accesses and
 * dirty-tracking HWPTs): starting clears it only when no one else tracks.
 * Stopping an access that does not track does nothing.
 *
 * Context: process context; takes the access's ioas_lock.
 * Return: 0, -EINVAL to start an access that is not attached, -EBUSY to
 * start one that already tracks, or -ENOMEM.
 */
int iommufd_access_dirty_set(struct iommufd_access *access, bool enable)
{
	struct iommufd_dirty_access *dirty = &access->dirty;
	struct iommufd_dirty_log *log;
	int rc = 0;

	mutex_lock(&access->ioas_lock);
	if (!enable) {
		/* Also the logs of a move in progress */
		dirty_access_stop(&dirty->log);
		dirty_access_stop(&dirty->old_log);
		dirty->enabled = false;
		goto out;
	}
	if (dirty->enabled) {
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
	dirty_access_start(log, true);
	dirty->log = log;
	dirty->enabled = true;
out:
	mutex_unlock(&access->ioas_lock);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_dirty_set, IOMMUFD);

/**
 * iommufd_access_dirty_read() - take the logged writes of an IOVA range
 * @access: the access, tracking (iommufd_access_dirty_set())
 * @iova: first byte of the range
 * @length: bytes in the range
 * @bitmap: the user's bitmap; the dirty pages of the range are set in it,
 *	no bit is cleared
 *
 * Reports and clears what the log of the access's IOAS holds for the range,
 * the write pins standing in it, and, in conservative mode, every writable
 * mapping in it.  Unmapped parts of the range are allowed: the log is keyed
 * by IOVA.  Meant to be called from an iova_bitmap_for_each() walk.
 *
 * Context: process context; takes the access's ioas_lock, then the
 * IOAS's iova_rwsem for read.
 * Return: 0, -EINVAL if the access does not track or is not attached or the
 * range is empty, -EOVERFLOW if it wraps, or the error of writing the user's
 * bitmap (then the log turns conservative, see dirty_log_report()).
 */
int iommufd_access_dirty_read(struct iommufd_access *access,
			      unsigned long iova, unsigned long length,
			      struct iova_bitmap *bitmap)
{
	struct dirty_report report = { .bitmap = bitmap, .iova = iova };
	struct io_pagetable *iopt;
	int rc = 0;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &report.last))
		return -EOVERFLOW;

	mutex_lock(&access->ioas_lock);
	if (!access->dirty.enabled || !access->ioas) {
		rc = -EINVAL;
		goto out;
	}
	iopt = &access->ioas->iopt;
	down_read(&iopt->iova_rwsem);
	rc = dirty_log_report(iopt, dirty_log_of(iopt), &report, true,
			      READ_ONCE(dirty_conservative));
	up_read(&iopt->iova_rwsem);
out:
	mutex_unlock(&access->ioas_lock);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_dirty_read, IOMMUFD);
