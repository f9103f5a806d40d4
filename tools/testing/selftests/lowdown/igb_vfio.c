// SPDX-License-Identifier: GPL-2.0
/*
 * igb-vfio-pci against the VFs of the test VM's igb PF, with this program
 * as the VF's driver (what a guest's igbvf would do, through VFIO and
 * iommufd as QEMU does it): it resets the VF over the mailbox, gives it a
 * receive ring in an IOAS, and has the PF send it packets (igb_vfio.sh sets
 * the PF up, binds the VFs, and names them in the environment).
 *
 * What is checked: the driver makes the VF dirty-capable and BAR0 trapped;
 * every page the VF wrote (a memory image compared before and after, and
 * the descriptors it completed) is in IOMMU_HWPT_GET_DIRTY_BITMAP, whether
 * the flush came from a tail write or from STOP; buffers handed over are
 * dirty at once; STOP really stops the VF's DMA; the VF's state migrates
 * to another VF, its MAC and switch setting in the PF with it, and it
 * receives there; a damaged stream is refused and leaves
 * the VF usable; with the driver's reports off, no dirty tracking is
 * offered.
 *
 * Environment: IGBV_VF0, IGBV_VF1 (PCI addresses), IGBV_IP0, IGBV_IP1 (an
 * address the PF reaches each VF's MAC at, by a static neighbour entry),
 * IGBV_MAC0 (the MAC the PF's administrator gave VF0; VF1 has none),
 * IGBV_PFNET (the PF's netdev).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_mig_uapi.h"

#define BIT(n)		(1U << (n))
#define PAGE		4096UL
#define MEM_BYTES	(4UL << 20)
#define MEM_IOVA	0x40000000UL
#define MEM_PAGES	(MEM_BYTES / PAGE)
/* The receive ring, then its buffers, in the IOAS */
#define RING_OFF	0
#define NDESC		64
#define BUF_OFF		(16 * PAGE)
#define BUF_BYTES	2048

/* VF registers (82576 datasheet) */
#define VF_CTRL		0x0000
#define CTRL_RST	BIT(26)
#define STATUS		0x0008
#define VMBMEM(i)	(0x0800 + 4 * (i))
#define V2P		0x0c40
#define V2P_REQ		0x01
#define V2P_ACK		0x02
#define V2P_VFU		0x04
#define V2P_PFSTS	0x10
#define V2P_PFACK	0x20
#define RDBAL		0x2800
#define RDBAH		0x2804
#define RDLEN		0x2808
#define SRRCTL		0x280c
#define RDH		0x2810
#define RDT		0x2818
#define RXDCTL		0x2828
#define DCTL_ENABLE	BIT(25)
#define SRRCTL_ONEBUF	BIT(25)
#define RX_DD		0x1
#define MSG_VF_RESET	0x01
#define MSG_ACK		0x80000000u

struct vf {
	int fd;
	__u32 dev_id;
	__u64 bar0;	/* region offsets in the device fd */
	__u64 config;
};

static int iommufd_open_vf(const char *bdf, int iommufd, struct vf *vf)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};
	struct vfio_region_info reg = { .argsz = sizeof(reg) };
	char path[256], name[64];
	FILE *f;

	snprintf(path, sizeof(path),
		 "ls /sys/bus/pci/devices/%s/vfio-dev/ 2>/dev/null", bdf);
	f = popen(path, "r");
	if (!f || !fgets(name, sizeof(name), f)) {
		if (f)
			pclose(f);
		return -ENODEV;
	}
	pclose(f);
	name[strcspn(name, "\n")] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	vf->fd = open(path, O_RDWR);
	if (vf->fd < 0)
		return -errno;
	if (ioctl(vf->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	vf->dev_id = bind.out_devid;
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(vf->fd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		return -errno;
	vf->bar0 = reg.offset;
	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(vf->fd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		return -errno;
	vf->config = reg.offset;
	return 0;
}

static __u32 rd(struct vf *vf, __u32 off)
{
	__u32 v = 0xdeadbeef;

	if (pread(vf->fd, &v, 4, vf->bar0 + off) != 4)
		return 0xdeadbeef;
	return v;
}

static int wr(struct vf *vf, __u32 off, __u32 v)
{
	return pwrite(vf->fd, &v, 4, vf->bar0 + off) == 4 ? 0 : -errno;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait for mailbox bits (they clear on read: remember what was seen) */
static bool mbx_wait(struct vf *vf, __u32 *seen, __u32 bits)
{
	int i;

	for (i = 0; i < 200 && (*seen & bits) != bits; i++) {
		*seen |= rd(vf, V2P);
		if ((*seen & bits) != bits)
			sleep_ms(5);
	}
	return (*seen & bits) == bits;
}

/*
 * What igbvf does at probe: memory and bus mastering on, VF reset, then
 * the VF_RESET message, after which the PF enables the VF's queues in the
 * switch and answers with its MAC.  Returns 0 or a negative step number.
 */
static int vf_enable(struct vf *vf)
{
	__u16 cmd;

	if (pread(vf->fd, &cmd, 2, vf->config + PCI_COMMAND) != 2)
		return -1;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(vf->fd, &cmd, 2, vf->config + PCI_COMMAND) != 2)
		return -2;
	return 0;
}

static int vf_init(struct vf *vf)
{
	__u32 seen = 0, reply;

	if (vf_enable(vf))
		return -2;
	if (wr(vf, VF_CTRL, CTRL_RST))
		return -3;
	sleep_ms(50);
	rd(vf, V2P);
	wr(vf, V2P, V2P_VFU);
	if (!(rd(vf, V2P) & V2P_VFU))
		return -4;
	wr(vf, VMBMEM(0), MSG_VF_RESET);
	wr(vf, V2P, V2P_REQ);
	if (!mbx_wait(vf, &seen, V2P_PFACK | V2P_PFSTS))
		return -5;
	wr(vf, V2P, V2P_VFU);
	reply = rd(vf, VMBMEM(0));
	wr(vf, V2P, V2P_ACK);
	return reply == (MSG_VF_RESET | MSG_ACK) ? 0 : -6;
}

/* The PF sends @n packets to VF @i's MAC (a static neighbour entry) */
static void traffic(int i, int n)
{
	const char *ip = getenv(i ? "IGBV_IP1" : "IGBV_IP0");
	char cmd[160];

	snprintf(cmd, sizeof(cmd),
		 "ping -c %d -i 0.02 -W 1 %s >/dev/null 2>&1", n, ip ? ip : "");
	if (system(cmd) < 0)
		perror("system");
	sleep_ms(100);
}

FIXTURE(igbv)
{
	int iommufd;
	__u32 ioas_id;
	__u32 hwpt_id;
	struct vf vf;
	unsigned char *mem;
	unsigned char *before;
	__u64 *bitmap;
};

static int hwpt_alloc(int iommufd, __u32 dev_id, __u32 ioas_id, __u32 flags,
		      __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = ioas_id,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &cmd))
		return -errno;
	*hwpt_id = cmd.out_hwpt_id;
	return 0;
}

static int attach(struct vf *vf, __u32 pt_id)
{
	struct vfio_device_attach_iommufd_pt at = {
		.argsz = sizeof(at),
		.pt_id = pt_id,
	};

	return ioctl(vf->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) ? -errno : 0;
}

static int set_tracking(int iommufd, __u32 hwpt_id, bool on)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
		.hwpt_id = hwpt_id,
	};

	return ioctl(iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd) ? -errno : 0;
}

static int read_dirty(int iommufd, __u32 hwpt_id, __u64 *bitmap)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.iova = MEM_IOVA,
		.length = MEM_BYTES,
		.page_size = PAGE,
		.data = (uintptr_t)bitmap,
	};

	memset(bitmap, 0, MEM_PAGES / 8);
	return ioctl(iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd) ? -errno : 0;
}

static bool dirty(const __u64 *bitmap, unsigned long page)
{
	return bitmap[page / 64] >> (page % 64) & 1;
}

/* Descriptor i of the ring: read format, then (after DD) write-back */
static __u64 *desc(unsigned char *mem, int i)
{
	return (__u64 *)(mem + RING_OFF + 16 * i);
}

/* Hand descriptors [0, n) to the device with buffer i at BUF_OFF + i * 2K */
static void ring_setup(struct __test_metadata *_metadata, struct vf *vf,
		       unsigned char *mem, int n)
{
	int i;

	memset(mem + RING_OFF, 0, NDESC * 16);
	for (i = 0; i < NDESC; i++) {
		desc(mem, i)[0] = MEM_IOVA + BUF_OFF + (__u64)i * BUF_BYTES;
		desc(mem, i)[1] = 0;
	}
	ASSERT_EQ(0, wr(vf, RXDCTL, 0));
	ASSERT_EQ(0, wr(vf, RDBAL, (__u32)(MEM_IOVA + RING_OFF)));
	ASSERT_EQ(0, wr(vf, RDBAH, (MEM_IOVA + RING_OFF) >> 32));
	ASSERT_EQ(0, wr(vf, RDLEN, NDESC * 16));
	ASSERT_EQ(0, wr(vf, SRRCTL, SRRCTL_ONEBUF | BUF_BYTES / 1024));
	ASSERT_EQ(0, wr(vf, RDH, 0));
	ASSERT_EQ(0, wr(vf, RDT, 0));
	ASSERT_EQ(0, wr(vf, RXDCTL, DCTL_ENABLE));
	ASSERT_EQ(0, wr(vf, RDT, n));
}

FIXTURE_SETUP(igbv)
{
	const char *bdf = getenv("IGBV_VF0");
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_hw_info info = { .size = sizeof(info) };
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.length = MEM_BYTES,
		.iova = MEM_IOVA,
	};

	if (!bdf)
		SKIP(return, "no VF (IGBV_VF0)");
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	ASSERT_EQ(0, iommufd_open_vf(bdf, self->iommufd, &self->vf));
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_IOAS_ALLOC, &alloc));
	self->ioas_id = alloc.out_ioas_id;
	self->mem = mmap(NULL, MEM_BYTES, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memset(self->mem, 0xa5, MEM_BYTES);
	map.user_va = (uintptr_t)self->mem;
	map.ioas_id = self->ioas_id;
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_IOAS_MAP, &map));
	self->before = malloc(MEM_BYTES);
	self->bitmap = calloc(1, MEM_PAGES / 8);
	ASSERT_NE(NULL, self->before);
	ASSERT_NE(NULL, self->bitmap);

	/* What QEMU 10 looks at before it asks for dirty tracking */
	info.dev_id = self->vf.dev_id;
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_GET_HW_INFO, &info));
	ASSERT_TRUE(info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	ASSERT_EQ(0, hwpt_alloc(self->iommufd, self->vf.dev_id, self->ioas_id,
				IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
				&self->hwpt_id));
	ASSERT_EQ(0, attach(&self->vf, self->hwpt_id));
	ASSERT_EQ(0, vf_init(&self->vf));
}

FIXTURE_TEARDOWN(igbv)
{
	if (self->vf.fd > 0)
		close(self->vf.fd);
	if (self->iommufd > 0)
		close(self->iommufd);
	free(self->before);
	free(self->bitmap);
}

/* The pages the VF changed since @before, checked against the bitmap */
static void check_dirty(struct __test_metadata *_metadata,
			struct _test_data_igbv *self, unsigned int *changed,
			unsigned int *reported)
{
	unsigned long p;

	*changed = *reported = 0;
	for (p = 0; p < MEM_PAGES; p++) {
		bool chg = memcmp(self->mem + p * PAGE, self->before + p * PAGE,
				  PAGE);

		*changed += chg;
		*reported += dirty(self->bitmap, p);
		if (chg)
			EXPECT_TRUE(dirty(self->bitmap, p))
				TH_LOG("page %lu (iova 0x%lx) written, not dirty",
				       p, MEM_IOVA + p * PAGE);
	}
}

/* Completed descriptors: each one's ring page and buffer must be dirty */
static int completed(struct __test_metadata *_metadata,
		     struct _test_data_igbv *self, int n)
{
	int i, done = 0;

	for (i = 0; i < n; i++) {
		unsigned long buf = (BUF_OFF + (unsigned long)i * BUF_BYTES) /
				    PAGE;

		if (!(desc(self->mem, i)[1] & RX_DD))
			continue;
		done++;
		EXPECT_TRUE(dirty(self->bitmap, (RING_OFF + 16 * i) / PAGE));
		EXPECT_TRUE(dirty(self->bitmap, buf));
	}
	return done;
}

TEST_F(igbv, bar0_trapped)
{
	struct vfio_region_info reg = {
		.argsz = sizeof(reg),
		.index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	__u16 half;
	void *p;

	ASSERT_EQ(0, ioctl(self->vf.fd, VFIO_DEVICE_GET_REGION_INFO, &reg));
	EXPECT_FALSE(reg.flags & VFIO_REGION_INFO_FLAG_MMAP);
	EXPECT_TRUE(reg.flags & VFIO_REGION_INFO_FLAG_WRITE);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->vf.fd,
		 self->vf.bar0);
	EXPECT_EQ(MAP_FAILED, p);
	/* Registers are 4 bytes: nothing else gets past the driver */
	EXPECT_EQ(-1, pread(self->vf.fd, &half, 2, self->vf.bar0 + RDT));
}

/*
 * The VF receives with tracking on and nothing flushes; then @event, then
 * the HWPT is read: every page the VF changed is dirty, and so is every
 * completed descriptor's buffer and ring page.  The events are what
 * flushes (a tail write as the guest hands buffers back, STOP) and what
 * makes the driver lose track of the ring (resets, a replace of the HWPT).
 */
static void writes_then(struct __test_metadata *_metadata,
			struct _test_data_igbv *self,
			void (*event)(struct __test_metadata *,
				      FIXTURE_DATA(igbv) *))
{
	unsigned int changed, reported;
	int done;

	ring_setup(_metadata, &self->vf, self->mem, NDESC - 1);
	ASSERT_EQ(0, set_tracking(self->iommufd, self->hwpt_id, true));
	ASSERT_EQ(0, read_dirty(self->iommufd, self->hwpt_id, self->bitmap));
	memcpy(self->before, self->mem, MEM_BYTES);
	traffic(0, 20);
	ASSERT_NE(0, rd(&self->vf, RDH)) TH_LOG("no packet reached the VF");
	event(_metadata, self);
	ASSERT_EQ(0, read_dirty(self->iommufd, self->hwpt_id, self->bitmap));
	check_dirty(_metadata, self, &changed, &reported);
	done = completed(_metadata, self, NDESC - 1);
	TH_LOG("%d packets, %u pages written, %u dirty (over-report %.2f)",
	       done, changed, reported, changed ? (double)reported / changed : 0);
	EXPECT_LT(0, done);
	EXPECT_LT(0, changed);
}

static void tail_write(struct __test_metadata *_metadata,
		       struct _test_data_igbv *self)
{
	ASSERT_EQ(0, wr(&self->vf, RDT, NDESC - 1));
}

TEST_F(igbv, rx_writes_dirty_after_tail_write)
{
	writes_then(_metadata, self, tail_write);
}

static void stop(struct __test_metadata *_metadata, struct _test_data_igbv *self)
{
	ASSERT_EQ(0, set_state(self->vf.fd, VFIO_DEVICE_STATE_STOP, NULL));
}

/* No tail write: STOP's flush must report it all */
TEST_F(igbv, rx_writes_dirty_after_stop)
{
	writes_then(_metadata, self, stop);
}

static void vfio_reset(struct __test_metadata *_metadata,
		       struct _test_data_igbv *self)
{
	ASSERT_EQ(0, ioctl(self->vf.fd, VFIO_DEVICE_RESET));
}

TEST_F(igbv, vfio_reset_keeps_writes_dirty)
{
	writes_then(_metadata, self, vfio_reset);
}

/* An FLR the driver does not start (sysfs), then STOP */
static void sysfs_reset(struct __test_metadata *_metadata,
			struct _test_data_igbv *self)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset",
		 getenv("IGBV_VF0"));
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "1", 1));
	close(fd);
	stop(_metadata, self);
}

TEST_F(igbv, flr_keeps_writes_dirty)
{
	writes_then(_metadata, self, sysfs_reset);
}

static void ctrl_reset(struct __test_metadata *_metadata,
		       struct _test_data_igbv *self)
{
	ASSERT_EQ(0, wr(&self->vf, VF_CTRL, CTRL_RST));
}

TEST_F(igbv, vf_reset_keeps_writes_dirty)
{
	writes_then(_metadata, self, ctrl_reset);
}

/*
 * A reset of the PF (its netdev down and up) clears the VF's queues in
 * QEMU's model without any reset callback of the VF's, then STOP
 */
static void pf_reset(struct __test_metadata *_metadata,
		     struct _test_data_igbv *self)
{
	const char *pf = getenv("IGBV_PFNET");
	char cmd[128];

	ASSERT_NE(NULL, pf);
	snprintf(cmd, sizeof(cmd), "ip link set %s down && ip link set %s up",
		 pf, pf);
	ASSERT_EQ(0, system(cmd));
	/* The link back before the next test's traffic */
	sleep_ms(3000);
	stop(_metadata, self);
}

TEST_F(igbv, pf_reset_keeps_writes_dirty)
{
	writes_then(_metadata, self, pf_reset);
}

/* The HWPT replaced by the IOAS's own domain: the old HWPT has it all */
static void replace(struct __test_metadata *_metadata,
		    struct _test_data_igbv *self)
{
	ASSERT_EQ(0, attach(&self->vf, self->ioas_id));
}

TEST_F(igbv, replace_keeps_writes_dirty)
{
	writes_then(_metadata, self, replace);
}

/* A buffer handed over is dirty at once: the device owns it */
TEST_F(igbv, handed_over_buffers_dirty)
{
	int i;

	ring_setup(_metadata, &self->vf, self->mem, 0);
	ASSERT_EQ(0, set_tracking(self->iommufd, self->hwpt_id, true));
	ASSERT_EQ(0, read_dirty(self->iommufd, self->hwpt_id, self->bitmap));
	ASSERT_EQ(0, wr(&self->vf, RDT, 8));
	ASSERT_EQ(0, read_dirty(self->iommufd, self->hwpt_id, self->bitmap));
	for (i = 0; i < 8; i++)
		EXPECT_TRUE(dirty(self->bitmap,
				  (BUF_OFF + i * BUF_BYTES) / PAGE));
	/* Buffers not handed over are not */
	EXPECT_FALSE(dirty(self->bitmap, (BUF_OFF + 16 * BUF_BYTES) / PAGE));
}

/* In STOP the VF writes nothing, whatever arrives; RUNNING it receives */
TEST_F(igbv, stop_quiesces)
{
	__u32 head;

	ring_setup(_metadata, &self->vf, self->mem, NDESC - 1);
	ASSERT_EQ(0, set_state(self->vf.fd, VFIO_DEVICE_STATE_STOP, NULL));
	head = rd(&self->vf, RDH);
	memcpy(self->before, self->mem, MEM_BYTES);
	traffic(0, 10);
	EXPECT_EQ(head, rd(&self->vf, RDH));
	EXPECT_EQ(0, memcmp(self->before, self->mem, MEM_BYTES));
	/* The enable reads back as written, not as the driver holds it */
	EXPECT_TRUE(rd(&self->vf, RXDCTL) & DCTL_ENABLE);
	ASSERT_EQ(0, set_state(self->vf.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	traffic(0, 10);
	EXPECT_NE(head, rd(&self->vf, RDH));
}

/* STOP_COPY's stream, whole */
static ssize_t save_stream(struct __test_metadata *_metadata, struct vf *vf,
			   unsigned char *buf, size_t size)
{
	int data_fd = -1;
	ssize_t n, len = 0;

	EXPECT_EQ(0, set_state(vf->fd, VFIO_DEVICE_STATE_STOP, NULL));
	EXPECT_EQ(0, set_state(vf->fd, VFIO_DEVICE_STATE_STOP_COPY, &data_fd));
	if (data_fd < 0)
		return -1;
	while ((n = read(data_fd, buf + len, size - len)) > 0)
		len += n;
	close(data_fd);
	return len;
}

static int load_stream(struct vf *vf, const unsigned char *buf, size_t len)
{
	int data_fd = -1, rc;
	ssize_t n;

	rc = set_state(vf->fd, VFIO_DEVICE_STATE_STOP, NULL);
	if (!rc)
		rc = set_state(vf->fd, VFIO_DEVICE_STATE_RESUMING, &data_fd);
	if (rc)
		return rc;
	n = write(data_fd, buf, len);
	rc = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
	close(data_fd);
	if (!rc)
		rc = set_state(vf->fd, VFIO_DEVICE_STATE_STOP, NULL);
	return rc;
}

/* The PF lists MAC @mac for its VF @vf */
static bool pf_vf_has_mac(int vf, const char *mac)
{
	const char *pf = getenv("IGBV_PFNET");
	char cmd[160], line[256], want[64];
	bool found = false;
	FILE *f;

	if (!pf || !mac)
		return false;
	snprintf(cmd, sizeof(cmd), "ip link show %s", pf);
	snprintf(want, sizeof(want), "vf %d ", vf);
	f = popen(cmd, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want) && strstr(line, mac))
			found = true;
	pclose(f);
	return found;
}

/*
 * VF0's state moves to VF1 (the same IOAS stands for the guest memory
 * QEMU would have copied): VF1's ring registers are VF0's, and VF1 goes
 * on receiving into the ring where VF0 stopped.
 */
TEST_F(igbv, migrate_to_other_vf)
{
	const char *bdf1 = getenv("IGBV_VF1");
	unsigned char stream[8192];
	struct vf dst = {};
	__u32 head, regs[] = { RDBAL, RDBAH, RDLEN, SRRCTL, RDT };
	ssize_t len;
	unsigned int i;

	if (!bdf1)
		SKIP(return, "no second VF (IGBV_VF1)");
	ring_setup(_metadata, &self->vf, self->mem, NDESC - 1);
	traffic(0, 5);
	head = rd(&self->vf, RDH);
	ASSERT_NE(0, head);
	len = save_stream(_metadata, &self->vf, stream, sizeof(stream));
	ASSERT_LT(0, len);
	TH_LOG("stream: %zd bytes", len);

	/*
	 * VF1 had no MAC and has never been reset over the mailbox: the PF
	 * gives it VF0's MAC and enables its queues from the stream
	 */
	ASSERT_EQ(0, iommufd_open_vf(bdf1, self->iommufd, &dst));
	ASSERT_EQ(0, attach(&dst, self->hwpt_id));
	/* QEMU restores config space (bus mastering) before RUNNING */
	ASSERT_EQ(0, vf_enable(&dst));
	ASSERT_EQ(0, load_stream(&dst, stream, len));
	for (i = 0; i < ARRAY_SIZE(regs); i++)
		EXPECT_EQ(rd(&self->vf, regs[i]), rd(&dst, regs[i]));
	EXPECT_EQ(head, rd(&dst, RDH));
	EXPECT_TRUE(pf_vf_has_mac(1, getenv("IGBV_MAC0")));
	ASSERT_EQ(0, set_state(dst.fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	/* VF0's MAC now reaches VF1 */
	traffic(0, 5);
	EXPECT_NE(head, rd(&dst, RDH));
	EXPECT_TRUE(desc(self->mem, head)[1] & RX_DD);
	close(dst.fd);
}

/* Damaged streams are refused; the VF then still works */
TEST_F(igbv, bad_stream_refused)
{
	unsigned char stream[8192], bad[8192];
	ssize_t len;
	int flips = 0, i;

	ring_setup(_metadata, &self->vf, self->mem, NDESC - 1);
	len = save_stream(_metadata, &self->vf, stream, sizeof(stream));
	ASSERT_LT(64, len);
	ASSERT_EQ(0, set_state(self->vf.fd, VFIO_DEVICE_STATE_STOP, NULL));
	for (i = 0; i < len; i += len / 16 + 1) {
		memcpy(bad, stream, len);
		bad[i] ^= 0x40;
		EXPECT_NE(0, load_stream(&self->vf, bad, len))
			TH_LOG("byte %d flipped, accepted", i);
		flips++;
		/* A refused stream leaves the device in an error state */
		ioctl(self->vf.fd, VFIO_DEVICE_RESET);
	}
	EXPECT_NE(0, load_stream(&self->vf, stream, len / 2));
	ioctl(self->vf.fd, VFIO_DEVICE_RESET);
	TH_LOG("%d damaged streams refused", flips);
	/* Usable: set up again, it receives */
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, get_state(self->vf.fd));
	ASSERT_EQ(0, vf_init(&self->vf));
	ring_setup(_metadata, &self->vf, self->mem, NDESC - 1);
	traffic(0, 5);
	EXPECT_NE(0, rd(&self->vf, RDH));
}

static int set_reports(const char *v)
{
	int fd = open("/sys/module/igb_vfio_pci/parameters/dma_reports",
		      O_WRONLY);
	int rc = fd < 0 || write(fd, v, 1) != 1 ? -1 : 0;

	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * The negative control: with the driver's reports off (latched when the
 * device is bound to iommufd), the VF is not dirty-capable and a dirty
 * tracking HWPT is refused, which is what QEMU 10 sees upstream.
 */
TEST(reports_off_no_tracking)
{
	const char *bdf = getenv("IGBV_VF0");
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_hw_info info = { .size = sizeof(info) };
	struct vf vf = {};
	__u32 hwpt_id;
	int iommufd;

	if (!bdf)
		SKIP(return, "no VF (IGBV_VF0)");
	ASSERT_EQ(0, set_reports("N"));
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	EXPECT_EQ(0, iommufd_open_vf(bdf, iommufd, &vf));
	set_reports("Y");
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc));
	info.dev_id = vf.dev_id;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_GET_HW_INFO, &info));
	EXPECT_FALSE(info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	EXPECT_EQ(-EOPNOTSUPP, hwpt_alloc(iommufd, vf.dev_id, alloc.out_ioas_id,
					  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &hwpt_id));
	close(vf.fd);
	close(iommufd);
}

TEST_HARNESS_MAIN
