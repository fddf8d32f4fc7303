// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-soak: a long duplex stream over one pair of kTLS sockets (issue 19,
 * item 6).
 *
 * Two kTLS endpoints, A (connected) and B (accepted), over loopback TCP in
 * a network namespace of the program's own. Each direction (A->B, B->A)
 * carries an independent stream for --seconds N, with a writer thread on
 * the sending end and a reader thread on the receiving one:
 *
 * writer  per step, drawn from a seeded PRNG: write(), send() (MSG_MORE
 *         now and then), sendfile() from a memfd (shmem, i.e. tmpfs) of
 *         random bytes at a random offset, or splice() from a pipe the
 *         writer filled; 1 B to 256 KiB a step. Every 64 KiB to 4 MiB
 *         (random) under TLS 1.3 it sends a KeyUpdate handshake record
 *         (TLS_SET_RECORD_TYPE) and installs the next TLS_TX keys. At the
 *         end one last send() without MSG_MORE, then shutdown(SHUT_WR).
 * reader  per step: read(), recv() (MSG_WAITALL now and then), recvmsg()
 *         with room for the record type, or splice() to a pipe, 1 B to
 *         256 KiB. A call that fails because a control record is next
 *         (EIO without room for its type, EINVAL from splice()) reads it
 *         with recvmsg(); a KeyUpdate installs the next TLS_RX keys
 *         (until then the kernel fails reads with EKEYEXPIRED). Reads
 *         until EOF.
 *
 * Both ends hash what they send and what they receive (SHA-256, OpenSSL
 * EVP). Checked per direction: bytes received == bytes sent, the two
 * hashes are equal, KeyUpdates received == KeyUpdates sent, and every
 * call returned what it should (any other errno, a short send, an
 * unexpected record fails the run). With every socket closed,
 * TlsCurrTxSw and TlsCurrRxSw of /proc/net/tls_stat must be back to 0.
 *
 * Cipher: TLS 1.3 AES-GCM-128 by default, --cipher NAME for another
 * (the same both ways: the kernel refuses TLS_TX keys of another version
 * or cipher than the socket's TLS_RX keys). --tls12: TLS 1.2, which has
 * no KeyUpdate: then neither direction rekeys (the output says so).
 *
 * Everything a thread does (methods, sizes, offsets, flags, when to
 * rekey, the keys) comes from --seed; thread timing does not.
 *
 * Time: --seconds and MiB/s are on the guest's clock, or with --clock
 * FILE on the host's: FILE is on a 9p share, and the host sets its mtime
 * when a byte is written to it (under TCG the guest clock, jiffies, falls
 * behind the host's by up to half).
 *
 * Watchdog: the main thread checks every thread's last progress each
 * half second; a thread that made none for --watchdog SECS (default 60,
 * on the guest's clock) ends the run with a STALL line per stalled
 * thread (direction, end, writer or reader, the call it is in, its byte
 * count), exit code 3.
 *
 * usage: ktls-soak [--seed S] [--seconds N] [--clock FILE] [--cipher NAME]
 *                  [--tls12] [--watchdog SECS] [--inject data|stall]
 *                  [--inject-leak N]
 *   --inject data   checker self-test: the A->B reader changes one byte
 *                   of what it hashes (after 64 KiB): the run must FAIL
 *   --inject stall  watchdog self-test: the B->A reader stops reading
 *                   after 64 KiB: the run must end in a STALL (exit 3)
 *   --inject-leak N memory check self-test: after the verdict, keep N
 *                   kTLS sockets (keys both ways) open, print "holding N
 *                   kTLS sockets" and wait to be killed
 * Prints the seed, one line per direction (bytes, rekeys, MiB/s, calls),
 * a progress line a minute, and last "verdict PASS|FAIL ...". Exit code
 * 0 on PASS, 1 on FAIL, 2 on a usage or setup error, 3 on a stall.
 *
 * Runs as root (it makes its own network namespace), on a kernel with the
 * "tls" ULP. Built by scripts/soak.sh; run by scripts/guest-soak.sh.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp.h>
#include <linux/tls.h>

#include <openssl/evp.h>

#define KTLS_PROG	"ktls-soak"
#include "../lib/ktls-guest.h"

#define STEP_MAX	(256 * 1024)		/* bytes per call, at most */
#define FILE_SIZE	(8u << 20)		/* the sendfile() source */
#define PIPE_SIZE	(1 << 20)		/* holds one STEP_MAX */
#define REKEY_MIN	(64 * 1024)
#define REKEY_MAX	(4u << 20)
#define INJECT_AT	(64 * 1024)

/* ---- small things ------------------------------------------------------ */

static u64 g_seed = 1;
static long t_start;			/* ms, guest clock */
static int stop;			/* the writers stop: time is up */
static int clock_fd = -1;		/* --clock: the host's time */

enum { INJ_NONE, INJ_DATA, INJ_STALL };
static int inject;

/*
 * The time from the host (--clock FILE, a file on a 9p share): the mtime
 * the host gives the file when a byte is written to it. Under TCG the
 * guest's clock (jiffies: the TSC is found unstable) falls behind, about
 * to half speed when the host is busy; this one does not.
 */
static long host_ms(void)
{
	struct stat st;

	if (clock_fd < 0)
		return now_ms();
	if (pwrite(clock_fd, "t", 1, 0) != 1 || fstat(clock_fd, &st))
		die("--clock: %s", strerror(errno));
	return st.st_mtim.tv_sec * 1000L + st.st_mtim.tv_nsec / 1000000;
}

/* a PRNG state for one purpose (@what) of the run's seed */
static u64 stream(u64 what)
{
	u64 s = g_seed ^ 0x6b746c732d736f61ULL;	/* "ktls-soa" */

	s = rnd(&s) ^ what;
	return rnd(&s);
}

/* 1 .. STEP_MAX: a quarter tiny, a quarter under a page, half anything */
static size_t step_size(u64 *s)
{
	switch (below(s, 4)) {
	case 0:
		return between(s, 1, 64);
	case 1:
		return between(s, 1, 4096);
	default:
		return between(s, 1, STEP_MAX);
	}
}

/* ---- ciphers and keys ---------------------------------------------------- */

static int tls_version = TLS_1_3_VERSION;

/*
 * The crypto_info of direction @dir, key generation @gen (KeyUpdates so
 * far), made from the seed: both ends make the same. Returns its size.
 */
static size_t key_make(const struct ktls_cipher *c, int dir, unsigned int gen,
		       u8 *buf)
{
	struct tls_crypto_info *h = (void *)buf;
	size_t fixed = c->iv + c->key + c->salt, i;
	size_t n = info_size(c);
	u64 s = stream(0x6b6579000000ULL | (u64)dir << 24 | gen);
	u8 *p = buf + sizeof(*h);

	memset(buf, 0, n);
	h->version = tls_version;
	h->cipher_type = c->type;
	for (i = 0; i < fixed; i++)
		p[i] = rnd(&s);
	/* a record sequence number that does not start at 0 */
	if (gen == 0)
		p[fixed + 6] = rnd(&s);
	return n;
}

static int set_keys(int fd, int opt, const struct ktls_cipher *c, int dir,
		    unsigned int gen)
{
	u8 buf[128];
	size_t n = key_make(c, dir, gen, buf);

	return setsockopt(fd, SOL_TLS, opt, buf, n) ? errno : 0;
}

/* ---- sockets ------------------------------------------------------------- */

/*
 * A connected pair of kTLS sockets, keys set both ways: fd[0] (end A)
 * sends direction 0 with cipher @c0 and reads direction 1 (@c1).
 */
static void make_pair(int lfd, int port, const struct ktls_cipher *c0,
		      const struct ktls_cipher *c1, int fd[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int err;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	fd[0] = tcp_socket();
	if (connect(fd[0], (void *)&a, sizeof(a)))
		die("connect: %s", strerror(errno));
	fd[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd[1] < 0)
		die("accept: %s", strerror(errno));
	pair_attach(fd);
	err = set_keys(fd[0], TLS_TX, c0, 0, 0);
	if (!err)
		err = set_keys(fd[1], TLS_RX, c0, 0, 0);
	if (!err)
		err = set_keys(fd[1], TLS_TX, c1, 1, 0);
	if (!err)
		err = set_keys(fd[0], TLS_RX, c1, 1, 0);
	if (err)
		die("keys (%s/%s): %s", c0->name, c1->name, strerror(err));
}

static void make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	if (fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE) < PIPE_SIZE)
		die("F_SETPIPE_SZ %d: %s", PIPE_SIZE, strerror(errno));
}

/* ---- the directions ------------------------------------------------------ */

static u8 *fbuf;		/* the memfd's bytes */
static int ffd;			/* the memfd */

enum { W_WRITE, W_SEND, W_SENDFILE, W_SPLICE, W_NUM };
static const char *const w_name[W_NUM] = {
	"write", "send", "sendfile", "splice" };
enum { R_READ, R_RECV, R_RECVMSG, R_SPLICE, R_NUM };
static const char *const r_name[R_NUM] = {
	"read", "recv", "recvmsg", "splice" };

struct dir {
	int id;			/* 0: A->B, 1: B->A */
	const char *name;
	int wfd, rfd;
	const struct ktls_cipher *c;
	bool rekey;
	EVP_MD_CTX *hs, *hr;
	u8 ds[32], dr[32];
	/* written by the writer */
	u64 sent;
	unsigned int tx_gen, ku_sent;
	unsigned long w_calls[W_NUM];
	/* written by the reader */
	u64 recvd;
	unsigned int rx_gen, ku_recvd;
	unsigned long r_calls[R_NUM];
	long r_end, r_end_h;	/* guest clock; the --clock one */
	u8 ctl[16];		/* a control record read in parts */
	size_t ctl_len;
	bool injected;
	/* watchdog: last progress (ms), the call in progress, done */
	long w_last, r_last;
	const char *w_op, *r_op;
	int w_done, r_done;
	/* the first failure */
	pthread_mutex_t lock;
	char fail[256];
};

static struct dir dirs[2];

static void dfail(struct dir *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void dfail(struct dir *d, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&d->lock);
	if (!d->fail[0]) {
		va_start(ap, fmt);
		vsnprintf(d->fail, sizeof(d->fail), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&d->lock);
}

static void progress(long *last, const char **op, const char *now_op)
{
	__atomic_store_n(last, now_ms(), __ATOMIC_RELAXED);
	__atomic_store_n(op, now_op, __ATOMIC_RELAXED);
}

static void hash(EVP_MD_CTX *h, const void *p, size_t n)
{
	if (!EVP_DigestUpdate(h, p, n))
		die("EVP_DigestUpdate failed");
}

/* write() or send(): every byte accepted, or fail */
static bool w_send(struct dir *d, const u8 *p, size_t len, bool use_send,
		   int flags)
{
	while (len) {
		ssize_t k = use_send ? send(d->wfd, p, len, flags) :
				       write(d->wfd, p, len);

		if (k <= 0) {
			dfail(d, "writer: %s of %zu bytes at byte %" PRIu64 ": %zd (%s)",
			      use_send ? "send" : "write", len, d->sent, k,
			      ename(errno));
			return false;
		}
		hash(d->hs, p, k);
		d->sent += k;
		p += k;
		len -= k;
	}
	return true;
}

static bool w_sendfile(struct dir *d, size_t off, size_t len)
{
	off_t o = off;

	while (len) {
		size_t before = o;
		ssize_t k = sendfile(d->wfd, ffd, &o, len);

		if (k <= 0 || (size_t)o != before + k) {
			dfail(d, "writer: sendfile of %zu bytes at offset %zu: %zd (%s)",
			      len, before, k, ename(errno));
			return false;
		}
		hash(d->hs, fbuf + before, k);
		d->sent += k;
		len -= k;
	}
	return true;
}

static bool w_splice(struct dir *d, int p[2], const u8 *src, size_t len,
		     unsigned int flags)
{
	size_t in = 0, out = 0;

	/* the pipe holds PIPE_SIZE: all of it goes in at once */
	while (in < len) {
		ssize_t k = write(p[1], src + in, len - in);

		if (k <= 0) {
			dfail(d, "writer: filling the pipe: %s", ename(errno));
			return false;
		}
		in += k;
	}
	while (out < len) {
		ssize_t k = splice(p[0], NULL, d->wfd, NULL, len - out, flags);

		if (k <= 0) {
			dfail(d, "writer: splice of %zu bytes: %zd (%s)",
			      len - out, k, ename(errno));
			return false;
		}
		hash(d->hs, src + out, k);
		d->sent += k;
		out += k;
	}
	return true;
}

/* TLS 1.3: a KeyUpdate record under the old keys, then the next keys */
static bool w_rekey(struct dir *d, u64 *rng)
{
	u8 ku[KU_LEN] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
	ssize_t n;
	int err;

	ku[4] = below(rng, 2);		/* update_requested: not acted on */
	n = send_typed(d->wfd, T_HS, ku, sizeof(ku));
	if (n != sizeof(ku)) {
		dfail(d, "writer: KeyUpdate record %u: %zd (%s)",
		      d->tx_gen + 1, n, ename(errno));
		return false;
	}
	err = set_keys(d->wfd, TLS_TX, d->c, d->id, d->tx_gen + 1);
	if (err) {
		dfail(d, "writer: TLS_TX generation %u: %s", d->tx_gen + 1,
		      ename(err));
		return false;
	}
	d->tx_gen++;
	d->ku_sent++;
	return true;
}

static void *writer(void *arg)
{
	struct dir *d = arg;
	u64 rng = stream(0x7772697465000000ULL | d->id);
	u64 next_rekey = between(&rng, REKEY_MIN, REKEY_MAX);
	u8 tail[16];
	int p[2];
	bool ok = true;

	make_pipe(p);
	while (ok && !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int op = below(&rng, W_NUM);
		size_t len = step_size(&rng);
		size_t off = below(&rng, FILE_SIZE - len + 1);
		bool more = chance(&rng, 20);

		progress(&d->w_last, &d->w_op, w_name[op]);
		d->w_calls[op]++;
		switch (op) {
		case W_WRITE:
			ok = w_send(d, fbuf + off, len, false, 0);
			break;
		case W_SEND:
			ok = w_send(d, fbuf + off, len, true,
				    MSG_NOSIGNAL | (more ? MSG_MORE : 0));
			break;
		case W_SENDFILE:
			ok = w_sendfile(d, off, len);
			break;
		case W_SPLICE:
			ok = w_splice(d, p, fbuf + off, len,
				      more ? SPLICE_F_MORE : 0);
			break;
		}
		if (ok && d->rekey && d->sent >= next_rekey) {
			progress(&d->w_last, &d->w_op, "KeyUpdate");
			ok = w_rekey(d, &rng);
			next_rekey = d->sent +
				     between(&rng, REKEY_MIN, REKEY_MAX);
		}
	}
	if (ok) {
		/* a last record without MSG_MORE, then the end of the stream */
		size_t n = between(&rng, 1, sizeof(tail));

		for (size_t i = 0; i < n; i++)
			tail[i] = rnd(&rng);
		progress(&d->w_last, &d->w_op, "last send");
		ok = w_send(d, tail, n, true, MSG_NOSIGNAL);
	}
	progress(&d->w_last, &d->w_op, "shutdown");
	if (shutdown(d->wfd, SHUT_WR))
		dfail(d, "writer: shutdown(SHUT_WR): %s", ename(errno));
	EVP_DigestFinal_ex(d->hs, d->ds, NULL);
	close(p[0]);
	close(p[1]);
	__atomic_store_n(&d->w_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* received data: hashed (with --inject data, one byte changed first) */
static void r_data(struct dir *d, u8 *p, size_t n)
{
	if (inject == INJ_DATA && d->id == 0 && !d->injected &&
	    d->recvd + n > INJECT_AT) {
		p[d->recvd < INJECT_AT ? INJECT_AT - d->recvd : 0] ^= 0x20;
		d->injected = true;
	}
	hash(d->hr, p, n);
	d->recvd += n;
}

/*
 * Control record bytes read with their type (@eor: up to the end of the
 * record; a short buffer takes the rest at the next call). A whole
 * KeyUpdate: the next keys.
 */
static bool r_control(struct dir *d, const u8 *p, ssize_t n, int type,
		      bool eor)
{
	const u8 *k = d->ctl;
	int err;

	if (type != T_HS || n <= 0 || d->ctl_len + n > sizeof(d->ctl)) {
		dfail(d, "reader: unexpected record at byte %" PRIu64 ": type %d, %zd bytes (%zu before), first %#x",
		      d->recvd, type, n, d->ctl_len, n > 0 ? p[0] : 0);
		return false;
	}
	memcpy(d->ctl + d->ctl_len, p, n);
	d->ctl_len += n;
	if (!eor)
		return true;
	if (d->ctl_len != KU_LEN || k[0] != HS_KEY_UPDATE || k[1] || k[2] ||
	    k[3] != 1 || k[4] > 1) {
		dfail(d, "reader: not a KeyUpdate at byte %" PRIu64 ": %zu bytes, first %#x",
		      d->recvd, d->ctl_len, k[0]);
		return false;
	}
	d->ctl_len = 0;
	if (!d->rekey) {
		dfail(d, "reader: a KeyUpdate under TLS 1.2");
		return false;
	}
	err = set_keys(d->rfd, TLS_RX, d->c, d->id, d->rx_gen + 1);
	if (err) {
		dfail(d, "reader: TLS_RX generation %u: %s", d->rx_gen + 1,
		      ename(err));
		return false;
	}
	d->rx_gen++;
	d->ku_recvd++;
	return true;
}

/* the call that failed (@err) because a control record is next: read it */
static bool r_take_control(struct dir *d, u8 *buf, const char *what, int err)
{
	ssize_t n;
	bool eor;
	int type;

	n = recv_typed(d->rfd, buf, STEP_MAX, 0, &type, &eor);
	if (n < 0) {
		dfail(d, "reader: %s failed with %s at byte %" PRIu64 ", then recvmsg: %s",
		      what, ename(err), d->recvd, ename(errno));
		return false;
	}
	if (type == T_DATA || type < 0) {
		dfail(d, "reader: %s failed with %s at byte %" PRIu64 ", but data (%zd bytes) was next",
		      what, ename(err), d->recvd, n);
		return false;
	}
	return r_control(d, buf, n, type, eor);
}

static void *reader(void *arg)
{
	struct dir *d = arg;
	u64 rng = stream(0x7265616400000000ULL | d->id);
	u8 *buf = malloc(STEP_MAX);
	int p[2];
	bool ok = true;

	if (!buf)
		die("out of memory");
	make_pipe(p);
	while (ok) {
		int op = below(&rng, R_NUM), type = T_DATA, err;
		size_t len = step_size(&rng);
		int flags = chance(&rng, 20) ? MSG_WAITALL : 0;
		bool eor = false;
		ssize_t n;

		if (inject == INJ_STALL && d->id == 1 &&
		    d->recvd >= INJECT_AT) {
			__atomic_store_n(&d->r_op, "a pause (--inject stall)",
					 __ATOMIC_RELAXED);
			for (;;)
				pause();
		}
		progress(&d->r_last, &d->r_op, r_name[op]);
		d->r_calls[op]++;
		switch (op) {
		case R_READ:
			n = read(d->rfd, buf, len);
			break;
		case R_RECV:
			n = recv(d->rfd, buf, len, flags);
			break;
		case R_RECVMSG:
			n = recv_typed(d->rfd, buf, len, flags, &type, &eor);
			break;
		default:
			n = splice(d->rfd, NULL, p[1], NULL, len, 0);
			if (n > 0 && (size_t)n > len) {
				dfail(d, "reader: splice moved %zd > %zu", n,
				      len);
				ok = false;
				continue;
			}
			for (ssize_t got = 0; n > 0 && got < n; ) {
				ssize_t k = read(p[0], buf + got, n - got);

				if (k <= 0) {
					dfail(d, "reader: draining the pipe: %s",
					      ename(errno));
					ok = false;
					break;
				}
				got += k;
			}
			break;
		}
		err = errno;
		if (!ok)
			break;
		if (n == 0 && (type == T_DATA || type < 0))
			break;		/* EOF */
		if (n > 0 && type != T_DATA && op == R_RECVMSG) {
			ok = r_control(d, buf, n, type, eor);
		} else if (n > 0 && d->ctl_len) {
			dfail(d, "reader: %zd data bytes after %zu bytes of a control record",
			      n, d->ctl_len);
			ok = false;
		} else if (n > 0) {
			r_data(d, buf, n);
		} else if (n < 0 && ((op == R_SPLICE && err == EINVAL) ||
				     (op != R_SPLICE && op != R_RECVMSG &&
				      err == EIO))) {
			ok = r_take_control(d, buf, r_name[op], err);
		} else {
			dfail(d, "reader: %s of %zu%s at byte %" PRIu64 ": %zd, type %d (%s)",
			      r_name[op], len,
			      flags && op != R_READ && op != R_SPLICE ?
			      " (MSG_WAITALL)" : "", d->recvd, n, type,
			      ename(err));
			ok = false;
		}
	}
	d->r_end = now_ms();
	EVP_DigestFinal_ex(d->hr, d->dr, NULL);
	close(p[0]);
	close(p[1]);
	free(buf);
	__atomic_store_n(&d->r_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---- the run ------------------------------------------------------------- */

/* the memfd (shmem) of random bytes that sendfile() reads */
static void make_file(void)
{
	u64 s = stream(0x66696c65ULL);
	size_t i;

	ffd = memfd_create("ktls-soak", MFD_CLOEXEC);
	if (ffd < 0 || ftruncate(ffd, FILE_SIZE))
		die("memfd: %s", strerror(errno));
	fbuf = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ffd,
		    0);
	if (fbuf == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (i = 0; i < FILE_SIZE; i += 8) {
		u64 v = rnd(&s);

		memcpy(fbuf + i, &v, 8);
	}
}

static double mib_s(u64 bytes, long ms)
{
	return ms > 0 ? bytes / 1048576.0 * 1000.0 / ms : 0.0;
}

static void hex(const u8 *d, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* keep @n kTLS sockets open (memory check self-test); never returns */
static void hold_sockets(int n)
{
	struct rlimit rl = { n + 64, n + 64 };
	int lfd, port, fd[2], i;

	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("RLIMIT_NOFILE %d: %s", n + 64, strerror(errno));
	lfd = listener(0, &port);
	for (i = 0; i < n; i += 2)
		make_pair(lfd, port, &ktls_ciphers[0], &ktls_ciphers[0], fd);
	close(lfd);
	printf("holding %d kTLS sockets\n", i);
	fflush(stdout);
	for (;;)
		pause();
}

static void usage(void)
{
	die("usage: ktls-soak [--seed S] [--seconds N] [--clock FILE] [--cipher NAME] [--tls12] [--watchdog SECS] [--inject data|stall] [--inject-leak N]");
}

int main(int argc, char **argv)
{
	unsigned long seconds = 60, wd_secs = 60, leak = 0;
	long h_start, h_now, g_ms;
	const struct ktls_cipher *cs[2] = { ktls_ciphers, ktls_ciphers };
	pthread_t th[4];
	long last_report, left;
	int lfd, port, fd[2], a, i, failed = 0;

	for (a = 1; a < argc; a++) {
		const char *o = argv[a], *v = argv[a + 1];

		if (!strcmp(o, "--tls12")) {
			tls_version = TLS_1_2_VERSION;
			continue;
		}
		a++;
		if (!strcmp(o, "--seed")) {
			g_seed = num(v);
		} else if (!strcmp(o, "--seconds")) {
			seconds = num(v);
		} else if (!strcmp(o, "--watchdog")) {
			wd_secs = num(v);
		} else if (!strcmp(o, "--clock") && v) {
			clock_fd = open(v, O_RDWR | O_CREAT | O_TRUNC |
					O_CLOEXEC, 0644);
			if (clock_fd < 0)
				die("--clock %s: %s", v, strerror(errno));
		} else if (!strcmp(o, "--inject-leak")) {
			leak = num(v);
		} else if (!strcmp(o, "--inject") && v && !strcmp(v, "data")) {
			inject = INJ_DATA;
		} else if (!strcmp(o, "--inject") && v && !strcmp(v, "stall")) {
			inject = INJ_STALL;
		} else if (!strcmp(o, "--cipher") && v) {
			size_t k;

			for (k = 0; k < KTLS_NCIPHERS; k++)
				if (!strcmp(v, ktls_ciphers[k].name))
					cs[0] = cs[1] = &ktls_ciphers[k];
			if (k == KTLS_NCIPHERS && strcmp(v, cs[0]->name))
				usage();
		} else {
			usage();
		}
	}
	if (!seconds || !wd_secs)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	netns();
	make_file();

	lfd = listener(0, &port);
	make_pair(lfd, port, cs[0], cs[1], fd);
	close(lfd);
	for (i = 0; i < 2; i++) {
		struct dir *d = &dirs[i];

		d->id = i;
		d->name = i ? "B->A" : "A->B";
		d->wfd = fd[i];
		d->rfd = fd[!i];
		d->c = cs[i];
		d->rekey = tls_version == TLS_1_3_VERSION;
		d->hs = EVP_MD_CTX_new();
		d->hr = EVP_MD_CTX_new();
		if (!d->hs || !d->hr ||
		    !EVP_DigestInit_ex(d->hs, EVP_sha256(), NULL) ||
		    !EVP_DigestInit_ex(d->hr, EVP_sha256(), NULL))
			die("EVP sha256 init failed");
		pthread_mutex_init(&d->lock, NULL);
		printf("direction %s: TLS 1.%d %s%s\n", d->name,
		       d->rekey ? 3 : 2, d->c->name,
		       d->rekey ? ", KeyUpdate every 64 KiB to 4 MiB" :
		       ", no KeyUpdate (TLS 1.2 has none)");
	}
	printf("ktls-soak: seed %" PRIu64 ", %lu seconds, watchdog %lu s%s\n",
	       g_seed, seconds, wd_secs,
	       inject == INJ_DATA ? ", inject data (must FAIL)" :
	       inject == INJ_STALL ? ", inject stall (must STALL)" : "");

	t_start = now_ms();
	h_start = host_ms();
	for (i = 0; i < 2; i++) {
		dirs[i].w_last = dirs[i].r_last = t_start;
		dirs[i].w_op = dirs[i].r_op = "start";
	}
	for (i = 0; i < 4; i++) {
		int err = pthread_create(&th[i], NULL, i & 1 ? reader : writer,
					 &dirs[i / 2]);

		if (err)
			die("pthread_create: %s", strerror(err));
	}

	/* the watchdog, and a progress line a minute */
	last_report = h_start;
	for (;;) {
		long now = now_ms();
		int done = 0, stalled = 0;

		h_now = host_ms();
		if (h_now - h_start >= (long)seconds * 1000)
			__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);

		for (i = 0; i < 2; i++) {
			struct dir *d = &dirs[i];
			const char *end_w = i ? "B" : "A", *end_r = i ? "A" : "B";
			long wl = __atomic_load_n(&d->w_last, __ATOMIC_RELAXED);
			long rl = __atomic_load_n(&d->r_last, __ATOMIC_RELAXED);
			int wd = __atomic_load_n(&d->w_done, __ATOMIC_ACQUIRE);
			int rd = __atomic_load_n(&d->r_done, __ATOMIC_ACQUIRE);

			done += wd + rd;
			if (rd && !d->r_end_h)
				d->r_end_h = h_now;
			if (!wd && now - wl > (long)wd_secs * 1000) {
				printf("STALL seed=%" PRIu64 ": %s writer (end %s) no progress for %ld s, in %s, %" PRIu64 " bytes sent\n",
				       g_seed, d->name, end_w, (now - wl) / 1000,
				       d->w_op, d->sent);
				stalled++;
			}
			if (!rd && now - rl > (long)wd_secs * 1000) {
				printf("STALL seed=%" PRIu64 ": %s reader (end %s) no progress for %ld s, in %s, %" PRIu64 " bytes received\n",
				       g_seed, d->name, end_r, (now - rl) / 1000,
				       d->r_op, d->recvd);
				stalled++;
			}
		}
		if (stalled) {
			printf("verdict FAIL seed=%" PRIu64 ": stalled (watchdog %lu s)\n",
			       g_seed, wd_secs);
			fflush(stdout);
			_exit(3);
		}
		if (done == 4)
			break;
		if (h_now - last_report >= 60000) {
			last_report = h_now;
			printf("t=%lds: A->B %" PRIu64 " MiB sent, %u KeyUpdates; B->A %" PRIu64 " MiB sent, %u KeyUpdates\n",
			       (h_now - h_start) / 1000, dirs[0].sent >> 20,
			       dirs[0].ku_sent, dirs[1].sent >> 20,
			       dirs[1].ku_sent);
		}
		sleep_ms(500);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	close(fd[0]);
	close(fd[1]);

	for (i = 0; i < 2; i++) {
		struct dir *d = &dirs[i];
		long ms = d->r_end_h - h_start;
		char hs[65], hr[65];

		hex(d->ds, hs);
		hex(d->dr, hr);
		printf("direction %s: sent %" PRIu64 " bytes, received %" PRIu64 " bytes, KeyUpdates sent %u received %u, %.2f MiB/s\n",
		       d->name, d->sent, d->recvd, d->ku_sent, d->ku_recvd,
		       mib_s(d->recvd, ms));
		printf("  sha256 sent %s\n  sha256 recv %s\n", hs, hr);
		printf("  writer calls: write %lu, send %lu, sendfile %lu, splice %lu; reader calls: read %lu, recv %lu, recvmsg %lu, splice %lu\n",
		       d->w_calls[0], d->w_calls[1], d->w_calls[2],
		       d->w_calls[3], d->r_calls[0], d->r_calls[1],
		       d->r_calls[2], d->r_calls[3]);
		if (d->fail[0]) {
			printf("FAIL seed=%" PRIu64 " %s: %s\n", g_seed,
			       d->name, d->fail);
			failed++;
		} else if (d->sent != d->recvd || memcmp(d->ds, d->dr, 32)) {
			printf("FAIL seed=%" PRIu64 " %s: stream differs: %" PRIu64 " bytes sent, %" PRIu64 " received, sha256 %s\n",
			       g_seed, d->name, d->sent, d->recvd,
			       memcmp(d->ds, d->dr, 32) ? "differs" : "equal");
			failed++;
		} else if (d->ku_sent != d->ku_recvd) {
			printf("FAIL seed=%" PRIu64 " %s: %u KeyUpdates sent, %u received\n",
			       g_seed, d->name, d->ku_sent, d->ku_recvd);
			failed++;
		} else if (d->rekey && !d->ku_sent && d->sent > REKEY_MAX) {
			printf("FAIL seed=%" PRIu64 " %s: no KeyUpdate in %" PRIu64 " bytes\n",
			       g_seed, d->name, d->sent);
			failed++;
		}
	}

	g_ms = (dirs[0].r_end > dirs[1].r_end ? dirs[0].r_end :
		dirs[1].r_end) - t_start;
	h_now = (dirs[0].r_end_h > dirs[1].r_end_h ? dirs[0].r_end_h :
		 dirs[1].r_end_h) - h_start;
	printf("time: %.1f s on the %s clock, %.1f s on the guest's\n",
	       h_now / 1000.0, clock_fd < 0 ? "guest's" : "host's (--clock)",
	       g_ms / 1000.0);

	/* every socket is closed: no kTLS state may be left */
	left = tls_left();
	printf("tls_stat after close: TlsCurrTxSw %ld, TlsCurrRxSw %ld, TlsTxRekeyOk %ld, TlsRxRekeyOk %ld\n",
	       tls_stat("TlsCurrTxSw"), tls_stat("TlsCurrRxSw"),
	       tls_stat("TlsTxRekeyOk"), tls_stat("TlsRxRekeyOk"));
	if (left != 0) {
		printf("FAIL seed=%" PRIu64 ": kTLS contexts left after close (TlsCurrTxSw + TlsCurrRxSw = %ld)\n",
		       g_seed, left);
		failed++;
	}

	printf("verdict %s seed=%" PRIu64 " seconds=%lu: A->B %" PRIu64 " bytes %u rekeys %.2f MiB/s, B->A %" PRIu64 " bytes %u rekeys %.2f MiB/s\n",
	       failed ? "FAIL" : "PASS", g_seed, seconds,
	       dirs[0].recvd, dirs[0].ku_recvd,
	       mib_s(dirs[0].recvd, dirs[0].r_end_h - h_start),
	       dirs[1].recvd, dirs[1].ku_recvd,
	       mib_s(dirs[1].recvd, dirs[1].r_end_h - h_start));
	if (leak)
		hold_sockets(leak);
	return failed ? 1 : 0;
}
