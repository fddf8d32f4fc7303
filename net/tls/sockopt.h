/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_SOCKOPT_H
#define _TLS_SOCKOPT_H

#include <linux/sockptr.h>
#include <net/sock.h>

int tls_sockopt_set(struct sock *sk, int optname, sockptr_t optval,
		    unsigned int optlen);
int tls_sockopt_get(struct sock *sk, int optname, char __user *optval,
		    int __user *optlen);

#endif /* _TLS_SOCKOPT_H */
