// SPDX-License-Identifier: GPL-2.0
/*
 * The migration stream format of lowdown's vfio PRE_COPY engine.
 *
 * A device's migration data travels from the source kernel's saving fd
 * through userspace (QEMU, a file, a socket) to the target kernel's
 * resuming fd.  The uAPI says nothing about its content; each variant driver
 * has invented its own (mlx5: SW headers around images, virtio: a record
 * size and tag, ice: TLVs).  This file is one format for all of them:
 *
 * Records
 * -------
 * The stream is a sequence of records, each a 32-byte header
 * (struct vfio_mig_record_hdr) and a payload:
 *
 *   INITIAL                 a full image, when PRE_COPY starts
 *   DELTA ...               changes, during PRE_COPY
 *   FINAL                   in STOP_COPY: a full image, or (F_DELTA) changes
 *
 * Without PRE_COPY the stream is a single FINAL image.  An image may take
 * several records: each but its last has F_MORE, and the next one is of
 * the same type and flags.  That lets a source hand out an image as it
 * makes it, in records of a bounded size, and a target load it as it comes.
 * The device stopping may cut an INITIAL or DELTA image short: its FINAL
 * record follows at once (after a cut INITIAL, a full one).  Records are
 * numbered from
 * 0 (@seq), and both the header and the payload carry a CRC-32, so that the
 * target applies only whole, intact records in their order: a truncated,
 * lost, repeated, reordered or corrupted record is rejected before any of
 * it reaches the device.  The header's version is that of the framing; the
 * device state inside versions itself through its TLVs.
 *
 * TLVs
 * ----
 * A payload is a sequence of TLVs (struct vfio_mig_tlv_hdr, then the value,
 * zero-padded to 8 bytes), in ascending type order.  The driver describes
 * the types it understands (struct vfio_mig_tlv_set): length bounds, whether
 * a type may repeat, whether every full image must carry it.  A TLV of an
 * unknown type is skipped, unless the sender flagged it REQUIRED: a newer
 * source that has state an older target cannot apply sets that flag, and the
 * older target refuses the stream instead of silently dropping the state.
 * That is also how a device feature with no migration support blocks
 * migration: the source driver emits a REQUIRED TLV no target understands
 * (or refuses to migrate at all) while the feature is on.
 *
 * Every byte is hostile
 * ---------------------
 * The parser trusts nothing it reads: lengths are checked against what is
 * left before any arithmetic that could overflow, padding must be zero,
 * reserved fields and unknown flags are refused, and values reach the
 * driver's consume callbacks only after their TLV passed every check.  A
 * failed check returns an errno and fills struct vfio_mig_parse_err with the
 * offset and the name of the check, for a precise message in the driver's
 * log.  Errnos: -EINVAL for malformed data, -EBADMSG for a checksum
 * mismatch, -EPROTONOSUPPORT for a framing version this kernel does not
 * have, -EPROTO for a REQUIRED TLV it does not know, -EFBIG for a record
 * longer than the driver allows.
 *
 * Nothing here allocates, sleeps or locks: the callers own the buffers and
 * the serialisation.  The file also builds in userspace for the selftests
 * (tools/testing/selftests/lowdown/mig_stream.c), which is why it includes
 * only a few basic headers.
 */
#include <asm/byteorder.h>
#include <linux/crc32.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/vfio_mig_stream.h>

#define VFIO_MIG_TLV_HDR_SIZE sizeof(struct vfio_mig_tlv_hdr)

static u32 mig_crc(const void *buf, size_t len)
{
	return ~crc32_le(~0U, buf, len);
}

static int mig_fail(struct vfio_mig_parse_err *err, int rc, u64 offset,
		    const char *what)
{
	if (err) {
		err->offset = offset;
		err->what = what;
	}
	return rc;
}

/**
 * vfio_mig_record_hdr_fill() - write a record header for a payload
 * @hdr: the header to fill
 * @type: enum vfio_mig_record_type
 * @flags: VFIO_MIG_RECORD_F_*
 * @seq: the record's number in the stream
 * @payload: the payload, @length bytes
 * @length: bytes of payload
 */
void vfio_mig_record_hdr_fill(struct vfio_mig_record_hdr *hdr, u8 type,
			      u8 flags, u32 seq, const void *payload,
			      u64 length)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = cpu_to_le32(VFIO_MIG_MAGIC);
	hdr->version = cpu_to_le16(VFIO_MIG_VERSION);
	hdr->type = type;
	hdr->flags = flags;
	hdr->seq = cpu_to_le32(seq);
	hdr->length = cpu_to_le64(length);
	hdr->payload_crc = cpu_to_le32(mig_crc(payload, length));
	hdr->hdr_crc = cpu_to_le32(mig_crc(hdr, sizeof(*hdr)));
}
EXPORT_SYMBOL_GPL(vfio_mig_record_hdr_fill);

/**
 * vfio_mig_record_hdr_check() - check a record header read from a stream
 * @hdr: the 32 bytes read
 * @max_length: the longest payload the reader accepts
 * @rec: filled with the header's fields once every check passed
 * @err: where a failure is described; may be NULL
 *
 * Checks the magic, the header CRC (so a flipped bit anywhere in the header
 * is caught before any field is believed), the version, the type, the flags,
 * the reserved field and the length.  The payload is checked separately,
 * once read (vfio_mig_record_payload_check()).
 *
 * Return: 0, -EINVAL, -EBADMSG, -EPROTONOSUPPORT or -EFBIG.
 */
int vfio_mig_record_hdr_check(const struct vfio_mig_record_hdr *hdr,
			      u64 max_length, struct vfio_mig_record *rec,
			      struct vfio_mig_parse_err *err)
{
	struct vfio_mig_record_hdr copy = *hdr;
	u64 length;

	if (le32_to_cpu(copy.magic) != VFIO_MIG_MAGIC)
		return mig_fail(err, -EINVAL,
				offsetof(struct vfio_mig_record_hdr, magic),
				"not a record header (magic)");
	copy.hdr_crc = 0;
	if (mig_crc(&copy, sizeof(copy)) != le32_to_cpu(hdr->hdr_crc))
		return mig_fail(err, -EBADMSG,
				offsetof(struct vfio_mig_record_hdr, hdr_crc),
				"record header checksum");
	/* From here on only the checked copy is read */
	if (le16_to_cpu(copy.version) != VFIO_MIG_VERSION)
		return mig_fail(err, -EPROTONOSUPPORT,
				offsetof(struct vfio_mig_record_hdr, version),
				"unsupported stream version");
	if (copy.type < VFIO_MIG_RECORD_INITIAL ||
	    copy.type > VFIO_MIG_RECORD_FINAL)
		return mig_fail(err, -EINVAL,
				offsetof(struct vfio_mig_record_hdr, type),
				"unknown record type");
	if ((copy.flags & ~VFIO_MIG_RECORD_FLAGS) ||
	    ((copy.flags & VFIO_MIG_RECORD_F_DELTA) &&
	     copy.type != VFIO_MIG_RECORD_FINAL))
		return mig_fail(err, -EINVAL,
				offsetof(struct vfio_mig_record_hdr, flags),
				"bad record flags");
	if (copy.reserved)
		return mig_fail(err, -EINVAL,
				offsetof(struct vfio_mig_record_hdr, reserved),
				"reserved field not zero");
	length = le64_to_cpu(copy.length);
	if (length > max_length)
		return mig_fail(err, -EFBIG,
				offsetof(struct vfio_mig_record_hdr, length),
				"record longer than the device allows");

	rec->type = copy.type;
	rec->flags = copy.flags;
	rec->seq = le32_to_cpu(copy.seq);
	rec->length = length;
	rec->payload_crc = le32_to_cpu(copy.payload_crc);
	rec->first = true;
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_record_hdr_check);

/**
 * vfio_mig_record_payload_check() - check a record's payload
 * @rec: the record, from vfio_mig_record_hdr_check()
 * @payload: its @rec->length bytes of payload
 * @err: where a failure is described; may be NULL
 *
 * Return: 0, or -EBADMSG when the payload's CRC does not match.
 */
int vfio_mig_record_payload_check(const struct vfio_mig_record *rec,
				  const void *payload,
				  struct vfio_mig_parse_err *err)
{
	if (mig_crc(payload, rec->length) != rec->payload_crc)
		return mig_fail(err, -EBADMSG, 0, "record payload checksum");
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_record_payload_check);

/**
 * vfio_mig_record_follows() - may a record come next in the stream?
 * @prev: the last record accepted, or NULL before the first
 * @rec: the record read now, its header checked; @rec->first is set
 * @err: where a failure is described; may be NULL
 *
 * The first record is number 0 and starts a full image (INITIAL, or a
 * FINAL without F_DELTA when there was no PRE_COPY); each next one is
 * numbered one more.  After a record with F_MORE comes the rest of its
 * image, a record of the same type and flags, or, when an INITIAL or DELTA
 * image was cut short, the FINAL record (a full one after a cut INITIAL).
 * DELTA and FINAL with F_DELTA need a whole image before them; nothing
 * follows the last record of the FINAL image.
 *
 * Return: 0 or -EINVAL.
 */
int vfio_mig_record_follows(const struct vfio_mig_record *prev,
			    struct vfio_mig_record *rec,
			    struct vfio_mig_parse_err *err)
{
	bool delta = rec->type == VFIO_MIG_RECORD_DELTA ||
		     (rec->flags & VFIO_MIG_RECORD_F_DELTA);
	size_t seq_off = offsetof(struct vfio_mig_record_hdr, seq);
	size_t type_off = offsetof(struct vfio_mig_record_hdr, type);
	bool more;

	rec->first = true;
	if (!prev) {
		if (rec->seq)
			return mig_fail(err, -EINVAL, seq_off,
					"first record is not number 0");
		if (delta)
			return mig_fail(err, -EINVAL, type_off,
					"stream starts with a delta");
		return 0;
	}
	more = prev->flags & VFIO_MIG_RECORD_F_MORE;
	if (prev->type == VFIO_MIG_RECORD_FINAL && !more)
		return mig_fail(err, -EINVAL, type_off,
				"record after the final one");
	if (rec->seq != prev->seq + 1)
		return mig_fail(err, -EINVAL, seq_off,
				"record out of sequence (lost, repeated or reordered)");
	if (more && rec->type == prev->type) {
		if ((rec->flags ^ prev->flags) & VFIO_MIG_RECORD_F_DELTA)
			return mig_fail(err, -EINVAL,
					offsetof(struct vfio_mig_record_hdr,
						 flags),
					"image goes on with other flags");
		rec->first = false;
		return 0;
	}
	if (more && rec->type != VFIO_MIG_RECORD_FINAL)
		return mig_fail(err, -EINVAL, type_off,
				"image cut short by a record other than the final one");
	if (more && prev->type == VFIO_MIG_RECORD_INITIAL && delta)
		return mig_fail(err, -EINVAL, type_off,
				"delta after an unfinished initial image");
	if (rec->type == VFIO_MIG_RECORD_INITIAL)
		return mig_fail(err, -EINVAL, type_off,
				"second initial image");
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_record_follows);

/**
 * vfio_mig_record_full() - does the record belong to a full image?
 * @rec: the record
 *
 * Return: true for an INITIAL record and a FINAL one without F_DELTA.
 */
bool vfio_mig_record_full(const struct vfio_mig_record *rec)
{
	return rec->type == VFIO_MIG_RECORD_INITIAL ||
	       (rec->type == VFIO_MIG_RECORD_FINAL &&
		!(rec->flags & VFIO_MIG_RECORD_F_DELTA));
}
EXPORT_SYMBOL_GPL(vfio_mig_record_full);

/**
 * vfio_mig_tlv_size() - bytes a TLV takes in a payload
 * @length: bytes of its value
 *
 * Return: header, value and padding.
 */
size_t vfio_mig_tlv_size(u32 length)
{
	return VFIO_MIG_TLV_HDR_SIZE +
	       (((size_t)length + VFIO_MIG_TLV_ALIGN - 1) &
		~(size_t)(VFIO_MIG_TLV_ALIGN - 1));
}
EXPORT_SYMBOL_GPL(vfio_mig_tlv_size);

/**
 * vfio_mig_tlv_put() - append a TLV to a payload being built
 * @buf: where the TLV goes
 * @avail: bytes available at @buf
 * @type: the TLV type
 * @flags: VFIO_MIG_TLV_F_*
 * @value: the value, @length bytes
 * @length: bytes of value
 *
 * Return: bytes written (vfio_mig_tlv_size()), or 0 if they do not fit.
 */
size_t vfio_mig_tlv_put(void *buf, size_t avail, u16 type, u16 flags,
			const void *value, u32 length)
{
	size_t size = vfio_mig_tlv_size(length);
	struct vfio_mig_tlv_hdr th = {
		.type = cpu_to_le16(type),
		.flags = cpu_to_le16(flags),
		.length = cpu_to_le32(length),
	};

	if (size > avail)
		return 0;
	memcpy(buf, &th, sizeof(th));
	memcpy((u8 *)buf + sizeof(th), value, length);
	memset((u8 *)buf + sizeof(th) + length, 0,
	       size - sizeof(th) - length);
	return size;
}
EXPORT_SYMBOL_GPL(vfio_mig_tlv_put);

/* Each descriptor the record had to carry and did not: an error */
static int tlv_check_missing(const struct vfio_mig_tlv_set *set,
			     unsigned int from, unsigned int to, bool full,
			     u64 offset, struct vfio_mig_parse_err *err)
{
	unsigned int d;

	for (d = from; full && d < to; d++)
		if (set->descs[d].flags & VFIO_MIG_TLV_DESC_IN_FULL)
			return mig_fail(err, -EINVAL, offset,
					"required TLV missing from a full image");
	return 0;
}

/**
 * vfio_mig_tlv_parse() - check a payload's TLVs and hand them to the driver
 * @set: the TLV types the driver understands
 * @rec: the record the payload belongs to, checked
 * @payload: the payload, @rec->length bytes, its CRC checked
 * @priv: passed to the consume callbacks
 * @err: where a failure is described; may be NULL
 *
 * Walks the TLVs, checking each header, length, padding and the type order
 * before its value goes to its descriptor's consume callback; skips TLVs of
 * unknown type unless flagged REQUIRED; and checks that a full image carries
 * every type marked VFIO_MIG_TLV_DESC_IN_FULL.  Callbacks may have consumed
 * earlier TLVs of a record that fails later: a driver applies a record only
 * once the parse returned 0 (parse into a staging copy, or parse twice, the
 * first time with callbacks that only check).
 *
 * An image in several records is parsed as one TLV sequence when
 * @rec->image keeps the parse's place between them: the order carries on
 * from the previous record unless @rec->first, and a full image's
 * required types are looked for once its last record (no F_MORE) is in.
 *
 * Return: 0, -EINVAL, -EPROTO, or a callback's error.
 */
int vfio_mig_tlv_parse(const struct vfio_mig_tlv_set *set,
		       const struct vfio_mig_record *rec, const void *payload,
		       void *priv, struct vfio_mig_parse_err *err)
{
	bool full = vfio_mig_record_full(rec);
	struct vfio_mig_image *img = rec->image;
	const u8 *p = payload;
	u64 off = 0, left = rec->length;
	unsigned int d = 0;
	bool seen = false, have_prev = false;
	u16 prev_type = 0;
	int rc;

	if (img && !rec->first) {
		have_prev = img->have_prev;
		prev_type = img->prev_type;
		d = img->desc;
		seen = img->seen;
	}

	while (left) {
		struct vfio_mig_tlv_hdr th;
		const struct vfio_mig_tlv_desc *desc = NULL;
		u64 padded, i;
		u16 type, flags;
		u32 length;

		if (left < VFIO_MIG_TLV_HDR_SIZE)
			return mig_fail(err, -EINVAL, off,
					"truncated TLV header");
		memcpy(&th, p + off, sizeof(th));
		type = le16_to_cpu(th.type);
		flags = le16_to_cpu(th.flags);
		length = le32_to_cpu(th.length);
		left -= VFIO_MIG_TLV_HDR_SIZE;

		if (flags & ~VFIO_MIG_TLV_FLAGS)
			return mig_fail(err, -EINVAL, off, "unknown TLV flags");
		/* In u64: length + 7 must not wrap where size_t is 32 bits */
		padded = ((u64)length + VFIO_MIG_TLV_ALIGN - 1) &
			 ~(u64)(VFIO_MIG_TLV_ALIGN - 1);
		if (padded > left)
			return mig_fail(err, -EINVAL, off,
					"TLV runs past the record");
		for (i = length; i < padded; i++)
			if (p[off + VFIO_MIG_TLV_HDR_SIZE + i])
				return mig_fail(err, -EINVAL,
						off + VFIO_MIG_TLV_HDR_SIZE + i,
						"TLV padding not zero");
		if (have_prev && type < prev_type)
			return mig_fail(err, -EINVAL, off,
					"TLV types out of order");

		/* Move to the type's descriptor, if the driver has one */
		while (d < set->ndescs && set->descs[d].type < type) {
			rc = tlv_check_missing(set, d, d + 1, full && !seen,
					       off, err);
			if (rc)
				return rc;
			d++;
			seen = false;
		}
		if (d < set->ndescs && set->descs[d].type == type)
			desc = &set->descs[d];

		/* Unknown types are skipped, repeated or not */
		if (have_prev && type == prev_type && desc &&
		    !(desc->flags & VFIO_MIG_TLV_DESC_REPEAT))
			return mig_fail(err, -EINVAL, off, "TLV repeated");

		if (desc) {
			if (length < desc->min_len || length > desc->max_len)
				return mig_fail(err, -EINVAL, off,
						"TLV length out of range");
			if (desc->consume) {
				rc = desc->consume(priv, type,
						   p + off +
						   VFIO_MIG_TLV_HDR_SIZE,
						   length);
				if (rc)
					return mig_fail(err, rc, off,
							"TLV value rejected by the driver");
			}
			seen = true;
		} else if (flags & VFIO_MIG_TLV_F_REQUIRED) {
			return mig_fail(err, -EPROTO, off,
					"unknown TLV the source requires");
		}

		have_prev = true;
		prev_type = type;
		off += VFIO_MIG_TLV_HDR_SIZE + padded;
		left -= padded;
	}

	if (rec->flags & VFIO_MIG_RECORD_F_MORE) {
		/* The image goes on: its end is checked with its last record */
		if (img)
			*img = (struct vfio_mig_image){
				.have_prev = have_prev,
				.prev_type = prev_type,
				.desc = d,
				.seen = seen,
			};
		return 0;
	}
	if (d >= set->ndescs)
		return 0;
	rc = tlv_check_missing(set, d, d + 1, full && !seen, off, err);
	if (rc)
		return rc;
	return tlv_check_missing(set, d + 1, set->ndescs, full, off, err);
}
EXPORT_SYMBOL_GPL(vfio_mig_tlv_parse);
