// SPDX-License-Identifier: GPL-2.0
/*
 * The PRE_COPY rate limiter (drivers/vfio/mig_limiter.c), built into this
 * test from the kernel source with userspace stand-ins for its headers
 * (shim/), and run against simulated devices and readers.
 *
 * The simulation: a device context of CTX bytes changes at a given churn
 * rate (bytes per second, the dirty count saturating at the context size);
 * userspace asks for data every POLL and drains images at a given rate; the
 * device produces an image of everything dirty when the limiter lets it.
 * Ten simulated seconds of PRE_COPY, then the final image.  Compared with
 * the limiter off, the tests check the limiter's promises: a cool context
 * is followed closely, a hot one is not re-sent again and again, no image
 * is produced before the previous one was drained, and the interval
 * returns to its minimum once the context cools down.
 */
#include "../kselftest_harness.h"

#include "../../../../drivers/vfio/mig_limiter.c"

#define MS 1000000ULL
#define SEC (1000 * MS)
#define CTX (8ULL << 20)
#define POLL (5 * MS)

struct sim {
	u64 churn;		/* bytes dirtied per second */
	u64 drain;		/* bytes per second userspace reads */
	u64 seconds;
	u64 hot_set;		/* bytes the churn keeps rewriting; 0: all */
	/* Results */
	u64 precopy_bytes;	/* sent before the final image */
	u64 final_bytes;	/* dirty at the end: the downtime's share */
	u64 images;
	u64 max_gap_ns;		/* longest time between images after the first */
	u64 early_images;	/* images produced before the previous drained */
};

static const struct vfio_mig_limiter_cfg default_cfg = {
	.min_interval_ns = 0,
	.max_interval_ns = 1 * SEC,
	.hot_pct = 50,
	.enabled = true,
};

/* Run one simulated PRE_COPY; @cfg NULL means the limiter is off */
static void simulate(struct sim *sim, const struct vfio_mig_limiter_cfg *cfg,
		     struct vfio_mig_limiter *lim)
{
	struct vfio_mig_limiter_cfg off = { .enabled = false };
	u64 now = 1, dirty = CTX, written = CTX, sending = 0, send_done = 0;
	u64 last = 0;
	u64 end = sim->seconds * SEC;

	vfio_mig_limiter_init(lim, cfg ?: &off);
	for (; now < end; now += POLL) {
		/* The context changes: writes, which saturate the dirty count */
		written += sim->churn * POLL / SEC;
		dirty = min(sim->hot_set ?: CTX, dirty + sim->churn * POLL / SEC);

		/* Userspace is reading the previous image */
		if (sending && now >= send_done) {
			vfio_mig_limiter_drained(lim, send_done);
			sending = 0;
		}
		if (sending || !dirty ||
		    !vfio_mig_limiter_may_produce(lim, now, dirty, written))
			continue;

		if (lim->last_image_ns && !lim->drained_ns && cfg)
			sim->early_images++;
		vfio_mig_limiter_produced(lim, now, dirty, written);
		if (last)
			sim->max_gap_ns = max(sim->max_gap_ns, now - last);
		last = now;
		sim->images++;
		sim->precopy_bytes += dirty;
		sending = dirty;
		send_done = now + dirty * SEC / sim->drain;
		dirty = 0;
	}
	sim->final_bytes = dirty;
}

TEST(cool_context_followed_closely)
{
	struct sim on = { .churn = 64 << 10, .drain = 100 << 20, .seconds = 10 };
	struct sim off = on;
	struct vfio_mig_limiter lim;

	simulate(&off, NULL, &lim);
	simulate(&on, &default_cfg, &lim);
	TH_LOG("on: %llu images, %llu bytes, %llu final; off: %llu images, %llu bytes",
	       on.images, on.precopy_bytes, on.final_bytes, off.images,
	       off.precopy_bytes);
	/* Nearly every poll still gets its changes, and the final is small */
	ASSERT_LE(off.images * 9 / 10, on.images);
	ASSERT_GE(64 << 10, on.final_bytes);
	ASSERT_EQ(0, lim.interval_ns);
}

TEST(hot_context_not_resent)
{
	/* Dirties the whole context in 100 ms; the link drains 8 MiB in 80 */
	struct sim on = { .churn = 80 << 20, .drain = 100 << 20, .seconds = 10 };
	struct sim off = on;
	struct vfio_mig_limiter lim;

	simulate(&off, NULL, &lim);
	simulate(&on, &default_cfg, &lim);
	TH_LOG("on: %llu images, %llu bytes, interval %llu ms, suppressed %llu",
	       on.images, on.precopy_bytes, lim.interval_ns / MS,
	       lim.stats.bytes_suppressed);
	TH_LOG("off: %llu images, %llu bytes", off.images, off.precopy_bytes);
	/* At most about one image per max_interval once it has grown */
	ASSERT_EQ(default_cfg.max_interval_ns, lim.interval_ns);
	ASSERT_GE(off.precopy_bytes / 5, on.precopy_bytes);
	ASSERT_LT(0, lim.stats.holds);
	ASSERT_LT(0, lim.stats.bytes_suppressed);
	ASSERT_EQ(on.images, lim.stats.images);
	ASSERT_EQ(on.precopy_bytes, lim.stats.bytes_produced);
}

TEST(hot_set_not_resent)
{
	/* 512 KiB of an 8 MiB context rewritten at 80 MiB/s */
	struct sim on = { .churn = 80 << 20, .drain = 100 << 20, .seconds = 10,
			  .hot_set = 512 << 10 };
	struct sim off = on;
	struct vfio_mig_limiter lim;

	simulate(&off, NULL, &lim);
	simulate(&on, &default_cfg, &lim);
	TH_LOG("on: %llu images, %llu bytes; off: %llu images, %llu bytes",
	       on.images, on.precopy_bytes, off.images, off.precopy_bytes);
	ASSERT_EQ(default_cfg.max_interval_ns, lim.interval_ns);
	ASSERT_GE(off.precopy_bytes / 5, on.precopy_bytes);
}

TEST(never_before_drained)
{
	/* A slow reader: 8 MiB take 800 ms */
	struct sim on = { .churn = 1 << 20, .drain = 10 << 20, .seconds = 10 };
	struct vfio_mig_limiter lim;

	simulate(&on, &default_cfg, &lim);
	ASSERT_EQ(0, on.early_images);
	ASSERT_LE(800 * MS, on.max_gap_ns);
}

TEST(follows_a_context_that_cools_down)
{
	struct vfio_mig_limiter lim;
	struct sim hot = { .churn = 80 << 20, .drain = 100 << 20, .seconds = 5 };
	u64 now, t;

	simulate(&hot, &default_cfg, &lim);
	ASSERT_EQ(default_cfg.max_interval_ns, lim.interval_ns);
	/* Now only a trickle: each allowed image halves the interval */
	now = 6 * SEC;
	vfio_mig_limiter_drained(&lim, now);
	for (t = 0; t < 12 && lim.interval_ns; t++) {
		now += lim.interval_ns + MS;
		u64 written = lim.last_image_written + 4096;

		ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, now, 4096,
							 written));
		vfio_mig_limiter_produced(&lim, now, 4096, written);
		vfio_mig_limiter_drained(&lim, now + 1000);
	}
	ASSERT_EQ(0, lim.interval_ns) TH_LOG("still %llu ns after %llu images",
					     lim.interval_ns, t);
}

TEST(off_and_edges)
{
	struct vfio_mig_limiter_cfg cfg = default_cfg;
	struct vfio_mig_limiter lim;

	/* Off: every request may produce */
	cfg.enabled = false;
	vfio_mig_limiter_init(&lim, &cfg);
	vfio_mig_limiter_produced(&lim, 10, CTX, CTX);
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, 11, CTX, CTX));

	/* The first image is never held; nothing dirty, nothing to send */
	cfg.enabled = true;
	vfio_mig_limiter_init(&lim, &cfg);
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, 0, CTX, 0));
	vfio_mig_limiter_produced(&lim, 0, CTX, 0);
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, SEC, 0, 0));
	/* Not drained: held, and counted */
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, SEC, 100, 100));
	ASSERT_EQ(1, lim.stats.holds);
	ASSERT_EQ(100, lim.stats.bytes_suppressed);

	/* Knobs out of range are brought in */
	cfg.hot_pct = 0;
	cfg.min_interval_ns = 2 * SEC;
	cfg.max_interval_ns = SEC;
	vfio_mig_limiter_init(&lim, &cfg);
	ASSERT_EQ(1, lim.cfg.hot_pct);
	ASSERT_EQ(2 * SEC, lim.cfg.max_interval_ns);
	ASSERT_EQ(2 * SEC, lim.interval_ns);
	cfg.hot_pct = 1000;
	vfio_mig_limiter_init(&lim, &cfg);
	ASSERT_EQ(100, lim.cfg.hot_pct);

	/* Huge sizes and times do not overflow the hot test */
	cfg = default_cfg;
	vfio_mig_limiter_init(&lim, &cfg);
	vfio_mig_limiter_produced(&lim, 1, 1ULL << 50, 0);
	vfio_mig_limiter_drained(&lim, 1ULL << 62);
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, (1ULL << 62) + SEC,
						 1ULL << 50, U64_MAX));
	ASSERT_TRUE(lim.hot);
}

TEST_HARNESS_MAIN
