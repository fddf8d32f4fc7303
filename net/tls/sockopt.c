// SPDX-License-Identifier: GPL-2.0
/*
 * The SOL_TLS socket options.
 *
 * Each option comes with the patch that implements what it configures.
 * Until then kTLS knows none, and every SOL_TLS option fails with
 * ENOPROTOOPT, as it does on a socket without the ULP.
 */

#include "sockopt.h"

int tls_sockopt_set(struct sock *sk, int optname, sockptr_t optval,
		    unsigned int optlen)
{
	return -ENOPROTOOPT;
}

int tls_sockopt_get(struct sock *sk, int optname, char __user *optval,
		    int __user *optlen)
{
	return -ENOPROTOOPT;
}
