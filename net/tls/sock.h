/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kTLS state of one socket.
 */
#ifndef _TLS_SOCK_H
#define _TLS_SOCK_H

#include <linux/rcupdate.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tls.h>

/**
 * struct tls_sock - the kTLS state of one TCP socket
 * @info: what code outside net/tls reads (include/net/tls.h); it must stay
 *	the first member, as those readers find it through icsk_ulp_data
 * @sk_proto: the proto the socket had before the ULP attached, or that
 *	sockmap hands back through tcp_update_ulp(). Every socket call that
 *	kTLS does not take over goes there, and close() puts it back.
 * @rcu: frees the state one grace period after close(), for readers of
 *	@info that do not hold the socket lock
 *
 * Lifetime: allocated when the "tls" ULP attaches and freed on close();
 * both run under the socket lock, as does every write to the fields.
 */
struct tls_sock {
	struct tls_sock_info	info;
	struct proto		*sk_proto;
	struct rcu_head		rcu;
};

/* Only for sockets that run kTLS's proto, i.e. from its callbacks. */
static inline struct tls_sock *tls_sk(const struct sock *sk)
{
	return rcu_dereference_protected(inet_csk(sk)->icsk_ulp_data, true);
}

#endif /* _TLS_SOCK_H */
