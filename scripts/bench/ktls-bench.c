// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-bench: what TLS costs the CPU, per MiB or per round trip, with
 * user-space OpenSSL, with the kernel's TLS (kTLS) and with plain TCP.
 * The KTLS paper's Figure 4 and more, run in a guest by
 * scripts/guest-bench.sh under QEMU's icount, where guest time counts
 * executed instructions: the numbers compare kernels and schemes, they
 * are not seconds on real hardware.
 *
 * One run is one scheme and one cipher. The process forks into the two
 * ends of a TCP connection over loopback: the parent (the stream's
 * sender, the request/response server) pinned to CPU 0, the child (the
 * stream's receiver, the request/response client) to -p CPU. See
 * scripts/bench.sh for why one vCPU is the default under icount.
 *
 * Transmit (TX) schemes, measured at the sender, after an OpenSSL
 * handshake; the receiver is user-space OpenSSL (SSL_read(), kTLS off),
 * so every record is decrypted and checked:
 *   ossl-write     read() 16 KiB, SSL_write() it (OpenSSL, kTLS off)
 *   ossl-mmap      mmap() the file, SSL_write() it 16 KiB at a time
 *   ktls-sendfile  OpenSSL turns kTLS TX on (SSL_OP_ENABLE_KTLS), then
 *                  sendfile() on the socket
 *   ktls-write     the same, then read() 16 KiB and write() it
 *   tcp-sendfile   sendfile() on plain TCP (no handshake): the floor
 * Receive (RX) schemes, measured at the receiver (reads of 64 KiB):
 *   ossl-read      SSL_read(): ktls-sendfile's receiver, reported too
 *   ktls-read      read() on a kTLS RX socket with fixed keys; the sender
 *                  sendfile()s on kTLS TX, as for ossl-read
 *   tcp-recv       read() on plain TCP: tcp-sendfile's receiver
 *   tcp-discard    recv(MSG_TRUNC) on plain TCP, from a sendfile() sender:
 *                  TCP drops the bytes instead of copying them to user
 *                  space, so this is plain TCP's receive path without the
 *                  copy. kTLS read decrypts straight into the reader's
 *                  buffer (the AEAD writes the user pages in place of
 *                  that copy), so this, not tcp-recv, is its floor
 * Request/response (-m SIZE -n COUNT round trips), measured at the
 * client, which sends SIZE bytes and waits for SIZE bytes back:
 *   rr-ossl        SSL_write()/SSL_read() on both ends
 *   rr-ktls        write()/read() on kTLS TX and RX, both ends
 *   rr-ktls-tx     write() on kTLS TX, recv() of the peer's records
 *                  without decrypting: the transmit side's share
 *   rr-tcp         write()/read() on plain TCP
 *
 * Scale (-N CONNS, run by scripts/guest-bench-scale.sh): the sendfile()
 * schemes without OpenSSL (tcp-sendfile, ktls-read, tcp-discard) over
 * CONNS connections between the two processes instead of one, unsampled
 * (no -S); -N 1 runs the same code over one. The
 * receiver opens them all (RLIMIT_NOFILE is raised; the listen backlog
 * is CONNS, which net.core.somaxconn caps: the guest script raises it),
 * each gets kTLS keys as above. -M MIB of data (default: the file's
 * size; the file is sent again from its start as often as needed) goes
 * in chunks of -B BYTES (default 64 KiB: four whole 16 KiB records), one
 * sendfile() each, the sender taking the connections in turn (chunk i
 * on connection i mod CONNS), so each connection carries whole records
 * and, with MIB at least CONNS chunks, every connection carries some.
 * The receiver has all connections non-blocking in one epoll set
 * (level-triggered) and reads each ready one once per wakeup (64 KiB).
 * Memory stays bounded by credit, not by socket buffers: the sender
 * starts with SCALE_INFLIGHT chunks of credit and spends one per chunk;
 * the receiver returns SCALE_BATCH chunks of credit (one byte on a pipe)
 * each time the bytes it has read cross another SCALE_BATCH chunks, and
 * the sender, out of credit, blocks on that pipe. So at most
 * SCALE_INFLIGHT chunks (64: 4 MiB of 64 KiB chunks) are ever sent and
 * unread, whatever CONNS is, where 10,000 connections each with a chunk
 * unread would hold 640 MiB of socket buffers. The data phase ends at the receiver when the last byte
 * arrived, at the sender when the receiver says so; the FINs (and each
 * connection's end-of-stream check, and its exact byte count) come
 * after. Output, one line per measured end, per MiB of data:
 *
 *   scale SCHEME CIPHER CONNS OWN GUEST
 *     the sender as tcp-sendfile or ktls-sendfile (kTLS TX; its receiver
 *     is kTLS RX here, not OpenSSL as in the TX scheme), the receiver as
 *     tcp-recv, ktls-read or tcp-discard (tcp-discard's sender is not
 *     reported: it is tcp-sendfile's)
 *
 * kTLS runs skip the handshake: the TLS ULP is attached and fixed keys
 * are set directly; OpenSSL runs do a real handshake first. Either way
 * the setup is outside the measurement, which is the data phase only.
 *
 * Measured: the measured process's CPU time, user + system
 * (CLOCK_PROCESS_CPUTIME_ID, exact), and the guest's elapsed time over
 * the same phase (CLOCK_MONOTONIC): under icount the clock advances with
 * every instruction any vCPU executes, so that is the whole guest's
 * instructions (plus idle time, which /proc/stat shows; "info" prints
 * it). With -S CRYPTO_RANGES the measured process is also sampled with
 * a cpu-clock perf event (one sample per 4 ms tick, HZ=250) and a sample
 * whose IP lies in one of the kernel functions CRYPTO_RANGES lists
 * ("START END NAME", hex, made by guest-bench.sh from /proc/kallsyms: the
 * functions of the kernel's crypto/, arch/x86/crypto/ and lib/crypto/,
 * i.e. the crypto API and the AEAD implementations) counts as the
 * cipher: the kernel AEAD's share of the process's instructions,
 * measured where kTLS runs it. Output:
 *
 *   bench SCHEME CIPHER SIZE OWN GUEST AEAD
 *     SIZE   MiB of file, or bytes per message (rr-*)
 *     OWN    the measured process's ns per MiB (per round trip for rr-*)
 *     GUEST  the guest's ns, same unit
 *     AEAD   ns of OWN in the kernel's crypto code, or "-"
 *   info SCHEME CIPHER key=value...   (details, for the reader)
 *
 * Exit 0 when all data arrived and kTLS was in use where it should be;
 * 3 when the kernel refused TLS_RX ("n/a: ..." on stderr: a kernel
 * without kTLS RX); otherwise 1 with an "error:" line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
#define RX_BUF (64 * 1024)	/* the receiver's read size */
#define TLS_HDR 5		/* type, version, length */
#define TLS_MAX_PAYLOAD 16384
#define TLS_APPLICATION_DATA 23
#define SENDER_CPU 0
#define EXIT_NA 3		/* the kernel has no kTLS RX */
#define PROF_PAGES 64		/* perf ring: 16-byte samples, 250 a second */
#define SEED_C2S 0x11		/* fixed keys: parent to child */
#define SEED_S2C 0x44		/* and child to parent */
#define SCALE_CHUNK (64 * 1024)	/* -N: default bytes per sendfile() */
#define SCALE_INFLIGHT 64	/* -N: chunks sent and not yet read, at most */
#define SCALE_BATCH 16		/* -N: chunks of credit per pipe byte */
#define SCALE_EVENTS 256	/* -N: epoll_wait()'s batch */

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

enum kind { TX, RX, RR };
enum send_how { S_SSL_WRITE, S_SSL_MMAP, S_WRITE, S_SENDFILE };
/* How an end reads: SSL_read(), read() (plaintext: TCP or kTLS RX),
 * recv() walking records it does not decrypt, or recv(MSG_TRUNC), which
 * plain TCP answers by dropping the bytes uncopied. */
enum recv_how { R_SSL, R_READ, R_WALK, R_TRUNC };

struct scheme {
	const char *name;
	enum kind kind;
	enum send_how send;	/* TX, RX: the sender */
	enum recv_how recv;	/* how the child reads; rr: both ends */
	int ossl;		/* OpenSSL handshake */
	int ossl_ktls_tx;	/* the sender lets OpenSSL turn on kTLS TX */
	int ktls_tx, ktls_rx;	/* fixed keys: sender's TX, receiver's RX;
				 * rr: both ends */
	int tls;		/* records on the wire */
	const char *rx_name;	/* TX: the receiver reported under this name */
	const char *tx_name;	/* RX, -N only: the sender reported so */
};

static const struct scheme schemes[] = {
	{ "ossl-write", TX, S_SSL_WRITE, R_SSL, 1, 0, 0, 0, 1, NULL, NULL },
	{ "ossl-mmap", TX, S_SSL_MMAP, R_SSL, 1, 0, 0, 0, 1, NULL, NULL },
	{ "ktls-sendfile", TX, S_SENDFILE, R_SSL, 1, 1, 0, 0, 1, "ossl-read",
	  NULL },
	{ "ktls-write", TX, S_WRITE, R_SSL, 1, 1, 0, 0, 1, NULL, NULL },
	{ "tcp-sendfile", TX, S_SENDFILE, R_READ, 0, 0, 0, 0, 0, "tcp-recv",
	  NULL },
	{ "ktls-read", RX, S_SENDFILE, R_READ, 0, 0, 1, 1, 1, NULL,
	  "ktls-sendfile" },
	{ "tcp-discard", RX, S_SENDFILE, R_TRUNC, 0, 0, 0, 0, 0, NULL, NULL },
	{ "rr-ossl", RR, 0, R_SSL, 1, 0, 0, 0, 1, NULL, NULL },
	{ "rr-ktls", RR, 0, R_READ, 0, 0, 1, 1, 1, NULL, NULL },
	{ "rr-ktls-tx", RR, 0, R_WALK, 0, 0, 1, 0, 1, NULL, NULL },
	{ "rr-tcp", RR, 0, R_READ, 0, 0, 0, 0, 0, NULL, NULL },
};

struct opts {
	const struct scheme *scheme;
	const struct cipher *cipher;	/* NULL for plain TCP */
	const char *file;		/* TX, RX */
	const char *cert, *key;		/* PEM, for OpenSSL */
	const char *syms;		/* crypto functions' ranges, or NULL */
	size_t msg;			/* rr: bytes per message */
	unsigned long count;		/* rr: round trips */
	int receiver_cpu;
	unsigned int timeout;		/* seconds, each process */
	unsigned long conns;		/* -N: connections, or 0 */
	unsigned long long total;	/* -N: bytes to send */
	size_t chunk;			/* -N: bytes per sendfile() */
};

/* The cipher's share of a process, from perf samples. */
struct prof_result {
	unsigned long long samples, kernel, crypto, lost;
};

/* What one end measured over its data phase. */
struct result {
	unsigned long long cpu_ns;	/* this process, user + system */
	unsigned long long mono_ns;	/* the guest's elapsed time */
	unsigned long long idle_ticks;	/* /proc/stat, all CPUs, USER_HZ */
	unsigned long long bytes;	/* read from the socket */
	unsigned long long payload;	/* plaintext that arrived */
	unsigned long long records;
	struct prof_result prof;
	int profiled;
};

/* A perf cpu-clock event on this process, and its ring buffer. */
struct prof {
	int fd;
	void *ring;
	size_t len;
};

static const char *role = "ktls-bench";
static pid_t peer_pid;		/* the child, as seen from the parent */

static void kill_peer(void)
{
	if (peer_pid > 0)
		kill(peer_pid, SIGKILL);
}

static void __attribute__((noreturn))
vdie(int code, const char *what, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: %s: ", role, what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	kill_peer();
	exit(code);
}

/* fail(): one "ROLE: error: ..." line, OpenSSL's error queue, exit 1. */
static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(1, "error", fmt, ap);
}

/* na(): this kernel cannot run the scheme (no kTLS RX): exit 3. */
static void __attribute__((noreturn, format(printf, 1, 2)))
na(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(EXIT_NA, "n/a", fmt, ap);
}

/* A run that hangs is a failure, not a stuck benchmark. */
static void on_alarm(int sig)
{
	static const char msg[] = ": error: timed out\n";

	(void)sig;
	if (write(STDERR_FILENO, role, strlen(role)) < 0 ||
	    write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	kill_peer();
	_exit(1);
}

/* clock_ns(): a clock, in ns (for the CPU clock: this process's time). */
static unsigned long long clock_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		fail("clock_gettime: %s", strerror(errno));
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* idle_ticks(): idle + iowait of all CPUs, from /proc/stat's "cpu" line. */
static unsigned long long idle_ticks(void)
{
	unsigned long long v[5];
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		fail("/proc/stat: %s", strerror(errno));
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4]);
	fclose(f);
	if (n != 5)
		fail("/proc/stat: no \"cpu\" line");
	return v[3] + v[4];
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

/* Profile: where the kernel spends the process's time -------------------- */

static void prof_start(struct prof *p)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(a),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		/*
		 * The least period (10 us): without high-resolution timers
		 * the event's hrtimer runs from the tick, so this is one
		 * sample at each tick that finds the process running. A
		 * longer one would restart at each switch to the process
		 * and miss short turns on the CPU (a biased sample).
		 */
		.sample_period = 10000,
		.sample_type = PERF_SAMPLE_IP,
		.disabled = 1,
	};

	p->len = (1 + PROF_PAGES) * sysconf(_SC_PAGESIZE);
	p->fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	if (p->fd < 0)
		fail("perf_event_open(cpu-clock): %s", strerror(errno));
	p->ring = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       p->fd, 0);
	if (p->ring == MAP_FAILED)
		fail("mmap(perf ring): %s", strerror(errno));
	if (ioctl(p->fd, PERF_EVENT_IOC_ENABLE, 0))
		fail("PERF_EVENT_IOC_ENABLE: %s", strerror(errno));
}

/* ring_copy(): @n bytes at @off of the ring's data area, which wraps. */
static void ring_copy(const struct prof *p, uint64_t off, void *dst, size_t n)
{
	const size_t pg = sysconf(_SC_PAGESIZE), size = PROF_PAGES * pg;
	const unsigned char *data = (const unsigned char *)p->ring + pg;
	unsigned char *d = dst;
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = data[(off + i) % size];
}

/* prof_stop(): stop sampling; returns the sampled IPs (count in *n). */
static uint64_t *prof_stop(struct prof *p, size_t *n, unsigned long long *lost)
{
	struct perf_event_mmap_page *mp = p->ring;
	struct perf_event_header h;
	uint64_t head, off, v[2], *ips = NULL;
	size_t cap = 0;

	if (ioctl(p->fd, PERF_EVENT_IOC_DISABLE, 0))
		fail("PERF_EVENT_IOC_DISABLE: %s", strerror(errno));
	head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
	*n = 0;
	*lost = 0;
	for (off = mp->data_tail; off < head; off += h.size) {
		ring_copy(p, off, &h, sizeof(h));
		if (h.size < sizeof(h))
			fail("perf ring: a record of %u bytes", h.size);
		if (h.type == PERF_RECORD_LOST) {
			ring_copy(p, off + sizeof(h), v, sizeof(v));
			*lost += v[1];
		}
		if (h.type != PERF_RECORD_SAMPLE)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			ips = realloc(ips, cap * sizeof(*ips));
			if (!ips)
				fail("out of memory");
		}
		ring_copy(p, off + sizeof(h), &ips[(*n)++], sizeof(*ips));
	}
	munmap(p->ring, p->len);
	close(p->fd);
	return ips;
}

/* A kernel function: [start, end). */
struct range {
	uint64_t start, end;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* load_ranges(): "START END NAME" lines (hex), sorted by START. */
static struct range *load_ranges(const char *path, size_t *n)
{
	unsigned long long start, end;
	struct range *v = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		fail("%s: %s", path, strerror(errno));
	*n = 0;
	while (fscanf(f, "%llx %llx %*s", &start, &end) == 2) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				fail("out of memory");
		}
		v[*n].start = start;
		v[(*n)++].end = end;
	}
	fclose(f);
	if (!*n)
		fail("%s: no crypto functions", path);
	qsort(v, *n, sizeof(*v), range_cmp);
	return v;
}

/* prof_classify(): the samples, those in the kernel, those in crypto. */
static void prof_classify(const char *ranges, const uint64_t *ips, size_t n,
			  struct prof_result *r)
{
	size_t nr, i, lo, hi, mid;
	struct range *v = load_ranges(ranges, &nr);

	r->samples = n;
	for (i = 0; i < n; i++) {
		if (ips[i] >> 63 == 0)
			continue;	/* user space */
		r->kernel++;
		/* the last function starting at or below the IP */
		for (lo = 0, hi = nr; hi - lo > 1; ) {
			mid = (lo + hi) / 2;
			if (v[mid].start <= ips[i])
				lo = mid;
			else
				hi = mid;
		}
		if (v[lo].start <= ips[i] && ips[i] < v[lo].end)
			r->crypto++;
	}
	free(v);
}

/* The data phase: start() and stop() around it, in the measured process. */
struct phase {
	unsigned long long cpu, mono, idle;
	struct prof prof;
};

static void phase_start(const struct opts *o, struct phase *ph)
{
	if (o->syms)
		prof_start(&ph->prof);
	ph->idle = idle_ticks();
	ph->mono = clock_ns(CLOCK_MONOTONIC);
	ph->cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static void phase_stop(const struct opts *o, struct phase *ph,
		       struct result *r)
{
	uint64_t *ips;
	size_t n;

	r->cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - ph->cpu;
	r->mono_ns = clock_ns(CLOCK_MONOTONIC) - ph->mono;
	r->idle_ticks = idle_ticks() - ph->idle;
	if (!o->syms)
		return;
	ips = prof_stop(&ph->prof, &n, &r->prof.lost);
	prof_classify(o->syms, ips, n, &r->prof);
	r->profiled = 1;
	free(ips);
}

/* OpenSSL ----------------------------------------------------------------- */

/*
 * ossl_ctx(): a context pinned to exactly one version and one cipher on
 * both ends, no session tickets (nothing but our records in the data
 * phase), kTLS on only for an OpenSSL kTLS TX sender.
 */
static SSL_CTX *ossl_ctx(const struct opts *o, int server, int ktls)
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
	if (ktls)
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	else
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

/* ossl_open(): the handshake on fd; checks the suite and where kTLS is. */
static SSL *ossl_open(const struct opts *o, int fd, int server, int ktls)
{
	SSL_CTX *ctx = ossl_ctx(o, server, ktls);
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
	if (ktls && !BIO_get_ktls_send(SSL_get_wbio(ssl)))
		fail("OpenSSL did not turn kTLS TX on");
	if (!ktls && (BIO_get_ktls_send(SSL_get_wbio(ssl)) ||
		      BIO_get_ktls_recv(SSL_get_rbio(ssl))))
		fail("OpenSSL turned kTLS on; this end must not use it");
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
 * One of the uAPI's crypto_info structs (s), fixed keys from seed,
 * sequence number 0; sets the caller's len. A macro so each struct's own
 * sizes are used.
 */
#define FILL_INFO(s, c, seed) do {					\
	(s).info.version = (c)->version;				\
	(s).info.cipher_type = (c)->type;				\
	fill((s).key, sizeof((s).key), (seed));				\
	fill((s).iv, sizeof((s).iv), (seed) + 1);			\
	fill((s).salt, sizeof((s).salt), (seed) + 2);			\
	len = sizeof(s);						\
} while (0)

/*
 * ktls_key(): the TLS ULP (once per socket) and fixed keys for one
 * direction. With check, fails unless /proc/net/tls_stat counted a new
 * software session that way: a run that quietly used plain TCP would be
 * a lie (-N checks the count once, over all its sockets).
 * A refused TLS_RX is n/a (a kernel without kTLS RX), not a failure.
 */
static void ktls_key(const struct cipher *c, int fd, int dir, int seed,
		     int check)
{
	const char *stat = dir == TLS_TX ? "TlsTxSw" : "TlsRxSw";
	union {
		struct tls12_crypto_info_aes_gcm_128 gcm128;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
	} ci;
	char ulp[16] = "";
	socklen_t len, ulp_len = sizeof(ulp);
	long long before, after;

	before = check ? tls_stat(stat) : 0;
	if (before < 0)
		fail("no %s in /proc/net/tls_stat: is kTLS built in?", stat);
	memset(&ci, 0, sizeof(ci));
	switch (c->type) {
	case TLS_CIPHER_AES_GCM_128:
		FILL_INFO(ci.gcm128, c, seed);
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		FILL_INFO(ci.chacha, c, seed);
		break;
	default:
		fail("no crypto_info for %s", c->name);
	}
	if (getsockopt(fd, SOL_TCP, TCP_ULP, ulp, &ulp_len) ||
	    strcmp(ulp, "tls"))
		if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", 4))
			fail("setsockopt(TCP_ULP, \"tls\"): %s",
			     strerror(errno));
	if (setsockopt(fd, SOL_TLS, dir, &ci, len)) {
		if (dir == TLS_RX)
			na("setsockopt(SOL_TLS, TLS_RX, %s): %s: no kTLS RX",
			   c->name, strerror(errno));
		fail("setsockopt(SOL_TLS, TLS_TX, %s): %s", c->name,
		     strerror(errno));
	}
	if (!check)
		return;
	after = tls_stat(stat);
	if (after <= before)
		fail("%s did not go up (%lld -> %lld)", stat, before, after);
}

/* Sending ----------------------------------------------------------------- */

/* read_chunk(): up to CHUNK bytes of the file; 0 at its end. */
static size_t read_chunk(int ffd, unsigned char *buf)
{
	ssize_t n = read(ffd, buf, CHUNK);

	if (n < 0)
		fail("read(file): %s", strerror(errno));
	return n;
}

/* write_all(): write() until all of buf went (a signal may cut it). */
static void write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("write(socket): %s", n ? strerror(errno) : "0");
		p += n;
		len -= n;
	}
}

static void ssl_write_all(SSL *ssl, const void *buf, size_t len)
{
	int ret = SSL_write(ssl, buf, len);

	if (ret != (int)len)
		fail("SSL_write: SSL error %d", SSL_get_error(ssl, ret));
}

/* send_file(): the whole file, the scheme's way (sendfile() and write()
 * on fd, which may be kTLS that OpenSSL set up); then the end of stream
 * (close_notify for OpenSSL, a FIN otherwise). */
static void send_file(const struct scheme *s, int fd, SSL *ssl, int ffd,
		      size_t len)
{
	static unsigned char buf[CHUNK];
	unsigned char *map;
	off_t off = 0;
	ssize_t n;
	size_t got;

	switch (s->send) {
	case S_SSL_WRITE:
		while ((got = read_chunk(ffd, buf)))
			ssl_write_all(ssl, buf, got);
		break;
	case S_SSL_MMAP:
		map = mmap(NULL, len, PROT_READ, MAP_SHARED, ffd, 0);
		if (map == MAP_FAILED)
			fail("mmap(file): %s", strerror(errno));
		for (got = 0; got < len; got += n) {
			n = len - got < CHUNK ? len - got : CHUNK;
			ssl_write_all(ssl, map + got, n);
		}
		munmap(map, len);
		break;
	case S_WRITE:
		while ((got = read_chunk(ffd, buf)))
			write_all(fd, buf, got);
		break;
	case S_SENDFILE:
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
	if (ssl) {
		if (SSL_shutdown(ssl) < 0)
			fail("SSL_shutdown");
	} else if (shutdown(fd, SHUT_WR)) {
		fail("shutdown: %s", strerror(errno));
	}
}

/* sendfile_chunk(): len bytes of the file from off, all of them. */
static void sendfile_chunk(int fd, int ffd, off_t off, size_t len)
{
	off_t end = off + len;
	ssize_t n;

	while (off < end) {
		n = sendfile(fd, ffd, &off, end - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("sendfile at %lld: %s", (long long)off,
			     n ? strerror(errno) : "returned 0");
	}
}

/* Receiving --------------------------------------------------------------- */

/* Where we are in the stream of TLS records going by. */
struct rec_walk {
	const struct cipher *c;
	unsigned char hdr[TLS_HDR];
	unsigned int hdr_got;	/* header bytes seen of the next record */
	size_t left;		/* body bytes still to skip */
	size_t payload;		/* the current record's plaintext */
};

/*
 * walk_records(): follow the record headers in b[0..n) and count the
 * records that ended there and their payload into r; bodies are
 * skipped, not decrypted. Fails on anything but application_data
 * records of a sane length.
 */
static void walk_records(struct rec_walk *w, const unsigned char *b,
			 size_t n, struct result *r)
{
	const unsigned int extra = w->c->rec_extra;
	size_t k, len;

	while (n) {
		if (w->left) {
			k = n < w->left ? n : w->left;
			w->left -= k;
			b += k;
			n -= k;
			if (!w->left) {
				r->records++;
				r->payload += w->payload;
			}
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
		w->payload = len - extra;
	}
}

/*
 * recv_some(): one read the end's way, into buf; counts into r; returns
 * the plaintext bytes it yielded (for R_WALK: 0 or more, the payload of
 * the records it completed) or -1 at the end of the stream.
 */
static ssize_t recv_some(enum recv_how how, int fd, SSL *ssl,
			 struct rec_walk *w, unsigned char *buf, size_t len,
			 struct result *r)
{
	unsigned long long before = r->payload;
	ssize_t n;

	if (how == R_SSL) {
		n = SSL_read(ssl, buf, len);
		if (n > 0) {
			r->payload += n;
			r->records++;	/* one record at a time */
			return n;
		}
		if (SSL_get_error(ssl, n) != SSL_ERROR_ZERO_RETURN)
			fail("SSL_read: SSL error %d", SSL_get_error(ssl, n));
		return -1;
	}
	do
		n = recv(fd, buf, len, how == R_TRUNC ? MSG_TRUNC : 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail("recv: %s", strerror(errno));
	if (!n) {
		if (w && (w->hdr_got || w->left))
			fail("the stream ended inside a record");
		return -1;
	}
	r->bytes += n;
	if (how == R_READ || how == R_TRUNC) {
		r->payload += n;
		return n;
	}
	walk_records(w, buf, n, r);
	return r->payload - before;
}

/* recv_stream(): the whole stream the end's way, discarding it. */
static void recv_stream(const struct opts *o, int fd, SSL *ssl,
			struct result *r)
{
	static unsigned char buf[RX_BUF];
	struct rec_walk w = { .c = o->cipher };

	while (recv_some(o->scheme->recv, fd, ssl, &w, buf, sizeof(buf),
			 r) >= 0)
		;
	if (ssl)
		r->bytes = BIO_number_read(SSL_get_rbio(ssl));
}

/* Request/response ---------------------------------------------------------- */

/* rr_recv(): exactly one message of o->msg bytes; 0 at end of stream. */
static int rr_recv(const struct opts *o, int fd, SSL *ssl,
		   struct rec_walk *w, unsigned char *buf, struct result *r)
{
	size_t got = 0;
	ssize_t n;

	while (got < o->msg) {
		/* R_WALK: raw bytes hold more than their payload */
		n = recv_some(o->scheme->recv, fd, ssl, w, buf,
			      o->scheme->recv == R_WALK ? RX_BUF : o->msg - got,
			      r);
		if (n < 0) {
			if (got)
				fail("the stream ended inside a message");
			return 0;
		}
		got += n;
	}
	if (got != o->msg)
		fail("a message of %zu bytes, expected %zu", got, o->msg);
	return 1;
}

static void rr_send(int fd, SSL *ssl, const unsigned char *buf, size_t len)
{
	if (ssl)
		ssl_write_all(ssl, buf, len);
	else
		write_all(fd, buf, len);
}

/* rr_client(): COUNT round trips, then the end of the stream. */
static void rr_client(const struct opts *o, int fd, SSL *ssl,
		      struct result *r)
{
	static unsigned char buf[RX_BUF];
	static unsigned char msg[RX_BUF];
	struct rec_walk w = { .c = o->cipher };
	unsigned long i;

	memset(msg, 'q', o->msg);
	for (i = 0; i < o->count; i++) {
		rr_send(fd, ssl, msg, o->msg);
		if (!rr_recv(o, fd, ssl, &w, buf, r))
			fail("the server closed after %lu round trips", i);
	}
	if (ssl)
		SSL_shutdown(ssl);
	else if (shutdown(fd, SHUT_WR))
		fail("shutdown: %s", strerror(errno));
}

/* rr_server(): answer each message with one of the same size. */
static void rr_server(const struct opts *o, int fd, SSL *ssl)
{
	static unsigned char buf[RX_BUF];
	static unsigned char msg[RX_BUF];
	struct rec_walk w = { .c = o->cipher };
	struct result r = { 0 };
	unsigned long n = 0;

	memset(msg, 'a', o->msg);
	while (rr_recv(o, fd, ssl, &w, buf, &r)) {
		rr_send(fd, ssl, msg, o->msg);
		n++;
	}
	if (n != o->count)
		fail("%lu requests, expected %lu", n, o->count);
}

/* Setting up both ends ---------------------------------------------------- */

/*
 * setup(): the handshake or the fixed keys for this end of the
 * connection. The parent sends the stream (TX key SEED_C2S) or serves
 * requests; the child receives or asks.
 */
static SSL *setup(const struct opts *o, int fd, int parent)
{
	const struct scheme *s = o->scheme;
	const struct cipher *c = o->cipher;
	int rr = s->kind == RR, one = 1;

	/* No Nagle: a small write after the handshake's last flight would
	 * wait for a delayed ACK (40 ms of idle guest). */
	if (setsockopt(fd, SOL_TCP, TCP_NODELAY, &one, sizeof(one)))
		fail("TCP_NODELAY: %s", strerror(errno));
	if (s->ossl && parent && s->ossl_ktls_tx) {
		long long before = tls_stat("TlsTxSw");
		SSL *ssl = ossl_open(o, fd, 1, 1);

		if (tls_stat("TlsTxSw") <= before)
			fail("TlsTxSw did not go up: OpenSSL's kTLS TX is not ours");
		return ssl;
	}
	if (s->ossl)
		return ossl_open(o, fd, parent, 0);
	if (s->ktls_tx && (parent || rr))
		ktls_key(c, fd, TLS_TX, parent ? SEED_C2S : SEED_S2C, 1);
	if (s->ktls_rx && (!parent || rr))
		ktls_key(c, fd, TLS_RX, parent ? SEED_S2C : SEED_C2S, 1);
	return NULL;
}

/* Parent and child ---------------------------------------------------------- */

struct pipes {
	int ready[2];	/* child -> parent: its setup, then its start, done */
	int go[2];	/* parent -> child: start */
	int res[2];	/* child -> parent: its struct result */
	int credit[2];	/* child -> parent, -N: SCALE_BATCH chunks read */
};

/* report(): the bench line(s) and the info line, from the measured end. */
static void report(const struct opts *o, size_t file_len,
		   const struct result *m, const struct result *peer,
		   const struct result *rx)
{
	const char *cn = o->cipher ? o->cipher->name : "n/a";
	const char *sn = o->scheme->name;
	double unit, size;
	char aead[32] = "-";

	if (o->scheme->kind == RR) {
		unit = o->count;
		size = o->msg;
	} else {
		unit = file_len / MIB;
		size = unit;
	}
	if (m->profiled && m->prof.samples)
		snprintf(aead, sizeof(aead), "%.0f", (double)m->cpu_ns *
			 m->prof.crypto / m->prof.samples / unit);
	printf("bench %s %s %g %.0f %.0f %s\n", sn, cn, size,
	       m->cpu_ns / unit, m->mono_ns / unit, aead);
	/* the receiver of this TX run is an RX scheme of its own */
	if (o->scheme->rx_name)
		printf("bench %s %s %g %.0f %.0f -\n", o->scheme->rx_name, cn,
		       size, rx->cpu_ns / unit, m->mono_ns / unit);
	printf("info %s %s measured_cpu_ns=%llu peer_cpu_ns=%llu "
	       "guest_ns=%llu idle_ticks=%llu clk_tck=%ld wire_bytes=%llu "
	       "payload=%llu records=%llu samples=%llu kernel=%llu "
	       "crypto=%llu lost=%llu cpus=%d,%d/%ld\n", sn, cn, m->cpu_ns,
	       peer->cpu_ns, m->mono_ns, m->idle_ticks, sysconf(_SC_CLK_TCK),
	       rx->bytes, rx->payload, rx->records, m->prof.samples,
	       m->prof.kernel, m->prof.crypto, m->prof.lost, SENDER_CPU,
	       o->receiver_cpu, sysconf(_SC_NPROCESSORS_ONLN));
}

/* check_rx(): did the stream arrive whole, in records if TLS? */
static void check_rx(const struct opts *o, const struct result *r,
		     size_t len)
{
	if (o->scheme->kind == RR)
		return;		/* both ends counted their messages */
	if (r->payload != len)
		fail("the receiver got %llu bytes of payload, sent %zu",
		     r->payload, len);
	if (o->scheme->recv == R_WALK &&
	    r->records < (len + TLS_MAX_PAYLOAD - 1) / TLS_MAX_PAYLOAD)
		fail("%llu records for %zu bytes", r->records, len);
}

/* read_full(): a whole message from a pipe; 0 if the writer went away. */
static int read_full(int fd, void *buf, size_t len)
{
	return read(fd, buf, len) == (ssize_t)len;
}

/* child_ready(): the child's next step is done, or it failed (n/a?). */
static void child_ready(struct pipes *p)
{
	int status;
	char c;

	if (read_full(p->ready[0], &c, 1))
		return;
	if (waitpid(peer_pid, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	peer_pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NA)
		exit(EXIT_NA);
	fail("the child failed to set up (see its error)");
}

static void parent(const struct opts *o, int lfd, struct pipes *p)
{
	const struct scheme *s = o->scheme;
	struct result me = { 0 }, child;
	struct phase ph;
	struct stat st = { 0 };
	SSL *ssl = NULL;
	int fd, ffd = -1, status;

	role = "parent";
	pin(SENDER_CPU);
	if (s->kind != RR) {
		ffd = open(o->file, O_RDONLY);
		if (ffd < 0 || fstat(ffd, &st))
			fail("%s: %s", o->file, strerror(errno));
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		fail("accept: %s", strerror(errno));
	close(lfd);
	/* Fixed keys: the child's first, so that its n/a is seen as such
	 * (not as our failure on a connection it reset); a handshake needs
	 * both ends at once. */
	if (s->ossl)
		ssl = setup(o, fd, 1);
	child_ready(p);
	if (!s->ossl)
		ssl = setup(o, fd, 1);
	/* Both ends are set up: let the child start its phase, then ours. */
	if (write(p->go[1], "g", 1) != 1)
		fail("write(go pipe): %s", strerror(errno));
	child_ready(p);
	if (s->kind == TX)
		phase_start(o, &ph);
	if (s->kind == RR)
		rr_server(o, fd, ssl);
	else
		send_file(s, fd, ssl, ffd, st.st_size);
	/* Blocking here costs no CPU: the phase ends with the last byte read. */
	if (!read_full(p->res[0], &child, sizeof(child)))
		fail("the child did not report (see its error)");
	if (s->kind == TX)
		phase_stop(o, &ph, &me);

	if (waitpid(peer_pid, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	peer_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child failed (wait status %#x)", status);
	check_rx(o, &child, st.st_size);
	if (s->kind == TX)
		report(o, st.st_size, &me, &child, &child);
	else
		report(o, st.st_size, &child, &me, &child);
	SSL_free(ssl);
	close(fd);
	if (ffd >= 0)
		close(ffd);
}

static void child(const struct opts *o, const struct sockaddr_in *sa,
		  struct pipes *p)
{
	const struct scheme *s = o->scheme;
	struct result r = { 0 };
	struct phase ph;
	SSL *ssl;
	int fd;
	char c;

	role = "child";
	pin(o->receiver_cpu);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		fail("connect: %s", strerror(errno));
	ssl = setup(o, fd, 0);
	/* Set up; when both are, the phase starts: ours before the parent's
	 * (the measured end starts before the other is let go). */
	if (write(p->ready[1], "r", 1) != 1 || !read_full(p->go[0], &c, 1))
		fail("the parent went away");
	if (s->kind != TX)
		phase_start(o, &ph);
	if (write(p->ready[1], "s", 1) != 1)
		fail("the parent went away");
	if (s->kind == RR) {
		rr_client(o, fd, ssl, &r);
	} else {
		r.cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		recv_stream(o, fd, ssl, &r);
		r.cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - r.cpu_ns;
	}
	if (s->kind != TX)
		phase_stop(o, &ph, &r);
	if (write(p->res[1], &r, sizeof(r)) != sizeof(r))
		fail("write(result pipe): %s", strerror(errno));
	SSL_free(ssl);
	close(fd);
}

/* Scale: many connections (-N) ----------------------------------------- */

/* scale_keys(): no Nagle and this end's keys on every connection; the
 * sessions counted once for all. */
static void scale_keys(const struct opts *o, const int *fds, int parent)
{
	const struct scheme *s = o->scheme;
	int dir = parent ? TLS_TX : TLS_RX, one = 1;
	const char *stat = parent ? "TlsTxSw" : "TlsRxSw";
	int keyed = parent ? s->ktls_tx : s->ktls_rx;
	long long before = keyed ? tls_stat(stat) : 0;
	unsigned long i;

	if (before < 0)
		fail("no %s in /proc/net/tls_stat: is kTLS built in?", stat);
	for (i = 0; i < o->conns; i++) {
		if (setsockopt(fds[i], SOL_TCP, TCP_NODELAY, &one, sizeof(one)))
			fail("TCP_NODELAY: %s", strerror(errno));
		if (keyed)
			ktls_key(o->cipher, fds[i], dir, SEED_C2S, 0);
	}
	if (keyed && tls_stat(stat) - before != (long long)o->conns)
		fail("%s went from %lld to %lld for %lu sockets", stat,
		     before, tls_stat(stat), o->conns);
}

/* scale_report(): the "scale" lines, per MiB of data, and an info line. */
static void scale_report(const struct opts *o, const struct result *tx,
			 const struct result *rx)
{
	const struct scheme *s = o->scheme;
	const char *cn = o->cipher ? o->cipher->name : "n/a";
	const char *txn = s->kind == TX ? s->name : s->tx_name;
	const char *rxn = s->kind == TX ? s->rx_name : s->name;
	double unit = o->total / MIB;

	if (txn)
		printf("scale %s %s %lu %.0f %.0f\n", txn, cn, o->conns,
		       tx->cpu_ns / unit, tx->mono_ns / unit);
	printf("scale %s %s %lu %.0f %.0f\n", rxn, cn, o->conns,
	       rx->cpu_ns / unit, rx->mono_ns / unit);
	printf("info %s %s conns=%lu chunk=%zu total=%llu sender_cpu_ns=%llu "
	       "receiver_cpu_ns=%llu sender_guest_ns=%llu "
	       "receiver_guest_ns=%llu idle_ticks=%llu clk_tck=%ld "
	       "cpus=%d,%d/%ld\n", s->name, cn, o->conns, o->chunk,
	       o->total, tx->cpu_ns, rx->cpu_ns, tx->mono_ns, rx->mono_ns,
	       rx->idle_ticks, sysconf(_SC_CLK_TCK), SENDER_CPU,
	       o->receiver_cpu, sysconf(_SC_NPROCESSORS_ONLN));
}

/* scale_parent(): accept, key, and send o->total bytes round-robin. */
static void scale_parent(const struct opts *o, int lfd, struct pipes *p)
{
	unsigned long long i, nchunks = o->total / o->chunk;
	unsigned long credit = SCALE_INFLIGHT;
	struct result me = { 0 }, child;
	unsigned char cb[64];
	struct phase ph;
	struct stat st;
	int *fds, ffd, status;
	off_t off;
	ssize_t n;

	role = "parent";
	pin(SENDER_CPU);
	ffd = open(o->file, O_RDONLY);
	if (ffd < 0 || fstat(ffd, &st))
		fail("%s: %s", o->file, strerror(errno));
	if (st.st_size < (off_t)o->chunk || st.st_size % o->chunk)
		fail("%s: %lld bytes, not a multiple of the %zu-byte chunk",
		     o->file, (long long)st.st_size, o->chunk);
	fds = calloc(o->conns, sizeof(*fds));
	if (!fds)
		fail("out of memory");
	for (i = 0; i < o->conns; i++) {
		fds[i] = accept(lfd, NULL, NULL);
		if (fds[i] < 0)
			fail("accept %llu of %lu: %s", i, o->conns,
			     strerror(errno));
	}
	close(lfd);
	child_ready(p);		/* its keys first: its n/a is seen as such */
	scale_keys(o, fds, 1);
	if (write(p->go[1], "g", 1) != 1)
		fail("write(go pipe): %s", strerror(errno));
	child_ready(p);
	phase_start(o, &ph);
	for (i = 0; i < nchunks; i++) {
		while (!credit) {
			n = read(p->credit[0], cb, sizeof(cb));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				fail("the child went away (credit pipe)");
			credit += n * SCALE_BATCH;
		}
		off = i * o->chunk % st.st_size;
		sendfile_chunk(fds[i % o->conns], ffd, off, o->chunk);
		credit--;
	}
	if (!read_full(p->res[0], &child, sizeof(child)))
		fail("the child did not report (see its error)");
	phase_stop(o, &ph, &me);
	/* Outside the phase: the FINs, the child's end-of-stream checks. */
	for (i = 0; i < o->conns; i++)
		if (shutdown(fds[i], SHUT_WR))
			fail("shutdown: %s", strerror(errno));
	if (waitpid(peer_pid, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	peer_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child failed (wait status %#x)", status);
	if (child.payload != o->total)
		fail("the receiver got %llu bytes, sent %llu", child.payload,
		     o->total);
	scale_report(o, &me, &child);
	for (i = 0; i < o->conns; i++)
		close(fds[i]);
	free(fds);
	close(ffd);
}

/* scale_wait(): the next batch of ready connections, none on a signal */
static int scale_wait(int ep, struct epoll_event *ev)
{
	int nev = epoll_wait(ep, ev, SCALE_EVENTS, -1);

	if (nev < 0 && errno == EINTR)
		return 0;
	if (nev < 0)
		fail("epoll_wait: %s", strerror(errno));
	return nev;
}

/* scale_recv(): one recv() on connection i, the scheme's way; the bytes,
 * 0 at its end, -1 when it has nothing yet. */
static ssize_t scale_recv(const struct opts *o, int fd, unsigned char *buf)
{
	ssize_t n;

	do
		n = recv(fd, buf, RX_BUF, o->scheme->recv == R_TRUNC ?
			 MSG_TRUNC : 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN)
		fail("recv: %s", strerror(errno));
	return n;
}

/* scale_child(): connect, key, read o->total bytes with epoll, then
 * check that every connection carried its exact share and ended. */
static void scale_child(const struct opts *o, const struct sockaddr_in *sa,
			struct pipes *p)
{
	static unsigned char buf[RX_BUF];
	const unsigned long long nchunks = o->total / o->chunk;
	const unsigned long long batch = (unsigned long long)SCALE_BATCH *
					 o->chunk;
	struct epoll_event ev[SCALE_EVENTS];
	unsigned long long *got, credited = 0, want;
	unsigned long i, open;
	struct result r = { 0 };
	struct phase ph;
	int *fds, ep, k, nev;
	ssize_t n;
	char c;

	role = "child";
	pin(o->receiver_cpu);
	fds = calloc(o->conns, sizeof(*fds));
	got = calloc(o->conns, sizeof(*got));
	ep = epoll_create1(0);
	if (!fds || !got || ep < 0)
		fail("out of memory or epoll: %s", strerror(errno));
	for (i = 0; i < o->conns; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 ||
		    connect(fds[i], (const struct sockaddr *)sa, sizeof(*sa)))
			fail("connect %lu of %lu: %s", i, o->conns,
			     strerror(errno));
	}
	scale_keys(o, fds, 0);
	for (i = 0; i < o->conns; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = i };

		if (fcntl(fds[i], F_SETFL, O_NONBLOCK) ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e))
			fail("O_NONBLOCK, epoll_ctl: %s", strerror(errno));
	}
	if (write(p->ready[1], "r", 1) != 1 || !read_full(p->go[0], &c, 1))
		fail("the parent went away");
	phase_start(o, &ph);
	if (write(p->ready[1], "s", 1) != 1)
		fail("the parent went away");
	while (r.payload < o->total) {
		nev = scale_wait(ep, ev);
		for (k = 0; k < nev; k++) {
			i = ev[k].data.u64;
			n = scale_recv(o, fds[i], buf);
			if (!n)
				fail("connection %lu ended after %llu bytes",
				     i, got[i]);
			if (n < 0)
				continue;
			got[i] += n;
			r.payload += n;
		}
		/* a credit byte per SCALE_BATCH chunks read, all told */
		while (r.payload - credited >= batch) {
			if (write(p->credit[1], "c", 1) != 1)
				fail("write(credit pipe): %s", strerror(errno));
			credited += batch;
		}
	}
	phase_stop(o, &ph, &r);
	r.bytes = r.payload;
	if (write(p->res[1], &r, sizeof(r)) != sizeof(r))
		fail("write(result pipe): %s", strerror(errno));
	/* Outside the phase: each connection's end, and its share (chunk
	 * j went on connection j mod conns). */
	for (open = o->conns; open; ) {
		nev = scale_wait(ep, ev);
		for (k = 0; k < nev; k++) {
			i = ev[k].data.u64;
			n = scale_recv(o, fds[i], buf);
			if (n > 0)
				fail("connection %lu: %zd bytes more", i, n);
			if (n < 0)
				continue;
			if (epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL))
				fail("epoll_ctl: %s", strerror(errno));
			close(fds[i]);
			open--;
		}
	}
	for (i = 0; i < o->conns; i++) {
		want = (nchunks / o->conns + (i < nchunks % o->conns)) *
		       o->chunk;
		if (got[i] != want)
			fail("connection %lu carried %llu bytes, not %llu", i,
			     got[i], want);
	}
	free(fds);
	free(got);
	close(ep);
}

/* main -------------------------------------------------------------------- */

static void __attribute__((noreturn)) usage(void)
{
	size_t i;

	fprintf(stderr,
		"usage: ktls-bench -s SCHEME -c CIPHER [-f FILE] [-m SIZE -n COUNT]\n"
		"                  [-C CERT -K KEY] [-S CRYPTO_RANGES] [-p CPU] [-t SECONDS]\n"
		"                  [-N CONNS [-M MIB] [-B BYTES]]\n"
		"  -f     the file to send (TX, RX schemes)\n"
		"  -m/-n  message size and round trips (rr-* schemes)\n"
		"  -C/-K  PEM certificate and key: OpenSSL schemes\n"
		"  -S     sample the measured process, count the kernel's crypto\n"
		"  -p     the child's CPU (default 1; the parent's is 0)\n"
		"  -t     timeout per process (default 1800)\n"
		"  -N     scale: CONNS connections (tcp-sendfile, ktls-read,\n"
		"         tcp-discard), -M MIB of data (default: the file's\n"
		"         size) in chunks of -B BYTES (default 65536)\n"
		"schemes:");
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		fprintf(stderr, " %s", schemes[i].name);
	fprintf(stderr, "\nciphers (n/a without TLS):");
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

	unsigned long long mib = 0;
	struct stat st;

	*o = (struct opts){ .receiver_cpu = 1, .timeout = 1800,
			    .chunk = SCALE_CHUNK };
	while ((c = getopt(argc, argv, "s:c:f:m:n:C:K:S:p:t:N:M:B:")) != -1) {
		switch (c) {
		case 's': sname = optarg; break;
		case 'c': cname = optarg; break;
		case 'f': o->file = optarg; break;
		case 'm': o->msg = strtoul(optarg, NULL, 0); break;
		case 'n': o->count = strtoul(optarg, NULL, 0); break;
		case 'C': o->cert = optarg; break;
		case 'K': o->key = optarg; break;
		case 'S': o->syms = optarg; break;
		case 'p': o->receiver_cpu = atoi(optarg); break;
		case 't': o->timeout = strtoul(optarg, NULL, 0); break;
		case 'N': o->conns = strtoul(optarg, NULL, 0); break;
		case 'M': mib = strtoull(optarg, NULL, 0); break;
		case 'B': o->chunk = strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (!sname || !cname || optind != argc)
		usage();
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strcmp(sname, schemes[i].name))
			o->scheme = &schemes[i];
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
		if (!strcmp(cname, ciphers[i].name))
			o->cipher = &ciphers[i];
	if (!o->scheme || (o->scheme->tls ? !o->cipher : strcmp(cname, "n/a")))
		usage();
	if (o->scheme->kind == RR ?
	    !o->msg || o->msg > RX_BUF || !o->count : !o->file)
		usage();
	if (o->scheme->ossl && (!o->cert || !o->key))
		usage();
	if (!o->conns)
		return;
	/* -N: a sendfile() sender without OpenSSL, whole records per chunk,
	 * at least one chunk per connection */
	if (o->scheme->kind == RR || o->scheme->ossl ||
	    o->scheme->send != S_SENDFILE || !o->chunk ||
	    o->chunk % TLS_MAX_PAYLOAD || o->syms)
		usage();
	if (stat(o->file, &st))
		fail("%s: %s", o->file, strerror(errno));
	o->total = mib ? mib << 20 : (unsigned long long)st.st_size;
	if (o->total % o->chunk || o->total / o->chunk < o->conns)
		fail("%llu bytes: not whole %zu-byte chunks, at least one per "
		     "connection (%lu)", o->total, o->chunk, o->conns);
}

/* raise_nofile(): room for n more descriptors than the few we hold. */
static void raise_nofile(unsigned long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		fail("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= n + 64)
		return;
	rl.rlim_cur = n + 64;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		fail("setrlimit(RLIMIT_NOFILE, %lu): %s", n + 64,
		     strerror(errno));
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct pipes p;
	struct opts o;
	int lfd;

	parse(argc, argv, &o);
	if (o.conns)
		raise_nofile(o.conns);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);

	/* Listening before the fork: the child cannot connect too early. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, o.conns > 1 ? (int)o.conns : 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen))
		fail("listen on loopback: %s", strerror(errno));
	if (pipe(p.ready) || pipe(p.go) || pipe(p.res) || pipe(p.credit))
		fail("pipe: %s", strerror(errno));

	fflush(stdout);
	peer_pid = fork();
	if (peer_pid < 0)
		fail("fork: %s", strerror(errno));
	alarm(o.timeout);	/* per process: alarms are not inherited */
	if (!peer_pid) {
		close(lfd);
		close(p.ready[0]);
		close(p.go[1]);
		close(p.res[0]);
		close(p.credit[0]);
		if (o.conns)
			scale_child(&o, &sa, &p);
		else
			child(&o, &sa, &p);
		return 0;
	}
	close(p.ready[1]);
	close(p.go[0]);
	close(p.res[1]);
	close(p.credit[1]);
	if (o.conns)
		scale_parent(&o, lfd, &p);
	else
		parent(&o, lfd, &p);
	return 0;
}
