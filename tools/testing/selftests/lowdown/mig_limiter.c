// SPDX-License-Identifier: GPL-2.0
/*
 * The PRE_COPY rate limiter (drivers/vfio/mig_limiter.c), built into this
 * test from the kernel source with userspace stand-ins for its headers
 * (shim/): the policy as a function, on simulated contexts.  The limiter's
 * behaviour under QEMU, through the engine and vfsim, is tested in the VM
 * (vfsim_mig: limiter_under_qemu_pattern).
 *
 * The simulation follows what the engine does and what QEMU 10 asks: a
 * context of 4 KiB blocks with dirty bits, which also knows the blocks of
 * the last image and counts those written again (as mig_blocks.c does); a
 * churn of 256-byte writes at random places in its first SPAN bytes; and a
 * reader that comes every 10 ms (QEMU's migration loop), asks for the
 * PRE_COPY info (the limiter's side-effect free hold_ns()) and reads at
 * most 1 MiB.  An image is made only when the previous one was read out
 * and the limiter lets it.  Ten simulated seconds, then the FINAL image:
 * what is dirty then, which travels in the downtime.
 */
#include "../kselftest_harness.h"

#include "../../../../drivers/vfio/mig_limiter.c"

#define MS 1000000ULL
#define SEC (1000 * MS)
#define BLOCK 4096ULL
#define ITERATE (10 * MS)
#define READ_MAX (1024 * 1024ULL)

struct sim {
	u64 ctx;		/* context bytes */
	u64 span;		/* the churn's bytes, from 0; 0: all */
	u64 churn;		/* bytes written per second */
	u64 seconds;
	bool no_sent;		/* a driver that cannot tell what went stale */
	u64 stop_churn_ns;	/* churn stops then; 0: never */
	/* Results */
	u64 precopy_bytes;	/* images, the INITIAL included */
	u64 final_bytes;	/* dirty at the end: the downtime's share */
	u64 images;
	u64 min_gap_ns;		/* shortest time between two images */
	u64 holds_seen;		/* info answers "hold" while dirty */
};

static const struct vfio_mig_limiter_cfg default_cfg = {
	.min_interval_ns = 1 * MS,
	.max_interval_ns = 2 * SEC,
	.hot_pct = 50,
	.enabled = true,
};

struct ctx {
	u64 nblocks, ndirty, nsent, nstale, written;
	unsigned char *dirty, *sent;
};

static void ctx_write(struct ctx *c, u64 off, u64 len)
{
	u64 i;

	for (i = off / BLOCK; i <= (off + len - 1) / BLOCK; i++) {
		if (c->dirty[i])
			continue;
		c->dirty[i] = 1;
		c->ndirty++;
		if (c->sent[i])
			c->nstale++;
	}
	c->written += len;
}

/* An image of everything (@full) or of the dirty blocks; its bytes */
static u64 ctx_save(struct ctx *c, bool full)
{
	u64 n = full ? c->nblocks : c->ndirty;

	if (full)
		memset(c->sent, 1, c->nblocks);
	else
		memcpy(c->sent, c->dirty, c->nblocks);
	memset(c->dirty, 0, c->nblocks);
	c->nsent = n;
	c->ndirty = 0;
	c->nstale = 0;
	return n * BLOCK;
}

static void ctx_counts(struct ctx *c, bool no_sent, struct vfio_mig_dirty *d)
{
	*d = (struct vfio_mig_dirty){
		.dirty = c->ndirty * BLOCK,
		.written = c->written,
		.sent = no_sent ? 0 : c->nsent * BLOCK,
		.stale = no_sent ? 0 : c->nstale * BLOCK,
	};
}

/* Run one simulated PRE_COPY; @cfg NULL: the limiter off */
static void simulate(struct sim *sim, const struct vfio_mig_limiter_cfg *cfg,
		     struct vfio_mig_limiter *lim)
{
	struct vfio_mig_limiter_cfg off = { .enabled = false };
	struct ctx c = { .nblocks = sim->ctx / BLOCK };
	u64 span = sim->span ?: sim->ctx, queue, now, owed = 0, last = 0;
	struct vfio_mig_dirty d;

	c.dirty = calloc(c.nblocks, 1);
	c.sent = calloc(c.nblocks, 1);
	srand(7);
	sim->min_gap_ns = U64_MAX;
	vfio_mig_limiter_init(lim, cfg ?: &off);
	/* PRE_COPY starts: the INITIAL image, never held */
	queue = ctx_save(&c, true);
	vfio_mig_limiter_produced(lim, 1, queue);
	sim->precopy_bytes = queue;
	sim->images = 1;

	for (now = MS; now < sim->seconds * SEC; now += MS) {
		if (!sim->stop_churn_ns || now < sim->stop_churn_ns) {
			owed += sim->churn / 1000;
			for (; owed >= 256; owed -= 256)
				ctx_write(&c, (rand() % (span / 256)) * 256,
					  256);
		}
		if (now % ITERATE)
			continue;

		if (!queue) {
			ctx_counts(&c, sim->no_sent, &d);
			if (cfg && d.dirty &&
			    vfio_mig_limiter_hold_ns(lim, now, &d))
				sim->holds_seen++;
			vfio_mig_limiter_request(lim, now);
			if (vfio_mig_limiter_may_produce(lim, now, &d)) {
				queue = ctx_save(&c, false);
				vfio_mig_limiter_produced(lim, now, queue);
				sim->precopy_bytes += queue;
				sim->images++;
				if (last)
					sim->min_gap_ns = min(sim->min_gap_ns,
							      now - last);
				last = now;
			}
		}
		if (queue) {
			queue -= min(queue, READ_MAX);
			if (!queue)
				vfio_mig_limiter_drained(lim, now);
		}
	}
	sim->final_bytes = c.ndirty * BLOCK;
	free(c.dirty);
	free(c.sent);
}

static void report(struct __test_metadata *_metadata, const char *what,
		   struct sim *s)
{
	TH_LOG("%s: %llu images, %llu KiB before the stop, %llu KiB in the final",
	       what, s->images, s->precopy_bytes >> 10, s->final_bytes >> 10);
}

/*
 * The whole context rewritten (span 0) at 1 and 10 MB/s: its dirty set
 * saturates, every delta is stale at once.  Limited: the INITIAL image
 * and hardly anything more; off: the context again and again.
 */
TEST(saturating_context_not_resent)
{
	static const u64 churns[] = { 1000000, 10000000 };
	struct vfio_mig_limiter lim;
	int i;

	for (i = 0; i < 2; i++) {
		struct sim on = { .ctx = 4 << 20, .churn = churns[i],
				  .seconds = 10 };
		struct sim off = on;

		simulate(&off, NULL, &lim);
		simulate(&on, &default_cfg, &lim);
		report(_metadata, "on", &on);
		report(_metadata, "off", &off);
		ASSERT_GE(on.ctx + on.ctx / 4, on.precopy_bytes);
		ASSERT_LE(10 * on.ctx, off.precopy_bytes);
		ASSERT_LT(0, lim.stats.holds);
		ASSERT_EQ(on.images, lim.stats.images);
		ASSERT_EQ(on.precopy_bytes, lim.stats.bytes_produced);
	}
}

/*
 * A hot set (256 KiB and 1 MiB of a 4 MiB context) at 1 and 10 MB/s: the
 * cold rest goes once, in the INITIAL image; the hot set is held for the
 * FINAL, which carries at most a quarter of the context (noprecopy's
 * FINAL carries all of it).
 */
TEST(hot_set_held_for_the_final)
{
	static const u64 spans[] = { 256 << 10, 1 << 20 };
	static const u64 churns[] = { 1000000, 10000000 };
	struct vfio_mig_limiter lim;
	int i, j;

	for (i = 0; i < 2; i++) {
		for (j = 0; j < 2; j++) {
			struct sim on = { .ctx = 4 << 20, .span = spans[i],
					  .churn = churns[j], .seconds = 10 };

			simulate(&on, &default_cfg, &lim);
			report(_metadata, "hot set", &on);
			ASSERT_GE(on.ctx / 4, on.final_bytes);
			ASSERT_GE(on.ctx + on.ctx / 4, on.precopy_bytes);
		}
	}
}

/*
 * A cool context, 16 KB/s over 64 MiB: what is sent stays valid, so the
 * changes go as they come and the FINAL is small
 */
TEST(cool_context_followed)
{
	struct sim on = { .ctx = 64 << 20, .churn = 16000, .seconds = 10 };
	struct vfio_mig_limiter lim;

	simulate(&on, &default_cfg, &lim);
	report(_metadata, "cool", &on);
	ASSERT_LE(20, on.images);
	ASSERT_GE(256 << 10, on.final_bytes);
}

/* Hot for 3 s, then the churn stops: the held changes go before the stop */
TEST(follows_a_context_that_cools_down)
{
	struct sim on = { .ctx = 4 << 20, .span = 256 << 10,
			  .churn = 10000000, .seconds = 10,
			  .stop_churn_ns = 3 * SEC };
	struct vfio_mig_limiter lim;

	simulate(&on, &default_cfg, &lim);
	report(_metadata, "cooled", &on);
	ASSERT_EQ(0, on.final_bytes);
	ASSERT_LE(2, on.images);
}

/* A driver that cannot tell what went stale is held as well */
TEST(without_staleness_counts)
{
	struct sim on = { .ctx = 4 << 20, .churn = 1000000, .seconds = 10,
			  .no_sent = true };
	struct sim hot = { .ctx = 4 << 20, .span = 256 << 10,
			   .churn = 1000000, .seconds = 10, .no_sent = true };
	struct vfio_mig_limiter lim;

	simulate(&on, &default_cfg, &lim);
	report(_metadata, "saturating", &on);
	ASSERT_GE(on.ctx + on.ctx / 4, on.precopy_bytes);
	simulate(&hot, &default_cfg, &lim);
	report(_metadata, "hot set", &hot);
	ASSERT_GE(hot.ctx + hot.ctx / 2, hot.precopy_bytes);
}

/* min_interval_ns keeps images apart, even for a cool context */
TEST(min_interval_kept)
{
	struct vfio_mig_limiter_cfg cfg = default_cfg;
	struct sim on = { .ctx = 64 << 20, .churn = 16000, .seconds = 10 };
	struct vfio_mig_limiter lim;

	cfg.min_interval_ns = 300 * MS;
	simulate(&on, &cfg, &lim);
	ASSERT_LE(300 * MS, on.min_gap_ns);
	ASSERT_LE(10, on.images);
	ASSERT_LT(0, on.holds_seen);
}

TEST(off_and_edges)
{
	struct vfio_mig_limiter_cfg cfg = default_cfg;
	struct vfio_mig_dirty d = { .dirty = 100, .written = 100 };
	struct vfio_mig_dirty none = {};
	struct vfio_mig_limiter lim;

	/* Off: every request with changes may produce */
	cfg.enabled = false;
	vfio_mig_limiter_init(&lim, &cfg);
	vfio_mig_limiter_produced(&lim, 10, 4096);
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, 11, &d));
	ASSERT_EQ(0, vfio_mig_limiter_hold_ns(&lim, 11, &d));
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, 11, &none));

	/* Nothing dirty: nothing to send, until a change */
	cfg.enabled = true;
	vfio_mig_limiter_init(&lim, &cfg);
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, 0, &d));
	vfio_mig_limiter_produced(&lim, MS, 1 << 20);
	ASSERT_EQ(U64_MAX, vfio_mig_limiter_hold_ns(&lim, SEC, &none));
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, SEC, &none));
	ASSERT_EQ(0, lim.stats.holds);

	/* Within min_interval: held for the rest of it, counted once each */
	ASSERT_EQ(MS / 2, vfio_mig_limiter_hold_ns(&lim, 3 * MS / 2, &d));
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, 3 * MS / 2, &d));
	ASSERT_EQ(VFIO_MIG_WAIT, lim.verdict);
	ASSERT_EQ(1, lim.stats.holds);
	ASSERT_EQ(100, lim.stats.bytes_suppressed);
	/* The same hold: suppressed counts its most, not every request */
	d.dirty = 300;
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, 3 * MS / 2, &d));
	ASSERT_EQ(300, lim.stats.bytes_suppressed);

	/* Cool (a sliver of the image stale, long after it): may go */
	d = (struct vfio_mig_dirty){ .dirty = 8192, .written = 8192,
				     .sent = 1 << 20, .stale = 4096 };
	ASSERT_EQ(0, vfio_mig_limiter_hold_ns(&lim, SEC, &d));
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, SEC, &d));
	ASSERT_EQ(VFIO_MIG_COOL, lim.verdict);
	/* Hot: 10 % stale 100 ms in projects to 200 % in 2 s */
	d.stale = (1 << 20) / 10;
	ASSERT_NE(0, vfio_mig_limiter_hold_ns(&lim, 100 * MS, &d));
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, 100 * MS, &d));
	ASSERT_EQ(VFIO_MIG_HOT, lim.verdict);
	/*
	 * Userspace keeps asking for the FINAL's size while held: after three
	 * questions over a window (125 ms here) the delta goes, once per
	 * max_interval
	 */
	vfio_mig_limiter_asked(&lim, 100 * MS);
	vfio_mig_limiter_asked(&lim, 110 * MS);
	vfio_mig_limiter_asked(&lim, 120 * MS);
	ASSERT_NE(0, vfio_mig_limiter_hold_ns(&lim, 120 * MS, &d));
	ASSERT_EQ(0, vfio_mig_limiter_hold_ns(&lim, 300 * MS, &d));
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, 300 * MS, &d));
	ASSERT_EQ(VFIO_MIG_WANTED, lim.verdict);
	vfio_mig_limiter_produced(&lim, 300 * MS, 8192);
	ASSERT_EQ(0, lim.asked);
	d.stale = d.sent;
	/* Questions while nothing is held do not count */
	vfio_mig_limiter_asked(&lim, 310 * MS);
	ASSERT_EQ(0, lim.asked);
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, 400 * MS, &d));
	vfio_mig_limiter_asked(&lim, 400 * MS);
	vfio_mig_limiter_asked(&lim, 500 * MS);
	vfio_mig_limiter_asked(&lim, 600 * MS);
	/* Held again, asked enough, but within max_interval of the last */
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, 650 * MS, &d));
	ASSERT_EQ(VFIO_MIG_HOT, lim.verdict);
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, 2400 * MS, &d));
	ASSERT_EQ(VFIO_MIG_WANTED, lim.verdict);

	/* Knobs out of range are brought in */
	cfg.hot_pct = 0;
	cfg.min_interval_ns = 2 * SEC;
	cfg.max_interval_ns = SEC;
	vfio_mig_limiter_init(&lim, &cfg);
	ASSERT_EQ(1, lim.cfg.hot_pct);
	ASSERT_EQ(2 * SEC, lim.cfg.max_interval_ns);
	cfg.hot_pct = 1000;
	vfio_mig_limiter_init(&lim, &cfg);
	ASSERT_EQ(100, lim.cfg.hot_pct);

	/* Huge sizes and times neither overflow nor divide by zero */
	cfg = default_cfg;
	cfg.max_interval_ns = U64_MAX;
	vfio_mig_limiter_init(&lim, &cfg);
	vfio_mig_limiter_produced(&lim, 1, 1ULL << 60);
	d = (struct vfio_mig_dirty){ .dirty = 1ULL << 60, .written = U64_MAX,
				     .sent = 1ULL << 60, .stale = 1ULL << 60 };
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, 1ULL << 62, &d));
	ASSERT_EQ(VFIO_MIG_HOT, lim.verdict);
	ASSERT_FALSE(vfio_mig_limiter_may_produce(&lim, 2, &d));
	d.stale = 0;
	ASSERT_TRUE(vfio_mig_limiter_may_produce(&lim, U64_MAX, &d));
}

/*
 * An image in several records counts once, its bytes all, and is judged
 * from its last record: a hold's minimum interval runs from there
 */
TEST(image_in_records)
{
	struct vfio_mig_dirty d = { .dirty = 4096, .written = 4096 };
	struct vfio_mig_limiter lim;

	vfio_mig_limiter_init(&lim, &default_cfg);
	vfio_mig_limiter_produced(&lim, MS, 256 << 10);
	vfio_mig_limiter_grew(&lim, 50 * MS, 256 << 10);
	vfio_mig_limiter_grew(&lim, 100 * MS, 1000);
	ASSERT_EQ(1, lim.stats.images);
	ASSERT_EQ((512 << 10) + 1000, lim.stats.bytes_produced);
	ASSERT_EQ((512 << 10) + 1000, lim.last_image_bytes);
	ASSERT_EQ(100 * MS, lim.last_image_ns);
	ASSERT_EQ(default_cfg.min_interval_ns / 2,
		  vfio_mig_limiter_hold_ns(&lim, 100 * MS +
					   default_cfg.min_interval_ns / 2,
					   &d));
}

TEST_HARNESS_MAIN
