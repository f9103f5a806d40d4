// SPDX-License-Identifier: GPL-2.0
/*
 * lowdown's vfio migration data engine.
 *
 * Every vfio variant driver with migration writes the same machinery: the
 * saving and resuming files, their read()/write() rules, the PRE_COPY
 * "temporary end of stream", VFIO_MIG_GET_PRECOPY_INFO, the walk through the
 * FSM.  This file does it once.  A driver embeds a struct vfio_mig_engine,
 * points its vfio_migration_ops at vfio_mig_engine_set_state() and friends,
 * and supplies the callbacks of struct vfio_mig_engine_ops: how the device
 * runs, how to save an image of its context, how to load one.
 *
 * The stream
 * ----------
 * A saving file carries records of the vfio_mig_stream.h format, numbered
 * from 0: one INITIAL image when PRE_COPY starts, DELTA images while
 * PRE_COPY goes on, and one FINAL image in STOP_COPY, after which the stream
 * ends (read() returns 0).  Going straight from STOP to STOP_COPY gives a
 * stream of one FINAL image.  Images are made as userspace reads them, a
 * record of at most VFIO_MIG_RECORD_MAX at a time: read() asks the driver
 * for the next record when the queue is empty.  So the STOP_COPY arc
 * only stops the device, the first bytes of the FINAL image can be read at
 * once, and no image is ever whole in memory.  A record the driver fails
 * to make fails that read() and is made again by the next.  A record waits
 * in the file's queue (one at most) and is read out byte by byte, in any
 * segmentation.  STOP_COPY
 * cuts an unfinished INITIAL or DELTA image short: what it did not carry
 * is still dirty, and the FINAL image carries it.
 *
 * A resuming file takes the same bytes in any segmentation.  It collects a
 * whole record (header, then payload), checks both checksums and the
 * record's place in the stream, and only then hands it to the driver's
 * load callback.  The first bad byte fails that write() with an errno and a
 * kernel log line saying what and where, and every later write() with the
 * same errno: a stream has no way to resynchronise.  RESUMING -> STOP then
 * fails too (as it does for a stream cut before its FINAL record), and the
 * driver throws its staged state away: the device keeps what it had.
 *
 * PRE_COPY
 * --------
 * VFIO_MIG_GET_PRECOPY_INFO reports initial_bytes, what of the INITIAL
 * image is unread (queued, and the driver's estimate of its records still
 * to be made; it never grows), and dirty_bytes, the same for DELTA images.
 * When the queue is empty and no image is unfinished, an info request or a
 * read() asks the limiter (mig_limiter.c) whether a new image may go.  If
 * it may and the driver reports changes, read() makes a DELTA, queues its
 * first record and reads from it; an info request only reports the
 * DELTA's estimated size in dirty_bytes and makes nothing.  Userspace asks
 * for the info last of all just before it stops the device, and a DELTA
 * made then would
 * travel inside the downtime, ahead of the FINAL image that carries the
 * same changes anyway.  When no image may go, both counts are zero and
 * read() fails with ENOMSG, the uAPI's temporary end of stream.  poll()
 * reports readable while something is
 * queued or the stream has ended; in PRE_COPY, data that only the limiter
 * holds back does not wake it.
 *
 * Locking
 * -------
 * Three locks, taken in this order:
 * - vfio_mig_file::lock (a mutex) serialises the file's read(), write() and
 *   ioctl() calls; user memory is copied under it and under no other;
 * - vfio_mig_engine::state_lock (a mutex) serialises state changes, image
 *   production and loading; every driver callback runs under it, and the
 *   driver must not take it or call back into the engine from a callback;
 * - vfio_mig_file::qlock (a spinlock) protects the file's queue and counts,
 *   so that a session's end can free its record without the file lock.
 * A file holds a reference on the vfio device, so the engine it points to
 * outlives it; the engine's pointers to files are cleared under state_lock
 * when the files are released or the session ends.  Files of a session
 * that ended stay open but fail every call with ENODEV.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <linux/vfio_mig_engine.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <trace/events/vfio_mig.h>

/* A record made by the saving side: header and payload, read from @off */
struct vfio_mig_chunk {
	struct list_head node;
	u8 type;
	u8 flags;
	u8 *data;
	size_t len;
	size_t off;
};

/* A saving or resuming file of one migration session */
struct vfio_mig_file {
	struct vfio_mig_engine *eng;
	/* The driver's module, pinned while the file is open */
	struct module *owner;
	bool resuming;
	/* Serialises read(), write() and ioctl() on the file */
	struct mutex lock;

	/* Saving, under @qlock: the queue and what it holds unread */
	spinlock_t qlock;
	struct list_head queue;
	u64 initial_left;
	u64 dirty_left;
	/* The queue ran empty at this time and the limiter was not told yet */
	u64 drained_ns;
	/* The FINAL record is queued: once the queue is empty, end of stream */
	bool end;
	/* The session ended: every call fails with ENODEV */
	bool disabled;
	/*
	 * A reader copies out of the queue's first record without @qlock:
	 * the session's end then leaves the queue for it to free
	 */
	bool reader_busy;
	wait_queue_head_t wq;
	/* Wakes poll() when the limiter's hold ends */
	struct hrtimer hold;
	/* Saving, under the engine's state_lock */
	u32 next_seq;
	/*
	 * The image the next record belongs to (0: none is being made) and
	 * the flags it goes on with (0: it starts with that record)
	 */
	u8 next_type;
	u8 next_flags;
	/* A whole image went out: a FINAL may be a delta */
	bool whole;

	/* Resuming, under @lock: the record being collected */
	struct vfio_mig_record_hdr hdr;
	size_t hdr_got;
	struct vfio_mig_record rec;
	struct vfio_mig_record prev;
	bool have_prev;
	/* The TLV parse of the image being loaded, between its records */
	struct vfio_mig_image image;
	u8 *payload;
	size_t payload_size;
	u64 payload_got;
	/* Bytes of the stream taken so far, for error messages */
	u64 stream_off;
	/* The stream was rejected with this errno */
	int err;
};

static const char *vfio_mig_dev(struct vfio_mig_engine *eng)
{
	return dev_name(eng->vdev->dev);
}

static bool vfio_mig_precopy(enum vfio_device_mig_state state)
{
	return state == VFIO_DEVICE_STATE_PRE_COPY ||
	       state == VFIO_DEVICE_STATE_PRE_COPY_P2P;
}

static enum vfio_mig_run vfio_mig_run_of(enum vfio_device_mig_state state)
{
	switch (state) {
	case VFIO_DEVICE_STATE_RUNNING:
	case VFIO_DEVICE_STATE_PRE_COPY:
		return VFIO_MIG_RUN;
	case VFIO_DEVICE_STATE_RUNNING_P2P:
	case VFIO_DEVICE_STATE_PRE_COPY_P2P:
		return VFIO_MIG_RUN_P2P;
	default:
		return VFIO_MIG_RUN_STOP;
	}
}

/**
 * vfio_mig_buf_reserve() - make room at the end of a record being built
 * @buf: the record
 * @len: bytes wanted
 *
 * Return: where the @len bytes go, or NULL when the record is full.
 */
void *vfio_mig_buf_reserve(struct vfio_mig_buf *buf, size_t len)
{
	size_t need;
	u8 *data;

	if (check_add_overflow(buf->len, len, &need) || need > buf->max)
		return NULL;
	data = buf->data + buf->len;
	buf->len = need;
	return data;
}
EXPORT_SYMBOL_GPL(vfio_mig_buf_reserve);

/**
 * vfio_mig_buf_put() - append bytes to a record being built
 * @buf: the record
 * @data: the bytes
 * @len: how many
 *
 * Return: 0, or -EFBIG when the record is full.
 */
int vfio_mig_buf_put(struct vfio_mig_buf *buf, const void *data, size_t len)
{
	void *p = vfio_mig_buf_reserve(buf, len);

	if (!p)
		return -EFBIG;
	memcpy(p, data, len);
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_buf_put);

/**
 * vfio_mig_buf_put_tlv() - append one TLV to a record being built
 * @buf: the record
 * @type: the TLV type
 * @flags: VFIO_MIG_TLV_F_*
 * @value: the value
 * @length: its length in bytes
 *
 * Return: 0, or -EFBIG when the record is full.
 */
int vfio_mig_buf_put_tlv(struct vfio_mig_buf *buf, u16 type, u16 flags,
			 const void *value, u32 length)
{
	size_t size = vfio_mig_tlv_size(length);
	void *p = vfio_mig_buf_reserve(buf, size);

	if (!p)
		return -EFBIG;
	if (WARN_ON(vfio_mig_tlv_put(p, size, type, flags, value, length) !=
		    size))
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_buf_put_tlv);

/*
 * The payload the records still to be made of @f's image will carry, by
 * the driver's estimate: all of it (@data_size) before the image starts,
 * what its @dirty rest says after; state_lock held
 */
static u64 vfio_mig_left(struct vfio_mig_engine *eng, struct vfio_mig_file *f)
{
	struct vfio_mig_dirty d = {};

	if (!f->next_flags)
		return eng->ops->data_size(eng,
					   f->next_type == VFIO_MIG_RECORD_DELTA ||
					   (f->next_type == VFIO_MIG_RECORD_FINAL &&
					    f->whole));
	eng->ops->dirty(eng, &d);
	return d.rest;
}

/*
 * The buffer of @f's next record: as big as the driver's estimate of what
 * the image has left, a page over for what changes meanwhile, at most
 * VFIO_MIG_RECORD_MAX (or max_payload and a header); state_lock held
 */
static size_t vfio_mig_record_size(struct vfio_mig_engine *eng,
				   struct vfio_mig_file *f)
{
	const size_t hdr_len = sizeof(struct vfio_mig_record_hdr);
	size_t max = min_t(u64, hdr_len + eng->max_payload,
			   VFIO_MIG_RECORD_MAX);

	return min_t(u64, max,
		     PAGE_ALIGN(hdr_len + min_t(u64, vfio_mig_left(eng, f), max) +
				PAGE_SIZE));
}

/*
 * Have the driver make the next record of @f's stream, of the image
 * @f->next_type; state_lock held.  Return: the record, NULL when a DELTA
 * turned out empty, or an ERR_PTR (nothing changed then).
 */
static struct vfio_mig_chunk *vfio_mig_make(struct vfio_mig_engine *eng,
					    struct vfio_mig_file *f)
{
	const size_t hdr_len = sizeof(struct vfio_mig_record_hdr);
	struct vfio_mig_buf buf = { .len = hdr_len };
	u8 type = f->next_type, flags = f->next_flags;
	bool start = !f->next_flags;
	struct vfio_mig_chunk *chunk;
	u64 t0 = 0;
	int rc;

	lockdep_assert_held(&eng->state_lock);
	if (WARN_ON(!type))
		return ERR_PTR(-EINVAL);
	/*
	 * Everything that can fail comes before the save or is undone with
	 * it: once the driver was told its record is committed, the record
	 * is queued.  The record is allocated whole, once: it never grows.
	 * Past a page it is vmalloc'ed: a 256 KiB kmalloc is an order-6
	 * allocation, which a fragmented host may have to compact for, and
	 * the FINAL image's records are made inside the downtime.
	 */
	buf.max = vfio_mig_record_size(eng, f);
	chunk = kzalloc(sizeof(*chunk), GFP_KERNEL_ACCOUNT);
	buf.data = buf.max > PAGE_SIZE ?
			   __vmalloc(buf.max, GFP_KERNEL_ACCOUNT) :
			   kmalloc(buf.max, GFP_KERNEL_ACCOUNT);
	if (!chunk || !buf.data) {
		kvfree(buf.data);
		kfree(chunk);
		return ERR_PTR(-ENOMEM);
	}
	if (trace_vfio_mig_engine_record_enabled())
		t0 = ktime_get_ns();
	rc = eng->ops->save(eng, type, f->whole, &buf, &flags);
	/*
	 * The flags a driver may set: F_DELTA on a FINAL after a whole image,
	 * kept through the image; F_MORE on a record that carried something
	 * (else the image would never end)
	 */
	if (!rc && ((flags & ~VFIO_MIG_RECORD_FLAGS) ||
		    ((flags & VFIO_MIG_RECORD_F_DELTA) &&
		     (type != VFIO_MIG_RECORD_FINAL || !f->whole)) ||
		    (f->next_flags &&
		     ((flags ^ f->next_flags) & VFIO_MIG_RECORD_F_DELTA)) ||
		    WARN_ON_ONCE((flags & VFIO_MIG_RECORD_F_MORE) &&
				 buf.len == hdr_len))) {
		if (eng->ops->save_end)
			eng->ops->save_end(eng, false);
		rc = -EINVAL;
	}
	if (rc) {
		kvfree(buf.data);
		kfree(chunk);
		return ERR_PTR(rc);
	}
	if (eng->ops->save_end)
		eng->ops->save_end(eng, true);

	if (flags & VFIO_MIG_RECORD_F_MORE) {
		f->next_flags = flags & (VFIO_MIG_RECORD_F_MORE |
					 VFIO_MIG_RECORD_F_DELTA);
	} else {
		if (type == VFIO_MIG_RECORD_INITIAL)
			f->whole = true;
		f->next_type = 0;
		f->next_flags = 0;
	}
	if (type == VFIO_MIG_RECORD_DELTA && start && buf.len == hdr_len) {
		/* Nothing changed after all */
		kvfree(buf.data);
		kfree(chunk);
		return NULL;
	}
	vfio_mig_record_hdr_fill((struct vfio_mig_record_hdr *)buf.data, type,
				 flags, f->next_seq++, buf.data + hdr_len,
				 buf.len - hdr_len);
	chunk->type = type;
	chunk->flags = flags;
	chunk->data = buf.data;
	chunk->len = buf.len;
	eng->counters.records_saved++;
	trace_vfio_mig_engine_record(vfio_mig_dev(eng), false, type, flags,
				     start, f->next_seq - 1, buf.len,
				     t0 ? ktime_get_ns() - t0 : 0);
	return chunk;
}

static void vfio_mig_chunk_free(struct vfio_mig_chunk *chunk)
{
	kvfree(chunk->data);
	kfree(chunk);
}

/* Queue a record on a saving file; state_lock held */
static void vfio_mig_queue(struct vfio_mig_file *f,
			   struct vfio_mig_chunk *chunk)
{
	spin_lock(&f->qlock);
	list_add_tail(&chunk->node, &f->queue);
	if (chunk->type == VFIO_MIG_RECORD_INITIAL)
		f->initial_left += chunk->len;
	else if (chunk->type == VFIO_MIG_RECORD_DELTA)
		f->dirty_left += chunk->len;
	else if (!(chunk->flags & VFIO_MIG_RECORD_F_MORE))
		f->end = true;
	spin_unlock(&f->qlock);
	wake_up_interruptible(&f->wq);
}

/*
 * @payload bytes of an image in the records the engine makes, headers
 * included.  A header is counted for every half record of payload: a
 * driver fills every record of an image but its last to more than half
 * (blocks fill them whole), so the estimate never grows as the records are
 * made: initial_bytes only falls, as the uAPI asks.
 */
static u64 vfio_mig_framed(struct vfio_mig_engine *eng, u64 payload)
{
	u64 half = max(min_t(u64, eng->max_payload,
			     VFIO_MIG_RECORD_MAX -
			     sizeof(struct vfio_mig_record_hdr)) / 2, 1ULL);

	return payload + sizeof(struct vfio_mig_record_hdr) *
			 max(DIV_ROUND_UP_ULL(payload, half), 1ULL);
}

/*
 * Nothing queued on @f: queue its next record if there is one to make.
 * In STOP_COPY that is the FINAL image's next record.  In PRE_COPY, the
 * next record of an unfinished image, else, if the limiter lets a DELTA go
 * and the context changed, the DELTA's first.  With @est NULL (read())
 * make and queue it; otherwise (an info request) only add its estimated
 * size, header included, to @est->initial_bytes or @est->dirty_bytes, and
 * count nothing as a hold.  Return: 1 when one was queued (or may be), 0
 * when there is no new data for now, -EAGAIN when the file is in neither
 * state (the arc that took it out ended its session: look at the queue
 * again), or an errno.  state_lock held.
 */
static int vfio_mig_more(struct vfio_mig_engine *eng, struct vfio_mig_file *f,
			 struct vfio_precopy_info *est)
{
	struct vfio_mig_limiter *lim = &eng->limiter;
	u64 drained, now = ktime_get_ns();
	struct vfio_mig_chunk *chunk;
	struct vfio_mig_dirty d = {};
	bool empty, produce, start;
	u8 type = f->next_type;

	lockdep_assert_held(&eng->state_lock);
	if (eng->saving != f)
		return -EAGAIN;
	/* Not from a device being reset: its session ends after it */
	if (eng->resetting)
		return -EBUSY;
	if (eng->state == VFIO_DEVICE_STATE_STOP_COPY) {
		if (type != VFIO_MIG_RECORD_FINAL)
			return -EAGAIN;
		chunk = vfio_mig_make(eng, f);
		if (IS_ERR(chunk))
			return PTR_ERR(chunk);
		vfio_mig_queue(f, chunk);
		return 1;
	}
	if (!vfio_mig_precopy(eng->state))
		return -EAGAIN;

	if (type && est) {
		/* An unfinished image: what is still to come of it */
		u64 rest = vfio_mig_framed(eng, vfio_mig_left(eng, f));

		if (type == VFIO_MIG_RECORD_INITIAL)
			est->initial_bytes += rest;
		else
			est->dirty_bytes += rest;
		return 1;
	}
	spin_lock(&f->qlock);
	empty = list_empty(&f->queue);
	/* The period runs from an image's last byte to a request for more */
	drained = empty && !type ? f->drained_ns : 0;
	if (drained)
		f->drained_ns = 0;
	spin_unlock(&f->qlock);
	if (!empty)
		return 1;

	if (!type) {
		if (drained)
			vfio_mig_limiter_drained(&eng->limiter, drained);
		vfio_mig_limiter_request(&eng->limiter, now);
		eng->ops->dirty(eng, &d);
		if (!d.dirty)
			return 0;
		if (est) {
			if (vfio_mig_limiter_hold_ns(&eng->limiter, now, &d))
				return 0;
			est->dirty_bytes +=
				vfio_mig_framed(eng,
						eng->ops->data_size(eng, true));
			return 1;
		}
		produce = vfio_mig_limiter_may_produce(&eng->limiter, now, &d);
		trace_vfio_mig_engine_limiter(vfio_mig_dev(eng), produce,
					      d.dirty, d.stale, lim->verdict,
					      lim->stats.bytes_suppressed);
		if (!produce)
			return 0;
		type = VFIO_MIG_RECORD_DELTA;
		f->next_type = type;
		f->next_flags = 0;
	}
	start = !f->next_flags;
	chunk = vfio_mig_make(eng, f);
	if (IS_ERR(chunk)) {
		/* A DELTA that did not start is not pending either */
		if (start && type == VFIO_MIG_RECORD_DELTA)
			f->next_type = 0;
		return PTR_ERR(chunk);
	}
	if (!chunk)
		return 0;
	if (start)
		vfio_mig_limiter_produced(&eng->limiter, now, chunk->len);
	else
		vfio_mig_limiter_grew(&eng->limiter, now, chunk->len);
	vfio_mig_queue(f, chunk);
	return 1;
}

/* Free the records of @list */
static void vfio_mig_chunks_free(struct list_head *list)
{
	struct vfio_mig_chunk *chunk, *next;

	list_for_each_entry_safe(chunk, next, list, node)
		vfio_mig_chunk_free(chunk);
}

static ssize_t vfio_mig_read(struct file *filp, char __user *ubuf, size_t len,
			     loff_t *pos)
{
	struct vfio_mig_file *f = filp->private_data;
	struct vfio_mig_engine *eng = f->eng;
	struct vfio_mig_chunk *chunk, *done_chunk;
	bool looked_again = false;
	LIST_HEAD(dead);
	ssize_t done = 0;
	int rc = 0;

	if (pos)
		return -ESPIPE;

	mutex_lock(&f->lock);
	while (len) {
		bool end;
		size_t n;

		spin_lock(&f->qlock);
		chunk = list_first_entry_or_null(&f->queue,
						 struct vfio_mig_chunk, node);
		end = f->end;
		if (f->disabled)
			rc = -ENODEV;
		else if (chunk)
			f->reader_busy = true;
		spin_unlock(&f->qlock);
		if (rc)
			break;

		if (!chunk) {
			/* STOP_COPY's end of stream */
			if (end)
				break;
			/*
			 * The next record of an unfinished image goes on in
			 * this read; a new image starts only in a read of its
			 * own
			 */
			mutex_lock(&eng->state_lock);
			if (done && !f->next_type)
				rc = 0;
			else
				rc = vfio_mig_more(eng, f, NULL);
			mutex_unlock(&eng->state_lock);
			if (rc <= 0 && done) {
				/* A failed record: made again by the next read */
				rc = 0;
				break;
			}
			/*
			 * In neither state since the queue was looked at: the
			 * arc ended the session.  Never ENOMSG then (the uAPI
			 * forbids it in STOP_COPY).
			 */
			if (rc == -EAGAIN && !looked_again) {
				looked_again = true;
				rc = 0;
				continue;
			}
			if (rc == -EAGAIN)
				rc = -EIO;
			else if (!rc)
				rc = -ENOMSG;
			if (rc < 0)
				break;
			rc = 0;
			continue;
		}

		/* Only readers take records off the queue: @chunk stays */
		n = min(len, chunk->len - chunk->off);
		if (copy_to_user(ubuf, chunk->data + chunk->off, n))
			rc = -EFAULT;
		done_chunk = NULL;
		spin_lock(&f->qlock);
		f->reader_busy = false;
		if (f->disabled) {
			/* The session ended meanwhile: its records are ours */
			list_splice_init(&f->queue, &dead);
			if (!rc)
				rc = -ENODEV;
		} else if (!rc) {
			chunk->off += n;
			if (chunk->type == VFIO_MIG_RECORD_INITIAL)
				f->initial_left -= n;
			else if (chunk->type == VFIO_MIG_RECORD_DELTA)
				f->dirty_left -= n;
			if (chunk->off == chunk->len) {
				list_del(&chunk->node);
				done_chunk = chunk;
				if (list_empty(&f->queue))
					f->drained_ns = ktime_get_ns();
			}
		}
		spin_unlock(&f->qlock);
		if (done_chunk)
			vfio_mig_chunk_free(done_chunk);
		if (rc)
			break;
		ubuf += n;
		len -= n;
		done += n;
	}
	mutex_unlock(&f->lock);
	vfio_mig_chunks_free(&dead);
	return done ? done : rc;
}

/* The resuming stream is refused: once, and counted once; state_lock held */
static void vfio_mig_refuse(struct vfio_mig_engine *eng)
{
	lockdep_assert_held(&eng->state_lock);
	if (!eng->load_failed) {
		eng->load_failed = true;
		eng->counters.streams_rejected++;
	}
}

static void vfio_mig_reject(struct vfio_mig_file *f, int rc,
			    const struct vfio_mig_parse_err *err, u64 base)
{
	struct vfio_mig_engine *eng = f->eng;

	f->err = rc;
	dev_warn_ratelimited(&eng->vdev->device,
			     "migration stream rejected at byte %llu: %s (%d)\n",
			     base + err->offset, err->what ?: "bad record",
			     rc);
	mutex_lock(&eng->state_lock);
	if (eng->resuming == f)
		vfio_mig_refuse(eng);
	mutex_unlock(&eng->state_lock);
}

/* A whole record is in: check it and hand it to the driver */
static int vfio_mig_load(struct vfio_mig_file *f)
{
	const size_t hdr_len = sizeof(struct vfio_mig_record_hdr);
	struct vfio_mig_engine *eng = f->eng;
	struct vfio_mig_parse_err err = {};
	u64 base = f->stream_off - f->rec.length;
	u64 t0 = 0;
	int rc;

	rc = vfio_mig_record_payload_check(&f->rec, f->payload, &err);
	if (rc) {
		vfio_mig_reject(f, rc, &err, base - hdr_len);
		return rc;
	}

	mutex_lock(&eng->state_lock);
	if (eng->resuming != f || eng->state != VFIO_DEVICE_STATE_RESUMING) {
		mutex_unlock(&eng->state_lock);
		return -ENODEV;
	}
	if (trace_vfio_mig_engine_record_enabled())
		t0 = ktime_get_ns();
	f->rec.image = &f->image;
	rc = eng->ops->load(eng, &f->rec, f->payload, &err);
	if (!rc) {
		trace_vfio_mig_engine_record(vfio_mig_dev(eng), true,
					     f->rec.type, f->rec.flags,
					     f->rec.first, f->rec.seq,
					     hdr_len + f->rec.length,
					     t0 ? ktime_get_ns() - t0 : 0);
		eng->counters.records_loaded++;
		if (f->rec.type == VFIO_MIG_RECORD_FINAL &&
		    !(f->rec.flags & VFIO_MIG_RECORD_F_MORE))
			eng->load_complete = true;
	}
	mutex_unlock(&eng->state_lock);
	if (rc) {
		vfio_mig_reject(f, rc, &err, base);
		return rc;
	}

	f->prev = f->rec;
	f->have_prev = true;
	kvfree(f->payload);
	f->payload = NULL;
	f->payload_size = 0;
	f->payload_got = 0;
	f->hdr_got = 0;
	return 0;
}

/* The record header is in: check it and make room for the payload */
static int vfio_mig_load_hdr(struct vfio_mig_file *f)
{
	const size_t hdr_len = sizeof(struct vfio_mig_record_hdr);
	struct vfio_mig_engine *eng = f->eng;
	struct vfio_mig_parse_err err = {};
	u64 base = f->stream_off - hdr_len;
	int rc;

	rc = vfio_mig_record_hdr_check(&f->hdr, eng->max_payload, &f->rec,
				       &err);
	if (!rc)
		rc = vfio_mig_record_follows(f->have_prev ? &f->prev : NULL,
					     &f->rec, &err);
	if (rc) {
		vfio_mig_reject(f, rc, &err, base);
		return rc;
	}
	return 0;
}

/*
 * Room in the payload buffer for @n more bytes: it grows with what
 * arrives (doubling, from 64 KiB), so that a writer that announces a big
 * record and stalls holds only what it sent
 */
static int vfio_mig_payload_room(struct vfio_mig_file *f, size_t n)
{
	size_t need = f->payload_got + n, size;
	u8 *p;

	if (need <= f->payload_size)
		return 0;
	size = min_t(u64, max3(need, 2 * f->payload_size, (size_t)SZ_64K),
		     f->rec.length);
	p = kvmalloc(size, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!p) {
		struct vfio_mig_parse_err err = {
			.offset = offsetof(struct vfio_mig_record_hdr, length),
			.what = "no memory for the record",
		};

		vfio_mig_reject(f, -ENOMEM, &err,
				f->stream_off - f->payload_got -
				sizeof(struct vfio_mig_record_hdr));
		return -ENOMEM;
	}
	if (f->payload_got)
		memcpy(p, f->payload, f->payload_got);
	kvfree(f->payload);
	f->payload = p;
	f->payload_size = size;
	return 0;
}

static ssize_t vfio_mig_write(struct file *filp, const char __user *ubuf,
			      size_t len, loff_t *pos)
{
	const size_t hdr_len = sizeof(struct vfio_mig_record_hdr);
	struct vfio_mig_file *f = filp->private_data;
	ssize_t done = 0;
	int rc = 0;

	if (pos)
		return -ESPIPE;

	mutex_lock(&f->lock);
	if (READ_ONCE(f->disabled)) {
		/* The session is over: give its buffer back now */
		kvfree(f->payload);
		f->payload = NULL;
		f->payload_size = 0;
		rc = -ENODEV;
	} else if (f->err) {
		rc = f->err;
	}
	while (!rc && len) {
		size_t n;

		if (f->have_prev && !f->hdr_got &&
		    f->prev.type == VFIO_MIG_RECORD_FINAL &&
		    !(f->prev.flags & VFIO_MIG_RECORD_F_MORE)) {
			/* Nothing follows FINAL: not even part of a header */
			struct vfio_mig_parse_err err = {
				.what = "bytes after the final record",
			};

			vfio_mig_reject(f, -EINVAL, &err, f->stream_off);
			rc = -EINVAL;
			break;
		}
		if (f->hdr_got < hdr_len) {
			n = min(len, hdr_len - f->hdr_got);
			if (copy_from_user((u8 *)&f->hdr + f->hdr_got, ubuf,
					   n)) {
				rc = -EFAULT;
				break;
			}
			f->hdr_got += n;
			f->stream_off += n;
			if (f->hdr_got == hdr_len)
				rc = vfio_mig_load_hdr(f);
		} else {
			n = min_t(u64, len, f->rec.length - f->payload_got);
			rc = vfio_mig_payload_room(f, n);
			if (rc)
				break;
			if (copy_from_user(f->payload + f->payload_got, ubuf,
					   n)) {
				rc = -EFAULT;
				break;
			}
			f->payload_got += n;
			f->stream_off += n;
		}
		ubuf += n;
		len -= n;
		done += n;
		if (!rc && f->hdr_got == hdr_len &&
		    f->payload_got == f->rec.length)
			rc = vfio_mig_load(f);
	}
	if (rc == -EFAULT && !f->err) {
		struct vfio_mig_parse_err err = {
			.what = "unreadable user buffer",
		};

		vfio_mig_reject(f, rc, &err, f->stream_off);
	}
	/* Nothing can follow an error: the stream lost its framing */
	if (rc && !f->err)
		f->err = rc;
	mutex_unlock(&f->lock);
	return rc ? rc : done;
}

static long vfio_mig_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	struct vfio_mig_file *f = filp->private_data;
	struct vfio_mig_engine *eng = f->eng;
	struct vfio_precopy_info info, est = {};
	unsigned long minsz;
	int rc;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	mutex_lock(&f->lock);
	mutex_lock(&eng->state_lock);
	if (READ_ONCE(f->disabled)) {
		/* Every call on an ended session's file */
		rc = -ENODEV;
	} else if (f->resuming || eng->saving != f ||
		   !vfio_mig_precopy(eng->state)) {
		rc = -EINVAL;
	} else {
		rc = vfio_mig_more(eng, f, &est);
		if (rc > 0)
			rc = 0;
	}
	mutex_unlock(&eng->state_lock);
	if (!rc) {
		spin_lock(&f->qlock);
		info.initial_bytes = f->initial_left + est.initial_bytes;
		info.dirty_bytes = f->dirty_left + est.dirty_bytes;
		spin_unlock(&f->qlock);
	}
	mutex_unlock(&f->lock);
	if (rc)
		return rc;
	info.flags = 0;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

/*
 * Nothing queued: would a read() get data now?  Yes while an image is
 * unfinished (the FINAL one in STOP_COPY).  If the limiter holds a change
 * back, the hold timer wakes poll() when it ends; a change of the context
 * wakes it through vfio_mig_engine_changed().
 */
static bool vfio_mig_poll_more(struct vfio_mig_file *f)
{
	struct vfio_mig_engine *eng = f->eng;
	struct vfio_mig_dirty d = {};
	bool more = false;
	u64 hold;

	mutex_lock(&eng->state_lock);
	if (eng->saving == f && f->next_type) {
		/* Not while the device is reset: its session ends after */
		more = !eng->resetting;
	} else if (eng->saving == f && vfio_mig_precopy(eng->state)) {
		eng->ops->dirty(eng, &d);
		hold = vfio_mig_limiter_hold_ns(&eng->limiter, ktime_get_ns(),
						&d);
		more = !hold;
		if (hold && hold != U64_MAX)
			hrtimer_start(&f->hold, ns_to_ktime(hold),
				      HRTIMER_MODE_REL);
	}
	mutex_unlock(&eng->state_lock);
	return more;
}

static __poll_t vfio_mig_poll(struct file *filp, struct poll_table_struct *wait)
{
	struct vfio_mig_file *f = filp->private_data;
	bool ask = false;
	__poll_t mask = 0;

	poll_wait(filp, &f->wq, wait);
	if (!f->resuming)
		poll_wait(filp, &f->eng->changed, wait);
	spin_lock(&f->qlock);
	if (f->disabled)
		mask = EPOLLERR;
	else if (f->resuming)
		mask = EPOLLOUT | EPOLLWRNORM;
	else if (!list_empty(&f->queue) || f->end)
		mask = EPOLLIN | EPOLLRDNORM;
	else
		ask = true;
	spin_unlock(&f->qlock);
	if (ask && vfio_mig_poll_more(f))
		mask = EPOLLIN | EPOLLRDNORM;
	return mask;
}

static enum hrtimer_restart vfio_mig_hold_end(struct hrtimer *t)
{
	struct vfio_mig_file *f = container_of(t, struct vfio_mig_file, hold);

	wake_up_interruptible(&f->wq);
	return HRTIMER_NORESTART;
}

/* The engine no longer points at the file; state_lock held */
static void vfio_mig_unlink(struct vfio_mig_file *f)
{
	lockdep_assert_held(&f->eng->state_lock);
	if (f->eng->saving == f)
		f->eng->saving = NULL;
	if (f->eng->resuming == f)
		f->eng->resuming = NULL;
}

/*
 * End the file's session, and free its unread records now (a reader
 * copying out of one frees them when it is done); state_lock held
 */
static void vfio_mig_disable(struct vfio_mig_file *f)
{
	LIST_HEAD(dead);

	spin_lock(&f->qlock);
	f->disabled = true;
	if (!f->reader_busy)
		list_splice_init(&f->queue, &dead);
	f->initial_left = 0;
	f->dirty_left = 0;
	spin_unlock(&f->qlock);
	wake_up_interruptible(&f->wq);
	vfio_mig_unlink(f);
	vfio_mig_chunks_free(&dead);
}

static int vfio_mig_release(struct inode *inode, struct file *filp)
{
	struct vfio_mig_file *f = filp->private_data;
	struct vfio_mig_engine *eng = f->eng;
	struct module *owner = f->owner;

	mutex_lock(&eng->state_lock);
	vfio_mig_unlink(f);
	mutex_unlock(&eng->state_lock);

	hrtimer_cancel(&f->hold);
	vfio_mig_chunks_free(&f->queue);
	kvfree(f->payload);
	mutex_destroy(&f->lock);
	/* May release the vfio device, in the driver's text: pinned till now */
	put_device(&eng->vdev->device);
	kfree(f);
	module_put(owner);
	return 0;
}

static const struct file_operations vfio_mig_save_fops = {
	.owner = THIS_MODULE,
	.read = vfio_mig_read,
	.unlocked_ioctl = vfio_mig_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = vfio_mig_poll,
	.release = vfio_mig_release,
};

static const struct file_operations vfio_mig_resume_fops = {
	.owner = THIS_MODULE,
	.write = vfio_mig_write,
	.unlocked_ioctl = vfio_mig_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = vfio_mig_poll,
	.release = vfio_mig_release,
};

/* A new data file for @eng; state_lock held */
static struct file *vfio_mig_file_new(struct vfio_mig_engine *eng,
				      bool resuming)
{
	struct vfio_mig_file *f;
	struct file *filp;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return ERR_PTR(-ENOMEM);
	f->eng = eng;
	f->resuming = resuming;
	mutex_init(&f->lock);
	spin_lock_init(&f->qlock);
	INIT_LIST_HEAD(&f->queue);
	init_waitqueue_head(&f->wq);
	hrtimer_init(&f->hold, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	f->hold.function = vfio_mig_hold_end;

	filp = anon_inode_getfile(resuming ? "[vfio_mig_resume]" :
					     "[vfio_mig_save]",
				  resuming ? &vfio_mig_resume_fops :
					     &vfio_mig_save_fops,
				  f, resuming ? O_WRONLY : O_RDONLY);
	if (IS_ERR(filp)) {
		mutex_destroy(&f->lock);
		kfree(f);
		return filp;
	}
	stream_open(filp->f_inode, filp);
	get_device(&eng->vdev->device);
	/* The device is open, so its driver's module is held already */
	f->owner = eng->ops->owner;
	__module_get(f->owner);
	return filp;
}

/*
 * Start a saving session whose first image is of @type (made as it is
 * read); state_lock held
 */
static struct file *vfio_mig_save_start(struct vfio_mig_engine *eng, u8 type)
{
	struct vfio_mig_file *f;
	struct file *filp;

	filp = vfio_mig_file_new(eng, false);
	if (IS_ERR(filp))
		return filp;
	f = filp->private_data;
	f->next_type = type;
	if (type == VFIO_MIG_RECORD_INITIAL)
		vfio_mig_limiter_init(&eng->limiter, &eng->cfg);
	eng->saving = f;
	return filp;
}

/* One arc of the FSM; state_lock held */
static struct file *vfio_mig_step(struct vfio_mig_engine *eng,
				  enum vfio_device_mig_state next)
{
	enum vfio_device_mig_state cur = eng->state;
	enum vfio_mig_run run = vfio_mig_run_of(cur);
	struct file *filp = NULL;
	int rc;

	/* The target's stream must be whole before the device takes it */
	if (cur == VFIO_DEVICE_STATE_RESUMING) {
		if (eng->load_failed)
			return ERR_PTR(-EINVAL);
		if (!eng->load_complete) {
			/* Cut short: the stream is over, and refused */
			vfio_mig_refuse(eng);
			dev_warn_ratelimited(&eng->vdev->device,
					     "migration stream ended before its final record\n");
			return ERR_PTR(-ENODATA);
		}
		rc = eng->ops->load_end(eng, true);
		if (rc)
			return ERR_PTR(rc);
		if (eng->resuming)
			vfio_mig_disable(eng->resuming);
		eng->load_complete = false;
	}

	if (vfio_mig_run_of(next) != run) {
		rc = eng->ops->set_run(eng, vfio_mig_run_of(next));
		if (rc)
			return ERR_PTR(rc);
	}

	if (next == VFIO_DEVICE_STATE_STOP_COPY &&
	    cur == VFIO_DEVICE_STATE_STOP) {
		filp = vfio_mig_save_start(eng, VFIO_MIG_RECORD_FINAL);
	} else if (next == VFIO_DEVICE_STATE_STOP_COPY) {
		/*
		 * From PRE_COPY_P2P, the device now stopped: the FINAL image
		 * is what the session's stream carries next, made as it is
		 * read; it cuts short an image the records made so far left
		 * unfinished.  Nothing if userspace closed its file.
		 */
		if (eng->saving) {
			eng->saving->next_type = VFIO_MIG_RECORD_FINAL;
			eng->saving->next_flags = 0;
			wake_up_interruptible(&eng->saving->wq);
		}
	} else if (vfio_mig_precopy(next) && !vfio_mig_precopy(cur)) {
		filp = vfio_mig_save_start(eng, VFIO_MIG_RECORD_INITIAL);
	} else if (next == VFIO_DEVICE_STATE_RESUMING) {
		filp = vfio_mig_file_new(eng, true);
		if (!IS_ERR(filp)) {
			eng->resuming = filp->private_data;
			eng->load_complete = false;
			eng->load_failed = false;
		}
	} else if (eng->saving && !vfio_mig_precopy(next)) {
		/* Out of the saving group: the session is over */
		vfio_mig_disable(eng->saving);
	}

	/*
	 * Only arcs that leave how the device runs alone start a session:
	 * an arc that fails after set_run has nothing to undo
	 */
	if (IS_ERR(filp))
		return filp;
	eng->state = next;
	return filp;
}

/**
 * vfio_mig_engine_set_state() - vfio_migration_ops::migration_set_state
 * @eng: the device's engine
 * @new_state: the state userspace asked for
 *
 * Walks the FSM one arc at a time (vfio_mig_get_next_state()), calling the
 * driver's set_run where the device's operation changes and making or
 * ending data files.
 *
 * Return: the new data file for arcs that start a session (to PRE_COPY,
 * PRE_COPY_P2P or STOP_COPY from outside the saving group, and to
 * RESUMING), NULL for others, or an ERR_PTR.  On error the state is the
 * last one reached, every arc before it done.  RESUMING -> STOP fails with
 * -ENODATA when the stream has not had its FINAL record (the stream is then
 * refused for good) and -EINVAL when it was refused.
 */
struct file *vfio_mig_engine_set_state(struct vfio_mig_engine *eng,
				       enum vfio_device_mig_state new_state)
{
	enum vfio_device_mig_state cur, next;
	struct file *filp = NULL;
	u64 t0;
	int rc;

	mutex_lock(&eng->state_lock);
	while (eng->state != new_state) {
		/* The device is being reset: the engine will be, after it */
		if (eng->resetting) {
			filp = ERR_PTR(-EBUSY);
			break;
		}
		rc = vfio_mig_get_next_state(eng->vdev, eng->state, new_state,
					     &next);
		if (rc) {
			filp = ERR_PTR(rc);
			break;
		}
		t0 = trace_vfio_mig_engine_arc_enabled() ? ktime_get_ns() : 0;
		cur = eng->state;
		filp = vfio_mig_step(eng, next);
		trace_vfio_mig_engine_arc(vfio_mig_dev(eng), cur, next,
					  PTR_ERR_OR_ZERO(filp),
					  t0 ? ktime_get_ns() - t0 : 0);
		if (IS_ERR(filp))
			break;
		/* Only the last arc of a path may start a session */
		if (WARN_ON(filp && eng->state != new_state)) {
			fput(filp);
			filp = ERR_PTR(-EINVAL);
			break;
		}
	}
	mutex_unlock(&eng->state_lock);
	return filp;
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_set_state);

/**
 * vfio_mig_engine_get_state() - vfio_migration_ops::migration_get_state
 * @eng: the device's engine
 * @state: where the state goes
 *
 * Return: 0.
 */
int vfio_mig_engine_get_state(struct vfio_mig_engine *eng,
			      enum vfio_device_mig_state *state)
{
	mutex_lock(&eng->state_lock);
	*state = eng->state;
	mutex_unlock(&eng->state_lock);
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_get_state);

/**
 * vfio_mig_engine_data_size() - vfio_migration_ops::migration_get_data_size
 * @eng: the device's engine
 * @stop_copy_length: the estimated bytes of the STOP_COPY data
 *
 * The driver's estimate of a FINAL image in its records; any state.
 * In a PRE_COPY session that has sent a whole image the FINAL may be a
 * delta, and the driver estimates that.
 *
 * Return: 0.
 */
int vfio_mig_engine_data_size(struct vfio_mig_engine *eng,
			      unsigned long *stop_copy_length)
{
	bool delta_ok;

	mutex_lock(&eng->state_lock);
	delta_ok = eng->saving && eng->saving->whole &&
		   (vfio_mig_precopy(eng->state) ||
		    eng->state == VFIO_DEVICE_STATE_STOP_COPY);
	/* Userspace waits for the device to fit its downtime limit */
	if (delta_ok && vfio_mig_precopy(eng->state))
		vfio_mig_limiter_asked(&eng->limiter, ktime_get_ns());
	*stop_copy_length = vfio_mig_framed(eng,
					    eng->ops->data_size(eng, delta_ok));
	mutex_unlock(&eng->state_lock);
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_data_size);

/* The engine's reset, and the driver's (ops->reset); state_lock held */
static void vfio_mig_engine_reset_locked(struct vfio_mig_engine *eng)
{
	lockdep_assert_held(&eng->state_lock);
	if (eng->state == VFIO_DEVICE_STATE_RESUMING)
		eng->ops->load_end(eng, false);
	if (eng->saving)
		vfio_mig_disable(eng->saving);
	if (eng->resuming)
		vfio_mig_disable(eng->resuming);
	eng->load_complete = false;
	eng->load_failed = false;
	eng->state = VFIO_DEVICE_STATE_RUNNING;
	if (eng->ops->reset)
		eng->ops->reset(eng);
}

/**
 * vfio_mig_engine_reset() - the device was reset or closed
 * @eng: the device's engine
 *
 * Ends every session (their files fail with ENODEV from now on), throws
 * away a half-loaded stream, returns to RUNNING and calls the driver's
 * ops->reset, all under the state lock.  Call it from the driver's close
 * path, and from reset paths that reset the device before;
 * vfio_mig_engine_reset_device() resets the device under the lock too.
 * set_run is not called.
 *
 * Context: takes the state lock; not from a callback.
 */
void vfio_mig_engine_reset(struct vfio_mig_engine *eng)
{
	mutex_lock(&eng->state_lock);
	vfio_mig_engine_reset_locked(eng);
	mutex_unlock(&eng->state_lock);
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_reset);

/**
 * vfio_mig_engine_reset_device() - reset the device and the engine as one
 * @eng: the device's engine
 * @reset: resets the device (VFIO_DEVICE_RESET, a hot reset)
 * @arg: passed to @reset
 *
 * While @reset runs, every state change fails with -EBUSY; when it
 * succeeds the engine is reset as by vfio_mig_engine_reset() before arcs
 * are let in again.  So no arc (a RESUMING -> STOP loading state into the
 * device, say) can come between the device's reset and the engine's.
 * The state lock is not held across @reset: the PCI core's hot reset
 * takes the device set's lock, which close_device paths hold when they
 * reset the engine.
 *
 * Context: takes the state lock; not from a callback.
 * Return: what @reset returned, or -EBUSY when another reset is running.
 */
int vfio_mig_engine_reset_device(struct vfio_mig_engine *eng,
				 int (*reset)(struct vfio_mig_engine *eng,
					      void *arg),
				 void *arg)
{
	int rc;

	mutex_lock(&eng->state_lock);
	if (eng->resetting) {
		mutex_unlock(&eng->state_lock);
		return -EBUSY;
	}
	eng->resetting = true;
	mutex_unlock(&eng->state_lock);

	rc = reset(eng, arg);

	mutex_lock(&eng->state_lock);
	eng->resetting = false;
	if (!rc)
		vfio_mig_engine_reset_locked(eng);
	mutex_unlock(&eng->state_lock);
	return rc;
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_reset_device);

/**
 * vfio_mig_engine_changed() - the device's context changed
 * @eng: the engine
 *
 * Wakes poll() on a PRE_COPY saving file that found nothing to read, so
 * that it looks again.  Call it after a write to the context that the
 * driver's dirty callback will count.
 *
 * Context: any, the driver's own locks held or not; takes no engine lock.
 */
void vfio_mig_engine_changed(struct vfio_mig_engine *eng)
{
	if (wq_has_sleeper(&eng->changed))
		wake_up_interruptible(&eng->changed);
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_changed);

/**
 * vfio_mig_engine_when_idle() - run @fn while no migration is going on
 * @eng: the engine
 * @fn: called with the state lock held, in RUNNING with no session: no
 *	state change can start until it returns
 * @arg: passed to @fn
 *
 * For driver operations that must not overlap a migration (resizing the
 * context, say), without the driver taking the engine's lock.
 *
 * Context: not from an engine callback.
 * Return: what @fn returned, or -EBUSY during a migration.
 */
int vfio_mig_engine_when_idle(struct vfio_mig_engine *eng,
			      int (*fn)(struct vfio_mig_engine *eng, void *arg),
			      void *arg)
{
	int rc = -EBUSY;

	mutex_lock(&eng->state_lock);
	if (eng->state == VFIO_DEVICE_STATE_RUNNING && !eng->saving &&
	    !eng->resuming)
		rc = fn(eng, arg);
	mutex_unlock(&eng->state_lock);
	return rc;
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_when_idle);

/* sysfs: /sys/class/vfio-dev/vfioN/migration/ */
static struct vfio_mig_engine *to_eng(struct kobject *kobj)
{
	return container_of(kobj, struct vfio_mig_engine, kobj);
}

/* The counters in sysfs, by file name */
static const struct vfio_mig_stat {
	const char *name;
	bool limiter;
	size_t offset;
} vfio_mig_stats[] = {
	{ "images", true, offsetof(struct vfio_mig_limiter_stats, images) },
	{ "bytes_produced", true,
	  offsetof(struct vfio_mig_limiter_stats, bytes_produced) },
	{ "bytes_suppressed", true,
	  offsetof(struct vfio_mig_limiter_stats, bytes_suppressed) },
	{ "holds", true, offsetof(struct vfio_mig_limiter_stats, holds) },
	{ "records_saved", false,
	  offsetof(struct vfio_mig_engine_counters, records_saved) },
	{ "records_loaded", false,
	  offsetof(struct vfio_mig_engine_counters, records_loaded) },
	{ "streams_rejected", false,
	  offsetof(struct vfio_mig_engine_counters, streams_rejected) },
};

static ssize_t stat_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	struct vfio_mig_engine *eng = to_eng(kobj);
	const struct vfio_mig_stat *stat = NULL;
	u64 val;
	int i;

	for (i = 0; i < ARRAY_SIZE(vfio_mig_stats); i++)
		if (!strcmp(attr->attr.name, vfio_mig_stats[i].name))
			stat = &vfio_mig_stats[i];
	if (WARN_ON(!stat))
		return -EINVAL;

	mutex_lock(&eng->state_lock);
	if (stat->limiter)
		val = *(u64 *)((u8 *)&eng->limiter.stats + stat->offset);
	else
		val = *(u64 *)((u8 *)&eng->counters + stat->offset);
	mutex_unlock(&eng->state_lock);
	return sysfs_emit(buf, "%llu\n", val);
}

static struct kobj_attribute images_attr = __ATTR(images, 0444, stat_show,
						  NULL);
static struct kobj_attribute bytes_produced_attr =
	__ATTR(bytes_produced, 0444, stat_show, NULL);
static struct kobj_attribute bytes_suppressed_attr =
	__ATTR(bytes_suppressed, 0444, stat_show, NULL);
static struct kobj_attribute holds_attr = __ATTR(holds, 0444, stat_show,
						 NULL);
static struct kobj_attribute records_saved_attr =
	__ATTR(records_saved, 0444, stat_show, NULL);
static struct kobj_attribute records_loaded_attr =
	__ATTR(records_loaded, 0444, stat_show, NULL);
static struct kobj_attribute streams_rejected_attr =
	__ATTR(streams_rejected, 0444, stat_show, NULL);

static ssize_t period_us_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	struct vfio_mig_engine *eng = to_eng(kobj);
	u64 val;

	mutex_lock(&eng->state_lock);
	val = div_u64(eng->limiter.stats.period_ns, NSEC_PER_USEC);
	mutex_unlock(&eng->state_lock);
	return sysfs_emit(buf, "%llu\n", val);
}

static struct kobj_attribute period_us_attr = __ATTR_RO(period_us);

static const char * const vfio_mig_verdicts[] = {
	[VFIO_MIG_COOL] = "cool",
	[VFIO_MIG_HOT] = "hot",
	[VFIO_MIG_SATURATED] = "saturated",
	[VFIO_MIG_WAIT] = "wait",
	[VFIO_MIG_WANTED] = "wanted",
};

static ssize_t verdict_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	struct vfio_mig_engine *eng = to_eng(kobj);
	u32 v;

	mutex_lock(&eng->state_lock);
	v = eng->limiter.verdict;
	mutex_unlock(&eng->state_lock);
	return sysfs_emit(buf, "%s\n", v < ARRAY_SIZE(vfio_mig_verdicts) ?
					 vfio_mig_verdicts[v] : "?");
}

static struct kobj_attribute verdict_attr = __ATTR_RO(verdict);

enum vfio_mig_knob {
	KNOB_LIMITER,
	KNOB_MIN_INTERVAL_US,
	KNOB_MAX_INTERVAL_US,
	KNOB_HOT_PCT,
};

static const char * const vfio_mig_knob_names[] = {
	[KNOB_LIMITER] = "limiter",
	[KNOB_MIN_INTERVAL_US] = "min_interval_us",
	[KNOB_MAX_INTERVAL_US] = "max_interval_us",
	[KNOB_HOT_PCT] = "hot_pct",
};

static int vfio_mig_knob_of(struct kobj_attribute *attr)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(vfio_mig_knob_names); i++)
		if (!strcmp(attr->attr.name, vfio_mig_knob_names[i]))
			return i;
	return -EINVAL;
}

static ssize_t knob_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	struct vfio_mig_engine *eng = to_eng(kobj);
	u64 val = 0;

	mutex_lock(&eng->state_lock);
	switch (vfio_mig_knob_of(attr)) {
	case KNOB_LIMITER:
		val = eng->cfg.enabled;
		break;
	case KNOB_MIN_INTERVAL_US:
		val = div_u64(eng->cfg.min_interval_ns, NSEC_PER_USEC);
		break;
	case KNOB_MAX_INTERVAL_US:
		val = div_u64(eng->cfg.max_interval_ns, NSEC_PER_USEC);
		break;
	case KNOB_HOT_PCT:
		val = eng->cfg.hot_pct;
		break;
	}
	mutex_unlock(&eng->state_lock);
	return sysfs_emit(buf, "%llu\n", val);
}

/* Intervals up to an hour, percentages 1 to 100 */
static ssize_t knob_store(struct kobject *kobj, struct kobj_attribute *attr,
			  const char *buf, size_t count)
{
	struct vfio_mig_engine *eng = to_eng(kobj);
	int knob = vfio_mig_knob_of(attr);
	u64 val;
	int rc;

	rc = kstrtou64(buf, 0, &val);
	if (rc)
		return rc;
	if ((knob == KNOB_LIMITER && val > 1) ||
	    (knob == KNOB_HOT_PCT && (val < 1 || val > 100)) ||
	    val > 3600ULL * USEC_PER_SEC)
		return -EINVAL;

	mutex_lock(&eng->state_lock);
	switch (knob) {
	case KNOB_LIMITER:
		eng->cfg.enabled = val;
		break;
	case KNOB_MIN_INTERVAL_US:
		if (val * NSEC_PER_USEC > eng->cfg.max_interval_ns)
			rc = -EINVAL;
		else
			eng->cfg.min_interval_ns = val * NSEC_PER_USEC;
		break;
	case KNOB_MAX_INTERVAL_US:
		if (val * NSEC_PER_USEC < eng->cfg.min_interval_ns)
			rc = -EINVAL;
		else
			eng->cfg.max_interval_ns = val * NSEC_PER_USEC;
		break;
	case KNOB_HOT_PCT:
		eng->cfg.hot_pct = val;
		break;
	}
	mutex_unlock(&eng->state_lock);
	return rc ? rc : count;
}

static struct kobj_attribute limiter_attr =
	__ATTR(limiter, 0644, knob_show, knob_store);
static struct kobj_attribute min_interval_us_attr =
	__ATTR(min_interval_us, 0644, knob_show, knob_store);
static struct kobj_attribute max_interval_us_attr =
	__ATTR(max_interval_us, 0644, knob_show, knob_store);
static struct kobj_attribute hot_pct_attr =
	__ATTR(hot_pct, 0644, knob_show, knob_store);

static struct attribute *vfio_mig_attrs[] = {
	&limiter_attr.attr,
	&min_interval_us_attr.attr,
	&max_interval_us_attr.attr,
	&hot_pct_attr.attr,
	&period_us_attr.attr,
	&verdict_attr.attr,
	&images_attr.attr,
	&bytes_produced_attr.attr,
	&bytes_suppressed_attr.attr,
	&holds_attr.attr,
	&records_saved_attr.attr,
	&records_loaded_attr.attr,
	&streams_rejected_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vfio_mig);

static void vfio_mig_kobj_release(struct kobject *kobj)
{
	complete(&to_eng(kobj)->kobj_gone);
}

static const struct kobj_type vfio_mig_ktype = {
	.release = vfio_mig_kobj_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = vfio_mig_groups,
};

/*
 * Defaults: images at least 1 ms apart; an image is worth sending when
 * less than half of it is projected to be stale 2 s after it was made
 */
#define VFIO_MIG_MIN_INTERVAL_NS (1 * NSEC_PER_MSEC)
#define VFIO_MIG_MAX_INTERVAL_NS (2 * NSEC_PER_SEC)
#define VFIO_MIG_HOT_PCT 50

/**
 * vfio_mig_engine_init() - set up a device's engine
 * @eng: the engine, embedded in the driver's device state
 * @vdev: the vfio device, initialised (from its vfio_device_ops::init)
 * @ops: the driver's callbacks
 * @max_payload: the largest record payload to make or accept; bounds what
 *	a resuming stream can make the kernel allocate.  At most INT_MAX
 *	(kvmalloc()'s limit); more is cut to it.
 *
 * The device starts in RUNNING with the limiter on at its defaults.
 */
void vfio_mig_engine_init(struct vfio_mig_engine *eng,
			  struct vfio_device *vdev,
			  const struct vfio_mig_engine_ops *ops, u64 max_payload)
{
	*eng = (struct vfio_mig_engine){
		.vdev = vdev,
		.ops = ops,
		.max_payload = min_t(u64, max_payload,
				     INT_MAX - sizeof(struct vfio_mig_record_hdr)),
		.state = VFIO_DEVICE_STATE_RUNNING,
		.cfg = {
			.min_interval_ns = VFIO_MIG_MIN_INTERVAL_NS,
			.max_interval_ns = VFIO_MIG_MAX_INTERVAL_NS,
			.hot_pct = VFIO_MIG_HOT_PCT,
			.enabled = true,
		},
	};
	mutex_init(&eng->state_lock);
	init_waitqueue_head(&eng->changed);
	init_completion(&eng->kobj_gone);
	vfio_mig_limiter_init(&eng->limiter, &eng->cfg);
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_init);

/**
 * vfio_mig_engine_sysfs_add() - publish the knobs and counters
 * @eng: the engine
 *
 * Adds the "migration" directory under the vfio device
 * (/sys/class/vfio-dev/vfioN/migration): knobs limiter, min_interval_us,
 * max_interval_us and hot_pct (read at the start of each PRE_COPY), and the
 * counters of Documentation/lowdown/migration-engine.rst.  Call it once
 * the vfio device is registered.
 *
 * Return: 0 or an errno.
 */
int vfio_mig_engine_sysfs_add(struct vfio_mig_engine *eng)
{
	int rc;

	rc = kobject_init_and_add(&eng->kobj, &vfio_mig_ktype,
				  &eng->vdev->device.kobj, "migration");
	if (rc) {
		kobject_put(&eng->kobj);
		wait_for_completion(&eng->kobj_gone);
		reinit_completion(&eng->kobj_gone);
		return rc;
	}
	eng->kobj_added = true;
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_sysfs_add);

/**
 * vfio_mig_engine_exit() - tear a device's engine down
 * @eng: the engine
 *
 * Removes the sysfs directory, waiting for readers.  Files still open
 * were ended by vfio_mig_engine_reset() when the device was closed, and
 * keep the vfio device's memory alive until they are released.
 */
void vfio_mig_engine_exit(struct vfio_mig_engine *eng)
{
	if (eng->kobj_added) {
		kobject_del(&eng->kobj);
		kobject_put(&eng->kobj);
		wait_for_completion(&eng->kobj_gone);
		eng->kobj_added = false;
	}
}
EXPORT_SYMBOL_GPL(vfio_mig_engine_exit);
