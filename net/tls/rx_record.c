// SPDX-License-Identifier: GPL-2.0
/*
 * RX records: decrypting the record at the head of TCP's receive queue.
 *
 * The ciphertext is read where TCP keeps it; the plaintext goes either
 * into a fresh skb of kTLS's own (tls_rx_open(): what is read later, in
 * pieces, peeked at, or spliced) or straight into the reader's pages
 * (tls_rx_open_user(): a data record that fits the read whole). Only a
 * record spread over more skb pieces than the scatterlist holds is copied
 * out of TCP first, into the skb it is then decrypted in.
 *
 * A record is consumed only once it decrypted: a failure leaves it where
 * it was and the keys too, so that a retry reads the same bytes.
 *
 * A record a NIC already decrypted (device_rx.c says so) is copied out
 * the same two ways, without running the cipher.
 */

#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/unaligned.h>
#include <net/tcp.h>

#include "device.h"
#include "rx.h"
#include "stat.h"

/* TLS 1.3's handshake message type of a KeyUpdate (RFC 8446, 4.6.3) */
#define TLS_RX_HS_KEY_UPDATE	24

/**
 * struct tls_rx_sg - the memory of one decryption
 * @src: AAD and ciphertext
 * @dst: AAD and where the plaintext goes
 * @small: the plaintext of a small record, decrypted here and then
 *	copied to the reader (tls_rx_open_small())
 * @op: the AEAD request, IV and AAD; last, as its request's context
 *	follows it
 *
 * Allocated for the record being decrypted and freed once it is: over
 * 3 KiB that an idle socket would otherwise hold in struct tls_rx.
 */
struct tls_rx_sg {
	struct scatterlist	src[TLS_RX_SRC_SEGS + 1];
	struct scatterlist	dst[MAX_SKB_FRAGS + TLS_RX_USER_PAGES + 2];
	u8			small[TLS_RX_SMALL_MAX];
	struct tls_key_op	op;
};

/**
 * struct tls_rx_rec - the record being decrypted
 * @prefix: its header and explicit nonce, as on the wire
 * @aad_len: bytes of AAD
 * @cryptlen: ciphertext and tag bytes
 * @plen: plaintext bytes the AEAD gives (TLS 1.3: with the inner type
 *	and padding)
 * @dev: a device decrypted and authenticated it: its @plen bytes after
 *	the prefix, in TCP, are the plaintext (device_rx.c)
 */
struct tls_rx_rec {
	u8		prefix[TLS_KEY_PREFIX_MAX];
	unsigned int	aad_len;
	unsigned int	cryptlen;
	unsigned int	plen;
	bool		dev;
};

/*
 * The record's prefix: its header as the parser read it, then what else
 * the keys put there (TLS 1.2's explicit nonce), read from the record
 */
static int tls_rx_rec_init(struct sock *sk, struct tls_rx *rx,
			   struct tls_rx_rec *rec)
{
	struct tls_key *key = &rx->key;
	int err;

	/* RFC 8446, section 5.3: the sequence number must not wrap */
	if (key->exhausted)
		return -EBADMSG;
	tls_rx_rec_gather(sk, rx);
	rec->dev = false;
	if (rx->dev) {
		err = tls_dev_rx_check(sk, rx);
		if (err < 0)
			return err;
		rec->dev = err;
	}
	rec->prefix[0] = rx->rec_type;
	put_unaligned_be16(TLS_1_2_VERSION, rec->prefix + 1);
	put_unaligned_be16(rx->rec_len - TLS_HEADER_SIZE, rec->prefix + 3);
	if (key->prefix > TLS_HEADER_SIZE) {
		err = tls_rx_rec_copy(sk, rx, TLS_HEADER_SIZE,
				      rec->prefix + TLS_HEADER_SIZE,
				      key->prefix - TLS_HEADER_SIZE);
		if (err)
			return err;
	}
	rec->cryptlen = rx->rec_len - key->prefix;
	rec->plen = rec->cryptlen - TLS_CIPHER_TAG_SIZE;
	return 0;
}

/* The memory of the record's decryption, with its IV and AAD made */
static struct tls_rx_sg *tls_rx_sg_alloc(struct sock *sk, struct tls_rx *rx,
					 struct tls_rx_rec *rec)
{
	struct tls_key *key = &rx->key;
	struct tls_rx_sg *sg;

	sg = tls_key_op_alloc(key, struct tls_rx_sg, op, sk->sk_allocation);
	if (!sg)
		return NULL;
	tls_key_iv_explicit(key, sg->op.iv, rec->prefix + TLS_HEADER_SIZE);
	rec->aad_len = tls_key_aad(key, sg->op.aad, rec->prefix[0], rec->plen,
				   rec->prefix);
	return sg;
}

static int tls_rx_decrypt(struct tls_rx *rx, const struct tls_rx_rec *rec,
			  struct tls_key_op *op, struct scatterlist *src,
			  struct scatterlist *dst)
{
	DECLARE_CRYPTO_WAIT(wait);

	tls_key_req(&rx->key, op, src, dst, rec->cryptlen, rec->aad_len);
	aead_request_set_callback(&op->req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	return crypto_wait_req(crypto_aead_decrypt(&op->req), &wait);
}

/* Point @sg->src at the AAD and the ciphertext where they lie */
static int tls_rx_src_tcp(struct sock *sk, struct tls_rx *rx,
			  const struct tls_rx_rec *rec, struct tls_rx_sg *sg)
{
	int n;

	tls_rx_sg_prep(sg->src, 1);
	sg_set_buf(&sg->src[0], sg->op.aad, rec->aad_len);
	n = tls_rx_rec_sg(sk, rx, rx->key.prefix, rec->cryptlen, sg->src + 1,
			  TLS_RX_SRC_SEGS);
	if (n < 0)
		return n;
	sg_mark_end(&sg->src[n]);
	return 0;
}

/*
 * TLS 1.3 (RFC 8446, section 5.4): the plaintext ends with the content
 * type, then zeros. Return the length of the content in the @len bytes of
 * plaintext at @p and set its @type, or -EBADMSG when there is no type.
 */
static int tls_rx_inner_buf(const u8 *p, unsigned int len, u8 *type)
{
	while (len--) {
		if (p[len]) {
			*type = p[len];
			return len;
		}
	}
	return -EBADMSG;
}

/* The same for the @len bytes of plaintext in @skb, from its end back */
static int tls_rx_inner_type(struct sk_buff *skb, unsigned int len, u8 *type)
{
	u8 buf[64];
	int k;

	while (len) {
		unsigned int n = min_t(unsigned int, len, sizeof(buf));

		len -= n;
		if (skb_copy_bits(skb, len, buf, n))
			return -EBADMSG;
		k = tls_rx_inner_buf(buf, n, type);
		if (k >= 0)
			return len + k;
	}
	return -EBADMSG;
}

/*
 * The record decrypted: consume it, move the keys on, and note a
 * KeyUpdate, after which nothing more may be decrypted with these keys.
 */
static void tls_rx_rec_done(struct sock *sk, struct tls_rx *rx,
			    const struct tls_rx_rec *rec, u8 type, u8 first)
{
	bool hint = rx->dev && tls_dev_rx_rec_done(sk, rx, rec->dev);

	tls_key_advance(&rx->key);
	/* before TCP lets go of it, so that the next header waits too */
	if (rx->key.version == TLS_1_3_VERSION &&
	    type == TLS_RECORD_TYPE_HANDSHAKE && first == TLS_RX_HS_KEY_UPDATE) {
		WRITE_ONCE(rx->expired, true);
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSRXREKEYRECEIVED);
	}
	tls_rx_tcp_done(sk, rx);
	if (hint)
		tls_dev_rx_hint(sk, rx);
}

static int tls_rx_failed(struct sock *sk, int err)
{
	if (err == -EBADMSG)
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSDECRYPTERROR);
	return err;
}

/* @skb holds the record's plaintext, of content type @type: consume it */
static void tls_rx_skb_done(struct sock *sk, struct tls_rx *rx,
			    const struct tls_rx_rec *rec, struct sk_buff *skb,
			    u8 type)
{
	u8 first = 0;

	if (skb->len)
		skb_copy_bits(skb, 0, &first, 1);
	tls_rx_msg(skb)->off = 0;
	tls_rx_msg(skb)->type = type;
	tls_rx_rec_done(sk, rx, rec, type, first);
}

/* Decrypt into @skb, from where TCP holds the record or from a copy */
static int tls_rx_open_skb(struct sock *sk, struct tls_rx *rx,
			   struct tls_rx_rec *rec, struct sk_buff *skb)
{
	struct tls_rx_sg *sg;
	struct scatterlist *src;
	int n, err;

	sg = tls_rx_sg_alloc(sk, rx, rec);
	if (!sg)
		return -ENOMEM;
	/* the AAD, the skb's head and its frags: a fresh skb has no frag list */
	sg_init_table(sg->dst, 2 + skb_shinfo(skb)->nr_frags);
	sg_set_buf(&sg->dst[0], sg->op.aad, rec->aad_len);
	n = skb_to_sgvec_nomark(skb, sg->dst + 1, 0, skb->len);
	if (n < 0) {
		err = n;
		goto out;
	}
	sg_mark_end(&sg->dst[n]);

	src = sg->src;
	if (tls_rx_src_tcp(sk, rx, rec, sg)) {
		/* too scattered: decrypt in place in a copy */
		err = tls_rx_tcp_copy_skb(sk, rx->key.prefix, skb, 0,
					  rec->cryptlen);
		if (err)
			goto out;
		src = sg->dst;
	}
	err = tls_rx_decrypt(rx, rec, &sg->op, src, sg->dst);
out:
	tls_key_op_free(sg, &sg->op);
	return err;
}

/*
 * A record the device decrypted (TLS 1.2 only): copy its plaintext out of
 * TCP into an skb of its own, as tls_rx_open() would have decrypted it.
 */
static struct sk_buff *tls_rx_open_dev(struct sock *sk, struct tls_rx *rx,
				       const struct tls_rx_rec *rec)
{
	struct sk_buff *skb;

	skb = tls_rx_skb_alloc(rec->plen, sk->sk_allocation);
	if (!skb)
		return ERR_PTR(-ENOMEM);
	if (tls_rx_tcp_copy_skb(sk, rx->key.prefix, skb, 0, rec->plen)) {
		kfree_skb(skb);
		return ERR_PTR(-EFAULT);
	}
	tls_rx_skb_done(sk, rx, rec, skb, rec->prefix[0]);
	return skb;
}

/**
 * tls_rx_open() - decrypt the next record into an skb
 * @sk: the socket, owned
 * @rx: its RX state; TCP holds the whole record (tls_rx_rec_ready())
 *
 * Return: the record's plaintext, its type in tls_rx_msg(); or
 * ERR_PTR(-EBADMSG) when it does not authenticate, is empty of a type
 * (TLS 1.3) or comes after the last sequence number; ERR_PTR(-ENOMEM).
 */
struct sk_buff *tls_rx_open(struct sock *sk, struct tls_rx *rx)
{
	struct tls_rx_rec rec;
	struct sk_buff *skb;
	int len, err;
	u8 type;

	err = tls_rx_rec_init(sk, rx, &rec);
	if (err)
		return ERR_PTR(tls_rx_failed(sk, err));
	if (rec.dev)
		return tls_rx_open_dev(sk, rx, &rec);
	/* room for the tag too, in case the ciphertext is copied in */
	skb = tls_rx_skb_alloc(rec.cryptlen, sk->sk_allocation);
	if (!skb)
		return ERR_PTR(-ENOMEM);
	err = tls_rx_open_skb(sk, rx, &rec, skb);
	if (!err)
		err = pskb_trim(skb, rec.plen);
	if (err)
		goto fail;

	len = rec.plen;
	type = rec.prefix[0];
	if (rx->key.version == TLS_1_3_VERSION) {
		len = tls_rx_inner_type(skb, rec.plen, &type);
		if (len < 0) {
			err = len;
			goto fail;
		}
		err = pskb_trim(skb, len);
		if (err)
			goto fail;
	}
	tls_rx_skb_done(sk, rx, &rec, skb, type);
	return skb;

fail:
	kfree_skb(skb);
	return ERR_PTR(tls_rx_failed(sk, err == -ENOMEM ? err : -EBADMSG));
}

/* Reference the reader's pages for @len bytes, point @sg->dst at them */
static int tls_rx_dst_user(struct tls_rx_sg *sg, struct msghdr *msg,
			   unsigned int aad_len, size_t len,
			   struct page **pages, unsigned int *npages)
{
	unsigned int n = 1;

	tls_rx_sg_prep(sg->dst, 1);
	sg_set_buf(&sg->dst[0], sg->op.aad, aad_len);
	*npages = 0;
	while (len) {
		size_t start, got;
		unsigned int i, k;

		if (*npages == TLS_RX_USER_PAGES)
			return -EMSGSIZE;
		got = iov_iter_get_pages2(&msg->msg_iter, pages + *npages, len,
					  TLS_RX_USER_PAGES - *npages, &start);
		if ((ssize_t)got <= 0)
			return got ? (int)got : -EFAULT;
		k = DIV_ROUND_UP(start + got, PAGE_SIZE);
		tls_rx_sg_prep(&sg->dst[n], k);
		for (i = 0; i < k; i++) {
			unsigned int off = i ? 0 : start;
			unsigned int seg = min_t(size_t, got, PAGE_SIZE - off);

			sg_set_page(&sg->dst[n++], pages[*npages + i], seg, off);
			got -= seg;
			len -= seg;
		}
		*npages += k;
	}
	return n;
}

/* A data record the device decrypted: copy its plaintext to the reader */
static int tls_rx_open_user_dev(struct sock *sk, struct tls_rx *rx,
				const struct tls_rx_rec *rec,
				struct msghdr *msg, size_t len)
{
	struct iov_iter_state state;

	iov_iter_save_state(&msg->msg_iter, &state);
	if (tls_rx_rec_copy_msg(sk, rx, rx->key.prefix, msg, len)) {
		iov_iter_restore(&msg->msg_iter, &state);
		return -EFAULT;
	}
	tls_rx_rec_done(sk, rx, rec, TLS_RECORD_TYPE_DATA, 0);
	return len;
}

/*
 * A small record is decrypted into @sg's own memory, then copied: for a
 * few hundred bytes, a copy costs less than pinning the reader's page, and
 * TLS 1.3's type and padding are known before anything reaches the
 * reader, so no record is decrypted twice. A record of another type than
 * data comes back in @skbp, consumed, for the caller to queue.
 */
static int tls_rx_open_small(struct sock *sk, struct tls_rx *rx,
			     const struct tls_rx_rec *rec, struct tls_rx_sg *sg,
			     struct msghdr *msg, struct sk_buff **skbp)
{
	u8 type = rec->prefix[0];
	struct sk_buff *skb;
	int len = rec->plen;
	int err;

	sg_init_table(sg->dst, 2);
	sg_set_buf(&sg->dst[0], sg->op.aad, rec->aad_len);
	sg_set_buf(&sg->dst[1], sg->small, rec->plen);
	err = tls_rx_decrypt(rx, rec, &sg->op, sg->src, sg->dst);
	if (err)
		return err == -ENOMEM ? -EAGAIN : tls_rx_failed(sk, -EBADMSG);
	if (rx->key.version == TLS_1_3_VERSION) {
		len = tls_rx_inner_buf(sg->small, rec->plen, &type);
		if (len < 0)
			return tls_rx_failed(sk, len);
	}
	/* the reader takes data with content; the rest is queued */
	if (type == TLS_RECORD_TYPE_DATA && len) {
		/* a fault: the record stays, and the skb way reports it */
		if (copy_to_iter(sg->small, len, &msg->msg_iter) != len)
			return -EAGAIN;
		tls_rx_rec_done(sk, rx, rec, type, 0);
		return len;
	}
	skb = tls_rx_skb_alloc(len, sk->sk_allocation);
	if (!skb)
		return -EAGAIN;
	skb_store_bits(skb, 0, sg->small, len);
	tls_rx_skb_done(sk, rx, rec, skb, type);
	*skbp = skb;
	return -EAGAIN;
}

/**
 * tls_rx_open_user() - decrypt the next record into the reader's buffer
 * @sk: the socket, owned
 * @rx: its RX state; TCP holds the whole record (tls_rx_rec_ready())
 * @msg: the reader's message: its iterator backed by user memory, unless
 *	the record is small (tls_rx_rec_small())
 * @room: bytes the read may still take
 * @skbp: set to the record, decrypted and consumed, when a small one was
 *	not data after all; untouched otherwise
 *
 * Only a data record whose plaintext fits in @room goes this way. TLS 1.3
 * hides the type and may pad. A small record is decrypted into kernel
 * memory and copied (tls_rx_open_small()). Of a larger one the last
 * plaintext byte is taken to be the type, and a record that turns out to
 * be padded or not data is decrypted again the other way. Its plaintext
 * was written into @msg's memory meanwhile, past what the read returns
 * so far.
 *
 * Return: plaintext bytes written into @msg; -EAGAIN when this record
 * must go through tls_rx_open(), or is in @skbp (@msg is then as it was);
 * -EBADMSG.
 */
int tls_rx_open_user(struct sock *sk, struct tls_rx *rx, struct msghdr *msg,
		     size_t room, struct sk_buff **skbp)
{
	struct page *pages[TLS_RX_USER_PAGES];
	struct iov_iter_state state;
	unsigned int npages = 0, i;
	struct tls_rx_rec rec;
	struct tls_rx_sg *sg;
	size_t len;
	int n, err;

	err = tls_rx_rec_init(sk, rx, &rec);
	if (err)
		return tls_rx_failed(sk, err);
	len = rec.plen;
	if (rx->key.version == TLS_1_3_VERSION)
		len--;
	else if (rec.prefix[0] != TLS_RECORD_TYPE_DATA)
		return -EAGAIN;
	if (!len || len > room)
		return -EAGAIN;
	if (rec.dev)
		return tls_rx_open_user_dev(sk, rx, &rec, msg, len);
	/* failing here, tls_rx_open() fails too and says why */
	sg = tls_rx_sg_alloc(sk, rx, &rec);
	if (!sg)
		return -EAGAIN;
	iov_iter_save_state(&msg->msg_iter, &state);
	if (tls_rx_src_tcp(sk, rx, &rec, sg)) {
		err = -EAGAIN;
		goto out;
	}
	if (rec.plen <= TLS_RX_SMALL_MAX) {
		err = tls_rx_open_small(sk, rx, &rec, sg, msg, skbp);
		goto out;
	}
	n = tls_rx_dst_user(sg, msg, rec.aad_len, len, pages, &npages);
	if (n < 0) {
		err = -EAGAIN;
		goto out;
	}
	if (rx->key.version == TLS_1_3_VERSION) {
		tls_rx_sg_prep(&sg->dst[n], 1);
		sg_set_buf(&sg->dst[n++], &sg->op.type, 1);
	}
	sg_mark_end(&sg->dst[n - 1]);

	err = tls_rx_decrypt(rx, &rec, &sg->op, sg->src, sg->dst);
	if (err) {
		/* out of memory is no verdict: tls_rx_open() tries again */
		err = err == -ENOMEM ? -EAGAIN : tls_rx_failed(sk, -EBADMSG);
		goto out;
	}
	if (rx->key.version == TLS_1_3_VERSION &&
	    sg->op.type != TLS_RECORD_TYPE_DATA) {
		/*
		 * The guess was wrong. A zero byte means the peer pads:
		 * against its promise, under TLS_RX_EXPECT_NO_PAD; else it
		 * counts towards guessing no more. A control record is
		 * merely bad luck.
		 */
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSDECRYPTRETRY);
		if (!sg->op.type && rx->no_pad)
			tls_stat_inc(sock_net(sk), LINUX_MIB_TLSRXNOPADVIOL);
		else if (!sg->op.type && rx->pad_seen < TLS_RX_PAD_SEEN_MAX)
			rx->pad_seen++;
		err = -EAGAIN;
		goto out;
	}
	tls_rx_rec_done(sk, rx, &rec, TLS_RECORD_TYPE_DATA, 0);
	err = len;
out:
	for (i = 0; i < npages; i++)
		put_page(pages[i]);
	if (err < 0)
		iov_iter_restore(&msg->msg_iter, &state);
	tls_key_op_free(sg, &sg->op);
	return err;
}
