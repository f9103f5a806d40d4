// SPDX-License-Identifier: GPL-2.0
/*
 * vfsim (drivers/vfsim) and the migration engine, through the uAPI, where
 * the shell suite (vfsim.sh, through migctl) cannot reach: threads racing
 * a reset against STOP, a migration taken while doorbell records are still
 * owed, and a data file that outlives its device and the driver module.
 *
 * Two vfsim instances share an IOAS with 4 MiB of this process's memory
 * mapped at IOVA, the window their DMA engines write records into.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_mdev.h"
#include "vfio_mig_uapi.h"
#include "../../../../drivers/vfio/vfsim/vfsim.h"

#define TYPE_DIR "/sys/class/mdev_bus/" VFSIM_PARENT_NAME \
	"/mdev_supported_types/" VFSIM_TYPE_NAME
#define IOVA 0x1000000ULL
#define PAGES 1024
#define BAR0(reg) (reg)

enum { S_STOP = VFIO_DEVICE_STATE_STOP, S_RUN = VFIO_DEVICE_STATE_RUNNING,
	S_COPY = VFIO_DEVICE_STATE_STOP_COPY,
	S_RESUME = VFIO_DEVICE_STATE_RESUMING,
	S_PRE = VFIO_DEVICE_STATE_PRE_COPY };

struct vf {
	char uuid[40];
	char cdev[64];
	int fd;
};

static int reg_read(int fd, unsigned int reg, __u32 *val)
{
	return pread(fd, val, 4, BAR0(reg)) == 4 ? 0 : -errno;
}

static int reg_write(int fd, unsigned int reg, __u32 val)
{
	return pwrite(fd, &val, 4, BAR0(reg)) == 4 ? 0 : -errno;
}

static __u64 seq_of(int fd)
{
	__u32 lo = 0, hi = 0;

	reg_read(fd, VFSIM_REG_SEQ_LO, &lo);
	reg_read(fd, VFSIM_REG_SEQ_HI, &hi);
	return (__u64)hi << 32 | lo;
}

static int vf_new(struct vf *v, int iommufd, __u32 ioas_id)
{
	int rc = mdev_create(TYPE_DIR, "vfsim", v->uuid, v->cdev);

	if (rc)
		return rc;
	v->fd = vfio_dev_open(v->cdev, iommufd, ioas_id);
	return v->fd < 0 ? v->fd : 0;
}

/* The whole stream of @fd's STOP_COPY, into *@buf; its length or -errno */
static ssize_t save(int fd, unsigned char **buf)
{
	size_t len = 0;
	int data_fd, rc;

	rc = set_state(fd, S_COPY, &data_fd);
	if (rc)
		return rc;
	for (;;) {
		ssize_t n;

		*buf = realloc(*buf, len + 65536);
		n = read(data_fd, *buf + len, 65536);
		if (n <= 0) {
			rc = n ? -errno : 0;
			break;
		}
		len += n;
	}
	close(data_fd);
	return rc ? rc : (ssize_t)len;
}

static int load(int fd, const unsigned char *buf, size_t len)
{
	int data_fd, rc;

	rc = set_state(fd, S_RESUME, &data_fd);
	if (rc)
		return rc;
	rc = write(data_fd, buf, len) == (ssize_t)len ? 0 : -errno;
	close(data_fd);
	return rc ? rc : set_state(fd, S_STOP, NULL);
}

FIXTURE(vfsim) {
	int iommufd;
	__u32 ioas_id;
	void *mem;
	struct vf src, dst;
};

FIXTURE_SETUP(vfsim)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.length = PAGES * VFSIM_PAGE,
		.iova = IOVA,
	};
	int rc;

	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_IOAS_ALLOC, &alloc));
	self->ioas_id = alloc.out_ioas_id;
	self->mem = mmap(NULL, PAGES * VFSIM_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	map.ioas_id = self->ioas_id;
	map.user_va = (uintptr_t)self->mem;
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_IOAS_MAP, &map));
	rc = vf_new(&self->src, self->iommufd, self->ioas_id);
	ASSERT_EQ(0, rc) TH_LOG("no vfsim: %s", strerror(-rc));
	ASSERT_EQ(0, vf_new(&self->dst, self->iommufd, self->ioas_id));
}

FIXTURE_TEARDOWN(vfsim)
{
	close(self->src.fd);
	close(self->dst.fd);
	mdev_remove(self->src.uuid);
	mdev_remove(self->dst.uuid);
	close(self->iommufd);
	munmap(self->mem, PAGES * VFSIM_PAGE);
}

/* The window: @pages at IOVA, no rate */
static int window(int fd, unsigned int pages)
{
	return reg_write(fd, VFSIM_REG_QBASE_LO, (__u32)IOVA) ?:
	       reg_write(fd, VFSIM_REG_QBASE_HI, IOVA >> 32) ?:
	       reg_write(fd, VFSIM_REG_QSIZE, pages);
}

/* The highest record number in the window */
static __u64 max_record(struct _test_data_vfsim *self)
{
	__u64 max = 0;
	int i;

	for (i = 0; i < PAGES; i++) {
		const unsigned char *p = (unsigned char *)self->mem +
					 i * VFSIM_PAGE;
		__u64 seq;

		memcpy(&seq, p + 8, sizeof(seq));
		if (seq > max)
			max = seq;
	}
	return max;
}

/*
 * 10,000 doorbell records rung, the device stopped at once and migrated:
 * the records it still owed are written by the destination, none lost,
 * numbered on from where the source stopped.
 */
TEST_F(vfsim, doorbell_backlog_migrates)
{
	unsigned char *buf = NULL;
	__u64 src_seq, dst_seq = 0;
	__u32 status = 0;
	ssize_t len;
	int t;

	ASSERT_EQ(0, window(self->src.fd, PAGES));
	ASSERT_EQ(0, reg_write(self->src.fd, VFSIM_REG_DOORBELL, 10000));
	len = save(self->src.fd, &buf);
	ASSERT_LT(0, len);
	src_seq = seq_of(self->src.fd);
	TH_LOG("the source wrote %llu of the 10000 records before it stopped",
	       src_seq - 1);
	ASSERT_GT(10001, src_seq);
	ASSERT_EQ(0, load(self->dst.fd, buf, len));
	ASSERT_EQ(0, set_state(self->dst.fd, S_RUN, NULL));
	for (t = 0; t < 200; t++) {
		dst_seq = seq_of(self->dst.fd);
		ASSERT_EQ(0, reg_read(self->dst.fd, VFSIM_REG_STATUS,
				      &status));
		if (!(status & VFSIM_STATUS_ACTIVE))
			break;
		usleep(50000);
	}
	ASSERT_EQ(10001, dst_seq)
		TH_LOG("%llu doorbell records lost across the migration",
		       10001 - dst_seq);
	ASSERT_EQ(10000, max_record(self));
	free(buf);
}

struct race {
	int fd;
	int stop;
	unsigned long resets, stops, overridden;
};

static void *resetter(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		ioctl(r->fd, VFIO_DEVICE_RESET);
		r->resets++;
	}
	return NULL;
}

static void *reg_reader(void *arg)
{
	struct race *r = arg;
	__u32 v;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
		reg_read(r->fd, VFSIM_REG_STATUS, &v);
	return NULL;
}

/*
 * VFIO_DEVICE_RESET racing STOP, for 3 s: whenever the device reads
 * STOP, its DMA engine is stopped.  A reset that makes the engine RUNNING
 * and the device run in two steps lets a STOP in between be overridden:
 * the device then writes guest memory while userspace has it stopped.
 * A third thread reading registers widens that window.
 */
TEST_F(vfsim, reset_never_overrides_stop)
{
	struct race r = { .fd = self->src.fd };
	pthread_t th[2];
	time_t end;
	__u32 status;
	char path[128], traffic[64];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/vfsim/traffic",
		 self->src.uuid);
	snprintf(traffic, sizeof(traffic), "1000 0x%llx %u", IOVA, PAGES);
	ASSERT_EQ(0, write_file(path, traffic));
	ASSERT_EQ(0, pthread_create(&th[0], NULL, resetter, &r));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, reg_reader, &r));
	end = time(NULL) + 3;
	while (time(NULL) < end) {
		if (set_state(self->src.fd, S_STOP, NULL))
			continue;
		r.stops++;
		if (reg_read(self->src.fd, VFSIM_REG_STATUS, &status))
			break;
		if ((status & VFSIM_STATUS_ACTIVE) &&
		    get_state(self->src.fd) == S_STOP)
			r.overridden++;
		set_state(self->src.fd, S_RUN, NULL);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	TH_LOG("%lu resets, %lu stops, %lu running while stopped", r.resets,
	       r.stops, r.overridden);
	ASSERT_EQ(0, set_state(self->src.fd, S_STOP, NULL));
	ASSERT_EQ(0, reg_read(self->src.fd, VFSIM_REG_STATUS, &status));
	ASSERT_FALSE(status & VFSIM_STATUS_ACTIVE);
	ASSERT_EQ(0, r.overridden);
	ASSERT_LT(100, r.stops);
}

static int sysfs_write(struct vf *v, const char *file, const char *val)
{
	char path[160];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/vfsim/%s",
		 v->uuid, file);
	return write_file(path, val);
}

static int engine_knob(struct vf *v, const char *knob, const char *val)
{
	char path[200];

	snprintf(path, sizeof(path),
		 "/sys/bus/mdev/devices/%s/vfio-dev/%s/migration/%s", v->uuid,
		 strrchr(v->cdev, '/') + 1, knob);
	return write_file(path, val);
}

static unsigned long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/*
 * One PRE_COPY of @secs with the context churning, read as QEMU 10 reads
 * it: every 10 ms (an iteration of its migration loop) the PRE_COPY info,
 * then one read of at most 1 MiB; then STOP_COPY.  The bytes read before
 * and after the stop.
 */
static int qemu_pattern(int fd, int secs, bool converging,
			unsigned long long *pre, unsigned long long *final)
{
	static unsigned char buf[1 << 20];
	unsigned long long end = ms_now() + secs * 1000ULL;
	int data_fd, rc;

	*pre = *final = 0;
	rc = set_state(fd, S_PRE, &data_fd);
	if (rc)
		return rc;
	while (ms_now() < end) {
		struct vfio_precopy_info info = { .argsz = sizeof(info) };
		ssize_t n;

		/* Waiting to switch over, QEMU asks for the FINAL's size */
		if (converging && data_size(fd) < 0) {
			rc = -EIO;
			break;
		}
		if (ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info)) {
			rc = -errno;
			break;
		}
		n = read(data_fd, buf, sizeof(buf));
		if (n < 0 && errno != ENOMSG) {
			rc = -errno;
			break;
		}
		if (n > 0)
			*pre += n;
		usleep(10000);
	}
	if (!rc)
		rc = set_state(fd, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL) ?:
		     set_state(fd, S_COPY, NULL);
	while (!rc) {
		ssize_t n = read(data_fd, buf, sizeof(buf));

		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
		*final += n;
	}
	close(data_fd);
	return rc ?: set_state(fd, S_STOP, NULL);
}

/*
 * The limiter under QEMU's read pattern, through the engine, on vfsim's
 * 4 MiB context churning for 4 s.  A context rewritten whole (span 0, at
 * 1 and 10 MB/s) saturates: the INITIAL image goes and hardly anything
 * more (the limiter off sends it again and again).  A hot set (256 KiB at
 * 1 MB/s, 1 MiB at 10 MB/s) is held for the FINAL, which carries at most
 * a quarter of the context: what noprecopy would send in the downtime is
 * all of it.  Bytes are payload and headers: a block costs 4 KiB + 24.
 */
TEST_F(vfsim, limiter_under_qemu_pattern)
{
	static const struct { const char *span, *churn; bool hot; } rows[] = {
		{ "0", "1000000", false },
		{ "0", "10000000", false },
		{ "262144", "1000000", true },
		{ "1048576", "10000000", true },
	};
	const unsigned long long ctx = 4 << 20, block = 4096 + 24;
	unsigned long long pre, final, pre_off, final_off;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		ASSERT_EQ(0, sysfs_write(&self->src, "churn_span",
					 rows[i].span));
		ASSERT_EQ(0, sysfs_write(&self->src, "churn", rows[i].churn));
		ASSERT_EQ(0, qemu_pattern(self->src.fd, 4, false, &pre,
					  &final));
		ASSERT_EQ(0, ioctl(self->src.fd, VFIO_DEVICE_RESET));
		TH_LOG("span %s, %s B/s: %llu KiB before the stop, %llu KiB after",
		       rows[i].span, rows[i].churn, pre >> 10, final >> 10);
		ASSERT_GE(ctx / 4096 * block * 5 / 4, pre);
		if (rows[i].hot)
			ASSERT_GE(ctx / 4096 * block / 4, final);
	}

	/*
	 * QEMU waiting to switch over (asking MIG_DATA_SIZE every time): a
	 * held delta goes, or an idle link would never let it finish
	 */
	ASSERT_EQ(0, sysfs_write(&self->src, "churn_span", "0"));
	ASSERT_EQ(0, sysfs_write(&self->src, "churn", "1000000"));
	ASSERT_EQ(0, qemu_pattern(self->src.fd, 3, true, &pre, &final));
	ASSERT_EQ(0, ioctl(self->src.fd, VFIO_DEVICE_RESET));
	TH_LOG("span 0, 1 MB/s, MIG_DATA_SIZE asked: %llu KiB before the stop, %llu KiB after",
	       pre >> 10, final >> 10);
	/* A delta goes, and at most one per 2 s (max_interval) after it */
	ASSERT_LE(ctx / 4096 * block * 2, pre);
	ASSERT_GE(ctx / 4096 * block * 3, pre);

	/* The limiter off, the saturating row: the context over and over */
	ASSERT_EQ(0, engine_knob(&self->src, "limiter", "0"));
	ASSERT_EQ(0, sysfs_write(&self->src, "churn_span", "0"));
	ASSERT_EQ(0, sysfs_write(&self->src, "churn", "10000000"));
	ASSERT_EQ(0, qemu_pattern(self->src.fd, 4, false, &pre_off,
				  &final_off));
	TH_LOG("limiter off, span 0, 10 MB/s: %llu KiB before the stop, %llu KiB after",
	       pre_off >> 10, final_off >> 10);
	ASSERT_LE(3 * ctx, pre_off);
	ASSERT_EQ(0, sysfs_write(&self->src, "churn", "0"));
}

/*
 * A PRE_COPY data file kept after its device fd was closed, the mdev
 * removed and the module asked to go: the file keeps vfsim loaded (rmmod
 * refuses, busy), and once it is closed the module goes.  Without that
 * the file's last reference runs vfsim's release in unloaded text.
 */
TEST(data_file_pins_the_driver)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int iommufd, data_fd = -1, rc;
	struct vf v;

	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc));
	rc = vf_new(&v, iommufd, alloc.out_ioas_id);
	ASSERT_EQ(0, rc) TH_LOG("no vfsim: %s", strerror(-rc));
	ASSERT_EQ(0, set_state(v.fd, S_PRE, &data_fd));
	ASSERT_LE(0, data_fd);
	close(v.fd);
	mdev_remove(v.uuid);
	close(iommufd);

	rc = syscall(SYS_delete_module, "vfsim", O_NONBLOCK);
	if (!rc) {
		/* Gone under the file: closing it runs freed text */
		close(data_fd);
		system("modprobe vfsim");
		ASSERT_TRUE(false) TH_LOG("vfsim unloaded under an open data file");
	}
	ASSERT_TRUE(errno == EWOULDBLOCK || errno == EBUSY)
		TH_LOG("rmmod vfsim: %s", strerror(errno));
	close(data_fd);
	ASSERT_EQ(0, syscall(SYS_delete_module, "vfsim", O_NONBLOCK))
		TH_LOG("rmmod vfsim after the close: %s", strerror(errno));
	ASSERT_EQ(0, system("modprobe vfsim"));
}

TEST_HARNESS_MAIN
