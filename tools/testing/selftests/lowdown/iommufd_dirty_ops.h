/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ioctls of software dirty tracking that lowdown's dirty tests and
 * benchmark drive through the iommufd selftest mock: each returns the
 * ioctl's result, -1 with errno on failure.  They take the iommufd fd, so
 * that a test of another subsystem (vfio_dma_log.c) can put mock devices and
 * HWPTs on its own IOAS; only access_pin() needs iommufd_utils.h.
 */
#ifndef __LOWDOWN_IOMMUFD_DIRTY_OPS_H
#define __LOWDOWN_IOMMUFD_DIRTY_OPS_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

static int access_rw(int fd, __u32 access_id, __u64 iova, void *data,
		     size_t length, unsigned int flags)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_RW,
		.id = access_id,
		.access_rw = {
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)data,
			.flags = flags,
		},
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* What a driver's iommufd_device_dirty_report() call does, from a hard IRQ */
static int dirty_report(int fd, __u32 idev_id, __u64 iova, __u64 length)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DIRTY_REPORT,
		.id = idev_id,
		.dirty_report = { .iova = iova, .length = length },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* iommufd_device_dma_read() through the mock device @idev_id */
static int device_dma_read(int fd, __u32 idev_id, __u64 iova, void *buf,
			   __u64 length)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DEVICE_DMA_READ,
		.id = idev_id,
		.device_dma_read = {
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)buf,
		},
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* IOMMU_HWPT_SET_DIRTY_TRACKING, failing as -1 with errno */
static int set_tracking(int fd, __u32 hwpt_id, bool on)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
		.hwpt_id = hwpt_id,
	};

	return ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
}

static int dirty_declare(int fd, __u32 idev_id, __u32 reports_all_dma)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DIRTY_DECLARE,
		.id = idev_id,
		.dirty_declare = { .reports_all_dma = reports_all_dma },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/*
 * IOMMU_TEST_OP_DIRTY_LOG_BYTES: the memory the IOAS's dirty log takes, in
 * bytes, and, when @live is not NULL, lowdown's objects alive in all of
 * iommufd: trackers, logs, chunks and pin records, in that order; or -1
 */
static long long dirty_log_query(int fd, __u32 ioas_id, __u32 *live)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DIRTY_LOG_BYTES,
		.id = ioas_id,
	};

	if (ioctl(fd, IOMMU_TEST_CMD, &cmd))
		return -1;
	if (live) {
		live[0] = cmd.dirty_log_bytes.out_trackers;
		live[1] = cmd.dirty_log_bytes.out_logs;
		live[2] = cmd.dirty_log_bytes.out_chunks;
		live[3] = cmd.dirty_log_bytes.out_pins;
	}
	return cmd.dirty_log_bytes.out_bytes;
}

/* The memory the IOAS's dirty log takes, in bytes, or -1 */
static long long dirty_log_bytes(int fd, __u32 ioas_id)
{
	return dirty_log_query(fd, ioas_id, NULL);
}

/* Trackers alive in all of iommufd (views not yet freed), or -1 */
static int dirty_trackers_live(int fd, __u32 ioas_id)
{
	__u32 live[4];

	return dirty_log_query(fd, ioas_id, live) < 0 ? -1 : (int)live[0];
}

/* Lowdown's objects alive in all of iommufd, as dirty_log_query(); 0 or -1 */
static int dirty_objects_live(int fd, __u32 ioas_id, __u32 live[4])
{
	return dirty_log_query(fd, ioas_id, live) < 0 ? -1 : 0;
}

/* IOMMU_TEST_OP_ACCESS_DIRTY START or STOP of a mock access's logging */
static int access_dirty_set(int fd, __u32 access_fd, bool on)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_DIRTY,
		.id = access_fd,
		.access_dirty.op = on ? MOCK_ACCESS_DIRTY_START :
					MOCK_ACCESS_DIRTY_STOP,
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* IOMMU_TEST_OP_ACCESS_DIRTY READ: OR the access's dirty pages into @bitmap */
static int access_dirty_read(int fd, __u32 access_fd, __u64 iova,
			     __u64 length, __u64 page_size, __u64 *bitmap)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_DIRTY,
		.id = access_fd,
		.access_dirty = {
			.op = MOCK_ACCESS_DIRTY_READ,
			.iova = iova,
			.length = length,
			.page_size = page_size,
			.uptr = (uintptr_t)bitmap,
		},
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#define DIRTY_CONSERVATIVE "/sys/module/iommufd/parameters/dirty_conservative"

/* The dirty_conservative parameter: 0, 1, or -1 if it cannot be read */
static int get_conservative(void)
{
	int fd = open(DIRTY_CONSERVATIVE, O_RDONLY);
	char c = 0;

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' || c == '1' ? 1 : c == 'N' || c == '0' ? 0 : -1;
}

static int set_conservative(bool on)
{
	int fd = open(DIRTY_CONSERVATIVE, O_WRONLY);
	int rc;

	if (fd < 0)
		return -1;
	rc = write(fd, on ? "1" : "0", 1) == 1 ? 0 : -1;
	close(fd);
	return rc;
}

static __u32 hw_caps(int fd, __u32 idev_id)
{
	struct iommu_hw_info info = { .size = sizeof(info), .dev_id = idev_id };

	if (ioctl(fd, IOMMU_GET_HW_INFO, &info))
		return ~0U;
	return info.out_capabilities;
}

/* A mock device on @pt_id (IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS), on any iommufd */
static int mock_device_add(int fd, __u32 pt_id, __u32 dev_flags,
			   __u32 *stdev_id, __u32 *idev_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = pt_id,
		.mock_domain_flags = { .dev_flags = dev_flags },
	};
	int rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);

	if (!rc) {
		*stdev_id = cmd.mock_domain_flags.out_stdev_id;
		*idev_id = cmd.mock_domain_flags.out_idev_id;
	}
	return rc;
}

/* Move the mock device @stdev_id's group to @pt_id */
static int mock_device_replace(int fd, __u32 stdev_id, __u32 pt_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = stdev_id,
		.mock_domain_replace = { .pt_id = pt_id },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* IOMMU_HWPT_ALLOC of a paging HWPT, no driver data */
static int hwpt_alloc(int fd, __u32 idev_id, __u32 pt_id, __u32 flags,
		      __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = idev_id,
		.pt_id = pt_id,
		.data_type = IOMMU_HWPT_DATA_NONE,
	};
	int rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);

	if (!rc)
		*hwpt_id = cmd.out_hwpt_id;
	return rc;
}

/* IOMMU_HWPT_GET_DIRTY_BITMAP of [iova, iova + length) into @bitmap */
static int read_dirty_bitmap(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
			     __u64 page_size, void *bitmap, __u32 flags)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.flags = flags,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = (uintptr_t)bitmap,
	};

	return ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd);
}

#ifdef __SELFTEST_IOMMUFD_UTILS
/*
 * Pin [iova, iova + length) of an area that maps the start of buffer (the
 * one of iommufd_utils.h, included before this file)
 */
static int access_pin(int fd, __u32 access_id, __u64 iova, size_t length,
		      unsigned int flags, __u32 *pages_id)
{
	char *uptr = (char *)buffer + (iova - MOCK_APERTURE_START) % BUFFER_SIZE;
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.id = access_id,
		.access_pages = {
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)uptr,
			.flags = flags,
		},
	};
	int rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);

	*pages_id = cmd.access_pages.out_access_pages_id;
	return rc;
}
#endif

#endif
