// SPDX-License-Identifier: GPL-2.0
/*
 * Which crypto API AEAD the kTLS software path allocates for its keys.
 *
 * TLS 1.2 AES-GCM-128 and AES-GCM-256 keys use "rfc5288(gcm(aes))" (the
 * RFC 5288 nonce, salt || explicit part, built by the crypto driver)
 * when the kernel has it and the debugfs switch tls/aead_rfc5288 is Y,
 * its default; the switch is read when a key is set. With N, for TLS 1.3
 * and for other ciphers, keys use plain "gcm(aes)". Both paths must put
 * the same records on the wire, so a sender on one and a receiver on the
 * other must understand each other.
 *
 * The evidence of which AEAD a key uses is the "refcnt" line of
 * /proc/crypto: a crypto transform holds a reference on the algorithm it
 * was allocated from for as long as it lives, and each key (one per
 * direction per socket) holds one transform. Keying TLS_TX on one socket
 * and TLS_RX on its peer raises the refcnt of the algorithm in use by
 * exactly 2, and closing them gives both references back. The algorithm
 * in use for a name is its non-internal entry with the highest priority;
 * the tests log its driver.
 *
 * The last test takes every rfc5288(gcm(aes)) driver through AF_ALG, up
 * to records longer than testmgr's vectors can be, against libcrypto.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if_alg.h>
#include <linux/tls.h>
#include <linux/types.h>
#include <openssl/evp.h>

#include "../../kselftest_harness.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define PARAM		"/sys/kernel/debug/tls/aead_rfc5288"
#define RFC5288		"rfc5288(gcm(aes))"
#define GCM		"gcm(aes)"
#define AESNI_PREFIX	"rfc5288-gcm-aesni"
/* The template over the C implementations of GCM */
#define GENERIC		"rfc5288(gcm_base(ctr(aes-generic),ghash-generic))"
/* The template over the AES-NI gcm(aes) */
#define OVER_AESNI	"rfc5288(generic-gcm-aesni)"
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef SOL_ALG
#define SOL_ALG 279
#endif

/* Timeout of a blocking recv: a record that never comes fails soon. */
#define RCVTIMEO_MS	2000
/* How long a closed key may take to give its reference back. */
#define SETTLE_MS	1000
#define MAX_ALGS	1024
#define MAX_DATA	100000

static const size_t sizes[] = { 1, 100, 16384, 16385, MAX_DATA };

/* ---- /proc/crypto --------------------------------------------------- */

struct alg {
	char name[128];
	char driver[128];
	char selftest[128];
	int priority;
	long refcnt;
	bool internal;
};

static struct alg algs[MAX_ALGS];

/* Parses /proc/crypto into algs[]; a blank line ends an entry. */
static int read_algs(struct __test_metadata *_metadata)
{
	char line[512], key[32], val[128];
	struct alg *a = NULL;
	int n = 0;
	FILE *f;

	f = fopen("/proc/crypto", "r");
	ASSERT_TRUE(!!f) TH_LOG("/proc/crypto: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '\n') {
			a = NULL;
			continue;
		}
		if (!a) {
			ASSERT_LT(n, MAX_ALGS);
			a = memset(&algs[n++], 0, sizeof(*a));
		}
		/* multi-word keys ("min keysize") do not match: not needed */
		if (sscanf(line, "%31s : %127s", key, val) != 2)
			continue;
		if (!strcmp(key, "name"))
			memcpy(a->name, val, sizeof(val));
		else if (!strcmp(key, "driver"))
			memcpy(a->driver, val, sizeof(val));
		else if (!strcmp(key, "selftest"))
			memcpy(a->selftest, val, sizeof(val));
		else if (!strcmp(key, "priority"))
			a->priority = atoi(val);
		else if (!strcmp(key, "refcnt"))
			a->refcnt = atol(val);
		else if (!strcmp(key, "internal"))
			a->internal = !strcmp(val, "yes");
	}
	fclose(f);
	return n;
}

/* The entry the crypto API picks for @name: not internal, top priority. */
static const struct alg *best_alg(int n, const char *name)
{
	const struct alg *best = NULL;
	int i;

	for (i = 0; i < n; i++)
		if (!algs[i].internal && !strcmp(algs[i].name, name) &&
		    (!best || algs[i].priority > best->priority))
			best = &algs[i];
	return best;
}

/* The refcnt of @name's entry in use; @log: say which driver that is. */
static long refcnt_of(struct __test_metadata *_metadata, const char *name,
		      bool log)
{
	const struct alg *a = best_alg(read_algs(_metadata), name);

	ASSERT_TRUE(!!a) TH_LOG("no non-internal %s in /proc/crypto", name);
	if (log)
		TH_LOG("%s in use: driver %s, priority %d, refcnt %ld", name,
		       a->driver, a->priority, a->refcnt);
	return a->refcnt;
}

/* Polls @name's refcnt until it is @want, for up to SETTLE_MS. */
static long wait_refcnt(struct __test_metadata *_metadata, const char *name,
			long want)
{
	long got;
	int ms;

	for (ms = 0; ; ms += 10) {
		got = refcnt_of(_metadata, name, false);
		if (got == want || ms >= SETTLE_MS)
			return got;
		usleep(10000);
	}
}

/* The first CPU's flags include both "aes" and "pclmulqdq". */
static bool cpu_has_aesni(void)
{
	char line[8192] = "";
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f) && strncmp(line, "flags", 5))
		;
	if (f)
		fclose(f);
	line[strcspn(line, "\n")] = ' ';
	return !strncmp(line, "flags", 5) && strstr(line, " aes ") &&
	       strstr(line, " pclmulqdq ");
}

/* ---- the switch ----------------------------------------------------- */

static char get_param(struct __test_metadata *_metadata)
{
	char buf[8] = {};
	int fd;

	fd = open(PARAM, O_RDONLY);
	ASSERT_GE(fd, 0) TH_LOG("%s: %s", PARAM, strerror(errno));
	ASSERT_GT(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	return buf[0];
}

static void set_param(struct __test_metadata *_metadata, bool on)
{
	int fd;

	fd = open(PARAM, O_WRONLY);
	ASSERT_GE(fd, 0) TH_LOG("%s: %s", PARAM, strerror(errno));
	ASSERT_EQ(write(fd, on ? "Y\n" : "N\n", 2), 2)
		TH_LOG("write %s: %s", PARAM, strerror(errno));
	close(fd);
	ASSERT_EQ(get_param(_metadata), on ? 'Y' : 'N');
}

/* ---- sockets and keys ----------------------------------------------- */

/* Without the ULP these tests would quietly test plain TCP. */
static void expect_ulp_registered(struct __test_metadata *_metadata)
{
	char buf[256] = {}, copy[256];
	char *tok, *save;
	bool found = false;
	FILE *f;

	f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	ASSERT_TRUE(!!f) TH_LOG("tcp_available_ulp: %s", strerror(errno));
	ASSERT_TRUE(!!fgets(buf, sizeof(buf), f));
	fclose(f);
	memcpy(copy, buf, sizeof(buf));
	for (tok = strtok_r(copy, "\n ", &save); tok;
	     tok = strtok_r(NULL, "\n ", &save))
		found |= !strcmp(tok, "tls");
	ASSERT_TRUE(found) TH_LOG("tcp_available_ulp: %s", buf);
}

/* A connected loopback pair; a blocking recv on either gives up. */
static void tcp_pair(struct __test_metadata *_metadata, int *a, int *b)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct timeval tv = { .tv_sec = RCVTIMEO_MS / 1000 };
	socklen_t len = sizeof(addr);
	int lfd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(bind(lfd, (struct sockaddr *)&addr, len), 0);
	ASSERT_EQ(listen(lfd, 1), 0);
	ASSERT_EQ(getsockname(lfd, (struct sockaddr *)&addr, &len), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(*a, 0);
	ASSERT_EQ(connect(*a, (struct sockaddr *)&addr, len), 0);
	*b = accept(lfd, NULL, NULL);
	ASSERT_GE(*b, 0);
	close(lfd);
	ASSERT_EQ(setsockopt(*a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ASSERT_EQ(setsockopt(*b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

static void fill(unsigned char *buf, size_t len, __u32 seed)
{
	__u32 x = seed * 0x9e3779b1u + 0x7f4a7c15u;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = x >> 24;
	}
}

/*
 * Attaches the ULP unless it is there, then sets @dir (TLS_TX or TLS_RX)
 * to fixed key material: every socket of a cipher gets the same struct.
 */
static void set_key(struct __test_metadata *_metadata, int fd, int dir,
		    __u16 version, __u16 cipher)
{
	union {
		struct tls_crypto_info info;
		struct tls12_crypto_info_aes_gcm_128 c128;
		struct tls12_crypto_info_aes_gcm_256 c256;
	} k = { .info = { .version = version, .cipher_type = cipher } };
	char ulp[16] = {};
	socklen_t len = sizeof(k.c128), ulp_len = sizeof(ulp);

	if (cipher == TLS_CIPHER_AES_GCM_256) {
		fill(k.c256.key, sizeof(k.c256.key), 1);
		memcpy(k.c256.iv, "IV bytes", sizeof(k.c256.iv));
		memcpy(k.c256.salt, "salt", sizeof(k.c256.salt));
		k.c256.rec_seq[7] = 5;
		len = sizeof(k.c256);
	} else {
		fill(k.c128.key, sizeof(k.c128.key), 2);
		memcpy(k.c128.iv, "IV bytes", sizeof(k.c128.iv));
		memcpy(k.c128.salt, "salt", sizeof(k.c128.salt));
		k.c128.rec_seq[7] = 5;
	}

	ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &ulp_len), 0);
	if (strcmp(ulp, "tls")) {
		ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 4), 0)
			TH_LOG("TCP_ULP tls: %s", strerror(errno));
	}
	ASSERT_EQ(setsockopt(fd, SOL_TLS, dir, &k, len), 0)
		TH_LOG("%s: %s", dir == TLS_TX ? "TLS_TX" : "TLS_RX",
		       strerror(errno));
}

struct writer {
	int fd;
	const unsigned char *buf;
	size_t len;
	int err;		/* errno of a failed write(), or 0 */
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;
	ssize_t n;

	while (off < w->len) {
		n = write(w->fd, w->buf + off, w->len - off);
		if (n <= 0) {
			w->err = n ? errno : EPIPE;
			break;
		}
		off += n;
	}
	return NULL;
}

/* Each of sizes[] written on @tx (from a thread) must arrive on @rx. */
static void transfer(struct __test_metadata *_metadata, int tx, int rx)
{
	static unsigned char out[MAX_DATA], in[MAX_DATA];
	struct writer w = { .fd = tx, .buf = out };
	pthread_t thread;
	unsigned int i;
	ssize_t n = 0;
	size_t got;

	/* a failed write must fail the test, not kill it before teardown */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill(out, sizes[i], 100 + i);
		memset(in, 0, sizes[i]);
		w.len = sizes[i];
		ASSERT_EQ(pthread_create(&thread, NULL, writer_fn, &w), 0);
		for (got = 0; got < sizes[i]; got += n) {
			n = recv(rx, in + got, sizes[i] - got, 0);
			if (n <= 0)
				break;
		}
		if (got < sizes[i]) {
			TH_LOG("recv: %s", n ? strerror(errno) : "EOF");
			/* a writer stuck on a full socket gets EPIPE */
			shutdown(tx, SHUT_RDWR);
		}
		pthread_join(thread, NULL);
		ASSERT_EQ(w.err, 0) TH_LOG("write: %s", strerror(w.err));
		ASSERT_EQ(got, sizes[i]) TH_LOG("%zu bytes sent", sizes[i]);
		ASSERT_EQ(memcmp(in, out, sizes[i]), 0)
			TH_LOG("%zu bytes sent, other bytes read", sizes[i]);
	}
	EXPECT_EQ(recv(rx, in, 1, MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

/*
 * A template instance (rfc5288(gcm_base(...)) without AES-NI) or a driver
 * in a module not loaded yet enters /proc/crypto when first asked for:
 * key a TLS 1.2 and a TLS 1.3 socket so both names have their entry.
 */
static void instantiate(struct __test_metadata *_metadata, __u16 cipher)
{
	int a, b;

	tcp_pair(_metadata, &a, &b);
	set_key(_metadata, a, TLS_TX, TLS_1_2_VERSION, cipher);
	set_key(_metadata, b, TLS_TX, TLS_1_3_VERSION, cipher);
	close(a);
	close(b);
}

/* ---- tests ---------------------------------------------------------- */

FIXTURE(param)
{
	char unused;
};

FIXTURE_SETUP(param)
{
	expect_ulp_registered(_metadata);
}

FIXTURE_TEARDOWN(param)
{
	set_param(_metadata, true);
}

/* First, before other tests write it: Y by default, and it can change. */
TEST_F(param, parameter_roundtrip)
{
	ASSERT_EQ(access(PARAM, R_OK | W_OK), 0)
		TH_LOG("%s: %s", PARAM, strerror(errno));
	EXPECT_EQ(get_param(_metadata), 'Y');
	set_param(_metadata, false);
	set_param(_metadata, true);
}

TEST(rfc5288_registered)
{
	bool aesni = false;
	int i, n, found = 0;

	expect_ulp_registered(_metadata);
	n = read_algs(_metadata);
	if (!best_alg(n, RFC5288)) {
		TH_LOG("no %s yet: keying sockets to instantiate it", RFC5288);
		instantiate(_metadata, TLS_CIPHER_AES_GCM_128);
		n = read_algs(_metadata);
	}
	for (i = 0; i < n; i++) {
		if (!strstr(algs[i].name, "rfc5288") &&
		    !strstr(algs[i].driver, "rfc5288"))
			continue;
		EXPECT_STREQ(algs[i].selftest, "passed")
			TH_LOG("%s (%s)", algs[i].driver, algs[i].name);
		TH_LOG("%s: self-test %s", algs[i].driver, algs[i].selftest);
		if (algs[i].internal || strcmp(algs[i].name, RFC5288))
			continue;
		found++;
		aesni |= !strncmp(algs[i].driver, AESNI_PREFIX,
				  strlen(AESNI_PREFIX));
	}
	ASSERT_GT(found, 0) TH_LOG("no non-internal %s", RFC5288);
	TH_LOG("%s in use: %s", RFC5288, best_alg(n, RFC5288)->driver);
	if (cpu_has_aesni()) {
		EXPECT_TRUE(aesni) TH_LOG("CPU has AES-NI, no %s* driver",
					  AESNI_PREFIX);
	}
}

/*
 * The generic template exists only once something asks for it by name.
 * Binding an AF_ALG socket to it makes the kernel instantiate it, and run
 * the crypto self-tests on it as on any new algorithm, before bind()
 * returns (a failed self-test makes bind() fail).
 */
TEST(rfc5288_generic_selftest)
{
	struct sockaddr_alg sa = {
		.salg_family = AF_ALG,
		.salg_type = "aead",
		.salg_name = GENERIC,
	};
	const struct alg *found = NULL;
	int fd, i, n;

	expect_ulp_registered(_metadata);
	fd = socket(AF_ALG, SOCK_SEQPACKET, 0);
	ASSERT_GE(fd, 0) TH_LOG("AF_ALG: %s", strerror(errno));
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0)
		TH_LOG("bind %s: %s", GENERIC, strerror(errno));
	n = read_algs(_metadata);
	for (i = 0; i < n; i++)
		if (!strcmp(algs[i].driver, GENERIC))
			found = &algs[i];
	close(fd);
	ASSERT_TRUE(!!found) TH_LOG("%s not in /proc/crypto", GENERIC);
	EXPECT_STREQ(found->name, RFC5288);
	EXPECT_STREQ(found->selftest, "passed");
	TH_LOG("%s: self-test %s", found->driver, found->selftest);
}

static void close_pair(int *tx, int *rx)
{
	close(*tx);
	close(*rx);
	*tx = -1;
	*rx = -1;
}

/* A loopback pair: @tx sends and @rx receives, unless a test swaps them. */
FIXTURE(aead)
{
	int tx, rx;
};

FIXTURE_VARIANT(aead)
{
	__u16 cipher;
};

FIXTURE_VARIANT_ADD(aead, aes_gcm_128) { TLS_CIPHER_AES_GCM_128 };
FIXTURE_VARIANT_ADD(aead, aes_gcm_256) { TLS_CIPHER_AES_GCM_256 };

FIXTURE_SETUP(aead)
{
	int n;

	self->tx = -1;
	self->rx = -1;
	expect_ulp_registered(_metadata);
	set_param(_metadata, true);
	n = read_algs(_metadata);
	if (!best_alg(n, RFC5288) || !best_alg(n, GCM))
		instantiate(_metadata, variant->cipher);
	tcp_pair(_metadata, &self->tx, &self->rx);
}

FIXTURE_TEARDOWN(aead)
{
	close_pair(&self->tx, &self->rx);
	set_param(_metadata, true);
}

/*
 * With the switch @on, keys TLS_TX on tx and TLS_RX on rx; the refcnt
 * of rfc5288(gcm(aes)) must rise by @rfc and, unless @gcm < 0, that of
 * gcm(aes) by @gcm. Then sizes[] go through, and after the close both
 * refcnts return to where they were.
 */
static void key_and_send(struct __test_metadata *_metadata, int *tx, int *rx,
			 __u16 cipher, __u16 version, bool on, long rfc,
			 long gcm)
{
	long rfc0, gcm0;

	set_param(_metadata, on);
	rfc0 = refcnt_of(_metadata, RFC5288, true);
	gcm0 = refcnt_of(_metadata, GCM, true);
	set_key(_metadata, *tx, TLS_TX, version, cipher);
	set_key(_metadata, *rx, TLS_RX, version, cipher);
	EXPECT_EQ(refcnt_of(_metadata, RFC5288, false), rfc0 + rfc);
	if (gcm >= 0)
		EXPECT_EQ(refcnt_of(_metadata, GCM, false), gcm0 + gcm);
	transfer(_metadata, *tx, *rx);
	close_pair(tx, rx);
	EXPECT_EQ(wait_refcnt(_metadata, RFC5288, rfc0), rfc0);
	EXPECT_EQ(wait_refcnt(_metadata, GCM, gcm0), gcm0);
	set_param(_metadata, true);
}

/*
 * gcm(aes) is not checked: an rfc5288 template instance (no AES-NI)
 * holds gcm(aes) transforms of its own, the AES-NI driver does not.
 */
TEST_F(aead, tls12_gcm_uses_rfc5288)
{
	key_and_send(_metadata, &self->tx, &self->rx, variant->cipher,
		     TLS_1_2_VERSION, true, 2, -1);
}

TEST_F(aead, tls12_gcm_plain_when_off)
{
	key_and_send(_metadata, &self->tx, &self->rx, variant->cipher,
		     TLS_1_2_VERSION, false, 0, 2);
}

/* RFC 5288 is the TLS 1.2 nonce: TLS 1.3 keys stay on gcm(aes). */
TEST_F(aead, tls13_gcm_not_rfc5288)
{
	key_and_send(_metadata, &self->tx, &self->rx, variant->cipher,
		     TLS_1_3_VERSION, true, 0, 2);
}

/*
 * tx sends on rfc5288(gcm(aes)) to rx receiving on gcm(aes), and rx
 * sends on gcm(aes) to tx receiving on rfc5288: the records are the same.
 */
TEST_F(aead, mixed_paths_interoperate)
{
	long rfc0 = refcnt_of(_metadata, RFC5288, true);
	__u16 c = variant->cipher;

	set_key(_metadata, self->tx, TLS_TX, TLS_1_2_VERSION, c);
	EXPECT_EQ(refcnt_of(_metadata, RFC5288, false), rfc0 + 1);
	set_param(_metadata, false);
	set_key(_metadata, self->rx, TLS_RX, TLS_1_2_VERSION, c);
	set_key(_metadata, self->rx, TLS_TX, TLS_1_2_VERSION, c);
	EXPECT_EQ(refcnt_of(_metadata, RFC5288, false), rfc0 + 1);
	set_param(_metadata, true);
	set_key(_metadata, self->tx, TLS_RX, TLS_1_2_VERSION, c);
	EXPECT_EQ(refcnt_of(_metadata, RFC5288, false), rfc0 + 2);

	transfer(_metadata, self->tx, self->rx);
	transfer(_metadata, self->rx, self->tx);
	close_pair(&self->tx, &self->rx);
	EXPECT_EQ(wait_refcnt(_metadata, RFC5288, rfc0), rfc0);
}

/* ---- every driver against OpenSSL, through AF_ALG ---------------------- */

/*
 * testmgr's vectors stop at a page and a byte: a test buffer there is two
 * pages. Here each rfc5288(gcm(aes)) driver the kernel has (the template
 * over the C GCM, the template over the best gcm(aes), and the x86 ones)
 * seals and opens up to a whole TLS 1.3 inner plaintext, 2^14 + 1 bytes,
 * through an AF_ALG socket bound to the driver's name, and must give
 * exactly OpenSSL's AES-GCM record, computed here from the same inputs.
 */

#define ALG_IV_SIZE	21	/* explicit nonce (8) || TLS 1.2 AAD (13) */
#define ALG_TAG_SIZE	16
#define ALG_MAX_PLAIN	(16384 + 1)
#define MAX_DRIVERS	16

static const size_t alg_sizes[] = { 0, 1, 4096, 16384, ALG_MAX_PLAIN };
static const unsigned int alg_keylens[] = { 16, 24, 32 };

struct alg_case {
	unsigned char key[32 + 4];	/* AES key || 4-byte salt */
	unsigned int keylen;		/* of the AES key alone */
	unsigned char iv[ALG_IV_SIZE];
	unsigned char plain[ALG_MAX_PLAIN];
	size_t len;
};

static void alg_case_init(struct alg_case *c, unsigned int keylen, size_t len)
{
	unsigned char *aad = c->iv + 8;

	c->keylen = keylen;
	c->len = len;
	fill(c->key, keylen + 4, 300 + keylen);
	fill(c->iv, 8, 400 + len);		/* explicit nonce */
	fill(aad, 8, 500 + len);		/* sequence number */
	aad[8] = 23;				/* application_data */
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = len >> 8;
	aad[12] = len & 0xff;
	fill(c->plain, len, 600 + len);
}

/* OpenSSL's record: nonce salt || explicit nonce, the 13 bytes as AAD. */
static void openssl_seal(struct __test_metadata *_metadata,
			 const struct alg_case *c, unsigned char *out)
{
	const EVP_CIPHER *cipher = c->keylen == 16 ? EVP_aes_128_gcm() :
				   c->keylen == 24 ? EVP_aes_192_gcm() :
						     EVP_aes_256_gcm();
	unsigned char nonce[12];
	EVP_CIPHER_CTX *ctx;
	int n = 0, fin = 0;

	memcpy(nonce, c->key + c->keylen, 4);
	memcpy(nonce + 4, c->iv, 8);
	ctx = EVP_CIPHER_CTX_new();
	ASSERT_TRUE(!!ctx);
	ASSERT_EQ(EVP_EncryptInit_ex(ctx, cipher, NULL, c->key, nonce), 1);
	ASSERT_EQ(EVP_EncryptUpdate(ctx, NULL, &n, c->iv + 8, 13), 1);
	ASSERT_EQ(EVP_EncryptUpdate(ctx, out, &n, c->plain, c->len), 1);
	ASSERT_EQ(EVP_EncryptFinal_ex(ctx, out + n, &fin), 1);
	ASSERT_EQ((size_t)(n + fin), c->len);
	ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ALG_TAG_SIZE,
				      out + c->len), 1);
	EVP_CIPHER_CTX_free(ctx);
}

/* An AF_ALG operation socket for @driver keyed with @c's key and salt. */
static int alg_open(struct __test_metadata *_metadata, const char *driver,
		    const struct alg_case *c)
{
	struct sockaddr_alg sa = {
		.salg_family = AF_ALG,
		.salg_type = "aead",
	};
	int fd, opfd;

	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", driver);
	fd = socket(AF_ALG, SOCK_SEQPACKET, 0);
	ASSERT_GE(fd, 0) TH_LOG("AF_ALG: %s", strerror(errno));
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0)
		TH_LOG("bind %s: %s", driver, strerror(errno));
	ASSERT_EQ(setsockopt(fd, SOL_ALG, ALG_SET_KEY, c->key, c->keylen + 4),
		  0) TH_LOG("%s: key of %u: %s", driver, c->keylen,
			    strerror(errno));
	ASSERT_EQ(setsockopt(fd, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL,
			     ALG_TAG_SIZE), 0);
	opfd = accept(fd, NULL, NULL);
	ASSERT_GE(opfd, 0) TH_LOG("accept: %s", strerror(errno));
	close(fd);
	return opfd;
}

/*
 * One operation: @in (@assoclen bytes of it in front as AEAD additional
 * data; the template wants none) goes in, up to @outlen bytes come back.
 * Returns the number of bytes read, or -errno.
 *
 * An AF_ALG AEAD read goes on with the next operation while its buffer
 * has room, and waits for one: so @outlen must be the exact result size,
 * and MSG_DONTWAIT turns a wrong size into EAGAIN rather than a hang. A
 * read of 0 bytes runs nothing; an empty result gets a 1-byte buffer.
 */
static ssize_t alg_op(int opfd, __u32 op, const unsigned char *iv,
		      __u32 assoclen, const unsigned char *in, size_t inlen,
		      unsigned char *out, size_t outlen)
{
	union {
		char buf[CMSG_SPACE(sizeof(__u32)) * 2 +
			 CMSG_SPACE(sizeof(struct af_alg_iv) + ALG_IV_SIZE)];
		struct cmsghdr align;
	} cbuf = {};
	struct iovec iov = { .iov_base = (void *)in, .iov_len = inlen };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct af_alg_iv *aiv;
	struct cmsghdr *cm;
	ssize_t n;

	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_ALG;
	cm->cmsg_type = ALG_SET_OP;
	cm->cmsg_len = CMSG_LEN(sizeof(__u32));
	memcpy(CMSG_DATA(cm), &op, sizeof(op));
	cm = CMSG_NXTHDR(&msg, cm);
	cm->cmsg_level = SOL_ALG;
	cm->cmsg_type = ALG_SET_IV;
	cm->cmsg_len = CMSG_LEN(sizeof(*aiv) + ALG_IV_SIZE);
	aiv = (struct af_alg_iv *)CMSG_DATA(cm);
	aiv->ivlen = ALG_IV_SIZE;
	memcpy(aiv->iv, iv, ALG_IV_SIZE);
	cm = CMSG_NXTHDR(&msg, cm);
	cm->cmsg_level = SOL_ALG;
	cm->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
	cm->cmsg_len = CMSG_LEN(sizeof(__u32));
	memcpy(CMSG_DATA(cm), &assoclen, sizeof(assoclen));

	if (sendmsg(opfd, &msg, 0) != (ssize_t)inlen)
		return -errno;
	n = recv(opfd, out, outlen ?: 1, MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

/*
 * @driver against OpenSSL's @want for @c: the same record, @c's plaintext
 * back from it, EBADMSG for a changed tag, ciphertext byte or AAD byte,
 * and EINVAL for AEAD additional data in the scatterlist.
 * Returns the number of checks made.
 */
static int alg_check(struct __test_metadata *_metadata, const char *driver,
		     const struct alg_case *c, const unsigned char *want)
{
	/* room for the AEAD additional data of the last case too */
	static unsigned char rec[13 + ALG_MAX_PLAIN + ALG_TAG_SIZE],
			     out[13 + ALG_MAX_PLAIN + ALG_TAG_SIZE];
	size_t rlen = c->len + ALG_TAG_SIZE;
	unsigned char iv[ALG_IV_SIZE];
	int opfd = alg_open(_metadata, driver, c);
	ssize_t n;

	n = alg_op(opfd, ALG_OP_ENCRYPT, c->iv, 0, c->plain, c->len, rec, rlen);
	ASSERT_EQ(n, (ssize_t)rlen) TH_LOG("%s: seal %zu bytes: %s", driver,
					   c->len, strerror(n < 0 ? -n : 0));
	ASSERT_EQ(memcmp(rec, want, rlen), 0)
		TH_LOG("%s: key %u, %zu bytes: not OpenSSL's record", driver,
		       c->keylen, c->len);

	memset(out, 0, sizeof(out));
	n = alg_op(opfd, ALG_OP_DECRYPT, c->iv, 0, rec, rlen, out, c->len);
	ASSERT_EQ(n, (ssize_t)c->len) TH_LOG("%s: open %zu bytes: %s", driver,
					     c->len, strerror(n < 0 ? -n : 0));
	ASSERT_EQ(memcmp(out, c->plain, c->len), 0);

	rec[rlen - 1] ^= 0x80;
	EXPECT_EQ(alg_op(opfd, ALG_OP_DECRYPT, c->iv, 0, rec, rlen, out,
			 c->len), -EBADMSG) TH_LOG("%s: tag", driver);
	rec[rlen - 1] ^= 0x80;
	if (c->len) {
		rec[c->len / 2] ^= 1;
		EXPECT_EQ(alg_op(opfd, ALG_OP_DECRYPT, c->iv, 0, rec, rlen,
				 out, c->len), -EBADMSG)
			TH_LOG("%s: ciphertext", driver);
		rec[c->len / 2] ^= 1;
	}
	memcpy(iv, c->iv, sizeof(iv));
	iv[8 + 7] ^= 1;			/* the sequence number's last byte */
	EXPECT_EQ(alg_op(opfd, ALG_OP_DECRYPT, iv, 0, rec, rlen, out, c->len),
		  -EBADMSG) TH_LOG("%s: AAD", driver);

	/* the AAD goes in the IV: none may come in the scatterlist */
	memcpy(out, c->iv + 8, 13);
	memcpy(out + 13, c->plain, c->len);
	EXPECT_EQ(alg_op(opfd, ALG_OP_ENCRYPT, c->iv, 13, out, 13 + c->len,
			 rec, 13 + rlen), -EINVAL)
		TH_LOG("%s: assoclen 13", driver);
	close(opfd);
	return c->len ? 5 : 4;
}

TEST(rfc5288_drivers_match_openssl)
{
	static struct alg_case c;
	static unsigned char want[ALG_MAX_PLAIN + ALG_TAG_SIZE];
	const char *drivers[MAX_DRIVERS];
	int i, k, s, n, nd = 0, checks = 0;
	bool generic = false;

	/*
	 * Binding instantiates: the template over C GCM, the best driver,
	 * and with AES-NI the template over the AES-NI gcm(aes) too.
	 */
	alg_case_init(&c, 16, 0);
	close(alg_open(_metadata, GENERIC, &c));
	close(alg_open(_metadata, RFC5288, &c));
	if (cpu_has_aesni())
		close(alg_open(_metadata, OVER_AESNI, &c));
	n = read_algs(_metadata);
	for (i = 0; i < n; i++) {
		if (algs[i].internal || strcmp(algs[i].name, RFC5288))
			continue;
		ASSERT_LT(nd, MAX_DRIVERS);
		drivers[nd++] = algs[i].driver;
		generic |= !strcmp(algs[i].driver, GENERIC);
	}
	ASSERT_TRUE(generic) TH_LOG("%s not in /proc/crypto", GENERIC);
	if (cpu_has_aesni()) {
		ASSERT_GE(nd, 3) TH_LOG("AES-NI CPU: want %s, %s and %s*",
					GENERIC, OVER_AESNI, AESNI_PREFIX);
	}

	for (k = 0; k < (int)ARRAY_SIZE(alg_keylens); k++) {
		for (s = 0; s < (int)ARRAY_SIZE(alg_sizes); s++) {
			alg_case_init(&c, alg_keylens[k], alg_sizes[s]);
			openssl_seal(_metadata, &c, want);
			for (i = 0; i < nd; i++)
				checks += alg_check(_metadata, drivers[i], &c,
						    want);
		}
	}
	for (i = 0; i < nd; i++)
		TH_LOG("%s: OpenSSL's records, %zu sizes to %d bytes, 3 keys",
		       drivers[i], ARRAY_SIZE(alg_sizes), ALG_MAX_PLAIN);
	EXPECT_EQ(checks, nd * (int)ARRAY_SIZE(alg_keylens) *
			  (5 * (int)ARRAY_SIZE(alg_sizes) - 1));
}

TEST_HARNESS_MAIN
