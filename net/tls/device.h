/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_DEVICE_H
#define _TLS_DEVICE_H

#include <crypto/skcipher.h>
#include <linux/refcount.h>
#include <linux/workqueue.h>
#include <net/tls.h>

#include "key.h"

struct tls_rx;
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

/* Bytes of one device_rx.c re-encryption step (tls_dev_rx.scratch) */
#define TLS_DEV_RX_SCRATCH	256

/**
 * struct tls_dev_rx - RX device offload of one socket
 * @pub: what the driver sees (tls_offload_ctx_rx())
 * @ctx: the socket's context (first member of its struct tls_sock)
 * @netdev: the device that took the keys, held (@tracker) while @bound
 * @tracker: the reference on @netdev
 * @live: @netdev while it may be called for resyncs; cleared (then a
 *	grace period) when the device goes down. Read under RCU.
 * @bound: on tls_dev_rx_list, tls_dev_del() still due; cleared by whoever
 *	calls it (device down, or tls_dev_rx_stop()), under
 *	tls_dev_list_lock
 * @node: on tls_dev_rx_list
 * @ctr: "ctr(aes)" with the socket's key: turns what the device decrypted
 *	back into ciphertext when a record must be decrypted in software
 * @scratch: TLS_DEV_RX_SCRATCH bytes for @ctr (a scatterlist may not
 *	point at the stack)
 * @salt: the implicit part of the GCM IV
 * @resealed: bytes of the head record in @rx->part were re-encrypted
 * @nh_misses: records the device did not decrypt since it last did
 *	(CORE_NEXT_HINT)
 * @nh_due: misses after which the core gives the device a hint
 * @nh_seq: TCP sequence number of the last hint: records before it do
 *	not count as misses
 *
 * Used under the socket lock, or from the data_ready callback while
 * nobody owns the socket: the same rules as struct tls_rx. @pub.resync_req
 * and the driver's async request are written by the driver at any time.
 */
struct tls_dev_rx {
	struct tls_offload_context_rx	pub;
	struct tls_context		*ctx;
	struct net_device		*netdev;
	netdevice_tracker		tracker;
	struct net_device __rcu		*live;
	bool				bound;
	struct list_head		node;
	struct crypto_sync_skcipher	*ctr;
	u8				*scratch;
	u8				salt[4];
	bool				resealed;
	u32				nh_misses;
	u32				nh_due;
	u32				nh_seq;
};

#ifdef CONFIG_TLS_DEVICE
/* device.c */
struct tls_dev_tx *tls_dev_tx_start(struct sock *sk, struct tls_sock *ts,
				    struct tls_tx *tx);
void tls_dev_tx_put(struct tls_dev_tx *dev);
void tls_dev_read_lock(void);
void tls_dev_read_unlock(void);
int tls_dev_init(void);
void tls_dev_exit(void);

void tls_dev_rx_link(struct tls_dev_rx *dev);
bool tls_dev_rx_unlink(struct tls_dev_rx *dev);
struct net_device *tls_dev_route(struct sock *sk);
int tls_dev_add(struct net_device *netdev, struct sock *sk,
		enum tls_offload_ctx_dir dir, const struct tls_key *key,
		u32 start);

/* device_rx.c */
struct tls_dev_rx *tls_dev_rx_start(struct sock *sk, struct tls_sock *ts,
				    struct tls_rx *rx);
void tls_dev_rx_stop(struct tls_dev_rx *dev);
void tls_dev_rx_header(struct sock *sk, struct tls_rx *rx);
int tls_dev_rx_check(struct sock *sk, struct tls_rx *rx);
void tls_dev_rx_reseal(struct sock *sk, struct tls_rx *rx, u32 at, u32 len);
bool tls_dev_rx_rec_done(struct sock *sk, struct tls_rx *rx, bool by_dev);
void tls_dev_rx_hint(struct sock *sk, struct tls_rx *rx);

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

static inline struct tls_dev_rx *
tls_dev_rx_start(struct sock *sk, struct tls_sock *ts, struct tls_rx *rx)
{
	return NULL;
}

static inline void tls_dev_rx_stop(struct tls_dev_rx *dev)
{
}

static inline void tls_dev_rx_header(struct sock *sk, struct tls_rx *rx)
{
}

static inline int tls_dev_rx_check(struct sock *sk, struct tls_rx *rx)
{
	return 0;
}

static inline void tls_dev_rx_reseal(struct sock *sk, struct tls_rx *rx,
				     u32 at, u32 len)
{
}

static inline bool tls_dev_rx_rec_done(struct sock *sk, struct tls_rx *rx,
				       bool by_dev)
{
	return false;
}

static inline void tls_dev_rx_hint(struct sock *sk, struct tls_rx *rx)
{
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
