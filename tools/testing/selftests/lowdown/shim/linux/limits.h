/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for <linux/limits.h> */
#include <stdint.h>

#define U64_MAX UINT64_MAX
#define U32_MAX UINT32_MAX
