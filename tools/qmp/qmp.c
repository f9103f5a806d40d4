// SPDX-License-Identifier: GPL-2.0
/*
 * qmp - run one QMP command against a QEMU monitor socket.
 *
 *   qmp [-t SECONDS] SOCKET COMMAND [ARGUMENTS]
 *
 * Connects to the QMP server on the unix socket SOCKET, leaves capability
 * negotiation mode, runs COMMAND with ARGUMENTS (a JSON object, default {})
 * and prints the "return" value as QEMU sent it, on one line, for jq.
 * Asynchronous events that arrive in between are skipped.
 *
 * Exit status: 0 on a "return"; 1 on an "error" reply (its class and
 * description go to stderr); 2 on bad usage, a connection or protocol
 * failure, or when no reply came within the timeout (default 30 s).
 *
 * QMP is line oriented: every server message is one JSON object followed by
 * CRLF.  Only the top level of a message is looked at, so the scanner below
 * needs to know just enough JSON to skip strings and nested values.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define QMP_LINE_MAX (4 << 20)

struct qmp_conn {
	int fd;
	char *buf;
	size_t len;		/* bytes held in buf */
	long long deadline_ms;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Returns the length of the JSON value starting at s, or 0 if malformed. */
static size_t json_value_len(const char *s, size_t n)
{
	size_t i = 0;
	int depth = 0;
	bool in_string = false;

	do {
		if (i >= n)
			return 0;
		if (in_string) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_string = false;
		} else if (s[i] == '"') {
			in_string = true;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
		} else if (depth == 0 && (s[i] == ',' || s[i] == ' ' ||
					  s[i] == '\r' || s[i] == '\n')) {
			return i;
		}
		i++;
	} while (depth > 0 || in_string);
	return i;
}

/*
 * Find member @key at the top level of the JSON object in msg[0..n) and
 * return a pointer to its value (length in *vlen), or NULL.
 */
static const char *json_member(const char *msg, size_t n, const char *key,
			       size_t *vlen)
{
	size_t klen = strlen(key), i = 0, len;

	while (i < n && msg[i] != '{')
		i++;
	i++;
	while (i < n) {
		while (i < n && strchr(" \t\r\n,", msg[i]))
			i++;
		if (i >= n || msg[i] != '"')
			return NULL;
		len = json_value_len(msg + i, n - i);
		if (!len)
			return NULL;
		bool match = len == klen + 2 && !memcmp(msg + i + 1, key, klen);

		i += len;
		while (i < n && strchr(" \t\r\n:", msg[i]))
			i++;
		len = json_value_len(msg + i, n - i);
		if (!len)
			return NULL;
		if (match) {
			*vlen = len;
			return msg + i;
		}
		i += len;
	}
	return NULL;
}

/* Read one CRLF-terminated message; returns its length (without CRLF) or -1. */
static ssize_t qmp_read_line(struct qmp_conn *c, char **line)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			*line = c->buf;
			*nl = '\0';
			return nl - c->buf;
		}
		if (c->len == QMP_LINE_MAX) {
			fprintf(stderr, "qmp: message longer than %d bytes\n",
				QMP_LINE_MAX);
			return -1;
		}

		long long left = c->deadline_ms - now_ms();
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

		if (left <= 0 || poll(&pfd, 1, left) == 0) {
			fprintf(stderr, "qmp: no reply from QEMU in time\n");
			return -1;
		}
		ssize_t r = read(c->fd, c->buf + c->len, QMP_LINE_MAX - c->len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "qmp: connection closed by QEMU\n");
			return -1;
		}
		c->len += r;
	}
}

static void qmp_consume_line(struct qmp_conn *c, size_t len)
{
	memmove(c->buf, c->buf + len + 1, c->len - len - 1);
	c->len -= len + 1;
}

static int qmp_send(struct qmp_conn *c, const char *cmd, const char *args)
{
	char *msg;
	int n = asprintf(&msg, "{\"execute\": \"%s\", \"arguments\": %s}\n",
			 cmd, args);

	if (n < 0)
		return -1;
	for (int off = 0; off < n;) {
		ssize_t w = write(c->fd, msg + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			perror("qmp: write");
			free(msg);
			return -1;
		}
		off += w;
	}
	free(msg);
	return 0;
}

/*
 * Wait for the reply to the last command: print "return" and answer 0, or
 * report "error" and answer 1; events are skipped; 2 on failure.
 */
static int qmp_reply(struct qmp_conn *c, bool print)
{
	for (;;) {
		char *line;
		const char *v;
		size_t vlen;
		ssize_t n = qmp_read_line(c, &line);

		if (n < 0)
			return 2;
		v = json_member(line, n, "return", &vlen);
		if (v) {
			if (print)
				printf("%.*s\n", (int)vlen, v);
			qmp_consume_line(c, n);
			return 0;
		}
		v = json_member(line, n, "error", &vlen);
		if (v) {
			const char *cls, *desc;
			size_t clen = 0, dlen = 0;

			cls = json_member(v, vlen, "class", &clen);
			desc = json_member(v, vlen, "desc", &dlen);
			fprintf(stderr, "qmp: %.*s: %.*s\n", (int)clen,
				cls ? cls : "", (int)dlen, desc ? desc : "");
			qmp_consume_line(c, n);
			return 1;
		}
		if (!json_member(line, n, "event", &vlen) &&
		    !json_member(line, n, "QMP", &vlen)) {
			fprintf(stderr, "qmp: unexpected message: %s\n", line);
			return 2;
		}
		qmp_consume_line(c, n);
	}
}

static int qmp_connect(struct qmp_conn *c, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "qmp: socket path too long: %s\n", path);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		perror("qmp: socket");
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "qmp: connect %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct qmp_conn c = { .fd = -1 };
	double timeout = 30;
	const char *args;
	int opt, ret;

	while ((opt = getopt(argc, argv, "t:h")) != -1) {
		switch (opt) {
		case 't':
			timeout = strtod(optarg, NULL);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind < 2 || argc - optind > 3)
		goto usage;
	args = argc - optind == 3 ? argv[optind + 2] : "{}";

	c.buf = malloc(QMP_LINE_MAX);
	if (!c.buf)
		return 2;
	c.deadline_ms = now_ms() + (long long)(timeout * 1000);
	if (qmp_connect(&c, argv[optind]))
		return 2;
	/* The greeting is a "QMP" message; then leave negotiation mode. */
	if (qmp_send(&c, "qmp_capabilities", "{}"))
		return 2;
	ret = qmp_reply(&c, false);
	if (ret)
		return 2;
	if (qmp_send(&c, argv[optind + 1], args))
		return 2;
	ret = qmp_reply(&c, true);
	close(c.fd);
	free(c.buf);
	return ret;

usage:
	fprintf(stderr, "usage: qmp [-t SECONDS] SOCKET COMMAND [ARGUMENTS-JSON]\n");
	return 2;
}
