// SPDX-License-Identifier: GPL-2.0
/*
 * A test mdev for lowdown's vfio migration engine (mig_engine.c).
 *
 * The device has a context (MET_DEFAULT_SIZE bytes to begin with) that
 * stands for a VF's internal state, and nothing else.  Commands written to
 * its vfio device fd change the context while the device runs; read()
 * returns it.  Migration goes entirely through the engine: the device's
 * callbacks save the context as TLVs (a MET_TLV_CONFIG with its size, then
 * one MET_TLV_BLOCK per 4 KiB block: all of them in a full image, the
 * blocks written since the previous image in a delta) and load such records
 * into a staging copy, which becomes the context only when RESUMING ends.
 * MET_CMD_FAIL makes the next callback of a kind fail, for the error arcs;
 * kinds armed together each fail once.
 *
 * Locking: met_state::lock protects the context (its blocks, dirty bits and
 * staging copy: struct vfio_mig_blocks).  The engine's callbacks take it
 * under the engine's state lock; commands take it alone, or inside
 * vfio_mig_engine_when_idle().
 */
#include <linux/bits.h>
#include <linux/device.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/vfio_mig_blocks.h>
#include <linux/vfio_mig_engine.h>

#include "mig_engine_test.h"
#include "test_mdev.h"

struct met_state {
	struct vfio_device vdev;
	struct vfio_mig_engine eng;
	/* Protects everything below */
	struct mutex lock;
	enum vfio_mig_run run;
	/* The context, its dirty blocks and its staging copy */
	struct vfio_mig_blocks ctx;
	/*
	 * Each kind set (BIT(enum met_fail)) fails once, after letting
	 * fail_skip[kind] calls of it pass
	 */
	u32 fail;
	u32 fail_skip[MET_FAIL_SAVE_LATE + 1];
};

static struct test_mdev_parent met;

static struct met_state *to_met(struct vfio_device *vdev)
{
	return container_of(vdev, struct met_state, vdev);
}

static struct met_state *eng_to_met(struct vfio_mig_engine *eng)
{
	return container_of(eng, struct met_state, eng);
}

/* Consume a MET_CMD_FAIL of @kind; lock held */
static bool met_fail(struct met_state *m, u32 kind)
{
	if (!(m->fail & BIT(kind)))
		return false;
	if (m->fail_skip[kind]) {
		m->fail_skip[kind]--;
		return false;
	}
	m->fail &= ~BIT(kind);
	return true;
}

static int met_set_run(struct vfio_mig_engine *eng, enum vfio_mig_run run)
{
	struct met_state *m = eng_to_met(eng);
	int rc = 0;

	mutex_lock(&m->lock);
	if (met_fail(m, MET_FAIL_SET_RUN))
		rc = -EIO;
	else
		m->run = run;
	mutex_unlock(&m->lock);
	return rc;
}

static int met_save(struct vfio_mig_engine *eng, u8 type, bool delta_ok,
		    struct vfio_mig_buf *buf, u8 *flags)
{
	struct met_state *m = eng_to_met(eng);
	bool full = type == VFIO_MIG_RECORD_INITIAL ||
		    (type == VFIO_MIG_RECORD_FINAL && !delta_ok);
	bool start = !(*flags & VFIO_MIG_RECORD_F_MORE);
	__le64 size = cpu_to_le64(m->ctx.size);
	int rc = 0;

	mutex_lock(&m->lock);
	if (met_fail(m, MET_FAIL_SAVE))
		rc = -EIO;
	else if (full && start)
		rc = vfio_mig_buf_put_tlv(buf, MET_TLV_CONFIG,
					  VFIO_MIG_TLV_F_REQUIRED, &size,
					  sizeof(size));
	else if (!full && type == VFIO_MIG_RECORD_FINAL)
		*flags |= VFIO_MIG_RECORD_F_DELTA;
	if (!rc)
		rc = vfio_mig_blocks_save(&m->ctx, buf, MET_TLV_BLOCK, full,
					  start);
	/* A failure once the blocks are in: they must be put back */
	if (rc >= 0 && met_fail(m, MET_FAIL_SAVE_LATE)) {
		vfio_mig_blocks_save_end(&m->ctx, false);
		rc = -EIO;
	}
	/* The blocks left go in the image's next record */
	if (rc == 1)
		*flags |= VFIO_MIG_RECORD_F_MORE;
	else if (!rc)
		*flags &= ~VFIO_MIG_RECORD_F_MORE;
	mutex_unlock(&m->lock);
	return rc < 0 ? rc : 0;
}

static void met_save_end(struct vfio_mig_engine *eng, bool commit)
{
	struct met_state *m = eng_to_met(eng);

	mutex_lock(&m->lock);
	vfio_mig_blocks_save_end(&m->ctx, commit);
	mutex_unlock(&m->lock);
}

static void met_dirty(struct vfio_mig_engine *eng, struct vfio_mig_dirty *d)
{
	struct met_state *m = eng_to_met(eng);

	mutex_lock(&m->lock);
	vfio_mig_blocks_dirty(&m->ctx, d);
	mutex_unlock(&m->lock);
}

static u64 met_data_size(struct vfio_mig_engine *eng, bool delta_ok)
{
	struct met_state *m = eng_to_met(eng);
	u64 size;

	mutex_lock(&m->lock);
	size = vfio_mig_tlv_size(sizeof(__le64)) +
	       (delta_ok ? m->ctx.ndirty : m->ctx.size / MET_BLOCK) *
	       vfio_mig_tlv_size(VFIO_MIG_BLOCK_TLV_LEN);
	mutex_unlock(&m->lock);
	return size;
}

static int met_load_config(void *priv, u16 type, const void *value,
			   u32 length)
{
	struct met_state *m = priv;
	__le64 size;

	memcpy(&size, value, sizeof(size));
	/* A device of another size: a different configuration */
	return le64_to_cpu(size) == m->ctx.size ? 0 : -EINVAL;
}

static int met_load_block(void *priv, u16 type, const void *value,
			  u32 length)
{
	struct met_state *m = priv;

	return vfio_mig_blocks_consume(&m->ctx, value, length);
}

static const struct vfio_mig_tlv_desc met_tlvs[] = {
	{
		.type = MET_TLV_CONFIG,
		.flags = VFIO_MIG_TLV_DESC_IN_FULL,
		.min_len = sizeof(__le64),
		.max_len = sizeof(__le64),
		.consume = met_load_config,
	},
	{
		.type = MET_TLV_BLOCK,
		.flags = VFIO_MIG_TLV_DESC_REPEAT,
		.min_len = VFIO_MIG_BLOCK_TLV_LEN,
		.max_len = VFIO_MIG_BLOCK_TLV_LEN,
		.consume = met_load_block,
	},
};

static const struct vfio_mig_tlv_set met_tlv_set = {
	.descs = met_tlvs,
	.ndescs = ARRAY_SIZE(met_tlvs),
};

static int met_load(struct vfio_mig_engine *eng,
		    const struct vfio_mig_record *rec, const void *payload,
		    struct vfio_mig_parse_err *err)
{
	struct met_state *m = eng_to_met(eng);
	int rc;

	mutex_lock(&m->lock);
	if (met_fail(m, MET_FAIL_LOAD)) {
		rc = -EIO;
		err->what = "injected load failure";
		goto out;
	}
	rc = vfio_mig_blocks_load_begin(&m->ctx, rec);
	if (!rc)
		rc = vfio_mig_tlv_parse(&met_tlv_set, rec, payload, m, err);
	if (!rc)
		rc = vfio_mig_blocks_load_end(&m->ctx, rec, err);
out:
	mutex_unlock(&m->lock);
	return rc;
}

static int met_load_end(struct vfio_mig_engine *eng, bool commit)
{
	struct met_state *m = eng_to_met(eng);
	int rc = 0;

	mutex_lock(&m->lock);
	if (commit && met_fail(m, MET_FAIL_COMMIT))
		rc = -EIO;
	else if (commit)
		rc = vfio_mig_blocks_commit(&m->ctx);
	else
		vfio_mig_blocks_abort(&m->ctx);
	mutex_unlock(&m->lock);
	return rc;
}

/* The engine's part of a reset: the device runs again */
static void met_engine_reset(struct vfio_mig_engine *eng)
{
	struct met_state *m = eng_to_met(eng);

	mutex_lock(&m->lock);
	m->run = VFIO_MIG_RUN;
	mutex_unlock(&m->lock);
}

static const struct vfio_mig_engine_ops met_engine_ops = {
	.owner = THIS_MODULE,
	.set_run = met_set_run,
	.save = met_save,
	.save_end = met_save_end,
	.dirty = met_dirty,
	.data_size = met_data_size,
	.load = met_load,
	.load_end = met_load_end,
	.reset = met_engine_reset,
};

static struct file *met_set_state(struct vfio_device *vdev,
				  enum vfio_device_mig_state new_state)
{
	return vfio_mig_engine_set_state(&to_met(vdev)->eng, new_state);
}

static int met_get_state(struct vfio_device *vdev,
			 enum vfio_device_mig_state *state)
{
	return vfio_mig_engine_get_state(&to_met(vdev)->eng, state);
}

static int met_data_size_op(struct vfio_device *vdev,
			    unsigned long *stop_copy_length)
{
	return vfio_mig_engine_data_size(&to_met(vdev)->eng, stop_copy_length);
}

static const struct vfio_migration_ops met_mig_ops = {
	.migration_set_state = met_set_state,
	.migration_get_state = met_get_state,
	.migration_get_data_size = met_data_size_op,
};

static int met_fill(struct met_state *m, const struct met_cmd *cmd)
{
	u64 end;
	int rc = 0;

	mutex_lock(&m->lock);
	if (check_add_overflow(cmd->offset, cmd->length, &end) ||
	    end > m->ctx.size || cmd->value > U8_MAX) {
		rc = -EINVAL;
	} else if (m->run == VFIO_MIG_RUN_STOP) {
		rc = -EBUSY;
	} else {
		memset(m->ctx.data + cmd->offset, cmd->value, cmd->length);
		vfio_mig_blocks_wrote(&m->ctx, cmd->offset, cmd->length);
	}
	mutex_unlock(&m->lock);
	if (!rc)
		vfio_mig_engine_changed(&m->eng);
	return rc;
}

/* Swap in the new context at @arg; no migration going on */
static int met_swap_ctx(struct vfio_mig_engine *eng, void *arg)
{
	struct met_state *m = eng_to_met(eng);

	mutex_lock(&m->lock);
	swap(m->ctx, *(struct vfio_mig_blocks *)arg);
	mutex_unlock(&m->lock);
	return 0;
}

static int met_resize(struct met_state *m, u64 size)
{
	struct vfio_mig_blocks ctx;
	int rc;

	if (size > MET_MAX_SIZE)
		return -EINVAL;
	rc = vfio_mig_blocks_alloc(&ctx, size);
	if (rc)
		return rc;
	rc = vfio_mig_engine_when_idle(&m->eng, met_swap_ctx, &ctx);
	vfio_mig_blocks_free(&ctx);
	return rc;
}

static ssize_t met_write(struct vfio_device *vdev, const char __user *ubuf,
			 size_t count, loff_t *ppos)
{
	struct met_state *m = to_met(vdev);
	struct met_cmd cmd;
	int rc;

	if (*ppos || count != sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(&cmd, ubuf, sizeof(cmd)))
		return -EFAULT;

	switch (cmd.op) {
	case MET_CMD_FILL:
		rc = met_fill(m, &cmd);
		break;
	case MET_CMD_RESIZE:
		rc = met_resize(m, cmd.length);
		break;
	case MET_CMD_FAIL:
		if (cmd.value < MET_FAIL_SAVE || cmd.value > MET_FAIL_SAVE_LATE)
			return -EINVAL;
		if (cmd.offset > U32_MAX)
			return -EINVAL;
		mutex_lock(&m->lock);
		m->fail |= BIT(cmd.value);
		m->fail_skip[cmd.value] = cmd.offset;
		mutex_unlock(&m->lock);
		rc = 0;
		break;
	default:
		rc = -EINVAL;
	}
	return rc ? rc : sizeof(cmd);
}

static ssize_t met_read(struct vfio_device *vdev, char __user *ubuf,
			size_t count, loff_t *ppos)
{
	struct met_state *m = to_met(vdev);
	ssize_t rc;

	mutex_lock(&m->lock);
	if (*ppos >= m->ctx.size) {
		rc = 0;
	} else {
		count = min_t(u64, count, m->ctx.size - *ppos);
		rc = copy_to_user(ubuf, m->ctx.data + *ppos, count) ?
			-EFAULT : count;
	}
	mutex_unlock(&m->lock);
	return rc;
}

static int met_reset(struct vfio_device *vdev)
{
	vfio_mig_engine_reset(&to_met(vdev)->eng);
	return 0;
}

static void met_close(struct vfio_device *vdev)
{
	met_reset(vdev);
}

static long met_ioctl(struct vfio_device *vdev, unsigned int cmd,
		      unsigned long arg)
{
	if (cmd == VFIO_DEVICE_RESET)
		return met_reset(vdev);
	return -ENOTTY;
}

static int met_init(struct vfio_device *vdev)
{
	struct met_state *m = to_met(vdev);
	int rc;

	rc = vfio_mig_blocks_alloc(&m->ctx, MET_DEFAULT_SIZE);
	if (rc)
		return rc;
	mutex_init(&m->lock);
	vfio_mig_engine_init(&m->eng, vdev, &met_engine_ops,
			     MET_MAX_SIZE + MET_MAX_SIZE / 64);
	vdev->migration_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
				VFIO_MIGRATION_PRE_COPY;
	vdev->mig_ops = &met_mig_ops;
	return 0;
}

static void met_release(struct vfio_device *vdev)
{
	struct met_state *m = to_met(vdev);

	vfio_mig_blocks_free(&m->ctx);
	mutex_destroy(&m->lock);
}

static const struct vfio_device_ops met_ops = {
	.name = "vfio-mig-engine-test",
	.init = met_init,
	.release = met_release,
	.read = met_read,
	.write = met_write,
	.ioctl = met_ioctl,
	.close_device = met_close,
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

static int met_probe(struct mdev_device *mdev)
{
	struct met_state *m;
	int rc;

	m = vfio_alloc_device(met_state, vdev, &mdev->dev, &met_ops);
	if (IS_ERR(m))
		return PTR_ERR(m);
	rc = vfio_register_emulated_iommu_dev(&m->vdev);
	if (rc)
		goto err_put;
	rc = vfio_mig_engine_sysfs_add(&m->eng);
	if (rc)
		goto err_unregister;
	dev_set_drvdata(&mdev->dev, m);
	return 0;

err_unregister:
	vfio_unregister_group_dev(&m->vdev);
err_put:
	vfio_put_device(&m->vdev);
	return rc;
}

static void met_remove(struct mdev_device *mdev)
{
	struct met_state *m = dev_get_drvdata(&mdev->dev);

	vfio_mig_engine_exit(&m->eng);
	vfio_unregister_group_dev(&m->vdev);
	vfio_put_device(&m->vdev);
}

static struct mdev_type met_type = { .sysfs_name = "m" };
static struct mdev_type *met_types[] = { &met_type };

static struct mdev_driver met_driver = {
	.device_api = "vfio-mig-engine-test",
	.max_instances = 16,
	.driver = {
		.name = MET_PARENT_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = met_probe,
	.remove = met_remove,
};

static int __init met_module_init(void)
{
	return test_mdev_parent_register(&met, MET_PARENT_NAME, &met_driver,
					 met_types, ARRAY_SIZE(met_types));
}

static void __exit met_module_exit(void)
{
	test_mdev_parent_unregister(&met, &met_driver);
}

module_init(met_module_init);
module_exit(met_module_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test mdev for lowdown's vfio migration engine");
