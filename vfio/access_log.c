// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO device DMA logging for emulated-IOMMU devices.
 *
 * An emulated device (an mdev, for instance) reaches guest memory only
 * through its iommufd access: vfio_dma_rw() and vfio_pin_pages().  iommufd
 * logs those writes exactly (drivers/iommu/iommufd/dirty_log.c), but
 * userspace such as QEMU 10 attaches an mdev straight to its IOAS, with no
 * HWPT whose dirty bitmap it could read.  What it does ask every device is
 * VFIO_DEVICE_FEATURE_DMA_LOGGING_START/STOP/REPORT, and it uses device
 * logging when all devices of a container support it.  vfio_access_log_ops
 * answers those features from the access's log, so a driver opts in with
 * one call, vfio_access_log_init(), and writes nothing else.
 *
 * The log covers the whole IOAS the access is attached to, whatever the
 * ranges given to START: they only bound what userspace asks for.  The log's
 * granularity is PAGE_SIZE; REPORT converts to the page size asked for.
 * Conservative mode (iommufd's dirty_conservative parameter) applies here as
 * on the HWPT path: every writable mapping is dirty on every REPORT.
 *
 * Only a device bound to iommufd has an access.  Bound to a type1 container
 * (vfio's group path without iommufd), the device's writes are tracked by
 * the container itself, so the DMA logging features are hidden:
 * vfio_access_log_unavailable() makes them -ENOTTY, PROBE included, and
 * userspace falls back to the container's dirty tracking.
 *
 * Locking: vfio core calls the log_ops from the device fd's ioctl, where
 * vdev->iommufd_access is stable (set at bind, cleared at unbind, both under
 * the dev_set lock before the fd is usable or after its last close).
 * iommufd serialises the rest under the access's ioas_lock.  A device that
 * is closed while logging stops with the destruction of its access.
 */
#include <linux/iommufd.h>
#include <linux/iommufd_dirty.h>
#include <linux/iova_bitmap.h>
#include <linux/sizes.h>
#include <linux/vfio.h>
#include <linux/vfio_access_log.h>

static int vfio_access_log_start(struct vfio_device *vdev,
				 struct rb_root_cached *ranges, u32 nnodes,
				 u64 *page_size)
{
	if (*page_size < SZ_4K || !is_power_of_2(*page_size))
		return -EINVAL;
	if (!vdev->iommufd_access)
		return -EOPNOTSUPP;
	return iommufd_access_dirty_set(vdev->iommufd_access, true);
}

static int vfio_access_log_stop(struct vfio_device *vdev)
{
	if (!vdev->iommufd_access)
		return 0;
	return iommufd_access_dirty_set(vdev->iommufd_access, false);
}

static int vfio_access_log_read_and_clear(struct vfio_device *vdev,
					  unsigned long iova,
					  unsigned long length,
					  struct iova_bitmap *dirty)
{
	if (!vdev->iommufd_access)
		return -EINVAL;
	return iommufd_access_dirty_read(vdev->iommufd_access, iova, length,
					 dirty);
}

static const struct vfio_log_ops vfio_access_log_ops = {
	.log_start = vfio_access_log_start,
	.log_stop = vfio_access_log_stop,
	.log_read_and_clear = vfio_access_log_read_and_clear,
};

/**
 * vfio_access_log_init() - give an emulated-IOMMU device DMA logging
 * @vdev: the device, allocated and not yet registered
 *	(vfio_register_emulated_iommu_dev()), whose ops use
 *	vfio_iommufd_emulated_bind()
 *
 * Once bound to iommufd, the device answers
 * VFIO_DEVICE_FEATURE_DMA_LOGGING_START/STOP/REPORT with the writes it made
 * through vfio_dma_rw() and the pages it pinned for write with
 * vfio_pin_pages() while logging: exact, with no work in the driver.
 *
 * START returns -EINVAL for a page size that is not a power of two of at
 * least 4 KiB or while the device is not attached to an IOAS, and -EBUSY
 * while already logging; REPORT returns -EINVAL while not logging.
 */
void vfio_access_log_init(struct vfio_device *vdev)
{
	vdev->log_ops = &vfio_access_log_ops;
}
EXPORT_SYMBOL_GPL(vfio_access_log_init);

/**
 * vfio_access_log_unavailable() - hide DMA logging a device cannot do
 * @vdev: the device
 * @feature: the VFIO_DEVICE_FEATURE_* being asked for, with its flags
 *
 * Return: true for the DMA logging features of a device using
 * vfio_access_log_init() that has no iommufd access (a type1 container
 * tracks its writes instead); vfio core then answers -ENOTTY.
 */
bool vfio_access_log_unavailable(struct vfio_device *vdev, u32 feature)
{
	if (vdev->log_ops != &vfio_access_log_ops || vdev->iommufd_access)
		return false;
	switch (feature & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return true;
	default:
		return false;
	}
}
