/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading a dirty bitmap that lives in user memory, for the tracepoints of
 * the iommufd and VFIO dirty-bitmap reads (they count the bits a read
 * turned on).
 */
#ifndef __LINUX_USER_BITMAP_H
#define __LINUX_USER_BITMAP_H

#include <linux/bitops.h>
#include <linux/minmax.h>
#include <linux/uaccess.h>

/**
 * user_bitmap_weight() - count the set bits at the start of a user bitmap
 * @map: the bitmap, an array of u64 in the layout of the iommufd and VFIO
 *	dirty bitmaps (bit n of word w is bit 64 * w + n)
 * @nbits: how many bits, from the first, to count
 * @weight: set to the count
 *
 * Context: process context; may fault in user memory.
 * Return: 0, or -EFAULT when part of the bitmap cannot be read (@weight is
 * then 0).
 */
static inline int user_bitmap_weight(const u64 __user *map, u64 nbits,
				     u64 *weight)
{
	u64 buf[32];

	*weight = 0;
	while (nbits) {
		u64 words = min_t(u64, DIV_ROUND_UP_ULL(nbits, 64),
				  ARRAY_SIZE(buf));
		u64 i;

		if (copy_from_user(buf, map, words * sizeof(u64))) {
			*weight = 0;
			return -EFAULT;
		}
		for (i = 0; i < words; i++) {
			u64 w = buf[i];

			if (nbits < 64)
				w &= GENMASK_ULL(nbits - 1, 0);
			*weight += hweight64(w);
			nbits -= min_t(u64, nbits, 64);
		}
		map += words;
	}
	return 0;
}

#endif
