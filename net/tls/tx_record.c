// SPDX-License-Identifier: GPL-2.0
/*
 * TX records: gathering a record's plaintext, and sealing it, i.e.
 * encrypting it into fresh pages that TCP then sends without a copy.
 *
 * Plaintext is never copied twice. Bytes from write() and sendmsg() are
 * copied once, into pages of ours; pages spliced in are referenced as
 * they are. The AEAD reads either kind where it lies and writes the
 * ciphertext into the record's own pages, right after the header.
 */

#include <linux/highmem.h>
#include <linux/uio.h>

#include "tx.h"

void tls_tx_open_release(struct tls_tx_open *open)
{
	unsigned int i;

	for (i = 0; i < open->nr; i++)
		put_page(open->frags[i].bv_page);
	open->nr = 0;
	open->len = 0;
	open->tail_room = false;
	open->eor = false;
}

void tls_tx_out_release(struct tls_tx_out *out)
{
	unsigned int i;

	for (i = 0; i < out->nr; i++)
		put_page(out->pages[i]);
	out->nr = 0;
	out->len = 0;
	out->sent = 0;
}

/* Room for @len more bytes in the page the last copy went into */
static struct bio_vec *tls_tx_tail(struct tls_tx_open *open,
				   unsigned int *room)
{
	struct bio_vec *bv;

	if (!open->tail_room)
		return NULL;
	bv = &open->frags[open->nr - 1];
	*room = PAGE_SIZE - bv->bv_offset - bv->bv_len;
	return bv;
}

/* A fresh page at the end of the record, or NULL when out of frags */
static struct bio_vec *tls_tx_grow(struct sock *sk, struct tls_tx_open *open)
{
	struct bio_vec *bv;
	struct page *page;

	if (open->nr == TLS_TX_FRAGS)
		return NULL;
	page = alloc_page(sk->sk_allocation);
	if (!page)
		return ERR_PTR(-ENOMEM);
	bv = &open->frags[open->nr++];
	bvec_set_page(bv, page, 0, 0);
	open->tail_room = true;
	return bv;
}

/**
 * tls_tx_copy() - copy plaintext from the caller into the open record
 * @sk: the socket, locked
 * @tx: its TX state
 * @msg: the caller's message
 * @len: bytes to take; the record has room for them
 *
 * Return: bytes taken (fewer when the record ran out of frags or the
 * caller's memory faulted), or a negative errno when none was.
 */
int tls_tx_copy(struct sock *sk, struct tls_tx *tx, struct msghdr *msg,
		size_t len)
{
	struct tls_tx_open *open = &tx->open;
	size_t done = 0;

	while (done < len) {
		unsigned int room = 0;
		struct bio_vec *bv;
		size_t n, got;

		bv = tls_tx_tail(open, &room);
		if (!bv || !room)
			bv = tls_tx_grow(sk, open);
		if (IS_ERR_OR_NULL(bv)) {
			if (done || !bv)
				break;
			return PTR_ERR(bv);
		}
		room = PAGE_SIZE - bv->bv_offset - bv->bv_len;
		n = min_t(size_t, len - done, room);
		got = copy_page_from_iter(bv->bv_page,
					  bv->bv_offset + bv->bv_len, n,
					  &msg->msg_iter);
		bv->bv_len += got;
		open->len += got;
		done += got;
		if (got < n)
			return done ? done : -EFAULT;
	}
	return done;
}

/**
 * tls_tx_take() - reference spliced pages as the open record's plaintext
 * @tx: the TX state, socket locked
 * @msg: a MSG_SPLICE_PAGES message with a bvec iterator
 * @len: bytes to take; the record has room for them
 *
 * The pages are read when the record is sealed; until then the record
 * holds a reference on each.
 *
 * Return: bytes taken (fewer when the record ran out of frags), or a
 * negative errno when none was.
 */
int tls_tx_take(struct tls_tx *tx, struct msghdr *msg, size_t len)
{
	struct tls_tx_open *open = &tx->open;
	size_t done = 0;

	while (done < len) {
		struct bio_vec *last = open->nr ? &open->frags[open->nr - 1] : NULL;
		struct page *page, **pages = &page;
		size_t off;
		ssize_t n;

		/* a bvec iterator hands out pages without references */
		n = iov_iter_extract_pages(&msg->msg_iter, &pages, len - done,
					   1, 0, &off);
		if (n <= 0)
			return done ? done : (n ? n : -EIO);
		if (last && !open->tail_room && last->bv_page == page &&
		    last->bv_offset + last->bv_len == off) {
			last->bv_len += n;
		} else if (open->nr < TLS_TX_FRAGS) {
			get_page(page);
			bvec_set_page(&open->frags[open->nr++], page, n, off);
			open->tail_room = false;
		} else {
			iov_iter_revert(&msg->msg_iter, n);
			break;
		}
		open->len += n;
		done += n;
	}
	return done;
}

/**
 * tls_tx_abort() - end the TX path with an error
 * @sk: the socket, locked
 * @tx: its TX state
 * @err: the negative errno every send returns from now on
 *
 * Return: @err.
 */
int tls_tx_abort(struct sock *sk, struct tls_tx *tx, int err)
{
	tx->err = err;
	WRITE_ONCE(sk->sk_err, -err);
	sk_error_report(sk);
	return err;
}

/* Pages for a record of @len bytes */
static int tls_tx_out_alloc(struct sock *sk, struct tls_tx_out *out,
			    unsigned int len)
{
	unsigned int nr = DIV_ROUND_UP(len, PAGE_SIZE);

	while (out->nr < nr) {
		out->pages[out->nr] = alloc_page(sk->sk_allocation);
		if (!out->pages[out->nr]) {
			tls_tx_out_release(out);
			return -ENOMEM;
		}
		out->nr++;
	}
	return 0;
}

/* The AEAD's input: AAD, then the plaintext, then TLS 1.3's inner type */
static unsigned int tls_tx_src(struct tls_tx *tx, unsigned int aad_len)
{
	struct tls_tx_open *open = &tx->open;
	unsigned int i, n = 0;

	sg_init_table(tx->src, open->nr + 2);
	sg_set_buf(&tx->src[n++], tx->aad, aad_len);
	for (i = 0; i < open->nr; i++)
		sg_set_page(&tx->src[n++], open->frags[i].bv_page,
			    open->frags[i].bv_len, open->frags[i].bv_offset);
	if (tx->key.version == TLS_1_3_VERSION) {
		tx->inner_type = open->type;
		sg_set_buf(&tx->src[n++], &tx->inner_type, 1);
	}
	sg_mark_end(&tx->src[n - 1]);
	return n;
}

/*
 * The AEAD's output: the same AAD (GCM and CCM copy it over itself),
 * then the record's pages from after the prefix to the end of the tag.
 */
static void tls_tx_dst(struct tls_tx *tx, unsigned int aad_len)
{
	struct tls_tx_out *out = &tx->out;
	unsigned int i, off = tx->key.prefix;
	unsigned int left = out->len - off;

	sg_init_table(tx->dst, out->nr + 1);
	sg_set_buf(&tx->dst[0], tx->aad, aad_len);
	for (i = 0; i < out->nr; i++) {
		unsigned int n = min_t(unsigned int, left, PAGE_SIZE - off);

		sg_set_page(&tx->dst[i + 1], out->pages[i], n, off);
		left -= n;
		off = 0;
	}
}

/**
 * tls_tx_seal() - encrypt the open record into @tx->out
 * @sk: the socket, locked
 * @tx: its TX state; @tx->out is empty
 *
 * On success the open record is empty again, its pages released, and the
 * next record gets the next sequence number. Running out of memory
 * changes nothing. Running out of sequence numbers or a failed encryption
 * ends the TX path: there is no way to carry on the record stream, so the
 * socket gets the error (@tx->err, sk_err) and sends nothing more.
 *
 * Return: 0, -ENOMEM, -EBADMSG when the sequence numbers are used up, or
 * the crypto API's error.
 */
int tls_tx_seal(struct sock *sk, struct tls_tx *tx)
{
	struct tls_tx_open *open = &tx->open;
	struct tls_key *key = &tx->key;
	struct aead_request *req = tx->req;
	unsigned int aad_len, len;
	DECLARE_CRYPTO_WAIT(wait);
	u8 *prefix;
	int err;

	if (key->exhausted)
		return tls_tx_abort(sk, tx, -EBADMSG);
	len = open->len + key->overhead;
	err = tls_tx_out_alloc(sk, &tx->out, len);
	if (err)
		return err;
	tx->out.len = len;

	prefix = page_address(tx->out.pages[0]);
	tls_key_prefix(key, prefix, open->type, open->len);
	aad_len = tls_key_aad(key, tx->aad, open->type, open->len, prefix);
	tls_key_iv(key, tx->iv);
	tls_tx_src(tx, aad_len);
	tls_tx_dst(tx, aad_len);

	aead_request_set_tfm(req, key->aead);
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	aead_request_set_ad(req, aad_len);
	aead_request_set_crypt(req, tx->src, tx->dst,
			       len - key->prefix - TLS_CIPHER_TAG_SIZE, tx->iv);
	err = crypto_wait_req(crypto_aead_encrypt(req), &wait);
	if (err) {
		tls_tx_out_release(&tx->out);
		return tls_tx_abort(sk, tx, err);
	}

	tls_key_advance(key);
	tls_tx_open_release(open);
	return 0;
}
