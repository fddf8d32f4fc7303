/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KCM over kTLS for ktls-peer (-d kcm-tx, -d kcm-rx; scripts/interop/kcm.c):
 * a KCM multiplexor attached to the server's kTLS socket with a BPF
 * length-prefix parser, against a user-space OpenSSL client.
 *
 * A message on the wire is a 4-byte big-endian length, then that many
 * bytes: its body. The plan (struct kcm_plan) says what every message's
 * body is, so whichever end reads can tell each message by its SHA-256,
 * and know it whole, sent once, and not something made up of pieces of
 * others.
 */
#ifndef KTLS_PEER_KCM_H
#define KTLS_PEER_KCM_H

#include <stddef.h>

#include <openssl/ssl.h>

struct kcm_digest;

struct kcm_plan {
	unsigned int n;			/* messages */
	size_t *len;			/* each one's body length */
	unsigned int *tag;		/* what its first bytes say, see kcm.c */
	struct kcm_digest *by_sha;	/* (SHA-256 of the body, id), sorted */
	unsigned char *seen;		/* times each one was read (so far) */
	size_t max_len;			/* the longest body */
	size_t bytes;			/* all of them, with their prefixes */
};

void kcm_plan_init(struct kcm_plan *p);

/*
 * The server's part, on its kTLS socket (TLS_TX and TLS_RX set): attach
 * KCM, send the plan's messages from several KCM sockets (@sending) or
 * read them from several, wait until the client's close_notify stops
 * KCM's parser, and take the socket back (SIOCKCMUNATTACH). Returns the
 * rate of the messages, MiB/s. Fails (exits) unless all went as it must.
 */
double kcm_serve(int fd, int sending, const struct kcm_plan *p);

/* The client's part: the messages with SSL_read(), or with SSL_write(). */
void kcm_client_read(SSL *ssl, const struct kcm_plan *p);
void kcm_client_write(SSL *ssl, const struct kcm_plan *p);

/* kcm_where(): "; ..." how far the messages got, for a timeout's message. */
size_t kcm_where(char *buf, size_t size);

/* From the program kcm.c is linked into (ktls-peer.c). */
double now(void);		/* seconds, CLOCK_MONOTONIC */
void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...);
void __attribute__((noreturn)) fail_ssl(SSL *ssl, int ret, const char *what);

#endif /* KTLS_PEER_KCM_H */
