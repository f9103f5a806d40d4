/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for <linux/errno.h>.  glibc's <errno.h> includes
 * <linux/errno.h> for the numbers, so this must provide them itself.
 */
#include <asm/errno.h>
