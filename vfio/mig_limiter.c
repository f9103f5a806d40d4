// SPDX-License-Identifier: GPL-2.0
/*
 * The PRE_COPY rate limiter of lowdown's vfio migration engine.
 *
 * During PRE_COPY userspace keeps asking a device for new data
 * (VFIO_MIG_GET_PRECOPY_INFO, read()).  A device whose internal context
 * keeps changing (a NIC VF's flow and queue state, say) can always answer
 * with a fresh delta, and a hot context then goes over the wire again and
 * again: bytes that are stale before they arrive, taken from the link that
 * guest RAM needs.  Sending nothing during PRE_COPY is no better: the whole
 * context lands in the downtime.  The limiter sits between the two: after
 * each image it holds further ones off for an interval, and it adapts that
 * interval to how fast the context churns and how fast userspace drains.
 *
 * Policy
 * ------
 * - The first image (INITIAL) is never held.
 * - No image is produced before userspace has read the previous one: the
 *   hold-off lasts at least as long as the reader took to drain it.
 * - The context is "hot" when it dirties bytes at cfg.hot_pct percent or
 *   more of the rate at which userspace drained the last image: sending it
 *   then chases its own tail, each image mostly stale by the time it has
 *   gone out.  This is judged each time an image is allowed: churn is the
 *   bytes written since the last image (rewrites of the same bytes
 *   included: the dirty count saturates at the size of a hot set, the write
 *   count does not) over the time since, drain is that image's size over
 *   the time userspace took to read it.  A driver that cannot count
 *   rewrites passes its dirty count, and then sees a saturated hot set as
 *   cooler than it is.
 * - After a hot judgement the interval doubles (from max_interval / 64 when
 *   it was 0), up to cfg.max_interval_ns; after a cool one it halves, and
 *   drops to cfg.min_interval_ns once below max_interval / 64.  A cool
 *   context thus sends its changes almost as they come, a hot one settles
 *   at one image per max_interval, and one that cools down is followed
 *   again within a few images.
 * - While held, the engine reports no new data (dirty_bytes 0, read()
 *   returning ENOMSG: the uAPI's "temporary end of stream"), and what it
 *   held back is counted in stats.bytes_suppressed.  STOP_COPY is never
 *   limited: the final image always goes.
 *
 * Time is passed in by the caller (ktime_get_ns() in the engine), so the
 * policy is a pure function of its inputs: the selftests run it in userspace
 * against simulated devices and readers.  The caller serialises all calls
 * for one limiter (the engine holds the device's migration state lock).
 */
#include <linux/export.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/vfio_mig_limiter.h>

/**
 * vfio_mig_limiter_init() - set a limiter up, or change its knobs
 * @lim: the limiter
 * @cfg: the knobs; hot_pct is clamped to 1..100 and a max_interval_ns below
 *	min_interval_ns raised to it
 *
 * Resets the state and the counters.
 */
void vfio_mig_limiter_init(struct vfio_mig_limiter *lim,
			   const struct vfio_mig_limiter_cfg *cfg)
{
	*lim = (struct vfio_mig_limiter){ .cfg = *cfg };
	lim->cfg.hot_pct = clamp(cfg->hot_pct, 1U, 100U);
	lim->cfg.max_interval_ns = max(cfg->max_interval_ns,
				       cfg->min_interval_ns);
	lim->interval_ns = lim->cfg.min_interval_ns;
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_init);

/**
 * vfio_mig_limiter_may_produce() - may the device hand out a new image now?
 * @lim: the limiter
 * @now_ns: the current time
 * @dirty_bytes: bytes of context changed since the last image: the size of
 *	the delta it would produce
 * @written_bytes: the device's running count of context bytes written,
 *	rewrites included
 *
 * Called when userspace asks for data in PRE_COPY.  When this returns
 * false the engine reports nothing new.
 *
 * Return: true to produce an image of the changes now.
 */
bool vfio_mig_limiter_may_produce(struct vfio_mig_limiter *lim, u64 now_ns,
				  u64 dirty_bytes, u64 written_bytes)
{
	u64 elapsed, hold;

	if (!lim->cfg.enabled || !lim->last_image_ns)
		return true;
	if (!dirty_bytes)
		return false;

	elapsed = now_ns - lim->last_image_ns;
	if (lim->drained_ns) {
		u64 drain_ns = lim->drained_ns - lim->last_image_ns;

		hold = max(lim->interval_ns, drain_ns);
		if (elapsed >= hold) {
			u64 churn = written_bytes - lim->last_image_written;

			/*
			 * Hot: churn / elapsed >= hot_pct% of image / drain,
			 * without overflow for any realistic size or time
			 */
			lim->hot = mul_u64_u64_div_u64(min(churn, U64_MAX / 100) *
							 100,
							 max(drain_ns, 1ULL),
							 max(elapsed, 1ULL)) >=
				     lim->last_image_bytes * lim->cfg.hot_pct;
			return true;
		}
	}

	lim->stats.holds++;
	lim->stats.bytes_suppressed += dirty_bytes;
	return false;
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_may_produce);

/**
 * vfio_mig_limiter_produced() - an image was produced
 * @lim: the limiter
 * @now_ns: the current time
 * @bytes: its size
 * @written_bytes: the device's running count of context bytes written
 *
 * Adapts the interval to whether the context was judged hot, and starts
 * the hold-off of this one.
 */
void vfio_mig_limiter_produced(struct vfio_mig_limiter *lim, u64 now_ns,
			       u64 bytes, u64 written_bytes)
{
	struct vfio_mig_limiter_cfg *cfg = &lim->cfg;

	if (lim->last_image_ns) {
		/* Doubling starts from, and halving snaps back below, this */
		u64 seed = max(cfg->max_interval_ns / 64, 1ULL);

		if (lim->hot)
			lim->interval_ns = min(cfg->max_interval_ns,
					       lim->interval_ns ?
					       lim->interval_ns * 2 : seed);
		else if (lim->interval_ns / 2 < seed)
			lim->interval_ns = cfg->min_interval_ns;
		else
			lim->interval_ns = max(cfg->min_interval_ns,
					       lim->interval_ns / 2);
	}
	/* A clock that reads 0 would look like "no image yet" */
	lim->last_image_ns = max(now_ns, 1ULL);
	lim->last_image_bytes = bytes;
	lim->last_image_written = written_bytes;
	lim->drained_ns = 0;
	lim->hot = false;
	lim->stats.images++;
	lim->stats.bytes_produced += bytes;
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_produced);

/**
 * vfio_mig_limiter_drained() - userspace has read the last image entirely
 * @lim: the limiter
 * @now_ns: the current time
 */
void vfio_mig_limiter_drained(struct vfio_mig_limiter *lim, u64 now_ns)
{
	if (lim->last_image_ns && !lim->drained_ns)
		lim->drained_ns = max(now_ns, lim->last_image_ns);
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_drained);
