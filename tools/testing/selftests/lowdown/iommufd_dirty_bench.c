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
 *     (IOMMU_TEST_OP_DIRTY_LOG_BYTES: the kmalloc sizes of the log, every
 *     tracker's view and its chunks, and pins);
 * then what trackers cost on the write paths, against none:
 *   - an emulated 64-byte write (IOMMU_TEST_OP_ACCESS_RW, the
 *     iommufd_access_rw() path) with no tracker, with one (the software
 *     HWPT on) and with two (also a second software HWPT of the same IOAS:
 *     a second mock device, declared to report all its DMA, on a
 *     dirty-tracking HWPT of its own), as a write sets its bits in every
 *     tracker's view;
 *   - a write pin of one page and its unpin (IOMMU_TEST_OP_ACCESS_PAGES with
 *     MOCK_FLAGS_ACCESS_WRITE, IOMMU_TEST_OP_DESTROY_ACCESS_PAGES) with no
 *     tracker and with one: pins are recorded only while the IOAS has
 *     trackers, so with none a pin must cost what upstream's does;
 * in ROUNDS rounds of one back-to-back run per state, off, one, two (every
 * other round in the reverse order, so that a steady drift weighs on both
 * sides of a ratio alike; each run after the same pause).  A run's time is
 * the median of its WRITES writes (PINS pin pairs), each timed on its own,
 * so that the milliseconds the host takes the vCPU away stay out; a ratio
 * printed is the median of the rounds' own ratios (TCG's speed drifts by
 * more than the differences measured, so only close runs compare), with its
 * quartiles, a time the median of its column;
 * and last, the log's memory right after tracking starts (the chunks of
 * every writable mapped area are allocated then) with no tracker, one and
 * two, per GiB, and what the second tracker adds.
 *
 * Under TCG absolute times mean little; the ratios are the result.
 *
 *   iommufd_dirty_bench --trace [MIB]
 *
 * What lowdown's iommufd_dirty tracepoints cost: ROUNDS pairs of rounds,
 * events off then on (through tracefs), of a software-log read (sparse and
 * dense, best of READS each) and of emulated writes with tracking on (the
 * median write of each run, as above);
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
#define PINS 200
#define READS 5
/* Rounds of writes and pins, one run per tracking state; odd, for the median */
#define ROUNDS 41
/* Trackers of the write rounds: none, the software HWPT, and a second one */
#define STATES 3
/* Pause before each timed run of the rounds, in us (see settle()) */
#define SETTLE_US 50000

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

/*
 * A mock device on t->ioas_id, attached to a dirty-tracking HWPT of its own
 * with tracking off: a software HWPT (the device reports all its DMA, as an
 * exact software HWPT requires) or one on the mock IOMMU's dirty bits
 */
static void add_hwpt(struct tracked *t, bool software)
{
	if (_test_cmd_mock_domain_flags(fd, t->ioas_id,
					software ? MOCK_FLAGS_DEVICE_NO_DIRTY : 0,
					&t->stdev_id, NULL, &t->idev_id))
		die("mock device");
	if (software && dirty_declare(fd, t->idev_id, 1))
		die("IOMMU_TEST_OP_DIRTY_DECLARE");
	if (_test_cmd_hwpt_alloc(fd, t->idev_id, t->ioas_id, 0,
				 IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &t->hwpt_id,
				 IOMMU_HWPT_DATA_NONE, NULL, 0) ||
	    _test_cmd_mock_domain_replace(fd, t->stdev_id, t->hwpt_id, NULL))
		die("dirty tracking HWPT");
}

static void setup(struct tracked *t, void *buf, size_t size, bool software)
{
	__u64 iova = BENCH_IOVA;

	if (_test_ioctl_ioas_alloc(fd, &t->ioas_id))
		die("IOMMU_IOAS_ALLOC");
	add_hwpt(t, software);
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

static double median(double *v, int n);

/*
 * Median ns of a 64-byte emulated write to pseudo-random pages.  Each write
 * is timed on its own: the host takes the vCPU away for milliseconds at a
 * time, which lands whole in the few writes it hits and would weigh on the
 * mean of a run by more than the cost measured; the median leaves them out.
 */
static double time_writes(__u32 access_id, size_t size)
{
	static double ns[WRITES];
	unsigned char data[64] = { 0x5a };
	int i;

	for (i = 0; i < WRITES; i++) {
		__u64 page = (i * 2654435761UL) % (size / PAGE_SIZE);
		double start = now_ns();

		if (access_rw(fd, access_id,
			      BENCH_IOVA + page * PAGE_SIZE, data,
			      sizeof(data), MOCK_ACCESS_RW_WRITE))
			die("IOMMU_TEST_OP_ACCESS_RW");
		ns[i] = now_ns() - start;
	}
	return median(ns, WRITES);
}

/*
 * Median ns of a write pin of one pseudo-random page and its unpin, as an
 * emulated device pins a page it will DMA to (each pair timed on its own, as
 * in time_writes()); @buf is mapped at BENCH_IOVA
 */
static double time_pins(__u32 access_id, void *buf, size_t size)
{
	static double ns[PINS];
	__u32 pages_id;
	int i;

	for (i = 0; i < PINS; i++) {
		__u64 page = (i * 2654435761UL) % (size / PAGE_SIZE);
		double start = now_ns();
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_ACCESS_PAGES,
			.id = access_id,
			.access_pages = {
				.iova = BENCH_IOVA + page * PAGE_SIZE,
				.length = PAGE_SIZE,
				.uptr = (uintptr_t)buf + page * PAGE_SIZE,
				.flags = MOCK_FLAGS_ACCESS_WRITE,
			},
		};

		if (ioctl(fd, IOMMU_TEST_CMD, &cmd))
			die("IOMMU_TEST_OP_ACCESS_PAGES");
		pages_id = cmd.access_pages.out_access_pages_id;
		if (_test_cmd_destroy_access_pages(fd, access_id, pages_id))
			die("IOMMU_TEST_OP_DESTROY_ACCESS_PAGES");
		ns[i] = now_ns() - start;
	}
	return median(ns, PINS);
}

/*
 * Tracking on in the first @n of @hwpts, off in the others; @on says which
 * are on now.  Only what changes is switched: an enable starts a view anew.
 */
static void set_trackers(const struct tracked *hwpts, bool *on, int count,
			 int n)
{
	int j;

	for (j = 0; j < count; j++) {
		bool want = j < n;

		if (on[j] == want)
			continue;
		if (set_tracking(fd, hwpts[j].hwpt_id, want))
			die("IOMMU_HWPT_SET_DIRTY_TRACKING");
		on[j] = want;
	}
}

/*
 * A stop leaves work behind (the view is freed after an RCU grace period,
 * from a workqueue).  Timed at once, the runs right after a stop came out
 * 15 to 30 % slower under TCG, so that two trackers, never entered by a
 * stop, looked cheaper than none.  So every timed run of the rounds, after
 * a switch or not, starts after the same pause.
 */
static void settle(void)
{
	usleep(SETTLE_US);
}

/*
 * With both HWPTs tracking, a write must be in the view of each, and a read
 * of one must leave it in the other's: else the two-tracker column would
 * not measure two trackers
 */
static void check_views(const struct tracked *hwpts, __u32 access_id,
			size_t size, __u64 *bitmap)
{
	__u64 page = size / PAGE_SIZE / 3;
	unsigned char data[64] = { 0xa5 };
	int j;

	if (access_rw(fd, access_id, BENCH_IOVA + page * PAGE_SIZE, data,
		      sizeof(data), MOCK_ACCESS_RW_WRITE))
		die("IOMMU_TEST_OP_ACCESS_RW");
	for (j = 0; j < 2; j++) {
		memset(bitmap, 0, size / PAGE_SIZE / 8);
		if (_test_cmd_get_dirty_bitmap(fd, hwpts[j].hwpt_id, size,
					       BENCH_IOVA, PAGE_SIZE,
					       bitmap, 0))
			die("IOMMU_HWPT_GET_DIRTY_BITMAP");
		if (!test_bit(page, (unsigned long *)bitmap)) {
			fprintf(stderr, "write missing from tracker %d\n", j + 1);
			exit(1);
		}
	}
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

/* First and third quartiles of @n values sorted by median() */
static void quartiles(const double *v, int n, double *q1, double *q3)
{
	*q1 = v[n / 4];
	*q3 = v[n - 1 - n / 4];
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
	static const char * const state_names[STATES] = {
		"off (ns)", "one (ns)", "two (ns)",
	};
	bool trace = argc > 1 && !strcmp(argv[1], "--trace");
	size_t size = (argc > 1 + trace ?
		       strtoul(argv[1 + trace], NULL, 0) : 512) << 20;
	double per_gib = (double)(1UL << 30) / size;
	double sw_sparse, sw_dense, hw_sparse, hw_dense;
	/* [state][round]; ratios against state 0 of the same round */
	double writes[STATES][ROUNDS], write_ratios[STATES][ROUNDS];
	double pins[2][ROUNDS], pin_ratios[ROUNDS];
	double write_med[STATES], write_ratio[STATES], pin_med[2], pin_ratio;
	double wq1[STATES], wq3[STATES], pq1, pq3;
	long long log_bytes, start_bytes[STATES];
	struct tracked hw, sw[2];
	bool on[2] = { true, false };
	__u64 *bitmap, *mock_bits;
	__u32 access_id, pin_access_id;
	void *buf;
	int i, k;

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
		setup(&sw[0], buf, size, true);
		trace_bench(&sw[0], size, bitmap, mock_bits);
		return 0;
	}

	setup(&hw, buf, size, false);
	hw_sparse = time_read(&hw, size, SZ_2M, false, bitmap, mock_bits);
	hw_dense = time_read(&hw, size, PAGE_SIZE, false, bitmap, mock_bits);

	setup(&sw[0], buf, size, true);
	sw_sparse = time_read(&sw[0], size, SZ_2M, true, bitmap, mock_bits);
	sw_dense = time_read(&sw[0], size, PAGE_SIZE, true, bitmap, mock_bits);
	log_bytes = dirty_log_bytes(fd, sw[0].ioas_id);
	if (log_bytes < 0)
		die("IOMMU_TEST_OP_DIRTY_LOG_BYTES");

	/* The second tracker: another software HWPT of the same IOAS */
	sw[1].ioas_id = sw[0].ioas_id;
	add_hwpt(&sw[1], true);

	if (_test_cmd_create_access(fd, sw[0].ioas_id, &access_id, 0))
		die("IOMMU_TEST_OP_CREATE_ACCESS");
	set_trackers(sw, on, 2, 2);
	check_views(sw, access_id, size, bitmap);

	/*
	 * Off, one, two, then two, one, off: each round's ratios compare runs
	 * next to each other, and a steady drift cancels over two rounds
	 */
	time_writes(access_id, size);
	for (i = 0; i < ROUNDS; i++) {
		for (k = 0; k < STATES; k++) {
			int n = i % 2 ? STATES - 1 - k : k;

			set_trackers(sw, on, 2, n);
			settle();
			writes[n][i] = time_writes(access_id, size);
		}
		for (k = 0; k < STATES; k++)
			write_ratios[k][i] = writes[k][i] / writes[0][i];
	}

	/* Write pins, no tracker against one; the pins need their own access */
	if (_test_cmd_create_access(fd, sw[0].ioas_id, &pin_access_id,
				    MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES))
		die("IOMMU_TEST_OP_CREATE_ACCESS");
	time_pins(pin_access_id, buf, size);
	for (i = 0; i < ROUNDS; i++) {
		for (k = 0; k < 2; k++) {
			int n = i % 2 ? 1 - k : k;

			set_trackers(sw, on, 2, n);
			settle();
			pins[n][i] = time_pins(pin_access_id, buf, size);
		}
		pin_ratios[i] = pins[1][i] / pins[0][i];
	}

	/* Memory right after start, each tracker's chunks allocated then */
	for (k = 0; k < STATES; k++) {
		set_trackers(sw, on, 2, k);
		start_bytes[k] = dirty_log_bytes(fd, sw[0].ioas_id);
		if (start_bytes[k] < 0)
			die("IOMMU_TEST_OP_DIRTY_LOG_BYTES");
	}

	for (k = 0; k < STATES; k++) {
		write_med[k] = median(writes[k], ROUNDS);
		write_ratio[k] = median(write_ratios[k], ROUNDS);
		quartiles(write_ratios[k], ROUNDS, &wq1[k], &wq3[k]);
	}
	pin_med[0] = median(pins[0], ROUNDS);
	pin_med[1] = median(pins[1], ROUNDS);
	pin_ratio = median(pin_ratios, ROUNDS);
	quartiles(pin_ratios, ROUNDS, &pq1, &pq3);

	printf("# iommufd_dirty_bench: %zu MiB tracked, %ld-byte pages, best of %d reads\n",
	       size >> 20, PAGE_SIZE, READS);
	printf("%-34s %14s %14s %10s\n", "GET_DIRTY_BITMAP per GiB",
	       "software (us)", "mock IOMMU (us)", "sw / hw");
	printf("%-34s %14.0f %14.0f %10.4f\n", "sparse (1 page per 2 MiB)",
	       sw_sparse * per_gib / 1e3, hw_sparse * per_gib / 1e3,
	       sw_sparse / hw_sparse);
	printf("%-34s %14.0f %14.0f %10.4f\n", "dense (every page)",
	       sw_dense * per_gib / 1e3, hw_dense * per_gib / 1e3,
	       sw_dense / hw_dense);
	printf("log memory per GiB written: %.1f KiB (%lld bytes for %zu MiB)\n",
	       log_bytes / 1024.0 * per_gib, log_bytes, size >> 20);

	printf("\n# write paths: %d rounds of 0 / 1 / 2 trackers, %d writes or %d pins a run\n",
	       ROUNDS, WRITES, PINS);
	printf("%-34s %10s %10s %10s %10s %10s\n", "", state_names[0],
	       state_names[1], state_names[2], "one / off", "two / off");
	printf("%-34s %10.0f %10.0f %10.0f %10.3f %10.3f\n",
	       "emulated 64-byte write", write_med[0], write_med[1],
	       write_med[2], write_ratio[1], write_ratio[2]);
	printf("%-34s %10.0f %10.0f %10s %10.3f %10s\n",
	       "write pin + unpin (one page)", pin_med[0], pin_med[1], "-",
	       pin_ratio, "-");
	printf("(a run: its median op; a column: median of runs; a ratio: median of rounds')\n");
	printf("(quartiles: write one / off %.3f..%.3f, two / off %.3f..%.3f, pin %.3f..%.3f)\n",
	       wq1[1], wq3[1], wq1[2], wq3[2], pq1, pq3);

	printf("\n%-34s %10s %10s %10s %10s\n",
	       "log memory right after start", "off (KiB)", "one (KiB)",
	       "two (KiB)", "2nd (KiB)");
	printf("%-34s %10.1f %10.1f %10.1f %10.1f\n", "per GiB tracked",
	       start_bytes[0] / 1024.0 * per_gib,
	       start_bytes[1] / 1024.0 * per_gib,
	       start_bytes[2] / 1024.0 * per_gib,
	       (start_bytes[2] - start_bytes[1]) / 1024.0 * per_gib);
	printf("(DIRTY_LOG_BYTES: %lld, %lld, %lld bytes for %zu MiB; 2nd: the second's)\n",
	       start_bytes[0], start_bytes[1], start_bytes[2], size >> 20);
	return 0;
}
