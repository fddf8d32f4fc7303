/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel TLS (kTLS): the part of a kTLS socket that code outside net/tls
 * may look at. The socket API itself is include/uapi/linux/tls.h; record
 * and alert constants are in include/net/tls_prot.h.
 */
#ifndef _NET_TLS_H
#define _NET_TLS_H

#include <linux/skbuff.h>
#include <linux/string.h>
#include <linux/types.h>
#include <net/inet_connection_sock.h>
#include <net/tcp.h>
#include <net/tls_prot.h>
#include <uapi/linux/tls.h>

/* Largest plaintext one record may carry (RFC 8446, section 5.1). */
#define TLS_MAX_PAYLOAD_SIZE	((size_t)1 << 14)
/* type(1) legacy_record_version(2) length(2) */
#define TLS_HEADER_SIZE		5

/**
 * struct tls_sock_info - what other subsystems may read of a kTLS socket
 * @tx_conf: how records are sent: 0 before TLS_TX, else a TLS_CONF_* value
 *	of include/uapi/linux/tls.h
 * @rx_conf: the same for received records
 *
 * It is the first member of net/tls's per-socket state, which
 * inet_csk(sk)->icsk_ulp_data points to while the "tls" ULP is attached.
 * The fields are written under the socket lock; readers that do not hold
 * it (BPF sockmap, skmsg) use READ_ONCE().
 */
struct tls_sock_info {
	u8	tx_conf;
	u8	rx_conf;
};

/**
 * tls_sock_info() - the kTLS view of a socket
 * @sk: a TCP socket
 *
 * Return: the kTLS information of @sk, or NULL when @sk does not have the
 * "tls" ULP attached (another ULP's data is never mistaken for it).
 */
static inline const struct tls_sock_info *tls_sock_info(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);
	const struct tcp_ulp_ops *ulp;

	if (!inet_test_bit(IS_ICSK, sk))
		return NULL;
	ulp = READ_ONCE(icsk->icsk_ulp_ops);
	if (!ulp || strcmp(ulp->name, "tls"))
		return NULL;
	return rcu_dereference_raw(icsk->icsk_ulp_data);
}

/**
 * tls_sw_has_ctx_tx() - does the kernel encrypt what @sk sends?
 * @sk: a TCP socket
 *
 * Return: true when records sent on @sk are built and encrypted in
 * software by kTLS.
 */
static inline bool tls_sw_has_ctx_tx(const struct sock *sk)
{
	const struct tls_sock_info *info = tls_sock_info(sk);

	return info && READ_ONCE(info->tx_conf) == TLS_CONF_SW;
}

/**
 * tls_sw_has_ctx_rx() - does the kernel decrypt what @sk receives?
 * @sk: a TCP socket
 *
 * Return: true when records received on @sk are parsed and decrypted in
 * software by kTLS.
 */
static inline bool tls_sw_has_ctx_rx(const struct sock *sk)
{
	const struct tls_sock_info *info = tls_sock_info(sk);

	return info && READ_ONCE(info->rx_conf) == TLS_CONF_SW;
}

/* Which half of a connection a NIC driver's offload state is for. */
enum tls_offload_ctx_dir {
	TLS_OFFLOAD_CTX_DIR_RX,
	TLS_OFFLOAD_CTX_DIR_TX,
};

/*
 * A NIC driver's per-connection offload state. Declared only: drivers
 * call it in code that IS_ENABLED(CONFIG_TLS_DEVICE) compiles away, and a
 * call that is not compiled away must fail to link until device offload
 * is implemented.
 */
void *tls_driver_ctx(const struct sock *sk, enum tls_offload_ctx_dir direction);

/**
 * tls_is_skb_tx_device_offloaded() - will a NIC encrypt this skb?
 * @skb: an skb on its way to a device
 *
 * Drivers ask this to steer records that the device encrypts. kTLS does
 * not offload to devices yet.
 *
 * Return: false.
 */
static inline bool tls_is_skb_tx_device_offloaded(const struct sk_buff *skb)
{
	return false;
}

#endif /* _NET_TLS_H */
