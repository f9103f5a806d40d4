/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for <linux/limits.h> */
#include <stdint.h>

#define U64_MAX UINT64_MAX
