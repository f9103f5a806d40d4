/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for <asm/byteorder.h>: little-endian hosts only */
#ifndef __LOWDOWN_SHIM_BYTEORDER_H
#define __LOWDOWN_SHIM_BYTEORDER_H

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the stream tests assume a little-endian host"
#endif

#define cpu_to_le16(x) ((__u16)(x))
#define cpu_to_le32(x) ((__u32)(x))
#define cpu_to_le64(x) ((__u64)(x))
#define le16_to_cpu(x) ((__u16)(x))
#define le32_to_cpu(x) ((__u32)(x))
#define le64_to_cpu(x) ((__u64)(x))

#endif
