// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-faultinj: systematic allocation-failure injection into one scripted
 * kTLS session (issue 19, item 3). Runs as root in a guest of the debug
 * kernel (CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC);
 * scripts/guest-faultinj.sh sets up debugfs (which capability counts, the
 * stack filter) and runs it, scripts/faultinj.sh boots the guest.
 *
 * The scenario, one function in one thread, run whole once per step:
 *   a listener and a connection over loopback; SO_RCVTIMEO/SO_SNDTIMEO;
 *   TCP_NODELAY on the sender; TCP_ULP "tls" on both ends (attach);
 *   TLS_RX on the receiver, then two records sealed beforehand (a full
 *   16 KiB one and a small one, with the same keys, by an unarmed "oracle"
 *   connection at start-up) are written raw in 64-byte pieces, each from
 *   its own page through vmsplice() and splice(), so that the record
 *   reaches the receiver in many skbs; then TLS_TX on the sender (record
 *   sequence 2), TLS_TX/TLS_RX the other way;
 *   sends: 1, 100 and 4096 bytes, 40000 bytes in one call (records of
 *   16 KiB and more), a record in three pieces with MSG_MORE, splice()
 *   from a pipe, sendfile() from a memfd;
 *   reads: recv() with MSG_PEEK first, plain recv(), splice() to a pipe;
 *   TLS 1.3: a KeyUpdate each way (the record, a new TLS_TX; the reader
 *   gets the record with its type, then EKEYEXPIRED, then sets TLS_RX),
 *   data under the new keys; TLS 1.2: data the other way;
 *   getsockopt(TLS_TX/TLS_RX) on both ends; close() of everything.
 * Every byte read is compared with what was sent (a pattern of the stream
 * offset).
 *
 * The stepping: for N = 1, 2, ... write N to /proc/thread-self/fail-nth,
 * run the scenario, read fail-nth back (it is also read after every
 * call, so the call that took the fault is known). It stops at the first
 * N the scenario completes without taking the fault: N - 1 allocation
 * sites were reached. fail-nth counts only allocations made in task
 * context by this thread that pass the capability's filters (set by the
 * guest script: which of failslab/fail_page_alloc counts, and a stack
 * filter, require-start/-end, that confines them to callers in net/tls),
 * so it covers: attach (TCP_ULP), key setup (TLS_TX, TLS_RX and their
 * crypto transforms), the send path (records, page fragments, the TCP
 * skbs and clones made under tls sendmsg/splice/sendfile), the receive
 * path run by recvmsg/splice (parsing left over from softirq, decryption,
 * records in many skbs), rekey and close. Not covered this way: what runs
 * in softirq (data_ready parsing of arriving records, TCP's receive
 * path) and in work items; the --random mode (global failslab with a
 * probability, confined to net/tls callers by the same stack filter)
 * reaches those.
 *
 * Each step must end in one of: the scenario completes byte-exact
 * ("pass"); a call fails with an errno after the fault and the same call
 * tried again succeeds, the scenario then completing byte-exact
 * ("retried"); a call fails with an errno (also when tried again), the
 * sockets report their state (SO_ERROR, poll) and close cleanly
 * ("errno"; counted as "late" too when a later call on the socket that
 * took the fault reports it). A failure: wrong bytes read, a call
 * failing before any fault was injected, an error on another socket
 * than the one that took the fault (say a read failing after a send that
 * took the fault and reported success: a corrupted stream), data that
 * never arrives (10 s) while the socket that took the fault has no error
 * to report (SO_ERROR: then it is a late errno, the stream ended),
 * a close() that fails, the step that took no fault not passing whole,
 * EBADMSG anywhere (every record sent is good: a failed allocation must
 * not pass for a forged record, in --random mode too), a hang (alarm,
 * exit 3). Kernel reports and leaks are for the guest
 * script and the runner (console, kmemleak).
 *
 * usage: ktls-faultinj --tls 12|13 --cipher NAME [--max-steps N]
 *                      [--step N] [--random RUNS [--probability P]]
 *                      [--inject-corrupt N] [-v]
 *   --cipher      aes-gcm-128, aes-gcm-256, chacha20-poly1305, aes-ccm-128
 *   --max-steps   give up (a failure) after N steps (default 4000)
 *   --step N      step N only (replays one step)
 *   --random RUNS no fail-nth: RUNS runs of the scenario with the
 *                 probability of failslab and fail_page_alloc in debugfs
 *                 set to --probability P (default 10) once the oracle is
 *                 done, back to 0 at the end (the guest script sets the
 *                 rest: the stack filter); errors are allowed on any
 *                 call, wrong bytes, lost data and hangs are not
 *   --inject-corrupt N  the checker's self-test: at step N (or run N), one
 *                 byte read is changed before the comparison; the run must
 *                 fail
 * Prints one line per step that did not pass whole ("step N: ..."), then
 * "summary ..." with the counts and the errnos. Exit code 0 when every
 * step was good, 1 on a failure, 2 on a usage or setup error, 3 on a
 * hang.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <linux/tls.h>

#define KTLS_PROG	"ktls-faultinj"
#include "../lib/ktls-guest.h"

#define REC_A		16384		/* the raw record in many skbs */
#define REC_B		100
#define PIECE		64
#define PAGE		4096
#define BIG		40000
#define STEP_SECS	60
#define RCV_MS		1000		/* SO_RCVTIMEO */
#define SND_MS		5000		/* SO_SNDTIMEO */
#define RCV_TRIES	10

static const struct ktls_cipher *cip;
static int version;		/* TLS_1_2_VERSION or TLS_1_3_VERSION */
static int verbose;
static long corrupt_at = -1;	/* --inject-corrupt */
static bool random_mode;
static long late;		/* steps ended by a late errno */
static long probability = 10;

static void set_probability(long p)
{
	static const char *const f[] = {
		"/sys/kernel/debug/failslab/probability",
		"/sys/kernel/debug/fail_page_alloc/probability",
	};
	char buf[24];
	int i, n = snprintf(buf, sizeof(buf), "%ld", p);

	for (i = 0; i < 2; i++) {
		int fd = open(f[i], O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, buf, n) != n) {
			fprintf(stderr, "ktls-faultinj: %s: %s\n", f[i],
				strerror(errno));
			exit(2);
		}
		close(fd);
	}
}

/* ---- the raw records, sealed by the oracle ------------------------------ */

static u8 *raw;			/* REC_A then REC_B, as ciphertext */
static size_t raw_len;
static u8 *pieces;		/* raw, PIECE bytes at the start of each page */
static size_t npieces;

/* ---- the step's state ---------------------------------------------------- */

static int nth_fd = -1;
static long cur_step;
static const char *cur_call = "start";

struct st {
	bool armed;		/* fail-nth set for this step */
	bool injected;		/* it reached 0 */
	char inj_call[48];	/* the call that took the fault */
	int inj_fd;		/* on this socket (-1: none) */
	bool inj_ok;		/* that call returned success */
	int retried;		/* calls that failed, then succeeded */
	char what[200];		/* the first errno outcome */
	bool stopped;		/* ended early by an errno */
	bool late;		/* ... on a later call than the fault's */
	bool failed;
	char fail[256];
	u64 rx_pos[2];		/* bytes read so far, per direction */
	u64 tx_pos[2];		/* bytes sent so far, per direction */
	bool corrupt;		/* --inject-corrupt armed for this step */
};

static struct st st;

/* errnos seen ("call:ERRNO") and faults taken (call), with counts */
#define MAX_SEEN 64
struct tally {
	struct { char key[64]; int n; } e[MAX_SEEN];
	int n;
};
static struct tally seen, taken;

static void tally_add(struct tally *t, const char *key)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].key, key)) {
			t->e[i].n++;
			return;
		}
	if (t->n < MAX_SEEN) {
		snprintf(t->e[t->n].key, sizeof(t->e[t->n].key), "%s", key);
		t->e[t->n++].n = 1;
	}
}

static void tally_print(const char *what, const struct tally *t)
{
	int i;

	printf("%s:", what);
	for (i = 0; i < t->n; i++)
		printf(" %s=%d", t->e[i].key, t->e[i].n);
	printf("\n");
}

/*
 * The errno names this program prints: those a step may meet by name,
 * "E?" for any other (ename() of ktls-guest.h would name every errno;
 * this one keeps the "errnos:" summary as it has been).
 */
static const char *short_ename(int e)
{
	switch (e) {
	case 0: return "0";
	case ENOMEM: return "ENOMEM";
	case ENOBUFS: return "ENOBUFS";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EBADMSG: return "EBADMSG";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	case ENOTCONN: return "ENOTCONN";
	case EKEYEXPIRED: return "EKEYEXPIRED";
	case EBUSY: return "EBUSY";
	case ENOENT: return "ENOENT";
	case EMSGSIZE: return "EMSGSIZE";
	case EFAULT: return "EFAULT";
	case ENOSPC: return "ENOSPC";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	default: return "E?";
	}
}

static void note_errno(const char *call, int err)
{
	char key[64];

	snprintf(key, sizeof(key), "%s:%s", call, short_ename(err));
	tally_add(&seen, key);
}

static void failf(const char *fmt, ...)
{
	va_list ap;

	if (st.failed)
		return;
	st.failed = true;
	va_start(ap, fmt);
	vsnprintf(st.fail, sizeof(st.fail), fmt, ap);
	va_end(ap);
}

static void on_alarm(int sig)
{
	char buf[160];
	int n;

	(void)sig;
	n = snprintf(buf, sizeof(buf), "HANG step %ld: in %s (fault %s)\n",
		     cur_step, cur_call, st.injected ? st.inj_call : "not yet");
	if (n > 0 && write(1, buf, n) < 0)
		_exit(3);
	_exit(3);
}

/* fail-nth: what is left of the count (0: the fault was injected) */
static long nth_read(void)
{
	char buf[32];
	ssize_t n;

	if (nth_fd < 0)
		return -1;
	n = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		die("read fail-nth: %s", strerror(errno));
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

static void nth_write(long v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld", v);

	if (pwrite(nth_fd, buf, n, 0) != n)
		die("write fail-nth %ld: %s", v, strerror(errno));
}

/*
 * After every call on @fd (-1: not a socket): did it take the fault?
 * @rc < 0 is a failure with @err. Returns true when the call may be
 * tried again or the scenario goes on, false when the step is failed.
 * An error is allowed from the call that took the fault, and from later
 * calls on the same socket (an error it reports late); an error
 * anywhere else means the fault went unreported where it was taken.
 */
static bool after(const char *call, int fd, long rc, int err)
{
	cur_call = call;
	if (st.armed && !st.injected && nth_read() == 0) {
		st.injected = true;
		snprintf(st.inj_call, sizeof(st.inj_call), "%s", call);
		st.inj_fd = fd;
		st.inj_ok = rc >= 0;
	}
	if (rc >= 0)
		return true;
	note_errno(call, err);
	/*
	 * Every record the session sends is good: a failed allocation may
	 * end it with ENOMEM, never make a good record look forged.
	 */
	if (err == EBADMSG) {
		failf("%s failed with EBADMSG: an allocation failure (%s) passed for a bad record",
		      call, st.injected ? st.inj_call : "not taken by this task");
		return false;
	}
	if (random_mode)
		return true;
	if (!st.injected) {
		failf("%s failed with %s before any fault was injected", call,
		      short_ename(err));
		return false;
	}
	if (strcmp(call, st.inj_call) != 0 &&
	    (fd < 0 || fd != st.inj_fd)) {
		failf("%s failed with %s after the fault was taken by %s, which %s",
		      call, short_ename(err), st.inj_call,
		      st.inj_ok ? "succeeded" : "failed");
		return false;
	}
	return true;
}

/*
 * An errno that ends the step (the call failed, also when tried again).
 * "late": on a later call of the socket that took the fault.
 */
static void stop(const char *call, int err)
{
	if (!st.what[0]) {
		st.late = st.injected && strcmp(call, st.inj_call);
		snprintf(st.what, sizeof(st.what), "%s %s (%sfault in %s%s)",
			 call, short_ename(err), st.late ? "late: " : "",
			 st.injected ? st.inj_call : "-",
			 !st.late ? "" : st.inj_ok ? ", which succeeded" :
			 ", which failed");
	}
	st.stopped = true;
}

static bool transient(int err)
{
	return err == ENOMEM || err == ENOBUFS || err == EAGAIN ||
	       err == EINTR;
}

/* ---- data ------------------------------------------------------------- */

static u8 pat(int dir, u64 pos)
{
	return (u8)(pos * 131 + (pos >> 9) * 7 + dir * 101 + 3);
}

static void fill(int dir, u64 pos, u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pat(dir, pos + i);
}

static bool check(int dir, u64 pos, u8 *p, size_t n, const char *call)
{
	size_t i;

	if (st.corrupt && n) {
		p[n / 2] ^= 0x20;	/* the self-test: one wrong byte */
		st.corrupt = false;
	}
	for (i = 0; i < n; i++)
		if (p[i] != pat(dir, pos + i)) {
			failf("%s: wrong byte at stream offset %llu (dir %d): %#x, sent %#x",
			      call, (unsigned long long)(pos + i), dir, p[i],
			      pat(dir, pos + i));
			return false;
		}
	return true;
}

/* ---- keys ------------------------------------------------------------- */

/* keys of direction @dir, generation @gen, first record @seq */
static size_t key_make(int dir, int gen, u64 seq, u8 *buf)
{
	struct tls_crypto_info *h = (void *)buf;
	size_t n = info_size(cip), fixed = cip->iv + cip->key + cip->salt, i;
	u8 *p = buf + sizeof(*h);

	memset(buf, 0, n);
	h->version = version;
	h->cipher_type = cip->type;
	for (i = 0; i < fixed; i++)
		p[i] = (u8)(i * 29 + dir * 71 + gen * 13 + 5);
	for (i = 0; i < 8; i++)
		p[fixed + i] = (u8)(seq >> (56 - 8 * i));
	return n;
}

static int set_keys(int fd, int opt, int dir, int gen, u64 seq)
{
	u8 buf[128];
	size_t n = key_make(dir, gen, seq, buf);

	return setsockopt(fd, SOL_TLS, opt, buf, n) ? errno : 0;
}

static size_t overhead(void)
{
	size_t o = 5 + 16;

	if (version == TLS_1_3_VERSION)
		o += 1;
	else if (cip->type != TLS_CIPHER_CHACHA20_POLY1305)
		o += 8;
	return o;
}

/* ---- sockets ------------------------------------------------------------- */

/*
 * A call on @fd that may be tried again after the fault: tries @expr
 * again (three times, 10 ms apart) while its errno is a transient one
 * (ENOMEM, ENOBUFS, EAGAIN, EINTR); @res is its result, -1 when the step
 * ends here (failed, or stop()ped with the errno).
 */
#define RETRY(call, fd, expr, res)					\
	do {								\
		int _try = 0, _err;					\
		for (;;) {						\
			res = (expr);					\
			_err = errno;					\
			if (!after(call, fd, res, _err)) {		\
				res = -1;				\
				break;					\
			}						\
			if (res >= 0) {					\
				if (_try)				\
					st.retried++;			\
				break;					\
			}						\
			if (!transient(_err) || ++_try > 3) {		\
				stop(call, _err);			\
				break;					\
			}						\
			usleep(10000);					\
		}							\
		errno = _err;						\
	} while (0)

static int sopt_keys(int fd, int opt, int dir, int gen, u64 seq,
		     const char *call)
{
	long rc;

	RETRY(call, fd, (errno = set_keys(fd, opt, dir, gen, seq)) ? -1 : 0, rc);
	return rc < 0 ? -1 : 0;
}

static int sopt(int fd, int level, int opt, const void *v, socklen_t len,
		const char *call)
{
	long rc;

	RETRY(call, fd, setsockopt(fd, level, opt, v, len), rc);
	return rc < 0 ? -1 : 0;
}

/* send @len bytes of direction @dir's stream on @fd, with @flags */
static int xsend(int fd, int dir, size_t len, int flags, const char *call)
{
	static u8 buf[BIG];
	size_t done = 0;

	fill(dir, st.tx_pos[dir], buf, len);
	while (done < len) {
		long n;

		RETRY(call, fd, send(fd, buf + done, len - done,
				     flags | MSG_NOSIGNAL), n);
		if (n < 0)
			return -1;
		done += n;
	}
	st.tx_pos[dir] += len;
	return 0;
}

/*
 * Data that never came: did the socket that took the fault end its
 * stream with an error it reports later (SO_ERROR, the next call)? That
 * is an errno, "late"; data lost without one is a failure.
 */
static int *cur_fds;		/* the step's: listener, sender, receiver, ... */

static bool peer_error(const char *call)
{
	int e = 0, i, fd;
	socklen_t len = sizeof(e);
	char what[96];

	/* --random: any fault may be anywhere; either end may report it */
	for (i = 0; i < 2; i++) {
		fd = random_mode ? cur_fds[1 + i] : i ? -1 : st.inj_fd;
		if (fd < 0 || (!random_mode && !st.injected))
			continue;
		len = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) || !e)
			continue;
		snprintf(what, sizeof(what), "%s, SO_ERROR of the %s socket",
			 call, random_mode ? (i ? "receiving" : "sending") :
			 "faulted");
		note_errno("SO_ERROR", e);
		stop(what, e);
		return true;
	}
	return false;
}

enum { RX_RECV, RX_SPLICE, RX_TYPED };

/*
 * One read on @fd: recv() with @flags, splice() to @pfd or recvmsg() with
 * room for the record type. Timeouts (EAGAIN) are waited out, RCV_TRIES
 * times; a transient errno of the call that took the fault is tried
 * again as in RETRY. Returns what the call returned, -1 when the step
 * ends (failed or stopped).
 */
static long rx_call(const char *call, int kind, int fd, void *buf,
		    size_t len, int flags, int pfd, int *type)
{
	int waits = 0, tries = 0, err;
	long n;

	for (;;) {
		if (kind == RX_RECV)
			n = recv(fd, buf, len, flags);
		else if (kind == RX_SPLICE)
			n = splice(fd, NULL, pfd, NULL, len, 0);
		else
			n = recv_typed(fd, buf, len, 0, type, NULL);
		err = errno;
		if (n < 0 && err == EAGAIN) {
			after(call, fd, 0, 0);	/* a wait, not an error */
			if (++waits < RCV_TRIES)
				continue;
			if (peer_error(call))
				return -1;
			failf("%s: no data in %d s", call,
			      RCV_TRIES * RCV_MS / 1000);
			return -1;
		}
		if (!after(call, fd, n, err))
			return -1;
		if (n >= 0) {
			if (tries)
				st.retried++;
			return n;
		}
		if (!transient(err) || ++tries > 3) {
			stop(call, err);
			return -1;
		}
		usleep(10000);
	}
}

/*
 * Read @len bytes of direction @dir on @fd: "recv", "peek" (MSG_PEEK of
 * part first, then recv), "splice" (to a pipe, then read()).
 */
static int xrecv(int fd, int dir, size_t len, const char *how,
		 const char *call)
{
	static u8 buf[BIG + 64];
	size_t done = 0;
	int p[2] = { -1, -1 };
	long n;

	if (!strcmp(how, "peek")) {
		n = rx_call(call, RX_RECV, fd, buf, len < 64 ? len : 64,
			    MSG_PEEK, -1, NULL);
		if (n == 0)
			failf("%s: EOF, %zu bytes expected", call, len);
		if (n <= 0 || !check(dir, st.rx_pos[dir], buf, n, call))
			return -1;
	}
	if (!strcmp(how, "splice")) {
		RETRY("pipe", -1, pipe(p), n);
		if (n < 0)
			return -1;
	}
	while (done < len) {
		if (p[0] >= 0) {
			n = rx_call(call, RX_SPLICE, fd, NULL, len - done, 0,
				    p[1], NULL);
			if (n > 0) {
				long m;

				RETRY("read(pipe)", -1, read(p[0], buf, n), m);
				if (m != n) {
					if (m >= 0)
						failf("read(pipe): %ld of %ld",
						      m, n);
					n = -1;
				}
			}
		} else {
			n = rx_call(call, RX_RECV, fd, buf, len - done, 0, -1,
				    NULL);
		}
		if (n == 0)
			failf("%s: EOF, %zu more bytes expected", call,
			      len - done);
		if (n <= 0 || !check(dir, st.rx_pos[dir], buf, n, call))
			break;
		st.rx_pos[dir] += n;
		done += n;
	}
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	return done == len ? 0 : -1;
}

/* TLS 1.3 KeyUpdate from @tx to @rx, direction @dir, to generation 1 */
static int key_update(int tx, int rx, int dir, const char *name)
{
	static const u8 ku[KU_LEN] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
	char call[48];
	u8 buf[64];
	long n;
	int type = -1, err;

	snprintf(call, sizeof(call), "sendmsg(KeyUpdate %s)", name);
	RETRY(call, tx, send_typed(tx, T_HS, ku, KU_LEN), n);
	if (n < 0)
		return -1;
	if (n != KU_LEN) {
		failf("%s: %ld bytes sent", call, n);
		return -1;
	}
	snprintf(call, sizeof(call), "setsockopt(TLS_TX rekey %s)", name);
	if (sopt_keys(tx, TLS_TX, dir, 1, 0, call))
		return -1;
	snprintf(call, sizeof(call), "recvmsg(KeyUpdate %s)", name);
	n = rx_call(call, RX_TYPED, rx, buf, sizeof(buf), 0, -1, &type);
	if (n < 0)
		return -1;
	if (type != T_HS || n != KU_LEN || memcmp(buf, ku, KU_LEN)) {
		failf("%s: type %d, %ld bytes, not the KeyUpdate", call, type,
		      n);
		return -1;
	}
	snprintf(call, sizeof(call), "recv(after KeyUpdate %s)", name);
	n = recv(rx, buf, sizeof(buf), MSG_DONTWAIT);
	err = errno;
	if (n < 0 && err == EKEYEXPIRED) {
		after(call, rx, 0, 0);	/* what the call must return */
	} else {
		if (!after(call, rx, n, err))
			return -1;
		if (n >= 0) {
			failf("%s: %ld bytes, not EKEYEXPIRED", call, n);
			return -1;
		}
		stop(call, err);
		return -1;
	}
	snprintf(call, sizeof(call), "setsockopt(TLS_RX rekey %s)", name);
	return sopt_keys(rx, TLS_RX, dir, 1, 0, call);
}

static int check_getsockopt(int fd, int opt, const char *call)
{
	u8 buf[128];
	socklen_t len = info_size(cip);
	struct tls_crypto_info *h = (void *)buf;
	long rc;

	RETRY(call, fd, getsockopt(fd, SOL_TLS, opt, buf, &len), rc);
	if (rc < 0)
		return -1;
	if (len != info_size(cip) || h->version != version ||
	    h->cipher_type != cip->type) {
		failf("%s: length %u, version %#x, cipher %u", call, len,
		      h->version, h->cipher_type);
		return -1;
	}
	return 0;
}

/* the raw records: 64-byte pieces, each from its own page */
static int send_raw(int fd)
{
	int p[2];
	size_t i;
	long n;

	RETRY("pipe(raw)", -1, pipe(p), n);
	if (n < 0)
		return -1;
	for (i = 0; i < npieces && !st.failed && !st.stopped; i++) {
		size_t len = raw_len - i * PIECE < PIECE ?
			     raw_len - i * PIECE : PIECE;
		struct iovec iov = { pieces + i * PAGE, len };

		RETRY("vmsplice(raw)", -1, vmsplice(p[1], &iov, 1, 0), n);
		if (n < 0)
			break;
		if ((size_t)n != len) {
			failf("vmsplice(raw): %ld of %zu", n, len);
			break;
		}
		while (len) {
			RETRY("splice(raw to socket)", fd,
			      splice(p[0], NULL, fd, NULL, len, 0), n);
			if (n <= 0) {
				if (n == 0)
					failf("splice(raw to socket): 0");
				break;
			}
			len -= n;
		}
		if (len)
			break;
	}
	close(p[0]);
	close(p[1]);
	return st.failed || st.stopped ? -1 : 0;
}

static void close_checked(int *fd, const char *call)
{
	if (*fd < 0)
		return;
	if (close(*fd))
		failf("%s: %s", call, short_ename(errno));
	*fd = -1;
}

/* the scenario; fds[] are closed by the caller */
static void scenario(int *fds)
{
	int *lfd = &fds[0], *c = &fds[1], *s = &fds[2], *pp = &fds[3],
	    *mfd = &fds[5];
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	static u8 buf[16384];
	int one = 1;
	long rc;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	RETRY("socket(listener)", -1, socket(AF_INET, SOCK_STREAM, 0), rc);
	if (rc < 0)
		return;
	*lfd = rc;
	set_timeouts(*lfd, RCV_MS, SND_MS);
	RETRY("bind", *lfd, bind(*lfd, (void *)&a, sizeof(a)), rc);
	if (rc < 0)
		return;
	RETRY("listen", *lfd, listen(*lfd, 4), rc);
	if (rc < 0)
		return;
	RETRY("getsockname", *lfd, getsockname(*lfd, (void *)&a, &alen), rc);
	if (rc < 0)
		return;
	RETRY("socket", -1, socket(AF_INET, SOCK_STREAM, 0), rc);
	if (rc < 0)
		return;
	*c = rc;
	set_timeouts(*c, RCV_MS, SND_MS);
	RETRY("connect", *c, connect(*c, (void *)&a, sizeof(a)), rc);
	if (rc < 0)
		return;
	RETRY("accept", *lfd, accept(*lfd, NULL, NULL), rc);
	if (rc < 0)
		return;
	*s = rc;
	set_timeouts(*s, RCV_MS, SND_MS);
	if (sopt(*c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one),
		 "setsockopt(TCP_NODELAY)"))
		return;

	/* attach, receive keys, then the raw records in many skbs */
	if (sopt(*s, IPPROTO_TCP, TCP_ULP, "tls", 3, "setsockopt(TCP_ULP rx)") ||
	    sopt_keys(*s, TLS_RX, 0, 0, 0, "setsockopt(TLS_RX)") ||
	    send_raw(*c))
		return;
	st.tx_pos[0] = REC_A + REC_B;
	if (sopt(*c, IPPROTO_TCP, TCP_ULP, "tls", 3, "setsockopt(TCP_ULP tx)") ||
	    sopt_keys(*c, TLS_TX, 0, 0, 2, "setsockopt(TLS_TX)") ||
	    sopt_keys(*s, TLS_TX, 1, 0, 0, "setsockopt(TLS_TX back)") ||
	    sopt_keys(*c, TLS_RX, 1, 0, 0, "setsockopt(TLS_RX back)"))
		return;
	if (xrecv(*s, 0, REC_A + REC_B, "peek", "recv(many-skb record)"))
		return;

	/* sends of several sizes */
	if (xsend(*c, 0, 1, 0, "send(1)") || xsend(*c, 0, 100, 0, "send(100)") ||
	    xsend(*c, 0, 4096, 0, "send(4096)") ||
	    xrecv(*s, 0, 4197, "peek", "recv(small records)"))
		return;
	if (xsend(*c, 0, BIG, 0, "send(40000)") ||
	    xrecv(*s, 0, BIG, "recv", "recv(40000)"))
		return;
	if (xsend(*c, 0, 1000, MSG_MORE, "send(MSG_MORE 1)") ||
	    xsend(*c, 0, 1000, MSG_MORE, "send(MSG_MORE 2)") ||
	    xsend(*c, 0, 500, 0, "send(MSG_MORE end)") ||
	    xrecv(*s, 0, 2500, "splice", "splice(MSG_MORE record to pipe)"))
		return;

	/* splice() from a pipe */
	RETRY("pipe", -1, pipe(pp), rc);
	if (rc < 0)
		return;
	fill(0, st.tx_pos[0], buf, 8192);
	RETRY("write(pipe)", -1, write(pp[1], buf, 8192), rc);
	if (rc < 0)
		return;
	if (rc != 8192) {
		failf("write(pipe): %ld", rc);
		return;
	}
	for (size_t left = 8192; left;) {
		RETRY("splice(pipe to socket)", *c,
		      splice(pp[0], NULL, *c, NULL, left, 0), rc);
		if (rc <= 0) {
			if (rc == 0)
				failf("splice(pipe to socket): 0");
			return;
		}
		left -= rc;
	}
	st.tx_pos[0] += 8192;
	if (xrecv(*s, 0, 8192, "splice", "splice(socket to pipe)"))
		return;

	/* sendfile() from a memfd */
	RETRY("memfd_create", -1, memfd_create("faultinj", 0), rc);
	if (rc < 0)
		return;
	*mfd = rc;
	fill(0, st.tx_pos[0], buf, 12288);
	RETRY("write(memfd)", -1, write(*mfd, buf, 12288), rc);
	if (rc < 0)
		return;
	if (rc != 12288) {
		failf("write(memfd): %ld", rc);
		return;
	}
	{
		off_t off = 0;

		while (off < 12288) {
			RETRY("sendfile", *c, sendfile(*c, *mfd, &off, 12288 - off),
			      rc);
			if (rc <= 0) {
				if (rc == 0)
					failf("sendfile: 0");
				return;
			}
		}
	}
	st.tx_pos[0] += 12288;
	if (xrecv(*s, 0, 12288, "recv", "recv(sendfile records)"))
		return;

	/* KeyUpdate both ways, or data the other way under TLS 1.2 */
	if (version == TLS_1_3_VERSION) {
		if (key_update(*c, *s, 0, "c>s") ||
		    xsend(*c, 0, 3000, 0, "send(after rekey c>s)") ||
		    xrecv(*s, 0, 3000, "peek", "recv(after rekey c>s)") ||
		    key_update(*s, *c, 1, "s>c"))
			return;
	}
	if (xsend(*s, 1, 2000, 0, "send(s>c)") ||
	    xrecv(*c, 1, 2000, "recv", "recv(s>c)"))
		return;

	if (check_getsockopt(*c, TLS_TX, "getsockopt(TLS_TX)") ||
	    check_getsockopt(*c, TLS_RX, "getsockopt(TLS_RX back)") ||
	    check_getsockopt(*s, TLS_RX, "getsockopt(TLS_RX)") ||
	    check_getsockopt(*s, TLS_TX, "getsockopt(TLS_TX back)"))
		return;
}

/* after an errno: the sockets tell their state and close */
static void settle_fds(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		int err = 0;
		socklen_t len = sizeof(err);
		struct pollfd p = { .fd = fds[i], .events = POLLIN | POLLOUT };

		if (fds[i] < 0)
			continue;
		if (getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) &&
		    errno != ENOTSOCK)
			failf("getsockopt(SO_ERROR) after the errno: %s",
			      short_ename(errno));
		if (poll(&p, 1, 0) < 0)
			failf("poll after the errno: %s", short_ename(errno));
	}
}

/* one step; returns 0 (pass), 1 (retried), 2 (errno), -1 (failure) */
static int run_step(long n, bool *injected)
{
	int fds[6] = { -1, -1, -1, -1, -1, -1 }, i;
	static const char *const names[6] = {
		"close(listener)", "close(sender)", "close(receiver)",
		"close(pipe)", "close(pipe)", "close(memfd)",
	};

	memset(&st, 0, sizeof(st));
	cur_step = n;
	cur_call = "start";
	st.corrupt = corrupt_at == n;
	cur_fds = fds;
	alarm(STEP_SECS);
	if (n > 0 && !random_mode) {
		st.armed = true;
		nth_write(n);
	}
	scenario(fds);
	if (st.stopped && !st.failed)
		settle_fds(fds, 6);
	for (i = 0; i < 6; i++) {
		close_checked(&fds[i], names[i]);
		if (st.armed && !st.injected && nth_read() == 0) {
			st.injected = true;
			snprintf(st.inj_call, sizeof(st.inj_call), "%s",
				 names[i]);
			st.inj_ok = true;
		}
	}
	if (st.armed) {
		if (!st.injected && nth_read() == 0) {
			st.injected = true;
			snprintf(st.inj_call, sizeof(st.inj_call), "%s",
				 "(between calls)");
		}
		nth_write(0);
	}
	alarm(0);
	*injected = st.injected;
	if (st.injected)
		tally_add(&taken, st.inj_call);
	if (!st.failed && !st.injected && st.stopped && !random_mode)
		failf("%s without a fault", st.what);
	if (st.failed) {
		printf("FAIL step %ld: %s (fault %s%s)\n", n, st.fail,
		       st.injected ? "in " : "not injected",
		       st.injected ? st.inj_call : "");
		return -1;
	}
	if (st.stopped) {
		printf("step %ld: errno: %s\n", n, st.what);
		late += st.late;
		return 2;
	}
	if (st.retried) {
		printf("step %ld: retried, fault in %s\n", n, st.inj_call);
		return 1;
	}
	if (verbose)
		printf("step %ld: pass, fault %s%s\n", n,
		       st.injected ? "in " : "not injected",
		       st.injected ? st.inj_call : "");
	return 0;
}

/* ---- the oracle: seal the raw records once, with no fault armed ---------- */

static void oracle(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l, c, s, one = 1;
	u8 *plain;
	size_t got = 0, i;

	raw_len = REC_A + REC_B + 2 * overhead();
	raw = malloc(raw_len + 64);
	plain = malloc(REC_A + REC_B);
	if (!raw || !plain)
		die("malloc");
	fill(0, 0, plain, REC_A + REC_B);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (void *)&a, &alen) ||
	    connect(c, (void *)&a, sizeof(a)))
		die("oracle connection: %s", strerror(errno));
	s = accept(l, NULL, NULL);
	if (s < 0)
		die("oracle accept: %s", strerror(errno));
	set_timeouts(s, RCV_MS, SND_MS);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (setsockopt(c, IPPROTO_TCP, TCP_ULP, "tls", 3))
		die("TCP_ULP tls: %s (no tls ULP?)", strerror(errno));
	errno = set_keys(c, TLS_TX, 0, 0, 0);
	if (errno)
		die("oracle TLS_TX %s: %s", cip->name, strerror(errno));
	if (send(c, plain, REC_A, 0) != REC_A ||
	    send(c, plain + REC_A, REC_B, 0) != REC_B)
		die("oracle send: %s", strerror(errno));
	while (got < raw_len) {
		ssize_t n = recv(s, raw + got, raw_len - got, 0);

		if (n <= 0)
			die("oracle recv: %s", n ? strerror(errno) : "EOF");
		got += n;
	}
	close(c);
	close(s);
	close(l);
	free(plain);
	npieces = (raw_len + PIECE - 1) / PIECE;
	pieces = mmap(NULL, npieces * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (pieces == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (i = 0; i < npieces; i++) {
		size_t len = raw_len - i * PIECE < PIECE ?
			     raw_len - i * PIECE : PIECE;

		memcpy(pieces + i * PAGE, raw + i * PIECE, len);
	}
}

static void usage(void)
{
	die("usage: ktls-faultinj --tls 12|13 --cipher NAME [--max-steps N] "
	    "[--step N] [--random RUNS [--probability P]] [--inject-corrupt N] [-v]");
}

int main(int argc, char **argv)
{
	long max_steps = 4000, only = -1, runs = 0, n, last = 0;
	long cnt[3] = {}, fails = 0;
	struct timespec t0, t1;
	char path[64];
	size_t i;
	int a;

	for (a = 1; a < argc; a++) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (!strcmp(o, "-v")) {
			verbose = 1;
			continue;
		}
		if (!v)
			usage();
		a++;
		if (!strcmp(o, "--tls"))
			version = !strcmp(v, "12") ? TLS_1_2_VERSION :
				  !strcmp(v, "13") ? TLS_1_3_VERSION : 0;
		else if (!strcmp(o, "--cipher"))
			for (i = 0; i < KTLS_NCIPHERS; i++)
				cip = !strcmp(v, ktls_ciphers[i].name) ?
				      &ktls_ciphers[i] : cip;
		else if (!strcmp(o, "--max-steps"))
			max_steps = atol(v);
		else if (!strcmp(o, "--step"))
			only = atol(v);
		else if (!strcmp(o, "--random"))
			runs = atol(v);
		else if (!strcmp(o, "--probability"))
			probability = atol(v);
		else if (!strcmp(o, "--inject-corrupt"))
			corrupt_at = atol(v);
		else
			usage();
	}
	if (!version || !cip || max_steps < 1)
		usage();
	random_mode = runs > 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	oracle();

	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", gettid());
	if (!random_mode) {
		nth_fd = open(path, O_RDWR | O_CLOEXEC);
		if (nth_fd < 0)
			die("%s: %s (CONFIG_FAULT_INJECTION?)", path,
			    strerror(errno));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);

	/* step 0: the scenario whole, nothing armed */
	{
		bool inj;

		if (run_step(0, &inj) != 0)
			fails++;
	}
	if (fails) {
		/* nothing to step through: the scenario itself fails */
	} else if (random_mode) {
		set_probability(probability);
		for (n = 1; n <= runs; n++) {
			bool inj;
			int r = run_step(n, &inj);

			if (r < 0)
				fails++;
			else
				cnt[r]++;
		}
		set_probability(0);
		last = runs;
	} else if (only > 0) {
		bool inj;
		int r = run_step(only, &inj);

		if (r < 0)
			fails++;
		else
			cnt[r]++;
		last = only;
	} else {
		for (n = 1; n <= max_steps; n++) {
			bool inj;
			int r = run_step(n, &inj);

			if (r < 0)
				fails++;
			else
				cnt[r]++;
			if (!inj) {
				/* run_step() failed any other outcome */
				last = n;
				break;
			}
			if (fails >= 10)
				break;
		}
		if (last == 1) {
			printf("FAIL: step 1 took no fault: no allocation was counted (the filters?)\n");
			fails++;
		}
		if (!last && !fails) {
			printf("FAIL: still injecting after %ld steps\n",
			       max_steps);
			fails++;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("summary tls=1.%d cipher=%s mode=%s steps=%ld sites=%ld pass=%ld retried=%ld errno=%ld late=%ld failures=%ld seconds=%ld\n",
	       version == TLS_1_3_VERSION ? 3 : 2, cip->name,
	       random_mode ? "random" : "fail-nth", last,
	       random_mode || only > 0 ? -1 : (last ? last - 1 : -1),
	       cnt[0], cnt[1], cnt[2], late, fails,
	       (long)(t1.tv_sec - t0.tv_sec));
	tally_print("errnos", &seen);
	tally_print("faults-taken-in", &taken);
	return fails ? 1 : 0;
}
