// SPDX-License-Identifier: GPL-2.0
/*
 * RX device offload: records the NIC decrypted as they arrived.
 *
 * setsockopt(TLS_RX) offers TLS 1.2 AES-GCM keys to the route's device
 * when it has NETIF_F_HW_TLS_RX (tls_dev_rx_start()). The device then
 * decrypts the payload of the records it can follow in place, checks
 * their tags, and marks the skbs it did so (skb->decrypted); TCP never
 * merges skbs that differ in the mark. Everything else of the software
 * receive path stays as it is: the parser finds the records in TCP's
 * queue and the reader takes them one by one, and for each one
 * tls_dev_rx_check() looks at the marks of the skbs it spans:
 *
 * - all marked: the device decrypted and authenticated the whole record;
 *   its plaintext is copied out, no cipher runs (rx_record.c);
 * - none marked: the device was not following; software decrypts it;
 * - some marked: the device lost or found its place inside the record.
 *   The record leaves TCP for @rx->part, its marked bytes are turned back
 *   into ciphertext on the way (AES-GCM encrypts with a counter-mode
 *   keystream, so encrypting them again with the keystream of their
 *   position restores the ciphertext), and software decrypts it whole,
 *   tag included. A record that is squeezed out of TCP (rx_parse.c) is
 *   restored the same way as it leaves.
 *
 * So the core never delivers a byte the device did not authenticate:
 * a device that is wrong about a record leaves it unmarked, or some of
 * it, and the tag is checked in software.
 *
 * Resync. A device loses its place when TCP segments are lost,
 * reordered or duplicated, and finds it again with the core's help, in
 * one of the three ways of enum tls_offload_sync_type that the driver
 * picks in tls_dev_add(); tls_dev_rx_header() runs for each record
 * header the parser reads and confirms the device's guesses, and
 * tls_dev_rx_rec_done() and tls_dev_rx_hint() give hints to a device
 * that waits for them.
 * Every call of tls_dev_resync() counts TlsRxDeviceResync.
 *
 * Lifetime: the state lives as long as the socket's RX path; close()
 * calls tls_dev_del() unless the device went down first (device.c).
 */

#include <crypto/aes.h>
#include <linux/unaligned.h>
#include <net/tcp.h>

#include "device.h"
#include "rx.h"
#include "sock.h"
#include "stat.h"

/* TLS 1.2 AES-GCM: the header and the explicit nonce come first */
#define TLS_DEV_RX_PREFIX	(TLS_HEADER_SIZE + 8)
/* The first counter value of the payload's keystream (GCM's inc32(J0)) */
#define TLS_DEV_RX_CTR0		2
/* CORE_NEXT_HINT: misses before the first hint, and the most between */
#define TLS_DEV_RX_NH_FIRST	2
#define TLS_DEV_RX_NH_MAX	128

static bool tls_dev_rx_keys_ok(const struct tls_rx *rx)
{
	u16 type = rx->key.cipher->type;

	return rx->key.version == TLS_1_2_VERSION &&
	       (type == TLS_CIPHER_AES_GCM_128 ||
		type == TLS_CIPHER_AES_GCM_256);
}

static bool tls_dev_rx_capable(const struct net_device *netdev)
{
	return (netdev->features & NETIF_F_HW_TLS_RX) && netdev->tlsdev_ops &&
	       netdev->tlsdev_ops->tls_dev_resync &&
	       (netdev->flags & IFF_UP) && !netif_is_bond_master(netdev);
}

static void tls_dev_rx_free(struct tls_dev_rx *dev)
{
	crypto_free_sync_skcipher(dev->ctr);
	kfree(dev->scratch);
	kfree(dev);
}

static struct tls_dev_rx *tls_dev_rx_alloc(struct sock *sk,
					   const struct tls_key *key)
{
	const struct tls_cipher *c = key->cipher;
	struct tls_dev_rx *dev;

	dev = kzalloc(sizeof(*dev), sk->sk_allocation);
	if (!dev)
		return NULL;
	INIT_LIST_HEAD(&dev->node);
	dev->nh_due = TLS_DEV_RX_NH_FIRST;
	dev->scratch = kmalloc(TLS_DEV_RX_SCRATCH, sk->sk_allocation);
	dev->ctr = crypto_alloc_sync_skcipher("ctr(aes)", 0, 0);
	if (IS_ERR(dev->ctr)) {
		dev->ctr = NULL;
		goto fail;
	}
	if (!dev->scratch ||
	    crypto_sync_skcipher_setkey(dev->ctr, key->secret, c->key_size))
		goto fail;
	/* salt || iv: the salt first */
	memcpy(dev->salt, key->nonce, sizeof(dev->salt));
	return dev;

fail:
	tls_dev_rx_free(dev);
	return NULL;
}

/* Offer the keys to @netdev; socket locked, tls_dev_rwsem held */
static int tls_dev_rx_add(struct sock *sk, struct tls_rx *rx,
			  struct net_device *netdev)
{
	/*
	 * The first byte TCP has not handed over starts the record the
	 * keys' rec_seq numbers: the parser has not taken anything yet.
	 */
	return tls_dev_add(netdev, sk, TLS_OFFLOAD_CTX_DIR_RX, &rx->key,
			   tcp_sk(sk)->copied_seq);
}

/**
 * tls_dev_rx_start() - hand RX keys to the device, if one takes them
 * @sk: the socket, locked
 * @ts: its kTLS state
 * @rx: its RX path, keyed, not published yet
 *
 * Return: the offload state, or NULL: the socket decrypts in software
 * (no capable device on the route, keys it does not take, or it refused).
 */
struct tls_dev_rx *tls_dev_rx_start(struct sock *sk, struct tls_sock *ts,
				    struct tls_rx *rx)
{
	struct net_device *netdev;
	struct tls_dev_rx *dev;
	int err;

	if (!tls_dev_rx_keys_ok(rx))
		return NULL;
	netdev = tls_dev_route(sk);
	if (!netdev)
		return NULL;
	if (!tls_dev_rx_capable(netdev)) {
		dev_put(netdev);
		return NULL;
	}
	dev = tls_dev_rx_alloc(sk, &rx->key);
	if (!dev) {
		dev_put(netdev);
		return NULL;
	}
	dev->ctx = &ts->ctx;
	/* sequence numbers compare within 2^31 of each other: no zero */
	dev->nh_seq = tcp_sk(sk)->copied_seq;
	/* the driver finds its state area, and sets its model, through it */
	ts->ctx.priv_ctx_rx = &dev->pub;

	tls_dev_read_lock();
	err = tls_dev_rx_add(sk, rx, netdev);
	if (!err) {
		netdev_hold(netdev, &dev->tracker, GFP_KERNEL);
		dev->netdev = netdev;
		rcu_assign_pointer(dev->live, netdev);
		tls_dev_rx_link(dev);
	}
	tls_dev_read_unlock();
	dev_put(netdev);
	if (err) {
		ts->ctx.priv_ctx_rx = NULL;
		tls_dev_rx_free(dev);
		return NULL;
	}
	return dev;
}

/**
 * tls_dev_rx_stop() - take the keys back from the device and free @dev
 * @dev: the RX offload state
 *
 * The socket is locked and its data_ready callback is no longer kTLS's,
 * so no resync can be under way. Sleeps.
 */
void tls_dev_rx_stop(struct tls_dev_rx *dev)
{
	tls_dev_read_lock();
	if (tls_dev_rx_unlink(dev)) {
		dev->netdev->tlsdev_ops->tls_dev_del(dev->netdev, dev->ctx,
						     TLS_OFFLOAD_CTX_DIR_RX);
		netdev_put(dev->netdev, &dev->tracker);
	}
	tls_dev_read_unlock();
	dev->ctx->priv_ctx_rx = NULL;
	tls_dev_rx_free(dev);
}

/* Tell the device that the record numbered @sn starts (or ends) at @seq */
static void tls_dev_rx_resync(struct sock *sk, struct tls_dev_rx *dev,
			      u32 seq, u64 sn)
{
	struct net_device *netdev;
	u8 rcd_sn[8];

	put_unaligned_be64(sn, rcd_sn);
	/* the device's down path waits for us (device.c) */
	rcu_read_lock();
	netdev = rcu_dereference(dev->live);
	if (netdev) {
		netdev->tlsdev_ops->tls_dev_resync(netdev, sk, seq, rcd_sn,
						   TLS_OFFLOAD_CTX_DIR_RX);
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSRXDEVICERESYNC);
	}
	rcu_read_unlock();
}

/*
 * DRIVER_REQ: the driver believes a header ends at the sequence number
 * it gave. Confirm it when the parser reads exactly that header.
 */
static void tls_dev_rx_req(struct sock *sk, struct tls_dev_rx *dev,
			   u32 start, u64 sn)
{
	s64 req = atomic64_read(&dev->pub.resync_req);
	u32 last = start + TLS_HEADER_SIZE - 1;

	if (!(req & TLS_RESYNC_REQ) || (u32)(req >> 32) != last)
		return;
	/* a newer request the driver made meanwhile wins */
	if (atomic64_try_cmpxchg(&dev->pub.resync_req, &req, 0))
		tls_dev_rx_resync(sk, dev, last, sn);
}

/*
 * DRIVER_REQ_ASYNC, while the driver searches: keep the headers that
 * start in its window, and count every header from the window on, so
 * that a header found later can be given its record number.
 */
static void tls_dev_rx_async_log(struct tls_offload_resync_async *async,
				 s64 req, u32 start)
{
	u32 from = req >> 32, span = (req >> 16) & 0xffff;

	if (before(start, from))
		return;
	if (async->rcd_delta == U16_MAX) {
		/* the driver never answered; it may ask again */
		tls_offload_rx_resync_async_request_cancel(async);
		return;
	}
	if (start - from <= span && async->loglen < ARRAY_SIZE(async->log))
		async->log[async->loglen++] = start;
	async->rcd_delta++;
}

/*
 * DRIVER_REQ_ASYNC, once the driver named the header it found: a logged
 * one (the record @i places after the first logged) or this one.
 */
static void tls_dev_rx_async_end(struct sock *sk, struct tls_dev_rx *dev,
				 struct tls_offload_resync_async *async,
				 s64 req, u32 start, u64 sn)
{
	u32 found = req >> 32;
	u64 found_sn = sn;
	bool hit = found == start;
	u16 i;

	for (i = 0; !hit && i < async->loglen; i++) {
		if (async->log[i] == found) {
			found_sn = sn - async->rcd_delta + i;
			hit = true;
		}
	}
	/* later headers cannot be in the log; the request may still match */
	async->loglen = 0;
	async->rcd_delta = 0;
	if (hit && atomic64_try_cmpxchg(&async->req, &req, 0))
		tls_dev_rx_resync(sk, dev, found, found_sn);
}

static void tls_dev_rx_async(struct sock *sk, struct tls_dev_rx *dev,
			     u32 start, u64 sn)
{
	struct tls_offload_resync_async *async = dev->pub.resync_async;
	s64 req;

	if (!async)
		return;
	req = atomic64_read(&async->req);
	if (!(req & TLS_RESYNC_REQ))
		return;
	if (req & TLS_RESYNC_REQ_ASYNC)
		tls_dev_rx_async_log(async, req, start);
	else
		tls_dev_rx_async_end(sk, dev, async, req, start, sn);
}

/**
 * tls_dev_rx_header() - the parser read the head record's header
 * @sk: the socket, owned or in its data_ready callback
 * @rx: its RX state, with a device; @rx->rec_len just set
 *
 * The record starts where TCP's unread bytes do, less what of it moved
 * to @rx->part; its number is the one the keys expect next.
 */
void tls_dev_rx_header(struct sock *sk, struct tls_rx *rx)
{
	struct tls_dev_rx *dev = rx->dev;
	u32 start = tcp_sk(sk)->copied_seq - rx->part_len;

	switch (dev->pub.resync_type) {
	case TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ:
		tls_dev_rx_req(sk, dev, start, rx->key.seq);
		break;
	case TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ_ASYNC:
		tls_dev_rx_async(sk, dev, start, rx->key.seq);
		break;
	case TLS_OFFLOAD_SYNC_TYPE_CORE_NEXT_HINT:
		/* hints come as records are read: tls_dev_rx_rec_done() */
		break;
	}
}

/**
 * tls_dev_rx_rec_done() - the head record was read
 * @sk: the socket, owned
 * @rx: its RX state, with a device; the record not consumed yet
 * @by_dev: the device decrypted it
 *
 * CORE_NEXT_HINT: count the records the device did not decrypt in a
 * row; after a few (fewer and fewer often while it stays lost), a hint
 * is due once the record is consumed: tls_dev_rx_hint().
 *
 * Return: true when a hint is due.
 */
bool tls_dev_rx_rec_done(struct sock *sk, struct tls_rx *rx, bool by_dev)
{
	struct tls_dev_rx *dev = rx->dev;
	u32 start = tcp_sk(sk)->copied_seq - rx->part_len;

	if (dev->pub.resync_type != TLS_OFFLOAD_SYNC_TYPE_CORE_NEXT_HINT)
		return false;
	if (by_dev) {
		dev->nh_misses = 0;
		dev->nh_due = TLS_DEV_RX_NH_FIRST;
		return false;
	}
	/* records the last hint already went past */
	if (before(start, dev->nh_seq))
		return false;
	return ++dev->nh_misses >= dev->nh_due;
}

/**
 * tls_dev_rx_hint() - tell a lost device where a record starts
 * @sk: the socket, owned or in a softirq read_sock
 * @rx: its RX state, with a device; between two records
 *
 * The device can only start at a record's first byte, and one it has
 * not received yet: every byte in TCP's queues went past it, and so did
 * the packets that wait in the socket's backlog while we own it. Those
 * are handed to TCP first (as tcp_recvmsg() does between skbs), so that
 * the record named is one the device is still to see, unless a packet
 * is on its way from the device right now; then the device ignores the
 * hint and the next one comes later.
 */
void tls_dev_rx_hint(struct sock *sk, struct tls_rx *rx)
{
	struct tls_dev_rx *dev = rx->dev;
	u32 seq;
	u64 sn;

	if (sock_owned_by_user_nocheck(sk))
		sk_flush_backlog(sk);
	/*
	 * Segments TCP holds out of order went past the device too, maybe
	 * past the record start we would name: wait for TCP to fill the
	 * hole, and try after the next record.
	 */
	if (!RB_EMPTY_ROOT(&tcp_sk(sk)->out_of_order_queue))
		return;
	if (tls_rx_unseen_rec(sk, rx, &seq, &sn))
		return;	/* a header is cut in two: after the next record */
	dev->nh_misses = 0;
	dev->nh_due = min(dev->nh_due * 2, TLS_DEV_RX_NH_MAX);
	dev->nh_seq = seq;
	tls_dev_rx_resync(sk, dev, seq, sn);
}

/* Encrypt @len bytes (at most a scratch's worth) of @part at @at again */
static int tls_dev_rx_reseal_step(struct tls_dev_rx *dev, struct sk_buff *part,
				  const u8 *nonce, u32 at, u32 len)
{
	SYNC_SKCIPHER_REQUEST_ON_STACK(req, dev->ctr);
	u32 pos = at - TLS_DEV_RX_PREFIX;
	u32 lead = pos % AES_BLOCK_SIZE;
	struct scatterlist sg;
	u8 iv[AES_BLOCK_SIZE];
	int err;

	/* the keystream starts at the block's first byte */
	memset(dev->scratch, 0, lead);
	err = skb_copy_bits(part, at, dev->scratch + lead, len);
	if (err)
		return err;
	memcpy(iv, dev->salt, sizeof(dev->salt));
	memcpy(iv + sizeof(dev->salt), nonce, 8);
	put_unaligned_be32(TLS_DEV_RX_CTR0 + pos / AES_BLOCK_SIZE, iv + 12);

	sg_init_one(&sg, dev->scratch, lead + len);
	skcipher_request_set_sync_tfm(req, dev->ctr);
	skcipher_request_set_callback(req, 0, NULL, NULL);
	skcipher_request_set_crypt(req, &sg, &sg, lead + len, iv);
	err = crypto_skcipher_encrypt(req);
	skcipher_request_zero(req);
	if (err)
		return err;
	return skb_store_bits(part, at, dev->scratch + lead, len);
}

/**
 * tls_dev_rx_reseal() - undo the device's decryption of bytes of @rx->part
 * @sk: the socket, owned or in its data_ready callback
 * @rx: its RX state, with a device
 * @at: where the bytes start in the head record (and in @rx->part)
 * @len: how many; they came from skbs the device marked decrypted
 *
 * Only payload bytes were decrypted; the header, the nonce (which came
 * before, so is in @rx->part already) and the tag are as sent. A
 * failure leaves plaintext in the record, which then fails its tag:
 * the connection ends, it is never wrong.
 */
void tls_dev_rx_reseal(struct sock *sk, struct tls_rx *rx, u32 at, u32 len)
{
	struct tls_dev_rx *dev = rx->dev;
	u32 end = at + len, payload_end;
	u8 nonce[8];

	/* the record's length is known once payload bytes move */
	if (rx->rec_len < TLS_DEV_RX_PREFIX + TLS_CIPHER_TAG_SIZE)
		return;
	payload_end = rx->rec_len - TLS_CIPHER_TAG_SIZE;
	at = max_t(u32, at, TLS_DEV_RX_PREFIX);
	end = min(end, payload_end);
	if (at >= end)
		return;
	if (skb_copy_bits(rx->part, TLS_HEADER_SIZE, nonce, sizeof(nonce)))
		return;
	dev->resealed = true;
	while (at < end) {
		u32 pos = at - TLS_DEV_RX_PREFIX;
		u32 n = min(end - at,
			    TLS_DEV_RX_SCRATCH - pos % AES_BLOCK_SIZE);

		if (WARN_ON_ONCE(tls_dev_rx_reseal_step(dev, rx->part, nonce,
							at, n)))
			return;
		at += n;
	}
}

/**
 * tls_dev_rx_check() - did the device decrypt the head record?
 * @sk: the socket, owned
 * @rx: its RX state, with a device; the record gathered
 *	(tls_rx_rec_gather())
 *
 * A record the device decrypted in part leaves TCP now, restored to
 * ciphertext (TlsDecryptRetry).
 *
 * Return: 1 when the device decrypted and authenticated all of it, 0
 * when software must decrypt it, -ENOMEM.
 */
int tls_dev_rx_check(struct sock *sk, struct tls_rx *rx)
{
	struct tls_dev_rx *dev = rx->dev;
	unsigned int seen;
	int err;

	if (rx->part) {
		if (dev->resealed) {
			dev->resealed = false;
			tls_stat_inc(sock_net(sk), LINUX_MIB_TLSDECRYPTRETRY);
		}
		return 0;
	}
	seen = tls_rx_tcp_marks(sk, rx->rec_len);
	if (seen == TLS_RX_MARK_PLAIN)
		return 1;
	if (!(seen & TLS_RX_MARK_PLAIN))
		return 0;
	err = tls_rx_rec_take(sk, rx);
	if (err)
		return err;
	dev->resealed = false;
	tls_stat_inc(sock_net(sk), LINUX_MIB_TLSDECRYPTRETRY);
	return 0;
}
