// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-kcm-bench: the KTLS paper's Figure 3, a request/response service
 * over TLS whose latency distribution is measured in three designs:
 *
 *   ossl-pool    user-space OpenSSL (kTLS off on the server). W worker
 *                threads share one epoll set of the connections
 *                (EPOLLONESHOT): a worker that finds a connection readable
 *                drains it with SSL_read(), cuts the plaintext into frames
 *                and queues them; any worker takes a queued request, does
 *                its work and answers with SSL_write() under the
 *                connection's lock (an SSL object is not for two threads
 *                at once).
 *   ktls-thread  kTLS on the server (TLS_TX and TLS_RX set by OpenSSL
 *                after the handshake): one thread per connection, which
 *                read()s, cuts frames and answers each with one write().
 *   ktls-kcm     kTLS + KCM: the server's kTLS sockets are attached to
 *                one KCM multiplexor with a BPF length-prefix parser; W
 *                worker threads each own one KCM socket, recv() a whole
 *                request from it and send() the response on it.
 *
 * The protocol, and why a response may come back on another connection:
 * a message sent on a KCM socket leaves on whichever attached TCP socket
 * (psock) KCM reserves for it, not on the one the request came in on. So
 * the client is one peer with C connections to the server, as a backend
 * RPC client over KCM is: every request carries an id, and a response
 * is accepted on any of the client's connections and matched to its
 * request by that id. The client is the same program in all three
 * designs (only the server changes), and in the two designs without KCM
 * the responses happen to come back on the request's own connection.
 * One multiplexor per connection would keep responses on their
 * connection but would give each connection its own workers, which is
 * not the design the paper measured.
 *
 * Frames (requests, responses, stops): a 4-byte big-endian length of what
 * follows, then the kind ("REQ1", "RSP1", "STOP"), the request id and an
 * argument (a request's work, a response's result), 4 bytes each, then
 * padding to the frame's size (-q for requests, -r for responses). KCM's
 * BPF program reads the first 4 bytes and adds 4: one frame, one KCM
 * message.
 *
 * Load: closed loop. The client keeps K requests outstanding (-k); each
 * goes to a connection drawn at random (a fixed seed, so every design
 * gets the same sequence of connections and work). A request asks for
 * work units drawn from an exponential distribution of mean -s (capped
 * at 20 times the mean): the server spins a xorshift that many times, a
 * loop whose instructions per unit the server measures and prints
 * (work_instr_per_unit). When all N requests are answered, the client
 * sends stop frames (one per server thread) and the server's threads end.
 * The first -u requests (warm-up) are served but not counted in the
 * latency distribution.
 *
 * KCM gives each message to the next KCM socket, in turn, that has room
 * in its receive buffer, busy worker or not; with -b the KCM sockets'
 * SO_RCVBUF is set, and a small one (-b 1: the kernel's minimum) holds a
 * message or two, so that messages wait in the multiplexor for a worker
 * that is free. The default leaves the buffers as the kernel makes them.
 *
 * Processes: the parent is the server, pinned to CPU 0 with all its
 * threads; the child is the client, pinned to -p CPU (1 by default, the
 * other vCPU). Every connection starts with an OpenSSL handshake (TLS
 * 1.2, ECDHE-ECDSA-AES128-GCM-SHA256, which OpenSSL 3.0 hands to kTLS
 * both ways; the server's P-256 key and self-signed certificate are made
 * in memory at start). The client always lets OpenSSL turn kTLS on and
 * then uses read()/write(), so its cost is the same whichever server
 * design runs; the server checks /proc/net/tls_stat for the kTLS sockets
 * the design must have made.
 *
 * Measured, under QEMU's icount (guest ns = instructions, see
 * scripts/bench-kcm.sh): latency, the client's CLOCK_MONOTONIC from just
 * before the request's write() to the read() that returned its response;
 * the server's CPU time (getrusage(RUSAGE_SELF), all its threads) over
 * the phase from "go" to its last thread's end, per request; the guest's
 * elapsed time over the client's phase per request (all CPUs' work while
 * none is idle: kworkers, softirqs, client and server alike); the
 * client's CPU time per request. Output:
 *
 *   bench DESIGN TAG N P50 P99 P999 MAX MEAN SERVER_CPU GUEST CLIENT_CPU
 *     latencies in ns (instructions), over the N - warm-up counted ones;
 *     the last three per request
 *   ccdf DESIGN TAG FRACTION LATENCY
 *     the latency distribution: FRACTION of the requests took LATENCY or
 *     more (about 50 points a decade, down to one request)
 *   info DESIGN TAG key=value...
 *
 * Exit 0 when every request got its response, whole; 3 ("n/a: ..." on
 * stderr) when the kernel cannot run the design: KCM refused the kTLS
 * socket, delivered something that is not a request (the base kernel
 * frames the decrypted stream from the wrong byte), or stopped a psock
 * (SO_ERROR on its TCP socket) or went silent; otherwise 1, with an
 * "error:" line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/kcm.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../interop/common.h"

#ifndef AF_KCM
#define AF_KCM 41
#endif

#define CIPHER "ECDHE-ECDSA-AES128-GCM-SHA256"
#define HDR 16			/* length, kind, id, argument */
#define FRAME_MAX 16384		/* the largest frame either way */
#define RXBUF (4 * FRAME_MAX)	/* a byte stream's reassembly buffer */
#define KIND_REQ 0x52455131u	/* "REQ1" */
#define KIND_RSP 0x52535031u	/* "RSP1" */
#define KIND_STOP 0x53544f50u	/* "STOP" */
#define EXIT_NA 3
#define SERVER_CPU 0
#define QUEUE_TAG UINT32_MAX	/* ossl-pool: the queue's eventfd in epoll */
#define STALL_S 20		/* seconds without a request served */
#define WORK_CAP 20		/* work is capped at this many times the mean */

enum design { OSSL_POOL, KTLS_THREAD, KTLS_KCM };
static const char *const design_names[] = { "ossl-pool", "ktls-thread",
					    "ktls-kcm" };

struct opts {
	enum design design;
	unsigned int workers;		/* -w: W */
	unsigned int conns;		/* -c: C */
	unsigned int depth;		/* -k: requests outstanding */
	unsigned long requests;		/* -n */
	unsigned long warmup;		/* -u */
	unsigned int req_len, rsp_len;	/* -q, -r: frame sizes */
	unsigned int work_mean;		/* -s: work units */
	int kcm_rcvbuf;			/* -b: SO_RCVBUF of the KCM sockets */
	const char *tag;		/* -T: echoed in the output lines */
	int client_cpu;			/* -p */
	unsigned int timeout;		/* -t: seconds, each process */
};

/* A frame's header, decoded. */
struct frame {
	uint32_t len;		/* the whole frame */
	uint32_t kind, id, arg;
};

/* ---- failing ------------------------------------------------------------ */

static char role[16] = "ktls-kcm-bench";
static char alarm_msg[64];	/* what SIGALRM prints: no stdio there */
static pid_t peer;		/* the client, as seen from the server */

static void set_role(const char *name)
{
	snprintf(role, sizeof(role), "%s", name);
	snprintf(alarm_msg, sizeof(alarm_msg), "%s: error: timed out\n", name);
}

/*
 * die(): "ROLE: WHAT: message" and OpenSSL's errors on stderr, the peer
 * killed, exit with code. fail() is an error (1), na() a design this
 * kernel cannot run (3). _exit(): other threads may be inside OpenSSL,
 * which atexit handlers would tear down under them.
 */
static void __attribute__((noreturn, format(printf, 3, 4)))
die(int code, const char *what, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: %s: ", role, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	fflush(stderr);
	if (peer > 0)
		kill(peer, SIGKILL);
	_exit(code);
}

#define fail(...) die(1, "error", __VA_ARGS__)
#define na(...) die(EXIT_NA, "n/a", __VA_ARGS__)

static void on_alarm(int sig)
{
	ssize_t n = write(STDERR_FILENO, alarm_msg, strlen(alarm_msg));

	(void)sig;
	(void)n;
	if (peer > 0)
		kill(peer, SIGKILL);
	_exit(1);
}

/* ---- small helpers -------------------------------------------------------- */

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		fail("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* rusage_ns(): this process's user + system time, all threads. */
static uint64_t rusage_ns(uint64_t *user)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		fail("getrusage: %s", strerror(errno));
	*user = ru.ru_utime.tv_sec * 1000000000ull + ru.ru_utime.tv_usec * 1000ull;
	return *user + ru.ru_stime.tv_sec * 1000000000ull +
	       ru.ru_stime.tv_usec * 1000ull;
}

/* idle_ticks(): idle + iowait of all CPUs (/proc/stat, USER_HZ). */
static unsigned long long idle_ticks(void)
{
	unsigned long long u, n, s, idle, wait;
	FILE *f = fopen("/proc/stat", "r");
	int got;

	if (!f)
		fail("/proc/stat: %s", strerror(errno));
	got = fscanf(f, "cpu %llu %llu %llu %llu %llu", &u, &n, &s, &idle,
		     &wait);
	fclose(f);
	if (got != 5)
		fail("/proc/stat: no cpu line");
	return idle + wait;
}

/* pin(): this process, and the threads it makes later, on one CPU */
static void pin(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (!sched_setaffinity(0, sizeof(one), &one))
		return;
	fail("cannot pin to CPU %d of %ld: %s", cpu,
	     sysconf(_SC_NPROCESSORS_ONLN), strerror(errno));
}

static void *zalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		fail("out of memory");
	return p;
}

/* frame_put(): a frame's header at p; its padding is the caller's. */
static void frame_put(unsigned char *p, const struct frame *f)
{
	uint32_t w[4] = { htonl(f->len - 4), htonl(f->kind), htonl(f->id),
			  htonl(f->arg) };

	memcpy(p, w, HDR);
}

static void frame_get(const unsigned char *p, struct frame *f)
{
	uint32_t w[4];

	memcpy(w, p, HDR);
	*f = (struct frame){ ntohl(w[0]) + 4, ntohl(w[1]), ntohl(w[2]),
			     ntohl(w[3]) };
}

/* frame_len(): the length of the frame that starts at p (4 bytes there) */
static size_t frame_len(const unsigned char *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return (size_t)ntohl(w) + 4;
}

/* pad(): a frame's bytes after its header, the same in every design. */
static void pad(unsigned char *p, size_t len, unsigned char seed)
{
	size_t i;

	for (i = HDR; i < len; i++)
		p[i] = seed ^ (unsigned char)(i * 29);
}

/*
 * A byte stream cut into frames: bytes arrive at p + have; frame_next()
 * gives the length of the whole frame at p + off, or 0 while it is not
 * all there.
 */
struct stream {
	unsigned char *p;
	size_t off, have;
};

static size_t frame_next(const struct stream *s)
{
	size_t left = s->have - s->off, len;

	if (left < 4)
		return 0;
	len = frame_len(s->p + s->off);
	if (len < HDR || len > FRAME_MAX)
		fail("a frame of %zu bytes in the stream: framing lost", len);
	return left < len ? 0 : len;
}

/* stream_compact(): move the unused bytes to the front; room after them. */
static size_t stream_compact(struct stream *s)
{
	memmove(s->p, s->p + s->off, s->have - s->off);
	s->have -= s->off;
	s->off = 0;
	return RXBUF - s->have;
}

/* write_full(): all of buf, over short writes and signals */
static void write_full(int fd, const void *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = write(fd, (const char *)buf + off, len - off);
		if (n > 0)
			off += n;
		else if (n == 0 || errno != EINTR)
			fail("write: %s", n ? strerror(errno) : "wrote nothing");
	}
}

static void set_nodelay(int fd)
{
	int one = 1;

	/* a small write after the handshake must not wait for an ACK */
	if (setsockopt(fd, SOL_TCP, TCP_NODELAY, &one, sizeof(one)))
		fail("TCP_NODELAY: %s", strerror(errno));
}

/* ---- the work a request asks for ----------------------------------------- */

/* spin(): units steps of a xorshift; what it returns goes back in the
 * response, so the compiler cannot drop the loop. */
static uint32_t spin(uint32_t units, uint32_t x)
{
	x |= 1;
	while (units--) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
	}
	return x;
}

/* A splitmix64 generator: the client's connections and work. */
static uint64_t rnd(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t draw_work(uint64_t *state, unsigned int mean)
{
	double u = (rnd(state) >> 11) * (1.0 / 9007199254740992.0);
	double w = -log1p(-u) * mean;

	return w > (double)WORK_CAP * mean ? WORK_CAP * mean : (uint32_t)w;
}

/* ---- OpenSSL -------------------------------------------------------------- */

/* The server's key and certificate, made in memory (the client checks
 * nothing: the handshake only has to give both ends the same keys). */
struct identity {
	EVP_PKEY *key;
	X509 *cert;
};

static void make_identity(struct identity *id)
{
	X509_NAME *name;

	id->key = EVP_EC_gen("P-256");
	id->cert = X509_new();
	if (!id->key || !id->cert)
		fail("P-256 key generation");
	name = X509_get_subject_name(id->cert);
	if (!X509_set_version(id->cert, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(id->cert), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(id->cert), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(id->cert), 2 * 86400) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"localhost",
					-1, -1, 0) ||
	    !X509_set_issuer_name(id->cert, name) ||
	    !X509_set_pubkey(id->cert, id->key) ||
	    !X509_sign(id->cert, id->key, EVP_sha256()))
		fail("a self-signed certificate");
}

/* handshake(): the server's end when id is given, else the client's. */
static SSL *handshake(int fd, const struct identity *id, int ktls)
{
	SSL_CTX *ctx = SSL_CTX_new(id ? TLS_server_method() :
				   TLS_client_method());
	SSL *ssl;
	int ret;

	if (!ctx)
		fail("SSL_CTX_new");
	if (ossl_pin(ctx, TLS1_2_VERSION, CIPHER))
		fail("OpenSSL refused TLS 1.2 with %s", CIPHER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (ktls)
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	else
		SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
	if (id && (SSL_CTX_use_certificate(ctx, id->cert) != 1 ||
		   SSL_CTX_use_PrivateKey(ctx, id->key) != 1))
		fail("SSL_CTX_use_certificate/PrivateKey");
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd))
		fail("SSL_new");
	ret = id ? SSL_accept(ssl) : SSL_connect(ssl);
	if (ret != 1)
		fail("handshake: SSL error %d", SSL_get_error(ssl, ret));
	if (ktls != BIO_get_ktls_send(SSL_get_wbio(ssl)) ||
	    ktls != BIO_get_ktls_recv(SSL_get_rbio(ssl)))
		fail("kTLS %s after the handshake, wanted %s both ways",
		     BIO_get_ktls_send(SSL_get_wbio(ssl)) ? "TX on" : "TX off",
		     ktls ? "on" : "off");
	return ssl;
}

/* ---- the server ------------------------------------------------------------- */

/* ossl-pool: a request waiting for a worker. */
struct job {
	unsigned int conn;
	struct frame f;
};

struct conn {
	int fd;
	SSL *ssl;
	pthread_mutex_t lock;	/* ossl-pool: the SSL object */
	struct stream rx;
};

struct server {
	const struct opts *o;
	struct conn *c;
	unsigned int threads;
	pthread_t *tid;
	int *kcm;		/* ktls-kcm: one KCM socket per worker */
	int ep, qfd;		/* ossl-pool: epoll set, queue's eventfd */
	pthread_mutex_t qlock;
	struct job *q;
	size_t qhead, qtail, qcap;
	int done_fd;		/* an eventfd: a thread ended */
	unsigned long served;	/* atomic */
	unsigned int ended;	/* atomic */
};

/* A server thread: which connection (ktls-thread) or KCM socket. */
struct worker {
	struct server *s;
	unsigned int idx;
};

/* answer(): a request's work and its response into out; the length. */
static size_t answer(const struct opts *o, const struct frame *req,
		     unsigned char *out)
{
	struct frame f = { o->rsp_len, KIND_RSP, req->id, 0 };

	if (req->kind != KIND_REQ || req->len != o->req_len ||
	    req->id >= o->requests)
		fail("a bad request: kind %#x, %u bytes, id %u", req->kind,
		     req->len, req->id);
	f.arg = spin(req->arg, req->id);
	frame_put(out, &f);
	return f.len;
}

static void served_one(struct server *s)
{
	__atomic_add_fetch(&s->served, 1, __ATOMIC_RELAXED);
}

/* ktls-thread: one connection, read() and write() on kTLS. */
static void serve_conn(struct server *s, unsigned int idx, unsigned char *out)
{
	struct conn *c = &s->c[idx];
	struct frame f;
	size_t len, room = RXBUF;
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->rx.p + c->rx.have, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("connection %u: %s before its stop frame", idx,
			     n ? strerror(errno) : "end of stream");
		c->rx.have += n;
		while ((len = frame_next(&c->rx))) {
			frame_get(c->rx.p + c->rx.off, &f);
			c->rx.off += len;
			if (f.kind == KIND_STOP)
				return;
			write_full(c->fd, out, answer(s->o, &f, out));
			served_one(s);
		}
		room = stream_compact(&c->rx);
	}
}

/* ossl-pool: the queue of parsed requests, counted by the eventfd. */
static void queue_push(struct server *s, unsigned int conn,
		       const struct frame *f)
{
	pthread_mutex_lock(&s->qlock);
	if (s->qtail - s->qhead == s->qcap)
		fail("the request queue is full (%zu)", s->qcap);
	s->q[s->qtail++ % s->qcap] = (struct job){ conn, *f };
	pthread_mutex_unlock(&s->qlock);
}

static struct job queue_pop(struct server *s)
{
	struct job j;

	pthread_mutex_lock(&s->qlock);
	if (s->qhead == s->qtail)
		fail("the request queue is empty: eventfd out of step");
	j = s->q[s->qhead++ % s->qcap];
	pthread_mutex_unlock(&s->qlock);
	return j;
}

/*
 * ossl_drain(): everything readable on a connection, through SSL_read(),
 * cut into frames and queued; the caller holds the connection's lock.
 * Returns the number of frames queued.
 */
static uint64_t ossl_drain(struct server *s, unsigned int idx)
{
	struct conn *c = &s->c[idx];
	size_t len, room = RXBUF - c->rx.have;
	uint64_t queued = 0;
	struct frame f;
	int n;

	for (;;) {
		n = SSL_read(c->ssl, c->rx.p + c->rx.have, room);
		if (n <= 0) {
			if (SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_READ)
				return queued;
			fail("connection %u: SSL_read: SSL error %d", idx,
			     SSL_get_error(c->ssl, n));
		}
		c->rx.have += n;
		while ((len = frame_next(&c->rx))) {
			frame_get(c->rx.p + c->rx.off, &f);
			c->rx.off += len;
			queue_push(s, idx, &f);
			queued++;
		}
		room = stream_compact(&c->rx);
	}
}

static void ossl_send(struct conn *c, const unsigned char *p, size_t len)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	int n;

	for (;;) {
		n = SSL_write(c->ssl, p, len);
		if (n == (int)len)
			return;
		if (n > 0 || SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_WRITE)
			fail("SSL_write: %d, SSL error %d", n,
			     SSL_get_error(c->ssl, n));
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			fail("poll: %s", strerror(errno));
	}
}

static void rearm(struct server *s, unsigned int idx)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
				  .data.u32 = idx };

	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, s->c[idx].fd, &ev))
		fail("EPOLL_CTL_MOD: %s", strerror(errno));
}

/* ossl-pool: a worker of the pool; see the header comment. */
static void serve_pool(struct server *s, unsigned char *out)
{
	struct epoll_event ev;
	struct conn *c;
	struct job j;
	uint64_t v;
	size_t len;
	int n;

	for (;;) {
		n = epoll_wait(s->ep, &ev, 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			fail("epoll_wait: %s", strerror(errno));
		if (ev.data.u32 != QUEUE_TAG) {
			c = &s->c[ev.data.u32];
			pthread_mutex_lock(&c->lock);
			v = ossl_drain(s, ev.data.u32);
			pthread_mutex_unlock(&c->lock);
			rearm(s, ev.data.u32);
			if (v && write(s->qfd, &v, sizeof(v)) != sizeof(v))
				fail("eventfd: %s", strerror(errno));
			continue;
		}
		/* one request each; EAGAIN: another worker took it */
		if (read(s->qfd, &v, sizeof(v)) != sizeof(v))
			continue;
		j = queue_pop(s);
		if (j.f.kind == KIND_STOP)
			return;
		len = answer(s->o, &j.f, out);
		c = &s->c[j.conn];
		pthread_mutex_lock(&c->lock);
		ossl_send(c, out, len);
		pthread_mutex_unlock(&c->lock);
		served_one(s);
	}
}

/* ktls-kcm: a worker on its own KCM socket. */
static void serve_kcm(struct server *s, unsigned int idx, unsigned char *out)
{
	int fd = s->kcm[idx];
	unsigned char *in = zalloc(FRAME_MAX);
	struct frame f;
	size_t len;
	ssize_t n;

	for (;;) {
		n = recv(fd, in, FRAME_MAX, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			na("recv on KCM socket %u: %s", idx, strerror(errno));
		if (n >= HDR)
			frame_get(in, &f);
		/* a message is one whole frame, or KCM framed it wrongly */
		if (n < HDR || f.len != (size_t)n ||
		    (f.kind != KIND_REQ && f.kind != KIND_STOP))
			na("KCM socket %u got a message of %zd bytes that is no "
			   "frame (starts %02x %02x %02x %02x %02x %02x): KCM "
			   "framed the decrypted stream from the wrong byte",
			   idx, n, in[0], in[1], in[2], in[3], in[4], in[5]);
		if (f.kind == KIND_STOP)
			break;
		len = answer(s->o, &f, out);
		n = send(fd, out, len, 0);
		if (n != (ssize_t)len)
			fail("send on KCM socket %u: %s", idx,
			     n < 0 ? strerror(errno) : "short");
		served_one(s);
	}
	free(in);
}

/* A server thread: the design's loop until its stop frame, then it says
 * it ended (to watch()). */
static void *server_thread(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->s;
	unsigned char *out = zalloc(FRAME_MAX);	/* the response */
	uint64_t one = 1;

	pad(out, s->o->rsp_len, 0xa5);
	if (s->o->design == OSSL_POOL)
		serve_pool(s, out);
	else if (s->o->design == KTLS_THREAD)
		serve_conn(s, w->idx, out);
	else
		serve_kcm(s, w->idx, out);
	free(out);
	__atomic_add_fetch(&s->ended, 1, __ATOMIC_RELEASE);
	if (write(s->done_fd, &one, sizeof(one)) != sizeof(one))
		fail("eventfd: %s", strerror(errno));
	return NULL;
}

/* The BPF program KCM frames with: a message is the 4-byte big-endian
 * length at its start, plus those 4 bytes. */
static int load_parser(void)
{
	struct bpf_insn prog[] = {
		/* r6 = the skb: the context legacy packet loads read */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 6,
		  .src_reg = 1 },
		/* r0 = ntohl(the word at offset 0 of the message) */
		{ .code = BPF_LD | BPF_ABS | BPF_W, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 0, .imm = 4 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (uintptr_t)prog;
	attr.insn_cnt = sizeof(prog) / sizeof(prog[0]);
	attr.license = (uintptr_t)"GPL";
	return syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

/* kcm_setup(): one multiplexor, every connection attached, W sockets. */
static void kcm_setup(struct server *s)
{
	const struct opts *o = s->o;
	struct kcm_attach at;
	struct kcm_clone cl;
	unsigned int i;
	int prog = load_parser();

	if (prog < 0)
		fail("BPF_PROG_LOAD: %s", strerror(errno));
	s->kcm = zalloc(o->workers * sizeof(*s->kcm));
	s->kcm[0] = socket(AF_KCM, SOCK_DGRAM, KCMPROTO_CONNECTED);
	if (s->kcm[0] < 0)
		na("socket(AF_KCM): %s", strerror(errno));
	for (i = 0; i < o->conns; i++) {
		at = (struct kcm_attach){ .fd = s->c[i].fd, .bpf_fd = prog };
		if (ioctl(s->kcm[0], SIOCKCMATTACH, &at))
			na("SIOCKCMATTACH of kTLS socket %u: %s", i,
			   strerror(errno));
	}
	for (i = 1; i < o->workers; i++) {
		if (ioctl(s->kcm[0], SIOCKCMCLONE, &cl))
			fail("SIOCKCMCLONE: %s", strerror(errno));
		s->kcm[i] = cl.fd;
	}
	for (i = 0; i < o->workers && o->kcm_rcvbuf; i++)
		if (setsockopt(s->kcm[i], SOL_SOCKET, SO_RCVBUF,
			       &o->kcm_rcvbuf, sizeof(o->kcm_rcvbuf)))
			fail("SO_RCVBUF on KCM socket %u: %s", i,
			     strerror(errno));
	close(prog);	/* each psock holds the program */
}

/* ossl_setup(): the epoll set of connections and the request queue. */
static void ossl_setup(struct server *s)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int i;

	s->ep = epoll_create1(0);
	s->qfd = eventfd(0, EFD_NONBLOCK | EFD_SEMAPHORE);
	if (s->ep < 0 || s->qfd < 0)
		fail("epoll/eventfd: %s", strerror(errno));
	ev.data.u32 = QUEUE_TAG;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->qfd, &ev))
		fail("EPOLL_CTL_ADD: %s", strerror(errno));
	for (i = 0; i < s->o->conns; i++) {
		/* SSL_read() must stop when the socket is empty */
		if (fcntl(s->c[i].fd, F_SETFL, O_NONBLOCK))
			fail("O_NONBLOCK: %s", strerror(errno));
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLONESHOT,
					   .data.u32 = i };
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->c[i].fd, &ev))
			fail("EPOLL_CTL_ADD: %s", strerror(errno));
	}
	/* at most K requests and W stops are ever queued */
	s->qcap = s->o->depth + s->o->workers + 1;
	s->q = zalloc(s->qcap * sizeof(*s->q));
	pthread_mutex_init(&s->qlock, NULL);
}

static void start_threads(struct server *s)
{
	struct worker *w;
	unsigned int i;

	s->threads = s->o->design == KTLS_THREAD ? s->o->conns :
		     s->o->workers;
	s->tid = zalloc(s->threads * sizeof(*s->tid));
	w = zalloc(s->threads * sizeof(*w));
	for (i = 0; i < s->threads; i++) {
		w[i] = (struct worker){ s, i };
		if (pthread_create(&s->tid[i], NULL, server_thread, &w[i]))
			fail("pthread_create");
	}
}

/* ---- parent and child ----------------------------------------------------- */

struct pipes {
	int up[2];	/* client -> server: ready, then its result */
	int down[2];	/* server -> client: go, then exit */
};

/* What the client measured, sent up when it is done. */
struct client_result {
	uint64_t n;				/* latencies counted */
	uint64_t p50, p99, p999, max;
	double mean;
	uint64_t cpu_ns, mono_ns;		/* over its phase */
	unsigned long long idle;		/* ticks over its phase */
	uint64_t switched;			/* responses on another conn */
};

/* read_up(): the client's next message, or its exit status explained. */
static void read_up(struct pipes *p, void *buf, size_t len)
{
	int status = 0;
	pid_t pid;

	if (read(p->up[0], buf, len) == (ssize_t)len)
		return;
	/* the client is gone: its n/a is the run's, anything else fails */
	pid = waitpid(peer, &status, 0);
	peer = 0;
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NA)
		_exit(EXIT_NA);
	fail("the client ended early (wait status %#x)", status);
}

/*
 * watch(): wait for the server's threads to end. Meanwhile a psock
 * stopped by KCM shows as POLLERR on its TCP socket (the error in
 * SO_ERROR), and a server that serves nothing for STALL_S seconds is
 * stuck (KCM waiting for a message that will not come).
 */
static void watch(struct server *s, struct pipes *p, struct client_result *cr,
		  int *have_cr)
{
	const struct opts *o = s->o;
	unsigned int i, n = o->conns + 2, still = 0;
	struct pollfd *pfd = zalloc(n * sizeof(*pfd));
	unsigned long last = 0, now;
	socklen_t sl = sizeof(int);
	int err = 0;

	for (i = 0; i < o->conns; i++)
		pfd[i] = (struct pollfd){ .fd = s->c[i].fd };
	pfd[o->conns] = (struct pollfd){ .fd = s->done_fd, .events = POLLIN };
	pfd[o->conns + 1] = (struct pollfd){ .fd = p->up[0], .events = POLLIN };
	while (__atomic_load_n(&s->ended, __ATOMIC_ACQUIRE) < s->threads) {
		if (poll(pfd, n, 1000) < 0 && errno != EINTR)
			fail("poll: %s", strerror(errno));
		for (i = 0; i < o->conns; i++) {
			if (!(pfd[i].revents & (POLLERR | POLLHUP)))
				continue;
			getsockopt(s->c[i].fd, SOL_SOCKET, SO_ERROR, &err, &sl);
			if (o->design == KTLS_KCM)
				na("the psock of connection %u stopped: %s "
				   "(revents %#x)", i, strerror(err),
				   pfd[i].revents);
			fail("connection %u: %s (revents %#x)", i,
			     strerror(err), pfd[i].revents);
		}
		if (pfd[o->conns].revents & POLLIN) {
			uint64_t v;

			if (read(s->done_fd, &v, sizeof(v)) < 0)
				fail("eventfd: %s", strerror(errno));
		}
		if (pfd[o->conns + 1].revents) {
			read_up(p, cr, sizeof(*cr));
			*have_cr = 1;
			pfd[o->conns + 1].fd = -1;
		}
		now = __atomic_load_n(&s->served, __ATOMIC_RELAXED);
		still = now == last ? still + 1 : 0;
		last = now;
		if (still >= STALL_S && o->design == KTLS_KCM)
			na("nothing served for %u s (%lu of %lu requests): "
			   "KCM delivers no messages", STALL_S, now,
			   o->requests);
		if (still >= STALL_S)
			fail("nothing served for %u s (%lu of %lu requests)",
			     STALL_S, now, o->requests);
	}
	free(pfd);
}

/* spin_cost(): instructions (ns under icount) per unit of work. */
static double spin_cost(void)
{
	const uint32_t units = 1000000;
	uint64_t t = now_ns(CLOCK_THREAD_CPUTIME_ID);
	volatile uint32_t sink = spin(units, 7);

	(void)sink;
	return (double)(now_ns(CLOCK_THREAD_CPUTIME_ID) - t) / units;
}

static void server(const struct opts *o, int lfd, struct pipes *p)
{
	struct server s = { .o = o };
	struct client_result cr;
	struct identity id;
	uint64_t u0, u1, cpu0, cpu1;
	long long tx0 = tls_stat("TlsTxSw"), rx0 = tls_stat("TlsRxSw");
	long long want;
	double unit;
	unsigned int i;
	int have_cr = 0, ktls = o->design != OSSL_POOL, status;
	char c;

	set_role("server");
	close(p->up[1]);
	close(p->down[0]);
	pin(SERVER_CPU);
	if (tx0 < 0 || rx0 < 0)
		fail("no TlsTxSw/TlsRxSw in /proc/net/tls_stat: no kTLS?");
	unit = spin_cost();
	make_identity(&id);
	s.c = zalloc(o->conns * sizeof(*s.c));
	for (i = 0; i < o->conns; i++) {
		s.c[i].fd = accept(lfd, NULL, NULL);
		if (s.c[i].fd < 0)
			fail("accept: %s", strerror(errno));
		set_nodelay(s.c[i].fd);
		s.c[i].ssl = handshake(s.c[i].fd, &id, ktls);
		s.c[i].rx.p = zalloc(RXBUF);
		pthread_mutex_init(&s.c[i].lock, NULL);
	}
	close(lfd);
	read_up(p, &c, 1);
	/* the client's kTLS both ways on each connection, and ours */
	want = (long long)o->conns * (ktls ? 2 : 1);
	if (tls_stat("TlsTxSw") - tx0 != want || tls_stat("TlsRxSw") - rx0 != want)
		fail("TlsTxSw +%lld, TlsRxSw +%lld: wanted +%lld each",
		     tls_stat("TlsTxSw") - tx0, tls_stat("TlsRxSw") - rx0, want);
	s.done_fd = eventfd(0, EFD_NONBLOCK);
	if (s.done_fd < 0)
		fail("eventfd: %s", strerror(errno));
	if (o->design == OSSL_POOL)
		ossl_setup(&s);
	else if (o->design == KTLS_KCM)
		kcm_setup(&s);
	start_threads(&s);

	cpu0 = rusage_ns(&u0);
	if (write(p->down[1], "g", 1) != 1)
		fail("the client went away");
	watch(&s, p, &cr, &have_cr);
	cpu1 = rusage_ns(&u1);
	for (i = 0; i < s.threads; i++)
		pthread_join(s.tid[i], NULL);
	if (!have_cr)
		read_up(p, &cr, sizeof(cr));
	if (s.served != o->requests)
		fail("served %lu of %lu requests", s.served, o->requests);
	if (write(p->down[1], "x", 1) != 1)
		fail("the client went away");
	if (waitpid(peer, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	peer = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the client failed (wait status %#x)", status);

	printf("bench %s %s %llu %llu %llu %llu %llu %.0f %.0f %.0f %.0f\n",
	       design_names[o->design], o->tag, (unsigned long long)cr.n,
	       (unsigned long long)cr.p50, (unsigned long long)cr.p99,
	       (unsigned long long)cr.p999, (unsigned long long)cr.max,
	       cr.mean, (double)(cpu1 - cpu0) / o->requests,
	       (double)cr.mono_ns / o->requests,
	       (double)cr.cpu_ns / o->requests);
	printf("info %s %s workers=%u server_threads=%u conns=%u depth=%u "
	       "requests=%lu warmup=%lu req_bytes=%u rsp_bytes=%u "
	       "work_mean=%u work_instr_per_unit=%.2f kcm_rcvbuf=%d "
	       "server_cpu_ns=%llu "
	       "server_user_ns=%llu client_cpu_ns=%llu guest_ns=%llu "
	       "idle_ticks=%llu clk_tck=%ld responses_on_other_conn=%llu "
	       "cpus=%d,%d/%ld\n",
	       design_names[o->design], o->tag, o->workers, s.threads,
	       o->conns, o->depth, o->requests, o->warmup, o->req_len,
	       o->rsp_len, o->work_mean, unit, o->kcm_rcvbuf,
	       (unsigned long long)(cpu1 - cpu0),
	       (unsigned long long)(u1 - u0),
	       (unsigned long long)cr.cpu_ns, (unsigned long long)cr.mono_ns,
	       cr.idle, sysconf(_SC_CLK_TCK), (unsigned long long)cr.switched,
	       SERVER_CPU, o->client_cpu, sysconf(_SC_NPROCESSORS_ONLN));
	for (i = 0; i < o->conns; i++) {
		SSL_free(s.c[i].ssl);
		close(s.c[i].fd);
	}
	X509_free(id.cert);
	EVP_PKEY_free(id.key);
}

/* ---- the client --------------------------------------------------------------- */

struct client {
	const struct opts *o;
	int *fd;
	struct stream *rx;
	uint64_t *sent_at;	/* by id */
	uint32_t *conn_of;	/* by id: where it went */
	unsigned char *state;	/* by id: 0 unsent, 1 waiting, 2 answered */
	uint64_t *lat;		/* counted latencies */
	unsigned long next, answered, counted;
	uint64_t rng, switched;
	unsigned char *req;
};

static void send_request(struct client *cl)
{
	const struct opts *o = cl->o;
	struct frame f = { o->req_len, KIND_REQ, cl->next, 0 };
	uint32_t conn = rnd(&cl->rng) % o->conns;

	f.arg = draw_work(&cl->rng, o->work_mean);
	frame_put(cl->req, &f);
	cl->conn_of[f.id] = conn;
	cl->state[f.id] = 1;
	cl->next++;
	cl->sent_at[f.id] = now_ns(CLOCK_MONOTONIC);
	write_full(cl->fd[conn], cl->req, o->req_len);
}

/* got_response(): one response, read from connection idx at time t. */
static void got_response(struct client *cl, unsigned int idx,
			 const struct frame *f, uint64_t t)
{
	const struct opts *o = cl->o;

	if (f->kind != KIND_RSP || f->len != o->rsp_len ||
	    f->id >= o->requests || cl->state[f->id] != 1)
		fail("connection %u: a bad response: kind %#x, %u bytes, id %u"
		     " (%s)", idx, f->kind, f->len, f->id,
		     f->id < o->requests && cl->state[f->id] == 2 ?
		     "answered twice" : "not asked");
	cl->state[f->id] = 2;
	cl->answered++;
	if (cl->conn_of[f->id] != idx)
		cl->switched++;
	if (f->id >= o->warmup)
		cl->lat[cl->counted++] = t - cl->sent_at[f->id];
	if (cl->next < o->requests)
		send_request(cl);
}

/* client_read(): what connection idx has; returns after one read. */
static void client_read(struct client *cl, unsigned int idx)
{
	struct stream *s = &cl->rx[idx];
	struct frame f;
	size_t len;
	ssize_t n;
	uint64_t t;

	n = recv(cl->fd[idx], s->p + s->have, RXBUF - s->have, MSG_DONTWAIT);
	t = now_ns(CLOCK_MONOTONIC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		fail("connection %u: %s", idx, n ? strerror(errno) :
		     "the server closed it");
	s->have += n;
	while ((len = frame_next(s))) {
		frame_get(s->p + s->off, &f);
		s->off += len;
		got_response(cl, idx, &f, t);
	}
	stream_compact(s);
}

static int cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* rank(): the nearest-rank percentile q of n sorted values. */
static uint64_t rank(const uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)ceil(q * n);

	return v[i ? i - 1 : 0];
}

/* summarize(): the percentiles, and the CCDF as "ccdf" lines. */
static void summarize(const struct opts *o, struct client *cl,
		      struct client_result *r)
{
	size_t n = cl->counted, i, prev = SIZE_MAX, k;
	uint64_t *v = cl->lat;
	double sum = 0, frac;

	if (!n)
		fail("no latency counted (warm-up %lu of %lu)", o->warmup,
		     o->requests);
	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 0; i < n; i++)
		sum += v[i];
	r->n = n;
	r->mean = sum / n;
	r->p50 = rank(v, n, 0.50);
	r->p99 = rank(v, n, 0.99);
	r->p999 = rank(v, n, 0.999);
	r->max = v[n - 1];
	/* 50 points a decade: the value that frac of the requests reach */
	for (k = 0;; k++) {
		frac = pow(10, -(double)k / 50);
		i = n - (size_t)ceil(frac * n - 1e-9);
		if (i >= n)
			break;
		if (i != prev)
			printf("ccdf %s %s %.6g %llu\n", design_names[o->design],
			       o->tag, (double)(n - i) / n,
			       (unsigned long long)v[i]);
		prev = i;
	}
	if (prev != n - 1)
		printf("ccdf %s %s %.6g %llu\n", design_names[o->design], o->tag,
		       1.0 / n, (unsigned long long)v[n - 1]);
	fflush(stdout);
}

static void client(const struct opts *o, const struct sockaddr_in *sa,
		   struct pipes *p)
{
	struct client cl = { .o = o, .rng = 0x6b746c73 };
	struct client_result r = { 0 };
	struct epoll_event *evs = zalloc(o->conns * sizeof(*evs)), ev;
	struct frame stop = { HDR, KIND_STOP, 0, 0 };
	unsigned char stopbuf[HDR];
	unsigned int i, stops;
	uint64_t cpu0, t0;
	unsigned long long idle0;
	int ep, n;
	char c;

	set_role("client");
	close(p->up[0]);
	close(p->down[1]);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin(o->client_cpu);
	cl.fd = zalloc(o->conns * sizeof(*cl.fd));
	cl.rx = zalloc(o->conns * sizeof(*cl.rx));
	cl.sent_at = zalloc(o->requests * sizeof(*cl.sent_at));
	cl.conn_of = zalloc(o->requests * sizeof(*cl.conn_of));
	cl.state = zalloc(o->requests);
	cl.lat = zalloc(o->requests * sizeof(*cl.lat));
	cl.req = zalloc(FRAME_MAX);
	pad(cl.req, o->req_len, 0x3c);
	ep = epoll_create1(0);
	if (ep < 0)
		fail("epoll_create1: %s", strerror(errno));
	for (i = 0; i < o->conns; i++) {
		cl.fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (cl.fd[i] < 0 ||
		    connect(cl.fd[i], (const struct sockaddr *)sa, sizeof(*sa)))
			fail("connect: %s", strerror(errno));
		set_nodelay(cl.fd[i]);
		/* the client reads and writes its kTLS sockets itself */
		SSL_free(handshake(cl.fd[i], NULL, 1));
		cl.rx[i].p = zalloc(RXBUF);
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cl.fd[i], &ev))
			fail("EPOLL_CTL_ADD: %s", strerror(errno));
	}
	if (write(p->up[1], "r", 1) != 1 || read(p->down[0], &c, 1) != 1)
		fail("the server went away");

	idle0 = idle_ticks();
	cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now_ns(CLOCK_MONOTONIC);
	while (cl.next < o->depth && cl.next < o->requests)
		send_request(&cl);
	while (cl.answered < o->requests) {
		n = epoll_wait(ep, evs, o->conns, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("epoll_wait: %s", strerror(errno));
		for (i = 0; i < (unsigned int)n; i++)
			client_read(&cl, evs[i].data.u32);
	}
	r.mono_ns = now_ns(CLOCK_MONOTONIC) - t0;
	r.cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	r.idle = idle_ticks() - idle0;
	r.switched = cl.switched;

	/* one stop for each server thread: they leave one by one */
	stops = o->design == KTLS_THREAD ? o->conns : o->workers;
	frame_put(stopbuf, &stop);
	for (i = 0; i < stops; i++)
		write_full(cl.fd[i % o->conns], stopbuf, HDR);
	summarize(o, &cl, &r);
	if (write(p->up[1], &r, sizeof(r)) != sizeof(r))
		fail("the server went away");
	/* the server has read the stops when it says so */
	if (read(p->down[0], &c, 1) < 0)
		fail("read: %s", strerror(errno));
	for (i = 0; i < o->conns; i++)
		close(cl.fd[i]);
}

/* ---- main -------------------------------------------------------------------- */

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
		"usage: ktls-kcm-bench -d DESIGN [-w W] [-c C] [-k K]\n"
		"                      [-n N] [-u WARMUP] [-q REQ] [-r RSP] [-s WORK]\n"
		"                      [-p CPU] [-t SECONDS] [-T TAG]\n"
		"  -d  ossl-pool, ktls-thread or ktls-kcm\n"
		"  -w  server workers (ossl-pool, ktls-kcm; default 4)\n"
		"  -c  connections (ktls-thread: its threads; default 8)\n"
		"  -k  requests outstanding (default 16)\n"
		"  -n  requests (default 20000)  -u  warm-up requests (default n/20)\n"
		"  -q  request frame bytes (default 256)\n"
		"  -r  response frame bytes (default 1024)\n"
		"  -s  mean work units per request (default 2000)\n"
		"  -b  SO_RCVBUF of each KCM socket (default 0: left alone)\n"
		"  -p  the client's CPU (default 1)  -t  timeout (default 900)\n"
		"  -T  a tag echoed in the output lines (default -)\n");
	exit(2);
}

static unsigned long num(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi)
		usage();
	return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	const char *d = NULL;
	int c, warm = 0;
	size_t i;

	*o = (struct opts){ .workers = 4, .conns = 8, .depth = 16,
			    .requests = 20000, .req_len = 256, .rsp_len = 1024,
			    .work_mean = 2000, .tag = "-",
			    .client_cpu = 1,
			    .timeout = 900 };
	while ((c = getopt(argc, argv, "d:w:c:k:n:u:q:r:s:b:p:t:T:")) != -1) {
		switch (c) {
		case 'd': d = optarg; break;
		case 'w': o->workers = num(optarg, 1, 256); break;
		case 'c': o->conns = num(optarg, 1, 256); break;
		case 'k': o->depth = num(optarg, 1, 65536); break;
		case 'n': o->requests = num(optarg, 1, 100000000); break;
		case 'u': o->warmup = num(optarg, 0, 100000000); warm = 1; break;
		case 'q': o->req_len = num(optarg, HDR, FRAME_MAX); break;
		case 'r': o->rsp_len = num(optarg, HDR, FRAME_MAX); break;
		case 's': o->work_mean = num(optarg, 0, 10000000); break;
		case 'b': o->kcm_rcvbuf = num(optarg, 0, 1 << 30); break;
		case 'p': o->client_cpu = num(optarg, 0, 1023); break;
		case 't': o->timeout = num(optarg, 1, 86400); break;
		case 'T': o->tag = optarg; break;
		default: usage();
		}
	}
	if (!d || optind != argc)
		usage();
	for (i = 0; i < sizeof(design_names) / sizeof(design_names[0]); i++)
		if (!strcmp(d, design_names[i]))
			break;
	if (i == sizeof(design_names) / sizeof(design_names[0]))
		usage();
	o->design = i;
	if (!warm)
		o->warmup = o->requests / 20;
	if (o->warmup >= o->requests)
		usage();
}

/* listen_loopback(): a listening socket on 127.0.0.1; its address in sa */
static int listen_loopback(struct sockaddr_in *sa, int backlog)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	*sa = (struct sockaddr_in){ .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, len) ||
	    listen(fd, backlog) || getsockname(fd, (struct sockaddr *)sa, &len))
		fail("listen on loopback: %s", strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct pipes p;
	struct opts o;
	int lfd;

	set_role("ktls-kcm-bench");
	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR ||
	    signal(SIGALRM, on_alarm) == SIG_ERR)
		fail("signal: %s", strerror(errno));
	/* listening before the fork: the client cannot connect too early */
	lfd = listen_loopback(&sa, o.conns);
	if (pipe(p.up) || pipe(p.down))
		fail("pipe: %s", strerror(errno));
	fflush(stdout);
	peer = fork();
	/* each process its own timeout: alarms are not inherited */
	switch (peer) {
	case -1:
		fail("fork: %s", strerror(errno));
	case 0:
		alarm(o.timeout);
		close(lfd);
		client(&o, &sa, &p);
		break;
	default:
		alarm(o.timeout);
		server(&o, lfd, &p);
	}
	return 0;
}
