/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __LOWDOWN_MIG_SIGN_H
#define __LOWDOWN_MIG_SIGN_H

/*
 * Re-sign the record at @rec (header, then its payload) after changing it:
 * the magic and version become valid, both checksums match the record's
 * type, flags, sequence number, length and payload as they now are.
 */
void mig_sign(void *rec);

/* Re-sign the header only: its payload_crc stays, whatever the payload */
void mig_sign_hdr(void *rec);

#endif
