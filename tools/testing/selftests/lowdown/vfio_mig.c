// SPDX-License-Identifier: GPL-2.0
/*
 * lowdown's vfio migration data engine (drivers/vfio/mig_engine.c), through
 * the uAPI, with two instances of its test mdev (mig_engine_test.c): a
 * source and a destination whose contexts are compared byte for byte.
 *
 * The FSM arcs, data moving source -> destination over STOP_COPY and over
 * PRE_COPY, VFIO_MIG_GET_PRECOPY_INFO, the limiter's hold, the error arcs,
 * streams cut, reordered, duplicated, corrupted or from another device
 * configuration (each rejected, the destination keeping its context), and
 * a fuzz of the kernel's resuming parser with 10,000 corrupt streams.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "fail_nth.h"
#include "mig_sign.h"
#include "vfio_mdev.h"
#include "vfio_mig_uapi.h"
#include "../../../../drivers/vfio/mig_engine_test.h"

#define MDEV_TYPE_DIR "/sys/class/mdev_bus/" MET_PARENT_NAME \
	"/mdev_supported_types/" MET_TYPE_NAME

/* The stream format's record header (include/linux/vfio_mig_stream.h) */
struct rec_hdr {
	__u32 magic;
	__u16 version;
	__u8 type;
	__u8 flags;
	__u32 seq;
	__u32 reserved;
	__u64 length;
	__u32 payload_crc;
	__u32 hdr_crc;
};

#define REC_INITIAL 1
#define REC_DELTA 2
#define REC_FINAL 3
#define REC_F_DELTA 1
#define REC_F_MORE 2
/* The most payload the engine puts in a record it makes (256 KiB in all) */
#define REC_MAX (256 * 1024 - 32)
#define MAX_RECS 1024

enum { S_STOP = VFIO_DEVICE_STATE_STOP, S_RUN = VFIO_DEVICE_STATE_RUNNING,
	S_COPY = VFIO_DEVICE_STATE_STOP_COPY,
	S_RESUME = VFIO_DEVICE_STATE_RESUMING,
	S_P2P = VFIO_DEVICE_STATE_RUNNING_P2P,
	S_PRE = VFIO_DEVICE_STATE_PRE_COPY,
	S_PRE_P2P = VFIO_DEVICE_STATE_PRE_COPY_P2P };

/* A stream in memory, and where its records start */
struct stream {
	unsigned char *buf;
	size_t len;
	size_t rec_off[MAX_RECS];
	int nrecs;
};

struct dev {
	char uuid[40];
	char cdev[64];
	char sysfs[256];
	int fd;
};

static int precopy_info(int data_fd, __u64 *initial, __u64 *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };

	if (ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info))
		return -errno;
	*initial = info.initial_bytes;
	*dirty = info.dirty_bytes;
	return 0;
}

static int met_do(int fd, __u32 op, __u32 value, __u64 offset, __u64 length)
{
	struct met_cmd cmd = {
		.op = op, .value = value, .offset = offset, .length = length,
	};

	return write(fd, &cmd, sizeof(cmd)) == sizeof(cmd) ? 0 : -errno;
}

static int dev_reset(int fd)
{
	return ioctl(fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

/* The device's context, @size bytes, into @buf */
static int ctx_get(int fd, void *buf, size_t size)
{
	return pread(fd, buf, size, 0) == (ssize_t)size ? 0 : -1;
}

/* Read @data_fd until end of stream (or ENOMSG) onto @s; 0 or -errno */
static int read_stream(int data_fd, struct stream *s, size_t piece)
{
	for (;;) {
		ssize_t n;

		s->buf = realloc(s->buf, s->len + piece);
		if (!s->buf)
			return -ENOMEM;
		n = read(data_fd, s->buf + s->len, piece);
		if (n < 0)
			return -errno;
		if (!n)
			return 0;
		s->len += n;
	}
}

/* Find the records of a well-formed stream: their count, or -1 */
static int stream_index(struct stream *s)
{
	size_t off = 0;

	s->nrecs = 0;
	while (off < s->len && s->nrecs < MAX_RECS) {
		struct rec_hdr *h = (struct rec_hdr *)(s->buf + off);

		if (off + sizeof(*h) > s->len)
			return -1;
		s->rec_off[s->nrecs++] = off;
		off += sizeof(*h) + h->length;
	}
	return off == s->len ? s->nrecs : -1;
}

static struct rec_hdr *rec_at(struct stream *s, int i)
{
	return (struct rec_hdr *)(s->buf + s->rec_off[i]);
}

/* An image of an indexed stream: its type, its flags, its records */
struct image {
	int type;
	int flags;
	int nrecs;
};

/*
 * The images of an indexed stream (an image goes on in the next record
 * while F_MORE is set and the type stays), into @img; their count, or -1
 * for more than @max or a record longer than the engine makes
 */
static int stream_images(struct stream *s, struct image *img, int max)
{
	int i, n = 0;

	for (i = 0; i < s->nrecs; i++) {
		struct rec_hdr *h = rec_at(s, i);

		if (h->length > REC_MAX)
			return -1;
		if (!i || !(rec_at(s, i - 1)->flags & REC_F_MORE) ||
		    rec_at(s, i - 1)->type != h->type) {
			if (n == max)
				return -1;
			img[n++] = (struct image){ .type = h->type };
		}
		img[n - 1].flags = h->flags & ~REC_F_MORE;
		img[n - 1].nrecs++;
	}
	return n;
}

static size_t rec_len(struct stream *s, int i)
{
	return sizeof(struct rec_hdr) + rec_at(s, i)->length;
}

/* Write @len bytes in pieces of 1 to @max_piece bytes; 0 or -errno */
static int write_stream(int data_fd, const unsigned char *buf, size_t len,
			size_t max_piece)
{
	while (len) {
		size_t n = 1 + rand() % max_piece;
		ssize_t done;

		if (n > len)
			n = len;
		done = write(data_fd, buf, n);
		if (done < 0)
			return -errno;
		if ((size_t)done != n)
			return -EIO;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Load @len bytes of stream into the destination: RESUMING, the writes,
 * then RESUMING -> STOP.  Return: 0 if the device took the stream, else
 * the first errno (of a write or of leaving RESUMING).
 */
static int load_stream(int fd, const unsigned char *buf, size_t len,
		       size_t max_piece)
{
	int data_fd = -1, rc, rc2;

	rc = set_state(fd, S_RESUME, &data_fd);
	if (rc)
		return rc;
	rc = write_stream(data_fd, buf, len, max_piece);
	close(data_fd);
	rc2 = set_state(fd, S_STOP, NULL);
	return rc ? rc : rc2;
}

static int sysfs_get(struct dev *d, const char *name, unsigned long long *val)
{
	char path[320], buf[32] = "";
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", d->sysfs, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	*val = strtoull(buf, NULL, 0);
	return 0;
}

static int sysfs_set(struct dev *d, const char *name, const char *val)
{
	char path[320];

	snprintf(path, sizeof(path), "%s/%s", d->sysfs, name);
	return write_file(path, val);
}

static int dev_setup(struct dev *d, int iommufd, __u32 ioas_id)
{
	int rc = mdev_create(MDEV_TYPE_DIR, "vfio_mig_engine_test", d->uuid,
			     d->cdev);

	if (rc)
		return rc;
	snprintf(d->sysfs, sizeof(d->sysfs),
		 "/sys/bus/mdev/devices/%s/vfio-dev/%s/migration", d->uuid,
		 strrchr(d->cdev, '/') + 1);
	d->fd = vfio_dev_open(d->cdev, iommufd, ioas_id);
	return d->fd < 0 ? d->fd : 0;
}

FIXTURE(mig) {
	int iommufd;
	__u32 ioas_id;
	struct dev src, dst;
	size_t size;
	unsigned char *a, *b;
};

FIXTURE_SETUP(mig)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int rc;

	srand(1);
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_IOAS_ALLOC, &alloc));
	self->ioas_id = alloc.out_ioas_id;
	/* make check's kernel has the test device: its absence fails */
	rc = dev_setup(&self->src, self->iommufd, self->ioas_id);
	ASSERT_EQ(0, rc) TH_LOG("no migration test mdev: %s", strerror(-rc));
	ASSERT_EQ(0, dev_setup(&self->dst, self->iommufd, self->ioas_id));
	self->size = MET_DEFAULT_SIZE;
	self->a = malloc(MET_MAX_SIZE);
	self->b = malloc(MET_MAX_SIZE);
	ASSERT_NE(NULL, self->a);
	ASSERT_NE(NULL, self->b);
}

FIXTURE_TEARDOWN(mig)
{
	close(self->src.fd);
	close(self->dst.fd);
	mdev_remove(self->src.uuid);
	mdev_remove(self->dst.uuid);
	close(self->iommufd);
	free(self->a);
	free(self->b);
}

/* Make the device's context a pattern of @seed */
static int ctx_fill(int fd, size_t size, unsigned int seed)
{
	size_t off;
	int rc = 0;

	for (off = 0; !rc && off < size; off += MET_BLOCK / 2)
		rc = met_do(fd, MET_CMD_FILL, (seed + off / 97) & 0xff, off,
			    MET_BLOCK / 2);
	return rc;
}

/* Are the two devices' contexts equal? */
static bool ctx_same(struct _test_data_mig *self, int fd1, int fd2)
{
	return !ctx_get(fd1, self->a, self->size) &&
	       !ctx_get(fd2, self->b, self->size) &&
	       !memcmp(self->a, self->b, self->size);
}

/* A STOP_COPY-only stream of the source: one full FINAL record */
static int save_stop_copy(int fd, struct stream *s)
{
	int data_fd = -1, rc;

	rc = set_state(fd, S_COPY, &data_fd);
	if (rc)
		return rc;
	rc = read_stream(data_fd, s, 65536);
	close(data_fd);
	return rc ? rc : set_state(fd, S_STOP, NULL);
}

/*
 * A PRE_COPY stream of the source: INITIAL, two DELTAs, then a FINAL
 * delta, the context (of 4 blocks or more) changing in between; limiter off.
 */
static int save_precopy(struct dev *d, struct stream *s)
{
	int fd = d->fd, data_fd = -1, rc;

	rc = sysfs_set(d, "limiter", "0");
	if (rc)
		return rc;
	rc = set_state(fd, S_PRE, &data_fd);
	if (rc)
		return rc;
	rc = read_stream(data_fd, s, 65536);
	if (rc != -ENOMSG)
		goto out;
	rc = met_do(fd, MET_CMD_FILL, 0x11, MET_BLOCK, 2 * MET_BLOCK);
	if (!rc)
		rc = read_stream(data_fd, s, 65536);
	if (rc != -ENOMSG)
		goto out;
	rc = met_do(fd, MET_CMD_FILL, 0x22, 10, 1);
	if (!rc)
		rc = read_stream(data_fd, s, 65536);
	if (rc != -ENOMSG)
		goto out;
	rc = met_do(fd, MET_CMD_FILL, 0x33, 3 * MET_BLOCK + 5, 1);
	if (!rc)
		rc = set_state(fd, S_COPY, NULL);
	if (!rc)
		rc = read_stream(data_fd, s, 65536);
	if (!rc)
		rc = set_state(fd, S_STOP, NULL);
out:
	close(data_fd);
	return rc;
}

static bool is_precopy(int st)
{
	return st == S_PRE || st == S_PRE_P2P;
}

/* Does the arc @from -> @to start a data session (return a data fd)? */
static bool starts_session(int from, int to)
{
	if (to == S_RESUME)
		return from != S_RESUME;
	if (to == S_COPY)
		return !is_precopy(from) && from != S_COPY;
	if (is_precopy(to))
		return !is_precopy(from);
	return false;
}

/*
 * Every arc between the seven states, combination arcs included: the
 * state reached, the data fd returned exactly when a session starts, and
 * the arcs the uAPI forbids (STOP_COPY -> PRE_COPY*) refused, the state
 * unchanged.  RESUMING is left with a whole stream loaded.
 */
TEST_F(mig, every_arc)
{
	static const int states[] = { S_STOP, S_RUN, S_COPY, S_RESUME, S_P2P,
				      S_PRE, S_PRE_P2P };
	struct stream good = {};
	int i, j, arcs = 0;

	ASSERT_EQ(0, save_stop_copy(self->src.fd, &good));
	for (i = 0; i < 7; i++) {
		for (j = 0; j < 7; j++) {
			int from = states[i], to = states[j], data_fd = -1;
			int rc, in_fd = -1;

			ASSERT_EQ(0, dev_reset(self->dst.fd));
			ASSERT_EQ(S_RUN, get_state(self->dst.fd));
			ASSERT_EQ(0, set_state(self->dst.fd, from, &in_fd));
			if (from == S_RESUME) {
				ASSERT_EQ(0, write_stream(in_fd, good.buf,
							  good.len, 4096));
			}
			rc = set_state(self->dst.fd, to, &data_fd);
			if (from == S_COPY && is_precopy(to)) {
				ASSERT_EQ(-EINVAL, rc);
				ASSERT_EQ(S_COPY, get_state(self->dst.fd));
			} else {
				ASSERT_EQ(0, rc) TH_LOG("%d -> %d", from, to);
				ASSERT_EQ(to, get_state(self->dst.fd));
				ASSERT_EQ(starts_session(from, to) && from != to,
					  data_fd >= 0)
					TH_LOG("%d -> %d fd %d", from, to,
					       data_fd);
				arcs++;
			}
			if (data_fd >= 0)
				close(data_fd);
			if (in_fd >= 0)
				close(in_fd);
		}
	}
	ASSERT_EQ(47, arcs);
	free(good.buf);
}

/*
 * STOP_COPY alone: one FINAL record with the whole context, as long as
 * MIG_DATA_SIZE said, loaded by the destination in pieces of any size.
 */
TEST_F(mig, stop_copy_moves_the_context)
{
	unsigned long long saved0, saved1;
	struct image img[4];
	struct stream s = {};
	long long size;
	int data_fd = -1, i;

	ASSERT_EQ(0, ctx_fill(self->src.fd, self->size, 7));
	ASSERT_EQ(0, ctx_fill(self->dst.fd, self->size, 99));
	ASSERT_FALSE(ctx_same(self, self->src.fd, self->dst.fd));
	size = data_size(self->src.fd);
	ASSERT_LT(0, size);
	ASSERT_EQ(size, data_size(self->dst.fd));
	/* The arc only stops the device: the FINAL is made as it is read */
	ASSERT_EQ(0, sysfs_get(&self->src, "records_saved", &saved0));
	ASSERT_EQ(0, set_state(self->src.fd, S_COPY, &data_fd));
	ASSERT_EQ(0, sysfs_get(&self->src, "records_saved", &saved1));
	ASSERT_EQ(saved0, saved1);
	ASSERT_EQ(0, read_stream(data_fd, &s, 65536));
	close(data_fd);
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));

	/* 256 KiB of context and headers: a FINAL image in two records */
	ASSERT_EQ(2, stream_index(&s));
	ASSERT_EQ(1, stream_images(&s, img, 4));
	ASSERT_EQ(REC_FINAL, img[0].type);
	ASSERT_EQ(0, img[0].flags);
	for (i = 0; i < s.nrecs; i++) {
		ASSERT_EQ(i, rec_at(&s, i)->seq);
		ASSERT_EQ(i + 1 < s.nrecs ? REC_F_MORE : 0,
			  rec_at(&s, i)->flags);
	}
	/* The estimate: at most a header per half record over */
	ASSERT_LE((long long)s.len, size);
	ASSERT_GE((long long)s.len + 32 * (s.nrecs + 1), size);

	ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 3000));
	ASSERT_EQ(0, set_state(self->dst.fd, S_RUN, NULL));
	ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));
	/* The source runs on */
	ASSERT_EQ(0, set_state(self->src.fd, S_RUN, NULL));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 1, 0, 1));
	free(s.buf);
}

/*
 * PRE_COPY with the limiter off: PRECOPY_INFO's initial_bytes only falls,
 * by at least what was read, to 0 once the INITIAL image (two records) is
 * read, and never before; a drained stream reads ENOMSG with both counts
 * zero; a change shows in dirty_bytes and the read() after it makes the
 * DELTA: an info request makes none, so changes between the request and
 * the read go in the same DELTA.  STOP_COPY ends with a FINAL delta and end
 * of stream for good.  Records come in order, numbered from 0, and the
 * destination ends up with the source's context.
 */
TEST_F(mig, precopy_info_and_images)
{
	__u64 initial = 0, dirty = 0, last;
	unsigned long long images, images0;
	unsigned char piece[1000];
	struct image img[8];
	struct stream s = {};
	int data_fd = -1, i;
	ssize_t n;

	ASSERT_EQ(0, sysfs_set(&self->src, "limiter", "0"));
	ASSERT_EQ(0, ctx_fill(self->src.fd, self->size, 3));
	ASSERT_EQ(-ENOTTY, precopy_info(self->src.fd, &initial, &dirty));
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE, &data_fd));
	ASSERT_LE(0, data_fd);
	ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
	ASSERT_LT(self->size, initial);
	ASSERT_EQ(0, dirty);
	last = initial;
	while (last) {
		n = read(data_fd, piece, sizeof(piece));
		ASSERT_LT(0, n);
		s.buf = realloc(s.buf, s.len + n);
		memcpy(s.buf + s.len, piece, n);
		s.len += n;
		ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
		/* Never an under-estimate: QEMU counts the INITIAL down */
		ASSERT_LE(n, last);
		ASSERT_GE(last - n, initial);
		ASSERT_EQ(0, dirty);
		last = initial;
	}
	/* Zero exactly when the INITIAL image's last byte was read */
	ASSERT_EQ(2, stream_index(&s));
	ASSERT_EQ(REC_F_MORE, rec_at(&s, 0)->flags);
	ASSERT_EQ(0, rec_at(&s, 1)->flags);
	ASSERT_EQ(-1, read(data_fd, piece, sizeof(piece)));
	ASSERT_EQ(ENOMSG, errno);
	ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
	ASSERT_EQ(0, initial + dirty);

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0x40 + i,
				    (5 + i) * MET_BLOCK + 1, 2));
		ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
		ASSERT_EQ(0, initial);
		ASSERT_LT(MET_BLOCK, dirty);
		ASSERT_EQ(-ENOMSG, read_stream(data_fd, &s, 777));
	}
	/* Two changes, an info request between them: one DELTA, made by read */
	ASSERT_EQ(0, sysfs_get(&self->src, "images", &images0));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0x60, 20 * MET_BLOCK,
			    1));
	ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
	ASSERT_EQ(0, initial);
	ASSERT_LT(MET_BLOCK, dirty);
	last = dirty;
	ASSERT_EQ(0, sysfs_get(&self->src, "images", &images));
	ASSERT_EQ(images0, images);
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0x61, 30 * MET_BLOCK,
			    1));
	ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
	ASSERT_LE(last + MET_BLOCK, dirty);
	ASSERT_EQ(-ENOMSG, read_stream(data_fd, &s, 777));
	ASSERT_EQ(0, sysfs_get(&self->src, "images", &images));
	ASSERT_EQ(images0 + 1, images);
	/* P2P keeps PRE_COPY going; STOP_COPY stops the device */
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE_P2P, NULL));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0x50, 0, 1));
	ASSERT_EQ(0, set_state(self->src.fd, S_COPY, NULL));
	ASSERT_EQ(-EBUSY, met_do(self->src.fd, MET_CMD_FILL, 0x51, 0, 1));
	ASSERT_EQ(-EINVAL, precopy_info(data_fd, &initial, &dirty));
	ASSERT_EQ(0, read_stream(data_fd, &s, 4096));
	ASSERT_EQ(0, read(data_fd, piece, sizeof(piece)));

	ASSERT_EQ(7, stream_index(&s));
	ASSERT_EQ(6, stream_images(&s, img, 8));
	ASSERT_EQ(REC_INITIAL, img[0].type);
	ASSERT_EQ(2, img[0].nrecs);
	for (i = 1; i < 5; i++)
		ASSERT_EQ(REC_DELTA, img[i].type);
	ASSERT_EQ(REC_FINAL, img[5].type);
	ASSERT_EQ(REC_F_DELTA, img[5].flags);
	for (i = 0; i < 7; i++)
		ASSERT_EQ(i, rec_at(&s, i)->seq);

	/* Leaving the saving group ends the session's file */
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));
	ASSERT_EQ(-1, read(data_fd, piece, sizeof(piece)));
	ASSERT_EQ(ENODEV, errno);
	close(data_fd);

	ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 50000));
	ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));
	free(s.buf);
}

/*
 * The limiter holds a new image back for min_interval after the last one,
 * reporting no data meanwhile and counting the hold; then lets it go.
 */
TEST_F(mig, limiter_holds_then_releases)
{
	unsigned long long holds, images, suppressed;
	unsigned char buf[65536];
	__u64 initial = 0, dirty = 0;
	struct stream s = {};
	int data_fd = -1;

	ASSERT_EQ(0, sysfs_set(&self->src, "limiter", "1"));
	ASSERT_EQ(0, sysfs_set(&self->src, "max_interval_us", "8000000"));
	ASSERT_EQ(0, sysfs_set(&self->src, "min_interval_us", "1500000"));
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE, &data_fd));
	ASSERT_EQ(-ENOMSG, read_stream(data_fd, &s, sizeof(buf)));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 9, 0, 3 * MET_BLOCK));

	ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
	ASSERT_EQ(0, initial + dirty);
	ASSERT_EQ(-1, read(data_fd, buf, sizeof(buf)));
	ASSERT_EQ(ENOMSG, errno);
	/* The read was held; the info request is not counted as one */
	ASSERT_EQ(0, sysfs_get(&self->src, "holds", &holds));
	ASSERT_EQ(1, holds);
	ASSERT_EQ(0, sysfs_get(&self->src, "bytes_suppressed", &suppressed));
	ASSERT_LE(3 * MET_BLOCK, suppressed);
	ASSERT_EQ(0, sysfs_get(&self->src, "images", &images));
	ASSERT_EQ(1, images);

	usleep(1600000);
	ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
	ASSERT_LT(3 * MET_BLOCK, dirty);
	ASSERT_EQ(0, sysfs_get(&self->src, "images", &images));
	ASSERT_EQ(1, images);
	ASSERT_EQ(-ENOMSG, read_stream(data_fd, &s, sizeof(buf)));
	ASSERT_EQ(0, sysfs_get(&self->src, "images", &images));
	ASSERT_EQ(2, images);
	close(data_fd);
	free(s.buf);
}

/* Bad knobs are refused */
TEST_F(mig, knobs)
{
	unsigned long long v;

	ASSERT_EQ(-EINVAL, sysfs_set(&self->src, "limiter", "2"));
	ASSERT_EQ(-EINVAL, sysfs_set(&self->src, "hot_pct", "0"));
	ASSERT_EQ(-EINVAL, sysfs_set(&self->src, "hot_pct", "101"));
	ASSERT_EQ(-EINVAL, sysfs_set(&self->src, "min_interval_us", "x"));
	ASSERT_EQ(0, sysfs_set(&self->src, "max_interval_us", "1000"));
	ASSERT_EQ(-EINVAL, sysfs_set(&self->src, "min_interval_us", "1001"));
	ASSERT_EQ(0, sysfs_get(&self->src, "max_interval_us", &v));
	ASSERT_EQ(1000, v);
	ASSERT_EQ(0, sysfs_get(&self->src, "limiter", &v));
	ASSERT_EQ(1, v);
}

/*
 * Error arcs: a failing callback leaves the state where it was.  A failed
 * save fails the read() that needed its record, never an arc (arcs make no
 * records), and the next read makes it again.
 */
TEST_F(mig, error_arcs)
{
	struct stream s = {};
	int data_fd = -1;
	off_t off;

	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FAIL, MET_FAIL_SAVE, 0, 0));
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE, &data_fd));
	ASSERT_EQ(-EIO, read_stream(data_fd, &s, 65536));
	ASSERT_EQ(S_PRE, get_state(self->src.fd));
	ASSERT_EQ(-ENOMSG, read_stream(data_fd, &s, 65536));
	ASSERT_EQ(2, stream_index(&s));
	ASSERT_EQ(0, set_state(self->src.fd, S_RUN, NULL));
	close(data_fd);
	free(s.buf);

	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FAIL, MET_FAIL_SET_RUN, 0,
			    0));
	ASSERT_EQ(-EIO, set_state(self->src.fd, S_STOP, NULL));
	ASSERT_EQ(S_RUN, get_state(self->src.fd));

	/* RUNNING -> STOP_COPY goes through P2P and STOP; STOP fails */
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FAIL, MET_FAIL_SET_RUN, 1,
			    0));
	ASSERT_EQ(-EIO, set_state(self->src.fd, S_COPY, &data_fd));
	ASSERT_EQ(S_P2P, get_state(self->src.fd));
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));

	ASSERT_EQ(0, set_state(self->src.fd, S_COPY, &data_fd));
	ASSERT_LE(0, data_fd);
	off = lseek(data_fd, 0, SEEK_SET);
	ASSERT_EQ(-1, off);
	ASSERT_EQ(ESPIPE, errno);
	ASSERT_EQ(-1, write(data_fd, "x", 1));
	ASSERT_EQ(-EINVAL, set_state(self->src.fd, S_PRE, NULL));
	close(data_fd);

	/* A commit that fails keeps the device in RESUMING */
	{
		struct stream s = {};

		ASSERT_EQ(0, dev_reset(self->src.fd));
		ASSERT_EQ(0, save_stop_copy(self->src.fd, &s));
		ASSERT_EQ(0, met_do(self->dst.fd, MET_CMD_FAIL,
				    MET_FAIL_COMMIT, 0, 0));
		ASSERT_EQ(-EIO, load_stream(self->dst.fd, s.buf, s.len, 9999));
		ASSERT_EQ(S_RESUME, get_state(self->dst.fd));
		ASSERT_EQ(0, set_state(self->dst.fd, S_STOP, NULL));
		ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));
		free(s.buf);
	}
}

#define MAX_TLVS 64

/*
 * The offsets, from the record's start, of the TLVs of the record at @rec
 * (well-formed), up to MAX_TLVS of them: their count.
 */
static int tlv_index(const unsigned char *rec, size_t *offs)
{
	const struct rec_hdr *h = (const struct rec_hdr *)rec;
	size_t off = sizeof(*h), end = sizeof(*h) + h->length;
	int n = 0;

	while (off + 8 <= end && n < MAX_TLVS) {
		__u32 len = *(const __u32 *)(rec + off + 4);

		offs[n++] = off;
		off += 8 + ((len + 7) & ~7U);
	}
	return n;
}

/* Corrupt @s by @how into @out (a copy); may re-sign records */
enum corruption {
	CUT_IN_RECORD, CUT_BEFORE_FINAL, SWAP, DUPLICATE, DROP, FLIP_PAYLOAD,
	FLIP_HEADER, OVERSIZED, BAD_TLV_LENGTH, UNKNOWN_REQUIRED_TLV,
	BLOCK_OUT_OF_RANGE, NCORRUPTIONS
};

static const char * const corruption_names[] = {
	"cut in a record", "cut before FINAL", "records swapped",
	"record repeated", "record dropped", "payload bit flipped",
	"header bit flipped", "oversized record", "bad TLV length",
	"unknown required TLV", "block out of range",
};

static size_t corrupt(struct stream *s, int how, unsigned char *out)
{
	struct rec_hdr *h;
	size_t len = s->len, off;
	int r = 1 + rand() % (s->nrecs - 1);

	memcpy(out, s->buf, s->len);
	switch (how) {
	case CUT_IN_RECORD:
		return s->rec_off[r] + 1 + rand() % (rec_len(s, r) - 1);
	case CUT_BEFORE_FINAL:
		return s->rec_off[s->nrecs - 1];
	case SWAP:
		r = 1 + rand() % (s->nrecs - 2);
		off = s->rec_off[r];
		memcpy(out + off, s->buf + s->rec_off[r + 1], rec_len(s, r + 1));
		memcpy(out + off + rec_len(s, r + 1), s->buf + off,
		       rec_len(s, r));
		return len;
	case DUPLICATE:
		memcpy(out + s->rec_off[r] + rec_len(s, r),
		       s->buf + s->rec_off[r], s->len - s->rec_off[r]);
		return len + rec_len(s, r);
	case DROP:
		memcpy(out + s->rec_off[r], s->buf + s->rec_off[r] +
		       rec_len(s, r), s->len - s->rec_off[r] - rec_len(s, r));
		return len - rec_len(s, r);
	case FLIP_PAYLOAD:
		r = rand() % s->nrecs;
		h = rec_at(s, r);
		if (!h->length)
			r = 0;
		off = s->rec_off[r] + sizeof(*h) +
		      rand() % rec_at(s, r)->length;
		out[off] ^= 1 << (rand() % 8);
		return len;
	case FLIP_HEADER:
		off = s->rec_off[r] + rand() % sizeof(*h);
		out[off] ^= 1 << (rand() % 8);
		return len;
	case OVERSIZED:
		/* A signed header announcing more than the device accepts */
		h = (struct rec_hdr *)(out + s->rec_off[r]);
		h->length = (1ULL << 40) + rand();
		mig_sign_hdr(h);
		return s->rec_off[r] + sizeof(*h) + 100;
	case BAD_TLV_LENGTH:
	case UNKNOWN_REQUIRED_TLV:
	case BLOCK_OUT_OF_RANGE:
		/* The first TLV of the INITIAL record, re-signed */
		h = (struct rec_hdr *)out;
		if (how == BAD_TLV_LENGTH)
			*(__u32 *)(out + sizeof(*h) + 4) = 9 + rand() % 64;
		else if (how == UNKNOWN_REQUIRED_TLV)
			*(__u16 *)(out + sizeof(*h)) = 0x7000 + rand() % 64;
		else
			/* The second TLV is block 0: make it block 2^40 */
			out[sizeof(*h) + 16 + 8 + 5] = 1;
		mig_sign(h);
		return len;
	}
	return len;
}

/*
 * Each kind of damage is refused with an error, at a write or at leaving
 * RESUMING, and the destination keeps its own context; after a reset the
 * good stream loads.  A stream of a device with another context size is
 * refused too, and the source stays usable throughout.
 */
TEST_F(mig, damaged_streams_rejected)
{
	unsigned long long rejected;
	struct stream s = {};
	unsigned char *bad;
	int how, rc, k;

	ASSERT_EQ(0, ctx_fill(self->src.fd, self->size, 5));
	ASSERT_EQ(0, save_precopy(&self->src, &s));
	/* The INITIAL in two records, two DELTAs, the FINAL */
	ASSERT_EQ(5, stream_index(&s));
	bad = malloc(2 * s.len);
	ASSERT_NE(NULL, bad);

	for (how = 0; how < NCORRUPTIONS; how++) {
		for (k = 0; k < 4; k++) {
			size_t len = corrupt(&s, how, bad);

			ASSERT_EQ(0, dev_reset(self->dst.fd));
			ASSERT_EQ(0, ctx_fill(self->dst.fd, self->size, 77));
			ASSERT_EQ(0, ctx_get(self->dst.fd, self->b,
					     self->size));
			rc = load_stream(self->dst.fd, bad, len, 8192);
			ASSERT_NE(0, rc) TH_LOG("%s: accepted",
						corruption_names[how]);
			ASSERT_EQ(S_RESUME, get_state(self->dst.fd));
			ASSERT_EQ(0, dev_reset(self->dst.fd));
			ASSERT_EQ(0, ctx_get(self->dst.fd, self->a,
					     self->size));
			ASSERT_EQ(0, memcmp(self->a, self->b, self->size))
				TH_LOG("%s: context changed",
				       corruption_names[how]);
		}
	}
	ASSERT_EQ(0, sysfs_get(&self->dst, "streams_rejected", &rejected));
	ASSERT_EQ(4 * NCORRUPTIONS, rejected);

	ASSERT_EQ(0, dev_reset(self->dst.fd));
	ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 100000));
	ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));

	/* Another configuration: a destination with a bigger context */
	ASSERT_EQ(0, dev_reset(self->dst.fd));
	ASSERT_EQ(0, met_do(self->dst.fd, MET_CMD_RESIZE, 0, 0,
			    2 * self->size));
	ASSERT_EQ(-EINVAL, load_stream(self->dst.fd, s.buf, s.len, 100000));
	ASSERT_EQ(0, dev_reset(self->dst.fd));

	/* The source still works */
	ASSERT_EQ(0, dev_reset(self->src.fd));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0xee, 0, 1));
	ASSERT_EQ(0, ctx_get(self->src.fd, self->a, 1));
	ASSERT_EQ(0xee, self->a[0]);
	free(bad);
	free(s.buf);
}

/*
 * Fuzz the kernel's resuming side: 10,000 streams, each a valid PRE_COPY
 * stream of a 16 KiB context with random damage, a quarter of each kind:
 * bit flips; cuts, record swaps, repeats and drops and the other damage of
 * damaged_streams_rejected; TLV headers and block indices changed and the
 * record re-signed; header fields changed and the header re-signed.  The
 * last two only the parser can catch.  Bit flips must be refused; every
 * refused stream must leave the destination's context as it was.
 */
#define FUZZ_STREAMS 10000

TEST_F_TIMEOUT(mig, fuzz_resuming, 600)
{
	unsigned int refused = 0, taken = 0, flips = 0;
	struct stream s = {};
	unsigned char *bad;
	int i;

	self->size = 4 * MET_BLOCK;
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, met_do(self->dst.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, ctx_fill(self->src.fd, self->size, 1));
	ASSERT_EQ(0, save_precopy(&self->src, &s));
	ASSERT_EQ(4, stream_index(&s));
	bad = malloc(2 * s.len + 64);
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, ctx_fill(self->dst.fd, self->size, 200));
	ASSERT_EQ(0, ctx_get(self->dst.fd, self->b, self->size));

	for (i = 0; i < FUZZ_STREAMS; i++) {
		size_t len = s.len;
		int kind = rand() % 4, n, rc;

		memcpy(bad, s.buf, s.len);
		if (kind == 0) {
			/* Bit flips anywhere: the checksums catch them */
			for (n = 1 + rand() % 4; n; n--)
				bad[rand() % len] ^= 1 << (rand() % 8);
			flips++;
		} else if (kind == 1) {
			len = corrupt(&s, rand() % NCORRUPTIONS, bad);
		} else if (kind == 2) {
			/* A TLV header or block index changed, re-signed */
			int r = rand() % s.nrecs;
			unsigned char *rec = bad + s.rec_off[r];
			size_t tlvs[MAX_TLVS];
			int ntlvs = tlv_index(rec, tlvs);

			if (!ntlvs) {
				r = 0;
				rec = bad;
				ntlvs = tlv_index(rec, tlvs);
			}
			for (n = 1 + rand() % 3; n; n--)
				rec[tlvs[rand() % ntlvs] + rand() % 16] = rand();
			mig_sign(rec);
		} else {
			/* A header field changed, the header re-signed */
			struct rec_hdr *h = (struct rec_hdr *)(bad +
				s.rec_off[rand() % s.nrecs]);

			switch (rand() % 5) {
			case 0:
				h->type = rand() % 6;
				break;
			case 1:
				h->flags = rand();
				break;
			case 2:
				h->seq = rand() % 8;
				break;
			case 3:
				h->reserved = rand();
				break;
			default:
				h->length = rand() % (2 * h->length + 64);
				break;
			}
			mig_sign_hdr(h);
		}
		rc = load_stream(self->dst.fd, bad, len, 1 + rand() % 20000);
		if (rc) {
			refused++;
			ASSERT_EQ(0, dev_reset(self->dst.fd));
			ASSERT_EQ(0, ctx_get(self->dst.fd, self->a,
					     self->size));
			ASSERT_EQ(0, memcmp(self->a, self->b, self->size))
				TH_LOG("stream %d refused (%d) but the context changed",
				       i, rc);
		} else {
			/* Only damage no checksum covers can get through */
			ASSERT_NE(0, kind) TH_LOG("stream %d: flips taken", i);
			taken++;
			ASSERT_EQ(0, dev_reset(self->dst.fd));
			ASSERT_EQ(0, ctx_fill(self->dst.fd, self->size, 200));
		}
	}
	/* Taken: re-signed and still well-formed */
	ksft_print_msg("fuzz: %d streams, %u refused, %u taken, %u with bit flips\n",
		       FUZZ_STREAMS, refused, taken, flips);
	/* Most re-signed changes must still be caught */
	ASSERT_GT(refused, FUZZ_STREAMS * 8 / 10);
	ASSERT_EQ(FUZZ_STREAMS, refused + taken);
	free(bad);
	free(s.buf);
}

/* The kernel's vmalloc use, in KiB (/proc/meminfo VmallocUsed) */
static long vmalloc_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmallocUsed: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Read @data_fd to end of stream, reading again after a failed read */
static int read_stream_retrying(int data_fd, struct stream *s, size_t piece,
				int *failures)
{
	for (;;) {
		int rc = read_stream(data_fd, s, piece);

		if (rc != -ENOMEM && rc != -EFAULT && rc != -EIO)
			return rc;
		(*failures)++;
	}
}

/*
 * STOP_COPY after PRE_COPY, the FINAL a delta of several records made as
 * it is read, with every fault point of those reads failing in turn
 * (fail-nth: the record's allocations, the copy to userspace): a failed
 * read loses nothing, the state stays STOP_COPY, the next read makes the
 * record again, and the destination ends up with the source's context.
 * (A driver failing once its blocks are in is failed_final_record_retried.)
 */
TEST_F(mig, stop_copy_retried_after_faults)
{
	int nth_fd = fail_nth_open(), nth, left = 0, failed = 0;

	if (nth_fd < 0)
		SKIP(return, "no fault injection (fail-nth)");
	self->size = 1 << 20;
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, met_do(self->dst.fd, MET_CMD_RESIZE, 0, 0, self->size));
	for (nth = 1; nth < 200 && left <= 0; nth++) {
		struct stream s = {};
		int data_fd = -1, failures = 0;

		ASSERT_EQ(0, dev_reset(self->src.fd));
		ASSERT_EQ(0, dev_reset(self->dst.fd));
		ASSERT_EQ(0, ctx_fill(self->src.fd, self->size, nth));
		ASSERT_EQ(0, sysfs_set(&self->src, "limiter", "0"));
		ASSERT_EQ(0, set_state(self->src.fd, S_PRE, &data_fd));
		ASSERT_EQ(-ENOMSG, read_stream(data_fd, &s, 65536));
		ASSERT_EQ(0, set_state(self->src.fd, S_PRE_P2P, NULL));
		/* 100 blocks and 3 bytes: a FINAL delta of two records */
		ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0x5a,
				    2 * MET_BLOCK, 100 * MET_BLOCK));
		ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0xa5,
				    150 * MET_BLOCK + 7, 3));
		ASSERT_EQ(0, set_state(self->src.fd, S_COPY, NULL));

		ASSERT_EQ(0, fail_nth_arm(nth_fd, nth));
		ASSERT_EQ(0, read_stream_retrying(data_fd, &s, 65536,
						  &failures));
		left = fail_nth_left(nth_fd);
		if (failures)
			ASSERT_EQ(S_COPY, get_state(self->src.fd));
		failed += failures;
		close(data_fd);
		ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));
		ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 4096));
		ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd))
			TH_LOG("fault %d: the retried FINAL lost blocks", nth);
		free(s.buf);
	}
	close(nth_fd);
	TH_LOG("%d fault points, %d reads failed and were retried", nth - 1,
	       failed);
	ASSERT_LT(0, failed);
}

struct filler {
	int fd;
	int delay_ms;
};

static void *fill_later(void *arg)
{
	struct filler *f = arg;

	usleep(f->delay_ms * 1000);
	met_do(f->fd, MET_CMD_FILL, 0x3c, 0, 2 * MET_BLOCK);
	return NULL;
}

/*
 * poll() in PRE_COPY after the temporary end of stream: not readable
 * while nothing changed; readable once the context changes (the limiter
 * off), and once a hold of the limiter has run out.
 */
TEST_F(mig, poll_wakes_in_precopy)
{
	struct filler fl = { .fd = self->src.fd, .delay_ms = 300 };
	struct pollfd pfd = { .events = POLLIN };
	unsigned long long t0, waited;
	struct stream s = {};
	pthread_t th;

	ASSERT_EQ(0, sysfs_set(&self->src, "limiter", "0"));
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE, &pfd.fd));
	ASSERT_EQ(-ENOMSG, read_stream(pfd.fd, &s, 65536));
	ASSERT_EQ(0, poll(&pfd, 1, 0));

	/* A change while poll() sleeps wakes it */
	ASSERT_EQ(0, pthread_create(&th, NULL, fill_later, &fl));
	t0 = now_ns();
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	waited = (now_ns() - t0) / 1000000;
	pthread_join(th, NULL);
	ASSERT_TRUE(pfd.revents & POLLIN);
	ASSERT_GT(4000, waited);
	ASSERT_EQ(-ENOMSG, read_stream(pfd.fd, &s, 65536));
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	close(pfd.fd);
	free(s.buf);

	/* A change the limiter holds back: readable when the hold ends */
	s = (struct stream){};
	ASSERT_EQ(0, set_state(self->src.fd, S_RUN, NULL));
	ASSERT_EQ(0, sysfs_set(&self->src, "limiter", "1"));
	ASSERT_EQ(0, sysfs_set(&self->src, "max_interval_us", "2000000"));
	ASSERT_EQ(0, sysfs_set(&self->src, "min_interval_us", "1000000"));
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE, &pfd.fd));
	ASSERT_EQ(-ENOMSG, read_stream(pfd.fd, &s, 65536));
	t0 = now_ns();
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 1, 0, MET_BLOCK));
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	waited = (now_ns() - t0) / 1000000;
	ASSERT_TRUE(pfd.revents & POLLIN);
	ASSERT_GT(4000, waited);
	ASSERT_EQ(-ENOMSG, read_stream(pfd.fd, &s, 65536));
	/* The INITIAL in two records, then the DELTA */
	ASSERT_EQ(3, stream_index(&s));
	close(pfd.fd);
	free(s.buf);
}

struct racer {
	int fd;
	struct stream *s;
	/* When the last read that returned ENOMSG began */
	unsigned long long enomsg_start;
	int rc;
};

static void *read_racing(void *arg)
{
	struct racer *r = arg;

	for (;;) {
		unsigned long long t0 = now_ns();
		ssize_t n;

		r->s->buf = realloc(r->s->buf, r->s->len + (1 << 20));
		if (!r->s->buf) {
			r->rc = -ENOMEM;
			return NULL;
		}
		n = read(r->fd, r->s->buf + r->s->len, 1 << 20);
		if (n > 0) {
			r->s->len += n;
		} else if (!n) {
			return NULL;
		} else if (errno == ENOMSG) {
			r->enomsg_start = t0;
		} else {
			r->rc = -errno;
			return NULL;
		}
	}
}

/*
 * PRE_COPY_P2P -> STOP_COPY of a 64 MiB context, a reader racing it: the
 * arc only stops the device, and the FINAL image (a delta of every block,
 * 256 records) is made as the reader reads it, so the arc takes a small
 * part of the time the FINAL takes to read.  No read() that started after
 * the arc returned gets ENOMSG (the uAPI forbids it in STOP_COPY), and the
 * stream is whole.  The old engine built the whole image in the arc.
 */
TEST_F(mig, stop_copy_read_race)
{
	struct stream s = {};
	struct racer r = { .s = &s };
	unsigned long long start, end, done;
	struct image img[4];
	pthread_t th;
	int data_fd = -1;

	self->size = MET_MAX_SIZE;
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, met_do(self->dst.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0x42, 0, self->size));
	/* One image, then held for an hour: reads in PRE_COPY get ENOMSG */
	ASSERT_EQ(0, sysfs_set(&self->src, "max_interval_us", "3600000000"));
	ASSERT_EQ(0, sysfs_set(&self->src, "min_interval_us", "3600000000"));
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE, &data_fd));
	ASSERT_EQ(-ENOMSG, read_stream(data_fd, &s, 1 << 20));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FILL, 0x43, 0, self->size));
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE_P2P, NULL));

	r.fd = data_fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, read_racing, &r));
	usleep(200000);
	start = now_ns();
	ASSERT_EQ(0, set_state(self->src.fd, S_COPY, NULL));
	end = now_ns();
	pthread_join(th, NULL);
	done = now_ns();
	close(data_fd);
	ASSERT_EQ(0, r.rc);
	TH_LOG("the arc took %llu ms, reading the FINAL %llu ms",
	       (end - start) / 1000000, (done - end) / 1000000);
	ASSERT_LT((end - start) * 4, done - end)
		TH_LOG("the arc built the FINAL");
	ASSERT_GT(end, r.enomsg_start)
		TH_LOG("a read that began after the arc returned ENOMSG");
	ASSERT_LT(2 * MET_MAX_SIZE / REC_MAX, stream_index(&s));
	ASSERT_EQ(2, stream_images(&s, img, 4));
	ASSERT_EQ(REC_FINAL, img[1].type);
	ASSERT_EQ(REC_F_DELTA, img[1].flags);
	ASSERT_LT(MET_MAX_SIZE / REC_MAX, img[1].nrecs);
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));
	ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 1 << 20));
	ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));
	free(s.buf);
}

/*
 * A session that ended (PRE_COPY -> RUNNING) fails every call on its file
 * with ENODEV, GET_PRECOPY_INFO included, and gives its record back at
 * once, not when the file is closed.  What it holds is one record, not an
 * image: a 64 MiB context's INITIAL, partly read, takes a record of 256
 * KiB (the old engine queued the whole image in the arc).  Two sessions,
 * so that the records stand out of other vmalloc use.
 */
TEST_F(mig, ended_session)
{
	unsigned char buf[64];
	__u64 initial = 0, dirty = 0;
	long before, queued, after;
	int data_fd = -1, data_fd2 = -1;

	/* Both devices as sources: two sessions, two records */
	self->size = MET_MAX_SIZE;
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, met_do(self->dst.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE, &data_fd));
	ASSERT_EQ(0, set_state(self->dst.fd, S_PRE, &data_fd2));
	before = vmalloc_kib();
	ASSERT_EQ(sizeof(buf), read(data_fd, buf, sizeof(buf)));
	ASSERT_EQ(sizeof(buf), read(data_fd2, buf, sizeof(buf)));
	queued = vmalloc_kib();
	ASSERT_EQ(0, precopy_info(data_fd, &initial, &dirty));
	ASSERT_LT(self->size, initial);
	ASSERT_EQ(0, set_state(self->src.fd, S_RUN, NULL));
	ASSERT_EQ(0, set_state(self->dst.fd, S_RUN, NULL));
	after = vmalloc_kib();
	TH_LOG("vmalloc: %ld KiB, %ld with two records queued, %ld once the sessions ended",
	       before, queued, after);
	ASSERT_LE(400, queued - before);
	ASSERT_GT(2 << 10, queued - before)
		TH_LOG("the sessions hold more than a record each");
	ASSERT_LE(400, queued - after)
		TH_LOG("the ended sessions still hold their records");

	ASSERT_EQ(-ENODEV, precopy_info(data_fd, &initial, &dirty));
	ASSERT_EQ(-1, read(data_fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(data_fd);
	close(data_fd2);
}

/* Read exactly the next record of @data_fd onto @s: 0 or -errno */
static int read_record(int data_fd, struct stream *s)
{
	struct rec_hdr h;
	ssize_t n;

	n = read(data_fd, &h, sizeof(h));
	if (n != sizeof(h))
		return n < 0 ? -errno : -EIO;
	s->buf = realloc(s->buf, s->len + sizeof(h) + h.length);
	if (!s->buf)
		return -ENOMEM;
	memcpy(s->buf + s->len, &h, sizeof(h));
	n = read(data_fd, s->buf + s->len + sizeof(h), h.length);
	if (n != (ssize_t)h.length)
		return n < 0 ? -errno : -EIO;
	s->len += sizeof(h) + h.length;
	return 0;
}

/*
 * FINAL records the driver fails to make (the first of a 1 MiB image, as
 * it starts; the second, once its blocks were in the record) fail the
 * read() that needed them, not the arc: the state stays STOP_COPY, the
 * next read makes the record again, and the destination ends up with the
 * source's context.  The old engine built the FINAL in the arc; a save
 * that forgot the blocks of a record thrown away would lose them here.
 */
TEST_F(mig, failed_final_record_retried)
{
	int data_fd = -1, failures = 0, i;
	struct stream s = {};

	self->size = 1 << 20;
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, met_do(self->dst.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, ctx_fill(self->src.fd, self->size, 9));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FAIL, MET_FAIL_SAVE, 0, 0));
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_FAIL, MET_FAIL_SAVE_LATE, 1,
			    0));
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));
	ASSERT_EQ(0, set_state(self->src.fd, S_COPY, &data_fd));
	ASSERT_EQ(-EIO, read_record(data_fd, &s));
	ASSERT_EQ(S_COPY, get_state(self->src.fd));
	ASSERT_EQ(0, read_record(data_fd, &s));
	ASSERT_EQ(-EIO, read_record(data_fd, &s));
	ASSERT_EQ(S_COPY, get_state(self->src.fd));
	ASSERT_EQ(0, read_stream_retrying(data_fd, &s, 65536, &failures));
	ASSERT_EQ(0, failures);
	close(data_fd);
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));
	ASSERT_EQ(5, stream_index(&s));
	for (i = 0; i < s.nrecs; i++)
		ASSERT_EQ(i, rec_at(&s, i)->seq);
	ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 100000));
	ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));
	free(s.buf);
}

/*
 * PRE_COPY of @fd, limiter off, its INITIAL read, the context filled with
 * @seed, then 64 KiB of the DELTA that follows read onto @s: the DELTA's
 * first record is being read.  The data fd, or -errno.
 */
static int delta_started(struct dev *d, struct stream *s, size_t size,
			 unsigned int seed)
{
	unsigned char piece[65536];
	int data_fd = -1, rc;
	ssize_t n;

	rc = sysfs_set(d, "limiter", "0");
	if (!rc)
		rc = set_state(d->fd, S_PRE, &data_fd);
	if (rc)
		return rc;
	rc = read_stream(data_fd, s, 1 << 20);
	if (rc == -ENOMSG)
		rc = ctx_fill(d->fd, size, seed);
	else if (!rc)
		rc = -EIO;
	n = rc ? -1 : read(data_fd, piece, sizeof(piece));
	if (n != sizeof(piece)) {
		close(data_fd);
		return rc ? rc : -EIO;
	}
	s->buf = realloc(s->buf, s->len + n);
	if (!s->buf) {
		close(data_fd);
		return -ENOMEM;
	}
	memcpy(s->buf + s->len, piece, n);
	s->len += n;
	return data_fd;
}

/*
 * STOP_COPY while a 4 MiB DELTA is being read, the whole context written
 * again after it started: the DELTA is cut short after the record being
 * read, and what goes after the stop is that record's rest and the FINAL
 * delta, about one context, not the DELTA's rest and then the FINAL (two
 * contexts: the old engine queued whole images).  The destination ends up
 * with the source's context.
 */
TEST_F(mig, stop_cuts_a_delta_short)
{
	size_t before_stop, final = 0;
	struct image img[8];
	struct stream s = {};
	int data_fd, i;

	self->size = 4 << 20;
	ASSERT_EQ(0, met_do(self->src.fd, MET_CMD_RESIZE, 0, 0, self->size));
	ASSERT_EQ(0, met_do(self->dst.fd, MET_CMD_RESIZE, 0, 0, self->size));
	data_fd = delta_started(&self->src, &s, self->size, 1);
	ASSERT_LE(0, data_fd);
	ASSERT_EQ(0, ctx_fill(self->src.fd, self->size, 2));
	before_stop = s.len;
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE_P2P, NULL));
	ASSERT_EQ(0, set_state(self->src.fd, S_COPY, NULL));
	ASSERT_EQ(0, read_stream(data_fd, &s, 1 << 20));
	close(data_fd);
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));
	TH_LOG("%zu KiB after the stop, for a %zu KiB context",
	       (s.len - before_stop) >> 10, self->size >> 10);
	ASSERT_GE(self->size + self->size / 64 + REC_MAX, s.len - before_stop);

	ASSERT_LT(0, stream_index(&s));
	ASSERT_EQ(3, stream_images(&s, img, 8));
	ASSERT_EQ(REC_DELTA, img[1].type);
	ASSERT_EQ(1, img[1].nrecs);
	ASSERT_EQ(REC_F_MORE, rec_at(&s, img[0].nrecs)->flags);
	ASSERT_EQ(REC_FINAL, img[2].type);
	ASSERT_EQ(REC_F_DELTA, img[2].flags);
	ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 100000));
	ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));
	free(s.buf);

	/*
	 * Nothing written after the cut: the cut DELTA's one record carries
	 * blocks 0-62, and the FINAL exactly the other 961, which are dirty
	 * still; both must reach the destination
	 */
	s = (struct stream){};
	ASSERT_EQ(0, dev_reset(self->src.fd));
	ASSERT_EQ(0, dev_reset(self->dst.fd));
	data_fd = delta_started(&self->src, &s, self->size, 3);
	ASSERT_LE(0, data_fd);
	ASSERT_EQ(0, set_state(self->src.fd, S_PRE_P2P, NULL));
	ASSERT_EQ(0, set_state(self->src.fd, S_COPY, NULL));
	ASSERT_EQ(0, read_stream(data_fd, &s, 1 << 20));
	close(data_fd);
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));
	ASSERT_LT(0, stream_index(&s));
	ASSERT_EQ(3, stream_images(&s, img, 8));
	ASSERT_EQ(1, img[1].nrecs);
	ASSERT_EQ(63 * 4112, rec_at(&s, img[0].nrecs)->length);
	for (i = img[0].nrecs + 1; i < s.nrecs; i++)
		final += rec_at(&s, i)->length;
	ASSERT_EQ(961 * 4112, final);
	ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 100000));
	ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));
	free(s.buf);
}

/* Any byte after the FINAL record fails the stream, 1 to 31 of them too */
TEST_F(mig, bytes_after_final_refused)
{
	static const size_t extra[] = { 1, 7, 31, 32 };
	struct stream s = {};
	unsigned char *bad;
	unsigned int i;

	ASSERT_EQ(0, ctx_fill(self->src.fd, self->size, 3));
	ASSERT_EQ(0, save_stop_copy(self->src.fd, &s));
	bad = malloc(s.len + 32);
	ASSERT_NE(NULL, bad);
	memcpy(bad, s.buf, s.len);
	memset(bad + s.len, 0, 32);
	for (i = 0; i < ARRAY_SIZE(extra); i++) {
		ASSERT_EQ(0, dev_reset(self->dst.fd));
		ASSERT_EQ(0, ctx_fill(self->dst.fd, self->size, 77));
		ASSERT_EQ(0, ctx_get(self->dst.fd, self->b, self->size));
		ASSERT_NE(0, load_stream(self->dst.fd, bad, s.len + extra[i],
					 100000))
			TH_LOG("%zu bytes after FINAL: accepted", extra[i]);
		ASSERT_EQ(0, dev_reset(self->dst.fd));
		ASSERT_EQ(0, ctx_get(self->dst.fd, self->a, self->size));
		ASSERT_EQ(0, memcmp(self->a, self->b, self->size));
	}
	ASSERT_EQ(0, dev_reset(self->dst.fd));
	ASSERT_EQ(0, load_stream(self->dst.fd, s.buf, s.len, 100000));
	ASSERT_TRUE(ctx_same(self, self->src.fd, self->dst.fd));
	free(bad);
	free(s.buf);
}

/*
 * A writer that sends a valid header announcing a 48 MiB record and then
 * stalls makes the kernel hold what it sent, not 48 MiB.
 */
TEST_F(mig, stalled_writer_holds_little)
{
	struct rec_hdr h = {
		.type = REC_FINAL, .length = 48 << 20,
	};
	long before, after;
	int data_fd = -1;

	mig_sign_hdr(&h);
	ASSERT_EQ(0, set_state(self->dst.fd, S_RESUME, &data_fd));
	before = vmalloc_kib();
	ASSERT_EQ(sizeof(h), write(data_fd, &h, sizeof(h)));
	ASSERT_EQ(4096, write(data_fd, self->a, 4096));
	after = vmalloc_kib();
	TH_LOG("vmalloc: %ld KiB more after the header", after - before);
	ASSERT_GT(8 << 10, after - before);
	close(data_fd);
	ASSERT_EQ(-ENODATA, set_state(self->dst.fd, S_STOP, NULL));
	ASSERT_EQ(0, dev_reset(self->dst.fd));
}

TEST_HARNESS_MAIN
