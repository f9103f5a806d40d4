/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Software dirty tracking for iommufd: the API for drivers of devices whose
 * IOMMU has no dirty bits.  See Documentation/lowdown/ and
 * drivers/iommu/iommufd/dirty_log.c.
 */
#ifndef __LINUX_IOMMUFD_DIRTY_H
#define __LINUX_IOMMUFD_DIRTY_H

#include <linux/types.h>

struct iommufd_access;
struct iommufd_device;
struct iova_bitmap;

#if IS_ENABLED(CONFIG_IOMMUFD)
int iommufd_device_dirty_declare(struct iommufd_device *idev,
				 bool reports_all_dma);
int iommufd_device_dirty_report(struct iommufd_device *idev,
				unsigned long iova, size_t length);
int iommufd_access_dirty_set(struct iommufd_access *access, bool enable);
int iommufd_access_dirty_read(struct iommufd_access *access,
			      unsigned long iova, unsigned long length,
			      struct iova_bitmap *bitmap);
#else
static inline int iommufd_device_dirty_declare(struct iommufd_device *idev,
					       bool reports_all_dma)
{
	return -EOPNOTSUPP;
}

static inline int iommufd_device_dirty_report(struct iommufd_device *idev,
					      unsigned long iova, size_t length)
{
	return -EOPNOTSUPP;
}

static inline int iommufd_access_dirty_set(struct iommufd_access *access,
					   bool enable)
{
	return -EOPNOTSUPP;
}

static inline int iommufd_access_dirty_read(struct iommufd_access *access,
					    unsigned long iova,
					    unsigned long length,
					    struct iova_bitmap *bitmap)
{
	return -EOPNOTSUPP;
}
#endif

#endif
