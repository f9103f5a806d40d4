// SPDX-License-Identifier: GPL-2.0
/*
 * Test ops of the software dirty log, for the iommufd selftest mock
 * (CONFIG_IOMMUFD_TEST): they stand in for what a driver does.
 */
#include "iommufd_private.h"
#include "iommufd_test.h"

#include <linux/iommufd_dirty.h>

static int dirty_test_declare(struct iommufd_ucmd *ucmd,
			      struct iommu_test_cmd *cmd)
{
	struct iommufd_device *idev;
	int rc;

	if (cmd->dirty_declare.reports_all_dma > 1)
		return -EINVAL;
	idev = iommufd_get_device(ucmd, cmd->id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	rc = iommufd_device_dirty_declare(idev,
					  cmd->dirty_declare.reports_all_dma);
	iommufd_put_object(ucmd->ictx, &idev->obj);
	return rc;
}

/* Report from hard-IRQ-disabled context, as a driver's interrupt would */
static int dirty_test_report(struct iommufd_ucmd *ucmd,
			     struct iommu_test_cmd *cmd)
{
	struct iommufd_device *idev;
	unsigned long flags;
	int rc;

	if (cmd->dirty_report.iova > ULONG_MAX ||
	    cmd->dirty_report.length > SIZE_MAX)
		return -EOVERFLOW;
	idev = iommufd_get_device(ucmd, cmd->id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	local_irq_save(flags);
	rc = iommufd_device_dirty_report(idev, cmd->dirty_report.iova,
					 cmd->dirty_report.length);
	local_irq_restore(flags);
	iommufd_put_object(ucmd->ictx, &idev->obj);
	return rc;
}

static int dirty_test_log_bytes(struct iommufd_ucmd *ucmd,
				struct iommu_test_cmd *cmd)
{
	struct iommufd_ioas *ioas = iommufd_get_ioas(ucmd->ictx, cmd->id);

	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	cmd->dirty_log_bytes.out_bytes = iommufd_dirty_log_bytes(&ioas->iopt);
	iommufd_put_object(ucmd->ictx, &ioas->obj);
	return iommufd_ucmd_respond(ucmd, sizeof(*cmd));
}

/**
 * iommufd_test_dirty_log() - run a dirty log test op
 * @ucmd: the IOMMU_TEST_CMD ioctl
 * @cmd: the test command; @cmd->id names the object the op acts on
 *
 * IOMMU_TEST_OP_DIRTY_DECLARE: @cmd->id is a mock device's iommufd device
 * id; declare (or withdraw) that its driver reports all its DMA writes.
 *
 * IOMMU_TEST_OP_DIRTY_REPORT: @cmd->id as above; report a DMA write of
 * @cmd->dirty_report.length bytes at @cmd->dirty_report.iova, with hard
 * interrupts off.
 *
 * IOMMU_TEST_OP_DIRTY_LOG_BYTES: @cmd->id is an IOAS id; the memory its
 * log takes goes to @cmd->dirty_log_bytes.out_bytes.
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
	default:
		return -EOPNOTSUPP;
	}
}
