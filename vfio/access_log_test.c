// SPDX-License-Identifier: GPL-2.0
/*
 * A test mdev for access-backed VFIO DMA logging (access_log.c).
 *
 * The device has no registers and no guest-visible function.  Each write()
 * of a struct alt_cmd to its vfio device fd makes it write, pin or check
 * guest memory through the same calls a real emulated device uses
 * (vfio_dma_rw(), vfio_pin_pages(), vfio_unpin_pages()), so that a
 * selftest can compare what VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT returns
 * with what the device wrote, and the memory with what it holds.  It opts
 * into DMA logging with vfio_access_log_init() and nothing more.
 *
 * Locking: alt_state::lock protects the list of pins and @stop_on_unmap,
 * against commands and the dma_unmap callback.
 */
#include <linux/device.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/vfio_access_log.h>

#include "access_log_test.h"
#include "test_mdev.h"

struct alt_pin {
	struct list_head node;
	dma_addr_t iova;
	int npages;
	struct page *pages[] __counted_by(npages);
};

struct alt_state {
	struct vfio_device vdev;
	/* Protects @pins and @stop_on_unmap */
	struct mutex lock;
	struct list_head pins;
	bool stop_on_unmap;
};

static struct test_mdev_parent alt;

static struct alt_state *to_alt(struct vfio_device *vdev)
{
	return container_of(vdev, struct alt_state, vdev);
}

/* alt->lock held */
static void alt_unpin(struct alt_state *alt_dev, struct alt_pin *pin)
{
	vfio_unpin_pages(&alt_dev->vdev, pin->iova, pin->npages);
	list_del(&pin->node);
	kfree(pin);
}

static int alt_pin(struct alt_state *alt_dev, const struct alt_cmd *cmd)
{
	bool write = cmd->op == ALT_CMD_PIN;
	struct alt_pin *pin;
	int i, rc;

	if (!PAGE_ALIGNED(cmd->iova) || !PAGE_ALIGNED(cmd->length) ||
	    !cmd->length || cmd->length > ALT_MAX_PIN_PAGES * PAGE_SIZE)
		return -EINVAL;

	pin = kzalloc(struct_size(pin, pages, cmd->length >> PAGE_SHIFT),
		      GFP_KERNEL);
	if (!pin)
		return -ENOMEM;
	pin->iova = cmd->iova;
	pin->npages = cmd->length >> PAGE_SHIFT;

	mutex_lock(&alt_dev->lock);
	rc = vfio_pin_pages(&alt_dev->vdev, pin->iova, pin->npages,
			    IOMMU_READ | (write ? IOMMU_WRITE : 0), pin->pages);
	if (rc != pin->npages) {
		mutex_unlock(&alt_dev->lock);
		kfree(pin);
		return rc < 0 ? rc : -EFAULT;
	}
	for (i = 0; write && i < pin->npages; i++)
		memset_page(pin->pages[i], 0, cmd->byte, PAGE_SIZE);
	list_add(&pin->node, &alt_dev->pins);
	mutex_unlock(&alt_dev->lock);
	return 0;
}

static int alt_unpin_at(struct alt_state *alt_dev, dma_addr_t iova)
{
	struct alt_pin *pin;
	int rc = -ENOENT;

	mutex_lock(&alt_dev->lock);
	list_for_each_entry(pin, &alt_dev->pins, node) {
		if (pin->iova == iova) {
			alt_unpin(alt_dev, pin);
			rc = 0;
			break;
		}
	}
	mutex_unlock(&alt_dev->lock);
	return rc;
}

static int alt_rw(struct alt_state *alt_dev, const struct alt_cmd *cmd)
{
	bool write = cmd->op == ALT_CMD_WRITE;
	size_t i;
	u8 *buf;
	int rc;

	if (!cmd->length || cmd->length > ALT_MAX_WRITE)
		return -EINVAL;
	buf = kvmalloc(cmd->length, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (write)
		memset(buf, cmd->byte, cmd->length);
	rc = vfio_dma_rw(&alt_dev->vdev, cmd->iova, buf, cmd->length, write);
	for (i = 0; !rc && !write && i < cmd->length; i++)
		if (buf[i] != cmd->byte)
			rc = -EILSEQ;
	kvfree(buf);
	return rc;
}

static ssize_t alt_write(struct vfio_device *vdev, const char __user *ubuf,
			 size_t count, loff_t *ppos)
{
	struct alt_state *alt_dev = to_alt(vdev);
	struct alt_cmd cmd;
	int rc;

	if (*ppos || count != sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(&cmd, ubuf, sizeof(cmd)))
		return -EFAULT;
	if (memchr_inv(cmd.reserved, 0, sizeof(cmd.reserved)))
		return -EINVAL;

	switch (cmd.op) {
	case ALT_CMD_WRITE:
	case ALT_CMD_CHECK:
		rc = alt_rw(alt_dev, &cmd);
		break;
	case ALT_CMD_PIN:
	case ALT_CMD_PIN_RO:
		rc = alt_pin(alt_dev, &cmd);
		break;
	case ALT_CMD_STOP_ON_UNMAP:
		mutex_lock(&alt_dev->lock);
		alt_dev->stop_on_unmap = true;
		mutex_unlock(&alt_dev->lock);
		rc = 0;
		break;
	case ALT_CMD_UNPIN:
		rc = alt_unpin_at(alt_dev, cmd.iova);
		break;
	default:
		rc = -EINVAL;
	}
	return rc ? rc : sizeof(cmd);
}

/*
 * The IOVA range is going away: drop the pins in it.  When the device
 * detaches from its IOAS, iommufd calls this with the access's ioas_lock
 * dropped, so a DMA logging STOP may run meanwhile: ALT_CMD_STOP_ON_UNMAP
 * makes that happen here.
 */
static void alt_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct alt_state *alt_dev = to_alt(vdev);
	struct alt_pin *pin, *next;

	mutex_lock(&alt_dev->lock);
	if (alt_dev->stop_on_unmap) {
		alt_dev->stop_on_unmap = false;
		vdev->log_ops->log_stop(vdev);
	}
	list_for_each_entry_safe(pin, next, &alt_dev->pins, node) {
		u64 end = pin->iova + ((u64)pin->npages << PAGE_SHIFT);

		if (pin->iova < iova + length && iova < end)
			alt_unpin(alt_dev, pin);
	}
	mutex_unlock(&alt_dev->lock);
}

static void alt_close(struct vfio_device *vdev)
{
	alt_dma_unmap(vdev, 0, U64_MAX);
}

static int alt_init(struct vfio_device *vdev)
{
	struct alt_state *alt_dev = to_alt(vdev);

	mutex_init(&alt_dev->lock);
	INIT_LIST_HEAD(&alt_dev->pins);
	vfio_access_log_init(vdev);
	return 0;
}

static void alt_release(struct vfio_device *vdev)
{
	mutex_destroy(&to_alt(vdev)->lock);
}

static const struct vfio_device_ops alt_ops = {
	.name = "vfio-access-log-test",
	.init = alt_init,
	.release = alt_release,
	.write = alt_write,
	.dma_unmap = alt_dma_unmap,
	.close_device = alt_close,
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

static int alt_probe(struct mdev_device *mdev)
{
	struct alt_state *alt_dev;
	int rc;

	alt_dev = vfio_alloc_device(alt_state, vdev, &mdev->dev, &alt_ops);
	if (IS_ERR(alt_dev))
		return PTR_ERR(alt_dev);
	rc = vfio_register_emulated_iommu_dev(&alt_dev->vdev);
	if (rc) {
		vfio_put_device(&alt_dev->vdev);
		return rc;
	}
	dev_set_drvdata(&mdev->dev, alt_dev);
	return 0;
}

static void alt_remove(struct mdev_device *mdev)
{
	struct alt_state *alt_dev = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&alt_dev->vdev);
	vfio_put_device(&alt_dev->vdev);
}

static struct mdev_type alt_type = { .sysfs_name = "w" };
static struct mdev_type *alt_types[] = { &alt_type };

static struct mdev_driver alt_driver = {
	.device_api = "vfio-access-log-test",
	.max_instances = 16,
	.driver = {
		.name = ALT_PARENT_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = alt_probe,
	.remove = alt_remove,
};

static int __init alt_module_init(void)
{
	return test_mdev_parent_register(&alt, ALT_PARENT_NAME, &alt_driver,
					 alt_types, ARRAY_SIZE(alt_types));
}

static void __exit alt_module_exit(void)
{
	test_mdev_parent_unregister(&alt, &alt_driver);
}

module_init(alt_module_init);
module_exit(alt_module_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test mdev for access-backed VFIO DMA logging");

