// SPDX-License-Identifier: GPL-2.0
/*
 * TX records: gathering a record's plaintext, and sealing it, i.e.
 * encrypting it into memory that TCP then sends without a copy.
 *
 * Plaintext is never copied twice. Bytes from write() and sendmsg() are
 * copied once, straight into the record's own memory, after room for the
 * header; sealing encrypts them in place, and the record is ready to go.
 * Pages spliced in are referenced as they are; sealing reads them where
 * they lie and writes the ciphertext into fresh record memory. So are the
 * caller's own pages when a send fills a whole record, or ends one, and
 * that record is sealed before the send returns: the copy is left out.
 *
 * Record memory comes from the page fragment TCP copies into,
 * sk_page_frag(): the task's for a user socket, the socket's own for an
 * in-kernel one. It is handed out in compound pages: a record is one or
 * two contiguous pieces, a page is used again as soon as every record in
 * it is gone, and a socket that sent holds no page once its records are
 * sent. Other sockets of the task take from the same fragment between
 * two sends, so a piece grows only while the room starts right after it.
 *
 * A payload that crosses a page end starts at a multiple of TLS_TX_ALIGN
 * in it. The crypto API walks a scatterlist a page at a time, and the
 * AEADs take whole blocks, many at once: where a page ends inside what
 * they take, the walk bounces it through a buffer of its own, and the
 * cipher runs its slower tail code. Both cost a 16 KiB record several
 * thousand instructions. With the payload aligned, page ends fall on
 * block ends in the record's memory, and in page-cache pages spliced in
 * too, which start at page ends. Small records stay packed.
 */

#include <linux/highmem.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "device.h"
#include "tx.h"

/**
 * tls_tx_buf_free() - give a record's memory back
 * @buf: the buffer, or NULL
 */
void tls_tx_buf_free(struct tls_tx_buf *buf)
{
	struct bio_vec *seg;
	unsigned int i;

	if (!buf)
		return;
	seg = tls_tx_buf_segs(buf);
	for (i = 0; i < buf->nr; i++)
		put_page(seg[i].bv_page);
	kfree(buf->ext);
	tls_key_op_free(buf, &buf->op);
}

/* The open record's buffer, allocated with its first byte */
static struct tls_tx_buf *tls_tx_buf_get(struct sock *sk, struct tls_tx *tx)
{
	struct tls_tx_open *open = &tx->open;
	struct tls_tx_buf *buf = open->buf;

	if (buf)
		return buf;
	/* the pieces are written as they are taken */
	buf = tls_key_op_alloc(&tx->key, struct tls_tx_buf, op,
			       sk->sk_allocation);
	if (!buf)
		return NULL;
	buf->ext = NULL;
	buf->nr = 0;
	buf->len = 0;
	buf->sent = 0;
	open->buf = buf;
	return buf;
}

/* Give the frags' pages back, and forget them */
static void tls_tx_frags_put(struct tls_tx_open *open)
{
	while (open->nr)
		put_page(open->frags->vec[--open->nr].bv_page);
}

/* A record is to hold referenced pages: it needs its frags then */
static int tls_tx_frags_alloc(struct sock *sk, struct tls_tx_open *open)
{
	if (!open->frags)
		open->frags = kmalloc(sizeof(*open->frags), sk->sk_allocation);
	return open->frags ? 0 : -ENOMEM;
}

void tls_tx_open_release(struct tls_tx_open *open)
{
	tls_tx_frags_put(open);
	kfree(open->frags);
	open->frags = NULL;
	tls_tx_buf_free(open->buf);
	open->buf = NULL;
	open->len = 0;
	open->eor = false;
}

/* Does @bv end where the page fragment's free room starts? */
static bool tls_tx_frag_follows(const struct page_frag *pf,
				const struct bio_vec *bv)
{
	return bv->bv_page == pf->page &&
	       bv->bv_offset + bv->bv_len == pf->offset;
}

/*
 * Take up to @want bytes of room from the page fragment, at the end of
 * @vec (@nr pieces of at most @max): the last piece grows when the room
 * follows it, else a new piece starts. Return: bytes taken, 0 when @vec
 * is full, or -ENOMEM.
 */
static int tls_tx_frag_take(struct sock *sk, struct bio_vec *vec,
			    unsigned int *nr, unsigned int max,
			    unsigned int want)
{
	struct page_frag *pf = sk_page_frag(sk);
	struct bio_vec *last = *nr ? &vec[*nr - 1] : NULL;
	unsigned int n;

	/* 32 bytes at least: a record prefix always fits in one piece */
	if (!skb_page_frag_refill(32, pf, sk->sk_allocation))
		return -ENOMEM;
	n = min_t(unsigned int, want, pf->size - pf->offset);
	if (last && tls_tx_frag_follows(pf, last)) {
		last->bv_len += n;
	} else {
		if (*nr == max)
			return 0;
		get_page(pf->page);
		bvec_set_page(&vec[(*nr)++], pf->page, n, pf->offset);
	}
	pf->offset += n;
	return n;
}

/* Give back the last @n bytes taken, which are still the newest */
static void tls_tx_frag_untake(struct sock *sk, struct bio_vec *vec,
			       unsigned int *nr, unsigned int n)
{
	struct bio_vec *last = &vec[*nr - 1];

	sk_page_frag(sk)->offset -= n;
	last->bv_len -= n;
	if (!last->bv_len) {
		put_page(last->bv_page);
		(*nr)--;
	}
}

/*
 * Start a record's memory so that its payload, after the prefix, lands
 * on a multiple of TLS_TX_ALIGN in the page fragment, unless its first
 * @len bytes fit in the page they start in as they are: up to
 * TLS_TX_ALIGN - 1 bytes are skipped. The room the prefix needs is made
 * first, so that tls_tx_frag_take() does not move on to another page.
 */
static int tls_tx_frag_align(struct sock *sk, struct tls_tx *tx,
			     unsigned int len)
{
	struct page_frag *pf = sk_page_frag(sk);
	unsigned int start;

	if (!skb_page_frag_refill(32 + TLS_TX_ALIGN, pf, sk->sk_allocation))
		return -ENOMEM;
	start = pf->offset + tx->key.prefix;
	if (offset_in_page(start) + len > PAGE_SIZE)
		pf->offset += -start & (TLS_TX_ALIGN - 1);
	return 0;
}

/* Grow @buf by exactly @len bytes of record memory */
static int tls_tx_buf_grow(struct sock *sk, struct tls_tx_buf *buf,
			   unsigned int len)
{
	while (len) {
		int n = tls_tx_frag_take(sk, buf->seg, &buf->nr, TLS_TX_SEGS,
					 len);

		if (n <= 0)
			return n ? n : -ENOMEM;
		len -= n;
	}
	return 0;
}

/* Where byte @pos of @buf lies, in the kernel's direct map */
static u8 *tls_tx_buf_ptr(struct tls_tx_buf *buf, unsigned int pos)
{
	unsigned int i;

	for (i = 0; pos >= buf->seg[i].bv_len; i++)
		pos -= buf->seg[i].bv_len;
	return page_address(buf->seg[i].bv_page) + buf->seg[i].bv_offset + pos;
}

/*
 * Copy from the caller into record memory taken at the end of @vec: the
 * open record's own buffer, or its frags once pages were spliced in (a
 * spliced page never ends where the fragment's room starts, so copies
 * get pieces of their own). Return: bytes copied, 0 when @vec is full,
 * or a negative errno when nothing was copied.
 */
static int tls_tx_copy_into(struct sock *sk, struct tls_tx *tx,
			    struct bio_vec *vec, unsigned int *nr,
			    unsigned int max, struct msghdr *msg, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct bio_vec *last;
		size_t got;
		int n;

		n = tls_tx_frag_take(sk, vec, nr, max, len - done);
		if (n <= 0)
			return done ? done : n;
		last = &vec[*nr - 1];
		got = copy_page_from_iter(last->bv_page,
					  last->bv_offset + last->bv_len - n,
					  n, &msg->msg_iter);
		tx->open.len += got;
		done += got;
		if (got < n) {
			tls_tx_frag_untake(sk, vec, nr, n - got);
			return done ? done : -EFAULT;
		}
	}
	return done;
}

/**
 * tls_tx_full() - must the open record close before it takes more?
 * @sk: the socket, locked
 * @tx: its TX state
 *
 * Return: true when it holds as many bytes as a record may carry, or has
 * no piece of memory left to grow into.
 */
bool tls_tx_full(struct sock *sk, struct tls_tx *tx)
{
	const struct page_frag *pf = sk_page_frag(sk);
	const struct tls_tx_open *open = &tx->open;
	const struct bio_vec *last;

	if (open->len >= tx->max_payload)
		return true;
	/* one piece stays free for the tag */
	if (!open->nr)
		return open->buf && open->buf->nr >= TLS_TX_SEGS - 1;
	if (open->nr < tls_tx_frags_max(tx))
		return false;
	/* out of frags: copies may still grow the last one */
	last = &open->frags->vec[open->nr - 1];
	return !tls_tx_frag_follows(pf, last) || pf->offset == pf->size;
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
	struct tls_tx_buf *buf;
	int err;

	if (open->nr)
		return tls_tx_copy_into(sk, tx, open->frags->vec, &open->nr,
					tls_tx_frags_max(tx), msg, len);
	buf = tls_tx_buf_get(sk, tx);
	if (!buf)
		return -ENOMEM;
	/* the record's own memory starts with room for its prefix */
	if (!buf->nr) {
		err = tls_tx_frag_align(sk, tx, len) ?:
		      tls_tx_buf_grow(sk, buf, tx->key.prefix);
		if (err)
			return err;
	}
	return tls_tx_copy_into(sk, tx, buf->seg, &buf->nr, TLS_TX_SEGS, msg,
				len);
}

/*
 * Pages are spliced into a record that has copied bytes: those become
 * the first frags, their references handed over, the prefix left out.
 */
static void tls_tx_buf_to_frags(struct tls_tx *tx)
{
	struct tls_tx_open *open = &tx->open;
	struct tls_tx_buf *buf = open->buf;
	struct bio_vec *vec;
	unsigned int i;

	if (!buf || !buf->nr)
		return;
	for (i = 0; i < buf->nr; i++)
		open->frags->vec[i] = buf->seg[i];
	open->nr = buf->nr;
	vec = open->frags->vec;
	vec[0].bv_offset += tx->key.prefix;
	vec[0].bv_len -= tx->key.prefix;
	if (!vec[0].bv_len) {
		put_page(vec[0].bv_page);
		memmove(vec, vec + 1, --open->nr * sizeof(vec[0]));
	}
	buf->nr = 0;
}

/**
 * tls_tx_take() - reference spliced pages as the open record's plaintext
 * @sk: the socket, locked
 * @tx: its TX state
 * @msg: a MSG_SPLICE_PAGES message with a bvec iterator
 * @len: bytes to take; the record has room for them
 *
 * The pages are read when the record is sealed; until then the record
 * holds a reference on each. A page reference does not keep a slab
 * object alive (sendpage_ok()), so such bytes are copied instead.
 *
 * Return: bytes taken (fewer when the record ran out of frags), or a
 * negative errno when none was.
 */
int tls_tx_take(struct sock *sk, struct tls_tx *tx, struct msghdr *msg,
		size_t len)
{
	struct tls_tx_open *open = &tx->open;
	size_t done = 0;

	/* the buffer too: sealing must not fail for want of it */
	if (tls_tx_frags_alloc(sk, open) || !tls_tx_buf_get(sk, tx))
		return -ENOMEM;
	tls_tx_buf_to_frags(tx);
	while (done < len) {
		struct bio_vec *last = open->nr ?
				       &open->frags->vec[open->nr - 1] : NULL;
		struct page *page, **pages = &page;
		size_t off;
		ssize_t n;

		/* a bvec iterator hands out pages without references */
		n = iov_iter_extract_pages(&msg->msg_iter, &pages, len - done,
					   1, 0, &off);
		if (n <= 0)
			return done ? done : (n ? n : -EIO);
		if (!sendpage_ok(page)) {
			iov_iter_revert(&msg->msg_iter, n);
			if (done)
				break;
			return tls_tx_copy(sk, tx, msg, n);
		}
		if (last && last->bv_page == page &&
		    last->bv_offset + last->bv_len == off &&
		    !tls_tx_frag_follows(sk_page_frag(sk), last)) {
			last->bv_len += n;
		} else if (open->nr < tls_tx_frags_max(tx)) {
			get_page(page);
			bvec_set_page(&open->frags->vec[open->nr++], page, n,
				      off);
		} else {
			iov_iter_revert(&msg->msg_iter, n);
			break;
		}
		open->len += n;
		done += n;
	}
	return done;
}

/* Total bytes of @buf's pieces */
static unsigned int tls_tx_buf_size(const struct tls_tx_buf *buf)
{
	unsigned int i, size = 0;

	for (i = 0; i < buf->nr; i++)
		size += buf->seg[i].bv_len;
	return size;
}

/*
 * Shrink @buf back to @size bytes after a failed grow; the fragment gets
 * back what is still at its end.
 */
static void tls_tx_buf_trim(struct sock *sk, struct tls_tx_buf *buf,
			    unsigned int size)
{
	struct page_frag *pf = sk_page_frag(sk);
	unsigned int over = tls_tx_buf_size(buf) - size;

	while (over) {
		struct bio_vec *last = &buf->seg[buf->nr - 1];
		unsigned int n = min(over, last->bv_len);

		if (tls_tx_frag_follows(pf, last))
			pf->offset -= n;
		last->bv_len -= n;
		over -= n;
		if (!last->bv_len)
			put_page(buf->seg[--buf->nr].bv_page);
	}
}

/* Bytes after the plaintext that are sealed with it: TLS 1.3's type */
static unsigned int tls_tx_inner_len(const struct tls_tx *tx)
{
	return tx->key.version == TLS_1_3_VERSION ? 1 : 0;
}

/* Record memory sealing needs for @len bytes of plaintext */
static unsigned int tls_tx_seal_size(const struct tls_tx *tx,
				     unsigned int len)
{
	return tx->key.prefix + len + tls_tx_inner_len(tx) +
	       TLS_CIPHER_TAG_SIZE;
}

/*
 * Take references on up to @len bytes of the caller's pages as frags;
 * return how many bytes
 */
static size_t tls_tx_borrow_pages(struct tls_tx_open *open,
				  struct msghdr *msg, size_t len)
{
	struct page *pages[TLS_TX_FRAGS];
	size_t done = 0, off;
	unsigned int i;
	ssize_t n;

	while (done < len && open->nr < TLS_TX_FRAGS) {
		n = iov_iter_get_pages2(&msg->msg_iter, pages, len - done,
					TLS_TX_FRAGS - open->nr, &off);
		if (n <= 0)
			break;
		done += n;
		for (i = 0; n; i++) {
			size_t k = min_t(size_t, n, PAGE_SIZE - off);

			bvec_set_page(&open->frags->vec[open->nr++], pages[i],
				      k, off);
			n -= k;
			off = 0;
		}
	}
	return done;
}

/**
 * tls_tx_borrow() - take the caller's pages as the open record's plaintext
 * @sk: the socket, locked
 * @tx: its TX state: the open record is empty and no sealed record waits
 * @msg: the caller's message, in user memory
 * @len: bytes to take: they close the record before the send returns
 *
 * Sealing then reads the plaintext where the caller has it, which saves
 * copying it first. The pages are only borrowed: they are referenced
 * (iov_iter_get_pages2(), as for any read of user memory that ends with
 * the syscall), and sealing must be over before the send returns, as the
 * caller may write to them afterwards. So the memory sealing needs is
 * taken here, and nothing can leave the record waiting.
 *
 * Return: @len; 0 when the pages could not all be had (the caller copies
 * instead); or -ENOMEM.
 */
int tls_tx_borrow(struct sock *sk, struct tls_tx *tx, struct msghdr *msg,
		  size_t len)
{
	struct tls_tx_open *open = &tx->open;
	struct tls_tx_buf *buf;
	unsigned int size;
	size_t done;
	int err;

	/* without its frags, the record takes a copy as well */
	if (tls_tx_frags_alloc(sk, open))
		return 0;
	buf = tls_tx_buf_get(sk, tx);
	if (!buf)
		return -ENOMEM;
	size = tls_tx_buf_size(buf);
	err = size ? 0 : tls_tx_frag_align(sk, tx, len);
	if (!err)
		err = tls_tx_buf_grow(sk, buf,
				      tls_tx_seal_size(tx, len) - size);
	if (err) {
		tls_tx_buf_trim(sk, buf, size);
		return err;
	}
	done = tls_tx_borrow_pages(open, msg, len);
	if (done < len) {
		iov_iter_revert(&msg->msg_iter, done);
		tls_tx_frags_put(open);
		tls_tx_buf_trim(sk, buf, size);
		return 0;
	}
	open->len = len;
	return len;
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

/* Scatterlist entries for bytes [@pos, @pos + @len) of @buf */
static unsigned int tls_tx_buf_sg(struct scatterlist *sg,
				  const struct tls_tx_buf *buf,
				  unsigned int pos, unsigned int len)
{
	unsigned int i, n = 0;

	for (i = 0; i < buf->nr && len; i++) {
		const struct bio_vec *seg = &buf->seg[i];
		unsigned int k;

		if (pos >= seg->bv_len) {
			pos -= seg->bv_len;
			continue;
		}
		k = min(len, seg->bv_len - pos);
		sg_set_page(&sg[n++], seg->bv_page, k, seg->bv_offset + pos);
		pos = 0;
		len -= k;
	}
	return n;
}

/*
 * Record memory for sealing. Copied plaintext is encrypted where it lies,
 * so its buffer only grows by TLS 1.3's inner type and the tag; spliced
 * plaintext needs a whole record's worth, which tls_tx_borrow() took already
 * for the caller's pages. On failure nothing changed.
 */
static int tls_tx_seal_mem(struct sock *sk, struct tls_tx *tx)
{
	unsigned int size, need = tls_tx_seal_size(tx, tx->open.len);
	struct tls_tx_buf *buf = tls_tx_buf_get(sk, tx);
	int err;

	if (!buf)
		return -ENOMEM;
	size = tls_tx_buf_size(buf);
	if (need <= size)
		return 0;
	err = size ? 0 : tls_tx_frag_align(sk, tx, need - tx->key.prefix);
	if (!err)
		err = tls_tx_buf_grow(sk, buf, need - size);
	if (err)
		tls_tx_buf_trim(sk, buf, size);
	return err;
}

/*
 * In place: AAD, then the record's memory from the plaintext to the end of
 * the tag, as source and destination both, in @sg.
 */
static void tls_tx_sg_in_place(struct tls_tx *tx, struct tls_key_op *op,
			       struct scatterlist *sg, unsigned int aad_len,
			       unsigned int inner)
{
	struct tls_tx_buf *buf = tx->open.buf;
	unsigned int n, len = tx->open.len;

	if (inner)
		*tls_tx_buf_ptr(buf, tx->key.prefix + len) = tx->open.type;
	sg_init_table(sg, buf->nr + 1);
	sg_set_buf(&sg[0], op->aad, aad_len);
	n = tls_tx_buf_sg(sg + 1, buf, tx->key.prefix,
			  len + inner + TLS_CIPHER_TAG_SIZE);
	sg_mark_end(&sg[n]);
	tls_key_req(&tx->key, op, sg, sg, len + inner, aad_len);
}

/*
 * From the frags where they lie (spliced pages, or the caller's borrowed
 * ones), into the record's memory: AAD, plaintext, TLS 1.3's type byte in
 * the source; AAD, then ciphertext and tag after the prefix in the
 * destination.
 */
static void tls_tx_sg_from_frags(struct tls_tx *tx, struct tls_key_op *op,
				 unsigned int aad_len, unsigned int inner)
{
	struct tls_tx_open *open = &tx->open;
	struct tls_tx_frags *sg = open->frags;
	unsigned int i, n = 0, len = open->len;

	sg_init_table(sg->src, open->nr + 2);
	sg_set_buf(&sg->src[n++], op->aad, aad_len);
	for (i = 0; i < open->nr; i++)
		sg_set_page(&sg->src[n++], sg->vec[i].bv_page,
			    sg->vec[i].bv_len, sg->vec[i].bv_offset);
	if (inner) {
		op->type = open->type;
		sg_set_buf(&sg->src[n++], &op->type, 1);
	}
	sg_mark_end(&sg->src[n - 1]);

	/* The AAD is copied over itself: GCM and CCM expect it in dst too */
	sg_init_table(sg->dst, open->buf->nr + 1);
	sg_set_buf(&sg->dst[0], op->aad, aad_len);
	n = tls_tx_buf_sg(sg->dst + 1, open->buf, tx->key.prefix,
			  len + inner + TLS_CIPHER_TAG_SIZE);
	sg_mark_end(&sg->dst[n]);
	tls_key_req(&tx->key, op, sg->src, sg->dst, len + inner, aad_len);
}

/* The open record is sealed: it goes out next, the next gets the next seq */
static void tls_tx_sealed(struct tls_tx *tx)
{
	struct tls_tx_open *open = &tx->open;

	tls_key_advance(&tx->key);
	/* Pairs with READ_ONCE() in tls_tx_pending() */
	WRITE_ONCE(tx->out, open->buf);
	open->buf = NULL;
	tls_tx_open_release(open);
	/* the next record goes under the keys of a KeyUpdate, if one came */
	tls_tx_next_use(tx);
}

/* Clear the tag room at @pos of @buf (no stale memory may leave) */
static void tls_tx_tag_clear(struct tls_tx_buf *buf, unsigned int pos)
{
	unsigned int i;

	for (i = 0; i < TLS_CIPHER_TAG_SIZE; i++)
		*tls_tx_buf_ptr(buf, pos + i) = 0;
}

/*
 * Device offload with spliced plaintext (TLS_TX_ZEROCOPY_RO): the record
 * goes out as the piece holding its prefix and tag room, cut in two
 * around the frags. List that in the frags' own vec, after moving them
 * up one, and return how many pieces; the references stay with the open
 * record (plus one for the second half of the piece) until
 * tls_tx_frame() hands them over, or tls_tx_frame_undo() puts the frags
 * back.
 */
static unsigned int tls_tx_frame_frags(struct tls_tx *tx)
{
	struct tls_tx_open *open = &tx->open;
	struct bio_vec *head = &open->buf->seg[0];
	struct bio_vec *vec = open->frags->vec;
	unsigned int prefix = tx->key.prefix;

	memmove(&vec[1], &vec[0], open->nr * sizeof(*vec));
	vec[0] = *head;
	vec[0].bv_len = prefix;
	get_page(head->bv_page);
	bvec_set_page(&vec[open->nr + 1], head->bv_page,
		      TLS_CIPHER_TAG_SIZE, head->bv_offset + prefix);
	return open->nr + 2;
}

static void tls_tx_frame_undo(struct tls_tx *tx, unsigned int n)
{
	struct bio_vec *vec = tx->open.frags->vec;

	put_page(vec[n - 1].bv_page);
	memmove(&vec[0], &vec[1], tx->open.nr * sizeof(*vec));
}

/*
 * Device offload: the record is framed, not sealed: prefix, plaintext
 * and tag room go out as they are and are listed for the device and the
 * fallback (device_tx.c). On failure nothing changed.
 */
static int tls_tx_frame(struct sock *sk, struct tls_tx *tx)
{
	struct tls_tx_open *open = &tx->open;
	struct tls_key *key = &tx->key;
	unsigned int size, rec_len, n;
	struct tls_tx_buf *buf;
	int err;

	/* the frame of spliced pages is built in their frags' vec */
	BUILD_BUG_ON(TLS_TX_DEV_FRAGS + 2 > TLS_TX_FRAGS);
	BUILD_BUG_ON(offsetof(struct tls_tx_frags, vec));
	/* a typed send of 0 bytes has no buffer yet */
	buf = tls_tx_buf_get(sk, tx);
	if (!buf)
		return -ENOMEM;
	/*
	 * Frags get a piece of prefix and tag room; copied plaintext follows
	 * its prefix, which an empty record does not have yet.
	 */
	size = tls_tx_buf_size(buf);
	err = tls_tx_buf_grow(sk, buf, open->nr ?
			      key->prefix + TLS_CIPHER_TAG_SIZE :
			      key->prefix + open->len + TLS_CIPHER_TAG_SIZE -
			      size);
	if (!err && open->nr && buf->nr != 1)
		err = -ENOMEM;
	if (err) {
		tls_tx_buf_trim(sk, buf, size);
		return err;
	}
	rec_len = tls_key_prefix(key, tls_tx_buf_ptr(buf, 0), open->type,
				 open->len);
	tls_tx_tag_clear(buf, rec_len - TLS_CIPHER_TAG_SIZE -
			      (open->nr ? open->len : 0));
	if (!open->nr) {
		err = tls_dev_tx_record(sk, tx->dev, buf->seg, buf->nr,
					rec_len, key->seq);
		if (err) {
			tls_tx_buf_trim(sk, buf, size);
			return err;
		}
		buf->len = rec_len;
		tls_tx_sealed(tx);
		return 0;
	}

	n = tls_tx_frame_frags(tx);
	err = tls_dev_tx_record(sk, tx->dev, open->frags->vec, n, rec_len,
				key->seq);
	if (err) {
		tls_tx_frame_undo(tx, n);
		tls_tx_buf_trim(sk, buf, size);
		return err;
	}
	/*
	 * The references are the sent record's now, listed in the frags'
	 * vec: the buffer takes the frags over, and frees them (the vec
	 * starts them).
	 */
	buf->ext = open->frags->vec;
	buf->nr = n;
	buf->len = rec_len;
	buf->sent = 0;
	/* Pairs with READ_ONCE() in tls_tx_pending() */
	WRITE_ONCE(tx->out, buf);
	open->buf = NULL;
	open->frags = NULL;
	open->nr = 0;
	tls_tx_open_release(open);
	tls_key_advance(key);
	tls_tx_next_use(tx);
	return 0;
}

/**
 * tls_tx_seal() - encrypt the open record into @tx->out
 * @sk: the socket, locked
 * @tx: its TX state; @tx->out is NULL
 *
 * On success @tx->out holds the record and the open record is empty
 * again; the next record gets the next sequence number. Running out of
 * memory changes nothing. Running out of sequence numbers or a failed
 * encryption ends the TX path: there is no way to carry on the record
 * stream, so the socket gets the error (@tx->err, sk_err) and sends
 * nothing more.
 *
 * Return: 0, -ENOMEM, -EBADMSG when the sequence numbers are used up, or
 * the crypto API's error.
 */
int tls_tx_seal(struct sock *sk, struct tls_tx *tx)
{
	struct tls_tx_open *open = &tx->open;
	/* the AAD, then the record's own memory: TLS_TX_SEGS pieces at most */
	struct scatterlist in_place[TLS_TX_SEGS + 1];
	struct tls_key *key = &tx->key;
	unsigned int inner, aad_len;
	DECLARE_CRYPTO_WAIT(wait);
	struct tls_key_op *op;
	u8 *prefix;
	int err;

	/* the record can never go: drop it, and any page it borrowed */
	if (tls_tx_seq_spent(tx)) {
		tls_tx_open_release(open);
		return tls_tx_abort(sk, tx, -EBADMSG);
	}
	if (tx->dev)
		return tls_tx_frame(sk, tx);
	inner = tls_tx_inner_len(tx);
	err = tls_tx_seal_mem(sk, tx);
	if (err)
		return err;

	op = &open->buf->op;
	/* the prefix starts the first piece; TLS 1.3's AAD is its header */
	prefix = tls_tx_buf_ptr(open->buf, 0);
	open->buf->len = tls_key_prefix(key, prefix, open->type, open->len);
	aad_len = tls_key_aad(key, op->aad, open->type, open->len, prefix);
	tls_key_iv(key, op->iv);
	if (open->nr)
		tls_tx_sg_from_frags(tx, op, aad_len, inner);
	else
		tls_tx_sg_in_place(tx, op, in_place, aad_len, inner);

	aead_request_set_callback(&op->req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	err = crypto_wait_req(crypto_aead_encrypt(&op->req), &wait);
	if (err) {
		tls_tx_open_release(open);
		return tls_tx_abort(sk, tx, err);
	}
	tls_tx_sealed(tx);
	return 0;
}
