// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-bench: what does it cost the sender's CPU to send a file over TLS,
 * per MiB, with user-space OpenSSL, with the kernel's TLS (kTLS) and with
 * plain TCP? The transmit side of the KTLS paper's Figure 4, run in a
 * guest by scripts/guest-bench.sh under QEMU's icount, where guest time
 * counts executed instructions: the numbers compare kernels and schemes,
 * they are not seconds on real hardware.
 *
 * One run, one scheme and one cipher. The process forks into the two ends
 * of a TCP connection over loopback, each pinned to a CPU: the sender to
 * CPU 0, the receiver to CPU 1, or with -p 0 to the sender's CPU. Under
 * icount, prefer one vCPU: QEMU runs the vCPUs in turn on one virtual
 * clock, so while both are busy each process is charged the other's
 * instructions too (two loops of 120M instructions, run side by side,
 * were charged 220 ms each). On one vCPU a process's CPU time is its own
 * instructions, plus the interrupts and softirqs that ran while it was
 * current (the loopback delivery of what it sends, as on real hardware).
 *
 *   sender    sends the file with one of the schemes:
 *               ossl-write     read() 16 KiB, SSL_write() it (OpenSSL in
 *                              user space, kTLS off)
 *               ktls-sendfile  sendfile() of the file on a kTLS socket
 *               ktls-write     read() 16 KiB, write() it on a kTLS socket
 *               tcp-sendfile   sendfile() on plain TCP: the floor
 *             For kTLS there is no handshake: the TLS ULP is attached and
 *             fixed TLS_TX keys are set directly, since the handshake is
 *             not what is measured. ossl-write needs a real handshake
 *             (OpenSSL on both ends); it happens before the measurement.
 *   receiver  reads and discards everything with recv() into 64 KiB: it
 *             does not decrypt, we measure the sender. It walks the TLS
 *             record headers as they pass, though, so a run that did not
 *             send the file as well-formed records fails. For ossl-write
 *             it is OpenSSL's SSL_read(), which must decrypt.
 *
 * Measured over the data phase only (from the first byte sent until the
 * receiver has read the last one): the sender's CPU time, user + system
 * (CLOCK_PROCESS_CPUTIME_ID, exact to the nanosecond), and the whole
 * guest's busy time from /proc/stat (all CPUs, non-idle; in USER_HZ
 * ticks, so 10 ms a tick: coarse for small files). Output, on stdout:
 *
 *   bench SCHEME CIPHER MiB sender_cpu_ns_per_MiB guest_busy_ns_per_MiB
 *   info SCHEME CIPHER key=value...   (details, for the reader)
 *
 * Exit 0 only when the receiver got the whole file and, for kTLS, the
 * setsockopt() calls succeeded and /proc/net/tls_stat counted a software
 * TX session (TlsTxSw went up); otherwise an "error:" line and exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../interop/common.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define MIB (1024.0 * 1024.0)
#define CHUNK 16384		/* read()/write() size: one full record */
#define RX_BUF (64 * 1024)	/* the receiver's recv() size */
#define TLS_HDR 5		/* type, version, length */
#define TLS_MAX_PAYLOAD 16384
#define TLS_APPLICATION_DATA 23
#define SENDER_CPU 0

/* A cipher: its kernel uAPI constants, its OpenSSL name, its record size. */
struct cipher {
	const char *name;		/* as printed */
	int ossl_version;		/* TLS1_2_VERSION, TLS1_3_VERSION */
	const char *ossl_name;		/* cipher list (1.2) or suite (1.3) */
	unsigned short version;		/* TLS_1_2_VERSION, TLS_1_3_VERSION */
	unsigned short type;		/* TLS_CIPHER_... */
	/* A record's body beyond its payload: TLS 1.2 GCM has the 8-byte
	 * explicit nonce and the tag, TLS 1.3 the inner type and the tag. */
	unsigned int rec_extra;
};

static const struct cipher ciphers[] = {
	{ "tls12-aes128-gcm", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256",
	  TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, 8 + 16 },
	{ "tls13-aes128-gcm", TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256",
	  TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128, 1 + 16 },
	{ "tls13-chacha20-poly1305", TLS1_3_VERSION,
	  "TLS_CHACHA20_POLY1305_SHA256",
	  TLS_1_3_VERSION, TLS_CIPHER_CHACHA20_POLY1305, 1 + 16 },
};

enum send_how { SEND_SSL_WRITE, SEND_WRITE, SEND_SENDFILE };

struct scheme {
	const char *name;
	enum send_how how;
	int ktls;		/* fixed keys on the kernel's TLS_TX */
	int tls;		/* records on the wire (else plain TCP) */
};

static const struct scheme schemes[] = {
	{ "ossl-write", SEND_SSL_WRITE, 0, 1 },
	{ "ktls-sendfile", SEND_SENDFILE, 1, 1 },
	{ "ktls-write", SEND_WRITE, 1, 1 },
	{ "tcp-sendfile", SEND_SENDFILE, 0, 0 },
};

struct opts {
	const struct scheme *scheme;
	const struct cipher *cipher;	/* NULL for plain TCP */
	const char *file;
	const char *cert, *key;		/* PEM, for ossl-write */
	int receiver_cpu;
	unsigned int timeout;		/* seconds, each process */
};

/* What the receiver tells the sender through a pipe when it is done. */
struct rx_result {
	unsigned long long bytes;	/* read from the socket */
	unsigned long long payload;	/* plaintext the records carried */
	unsigned long long records;
	unsigned long long cpu_ns;	/* the receiver's, same phase */
};

/* What the sender samples at both ends of the data phase. */
struct sample {
	unsigned long long busy_ticks;	/* /proc/stat, all CPUs, USER_HZ */
	unsigned long long cpu_ns;	/* this process, user + system */
	unsigned long long user_ns, sys_ns;	/* getrusage(), informative */
	unsigned long long mono_ns;
};

static const char *role = "ktls-bench";
static pid_t peer_pid;		/* the receiver, as seen from the sender */

/* fail(): one "ROLE: error: ..." line, OpenSSL's error queue, exit 1. */
static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: error: ", role);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	if (peer_pid > 0)
		kill(peer_pid, SIGKILL);
	exit(1);
}

/* A run that hangs is a failure, not a stuck benchmark. */
static void on_alarm(int sig)
{
	static const char msg[] = ": error: timed out\n";

	(void)sig;
	if (write(STDERR_FILENO, role, strlen(role)) < 0 ||
	    write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	if (peer_pid > 0)
		kill(peer_pid, SIGKILL);
	_exit(1);
}

static unsigned long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000ULL + ts->tv_nsec;
}

static unsigned long long tv_ns(const struct timeval *tv)
{
	return tv->tv_sec * 1000000000ULL + tv->tv_usec * 1000ULL;
}

/* clock_ns(): a clock, in ns (for the CPU clock: this process's time). */
static unsigned long long clock_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		fail("clock_gettime: %s", strerror(errno));
	return ts_ns(&ts);
}

/*
 * guest_busy_ticks(): non-idle time of all CPUs from the "cpu" line of
 * /proc/stat (user nice system idle iowait irq softirq steal ...): all
 * but idle and iowait. Guest time is already inside user and nice.
 */
static unsigned long long guest_busy_ticks(void)
{
	unsigned long long v[8];
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		fail("/proc/stat: %s", strerror(errno));
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		fail("/proc/stat: no \"cpu\" line with 8 fields");
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

/*
 * take_sample(): the /proc/stat read stays outside the CPU-time window on
 * both sides (read first at the start, last at the end), so the sender's
 * own figure does not include reading it.
 */
static void take_sample(struct sample *s, int start)
{
	struct rusage ru;

	if (start)
		s->busy_ticks = guest_busy_ticks();
	if (getrusage(RUSAGE_SELF, &ru))
		fail("getrusage: %s", strerror(errno));
	s->user_ns = tv_ns(&ru.ru_utime);
	s->sys_ns = tv_ns(&ru.ru_stime);
	s->cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	s->mono_ns = clock_ns(CLOCK_MONOTONIC);
	if (!start)
		s->busy_ticks = guest_busy_ticks();
}

/* pin(): one CPU for this process, or fail: a run must be where it says. */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fail("cannot pin to CPU %d (%ld CPUs online): %s", cpu,
		     sysconf(_SC_NPROCESSORS_ONLN), strerror(errno));
}

/* OpenSSL (ossl-write) ---------------------------------------------------- */

/*
 * ossl_ctx(): a context pinned to exactly one version and one cipher on
 * both ends, with kTLS off (OpenSSL in user space is what is measured)
 * and no session tickets (nothing but our records in the data phase).
 */
static SSL_CTX *ossl_ctx(const struct opts *o, int server)
{
	const struct cipher *c = o->cipher;
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		fail("SSL_CTX_new");
	switch (ossl_pin(ctx, c->ossl_version, c->ossl_name)) {
	case -1:
		fail("cannot pin the TLS version");
	case -2:
		fail("cipher %s refused by OpenSSL", c->ossl_name);
	}
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
	if (server) {
		SSL_CTX_set_num_tickets(ctx, 0);
		if (SSL_CTX_use_certificate_file(ctx, o->cert,
						 SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, o->key,
						SSL_FILETYPE_PEM) != 1)
			fail("cannot load %s / %s", o->cert, o->key);
	}
	return ctx;
}

/* ossl_open(): the handshake on fd; checks the suite and that kTLS is off. */
static SSL *ossl_open(const struct opts *o, int fd, int server)
{
	SSL_CTX *ctx = ossl_ctx(o, server);
	SSL *ssl = SSL_new(ctx);
	int ret;

	SSL_CTX_free(ctx);	/* the SSL holds its own reference */
	if (!ssl || !SSL_set_fd(ssl, fd))
		fail("SSL_new");
	ret = server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (ret != 1)
		fail("handshake: SSL error %d", SSL_get_error(ssl, ret));
	if (strcmp(SSL_get_cipher_name(ssl), o->cipher->ossl_name))
		fail("negotiated %s, wanted %s", SSL_get_cipher_name(ssl),
		     o->cipher->ossl_name);
	if (BIO_get_ktls_send(SSL_get_wbio(ssl)) ||
	    BIO_get_ktls_recv(SSL_get_rbio(ssl)))
		fail("OpenSSL turned kTLS on; ossl-write must not use it");
	return ssl;
}

/* kTLS -------------------------------------------------------------------- */

/* fill(): key material that is fixed (the same every run) but not zero. */
static void fill(unsigned char *p, size_t n, unsigned char seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = seed + i * 7;
}

/*
 * One of the uAPI's crypto_info structs (s), fixed keys, sequence number
 * 0; sets the caller's len. A macro so each struct's own sizes are used.
 */
#define FILL_INFO(s, c) do {						\
	(s).info.version = (c)->version;				\
	(s).info.cipher_type = (c)->type;				\
	fill((s).key, sizeof((s).key), 0x11);				\
	fill((s).iv, sizeof((s).iv), 0x22);				\
	fill((s).salt, sizeof((s).salt), 0x33);				\
	len = sizeof(s);						\
} while (0)

/*
 * ktls_attach(): TCP_ULP "tls", then TLS_TX with fixed keys. Fails unless
 * both calls succeed and /proc/net/tls_stat counted a new software TX
 * session: a run that quietly sent plain TCP would be a lie.
 */
static void ktls_attach(const struct cipher *c, int fd, long long sw[2])
{
	union {
		struct tls12_crypto_info_aes_gcm_128 gcm128;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
	} ci;
	socklen_t len = 0;

	sw[0] = tls_stat("TlsTxSw");
	if (sw[0] < 0)
		fail("no TlsTxSw in /proc/net/tls_stat: is kTLS built in?");
	memset(&ci, 0, sizeof(ci));
	switch (c->type) {
	case TLS_CIPHER_AES_GCM_128:
		FILL_INFO(ci.gcm128, c);
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		FILL_INFO(ci.chacha, c);
		break;
	default:
		fail("no crypto_info for %s", c->name);
	}
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", 4))
		fail("setsockopt(TCP_ULP, \"tls\"): %s", strerror(errno));
	if (setsockopt(fd, SOL_TLS, TLS_TX, &ci, len))
		fail("setsockopt(SOL_TLS, TLS_TX, %s): %s", c->name,
		     strerror(errno));
	sw[1] = tls_stat("TlsTxSw");
	if (sw[1] <= sw[0])
		fail("TlsTxSw did not go up (%lld -> %lld)", sw[0], sw[1]);
	if (tls_stat("TlsCurrTxSw") < 1)
		fail("TlsCurrTxSw is %lld with a kTLS socket open",
		     tls_stat("TlsCurrTxSw"));
}

/* Sender ------------------------------------------------------------------ */

/* read_chunk(): up to CHUNK bytes of the file; 0 at its end. */
static size_t read_chunk(int ffd, unsigned char *buf)
{
	ssize_t n = read(ffd, buf, CHUNK);

	if (n < 0)
		fail("read(file): %s", strerror(errno));
	return n;
}

/* write_all(): write() until all of buf went (a signal may cut it). */
static void write_all(int fd, const unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("write(socket): %s", n ? strerror(errno) : "0");
		buf += n;
		len -= n;
	}
}

/* send_file(): the whole file, the scheme's way; then the end of stream
 * (close_notify for OpenSSL, a FIN otherwise). */
static void send_file(const struct scheme *s, int fd, SSL *ssl, int ffd,
		      size_t len)
{
	static unsigned char buf[CHUNK];
	off_t off = 0;
	ssize_t n;
	size_t got;
	int ret;

	switch (s->how) {
	case SEND_SSL_WRITE:
		while ((got = read_chunk(ffd, buf))) {
			ret = SSL_write(ssl, buf, got);
			if (ret != (int)got)
				fail("SSL_write: SSL error %d",
				     SSL_get_error(ssl, ret));
		}
		if (SSL_shutdown(ssl) < 0)
			fail("SSL_shutdown");
		return;
	case SEND_WRITE:
		while ((got = read_chunk(ffd, buf)))
			write_all(fd, buf, got);
		break;
	case SEND_SENDFILE:
		while ((size_t)off < len) {
			n = sendfile(fd, ffd, &off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				fail("sendfile at %lld: %s", (long long)off,
				     n ? strerror(errno) : "returned 0");
		}
		break;
	}
	if (shutdown(fd, SHUT_WR))
		fail("shutdown: %s", strerror(errno));
}

/* check_rx(): did the receiver get exactly the file, in records if TLS? */
static void check_rx(const struct opts *o, const struct rx_result *r,
		     size_t len)
{
	unsigned long long min_records;

	if (r->payload != len)
		fail("the receiver got %llu bytes of payload, sent %zu",
		     r->payload, len);
	if (!o->scheme->tls || o->scheme->how == SEND_SSL_WRITE)
		return;
	min_records = (len + TLS_MAX_PAYLOAD - 1) / TLS_MAX_PAYLOAD;
	if (r->records < min_records)
		fail("%llu records for %zu bytes", r->records, len);
}

/* report(): the bench line (per MiB of file) and the info line. */
static void report(const struct opts *o, size_t len, const struct sample *a,
		   const struct sample *b, const struct rx_result *r,
		   const long long sw[2])
{
	const char *cn = o->cipher ? o->cipher->name : "n/a";
	double mib = len / MIB;
	long tck = sysconf(_SC_CLK_TCK);
	unsigned long long ticks = b->busy_ticks - a->busy_ticks;

	printf("bench %s %s %g %.0f %.0f\n", o->scheme->name, cn, mib,
	       (b->cpu_ns - a->cpu_ns) / mib, ticks * 1e9 / tck / mib);
	printf("info %s %s sender_cpu_ns=%llu user_ns=%llu sys_ns=%llu "
	       "receiver_cpu_ns=%llu busy_ticks=%llu clk_tck=%ld "
	       "guest_ns=%llu wire_bytes=%llu records=%llu "
	       "tls_tx_sw=%lld->%lld cpus=%d,%d/%ld\n",
	       o->scheme->name, cn, b->cpu_ns - a->cpu_ns,
	       b->user_ns - a->user_ns, b->sys_ns - a->sys_ns, r->cpu_ns,
	       ticks, tck, b->mono_ns - a->mono_ns, r->bytes, r->records,
	       sw[0], sw[1], SENDER_CPU, o->receiver_cpu,
	       sysconf(_SC_NPROCESSORS_ONLN));
}

static void sender(const struct opts *o, int lfd, int res_fd)
{
	const struct scheme *s = o->scheme;
	long long sw[2] = { -1, -1 };
	struct sample a, b;
	struct rx_result r;
	struct stat st;
	SSL *ssl = NULL;
	int fd, ffd, status;
	ssize_t n;

	role = "sender";
	pin(SENDER_CPU);
	ffd = open(o->file, O_RDONLY);
	if (ffd < 0 || fstat(ffd, &st))
		fail("%s: %s", o->file, strerror(errno));
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		fail("accept: %s", strerror(errno));
	close(lfd);

	if (s->how == SEND_SSL_WRITE)
		ssl = ossl_open(o, fd, 1);
	else if (s->ktls)
		ktls_attach(o->cipher, fd, sw);

	take_sample(&a, 1);
	send_file(s, fd, ssl, ffd, st.st_size);
	/* Blocking here costs no CPU: the phase ends with the last byte read. */
	n = read(res_fd, &r, sizeof(r));
	if (n != sizeof(r))
		fail("the receiver did not report (see its error)");
	take_sample(&b, 0);

	if (waitpid(peer_pid, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	peer_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the receiver failed (wait status %#x)", status);
	check_rx(o, &r, st.st_size);
	report(o, st.st_size, &a, &b, &r, sw);
	SSL_free(ssl);
	close(fd);
	close(ffd);
}

/* Receiver ---------------------------------------------------------------- */

/* Where we are in the stream of TLS records going by. */
struct rec_walk {
	const struct cipher *c;
	unsigned char hdr[TLS_HDR];
	unsigned int hdr_got;	/* header bytes seen of the next record */
	size_t left;		/* body bytes still to skip */
};

/*
 * walk_records(): follow the record headers in b[0..n) and count records
 * and payload into r; bodies are skipped, not decrypted. Fails on
 * anything but application_data records of a sane length.
 */
static void walk_records(struct rec_walk *w, const unsigned char *b,
			 size_t n, struct rx_result *r)
{
	const unsigned int extra = w->c->rec_extra;
	size_t k, len;

	while (n) {
		if (w->left) {
			k = n < w->left ? n : w->left;
			w->left -= k;
			b += k;
			n -= k;
			continue;
		}
		w->hdr[w->hdr_got++] = *b++;
		n--;
		if (w->hdr_got < TLS_HDR)
			continue;
		w->hdr_got = 0;
		len = w->hdr[3] << 8 | w->hdr[4];
		if (w->hdr[0] != TLS_APPLICATION_DATA || w->hdr[1] != 3 ||
		    w->hdr[2] != 3)
			fail("record %llu: header %02x %02x %02x", r->records,
			     w->hdr[0], w->hdr[1], w->hdr[2]);
		if (len <= extra || len > TLS_MAX_PAYLOAD + extra)
			fail("record %llu: length %zu", r->records, len);
		w->left = len;
		r->records++;
		r->payload += len - extra;
	}
}

/* recv_plain(): recv() to the end of the stream, discarding. */
static void recv_plain(const struct opts *o, int fd, struct rx_result *r)
{
	static unsigned char buf[RX_BUF];
	struct rec_walk w = { .c = o->cipher };
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("recv: %s", strerror(errno));
		r->bytes += n;
		if (o->scheme->tls)
			walk_records(&w, buf, n, r);
		else
			r->payload += n;
	}
	if (w.hdr_got || w.left)
		fail("the stream ended inside a record");
}

/* recv_ssl(): SSL_read() to close_notify, discarding. */
static void recv_ssl(SSL *ssl, struct rx_result *r)
{
	static unsigned char buf[RX_BUF];
	int n;

	while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		r->payload += n;
		r->records++;	/* OpenSSL returns one record at a time */
	}
	if (SSL_get_error(ssl, n) != SSL_ERROR_ZERO_RETURN)
		fail("SSL_read: SSL error %d", SSL_get_error(ssl, n));
	r->bytes = BIO_number_read(SSL_get_rbio(ssl));
}

static void receiver(const struct opts *o, const struct sockaddr_in *sa,
		     int res_fd)
{
	struct rx_result r = { 0 };
	unsigned long long t0;
	SSL *ssl = NULL;
	int fd;

	role = "receiver";
	pin(o->receiver_cpu);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		fail("connect: %s", strerror(errno));
	if (o->scheme->how == SEND_SSL_WRITE)
		ssl = ossl_open(o, fd, 0);
	t0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (ssl)
		recv_ssl(ssl, &r);
	else
		recv_plain(o, fd, &r);
	r.cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - t0;
	if (write(res_fd, &r, sizeof(r)) != sizeof(r))
		fail("write(result pipe): %s", strerror(errno));
	SSL_free(ssl);
	close(fd);
}

/* main -------------------------------------------------------------------- */

static void __attribute__((noreturn)) usage(void)
{
	size_t i;

	fprintf(stderr,
		"usage: ktls-bench -s SCHEME -c CIPHER -f FILE [-C CERT -K KEY]\n"
		"                  [-p CPU] [-t SECONDS]\n"
		"  -C/-K  PEM certificate and key: ossl-write only\n"
		"  -p     the receiver's CPU (default 1; the sender's is 0)\n"
		"  -t     timeout per process (default 1800)\n"
		"schemes:");
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		fprintf(stderr, " %s", schemes[i].name);
	fprintf(stderr, "\nciphers (n/a for tcp-sendfile):");
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
		fprintf(stderr, " %s", ciphers[i].name);
	fputc('\n', stderr);
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	const char *sname = NULL, *cname = NULL;
	size_t i;
	int c;

	*o = (struct opts){ .receiver_cpu = 1, .timeout = 1800 };
	while ((c = getopt(argc, argv, "s:c:f:C:K:p:t:")) != -1) {
		switch (c) {
		case 's': sname = optarg; break;
		case 'c': cname = optarg; break;
		case 'f': o->file = optarg; break;
		case 'C': o->cert = optarg; break;
		case 'K': o->key = optarg; break;
		case 'p': o->receiver_cpu = atoi(optarg); break;
		case 't': o->timeout = strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (!sname || !cname || !o->file || optind != argc)
		usage();
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strcmp(sname, schemes[i].name))
			o->scheme = &schemes[i];
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
		if (!strcmp(cname, ciphers[i].name))
			o->cipher = &ciphers[i];
	if (!o->scheme || (o->scheme->tls ? !o->cipher : strcmp(cname, "n/a")))
		usage();
	if (o->scheme->how == SEND_SSL_WRITE && (!o->cert || !o->key))
		usage();
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct opts o;
	int lfd, res[2];

	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);

	/* Listening before the fork: the receiver cannot connect too early. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen))
		fail("listen on loopback: %s", strerror(errno));
	if (pipe(res))
		fail("pipe: %s", strerror(errno));

	fflush(stdout);
	peer_pid = fork();
	if (peer_pid < 0)
		fail("fork: %s", strerror(errno));
	alarm(o.timeout);	/* per process: alarms are not inherited */
	if (!peer_pid) {
		close(lfd);
		close(res[0]);
		receiver(&o, &sa, res[1]);
		return 0;
	}
	close(res[1]);
	sender(&o, lfd, res[0]);
	return 0;
}
