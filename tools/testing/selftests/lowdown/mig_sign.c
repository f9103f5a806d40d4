// SPDX-License-Identifier: GPL-2.0
/*
 * The record signing of drivers/vfio/mig_stream.c, built in userspace with
 * shim/ for the selftests that forge records (vfio_mig.c): apart from it,
 * they include the uAPI headers, which the shim would shadow.
 */
#include "../../../../drivers/vfio/mig_stream.c"

#include "mig_sign.h"

void mig_sign(void *rec)
{
	struct vfio_mig_record_hdr *hdr = rec;

	vfio_mig_record_hdr_fill(hdr, hdr->type, hdr->flags,
				 le32_to_cpu(hdr->seq), hdr + 1,
				 le64_to_cpu(hdr->length));
}

void mig_sign_hdr(void *rec)
{
	struct vfio_mig_record_hdr *hdr = rec;

	hdr->magic = cpu_to_le32(VFIO_MIG_MAGIC);
	hdr->version = cpu_to_le16(VFIO_MIG_VERSION);
	hdr->hdr_crc = 0;
	hdr->hdr_crc = cpu_to_le32(mig_crc(hdr, sizeof(*hdr)));
}
