/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel TLS (kTLS): the part of a kTLS socket that code outside net/tls
 * may look at. The socket API itself is include/uapi/linux/tls.h; record
 * and alert constants are in include/net/tls_prot.h.
 */
#ifndef _NET_TLS_H
#define _NET_TLS_H

#include <linux/atomic.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/tcp.h>
#include <net/tls_prot.h>
#include <uapi/linux/tls.h>

/* Largest plaintext one record may carry (RFC 8446, section 5.1). */
#define TLS_MAX_PAYLOAD_SIZE	((size_t)1 << 14)
/* type(1) legacy_record_version(2) length(2) */
#define TLS_HEADER_SIZE		5

/* Bytes of driver state in each direction's offload context */
#define TLS_DRIVER_STATE_SIZE_TX	16
#define TLS_DRIVER_STATE_SIZE_RX	8

/* Which half of a connection a NIC driver's offload state is for. */
enum tls_offload_ctx_dir {
	TLS_OFFLOAD_CTX_DIR_RX,
	TLS_OFFLOAD_CTX_DIR_TX,
};

/* Bit of tls_context.flags: a driver asked for a TX resync */
#define TLS_TX_SYNC_SCHED	1

/**
 * struct tls_context - the part of a kTLS socket that code outside net/tls
 *	may use
 * @tx_conf: how records are sent: 0 before TLS_TX, else a TLS_CONF_* value
 *	of include/uapi/linux/tls.h
 * @rx_conf: the same for received records
 * @flags: %TLS_TX_SYNC_SCHED
 * @priv_ctx_tx: with @tx_conf %TLS_CONF_HW, the TX offload context
 *	(tls_offload_ctx_tx()); otherwise private to net/tls
 * @priv_ctx_rx: the same for RX
 * @netdev: the device that holds the offload state, the lowest one under
 *	bonds; NULL once the device went down (the socket then encrypts in
 *	software). Read under RCU.
 *
 * It is the first member of net/tls's per-socket state, which
 * inet_csk(sk)->icsk_ulp_data points to while the "tls" ULP is attached.
 * The conf fields are written under the socket lock; readers that do not
 * hold it (BPF sockmap, skmsg, drivers) use READ_ONCE(). With a direction
 * offloaded to a device the context lives until the socket is destroyed
 * (sk_destruct), so drivers may reach it from any skb of the socket.
 */
struct tls_context {
	u8			tx_conf;
	u8			rx_conf;
	unsigned long		flags;
	void			*priv_ctx_tx;
	void			*priv_ctx_rx;
	struct net_device __rcu	*netdev;
};

/**
 * tls_get_ctx() - the kTLS context of a socket known to run kTLS
 * @sk: the socket
 *
 * Return: its context; use tls_sock_ctx() on a socket that may not.
 */
static inline struct tls_context *tls_get_ctx(const struct sock *sk)
{
	return (__force void *)inet_csk(sk)->icsk_ulp_data;
}

/**
 * tls_sock_ctx() - the kTLS context of any socket
 * @sk: a socket
 *
 * Return: the context of @sk, or NULL when @sk does not have the "tls"
 * ULP attached (another ULP's data is never mistaken for it).
 */
static inline const struct tls_context *tls_sock_ctx(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);
	const struct tcp_ulp_ops *ulp;

	if (!inet_test_bit(IS_ICSK, sk))
		return NULL;
	ulp = READ_ONCE(icsk->icsk_ulp_ops);
	if (!ulp || strcmp(ulp->name, "tls"))
		return NULL;
	return rcu_dereference_raw(icsk->icsk_ulp_data);
}

/**
 * tls_sw_has_ctx_tx() - does the kernel encrypt what @sk sends?
 * @sk: a TCP socket
 *
 * Return: true when records sent on @sk are built and encrypted in
 * software by kTLS.
 */
static inline bool tls_sw_has_ctx_tx(const struct sock *sk)
{
	const struct tls_context *ctx = tls_sock_ctx(sk);

	return ctx && READ_ONCE(ctx->tx_conf) == TLS_CONF_SW;
}

/**
 * tls_sw_has_ctx_rx() - does the kernel decrypt what @sk receives?
 * @sk: a TCP socket
 *
 * Return: true when records received on @sk are parsed and decrypted in
 * software by kTLS.
 */
static inline bool tls_sw_has_ctx_rx(const struct sock *sk)
{
	const struct tls_context *ctx = tls_sock_ctx(sk);

	return ctx && READ_ONCE(ctx->rx_conf) == TLS_CONF_SW;
}

/*
 * Device offload: what NIC drivers build against. The contract is in
 * Documentation/networking/tls-offload.rst.
 */

/**
 * struct tlsdev_ops - a device's TLS offload callbacks (netdev->tlsdev_ops)
 * @tls_dev_add: take the keys of one direction of @sk; @start_offload_tcp_sn
 *	is the TCP sequence number where the record numbered by
 *	@crypto_info's rec_seq starts. Sleeps allowed. Non-zero: refused,
 *	the socket uses software.
 * @tls_dev_del: forget a direction added before; called once per add,
 *	possibly after the socket is gone (hence no @sk). Sleeps allowed.
 * @tls_dev_resync: the record numbered @rcd_sn (8 bytes, big endian)
 *	starts at TCP sequence number @seq. TX: only after the driver asked
 *	with tls_offload_tx_resync_request(), sleeps allowed, 0 when done.
 *	RX: the answer to the driver's request (@seq as it asked), or the
 *	core's hint, as the driver's resync type says; softirq or socket
 *	locked, no sleeping. May be NULL for a device that does not offload
 *	RX and never asks.
 */
struct tlsdev_ops {
	int (*tls_dev_add)(struct net_device *netdev, struct sock *sk,
			   enum tls_offload_ctx_dir direction,
			   struct tls_crypto_info *crypto_info,
			   u32 start_offload_tcp_sn);
	void (*tls_dev_del)(struct net_device *netdev,
			    struct tls_context *ctx,
			    enum tls_offload_ctx_dir direction);
	int (*tls_dev_resync)(struct net_device *netdev,
			      struct sock *sk, u32 seq, u8 *rcd_sn,
			      enum tls_offload_ctx_dir direction);
};

/**
 * struct tls_record_info - one sent record, kept until TCP's una passes it
 * @list: core only
 * @end_seq: TCP sequence number just past the record
 * @len: the record's bytes on the wire, header to tag; 0 for the start
 *	marker, which stands for what was sent before offload began
 * @num_frags: entries of @frags in use
 * @frags: the record's bytes, in order: header, explicit nonce, plaintext,
 *	and room for the tag (contents undefined). The core holds a page
 *	reference on each until the record is acknowledged.
 */
struct tls_record_info {
	struct list_head	list;
	u32			end_seq;
	int			len;
	int			num_frags;
	skb_frag_t		frags[MAX_SKB_FRAGS];
};

/**
 * struct tls_offload_context_tx - a socket's TX offload state
 * @lock: held (irqsave) while records are removed; a driver holds it
 *	around tls_get_record() and for as long as it reads the record
 * @driver_state: the driver's, zeroed before tls_dev_add()
 *
 * Its address does not change between tls_dev_add() and tls_dev_del().
 */
struct tls_offload_context_tx {
	spinlock_t	lock;	/* see above */
	u8		driver_state[TLS_DRIVER_STATE_SIZE_TX] __aligned(8);
};

/* RX resync models a driver picks in tls_dev_add(RX) */
enum tls_offload_sync_type {
	TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ = 0,
	TLS_OFFLOAD_SYNC_TYPE_CORE_NEXT_HINT = 1,
	TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ_ASYNC = 2,
};

/* Record starts an async RX resync request remembers */
#define TLS_DEVICE_RESYNC_ASYNC_LOGMAX		13

/**
 * struct tls_offload_resync_async - an async RX resync request (driver's
 *	memory, see tls_offload_rx_resync_async_request_start())
 * @req: TCP sequence number (high 32 bits) and flags (low bits)
 * @loglen: entries of @log in use
 * @rcd_delta: records parsed since the request started
 * @log: TCP sequence numbers of record headers seen in the window
 */
struct tls_offload_resync_async {
	atomic64_t	req;
	u16		loglen;
	u16		rcd_delta;
	u32		log[TLS_DEVICE_RESYNC_ASYNC_LOGMAX];
};

/**
 * struct tls_offload_context_rx - a socket's RX offload state
 * @resync_type: the driver's model, tls_offload_rx_resync_set_type()
 * @resync_req: a pending request (sequence number << 32 | flags)
 * @resync_async: the driver's async request, for DRIVER_REQ_ASYNC
 * @driver_state: the driver's, zeroed before tls_dev_add()
 */
struct tls_offload_context_rx {
	enum tls_offload_sync_type		resync_type;
	atomic64_t				resync_req;
	struct tls_offload_resync_async		*resync_async;
	u8	driver_state[TLS_DRIVER_STATE_SIZE_RX] __aligned(8);
};

/* Flag bits of a resync request word, under the sequence number */
#define TLS_RESYNC_REQ		BIT(0)
#define TLS_RESYNC_REQ_ASYNC	BIT(1)

static inline struct tls_offload_context_tx *
tls_offload_ctx_tx(const struct tls_context *ctx)
{
	return ctx->priv_ctx_tx;
}

static inline struct tls_offload_context_rx *
tls_offload_ctx_rx(const struct tls_context *ctx)
{
	return ctx->priv_ctx_rx;
}

static inline void *__tls_driver_ctx(struct tls_context *ctx,
				     enum tls_offload_ctx_dir direction)
{
	if (direction == TLS_OFFLOAD_CTX_DIR_TX)
		return tls_offload_ctx_tx(ctx)->driver_state;
	return tls_offload_ctx_rx(ctx)->driver_state;
}

static inline void *tls_driver_ctx(const struct sock *sk,
				   enum tls_offload_ctx_dir direction)
{
	return __tls_driver_ctx(tls_get_ctx(sk), direction);
}

static inline u32 tls_record_start_seq(struct tls_record_info *rec)
{
	return rec->end_seq - rec->len;
}

static inline bool tls_record_is_start_marker(struct tls_record_info *rec)
{
	return rec->len == 0;
}

struct tls_record_info *tls_get_record(struct tls_offload_context_tx *context,
				       u32 seq, u64 *p_record_sn);
struct sk_buff *tls_validate_xmit_skb(struct sock *sk, struct net_device *dev,
				      struct sk_buff *skb);
struct sk_buff *tls_encrypt_skb(struct sk_buff *skb);

/**
 * tls_is_skb_tx_device_offloaded() - will the device encrypt this skb?
 * @skb: an skb on its way to a device
 *
 * Return: true when @skb belongs to a socket whose TX the device that
 * accepted the keys encrypts; the skb's payload is then plaintext of the
 * socket's records. False without CONFIG_TLS_DEVICE.
 */
static inline bool tls_is_skb_tx_device_offloaded(const struct sk_buff *skb)
{
#ifdef CONFIG_TLS_DEVICE
	struct sock *sk = skb->sk;

	if (!sk || !sk_fullsock(sk))
		return false;
	/* pairs with the release that publishes the hook after the add */
	return smp_load_acquire(&sk->sk_validate_xmit_skb) ==
	       &tls_validate_xmit_skb;
#else
	return false;
#endif
}

static inline void
tls_offload_rx_resync_set_type(struct sock *sk, enum tls_offload_sync_type type)
{
	tls_offload_ctx_rx(tls_get_ctx(sk))->resync_type = type;
}

/* DRIVER_REQ: the record whose header ends at TCP sequence number @seq */
static inline void tls_offload_rx_resync_request(struct sock *sk, __be32 seq)
{
	struct tls_offload_context_rx *rx = tls_offload_ctx_rx(tls_get_ctx(sk));

	atomic64_set(&rx->resync_req,
		     ((u64)ntohl(seq) << 32) | TLS_RESYNC_REQ);
}

/* DRIVER_REQ_ASYNC: a header may start in [@seq, @seq + @len] */
static inline void
tls_offload_rx_resync_async_request_start(struct tls_offload_resync_async *async,
					  __be32 seq, u16 len)
{
	async->loglen = 0;
	async->rcd_delta = 0;
	atomic64_set(&async->req, ((u64)ntohl(seq) << 32) | ((u64)len << 16) |
		     TLS_RESYNC_REQ | TLS_RESYNC_REQ_ASYNC);
}

/* DRIVER_REQ_ASYNC: the device found the header at @seq */
static inline void
tls_offload_rx_resync_async_request_end(struct tls_offload_resync_async *async,
					__be32 seq)
{
	atomic64_set(&async->req, ((u64)ntohl(seq) << 32) | TLS_RESYNC_REQ);
}

static inline void
tls_offload_rx_resync_async_request_cancel(struct tls_offload_resync_async *async)
{
	atomic64_set(&async->req, 0);
}

#ifdef CONFIG_TLS_DEVICE
void tls_offload_tx_resync_request(struct sock *sk, u32 got_seq, u32 exp_seq);

/* A TX resync the driver asked for has not happened yet */
static inline bool tls_offload_tx_resync_pending(struct sock *sk)
{
	bool pending = test_bit(TLS_TX_SYNC_SCHED, &tls_get_ctx(sk)->flags);

	/* the driver reads its state for the new sequence only after this */
	smp_mb__after_atomic();
	return pending;
}

/* @sk (found by a lookup) is a full socket with RX offloaded */
static inline bool tls_is_sk_rx_device_offloaded(struct sock *sk)
{
	const struct tls_context *ctx;

	if (!sk_fullsock(sk))
		return false;
	ctx = tls_sock_ctx(sk);
	return ctx && READ_ONCE(ctx->rx_conf) == TLS_CONF_HW;
}
#endif

#endif /* _NET_TLS_H */
