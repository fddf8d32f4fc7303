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

struct tls_rx;
struct tls_tx;

/**
 * struct tls_sock - the kTLS state of one TCP socket
 * @ctx: what code outside net/tls reads (include/net/tls.h); it must stay
 *	the first member, as those readers find it through icsk_ulp_data
 * @sk_proto: the proto the socket had before the ULP attached, or that
 *	sockmap hands back through tcp_update_ulp(). Every socket call that
 *	kTLS does not take over goes there, and close() puts it back.
 * @tx: the software transmit path, from setsockopt(TLS_TX) on
 * @rx: the software receive path, from setsockopt(TLS_RX) on
 * @version: TLS_1_2_VERSION or TLS_1_3_VERSION once a direction has keys;
 *	the other direction must use the same
 * @cipher_type: the TLS_CIPHER_* number of those keys
 * @zc_ro_tx: TLS_TX_ZEROCOPY_RO, kept for device offload and reported
 * @tx_max_payload: TLS_TX_MAX_PAYLOAD_LEN: the most plaintext a sent
 *	record carries, 2^14 unless set; @tx keeps a copy
 * @rx_no_pad: TLS_RX_EXPECT_NO_PAD, as sock_diag reports it
 * @detached: close() is done; the state stays for device offload
 * @rcu: frees the state one grace period after close(), for readers of
 *	@ctx that do not hold the socket lock
 *
 * Lifetime: allocated when the "tls" ULP attaches and freed on close();
 * both run under the socket lock, as does every write to the fields.
 * @tx and @rx are published with smp_store_release() once complete: the
 * proto calls read them before they lock the socket.
 */
struct tls_sock {
	struct tls_context	ctx;
	struct proto		*sk_proto;
	struct tls_tx		*tx;
	struct tls_rx		*rx;
	u16			version;
	u16			cipher_type;
	bool			zc_ro_tx;
	bool			rx_no_pad;
	u16			tx_max_payload;
	bool			detached;
	struct rcu_head		rcu;
};

/* Only for sockets that run kTLS's proto, i.e. from its callbacks. */
static inline struct tls_sock *tls_sk(const struct sock *sk)
{
	return rcu_dereference_protected(inet_csk(sk)->icsk_ulp_data, true);
}

#endif /* _TLS_SOCK_H */
