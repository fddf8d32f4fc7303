// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-peer: do the kernel's TLS transmit and receive paths interoperate
 * with an independent TLS implementation? Built against the system's
 * unmodified OpenSSL (Debian's libssl 3.0), run in a guest
 * (scripts/guest-interop.sh, scripts/guest-demo.sh).
 *
 * One process forks into both ends of a TCP connection over loopback:
 *
 *   server  the kTLS end: OpenSSL with SSL_OP_ENABLE_KTLS does the
 *           handshake and hands the keys to the kernel (TCP_ULP "tls",
 *           SOL_TLS/TLS_TX, TLS_RX). It fails unless kTLS is really in use
 *           in every direction the mode (-d) needs, and /proc/net/tls_stat
 *           counted it (TlsTxSw, TlsRxSw went up).
 *   client  OpenSSL in user space only (kTLS off), the reference: every
 *           record the kernel built is opened, and every record the kernel
 *           opened was built, by code that has nothing to do with it.
 *
 * The data is two streams in order: a pseudo-random buffer (-w) and a file
 * (-f, the first -l MiB of it). Whoever reads a stream hashes it (SHA-256)
 * and fails unless it matches what was sent, followed by a clean
 * close_notify. The mode (-d) says which way the data goes:
 *
 *   tx      server to client: SSL_write() of the buffer in chunks of
 *           awkward sizes, SSL_sendfile() of the file, then close_notify
 *           (an alert, sent as a TLS_SET_RECORD_TYPE cmsg).
 *   rx      client to server: the client SSL_write()s both streams in
 *           chunks of awkward sizes (records from 1 byte to 16 KiB), the
 *           server reads them with SSL_read() of varying sizes, through
 *           the kernel's receive path.
 *   duplex  both ways at once on the same connection: each end sends both
 *           streams and reads the other's, non-blocking, in one poll()
 *           loop; the server has kTLS TX and RX.
 *   kcm-tx, kcm-rx
 *           no streams but length-prefixed messages, through a KCM
 *           multiplexor attached to the server's kTLS socket (TX and RX):
 *           sent on several KCM sockets and read with SSL_read() (kcm-tx),
 *           or sent with SSL_write() and read from several KCM sockets
 *           (kcm-rx). Each message is checked by its SHA-256 (kcm.c).
 *
 * -m and -r (TLS 1.3 only) have the server install the transmit (-m) or
 * receive (-r) key itself: OpenSSL 3.0 never hands a TLS 1.3 receive key
 * or TLS 1.3 AES-CCM to the kernel, so that is the only way to test those
 * against OpenSSL. The key comes from the keylog callback (the server's or
 * the client's application traffic secret) through HKDF-Expand-Label
 * (RFC 8446 section 7.3). With -m no tickets are sent, so the first record
 * the kernel makes has sequence number 0; the client never sends anything
 * after its Finished but application data, so the first record the kernel
 * opens is the client's record 0. Data then goes through write() and
 * read() on the socket, and the receive side sees the close_notify alert
 * as a TLS_GET_RECORD_TYPE cmsg of recvmsg().
 *
 * The last line is "ktls-peer: OK" (exit 0) or there is a line
 * "ROLE: error: ..." (exit 1). Everything runs under alarm(): a peer that
 * hangs is a failure, not a stuck test, and the server (the kTLS end)
 * times out first, saying how far its streams got.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "common.h"
#include "kcm.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define MIB (1024 * 1024)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TLS_ALERT 21
#define TLS_APP_DATA 23

enum mode { MODE_TX, MODE_RX, MODE_DUPLEX, MODE_KCM_TX, MODE_KCM_RX };

static const char *const mode_names[] = {
	"tx", "rx", "duplex", "kcm-tx", "kcm-rx"
};

static int is_kcm(enum mode m)
{
	return m == MODE_KCM_TX || m == MODE_KCM_RX;
}

struct opts {
	int version;		/* TLS1_2_VERSION or TLS1_3_VERSION */
	const char *cipher;	/* OpenSSL name: cipher list or 1.3 suite */
	const char *cert, *key;	/* PEM files of the server */
	const char *file;	/* the second stream */
	size_t file_limit;	/* -l: use at most this much of the file */
	size_t write_len;	/* bytes of the first stream (the buffer) */
	enum mode mode;		/* -d: which way the data goes */
	int manual;		/* -m: the server sets TLS_TX itself */
	int manual_rx;		/* -r: the server sets TLS_RX itself */
	unsigned int timeout;	/* seconds, for each process */
};

/* A stream of the data, sent in pieces, hashed by whoever reads it. */
struct stream {
	const char *name;
	const unsigned char *data;
	size_t len;
	unsigned char sha[32];
};

#define MAX_STREAMS 3

/*
 * What is sent, and what must be read. tx: the buffer, then the file
 * (buf, file_*). rx and duplex: streams, down[] from the server, up[] from
 * the client, with the file cut in two at an odd place a third of the way
 * in: down[] is a buffer, the file's head, its tail; up[] a buffer from
 * another seed, the tail, the head. So in duplex an end that got its own
 * data back cannot pass, and the file is hashed once, not twice.
 */
struct payload {
	unsigned char *buf;
	size_t buf_len;
	unsigned char buf_sha[32];
	int file_fd;
	size_t file_len;
	unsigned char file_sha[32];
	struct stream down[MAX_STREAMS], up[MAX_STREAMS];
	struct kcm_plan kcm;	/* kcm-tx, kcm-rx: the messages, no streams */
};

static const char *role = "ktls-peer";
static pid_t peer_pid;		/* the server, as seen from the client */

static void __attribute__((noreturn)) report_and_exit(void)
{
	fflush(stdout);
	if (peer_pid > 0)
		kill(peer_pid, SIGKILL);
	exit(1);
}

/*
 * fail(): one "ROLE: error: ..." line, then OpenSSL's error queue. It is
 * not static, nor are fail_ssl() and now(): kcm.c calls them too.
 */
void fail(const char *fmt, ...)
{
	va_list ap;

	printf("%s: error: ", role);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	ERR_print_errors_fp(stdout);
	report_and_exit();
}

/* fail_ssl(): as fail(), naming what SSL_get_error() said about ret. */
void fail_ssl(SSL *ssl, int ret, const char *what)
{
	int err = SSL_get_error(ssl, ret);

	fail("%s: SSL error %d%s%s", what, err,
	     err == SSL_ERROR_SYSCALL ? ", errno: " : "",
	     err == SSL_ERROR_SYSCALL ? strerror(errno) : "");
}

struct flow;
static struct flow *pumping[2];	/* what pump() sends and reads, if any */
static size_t flow_where(const struct flow *f, const char *verb, char *buf,
			 size_t size);

/*
 * The timeout: say where the streams stood (a test tool's handler, so
 * snprintf() is acceptable here) and take the other process down too.
 */
static void on_alarm(int sig)
{
	char msg[512];
	size_t n;

	(void)sig;
	n = snprintf(msg, sizeof(msg) - 1, "%s: error: timed out", role);
	n += flow_where(pumping[0], "sent", msg + n, sizeof(msg) - 1 - n);
	n += flow_where(pumping[1], "read", msg + n, sizeof(msg) - 1 - n);
	n += kcm_where(msg + n, sizeof(msg) - 1 - n);
	msg[n++] = '\n';
	if (write(STDOUT_FILENO, msg, n) < 0)
		_exit(1);
	if (peer_pid > 0)
		kill(peer_pid, SIGKILL);
	_exit(1);
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	while (n--)
		out += sprintf(out, "%02x", *p++);
}

/* sha_hex(): a digest as text, in one of two buffers used in turn. */
static const char *sha_hex(const unsigned char sha[32])
{
	static char s[2][65];
	static int i;

	i ^= 1;
	hex(sha, 32, s[i]);
	return s[i];
}

static void set_blocking(int fd, int blocking)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, blocking ? fl & ~O_NONBLOCK :
			    fl | O_NONBLOCK))
		fail("fcntl(O_NONBLOCK): %s", strerror(errno));
}

/*
 * fill_random(): pseudo-random bytes (xorshift64 from a fixed seed), so
 * that a record placed at the wrong offset cannot match by accident.
 */
static unsigned char *fill_random(size_t len, uint64_t x)
{
	unsigned char *buf = malloc(len ? len : 1);
	size_t i;

	if (!buf)
		fail("out of memory");
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = x >> 32;
	}
	return buf;
}

/* set_stream(): a stream of len bytes at data, hashed here. */
static void set_stream(struct stream *s, const char *name,
		       const unsigned char *data, size_t len)
{
	s->name = name;
	s->data = data;
	s->len = len;
	if (!EVP_Digest(data, len, s->sha, NULL, EVP_sha256(), NULL))
		fail("sha256");
}

/* The data of every stream, hashed here rather than trusted from outside. */
static void make_payload(struct payload *p, const struct opts *o)
{
	const unsigned char *map;
	struct stat st;
	size_t third;

	memset(p, 0, sizeof(*p));
	if (is_kcm(o->mode)) {
		kcm_plan_init(&p->kcm);
		return;
	}
	p->file_fd = open(o->file, O_RDONLY);
	if (p->file_fd < 0 || fstat(p->file_fd, &st))
		fail("%s: %s", o->file, strerror(errno));
	p->file_len = st.st_size;
	if (o->file_limit && p->file_len > o->file_limit)
		p->file_len = o->file_limit;
	if (!p->file_len)
		fail("%s: empty", o->file);
	map = mmap(NULL, p->file_len, PROT_READ, MAP_SHARED, p->file_fd, 0);
	if (map == MAP_FAILED)
		fail("mmap %s: %s", o->file, strerror(errno));

	p->buf_len = o->write_len;
	p->buf = fill_random(p->buf_len, 0x6b746c732d706565ULL);
	if (o->mode == MODE_TX) {
		set_stream(&p->down[0], "buffer", p->buf, p->buf_len);
		set_stream(&p->down[1], "file", map, p->file_len);
		memcpy(p->buf_sha, p->down[0].sha, sizeof(p->buf_sha));
		memcpy(p->file_sha, p->down[1].sha, sizeof(p->file_sha));
		return;
	}
	set_stream(&p->down[0], "buffer", p->buf, p->buf_len);
	set_stream(&p->up[0], "buffer from another seed",
		   fill_random(o->write_len, 0x7075752d6b746c73ULL),
		   o->write_len);
	/* Not on a record or page boundary; odd, so never 0 either. */
	third = (p->file_len / 3) | 1;
	set_stream(&p->down[1], "file head", map, third);
	set_stream(&p->down[2], "file tail", map + third, p->file_len - third);
	p->up[1] = p->down[2];
	p->up[2] = p->down[1];
}

static SSL_CTX *make_ctx(const struct opts *o, int server)
{
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		fail("SSL_CTX_new");
	/* Exactly one version and one cipher, on both ends: no fallback. */
	switch (ossl_pin(ctx, o->version, o->cipher)) {
	case -1:
		fail("cannot pin the TLS version");
	case -2:
		fail("cipher %s refused by OpenSSL", o->cipher);
	}
	if (server &&
	    (SSL_CTX_use_certificate_file(ctx, o->cert, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1))
		fail("cannot load %s / %s", o->cert, o->key);
	/* Non-blocking duplex: SSL_write() may return after each record. */
	if (o->mode == MODE_DUPLEX)
		SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	return ctx;
}

/* The kernel's ciphers ---------------------------------------------------- */

union crypto_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
	struct tls12_crypto_info_aes_ccm_128 ccm128;
};

/* kernel_cipher(): TLS_CIPHER_* of an OpenSSL cipher and its struct size. */
static int kernel_cipher(const SSL_CIPHER *c, socklen_t *len)
{
	switch (SSL_CIPHER_get_cipher_nid(c)) {
	case NID_aes_128_gcm:
		*len = sizeof(struct tls12_crypto_info_aes_gcm_128);
		return TLS_CIPHER_AES_GCM_128;
	case NID_aes_256_gcm:
		*len = sizeof(struct tls12_crypto_info_aes_gcm_256);
		return TLS_CIPHER_AES_GCM_256;
	case NID_chacha20_poly1305:
		*len = sizeof(struct tls12_crypto_info_chacha20_poly1305);
		return TLS_CIPHER_CHACHA20_POLY1305;
	case NID_aes_128_ccm:
		*len = sizeof(struct tls12_crypto_info_aes_ccm_128);
		return TLS_CIPHER_AES_CCM_128;
	}
	return -1;
}

/* set_ulp(): the "tls" ULP on fd, unless OpenSSL put it there already. */
static void set_ulp(int fd)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	if (!getsockopt(fd, SOL_TCP, TCP_ULP, name, &len) &&
	    !strcmp(name, "tls"))
		return;
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")))
		fail("setsockopt(TCP_ULP, tls): %s", strerror(errno));
}

/*
 * probe_rx(): when OpenSSL did not turn kTLS RX on, say why if the kernel
 * is the reason: a fresh loopback connection with the "tls" ULP and a
 * zero key of the same version and cipher. Returns the kernel's refusal
 * as text, or NULL when it takes such a key.
 */
static const char *probe_rx(const SSL *ssl)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa), len;
	static char why[160];
	union crypto_info ci;
	int l, c, s = -1, type;
	const char *ret = why;

	type = kernel_cipher(SSL_get_current_cipher(ssl), &len);
	if (type < 0)
		return "the kernel has no such cipher";
	memset(&ci, 0, sizeof(ci));
	ci.info.version = SSL_version(ssl) == TLS1_3_VERSION ?
			  TLS_1_3_VERSION : TLS_1_2_VERSION;
	ci.info.cipher_type = type;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (l >= 0 && c >= 0 && !bind(l, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !listen(l, 1) && !getsockname(l, (struct sockaddr *)&sa, &salen) &&
	    !connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		s = accept(l, NULL, NULL);
	if (s < 0) {
		snprintf(why, sizeof(why), "(probe: no loopback pair: %s)",
			 strerror(errno));
	} else if (setsockopt(s, SOL_TCP, TCP_ULP, "tls", sizeof("tls"))) {
		snprintf(why, sizeof(why),
			 "the kernel refuses setsockopt(TCP_ULP, tls): %s",
			 strerror(errno));
	} else if (setsockopt(s, SOL_TLS, TLS_RX, &ci, len)) {
		snprintf(why, sizeof(why),
			 "the kernel refuses setsockopt(TLS_RX) for %s: %s",
			 SSL_get_cipher_name(ssl), strerror(errno));
	} else {
		ret = NULL;
	}
	close(s);
	close(c);
	close(l);
	return ret;
}

/* Keys by hand (-m, -r) --------------------------------------------------- */

struct secret {
	const char *tag;	/* the keylog line's label */
	unsigned char val[64];
	size_t len;
};

static struct secret tx_secret = { .tag = "SERVER_TRAFFIC_SECRET_0 " };
static struct secret rx_secret = { .tag = "CLIENT_TRAFFIC_SECRET_0 " };

static void keylog_one(const char *line, struct secret *sec)
{
	size_t tlen = strlen(sec->tag), n = 0;
	const char *s;

	if (strncmp(line, sec->tag, tlen))
		return;
	s = strchr(line + tlen, ' ');	/* skip the client random */
	if (!s)
		return;
	for (s++; n < sizeof(sec->val) &&
	     sscanf(s, "%2hhx", &sec->val[n]) == 1; s += 2)
		n++;
	sec->len = n;
}

/* OpenSSL gives every secret it derives to the keylog callback, as text. */
static void keylog(const SSL *ssl, const char *line)
{
	(void)ssl;
	keylog_one(line, &tx_secret);
	keylog_one(line, &rx_secret);
}

/* HKDF-Expand-Label(secret, label, "", len), RFC 8446 section 7.1. */
static void expand_label(const EVP_MD *md, const struct secret *sec,
			 const char *label, unsigned char *out, size_t len)
{
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	size_t llen = strlen(label), n = 0;
	unsigned char info[2 + 1 + 6 + 32 + 1];
	OSSL_PARAM params[5];
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;

	info[n++] = len >> 8;
	info[n++] = len;
	info[n++] = 6 + llen;
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, llen);
	n += 6 + llen;
	info[n++] = 0;		/* empty context */

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      (void *)sec->val,
						      sec->len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						      info, n);
	params[4] = OSSL_PARAM_construct_end();

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (!kctx || EVP_KDF_derive(kctx, out, len, params) != 1)
		fail("HKDF-Expand-Label(%s)", label);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

/*
 * Fill one of the uAPI's crypto_info structs (s) from the caller's traffic
 * secret (sec) and md. The 12-byte TLS 1.3 IV is salt || iv there
 * (all of it in iv for ChaCha20, whose salt is empty); rec_seq stays 0.
 * A macro, so that each struct's own field sizes are used.
 */
#define FILL_INFO(s) do {						\
	unsigned char k[sizeof((s).key)];				\
	unsigned char iv[12];						\
									\
	expand_label(md, sec, "key", k, sizeof(k));			\
	expand_label(md, sec, "iv", iv, sizeof(iv));			\
	memcpy((s).key, k, sizeof(k));					\
	memcpy((s).salt, iv, sizeof((s).salt));				\
	memcpy((s).iv, iv + sizeof((s).salt), sizeof((s).iv));		\
	OPENSSL_cleanse(k, sizeof(k));					\
} while (0)

/* install_key(): TLS_TX (the server's secret) or TLS_RX (the client's). */
static void install_key(SSL *ssl, int fd, int dir)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	const EVP_MD *md = SSL_CIPHER_get_handshake_digest(c);
	const struct secret *sec = dir == TLS_TX ? &tx_secret : &rx_secret;
	const char *name = dir == TLS_TX ? "TLS_TX" : "TLS_RX";
	union crypto_info ci;
	socklen_t len;
	int type;

	if (SSL_version(ssl) != TLS1_3_VERSION || !sec->len || !md)
		fail("%s by hand needs TLS 1.3 and the traffic secret", name);
	memset(&ci, 0, sizeof(ci));
	type = kernel_cipher(c, &len);
	ci.info.version = TLS_1_3_VERSION;
	ci.info.cipher_type = type;
	switch (type) {
	case TLS_CIPHER_AES_GCM_128:
		FILL_INFO(ci.gcm128);
		break;
	case TLS_CIPHER_AES_GCM_256:
		FILL_INFO(ci.gcm256);
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		FILL_INFO(ci.chacha);
		break;
	case TLS_CIPHER_AES_CCM_128:
		FILL_INFO(ci.ccm128);
		break;
	default:
		fail("%s: no kernel cipher for %s", name,
		     SSL_CIPHER_get_name(c));
	}
	set_ulp(fd);
	if (setsockopt(fd, SOL_TLS, dir, &ci, len))
		fail("setsockopt(%s, %s): %s%s", name, SSL_CIPHER_get_name(c),
		     strerror(errno), dir == TLS_RX ?
		     " (the kernel has no kTLS RX for it)" : "");
	OPENSSL_cleanse(&ci, sizeof(ci));
}

/* close_notify by hand: one alert record, its type given in a cmsg. */
static void send_close_notify(int fd)
{
	unsigned char alert[2] = { 1, 0 };	/* warning, close_notify */
	char cbuf[CMSG_SPACE(1)] = { 0 };
	struct iovec iov = { alert, sizeof(alert) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cm) = TLS_ALERT;
	if (sendmsg(fd, &msg, 0) != sizeof(alert))
		fail("sendmsg(close_notify alert): %s", strerror(errno));
}

/* One end of the connection, and its record layer ------------------------ */

struct conn {
	SSL *ssl;
	int fd;
	int raw_tx;	/* TLS_TX set by ktls-peer: write(), not SSL_write() */
	int raw_rx;	/* TLS_RX set by ktls-peer: read(), not SSL_read() */
};

/* conn_send(): bytes sent, 0 when the socket is full (non-blocking). */
static size_t conn_send(struct conn *c, const unsigned char *buf, size_t n)
{
	ssize_t ret;
	int err;

	if (c->raw_tx) {
		ret = write(c->fd, buf, n);
		if (ret > 0)
			return ret;
		if (ret < 0 && errno == EAGAIN)
			return 0;
		fail("write: %s", ret ? strerror(errno) : "returned 0");
	}
	ret = SSL_write(c->ssl, buf, n);
	if (ret > 0)
		return ret;
	err = SSL_get_error(c->ssl, ret);
	if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
		return 0;
	fail_ssl(c->ssl, ret, "SSL_write");
}

/*
 * conn_recv(): bytes read, 0 when there is nothing yet (non-blocking), -1
 * at the peer's close_notify. A record that is not data makes a plain
 * read() of a kTLS socket fail (EIO): in the middle of a stream, that is
 * the right verdict.
 */
static ssize_t conn_recv(struct conn *c, unsigned char *buf, size_t n)
{
	ssize_t ret;
	int err;

	if (c->raw_rx) {
		ret = read(c->fd, buf, n);
		if (ret > 0)
			return ret;
		if (ret < 0 && errno == EAGAIN)
			return 0;
		fail("read: %s", ret ? strerror(errno) :
		     "the connection ended without close_notify");
	}
	ret = SSL_read(c->ssl, buf, n);
	if (ret > 0)
		return ret;
	err = SSL_get_error(c->ssl, ret);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return 0;
	if (err == SSL_ERROR_ZERO_RETURN)
		return -1;
	fail_ssl(c->ssl, ret, "SSL_read");
}

/* conn_close(): our close_notify (blocking socket). */
static void conn_close(struct conn *c)
{
	int ret;

	if (c->raw_tx) {
		send_close_notify(c->fd);
		return;
	}
	ret = SSL_shutdown(c->ssl);
	if (ret < 0)
		fail_ssl(c->ssl, ret, "SSL_shutdown");
}

/*
 * conn_expect_close(): the peer's close_notify must be next (blocking
 * socket). The kernel gives its type in a TLS_GET_RECORD_TYPE cmsg.
 */
static void conn_expect_close(struct conn *c)
{
	unsigned char buf[64];
	char cbuf[CMSG_SPACE(1)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t ret;
	int type = -1;

	if (!c->raw_rx) {
		ret = SSL_read(c->ssl, buf, 1);
		if (ret > 0)
			fail("data after the end of the streams");
		if (SSL_get_error(c->ssl, ret) != SSL_ERROR_ZERO_RETURN)
			fail_ssl(c->ssl, ret, "waiting for close_notify");
		return;
	}
	ret = recvmsg(c->fd, &msg, 0);
	if (ret < 0)
		fail("recvmsg, waiting for close_notify: %s", strerror(errno));
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_TLS &&
	    cm->cmsg_type == TLS_GET_RECORD_TYPE)
		type = *CMSG_DATA(cm);
	if (type != TLS_ALERT || ret != 2 || buf[1] != 0)
		fail("where close_notify was due: %zd bytes, record type %d",
		     ret, type);
}

/* Streams, sent or read in pieces ----------------------------------------- */

/*
 * Write sizes around the record size (2^14) and far from it, so records
 * are closed by the end of a send as well as by being full.
 */
static const size_t chunks[] = {
	1, 13, 1000, 4096, 16383, 16384, 16385, 65536, 100000, MIB,
};

/* Read sizes: inside a record, across records, many records at once. */
static const size_t reads[] = {
	1, 7, 100, 1500, 16383, 16384, 16385, 65536, 256 * 1024,
};

/* One way of the data at one end: its streams, in turn. */
struct flow {
	const struct stream *s;
	int cur;		/* the stream in progress; MAX_STREAMS: done */
	size_t off;		/* in it */
	size_t left;		/* of the current chunk, when sending */
	unsigned int k;		/* picks the next chunk or read size */
	EVP_MD_CTX *md;		/* when reading: the current stream's hash */
	const char *how;	/* the calls it takes, for messages */
	double t0, secs;
};

static int flow_done(const struct flow *f)
{
	return !f || f->cur == MAX_STREAMS;
}

/* flow_where(): "; VERB N of M bytes of the STREAM", at most size - 1. */
static size_t flow_where(const struct flow *f, const char *verb, char *buf,
			 size_t size)
{
	int n;

	if (flow_done(f) || !size)
		return 0;
	n = snprintf(buf, size, "; %s %zu of %zu bytes of the %s with %s",
		     verb, f->off, f->s[f->cur].len, f->s[f->cur].name,
		     f->how);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

/* flow_next(): past the streams that are complete, checking what was read. */
static void flow_next(struct flow *f)
{
	unsigned char sha[32];

	const struct stream *s;

	while (f->cur < MAX_STREAMS && f->off == f->s[f->cur].len) {
		s = &f->s[f->cur];
		if (f->md && s->len) {
			EVP_DigestFinal_ex(f->md, sha, NULL);
			printf("%s: read %zu bytes (%s) with %s, sha256 %s\n",
			       role, s->len, s->name, f->how, sha_hex(sha));
			if (memcmp(sha, s->sha, sizeof(sha)))
				fail("%s: sha256 %s, sent %s", s->name,
				     sha_hex(sha), sha_hex(s->sha));
			EVP_DigestInit_ex(f->md, EVP_sha256(), NULL);
		} else if (s->len) {
			printf("%s: sent %zu bytes (%s) with %s, sha256 %s\n",
			       role, s->len, s->name, f->how, sha_hex(s->sha));
		}
		f->cur++;
		f->off = 0;
	}
	if (f->cur == MAX_STREAMS && !f->secs)
		f->secs = now() - f->t0;
}

static void flow_init(struct flow *f, const struct stream *s, int reading,
		      const char *how)
{
	memset(f, 0, sizeof(*f));
	f->s = s;
	f->how = how;
	if (reading) {
		f->md = EVP_MD_CTX_new();
		if (!f->md || !EVP_DigestInit_ex(f->md, EVP_sha256(), NULL))
			fail("sha256");
	}
	f->t0 = now();
	flow_next(f);
}

static double flow_rate(const struct flow *f)
{
	size_t len = 0;
	int i;

	for (i = 0; i < MAX_STREAMS; i++)
		len += f->s[i].len;
	return f->secs > 0 ? len / f->secs / MIB : 0;
}

/* flow_send(): one send of the next piece; 0 when the socket was full. */
static int flow_send(struct conn *c, struct flow *f)
{
	size_t n, ret;

	/* A send that would block is retried with the same arguments. */
	if (!f->left)
		f->left = chunks[f->k++ % ARRAY_SIZE(chunks)];
	n = f->s[f->cur].len - f->off;
	if (n > f->left)
		n = f->left;
	ret = conn_send(c, f->s[f->cur].data + f->off, n);
	if (!ret)
		return 0;
	f->off += ret;
	f->left -= ret;
	flow_next(f);
	return 1;
}

/* flow_recv(): one read of the next piece; 0 when there was nothing. */
static int flow_recv(struct conn *c, struct flow *f)
{
	static unsigned char buf[256 * 1024];
	size_t n = f->s[f->cur].len - f->off;
	ssize_t ret;

	if (n > reads[f->k % ARRAY_SIZE(reads)])
		n = reads[f->k % ARRAY_SIZE(reads)];
	ret = conn_recv(c, buf, n);
	if (!ret)
		return 0;
	if (ret < 0)
		fail("close_notify after %zu of %zu bytes of the %s",
		     f->off, f->s[f->cur].len, f->s[f->cur].name);
	f->k++;
	EVP_DigestUpdate(f->md, buf, ret);
	f->off += ret;
	flow_next(f);
	return 1;
}

/*
 * pump(): send tx and read rx (either may be NULL) until both are done.
 * On a non-blocking socket both go on at once: whichever cannot move
 * waits in poll() for the other end.
 */
static void pump(struct conn *c, struct flow *tx, struct flow *rx)
{
	struct pollfd pfd = { .fd = c->fd };
	int moved;

	pumping[0] = tx;
	pumping[1] = rx;
	while (!flow_done(tx) || !flow_done(rx)) {
		moved = 0;
		if (!flow_done(tx))
			moved |= flow_send(c, tx);
		if (!flow_done(rx))
			moved |= flow_recv(c, rx);
		if (moved)
			continue;
		pfd.events = (flow_done(tx) ? 0 : POLLOUT) |
			     (flow_done(rx) ? 0 : POLLIN);
		/* No timeout: a wakeup the kernel misses is a hang, not a delay. */
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			fail("poll: %s", strerror(errno));
	}
	pumping[0] = NULL;
	pumping[1] = NULL;
}

/* Server ------------------------------------------------------------------ */

static void send_buffer(SSL *ssl, int fd, const struct opts *o,
			const struct payload *p)
{
	size_t off = 0, i = 0, n;
	ssize_t ret;

	while (off < p->buf_len) {
		n = chunks[i++ % ARRAY_SIZE(chunks)];
		if (n > p->buf_len - off)
			n = p->buf_len - off;
		if (o->manual)
			ret = write(fd, p->buf + off, n);
		else
			ret = SSL_write(ssl, p->buf + off, n);
		if (ret <= 0) {
			if (o->manual)
				fail("write at %zu: %s", off, strerror(errno));
			fail_ssl(ssl, ret, "SSL_write");
		}
		off += ret;
	}
}

/* The file in two calls: an odd-sized head, then whatever is left. */
static void send_file(SSL *ssl, int fd, const struct opts *o,
		      const struct payload *p)
{
	off_t off = 0;
	ssize_t ret;
	size_t n;

	while ((size_t)off < p->file_len) {
		n = p->file_len - off;
		if (!off && n > 12345)
			n = 12345;
		if (o->manual)
			ret = sendfile(fd, p->file_fd, &off, n);
		else
			ret = SSL_sendfile(ssl, p->file_fd, off, n, 0);
		if (ret <= 0) {
			if (o->manual || ret == 0)
				fail("sendfile at %lld: %s", (long long)off,
				     ret ? strerror(errno) : "returned 0");
			fail_ssl(ssl, ret, "SSL_sendfile");
		}
		if (!o->manual)
			off += ret;
	}
}

/* tx mode: the buffer with SSL_write(), the file with SSL_sendfile(). */
static void server_tx(SSL *ssl, int fd, const struct opts *o,
		      const struct payload *p)
{
	char c;
	int ret;

	if (p->buf_len) {
		send_buffer(ssl, fd, o, p);
		printf("server: sent %zu bytes with %s, sha256 %s\n",
		       p->buf_len, o->manual ? "write" : "SSL_write",
		       sha_hex(p->buf_sha));
	}
	send_file(ssl, fd, o, p);
	printf("server: sent %zu bytes with %s, sha256 %s\n", p->file_len,
	       o->manual ? "sendfile" : "SSL_sendfile", sha_hex(p->file_sha));

	if (o->manual) {
		send_close_notify(fd);
	} else {
		ret = SSL_shutdown(ssl);
		if (ret < 0)
			fail_ssl(ssl, ret, "SSL_shutdown");
	}
	/* The client answers our close_notify with its own. */
	ret = SSL_read(ssl, &c, 1);
	if (ret > 0 || SSL_get_error(ssl, ret) != SSL_ERROR_ZERO_RETURN)
		fail_ssl(ssl, ret, "waiting for the client's close_notify");
}

/* rx and duplex modes: read the client's streams (and send ours). */
static void server_flows(struct conn *c, const struct opts *o,
			 const struct payload *p)
{
	struct flow in, out;
	char wr[32] = "-";

	if (o->mode == MODE_DUPLEX) {
		set_blocking(c->fd, 0);
		flow_init(&out, p->down, 0, c->raw_tx ? "write" : "SSL_write");
	}
	flow_init(&in, p->up, 1, c->raw_rx ? "read" : "SSL_read");
	pump(c, o->mode == MODE_DUPLEX ? &out : NULL, &in);
	set_blocking(c->fd, 1);
	conn_close(c);
	conn_expect_close(c);
	printf("server: close_notify sent and received\n");
	if (o->mode == MODE_DUPLEX)
		snprintf(wr, sizeof(wr), "%.1f", flow_rate(&out));
	printf("summary: %s %s write_MiBps=%s sendfile_MiBps=- read_MiBps=%.1f seconds=%.2f\n",
	       SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), wr,
	       flow_rate(&in), now() - in.t0);
	EVP_MD_CTX_free(in.md);
}

/*
 * kcm-tx and kcm-rx: KCM has the socket for the messages (kcm.c). Back
 * from it, the client's close_notify, which stopped KCM's parser, is read
 * through kTLS, and answered.
 */
static void server_kcm(struct conn *c, const struct opts *o,
		       const struct payload *p)
{
	int sending = o->mode == MODE_KCM_TX;
	char rate[32] = "-", none[] = "-";
	double t0 = now();

	snprintf(rate, sizeof(rate), "%.1f",
		 kcm_serve(c->fd, sending, &p->kcm));
	conn_expect_close(c);
	conn_close(c);
	printf("server: close_notify received and answered\n");
	printf("summary: %s %s write_MiBps=%s sendfile_MiBps=- read_MiBps=%s seconds=%.2f\n",
	       SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
	       sending ? rate : none, sending ? none : rate, now() - t0);
}

/* The kernel has the keys of every direction the mode needs, or fail. */
static void server_ktls(struct conn *c, const struct opts *o)
{
	int tx = o->mode != MODE_RX, rx = o->mode != MODE_TX;
	SSL *ssl = c->ssl;
	const char *why;

	if (tx && o->manual) {
		install_key(ssl, c->fd, TLS_TX);
		c->raw_tx = 1;
	} else if (tx && !BIO_get_ktls_send(SSL_get_wbio(ssl))) {
		fail("%s %s: OpenSSL did not turn kTLS TX on",
		     SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	}
	if (rx && o->manual_rx) {
		if (BIO_get_ktls_recv(SSL_get_rbio(ssl)))
			fail("OpenSSL turned kTLS RX on itself: no -r needed");
		install_key(ssl, c->fd, TLS_RX);
		c->raw_rx = 1;
	} else if (rx && BIO_get_ktls_recv(SSL_get_rbio(ssl)) != 1) {
		/* OpenSSL falls back to user space quietly: not here. */
		why = probe_rx(ssl);
		fail("%s %s: OpenSSL did not turn kTLS RX on: %s",
		     SSL_get_version(ssl), SSL_get_cipher_name(ssl),
		     why ? why : "yet the kernel takes TLS_RX for it on a fresh socket");
	}
}

static int server(const struct opts *o, int lfd, const struct payload *p)
{
	int tx = o->mode != MODE_RX, rx = o->mode != MODE_TX;
	long long tx0, tx1, rx0, rx1, cur_tx, cur_rx;
	struct conn c = { 0 };
	SSL_CTX *ctx;
	int ret;

	role = "server";
	tx0 = tls_stat("TlsTxSw");
	rx0 = tls_stat("TlsRxSw");
	if (tx0 < 0 || rx0 < 0)
		fail("no TlsTxSw/TlsRxSw in /proc/net/tls_stat: is kTLS built in?");

	c.fd = accept(lfd, NULL, NULL);
	if (c.fd < 0)
		fail("accept: %s", strerror(errno));
	close(lfd);

	ctx = make_ctx(o, 1);
	if (o->manual) {
		SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
		SSL_CTX_set_num_tickets(ctx, 0);
	} else {
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	}
	if (o->manual || o->manual_rx)
		SSL_CTX_set_keylog_callback(ctx, keylog);
	c.ssl = SSL_new(ctx);
	if (!c.ssl || !SSL_set_fd(c.ssl, c.fd))
		fail("SSL_new");
	ret = SSL_accept(c.ssl);
	if (ret != 1)
		fail_ssl(c.ssl, ret, "handshake");

	server_ktls(&c, o);
	cur_tx = tls_stat("TlsCurrTxSw");
	cur_rx = tls_stat("TlsCurrRxSw");
	printf("server: %s %s, mode %s", SSL_get_version(c.ssl),
	       SSL_get_cipher_name(c.ssl), mode_names[o->mode]);
	if (tx)
		printf(", kTLS TX on (keys set by %s)",
		       o->manual ? "ktls-peer" : "OpenSSL");
	else if (BIO_get_ktls_send(SSL_get_wbio(c.ssl)))
		printf(", kTLS TX on too (OpenSSL's choice, not tested)");
	if (rx)
		printf(", kTLS RX on (keys set by %s)",
		       o->manual_rx ? "ktls-peer" : "OpenSSL");
	printf(", TlsCurrTxSw %lld, TlsCurrRxSw %lld\n", cur_tx, cur_rx);
	if (tx && cur_tx < 1)
		fail("TlsCurrTxSw is %lld with a kTLS TX socket open", cur_tx);
	if (rx && cur_rx < 1)
		fail("TlsCurrRxSw is %lld with a kTLS RX socket open", cur_rx);

	if (o->mode == MODE_TX)
		server_tx(c.ssl, c.fd, o, p);
	else if (is_kcm(o->mode))
		server_kcm(&c, o, p);
	else
		server_flows(&c, o, p);

	tx1 = tls_stat("TlsTxSw");
	rx1 = tls_stat("TlsRxSw");
	printf("server: /proc/net/tls_stat TlsTxSw %lld -> %lld, TlsRxSw %lld -> %lld\n",
	       tx0, tx1, rx0, rx1);
	if (tx && tx1 <= tx0)
		fail("TlsTxSw did not go up");
	if (rx && rx1 <= rx0)
		fail("TlsRxSw did not go up");
	SSL_free(c.ssl);
	SSL_CTX_free(ctx);
	close(c.fd);
	return 0;
}

/* Client ------------------------------------------------------------------ */

/* recv_stream(): read exactly len bytes; returns MiB/s, checks SHA-256. */
static double recv_stream(SSL *ssl, size_t len, const unsigned char *want,
			  const char *name)
{
	static unsigned char buf[256 * 1024];
	unsigned char sha[32];
	size_t got = 0, n;
	double t0 = now(), dt;
	EVP_MD_CTX *md;
	int ret;

	if (!len)
		return 0;
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		fail("sha256");
	while (got < len) {
		n = len - got < sizeof(buf) ? len - got : sizeof(buf);
		ret = SSL_read(ssl, buf, n);
		if (ret <= 0) {
			printf("client: %s stream ended after %zu of %zu bytes\n",
			       name, got, len);
			fail_ssl(ssl, ret, "SSL_read");
		}
		EVP_DigestUpdate(md, buf, ret);
		got += ret;
	}
	EVP_DigestFinal_ex(md, sha, NULL);
	EVP_MD_CTX_free(md);
	dt = now() - t0;

	printf("client: read %zu bytes (%s), sha256 %s, %.1f MiB/s\n",
	       len, name, sha_hex(sha), len / dt / MIB);
	if (memcmp(sha, want, sizeof(sha)))
		fail("%s: sha256 %s, sent %s", name, sha_hex(sha),
		     sha_hex(want));
	return len / dt / MIB;
}

/* tx mode: read what the server sent, answer its close_notify. */
static void client_tx(SSL *ssl, const struct payload *p)
{
	double t0, wr, sf;
	char c;
	int ret;

	t0 = now();
	wr = recv_stream(ssl, p->buf_len, p->buf_sha, "SSL_write");
	sf = recv_stream(ssl, p->file_len, p->file_sha, "SSL_sendfile");

	ret = SSL_read(ssl, &c, 1);
	if (ret > 0)
		fail("data after the end of the file");
	if (SSL_get_error(ssl, ret) != SSL_ERROR_ZERO_RETURN)
		fail_ssl(ssl, ret, "waiting for close_notify");
	ret = SSL_shutdown(ssl);
	if (ret != 1)
		fail_ssl(ssl, ret, "SSL_shutdown");
	printf("client: close_notify received and answered\n");
	printf("summary: %s %s write_MiBps=%.1f sendfile_MiBps=%.1f seconds=%.2f\n",
	       SSL_get_version(ssl), SSL_get_cipher_name(ssl), wr, sf,
	       now() - t0);
}

/* rx and duplex modes: send both streams (and read the server's). */
static void client_flows(SSL *ssl, int fd, const struct opts *o,
			 const struct payload *p)
{
	struct conn c = { .ssl = ssl, .fd = fd };
	struct flow in, out;

	if (o->mode == MODE_DUPLEX) {
		set_blocking(fd, 0);
		flow_init(&in, p->down, 1, "SSL_read");
	}
	flow_init(&out, p->up, 0, "SSL_write");
	pump(&c, &out, o->mode == MODE_DUPLEX ? &in : NULL);
	set_blocking(fd, 1);
	conn_close(&c);
	conn_expect_close(&c);
	printf("client: close_notify sent and received\n");
	if (o->mode == MODE_DUPLEX)
		EVP_MD_CTX_free(in.md);
}

/* kcm-tx and kcm-rx: the messages, then close_notify both ways. */
static void client_kcm(SSL *ssl, int fd, const struct opts *o,
		       const struct payload *p)
{
	struct conn c = { .ssl = ssl, .fd = fd };

	if (o->mode == MODE_KCM_TX)
		kcm_client_read(ssl, &p->kcm);
	else
		kcm_client_write(ssl, &p->kcm);
	conn_close(&c);
	conn_expect_close(&c);
	printf("client: close_notify sent and received\n");
}

static void client(const struct opts *o, const struct sockaddr_in *sa,
		   const struct payload *p)
{
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, ret;

	role = "client";
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		fail("connect: %s", strerror(errno));
	ctx = make_ctx(o, 0);
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd))
		fail("SSL_new");
	/* The reference end: OpenSSL's own record layer, never the kernel. */
	SSL_clear_options(ssl, SSL_OP_ENABLE_KTLS);
	ret = SSL_connect(ssl);
	if (ret != 1)
		fail_ssl(ssl, ret, "handshake");
	if (BIO_get_ktls_recv(SSL_get_rbio(ssl)) ||
	    BIO_get_ktls_send(SSL_get_wbio(ssl)))
		fail("kTLS is on at the client, which must be user space only");
	printf("client: %s %s, user-space OpenSSL (kTLS off)\n",
	       SSL_get_version(ssl), SSL_get_cipher_name(ssl));

	if (o->mode == MODE_TX)
		client_tx(ssl, p);
	else if (is_kcm(o->mode))
		client_kcm(ssl, fd, o, p);
	else
		client_flows(ssl, fd, o, p);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}

/* main -------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: ktls-peer -v 1.2|1.3 -c CIPHER -C CERT -K KEY -f FILE\n"
		"                 [-d tx|rx|duplex] [-w MIB] [-l MIB] [-m] [-r]\n"
		"                 [-t SECONDS]\n"
		"       ktls-peer -v 1.2|1.3 -c CIPHER -C CERT -K KEY\n"
		"                 -d kcm-tx|kcm-rx [-m] [-r] [-t SECONDS]\n"
		"  -c  OpenSSL cipher name (TLS 1.3 suite or TLS 1.2 cipher)\n"
		"  -d  which way the data goes, from the kTLS server's side:\n"
		"      tx (default), rx, duplex (both at once); kcm-tx, kcm-rx:\n"
		"      messages through KCM on the server's kTLS socket\n"
		"  -f  file, the second stream (tx: sent with SSL_sendfile())\n"
		"  -l  use only the first MIB MiB of the file\n"
		"  -w  MiB of the first stream, a buffer (default 8)\n"
		"  -m  TLS 1.3, not rx: set the kernel's TX key here\n"
		"  -r  TLS 1.3, not tx: set the kernel's RX key here\n"
		"  -t  timeout per process (default 600)\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	unsigned int i;
	int c;

	*o = (struct opts){ .write_len = 8 * MIB, .timeout = 600 };
	while ((c = getopt(argc, argv, "v:c:C:K:f:l:w:d:mrt:")) != -1) {
		switch (c) {
		case 'v':
			if (!strcmp(optarg, "1.2"))
				o->version = TLS1_2_VERSION;
			else if (!strcmp(optarg, "1.3"))
				o->version = TLS1_3_VERSION;
			else
				usage();
			break;
		case 'c':
			o->cipher = optarg;
			break;
		case 'C':
			o->cert = optarg;
			break;
		case 'K':
			o->key = optarg;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'l':
			o->file_limit = strtoul(optarg, NULL, 0) * MIB;
			break;
		case 'w':
			o->write_len = strtoul(optarg, NULL, 0) * MIB;
			break;
		case 'd':
			for (i = 0; i < ARRAY_SIZE(mode_names); i++)
				if (!strcmp(optarg, mode_names[i]))
					break;
			if (i == ARRAY_SIZE(mode_names))
				usage();
			o->mode = i;
			break;
		case 'm':
			o->manual = 1;
			break;
		case 'r':
			o->manual_rx = 1;
			break;
		case 't':
			o->timeout = strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (!o->version || !o->cipher || !o->cert || !o->key ||
	    (!o->file && !is_kcm(o->mode)) || optind != argc)
		usage();
	if ((o->manual || o->manual_rx) && o->version != TLS1_3_VERSION)
		usage();
	if ((o->manual && o->mode == MODE_RX) ||
	    (o->manual_rx && o->mode == MODE_TX))
		usage();
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct payload p;
	struct opts o;
	int lfd, status;

	parse(argc, argv, &o);
	/* Line-buffered: the two processes share stdout, often a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(o.timeout);

	make_payload(&p, &o);

	/* Listening before the fork: the client cannot connect too early. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen))
		fail("listen on loopback: %s", strerror(errno));

	fflush(stdout);
	peer_pid = fork();
	if (peer_pid < 0)
		fail("fork: %s", strerror(errno));
	if (!peer_pid) {
		/*
		 * Alarms are not inherited. The server's goes off first: it
		 * is the kTLS end, whose account of a hang matters.
		 */
		alarm(o.timeout > 10 ? o.timeout - 5 : o.timeout);
		exit(server(&o, lfd, &p));
	}
	close(lfd);

	client(&o, &sa, &p);
	if (waitpid(peer_pid, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	peer_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the server failed (wait status %#x)", status);
	printf("ktls-peer: OK\n");
	return 0;
}
