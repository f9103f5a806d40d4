/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfsim, a software VF for migration tests: its PCI identity, register
 * set, the records its DMA engine writes into guest memory, and the TLVs
 * of its migration stream.  Shared with lowdown's tools and selftests.
 * Documentation/lowdown/vfsim.rst describes the device.  Not a uAPI: the
 * device is a test vehicle.
 */
#ifndef __VFSIM_H
#define __VFSIM_H

#include <linux/const.h>
#include <linux/types.h>

/* The mdev parent's class device, and its one mdev type */
#define VFSIM_PARENT_NAME "vfsim"
#define VFSIM_TYPE_NAME VFSIM_PARENT_NAME "-vf"

/*
 * 1af4:10f0..10ff is the range QEMU's docs/specs/pci-ids.rst leaves to
 * experimental devices that never leave the lab; virtio-pci drivers take
 * only 1af4:1000..107f, so no driver binds to it by accident.
 */
#define VFSIM_VENDOR_ID 0x1af4
#define VFSIM_DEVICE_ID 0x10f5
#define VFSIM_CLASS 0xff0000		/* unassigned class */

#define VFSIM_BAR0_SIZE 4096
#define VFSIM_PAGE 4096

/* BAR0 registers, 32 bits each, little endian */
#define VFSIM_REG_ID		0x00	/* RO: VFSIM_ID */
#define VFSIM_REG_CTRL		0x04	/* VFSIM_CTRL_* */
#define VFSIM_REG_STATUS	0x08	/* VFSIM_STATUS_*; write 1 to clear */
#define VFSIM_REG_RATE		0x0c	/* records per second */
#define VFSIM_REG_QBASE_LO	0x10	/* DMA window IOVA, page aligned */
#define VFSIM_REG_QBASE_HI	0x14
#define VFSIM_REG_QSIZE		0x18	/* DMA window, in pages */
#define VFSIM_REG_DOORBELL	0x1c	/* write N: N records now */
#define VFSIM_REG_SEQ_LO	0x20	/* RO: the next record's number */
#define VFSIM_REG_SEQ_HI	0x24
#define VFSIM_REG_PATTERN	0x28	/* enum vfsim_pattern */
#define VFSIM_REG_HOT		0x2c	/* pages of the hot set */

#define VFSIM_ID 0x31534656		/* "VFS1" */

#define VFSIM_CTRL_DMA		_BITUL(0)	/* write records at RATE */
#define VFSIM_CTRL_IRQ		_BITUL(1)	/* INTx after records written */

#define VFSIM_STATUS_ACTIVE	_BITUL(0)	/* RO: DMA going on */
#define VFSIM_STATUS_ERROR	_BITUL(1)	/* a DMA write failed */
#define VFSIM_STATUS_IRQ	_BITUL(2)	/* records written since clear */

enum vfsim_pattern {
	VFSIM_PATTERN_SEQ = 0,		/* page after page, wrapping */
	VFSIM_PATTERN_RANDOM = 1,	/* any page of the window */
	VFSIM_PATTERN_HOT = 2,		/* any page of the first HOT pages */
};

/**
 * struct vfsim_record - what the DMA engine writes, one per page
 * @magic: VFSIM_RECORD_MAGIC
 * @crc: CRC-32 (as vfio_mig_stream.h computes it) of the whole page with
 *	this field zero
 * @seq: the record's number, from 1, one sequence per device, carried
 *	across migration
 * @iova: where it was written
 * @data: byte i is (seq * 131 + i) & 0xff
 */
struct vfsim_record {
	__le32 magic;
	__le32 crc;
	__le64 seq;
	__le64 iova;
	__u8 data[VFSIM_PAGE - 24];
};

#define VFSIM_RECORD_MAGIC 0x52534656	/* "VFSR" */

/* TLVs of its migration records */
enum vfsim_tlv {
	/* struct vfsim_tlv_config; required, in every full image */
	VFSIM_TLV_CONFIG = 1,
	/* struct vfsim_tlv_state; required, in INITIAL and every FINAL */
	VFSIM_TLV_STATE = 2,
	/* __le64 block index, then VFSIM_PAGE bytes; required, repeated */
	VFSIM_TLV_BLOCK = 3,
	/* struct vfsim_tlv_pending; required, in INITIAL and every FINAL */
	VFSIM_TLV_PENDING = 4,
};

/**
 * struct vfsim_tlv_config - what source and destination must agree on
 * @ctx_size: device context bytes
 * @block: context block size, VFSIM_PAGE
 * @reserved: zero
 */
struct vfsim_tlv_config {
	__le64 ctx_size;
	__le32 block;
	__le32 reserved;
};

/**
 * struct vfsim_tlv_state - the device's registers and DMA engine
 * @ctrl: VFSIM_REG_CTRL
 * @status: VFSIM_REG_STATUS
 * @rate: records per second
 * @qsize: window pages
 * @qbase: window IOVA
 * @seq: the next record's number
 * @pattern: enum vfsim_pattern
 * @hot: hot set pages
 * @pos: the sequential pattern's next page
 */
struct vfsim_tlv_state {
	__le32 ctrl;
	__le32 status;
	__le32 rate;
	__le32 qsize;
	__le64 qbase;
	__le64 seq;
	__le32 pattern;
	__le32 hot;
	__le64 pos;
};

#define VFSIM_PENDING_INTX_MASKED	_BITUL(0)

/**
 * struct vfsim_tlv_pending - what the device owes and carries over
 * @doorbell: doorbell records asked for and not written yet
 * @rate_ns: time towards the next record at @rate, not yet turned into one
 * @churn_ns: the same for the context's churn
 * @flags: VFSIM_PENDING_*: INTx masked (signalled, not unmasked yet)
 * @reserved: zero
 */
struct vfsim_tlv_pending {
	__le64 doorbell;
	__le64 rate_ns;
	__le64 churn_ns;
	__le32 flags;
	__le32 reserved;
};

#endif
