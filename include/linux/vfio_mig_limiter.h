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
 * struct vfio_mig_dirty - what changed in a device's context, as its
 *	driver reports it to the engine
 * @dirty: bytes changed since the last image: what a delta would carry
 * @written: running count of context bytes written, rewrites included
 * @sent: bytes of context the last image carried, or 0 when the driver
 *	cannot tell which of them were written again
 * @stale: of those @sent bytes, the bytes written again since the image
 * @rest: payload bytes the image being saved in several records still has
 *	to carry, at least (never under: initial_bytes must not reach 0
 *	before the INITIAL image was read), 0 when none is unfinished
 */
struct vfio_mig_dirty {
	u64 dirty;
	u64 written;
	u64 sent;
	u64 stale;
	u64 rest;
};

/**
 * struct vfio_mig_limiter_cfg - the limiter's knobs
 * @min_interval_ns: the shortest time between two images
 * @max_interval_ns: the horizon: an image is worth sending when less than
 *	@hot_pct percent of it is projected to be stale this long after it
 *	was made; a held context is looked at again within 1/16 of it
 * @hot_pct: see @max_interval_ns (1..100)
 * @enabled: false turns the limiter off: every request may produce
 */
struct vfio_mig_limiter_cfg {
	u64 min_interval_ns;
	u64 max_interval_ns;
	u32 hot_pct;
	bool enabled;
};

/**
 * enum vfio_mig_verdict - the limiter's last judgement of the context
 * @VFIO_MIG_COOL: what it sends stays valid: deltas may go
 * @VFIO_MIG_HOT: the last image goes stale too fast: held
 * @VFIO_MIG_SATURATED: the dirty set stopped growing while the device
 *	keeps writing: a delta would resend the same set: held
 * @VFIO_MIG_WAIT: the minimum interval has not passed: held
 * @VFIO_MIG_WANTED: hot or saturated, but userspace keeps asking how big
 *	the FINAL image will be: it waits for the device to switch over, and
 *	the delta goes (see vfio_mig_limiter_asked())
 */
enum vfio_mig_verdict {
	VFIO_MIG_COOL,
	VFIO_MIG_HOT,
	VFIO_MIG_SATURATED,
	VFIO_MIG_WAIT,
	VFIO_MIG_WANTED,
};

/**
 * struct vfio_mig_limiter_stats - what the limiter did, for sysfs
 * @images: images (initial and deltas) produced
 * @bytes_produced: bytes of those images, all their records
 * @bytes_suppressed: dirty bytes held back: for each hold (the requests
 *	between two images that got nothing new), the most that were dirty
 * @holds: requests answered "nothing new" while the context had changes
 * @period_ns: the last inter-request period: from the moment userspace
 *	read the last byte of an image to its next request
 */
struct vfio_mig_limiter_stats {
	u64 images;
	u64 bytes_produced;
	u64 bytes_suppressed;
	u64 holds;
	u64 period_ns;
};

/**
 * struct vfio_mig_limiter - one session's limiter state
 * @cfg: the knobs, copied at init
 * @stats: counters
 * @last_image_ns: when the last image (its latest record) was produced; 0
 *	before the first
 * @last_image_bytes: its size so far
 * @drained_ns: when userspace read its last byte; 0 while it has not
 * @ref_ns: when the saturation reference was sampled; 0: not yet
 * @ref_dirty: the dirty count then
 * @ref_written: the write count then
 * @saturated: the last whole window since the reference showed saturation
 * @held_dirty: the most bytes dirty in the current hold
 * @asked: times userspace asked for the FINAL's size while held
 * @asked_ns: when the first of those came
 * @wanted_ns: when the last image let go as wanted was made; 0: none yet
 * @verdict: enum vfio_mig_verdict of the last decision
 */
struct vfio_mig_limiter {
	struct vfio_mig_limiter_cfg cfg;
	struct vfio_mig_limiter_stats stats;
	u64 last_image_ns;
	u64 last_image_bytes;
	u64 drained_ns;
	u64 ref_ns;
	u64 ref_dirty;
	u64 ref_written;
	bool saturated;
	u64 held_dirty;
	u32 asked;
	u64 asked_ns;
	u64 wanted_ns;
	u32 verdict;
};

void vfio_mig_limiter_init(struct vfio_mig_limiter *lim,
			   const struct vfio_mig_limiter_cfg *cfg);
u64 vfio_mig_limiter_hold_ns(const struct vfio_mig_limiter *lim, u64 now_ns,
			     const struct vfio_mig_dirty *d);
bool vfio_mig_limiter_may_produce(struct vfio_mig_limiter *lim, u64 now_ns,
				  const struct vfio_mig_dirty *d);
void vfio_mig_limiter_produced(struct vfio_mig_limiter *lim, u64 now_ns,
			       u64 bytes);
void vfio_mig_limiter_grew(struct vfio_mig_limiter *lim, u64 now_ns,
			   u64 bytes);
void vfio_mig_limiter_drained(struct vfio_mig_limiter *lim, u64 now_ns);
void vfio_mig_limiter_request(struct vfio_mig_limiter *lim, u64 now_ns);
void vfio_mig_limiter_asked(struct vfio_mig_limiter *lim, u64 now_ns);

#endif
