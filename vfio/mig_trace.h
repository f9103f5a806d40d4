/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Hooks of vfio_main.c into the migration tracepoints (mig_trace.c).
 */
#ifndef __VFIO_MIG_TRACE_H
#define __VFIO_MIG_TRACE_H

#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/vfio.h>
#include <trace/events/vfio_mig.h>

struct file *vfio_mig_trace_set_state(struct vfio_device *device,
				      enum vfio_device_mig_state to);
int vfio_mig_trace_data_size(struct vfio_device *device,
			     unsigned long *stop_copy_length);
int vfio_dma_log_trace_start(struct vfio_device *device,
			     struct rb_root_cached *ranges, u32 nnodes,
			     u64 *page_size);
int vfio_dma_log_trace_stop(struct vfio_device *device);
int vfio_dma_log_trace_report(struct vfio_device *device,
			      const struct vfio_device_feature_dma_logging_report *report,
			      struct iova_bitmap *iter, iova_bitmap_fn_t fn);

/* A driver asked vfio_mig_get_next_state() its way */
static inline void vfio_mig_trace_arc(struct vfio_device *device,
				      enum vfio_device_mig_state cur,
				      enum vfio_device_mig_state target,
				      enum vfio_device_mig_state next)
{
	trace_vfio_mig_arc(dev_name(device->dev), cur, target, next);
}

#endif
