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
 * order and each at most once per record; a full image must hold every
 * block; only vfio_mig_blocks_commit() makes the staged copy the context,
 * so a refused stream leaves the device as it was.
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
	if (!b->data || !b->dirty) {
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
	     i <= (offset + length - 1) / VFIO_MIG_BLOCK; i++)
		if (!__test_and_set_bit(i, b->dirty))
			b->ndirty++;
	b->written += length;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_wrote);

/**
 * vfio_mig_blocks_save() - append the context's blocks to a record
 * @b: the context
 * @buf: the record being built
 * @tlv_type: the TLV type of a block
 * @full: every block, or only those written since the last save
 *
 * On success the dirty bits are cleared: what was saved counts as sent.
 *
 * Return: 0, -EFBIG or -ENOMEM.
 */
int vfio_mig_blocks_save(struct vfio_mig_blocks *b, struct vfio_mig_buf *buf,
			 u16 tlv_type, bool full)
{
	const size_t len = sizeof(struct vfio_mig_tlv_hdr) +
			   VFIO_MIG_BLOCK_TLV_LEN;
	u64 i;

	for (i = 0; i < vfio_mig_blocks_count(b); i++) {
		struct vfio_mig_tlv_hdr *hdr;
		__le64 index = cpu_to_le64(i);
		u8 *value;

		if (!full && !test_bit(i, b->dirty))
			continue;
		/* Built in place: a block is too big for the stack */
		hdr = vfio_mig_buf_reserve(buf, len);
		if (!hdr)
			return buf->len + len > buf->max ? -EFBIG : -ENOMEM;
		hdr->type = cpu_to_le16(tlv_type);
		hdr->flags = cpu_to_le16(VFIO_MIG_TLV_F_REQUIRED);
		hdr->length = cpu_to_le32(VFIO_MIG_BLOCK_TLV_LEN);
		value = (u8 *)(hdr + 1);
		memcpy(value, &index, sizeof(index));
		memcpy(value + sizeof(index), b->data + i * VFIO_MIG_BLOCK,
		       VFIO_MIG_BLOCK);
	}
	bitmap_zero(b->dirty, vfio_mig_blocks_count(b));
	b->ndirty = 0;
	return 0;
}
EXPORT_SYMBOL_GPL(vfio_mig_blocks_save);

/**
 * vfio_mig_blocks_load_begin() - a record starts loading
 * @b: the context
 *
 * Return: 0 or -ENOMEM (for the staging copy, on the first record).
 */
int vfio_mig_blocks_load_begin(struct vfio_mig_blocks *b)
{
	if (!b->stage) {
		b->stage = kvzalloc(b->size, GFP_KERNEL_ACCOUNT);
		if (!b->stage)
			return -ENOMEM;
	}
	b->next = 0;
	b->loaded = 0;
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
 * @full: the record is a full image
 * @err: where to say why it is refused
 *
 * Return: 0, or -EINVAL for a full image without every block.
 */
int vfio_mig_blocks_load_end(struct vfio_mig_blocks *b, bool full,
			     struct vfio_mig_parse_err *err)
{
	if (!full)
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
