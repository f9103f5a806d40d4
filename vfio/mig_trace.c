// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tracepoints of VFIO live migration (include/trace/events/vfio_mig.h).
 *
 * vfio_main.c calls the hooks here in place of the driver's migration and
 * DMA logging ops, so the events fire for every driver, ours or not.  Each
 * hook costs one static-key test while its events are off; only when they
 * are on does it read the clock, ask the driver for the state it leaves, or
 * count the bits of a dirty bitmap.
 *
 * Migration data files belong to the driver, so the core sees neither their
 * read() and write() calls nor VFIO_MIG_GET_PRECOPY_INFO.  When one of
 * those events is on as a state change opens a data file, the core hands
 * userspace a tracing file instead (struct vfio_mig_trace_file): a thin
 * proxy that calls the driver's file operations and traces each call.  A
 * file opened while the events were off stays untraced for its life; a
 * driver file that is not a stream (stream_open()), which the uAPI asks for,
 * is never proxied.  The proxy never touches the vfio_device (the device may
 * go away while userspace holds the file): it keeps a copy of its name.
 *
 * Locking: none of its own.  The proxy calls the driver's operations as
 * the VFS would, so the driver's locking applies unchanged; the byte count
 * is atomic.
 */
#include <linux/anon_inodes.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/user_bitmap.h>
#include <linux/vfio.h>

#include "mig_trace.h"

#define CREATE_TRACE_POINTS
#include <trace/events/vfio_mig.h>

/* The file userspace holds while data events are on: see above */
struct vfio_mig_trace_file {
	struct file *inner;
	atomic64_t total;
	char dev[];
};

static u64 vfio_trace_clock(bool on)
{
	return on ? ktime_get_ns() : 0;
}

static bool vfio_mig_trace_data_on(void)
{
	return trace_vfio_mig_read_enabled() ||
	       trace_vfio_mig_write_enabled() ||
	       trace_vfio_mig_precopy_info_enabled();
}

/* Give the driver's file the O_NONBLOCK userspace set on the proxy */
static void vfio_mig_trace_sync_flags(struct file *filp, struct file *inner)
{
	if (!((filp->f_flags ^ inner->f_flags) & O_NONBLOCK))
		return;
	spin_lock(&inner->f_lock);
	inner->f_flags = (inner->f_flags & ~O_NONBLOCK) |
			 (filp->f_flags & O_NONBLOCK);
	spin_unlock(&inner->f_lock);
}

static ssize_t vfio_mig_trace_read(struct file *filp, char __user *buf,
				   size_t len, loff_t *pos)
{
	struct vfio_mig_trace_file *tf = filp->private_data;
	u64 t0 = ktime_get_ns();
	ssize_t ret;
	u64 total;

	vfio_mig_trace_sync_flags(filp, tf->inner);
	ret = tf->inner->f_op->read(tf->inner, buf, len, pos);
	total = atomic64_add_return(max_t(ssize_t, ret, 0), &tf->total);
	trace_vfio_mig_read(tf->dev, len, ret, total, ktime_get_ns() - t0);
	return ret;
}

static ssize_t vfio_mig_trace_write(struct file *filp, const char __user *buf,
				    size_t len, loff_t *pos)
{
	struct vfio_mig_trace_file *tf = filp->private_data;
	u64 t0 = ktime_get_ns();
	ssize_t ret;
	u64 total;

	vfio_mig_trace_sync_flags(filp, tf->inner);
	ret = tf->inner->f_op->write(tf->inner, buf, len, pos);
	total = atomic64_add_return(max_t(ssize_t, ret, 0), &tf->total);
	trace_vfio_mig_write(tf->dev, len, ret, total, ktime_get_ns() - t0);
	return ret;
}

static void vfio_mig_trace_info(struct vfio_mig_trace_file *tf,
				unsigned int cmd, void __user *arg, long ret)
{
	struct vfio_precopy_info info = {};

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO ||
	    !trace_vfio_mig_precopy_info_enabled())
		return;
	if (!ret && copy_from_user(&info, arg,
				   offsetofend(struct vfio_precopy_info,
					       dirty_bytes)))
		ret = -EFAULT;
	trace_vfio_mig_precopy_info(tf->dev, info.initial_bytes,
				    info.dirty_bytes, ret);
}

static long vfio_mig_trace_ioctl(struct file *filp, unsigned int cmd,
				 unsigned long arg)
{
	struct vfio_mig_trace_file *tf = filp->private_data;
	long ret;

	if (!tf->inner->f_op->unlocked_ioctl)
		return -ENOTTY;
	ret = tf->inner->f_op->unlocked_ioctl(tf->inner, cmd, arg);
	vfio_mig_trace_info(tf, cmd, (void __user *)arg, ret);
	return ret;
}

#ifdef CONFIG_COMPAT
static long vfio_mig_trace_compat_ioctl(struct file *filp, unsigned int cmd,
					unsigned long arg)
{
	struct vfio_mig_trace_file *tf = filp->private_data;
	long ret;

	if (!tf->inner->f_op->compat_ioctl)
		return -ENOIOCTLCMD;
	ret = tf->inner->f_op->compat_ioctl(tf->inner, cmd, arg);
	vfio_mig_trace_info(tf, cmd, compat_ptr(arg), ret);
	return ret;
}
#endif

static __poll_t vfio_mig_trace_poll(struct file *filp,
				    struct poll_table_struct *wait)
{
	struct vfio_mig_trace_file *tf = filp->private_data;

	if (!tf->inner->f_op->poll)
		return DEFAULT_POLLMASK;
	return tf->inner->f_op->poll(tf->inner, wait);
}

static int vfio_mig_trace_release(struct inode *inode, struct file *filp)
{
	struct vfio_mig_trace_file *tf = filp->private_data;

	fput(tf->inner);
	kfree(tf);
	return 0;
}

static const struct file_operations vfio_mig_trace_fops = {
	.owner = THIS_MODULE,
	.read = vfio_mig_trace_read,
	.write = vfio_mig_trace_write,
	.unlocked_ioctl = vfio_mig_trace_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl = vfio_mig_trace_compat_ioctl,
#endif
	.poll = vfio_mig_trace_poll,
	.release = vfio_mig_trace_release,
};

/*
 * Put a tracing proxy in front of the driver's data file.  Tracing never
 * fails a migration: when the proxy cannot be made, the driver's file goes
 * to userspace untraced.
 */
static struct file *vfio_mig_trace_wrap(struct vfio_device *device,
					struct file *inner)
{
	const char *name = dev_name(device->dev);
	struct vfio_mig_trace_file *tf;
	struct file *filp;

	if (!(inner->f_mode & FMODE_STREAM) ||
	    (inner->f_mode & FMODE_READ && !inner->f_op->read) ||
	    (inner->f_mode & FMODE_WRITE && !inner->f_op->write))
		return inner;
	tf = kzalloc(struct_size(tf, dev, strlen(name) + 1), GFP_KERNEL);
	if (!tf)
		return inner;
	strscpy(tf->dev, name, strlen(name) + 1);
	tf->inner = inner;
	filp = anon_inode_getfile("[vfio-mig-trace]", &vfio_mig_trace_fops, tf,
				  inner->f_flags & (O_ACCMODE | O_NONBLOCK));
	if (IS_ERR(filp)) {
		kfree(tf);
		return inner;
	}
	stream_open(file_inode(filp), filp);
	return filp;
}

/**
 * vfio_mig_trace_set_state() - VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, traced
 * @device: the device
 * @to: the state userspace asks for
 *
 * Calls the driver's migration_set_state() and fires vfio_mig_set_state.
 * With data events on, a data file the change opens is proxied (see the
 * top of this file).
 *
 * Return: what migration_set_state() returned, or the proxy of its file.
 */
struct file *vfio_mig_trace_set_state(struct vfio_device *device,
				      enum vfio_device_mig_state to)
{
	enum vfio_device_mig_state from = VFIO_DEVICE_STATE_ERROR;
	bool on = trace_vfio_mig_set_state_enabled();
	struct file *filp;
	u64 t0;

	if (on && device->mig_ops->migration_get_state(device, &from))
		from = VFIO_DEVICE_STATE_ERROR;
	t0 = vfio_trace_clock(on);
	filp = device->mig_ops->migration_set_state(device, to);
	if (on)
		trace_vfio_mig_set_state(dev_name(device->dev), from, to,
					 PTR_ERR_OR_ZERO(filp),
					 !IS_ERR_OR_NULL(filp),
					 ktime_get_ns() - t0);
	if (!IS_ERR_OR_NULL(filp) && vfio_mig_trace_data_on())
		filp = vfio_mig_trace_wrap(device, filp);
	return filp;
}

/**
 * vfio_mig_trace_data_size() - VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, traced
 * @device: the device
 * @stop_copy_length: set to the driver's estimate
 *
 * Return: what the driver's migration_get_data_size() returned.
 */
int vfio_mig_trace_data_size(struct vfio_device *device,
			     unsigned long *stop_copy_length)
{
	int ret;

	ret = device->mig_ops->migration_get_data_size(device,
						       stop_copy_length);
	trace_vfio_mig_data_size(dev_name(device->dev),
				 ret ? 0 : *stop_copy_length, ret);
	return ret;
}

/**
 * vfio_dma_log_trace_start() - VFIO_DEVICE_FEATURE_DMA_LOGGING_START, traced
 * @device: the device
 * @ranges: the IOVA ranges to log
 * @nnodes: how many
 * @page_size: the page size asked for; the driver may change it
 *
 * Return: what the driver's log_start() returned.
 */
int vfio_dma_log_trace_start(struct vfio_device *device,
			     struct rb_root_cached *ranges, u32 nnodes,
			     u64 *page_size)
{
	bool on = trace_vfio_dma_log_start_enabled();
	struct interval_tree_node *node;
	u64 t0 = vfio_trace_clock(on);
	u64 bytes = 0;
	int ret;

	ret = device->log_ops->log_start(device, ranges, nnodes, page_size);
	if (!on)
		return ret;
	for (node = interval_tree_iter_first(ranges, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX))
		bytes += node->last - node->start + 1;
	trace_vfio_dma_log_start(dev_name(device->dev), nnodes, bytes,
				 *page_size, ret, ktime_get_ns() - t0);
	return ret;
}

/**
 * vfio_dma_log_trace_stop() - VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, traced
 * @device: the device
 *
 * Return: what the driver's log_stop() returned.
 */
int vfio_dma_log_trace_stop(struct vfio_device *device)
{
	int ret = device->log_ops->log_stop(device);

	trace_vfio_dma_log_stop(dev_name(device->dev), ret);
	return ret;
}

/**
 * vfio_dma_log_trace_report() - VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
 *	traced
 * @device: the device
 * @report: the user's request, checked
 * @iter: the iova_bitmap over the user's bitmap
 * @fn: the walk's callback, which calls the driver's log_read_and_clear()
 *
 * With the event on, the bits set in the user's bitmap are counted before
 * and after the walk: the difference is the event's @pages.
 *
 * Return: what the walk returned.
 */
int vfio_dma_log_trace_report(struct vfio_device *device,
			      const struct vfio_device_feature_dma_logging_report *report,
			      struct iova_bitmap *iter, iova_bitmap_fn_t fn)
{
	const u64 __user *map = u64_to_user_ptr(report->bitmap);
	bool on = trace_vfio_dma_log_report_enabled();
	u64 nbits, before = 0, after = 0, t0;
	int ret;

	if (!on)
		return iova_bitmap_for_each(iter, device, fn);

	nbits = DIV_ROUND_UP_ULL(report->length, report->page_size);
	user_bitmap_weight(map, nbits, &before);
	t0 = ktime_get_ns();
	ret = iova_bitmap_for_each(iter, device, fn);
	t0 = ktime_get_ns() - t0;
	if (user_bitmap_weight(map, nbits, &after) || after < before)
		after = before;
	trace_vfio_dma_log_report(dev_name(device->dev), report->iova,
				  report->length, report->page_size,
				  after - before, ret, t0);
	return ret;
}
