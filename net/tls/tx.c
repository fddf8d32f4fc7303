// SPDX-License-Identifier: GPL-2.0
/*
 * The software transmit path: sendmsg(), sendfile() and splice() on a
 * socket with TLS_TX keys.
 *
 * A send fills the open record (tx_record.c) and closes it when it is
 * full, when the send ends without MSG_MORE, or before a record of
 * another type. A closed record is sealed (encrypted into pages of its
 * own) and pushed: handed to TCP with MSG_SPLICE_PAGES, so TCP sends the
 * ciphertext pages themselves. One sealed record at a time waits for TCP
 * to take it; a record is never given up once part of it is on the wire.
 *
 * When TCP has no room, a blocking send waits (SO_SNDTIMEO, signals), a
 * non-blocking one returns what it has taken, and the rest goes out from
 * tls_tx_work() when TCP's write_space callback says there is room.
 */

#include <linux/slab.h>
#include <net/tcp.h>

#include "device.h"
#include "sock.h"
#include "stat.h"
#include "tx.h"

/*
 * Fewest bytes worth borrowing the caller's pages for (tls_tx_borrow_ok()):
 * at fewer, a copy costs about what taking the page references does
 */
#define TLS_TX_BORROW_MIN	2048

#define TLS_TX_FLAGS	(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL | MSG_EOR | \
			 MSG_SPLICE_PAGES | MSG_CMSG_COMPAT | \
			 MSG_SENDPAGE_NOPOLICY)

/* Something is waiting for TCP: a sealed record, or one to seal */
static bool tls_tx_pending(const struct tls_tx *tx)
{
	return READ_ONCE(tx->out) || READ_ONCE(tx->open.eor);
}

/* Offer TCP the rest of @out; return what tcp_sendmsg_locked() says */
static int tls_tx_send_rest(struct sock *sk, struct tls_tx *tx,
			    struct tls_tx_buf *out, int flags)
{
	struct msghdr msg = {
		.msg_flags = MSG_SPLICE_PAGES | MSG_DONTWAIT | MSG_NOSIGNAL |
			     (flags & MSG_MORE),
	};
	unsigned int left = out->len - out->sent, skip = out->sent;
	struct bio_vec bv[TLS_TX_BUF_SEGS], *segs = tls_tx_buf_segs(out);
	unsigned int i, n = 0;

	/* TCP marks the skbs: plaintext for the device to encrypt */
	if (tx->dev)
		msg.msg_flags |= MSG_SENDPAGE_DECRYPTED;
	for (i = 0; i < out->nr && left; i++) {
		struct bio_vec *seg = &segs[i];
		unsigned int len;

		if (skip >= seg->bv_len) {
			skip -= seg->bv_len;
			continue;
		}
		len = min(left, seg->bv_len - skip);
		bvec_set_page(&bv[n++], seg->bv_page, len,
			      seg->bv_offset + skip);
		skip = 0;
		left -= len;
	}
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, bv, n,
		      out->len - out->sent);
	return tcp_sendmsg_locked(sk, &msg, out->len - out->sent);
}

/*
 * Hand the sealed record to TCP. TCP never sleeps here (MSG_DONTWAIT):
 * it could drop the socket lock and let the record be pushed twice. The
 * waiting is done here, and @tx->out is read again after it: shutdown()
 * may have pushed the record meanwhile, and freed it (tls_tx_flush()
 * does not take @tx->lock).
 */
static int tls_tx_push(struct sock *sk, struct tls_tx *tx, int flags,
		       long *timeo)
{
	struct tls_tx_buf *out;
	int ret;

	while ((out = tx->out)) {
		if (out->sent == out->len) {
			WRITE_ONCE(tx->out, NULL);
			tls_tx_buf_free(out);
			break;
		}
		ret = tls_tx_send_rest(sk, tx, out, flags);
		if (ret > 0) {
			out->sent += ret;
			continue;
		}
		if (ret != -EAGAIN)
			return ret ? ret : -EPIPE;
		if (!*timeo)
			return -EAGAIN;
		ret = sk_stream_wait_memory(sk, timeo);
		if (ret)
			return ret;
	}
	return 0;
}

/* Push the sealed record, then seal and push a complete open one */
static int tls_tx_drain(struct sock *sk, struct tls_tx *tx, int flags,
			long *timeo)
{
	int err;

	for (;;) {
		err = tls_tx_push(sk, tx, flags, timeo);
		if (err || !tx->open.eor)
			return err;
		err = tls_tx_seal(sk, tx);
		if (err)
			return err;
	}
}

/* Close the open record (an empty one only when @empty_ok) and send it */
static int tls_tx_close(struct sock *sk, struct tls_tx *tx, bool empty_ok,
			int flags, long *timeo)
{
	if (tx->open.len || empty_ok)
		tx->open.eor = true;
	return tls_tx_drain(sk, tx, flags, timeo);
}

/* The TLS_SET_RECORD_TYPE cmsg: the type of the record this send makes */
static int tls_tx_cmsg(struct msghdr *msg, int *type)
{
	struct cmsghdr *cmsg;

	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return -EINVAL;
		if (cmsg->cmsg_level != SOL_TLS)
			continue;
		if (cmsg->cmsg_type != TLS_SET_RECORD_TYPE ||
		    cmsg->cmsg_len != CMSG_LEN(sizeof(u8)))
			return -EINVAL;
		/* one record of that type, so it cannot stay open */
		if (msg->msg_flags & MSG_MORE)
			return -EINVAL;
		*type = *(u8 *)CMSG_DATA(cmsg);
	}
	return 0;
}

/*
 * May the caller's pages be the plaintext of a record, instead of a copy?
 * When they fill a whole record, or end one with the send, of at least
 * TLS_TX_BORROW_MIN bytes, and nothing waits that could keep the record
 * from being sealed before the send returns. Not under CCM: it reads the
 * plaintext twice (CBC-MAC, then CTR), so pages that another thread
 * writes during the send could give a record whose tag does not match;
 * GCM and ChaCha20-Poly1305 read it once, and so does a copy.
 */
static bool tls_tx_borrow_ok(const struct tls_tx *tx, struct msghdr *msg,
			     size_t len)
{
	if (tx->dev || !user_backed_iter(&msg->msg_iter) ||
	    len < TLS_TX_BORROW_MIN ||
	    tx->key.cipher->ccm_b0 || tx->open.len || tx->open.nr ||
	    tls_tx_pending(tx))
		return false;
	return len == tx->max_payload ||
	       (len == msg_data_left(msg) && !(msg->msg_flags & MSG_MORE));
}

/* Take plaintext into the open record, at most what it has room for */
static int tls_tx_fill(struct sock *sk, struct tls_tx *tx, struct msghdr *msg)
{
	size_t len = min_t(size_t, msg_data_left(msg),
			   tx->max_payload - tx->open.len);
	int n;

	/*
	 * Under device offload, records stay until acknowledged and may be
	 * encrypted again: spliced pages, which their owner may change, are
	 * copied, unless the owner promised they stay as they are
	 * (TLS_TX_ZEROCOPY_RO).
	 */
	if ((msg->msg_flags & MSG_SPLICE_PAGES) &&
	    (!tx->dev || READ_ONCE(tls_sk(sk)->zc_ro_tx)) &&
	    iov_iter_is_bvec(&msg->msg_iter))
		return tls_tx_take(sk, tx, msg, len);
	if (tls_tx_borrow_ok(tx, msg, len)) {
		n = tls_tx_borrow(sk, tx, msg, len);
		if (n)
			return n;
	}
	return tls_tx_copy(sk, tx, msg, len);
}

/*
 * Bytes are taken once they are in the open record, and a record once it
 * is closed: from then on they go out, from here or from tls_tx_work().
 * So -EAGAIN after that means "taken", never "send again".
 */
static ssize_t tls_tx_send_locked(struct sock *sk, struct tls_tx *tx,
				  struct msghdr *msg)
{
	int flags = msg->msg_flags, type = -1, more, n, err;
	long timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);
	size_t copied = 0;

	if (msg->msg_controllen) {
		err = tls_tx_cmsg(msg, &type);
		if (err)
			return err;
	}
	err = tx->err;
	if (!err && (sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN)))
		err = -EPIPE;
	/* what earlier sends left pending goes first */
	if (!err)
		err = tls_tx_drain(sk, tx, 0, &timeo);
	/* no sequence number left for a record of these bytes */
	if (!err && tls_tx_seq_spent(tx))
		err = tls_tx_abort(sk, tx, -EBADMSG);
	/*
	 * A typed send makes a record of its own, and never appends to one
	 * of another type: an open record of another type is one a typed
	 * send left when the caller's memory faulted part way.
	 */
	if (!err && tx->open.len &&
	    (type >= 0 || tx->open.type != TLS_RECORD_TYPE_DATA))
		err = tls_tx_close(sk, tx, false, 0, &timeo);
	if (err)
		goto out;
	tx->open.type = type < 0 ? TLS_RECORD_TYPE_DATA : type;

	while (msg_data_left(msg) && !tx->open.eor) {
		if (!sk_stream_memory_free(sk)) {
			err = sk_stream_wait_memory(sk, &timeo);
			if (err)
				goto out;
			continue;
		}
		n = tls_tx_fill(sk, tx, msg);
		if (n < 0) {
			err = n;
			goto out;
		}
		copied += n;
		/*
		 * Nothing taken: the record has no piece left for bytes of
		 * this kind (a spliced page after a copy, or the reverse),
		 * though tls_tx_full() saw room for the other kind. It
		 * closes; an empty record always takes something.
		 */
		if (n && !tls_tx_full(sk, tx))
			continue;
		if (WARN_ON_ONCE(!n && !tx->open.len)) {
			err = -EIO;
			goto out;
		}
		more = msg_data_left(msg) ? MSG_MORE : flags & MSG_MORE;
		err = tls_tx_close(sk, tx, false, more, &timeo);
		if (err && err != -EAGAIN)
			goto out;
	}
	err = 0;
	if (!(flags & MSG_MORE))
		err = tls_tx_close(sk, tx, type >= 0, 0, &timeo);
	if (err == -EAGAIN)
		err = 0;
out:
	if (err == -EAGAIN && copied)
		err = 0;
	if (err == -EPIPE)
		err = sk_stream_error(sk, flags, err);
	return copied ? copied : err;
}

/**
 * tls_tx_sendmsg() - sendmsg() of a socket with TLS_TX keys
 * @sk: the socket
 * @tx: its TX state
 * @msg: the caller's message: plaintext, flags, the record type cmsg
 * @size: bytes in @msg
 *
 * Return: bytes taken, or a negative errno when none was.
 */
int tls_tx_sendmsg(struct sock *sk, struct tls_tx *tx, struct msghdr *msg,
		   size_t size)
{
	ssize_t ret;

	if (msg->msg_flags & ~TLS_TX_FLAGS)
		return -EOPNOTSUPP;
	if ((msg->msg_flags & MSG_EOR) && (msg->msg_flags & MSG_MORE))
		return -EINVAL;

	/* a sender waiting for the one before it can be killed */
	if (mutex_lock_interruptible(&tx->lock))
		return sock_intr_errno(sock_sndtimeo(sk, msg->msg_flags &
							   MSG_DONTWAIT));
	lock_sock(sk);
	ret = tls_tx_send_locked(sk, tx, msg);
	release_sock(sk);
	tls_tx_unlock(sk, tx);
	return ret;
}

/**
 * tls_tx_splice_eof() - splice() or sendfile() has no more data
 * @sk: the socket
 * @tx: its TX state
 *
 * The last chunk came with MSG_MORE while there was more to read; now
 * there is not, so the open record goes out.
 */
void tls_tx_splice_eof(struct sock *sk, struct tls_tx *tx)
{
	long timeo = 0;

	/*
	 * The bytes were taken already: the record is closed and pushed as
	 * far as TCP has room, never waited for; tls_tx_work() sends the
	 * rest. A signal leaves it open for the next send or close().
	 */
	if (mutex_lock_interruptible(&tx->lock))
		return;
	lock_sock(sk);
	if (!tx->err)
		tls_tx_close(sk, tx, false, 0, &timeo);
	release_sock(sk);
	tls_tx_unlock(sk, tx);
}

/*
 * Room TCP is given past its send buffer for the records close() and
 * shutdown() hand over: the sealed one and the open one, with room for
 * the skbs that carry them.
 */
#define TLS_TX_FORCE_ROOM	(4 * TLS_TX_RECORD_MAX)

/**
 * tls_tx_flush() - hand everything to TCP, for shutdown() and close()
 * @sk: the socket, locked
 * @tx: its TX state
 *
 * Closes the open record and pushes it with the sealed one, without
 * waiting: shutdown() and close() do not wait for the peer in TCP, and
 * in-kernel callers (NVMe/TCP, SunRPC) call them from threads that no
 * signal ends. What TCP has no send buffer for is queued past it, as
 * TCP queues its own FIN: two records at most, and the bytes of every
 * send that returned reach the peer. Only when TCP refuses even that
 * (an error, or memory pressure) are they dropped.
 *
 * Return: 0, or why some of it could not be sent.
 */
int tls_tx_flush(struct sock *sk, struct tls_tx *tx)
{
	int sndbuf = READ_ONCE(sk->sk_sndbuf);
	long timeo = 0;
	int err;

	if (tx->err)
		return tx->err;
	err = tls_tx_close(sk, tx, false, 0, &timeo);
	if (err != -EAGAIN)
		return err;
	/* the owner's lock keeps TCP's softirq side off sk_sndbuf */
	WRITE_ONCE(sk->sk_sndbuf, max(sndbuf, READ_ONCE(sk->sk_wmem_queued)) +
				  TLS_TX_FORCE_ROOM);
	err = tls_tx_drain(sk, tx, 0, &timeo);
	WRITE_ONCE(sk->sk_sndbuf, sndbuf);
	return err;
}

/* TCP has room and records wait: have the work push them */
static void tls_tx_kick(struct sock *sk, struct tls_tx *tx)
{
	if (!tls_tx_pending(tx))
		return;
	sock_hold(sk);
	if (!schedule_work(&tx->work))
		sock_put(sk);
}

/**
 * tls_tx_unlock() - let go of @tx->lock
 * @sk: the socket, not locked
 * @tx: its TX state
 *
 * The work does not wait for the lock (tls_tx_work()): when it found
 * the lock taken, it left its job to the holder, which queues it again
 * here.
 */
void tls_tx_unlock(struct sock *sk, struct tls_tx *tx)
{
	mutex_unlock(&tx->lock);
	/* fully ordered: pairs with smp_mb__after_atomic() in tls_tx_work() */
	if (test_and_clear_bit(TLS_TX_WORK_AGAIN, &tx->flags))
		tls_tx_kick(sk, tx);
}

/*
 * Push what non-blocking sends left behind. It never waits, neither for
 * TCP nor for @tx->lock, whose holder may wait for the peer as long as
 * its caller allows: a kworker must not. The flag is set before the lock
 * is tried, so either the try succeeds or the holder sees the flag once
 * it lets go.
 */
static void tls_tx_work(struct work_struct *work)
{
	struct tls_tx *tx = container_of(work, struct tls_tx, work);
	struct sock *sk = tx->sk;
	long timeo = 0;

	set_bit(TLS_TX_WORK_AGAIN, &tx->flags);
	/* the flag before the try: pairs with tls_tx_unlock()'s test */
	smp_mb__after_atomic();
	if (mutex_trylock(&tx->lock)) {
		clear_bit(TLS_TX_WORK_AGAIN, &tx->flags);
		lock_sock(sk);
		if (!tx->closing && !tx->err)
			tls_tx_drain(sk, tx, 0, &timeo);
		release_sock(sk);
		mutex_unlock(&tx->lock);
	}
	sock_put(sk);
}

/*
 * TCP has room again. Pending bytes must not wait for the next send, which
 * may never come: the work pushes them. Runs in softirq or with the socket
 * lock held, while kTLS is attached with TLS_TX keys.
 */
static void tls_tx_wake(struct sock *sk)
{
	struct tls_tx *tx = tls_sk(sk)->tx;

	tls_tx_kick(sk, tx);
	tx->sk_write_space(sk);
}

/**
 * tls_tx_start() - turn the TX path on: setsockopt(TLS_TX)
 * @sk: the socket, locked, with kTLS attached and no TX keys yet
 * @cipher: the checked cipher
 * @info: the checked crypto_info struct
 *
 * Return: 0, or a negative errno and the socket unchanged.
 */
int tls_tx_start(struct sock *sk, const struct tls_cipher *cipher,
		 const u8 *info)
{
	struct tls_sock *ts = tls_sk(sk);
	struct tls_tx *tx;
	int err;

	tx = kzalloc(sizeof(*tx), sk->sk_allocation);
	if (!tx)
		return -ENOMEM;
	err = tls_key_init(&tx->key, cipher, info);
	if (err)
		goto free;
	mutex_init(&tx->lock);
	INIT_WORK(&tx->work, tls_tx_work);
	tx->sk = sk;
	tx->sk_write_space = sk->sk_write_space;
	tx->max_payload = ts->tx_max_payload;
	tx->dev = tls_dev_tx_start(sk, ts, tx);

	/* Pairs with smp_load_acquire() in the proto calls: tx is complete. */
	smp_store_release(&ts->tx, tx);
	WRITE_ONCE(sk->sk_write_space, tls_tx_wake);
	if (tx->dev) {
		WRITE_ONCE(ts->ctx.tx_conf, TLS_CONF_HW);
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSTXDEVICE);
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSCURRTXDEVICE);
	} else {
		WRITE_ONCE(ts->ctx.tx_conf, TLS_CONF_SW);
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSTXSW);
		tls_stat_inc(sock_net(sk), LINUX_MIB_TLSCURRTXSW);
	}
	return 0;

free:
	kfree(tx);
	return err;
}

static void tls_tx_next_free(struct tls_tx_next *next)
{
	if (!next)
		return;
	tls_key_free(&next->key);
	kfree(next);
}

/**
 * tls_tx_next_use() - switch to the keys of a KeyUpdate, if any
 * @tx: the TX state; its socket is locked
 *
 * Called once the record that was open when they came is sealed.
 */
void tls_tx_next_use(struct tls_tx *tx)
{
	struct tls_tx_next *next = tx->next;

	if (!next)
		return;
	tls_key_free(&tx->key);
	tx->key = next->key;
	kfree_sensitive(next);
	tx->next = NULL;
}

/**
 * tls_tx_rekey() - our next TLS 1.3 keys: setsockopt(TLS_TX) again
 * @sk: the socket, locked, with @tx->lock held
 * @tx: its TX state
 * @info: the checked crypto_info struct, same version and cipher
 *
 * The KeyUpdate message the library sent went out under the old keys;
 * so does every byte sent before this call. An open record is closed and
 * sealed under them first; when TCP has no room for it yet, the new keys
 * wait in @tx->next until it is sealed. The TX path never pauses.
 *
 * Return: 0, or a negative errno and the old keys kept.
 */
int tls_tx_rekey(struct sock *sk, struct tls_tx *tx, const u8 *info)
{
	struct tls_tx_next *next;
	long timeo = 0;
	int err = -ENOMEM;

	next = kzalloc(sizeof(*next), sk->sk_allocation);
	if (!next)
		goto fail;
	err = tls_key_init(&next->key, tx->key.cipher, info);
	if (err)
		goto free;

	/* keys that never got a record are superseded */
	tls_tx_next_free(tx->next);
	tx->next = next;
	if (tx->open.len || tx->open.eor) {
		tx->open.eor = true;
		if (!tx->err)
			tls_tx_drain(sk, tx, 0, &timeo);
	}
	/*
	 * Nothing to seal under the old keys: the open record holds no
	 * plaintext, but may have a buffer, made for their transform
	 */
	if (!tx->open.eor) {
		tls_tx_open_release(&tx->open);
		tls_tx_next_use(tx);
	}
	tls_stat_inc(sock_net(sk), LINUX_MIB_TLSTXREKEYOK);
	return 0;

free:
	tls_key_free(&next->key);
	kfree(next);
fail:
	tls_stat_inc(sock_net(sk), LINUX_MIB_TLSTXREKEYERROR);
	return err;
}

/**
 * tls_tx_stop() - turn the TX path off and free it, for close()
 * @sk: the socket, not locked
 * @tx: its TX state; the caller flushed it
 *
 * What is still pending is dropped: the caller gave up waiting for it.
 */
void tls_tx_stop(struct sock *sk, struct tls_tx *tx)
{
	struct tls_sock *ts = tls_sk(sk);

	lock_sock(sk);
	tx->closing = true;
	WRITE_ONCE(sk->sk_write_space, tx->sk_write_space);
	WRITE_ONCE(ts->ctx.tx_conf, 0);
	WRITE_ONCE(ts->tx, NULL);
	release_sock(sk);
	/* the work holds a socket reference while it is queued */
	if (cancel_work_sync(&tx->work))
		sock_put(sk);

	tls_tx_open_release(&tx->open);
	tls_tx_buf_free(tx->out);
	tls_tx_next_free(tx->next);
	tls_key_free(&tx->key);
	mutex_destroy(&tx->lock);
	tls_stat_dec(sock_net(sk), tx->dev ? LINUX_MIB_TLSCURRTXDEVICE :
					     LINUX_MIB_TLSCURRTXSW);
	kfree(tx);
}
