/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Commands and stream layout of the migration engine test mdev
 * (mig_engine_test.c), shared with its selftest in
 * tools/testing/selftests/lowdown.  Test-only: not a uAPI.
 */
#ifndef __VFIO_MIG_ENGINE_TEST_H
#define __VFIO_MIG_ENGINE_TEST_H

#include <linux/types.h>

/* The mdev parent's class device, and its one mdev type */
#define MET_PARENT_NAME "vfio_mig_engine_test"
#define MET_TYPE_NAME MET_PARENT_NAME "-m"

/* The context is kept, and sent, in blocks of this size */
#define MET_BLOCK 4096
#define MET_DEFAULT_SIZE (256 * 1024)
#define MET_MAX_SIZE (64 * 1024 * 1024)

enum met_op {
	/* Set @length bytes of the context at @offset to @value */
	MET_CMD_FILL = 1,
	/* Make the context @length bytes (a multiple of MET_BLOCK), zeroed */
	MET_CMD_RESIZE,
	/*
	 * Make a callback of kind @value (enum met_fail) fail, -EIO: the one
	 * after the next @offset calls of that kind; kinds armed one after
	 * the other each fail once
	 */
	MET_CMD_FAIL,
};

/*
 * MET_FAIL_SAVE fails a save before it saved anything, MET_FAIL_SAVE_LATE
 * after its blocks were in the record (the driver puts them back)
 */
enum met_fail {
	MET_FAIL_SAVE = 1,
	MET_FAIL_LOAD,
	MET_FAIL_SET_RUN,
	MET_FAIL_COMMIT,
	MET_FAIL_SAVE_LATE,
};

/**
 * struct met_cmd - one command, written at offset 0 of the device fd
 * @op: enum met_op
 * @value: the fill byte, or the enum met_fail
 * @offset: first context byte; for MET_CMD_FAIL, calls to let pass first
 * @length: bytes
 *
 * write() returns sizeof(struct met_cmd) on success; -EINVAL for a bad
 * command, -EBUSY to change the context while the device is stopped or to
 * resize it during a migration.  read() at offset N returns the context's
 * bytes from N.
 */
struct met_cmd {
	__u32 op;
	__u32 value;
	__aligned_u64 offset;
	__aligned_u64 length;
};

/* The TLVs of its records */
enum met_tlv {
	/* __le64 context size; required, in every full image */
	MET_TLV_CONFIG = 1,
	/* __le64 block index, then MET_BLOCK bytes; required, repeated */
	MET_TLV_BLOCK = 2,
};

#endif
