/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VFIO_DEVICE_FEATURE and the migration state, for the selftests and for
 * tools/migctl: each returns 0 or -errno.
 */
#ifndef __LOWDOWN_VFIO_MIG_UAPI_H
#define __LOWDOWN_VFIO_MIG_UAPI_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

/* VFIO_DEVICE_FEATURE with @size bytes of @data, copied back */
static int feature(int fd, __u32 flags, void *data, size_t size)
{
	struct vfio_device_feature *feat = calloc(1, sizeof(*feat) + size);
	int rc = 0;

	if (!feat)
		return -ENOMEM;
	feat->argsz = sizeof(*feat) + size;
	feat->flags = flags;
	memcpy(feat->data, data, size);
	if (ioctl(fd, VFIO_DEVICE_FEATURE, feat))
		rc = -errno;
	else
		memcpy(data, feat->data, size);
	free(feat);
	return rc;
}

/* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: the bytes, or -errno */
static long long data_size(int fd)
{
	struct vfio_device_feature_mig_data_size size = {};
	int rc = feature(fd, VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &size,
			 sizeof(size));

	return rc ? rc : (long long)size.stop_copy_length;
}

/* Set a state; the data fd (or -1) in *@data_fd, else it is closed */
static int set_state(int fd, __u32 state, int *data_fd)
{
	struct vfio_device_feature_mig_state mig = {
		.device_state = state, .data_fd = -1,
	};
	int rc = feature(fd, VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig,
			 sizeof(mig));

	if (rc)
		mig.data_fd = -1;
	if (data_fd)
		*data_fd = mig.data_fd;
	else if (mig.data_fd >= 0)
		close(mig.data_fd);
	return rc;
}

/* The state, or -errno */
static int get_state(int fd)
{
	struct vfio_device_feature_mig_state mig = {};
	int rc = feature(fd, VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig,
			 sizeof(mig));

	return rc ? rc : (int)mig.device_state;
}

#endif
