// SPDX-License-Identifier: GPL-2.0
/*
 * The SOL_TLS socket options.
 *
 * TLS_TX and TLS_RX install one direction's keys and turn its path on;
 * reading them back gives the keys with the iv and rec_seq of the next
 * record, so that a TLS library can take the connection back (for a
 * renegotiation, or to close it with its own alert). Under TLS 1.3 they
 * may be set again, with the same cipher: that is a KeyUpdate (RFC 8446,
 * section 4.6.3). TLS_TX_ZEROCOPY_RO lets a socket with device offload
 * send spliced pages as they are (the software path seals them during
 * the call anyway); TLS_RX_EXPECT_NO_PAD lets TLS 1.3
 * records be decrypted straight into the reader's buffer;
 * TLS_TX_MAX_PAYLOAD_LEN caps the records sent (RFC 8449). Options this
 * version does not know fail with ENOPROTOOPT, as on a socket without
 * the ULP.
 */

#include <linux/skmsg.h>
#include <linux/string.h>

#include "cipher.h"
#include "rx.h"
#include "sock.h"
#include "sockopt.h"
#include "tx.h"
#include "ulp.h"

/* Socket lock held. */
static int tls_sockopt_check_peer(struct sock *sk,
				  const struct tls_crypto_info *info)
{
	struct tls_sock *ts = tls_sk(sk);
	bool psock;

	/* the other direction's keys fix version and cipher */
	if (ts->version && (ts->version != info->version ||
			    ts->cipher_type != info->cipher_type))
		return -EINVAL;

	/* sockmap would run its own sendmsg over our records */
	rcu_read_lock();
	psock = !!sk_psock(sk);
	rcu_read_unlock();
	return psock ? -EINVAL : 0;
}

/* Socket lock held. The keys of @dir set before? */
static const struct tls_key *tls_sockopt_key(struct tls_sock *ts, int dir)
{
	if (dir == TLS_TX)
		return ts->tx ? &ts->tx->key : NULL;
	return ts->rx ? &ts->rx->key : NULL;
}

/* Socket lock held. Set @dir's keys, or its next ones. */
static int tls_sockopt_install(struct sock *sk, int dir, const u8 *buf,
			       unsigned int optlen)
{
	const struct tls_crypto_info *info = (const void *)buf;
	struct tls_sock *ts = tls_sk(sk);
	const struct tls_cipher *cipher;
	bool rekey;
	int err;

	rekey = tls_sockopt_key(ts, dir);
	/* only TLS 1.3 has KeyUpdate */
	if (rekey && ts->version != TLS_1_3_VERSION)
		return -EBUSY;
	/* a new path would take callbacks from under KCM; new keys do not */
	if (!rekey && tls_ulp_taken(sk))
		return -EBUSY;
	err = tls_cipher_check(info, optlen, &cipher);
	if (!err)
		err = tls_sockopt_check_peer(sk, info);
	if (err)
		return err;

	if (dir == TLS_TX)
		err = rekey ? tls_tx_rekey(sk, ts->tx, buf) :
			      tls_tx_start(sk, cipher, buf);
	else
		err = rekey ? tls_rx_rekey(sk, ts->rx, buf) :
			      tls_rx_start(sk, cipher, buf);
	if (!err) {
		WRITE_ONCE(ts->version, info->version);
		ts->cipher_type = info->cipher_type;
	}
	return err;
}

/*
 * TLS_TX and TLS_RX. Senders hold the TX path's mutex around the socket
 * lock; new TX keys must wait for them the same way.
 */
static int tls_sockopt_set_keys(struct sock *sk, int dir, sockptr_t optval,
				unsigned int optlen)
{
	u8 buf[TLS_CIPHER_INFO_MAX];
	struct tls_sock *ts = tls_sk(sk);
	struct tls_tx *tx;
	int err;

	if (sockptr_is_null(optval) || optlen < sizeof(struct tls_crypto_info))
		return -EINVAL;
	if (optlen > sizeof(buf))
		return -EINVAL;
	err = -EFAULT;
	if (copy_from_sockptr(buf, optval, optlen))
		goto out;

again:
	/* Pairs with smp_store_release() in tls_tx_start(). */
	tx = dir == TLS_TX ? smp_load_acquire(&ts->tx) : NULL;
	if (tx) {
		/*
		 * Not behind a sender that waits for the peer when the
		 * answer is no anyway; and a signal ends the wait.
		 */
		err = -EBUSY;
		if (READ_ONCE(ts->version) != TLS_1_3_VERSION)
			goto out;
		err = mutex_lock_interruptible(&tx->lock);
		if (err)
			goto out;
	}
	lock_sock(sk);
	if (dir == TLS_TX && !tx && ts->tx) {
		/* keys came meanwhile: take their mutex too */
		release_sock(sk);
		goto again;
	}
	err = tls_sockopt_install(sk, dir, buf, optlen);
	release_sock(sk);
	if (tx)
		tls_tx_unlock(sk, tx);
out:
	memzero_explicit(buf, sizeof(buf));
	return err;
}

static int tls_sockopt_get_keys(struct sock *sk, int dir, char __user *optval,
				int __user *optlen)
{
	u8 buf[TLS_CIPHER_INFO_MAX];
	const struct tls_key *key;
	unsigned int size;
	int len, err = 0;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < (int)sizeof(struct tls_crypto_info))
		return -EINVAL;

	lock_sock(sk);
	key = tls_sockopt_key(tls_sk(sk), dir);
	if (!key) {
		err = -EBUSY;
		goto out;
	}
	tls_key_export(key, buf);
	/* the header alone tells the version and the cipher */
	size = key->cipher->info_size;
	if (len == sizeof(struct tls_crypto_info))
		size = len;
	else if (len != size)
		err = -EINVAL;
	if (!err && copy_to_user(optval, buf, size))
		err = -EFAULT;
out:
	release_sock(sk);
	memzero_explicit(buf, sizeof(buf));
	return err;
}

static int tls_sockopt_set_zc_ro(struct sock *sk, sockptr_t optval,
				 unsigned int optlen)
{
	int val;

	if (sockptr_is_null(optval) || optlen != sizeof(val))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;
	if (val != 0 && val != 1)
		return -EINVAL;

	lock_sock(sk);
	tls_sk(sk)->zc_ro_tx = val;
	release_sock(sk);
	return 0;
}

static int tls_sockopt_get_zc_ro(struct sock *sk, char __user *optval,
				 int __user *optlen)
{
	int len, val = READ_ONCE(tls_sk(sk)->zc_ro_tx);

	if (get_user(len, optlen))
		return -EFAULT;
	if (len != sizeof(val))
		return -EINVAL;
	return copy_to_user(optval, &val, sizeof(val)) ? -EFAULT : 0;
}

/*
 * TLS_RX_EXPECT_NO_PAD: an int, 0 or 1, for TLS 1.3 RX keys. Longer
 * option values are taken when the extra bytes are zero.
 */
static int tls_sockopt_set_no_pad(struct sock *sk, sockptr_t optval,
				  unsigned int optlen)
{
	struct tls_sock *ts = tls_sk(sk);
	int val, err;

	if (sockptr_is_null(optval) || optlen < sizeof(val))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;
	if (val != 0 && val != 1)
		return -EINVAL;
	err = check_zeroed_sockptr(optval, sizeof(val), optlen - sizeof(val));
	if (err < 1)
		return err ? err : -EINVAL;

	lock_sock(sk);
	err = -EINVAL;
	if (ts->rx && ts->version == TLS_1_3_VERSION) {
		ts->rx->no_pad = val;
		WRITE_ONCE(ts->rx_no_pad, val);
		err = 0;
	}
	release_sock(sk);
	return err;
}

static int tls_sockopt_get_no_pad(struct sock *sk, char __user *optval,
				  int __user *optlen)
{
	struct tls_sock *ts = tls_sk(sk);
	int len, val;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < (int)sizeof(val))
		return -EINVAL;
	lock_sock(sk);
	val = ts->rx && ts->version == TLS_1_3_VERSION ? ts->rx->no_pad : -1;
	release_sock(sk);
	if (val < 0)
		return -EINVAL;
	if (put_user(sizeof(val), optlen))
		return -EFAULT;
	return copy_to_user(optval, &val, sizeof(val)) ? -EFAULT : 0;
}

/* RFC 8449, section 4: the least record_size_limit an endpoint may send */
#define TLS_SOCKOPT_RECORD_LIMIT_MIN	64

/*
 * TLS_TX_MAX_PAYLOAD_LEN: a u16, the most plaintext a record sent from
 * now on may carry, from RFC 8449's record_size_limit up to 2^14. That
 * limit counts TLS 1.3's content type byte, which this value does not:
 * so with TLS 1.3 keys (either direction) it may be one less, 63. It may
 * be set before the keys, and again later, but not while a record is
 * open: that record's room was counted with the old value.
 */
static int tls_sockopt_set_max_payload(struct sock *sk, sockptr_t optval,
				       unsigned int optlen)
{
	struct tls_sock *ts = tls_sk(sk);
	unsigned int min = TLS_SOCKOPT_RECORD_LIMIT_MIN;
	struct tls_tx *tx;
	u16 val;
	int err;

	/*
	 * The socket lock is enough: senders read the value under it, and
	 * one that waits with no record open starts its next record with
	 * whatever value it finds.
	 */
	lock_sock(sk);
	tx = ts->tx;
	err = -EBUSY;
	if (tx && (tx->open.len || tx->open.nr))
		goto out;
	err = -EINVAL;
	if (sockptr_is_null(optval) || optlen != sizeof(val))
		goto out;
	err = -EFAULT;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		goto out;
	if (ts->version == TLS_1_3_VERSION)
		min--;
	err = -EINVAL;
	if (val < min || val > TLS_MAX_PAYLOAD_SIZE)
		goto out;
	WRITE_ONCE(ts->tx_max_payload, val);
	if (tx)
		tx->max_payload = val;
	err = 0;
out:
	release_sock(sk);
	return err;
}

static int tls_sockopt_get_max_payload(struct sock *sk, char __user *optval,
				       int __user *optlen)
{
	u16 val = READ_ONCE(tls_sk(sk)->tx_max_payload);
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < (int)sizeof(val))
		return -EINVAL;
	if (put_user(sizeof(val), optlen))
		return -EFAULT;
	return copy_to_user(optval, &val, sizeof(val)) ? -EFAULT : 0;
}

int tls_sockopt_set(struct sock *sk, int optname, sockptr_t optval,
		    unsigned int optlen)
{
	switch (optname) {
	case TLS_TX:
	case TLS_RX:
		return tls_sockopt_set_keys(sk, optname, optval, optlen);
	case TLS_TX_ZEROCOPY_RO:
		return tls_sockopt_set_zc_ro(sk, optval, optlen);
	case TLS_RX_EXPECT_NO_PAD:
		return tls_sockopt_set_no_pad(sk, optval, optlen);
	case TLS_TX_MAX_PAYLOAD_LEN:
		return tls_sockopt_set_max_payload(sk, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
}

int tls_sockopt_get(struct sock *sk, int optname, char __user *optval,
		    int __user *optlen)
{
	switch (optname) {
	case TLS_TX:
	case TLS_RX:
		return tls_sockopt_get_keys(sk, optname, optval, optlen);
	case TLS_TX_ZEROCOPY_RO:
		return tls_sockopt_get_zc_ro(sk, optval, optlen);
	case TLS_RX_EXPECT_NO_PAD:
		return tls_sockopt_get_no_pad(sk, optval, optlen);
	case TLS_TX_MAX_PAYLOAD_LEN:
		return tls_sockopt_get_max_payload(sk, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
}
