/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection by count (Documentation/fault-injection): arm the task so
 * that the Nth fault-injection point it reaches fails (every kmalloc, page
 * allocation, ... in the syscalls it makes), then see whether it was
 * reached.  A test runs its sequence for N = 1, 2, ... until a run reaches
 * no Nth point, and checks after every run that nothing was lost or leaked.
 *
 * Include after kselftest_harness.h for the fail_nth fixture below, for the
 * tests that do this (TEST_F_TIMEOUT, as the runs take long and vary in
 * number); without it, for the helpers alone.
 */
#ifndef __LOWDOWN_FAIL_NTH_H
#define __LOWDOWN_FAIL_NTH_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "write_file.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Let every allocation fail, sleeping ones included, quietly; the fd of
 * this thread's fail-nth file, or -1 without fault injection.
 */
static int fail_nth_open(void)
{
	static const char * const attrs[] = {
		"failslab", "fail_page_alloc", "fail_iommufd",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s/verbose",
			 attrs[i]);
		/* FAIL_NTH_VERBOSE=2: log each failure with its stack */
		write_file(path, getenv("FAIL_NTH_VERBOSE") ?: "0");
		if (i < 2) {
			snprintf(path, sizeof(path),
				 "/sys/kernel/debug/%s/ignore-gfp-wait",
				 attrs[i]);
			if (write_file(path, "N"))
				return -1;
		}
	}
	write_file("/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem",
		   "N");
	/* Single pages too: the default is order 1 and up */
	write_file("/sys/kernel/debug/fail_page_alloc/min-order", "0");
	return open("/proc/thread-self/fail-nth", O_RDWR);
}

static int fail_nth_arm(int fd, unsigned int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", nth);

	return pwrite(fd, buf, len, 0) == len ? 0 : -1;
}

/*
 * Disarm; the count of fault points still to pass before the armed one (0:
 * it was reached, and failed), or -1 when the count cannot be read
 */
static inline int fail_nth_left(int fd)
{
	char buf[16] = {};
	int left = -1;

	if (pread(fd, buf, sizeof(buf) - 1, 0) > 0)
		left = atoi(buf);
	pwrite(fd, "0", 1, 0);
	return left;
}

/* Disarm; true if the armed point was reached (and failed) */
static inline bool fail_nth_disarm(int fd)
{
	return fail_nth_left(fd) == 0;
}

/* Without kselftest_harness.h: the helpers only */
#ifdef FIXTURE
/* The fd of this thread's fail-nth file, for TEST_F(fail_nth, ...) */
FIXTURE(fail_nth)
{
	int nth_fd;
};

FIXTURE_SETUP(fail_nth)
{
	self->nth_fd = fail_nth_open();
	ASSERT_LE(0, self->nth_fd) TH_LOG("no fault injection in this kernel");
}

FIXTURE_TEARDOWN(fail_nth)
{
	close(self->nth_fd);
}
#endif

#endif
