// SPDX-License-Identifier: GPL-2.0
/*
 * dirty - the L2 test guest's RAM load: dirty BYTES a second of a SET-byte
 * buffer, a page at a time in order, wrapping, so that a migration has
 * guest-written RAM to send again as a real workload would.
 *
 *   dirty BYTES_PER_SECOND [SET_BYTES]      (SET defaults to 32 MiB)
 *
 * It wakes every 10 ms and stores into the pages due by then (a late
 * wake-up catches up, so the rate holds under a busy host), and prints
 * "dirty: N bytes/s over M bytes" once the buffer is mapped: the
 * benchmark waits for that line.  A child process then writes a kernel
 * message "beat N" every 20 ms (through /dev/kmsg: the kernel writes its
 * console by polling, where a tty write waits for the UART's interrupts,
 * which this guest's 8250 does not get): the benchmark times their
 * arrival on the console to see when the guest ran last before a
 * migration's stop and first after its resume.  The beats have a process
 * of their own so that they keep time while the dirtier catches up on
 * page faults (first touches are slow under nested TCG).  The first pass faults the pages in at
 * the rate, so that start-up costs nothing under nested TCG.  kernel/build-guest links
 * it statically into the guest's initramfs; kernel/guest/init starts it
 * from the command line's dirty.rate= and dirty.set=.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct timespec beat = { 0, 20 * 1000 * 1000 };
	unsigned long rate, set, pages, seq = 0, due, beats = 0;
	char line[32];
	pid_t pid;
	int kmsg;
	unsigned long *buf;
	double start;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: dirty BYTES_PER_SECOND [SET_BYTES]\n");
		return 64;
	}
	rate = strtoul(argv[1], NULL, 0);
	set = argc > 2 ? strtoul(argv[2], NULL, 0) : 32UL << 20;
	pages = set / PAGE;
	if (!pages) {
		fprintf(stderr, "dirty: error: the set is less than a page\n");
		return 64;
	}
	buf = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("dirty: mmap");
		return 1;
	}
	kmsg = open("/dev/kmsg", O_WRONLY);
	if (kmsg < 0) {
		perror("dirty: /dev/kmsg");
		return 1;
	}
	printf("dirty: %lu bytes/s over %lu bytes\n", rate, pages * PAGE);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("dirty: fork");
		return 1;
	}
	if (!pid) {
		for (;;) {
			snprintf(line, sizeof(line), "beat %lu\n", beats++);
			if (write(kmsg, line, strlen(line)) < 0)
				return 1;
			nanosleep(&beat, NULL);
		}
	}
	start = now();
	for (;;) {
		double t = now() - start;

		due = (unsigned long)(t * rate / PAGE);
		for (; seq < due; seq++)
			buf[seq % pages * (PAGE / sizeof(*buf))] = seq;
		/* an external call: the stores are made before it */
		nanosleep(&tick, NULL);
	}
}
