// SPDX-License-Identifier: GPL-2.0
/*
 * linkbw - the bandwidth of a TCP link, as bench/downtime sees it.
 *
 *   linkbw -s PORT               receive one transfer, then exit
 *   linkbw -c ADDR PORT MIB      send MIB MiB, print the rate
 *
 * The sender times from connect() to the receiver's acknowledgment that
 * every byte arrived, and prints "BYTES NANOSECONDS BITS_PER_SECOND".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1024 * 1024)

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int serve(int port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	static char buf[CHUNK];
	int one = 1, s, c;
	ssize_t n;

	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1))
		die("bind");
	c = accept(s, NULL, NULL);
	if (c < 0)
		die("accept");
	while ((n = read(c, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		die("read");
	if (write(c, "k", 1) != 1)
		die("write");
	close(c);
	close(s);
	return 0;
}

static int send_mib(const char *addr, int port, long mib)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	static char buf[CHUNK];
	long long t0, bytes = (long long)mib << 20, left = bytes;
	int s, tries;
	char ack;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die(addr);
	memset(buf, 0x5a, sizeof(buf));
	for (tries = 0;; tries++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			die("socket");
		t0 = now_ns();
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		if (errno != ECONNREFUSED || tries == 50)
			die("connect");
		close(s);
		usleep(100000);
	}
	while (left > 0) {
		ssize_t n = write(s, buf, left < CHUNK ? left : CHUNK);

		if (n <= 0)
			die("write");
		left -= n;
	}
	if (shutdown(s, SHUT_WR) || read(s, &ack, 1) != 1)
		die("acknowledgment");
	t0 = now_ns() - t0;
	printf("%lld %lld %.0f\n", bytes, t0, bytes * 8e9 / t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "-s"))
		return serve(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "-c"))
		return send_mib(argv[2], atoi(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: linkbw -s PORT | linkbw -c ADDR PORT MIB\n");
	return 64;
}
