/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in: exports are no-ops (a declaration, for the semicolon) */
#include <assert.h>

#define LOWDOWN_NO_EXPORT(sym) static_assert(1, #sym)
#define EXPORT_SYMBOL_GPL LOWDOWN_NO_EXPORT
