// SPDX-License-Identifier: GPL-2.0
/*
 * A model-based fuzzer of iommufd's dirty tracking uAPI, run over the real
 * kernel through the selftest mock (CONFIG_IOMMUFD_TEST, /dev/iommu).
 *
 *   iommufd_dirty_fuzz [-s SEED] [-n NSEEDS] [-f NSEEDS] [-F PCT] [-l OPS]
 *                      [-t SECONDS] [-c PHASES] [-p MS] [-m SECONDS]
 *                      [-X KIND,...] [-1] [-v]
 *   iommufd_dirty_fuzz -r OPS      replay the ops of a "# replay:" line
 *
 * -t is a budget: no seed starts after it, nor one without faults after
 * two thirds of it when fault seeds (-f) are to run (the defaults take
 * about 80 s in the TCG test VM); -m bounds the minimising; -X leaves op kinds
 * out (e.g. -X read_bad,copy) and -1 keeps to one tracker per IOAS, to look
 * past a bug that fails every seed; see -h.
 *
 * Each seed drives one fresh iommufd fd through a random sequence of ops:
 * IOAS alloc/destroy/map/unmap/copy, mock devices (with and without
 * MOCK_FLAGS_DEVICE_NO_DIRTY) created, replaced onto HWPTs or IOASes and
 * destroyed, dirty declarations (0, 1 exact, 2 conservative), HWPT alloc and
 * destroy, SET_DIRTY_TRACKING, GET_DIRTY_BITMAP with and without NO_CLEAR at
 * power-of-two page sizes (and at invalid ones, which must fail with EINVAL
 * and change nothing), emulated accesses created, moved and closed, their
 * writes (fast and slow path), reads, write and read pins and unpins, their
 * DMA logging (IOMMU_TEST_OP_ACCESS_DIRTY START/READ/STOP), driver reports
 * from process and hard-IRQ context, mock IOMMU dirty bits, and mprotect() of
 * the memory behind the IOAS.  Op kinds the kernel refuses with EOPNOTSUPP
 * when probed are left out, so that the fuzzer runs on older kernels too.
 *
 * The model
 * ---------
 * The world holds the objects by slot (ioas0, hwpt2, dev1, acc0, pin5): the
 * kernel is the judge of whether an object came to be, attached or moved (an
 * op that fails changes nothing in the model), and the spec of the software
 * dirty log (the "dirty-spec") of what each tracker must report.
 *
 * A tracker is a HWPT allocated with DIRTY_TRACKING while tracking is on, or
 * an access while its DMA logging is on.  Each has its own view: the set of
 * 4 KiB IOVA pages it owes the reader ("owed"), keyed by IOVA, so it outlives
 * unmaps and moves.  Sources add to views:
 * - a write of IOAS X (an access's ACCESS_RW, a driver report of a device
 *   whose HWPT maps X, the unpin of a write pin on X, however it comes:
 *   DESTROY_ACCESS_PAGES, unmap, the access moving or closing) is owed by
 *   every tracker on X at that moment; a report only of what X maps
 *   writable;
 * - a mock IOMMU dirty bit (IOMMU_TEST_OP_DIRTY) only by its own HWPT, and
 *   only where the IOVA is mapped writable (no device writes elsewhere).
 * A successful read of tracker T over a range must set every bit whose pages
 * hold a page T owes, a write pin standing on T's IOAS, or, for a
 * conservative HWPT, any writable mapped page; a clearing read then takes the
 * range out of T's view only.  Starting a tracker empties its view, stopping
 * or destroying it drops it.  A failed read changes nothing.
 *
 * A bit missing there is a miss: the seed fails and prints the page, where
 * the model got it from and the last RING_OPS ops with their results.  So
 * does a kernel splat (the words of tools/testing/splat.re in /dev/kmsg)
 * logged during an op or while the fd closes.  The first failure of each
 * kind (a splat's place; a page another tracker's read took; else the
 * source the page came from) is then minimised by replaying subsets of the
 * ops on fresh fds (ddmin), and printed with a "# replay:" line for -r.
 * Set bits beyond the model are over-report: allowed, counted in pages, and
 * reported as a ratio at the end.
 *
 * Ground truth for writes: the IOAS maps this process's anonymous memory, and
 * every byte a write sends differs from the byte it would replace.  A write
 * that fails part way (-EFAULT after mprotect(), -ENOENT at a hole, -EPERM at
 * a read-only area) owes exactly the pages whose memory now holds the new
 * bytes, so the model never requires a page that was not truly written.
 * Pages whose memory is mapped twice within one write are left out then.
 *
 * Besides misses, a seed fails on a broken contract the model can predict
 * exactly: a read the model calls valid that fails (or an invalid one that
 * succeeds), an invalid page size that is not EINVAL or that writes the
 * bitmap, SET_DIRTY_TRACKING or a driver report failing, a START of a logging
 * access that is not EBUSY, a successful write whose bytes are not in memory.
 * Attach and declare results that disagree with the spec's rules are only
 * counted (the model follows the kernel there).
 *
 * Fault seeds (-f, after the others): in each, a quarter of the ops (-F)
 * run with their Nth fault-injection point failing (N from 1 to a little
 * past the most points an op of the kind passed in the seed, else 64:
 * /proc/thread-self/fail-nth, armed around the op's ioctls only, so every
 * allocation and iommufd's object lookups are points; lowdown's logs, views,
 * chunks, pin records and read buffers among them).  The model is the same:
 * a read that succeeds must report every page owed, and an op the model
 * expects to succeed may fail only with an errno of fault_errnos[] after
 * its point failed, changing nothing: whatever it did change shows as a
 * broken contract or a miss in the ops that follow.  Ops print with their
 * fault point, and "# replay:" lines carry it.
 *
 * Leaks: after every seed, once its fd is closed, the logs, trackers,
 * chunks and pin records alive in iommufd (IOMMU_TEST_OP_DIRTY_LOG_BYTES)
 * must drop back to none; a seed that leaves one fails.
 *
 * Concurrent phases (-c, after the seeds): writer threads (ACCESS_RW, driver
 * reports, write pins taken and dropped) and reader threads (clearing and
 * NO_CLEAR reads of every tracker at random page sizes) share one IOAS with
 * several trackers.  At the end of a phase, when all is quiet, one final
 * read of each tracker; then what the tracker reported during the phase and
 * in that read must hold every page written in the phase, and more: a report
 * of the page by a read that ended after the page's last write started (a
 * read that ended before cannot have seen it).
 *
 * Output: kselftest TAP, one result per seed and one for the concurrent
 * phases, then a summary: seeds, ops, reads checked, over-report ratio, run
 * time.
 *
 * Naming: a "page" is a 4 KiB IOVA page numbered from WINDOW_IOVA, the start
 * of the IOVA window every map lands in; a "chunk" is one bitmap bit (one
 * read page size); 'end' is exclusive.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strerrorname_np() */
#endif
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "../kselftest.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"
#include "fail_nth.h"

/*
 * Until iommufd_test.h has them (kernel/patches/0005): the access DMA
 * logging op and the report's flags, as the dirty-spec gives them.  The
 * payloads are laid over struct iommu_test_cmd by union test_cmd below, so
 * that this file builds against the old header and the new one alike.
 */
#ifndef MOCK_ACCESS_DIRTY_START
#define IOMMU_TEST_OP_ACCESS_DIRTY (IOMMU_TEST_OP_DIRTY_LOG_BYTES + 1)
#define MOCK_ACCESS_DIRTY_START 1
#define MOCK_ACCESS_DIRTY_STOP 2
#define MOCK_ACCESS_DIRTY_READ 3
#endif
#ifndef MOCK_DIRTY_REPORT_PROCESS
#define MOCK_DIRTY_REPORT_PROCESS 1
#endif

union test_cmd {
	struct iommu_test_cmd cmd;
	struct {
		__u32 size;
		__u32 op;
		__u32 id;
		__u32 __reserved;
		union {
			struct {
				__u32 op;
				__u32 __reserved;
				__aligned_u64 iova;
				__aligned_u64 length;
				__aligned_u64 page_size;
				__aligned_u64 uptr;
			} access_dirty;
			struct {
				__aligned_u64 iova;
				__aligned_u64 length;
				__u32 flags;
			} dirty_report;
			struct {
				__aligned_u64 out_bytes;
				__u32 out_live[4];
			} dirty_log_bytes;
		};
	} ext;
};

static_assert(sizeof(((union test_cmd *)0)->ext) <=
	      offsetof(struct iommu_test_cmd, last),
	      "the new payloads fit in iommu_test_cmd's union");

#define PAGE_SIZE 4096UL
#define PAGE_SHIFT 12
/* The mock IOMMU's IO page: its dirty bits have this granularity */
#define MOCK_IO_PAGE (PAGE_SIZE / 2)

/* Every map lands in [WINDOW_IOVA, WINDOW_IOVA + WINDOW_PAGES pages) */
#define WINDOW_IOVA ((__u64)MOCK_APERTURE_START)
#define WINDOW_PAGES 2048
#define WINDOW_WORDS (WINDOW_PAGES / 64)
/* Read page sizes: 4 KiB to 2 MiB */
#define MIN_SHIFT PAGE_SHIFT
#define MAX_SHIFT 21
/* The anonymous memory every IOAS maps, 2 MiB */
#define POOL_PAGES 512

#define MAX_IOAS 3
#define MAX_AREAS 24
#define MAX_HWPT 6
#define MAX_DEV 4
#define MAX_ACC 3
#define MAX_PIN 8
#define MAX_TRACKERS (MAX_HWPT + MAX_ACC)
#define MAX_OPS 20000
/* Ops printed before a failing one */
#define RING_OPS 48
#define MAX_WRITE (3 * PAGE_SIZE)
/* The longest read at an invalid page size */
#define BAD_READ_PAGES 12

static unsigned char *pool;

/* What the kernel under test can do, probed at start */
static bool have_access_dirty;
static bool have_declare_conservative;
/* DIRTY_DECLARE and DIRTY_REPORT: software dirty tracking at all */
static bool have_lowdown;

static bool verbose;
/* -1: never more than one tracker on an IOAS, to see past shared-log bugs */
static bool one_tracker;

/* ------------------------------------------------------------------ */
/* Random numbers: splitmix64, one stream per seed                     */

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 */
static unsigned int rnd(uint64_t *state, unsigned int n)
{
	return rng_next(state) % n;
}

/* True with probability percent/100 */
static bool chance(uint64_t *state, unsigned int percent)
{
	return rnd(state, 100) < percent;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Page bitmaps                                                        */

static void bit_set(uint64_t *map, unsigned int i)
{
	map[i / 64] |= 1ULL << (i % 64);
}

static void bit_clear(uint64_t *map, unsigned int i)
{
	map[i / 64] &= ~(1ULL << (i % 64));
}

static bool bit_test(const uint64_t *map, unsigned int i)
{
	return map[i / 64] >> (i % 64) & 1;
}

/* ------------------------------------------------------------------ */
/* The kernel's ops: 0 or -errno                                       */

/* The result of the calling thread's last ioctl, for the op log */
static __thread int last_rc;

/*
 * Fault injection (-f): this thread's fail-nth file, the fault points the
 * running op still has to pass before the one that fails (0: none armed),
 * and whether that one was reached.  Armed only around the op's ioctls, so
 * that the fuzzer's own page faults never fail.
 */
static int nth_fd = -1;
static __thread unsigned int nth_left;
static __thread bool nth_hit;

static int kioctl(int fd, unsigned long request, void *arg)
{
	bool armed = nth_left && !fail_nth_arm(nth_fd, nth_left);

	last_rc = ioctl(fd, request, arg) ? -errno : 0;
	if (armed) {
		int left = fail_nth_left(nth_fd);

		nth_hit |= !left;
		nth_left = left > 0 ? left : 0;
	}
	return last_rc;
}

static void test_cmd_init(union test_cmd *cmd, __u32 op, __u32 id)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->cmd.size = sizeof(cmd->cmd);
	cmd->cmd.op = op;
	cmd->cmd.id = id;
}

static int kioas_alloc(int fd, __u32 *ioas_id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int rc = kioctl(fd, IOMMU_IOAS_ALLOC, &cmd);

	*ioas_id = cmd.out_ioas_id;
	return rc;
}

static int kdestroy(int fd, __u32 id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return kioctl(fd, IOMMU_DESTROY, &cmd);
}

static int kioas_map(int fd, __u32 ioas_id, __u64 iova, void *uptr,
		     __u64 length, bool writable)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 (writable ? IOMMU_IOAS_MAP_WRITEABLE : 0),
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)uptr,
		.length = length,
		.iova = iova,
	};

	return kioctl(fd, IOMMU_IOAS_MAP, &cmd);
}

static int kioas_unmap(int fd, __u32 ioas_id, __u64 iova, __u64 length)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};

	return kioctl(fd, IOMMU_IOAS_UNMAP, &cmd);
}

static int kcopy(int fd, __u32 dst_id, __u64 dst_iova, __u32 src_id,
		 __u64 src_iova, __u64 length, bool writable)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 (writable ? IOMMU_IOAS_MAP_WRITEABLE : 0),
		.dst_ioas_id = dst_id,
		.src_ioas_id = src_id,
		.length = length,
		.dst_iova = dst_iova,
		.src_iova = src_iova,
	};

	return kioctl(fd, IOMMU_IOAS_COPY, &cmd);
}

static int khwpt_alloc(int fd, __u32 idev_id, __u32 pt_id, __u32 flags,
		       __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = idev_id,
		.pt_id = pt_id,
	};
	int rc = kioctl(fd, IOMMU_HWPT_ALLOC, &cmd);

	*hwpt_id = cmd.out_hwpt_id;
	return rc;
}

static int kset_tracking(int fd, __u32 hwpt_id, bool on)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
		.hwpt_id = hwpt_id,
	};

	return kioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
}

static int kget_dirty(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
		      __u64 page_size, void *bitmap, bool no_clear)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.flags = no_clear ? IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR : 0,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = (uintptr_t)bitmap,
	};

	return kioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd);
}

static int kdev_create(int fd, __u32 ioas_id, bool no_dirty, __u32 *stdev_id,
		       __u32 *idev_id)
{
	union test_cmd cmd;
	int rc;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, ioas_id);
	cmd.cmd.mock_domain_flags.dev_flags =
		no_dirty ? MOCK_FLAGS_DEVICE_NO_DIRTY : 0;
	rc = kioctl(fd, IOMMU_TEST_CMD, &cmd);
	*stdev_id = cmd.cmd.mock_domain_flags.out_stdev_id;
	*idev_id = cmd.cmd.mock_domain_flags.out_idev_id;
	return rc;
}

static int kdev_replace(int fd, __u32 stdev_id, __u32 pt_id)
{
	union test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev_id);
	cmd.cmd.mock_domain_replace.pt_id = pt_id;
	return kioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static int kdeclare(int fd, __u32 idev_id, __u32 reports_all_dma)
{
	union test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_DIRTY_DECLARE, idev_id);
	cmd.cmd.dirty_declare.reports_all_dma = reports_all_dma;
	return kioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static int kreport(int fd, __u32 idev_id, __u64 iova, __u64 length,
		   bool process)
{
	union test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_DIRTY_REPORT, idev_id);
	cmd.ext.dirty_report.iova = iova;
	cmd.ext.dirty_report.length = length;
	cmd.ext.dirty_report.flags = process ? MOCK_DIRTY_REPORT_PROCESS : 0;
	return kioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static int kaccess_create(int fd, __u32 ioas_id, bool pins, int *access_fd)
{
	union test_cmd cmd;
	int rc;

	test_cmd_init(&cmd, IOMMU_TEST_OP_CREATE_ACCESS, ioas_id);
	cmd.cmd.create_access.flags =
		pins ? MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES : 0;
	rc = kioctl(fd, IOMMU_TEST_CMD, &cmd);
	*access_fd = cmd.cmd.create_access.out_access_fd;
	return rc;
}

static int kaccess_replace(int fd, int access_fd, __u32 ioas_id)
{
	union test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, access_fd);
	cmd.cmd.access_replace_ioas.ioas_id = ioas_id;
	return kioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static int kaccess_rw(int fd, int access_fd, __u64 iova, void *data,
		      __u64 length, unsigned int flags)
{
	union test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ACCESS_RW, access_fd);
	cmd.cmd.access_rw.iova = iova;
	cmd.cmd.access_rw.length = length;
	cmd.cmd.access_rw.uptr = (uintptr_t)data;
	cmd.cmd.access_rw.flags = flags;
	return kioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static int kpin(int fd, int access_fd, __u64 iova, __u64 length, void *uptr,
		bool write, __u32 *pages_id)
{
	union test_cmd cmd;
	int rc;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ACCESS_PAGES, access_fd);
	cmd.cmd.access_pages.iova = iova;
	cmd.cmd.access_pages.length = length;
	cmd.cmd.access_pages.uptr = (uintptr_t)uptr;
	cmd.cmd.access_pages.flags = write ? MOCK_FLAGS_ACCESS_WRITE : 0;
	rc = kioctl(fd, IOMMU_TEST_CMD, &cmd);
	*pages_id = cmd.cmd.access_pages.out_access_pages_id;
	return rc;
}

static int kunpin(int fd, int access_fd, __u32 pages_id)
{
	union test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, access_fd);
	cmd.cmd.destroy_access_pages.access_pages_id = pages_id;
	return kioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* IOMMU_TEST_OP_DIRTY: set the mock IOPTE dirty bits of @bitmap's 2 KiB pages */
static int khw_dirty(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
		     void *bitmap, __u64 *nr_dirty)
{
	union test_cmd cmd;
	int rc;

	test_cmd_init(&cmd, IOMMU_TEST_OP_DIRTY, hwpt_id);
	cmd.cmd.dirty.iova = iova;
	cmd.cmd.dirty.length = length;
	cmd.cmd.dirty.page_size = MOCK_IO_PAGE;
	cmd.cmd.dirty.uptr = (uintptr_t)bitmap;
	rc = kioctl(fd, IOMMU_TEST_CMD, &cmd);
	*nr_dirty = cmd.cmd.dirty.out_nr_dirty;
	return rc;
}

static int kaccess_dirty(int fd, int access_fd, __u32 op, __u64 iova,
			 __u64 length, __u64 page_size, void *bitmap)
{
	union test_cmd cmd;

	test_cmd_init(&cmd, IOMMU_TEST_OP_ACCESS_DIRTY, access_fd);
	cmd.ext.access_dirty.op = op;
	cmd.ext.access_dirty.iova = iova;
	cmd.ext.access_dirty.length = length;
	cmd.ext.access_dirty.page_size = page_size;
	cmd.ext.access_dirty.uptr = (uintptr_t)bitmap;
	return kioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static __u64 page_iova(unsigned int page)
{
	return WINDOW_IOVA + (__u64)page * PAGE_SIZE;
}

/* ------------------------------------------------------------------ */
/* The model                                                           */

/* Where the model got an owed page from; the class of a miss */
enum source {
	SRC_WRITE,		/* ACCESS_RW write that succeeded */
	SRC_WRITE_PARTIAL,	/* ACCESS_RW write that failed part way */
	SRC_REPORT,		/* driver report */
	SRC_HW,			/* mock IOMMU dirty bit */
	SRC_UNPIN,		/* DESTROY_ACCESS_PAGES of a write pin */
	SRC_UNPIN_UNMAP,	/* write pin dropped by an unmap */
	SRC_UNPIN_MOVE,		/* write pin dropped by ACCESS_REPLACE_IOAS */
	SRC_UNPIN_CLOSE,	/* write pin dropped by closing the access */
	SRC_PIN,		/* write pin standing at the read */
	SRC_CONSERVATIVE,	/* writable mapped, conservative tracker */
	NR_SRC,
};

static const char *const source_name[NR_SRC] = {
	"write", "partial-write", "report", "hw-dirty-bit", "unpin",
	"unpin-by-unmap", "unpin-by-move", "unpin-by-close", "standing-pin",
	"conservative",
};

enum tracker_kind { TK_HW, TK_SW, TK_CONS, TK_ACC, NR_TK };

static const char *const tracker_kind_name[NR_TK] = {
	"hardware-hwpt", "software-hwpt", "conservative-hwpt", "access",
};

struct tracker {
	bool on;
	/* Tracker code: hwpt i is i, access j is MAX_HWPT + j */
	int code;
	uint64_t owed[WINDOW_WORDS];
	/* For each owed page: the op (index + 1) and source that made it so */
	uint32_t why[WINDOW_PAGES];
	uint8_t src[WINDOW_PAGES];
};

struct area {
	unsigned int first;
	unsigned int npages;
	/* Pool page behind the area's first page */
	unsigned int backing;
	/* The area's IOMMU_WRITE, and its pages' (copies keep the latter) */
	bool writable;
	bool pages_writable;
};

struct ioas {
	bool live;
	__u32 id;
	int nr_areas;
	struct area areas[MAX_AREAS];
	/* Index in areas[] of the area mapping each page, or -1 */
	int8_t page_area[WINDOW_PAGES];
	/* The last clearing read of each page by any tracker: op + 1, who */
	uint32_t cleared_at[WINDOW_PAGES];
	uint8_t cleared_by[WINDOW_PAGES];
};

enum hwpt_kind { HWPT_PLAIN, HWPT_HW, HWPT_SW, HWPT_CONS };

static const char *const hwpt_kind_name[] = {
	"plain", "hardware", "software", "conservative",
};

struct hwpt {
	bool live;
	__u32 id;
	int ioas;
	enum hwpt_kind kind;
	struct tracker t;
};

struct device {
	bool live;
	__u32 stdev_id;
	__u32 idev_id;
	bool no_dirty;
	unsigned int declared;
	/* The HWPT slot it is attached to, or -1 for its IOAS's auto domain */
	int hwpt;
	/* The IOAS its DMA, and so its reports, go to */
	int ioas;
};

struct access {
	bool live;
	int fd;
	bool pins;
	int ioas;
	struct tracker t;
};

struct pin {
	bool live;
	int access;
	__u32 id;
	unsigned int first;
	unsigned int npages;
	bool write;
};

/* What failed a seed: a miss, or a kernel splat during an op */
struct failure {
	bool miss;
	bool splat;
	enum tracker_kind kind;
	enum source src;
	bool stolen;
	/* The splat's place: "drivers/...c:490 function+0x39/0x50" */
	char where[100];
	uint32_t op;
	char msg[600];
};

struct counters {
	unsigned long ops;
	unsigned long skipped;
	unsigned long reads;
	unsigned long reads_failed_ok;
	unsigned long bad_page_size_reads;
	unsigned long reported_pages;
	unsigned long model_pages;
	unsigned long exact_reported_pages;
	unsigned long exact_model_pages;
	unsigned long partial_writes;
	unsigned long rule_disagreements;
	unsigned long contracts;
	/* Ops run with a fault point armed, that reached it, clean errnos */
	unsigned long faults_armed;
	unsigned long faults_injected;
	/* By fault_errnos[] */
	unsigned long faults_clean[4];
	/* Ops run, by enum op_kind */
	unsigned long by_kind[32];
};

struct world {
	int fd;
	/* Index of the op running, + 1 (0: none), and its kind */
	uint32_t op;
	uint16_t kind;
	struct ioas ioas[MAX_IOAS];
	struct hwpt hwpt[MAX_HWPT];
	struct device dev[MAX_DEV];
	struct access acc[MAX_ACC];
	struct pin pin[MAX_PIN];
	bool pool_ro[POOL_PAGES];
	struct failure fail;
	char contract[400];
	char rule[300];
	struct counters c;
	/* Replaying: say nothing */
	bool quiet;
	/* Fault seeds: the most fault points an op of each kind passed */
	uint16_t points[32];
	/* Lowdown's objects alive before the world began (live_name[]) */
	__u32 live0[4];
	bool live_ok;
};

/* The generated ops: kind, slots and parameters fully describe each */
enum op_kind {
	OP_IOAS_ALLOC,
	OP_IOAS_DESTROY,
	OP_MAP,
	OP_UNMAP,
	OP_COPY,
	OP_HWPT_ALLOC,
	OP_HWPT_DESTROY,
	OP_DEV_CREATE,
	OP_DEV_DESTROY,
	OP_DEV_REPLACE,
	OP_DECLARE,
	OP_TRACK,
	OP_READ,
	OP_READ_BAD,
	OP_ACC_CREATE,
	OP_ACC_DESTROY,
	OP_ACC_REPLACE,
	OP_WRITE,
	OP_RW_READ,
	OP_PIN,
	OP_UNPIN,
	OP_REPORT,
	OP_HW_DIRTY,
	OP_LOG_START,
	OP_LOG_STOP,
	OP_LOG_READ,
	OP_MPROTECT,
	NR_OP_KINDS,
};

static_assert(NR_OP_KINDS <= 32, "struct counters counts them by kind");

static const char *const op_name[NR_OP_KINDS] = {
	"ioas_alloc", "ioas_destroy", "map", "unmap", "copy", "hwpt_alloc",
	"hwpt_destroy", "dev_create", "dev_destroy", "dev_replace", "declare",
	"track", "read", "read_bad", "acc_create", "acc_destroy",
	"acc_replace", "write", "rw_read", "pin", "unpin", "report",
	"hw_dirty", "log_start", "log_stop", "log_read", "mprotect",
};

/* How often each kind is drawn */
static unsigned int op_weight[NR_OP_KINDS] = {
	[OP_IOAS_ALLOC] = 3,	[OP_IOAS_DESTROY] = 1,	[OP_MAP] = 8,
	[OP_UNMAP] = 3,		[OP_COPY] = 2,		[OP_HWPT_ALLOC] = 5,
	[OP_HWPT_DESTROY] = 1,	[OP_DEV_CREATE] = 3,	[OP_DEV_DESTROY] = 1,
	[OP_DEV_REPLACE] = 4,	[OP_DECLARE] = 3,	[OP_TRACK] = 5,
	[OP_READ] = 18,		[OP_READ_BAD] = 2,	[OP_ACC_CREATE] = 3,
	[OP_ACC_DESTROY] = 1,	[OP_ACC_REPLACE] = 3,	[OP_WRITE] = 16,
	[OP_RW_READ] = 1,	[OP_PIN] = 5,		[OP_UNPIN] = 4,
	[OP_REPORT] = 8,	[OP_HW_DIRTY] = 4,	[OP_LOG_START] = 4,
	[OP_LOG_STOP] = 1,	[OP_LOG_READ] = 7,	[OP_MPROTECT] = 2,
};

enum {
	F_WRITE = 1 << 0,	/* map/copy writable, write pin */
	F_SLOW = 1 << 1,	/* write: MOCK_ACCESS_RW_SLOW_PATH */
	F_NO_CLEAR = 1 << 2,	/* read: NO_CLEAR */
	F_NO_DIRTY = 1 << 3,	/* dev_create: MOCK_FLAGS_DEVICE_NO_DIRTY */
	F_PROCESS = 1 << 4,	/* report: from process context */
	F_HUGE = 1 << 5,	/* report: 2^47 bytes */
	F_TO_HWPT = 1 << 6,	/* dev_replace: b is a HWPT, else an IOAS */
	F_ON = 1 << 7,		/* track: enable; mprotect: read-only */
	F_PINS = 1 << 8,	/* acc_create: NEEDS_PIN_PAGES */
	F_DIRTY = 1 << 9,	/* hwpt_alloc: DIRTY_TRACKING */
	F_ACC = 1 << 10,	/* read_bad: an access, else a HWPT */
};

struct op {
	uint16_t kind;
	uint16_t flags;
	uint8_t a;
	uint8_t b;
	uint32_t x;
	uint32_t y;
	uint32_t z;
	uint32_t seed;
	/* Its Nth fault point fails (-f), 0: none */
	uint32_t nth;
	/* Filled in when run: did it apply, its last ioctl's result, hit */
	bool ran;
	bool hit;
	int rc;
};

static void tracker_init(struct tracker *t, int code)
{
	memset(t, 0, sizeof(*t));
	t->code = code;
}

static void tracker_start(struct tracker *t)
{
	t->on = true;
	memset(t->owed, 0, sizeof(t->owed));
}

static void tracker_stop(struct tracker *t)
{
	t->on = false;
	memset(t->owed, 0, sizeof(t->owed));
}

static const char *tracker_name(int code, char *buf)
{
	if (code < MAX_HWPT)
		sprintf(buf, "hwpt%d", code);
	else
		sprintf(buf, "acc%d", code - MAX_HWPT);
	return buf;
}

static struct tracker *tracker_of(struct world *w, int code)
{
	return code < MAX_HWPT ? &w->hwpt[code].t : &w->acc[code - MAX_HWPT].t;
}

static int tracker_ioas(struct world *w, int code)
{
	return code < MAX_HWPT ? w->hwpt[code].ioas :
				 w->acc[code - MAX_HWPT].ioas;
}

static enum tracker_kind tracker_kind(struct world *w, int code)
{
	if (code >= MAX_HWPT)
		return TK_ACC;
	switch (w->hwpt[code].kind) {
	case HWPT_HW:
		return TK_HW;
	case HWPT_CONS:
		return TK_CONS;
	default:
		return TK_SW;
	}
}

/* The trackers on IOAS @ioas right now */
static int trackers_on(struct world *w, int ioas, struct tracker **out)
{
	int i, n = 0;

	for (i = 0; i < MAX_HWPT; i++)
		if (w->hwpt[i].live && w->hwpt[i].t.on && w->hwpt[i].ioas == ioas)
			out[n++] = &w->hwpt[i].t;
	for (i = 0; i < MAX_ACC; i++)
		if (w->acc[i].live && w->acc[i].t.on && w->acc[i].ioas == ioas)
			out[n++] = &w->acc[i].t;
	return n;
}

static void owe(struct world *w, struct tracker *t, unsigned int page,
		enum source src)
{
	bit_set(t->owed, page);
	t->why[page] = w->op;
	t->src[page] = src;
}

/* Every tracker on @ioas owes the pages of @pages */
static void owe_ioas(struct world *w, int ioas, const uint64_t *pages,
		     enum source src)
{
	struct tracker *ts[MAX_TRACKERS];
	int n = trackers_on(w, ioas, ts), i;
	unsigned int p;

	for (p = 0; p < WINDOW_PAGES; p++) {
		if (!bit_test(pages, p))
			continue;
		for (i = 0; i < n; i++)
			owe(w, ts[i], p, src);
	}
}

static void owe_ioas_range(struct world *w, int ioas, unsigned int first,
			   unsigned int npages, enum source src)
{
	uint64_t pages[WINDOW_WORDS] = {};
	unsigned int p;

	for (p = first; p < first + npages && p < WINDOW_PAGES; p++)
		bit_set(pages, p);
	owe_ioas(w, ioas, pages, src);
}

static void ioas_rebuild(struct ioas *io)
{
	int i;
	unsigned int p;

	memset(io->page_area, -1, sizeof(io->page_area));
	for (i = 0; i < io->nr_areas; i++)
		for (p = 0; p < io->areas[i].npages; p++)
			io->page_area[io->areas[i].first + p] = i;
}

static struct area *page_area(struct ioas *io, unsigned int page)
{
	if (page >= WINDOW_PAGES || io->page_area[page] < 0)
		return NULL;
	return &io->areas[(int)io->page_area[page]];
}

static bool page_writable(struct ioas *io, unsigned int page)
{
	struct area *area = page_area(io, page);

	return area && area->writable;
}

/* The pool page behind @page, or -1 */
static int page_backing(struct ioas *io, unsigned int page)
{
	struct area *area = page_area(io, page);

	return area ? (int)(area->backing + page - area->first) : -1;
}

static bool range_mapped(struct ioas *io, unsigned int first,
			 unsigned int npages)
{
	unsigned int p;

	if (!npages || first + npages > WINDOW_PAGES)
		return false;
	for (p = first; p < first + npages; p++)
		if (io->page_area[p] < 0)
			return false;
	return true;
}

static bool range_free(struct ioas *io, unsigned int first,
		       unsigned int npages)
{
	unsigned int p;

	if (!npages || first + npages > WINDOW_PAGES)
		return false;
	for (p = first; p < first + npages; p++)
		if (io->page_area[p] >= 0)
			return false;
	return true;
}

struct run {
	unsigned int first;
	unsigned int end;
};

/* The maximal runs of contiguously mapped pages (adjacent areas merge) */
static int mapped_runs(struct ioas *io, struct run *runs)
{
	unsigned int p = 0;
	int n = 0;

	while (p < WINDOW_PAGES) {
		if (io->page_area[p] < 0) {
			p++;
			continue;
		}
		runs[n].first = p;
		while (p < WINDOW_PAGES && io->page_area[p] >= 0)
			p++;
		runs[n++].end = p;
	}
	return n;
}

/* Standing write pins on @ioas, as pages */
static void standing_pins(struct world *w, int ioas, uint64_t *pages)
{
	unsigned int p;
	int i;

	memset(pages, 0, WINDOW_WORDS * sizeof(*pages));
	for (i = 0; i < MAX_PIN; i++) {
		struct pin *pin = &w->pin[i];

		if (!pin->live || !pin->write || w->acc[pin->access].ioas != ioas)
			continue;
		for (p = pin->first; p < pin->first + pin->npages; p++)
			bit_set(pages, p);
	}
}

/*
 * The errnos an op may fail with once its armed fault point failed: an
 * allocation's ENOMEM and, as CONFIG_IOMMUFD_TEST makes an object lookup a
 * fault point of its own, ENOENT; EINVAL where upstream's own fault points
 * return it (iopt_pages_rw_page() under an access's read or write, and
 * HWPT allocation, which turns a failed lookup into EINVAL); EFAULT where
 * user memory is faulted in or pinned (the write's and pin's pages, a
 * read's bitmap).
 */
static const int fault_errnos[] = { ENOMEM, ENOENT, EINVAL, EFAULT };

static bool fault_errno_ok(enum op_kind kind, int rc)
{
	switch (rc) {
	case -ENOMEM:
	case -ENOENT:
		return true;
	case -EINVAL:
		return kind == OP_WRITE || kind == OP_RW_READ ||
		       kind == OP_HWPT_ALLOC;
	case -EFAULT:
		return kind == OP_WRITE || kind == OP_RW_READ ||
		       kind == OP_PIN || kind == OP_READ ||
		       kind == OP_LOG_READ || kind == OP_MAP || kind == OP_COPY;
	}
	return false;
}

static __printf(2, 0) void contract_va(struct world *w, const char *fmt,
				       va_list args)
{
	size_t used = 0;

	w->c.contracts++;
	if (w->contract[0])
		return;
	if (nth_hit)
		used = snprintf(w->contract, sizeof(w->contract),
				"with a failure injected: ");
	vsnprintf(w->contract + used, sizeof(w->contract) - used, fmt, args);
	if (!w->quiet)
		ksft_print_msg("op %u: contract broken: %s\n", w->op - 1,
			       w->contract);
}

/* A contract the model predicts exactly was broken: the seed fails */
static __printf(2, 3) void contract(struct world *w, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	contract_va(w, fmt, args);
	va_end(args);
}

/*
 * The op's last ioctl did not end as the model predicts (it failed, or
 * returned another errno than the one predicted): a broken contract, unless
 * its armed fault point failed and the errno is one fault_errno_ok() allows
 * for the op's kind.  Such an op ended in a clean errno: it changed nothing,
 * as the model has it, and any state it did leave behind shows in the ops
 * that follow.
 */
static __printf(2, 3) void failed(struct world *w, const char *fmt, ...)
{
	va_list args;
	unsigned int i;

	if (nth_hit && last_rc && fault_errno_ok(w->kind, last_rc)) {
		for (i = 0; i < ARRAY_SIZE(fault_errnos); i++)
			w->c.faults_clean[i] += last_rc == -fault_errnos[i];
		return;
	}
	va_start(args, fmt);
	contract_va(w, fmt, args);
	va_end(args);
}

/* The kernel disagrees with the spec's attach/declare rules: counted only */
static __printf(2, 3) void rule(struct world *w, const char *fmt, ...)
{
	va_list args;

	w->c.rule_disagreements++;
	if (w->rule[0])
		return;
	va_start(args, fmt);
	vsnprintf(w->rule, sizeof(w->rule), fmt, args);
	va_end(args);
}

/* ------------------------------------------------------------------ */
/* Reads and their check                                               */

/* Tracker @code's read at 2^@shift did not report @page, owed from @src */
static void record_miss(struct world *w, int code, unsigned int page,
			unsigned int shift, enum source src)
{
	struct tracker *t = tracker_of(w, code);
	int ioas = tracker_ioas(w, code);
	struct ioas *io = &w->ioas[ioas];
	char name[16], other[16] = "";

	w->fail.miss = true;
	w->fail.kind = tracker_kind(w, code);
	w->fail.src = src;
	w->fail.op = w->op - 1;
	/* Another tracker's read cleared the page after it was owed */
	w->fail.stolen = src < SRC_PIN && io->cleared_at[page] > t->why[page] &&
			 io->cleared_by[page] != code;
	if (w->fail.stolen)
		tracker_name(io->cleared_by[page], other);
	snprintf(w->fail.msg, sizeof(w->fail.msg),
		 "miss: %s (%s, on ioas%d) did not report page 0x%x (iova 0x%llx) at page size %lu: owed since op %d (%s)%s%s",
		 tracker_name(code, name), tracker_kind_name[w->fail.kind],
		 ioas, page, (unsigned long long)page_iova(page), 1UL << shift,
		 src < SRC_PIN ? (int)t->why[page] - 1 : -1, source_name[src],
		 w->fail.stolen ? ", cleared meanwhile by a read of " : "",
		 other);
}

/*
 * A successful read of tracker @code over [first, first + npages) at
 * 2^@shift bytes a bit returned @bitmap: every bit whose pages hold an owed
 * page, a standing write pin or (conservative) a writable mapped page must
 * be set.  A clearing read then takes the range out of this tracker's view.
 */
static void check_read(struct world *w, int code, unsigned int first,
		       unsigned int npages, unsigned int shift,
		       const uint64_t *bitmap, bool clear)
{
	struct tracker *t = tracker_of(w, code);
	int ioas = tracker_ioas(w, code);
	struct ioas *io = &w->ioas[ioas];
	bool cons = tracker_kind(w, code) == TK_CONS;
	unsigned int chunk = 1U << (shift - PAGE_SHIFT), c, p;
	uint64_t pins[WINDOW_WORDS];

	standing_pins(w, ioas, pins);
	w->c.reads++;
	for (c = 0; c < npages / chunk; c++) {
		bool set = bit_test(bitmap, c);
		int need = -1;
		enum source src = SRC_WRITE;

		for (p = first + c * chunk; p < first + (c + 1) * chunk; p++) {
			if (bit_test(t->owed, p)) {
				need = p;
				src = t->src[p];
				break;
			}
			if (bit_test(pins, p)) {
				need = p;
				src = SRC_PIN;
				break;
			}
			if (cons && page_writable(io, p)) {
				need = p;
				src = SRC_CONSERVATIVE;
				break;
			}
		}
		w->c.reported_pages += set ? chunk : 0;
		w->c.model_pages += need >= 0 ? chunk : 0;
		if (!cons) {
			w->c.exact_reported_pages += set ? chunk : 0;
			w->c.exact_model_pages += need >= 0 ? chunk : 0;
		}
		if (need >= 0 && !set && !w->fail.miss)
			record_miss(w, code, need, shift, src);
	}
	if (!clear)
		return;
	for (p = first; p < first + npages; p++) {
		bit_clear(t->owed, p);
		io->cleared_at[p] = w->op;
		io->cleared_by[p] = code;
	}
}

/* An aligned range of whole chunks inside one mapped run of @io, if any */
static bool pick_mapped_range(struct ioas *io, uint64_t *rng,
			      unsigned int *first, unsigned int *npages,
			      unsigned int *shift)
{
	struct run runs[WINDOW_PAGES / 2];
	int n = mapped_runs(io, runs), tries;
	struct run *run;

	if (!n)
		return false;
	run = &runs[rnd(rng, n)];
	/* Small page sizes more often: the big ones rarely fit */
	*shift = MIN_SHIFT + rnd(rng, rnd(rng, MAX_SHIFT - MIN_SHIFT + 1) + 1);
	for (tries = 0; tries <= MAX_SHIFT; tries++, (*shift)--) {
		unsigned int chunk = 1U << (*shift - PAGE_SHIFT);
		unsigned int lo = (run->first + chunk - 1) / chunk;
		unsigned int hi = run->end / chunk;
		unsigned int k;

		if (*shift < MIN_SHIFT)
			break;
		if (lo >= hi)
			continue;
		k = lo + rnd(rng, hi - lo);
		*first = k * chunk;
		*npages = (1 + rnd(rng, hi - k)) * chunk;
		/* Often the whole run's chunks */
		if (chance(rng, 30)) {
			*first = lo * chunk;
			*npages = (hi - lo) * chunk;
		}
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Executing ops: each checks its slots, so that any subset replays    */

static void unpin_model(struct world *w, int i, enum source src)
{
	struct pin *pin = &w->pin[i];

	if (pin->write)
		owe_ioas_range(w, w->acc[pin->access].ioas, pin->first,
			       pin->npages, src);
	pin->live = false;
}

static int ioas_users(struct world *w, int ioas)
{
	int i, n = 0;

	for (i = 0; i < MAX_HWPT; i++)
		n += w->hwpt[i].live && w->hwpt[i].ioas == ioas;
	for (i = 0; i < MAX_DEV; i++)
		n += w->dev[i].live && w->dev[i].ioas == ioas;
	for (i = 0; i < MAX_ACC; i++)
		n += w->acc[i].live && w->acc[i].ioas == ioas;
	return n;
}

static bool exec_ioas_alloc(struct world *w, const struct op *op)
{
	struct ioas *io = &w->ioas[op->a];
	int rc;

	if (io->live)
		return false;
	rc = kioas_alloc(w->fd, &io->id);
	if (rc) {
		failed(w, "IOAS_ALLOC: %s", strerror(-rc));
		return true;
	}
	io->live = true;
	io->nr_areas = 0;
	memset(io->cleared_at, 0, sizeof(io->cleared_at));
	ioas_rebuild(io);
	return true;
}

static bool exec_ioas_destroy(struct world *w, const struct op *op)
{
	struct ioas *io = &w->ioas[op->a];
	int rc;

	if (!io->live)
		return false;
	rc = kdestroy(w->fd, io->id);
	if (!rc && ioas_users(w, op->a))
		contract(w, "ioas%d destroyed while in use", op->a);
	if (!rc)
		io->live = false;
	return true;
}

static bool exec_map(struct world *w, const struct op *op)
{
	struct ioas *io = &w->ioas[op->a];
	struct area *area;
	int rc;

	if (!io->live || io->nr_areas == MAX_AREAS ||
	    !range_free(io, op->x, op->y) || op->z + op->y > POOL_PAGES)
		return false;
	rc = kioas_map(w->fd, io->id, page_iova(op->x),
		       pool + op->z * PAGE_SIZE, op->y * PAGE_SIZE,
		       op->flags & F_WRITE);
	if (rc)
		return true;
	area = &io->areas[io->nr_areas++];
	area->first = op->x;
	area->npages = op->y;
	area->backing = op->z;
	area->writable = op->flags & F_WRITE;
	area->pages_writable = area->writable;
	ioas_rebuild(io);
	return true;
}

/* Unmap whole areas: [x, x + y), or everything when y is 0 */
static bool exec_unmap(struct world *w, const struct op *op)
{
	struct ioas *io = &w->ioas[op->a];
	unsigned int first = op->x, end = op->y ? op->x + op->y : WINDOW_PAGES;
	bool gone[MAX_AREAS] = {};
	int i, j, n = 0, rc;

	if (!io->live)
		return false;
	if (!op->y)
		first = 0;
	for (i = 0; i < io->nr_areas; i++) {
		struct area *area = &io->areas[i];
		unsigned int last = area->first + area->npages;

		if (last <= first || area->first >= end)
			continue;
		if (area->first < first || last > end)
			return false;
		gone[i] = true;
		n++;
	}
	if (!n)
		return false;
	if (op->y)
		rc = kioas_unmap(w->fd, io->id, page_iova(first),
				 (__u64)(end - first) * PAGE_SIZE);
	else
		rc = kioas_unmap(w->fd, io->id, 0, UINT64_MAX);
	if (rc) {
		failed(w, "unmap of whole areas of ioas%d: %s", op->a,
		       strerror(-rc));
		return true;
	}
	/* The mock's unmap callback drops every pin overlapping an area */
	for (j = 0; j < MAX_PIN; j++) {
		struct pin *pin = &w->pin[j];

		if (!pin->live || w->acc[pin->access].ioas != op->a)
			continue;
		for (i = 0; i < io->nr_areas; i++)
			if (gone[i] &&
			    pin->first < io->areas[i].first + io->areas[i].npages &&
			    pin->first + pin->npages > io->areas[i].first)
				break;
		if (i < io->nr_areas)
			unpin_model(w, j, SRC_UNPIN_UNMAP);
	}
	for (i = io->nr_areas - 1; i >= 0; i--)
		if (gone[i])
			io->areas[i] = io->areas[--io->nr_areas];
	ioas_rebuild(io);
	return true;
}

static bool exec_copy(struct world *w, const struct op *op)
{
	struct ioas *src = &w->ioas[op->a], *dst = &w->ioas[op->b];
	struct area pieces[MAX_AREAS];
	bool pages_writable = true;
	unsigned int p = op->x;
	int n = 0, rc, i;

	if (!src->live || !dst->live || !range_mapped(src, op->x, op->y) ||
	    !range_free(dst, op->z, op->y))
		return false;
	/* One area in dst for each piece of a src area */
	while (p < op->x + op->y) {
		struct area *area = page_area(src, p);
		unsigned int end = area->first + area->npages;

		if (end > op->x + op->y)
			end = op->x + op->y;
		if (n == MAX_AREAS)
			return false;
		pieces[n].first = op->z + p - op->x;
		pieces[n].npages = end - p;
		pieces[n].backing = area->backing + p - area->first;
		pieces[n].writable = op->flags & F_WRITE;
		pieces[n].pages_writable = area->pages_writable;
		pages_writable &= area->pages_writable;
		n++;
		p = end;
	}
	if (dst->nr_areas + n > MAX_AREAS)
		return false;
	rc = kcopy(w->fd, dst->id, page_iova(op->z), src->id,
		   page_iova(op->x), (__u64)op->y * PAGE_SIZE,
		   op->flags & F_WRITE);
	if (!rc && (op->flags & F_WRITE) && !pages_writable)
		contract(w, "writable copy of read-only pages succeeded");
	if (rc)
		return true;
	for (i = 0; i < n; i++)
		dst->areas[dst->nr_areas++] = pieces[i];
	ioas_rebuild(dst);
	return true;
}

static bool exec_hwpt_alloc(struct world *w, const struct op *op)
{
	struct hwpt *hwpt = &w->hwpt[op->a];
	struct device *dev = &w->dev[op->b];
	enum hwpt_kind kind = HWPT_PLAIN;
	bool refused = false;
	int rc;

	if (hwpt->live || !dev->live || !w->ioas[op->x].live)
		return false;
	if (op->flags & F_DIRTY) {
		if (!dev->no_dirty)
			kind = HWPT_HW;
		else if (dev->declared == 1)
			kind = HWPT_SW;
		else if (dev->declared == 2)
			kind = HWPT_CONS;
		else
			refused = true;
	}
	rc = khwpt_alloc(w->fd, dev->idev_id, w->ioas[op->x].id,
			 op->flags & F_DIRTY ? IOMMU_HWPT_ALLOC_DIRTY_TRACKING : 0,
			 &hwpt->id);
	if (refused && rc != -EOPNOTSUPP)
		failed(w, "dirty HWPT for undeclared no-dirty dev%d: %s",
		       op->b, rc ? strerror(-rc) : "allocated");
	if (rc)
		return true;
	hwpt->live = true;
	hwpt->ioas = op->x;
	hwpt->kind = kind;
	tracker_init(&hwpt->t, op->a);
	return true;
}

static bool exec_hwpt_destroy(struct world *w, const struct op *op)
{
	struct hwpt *hwpt = &w->hwpt[op->a];
	int rc, i;

	if (!hwpt->live)
		return false;
	rc = kdestroy(w->fd, hwpt->id);
	if (rc)
		return true;
	for (i = 0; i < MAX_DEV; i++)
		if (w->dev[i].live && w->dev[i].hwpt == op->a)
			contract(w, "hwpt%d destroyed with dev%d attached",
				 op->a, i);
	hwpt->live = false;
	tracker_stop(&hwpt->t);
	return true;
}

static bool exec_dev_create(struct world *w, const struct op *op)
{
	struct device *dev = &w->dev[op->a];
	int rc;

	if (dev->live || !w->ioas[op->x].live)
		return false;
	rc = kdev_create(w->fd, w->ioas[op->x].id, op->flags & F_NO_DIRTY,
			 &dev->stdev_id, &dev->idev_id);
	if (rc)
		return true;
	dev->live = true;
	dev->no_dirty = op->flags & F_NO_DIRTY;
	dev->declared = 0;
	dev->hwpt = -1;
	dev->ioas = op->x;
	return true;
}

static bool exec_dev_destroy(struct world *w, const struct op *op)
{
	struct device *dev = &w->dev[op->a];

	if (!dev->live)
		return false;
	if (!kdestroy(w->fd, dev->stdev_id))
		dev->live = false;
	return true;
}

/* May @dev attach to @hwpt, by the spec? */
static bool attach_allowed(struct device *dev, struct hwpt *hwpt)
{
	switch (hwpt->kind) {
	case HWPT_SW:
		return dev->declared == 1;
	case HWPT_HW:
		/* The mock IOMMU refuses a no-dirty device a dirty domain */
		return !dev->no_dirty;
	default:
		return true;
	}
}

static bool exec_dev_replace(struct world *w, const struct op *op)
{
	struct device *dev = &w->dev[op->a];
	bool to_hwpt = op->flags & F_TO_HWPT;
	__u32 pt_id;
	int rc;

	if (!dev->live)
		return false;
	if (to_hwpt) {
		if (!w->hwpt[op->b].live)
			return false;
		pt_id = w->hwpt[op->b].id;
	} else {
		if (op->b >= MAX_IOAS || !w->ioas[op->b].live)
			return false;
		pt_id = w->ioas[op->b].id;
	}
	rc = kdev_replace(w->fd, dev->stdev_id, pt_id);
	if (to_hwpt && attach_allowed(dev, &w->hwpt[op->b]) != !rc)
		rule(w, "dev%d (%s, declared %u) onto %s hwpt%d: %s",
		     op->a, dev->no_dirty ? "no-dirty" : "dirty bits",
		     dev->declared, hwpt_kind_name[w->hwpt[op->b].kind],
		     op->b, rc ? strerror(-rc) : "attached");
	if (rc)
		return true;
	dev->hwpt = to_hwpt ? op->b : -1;
	dev->ioas = to_hwpt ? w->hwpt[op->b].ioas : op->b;
	return true;
}

static bool exec_declare(struct world *w, const struct op *op)
{
	struct device *dev = &w->dev[op->a];
	bool busy = false;
	int rc;

	if (!dev->live || !have_lowdown ||
	    (op->x == 2 && !have_declare_conservative))
		return false;
	if (dev->hwpt >= 0 && w->hwpt[dev->hwpt].kind == HWPT_SW)
		busy = op->x != 1;
	rc = kdeclare(w->fd, dev->idev_id, op->x);
	if (busy != (rc == -EBUSY))
		rule(w, "declare %u on dev%d (on %s hwpt): %s", op->x, op->a,
		     dev->hwpt >= 0 ? hwpt_kind_name[w->hwpt[dev->hwpt].kind] :
				      "auto",
		     rc ? strerror(-rc) : "done");
	if (!rc)
		dev->declared = op->x;
	return true;
}

static bool exec_track(struct world *w, const struct op *op)
{
	struct hwpt *hwpt = &w->hwpt[op->a];
	bool on = op->flags & F_ON;
	int rc;

	if (!hwpt->live)
		return false;
	rc = kset_tracking(w->fd, hwpt->id, on);
	if (hwpt->kind == HWPT_PLAIN) {
		if (rc != -EOPNOTSUPP)
			failed(w, "SET_DIRTY_TRACKING on plain hwpt%d: %s",
			       op->a, rc ? strerror(-rc) : "done");
		return true;
	}
	if (rc) {
		failed(w, "SET_DIRTY_TRACKING(%d) on hwpt%d: %s", on, op->a,
		       strerror(-rc));
		return true;
	}
	if (on)
		tracker_start(&hwpt->t);
	else
		tracker_stop(&hwpt->t);
	return true;
}

/* Is [first, first + npages) a valid range at 2^shift, and mapped? */
static bool read_range_ok(unsigned int first, unsigned int npages,
			  unsigned int shift)
{
	unsigned int chunk;

	if (shift < MIN_SHIFT || shift > MAX_SHIFT)
		return false;
	chunk = 1U << (shift - PAGE_SHIFT);
	return npages && !(first % chunk) && !(npages % chunk) &&
	       first + npages <= WINDOW_PAGES;
}

static bool exec_read(struct world *w, const struct op *op)
{
	struct hwpt *hwpt = &w->hwpt[op->a];
	uint64_t bitmap[WINDOW_WORDS + 1];
	bool valid;
	int rc;

	if (!hwpt->live || !read_range_ok(op->x, op->y, op->z))
		return false;
	valid = hwpt->kind != HWPT_PLAIN && hwpt->t.on &&
		range_mapped(&w->ioas[hwpt->ioas], op->x, op->y);
	memset(bitmap, 0, sizeof(bitmap));
	bitmap[WINDOW_WORDS] = 0x5a5a5a5a5a5a5a5aULL;
	rc = kget_dirty(w->fd, hwpt->id, page_iova(op->x),
			(__u64)op->y * PAGE_SIZE, 1ULL << op->z, bitmap,
			op->flags & F_NO_CLEAR);
	if (!valid) {
		if (!rc)
			contract(w, "read of hwpt%d succeeded (%s, tracking %s, range %smapped)",
				 op->a, hwpt_kind_name[hwpt->kind],
				 hwpt->t.on ? "on" : "off",
				 range_mapped(&w->ioas[hwpt->ioas], op->x,
					      op->y) ? "" : "not ");
		else
			w->c.reads_failed_ok++;
		return true;
	}
	if (rc) {
		failed(w, "read of %s hwpt%d: %s", hwpt_kind_name[hwpt->kind],
		       op->a, strerror(-rc));
		return true;
	}
	if (bitmap[WINDOW_WORDS] != 0x5a5a5a5a5a5a5a5aULL)
		contract(w, "read wrote past its bitmap");
	check_read(w, op->a, op->x, op->y, op->z, bitmap,
		   !(op->flags & F_NO_CLEAR));
	return true;
}

/*
 * A read at a page size that is not a power of two (op->z bytes): EINVAL,
 * before anything is written or cleared.  The model keeps every owed page,
 * so a read that did clear shows up as a miss later on.
 */
static bool exec_read_bad(struct world *w, const struct op *op)
{
	/*
	 * A kernel that takes the page size for its lowest set bit writes a
	 * bit per byte: room for that, all of it checked
	 */
	static unsigned char bitmap[BAD_READ_PAGES * PAGE_SIZE / 8 + 64];
	static unsigned char canary[sizeof(bitmap)];
	bool acc = op->flags & F_ACC;
	int rc;

	if (acc ? !w->acc[op->a % MAX_ACC].live || !have_access_dirty :
		  !w->hwpt[op->a].live)
		return false;
	if (!op->y || op->y > BAD_READ_PAGES)
		return false;
	memset(canary, 0xa5, sizeof(canary));
	memcpy(bitmap, canary, sizeof(bitmap));
	if (acc)
		rc = kaccess_dirty(w->fd, w->acc[op->a % MAX_ACC].fd,
				   MOCK_ACCESS_DIRTY_READ, page_iova(op->x),
				   (__u64)op->y * PAGE_SIZE, op->z, bitmap);
	else
		rc = kget_dirty(w->fd, w->hwpt[op->a].id, page_iova(op->x),
				(__u64)op->y * PAGE_SIZE, op->z, bitmap,
				false);
	w->c.bad_page_size_reads++;
	if (rc != -EINVAL)
		failed(w, "read of %s%d at page size %u: %s, not EINVAL",
		       acc ? "acc" : "hwpt", op->a % (acc ? MAX_ACC : MAX_HWPT),
		       op->z, rc ? strerror(-rc) : "success");
	if (memcmp(bitmap, canary, sizeof(bitmap)))
		contract(w, "read at page size %u wrote the bitmap", op->z);
	return true;
}

static bool exec_acc_create(struct world *w, const struct op *op)
{
	struct access *acc = &w->acc[op->a];
	int rc;

	if (acc->live || !w->ioas[op->x].live)
		return false;
	rc = kaccess_create(w->fd, w->ioas[op->x].id, op->flags & F_PINS,
			    &acc->fd);
	if (rc)
		return true;
	acc->live = true;
	acc->pins = op->flags & F_PINS;
	acc->ioas = op->x;
	tracker_init(&acc->t, MAX_HWPT + op->a);
	return true;
}

static bool exec_acc_destroy(struct world *w, const struct op *op)
{
	struct access *acc = &w->acc[op->a];
	int i;

	if (!acc->live)
		return false;
	/* Its release unpins all it pinned, while it is still attached */
	tracker_stop(&acc->t);
	for (i = 0; i < MAX_PIN; i++)
		if (w->pin[i].live && w->pin[i].access == op->a)
			unpin_model(w, i, SRC_UNPIN_CLOSE);
	close(acc->fd);
	acc->live = false;
	return true;
}

static bool exec_acc_replace(struct world *w, const struct op *op)
{
	struct access *acc = &w->acc[op->a];
	int rc, i;

	if (!acc->live || !w->ioas[op->x].live)
		return false;
	rc = kaccess_replace(w->fd, acc->fd, w->ioas[op->x].id);
	if (rc || (int)op->x == acc->ioas)
		return true;
	/*
	 * Leaving, it unpins everything (the mock's unmap callback) into the
	 * trackers of the IOAS it leaves, itself included; its view goes
	 * with it.
	 */
	for (i = 0; i < MAX_PIN; i++)
		if (w->pin[i].live && w->pin[i].access == op->a)
			unpin_model(w, i, SRC_UNPIN_MOVE);
	acc->ioas = op->x;
	return true;
}

/*
 * An emulated write of op->z bytes at page op->x + op->y bytes.  Every byte
 * sent differs from the memory it would land in, so memory afterwards says
 * which pages were truly written, whatever the call returned.
 */
static bool exec_write(struct world *w, const struct op *op)
{
	struct access *acc = &w->acc[op->a];
	unsigned char data[MAX_WRITE + PAGE_SIZE];
	uint64_t written[WINDOW_WORDS] = {};
	unsigned int first = op->x, last, p, b;
	bool ambiguous[4] = {}, maps_ok = true, mem_ok = true;
	bool mismatch = false;
	uint64_t rng = op->seed;
	__u64 iova = page_iova(op->x) + op->y;
	struct ioas *io;
	int rc;

	if (!acc->live || !op->z || op->z > MAX_WRITE ||
	    op->y >= PAGE_SIZE)
		return false;
	io = &w->ioas[acc->ioas];
	last = (op->y + op->z - 1) / PAGE_SIZE + first;
	if (last >= WINDOW_PAGES)
		return false;
	/* Pages of this write mapping the same memory as another of it */
	for (p = first; p <= last; p++) {
		unsigned int q;

		for (q = first; q < p; q++) {
			if (page_backing(io, p) < 0 ||
			    page_backing(io, p) != page_backing(io, q))
				continue;
			ambiguous[p - first] = true;
			ambiguous[q - first] = true;
		}
	}
	for (b = 0; b < op->z; b++) {
		unsigned int off = op->y + b;
		int backing = page_backing(io, first + off / PAGE_SIZE);
		unsigned char noise = 1 + rnd(&rng, 255);

		if (backing < 0) {
			data[b] = noise;
			continue;
		}
		data[b] = pool[backing * PAGE_SIZE + off % PAGE_SIZE] ^ noise;
	}
	for (p = first; p <= last; p++) {
		int backing = page_backing(io, p);

		if (backing < 0 || !page_area(io, p)->writable ||
		    !page_area(io, p)->pages_writable)
			maps_ok = false;
		else if (w->pool_ro[backing])
			mem_ok = false;
	}
	rc = kaccess_rw(w->fd, acc->fd, iova, data, op->z,
			MOCK_ACCESS_RW_WRITE |
			(op->flags & F_SLOW ? MOCK_ACCESS_RW_SLOW_PATH : 0));
	/* mprotect() does not stop the slow path writing pinned pages */
	if (maps_ok && mem_ok && rc)
		failed(w, "write to mapped writable memory: %s",
		       strerror(-rc));
	for (p = first; p <= last; p++) {
		unsigned int lo = p == first ? op->y : 0;
		unsigned int hi = p == last ? (op->y + op->z - 1) % PAGE_SIZE + 1 :
					      PAGE_SIZE;
		int backing = page_backing(io, p);
		unsigned int i;
		bool hit = false;

		if (backing < 0)
			continue;
		for (i = lo; i < hi; i++) {
			unsigned char mem = pool[backing * PAGE_SIZE + i];
			unsigned char sent =
				data[(p - first) * PAGE_SIZE + i - op->y];

			if (mem == sent)
				hit = true;
			else if (!rc)
				mismatch = true;
		}
		if (!rc || (hit && !ambiguous[p - first]))
			bit_set(written, p);
	}
	if (!rc && !maps_ok)
		contract(w, "write succeeded over IOVA the model has unmapped or read-only");
	if (mismatch) {
		int dup = 0;

		for (p = 0; p <= last - first; p++)
			dup |= ambiguous[p];
		if (!dup)
			contract(w, "write returned 0 but memory lacks its bytes");
	}
	if (rc)
		w->c.partial_writes++;
	owe_ioas(w, acc->ioas, written, rc ? SRC_WRITE_PARTIAL : SRC_WRITE);
	return true;
}

static bool exec_rw_read(struct world *w, const struct op *op)
{
	struct access *acc = &w->acc[op->a];
	unsigned char data[MAX_WRITE];

	if (!acc->live || !op->z || op->z > MAX_WRITE)
		return false;
	kaccess_rw(w->fd, acc->fd, page_iova(op->x) + op->y, data, op->z,
		   op->flags & F_SLOW ? MOCK_ACCESS_RW_SLOW_PATH : 0);
	return true;
}

static bool exec_pin(struct world *w, const struct op *op)
{
	struct pin *pin = &w->pin[op->a];
	struct access *acc = &w->acc[op->b];
	struct ioas *io;
	void *uptr = NULL;
	unsigned int p;
	int rc;

	if (pin->live || !acc->live || !op->y || op->x + op->y > WINDOW_PAGES)
		return false;
	io = &w->ioas[acc->ioas];
	/* Let the mock check the pages when the memory is contiguous */
	if (range_mapped(io, op->x, op->y)) {
		for (p = op->x; p < op->x + op->y; p++)
			if (page_backing(io, p) !=
			    page_backing(io, op->x) + (int)(p - op->x))
				break;
		if (p == op->x + op->y)
			uptr = pool + page_backing(io, op->x) * PAGE_SIZE;
	}
	rc = kpin(w->fd, acc->fd, page_iova(op->x), op->y * PAGE_SIZE, uptr,
		  op->flags & F_WRITE, &pin->id);
	if (rc)
		return true;
	pin->live = true;
	pin->access = op->b;
	pin->first = op->x;
	pin->npages = op->y;
	pin->write = op->flags & F_WRITE;
	return true;
}

static bool exec_unpin(struct world *w, const struct op *op)
{
	struct pin *pin = &w->pin[op->a];
	int rc;

	if (!pin->live)
		return false;
	rc = kunpin(w->fd, w->acc[pin->access].fd, pin->id);
	if (rc) {
		failed(w, "unpin of pin%d: %s", op->a, strerror(-rc));
		pin->live = false;
		return true;
	}
	unpin_model(w, op->a, SRC_UNPIN);
	return true;
}

static bool exec_report(struct world *w, const struct op *op)
{
	struct device *dev = &w->dev[op->a];
	uint64_t pages[WINDOW_WORDS] = {};
	__u64 iova = page_iova(op->x) + op->y;
	__u64 length = op->flags & F_HUGE ? 1ULL << 47 : op->z;
	unsigned int p, last;
	struct ioas *io;
	int rc;

	if (!dev->live || !have_lowdown || !length || op->y >= PAGE_SIZE ||
	    op->x >= WINDOW_PAGES)
		return false;
	io = &w->ioas[dev->ioas];
	rc = kreport(w->fd, dev->idev_id, iova, length, op->flags & F_PROCESS);
	if (rc) {
		failed(w, "report of dev%d: %s", op->a, strerror(-rc));
		return true;
	}
	last = (iova + length - 1 - WINDOW_IOVA) / PAGE_SIZE;
	if ((op->flags & F_HUGE) || last >= WINDOW_PAGES)
		last = WINDOW_PAGES - 1;
	/* What the device cannot write may be dropped */
	for (p = op->x; p <= last; p++)
		if (page_writable(io, p))
			bit_set(pages, p);
	owe_ioas(w, dev->ioas, pages, SRC_REPORT);
	return true;
}

/* Mock IOPTE dirty bits on [x, x + y) pages, 2 KiB halves drawn from seed */
static bool exec_hw_dirty(struct world *w, const struct op *op)
{
	struct hwpt *hwpt = &w->hwpt[op->a];
	uint64_t bitmap[1] = {}, rng = op->seed;
	unsigned int p, half, expected = 0;
	struct ioas *io;
	__u64 nr;
	int rc;

	if (!hwpt->live || !op->y || op->y > 32 || op->x + op->y > WINDOW_PAGES)
		return false;
	io = &w->ioas[hwpt->ioas];
	for (half = 0; half < 2 * op->y; half++)
		if (chance(&rng, 50)) {
			bit_set(bitmap, half);
			expected += !!page_area(io, op->x + half / 2);
		}
	rc = khw_dirty(w->fd, hwpt->id, page_iova(op->x), op->y * PAGE_SIZE,
		       bitmap, &nr);
	if (rc)
		return true;
	if (nr != expected)
		contract(w, "IOMMU_TEST_OP_DIRTY on hwpt%d marked %llu IO pages, the model maps %u",
			 op->a, (unsigned long long)nr, expected);
	if (hwpt->kind != HWPT_HW || !hwpt->t.on)
		return true;
	for (half = 0; half < 2 * op->y; half++) {
		p = op->x + half / 2;
		if (bit_test(bitmap, half) && page_writable(io, p))
			owe(w, &hwpt->t, p, SRC_HW);
	}
	return true;
}

static bool exec_log_start(struct world *w, const struct op *op)
{
	struct access *acc = &w->acc[op->a];
	int rc;

	if (!acc->live || !have_access_dirty)
		return false;
	rc = kaccess_dirty(w->fd, acc->fd, MOCK_ACCESS_DIRTY_START, 0, 0, 0,
			   NULL);
	if (acc->t.on) {
		if (rc != -EBUSY)
			failed(w, "START of logging acc%d: %s, not EBUSY",
			       op->a, rc ? strerror(-rc) : "success");
		return true;
	}
	if (rc) {
		failed(w, "START of acc%d: %s", op->a, strerror(-rc));
		return true;
	}
	tracker_start(&acc->t);
	return true;
}

static bool exec_log_stop(struct world *w, const struct op *op)
{
	struct access *acc = &w->acc[op->a];
	int rc;

	if (!acc->live || !have_access_dirty)
		return false;
	rc = kaccess_dirty(w->fd, acc->fd, MOCK_ACCESS_DIRTY_STOP, 0, 0, 0,
			   NULL);
	if (rc)
		failed(w, "STOP of acc%d: %s", op->a, strerror(-rc));
	tracker_stop(&acc->t);
	return true;
}

static bool exec_log_read(struct world *w, const struct op *op)
{
	struct access *acc = &w->acc[op->a];
	uint64_t bitmap[WINDOW_WORDS + 1];
	int rc;

	if (!acc->live || !have_access_dirty ||
	    !read_range_ok(op->x, op->y, op->z))
		return false;
	memset(bitmap, 0, sizeof(bitmap));
	bitmap[WINDOW_WORDS] = 0x5a5a5a5a5a5a5a5aULL;
	rc = kaccess_dirty(w->fd, acc->fd, MOCK_ACCESS_DIRTY_READ,
			   page_iova(op->x), (__u64)op->y * PAGE_SIZE,
			   1ULL << op->z, bitmap);
	if (!acc->t.on) {
		if (!rc)
			contract(w, "READ of acc%d, not logging, succeeded",
				 op->a);
		return true;
	}
	if (rc) {
		failed(w, "READ of logging acc%d: %s", op->a, strerror(-rc));
		return true;
	}
	if (bitmap[WINDOW_WORDS] != 0x5a5a5a5a5a5a5a5aULL)
		contract(w, "READ wrote past its bitmap");
	check_read(w, MAX_HWPT + op->a, op->x, op->y, op->z, bitmap, true);
	return true;
}

static bool exec_mprotect(struct world *w, const struct op *op)
{
	unsigned int p;

	if (!op->y || op->x + op->y > POOL_PAGES)
		return false;
	if (mprotect(pool + op->x * PAGE_SIZE, op->y * PAGE_SIZE,
		     op->flags & F_ON ? PROT_READ : PROT_READ | PROT_WRITE))
		ksft_exit_fail_perror("mprotect");
	for (p = op->x; p < op->x + op->y; p++)
		w->pool_ro[p] = op->flags & F_ON;
	return true;
}

static bool (*const exec_fn[NR_OP_KINDS])(struct world *, const struct op *) = {
	[OP_IOAS_ALLOC] = exec_ioas_alloc,
	[OP_IOAS_DESTROY] = exec_ioas_destroy,
	[OP_MAP] = exec_map,
	[OP_UNMAP] = exec_unmap,
	[OP_COPY] = exec_copy,
	[OP_HWPT_ALLOC] = exec_hwpt_alloc,
	[OP_HWPT_DESTROY] = exec_hwpt_destroy,
	[OP_DEV_CREATE] = exec_dev_create,
	[OP_DEV_DESTROY] = exec_dev_destroy,
	[OP_DEV_REPLACE] = exec_dev_replace,
	[OP_DECLARE] = exec_declare,
	[OP_TRACK] = exec_track,
	[OP_READ] = exec_read,
	[OP_READ_BAD] = exec_read_bad,
	[OP_ACC_CREATE] = exec_acc_create,
	[OP_ACC_DESTROY] = exec_acc_destroy,
	[OP_ACC_REPLACE] = exec_acc_replace,
	[OP_WRITE] = exec_write,
	[OP_RW_READ] = exec_rw_read,
	[OP_PIN] = exec_pin,
	[OP_UNPIN] = exec_unpin,
	[OP_REPORT] = exec_report,
	[OP_HW_DIRTY] = exec_hw_dirty,
	[OP_LOG_START] = exec_log_start,
	[OP_LOG_STOP] = exec_log_stop,
	[OP_LOG_READ] = exec_log_read,
	[OP_MPROTECT] = exec_mprotect,
};

/* ------------------------------------------------------------------ */
/* Generating ops from the model's state                               */

/*
 * A random one of @n slots whose live flag (at @live, then every @stride
 * bytes) is @want, or -1
 */
static int pick_slot(uint64_t *rng, const bool *live, size_t stride, int n,
		     bool want)
{
	int slots[MAX_PIN], k = 0, i;

	for (i = 0; i < n; i++)
		if (*(const bool *)((const char *)live + i * stride) == want)
			slots[k++] = i;
	return k ? slots[rnd(rng, k)] : -1;
}

#define pick_live(rng, arr, n) \
	pick_slot(rng, &(arr)[0].live, sizeof((arr)[0]), n, true)
#define pick_free(rng, arr, n) \
	pick_slot(rng, &(arr)[0].live, sizeof((arr)[0]), n, false)

static int nr_trackers(struct world *w, int ioas)
{
	struct tracker *ts[MAX_TRACKERS];

	return trackers_on(w, ioas, ts);
}

/* An IOAS, preferably one with trackers on it */
static int pick_busy_ioas(struct world *w, uint64_t *rng)
{
	struct tracker *ts[MAX_TRACKERS];
	int i = pick_live(rng, w->ioas, MAX_IOAS), j;

	if (i < 0 || chance(rng, 40))
		return i;
	for (j = 0; j < MAX_IOAS; j++)
		if (w->ioas[j].live && trackers_on(w, j, ts))
			return j;
	return i;
}

/* A page inside a mapped run of @io (or anywhere, sometimes) */
static unsigned int pick_page(struct ioas *io, uint64_t *rng, unsigned int span)
{
	struct run runs[WINDOW_PAGES / 2];
	int n = mapped_runs(io, runs);
	struct run *run;

	if (!n || chance(rng, 8))
		return rnd(rng, WINDOW_PAGES - span);
	run = &runs[rnd(rng, n)];
	return run->first + rnd(rng, run->end - run->first);
}

static bool gen(struct world *w, uint64_t *rng, enum op_kind kind,
		struct op *op)
{
	int i, j;

	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->seed = rng_next(rng);
	switch (kind) {
	case OP_IOAS_ALLOC:
		i = pick_free(rng, w->ioas, MAX_IOAS);
		op->a = i;
		return i >= 0;
	case OP_IOAS_DESTROY:
		i = pick_live(rng, w->ioas, MAX_IOAS);
		op->a = i;
		return i >= 0;
	case OP_MAP: {
		struct ioas *io;
		unsigned int p;

		i = pick_live(rng, w->ioas, MAX_IOAS);
		if (i < 0)
			return false;
		io = &w->ioas[i];
		op->a = i;
		op->y = chance(rng, 80) ? 1 + rnd(rng, 32) : 1 + rnd(rng, 128);
		op->x = rnd(rng, WINDOW_PAGES - op->y);
		/* Often right after an area: contiguous runs of areas */
		if (io->nr_areas && chance(rng, 40)) {
			struct area *area = &io->areas[rnd(rng, io->nr_areas)];

			op->x = area->first + area->npages;
		}
		op->z = rnd(rng, POOL_PAGES - op->y);
		op->flags = chance(rng, 85) ? F_WRITE : 0;
		for (p = op->x; p < op->x + op->y; p++)
			if (p >= WINDOW_PAGES || io->page_area[p] >= 0)
				op->y = p - op->x;
		return op->y && op->x + op->y <= WINDOW_PAGES;
	}
	case OP_UNMAP: {
		struct ioas *io;
		unsigned int first, end;

		i = pick_live(rng, w->ioas, MAX_IOAS);
		if (i < 0 || !w->ioas[i].nr_areas)
			return false;
		io = &w->ioas[i];
		op->a = i;
		if (chance(rng, 5))
			return true;	/* everything */
		/* From an area's start to the end of an area after it */
		j = rnd(rng, io->nr_areas);
		first = io->areas[j].first;
		end = first + io->areas[j].npages;
		if (chance(rng, 30)) {
			int k = rnd(rng, io->nr_areas);

			if (io->areas[k].first >= first)
				end = io->areas[k].first + io->areas[k].npages;
		}
		op->x = first;
		op->y = end - first;
		return true;
	}
	case OP_COPY: {
		struct run runs[WINDOW_PAGES / 2];
		int n;

		i = pick_live(rng, w->ioas, MAX_IOAS);
		j = pick_live(rng, w->ioas, MAX_IOAS);
		if (i < 0 || j < 0)
			return false;
		n = mapped_runs(&w->ioas[i], runs);
		if (!n)
			return false;
		n = rnd(rng, n);
		op->a = i;
		op->b = j;
		op->x = runs[n].first + rnd(rng, runs[n].end - runs[n].first);
		op->y = 1 + rnd(rng, runs[n].end - op->x);
		op->z = rnd(rng, WINDOW_PAGES - op->y);
		op->flags = chance(rng, 80) ? F_WRITE : 0;
		return range_free(&w->ioas[j], op->z, op->y);
	}
	case OP_HWPT_ALLOC:
		i = pick_free(rng, w->hwpt, MAX_HWPT);
		j = pick_live(rng, w->dev, MAX_DEV);
		if (i < 0 || j < 0)
			return false;
		op->a = i;
		op->b = j;
		op->x = chance(rng, 60) ? w->dev[j].ioas :
					  pick_busy_ioas(w, rng);
		op->flags = chance(rng, 85) ? F_DIRTY : 0;
		return true;
	case OP_HWPT_DESTROY:
		i = pick_live(rng, w->hwpt, MAX_HWPT);
		op->a = i;
		return i >= 0;
	case OP_DEV_CREATE:
		i = pick_free(rng, w->dev, MAX_DEV);
		j = pick_live(rng, w->ioas, MAX_IOAS);
		op->a = i;
		op->x = j;
		op->flags = chance(rng, 60) ? F_NO_DIRTY : 0;
		return i >= 0 && j >= 0;
	case OP_DEV_DESTROY:
		i = pick_live(rng, w->dev, MAX_DEV);
		op->a = i;
		return i >= 0;
	case OP_DEV_REPLACE:
		i = pick_live(rng, w->dev, MAX_DEV);
		if (i < 0)
			return false;
		op->a = i;
		if (chance(rng, 75)) {
			j = pick_live(rng, w->hwpt, MAX_HWPT);
			op->flags = F_TO_HWPT;
		} else {
			j = pick_live(rng, w->ioas, MAX_IOAS);
		}
		op->b = j;
		return j >= 0;
	case OP_DECLARE:
		i = pick_live(rng, w->dev, MAX_DEV);
		op->a = i;
		j = rnd(rng, 8);
		op->x = j < 4 ? 1 : j < 6 ? 0 : 2;
		if (op->x == 2 && !have_declare_conservative)
			op->x = 1;
		return i >= 0;
	case OP_TRACK:
		i = pick_live(rng, w->hwpt, MAX_HWPT);
		op->a = i;
		op->flags = chance(rng, 80) ? F_ON : 0;
		if (i >= 0 && one_tracker && (op->flags & F_ON) &&
		    !w->hwpt[i].t.on)
			return !nr_trackers(w, w->hwpt[i].ioas);
		return i >= 0;
	case OP_READ:
		i = pick_live(rng, w->hwpt, MAX_HWPT);
		if (i < 0)
			return false;
		/* Mostly the trackers */
		for (j = 0; j < 8 && !w->hwpt[i].t.on; j++)
			i = pick_live(rng, w->hwpt, MAX_HWPT);
		op->a = i;
		op->flags = chance(rng, 20) ? F_NO_CLEAR : 0;
		if (chance(rng, 95) &&
		    pick_mapped_range(&w->ioas[w->hwpt[i].ioas], rng, &op->x,
				      &op->y, &op->z))
			return true;
		op->z = PAGE_SHIFT + rnd(rng, 3);
		op->x = rnd(rng, WINDOW_PAGES / 4) << (op->z - PAGE_SHIFT);
		op->y = (1 + rnd(rng, 8)) << (op->z - PAGE_SHIFT);
		return op->x + op->y <= WINDOW_PAGES;
	case OP_READ_BAD: {
		static const unsigned int bad[] = {
			3 * 4096, 5 * 4096, 6 * 4096, 12 * 4096, 4096 + 512,
			6000, 3, 24 * 1024 * 1024 / 8 * 3,
		};

		op->flags = have_access_dirty && chance(rng, 30) ? F_ACC : 0;
		if (op->flags & F_ACC) {
			i = pick_live(rng, w->acc, MAX_ACC);
			if (i < 0)
				return false;
			op->x = pick_page(&w->ioas[w->acc[i].ioas], rng, 64);
		} else {
			i = pick_live(rng, w->hwpt, MAX_HWPT);
			if (i < 0)
				return false;
			op->x = pick_page(&w->ioas[w->hwpt[i].ioas], rng, 64);
		}
		op->a = i;
		op->z = bad[rnd(rng, ARRAY_SIZE(bad))];
		op->y = 1 + rnd(rng, BAD_READ_PAGES);
		if (op->x + op->y > WINDOW_PAGES)
			op->y = WINDOW_PAGES - op->x;
		return op->y;
	}
	case OP_ACC_CREATE:
		i = pick_free(rng, w->acc, MAX_ACC);
		j = pick_busy_ioas(w, rng);
		op->a = i;
		op->x = j;
		op->flags = chance(rng, 75) ? F_PINS : 0;
		return i >= 0 && j >= 0;
	case OP_ACC_DESTROY:
		i = pick_live(rng, w->acc, MAX_ACC);
		op->a = i;
		return i >= 0;
	case OP_ACC_REPLACE:
		i = pick_live(rng, w->acc, MAX_ACC);
		j = pick_live(rng, w->ioas, MAX_IOAS);
		op->a = i;
		op->x = j;
		if (i < 0 || j < 0)
			return false;
		return !one_tracker || !w->acc[i].t.on || !nr_trackers(w, j);
	case OP_WRITE:
	case OP_RW_READ:
		i = pick_live(rng, w->acc, MAX_ACC);
		if (i < 0)
			return false;
		op->a = i;
		op->x = pick_page(&w->ioas[w->acc[i].ioas], rng, 4);
		op->y = chance(rng, 50) ? 0 : rnd(rng, PAGE_SIZE);
		op->z = chance(rng, 30) ? 1 + rnd(rng, 64) :
					  1 + rnd(rng, MAX_WRITE);
		op->flags = chance(rng, 50) ? F_SLOW : 0;
		return op->x + (op->y + op->z - 1) / PAGE_SIZE < WINDOW_PAGES;
	case OP_PIN:
		i = pick_free(rng, w->pin, MAX_PIN);
		j = pick_live(rng, w->acc, MAX_ACC);
		if (i < 0 || j < 0 || !w->acc[j].pins)
			return false;
		op->a = i;
		op->b = j;
		op->x = pick_page(&w->ioas[w->acc[j].ioas], rng, 8);
		op->y = 1 + rnd(rng, 8);
		op->flags = chance(rng, 65) ? F_WRITE : 0;
		return op->x + op->y <= WINDOW_PAGES;
	case OP_UNPIN:
		i = pick_live(rng, w->pin, MAX_PIN);
		op->a = i;
		return i >= 0;
	case OP_REPORT:
		i = pick_live(rng, w->dev, MAX_DEV);
		if (i < 0)
			return false;
		op->a = i;
		op->x = pick_page(&w->ioas[w->dev[i].ioas], rng, 8);
		op->y = chance(rng, 50) ? 0 : rnd(rng, PAGE_SIZE);
		op->z = 1 + rnd(rng, 8 * PAGE_SIZE);
		op->flags = chance(rng, 50) ? F_PROCESS : 0;
		/* The new kernel's shortcut for huge lengths */
		if (have_access_dirty && chance(rng, 2))
			op->flags |= F_HUGE;
		return true;
	case OP_HW_DIRTY:
		i = pick_live(rng, w->hwpt, MAX_HWPT);
		if (i < 0)
			return false;
		for (j = 0; j < 4 && w->hwpt[i].kind != HWPT_HW; j++)
			i = pick_live(rng, w->hwpt, MAX_HWPT);
		op->a = i;
		op->x = pick_page(&w->ioas[w->hwpt[i].ioas], rng, 16);
		op->y = 1 + rnd(rng, 16);
		return op->x + op->y <= WINDOW_PAGES;
	case OP_LOG_START:
		i = pick_live(rng, w->acc, MAX_ACC);
		op->a = i;
		if (i < 0 || !have_access_dirty)
			return false;
		return !one_tracker || w->acc[i].t.on ||
		       !nr_trackers(w, w->acc[i].ioas);
	case OP_LOG_STOP:
		i = pick_live(rng, w->acc, MAX_ACC);
		op->a = i;
		return i >= 0 && have_access_dirty;
	case OP_LOG_READ:
		i = pick_live(rng, w->acc, MAX_ACC);
		if (i < 0 || !have_access_dirty)
			return false;
		op->a = i;
		if (chance(rng, 70) &&
		    pick_mapped_range(&w->ioas[w->acc[i].ioas], rng, &op->x,
				      &op->y, &op->z))
			return true;
		/* Anywhere: the view is keyed by IOVA, holes or not */
		op->z = MIN_SHIFT + rnd(rng, MAX_SHIFT - MIN_SHIFT + 1);
		j = 1U << (op->z - PAGE_SHIFT);
		op->x = rnd(rng, WINDOW_PAGES / j) * j;
		op->y = (1 + rnd(rng, (WINDOW_PAGES - op->x) / j)) * j;
		return true;
	case OP_MPROTECT:
		op->y = 1 + rnd(rng, 16);
		op->x = rnd(rng, POOL_PAGES - op->y);
		op->flags = chance(rng, 50) ? F_ON : 0;
		return true;
	default:
		return false;
	}
}

static unsigned int weight_sum;

/* Fault seeds (-f): the percentage of ops run with a fault point armed */
static unsigned int fault_pct;
/*
 * ... and N is drawn from 1 to a little past the most points an op of the
 * kind has passed in this seed (64 until one is seen), so that the ops with
 * few points fail at each of them and those with many anywhere
 */
#define FAULT_FIRST_NTH 64

static void gen_op(struct world *w, uint64_t *rng, struct op *op)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		unsigned int r = rnd(rng, weight_sum), k;

		for (k = 0; r >= op_weight[k]; k++)
			r -= op_weight[k];
		if (gen(w, rng, k, op))
			goto out;
	}
	/* Nothing drawn applies: grow the world */
	if (!gen(w, rng, OP_IOAS_ALLOC, op) && !gen(w, rng, OP_MAP, op))
		gen(w, rng, OP_MPROTECT, op);
out:
	/* Only then, so that a seed without faults draws as it always did */
	if (fault_pct && chance(rng, fault_pct))
		op->nth = 1 + rnd(rng, w->points[op->kind] ?
				  w->points[op->kind] + 2 : FAULT_FIRST_NTH);
}

static void op_describe(const struct op *op, char *buf, size_t len)
{
	const char *f = op->flags & F_WRITE ? " w" : "";

	switch (op->kind) {
	case OP_IOAS_ALLOC:
	case OP_IOAS_DESTROY:
		snprintf(buf, len, "%s ioas%u", op_name[op->kind], op->a);
		break;
	case OP_MAP:
		snprintf(buf, len, "map ioas%u pages 0x%x+%u pool 0x%x %s",
			 op->a, op->x, op->y, op->z,
			 op->flags & F_WRITE ? "rw" : "ro");
		break;
	case OP_UNMAP:
		if (op->y)
			snprintf(buf, len, "unmap ioas%u pages 0x%x+%u", op->a,
				 op->x, op->y);
		else
			snprintf(buf, len, "unmap ioas%u all", op->a);
		break;
	case OP_COPY:
		snprintf(buf, len, "copy ioas%u pages 0x%x+%u to ioas%u 0x%x %s",
			 op->a, op->x, op->y, op->b, op->z,
			 op->flags & F_WRITE ? "rw" : "ro");
		break;
	case OP_HWPT_ALLOC:
		snprintf(buf, len, "hwpt_alloc hwpt%u dev%u ioas%u%s", op->a,
			 op->b, op->x, op->flags & F_DIRTY ? " dirty" : "");
		break;
	case OP_HWPT_DESTROY:
		snprintf(buf, len, "hwpt_destroy hwpt%u", op->a);
		break;
	case OP_DEV_CREATE:
		snprintf(buf, len, "dev_create dev%u ioas%u%s", op->a, op->x,
			 op->flags & F_NO_DIRTY ? " no_dirty" : "");
		break;
	case OP_DEV_DESTROY:
		snprintf(buf, len, "dev_destroy dev%u", op->a);
		break;
	case OP_DEV_REPLACE:
		snprintf(buf, len, "dev_replace dev%u %s%u", op->a,
			 op->flags & F_TO_HWPT ? "hwpt" : "ioas", op->b);
		break;
	case OP_DECLARE:
		snprintf(buf, len, "declare dev%u %u", op->a, op->x);
		break;
	case OP_TRACK:
		snprintf(buf, len, "track hwpt%u %s", op->a,
			 op->flags & F_ON ? "on" : "off");
		break;
	case OP_READ:
		snprintf(buf, len, "read hwpt%u pages 0x%x+%u psize %lu%s",
			 op->a, op->x, op->y, 1UL << op->z,
			 op->flags & F_NO_CLEAR ? " no_clear" : "");
		break;
	case OP_READ_BAD:
		snprintf(buf, len, "read_bad %s%u pages 0x%x+%u psize %u",
			 op->flags & F_ACC ? "acc" : "hwpt", op->a, op->x,
			 op->y, op->z);
		break;
	case OP_ACC_CREATE:
		snprintf(buf, len, "acc_create acc%u ioas%u%s", op->a, op->x,
			 op->flags & F_PINS ? " pins" : "");
		break;
	case OP_ACC_DESTROY:
		snprintf(buf, len, "acc_destroy acc%u", op->a);
		break;
	case OP_ACC_REPLACE:
		snprintf(buf, len, "acc_replace acc%u ioas%u", op->a, op->x);
		break;
	case OP_WRITE:
	case OP_RW_READ:
		snprintf(buf, len, "%s acc%u page 0x%x+%u len %u%s",
			 op_name[op->kind], op->a, op->x, op->y, op->z,
			 op->flags & F_SLOW ? " slow" : "");
		break;
	case OP_PIN:
		snprintf(buf, len, "pin pin%u acc%u pages 0x%x+%u%s", op->a,
			 op->b, op->x, op->y, f);
		break;
	case OP_UNPIN:
		snprintf(buf, len, "unpin pin%u", op->a);
		break;
	case OP_REPORT:
		snprintf(buf, len, "report dev%u page 0x%x+%u len %s%u%s",
			 op->a, op->x, op->y, op->flags & F_HUGE ? "2^47 " : "",
			 op->flags & F_HUGE ? 0 : op->z,
			 op->flags & F_PROCESS ? " process" : " irq");
		break;
	case OP_HW_DIRTY:
		snprintf(buf, len, "hw_dirty hwpt%u pages 0x%x+%u", op->a,
			 op->x, op->y);
		break;
	case OP_LOG_START:
	case OP_LOG_STOP:
		snprintf(buf, len, "%s acc%u", op_name[op->kind], op->a);
		break;
	case OP_LOG_READ:
		snprintf(buf, len, "log_read acc%u pages 0x%x+%u psize %lu",
			 op->a, op->x, op->y, 1UL << op->z);
		break;
	case OP_MPROTECT:
		snprintf(buf, len, "mprotect pool 0x%x+%u %s", op->x, op->y,
			 op->flags & F_ON ? "ro" : "rw");
		break;
	default:
		snprintf(buf, len, "?");
	}
}

/* ------------------------------------------------------------------ */
/* Worlds, seeds, replay                                               */

/*
 * Kernel splats, told apart by op: the words of tools/testing/splat.re
 * (read from $LOWDOWN_TOP when tools/testing/check runs us), matched against
 * every /dev/kmsg record logged since the last look.
 */
static const char *const splat_words[] = {
	"Kernel panic", "BUG:", "Oops", "WARNING:", "kernel BUG at",
	"general protection fault", "KASAN:", "UBSAN:",
	"INFO: task .* blocked for more than", "detected stalls on CPUs",
	"possible circular locking", "possible recursive locking",
	"inconsistent lock state", "refcount_t:", "list_(add|del) corruption",
	"DEBUG_LOCKS_WARN_ON", "suspicious RCU usage",
};

static regex_t splat_re;
static int kmsg_fd = -1;

static void kmsg_open(void)
{
	const char *top = getenv("LOWDOWN_TOP");
	char words[1024] = "", path[512];
	bool from_file = false;
	unsigned int i;
	FILE *f;

	if (top) {
		snprintf(path, sizeof(path), "%s/tools/testing/splat.re", top);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(words, sizeof(words), f))
				words[0] = '\0';
			words[strcspn(words, "\n")] = '\0';
			from_file = words[0];
			fclose(f);
		}
	}
	for (i = 0; !from_file && i < ARRAY_SIZE(splat_words); i++) {
		size_t used = strlen(words);

		snprintf(words + used, sizeof(words) - used, "%s%s",
			 i ? "|" : "", splat_words[i]);
	}
	if (regcomp(&splat_re, words, REG_EXTENDED | REG_NOSUB))
		ksft_exit_fail_msg("bad splat regex\n");
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0)
		ksft_print_msg("no /dev/kmsg (%s): kernel splats go unnoticed here\n",
			       strerror(errno));
	else
		lseek(kmsg_fd, 0, SEEK_END);
}

/* Was a splat logged since the last call?  Its place goes to @where */
static bool kmsg_splat(char *where, size_t len)
{
	char rec[8192], *msg, *at;
	bool found = false;
	ssize_t n;

	if (kmsg_fd < 0)
		return false;
	for (;;) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten meanwhile */
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (found || !msg)
			continue;
		msg++;
		msg[strcspn(msg, "\n")] = '\0';
		if (regexec(&splat_re, msg, 0, NULL, 0))
			continue;
		found = true;
		at = strstr(msg, " at ");
		snprintf(where, len, "%s", at ? at + 4 : msg);
	}
	return found;
}

/* An fd and IOAS of its own, to count lowdown's objects alive */
static int probe_fd = -1;
static __u32 probe_ioas;

/*
 * Trackers, logs, chunks and pin records alive in all of iommufd, in the
 * order of IOMMU_TEST_OP_DIRTY_LOG_BYTES's out_live
 */
static const char *const live_name[4] = {
	"trackers", "logs", "chunks", "pin records",
};

static int objects_live(__u32 live[4])
{
	union test_cmd cmd;
	int rc;

	if (probe_fd < 0)
		return -ENODEV;
	test_cmd_init(&cmd, IOMMU_TEST_OP_DIRTY_LOG_BYTES, probe_ioas);
	rc = kioctl(probe_fd, IOMMU_TEST_CMD, &cmd);
	memcpy(live, cmd.ext.dirty_log_bytes.out_live, 4 * sizeof(*live));
	return rc;
}

/*
 * Once the fd is closed, every object of lowdown's it made is freed (after
 * a grace period and a workqueue pass): wait up to 5 s for the counts to be
 * back where they were before the world began.
 */
static void check_leaks(struct world *w)
{
	__u32 live[4];
	int i, k;

	if (!w->live_ok)
		return;
	for (i = 0; i < 500; i++) {
		if (objects_live(live)) {
			contract(w, "leak check: IOMMU_TEST_OP_DIRTY_LOG_BYTES failed");
			return;
		}
		if (!memcmp(live, w->live0, sizeof(live)))
			return;
		usleep(10000);
	}
	for (k = 0; k < 4; k++)
		if (live[k] != w->live0[k])
			break;
	contract(w, "leak: 5 s after the fd closed, %u %s alive, %u before the seed",
		 live[k], live_name[k], w->live0[k]);
}

static void world_init(struct world *w)
{
	int i;

	memset(w, 0, sizeof(*w));
	/* Before the world makes any: the seeds' leak check compares */
	w->live_ok = !objects_live(w->live0);
	if (mprotect(pool, POOL_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE))
		ksft_exit_fail_perror("mprotect");
	memset(pool, 0, POOL_PAGES * PAGE_SIZE);
	w->fd = open("/dev/iommu", O_RDWR);
	if (w->fd < 0)
		ksft_exit_fail_perror("/dev/iommu");
	for (i = 0; i < MAX_HWPT; i++)
		tracker_init(&w->hwpt[i].t, i);
	for (i = 0; i < MAX_ACC; i++)
		tracker_init(&w->acc[i].t, MAX_HWPT + i);
}

/* Close everything after @nops ops: the kernel tears the objects down */
static void world_fini(struct world *w, unsigned int nops)
{
	int i;

	/* Accesses hold the context: close them first */
	for (i = 0; i < MAX_ACC; i++)
		if (w->acc[i].live)
			close(w->acc[i].fd);
	close(w->fd);
	check_leaks(w);
	if (w->fail.miss || w->fail.splat ||
	    !kmsg_splat(w->fail.where, sizeof(w->fail.where)))
		return;
	w->fail.splat = true;
	w->fail.op = nops;
	snprintf(w->fail.msg, sizeof(w->fail.msg),
		 "kernel splat closing the fd after the last op: %s",
		 w->fail.where);
}

/* Run one op; false when it did not apply to the world as it is */
static bool world_exec(struct world *w, struct op *op, uint32_t index)
{
	bool done;

	w->op = index + 1;
	w->kind = op->kind;
	last_rc = 0;
	nth_left = nth_fd >= 0 ? op->nth : 0;
	nth_hit = false;
	done = exec_fn[op->kind](w, op);
	op->ran = done;
	op->rc = last_rc;
	op->hit = nth_hit;
	if (done && op->nth && nth_fd >= 0) {
		w->c.faults_armed++;
		w->c.faults_injected += nth_hit;
		/* Not reached: the op passed op->nth - nth_left points */
		if (!nth_hit && op->nth - nth_left > w->points[op->kind])
			w->points[op->kind] = op->nth - nth_left;
	}
	nth_left = 0;
	nth_hit = false;
	if (!w->fail.miss && kmsg_splat(w->fail.where, sizeof(w->fail.where))) {
		w->fail.splat = true;
		w->fail.op = index;
		snprintf(w->fail.msg, sizeof(w->fail.msg),
			 "kernel splat during the op: %s", w->fail.where);
	}
	if (!done) {
		w->c.skipped++;
		return false;
	}
	w->c.ops++;
	w->c.by_kind[op->kind]++;
	return true;
}

/* The kind of a miss, to tell one bug from another */
struct miss_class {
	bool splat;
	enum source src;
	bool stolen;
	char where[100];
};

static void class_of(const struct failure *f, struct miss_class *mc)
{
	memset(mc, 0, sizeof(*mc));
	mc->splat = f->splat;
	if (f->splat) {
		snprintf(mc->where, sizeof(mc->where), "%s", f->where);
		return;
	}
	/*
	 * One reader taking another's bits is one bug whatever the source;
	 * otherwise the source tells the bugs apart.  The tracker kind is
	 * left out: a bug of the shared path shows in every kind.
	 */
	mc->stolen = f->stolen;
	if (!f->stolen)
		mc->src = f->src;
}

static bool same_class(const struct failure *f, const struct miss_class *mc)
{
	struct miss_class fc;

	if (!f->miss && !f->splat)
		return false;
	class_of(f, &fc);
	return !memcmp(&fc, mc, sizeof(fc));
}

/* Replay @ops on a fresh fd: does it miss as @mc? */
static bool replay(struct op *ops, unsigned int n,
		   const struct miss_class *mc, unsigned int *fail_at)
{
	struct world *w = malloc(sizeof(*w));
	unsigned int i;
	bool hit = false;

	world_init(w);
	w->quiet = true;
	for (i = 0; i < n; i++) {
		world_exec(w, &ops[i], i);
		if (w->fail.miss || w->fail.splat)
			break;
	}
	world_fini(w, i);
	if (w->fail.miss || w->fail.splat) {
		hit = same_class(&w->fail, mc);
		*fail_at = i < n ? i : n - 1;
	}
	free(w);
	return hit;
}

/*
 * ddmin over the ops that led to a miss: drop chunks while the replay still
 * misses the same way, within @budget seconds.  Returns the ops kept.
 */
static unsigned int minimise(struct op *ops, unsigned int n,
			     const struct miss_class *mc, double budget,
			     unsigned int *replays)
{
	struct op *cand = malloc(n * sizeof(*cand));
	double deadline = now() + budget;
	unsigned int parts = 2, at;

	/* A WARN_ONCE, say, does not fail twice */
	*replays = 1;
	if (!replay(ops, n, mc, &at)) {
		free(cand);
		return 0;
	}
	n = at + 1;
	while (n >= 2 && now() < deadline) {
		unsigned int size = (n + parts - 1) / parts, start;
		bool reduced = false;

		for (start = 0; start < n && now() < deadline; start += size) {
			unsigned int end = start + size < n ? start + size : n;
			unsigned int m = 0, i;

			for (i = 0; i < n; i++)
				if (i < start || i >= end)
					cand[m++] = ops[i];
			(*replays)++;
			if (m && replay(cand, m, mc, &at)) {
				n = at + 1;
				memcpy(ops, cand, n * sizeof(*ops));
				parts = parts > 2 ? parts - 1 : 2;
				reduced = true;
				break;
			}
		}
		if (!reduced) {
			if (parts >= n)
				break;
			parts = parts * 2 < n ? parts * 2 : n;
		}
	}
	free(cand);
	return n;
}

static void print_ops(const struct op *ops, unsigned int first,
		      unsigned int end)
{
	const char *name;
	char buf[160];
	unsigned int i;

	for (i = first; i < end; i++) {
		op_describe(&ops[i], buf, sizeof(buf));
		if (ops[i].nth) {
			size_t used = strlen(buf);

			snprintf(buf + used, sizeof(buf) - used,
				 " [fault point %u%s]", ops[i].nth,
				 ops[i].hit ? " failed" : " not reached");
		}
		name = ops[i].rc ? strerrorname_np(-ops[i].rc) : NULL;
		if (!ops[i].ran)
			ksft_print_msg("  %5u %s: skipped\n", i, buf);
		else if (ops[i].rc)
			ksft_print_msg("  %5u %s: %s\n", i, buf,
				       name ? name : "error");
		else
			ksft_print_msg("  %5u %s\n", i, buf);
	}
}

/*
 * The ops as -r takes them: kind.flags.a.b.x.y.z.seed[.nth], in hex, by
 * commas
 */
static void print_replay(const struct op *ops, unsigned int n)
{
	unsigned int i;

	printf("# replay: -r ");
	for (i = 0; i < n; i++) {
		printf("%s%x.%x.%x.%x.%x.%x.%x.%x", i ? "," : "", ops[i].kind,
		       ops[i].flags, ops[i].a, ops[i].b, ops[i].x, ops[i].y,
		       ops[i].z, ops[i].seed);
		if (ops[i].nth)
			printf(".%x", ops[i].nth);
	}
	printf("\n");
}

static unsigned int parse_replay(const char *list, struct op *ops,
				 unsigned int max)
{
	unsigned int n = 0, v[9];
	const char *p = list;
	int used, more;

	while (*p && !isspace(*p) && n < max) {
		if (sscanf(p, "%x.%x.%x.%x.%x.%x.%x.%x%n", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7], &used) != 8 ||
		    v[0] >= NR_OP_KINDS || v[2] > 255 || v[3] > 255)
			ksft_exit_fail_msg("-r: bad op at '%.20s'\n", p);
		v[8] = 0;
		if (p[used] == '.' &&
		    sscanf(p + used, ".%x%n", &v[8], &more) == 1)
			used += more;
		memset(&ops[n], 0, sizeof(ops[n]));
		ops[n].kind = v[0];
		ops[n].flags = v[1];
		ops[n].a = v[2];
		ops[n].b = v[3];
		ops[n].x = v[4];
		ops[n].y = v[5];
		ops[n].z = v[6];
		ops[n].seed = v[7];
		ops[n].nth = v[8];
		n++;
		p += used;
		if (*p == ',')
			p++;
	}
	return n;
}

struct totals {
	unsigned int seeds;
	unsigned int failed;
	struct counters c;
	/* Seconds left for minimising, all kinds together */
	double min_budget;
	unsigned int classes;
	struct miss_class class[16];
	uint64_t class_seed[16];
	unsigned int contract_seeds;
	char first_contract[500];
	char first_rule[400];
};

static void counters_add(struct counters *to, const struct counters *c)
{
	int k;

	to->ops += c->ops;
	to->skipped += c->skipped;
	to->reads += c->reads;
	to->reads_failed_ok += c->reads_failed_ok;
	to->bad_page_size_reads += c->bad_page_size_reads;
	to->reported_pages += c->reported_pages;
	to->model_pages += c->model_pages;
	to->exact_reported_pages += c->exact_reported_pages;
	to->exact_model_pages += c->exact_model_pages;
	to->partial_writes += c->partial_writes;
	to->rule_disagreements += c->rule_disagreements;
	to->contracts += c->contracts;
	to->faults_armed += c->faults_armed;
	to->faults_injected += c->faults_injected;
	for (k = 0; k < 4; k++)
		to->faults_clean[k] += c->faults_clean[k];
	for (k = 0; k < NR_OP_KINDS; k++)
		to->by_kind[k] += c->by_kind[k];
}

static double ratio(unsigned long reported, unsigned long model)
{
	return model ? (double)reported / model : 0;
}

static void print_kind(int k, const struct miss_class *mc, uint64_t seed)
{
	char what[160];

	if (mc->splat)
		snprintf(what, sizeof(what), "kernel splat at %s", mc->where);
	else if (mc->stolen)
		snprintf(what, sizeof(what),
			 "miss, the page taken by a read of another tracker");
	else
		snprintf(what, sizeof(what), "miss of a page owed by %s",
			 source_name[mc->src]);
	ksft_print_msg("failure kind %d: %s (first seed %llu)\n", k, what,
		       (unsigned long long)seed);
}

/* The first failure of each kind is minimised and printed, once */
static void report_kind(uint64_t seed, struct op *ops, unsigned int n,
			const struct failure *fail, struct totals *tot)
{
	unsigned int replays, m, k;
	struct miss_class mc;
	double t = now();

	class_of(fail, &mc);
	for (k = 0; k < tot->classes; k++) {
		if (memcmp(&tot->class[k], &mc, sizeof(mc)))
			continue;
		ksft_print_msg("seed %llu: failure kind %u, seen first in seed %llu\n",
			       (unsigned long long)seed, k,
			       (unsigned long long)tot->class_seed[k]);
		return;
	}
	if (tot->classes == ARRAY_SIZE(tot->class))
		return;
	tot->class[tot->classes] = mc;
	tot->class_seed[tot->classes++] = seed;
	if (tot->min_budget <= 0)
		return;
	m = minimise(ops, n, &mc, tot->min_budget, &replays);
	tot->min_budget -= now() - t;
	if (!m) {
		ksft_print_msg("seed %llu: a fresh fd does not fail so\n",
			       (unsigned long long)seed);
		return;
	}
	/* Once more, for the results of the ops kept */
	replay(ops, m, &mc, &k);
	ksft_print_msg("seed %llu: failure kind %u minimised to %u ops (%u runs, %.0f s):\n",
		       (unsigned long long)seed, tot->classes - 1, m, replays,
		       now() - t);
	print_ops(ops, 0, m);
	print_replay(ops, m);
}

/* -r: run the ops given, printing each, on a fresh fd */
static void run_replay(const char *list)
{
	struct op *ops = calloc(MAX_OPS, sizeof(*ops));
	struct world *w = malloc(sizeof(*w));
	unsigned int n = parse_replay(list, ops, MAX_OPS), i;

	world_init(w);
	for (i = 0; i < n && !w->fail.miss && !w->fail.splat; i++) {
		world_exec(w, &ops[i], i);
		print_ops(ops, i, i + 1);
	}
	world_fini(w, i);
	if (w->fail.miss || w->fail.splat)
		ksft_print_msg("op %u: %s\n", w->fail.op, w->fail.msg);
	ksft_test_result(!w->fail.miss && !w->fail.splat && !w->contract[0],
			 "replay of %u ops\n", n);
	free(w);
	free(ops);
}

static void run_seed(uint64_t seed, unsigned int nops, struct totals *tot)
{
	struct op *ops = calloc(nops, sizeof(*ops));
	struct world *w = malloc(sizeof(*w));
	uint64_t rng = seed * 0x2545f4914f6cdd1dULL + 1;
	unsigned int i, n = 0;
	double t0 = now();
	bool failed;

	world_init(w);
	for (i = 0; i < nops && !w->fail.miss && !w->fail.splat; i++) {
		gen_op(w, &rng, &ops[i]);
		world_exec(w, &ops[i], i);
		if (verbose)
			print_ops(ops, i, i + 1);
		n = i + 1;
	}
	world_fini(w, n);
	failed = w->fail.miss || w->fail.splat || w->contract[0];
	counters_add(&tot->c, &w->c);
	tot->seeds++;
	if (w->rule[0] && !tot->first_rule[0])
		snprintf(tot->first_rule, sizeof(tot->first_rule),
			 "seed %llu: %s", (unsigned long long)seed, w->rule);
	if (w->contract[0]) {
		tot->contract_seeds++;
		if (!tot->first_contract[0])
			snprintf(tot->first_contract,
				 sizeof(tot->first_contract), "seed %llu: %s",
				 (unsigned long long)seed, w->contract);
	}
	if (w->fail.miss || w->fail.splat) {
		ksft_print_msg("seed %llu op %u: %s\n",
			       (unsigned long long)seed, w->fail.op,
			       w->fail.msg);
		char again[80];

		if (fault_pct)
			snprintf(again, sizeof(again), "-n 0 -f 1 -F %u",
				 fault_pct);
		else
			snprintf(again, sizeof(again), "-n 1");
		ksft_print_msg("seed %llu: the last ops (all: -s %llu %s -l %u -v):\n",
			       (unsigned long long)seed,
			       (unsigned long long)seed, again, nops);
		print_ops(ops, n > RING_OPS ? n - RING_OPS : 0, n);
		report_kind(seed, ops, n, &w->fail, tot);
	}
	if (failed)
		tot->failed++;
	ksft_test_result(!failed,
			 "seed %llu%s: %u ops (%lu skipped), %lu reads checked, over-report %.2f, %.1f s%s%s\n",
			 (unsigned long long)seed,
			 fault_pct ? " with faults" : "", n, w->c.skipped,
			 w->c.reads, ratio(w->c.reported_pages, w->c.model_pages),
			 now() - t0,
			 w->fail.miss ? ", MISS" : w->fail.splat ? ", SPLAT" : "",
			 w->contract[0] ? ", contract broken" : "");
	free(w);
	free(ops);
}

/* ------------------------------------------------------------------ */
/* Concurrent phases                                                   */

enum { C_H_SW, C_H_HW, C_H_SW2, C_ACC, NR_CT };

static const char *const conc_tracker_name[NR_CT] = {
	"software hwpt (dev attached)", "hardware hwpt",
	"software hwpt (no device)", "logging access",
};

/* Mapped runs of the concurrent IOAS: pages */
static const struct run conc_runs[] = {
	{ 0, 96 }, { 128, 192 }, { 256, 384 }, { 512, 640 },
};

#define NR_CONC_RUNS ARRAY_SIZE(conc_runs)

struct conc {
	int fd;
	__u32 ioas_id;
	__u32 idev[2];
	int acc_fd[2];
	__u32 hwpt[3];
	int nr_trackers;
	/* Set by the main thread, polled by the others */
	atomic_bool writers_done;
	atomic_bool stop;
};

/* Nanoseconds on CLOCK_MONOTONIC: when writes start and reads end */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * A writer keeps, for each page, when the last write of it started; a
 * reader, for each tracker and page, when the last read that reported the
 * page ended.  A read that ended before a write started cannot have seen
 * it, so every tracker must have a report of each page ending after the
 * page's last write started: one read racing the write, or a later one.
 */
struct conc_thread {
	struct conc *c;
	pthread_t thread;
	uint64_t rng;
	unsigned long ops;
	int err;
	char msg[200];
	uint64_t last[NR_CT][WINDOW_PAGES];
};

static void conc_range(uint64_t *rng, unsigned int max, unsigned int *first,
		       unsigned int *npages)
{
	const struct run *run = &conc_runs[rnd(rng, NR_CONC_RUNS)];

	*first = run->first + rnd(rng, run->end - run->first);
	*npages = 1 + rnd(rng, max);
	if (*first + *npages > run->end)
		*npages = run->end - *first;
}

static void *conc_writer(void *arg)
{
	struct conc_thread *t = arg;
	struct conc *c = t->c;
	unsigned char data[2 * PAGE_SIZE];
	unsigned int first, npages, p;
	uint64_t start;
	__u32 pages_id;
	int rc = 0;

	while (!c->stop && !t->err) {
		unsigned int kind = rnd(&t->rng, 10);

		conc_range(&t->rng, 2, &first, &npages);
		start = now_ns();
		if (kind < 5) {
			unsigned int off = rnd(&t->rng, PAGE_SIZE);
			unsigned int len = 1 + rnd(&t->rng,
						   npages * PAGE_SIZE - off);

			memset(data, t->ops, len);
			rc = kaccess_rw(c->fd, c->acc_fd[rnd(&t->rng, 2)],
					page_iova(first) + off, data, len,
					MOCK_ACCESS_RW_WRITE |
					(chance(&t->rng, 50) ?
					 MOCK_ACCESS_RW_SLOW_PATH : 0));
			npages = (off + len - 1) / PAGE_SIZE + 1;
		} else if (kind < 8) {
			rc = kreport(c->fd, c->idev[rnd(&t->rng, 2)],
				     page_iova(first), npages * PAGE_SIZE,
				     chance(&t->rng, 50));
		} else {
			/* acc_fd[1] pins; the unpin logs the range */
			rc = kpin(c->fd, c->acc_fd[1], page_iova(first),
				  npages * PAGE_SIZE, NULL, true, &pages_id);
			if (!rc)
				rc = kunpin(c->fd, c->acc_fd[1], pages_id);
		}
		if (rc) {
			t->err = rc;
			snprintf(t->msg, sizeof(t->msg),
				 "writer op %u at page 0x%x: %s", kind, first,
				 strerror(-rc));
			break;
		}
		for (p = first; p < first + npages; p++)
			t->last[0][p] = start;
		t->ops++;
	}
	return NULL;
}

/* Read tracker @ct over [first, first + npages) at 2^shift into @last */
static int conc_read(struct conc *c, int ct, unsigned int first,
		     unsigned int npages, unsigned int shift, bool no_clear,
		     uint64_t *last)
{
	uint64_t bitmap[WINDOW_WORDS] = {}, end;
	unsigned int chunk = 1U << (shift - PAGE_SHIFT), b, p;
	int rc;

	if (ct == C_ACC)
		rc = kaccess_dirty(c->fd, c->acc_fd[0], MOCK_ACCESS_DIRTY_READ,
				   page_iova(first), (__u64)npages * PAGE_SIZE,
				   1ULL << shift, bitmap);
	else
		rc = kget_dirty(c->fd, c->hwpt[ct], page_iova(first),
				(__u64)npages * PAGE_SIZE, 1ULL << shift,
				bitmap, no_clear);
	end = now_ns();
	if (rc)
		return rc;
	for (b = 0; b < npages / chunk; b++)
		if (bit_test(bitmap, b))
			for (p = 0; p < chunk; p++)
				last[first + b * chunk + p] = end;
	return 0;
}

static void *conc_reader(void *arg)
{
	struct conc_thread *t = arg;
	struct conc *c = t->c;

	while (!c->writers_done && !t->err) {
		const struct run *run = &conc_runs[rnd(&t->rng, NR_CONC_RUNS)];
		unsigned int shift = MIN_SHIFT + rnd(&t->rng, 6);
		unsigned int chunk = 1U << (shift - PAGE_SHIFT), lo, hi, k;
		int ct = rnd(&t->rng, c->nr_trackers), rc;

		lo = (run->first + chunk - 1) / chunk;
		hi = run->end / chunk;
		if (lo >= hi)
			continue;
		k = lo + rnd(&t->rng, hi - lo);
		rc = conc_read(c, ct, k * chunk,
			       (1 + rnd(&t->rng, hi - k)) * chunk, shift,
			       ct != C_ACC && chance(&t->rng, 20),
			       t->last[ct]);
		if (rc) {
			t->err = rc;
			snprintf(t->msg, sizeof(t->msg), "read of %s: %s",
				 conc_tracker_name[ct], strerror(-rc));
			break;
		}
		t->ops++;
	}
	return NULL;
}

static int conc_setup(struct conc *c)
{
	static const struct { unsigned int first, npages, backing; } maps[] = {
		{ 0, 64, 0 }, { 64, 32, 64 }, { 128, 64, 96 },
		{ 256, 64, 160 }, { 320, 64, 224 }, { 512, 128, 288 },
	};
	__u32 stdev;
	unsigned int i;
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = open("/dev/iommu", O_RDWR);
	c->acc_fd[0] = -1;
	c->acc_fd[1] = -1;
	if (c->fd < 0)
		return -errno;
	if (mprotect(pool, POOL_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE))
		return -errno;
	rc = kioas_alloc(c->fd, &c->ioas_id);
	for (i = 0; !rc && i < ARRAY_SIZE(maps); i++)
		rc = kioas_map(c->fd, c->ioas_id, page_iova(maps[i].first),
			       pool + maps[i].backing * PAGE_SIZE,
			       maps[i].npages * PAGE_SIZE, true);
	/* dev0: no IOMMU dirty bits, declared exact, on software hwpt0 */
	rc = rc ?: kdev_create(c->fd, c->ioas_id, true, &stdev, &c->idev[0]);
	rc = rc ?: kdeclare(c->fd, c->idev[0], 1);
	rc = rc ?: khwpt_alloc(c->fd, c->idev[0], c->ioas_id,
			       IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &c->hwpt[0]);
	rc = rc ?: kdev_replace(c->fd, stdev, c->hwpt[0]);
	/* dev1: IOMMU dirty bits, on hardware hwpt1 */
	rc = rc ?: kdev_create(c->fd, c->ioas_id, false, &stdev, &c->idev[1]);
	rc = rc ?: khwpt_alloc(c->fd, c->idev[1], c->ioas_id,
			       IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &c->hwpt[1]);
	rc = rc ?: kdev_replace(c->fd, stdev, c->hwpt[1]);
	/* A software hwpt2 with no device at all */
	rc = rc ?: khwpt_alloc(c->fd, c->idev[0], c->ioas_id,
			       IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &c->hwpt[2]);
	for (i = 0; !rc && i < 3; i++)
		rc = kset_tracking(c->fd, c->hwpt[i], true);
	rc = rc ?: kaccess_create(c->fd, c->ioas_id, false, &c->acc_fd[0]);
	rc = rc ?: kaccess_create(c->fd, c->ioas_id, true, &c->acc_fd[1]);
	c->nr_trackers = 3;
	if (!rc && have_access_dirty) {
		rc = kaccess_dirty(c->fd, c->acc_fd[0],
				   MOCK_ACCESS_DIRTY_START, 0, 0, 0, NULL);
		c->nr_trackers = NR_CT;
	}
	return rc;
}

static void conc_teardown(struct conc *c)
{
	if (c->acc_fd[0] >= 0)
		close(c->acc_fd[0]);
	if (c->acc_fd[1] >= 0)
		close(c->acc_fd[1]);
	close(c->fd);
}

#define CONC_WRITERS 2
#define CONC_READERS 2

static void max_into(uint64_t *to, const uint64_t *from)
{
	unsigned int p;

	for (p = 0; p < WINDOW_PAGES; p++)
		if (from[p] > to[p])
			to[p] = from[p];
}

/*
 * One concurrent phase: writers and readers for @ms, then, all quiet, a
 * final read of every tracker.  Each tracker must have reported each page
 * after the page's last write started.
 */
static bool conc_phase(struct conc *c, uint64_t seed, unsigned int ms,
		       unsigned long *nwrites, unsigned long *nreads,
		       char *msg, size_t len)
{
	struct conc_thread *wr = calloc(CONC_WRITERS, sizeof(*wr));
	struct conc_thread *rd = calloc(CONC_READERS, sizeof(*rd));
	struct conc_thread *sum = calloc(2, sizeof(*sum));
	uint64_t *written = sum[0].last[0];
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	bool ok = true;
	unsigned int i, p;
	int ct;

	c->writers_done = false;
	c->stop = false;
	for (i = 0; i < CONC_WRITERS; i++) {
		wr[i].c = c;
		wr[i].rng = seed * 1000 + i;
		pthread_create(&wr[i].thread, NULL, conc_writer, &wr[i]);
	}
	for (i = 0; i < CONC_READERS; i++) {
		rd[i].c = c;
		rd[i].rng = seed * 1000 + 100 + i;
		pthread_create(&rd[i].thread, NULL, conc_reader, &rd[i]);
	}
	nanosleep(&ts, NULL);
	c->stop = true;
	for (i = 0; i < CONC_WRITERS; i++)
		pthread_join(wr[i].thread, NULL);
	c->writers_done = true;
	for (i = 0; i < CONC_READERS; i++)
		pthread_join(rd[i].thread, NULL);

	msg[0] = '\0';
	for (i = 0; i < CONC_WRITERS; i++) {
		*nwrites += wr[i].ops;
		max_into(written, wr[i].last[0]);
		if (wr[i].err && ok) {
			snprintf(msg, len, "%s", wr[i].msg);
			ok = false;
		}
	}
	for (i = 0; i < CONC_READERS; i++) {
		*nreads += rd[i].ops;
		for (ct = 0; ct < NR_CT; ct++)
			max_into(sum[1].last[ct], rd[i].last[ct]);
		if (rd[i].err && ok) {
			snprintf(msg, len, "%s", rd[i].msg);
			ok = false;
		}
	}
	for (ct = 0; ct < c->nr_trackers; ct++) {
		uint64_t *seen = sum[1].last[ct];

		for (i = 0; i < NR_CONC_RUNS; i++) {
			int rc = conc_read(c, ct, conc_runs[i].first,
					   conc_runs[i].end - conc_runs[i].first,
					   PAGE_SHIFT, false, seen);

			if (rc && ok) {
				snprintf(msg, len, "final read of %s: %s",
					 conc_tracker_name[ct], strerror(-rc));
				ok = false;
			}
		}
		for (p = 0; p < WINDOW_PAGES && ok; p++) {
			if (!written[p] || seen[p] > written[p])
				continue;
			snprintf(msg, len,
				 "miss: %s reported page 0x%x (iova 0x%llx) last %s its last write started",
				 conc_tracker_name[ct], p,
				 (unsigned long long)page_iova(p),
				 seen[p] ? "before" : "never, not even before");
			ok = false;
		}
	}
	free(sum);
	free(wr);
	free(rd);
	return ok;
}

static void run_concurrent(uint64_t seed, unsigned int phases,
			   unsigned int ms, unsigned long *total_writes,
			   unsigned long *total_reads)
{
	unsigned long nwrites = 0, nreads = 0;
	struct conc c;
	char msg[300] = "";
	double t0 = now();
	unsigned int i;
	bool ok;
	int rc;

	rc = conc_setup(&c);
	ok = !rc;
	if (rc)
		snprintf(msg, sizeof(msg), "setup: %s", strerror(-rc));
	/* Start from nothing owed: a first clearing read of each tracker */
	for (i = 0; ok && i < NR_CONC_RUNS * c.nr_trackers; i++) {
		uint64_t seen[WINDOW_PAGES];

		conc_read(&c, i / NR_CONC_RUNS, conc_runs[i % NR_CONC_RUNS].first,
			  conc_runs[i % NR_CONC_RUNS].end -
			  conc_runs[i % NR_CONC_RUNS].first,
			  PAGE_SHIFT, false, seen);
	}
	for (i = 0; ok && i < phases; i++) {
		char where[100];

		ok = conc_phase(&c, seed * 100 + i, ms, &nwrites, &nreads, msg,
				sizeof(msg));
		if (ok && kmsg_splat(where, sizeof(where))) {
			snprintf(msg, sizeof(msg), "kernel splat at %s", where);
			ok = false;
		}
	}
	if (!ok)
		ksft_print_msg("concurrent seed %llu phase %u: %s\n",
			       (unsigned long long)seed, i ? i - 1 : 0, msg);
	conc_teardown(&c);
	*total_writes += nwrites;
	*total_reads += nreads;
	ksft_test_result(ok,
			 "concurrent seed %llu: %u phases of %u ms, %d trackers, %lu writes, %lu reads, %.1f s\n",
			 (unsigned long long)seed, phases, ms, c.nr_trackers,
			 nwrites, nreads, now() - t0);
}

/* ------------------------------------------------------------------ */

/* What the kernel refuses with EOPNOTSUPP (or, for declare 2, EINVAL) */
static void probe(void)
{
	__u32 ioas_id, stdev, idev;
	int fd = open("/dev/iommu", O_RDWR), access_fd, rc;

	if (fd < 0)
		ksft_exit_skip("/dev/iommu: %s\n", strerror(errno));
	if (kioas_alloc(fd, &ioas_id) ||
	    kdev_create(fd, ioas_id, true, &stdev, &idev))
		ksft_exit_skip("no iommufd selftest mock (CONFIG_IOMMUFD_TEST)\n");
	if (kaccess_create(fd, ioas_id, false, &access_fd))
		ksft_exit_fail_msg("CREATE_ACCESS: %s\n", strerror(errno));
	rc = kaccess_dirty(fd, access_fd, MOCK_ACCESS_DIRTY_STOP, 0, 0, 0,
			   NULL);
	have_access_dirty = rc != -EOPNOTSUPP;
	have_declare_conservative = !kdeclare(fd, idev, 2);
	have_lowdown = kreport(fd, idev, WINDOW_IOVA, 1, false) != -EOPNOTSUPP &&
		       kdeclare(fd, idev, 1) != -EOPNOTSUPP;
	close(access_fd);
	close(fd);
	probe_fd = open("/dev/iommu", O_RDWR);
	if (probe_fd >= 0 && kioas_alloc(probe_fd, &probe_ioas)) {
		close(probe_fd);
		probe_fd = -1;
	}
	if (!have_access_dirty) {
		op_weight[OP_LOG_START] = 0;
		op_weight[OP_LOG_STOP] = 0;
		op_weight[OP_LOG_READ] = 0;
	}
	if (!have_lowdown) {
		op_weight[OP_DECLARE] = 0;
		op_weight[OP_REPORT] = 0;
	}
	ksft_print_msg("kernel: IOMMU_TEST_OP_ACCESS_DIRTY %s, declare 2 (conservative) %s\n",
		       have_access_dirty ? "yes" : "no (EOPNOTSUPP: access logging left out)",
		       have_declare_conservative ? "yes" : "no (left out)");
}

static void exclude_kinds(char *list)
{
	char *name;
	int k;

	for (name = strtok(list, ","); name; name = strtok(NULL, ",")) {
		for (k = 0; k < NR_OP_KINDS; k++)
			if (!strcmp(name, op_name[k]))
				break;
		if (k == NR_OP_KINDS)
			ksft_exit_fail_msg("-X: no op kind '%s'\n", name);
		op_weight[k] = 0;
	}
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-s SEED] [-n NSEEDS] [-f NSEEDS] [-F PCT] [-l OPS] [-t SECONDS] [-c PHASES] [-p MS] [-m SECONDS] [-X KIND,...] [-1] [-r OPS] [-v]\n"
		"  -s first seed (default 1)   -n seeds   -l ops per seed\n"
		"  -f seeds with fault injection, after the others\n"
		"  -F the percentage of their ops with a fault point armed\n"
		"  -t time budget: no seed starts after it (nor one without\n"
		"     faults after two thirds of it, with -f seeds to run)\n"
		"  -c concurrent phases (0: none)   -p ms per phase\n"
		"  -m seconds to minimise failures, all kinds together (0: no)\n"
		"  -X leave out op kinds, e.g. read_bad,mprotect   -v every op\n"
		"  -1 at most one tracker on an IOAS (past shared-log bugs)\n"
		"  -r run the ops of a '# replay:' line, printing each\n",
		prog);
	exit(KSFT_FAIL);
}

/*
 * The defaults fit the test VM (TCG) in about two minutes; the long variant
 * (iommufd_dirty_fuzz_long, built with FUZZ_LONG) is for make check-full.
 */
#ifdef FUZZ_LONG
#define DEFAULT_SEEDS 1000
#define DEFAULT_FAULT_SEEDS 300
#define DEFAULT_BUDGET 1200
#define DEFAULT_PHASES 20
#define DEFAULT_MINIMISE 240
#else
#define DEFAULT_SEEDS 80
#define DEFAULT_FAULT_SEEDS 30
#define DEFAULT_BUDGET 120
#define DEFAULT_PHASES 4
#define DEFAULT_MINIMISE 45
#endif
#define DEFAULT_FAULT_PCT 25

int main(int argc, char **argv)
{
	unsigned long long seed0 = 1;
	unsigned int nseeds = DEFAULT_SEEDS, nops = 1000, phases = DEFAULT_PHASES;
	unsigned int fault_seeds = DEFAULT_FAULT_SEEDS, pct = DEFAULT_FAULT_PCT;
	unsigned int phase_ms = 1500, i;
	unsigned long cwrites = 0, creads = 0;
	double budget = DEFAULT_BUDGET, t0 = now();
	const char *replay_list = NULL;
	struct totals tot = { .min_budget = DEFAULT_MINIMISE };
	int opt, k;

	while ((opt = getopt(argc, argv, "s:n:f:F:l:t:c:p:m:X:r:1vh")) != -1) {
		switch (opt) {
		case 's':
			seed0 = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			nseeds = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			fault_seeds = strtoul(optarg, NULL, 0);
			break;
		case 'F':
			pct = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			nops = strtoul(optarg, NULL, 0);
			break;
		case 't':
			budget = strtod(optarg, NULL);
			break;
		case 'c':
			phases = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			phase_ms = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			tot.min_budget = strtod(optarg, NULL);
			break;
		case 'X':
			exclude_kinds(optarg);
			break;
		case 'r':
			replay_list = optarg;
			break;
		case '1':
			one_tracker = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (!nops || nops > MAX_OPS || !pct || pct > 100)
		print_usage(argv[0]);

	ksft_print_header();
	if (sysconf(_SC_PAGESIZE) != PAGE_SIZE)
		ksft_exit_skip("the model assumes 4 KiB pages\n");
	pool = mmap(NULL, POOL_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pool == MAP_FAILED)
		ksft_exit_fail_perror("mmap");
	probe();
	kmsg_open();
	/* For -f, and for a replay of its ops */
	nth_fd = fail_nth_open();
	for (k = 0; k < NR_OP_KINDS; k++)
		weight_sum += op_weight[k];
	if (replay_list) {
		run_replay(replay_list);
		ksft_set_plan(ksft_test_num());
		ksft_finished();
	}
	/* Nothing to fuzz, but -r still replays */
	if (!have_lowdown)
		ksft_exit_skip("no IOMMU_TEST_OP_DIRTY_REPORT: no software dirty log\n");

	/* With fault seeds to come, a third of the budget is theirs */
	for (i = 0; i < nseeds; i++) {
		double spend = fault_seeds ? budget * 2 / 3 : budget;

		if (now() - t0 > spend) {
			ksft_print_msg("time budget of %.0f s spent after %u seeds\n",
				       spend, i);
			break;
		}
		run_seed(seed0 + i, nops, &tot);
	}
	if (fault_seeds && nth_fd < 0)
		ksft_print_msg("no fault injection here: -f seeds left out\n");
	/*
	 * Fault seeds: every read still holds every page the model owes, and
	 * every op that fails ends in a clean errno
	 */
	for (i = 0; nth_fd >= 0 && i < fault_seeds; i++) {
		if (now() - t0 > budget) {
			ksft_print_msg("time budget of %.0f s spent after %u seeds with faults\n",
				       budget, i);
			break;
		}
		fault_pct = pct;
		run_seed(seed0 + i, nops, &tot);
		fault_pct = 0;
	}
	for (i = 0; i < (phases ? 1 : 0); i++)
		run_concurrent(seed0 + i, phases, phase_ms, &cwrites, &creads);

	ksft_print_msg("seeds: %u (%u failed), ops: %lu (%lu skipped)\n",
		       tot.seeds, tot.failed, tot.c.ops, tot.c.skipped);
	ksft_print_msg("reads checked: %lu (and %lu refused as predicted, %lu at bad page sizes)\n",
		       tot.c.reads, tot.c.reads_failed_ok,
		       tot.c.bad_page_size_reads);
	ksft_print_msg("writes that failed part way: %lu\n",
		       tot.c.partial_writes);
	if (tot.c.faults_armed) {
		ksft_print_msg("fault injection: %lu ops armed, %lu reached the point\n",
			       tot.c.faults_armed, tot.c.faults_injected);
		ksft_print_msg("... ops failing: %lu ENOMEM %lu ENOENT %lu EINVAL %lu EFAULT\n",
			       tot.c.faults_clean[0], tot.c.faults_clean[1],
			       tot.c.faults_clean[2], tot.c.faults_clean[3]);
	}
	for (k = 0; k < NR_OP_KINDS; k++) {
		static char line[200];
		size_t used = strlen(line);

		snprintf(line + used, sizeof(line) - used, " %s %lu",
			 op_name[k], tot.c.by_kind[k]);
		if (k % 7 == 6 || k == NR_OP_KINDS - 1) {
			ksft_print_msg("ops run:%s\n", line);
			line[0] = '\0';
		}
	}
	ksft_print_msg("over-report: %.3f (%lu reported / %lu model pages)\n",
		       ratio(tot.c.reported_pages, tot.c.model_pages),
		       tot.c.reported_pages, tot.c.model_pages);
	ksft_print_msg("over-report of exact trackers: %.3f (%lu / %lu pages)\n",
		       ratio(tot.c.exact_reported_pages,
			     tot.c.exact_model_pages),
		       tot.c.exact_reported_pages, tot.c.exact_model_pages);
	for (k = 0; k < (int)tot.classes; k++)
		print_kind(k, &tot.class[k], tot.class_seed[k]);
	if (tot.contract_seeds)
		ksft_print_msg("contracts broken in %u seeds, first: %s\n",
			       tot.contract_seeds, tot.first_contract);
	if (tot.c.rule_disagreements)
		ksft_print_msg("attach/declare against the spec (counted only): %lu, first %s\n",
			       tot.c.rule_disagreements, tot.first_rule);
	if (phases)
		ksft_print_msg("concurrent: %lu writes, %lu reads\n", cwrites,
			       creads);
	ksft_print_msg("run time %.1f s\n", now() - t0);
	ksft_set_plan(ksft_test_num());
	ksft_finished();
	return 0;
}
