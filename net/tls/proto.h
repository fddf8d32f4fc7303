/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_PROTO_H
#define _TLS_PROTO_H

#include <net/sock.h>

struct proto *tls_proto_get(struct sock *sk, const struct proto *base);

#endif /* _TLS_PROTO_H */
