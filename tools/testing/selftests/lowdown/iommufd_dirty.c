// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking through the iommufd uAPI, driven through the selftest mock
 * (CONFIG_IOMMUFD_TEST).
 *
 * hw_dirty: a mock HWPT with IOMMU dirty bits, which the test sets with
 * IOMMU_TEST_OP_DIRTY; emulated writes on the same IOAS add to them.
 *
 * sw_dirty: a mock device whose IOMMU has no dirty bits
 * (MOCK_FLAGS_DEVICE_NO_DIRTY).  Its HWPT tracks in software, fed by an
 * emulated device (an iommufd access) writing and pinning guest memory,
 * through the same ioctls and with the same errnos as the hardware path.
 *
 * fail_nth: both paths again, with the Nth fault-injection point of the
 * sequence failing, for every N (fail_nth.h).
 *
 * The helpers are the upstream iommu selftests' own (iommufd_utils.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../iommu/iommufd_utils.h"
#include "iommufd_dirty_ops.h"
#include "fail_nth.h"

/* The mock IOMMU's IO page: dirty bits have this granularity */
#define MOCK_IO_PAGE (PAGE_SIZE / 2)
/* Pages in each of the two areas the fixtures map: 2 MiB with 4 KiB pages */
#define AREA_PAGES 512
#define SZ_2M (2UL << 20)

/*
 * EXPECT_ERRNO() without its ASSERT: a call that wrongly succeeds fails the
 * test but lets it go on to its other checks.
 */
#define EXPECT_FAILS(_errno, _call)                                   \
	({                                                            \
		int __rc = (_call);                                   \
									      \
		EXPECT_EQ(-1, __rc);                                  \
		EXPECT_EQ(_errno, __rc ? errno : 0);                  \
	})

static __attribute__((constructor)) void setup_sizes(void)
{
	PAGE_SIZE = sysconf(_SC_PAGE_SIZE);
	BUFFER_SIZE = PAGE_SIZE * AREA_PAGES;
	buffer = mmap(NULL, BUFFER_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert(buffer != MAP_FAILED);
}

/*
 * A mock device on a dirty-tracking HWPT of one IOAS in which two areas are
 * mapped with a hole of one area between them:
 *
 *   [area0: AREA_PAGES pages] [hole: AREA_PAGES pages] [area1: AREA_PAGES]
 */
FIXTURE(hw_dirty)
{
	int fd;
	uint32_t ioas_id;
	uint32_t stdev_id;
	uint32_t idev_id;
	uint32_t hwpt_id;
	uint64_t area0;
	uint64_t area1;
	__u64 *bitmap;
	size_t bitmap_bytes;
};

FIXTURE_SETUP(hw_dirty)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_NE(-1, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
	test_cmd_mock_domain(self->ioas_id, &self->stdev_id, NULL,
			     &self->idev_id);
	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id,
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &self->hwpt_id);
	test_cmd_mock_domain_replace(self->stdev_id, self->hwpt_id);

	self->area0 = MOCK_APERTURE_START;
	self->area1 = MOCK_APERTURE_START + 2 * BUFFER_SIZE;
	test_ioctl_ioas_map_fixed(buffer, BUFFER_SIZE, self->area0);
	test_ioctl_ioas_map_fixed(buffer, BUFFER_SIZE, self->area1);

	/* One bit per mock IO page over both areas and the hole */
	self->bitmap_bytes = 3 * BUFFER_SIZE / MOCK_IO_PAGE / BITS_PER_BYTE;
	self->bitmap = calloc(1, self->bitmap_bytes + sizeof(__u64));
	ASSERT_NE(NULL, self->bitmap);
}

FIXTURE_TEARDOWN(hw_dirty)
{
	free(self->bitmap);
	teardown_iommufd(self->fd, _metadata);
}

/* GET_DIRTY_BITMAP of [iova, iova + length) into self->bitmap */
#define read_dirty(iova, length)                                          \
	_test_cmd_get_dirty_bitmap(self->fd, self->hwpt_id, length, iova, \
				   MOCK_IO_PAGE, self->bitmap, 0)

/* Mark every other mock IO page of [iova, iova + BUFFER_SIZE) dirty */
static void dirty_every_other(struct __test_metadata *_metadata, int fd,
			      __u32 hwpt_id, __u64 iova, __u64 *nr)
{
	size_t bits = BUFFER_SIZE / MOCK_IO_PAGE;
	__u64 *pattern = calloc(1, bits / BITS_PER_BYTE);
	size_t i;

	ASSERT_NE(NULL, pattern);
	for (i = 0; i < bits; i += 2)
		set_bit(i, (unsigned long *)pattern);
	test_cmd_mock_domain_set_dirty(fd, hwpt_id, BUFFER_SIZE, iova,
				       MOCK_IO_PAGE, pattern, nr);
	free(pattern);
}

/* Positive control: a fully mapped range reads back what was dirtied */
TEST_F(hw_dirty, read_mapped_range)
{
	size_t bits = BUFFER_SIZE / MOCK_IO_PAGE, i;
	__u64 nr;

	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	dirty_every_other(_metadata, self->fd, self->hwpt_id, self->area0, &nr);
	ASSERT_EQ(bits / 2, nr);

	ASSERT_EQ(0, read_dirty(self->area0, BUFFER_SIZE));
	for (i = 0; i < bits; i++)
		ASSERT_EQ(!(i % 2), test_bit(i, (unsigned long *)self->bitmap));

	/* Read-and-clear: a second read finds nothing */
	memset(self->bitmap, 0, self->bitmap_bytes);
	ASSERT_EQ(0, read_dirty(self->area0, BUFFER_SIZE));
	for (i = 0; i < bits; i++)
		ASSERT_EQ(0, test_bit(i, (unsigned long *)self->bitmap));
}

/*
 * A range with a hole is not fully mapped: the walk stops at the hole and
 * the areas after it are never read, so the ioctl must fail, not hand back
 * a partial bitmap as complete (6.12 returned 0 here).
 */
TEST_F(hw_dirty, read_across_hole_fails)
{
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	dirty_every_other(_metadata, self->fd, self->hwpt_id, self->area0,
			  NULL);

	EXPECT_ERRNO(EINVAL, read_dirty(self->area0, 3 * BUFFER_SIZE));
	/* The hole itself, likewise */
	EXPECT_ERRNO(EINVAL, read_dirty(self->area0 + BUFFER_SIZE, BUFFER_SIZE));
}

/* The driver's own error reaches userspace: no read while tracking is off */
TEST_F(hw_dirty, read_while_tracking_off_fails)
{
	EXPECT_ERRNO(EINVAL, read_dirty(self->area0, BUFFER_SIZE));
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	ASSERT_EQ(0, read_dirty(self->area0, BUFFER_SIZE));
	test_cmd_set_dirty_tracking(self->hwpt_id, false);
	EXPECT_ERRNO(EINVAL, read_dirty(self->area0, BUFFER_SIZE));
}

#define NR_PAGES (3 * AREA_PAGES)

/*
 * A NO_DIRTY mock device and an emulated device (an access that pins) on
 * one IOAS with the two areas and the hole; @written is what the test
 * expects the log to hold, one entry per PAGE_SIZE page from area0.
 */
FIXTURE(sw_dirty)
{
	int fd;
	uint32_t ioas_id;
	uint32_t stdev_id;
	uint32_t idev_id;
	uint32_t hwpt_id;
	uint32_t access_id;
	uint64_t area0;
	uint64_t area1;
	__u64 *bitmap;
	size_t bitmap_bytes;
	bool written[NR_PAGES];
	/* dirty_conservative before the test, restored after it */
	int conservative_was;
};

FIXTURE_SETUP(sw_dirty)
{
	self->conservative_was = get_conservative();
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_NE(-1, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
	test_cmd_mock_domain_flags(self->ioas_id, MOCK_FLAGS_DEVICE_NO_DIRTY,
				   &self->stdev_id, NULL, &self->idev_id);
	self->area0 = MOCK_APERTURE_START;
	self->area1 = MOCK_APERTURE_START + 2 * BUFFER_SIZE;
	test_ioctl_ioas_map_fixed(buffer, BUFFER_SIZE, self->area0);
	test_ioctl_ioas_map_fixed(buffer, BUFFER_SIZE, self->area1);
	test_cmd_create_access(self->ioas_id, &self->access_id,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	self->bitmap_bytes = 3 * BUFFER_SIZE / MOCK_IO_PAGE / BITS_PER_BYTE;
	self->bitmap = calloc(1, self->bitmap_bytes + sizeof(__u64));
	ASSERT_NE(NULL, self->bitmap);
}

FIXTURE_TEARDOWN(sw_dirty)
{
	set_conservative(self->conservative_was > 0);
	free(self->bitmap);
	close(self->access_id);
	teardown_iommufd(self->fd, _metadata);
}

/* Declare the device a reporter, put it on a software dirty HWPT */
#define sw_hwpt_attach()                                                     \
	({                                                                   \
		ASSERT_EQ(0, dirty_declare(self->fd, self->idev_id, true));  \
		test_cmd_hwpt_alloc(self->idev_id, self->ioas_id,            \
				    IOMMU_HWPT_ALLOC_DIRTY_TRACKING,         \
				    &self->hwpt_id);                         \
		test_cmd_mock_domain_replace(self->stdev_id, self->hwpt_id); \
	})

#define sw_read(iova, length, page_size, flags)                              \
	({                                                                   \
		memset(self->bitmap, 0, self->bitmap_bytes);                 \
		_test_cmd_get_dirty_bitmap(self->fd, self->hwpt_id, length,  \
					   iova, page_size, self->bitmap,    \
					   flags);                           \
	})

/* Write @length bytes at @iova through the access and note the pages */
#define sw_write(iova, length)                                              \
	({                                                                  \
		uint64_t __iova = (iova), __len = (length), __p;            \
		unsigned char __data[__len];                                \
		size_t __off = (__iova - self->area0) % BUFFER_SIZE;        \
									    \
		for (__p = 0; __p < __len; __p++)                           \
			__data[__p] = rand();                               \
		ASSERT_EQ(0, access_rw(self->fd, self->access_id, __iova,   \
				       __data, __len, MOCK_ACCESS_RW_WRITE)); \
		ASSERT_EQ(0, memcmp((char *)buffer + __off, __data, __len)); \
		for (__p = (__iova - self->area0) / PAGE_SIZE;              \
		     __p <= (__iova + __len - 1 - self->area0) / PAGE_SIZE; \
		     __p++)                                                 \
			self->written[__p] = true;                          \
	})

/*
 * The bitmap of [iova, iova + length) at @page_size must hold exactly the
 * pages in self->written: a bit is set iff a written page overlaps it.
 */
static void check_bitmap(struct __test_metadata *_metadata, const bool *written,
			 __u64 *bitmap, uint64_t base, uint64_t iova,
			 uint64_t length, unsigned long page_size)
{
	unsigned long bit;

	for (bit = 0; bit < length / page_size; bit++) {
		uint64_t first = iova + bit * page_size - base;
		uint64_t last = first + page_size - 1;
		bool want = false;
		uint64_t p;

		for (p = first / PAGE_SIZE; p <= last / PAGE_SIZE; p++)
			want |= written[p];
		ASSERT_EQ(want, test_bit(bit, (unsigned long *)bitmap))
			TH_LOG("page_size %lu bit %lu (iova 0x%llx)", page_size,
			       bit, (unsigned long long)(iova + bit * page_size));
	}
}

#define sw_check(iova, length, page_size)                                \
	check_bitmap(_metadata, self->written, self->bitmap, self->area0, \
		     iova, length, page_size)

/* Read [iova, iova + length) and check it against self->written */
#define sw_read_check(iova, length, page_size, flags)                     \
	({                                                                \
		uint64_t __iova = (iova), __len = (length);               \
		unsigned long __psz = (page_size);                        \
									  \
		ASSERT_EQ(0, sw_read(__iova, __len, __psz, flags));       \
		sw_check(__iova, __len, __psz);                           \
	})

/*
 * A view is freed when its tracker ends, also when that is an access
 * destroyed while logging (it kept its view to carry to a next IOAS).
 * Frees wait for a grace period and a workqueue: poll for a while.
 */
static int trackers_settle(int fd, __u32 ioas_id, int want)
{
	int i, n = -1;

	for (i = 0; i < 100; i++) {
		n = dirty_trackers_live(fd, ioas_id);
		if (n == want)
			break;
		usleep(50000);
	}
	return n;
}

TEST_F(sw_dirty, destroyed_access_frees_its_view)
{
	int base = trackers_settle(self->fd, self->ioas_id, 0);
	uint32_t access_id;

	ASSERT_LE(0, base);
	test_cmd_create_access(self->ioas_id, &access_id, 0);
	ASSERT_EQ(0, access_dirty_set(self->fd, access_id, true));
	ASSERT_EQ(base + 1, dirty_trackers_live(self->fd, self->ioas_id));
	/* Destroyed while logging, without STOP: QEMU killed mid-migration */
	close(access_id);
	ASSERT_EQ(base, trackers_settle(self->fd, self->ioas_id, base))
		TH_LOG("the destroyed access's view was not freed");

	/* Stopped, then destroyed: freed too, and only once */
	test_cmd_create_access(self->ioas_id, &access_id, 0);
	ASSERT_EQ(0, access_dirty_set(self->fd, access_id, true));
	ASSERT_EQ(0, access_dirty_set(self->fd, access_id, false));
	close(access_id);
	ASSERT_EQ(base, trackers_settle(self->fd, self->ioas_id, base));
}

/*
 * A read whose range covers a PAGE_SIZE page of the log only in part (DMA
 * logging does not make REPORT's range page aligned) reports the page, but
 * must leave its bit for the read of the rest of it.
 */
TEST_F(sw_dirty, partial_page_read_keeps_the_rest)
{
	uint64_t page = self->area0 + 9 * PAGE_SIZE, half = PAGE_SIZE / 2;
	unsigned char data = 0x5a;
	__u64 bits;

	ASSERT_EQ(0, access_dirty_set(self->fd, self->access_id, true));
	ASSERT_EQ(0, access_rw(self->fd, self->access_id, page + 8, &data, 1,
			       MOCK_ACCESS_RW_WRITE));

	/* The second half of the page, then the first */
	bits = 0;
	ASSERT_EQ(0, access_dirty_read(self->fd, self->access_id, page + half,
				       half, half, &bits));
	ASSERT_EQ(1, bits);
	bits = 0;
	ASSERT_EQ(0, access_dirty_read(self->fd, self->access_id, page, half,
				       half, &bits));
	ASSERT_EQ(1, bits)
		TH_LOG("the read of the page's second half took its first half");
	/* A read of the whole page takes it */
	bits = 0;
	ASSERT_EQ(0, access_dirty_read(self->fd, self->access_id, page,
				       PAGE_SIZE, PAGE_SIZE, &bits));
	ASSERT_EQ(1, bits);
	bits = 0;
	ASSERT_EQ(0, access_dirty_read(self->fd, self->access_id, page,
				       PAGE_SIZE, PAGE_SIZE, &bits));
	ASSERT_EQ(0, bits);
	ASSERT_EQ(0, access_dirty_set(self->fd, self->access_id, false));
}

TEST_F(sw_dirty, no_source_no_capability)
{
	uint32_t hwpt_id;

	ASSERT_EQ(0, hw_caps(self->fd, self->idev_id));
	test_err_hwpt_alloc(EOPNOTSUPP, self->idev_id, self->ioas_id,
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &hwpt_id);
}

TEST_F(sw_dirty, declared_device_is_capable)
{
	ASSERT_EQ(0, dirty_declare(self->fd, self->idev_id, true));
	ASSERT_EQ(IOMMU_HW_CAP_DIRTY_TRACKING,
		  hw_caps(self->fd, self->idev_id));
	sw_hwpt_attach();

	/* Withdrawing while on a software HWPT would blind the log */
	EXPECT_ERRNO(EBUSY, dirty_declare(self->fd, self->idev_id, false));
	test_cmd_mock_domain_replace(self->stdev_id, self->ioas_id);
	ASSERT_EQ(0, dirty_declare(self->fd, self->idev_id, false));
	ASSERT_EQ(0, hw_caps(self->fd, self->idev_id));
	/* 0 none, 1 exact, 2 conservative: nothing else */
	EXPECT_ERRNO(EINVAL, dirty_declare(self->fd, self->idev_id, 3));
}

/* A device nobody tracks must not join a software dirty-tracking HWPT */
TEST_F(sw_dirty, untracked_device_refused)
{
	uint32_t stdev_id, idev_id;

	sw_hwpt_attach();
	test_cmd_mock_domain_flags(self->ioas_id, MOCK_FLAGS_DEVICE_NO_DIRTY,
				   &stdev_id, NULL, &idev_id);
	test_err_mock_domain_replace(EINVAL, stdev_id, self->hwpt_id);
	ASSERT_EQ(0, dirty_declare(self->fd, idev_id, true));
	test_cmd_mock_domain_replace(stdev_id, self->hwpt_id);
}

/*
 * Nor must a device whose IOMMU has dirty bits but whose driver declared
 * nothing: the software HWPT's domain has no dirty_ops, so its DMA would be
 * seen by neither the IOMMU nor the log.  Not at attach, not by replace.
 * Declared, it may join; then withdrawing the declaration would blind the
 * log just the same.
 */
TEST_F(sw_dirty, undeclared_hw_device_refused)
{
	uint32_t stdev_id, idev_id;

	sw_hwpt_attach();
	EXPECT_FAILS(EINVAL, _test_cmd_mock_domain(self->fd, self->hwpt_id,
						   &stdev_id, NULL, &idev_id));

	test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, &idev_id);
	ASSERT_EQ(IOMMU_HW_CAP_DIRTY_TRACKING, hw_caps(self->fd, idev_id));
	EXPECT_FAILS(EINVAL, _test_cmd_mock_domain_replace(self->fd, stdev_id,
							   self->hwpt_id, NULL));
	test_cmd_mock_domain_replace(stdev_id, self->ioas_id);

	ASSERT_EQ(0, dirty_declare(self->fd, idev_id, 1));
	test_cmd_mock_domain_replace(stdev_id, self->hwpt_id);
	EXPECT_FAILS(EBUSY, dirty_declare(self->fd, idev_id, 0));
	test_cmd_mock_domain_replace(stdev_id, self->ioas_id);
	ASSERT_EQ(0, dirty_declare(self->fd, idev_id, 0));
}

/*
 * Random emulated writes and reads: every read-and-clear at every page size
 * from the mock's 2 KiB IO page to 2 MiB returns exactly the pages written,
 * and nothing is left after it.
 */
TEST_F(sw_dirty, access_writes_exact)
{
	unsigned long sizes[] = { MOCK_IO_PAGE, PAGE_SIZE, 4 * PAGE_SIZE,
				  64 * 1024, SZ_2M };
	unsigned char scratch[3 * 4096];
	unsigned int i, round;

	srand(1);
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);

	for (round = 0; round < ARRAY_SIZE(sizes); round++) {
		unsigned long page_size = sizes[round];

		memset(self->written, 0, sizeof(self->written));
		for (i = 0; i < 40; i++) {
			uint64_t base = (rand() & 1) ? self->area1 : self->area0;
			uint64_t len = 1 + rand() % (3 * PAGE_SIZE);
			uint64_t off = rand() % (BUFFER_SIZE - len);

			sw_write(base + off, len);
			/* Reads are not writes */
			off = rand() % (BUFFER_SIZE - sizeof(scratch));
			ASSERT_EQ(0, access_rw(self->fd, self->access_id,
					       base + off, scratch,
					       sizeof(scratch), 0));
		}
		sw_read_check(self->area0, BUFFER_SIZE, page_size, 0);
		sw_read_check(self->area1, BUFFER_SIZE, page_size, 0);

		memset(self->written, 0, sizeof(self->written));
		sw_read_check(self->area0, BUFFER_SIZE, page_size, 0);
	}
}

/* A read of a sub-range takes only its bits: the rest stay in the log */
TEST_F(sw_dirty, partial_reads_keep_the_rest)
{
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	sw_write(self->area0 + PAGE_SIZE - 8, 16);	/* pages 0 and 1 */
	sw_write(self->area0 + 9 * PAGE_SIZE, 1);	/* page 9 */

	/* Pages 1 to 4, at the mock's 2 KiB granularity */
	sw_read_check(self->area0 + PAGE_SIZE, 4 * PAGE_SIZE, MOCK_IO_PAGE, 0);
	self->written[1] = false;
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
}

TEST_F(sw_dirty, no_clear)
{
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	sw_write(self->area0 + 3 * PAGE_SIZE, 2 * PAGE_SIZE);
	sw_write(self->area1 + 100 * PAGE_SIZE, 1);

	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE,
		      IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE,
		      IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	memset(self->written, 0, sizeof(self->written));
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
}

/* Nothing is logged while tracking is off, and starting clears the log */
TEST_F(sw_dirty, tracking_off_logs_nothing)
{
	sw_hwpt_attach();
	sw_write(self->area0, PAGE_SIZE);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	sw_write(self->area0 + PAGE_SIZE, PAGE_SIZE);
	test_cmd_set_dirty_tracking(self->hwpt_id, false);
	sw_write(self->area0 + 2 * PAGE_SIZE, PAGE_SIZE);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);

	memset(self->written, 0, sizeof(self->written));
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
}

/* The hardware path's errnos, on a HWPT that tracks in software */
TEST_F(sw_dirty, bad_arguments)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.iova = MOCK_APERTURE_START,
		.length = BUFFER_SIZE,
		.page_size = PAGE_SIZE,
	};
	uint32_t plain_hwpt;

	sw_hwpt_attach();
	/* Not started */
	EXPECT_ERRNO(EINVAL, sw_read(self->area0, BUFFER_SIZE, PAGE_SIZE, 0));
	test_cmd_set_dirty_tracking(self->hwpt_id, true);

	cmd.hwpt_id = self->hwpt_id;
	cmd.data = (uintptr_t)self->bitmap;
	cmd.flags = 1 << 5;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP,
				       &cmd));
	cmd.flags = 0;
	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP,
				       &cmd));
	EXPECT_ERRNO(EINVAL, sw_read(self->area0, 0, PAGE_SIZE, 0));
	EXPECT_ERRNO(EINVAL, sw_read(self->area0, BUFFER_SIZE, 0, 0));
	EXPECT_ERRNO(EINVAL, sw_read(self->area0 + 512, BUFFER_SIZE,
				     PAGE_SIZE, 0));
	EXPECT_ERRNO(EINVAL, sw_read(self->area0, 3 * BUFFER_SIZE,
				     PAGE_SIZE, 0));
	EXPECT_ERRNO(EINVAL, sw_read(self->area0 + BUFFER_SIZE, BUFFER_SIZE,
				     PAGE_SIZE, 0));
	EXPECT_ERRNO(ENOENT, set_tracking(self->fd, 0, true));

	/* A HWPT allocated without dirty tracking has none */
	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id, 0, &plain_hwpt);
	EXPECT_ERRNO(EOPNOTSUPP, set_tracking(self->fd, plain_hwpt, true));
	cmd.__reserved = 0;
	cmd.hwpt_id = plain_hwpt;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP,
				       &cmd));
}

/*
 * Pages pinned for write read dirty for as long as they are pinned (the
 * emulated device may write them at any time), once more after the unpin,
 * then no more.  Pages pinned for read never do.
 */
TEST_F(sw_dirty, write_pins_stay_dirty)
{
	uint32_t wpin, rpin;
	int i;

	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	ASSERT_EQ(0, access_pin(self->fd, self->access_id,
				self->area0 + 4 * PAGE_SIZE, 2 * PAGE_SIZE,
				MOCK_FLAGS_ACCESS_WRITE, &wpin));
	ASSERT_EQ(0, access_pin(self->fd, self->access_id,
				self->area0 + 8 * PAGE_SIZE, PAGE_SIZE, 0,
				&rpin));
	self->written[4] = true;
	self->written[5] = true;
	for (i = 0; i < 3; i++)
		sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	test_cmd_destroy_access_pages(self->access_id, wpin);
	test_cmd_destroy_access_pages(self->access_id, rpin);
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	memset(self->written, 0, sizeof(self->written));
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
}

/*
 * Conservative mode: a device with no source at all is trackable, and every
 * writable page reads dirty on every read; read-only mappings never do.
 */
TEST_F(sw_dirty, conservative_mode)
{
	__u64 ro = MOCK_APERTURE_START + 4 * BUFFER_SIZE;
	int i;

	ASSERT_EQ(0, set_conservative(true));
	ASSERT_EQ(IOMMU_HW_CAP_DIRTY_TRACKING,
		  hw_caps(self->fd, self->idev_id));
	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id,
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &self->hwpt_id);
	test_cmd_mock_domain_replace(self->stdev_id, self->hwpt_id);
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, buffer,
					  BUFFER_SIZE, &ro,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
					  IOMMU_IOAS_MAP_READABLE));
	test_cmd_set_dirty_tracking(self->hwpt_id, true);

	for (i = 0; i < AREA_PAGES; i++)
		self->written[i] = true;
	for (i = 0; i < 2; i++)
		sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	ASSERT_EQ(0, sw_read(ro, BUFFER_SIZE, PAGE_SIZE, 0));
	for (i = 0; i < AREA_PAGES; i++)
		ASSERT_EQ(0, test_bit(i, (unsigned long *)self->bitmap));

	/* Off again: the undeclared device loses the capability */
	ASSERT_EQ(0, set_conservative(false));
	ASSERT_EQ(0, hw_caps(self->fd, self->idev_id));
}

/*
 * A conservative HWPT's device may have written any page it could, but its
 * reads report what is mapped writable when they run.  An area unmapped
 * before the read (QEMU 10 unmaps without reading) must stay in the view:
 * mapped again at the same IOVA read-only, its pages read dirty once, and
 * the second read reports none of them.
 */
TEST_F(sw_dirty, conservative_keeps_unmapped_area)
{
	__u64 iova = self->area0;
	int i, bits;

	ASSERT_EQ(0, set_conservative(true));
	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id,
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &self->hwpt_id);
	test_cmd_mock_domain_replace(self->stdev_id, self->hwpt_id);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);

	test_ioctl_ioas_unmap(self->area0, BUFFER_SIZE);
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, buffer,
					  BUFFER_SIZE, &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
					  IOMMU_IOAS_MAP_READABLE));
	ASSERT_EQ(0, sw_read(self->area0, BUFFER_SIZE, PAGE_SIZE, 0));
	for (i = 0; i < AREA_PAGES; i++) {
		ASSERT_TRUE(test_bit(i, (unsigned long *)self->bitmap))
			TH_LOG("page %d, writable until its unmap, is not reported",
			       i);
	}
	ASSERT_EQ(0, sw_read(self->area0, BUFFER_SIZE, PAGE_SIZE, 0));
	for (i = 0, bits = 0; i < AREA_PAGES / 64; i++)
		bits += __builtin_popcountll(self->bitmap[i]);
	ASSERT_EQ(0, bits);
}

/*
 * The mode is the HWPT's, fixed when it is allocated: turning the parameter
 * off must not blind a conservative HWPT that tracks (its device has no
 * other source), and turning it on must not change an exact one.
 */
TEST_F(sw_dirty, conservative_latched_at_alloc)
{
	int i;

	ASSERT_EQ(0, set_conservative(true));
	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id,
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &self->hwpt_id);
	test_cmd_mock_domain_replace(self->stdev_id, self->hwpt_id);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	ASSERT_EQ(0, set_conservative(false));
	/* The parameter is for HWPTs allocated from now on */
	ASSERT_EQ(0, hw_caps(self->fd, self->idev_id));

	for (i = 0; i < AREA_PAGES; i++) {
		self->written[i] = true;
		self->written[2 * AREA_PAGES + i] = true;
	}
	for (i = 0; i < 2; i++) {
		sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
		sw_read_check(self->area1, BUFFER_SIZE, PAGE_SIZE, 0);
	}
	/* Restarting tracking keeps the HWPT's mode */
	test_cmd_set_dirty_tracking(self->hwpt_id, false);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
}

TEST_F(sw_dirty, exact_stays_exact_in_conservative_mode)
{
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	ASSERT_EQ(0, set_conservative(true));
	sw_write(self->area0 + 12 * PAGE_SIZE, 1);
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	sw_read_check(self->area1, BUFFER_SIZE, PAGE_SIZE, 0);
}

/*
 * IOMMU dirty bits and the software log on one HWPT: the read returns their
 * union.  The mock's bits are on every other 2 KiB IO page of area0's first
 * half; an emulated device writes its last page.
 */
TEST_F(hw_dirty, union_with_emulated_writes)
{
	size_t bits = BUFFER_SIZE / MOCK_IO_PAGE, i;
	unsigned char data[16] = { 1, 2, 3 };
	uint32_t access_id;

	test_cmd_create_access(self->ioas_id, &access_id, 0);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	dirty_every_other(_metadata, self->fd, self->hwpt_id, self->area0,
			  NULL);
	ASSERT_EQ(0, access_rw(self->fd, access_id,
			       self->area0 + BUFFER_SIZE - sizeof(data), data,
			       sizeof(data), MOCK_ACCESS_RW_WRITE));

	ASSERT_EQ(0, read_dirty(self->area0, BUFFER_SIZE));
	for (i = 0; i < bits; i++) {
		/* The last 4 KiB page covers the last two 2 KiB bits */
		bool want = !(i % 2) || i >= bits - PAGE_SIZE / MOCK_IO_PAGE;

		ASSERT_EQ(want, test_bit(i, (unsigned long *)self->bitmap));
	}
	close(access_id);
}

/*
 * Driver reports (a physical device's DMA) read back exactly; nothing is
 * logged before tracking starts or while the device is detached.
 */
TEST_F(sw_dirty, driver_reports_exact)
{
	unsigned int i;

	srand(2);
	sw_hwpt_attach();
	ASSERT_EQ(0, dirty_report(self->fd, self->idev_id, self->area0, 1));
	test_cmd_set_dirty_tracking(self->hwpt_id, true);

	for (i = 0; i < 64; i++) {
		uint64_t len = 1 + rand() % (8 * PAGE_SIZE);
		uint64_t off = rand() % (BUFFER_SIZE - len);
		uint64_t p;

		ASSERT_EQ(0, dirty_report(self->fd, self->idev_id,
					  self->area0 + off, len));
		for (p = off / PAGE_SIZE; p <= (off + len - 1) / PAGE_SIZE; p++)
			self->written[p] = true;
	}
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);

	/* Detached, the device cannot DMA, and its reports go nowhere */
	test_cmd_mock_domain_replace(self->stdev_id, self->ioas_id);
	test_ioctl_destroy(self->hwpt_id);
	ASSERT_EQ(0, dirty_report(self->fd, self->idev_id, self->area0,
				  PAGE_SIZE));

	EXPECT_ERRNO(EINVAL, dirty_report(self->fd, self->idev_id,
					  self->area0, 0));
	EXPECT_ERRNO(EOVERFLOW, dirty_report(self->fd, self->idev_id,
					     -4096ULL, 8192));
}

/*
 * A reporting driver reads what it gave its device (descriptors) through
 * the device's IOAS: exactly the bytes mapped there, only mapped IOVA, and
 * nothing logged for it.
 */
TEST_F(sw_dirty, device_dma_read)
{
	unsigned char got[3 * PAGE_SIZE];
	uint64_t off = PAGE_SIZE - 100;
	unsigned int i;

	srand(3);
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	for (i = 0; i < BUFFER_SIZE; i++)
		((unsigned char *)buffer)[i] = rand();

	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, device_dma_read(self->fd, self->idev_id,
				     self->area0 + off, got, sizeof(got)));
	ASSERT_EQ(0, memcmp(got, (char *)buffer + off, sizeof(got)));
	/* The same memory, mapped twice */
	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, device_dma_read(self->fd, self->idev_id,
				     self->area1 + off, got, 16));
	ASSERT_EQ(0, memcmp(got, (char *)buffer + off, 16));

	/* Past the end of area0 is a hole; after area1 nothing is mapped */
	EXPECT_ERRNO(ENOENT, device_dma_read(self->fd, self->idev_id,
					     self->area0 + BUFFER_SIZE - 8,
					     got, 16));
	EXPECT_ERRNO(ENOENT, device_dma_read(self->fd, self->idev_id,
					     self->area1 + BUFFER_SIZE,
					     got, 16));
	EXPECT_ERRNO(EINVAL, device_dma_read(self->fd, self->idev_id,
					     self->area0, got, 0));
	EXPECT_ERRNO(EOVERFLOW, device_dma_read(self->fd, self->idev_id,
						-4096ULL, got, 8192));

	/* Reading is not writing: nothing to report */
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	sw_read_check(self->area1, BUFFER_SIZE, PAGE_SIZE, 0);

	/* Unmapped, it is gone for the device too */
	test_ioctl_ioas_unmap(self->area1, BUFFER_SIZE);
	EXPECT_ERRNO(ENOENT, device_dma_read(self->fd, self->idev_id,
					     self->area1, got, 16));
}

struct reporter {
	int fd;
	__u32 idev_id;
	uint64_t area;
	unsigned int *order;
};

static void *report_every_page_once(void *arg)
{
	struct reporter *r = arg;
	unsigned int i;

	for (i = 0; i < AREA_PAGES; i++)
		if (dirty_report(r->fd, r->idev_id,
				 r->area + r->order[i] * PAGE_SIZE, PAGE_SIZE))
			return (void *)1;
	return NULL;
}

/*
 * Reports racing reads: each page of area0 is reported exactly once, in
 * random order, while the test reads and clears as fast as it can.  The
 * reads must partition the pages: none lost, none seen twice.
 */
TEST_F(sw_dirty, concurrent_reports_while_reading)
{
	unsigned int order[AREA_PAGES], seen[AREA_PAGES] = {}, i, reads = 0;
	struct reporter r = {
		.fd = self->fd, .idev_id = self->idev_id,
		.area = self->area0, .order = order,
	};
	pthread_t thread;
	void *ret;
	bool done = false;

	srand(3);
	for (i = 0; i < AREA_PAGES; i++)
		order[i] = i;
	for (i = AREA_PAGES - 1; i > 0; i--) {
		unsigned int j = rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);

	ASSERT_EQ(0, pthread_create(&thread, NULL, report_every_page_once, &r));
	while (!done) {
		done = pthread_tryjoin_np(thread, &ret) == 0;
		ASSERT_EQ(0, sw_read(self->area0, BUFFER_SIZE, PAGE_SIZE, 0));
		for (i = 0; i < AREA_PAGES; i++)
			seen[i] += test_bit(i, (unsigned long *)self->bitmap);
		reads++;
	}
	ASSERT_EQ(NULL, ret);
	for (i = 0; i < AREA_PAGES; i++)
		ASSERT_EQ(1, seen[i]) TH_LOG("page %u", i);
	TH_LOG("%u pages reported once each, taken in %u reads", AREA_PAGES,
	       reads);
}

/*
 * QEMU 10 unmaps without reading the bitmap and may map the same memory at
 * the same IOVA again.  The IOMMU's bits go with the IOPTEs, so an area
 * unmapped while an IOMMU tracks reads dirty as a whole once mapped again
 * (upstream loses it); while tracking is off nothing is kept.
 */
TEST_F(hw_dirty, unmap_keeps_dirty_state)
{
	size_t bits = BUFFER_SIZE / MOCK_IO_PAGE, i;

	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	dirty_every_other(_metadata, self->fd, self->hwpt_id, self->area0,
			  NULL);
	test_ioctl_ioas_unmap(self->area0, BUFFER_SIZE);
	test_ioctl_ioas_map_fixed(buffer, BUFFER_SIZE, self->area0);
	ASSERT_EQ(0, read_dirty(self->area0, BUFFER_SIZE));
	for (i = 0; i < bits; i++)
		ASSERT_EQ(1, test_bit(i, (unsigned long *)self->bitmap));

	test_cmd_set_dirty_tracking(self->hwpt_id, false);
	test_ioctl_ioas_unmap(self->area0, BUFFER_SIZE);
	test_ioctl_ioas_map_fixed(buffer, BUFFER_SIZE, self->area0);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	memset(self->bitmap, 0, self->bitmap_bytes);
	ASSERT_EQ(0, read_dirty(self->area0, BUFFER_SIZE));
	for (i = 0; i < bits; i++)
		ASSERT_EQ(0, test_bit(i, (unsigned long *)self->bitmap));
}

/* The software log is exact across an unmap and a map of the same IOVA */
TEST_F(sw_dirty, unmap_keeps_dirty_state)
{
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	sw_write(self->area0 + 7 * PAGE_SIZE, 3 * PAGE_SIZE);
	sw_write(self->area1 + 300 * PAGE_SIZE, 1);
	test_ioctl_ioas_unmap(self->area0, BUFFER_SIZE);
	test_ioctl_ioas_map_fixed(buffer, BUFFER_SIZE, self->area0);
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	sw_read_check(self->area1, BUFFER_SIZE, PAGE_SIZE, 0);
}

/*
 * A read whose bitmap cannot be written fails (iova_bitmap used to drop
 * such bits silently), and what it took from the log is not lost: the next
 * read has it (and may have more: every writable IOVA, if the log turned
 * conservative), until tracking restarts.
 */
TEST_F(sw_dirty, unwritable_bitmap_loses_nothing)
{
	__u64 *ro = mmap(NULL, self->bitmap_bytes, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	sw_write(self->area0 + 5 * PAGE_SIZE, 1);
	EXPECT_ERRNO(EFAULT, _test_cmd_get_dirty_bitmap(self->fd,
							self->hwpt_id,
							BUFFER_SIZE,
							self->area0,
							PAGE_SIZE, ro, 0));
	ASSERT_EQ(0, sw_read(self->area0, BUFFER_SIZE, PAGE_SIZE, 0));
	ASSERT_TRUE(test_bit(5, (unsigned long *)self->bitmap));

	test_cmd_set_dirty_tracking(self->hwpt_id, false);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	memset(self->written, 0, sizeof(self->written));
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	munmap(ro, self->bitmap_bytes);
}

/*
 * The hardware path: the IOMMU's bits are cleared as they are read, so a
 * bitmap that cannot be written must fail the read rather than succeed
 * with bits missing.
 */
TEST_F(hw_dirty, unwritable_bitmap_fails)
{
	__u64 *ro = mmap(NULL, self->bitmap_bytes, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	dirty_every_other(_metadata, self->fd, self->hwpt_id, self->area0,
			  NULL);
	EXPECT_ERRNO(EFAULT, _test_cmd_get_dirty_bitmap(self->fd,
							self->hwpt_id,
							BUFFER_SIZE,
							self->area0,
							MOCK_IO_PAGE, ro, 0));
	munmap(ro, self->bitmap_bytes);
}

/*
 * ... and it must not have cleared the IOPTE bits it could not report: a
 * failed read never loses a page, so the next read has them all.
 */
TEST_F(hw_dirty, unwritable_bitmap_loses_nothing)
{
	__u64 *ro = mmap(NULL, self->bitmap_bytes, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t bits = BUFFER_SIZE / MOCK_IO_PAGE, i, lost = 0;

	ASSERT_NE(MAP_FAILED, ro);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	dirty_every_other(_metadata, self->fd, self->hwpt_id, self->area0,
			  NULL);
	EXPECT_ERRNO(EFAULT, _test_cmd_get_dirty_bitmap(self->fd,
							self->hwpt_id,
							BUFFER_SIZE,
							self->area0,
							MOCK_IO_PAGE, ro, 0));
	ASSERT_EQ(0, read_dirty(self->area0, BUFFER_SIZE));
	for (i = 0; i < bits; i += 2)
		lost += !test_bit(i, (unsigned long *)self->bitmap);
	EXPECT_EQ(0, lost) TH_LOG("%zu of %zu IOMMU-dirty pages lost", lost,
				  bits / 2);
	munmap(ro, self->bitmap_bytes);
}

/*
 * An emulated write that fails part-way has written the pages before the
 * failure: the user memory behind the IOAS was made read-only after the map
 * (copy_to_user() stops at the first read-only page).  The pages written, and
 * by the spec every page of the attempted range, are in the next read.
 */
TEST_F(sw_dirty, partial_write_logged)
{
	const size_t pages = 16, first_ro = 8;
	__u64 iova = MOCK_APERTURE_START + 4 * BUFFER_SIZE;
	unsigned char data[2 * 4096];
	__u64 bitmap[1] = {};
	unsigned char *mem;
	size_t p, i;

	ASSERT_GE(sizeof(data), 2 * PAGE_SIZE);
	mem = mmap(NULL, pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	memset(mem, 0, pages * PAGE_SIZE);
	sw_hwpt_attach();
	test_ioctl_ioas_map_fixed(mem, pages * PAGE_SIZE, iova);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	ASSERT_EQ(0, mprotect(mem + first_ro * PAGE_SIZE,
			      (pages - first_ro) * PAGE_SIZE, PROT_READ));

	/* Pages first_ro - 1 (writable) and first_ro (read-only) */
	memset(data, 0xab, sizeof(data));
	EXPECT_FAILS(EFAULT, access_rw(self->fd, self->access_id,
				       iova + (first_ro - 1) * PAGE_SIZE, data,
				       2 * PAGE_SIZE, MOCK_ACCESS_RW_WRITE));
	ASSERT_EQ(0xab, mem[(first_ro - 1) * PAGE_SIZE])
		TH_LOG("the write did not reach its writable page: no partial write to test");

	ASSERT_EQ(0, _test_cmd_get_dirty_bitmap(self->fd, self->hwpt_id,
						pages * PAGE_SIZE, iova,
						PAGE_SIZE, bitmap, 0));
	for (p = 0; p < pages; p++) {
		bool written = false;

		for (i = 0; i < PAGE_SIZE; i++)
			written |= mem[p * PAGE_SIZE + i] != 0;
		if (written) {
			EXPECT_TRUE(test_bit(p, (unsigned long *)bitmap))
				TH_LOG("page %zu written by the failed write, not logged",
				       p);
		}
	}
	EXPECT_TRUE(test_bit(first_ro, (unsigned long *)bitmap))
		TH_LOG("page %zu of the attempted range not logged", first_ro);
	EXPECT_EQ(0, bitmap[0] & ~(3ULL << (first_ro - 1)));
	munmap(mem, pages * PAGE_SIZE);
}

/*
 * Two tracking HWPTs of one IOAS (two devices in two groups): each read
 * returns every write since that HWPT's own last read, whichever HWPT was
 * read first.
 */
TEST_F(sw_dirty, two_hwpts_each_see_every_write)
{
	uint32_t stdev_b, idev_b, hwpt_b;
	__u64 *bitmap_b = calloc(1, self->bitmap_bytes);
	bool none[NR_PAGES] = {};

	ASSERT_NE(NULL, bitmap_b);
	sw_hwpt_attach();
	test_cmd_mock_domain_flags(self->ioas_id, MOCK_FLAGS_DEVICE_NO_DIRTY,
				   &stdev_b, NULL, &idev_b);
	ASSERT_EQ(0, dirty_declare(self->fd, idev_b, 1));
	test_cmd_hwpt_alloc(idev_b, self->ioas_id,
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &hwpt_b);
	test_cmd_mock_domain_replace(stdev_b, hwpt_b);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	test_cmd_set_dirty_tracking(hwpt_b, true);

	/* A write read by A, then by B */
	sw_write(self->area0 + 5 * PAGE_SIZE, 10);
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	ASSERT_EQ(0, _test_cmd_get_dirty_bitmap(self->fd, hwpt_b, BUFFER_SIZE,
						self->area0, PAGE_SIZE,
						bitmap_b, 0));
	check_bitmap(_metadata, self->written, bitmap_b, self->area0,
		     self->area0, BUFFER_SIZE, PAGE_SIZE);

	/* A write read by B, then by A; and each read cleared only its own */
	memset(self->written, 0, sizeof(self->written));
	memset(bitmap_b, 0, self->bitmap_bytes);
	sw_write(self->area1 + 77 * PAGE_SIZE, 1);
	ASSERT_EQ(0, _test_cmd_get_dirty_bitmap(self->fd, hwpt_b, BUFFER_SIZE,
						self->area1, PAGE_SIZE,
						bitmap_b, 0));
	check_bitmap(_metadata, self->written, bitmap_b, self->area0,
		     self->area1, BUFFER_SIZE, PAGE_SIZE);
	sw_read_check(self->area1, BUFFER_SIZE, PAGE_SIZE, 0);
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);

	memset(bitmap_b, 0, self->bitmap_bytes);
	ASSERT_EQ(0, _test_cmd_get_dirty_bitmap(self->fd, hwpt_b, BUFFER_SIZE,
						self->area1, PAGE_SIZE,
						bitmap_b, 0));
	check_bitmap(_metadata, none, bitmap_b, self->area0, self->area1,
		     BUFFER_SIZE, PAGE_SIZE);
	free(bitmap_b);
}

/*
 * A nested HWPT's driver reports stage-1 addresses, and the log is keyed by
 * the parent's IOVA: no nesting over a software parent.  The parent itself
 * is refused, so that no nested HWPT can be put over one; should one exist,
 * so is the nested HWPT.
 */
TEST_F(sw_dirty, nest_parent_refused)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	uint32_t parent_id, nested_id, stdev_id, idev_id;
	int rc, err;

	ASSERT_EQ(0, dirty_declare(self->fd, self->idev_id, 1));
	rc = _test_cmd_hwpt_alloc(self->fd, self->idev_id, self->ioas_id, 0,
				  IOMMU_HWPT_ALLOC_NEST_PARENT |
				  IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &parent_id,
				  IOMMU_HWPT_DATA_NONE, NULL, 0);
	err = errno;
	EXPECT_EQ(-1, rc) TH_LOG("a software nest parent was allocated");
	if (!rc) {
		EXPECT_FAILS(EOPNOTSUPP,
			     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
						  parent_id, 0, 0, &nested_id,
						  IOMMU_HWPT_DATA_SELFTEST,
						  &data, sizeof(data)));
	} else {
		EXPECT_EQ(EOPNOTSUPP, err);
	}

	/* Either alone, and nesting on a hardware dirty parent, still go */
	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id,
			    IOMMU_HWPT_ALLOC_NEST_PARENT, &parent_id);
	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id,
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &self->hwpt_id);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, &idev_id);
	test_cmd_hwpt_alloc(idev_id, self->ioas_id,
			    IOMMU_HWPT_ALLOC_NEST_PARENT |
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &parent_id);
	test_cmd_hwpt_alloc_nested(idev_id, parent_id, 0, &nested_id,
				   IOMMU_HWPT_DATA_SELFTEST, &data,
				   sizeof(data));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A driver may report any length, from a hard interrupt: a report of 2^47
 * bytes, all of it past the mappings (the device cannot have written
 * there), returns at once, allocates nothing to speak of (not a 4 KiB chunk
 * per 128 MiB of IOVA, 4 GiB for this one), and does not turn the log
 * conservative: the areas then read exactly what was written.
 */
TEST_F_TIMEOUT(sw_dirty, huge_driver_report, 300)
{
	long long before, after;
	double t;

	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	sw_write(self->area0 + 3 * PAGE_SIZE, 1);
	before = dirty_log_bytes(self->fd, self->ioas_id);
	ASSERT_LE(0, before);

	t = now();
	ASSERT_EQ(0, dirty_report(self->fd, self->idev_id,
				  self->area1 + BUFFER_SIZE, 1ULL << 47));
	t = now() - t;
	after = dirty_log_bytes(self->fd, self->ioas_id);
	TH_LOG("report of 2^47 bytes: %.3f s, log %lld -> %lld bytes", t,
	       before, after);
	EXPECT_GT(1.0, t);
	EXPECT_GE(1LL << 20, after - before);

	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
	sw_read_check(self->area1, BUFFER_SIZE, PAGE_SIZE, 0);
}

/*
 * page_size must be a power of two.  12 KiB was taken as 4 KiB (its lowest
 * bit): the read wrote three times the bitmap the user sized for 12 KiB
 * pages, past its end, and cleared what it wrote there.  Refused now, before
 * anything is written or cleared.  The range is 64 pages of 12 KiB (one u64
 * of bitmap, the rest of the page is the guard), aligned for 12 KiB as the
 * alignment check sees it (iova & 0x2fff == 0); its last 4 KiB page is
 * dirty, bit 191 for a 4 KiB read.
 */
#define ODD_PAGE_SIZE (3 * 4096UL)
#define ODD_RANGE (64 * ODD_PAGE_SIZE)
#define ODD_LAST_PAGE (ODD_RANGE / 4096 - 1)

/* Read at ODD_PAGE_SIZE into a one-u64 bitmap with a guard after it */
static void read_odd_page_size(struct __test_metadata *_metadata, int fd,
			       __u32 hwpt_id, __u64 iova)
{
	size_t page = sysconf(_SC_PAGE_SIZE), i;
	unsigned char *map = mmap(NULL, page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc;

	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0, page);
	rc = _test_cmd_get_dirty_bitmap(fd, hwpt_id, ODD_RANGE, iova,
					ODD_PAGE_SIZE, (__u64 *)map, 0);
	EXPECT_EQ(-1, rc) TH_LOG("page_size %lu accepted", ODD_PAGE_SIZE);
	EXPECT_EQ(EINVAL, rc ? errno : 0);
	for (i = sizeof(__u64); i < page && !map[i]; i++)
		;
	EXPECT_EQ(page, i) TH_LOG("byte %zu past the user's bitmap written",
				  i);
	munmap(map, page);
}

TEST_F(sw_dirty, page_size_not_power_of_two)
{
	__u64 iova = self->area0;

	ASSERT_EQ(0, iova & (ODD_PAGE_SIZE - 1));
	ASSERT_EQ(0, (iova + ODD_RANGE) & (ODD_PAGE_SIZE - 1));
	sw_hwpt_attach();
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	sw_write(iova + ODD_LAST_PAGE * PAGE_SIZE, 1);
	sw_write(iova, 1);

	read_odd_page_size(_metadata, self->fd, self->hwpt_id, iova);
	/* Nothing was taken */
	sw_read_check(self->area0, BUFFER_SIZE, PAGE_SIZE, 0);
}

TEST_F(hw_dirty, page_size_not_power_of_two)
{
	size_t bits = ODD_RANGE / MOCK_IO_PAGE;
	__u64 *pattern = calloc(1, bits / BITS_PER_BYTE);
	unsigned char data = 1;
	uint32_t access_id;
	size_t i;

	ASSERT_NE(NULL, pattern);
	test_cmd_create_access(self->ioas_id, &access_id, 0);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	/* The IOMMU's bit on the last page, the log's on the first */
	set_bit(bits - 1, (unsigned long *)pattern);
	test_cmd_mock_domain_set_dirty(self->fd, self->hwpt_id, ODD_RANGE,
				       self->area0, MOCK_IO_PAGE, pattern,
				       NULL);
	ASSERT_EQ(0, access_rw(self->fd, access_id, self->area0, &data, 1,
			       MOCK_ACCESS_RW_WRITE));

	read_odd_page_size(_metadata, self->fd, self->hwpt_id, self->area0);
	/* Nothing was taken */
	memset(self->bitmap, 0, self->bitmap_bytes);
	ASSERT_EQ(0, read_dirty(self->area0, BUFFER_SIZE));
	for (i = 0; i < BUFFER_SIZE / MOCK_IO_PAGE; i++) {
		EXPECT_EQ(i == bits - 1 || i < PAGE_SIZE / MOCK_IO_PAGE,
			  test_bit(i, (unsigned long *)self->bitmap))
			TH_LOG("bit %zu (iova 0x%llx)", i,
			       (unsigned long long)(self->area0 +
						    i * MOCK_IO_PAGE));
	}
	close(access_id);
	free(pattern);
}

/*
 * Fault injection over the software path's allocations (the log at attach
 * and at the first start, log chunks, write pins, the read's bitmap): run
 * the whole sequence with its Nth fault point failing, for every N, and
 * check that every write and pin that succeeded while tracking reads dirty
 * afterwards (a failed allocation may only turn the log conservative), that
 * memory holds what was written, and that nothing stays pinned
 * (teardown_iommufd() checks the page references).
 */
struct nth_run {
	__u32 ioas_id, stdev_id, idev_id, hwpt_id, access_id, pages_id;
	bool tracking, pinned, read;
	bool wrote[3];
};

static const unsigned int nth_pages[3] = { 0, 7, 300 };
#define NTH_PIN_PAGE 200
#define NTH_PIN_PAGES 4

/* The sequence under test; what succeeded goes to @run */
static void nth_sequence(int fd, struct nth_run *run, __u64 *bitmap)
{
	unsigned char data[16];
	int i;

	if (dirty_declare(fd, run->idev_id, true) ||
	    _test_cmd_hwpt_alloc(fd, run->idev_id, run->ioas_id, 0,
				 IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
				 &run->hwpt_id, IOMMU_HWPT_DATA_NONE, NULL, 0) ||
	    _test_cmd_mock_domain_replace(fd, run->stdev_id, run->hwpt_id,
					  NULL))
		return;
	run->tracking = !set_tracking(fd, run->hwpt_id, true);

	for (i = 0; i < 3; i++) {
		memset(data, 0x10 + i, sizeof(data));
		run->wrote[i] = !access_rw(fd, run->access_id,
					   MOCK_APERTURE_START +
					   nth_pages[i] * PAGE_SIZE + 8,
					   data, sizeof(data),
					   MOCK_ACCESS_RW_WRITE);
	}
	run->pinned = !access_pin(fd, run->access_id,
				  MOCK_APERTURE_START + NTH_PIN_PAGE * PAGE_SIZE,
				  NTH_PIN_PAGES * PAGE_SIZE,
				  MOCK_FLAGS_ACCESS_WRITE, &run->pages_id);
	run->read = !_test_cmd_get_dirty_bitmap(fd, run->hwpt_id, BUFFER_SIZE,
						MOCK_APERTURE_START, PAGE_SIZE,
						bitmap, 0);
	if (run->pinned &&
	    _test_cmd_destroy_access_pages(fd, run->access_id, run->pages_id))
		run->pinned = false;
}

TEST_F_TIMEOUT(fail_nth, software_hwpt_path, 900)
{
	size_t words = AREA_PAGES / 64;
	unsigned int nth, injected = 0;
	__u64 first[AREA_PAGES / 64], second[AREA_PAGES / 64];
	int nth_fd = self->nth_fd;
	/* Where the trackers alive are counted, for the leak check */
	int probe_fd = open("/dev/iommu", O_RDWR);
	__u32 probe_ioas;

	ASSERT_LE(0, probe_fd);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(probe_fd, &probe_ioas));

	for (nth = 1;; nth++) {
		struct nth_run run = {};
		__u64 iova = MOCK_APERTURE_START;
		bool hit;
		int fd, i;

		memset(buffer, 0, BUFFER_SIZE);
		memset(first, 0, sizeof(first));
		memset(second, 0, sizeof(second));
		fd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &run.ioas_id));
		ASSERT_EQ(0, _test_cmd_mock_domain_flags(fd, run.ioas_id,
							 MOCK_FLAGS_DEVICE_NO_DIRTY,
							 &run.stdev_id, NULL,
							 &run.idev_id));
		ASSERT_EQ(0, _test_ioctl_ioas_map(fd, run.ioas_id, buffer,
						  BUFFER_SIZE, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE |
						  IOMMU_IOAS_MAP_WRITEABLE));
		ASSERT_EQ(0, _test_cmd_create_access(fd, run.ioas_id,
						     &run.access_id,
						     MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES));

		ASSERT_EQ(0, fail_nth_arm(nth_fd, nth));
		nth_sequence(fd, &run, first);
		hit = fail_nth_disarm(nth_fd);

		if (run.tracking) {
			/* Nothing that succeeded is lost */
			ASSERT_EQ(0, _test_cmd_get_dirty_bitmap(fd, run.hwpt_id,
								BUFFER_SIZE,
								MOCK_APERTURE_START,
								PAGE_SIZE,
								second, 0));
			for (i = 0; i < (int)words; i++)
				second[i] |= run.read ? first[i] : 0;
			for (i = 0; i < 3; i++)
				if (run.wrote[i])
					ASSERT_TRUE(test_bit(nth_pages[i],
							     (unsigned long *)second))
						TH_LOG("nth %u: write %d lost",
						       nth, i);
			for (i = 0; i < NTH_PIN_PAGES && run.pinned; i++)
				ASSERT_TRUE(test_bit(NTH_PIN_PAGE + i,
						     (unsigned long *)second))
					TH_LOG("nth %u: pin lost", nth);
		}
		for (i = 0; i < 3; i++)
			if (run.wrote[i])
				ASSERT_EQ(0x10 + i,
					  ((unsigned char *)buffer)
					  [nth_pages[i] * PAGE_SIZE + 8]);
		if (!hit) {
			/* The run without a failure: everything, exactly */
			int bits = 0;

			ASSERT_TRUE(run.tracking && run.pinned && run.read);
			for (i = 0; i < (int)words; i++)
				bits += __builtin_popcountll(second[i]);
			ASSERT_EQ(3 + NTH_PIN_PAGES, bits);
		}
		close(run.access_id);
		teardown_iommufd(fd, _metadata);
		/* Whatever failed, every view was freed with its HWPT */
		ASSERT_EQ(0, trackers_settle(probe_fd, probe_ioas, 0))
			TH_LOG("nth %u: a view leaked", nth);
		if (!hit)
			break;
		injected++;
		ASSERT_GT(5000, nth);
	}
	TH_LOG("%u runs with a failure injected, then one without", injected);
	close(probe_fd);
}

/* Wait up to 5 s for lowdown's objects alive to be back to @want */
static int objects_settle(int fd, __u32 ioas_id, const __u32 want[4])
{
	__u32 live[4];
	int i;

	for (i = 0; i < 100; i++) {
		if (dirty_objects_live(fd, ioas_id, live))
			return -1;
		if (!memcmp(live, want, sizeof(live)))
			return 0;
		usleep(50000);
	}
	return -1;
}

/*
 * Write pins taken before any tracker are unrecorded; the first tracker to
 * start records them (an allocation per pin), and one that cannot must
 * report every writable IOVA instead.  Start tracking with the Nth fault
 * point failing, for every N, over a standing write pin: a start that
 * fails does so with ENOMEM (or ENOENT, a lookup's fault point), one that
 * succeeds reports the pinned pages on two reads in a row, and the run
 * without a failure reports exactly them.  Some failure must be absorbed
 * by a start that succeeds (the pin record's), and whatever failed, no
 * tracker, log, chunk or pin record outlives the fd.
 */
TEST_F_TIMEOUT(fail_nth, standing_pin_at_start, 900)
{
	unsigned int nth, injected = 0, failed = 0;
	int probe_fd = open("/dev/iommu", O_RDWR);
	__u32 probe_ioas, live0[4];

	ASSERT_LE(0, probe_fd);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(probe_fd, &probe_ioas));
	ASSERT_EQ(0, dirty_objects_live(probe_fd, probe_ioas, live0));

	for (nth = 1;; nth++) {
		__u32 ioas_id, stdev_id, idev_id, hwpt_id, access_id, pages_id;
		__u64 iova = MOCK_APERTURE_START, map[AREA_PAGES / 64];
		int fd, rc, err, i, round, bits;
		bool hit;

		fd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
		ASSERT_EQ(0, _test_cmd_mock_domain_flags(fd, ioas_id,
							 MOCK_FLAGS_DEVICE_NO_DIRTY,
							 &stdev_id, NULL,
							 &idev_id));
		ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas_id, buffer,
						  BUFFER_SIZE, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE |
						  IOMMU_IOAS_MAP_WRITEABLE));
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas_id, &access_id,
						     MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES));
		ASSERT_EQ(0, access_pin(fd, access_id,
					MOCK_APERTURE_START +
					NTH_PIN_PAGE * PAGE_SIZE,
					NTH_PIN_PAGES * PAGE_SIZE,
					MOCK_FLAGS_ACCESS_WRITE, &pages_id));
		ASSERT_EQ(0, dirty_declare(fd, idev_id, true));
		ASSERT_EQ(0, _test_cmd_hwpt_alloc(fd, idev_id, ioas_id, 0,
						  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
						  &hwpt_id, IOMMU_HWPT_DATA_NONE,
						  NULL, 0));
		ASSERT_EQ(0, _test_cmd_mock_domain_replace(fd, stdev_id,
							   hwpt_id, NULL));

		ASSERT_EQ(0, fail_nth_arm(self->nth_fd, nth));
		rc = set_tracking(fd, hwpt_id, true);
		err = errno;
		hit = fail_nth_disarm(self->nth_fd);

		if (rc) {
			EXPECT_TRUE(hit);
			EXPECT_TRUE(err == ENOMEM || err == ENOENT)
				TH_LOG("nth %u: start failed with %s", nth,
				       strerror(err));
			failed++;
		}
		/* Two clearing reads: the pin stands through both */
		for (round = 0; !rc && round < 2; round++) {
			memset(map, 0, sizeof(map));
			ASSERT_EQ(0, read_dirty_bitmap(fd, hwpt_id,
						       MOCK_APERTURE_START,
						       BUFFER_SIZE, PAGE_SIZE,
						       map, 0));
			for (i = 0; i < NTH_PIN_PAGES; i++) {
				ASSERT_TRUE(test_bit(NTH_PIN_PAGE + i,
						     (unsigned long *)map))
					TH_LOG("nth %u, read %d: pinned page %d lost",
					       nth, round, NTH_PIN_PAGE + i);
			}
			for (i = 0, bits = 0; !hit && i < AREA_PAGES / 64; i++)
				bits += __builtin_popcountll(map[i]);
			/* Without a failure: the pinned pages, exactly */
			if (!hit)
				ASSERT_EQ(NTH_PIN_PAGES, bits);
		}
		ASSERT_EQ(0, _test_cmd_destroy_access_pages(fd, access_id,
							    pages_id));
		close(access_id);
		teardown_iommufd(fd, _metadata);
		ASSERT_EQ(0, objects_settle(probe_fd, probe_ioas, live0))
			TH_LOG("nth %u: an object outlived the fd", nth);
		if (!hit)
			break;
		injected++;
		ASSERT_GT(5000, nth);
	}
	TH_LOG("%u runs with a failure injected (%u starts failed), then one without",
	       injected, failed);
	/* The pin record's failure was absorbed: pins_lost ran */
	ASSERT_LT(failed, injected);
	close(probe_fd);
}

/*
 * The same over an access: a write pin standing when its DMA logging
 * starts, with the Nth fault point of the START failing, for every N, and
 * then the access moves to another IOAS, which unpins it (the mock's unmap
 * callback).  The unpin of a write pin is a write: the access's REPORT on
 * the new IOAS must hold the pinned pages, also when the START could not
 * record the pin (the old IOAS's log lost its pins, the new one did not).
 */
TEST_F_TIMEOUT(fail_nth, lost_pins_follow_a_move, 900)
{
	unsigned int nth, injected = 0, failed = 0;
	int probe_fd = open("/dev/iommu", O_RDWR);
	__u32 probe_ioas, live0[4];

	ASSERT_LE(0, probe_fd);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(probe_fd, &probe_ioas));
	ASSERT_EQ(0, dirty_objects_live(probe_fd, probe_ioas, live0));

	for (nth = 1;; nth++) {
		__u32 ioas[2], access_id, pages_id;
		__u64 map[AREA_PAGES / 64];
		int fd, rc, err, i;
		bool hit;

		fd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, fd);
		for (i = 0; i < 2; i++) {
			__u64 iova = MOCK_APERTURE_START;

			ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas[i]));
			ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas[i], buffer,
							  BUFFER_SIZE, &iova,
							  IOMMU_IOAS_MAP_FIXED_IOVA |
							  IOMMU_IOAS_MAP_READABLE |
							  IOMMU_IOAS_MAP_WRITEABLE));
		}
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas[0], &access_id,
						     MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES));
		ASSERT_EQ(0, access_pin(fd, access_id,
					MOCK_APERTURE_START +
					NTH_PIN_PAGE * PAGE_SIZE,
					NTH_PIN_PAGES * PAGE_SIZE,
					MOCK_FLAGS_ACCESS_WRITE, &pages_id));

		ASSERT_EQ(0, fail_nth_arm(self->nth_fd, nth));
		rc = access_dirty_set(fd, access_id, true);
		err = errno;
		hit = fail_nth_disarm(self->nth_fd);

		if (rc) {
			EXPECT_TRUE(hit);
			EXPECT_TRUE(err == ENOMEM || err == ENOENT)
				TH_LOG("nth %u: START failed with %s", nth,
				       strerror(err));
			failed++;
		} else {
			ASSERT_EQ(0, _test_cmd_access_replace_ioas(fd,
								   access_id,
								   ioas[1]));
			memset(map, 0, sizeof(map));
			ASSERT_EQ(0, access_dirty_read(fd, access_id,
						       MOCK_APERTURE_START,
						       BUFFER_SIZE, PAGE_SIZE,
						       map));
			for (i = 0; i < NTH_PIN_PAGES; i++) {
				ASSERT_TRUE(test_bit(NTH_PIN_PAGE + i,
						     (unsigned long *)map))
					TH_LOG("nth %u: page %d, unpinned by the move, lost",
					       nth, NTH_PIN_PAGE + i);
			}
		}
		if (rc)
			ASSERT_EQ(0, _test_cmd_destroy_access_pages(fd,
								    access_id,
								    pages_id));
		close(access_id);
		teardown_iommufd(fd, _metadata);
		ASSERT_EQ(0, objects_settle(probe_fd, probe_ioas, live0))
			TH_LOG("nth %u: an object outlived the fd", nth);
		if (!hit)
			break;
		injected++;
		ASSERT_GT(5000, nth);
	}
	TH_LOG("%u runs with a failure injected (%u starts failed), then one without",
	       injected, failed);
	/* The pin record's failure was absorbed: pins_lost ran */
	ASSERT_LT(failed, injected);
	close(probe_fd);
}

/*
 * A read of a hardware HWPT that also has software bits takes the IOMMU's
 * bits (clearing its IOPTEs) and then the log's.  Run it with its Nth fault
 * point failing, for every N: a read that fails must fail with the errno of
 * the failure (-ENOMEM for an allocation, not -EFAULT) and must lose no page
 * of either half: the next read, without a failure, reports every page the
 * IOMMU and the emulated device dirtied.  The bitmap is fresh memory each
 * time, so that pinning it faults it in and allocates too.
 */
static const unsigned int hwsw_hw_pages[] = { 3, 100, 400 };
static const unsigned int hwsw_sw_pages[] = { 7, 300 };

struct hwsw_run {
	int fd;
	__u32 hwpt_id, access_id;
};

static void hwsw_dirty(struct __test_metadata *_metadata, struct hwsw_run *run)
{
	__u64 *pattern = calloc(1, BUFFER_SIZE / MOCK_IO_PAGE / BITS_PER_BYTE);
	unsigned char data = 0x5a;
	unsigned int i;

	ASSERT_NE(NULL, pattern);
	for (i = 0; i < ARRAY_SIZE(hwsw_hw_pages); i++) {
		set_bit(2 * hwsw_hw_pages[i], (unsigned long *)pattern);
		set_bit(2 * hwsw_hw_pages[i] + 1, (unsigned long *)pattern);
	}
	ASSERT_EQ(0, _test_cmd_mock_domain_set_dirty(run->fd, run->hwpt_id,
						     BUFFER_SIZE,
						     MOCK_APERTURE_START,
						     MOCK_IO_PAGE, pattern,
						     NULL));
	free(pattern);
	for (i = 0; i < ARRAY_SIZE(hwsw_sw_pages); i++)
		ASSERT_EQ(0, access_rw(run->fd, run->access_id,
				       MOCK_APERTURE_START +
				       hwsw_sw_pages[i] * PAGE_SIZE + 9,
				       &data, 1, MOCK_ACCESS_RW_WRITE));
}

/* The pages of hwsw_dirty() missing from @map; each one is logged */
static unsigned int hwsw_missing(struct __test_metadata *_metadata,
				 unsigned int nth, const __u64 *map)
{
	unsigned int i, missing = 0;

	for (i = 0; i < ARRAY_SIZE(hwsw_hw_pages); i++) {
		if (test_bit(hwsw_hw_pages[i], (unsigned long *)map))
			continue;
		TH_LOG("nth %u: IOMMU-dirty page %u lost", nth,
		       hwsw_hw_pages[i]);
		missing++;
	}
	for (i = 0; i < ARRAY_SIZE(hwsw_sw_pages); i++) {
		if (test_bit(hwsw_sw_pages[i], (unsigned long *)map))
			continue;
		TH_LOG("nth %u: emulated write to page %u lost", nth,
		       hwsw_sw_pages[i]);
		missing++;
	}
	return missing;
}

TEST_F_TIMEOUT(fail_nth, hardware_read_loses_nothing, 900)
{
	unsigned int nth, injected = 0, lost = 0, bad_errno = 0;
	__u64 iova = MOCK_APERTURE_START;
	struct hwsw_run run = {};
	size_t map_bytes = PAGE_SIZE;
	__u32 ioas_id, stdev_id, idev_id;

	run.fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, run.fd);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(run.fd, &ioas_id));
	ASSERT_EQ(0, _test_cmd_mock_domain(run.fd, ioas_id, &stdev_id, NULL,
					   &idev_id));
	ASSERT_EQ(0, _test_cmd_hwpt_alloc(run.fd, idev_id, ioas_id, 0,
					  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &run.hwpt_id, IOMMU_HWPT_DATA_NONE,
					  NULL, 0));
	ASSERT_EQ(0, _test_cmd_mock_domain_replace(run.fd, stdev_id,
						   run.hwpt_id, NULL));
	ASSERT_EQ(0, _test_ioctl_ioas_map(run.fd, ioas_id, buffer, BUFFER_SIZE,
					  &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
					  IOMMU_IOAS_MAP_READABLE |
					  IOMMU_IOAS_MAP_WRITEABLE));
	ASSERT_EQ(0, _test_cmd_create_access(run.fd, ioas_id, &run.access_id,
					     0));
	ASSERT_EQ(0, set_tracking(run.fd, run.hwpt_id, true));

	for (nth = 1;; nth++) {
		__u64 *map = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int rc, err, bits = 0, i;
		bool hit;

		ASSERT_NE(MAP_FAILED, map);
		hwsw_dirty(_metadata, &run);

		ASSERT_EQ(0, fail_nth_arm(self->nth_fd, nth));
		rc = read_dirty_bitmap(run.fd, run.hwpt_id, MOCK_APERTURE_START,
				       BUFFER_SIZE, PAGE_SIZE, map, 0);
		err = errno;
		hit = fail_nth_disarm(self->nth_fd);

		if (rc) {
			EXPECT_TRUE(hit) TH_LOG("nth %u: read failed (%s) with no failure injected",
						nth, strerror(err));
			/*
			 * Under CONFIG_IOMMUFD_TEST the object lookup is a
			 * fault point of its own, failing with -ENOENT before
			 * the read starts; every other one is an allocation.
			 */
			if (hit && err != ENOMEM && err != ENOENT) {
				TH_LOG("nth %u: %s, not ENOMEM, from a failed allocation",
				       nth, strerror(err));
				bad_errno++;
			}
			/* What the failed read wrote is not to be trusted */
			munmap(map, map_bytes);
			map = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			ASSERT_NE(MAP_FAILED, map);
			ASSERT_EQ(0, read_dirty_bitmap(run.fd, run.hwpt_id,
						       MOCK_APERTURE_START,
						       BUFFER_SIZE, PAGE_SIZE,
						       map, 0));
		}
		lost += hwsw_missing(_metadata, nth, map);
		for (i = 0; i < AREA_PAGES / 64; i++)
			bits += __builtin_popcountll(map[i]);
		munmap(map, map_bytes);
		if (!hit) {
			/* The run without a failure: everything, exactly */
			EXPECT_EQ(0, rc);
			EXPECT_EQ(ARRAY_SIZE(hwsw_hw_pages) +
				  ARRAY_SIZE(hwsw_sw_pages), bits);
			break;
		}
		injected++;
		ASSERT_GT(5000, nth);
	}
	TH_LOG("%u runs with a failure injected, then one without", injected);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, bad_errno);
	close(run.access_id);
	teardown_iommufd(run.fd, _metadata);
}

TEST_HARNESS_MAIN
