/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in */
#include <string.h>
