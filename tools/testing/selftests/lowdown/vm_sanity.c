// SPDX-License-Identifier: GPL-2.0
/*
 * What every later lowdown test takes for granted about the test VM: iommufd
 * and both VFIO uAPIs are there, and a physical function behind the emulated
 * VT-d (the igb PF) gives SR-IOV VFs that work through the iommufd cdev path:
 * IOAS_ALLOC, IOAS_MAP, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_ATTACH_IOMMUFD_PT
 * and IOMMU_GET_HW_INFO.
 *
 * Needs root and the VM of tools/testing/vm/run; it changes sriov_numvfs of
 * the igb PF and restores it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "write_file.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define IGB_VENDOR 0x8086
#define IGB_82576_PF 0x10c9
#define IGB_82576_VF 0x10ca
#define NR_VFS 2

static long sysfs_read_ulong(const char *dir, const char *name)
{
	char path[PATH_MAX], buf[64] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = '\0';
	close(fd);
	return buf[0] ? strtol(buf, NULL, 0) : -1;
}

/* Basename of the symlink dir/name, e.g. a VF's BDF or an IOMMU group number */
static int sysfs_link_name(const char *dir, const char *name, char *out,
			   size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	snprintf(out, len, "%s", strrchr(target, '/') + 1);
	return 0;
}

static int find_igb_pf(char *bdf)
{
	struct dirent *de;
	DIR *d = opendir(PCI_DEVICES);
	int ret = -1;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char dir[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), PCI_DEVICES "/%s", de->d_name);
		if (sysfs_read_ulong(dir, "vendor") == IGB_VENDOR &&
		    sysfs_read_ulong(dir, "device") == IGB_82576_PF) {
			snprintf(bdf, NAME_MAX + 1, "%s", de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

TEST(iommufd_char_device)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct stat st;
	int fd;

	ASSERT_EQ(0, stat("/dev/iommu", &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, IOMMU_IOAS_ALLOC, &alloc));
	ASSERT_NE(0, alloc.out_ioas_id);
	close(fd);
}

/* The legacy container with type1 is the baseline lowdown compares against */
TEST(vfio_container_type1)
{
	int fd = open("/dev/vfio/vfio", O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_EQ(VFIO_API_VERSION, ioctl(fd, VFIO_GET_API_VERSION));
	ASSERT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	close(fd);
}

FIXTURE(igb_vfs)
{
	char pf[NAME_MAX + 1];
	char vf[NR_VFS][NAME_MAX + 1];
	char vfio_cdev[PATH_MAX];
};

FIXTURE_SETUP(igb_vfs)
{
	char path[PATH_MAX], pf_dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int i;

	ASSERT_EQ(0, find_igb_pf(self->pf))
		TH_LOG("no igb (82576) PF in the VM");
	snprintf(pf_dir, sizeof(pf_dir), PCI_DEVICES "/%s", self->pf);
	ASSERT_LE(NR_VFS, sysfs_read_ulong(pf_dir, "sriov_totalvfs"));

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/sriov_numvfs", self->pf);
	ASSERT_EQ(0, write_file(path, "0"));
	ASSERT_EQ(0, write_file(path, "2"));
	for (i = 0; i < NR_VFS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "virtfn%d", i);
		ASSERT_EQ(0, sysfs_link_name(pf_dir, name, self->vf[i],
					     sizeof(self->vf[i])));
	}

	/* Hand VF 0 to vfio-pci, whatever driver took it first */
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override",
		 self->vf[0]);
	ASSERT_EQ(0, write_file(path, "vfio-pci"));
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind",
		 self->vf[0]);
	if (access(path, F_OK) == 0)
		ASSERT_EQ(0, write_file(path, self->vf[0]));
	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers_probe", self->vf[0]));

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/vfio-dev", self->vf[0]);
	d = opendir(path);
	ASSERT_NE(NULL, d) TH_LOG("%s: not bound to vfio-pci with a cdev",
				  self->vf[0]);
	self->vfio_cdev[0] = '\0';
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "vfio", 4))
			snprintf(self->vfio_cdev, sizeof(self->vfio_cdev),
				 "/dev/vfio/devices/%s", de->d_name);
	closedir(d);
	ASSERT_NE('\0', self->vfio_cdev[0]);
}

FIXTURE_TEARDOWN(igb_vfs)
{
	char path[PATH_MAX];

	write_file("/sys/bus/pci/drivers/vfio-pci/unbind", self->vf[0]);
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override",
		 self->vf[0]);
	write_file(path, "\n");
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/sriov_numvfs", self->pf);
	write_file(path, "0");
}

/* Under the emulated VT-d each VF is isolated: its own IOMMU group */
TEST_F(igb_vfs, own_iommu_groups)
{
	char group[NR_VFS][16];
	int i;

	for (i = 0; i < NR_VFS; i++) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), PCI_DEVICES "/%s", self->vf[i]);
		ASSERT_EQ(IGB_82576_VF, sysfs_read_ulong(dir, "device"));
		ASSERT_EQ(0, sysfs_link_name(dir, "iommu_group", group[i],
					     sizeof(group[i])));
	}
	ASSERT_STRNE(group[0], group[1]);
}

/* A cdev that is not bound to an iommufd refuses device access */
TEST_F(igb_vfs, cdev_needs_bind)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int fd = open(self->vfio_cdev, O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	close(fd);
}

TEST_F(igb_vfs, cdev_bind_attach_hw_info)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.length = 1 << 20,
	};
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap) };
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct vfio_device_detach_iommufd_pt detach = { .argsz = sizeof(detach) };
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info cfg = {
		.argsz = sizeof(cfg),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	struct iommu_hw_info_vtd vtd = {};
	struct iommu_hw_info hw = {
		.size = sizeof(hw),
		.data_len = sizeof(vtd),
		.data_uptr = (uintptr_t)&vtd,
	};
	uint16_t ids[2];
	void *buf;
	int iommufd, devfd;

	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	devfd = open(self->vfio_cdev, O_RDWR);
	ASSERT_LE(0, devfd);

	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc));
	buf = mmap(NULL, map.length, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	map.ioas_id = alloc.out_ioas_id;
	map.user_va = (uintptr_t)buf;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_MAP, &map));

	bind.iommufd = iommufd;
	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	attach.pt_id = alloc.out_ioas_id;
	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	/* Attaching to an IOAS gives back the automatic HWPT's id */
	ASSERT_NE(alloc.out_ioas_id, attach.pt_id);

	hw.dev_id = bind.out_devid;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_GET_HW_INFO, &hw));
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_INTEL_VTD, hw.out_data_type);
	ASSERT_EQ(sizeof(vtd), hw.data_len);
	ASSERT_NE(0, vtd.cap_reg);
	TH_LOG("VT-d cap 0x%llx ecap 0x%llx, hw caps 0x%llx",
	       (unsigned long long)vtd.cap_reg,
	       (unsigned long long)vtd.ecap_reg,
	       (unsigned long long)hw.out_capabilities);

	/* The device is usable: its config space reads as an 82576 VF */
	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &cfg));
	ASSERT_EQ(sizeof(ids), pread(devfd, ids, sizeof(ids), cfg.offset));
	ASSERT_EQ(IGB_VENDOR, ids[0]);
	ASSERT_EQ(IGB_82576_VF, ids[1]);

	ASSERT_EQ(0, ioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));
	unmap.ioas_id = alloc.out_ioas_id;
	unmap.iova = map.iova;
	unmap.length = map.length;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap));
	ASSERT_EQ(map.length, unmap.length);

	close(devfd);
	close(iommufd);
	munmap(buf, map.length);
}

TEST_HARNESS_MAIN
