/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The PRE_COPY rate limiter of lowdown's vfio migration engine: decides when
 * a device whose context keeps changing may hand out a new delta.  See
 * drivers/vfio/mig_limiter.c.
 */
#ifndef __LINUX_VFIO_MIG_LIMITER_H
#define __LINUX_VFIO_MIG_LIMITER_H

#include <linux/types.h>

/**
 * struct vfio_mig_limiter_cfg - the limiter's knobs
 * @min_interval_ns: shortest hold-off after an image; 0 lets a cool context
 *	send its changes as soon as userspace asks
 * @max_interval_ns: longest hold-off, reached by a context so hot that what
 *	was sent is stale before the next image
 * @hot_pct: the context is hot when it dirties bytes at this percentage or
 *	more of the rate at which userspace drains images (1..100)
 * @enabled: false turns the limiter off: every request may produce
 */
struct vfio_mig_limiter_cfg {
	u64 min_interval_ns;
	u64 max_interval_ns;
	u32 hot_pct;
	bool enabled;
};

/**
 * struct vfio_mig_limiter_stats - what the limiter did, for sysfs
 * @images: images (initial and deltas) produced
 * @bytes_produced: bytes of those images
 * @bytes_suppressed: dirty bytes reported as nothing new because the
 *	hold-off had not ended, summed over the requests that were held off
 * @holds: requests held off
 */
struct vfio_mig_limiter_stats {
	u64 images;
	u64 bytes_produced;
	u64 bytes_suppressed;
	u64 holds;
};

/**
 * struct vfio_mig_limiter - one device's limiter state
 * @cfg: the knobs, copied at init and on update
 * @stats: counters
 * @interval_ns: the current hold-off after an image
 * @last_image_ns: when the last image was produced; 0 before the first
 * @last_image_bytes: its size
 * @last_image_written: the device's write count when it was produced
 * @drained_ns: when userspace finished reading it; 0 while it has not
 * @hot: the context was judged hot when the pending image was allowed
 */
struct vfio_mig_limiter {
	struct vfio_mig_limiter_cfg cfg;
	struct vfio_mig_limiter_stats stats;
	u64 interval_ns;
	u64 last_image_ns;
	u64 last_image_bytes;
	u64 last_image_written;
	u64 drained_ns;
	bool hot;
};

void vfio_mig_limiter_init(struct vfio_mig_limiter *lim,
			   const struct vfio_mig_limiter_cfg *cfg);
bool vfio_mig_limiter_may_produce(struct vfio_mig_limiter *lim, u64 now_ns,
				  u64 dirty_bytes, u64 written_bytes);
void vfio_mig_limiter_produced(struct vfio_mig_limiter *lim, u64 now_ns,
			       u64 bytes, u64 written_bytes);
void vfio_mig_limiter_drained(struct vfio_mig_limiter *lim, u64 now_ns);

#endif
