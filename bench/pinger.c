// SPDX-License-Identifier: GPL-2.0
/*
 * pinger - ICMP echo requests at a fixed interval, whatever comes back,
 * for what a migrating guest's peers see.
 *
 *   pinger [-i MICROSECONDS] ADDRESS
 *
 * ping(8) with a small -i keeps about one request in flight when the
 * replies are slower than the interval (a guest under nested TCG answers
 * in 10-20 ms), and stops sending while nothing comes back: its gaps and
 * losses then say more about ping than about the guest.  pinger sends
 * request n at start + n * interval (default 1000 us), from a raw socket,
 * never waiting for a reply; a request it could not send counts as sent
 * and lost.  When pinger itself was not run for longer than ten intervals
 * (a busy host), the requests it missed are not sent late in a burst but
 * skipped, each run of them a line "s FIRST COUNT".  Each reply is a line
 * as it arrives:
 *
 *   r SEQ SENT_NS RECEIVED_NS
 *
 * (CLOCK_REALTIME nanoseconds, the clock of QEMU's QMP event time stamps;
 * SEQ counts from 0 in 32 bits, carried in the payload, so it does not
 * wrap as the 16-bit ICMP sequence does), and on SIGINT or SIGTERM a last
 * line "sent N skipped M" (M of the N sequence numbers were skipped, not
 * sent), after which it exits 0.  Needs CAP_NET_RAW.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

struct payload {
	u32 magic;
	u32 seq;
	u64 sent_ns;
};

#define MAGIC 0x706e6772u

static u64 now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The Internet checksum of len bytes, in network order as stored */
static u16 csum(const void *buf, size_t len)
{
	const u8 *p = buf;
	u32 sum = 0;
	u16 w;

	for (; len > 1; len -= 2, p += 2) {
		memcpy(&w, p, 2);
		sum += w;
	}
	if (len)
		sum += *p;
	sum = (sum >> 16) + (sum & 0xffff);
	sum += sum >> 16;
	return ~sum;
}

static void send_one(int fd, const struct sockaddr_in *to, u16 id, u32 seq)
{
	struct {
		struct icmphdr h;
		struct payload p;
	} pkt;

	memset(&pkt, 0, sizeof(pkt));
	pkt.h.type = ICMP_ECHO;
	pkt.h.un.echo.id = htons(id);
	pkt.h.un.echo.sequence = htons(seq & 0xffff);
	pkt.p.magic = MAGIC;
	pkt.p.seq = seq;
	pkt.p.sent_ns = now_ns(CLOCK_REALTIME);
	pkt.h.checksum = csum(&pkt, sizeof(pkt));
	/* a full socket buffer or a missing route is a lost request */
	sendto(fd, &pkt, sizeof(pkt), MSG_DONTWAIT, (const void *)to, sizeof(*to));
}

static void receive(int fd, u16 id)
{
	unsigned char buf[1500];
	const struct icmphdr *h;
	struct payload p;
	const struct iphdr *ip;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		ip = (const void *)buf;
		if (n < (ssize_t)sizeof(*ip) || n < ip->ihl * 4 +
		    (ssize_t)(sizeof(*h) + sizeof(p)))
			continue;
		h = (const void *)(buf + ip->ihl * 4);
		if (h->type != ICMP_ECHOREPLY || ntohs(h->un.echo.id) != id)
			continue;
		memcpy(&p, h + 1, sizeof(p));
		if (p.magic != MAGIC)
			continue;
		printf("r %u %llu %llu\n", p.seq, (unsigned long long)p.sent_ns,
		       (unsigned long long)now_ns(CLOCK_REALTIME));
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	u64 interval = 1000000, start, next;
	u16 id = getpid() & 0xffff;
	u32 seq = 0, skipped = 0;
	struct pollfd pfd[2];
	struct timespec wait;
	sigset_t sigs;
	int opt, fd;

	while ((opt = getopt(argc, argv, "i:")) != -1) {
		char *end;

		if (opt != 'i')
			goto usage;
		interval = strtoull(optarg, &end, 10) * 1000;
		if (*end || !*optarg)
			goto usage;
	}
	if (optind != argc - 1 || !interval ||
	    inet_pton(AF_INET, argv[optind], &to.sin_addr) != 1)
		goto usage;
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (fd < 0) {
		perror("pinger: socket");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* SIGINT and SIGTERM end the loop through a signalfd */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	pfd[1].fd = signalfd(-1, &sigs, 0);
	if (pfd[1].fd < 0) {
		perror("pinger: signalfd");
		return 1;
	}
	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].events = POLLIN;
	pfd[1].revents = 0;
	start = now_ns(CLOCK_MONOTONIC);
	next = start;
	while (!(pfd[1].revents & POLLIN)) {
		u64 t = now_ns(CLOCK_MONOTONIC);

		if (next + 10 * interval <= t) {
			u32 due = (t - start) / interval;

			printf("s %u %u\n", seq, due - seq);
			skipped += due - seq;
			seq = due;
			next = start + seq * interval;
		}
		while (next <= t) {
			send_one(fd, &to, id, seq++);
			next = start + seq * interval;
		}
		wait.tv_sec = (next - t) / 1000000000ull;
		wait.tv_nsec = (next - t) % 1000000000ull;
		if (ppoll(pfd, 2, &wait, NULL) > 0 && (pfd[0].revents & POLLIN))
			receive(fd, id);
	}
	printf("sent %u skipped %u\n", seq, skipped);
	return 0;
usage:
	fprintf(stderr, "usage: pinger [-i MICROSECONDS] IPV4_ADDRESS\n");
	return 64;
}
