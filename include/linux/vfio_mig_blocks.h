/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A device context kept in 4 KiB blocks with a dirty bit each, saved into
 * and loaded from migration records (vfio_mig_engine.h) as one TLV per
 * block.  See drivers/vfio/mig_blocks.c.
 */
#ifndef __LINUX_VFIO_MIG_BLOCKS_H
#define __LINUX_VFIO_MIG_BLOCKS_H

#include <linux/types.h>

struct vfio_mig_buf;
struct vfio_mig_dirty;
struct vfio_mig_parse_err;
struct vfio_mig_record;

#define VFIO_MIG_BLOCK 4096
/* A block TLV's value: __le64 block index, then the block */
#define VFIO_MIG_BLOCK_TLV_LEN (sizeof(__le64) + VFIO_MIG_BLOCK)

/**
 * struct vfio_mig_blocks - a block-granular context
 * @data: the context, @size bytes
 * @size: a multiple of VFIO_MIG_BLOCK
 * @dirty: a bit per block written since the last save
 * @ndirty: bits set in @dirty
 * @written: bytes written, rewrites included (the limiter's churn)
 * @saving: the blocks of the save not yet committed or thrown away
 * @nsaving: bits set in @saving
 * @save_pending: a save waits for vfio_mig_blocks_save_end()
 * @save_first: the pending save started its image
 * @sent: the blocks of the last image, of its records committed so far
 * @nsent: bits set in @sent
 * @nstale: blocks of @sent written since they were committed
 * @todo: the blocks the image being saved has still to carry
 * @ntodo: bits set in @todo
 * @stage: loading: the context being built, NULL when not loading
 * @staged_full: a full image was loaded into @stage
 * @next: loading an image: the lowest block index allowed next
 * @loaded: loading an image: blocks in it so far
 *
 * The owner serialises every call for one context.
 */
struct vfio_mig_blocks {
	u8 *data;
	u64 size;
	unsigned long *dirty;
	u64 ndirty;
	u64 written;
	unsigned long *saving;
	u64 nsaving;
	bool save_pending;
	bool save_first;
	unsigned long *sent;
	u64 nsent;
	u64 nstale;
	unsigned long *todo;
	u64 ntodo;
	u8 *stage;
	bool staged_full;
	u64 next;
	u64 loaded;
};

int vfio_mig_blocks_alloc(struct vfio_mig_blocks *b, u64 size);
void vfio_mig_blocks_free(struct vfio_mig_blocks *b);
void vfio_mig_blocks_wrote(struct vfio_mig_blocks *b, u64 offset, u64 length);
int vfio_mig_blocks_save(struct vfio_mig_blocks *b, struct vfio_mig_buf *buf,
			 u16 tlv_type, bool full, bool start);
void vfio_mig_blocks_save_end(struct vfio_mig_blocks *b, bool commit);
void vfio_mig_blocks_dirty(struct vfio_mig_blocks *b, struct vfio_mig_dirty *d);
int vfio_mig_blocks_load_begin(struct vfio_mig_blocks *b,
			       const struct vfio_mig_record *rec);
int vfio_mig_blocks_consume(struct vfio_mig_blocks *b, const void *value,
			    u32 length);
int vfio_mig_blocks_load_end(struct vfio_mig_blocks *b,
			     const struct vfio_mig_record *rec,
			     struct vfio_mig_parse_err *err);
int vfio_mig_blocks_commit(struct vfio_mig_blocks *b);
void vfio_mig_blocks_abort(struct vfio_mig_blocks *b);

#endif
