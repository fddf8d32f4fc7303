/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_PROTO_H
#define _TLS_PROTO_H

#include <net/sock.h>

struct proto *tls_proto_get(struct sock *sk, const struct proto *base);
int tls_proto_ops_set(struct sock *sk);

#endif /* _TLS_PROTO_H */
