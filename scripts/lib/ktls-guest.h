/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktls-guest.h: the small things the guest-side kTLS test programs share,
 * so that each keeps only its own logic:
 *
 *   scripts/fuzz/ktls-fuzz.c          scripts/stress/ktls-stress.c
 *   scripts/soak/ktls-soak.c          scripts/faultinj/ktls-faultinj.c
 *
 * Each of them is one translation unit and includes this file as
 * "../lib/ktls-guest.h", which the compiler looks up next to the source
 * file: the build lines in scripts/{fuzz,stress,soak,faultinj}.sh need no
 * -I. A program that includes it
 *  - defines _GNU_SOURCE first, before any #include;
 *  - defines KTLS_PROG, its name, that die() puts before its messages;
 *  - uses <linux/tcp.h> (included here), not <netinet/tcp.h>;
 *  - defines usage(), which prints its usage line with die(): num() calls
 *    it on a bad number.
 * Every function here is static inline, so that a program that does not
 * use one gets no warning for it under -Wall -Wextra -Werror.
 *
 * In here: die(), num(), xzalloc(); the clock (now_ms, sleep_us,
 * sleep_ms); errno names (ename); the splitmix64 generator (rnd, below,
 * between, chance); the uAPI ciphers whose keys the programs set (struct
 * ktls_cipher, ktls_ciphers[], info_size); loopback TCP sockets and the
 * "tls" ULP (set_int, set_timeouts, tcp_socket, listener, attach,
 * pair_attach); records of a given type (send_typed, recv_typed); the
 * counters of /proc/net/tls_stat (tls_stat, tls_left); a network
 * namespace of the program's own (netns).
 */
#ifndef KTLS_GUEST_H
#define KTLS_GUEST_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before any #include (unshare, strerrorname_np)"
#endif
#ifndef KTLS_PROG
#error "define KTLS_PROG, the program's name, before including ktls-guest.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp.h>
#include <linux/tls.h>

#ifndef SOL_TLS
#define SOL_TLS		282
#endif

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/* TLS record content types, and a TLS 1.3 KeyUpdate message */
#define T_CCS		20	/* change_cipher_spec */
#define T_ALERT		21
#define T_HS		22	/* handshake */
#define T_DATA		23	/* application data */
#define HS_KEY_UPDATE	24	/* the handshake message type */
#define KU_LEN		5	/* type, length (3 bytes), request_update */

/* ---- small things ------------------------------------------------------ */

/* A usage or setup error: the message on stderr, exit code 2 */
static inline void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(KTLS_PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* The program's own: its usage line, by die() */
static void usage(void) __attribute__((noreturn));

/* A whole number argument (0x: hex, 0: octal); none or a bad one: usage() */
static inline unsigned long num(const char *s)
{
	unsigned long v;
	char *end;

	if (!s)
		usage();
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s)
		usage();
	return v;
}

static inline void *xzalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		die("out of memory");
	return p;
}

/* CLOCK_MONOTONIC, in ms */
static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static inline void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* "EAGAIN" for EAGAIN, "0" for 0, "E?" for a number glibc has no name for */
static inline const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "E?";
}

/* ---- random numbers ---------------------------------------------------- */

/*
 * splitmix64: one 64-bit state per stream, so that every stream a program
 * needs is made from its seed directly (each program mixes its own).
 */
static inline u64 rnd(u64 *s)
{
	u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [0, n) */
static inline u64 below(u64 *s, u64 n)
{
	return n ? rnd(s) % n : 0;
}

/* A number in [lo, hi] */
static inline u64 between(u64 *s, u64 lo, u64 hi)
{
	return hi <= lo ? lo : lo + below(s, hi - lo + 1);
}

static inline bool chance(u64 *s, unsigned int percent)
{
	return below(s, 100) < percent;
}

/* ---- ciphers ----------------------------------------------------------- */

/*
 * The ciphers whose keys the stress, soak and fault-injection programs
 * set (the fuzzer seals records itself and has a table of its own): the
 * sizes of the fields of its struct tls12_crypto_info_*, in the order
 * they follow struct tls_crypto_info: iv, key, salt, rec_seq.
 */
struct ktls_cipher {
	const char *name;
	int type, iv, key, salt, seq;
};

static const struct ktls_cipher ktls_ciphers[] = {
	{ "aes-gcm-128", TLS_CIPHER_AES_GCM_128, 8, 16, 4, 8 },
	{ "aes-gcm-256", TLS_CIPHER_AES_GCM_256, 8, 32, 4, 8 },
	{ "chacha20-poly1305", TLS_CIPHER_CHACHA20_POLY1305, 12, 32, 0, 8 },
	{ "aes-ccm-128", TLS_CIPHER_AES_CCM_128, 8, 16, 4, 8 },
};

#define KTLS_NCIPHERS	(sizeof(ktls_ciphers) / sizeof(ktls_ciphers[0]))

/* The size of @c's crypto_info, the length TLS_TX and TLS_RX take */
static inline size_t info_size(const struct ktls_cipher *c)
{
	return sizeof(struct tls_crypto_info) + c->iv + c->key + c->salt +
	       c->seq;
}

/* ---- sockets ----------------------------------------------------------- */

static inline void set_int(int fd, int level, int opt, int val)
{
	setsockopt(fd, level, opt, &val, sizeof(val));
}

static inline void set_timeouts(int fd, long rcv_ms, long snd_ms)
{
	struct timeval r = { rcv_ms / 1000, (rcv_ms % 1000) * 1000 };
	struct timeval s = { snd_ms / 1000, (snd_ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof(r));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &s, sizeof(s));
}

static inline int tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	return fd;
}

/*
 * A listener on 127.0.0.1, any port (in *@port), SO_REUSEADDR; @rcvbuf > 0
 * sets SO_RCVBUF, which its children inherit.
 */
static inline int listener(int rcvbuf, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = tcp_socket();

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (rcvbuf > 0)
		set_int(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
	if (bind(fd, (void *)&a, sizeof(a)) || listen(fd, 64) ||
	    getsockname(fd, (void *)&a, &len))
		die("listener: %s", strerror(errno));
	*port = ntohs(a.sin_port);
	return fd;
}

/* TCP_ULP "tls": 0 or the errno */
static inline int attach(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) ?
	       errno : 0;
}

/*
 * Both ends of a connected pair: TCP_NODELAY, then the "tls" ULP; no
 * ULP is a setup error.
 */
static inline void pair_attach(const int fd[2])
{
	set_int(fd[0], IPPROTO_TCP, TCP_NODELAY, 1);
	set_int(fd[1], IPPROTO_TCP, TCP_NODELAY, 1);
	if (attach(fd[0]) || attach(fd[1]))
		die("TCP_ULP tls: %s (is the tls ULP there?)",
		    strerror(errno));
}

/* ---- records of a given type ------------------------------------------- */

/* A record of type @type with @len bytes, one sendmsg() */
static inline ssize_t send_typed(int fd, u8 type, const void *buf, size_t len)
{
	char cbuf[CMSG_SPACE(1)] = {};
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_TLS;
	c->cmsg_type = TLS_SET_RECORD_TYPE;
	c->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(c) = type;
	return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

/*
 * recvmsg() with room for the record type: the type in *@type, else -1;
 * *@eor (unless @eor is NULL): the call ended where a record ends
 * (MSG_EOR).
 */
static inline ssize_t recv_typed(int fd, void *buf, size_t len, int flags,
				 int *type, bool *eor)
{
	char cbuf[CMSG_SPACE(1)] = {};
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(fd, &msg, flags);

	*type = -1;
	if (eor)
		*eor = false;
	if (n < 0)
		return n;
	if (eor)
		*eor = msg.msg_flags & MSG_EOR;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_TLS &&
		    c->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *CMSG_DATA(c);
	return n;
}

/* ---- the kernel's counters, the namespace ------------------------------ */

/* One counter of /proc/net/tls_stat in this namespace; -1 if unreadable */
static inline long tls_stat(const char *name)
{
	FILE *f = fopen("/proc/self/net/tls_stat", "r");
	char key[64];
	long v, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

/*
 * The kTLS contexts left (TlsCurrTxSw + TlsCurrRxSw) once every socket is
 * closed: freeing them may lag the close, so this waits up to 5 s for
 * the sum to reach 0 and returns the last one read.
 */
static inline long tls_left(void)
{
	long left = 0;
	int i;

	for (i = 0; i < 50; i++) {
		left = tls_stat("TlsCurrTxSw") + tls_stat("TlsCurrRxSw");
		if (left <= 0)
			break;
		sleep_ms(100);
	}
	return left;
}

/* A network namespace of the program's own, loopback up */
static inline void netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET): %s (run as root)", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("lo up: %s", strerror(errno));
	close(fd);
}

#endif /* KTLS_GUEST_H */
