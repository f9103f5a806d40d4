// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd_churn: leave iommufd with as much software dirty tracking state to
 * free as possible, then exit without cleaning up.
 *
 *   iommufd_churn [IOAS_COUNT [--unload]]
 *
 * Each IOAS gets a mapping, a mock device without IOMMU dirty bits whose
 * driver reports all DMA, a tracking software HWPT, a driver report, a
 * mock access with a write pin and DMA logging on; and a second IOAS with
 * 16 mappings 128 MiB apart and a logging access, whose view has a chunk
 * for each.  Closing the fds tears
 * all of it down; the logs and views are freed an RCU grace period later,
 * from a workqueue.  With --unload, the fds are closed and iommufd is
 * unloaded at once (delete_module(2), nothing in between), so that the
 * module's exit must wait for those frees.  Exit status 0 when everything
 * was set up (and unloaded); the first failing step is printed otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

#define MAP_BYTES 0x200000UL
/* The mock IOMMU's aperture starts at 16 MiB */
#define MAP_IOVA 0x1000000UL

static int iommufd;
/* The access fds, closed before the iommufd fd */
#define NR_ACCESS_FDS 4096
static int access_fds[NR_ACCESS_FDS];
static int naccess_fds;

static void check(int rc, const char *what, int i)
{
	if (rc) {
		fprintf(stderr, "iommufd_churn: IOAS %d: %s: %s\n", i, what,
			strerror(errno));
		exit(1);
	}
}

static int test_cmd(struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(iommufd, IOMMU_TEST_CMD, cmd);
}

/*
 * An IOAS with @nmaps mappings of @buf, one per 128 MiB (the span of one
 * chunk of a view), and a mock access logging on it: its view has a chunk
 * per mapping, all freed after it.  No domain, so no aperture.
 */
static void churn_wide(int i, void *buf, int nmaps)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.user_va = (uintptr_t)buf,
		.length = MAP_BYTES,
	};
	struct iommu_test_cmd cmd;
	int m;

	check(ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), "IOAS_ALLOC (wide)", i);
	map.ioas_id = ioas.out_ioas_id;
	for (m = 0; m < nmaps; m++) {
		map.iova = MAP_IOVA + ((unsigned long)m << 27);
		check(ioctl(iommufd, IOMMU_IOAS_MAP, &map), "IOAS_MAP (wide)", i);
	}
	cmd = (struct iommu_test_cmd){
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas.out_ioas_id,
		.create_access.flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
	};
	check(test_cmd(&cmd), "CREATE_ACCESS (wide)", i);
	if (naccess_fds < NR_ACCESS_FDS)
		access_fds[naccess_fds++] = cmd.create_access.out_access_fd;
	cmd = (struct iommu_test_cmd){
		.op = IOMMU_TEST_OP_ACCESS_DIRTY,
		.id = access_fds[naccess_fds - 1],
		.access_dirty.op = MOCK_ACCESS_DIRTY_START,
	};
	check(test_cmd(&cmd), "ACCESS_DIRTY START (wide)", i);
}

static void churn_one(int i, void *buf)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.user_va = (uintptr_t)buf,
		.length = MAP_BYTES,
		.iova = MAP_IOVA,
	};
	struct iommu_hwpt_alloc hwpt = {
		.size = sizeof(hwpt),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
	};
	struct iommu_hwpt_set_dirty_tracking track = {
		.size = sizeof(track),
		.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
	};
	struct iommu_test_cmd dev = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.mock_domain_flags.dev_flags = MOCK_FLAGS_DEVICE_NO_DIRTY,
	};
	struct iommu_test_cmd cmd;
	__u32 access_fd;

	check(ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), "IOAS_ALLOC", i);
	map.ioas_id = ioas.out_ioas_id;
	check(ioctl(iommufd, IOMMU_IOAS_MAP, &map), "IOAS_MAP", i);

	dev.id = ioas.out_ioas_id;
	check(test_cmd(&dev), "MOCK_DOMAIN_FLAGS", i);
	cmd = (struct iommu_test_cmd){
		.op = IOMMU_TEST_OP_DIRTY_DECLARE,
		.id = dev.mock_domain_flags.out_idev_id,
		.dirty_declare.reports_all_dma = 1,
	};
	check(test_cmd(&cmd), "DIRTY_DECLARE", i);
	hwpt.dev_id = dev.mock_domain_flags.out_idev_id;
	hwpt.pt_id = ioas.out_ioas_id;
	check(ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt), "HWPT_ALLOC", i);
	cmd = (struct iommu_test_cmd){
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = dev.mock_domain_flags.out_stdev_id,
		.mock_domain_replace.pt_id = hwpt.out_hwpt_id,
	};
	check(test_cmd(&cmd), "MOCK_DOMAIN_REPLACE", i);
	track.hwpt_id = hwpt.out_hwpt_id;
	check(ioctl(iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING, &track),
	      "SET_DIRTY_TRACKING", i);
	cmd = (struct iommu_test_cmd){
		.op = IOMMU_TEST_OP_DIRTY_REPORT,
		.id = dev.mock_domain_flags.out_idev_id,
		.dirty_report = { .iova = MAP_IOVA, .length = 4096 },
	};
	check(test_cmd(&cmd), "DIRTY_REPORT", i);

	cmd = (struct iommu_test_cmd){
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas.out_ioas_id,
		.create_access.flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
	};
	check(test_cmd(&cmd), "CREATE_ACCESS", i);
	access_fd = cmd.create_access.out_access_fd;
	if (naccess_fds < NR_ACCESS_FDS)
		access_fds[naccess_fds++] = access_fd;
	cmd = (struct iommu_test_cmd){
		.op = IOMMU_TEST_OP_ACCESS_DIRTY,
		.id = access_fd,
		.access_dirty.op = MOCK_ACCESS_DIRTY_START,
	};
	check(test_cmd(&cmd), "ACCESS_DIRTY START", i);
	cmd = (struct iommu_test_cmd){
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.id = access_fd,
		.access_pages = {
			.flags = MOCK_FLAGS_ACCESS_WRITE,
			.iova = MAP_IOVA,
			.length = 4096,
			.uptr = (uintptr_t)buf,
		},
	};
	check(test_cmd(&cmd), "ACCESS_PAGES", i);
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 64;
	bool unload = argc > 2 && !strcmp(argv[2], "--unload");
	void *buf;
	int i;

	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0) {
		perror("iommufd_churn: /dev/iommu");
		return 1;
	}
	buf = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("iommufd_churn: mmap");
		return 1;
	}
	memset(buf, 0, MAP_BYTES);
	for (i = 0; i < count; i++) {
		churn_one(i, buf);
		churn_wide(i, buf, 16);
	}
	if (!unload)
		/* No cleanup: the fds' release at exit tears it all down */
		return 0;

	/* The mock accesses unpin and go, then everything else */
	for (i = 0; i < naccess_fds; i++)
		close(access_fds[i]);
	close(iommufd);
	if (syscall(__NR_delete_module, "iommufd", O_NONBLOCK)) {
		perror("iommufd_churn: delete_module(iommufd)");
		return 1;
	}
	return 0;
}
