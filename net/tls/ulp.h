/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_ULP_H
#define _TLS_ULP_H

#include <net/tcp.h>

extern struct tcp_ulp_ops tls_ulp_ops;

void tls_ulp_close(struct sock *sk, long timeout);
bool tls_ulp_taken(struct sock *sk);

#endif /* _TLS_ULP_H */
