// SPDX-License-Identifier: GPL-2.0
/*
 * Emulated kTLS receive offload: TLS 1.2 records with AES-GCM (128 or 256
 * bit keys), decrypted by "the device" as they arrive from the peer.
 *
 * The engine runs on the receiving port, on each packet the peer's
 * ndo_start_xmit() forwards, before the packet is queued for the stack.
 * Like a NIC it sees a TCP stream one segment at a time, and it has to
 * know where records start to do anything. Per connection it follows
 * the stream in order: the TCP sequence number it expects next, where
 * the current record started, its length (once its header is in) and
 * its number. A segment that starts where it expects is walked record by
 * record; one that is wholly old (a retransmission of bytes it saw) goes
 * by untouched; anything else (a loss, an overlap, reordering) means it
 * no longer knows where it is.
 *
 * Decryption. A NIC decrypts with AES-CTR as bytes stream past and runs
 * GHASH alongside, so it knows whether a tag holds only at the record's
 * end, after the earlier segments of the record left decrypted. The
 * emulation keeps the ciphertext of the current record (the whole
 * record: up to NSIM_TLS_MAX_REC_LEN bytes per connection, allocated at
 * add) and checks the tag with "gcm(aes)" over that copy when the last
 * byte arrives; the segment's own bytes are decrypted in place with
 * "ctr(aes)" at the keystream block of their position. A segment is
 * decrypted and marked (skb->decrypted) only when all of it was walked
 * in step and every record that ends in it authenticated; otherwise it
 * is left exactly as it came. The core copes with records whose first
 * segments were marked and whose last one was not.
 *
 * Resync, in the model the knob rx_resync picked at add (enum
 * tls_offload_sync_type):
 *  - DRIVER_REQ and DRIVER_REQ_ASYNC: once lost, the engine scans new
 *    segments for a plausible TLS 1.2 header that is wholly in one
 *    segment, follows the chain of records it predicts (every predicted
 *    header must be plausible, or it scans again), and asks the core to
 *    confirm the first; a gap inside a record's body does not break the
 *    chain, as only headers matter to it. ASYNC, like a NIC that asks
 *    its firmware, names the header it settled on one segment after the
 *    start of the request, so that the core logs the headers it parses
 *    meanwhile. When the core confirms it with the record's number the
 *    engine counts on from there, and decrypts from the next record
 *    start.
 *  - CORE_NEXT_HINT: once lost, the engine waits for the core to name a
 *    record start it has not received yet, and decrypts from there.
 *
 * Limits: TCP over IPv4 or IPv6 without extension headers, no VLAN tag
 * in the packet; in step, any gap or reordering is a loss (the tag needs
 * every byte); the connection list is a plain list.
 * rx_bypass marks in-step segments without any crypto, for a benchmark
 * whose sender sends plaintext records; flipping it inside a record
 * fails that record's tag.
 */

#include <crypto/aead.h>
#include <crypto/aes.h>
#include <crypto/gcm.h>
#include <crypto/skcipher.h>
#include <linux/debugfs.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/rculist.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/unaligned.h>
#include <net/checksum.h>
#include <net/ip6_checksum.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <net/tls.h>

#include "netdevsim.h"

/* The payload's first keystream block (GCM's inc32(J0)) */
#define NSIM_TLS_RX_CTR0	2
/* Record lengths a header may announce: explicit nonce and tag at least */
#define NSIM_TLS_RX_MIN_LEN	(NSIM_TLS_NONCE_LEN + NSIM_TLS_TAG_LEN)
#define NSIM_TLS_RX_MAX_LEN	(NSIM_TLS_RX_MIN_LEN + TLS_MAX_PAYLOAD_SIZE)
/*
 * Records followed from an unconfirmed header before asking about a newer
 * one: the core never confirms a header it parsed before it was asked
 * about (a retransmission scanned while lost). It confirms one only when
 * its reader gets there, which may be a whole receive buffer behind the
 * wire (tcp_rmem[2], 6 MiB by default: 384 full records); asking sooner
 * would throw away a request about to be confirmed.
 */
#define NSIM_TLS_RX_ASK_AGAIN	1024

enum nsim_tls_rx_state {
	NSIM_TLS_RX_SYNCED,	/* in step: decrypting, record numbers known */
	NSIM_TLS_RX_SEARCH,	/* lost: scanning new segments for a header */
	NSIM_TLS_RX_TRACK,	/* following a candidate's records, asked */
	NSIM_TLS_RX_WAIT,	/* lost, CORE_NEXT_HINT: waiting for a hint */
};

/**
 * struct nsim_tls_rx_conn - the device's state for one offloaded RX stream
 * @list: in nsim_tls_rx.conn_list
 * @lock: serialises the receive path, tls_dev_resync() and tls_dev_del()
 * @dead: tls_dev_del() ran: leave @sk and @async alone
 * @sk: the socket, for resync requests; only while !@dead
 * @rx: the port's knobs and counters
 * @ipv6: the connection's packets are IPv6 (else IPv4, @saddr v4-mapped)
 * @saddr: the packets' source address: the socket's remote end
 * @daddr: the packets' destination: the socket's local address
 * @sport: the packets' source port
 * @dport: the packets' destination port
 * @model: the resync model given to the core at add
 * @state: see enum nsim_tls_rx_state
 * @next_seq: SYNCED, TRACK: TCP sequence number expected next
 * @max_seq: just past the newest byte seen; a hint before it is stale
 * @rec_start: SYNCED, TRACK: TCP sequence number of the current record
 * @rec_len: its length on the wire, 0 while its header is incomplete
 * @rec_sn: SYNCED: its record number
 * @stop: SYNCED: rx_stop_every picked this record; lose after the packet
 * @cand_seq: TRACK: the header asked about
 * @cand_recs: TRACK: records begun since it
 * @cand_sn: TRACK, once @confirmed: its record number, from the core
 * @confirmed: TRACK: the core confirmed @cand_seq
 * @ask: TRACK: ask about @cand_seq once this packet is walked
 * @ask_len: ASYNC: the window of that request, from @cand_seq
 * @async_end: ASYNC: a request started; name @cand_seq at the next packet
 * @hint: WAIT: the core named a record start, @hint_seq
 * @hint_seq: where it starts
 * @hint_sn: its number
 * @async: ASYNC: the request, read by the core
 * @ctr: "ctr(aes)", synchronous, keyed at add: decrypts packet bytes
 * @gcm: "gcm(aes)", synchronous, keyed at add: checks tags
 * @req: request for @gcm, allocated at add
 * @sg: AAD and record body, for @req
 * @aad: AAD of the record being checked; not on the stack, @sg maps it
 * @iv: salt || explicit nonce of the record being checked
 * @salt: the implicit part of the IV, from the crypto info
 * @block: keystream block for a segment that starts inside one
 * @rec: SYNCED: the current record's bytes so far (header first);
 *	TRACK: its header; NSIM_TLS_MAX_REC_LEN bytes
 */
struct nsim_tls_rx_conn {
	struct list_head list;
	spinlock_t lock;	/* see above */
	bool dead;
	struct sock *sk;
	struct nsim_tls_rx *rx;
	bool ipv6;
	struct in6_addr saddr;
	struct in6_addr daddr;
	__be16 sport;
	__be16 dport;
	enum tls_offload_sync_type model;
	enum nsim_tls_rx_state state;
	u32 next_seq;
	u32 max_seq;
	u32 rec_start;
	u32 rec_len;
	u64 rec_sn;
	bool stop;
	u32 cand_seq;
	u32 cand_recs;
	u64 cand_sn;
	bool confirmed;
	bool ask;
	u16 ask_len;
	bool async_end;
	bool hint;
	u32 hint_seq;
	u64 hint_sn;
	struct tls_offload_resync_async async;
	struct crypto_sync_skcipher *ctr;
	struct crypto_aead *gcm;
	struct aead_request *req;
	struct scatterlist sg[2];
	u8 aad[NSIM_TLS_AAD_LEN];
	u8 iv[GCM_AES_IV_SIZE];
	u8 salt[NSIM_TLS_SALT_LEN];
	u8 block[AES_BLOCK_SIZE];
	u8 *rec;
};

/* A TCP segment with payload, as the engine reads it */
struct nsim_tls_rx_pkt {
	bool ipv6;
	struct in6_addr saddr;	/* IPv4: v4-mapped */
	struct in6_addr daddr;
	__be16 sport;
	__be16 dport;
	u32 seq;		/* of the first payload byte */
	u32 thoff;		/* TCP header, from skb->data */
	u32 off;		/* payload, from skb->data */
	u32 len;		/* payload bytes */
};

/**
 * struct nsim_tls_rx_walk - one packet's walk through the records
 * @skb: the packet
 * @seq: TCP sequence number of its first payload byte
 * @off: where its payload starts, from skb->data
 * @len: its payload bytes
 * @cand_off: where this packet's candidate header starts, or U32_MAX
 * @bypass: rx_bypass, read once per packet
 * @clean: every byte so far was walked in step (SYNCED), from the first
 * @snap_off: the position in the current record at the first byte
 * @snap_len: that record's length, 0 when its header was incomplete
 * @snap_prefix: the header and nonce bytes of it that came before
 */
struct nsim_tls_rx_walk {
	struct sk_buff *skb;
	u32 seq;
	u32 off;
	u32 len;
	u32 cand_off;
	bool bypass;
	bool clean;
	u32 snap_off;
	u32 snap_len;
	u8 snap_prefix[NSIM_TLS_PREFIX_LEN];
};

static struct nsim_tls_rx_conn **nsim_tls_rx_slot(struct tls_context *ctx)
{
	BUILD_BUG_ON(sizeof(struct nsim_tls_rx_conn *) >
		     TLS_DRIVER_STATE_SIZE_RX);
	return __tls_driver_ctx(ctx, TLS_OFFLOAD_CTX_DIR_RX);
}

static void nsim_tls_rx_conn_free(struct nsim_tls_rx_conn *conn)
{
	aead_request_free(conn->req);
	crypto_free_aead(conn->gcm);
	crypto_free_sync_skcipher(conn->ctr);
	/* plaintext of the last record checked */
	kfree_sensitive(conn->rec);
	kfree_sensitive(conn);
}

static int nsim_tls_rx_conn_keys(struct nsim_tls_rx_conn *conn,
				 const struct nsim_tls_keys *keys)
{
	int err;

	/* no CRYPTO_ALG_ASYNC: the receive path cannot wait */
	conn->ctr = crypto_alloc_sync_skcipher("ctr(aes)", 0, 0);
	if (IS_ERR(conn->ctr)) {
		err = PTR_ERR(conn->ctr);
		conn->ctr = NULL;
		return err;
	}
	conn->gcm = crypto_alloc_aead("gcm(aes)", 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(conn->gcm)) {
		err = PTR_ERR(conn->gcm);
		conn->gcm = NULL;
		return err;
	}
	if (crypto_aead_ivsize(conn->gcm) != GCM_AES_IV_SIZE)
		return -EINVAL;
	err = crypto_sync_skcipher_setkey(conn->ctr, keys->key, keys->keylen);
	if (!err)
		err = crypto_aead_setkey(conn->gcm, keys->key, keys->keylen);
	if (!err)
		err = crypto_aead_setauthsize(conn->gcm, NSIM_TLS_TAG_LEN);
	if (err)
		return err;

	conn->req = aead_request_alloc(conn->gcm, GFP_KERNEL);
	if (!conn->req)
		return -ENOMEM;
	/* no CRYPTO_TFM_REQ_MAY_SLEEP: it runs in softirq */
	aead_request_set_callback(conn->req, 0, NULL, NULL);
	memcpy(conn->salt, keys->salt, NSIM_TLS_SALT_LEN);
	return 0;
}

/* Learn the packets' addresses and ports from @sk, seen from the peer */
static int nsim_tls_rx_conn_bind(struct nsim_tls_rx_conn *conn,
				 struct sock *sk)
{
	const struct inet_sock *inet = inet_sk(sk);

	conn->sport = inet->inet_dport;
	conn->dport = inet->inet_sport;
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6 &&
	    !ipv6_addr_v4mapped(&sk->sk_v6_daddr)) {
		conn->ipv6 = true;
		conn->saddr = sk->sk_v6_daddr;
		conn->daddr = sk->sk_v6_rcv_saddr;
		return 0;
	}
#endif
	if (sk->sk_family != AF_INET && sk->sk_family != AF_INET6)
		return -EAFNOSUPPORT;
	/* an IPv6 socket talking to a v4-mapped peer gets IPv4 packets */
	ipv6_addr_set_v4mapped(inet->inet_daddr, &conn->saddr);
	ipv6_addr_set_v4mapped(inet->inet_rcv_saddr, &conn->daddr);
	return 0;
}

static struct nsim_tls_rx_conn *
nsim_tls_rx_conn_alloc(struct nsim_tls_rx *rx, struct sock *sk,
		       const struct nsim_tls_keys *keys, u32 start_seq)
{
	struct nsim_tls_rx_conn *conn;
	u8 resync;
	int err;

	conn = kzalloc(sizeof(*conn), GFP_KERNEL);
	if (!conn)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&conn->lock);
	conn->rec = kmalloc(NSIM_TLS_MAX_REC_LEN, GFP_KERNEL);
	err = conn->rec ? nsim_tls_rx_conn_keys(conn, keys) : -ENOMEM;
	if (!err)
		err = nsim_tls_rx_conn_bind(conn, sk);
	if (err) {
		nsim_tls_rx_conn_free(conn);
		return ERR_PTR(err);
	}

	conn->sk = sk;
	conn->rx = rx;
	/* a knob out of range gets the default */
	resync = READ_ONCE(rx->resync);
	if (resync != TLS_OFFLOAD_SYNC_TYPE_CORE_NEXT_HINT &&
	    resync != TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ_ASYNC)
		resync = TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ;
	conn->model = resync;
	/* the record the keys number starts at @start_seq: in step */
	conn->state = NSIM_TLS_RX_SYNCED;
	conn->next_seq = start_seq;
	conn->max_seq = start_seq;
	conn->rec_start = start_seq;
	conn->rec_sn = get_unaligned_be64(keys->rec_seq);
	return conn;
}

/**
 * nsim_tls_rx_add() - take the RX keys of @sk (tls_dev_add(), RX)
 * @ns: the receiving port
 * @sk: the socket, locked
 * @info: its keys
 * @start_seq: TCP sequence number of the record @info's rec_seq numbers
 *
 * Return: 0, or why the device refuses: the socket decrypts in software.
 */
int nsim_tls_rx_add(struct netdevsim *ns, struct sock *sk,
		    struct tls_crypto_info *info, u32 start_seq)
{
	struct nsim_tls_rx *rx = &ns->tls.rx;
	struct nsim_tls_rx_conn *conn;
	struct nsim_tls_keys keys;
	int err;

	if (READ_ONCE(rx->refuse_add)) {
		err = -EBUSY;
		goto refuse;
	}
	/* refuse_cipher is the transmit engine's knob */
	err = nsim_tls_parse_crypto_info(info, 0, &keys);
	if (err)
		goto refuse;
	conn = nsim_tls_rx_conn_alloc(rx, sk, &keys, start_seq);
	if (IS_ERR(conn)) {
		err = PTR_ERR(conn);
		goto refuse;
	}

	tls_offload_rx_resync_set_type(sk, conn->model);
	if (conn->model == TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ_ASYNC)
		tls_offload_ctx_rx(tls_get_ctx(sk))->resync_async = &conn->async;
	*nsim_tls_rx_slot(tls_get_ctx(sk)) = conn;

	spin_lock(&rx->lock);
	list_add_tail_rcu(&conn->list, &rx->conn_list);
	spin_unlock(&rx->lock);
	atomic_inc(&rx->adds);
	atomic_inc(&rx->conns);
	return 0;

refuse:
	atomic_inc(&rx->refusals);
	return err;
}

/**
 * nsim_tls_rx_del() - forget a connection (tls_dev_del(), RX)
 * @ns: the receiving port
 * @ctx: the connection's kTLS context; its socket may be gone
 *
 * Sleeps: waits for the receive path to let go of the connection.
 */
void nsim_tls_rx_del(struct netdevsim *ns, struct tls_context *ctx)
{
	struct nsim_tls_rx_conn **slot = nsim_tls_rx_slot(ctx);
	struct nsim_tls_rx_conn *conn = *slot;
	struct nsim_tls_rx *rx = &ns->tls.rx;

	if (WARN_ON_ONCE(!conn))
		return;
	WRITE_ONCE(*slot, NULL);

	spin_lock(&rx->lock);
	list_del_rcu(&conn->list);
	spin_unlock(&rx->lock);
	/* a packet walked from now on no longer reaches the socket */
	spin_lock_bh(&conn->lock);
	conn->dead = true;
	spin_unlock_bh(&conn->lock);
	/* and none still holds the connection after this */
	synchronize_rcu();

	nsim_tls_rx_conn_free(conn);
	atomic_inc(&rx->dels);
	atomic_dec(&rx->conns);
}

/*
 * The engine no longer knows where it is: stop decrypting and start over
 * as the connection's model says. Under conn->lock.
 */
static void nsim_tls_rx_lose(struct nsim_tls_rx_conn *conn)
{
	/* in step, or about to be with the core's word */
	if (conn->state == NSIM_TLS_RX_SYNCED ||
	    (conn->state == NSIM_TLS_RX_TRACK && conn->confirmed))
		atomic_inc(&conn->rx->losses);
	/* a request the core still logs for would find nothing */
	if (conn->state == NSIM_TLS_RX_TRACK &&
	    conn->model == TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ_ASYNC)
		tls_offload_rx_resync_async_request_cancel(&conn->async);

	conn->state = conn->model == TLS_OFFLOAD_SYNC_TYPE_CORE_NEXT_HINT ?
		      NSIM_TLS_RX_WAIT : NSIM_TLS_RX_SEARCH;
	conn->stop = false;
	conn->confirmed = false;
	conn->ask = false;
	conn->async_end = false;
	conn->hint = false;
}

/* Lose the place in the middle of @w: the packet stays as it came */
static void nsim_tls_rx_fail(struct nsim_tls_rx_conn *conn,
			     struct nsim_tls_rx_walk *w)
{
	nsim_tls_rx_lose(conn);
	w->clean = false;
}

/*
 * Could @hdr start a TLS 1.2 AES-GCM record? Any content type a peer may
 * send, the version every TLS 1.2 record carries, and a length that
 * holds a nonce, a tag and at most a full record of plaintext.
 */
static bool nsim_tls_rx_hdr_ok(const u8 *hdr, u32 *rec_len)
{
	u16 len = get_unaligned_be16(hdr + 3);

	if (hdr[0] < TLS_RECORD_TYPE_CHANGE_CIPHER_SPEC ||
	    hdr[0] > TLS_RECORD_TYPE_DATA ||
	    hdr[1] != TLS_1_2_VERSION_MAJOR ||
	    hdr[2] != TLS_1_2_VERSION_MINOR ||
	    len < NSIM_TLS_RX_MIN_LEN || len > NSIM_TLS_RX_MAX_LEN)
		return false;
	*rec_len = TLS_HEADER_SIZE + len;
	return true;
}

/* Check the tag of the whole record in conn->rec; it turns to plaintext */
static bool nsim_tls_rx_verify(struct nsim_tls_rx_conn *conn)
{
	unsigned int body = conn->rec_len - NSIM_TLS_PREFIX_LEN;
	u8 *hdr = conn->rec;

	put_unaligned_be64(conn->rec_sn, conn->aad);
	memcpy(conn->aad + 8, hdr, 3);	/* type and version */
	put_unaligned_be16(body - NSIM_TLS_TAG_LEN, conn->aad + 11);
	memcpy(conn->iv, conn->salt, NSIM_TLS_SALT_LEN);
	memcpy(conn->iv + NSIM_TLS_SALT_LEN, hdr + TLS_HEADER_SIZE,
	       NSIM_TLS_NONCE_LEN);

	sg_init_table(conn->sg, ARRAY_SIZE(conn->sg));
	sg_set_buf(&conn->sg[0], conn->aad, NSIM_TLS_AAD_LEN);
	sg_set_buf(&conn->sg[1], hdr + NSIM_TLS_PREFIX_LEN, body);
	aead_request_set_crypt(conn->req, conn->sg, conn->sg, body, conn->iv);
	aead_request_set_ad(conn->req, NSIM_TLS_AAD_LEN);
	return !crypto_aead_decrypt(conn->req);
}

/* A new record begins at conn->next_seq; the walk is at @p of @w */
static void nsim_tls_rx_rec_begin(struct nsim_tls_rx_conn *conn,
				  struct nsim_tls_rx_walk *w, u32 p)
{
	struct nsim_tls_rx *rx = conn->rx;
	u32 every;

	conn->rec_start = conn->next_seq;
	conn->rec_len = 0;

	if (conn->state == NSIM_TLS_RX_TRACK) {
		conn->cand_recs++;
		if (conn->confirmed) {
			/* the first record start after the core's word */
			conn->state = NSIM_TLS_RX_SYNCED;
			conn->rec_sn = conn->cand_sn + conn->cand_recs;
			conn->confirmed = false;
		} else if (conn->cand_recs >= NSIM_TLS_RX_ASK_AGAIN) {
			conn->cand_seq = conn->rec_start;
			conn->cand_recs = 0;
			conn->ask = true;
			conn->ask_len = min_t(u32, w->len - p, U16_MAX);
		}
	}
	if (conn->state != NSIM_TLS_RX_SYNCED)
		return;

	every = READ_ONCE(rx->stop_every);
	if (every && (u32)atomic_inc_return(&rx->stop_seq) % every == 0)
		conn->stop = true;
}

/* The current record's last byte went by; the walk goes on after it */
static void nsim_tls_rx_rec_end(struct nsim_tls_rx_conn *conn,
				struct nsim_tls_rx_walk *w)
{
	struct nsim_tls_rx *rx = conn->rx;

	if (conn->state == NSIM_TLS_RX_SYNCED) {
		if (!w->bypass) {
			if (!nsim_tls_rx_verify(conn)) {
				/* the packet with the tag stays ciphertext */
				atomic_inc(&rx->auth_fails);
				nsim_tls_rx_fail(conn, w);
				return;
			}
			atomic_inc(&rx->records);
		}
		conn->rec_sn++;
	}
	conn->rec_start = conn->next_seq;
	conn->rec_len = 0;
}

/* Remember where the packet's first byte is, to decrypt it later */
static void nsim_tls_rx_snap(struct nsim_tls_rx_conn *conn,
			     struct nsim_tls_rx_walk *w)
{
	w->snap_off = conn->next_seq - conn->rec_start;
	w->snap_len = conn->rec_len;
	memcpy(w->snap_prefix, conn->rec,
	       min_t(u32, w->snap_off, NSIM_TLS_PREFIX_LEN));
}

/* SYNCED or TRACK: walk the bytes of the current record at @p; how many */
static u32 nsim_tls_rx_step(struct nsim_tls_rx_conn *conn,
			    struct nsim_tls_rx_walk *w, u32 p)
{
	u32 off = conn->next_seq - conn->rec_start;
	bool keep;
	u32 n;

	if (!conn->rec_len && !off)
		nsim_tls_rx_rec_begin(conn, w, p);
	if (!p && conn->state == NSIM_TLS_RX_SYNCED)
		nsim_tls_rx_snap(conn, w);
	if (conn->state != NSIM_TLS_RX_SYNCED)
		w->clean = false;

	if (!conn->rec_len) {
		/* the header, perhaps cut in two by the segment's end */
		n = min(TLS_HEADER_SIZE - off, w->len - p);
		if (skb_copy_bits(w->skb, w->off + p, conn->rec + off, n))
			goto fail;
		conn->next_seq += n;
		if (off + n == TLS_HEADER_SIZE &&
		    !nsim_tls_rx_hdr_ok(conn->rec, &conn->rec_len))
			goto fail;
		return n;
	}

	n = min(conn->rec_len - off, w->len - p);
	/* the tag is checked on this copy once the record is whole */
	keep = conn->state == NSIM_TLS_RX_SYNCED && !w->bypass;
	if (keep && skb_copy_bits(w->skb, w->off + p, conn->rec + off, n))
		goto fail;
	conn->next_seq += n;
	if (off + n == conn->rec_len)
		nsim_tls_rx_rec_end(conn, w);
	return n;

fail:
	/* not a record where one was due: mine was wrong, or the core's */
	nsim_tls_rx_fail(conn, w);
	return 0;
}

/*
 * SEARCH: find a plausible header wholly inside the payload, from @from,
 * and follow it from there. Return where the walk goes on.
 */
static u32 nsim_tls_rx_search(struct nsim_tls_rx_conn *conn,
			      struct nsim_tls_rx_walk *w, u32 from)
{
	u8 buf[TLS_HEADER_SIZE];
	const u8 *hdr;
	u32 q, len;

	w->clean = false;
	for (q = from; q + TLS_HEADER_SIZE <= w->len; q++) {
		hdr = skb_header_pointer(w->skb, w->off + q, sizeof(buf), buf);
		if (!hdr || !nsim_tls_rx_hdr_ok(hdr, &len))
			continue;
		conn->state = NSIM_TLS_RX_TRACK;
		conn->next_seq = w->seq + q;
		conn->rec_start = conn->next_seq;
		conn->rec_len = 0;
		conn->cand_seq = conn->next_seq;
		/* nsim_tls_rx_rec_begin() counts the candidate itself */
		conn->cand_recs = U32_MAX;
		conn->confirmed = false;
		conn->ask = true;
		conn->ask_len = min_t(u32, w->len - q, U16_MAX);
		w->cand_off = q;
		return q;
	}
	return w->len;
}

/* Walk the payload of @w from @p in the connection's state */
static void nsim_tls_rx_walk(struct nsim_tls_rx_conn *conn,
			     struct nsim_tls_rx_walk *w, u32 p)
{
	enum nsim_tls_rx_state was;
	u32 n;

	while (p < w->len) {
		switch (conn->state) {
		case NSIM_TLS_RX_SYNCED:
		case NSIM_TLS_RX_TRACK:
			was = conn->state;
			n = nsim_tls_rx_step(conn, w, p);
			if (conn->state != NSIM_TLS_RX_SEARCH) {
				p += n;
				break;
			}
			/*
			 * Lost. A candidate this packet gave was wrong: look
			 * again just after it. One from an earlier packet
			 * broke here: the real header may be anywhere in the
			 * packet. In step until a tag or header failed: the
			 * bytes before are accounted for, look on from here.
			 */
			if (was == NSIM_TLS_RX_TRACK &&
			    w->cand_off != U32_MAX)
				p = w->cand_off + 1;
			else if (was == NSIM_TLS_RX_TRACK)
				p = 0;
			else
				p += n;
			w->cand_off = U32_MAX;
			break;
		case NSIM_TLS_RX_SEARCH:
			p = nsim_tls_rx_search(conn, w, p);
			break;
		case NSIM_TLS_RX_WAIT:
			return;
		}
	}
}

/* Ask the core about conn->cand_seq, in the connection's model */
static void nsim_tls_rx_ask(struct nsim_tls_rx_conn *conn)
{
	conn->ask = false;
	atomic_inc(&conn->rx->requests);
	if (conn->model == TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ_ASYNC) {
		tls_offload_rx_resync_async_request_start(&conn->async,
							  htonl(conn->cand_seq),
							  conn->ask_len);
		conn->async_end = true;
		return;
	}
	/* DRIVER_REQ names the header's last byte */
	tls_offload_rx_resync_request(conn->sk,
				      htonl(conn->cand_seq +
					    TLS_HEADER_SIZE - 1));
}

/*
 * TRACK: a chain needs the headers only. A gap that ends inside the body
 * of the current record (reordering, a loss) hides none: step over it,
 * rather than drop a candidate the core may be about to confirm. The
 * missing bytes come later, as old ones.
 */
static bool nsim_tls_rx_skip(struct nsim_tls_rx_conn *conn, u32 seq)
{
	u32 rec_end = conn->rec_start + conn->rec_len;

	if (conn->state != NSIM_TLS_RX_TRACK || !conn->rec_len ||
	    before(seq, conn->next_seq) || after(seq, rec_end))
		return false;
	conn->next_seq = seq;
	if (seq == rec_end) {
		conn->rec_start = seq;
		conn->rec_len = 0;
	}
	return true;
}

/*
 * Where does the walk of a packet at @seq start, if at all? Decides on
 * in-order, old and out-of-order packets. Return the payload offset to
 * walk from, or U32_MAX to let the packet by.
 */
static u32 nsim_tls_rx_start(struct nsim_tls_rx_conn *conn,
			     struct nsim_tls_rx_walk *w)
{
	struct nsim_tls_rx *rx = conn->rx;
	u32 end = w->seq + w->len;

	switch (conn->state) {
	case NSIM_TLS_RX_SYNCED:
	case NSIM_TLS_RX_TRACK:
		/* a retransmission of bytes walked already: no harm */
		if (!after(end, conn->next_seq))
			return U32_MAX;
		if (w->seq != conn->next_seq &&
		    !nsim_tls_rx_skip(conn, w->seq)) {
			nsim_tls_rx_fail(conn, w);
			return nsim_tls_rx_start(conn, w);
		}
		/* ASYNC: the answer to the request comes a packet later */
		if (conn->async_end) {
			conn->async_end = false;
			tls_offload_rx_resync_async_request_end(&conn->async,
								htonl(conn->cand_seq));
		}
		return 0;
	case NSIM_TLS_RX_SEARCH:
		/* old bytes the core may have parsed already: new ones only */
		return after(end, conn->max_seq) ? 0 : U32_MAX;
	case NSIM_TLS_RX_WAIT:
		if (!conn->hint || !after(end, conn->hint_seq))
			return U32_MAX;
		if (after(w->seq, conn->hint_seq)) {
			/* it went by unseen; the core hints again */
			conn->hint = false;
			return U32_MAX;
		}
		conn->hint = false;
		conn->state = NSIM_TLS_RX_SYNCED;
		conn->next_seq = conn->hint_seq;
		conn->rec_start = conn->hint_seq;
		conn->rec_len = 0;
		conn->rec_sn = conn->hint_sn;
		atomic_inc(&rx->resyncs);
		return conn->hint_seq - w->seq;
	}
	return U32_MAX;
}

/* Keystream-decrypt @len bytes at @buf, at @pos of a record's payload */
static int nsim_tls_rx_ctr(struct nsim_tls_rx_conn *conn, const u8 *nonce,
			   u32 pos, u8 *buf, u32 len)
{
	SYNC_SKCIPHER_REQUEST_ON_STACK(req, conn->ctr);
	u32 lead = pos % AES_BLOCK_SIZE;
	struct scatterlist sg;
	u8 iv[AES_BLOCK_SIZE];
	int err = 0;

	skcipher_request_set_sync_tfm(req, conn->ctr);
	skcipher_request_set_callback(req, 0, NULL, NULL);
	memcpy(iv, conn->salt, NSIM_TLS_SALT_LEN);
	memcpy(iv + NSIM_TLS_SALT_LEN, nonce, NSIM_TLS_NONCE_LEN);

	if (lead) {
		/* a block begun in the previous packet: its keystream's tail */
		u32 n = min(len, AES_BLOCK_SIZE - lead);

		memset(conn->block, 0, sizeof(conn->block));
		memcpy(conn->block + lead, buf, n);
		put_unaligned_be32(NSIM_TLS_RX_CTR0 + pos / AES_BLOCK_SIZE,
				   iv + 12);
		sg_init_one(&sg, conn->block, sizeof(conn->block));
		skcipher_request_set_crypt(req, &sg, &sg, sizeof(conn->block),
					   iv);
		err = crypto_skcipher_decrypt(req);
		if (err)
			goto out;
		memcpy(buf, conn->block + lead, n);
		buf += n;
		pos += n;
		len -= n;
	}
	if (len) {
		/* ctr(aes) moved the IV on: set the block's counter again */
		put_unaligned_be32(NSIM_TLS_RX_CTR0 + pos / AES_BLOCK_SIZE,
				   iv + 12);
		sg_init_one(&sg, buf, len);
		skcipher_request_set_crypt(req, &sg, &sg, len, iv);
		err = crypto_skcipher_decrypt(req);
	}
out:
	skcipher_request_zero(req);
	memzero_explicit(conn->block, sizeof(conn->block));
	return err;
}

/*
 * Decrypt the payload of a packet walked clean, in place at @payload
 * (linear, private): walk its records again from the snapshot, now
 * knowing all of them check out, and run the keystream over the bytes
 * between each record's nonce and its tag.
 */
static int nsim_tls_rx_decrypt(struct nsim_tls_rx_conn *conn,
			       struct nsim_tls_rx_walk *w, u8 *payload)
{
	u32 off = w->snap_off, rec_len = w->snap_len;
	u8 *prefix = w->snap_prefix;
	u32 p, n, body_end;
	int err;

	for (p = 0; p < w->len; p += n, off += n) {
		if (off == rec_len) {
			off = 0;
			rec_len = 0;
		}
		if (off < NSIM_TLS_PREFIX_LEN) {
			/* header and nonce: as they came, but learn them */
			n = min(NSIM_TLS_PREFIX_LEN - off, w->len - p);
			if (!rec_len)
				n = min(TLS_HEADER_SIZE - off, n);
			memcpy(prefix + off, payload + p, n);
			if (!rec_len && off + n == TLS_HEADER_SIZE)
				rec_len = TLS_HEADER_SIZE +
					  get_unaligned_be16(prefix + 3);
			continue;
		}
		body_end = rec_len - NSIM_TLS_TAG_LEN;
		if (off >= body_end) {
			n = min(rec_len - off, w->len - p);	/* the tag */
			continue;
		}
		n = min(body_end - off, w->len - p);
		err = nsim_tls_rx_ctr(conn, prefix + TLS_HEADER_SIZE,
				      off - NSIM_TLS_PREFIX_LEN, payload + p, n);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Walk one packet of @conn and decrypt it if it can. Under conn->lock.
 * Return: true when @skb holds plaintext now and is to be marked.
 */
static bool nsim_tls_rx_packet(struct nsim_tls_rx_conn *conn,
			       struct sk_buff *skb,
			       const struct nsim_tls_rx_pkt *pkt)
{
	struct nsim_tls_rx_walk w = {
		.skb = skb,
		.seq = pkt->seq,
		.off = pkt->off,
		.len = pkt->len,
		.cand_off = U32_MAX,
		.bypass = READ_ONCE(conn->rx->bypass),
		.clean = true,
	};
	bool mark = false;
	u32 p;

	p = nsim_tls_rx_start(conn, &w);
	if (p == U32_MAX)
		goto out;
	if (p)
		w.clean = false;
	nsim_tls_rx_walk(conn, &w, p);

	if (conn->ask && conn->state == NSIM_TLS_RX_TRACK)
		nsim_tls_rx_ask(conn);
	mark = w.clean && conn->state == NSIM_TLS_RX_SYNCED;
	if (mark && !w.bypass) {
		/*
		 * The pages may be the sender's (page cache, TCP's
		 * retransmit queue): decrypt a private, linear copy.
		 */
		if (skb_linearize(skb) || skb_unclone(skb, GFP_ATOMIC) ||
		    nsim_tls_rx_decrypt(conn, &w, skb->data + pkt->off)) {
			nsim_tls_rx_lose(conn);
			mark = false;
		}
	}
	/* rx_stop_every: the record's later packets pass as ciphertext */
	if (conn->stop)
		nsim_tls_rx_lose(conn);
out:
	if (after(w.seq + w.len, conn->max_seq))
		conn->max_seq = w.seq + w.len;
	return mark;
}

/*
 * CORE_NEXT_HINT: the record numbered @sn starts at @seq. Useful while
 * lost and only if that byte has not gone by yet; the core hints again
 * later otherwise.
 */
static void nsim_tls_rx_hint(struct nsim_tls_rx_conn *conn, u32 seq, u64 sn)
{
	if (conn->state != NSIM_TLS_RX_WAIT || before(seq, conn->max_seq))
		return;
	conn->hint = true;
	conn->hint_seq = seq;
	conn->hint_sn = sn;
}

/* DRIVER_REQ(_ASYNC): the core confirms the header asked about */
static void nsim_tls_rx_confirm(struct nsim_tls_rx_conn *conn, u32 seq,
				u64 sn)
{
	u32 want = conn->cand_seq;

	if (conn->state != NSIM_TLS_RX_TRACK || conn->confirmed)
		return;
	if (conn->model == TLS_OFFLOAD_SYNC_TYPE_DRIVER_REQ)
		want += TLS_HEADER_SIZE - 1;
	if (seq != want)
		return;	/* an older request's answer */
	/* decrypting starts at the next record start (rec_begin()) */
	conn->confirmed = true;
	conn->cand_sn = sn;
	atomic_inc(&conn->rx->resyncs);
}

/**
 * nsim_tls_rx_resync() - the core's word on the stream (tls_dev_resync())
 * @ns: the receiving port
 * @sk: the socket, locked or in its data_ready callback
 * @seq: DRIVER_REQ: the last header byte asked about; DRIVER_REQ_ASYNC:
 *	the header named; CORE_NEXT_HINT: a record start not received yet
 * @rcd_sn: the number of that record, 8 bytes big endian
 *
 * Does not sleep.
 *
 * Return: 0.
 */
int nsim_tls_rx_resync(struct netdevsim *ns, struct sock *sk, u32 seq,
		       const u8 *rcd_sn)
{
	u64 sn = get_unaligned_be64(rcd_sn);
	struct nsim_tls_rx_conn *conn;

	rcu_read_lock();
	conn = READ_ONCE(*nsim_tls_rx_slot(tls_get_ctx(sk)));
	if (conn) {
		spin_lock_bh(&conn->lock);
		if (conn->dead)
			goto unlock;
		if (conn->model == TLS_OFFLOAD_SYNC_TYPE_CORE_NEXT_HINT)
			nsim_tls_rx_hint(conn, seq, sn);
		else
			nsim_tls_rx_confirm(conn, seq, sn);
unlock:
		spin_unlock_bh(&conn->lock);
	}
	rcu_read_unlock();
	return 0;
}

/* Read the addresses, ports and payload bounds of a TCP segment */
static bool nsim_tls_rx_parse(struct sk_buff *skb, struct nsim_tls_rx_pkt *pkt)
{
	unsigned int iplen, end;
	const struct tcphdr *th;
	struct tcphdr thbuf;

	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph;
		struct iphdr iphbuf;

		iph = skb_header_pointer(skb, 0, sizeof(iphbuf), &iphbuf);
		if (!iph || iph->version != 4 || iph->ihl < 5 ||
		    iph->protocol != IPPROTO_TCP || ip_is_fragment(iph))
			return false;
		pkt->ipv6 = false;
		ipv6_addr_set_v4mapped(iph->saddr, &pkt->saddr);
		ipv6_addr_set_v4mapped(iph->daddr, &pkt->daddr);
		pkt->thoff = iph->ihl * 4;
		iplen = ntohs(iph->tot_len);
	} else if (skb->protocol == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ip6h;
		struct ipv6hdr ip6hbuf;

		ip6h = skb_header_pointer(skb, 0, sizeof(ip6hbuf), &ip6hbuf);
		/* extension headers: not for this engine */
		if (!ip6h || ip6h->version != 6 ||
		    ip6h->nexthdr != IPPROTO_TCP)
			return false;
		pkt->ipv6 = true;
		pkt->saddr = ip6h->saddr;
		pkt->daddr = ip6h->daddr;
		pkt->thoff = sizeof(*ip6h);
		iplen = ntohs(ip6h->payload_len);
		if (iplen)
			iplen += sizeof(*ip6h);
	} else {
		return false;
	}

	th = skb_header_pointer(skb, pkt->thoff, sizeof(thbuf), &thbuf);
	if (!th || th->doff < 5)
		return false;
	pkt->off = pkt->thoff + th->doff * 4;
	/* a length of 0 is a GSO packet past 64k (BIG TCP): the skb's */
	end = iplen && iplen < skb->len ? iplen : skb->len;
	if (end <= pkt->off)
		return false;
	pkt->len = end - pkt->off;
	pkt->seq = ntohl(th->seq);
	pkt->sport = th->source;
	pkt->dport = th->dest;
	return true;
}

/* The offloaded connection @pkt belongs to, if any. Under RCU. */
static struct nsim_tls_rx_conn *
nsim_tls_rx_lookup(struct nsim_tls_rx *rx, const struct nsim_tls_rx_pkt *pkt)
{
	struct nsim_tls_rx_conn *conn;

	list_for_each_entry_rcu(conn, &rx->conn_list, list) {
		if (conn->sport == pkt->sport && conn->dport == pkt->dport &&
		    conn->ipv6 == pkt->ipv6 &&
		    ipv6_addr_equal(&conn->saddr, &pkt->saddr) &&
		    ipv6_addr_equal(&conn->daddr, &pkt->daddr))
			return conn;
	}
	return NULL;
}

/*
 * A NIC checks the TCP checksum before it decrypts, and reports it
 * checked (the old sum does not cover the plaintext). A packet whose sum
 * the stack will check itself is checked here first: a corrupt one must
 * not move the engine, TCP drops it.
 */
static bool nsim_tls_rx_csum_ok(struct sk_buff *skb,
				const struct nsim_tls_rx_pkt *pkt)
{
	u32 len = pkt->off + pkt->len - pkt->thoff;
	__wsum csum;

	if (skb->ip_summed == CHECKSUM_PARTIAL ||
	    skb->ip_summed == CHECKSUM_UNNECESSARY)
		return true;
	csum = skb_checksum(skb, pkt->thoff, len, 0);
	if (pkt->ipv6)
		return !csum_ipv6_magic(&pkt->saddr, &pkt->daddr, len,
					IPPROTO_TCP, csum);
	return !csum_tcpudp_magic(pkt->saddr.s6_addr32[3],
				  pkt->daddr.s6_addr32[3], len, IPPROTO_TCP,
				  csum);
}

static void nsim_tls_rx_set_decrypted(struct sk_buff *skb, bool decrypted)
{
#ifdef CONFIG_SKB_DECRYPTED
	skb->decrypted = decrypted;
#endif
}

/* rx_drop_every: lose every Nth payload packet, like a wire */
static bool nsim_tls_rx_should_drop(struct nsim_tls_rx *rx)
{
	u32 every = READ_ONCE(rx->drop_every);

	return every && (u32)atomic_inc_return(&rx->drop_seq) % every == 0;
}

/**
 * nsim_tls_rx() - decrypt what the TLS RX offload asked this device to
 * @ns: the receiving port
 * @skb: a packet from the peer, past eth_type_trans(), not queued yet
 *
 * Return: @skb, decrypted and marked or as it came; NULL when it was
 * dropped (and freed).
 */
struct sk_buff *nsim_tls_rx(struct netdevsim *ns, struct sk_buff *skb)
{
	struct nsim_tls_rx *rx = &ns->tls.rx;
	struct nsim_tls_rx_conn *conn;
	struct nsim_tls_rx_pkt pkt;
	bool mark = false;

	if (!(ns->netdev->features & NETIF_F_HW_TLS_RX) ||
	    list_empty_careful(&rx->conn_list))
		return skb;
	if (!nsim_tls_rx_parse(skb, &pkt))
		return skb;

	rcu_read_lock();
	conn = nsim_tls_rx_lookup(rx, &pkt);
	if (!conn)
		goto out;
	if (nsim_tls_rx_should_drop(rx)) {
		rcu_read_unlock();
		atomic_inc(&rx->drops);
		dev_kfree_skb_any(skb);
		return NULL;
	}
	if (nsim_tls_rx_csum_ok(skb, &pkt)) {
		spin_lock_bh(&conn->lock);
		if (!conn->dead)
			mark = nsim_tls_rx_packet(conn, skb, &pkt);
		spin_unlock_bh(&conn->lock);
	}
	/* the wire carries no such bit: only the engine's word counts */
	nsim_tls_rx_set_decrypted(skb, mark);
	if (!mark) {
		atomic_inc(&rx->passed);
		goto out;
	}
	/* the sum was checked on the ciphertext, if it was not partial */
	if (skb->ip_summed != CHECKSUM_PARTIAL) {
		skb->ip_summed = CHECKSUM_UNNECESSARY;
		skb->csum_level = 0;
	}
	atomic_inc(&rx->packets);
out:
	rcu_read_unlock();
	return skb;
}

void nsim_tls_rx_init(struct netdevsim *ns)
{
	struct nsim_tls_rx *rx = &ns->tls.rx;
	struct dentry *dir = ns->tls.ddir;

	INIT_LIST_HEAD(&rx->conn_list);
	spin_lock_init(&rx->lock);

	/*
	 * Off until ethtool turns it on, as on mlx5. The stack only lets
	 * it on with RXCSUM, which the engine honours: it checks sums
	 * before it decrypts.
	 */
	ns->netdev->hw_features |= NETIF_F_HW_TLS_RX | NETIF_F_RXCSUM;
	ns->netdev->features |= NETIF_F_RXCSUM;

	debugfs_create_bool("rx_refuse_add", 0600, dir, &rx->refuse_add);
	debugfs_create_u8("rx_resync", 0600, dir, &rx->resync);
	debugfs_create_u32("rx_drop_every", 0600, dir, &rx->drop_every);
	debugfs_create_u32("rx_stop_every", 0600, dir, &rx->stop_every);
	debugfs_create_bool("rx_bypass", 0600, dir, &rx->bypass);

	debugfs_create_atomic_t("rx_adds", 0400, dir, &rx->adds);
	debugfs_create_atomic_t("rx_dels", 0400, dir, &rx->dels);
	debugfs_create_atomic_t("rx_conns", 0400, dir, &rx->conns);
	debugfs_create_atomic_t("rx_refusals", 0400, dir, &rx->refusals);
	debugfs_create_atomic_t("rx_packets", 0400, dir, &rx->packets);
	debugfs_create_atomic_t("rx_records", 0400, dir, &rx->records);
	debugfs_create_atomic_t("rx_auth_fails", 0400, dir, &rx->auth_fails);
	debugfs_create_atomic_t("rx_passed", 0400, dir, &rx->passed);
	debugfs_create_atomic_t("rx_losses", 0400, dir, &rx->losses);
	debugfs_create_atomic_t("rx_requests", 0400, dir, &rx->requests);
	debugfs_create_atomic_t("rx_resyncs", 0400, dir, &rx->resyncs);
	debugfs_create_atomic_t("rx_drops", 0400, dir, &rx->drops);
}

void nsim_tls_rx_teardown(struct netdevsim *ns)
{
	int conns = atomic_read(&ns->tls.rx.conns);

	/* the core deletes every connection when the device unregisters */
	if (conns)
		netdev_err(ns->netdev, "tearing down TLS RX offload with %d connections left\n",
			   conns);
}
