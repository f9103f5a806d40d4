/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for <linux/types.h>, for kernel code built in tests */
#ifndef __LOWDOWN_SHIM_TYPES_H
#define __LOWDOWN_SHIM_TYPES_H

#include <asm/types.h>
#include <stdbool.h>
#include <stddef.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __u16 __le16;
typedef __u32 __le32;
typedef __u64 __le64;

#endif
