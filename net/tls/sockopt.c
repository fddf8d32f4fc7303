// SPDX-License-Identifier: GPL-2.0
/*
 * The SOL_TLS socket options.
 *
 * TLS_TX installs the transmit keys and turns the TX path on; reading it
 * back gives the keys with the iv and rec_seq of the next record, so that
 * a TLS library can take the connection back (for a renegotiation, or to
 * close it with its own alert). TLS_TX_ZEROCOPY_RO is kept for device
 * offload and only reported by the software path. Options this version
 * does not know fail with ENOPROTOOPT, as on a socket without the ULP.
 */

#include <linux/skmsg.h>
#include <linux/string.h>

#include "cipher.h"
#include "sock.h"
#include "sockopt.h"
#include "tx.h"

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

static int tls_sockopt_set_tx(struct sock *sk, sockptr_t optval,
			      unsigned int optlen)
{
	u8 buf[TLS_CIPHER_INFO_MAX];
	struct tls_crypto_info *info = (void *)buf;
	struct tls_sock *ts = tls_sk(sk);
	const struct tls_cipher *cipher;
	int err;

	if (sockptr_is_null(optval) || optlen < sizeof(*info))
		return -EINVAL;

	lock_sock(sk);
	err = -EBUSY;
	if (ts->tx)
		goto out;
	err = -EINVAL;
	if (optlen > sizeof(buf))
		goto out;
	err = -EFAULT;
	if (copy_from_sockptr(buf, optval, optlen))
		goto out;
	err = tls_cipher_check(info, optlen, &cipher);
	if (!err)
		err = tls_sockopt_check_peer(sk, info);
	if (!err)
		err = tls_tx_start(sk, cipher, buf);
	if (!err) {
		ts->version = info->version;
		ts->cipher_type = info->cipher_type;
	}
out:
	release_sock(sk);
	memzero_explicit(buf, sizeof(buf));
	return err;
}

static int tls_sockopt_get_tx(struct sock *sk, char __user *optval,
			      int __user *optlen)
{
	u8 buf[TLS_CIPHER_INFO_MAX];
	struct tls_sock *ts = tls_sk(sk);
	unsigned int size;
	int len, err = 0;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < (int)sizeof(struct tls_crypto_info))
		return -EINVAL;

	lock_sock(sk);
	if (!ts->tx) {
		err = -EBUSY;
		goto out;
	}
	tls_key_export(&ts->tx->key, buf);
	/* the header alone tells the version and the cipher */
	size = ts->tx->key.cipher->info_size;
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

int tls_sockopt_set(struct sock *sk, int optname, sockptr_t optval,
		    unsigned int optlen)
{
	switch (optname) {
	case TLS_TX:
		return tls_sockopt_set_tx(sk, optval, optlen);
	case TLS_TX_ZEROCOPY_RO:
		return tls_sockopt_set_zc_ro(sk, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
}

int tls_sockopt_get(struct sock *sk, int optname, char __user *optval,
		    int __user *optlen)
{
	switch (optname) {
	case TLS_TX:
		return tls_sockopt_get_tx(sk, optval, optlen);
	case TLS_TX_ZEROCOPY_RO:
		return tls_sockopt_get_zc_ro(sk, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
}
