// SPDX-License-Identifier: GPL-2.0
/*
 * KCM over kTLS, checked by a user-space OpenSSL peer: the -d kcm-tx and
 * -d kcm-rx modes of ktls-peer (interface in kcm.h).
 *
 *   kcm-tx  the server attaches its kTLS socket to a KCM multiplexor and
 *           sends the plan's messages from KCM_SOCKS KCM sockets, one
 *           thread each. The client reads the TLS stream with SSL_read()
 *           (OpenSSL checks every record's tag) and must find every
 *           message whole, once, in the order its KCM socket sent them,
 *           and nothing more.
 *   kcm-rx  the client SSL_write()s the messages as one stream, cut into
 *           writes that ignore where messages start (so records hold
 *           many messages, and messages span records); the server reads
 *           them from KCM_SOCKS KCM sockets, one thread each, and must get
 *           every message whole and once.
 *
 * Both end as the KTLS paper's library would: the client's close_notify,
 * a control record, stops KCM's parser (EINVAL on the TCP socket); the
 * server takes the socket back (SIOCKCMUNATTACH), and ktls-peer reads
 * the close_notify and answers it through kTLS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/kcm.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/evp.h>

#include "kcm.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024 * 1024)
#define PREFIX 4		/* the length in front of each message */
#define KCM_SOCKS 4		/* KCM sockets at the server, a thread each */
/*
 * 6.7 MiB in all: AES under TCG is slow, and what is tested here is
 * framing and delivery, which many messages test better than many bytes.
 * At most 256 bodies of 1 byte can differ: kcm_plan_init() checks.
 */
#define KCM_MSGS 3000

struct kcm_digest {
	unsigned char sha[32];	/* first: digest_cmp() compares it */
	unsigned int id;
};

/* How far the messages got, for kcm_where() (a timeout's message). */
static unsigned int progress, progress_of;
static const char *progress_verb;
static int attached_fd = -1;	/* the kTLS socket while KCM has it */

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p)
		fail("out of memory");
	return p;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void sha256(const unsigned char *data, size_t len, unsigned char *out)
{
	if (!EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL))
		fail("sha256");
}

static void set_progress(const char *verb, unsigned int of)
{
	progress_verb = verb;
	progress_of = of;
}

size_t kcm_where(char *buf, size_t size)
{
	socklen_t len = sizeof(int);
	int n, err = 0;

	if (!progress_verb || !size)
		return 0;
	if (attached_fd >= 0)
		getsockopt(attached_fd, SOL_SOCKET, SO_ERROR, &err, &len);
	n = snprintf(buf, size, "; %u of %u messages %s%s", progress,
		     progress_of, progress_verb,
		     attached_fd < 0 ? "" : ", KCM attached");
	if (n >= 0 && (size_t)n < size && attached_fd >= 0)
		n += snprintf(buf + n, size - n, ", TCP socket SO_ERROR %d",
			      err);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

/* The plan ---------------------------------------------------------------- */

/*
 * Body lengths: mostly small, many to a record; every 50th around or past
 * a record's 16 KiB of plaintext (16380 bytes and the prefix fill one
 * exactly); the middle message is 1 MiB.
 */
static const size_t small_lens[] = {
	1, 2, 3, 4, 5, 8, 13, 64, 100, 333, 1000, 1460, 4095, 4096,
};
static const size_t large_lens[] = {
	16379, 16380, 16381, 16384, 20000, 65536, 100003, 262147,
};

static size_t plan_len(unsigned int i, unsigned int n)
{
	if (i == n / 2)
		return MIB;
	if (i % 50 == 49)
		return large_lens[i / 50 % ARRAY_SIZE(large_lens)];
	return small_lens[i % ARRAY_SIZE(small_lens)];
}

/*
 * make_body(): message @i's body. Its first bytes (at most 4) are its
 * tag, little endian: @i itself for bodies of 4 bytes or more, and for
 * shorter ones its number among the bodies of that length, so that no
 * two bodies are equal (kcm_plan_init() checks). The rest comes from a
 * 64-bit LCG seeded with @i, so that bytes out of place do not match.
 */
static void make_body(const struct kcm_plan *p, unsigned int i,
		      unsigned char *out)
{
	uint64_t x = 0x2545f4914f6cdd1dULL ^ ((uint64_t)i << 20);
	size_t k, len = p->len[i];

	for (k = 0; k < len; k++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		out[k] = x >> 56;
	}
	for (k = 0; k < len && k < 4; k++)
		out[k] = p->tag[i] >> (8 * k);
}

static int digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static void plan_alloc(struct kcm_plan *p, unsigned int n)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->len = xmalloc(n * sizeof(*p->len));
	p->tag = xmalloc(n * sizeof(*p->tag));
	p->by_sha = xmalloc(n * sizeof(*p->by_sha));
	p->seen = calloc(n, 1);
	if (!p->seen)
		fail("out of memory");
}

void kcm_plan_init(struct kcm_plan *p)
{
	unsigned int short_ones[PREFIX] = { 0 }, i;
	unsigned char *body;

	plan_alloc(p, KCM_MSGS);
	for (i = 0; i < p->n; i++) {
		p->len[i] = plan_len(i, p->n);
		p->tag[i] = p->len[i] < 4 ? short_ones[p->len[i]]++ : i;
		if (p->len[i] > p->max_len)
			p->max_len = p->len[i];
		p->bytes += PREFIX + p->len[i];
	}
	body = xmalloc(p->max_len);
	for (i = 0; i < p->n; i++) {
		make_body(p, i, body);
		sha256(body, p->len[i], p->by_sha[i].sha);
		p->by_sha[i].id = i;
	}
	free(body);
	qsort(p->by_sha, p->n, sizeof(*p->by_sha), digest_cmp);
	for (i = 1; i < p->n; i++)
		if (!digest_cmp(&p->by_sha[i - 1], &p->by_sha[i]))
			fail("plan: messages %u and %u have the same body",
			     p->by_sha[i - 1].id, p->by_sha[i].id);
}

/*
 * plan_take(): which message @body is, now counted as read. Fails when it
 * is no message that was sent (cut in the wrong place, glued to another,
 * or changed) or when that message was read before.
 */
static unsigned int plan_take(const struct kcm_plan *p,
			      const unsigned char *body, size_t len)
{
	struct kcm_digest key, *hit;
	char head[2 * 8 + 1] = "";
	size_t k;

	sha256(body, len, key.sha);
	hit = bsearch(&key, p->by_sha, p->n, sizeof(key), digest_cmp);
	if (!hit) {
		for (k = 0; k < len && k < 8; k++)
			sprintf(head + 2 * k, "%02x", body[k]);
		fail("after %u messages, a message of %zu bytes (%s...) that was never sent: misframed or corrupt",
		     progress, len, head);
	}
	if (__atomic_fetch_add(&p->seen[hit->id], 1, __ATOMIC_RELAXED))
		fail("message %u (%zu bytes) read twice", hit->id, len);
	__atomic_fetch_add(&progress, 1, __ATOMIC_RELAXED);
	return hit->id;
}

/* The server: KCM on the kTLS socket ----------------------------------- */

/*
 * The parser, eBPF loaded with bpf(2): a message is its 4-byte big-endian
 * length and that many bytes. An absolute load (LD_ABS, which takes the
 * skb from r6) reads the message's first 4 bytes, wherever the message
 * starts in the record; the program returns the message's whole length.
 */
static int load_parser(void)
{
	static const struct bpf_insn insns[] = {
		{ BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0 },
		{ BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, 0 },
		{ BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_0, 0, 0, PREFIX },
		{ BPF_JMP | BPF_EXIT, 0, 0, 0, 0 },
	};
	static char log[4096];
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (uintptr_t)"GPL";
	attr.log_buf = (uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd < 0)
		fail("BPF_PROG_LOAD of the length-prefix parser: %s; verifier: %s",
		     strerror(errno), log);
	return fd;
}

/* get_conf(): the version and cipher of one direction's keys, or fail. */
static struct tls_crypto_info get_conf(int fd, int dir)
{
	struct tls_crypto_info ci = { 0 };
	socklen_t len = sizeof(ci);

	if (getsockopt(fd, SOL_TLS, dir, &ci, &len))
		fail("getsockopt(%s): %s: the socket has no kTLS %s keys",
		     dir == TLS_TX ? "TLS_TX" : "TLS_RX", strerror(errno),
		     dir == TLS_TX ? "transmit" : "receive");
	return ci;
}

/*
 * check_ktls(): kTLS is what KCM is about to use: the "tls" ULP is
 * registered and on the socket, with keys both ways for one session.
 */
static void check_ktls(int fd)
{
	struct tls_crypto_info tx, rx;
	char ulps[256] = "", ulp[16] = "";
	socklen_t len = sizeof(ulp) - 1;
	FILE *f;

	f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	if (f) {
		if (!fgets(ulps, sizeof(ulps), f))
			ulps[0] = 0;
		fclose(f);
	}
	ulps[strcspn(ulps, "\n")] = 0;
	if (!strstr(ulps, "tls"))
		fail("the tls ULP is not registered (tcp_available_ulp: \"%s\")",
		     ulps);
	if (getsockopt(fd, SOL_TCP, TCP_ULP, ulp, &len) || strcmp(ulp, "tls"))
		fail("the socket's ULP is \"%s\", not tls", ulp);
	tx = get_conf(fd, TLS_TX);
	rx = get_conf(fd, TLS_RX);
	if (tx.version != rx.version || tx.cipher_type != rx.cipher_type)
		fail("TLS_TX is version %#x cipher %u, TLS_RX version %#x cipher %u",
		     tx.version, tx.cipher_type, rx.version, rx.cipher_type);
	printf("server: ULPs \"%s\"; the socket's is tls, TLS_TX and TLS_RX: version %#x, cipher %u\n",
	       ulps, tx.version, tx.cipher_type);
}

/* A KCM multiplexor, its sockets, and the kTLS socket under it. */
struct mux {
	int fd;			/* the kTLS socket */
	int prog;		/* the parser */
	int kcm[KCM_SOCKS];	/* kcm[0] attached the socket, the rest clones */
};

static void mux_attach(struct mux *m, int fd)
{
	struct kcm_attach at = { .fd = fd };
	struct kcm_clone cl;
	int i;

	m->fd = fd;
	m->prog = load_parser();
	at.bpf_fd = m->prog;
	m->kcm[0] = socket(AF_KCM, SOCK_DGRAM, KCMPROTO_CONNECTED);
	if (m->kcm[0] < 0)
		fail("socket(AF_KCM): %s (CONFIG_AF_KCM?)", strerror(errno));
	if (ioctl(m->kcm[0], SIOCKCMATTACH, &at))
		fail("SIOCKCMATTACH of the kTLS socket: %s", strerror(errno));
	attached_fd = fd;
	for (i = 1; i < KCM_SOCKS; i++) {
		if (ioctl(m->kcm[0], SIOCKCMCLONE, &cl))
			fail("SIOCKCMCLONE: %s", strerror(errno));
		m->kcm[i] = cl.fd;
	}
}

/*
 * mux_detach(): wait until the client's close_notify stops KCM's parser
 * (POLLERR: poll() with no events asks for nothing else), take the
 * socket back, and check the error was a control record's (EINVAL).
 */
static void mux_detach(struct mux *m)
{
	struct kcm_unattach un = { .fd = m->fd };
	struct pollfd pfd = { .fd = m->fd };
	socklen_t len = sizeof(int);
	int err = 0, i;

	printf("server: waiting for the client's close_notify to stop KCM's parser\n");
	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			fail("poll: %s", strerror(errno));
	if (ioctl(m->kcm[0], SIOCKCMUNATTACH, &un))
		fail("SIOCKCMUNATTACH: %s", strerror(errno));
	attached_fd = -1;
	if (getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		fail("SO_ERROR: %s", strerror(errno));
	if (err != EINVAL)
		fail("KCM's parser stopped with \"%s\" (poll %#x), not EINVAL (a control record)",
		     strerror(err), pfd.revents);
	printf("server: KCM's parser stopped at a control record (SO_ERROR EINVAL); socket taken back\n");
	for (i = 0; i < KCM_SOCKS; i++)
		close(m->kcm[i]);
	close(m->prog);
}

struct worker {
	pthread_t thread;
	int fd;			/* its KCM socket */
	unsigned int index;	/* of the socket */
	unsigned int count;	/* messages it sent or read */
	const struct kcm_plan *p;
};

/*
 * sender(): the messages index, index + KCM_SOCKS, ... on one KCM socket,
 * each one sendmsg() of two pieces (prefix, body). MSG_BATCH has KCM hold
 * messages back; every eighth message and the socket's last go without
 * it, which sends what was held.
 */
static void *sender(void *arg)
{
	struct worker *w = arg;
	const struct kcm_plan *p = w->p;
	unsigned char pre[PREFIX], *body = xmalloc(p->max_len);
	struct iovec iov[2] = { { pre, PREFIX }, { body, 0 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	unsigned int i;
	ssize_t ret;
	int flags;

	for (i = w->index; i < p->n; i += KCM_SOCKS, w->count++) {
		make_body(p, i, body);
		put_be32(pre, p->len[i]);
		iov[1].iov_len = p->len[i];
		flags = w->count % 8 == 7 || i + KCM_SOCKS >= p->n ?
			0 : MSG_BATCH;
		ret = sendmsg(w->fd, &msg, flags);
		if (ret != (ssize_t)(PREFIX + p->len[i]))
			fail("KCM socket %u: sendmsg of message %u (%zu bytes): %s",
			     w->index, i, p->len[i],
			     ret < 0 ? strerror(errno) : "short");
		__atomic_fetch_add(&progress, 1, __ATOMIC_RELAXED);
	}
	free(body);
	return NULL;
}

/* check_framed(): a KCM message (@n bytes) is one prefix and its body. */
static void check_framed(const struct kcm_plan *p, const unsigned char *m,
			 size_t n, int truncated)
{
	if (truncated)
		fail("a KCM message longer than any sent (%zu bytes): misframed",
		     PREFIX + p->max_len);
	if (n < PREFIX || get_be32(m) != n - PREFIX)
		fail("a KCM message of %zu bytes whose prefix says %u: misframed",
		     n, n < PREFIX ? 0 : get_be32(m));
	plan_take(p, m + PREFIX, n - PREFIX);
}

/*
 * reader(): messages from one KCM socket until all are in, whichever
 * socket got them: so a short poll(), to see the others finish.
 */
static void *reader(void *arg)
{
	struct worker *w = arg;
	const struct kcm_plan *p = w->p;
	unsigned char *buf = xmalloc(PREFIX + p->max_len);
	struct iovec iov = { buf, PREFIX + p->max_len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
	ssize_t n;

	while (__atomic_load_n(&progress, __ATOMIC_RELAXED) < p->n) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		msg.msg_flags = 0;
		n = recvmsg(w->fd, &msg, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0)
			fail("KCM socket %u: recvmsg: %s", w->index,
			     strerror(errno));
		check_framed(p, buf, n, msg.msg_flags & MSG_TRUNC);
		w->count++;
	}
	free(buf);
	return NULL;
}

/* run_workers(): a thread per KCM socket; returns the seconds they took. */
static double run_workers(struct mux *m, const struct kcm_plan *p,
			  void *(*fn)(void *), struct worker *w)
{
	double t0 = now();
	int i, err;

	for (i = 0; i < KCM_SOCKS; i++) {
		w[i] = (struct worker){ .fd = m->kcm[i], .index = i, .p = p };
		err = pthread_create(&w[i].thread, NULL, fn, &w[i]);
		if (err)
			fail("pthread_create: %s", strerror(err));
	}
	for (i = 0; i < KCM_SOCKS; i++)
		pthread_join(w[i].thread, NULL);
	return now() - t0;
}

double kcm_serve(int fd, int sending, const struct kcm_plan *p)
{
	/* strparser takes no message longer than the TCP receive buffer */
	int rcvbuf = 4 * MIB;
	struct worker w[KCM_SOCKS];
	char counts[64] = "";
	struct mux m;
	double secs;
	int i;

	check_ktls(fd);
	if (!sending && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
				   sizeof(rcvbuf)))
		fail("SO_RCVBUFFORCE: %s", strerror(errno));
	set_progress(sending ? "sent on KCM sockets" : "read from KCM sockets",
		     p->n);
	mux_attach(&m, fd);
	secs = run_workers(&m, p, sending ? sender : reader, w);
	for (i = 0; i < KCM_SOCKS; i++)
		snprintf(counts + strlen(counts), sizeof(counts) - strlen(counts),
			 " %u", w[i].count);
	printf("server: %u messages (%zu bytes) %s in %.2fs, by socket:%s\n",
	       progress, p->bytes, progress_verb, secs, counts);
	if (progress != p->n)
		fail("%u messages, not %u", progress, p->n);
	mux_detach(&m);
	return p->bytes / secs / MIB;
}

/* The client: user-space OpenSSL ---------------------------------------- */

static void ssl_read_exact(SSL *ssl, unsigned char *buf, size_t len)
{
	size_t got = 0;
	int ret;

	while (got < len) {
		ret = SSL_read(ssl, buf + got, len - got);
		if (ret <= 0) {
			printf("client: the stream ended after %u of %u messages\n",
			       progress, progress_of);
			fail_ssl(ssl, ret, "SSL_read");
		}
		got += ret;
	}
}

/*
 * kcm_client_read(): every message, each whole and once; those of one KCM
 * socket (message i came from socket i % KCM_SOCKS) in the order sent.
 * Whatever follows the last one must be the server's close_notify.
 */
void kcm_client_read(SSL *ssl, const struct kcm_plan *p)
{
	unsigned char pre[PREFIX], *body = xmalloc(p->max_len);
	long last[KCM_SOCKS];
	unsigned int k, id;
	size_t len;

	set_progress("read with SSL_read", p->n);
	for (k = 0; k < KCM_SOCKS; k++)
		last[k] = -1;
	for (k = 0; k < p->n; k++) {
		ssl_read_exact(ssl, pre, PREFIX);
		len = get_be32(pre);
		if (len > p->max_len)
			fail("after %u messages, a length prefix of %zu, more than any message sent: misframed",
			     k, len);
		ssl_read_exact(ssl, body, len);
		id = plan_take(p, body, len);
		if ((long)id < last[id % KCM_SOCKS])
			fail("message %u of KCM socket %u after its message %ld",
			     id, id % KCM_SOCKS, last[id % KCM_SOCKS]);
		last[id % KCM_SOCKS] = id;
	}
	free(body);
	printf("client: %u messages (%zu bytes) read with SSL_read: each whole, once, in its KCM socket's order\n",
	       p->n, p->bytes);
}

/*
 * kcm_client_write(): all messages as one stream, in SSL_write()s whose
 * sizes ignore the messages: records of 1 byte, records full of small
 * messages, and messages across records.
 */
void kcm_client_write(SSL *ssl, const struct kcm_plan *p)
{
	static const size_t writes[] = {
		16384, 3, 700, 16385, 5000, 1, 65543, 16383, 120000, 40,
	};
	unsigned char *stream = xmalloc(p->bytes);
	size_t off = 0, n;
	unsigned int i;
	int ret;

	set_progress("written with SSL_write", p->n);
	for (i = 0; i < p->n; i++) {
		put_be32(stream + off, p->len[i]);
		make_body(p, i, stream + off + PREFIX);
		off += PREFIX + p->len[i];
	}
	for (off = 0, i = 0; off < p->bytes; off += ret, i++) {
		n = writes[i % ARRAY_SIZE(writes)];
		if (n > p->bytes - off)
			n = p->bytes - off;
		ret = SSL_write(ssl, stream + off, n);
		if (ret <= 0)
			fail_ssl(ssl, ret, "SSL_write");
	}
	progress = p->n;
	free(stream);
	printf("client: %u messages (%zu bytes) written with SSL_write, in %u writes\n",
	       p->n, p->bytes, i);
}
