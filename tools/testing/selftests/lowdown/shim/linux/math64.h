/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for <linux/math64.h> */
#ifndef __LOWDOWN_SHIM_MATH64_H
#define __LOWDOWN_SHIM_MATH64_H

#include <linux/types.h>

static inline u64 mul_u64_u64_div_u64(u64 a, u64 b, u64 c)
{
	return (u64)((__uint128_t)a * b / c);
}

#endif
