// SPDX-License-Identifier: GPL-2.0
/*
 * The PRE_COPY rate limiter of lowdown's vfio migration engine.
 *
 * During PRE_COPY userspace keeps asking a device for new data
 * (VFIO_MIG_GET_PRECOPY_INFO, read()).  A device whose internal context
 * keeps changing (a NIC VF's flow and queue state, say) can always answer
 * with a fresh delta.  When the changes keep landing on what was just
 * sent, every delta is stale soon after it went out: its bytes take link
 * time from guest RAM and still have to go again in the FINAL image,
 * inside the downtime.  A delta pays only when most of it stays valid
 * until the device stops.  The limiter lets a delta go when that is
 * likely, and otherwise holds the context back for the FINAL image.
 *
 * What it can see
 * ---------------
 * Only what the kernel observes, not the link: QEMU reads at most 1 MiB
 * per iteration of its migration loop and asks VFIO_MIG_GET_PRECOPY_INFO
 * before each, so the time a read takes says nothing about the link.  The
 * limiter uses:
 * - the driver's counts (struct vfio_mig_dirty): bytes dirty now, bytes
 *   written (rewrites included), and of the bytes the last image carried,
 *   how many were written again since (stale);
 * - when each image was made, and when userspace came back for more after
 *   reading its last byte (the inter-request period, in stats.period_ns).
 *
 * Policy
 * ------
 * - The first image (INITIAL) is never held, and STOP_COPY never limited.
 * - No image is made before userspace read the previous one (the engine
 *   asks only when its queue is empty), nor sooner than min_interval_ns
 *   after the previous one.
 * - Hot: at a request, the stale share of the last image is projected,
 *   linearly in the time since that image, to max_interval_ns after it.
 *   When the projection reaches hot_pct percent, the context is rewriting
 *   what it sends faster than sending it can pay off, and nothing new
 *   goes.  The longer such a context is held, the more the time since the
 *   image weighs against what became stale: a context that cools down is
 *   let go again.  Drivers that cannot tell which bytes of an image
 *   changed again report sent = 0; the limiter then counts every dirty
 *   byte as stale, up to the image's size (never cooler than it is).
 * - Saturated: when, over the last window of at least max_interval_ns / 16
 *   between two requests, the device kept writing but its dirty set grew
 *   by less than a sixteenth, the writes land on bytes already dirty: a
 *   delta now would be the same set sent again.  Held, like a hot context,
 *   until a window shows the set growing again or the writes stopping.
 * - Wanted: QEMU 10 weighs the FINAL image's size (MIG_DATA_SIZE) against
 *   what it measured the link to carry in the downtime limit, and asks
 *   for it again and again while that does not fit.  A held context and
 *   nothing else to send leave it measuring next to nothing, so it would
 *   wait for ever.  Once userspace asked VFIO_MIG_LIMITER_ASKS times while
 *   the context was held and nothing was queued, over at least a window,
 *   the delta goes: it shrinks the FINAL, and its burst lets QEMU measure
 *   the link.  At most one such delta per max_interval_ns, so that a
 *   migration that cannot converge anyway does not turn into the device
 *   resending its context back to back.
 * - Otherwise (cool) a delta may go.
 * While held, the engine reports no new data (dirty_bytes 0, read()
 * returning ENOMSG: the uAPI's temporary end of stream) and wakes poll()
 * when a request could get another answer (vfio_mig_limiter_hold_ns()).
 *
 * Time is passed in by the caller (ktime_get_ns() in the engine), so the
 * policy is a pure function of its inputs: the selftests also run it in
 * userspace.  The caller serialises all calls for one limiter (the engine
 * holds the device's migration state lock).
 */
#include <linux/export.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/vfio_mig_limiter.h>

/* Questions for the FINAL's size after which a held delta goes */
#define VFIO_MIG_LIMITER_ASKS 3

/*
 * The saturation window, and how soon a held context is looked at again:
 * never under a millisecond, which would only make poll()'s timer spin
 */
static u64 vfio_mig_limiter_window(const struct vfio_mig_limiter *lim)
{
	return max3(lim->cfg.min_interval_ns, lim->cfg.max_interval_ns / 16,
		    1000000ULL);
}

/*
 * Did the dirty set stop growing while the device writes?  Over the
 * window since the reference when that is complete, else the verdict of
 * the last complete one.
 */
static bool vfio_mig_limiter_saturated(const struct vfio_mig_limiter *lim,
				       u64 now_ns,
				       const struct vfio_mig_dirty *d)
{
	if (!lim->ref_ns ||
	    now_ns - lim->ref_ns < vfio_mig_limiter_window(lim))
		return lim->saturated;
	return lim->ref_dirty && d->written > lim->ref_written &&
	       d->dirty <= lim->ref_dirty + lim->ref_dirty / 16;
}

/* Judge the context; *@hold_ns: when asking again may be answered otherwise */
static enum vfio_mig_verdict
vfio_mig_limiter_judge(const struct vfio_mig_limiter *lim, u64 now_ns,
		       const struct vfio_mig_dirty *d, u64 *hold_ns)
{
	const struct vfio_mig_limiter_cfg *cfg = &lim->cfg;
	u64 elapsed, sent, stale, horizon, projected;
	bool hot;

	elapsed = now_ns > lim->last_image_ns ? now_ns - lim->last_image_ns :
						0;
	if (elapsed < cfg->min_interval_ns) {
		*hold_ns = cfg->min_interval_ns - elapsed;
		return VFIO_MIG_WAIT;
	}
	*hold_ns = vfio_mig_limiter_window(lim);
	elapsed = max(elapsed, 1ULL);

	if (d->sent) {
		sent = d->sent;
		stale = min(d->stale, d->sent);
	} else {
		sent = max(lim->last_image_bytes, 1ULL);
		stale = min(d->dirty, sent);
	}
	/*
	 * stale / sent at the horizon, in percent, the projection capped at
	 * 1000 times what was seen (which is hot anyway once anything is
	 * stale): stale * 100 * horizon / elapsed >= hot_pct * sent.  With
	 * both sizes cut at 2^47 the quotient stays below 2^64 (the division
	 * faults otherwise): 2^47 * 100 * 1000 < 2^64.
	 */
	horizon = min(cfg->max_interval_ns, elapsed * 1000);
	projected = mul_u64_u64_div_u64(min(stale, 1ULL << 47) * 100, horizon,
					elapsed);
	hot = projected >= (u64)cfg->hot_pct * min(sent, 1ULL << 47);
	if (!hot && !vfio_mig_limiter_saturated(lim, now_ns, d))
		return VFIO_MIG_COOL;
	/* *hold_ns is the window here */
	if (lim->asked >= VFIO_MIG_LIMITER_ASKS &&
	    now_ns - lim->asked_ns >= *hold_ns &&
	    (!lim->wanted_ns ||
	     now_ns - lim->wanted_ns >= cfg->max_interval_ns))
		return VFIO_MIG_WANTED;
	return hot ? VFIO_MIG_HOT : VFIO_MIG_SATURATED;
}

/**
 * vfio_mig_limiter_init() - set a limiter up for a new session
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
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_init);

/**
 * vfio_mig_limiter_hold_ns() - how long until a request may get new data
 * @lim: the limiter
 * @now_ns: the current time
 * @d: the driver's counts now
 *
 * Changes nothing: for poll(), which must not count as a request.
 *
 * Return: 0 when a request now may produce an image, U64_MAX when nothing
 * changed (only a change can alter that), else the nanoseconds after which
 * the answer may differ.
 */
u64 vfio_mig_limiter_hold_ns(const struct vfio_mig_limiter *lim, u64 now_ns,
			     const struct vfio_mig_dirty *d)
{
	u64 hold;

	if (!d->dirty)
		return U64_MAX;
	if (!lim->cfg.enabled || !lim->last_image_ns)
		return 0;
	switch (vfio_mig_limiter_judge(lim, now_ns, d, &hold)) {
	case VFIO_MIG_COOL:
	case VFIO_MIG_WANTED:
		return 0;
	default:
		return hold;
	}
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_hold_ns);

/**
 * vfio_mig_limiter_may_produce() - may the device hand out a new image now?
 * @lim: the limiter
 * @now_ns: the current time
 * @d: the driver's counts now
 *
 * Called for a request for data in PRE_COPY with nothing queued.  When
 * this returns false the engine reports nothing new; the request counts
 * as a hold.
 *
 * Return: true to produce an image of the changes now.
 */
bool vfio_mig_limiter_may_produce(struct vfio_mig_limiter *lim, u64 now_ns,
				  const struct vfio_mig_dirty *d)
{
	u64 hold;

	if (!d->dirty)
		return false;
	if (!lim->cfg.enabled || !lim->last_image_ns)
		return true;

	/*
	 * Saturation is judged over whole windows: the verdict of the last
	 * one stands until the next one is complete
	 */
	if (!lim->ref_ns ||
	    now_ns - lim->ref_ns >= vfio_mig_limiter_window(lim)) {
		lim->saturated = vfio_mig_limiter_saturated(lim, now_ns, d);
		lim->ref_ns = max(now_ns, 1ULL);
		lim->ref_dirty = d->dirty;
		lim->ref_written = d->written;
	}
	lim->verdict = vfio_mig_limiter_judge(lim, now_ns, d, &hold);
	if (lim->verdict == VFIO_MIG_COOL || lim->verdict == VFIO_MIG_WANTED)
		return true;

	lim->stats.holds++;
	if (d->dirty > lim->held_dirty) {
		lim->stats.bytes_suppressed += d->dirty - lim->held_dirty;
		lim->held_dirty = d->dirty;
	}
	return false;
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_may_produce);

/* An image, or another record of it, was made: it counts from now */
static void vfio_mig_limiter_made(struct vfio_mig_limiter *lim, u64 now_ns,
				  u64 bytes)
{
	/* Until a request is held again, questions do not count */
	lim->verdict = VFIO_MIG_COOL;
	/* A clock that reads 0 would look like "no image yet" */
	lim->last_image_ns = max(now_ns, 1ULL);
	lim->last_image_bytes = bytes;
	lim->drained_ns = 0;
	lim->ref_ns = 0;
	lim->saturated = false;
	lim->held_dirty = 0;
	lim->asked = 0;
	lim->asked_ns = 0;
}

/**
 * vfio_mig_limiter_produced() - an image was produced
 * @lim: the limiter
 * @now_ns: the current time
 * @bytes: its size (of its first record, when it takes several)
 */
void vfio_mig_limiter_produced(struct vfio_mig_limiter *lim, u64 now_ns,
			       u64 bytes)
{
	if (lim->verdict == VFIO_MIG_WANTED)
		lim->wanted_ns = max(now_ns, 1ULL);
	vfio_mig_limiter_made(lim, now_ns, bytes);
	lim->stats.images++;
	lim->stats.bytes_produced += bytes;
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_produced);

/**
 * vfio_mig_limiter_grew() - another record of the last image was produced
 * @lim: the limiter
 * @now_ns: the current time
 * @bytes: the record's size
 *
 * An image in several records is judged from its latest one: what became
 * stale counts from when the last of it went out.
 */
void vfio_mig_limiter_grew(struct vfio_mig_limiter *lim, u64 now_ns,
			   u64 bytes)
{
	vfio_mig_limiter_made(lim, now_ns, lim->last_image_bytes + bytes);
	lim->stats.bytes_produced += bytes;
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_grew);

/**
 * vfio_mig_limiter_drained() - userspace has read the last image entirely
 * @lim: the limiter
 * @now_ns: when it read the last byte
 */
void vfio_mig_limiter_drained(struct vfio_mig_limiter *lim, u64 now_ns)
{
	if (lim->last_image_ns && !lim->drained_ns)
		lim->drained_ns = max(now_ns, lim->last_image_ns);
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_drained);

/**
 * vfio_mig_limiter_request() - userspace asks for data, the queue empty
 * @lim: the limiter
 * @now_ns: the current time
 *
 * The first request after a drain measures the inter-request period.
 */
void vfio_mig_limiter_request(struct vfio_mig_limiter *lim, u64 now_ns)
{
	if (lim->drained_ns && now_ns >= lim->drained_ns) {
		lim->stats.period_ns = now_ns - lim->drained_ns;
		lim->drained_ns = 0;
	}
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_request);

/**
 * vfio_mig_limiter_asked() - userspace asked for the FINAL image's size
 * @lim: the limiter
 * @now_ns: the current time
 *
 * VFIO_DEVICE_FEATURE_MIG_DATA_SIZE in PRE_COPY: QEMU asks while it waits
 * for the device's share of the downtime to fit.  Counted only while the
 * last request was held (hot or saturated) and nothing is queued: the
 * engine asks the limiter only with an empty queue, and an image resets
 * the verdict.
 */
void vfio_mig_limiter_asked(struct vfio_mig_limiter *lim, u64 now_ns)
{
	if (lim->verdict != VFIO_MIG_HOT && lim->verdict != VFIO_MIG_SATURATED)
		return;
	if (!lim->asked)
		lim->asked_ns = max(now_ns, 1ULL);
	if (lim->asked < U32_MAX)
		lim->asked++;
}
EXPORT_SYMBOL_GPL(vfio_mig_limiter_asked);
