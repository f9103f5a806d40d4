/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel header itself, from the kernel tree the tests build in */
#include "../../../../../../include/linux/vfio_mig_limiter.h"
