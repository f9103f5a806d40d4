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

/**
 * enum iommufd_dirty_source - what a driver says of its device's DMA writes
 * @IOMMUFD_DIRTY_SOURCE_NONE: nothing; only IOMMU dirty bits can track it
 * @IOMMUFD_DIRTY_SOURCE_REPORTS_ALL_DMA: the driver reports every IOVA range
 *	its device writes by DMA (iommufd_device_dirty_report()), so a
 *	software log is exact for it
 * @IOMMUFD_DIRTY_SOURCE_CONSERVATIVE: the driver does not report, but its
 *	device may be migrated on the understanding that everything it can
 *	write reads dirty on every read (what VFIO type1 does)
 */
enum iommufd_dirty_source {
	IOMMUFD_DIRTY_SOURCE_NONE,
	IOMMUFD_DIRTY_SOURCE_REPORTS_ALL_DMA,
	IOMMUFD_DIRTY_SOURCE_CONSERVATIVE,
};

#if IS_ENABLED(CONFIG_IOMMUFD)
int iommufd_device_dirty_declare(struct iommufd_device *idev,
				 enum iommufd_dirty_source source);
int iommufd_device_dirty_report(struct iommufd_device *idev,
				unsigned long iova, size_t length);
int iommufd_device_dma_read(struct iommufd_device *idev, unsigned long iova,
			    void *data, size_t length);
int iommufd_access_dirty_set(struct iommufd_access *access, bool enable);
int iommufd_access_dirty_read(struct iommufd_access *access,
			      unsigned long iova, unsigned long length,
			      struct iova_bitmap *bitmap);
#else
static inline int
iommufd_device_dirty_declare(struct iommufd_device *idev,
			     enum iommufd_dirty_source source)
{
	return -EOPNOTSUPP;
}

static inline int iommufd_device_dirty_report(struct iommufd_device *idev,
					      unsigned long iova, size_t length)
{
	return -EOPNOTSUPP;
}

static inline int iommufd_device_dma_read(struct iommufd_device *idev,
					  unsigned long iova, void *data,
					  size_t length)
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
