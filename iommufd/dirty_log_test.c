// SPDX-License-Identifier: GPL-2.0
/*
 * Test ops of the software dirty log, for the iommufd selftest mock
 * (CONFIG_IOMMUFD_TEST): they stand in for what a driver does.
 */
#include "iommufd_private.h"
#include "iommufd_test.h"

#include <linux/completion.h>
#include <linux/hrtimer.h>
#include <linux/iommufd_dirty.h>
#include <linux/iova_bitmap.h>

static int dirty_test_declare(struct iommufd_ucmd *ucmd,
			      struct iommu_test_cmd *cmd)
{
	struct iommufd_device *idev;
	int rc;

	/* 0, 1 and 2 are the enum iommufd_dirty_source values */
	if (cmd->dirty_declare.reports_all_dma > IOMMUFD_DIRTY_SOURCE_CONSERVATIVE)
		return -EINVAL;
	idev = iommufd_get_device(ucmd, cmd->id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	rc = iommufd_device_dirty_declare(idev,
					  cmd->dirty_declare.reports_all_dma);
	iommufd_put_object(ucmd->ictx, &idev->obj);
	return rc;
}

/* A report made from a hard interrupt, as a driver's interrupt handler would */
struct dirty_test_irq {
	struct hrtimer timer;
	struct iommufd_device *idev;
	unsigned long iova;
	size_t length;
	int rc;
	struct completion done;
};

static enum hrtimer_restart dirty_test_irq_fn(struct hrtimer *timer)
{
	struct dirty_test_irq *irq =
		container_of(timer, struct dirty_test_irq, timer);

	WARN_ON_ONCE(!in_hardirq());
	irq->rc = iommufd_device_dirty_report(irq->idev, irq->iova,
					      irq->length);
	complete(&irq->done);
	return HRTIMER_NORESTART;
}

static int dirty_test_report(struct iommufd_ucmd *ucmd,
			     struct iommu_test_cmd *cmd)
{
	struct dirty_test_irq irq = {
		.iova = cmd->dirty_report.iova,
		.length = cmd->dirty_report.length,
	};

	if (cmd->dirty_report.flags & ~MOCK_DIRTY_REPORT_PROCESS ||
	    cmd->dirty_report.__reserved)
		return -EOPNOTSUPP;
	if (cmd->dirty_report.iova > ULONG_MAX ||
	    cmd->dirty_report.length > SIZE_MAX)
		return -EOVERFLOW;
	irq.idev = iommufd_get_device(ucmd, cmd->id);
	if (IS_ERR(irq.idev))
		return PTR_ERR(irq.idev);
	if (cmd->dirty_report.flags & MOCK_DIRTY_REPORT_PROCESS) {
		irq.rc = iommufd_device_dirty_report(irq.idev, irq.iova,
						     irq.length);
		iommufd_put_object(ucmd->ictx, &irq.idev->obj);
		return irq.rc;
	}
	init_completion(&irq.done);
	hrtimer_init_on_stack(&irq.timer, CLOCK_MONOTONIC,
			      HRTIMER_MODE_REL_HARD);
	irq.timer.function = dirty_test_irq_fn;
	hrtimer_start(&irq.timer, 0, HRTIMER_MODE_REL_HARD);
	wait_for_completion(&irq.done);
	/* The timer core may still be finishing the callback */
	hrtimer_cancel(&irq.timer);
	destroy_hrtimer_on_stack(&irq.timer);
	iommufd_put_object(ucmd->ictx, &irq.idev->obj);
	return irq.rc;
}

static int dirty_test_log_bytes(struct iommufd_ucmd *ucmd,
				struct iommu_test_cmd *cmd)
{
	struct iommufd_ioas *ioas = iommufd_get_ioas(ucmd->ictx, cmd->id);

	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	cmd->dirty_log_bytes.out_bytes = iommufd_dirty_log_bytes(&ioas->iopt);
	cmd->dirty_log_bytes.out_trackers =
		iommufd_dirty_objects_live(IOMMUFD_DIRTY_OBJ_TRACKER);
	cmd->dirty_log_bytes.out_logs =
		iommufd_dirty_objects_live(IOMMUFD_DIRTY_OBJ_LOG);
	cmd->dirty_log_bytes.out_chunks =
		iommufd_dirty_objects_live(IOMMUFD_DIRTY_OBJ_CHUNK);
	cmd->dirty_log_bytes.out_pins =
		iommufd_dirty_objects_live(IOMMUFD_DIRTY_OBJ_PIN);
	iommufd_put_object(ucmd->ictx, &ioas->obj);
	return iommufd_ucmd_respond(ucmd, sizeof(*cmd));
}

static int dirty_test_dma_read(struct iommufd_ucmd *ucmd,
			       struct iommu_test_cmd *cmd)
{
	u64 length = cmd->device_dma_read.length;
	struct iommufd_device *idev;
	void *buf;
	int rc;

	/* A driver reads a descriptor or a few at a time */
	if (!length || length > SZ_1M)
		return -EINVAL;
	if (cmd->device_dma_read.iova > ULONG_MAX)
		return -EOVERFLOW;
	buf = kvzalloc(length, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	idev = iommufd_get_device(ucmd, cmd->id);
	if (IS_ERR(idev)) {
		rc = PTR_ERR(idev);
		goto out_free;
	}
	rc = iommufd_device_dma_read(idev, cmd->device_dma_read.iova, buf,
				     length);
	iommufd_put_object(ucmd->ictx, &idev->obj);
	if (!rc && copy_to_user(u64_to_user_ptr(cmd->device_dma_read.uptr),
				buf, length))
		rc = -EFAULT;
out_free:
	kvfree(buf);
	return rc;
}

static int dirty_test_access_read_fn(struct iova_bitmap *bitmap,
				     unsigned long iova, size_t length,
				     void *opaque)
{
	return iommufd_access_dirty_read(opaque, iova, length, bitmap);
}

/**
 * iommufd_test_access_dirty() - run IOMMU_TEST_OP_ACCESS_DIRTY
 * @ucmd: the IOMMU_TEST_CMD ioctl
 * @access: the mock access @cmd->id names; its file is held
 * @cmd: the test command
 *
 * What vfio's access-backed DMA logging does for an emulated device, on a
 * mock access: MOCK_ACCESS_DIRTY_START and _STOP its logging, _READ the
 * range @cmd->access_dirty.iova/length into the user's bitmap at
 * @cmd->access_dirty.uptr, one bit per @cmd->access_dirty.page_size.
 *
 * Return: the op's result; -EOPNOTSUPP for an unknown op or reserved bits.
 */
int iommufd_test_access_dirty(struct iommufd_ucmd *ucmd,
			      struct iommufd_access *access,
			      struct iommu_test_cmd *cmd)
{
	struct iova_bitmap *bitmap;
	u64 page_size = cmd->access_dirty.page_size;
	int rc;

	if (cmd->access_dirty.__reserved)
		return -EOPNOTSUPP;
	switch (cmd->access_dirty.op) {
	case MOCK_ACCESS_DIRTY_START:
		return iommufd_access_dirty_set(access, true);
	case MOCK_ACCESS_DIRTY_STOP:
		return iommufd_access_dirty_set(access, false);
	case MOCK_ACCESS_DIRTY_READ:
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (!page_size || !is_power_of_2(page_size) ||
	    cmd->access_dirty.iova > ULONG_MAX ||
	    cmd->access_dirty.length > ULONG_MAX)
		return -EINVAL;
	if (!IS_ALIGNED(cmd->access_dirty.iova | cmd->access_dirty.length,
			page_size))
		return -EINVAL;
	bitmap = iova_bitmap_alloc(cmd->access_dirty.iova,
				   cmd->access_dirty.length, page_size,
				   u64_to_user_ptr(cmd->access_dirty.uptr));
	if (IS_ERR(bitmap))
		return PTR_ERR(bitmap);
	rc = iova_bitmap_for_each(bitmap, access, dirty_test_access_read_fn);
	iova_bitmap_free(bitmap);
	return rc;
}

/**
 * iommufd_test_dirty_log() - run a dirty log test op
 * @ucmd: the IOMMU_TEST_CMD ioctl
 * @cmd: the test command; @cmd->id names the object the op acts on
 *
 * IOMMU_TEST_OP_DIRTY_DECLARE: @cmd->id is a mock device's iommufd device
 * id; declare what its driver knows of its DMA writes, an enum
 * iommufd_dirty_source (0 withdraws).
 *
 * IOMMU_TEST_OP_DIRTY_REPORT: @cmd->id as above; report a DMA write of
 * @cmd->dirty_report.length bytes at @cmd->dirty_report.iova, from a hard
 * interrupt (an hrtimer that expires at once), or from process context with
 * MOCK_DIRTY_REPORT_PROCESS.
 *
 * IOMMU_TEST_OP_DIRTY_LOG_BYTES: @cmd->id is an IOAS id; the memory its
 * log takes goes to @cmd->dirty_log_bytes.out_bytes, and the logs,
 * trackers, chunks and pin records alive in all of iommufd (allocated, not
 * yet freed) to its out_logs, out_trackers, out_chunks and out_pins.
 *
 * IOMMU_TEST_OP_DEVICE_DMA_READ: @cmd->id is a mock device's iommufd device
 * id; read @cmd->device_dma_read.length bytes (at most 1 MiB) at its
 * .iova through the device's IOAS, as iommufd_device_dma_read() does for a
 * driver, into the user buffer at its .uptr.
 *
 * Return: the op's result, -EOPNOTSUPP for an op that is not ours.
 */
int iommufd_test_dirty_log(struct iommufd_ucmd *ucmd,
			   struct iommu_test_cmd *cmd)
{
	switch (cmd->op) {
	case IOMMU_TEST_OP_DIRTY_DECLARE:
		return dirty_test_declare(ucmd, cmd);
	case IOMMU_TEST_OP_DIRTY_REPORT:
		return dirty_test_report(ucmd, cmd);
	case IOMMU_TEST_OP_DIRTY_LOG_BYTES:
		return dirty_test_log_bytes(ucmd, cmd);
	case IOMMU_TEST_OP_DEVICE_DMA_READ:
		return dirty_test_dma_read(ucmd, cmd);
	default:
		return -EOPNOTSUPP;
	}
}
