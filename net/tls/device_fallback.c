// SPDX-License-Identifier: GPL-2.0
/*
 * TX device offload: encrypting in software what the device will not.
 *
 * An offloaded socket's skbs carry plaintext records, marked decrypted.
 * One that leaves through another device (a route change, a bond's other
 * leg, a tc redirect), or after its device went down, or that a driver
 * cannot handle (tls_encrypt_skb()), is encrypted here before it goes:
 * the wire carries the same bytes whichever way a packet takes.
 *
 * An skb may start and end anywhere in records, so each record it
 * touches is looked up, copied whole and encrypted, and the skb's part of
 * the result copied out. The last record encrypted is kept: the next
 * segments of a stream, or of a retransmission, usually fall in it.
 */

#include <crypto/aead.h>
#include <linux/highmem.h>
#include <linux/scatterlist.h>
#include <net/tcp.h>

#include "device.h"

/* TLS 1.2 record layout under AES-GCM */
#define TLS_DEV_NONCE_OFF	TLS_HEADER_SIZE
#define TLS_DEV_PAYLOAD_OFF	(TLS_HEADER_SIZE + 8)
#define TLS_DEV_OVERHEAD	(TLS_DEV_PAYLOAD_OFF + TLS_CIPHER_TAG_SIZE)

/**
 * tls_dev_fb_init() - set the software fallback up for a socket's keys
 * @dev: the offload state
 * @key: the socket's TX keys (TLS 1.2, AES-GCM)
 *
 * Return: 0 or a negative errno.
 */
int tls_dev_fb_init(struct tls_dev_tx *dev, const struct tls_key *key)
{
	const struct tls_cipher *c = key->cipher;
	int err;

	/* synchronous: it runs in transmit context */
	dev->fb_aead = crypto_alloc_aead("gcm(aes)", 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(dev->fb_aead)) {
		err = PTR_ERR(dev->fb_aead);
		dev->fb_aead = NULL;
		return err;
	}
	err = crypto_aead_setkey(dev->fb_aead, key->secret, c->key_size);
	if (!err)
		err = crypto_aead_setauthsize(dev->fb_aead, TLS_CIPHER_TAG_SIZE);
	if (err)
		return err;
	dev->fb_req = aead_request_alloc(dev->fb_aead, GFP_KERNEL);
	dev->fb_rec = kmalloc(TLS_DEV_RECORD_MAX, GFP_KERNEL);
	if (!dev->fb_req || !dev->fb_rec)
		return -ENOMEM;
	/* salt || iv: the salt first */
	memcpy(dev->fb_salt, key->nonce, sizeof(dev->fb_salt));
	return 0;
}

void tls_dev_fb_free(struct tls_dev_tx *dev)
{
	kfree(dev->fb_rec);
	aead_request_free(dev->fb_req);
	crypto_free_aead(dev->fb_aead);
}

/* Copy a frag, which may span the pages of a compound page, to @dst */
static void tls_dev_fb_copy_frag(u8 *dst, const skb_frag_t *f)
{
	unsigned int off = skb_frag_off(f), left = skb_frag_size(f);
	struct page *page = skb_frag_page(f);

	while (left) {
		unsigned int n = min_t(unsigned int, left,
				       PAGE_SIZE - offset_in_page(off));

		memcpy_from_page(dst, nth_page(page, off >> PAGE_SHIFT),
				 offset_in_page(off), n);
		dst += n;
		off += n;
		left -= n;
	}
}

/* Copy the record holding @seq into fb_rec; fb_lock held */
static int tls_dev_fb_fetch(struct tls_dev_tx *dev, u32 seq)
{
	struct tls_record_info *rec;
	unsigned long flags;
	unsigned int pos = 0;
	int i, err = -ENOENT;
	u64 sn;

	spin_lock_irqsave(&dev->pub.lock, flags);
	rec = tls_get_record(&dev->pub, seq, &sn);
	/* a marked skb never holds bytes from before offload began */
	if (!rec || tls_record_is_start_marker(rec) ||
	    rec->len < TLS_DEV_OVERHEAD || rec->len > TLS_DEV_RECORD_MAX)
		goto out;
	for (i = 0; i < rec->num_frags; i++) {
		const skb_frag_t *f = &rec->frags[i];

		if (pos + skb_frag_size(f) > TLS_DEV_RECORD_MAX)
			goto out;
		tls_dev_fb_copy_frag(dev->fb_rec + pos, f);
		pos += skb_frag_size(f);
	}
	if (pos != rec->len)
		goto out;
	dev->fb_sn = sn;
	dev->fb_start = tls_record_start_seq(rec);
	dev->fb_len = rec->len;
	err = 0;
out:
	spin_unlock_irqrestore(&dev->pub.lock, flags);
	return err;
}

/* Encrypt fb_rec in place, as the device would have; fb_lock held */
static int tls_dev_fb_seal(struct tls_dev_tx *dev)
{
	unsigned int plen = dev->fb_len - TLS_DEV_OVERHEAD;
	struct aead_request *req = dev->fb_req;
	struct scatterlist sg[2];
	u8 *aad = dev->fb_aad;

	put_unaligned_be64(dev->fb_sn, aad);
	aad[8] = dev->fb_rec[0];
	aad[9] = TLS_1_2_VERSION_MAJOR;
	aad[10] = TLS_1_2_VERSION_MINOR;
	put_unaligned_be16(plen, aad + 11);
	memcpy(dev->fb_iv, dev->fb_salt, sizeof(dev->fb_salt));
	memcpy(dev->fb_iv + sizeof(dev->fb_salt),
	       dev->fb_rec + TLS_DEV_NONCE_OFF, 8);

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], aad, 13);
	sg_set_buf(&sg[1], dev->fb_rec + TLS_DEV_PAYLOAD_OFF,
		   plen + TLS_CIPHER_TAG_SIZE);
	aead_request_set_tfm(req, dev->fb_aead);
	aead_request_set_callback(req, 0, NULL, NULL);
	aead_request_set_ad(req, 13);
	aead_request_set_crypt(req, sg, sg, plen, dev->fb_iv);
	return crypto_aead_encrypt(req);
}

/* Write the ciphertext of bytes [@seq, @seq + @len) of the stream to @out */
static int tls_dev_fb_fill(struct sock *sk, struct tls_dev_tx *dev, u8 *out,
			   u32 seq, unsigned int len)
{
	int err = 0;

	spin_lock_bh(&dev->fb_lock);
	/*
	 * An acknowledged record is gone from the list, and its sequence
	 * numbers come back 2^32 bytes later: the cache must not outlive it
	 */
	if (dev->fb_valid &&
	    !after(dev->fb_start + dev->fb_len, READ_ONCE(tcp_sk(sk)->snd_una)))
		dev->fb_valid = false;
	while (len) {
		unsigned int off, n;

		if (!dev->fb_valid || before(seq, dev->fb_start) ||
		    !before(seq, dev->fb_start + dev->fb_len)) {
			dev->fb_valid = false;
			err = tls_dev_fb_fetch(dev, seq);
			if (!err)
				err = tls_dev_fb_seal(dev);
			if (err)
				break;
			dev->fb_valid = true;
		}
		off = seq - dev->fb_start;
		n = min(len, dev->fb_len - off);
		memcpy(out, dev->fb_rec + off, n);
		out += n;
		seq += n;
		len -= n;
	}
	spin_unlock_bh(&dev->fb_lock);
	return err;
}

/* @nskb takes @skb's place in the socket's send accounting */
static void tls_dev_fb_own(struct sk_buff *nskb, struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	int delta = nskb->truesize - skb->truesize;

	nskb->sk = sk;
	nskb->destructor = skb->destructor;
	skb->sk = NULL;
	skb->destructor = NULL;
	/* @skb held its truesize; the socket cannot go below @nskb's */
	if (delta > 0)
		refcount_add(delta, &sk->sk_wmem_alloc);
	else if (delta < 0)
		WARN_ON_ONCE(refcount_sub_and_test(-delta, &sk->sk_wmem_alloc));
}

/**
 * tls_encrypt_skb() - encrypt an offloaded skb in software
 * @skb: an skb of a socket with TX device offload, headers set
 *
 * For drivers that cannot handle a packet, and for packets that leave
 * through another device. Any context.
 *
 * Return: a new, linear skb with the payload encrypted, which took
 * @skb's place (@skb is freed); @skb itself when it carries no plaintext
 * of records; NULL when it could not be encrypted (@skb is freed, TCP
 * sends it again).
 */
struct sk_buff *tls_encrypt_skb(struct sk_buff *skb)
{
	struct tls_dev_tx *dev = tls_dev_tx_of(tls_get_ctx(skb->sk));
	unsigned int hlen = skb_tcp_all_headers(skb);
	struct sk_buff *nskb;
	u32 seq;

	if (!skb_is_decrypted(skb) || skb->len <= hlen)
		return skb;
	seq = ntohl(tcp_hdr(skb)->seq);
	nskb = skb_copy(skb, GFP_ATOMIC);
	if (!nskb)
		goto drop;
	if (tls_dev_fb_fill(skb->sk, dev, nskb->data + hlen, seq,
			    skb->len - hlen)) {
		kfree_skb(nskb);
		goto drop;
	}
#ifdef CONFIG_SKB_DECRYPTED
	nskb->decrypted = 0;
#endif
	tls_dev_fb_own(nskb, skb);
	consume_skb(skb);
	return nskb;
drop:
	kfree_skb(skb);
	return NULL;
}
EXPORT_SYMBOL_GPL(tls_encrypt_skb);

/**
 * tls_validate_xmit_skb() - sk_validate_xmit_skb of an offloaded socket
 * @sk: the socket
 * @dev: the device the skb is about to go to
 * @skb: the skb
 *
 * Return: @skb for the device holding the keys (or a bond above it,
 * which forwards to it); else @skb encrypted by tls_encrypt_skb().
 */
struct sk_buff *tls_validate_xmit_skb(struct sock *sk, struct net_device *dev,
				      struct sk_buff *skb)
{
	if (dev == rcu_access_pointer(tls_get_ctx(sk)->netdev) ||
	    netif_is_bond_master(dev))
		return skb;
	return tls_encrypt_skb(skb);
}
EXPORT_SYMBOL_GPL(tls_validate_xmit_skb);

/* After the device went down: every skb is encrypted here */
struct sk_buff *tls_dev_validate_sw(struct sock *sk, struct net_device *dev,
				    struct sk_buff *skb)
{
	return tls_encrypt_skb(skb);
}
