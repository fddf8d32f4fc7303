/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_TX_H
#define _TLS_TX_H

#include <linux/bvec.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#include "key.h"

struct tls_dev_tx;

/* Plaintext pieces one record may gather; a record is closed early at this */
#define TLS_TX_FRAGS		32
/* Bytes one record takes at most */
#define TLS_TX_RECORD_MAX \
	(TLS_KEY_PREFIX_MAX + TLS_MAX_PAYLOAD_SIZE + 1 + TLS_CIPHER_TAG_SIZE)
/* Pieces of memory one record may span (order-0 pages at worst, plus one) */
#define TLS_TX_SEGS		(DIV_ROUND_UP(TLS_TX_RECORD_MAX, PAGE_SIZE) + 2)
/*
 * Plaintext pieces of a record under device offload with
 * TLS_TX_ZEROCOPY_RO: the record goes out as its prefix, the spliced
 * pages and the tag room, at most the MAX_SKB_FRAGS a tls_record_info
 * holds
 */
#define TLS_TX_DEV_FRAGS	MIN(TLS_TX_FRAGS, MAX_SKB_FRAGS - 2)
/* A record's payload starts at a multiple of this: see tx_record.c */
#define TLS_TX_ALIGN		256
/* Pieces a sent record may span: sealed, or framed for the device */
#define TLS_TX_BUF_SEGS		MAX(TLS_TX_SEGS, TLS_TX_DEV_FRAGS + 2)

/**
 * struct tls_tx_buf - the memory of a record, as it goes on the wire
 *
 * Allocated with the record's first byte (tls_tx_buf_get()), handed from
 * the open record to @out of struct tls_tx when sealed, freed once TCP
 * has taken it all: an idle socket holds none. Sealing allocates
 * nothing more, so that a send that took bytes never leaves them behind
 * for want of memory.
 *
 * @seg: physically contiguous pieces, in order, each holding a page
 *	reference. They come from sk_page_frag() (compound
 *	pages, like TCP's own), so a record is one or two pieces.
 * @ext: instead of @seg, for a record framed for a device with
 *	TLS_TX_ZEROCOPY_RO: its prefix, the spliced pages and its tag room,
 *	more pieces than @seg holds. The vec of the open record's struct
 *	tls_tx_frags, which the buffer takes over with the frame and frees
 *	with itself; NULL otherwise.
 * @nr: pieces in use; 0 when the buffer holds nothing
 * @len: record bytes, once sealed
 * @sent: bytes TCP has taken (it holds its own page references)
 * @op: the AEAD request, IV and AAD that seal the record, for the keys
 *	it was opened under (a KeyUpdate waits for the open record to be
 *	sealed, or finds it empty and drops it: tls_tx_rekey()); last, as
 *	its request's context follows it
 */
struct tls_tx_buf {
	struct bio_vec		seg[TLS_TX_SEGS];
	struct bio_vec		*ext;
	unsigned int		nr;
	unsigned int		len;
	unsigned int		sent;
	struct tls_key_op	op;
};

/* The pieces of @buf */
static inline struct bio_vec *tls_tx_buf_segs(struct tls_tx_buf *buf)
{
	return buf->ext ?: buf->seg;
}

/**
 * struct tls_tx_frags - what a record of referenced pages needs
 * @vec: the plaintext pieces, in order, each holding a page reference
 * @src: for sealing: AAD, the pieces, and TLS 1.3's content type
 * @dst: for sealing: AAD, then where ciphertext and tag go in the
 *	record's own memory
 *
 * Allocated with the record's first such page, freed with the record:
 * records of copied bytes, as write() makes, never need it, and an idle
 * socket holds none.
 */
struct tls_tx_frags {
	struct bio_vec		vec[TLS_TX_FRAGS];
	struct scatterlist	src[TLS_TX_FRAGS + 2];
	struct scatterlist	dst[TLS_TX_SEGS + 1];
};

/**
 * struct tls_tx_open - the record being filled with plaintext
 * @buf: the record's own memory: the prefix, then the plaintext that
 *	write() and sendmsg() copied in, which sealing encrypts in place;
 *	with @frags, the memory sealing encrypts them into
 * @frags: the plaintext instead, once pages were spliced in (sendfile(),
 *	splice(), MSG_SPLICE_PAGES), or the caller's own pages for a record
 *	sealed before its send returns (tls_tx_borrow()): those are
 *	referenced, never copied, and sealing encrypts from them into a
 *	fresh buffer. NULL until the first of them.
 * @nr: frags in use; 0 while the plaintext is in @buf
 * @len: plaintext bytes
 * @type: the record's content type
 * @eor: the record is complete: it goes out once the one before it has
 */
struct tls_tx_open {
	struct tls_tx_buf	*buf;
	struct tls_tx_frags	*frags;
	unsigned int		nr;
	unsigned int		len;
	u8			type;
	bool			eor;
};

/**
 * struct tls_tx_next - TLS 1.3 keys waiting for the open record to go
 * @key: the keys
 */
struct tls_tx_next {
	struct tls_key		key;
};

/**
 * struct tls_tx - the software transmit path of one socket
 * @key: keys and counters
 * @dev: device offload, when the device took the keys: records are
 *	framed, not sealed, and sent marked for it (device_tx.c)
 * @next: keys of a KeyUpdate, set while the record that was open when
 *	they came is not sealed yet: its bytes were sent under @key
 * @lock: serialises senders. The socket lock alone does not: a sender
 *	that waits for send buffer space drops it, and another sender must
 *	not put its bytes into the middle of the first one's.
 * @open: the record being filled
 * @out: the encrypted record TCP has not taken all of, or NULL
 * @err: an error that ended the path for good (a failed encryption
 *	leaves no way to continue the record stream), 0 before
 * @max_payload: the most plaintext one record carries (RFC 8449's limit,
 *	set with TLS_TX_MAX_PAYLOAD_LEN; TLS 1.3's content type byte comes
 *	on top). Changed only while no record is open.
 * @closing: close() runs; @work must not touch the socket any more
 * @flags: TLS_TX_WORK_AGAIN: @work found @lock taken (tls_tx_unlock())
 * @work: pushes what is pending once TCP has room (see tls_tx_wake())
 * @sk: the socket, for @work
 * @sk_write_space: the socket's own write_space callback
 *
 * Record memory is not here: the buffers of @open and @out are allocated
 * for their record, with the AEAD request, IV and AAD that seal it
 * (struct tls_key_op); a sealing's scatterlists are on its stack or in
 * @open's frags. An idle socket holds none of it.
 *
 * Allocated by setsockopt(TLS_TX), freed by close(). Everything but
 * @work's scheduling runs under the socket lock; @lock is taken first,
 * interruptibly by syscalls, never waited for by @work.
 */
struct tls_tx {
	struct tls_key		key;
	struct tls_dev_tx	*dev;
	struct tls_tx_next	*next;
	struct mutex		lock;	/* serialises senders, see above */
	struct tls_tx_open	open;
	struct tls_tx_buf	*out;
	int			err;
	u16			max_payload;
	bool			closing;
	unsigned long		flags;
	struct work_struct	work;
	struct sock		*sk;
	void			(*sk_write_space)(struct sock *sk);
};

/* Bit of tls_tx.flags */
#define TLS_TX_WORK_AGAIN	0

/*
 * No record is sent with the last sequence number, 2^64 - 1: the send
 * that would need it fails with EBADMSG instead, as upstream's selftests
 * expect. (RX accepts a record with it, and fails the one after.)
 */
static inline bool tls_tx_seq_spent(const struct tls_tx *tx)
{
	return tx->key.seq == U64_MAX;
}

/* Most plaintext pieces the open record may have */
static inline unsigned int tls_tx_frags_max(const struct tls_tx *tx)
{
	return tx->dev ? TLS_TX_DEV_FRAGS : TLS_TX_FRAGS;
}

/* tx.c: the socket calls */
int tls_tx_start(struct sock *sk, const struct tls_cipher *cipher,
		 const u8 *info);
void tls_tx_stop(struct sock *sk, struct tls_tx *tx);
int tls_tx_rekey(struct sock *sk, struct tls_tx *tx, const u8 *info);
void tls_tx_next_use(struct tls_tx *tx);
int tls_tx_sendmsg(struct sock *sk, struct tls_tx *tx, struct msghdr *msg,
		   size_t size);
void tls_tx_splice_eof(struct sock *sk, struct tls_tx *tx);
int tls_tx_flush(struct sock *sk, struct tls_tx *tx);
void tls_tx_unlock(struct sock *sk, struct tls_tx *tx);

/* tx_record.c: filling, encrypting and freeing records */
int tls_tx_copy(struct sock *sk, struct tls_tx *tx, struct msghdr *msg,
		size_t len);
int tls_tx_take(struct sock *sk, struct tls_tx *tx, struct msghdr *msg,
		size_t len);
int tls_tx_borrow(struct sock *sk, struct tls_tx *tx, struct msghdr *msg,
		  size_t len);
int tls_tx_seal(struct sock *sk, struct tls_tx *tx);
bool tls_tx_full(struct sock *sk, struct tls_tx *tx);
int tls_tx_abort(struct sock *sk, struct tls_tx *tx, int err);
void tls_tx_open_release(struct tls_tx_open *open);
void tls_tx_buf_free(struct tls_tx_buf *buf);

#endif /* _TLS_TX_H */
