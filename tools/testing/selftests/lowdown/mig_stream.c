// SPDX-License-Identifier: GPL-2.0
/*
 * The migration stream format (drivers/vfio/mig_stream.c), built into this
 * test from the kernel source with userspace stand-ins for the few kernel
 * headers it uses (shim/), as tools/testing/radix-tree does.
 *
 * A small reader plays the resuming side of a driver: it takes a byte
 * stream, checks each record header, its place in the sequence and its
 * payload, parses the TLVs into a staging copy of a toy device state and
 * applies it only when the record passed, and demands a FINAL record at the
 * end.  Images may span records (F_MORE), the TLV parse carried between
 * them.  The tests check every rule one by one, then fuzz the reader with
 * corrupt streams: truncated, bit-flipped, with records dropped, repeated or
 * swapped, and with TLVs mutated behind re-computed checksums.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kselftest_harness.h"

#include "../../../../drivers/vfio/mig_stream.c"

/* The toy device: a config word, a context of up to 4 chunks, a counter */
#define T_CONFIG 1	/* u32, in every full image */
#define T_CHUNK 2	/* u32 index + 8 bytes, may repeat */
#define T_COUNTER 5	/* u64 */
#define NCHUNKS 4

struct toy {
	u32 config;
	u8 chunk[NCHUNKS][8];
	u64 counter;
};

static int toy_config(void *priv, u16 type, const void *v, u32 len)
{
	memcpy(&((struct toy *)priv)->config, v, 4);
	return 0;
}

static int toy_chunk(void *priv, u16 type, const void *v, u32 len)
{
	u32 idx;

	memcpy(&idx, v, 4);
	if (idx >= NCHUNKS)
		return -ERANGE;
	memcpy(((struct toy *)priv)->chunk[idx], (const u8 *)v + 4, 8);
	return 0;
}

static int toy_counter(void *priv, u16 type, const void *v, u32 len)
{
	memcpy(&((struct toy *)priv)->counter, v, 8);
	return 0;
}

static const struct vfio_mig_tlv_desc toy_descs[] = {
	{ T_CONFIG, VFIO_MIG_TLV_DESC_IN_FULL, 4, 4, toy_config },
	{ T_CHUNK, VFIO_MIG_TLV_DESC_REPEAT, 12, 12, toy_chunk },
	{ T_COUNTER, 0, 8, 8, toy_counter },
};

static const struct vfio_mig_tlv_set toy_set = { toy_descs, 3 };

#define MAX_PAYLOAD 4096

struct stream {
	u8 buf[8 * MAX_PAYLOAD];
	size_t len;
	/* Where each record starts, and how many */
	size_t rec_off[16];
	int nrec;
};

/* Append a record with the payload @p; returns its offset */
static size_t put_record(struct stream *s, u8 type, u8 flags, u32 seq,
			 const void *p, size_t len)
{
	struct vfio_mig_record_hdr *hdr = (void *)(s->buf + s->len);

	vfio_mig_record_hdr_fill(hdr, type, flags, seq, p, len);
	memcpy(s->buf + s->len + sizeof(*hdr), p, len);
	s->rec_off[s->nrec++] = s->len;
	s->len += sizeof(*hdr) + len;
	return s->rec_off[s->nrec - 1];
}

/* A payload for @t: config (if @full), the chunks in @mask, the counter */
static size_t toy_payload(u8 *p, const struct toy *t, bool full,
			  unsigned int mask)
{
	size_t n = 0;
	u8 v[12];
	u32 i;

	if (full)
		n += vfio_mig_tlv_put(p + n, MAX_PAYLOAD - n, T_CONFIG, 0,
				      &t->config, 4);
	for (i = 0; i < NCHUNKS; i++) {
		if (!(mask & (1U << i)))
			continue;
		memcpy(v, &i, 4);
		memcpy(v + 4, t->chunk[i], 8);
		n += vfio_mig_tlv_put(p + n, MAX_PAYLOAD - n, T_CHUNK, 0, v,
				      12);
	}
	n += vfio_mig_tlv_put(p + n, MAX_PAYLOAD - n, T_COUNTER, 0,
			      &t->counter, 8);
	return n;
}

/*
 * A valid stream: INITIAL (full), two DELTAs, FINAL (full); @t ends as the
 * state the target must reach.
 */
static void good_stream(struct stream *s, struct toy *t)
{
	u8 p[MAX_PAYLOAD];
	size_t n;

	memset(s, 0, sizeof(*s));
	memset(t, 0, sizeof(*t));
	t->config = 0xc0f19;
	memset(t->chunk, 0x11, sizeof(t->chunk));
	t->counter = 1;
	n = toy_payload(p, t, true, 0xf);
	put_record(s, VFIO_MIG_RECORD_INITIAL, 0, 0, p, n);

	memset(t->chunk[2], 0x22, 8);
	t->counter = 2;
	n = toy_payload(p, t, false, 1U << 2);
	put_record(s, VFIO_MIG_RECORD_DELTA, 0, 1, p, n);

	memset(t->chunk[0], 0x33, 8);
	memset(t->chunk[3], 0x44, 8);
	t->counter = 3;
	n = toy_payload(p, t, false, (1U << 0) | (1U << 3));
	put_record(s, VFIO_MIG_RECORD_DELTA, 0, 2, p, n);

	t->counter = 4;
	n = toy_payload(p, t, true, 0xf);
	put_record(s, VFIO_MIG_RECORD_FINAL, 0, 3, p, n);
}

/*
 * The resuming side: 0 and @out the device state, or the first error (and
 * @err says where).  A record reaches @out only once it passed entirely.
 */
static int read_stream(const u8 *buf, size_t len, struct toy *out,
		       struct vfio_mig_parse_err *err)
{
	struct vfio_mig_record prev, rec = {};
	struct vfio_mig_image img = {};
	bool have_prev = false;
	size_t off = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rec.image = &img;
	while (off < len) {
		struct vfio_mig_record_hdr hdr;
		struct toy staging = *out;

		if (len - off < sizeof(hdr)) {
			err->what = "stream cut inside a record header";
			return -EINVAL;
		}
		memcpy(&hdr, buf + off, sizeof(hdr));
		rc = vfio_mig_record_hdr_check(&hdr, MAX_PAYLOAD, &rec, err);
		if (rc)
			return rc;
		rc = vfio_mig_record_follows(have_prev ? &prev : NULL, &rec,
					     err);
		if (rc)
			return rc;
		off += sizeof(hdr);
		if (len - off < rec.length) {
			err->what = "stream cut inside a record payload";
			return -EINVAL;
		}
		rc = vfio_mig_record_payload_check(&rec, buf + off, err) ?:
		     vfio_mig_tlv_parse(&toy_set, &rec, buf + off, &staging,
					err);
		if (rc)
			return rc;
		*out = staging;
		off += rec.length;
		prev = rec;
		have_prev = true;
	}
	if (!have_prev || prev.type != VFIO_MIG_RECORD_FINAL ||
	    (prev.flags & VFIO_MIG_RECORD_F_MORE)) {
		err->what = "stream ended before the final record";
		return -EINVAL;
	}
	return 0;
}

#define expect_read(s, want)                                               \
	({                                                                 \
		struct vfio_mig_parse_err __e = {};                        \
		struct stream *__s = (s);                                  \
		struct toy __t;                                            \
		int __rc = read_stream(__s->buf, __s->len, &__t, &__e);   \
									   \
		ASSERT_EQ(want, __rc) TH_LOG("%s at %llu", __e.what,      \
					     (unsigned long long)__e.offset); \
		__e.what;                                                  \
	})

/* Re-sign record @i after its header or payload was changed in place */
static void resign(struct stream *s, int i)
{
	struct vfio_mig_record_hdr *hdr = (void *)(s->buf + s->rec_off[i]);
	u64 len = le64_to_cpu(hdr->length);

	if (len <= MAX_PAYLOAD &&
	    s->rec_off[i] + sizeof(*hdr) + len <= s->len)
		hdr->payload_crc = cpu_to_le32(mig_crc(hdr + 1, len));
	hdr->hdr_crc = 0;
	hdr->hdr_crc = cpu_to_le32(mig_crc(hdr, sizeof(*hdr)));
}

static struct vfio_mig_record_hdr *rec_hdr(struct stream *s, int i)
{
	return (void *)(s->buf + s->rec_off[i]);
}

TEST(round_trip)
{
	struct vfio_mig_parse_err err = {};
	struct stream s;
	struct toy want, got;

	good_stream(&s, &want);
	ASSERT_EQ(0, read_stream(s.buf, s.len, &got, &err));
	ASSERT_EQ(0, memcmp(&want, &got, sizeof(want)));
	ASSERT_EQ(32, sizeof(struct vfio_mig_record_hdr));
	ASSERT_EQ(8, sizeof(struct vfio_mig_tlv_hdr));
}

TEST(record_header_checks)
{
	struct stream s;
	struct toy t;
	size_t bit;

	good_stream(&s, &t);
	/* Any flipped header bit: bad magic or bad checksum */
	for (bit = 0; bit < 8 * sizeof(struct vfio_mig_record_hdr); bit++) {
		struct vfio_mig_parse_err err = {};
		struct vfio_mig_record rec;
		struct vfio_mig_record_hdr hdr = *rec_hdr(&s, 1);
		int rc;

		((u8 *)&hdr)[bit / 8] ^= 1U << (bit % 8);
		rc = vfio_mig_record_hdr_check(&hdr, MAX_PAYLOAD, &rec, &err);
		ASSERT_TRUE(rc == -EBADMSG || rc == -EINVAL) TH_LOG("bit %zu", bit);
	}

	/* Each field wrong behind a valid checksum */
	rec_hdr(&s, 0)->version = cpu_to_le16(2);
	resign(&s, 0);
	ASSERT_STREQ("unsupported stream version",
		     expect_read(&s, -EPROTONOSUPPORT));
	good_stream(&s, &t);
	rec_hdr(&s, 0)->type = 4;
	resign(&s, 0);
	ASSERT_STREQ("unknown record type", expect_read(&s, -EINVAL));
	good_stream(&s, &t);
	rec_hdr(&s, 0)->flags = VFIO_MIG_RECORD_F_DELTA;
	resign(&s, 0);
	ASSERT_STREQ("bad record flags", expect_read(&s, -EINVAL));
	good_stream(&s, &t);
	rec_hdr(&s, 3)->flags = 0x80;
	resign(&s, 3);
	ASSERT_STREQ("bad record flags", expect_read(&s, -EINVAL));
	good_stream(&s, &t);
	rec_hdr(&s, 2)->reserved = cpu_to_le32(1);
	resign(&s, 2);
	ASSERT_STREQ("reserved field not zero", expect_read(&s, -EINVAL));
	good_stream(&s, &t);
	rec_hdr(&s, 1)->length = cpu_to_le64(MAX_PAYLOAD + 1);
	resign(&s, 1);
	ASSERT_STREQ("record longer than the device allows",
		     expect_read(&s, -EFBIG));
	good_stream(&s, &t);
	rec_hdr(&s, 1)->length = cpu_to_le64(~0ULL);
	resign(&s, 1);
	ASSERT_STREQ("record longer than the device allows",
		     expect_read(&s, -EFBIG));
	good_stream(&s, &t);
	s.buf[s.rec_off[2] + sizeof(struct vfio_mig_record_hdr) + 3] ^= 4;
	ASSERT_STREQ("record payload checksum", expect_read(&s, -EBADMSG));
}

TEST(record_sequence)
{
	struct stream s, r;
	struct toy t;
	size_t a, b;

	good_stream(&s, &t);
	/* Cut anywhere but after the final record */
	for (a = 0; a < s.len; a += 7) {
		struct vfio_mig_parse_err err = {};
		struct toy got;

		ASSERT_NE(0, read_stream(s.buf, a, &got, &err))
			TH_LOG("cut at %zu", a);
	}
	/* Repeat record 1 */
	r = s;
	a = s.rec_off[1];
	b = s.rec_off[2];
	memmove(r.buf + b + (b - a), r.buf + b, s.len - b);
	memcpy(r.buf + b, s.buf + a, b - a);
	r.len += b - a;
	ASSERT_STREQ("record out of sequence (lost, repeated or reordered)",
		     expect_read(&r, -EINVAL));
	/* Drop record 2 */
	r = s;
	memmove(r.buf + s.rec_off[2], s.buf + s.rec_off[3],
		s.len - s.rec_off[3]);
	r.len -= s.rec_off[3] - s.rec_off[2];
	ASSERT_STREQ("record out of sequence (lost, repeated or reordered)",
		     expect_read(&r, -EINVAL));
	/* Start with a delta: drop record 0 */
	r = s;
	memmove(r.buf, s.buf + s.rec_off[1], s.len - s.rec_off[1]);
	r.len -= s.rec_off[1];
	ASSERT_STREQ("first record is not number 0", expect_read(&r, -EINVAL));
	/* Anything after the final record */
	r = s;
	memcpy(r.buf + r.len, s.buf + s.rec_off[1], s.rec_off[2] - s.rec_off[1]);
	r.len += s.rec_off[2] - s.rec_off[1];
	ASSERT_STREQ("record after the final one", expect_read(&r, -EINVAL));
	/* Without PRE_COPY: a lone full FINAL is a whole stream */
	r = s;
	memmove(r.buf, s.buf + s.rec_off[3], s.len - s.rec_off[3]);
	r.len = s.len - s.rec_off[3];
	r.rec_off[0] = 0;
	rec_hdr(&r, 0)->seq = 0;
	resign(&r, 0);
	expect_read(&r, 0);
}

/* TLVs of the toy: config (if @config), chunks from @from to @to, counter */
static size_t toy_part(u8 *p, const struct toy *t, bool config, u32 from,
		       u32 to, bool counter)
{
	size_t n = 0;
	u8 v[12];
	u32 i;

	if (config)
		n += vfio_mig_tlv_put(p + n, MAX_PAYLOAD - n, T_CONFIG, 0,
				      &t->config, 4);
	for (i = from; i < to; i++) {
		memcpy(v, &i, 4);
		memcpy(v + 4, t->chunk[i], 8);
		n += vfio_mig_tlv_put(p + n, MAX_PAYLOAD - n, T_CHUNK, 0, v,
				      12);
	}
	if (counter)
		n += vfio_mig_tlv_put(p + n, MAX_PAYLOAD - n, T_COUNTER, 0,
				      &t->counter, 8);
	return n;
}

/*
 * A valid stream with images in several records: the INITIAL in two, a
 * DELTA in two, a FINAL delta in three (one of them empty)
 */
static void split_stream(struct stream *s, struct toy *t)
{
	const u8 MORE = VFIO_MIG_RECORD_F_MORE, DELTA = VFIO_MIG_RECORD_F_DELTA;
	u8 p[MAX_PAYLOAD];
	size_t n;

	memset(s, 0, sizeof(*s));
	memset(t, 0, sizeof(*t));
	t->config = 0xabc;
	memset(t->chunk, 0x55, sizeof(t->chunk));
	t->counter = 9;
	n = toy_part(p, t, true, 0, 2, false);
	put_record(s, VFIO_MIG_RECORD_INITIAL, MORE, 0, p, n);
	n = toy_part(p, t, false, 2, 4, true);
	put_record(s, VFIO_MIG_RECORD_INITIAL, 0, 1, p, n);
	memset(t->chunk[1], 0x66, 8);
	memset(t->chunk[3], 0x77, 8);
	n = toy_part(p, t, false, 1, 2, false);
	put_record(s, VFIO_MIG_RECORD_DELTA, MORE, 2, p, n);
	n = toy_part(p, t, false, 3, 4, false);
	put_record(s, VFIO_MIG_RECORD_DELTA, 0, 3, p, n);
	t->counter = 10;
	memset(t->chunk[0], 0x88, 8);
	n = toy_part(p, t, false, 0, 1, false);
	put_record(s, VFIO_MIG_RECORD_FINAL, DELTA | MORE, 4, p, n);
	/* A record of the image with nothing in it is allowed */
	put_record(s, VFIO_MIG_RECORD_FINAL, DELTA | MORE, 5, p, 0);
	n = toy_part(p, t, false, 0, 0, true);
	put_record(s, VFIO_MIG_RECORD_FINAL, DELTA, 6, p, n);
}

/*
 * Images in several records: the INITIAL in two, a DELTA in two, the
 * FINAL in three; one TLV sequence per image, so the type order and a full
 * image's required types are checked across its records.  An image cut
 * short by the FINAL; every other record after F_MORE refused.
 */
TEST(images_in_records)
{
	const u8 MORE = VFIO_MIG_RECORD_F_MORE, DELTA = VFIO_MIG_RECORD_F_DELTA;
	struct vfio_mig_parse_err err = {};
	struct toy t = {}, got;
	struct stream s = {};
	u8 p[MAX_PAYLOAD];
	size_t n;

	split_stream(&s, &t);
	ASSERT_EQ(0, read_stream(s.buf, s.len, &got, &err))
		TH_LOG("%s", err.what);
	ASSERT_EQ(0, memcmp(&t, &got, sizeof(t)));

	/* The stream may not end inside the FINAL image */
	ASSERT_NE(0, read_stream(s.buf, s.rec_off[6], &got, &err));
	ASSERT_STREQ("stream ended before the final record", err.what);

	/* Cut short: an INITIAL, then a full FINAL at once */
	memset(&s, 0, sizeof(s));
	n = toy_part(p, &t, true, 0, 2, false);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, MORE, 0, p, n);
	n = toy_part(p, &t, true, 0, 4, true);
	put_record(&s, VFIO_MIG_RECORD_FINAL, 0, 1, p, n);
	ASSERT_EQ(0, read_stream(s.buf, s.len, &got, &err));
	ASSERT_EQ(0, memcmp(&t, &got, sizeof(t)));
	/* ... but not a FINAL delta: the INITIAL never ended */
	rec_hdr(&s, 1)->flags = DELTA;
	resign(&s, 1);
	ASSERT_STREQ("delta after an unfinished initial image",
		     expect_read(&s, -EINVAL));
	/* ... nor a DELTA */
	rec_hdr(&s, 1)->flags = 0;
	rec_hdr(&s, 1)->type = VFIO_MIG_RECORD_DELTA;
	resign(&s, 1);
	ASSERT_STREQ("image cut short by a record other than the final one",
		     expect_read(&s, -EINVAL));

	/* A FINAL image goes on with its flags */
	memset(&s, 0, sizeof(s));
	n = toy_part(p, &t, true, 0, 4, true);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, 0, 0, p, n);
	n = toy_part(p, &t, false, 0, 1, false);
	put_record(&s, VFIO_MIG_RECORD_FINAL, DELTA | MORE, 1, p, n);
	n = toy_part(p, &t, false, 1, 2, true);
	put_record(&s, VFIO_MIG_RECORD_FINAL, 0, 2, p, n);
	ASSERT_STREQ("image goes on with other flags",
		     expect_read(&s, -EINVAL));

	/* Types ascend across the records of an image */
	memset(&s, 0, sizeof(s));
	n = toy_part(p, &t, true, 0, 2, true);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, MORE, 0, p, n);
	n = toy_part(p, &t, false, 2, 4, false);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, 0, 1, p, n);
	n = toy_part(p, &t, true, 0, 4, true);
	put_record(&s, VFIO_MIG_RECORD_FINAL, 0, 2, p, n);
	ASSERT_STREQ("TLV types out of order", expect_read(&s, -EINVAL));
	/* A type that may not repeat, at the end of one and start of next */
	memset(&s, 0, sizeof(s));
	n = toy_part(p, &t, true, 0, 4, true);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, MORE, 0, p, n);
	n = toy_part(p, &t, false, 0, 0, true);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, 0, 1, p, n);
	ASSERT_STREQ("TLV repeated", expect_read(&s, -EINVAL));
	/* ... while one that may, may: a chunk at the end, more at the start */
	memset(&s, 0, sizeof(s));
	n = toy_part(p, &t, true, 0, 1, false);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, MORE, 0, p, n);
	n = toy_part(p, &t, false, 1, 4, true);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, 0, 1, p, n);
	n = toy_part(p, &t, true, 0, 4, true);
	put_record(&s, VFIO_MIG_RECORD_FINAL, 0, 2, p, n);
	expect_read(&s, 0);

	/*
	 * A full image's required config in none of its records: refused as
	 * soon as a later type shows it can no longer come
	 */
	memset(&s, 0, sizeof(s));
	n = toy_part(p, &t, false, 0, 2, false);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, MORE, 0, p, n);
	n = toy_part(p, &t, false, 2, 4, true);
	put_record(&s, VFIO_MIG_RECORD_INITIAL, 0, 1, p, n);
	n = toy_part(p, &t, true, 0, 4, true);
	put_record(&s, VFIO_MIG_RECORD_FINAL, 0, 2, p, n);
	ASSERT_STREQ("required TLV missing from a full image",
		     expect_read(&s, -EINVAL));
	/*
	 * The config in the image's first record counts for its last: the
	 * same last record starting an image of its own is refused
	 */
	{
		struct vfio_mig_record rec = {
			.type = VFIO_MIG_RECORD_INITIAL, .flags = MORE,
			.length = toy_part(p, &t, true, 0, 2, false),
			.first = true,
		};
		struct vfio_mig_image img = {};
		struct toy st = {};

		rec.image = &img;
		ASSERT_EQ(0, vfio_mig_tlv_parse(&toy_set, &rec, p, &st, &err));
		rec.flags = 0;
		rec.first = false;
		rec.length = toy_part(p, &t, false, 2, 4, true);
		ASSERT_EQ(0, vfio_mig_tlv_parse(&toy_set, &rec, p, &st, &err));
		rec.first = true;
		ASSERT_EQ(-EINVAL, vfio_mig_tlv_parse(&toy_set, &rec, p, &st,
						      &err));
		ASSERT_STREQ("required TLV missing from a full image",
			     err.what);
	}
}

/* One record with payload @p, run through the TLV parser */
static int parse_one(u8 type, u8 flags, const u8 *p, size_t n,
		     struct vfio_mig_parse_err *err)
{
	struct vfio_mig_record rec = {
		.type = type, .flags = flags, .length = n,
	};
	struct toy t = {};

	return vfio_mig_tlv_parse(&toy_set, &rec, p, &t, err);
}

TEST(tlv_checks)
{
	struct vfio_mig_parse_err err = {};
	u8 p[256] = {}, v[16] = {};
	u64 c = 7;
	size_t n;

	/* Unknown optional: skipped, even repeated; unknown required: refused */
	n = vfio_mig_tlv_put(p, sizeof(p), 3, 0, v, 5);
	n += vfio_mig_tlv_put(p + n, sizeof(p) - n, 3, 0, v, 7);
	n += vfio_mig_tlv_put(p + n, sizeof(p) - n, T_COUNTER, 0, &c, 8);
	ASSERT_EQ(0, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	n = vfio_mig_tlv_put(p, sizeof(p), 3, VFIO_MIG_TLV_F_REQUIRED, v, 5);
	ASSERT_EQ(-EPROTO, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	ASSERT_STREQ("unknown TLV the source requires", err.what);
	/* Unknown TLV flags */
	n = vfio_mig_tlv_put(p, sizeof(p), T_COUNTER, 0x8, &c, 8);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	ASSERT_STREQ("unknown TLV flags", err.what);
	/* A full image without its config; a delta may omit it */
	n = vfio_mig_tlv_put(p, sizeof(p), T_COUNTER, 0, &c, 8);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_INITIAL, 0, p, n, &err));
	ASSERT_STREQ("required TLV missing from a full image", err.what);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_FINAL, 0, p, n, &err));
	ASSERT_EQ(0, parse_one(VFIO_MIG_RECORD_FINAL, VFIO_MIG_RECORD_F_DELTA,
			       p, n, &err));
	/* Out of order, repeated */
	n = vfio_mig_tlv_put(p, sizeof(p), T_COUNTER, 0, &c, 8);
	n += vfio_mig_tlv_put(p + n, sizeof(p) - n, T_CHUNK, 0, v, 12);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	ASSERT_STREQ("TLV types out of order", err.what);
	n = vfio_mig_tlv_put(p, sizeof(p), T_COUNTER, 0, &c, 8);
	n += vfio_mig_tlv_put(p + n, sizeof(p) - n, T_COUNTER, 0, &c, 8);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	ASSERT_STREQ("TLV repeated", err.what);
	n = vfio_mig_tlv_put(p, sizeof(p), T_CHUNK, 0, v, 12);
	n += vfio_mig_tlv_put(p + n, sizeof(p) - n, T_CHUNK, 0, v, 12);
	ASSERT_EQ(0, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	/* Length out of the descriptor's range */
	n = vfio_mig_tlv_put(p, sizeof(p), T_COUNTER, 0, &c, 4);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	ASSERT_STREQ("TLV length out of range", err.what);
	/* Bounds: header cut, value past the end, huge length, padding */
	n = vfio_mig_tlv_put(p, sizeof(p), T_COUNTER, 0, &c, 8);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, 5, &err));
	ASSERT_STREQ("truncated TLV header", err.what);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n - 1,
				     &err));
	ASSERT_STREQ("TLV runs past the record", err.what);
	memset(p + 4, 0xff, 4);
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	ASSERT_STREQ("TLV runs past the record", err.what);
	n = vfio_mig_tlv_put(p, sizeof(p), 3, 0, v, 5);
	p[8 + 6] = 1;
	ASSERT_EQ(-EINVAL, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	ASSERT_STREQ("TLV padding not zero", err.what);
	ASSERT_EQ(14, err.offset);
	/* The driver's own check: chunk index out of range */
	memset(v, 0xff, 4);
	n = vfio_mig_tlv_put(p, sizeof(p), T_CHUNK, 0, v, 12);
	ASSERT_EQ(-ERANGE, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, n, &err));
	/* An empty delta is fine */
	ASSERT_EQ(0, parse_one(VFIO_MIG_RECORD_DELTA, 0, p, 0, &err));
}

/*
 * Corrupt streams.  Mutations the checksums cover (bit flips, cuts, record
 * drops, repeats and swaps) must always fail.  TLV mutations behind
 * re-computed checksums may make a stream that is still valid, so those
 * only have to leave the reader in bounds and agree with themselves: the
 * same bytes read twice give the same result.
 */
#define FUZZ_ROUNDS 20000

TEST(fuzz)
{
	unsigned int round, fails = 0, resigned_ok = 0, kinds[6] = {}, n_total;
	struct stream s, r;
	struct toy t;

	srand(0x5eed);
	for (round = 0; round < FUZZ_ROUNDS; round++) {
		struct vfio_mig_parse_err err = {};
		unsigned int kind = rand() % 6, i, n;
		struct toy a, b;
		int rc, rc2;

		/* Half the rounds with images in several records */
		if (round % 2)
			split_stream(&s, &t);
		else
			good_stream(&s, &t);
		r = s;
		switch (kind) {
		case 0: /* flip 1 to 4 bits anywhere */
			for (n = 1 + rand() % 4, i = 0; i < n; i++) {
				size_t bit = rand() % (8 * r.len);

				r.buf[bit / 8] ^= 1U << (bit % 8);
			}
			break;
		case 1: /* cut short */
			r.len = rand() % r.len;
			break;
		case 2: /* drop a record */
			i = rand() % s.nrec;
			n = (i + 1 < (unsigned int)s.nrec ? s.rec_off[i + 1] :
			     s.len) - s.rec_off[i];
			memmove(r.buf + s.rec_off[i], s.buf + s.rec_off[i] + n,
				s.len - s.rec_off[i] - n);
			r.len -= n;
			break;
		case 3: /* repeat a record at the end */
			i = rand() % s.nrec;
			n = (i + 1 < (unsigned int)s.nrec ? s.rec_off[i + 1] :
			     s.len) - s.rec_off[i];
			memcpy(r.buf + r.len, s.buf + s.rec_off[i], n);
			r.len += n;
			break;
		case 4: /* swap two adjacent records */
			i = rand() % (s.nrec - 1);
			n = s.rec_off[i + 1] - s.rec_off[i];
			memcpy(r.buf + s.rec_off[i], s.buf + s.rec_off[i + 1],
			       (i + 2 < (unsigned int)s.nrec ?
				s.rec_off[i + 2] : s.len) - s.rec_off[i + 1]);
			memcpy(r.buf + s.rec_off[i] +
			       ((i + 2 < (unsigned int)s.nrec ?
				 s.rec_off[i + 2] : s.len) - s.rec_off[i + 1]),
			       s.buf + s.rec_off[i], n);
			break;
		case 5: /* garble a payload's TLVs, then re-sign */
			i = rand() % s.nrec;
			/* An empty record has nothing to garble */
			if (!le64_to_cpu(rec_hdr(&r, i)->length))
				i = 0;
			n = le64_to_cpu(rec_hdr(&r, i)->length);
			for (int k = 1 + rand() % 3; k; k--) {
				size_t at = s.rec_off[i] +
					    sizeof(struct vfio_mig_record_hdr) +
					    rand() % n;

				r.buf[at] = rand() % 3 ? r.buf[at] ^ (1U << (rand() % 8)) :
					    (u8)rand();
			}
			resign(&r, i);
			break;
		}
		/* Two flips of one bit undo each other */
		if (r.len == s.len && !memcmp(r.buf, s.buf, s.len))
			continue;
		kinds[kind]++;
		rc = read_stream(r.buf, r.len, &a, &err);
		if (kind < 5) {
			ASSERT_NE(0, rc)
				TH_LOG("round %u kind %u passed", round, kind);
		} else {
			rc2 = read_stream(r.buf, r.len, &b, &err);
			ASSERT_EQ(rc, rc2);
			if (!rc) {
				ASSERT_EQ(0, memcmp(&a, &b, sizeof(a)));
				resigned_ok++;
			}
		}
		fails += !!rc;
	}
	n_total = kinds[0] + kinds[1] + kinds[2] + kinds[3] + kinds[4] +
		  kinds[5];
	ASSERT_LT(FUZZ_ROUNDS / 2, n_total);
	TH_LOG("%u corrupt streams: %u rejected, %u re-signed still valid",
	       n_total, fails, resigned_ok);
	TH_LOG("flip %u, cut %u, drop %u, repeat %u, swap %u, re-signed TLV %u",
	       kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5]);
}

TEST_HARNESS_MAIN
