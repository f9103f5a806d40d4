/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Software dirty tracking for iommufd: the state embedded in iommufd's
 * objects and the calls its hooks make.  dirty_log.c explains the design.
 */
#ifndef __IOMMUFD_DIRTY_LOG_H
#define __IOMMUFD_DIRTY_LOG_H

#include <linux/types.h>

struct io_pagetable;
struct iopt_area;
struct iommufd_device;
struct iommufd_hwpt_paging;
struct iommu_hwpt_get_dirty_bitmap;
struct iommufd_dirty_log;

/**
 * struct iommufd_dirty_dev - software dirty state of an iommufd_device
 * @reports_all_dma: the device's driver reports every IOVA range its device
 *	writes by DMA (iommufd_device_dirty_declare()), so a software log covers
 *	it even without IOMMU dirty bits.  Written under the device's
 *	igroup->lock; read locklessly when HWPTs are allocated and attached.
 */
struct iommufd_dirty_dev {
	bool reports_all_dma;
};

/**
 * struct iommufd_dirty_hwpt - software dirty state of a paging HWPT
 * @software: allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING for a device
 *	whose IOMMU has no dirty bits: the domain has no dirty_ops and only
 *	the software log of its IOAS is reported.
 * @enabled: this HWPT holds a reference on its IOAS's log being on.
 *	Protected by the log's lock.
 */
struct iommufd_dirty_hwpt {
	bool software;
	bool enabled;
};

/**
 * struct iommufd_dirty_group - software dirty state of an iommufd_group
 * @log: the log of the IOAS the group's HWPT maps, where its devices'
 *	driver reports go (iommufd_device_dirty_report()); NULL when the group
 *	is not attached.  Written under the group's lock by
 *	iommufd_dirty_group_attached(), read under RCU.
 */
struct iommufd_dirty_group {
	struct iommufd_dirty_log __rcu *log;
};

/**
 * struct iommufd_dirty_access - software dirty state of an iommufd_access
 * @enabled: the access tracks (iommufd_access_dirty_set()): while attached,
 *	it holds the log of its IOAS on.
 * @log: the log it holds on for the IOAS it is attached to, or joining.
 * @old_log: during iommufd_access_change_ioas(), the log it still holds on
 *	for the IOAS it is leaving.
 *
 * All protected by the access's ioas_lock.  A log held here stays valid:
 * the access holds a reference on the log's IOAS until it lets go of it.
 */
struct iommufd_dirty_access {
	bool enabled;
	struct iommufd_dirty_log *log;
	struct iommufd_dirty_log *old_log;
};

struct iommufd_group;
struct iommufd_access;
struct iommufd_ioas;

/* Hooks in iommufd's own paths (io_pagetable.c, device.c, hw_pagetable.c) */
void iommufd_dirty_group_attached(struct iommufd_group *igroup);
void iommufd_dirty_log_destroy(struct io_pagetable *iopt);
void iommufd_dirty_log_unmap(struct io_pagetable *iopt, struct iopt_area *area);
void iommufd_dirty_log_record(struct io_pagetable *iopt, unsigned long iova,
			      unsigned long length);
int iommufd_dirty_log_pin(struct io_pagetable *iopt, unsigned long iova,
			  unsigned long length, unsigned int flags);
void iommufd_dirty_log_unpin(struct io_pagetable *iopt, unsigned long iova,
			     unsigned long length);

int iommufd_dirty_access_prepare(struct iommufd_access *access,
				 struct iommufd_ioas *new_ioas);
void iommufd_dirty_access_moved(struct iommufd_access *access,
				struct iommufd_ioas *old_ioas,
				struct iommufd_ioas *new_ioas);

size_t iommufd_dirty_log_bytes(struct io_pagetable *iopt);

bool iommufd_dirty_hw_capable(struct iommufd_device *idev);
bool iommufd_dirty_capable(struct iommufd_device *idev);
int iommufd_dirty_hwpt_alloc_flags(struct iommufd_device *idev, u32 *flags,
				   struct iommufd_dirty_hwpt *dirty);
int iommufd_dirty_hwpt_attach(struct iommufd_hwpt_paging *hwpt_paging,
			      struct iommufd_device *idev);
void iommufd_dirty_hwpt_destroy(struct iommufd_hwpt_paging *hwpt_paging);
int iommufd_dirty_hwpt_set(struct iommufd_hwpt_paging *hwpt_paging,
			   bool enable);
int iommufd_dirty_hwpt_read(struct iommufd_hwpt_paging *hwpt_paging,
			    struct iommu_hwpt_get_dirty_bitmap *cmd);

#ifdef CONFIG_IOMMUFD_TEST
struct iommufd_ucmd;
struct iommu_test_cmd;
int iommufd_test_dirty_log(struct iommufd_ucmd *ucmd,
			   struct iommu_test_cmd *cmd);
#endif

#endif
