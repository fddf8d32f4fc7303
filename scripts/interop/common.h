/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the guest-side tools (interop/ktls-peer.c, bench/ktls-bench.c)
 * share: the kernel's kTLS counters, and pinning OpenSSL to one version
 * and one cipher.
 */
#ifndef KTLS_TOOLS_COMMON_H
#define KTLS_TOOLS_COMMON_H

#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

/* tls_stat(): one counter of /proc/net/tls_stat, -1 if there is none. */
static long long tls_stat(const char *name)
{
	long long val, ret = -1;
	char key[64];
	FILE *f;

	f = fopen("/proc/net/tls_stat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * ossl_pin(): exactly @version and @cipher (a TLS 1.3 suite or a TLS 1.2
 * cipher list), so a handshake never falls back to something else.
 * Returns 0, -1 when OpenSSL refused the version, -2 the cipher.
 */
static int ossl_pin(SSL_CTX *ctx, int version, const char *cipher)
{
	if (!SSL_CTX_set_min_proto_version(ctx, version) ||
	    !SSL_CTX_set_max_proto_version(ctx, version))
		return -1;
	if (version == TLS1_3_VERSION ?
	    !SSL_CTX_set_ciphersuites(ctx, cipher) :
	    !SSL_CTX_set_cipher_list(ctx, cipher))
		return -2;
	return 0;
}

#endif /* KTLS_TOOLS_COMMON_H */
