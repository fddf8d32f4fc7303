// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-peer: does the kernel's TLS transmit path interoperate with an
 * independent TLS implementation? Built against the system's unmodified
 * OpenSSL (Debian's libssl 3.0), run in a guest (scripts/guest-interop.sh,
 * scripts/guest-demo.sh).
 *
 * One process forks into both ends of a TCP connection over loopback:
 *
 *   server  OpenSSL with SSL_OP_ENABLE_KTLS: OpenSSL does the handshake and
 *           hands the keys to the kernel (TCP_ULP "tls", SOL_TLS/TLS_TX).
 *           From then on the kernel makes every record: SSL_write() of a
 *           buffer in chunks of awkward sizes, SSL_sendfile() of a file,
 *           then close_notify (an alert, sent as a TLS_SET_RECORD_TYPE
 *           cmsg). It fails unless kTLS TX is really in use and
 *           /proc/net/tls_stat counted it (TlsTxSw went up).
 *   client  OpenSSL in user space only (kTLS off), so every record the
 *           kernel built is decrypted and authenticated by code that has
 *           nothing to do with it. It hashes what it reads (SHA-256) and
 *           fails unless both streams match what was sent, followed by a
 *           clean close_notify.
 *
 * With -m (TLS 1.3 only) the server installs the transmit key itself:
 * OpenSSL 3.0 will not hand TLS 1.3 AES-CCM to the kernel at all, so that
 * is the only way to test the kernel's TLS 1.3 CCM against OpenSSL. The
 * key comes from the keylog callback (server application traffic secret)
 * through HKDF-Expand-Label (RFC 8446 section 7.3); no tickets are sent,
 * so the first record the kernel makes has sequence number 0.
 *
 * The last line is "ktls-peer: OK ..." (exit 0) or there is a line
 * "ROLE: error: ..." (exit 1). Everything runs under alarm(): a peer that
 * hangs is a failure, not a stuck test.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define MIB (1024 * 1024)
#define TLS_ALERT 21

struct opts {
	int version;		/* TLS1_2_VERSION or TLS1_3_VERSION */
	const char *cipher;	/* OpenSSL name: cipher list or 1.3 suite */
	const char *cert, *key;	/* PEM files of the server */
	const char *file;	/* sent with SSL_sendfile() */
	size_t write_len;	/* bytes sent with SSL_write() first */
	int manual;		/* -m: the server sets TLS_TX itself */
	unsigned int timeout;	/* seconds, for each process */
};

/* What is sent, and what the client must read: two streams in order. */
struct payload {
	unsigned char *buf;
	size_t buf_len;
	unsigned char buf_sha[32];
	int file_fd;
	size_t file_len;
	unsigned char file_sha[32];
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

/* fail(): one "ROLE: error: ..." line, then OpenSSL's error queue. */
static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
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
static void __attribute__((noreturn))
fail_ssl(SSL *ssl, int ret, const char *what)
{
	int err = SSL_get_error(ssl, ret);

	fail("%s: SSL error %d%s%s", what, err,
	     err == SSL_ERROR_SYSCALL ? ", errno: " : "",
	     err == SSL_ERROR_SYSCALL ? strerror(errno) : "");
}

static void on_alarm(int sig)
{
	static const char msg[] = ": error: timed out\n";

	(void)sig;
	if (write(STDOUT_FILENO, role, strlen(role)) < 0 ||
	    write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	if (peer_pid > 0)
		kill(peer_pid, SIGKILL);
	_exit(1);
}

static double now(void)
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

/*
 * The SSL_write() stream: pseudo-random bytes (xorshift64, fixed seed),
 * so that a record placed at the wrong offset cannot match by accident.
 */
static void make_payload(struct payload *p, const struct opts *o)
{
	static unsigned char chunk[64 * 1024];
	uint64_t x = 0x6b746c732d706565ULL;
	EVP_MD_CTX *md;
	struct stat st;
	ssize_t n;
	size_t i;

	p->buf_len = o->write_len;
	p->buf = malloc(p->buf_len ? p->buf_len : 1);
	if (!p->buf)
		fail("out of memory");
	for (i = 0; i < p->buf_len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p->buf[i] = x >> 32;
	}
	if (!EVP_Digest(p->buf, p->buf_len, p->buf_sha, NULL, EVP_sha256(),
			NULL))
		fail("sha256");

	p->file_fd = open(o->file, O_RDONLY);
	if (p->file_fd < 0 || fstat(p->file_fd, &st))
		fail("%s: %s", o->file, strerror(errno));
	p->file_len = st.st_size;

	/* The file's digest, read here rather than trusted from outside. */
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		fail("sha256");
	while ((n = read(p->file_fd, chunk, sizeof(chunk))) > 0)
		EVP_DigestUpdate(md, chunk, n);
	if (n < 0)
		fail("%s: %s", o->file, strerror(errno));
	EVP_DigestFinal_ex(md, p->file_sha, NULL);
	EVP_MD_CTX_free(md);
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
	return ctx;
}

/* Manual key installation (-m) ------------------------------------------ */

static unsigned char traffic_secret[64];
static size_t traffic_secret_len;

/* OpenSSL gives every secret it derives to the keylog callback, as text. */
static void keylog(const SSL *ssl, const char *line)
{
	const char *tag = "SERVER_TRAFFIC_SECRET_0 ";
	const char *s;
	size_t n = 0;

	(void)ssl;
	if (strncmp(line, tag, strlen(tag)))
		return;
	s = strchr(line + strlen(tag), ' ');	/* skip the client random */
	if (!s)
		return;
	for (s++; n < sizeof(traffic_secret) && sscanf(s, "%2hhx",
	     &traffic_secret[n]) == 1; s += 2)
		n++;
	traffic_secret_len = n;
}

/* HKDF-Expand-Label(secret, label, "", len), RFC 8446 section 7.1. */
static void expand_label(const EVP_MD *md, const char *label,
			 unsigned char *out, size_t len)
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
						      traffic_secret,
						      traffic_secret_len);
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
 * Fill one of the uAPI's crypto_info structs (s) from the traffic secret,
 * with the caller's md, and set the caller's len to its size. The 12-byte
 * TLS 1.3 IV is salt || iv there (all of it in iv for ChaCha20, whose salt
 * is empty); rec_seq stays 0. A macro, so that each struct's own field
 * sizes are used.
 */
#define FILL_INFO(s, type) do {						\
	unsigned char k[sizeof((s).key)];				\
	unsigned char iv[12];						\
									\
	(s).info.version = TLS_1_3_VERSION;				\
	(s).info.cipher_type = (type);					\
	expand_label(md, "key", k, sizeof(k));				\
	expand_label(md, "iv", iv, sizeof(iv));				\
	memcpy((s).key, k, sizeof(k));					\
	memcpy((s).salt, iv, sizeof((s).salt));				\
	memcpy((s).iv, iv + sizeof((s).salt), sizeof((s).iv));		\
	len = sizeof(s);						\
} while (0)

static void install_tx_key(SSL *ssl, int fd)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	const EVP_MD *md = SSL_CIPHER_get_handshake_digest(c);
	union {
		struct tls12_crypto_info_aes_gcm_128 gcm128;
		struct tls12_crypto_info_aes_gcm_256 gcm256;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
		struct tls12_crypto_info_aes_ccm_128 ccm128;
	} ci;
	socklen_t len;

	if (SSL_version(ssl) != TLS1_3_VERSION || !traffic_secret_len || !md)
		fail("-m needs TLS 1.3 and the traffic secret");
	memset(&ci, 0, sizeof(ci));
	switch (SSL_CIPHER_get_protocol_id(c)) {
	case 0x1301:
		FILL_INFO(ci.gcm128, TLS_CIPHER_AES_GCM_128);
		break;
	case 0x1302:
		FILL_INFO(ci.gcm256, TLS_CIPHER_AES_GCM_256);
		break;
	case 0x1303:
		FILL_INFO(ci.chacha, TLS_CIPHER_CHACHA20_POLY1305);
		break;
	case 0x1304:
		FILL_INFO(ci.ccm128, TLS_CIPHER_AES_CCM_128);
		break;
	default:
		fail("-m: no kernel cipher for %s", SSL_CIPHER_get_name(c));
	}
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")))
		fail("setsockopt(TCP_ULP, tls): %s", strerror(errno));
	if (setsockopt(fd, SOL_TLS, TLS_TX, &ci, len))
		fail("setsockopt(TLS_TX): %s", strerror(errno));
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

/* Server ------------------------------------------------------------------ */

/*
 * Write sizes around the record size (2^14) and far from it, so records
 * are closed by the end of a send as well as by being full.
 */
static const size_t chunks[] = {
	1, 13, 1000, 4096, 16383, 16384, 16385, 65536, 100000, MIB,
};

static void send_buffer(SSL *ssl, int fd, const struct opts *o,
			const struct payload *p)
{
	size_t off = 0, i = 0, n;
	ssize_t ret;

	while (off < p->buf_len) {
		n = chunks[i++ % (sizeof(chunks) / sizeof(chunks[0]))];
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

static int server(const struct opts *o, int lfd, const struct payload *p)
{
	long long tx0, tx1, cur;
	SSL_CTX *ctx;
	SSL *ssl;
	char c;
	int fd, ret;

	role = "server";
	tx0 = tls_stat("TlsTxSw");
	if (tx0 < 0)
		fail("no TlsTxSw in /proc/net/tls_stat: is kTLS built in?");

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		fail("accept: %s", strerror(errno));
	close(lfd);

	ctx = make_ctx(o, 1);
	if (o->manual) {
		SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_keylog_callback(ctx, keylog);
	} else {
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	}
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd))
		fail("SSL_new");
	ret = SSL_accept(ssl);
	if (ret != 1)
		fail_ssl(ssl, ret, "handshake");

	if (o->manual)
		install_tx_key(ssl, fd);
	else if (!BIO_get_ktls_send(SSL_get_wbio(ssl)))
		fail("%s %s: OpenSSL did not turn kTLS TX on",
		     SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	cur = tls_stat("TlsCurrTxSw");
	printf("server: %s %s, kTLS TX on (%s), TlsCurrTxSw %lld\n",
	       SSL_get_version(ssl), SSL_get_cipher_name(ssl),
	       o->manual ? "keys set by ktls-peer" : "keys set by OpenSSL",
	       cur);
	if (cur < 1)
		fail("TlsCurrTxSw is %lld with a kTLS socket open", cur);

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

	tx1 = tls_stat("TlsTxSw");
	printf("server: /proc/net/tls_stat TlsTxSw %lld -> %lld\n", tx0, tx1);
	if (tx1 <= tx0)
		fail("TlsTxSw did not go up");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
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

static void client(const struct opts *o, const struct sockaddr_in *sa,
		   const struct payload *p)
{
	double t0, wr, sf;
	SSL_CTX *ctx;
	SSL *ssl;
	char c;
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
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}

/* main -------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: ktls-peer -v 1.2|1.3 -c CIPHER -C CERT -K KEY -f FILE\n"
		"                 [-w MIB] [-m] [-t SECONDS]\n"
		"  -c  OpenSSL cipher name (TLS 1.3 suite or TLS 1.2 cipher)\n"
		"  -f  file sent with SSL_sendfile()\n"
		"  -w  MiB sent with SSL_write() first (default 8)\n"
		"  -m  TLS 1.3: set the kernel's TX key here, not by OpenSSL\n"
		"  -t  timeout per process (default 600)\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .write_len = 8 * MIB, .timeout = 600 };
	while ((c = getopt(argc, argv, "v:c:C:K:f:w:mt:")) != -1) {
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
		case 'w':
			o->write_len = strtoul(optarg, NULL, 0) * MIB;
			break;
		case 'm':
			o->manual = 1;
			break;
		case 't':
			o->timeout = strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (!o->version || !o->cipher || !o->cert || !o->key || !o->file ||
	    optind != argc)
		usage();
	if (o->manual && o->version != TLS1_3_VERSION)
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
		alarm(o.timeout);	/* alarms are not inherited */
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
