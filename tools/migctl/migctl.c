// SPDX-License-Identifier: GPL-2.0
/*
 * migctl: drive VFIO migration and DMA logging through the uAPI, without
 * QEMU, for vfsim and lowdown's other test devices.
 *
 *   migctl arcs CDEV
 *	walk every arc between the seven migration states (the device is
 *	reset before each); print how many worked
 *   migctl dirty CDEV [-w PAGES] [-r RATE] [-t MS]
 *	log a running vfsim's DMA for MS milliseconds and compare the
 *	DMA_LOGGING_REPORT bitmap with the pages its records landed in
 *   migctl migrate SRC DST [-w PAGES] [-r RATE] [-p seq|random|hot]
 *		[-n ROUNDS] [-t MS] [-c OFFSET] [-k BYTES] [-L] [-R]
 *	migrate vfsim SRC to vfsim DST as QEMU does: guest memory (one
 *	anonymous mapping per side, PAGES pages at IOVA 1 GiB) copied in a
 *	bulk pass, then dirty pages from the DMA log; device data over
 *	ROUNDS PRE_COPY rounds of MS milliseconds (in each, what
 *	VFIO_MIG_GET_PRECOPY_INFO says is ready), then STOP_COPY.  -c flips
 *	a bit of the device stream at OFFSET, -k sends only its first BYTES,
 *	-L migrates without DMA logging (memory copied once, as with no
 *	dirty tracking), -R resumes the destination and checks that its
 *	records go on from the source's.
 *   migctl records FILE -b ADDR -w PAGES -x NEXT
 *	check the vfsim records in a guest memory dump (QMP pmemsave, file
 *	offset = guest physical address) of a sequential ring of PAGES pages
 *	at ADDR: none corrupt, none missing, the last one NEXT - 1 (NEXT:
 *	the device's next record number, sysfs seq)
 *
 * CDEV is a /dev/vfio/devices/vfioN.  Output is "key: value" lines.  Exit
 * status: 0 when everything checked out, 1 when a check failed (memory,
 * records, device state, DMA log), 2 when the kernel refused a step (the
 * errno is printed), 64 for bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "../../drivers/vfsim/vfsim.h"
#include "../testing/selftests/lowdown/vfio_mig_uapi.h"

#define IOVA 0x40000000ULL
#define PG 4096ULL
#define REGION_SHIFT 40

static const char *prog = "migctl";

static void die(int status, const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
	exit(status);
}

static void bad_usage(void)
{
	fprintf(stderr,
		"usage: migctl arcs CDEV\n"
		"       migctl dirty CDEV [-w PAGES] [-r RATE] [-t MS]\n"
		"       migctl migrate SRC DST [-w PAGES] [-r RATE] [-p PATTERN] [-n ROUNDS]\n"
		"                      [-t MS] [-c OFFSET] [-k BYTES] [-L] [-R]\n"
		"       migctl records FILE -b ADDR -w PAGES -x NEXT\n");
	exit(64);
}

static uint32_t crc32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = ~0U;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return ~crc;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A device bound to its own IOAS that maps @pages of anonymous memory */
struct side {
	int fd;
	uint32_t ioas;
	unsigned char *mem;
	size_t pages;
	/* The IOVA (or guest address) of mem[0] */
	uint64_t iova;
};

static int iommufd = -1;

static void side_open(struct side *s, const char *cdev, size_t pages)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.iova = IOVA,
	};
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};

	if (iommufd < 0) {
		iommufd = open("/dev/iommu", O_RDWR);
		if (iommufd < 0)
			die(2, "/dev/iommu", errno);
	}
	s->pages = pages;
	s->iova = IOVA;
	s->mem = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->mem == MAP_FAILED)
		die(2, "mmap", errno);
	memset(s->mem, 0, pages * PG);
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		die(2, "IOMMU_IOAS_ALLOC", errno);
	s->ioas = alloc.out_ioas_id;
	map.ioas_id = s->ioas;
	map.user_va = (uintptr_t)s->mem;
	map.length = pages * PG;
	if (ioctl(iommufd, IOMMU_IOAS_MAP, &map))
		die(2, "IOMMU_IOAS_MAP", errno);
	s->fd = open(cdev, O_RDWR);
	if (s->fd < 0)
		die(2, cdev, errno);
	bind.iommufd = iommufd;
	attach.pt_id = s->ioas;
	if (ioctl(s->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		die(2, "VFIO_DEVICE_BIND_IOMMUFD", errno);
	if (ioctl(s->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		die(2, "VFIO_DEVICE_ATTACH_IOMMUFD_PT", errno);
}

static void must_state(int fd, uint32_t state, int *data_fd)
{
	int rc = set_state(fd, state, data_fd);
	char what[64];

	snprintf(what, sizeof(what), "set state %u", state);
	if (rc)
		die(2, what, -rc);
}

static void bar_write(int fd, uint32_t reg, uint32_t val)
{
	if (pwrite(fd, &val, 4, reg) != 4)
		die(2, "BAR0 write", errno);
}

static uint32_t bar_read(int fd, uint32_t reg)
{
	uint32_t val;

	if (pread(fd, &val, 4, reg) != 4)
		die(2, "BAR0 read", errno);
	return val;
}

static uint64_t dev_seq(int fd)
{
	return bar_read(fd, VFSIM_REG_SEQ_LO) |
	       (uint64_t)bar_read(fd, VFSIM_REG_SEQ_HI) << 32;
}

/* Point the DMA engine at the whole window and start it */
static void traffic(int fd, size_t pages, uint32_t rate, uint32_t pattern)
{
	bar_write(fd, VFSIM_REG_QBASE_LO, (uint32_t)IOVA);
	bar_write(fd, VFSIM_REG_QBASE_HI, IOVA >> 32);
	bar_write(fd, VFSIM_REG_QSIZE, pages);
	bar_write(fd, VFSIM_REG_PATTERN, pattern);
	bar_write(fd, VFSIM_REG_HOT, pages / 8 ? pages / 8 : 1);
	bar_write(fd, VFSIM_REG_RATE, rate);
	bar_write(fd, VFSIM_REG_CTRL, rate ? VFSIM_CTRL_DMA : 0);
}

static void log_start(int fd, size_t pages)
{
	struct {
		struct vfio_device_feature_dma_logging_control ctl;
		struct vfio_device_feature_dma_logging_range range;
	} arg = {
		.ctl = { .page_size = PG, .num_ranges = 1 },
		.range = { .iova = IOVA, .length = pages * PG },
	};
	int rc;

	arg.ctl.ranges = (uintptr_t)&arg.range;
	rc = feature(fd, VFIO_DEVICE_FEATURE_SET |
		     VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &arg.ctl,
		     sizeof(arg.ctl));
	if (rc)
		die(2, "DMA_LOGGING_START", -rc);
}

/* The dirty pages of the window since the last report, into @map */
static void log_report(int fd, size_t pages, uint64_t *map)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = IOVA, .length = pages * PG, .page_size = PG,
		.bitmap = (uintptr_t)map,
	};
	int rc;

	memset(map, 0, (pages + 63) / 64 * 8);
	rc = feature(fd, VFIO_DEVICE_FEATURE_GET |
		     VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, &rep, sizeof(rep));
	if (rc)
		die(2, "DMA_LOGGING_REPORT", -rc);
}

static bool bit(const uint64_t *map, size_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

/* Copy the pages set in @map from @a to @b; how many */
static size_t copy_dirty(struct side *a, struct side *b, const uint64_t *map)
{
	size_t i, n = 0;

	for (i = 0; i < a->pages; i++)
		if (bit(map, i)) {
			memcpy(b->mem + i * PG, a->mem + i * PG, PG);
			n++;
		}
	return n;
}

/*
 * A record in @mem's page @i, @mem being at IOVA @iova: its number, 0 if
 * none, -1 if corrupt
 */
static long long record_at(const unsigned char *mem, uint64_t iova, size_t i)
{
	struct vfsim_record rec;
	uint32_t crc;

	memcpy(&rec, mem + i * PG, sizeof(rec));
	if (rec.magic != VFSIM_RECORD_MAGIC)
		return 0;
	crc = rec.crc;
	rec.crc = 0;
	if (crc32(&rec, sizeof(rec)) != crc || rec.iova != iova + i * PG)
		return -1;
	return rec.seq;
}

/*
 * Check the records in @s's memory: none corrupt, none repeated, and (for
 * the sequential pattern) exactly the last ones before @next, without a
 * gap.  Return: records found, or -1 with the problem printed.
 */
static long long check_records(struct side *s, uint64_t next, bool seq)
{
	long long n = 0, lo = -1, hi = -1, r;
	size_t i;

	for (i = 0; i < s->pages; i++) {
		r = record_at(s->mem, s->iova, i);
		if (r < 0) {
			printf("records: corrupt record in page %zu\n", i);
			return -1;
		}
		if (!r)
			continue;
		n++;
		lo = lo < 0 || r < lo ? r : lo;
		hi = r > hi ? r : hi;
	}
	printf("records: %lld, numbers %lld..%lld, device next %llu\n", n, lo,
	       hi, (unsigned long long)next);
	if (!n)
		return 0;
	if ((uint64_t)hi >= next) {
		printf("records: a record from the future\n");
		return -1;
	}
	if (seq && (hi - lo + 1 != n || (uint64_t)hi != next - 1)) {
		printf("records: gap: %lld records span %lld numbers, the last is %lld of %llu\n",
		       n, hi - lo + 1, hi, (unsigned long long)next - 1);
		return -1;
	}
	return n;
}

/*
 * Move up to @max bytes (or to the end of the stream) from @from to @to,
 * stopping early at ENOMSG; bytes moved, or -errno when the destination
 * refused them.
 */
static long long pump(int from, int to, long long max, long long *sent,
		      long long corrupt, long long cut)
{
	static unsigned char buf[1 << 20];
	long long moved = 0;
	ssize_t n, off;

	while (moved < max) {
		n = read(from, buf, sizeof(buf) < (size_t)(max - moved) ?
			 sizeof(buf) : (size_t)(max - moved));
		if (n < 0 && errno == ENOMSG)
			return moved;
		if (n < 0)
			die(2, "read of the saving fd", errno);
		if (!n)
			return moved;
		if (corrupt >= *sent && corrupt < *sent + n)
			buf[corrupt - *sent] ^= 0x10;
		off = 0;
		if (cut >= 0 && *sent + n > cut)
			n = cut > *sent ? cut - *sent : 0;
		while (off < n) {
			ssize_t w = write(to, buf + off, n - off);

			if (w < 0) {
				printf("stream: the destination refused it at byte %lld: %s\n",
				       *sent + off, strerror(errno));
				return -errno;
			}
			off += w;
		}
		*sent += n;
		moved += n;
	}
	return moved;
}

/* What PRECOPY_INFO says is ready: initial plus dirty bytes */
static long long precopy_ready(int fd)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };

	if (ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info))
		die(2, "VFIO_MIG_GET_PRECOPY_INFO", errno);
	return info.initial_bytes + info.dirty_bytes;
}

/* The device's whole state, as a STOP_COPY stream; malloc'ed, @len set */
static unsigned char *device_image(int fd, size_t *len)
{
	unsigned char *buf = NULL;
	int dfd;
	ssize_t n;

	*len = 0;
	must_state(fd, VFIO_DEVICE_STATE_STOP, NULL);
	must_state(fd, VFIO_DEVICE_STATE_STOP_COPY, &dfd);
	for (;;) {
		buf = realloc(buf, *len + (1 << 20));
		if (!buf)
			die(2, "realloc", ENOMEM);
		n = read(dfd, buf + *len, 1 << 20);
		if (n < 0)
			die(2, "read of the saving fd", errno);
		if (!n)
			break;
		*len += n;
	}
	close(dfd);
	must_state(fd, VFIO_DEVICE_STATE_STOP, NULL);
	return buf;
}

static int cmd_arcs(const char *cdev)
{
	static const uint32_t states[] = {
		VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING,
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RUNNING_P2P,
		VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_PRE_COPY_P2P,
	};
	struct side s;
	int i, j, ok = 0, refused = 0, rc;

	side_open(&s, cdev, 16);
	for (i = 0; i < 6; i++) {
		for (j = 0; j < 6; j++) {
			if (ioctl(s.fd, VFIO_DEVICE_RESET))
				die(2, "VFIO_DEVICE_RESET", errno);
			must_state(s.fd, states[i], NULL);
			rc = set_state(s.fd, states[j], NULL);
			if (rc || get_state(s.fd) != (int)states[j]) {
				if (states[i] == VFIO_DEVICE_STATE_STOP_COPY &&
				    (states[j] == VFIO_DEVICE_STATE_PRE_COPY ||
				     states[j] == VFIO_DEVICE_STATE_PRE_COPY_P2P)) {
					refused++;
					continue;
				}
				printf("arc %u -> %u failed: %s\n", states[i],
				       states[j], strerror(-rc));
				return 1;
			}
			ok++;
		}
	}
	ioctl(s.fd, VFIO_DEVICE_RESET);
	printf("arcs: %d done, %d refused as the uAPI demands\n", ok, refused);
	return 0;
}

static int cmd_dirty(const char *cdev, size_t pages, uint32_t rate,
		     unsigned int ms)
{
	uint64_t *map = calloc((pages + 63) / 64, 8), first, next;
	size_t i, logged = 0, written = 0, extra = 0, missed = 0;
	struct side s;

	side_open(&s, cdev, pages);
	log_start(s.fd, pages);
	first = dev_seq(s.fd);
	traffic(s.fd, pages, rate, VFSIM_PATTERN_RANDOM);
	sleep_ms(ms);
	/* Stopped, the device writes no more: the log is complete */
	must_state(s.fd, VFIO_DEVICE_STATE_STOP, NULL);
	next = dev_seq(s.fd);
	log_report(s.fd, pages, map);
	for (i = 0; i < pages; i++) {
		long long r = record_at(s.mem, s.iova, i);
		bool w = r > 0 && (uint64_t)r >= first;

		logged += bit(map, i);
		written += w;
		extra += bit(map, i) && !w;
		missed += w && !bit(map, i);
	}
	printf("dirty: %llu records, %zu pages written, %zu logged, %zu missed, %zu extra\n",
	       (unsigned long long)(next - first), written, logged, missed,
	       extra);
	ioctl(s.fd, VFIO_DEVICE_RESET);
	return next > first && !missed && !extra ? 0 : 1;
}

struct mig_opts {
	size_t pages;
	uint32_t rate;
	uint32_t pattern;
	unsigned int rounds;
	unsigned int ms;
	long long corrupt;
	long long cut;
	bool no_log;
	bool resume;
};

static int cmd_migrate(const char *src_cdev, const char *dst_cdev,
		       struct mig_opts *o)
{
	uint64_t *map = calloc((o->pages + 63) / 64, 8), next;
	long long sent = 0, pre = 0, stop, n, size_run, size_pre = -1, ready;
	size_t dirty_pages = 0, diff = 0, i, ilen, jlen;
	unsigned char *img_a, *img_b;
	struct side a, b;
	int sfd = -1, dfd, rc, status = 0;
	unsigned int r;

	side_open(&a, src_cdev, o->pages);
	side_open(&b, dst_cdev, o->pages);
	traffic(a.fd, o->pages, o->rate, o->pattern);
	sleep_ms(o->ms);

	size_run = data_size(a.fd);
	must_state(b.fd, VFIO_DEVICE_STATE_RESUMING, &dfd);
	if (!o->no_log)
		log_start(a.fd, o->pages);
	/* The bulk pass: all of guest memory, the device running */
	memcpy(b.mem, a.mem, o->pages * PG);
	if (o->rounds)
		must_state(a.fd, VFIO_DEVICE_STATE_PRE_COPY, &sfd);
	for (r = 0; r < o->rounds; r++) {
		sleep_ms(o->ms);
		if (!o->no_log) {
			log_report(a.fd, o->pages, map);
			dirty_pages += copy_dirty(&a, &b, map);
		}
		/*
		 * As QEMU 10: the info, then a read whatever it said (what
		 * it says is ready, or one read of 1 MiB), once per round
		 */
		ready = precopy_ready(sfd);
		n = pump(sfd, dfd, ready ? ready : 1 << 20, &sent, o->corrupt,
			 o->cut);
		if (n < 0)
			goto refused;
		pre += n;
	}

	/* What the device says STOP_COPY will take, now and before PRE_COPY */
	if (sfd >= 0)
		size_pre = data_size(a.fd);
	printf("data-size: running %lld, end of pre-copy %lld\n", size_run,
	       size_pre);

	/* Downtime: stop, the last dirty pages, the rest of the device */
	if (sfd < 0)
		must_state(a.fd, VFIO_DEVICE_STATE_STOP_COPY, &sfd);
	else
		must_state(a.fd, VFIO_DEVICE_STATE_STOP_COPY, NULL);
	if (!o->no_log) {
		log_report(a.fd, o->pages, map);
		dirty_pages += copy_dirty(&a, &b, map);
	}
	stop = pump(sfd, dfd, LLONG_MAX, &sent, o->corrupt, o->cut);
	if (stop < 0)
		goto refused;
	close(sfd);
	must_state(a.fd, VFIO_DEVICE_STATE_STOP, NULL);
	rc = set_state(b.fd, VFIO_DEVICE_STATE_STOP, NULL);
	if (rc) {
		printf("stream: the destination refused it leaving RESUMING: %s\n",
		       strerror(-rc));
		goto refused;
	}
	close(dfd);
	printf("bytes: precopy %lld, stop-copy %lld\n", pre, stop);
	printf("pages: %zu copied after the bulk pass\n", dirty_pages);

	for (i = 0; i < o->pages; i++)
		diff += !!memcmp(a.mem + i * PG, b.mem + i * PG, PG);
	printf("memory: %zu pages differ\n", diff);
	next = dev_seq(a.fd);
	if (diff || check_records(&b, next,
				  o->pattern == VFSIM_PATTERN_SEQ) < 0)
		status = 1;

	img_a = device_image(a.fd, &ilen);
	img_b = device_image(b.fd, &jlen);
	printf("device: state %s (%zu bytes)\n",
	       ilen == jlen && !memcmp(img_a, img_b, ilen) ? "identical" :
							     "differs", ilen);
	if (ilen != jlen || memcmp(img_a, img_b, ilen))
		status = 1;
	free(img_a);
	free(img_b);

	if (o->resume) {
		/* The destination goes on where the source stopped */
		must_state(b.fd, VFIO_DEVICE_STATE_RUNNING, NULL);
		sleep_ms(o->ms);
		must_state(b.fd, VFIO_DEVICE_STATE_STOP, NULL);
		printf("resumed: next record %llu, was %llu\n",
		       (unsigned long long)dev_seq(b.fd),
		       (unsigned long long)next);
		if (dev_seq(b.fd) <= next ||
		    check_records(&b, dev_seq(b.fd),
				  o->pattern == VFSIM_PATTERN_SEQ) < 0)
			status = 1;
	}
	return status;

refused:
	/* The source is untouched: it runs on */
	if (sfd >= 0)
		close(sfd);
	close(dfd);
	must_state(a.fd, VFIO_DEVICE_STATE_RUNNING, NULL);
	next = dev_seq(a.fd);
	sleep_ms(o->ms);
	printf("source: running, records %llu -> %llu\n",
	       (unsigned long long)next, (unsigned long long)dev_seq(a.fd));
	printf("destination: state %d\n", get_state(b.fd));
	return 2;
}

/* Check the records of a memory dump: see the top of the file */
static int cmd_records(const char *path, uint64_t base, size_t pages,
		       uint64_t next)
{
	struct side s = { .pages = pages, .iova = base };
	struct stat st;
	void *map;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(2, path, errno);
	if (fstat(fd, &st))
		die(2, path, errno);
	if ((uint64_t)st.st_size < base + pages * PG) {
		printf("records: %s holds %lld bytes, not up to 0x%llx\n", path,
		       (long long)st.st_size,
		       (unsigned long long)(base + pages * PG));
		return 1;
	}
	map = mmap(NULL, base + pages * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		die(2, "mmap", errno);
	s.mem = (unsigned char *)map + base;
	return check_records(&s, next, true) > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct mig_opts o = {
		.pages = 1024, .rate = 2000, .rounds = 3, .ms = 200,
		.corrupt = -1, .cut = -1,
	};
	uint64_t base, next;
	const char *cmd;
	int opt, nargs;

	if (argc < 3)
		bad_usage();
	cmd = argv[1];
	nargs = !strcmp(cmd, "migrate") ? 2 : 1;
	base = 0;
	next = 0;
	/* Options may follow the devices: GNU getopt moves them first */
	optind = 2;
	while ((opt = getopt(argc, argv, "w:r:p:n:t:c:k:b:x:LR")) != -1) {
		switch (opt) {
		case 'b':
			base = strtoull(optarg, NULL, 0);
			break;
		case 'x':
			next = strtoull(optarg, NULL, 0);
			break;
		case 'w':
			o.pages = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			o.rate = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			o.pattern = !strcmp(optarg, "random") ?
				VFSIM_PATTERN_RANDOM : !strcmp(optarg, "hot") ?
				VFSIM_PATTERN_HOT : VFSIM_PATTERN_SEQ;
			break;
		case 'n':
			o.rounds = strtoul(optarg, NULL, 0);
			break;
		case 't':
			o.ms = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			o.corrupt = strtoll(optarg, NULL, 0);
			break;
		case 'k':
			o.cut = strtoll(optarg, NULL, 0);
			break;
		case 'L':
			o.no_log = true;
			break;
		case 'R':
			o.resume = true;
			break;
		default:
			bad_usage();
		}
	}
	if (!o.pages || argc - optind != nargs)
		bad_usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "arcs"))
		return cmd_arcs(argv[optind]);
	if (!strcmp(cmd, "dirty"))
		return cmd_dirty(argv[optind], o.pages, o.rate, o.ms);
	if (!strcmp(cmd, "migrate"))
		return cmd_migrate(argv[optind], argv[optind + 1], &o);
	if (!strcmp(cmd, "records") && next)
		return cmd_records(argv[optind], base, o.pages, next);
	bad_usage();
	return 64;
}
