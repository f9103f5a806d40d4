/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lowdown's vfio migration data engine: the saving and resuming files of
 * VFIO migration v2, PRE_COPY with a rate limiter, and the record format of
 * vfio_mig_stream.h, behind a few driver callbacks.  See
 * drivers/vfio/mig_engine.c and Documentation/lowdown/migration-engine.rst.
 */
#ifndef __LINUX_VFIO_MIG_ENGINE_H
#define __LINUX_VFIO_MIG_ENGINE_H

#include <linux/completion.h>
#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <linux/wait.h>
#include <linux/vfio_mig_limiter.h>
#include <linux/vfio_mig_stream.h>

struct vfio_mig_engine;
struct vfio_mig_file;

/**
 * enum vfio_mig_run - how the device runs, as its driver sees it
 * @VFIO_MIG_RUN: RUNNING and PRE_COPY: the device works and may DMA
 * @VFIO_MIG_RUN_P2P: RUNNING_P2P and PRE_COPY_P2P: no peer-to-peer DMA
 *	and no new outside requests, as the uAPI defines the P2P states
 * @VFIO_MIG_RUN_STOP: STOP, STOP_COPY and RESUMING: no DMA, no context
 *	changes
 */
enum vfio_mig_run {
	VFIO_MIG_RUN,
	VFIO_MIG_RUN_P2P,
	VFIO_MIG_RUN_STOP,
};

/* The most bytes, header included, of a record the engine makes */
#define VFIO_MIG_RECORD_MAX SZ_256K

/**
 * struct vfio_mig_buf - a record being built by a driver's save callback
 * @data: the record: header room, then the payload written so far
 * @len: bytes used in @data
 * @max: bytes allocated for @data, the most @len may grow to
 *
 * Only the engine touches the fields; drivers append with
 * vfio_mig_buf_put(), vfio_mig_buf_put_tlv() and vfio_mig_buf_reserve(),
 * which fail with -EFBIG when the record is full: the image then goes on
 * in another record (VFIO_MIG_RECORD_F_MORE).
 */
struct vfio_mig_buf {
	u8 *data;
	size_t len;
	size_t max;
};

/**
 * struct vfio_mig_engine_ops - what a driver supplies to the engine
 * @owner: the driver's module (THIS_MODULE): a data file pins it, since
 *	its last reference may release the vfio device
 * @set_run: change how the device runs.  Called once per FSM arc that
 *	changes it, before the engine's own work for the arc; on VFIO_MIG_RUN_P2P
 *	and VFIO_MIG_RUN_STOP the device must have finished every DMA and
 *	context change when this returns.  May fail with an errno; the device
 *	must then run as before, and the arc fails.  Nothing in an arc that
 *	calls it can fail after it: images are made as they are read.
 * @save: append the payload (TLVs, normally) of one record of an image to
 *	@buf.  @type is VFIO_MIG_RECORD_INITIAL (the whole context, PRE_COPY
 *	starts), VFIO_MIG_RECORD_DELTA (what changed since the previous
 *	image; an empty payload means nothing did) or VFIO_MIG_RECORD_FINAL
 *	(in STOP_COPY, device stopped).  For FINAL, @delta_ok says a whole
 *	earlier image of this stream went out: the driver may then send only
 *	what changed and set VFIO_MIG_RECORD_F_DELTA in *@flags.  An image
 *	bigger than @buf (at most VFIO_MIG_RECORD_MAX with the header, sized
 *	by @data_size and @dirty's rest) goes in several records: the driver
 *	fills this one, more than half of it, and sets
 *	VFIO_MIG_RECORD_F_MORE in *@flags, and the engine calls again for the
 *	next record as userspace reads, with F_MORE (and F_DELTA, if set)
 *	already in *@flags on entry; *@flags is 0 on entry for the first
 *	record of an image.  A FINAL image is made while userspace reads it,
 *	never inside the STOP_COPY arc.  A PRE_COPY image may be cut short:
 *	its next call is then the first of the FINAL image (with @delta_ok
 *	false if the cut image was the INITIAL one).  What counts as changed
 *	must not be forgotten before @save_end says the record was
 *	committed.  Return 0 or an errno (a failed record is retried).
 * @save_end: optional: the record of the last successful @save was
 *	committed to the stream (@commit true: what it carried is sent) or
 *	thrown away (false: what it carried counts as changed again, so that
 *	the retried read() carries it).  Called once after every successful
 *	@save.
 * @dirty: fill @d: how many bytes of context changed since the previous
 *	image (what a DELTA would carry), the running count of bytes written,
 *	when the driver can tell, how many bytes of the last image were
 *	written again, and what an unfinished image still has to carry
 *	(vfio_mig_blocks_dirty() does it all).  Feeds
 *	VFIO_MIG_GET_PRECOPY_INFO and the limiter.
 * @data_size: the estimated payload size of a FINAL image, for
 *	VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, and of an image whose first
 *	record the engine sizes by it (never under).  @delta_ok as for @save:
 *	in a session that sent a whole image, the FINAL may be a delta, and
 *	the estimate should be of what changed (QEMU waits until its
 *	estimate fits the downtime limit).
 * @load: take one whole, intact record on the target: header and payload
 *	checksums and the record order are already checked.  Parse with
 *	vfio_mig_tlv_parse() into staging state; nothing may reach the running
 *	context before @load_end commits.  Records of one image come one
 *	after the other: @rec->first starts an image, F_MORE in @rec->flags
 *	says it goes on, and @rec->image carries the TLV parse between them.
 *	On error return an errno and fill @err (offsets relative to the
 *	payload).
 * @load_end: RESUMING ends.  @commit: the whole stream, FINAL record
 *	included, was loaded and the device leaves RESUMING for STOP: make the
 *	staged state the device's.  Otherwise (reset, close, a failed stream)
 *	throw the staged state away.  Return 0 or an errno (commit only).
 * @reset: optional: from vfio_mig_engine_reset(), once the sessions are
 *	ended and the staged state thrown away: put the device's migration
 *	side back to power-on (running).  Runs under the state lock, so no
 *	state change can slip between the engine's reset and the device's.
 *
 * All callbacks run under the engine's state lock and may sleep.  They
 * must not call back into the engine.
 */
struct vfio_mig_engine_ops {
	struct module *owner;
	int (*set_run)(struct vfio_mig_engine *eng, enum vfio_mig_run run);
	int (*save)(struct vfio_mig_engine *eng, u8 type, bool delta_ok,
		    struct vfio_mig_buf *buf, u8 *flags);
	void (*save_end)(struct vfio_mig_engine *eng, bool commit);
	void (*dirty)(struct vfio_mig_engine *eng, struct vfio_mig_dirty *d);
	u64 (*data_size)(struct vfio_mig_engine *eng, bool delta_ok);
	int (*load)(struct vfio_mig_engine *eng,
		    const struct vfio_mig_record *rec, const void *payload,
		    struct vfio_mig_parse_err *err);
	int (*load_end)(struct vfio_mig_engine *eng, bool commit);
	void (*reset)(struct vfio_mig_engine *eng);
};

/**
 * struct vfio_mig_engine_counters - what the engine counts, for sysfs
 * @records_saved: records queued on saving files
 * @records_loaded: records the driver took on resuming files
 * @streams_rejected: resuming streams failed: a bad record, or one cut short
 */
struct vfio_mig_engine_counters {
	u64 records_saved;
	u64 records_loaded;
	u64 streams_rejected;
};

/**
 * struct vfio_mig_engine - one device's migration engine
 * @vdev: the vfio device
 * @ops: the driver's callbacks
 * @max_payload: the largest record payload the engine accepts; it makes
 *	records of at most VFIO_MIG_RECORD_MAX, or this and a header.  A
 *	target accepts bigger records than a source makes, for sources that
 *	put a whole image in one record
 * @state_lock: serialises state changes, image production and loading,
 *	and protects every field below
 * @state: the migration state
 * @saving: the saving file of the current session, or NULL
 * @resuming: the resuming file, or NULL
 * @load_complete: the FINAL record of the resuming stream was loaded
 * @load_failed: the resuming stream was rejected
 * @resetting: vfio_mig_engine_reset_device() is resetting the device:
 *	state changes fail with -EBUSY
 * @limiter: the PRE_COPY limiter of the current session
 * @cfg: the limiter knobs for the next session (sysfs)
 * @counters: see struct vfio_mig_engine_counters
 * @changed: woken by vfio_mig_engine_changed(): poll() of a saving file
 *	in PRE_COPY waits on it too
 * @kobj: the "migration" directory under the vfio device in sysfs
 * @kobj_gone: @kobj was released
 * @kobj_added: @kobj is in sysfs
 *
 * Embedded in the driver's device state; the driver fills nothing in
 * itself (vfio_mig_engine_init()).
 */
struct vfio_mig_engine {
	struct vfio_device *vdev;
	const struct vfio_mig_engine_ops *ops;
	u64 max_payload;
	/* Serialises state changes, production and loading; see above */
	struct mutex state_lock;
	enum vfio_device_mig_state state;
	struct vfio_mig_file *saving;
	struct vfio_mig_file *resuming;
	bool load_complete;
	bool load_failed;
	bool resetting;
	struct vfio_mig_limiter limiter;
	struct vfio_mig_limiter_cfg cfg;
	struct vfio_mig_engine_counters counters;
	wait_queue_head_t changed;
	struct kobject kobj;
	struct completion kobj_gone;
	bool kobj_added;
};

void vfio_mig_engine_init(struct vfio_mig_engine *eng,
			  struct vfio_device *vdev,
			  const struct vfio_mig_engine_ops *ops, u64 max_payload);
int vfio_mig_engine_sysfs_add(struct vfio_mig_engine *eng);
void vfio_mig_engine_exit(struct vfio_mig_engine *eng);
void vfio_mig_engine_reset(struct vfio_mig_engine *eng);
int vfio_mig_engine_reset_device(struct vfio_mig_engine *eng,
				 int (*reset)(struct vfio_mig_engine *eng,
					      void *arg),
				 void *arg);
void vfio_mig_engine_changed(struct vfio_mig_engine *eng);
int vfio_mig_engine_when_idle(struct vfio_mig_engine *eng,
			      int (*fn)(struct vfio_mig_engine *eng, void *arg),
			      void *arg);

struct file *vfio_mig_engine_set_state(struct vfio_mig_engine *eng,
				       enum vfio_device_mig_state new_state);
int vfio_mig_engine_get_state(struct vfio_mig_engine *eng,
			      enum vfio_device_mig_state *state);
int vfio_mig_engine_data_size(struct vfio_mig_engine *eng,
			      unsigned long *stop_copy_length);

void *vfio_mig_buf_reserve(struct vfio_mig_buf *buf, size_t len);
int vfio_mig_buf_put(struct vfio_mig_buf *buf, const void *data, size_t len);
int vfio_mig_buf_put_tlv(struct vfio_mig_buf *buf, u16 type, u16 flags,
			 const void *value, u32 length);

#endif
