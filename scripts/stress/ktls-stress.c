// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-stress: seeded race and teardown stress of kTLS sockets (issue 19,
 * item 2).
 *
 * Every round makes fresh sockets, usually a pair of kTLS sockets over
 * loopback with keys set on both ends (each end seals what it sends and
 * opens what it reads: no user-space crypto), and runs one scenario, drawn
 * from the seed, with several threads on one socket:
 *
 * integrity     several senders on one socket send self-describing chunks
 *               (thread, sequence, length, checksum) with blocking
 *               send(), sendmsg() with several iovecs, write(),
 *               sendfile() and splice() from a pipe, MSG_MORE now and
 *               then; ONE reader on the peer uses recv(), read(),
 *               recvmsg(), MSG_PEEK, MSG_WAITALL, splice() to a pipe,
 *               poll() and epoll with random sizes, stalls now and then
 *               (a zero window, the receive buffer may be small) and
 *               changes SO_RCVLOWAT. Threads beside them change
 *               SO_RCVLOWAT, TLS_TX_MAX_PAYLOAD_LEN and
 *               TLS_RX_EXPECT_NO_PAD and read TLS_TX/TLS_RX back; under
 *               TLS 1.3 a rekey thread sends KeyUpdate records and
 *               installs the next TLS_TX keys, and the reader installs
 *               the next TLS_RX keys when it reads one. Checked: every
 *               chunk arrives whole, intact, in each sender's order, and
 *               the stream ends (shutdown(SHUT_WR)) after the last one.
 *               That senders never cut into each other's chunks is the
 *               contract of net/tls/tx.c: a send holds the TX mutex for
 *               its whole call ("Senders take turns" in tls.rst), and a
 *               blocking send without signals or timeouts takes all its
 *               bytes. splice() and sendfile() are one sendmsg() only
 *               when the chunk is in at most 16 pipe buffers and read in
 *               one go (fs/splice.c), so their chunks stay under 60 KiB,
 *               at page-aligned file offsets.
 * integrity-mr  the same with 2 or 3 readers: each reader has only part
 *               of the stream, so what is checked is the whole: the
 *               number of bytes, their sum and the sum of their squares
 *               (any order), and EOF seen by every reader.
 * teardown      threads on one kTLS socket blocked in send(), recv(),
 *               sendfile(), splice() both ways, poll() and epoll_wait(),
 *               or changing and reading options, while another thread
 *               closes it or shuts it down (SHUT_RD, SHUT_WR, SHUT_RDWR),
 *               or the peer closes or resets (SO_LINGER 0); the peer
 *               reads, stalls or sends. Checked: every call returns
 *               within its timeout (SO_RCVTIMEO, SO_SNDTIMEO, poll's;
 *               senders queued on the TX mutex wait for each holder's
 *               timeout in turn) plus a margin, and ends in one of
 *               TCP's errnos for the case: sends in EAGAIN (timeout),
 *               EPIPE (shut down), ECONNRESET, ENOTCONN or EBADF (after
 *               close()); reads in data, 0 (EOF), EAGAIN, ECONNRESET,
 *               EPIPE (a reset after the peer's FIN: TCP's sk_err, which
 *               kTLS reports before EOF), ENOTCONN or EBADF; option calls in 0, EBUSY (TLS 1.2
 *               keys again) or EBADF. Any other errno fails the round.
 * stall-reset   senders block on a peer that stopped reading (a zero
 *               window); then the peer resets, or the sender is closed,
 *               shut down (SHUT_WR) or closed with SO_LINGER 0 while
 *               they are blocked. Checked: senders return in time with
 *               an allowed errno; after close() or shutdown(SHUT_WR) the
 *               peer reads exactly the bytes the sends accepted, then EOF
 *               ("every byte that a send accepted reaches the peer",
 *               tls.rst), byte-exact when there was one sender.
 * rekey-race    senders and readers while other threads set TLS_TX and
 *               TLS_RX again (KeyUpdate keys, with or without a KeyUpdate
 *               record first; under TLS 1.2 that is EBUSY), with a wrong
 *               cipher or length (EINVAL), and read them back with
 *               getsockopt() (4 bytes or the whole struct: 0, another
 *               length: EINVAL). The keys no longer match, so reads end
 *               in EBADMSG: checked is that every result is one of the
 *               documented ones, and nothing crashes or hangs.
 * ulp           the ULP lifecycle on fresh sockets: TCP_ULP "tls" racing
 *               connect() (ENOTCONN until established), listen() (always
 *               ENOTCONN), connect(AF_UNSPEC) (attach then disconnect:
 *               EOPNOTSUPP; disconnect then attach: ENOTCONN; never
 *               both), keys and a peer reset; children accepted from a
 *               listener (also one that was disconnected from a kTLS
 *               race) never have the ULP.
 *
 * Every blocking call is bounded (socket timeouts, poll timeouts), and a
 * watchdog (alarm()) ends the run with the scenario's name, seed and
 * round on a hang (exit code 3). At the end, with every socket closed,
 * TlsCurrTxSw and TlsCurrRxSw of /proc/net/tls_stat must be back to 0.
 *
 * A round is made from (seed, round number) alone: what it does, sizes,
 * methods and delays; thread timing is not. A failure names its seed and
 * round, and
 *	ktls-stress --seed S --round R [--repeat K] -v
 * runs that round again.
 *
 * usage: ktls-stress [--seed S] [--seconds N | --rounds N | --round R
 *                    [--repeat K]] [--scenario NAME] [--watchdog SECS]
 *                    [--max-fail N] [--inject-fault data|hang] [-v]
 *   --seconds N   rounds until N seconds passed (default: --rounds 50)
 *   --rounds N    N rounds, from round 0
 *   --round R     round R only (--repeat K: K times)
 *   --scenario    only rounds of this scenario (the others are skipped,
 *                 their numbers kept)
 *   --watchdog    seconds one round may take (default 120)
 *   --max-fail    stop after this many failed rounds (default 10)
 *   --inject-fault  break the run on purpose to show it is caught: "data"
 *                 changes one byte the integrity check expects, "hang"
 *                 blocks a round forever; the run must fail
 * Prints one line per scenario (rounds, failures, calls, errnos) and last
 * "rounds N, failures M, rounds/s R". Exit code 1 when a round failed, 2
 * on a usage or setup error, 3 on a hang.
 *
 * It runs as root, in a network namespace of its own (it makes one), on a
 * kernel with the "tls" ULP.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <linux/tls.h>

#define KTLS_PROG	"ktls-stress"
#include "../lib/ktls-guest.h"

#define MAX_THREADS	8
#define CHUNK_HDR	20		/* magic, thread, seq, length, checksum */
#define CHUNK_MAX	(60 * 1024)	/* header included: 15 pages */
#define CHUNK_MAGIC	0x6b746c73u	/* "ktls" */
#define SLOT		(64 * 1024)	/* one sendfile() source slot */
#define SLOTS		8
#define FAIL_PRINT	6		/* failure lines printed per round */

enum scen { S_INTEGRITY, S_INTEGRITY_MR, S_TEARDOWN, S_STALL, S_REKEY,
	    S_ULP, S_NUM };
static const char *const scen_name[S_NUM] = {
	"integrity", "integrity-mr", "teardown", "stall-reset", "rekey-race",
	"ulp",
};
/* how often each is drawn, of 16 */
static const unsigned int scen_weight[S_NUM] = { 4, 2, 3, 3, 2, 2 };

/* ---- random numbers (the generator: ktls-guest.h) ---------------------- */

/* A PRNG state from two numbers: a round's from the seed and its number */
static u64 mix(u64 a, u64 b)
{
	u64 s = a ^ 0x6b746c732d737472ULL;	/* "ktls-str" */

	s = rnd(&s) ^ b;
	return rnd(&s);
}

/* A size: mostly small, sometimes up to @max */
static size_t some_size(u64 *s, size_t max)
{
	switch (below(s, 4)) {
	case 0:
		return between(s, 1, max < 64 ? max : 64);
	case 1:
		return between(s, 1, max < 2048 ? max : 2048);
	default:
		return between(s, 1, max);
	}
}

/* ---- run state, counts and failures ------------------------------------- */

#define NERR	192

struct scen_stat {
	unsigned long rounds, failures, calls, bytes;
	unsigned long err[NERR];	/* errnos seen, allowed ones included */
	unsigned long note[8];		/* per-scenario counters, below */
};

static struct scen_stat stats[S_NUM];
static const char *const note_name[S_NUM][8] = {
	[S_INTEGRITY] = { "chunks", "keyupdates", "peeks", "stalls",
			  "sendfile", "splice-in", "splice-out", "polls" },
	[S_INTEGRITY_MR] = { "chunks", "keyupdates", "eof-readers",
			     "stalls", "sendfile", "splice-in", "splice-out",
			     "polls" },
	[S_TEARDOWN] = { "close", "shut-rd", "shut-wr", "shut-rdwr",
			 "peer-close", "peer-reset", "blocked-returned",
			 "ebadf-after-close" },
	[S_STALL] = { "peer-reset", "close", "shut-wr", "linger0",
		      "close+reset", "bytes-accepted", "bytes-checked",
		      "senders-blocked" },
	[S_REKEY] = { "tx-rekey", "rx-rekey", "keyupdates", "getsockopt",
		      "ebusy", "einval", "ebadmsg-reads", "tls12" },
	[S_ULP] = { "attach-connect", "attach-disconnect", "attach-listen",
		    "accept-children", "attach-reset", "attached",
		    "children-checked", "disconnected" },
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int verbose;
static enum { INJ_NONE, INJ_DATA, INJ_HANG } inject;
static u64 g_seed;

struct round {
	u64 seed;		/* of this round: mix(run seed, round) */
	unsigned long no;
	enum scen scen;
	int version;		/* TLS_1_2_VERSION or TLS_1_3_VERSION */
	const struct ktls_cipher *cipher;
	int failures;		/* atomic */
};

/*
 * Turn TLS_RX_EXPECT_NO_PAD on or off at random on @fd. Return 0 or the
 * errno; TLS 1.2 has no such option, and its EINVAL is no failure.
 */
static int no_pad_toggle(const struct round *r, int fd, u64 *rng)
{
	int v = below(rng, 2);

	if (!setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &v, sizeof(v)))
		return 0;
	return errno == EINVAL && r->version == TLS_1_2_VERSION ? 0 : errno;
}

static void count(struct round *r, int what, unsigned long n)
{
	__atomic_add_fetch(&stats[r->scen].note[what], n, __ATOMIC_RELAXED);
}

static void count_call(struct round *r, long ret, int err)
{
	struct scen_stat *st = &stats[r->scen];

	__atomic_add_fetch(&st->calls, 1, __ATOMIC_RELAXED);
	if (ret < 0 && err > 0 && err < NERR)
		__atomic_add_fetch(&st->err[err], 1, __ATOMIC_RELAXED);
}

static void failf(struct round *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void failf(struct round *r, const char *fmt, ...)
{
	int n = __atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (n > FAIL_PRINT)
		return;
	pthread_mutex_lock(&out_lock);
	printf("FAIL seed=%" PRIu64 " round=%lu scenario=%s: ", g_seed, r->no,
	       scen_name[r->scen]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void vlog(struct round *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void vlog(struct round *r, const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	pthread_mutex_lock(&out_lock);
	printf("  [%lu %s] ", r->no, scen_name[r->scen]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

/* An errno in a list ending with 0? */
static bool in_set(int e, const int *set)
{
	for (; *set; set++)
		if (*set == e)
			return true;
	return false;
}

/* ---- watchdog ----------------------------------------------------------- */

static char wd_msg[256];
static size_t wd_len;
static unsigned int wd_secs = 120;

static void wd_fire(int sig)
{
	(void)sig;
	if (write(STDOUT_FILENO, wd_msg, wd_len) < 0)
		_exit(3);
	_exit(3);
}

static void wd_arm(struct round *r)
{
	int n = snprintf(wd_msg, sizeof(wd_msg),
			 "HANG seed=%" PRIu64 " round=%lu scenario=%s: the round took over %u s (watchdog)\n",
			 g_seed, r->no, scen_name[r->scen], wd_secs);

	wd_len = n > 0 ? (size_t)n : 0;
	alarm(wd_secs);
}

/* ---- ciphers and keys --------------------------------------------------- */

/*
 * The crypto_info of direction @dir (0: from the connecting end, 1: to
 * it), key generation @gen (KeyUpdates so far): both ends make the same.
 */
static size_t key_make(const struct round *r, const struct ktls_cipher *c,
		       int dir, unsigned int gen, u8 *buf)
{
	struct tls_crypto_info *h = (void *)buf;
	size_t n = info_size(c), i, fixed = c->iv + c->key + c->salt;
	u64 s = mix(r->seed, 0x6b6579000000ULL | (u64)dir << 16 | gen);
	u8 *p = buf + sizeof(*h);

	memset(buf, 0, n);
	h->version = r->version;
	h->cipher_type = c->type;
	for (i = 0; i < fixed; i++)
		p[i] = rnd(&s);
	/* a record sequence number well away from the end */
	if (gen == 0)
		p[fixed + 5] = rnd(&s);
	return n;
}

static int set_keys(const struct round *r, int fd, int opt, int dir,
		    unsigned int gen)
{
	u8 buf[128];
	size_t n = key_make(r, r->cipher, dir, gen, buf);

	return setsockopt(fd, SOL_TLS, opt, buf, n) ? errno : 0;
}

/* ---- sockets -------------------------------------------------------------- */

static void set_linger0(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static int connect_to(int fd, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	return connect(fd, (void *)&a, sizeof(a)) ? errno : 0;
}

/* accept() bounded by @ms; -1 on timeout */
static int accept_within(int lfd, long ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* The ULP the socket has: 1 "tls", 0 none, -1 another or an error */
static int ulp_of(int fd)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	if (getsockopt(fd, IPPROTO_TCP, TCP_ULP, name, &len))
		return -1;
	if (len == 0 || !name[0])
		return 0;
	return strcmp(name, "tls") ? -1 : 1;
}

struct pair_opt {
	int a_sndbuf, a_rcvbuf, b_sndbuf, b_rcvbuf;	/* 0: default */
	bool no_keys;
};

/*
 * Two connected kTLS sockets, keys set both ways: fd[0] connected, fd[1]
 * accepted. fd[0] sends direction 0 and reads direction 1.
 */
static void make_pair(struct round *r, const struct pair_opt *o, int fd[2])
{
	int port, lfd = listener(o->b_rcvbuf, &port), err;

	fd[0] = tcp_socket();
	if (o->a_sndbuf)
		set_int(fd[0], SOL_SOCKET, SO_SNDBUF, o->a_sndbuf);
	if (o->a_rcvbuf)
		set_int(fd[0], SOL_SOCKET, SO_RCVBUF, o->a_rcvbuf);
	err = connect_to(fd[0], port);
	if (err)
		die("connect: %s", strerror(err));
	fd[1] = accept_within(lfd, 5000);
	if (fd[1] < 0)
		die("accept: %s", strerror(errno));
	close(lfd);
	if (o->b_sndbuf)
		set_int(fd[1], SOL_SOCKET, SO_SNDBUF, o->b_sndbuf);
	pair_attach(fd);
	if (o->no_keys)
		return;
	if ((err = set_keys(r, fd[0], TLS_TX, 0, 0)) ||
	    (err = set_keys(r, fd[1], TLS_RX, 0, 0)) ||
	    (err = set_keys(r, fd[1], TLS_TX, 1, 0)) ||
	    (err = set_keys(r, fd[0], TLS_RX, 1, 0)))
		die("keys (%s, TLS 1.%d): %s", r->cipher->name,
		    r->version == TLS_1_3_VERSION ? 3 : 2, strerror(err));
}

static int pipe_big(int p[2])
{
	if (pipe2(p, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	return 0;
}

/* Read and throw away whatever is in a pipe */
static void pipe_drain(int rfd)
{
	char buf[4096];

	while (read(rfd, buf, sizeof(buf)) > 0)
		;
}

/* Read exactly @n bytes from a pipe the caller just filled */
static int pipe_take(int rfd, u8 *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(rfd, buf + got, n - got);

		if (k <= 0)
			return -1;
		got += k;
	}
	return 0;
}

static void spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, NULL, fn, arg);

	if (err)
		die("pthread_create: %s", strerror(err));
}

/* ---- scenarios: integrity ------------------------------------------------- */

/*
 * A chunk: magic, sender, sequence number, payload length, payload
 * checksum (FNV-1a), then the payload, made from (round, sender, seq).
 */
static u32 fnv1a(const u8 *p, size_t n)
{
	u32 h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static void put32(u8 *p, u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static u32 get32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static void payload_make(u64 rseed, u32 tid, u32 seq, u8 *p, size_t n)
{
	u64 s = mix(rseed, (u64)tid << 32 | seq), v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!(i & 7))
			v = rnd(&s);
		p[i] = v >> ((i & 7) * 8);
	}
}

static size_t chunk_make(u64 rseed, u32 tid, u32 seq, size_t plen, u8 *out)
{
	payload_make(rseed, tid, seq, out + CHUNK_HDR, plen);
	put32(out, CHUNK_MAGIC);
	put32(out + 4, tid);
	put32(out + 8, seq);
	put32(out + 12, plen);
	put32(out + 16, fnv1a(out + CHUNK_HDR, plen));
	return CHUNK_HDR + plen;
}

struct integ;

struct sender {
	struct integ *g;
	int id;
	u64 rng;
	unsigned int chunks;
	int pipe[2], memfd;
	u8 *buf;
};

struct reader {
	struct integ *g;
	int id;
	u64 rng;
	int pipe[2], ep;
	u8 *buf, *peek;
	u64 bytes, sum, sq;
	bool eof;
};

struct integ {
	struct round *r;
	int fd[2];		/* [0] sends, [1] reads */
	int nsend, nread;
	bool multi, rekey;
	struct sender s[MAX_THREADS];
	struct reader rd[MAX_THREADS];
	pthread_rwlock_t rekey_lock;	/* senders read, the rekeyer writes */
	pthread_mutex_t rx_lock;
	unsigned int tx_gen, rx_gen;
	int senders_left, stop;		/* atomics */
	u64 sent_bytes, sent_sum, sent_sq;	/* atomics */
	/* the one reader's parse of the stream */
	u8 *pend;
	size_t pend_len, off;
	u32 next_seq[MAX_THREADS];
	bool broken;
	bool injected;
};

static void sums(const u8 *p, size_t n, u64 *sum, u64 *sq)
{
	size_t i;

	for (i = 0; i < n; i++) {
		*sum += p[i];
		*sq += (u64)p[i] * p[i];
	}
}

/* One chunk, one call; returns 0 or the errno / -1 for a short call */
static int send_chunk(struct sender *s, const u8 *c, size_t len, bool more)
{
	struct integ *g = s->g;
	int fd = g->fd[0], flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
	unsigned int method = below(&s->rng, 6);
	ssize_t n = -1;
	int err;

	switch (method) {
	case 0:
		n = send(fd, c, len, flags);
		break;
	case 1: {
		struct iovec iov[8];
		struct msghdr msg = { .msg_iov = iov };
		size_t at = 0;

		while (at < len && msg.msg_iovlen < 7) {
			size_t k = between(&s->rng, 0, len - at);

			iov[msg.msg_iovlen].iov_base = (void *)(c + at);
			iov[msg.msg_iovlen++].iov_len = k;
			at += k;
		}
		iov[msg.msg_iovlen].iov_base = (void *)(c + at);
		iov[msg.msg_iovlen++].iov_len = len - at;
		n = sendmsg(fd, &msg, flags);
		break;
	}
	case 2:
		if (more)
			n = send(fd, c, len, flags);
		else
			n = write(fd, c, len);
		break;
	case 3: {
		/* page-aligned slot, reused SLOTS chunks later only */
		off_t off = (off_t)(s->chunks % SLOTS) * SLOT;

		if (pwrite(s->memfd, c, len, off) != (ssize_t)len)
			die("pwrite memfd: %s", strerror(errno));
		n = sendfile(fd, s->memfd, &off, len);
		count(g->r, 4, 1);
		break;
	}
	default:
		/* the pipe is empty: the chunk is in at most 15 buffers */
		if (write(s->pipe[1], c, len) != (ssize_t)len)
			die("write pipe: %s", strerror(errno));
		n = splice(s->pipe[0], NULL, fd, NULL, len,
			   more ? SPLICE_F_MORE : 0);
		if (n != (ssize_t)len) {
			err = errno;
			pipe_drain(s->pipe[0]);
			errno = err;
		}
		count(g->r, 5, 1);
		break;
	}
	err = errno;
	count_call(g->r, n, err);
	if (n == (ssize_t)len)
		return 0;
	failf(g->r, "sender %d chunk %u: method %u sent %zd of %zu (%s)",
	      s->id, s->chunks, method, n, len, n < 0 ? ename(err) : "short");
	return n < 0 ? err : -1;
}

static void *integ_sender(void *arg)
{
	struct sender *s = arg;
	struct integ *g = s->g;
	unsigned int total = between(&s->rng, 3, 14), i;

	for (i = 0; i < total; i++) {
		size_t plen = some_size(&s->rng, CHUNK_MAX - CHUNK_HDR) - 1;
		size_t len = chunk_make(g->r->seed, s->id, i, plen, s->buf);
		u64 sum = 0, sq = 0;
		bool more = i + 1 < total && chance(&s->rng, 20);
		int err;

		if (chance(&s->rng, 10))
			sleep_ms(below(&s->rng, 30));
		pthread_rwlock_rdlock(&g->rekey_lock);
		err = send_chunk(s, s->buf, len, more);
		pthread_rwlock_unlock(&g->rekey_lock);
		if (err)
			break;
		s->chunks++;
		sums(s->buf, len, &sum, &sq);
		__atomic_add_fetch(&g->sent_bytes, len, __ATOMIC_RELAXED);
		__atomic_add_fetch(&g->sent_sum, sum, __ATOMIC_RELAXED);
		__atomic_add_fetch(&g->sent_sq, sq, __ATOMIC_RELAXED);
		count(g->r, 0, 1);
	}
	__atomic_sub_fetch(&g->senders_left, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* TLS 1.3: a KeyUpdate record under the old keys, then the next keys */
static void *integ_rekeyer(void *arg)
{
	struct integ *g = arg;
	u64 rng = mix(g->r->seed, 0x72656b6579ULL);
	u8 ku[KU_LEN] = { HS_KEY_UPDATE, 0, 0, 1, 0 };

	while (__atomic_load_n(&g->senders_left, __ATOMIC_ACQUIRE)) {
		ssize_t n;
		int err;

		sleep_ms(between(&rng, 20, 200));
		ku[4] = below(&rng, 2);
		pthread_rwlock_wrlock(&g->rekey_lock);
		n = send_typed(g->fd[0], T_HS, ku, sizeof(ku));
		err = errno;
		count_call(g->r, n, err);
		if (n == sizeof(ku)) {
			err = set_keys(g->r, g->fd[0], TLS_TX, 0, g->tx_gen + 1);
			count_call(g->r, err ? -1 : 0, err);
			if (err)
				failf(g->r, "rekey TLS_TX generation %u: %s",
				      g->tx_gen + 1, ename(err));
			else
				g->tx_gen++;
		} else {
			failf(g->r, "KeyUpdate record: sent %zd (%s)", n,
			      ename(err));
		}
		pthread_rwlock_unlock(&g->rekey_lock);
		if (n != sizeof(ku) || err)
			break;
		count(g->r, 1, 1);
	}
	return NULL;
}

/* Options changed and read beside the senders and readers */
static void *integ_knobs(void *arg)
{
	struct integ *g = arg;
	u64 rng = mix(g->r->seed, 0x6b6e6f62ULL);
	struct round *r = g->r;
	u8 buf[128];

	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
		int fd = g->fd[chance(&rng, 50)], err = 0, v;
		socklen_t len;
		u16 mp;

		switch (below(&rng, 7)) {
		case 0:
			v = between(&rng, 1, 24000);
			err = setsockopt(g->fd[1], SOL_SOCKET, SO_RCVLOWAT, &v,
					 sizeof(v)) ? errno : 0;
			break;
		case 1:
			/* stream neutral: only record boundaries change */
			mp = between(&rng, 1024, 16384);
			err = setsockopt(g->fd[0], SOL_TLS,
					 TLS_TX_MAX_PAYLOAD_LEN, &mp,
					 sizeof(mp)) ? errno : 0;
			if (err == EBUSY)	/* a record is open */
				err = 0;
			break;
		case 2:
		case 3:
			len = chance(&rng, 50) ? sizeof(struct tls_crypto_info)
					       : info_size(r->cipher);
			err = getsockopt(fd, SOL_TLS,
					 fd == g->fd[0] ? TLS_TX : TLS_RX,
					 buf, &len) ? errno : 0;
			if (!err && (((struct tls_crypto_info *)buf)->version !=
				      r->version ||
				      ((struct tls_crypto_info *)buf)->cipher_type !=
				      r->cipher->type))
				failf(r, "getsockopt(TLS_%s) gave version %#x cipher %d",
				      fd == g->fd[0] ? "TX" : "RX",
				      ((struct tls_crypto_info *)buf)->version,
				      ((struct tls_crypto_info *)buf)->cipher_type);
			break;
		case 4:
			err = no_pad_toggle(r, g->fd[1], &rng);
			break;
		case 5: {
			struct pollfd p = { fd, POLLIN | POLLOUT, 0 };

			poll(&p, 1, below(&rng, 20));
			break;
		}
		default:
			ioctl(fd, fd == g->fd[0] ? SIOCOUTQ : SIOCINQ, &v);
			break;
		}
		count_call(r, err ? -1 : 0, err);
		if (err)
			failf(r, "knobs: %s", ename(err));
		sleep_ms(below(&rng, 15));
	}
	set_int(g->fd[1], SOL_SOCKET, SO_RCVLOWAT, 1);
	return NULL;
}

/* The single reader's check of the stream */
static void integ_feed(struct integ *g, const u8 *p, size_t n)
{
	struct round *r = g->r;

	while (n && !g->broken) {
		size_t need = CHUNK_HDR, k;
		u32 tid, seq, plen;

		if (g->pend_len >= CHUNK_HDR)
			need += get32(g->pend + 12);
		k = need - g->pend_len;
		if (k > n)
			k = n;
		memcpy(g->pend + g->pend_len, p, k);
		g->pend_len += k;
		p += k;
		n -= k;
		if (g->pend_len < CHUNK_HDR)
			return;
		tid = get32(g->pend + 4);
		seq = get32(g->pend + 8);
		plen = get32(g->pend + 12);
		if (g->pend_len == CHUNK_HDR &&
		    (get32(g->pend) != CHUNK_MAGIC || tid >= (u32)g->nsend ||
		     seq != g->next_seq[tid] ||
		     plen > CHUNK_MAX - CHUNK_HDR)) {
			failf(r, "stream offset %zu: bad chunk header (magic %#x sender %u seq %u len %u; sender's next seq %u): chunks cut or reordered",
			      g->off, get32(g->pend), tid, seq, plen,
			      tid < (u32)g->nsend ? g->next_seq[tid] : 0);
			g->broken = true;
			return;
		}
		if (g->pend_len < CHUNK_HDR + plen)
			continue;
		{
			u8 *want = xzalloc(plen + 1);
			size_t i;

			payload_make(r->seed, tid, seq, want, plen);
			if (inject == INJ_DATA && !g->injected && plen) {
				want[plen / 2] ^= 0x20;
				g->injected = true;
			}
			for (i = 0; i < plen; i++)
				if (want[i] != g->pend[CHUNK_HDR + i])
					break;
			if (i < plen ||
			    fnv1a(g->pend + CHUNK_HDR, plen) !=
			    get32(g->pend + 16)) {
				failf(r, "stream offset %zu: chunk sender %u seq %u len %u differs at payload byte %zu (got %#x, want %#x)",
				      g->off, tid, seq, plen, i,
				      i < plen ? g->pend[CHUNK_HDR + i] : 0,
				      i < plen ? want[i] : 0);
				g->broken = true;
			}
			free(want);
		}
		g->next_seq[tid]++;
		g->off += g->pend_len;
		g->pend_len = 0;
	}
}

static void integ_got(struct reader *rd, const u8 *p, size_t n)
{
	sums(p, n, &rd->sum, &rd->sq);
	rd->bytes += n;
	if (!rd->g->multi)
		integ_feed(rd->g, p, n);
}

/*
 * A control record is next (a read without room for its type failed):
 * read it with its type. A KeyUpdate: install the next TLS_RX keys.
 * Returns false when the stream cannot go on.
 */
static bool integ_control(struct reader *rd, const u8 *got, ssize_t n,
			  int type)
{
	struct integ *g = rd->g;
	struct round *r = g->r;
	u8 buf[64];
	int err;

	if (!got) {
		n = recv_typed(g->fd[1], buf, sizeof(buf), 0, &type, NULL);
		err = errno;
		count_call(r, n, err);
		if (n < 0 && (err == EAGAIN || err == EKEYEXPIRED))
			return true;	/* another reader took it */
		if (n < 0) {
			failf(r, "reader %d: control record: %s", rd->id,
			      ename(err));
			return false;
		}
		if (type == T_DATA || (type < 0 && n > 0)) {
			/* another reader took it; data came instead */
			integ_got(rd, buf, n);
			return true;
		}
		if (n == 0)
			return true;
		got = buf;
	}
	if (type != T_HS || n != KU_LEN || got[0] != HS_KEY_UPDATE ||
	    got[3] != 1) {
		failf(r, "reader %d: unexpected record type %d, %zd bytes (first %#x)",
		      rd->id, type, n, n > 0 ? got[0] : 0);
		return false;
	}
	pthread_mutex_lock(&g->rx_lock);
	err = set_keys(r, g->fd[1], TLS_RX, 0, g->rx_gen + 1);
	if (!err)
		g->rx_gen++;
	pthread_mutex_unlock(&g->rx_lock);
	count_call(r, err ? -1 : 0, err);
	if (err) {
		failf(r, "reader %d: TLS_RX after KeyUpdate: %s", rd->id,
		      ename(err));
		return false;
	}
	return true;
}

static void *integ_reader(void *arg)
{
	struct reader *rd = arg;
	struct integ *g = rd->g;
	struct round *r = g->r;
	int fd = g->fd[1];
	unsigned long ops = 0;

	while (!rd->eof && !__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
		size_t want = some_size(&rd->rng, 65536);
		unsigned int how = below(&rd->rng, g->multi ? 8 : 9);
		int err = 0, type = -1;
		ssize_t n;

		ops++;
		if (chance(&rd->rng, 4)) {
			count(r, 3, 1);
			sleep_ms(between(&rd->rng, 5, 150));
		}
		if (chance(&rd->rng, 5)) {
			int v = between(&rd->rng, 1, 20000);

			setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
		}
		switch (how) {
		case 0:
			n = recv(fd, rd->buf, want, 0);
			break;
		case 1:
			n = read(fd, rd->buf, want);
			break;
		case 2:
			n = recv_typed(fd, rd->buf, want < KU_LEN ?
				       KU_LEN : want, 0, &type, NULL);
			break;
		case 3:
			n = recv(fd, rd->buf, want, MSG_WAITALL);
			break;
		case 4: {
			struct pollfd p = { fd, POLLIN, 0 };
			int k = poll(&p, 1, 1000);

			count(r, 7, 1);
			n = recv(fd, rd->buf, want, MSG_DONTWAIT);
			if (!g->multi && k == 1 && (p.revents & POLLIN) &&
			    n < 0 && errno == EAGAIN)
				failf(r, "poll() said POLLIN, recv(MSG_DONTWAIT) EAGAIN");
			break;
		}
		case 5: {
			struct epoll_event ev;
			int k = epoll_wait(rd->ep, &ev, 1, 1000);

			count(r, 7, 1);
			n = recv(fd, rd->buf, want, MSG_DONTWAIT);
			if (!g->multi && k == 1 && (ev.events & EPOLLIN) &&
			    n < 0 && errno == EAGAIN)
				failf(r, "epoll said EPOLLIN, recv(MSG_DONTWAIT) EAGAIN");
			break;
		}
		case 6:
		case 7:
			n = splice(fd, NULL, rd->pipe[1], NULL, want, 0);
			count(r, 6, 1);
			if (n > 0 && pipe_take(rd->pipe[0], rd->buf, n))
				die("pipe read: %s", strerror(errno));
			if (n < 0 && errno == EINVAL)
				errno = EIO;	/* a control record is next */
			break;
		default: {
			/* MSG_PEEK, then the same bytes must come */
			ssize_t k = recv(fd, rd->peek, want, MSG_PEEK);

			if (k <= 0) {
				n = k;
				break;
			}
			count(r, 2, 1);
			n = recv(fd, rd->buf, k, 0);
			if (n > 0 && memcmp(rd->buf, rd->peek, n))
				failf(r, "recv() after MSG_PEEK gave other bytes (%zd of %zd peeked)",
				      n, k);
			break;
		}
		}
		err = errno;
		count_call(r, n, err);
		if (n > 0 && type == T_HS) {
			if (!integ_control(rd, rd->buf, n, type))
				break;
			continue;
		}
		if (n > 0) {
			if (type >= 0 && type != T_DATA) {
				failf(r, "data read with record type %d", type);
				break;
			}
			integ_got(rd, rd->buf, n);
			continue;
		}
		if (n == 0) {
			rd->eof = true;
			break;
		}
		if (err == EAGAIN)
			continue;
		if (err == EIO) {
			if (!integ_control(rd, NULL, 0, -1))
				break;
			continue;
		}
		if (err == EKEYEXPIRED && g->rekey) {
			/* another reader read the KeyUpdate and sets keys */
			sleep_ms(1);
			continue;
		}
		failf(r, "reader %d: read method %u: %s", rd->id, how,
		      ename(err));
		break;
	}
	vlog(r, "reader %d: %lu calls, %" PRIu64 " bytes%s", rd->id, ops,
	     rd->bytes, rd->eof ? ", EOF" : "");
	return NULL;
}

static void scen_integrity(struct round *r, u64 *rng)
{
	struct integ *g = xzalloc(sizeof(*g));
	struct pair_opt o = {};
	pthread_t ts[MAX_THREADS], trd[MAX_THREADS], tk, trk;
	struct epoll_event ev = { .events = EPOLLIN };
	u64 bytes = 0, sum = 0, sq = 0;
	int i;

	g->r = r;
	g->multi = r->scen == S_INTEGRITY_MR;
	g->nsend = between(rng, 1, 4);
	g->nread = g->multi ? between(rng, 2, 3) : 1;
	g->rekey = r->version == TLS_1_3_VERSION && chance(rng, 60);
	static const int bufs[] = { 0, 4096, 16384, 65536, 262144 };

	o.a_sndbuf = bufs[below(rng, 5)];
	o.b_rcvbuf = bufs[below(rng, 5)];
	make_pair(r, &o, g->fd);
	/* a blocking send must not be cut: timeouts far past any stall */
	set_timeouts(g->fd[0], 3000, 60000);
	set_timeouts(g->fd[1], 3000, 60000);
	pthread_rwlock_init(&g->rekey_lock, NULL);
	pthread_mutex_init(&g->rx_lock, NULL);
	g->pend = xzalloc(CHUNK_MAX);
	g->senders_left = g->nsend;
	vlog(r, "%d senders, %d readers, sndbuf %d rcvbuf %d, rekey %d",
	     g->nsend, g->nread, o.a_sndbuf, o.b_rcvbuf, g->rekey);

	for (i = 0; i < g->nread; i++) {
		struct reader *rd = &g->rd[i];

		rd->g = g;
		rd->id = i;
		rd->rng = mix(r->seed, 0x7264000 + i);
		rd->buf = xzalloc(65536 + 16);
		rd->peek = xzalloc(65536 + 16);
		pipe_big(rd->pipe);
		fcntl(rd->pipe[1], F_SETPIPE_SZ, 1 << 20);
		rd->ep = epoll_create1(EPOLL_CLOEXEC);
		if (rd->ep < 0 || epoll_ctl(rd->ep, EPOLL_CTL_ADD, g->fd[1], &ev))
			die("epoll: %s", strerror(errno));
		spawn(&trd[i], integ_reader, rd);
	}
	for (i = 0; i < g->nsend; i++) {
		struct sender *s = &g->s[i];

		s->g = g;
		s->id = i;
		s->rng = mix(r->seed, 0x7364000 + i);
		s->buf = xzalloc(CHUNK_MAX);
		pipe_big(s->pipe);
		s->memfd = memfd_create("ktls-stress", MFD_CLOEXEC);
		if (s->memfd < 0 || ftruncate(s->memfd, SLOTS * SLOT))
			die("memfd: %s", strerror(errno));
		spawn(&ts[i], integ_sender, s);
	}
	spawn(&tk, integ_knobs, g);
	if (g->rekey)
		spawn(&trk, integ_rekeyer, g);

	for (i = 0; i < g->nsend; i++)
		pthread_join(ts[i], NULL);
	if (g->rekey)
		pthread_join(trk, NULL);
	/* the end of the stream: the readers see EOF after the last chunk */
	if (shutdown(g->fd[0], SHUT_WR))
		failf(r, "shutdown(SHUT_WR): %s", ename(errno));
	for (i = 0; i < g->nread; i++)
		pthread_join(trd[i], NULL);
	__atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
	pthread_join(tk, NULL);

	for (i = 0; i < g->nread; i++) {
		struct reader *rd = &g->rd[i];

		bytes += rd->bytes;
		sum += rd->sum;
		sq += rd->sq;
		if (!rd->eof && !r->failures)
			failf(r, "reader %d did not see EOF", i);
		count(r, 2, g->multi && rd->eof);
	}
	if (bytes != g->sent_bytes || sum != g->sent_sum || sq != g->sent_sq)
		failf(r, "senders sent %" PRIu64 " bytes (sum %" PRIu64 "), readers got %" PRIu64 " (sum %" PRIu64 ")",
		      g->sent_bytes, g->sent_sum, bytes, sum);
	if (!g->multi && !g->broken) {
		if (g->pend_len)
			failf(r, "the stream ends inside a chunk (%zu bytes)",
			      g->pend_len);
		for (i = 0; i < g->nsend; i++)
			if (g->next_seq[i] != g->s[i].chunks)
				failf(r, "sender %d sent %u chunks, %u arrived",
				      i, g->s[i].chunks, g->next_seq[i]);
	}
	__atomic_add_fetch(&stats[r->scen].bytes, bytes, __ATOMIC_RELAXED);
	if (g->rekey)
		vlog(r, "%u KeyUpdates sent, %u received", g->tx_gen,
		     g->rx_gen);
	if (g->rekey && g->rx_gen != g->tx_gen && !r->failures)
		failf(r, "%u KeyUpdates sent, %u read", g->tx_gen, g->rx_gen);

	close(g->fd[0]);
	close(g->fd[1]);
	for (i = 0; i < g->nread; i++) {
		close(g->rd[i].pipe[0]);
		close(g->rd[i].pipe[1]);
		close(g->rd[i].ep);
		free(g->rd[i].buf);
		free(g->rd[i].peek);
	}
	for (i = 0; i < g->nsend; i++) {
		close(g->s[i].pipe[0]);
		close(g->s[i].pipe[1]);
		close(g->s[i].memfd);
		free(g->s[i].buf);
	}
	pthread_rwlock_destroy(&g->rekey_lock);
	pthread_mutex_destroy(&g->rx_lock);
	free(g->pend);
	free(g);
}

/* ---- scenarios: teardown ------------------------------------------------------ */

enum { K_CLOSE, K_SHUT_RD, K_SHUT_WR, K_SHUT_RDWR, K_PEER_CLOSE,
       K_PEER_RESET, K_NUM };
static const char *const kill_name[K_NUM] = {
	"close", "shutdown(SHUT_RD)", "shutdown(SHUT_WR)",
	"shutdown(SHUT_RDWR)", "peer close", "peer reset",
};

struct td;

struct worker {
	struct td *t;
	int id;
	u64 rng;
	int pipe[2], memfd, ep;
	u8 *buf;
};

struct td {
	struct round *r;
	int fd[2];
	int nwork;
	int action, peer_mode;
	long timeo_ms, limit_ms;
	int stop, a_closed, peer_stop;	/* atomics */
	struct worker w[MAX_THREADS];
	u8 *peer_buf;
};

/* Errnos a call on the torn-down socket may end with */
static const int td_send_ok[] = { EAGAIN, EPIPE, ECONNRESET, EBADF,
				  ENOTCONN, 0 };
/*
 * EPIPE too: a peer that closed (FIN) and then reset, on data sent after
 * its close, leaves TCP's sk_err at EPIPE (tcp_reset() in CLOSE_WAIT).
 * Plain TCP reads return 0 there (SOCK_DONE is checked first); kTLS
 * reports sk_err before EOF, as upstream's tls_rx_rec_wait() does.
 */
static const int td_recv_ok[] = { EAGAIN, ECONNRESET, EPIPE, EBADF,
				  ENOTCONN, 0 };
static const int td_opt_ok[] = { EBADF, EBUSY, 0 };

static void *td_worker(void *arg)
{
	struct worker *w = arg;
	struct td *t = w->t;
	struct round *r = t->r;
	int fd = t->fd[0];

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		unsigned int op = below(&w->rng, 12);
		size_t len = some_size(&w->rng, 65536);
		bool closed = __atomic_load_n(&t->a_closed, __ATOMIC_ACQUIRE);
		const int *ok = td_recv_ok;
		long t0 = now_ms(), dt, limit = t->limit_ms;
		ssize_t n = 0;
		int err = 0, v;
		socklen_t sl;

		switch (op) {
		case 0:
		case 1:
			ok = td_send_ok;
			n = send(fd, w->buf, len, MSG_NOSIGNAL |
				 (chance(&w->rng, 20) ? MSG_MORE : 0) |
				 (chance(&w->rng, 20) ? MSG_DONTWAIT : 0));
			break;
		case 2:
			ok = td_send_ok;
			n = sendfile(fd, w->memfd, &(off_t){0},
				     len < SLOT ? len : SLOT);
			break;
		case 3:
			ok = td_send_ok;
			if (len > 60000)
				len = 60000;
			if (write(w->pipe[1], w->buf, len) != (ssize_t)len)
				die("pipe write: %s", strerror(errno));
			n = splice(w->pipe[0], NULL, fd, NULL, len, 0);
			err = errno;
			pipe_drain(w->pipe[0]);
			errno = err;
			break;
		case 4:
		case 5:
			n = recv(fd, w->buf, len,
				 chance(&w->rng, 20) ? MSG_PEEK :
				 chance(&w->rng, 20) ? MSG_WAITALL : 0);
			break;
		case 6:
			n = splice(fd, NULL, w->pipe[1], NULL, len, 0);
			err = errno;
			pipe_drain(w->pipe[0]);
			errno = err;
			break;
		case 7: {
			struct pollfd p = { fd, POLLIN | POLLOUT, 0 };

			n = poll(&p, 1, 300);
			if (n == 1 && (p.revents & POLLNVAL)) {
				n = -1;
				errno = EBADF;
			}
			break;
		}
		case 8: {
			struct epoll_event ev;

			n = epoll_wait(w->ep, &ev, 1, 300);
			break;
		}
		case 9:
			ok = td_opt_ok;
			v = between(&w->rng, 1, 70000);
			n = setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v,
				       sizeof(v));
			break;
		case 10: {
			u8 buf[128];

			ok = td_opt_ok;
			sl = info_size(r->cipher);
			n = getsockopt(fd, SOL_TLS,
				       chance(&w->rng, 50) ? TLS_TX : TLS_RX,
				       buf, &sl);
			break;
		}
		default:
			/* next keys: 0 under TLS 1.3, EBUSY under 1.2 */
			ok = td_opt_ok;
			err = set_keys(r, fd, TLS_TX, 0, 1 + below(&w->rng, 9));
			n = err ? -1 : 0;
			errno = err;
			if (err == EBUSY && r->version == TLS_1_3_VERSION)
				failf(r, "TLS 1.3 TLS_TX again: EBUSY");
			break;
		}
		err = errno;
		dt = now_ms() - t0;
		count_call(r, n, err);
		if (dt > limit)
			failf(r, "op %u (%s) blocked %ld ms (limit %ld): %zd %s",
			      op, kill_name[t->action], dt, limit, n,
			      n < 0 ? ename(err) : "");
		else if (dt >= t->timeo_ms / 2 && (op < 9))
			count(r, 6, 1);
		if (n < 0 && !in_set(err, ok))
			failf(r, "op %u after %s: %s", op,
			      kill_name[t->action], ename(err));
		if (n < 0 && err == EBADF) {
			if (!closed && !__atomic_load_n(&t->a_closed,
							__ATOMIC_ACQUIRE))
				failf(r, "op %u: EBADF on an open socket", op);
			count(r, 7, 1);
			break;
		}
		/* a socket shut down fails at once: don't spin */
		if (n < 0 && err != EAGAIN)
			sleep_ms(2);
	}
	return NULL;
}

/* The peer: reads, stalls, or sends a little now and then */
static void *td_peer(void *arg)
{
	struct td *t = arg;
	u64 rng = mix(t->r->seed, 0x70656572ULL);
	int fd = t->fd[1];

	while (!__atomic_load_n(&t->peer_stop, __ATOMIC_ACQUIRE)) {
		ssize_t n;

		switch (t->peer_mode) {
		case 0:
			n = recv(fd, t->peer_buf, 65536, 0);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return NULL;
			break;
		case 1:
			sleep_ms(50);
			break;
		default:
			n = send(fd, t->peer_buf, some_size(&rng, 20000),
				 MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN)
				return NULL;
			n = recv(fd, t->peer_buf, 65536, MSG_DONTWAIT);
			if (n == 0)
				return NULL;
			sleep_ms(below(&rng, 40));
			break;
		}
	}
	return NULL;
}

static void scen_teardown(struct round *r, u64 *rng)
{
	struct td *t = xzalloc(sizeof(*t));
	struct pair_opt o = {};
	pthread_t tw[MAX_THREADS], tp;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT };
	bool peer_closed = false;
	int i, err = 0;

	t->r = r;
	t->nwork = between(rng, 3, 6);
	t->action = below(rng, K_NUM);
	t->peer_mode = below(rng, 3);
	t->timeo_ms = between(rng, 200, 1000);
	/* waits for the TX mutex add up: each holder waits its timeout */
	t->limit_ms = (t->nwork + 2) * t->timeo_ms + 15000;
	o.a_sndbuf = chance(rng, 50) ? 8192 : 0;
	o.b_rcvbuf = chance(rng, 50) ? 8192 : 0;
	make_pair(r, &o, t->fd);
	set_timeouts(t->fd[0], t->timeo_ms, t->timeo_ms);
	set_timeouts(t->fd[1], 200, 200);
	t->peer_buf = xzalloc(65536);
	vlog(r, "%d workers, %s, peer mode %d, timeout %ld ms", t->nwork,
	     kill_name[t->action], t->peer_mode, t->timeo_ms);
	spawn(&tp, td_peer, t);
	for (i = 0; i < t->nwork; i++) {
		struct worker *w = &t->w[i];

		w->t = t;
		w->id = i;
		w->rng = mix(r->seed, 0x776b000 + i);
		w->buf = xzalloc(65536);
		memset(w->buf, 'a' + i, 65536);
		pipe_big(w->pipe);
		fcntl(w->pipe[0], F_SETFL, O_NONBLOCK);
		w->memfd = memfd_create("ktls-stress", MFD_CLOEXEC);
		if (w->memfd < 0 || ftruncate(w->memfd, SLOT))
			die("memfd: %s", strerror(errno));
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (w->ep < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, t->fd[0], &ev))
			die("epoll: %s", strerror(errno));
		spawn(&tw[i], td_worker, w);
	}

	sleep_ms(between(rng, 0, 400));
	count(r, t->action, 1);
	switch (t->action) {
	case K_CLOSE:
		/* the fd goes; calls in progress keep the file */
		__atomic_store_n(&t->a_closed, 1, __ATOMIC_RELEASE);
		err = close(t->fd[0]) ? errno : 0;
		break;
	case K_SHUT_RD:
	case K_SHUT_WR:
	case K_SHUT_RDWR:
		err = shutdown(t->fd[0], t->action - K_SHUT_RD) ? errno : 0;
		break;
	default:
		__atomic_store_n(&t->peer_stop, 1, __ATOMIC_RELEASE);
		pthread_join(tp, NULL);
		if (t->action == K_PEER_RESET)
			set_linger0(t->fd[1]);
		err = close(t->fd[1]) ? errno : 0;
		peer_closed = true;
		break;
	}
	count_call(r, err ? -1 : 0, err);
	if (err)
		failf(r, "%s: %s", kill_name[t->action], ename(err));
	sleep_ms(between(rng, 100, 800));
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < t->nwork; i++)
		pthread_join(tw[i], NULL);
	if (!peer_closed) {
		__atomic_store_n(&t->peer_stop, 1, __ATOMIC_RELEASE);
		pthread_join(tp, NULL);
		if (chance(rng, 30))
			set_linger0(t->fd[1]);
		close(t->fd[1]);
	}
	if (t->action != K_CLOSE)
		close(t->fd[0]);
	for (i = 0; i < t->nwork; i++) {
		close(t->w[i].pipe[0]);
		close(t->w[i].pipe[1]);
		close(t->w[i].memfd);
		close(t->w[i].ep);
		free(t->w[i].buf);
	}
	free(t->peer_buf);
	free(t);
}

/* ---- scenarios: stall-reset ----------------------------------------------------- */

enum { V_PEER_RESET, V_CLOSE, V_SHUT_WR, V_LINGER0, V_CLOSE_RESET, V_NUM };
static const char *const stall_name[V_NUM] = {
	"peer reset", "close", "shutdown(SHUT_WR)", "close with SO_LINGER 0",
	"close and peer reset",
};

struct stall;

struct ssender {
	struct stall *st;
	int id;
	u64 rng;
	int pipe[2], memfd;
	u8 *buf;
};

struct stall {
	struct round *r;
	int fd[2];
	int nsend, variant;
	long timeo_ms, limit_ms;
	int stop, closed;		/* atomics */
	u64 accepted;			/* atomic */
	u64 pos;			/* one sender: its stream position */
	struct ssender s[MAX_THREADS];
};

/* The byte at stream position @p of a one-sender stream */
static u8 stream_byte(u64 seed, u64 p)
{
	u64 x = (p >> 3) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x >> 29;
	return x >> ((p & 7) * 8);
}

static void stream_fill(u64 seed, u64 pos, u8 *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = stream_byte(seed, pos + i);
}

static const int stall_send_ok[] = { EAGAIN, EPIPE, ECONNRESET, EBADF, 0 };

static void *stall_sender(void *arg)
{
	struct ssender *s = arg;
	struct stall *st = s->st;
	struct round *r = st->r;
	int fd = st->fd[0];
	bool one = st->nsend == 1;

	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		size_t len = between(&s->rng, 1, 60000);
		unsigned int how = below(&s->rng, 4);
		bool closed = __atomic_load_n(&st->closed, __ATOMIC_ACQUIRE);
		long t0, dt;
		ssize_t n;
		int err;

		if (one)
			stream_fill(r->seed, st->pos, s->buf, len);
		else
			memset(s->buf, 'A' + s->id, len);
		t0 = now_ms();
		switch (how) {
		case 0:
		case 1:
			n = send(fd, s->buf, len, MSG_NOSIGNAL);
			break;
		case 2:
			if (pwrite(s->memfd, s->buf, len, 0) != (ssize_t)len)
				die("pwrite: %s", strerror(errno));
			n = sendfile(fd, s->memfd, &(off_t){0}, len);
			break;
		default:
			if (write(s->pipe[1], s->buf, len) != (ssize_t)len)
				die("pipe write: %s", strerror(errno));
			n = splice(s->pipe[0], NULL, fd, NULL, len, 0);
			err = errno;
			pipe_drain(s->pipe[0]);
			errno = err;
			break;
		}
		err = errno;
		dt = now_ms() - t0;
		count_call(r, n, err);
		if (dt > st->limit_ms)
			failf(r, "sender %d: call %u blocked %ld ms (limit %ld) (%s)",
			      s->id, how, dt, st->limit_ms,
			      stall_name[st->variant]);
		if (dt >= st->timeo_ms / 2)
			count(r, 7, 1);
		if (n > 0) {
			__atomic_add_fetch(&st->accepted, n, __ATOMIC_RELAXED);
			st->pos += n;
			continue;
		}
		if (!in_set(err, stall_send_ok) || (err == EBADF && !closed &&
		    !__atomic_load_n(&st->closed, __ATOMIC_ACQUIRE))) {
			failf(r, "sender %d: call %u: %s (%s)", s->id, how,
			      ename(err), stall_name[st->variant]);
			break;
		}
		if (err == EBADF)
			break;
		if (err != EAGAIN)
			sleep_ms(20);
	}
	return NULL;
}

/* The peer reads everything left: returns the bytes, checks them */
static u64 stall_drain(struct stall *st, bool check)
{
	struct round *r = st->r;
	u8 *buf = xzalloc(65536);
	u64 got = 0;
	long deadline = now_ms() + 60000;

	set_timeouts(st->fd[1], 1000, 1000);
	while (now_ms() < deadline) {
		ssize_t n = recv(st->fd[1], buf, 65536, 0);
		int err = errno;
		ssize_t i;

		count_call(r, n, err);
		if (n == 0)
			break;
		if (n < 0 && err == EAGAIN)
			continue;
		if (n < 0) {
			failf(r, "peer read after %s: %s (%" PRIu64 " bytes in)",
			      stall_name[st->variant], ename(err), got);
			break;
		}
		if (check) {
			for (i = 0; i < n; i++)
				if (buf[i] != stream_byte(r->seed, got + i))
					break;
			if (i < n) {
				failf(r, "peer: byte %" PRIu64 " differs after %s",
				      got + i, stall_name[st->variant]);
				check = false;
			} else {
				count(r, 6, n);
			}
		}
		got += n;
	}
	free(buf);
	return got;
}

static void scen_stall(struct round *r, u64 *rng)
{
	struct stall *st = xzalloc(sizeof(*st));
	struct pair_opt o = {};
	pthread_t ts[MAX_THREADS];
	bool drain = false;
	int i, err = 0;

	st->r = r;
	st->nsend = between(rng, 1, 3);
	st->variant = below(rng, V_NUM);
	st->timeo_ms = between(rng, 300, 1500);
	st->limit_ms = (st->nsend + 2) * st->timeo_ms + 15000;
	o.a_sndbuf = chance(rng, 50) ? 16384 : 0;
	o.b_rcvbuf = chance(rng, 50) ? 16384 : 0;
	make_pair(r, &o, st->fd);
	set_timeouts(st->fd[0], st->timeo_ms, st->timeo_ms);
	vlog(r, "%d senders, %s, timeout %ld ms", st->nsend,
	     stall_name[st->variant], st->timeo_ms);
	for (i = 0; i < st->nsend; i++) {
		struct ssender *s = &st->s[i];

		s->st = st;
		s->id = i;
		s->rng = mix(r->seed, 0x737400 + i);
		s->buf = xzalloc(65536);
		pipe_big(s->pipe);
		fcntl(s->pipe[0], F_SETFL, O_NONBLOCK);
		s->memfd = memfd_create("ktls-stress", MFD_CLOEXEC);
		if (s->memfd < 0)
			die("memfd: %s", strerror(errno));
		spawn(&ts[i], stall_sender, s);
	}
	/* the window fills: the peer reads nothing */
	sleep_ms(between(rng, 200, 1200));
	count(r, st->variant, 1);
	switch (st->variant) {
	case V_PEER_RESET:
		set_linger0(st->fd[1]);
		err = close(st->fd[1]) ? errno : 0;
		st->fd[1] = -1;
		break;
	case V_CLOSE:
	case V_LINGER0:
		if (st->variant == V_LINGER0)
			set_linger0(st->fd[0]);
		__atomic_store_n(&st->closed, 1, __ATOMIC_RELEASE);
		err = close(st->fd[0]) ? errno : 0;
		drain = st->variant == V_CLOSE;
		break;
	case V_SHUT_WR:
		err = shutdown(st->fd[0], SHUT_WR) ? errno : 0;
		drain = true;
		break;
	default:
		__atomic_store_n(&st->closed, 1, __ATOMIC_RELEASE);
		set_linger0(st->fd[1]);
		err = close(st->fd[0]) ? errno : 0;
		if (close(st->fd[1]) && !err)
			err = errno;
		st->fd[1] = -1;
		break;
	}
	count_call(r, err ? -1 : 0, err);
	if (err)
		failf(r, "%s: %s", stall_name[st->variant], ename(err));
	sleep_ms(between(rng, 50, 600));
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < st->nsend; i++)
		pthread_join(ts[i], NULL);
	count(r, 5, st->accepted);
	if (drain) {
		/* every byte a send accepted reaches the peer, then EOF */
		u64 got = stall_drain(st, st->nsend == 1);

		if (got != st->accepted)
			failf(r, "sends accepted %" PRIu64 " bytes, the peer read %" PRIu64 " after %s",
			      st->accepted, got, stall_name[st->variant]);
		__atomic_add_fetch(&stats[r->scen].bytes, got,
				   __ATOMIC_RELAXED);
	}
	if (st->variant != V_CLOSE && st->variant != V_LINGER0 &&
	    st->variant != V_CLOSE_RESET)
		close(st->fd[0]);
	if (st->fd[1] >= 0)
		close(st->fd[1]);
	for (i = 0; i < st->nsend; i++) {
		close(st->s[i].pipe[0]);
		close(st->s[i].pipe[1]);
		close(st->s[i].memfd);
		free(st->s[i].buf);
	}
	free(st);
}

/* ---- scenarios: rekey-race ---------------------------------------------------- */

struct rk {
	struct round *r;
	int fd[2];
	int stop;		/* atomic */
	unsigned int txgen, rxgen;	/* atomics */
	int pipe[4][2];
};

/* What a read may end with while keys change under it */
static const int rk_read_ok[] = { EAGAIN, EBADMSG, EKEYEXPIRED, EIO,
				  EINVAL, 0 };
static const int rk_send_ok[] = { EAGAIN, 0 };

static void *rk_sender(void *arg)
{
	struct rk *k = ((void **)arg)[0];
	long id = (long)((void **)arg)[1];
	struct round *r = k->r;
	u64 rng = mix(r->seed, 0x726b73000 + id);
	u8 *buf = xzalloc(65536);

	memset(buf, 'x', 65536);
	while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
		size_t len = some_size(&rng, 40000);
		ssize_t n;
		int err;

		if (chance(&rng, 30)) {
			if (write(k->pipe[id][1], buf, len) != (ssize_t)len)
				die("pipe write: %s", strerror(errno));
			n = splice(k->pipe[id][0], NULL, k->fd[0], NULL, len,
				   chance(&rng, 30) ? SPLICE_F_MORE : 0);
			err = errno;
			pipe_drain(k->pipe[id][0]);
			errno = err;
		} else {
			n = send(k->fd[0], buf, len, MSG_NOSIGNAL |
				 (chance(&rng, 30) ? MSG_MORE : 0));
		}
		err = errno;
		count_call(r, n, err);
		if (n < 0 && !in_set(err, rk_send_ok)) {
			failf(r, "sender %ld: %s", id, ename(err));
			break;
		}
	}
	free(buf);
	return NULL;
}

static void *rk_reader(void *arg)
{
	struct rk *k = ((void **)arg)[0];
	long id = (long)((void **)arg)[1];
	struct round *r = k->r;
	u64 rng = mix(r->seed, 0x726b72000 + id);
	u8 *buf = xzalloc(65536);
	int pi = 2 + id;

	while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
		size_t len = some_size(&rng, 65536);
		int type, err;
		ssize_t n;

		switch (below(&rng, 4)) {
		case 0:
			n = recv(k->fd[1], buf, len, 0);
			break;
		case 1:
			n = recv(k->fd[1], buf, len, MSG_PEEK);
			break;
		case 2:
			n = splice(k->fd[1], NULL, k->pipe[pi][1], NULL, len,
				   0);
			err = errno;
			pipe_drain(k->pipe[pi][0]);
			errno = err;
			break;
		default:
			n = recv_typed(k->fd[1], buf, len, 0, &type, NULL);
			break;
		}
		err = errno;
		count_call(r, n, err);
		if (n < 0 && err == EBADMSG) {
			count(r, 6, 1);
			sleep_ms(5);
		}
		/* until the other thread installs TLS_RX keys */
		if (n < 0 && err == EKEYEXPIRED)
			sleep_ms(1);
		if (n < 0 && !in_set(err, rk_read_ok)) {
			failf(r, "reader %ld: %s", id, ename(err));
			break;
		}
		if (n == 0)
			sleep_ms(5);
	}
	free(buf);
	return NULL;
}

static void *rk_setter(void *arg)
{
	struct rk *k = ((void **)arg)[0];
	long id = (long)((void **)arg)[1];	/* 0: TX side, 1: RX side */
	struct round *r = k->r;
	u64 rng = mix(r->seed, 0x726b6b000 + id);
	bool tls13 = r->version == TLS_1_3_VERSION;
	int fd = k->fd[id], opt = id ? TLS_RX : TLS_TX;
	u8 buf[128];

	while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
		int err, want;
		size_t n;
		socklen_t sl;

		sleep_ms(below(&rng, 30));
		switch (below(&rng, 6)) {
		case 0:
		case 1: {
			unsigned int gen = __atomic_add_fetch(id ? &k->rxgen :
							      &k->txgen, 1,
							      __ATOMIC_RELAXED);

			if (!id && tls13 && chance(&rng, 50)) {
				u8 ku[KU_LEN] = { HS_KEY_UPDATE, 0,
							  0, 1, 0 };
				ssize_t s = send_typed(fd, T_HS, ku,
						       sizeof(ku));

				err = errno;
				count_call(r, s, err);
				count(r, 2, s > 0);
				if (s < 0 && err != EAGAIN)
					failf(r, "KeyUpdate record: %s",
					      ename(err));
			}
			err = set_keys(r, fd, opt, id, gen);
			want = tls13 ? 0 : EBUSY;
			count(r, id, !err);
			count(r, 4, err == EBUSY);
			break;
		}
		case 2: {
			/* another cipher: EINVAL, keys kept */
			size_t next = (r->cipher - ktls_ciphers + 1) % 3;
			const struct ktls_cipher *c = &ktls_ciphers[next];

			n = key_make(r, c, id, 99, buf);
			err = setsockopt(fd, SOL_TLS, opt, buf, n) ? errno : 0;
			want = tls13 ? EINVAL : EBUSY;
			count(r, 5, err == EINVAL);
			break;
		}
		case 3:
		case 4:
			sl = chance(&rng, 50) ? sizeof(struct tls_crypto_info) :
					       info_size(r->cipher);
			err = getsockopt(fd, SOL_TLS, opt, buf, &sl) ? errno : 0;
			want = 0;
			count(r, 3, 1);
			if (!err && ((struct tls_crypto_info *)buf)->cipher_type !=
			    r->cipher->type)
				failf(r, "getsockopt gave cipher %d",
				      ((struct tls_crypto_info *)buf)->cipher_type);
			break;
		default:
			sl = info_size(r->cipher) + 1 + below(&rng, 8);
			err = getsockopt(fd, SOL_TLS, opt, buf, &sl) ? errno : 0;
			want = EINVAL;
			count(r, 3, 1);
			break;
		}
		count_call(r, err ? -1 : 0, err);
		if (err != want)
			failf(r, "%s side: %s where %s is documented",
			      id ? "RX" : "TX", ename(err), ename(want));
	}
	return NULL;
}

/* Options on both ends beside them */
static void *rk_knobs(void *arg)
{
	struct rk *k = arg;
	struct round *r = k->r;
	u64 rng = mix(r->seed, 0x726b6e000);

	while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
		int v = between(&rng, 1, 30000), err;
		u16 mp = between(&rng, 64, 16384);

		switch (below(&rng, 3)) {
		case 0:
			err = setsockopt(k->fd[1], SOL_SOCKET, SO_RCVLOWAT, &v,
					 sizeof(v)) ? errno : 0;
			break;
		case 1:
			err = no_pad_toggle(r, k->fd[1], &rng);
			break;
		default:
			err = setsockopt(k->fd[0], SOL_TLS,
					 TLS_TX_MAX_PAYLOAD_LEN, &mp,
					 sizeof(mp)) ? errno : 0;
			if (err == EBUSY)
				err = 0;
			break;
		}
		count_call(r, err ? -1 : 0, err);
		if (err)
			failf(r, "knobs: %s", ename(err));
		sleep_ms(below(&rng, 20));
	}
	return NULL;
}

static void scen_rekey(struct round *r, u64 *rng)
{
	struct rk *k = xzalloc(sizeof(*k));
	struct pair_opt o = {};
	pthread_t t[7];
	void *args[6][2];
	int i, nt = 0;

	k->r = r;
	count(r, 7, r->version == TLS_1_2_VERSION);
	make_pair(r, &o, k->fd);
	set_timeouts(k->fd[0], 300, 300);
	set_timeouts(k->fd[1], 300, 300);
	for (i = 0; i < 4; i++) {
		pipe_big(k->pipe[i]);
		fcntl(k->pipe[i][0], F_SETFL, O_NONBLOCK);
	}
	for (i = 0; i < 2; i++) {
		args[i][0] = k;
		args[i][1] = (void *)(long)i;
		spawn(&t[nt++], rk_sender, args[i]);
		args[2 + i][0] = k;
		args[2 + i][1] = (void *)(long)i;
		spawn(&t[nt++], rk_reader, args[2 + i]);
		args[4 + i][0] = k;
		args[4 + i][1] = (void *)(long)i;
		spawn(&t[nt++], rk_setter, args[4 + i]);
	}
	spawn(&t[nt++], rk_knobs, k);
	sleep_ms(between(rng, 300, 1500));
	__atomic_store_n(&k->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	if (chance(rng, 50))
		set_linger0(k->fd[1]);
	close(k->fd[1]);
	close(k->fd[0]);
	for (i = 0; i < 4; i++) {
		close(k->pipe[i][0]);
		close(k->pipe[i][1]);
	}
	free(k);
}

/* ---- scenarios: ulp ------------------------------------------------------------- */

struct race {
	int fd, port, kind;
	int res[2];
	int go;		/* atomic: start together */
};

static void race_wait(struct race *x)
{
	while (!__atomic_load_n(&x->go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void *race_connect(void *arg)
{
	struct race *x = arg;

	race_wait(x);
	x->res[0] = connect_to(x->fd, x->port);
	return NULL;
}

static void *race_disconnect(void *arg)
{
	struct race *x = arg;
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	race_wait(x);
	x->res[0] = connect(x->fd, &sa, sizeof(sa)) ? errno : 0;
	return NULL;
}

static void *race_listen(void *arg)
{
	struct race *x = arg;

	race_wait(x);
	x->res[0] = listen(x->fd, 8) ? errno : 0;
	return NULL;
}

/* attach until it works or the other side is done and one more try */
static void *race_attach(void *arg)
{
	struct race *x = arg;
	int tries = 0;

	race_wait(x);
	do {
		x->res[1] = attach(x->fd);
		if (x->res[1] != ENOTCONN)
			break;
		if (tries++ > 2000)
			break;
	} while (x->kind == 0);
	return NULL;
}

/*
 * A child accepted from @lfd must not have the ULP: TCP_ULP reads back
 * empty, and SOL_TLS is a level that plain TCP does not know
 */
static void check_child(struct round *r, int lfd, const char *what)
{
	int c = accept_within(lfd, 3000), u;
	u8 buf[64];
	socklen_t sl = sizeof(buf);

	if (c < 0) {
		failf(r, "%s: no child to accept", what);
		return;
	}
	u = ulp_of(c);
	if (u != 0)
		failf(r, "%s: accepted child has ULP (%d)", what, u);
	/* plain TCP: IP's answer for a level it does not know */
	else if (!getsockopt(c, SOL_TLS, TLS_TX, buf, &sl) ||
		 errno != EOPNOTSUPP)
		failf(r, "%s: child's getsockopt(SOL_TLS, TLS_TX): %s, not EOPNOTSUPP",
		      what, ename(errno));
	/* the child is an ordinary connection: kTLS attaches to it */
	else if (attach(c))
		failf(r, "%s: TCP_ULP on the child: %s", what, ename(errno));
	count(r, 6, 1);
	close(c);
}

static void ulp_one(struct round *r, u64 *rng, int lfd, int port)
{
	struct race x = { .port = port, .kind = below(rng, 5) };
	pthread_t a, b;
	int c, peer = -1, err;
	const char *what[] = { "attach vs connect", "attach vs disconnect",
			       "attach vs listen", "accept children",
			       "attach vs peer reset" };

	count(r, x.kind, 1);
	x.fd = tcp_socket();
	switch (x.kind) {
	case 0:
		spawn(&a, race_connect, &x);
		spawn(&b, race_attach, &x);
		__atomic_store_n(&x.go, 1, __ATOMIC_RELEASE);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		if (x.res[0])
			failf(r, "%s: connect: %s", what[0], ename(x.res[0]));
		if (x.res[1] && x.res[1] != ENOTCONN)
			failf(r, "%s: attach: %s", what[0], ename(x.res[1]));
		if (x.res[1] == ENOTCONN)
			x.res[1] = attach(x.fd);
		if (x.res[1] || ulp_of(x.fd) != 1)
			failf(r, "%s: no ULP after connect (%s)", what[0],
			      ename(x.res[1]));
		else
			count(r, 5, 1);
		peer = accept_within(lfd, 3000);
		if (peer >= 0 && ulp_of(peer) != 0)
			failf(r, "%s: the accepted peer has a ULP", what[0]);
		break;
	case 1: {
		bool pre = chance(rng, 30);

		if (connect_to(x.fd, port))
			die("connect: %s", strerror(errno));
		peer = accept_within(lfd, 3000);
		if (pre && attach(x.fd))
			failf(r, "attach: %s", ename(errno));
		spawn(&a, race_disconnect, &x);
		spawn(&b, race_attach, &x);
		__atomic_store_n(&x.go, 1, __ATOMIC_RELEASE);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		/* one of them, never both; attached first: EOPNOTSUPP */
		if (pre && (x.res[0] != EOPNOTSUPP || x.res[1] != EEXIST))
			failf(r, "%s (attached before): disconnect %s, attach %s",
			      what[1], ename(x.res[0]), ename(x.res[1]));
		if (!pre && !((x.res[0] == 0 && x.res[1] == ENOTCONN) ||
			      (x.res[0] == EOPNOTSUPP && x.res[1] == 0)))
			failf(r, "%s: disconnect %s, attach %s", what[1],
			      ename(x.res[0]), ename(x.res[1]));
		if (x.res[0] == 0) {
			/* the disconnected socket listens: its children */
			struct sockaddr_in sa = { .sin_family = AF_INET };
			socklen_t sl = sizeof(sa);
			int cl;

			count(r, 7, 1);
			if (ulp_of(x.fd) != 0)
				failf(r, "%s: disconnected socket has a ULP",
				      what[1]);
			if (listen(x.fd, 4) || getsockname(x.fd, (void *)&sa,
							   &sl)) {
				failf(r, "listen after disconnect: %s",
				      ename(errno));
				break;
			}
			if (attach(x.fd) != ENOTCONN)
				failf(r, "attach to a listener: not ENOTCONN");
			cl = tcp_socket();
			err = connect_to(cl, ntohs(sa.sin_port));
			if (err)
				failf(r, "connect to the re-listening socket: %s",
				      ename(err));
			else
				check_child(r, x.fd, what[1]);
			close(cl);
		} else if (ulp_of(x.fd) == 1) {
			count(r, 5, 1);
			if (!listen(x.fd, 4) || errno != EINVAL)
				failf(r, "listen() on a kTLS socket: %s",
				      ename(errno));
		}
		break;
	}
	case 2: {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(x.fd, (void *)&sa, sizeof(sa)))
			die("bind: %s", strerror(errno));
		spawn(&a, race_listen, &x);
		spawn(&b, race_attach, &x);
		__atomic_store_n(&x.go, 1, __ATOMIC_RELEASE);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		if (x.res[0] || x.res[1] != ENOTCONN)
			failf(r, "%s: listen %s, attach %s", what[2],
			      ename(x.res[0]), ename(x.res[1]));
		if (getsockname(x.fd, (void *)&sa, &sl))
			break;
		c = tcp_socket();
		if (!connect_to(c, ntohs(sa.sin_port)))
			check_child(r, x.fd, what[2]);
		close(c);
		break;
	}
	case 3: {
		/* a listener under attach attempts, children keyed */
		int n = between(rng, 1, 4), i, cl[4];

		close(x.fd);
		x.fd = listener(0, &x.port);
		x.kind = 3;
		spawn(&b, race_attach, &x);
		__atomic_store_n(&x.go, 1, __ATOMIC_RELEASE);
		for (i = 0; i < n; i++) {
			cl[i] = tcp_socket();
			err = connect_to(cl[i], x.port);
			if (err)
				failf(r, "connect: %s", ename(err));
		}
		pthread_join(b, NULL);
		if (x.res[1] != ENOTCONN)
			failf(r, "attach to a listener: %s", ename(x.res[1]));
		for (i = 0; i < n; i++) {
			check_child(r, x.fd, what[3]);
			close(cl[i]);
		}
		break;
	}
	default: {
		/* attach and keys while the peer resets */
		if (connect_to(x.fd, port))
			die("connect: %s", strerror(errno));
		peer = accept_within(lfd, 3000);
		if (peer < 0)
			break;
		set_linger0(peer);
		x.kind = 4;
		spawn(&b, race_attach, &x);
		__atomic_store_n(&x.go, 1, __ATOMIC_RELEASE);
		if (chance(rng, 50))
			sched_yield();
		close(peer);
		peer = -1;
		pthread_join(b, NULL);
		if (x.res[1] && x.res[1] != ENOTCONN)
			failf(r, "%s: attach: %s", what[4], ename(x.res[1]));
		if (!x.res[1]) {
			count(r, 5, 1);
			err = set_keys(r, x.fd, TLS_TX, 0, 0);
			if (err)
				failf(r, "%s: TLS_TX: %s", what[4], ename(err));
			err = set_keys(r, x.fd, TLS_RX, 1, 0);
			if (err)
				failf(r, "%s: TLS_RX: %s", what[4], ename(err));
			/* the reset is seen, maybe: send and read end */
			set_timeouts(x.fd, 200, 200);
			if (send(x.fd, "x", 1, MSG_NOSIGNAL) < 0 &&
			    !in_set(errno, (const int[]){ ECONNRESET, EPIPE,
							 0 }))
				failf(r, "%s: send: %s", what[4],
				      ename(errno));
			if (recv(x.fd, &err, 1, 0) < 0 &&
			    !in_set(errno, (const int[]){ ECONNRESET, EAGAIN,
							 EPIPE, 0 }))
				failf(r, "%s: recv: %s", what[4],
				      ename(errno));
		}
		break;
	}
	}
	count_call(r, 0, 0);
	if (peer >= 0)
		close(peer);
	close(x.fd);
}

static void scen_ulp(struct round *r, u64 *rng)
{
	int port, lfd = listener(0, &port), n = between(rng, 5, 20), i;

	for (i = 0; i < n; i++)
		ulp_one(r, rng, lfd, port);
	/* children nobody accepted go with the listener */
	close(lfd);
}

/* ---- the run ------------------------------------------------------------------------ */

/* Returns 1 when the round failed */
static int run_round(unsigned long no, int only)
{
	struct round r = { .no = no };
	u64 rng, pick;
	unsigned int w = 0, i;

	r.seed = mix(g_seed, no);
	rng = r.seed;
	pick = below(&rng, 16);
	for (i = 0; i < S_NUM; i++) {
		w += scen_weight[i];
		if (pick < w)
			break;
	}
	r.scen = i;
	if (only >= 0 && (int)r.scen != only)
		return 0;
	r.version = chance(&rng, 80) ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	/* mostly AES-GCM: TCG emulates AES-NI; CCM is the slow one */
	r.cipher = &ktls_ciphers[below(&rng, 10) < 6 ? 0 : 1 + below(&rng, 3)];
	wd_arm(&r);
	vlog(&r, "TLS 1.%d %s", r.version == TLS_1_3_VERSION ? 3 : 2,
	     r.cipher->name);
	if (inject == INJ_HANG)
		for (;;)
			pause();
	switch (r.scen) {
	case S_INTEGRITY:
	case S_INTEGRITY_MR:
		scen_integrity(&r, &rng);
		break;
	case S_TEARDOWN:
		scen_teardown(&r, &rng);
		break;
	case S_STALL:
		scen_stall(&r, &rng);
		break;
	case S_REKEY:
		scen_rekey(&r, &rng);
		break;
	default:
		scen_ulp(&r, &rng);
		break;
	}
	alarm(0);
	stats[r.scen].rounds++;
	if (r.failures)
		stats[r.scen].failures++;
	return r.failures != 0;
}

static void usage(void)
{
	die("usage: ktls-stress [--seed S] [--seconds N | --rounds N | --round R [--repeat K]] [--scenario NAME] [--watchdog SECS] [--max-fail N] [--inject-fault data|hang] [-v]");
}

int main(int argc, char **argv)
{
	unsigned long rounds = 50, first = 0, seconds = 0, repeat = 1;
	unsigned long max_fail = 10, done = 0, failed = 0, i, k;
	struct sigaction sa = { .sa_handler = wd_fire };
	int only = -1, a, s;
	long t0, dt, leak;

	for (a = 1; a < argc; a++) {
		const char *o = argv[a], *v = argv[a + 1];

		if (!strcmp(o, "-v")) {
			verbose = 1;
			continue;
		}
		a++;
		if (!strcmp(o, "--seed"))
			g_seed = num(v);
		else if (!strcmp(o, "--seconds"))
			seconds = num(v);
		else if (!strcmp(o, "--rounds"))
			rounds = num(v);
		else if (!strcmp(o, "--round"))
			first = num(v), rounds = 1;
		else if (!strcmp(o, "--repeat"))
			repeat = num(v);
		else if (!strcmp(o, "--watchdog"))
			wd_secs = num(v);
		else if (!strcmp(o, "--max-fail"))
			max_fail = num(v);
		else if (!strcmp(o, "--scenario") && v) {
			for (s = 0; s < S_NUM; s++)
				if (!strcmp(v, scen_name[s]))
					only = s;
			if (only < 0)
				usage();
		} else if (!strcmp(o, "--inject-fault") && v &&
			   !strcmp(v, "data"))
			inject = INJ_DATA;
		else if (!strcmp(o, "--inject-fault") && v &&
			 !strcmp(v, "hang"))
			inject = INJ_HANG;
		else
			usage();
	}
	if (inject == INJ_DATA && only < 0)
		only = S_INTEGRITY;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGALRM, &sa, NULL);
	netns();
	{
		int fd = tcp_socket();

		close(fd);
	}

	printf("ktls-stress: seed %" PRIu64 ", %s %lu%s\n", g_seed,
	       seconds ? "seconds" : "rounds", seconds ? seconds : rounds,
	       only >= 0 ? "" : ", every scenario");
	t0 = now_ms();
	for (i = first; ; i++) {
		if (seconds ? now_ms() - t0 >= (long)seconds * 1000 :
			      i >= first + rounds)
			break;
		for (k = 0; k < repeat; k++)
			failed += run_round(i, only);
		if (failed >= max_fail) {
			printf("stopping after %lu failed rounds\n", failed);
			break;
		}
	}
	dt = now_ms() - t0;

	for (s = 0; s < S_NUM; s++) {
		struct scen_stat *st = &stats[s];
		int e, n;

		done += st->rounds;
		printf("scenario %s: rounds %lu, failures %lu, calls %lu",
		       scen_name[s], st->rounds, st->failures, st->calls);
		if (st->bytes)
			printf(", bytes %lu", st->bytes);
		for (n = 0; n < 8; n++)
			if (note_name[s][n])
				printf(", %s %lu", note_name[s][n], st->note[n]);
		printf("\n  errnos:");
		for (e = 1; e < NERR; e++)
			if (st->err[e])
				printf(" %s %lu", ename(e), st->err[e]);
		putchar('\n');
	}
	/* every socket is closed: no kTLS state may be left */
	leak = tls_left();
	printf("tls_stat after close: TlsCurrTxSw %ld, TlsCurrRxSw %ld\n",
	       tls_stat("TlsCurrTxSw"), tls_stat("TlsCurrRxSw"));
	if (leak != 0) {
		printf("FAIL seed=%" PRIu64 ": kTLS contexts left after every socket closed (TlsCurrTxSw + TlsCurrRxSw = %ld)\n",
		       g_seed, leak);
		failed++;
	}
	printf("rounds %lu, failures %lu, rounds/s %.2f\n", done, failed,
	       dt > 0 ? done * 1000.0 / dt : 0.0);
	return failed ? 1 : 0;
}
