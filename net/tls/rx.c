// SPDX-License-Identifier: GPL-2.0
/*
 * The software receive path: recvmsg(), splice() and read_sock() on a
 * socket with TLS_RX keys, and what poll() reports.
 *
 * Records stay in TCP until a reader wants them (rx_parse.c); a read
 * decrypts them one by one (rx_record.c), straight into the reader's
 * buffer when a data record fits it whole, else into an skb that waits
 * on the RX queue until it is read in full. MSG_PEEK decrypts ahead into
 * that queue; reads take from it first.
 *
 * A socket is readable when a whole record is: the data_ready callback
 * wakes readers only then, and poll() says POLLIN only then. One read
 * returns records of one content type; control records come one per read
 * with their type in a TLS_GET_RECORD_TYPE cmsg, and without a cmsg
 * buffer the read fails with EIO and leaves the record queued.
 *
 * A TLS 1.3 KeyUpdate stops decryption after it: the record is read as
 * any other, then reads fail with EKEYEXPIRED until setsockopt(TLS_RX)
 * installs the peer's next keys (tls_rx_rekey()).
 */

#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/splice.h>
#include <net/tcp.h>

#include "device.h"
#include "proto.h"
#include "rx.h"
#include "sock.h"
#include "stat.h"

/*
 * What tls_rx_wait() returns besides 0 and errnos: the peer closed and
 * no whole record is left; TCP has an error for the reader (sock_error()
 * takes it, so only a read that returns nothing else does).
 */
#define TLS_RX_EOF	2
#define TLS_RX_SKERR	3

/*
 * Did another reader queue plaintext while this one slept? The queue
 * ended with @seen (NULL: it was empty) when this reader last looked.
 */
static bool tls_rx_queued_since(struct tls_rx *rx, struct sk_buff *seen)
{
	return skb_peek_tail(&rx->queue) != seen;
}

static bool tls_rx_wake_cond(struct sock *sk, struct tls_rx *rx,
			     struct sk_buff *seen)
{
	return tls_rx_queued_since(rx, seen) || rx->err || rx->expired ||
	       tls_rx_rec_ready(sk, rx) || rx->part_wanted || sk->sk_err ||
	       (sk->sk_shutdown & RCV_SHUTDOWN);
}

/*
 * Wait until TCP holds a whole record that may be decrypted, or another
 * reader queued plaintext behind @seen, the queue's tail when this one
 * last looked at it. Readers take turns on the socket lock, which the
 * wait drops: one that reads a record in part leaves the rest queued and
 * wakes the others (tls_rx_pass_on()), which must read it before any
 * record still in TCP.
 *
 * Return: 0 then; TLS_RX_EOF; TLS_RX_SKERR; -EAGAIN when @timeo is NULL
 * or ran out; the error that stops reading (a failed record, an expired
 * key, a signal).
 */
static int tls_rx_wait(struct sock *sk, struct tls_rx *rx, long *timeo,
		       struct sk_buff *seen)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	for (;;) {
		if (tls_rx_queued_since(rx, seen))
			return 0;
		if (rx->err)
			return rx->err;
		if (rx->expired)
			return -EKEYEXPIRED;
		/* in case the data_ready callback could not allocate */
		tls_rx_parse(sk, rx, sk->sk_allocation);
		if (tls_rx_rec_ready(sk, rx))
			return 0;
		if (rx->part_wanted)
			return -ENOMEM;
		/*
		 * As TCP: the peer's FIN (SOCK_DONE) is the end of the stream
		 * even when a reset came after it. An error of our parser's
		 * comes first: it was in the stream before the FIN.
		 */
		if (sock_flag(sk, SOCK_DONE) && !rx->stopped)
			return TLS_RX_EOF;
		if (READ_ONCE(sk->sk_err))
			return TLS_RX_SKERR;
		if (sk->sk_shutdown & RCV_SHUTDOWN)
			return TLS_RX_EOF;
		if (!timeo || !*timeo)
			return -EAGAIN;
		if (signal_pending(current))
			return sock_intr_errno(*timeo);

		add_wait_queue(sk_sleep(sk), &wait);
		sk_set_bit(SOCKWQ_ASYNC_WAITDATA, sk);
		sk_wait_event(sk, timeo, tls_rx_wake_cond(sk, rx, seen),
			      &wait);
		sk_clear_bit(SOCKWQ_ASYNC_WAITDATA, sk);
		remove_wait_queue(sk_sleep(sk), &wait);
	}
}

/*
 * A record failed to decrypt: nothing after it can be trusted. Every
 * read fails from now on, and sk_err tells poll() and the TX side.
 */
static int tls_rx_abort(struct sock *sk, struct tls_rx *rx, int err)
{
	if (err != -EBADMSG)
		return err;
	WRITE_ONCE(rx->err, err);
	WRITE_ONCE(sk->sk_err, -err);
	sk_error_report(sk);
	return err;
}

static void tls_rx_queue(struct tls_rx *rx, struct sk_buff *skb)
{
	__skb_queue_tail(&rx->queue, skb);
	rx->queued += skb->len;
}

/* Mark @n bytes of the queue's head read; free it once it is */
static void tls_rx_consume(struct tls_rx *rx, struct sk_buff *skb, u32 n)
{
	struct tls_rx_msg *m = tls_rx_msg(skb);

	m->off += n;
	rx->queued -= n;
	if (m->off < skb->len)
		return;
	__skb_unlink(skb, &rx->queue);
	consume_skb(skb);
}

/* An empty data record carries nothing, and no boundary a read must keep */
static bool tls_rx_empty_data(struct sk_buff *skb)
{
	return !skb->len && tls_rx_msg(skb)->type == TLS_RECORD_TYPE_DATA;
}

/*
 * A read is done and leaves plaintext queued: readers that went to sleep
 * while it held the socket wait for TCP, which may have nothing more to
 * say. Wake them (see tls_rx_wait()).
 */
static void tls_rx_pass_on(struct sock *sk, struct tls_rx *rx)
{
	if (!skb_queue_empty(&rx->queue))
		rx->sk_data_ready(sk);
}

/*
 * The record a splice or read_sock continues with: the queue's head, else
 * the next one decrypted, waiting for it as @timeo says. Empty data
 * records are skipped; an empty control record is returned like any
 * other, so that it is refused, not lost. NULL at the end of the stream.
 */
static struct sk_buff *tls_rx_next(struct sock *sk, struct tls_rx *rx,
				   long *timeo)
{
	struct sk_buff *skb;
	int err;

	for (;;) {
		skb = skb_peek(&rx->queue);
		if (skb && !tls_rx_empty_data(skb))
			return skb;
		if (skb) {
			tls_rx_consume(rx, skb, 0);
			continue;
		}
		err = tls_rx_wait(sk, rx, timeo, NULL);
		if (err == TLS_RX_EOF)
			return NULL;
		if (err == TLS_RX_SKERR)
			err = sock_error(sk) ?: -EAGAIN;
		if (err)
			return ERR_PTR(err);
		/* plaintext another reader left comes first */
		if (!skb_queue_empty(&rx->queue))
			continue;
		skb = tls_rx_open(sk, rx);
		if (IS_ERR(skb))
			return ERR_PTR(tls_rx_abort(sk, rx, PTR_ERR(skb)));
		tls_rx_queue(rx, skb);
	}
}

/*
 * The record type cmsg of a read's first record. A control record must
 * not be mistaken for data: without room for the cmsg it is not read.
 */
static int tls_rx_cmsg(struct msghdr *msg, u8 type)
{
	int err;

	if (!msg->msg_controllen)
		return type == TLS_RECORD_TYPE_DATA ? 0 : -EIO;
	err = put_cmsg(msg, SOL_TLS, TLS_GET_RECORD_TYPE, sizeof(type), &type);
	if (err)
		return err;
	if (type != TLS_RECORD_TYPE_DATA && (msg->msg_flags & MSG_CTRUNC))
		return -EIO;
	return 0;
}

/*
 * May the next record be decrypted for the reader without being queued?
 * A small one always may: it is decrypted into kernel memory and copied
 * (tls_rx_open_user()). A larger one goes straight into the reader's
 * pages, but not under CCM: it computes its tag over the plaintext it
 * wrote, so a buffer that another thread of the reader writes meanwhile
 * would fail a good record, and with it the connection. GCM and
 * ChaCha20-Poly1305 check the ciphertext, which lies in kernel memory.
 *
 * A TLS 1.3 record hides its type and may be padded: a larger one is
 * guessed to be unpadded data, and decrypted again the other way when it
 * is not. Data records come far more often than others, and few peers
 * pad; one that does is found out (@rx->pad_seen) and no longer guessed
 * for.
 */
static bool tls_rx_direct(struct tls_rx *rx, struct msghdr *msg, int flags,
			  int type)
{
	if ((flags & MSG_PEEK) ||
	    (type >= 0 && type != TLS_RECORD_TYPE_DATA))
		return false;
	if (tls_rx_rec_small(rx))
		return true;
	if (!user_backed_iter(&msg->msg_iter) || rx->key.cipher->ccm_b0)
		return false;
	return rx->key.version == TLS_1_2_VERSION || rx->no_pad ||
	       rx->pad_seen < TLS_RX_PAD_SEEN_MAX;
}

/* Peeking decrypts ahead; bound what that keeps out of TCP's accounting */
static bool tls_rx_peek_full(struct sock *sk, struct tls_rx *rx, int flags)
{
	return (flags & MSG_PEEK) && rx->queued >= READ_ONCE(sk->sk_rcvbuf);
}

/**
 * struct tls_rx_read - one recvmsg() call
 * @msg: the reader's message
 * @len: bytes it asked for
 * @flags: its flags
 * @copied: bytes given so far
 * @type: the content type of what it got, -1 before the first record
 * @peek: under MSG_PEEK, the last queued record looked at
 * @eor: the last byte given ended a record: the read gets MSG_EOR
 */
struct tls_rx_read {
	struct msghdr	*msg;
	size_t		len;
	int		flags;
	size_t		copied;
	int		type;
	struct sk_buff	*peek;
	bool		eor;
};

/* The next queued record this read has not looked at, or NULL */
static struct sk_buff *tls_rx_read_queued(struct tls_rx *rx,
					  struct tls_rx_read *rd)
{
	struct sk_buff *skb;

	if (!(rd->flags & MSG_PEEK))
		return skb_peek(&rx->queue);
	skb = rd->peek ? skb_peek_next(rd->peek, &rx->queue) :
			 skb_peek(&rx->queue);
	if (skb)
		rd->peek = skb;
	return skb;
}

/*
 * Give the reader what it can take of @skb. Return 1 when the read goes
 * on with the next record, 0 when it ends here, or a negative errno.
 * tls_rx_read_new() returns the same, or what tls_rx_wait() does.
 */
static int tls_rx_read_skb(struct sock *sk, struct tls_rx *rx,
			   struct tls_rx_read *rd, struct sk_buff *skb)
{
	struct tls_rx_msg *m = tls_rx_msg(skb);
	u32 n;
	int err;

	/* neither types the read nor ends it: TLS 1.3 allows them */
	if (tls_rx_empty_data(skb)) {
		if (!(rd->flags & MSG_PEEK))
			tls_rx_consume(rx, skb, 0);
		return 1;
	}
	if (rd->type < 0) {
		err = tls_rx_cmsg(rd->msg, m->type);
		if (err)
			return err;
		rd->type = m->type;
	} else if (m->type != rd->type) {
		/* records of two types never share a read */
		return 0;
	}
	n = min_t(size_t, skb->len - m->off, rd->len - rd->copied);
	if (n && skb_copy_datagram_msg(skb, m->off, rd->msg, n))
		return -EFAULT;
	rd->copied += n;
	rd->eor = m->off + n == skb->len;
	/* this may free @skb */
	if (!(rd->flags & MSG_PEEK))
		tls_rx_consume(rx, skb, n);
	/* a control record is read on its own */
	return rd->type == TLS_RECORD_TYPE_DATA;
}

/* Decrypt the next record for the read: into its buffer, or queue it */
static int tls_rx_read_new(struct sock *sk, struct tls_rx *rx,
			   struct tls_rx_read *rd, long *timeo)
{
	struct sk_buff *skb = NULL;
	int err, n;

	if (tls_rx_peek_full(sk, rx, rd->flags))
		return -EAGAIN;
	err = tls_rx_wait(sk, rx, timeo, rd->peek);
	if (err)
		return err;
	if (tls_rx_queued_since(rx, rd->peek)) {
		/*
		 * Another reader queued plaintext meanwhile: it comes
		 * before the records in TCP. A peek that has shown queued
		 * records already may no longer find them (@rd->peek may
		 * be gone): it ends with what it has, or starts over.
		 */
		if (!(rd->flags & MSG_PEEK) || !rd->peek)
			return 1;
		if (rd->copied)
			return 0;
		rd->peek = NULL;
		return 1;
	}
	if (tls_rx_direct(rx, rd->msg, rd->flags, rd->type)) {
		n = tls_rx_open_user(sk, rx, rd->msg, rd->len - rd->copied,
				     &skb);
		if (n > 0) {
			if (rd->type < 0) {
				tls_rx_cmsg(rd->msg, TLS_RECORD_TYPE_DATA);
				rd->type = TLS_RECORD_TYPE_DATA;
			}
			rd->copied += n;
			rd->eor = true;
		}
		if (n >= 0)
			return 1;
		if (n != -EAGAIN)
			return tls_rx_abort(sk, rx, n);
	}
	/* a small record that was not data comes back decrypted */
	if (!skb)
		skb = tls_rx_open(sk, rx);
	if (IS_ERR(skb))
		return tls_rx_abort(sk, rx, PTR_ERR(skb));
	tls_rx_queue(rx, skb);
	if (rd->flags & MSG_PEEK)
		rd->peek = skb;
	return tls_rx_read_skb(sk, rx, rd, skb);
}

/**
 * tls_rx_recvmsg() - recvmsg() of a socket with TLS_RX keys
 * @sk: the socket
 * @rx: its RX state
 * @msg: the reader's message
 * @len: bytes it asks for
 * @flags: MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, ...
 *
 * Reads whole and partial records of one type until @len is reached, or
 * SO_RCVLOWAT (all of @len under MSG_WAITALL) is and no further record is
 * complete. An error after some bytes ends the read short; the next read
 * reports it. A read whose last byte is the last of a record, or that
 * returns an empty control record, gets MSG_EOR in @msg->msg_flags, with
 * MSG_PEEK too: a TLS library that reads one record at a time checks it.
 *
 * Return: plaintext bytes read, 0 at the end of the stream, or a
 * negative errno.
 */
int tls_rx_recvmsg(struct sock *sk, struct tls_rx *rx, struct msghdr *msg,
		   size_t len, int flags)
{
	struct tls_rx_read rd = {
		.msg = msg, .len = len, .flags = flags, .type = -1,
	};
	struct sk_buff *skb;
	size_t target;
	long timeo;
	int ret = 1;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;

	lock_sock(sk);
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	target = sock_rcvlowat(sk, flags & MSG_WAITALL, len);

	while (ret == 1 && rd.copied < len) {
		skb = tls_rx_read_queued(rx, &rd);
		if (skb)
			ret = tls_rx_read_skb(sk, rx, &rd, skb);
		else
			ret = tls_rx_read_new(sk, rx, &rd,
					      rd.copied < target ? &timeo : NULL);
	}
	tls_rx_pass_on(sk, rx);
	release_sock(sk);

	if (rd.type >= 0 && rd.eor)
		msg->msg_flags |= MSG_EOR;
	if (rd.copied)
		return rd.copied;
	if (ret == TLS_RX_SKERR)
		return sock_error(sk);
	return ret < 0 ? ret : 0;
}

/**
 * tls_rx_splice_read() - splice() from a socket with TLS_RX keys
 * @sk: the socket
 * @rx: its RX state
 * @pipe: where the plaintext goes
 * @len: at most this much
 * @flags: SPLICE_F_*
 * @nonblock: the socket or the call does not block
 *
 * Moves the plaintext of one data record, by page reference. A control
 * record is not spliced: EINVAL, and it stays queued for recvmsg().
 *
 * Return: bytes moved, 0 at the end of the stream, or a negative errno.
 */
ssize_t tls_rx_splice_read(struct sock *sk, struct tls_rx *rx,
			   struct pipe_inode_info *pipe, size_t len,
			   unsigned int flags, bool nonblock)
{
	struct sk_buff *skb;
	long timeo;
	ssize_t ret;

	lock_sock(sk);
	timeo = sock_rcvtimeo(sk, nonblock);
	skb = tls_rx_next(sk, rx, &timeo);
	if (IS_ERR_OR_NULL(skb)) {
		ret = PTR_ERR_OR_ZERO(skb);
	} else if (tls_rx_msg(skb)->type != TLS_RECORD_TYPE_DATA) {
		ret = -EINVAL;
	} else {
		struct tls_rx_msg *m = tls_rx_msg(skb);

		len = min_t(size_t, len, skb->len - m->off);
		ret = skb_splice_bits(skb, sk, m->off, pipe, len, flags);
		if (ret > 0)
			tls_rx_consume(rx, skb, ret);
	}
	tls_rx_pass_on(sk, rx);
	release_sock(sk);
	return ret;
}

/**
 * tls_rx_read_sock() - ->read_sock() of a socket with TLS_RX keys
 * @sk: the socket; the caller owns it
 * @rx: its RX state
 * @desc: the reader's descriptor; @desc->count bytes are wanted
 * @actor: called with each record's plaintext skb
 *
 * For in-kernel readers (the NVMe/TCP host, strparser): data records
 * that are already complete, without waiting. A control record stops the
 * read with EINVAL before it is handed over, and stays queued for
 * recvmsg().
 *
 * Decrypting may sleep, and strparser calls this from its data_ready
 * callback, in softirq. There nothing is read: @desc->error says -ENOMEM,
 * on which strparser tries again from its work item, with the socket
 * owned, where records are decrypted.
 *
 * A read that stops at such a record or at an error after it handed over
 * data returns that data; nothing else would bring the reader back to a
 * record that is already there, so the socket's data_ready callback
 * tells it to come and get the error.
 *
 * Return: bytes the actor used, or a negative errno when it used none.
 */
int tls_rx_read_sock(struct sock *sk, struct tls_rx *rx,
		     read_descriptor_t *desc, sk_read_actor_t actor)
{
	struct sk_buff *skb;
	int copied = 0, err = 0;

	if (in_interrupt()) {
		desc->error = -ENOMEM;
		return 0;
	}

	while (desc->count) {
		struct tls_rx_msg *m;
		int used;

		skb = tls_rx_next(sk, rx, NULL);
		if (IS_ERR_OR_NULL(skb)) {
			err = PTR_ERR_OR_ZERO(skb);
			if (err == -EAGAIN)
				err = 0;
			break;
		}
		m = tls_rx_msg(skb);
		if (m->type != TLS_RECORD_TYPE_DATA) {
			err = -EINVAL;
			break;
		}
		used = actor(desc, skb, m->off, skb->len - m->off);
		if (used <= 0) {
			err = used;
			break;
		}
		copied += used;
		tls_rx_consume(rx, skb, min_t(u32, used, skb->len - m->off));
	}
	if (copied && err)
		sk->sk_data_ready(sk);
	return copied ? copied : err;
}

/**
 * tls_rx_peek_len() - is there anything for read_sock() now?
 * @sk: the socket
 * @rx: its RX state
 *
 * For strparser (KCM), which asks before it reads, without the socket
 * lock, and reads only when the answer covers the rest of its message.
 * How much plaintext a record holds is known once it is decrypted, and
 * what comes next may be an error or a control record that stops the
 * read, which the reader must come and see: so the answer is 0 while a
 * read would find nothing, and INT_MAX once it would find something.
 *
 * Return: 0 or INT_MAX.
 */
int tls_rx_peek_len(struct sock *sk, struct tls_rx *rx)
{
	return tls_rx_poll_ready(sk, rx) || READ_ONCE(rx->expired) ?
	       INT_MAX : 0;
}

/**
 * tls_rx_poll_ready() - may a read get data now?
 * @sk: the socket
 * @rx: its RX state
 *
 * For poll(), without the socket lock: a whole record is queued or in
 * TCP, or a read would return an error.
 *
 * Return: true when POLLIN is due.
 */
bool tls_rx_poll_ready(struct sock *sk, struct tls_rx *rx)
{
	/* part_wanted: a read would try the allocation again */
	if (!skb_queue_empty_lockless(&rx->queue) || READ_ONCE(rx->err) ||
	    READ_ONCE(rx->part_wanted))
		return true;
	/*
	 * After a KeyUpdate a read fails with EKEYEXPIRED, yet the socket
	 * is not readable until the next keys come, as upstream has it
	 * (tls.c's rekey_poll_pending): the library installs them right
	 * after it read the KeyUpdate, and a poll() in between waits for
	 * them rather than spin on the error.
	 */
	return !READ_ONCE(rx->expired) && tls_rx_rec_ready(sk, rx);
}

/*
 * TCP queued bytes. Readers care only once a record is whole (and its
 * keys are there): wake them then, not for each segment. Runs in softirq
 * with the socket spinlock held and nobody owning the socket, or from the
 * owner's backlog.
 */
static void tls_rx_data_ready(struct sock *sk)
{
	struct tls_rx *rx = tls_sk(sk)->rx;

	tls_rx_parse(sk, rx, GFP_ATOMIC);
	if (tls_rx_poll_ready(sk, rx))
		rx->sk_data_ready(sk);
}

/* Records may have been waiting for keys: look, and wake readers */
static void tls_rx_kick(struct sock *sk, struct tls_rx *rx)
{
	tls_rx_parse(sk, rx, sk->sk_allocation);
	if (tls_rx_poll_ready(sk, rx))
		rx->sk_data_ready(sk);
}

/**
 * tls_rx_start() - turn the RX path on: setsockopt(TLS_RX)
 * @sk: the socket, locked, with kTLS attached and no RX keys yet
 * @cipher: the checked cipher
 * @info: the checked crypto_info struct
 *
 * What TCP already holds is the start of the peer's first record under
 * these keys, and is read as such.
 *
 * Return: 0, or a negative errno and the socket unchanged.
 */
int tls_rx_start(struct sock *sk, const struct tls_cipher *cipher,
		 const u8 *info)
{
	struct tls_sock *ts = tls_sk(sk);
	struct tls_rx *rx;
	int err;

	rx = kzalloc(sizeof(*rx), sk->sk_allocation);
	if (!rx)
		return -ENOMEM;
	err = tls_key_init(&rx->key, cipher, info);
	if (err)
		goto free;
	/* poll(), splice() and read_sock() must not read TCP's bytes */
	err = tls_proto_ops_set(sk);
	if (err)
		goto free_key;
	skb_queue_head_init(&rx->queue);
	/* TLS 1.2 AES-GCM records may be decrypted by the NIC */
	rx->dev = tls_dev_rx_start(sk, ts, rx);

	/* Pairs with smp_load_acquire() in the proto calls: rx is complete. */
	smp_store_release(&ts->rx, rx);
	WRITE_ONCE(ts->ctx.rx_conf, rx->dev ? TLS_CONF_HW : TLS_CONF_SW);
	/* the lock the socket's other users take to change the callbacks */
	write_lock_bh(&sk->sk_callback_lock);
	rx->sk_data_ready = sk->sk_data_ready;
	WRITE_ONCE(sk->sk_data_ready, tls_rx_data_ready);
	write_unlock_bh(&sk->sk_callback_lock);
	if (rx->dev) {
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSRXDEVICE);
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSCURRRXDEVICE);
	} else {
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSRXSW);
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSCURRRXSW);
	}
	tls_rx_kick(sk, rx);
	return 0;

free_key:
	tls_key_free(&rx->key);
free:
	kfree(rx);
	return err;
}

/**
 * tls_rx_rekey() - the peer's next TLS 1.3 keys: setsockopt(TLS_RX) again
 * @sk: the socket, locked
 * @rx: its RX state
 * @info: the checked crypto_info struct, same version and cipher
 *
 * Records still in TCP are decrypted with the new keys; those already
 * decrypted stay queued as they are.
 *
 * Return: 0, or a negative errno and the old keys kept.
 */
int tls_rx_rekey(struct sock *sk, struct tls_rx *rx, const u8 *info)
{
	struct tls_key key = {};
	int err;

	err = tls_key_init(&key, rx->key.cipher, info);
	if (err)
		goto fail;
	tls_key_free(&rx->key);
	rx->key = key;
	memzero_explicit(&key, sizeof(key));
	WRITE_ONCE(rx->expired, false);
	tls_stat_inc(sock_net(sk), LINUX_MIB_TLSRXREKEYOK);
	tls_rx_kick(sk, rx);
	return 0;

fail:
	tls_stat_inc(sock_net(sk), LINUX_MIB_TLSRXREKEYERROR);
	return err;
}

/**
 * tls_rx_stop() - turn the RX path off and free it, for close()
 * @sk: the socket, not locked
 * @rx: its RX state
 *
 * Plaintext nobody read is dropped, as TCP drops unread bytes.
 */
void tls_rx_stop(struct sock *sk, struct tls_rx *rx)
{
	struct tls_sock *ts = tls_sk(sk);

	lock_sock(sk);
	write_lock_bh(&sk->sk_callback_lock);
	WRITE_ONCE(sk->sk_data_ready, rx->sk_data_ready);
	write_unlock_bh(&sk->sk_callback_lock);
	WRITE_ONCE(ts->ctx.rx_conf, 0);
	WRITE_ONCE(ts->rx, NULL);
	/* nothing calls the device for this socket any more */
	if (rx->dev)
		tls_dev_rx_stop(rx->dev);
	release_sock(sk);

	__skb_queue_purge(&rx->queue);
	kfree_skb(rx->part);
	tls_stat_dec(sock_net(sk), rx->dev ? LINUX_MIB_TLSCURRRXDEVICE :
					     LINUX_MIB_TLSCURRRXSW);
	tls_key_free(&rx->key);
	kfree(rx);
}
