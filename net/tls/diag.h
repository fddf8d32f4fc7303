/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_DIAG_H
#define _TLS_DIAG_H

#include <net/sock.h>

int tls_diag_get_info(struct sock *sk, struct sk_buff *skb);
size_t tls_diag_get_info_size(const struct sock *sk);

#endif /* _TLS_DIAG_H */
