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
struct iommufd_dirty_tracker;

/* What iommufd_dirty_objects_live() counts */
enum iommufd_dirty_obj {
	IOMMUFD_DIRTY_OBJ_LOG,
	IOMMUFD_DIRTY_OBJ_TRACKER,
	IOMMUFD_DIRTY_OBJ_CHUNK,
	IOMMUFD_DIRTY_OBJ_PIN,
	IOMMUFD_DIRTY_OBJ_NR,
};

/**
 * struct iommufd_dirty_dev - software dirty state of an iommufd_device
 * @source: enum iommufd_dirty_source, what the device's driver declared
 *	with iommufd_device_dirty_declare().  Written under the device's
 *	igroup->lock; read locklessly by IOMMU_GET_HW_INFO and HWPT
 *	allocation, under igroup->lock by attach.
 */
struct iommufd_dirty_dev {
	u8 source;
};

/**
 * struct iommufd_dirty_hwpt - software dirty state of a paging HWPT
 * @software: allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING for a device
 *	whose IOMMU has no dirty bits: the domain has no dirty_ops and only
 *	the software log is reported.
 * @conservative: a software HWPT that reports every writable mapped IOVA
 *	on every read; chosen once, at allocation.
 * @tracker: this HWPT's view of the log while its tracking is on, else
 *	NULL.  Written under the log's lock and the IOAS's iova_rwsem held
 *	for write; read under either.
 */
struct iommufd_dirty_hwpt {
	bool software;
	bool conservative;
	struct iommufd_dirty_tracker *tracker;
};

/**
 * struct iommufd_dirty_group - software dirty state of an iommufd_group
 * @log: the log of the IOAS the group's HWPT maps, where its devices'
 *	driver reports go (iommufd_device_dirty_report()); NULL when the group
 *	is not attached.  Written under the group's lock by
 *	iommufd_dirty_group_update(), read under RCU.
 */
struct iommufd_dirty_group {
	struct iommufd_dirty_log __rcu *log;
};

/**
 * struct iommufd_dirty_access - software dirty state of an iommufd_access
 * @tracker: the access's view of the log while it logs
 *	(iommufd_access_dirty_set()), else NULL.  It stays with the access
 *	when the access moves to another IOAS.  Protected by the access's
 *	ioas_lock.
 */
struct iommufd_dirty_access {
	struct iommufd_dirty_tracker *tracker;
};

struct iommufd_group;
struct iommufd_access;
struct iommufd_ioas;

int iommufd_dirty_init(void);
void iommufd_dirty_exit(void);

/* Hooks in iommufd's own paths (io_pagetable.c, device.c, hw_pagetable.c) */
void iommufd_dirty_group_update(struct iommufd_group *igroup);
void iommufd_dirty_log_destroy(struct io_pagetable *iopt);
void iommufd_dirty_log_map(struct io_pagetable *iopt, unsigned long iova,
			   unsigned long length, int iommu_prot);
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
void iommufd_dirty_access_destroy(struct iommufd_access *access);

size_t iommufd_dirty_log_bytes(struct io_pagetable *iopt);
unsigned int iommufd_dirty_objects_live(enum iommufd_dirty_obj kind);

bool iommufd_dirty_hw_capable(struct iommufd_device *idev);
bool iommufd_dirty_capable(struct iommufd_device *idev);
int iommufd_dirty_hwpt_alloc_flags(struct iommufd_device *idev, u32 *flags,
				   struct iommufd_dirty_hwpt *dirty);
int iommufd_dirty_hwpt_check_attach(struct iommufd_hwpt_paging *hwpt_paging,
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
int iommufd_test_access_dirty(struct iommufd_ucmd *ucmd,
			      struct iommufd_access *access,
			      struct iommu_test_cmd *cmd);
#endif

#endif
