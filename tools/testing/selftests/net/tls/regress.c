// SPDX-License-Identifier: GPL-2.0
/*
 * One regression test per class of kTLS bug that upstream has fixed,
 * named after the class. Each test says which fix showed the class (by
 * its subject line and year) and what it asserts; none depends on how
 * the bug was fixed there.
 *
 * Both ends are kTLS sockets here, so a record is checked by the
 * kernel's own receive path; tx and rx check records against OpenSSL.
 * Every pair is made through ktls_pair(), which asserts that the "tls"
 * ULP is attached (TCP_ULP reads back "tls") and that the keys are in
 * (TLS_TX reads back the cipher): no test can pass on plain TCP.
 *
 * Classes the other suites already cover, under other names:
 *   zero-length records and type changes: rx: rx.empty_records_every_order,
 *     rx.empty_data_then_control, rx.zero_len_data, rx13.empty_inner,
 *     rx.no_merge; tls: control_msg_nomerge, data_control_data
 *   splice accounting: tx: splice_pieces_then_send, splice_send_alternate;
 *     tls: peek_and_splice, recv_and_splice
 *   CCM IV size: the CCM variants of tx, rx and tls (TLS 1.2 and 1.3,
 *     AES and SM4), checked against OpenSSL
 *   an allocation failure in the middle of a multi-skb record: only the
 *     path without the failure, rx: small_rcvbuf; the failure itself
 *     needs fault injection
 *
 * async_partial_reads and async_close_after_send_recv are the targets of
 * the asynchronous crypto pass (an AEAD that completes in cryptd); they
 * check the same outcomes with the usual synchronous AEADs.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/tls.h>

#include "../../kselftest_harness.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define PLAIN_MAX	16384
#define HDR_LEN		5
/* No blocking call of a test waits longer than this for its peer */
#define WAIT_MS		10000

/* ---- keys and sockets --------------------------------------------- */

struct ktls_key {
	union {
		struct tls_crypto_info info;
		struct tls12_crypto_info_aes_gcm_128 gcm;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
		unsigned char raw[64];
	};
	socklen_t len;
};

/*
 * Key material of generation @gen: each byte after the header follows
 * from @gen and its place, so two generations differ everywhere; the
 * last 8 bytes, rec_seq in every crypto_info struct, stay 0.
 */
static void key_gen(struct ktls_key *k, __u16 version, __u16 cipher, int gen)
{
	size_t i;

	memset(k, 0, sizeof(*k));
	k->len = cipher == TLS_CIPHER_CHACHA20_POLY1305 ?
		 sizeof(k->chacha) : sizeof(k->gcm);
	for (i = sizeof(k->info); i < k->len - 8; i++)
		k->raw[i] = gen * 61 + i * 13;
	k->info.version = version;
	k->info.cipher_type = cipher;
}

static void pattern(unsigned char *buf, size_t len, unsigned int seed)
{
	unsigned int x = seed * 2654435761u + 12345;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345;
		buf[i] = x >> 16;
	}
}

static void set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* A listener on the loopback address of @family (in6addr_any: dual) */
static int listener(struct __test_metadata *_metadata, int family, bool dual,
		    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	int fd, zero = 0;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = dual ? in6addr_any : in6addr_loopback;
		*len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s4);
	}
	fd = socket(family, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	if (dual)
		ASSERT_EQ(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				     sizeof(zero)), 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)ss, *len), 0);
	ASSERT_EQ(listen(fd, 8), 0);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)ss, len), 0);
	return fd;
}

/* Connect a @family socket to @lfd and accept it: *@a and *@b */
static void connect_to(struct __test_metadata *_metadata, int lfd, int family,
		       const struct sockaddr_storage *ss, socklen_t len,
		       int buf, int *a, int *b)
{
	*a = socket(family, SOCK_STREAM, 0);
	ASSERT_GE(*a, 0);
	if (buf) {
		ASSERT_EQ(setsockopt(*a, SOL_SOCKET, SO_SNDBUF, &buf,
				     sizeof(buf)), 0);
		ASSERT_EQ(setsockopt(*a, SOL_SOCKET, SO_RCVBUF, &buf,
				     sizeof(buf)), 0);
	}
	ASSERT_EQ(connect(*a, (const struct sockaddr *)ss, len), 0);
	*b = accept(lfd, NULL, NULL);
	ASSERT_GE(*b, 0);
	set_timeo(*a, SO_RCVTIMEO, WAIT_MS);
	set_timeo(*b, SO_RCVTIMEO, WAIT_MS);
	set_timeo(*a, SO_SNDTIMEO, WAIT_MS);
	set_timeo(*b, SO_SNDTIMEO, WAIT_MS);
}

/* A connected loopback pair; @buf, when not 0, sizes both buffers */
static void tcp_conn(struct __test_metadata *_metadata, int family, int buf,
		     int *a, int *b)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd;

	lfd = listener(_metadata, family, false, &ss, &len);
	if (buf)
		ASSERT_EQ(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &buf,
				     sizeof(buf)), 0);
	connect_to(_metadata, lfd, family, &ss, len, buf, a, b);
	close(lfd);
}

/* The ULP's name on @fd: "" when it has none */
static void ulp_name(struct __test_metadata *_metadata, int fd, char *name,
		     size_t size)
{
	socklen_t len = size - 1;

	memset(name, 0, size);
	ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_ULP, name, &len), 0);
}

/* Attach kTLS to @fd and see that it is there */
static void ulp_on(struct __test_metadata *_metadata, int fd)
{
	char name[16];

	ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 4), 0)
		TH_LOG("TCP_ULP tls: %s", strerror(errno));
	ulp_name(_metadata, fd, name, sizeof(name));
	ASSERT_STREQ(name, "tls");
}

static void set_key(struct __test_metadata *_metadata, int fd, int dir,
		    const struct ktls_key *k)
{
	struct tls_crypto_info got = {};
	socklen_t len = sizeof(got);

	ASSERT_EQ(setsockopt(fd, SOL_TLS, dir, k->raw, k->len), 0)
		TH_LOG("%s: %s", dir == TLS_TX ? "TLS_TX" : "TLS_RX",
		       strerror(errno));
	ASSERT_EQ(getsockopt(fd, SOL_TLS, dir, &got, &len), 0);
	ASSERT_EQ(got.cipher_type, k->info.cipher_type);
	ASSERT_EQ(got.version, k->info.version);
}

/* @a sends with generation 1 keys, @b with generation 2, both ways */
static void keys_on(struct __test_metadata *_metadata, int a, int b,
		    __u16 version, __u16 cipher)
{
	struct ktls_key k1, k2;

	key_gen(&k1, version, cipher, 1);
	key_gen(&k2, version, cipher, 2);
	set_key(_metadata, a, TLS_TX, &k1);
	set_key(_metadata, b, TLS_RX, &k1);
	set_key(_metadata, b, TLS_TX, &k2);
	set_key(_metadata, a, TLS_RX, &k2);
}

/* A kTLS pair: "tls" attached and keyed on both ends, both ways */
static void ktls_pair(struct __test_metadata *_metadata, int family,
		      __u16 version, __u16 cipher, int buf, int *a, int *b)
{
	tcp_conn(_metadata, family, buf, a, b);
	ulp_on(_metadata, *a);
	ulp_on(_metadata, *b);
	keys_on(_metadata, *a, *b, version, cipher);
}

/* Read until @len bytes came, EOF or an error: what came */
static size_t recv_all(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* @fd delivers exactly @want, then nothing more for now */
static void expect_bytes(struct __test_metadata *_metadata, int fd,
			 const unsigned char *want, size_t len)
{
	unsigned char *buf = malloc(len + 1), c;

	ASSERT_TRUE(!!buf);
	ASSERT_EQ(recv_all(fd, buf, len), len) TH_LOG("recv: %s",
						      strerror(errno));
	EXPECT_EQ(memcmp(buf, want, len), 0);
	free(buf);
	EXPECT_EQ(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

/* @len bytes of seed @seed from @from to @to */
static void exchange(struct __test_metadata *_metadata, int from, int to,
		     size_t len, unsigned int seed)
{
	unsigned char *buf = malloc(len);

	ASSERT_TRUE(!!buf);
	pattern(buf, len, seed);
	ASSERT_EQ(send(from, buf, len, 0), len);
	expect_bytes(_metadata, to, buf, len);
	free(buf);
}

static bool errno_in(int err, const int *set, int n)
{
	while (n--)
		if (set[n] == err)
			return true;
	return false;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Non-blocking sends of @buf until TCP and kTLS take no more: the count */
static size_t fill_nonblock(int fd, const unsigned char *buf, size_t max)
{
	size_t sent = 0;
	ssize_t n;

	while (sent < max) {
		n = send(fd, buf + sent, max - sent < 4096 ? max - sent : 4096,
			 MSG_DONTWAIT);
		if (n <= 0)
			break;
		sent += n;
	}
	return sent;
}

/* ---- the fixture ---------------------------------------------------- */

FIXTURE(regress)
{
	int a, b;
};

FIXTURE_VARIANT(regress)
{
	__u16 version;
	__u16 cipher;
};

FIXTURE_VARIANT_ADD(regress, 12_aes_gcm)
{
	.version = TLS_1_2_VERSION,
	.cipher = TLS_CIPHER_AES_GCM_128,
};

FIXTURE_VARIANT_ADD(regress, 13_aes_gcm)
{
	.version = TLS_1_3_VERSION,
	.cipher = TLS_CIPHER_AES_GCM_128,
};

FIXTURE_SETUP(regress)
{
	/* sends into a reset connection fail with EPIPE, not a signal */
	signal(SIGPIPE, SIG_IGN);
	ktls_pair(_metadata, AF_INET, variant->version, variant->cipher, 0,
		  &self->a, &self->b);
}

FIXTURE_TEARDOWN(regress)
{
	close(self->a);
	close(self->b);
}

/*
 * ULP on a listening or disconnected socket and its children. Upstream
 * let a socket with the ULP disconnect and listen, and every child it
 * accepted shared the parent's kTLS context, freed once per child: "net/ulp:
 * prevent ULP without clone op from entering the LISTEN status" (2023).
 * Here: a listener takes no ULP; a child of it has none; a child with
 * kTLS refuses connect(AF_UNSPEC) and listen(), and keeps working; a
 * later child of the same listener is plain TCP.
 */
TEST_F_TIMEOUT(regress, ulp_on_listener_children, 60)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	struct sockaddr_storage ss;
	int i, lfd, c1, s1, c2, s2;
	char name[16];
	socklen_t len;

	for (i = 0; i < 2; i++) {
		lfd = listener(_metadata, families[i], false, &ss, &len);
		EXPECT_EQ(setsockopt(lfd, IPPROTO_TCP, TCP_ULP, "tls", 4), -1);
		EXPECT_EQ(errno, ENOTCONN);
		connect_to(_metadata, lfd, families[i], &ss, len, 0, &c1, &s1);
		ulp_name(_metadata, s1, name, sizeof(name));
		EXPECT_STREQ(name, "");
		ulp_on(_metadata, c1);
		ulp_on(_metadata, s1);
		keys_on(_metadata, s1, c1, variant->version, variant->cipher);

		EXPECT_EQ(connect(s1, &unspec, sizeof(unspec)), -1);
		EXPECT_EQ(errno, EOPNOTSUPP);
		EXPECT_EQ(listen(s1, 1), -1);
		EXPECT_EQ(errno, EINVAL);
		exchange(_metadata, s1, c1, 20000, 1);
		exchange(_metadata, c1, s1, 20000, 2);

		connect_to(_metadata, lfd, families[i], &ss, len, 0, &c2, &s2);
		ulp_name(_metadata, s2, name, sizeof(name));
		EXPECT_STREQ(name, "");
		/* no keys on either end: the bytes are TCP's, as sent */
		exchange(_metadata, s2, c2, 3000, 3);
		close(c2);
		close(s2);
		close(c1);
		close(s1);
		close(lfd);
	}
}

/*
 * IPv6 protocol tables. kTLS once gave IPv6 sockets the IPv4 struct
 * proto, "tls: Use correct sk->sk_prot for IPV6" (2018), and later the
 * IPv4 proto_ops, "tls: fix replacing proto_ops" (2021). tls.c's
 * tls_v6ops checks getsockname() after the keys; here: a bulk transfer
 * both ways over IPv6, with IPv6 socket options and the names through
 * the kTLS socket, the same for an IPv4 client accepted by a dual-stack
 * IPv6 listener (a v4-mapped IPv6 socket), and an IPv4 pair after them.
 */
struct v6_view {
	struct sockaddr_in6 name, peer;
	int v6only;
};

/* What IPv6 says of @fd: its names and IPV6_V6ONLY */
static void v6_view(struct __test_metadata *_metadata, int fd,
		    struct v6_view *v)
{
	socklen_t len;

	memset(v, 0, sizeof(*v));
	len = sizeof(v->name);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&v->name, &len), 0);
	ASSERT_EQ(len, sizeof(v->name));
	len = sizeof(v->peer);
	ASSERT_EQ(getpeername(fd, (struct sockaddr *)&v->peer, &len), 0);
	ASSERT_EQ(len, sizeof(v->peer));
	len = sizeof(v->v6only);
	ASSERT_EQ(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v->v6only, &len),
		  0);
}

/* Through kTLS, IPv6 answers as it did before: @before */
static void v6_same(struct __test_metadata *_metadata, int fd,
		    const struct v6_view *before, bool mapped)
{
	int tclass = 0x28, got = 0;
	struct v6_view now;
	socklen_t len;

	v6_view(_metadata, fd, &now);
	EXPECT_EQ(now.name.sin6_family, AF_INET6);
	EXPECT_EQ(IN6_IS_ADDR_V4MAPPED(&now.name.sin6_addr), mapped);
	EXPECT_EQ(memcmp(&now, before, sizeof(now)), 0);
	if (mapped)
		return;
	EXPECT_EQ(setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass,
			     sizeof(tclass)), 0);
	len = sizeof(got);
	EXPECT_EQ(getsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &got, &len), 0);
	EXPECT_EQ(got, tclass);
}

TEST_F_TIMEOUT(regress, ipv6_proto_tables, 120)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct v6_view va, vb;
	socklen_t len;
	int a, b, lfd;

	tcp_conn(_metadata, AF_INET6, 0, &a, &b);
	v6_view(_metadata, a, &va);
	v6_view(_metadata, b, &vb);
	ulp_on(_metadata, a);
	ulp_on(_metadata, b);
	keys_on(_metadata, a, b, variant->version, variant->cipher);
	v6_same(_metadata, a, &va, false);
	v6_same(_metadata, b, &vb, false);
	exchange(_metadata, a, b, 300000, 4);
	exchange(_metadata, b, a, 300000, 5);
	close(a);
	close(b);

	/* an IPv4 client on a dual-stack IPv6 listener */
	lfd = listener(_metadata, AF_INET6, true, &ss, &len);
	s4->sin_family = AF_INET;
	s4->sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	connect_to(_metadata, lfd, AF_INET, &ss, sizeof(*s4), 0, &a, &b);
	close(lfd);
	v6_view(_metadata, b, &vb);
	ulp_on(_metadata, a);
	ulp_on(_metadata, b);
	keys_on(_metadata, a, b, variant->version, variant->cipher);
	v6_same(_metadata, b, &vb, true);
	exchange(_metadata, a, b, 100000, 6);
	exchange(_metadata, b, a, 100000, 7);
	close(a);
	close(b);

	/* and IPv4 still gets IPv4 */
	ktls_pair(_metadata, AF_INET, variant->version, variant->cipher, 0,
		  &a, &b);
	len = sizeof(ss);
	ASSERT_EQ(getsockname(a, (struct sockaddr *)&ss, &len), 0);
	EXPECT_EQ(len, sizeof(struct sockaddr_in));
	EXPECT_EQ(ss.ss_family, AF_INET);
	exchange(_metadata, a, b, 100000, 8);
	close(a);
	close(b);
}

/*
 * getsockopt vs setsockopt race. getsockopt(TLS_TX) copied the crypto
 * info while setsockopt was filling it in: "net: tls: fix possible race
 * condition between do_tls_getsockopt_conf() and do_tls_setsockopt_conf()"
 * (2023). Here a thread reads TLS_TX without pause while the keys are
 * set (and, under TLS 1.3, replaced again and again): every read is
 * EBUSY (no keys yet) or one whole generation of keys, never a mix.
 */
struct getter {
	int fd;
	const struct ktls_key *k[2];
	bool stop;
	long busy, whole, bad;
	int bad_errno;
};

static void *getter_fn(void *arg)
{
	struct getter *g = arg;
	struct ktls_key got;
	socklen_t len;

	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
		len = g->k[0]->len;
		memset(got.raw, 0xa5, sizeof(got.raw));
		if (getsockopt(g->fd, SOL_TLS, TLS_TX, got.raw, &len)) {
			if (errno == EBUSY) {
				__atomic_add_fetch(&g->busy, 1,
						   __ATOMIC_RELAXED);
			} else {
				g->bad_errno = errno;
				__atomic_add_fetch(&g->bad, 1,
						   __ATOMIC_RELAXED);
			}
			continue;
		}
		if (len == g->k[0]->len &&
		    (!memcmp(got.raw, g->k[0]->raw, len) ||
		     (g->k[1] && !memcmp(got.raw, g->k[1]->raw, len))))
			g->whole++;
		else
			g->bad++;
	}
	return NULL;
}

TEST_F_TIMEOUT(regress, getsockopt_setsockopt_race, 120)
{
	struct ktls_key k1, k2, k3;
	struct getter g;
	pthread_t t;
	int i, a, b;

	key_gen(&k1, variant->version, variant->cipher, 1);
	for (i = 0; i < 100; i++) {
		tcp_conn(_metadata, AF_INET, 0, &a, &b);
		ulp_on(_metadata, a);
		memset(&g, 0, sizeof(g));
		g.fd = a;
		g.k[0] = &k1;
		ASSERT_EQ(pthread_create(&t, NULL, getter_fn, &g), 0);
		while (!__atomic_load_n(&g.busy, __ATOMIC_RELAXED) &&
		       !__atomic_load_n(&g.bad, __ATOMIC_RELAXED))
			sched_yield();
		ASSERT_EQ(setsockopt(a, SOL_TLS, TLS_TX, k1.raw, k1.len), 0);
		usleep(1000);
		__atomic_store_n(&g.stop, true, __ATOMIC_RELEASE);
		pthread_join(t, NULL);
		ASSERT_EQ(g.bad, 0) TH_LOG("round %d: %ld torn or failed reads (errno %d)",
					   i, g.bad, g.bad_errno);
		close(a);
		close(b);
	}

	if (variant->version != TLS_1_3_VERSION)
		return;
	/* TLS 1.3: each TLS_TX is a KeyUpdate, read back whole as well */
	key_gen(&k2, variant->version, variant->cipher, 2);
	key_gen(&k3, variant->version, variant->cipher, 3);
	memset(&g, 0, sizeof(g));
	g.fd = self->a;
	g.k[0] = &k2;
	g.k[1] = &k3;
	ASSERT_EQ(setsockopt(self->a, SOL_TLS, TLS_TX, k2.raw, k2.len), 0);
	ASSERT_EQ(pthread_create(&t, NULL, getter_fn, &g), 0);
	for (i = 0; i < 400; i++) {
		const struct ktls_key *k = i & 1 ? &k2 : &k3;

		ASSERT_EQ(setsockopt(self->a, SOL_TLS, TLS_TX, k->raw, k->len),
			  0) TH_LOG("KeyUpdate %d: %s", i, strerror(errno));
	}
	__atomic_store_n(&g.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	EXPECT_EQ(g.bad, 0) TH_LOG("%ld torn or failed reads (errno %d)",
				   g.bad, g.bad_errno);
	EXPECT_GT(g.whole, 0);
}

/*
 * The TX list empty at write_space. TCP calls the write_space callback
 * whenever the peer's ACKs free send buffer, whether or not kTLS has a
 * record waiting; upstream took the first entry of an empty list for a
 * record: "net/tls: tls_is_tx_ready() checked list_entry" (2023). Here
 * write_space comes with nothing in kTLS (the send buffer was filled in
 * clear before the keys) and after every record went out: the socket
 * turns writable and the records arrive whole.
 */
TEST_F_TIMEOUT(regress, write_space_empty_tx, 120)
{
	const size_t max = 4 << 20;
	struct ktls_key k1, k2;
	unsigned char *buf;
	struct pollfd pfd;
	size_t clear, sent;
	int a, b, round;

	buf = malloc(max);
	ASSERT_TRUE(!!buf);
	pattern(buf, max, 9);
	tcp_conn(_metadata, AF_INET, 16384, &a, &b);
	ulp_on(_metadata, a);
	ulp_on(_metadata, b);
	clear = fill_nonblock(a, buf, max);
	ASSERT_GT(clear, 0);
	ASSERT_LT(clear, max) TH_LOG("the send buffer never filled");
	key_gen(&k1, variant->version, variant->cipher, 1);
	key_gen(&k2, variant->version, variant->cipher, 2);
	set_key(_metadata, a, TLS_TX, &k1);
	set_key(_metadata, a, TLS_RX, &k2);
	set_key(_metadata, b, TLS_TX, &k2);

	/* the ACKs of the clear bytes free the buffer: nothing in kTLS */
	expect_bytes(_metadata, b, buf, clear);
	set_key(_metadata, b, TLS_RX, &k1);
	pfd = (struct pollfd){ .fd = a, .events = POLLOUT };
	ASSERT_EQ(poll(&pfd, 1, WAIT_MS), 1);
	EXPECT_TRUE(pfd.revents & POLLOUT);

	for (round = 0; round < 3; round++) {
		pattern(buf, max, 10 + round);
		sent = fill_nonblock(a, buf, max);
		ASSERT_GT(sent, 0);
		/* the last records go out on write_space, then it comes empty */
		expect_bytes(_metadata, b, buf, sent);
		pfd = (struct pollfd){ .fd = a, .events = POLLOUT };
		ASSERT_EQ(poll(&pfd, 1, WAIT_MS), 1);
		EXPECT_TRUE(pfd.revents & POLLOUT);
	}
	exchange(_metadata, a, b, 100, 13);
	exchange(_metadata, b, a, 100, 14);
	close(a);
	close(b);
	free(buf);
}

/*
 * Partial reads of async-decrypted records. With an AEAD completing
 * asynchronously, reads that stopped inside a record used freed memory
 * or returned wrong counts: "net: tls: fix use-after-free with partial
 * reads and async decrypt" (2023), "net: tls: fix returned read length
 * with async decrypt" (2024). The asynchronous crypto pass's target.
 * Here: records of many sizes read with buffers that end inside them,
 * MSG_PEEK before some reads and MSG_WAITALL across several records:
 * every count is what was asked or what was there, and the stream is
 * byte for byte what was sent.
 */
struct sender_arg {
	int fd;
	const unsigned char *buf;
	const size_t *sizes;
	int n;
	ssize_t sent;
};

static void *sender_fn(void *arg)
{
	struct sender_arg *s = arg;
	size_t off = 0;
	ssize_t r;
	int i;

	for (i = 0; i < s->n; i++) {
		r = send(s->fd, s->buf + off, s->sizes[i], 0);
		if (r != (ssize_t)s->sizes[i])
			break;
		off += r;
	}
	s->sent = off;
	return NULL;
}

TEST_F_TIMEOUT(regress, async_partial_reads, 120)
{
	static const size_t sizes[] = {
		1, 100, 4096, PLAIN_MAX, PLAIN_MAX + 1, 7, 3000, 65536, 2,
		PLAIN_MAX - 1, 12345, 1, 1, 40000, 511, PLAIN_MAX * 3,
	};
	static const size_t reads[] = { 1, 3, 17, 1000, 4099, 16384, 20000 };
	unsigned char *want, *got, *peek;
	struct sender_arg s = {};
	size_t total = 0, off = 0;
	pthread_t t;
	ssize_t n, p;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		total += sizes[i];
	want = malloc(total);
	got = malloc(total);
	peek = malloc(65536);
	ASSERT_TRUE(want && got && peek);
	pattern(want, total, 15);
	s = (struct sender_arg){ .fd = self->a, .buf = want, .sizes = sizes,
				 .n = ARRAY_SIZE(sizes) };
	ASSERT_EQ(pthread_create(&t, NULL, sender_fn, &s), 0);

	for (i = 0; off < total; i++) {
		size_t len = reads[i % ARRAY_SIZE(reads)];

		if (len > total - off)
			len = total - off;
		if (i % 5 == 4) {
			/* across records, to the byte */
			len = total - off < 50000 ? total - off : 50000;
			n = recv(self->b, got + off, len, MSG_WAITALL);
			ASSERT_EQ(n, (ssize_t)len) TH_LOG("waitall at %zu: %s",
							  off, strerror(errno));
		} else {
			p = -1;
			if (i % 3 == 0)
				p = recv(self->b, peek, len, MSG_PEEK);
			n = recv(self->b, got + off, len, 0);
			ASSERT_GT(n, 0) TH_LOG("recv at %zu: %s", off,
					       strerror(errno));
			ASSERT_LE(n, (ssize_t)len);
			if (p > 0)
				EXPECT_EQ(memcmp(peek, got + off,
						 p < n ? p : n), 0)
					TH_LOG("peek at %zu differs", off);
		}
		ASSERT_EQ(memcmp(got + off, want + off, n), 0)
			TH_LOG("read %u (%zd bytes at %zu) differs", i, n, off);
		off += n;
	}
	pthread_join(t, NULL);
	EXPECT_EQ(s.sent, (ssize_t)total);
	EXPECT_EQ(recv(self->b, peek, 1, MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
	free(want);
	free(got);
	free(peek);
}

/*
 * Close right after send/recv with async crypto. The thread that sent or
 * received could return, close and free the socket while the crypto
 * callback still ran: "tls: fix race between async notify and socket
 * close" (2024). The asynchronous crypto pass's target. Here, many
 * times over: close() right after sends (one record left open), and the
 * peer gets every byte, then EOF; close() right after a read that
 * stopped inside a record, while more records come.
 */
TEST_F_TIMEOUT(regress, async_close_after_send_recv, 120)
{
	unsigned char want[5 * 3000 + 100], got[sizeof(want)];
	int i, a, b;
	ssize_t n;

	for (i = 0; i < 25; i++) {
		ktls_pair(_metadata, AF_INET, variant->version,
			  variant->cipher, 0, &a, &b);
		pattern(want, sizeof(want), 100 + i);
		for (n = 0; n < 5; n++)
			ASSERT_EQ(send(a, want + n * 3000, 3000, 0), 3000);
		ASSERT_EQ(send(a, want + 15000, 100, MSG_MORE), 100);
		close(a);
		ASSERT_EQ(recv_all(b, got, sizeof(got)), sizeof(got));
		EXPECT_EQ(memcmp(got, want, sizeof(want)), 0);
		EXPECT_EQ(recv(b, got, 1, 0), 0);
		close(b);

		ktls_pair(_metadata, AF_INET, variant->version,
			  variant->cipher, 0, &a, &b);
		ASSERT_EQ(send(a, want, 8000, 0), 8000);
		ASSERT_EQ(send(a, want + 8000, 4000, 0), 4000);
		ASSERT_EQ(recv(b, got, 1, 0), 1);
		EXPECT_EQ(got[0], want[0]);
		send(a, want, 3000, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(b);
		/* the peer is gone: sends fail, or land in a dead socket */
		n = send(a, want, 3000, MSG_NOSIGNAL);
		if (n < 0)
			EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET)
				TH_LOG("send after peer close: %s",
				       strerror(errno));
		close(a);
	}
}

/*
 * The write_space work re-queued after close. ACKs arriving in softirq
 * while close() tore kTLS down scheduled the TX work after close had
 * cancelled it, and the work ran on freed memory: "tls: Fix race
 * condition in tls_sw_cancel_work_tx()" (2026). Here: records wait in
 * kTLS for a window, the peer starts reading (its ACKs bring write_space)
 * and the sender closes at that moment; every byte the sends took
 * arrives, then EOF.
 */
struct drain_arg {
	int fd;
	unsigned char *buf;
	size_t len, got;
	ssize_t last;
};

static void *drain_fn(void *arg)
{
	struct drain_arg *d = arg;

	d->got = recv_all(d->fd, d->buf, d->len);
	d->last = recv(d->fd, d->buf, 1, 0);
	return NULL;
}

TEST_F_TIMEOUT(regress, write_space_after_close, 180)
{
	const size_t max = 2 << 20;
	unsigned char *want, *got;
	struct drain_arg d;
	pthread_t t;
	size_t sent;
	int i, a, b;

	want = malloc(max);
	got = malloc(max + 1);
	ASSERT_TRUE(want && got);
	for (i = 0; i < 20; i++) {
		ktls_pair(_metadata, AF_INET, variant->version,
			  variant->cipher, 16384, &a, &b);
		pattern(want, max, 200 + i);
		sent = fill_nonblock(a, want, max);
		ASSERT_GT(sent, 0);
		d = (struct drain_arg){ .fd = b, .buf = got, .len = sent };
		ASSERT_EQ(pthread_create(&t, NULL, drain_fn, &d), 0);
		if (i & 1)
			usleep(i * 100);
		close(a);
		pthread_join(t, NULL);
		ASSERT_EQ(d.got, sent) TH_LOG("round %d: %zu of %zu bytes",
					      i, d.got, sent);
		ASSERT_EQ(memcmp(got, want, sent), 0) TH_LOG("round %d", i);
		EXPECT_EQ(d.last, 0) TH_LOG("round %d: no EOF", i);
		close(b);
	}
	free(want);
	free(got);
}

/*
 * Another reader stealing TCP data under TLS_RX. A reader already
 * waiting in TCP's recvmsg when TLS_RX was set kept reading TCP, and
 * took bytes kTLS had counted as its next record: "tls: handle data
 * disappearing from under the TLS ULP" (2025). Once TLS_RX is in, the
 * stream is kTLS's (Documentation/networking/tls.rst: reads return
 * plaintext, a record the keys cannot have produced ends the
 * connection); what such a reader took is lost to kTLS. The contract
 * checked: the other reader got ciphertext (the record header); kTLS
 * never returns plaintext or EOF for the damaged stream, only EAGAIN
 * (no whole record) or the errors of a broken stream (EBADMSG, EINVAL,
 * EMSGSIZE), and neither hangs nor crashes.
 */
struct thief {
	int fd;
	size_t want;
	int flags;
	unsigned char buf[65536];
	ssize_t got;
};

static void *thief_fn(void *arg)
{
	struct thief *t = arg;

	t->got = recv(t->fd, t->buf, t->want, t->flags);
	return NULL;
}

TEST_F_TIMEOUT(regress, other_reader_under_tls_rx, 120)
{
	static const int errs[] = { EAGAIN, EBADMSG, EINVAL, EMSGSIZE };
	unsigned char data[20000], buf[sizeof(data)];
	struct ktls_key k;
	struct thief *th;
	pthread_t t;
	int round, a, b;
	ssize_t n;

	th = malloc(sizeof(*th));
	ASSERT_TRUE(!!th);
	key_gen(&k, variant->version, variant->cipher, 1);
	pattern(data, sizeof(data), 16);
	for (round = 0; round < 2; round++) {
		tcp_conn(_metadata, AF_INET, 0, &a, &b);
		ulp_on(_metadata, a);
		ulp_on(_metadata, b);
		memset(th, 0, sizeof(*th));
		th->fd = b;
		/* a header's worth, or whatever is there when it wakes */
		th->want = round ? sizeof(th->buf) : HDR_LEN;
		th->flags = round ? 0 : MSG_WAITALL;
		ASSERT_EQ(pthread_create(&t, NULL, thief_fn, th), 0);
		usleep(500000);
		set_key(_metadata, a, TLS_TX, &k);
		set_key(_metadata, b, TLS_RX, &k);
		ASSERT_EQ(send(a, data, sizeof(data), 0), sizeof(data));
		pthread_join(t, NULL);
		ASSERT_GE(th->got, HDR_LEN) TH_LOG("the other reader: %s",
						   strerror(errno));
		ASSERT_NE(memcmp(th->buf, data, HDR_LEN), 0)
			TH_LOG("the other reader got plaintext: it was not in TCP yet");
		EXPECT_EQ(th->buf[0], 23);
		EXPECT_EQ(th->buf[1], 3);
		EXPECT_EQ(th->buf[2], 3);

		usleep(100000);
		n = recv(b, buf, sizeof(buf), MSG_DONTWAIT);
		EXPECT_EQ(n, -1) TH_LOG("round %d: kTLS returned %zd after the steal",
					round, n);
		if (n < 0)
			EXPECT_TRUE(errno_in(errno, errs, ARRAY_SIZE(errs)))
				TH_LOG("round %d: %s", round, strerror(errno));
		set_timeo(b, SO_RCVTIMEO, 500);
		n = recv(b, buf, sizeof(buf), 0);
		EXPECT_EQ(n, -1) TH_LOG("round %d: kTLS returned %zd", round, n);
		if (n < 0)
			EXPECT_TRUE(errno_in(errno, errs, ARRAY_SIZE(errs)))
				TH_LOG("round %d: %s", round, strerror(errno));
		close(a);
		close(b);
	}
	free(th);
}

/*
 * Disconnect. connect(AF_UNSPEC) on a kTLS socket reset TCP under kTLS's
 * feet, with its records and parser state: "net: tls: explicitly
 * disallow disconnect" (2025). ulp.c checks the errno with the ULP
 * alone; here with keys both ways, records queued unread and a record
 * left open: EOPNOTSUPP on both ends, and afterwards the stream goes on
 * whole, the open record included.
 */
TEST_F_TIMEOUT(regress, disconnect, 60)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	unsigned char want[3 * 5000 + 4 + 3];
	char name[16];
	int i;

	pattern(want, sizeof(want), 17);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(send(self->a, want + i * 5000, 5000, 0), 5000);
	ASSERT_EQ(send(self->a, want + 15000, 4, MSG_MORE), 4);
	usleep(20000);
	EXPECT_EQ(connect(self->a, &unspec, sizeof(unspec)), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	EXPECT_EQ(connect(self->b, &unspec, sizeof(unspec)), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	ulp_name(_metadata, self->a, name, sizeof(name));
	EXPECT_STREQ(name, "tls");
	ASSERT_EQ(send(self->a, want + 15004, 3, 0), 3);
	expect_bytes(_metadata, self->b, want, sizeof(want));
	exchange(_metadata, self->b, self->a, 20000, 18);
}

/*
 * splice_eof with an empty record. sendfile() calls splice_eof when its
 * source ends early; with no bytes in the open record, upstream sealed
 * an empty one into a buffer with no room for the tag: "tls: fix NULL
 * deref on tls_sw_splice_eof() with empty record" (2023). Here sendfile
 * ends early right after it filled records exactly (nothing open), after
 * an empty MSG_MORE send, and with a MSG_MORE byte open: the peer gets
 * exactly the bytes, the open ones without a further send, and nothing
 * else.
 */
static int memfd_with(struct __test_metadata *_metadata,
		      const unsigned char *buf, size_t len)
{
	int fd = memfd_create("regress", 0);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, buf, len), (ssize_t)len);
	return fd;
}

static void sendfile_short(struct __test_metadata *_metadata, int sock,
			   const unsigned char *buf, size_t len)
{
	off_t off = 0;
	int fd = memfd_with(_metadata, buf, len);

	/* asks for more than there is: the last read finds the end */
	ASSERT_EQ(sendfile(sock, fd, &off, len + 100), (ssize_t)len)
		TH_LOG("sendfile: %s", strerror(errno));
	close(fd);
}

TEST_F_TIMEOUT(regress, splice_eof_empty_record, 60)
{
	static const size_t lens[] = { PLAIN_MAX, 2 * PLAIN_MAX, 1 };
	unsigned char *buf = malloc(2 * PLAIN_MAX + 1);
	unsigned int i;

	ASSERT_TRUE(!!buf);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		pattern(buf, lens[i], 20 + i);
		sendfile_short(_metadata, self->a, buf, lens[i]);
		expect_bytes(_metadata, self->b, buf, lens[i]);
	}

	/* an empty send with MSG_MORE, then sendfile */
	ASSERT_EQ(send(self->a, buf, 0, MSG_MORE), 0);
	pattern(buf, 100, 24);
	sendfile_short(_metadata, self->a, buf, 100);
	expect_bytes(_metadata, self->b, buf, 100);

	/* an open byte that sendfile completes to a full record */
	pattern(buf, PLAIN_MAX, 25);
	ASSERT_EQ(send(self->a, buf, 1, MSG_MORE), 1);
	sendfile_short(_metadata, self->a, buf + 1, PLAIN_MAX - 1);
	expect_bytes(_metadata, self->b, buf, PLAIN_MAX);

	exchange(_metadata, self->a, self->b, 10, 26);
	free(buf);
}

/*
 * Hanging on the TX lock with a tiny send buffer. A sender that waited
 * for memory held kTLS's TX lock, and the next sender waited for it
 * uninterruptibly, a hung task for as long as the peer's window stayed
 * shut: "net: tls: avoid hanging tasks on the tx_lock" (2023). tx.c's
 * waiting_writer_killable checks SIGKILL; here, with the least send
 * buffer TCP takes (smaller than one record): sends of many records
 * complete while the peer reads, and a sender waiting behind a stalled
 * one returns EINTR on a plain signal.
 */
static void on_usr1(int sig)
{
}

struct writer {
	int fd;
	const unsigned char *buf;
	size_t len, chunk;
	ssize_t first, ret;
	int err, first_err;
	bool done;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;
	ssize_t n = 0;

	while (off < w->len) {
		n = send(w->fd, w->buf + off, w->chunk, 0);
		if (!off) {
			w->first = n;
			w->first_err = errno;
		}
		if (n <= 0)
			break;
		off += n;
	}
	w->ret = n < 0 ? -1 : (ssize_t)off;
	w->err = errno;
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static bool writer_done(struct writer *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

TEST_F_TIMEOUT(regress, tx_lock_tiny_sndbuf, 180)
{
	const size_t len = 1 << 20;
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct writer w1, w2;
	unsigned char *buf;
	struct timespec t0;
	pthread_t t1, t2;
	int tiny = 1;

	buf = malloc(len);
	ASSERT_TRUE(!!buf);
	pattern(buf, len, 27);
	/* a peer that stops reading shuts its window soon */
	close(self->a);
	close(self->b);
	ktls_pair(_metadata, AF_INET, variant->version, variant->cipher,
		  16384, &self->a, &self->b);
	ASSERT_EQ(setsockopt(self->a, SOL_SOCKET, SO_SNDBUF, &tiny,
			     sizeof(tiny)), 0);
	set_timeo(self->a, SO_SNDTIMEO, 0);

	/* many records through a buffer smaller than one */
	w1 = (struct writer){ .fd = self->a, .buf = buf, .len = 256 << 10,
			      .chunk = 65536 };
	ASSERT_EQ(pthread_create(&t1, NULL, writer_fn, &w1), 0);
	expect_bytes(_metadata, self->b, buf, 256 << 10);
	pthread_join(t1, NULL);
	EXPECT_EQ(w1.ret, 256 << 10);

	/* a sender behind a stalled one takes a signal */
	ASSERT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	w1 = (struct writer){ .fd = self->a, .buf = buf, .len = len,
			      .chunk = len };
	ASSERT_EQ(pthread_create(&t1, NULL, writer_fn, &w1), 0);
	usleep(500000);
	ASSERT_FALSE(writer_done(&w1)) TH_LOG("1 MiB went into a peer that does not read");
	w2 = (struct writer){ .fd = self->a, .buf = buf, .len = 1,
			      .chunk = 1 };
	ASSERT_EQ(pthread_create(&t2, NULL, writer_fn, &w2), 0);
	usleep(500000);
	EXPECT_FALSE(writer_done(&w2)) TH_LOG("the second sender did not wait");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(pthread_kill(t2, SIGUSR1), 0);
	while (!writer_done(&w2) && ms_since(&t0) < WAIT_MS)
		usleep(10000);
	ASSERT_TRUE(writer_done(&w2)) TH_LOG("the waiting sender ignored the signal");
	pthread_join(t2, NULL);
	EXPECT_EQ(w2.ret, -1);
	EXPECT_EQ(w2.err, EINTR);

	/* the first sender finishes once the peer reads, all of it */
	expect_bytes(_metadata, self->b, buf, len);
	pthread_join(t1, NULL);
	EXPECT_EQ(w1.ret, (ssize_t)len);
	free(buf);
}

/*
 * Errors part way through sendmsg. When TCP failed a record kTLS handed
 * it (the peer reset the connection), kTLS reported EBADMSG, and an RPC
 * client retried for good: "tls: Fix tls_sw_sendmsg error handling"
 * (2025). A fault in the caller's memory part way is tx.c's
 * fault_part_way. Here the peer resets, before a send and during a
 * blocking one: the send returns what it took, or TCP's own error
 * (EPIPE, ECONNRESET), never EBADMSG, and so does every send after it.
 */
static void expect_tcp_err(struct __test_metadata *_metadata, int fd)
{
	unsigned char c = 0;
	int i;

	for (i = 0; i < 3; i++) {
		EXPECT_EQ(send(fd, &c, 1, MSG_NOSIGNAL), -1);
		EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET)
			TH_LOG("send %d after the reset: %s", i,
			       strerror(errno));
	}
}

static void reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

TEST_F_TIMEOUT(regress, sendmsg_error_part_way, 120)
{
	const size_t len = 4 << 20;
	unsigned char *buf, *got;
	struct writer w;
	pthread_t t;
	int i, a, b;
	ssize_t n;

	buf = malloc(len);
	got = malloc(65536);
	ASSERT_TRUE(buf && got);
	pattern(buf, len, 28);

	/* the reset comes before the sends */
	reset(self->b);
	self->b = -1;
	usleep(50000);
	for (i = 0; i < 50; i++) {
		n = send(self->a, buf, 4096, MSG_NOSIGNAL);
		if (n < 0)
			break;
	}
	ASSERT_EQ(n, -1) TH_LOG("sends into a reset connection succeed");
	EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET)
		TH_LOG("send after the reset: %s", strerror(errno));
	expect_tcp_err(_metadata, self->a);

	/* the reset comes while a blocking send waits for the window */
	ktls_pair(_metadata, AF_INET, variant->version, variant->cipher,
		  16384, &a, &b);
	set_timeo(a, SO_SNDTIMEO, 0);
	w = (struct writer){ .fd = a, .buf = buf, .len = len, .chunk = len };
	ASSERT_EQ(pthread_create(&t, NULL, writer_fn, &w), 0);
	ASSERT_EQ(recv_all(b, got, 65536), 65536);
	EXPECT_EQ(memcmp(got, buf, 65536), 0);
	usleep(300000);
	reset(b);
	pthread_join(t, NULL);
	if (w.first < 0) {
		EXPECT_TRUE(w.first_err == EPIPE || w.first_err == ECONNRESET)
			TH_LOG("the waiting send: %s", strerror(w.first_err));
	} else {
		EXPECT_LT(w.first, (ssize_t)len);
	}
	expect_tcp_err(_metadata, a);
	close(a);
	free(buf);
	free(got);
}

TEST_HARNESS_MAIN
