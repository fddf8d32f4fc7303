/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_RX_H
#define _TLS_RX_H

#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <net/sock.h>

#include "key.h"

struct tls_dev_rx;

/*
 * Pieces of TCP's receive queue one record may span and still be
 * decrypted where it lies; a record in more pieces is copied out first.
 */
#define TLS_RX_SRC_SEGS		48
/* User pages one record's plaintext may span to be decrypted into them */
#define TLS_RX_USER_PAGES	12

/**
 * struct tls_rx_msg - what a decrypted record carries in its skb's cb
 * @off: bytes of its plaintext already read
 * @type: its content type (TLS 1.3: the inner one)
 */
struct tls_rx_msg {
	u32	off;
	u8	type;
};

static inline struct tls_rx_msg *tls_rx_msg(struct sk_buff *skb)
{
	return (struct tls_rx_msg *)skb->cb;
}

/**
 * struct tls_rx - the software receive path of one socket
 * @key: keys and counters
 * @queue: decrypted records not read in full, oldest first: the one a
 *	read stopped in, and those MSG_PEEK decrypted ahead
 * @queued: plaintext bytes in @queue not read yet
 * @rec_len: the wire length of the record at the head of TCP's receive
 *	queue once its header is there, 0 before
 * @part: the head record's first @part_len bytes (or of its header, while
 *	@rec_len is 0), moved out of TCP because it was squeezed
 *	(rx_parse.c); NULL while TCP holds them.
 *	Not charged to the socket: it is one record at most.
 * @part_len: bytes in @part
 * @part_wanted: @part could not be allocated where the parser may not
 *	sleep: a reader tries again, and until then one is woken
 * @rec_type: the head record's content type, set with @rec_len: with it
 *	the header is known without reading it from TCP again (its version
 *	is always TLS 1.2's, the parser checked)
 * @err: -EBADMSG once a record failed to decrypt or was too short to:
 *	every read returns it from now
 * @stopped: the parser found a malformed header and reported it through
 *	sk_err; nothing more is read from TCP
 * @expired: a TLS 1.3 KeyUpdate was decrypted: the records after it need
 *	the next keys (setsockopt(TLS_RX) again) before they can be read
 * @no_pad: TLS_RX_EXPECT_NO_PAD: the peer promised not to pad TLS 1.3
 *	records; they are decrypted straight into the reader's buffer
 * @pad_seen: TLS 1.3 records, larger than small ones (tls_rx_rec_small()),
 *	that turned out padded although the peer promised nothing. Until
 *	%TLS_RX_PAD_SEEN_MAX of them, such records are decrypted straight
 *	into the reader's buffer too, on the guess that they are data and
 *	carry no padding; from then on through kernel memory, as a padding
 *	peer would otherwise cost two decryptions per record.
 * @sk_data_ready: the socket's own callback, called once a whole record
 *	(or an error) can be read
 * @dev: the device that decrypts records as they arrive, or NULL
 *	(device_rx.c); set before @rx is published, freed with it
 *
 * What a decryption needs, its scatterlists, AEAD request, IV and AAD,
 * is not here but allocated for it (rx_record.c): an idle socket does
 * not hold it.
 *
 * Allocated by setsockopt(TLS_RX), freed by close(). Every field but
 * @rec_len, @queue's emptiness and the flags that poll() reads is used
 * under the socket lock only. The parser's fields (@rec_len, @rec_type,
 * @part, @part_len, @part_wanted, @stopped, and @err for a short record)
 * are also written by the data_ready callback, which runs only while no task
 * owns the socket (or from the owner's own backlog processing), so
 * writers never race; poll() reads them with READ_ONCE().
 */
struct tls_rx {
	struct tls_key		key;
	struct sk_buff_head	queue;
	u32			queued;
	u32			rec_len;
	struct sk_buff		*part;
	u32			part_len;
	bool			part_wanted;
	u8			rec_type;
	int			err;
	bool			stopped;
	bool			expired;
	bool			no_pad;
	u8			pad_seen;
	void			(*sk_data_ready)(struct sock *sk);
	struct tls_dev_rx	*dev;
};

/* Padded records after which TLS 1.3 records are no longer guessed */
#define TLS_RX_PAD_SEEN_MAX	4

/*
 * Plaintext bytes of a record small enough to be decrypted into kernel
 * memory and copied to the reader, rather than into the reader's pages
 */
#define TLS_RX_SMALL_MAX	512

/* Is the head record, its header parsed, a small one? */
static inline bool tls_rx_rec_small(const struct tls_rx *rx)
{
	return rx->rec_len - rx->key.prefix - TLS_CIPHER_TAG_SIZE <=
	       TLS_RX_SMALL_MAX;
}

/*
 * Make @n entries of @sg ready to be filled, none of them marking the end:
 * a record's scatterlists are initialised only as far as they are used,
 * as most records need a few of their entries
 */
static inline void tls_rx_sg_prep(struct scatterlist *sg, unsigned int n)
{
	sg_init_table(sg, n);
	sg_unmark_end(&sg[n - 1]);
}

/* rx.c: the socket calls */
int tls_rx_start(struct sock *sk, const struct tls_cipher *cipher,
		 const u8 *info);
int tls_rx_rekey(struct sock *sk, struct tls_rx *rx, const u8 *info);
void tls_rx_stop(struct sock *sk, struct tls_rx *rx);
int tls_rx_recvmsg(struct sock *sk, struct tls_rx *rx, struct msghdr *msg,
		   size_t len, int flags);
ssize_t tls_rx_splice_read(struct sock *sk, struct tls_rx *rx,
			   struct pipe_inode_info *pipe, size_t len,
			   unsigned int flags, bool nonblock);
int tls_rx_read_sock(struct sock *sk, struct tls_rx *rx,
		     read_descriptor_t *desc, sk_read_actor_t actor);
bool tls_rx_poll_ready(struct sock *sk, struct tls_rx *rx);
int tls_rx_peek_len(struct sock *sk, struct tls_rx *rx);

/* What tls_rx_tcp_marks() found: bytes a device decrypted, bytes it did not */
#define TLS_RX_MARK_PLAIN	BIT(0)
#define TLS_RX_MARK_CIPHER	BIT(1)

/* rx_parse.c: record boundaries on TCP's receive queue */
void tls_rx_parse(struct sock *sk, struct tls_rx *rx, gfp_t gfp);
bool tls_rx_rec_ready(struct sock *sk, const struct tls_rx *rx);
void tls_rx_rec_gather(struct sock *sk, struct tls_rx *rx);
int tls_rx_rec_copy(struct sock *sk, struct tls_rx *rx, u32 off, void *to,
		    u32 len);
int tls_rx_rec_sg(struct sock *sk, struct tls_rx *rx, u32 off, u32 len,
		  struct scatterlist *sg, unsigned int max);
int tls_rx_rec_copy_msg(struct sock *sk, struct tls_rx *rx, u32 off,
			struct msghdr *msg, u32 len);
int tls_rx_rec_take(struct sock *sk, struct tls_rx *rx);
unsigned int tls_rx_tcp_marks(struct sock *sk, u32 len);
int tls_rx_unseen_rec(struct sock *sk, struct tls_rx *rx, u32 *seq, u64 *sn);
void tls_rx_tcp_done(struct sock *sk, struct tls_rx *rx);
struct sk_buff *tls_rx_skb_alloc(unsigned int len, gfp_t gfp);
int tls_rx_tcp_copy_skb(struct sock *sk, u32 off, struct sk_buff *skb,
			u32 at, u32 len);

/* rx_record.c: decrypting the record at the head of TCP's queue */
struct sk_buff *tls_rx_open(struct sock *sk, struct tls_rx *rx);
int tls_rx_open_user(struct sock *sk, struct tls_rx *rx, struct msghdr *msg,
		     size_t room, struct sk_buff **skbp);

#endif /* _TLS_RX_H */
