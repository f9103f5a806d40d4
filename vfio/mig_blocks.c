// SPDX-License-Identifier: GPL-2.0
/*
 * A device context for the migration engine, kept in 4 KiB blocks.
 *
 * Many devices' migratable state is a large buffer that changes a little
 * at a time (flow tables, queue contexts, an emulated device's memory).
 * struct vfio_mig_blocks keeps such a context with a dirty bit per block:
 * a full image is every block, a delta the blocks written since the last
 * image, each as one TLV (block index, then the block) of a type the
 * driver chooses.  Loading goes into a staging copy, blocks in ascending
 * order and each at most once per image; a full image must hold every
 * block; only vfio_mig_blocks_commit() makes the staged copy the context,
 * so a refused stream leaves the device as it was.
 *
 * An image may take several records: it is the set of blocks to carry,
 * fixed when it starts (all of them, or those dirty then), handed out in
 * ascending order as records fill.  A block goes out with its content when
 * its record is made, and is clean from then on: written after that, it
 * is dirty again, for the next image.
 *
 * Saving a record is in two steps: vfio_mig_blocks_save() moves the dirty
 * bits of what it saved aside, and vfio_mig_blocks_save_end() either
 * forgets them (the record was committed to the stream) or puts them back
 * (the record was thrown away: an invalid record, a driver failing after
 * the blocks were in), so that a retried save carries them again.  The
 * blocks of the last image committed so far stay known, and writes to them
 * are counted as making that image stale, for the limiter
 * (vfio_mig_blocks_dirty()).
 *
 * No locking: the owner serialises the calls (the engine's callbacks run
 * under its state lock; the owner's own writers take its lock).
 */
#include <linux/bitmap.h>
#include <linux/export.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vfio_mig_blocks.h>
#include <linux/vfio_mig_engine.h>
#include <linux/vfio_mig_stream.h>

static u64 vfio_mig_blocks_count(struct vfio_mig_blocks *b)
{
	return b->size / VFIO_MIG_BLOCK;
}

/**
 * vfio_mig_blocks_alloc() - set up a zeroed context
 * @b: the context, zeroed or freed
 * @size: bytes, a non-zero multiple of VFIO_MIG_BLOCK
 *
 * Return: 0, -EINVAL for a bad size, or -ENOMEM.
 */
int vfio_mig_blocks_alloc(struct vfio_mig_blocks *b, u64 size)
{
	if (!size || size % VFIO_MIG_BLOCK)
		return -EINVAL;
	*b = (struct vfio_mig_blocks){ .size = size };
	b->data = kvzalloc(size, GFP_KERNEL_ACCOUNT);
	b->dirty = bitmap_zalloc(size / VFIO_MIG_BLOCK, GFP_KERNEL_ACCOUNT);
	b->saving = bitmap_zalloc(size / VFIO_MIG_BLOCK, GFP_KERNEL_ACCOUNT);
	b->sent = bitmap_zalloc(size / VFIO_MIG_BLOCK, GFP_KERNEL_ACCOUNT);
	b->todo = bitmap_zalloc(size / VFIO_MIG_BLOCK, GFP_KERNEL_ACCOUNT);
	if (!b->data || !b->dirty || !b->saving || !b->sent || !b->todo) {
		vfio_mig_blocks_free(b);
		return -ENOMEM;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_alloc);

/**
 * vfio_mig_blocks_free() - free a context and its staging copy
 * @b: the context
 */
void vfio_mig_blocks_free(struct vfio_mig_blocks *b)
{
	kvfree(b->data);
	kvfree(b->stage);
	bitmap_free(b->dirty);
	bitmap_free(b->saving);
	bitmap_free(b->sent);
	bitmap_free(b->todo);
	*b = (struct vfio_mig_blocks){};
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_free);

/**
 * vfio_mig_blocks_wrote() - the owner wrote into the context
 * @b: the context
 * @offset: first byte written
 * @length: bytes written, inside the context
 */
void vfio_mig_blocks_wrote(struct vfio_mig_blocks *b, u64 offset, u64 length)
{
	u64 i;

	if (!length)
		return;
	for (i = offset / VFIO_MIG_BLOCK;
	     i <= (offset + length - 1) / VFIO_MIG_BLOCK; i++) {
		if (__test_and_set_bit(i, b->dirty))
			continue;
		b->ndirty++;
		if (test_bit(i, b->sent))
			b->nstale++;
	}
	b->written += length;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_wrote);

/**
 * vfio_mig_blocks_save() - append an image's next blocks to a record
 * @b: the context
 * @buf: the record being built
 * @tlv_type: the TLV type of a block
 * @full: the image is every block, not only those written since the last
 * @start: the record starts the image; otherwise it goes on with the image
 *	the last committed record left unfinished
 *
 * Fills @buf with as many of the image's blocks as fit.  The dirty bits
 * of what was saved are set aside until vfio_mig_blocks_save_end(), which
 * the owner must call before the next save (with false itself when its
 * own save callback fails after this: the engine then does not call
 * save_end).
 *
 * Return: 0 when the image's last block is in (or the image has none),
 * 1 when the record is full and blocks remain.
 */
int vfio_mig_blocks_save(struct vfio_mig_blocks *b, struct vfio_mig_buf *buf,
			 u16 tlv_type, bool full, bool start)
{
	const size_t len = sizeof(struct vfio_mig_tlv_hdr) +
			   VFIO_MIG_BLOCK_TLV_LEN;
	u64 i, n = vfio_mig_blocks_count(b);
	int more = 0;

	if (WARN_ON(b->save_pending))
		vfio_mig_blocks_save_end(b, false);
	if (start) {
		if (full) {
			bitmap_fill(b->todo, n);
			b->ntodo = n;
		} else {
			bitmap_copy(b->todo, b->dirty, n);
			b->ntodo = b->ndirty;
		}
	}
	bitmap_zero(b->saving, n);
	b->nsaving = 0;
	for_each_set_bit(i, b->todo, n) {
		struct vfio_mig_tlv_hdr *hdr;
		__le64 index = cpu_to_le64(i);
		u8 *value;

		/* Built in place: a block is too big for the stack */
		hdr = vfio_mig_buf_reserve(buf, len);
		if (!hdr) {
			more = 1;
			break;
		}
		hdr->type = cpu_to_le16(tlv_type);
		hdr->flags = cpu_to_le16(VFIO_MIG_TLV_F_REQUIRED);
		hdr->length = cpu_to_le32(VFIO_MIG_BLOCK_TLV_LEN);
		value = (u8 *)(hdr + 1);
		memcpy(value, &index, sizeof(index));
		memcpy(value + sizeof(index), b->data + i * VFIO_MIG_BLOCK,
		       VFIO_MIG_BLOCK);
		__set_bit(i, b->saving);
		b->nsaving++;
	}
	/* Out of the image, and clean until written again */
	bitmap_andnot(b->todo, b->todo, b->saving, n);
	b->ntodo -= b->nsaving;
	bitmap_andnot(b->dirty, b->dirty, b->saving, n);
	b->ndirty = bitmap_weight(b->dirty, n);
	b->save_first = start;
	b->save_pending = true;
	return more;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_save);

/**
 * vfio_mig_blocks_save_end() - the record of the last save was committed,
 *	or thrown away
 * @b: the context
 * @commit: true: what was saved is sent; false: it is dirty again, and
 *	still to go in its image
 *
 * A no-op without a save pending.
 */
void vfio_mig_blocks_save_end(struct vfio_mig_blocks *b, bool commit)
{
	u64 n = vfio_mig_blocks_count(b);

	if (!b->save_pending)
		return;
	b->save_pending = false;
	if (!commit) {
		bitmap_or(b->dirty, b->dirty, b->saving, n);
		b->ndirty = bitmap_weight(b->dirty, n);
		bitmap_or(b->todo, b->todo, b->saving, n);
		b->ntodo = bitmap_weight(b->todo, n);
		/* The last committed image is still the one that counts */
		b->nstale = bitmap_weight_and(b->sent, b->dirty, n);
		return;
	}
	/* The image's first record replaces the last image, later ones add */
	if (b->save_first)
		bitmap_copy(b->sent, b->saving, n);
	else
		bitmap_or(b->sent, b->sent, b->saving, n);
	b->nsent = bitmap_weight(b->sent, n);
	/* Written again between the save and now: stale already */
	b->nstale = bitmap_weight_and(b->sent, b->dirty, n);
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_save_end);

/**
 * vfio_mig_blocks_dirty() - the context's counts, for the limiter
 * @b: the context
 * @d: filled in: dirty, written, the blocks of the last committed image
 *	and how many of them were written again since, and the bytes of
 *	block TLVs an unfinished image still has to carry
 */
void vfio_mig_blocks_dirty(struct vfio_mig_blocks *b, struct vfio_mig_dirty *d)
{
	*d = (struct vfio_mig_dirty){
		.dirty = b->ndirty * VFIO_MIG_BLOCK,
		.written = b->written,
		.sent = b->nsent * VFIO_MIG_BLOCK,
		.stale = b->nstale * VFIO_MIG_BLOCK,
		.rest = b->ntodo * (sizeof(struct vfio_mig_tlv_hdr) +
				    VFIO_MIG_BLOCK_TLV_LEN),
	};
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_dirty);

/**
 * vfio_mig_blocks_load_begin() - a record starts loading
 * @b: the context
 * @rec: the record; the first of its image starts the image's checks
 *
 * Return: 0 or -ENOMEM (for the staging copy, on the first record).
 */
int vfio_mig_blocks_load_begin(struct vfio_mig_blocks *b,
			       const struct vfio_mig_record *rec)
{
	if (!b->stage) {
		b->stage = kvzalloc(b->size, GFP_KERNEL_ACCOUNT);
		if (!b->stage)
			return -ENOMEM;
	}
	if (rec->first) {
		b->next = 0;
		b->loaded = 0;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_load_begin);

/**
 * vfio_mig_blocks_consume() - one block TLV's value, into the staging copy
 * @b: the context, between load_begin and load_end
 * @value: the value
 * @length: VFIO_MIG_BLOCK_TLV_LEN (the TLV descriptor enforces it)
 *
 * Return: 0, or -EINVAL for a block out of range, out of order or repeated.
 */
int vfio_mig_blocks_consume(struct vfio_mig_blocks *b, const void *value,
			    u32 length)
{
	__le64 index;
	u64 i;

	if (length != VFIO_MIG_BLOCK_TLV_LEN || !b->stage)
		return -EINVAL;
	memcpy(&index, value, sizeof(index));
	i = le64_to_cpu(index);
	if (i < b->next || i >= vfio_mig_blocks_count(b))
		return -EINVAL;
	memcpy(b->stage + i * VFIO_MIG_BLOCK, value + sizeof(index),
	       VFIO_MIG_BLOCK);
	b->next = i + 1;
	b->loaded++;
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_consume);

/**
 * vfio_mig_blocks_load_end() - a record was parsed
 * @b: the context
 * @rec: the record
 * @err: where to say why it is refused
 *
 * Return: 0, or -EINVAL when the last record of a full image leaves it
 * without every block.
 */
int vfio_mig_blocks_load_end(struct vfio_mig_blocks *b,
			     const struct vfio_mig_record *rec,
			     struct vfio_mig_parse_err *err)
{
	if (!vfio_mig_record_full(rec) ||
	    (rec->flags & VFIO_MIG_RECORD_F_MORE))
		return 0;
	if (b->loaded != vfio_mig_blocks_count(b)) {
		err->offset = 0;
		err->what = "full image without every block";
		return -EINVAL;
	}
	b->staged_full = true;
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_load_end);

/**
 * vfio_mig_blocks_commit() - make the staged copy the context
 * @b: the context
 *
 * Return: 0, or -ENODATA when no full image was loaded.
 */
int vfio_mig_blocks_commit(struct vfio_mig_blocks *b)
{
	if (!b->staged_full)
		return -ENODATA;
	swap(b->data, b->stage);
	bitmap_zero(b->dirty, vfio_mig_blocks_count(b));
	b->ndirty = 0;
	b->nsent = 0;
	b->nstale = 0;
	bitmap_zero(b->sent, vfio_mig_blocks_count(b));
	b->ntodo = 0;
	bitmap_zero(b->todo, vfio_mig_blocks_count(b));
	vfio_mig_blocks_abort(b);
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_commit);

/**
 * vfio_mig_blocks_abort() - drop the staging copy
 * @b: the context
 */
void vfio_mig_blocks_abort(struct vfio_mig_blocks *b)
{
	kvfree(b->stage);
	b->stage = NULL;
	b->staged_full = false;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_abort);
