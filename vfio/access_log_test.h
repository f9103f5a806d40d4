/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Commands of the access-log test mdev (access_log_test.c), shared with its
 * selftest in tools/testing/selftests/lowdown.  Test-only: not a uAPI.
 */
#ifndef __VFIO_ACCESS_LOG_TEST_H
#define __VFIO_ACCESS_LOG_TEST_H

#include <linux/types.h>

/* The mdev parent's class device, and its one mdev type */
#define ALT_PARENT_NAME "vfio_access_log_test"
#define ALT_TYPE_NAME ALT_PARENT_NAME "-w"

/* Largest command, in bytes for ALT_CMD_WRITE and pages for ALT_CMD_PIN */
#define ALT_MAX_WRITE (16UL << 20)
#define ALT_MAX_PIN_PAGES 512

enum alt_op {
	/* vfio_dma_rw() write of @length bytes of @byte at @iova */
	ALT_CMD_WRITE = 1,
	/*
	 * vfio_pin_pages() for write of [@iova, @iova + @length), page
	 * aligned, then fill the pinned pages with @byte through the kernel
	 * mapping, as a device writing by DMA into a pinned page would
	 */
	ALT_CMD_PIN,
	/* vfio_unpin_pages() of the pin that starts at @iova */
	ALT_CMD_UNPIN,
	/* vfio_dma_rw() read of @length bytes at @iova, checked to be @byte */
	ALT_CMD_CHECK,
	/* vfio_pin_pages() for read only of [@iova, @iova + @length) */
	ALT_CMD_PIN_RO,
	/*
	 * In the next dma_unmap callback, stop DMA logging as a
	 * VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP racing the unmap would
	 */
	ALT_CMD_STOP_ON_UNMAP,
};

/**
 * struct alt_cmd - one command, written at offset 0 of the device fd
 * @op: enum alt_op
 * @byte: the byte value written or expected
 * @reserved: must be zero
 * @iova: first IOVA
 * @length: bytes
 *
 * write() returns sizeof(struct alt_cmd) when the command succeeded, or the
 * error of the vfio call that failed (-EINVAL for a malformed command,
 * -EILSEQ when ALT_CMD_CHECK finds another byte).
 */
struct alt_cmd {
	__u32 op;
	__u8 byte;
	__u8 reserved[3];
	__aligned_u64 iova;
	__aligned_u64 length;
};

#endif
