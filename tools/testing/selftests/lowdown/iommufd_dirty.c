// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking through the iommufd uAPI, driven through the selftest mock
 * (CONFIG_IOMMUFD_TEST): IOMMU_HWPT_SET_DIRTY_TRACKING and
 * IOMMU_HWPT_GET_DIRTY_BITMAP on a mock HWPT allocated with
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING, whose "hardware" dirty bits the test sets
 * with IOMMU_TEST_OP_DIRTY.
 *
 * The helpers are the upstream iommu selftests' own (iommufd_utils.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../iommu/iommufd_utils.h"

/* The mock IOMMU's IO page: dirty bits have this granularity */
#define MOCK_IO_PAGE (PAGE_SIZE / 2)
/* Pages in each of the two areas the fixture maps */
#define AREA_PAGES 16

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

TEST_HARNESS_MAIN
