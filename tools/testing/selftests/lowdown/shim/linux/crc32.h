/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for <linux/crc32.h>: crc32_le() with the kernel's
 * meaning (reflected CRC-32, polynomial 0xedb88320, no inversion of the
 * seed or the result), one bit at a time.
 */
#ifndef __LOWDOWN_SHIM_CRC32_H
#define __LOWDOWN_SHIM_CRC32_H

#include <linux/types.h>

static inline u32 crc32_le(u32 crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int bit;

	while (len--) {
		crc ^= *p++;
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return crc;
}

#endif
