// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd_dirty_bench - what software dirty tracking costs, measured through
 * the iommufd selftest mock in the test VM.  Not a test: it prints ratios
 * from one run.
 *
 *   iommufd_dirty_bench [MIB]        (default 512; IOVA mapped and tracked)
 *
 * Prints, per GiB of tracked IOVA:
 *   - the time of one IOMMU_HWPT_GET_DIRTY_BITMAP (4 KiB page size) with the
 *     software log and with the mock's IOMMU dirty bits, sparse (one dirty
 *     page per 2 MiB) and dense (every page dirty), and their ratio;
 *   - the log's memory after every page was written, as the log counts it
 *     (IOMMU_TEST_OP_DIRTY_LOG_BYTES: the kmalloc sizes of the log, its
 *     chunks and pins);
 * and the time of an emulated 64-byte write (IOMMU_TEST_OP_ACCESS_RW, the
 * iommufd_access_rw() path) with tracking on against tracking off: ROUNDS
 * pairs of back-to-back rounds, off then on; the ratio printed is the median
 * of the pairs' ratios (TCG's speed drifts by more than the difference
 * measured, so only close pairs compare), the times the medians of each.
 *
 * Under TCG absolute times mean little; the ratios are the result.
 *
 *   iommufd_dirty_bench --trace [MIB]
 *
 * What lowdown's iommufd_dirty tracepoints cost: ROUNDS pairs of rounds,
 * events off then on (through tracefs), of a software-log read (sparse and
 * dense, best of READS each) and of emulated writes with tracking on;
 * prints the medians of each and the median of the pairs' on / off ratios.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../iommu/iommufd_utils.h"
#include "iommufd_dirty_ops.h"

#define SZ_2M (2UL << 20)
#define MOCK_IO_PAGE (PAGE_SIZE / 2)
/*
 * Where the tracked range is mapped: 128 MiB, inside the mock's aperture
 * and on a boundary of the log's 128 MiB chunks, as guest RAM at 0 or at
 * 4 GiB is
 */
#define BENCH_IOVA 0x8000000UL
#define WRITES 1000
#define READS 5
/* Paired rounds of writes, tracking off then on; odd, for the median */
#define ROUNDS 41

static int fd;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* An IOAS with @buf mapped at the mock aperture and a dirty-tracking HWPT */
struct tracked {
	__u32 ioas_id, stdev_id, idev_id, hwpt_id;
};

static void setup(struct tracked *t, void *buf, size_t size, bool software)
{
	__u64 iova = BENCH_IOVA;

	if (_test_ioctl_ioas_alloc(fd, &t->ioas_id) ||
	    _test_cmd_mock_domain_flags(fd, t->ioas_id,
					software ? MOCK_FLAGS_DEVICE_NO_DIRTY : 0,
					&t->stdev_id, NULL, &t->idev_id))
		die("mock device");
	if (software && dirty_declare(fd, t->idev_id, true))
		die("IOMMU_TEST_OP_DIRTY_DECLARE");
	if (_test_cmd_hwpt_alloc(fd, t->idev_id, t->ioas_id, 0,
				 IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &t->hwpt_id,
				 IOMMU_HWPT_DATA_NONE, NULL, 0) ||
	    _test_cmd_mock_domain_replace(fd, t->stdev_id, t->hwpt_id, NULL))
		die("dirty tracking HWPT");
	if (_test_ioctl_ioas_map(fd, t->ioas_id, buf, size, &iova,
				 IOMMU_IOAS_MAP_FIXED_IOVA |
				 IOMMU_IOAS_MAP_WRITEABLE |
				 IOMMU_IOAS_MAP_READABLE))
		die("IOMMU_IOAS_MAP");
	if (set_tracking(fd, t->hwpt_id, true))
		die("IOMMU_HWPT_SET_DIRTY_TRACKING");
}

/* Dirty one 4 KiB page every @stride bytes, as the device would */
static void make_dirty(struct tracked *t, size_t size, size_t stride,
		       bool software, __u64 *mock_bits)
{
	size_t off;

	if (software) {
		if (stride == PAGE_SIZE) {
			if (dirty_report(fd, t->idev_id, BENCH_IOVA,
					 size))
				die("IOMMU_TEST_OP_DIRTY_REPORT");
			return;
		}
		for (off = 0; off < size; off += stride)
			if (dirty_report(fd, t->idev_id,
					 BENCH_IOVA + off, PAGE_SIZE))
				die("IOMMU_TEST_OP_DIRTY_REPORT");
		return;
	}
	memset(mock_bits, 0, size / MOCK_IO_PAGE / 8);
	for (off = 0; off < size; off += stride)
		set_bit(off / MOCK_IO_PAGE, (unsigned long *)mock_bits);
	if (_test_cmd_mock_domain_set_dirty(fd, t->hwpt_id, size,
					    BENCH_IOVA, MOCK_IO_PAGE,
					    mock_bits, NULL))
		die("IOMMU_TEST_OP_DIRTY");
}

/* Best of READS read-and-clears of the whole range, in ns */
static double time_read(struct tracked *t, size_t size, size_t stride,
			bool software, __u64 *bitmap, __u64 *mock_bits)
{
	double best = 0;
	int i;

	for (i = 0; i < READS; i++) {
		double start;

		make_dirty(t, size, stride, software, mock_bits);
		memset(bitmap, 0, size / PAGE_SIZE / 8);
		start = now_ns();
		if (_test_cmd_get_dirty_bitmap(fd, t->hwpt_id, size,
					       BENCH_IOVA, PAGE_SIZE,
					       bitmap, 0))
			die("IOMMU_HWPT_GET_DIRTY_BITMAP");
		if (!i || now_ns() - start < best)
			best = now_ns() - start;
		/* The bitmap must show what was dirtied */
		if (!test_bit((size - stride) / PAGE_SIZE,
			      (unsigned long *)bitmap)) {
			fprintf(stderr, "dirty page missing from the bitmap\n");
			exit(1);
		}
	}
	return best;
}

/* Mean ns of a 64-byte emulated write to pseudo-random pages */
static double time_writes(__u32 access_id, size_t size)
{
	unsigned char data[64] = { 0x5a };
	double start;
	int i;

	start = now_ns();
	for (i = 0; i < WRITES; i++) {
		__u64 page = (i * 2654435761UL) % (size / PAGE_SIZE);

		if (access_rw(fd, access_id,
			      BENCH_IOVA + page * PAGE_SIZE, data,
			      sizeof(data), MOCK_ACCESS_RW_WRITE))
			die("IOMMU_TEST_OP_ACCESS_RW");
	}
	return (now_ns() - start) / WRITES;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of @n values (sorts them) */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Every iommufd_dirty event on or off, through tracefs */
static void trace_events(bool on)
{
	static const char * const files[] = {
		"/sys/kernel/tracing/events/iommufd_dirty/enable",
		"/sys/kernel/tracing/tracing_on",
	};
	unsigned int i;

	for (i = 0; i < 2; i++) {
		int tfd = open(files[i], O_WRONLY);

		if (tfd < 0 || write(tfd, on ? "1" : "0", 1) != 1)
			die(files[i]);
		close(tfd);
	}
}

/* Paired rounds, events off then on, of reads and writes on @sw */
static void trace_bench(struct tracked *sw, size_t size, __u64 *bitmap,
			__u64 *mock_bits)
{
	static const char * const what[] = {
		"GET_DIRTY_BITMAP sparse (us/GiB)",
		"GET_DIRTY_BITMAP dense (us/GiB)",
		"emulated 64-byte write (ns)",
	};
	double per_gib = (double)(1UL << 30) / size;
	double offs[ROUNDS], ons[ROUNDS], ratios[ROUNDS];
	__u32 access_id;
	int k, i;

	if (_test_cmd_create_access(fd, sw->ioas_id, &access_id, 0))
		die("IOMMU_TEST_OP_CREATE_ACCESS");
	printf("# iommufd_dirty_bench --trace: %zu MiB, %d pairs of rounds, events off then on\n",
	       size >> 20, ROUNDS);
	printf("%-34s %14s %14s %10s\n", "", "off", "on", "on / off");
	for (k = 0; k < 3; k++) {
		for (i = 0; i < ROUNDS; i++) {
			int e;

			for (e = 0; e < 2; e++) {
				double t;

				trace_events(e);
				if (k == 2)
					t = time_writes(access_id, size);
				else
					t = time_read(sw, size,
						      k ? PAGE_SIZE : SZ_2M,
						      true, bitmap, mock_bits) *
					    per_gib / 1e3;
				if (e)
					ons[i] = t;
				else
					offs[i] = t;
			}
			ratios[i] = ons[i] / offs[i];
		}
		trace_events(false);
		printf("%-34s %14.0f %14.0f %10.3f\n", what[k],
		       median(offs, ROUNDS), median(ons, ROUNDS),
		       median(ratios, ROUNDS));
	}
	printf("(median of each column; the ratio is the median of the pairs' ratios)\n");
}

int main(int argc, char **argv)
{
	bool trace = argc > 1 && !strcmp(argv[1], "--trace");
	size_t size = (argc > 1 + trace ?
		       strtoul(argv[1 + trace], NULL, 0) : 512) << 20;
	double per_gib = (double)(1UL << 30) / size;
	double sw_sparse, sw_dense, hw_sparse, hw_dense, off, on, ratio;
	double offs[ROUNDS], ons[ROUNDS], ratios[ROUNDS];
	struct tracked sw, hw;
	long long log_bytes;
	__u64 *bitmap, *mock_bits;
	__u32 access_id;
	void *buf;
	int i;

	PAGE_SIZE = sysconf(_SC_PAGE_SIZE);
	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		die("/dev/iommu");
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
		   -1, 0);
	if (buf == MAP_FAILED)
		buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	bitmap = calloc(1, size / PAGE_SIZE / 8 + 8);
	mock_bits = calloc(1, size / MOCK_IO_PAGE / 8 + 8);
	if (buf == MAP_FAILED || !bitmap || !mock_bits)
		die("memory");

	if (trace) {
		setup(&sw, buf, size, true);
		trace_bench(&sw, size, bitmap, mock_bits);
		return 0;
	}

	setup(&hw, buf, size, false);
	hw_sparse = time_read(&hw, size, SZ_2M, false, bitmap, mock_bits);
	hw_dense = time_read(&hw, size, PAGE_SIZE, false, bitmap, mock_bits);

	setup(&sw, buf, size, true);
	sw_sparse = time_read(&sw, size, SZ_2M, true, bitmap, mock_bits);
	sw_dense = time_read(&sw, size, PAGE_SIZE, true, bitmap, mock_bits);
	log_bytes = dirty_log_bytes(fd, sw.ioas_id);
	if (log_bytes < 0)
		die("IOMMU_TEST_OP_DIRTY_LOG_BYTES");

	if (_test_cmd_create_access(fd, sw.ioas_id, &access_id, 0))
		die("IOMMU_TEST_OP_CREATE_ACCESS");
	/* Alternate, so drift in the machine's speed hits both alike */
	time_writes(access_id, size);
	for (i = 0; i < ROUNDS; i++) {
		if (set_tracking(fd, sw.hwpt_id, false))
			die("IOMMU_HWPT_SET_DIRTY_TRACKING");
		offs[i] = time_writes(access_id, size);
		if (set_tracking(fd, sw.hwpt_id, true))
			die("IOMMU_HWPT_SET_DIRTY_TRACKING");
		ons[i] = time_writes(access_id, size);
		ratios[i] = ons[i] / offs[i];
	}
	off = median(offs, ROUNDS);
	on = median(ons, ROUNDS);
	ratio = median(ratios, ROUNDS);

	printf("# iommufd_dirty_bench: %zu MiB tracked, %ld-byte pages, best of %d reads\n",
	       size >> 20, PAGE_SIZE, READS);
	printf("%-34s %14s %14s %10s\n", "GET_DIRTY_BITMAP per GiB",
	       "software (us)", "mock IOMMU (us)", "sw / hw");
	printf("%-34s %14.0f %14.0f %10.3f\n", "sparse (1 page per 2 MiB)",
	       sw_sparse * per_gib / 1e3, hw_sparse * per_gib / 1e3,
	       sw_sparse / hw_sparse);
	printf("%-34s %14.0f %14.0f %10.3f\n", "dense (every page)",
	       sw_dense * per_gib / 1e3, hw_dense * per_gib / 1e3,
	       sw_dense / hw_dense);
	printf("%-34s %14.0f %14.0f %10.3f\n", "emulated 64-byte write (ns)",
	       on, off, ratio);
	printf("(the last row: tracking on, tracking off, median of %d paired on / off ratios)\n",
	       ROUNDS);
	printf("log memory per GiB written: %.1f KiB (%lld bytes for %zu MiB)\n",
	       log_bytes / 1024.0 * per_gib, log_bytes, size >> 20);
	return 0;
}
