/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Creating, opening and removing lowdown's test mdevs, for the selftests
 * that drive them through the vfio cdev and iommufd.  Each call returns 0
 * (or an fd) on success and -errno on failure.
 */
#ifndef __LOWDOWN_VFIO_MDEV_H
#define __LOWDOWN_VFIO_MDEV_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "write_file.h"

/*
 * Create an instance of the mdev type at @type_dir, loading @module first
 * if the type is not there; its uuid goes to @uuid, its vfio cdev's path
 * to @cdev.
 */
static int mdev_create(const char *type_dir, const char *module,
		       char uuid[40], char cdev[64])
{
	char path[256], cmd[128];
	struct dirent *de;
	unsigned char r[16];
	DIR *dir;
	int fd, i;

	snprintf(cmd, sizeof(cmd), "modprobe %s", module);
	if (access(type_dir, F_OK) && system(cmd))
		return -ENOENT;
	fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, r, sizeof(r)) != sizeof(r))
		return -EIO;
	close(fd);
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	for (i = 0; i < 16; i++)
		sprintf(uuid + 2 * i + (i > 3) + (i > 5) + (i > 7) + (i > 9),
			"%02x%s", r[i],
			(i == 3 || i == 5 || i == 7 || i == 9) ? "-" : "");
	snprintf(path, sizeof(path), "%s/create", type_dir);
	if (write_file(path, uuid))
		return -EIO;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/vfio-dev", uuid);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	cdev[0] = 0;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4) && strlen(de->d_name) < 32)
			snprintf(cdev, 64, "/dev/vfio/devices/%.31s",
				 de->d_name);
	closedir(dir);
	return cdev[0] ? 0 : -ENOENT;
}

static void mdev_remove(const char *uuid)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", uuid);
	write_file(path, "1");
}

/* Open, bind and attach the device at @cdev to @ioas_id; the fd or -errno */
static int vfio_dev_open(const char *cdev, int iommufd, __u32 ioas_id)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind), .iommufd = iommufd,
	};
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach), .pt_id = ioas_id,
	};
	int fd = open(cdev, O_RDWR);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) ||
	    ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

#endif
