// SPDX-License-Identifier: GPL-2.0
/*
 * memimg - make and compare guest memory images for bench/downtime
 *
 *   memimg fill FILE BYTES    FILE becomes BYTES of a non-zero pattern, each
 *                             4 KiB page stamped with its own number, so a
 *                             page that lands in the wrong place shows
 *   memimg cmp A B BYTES      count the 4 KiB pages in which the first BYTES
 *                             of A and B differ
 *
 * A and B are files, or PID@HVA: a process's memory at a virtual address,
 * read with process_vm_readv().  The benchmark reads both paused QEMUs' guest
 * RAM at the addresses QMP x-query-ramblock gives: no dump, and the guests'
 * RAM stays ordinary anonymous or private memory (a shared file mapping
 * halves QEMU's migration speed under TCG).  cmp prints "N pages differ"
 * and the first few offsets; it exits 0 when the two are identical, 1 when
 * they differ and 2 on an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096
#define CHUNK (1024 * 1024)
#define SHOW 8

static int fail(const char *what, const char *name)
{
	fprintf(stderr, "memimg: %s %s: %s\n", what, name, strerror(errno));
	return 2;
}

static int fill(const char *name, const char *arg)
{
	static const char text[] = "lowdown downtime benchmark page ";
	unsigned long long size, off, i;
	char *buf, *end;
	int fd;

	errno = 0;
	size = strtoull(arg, &end, 0);
	if (errno || *end || !size || size % PAGE) {
		fprintf(stderr, "memimg: bad size %s (whole pages)\n", arg);
		return 2;
	}
	buf = malloc(CHUNK);
	if (!buf)
		return fail("malloc for", name);
	for (i = 0; i < CHUNK; i++)
		buf[i] = text[i % (sizeof(text) - 1)];
	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return fail("open", name);
	for (off = 0; off < size; off += CHUNK) {
		size_t len = size - off < CHUNK ? size - off : CHUNK;
		size_t done = 0;

		for (i = 0; i < len; i += PAGE) {
			unsigned long long page = (off + i) / PAGE;

			memcpy(buf + i, &page, sizeof(page));
		}
		while (done < len) {
			ssize_t n = write(fd, buf + done, len - done);

			if (n < 0)
				return fail("write", name);
			done += n;
		}
	}
	free(buf);
	return close(fd) ? fail("close", name) : 0;
}

/* Where to read one side: a file, or a process's memory at an address */
struct side {
	const char *name;
	int fd;
	pid_t pid;
	unsigned long long base;
};

static int side_open(struct side *sd, const char *name)
{
	char *at, *end;
	unsigned long pid;

	sd->name = name;
	sd->base = 0;
	sd->pid = 0;
	at = strchr(name, '@');
	if (!at) {
		sd->fd = open(name, O_RDONLY);
		return sd->fd < 0 ? fail("open", name) : 0;
	}
	errno = 0;
	pid = strtoul(name, &end, 10);
	if (end != at || !pid)
		goto bad;
	sd->base = strtoull(at + 1, &end, 0);
	if (errno || *end)
		goto bad;
	sd->pid = pid;
	return 0;
bad:
	fprintf(stderr, "memimg: %s is neither a file nor PID@ADDRESS\n", name);
	return 2;
}

static int side_read(struct side *sd, unsigned char *buf, size_t len,
		     unsigned long long off)
{
	size_t done = 0;

	while (done < len) {
		struct iovec local = { buf + done, len - done };
		struct iovec remote = {
			(void *)(unsigned long)(sd->base + off + done), len - done
		};
		ssize_t n;

		if (sd->pid)
			n = process_vm_readv(sd->pid, &local, 1, &remote, 1, 0);
		else
			n = pread(sd->fd, buf + done, len - done, off + done);

		if (n < 0)
			return fail("read of", sd->name);
		if (!n) {
			fprintf(stderr, "memimg: %s ends at 0x%llx\n",
				sd->name, off + done);
			return 2;
		}
		done += n;
	}
	return 0;
}

static int cmp(const char *a_name, const char *b_name, const char *arg)
{
	unsigned long long size, off, differ = 0;
	unsigned char *a, *b;
	struct side sa, sb;
	char *end;
	int rc;

	errno = 0;
	size = strtoull(arg, &end, 0);
	if (errno || *end || !size) {
		fprintf(stderr, "memimg: bad size %s\n", arg);
		return 2;
	}
	rc = side_open(&sa, a_name);
	if (!rc)
		rc = side_open(&sb, b_name);
	a = malloc(CHUNK);
	b = malloc(CHUNK);
	if (!rc && (!a || !b))
		rc = fail("malloc for", a_name);
	for (off = 0; !rc && off < size; off += CHUNK) {
		size_t len = size - off < CHUNK ? size - off : CHUNK, i;

		rc = side_read(&sa, a, len, off);
		if (!rc)
			rc = side_read(&sb, b, len, off);
		for (i = 0; !rc && i < len; i += PAGE) {
			size_t n = len - i < PAGE ? len - i : PAGE;

			if (!memcmp(a + i, b + i, n))
				continue;
			if (differ++ < SHOW)
				printf("differs at 0x%llx\n", off + i);
		}
	}
	free(a);
	free(b);
	if (rc)
		return rc;
	printf("%llu pages differ\n", differ);
	return differ ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "fill"))
		return fill(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "cmp"))
		return cmp(argv[2], argv[3], argv[4]);
	fprintf(stderr,
		"usage: memimg fill FILE BYTES | memimg cmp A B BYTES\n");
	return 2;
}
