/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_DEVICE_H
#define _TLS_DEVICE_H

#include <linux/refcount.h>
#include <linux/workqueue.h>
#include <net/tls.h>

#include "key.h"

struct tls_sock;
struct tls_tx;

/* Largest TLS 1.2 AES-GCM record: header, explicit nonce, payload, tag */
#define TLS_DEV_RECORD_MAX	(TLS_HEADER_SIZE + 8 + TLS_MAX_PAYLOAD_SIZE + \
				 TLS_CIPHER_TAG_SIZE)

/**
 * struct tls_dev_tx - TX device offload of one socket
 * @pub: what the driver sees (tls_offload_ctx_tx()); @pub.lock guards
 *	@records and @first_sn
 * @records: sent records TCP has not seen acknowledged, oldest first;
 *	the first is the start marker until the ACK passes it
 * @first_sn: record sequence number of the first of @records
 * @ctx: the socket's context (first member of its struct tls_sock)
 * @sk: the socket, until it is destroyed
 * @netdev: the device that took the keys, held (@tracker) while @bound
 * @tracker: the reference on @netdev
 * @bound: on tls_dev_list and known to @netdev; cleared by whoever calls
 *	tls_dev_del() (device down, or the socket's destruction), under
 *	tls_dev_list_lock
 * @node: on tls_dev_list
 * @refs: one for the socket, one while @bound; the last put frees the
 *	state and the socket's struct tls_sock
 * @sk_destruct: the socket's own destructor, which tls_dev_sk_destruct()
 *	wraps
 * @destroy: tls_dev_del() and the final put after the socket is gone
 * @unbind: @destroy must unbind from @netdev (it was still bound)
 * @fb_lock: guards the software fallback's state below (BH context)
 * @fb_aead: synchronous gcm(aes) with the socket's key
 * @fb_req: its request
 * @fb_aad: AAD of the record being encrypted
 * @fb_iv: its IV: salt, then the explicit nonce
 * @fb_salt: the key's salt
 * @fb_rec: the last record encrypted by the fallback, whole
 * @fb_valid: @fb_rec holds one
 * @fb_sn: its record sequence number
 * @fb_start: its first TCP sequence number
 * @fb_len: its length
 */
struct tls_dev_tx {
	struct tls_offload_context_tx	pub;
	struct list_head		records;
	u64				first_sn;
	struct tls_context		*ctx;
	struct sock			*sk;
	struct net_device		*netdev;
	netdevice_tracker		tracker;
	bool				bound;
	bool				unbind;
	struct list_head		node;
	refcount_t			refs;
	void				(*sk_destruct)(struct sock *sk);
	struct work_struct		destroy;

	spinlock_t			fb_lock;	/* see above */
	struct crypto_aead		*fb_aead;
	struct aead_request		*fb_req;
	u8				fb_aad[TLS_KEY_AAD_MAX];
	u8				fb_iv[12];
	u8				fb_salt[4];
	u8				*fb_rec;
	bool				fb_valid;
	u64				fb_sn;
	u32				fb_start;
	u32				fb_len;
};

static inline struct tls_dev_tx *tls_dev_tx_of(struct tls_context *ctx)
{
	return container_of(tls_offload_ctx_tx(ctx), struct tls_dev_tx, pub);
}

#ifdef CONFIG_TLS_DEVICE
/* device.c */
struct tls_dev_tx *tls_dev_tx_start(struct sock *sk, struct tls_sock *ts,
				    struct tls_tx *tx);
void tls_dev_tx_put(struct tls_dev_tx *dev);
void tls_dev_read_lock(void);
void tls_dev_read_unlock(void);
int tls_dev_init(void);
void tls_dev_exit(void);

/* device_tx.c */
int tls_dev_tx_record(struct sock *sk, struct tls_dev_tx *dev,
		      const struct bio_vec *seg, unsigned int nr,
		      unsigned int len, u64 sn);
void tls_dev_tx_clean_acked(struct sock *sk, u32 acked_seq);
void tls_dev_tx_records_free(struct tls_dev_tx *dev);

/* device_fallback.c */
int tls_dev_fb_init(struct tls_dev_tx *dev, const struct tls_key *key);
void tls_dev_fb_free(struct tls_dev_tx *dev);
struct sk_buff *tls_dev_validate_sw(struct sock *sk, struct net_device *dev,
				    struct sk_buff *skb);
#else
static inline struct tls_dev_tx *
tls_dev_tx_start(struct sock *sk, struct tls_sock *ts, struct tls_tx *tx)
{
	return NULL;
}

static inline int tls_dev_tx_record(struct sock *sk, struct tls_dev_tx *dev,
				    const struct bio_vec *seg, unsigned int nr,
				    unsigned int len, u64 sn)
{
	return -EOPNOTSUPP;
}

static inline int tls_dev_init(void)
{
	return 0;
}

static inline void tls_dev_exit(void)
{
}
#endif

#endif /* _TLS_DEVICE_H */
