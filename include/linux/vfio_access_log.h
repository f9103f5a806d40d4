/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VFIO device DMA logging for emulated-IOMMU devices, backed by iommufd's
 * software dirty log.  See drivers/vfio/access_log.c.
 */
#ifndef __LINUX_VFIO_ACCESS_LOG_H
#define __LINUX_VFIO_ACCESS_LOG_H

#include <linux/types.h>

struct vfio_device;

#if IS_ENABLED(CONFIG_IOMMUFD)
void vfio_access_log_init(struct vfio_device *vdev);
bool vfio_access_log_unavailable(struct vfio_device *vdev, u32 feature);
#else
static inline void vfio_access_log_init(struct vfio_device *vdev)
{
}

static inline bool vfio_access_log_unavailable(struct vfio_device *vdev,
					       u32 feature)
{
	return false;
}
#endif

#endif
