/* SPDX-License-Identifier: GPL-2.0 */
/*
 * igb-vfio-pci: the 82576 VF's registers as the driver traps them, and the
 * state it keeps to report the VF's DMA.  See regs.c for the design and
 * Documentation/lowdown/igb-vfio-pci.rst for what of the VF it relies on.
 */
#ifndef __IGB_VFIO_REGS_H
#define __IGB_VFIO_REGS_H

#include <linux/igb_vf_mig.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/vfio_mig_engine.h>
#include <linux/vfio_pci_core.h>

/* BAR0 of the VF, 4-byte registers (82576 datasheet, VF register map) */
#define IGBV_CTRL		0x0000
#define IGBV_CTRL_RST		BIT(26)
#define IGBV_STATUS		0x0008
#define IGBV_VMBMEM(n)		(0x0800 + 4 * (n))
#define IGBV_VMBMEM_WORDS	16
#define IGBV_V2PMAILBOX		0x0c40
#define IGBV_EICS		0x1520
#define IGBV_EIMS		0x1524
#define IGBV_EIMC		0x1528
#define IGBV_EIAC		0x152c
#define IGBV_EIAM		0x1530
#define IGBV_EITR(n)		(0x1680 + 4 * (n))
#define IGBV_NVEC		3
#define IGBV_IVAR0		0x1700
#define IGBV_IVAR_MISC		0x1740

/* Queue n's registers: RX at 0x2800, TX at 0x3800, 0x100 apart */
#define IGBV_NQUEUES		2
#define IGBV_RXQ(n)		(0x2800 + 0x100 * (n))
#define IGBV_TXQ(n)		(0x3800 + 0x100 * (n))
#define IGBV_Q_BAL		0x00
#define IGBV_Q_BAH		0x04
#define IGBV_Q_LEN		0x08
#define IGBV_RX_SRRCTL		0x0c
#define IGBV_Q_HEAD		0x10
#define IGBV_Q_TAIL		0x18
#define IGBV_Q_DCTL		0x28
#define IGBV_TX_WBAL		0x38
#define IGBV_TX_WBAH		0x3c
#define IGBV_Q_REGS		0x40
#define IGBV_DCTL_ENABLE	BIT(25)
#define IGBV_TX_WBAL_EN		BIT(0)

#define IGBV_SRRCTL_BSIZEPKT	GENMASK(6, 0)	/* KiB; 0: from the PF */
#define IGBV_SRRCTL_BSIZEHDR	GENMASK(13, 8)	/* 64-byte units */
#define IGBV_SRRCTL_DESCTYPE	GENMASK(27, 25)
#define IGBV_DESCTYPE_LEGACY	0
#define IGBV_DESCTYPE_ONEBUF	1
#define IGBV_DESCTYPE_HDR_SPLIT	2
#define IGBV_DESCTYPE_SPLIT_ALWAYS 5

/* Descriptors are 16 bytes; a ring's length is a multiple of 128 bytes */
#define IGBV_DESC		16
#define IGBV_RING_ALIGN		128
/* The largest ring the driver shadows; a larger one is tracked blind */
#define IGBV_MAX_DESCS		4096
/* What a packet buffer may take when SRRCTL leaves the size to the PF */
#define IGBV_MAX_BUF		SZ_16K

/**
 * struct igbv_rxq - what the driver knows of one receive queue
 * @bal: ring base, low half, as last written
 * @bah: ring base, high half
 * @len: ring length in bytes
 * @srrctl: buffer sizes and descriptor type
 * @ndesc: descriptors in the ring, 0 while it is not set up
 * @tail: the first descriptor not handed to the device yet (last RDT)
 * @head: the first descriptor the device had not completed at the last
 *	flush (RDH then)
 * @pkt: each descriptor's packet buffer, learned when it was handed over
 * @hdr: each descriptor's header buffer (header split modes)
 * @blind: the queue is in a mode the driver cannot follow (descriptor
 *	type, ring size, unreadable ring): every flush reports all memory
 *	the device may write
 */
struct igbv_rxq {
	u32 bal, bah, len, srrctl;
	u32 ndesc;
	u32 tail;
	u32 head;
	u64 *pkt;
	u64 *hdr;
	bool blind;
};

/**
 * struct igbv_txq - what the driver knows of one transmit queue
 * @bal: ring base, low half
 * @bah: ring base, high half
 * @len: ring length in bytes
 * @wbal: head write-back address, low half, with its enable bit
 * @wbah: head write-back address, high half
 * @head: TDH at the last flush
 */
struct igbv_txq {
	u32 bal, bah, len;
	u32 wbal, wbah;
	u32 head;
};

/* Where the queue enables sit in struct igbv_regs' rows */
#define IGBV_RX_SAVED_DCTL	6
#define IGBV_TX_SAVED_DCTL	7

/**
 * struct igbv_regs - the VF's state that migrates, as saved at STOP
 * @rx: per queue: BAL, BAH, LEN, SRRCTL, RDH, RDT, RXDCTL
 * @tx: per queue: BAL, BAH, LEN, TDH, TDT, WBAL, WBAH, TXDCTL
 * @eitr: interrupt throttling per vector
 * @ivar0: queue to vector mapping
 * @ivar_misc: mailbox to vector mapping
 * @eiac: vectors that auto-clear
 * @eiam: auto-mask
 * @eims: vectors enabled
 * @vmbmem: the mailbox memory
 */
struct igbv_regs {
	u32 rx[IGBV_NQUEUES][7];
	u32 tx[IGBV_NQUEUES][8];
	u32 eitr[IGBV_NVEC];
	u32 ivar0, ivar_misc, eiac, eiam, eims;
	u32 vmbmem[IGBV_VMBMEM_WORDS];
};

/**
 * struct igbv_dev - one VF bound to igb-vfio-pci
 * @core: the vfio-pci core device
 * @eng: the migration engine
 * @lock: protects everything below; taken under @eng's state lock and
 *	before the core's memory_lock
 * @reports: the driver reports this device's DMA (latched at bind)
 * @run: how the device runs, for the engine
 * @rxq: receive queues
 * @txq: transmit queues
 * @dctl_rx: RXDCTL as the user last wrote it, applied at RUN
 * @dctl_tx: TXDCTL as the user last wrote it
 * @eims: the vectors the user enabled (EIMS reads are not the mask)
 * @eiac: auto-clear vectors as written
 * @eiam: auto-mask as written
 * @ivar0: IVAR0 as written
 * @ivar_misc: IVAR_MISC as written
 * @saved: the state of a stream loaded, until it is committed
 * @saved_pf: the VF's state in the PF, from the same stream
 * @staged: a FINAL image was loaded into @saved and awaits commit
 * @resets: resets of the device started and ended (PCI reset_prepare and
 *	reset_done, which cannot take @lock); odd while one runs
 * @resets_seen: @resets when the driver last took the device's state
 * @desc_buf: scratch for descriptors read from the guest
 */
struct igbv_dev {
	struct vfio_pci_core_device core;
	struct vfio_mig_engine eng;
	/* See above */
	struct mutex lock;
	bool reports;
	enum vfio_mig_run run;
	struct igbv_rxq rxq[IGBV_NQUEUES];
	struct igbv_txq txq[IGBV_NQUEUES];
	u32 dctl_rx[IGBV_NQUEUES];
	u32 dctl_tx[IGBV_NQUEUES];
	u32 eims, eiac, eiam, ivar0, ivar_misc;
	struct igbv_regs saved;
	struct igb_vf_mig_state saved_pf;
	bool staged;
	atomic_t resets;
	unsigned int resets_seen;
	void *desc_buf;
};

#define IGBV_DESC_BUF		SZ_4K

int igbv_open(struct igbv_dev *igbv);
void igbv_close(struct igbv_dev *igbv);
void igbv_reset_shadow(struct igbv_dev *igbv);
int igbv_bar0_read(struct igbv_dev *igbv, u32 off, u32 *val);
int igbv_bar0_write(struct igbv_dev *igbv, u32 off, u32 val);
int igbv_quiesce(struct igbv_dev *igbv);
int igbv_resume(struct igbv_dev *igbv, bool restored);
int igbv_save(struct igbv_dev *igbv, struct igbv_regs *regs);
void igbv_lock(struct igbv_dev *igbv);
void igbv_report_owned(struct igbv_dev *igbv);
int igbv_restore(struct igbv_dev *igbv, const struct igbv_regs *regs);
void igbv_flush(struct igbv_dev *igbv);

#endif
