// SPDX-License-Identifier: GPL-2.0
/*
 * sock_diag: the INET_ULP_INFO_TLS attributes of a kTLS socket, which
 * `ss -tie` prints as "tls version: ... cipher: ... txconf: ...".
 *
 * inet_diag calls these without the socket lock, under RCU: they read the
 * kTLS state, which is freed one grace period after close(), with
 * READ_ONCE() and only its small fields, never the TX or RX state.
 */

#include <linux/inet_diag.h>
#include <net/netlink.h>

#include "diag.h"
#include "sock.h"

static u16 tls_diag_conf(u8 conf)
{
	return conf ? conf : TLS_CONF_BASE;
}

int tls_diag_get_info(struct sock *sk, struct sk_buff *skb)
{
	struct tls_sock *ts;
	struct nlattr *nest;
	u16 version;
	int err = 0;

	nest = nla_nest_start_noflag(skb, INET_ULP_INFO_TLS);
	if (!nest)
		return -EMSGSIZE;

	rcu_read_lock();
	ts = rcu_dereference(inet_csk(sk)->icsk_ulp_data);
	if (!ts)
		goto end;
	version = READ_ONCE(ts->version);
	if (version) {
		err = nla_put_u16(skb, TLS_INFO_VERSION, version);
		if (!err)
			err = nla_put_u16(skb, TLS_INFO_CIPHER,
					  READ_ONCE(ts->cipher_type));
	}
	if (!err)
		err = nla_put_u16(skb, TLS_INFO_TXCONF,
				  tls_diag_conf(READ_ONCE(ts->ctx.tx_conf)));
	if (!err)
		err = nla_put_u16(skb, TLS_INFO_RXCONF,
				  tls_diag_conf(READ_ONCE(ts->ctx.rx_conf)));
	if (!err && READ_ONCE(ts->zc_ro_tx))
		err = nla_put_flag(skb, TLS_INFO_ZC_RO_TX);
	if (!err && READ_ONCE(ts->rx_no_pad))
		err = nla_put_flag(skb, TLS_INFO_RX_NO_PAD);
	if (!err)
		err = nla_put_u16(skb, TLS_INFO_TX_MAX_PAYLOAD_LEN,
				  READ_ONCE(ts->tx_max_payload));
end:
	rcu_read_unlock();
	if (err) {
		nla_nest_cancel(skb, nest);
		return err;
	}
	nla_nest_end(skb, nest);
	return 0;
}

size_t tls_diag_get_info_size(const struct sock *sk)
{
	return nla_total_size(0) +		/* INET_ULP_INFO_TLS */
	       nla_total_size(sizeof(u16)) +	/* TLS_INFO_VERSION */
	       nla_total_size(sizeof(u16)) +	/* TLS_INFO_CIPHER */
	       nla_total_size(sizeof(u16)) +	/* TLS_INFO_TXCONF */
	       nla_total_size(sizeof(u16)) +	/* TLS_INFO_RXCONF */
	       nla_total_size(0) +		/* TLS_INFO_ZC_RO_TX */
	       nla_total_size(0) +		/* TLS_INFO_RX_NO_PAD */
	       nla_total_size(sizeof(u16));	/* TLS_INFO_TX_MAX_PAYLOAD_LEN */
}
