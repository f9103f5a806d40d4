/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The migration stream format of lowdown's vfio PRE_COPY engine: records
 * with an integrity-checked header, and the device state inside a record as
 * TLVs.  drivers/vfio/mig_stream.c explains the format; the byte layout is
 * in Documentation/lowdown/migration-stream.rst.
 *
 * The stream travels between two kernels through userspace (QEMU), so every
 * field is little endian and every byte read from it is untrusted.
 */
#ifndef __LINUX_VFIO_MIG_STREAM_H
#define __LINUX_VFIO_MIG_STREAM_H

#include <linux/bits.h>
#include <linux/types.h>

#define VFIO_MIG_MAGIC 0x534d444cU	/* "LDMS" in memory, little endian */
#define VFIO_MIG_VERSION 1

/**
 * enum vfio_mig_record_type - what a record carries
 * @VFIO_MIG_RECORD_INITIAL: a full image of the device state, produced when
 *	PRE_COPY starts; the target applies it to a fresh device
 * @VFIO_MIG_RECORD_DELTA: what changed since the previous record, produced
 *	during PRE_COPY; only valid after an INITIAL record
 * @VFIO_MIG_RECORD_FINAL: the device state in STOP_COPY: a full image, or
 *	with VFIO_MIG_RECORD_F_DELTA what changed since the previous record;
 *	nothing may follow it
 */
enum vfio_mig_record_type {
	VFIO_MIG_RECORD_INITIAL = 1,
	VFIO_MIG_RECORD_DELTA = 2,
	VFIO_MIG_RECORD_FINAL = 3,
};

/* A FINAL record that holds only what changed since the previous record */
#define VFIO_MIG_RECORD_F_DELTA BIT(0)
/*
 * The image goes on in the next record, of the same type and flags; an
 * INITIAL or DELTA image may instead be cut short by the FINAL record
 */
#define VFIO_MIG_RECORD_F_MORE BIT(1)
#define VFIO_MIG_RECORD_FLAGS (VFIO_MIG_RECORD_F_DELTA | VFIO_MIG_RECORD_F_MORE)

/**
 * struct vfio_mig_record_hdr - the header of every record, 32 bytes
 * @magic: VFIO_MIG_MAGIC
 * @version: VFIO_MIG_VERSION, the version of this header and of the TLV
 *	framing (not of the device state, which TLVs version themselves)
 * @type: enum vfio_mig_record_type
 * @flags: VFIO_MIG_RECORD_F_*; unknown flags are rejected
 * @seq: the record's number in the stream: 0 for the first record, then +1
 *	per record, so a lost, repeated or reordered record is detected
 * @reserved: zero
 * @length: bytes of payload after the header
 * @payload_crc: CRC-32 (IEEE 802.3) of the payload
 * @hdr_crc: CRC-32 of the header with this field zero
 */
struct vfio_mig_record_hdr {
	__le32 magic;
	__le16 version;
	__u8 type;
	__u8 flags;
	__le32 seq;
	__le32 reserved;
	__le64 length;
	__le32 payload_crc;
	__le32 hdr_crc;
};

/* A TLV the target must understand: unknown, the record is rejected */
#define VFIO_MIG_TLV_F_REQUIRED BIT(0)
#define VFIO_MIG_TLV_FLAGS VFIO_MIG_TLV_F_REQUIRED

/* TLV values are padded with zero bytes to this alignment */
#define VFIO_MIG_TLV_ALIGN 8

/**
 * struct vfio_mig_tlv_hdr - the header of one TLV in a record's payload
 * @type: the driver's TLV type; within a record types come in ascending
 *	order, a known type twice in a row only if its descriptor allows it
 * @flags: VFIO_MIG_TLV_F_*; unknown flags are rejected
 * @length: bytes of value after the header, before padding
 */
struct vfio_mig_tlv_hdr {
	__le16 type;
	__le16 flags;
	__le32 length;
};

/**
 * struct vfio_mig_image - where the TLV parse of an image stands between
 *	its records
 * @have_prev: a TLV was parsed
 * @prev_type: the type of the last TLV parsed
 * @desc: the index of the descriptor the parse reached
 * @seen: a TLV of descriptor @desc was in the image
 *
 * An image sent in several records (VFIO_MIG_RECORD_F_MORE) is one TLV
 * sequence: types ascend across its records, and a full image's required
 * types may be in any of them.  vfio_mig_tlv_parse() keeps this between
 * the records of an image, and starts it afresh at an image's first record.
 */
struct vfio_mig_image {
	bool have_prev;
	u16 prev_type;
	u32 desc;
	bool seen;
};

/**
 * struct vfio_mig_record - a record header, checked and in CPU order
 * @type: enum vfio_mig_record_type
 * @flags: VFIO_MIG_RECORD_F_*
 * @seq: the record's number in the stream
 * @length: bytes of payload
 * @payload_crc: the payload's expected CRC-32
 * @first: the record starts its image (set by vfio_mig_record_follows())
 * @image: the image's parse state across its records, or NULL when the
 *	record is parsed on its own (as the first and, without F_MORE, the
 *	last of its image)
 */
struct vfio_mig_record {
	u8 type;
	u8 flags;
	u32 seq;
	u64 length;
	u32 payload_crc;
	bool first;
	struct vfio_mig_image *image;
};

/* The TLV may come several times in a row */
#define VFIO_MIG_TLV_DESC_REPEAT BIT(0)
/* The TLV must be in every INITIAL and FINAL (full) record */
#define VFIO_MIG_TLV_DESC_IN_FULL BIT(1)

/**
 * struct vfio_mig_tlv_desc - what a driver accepts for one TLV type
 * @type: the TLV type
 * @flags: VFIO_MIG_TLV_DESC_*
 * @min_len: shortest valid value, in bytes
 * @max_len: longest valid value, in bytes
 * @consume: called with each value of this type that passed every check,
 *	in stream order; a non-zero return stops the parse with that error
 */
struct vfio_mig_tlv_desc {
	u16 type;
	u16 flags;
	u32 min_len;
	u32 max_len;
	int (*consume)(void *priv, u16 type, const void *value, u32 length);
};

/**
 * struct vfio_mig_tlv_set - the TLV types a driver understands
 * @descs: one descriptor per type, in ascending type order
 * @ndescs: number of descriptors
 */
struct vfio_mig_tlv_set {
	const struct vfio_mig_tlv_desc *descs;
	unsigned int ndescs;
};

/**
 * struct vfio_mig_parse_err - why a parse failed, for the driver's log
 * @offset: byte offset of the offending field in the record's payload, or
 *	in the header for header errors
 * @what: a short constant string naming the check that failed
 */
struct vfio_mig_parse_err {
	u64 offset;
	const char *what;
};

void vfio_mig_record_hdr_fill(struct vfio_mig_record_hdr *hdr, u8 type,
			      u8 flags, u32 seq, const void *payload,
			      u64 length);
int vfio_mig_record_hdr_check(const struct vfio_mig_record_hdr *hdr,
			      u64 max_length, struct vfio_mig_record *rec,
			      struct vfio_mig_parse_err *err);
int vfio_mig_record_payload_check(const struct vfio_mig_record *rec,
				  const void *payload,
				  struct vfio_mig_parse_err *err);
int vfio_mig_record_follows(const struct vfio_mig_record *prev,
			    struct vfio_mig_record *rec,
			    struct vfio_mig_parse_err *err);
bool vfio_mig_record_full(const struct vfio_mig_record *rec);
size_t vfio_mig_tlv_size(u32 length);
size_t vfio_mig_tlv_put(void *buf, size_t avail, u16 type, u16 flags,
			const void *value, u32 length);
int vfio_mig_tlv_parse(const struct vfio_mig_tlv_set *set,
		       const struct vfio_mig_record *rec, const void *payload,
		       void *priv, struct vfio_mig_parse_err *err);

#endif
