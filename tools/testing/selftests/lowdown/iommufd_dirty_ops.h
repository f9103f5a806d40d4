/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ioctls of software dirty tracking that lowdown's dirty tests and
 * benchmark drive through the iommufd selftest mock: each returns the
 * ioctl's result, -1 with errno on failure.
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

/* The memory the IOAS's dirty log takes, in bytes, or -1 */
static long long dirty_log_bytes(int fd, __u32 ioas_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DIRTY_LOG_BYTES,
		.id = ioas_id,
	};

	if (ioctl(fd, IOMMU_TEST_CMD, &cmd))
		return -1;
	return cmd.dirty_log_bytes.out_bytes;
}

static int set_conservative(bool on)
{
	int fd = open("/sys/module/iommufd/parameters/dirty_conservative",
		      O_WRONLY);
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
