// SPDX-License-Identifier: GPL-2.0
/*
 * Emulated kTLS transmit offload: TLS 1.2 records with AES-GCM (128 or
 * 256 bit keys), encrypted by "the device" on their way to the peer.
 *
 * The core hands us skbs whose TCP payload is the plaintext of whole
 * records laid out as they go on the wire (header, explicit nonce,
 * plaintext, room for the tag). A real NIC encrypts that stream as it
 * flows and has to rebuild its state from the core's record list when a
 * packet is not the one it expected. The emulation keeps the whole of one
 * record encrypted in a per-connection cache instead: a record is fetched
 * with tls_get_record() and encrypted once, the first time a packet
 * touches it, and every packet carrying a part of it copies its bytes of
 * ciphertext (or tag) from there.
 *
 * The receive engine is in tls_rx.c; the tlsdev_ops here hand it the
 * calls for TLS_OFFLOAD_CTX_DIR_RX.
 */

#include <crypto/aead.h>
#include <crypto/gcm.h>
#include <linux/debugfs.h>
#include <linux/highmem.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/unaligned.h>
#include <net/checksum.h>
#include <net/ip6_checksum.h>
#include <net/tcp.h>
#include <net/tls.h>

#include "netdevsim.h"

/**
 * struct nsim_tls_conn - the device's state for one offloaded connection
 * @aead: "gcm(aes)", synchronous so that it can run in xmit, keyed at add
 * @req: request for @aead, allocated at add so xmit does not allocate
 * @lock: serialises xmit users of everything below
 * @sg: AAD and record body, for @req
 * @aad: AAD of the record being encrypted; not on the stack, @sg maps it
 * @iv: salt || explicit nonce of the record being encrypted
 * @salt: the implicit part of the IV, from the crypto info
 * @next_seq: TCP sequence number the next in-order packet starts at
 * @cached: @rec holds the encrypted record described by the fields below
 * @rec_sn: its TLS record sequence number
 * @rec_start: TCP sequence number of its first byte
 * @rec_len: its length on the wire, header to tag
 * @rec: the record, NSIM_TLS_MAX_REC_LEN bytes
 */
struct nsim_tls_conn {
	struct crypto_aead *aead;
	struct aead_request *req;
	spinlock_t lock;	/* see above */
	struct scatterlist sg[2];
	u8 aad[NSIM_TLS_AAD_LEN];
	u8 iv[GCM_AES_IV_SIZE];
	u8 salt[NSIM_TLS_SALT_LEN];
	u32 next_seq;
	bool cached;
	u64 rec_sn;
	u32 rec_start;
	u32 rec_len;
	u8 *rec;
};

static struct nsim_tls_conn **nsim_tls_conn_slot(struct tls_context *ctx)
{
	BUILD_BUG_ON(sizeof(struct nsim_tls_conn *) > TLS_DRIVER_STATE_SIZE_TX);
	return __tls_driver_ctx(ctx, TLS_OFFLOAD_CTX_DIR_TX);
}

static void nsim_tls_conn_free(struct nsim_tls_conn *conn)
{
	aead_request_free(conn->req);
	crypto_free_aead(conn->aead);
	/* may still hold plaintext if the last encryption failed */
	kfree_sensitive(conn->rec);
	kfree_sensitive(conn);
}

static struct nsim_tls_conn *
nsim_tls_conn_alloc(const u8 *key, unsigned int keylen, const u8 *salt,
		    u32 start_seq)
{
	struct nsim_tls_conn *conn;
	int err = -ENOMEM;

	conn = kzalloc(sizeof(*conn), GFP_KERNEL);
	if (!conn)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&conn->lock);
	memcpy(conn->salt, salt, NSIM_TLS_SALT_LEN);
	conn->next_seq = start_seq;

	conn->rec = kmalloc(NSIM_TLS_MAX_REC_LEN, GFP_KERNEL);
	if (!conn->rec)
		goto err_free;

	/* no CRYPTO_ALG_ASYNC: xmit cannot wait for a completion */
	conn->aead = crypto_alloc_aead("gcm(aes)", 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(conn->aead)) {
		err = PTR_ERR(conn->aead);
		conn->aead = NULL;
		goto err_free;
	}
	if (crypto_aead_ivsize(conn->aead) != GCM_AES_IV_SIZE) {
		err = -EINVAL;
		goto err_free;
	}
	err = crypto_aead_setkey(conn->aead, key, keylen);
	if (!err)
		err = crypto_aead_setauthsize(conn->aead, NSIM_TLS_TAG_LEN);
	if (err)
		goto err_free;

	conn->req = aead_request_alloc(conn->aead, GFP_KERNEL);
	if (!conn->req) {
		err = -ENOMEM;
		goto err_free;
	}
	/* no CRYPTO_TFM_REQ_MAY_SLEEP: it runs in softirq */
	aead_request_set_callback(conn->req, 0, NULL, NULL);

	return conn;

err_free:
	nsim_tls_conn_free(conn);
	return ERR_PTR(err);
}

/*
 * Find the key, salt and record number in @info, or refuse it (also when
 * its cipher is @refused, a TLS_CIPHER_* or 0). Both engines use it.
 */
int nsim_tls_parse_crypto_info(struct tls_crypto_info *info, u16 refused,
			       struct nsim_tls_keys *keys)
{
	struct tls12_crypto_info_aes_gcm_128 *gcm128;
	struct tls12_crypto_info_aes_gcm_256 *gcm256;

	/* both ciphers share the record layout the engines build on */
	BUILD_BUG_ON(sizeof(gcm128->salt) != NSIM_TLS_SALT_LEN ||
		     sizeof(gcm256->salt) != NSIM_TLS_SALT_LEN);
	BUILD_BUG_ON(sizeof(gcm128->iv) != NSIM_TLS_NONCE_LEN ||
		     sizeof(gcm256->iv) != NSIM_TLS_NONCE_LEN);
	BUILD_BUG_ON(sizeof(gcm128->rec_seq) != 8 ||
		     sizeof(gcm256->rec_seq) != 8);

	if (info->version != TLS_1_2_VERSION)
		return -EOPNOTSUPP;
	if (refused && refused == info->cipher_type)
		return -EOPNOTSUPP;

	switch (info->cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		gcm128 = container_of(info, typeof(*gcm128), info);
		keys->key = gcm128->key;
		keys->keylen = sizeof(gcm128->key);
		keys->salt = gcm128->salt;
		keys->rec_seq = gcm128->rec_seq;
		return 0;
	case TLS_CIPHER_AES_GCM_256:
		gcm256 = container_of(info, typeof(*gcm256), info);
		keys->key = gcm256->key;
		keys->keylen = sizeof(gcm256->key);
		keys->salt = gcm256->salt;
		keys->rec_seq = gcm256->rec_seq;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

static int nsim_tls_dev_add(struct net_device *netdev, struct sock *sk,
			    enum tls_offload_ctx_dir direction,
			    struct tls_crypto_info *crypto_info,
			    u32 start_offload_tcp_sn)
{
	struct netdevsim *ns = netdev_priv(netdev);
	struct nsim_tls *tls = &ns->tls;
	struct nsim_tls_conn *conn;
	struct nsim_tls_keys keys;
	int err;

	/* the receive engine keeps its own knobs and counters */
	if (direction == TLS_OFFLOAD_CTX_DIR_RX)
		return nsim_tls_rx_add(ns, sk, crypto_info,
				       start_offload_tcp_sn);

	if (READ_ONCE(tls->refuse_add)) {
		err = -EBUSY;
		goto refuse;
	}
	err = nsim_tls_parse_crypto_info(crypto_info,
					 READ_ONCE(tls->refuse_cipher), &keys);
	if (err)
		goto refuse;

	conn = nsim_tls_conn_alloc(keys.key, keys.keylen, keys.salt,
				   start_offload_tcp_sn);
	if (IS_ERR(conn)) {
		err = PTR_ERR(conn);
		goto refuse;
	}

	*nsim_tls_conn_slot(tls_get_ctx(sk)) = conn;
	atomic_inc(&tls->adds);
	atomic_inc(&tls->conns);
	return 0;

refuse:
	atomic_inc(&tls->refusals);
	return err;
}

static void nsim_tls_dev_del(struct net_device *netdev,
			     struct tls_context *ctx,
			     enum tls_offload_ctx_dir direction)
{
	struct netdevsim *ns = netdev_priv(netdev);
	struct nsim_tls_conn **slot, *conn;

	if (direction == TLS_OFFLOAD_CTX_DIR_RX) {
		nsim_tls_rx_del(ns, ctx);
		return;
	}

	slot = nsim_tls_conn_slot(ctx);
	conn = *slot;
	*slot = NULL;
	if (WARN_ON_ONCE(!conn))
		return;

	nsim_tls_conn_free(conn);
	atomic_inc(&ns->tls.dels);
	atomic_dec(&ns->tls.conns);
}

static int nsim_tls_dev_resync(struct net_device *netdev, struct sock *sk,
			       u32 seq, u8 *rcd_sn,
			       enum tls_offload_ctx_dir direction)
{
	/* the transmit engine never asks for a resync */
	if (WARN_ON_ONCE(direction != TLS_OFFLOAD_CTX_DIR_RX))
		return -EOPNOTSUPP;
	return nsim_tls_rx_resync(netdev_priv(netdev), sk, seq, rcd_sn);
}

static const struct tlsdev_ops nsim_tlsdev_ops = {
	.tls_dev_add	= nsim_tls_dev_add,
	.tls_dev_del	= nsim_tls_dev_del,
	.tls_dev_resync	= nsim_tls_dev_resync,
};

/*
 * Copy @len bytes of @rec's wire image into @dst. Under the record lock.
 * Return: false when the frags hold fewer bytes than that.
 */
static bool nsim_tls_copy_record(u8 *dst, const struct tls_record_info *rec,
				 unsigned int len)
{
	int i;

	for (i = 0; i < rec->num_frags && len; i++) {
		const skb_frag_t *frag = &rec->frags[i];
		unsigned int off = skb_frag_off(frag);
		unsigned int left = min(skb_frag_size(frag), len);
		struct page *page = skb_frag_page(frag);

		len -= left;
		/* a frag may span the pages of a compound page */
		while (left) {
			unsigned int chunk = min_t(unsigned int, left,
						   PAGE_SIZE - offset_in_page(off));

			memcpy_from_page(dst, nth_page(page, off >> PAGE_SHIFT),
					 offset_in_page(off), chunk);
			dst += chunk;
			off += chunk;
			left -= chunk;
		}
	}
	return !len;
}

/* Encrypt the record of @len bytes numbered @rec_sn in conn->rec, in place */
static int nsim_tls_encrypt_record(struct nsim_tls_conn *conn, u64 rec_sn,
				   unsigned int len)
{
	unsigned int plain_len = len - NSIM_TLS_MIN_REC_LEN;
	u8 *hdr = conn->rec;

	/* the core built the header; refuse to sign something else */
	if (hdr[1] != TLS_1_2_VERSION_MAJOR ||
	    hdr[2] != TLS_1_2_VERSION_MINOR ||
	    get_unaligned_be16(hdr + 3) != len - TLS_HEADER_SIZE)
		return -EINVAL;

	put_unaligned_be64(rec_sn, conn->aad);
	conn->aad[8] = hdr[0];
	conn->aad[9] = TLS_1_2_VERSION_MAJOR;
	conn->aad[10] = TLS_1_2_VERSION_MINOR;
	put_unaligned_be16(plain_len, conn->aad + 11);

	memcpy(conn->iv, conn->salt, NSIM_TLS_SALT_LEN);
	memcpy(conn->iv + NSIM_TLS_SALT_LEN, hdr + TLS_HEADER_SIZE,
	       NSIM_TLS_NONCE_LEN);

	/* ciphertext over the plaintext, the tag into the room after it */
	sg_init_table(conn->sg, ARRAY_SIZE(conn->sg));
	sg_set_buf(&conn->sg[0], conn->aad, NSIM_TLS_AAD_LEN);
	sg_set_buf(&conn->sg[1], hdr + NSIM_TLS_PREFIX_LEN,
		   plain_len + NSIM_TLS_TAG_LEN);
	aead_request_set_crypt(conn->req, conn->sg, conn->sg, plain_len,
			       conn->iv);
	aead_request_set_ad(conn->req, NSIM_TLS_AAD_LEN);

	return crypto_aead_encrypt(conn->req);
}

/*
 * Make conn->rec hold, encrypted, the record with the byte at TCP sequence
 * number @seq. @trust_cache: the packet is the one expected next, so the
 * cached record may be used without asking the core, as a NIC that keeps
 * its state would. Under conn->lock.
 */
static int nsim_tls_load_record(struct nsim_tls *tls,
				struct nsim_tls_conn *conn,
				struct tls_offload_context_tx *octx,
				u32 seq, bool trust_cache)
{
	struct tls_record_info *rec;
	unsigned long flags;
	u32 start, len;
	u64 rec_sn;
	int err = 0;

	if (trust_cache && conn->cached && seq - conn->rec_start < conn->rec_len)
		return 0;

	/* the record lock nests inside conn->lock, never the reverse */
	spin_lock_irqsave(&octx->lock, flags);
	rec = tls_get_record(octx, seq, &rec_sn);
	/* a start marker stands for bytes the core never offloads */
	if (!rec || tls_record_is_start_marker(rec)) {
		err = -ENOENT;
		goto unlock;
	}
	start = tls_record_start_seq(rec);
	len = rec->len;
	if (seq - start >= len || len < NSIM_TLS_MIN_REC_LEN ||
	    len > NSIM_TLS_MAX_REC_LEN) {
		err = -EINVAL;
		goto unlock;
	}
	/* out of order, yet the record is the one still cached */
	if (conn->cached && conn->rec_sn == rec_sn &&
	    conn->rec_start == start && conn->rec_len == len)
		goto unlock;

	conn->cached = false;
	if (!nsim_tls_copy_record(conn->rec, rec, len)) {
		err = -EINVAL;
		goto unlock;
	}
	spin_unlock_irqrestore(&octx->lock, flags);

	err = nsim_tls_encrypt_record(conn, rec_sn, len);
	if (err)
		return err;

	conn->cached = true;
	conn->rec_sn = rec_sn;
	conn->rec_start = start;
	conn->rec_len = len;
	atomic_inc(&tls->records);
	return 0;

unlock:
	spin_unlock_irqrestore(&octx->lock, flags);
	return err;
}

/*
 * Replace @len bytes of plaintext at @payload, starting at TCP sequence
 * number @seq, with what goes on the wire. Return how many bytes were
 * replaced, which is short of @len on error (*@err set).
 */
static u32 nsim_tls_encrypt_payload(struct nsim_tls *tls,
				    struct nsim_tls_conn *conn,
				    struct tls_offload_context_tx *octx,
				    u8 *payload, u32 seq, u32 len, int *err)
{
	bool in_seq;
	u32 done;

	spin_lock_bh(&conn->lock);
	in_seq = seq == conn->next_seq;
	if (!in_seq)
		atomic_inc(&tls->rebuilds);

	for (done = 0; done < len; ) {
		u32 off, n;

		*err = nsim_tls_load_record(tls, conn, octx, seq + done, in_seq);
		if (*err)
			break;
		off = seq + done - conn->rec_start;
		n = min(len - done, conn->rec_len - off);
		memcpy(payload + done, conn->rec + off, n);
		done += n;
	}

	/* a retransmission does not move the stream backwards */
	if (done == len && after(seq + len, conn->next_seq))
		conn->next_seq = seq + len;
	spin_unlock_bh(&conn->lock);

	return done;
}

/*
 * The payload changed under the TCP checksum. With CHECKSUM_PARTIAL (what
 * TCP sends through a device with NETIF_F_HW_CSUM) th->check only holds
 * the pseudo-header sum, which does not cover the payload, and netdevsim
 * hands the skb to its peer still CHECKSUM_PARTIAL, which the receiver
 * trusts like a checksum a NIC verified: nothing to do. Anything else
 * carries a complete checksum that is now wrong: compute it again.
 */
static void nsim_tls_fix_csum(struct sk_buff *skb)
{
	unsigned int thoff = skb_transport_offset(skb);
	unsigned int len = skb->len - thoff;
	struct tcphdr *th = tcp_hdr(skb);
	__wsum csum;

	if (skb->ip_summed == CHECKSUM_PARTIAL)
		return;

	th->check = 0;
	csum = skb_checksum(skb, thoff, len, 0);
	if (ip_hdr(skb)->version == 4)
		th->check = csum_tcpudp_magic(ip_hdr(skb)->saddr,
					      ip_hdr(skb)->daddr, len,
					      IPPROTO_TCP, csum);
	else
		th->check = csum_ipv6_magic(&ipv6_hdr(skb)->saddr,
					    &ipv6_hdr(skb)->daddr, len,
					    IPPROTO_TCP, csum);
	skb->ip_summed = CHECKSUM_NONE;
}

static struct sk_buff *nsim_tls_fallback(struct nsim_tls *tls,
					 struct sk_buff *skb)
{
	atomic_inc(&tls->fallbacks);
	/* consumes @skb; NULL when it had to drop it */
	return tls_encrypt_skb(skb);
}

static struct sk_buff *nsim_tls_drop(struct nsim_tls *tls, struct sk_buff *skb)
{
	atomic_inc(&tls->drops);
	dev_kfree_skb_any(skb);
	return NULL;
}

/* drop_every: lose every Nth offloaded packet with payload, like a wire */
static bool nsim_tls_should_drop(struct nsim_tls *tls)
{
	u32 every = READ_ONCE(tls->drop_every);

	return every && (u32)atomic_inc_return(&tls->drop_seq) % every == 0;
}

/**
 * nsim_tls_tx() - encrypt what the TLS offload asked this device to encrypt
 * @ns: the transmitting device
 * @skb: a packet on its way out, in ndo_start_xmit
 *
 * Return: the packet to send, @skb or the software fallback's replacement;
 * NULL when it was dropped (and freed).
 */
struct sk_buff *nsim_tls_tx(struct netdevsim *ns, struct sk_buff *skb)
{
	struct tls_offload_context_tx *octx;
	struct nsim_tls *tls = &ns->tls;
	struct nsim_tls_conn *conn;
	struct tls_context *ctx;
	struct net_device *owner;
	unsigned int hdrlen;
	u32 seq, len, done;
	int err = 0;

	/* not ours, or encrypted already by the core's fallback */
	if (!tls_is_skb_tx_device_offloaded(skb) || !skb_is_decrypted(skb))
		return skb;

	ctx = tls_get_ctx(skb->sk);
	/*
	 * Offloaded to another device: the core encrypted it in software
	 * when it saw the packet go elsewhere. NULL: the device is going
	 * down, but our state lives until tls_dev_del().
	 */
	owner = rcu_dereference_bh(ctx->netdev);
	if (owner && owner != ns->netdev)
		return skb;

	hdrlen = skb_tcp_all_headers(skb);
	if (skb->len <= hdrlen)
		return skb;	/* no payload: an ACK, a FIN */

	conn = *nsim_tls_conn_slot(ctx);
	if (WARN_ON_ONCE(!conn))
		return nsim_tls_fallback(tls, skb);

	if (nsim_tls_should_drop(tls))
		return nsim_tls_drop(tls, skb);
	/*
	 * bypass: the engine's work costs the host nothing on a real NIC;
	 * benchmarks leave it out of the count (the peer must not decrypt)
	 */
	if (READ_ONCE(tls->bypass))
		goto out;

	/*
	 * The payload pages are shared with TCP's retransmit queue: get a
	 * private, linear copy to write to. On failure @skb is unchanged.
	 */
	if (skb_linearize(skb) || skb_unclone(skb, GFP_ATOMIC))
		return nsim_tls_fallback(tls, skb);

	octx = tls_offload_ctx_tx(ctx);
	seq = ntohl(tcp_hdr(skb)->seq);
	len = skb->len - hdrlen;
	done = nsim_tls_encrypt_payload(tls, conn, octx, skb->data + hdrlen,
					seq, len, &err);
	if (err) {
		/* nothing written yet: the core can still do it all */
		if (!done)
			return nsim_tls_fallback(tls, skb);
		/*
		 * A later record is gone: it was acked while this packet was
		 * in flight, so the peer has all of it. Half of it is
		 * ciphertext already: not something to hand the core.
		 */
		return nsim_tls_drop(tls, skb);
	}

	nsim_tls_fix_csum(skb);
	atomic_inc(&tls->packets);
out:
#ifdef CONFIG_SKB_DECRYPTED
	skb->decrypted = 0;	/* ciphertext now, for whoever receives it */
#endif
	return skb;
}

void nsim_tls_init(struct netdevsim *ns)
{
	struct nsim_tls *tls = &ns->tls;
	struct dentry *dir;

	ns->netdev->tlsdev_ops = &nsim_tlsdev_ops;
	/* TX only: needs NETIF_F_HW_CSUM, which nsim_setup() set */
	ns->netdev->hw_features |= NETIF_F_HW_TLS_TX;
	ns->netdev->features |= NETIF_F_HW_TLS_TX;

	dir = debugfs_create_dir("tls", ns->nsim_dev_port->ddir);
	tls->ddir = dir;

	debugfs_create_bool("refuse_add", 0600, dir, &tls->refuse_add);
	debugfs_create_u16("refuse_cipher", 0600, dir, &tls->refuse_cipher);
	debugfs_create_u32("drop_every", 0600, dir, &tls->drop_every);
	debugfs_create_bool("bypass", 0600, dir, &tls->bypass);

	debugfs_create_atomic_t("adds", 0400, dir, &tls->adds);
	debugfs_create_atomic_t("dels", 0400, dir, &tls->dels);
	debugfs_create_atomic_t("refusals", 0400, dir, &tls->refusals);
	debugfs_create_atomic_t("conns", 0400, dir, &tls->conns);
	debugfs_create_atomic_t("packets", 0400, dir, &tls->packets);
	debugfs_create_atomic_t("records", 0400, dir, &tls->records);
	debugfs_create_atomic_t("rebuilds", 0400, dir, &tls->rebuilds);
	debugfs_create_atomic_t("fallbacks", 0400, dir, &tls->fallbacks);
	debugfs_create_atomic_t("drops", 0400, dir, &tls->drops);

	nsim_tls_rx_init(ns);
}

void nsim_tls_teardown(struct netdevsim *ns)
{
	struct nsim_tls *tls = &ns->tls;
	int conns = atomic_read(&tls->conns);

	/* the core deletes every connection when the device unregisters */
	if (conns)
		netdev_err(ns->netdev, "tearing down TLS offload with %d connections left\n",
			   conns);
	nsim_tls_rx_teardown(ns);
	debugfs_remove_recursive(tls->ddir);
	tls->ddir = NULL;
}
