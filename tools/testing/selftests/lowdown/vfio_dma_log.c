// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO device DMA logging of an emulated-IOMMU device, backed by iommufd's
 * software dirty log (drivers/vfio/access_log.c).
 *
 * The device is the access-log test mdev (drivers/vfio/access_log_test.c):
 * each command written to its fd makes it write, pin or check guest memory
 * through vfio_dma_rw() and vfio_pin_pages(), as an emulated device does.
 * The tests compare VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT with what the
 * device wrote, page by page, and the memory with a shadow image.
 *
 * IOVA layout of the fixture's IOAS, AREA bytes each:
 *
 *   [area0 rw] [hole] [area1 rw] [area2 read-only]
 *
 * Some tests put another tracker on the same IOAS: a software dirty-tracking
 * HWPT of an iommufd selftest mock device (CONFIG_IOMMUFD_TEST), read with
 * IOMMU_HWPT_GET_DIRTY_BITMAP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/userfaultfd.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "fail_nth.h"
#include "iommufd_dirty_ops.h"
#include "vfio_mdev.h"
#include "../../../../drivers/vfio/access_log_test.h"

#define PG 4096UL
#define AREA_PAGES 512UL
#define AREA (AREA_PAGES * PG)
#define IOVA_BASE 0x40000000UL
#define IOVA_AREA0 IOVA_BASE
#define IOVA_HOLE (IOVA_BASE + AREA)
#define IOVA_AREA1 (IOVA_BASE + 2 * AREA)
#define IOVA_AREA2 (IOVA_BASE + 3 * AREA)
#define IOVA_END (IOVA_BASE + 4 * AREA)
#define SPAN_PAGES (4 * AREA_PAGES)

#define MDEV_TYPE_DIR "/sys/class/mdev_bus/" ALT_PARENT_NAME \
	"/mdev_supported_types/" ALT_TYPE_NAME
#define CONSERVATIVE DIRTY_CONSERVATIVE

static int alt_create(char uuid[40], char cdev[64])
{
	return mdev_create(MDEV_TYPE_DIR, "vfio_access_log_test", uuid, cdev);
}

/* One device command: 0 or -errno */
static int alt_do(int devfd, __u32 op, __u8 byte, __u64 iova, __u64 length)
{
	struct alt_cmd cmd = {
		.op = op, .byte = byte, .iova = iova, .length = length,
	};

	return write(devfd, &cmd, sizeof(cmd)) == sizeof(cmd) ? 0 : -errno;
}

static int feature(int devfd, __u32 flags, void *data, size_t size)
{
	__u64 buf[(sizeof(struct vfio_device_feature) + 64) / 8] = {};
	struct vfio_device_feature *f = (void *)buf;

	f->argsz = sizeof(*f) + size;
	f->flags = flags;
	memcpy(f->data, data, size);
	if (ioctl(devfd, VFIO_DEVICE_FEATURE, f))
		return -errno;
	memcpy(data, f->data, size);
	return 0;
}

static int log_start_ranges(int devfd, __u64 page_size,
			    struct vfio_device_feature_dma_logging_range *r,
			    __u32 nr)
{
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = page_size,
		.num_ranges = nr,
		.ranges = (uintptr_t)r,
	};

	return feature(devfd, VFIO_DEVICE_FEATURE_SET |
		       VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
		       &ctl, sizeof(ctl));
}

/* Start over the whole fixture span, as QEMU does over its RAM and holes */
static int log_start(int devfd)
{
	struct vfio_device_feature_dma_logging_range r = {
		.iova = IOVA_BASE, .length = IOVA_END - IOVA_BASE,
	};

	return log_start_ranges(devfd, PG, &r, 1);
}

static int log_stop(int devfd)
{
	return feature(devfd, VFIO_DEVICE_FEATURE_SET |
		       VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0);
}

static int log_report(int devfd, __u64 iova, __u64 length, __u64 page_size,
		      __u64 *bitmap)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = iova, .length = length, .page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return feature(devfd, VFIO_DEVICE_FEATURE_GET |
		       VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
		       &rep, sizeof(rep));
}

static bool test_bit64(const __u64 *map, unsigned long bit)
{
	return map[bit / 64] >> (bit % 64) & 1;
}

static void set_bit64(__u64 *map, unsigned long bit)
{
	map[bit / 64] |= 1ULL << (bit % 64);
}

#define MAP_WORDS (SPAN_PAGES / 64)

FIXTURE(dma_log)
{
	int iommufd;
	__u32 ioas_id;
	int devfd;
	char uuid[40];
	char cdev[64];
	/* Guest memory for the three areas, and what it should hold */
	unsigned char *mem;
	unsigned char *shadow;
	/* Pages written since the last report, by page of the span */
	__u64 expect[MAP_WORDS];
	__u64 got[MAP_WORDS];
	/* dirty_conservative before the test, restored after it */
	int conservative_was;
};

static int map_area(int iommufd, __u32 ioas_id, void *va, __u64 iova,
		    bool writable)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 (writable ? IOMMU_IOAS_MAP_WRITEABLE : 0),
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)va,
		.length = AREA,
		.iova = iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_MAP, &map) ? -errno : 0;
}

static int unmap_area(int iommufd, __u32 ioas_id, __u64 iova)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap), .ioas_id = ioas_id,
		.iova = iova, .length = AREA,
	};

	return ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap) ? -errno : 0;
}

static __u32 ioas_alloc(int iommufd)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return 0;
	return alloc.out_ioas_id;
}

/* Map area0, area1 (rw) and area2 (read-only) of @mem into @ioas_id */
static int map_span(int iommufd, __u32 ioas_id, unsigned char *mem)
{
	return map_area(iommufd, ioas_id, mem, IOVA_AREA0, true) ?:
	       map_area(iommufd, ioas_id, mem + AREA, IOVA_AREA1, true) ?:
	       map_area(iommufd, ioas_id, mem + 2 * AREA, IOVA_AREA2, false);
}

/* Guest memory behind an IOVA of the span (not the hole) */
static unsigned char *mem_at(unsigned char *mem, __u64 iova)
{
	__u64 off = iova - IOVA_BASE;

	return mem + (off < AREA ? off : off - AREA);
}

FIXTURE_SETUP(dma_log)
{
	int rc;

	self->conservative_was = get_conservative();
	self->mem = mmap(NULL, 3 * AREA, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->shadow = calloc(1, 3 * AREA);
	ASSERT_NE(NULL, self->shadow);
	memset(self->expect, 0, sizeof(self->expect));

	/* make check's kernel has the test device: its absence fails */
	rc = alt_create(self->uuid, self->cdev);
	ASSERT_EQ(0, rc) TH_LOG("no access-log test mdev: %s", strerror(-rc));

	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	self->ioas_id = ioas_alloc(self->iommufd);
	ASSERT_NE(0, self->ioas_id);
	ASSERT_EQ(0, map_span(self->iommufd, self->ioas_id, self->mem));
	self->devfd = vfio_dev_open(self->cdev, self->iommufd, self->ioas_id);
	ASSERT_LE(0, self->devfd);
}

FIXTURE_TEARDOWN(dma_log)
{
	write_file(CONSERVATIVE, self->conservative_was > 0 ? "1" : "0");
	if (self->devfd >= 0)
		close(self->devfd);
	close(self->iommufd);
	mdev_remove(self->uuid);
	munmap(self->mem, 3 * AREA);
	free(self->shadow);
}

/* The device writes @len bytes of @byte at @iova; expect and shadow follow */
static int dev_write(struct _test_data_dma_log *self, __u64 iova, __u64 len,
		     __u8 byte)
{
	__u64 p;

	for (p = (iova - IOVA_BASE) / PG; p <= (iova + len - 1 - IOVA_BASE) / PG;
	     p++)
		set_bit64(self->expect, p);
	memset(mem_at(self->shadow, iova), byte, len);
	return alt_do(self->devfd, ALT_CMD_WRITE, byte, iova, len);
}

/* Report the whole span at 4 KiB into self->got */
static int report_span(struct _test_data_dma_log *self)
{
	memset(self->got, 0, sizeof(self->got));
	return log_report(self->devfd, IOVA_BASE, IOVA_END - IOVA_BASE, PG,
			  self->got);
}

static int count_bits(const __u64 *map, size_t words)
{
	int n = 0;

	while (words--)
		n += __builtin_popcountll(*map++);
	return n;
}

TEST_F(dma_log, probe)
{
	ASSERT_EQ(0, feature(self->devfd, VFIO_DEVICE_FEATURE_PROBE |
			     VFIO_DEVICE_FEATURE_SET |
			     VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0));
	ASSERT_EQ(0, feature(self->devfd, VFIO_DEVICE_FEATURE_PROBE |
			     VFIO_DEVICE_FEATURE_SET |
			     VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0));
	ASSERT_EQ(0, feature(self->devfd, VFIO_DEVICE_FEATURE_PROBE |
			     VFIO_DEVICE_FEATURE_GET |
			     VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, NULL, 0));
}

TEST_F(dma_log, bad_arguments)
{
	struct vfio_device_feature_dma_logging_range r[2] = {
		{ .iova = IOVA_AREA0, .length = AREA },
		{ .iova = IOVA_AREA0 + PG, .length = AREA },
	};

	/* Not logging: REPORT fails, STOP does nothing */
	ASSERT_EQ(-EINVAL, report_span(self));
	ASSERT_EQ(0, log_stop(self->devfd));

	/* START: page size, range count, overlap, alignment, overflow */
	ASSERT_EQ(-EINVAL, log_start_ranges(self->devfd, 2048, r, 1));
	ASSERT_EQ(-EINVAL, log_start_ranges(self->devfd, 3 * PG, r, 1));
	ASSERT_EQ(-EINVAL, log_start_ranges(self->devfd, PG, r, 0));
	ASSERT_EQ(-EINVAL, log_start_ranges(self->devfd, PG, r, 2));
	r[1].iova = IOVA_AREA1 + 1;
	ASSERT_EQ(-EINVAL, log_start_ranges(self->devfd, PG, r, 2));
	r[1].iova = -PG;
	r[1].length = 2 * PG;
	ASSERT_EQ(-EOVERFLOW, log_start_ranges(self->devfd, PG, r, 2));

	/* Twice: the second is refused, and the first still logs */
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(-EBUSY, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0, 1, 0x11));

	/* REPORT: page size, overflow, bitmap */
	ASSERT_EQ(-EINVAL, log_report(self->devfd, IOVA_BASE, AREA, 2048,
				      self->got));
	ASSERT_EQ(-EINVAL, log_report(self->devfd, IOVA_BASE, AREA, 3 * PG,
				      self->got));
	ASSERT_EQ(-EOVERFLOW, log_report(self->devfd, -PG, 2 * PG, PG,
					 self->got));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)));
}

/*
 * Random writes of random lengths over both writable areas, several rounds:
 * each REPORT is exactly the pages written since the last one, and memory
 * holds exactly what the device wrote.
 */
TEST_F(dma_log, random_writes_exact)
{
	int round, i;

	srand(1);
	ASSERT_EQ(0, log_start(self->devfd));
	for (round = 0; round < 8; round++) {
		for (i = 0; i < 64; i++) {
			__u64 base = rand() % 2 ? IOVA_AREA1 : IOVA_AREA0;
			__u64 off = rand() % AREA;
			__u64 len = 1 + rand() % (rand() % 4 ? 64 : 5 * PG);

			if (off + len > AREA)
				len = AREA - off;
			ASSERT_EQ(0, dev_write(self, base + off, len,
					       1 + rand() % 255));
		}
		ASSERT_EQ(0, report_span(self));
		ASSERT_EQ(0, memcmp(self->expect, self->got,
				    sizeof(self->got)));
		ASSERT_NE(0, count_bits(self->got, MAP_WORDS));
		ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));
		memset(self->expect, 0, sizeof(self->expect));
		/* Read and cleared */
		ASSERT_EQ(0, report_span(self));
		ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	}
	/* The device sees the same memory */
	ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_CHECK, self->shadow[7],
			    IOVA_AREA0 + 7, 1));
	ASSERT_EQ(-EILSEQ, alt_do(self->devfd, ALT_CMD_CHECK,
				  self->shadow[7] + 1, IOVA_AREA0 + 7, 1));
}

/* One write per 2 MiB, read at 4K..2M: each bit covers its page size */
TEST_F(dma_log, page_sizes)
{
	__u64 ps;

	ASSERT_EQ(0, log_start(self->devfd));
	for (ps = PG; ps <= 2UL << 20; ps *= 2) {
		__u64 iova = IOVA_AREA1 + 3 * PG + 17;
		__u64 map[MAP_WORDS] = {};
		unsigned long bit = (iova - IOVA_BASE) / ps, b;

		ASSERT_EQ(0, dev_write(self, iova, 2, 0x5a));
		/* Also a write straddling two pages of 4K */
		ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + PG - 1, 2, 0x5b));
		ASSERT_EQ(0, log_report(self->devfd, IOVA_BASE,
					IOVA_END - IOVA_BASE, ps, map));
		for (b = 0; b < SPAN_PAGES * PG / ps; b++) {
			bool want = b == bit || b == (PG - 1) / ps ||
				    b == PG / ps;

			ASSERT_EQ(want, test_bit64(map, b))
				TH_LOG("page size %llu bit %lu",
				       (unsigned long long)ps, b);
		}
	}
	ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));
}

/* Report a sub-range of an area */
TEST_F(dma_log, sub_range_report)
{
	__u64 map[4] = {};

	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 9 * PG, 1, 1));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 20 * PG, 1, 1));
	/* [area1 + 8 pages, + 8 pages): only the first write */
	ASSERT_EQ(0, log_report(self->devfd, IOVA_AREA1 + 8 * PG, 8 * PG, PG,
				map));
	ASSERT_EQ(2, map[0]);
	/* The other is still there */
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(1, count_bits(self->got, MAP_WORDS));
	ASSERT_TRUE(test_bit64(self->got, 2 * AREA_PAGES + 20));
}

/*
 * A REPORT whose bitmap cannot be written fails, and what it took from the
 * log is not lost: the next REPORT has it (and may have more: every
 * writable page, if the log turned conservative), until logging restarts.
 */
TEST_F(dma_log, unwritable_bitmap_loses_nothing)
{
	__u64 *ro = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	unsigned long p;

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 3 * PG, 1, 0x21));
	ASSERT_EQ(-EFAULT, log_report(self->devfd, IOVA_BASE,
				      IOVA_END - IOVA_BASE, PG, (__u64 *)8));
	ASSERT_EQ(-EFAULT, log_report(self->devfd, IOVA_BASE,
				      IOVA_END - IOVA_BASE, PG, ro));
	ASSERT_EQ(0, report_span(self));
	for (p = 0; p < SPAN_PAGES; p++) {
		bool writable = p < AREA_PAGES ||
				(p >= 2 * AREA_PAGES && p < 3 * AREA_PAGES);

		if (test_bit64(self->expect, p))
			ASSERT_TRUE(test_bit64(self->got, p));
		if (!writable)
			ASSERT_FALSE(test_bit64(self->got, p));
	}

	ASSERT_EQ(0, log_stop(self->devfd));
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	munmap(ro, PG);
}

/* A page pinned for write is dirty on every report until unpinned */
TEST_F(dma_log, write_pins)
{
	__u64 iova = IOVA_AREA1 + 32 * PG;
	int i, p;

	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_PIN, 0xc3, iova, 4 * PG));
	memset(mem_at(self->shadow, iova), 0xc3, 4 * PG);
	ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, report_span(self));
		ASSERT_EQ(4, count_bits(self->got, MAP_WORDS));
		for (p = 0; p < 4; p++)
			ASSERT_TRUE(test_bit64(self->got,
					       2 * AREA_PAGES + 32 + p));
	}
	ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_UNPIN, 0, iova, 0));
	/* Once more for the writes just before the unpin, then clean */
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(4, count_bits(self->got, MAP_WORDS));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	ASSERT_EQ(-ENOENT, alt_do(self->devfd, ALT_CMD_UNPIN, 0, iova, 0));
}

/* Writes while not logging are not reported; a new START is clean */
TEST_F(dma_log, stopped_logs_nothing)
{
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0, PG, 1));
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));

	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + PG, PG, 2));
	ASSERT_EQ(0, log_stop(self->devfd));
	ASSERT_EQ(-EINVAL, report_span(self));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + 2 * PG, PG, 3));
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));
}

/* A device closed while logging stops logging; reopened, it starts clean */
TEST_F(dma_log, close_while_logging)
{
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0, PG, 1));
	ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_PIN, 2, IOVA_AREA1, PG));
	close(self->devfd);

	self->devfd = vfio_dev_open(self->cdev, self->iommufd, self->ioas_id);
	ASSERT_LE(0, self->devfd);
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + PG, 1, 3));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(1, count_bits(self->got, MAP_WORDS));
}

/*
 * QEMU 10 unmaps without asking for dirty state.  What the device wrote
 * before the unmap is reported once the IOVA is mapped again, and a pin the
 * unmap forced the device to drop is reported too.
 */
TEST_F(dma_log, unmap_remap)
{
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 5 * PG, 3 * PG, 0x77));
	ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_PIN, 0x78,
			    IOVA_AREA1 + 100 * PG, 2 * PG));
	set_bit64(self->expect, 2 * AREA_PAGES + 100);
	set_bit64(self->expect, 2 * AREA_PAGES + 101);
	memset(mem_at(self->shadow, IOVA_AREA1 + 100 * PG), 0x78, 2 * PG);

	/* The device drops its pin in its dma_unmap callback */
	ASSERT_EQ(0, unmap_area(self->iommufd, self->ioas_id, IOVA_AREA1));
	ASSERT_EQ(-ENOENT, alt_do(self->devfd, ALT_CMD_UNPIN, 0,
				  IOVA_AREA1 + 100 * PG, 0));
	ASSERT_NE(0, alt_do(self->devfd, ALT_CMD_WRITE, 1, IOVA_AREA1, 1));
	ASSERT_EQ(0, map_area(self->iommufd, self->ioas_id, self->mem + AREA,
			      IOVA_AREA1, true));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)));
	ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));
}

/* Logging follows the device to another IOAS */
TEST_F(dma_log, replace_ioas)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};
	__u32 ioas2 = ioas_alloc(self->iommufd);

	ASSERT_NE(0, ioas2);
	ASSERT_EQ(0, map_span(self->iommufd, ioas2, self->mem));
	ASSERT_EQ(0, log_start(self->devfd));
	attach.pt_id = ioas2;
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
			   &attach));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + 9 * PG, 10, 9));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)));

	/* Detached, there is nothing to report from; attached, it goes on */
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT,
			   &detach));
	ASSERT_EQ(-EINVAL, report_span(self));
	attach.pt_id = self->ioas_id;
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
			   &attach));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1, 1, 10));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(1, count_bits(self->got, MAP_WORDS));
	ASSERT_TRUE(test_bit64(self->got, 2 * AREA_PAGES));
}

static int attach_pt(int devfd, __u32 pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = pt_id,
	};

	return ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
}

static int detach_pt(int devfd)
{
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};

	return ioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach);
}

/*
 * Detached and attached again to the same IOAS while logging: the writes
 * made before the detach and not yet reported are still reported.
 */
TEST_F(dma_log, detach_attach_keeps_writes)
{
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + 3 * PG, 2 * PG, 0x31));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 7, 1, 0x32));
	ASSERT_EQ(0, detach_pt(self->devfd));
	ASSERT_EQ(0, attach_pt(self->devfd, self->ioas_id));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)));
	ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
}

/*
 * A STOP that runs while the device detaches (iommufd calls the driver's
 * dma_unmap with the access unlocked) stops logging for good: a write made
 * after attaching again, before the next START, is not reported.  A log left
 * with a tracker too many would have logged it, and not cleared it on START.
 */
TEST_F(dma_log, stop_during_detach)
{
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0, PG, 0x41));
	ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_STOP_ON_UNMAP, 0, 0, 0));
	ASSERT_EQ(0, detach_pt(self->devfd));
	ASSERT_EQ(0, attach_pt(self->devfd, self->ioas_id));
	ASSERT_EQ(-EINVAL, report_span(self));

	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 9 * PG, PG, 0x42));
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1, 1, 0x43));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(1, count_bits(self->got, MAP_WORDS));
	ASSERT_TRUE(test_bit64(self->got, 2 * AREA_PAGES));
	ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));
}

/*
 * A range pinned both for read and for write: an unpin does not say which
 * pin it ends, so the range stays dirty until its last pin ends, whichever
 * order the driver unpins in.
 */
TEST_F(dma_log, read_and_write_pin_of_one_range)
{
	__u64 iova = IOVA_AREA0 + 64 * PG;
	int order, i;

	ASSERT_EQ(0, log_start(self->devfd));
	for (order = 0; order < 2; order++) {
		__u32 first = order ? ALT_CMD_PIN : ALT_CMD_PIN_RO;
		__u32 second = order ? ALT_CMD_PIN_RO : ALT_CMD_PIN;

		ASSERT_EQ(0, alt_do(self->devfd, first, 0x50 + order, iova,
				    2 * PG));
		ASSERT_EQ(0, alt_do(self->devfd, second, 0x50 + order, iova,
				    2 * PG));
		memset(mem_at(self->shadow, iova), 0x50 + order, 2 * PG);

		/* The test device unpins its newest pin of the IOVA first */
		ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_UNPIN, 0, iova, 0));
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, report_span(self));
			ASSERT_EQ(2, count_bits(self->got, MAP_WORDS));
			ASSERT_TRUE(test_bit64(self->got, 64));
			ASSERT_TRUE(test_bit64(self->got, 65));
		}
		ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_UNPIN, 0, iova, 0));
		ASSERT_EQ(0, report_span(self));
		ASSERT_EQ(2, count_bits(self->got, MAP_WORDS));
		ASSERT_EQ(0, report_span(self));
		ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	}
	ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));

	/* Read pins alone are never dirty */
	ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_PIN_RO, 0, iova, PG));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	ASSERT_EQ(0, alt_do(self->devfd, ALT_CMD_UNPIN, 0, iova, 0));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
}

/*
 * Conservative mode: every writable mapping, on every report.  The mode is
 * the one of the parameter at START, for as long as logging lasts: turning
 * the parameter off must not blind a device that logs conservatively, nor
 * turning it on change one that logs exactly.
 */
TEST_F(dma_log, conservative)
{
	unsigned long p;
	int i;

	ASSERT_EQ(0, write_file(CONSERVATIVE, "1"));
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, write_file(CONSERVATIVE, "0"));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, report_span(self));
		for (p = 0; p < SPAN_PAGES; p++) {
			ASSERT_EQ(p < AREA_PAGES ||
				  (p >= 2 * AREA_PAGES && p < 3 * AREA_PAGES),
				  test_bit64(self->got, p))
				TH_LOG("report %d, page %lu", i, p);
		}
	}

	ASSERT_EQ(0, log_stop(self->devfd));
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, write_file(CONSERVATIVE, "1"));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 6 * PG, 1, 0x61));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)));
}

/*
 * A software dirty-tracking HWPT on the fixture's IOAS, tracking: a mock
 * device whose IOMMU has no dirty bits, declared a reporter (so that its
 * HWPT is exact), on a HWPT of its own.  0 or -errno.
 */
static int sw_hwpt_on(struct _test_data_dma_log *self, __u32 *hwpt_id)
{
	__u32 stdev_id, idev_id;

	if (mock_device_add(self->iommufd, self->ioas_id,
			    MOCK_FLAGS_DEVICE_NO_DIRTY, &stdev_id, &idev_id) ||
	    dirty_declare(self->iommufd, idev_id, 1) ||
	    hwpt_alloc(self->iommufd, idev_id, self->ioas_id,
		       IOMMU_HWPT_ALLOC_DIRTY_TRACKING, hwpt_id) ||
	    mock_device_replace(self->iommufd, stdev_id, *hwpt_id) ||
	    set_tracking(self->iommufd, *hwpt_id, true))
		return -errno;
	return 0;
}

/* Read the HWPT's bits of area0 and area1 into @map, by page of the span */
static int hwpt_read_span(struct _test_data_dma_log *self, __u32 hwpt_id,
			  __u64 *map)
{
	memset(map, 0, MAP_WORDS * sizeof(*map));
	if (read_dirty_bitmap(self->iommufd, hwpt_id, IOVA_AREA0, AREA, PG,
			      map, 0) ||
	    read_dirty_bitmap(self->iommufd, hwpt_id, IOVA_AREA1, AREA, PG,
			      map + 2 * AREA_PAGES / 64, 0))
		return -errno;
	return 0;
}

/*
 * A device that logs and a HWPT that tracks, on one IOAS: each one's read
 * returns every write since its own last read.  REPORT must not take the
 * HWPT's bits, nor the HWPT's read the device's.
 */
TEST_F(dma_log, hwpt_and_access_each_see_every_write)
{
	__u64 map[MAP_WORDS];
	__u32 hwpt_id;

	ASSERT_EQ(0, sw_hwpt_on(self, &hwpt_id));
	ASSERT_EQ(0, log_start(self->devfd));

	/* REPORT first, then the HWPT */
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + 3 * PG, 10, 0x71));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)));
	ASSERT_EQ(0, hwpt_read_span(self, hwpt_id, map));
	ASSERT_EQ(0, memcmp(self->expect, map, sizeof(map)))
		TH_LOG("the HWPT lost the write REPORT took (%d pages read)",
		       count_bits(map, MAP_WORDS));

	/* The HWPT first, then REPORT */
	memset(self->expect, 0, sizeof(self->expect));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 40 * PG, 1, 0x72));
	ASSERT_EQ(0, hwpt_read_span(self, hwpt_id, map));
	ASSERT_EQ(0, memcmp(self->expect, map, sizeof(map)));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)))
		TH_LOG("REPORT lost the write the HWPT took (%d pages reported)",
		       count_bits(self->got, MAP_WORDS));

	/* And each read cleared only its own */
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	ASSERT_EQ(0, hwpt_read_span(self, hwpt_id, map));
	ASSERT_EQ(0, count_bits(map, MAP_WORDS));
}

/*
 * Writes the device made before it moved to another IOAS, not yet
 * reported, are in its next REPORT: its log goes with it, keyed by IOVA.
 */
TEST_F(dma_log, replace_ioas_keeps_unreported_writes)
{
	__u32 ioas2 = ioas_alloc(self->iommufd);

	ASSERT_NE(0, ioas2);
	ASSERT_EQ(0, map_span(self->iommufd, ioas2, self->mem));
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + 9 * PG, 10, 0x81));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 300 * PG, 2 * PG, 0x82));
	ASSERT_EQ(0, attach_pt(self->devfd, ioas2));

	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)))
		TH_LOG("%d of %d pages written before the move reported",
		       count_bits(self->got, MAP_WORDS),
		       count_bits(self->expect, MAP_WORDS));
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, count_bits(self->got, MAP_WORDS));
	ASSERT_EQ(0, memcmp(self->shadow, self->mem, 2 * AREA));
}

/*
 * While the device is detached, another tracker starting on its old IOAS
 * (a HWPT enabling tracking, whose view starts empty) must not wipe what
 * the device wrote and has not reported: attached again, REPORT has it.
 */
TEST_F(dma_log, detached_writes_survive_another_tracker)
{
	__u32 hwpt_id;

	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + 5 * PG, 1, 0x91));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA1 + 11 * PG, PG, 0x92));
	ASSERT_EQ(0, detach_pt(self->devfd));
	ASSERT_EQ(0, sw_hwpt_on(self, &hwpt_id));
	ASSERT_EQ(0, attach_pt(self->devfd, self->ioas_id));

	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)))
		TH_LOG("%d of %d pages written before the detach reported",
		       count_bits(self->got, MAP_WORDS),
		       count_bits(self->expect, MAP_WORDS));
}

/*
 * A device write that fails part-way (the memory behind the IOAS was made
 * read-only after the map) has written the pages before the failure: the
 * device's vfio_dma_rw() takes iommufd's fast path, copy_to_user(), which
 * stops at the first read-only page.  The pages written are reported, and
 * by the spec every page of the attempted range is.
 */
TEST_F(dma_log, partial_write_logged)
{
	__u64 iova = IOVA_AREA0 + 7 * PG;
	unsigned long p;

	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, mprotect(mem_at(self->mem, iova + PG), PG, PROT_READ));
	ASSERT_EQ(-EFAULT, alt_do(self->devfd, ALT_CMD_WRITE, 0xa1, iova,
				  2 * PG));
	ASSERT_EQ(0xa1, *mem_at(self->mem, iova))
		TH_LOG("the write did not reach its writable page");

	ASSERT_EQ(0, report_span(self));
	for (p = 0; p < SPAN_PAGES; p++) {
		__u64 page = IOVA_BASE + p * PG;
		bool written = false;
		size_t i;

		if (page >= IOVA_HOLE && page < IOVA_AREA1)
			continue;
		for (i = 0; i < PG; i++)
			written |= mem_at(self->mem, page)[i] != 0;
		if (written) {
			EXPECT_TRUE(test_bit64(self->got, p))
				TH_LOG("page at 0x%llx written by the failed write, not reported",
				       (unsigned long long)page);
		}
	}
	EXPECT_TRUE(test_bit64(self->got, (iova + PG - IOVA_BASE) / PG))
		TH_LOG("the read-only page of the attempted range not reported");
	EXPECT_EQ(2, count_bits(self->got, MAP_WORDS));
}

/*
 * REPORT's page_size must be a power of two (vfio core refuses others), and
 * a refused REPORT writes nothing past the user's bitmap, sized for the
 * page size asked for, and takes nothing from the log.
 */
TEST_F(dma_log, report_page_size_not_power_of_two)
{
	unsigned char *map = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u64 length = 64 * 3 * PG;
	size_t i;

	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0, PG);
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + length - 1, 1, 0xb1));
	ASSERT_EQ(-EINVAL, log_report(self->devfd, IOVA_AREA0, length, 3 * PG,
				      (__u64 *)map));
	for (i = 0; i < PG && !map[i]; i++)
		;
	ASSERT_EQ(PG, i) TH_LOG("bitmap byte %zu written", i);
	ASSERT_EQ(0, report_span(self));
	ASSERT_EQ(0, memcmp(self->expect, self->got, sizeof(self->got)));
	munmap(map, PG);
}

/*
 * REPORT must not hold the device's access (its ioas_lock) while it faults
 * in the user's bitmap: a fault can take as long as userspace wants, and
 * meanwhile the device's own DMA, vfio_dma_rw(), must go on.  The bitmap is
 * in memory whose fault the test holds: a write by the device from another
 * thread must complete while REPORT waits in the fault.  Two ways to hold a
 * fault: a userfaultfd that answers only when the test says so, and (for
 * kernels without CONFIG_USERFAULTFD) a private mapping of a device-mapper
 * device that is suspended, so that the fault's read waits for its resume.
 */
struct held_bitmap {
	__u64 *bitmap;
	/* Wait (10 s at most) until @reporter is held in the fault */
	bool (*wait_held)(struct held_bitmap *held, pid_t reporter);
	/* Let the fault complete */
	void (*release)(struct held_bitmap *held);
};

struct report_call {
	int devfd;
	__u64 *bitmap;
	pid_t tid;
	int started;
	int rc;
};

static void *report_thread(void *arg)
{
	struct report_call *r = arg;

	r->tid = gettid();
	__atomic_store_n(&r->started, 1, __ATOMIC_RELEASE);
	r->rc = log_report(r->devfd, IOVA_BASE, IOVA_END - IOVA_BASE, PG,
			   r->bitmap);
	return NULL;
}

struct write_call {
	int devfd;
	__u64 iova;
	int rc;
};

static void *write_thread(void *arg)
{
	struct write_call *w = arg;

	w->rc = alt_do(w->devfd, ALT_CMD_WRITE, 0xc1, w->iova, 8);
	return NULL;
}

static void report_while_held(struct __test_metadata *_metadata,
			      struct _test_data_dma_log *self,
			      struct held_bitmap *held)
{
	struct write_call w = {
		.devfd = self->devfd, .iova = IOVA_AREA1 + 20 * PG,
	};
	struct report_call r = {
		.devfd = self->devfd, .bitmap = held->bitmap,
	};
	pthread_t reporter, writer;
	bool written, reported;
	struct timespec until;

	/* A page for REPORT to set, so that it must write its bitmap */
	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, dev_write(self, IOVA_AREA0 + 5 * PG, 1, 0xc0));

	ASSERT_EQ(0, pthread_create(&reporter, NULL, report_thread, &r));
	while (!__atomic_load_n(&r.started, __ATOMIC_ACQUIRE))
		usleep(1000);
	if (!held->wait_held(held, r.tid)) {
		held->release(held);
		pthread_join(reporter, NULL);
		ASSERT_TRUE(false)
			TH_LOG("REPORT was never held in its bitmap's fault (rc %d)",
			       r.rc);
	}

	/* REPORT waits in the fault: the device writes meanwhile */
	ASSERT_EQ(0, pthread_create(&writer, NULL, write_thread, &w));
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	written = pthread_timedjoin_np(writer, NULL, &until) == 0;
	/* Else the write raced nothing: REPORT must still be in the fault */
	reported = pthread_tryjoin_np(reporter, NULL) == 0;
	EXPECT_FALSE(reported) TH_LOG("REPORT was not held in its bitmap's fault");

	held->release(held);
	if (!reported)
		ASSERT_EQ(0, pthread_join(reporter, NULL));
	if (!written)
		ASSERT_EQ(0, pthread_join(writer, NULL));

	EXPECT_TRUE(written)
		TH_LOG("the device's write waited for REPORT's bitmap fault");
	ASSERT_EQ(0, r.rc);
	ASSERT_EQ(0, w.rc);
	ASSERT_TRUE(test_bit64(r.bitmap, 5));
	/* The write raced the REPORT: this one or the next has it */
	ASSERT_EQ(0, report_span(self));
	ASSERT_TRUE(test_bit64(r.bitmap, 2 * AREA_PAGES + 20) ||
		    test_bit64(self->got, 2 * AREA_PAGES + 20));
}

/* A fault held by a userfaultfd (missing mode) until released */
struct uffd_held {
	struct held_bitmap held;
	int uffd;
	pthread_t handler;
	int arrived, release;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *uffd_handler(void *arg)
{
	struct uffd_held *u = arg;
	struct pollfd pfd = { .fd = u->uffd, .events = POLLIN };
	struct uffdio_zeropage zero = {};
	struct uffd_msg msg;

	if (poll(&pfd, 1, 10000) != 1 ||
	    read(u->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return (void *)1;
	pthread_mutex_lock(&u->lock);
	u->arrived = 1;
	pthread_cond_broadcast(&u->cond);
	while (!u->release)
		pthread_cond_wait(&u->cond, &u->lock);
	pthread_mutex_unlock(&u->lock);

	zero.range.start = msg.arg.pagefault.address & ~(PG - 1);
	zero.range.len = PG;
	return ioctl(u->uffd, UFFDIO_ZEROPAGE, &zero) ? (void *)2 : NULL;
}

static bool uffd_wait_held(struct held_bitmap *held, pid_t reporter)
{
	struct uffd_held *u = (struct uffd_held *)held;
	struct timespec until;
	bool arrived;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&u->lock);
	while (!u->arrived &&
	       pthread_cond_timedwait(&u->cond, &u->lock, &until) == 0)
		;
	arrived = u->arrived;
	pthread_mutex_unlock(&u->lock);
	return arrived;
}

static void uffd_release(struct held_bitmap *held)
{
	struct uffd_held *u = (struct uffd_held *)held;

	pthread_mutex_lock(&u->lock);
	u->release = 1;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

TEST_F(dma_log, report_uffd_fault_does_not_stall_device)
{
	struct uffd_held u = {
		.held = { .wait_held = uffd_wait_held,
			  .release = uffd_release },
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	void *ret;

	u.uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u.uffd < 0)
		SKIP(return,
		     "no userfaultfd (%s): it needs CONFIG_USERFAULTFD=y, and CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1; report_held_read_does_not_stall_device tests the same without it",
		     strerror(errno));
	ASSERT_EQ(0, ioctl(u.uffd, UFFDIO_API, &api));
	u.held.bitmap = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, u.held.bitmap);
	reg.range.start = (uintptr_t)u.held.bitmap;
	reg.range.len = PG;
	ASSERT_EQ(0, ioctl(u.uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, pthread_create(&u.handler, NULL, uffd_handler, &u));

	report_while_held(_metadata, self, &u.held);

	uffd_release(&u.held);
	ASSERT_EQ(0, pthread_join(u.handler, &ret));
	ASSERT_EQ(NULL, ret);
	close(u.uffd);
	munmap(u.held.bitmap, PG);
}

/*
 * A fault held by a suspended device-mapper device: the bitmap is a private
 * mapping of a linear dm device over a loop device, whose page cache is
 * empty, so that writing the bitmap first reads its page, and the read
 * waits until the device is resumed.  dmsetup and losetup run without udev
 * (the test VM has none).
 */
struct dm_held {
	struct held_bitmap held;
	char backing[64], loop[64], name[64], node[96];
	int fd;
	bool suspended;
};

static int run_command(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) ? -1 : 0;
}

static bool dm_wait_held(struct held_bitmap *held, pid_t reporter)
{
	char path[64], stat[512], *state;
	int i, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", reporter);
	/* Blocked on the page's read: uninterruptible, then killable (D) */
	for (i = 0; i < 1000; i++) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return false;
		n = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		if (n <= 0)
			return false;
		stat[n] = 0;
		state = strrchr(stat, ')');
		if (state && state[1] == ' ' && state[2] == 'D')
			return true;
		usleep(10000);
	}
	return false;
}

static void dm_release(struct held_bitmap *held)
{
	struct dm_held *d = (struct dm_held *)held;

	if (d->suspended &&
	    !run_command("dmsetup --noudevsync resume %s", d->name))
		d->suspended = false;
}

/* The dm device's node: /dev/mapper/NAME, or /dev/dm-N found by its name */
static int dm_open(struct dm_held *d)
{
	char path[300], name[64];
	struct dirent *de;
	DIR *dir;
	int fd;

	snprintf(d->node, sizeof(d->node), "/dev/mapper/%s", d->name);
	fd = open(d->node, O_RDONLY);
	if (fd >= 0)
		return fd;
	dir = opendir("/sys/block");
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "dm-", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/name",
			 de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (read(fd, name, sizeof(name) - 1) > 0 &&
		    !strncmp(name, d->name, strlen(d->name)) &&
		    name[strlen(d->name)] == '\n')
			snprintf(d->node, sizeof(d->node), "/dev/%.16s",
				 de->d_name);
		close(fd);
	}
	closedir(dir);
	return open(d->node, O_RDONLY);
}

TEST_F(dma_log, report_held_read_does_not_stall_device)
{
	struct dm_held d = {
		.held = { .wait_held = dm_wait_held, .release = dm_release },
		.fd = -1,
	};
	char cmd[128];
	FILE *losetup;
	int fd;

	snprintf(d.backing, sizeof(d.backing), "/tmp/lowdown-held-%d",
		 getpid());
	snprintf(d.name, sizeof(d.name), "lowdown-held-%d", getpid());
	fd = open(d.backing, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 1 << 20));
	close(fd);
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null",
		 d.backing);
	losetup = popen(cmd, "r");
	if (!losetup || !fgets(d.loop, sizeof(d.loop), losetup) ||
	    pclose(losetup)) {
		unlink(d.backing);
		SKIP(return, "no loop device (losetup failed)");
	}
	d.loop[strcspn(d.loop, "\n")] = 0;
	if (run_command("dmsetup --noudevsync create %s --table '0 2048 linear %s 0' 2>/dev/null",
			d.name, d.loop)) {
		run_command("losetup -d %s", d.loop);
		unlink(d.backing);
		SKIP(return, "no device-mapper device (dmsetup create failed)");
	}

	d.fd = dm_open(&d);
	EXPECT_LE(0, d.fd) TH_LOG("no node for %s", d.name);
	if (d.fd >= 0) {
		d.held.bitmap = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE, d.fd, 0);
		EXPECT_NE(MAP_FAILED, d.held.bitmap);
	}
	if (d.fd >= 0 && d.held.bitmap != MAP_FAILED) {
		/* Nothing of the device cached: the fault must read it */
		EXPECT_EQ(0, posix_fadvise(d.fd, 0, 0, POSIX_FADV_DONTNEED));
		EXPECT_EQ(0, run_command("dmsetup --noudevsync suspend %s", d.name));
		d.suspended = true;
		report_while_held(_metadata, self, &d.held);
		dm_release(&d.held);
		munmap(d.held.bitmap, PG);
	}
	if (d.fd >= 0)
		close(d.fd);
	dm_release(&d.held);
	run_command("dmsetup --noudevsync remove %s", d.name);
	run_command("losetup -d %s", d.loop);
	unlink(d.backing);
}

struct writer {
	int devfd;
	int pages;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	int i;

	for (i = 0; i < w->pages; i++)
		if (alt_do(w->devfd, ALT_CMD_WRITE, 1 + i % 255,
			   IOVA_AREA0 + (__u64)(i % AREA_PAGES) * PG +
			   (i / AREA_PAGES) * 8, 8))
			return (void *)1;
	return NULL;
}

/* Reports racing the device's writes: their union is every page written */
TEST_F(dma_log, concurrent_reports)
{
	struct writer w = { .devfd = self->devfd, .pages = 4 * AREA_PAGES };
	__u64 seen[MAP_WORDS] = {};
	pthread_t t;
	void *ret;
	int i, reports = 0;

	ASSERT_EQ(0, log_start(self->devfd));
	ASSERT_EQ(0, pthread_create(&t, NULL, writer_fn, &w));
	do {
		ASSERT_EQ(0, log_report(self->devfd, IOVA_BASE,
					IOVA_END - IOVA_BASE, PG, seen));
		reports++;
	} while (pthread_tryjoin_np(t, &ret) == EBUSY);
	ASSERT_EQ(NULL, ret);
	ASSERT_EQ(0, log_report(self->devfd, IOVA_BASE, IOVA_END - IOVA_BASE,
				PG, seen));
	for (i = 0; i < (int)MAP_WORDS; i++)
		ASSERT_EQ(i < (int)(AREA_PAGES / 64) ? ~0ULL : 0, seen[i]);
	TH_LOG("%d reports raced %d writes", reports, w.pages);
}

/*
 * Fault injection over the DMA logging path (the log at START, its chunks,
 * write pins, REPORT's bitmap, and the device's own buffers): the sequence
 * runs with its Nth fault point failing, for every N.  Every write and pin
 * that succeeded while logging must read dirty afterwards, memory must hold
 * what was written, and closing must unpin and stop everything (the next
 * run starts from a clean log).
 */
static const unsigned int nth_pages[3] = { 0, 9, 2 * AREA_PAGES + 40 };
#define NTH_PIN (2 * AREA_PAGES + 200)

TEST_F_TIMEOUT(fail_nth, dma_logging_path, 900)
{
	char uuid[40], cdev[64];
	unsigned int nth, injected = 0;
	int nth_fd = self->nth_fd, rc;
	unsigned char *mem = mmap(NULL, 3 * AREA, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, mem);
	rc = alt_create(uuid, cdev);
	ASSERT_EQ(0, rc) TH_LOG("no access-log test mdev: %s", strerror(-rc));

	for (nth = 1;; nth++) {
		__u64 first[MAP_WORDS] = {}, second[MAP_WORDS] = {};
		bool logging, pinned, reported, wrote[3], hit;
		int iommufd, devfd, i, bits = 0;
		__u32 ioas_id;

		memset(mem, 0, 3 * AREA);
		iommufd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, iommufd);
		ioas_id = ioas_alloc(iommufd);
		ASSERT_NE(0, ioas_id);
		ASSERT_EQ(0, map_span(iommufd, ioas_id, mem));
		devfd = vfio_dev_open(cdev, iommufd, ioas_id);
		ASSERT_LE(0, devfd);

		ASSERT_EQ(0, fail_nth_arm(nth_fd, nth));
		logging = !log_start(devfd);
		for (i = 0; i < 3; i++)
			wrote[i] = !alt_do(devfd, ALT_CMD_WRITE, 0x30 + i,
					   IOVA_BASE + nth_pages[i] * PG + 5,
					   9);
		pinned = !alt_do(devfd, ALT_CMD_PIN, 0x40, IOVA_BASE +
				 NTH_PIN * PG, 2 * PG);
		reported = logging && !log_report(devfd, IOVA_BASE,
						  IOVA_END - IOVA_BASE, PG,
						  first);
		if (pinned && alt_do(devfd, ALT_CMD_UNPIN, 0,
				     IOVA_BASE + NTH_PIN * PG, 0))
			pinned = false;
		hit = fail_nth_disarm(nth_fd);

		if (logging) {
			ASSERT_EQ(0, log_report(devfd, IOVA_BASE,
						IOVA_END - IOVA_BASE, PG,
						second));
			for (i = 0; i < (int)MAP_WORDS; i++) {
				second[i] |= reported ? first[i] : 0;
				bits += __builtin_popcountll(second[i]);
			}
			for (i = 0; i < 3; i++)
				ASSERT_TRUE(!wrote[i] ||
					    test_bit64(second, nth_pages[i]))
					TH_LOG("nth %u: write %d lost", nth, i);
			ASSERT_TRUE(!pinned ||
				    (test_bit64(second, NTH_PIN) &&
				     test_bit64(second, NTH_PIN + 1)))
				TH_LOG("nth %u: pin lost", nth);
		}
		for (i = 0; i < 3; i++)
			ASSERT_EQ(wrote[i] ? 0x30 + i : 0,
				  *mem_at(mem, IOVA_BASE +
					  nth_pages[i] * PG + 5));
		if (!hit) {
			/* The run without a failure: everything, exactly */
			ASSERT_TRUE(logging && pinned && reported);
			ASSERT_EQ(5, bits);
		}
		close(devfd);
		close(iommufd);
		if (!hit)
			break;
		injected++;
		ASSERT_GT(5000, nth);
	}
	mdev_remove(uuid);
	munmap(mem, 3 * AREA);
	TH_LOG("%u runs with a failure injected, then one without", injected);
}

/*
 * In a type1 container the device has no iommufd access: DMA logging is
 * hidden (PROBE fails) and the container's own tracking applies, while the
 * device works as before.
 */
TEST(type1_container_hides_logging)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = IOVA_BASE, .size = AREA,
	};
	char uuid[40], cdev[64], path[300], link[300], *group;
	int container, groupfd, devfd, rc;
	unsigned char *mem;
	ssize_t n;

	rc = alt_create(uuid, cdev);
	ASSERT_EQ(0, rc) TH_LOG("no access-log test mdev: %s", strerror(-rc));
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
		 uuid);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = 0;
	group = strrchr(link, '/') + 1;
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);

	container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, container);
	groupfd = open(path, O_RDWR);
	ASSERT_LE(0, groupfd);
	ASSERT_EQ(0, ioctl(groupfd, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_TRUE(status.flags & VFIO_GROUP_FLAGS_VIABLE);
	ASSERT_EQ(0, ioctl(groupfd, VFIO_GROUP_SET_CONTAINER, &container));
	ASSERT_EQ(0, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	devfd = ioctl(groupfd, VFIO_GROUP_GET_DEVICE_FD, uuid);
	ASSERT_LE(0, devfd);

	ASSERT_EQ(-ENOTTY, feature(devfd, VFIO_DEVICE_FEATURE_PROBE |
				   VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				   NULL, 0));
	ASSERT_EQ(-ENOTTY, log_stop(devfd));

	mem = mmap(NULL, AREA, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	map.vaddr = (uintptr_t)mem;
	ASSERT_EQ(0, ioctl(container, VFIO_IOMMU_MAP_DMA, &map));
	ASSERT_EQ(0, alt_do(devfd, ALT_CMD_WRITE, 0x3c, IOVA_BASE + 10, 20));
	ASSERT_EQ(0x3c, mem[10]);
	ASSERT_EQ(0x3c, mem[29]);
	ASSERT_EQ(0, mem[30]);

	close(devfd);
	close(groupfd);
	close(container);
	munmap(mem, AREA);
	mdev_remove(uuid);
}

TEST_HARNESS_MAIN
