/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mdev parent of lowdown's test mdevs (access_log_test.c,
 * mig_engine_test.c): a class device of their own under which the mdev
 * types appear, at /sys/class/mdev_bus/<name>.  Test-only.
 */
#ifndef __VFIO_TEST_MDEV_H
#define __VFIO_TEST_MDEV_H

#include <linux/device.h>
#include <linux/mdev.h>

/**
 * struct test_mdev_parent - a test mdev driver's parent device
 * @class: the class its device is in, named after it
 * @dev: the parent device
 * @parent: the mdev parent registered on @dev
 */
struct test_mdev_parent {
	struct class *class;
	struct device dev;
	struct mdev_parent parent;
};

static inline void test_mdev_parent_release(struct device *dev)
{
}

/**
 * test_mdev_parent_register() - register an mdev driver and its parent
 * @p: the parent, static in the module
 * @name: the class and parent device name
 * @drv: the mdev driver
 * @types: its mdev types
 * @ntypes: how many
 *
 * Return: 0 or an errno; nothing stays registered on failure.
 */
static inline int test_mdev_parent_register(struct test_mdev_parent *p,
					    const char *name,
					    struct mdev_driver *drv,
					    struct mdev_type **types,
					    unsigned int ntypes)
{
	int rc;

	rc = mdev_register_driver(drv);
	if (rc)
		return rc;
	p->class = class_create(name);
	if (IS_ERR(p->class)) {
		rc = PTR_ERR(p->class);
		goto err_driver;
	}
	p->dev.class = p->class;
	p->dev.release = test_mdev_parent_release;
	dev_set_name(&p->dev, "%s", name);
	rc = device_register(&p->dev);
	if (rc) {
		put_device(&p->dev);
		goto err_class;
	}
	rc = mdev_register_parent(&p->parent, &p->dev, drv, types, ntypes);
	if (rc)
		goto err_device;
	return 0;

err_device:
	device_unregister(&p->dev);
err_class:
	class_destroy(p->class);
err_driver:
	mdev_unregister_driver(drv);
	return rc;
}

/**
 * test_mdev_parent_unregister() - undo test_mdev_parent_register()
 * @p: the parent
 * @drv: the mdev driver
 */
static inline void test_mdev_parent_unregister(struct test_mdev_parent *p,
					       struct mdev_driver *drv)
{
	mdev_unregister_parent(&p->parent);
	device_unregister(&p->dev);
	class_destroy(p->class);
	mdev_unregister_driver(drv);
}

#endif
