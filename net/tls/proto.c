// SPDX-License-Identifier: GPL-2.0
/*
 * The proto of a kTLS socket: TCP's, with the calls kTLS takes over; and
 * once it has RX keys, its socket's proto_ops: TCP's, with poll(),
 * splice_read() and read_sock() taken over, the calls that read TCP's
 * receive queue without going through the proto.
 *
 * There is one table per address family, copied from TCP's the first time
 * a socket of that family attaches: tcpv6_prot may live in the ipv6 module,
 * so it is only known once an IPv6 socket shows it to us. Which calls are
 * taken over does not depend on whether keys are set; each handler looks
 * at the socket's own state, so one table serves all sockets of a family.
 */

#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/splice.h>
#include <net/sock.h>

#include "proto.h"
#include "rx.h"
#include "sock.h"
#include "sockopt.h"
#include "tx.h"
#include "ulp.h"

enum tls_proto_family {
	TLS_PROTO_IPV4,
	TLS_PROTO_IPV6,
	TLS_PROTO_NUM,
};

static struct proto tls_protos[TLS_PROTO_NUM];
/* the TCP proto each table was copied from; NULL until it is built */
static const struct proto *tls_proto_bases[TLS_PROTO_NUM];
static struct proto_ops tls_proto_ops[TLS_PROTO_NUM];
/* the same for the proto_ops tables */
static const struct proto_ops *tls_proto_ops_bases[TLS_PROTO_NUM];
static DEFINE_MUTEX(tls_proto_mutex);

static enum tls_proto_family tls_proto_family(const struct sock *sk)
{
	return sk->sk_family == AF_INET6 ? TLS_PROTO_IPV6 : TLS_PROTO_IPV4;
}

static int tls_proto_setsockopt(struct sock *sk, int level, int optname,
				sockptr_t optval, unsigned int optlen)
{
	struct proto *base = READ_ONCE(tls_sk(sk)->sk_proto);

	if (level != SOL_TLS)
		return base->setsockopt(sk, level, optname, optval, optlen);
	return tls_sockopt_set(sk, optname, optval, optlen);
}

static int tls_proto_getsockopt(struct sock *sk, int level, int optname,
				char __user *optval, int __user *optlen)
{
	struct proto *base = READ_ONCE(tls_sk(sk)->sk_proto);

	if (level != SOL_TLS)
		return base->getsockopt(sk, level, optname, optval, optlen);
	return tls_sockopt_get(sk, optname, optval, optlen);
}

/* The TX state of @sk: NULL before TLS_TX, else complete */
static struct tls_tx *tls_proto_tx(const struct sock *sk)
{
	/* Pairs with smp_store_release() in tls_tx_start(). */
	return smp_load_acquire(&tls_sk(sk)->tx);
}

/* The RX state of @sk: NULL before TLS_RX, else complete */
static struct tls_rx *tls_proto_rx(const struct sock *sk)
{
	/* Pairs with smp_store_release() in tls_rx_start(). */
	return smp_load_acquire(&tls_sk(sk)->rx);
}

static int tls_proto_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
			     int flags, int *addr_len)
{
	struct tls_rx *rx = tls_proto_rx(sk);

	/* the error queue is TCP's, records or not */
	if (!rx || (flags & MSG_ERRQUEUE))
		return READ_ONCE(tls_sk(sk)->sk_proto)->recvmsg(sk, msg, len,
								flags,
								addr_len);
	return tls_rx_recvmsg(sk, rx, msg, len, flags);
}

static int tls_proto_sendmsg(struct sock *sk, struct msghdr *msg,
			     size_t size)
{
	struct tls_tx *tx = tls_proto_tx(sk);

	if (!tx)
		return READ_ONCE(tls_sk(sk)->sk_proto)->sendmsg(sk, msg, size);
	return tls_tx_sendmsg(sk, tx, msg, size);
}

static void tls_proto_splice_eof(struct socket *sock)
{
	struct tls_tx *tx = tls_proto_tx(sock->sk);
	struct proto *base;

	if (tx) {
		tls_tx_splice_eof(sock->sk, tx);
		return;
	}
	base = READ_ONCE(tls_sk(sock->sk)->sk_proto);
	if (base->splice_eof)
		base->splice_eof(sock);
}

/*
 * shutdown(SHUT_WR) hands what is pending to TCP before its FIN, without
 * waiting (tls_tx_flush()). inet_shutdown() calls this with the socket
 * locked and SEND_SHUTDOWN already set, which would make TCP refuse the
 * bytes: it is off while they go out.
 */
static void tls_proto_shutdown(struct sock *sk, int how)
{
	struct tls_sock *ts = tls_sk(sk);

	if ((how & SEND_SHUTDOWN) && ts->tx) {
		u8 shutdown = READ_ONCE(sk->sk_shutdown);

		WRITE_ONCE(sk->sk_shutdown, shutdown & ~SEND_SHUTDOWN);
		tls_tx_flush(sk, ts->tx);
		WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | SEND_SHUTDOWN);
	}
	ts->sk_proto->shutdown(sk, how);
}

/*
 * connect(AF_UNSPEC) would let the socket connect again, to a peer that
 * has none of this connection's keys or record sequence numbers.
 */
static int tls_proto_disconnect(struct sock *sk, int flags)
{
	return -EOPNOTSUPP;
}

static void tls_proto_build(struct proto *prot, const struct proto *base)
{
	*prot = *base;
	prot->setsockopt = tls_proto_setsockopt;
	prot->getsockopt = tls_proto_getsockopt;
	prot->disconnect = tls_proto_disconnect;
	prot->sendmsg = tls_proto_sendmsg;
	prot->recvmsg = tls_proto_recvmsg;
	prot->splice_eof = tls_proto_splice_eof;
	prot->shutdown = tls_proto_shutdown;
	prot->close = tls_ulp_close;
}

/**
 * tls_proto_get() - the kTLS proto for a socket
 * @sk: the socket kTLS attaches to
 * @base: the TCP proto @sk runs on (under sockmap: the one sockmap saved)
 *
 * Return: the table for @sk's family, built from @base on first use, or
 * NULL when @base is not the TCP proto the table was built from.
 */
struct proto *tls_proto_get(struct sock *sk, const struct proto *base)
{
	enum tls_proto_family f;

	f = tls_proto_family(sk);
	/* Pairs with smp_store_release() below: the table is complete. */
	if (likely(smp_load_acquire(&tls_proto_bases[f]) == base))
		return &tls_protos[f];

	mutex_lock(&tls_proto_mutex);
	if (!tls_proto_bases[f]) {
		tls_proto_build(&tls_protos[f], base);
		/* Publish the table only once it is complete. */
		smp_store_release(&tls_proto_bases[f], base);
	}
	mutex_unlock(&tls_proto_mutex);

	return tls_proto_bases[f] == base ? &tls_protos[f] : NULL;
}

/*
 * The socket calls below run on sockets that got these proto_ops when
 * their RX keys were set. TLS_RX sets the proto_ops before it publishes
 * the RX state, and these calls read sock->ops without the socket lock:
 * until the state is there, the socket is TCP's.
 */
static __poll_t tls_proto_poll(struct file *file, struct socket *sock,
			       poll_table *wait)
{
	struct sock *sk = sock->sk;
	const struct proto_ops *base = tls_proto_ops_bases[tls_proto_family(sk)];
	struct tls_rx *rx = tls_proto_rx(sk);
	__poll_t mask = base->poll(file, sock, wait);

	if (!rx)
		return mask;
	/* TCP's bytes are readable once they make a whole record */
	if (!(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN))
		mask &= ~(EPOLLIN | EPOLLRDNORM);
	if (tls_rx_poll_ready(sk, rx))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static ssize_t tls_proto_splice_read(struct socket *sock, loff_t *ppos,
				     struct pipe_inode_info *pipe, size_t len,
				     unsigned int flags)
{
	struct sock *sk = sock->sk;
	bool nonblock = (sock->file && (sock->file->f_flags & O_NONBLOCK)) ||
			(flags & SPLICE_F_NONBLOCK);
	struct tls_rx *rx = tls_proto_rx(sk);
	const struct proto_ops *base;

	if (!rx) {
		base = tls_proto_ops_bases[tls_proto_family(sk)];
		return base->splice_read(sock, ppos, pipe, len, flags);
	}
	return tls_rx_splice_read(sk, rx, pipe, len, flags, nonblock);
}

/* strparser's question before it reads: how much plaintext is there? */
static int tls_proto_peek_len(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct tls_rx *rx = tls_proto_rx(sk);
	const struct proto_ops *base;

	if (!rx) {
		base = tls_proto_ops_bases[tls_proto_family(sk)];
		return base->peek_len ? base->peek_len(sock) : 0;
	}
	return tls_rx_peek_len(sk, rx);
}

static int tls_proto_read_sock(struct sock *sk, read_descriptor_t *desc,
			       sk_read_actor_t actor)
{
	struct tls_rx *rx = tls_proto_rx(sk);
	const struct proto_ops *base;

	if (!rx) {
		base = tls_proto_ops_bases[tls_proto_family(sk)];
		return base->read_sock(sk, desc, actor);
	}
	return tls_rx_read_sock(sk, rx, desc, actor);
}

/**
 * tls_proto_ops_set() - give a socket kTLS's proto_ops, for TLS_RX
 * @sk: the socket, locked, kTLS attached
 *
 * The table for @sk's family is built from the socket's own proto_ops
 * on first use, like the proto tables.
 *
 * Return: 0, or -EOPNOTSUPP when the socket's proto_ops are not the ones
 * the table was built from (nor the table itself).
 */
int tls_proto_ops_set(struct sock *sk)
{
	enum tls_proto_family f = tls_proto_family(sk);
	struct socket *sock = sk->sk_socket;
	const struct proto_ops *base;

	if (!sock)
		return -EOPNOTSUPP;
	base = READ_ONCE(sock->ops);
	if (base == &tls_proto_ops[f])
		return 0;

	mutex_lock(&tls_proto_mutex);
	if (!tls_proto_ops_bases[f]) {
		struct proto_ops *ops = &tls_proto_ops[f];

		*ops = *base;
		ops->poll = tls_proto_poll;
		ops->splice_read = tls_proto_splice_read;
		ops->read_sock = tls_proto_read_sock;
		ops->peek_len = tls_proto_peek_len;
		/* Publish the table only once it is complete. */
		smp_store_release(&tls_proto_ops_bases[f], base);
	}
	mutex_unlock(&tls_proto_mutex);

	if (tls_proto_ops_bases[f] != base)
		return -EOPNOTSUPP;
	WRITE_ONCE(sock->ops, &tls_proto_ops[f]);
	return 0;
}
