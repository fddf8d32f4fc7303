// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-fuzz: a seeded fuzzer of the kTLS receive path (the record layer).
 *
 * A peer seals valid TLS records in user space with libcrypto (every uAPI
 * cipher, TLS 1.2 and 1.3, data and control records, TLS 1.3 KeyUpdate),
 * mutates them (lengths at and past every limit, versions, types, tags,
 * explicit nonces, sequence gaps and replays, the sequence number wrap,
 * TLS 1.3 padding and inner types, garbage between records, truncation
 * then FIN, RST or silence) and sends them to a socket with the "tls" ULP
 * and TLS_RX keys, cut at random points down to one byte per segment or
 * coalesced into one write. The peer is either a plain TCP socket over
 * loopback ("sock" mode) or a packet socket on a veth pair that plays
 * TCP by hand, so that segments also come reordered, duplicated and
 * overlapping ("pkt" mode).
 *
 * The reader uses recvmsg() (random buffer sizes, alignments and iovec
 * counts, with and without the record type cmsg, MSG_PEEK, MSG_WAITALL,
 * MSG_DONTWAIT, and into buffers that run into an unmapped page),
 * read(), splice() to a pipe and poll(); it pauses now and then so that
 * records pile up, changes SO_RCVBUF and TLS_RX_EXPECT_NO_PAD between
 * reads, and installs the next keys when a KeyUpdate makes reads fail
 * with EKEYEXPIRED (after trying keys that must be refused). The keys may
 * come only after records did. Every result is checked against a model
 * that frames the peer's bytes itself
 * (Documentation/networking/tls.rst): every good record before the first
 * bad one comes byte-exact, in order, one content type per read, with
 * MSG_EOR where a record ends; the bad one ends in its errno (EMSGSIZE or
 * EINVAL once, EBADMSG for good); a truncated stream ends in EOF,
 * ECONNRESET or nothing; nothing blocks past a timeout, and a poll() that
 * says POLLIN is followed by a read that does not say EAGAIN.
 *
 * Everything a case does is drawn from (seed, case number): the same pair
 * sends the same bytes, cut the same way, and makes the same choices of
 * reads. How many bytes a read returns depends on timing, so the reads
 * after the first may differ between runs; the checks do not depend on
 * it. Every failure prints its seed and case, and
 *	ktls-fuzz --seed S --case N -v
 * replays that case alone, with a trace of its reads.
 *
 * usage: ktls-fuzz [--seed S] [--records N | --cases N |
 *                  --case N [--repeat K]] [--mode sock|pkt|mix]
 *                  [--timeout MS] [--max-fail N]
 *                  [--inject-fault data|errno]
 *                  [--dry-run] [-v]
 *   --records N  run cases until N records were sent (default 2000)
 *   --cases N    run N cases; --case N runs case N only (--repeat K
 *                times: timing may matter)
 *   --mode       the peer: sock, pkt, or mix (default: each case draws
 *                one)
 *   --timeout    how long a blocking read may wait, in ms (default 8000)
 *   --max-fail   stop after this many failed cases (default 20)
 *   --inject-fault  break the checker on purpose (expect a wrong byte in
 *                good data, or EINVAL for EMSGSIZE), to show that a
 *                fault is caught: the run must fail
 *   --dry-run    only make the cases and print their plans
 *   -v           print each case's plan and every read
 * The last line is "records N, failures M, records/s R"; the exit code
 * is 1 when a case failed, 2 on a usage or setup error, 3 when a case
 * hung past the watchdog.
 *
 * It runs as root in a network namespace of its own (it makes one), on a
 * kernel with the "tls" ULP; it fails at once when the ULP is missing
 * rather than test plain TCP.
 *
 * The functions are small on purpose: a failure names the step that saw
 * it, and each step (sealing, framing, one read, one check) can be read
 * and trusted on its own.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <linux/tls.h>

#include <openssl/evp.h>

#define KTLS_PROG	"ktls-fuzz"
#include "../lib/ktls-guest.h"

/* the record types (T_CCS .. T_DATA) and HS_KEY_UPDATE: ktls-guest.h */
#define HDR		5	/* type, version, length */
#define TAG		16
#define EXPLICIT	8	/* TLS 1.2 GCM/CCM nonce bytes on the wire */
#define MAX_PLAIN	16384	/* 2^14 */

#define MAX_GEN		6	/* key generations: 5 KeyUpdates at most */
#define STRANGER	MAX_GEN	/* keys[STRANGER]: keys the reader never has */
#define MAX_RECS	48
#define WIRE_BUDGET	(160 * 1024)	/* bytes of records per case, about */
#define SEG_MAX		1400	/* payload of a pkt-mode segment */
#define TRACE_LINES	24
#define MAX_OPS		3000	/* reads in one case before "no progress" */

/* ---- random numbers -------------------------------------------------- */

/*
 * The generator (splitmix64, ktls-guest.h) keeps one 64-bit state per
 * stream, so that a case's streams are made from (seed, case, stream)
 * directly, without running the cases before it.
 */
static u64 stream_seed(u64 seed, u64 id, u64 which)
{
	u64 s = seed ^ 0x6b746c732d66757aULL;	/* "ktls-fuz" */

	s = rnd(&s) ^ id;
	s = rnd(&s) ^ which;
	return rnd(&s);
}

static void fill_random(u64 *s, u8 *p, size_t n)
{
	u64 v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!(i & 7))
			v = rnd(s);
		p[i] = v >> (8 * (i & 7));
	}
}

/* ---- ciphers ---------------------------------------------------------- */

/*
 * How the peer seals a cipher's records: libcrypto's AEAD where Debian's
 * OpenSSL 3.0 has a fitting one; GCM and CCM built here over the block
 * cipher's CTR, CBC and ECB modes where it has none (SM4-GCM, SM4-CCM),
 * and for AES-CCM too, so that one CCM serves both and a zero-length
 * record needs nothing special. selftest_aead() checks both modes
 * against libcrypto's own AES-GCM and AES-CCM.
 */
enum seal_kind { SEAL_EVP, SEAL_GCM, SEAL_CCM };

struct cipher {
	u16 id;
	const char *name;
	unsigned int key_len, salt_len, iv_len;
	enum seal_kind kind;
	const char *alg;	/* EVP AEAD, or the block cipher's stem */
	bool tls13;		/* usable with TLS 1.3 */
	const EVP_CIPHER *aead, *ecb, *cbc, *ctr;
};

#define CIPHER(i, n, k, s, v, how, a, t13) {				\
	.id = i, .name = n, .key_len = k, .salt_len = s, .iv_len = v,	\
	.kind = how, .alg = a, .tls13 = t13 }

static struct cipher ciphers[] = {
	CIPHER(TLS_CIPHER_AES_GCM_128, "aes-gcm-128", 16, 4, 8, SEAL_EVP,
	       "AES-128-GCM", true),
	CIPHER(TLS_CIPHER_AES_GCM_256, "aes-gcm-256", 32, 4, 8, SEAL_EVP,
	       "AES-256-GCM", true),
	CIPHER(TLS_CIPHER_AES_CCM_128, "aes-ccm-128", 16, 4, 8, SEAL_CCM,
	       "AES-128", true),
	CIPHER(TLS_CIPHER_CHACHA20_POLY1305, "chacha20-poly1305", 32, 0, 12,
	       SEAL_EVP, "ChaCha20-Poly1305", true),
	CIPHER(TLS_CIPHER_SM4_GCM, "sm4-gcm", 16, 4, 8, SEAL_GCM, "SM4", true),
	CIPHER(TLS_CIPHER_SM4_CCM, "sm4-ccm", 16, 4, 8, SEAL_CCM, "SM4", true),
	CIPHER(TLS_CIPHER_ARIA_GCM_128, "aria-gcm-128", 16, 4, 8, SEAL_EVP,
	       "ARIA-128-GCM", false),
	CIPHER(TLS_CIPHER_ARIA_GCM_256, "aria-gcm-256", 32, 4, 8, SEAL_EVP,
	       "ARIA-256-GCM", false),
};

#define NCIPHERS (sizeof(ciphers) / sizeof(ciphers[0]))

static const EVP_CIPHER *fetch_mode(const char *stem, const char *mode)
{
	char name[64];

	snprintf(name, sizeof(name), "%s-%s", stem, mode);
	return EVP_get_cipherbyname(name);
}

/* Look every algorithm up once; a missing one is a setup error. */
static void ciphers_init(void)
{
	unsigned int i;

	for (i = 0; i < NCIPHERS; i++) {
		struct cipher *c = &ciphers[i];

		if (c->kind == SEAL_EVP) {
			c->aead = EVP_get_cipherbyname(c->alg);
			if (!c->aead)
				die("libcrypto has no %s", c->alg);
			continue;
		}
		c->ecb = fetch_mode(c->alg, "ECB");
		c->cbc = fetch_mode(c->alg, "CBC");
		c->ctr = fetch_mode(c->alg, "CTR");
		if (!c->ecb || !c->cbc || !c->ctr)
			die("libcrypto lacks a mode of %s", c->alg);
	}
}

/* ---- AEAD sealing ----------------------------------------------------- */

/* The cipher context every sealing reuses: only the main thread seals. */
static EVP_CIPHER_CTX *seal_ctx(void)
{
	static EVP_CIPHER_CTX *ctx;

	if (!ctx)
		ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		die("EVP_CIPHER_CTX_new");
	EVP_CIPHER_CTX_reset(ctx);
	return ctx;
}

/* @n bytes through a plain mode (ECB, CBC, CTR) of @alg, no padding */
static void block_run(const EVP_CIPHER *alg, const u8 *key, const u8 *iv,
		      const u8 *in, size_t n, u8 *out)
{
	EVP_CIPHER_CTX *x = seal_ctx();
	int got = 0, fin = 0;

	if (!EVP_EncryptInit_ex(x, alg, NULL, key, iv) ||
	    !EVP_CIPHER_CTX_set_padding(x, 0) ||
	    (n && !EVP_EncryptUpdate(x, out, &got, in, n)) ||
	    !EVP_EncryptFinal_ex(x, out + got, &fin) ||
	    (size_t)(got + fin) != n)
		die("block cipher run failed");
}

/*
 * GF(2^128) as GCM has it (SP 800-38D): bit 0 of a block is the MSB of
 * its first byte and the coefficient of x^0. hi holds bytes 0-7.
 */
struct gf {
	u64 hi, lo;
};

static struct gf gf_load(const u8 *p)
{
	struct gf v = { 0, 0 };
	int i;

	for (i = 0; i < 8; i++) {
		v.hi = v.hi << 8 | p[i];
		v.lo = v.lo << 8 | p[8 + i];
	}
	return v;
}

static void gf_store(struct gf v, u8 *p)
{
	int i;

	for (i = 7; i >= 0; i--, v.hi >>= 8, v.lo >>= 8) {
		p[i] = v.hi;
		p[8 + i] = v.lo;
	}
}

/* v * x: one place right, and x^128 folded back as x^7 + x^2 + x + 1 */
static struct gf gf_mulx(struct gf v)
{
	u64 out = v.lo & 1;

	v.lo = v.lo >> 1 | v.hi << 63;
	v.hi >>= 1;
	if (out)
		v.hi ^= 0xe1ULL << 56;
	return v;
}

/*
 * What v * x^4 adds to v's plain 4-place shift, by the 4 bits that fall
 * off: found by running gf_mulx() on those bits alone (it is linear).
 */
static u64 gf_fold4[16];

static void gf_init(void)
{
	unsigned int r, i;

	for (r = 0; r < 16; r++) {
		struct gf v = { 0, r };

		for (i = 0; i < 4; i++)
			v = gf_mulx(v);
		gf_fold4[r] = v.hi;
	}
}

static struct gf gf_mulx4(struct gf v)
{
	unsigned int r = v.lo & 15;

	v.lo = v.lo >> 4 | v.hi << 60;
	v.hi = v.hi >> 4 ^ gf_fold4[r];
	return v;
}

/*
 * GHASH with a table of the 16 multiples n * H of a 4-bit n (n's MSB is
 * x^0): a block is multiplied by H in Horner's way, one nibble at a
 * time, from its last (the highest power of x) to its first.
 */
struct ghash {
	struct gf t[16];
	struct gf y;
};

static void ghash_init(struct ghash *g, const u8 *h)
{
	unsigned int n;

	memset(g, 0, sizeof(*g));
	g->t[8] = gf_load(h);
	g->t[4] = gf_mulx(g->t[8]);
	g->t[2] = gf_mulx(g->t[4]);
	g->t[1] = gf_mulx(g->t[2]);
	for (n = 3; n < 16; n++) {
		unsigned int low = n & -n;

		if (n == low)
			continue;
		g->t[n].hi = g->t[low].hi ^ g->t[n - low].hi;
		g->t[n].lo = g->t[low].lo ^ g->t[n - low].lo;
	}
}

static void ghash_block(struct ghash *g, const u8 *block)
{
	struct gf z = { 0, 0 }, m;
	u8 x[16];
	int i, half;

	gf_store(g->y, x);
	for (i = 0; i < 16; i++)
		x[i] ^= block[i];
	for (i = 15; i >= 0; i--) {
		for (half = 0; half < 2; half++) {
			z = gf_mulx4(z);
			m = g->t[half ? x[i] >> 4 : x[i] & 15];
			z.hi ^= m.hi;
			z.lo ^= m.lo;
		}
	}
	g->y = z;
}

/* Absorb @n bytes, the last block padded with zeros */
static void ghash_bytes(struct ghash *g, const u8 *p, size_t n)
{
	u8 last[16];

	for (; n >= 16; p += 16, n -= 16)
		ghash_block(g, p);
	if (n) {
		memset(last, 0, sizeof(last));
		memcpy(last, p, n);
		ghash_block(g, last);
	}
}

struct aead_in {
	const u8 *key, *nonce, *aad, *in;
	size_t aad_len, len;
};

/* GCM (SP 800-38D) with a 12-byte nonce over the ECB/CTR of @c */
static void gcm_seal(const struct cipher *c, const struct aead_in *a, u8 *out)
{
	u8 zero[16] = { 0 }, h[16], j0[16], ej0[16], lens[16];
	struct ghash g;
	int i;

	block_run(c->ecb, a->key, NULL, zero, 16, h);
	memcpy(j0, a->nonce, 12);
	memcpy(j0 + 12, "\0\0\0\1", 4);
	block_run(c->ecb, a->key, NULL, j0, 16, ej0);
	j0[15] = 2;	/* the first counter block of the message */
	block_run(c->ctr, a->key, j0, a->in, a->len, out);

	ghash_init(&g, h);
	ghash_bytes(&g, a->aad, a->aad_len);
	ghash_bytes(&g, out, a->len);
	gf_store((struct gf){ (u64)a->aad_len * 8, (u64)a->len * 8 }, lens);
	ghash_block(&g, lens);
	gf_store(g.y, out + a->len);
	for (i = 0; i < TAG; i++)
		out[a->len + i] ^= ej0[i];
}

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/*
 * CCM (SP 800-38C) with a 12-byte nonce and 16-byte tag: the CBC-MAC is
 * the last block of CBC (zero IV) over B0, the AAD and the plaintext,
 * each padded to whole blocks; then CTR from counter 1, and the MAC
 * masked with counter 0's block.
 */
static void ccm_seal(const struct cipher *c, const struct aead_in *a, u8 *out)
{
	size_t n = 16 + (a->aad_len ? round16(2 + a->aad_len) : 0) +
		   round16(a->len);
	u8 *fmt = xzalloc(n), *mac = xzalloc(n), ctr[16], s0[16];
	u8 *p = fmt + 16;
	int i;

	fmt[0] = (a->aad_len ? 0x40 : 0) | ((TAG - 2) / 2) << 3 | (3 - 1);
	memcpy(fmt + 1, a->nonce, 12);
	fmt[13] = a->len >> 16;
	fmt[14] = a->len >> 8;
	fmt[15] = a->len;
	if (a->aad_len) {
		p[0] = a->aad_len >> 8;
		p[1] = a->aad_len;
		memcpy(p + 2, a->aad, a->aad_len);
		p += round16(2 + a->aad_len);
	}
	memcpy(p, a->in, a->len);
	block_run(c->cbc, a->key, (const u8 *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
		  fmt, n, mac);

	memset(ctr, 0, sizeof(ctr));
	ctr[0] = 3 - 1;
	memcpy(ctr + 1, a->nonce, 12);
	block_run(c->ecb, a->key, NULL, ctr, 16, s0);
	ctr[15] = 1;
	block_run(c->ctr, a->key, ctr, a->in, a->len, out);
	for (i = 0; i < TAG; i++)
		out[a->len + i] = mac[n - 16 + i] ^ s0[i];
	free(fmt);
	free(mac);
}

/* libcrypto's own AEAD (GCM, ChaCha20-Poly1305) */
static void evp_seal(const EVP_CIPHER *alg, const struct aead_in *a, u8 *out)
{
	EVP_CIPHER_CTX *x = seal_ctx();
	int n = 0;
	bool ok;

	ok = EVP_EncryptInit_ex(x, alg, NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
	     EVP_EncryptInit_ex(x, NULL, NULL, a->key, a->nonce);
	if (ok && a->aad_len)
		ok = EVP_EncryptUpdate(x, NULL, &n, a->aad, a->aad_len);
	if (ok && a->len)
		ok = EVP_EncryptUpdate(x, out, &n, a->in, a->len);
	ok = ok && EVP_EncryptFinal_ex(x, out + a->len, &n) &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, TAG, out + a->len);
	if (!ok)
		die("sealing with %s failed", EVP_CIPHER_get0_name(alg));
}

/* @out gets the ciphertext, then the tag */
static void aead_seal(const struct cipher *c, const struct aead_in *a, u8 *out)
{
	if (c->kind == SEAL_EVP)
		evp_seal(c->aead, a, out);
	else if (c->kind == SEAL_GCM)
		gcm_seal(c, a, out);
	else
		ccm_seal(c, a, out);
}

/* libcrypto's AES-128-CCM, only to check ccm_seal() against it */
static void evp_ccm_seal(const struct aead_in *a, u8 *out)
{
	EVP_CIPHER_CTX *x = seal_ctx();
	int n = 0;
	bool ok;

	ok = EVP_EncryptInit_ex(x, EVP_aes_128_ccm(), NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, TAG, NULL) &&
	     EVP_EncryptInit_ex(x, NULL, NULL, a->key, a->nonce) &&
	     EVP_EncryptUpdate(x, NULL, &n, NULL, a->len) &&
	     EVP_EncryptUpdate(x, NULL, &n, a->aad, a->aad_len) &&
	     EVP_EncryptUpdate(x, out, &n, a->in, a->len) &&
	     EVP_EncryptFinal_ex(x, out + a->len, &n) &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, TAG, out + a->len);
	if (!ok)
		die("libcrypto AES-128-CCM failed");
}

/*
 * The GCM and CCM made here must agree with libcrypto's on AES, or the
 * SM4 and AES-CCM cases would blame the kernel for our own mistake.
 */
static void selftest_aead(void)
{
	static const size_t lens[] = { 1, 15, 16, 17, 100, 1000, MAX_PLAIN };
	const struct cipher *gcm = &ciphers[0], *ccm = &ciphers[2];
	u8 key[16], nonce[12], aad[13], *in, *want, *got;
	struct aead_in a = { key, nonce, aad, NULL, sizeof(aad), 0 };
	u64 s = 42;
	unsigned int i;

	in = xzalloc(MAX_PLAIN);
	want = xzalloc(MAX_PLAIN + TAG);
	got = xzalloc(MAX_PLAIN + TAG);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		fill_random(&s, key, sizeof(key));
		fill_random(&s, nonce, sizeof(nonce));
		fill_random(&s, aad, sizeof(aad));
		fill_random(&s, in, lens[i]);
		a.in = in;
		a.len = lens[i];
		a.aad_len = i & 1 ? HDR : sizeof(aad);
		evp_seal(gcm->aead, &a, want);
		gcm_seal(&(struct cipher){ .ecb = EVP_aes_128_ecb(),
					   .ctr = EVP_aes_128_ctr() }, &a, got);
		if (memcmp(want, got, a.len + TAG))
			die("self-test: our GCM differs from libcrypto's (%zu)",
			    a.len);
		evp_ccm_seal(&a, want);
		ccm_seal(ccm, &a, got);
		if (memcmp(want, got, a.len + TAG))
			die("self-test: our CCM differs from libcrypto's (%zu)",
			    a.len);
	}
	free(in);
	free(want);
	free(got);
}

/* ---- keys and records ------------------------------------------------- */

struct keys {
	const struct cipher *c;
	u16 version;
	u8 key[32], salt[4], iv[12];
	u64 seq;		/* the first record's sequence number */
};

/* RFC 5288, 6655: TLS 1.2 GCM and CCM carry 8 nonce bytes per record */
static bool has_explicit(const struct keys *k)
{
	return k->version == TLS_1_2_VERSION && k->c->iv_len == 8;
}

/* What a record adds to its content on the wire, header included */
static size_t overhead(const struct keys *k)
{
	return HDR + (has_explicit(k) ? EXPLICIT : 0) + TAG +
	       (k->version == TLS_1_3_VERSION ? 1 : 0);
}

/* The length field of an empty record, and of the longest one */
static size_t min_body(const struct keys *k)
{
	return overhead(k) - HDR;
}

static size_t max_body(const struct keys *k)
{
	return MAX_PLAIN + min_body(k);
}

static void put_be64(u8 *p, u64 v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v;
}

/* The TLS_RX optval: header, then iv, key, salt, rec_seq (uAPI order) */
static size_t keys_info(const struct keys *k, u8 *out)
{
	struct tls_crypto_info hdr = {
		.version = k->version,
		.cipher_type = k->c->id,
	};
	size_t n = sizeof(hdr);

	memcpy(out, &hdr, n);
	memcpy(out + n, k->iv, k->c->iv_len);
	n += k->c->iv_len;
	memcpy(out + n, k->key, k->c->key_len);
	n += k->c->key_len;
	memcpy(out + n, k->salt, k->c->salt_len);
	n += k->c->salt_len;
	put_be64(out + n, k->seq);
	return n + 8;
}

/*
 * The record's 12-byte nonce: salt || explicit nonce (TLS 1.2 GCM/CCM),
 * else the static IV (salt || iv, or ChaCha's 12-byte iv) XOR the
 * left-padded sequence number (RFC 7905, RFC 8446 5.3).
 */
static void record_nonce(const struct keys *k, u64 seq, const u8 *explicit,
			 u8 *nonce)
{
	int i;

	memcpy(nonce, k->salt, k->c->salt_len);
	if (explicit) {
		memcpy(nonce + 4, explicit, EXPLICIT);
		return;
	}
	memcpy(nonce + k->c->salt_len, k->iv, k->c->iv_len);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= seq >> (56 - 8 * i);
}

/*
 * The AAD: TLS 1.2 seq || type || 0x0303 || content length; TLS 1.3 the
 * header as sent.
 */
static size_t record_aad(const struct keys *k, u64 seq, const u8 *hdr,
			 size_t len, u8 *aad)
{
	if (k->version == TLS_1_3_VERSION) {
		memcpy(aad, hdr, HDR);
		return HDR;
	}
	put_be64(aad, seq);
	aad[8] = hdr[0];
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = len >> 8;
	aad[12] = len;
	return 13;
}

/*
 * Seal @inner (TLS 1.2: the content; TLS 1.3: content, type, padding)
 * into @out as a record with header type @type, and return its length
 * on the wire. @explicit is the TLS 1.2 explicit nonce, if it has one.
 */
static size_t seal_record(const struct keys *k, u64 seq, u8 type,
			  const u8 *explicit, const u8 *inner, size_t len,
			  u8 *out)
{
	size_t pre = HDR + (has_explicit(k) ? EXPLICIT : 0);
	size_t body = pre - HDR + len + TAG;
	u8 nonce[12], aad[13];
	struct aead_in a = { k->key, nonce, aad, inner, 0, len };

	out[0] = type;
	out[1] = 3;
	out[2] = 3;
	out[3] = body >> 8;
	out[4] = body;
	if (has_explicit(k))
		memcpy(out + HDR, explicit, EXPLICIT);
	record_nonce(k, seq, has_explicit(k) ? explicit : NULL, nonce);
	a.aad_len = record_aad(k, seq, out, len, aad);
	aead_seal(k->c, &a, out + pre);
	return pre + len + TAG;
}

/* ---- the case: what the peer sends ------------------------------------ */

/* One record the generator sealed, as it sealed it */
struct rec {
	size_t off, len;	/* its bytes in the wire, header included */
	int gen;		/* the keys it was sealed with */
	u64 seq;		/* the sequence number it was sealed for */
	int type;		/* the type a reader sees; -1: none (all zeros) */
	size_t poff, plen;	/* its content in the case's plaintext */
};

/* How a case is broken: one class per case, on one record (the victim) */
enum mut {
	M_CLEAN,	/* valid records only; the delivery is the fuzz */
	M_LEN_OVER,	/* length past the cipher's longest record */
	M_LEN_UNDER,	/* length under an empty record's */
	M_LEN_SHIFT,	/* length off by a little: the framing is lost */
	M_VERSION,	/* header version other than 0x0303 */
	M_TYPE,		/* header content type changed */
	M_TAG,		/* a bit of the tag flipped */
	M_BODY,		/* a bit of the ciphertext or explicit nonce flipped */
	M_FLIP,		/* a bit flipped anywhere in the stream */
	M_SEQ_SKIP,	/* sealed for a later sequence number */
	M_SEQ_REPLAY,	/* sealed for an earlier one */
	M_SWAP,		/* two records in the wrong order */
	M_DUP,		/* a record sent twice */
	M_DROP,		/* a record left out */
	M_SEQ_WRAP,	/* the sequence number runs past 2^64 - 1 */
	M_WRONG_KEY,	/* sealed with keys of another generation, or none */
	M_INNER_ZERO,	/* TLS 1.3: an inner plaintext of only zeros */
	M_OVERSIZE,	/* content (1.2) or padding (1.3) past 2^14 (+1) */
	M_GARBAGE,	/* bytes that are no record, between records */
	M_TRUNC,	/* the stream ends inside the victim */
	M_COUNT
};

static const char *const mut_names[M_COUNT] = {
	"clean", "len-over", "len-under", "len-shift", "version", "type",
	"tag", "body", "flip", "seq-skip", "seq-replay", "swap", "dup",
	"drop", "seq-wrap", "wrong-key", "inner-zero", "oversize", "garbage",
	"trunc",
};

/* What the peer does after its last byte */
enum end { END_NONE, END_FIN, END_RST };

static const char *const end_names[] = { "none", "fin", "rst" };

/* How the bytes are cut into writes (or segments) */
enum cut { CUT_WHOLE, CUT_RECORDS, CUT_RANDOM, CUT_BYTES, CUT_HEADERS,
	   CUT_SMALL, CUT_COUNT };

static const char *const cut_names[] = {
	"whole", "records", "random", "bytes", "headers", "small",
};

enum mode { MODE_SOCK, MODE_PKT, MODE_MIX };

static const char *const mode_names[] = { "sock", "pkt", "mix" };

/* A pkt-mode segment: wire bytes [from, to) */
struct seg {
	u32 from, to;
};

struct fcase {
	u64 seed, id;
	u64 rng;		/* the generator's stream */
	u16 version;
	const struct cipher *c;
	struct keys keys[MAX_GEN + 1];	/* [STRANGER]: never installed */
	int gen, seq_gen;	/* generations made; the one sealing now */
	u64 seq;		/* the next sequence number to seal */
	u8 *wire, *orig;	/* the bytes sent; as sealed, before mutation */
	size_t wire_len, wire_cap;
	u8 *plain;		/* every record's content */
	size_t plain_len, plain_cap;
	struct rec recs[MAX_RECS + 2];
	int nrec;
	int mut, victim;	/* the class; the victim's place among records */
	int victim_rec;		/* its index in recs, -1 when left out */
	bool trunc_tail;	/* also cut inside the last record */
	int end, cut, mode;
	size_t *cuts;		/* write sizes, in order */
	int ncuts, cuts_cap;
	struct seg *segs;	/* pkt mode: segments, in sending order */
	int nsegs, segs_cap;
	int rcvbuf;		/* SO_RCVBUF of the reader, 0: default */
	bool no_pad;		/* TLS_RX_EXPECT_NO_PAD */
	bool late_rx;		/* TLS_RX set only after bytes came */
	bool late_ulp;		/* and the ULP attached only then too */
	int pace;		/* percent of writes followed by a pause */
	u32 iss;		/* pkt mode: the peer's initial sequence */
	int mutated;		/* records whose bytes, seq or order it broke */
};

static void *grow(void *p, size_t n, size_t *cap, size_t want)
{
	if (want <= *cap)
		return p;
	*cap = want * 2;
	p = realloc(p, *cap * n);
	if (!p)
		die("out of memory");
	return p;
}

static u8 *wire_room(struct fcase *fc, size_t n)
{
	fc->wire = grow(fc->wire, 1, &fc->wire_cap, fc->wire_len + n);
	return fc->wire + fc->wire_len;
}

static size_t plain_put(struct fcase *fc, const u8 *p, size_t n)
{
	size_t off = fc->plain_len;

	fc->plain = grow(fc->plain, 1, &fc->plain_cap, off + n);
	memcpy(fc->plain + off, p, n);
	fc->plain_len += n;
	return off;
}

static void add_cut(struct fcase *fc, size_t n)
{
	size_t cap = fc->cuts_cap;

	if (!n)
		return;
	fc->cuts = grow(fc->cuts, sizeof(*fc->cuts), &cap, fc->ncuts + 1);
	fc->cuts_cap = cap;
	fc->cuts[fc->ncuts++] = n;
}

static void add_seg(struct fcase *fc, size_t from, size_t to)
{
	size_t cap = fc->segs_cap;

	if (to > fc->wire_len)
		to = fc->wire_len;
	if (to > from + SEG_MAX)
		to = from + SEG_MAX;
	if (from >= to)
		return;
	fc->segs = grow(fc->segs, sizeof(*fc->segs), &cap, fc->nsegs + 1);
	fc->segs_cap = cap;
	fc->segs[fc->nsegs++] = (struct seg){ from, to };
}

/* ---- generating records ---------------------------------------------- */

static void make_keys(struct fcase *fc, struct keys *k)
{
	k->c = fc->c;
	k->version = fc->version;
	fill_random(&fc->rng, k->key, sizeof(k->key));
	fill_random(&fc->rng, k->salt, sizeof(k->salt));
	fill_random(&fc->rng, k->iv, sizeof(k->iv));
	k->seq = 0;
}

/*
 * The first sequence number: 0, any, or just below a carry into another
 * byte, where a receiver that counts wrong shows it soon.
 */
static u64 pick_start_seq(u64 *s)
{
	switch (below(s, 10)) {
	case 0: case 1: case 2: case 3:
		return 0;
	case 4: case 5: case 6:
		return rnd(s);
	default:
		return ((u64)1 << (8 * between(s, 1, 7))) - between(s, 1, 4);
	}
}

/* A content length: empty, tiny, typical, large, and at the limit */
static size_t pick_len(u64 *s)
{
	static const size_t edges[] = { 16383, 4095, 4096, 4097, 8192, 1400,
					1460, 2048, 255, 256 };
	unsigned int r = below(s, 100);

	if (r < 8)
		return 0;
	if (r < 16)
		return 1;
	if (r < 45)
		return between(s, 2, 64);
	if (r < 75)
		return between(s, 65, 1500);
	if (r < 86)
		return between(s, 1501, MAX_PLAIN - 1);
	if (r < 92)
		return MAX_PLAIN;
	return edges[below(s, sizeof(edges) / sizeof(edges[0]))];
}

/* TLS 1.3 padding for @len bytes of content, up to the 2^14 + 1 limit */
static size_t pick_pad(u64 *s, size_t len)
{
	size_t room = MAX_PLAIN - len;
	unsigned int r = below(s, 100);

	if (r < 70 || !room)
		return 0;
	if (r < 90)
		return between(s, 1, room < 64 ? room : 64);
	if (r < 97)
		return between(s, 1, room);
	return room;
}

/* A record type, a KeyUpdate now and then under TLS 1.3 */
static int pick_type(struct fcase *fc, bool *ku)
{
	unsigned int r = below(&fc->rng, 100);

	*ku = false;
	if (r < 78)
		return T_DATA;
	if (r < 86)
		return T_ALERT;
	if (r < 93) {
		*ku = fc->version == TLS_1_3_VERSION &&
		      fc->gen < MAX_GEN - 1 && chance(&fc->rng, 50);
		return T_HS;
	}
	if (r < 96)
		return T_CCS;
	if (fc->version == TLS_1_3_VERSION)
		return between(&fc->rng, 1, 255);
	return below(&fc->rng, 256);
}

/* The content of a record of @type: control records are short mostly */
static size_t pick_content(struct fcase *fc, int type, bool ku, u8 *buf)
{
	size_t len;

	if (ku) {
		memcpy(buf, "\x18\0\0\1", 4);
		buf[4] = below(&fc->rng, 2);	/* update_requested or not */
		return 5;
	}
	len = type != T_DATA && chance(&fc->rng, 60) ?
	      below(&fc->rng, 9) : pick_len(&fc->rng);
	if (fc->wire_len + len > WIRE_BUDGET)
		len = below(&fc->rng, 64);
	fill_random(&fc->rng, buf, len);
	if (type == T_HS && len && !ku && buf[0] == HS_KEY_UPDATE)
		buf[0] = 4;	/* a NewSessionTicket, not a KeyUpdate */
	return len;
}

/*
 * Seal and append one record: @content of @len bytes, content @type,
 * sealed with keys @gen for @seq. TLS 1.3 adds the type and @pad zeros
 * inside (with @zero_inner, the inner plaintext is all zeros).
 */
static struct rec *put_record(struct fcase *fc, int gen, u64 seq, int type,
			      const u8 *content, size_t len, size_t pad,
			      bool zero_inner)
{
	const struct keys *k = &fc->keys[gen];
	bool tls13 = fc->version == TLS_1_3_VERSION;
	size_t inner_len = len + (tls13 ? 1 + pad : 0);
	u8 *inner = xzalloc(inner_len), explicit[EXPLICIT];
	struct rec *r = &fc->recs[fc->nrec++];

	if (!zero_inner) {
		memcpy(inner, content, len);
		if (tls13)
			inner[len] = type;
	}
	fill_random(&fc->rng, explicit, sizeof(explicit));
	r->off = fc->wire_len;
	r->len = seal_record(k, seq, tls13 ? T_DATA : type, explicit, inner,
			     inner_len, wire_room(fc, inner_len + 64));
	fc->wire_len += r->len;
	r->gen = gen;
	r->seq = seq;
	r->type = zero_inner ? -1 : type;
	r->poff = plain_put(fc, content, len);
	r->plen = len;
	free(inner);
	return r;
}

/* The generation and sequence number the victim is sealed for */
static void victim_keys(struct fcase *fc, int *gen, u64 *seq)
{
	*gen = fc->seq_gen;
	*seq = fc->seq;
	if (fc->mut == M_SEQ_SKIP)
		*seq += between(&fc->rng, 1, chance(&fc->rng, 80) ? 1 : 1000);
	else if (fc->mut == M_SEQ_REPLAY)
		*seq -= between(&fc->rng, 1, 3);
	else if (fc->mut == M_WRONG_KEY)
		*gen = fc->seq_gen > 0 && chance(&fc->rng, 60) ?
		       fc->seq_gen - 1 : STRANGER;
}

/* Random bytes, or a header of a plausible record, where none belongs */
static void put_garbage(struct fcase *fc)
{
	size_t n = between(&fc->rng, 1, 48);
	u8 *p = wire_room(fc, n + HDR);

	fill_random(&fc->rng, p, n);
	if (chance(&fc->rng, 40) && n > HDR) {
		p[0] = T_DATA;
		p[1] = 3;
		p[2] = 3;
		p[3] = 0;
		p[4] = n - HDR;
	}
	fc->wire_len += n;
}

/* The content and padding of record @i, under the case's mutation */
struct rec_plan {
	int type;
	bool ku, zero_inner;
	size_t len, pad;
	u8 buf[MAX_PLAIN + 256];
};

static void plan_record(struct fcase *fc, int i, struct rec_plan *rp)
{
	bool tls13 = fc->version == TLS_1_3_VERSION;
	bool victim = i == fc->victim;

	rp->type = pick_type(fc, &rp->ku);
	rp->len = pick_content(fc, rp->type, rp->ku, rp->buf);
	rp->pad = tls13 ? pick_pad(&fc->rng, rp->len) : 0;
	rp->zero_inner = victim && fc->mut == M_INNER_ZERO;
	if (victim && fc->mut == M_OVERSIZE) {
		size_t over = between(&fc->rng, 1, chance(&fc->rng, 70) ?
					       1 : 200);

		if (tls13) {
			rp->pad = MAX_PLAIN - rp->len + over;
		} else {
			rp->len = MAX_PLAIN + over;
			fill_random(&fc->rng, rp->buf, rp->len);
		}
		rp->ku = false;
	}
}

/* Seal record @i as planned; a KeyUpdate moves the sealer to new keys */
static void emit_record(struct fcase *fc, int i, struct rec_plan *rp)
{
	int gen = fc->seq_gen;
	u64 seq = fc->seq;

	if (i == fc->victim)
		victim_keys(fc, &gen, &seq);
	if (i == fc->victim && fc->mut == M_GARBAGE)
		put_garbage(fc);
	if (!(i == fc->victim && fc->mut == M_DROP))
		put_record(fc, gen, seq, rp->type, rp->buf, rp->len, rp->pad,
			   rp->zero_inner);
	fc->seq++;
	if (rp->ku) {
		fc->seq_gen = ++fc->gen;
		make_keys(fc, &fc->keys[fc->gen]);
		if (chance(&fc->rng, 20))
			fc->keys[fc->gen].seq = pick_start_seq(&fc->rng);
		fc->seq = fc->keys[fc->gen].seq;
	}
}

/* Send record @r's bytes once more, where the stream now ends */
static void repeat_record(struct fcase *fc, const struct rec *r)
{
	struct rec *d = &fc->recs[fc->nrec++];

	*d = *r;
	d->off = fc->wire_len;
	memcpy(wire_room(fc, r->len), fc->wire + r->off, r->len);
	fc->wire_len += r->len;
}

/* Exchange the bytes of the last two records */
static void swap_last_two(struct fcase *fc)
{
	struct rec *a = &fc->recs[fc->nrec - 2], *b = &fc->recs[fc->nrec - 1];
	u8 *tmp = xzalloc(a->len);
	struct rec ra = *a;

	memcpy(tmp, fc->wire + a->off, a->len);
	memmove(fc->wire + a->off, fc->wire + b->off, b->len);
	memcpy(fc->wire + a->off + b->len, tmp, ra.len);
	*a = *b;
	a->off = ra.off;
	*b = ra;
	b->off = ra.off + a->len;
	free(tmp);
}

static int pick_nrec(u64 *s)
{
	unsigned int r = below(s, 100);

	if (r < 40)
		return between(s, 1, 4);
	if (r < 80)
		return between(s, 1, 12);
	return between(s, 1, MAX_RECS - 2);
}

/* The records, with the build-time mutations (keys, order, garbage) */
static void build_records(struct fcase *fc, int n)
{
	struct rec_plan *rp = xzalloc(sizeof(*rp));
	int i, last;

	for (i = 0; i < n; i++) {
		last = fc->nrec;
		plan_record(fc, i, rp);
		emit_record(fc, i, rp);
		if (i != fc->victim)
			continue;
		fc->victim_rec = fc->nrec == last ? -1 : last;
		if (fc->nrec == last)
			continue;
		if (fc->mut == M_DUP)
			repeat_record(fc, &fc->recs[last]);
		if (fc->mut == M_SWAP && last > 0) {
			swap_last_two(fc);
			fc->victim_rec = last - 1;
		}
	}
	free(rp);
}

/* ---- mutations after sealing ------------------------------------------ */

static void flip_bit(struct fcase *fc, size_t off)
{
	fc->wire[off] ^= 1 << below(&fc->rng, 8);
}

static void set_len_field(u8 *hdr, size_t len)
{
	hdr[3] = len >> 8;
	hdr[4] = len;
}

/* A length past the longest record of the cipher */
static size_t len_over(struct fcase *fc)
{
	size_t max = max_body(&fc->keys[0]);

	switch (below(&fc->rng, 4)) {
	case 0:
		return max + 1;
	case 1:
		return 0xffff;
	case 2:
		return max + between(&fc->rng, 2, 300);
	default:
		return between(&fc->rng, max + 1, 0xffff);
	}
}

/* A length under an empty record's: 0, 1, one short, any */
static size_t len_under(struct fcase *fc)
{
	size_t min = min_body(&fc->keys[0]);

	switch (below(&fc->rng, 4)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return min - 1;
	default:
		return below(&fc->rng, min);
	}
}

/* A valid length near the real one, but not it */
static size_t len_shift(struct fcase *fc, size_t len)
{
	const struct keys *k = &fc->keys[0];
	size_t d = between(&fc->rng, 1, 32), v;

	v = chance(&fc->rng, 50) ? len + d : (len > d ? len - d : len + d);
	if (v > max_body(k))
		v = max_body(k);
	if (v < min_body(k))
		v = min_body(k);
	return v == len ? (len > min_body(k) ? len - 1 : len + 1) : v;
}

static u16 bad_version(u64 *s)
{
	static const u16 v[] = { 0x0301, 0x0302, 0x0304, 0x0300, 0x0000,
				 0xffff, 0x0203, 0x0313, 0x0403, 0x7f1c };
	u16 r;

	if (chance(s, 70))
		return v[below(s, sizeof(v) / sizeof(v[0]))];
	do
		r = rnd(s);
	while (r == 0x0303);
	return r;
}

/* Change the header of the victim (at @h, its length field @len) */
static void mutate_header(struct fcase *fc, u8 *h, size_t len)
{
	u16 v;

	switch (fc->mut) {
	case M_LEN_OVER:
		set_len_field(h, len_over(fc));
		break;
	case M_LEN_UNDER:
		set_len_field(h, len_under(fc));
		break;
	case M_LEN_SHIFT:
		set_len_field(h, len_shift(fc, len));
		break;
	case M_VERSION:
		v = bad_version(&fc->rng);
		h[1] = v >> 8;
		h[2] = v;
		break;
	case M_TYPE:
		h[0] ^= between(&fc->rng, 1, 255);
		break;
	}
}

/* Flip a bit of the victim's tag, or of what lies between header and tag */
static void mutate_body(struct fcase *fc, const struct rec *r)
{
	size_t body = r->len - HDR - TAG;

	if (fc->mut == M_TAG || !body)
		flip_bit(fc, r->off + r->len - TAG + below(&fc->rng, TAG));
	else
		flip_bit(fc, r->off + HDR + below(&fc->rng, body));
}

/* The victim's record, or NULL when it has none (left out) */
static struct rec *victim_rec(struct fcase *fc)
{
	return fc->victim_rec >= 0 ? &fc->recs[fc->victim_rec] : NULL;
}

/* The stream ends inside @r, FIN, RST or nothing after it */
static void truncate_in(struct fcase *fc, const struct rec *r)
{
	size_t end = r->off + between(&fc->rng, 1, r->len - 1);

	if (end < fc->wire_len)
		fc->wire_len = end;
}

/* The mutations on the sealed bytes; orig keeps them as sealed */
static void mutate_wire(struct fcase *fc)
{
	struct rec *r;

	fc->orig = realloc(fc->orig, fc->wire_len + 1);
	if (!fc->orig)
		die("out of memory");
	memcpy(fc->orig, fc->wire, fc->wire_len);
	r = victim_rec(fc);
	if (fc->mut == M_FLIP && fc->wire_len)
		flip_bit(fc, below(&fc->rng, fc->wire_len));
	if (r && fc->mut >= M_LEN_OVER && fc->mut <= M_TYPE)
		mutate_header(fc, fc->wire + r->off, r->len - HDR);
	if (r && (fc->mut == M_TAG || fc->mut == M_BODY))
		mutate_body(fc, r);
	if (r && fc->mut == M_TRUNC)
		truncate_in(fc, r);
	if (fc->trunc_tail && fc->nrec)
		truncate_in(fc, &fc->recs[fc->nrec - 1]);
}

/* ---- delivery: writes and segments ------------------------------------ */

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Turn cut points (any order, repeats allowed) into write sizes */
static void cuts_from_points(struct fcase *fc, size_t *pts, size_t n)
{
	size_t last = 0, i;

	qsort(pts, n, sizeof(*pts), cmp_size);
	fc->ncuts = 0;
	for (i = 0; i < n; i++) {
		if (pts[i] <= last || pts[i] >= fc->wire_len)
			continue;
		add_cut(fc, pts[i] - last);
		last = pts[i];
	}
	add_cut(fc, fc->wire_len - last);
}

/* Record starts, and with @in_header a cut 1-4 bytes into each header */
static size_t points_records(struct fcase *fc, size_t *pts, bool in_header)
{
	size_t n = 0;
	int i;

	for (i = 0; i < fc->nrec; i++) {
		if (in_header)
			pts[n++] = fc->recs[i].off + between(&fc->rng, 1, 4);
		if (!in_header || chance(&fc->rng, 50))
			pts[n++] = fc->recs[i].off;
	}
	return n;
}

/* Random writes, from a byte to 16 KiB, sizes spread over the scales */
static size_t points_random(struct fcase *fc, size_t *pts, size_t max)
{
	size_t n = 0, at = 0;

	while (n < max) {
		at += between(&fc->rng, 1, (size_t)1 << below(&fc->rng, 15));
		if (at >= fc->wire_len)
			break;
		pts[n++] = at;
	}
	return n;
}

/*
 * Writes of 1 to 32 bytes from the start: a record then lies in many
 * skbs, more than a scatterlist takes (the kernel copies it instead)
 */
static size_t points_small(struct fcase *fc, size_t *pts, size_t max)
{
	size_t n = 0, at = 0;

	while (n < max) {
		at += between(&fc->rng, 1, 32);
		if (at >= fc->wire_len)
			break;
		pts[n++] = at;
	}
	return n;
}

/* One byte per write in a window (all of a short stream), else random */
static size_t points_bytes(struct fcase *fc, size_t *pts, size_t max)
{
	size_t w = 96, from = 0, n, i;

	if (fc->wire_len > 160)
		from = below(&fc->rng, fc->wire_len - w);
	else
		w = fc->wire_len;
	n = points_random(fc, pts, max - w - 2);
	for (i = 0; i <= w; i++)
		pts[n++] = from + i;
	return n;
}

static void plan_cuts(struct fcase *fc)
{
	size_t max = 2 * MAX_RECS + 4200, n = 0;
	size_t *pts = xzalloc(max * sizeof(*pts));

	switch (fc->cut) {
	case CUT_RECORDS:
		n = points_records(fc, pts, false);
		break;
	case CUT_HEADERS:
		n = points_records(fc, pts, true);
		break;
	case CUT_RANDOM:
		n = points_random(fc, pts, max);
		break;
	case CUT_BYTES:
		n = points_bytes(fc, pts, max);
		break;
	case CUT_SMALL:
		/* ~20 KiB of them: a whole record, at a bounded cost */
		n = points_small(fc, pts, 1200);
		break;
	}
	cuts_from_points(fc, pts, n);
	free(pts);
}

/* pkt mode: the writes as segments of at most SEG_MAX bytes, in order */
static void segs_in_order(struct fcase *fc)
{
	size_t off = 0, end, n;
	int i;

	fc->nsegs = 0;
	for (i = 0; i < fc->ncuts; i++) {
		for (end = off + fc->cuts[i]; off < end; off += n) {
			n = end - off < SEG_MAX ? end - off : SEG_MAX;
			add_seg(fc, off, off + n);
		}
	}
}

/*
 * pkt mode: what a network and a sender that retransmits do to them:
 * neighbours swapped, segments sent twice, retransmissions cut
 * differently from the original (overlapping both neighbours), and
 * bytes the receiver has had for long. The bytes at an offset are
 * always the stream's: TCP must make the same stream of them.
 */
static void segs_disorder(struct fcase *fc)
{
	int i, n = fc->nsegs;
	struct seg s;

	for (i = 0; i + 1 < n; i++) {
		if (chance(&fc->rng, 15)) {
			s = fc->segs[i];
			fc->segs[i] = fc->segs[i + 1];
			fc->segs[i + 1] = s;
		}
		s = fc->segs[i];
		if (chance(&fc->rng, 8))
			add_seg(fc, s.from, s.to);
		if (chance(&fc->rng, 8)) {
			size_t a = s.from, b = fc->segs[i + 1].to;
			size_t lo = a - below(&fc->rng, a < 200 ? a + 1 : 200);
			size_t hi = between(&fc->rng, a + 1, b);

			add_seg(fc, lo, hi);
		}
	}
	if (n && chance(&fc->rng, 10))
		add_seg(fc, 0, fc->segs[0].to);
}

/* Spread the extra segments among the planned ones, a little late */
static void segs_interleave(struct fcase *fc, int planned)
{
	int i, j;
	struct seg s;

	for (i = planned; i < fc->nsegs; i++) {
		j = between(&fc->rng, i > 4 ? i - 4 : 0, i);
		s = fc->segs[i];
		memmove(&fc->segs[j + 1], &fc->segs[j],
			(i - j) * sizeof(s));
		fc->segs[j] = s;
	}
}

static void plan_segs(struct fcase *fc)
{
	int planned;

	segs_in_order(fc);
	planned = fc->nsegs;
	if (chance(&fc->rng, 70))
		segs_disorder(fc);
	segs_interleave(fc, planned);
}

/* ---- a whole case ------------------------------------------------------ */

static int pick_mut(struct fcase *fc)
{
	int m;

	if (chance(&fc->rng, 15))
		return M_CLEAN;
	do
		m = between(&fc->rng, 1, M_COUNT - 1);
	while (m == M_INNER_ZERO && fc->version != TLS_1_3_VERSION);
	return m;
}

static const struct cipher *pick_cipher(struct fcase *fc)
{
	const struct cipher *c;

	do
		c = &ciphers[below(&fc->rng, NCIPHERS)];
	while (fc->version == TLS_1_3_VERSION && !c->tls13);
	return c;
}

static void case_reset(struct fcase *fc, u64 seed, u64 id)
{
	fc->seed = seed;
	fc->id = id;
	fc->rng = stream_seed(seed, id, 1);
	fc->wire_len = fc->plain_len = 0;
	fc->nrec = fc->ncuts = fc->nsegs = 0;
	fc->gen = fc->seq_gen = 0;
	fc->victim_rec = -1;
	fc->mutated = 0;
}

/* Versions, cipher, keys, mutation class and the records */
static void gen_records(struct fcase *fc)
{
	int n;

	fc->version = chance(&fc->rng, 50) ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	fc->c = pick_cipher(fc);
	make_keys(fc, &fc->keys[0]);
	make_keys(fc, &fc->keys[STRANGER]);
	fc->keys[0].seq = pick_start_seq(&fc->rng);
	fc->mut = pick_mut(fc);
	n = pick_nrec(&fc->rng);
	if (n < 2 && (fc->mut == M_SWAP || fc->mut == M_SEQ_WRAP))
		n = 2;
	fc->victim = below(&fc->rng, n);
	if (fc->mut == M_SWAP && !fc->victim)
		fc->victim = 1;
	if (fc->mut == M_SEQ_WRAP)
		fc->keys[0].seq = UINT64_MAX - below(&fc->rng, n - 1);
	fc->keys[STRANGER].seq = fc->keys[0].seq;
	fc->seq = fc->keys[0].seq;
	build_records(fc, n);
	fc->trunc_tail = fc->mut != M_TRUNC && chance(&fc->rng, 12);
	mutate_wire(fc);
	fc->mutated = fc->mut == M_CLEAN ? 0 : fc->mut == M_SWAP ? 2 : 1;
	fc->mutated += fc->trunc_tail;
}

/* The peer, the cuts, and the reader's socket options */
static void gen_delivery(struct fcase *fc, int mode)
{
	unsigned int r = below(&fc->rng, 100);

	fc->end = r < 35 ? END_FIN : r < 55 ? END_RST : END_NONE;
	fc->mode = mode != MODE_MIX ? mode :
		   chance(&fc->rng, 50) ? MODE_PKT : MODE_SOCK;
	fc->rcvbuf = chance(&fc->rng, 15) ? between(&fc->rng, 2048, 16384) : 0;
	fc->no_pad = fc->version == TLS_1_3_VERSION && chance(&fc->rng, 30);
	fc->late_rx = chance(&fc->rng, 10);
	fc->late_ulp = fc->late_rx && chance(&fc->rng, 50);
	fc->pace = chance(&fc->rng, 10) ? 30 : 0;
	fc->iss = chance(&fc->rng, 20) ? (u32)-between(&fc->rng, 1, 40000) :
					 (u32)rnd(&fc->rng);
	r = below(&fc->rng, 100);
	fc->cut = r < 15 ? CUT_WHOLE : r < 38 ? CUT_RECORDS :
		  r < 68 ? CUT_RANDOM : r < 78 ? CUT_BYTES :
		  r < 90 ? CUT_HEADERS : CUT_SMALL;
}

/* ---- the model: what the reader must get -------------------------------- */

/*
 * The model frames the bytes the peer sends as the kernel must
 * (Documentation/networking/tls.rst): each header is checked as it comes
 * (a length past the cipher's longest record: EMSGSIZE; under an empty
 * record's: EBADMSG; a version other than 0x0303: EINVAL, in that
 * order); a whole record is good only if it is, byte for byte, a record
 * the generator sealed with the keys and sequence number the reader is
 * at, and (TLS 1.3) has a content type; else EBADMSG. A record after
 * sequence number 2^64 - 1 is EBADMSG whatever it is. The stream ends
 * where the first bad record is, or with the peer's FIN, RST or silence.
 */
enum term { T_STALL, T_EOF, T_RST, T_BADMSG, T_EMSGSIZE, T_EINVAL, T_COUNT };

static const char *const term_names[T_COUNT] = {
	"nothing more (EAGAIN)", "EOF", "ECONNRESET then EOF", "EBADMSG",
	"EMSGSIZE", "EINVAL",
};

/* What one read may return: a record's content, of one type */
struct unit {
	int type;
	const u8 *data;
	size_t len;
	bool ku;	/* a TLS 1.3 KeyUpdate: the next keys are due after it */
	bool empty_before;	/* empty data records come just before it */
};

struct model {
	struct unit u[MAX_RECS + 2];
	int n;
	bool empty_at_end;	/* empty data records after the last unit */
	int term;
	size_t bad_off;	/* where the record that ends it starts (or is cut) */
	size_t needed;	/* the bytes the reader's TCP must have for it */
};

/* Where the framing is */
struct frame {
	size_t pos;
	int gen;
	u64 seq;
	bool exhausted;	/* the sequence number 2^64 - 1 was used */
};

static int opt_inject;	/* --inject-fault: 1 data, 2 errno */

static int end_term(const struct fcase *fc)
{
	return fc->end == END_FIN ? T_EOF : fc->end == END_RST ? T_RST :
					T_STALL;
}

/* -1 for a good header, T_COUNT for one not all there, else its error */
static int model_header(const struct fcase *fc, size_t pos, size_t *body)
{
	const struct keys *k = &fc->keys[0];
	const u8 *h = fc->wire + pos;

	if (pos + HDR > fc->wire_len)
		return T_COUNT;
	*body = h[3] << 8 | h[4];
	if (*body > max_body(k))
		return opt_inject == 2 ? T_EINVAL : T_EMSGSIZE;
	if (*body < min_body(k))
		return T_BADMSG;
	if (h[1] != 3 || h[2] != 3)
		return T_EINVAL;
	return -1;
}

/* The sealed record at @f's place, if it is exactly what the reader wants */
static const struct rec *model_match(const struct fcase *fc,
				     const struct frame *f, size_t len)
{
	const struct rec *r = NULL;
	int i;

	for (i = 0; i < fc->nrec && !r; i++)
		if (fc->recs[i].off == f->pos)
			r = &fc->recs[i];
	if (!r || f->exhausted || r->len != len || r->gen != f->gen ||
	    r->seq != f->seq || memcmp(fc->wire + f->pos, fc->orig + f->pos, len))
		return NULL;
	return r;
}

/* A good record: what the reader gets of it, and the keys after it */
static void model_unit(const struct fcase *fc, struct model *m,
		       const struct rec *r, struct frame *f)
{
	const u8 *data = fc->plain + r->poff;
	bool ku = fc->version == TLS_1_3_VERSION && r->type == T_HS &&
		  r->plen && data[0] == HS_KEY_UPDATE;

	/* an empty data record carries nothing, not even a boundary */
	if (r->type != T_DATA || r->plen) {
		m->u[m->n] = (struct unit){ r->type, data, r->plen, ku,
					    m->empty_at_end };
		m->n++;
		m->empty_at_end = false;
	} else {
		m->empty_at_end = true;
	}
	if (f->seq == UINT64_MAX)
		f->exhausted = true;
	f->seq++;
	if (ku) {
		f->gen++;
		f->seq = fc->keys[f->gen].seq;
		f->exhausted = false;
	}
}

/* One record of the framing: -1 to go on, else the stream's end */
static int model_step(const struct fcase *fc, struct model *m,
		      struct frame *f)
{
	const struct rec *r;
	size_t body = 0;
	int t = model_header(fc, f->pos, &body);

	m->bad_off = f->pos;
	if (t == T_COUNT || (t < 0 && f->pos + HDR + body > fc->wire_len)) {
		m->needed = fc->wire_len;
		return end_term(fc);
	}
	if (t >= 0) {
		m->needed = f->pos + HDR;
		return t;
	}
	m->needed = f->pos + HDR + body;
	r = model_match(fc, f, HDR + body);
	if (!r || r->type < 0)
		return T_BADMSG;
	model_unit(fc, m, r, f);
	f->pos += HDR + body;
	return -1;
}

static void model_build(const struct fcase *fc, struct model *m)
{
	struct frame f = { 0, 0, fc->keys[0].seq, false };

	m->n = 0;
	m->empty_at_end = false;
	m->bad_off = fc->wire_len;
	do
		m->term = model_step(fc, m, &f);
	while (m->term < 0);
}

static bool term_is_error(int t)
{
	return t == T_BADMSG || t == T_EMSGSIZE || t == T_EINVAL;
}

/*
 * sock mode: after a bad record the kernel takes no more bytes, and what
 * TCP queued behind them would never leave the peer, its FIN included,
 * once the window is shut (the reader may shrink SO_RCVBUF at any time).
 * So the peer's stream ends where the model's needs do. pkt mode keeps
 * it all: its peer ends the stream where the receiver stopped taking
 * bytes.
 */
static void clip_after_bad(struct fcase *fc, const struct model *m)
{
	if (fc->mode == MODE_SOCK && term_is_error(m->term) &&
	    m->needed < fc->wire_len)
		fc->wire_len = m->needed;
}

static void gen_case(struct fcase *fc, struct model *m, u64 seed, u64 id,
		     int mode)
{
	case_reset(fc, seed, id);
	gen_records(fc);
	gen_delivery(fc, mode);
	model_build(fc, m);
	clip_after_bad(fc, m);
	model_build(fc, m);
	if (fc->cut == CUT_WHOLE)
		add_cut(fc, fc->wire_len);
	else
		plan_cuts(fc);
	if (fc->mode == MODE_PKT)
		plan_segs(fc);
}

/* ---- the peer ----------------------------------------------------------- */

static int opt_timeout = 8000;	/* ms a blocking read, or a peer, may wait */

/*
 * The peer runs in a thread of its own, so that it may block on a full
 * window while the reader reads. The reader and the peer share flags
 * (__atomic builtins, which also publish what the peer wrote before
 * setting one: stream_end, err), and the reader's socket, which the peer
 * only asks for its TCP_INFO.
 */
struct peer {
	const struct fcase *fc;
	const struct model *m;
	u64 rng;		/* the peer's own stream (pacing) */
	pthread_t thread;
	int fd;			/* sock mode: the sending socket */
	int rfd;		/* the reader's socket, for its TCP_INFO */
	size_t sent;		/* bytes handed to TCP, or sent in segments */
	size_t stream_end;	/* where the peer's stream ended */
	int keys_set, stop;	/* set by the reader */
	int done, ended;	/* set by the peer: done, and with its end */
	char err[200];		/* what went wrong on the peer's side */
	/* pkt mode: the peer's TCP, by hand */
	u16 sport;
	u32 iss, irs;		/* our initial sequence number, theirs */
	u32 una, right;		/* acknowledged, window's end: data offsets */
};

/*
 * What the reader's TCP has: the bytes it received in order, and whether
 * a FIN came. The peer and the reader ask the reader's socket itself,
 * which knows at once, where ACKs may be delayed.
 */
static bool rx_info(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return !getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len);
}

static u64 rx_got(int fd)
{
	struct tcp_info ti;

	return rx_info(fd, &ti) ? ti.tcpi_bytes_received : 0;
}

/*
 * The states (tcpi_state, the kernel's numbers) of a TCP that received a
 * FIN: TIME_WAIT 6, CLOSE 7, CLOSE_WAIT 8, LAST_ACK 9, CLOSING 11.
 */
static bool fin_state(int state)
{
	return (state >= 6 && state <= 9) || state == 11;
}

static int get_flag(const int *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static void set_flag(int *f)
{
	__atomic_store_n(f, 1, __ATOMIC_RELEASE);
}

static void peer_fail(struct peer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

/* After a write: a pause now and then, so that records arrive in parts */
static void peer_pace(struct peer *p)
{
	if (p->fc->pace && chance(&p->rng, p->fc->pace))
		sleep_us(below(&p->rng, 300));
}

/* Late keys: FIN or RST before TLS_RX would leave no connection to key */
static bool peer_wait_keys(struct peer *p)
{
	long t0 = now_ms();

	while (!get_flag(&p->keys_set)) {
		if (get_flag(&p->stop))
			return false;
		if (now_ms() - t0 > opt_timeout) {
			peer_fail(p, "the reader never set TLS_RX");
			return false;
		}
		sleep_us(500);
	}
	return true;
}

/* ---- sock mode: a TCP socket over loopback ---- */

static int sock_outq(int fd)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n))
		return -1;
	return n;
}

/* Bytes the reader's TCP acknowledged */
static size_t sock_acked(struct peer *p)
{
	int q = sock_outq(p->fd);

	return q < 0 || (size_t)q > p->sent ? 0 : p->sent - q;
}

/* Wait until @fd may take bytes; false on stop or a stuck window */
static bool sock_wait_room(struct peer *p, long *since)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };

	if (get_flag(&p->stop))
		return false;
	if (now_ms() - *since > 2 * opt_timeout) {
		peer_fail(p, "no room to send for %d ms: the reader's TCP "
			  "took %zu of %zu bytes (needed %zu)", 2 * opt_timeout,
			  sock_acked(p), p->sent, p->m->needed);
		return false;
	}
	poll(&pfd, 1, 20);
	return true;
}

static bool sock_write(struct peer *p, const u8 *buf, size_t len)
{
	long since = now_ms();
	ssize_t n;

	while (len) {
		n = send(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= n;
			p->sent += n;
			since = now_ms();
			continue;
		}
		if (n < 0 && errno != EAGAIN) {
			if (!get_flag(&p->stop))
				peer_fail(p, "send: %s", strerror(errno));
			return false;
		}
		if (!sock_wait_room(p, &since))
			return false;
	}
	return true;
}

/* Wait until the reader's TCP has @want bytes */
static bool wait_rx_got(struct peer *p, size_t want)
{
	long t0 = now_ms();

	while (rx_got(p->rfd) < want) {
		if (get_flag(&p->stop))
			return false;
		if (now_ms() - t0 > 2 * opt_timeout) {
			peer_fail(p, "the reader's TCP got %" PRIu64 " of %zu "
				  "bytes in %d ms", rx_got(p->rfd), want,
				  2 * opt_timeout);
			return false;
		}
		sleep_us(200);
	}
	return true;
}

/* FIN, or RST once the bytes the model needs are in, or nothing */
static bool sock_end(struct peer *p)
{
	struct linger lg = { 1, 0 };

	if (p->fc->end == END_FIN)
		return !shutdown(p->fd, SHUT_WR);
	if (p->fc->end != END_RST)
		return true;
	if (!wait_rx_got(p, p->m->needed))
		return false;
	setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(p->fd);
	p->fd = -1;
	return true;
}

static void *sock_peer(void *arg)
{
	struct peer *p = arg;
	const struct fcase *fc = p->fc;
	size_t off = 0;
	int i;

	for (i = 0; i < fc->ncuts; i++) {
		if (!sock_write(p, fc->wire + off, fc->cuts[i]))
			goto out;
		off += fc->cuts[i];
		peer_pace(p);
	}
	p->stream_end = p->sent;
	if (peer_wait_keys(p) && sock_end(p))
		set_flag(&p->ended);
out:
	set_flag(&p->done);
	return NULL;
}

/* ---- pkt mode: a packet socket on a veth pair plays TCP ---- */

#define PKT_KTLS_IP	"10.78.0.1"
#define PKT_PEER_IP	"10.78.0.2"
#define PKT_PORT	4433
#define TCPF_FIN	0x01
#define TCPF_SYN	0x02
#define TCPF_RST	0x04
#define TCPF_PSH	0x08
#define TCPF_ACK	0x10

/* Set up once: the veth pair, the packet socket, the listener */
static struct {
	int pkt, lfd;
	struct sockaddr_ll to;
	u8 ktls_ip[4], peer_ip[4];
	u16 next_port;
} pn = { .pkt = -1, .lfd = -1 };

/* A TCP segment of the kTLS end, as the peer reads it */
struct tcpseg {
	u32 seq, ack;
	u16 win, sport, dport;
	u8 flags;
};

static void put16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(u8 *p, u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static u16 get16(const u8 *p)
{
	return p[0] << 8 | p[1];
}

static u32 get32(const u8 *p)
{
	return (u32)get16(p) << 16 | get16(p + 2);
}

/* The Internet checksum's running sum, folded at the end by csum_end() */
static u32 csum_add(u32 sum, const u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += p[n - 1] << 8;
	return sum;
}

static u16 csum_end(u32 sum)
{
	while (sum >> 16)
		sum = (sum >> 16) + (sum & 0xffff);
	return ~sum;
}

/* Build and send one segment from the peer; @opt: TCP options (or NULL) */
static bool pkt_xmit(struct peer *p, u8 flags, u32 seq, const u8 *opt,
		     size_t optlen, const u8 *data, size_t len)
{
	u8 pkt[20 + 60 + SEG_MAX], *tcp = pkt + 20;
	size_t thl = 20 + optlen, tot = 20 + thl + len;
	u8 pseudo[4] = { 0, IPPROTO_TCP };
	u32 sum;

	memset(pkt, 0, 20 + thl);
	pkt[0] = 0x45;
	put16(pkt + 2, tot);
	pkt[8] = 64;
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 12, pn.peer_ip, 4);
	memcpy(pkt + 16, pn.ktls_ip, 4);
	put16(pkt + 10, csum_end(csum_add(0, pkt, 20)));
	put16(tcp, p->sport);
	put16(tcp + 2, PKT_PORT);
	put32(tcp + 4, seq);
	put32(tcp + 8, flags & TCPF_ACK ? p->irs + 1 : 0);
	tcp[12] = thl / 4 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 0xffff);
	if (optlen)
		memcpy(tcp + 20, opt, optlen);
	if (len)
		memcpy(tcp + thl, data, len);
	put16(pseudo + 2, thl + len);
	sum = csum_add(csum_add(0, pkt + 12, 8), pseudo, 4);
	put16(tcp + 16, csum_end(csum_add(sum, tcp, thl + len)));
	return sendto(pn.pkt, pkt, tot, 0, (struct sockaddr *)&pn.to,
		      sizeof(pn.to)) == (ssize_t)tot;
}

/* Wire bytes [from, to) as one segment */
static bool pkt_data(struct peer *p, size_t from, size_t to)
{
	return pkt_xmit(p, TCPF_ACK | TCPF_PSH, p->iss + 1 + from, NULL, 0,
			p->fc->wire + from, to - from);
}

/* Parse an IPv4/TCP packet of our connection from the kTLS end */
static bool pkt_parse(const struct peer *p, const u8 *b, size_t n,
		      struct tcpseg *t)
{
	size_t ihl;

	if (n < 40 || b[0] >> 4 != 4 || b[9] != IPPROTO_TCP ||
	    memcmp(b + 12, pn.ktls_ip, 4))
		return false;
	ihl = (b[0] & 15) * 4;
	if (n < ihl + 20)
		return false;
	b += ihl;
	t->sport = get16(b);
	t->dport = get16(b + 2);
	t->seq = get32(b + 4);
	t->ack = get32(b + 8);
	t->flags = b[13];
	t->win = get16(b + 14);
	return t->sport == PKT_PORT && t->dport == p->sport;
}

/* The next segment of ours from the kTLS end, waiting up to @ms */
static bool pkt_recv(struct peer *p, int ms, struct tcpseg *t)
{
	struct pollfd pfd = { .fd = pn.pkt, .events = POLLIN };
	struct sockaddr_ll from;
	socklen_t flen;
	u8 buf[2048];
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, ms) <= 0)
			return false;
		flen = sizeof(from);
		n = recvfrom(pn.pkt, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		if (n <= 0)
			continue;
		if (from.sll_pkttype != PACKET_OUTGOING &&
		    pkt_parse(p, buf, n, t))
			return true;
		ms = 0;
	}
}

/* Take the acknowledgment and window of @t */
static void pkt_take_ack(struct peer *p, const struct tcpseg *t)
{
	int32_t una = t->ack - (p->iss + 1);

	if (!(t->flags & TCPF_ACK) || una < 0)
		return;
	if ((u32)una > p->una)
		p->una = una;
	if ((u32)una + t->win > p->right)
		p->right = una + t->win;
}

/*
 * Read the acknowledgments there are, waiting up to @ms for the first;
 * what the reader's TCP has, it says at once.
 */
static void pkt_acks(struct peer *p, int ms)
{
	struct tcpseg t;
	u64 got;

	while (pkt_recv(p, ms, &t)) {
		pkt_take_ack(p, &t);
		ms = 0;
	}
	got = rx_got(p->rfd);
	if (got > p->una)
		p->una = got;
}

/*
 * Retransmit from the first byte not acknowledged, as TCP would after a
 * timeout: what the receiver dropped (out of order, or past its memory)
 * comes again. With no window, one byte probes it.
 */
static void pkt_retransmit(struct peer *p)
{
	size_t end = p->fc->wire_len, to = p->una + SEG_MAX;

	if (p->una >= end)
		return;
	to = to > end ? end : to;
	to = to > p->right ? p->right : to;
	pkt_data(p, p->una, to > p->una ? to : p->una + 1);
}

/*
 * Wait for the window to take [.., @to); false to give up: on stop, when
 * the bytes the model needs are in and the rest will not fit (the
 * reader stopped taking them), or after a timeout.
 */
static bool pkt_room(struct peer *p, size_t to, bool *give_up)
{
	long t0 = now_ms();

	while (to > p->right) {
		if (get_flag(&p->stop))
			return false;
		if (p->una >= p->m->needed && now_ms() - t0 > 40) {
			*give_up = true;
			return false;
		}
		if (now_ms() - t0 > 2 * opt_timeout) {
			peer_fail(p, "window stuck at %u for %d ms (acked %u, "
				  "needed %zu)", p->right, 2 * opt_timeout,
				  p->una, p->m->needed);
			return false;
		}
		pkt_acks(p, 20);
		if (now_ms() - t0 > 60)
			pkt_retransmit(p);
	}
	return true;
}

/* The planned segments, in their order, as the window lets them */
static bool pkt_send_plan(struct peer *p)
{
	const struct fcase *fc = p->fc;
	bool give_up = false;
	int i;

	for (i = 0; i < fc->nsegs; i++) {
		const struct seg *s = &fc->segs[i];

		if (!pkt_room(p, s->to, &give_up))
			return give_up;
		if (!pkt_data(p, s->from, s->to)) {
			peer_fail(p, "sendto: %s", strerror(errno));
			return false;
		}
		if (s->to > p->sent)
			p->sent = s->to;
		peer_pace(p);
		pkt_acks(p, 0);
	}
	return true;
}

/*
 * Retransmit from the acknowledged byte until the reader's TCP has the
 * stream (what it dropped, or what came after a window it never had),
 * or the bytes the model needs when the rest will not go in.
 */
static bool pkt_repair(struct peer *p)
{
	size_t end = p->fc->wire_len;
	long last = now_ms();
	u32 una = p->una;

	while (p->una < end) {
		if (get_flag(&p->stop))
			return false;
		if (p->una != una) {
			una = p->una;
			last = now_ms();
		}
		if (p->una >= p->m->needed && now_ms() - last > 40)
			break;
		if (now_ms() - last > 2 * opt_timeout) {
			peer_fail(p, "the reader's TCP stays at byte %u of %zu "
				  "(needed %zu)", p->una, end, p->m->needed);
			return false;
		}
		pkt_retransmit(p);
		pkt_acks(p, 20);
	}
	return true;
}

/* A FIN where the reader's TCP is, again until it is taken */
static bool pkt_fin(struct peer *p)
{
	struct tcp_info ti;
	long t0 = now_ms();

	while (rx_info(p->rfd, &ti) && !fin_state(ti.tcpi_state)) {
		if (get_flag(&p->stop))
			return false;
		if (now_ms() - t0 > 2 * opt_timeout) {
			peer_fail(p, "FIN at %zu never taken", p->stream_end);
			return false;
		}
		pkt_xmit(p, TCPF_FIN | TCPF_ACK, p->iss + 1 + p->stream_end,
			 NULL, 0, NULL, 0);
		pkt_acks(p, 20);
	}
	return true;
}

/*
 * The stream ends where the reader's TCP is: all of it, or what it took
 * before it stopped taking bytes. An RST must carry exactly that
 * sequence number to be taken.
 */
static void *pkt_peer(void *arg)
{
	struct peer *p = arg;

	if (!pkt_send_plan(p) || !pkt_repair(p) || !peer_wait_keys(p))
		goto out;
	p->stream_end = rx_got(p->rfd);
	if (p->fc->end == END_FIN && !pkt_fin(p))
		goto out;
	if (p->fc->end == END_RST)
		pkt_xmit(p, TCPF_RST | TCPF_ACK, p->iss + 1 + p->stream_end,
			 NULL, 0, NULL, 0);
	set_flag(&p->ended);
out:
	set_flag(&p->done);
	return NULL;
}

static void run_cmd(const char *cmd)
{
	if (system(cmd))
		die("setup failed: %s", cmd);
}

/* The veth pair (the kTLS end fz0, the peer's fz1), its packet socket */
static void pkt_setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(PKT_PORT) };
	int on = 1;

	run_cmd("ip link add fz0 address 02:00:00:00:78:01 type veth "
		"peer name fz1 address 02:00:00:00:78:02 && "
		"ip addr add " PKT_KTLS_IP "/24 dev fz0 && "
		"ip link set fz0 up && ip link set fz1 up && "
		"ip neigh add " PKT_PEER_IP " lladdr 02:00:00:00:78:02 "
		"dev fz0 nud permanent");
	inet_pton(AF_INET, PKT_PEER_IP, pn.peer_ip);
	inet_pton(AF_INET, PKT_KTLS_IP, pn.ktls_ip);
	pn.pkt = socket(AF_PACKET, SOCK_DGRAM, htons(0x0800));
	if (pn.pkt < 0)
		die("AF_PACKET: %s", strerror(errno));
	pn.to.sll_family = AF_PACKET;
	pn.to.sll_protocol = htons(0x0800);
	pn.to.sll_ifindex = if_nametoindex("fz1");
	pn.to.sll_halen = 6;
	memcpy(pn.to.sll_addr, "\x02\x00\x00\x00\x78\x01", 6);
	if (bind(pn.pkt, (struct sockaddr *)&pn.to, sizeof(pn.to)))
		die("bind AF_PACKET: %s", strerror(errno));
	pn.lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(pn.lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	inet_pton(AF_INET, PKT_KTLS_IP, &a.sin_addr);
	if (bind(pn.lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(pn.lfd, 64))
		die("pkt listener: %s", strerror(errno));
	pn.next_port = 20000;
}

/* Our SYN (MSS 1460), their SYN-ACK, our ACK */
static bool pkt_handshake(struct peer *p)
{
	static const u8 mss[4] = { 2, 4, SEG_MAX >> 8, SEG_MAX & 0xff };
	struct tcpseg t;
	long t0 = now_ms();

	if (!pkt_xmit(p, TCPF_SYN, p->iss, mss, sizeof(mss), NULL, 0))
		return false;
	do {
		if (now_ms() - t0 > opt_timeout)
			return false;
	} while (!pkt_recv(p, 100, &t) ||
		 (t.flags & (TCPF_SYN | TCPF_ACK)) != (TCPF_SYN | TCPF_ACK));
	p->irs = t.seq;
	p->una = 0;
	p->right = t.win;
	return pkt_xmit(p, TCPF_ACK, p->iss + 1, NULL, 0, NULL, 0);
}

/* The accepted kTLS end of connection @p, skipping any stale one */
static int pkt_accept(struct peer *p)
{
	struct sockaddr_in a;
	socklen_t alen;
	int fd;

	for (;;) {
		alen = sizeof(a);
		fd = accept(pn.lfd, (struct sockaddr *)&a, &alen);
		if (fd < 0 || ntohs(a.sin_port) == p->sport)
			return fd;
		close(fd);
	}
}

static int pkt_open(struct peer *p)
{
	struct timeval tv = { opt_timeout / 1000, opt_timeout % 1000 * 1000 };

	p->sport = pn.next_port;
	pn.next_port = pn.next_port >= 60000 ? 20000 : pn.next_port + 1;
	p->iss = p->fc->iss;
	setsockopt(pn.lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!pkt_handshake(p))
		return -1;
	return pkt_accept(p);
}

/* ---- sock mode's connection ---- */

static int sock_lfd = -1;

static void sock_setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sock_lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (sock_lfd < 0 || bind(sock_lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(sock_lfd, 64))
		die("loopback listener: %s", strerror(errno));
}

/* The reader's end; p->fd the peer's, which writes each piece at once */
static int sock_open(struct peer *p)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	struct linger lg = { 1, 0 };
	int one = 1, fd;

	if (getsockname(sock_lfd, (struct sockaddr *)&a, &alen))
		return -1;
	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&a, alen))
		return -1;
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	fd = accept(sock_lfd, NULL, NULL);
	return fd;
}

/* ---- the reader --------------------------------------------------------- */

enum op { OP_RECV, OP_PEEK, OP_READ, OP_SPLICE, OP_FAULT, OP_POLL,
	  OP_REKEY, OP_KNOB, OP_COUNT };

static const char *const op_names[OP_COUNT] = {
	"recv", "peek", "read", "splice", "fault", "poll", "rekey", "knob",
};

/* One read as the reader chose it */
struct rop {
	int op;
	size_t len;
	int flags;	/* MSG_*; MSG_DONTWAIT is SPLICE_F_NONBLOCK for splice */
	bool cmsg;	/* room for the record type cmsg */
	int niov;
	size_t align;	/* where in the buffer it starts */
	size_t room;	/* OP_FAULT: bytes before the buffer hits a hole */
	bool settled;	/* the peer was settled before the read began */
};

/* What it got */
struct res {
	ssize_t n;
	int err;
	int type;	/* the record type cmsg; -1 when none came */
	bool eor;
};

struct reader {
	const struct fcase *fc;
	const struct model *m;
	struct peer *p;
	int fd;
	u64 rng;		/* the reader's own stream */
	int ui;			/* the model's next unit, */
	size_t off;		/* and byte in it */
	int gen;		/* the keys TLS_RX has */
	bool expired;		/* a KeyUpdate was read; next keys are due */
	int tstate;		/* how far the stream's end has shown */
	int errs, eofs, quiets;	/* reads that showed it as they should */
	bool polled_in;		/* poll() said POLLIN just before this read */
	bool last_eagain;
	int nops;
	char fail[400];
	char trace[TRACE_LINES][200];
	int ntrace;
};

#define RBUF_SIZE (320 * 1024)
static u8 rbuf[RBUF_SIZE], gathered[RBUF_SIZE];
static u8 *hole;	/* a page before a page nobody may touch */
static long page_size;
static int spipe[2] = { -1, -1 };
static int opt_verbose;

static bool fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->fail[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(r->fail, sizeof(r->fail), fmt, ap);
	va_end(ap);
	return false;
}

static void trace(struct reader *r, const char *fmt, ...)
{
	char *line = r->trace[r->ntrace++ % TRACE_LINES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(r->trace[0]), fmt, ap);
	va_end(ap);
	if (opt_verbose)
		printf("    %s\n", line);
}

static void trace_op(struct reader *r, const struct rop *o,
		     const struct res *s)
{
	char what[64];

	if (s->n < 0)
		snprintf(what, sizeof(what), "%s", strerror(s->err));
	else if (s->type >= 0)
		snprintf(what, sizeof(what), "%zd bytes type %d", s->n,
			 s->type);
	else
		snprintf(what, sizeof(what), "%zd bytes", s->n);
	trace(r, "#%d %s len %zu%s%s%s%s iov %d room %zu -> %s%s (at unit "
	      "%d+%zu)", r->nops, op_names[o->op], o->len,
	      o->cmsg ? " cmsg" : "", o->flags & MSG_PEEK ? " peek" : "",
	      o->flags & MSG_WAITALL ? " waitall" : "",
	      o->flags & MSG_DONTWAIT ? " nonblock" : "", o->niov,
	      o->op == OP_FAULT ? o->room : o->len, what,
	      s->eor ? " eor" : "", r->ui, r->off);
}

/* What the model says comes next, for messages */
static const char *what_due(const struct reader *r, char *buf, size_t n)
{
	const struct model *m = r->m;

	if (r->expired)
		snprintf(buf, n, "EKEYEXPIRED");
	else if (r->ui < m->n)
		snprintf(buf, n, "good record %d (%zu bytes of type %d, %zu "
			 "read)", r->ui, m->u[r->ui].len, m->u[r->ui].type,
			 r->off);
	else if (r->tstate && (m->term == T_EMSGSIZE || m->term == T_EINVAL))
		snprintf(buf, n, "%s, after %s", r->fc->end == END_NONE ?
			 "nothing (EAGAIN)" : r->fc->end == END_FIN ? "EOF" :
			 "ECONNRESET then EOF", term_names[m->term]);
	else
		snprintf(buf, n, "%s", term_names[m->term]);
	return buf;
}

static bool is_hdr_term(int t)
{
	return t == T_EMSGSIZE || t == T_EINVAL;
}

/* Every good record read, and no KeyUpdate waiting for the next keys */
static bool at_end(const struct reader *r)
{
	return !r->expired && r->ui >= r->m->n;
}

/* All read, and the stream's end is silence: reads must find nothing */
static bool quiet(const struct reader *r)
{
	const struct model *m = r->m;

	if (!at_end(r))
		return false;
	return m->term == T_STALL ||
	       (is_hdr_term(m->term) && r->fc->end == END_NONE && r->tstate);
}

/*
 * The peer is done and the reader's TCP has all it will get. Sampled
 * before a read or poll starts: one that ends after the peer settled
 * may have begun before the last bytes came.
 */
static bool settled(const struct reader *r)
{
	struct tcp_info ti;

	if (r->fc->end == END_RST || !get_flag(&r->p->ended) ||
	    !rx_info(r->fd, &ti))
		return false;
	return ti.tcpi_bytes_received >= r->p->stream_end &&
	       (r->fc->end != END_FIN || fin_state(ti.tcpi_state));
}

/* ---- what may block ---- */

/*
 * Would MSG_WAITALL wait for data that never comes: the data records
 * left before the stream falls silent are fewer bytes than it wants.
 */
static bool waitall_stalls(const struct reader *r, const struct rop *o)
{
	const struct model *m = r->m;
	size_t run = 0;
	int i;

	if (!(o->flags & MSG_WAITALL) || m->u[r->ui].type != T_DATA)
		return false;
	for (i = r->ui; i < m->n && m->u[i].type == T_DATA; i++)
		run += m->u[i].len - (i == r->ui ? r->off : 0);
	return run < o->len && i == m->n && m->term == T_STALL;
}

/* May this read block: something will come within the timeout */
static bool can_block(const struct reader *r, const struct rop *o)
{
	const struct model *m = r->m;

	if (r->expired)
		return true;
	if (r->ui < m->n)
		return !(o && waitall_stalls(r, o));
	if (m->term == T_STALL)
		return false;
	if (is_hdr_term(m->term))
		return !r->tstate || r->fc->end != END_NONE;
	return true;
}

/* ---- doing a read ---- */

/* @n bytes as @niov buffers at random places in rbuf, gaps between */
static size_t make_iov(struct reader *r, const struct rop *o,
		       struct iovec *iov)
{
	size_t left = o->len, at = o->align, piece;
	int i;

	for (i = 0; i < o->niov; i++) {
		piece = i == o->niov - 1 ? left : below(&r->rng, left + 1);
		iov[i].iov_base = rbuf + at;
		iov[i].iov_len = piece;
		at += piece + below(&r->rng, 64);
		left -= piece;
	}
	return o->niov;
}

/* Gather what @n bytes of a read put in @iov into `gathered' */
static void gather_iov(const struct iovec *iov, int niov, size_t n)
{
	size_t at = 0, piece;
	int i;

	for (i = 0; i < niov && at < n; i++) {
		piece = iov[i].iov_len < n - at ? iov[i].iov_len : n - at;
		memcpy(gathered + at, iov[i].iov_base, piece);
		at += piece;
	}
}

static int cmsg_type(struct msghdr *msg)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c))
		if (c->cmsg_level == SOL_TLS &&
		    c->cmsg_type == TLS_GET_RECORD_TYPE)
			return *CMSG_DATA(c);
	return -1;
}

/* recvmsg() into @iov, with a cmsg buffer if @o says so */
static void recv_iov(struct reader *r, const struct rop *o, struct res *s,
		     struct iovec *iov, int niov)
{
	char cbuf[CMSG_SPACE(sizeof(u8)) + 16];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = niov };

	if (o->cmsg) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
	}
	s->n = recvmsg(r->fd, &msg, o->flags);
	s->err = s->n < 0 ? errno : 0;
	s->eor = s->n >= 0 && (msg.msg_flags & MSG_EOR);
	s->type = s->n >= 0 && o->cmsg ? cmsg_type(&msg) : -1;
}

static void do_recvmsg(struct reader *r, const struct rop *o,
		       struct res *s)
{
	struct iovec iov[4];

	recv_iov(r, o, s, iov, make_iov(r, o, iov));
	if (s->n > 0)
		gather_iov(iov, o->niov, s->n);
}

/*
 * recvmsg() into a buffer whose last bytes lie in a PROT_NONE page:
 * the copy faults part way. The read returns the records it copied
 * whole, or EFAULT, and loses nothing: what it could not copy comes
 * again.
 */
static void do_fault(struct reader *r, const struct rop *o, struct res *s)
{
	struct iovec iov = { hole + page_size - o->room, o->len };

	recv_iov(r, o, s, &iov, 1);
	if (s->n > 0 && (size_t)s->n <= o->room)
		memcpy(gathered, iov.iov_base, s->n);
}

static void do_read(struct reader *r, const struct rop *o, struct res *s)
{
	s->n = read(r->fd, rbuf + o->align, o->len);
	s->err = s->n < 0 ? errno : 0;
	if (s->n > 0)
		memcpy(gathered, rbuf + o->align, s->n);
}

/* Take @n bytes out of the pipe; false when they are not all there */
static bool drain_pipe(size_t n)
{
	size_t at = 0;
	ssize_t got;

	while (at < n) {
		got = read(spipe[0], gathered + at, n - at);
		if (got <= 0)
			return false;
		at += got;
	}
	return read(spipe[0], rbuf, 1) < 0 && errno == EAGAIN;
}

static void do_splice(struct reader *r, const struct rop *o, struct res *s)
{
	unsigned int fl = o->flags & MSG_DONTWAIT ? SPLICE_F_NONBLOCK : 0;

	s->n = splice(r->fd, NULL, spipe[1], NULL, o->len, fl);
	s->err = s->n < 0 ? errno : 0;
	if (s->n > 0 && !drain_pipe(s->n)) {
		s->n = -1;
		s->err = EPIPE;	/* reported as the pipe's fault below */
		fail(r, "splice said %zd bytes, the pipe held other", s->n);
	}
}

/* ---- checking a read ---- */

/* The byte the model has at @i of @u (--inject-fault data breaks one) */
static u8 model_byte(const struct reader *r, int ui, size_t i)
{
	const struct unit *u = &r->m->u[ui];

	if (opt_inject == 1 && u->type == T_DATA && i == 0)
		return u->data[0] ^ 1;
	(void)r;
	return u->data[i];
}

static bool same_bytes(struct reader *r, int ui, size_t off,
		       const u8 *got, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (got[i] != model_byte(r, ui, off + i))
			return fail(r, "byte %zu of good record %d is %02x, "
				    "not %02x", off + i, ui, got[i],
				    model_byte(r, ui, off + i));
	return true;
}

/*
 * @n bytes of records of @type from the model's place on: data may run
 * over data records, a control record comes alone. *@ui, *@off: where
 * the model is after them; *@eor: they end a record.
 */
static bool match_bytes(struct reader *r, const u8 *buf, size_t n, int type,
			int *ui, size_t *off, bool *eor)
{
	const struct model *m = r->m;
	size_t got = 0, take;

	while (got < n) {
		if (*ui >= m->n)
			return fail(r, "%zu bytes more than the good records "
				    "hold", n - got);
		if (m->u[*ui].type != type)
			return fail(r, "a read of type %d went on into a "
				    "record of type %d", type, m->u[*ui].type);
		take = m->u[*ui].len - *off;
		take = take < n - got ? take : n - got;
		if (!same_bytes(r, *ui, *off, buf + got, take))
			return false;
		got += take;
		*off += take;
		*eor = *off == m->u[*ui].len;
		if (!*eor)
			continue;
		(*ui)++;
		*off = 0;
		if (type != T_DATA && got < n)
			return fail(r, "a control read returned more than "
				    "its record");
	}
	return true;
}

/* Move the model on; a KeyUpdate read whole means EKEYEXPIRED next */
static void commit(struct reader *r, int ui, size_t off)
{
	if (ui > r->ui && !off && r->m->u[ui - 1].ku)
		r->expired = true;
	r->ui = ui;
	r->off = off;
}

/*
 * A blocking MSG_WAITALL read of data returns short only where the data
 * ends: at a control record, or at the stream's end (a control record
 * is read alone anyway).
 */
static bool check_waitall(struct reader *r, const struct rop *o,
			  const struct res *s, int type, int ui)
{
	const struct model *m = r->m;

	if (!(o->flags & MSG_WAITALL) || type != T_DATA ||
	    o->op == OP_FAULT || (o->flags & (MSG_PEEK | MSG_DONTWAIT)))
		return true;
	if ((size_t)s->n < o->len && ui < m->n && m->u[ui].type == T_DATA)
		return fail(r, "MSG_WAITALL gave %zd of %zu bytes with data "
			    "records still due", s->n, o->len);
	return true;
}

static bool check_data(struct reader *r, const struct rop *o,
		       const struct res *s)
{
	const struct model *m = r->m;
	int type = o->cmsg ? s->type : T_DATA, ui = r->ui;
	size_t off = r->off;
	bool eor = false;
	char due[96];

	if (r->expired || ui >= m->n)
		return fail(r, "%zd bytes, %s due", s->n,
			    what_due(r, due, sizeof(due)));
	if (o->cmsg && s->type < 0)
		return fail(r, "%zd bytes without a record type cmsg", s->n);
	if (type != m->u[ui].type)
		return fail(r, "a record of type %d%s, %s due", type,
			    o->cmsg ? "" : " (no cmsg buffer)",
			    what_due(r, due, sizeof(due)));
	if (!match_bytes(r, gathered, s->n, type, &ui, &off, &eor))
		return false;
	if (o->op != OP_READ && s->eor != eor)
		return fail(r, "MSG_EOR %s, yet the read %s a record",
			    s->eor ? "set" : "not set",
			    eor ? "ends" : "stops inside");
	if ((size_t)s->n < o->len && !eor)
		return fail(r, "%zd of %zu bytes, stopping inside a record",
			    s->n, o->len);
	if (!check_waitall(r, o, s, type, ui))
		return false;
	if (!(o->flags & MSG_PEEK))
		commit(r, ui, off);
	return true;
}

/* 0 bytes with a control record's type: an empty control record */
static bool check_empty_record(struct reader *r, const struct rop *o,
			       const struct res *s)
{
	const struct model *m = r->m;
	char due[96];

	if (r->expired || r->ui >= m->n || m->u[r->ui].len ||
	    m->u[r->ui].type != s->type)
		return fail(r, "an empty record of type %d, %s due", s->type,
			    what_due(r, due, sizeof(due)));
	if (!s->eor)
		return fail(r, "no MSG_EOR on an empty record");
	if (!(o->flags & MSG_PEEK))
		commit(r, r->ui + 1, 0);
	return true;
}

/* May the stream end here, as the model is */
static bool eof_due(const struct reader *r)
{
	if (!at_end(r))
		return false;
	switch (r->m->term) {
	case T_EOF:
		return true;
	case T_RST:
		return r->tstate == 1;
	case T_EMSGSIZE:
	case T_EINVAL:
		/*
		 * With an RST, ECONNRESET may come after the error, or
		 * instead of it, or not at all: sk_err holds one error,
		 * and an RST that came before the reader reached the bad
		 * header has its ECONNRESET overwritten by the header's.
		 */
		return r->tstate && r->fc->end != END_NONE;
	}
	return false;
}

static bool check_eof(struct reader *r, const struct rop *o)
{
	char due[96];

	if (!o->len)
		return true;	/* a 0-byte read returns 0, as on TCP */
	if (!eof_due(r))
		return fail(r, "EOF, %s due", what_due(r, due, sizeof(due)));
	r->eofs++;
	return true;
}

/*
 * An empty data record may be next: a whole record that a read passes
 * over, so that poll()'s POLLIN for it may be followed by EAGAIN.
 */
static bool empty_next(const struct reader *r)
{
	const struct model *m = r->m;

	if (r->off)
		return false;
	return r->ui < m->n ? m->u[r->ui].empty_before : m->empty_at_end;
}

static bool check_eagain(struct reader *r, const struct rop *o)
{
	char due[96];

	if (!(o->flags & MSG_DONTWAIT))
		return fail(r, "hang: a blocking %s timed out after %d ms, %s "
			    "due", op_names[o->op], opt_timeout,
			    what_due(r, due, sizeof(due)));
	if (r->polled_in && !empty_next(r))
		return fail(r, "EAGAIN right after poll() said POLLIN, %s due",
			    what_due(r, due, sizeof(due)));
	if (r->expired)
		return fail(r, "EAGAIN, EKEYEXPIRED due");
	r->last_eagain = true;
	if (!o->settled)
		return true;
	if (quiet(r)) {
		r->quiets++;
		return true;
	}
	return fail(r, "EAGAIN with all the peer's bytes in, %s due",
		    what_due(r, due, sizeof(due)));
}

/* A control record the read cannot take: EIO without a cmsg buffer,
 * EINVAL for splice; it stays where it is */
static bool check_err_head(struct reader *r, const struct rop *o, int err)
{
	const struct unit *u = &r->m->u[r->ui];
	char due[96];

	if (u->type != T_DATA && o->op == OP_SPLICE && err == EINVAL)
		return true;
	if (u->type != T_DATA && !o->cmsg && o->op != OP_SPLICE &&
	    err == EIO)
		return true;
	return fail(r, "%s, %s due", strerror(err),
		    what_due(r, due, sizeof(due)));
}

/* EMSGSIZE or EINVAL once (an RST may take its place), then the end */
static bool check_hdr_err(struct reader *r, int err)
{
	int want = r->m->term == T_EMSGSIZE ? EMSGSIZE : EINVAL;

	if (!r->tstate && err == want) {
		r->tstate = 1;
		r->errs++;
		return true;
	}
	if (r->fc->end == END_RST && r->tstate < 2 && err == ECONNRESET) {
		r->tstate = 2;
		r->errs++;
		return true;
	}
	return false;
}

static bool check_err_term(struct reader *r, int err)
{
	const struct model *m = r->m;
	char due[96];

	switch (m->term) {
	case T_BADMSG:
		if (err == EBADMSG) {
			r->errs++;
			return true;
		}
		break;
	case T_EMSGSIZE:
	case T_EINVAL:
		if (check_hdr_err(r, err))
			return true;
		break;
	case T_RST:
		if (!r->tstate && err == ECONNRESET) {
			r->tstate = 1;
			r->errs++;
			return true;
		}
		break;
	}
	return fail(r, "%s, %s due", strerror(err),
		    what_due(r, due, sizeof(due)));
}

/* EFAULT: a fault read that had a record to copy; nothing moves */
static bool check_efault(struct reader *r, const struct rop *o)
{
	char due[96];

	if (o->op == OP_FAULT && !r->expired && r->ui < r->m->n)
		return true;
	return fail(r, "EFAULT, %s due%s", what_due(r, due, sizeof(due)),
		    o->op == OP_FAULT ? "" : " (the buffer was whole)");
}

static bool check_err(struct reader *r, const struct rop *o, int err)
{
	if (err == EAGAIN)
		return check_eagain(r, o);
	if (err == EFAULT)
		return check_efault(r, o);
	if (!o->len)
		return fail(r, "%s on a 0-byte read", strerror(err));
	if (r->expired)
		return err == EKEYEXPIRED ||
		       fail(r, "%s, EKEYEXPIRED due", strerror(err));
	if (r->ui < r->m->n)
		return check_err_head(r, o, err);
	return check_err_term(r, err);
}

/* splice moves the rest of one data record, or as much as asked */
static bool check_splice(struct reader *r, const struct rop *o,
			 const struct res *s)
{
	const struct model *m = r->m;
	int ui = r->ui;
	size_t off = r->off, want;
	bool eor = false;
	char due[96];

	if (r->expired || ui >= m->n || m->u[ui].type != T_DATA)
		return fail(r, "splice moved %zd bytes, %s due", s->n,
			    what_due(r, due, sizeof(due)));
	want = m->u[ui].len - off;
	want = want < o->len ? want : o->len;
	if ((size_t)s->n != want)
		return fail(r, "splice moved %zd bytes, not %zu", s->n, want);
	if (!match_bytes(r, gathered, s->n, T_DATA, &ui, &off, &eor))
		return false;
	commit(r, ui, off);
	return true;
}

static bool check(struct reader *r, const struct rop *o, const struct res *s)
{
	if (s->n < 0)
		return check_err(r, o, s->err);
	if (s->n == 0 && s->type >= 0)
		return s->type != T_DATA ? check_empty_record(r, o, s) :
		       fail(r, "0 bytes with a data record type");
	if (s->n == 0)
		return check_eof(r, o);
	if (o->op == OP_SPLICE)
		return check_splice(r, o, s);
	if (o->op == OP_FAULT && (size_t)s->n > o->room)
		return fail(r, "%zd bytes into a buffer with room for %zu",
			    s->n, o->room);
	return check_data(r, o, s);
}

/* ---- choosing and running reads ---- */

static u64 stat_ops[OP_COUNT];

/* A length: a byte, the rest of the record or one off it, any, large */
static size_t pick_read_len(struct reader *r)
{
	static const size_t big[] = { 16384, 16385, 32768, 65536 };
	const struct model *m = r->m;
	size_t rest = r->ui < m->n ? m->u[r->ui].len - r->off : 0;
	unsigned int c = below(&r->rng, 100);

	if (c < 10)
		return 1;
	if (c < 30 && rest)
		return rest;
	if (c < 40)
		return rest > 1 && chance(&r->rng, 50) ? rest - 1 : rest + 1;
	if (c < 65)
		return between(&r->rng, 2, 64);
	if (c < 88)
		return between(&r->rng, 65, 20000);
	if (c < 97)
		return big[below(&r->rng, 4)];
	if (c < 99)
		return between(&r->rng, 1, 200000);
	return 0;
}

static struct rop pick_op(struct reader *r)
{
	struct rop o = { .niov = 1 };
	unsigned int c = below(&r->rng, 100);

	o.op = c < 52 ? OP_RECV : c < 63 ? OP_PEEK : c < 70 ? OP_READ :
	       c < 84 ? OP_SPLICE : c < 89 ? OP_FAULT : c < 98 ? OP_POLL :
	       OP_KNOB;
	o.len = pick_read_len(r);
	if (!o.len && o.op != OP_RECV && o.op != OP_PEEK)
		o.len = 1;
	if (o.op == OP_FAULT) {
		o.room = below(&r->rng, o.len < 4096 ? o.len : 4096);
		if (chance(&r->rng, 15))
			o.flags |= MSG_PEEK;
	}
	o.cmsg = (o.op == OP_RECV || o.op == OP_PEEK || o.op == OP_FAULT) &&
		 chance(&r->rng, 85);
	if (o.op == OP_PEEK)
		o.flags |= MSG_PEEK;
	if ((o.op <= OP_PEEK || o.op == OP_FAULT) && chance(&r->rng, 15))
		o.flags |= MSG_WAITALL;
	if (o.op != OP_READ && !r->last_eagain && chance(&r->rng, 20))
		o.flags |= MSG_DONTWAIT;
	if (!can_block(r, &o)) {
		if (o.op == OP_READ)
			o.op = OP_RECV;
		o.flags |= MSG_DONTWAIT;
	}
	if (o.op <= OP_PEEK && chance(&r->rng, 30))
		o.niov = between(&r->rng, 2, 4);
	o.align = below(&r->rng, 4096);
	return o;
}

static bool run_read(struct reader *r, struct rop *o)
{
	struct res s = { .type = -1 };
	bool ok;

	stat_ops[o->op]++;
	o->settled = settled(r);
	if (o->op == OP_READ)
		do_read(r, o, &s);
	else if (o->op == OP_SPLICE)
		do_splice(r, o, &s);
	else if (o->op == OP_FAULT)
		do_fault(r, o, &s);
	else
		do_recvmsg(r, o, &s);
	trace_op(r, o, &s);
	if (r->fail[0])
		return false;
	r->last_eagain = false;
	ok = check(r, o, &s);
	r->polled_in = false;
	return ok;
}

/*
 * No POLLIN with a KeyUpdate read and no keys yet, nor with all read
 * and nothing more to come (but for an empty record a read passes over).
 * @was_settled: the peer was settled before poll() began.
 */
static bool pollin_forbidden(const struct reader *r, bool was_settled)
{
	if (r->fc->end != END_NONE)
		return false;	/* TCP says POLLIN once the peer closed */
	if (r->expired)
		return true;
	return quiet(r) && was_settled && !empty_next(r);
}

/*
 * poll(): when something is due, POLLIN (or POLLERR) within the timeout,
 * then a non-blocking read that must not find nothing; when nothing is,
 * no POLLIN.
 */
static bool run_poll(struct reader *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	bool wait = !r->expired && can_block(r, NULL);
	bool was_settled = settled(r);
	struct rop o;
	char due[96];
	int n;

	stat_ops[OP_POLL]++;
	n = poll(&pfd, 1, wait ? opt_timeout : 0);
	trace(r, "#%d poll%s -> %d revents %#x", r->nops,
	      wait ? " (wait)" : "", n, n > 0 ? pfd.revents : 0);
	if (wait && n <= 0)
		return fail(r, "hang: poll() saw nothing for %d ms, %s due",
			    opt_timeout, what_due(r, due, sizeof(due)));
	if (!wait) {
		if ((pfd.revents & POLLIN) && pollin_forbidden(r, was_settled))
			return fail(r, "POLLIN with nothing to read, %s due",
				    what_due(r, due, sizeof(due)));
		return true;
	}
	r->polled_in = pfd.revents & POLLIN;
	do
		o = pick_op(r);
	while (o.op == OP_POLL || o.op == OP_READ || o.op == OP_KNOB);
	o.flags |= MSG_DONTWAIT;
	return run_read(r, &o);
}

/* TLS_RX with the keys of generation @gen */
static int set_rx(int fd, const struct fcase *fc, int gen)
{
	u8 info[64];
	size_t n = keys_info(&fc->keys[gen], info);

	return setsockopt(fd, SOL_TLS, TLS_RX, info, n);
}

/* Next keys of another cipher, or for TLS 1.2, are refused: EINVAL */
static bool bad_rekey(struct reader *r)
{
	struct keys k = r->fc->keys[r->gen + 1];
	u8 info[64];
	int ret;

	if (chance(&r->rng, 50))
		k.c = &ciphers[k.c == &ciphers[0] ? 1 : 0];
	else
		k.version = TLS_1_2_VERSION;
	ret = setsockopt(r->fd, SOL_TLS, TLS_RX, info, keys_info(&k, info));
	trace(r, "#%d rekey with %s %s -> %s", r->nops, k.c->name,
	      k.version == TLS_1_2_VERSION ? "tls1.2" : "tls1.3",
	      ret ? strerror(errno) : "accepted");
	if (!ret || errno != EINVAL)
		return fail(r, "TLS_RX rekey to %s %s: %s, not EINVAL",
			    k.c->name, k.version == TLS_1_2_VERSION ?
			    "TLS 1.2" : "another cipher",
			    ret ? strerror(errno) : "accepted");
	return true;
}

static bool rekey(struct reader *r)
{
	stat_ops[OP_REKEY]++;
	if (chance(&r->rng, 15) && !bad_rekey(r))
		return false;
	if (set_rx(r->fd, r->fc, r->gen + 1)) {
		trace(r, "#%d rekey -> %s", r->nops, strerror(errno));
		return fail(r, "TLS_RX with the next keys: %s",
			    strerror(errno));
	}
	trace(r, "#%d rekey to generation %d", r->nops, r->gen + 1);
	r->gen++;
	r->expired = false;
	return true;
}

/* After a KeyUpdate: reads (EKEYEXPIRED), poll, then the next keys */
static bool on_expired(struct reader *r)
{
	unsigned int c = below(&r->rng, 100);
	struct rop o;

	if (c < 30) {
		do
			o = pick_op(r);
		while (o.op == OP_POLL || o.op == OP_KNOB);
		return run_read(r, &o);
	}
	if (c < 45)
		return run_poll(r);
	return rekey(r);
}

/*
 * Wait for the peer to be done, before reads that must find nothing. A
 * reader waits in reads, and so does this one (non-blocking, checked):
 * the kernel may need one to take the rest of a partial record out of
 * a full TCP (when it could not allocate where the bytes came in).
 */
static bool await_peer(struct reader *r)
{
	struct rop o = { .op = OP_RECV, .len = 64, .flags = MSG_DONTWAIT,
			 .cmsg = true, .niov = 1 };
	long t0 = now_ms();

	while (!settled(r)) {
		if ((get_flag(&r->p->done) && !get_flag(&r->p->ended)) ||
		    now_ms() - t0 > 3 * opt_timeout)
			return fail(r, "the peer could not send it all: %s",
				    r->p->err[0] ? r->p->err :
				    "its bytes never all came");
		sleep_us(1000);
		if (!run_read(r, &o))
			return false;
	}
	return true;
}

/* Has the stream's end shown enough times, as the model says it must */
static bool reader_done(const struct reader *r)
{
	int end = r->fc->end;

	if (!at_end(r))
		return false;
	switch (r->m->term) {
	case T_BADMSG:
		return r->errs >= 3;
	case T_EOF:
		return r->eofs >= 2;
	case T_RST:
		return r->tstate == 1 && r->eofs >= 1;
	case T_STALL:
		return r->quiets >= 1;
	}
	if (end == END_FIN)
		return r->tstate && r->eofs >= 1;
	if (end == END_RST)
		return r->tstate && r->eofs >= 1;
	return r->tstate && r->quiets >= 1;
}

/*
 * Socket options between reads: a receive buffer shrunk or grown under
 * queued bytes (a partial record may have to leave TCP then),
 * TLS_RX_EXPECT_NO_PAD turned on or off mid-stream, and (TLS 1.2) a
 * second TLS_RX, which must be refused with EBUSY and change nothing.
 */
static bool run_knob(struct reader *r)
{
	int v;

	stat_ops[OP_KNOB]++;
	if (r->fc->version == TLS_1_3_VERSION && chance(&r->rng, 40)) {
		v = below(&r->rng, 2);
		trace(r, "#%d TLS_RX_EXPECT_NO_PAD %d", r->nops, v);
		if (setsockopt(r->fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &v,
			       sizeof(v)))
			return fail(r, "TLS_RX_EXPECT_NO_PAD %d: %s", v,
				    strerror(errno));
		return true;
	}
	if (r->fc->version == TLS_1_2_VERSION && chance(&r->rng, 20)) {
		v = set_rx(r->fd, r->fc, 0);
		trace(r, "#%d TLS_RX again -> %s", r->nops,
		      v ? strerror(errno) : "accepted");
		if (!v || errno != EBUSY)
			return fail(r, "a second TLS_RX under TLS 1.2: %s, not "
				    "EBUSY", v ? strerror(errno) : "accepted");
		return true;
	}
	v = chance(&r->rng, 60) ? between(&r->rng, 1024, 8192) :
				  between(&r->rng, 8193, 262144);
	trace(r, "#%d SO_RCVBUF %d", r->nops, v);
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	return true;
}

/*
 * One step: after a KeyUpdate its own; else a read, a poll or a socket
 * option, now and then after a pause that lets records pile up.
 */
static bool reader_step(struct reader *r)
{
	struct rop o;

	if (r->expired)
		return on_expired(r);
	if (quiet(r) && !await_peer(r))
		return false;
	if (chance(&r->rng, 4))
		sleep_us(below(&r->rng, 3000));
	o = pick_op(r);
	if (o.op == OP_KNOB)
		return run_knob(r);
	return o.op == OP_POLL ? run_poll(r) : run_read(r, &o);
}

static bool reader_run(struct reader *r)
{
	while (!reader_done(r)) {
		if (++r->nops > MAX_OPS)
			return fail(r, "no end after %d reads", MAX_OPS);
		if (!reader_step(r))
			return false;
	}
	return true;
}

/* ---- one case ------------------------------------------------------------ */

static u64 opt_seed = 1;
static int opt_mode = MODE_MIX;

/* How to run case @id of seed @seed alone (the mode draws the cases) */
static void print_replay(u64 seed, u64 id)
{
	printf("  replay: ktls-fuzz --seed %" PRIu64 " --case %" PRIu64 "%s%s"
	       " -v\n", seed, id, opt_mode == MODE_MIX ? "" : " --mode ",
	       opt_mode == MODE_MIX ? "" : mode_names[opt_mode]);
}

/* The socket the reader reads, connected to the peer, ULP attached */
static int open_conn(const struct fcase *fc, struct peer *p)
{
	int fd = fc->mode == MODE_PKT ? pkt_open(p) : sock_open(p);
	struct timeval tv = { opt_timeout / 1000, opt_timeout % 1000 * 1000 };
	struct linger lg = { 1, 0 };

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* closing with an RST leaves no TIME_WAIT behind a case */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (fc->rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &fc->rcvbuf,
			   sizeof(fc->rcvbuf));
	return fd;
}

static bool attach_ulp(struct reader *r)
{
	if (setsockopt(r->fd, IPPROTO_TCP, TCP_ULP, "tls", 4))
		return fail(r, "TCP_ULP tls: %s", strerror(errno));
	return true;
}

static bool set_keys(struct reader *r)
{
	int one = 1;

	if (set_rx(r->fd, r->fc, 0))
		return fail(r, "TLS_RX %s: %s", r->fc->c->name,
			    strerror(errno));
	if (r->fc->no_pad &&
	    setsockopt(r->fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
		       sizeof(one)))
		return fail(r, "TLS_RX_EXPECT_NO_PAD: %s", strerror(errno));
	set_flag(&r->p->keys_set);
	return true;
}

/* Keys set once some bytes are queued: records sent before TLS_RX */
static bool late_keys(struct reader *r)
{
	size_t want = between(&r->rng, 1, r->fc->wire_len);
	long t0 = now_ms();
	int inq = 0;

	while (now_ms() - t0 < 30) {
		if (!ioctl(r->fd, FIONREAD, &inq) && (size_t)inq >= want)
			break;
		sleep_us(1000);
	}
	trace(r, "%sTLS_RX after %d bytes came",
	      r->fc->late_ulp ? "TCP_ULP and " : "", inq);
	if (r->fc->late_ulp && !attach_ulp(r))
		return false;
	return set_keys(r);
}

static bool start_reader(struct reader *r)
{
	if (!r->fc->late_ulp && !attach_ulp(r))
		return false;
	if (!r->fc->late_rx && !set_keys(r))
		return false;
	return true;
}

static void peer_start(struct peer *p)
{
	if (pthread_create(&p->thread, NULL,
			   p->fc->mode == MODE_PKT ? pkt_peer : sock_peer, p))
		die("pthread_create");
}

static void peer_stop(struct peer *p, bool started)
{
	set_flag(&p->stop);
	if (started)
		pthread_join(p->thread, NULL);
	if (p->fd >= 0)
		close(p->fd);
}

/* -v: where each sealed record lies, how it was sealed, what it holds */
static void print_records(const struct fcase *fc)
{
	const struct rec *r;
	int i;

	for (i = 0; i < fc->nrec; i++) {
		r = &fc->recs[i];
		printf("    record %d: bytes %zu-%zu, keys %d, seq %#" PRIx64
		       ", type %d, %zu bytes of content\n", i, r->off,
		       r->off + r->len, r->gen, r->seq, r->type, r->plen);
	}
}

static void print_plan(const struct fcase *fc, const struct model *m)
{
	printf("  plan: %s %s, %d records, %zu bytes, mutation %s (record "
	       "%d)%s, end %s, cut %s (%d writes), mode %s",
	       fc->version == TLS_1_3_VERSION ? "tls1.3" : "tls1.2",
	       fc->c->name, fc->nrec, fc->wire_len, mut_names[fc->mut],
	       fc->victim, fc->trunc_tail ? " + cut tail" : "",
	       end_names[fc->end], cut_names[fc->cut], fc->ncuts,
	       mode_names[fc->mode]);
	if (fc->mode == MODE_PKT)
		printf(" (%d segments)", fc->nsegs);
	printf("%s%s%s", fc->no_pad ? ", no-pad" : "",
	       fc->late_ulp ? ", late TCP_ULP" : "",
	       fc->late_rx ? ", late TLS_RX" : "");
	if (fc->rcvbuf)
		printf(", rcvbuf %d", fc->rcvbuf);
	printf("\n  model: %d good records to read, then %s (the record at "
	       "byte %zu ends it; %zu bytes needed)\n", m->n,
	       term_names[m->term], m->bad_off, m->needed);
	if (opt_verbose)
		print_records(fc);
}

/* TcpExt counters of our namespace that say why TCP dropped bytes */
static void print_drops(void)
{
	static const char *const want[] = { "TCPZeroWindowDrop",
		"TCPRcvQDrop", "TCPOFODrop", "PruneCalled", "RcvPruned",
		"TCPRcvCollapsed", "TCPWantZeroWindowAdv" };
	char names[4096], vals[4096], *n, *v, *sn, *sv;
	FILE *f = fopen("/proc/net/netstat", "r");
	unsigned int i;

	if (!f)
		return;
	printf("  TcpExt:");
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names + 7, " \n", &sn);
		v = strtok_r(vals + 7, " \n", &sv);
		for (; n && v; n = strtok_r(NULL, " \n", &sn),
			       v = strtok_r(NULL, " \n", &sv))
			for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
				if (!strcmp(n, want[i]))
					printf(" %s %s", n, v);
	}
	printf("\n");
	fclose(f);
}

/* The reader's socket as TCP sees it, for a failure's report */
static void print_socket(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	socklen_t len = sizeof(int);
	int inq = -1, rcvbuf = -1;
	struct tcp_info ti;

	if (fd < 0 || !rx_info(fd, &ti))
		return;
	ioctl(fd, SIOCINQ, &inq);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
	poll(&pfd, 1, 0);
	printf("  reader's TCP: state %u, received %" PRIu64 ", in queue %d, "
	       "rcv_mss %u, rcv_wnd %u, rcv_space %u, SO_RCVBUF %d, poll "
	       "%#x\n", ti.tcpi_state, (u64)ti.tcpi_bytes_received, inq,
	       ti.tcpi_rcv_mss, ti.tcpi_rcv_wnd, ti.tcpi_rcv_space, rcvbuf,
	       pfd.revents);
	print_drops();
}

static void report_failure(const struct fcase *fc, const struct model *m,
			   const struct reader *r, const struct peer *p)
{
	int i, first = r->ntrace > TRACE_LINES ? r->ntrace - TRACE_LINES : 0;

	printf("FAIL seed=%" PRIu64 " case=%" PRIu64 ": %s\n", fc->seed,
	       fc->id, r->fail[0] ? r->fail : p->err);
	print_plan(fc, m);
	if (p->err[0])
		printf("  peer: %s\n", p->err);
	print_socket(r->fd);
	printf("  last reads:\n");
	for (i = first; i < r->ntrace; i++)
		printf("    %s\n", r->trace[i % TRACE_LINES]);
	print_replay(fc->seed, fc->id);
	fflush(stdout);
}

/* Watchdog: a case that runs this long hangs somewhere in the kernel */
static volatile long case_deadline;
static volatile u64 case_id;

static bool run_case(struct fcase *fc, const struct model *m)
{
	struct peer p = { .fc = fc, .m = m, .fd = -1, .rfd = -1 };
	struct reader r = { .fc = fc, .m = m, .p = &p };
	bool ok = false, started = false;

	p.rng = stream_seed(fc->seed, fc->id, 3);
	r.rng = stream_seed(fc->seed, fc->id, 2);
	case_deadline = now_ms() + 6L * opt_timeout + 30000;
	case_id = fc->id;
	r.fd = open_conn(fc, &p);
	if (r.fd < 0) {
		fail(&r, "connecting the peer: %s", strerror(errno));
		goto out;
	}
	if (!start_reader(&r))
		goto out;
	p.rfd = r.fd;
	peer_start(&p);
	started = true;
	if (fc->late_rx && !late_keys(&r))
		goto out;
	ok = reader_run(&r);
out:
	set_flag(&p.stop);
	if (started)
		pthread_join(p.thread, NULL);
	started = false;
	ok = ok && !p.err[0];
	if (!ok)
		report_failure(fc, m, &r, &p);
	if (r.fd >= 0)
		close(r.fd);
	peer_stop(&p, started);
	return ok;
}

/* ---- the run -------------------------------------------------------------- */

static struct {
	u64 cases, records, mutated, good, bytes, failures;
	u64 mut[M_COUNT], term[T_COUNT], mode[2], mode_ms[2], tls13;
} stat;

static void count_case(const struct fcase *fc, const struct model *m)
{
	stat.cases++;
	stat.records += fc->nrec;
	stat.mutated += fc->mutated;
	stat.good += m->n;
	stat.bytes += fc->wire_len;
	stat.mut[fc->mut]++;
	stat.term[m->term]++;
	stat.mode[fc->mode]++;
	stat.tls13 += fc->version == TLS_1_3_VERSION;
}

static void print_counts(const char *title, const char *const *names,
			 const u64 *n, int count)
{
	int i;

	printf("%s:", title);
	for (i = 0; i < count; i++)
		printf(" %s %" PRIu64 "%s", names[i], n[i],
		       i + 1 < count ? "," : "");
	printf("\n");
}

static void print_stats(long ms)
{
	double secs = ms > 0 ? ms / 1000.0 : 0.001;

	printf("cases %" PRIu64 " (sock %" PRIu64 ", pkt %" PRIu64 ", TLS 1.3 "
	       "%" PRIu64 "), good records read %" PRIu64 ", records corrupted "
	       "%" PRIu64 ", %" PRIu64 " bytes, %.0f s\n", stat.cases,
	       stat.mode[MODE_SOCK], stat.mode[MODE_PKT], stat.tls13,
	       stat.good, stat.mutated, stat.bytes, secs);
	printf("ms per case: sock %.1f, pkt %.1f\n",
	       stat.mode_ms[0] / (stat.mode[0] ? (double)stat.mode[0] : 1),
	       stat.mode_ms[1] / (stat.mode[1] ? (double)stat.mode[1] : 1));
	print_counts("mutations", mut_names, stat.mut, M_COUNT);
	print_counts("ends", term_names, stat.term, T_COUNT);
	print_counts("reads", op_names, stat_ops, OP_COUNT);
	printf("records %" PRIu64 ", failures %" PRIu64 ", records/s %.1f\n",
	       stat.records, stat.failures, stat.records / secs);
}

static void *watchdog(void *arg)
{
	int fd;

	(void)arg;
	for (;;) {
		sleep(1);
		if (!case_deadline || now_ms() < case_deadline)
			continue;
		printf("FAIL seed=%" PRIu64 " case=%" PRIu64 ": hang: the case "
		       "ran past its watchdog\n", opt_seed, case_id);
		print_replay(opt_seed, case_id);
		fflush(stdout);
		/* the blocked tasks' stacks, for the console log */
		fd = open("/proc/sysrq-trigger", O_WRONLY);
		if (fd >= 0 && write(fd, "w", 1) == 1)
			sleep(2);
		_exit(3);
	}
	return NULL;
}

/* Without the ULP every case would quietly test plain TCP */
static void check_ulp(void)
{
	char buf[256] = { 0 }, *tok, *save;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");

	if (!f || !fgets(buf, sizeof(buf), f))
		die("cannot read tcp_available_ulp");
	fclose(f);
	for (tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		if (!strcmp(tok, "tls"))
			return;
	die("the \"tls\" ULP is not registered (tcp_available_ulp: %s)", buf);
}

static void setup(int mode)
{
	pthread_t wd;

	check_ulp();
	signal(SIGPIPE, SIG_IGN);
	netns();
	sock_setup();
	if (mode != MODE_SOCK)
		pkt_setup();
	if (pipe2(spipe, O_NONBLOCK))
		die("pipe: %s", strerror(errno));
	page_size = sysconf(_SC_PAGESIZE);
	hole = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED || mprotect(hole + page_size, page_size,
					   PROT_NONE))
		die("mmap: %s", strerror(errno));
	fcntl(spipe[1], F_SETFL, 0);
	if (pthread_create(&wd, NULL, watchdog, NULL))
		die("pthread_create");
}

struct options {
	u64 records, cases, first, repeat;
	bool one, dry;
	int mode, max_fail;
};

static void usage(void)
{
	die("usage: ktls-fuzz [--seed S] [--records N | --cases N | --case N "
	    "[--repeat K]] "
	    "[--mode sock|pkt|mix] [--timeout MS] [--max-fail N] "
	    "[--inject-fault data|errno] [--dry-run] "
	    "[-v]");
}

static u64 num_arg(const char *s)
{
	char *end;
	u64 v;

	errno = 0;
	v = strtoull(s ? s : "", &end, 0);
	if (!s || errno || *end || end == s)
		usage();
	return v;
}

static int mode_arg(const char *s)
{
	int i;

	for (i = 0; s && i < 3; i++)
		if (!strcmp(s, mode_names[i]))
			return i;
	usage();
	return 0;
}

static int inject_arg(const char *s)
{
	if (s && !strcmp(s, "data"))
		return 1;
	if (s && !strcmp(s, "errno"))
		return 2;
	usage();
	return 0;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-v") || !strcmp(a, "--dry-run")) {
			opt_verbose |= a[1] == 'v';
			o->dry |= a[1] == '-';
			continue;
		}
		i++;
		if (!strcmp(a, "--seed"))
			opt_seed = num_arg(v);
		else if (!strcmp(a, "--records"))
			o->records = num_arg(v);
		else if (!strcmp(a, "--cases"))
			o->cases = num_arg(v);
		else if (!strcmp(a, "--case"))
			o->first = num_arg(v), o->one = true;
		else if (!strcmp(a, "--repeat"))
			o->repeat = num_arg(v);
		else if (!strcmp(a, "--mode"))
			o->mode = opt_mode = mode_arg(v);
		else if (!strcmp(a, "--timeout"))
			opt_timeout = num_arg(v);
		else if (!strcmp(a, "--max-fail"))
			o->max_fail = num_arg(v);
		else if (!strcmp(a, "--inject-fault"))
			opt_inject = inject_arg(v);
		else
			usage();
	}
	if (opt_timeout < 100)
		usage();
}

/* Is the run over: cases or records done, or too many failures */
static bool run_over(const struct options *o, u64 ran)
{
	if (o->one)
		return ran >= (o->repeat ? o->repeat : 1);
	if (stat.failures >= (u64)o->max_fail)
		return true;
	if (o->cases)
		return ran >= o->cases;
	return stat.records >= o->records;
}

int main(int argc, char **argv)
{
	struct options o = { .records = 2000, .mode = MODE_MIX, .max_fail = 20 };
	struct fcase *fc = xzalloc(sizeof(*fc));
	struct model *m = xzalloc(sizeof(*m));
	long t0, tc;
	u64 ran;

	/* a line at a time: a crash or the watchdog loses nothing */
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv, &o);
	ciphers_init();
	gf_init();
	selftest_aead();
	if (o.dry)
		opt_verbose = 1;
	else
		setup(o.mode);
	printf("ktls-fuzz: seed %" PRIu64 ", mode %s, timeout %d ms%s\n",
	       opt_seed, mode_names[o.mode], opt_timeout,
	       opt_inject ? ", fault injected in the checker" : "");
	t0 = now_ms();
	for (ran = 0; !run_over(&o, ran); ran++) {
		gen_case(fc, m, opt_seed, o.first + (o.one ? 0 : ran), o.mode);
		if (opt_verbose) {
			printf("case %" PRIu64 ":\n", fc->id);
			print_plan(fc, m);
		}
		count_case(fc, m);
		tc = now_ms();
		if (!o.dry && !run_case(fc, m))
			stat.failures++;
		stat.mode_ms[fc->mode] += now_ms() - tc;
	}
	case_deadline = 0;
	print_stats(now_ms() - t0);
	return stat.failures ? 1 : 0;
}
