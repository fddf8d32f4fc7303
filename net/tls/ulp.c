// SPDX-License-Identifier: GPL-2.0
/*
 * The "tls" TCP upper layer protocol: attaching kTLS to a socket and
 * taking it off again.
 *
 * Attach, setsockopt(TCP_ULP, "tls"), runs under the socket lock from the
 * TCP ULP core, which has already refused a second ULP (EEXIST) and
 * listening sockets (ENOTCONN). It swaps the socket's proto for kTLS's and
 * nothing else: data flows in clear until SOL_TLS options install keys.
 *
 * Detach happens in close(): kTLS gives the socket its own proto back
 * before TCP closes it, so TCP's close and what follows never run kTLS
 * code. The ULP core calls ->release when TCP destroys the socket, which
 * only has work left if the socket went away without close().
 */

#include <linux/skmsg.h>
#include <linux/slab.h>

#include "diag.h"
#include "proto.h"
#include "rx.h"
#include "sock.h"
#include "tx.h"
#include "ulp.h"

/*
 * The TCP proto that kTLS's table copies. A socket in a sockmap runs
 * sockmap's proto; the psock keeps the TCP one it replaced.
 */
static const struct proto *tls_ulp_tcp_proto(struct sock *sk)
{
	const struct proto *base = READ_ONCE(sk->sk_prot);
	struct sk_psock *psock;

	rcu_read_lock();
	psock = sk_psock(sk);
	if (psock)
		base = psock->sk_proto;
	rcu_read_unlock();
	return base;
}

/**
 * tls_ulp_taken() - does another layer read this socket?
 * @sk: the socket, locked
 *
 * KCM takes a TCP socket's callbacks and keeps its psock in sk_user_data;
 * it puts back the callbacks it found when it lets go. Keys installed
 * under it would swap callbacks that KCM then restores over kTLS's, so
 * the ULP and the first keys must come before the attach, never after.
 * Only user-space sockets count: SunRPC keeps its transport in the
 * sk_user_data of the kernel socket that the handshake daemon puts kTLS
 * on, and a sockmap psock is flagged and handled (tls_ulp_tcp_proto()).
 *
 * Return: true when sk_user_data says another layer owns the callbacks.
 */
bool tls_ulp_taken(struct sock *sk)
{
	uintptr_t owner = (uintptr_t)rcu_access_pointer(__sk_user_data(sk));

	return owner && !sk->sk_kern_sock && !(owner & SK_USER_DATA_PSOCK);
}

static int tls_ulp_init(struct sock *sk)
{
	struct tls_sock *ts;
	struct proto *prot;

	/* Keys belong to a connection: there must be one. */
	if (sk->sk_state != TCP_ESTABLISHED)
		return -ENOTCONN;
	if (tls_ulp_taken(sk))
		return -EBUSY;

	prot = tls_proto_get(sk, tls_ulp_tcp_proto(sk));
	if (!prot)
		return -EOPNOTSUPP;

	/* sk_allocation: in-kernel users (NFS, NVMe) may not recurse into I/O */
	ts = kzalloc(sizeof(*ts), sk->sk_allocation);
	if (!ts)
		return -ENOMEM;
	ts->sk_proto = READ_ONCE(sk->sk_prot);
	ts->tx_max_payload = TLS_MAX_PAYLOAD_SIZE;

	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, ts);
	sock_replace_proto(sk, prot);
	return 0;
}

/*
 * Socket lock held. After this the socket is plain TCP again. Under TX
 * device offload the context stays where drivers find it, for the skbs
 * still on their way, until the socket is destroyed (device.c frees it).
 */
static void tls_ulp_detach(struct sock *sk, struct tls_sock *ts)
{
	if (ts->detached)
		return;
	sock_replace_proto(sk, ts->sk_proto);
	if (ts->ctx.priv_ctx_tx) {
		ts->detached = true;
		return;
	}
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, NULL);
	kfree_rcu(ts, rcu);
}

/**
 * tls_ulp_close() - close() of a kTLS socket
 * @sk: the socket
 * @timeout: linger time, passed on to TCP
 *
 * Drops the plaintext nobody read, hands what is pending to TCP without
 * waiting (tls_tx_flush(): TCP's own close waits as SO_LINGER says),
 * takes kTLS off the socket, then lets TCP close it. No other call can
 * be running: close() comes after the last file reference is gone.
 */
void tls_ulp_close(struct sock *sk, long timeout)
{
	struct tls_tx *tx = tls_sk(sk)->tx;
	struct tls_rx *rx = tls_sk(sk)->rx;
	struct proto *base;

	if (rx)
		tls_rx_stop(sk, rx);
	if (tx) {
		lock_sock(sk);
		tls_tx_flush(sk, tx);
		release_sock(sk);
		tls_tx_stop(sk, tx);
	}

	lock_sock(sk);
	base = tls_sk(sk)->sk_proto;
	tls_ulp_detach(sk, tls_sk(sk));
	release_sock(sk);

	base->close(sk, timeout);
}

static void tls_ulp_release(struct sock *sk)
{
	struct tls_sock *ts = tls_sk(sk);

	if (ts)
		tls_ulp_detach(sk, ts);
}

/*
 * Sockmap lets go of the socket (tcp_bpf_update_proto() restoring): the
 * proto it hands back is the one kTLS passes calls on to and restores.
 */
static void tls_ulp_update(struct sock *sk, struct proto *p,
			   void (*write_space)(struct sock *sk))
{
	struct tls_sock *ts = tls_sk(sk);

	if (ts)
		WRITE_ONCE(ts->sk_proto, p);
	else
		sock_replace_proto(sk, p);
	/* with TX keys, kTLS's callback runs first and calls this one */
	if (ts && ts->tx)
		ts->tx->sk_write_space = write_space;
	else
		WRITE_ONCE(sk->sk_write_space, write_space);
}

struct tcp_ulp_ops tls_ulp_ops __read_mostly = {
	.owner		= THIS_MODULE,
	/* setsockopt(TCP_ULP, "tls") finds it by name */
	.name		= "tls",
	/* attaching, then the core's and sockmap's calls once attached */
	.init		= tls_ulp_init,
	.release	= tls_ulp_release,
	.update		= tls_ulp_update,
#if IS_ENABLED(CONFIG_INET_DIAG)
	/* only inet_diag asks: INET_ULP_INFO_TLS (diag.c) */
	.get_info	= tls_diag_get_info,
	.get_info_size	= tls_diag_get_info_size,
#endif
};
