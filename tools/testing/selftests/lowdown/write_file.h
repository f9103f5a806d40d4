/* SPDX-License-Identifier: GPL-2.0 */
/* Writing a value to a sysfs, debugfs or proc file, for the selftests */
#ifndef __LOWDOWN_WRITE_FILE_H
#define __LOWDOWN_WRITE_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Write @s to the file at @path: 0, or -errno */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

#endif
