// SPDX-License-Identifier: GPL-2.0
/*
 * KCM over kTLS: a KCM multiplexor attached to a TCP socket with TLS_RX
 * keys frames the decrypted stream with a BPF length-prefix parser.
 *
 * The stream under test runs from a plain TCP socket (@tx), on which the
 * test writes records byte by byte, to @rx, which has the keys and the
 * KCM attached. The records are sealed by the kernel's own kTLS on a
 * second loopback pair (the sealer): what it writes is read back raw, so
 * the test decides how records are cut, and can corrupt them.
 *
 * Messages are a 4-byte big-endian length, then that many bytes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/kcm.h>
#include <linux/tcp.h>
#include <linux/tls.h>

#include "../../kselftest_harness.h"

#ifndef SOL_TLS
#define SOL_TLS		282
#endif
#ifndef AF_KCM
#define AF_KCM		41
#endif

#define REC_MAX		16384
#define TYPE_ALERT	21
#define TYPE_HANDSHAKE	22
#define TYPE_DATA	23
#define TIMEO_MS	5000

/* ---- keys ------------------------------------------------------------ */

struct keys {
	union {
		struct tls12_crypto_info_aes_gcm_128 gcm128;
		struct tls12_crypto_info_aes_gcm_256 gcm256;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
	};
	socklen_t len;
	int overhead;	/* bytes a record adds to its plaintext */
};

static void pattern(unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + 3);
}

static void make_keys(struct keys *k, __u16 version, __u16 cipher,
		      unsigned int seed)
{
	memset(k, 0, sizeof(*k));
	switch (cipher) {
	case TLS_CIPHER_AES_GCM_128:
		pattern(k->gcm128.key, sizeof(k->gcm128.key), seed);
		pattern(k->gcm128.iv, sizeof(k->gcm128.iv), seed + 1);
		pattern(k->gcm128.salt, sizeof(k->gcm128.salt), seed + 2);
		k->len = sizeof(k->gcm128);
		break;
	case TLS_CIPHER_AES_GCM_256:
		pattern(k->gcm256.key, sizeof(k->gcm256.key), seed);
		pattern(k->gcm256.iv, sizeof(k->gcm256.iv), seed + 1);
		pattern(k->gcm256.salt, sizeof(k->gcm256.salt), seed + 2);
		k->len = sizeof(k->gcm256);
		break;
	default:
		pattern(k->chacha.key, sizeof(k->chacha.key), seed);
		pattern(k->chacha.iv, sizeof(k->chacha.iv), seed + 1);
		k->len = sizeof(k->chacha);
		break;
	}
	k->gcm128.info.version = version;
	k->gcm128.info.cipher_type = cipher;
	if (version == TLS_1_3_VERSION)
		k->overhead = 5 + 1 + 16;
	else if (cipher == TLS_CIPHER_CHACHA20_POLY1305)
		k->overhead = 5 + 16;
	else
		k->overhead = 5 + 8 + 16;
}

/* ---- sockets --------------------------------------------------------- */

static void set_timeo(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int l, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (void *)&sa, len) || listen(l, 1) ||
	    getsockname(l, (void *)&sa, &len))
		return -1;
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (void *)&sa, len))
		return -1;
	*b = accept(l, NULL, NULL);
	close(l);
	if (*b < 0)
		return -1;
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_timeo(*a, TIMEO_MS);
	set_timeo(*b, TIMEO_MS);
	return 0;
}

static int ulp(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"));
}

static int set_keys(int fd, int dir, const struct keys *k)
{
	return setsockopt(fd, SOL_TLS, dir, k, k->len);
}

static int recv_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		off += n;
	}
	return 0;
}

/* The first check of every test: the ULP is there, or nothing below is kTLS */
static void expect_ulp(struct __test_metadata *_metadata)
{
	char buf[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");

	ASSERT_TRUE(!!f);
	ASSERT_TRUE(!!fgets(buf, sizeof(buf), f));
	fclose(f);
	ASSERT_TRUE(!!strstr(buf, "tls")) TH_LOG("no tls ULP: %s", buf);
}

/* ---- the sealer: the kernel's kTLS TX on a pair of its own ----------- */

struct sealer {
	int in, out;
	struct keys k;
};

static int sealer_init(struct sealer *s, const struct keys *k)
{
	s->k = *k;
	if (tcp_pair(&s->in, &s->out) || ulp(s->in) ||
	    set_keys(s->in, TLS_TX, k))
		return -1;
	return 0;
}

static void sealer_fini(struct sealer *s)
{
	close(s->in);
	close(s->out);
}

/* One record of @type holding @len bytes (at most REC_MAX), into @rec */
static int seal_one(struct sealer *s, unsigned char type, const void *data,
		    size_t len, unsigned char *rec)
{
	char cbuf[CMSG_SPACE(1)] = {};
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (type != TYPE_DATA) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_TLS;
		c->cmsg_type = TLS_SET_RECORD_TYPE;
		c->cmsg_len = CMSG_LEN(1);
		*CMSG_DATA(c) = type;
	}
	if (sendmsg(s->in, &msg, 0) != (ssize_t)len)
		return -1;
	return recv_exact(s->out, rec, len + s->k.overhead);
}

/*
 * Seal @len bytes into records of at most @cut bytes of plaintext each
 * and write them to @fd. Return the number of bytes written, or -1.
 */
static long seal_to(struct sealer *s, int fd, unsigned char type,
		    const unsigned char *data, size_t len, size_t cut)
{
	unsigned char *rec = malloc(REC_MAX + 64);
	size_t off = 0, n;
	long wire = 0;

	if (!rec)
		return -1;
	do {
		n = len - off < cut ? len - off : cut;
		if (seal_one(s, type, data + off, n, rec) ||
		    send_all(fd, rec, n + s->k.overhead)) {
			wire = -1;
			break;
		}
		wire += n + s->k.overhead;
		off += n;
	} while (off < len);
	free(rec);
	return wire;
}

/* ---- messages --------------------------------------------------------- */

/* A message: its 4-byte length, then bytes that name it by @id */
static size_t put_msg(unsigned char *p, unsigned int id, size_t len)
{
	size_t i;

	p[0] = len >> 24;
	p[1] = len >> 16;
	p[2] = len >> 8;
	p[3] = len;
	for (i = 0; i < len; i++)
		p[4 + i] = i < 4 ? (unsigned char)(id >> (8 * i)) :
				   (unsigned char)(id * 31 + i);
	return len + 4;
}

/* A BPF parser that frames 4-byte length-prefixed messages */
static int len_prefix_prog(void)
{
	struct bpf_insn insns[] = {
		/* LD_ABS reads from the context in r6 */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_6,
		  .src_reg = BPF_REG_1 },
		/* r0 = the message's first 4 bytes, big endian */
		{ .code = BPF_LD | BPF_W | BPF_ABS, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 4 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {
		.prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
		.insns = (__u64)(unsigned long)insns,
		.insn_cnt = ARRAY_SIZE(insns),
		.license = (__u64)(unsigned long)"GPL",
	};

	return syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

static int kcm_attach_fd(int kcm, int fd, int prog)
{
	struct kcm_attach a = { .fd = fd, .bpf_fd = prog };

	return ioctl(kcm, SIOCKCMATTACH, &a);
}

static int kcm_unattach_fd(int kcm, int fd)
{
	struct kcm_unattach u = { .fd = fd };

	return ioctl(kcm, SIOCKCMUNATTACH, &u);
}

/* ---- the fixture -------------------------------------------------------- */

FIXTURE(kcm)
{
	int tx, rx, kcm, prog;
	struct sealer s;
	struct keys k;
	unsigned char *buf;
};

FIXTURE_VARIANT(kcm)
{
	__u16 version;
	__u16 cipher;
};

FIXTURE_VARIANT_ADD(kcm, 12_aes_gcm) { TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128 };
FIXTURE_VARIANT_ADD(kcm, 12_aes_gcm_256) { TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256 };
FIXTURE_VARIANT_ADD(kcm, 12_chacha) { TLS_1_2_VERSION, TLS_CIPHER_CHACHA20_POLY1305 };
FIXTURE_VARIANT_ADD(kcm, 13_aes_gcm) { TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128 };
FIXTURE_VARIANT_ADD(kcm, 13_chacha) { TLS_1_3_VERSION, TLS_CIPHER_CHACHA20_POLY1305 };

#define BUF_LEN		((1 << 20) + 64)

FIXTURE_SETUP(kcm)
{
	int big = 8 << 20;

	self->kcm = -1;
	self->prog = -1;
	self->tx = -1;
	self->rx = -1;
	self->s.in = -1;
	self->s.out = -1;
	expect_ulp(_metadata);
	self->buf = malloc(BUF_LEN);
	ASSERT_TRUE(!!self->buf);
	make_keys(&self->k, variant->version, variant->cipher, 1);
	ASSERT_EQ(sealer_init(&self->s, &self->k), 0);
	ASSERT_EQ(tcp_pair(&self->tx, &self->rx), 0);
	/* a message may be as long as the receive buffer: 1 MiB fits */
	ASSERT_EQ(setsockopt(self->rx, SOL_SOCKET, SO_RCVBUFFORCE, &big,
			     sizeof(big)), 0);
	ASSERT_EQ(ulp(self->rx), 0);
	ASSERT_EQ(set_keys(self->rx, TLS_RX, &self->k), 0);
	self->prog = len_prefix_prog();
	ASSERT_GE(self->prog, 0) TH_LOG("BPF_PROG_LOAD: %s", strerror(errno));
	self->kcm = socket(AF_KCM, SOCK_DGRAM, KCMPROTO_CONNECTED);
	ASSERT_GE(self->kcm, 0) TH_LOG("AF_KCM: %s", strerror(errno));
	set_timeo(self->kcm, TIMEO_MS);
	ASSERT_EQ(kcm_attach_fd(self->kcm, self->rx, self->prog), 0)
		TH_LOG("SIOCKCMATTACH: %s", strerror(errno));
}

FIXTURE_TEARDOWN(kcm)
{
	int fds[] = { self->kcm, self->prog, self->tx, self->rx, self->s.in,
		      self->s.out };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(self->buf);
}

/* Seal messages of @sizes, @cut bytes of plaintext per record, and send */
static void send_msgs(struct __test_metadata *_metadata, struct sealer *s,
		      int fd, const size_t *sizes, int n, unsigned int id0,
		      size_t cut)
{
	size_t total = 0, off = 0;
	unsigned char *p;
	int i;

	for (i = 0; i < n; i++)
		total += sizes[i] + 4;
	p = malloc(total);
	ASSERT_TRUE(!!p);
	for (i = 0; i < n; i++)
		off += put_msg(p + off, id0 + i, sizes[i]);
	ASSERT_GT(seal_to(s, fd, TYPE_DATA, p, total, cut), 0);
	free(p);
}

/* The next message on @kcm is message @id, of @len bytes, whole */
static void expect_msg(struct __test_metadata *_metadata, int kcm,
		       unsigned char *buf, unsigned int id, size_t len)
{
	unsigned char *want = malloc(len + 4);
	ssize_t n;

	ASSERT_TRUE(!!want);
	put_msg(want, id, len);
	n = recv(kcm, buf, BUF_LEN, 0);
	ASSERT_EQ(n, (ssize_t)len + 4)
		TH_LOG("message %u: %s", id, n < 0 ? strerror(errno) : "wrong length");
	EXPECT_EQ(memcmp(buf, want, len + 4), 0) TH_LOG("message %u differs", id);
	free(want);
}

static void check_msgs(struct __test_metadata *_metadata, struct sealer *s,
		       int tx, int kcm, unsigned char *buf, const size_t *sizes,
		       int n, size_t cut)
{
	int i;

	send_msgs(_metadata, s, tx, sizes, n, 0, cut);
	for (i = 0; i < n; i++)
		expect_msg(_metadata, kcm, buf, i, sizes[i]);
}

/* Many messages in one record: each starts inside the record's plaintext */
TEST_F(kcm, many_messages_per_record)
{
	size_t sizes[60];
	int i;

	for (i = 0; i < 60; i++)
		sizes[i] = 1 + i * 3;
	check_msgs(_metadata, &self->s, self->tx, self->kcm, self->buf, sizes,
		   60, REC_MAX);
}

/* Messages across records, down to records of 1 to 3 bytes */
TEST_F(kcm, messages_across_records)
{
	static const size_t sizes[] = { 1, 100, 5000, 16384, 20000, 70000, 2 };
	static const size_t cuts[] = { 1000, 3, 1 };

	static const int counts[] = { 7, 3, 2 };
	unsigned int c;

	/* records of 3 and of 1 byte: a few thousand of them */
	for (c = 0; c < 3; c++)
		check_msgs(_metadata, &self->s, self->tx, self->kcm, self->buf,
			   sizes, counts[c], cuts[c]);
}

/* One byte to one MiB */
TEST_F(kcm, message_sizes)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 4095, 4096, 16379,
					16380, 16381, 65536, 1 << 20, 7 };

	check_msgs(_metadata, &self->s, self->tx, self->kcm, self->buf, sizes,
		   13, REC_MAX);
}

/* ---- N KCM sockets, N threads ----------------------------------------- */

#define THREADS		4
#define THREAD_MSGS	200

struct reader {
	pthread_t thread;
	int fd;
	int *seen;
	int *total;
	int bad;
	pthread_mutex_t *lock;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	unsigned char *buf = malloc(BUF_LEN), want[4096 + 4];
	struct timespec t0, t;
	unsigned int id;
	ssize_t n;
	bool done;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pthread_mutex_lock(r->lock);
		done = *r->total == THREAD_MSGS;
		pthread_mutex_unlock(r->lock);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (done || !buf || t.tv_sec - t0.tv_sec > 60)
			break;
		n = recv(r->fd, buf, BUF_LEN, MSG_DONTWAIT);
		if (n < 0) {
			usleep(1000);
			continue;
		}
		id = n >= 8 ? buf[4] | buf[5] << 8 | buf[6] << 16 | buf[7] << 24 : ~0u;
		if (id >= THREAD_MSGS || (size_t)n != put_msg(want, id, 8 + id * 20) ||
		    memcmp(buf, want, n)) {
			r->bad++;
			continue;
		}
		pthread_mutex_lock(r->lock);
		r->seen[id]++;
		(*r->total)++;
		pthread_mutex_unlock(r->lock);
	}
	free(buf);
	return NULL;
}

/* Every message reaches exactly one of the KCM sockets, whole */
TEST_F(kcm, threads)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int seen[THREAD_MSGS] = {}, total = 0, i, wrong = 0, first = 0, times = 0;
	struct reader r[THREADS];
	size_t sizes[THREAD_MSGS];
	struct kcm_clone clone;

	for (i = 0; i < THREAD_MSGS; i++)
		sizes[i] = 8 + i * 20;
	for (i = 0; i < THREADS; i++) {
		r[i] = (struct reader){ .seen = seen, .total = &total, .lock = &lock };
		if (i) {
			ASSERT_EQ(ioctl(self->kcm, SIOCKCMCLONE, &clone), 0);
			r[i].fd = clone.fd;
		} else {
			r[i].fd = self->kcm;
		}
		ASSERT_EQ(pthread_create(&r[i].thread, NULL, reader_fn, &r[i]), 0);
	}
	send_msgs(_metadata, &self->s, self->tx, sizes, THREAD_MSGS, 0, 5000);
	for (i = 0; i < THREADS; i++) {
		pthread_join(r[i].thread, NULL);
		EXPECT_EQ(r[i].bad, 0);
		if (i)
			close(r[i].fd);
	}
	EXPECT_EQ(total, THREAD_MSGS);
	for (i = 0; i < THREAD_MSGS; i++) {
		if (seen[i] != 1 && !wrong++) {
			first = i;
			times = seen[i];
		}
	}
	EXPECT_EQ(wrong, 0) TH_LOG("message %d seen %d times", first, times);
}

/* ---- KCM transmit through kTLS TX --------------------------------------- */

/*
 * Messages sent on the KCM socket leave @rx as TLS records: @tx reads
 * them raw and hands them to a socket with the matching RX keys.
 */
TEST_F(kcm, kcm_tx)
{
	int open_in, open_out, i;
	size_t want = 0, got = 0;
	unsigned char *exp = malloc(1 << 20), raw[65536];
	struct timespec t0, t;
	struct keys k2;
	ssize_t n;

	ASSERT_TRUE(!!exp);
	make_keys(&k2, variant->version, variant->cipher, 9);
	/* keys first, then KCM (Documentation/networking/tls.rst) */
	ASSERT_EQ(kcm_unattach_fd(self->kcm, self->rx), 0);
	ASSERT_EQ(set_keys(self->rx, TLS_TX, &k2), 0);
	ASSERT_EQ(kcm_attach_fd(self->kcm, self->rx, self->prog), 0);
	ASSERT_EQ(tcp_pair(&open_in, &open_out), 0);
	ASSERT_EQ(ulp(open_out), 0);
	ASSERT_EQ(set_keys(open_out, TLS_RX, &k2), 0);
	for (i = 0; i < 40; i++) {
		size_t len = put_msg(exp + want, i, 1 + i * 997);

		ASSERT_EQ(send(self->kcm, exp + want, len, 0), (ssize_t)len)
			TH_LOG("KCM send %d: %s", i, strerror(errno));
		want += len;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < want) {
		bool idle = true;

		n = recv(self->tx, raw, sizeof(raw), MSG_DONTWAIT);
		if (n > 0) {
			ASSERT_EQ(send_all(open_in, raw, n), 0);
			idle = false;
		}
		n = recv(open_out, self->buf + got, want - got, MSG_DONTWAIT);
		if (n > 0) {
			got += n;
			idle = false;
		}
		ASSERT_TRUE(n > 0 || errno == EAGAIN) TH_LOG("%s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &t);
		ASSERT_LT(t.tv_sec - t0.tv_sec, 30) TH_LOG("%zu of %zu bytes", got, want);
		if (idle)
			usleep(1000);
	}
	EXPECT_EQ(memcmp(self->buf, exp, want), 0);
	close(open_in);
	close(open_out);
	free(exp);
}

/* ---- giving the socket back ------------------------------------------------- */

/* After SIOCKCMUNATTACH, kTLS reads go on where KCM stopped */
TEST_F(kcm, unattach_then_read)
{
	static const size_t sizes[] = { 10, 20000, 30 };
	unsigned char more[3000];
	size_t i;

	check_msgs(_metadata, &self->s, self->tx, self->kcm, self->buf, sizes,
		   3, 7000);
	ASSERT_EQ(kcm_unattach_fd(self->kcm, self->rx), 0);
	for (i = 0; i < sizeof(more); i++)
		more[i] = i * 13;
	ASSERT_GT(seal_to(&self->s, self->tx, TYPE_DATA, more, sizeof(more),
			  1000), 0);
	ASSERT_EQ(recv_exact(self->rx, self->buf, sizeof(more)), 0);
	EXPECT_EQ(memcmp(self->buf, more, sizeof(more)), 0);
}

/* The attached socket reports @err as KCM reports a parser error */
static void expect_psock_error(struct __test_metadata *_metadata, int fd,
			       int err)
{
	/* POLLERR only: the record that stops the psock is readable before */
	struct pollfd p = { .fd = fd };
	socklen_t len = sizeof(int);
	int soerr = 0;

	ASSERT_EQ(poll(&p, 1, TIMEO_MS), 1) TH_LOG("no POLLERR");
	ASSERT_TRUE(p.revents & POLLERR);
	ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len), 0);
	EXPECT_EQ(soerr, err) TH_LOG("SO_ERROR %s", strerror(soerr));
}

/* recvmsg() of the next record: its type and bytes */
static void expect_record(struct __test_metadata *_metadata, int fd,
			  unsigned char type, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(1)];
	unsigned char buf[64];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n;

	n = recvmsg(fd, &msg, 0);
	ASSERT_EQ(n, (ssize_t)len) TH_LOG("%s", n < 0 ? strerror(errno) : "length");
	c = CMSG_FIRSTHDR(&msg);
	ASSERT_TRUE(!!c);
	EXPECT_EQ(c->cmsg_type, TLS_GET_RECORD_TYPE);
	EXPECT_EQ(*CMSG_DATA(c), type);
	EXPECT_EQ(memcmp(buf, data, len), 0);
}

/*
 * An alert between messages stops the psock with EINVAL on the TCP
 * socket; the library takes the socket back and reads the alert, then
 * the data after it.
 */
TEST_F(kcm, control_record)
{
	static const size_t one[] = { 50 };
	unsigned char after[100];

	send_msgs(_metadata, &self->s, self->tx, one, 1, 0, REC_MAX);
	ASSERT_GT(seal_to(&self->s, self->tx, TYPE_ALERT,
			  (const unsigned char *)"\x01\x00", 2, REC_MAX), 0);
	ASSERT_EQ(put_msg(after, 1, 96), 100u);
	ASSERT_GT(seal_to(&self->s, self->tx, TYPE_DATA, after, 100, REC_MAX), 0);
	expect_msg(_metadata, self->kcm, self->buf, 0, 50);
	expect_psock_error(_metadata, self->rx, EINVAL);
	EXPECT_EQ(recv(self->kcm, self->buf, BUF_LEN, MSG_DONTWAIT), -1);
	ASSERT_EQ(kcm_unattach_fd(self->kcm, self->rx), 0);
	expect_record(_metadata, self->rx, TYPE_ALERT, "\x01\x00", 2);
	ASSERT_EQ(recv_exact(self->rx, self->buf, 100), 0);
	EXPECT_EQ(memcmp(self->buf, after, 100), 0);
}

/*
 * An alert inside a message: the psock stops although the message is
 * not complete (strparser waits for its rest, and must not wait for
 * ever); the part of the message KCM had is gone with it.
 */
TEST_F(kcm, control_inside_message)
{
	unsigned char msg[1004];

	put_msg(msg, 0, 1000);
	ASSERT_GT(seal_to(&self->s, self->tx, TYPE_DATA, msg, 500, REC_MAX), 0);
	ASSERT_GT(seal_to(&self->s, self->tx, TYPE_ALERT,
			  (const unsigned char *)"\x01\x00", 2, REC_MAX), 0);
	expect_psock_error(_metadata, self->rx, EINVAL);
	ASSERT_EQ(kcm_unattach_fd(self->kcm, self->rx), 0);
	expect_record(_metadata, self->rx, TYPE_ALERT, "\x01\x00", 2);
}

/* A record that does not authenticate stops the psock with EBADMSG */
TEST_F(kcm, bad_tag)
{
	static const size_t one[] = { 50 };
	unsigned char rec[200], msg[60];

	send_msgs(_metadata, &self->s, self->tx, one, 1, 0, REC_MAX);
	put_msg(msg, 1, 56);
	ASSERT_EQ(seal_one(&self->s, TYPE_DATA, msg, 60, rec), 0);
	rec[60 + self->k.overhead - 1] ^= 1;
	ASSERT_EQ(send_all(self->tx, rec, 60 + self->k.overhead), 0);
	expect_msg(_metadata, self->kcm, self->buf, 0, 50);
	expect_psock_error(_metadata, self->rx, EBADMSG);
	ASSERT_EQ(kcm_unattach_fd(self->kcm, self->rx), 0);
	EXPECT_EQ(recv(self->rx, self->buf, 100, 0), -1);
	EXPECT_EQ(errno, EBADMSG);
}

/* ---- closing in every order ---------------------------------------------- */

/* Closing the KCM socket unattaches: the TCP socket reads on */
TEST_F(kcm, close_kcm_first)
{
	static const size_t one[] = { 64 };
	unsigned char more[64];

	check_msgs(_metadata, &self->s, self->tx, self->kcm, self->buf, one,
		   1, REC_MAX);
	close(self->kcm);
	self->kcm = -1;
	memset(more, 0x5a, sizeof(more));
	ASSERT_GT(seal_to(&self->s, self->tx, TYPE_DATA, more, sizeof(more),
			  REC_MAX), 0);
	ASSERT_EQ(recv_exact(self->rx, self->buf, sizeof(more)), 0);
	EXPECT_EQ(memcmp(self->buf, more, sizeof(more)), 0);
}

/* Closing the TCP socket's fd first: KCM holds the socket until it goes */
TEST_F(kcm, close_tcp_first)
{
	static const size_t sizes[] = { 64, 30000 };

	send_msgs(_metadata, &self->s, self->tx, sizes, 2, 0, 4000);
	close(self->rx);
	expect_msg(_metadata, self->kcm, self->buf, 0, 64);
	expect_msg(_metadata, self->kcm, self->buf, 1, 30000);
	close(self->kcm);
	self->kcm = -1;
	self->rx = socket(AF_INET, SOCK_STREAM, 0);
}

/* Both closed with records in flight and a message half parsed */
TEST_F(kcm, close_with_data_queued)
{
	static const size_t sizes[] = { 64, 200000 };
	unsigned char msg[1004];

	send_msgs(_metadata, &self->s, self->tx, sizes, 2, 0, REC_MAX);
	put_msg(msg, 2, 1000);
	ASSERT_GT(seal_to(&self->s, self->tx, TYPE_DATA, msg, 600, REC_MAX), 0);
	expect_msg(_metadata, self->kcm, self->buf, 0, 64);
	close(self->kcm);
	self->kcm = -1;
	close(self->rx);
	self->rx = socket(AF_INET, SOCK_STREAM, 0);
}

/* ---- attach rules, and rekey, per TLS 1.3 cipher --------------------------- */

/*
 * KCM attaches to a kTLS socket only once it has TLS_RX keys: before,
 * it would read ciphertext as messages. A socket without the ULP is
 * plain KCM over TCP, and kTLS does not go under it (EBUSY): not the
 * ULP, and not the first keys of either direction.
 */
TEST(attach_needs_rx_keys)
{
	struct keys k;
	int a, b, kcm, prog;

	expect_ulp(_metadata);
	make_keys(&k, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, 3);
	prog = len_prefix_prog();
	ASSERT_GE(prog, 0);
	kcm = socket(AF_KCM, SOCK_DGRAM, KCMPROTO_CONNECTED);
	ASSERT_GE(kcm, 0);

	ASSERT_EQ(tcp_pair(&a, &b), 0);
	ASSERT_EQ(kcm_attach_fd(kcm, b, prog), 0);
	EXPECT_EQ(ulp(b), -1);
	EXPECT_EQ(errno, EBUSY);
	EXPECT_EQ(kcm_unattach_fd(kcm, b), 0);
	ASSERT_EQ(ulp(b), 0);
	EXPECT_EQ(kcm_attach_fd(kcm, b, prog), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(set_keys(b, TLS_TX, &k), 0);
	EXPECT_EQ(kcm_attach_fd(kcm, b, prog), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(set_keys(b, TLS_RX, &k), 0);
	EXPECT_EQ(kcm_attach_fd(kcm, b, prog), 0);
	EXPECT_EQ(kcm_unattach_fd(kcm, b), 0);

	/* RX keys first, then KCM, then the first TX keys: refused */
	close(a);
	close(b);
	ASSERT_EQ(tcp_pair(&a, &b), 0);
	ASSERT_EQ(ulp(b), 0);
	ASSERT_EQ(set_keys(b, TLS_RX, &k), 0);
	ASSERT_EQ(kcm_attach_fd(kcm, b, prog), 0);
	EXPECT_EQ(set_keys(b, TLS_TX, &k), -1);
	EXPECT_EQ(errno, EBUSY);
	EXPECT_EQ(kcm_unattach_fd(kcm, b), 0);
	EXPECT_EQ(set_keys(b, TLS_TX, &k), 0);
	close(a);
	close(b);
	close(kcm);
	close(prog);
}

/*
 * TLS 1.3 KeyUpdate while attached: the psock stops at the KeyUpdate
 * record (EINVAL, a control record); the library takes the socket back,
 * reads it, installs the next keys and attaches again; the messages
 * after it arrive on the KCM socket.
 */
static void rekey(struct __test_metadata *_metadata, __u16 cipher)
{
	static const unsigned char ku[] = { 0x18, 0, 0, 1, 0 };
	static const size_t sizes[] = { 30, 3000 };
	struct sealer s;
	struct keys k, k2;
	unsigned char *buf = malloc(BUF_LEN);
	int tx, rx, kcm, prog, i;

	ASSERT_TRUE(!!buf);
	make_keys(&k, TLS_1_3_VERSION, cipher, 5);
	make_keys(&k2, TLS_1_3_VERSION, cipher, 6);
	ASSERT_EQ(sealer_init(&s, &k), 0);
	ASSERT_EQ(tcp_pair(&tx, &rx), 0);
	ASSERT_EQ(ulp(rx), 0);
	ASSERT_EQ(set_keys(rx, TLS_RX, &k), 0);
	prog = len_prefix_prog();
	ASSERT_GE(prog, 0);
	kcm = socket(AF_KCM, SOCK_DGRAM, KCMPROTO_CONNECTED);
	ASSERT_GE(kcm, 0);
	set_timeo(kcm, TIMEO_MS);
	ASSERT_EQ(kcm_attach_fd(kcm, rx, prog), 0);

	send_msgs(_metadata, &s, tx, sizes, 2, 0, REC_MAX);
	ASSERT_GT(seal_to(&s, tx, TYPE_HANDSHAKE, ku, sizeof(ku), REC_MAX), 0);
	ASSERT_EQ(set_keys(s.in, TLS_TX, &k2), 0);
	send_msgs(_metadata, &s, tx, sizes, 2, 2, 1000);

	for (i = 0; i < 2; i++)
		expect_msg(_metadata, kcm, buf, i, sizes[i]);
	expect_psock_error(_metadata, rx, EINVAL);
	ASSERT_EQ(kcm_unattach_fd(kcm, rx), 0);
	expect_record(_metadata, rx, TYPE_HANDSHAKE, ku, sizeof(ku));
	EXPECT_EQ(recv(rx, buf, 10, MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	ASSERT_EQ(set_keys(rx, TLS_RX, &k2), 0);
	ASSERT_EQ(kcm_attach_fd(kcm, rx, prog), 0);
	for (i = 0; i < 2; i++)
		expect_msg(_metadata, kcm, buf, 2 + i, sizes[i]);

	close(kcm);
	close(prog);
	close(tx);
	close(rx);
	sealer_fini(&s);
	free(buf);
}

TEST(rekey_13_aes_gcm)
{
	expect_ulp(_metadata);
	rekey(_metadata, TLS_CIPHER_AES_GCM_128);
}

TEST(rekey_13_chacha)
{
	expect_ulp(_metadata);
	rekey(_metadata, TLS_CIPHER_CHACHA20_POLY1305);
}

TEST_HARNESS_MAIN
