// SPDX-License-Identifier: GPL-2.0
/*
 * The kTLS software transmit path, checked on the wire.
 *
 * The sender is a TCP socket with the "tls" ULP and TLS_TX keys; the
 * receiver is a plain TCP socket. The test reads the raw byte stream,
 * splits it into TLS records and opens each one in user space with
 * OpenSSL, so every record boundary, content type, sequence number,
 * nonce and authentication tag the kernel produced is checked against
 * RFC 5246, 5288, 6655, 7905 and 8446 rather than against the kernel's
 * own receive path.
 *
 * Known answers: kat_rfc8448_tls13_aes_gcm_128 is the "{client} send
 * application_data record" of RFC 8448 section 3; kat_tls12_aes_gcm_128
 * was computed by tx_vectors.py (see there for the command).
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tls.h>
#include <linux/types.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../../kselftest_harness.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define TLS12 TLS_1_2_VERSION
#define TLS13 TLS_1_3_VERSION

#define HDR_LEN		5
#define TAG_LEN		16
#define NONCE_LEN	12
#define EXPLICIT_LEN	8
#define MAX_PLAIN	16384
/* Largest record body we accept to read: the plaintext plus any overhead. */
#define MAX_BODY	(MAX_PLAIN + 256)

#define TYPE_ALERT	21
#define TYPE_HANDSHAKE	22
#define TYPE_DATA	23

/* Receive buffer for the data tests: large enough to take every byte
 * a test sends without reading, so no test depends on read/send order.
 */
#define BIG_RCVBUF	(1024 * 1024)
/* Buffers of the flow control tests: small, so they fill quickly. */
#define SMALL_BUF	16384

enum aead_mode { MODE_GCM, MODE_CCM, MODE_CHACHA };

struct cipher {
	__u16 id;
	const char *name;
	enum aead_mode mode;
	unsigned int key_len;
	unsigned int salt_len;
	unsigned int iv_len;
	unsigned int info_len;	/* the uAPI struct's size: TLS_TX optlen */
	const char *evp;	/* the OpenSSL AEAD that opens its records */
	const char *block;	/* or, when evp is NULL, our GCM/CCM on this */
};

/*
 * Debian's OpenSSL 3.0 has the SM4 block cipher but neither SM4-GCM nor
 * SM4-CCM, and the test kernels are built without AF_ALG's AEAD
 * interface (CRYPTO_USER_API_AEAD), so SM4 records are opened by the
 * GCM and CCM modes below (NIST SP 800-38D and 800-38C) on top of
 * OpenSSL's SM4-ECB. soft_aead_selftest checks those modes against
 * RFC 8998's SM4 vectors and against OpenSSL's AES-GCM and AES-CCM.
 */
static const struct cipher ciphers[] = {
	{
		.id = TLS_CIPHER_AES_GCM_128, .name = "aes-gcm-128",
		.mode = MODE_GCM, .key_len = 16, .salt_len = 4, .iv_len = 8,
		.info_len = sizeof(struct tls12_crypto_info_aes_gcm_128),
		.evp = "AES-128-GCM",
	},
	{
		.id = TLS_CIPHER_AES_GCM_256, .name = "aes-gcm-256",
		.mode = MODE_GCM, .key_len = 32, .salt_len = 4, .iv_len = 8,
		.info_len = sizeof(struct tls12_crypto_info_aes_gcm_256),
		.evp = "AES-256-GCM",
	},
	{
		.id = TLS_CIPHER_AES_CCM_128, .name = "aes-ccm-128",
		.mode = MODE_CCM, .key_len = 16, .salt_len = 4, .iv_len = 8,
		.info_len = sizeof(struct tls12_crypto_info_aes_ccm_128),
		.evp = "AES-128-CCM",
	},
	{
		.id = TLS_CIPHER_CHACHA20_POLY1305, .name = "chacha20-poly1305",
		.mode = MODE_CHACHA, .key_len = 32, .salt_len = 0, .iv_len = 12,
		.info_len = sizeof(struct tls12_crypto_info_chacha20_poly1305),
		.evp = "ChaCha20-Poly1305",
	},
	{
		.id = TLS_CIPHER_SM4_GCM, .name = "sm4-gcm",
		.mode = MODE_GCM, .key_len = 16, .salt_len = 4, .iv_len = 8,
		.info_len = sizeof(struct tls12_crypto_info_sm4_gcm),
		.block = "SM4-ECB",
	},
	{
		.id = TLS_CIPHER_SM4_CCM, .name = "sm4-ccm",
		.mode = MODE_CCM, .key_len = 16, .salt_len = 4, .iv_len = 8,
		.info_len = sizeof(struct tls12_crypto_info_sm4_ccm),
		.block = "SM4-ECB",
	},
	{
		.id = TLS_CIPHER_ARIA_GCM_128, .name = "aria-gcm-128",
		.mode = MODE_GCM, .key_len = 16, .salt_len = 4, .iv_len = 8,
		.info_len = sizeof(struct tls12_crypto_info_aria_gcm_128),
		.evp = "ARIA-128-GCM",
	},
	{
		.id = TLS_CIPHER_ARIA_GCM_256, .name = "aria-gcm-256",
		.mode = MODE_GCM, .key_len = 32, .salt_len = 4, .iv_len = 8,
		.info_len = sizeof(struct tls12_crypto_info_aria_gcm_256),
		.evp = "ARIA-256-GCM",
	},
};

static const struct cipher *find_cipher(__u16 id)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ciphers); i++)
		if (ciphers[i].id == id)
			return &ciphers[i];
	return NULL;
}

/* One direction's keys, as user space hands them to TLS_TX. */
struct tls_keys {
	__u16 version;
	const struct cipher *c;
	unsigned char key[32];
	unsigned char salt[4];
	unsigned char iv[12];
	unsigned char rec_seq[8];
};

static __u64 get_be64(const unsigned char *p)
{
	__u64 v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be64(unsigned char *p, __u64 v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

/* The TLS_TX optval: header, then iv, key, salt, rec_seq (uAPI order). */
static size_t pack_info(const struct tls_keys *k, unsigned char *buf)
{
	struct tls_crypto_info hdr = {
		.version = k->version,
		.cipher_type = k->c->id,
	};
	unsigned char *p = buf;

	memcpy(p, &hdr, sizeof(hdr));
	p += sizeof(hdr);
	memcpy(p, k->iv, k->c->iv_len);
	p += k->c->iv_len;
	memcpy(p, k->key, k->c->key_len);
	p += k->c->key_len;
	memcpy(p, k->salt, k->c->salt_len);
	p += k->c->salt_len;
	memcpy(p, k->rec_seq, sizeof(k->rec_seq));
	p += sizeof(k->rec_seq);
	return p - buf;
}

/*
 * Distinct keys per cipher. The iv differs from rec_seq, and both sit
 * just below a byte boundary, so a kernel that uses one in place of the
 * other, or increments them as anything but 64-bit big-endian numbers,
 * produces records that do not open within the first few records.
 */
static void make_keys(struct tls_keys *k, __u16 version, __u16 cipher)
{
	static const unsigned char iv8[8] = {
		0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff, 0xfe,
	};
	static const unsigned char seq[8] = {
		0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xfd,
	};
	static const unsigned char salt[4] = { 0x5a, 0x17, 0xc0, 0xde };
	unsigned int i;

	memset(k, 0, sizeof(*k));
	k->version = version;
	k->c = find_cipher(cipher);
	for (i = 0; i < sizeof(k->key); i++)
		k->key[i] = 0x40 + 3 * i + cipher;
	if (k->c->iv_len == sizeof(iv8)) {
		memcpy(k->iv, iv8, sizeof(iv8));
		memcpy(k->salt, salt, sizeof(salt));
	} else {
		for (i = 0; i < sizeof(k->iv); i++)
			k->iv[i] = 0x90 + i;
		k->iv[sizeof(k->iv) - 1] = 0xfe;
	}
	memcpy(k->rec_seq, seq, sizeof(seq));
}

/* ---- AEAD opening --------------------------------------------------- */

static bool evp_open(const struct cipher *c, const unsigned char *key,
		     const unsigned char *nonce, const unsigned char *aad,
		     size_t aad_len, const unsigned char *in, size_t len,
		     const unsigned char *tag, unsigned char *out)
{
	const EVP_CIPHER *alg = EVP_get_cipherbyname(c->evp);
	bool ccm = c->mode == MODE_CCM;
	EVP_CIPHER_CTX *ctx;
	int n, ok;

	if (!alg)
		return false;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return false;
	/* CCM wants the tag and the message length before the AAD. */
	ok = EVP_DecryptInit_ex(ctx, alg, NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, NONCE_LEN,
				 NULL) &&
	     (!ccm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
					  (void *)tag)) &&
	     EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) &&
	     (!ccm || EVP_DecryptUpdate(ctx, NULL, &n, NULL, len)) &&
	     EVP_DecryptUpdate(ctx, NULL, &n, aad, aad_len) &&
	     EVP_DecryptUpdate(ctx, out, &n, in, len) &&
	     (ccm || (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
					  (void *)tag) &&
		      EVP_DecryptFinal_ex(ctx, out + n, &n)));
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* Encrypts one 16-byte block with the ECB context. */
static void block_encrypt(EVP_CIPHER_CTX *ecb, const unsigned char *in,
			  unsigned char *out)
{
	int n;

	EVP_EncryptUpdate(ecb, out, &n, in, 16);
}

/* x = x * h in GF(2^128), bit-reflected as SP 800-38D section 6.3 says. */
static void gf128_mul(unsigned char *x, const unsigned char *h)
{
	__u64 vh = get_be64(h), vl = get_be64(h + 8), zh = 0, zl = 0;
	__u64 lsb;
	int i;

	for (i = 0; i < 128; i++) {
		if (x[i / 8] & (0x80 >> (i % 8))) {
			zh ^= vh;
			zl ^= vl;
		}
		lsb = vl & 1;
		vl = vl >> 1 | vh << 63;
		vh >>= 1;
		if (lsb)
			vh ^= 0xe100000000000000ULL;
	}
	put_be64(x, zh);
	put_be64(x + 8, zl);
}

/* Folds @p, zero-padded to whole blocks, into GHASH state @y. */
static void ghash(unsigned char *y, const unsigned char *h,
		  const unsigned char *p, size_t len)
{
	size_t i, n;

	for (; len; p += n, len -= n) {
		n = len < 16 ? len : 16;
		for (i = 0; i < n; i++)
			y[i] ^= p[i];
		gf128_mul(y, h);
	}
}

/* Folds @p, zero-padded to whole blocks, into CBC-MAC state @x. */
static void cbc_mac(EVP_CIPHER_CTX *ecb, unsigned char *x,
		    const unsigned char *p, size_t len)
{
	size_t i, n;

	for (; len; p += n, len -= n) {
		n = len < 16 ? len : 16;
		for (i = 0; i < n; i++)
			x[i] ^= p[i];
		block_encrypt(ecb, x, x);
	}
}

/*
 * Counter mode: @ctr is the first counter block; its last @width bytes
 * count, big-endian (4 for GCM's inc32, 3 for CCM with a 12-byte nonce).
 */
static void ctr_crypt(EVP_CIPHER_CTX *ecb, unsigned char *ctr, int width,
		      const unsigned char *in, size_t len, unsigned char *out)
{
	unsigned char ks[16];
	size_t i, n;
	int b;

	for (; len; in += n, out += n, len -= n) {
		n = len < 16 ? len : 16;
		block_encrypt(ecb, ctr, ks);
		for (i = 0; i < n; i++)
			out[i] = in[i] ^ ks[i];
		for (b = 15; b >= 16 - width && !++ctr[b]; b--)
			;
	}
}

static bool soft_gcm_open(EVP_CIPHER_CTX *ecb, const unsigned char *nonce,
			  const unsigned char *aad, size_t aad_len,
			  const unsigned char *in, size_t len,
			  const unsigned char *tag, unsigned char *out)
{
	unsigned char h[16] = {}, j0[16] = {}, y[16] = {}, lens[16];
	unsigned char ctr[16], s[16];
	int i;

	block_encrypt(ecb, h, h);
	memcpy(j0, nonce, NONCE_LEN);
	j0[15] = 1;
	ghash(y, h, aad, aad_len);
	ghash(y, h, in, len);
	put_be64(lens, (__u64)aad_len * 8);
	put_be64(lens + 8, (__u64)len * 8);
	ghash(y, h, lens, 16);
	block_encrypt(ecb, j0, s);
	for (i = 0; i < 16; i++)
		y[i] ^= s[i];
	memcpy(ctr, j0, 16);
	ctr[15] = 2;
	ctr_crypt(ecb, ctr, 4, in, len, out);
	return !CRYPTO_memcmp(y, tag, TAG_LEN);
}

static bool soft_ccm_open(EVP_CIPHER_CTX *ecb, const unsigned char *nonce,
			  const unsigned char *aad, size_t aad_len,
			  const unsigned char *in, size_t len,
			  const unsigned char *tag, unsigned char *out)
{
	/* 12-byte nonce: L = 3 length bytes; 16-byte tag: M' = 7. */
	unsigned char a[16] = {}, x[16] = {}, b0[16] = {}, s[16];
	unsigned char adata[64];
	int i;

	if (aad_len + 2 > sizeof(adata))
		return false;
	a[0] = 2;
	memcpy(a + 1, nonce, NONCE_LEN);
	block_encrypt(ecb, a, s);
	a[15] = 1;
	ctr_crypt(ecb, a, 3, in, len, out);

	b0[0] = (aad_len ? 0x40 : 0) | ((TAG_LEN - 2) / 2) << 3 | 2;
	memcpy(b0 + 1, nonce, NONCE_LEN);
	b0[13] = len >> 16;
	b0[14] = len >> 8;
	b0[15] = len;
	cbc_mac(ecb, x, b0, 16);
	if (aad_len) {
		adata[0] = aad_len >> 8;
		adata[1] = aad_len;
		memcpy(adata + 2, aad, aad_len);
		cbc_mac(ecb, x, adata, aad_len + 2);
	}
	cbc_mac(ecb, x, out, len);
	for (i = 0; i < 16; i++)
		x[i] ^= s[i];
	return !CRYPTO_memcmp(x, tag, TAG_LEN);
}

/* GCM or CCM over the ECB block cipher @block. */
static bool soft_open(const char *block, enum aead_mode mode,
		      const unsigned char *key, const unsigned char *nonce,
		      const unsigned char *aad, size_t aad_len,
		      const unsigned char *in, size_t len,
		      const unsigned char *tag, unsigned char *out)
{
	const EVP_CIPHER *alg = EVP_get_cipherbyname(block);
	EVP_CIPHER_CTX *ecb;
	bool ok = false;

	if (!alg)
		return false;
	ecb = EVP_CIPHER_CTX_new();
	if (ecb && EVP_EncryptInit_ex(ecb, alg, NULL, key, NULL) &&
	    EVP_CIPHER_CTX_set_padding(ecb, 0)) {
		if (mode == MODE_GCM)
			ok = soft_gcm_open(ecb, nonce, aad, aad_len, in, len,
					   tag, out);
		else
			ok = soft_ccm_open(ecb, nonce, aad, aad_len, in, len,
					   tag, out);
	}
	EVP_CIPHER_CTX_free(ecb);
	return ok;
}

/* Authenticates and decrypts @len bytes; the tag follows them. */
static bool aead_open(const struct cipher *c, const unsigned char *key,
		      const unsigned char *nonce, const unsigned char *aad,
		      size_t aad_len, const unsigned char *in, size_t len,
		      unsigned char *out)
{
	if (c->evp)
		return evp_open(c, key, nonce, aad, aad_len, in, len,
				in + len, out);
	return soft_open(c->block, c->mode, key, nonce, aad, aad_len, in, len,
			 in + len, out);
}

/* ---- the receiving end ---------------------------------------------- */

/* A plain TCP socket and what it needs to open the sender's records. */
struct peer {
	int fd;
	struct tls_keys k;
	__u64 seq;		/* sequence number of the next record */
	__u64 explicit_nonce;	/* TLS 1.2 AEAD: the next explicit nonce */
};

struct record {
	unsigned char type;	/* the content type the sender chose */
	size_t len;		/* plaintext bytes in data */
	unsigned char data[MAX_BODY];
};

static void peer_init(struct peer *p, int fd, const struct tls_keys *k)
{
	p->fd = fd;
	p->k = *k;
	p->seq = get_be64(k->rec_seq);
	p->explicit_nonce = get_be64(k->iv);
}

/* RFC 5288: TLS 1.2 GCM and CCM carry 8 bytes of nonce in each record. */
static bool has_explicit_nonce(const struct tls_keys *k)
{
	return k->version == TLS12 && k->c->mode != MODE_CHACHA;
}

/* Bytes a record adds to its plaintext on the wire, header excluded. */
static size_t record_overhead(const struct tls_keys *k)
{
	if (has_explicit_nonce(k))
		return EXPLICIT_LEN + TAG_LEN;
	if (k->version == TLS13)
		return 1 + TAG_LEN;
	return TAG_LEN;
}

/* RFC 7905 / RFC 8446 5.3: the static iv XOR the padded sequence number. */
static void xor_nonce(const struct tls_keys *k, __u64 seq,
		      unsigned char *nonce)
{
	unsigned char padded[NONCE_LEN] = {};
	int i;

	memcpy(nonce, k->salt, k->c->salt_len);
	memcpy(nonce + k->c->salt_len, k->iv, k->c->iv_len);
	put_be64(padded + 4, seq);
	for (i = 0; i < NONCE_LEN; i++)
		nonce[i] ^= padded[i];
}

/* Reads exactly @len bytes: a stream that ends or stalls early fails. */
static void read_exact(struct __test_metadata *_metadata, int fd,
		       unsigned char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, buf + got, len - got, 0);
		ASSERT_GT(n, 0) TH_LOG("read %zu of %zu bytes, then: %s", got,
				       len, n ? strerror(errno) : "EOF");
		got += n;
	}
}

/*
 * Opens one record body. TLS 1.2 (RFC 5246 6.2.3.3): AAD = seq || type
 * || version || plaintext length. TLS 1.3 (RFC 8446 5.2): AAD = the
 * record header, and the inner plaintext ends with the real type.
 */
static void open_record(struct __test_metadata *_metadata, struct peer *p,
			const unsigned char *hdr, const unsigned char *body,
			size_t len, struct record *r)
{
	const struct tls_keys *k = &p->k;
	unsigned char nonce[NONCE_LEN], aad[13];
	size_t aad_len = 13, ct_len = len - TAG_LEN;
	const unsigned char *ct = body;

	if (has_explicit_nonce(k)) {
		ASSERT_EQ(get_be64(body), p->explicit_nonce)
			TH_LOG("explicit nonce of record seq %llu",
			       (unsigned long long)p->seq);
		memcpy(nonce, k->salt, k->c->salt_len);
		memcpy(nonce + k->c->salt_len, body, EXPLICIT_LEN);
		ct += EXPLICIT_LEN;
		ct_len -= EXPLICIT_LEN;
	} else {
		xor_nonce(k, p->seq, nonce);
	}
	if (k->version == TLS13) {
		memcpy(aad, hdr, HDR_LEN);
		aad_len = HDR_LEN;
	} else {
		put_be64(aad, p->seq);
		aad[8] = hdr[0];
		aad[9] = 3;
		aad[10] = 3;
		aad[11] = ct_len >> 8;
		aad[12] = ct_len & 0xff;
	}
	ASSERT_TRUE(aead_open(k->c, k->key, nonce, aad, aad_len, ct, ct_len,
			      r->data))
		TH_LOG("record seq %llu (%zu bytes) does not authenticate",
		       (unsigned long long)p->seq, len);
	r->type = hdr[0];
	r->len = ct_len;
	if (k->version == TLS13) {
		/* kTLS pads nothing: the last byte is the real type. */
		ASSERT_EQ(hdr[0], TYPE_DATA);
		ASSERT_GT(ct_len, 0);
		r->type = r->data[ct_len - 1];
		r->len = ct_len - 1;
		ASSERT_NE(r->type, 0) TH_LOG("padded TLS 1.3 record");
	}
	p->seq++;
	p->explicit_nonce++;
}

/* Reads, checks and opens the next record on the wire. */
static void read_record(struct __test_metadata *_metadata, struct peer *p,
			struct record *r)
{
	size_t overhead = record_overhead(&p->k), len;
	unsigned char hdr[HDR_LEN];
	unsigned char *body;

	read_exact(_metadata, p->fd, hdr, HDR_LEN);
	ASSERT_EQ(hdr[1], 3);
	ASSERT_EQ(hdr[2], 3);
	len = hdr[3] << 8 | hdr[4];
	ASSERT_GT(len, overhead) TH_LOG("record of %zu bytes", len);
	ASSERT_LE(len, MAX_PLAIN + overhead)
		TH_LOG("record of %zu bytes: plaintext over 2^14", len);
	body = malloc(len);
	ASSERT_TRUE(!!body);
	read_exact(_metadata, p->fd, body, len);
	open_record(_metadata, p, hdr, body, len, r);
	free(body);
}

/* The next record is of @type and holds exactly @data. */
static void expect_record(struct __test_metadata *_metadata, struct peer *p,
			  unsigned char type, const void *data, size_t len)
{
	struct record r;

	read_record(_metadata, p, &r);
	ASSERT_EQ(r.type, type);
	ASSERT_EQ(r.len, len);
	ASSERT_EQ(memcmp(r.data, data, len), 0);
}

/*
 * The records of one send() or one sendfile() without MSG_MORE: full
 * records, then one record with the rest.
 */
static void expect_records(struct __test_metadata *_metadata, struct peer *p,
			   unsigned char type, const unsigned char *data,
			   size_t len)
{
	size_t n;

	for (; len; data += n, len -= n) {
		n = len < MAX_PLAIN ? len : MAX_PLAIN;
		expect_record(_metadata, p, type, data, n);
	}
}

/* Nothing arrives for a while: the sender holds its open record. */
static void expect_quiet(struct __test_metadata *_metadata, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ASSERT_EQ(poll(&pfd, 1, 200), 0) TH_LOG("data arrived");
}

static void expect_eof(struct __test_metadata *_metadata, int fd)
{
	char c;

	ASSERT_EQ(recv(fd, &c, 1, 0), 0) TH_LOG("no EOF");
}

/* ---- sockets -------------------------------------------------------- */

/* A deterministic, non-periodic byte pattern. */
static void fill(unsigned char *buf, size_t len, __u32 seed)
{
	__u32 x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = x >> 24;
	}
}

/* Without the ULP, tls.c-style tests would quietly test plain TCP. */
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

/*
 * A connected loopback pair. @rcvbuf is set on the listener, so the
 * accepted socket starts with it (and its window follows); @sndbuf on
 * the connecting socket. 0 keeps the default.
 */
static void tcp_pair(struct __test_metadata *_metadata, int rcvbuf,
		     int sndbuf, int *tx, int *rx)
{
	struct timeval tv = { .tv_sec = 10 };
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(addr);
	int lfd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(lfd, 0);
	if (rcvbuf)
		ASSERT_EQ(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				     sizeof(rcvbuf)), 0);
	ASSERT_EQ(bind(lfd, (struct sockaddr *)&addr, len), 0);
	ASSERT_EQ(listen(lfd, 1), 0);
	ASSERT_EQ(getsockname(lfd, (struct sockaddr *)&addr, &len), 0);
	*tx = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(*tx, 0);
	if (sndbuf)
		ASSERT_EQ(setsockopt(*tx, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				     sizeof(sndbuf)), 0);
	ASSERT_EQ(connect(*tx, (struct sockaddr *)&addr, len), 0);
	*rx = accept(lfd, NULL, NULL);
	ASSERT_GE(*rx, 0);
	close(lfd);
	/* A record that never comes fails in 10 s, not at the timeout. */
	ASSERT_EQ(setsockopt(*rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
		  0);
}

static void attach_tls(struct __test_metadata *_metadata, int fd)
{
	ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 4), 0)
		TH_LOG("TCP_ULP tls: %s", strerror(errno));
}

static int set_tx(int fd, const struct tls_keys *k)
{
	unsigned char info[64];
	size_t len = pack_info(k, info);

	return setsockopt(fd, SOL_TLS, TLS_TX, info, len);
}

/* A pair whose sending end has TLS_TX set to @k. */
static void tls_pair(struct __test_metadata *_metadata, int rcvbuf,
		     int sndbuf, const struct tls_keys *k, int *tx,
		     struct peer *p)
{
	int rx;

	tcp_pair(_metadata, rcvbuf, sndbuf, tx, &rx);
	attach_tls(_metadata, *tx);
	ASSERT_EQ(set_tx(*tx, k), 0) TH_LOG("TLS_TX %s: %s", k->c->name,
					    strerror(errno));
	peer_init(p, rx, k);
}

static ssize_t send_typed(int fd, unsigned char type, const void *data,
			  size_t len, int flags)
{
	char cbuf[CMSG_SPACE(1)] = {};
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cmsg) = type;
	return sendmsg(fd, &msg, flags);
}

static long read_tls_stat(struct __test_metadata *_metadata, const char *name)
{
	char key[64];
	long val;
	FILE *f;

	f = fopen("/proc/net/tls_stat", "r");
	ASSERT_TRUE(!!f) TH_LOG("/proc/net/tls_stat: %s", strerror(errno));
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	ASSERT_TRUE(false) TH_LOG("no %s in /proc/net/tls_stat", name);
	return -1;
}

/* ---- tests without a fixture ---------------------------------------- */

/* First: every test below needs the ULP; its absence fails, never skips. */
TEST(ulp_registered)
{
	expect_ulp_registered(_metadata);
}

/* The uAPI structs have the sizes the contract gives for TLS_TX. */
TEST(crypto_info_sizes)
{
	static const unsigned int want[][2] = {
		{ TLS_CIPHER_AES_GCM_128, 40 },
		{ TLS_CIPHER_AES_GCM_256, 56 },
		{ TLS_CIPHER_AES_CCM_128, 40 },
		{ TLS_CIPHER_CHACHA20_POLY1305, 56 },
		{ TLS_CIPHER_SM4_GCM, 40 },
		{ TLS_CIPHER_SM4_CCM, 40 },
		{ TLS_CIPHER_ARIA_GCM_128, 40 },
		{ TLS_CIPHER_ARIA_GCM_256, 56 },
	};
	unsigned char buf[64];
	struct tls_keys k;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(want); i++) {
		make_keys(&k, TLS12, want[i][0]);
		EXPECT_EQ(k.c->info_len, want[i][1]);
		EXPECT_EQ(pack_info(&k, buf), want[i][1]);
	}
}

/*
 * Our GCM and CCM (used for SM4) must be right, or the SM4 variants
 * prove nothing: RFC 8998 appendix A gives SM4-GCM and SM4-CCM answers,
 * and on AES they must agree with OpenSSL's own modes.
 */
static const unsigned char rfc8998_key[16] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};

static const unsigned char rfc8998_nonce[12] = {
	0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0xab, 0xcd,
};

static const unsigned char rfc8998_aad[20] = {
	0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
	0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2,
};

/* Plaintext: 8 bytes each of 0xaa, bb, cc, dd, ee, ff, ee, aa. */
static const unsigned char rfc8998_pt_bytes[8] = {
	0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0xee, 0xaa,
};

/* Ciphertext || tag, RFC 8998 A.1. */
static const unsigned char rfc8998_gcm[80] = {
	0x17, 0xf3, 0x99, 0xf0, 0x8c, 0x67, 0xd5, 0xee,
	0x19, 0xd0, 0xdc, 0x99, 0x69, 0xc4, 0xbb, 0x7d,
	0x5f, 0xd4, 0x6f, 0xd3, 0x75, 0x64, 0x89, 0x06,
	0x91, 0x57, 0xb2, 0x82, 0xbb, 0x20, 0x07, 0x35,
	0xd8, 0x27, 0x10, 0xca, 0x5c, 0x22, 0xf0, 0xcc,
	0xfa, 0x7c, 0xbf, 0x93, 0xd4, 0x96, 0xac, 0x15,
	0xa5, 0x68, 0x34, 0xcb, 0xcf, 0x98, 0xc3, 0x97,
	0xb4, 0x02, 0x4a, 0x26, 0x91, 0x23, 0x3b, 0x8d,
	0x83, 0xde, 0x35, 0x41, 0xe4, 0xc2, 0xb5, 0x81,
	0x77, 0xe0, 0x65, 0xa9, 0xbf, 0x7b, 0x62, 0xec,
};

/* Ciphertext || tag, RFC 8998 A.2. */
static const unsigned char rfc8998_ccm[80] = {
	0x48, 0xaf, 0x93, 0x50, 0x1f, 0xa6, 0x2a, 0xdb,
	0xcd, 0x41, 0x4c, 0xce, 0x60, 0x34, 0xd8, 0x95,
	0xdd, 0xa1, 0xbf, 0x8f, 0x13, 0x2f, 0x04, 0x20,
	0x98, 0x66, 0x15, 0x72, 0xe7, 0x48, 0x30, 0x94,
	0xfd, 0x12, 0xe5, 0x18, 0xce, 0x06, 0x2c, 0x98,
	0xac, 0xee, 0x28, 0xd9, 0x5d, 0xf4, 0x41, 0x6b,
	0xed, 0x31, 0xa2, 0xf0, 0x44, 0x76, 0xc1, 0x8b,
	0xb4, 0x0c, 0x84, 0xa7, 0x4b, 0x97, 0xdc, 0x5b,
	0x16, 0x84, 0x2d, 0x4f, 0xa1, 0x86, 0xf5, 0x6a,
	0xb3, 0x32, 0x56, 0x97, 0x1f, 0xa1, 0x10, 0xf4,
};

static void check_rfc8998(struct __test_metadata *_metadata,
			  enum aead_mode mode, const unsigned char *sealed)
{
	unsigned char pt[64], out[64], bad[80];
	int i;

	for (i = 0; i < 64; i++)
		pt[i] = rfc8998_pt_bytes[i / 8];
	ASSERT_TRUE(soft_open("SM4-ECB", mode, rfc8998_key, rfc8998_nonce,
			      rfc8998_aad, sizeof(rfc8998_aad), sealed, 64,
			      sealed + 64, out));
	ASSERT_EQ(memcmp(out, pt, 64), 0);
	memcpy(bad, sealed, 80);
	bad[5] ^= 1;
	ASSERT_FALSE(soft_open("SM4-ECB", mode, rfc8998_key, rfc8998_nonce,
			       rfc8998_aad, sizeof(rfc8998_aad), bad, 64,
			       bad + 64, out));
}

/* OpenSSL's AES-128-GCM / AES-128-CCM seal, the reference on AES. */
static bool evp_seal(enum aead_mode mode, const unsigned char *key,
		     const unsigned char *nonce, const unsigned char *aad,
		     size_t aad_len, const unsigned char *in, size_t len,
		     unsigned char *out)
{
	bool ccm = mode == MODE_CCM;
	EVP_CIPHER_CTX *ctx;
	int n, ok;

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return false;
	ok = EVP_EncryptInit_ex(ctx, ccm ? EVP_aes_128_ccm() :
				EVP_aes_128_gcm(), NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, NONCE_LEN,
				 NULL) &&
	     (!ccm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
					  NULL)) &&
	     EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) &&
	     (!ccm || EVP_EncryptUpdate(ctx, NULL, &n, NULL, len)) &&
	     EVP_EncryptUpdate(ctx, NULL, &n, aad, aad_len) &&
	     EVP_EncryptUpdate(ctx, out, &n, in, len) &&
	     EVP_EncryptFinal_ex(ctx, out + n, &n) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
				 out + len);
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

static void check_against_openssl(struct __test_metadata *_metadata,
				  enum aead_mode mode)
{
	static const size_t lens[] = { 1, 15, 16, 17, 100, 16384 + 1 };
	static const size_t aad_lens[] = { 5, 13, 0 };
	unsigned char key[16], nonce[12], aad[13];
	unsigned char *pt, *sealed, *out;
	unsigned int i;
	size_t len;

	pt = malloc(MAX_BODY);
	sealed = malloc(MAX_BODY + TAG_LEN);
	out = malloc(MAX_BODY);
	ASSERT_TRUE(pt && sealed && out);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		len = lens[i];
		fill(key, sizeof(key), 100 + i);
		fill(nonce, sizeof(nonce), 200 + i);
		fill(aad, sizeof(aad), 300 + i);
		fill(pt, len, 400 + i);
		ASSERT_TRUE(evp_seal(mode, key, nonce, aad, aad_lens[i % 3],
				     pt, len, sealed));
		ASSERT_TRUE(soft_open("AES-128-ECB", mode, key, nonce, aad,
				      aad_lens[i % 3], sealed, len,
				      sealed + len, out))
			TH_LOG("length %zu", len);
		ASSERT_EQ(memcmp(out, pt, len), 0);
		sealed[len + TAG_LEN - 1] ^= 0x80;
		ASSERT_FALSE(soft_open("AES-128-ECB", mode, key, nonce, aad,
				       aad_lens[i % 3], sealed, len,
				       sealed + len, out));
	}
	free(pt);
	free(sealed);
	free(out);
}

TEST(soft_aead_selftest)
{
	check_rfc8998(_metadata, MODE_GCM, rfc8998_gcm);
	check_rfc8998(_metadata, MODE_CCM, rfc8998_ccm);
	check_against_openssl(_metadata, MODE_GCM);
	check_against_openssl(_metadata, MODE_CCM);
}

/* Compares bytes read off the wire with a known answer, byte by byte. */
static void expect_wire(struct __test_metadata *_metadata, int fd,
			const unsigned char *want, size_t len)
{
	unsigned char got[128];
	size_t i;

	ASSERT_LE(len, sizeof(got));
	read_exact(_metadata, fd, got, len);
	for (i = 0; i < len; i++)
		ASSERT_EQ(got[i], want[i]) TH_LOG("byte %zu of %zu", i, len);
}

/*
 * RFC 8448 section 3, "{client} send application_data record": the
 * client application traffic key and iv, sequence number 0, payload
 * 00 01 .. 31, and the complete 72-byte record the RFC gives.
 */
static const unsigned char rfc8448_key[16] = {
	0x17, 0x42, 0x2d, 0xda, 0x59, 0x6e, 0xd5, 0xd9,
	0xac, 0xd8, 0x90, 0xe3, 0xc6, 0x3f, 0x50, 0x51,
};

static const unsigned char rfc8448_iv[12] = {
	0x5b, 0x78, 0x92, 0x3d, 0xee, 0x08, 0x57, 0x90,
	0x33, 0xe5, 0x23, 0xd9,
};

static const unsigned char rfc8448_record[72] = {
	0x17, 0x03, 0x03, 0x00, 0x43, 0xa2, 0x3f, 0x70,
	0x54, 0xb6, 0x2c, 0x94, 0xd0, 0xaf, 0xfa, 0xfe,
	0x82, 0x28, 0xba, 0x55, 0xcb, 0xef, 0xac, 0xea,
	0x42, 0xf9, 0x14, 0xaa, 0x66, 0xbc, 0xab, 0x3f,
	0x2b, 0x98, 0x19, 0xa8, 0xa5, 0xb4, 0x6b, 0x39,
	0x5b, 0xd5, 0x4a, 0x9a, 0x20, 0x44, 0x1e, 0x2b,
	0x62, 0x97, 0x4e, 0x1f, 0x5a, 0x62, 0x92, 0xa2,
	0x97, 0x70, 0x14, 0xbd, 0x1e, 0x3d, 0xea, 0xe6,
	0x3a, 0xee, 0xbb, 0x21, 0x69, 0x49, 0x15, 0xe4,
};

TEST(kat_rfc8448_tls13_aes_gcm_128)
{
	unsigned char payload[50];
	struct tls_keys k = {
		.version = TLS13,
		.c = find_cipher(TLS_CIPHER_AES_GCM_128),
	};
	int tx, rx, i;

	memcpy(k.key, rfc8448_key, sizeof(rfc8448_key));
	/* kTLS splits the 12-byte TLS 1.3 iv into salt(4) || iv(8). */
	memcpy(k.salt, rfc8448_iv, 4);
	memcpy(k.iv, rfc8448_iv + 4, 8);
	for (i = 0; i < 50; i++)
		payload[i] = i;

	tcp_pair(_metadata, 0, 0, &tx, &rx);
	attach_tls(_metadata, tx);
	ASSERT_EQ(set_tx(tx, &k), 0);
	ASSERT_EQ(send(tx, payload, sizeof(payload), 0), sizeof(payload));
	expect_wire(_metadata, rx, rfc8448_record, sizeof(rfc8448_record));
	close(tx);
	expect_eof(_metadata, rx);
	close(rx);
}

/*
 * TLS 1.2 AES-128-GCM, rec_seq 0x1ff and iv 0x11223344556677ff: two
 * records, so both numbers carry into the next byte. Computed outside
 * the kernel, with python3-cryptography's AESGCM, by running from the
 * top of the kernel tree (Debian 12, python3-cryptography installed):
 *   /usr/bin/python3 tools/testing/selftests/net/tls/tx_vectors.py
 */
static const unsigned char kat12_key[16] = {
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
};

static const unsigned char kat12_salt[4] = { 0xca, 0xfe, 0xba, 0xbe };

static const unsigned char kat12_iv[8] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0xff,
};

static const unsigned char kat12_rec_seq[8] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff,
};

static const char kat12_msg1[] = "Hello from the kernel TLS transmit path!";
static const char kat12_msg2[] = "bye";

static const unsigned char kat12_record1[69] = {
	0x17, 0x03, 0x03, 0x00, 0x40, 0x11, 0x22, 0x33,
	0x44, 0x55, 0x66, 0x77, 0xff, 0x75, 0xbd, 0x2c,
	0x94, 0x5b, 0x7b, 0xa8, 0xd5, 0x89, 0x30, 0x05,
	0x4c, 0x38, 0xf2, 0xfd, 0x8e, 0xf4, 0x8e, 0xa9,
	0x3c, 0x46, 0xd5, 0x10, 0x5b, 0x5d, 0xa5, 0x70,
	0x99, 0x62, 0x00, 0xdd, 0x30, 0x2a, 0x86, 0x3f,
	0xc8, 0x6b, 0x9c, 0xe0, 0x21, 0x44, 0x31, 0xe2,
	0xc2, 0x1b, 0xd3, 0xbf, 0x86, 0x89, 0x45, 0xbe,
	0x22, 0xb7, 0x77, 0x0c, 0xd5,
};

static const unsigned char kat12_record2[32] = {
	0x17, 0x03, 0x03, 0x00, 0x1b, 0x11, 0x22, 0x33,
	0x44, 0x55, 0x66, 0x78, 0x00, 0xa5, 0xa2, 0x96,
	0xf6, 0x04, 0x99, 0x45, 0x51, 0xf5, 0x53, 0x38,
	0x7e, 0x83, 0x4f, 0x7c, 0xae, 0x88, 0xb2, 0x4b,
};

TEST(kat_tls12_aes_gcm_128)
{
	struct tls_keys k = {
		.version = TLS12,
		.c = find_cipher(TLS_CIPHER_AES_GCM_128),
	};
	size_t len1 = strlen(kat12_msg1), len2 = strlen(kat12_msg2);
	int tx, rx;

	memcpy(k.key, kat12_key, sizeof(kat12_key));
	memcpy(k.salt, kat12_salt, sizeof(kat12_salt));
	memcpy(k.iv, kat12_iv, sizeof(kat12_iv));
	memcpy(k.rec_seq, kat12_rec_seq, sizeof(kat12_rec_seq));

	tcp_pair(_metadata, 0, 0, &tx, &rx);
	attach_tls(_metadata, tx);
	ASSERT_EQ(set_tx(tx, &k), 0);
	ASSERT_EQ(send(tx, kat12_msg1, len1, 0), len1);
	expect_wire(_metadata, rx, kat12_record1, sizeof(kat12_record1));
	ASSERT_EQ(send(tx, kat12_msg2, len2, 0), len2);
	expect_wire(_metadata, rx, kat12_record2, sizeof(kat12_record2));
	close(tx);
	expect_eof(_metadata, rx);
	close(rx);
}

/* A socket with the ULP attached and no keys yet; rx is its peer. */
static void ulp_pair(struct __test_metadata *_metadata, int *tx, int *rx)
{
	tcp_pair(_metadata, BIG_RCVBUF, 0, tx, rx);
	attach_tls(_metadata, *tx);
}

/*
 * A TLS_TX that fails must leave the socket as it was: the same socket
 * then takes good keys, and its records open with them.
 */
static void expect_usable(struct __test_metadata *_metadata, int tx, int rx,
			  const struct tls_keys *k)
{
	struct peer p;

	ASSERT_EQ(set_tx(tx, k), 0);
	peer_init(&p, rx, k);
	ASSERT_EQ(send(tx, "ok", 2, 0), 2);
	expect_record(_metadata, &p, TYPE_DATA, "ok", 2);
}

TEST(bad_version)
{
	static const __u16 versions[] = { 0x0301, 0x0302, 0x0305, 0x0403, 0 };
	unsigned char info[64];
	struct tls_keys k;
	unsigned int i;
	int tx, rx;

	ulp_pair(_metadata, &tx, &rx);
	make_keys(&k, TLS12, TLS_CIPHER_AES_GCM_128);
	for (i = 0; i < ARRAY_SIZE(versions); i++) {
		k.version = versions[i];
		pack_info(&k, info);
		EXPECT_EQ(setsockopt(tx, SOL_TLS, TLS_TX, info,
				     k.c->info_len), -1);
		EXPECT_EQ(errno, EINVAL) TH_LOG("version %#x", versions[i]);
	}
	k.version = TLS12;
	expect_usable(_metadata, tx, rx, &k);
	close(tx);
	close(rx);
}

TEST(unknown_cipher)
{
	static const __u16 ids[] = { 0, 50, 59, 0xffff };
	struct tls12_crypto_info_aes_gcm_128 info = {
		.info.version = TLS12,
	};
	struct tls_keys k;
	unsigned int i;
	int tx, rx;

	ulp_pair(_metadata, &tx, &rx);
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		info.info.cipher_type = ids[i];
		EXPECT_EQ(setsockopt(tx, SOL_TLS, TLS_TX, &info, sizeof(info)),
			  -1);
		EXPECT_EQ(errno, EINVAL) TH_LOG("cipher %u", ids[i]);
	}
	make_keys(&k, TLS12, TLS_CIPHER_AES_GCM_128);
	expect_usable(_metadata, tx, rx, &k);
	close(tx);
	close(rx);
}

/* ARIA has TLS 1.2 cipher suites only (RFC 6209). */
TEST(aria_tls13)
{
	struct tls_keys k;
	int tx, rx;

	ulp_pair(_metadata, &tx, &rx);
	make_keys(&k, TLS13, TLS_CIPHER_ARIA_GCM_128);
	EXPECT_EQ(set_tx(tx, &k), -1);
	EXPECT_EQ(errno, EINVAL);
	make_keys(&k, TLS13, TLS_CIPHER_ARIA_GCM_256);
	EXPECT_EQ(set_tx(tx, &k), -1);
	EXPECT_EQ(errno, EINVAL);
	make_keys(&k, TLS12, TLS_CIPHER_ARIA_GCM_128);
	expect_usable(_metadata, tx, rx, &k);
	close(tx);
	close(rx);
}

/*
 * TLS 1.2 has no KeyUpdate: a second TLS_TX is EBUSY whatever it
 * carries, and the socket goes on with its first keys and sequence.
 */
TEST(set_twice_tls12)
{
	struct tls_keys k, other;
	struct peer p;
	unsigned int i;
	int tx;

	for (i = 0; i < ARRAY_SIZE(ciphers); i++) {
		make_keys(&k, TLS12, ciphers[i].id);
		tls_pair(_metadata, BIG_RCVBUF, 0, &k, &tx, &p);
		ASSERT_EQ(send(tx, "one", 3, 0), 3);
		other = k;
		other.key[0] ^= 0xff;
		EXPECT_EQ(set_tx(tx, &other), -1);
		EXPECT_EQ(errno, EBUSY) TH_LOG("%s", k.c->name);
		EXPECT_EQ(set_tx(tx, &k), -1);
		EXPECT_EQ(errno, EBUSY) TH_LOG("%s", k.c->name);
		ASSERT_EQ(send(tx, "two", 3, 0), 3);
		expect_record(_metadata, &p, TYPE_DATA, "one", 3);
		expect_record(_metadata, &p, TYPE_DATA, "two", 3);
		close(tx);
		close(p.fd);
	}
}

/* Without the ULP, SOL_TLS reaches IP, which does not know it. */
TEST(sol_tls_without_ulp)
{
	struct tls_keys k;
	int tx, rx;

	tcp_pair(_metadata, 0, 0, &tx, &rx);
	make_keys(&k, TLS12, TLS_CIPHER_AES_GCM_128);
	EXPECT_EQ(set_tx(tx, &k), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	close(tx);
	close(rx);
}

TEST(unknown_optname)
{
	socklen_t len = sizeof(int);
	struct tls_keys k;
	int tx, rx, val = 1;

	ulp_pair(_metadata, &tx, &rx);
	EXPECT_EQ(setsockopt(tx, SOL_TLS, 77, &val, sizeof(val)), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	EXPECT_EQ(getsockopt(tx, SOL_TLS, 77, &val, &len), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	make_keys(&k, TLS12, TLS_CIPHER_AES_GCM_128);
	expect_usable(_metadata, tx, rx, &k);
	EXPECT_EQ(setsockopt(tx, SOL_TLS, 77, &val, sizeof(val)), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	EXPECT_EQ(getsockopt(tx, SOL_TLS, 77, &val, &len), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	close(tx);
	close(rx);
}

/* A BPF sockmap of one slot, made with the raw bpf() syscall. */
static int sockmap_create(void)
{
	union bpf_attr attr = {
		.map_type = BPF_MAP_TYPE_SOCKMAP,
		.key_size = sizeof(__u32),
		.value_size = sizeof(__u32),
		.max_entries = 1,
	};

	return syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
}

static int sockmap_add(int map, int fd)
{
	__u32 key = 0, value = fd;
	union bpf_attr attr = {
		.map_fd = map,
		.key = (unsigned long)&key,
		.value = (unsigned long)&value,
		.flags = BPF_ANY,
	};

	return syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr));
}

/*
 * kTLS and BPF sockmap exclude each other, as in Linux 6.12: a socket
 * with the ULP cannot join a sockmap, and a socket in a sockmap may
 * take the ULP but not keys (EINVAL both ways). Either way the socket
 * goes on working in clear.
 */
TEST(sockmap_excludes_tls)
{
	struct tls_keys k;
	int map, tx, rx;
	char buf[2];

	expect_ulp_registered(_metadata);
	make_keys(&k, TLS13, TLS_CIPHER_AES_GCM_128);
	map = sockmap_create();
	ASSERT_GE(map, 0) TH_LOG("sockmap: %s", strerror(errno));

	ulp_pair(_metadata, &tx, &rx);
	EXPECT_EQ(sockmap_add(map, tx), -1);
	EXPECT_EQ(errno, EINVAL);
	close(tx);
	close(rx);

	tcp_pair(_metadata, 0, 0, &tx, &rx);
	ASSERT_EQ(sockmap_add(map, tx), 0) TH_LOG("%s", strerror(errno));
	attach_tls(_metadata, tx);
	EXPECT_EQ(set_tx(tx, &k), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(send(tx, "ok", 2, 0), 2);
	ASSERT_EQ(recv(rx, buf, 2, MSG_WAITALL), 2);
	EXPECT_EQ(memcmp(buf, "ok", 2), 0);
	close(tx);
	close(rx);
	close(map);
}

/*
 * TlsTxSw counts sockets that got software TX keys, TlsCurrTxSw those
 * that still have them; attaching alone or a refused TLS_TX counts
 * nothing.
 */
TEST(tls_stat_counters)
{
	long curr0, total0;
	struct tls_keys k;
	int tx1, rx1, tx2, rx2;

	curr0 = read_tls_stat(_metadata, "TlsCurrTxSw");
	total0 = read_tls_stat(_metadata, "TlsTxSw");
	ulp_pair(_metadata, &tx1, &rx1);
	ulp_pair(_metadata, &tx2, &rx2);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrTxSw"), curr0);
	make_keys(&k, 0x0305, TLS_CIPHER_AES_GCM_128);
	EXPECT_EQ(set_tx(tx1, &k), -1);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrTxSw"), curr0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsTxSw"), total0);

	make_keys(&k, TLS12, TLS_CIPHER_AES_GCM_128);
	ASSERT_EQ(set_tx(tx1, &k), 0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrTxSw"), curr0 + 1);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsTxSw"), total0 + 1);
	make_keys(&k, TLS13, TLS_CIPHER_CHACHA20_POLY1305);
	ASSERT_EQ(set_tx(tx2, &k), 0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrTxSw"), curr0 + 2);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsTxSw"), total0 + 2);

	close(tx1);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrTxSw"), curr0 + 1);
	close(tx2);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrTxSw"), curr0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsTxSw"), total0 + 2);
	close(rx1);
	close(rx2);
}

/* ---- per version and cipher ----------------------------------------- */

FIXTURE(tx)
{
	int tx;
	struct peer p;
	struct tls_keys k;
};

FIXTURE_VARIANT(tx)
{
	__u16 version;
	__u16 cipher;
};

/* One variant per version and cipher: { version, cipher } */
FIXTURE_VARIANT_ADD(tx, 12_aes_gcm) { TLS12, TLS_CIPHER_AES_GCM_128 };
FIXTURE_VARIANT_ADD(tx, 12_aes_gcm_256) { TLS12, TLS_CIPHER_AES_GCM_256 };
FIXTURE_VARIANT_ADD(tx, 12_aes_ccm) { TLS12, TLS_CIPHER_AES_CCM_128 };
FIXTURE_VARIANT_ADD(tx, 12_chacha) { TLS12, TLS_CIPHER_CHACHA20_POLY1305 };
FIXTURE_VARIANT_ADD(tx, 12_sm4_gcm) { TLS12, TLS_CIPHER_SM4_GCM };
FIXTURE_VARIANT_ADD(tx, 12_sm4_ccm) { TLS12, TLS_CIPHER_SM4_CCM };
FIXTURE_VARIANT_ADD(tx, 12_aria_gcm) { TLS12, TLS_CIPHER_ARIA_GCM_128 };
FIXTURE_VARIANT_ADD(tx, 12_aria_gcm_256) { TLS12, TLS_CIPHER_ARIA_GCM_256 };
FIXTURE_VARIANT_ADD(tx, 13_aes_gcm) { TLS13, TLS_CIPHER_AES_GCM_128 };
FIXTURE_VARIANT_ADD(tx, 13_aes_gcm_256) { TLS13, TLS_CIPHER_AES_GCM_256 };
FIXTURE_VARIANT_ADD(tx, 13_aes_ccm) { TLS13, TLS_CIPHER_AES_CCM_128 };
FIXTURE_VARIANT_ADD(tx, 13_chacha) { TLS13, TLS_CIPHER_CHACHA20_POLY1305 };
FIXTURE_VARIANT_ADD(tx, 13_sm4_gcm) { TLS13, TLS_CIPHER_SM4_GCM };
FIXTURE_VARIANT_ADD(tx, 13_sm4_ccm) { TLS13, TLS_CIPHER_SM4_CCM };

FIXTURE_SETUP(tx)
{
	self->tx = -1;
	self->p.fd = -1;
	expect_ulp_registered(_metadata);
	make_keys(&self->k, variant->version, variant->cipher);
	tls_pair(_metadata, BIG_RCVBUF, 0, &self->k, &self->tx, &self->p);
}

FIXTURE_TEARDOWN(tx)
{
	if (self->tx >= 0)
		close(self->tx);
	if (self->p.fd >= 0)
		close(self->p.fd);
}

/* Sends @data, then expects it back as its own records. */
static void send_and_expect(struct __test_metadata *_metadata, int tx,
			    struct peer *p, const unsigned char *data,
			    size_t len)
{
	ASSERT_EQ(send(tx, data, len, 0), len);
	expect_records(_metadata, p, TYPE_DATA, data, len);
}

/* A marker record: whatever came before it was exactly what we read. */
static void expect_marker(struct __test_metadata *_metadata, int tx,
			  struct peer *p)
{
	send_and_expect(_metadata, tx, p, (const unsigned char *)"END", 3);
}

TEST_F(tx, sizes)
{
	static const size_t sizes[] = { 1, 100, 16384, 16385, 70000 };
	unsigned char *buf;
	unsigned int i;

	buf = malloc(70000);
	ASSERT_TRUE(!!buf);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill(buf, sizes[i], i);
		send_and_expect(_metadata, self->tx, &self->p, buf, sizes[i]);
	}
	expect_marker(_metadata, self->tx, &self->p);
	free(buf);
}

/* Sends without MSG_MORE never wait for more: each is on the wire. */
TEST_F(tx, each_send_is_a_record)
{
	struct record r;
	int i;

	for (i = 0; i < 5; i++)
		ASSERT_EQ(send(self->tx, "0123456789" + i, 1, 0), 1);
	for (i = 0; i < 5; i++) {
		read_record(_metadata, &self->p, &r);
		ASSERT_EQ(r.type, TYPE_DATA);
		ASSERT_EQ(r.len, 1);
		ASSERT_EQ(r.data[0], '0' + i);
	}
	expect_marker(_metadata, self->tx, &self->p);
}

TEST_F(tx, more_coalesces)
{
	ASSERT_EQ(send(self->tx, "abc", 3, MSG_MORE), 3);
	expect_quiet(_metadata, self->p.fd);
	ASSERT_EQ(send(self->tx, "def", 3, 0), 3);
	expect_record(_metadata, &self->p, TYPE_DATA, "abcdef", 6);
	expect_marker(_metadata, self->tx, &self->p);
}

/* MSG_MORE holds a record only until it is full. */
TEST_F(tx, more_fills_record)
{
	unsigned char buf[20001];

	fill(buf, sizeof(buf), 7);
	ASSERT_EQ(send(self->tx, buf, 10000, MSG_MORE), 10000);
	ASSERT_EQ(send(self->tx, buf + 10000, 10000, MSG_MORE), 10000);
	expect_record(_metadata, &self->p, TYPE_DATA, buf, MAX_PLAIN);
	expect_quiet(_metadata, self->p.fd);
	ASSERT_EQ(send(self->tx, buf + 20000, 1, 0), 1);
	expect_record(_metadata, &self->p, TYPE_DATA, buf + MAX_PLAIN,
		      sizeof(buf) - MAX_PLAIN);
	expect_marker(_metadata, self->tx, &self->p);
}

TEST_F(tx, eor_closes_record)
{
	ASSERT_EQ(send(self->tx, "abc", 3, MSG_MORE), 3);
	ASSERT_EQ(send(self->tx, "def", 3, MSG_EOR), 3);
	expect_record(_metadata, &self->p, TYPE_DATA, "abcdef", 6);
	ASSERT_EQ(send(self->tx, "ghi", 3, MSG_EOR), 3);
	expect_record(_metadata, &self->p, TYPE_DATA, "ghi", 3);
	expect_marker(_metadata, self->tx, &self->p);
}

/* A refused send changes nothing: the open record stays open. */
TEST_F(tx, eor_with_more)
{
	ASSERT_EQ(send(self->tx, "abc", 3, MSG_MORE), 3);
	EXPECT_EQ(send(self->tx, "xyz", 3, MSG_EOR | MSG_MORE), -1);
	EXPECT_EQ(errno, EINVAL);
	expect_quiet(_metadata, self->p.fd);
	ASSERT_EQ(send(self->tx, "def", 3, 0), 3);
	expect_record(_metadata, &self->p, TYPE_DATA, "abcdef", 6);
	expect_marker(_metadata, self->tx, &self->p);
}

TEST_F(tx, oob)
{
	EXPECT_EQ(send(self->tx, "x", 1, MSG_OOB), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	expect_marker(_metadata, self->tx, &self->p);
}

/*
 * TLS_SET_RECORD_TYPE: the open data record goes out first as a record
 * of its own, then the control message's data as records of its type.
 */
TEST_F(tx, record_type)
{
	static const unsigned char alert[2] = { 1, 0 };	/* close_notify */
	unsigned char *hs;

	ASSERT_EQ(send(self->tx, "abc", 3, MSG_MORE), 3);
	ASSERT_EQ(send_typed(self->tx, TYPE_ALERT, alert, 2, 0), 2);
	expect_record(_metadata, &self->p, TYPE_DATA, "abc", 3);
	expect_record(_metadata, &self->p, TYPE_ALERT, alert, 2);

	hs = malloc(20000);
	ASSERT_TRUE(!!hs);
	fill(hs, 20000, 22);
	ASSERT_EQ(send_typed(self->tx, TYPE_HANDSHAKE, hs, 20000, 0), 20000);
	expect_records(_metadata, &self->p, TYPE_HANDSHAKE, hs, 20000);
	free(hs);
	expect_marker(_metadata, self->tx, &self->p);
}

TEST_F(tx, record_type_with_more)
{
	ASSERT_EQ(send(self->tx, "abc", 3, MSG_MORE), 3);
	EXPECT_EQ(send_typed(self->tx, TYPE_ALERT, "\1\0", 2, MSG_MORE), -1);
	EXPECT_EQ(errno, EINVAL);
	expect_quiet(_metadata, self->p.fd);
	ASSERT_EQ(send(self->tx, "def", 3, 0), 3);
	expect_record(_metadata, &self->p, TYPE_DATA, "abcdef", 6);
	expect_marker(_metadata, self->tx, &self->p);
}

/*
 * shutdown(SHUT_WR) and close() send an open MSG_MORE record before the
 * FIN: the bytes were accepted, so they reach the peer as a whole record.
 * (Linux 6.12's kTLS discarded such a record; these two cases fail there.)
 */
TEST_F(tx, shutdown_pushes_open_record)
{
	ASSERT_EQ(send(self->tx, "xyz", 3, 0), 3);
	ASSERT_EQ(send(self->tx, "abc", 3, MSG_MORE), 3);
	ASSERT_EQ(shutdown(self->tx, SHUT_WR), 0);
	expect_record(_metadata, &self->p, TYPE_DATA, "xyz", 3);
	expect_record(_metadata, &self->p, TYPE_DATA, "abc", 3);
	expect_eof(_metadata, self->p.fd);
}

TEST_F(tx, close_pushes_open_record)
{
	ASSERT_EQ(send(self->tx, "xyz", 3, 0), 3);
	ASSERT_EQ(send(self->tx, "abc", 3, MSG_MORE), 3);
	close(self->tx);
	self->tx = -1;
	expect_record(_metadata, &self->p, TYPE_DATA, "xyz", 3);
	expect_record(_metadata, &self->p, TYPE_DATA, "abc", 3);
	expect_eof(_metadata, self->p.fd);
}

/* An unlinked file holding @data, for sendfile() */
static int file_with(struct __test_metadata *_metadata, const void *data,
		     size_t len)
{
	char path[] = "/tmp/ktls_tx_XXXXXX";
	int fd;

	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	unlink(path);
	ASSERT_EQ(write(fd, data, len), len);
	return fd;
}

/* sendfile() fills whole records and ends its last one. */
TEST_F(tx, sendfile)
{
	const size_t len = 100000;
	unsigned char *buf;
	off_t off = 0;
	int fd;

	buf = malloc(len);
	ASSERT_TRUE(!!buf);
	fill(buf, len, 99);
	fd = file_with(_metadata, buf, len);
	ASSERT_EQ(sendfile(self->tx, fd, &off, len), len);
	expect_records(_metadata, &self->p, TYPE_DATA, buf, len);
	expect_marker(_metadata, self->tx, &self->p);
	close(fd);
	free(buf);
}

TEST_F(tx, splice_from_pipe)
{
	const size_t len = 30000;
	unsigned char *buf;
	int pfd[2];

	buf = malloc(len);
	ASSERT_TRUE(!!buf);
	fill(buf, len, 55);
	ASSERT_EQ(pipe(pfd), 0);
	ASSERT_EQ(write(pfd[1], buf, len), len);
	ASSERT_EQ(splice(pfd[0], NULL, self->tx, NULL, len, 0), len);
	expect_records(_metadata, &self->p, TYPE_DATA, buf, len);
	expect_marker(_metadata, self->tx, &self->p);
	close(pfd[0]);
	close(pfd[1]);
	free(buf);
}

#define FILL_MAX	(4 << 20)
#define FILL_CHUNK	5000

/*
 * Sends chunks with MSG_DONTWAIT into a peer that does not read, until
 * EAGAIN. Returns the bytes the kernel reported as taken.
 */
static size_t fill_until_eagain(struct __test_metadata *_metadata, int tx,
				const unsigned char *buf)
{
	size_t sent = 0;
	ssize_t n = 0;

	while (sent + FILL_CHUNK <= FILL_MAX) {
		n = send(tx, buf + sent, FILL_CHUNK, MSG_DONTWAIT);
		if (n < 0)
			break;
		ASSERT_GT(n, 0);
		sent += n;
	}
	ASSERT_EQ(n, -1) TH_LOG("%zu bytes and no EAGAIN", sent);
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_GT(sent, 0);
	return sent;
}

/* Reads records until @len bytes arrived; they are buf[0..len). */
static void drain(struct __test_metadata *_metadata, struct peer *p,
		  const unsigned char *buf, size_t len)
{
	struct record r;
	size_t got = 0;

	while (got < len) {
		read_record(_metadata, p, &r);
		ASSERT_EQ(r.type, TYPE_DATA);
		ASSERT_LE(got + r.len, len) TH_LOG("more data than was sent");
		ASSERT_EQ(memcmp(r.data, buf + got, r.len), 0)
			TH_LOG("at byte %zu", got);
		got += r.len;
	}
}

/*
 * Everything a non-blocking send reported as sent reaches the peer in
 * whole records once it reads, and nothing else does.
 */
TEST_F(tx, nonblock_fill)
{
	unsigned char *buf;
	struct peer p;
	size_t sent;
	int tx;

	buf = malloc(FILL_MAX);
	ASSERT_TRUE(!!buf);
	fill(buf, FILL_MAX, 3);
	tls_pair(_metadata, SMALL_BUF, SMALL_BUF, &self->k, &tx, &p);
	sent = fill_until_eagain(_metadata, tx, buf);
	drain(_metadata, &p, buf, sent);
	close(tx);
	expect_eof(_metadata, p.fd);
	close(p.fd);
	free(buf);
}

/*
 * A send's bytes are on their way once it returns, whatever the caller
 * does with its buffer next: whole records are sealed straight from the
 * caller's pages, so none may be left waiting on them. Non-blocking
 * sends of several records each into a peer that does not read, until
 * one takes nothing, each followed by writing other bytes into the
 * buffer; then the peer reads what the sends reported taken.
 */
TEST_F(tx, buffer_reused_after_send)
{
	const size_t chunk = 3 * MAX_PLAIN + 100;
	unsigned char *buf = malloc(chunk), *sent = malloc(FILL_MAX);
	size_t len = 0;
	__u32 seed = 1;
	struct peer p;
	ssize_t n;
	int tx;

	ASSERT_TRUE(!!buf);
	ASSERT_TRUE(!!sent);
	tls_pair(_metadata, SMALL_BUF, SMALL_BUF, &self->k, &tx, &p);
	for (;;) {
		fill(buf, chunk, seed++);
		n = send(tx, buf, chunk, MSG_DONTWAIT);
		if (n < 0)
			break;
		ASSERT_LE(len + n, FILL_MAX);
		memcpy(sent + len, buf, n);
		len += n;
	}
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_GE(len, MAX_PLAIN);
	memset(buf, 0, chunk);
	drain(_metadata, &p, sent, len);
	close(tx);
	expect_eof(_metadata, p.fd);
	close(p.fd);
	free(sent);
	free(buf);
}

/*
 * One record gathered from a few pieces, which the kernel may reference
 * where they are, and from more pieces than a record can reference,
 * which it copies.
 */
TEST_F(tx, writev_pieces)
{
	static const int counts[] = { 3, 64 };
	unsigned char *buf = malloc(MAX_PLAIN);
	struct iovec iov[64];
	size_t piece, off;
	unsigned int i;
	int j;

	ASSERT_TRUE(!!buf);
	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		fill(buf, MAX_PLAIN, counts[i]);
		piece = MAX_PLAIN / counts[i];
		for (j = 0, off = 0; j < counts[i]; j++, off += piece) {
			iov[j].iov_base = buf + off;
			iov[j].iov_len = j == counts[i] - 1 ? MAX_PLAIN - off :
							      piece;
		}
		ASSERT_EQ(writev(self->tx, iov, counts[i]), MAX_PLAIN);
		expect_record(_metadata, &self->p, TYPE_DATA, buf, MAX_PLAIN);
	}
	expect_marker(_metadata, self->tx, &self->p);
	free(buf);
}

/*
 * A fault part way through a record's worth of bytes: the bytes before
 * it are taken and the send says how many; they reach the peer, in the
 * record the next send ends.
 */
TEST_F(tx, fault_part_way)
{
	const size_t good = 10000;
	unsigned char *buf = malloc(good + 3);
	struct iovec iov[2];

	ASSERT_TRUE(!!buf);
	fill(buf, good, 7);
	memcpy(buf + good, "END", 3);
	iov[0].iov_base = buf;
	iov[0].iov_len = good;
	iov[1].iov_base = (void *)16;
	iov[1].iov_len = MAX_PLAIN - good;
	ASSERT_EQ(writev(self->tx, iov, 2), good);
	ASSERT_EQ(send(self->tx, "END", 3, 0), 3);
	drain(_metadata, &self->p, buf, good + 3);
	free(buf);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Blocking sends into a peer that never reads: each either takes all
 * its data, or waits for SO_SNDTIMEO and returns EAGAIN or the count it
 * took. Whatever was taken still arrives, in whole records.
 */
TEST_F(tx, sndtimeo)
{
	struct timeval tv = { .tv_usec = 300000 };
	struct timespec t0;
	unsigned char *buf;
	size_t sent = 0;
	struct peer p;
	ssize_t n;
	int tx;

	buf = malloc(FILL_MAX);
	ASSERT_TRUE(!!buf);
	fill(buf, FILL_MAX, 4);
	tls_pair(_metadata, SMALL_BUF, SMALL_BUF, &self->k, &tx, &p);
	ASSERT_EQ(setsockopt(tx, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	do {
		ASSERT_LE(sent + MAX_PLAIN, FILL_MAX)
			TH_LOG("%zu bytes and no timeout", sent);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		n = send(tx, buf + sent, MAX_PLAIN, 0);
		if (n > 0)
			sent += n;
	} while (n == MAX_PLAIN);
	EXPECT_GE(elapsed_ms(&t0), 250);
	if (n < 0)
		ASSERT_EQ(errno, EAGAIN);
	ASSERT_GT(sent, 0);
	drain(_metadata, &p, buf, sent);
	close(tx);
	expect_eof(_metadata, p.fd);
	close(p.fd);
	free(buf);
}

/* Adds @n to an 8-byte big-endian counter. */
static void advance_be64(unsigned char *p, __u64 n)
{
	put_be64(p, get_be64(p) + n);
}

/*
 * getsockopt(TLS_TX) gives the keys "as they are now": rec_seq counts
 * the records sent, and so does the TLS 1.2 AEAD explicit nonce (iv);
 * the TLS 1.3 and ChaCha20 iv is fixed.
 */
TEST_F(tx, getsockopt_state)
{
	unsigned char want[64], got[64], buf[20000];
	socklen_t len = self->k.c->info_len;
	struct tls_keys now = self->k;

	pack_info(&now, want);
	ASSERT_EQ(getsockopt(self->tx, SOL_TLS, TLS_TX, got, &len), 0);
	ASSERT_EQ(len, self->k.c->info_len);
	ASSERT_EQ(memcmp(got, want, len), 0);

	/* 3 + 2 records */
	fill(buf, sizeof(buf), 5);
	send_and_expect(_metadata, self->tx, &self->p, buf, 1);
	send_and_expect(_metadata, self->tx, &self->p, buf, 2);
	send_and_expect(_metadata, self->tx, &self->p, buf, 3);
	send_and_expect(_metadata, self->tx, &self->p, buf, sizeof(buf));

	advance_be64(now.rec_seq, 5);
	if (has_explicit_nonce(&now))
		advance_be64(now.iv, 5);
	pack_info(&now, want);
	ASSERT_EQ(getsockopt(self->tx, SOL_TLS, TLS_TX, got, &len), 0);
	ASSERT_EQ(len, self->k.c->info_len);
	ASSERT_EQ(memcmp(got, want, len), 0);
}

TEST_F(tx, getsockopt_lengths)
{
	struct tls_crypto_info hdr = {};
	unsigned char buf[128];
	socklen_t len;

	len = sizeof(hdr);
	ASSERT_EQ(getsockopt(self->tx, SOL_TLS, TLS_TX, &hdr, &len), 0);
	EXPECT_EQ(len, sizeof(hdr));
	EXPECT_EQ(hdr.version, variant->version);
	EXPECT_EQ(hdr.cipher_type, variant->cipher);

	len = sizeof(hdr) - 1;
	EXPECT_EQ(getsockopt(self->tx, SOL_TLS, TLS_TX, buf, &len), -1);
	EXPECT_EQ(errno, EINVAL);
	len = 0;
	EXPECT_EQ(getsockopt(self->tx, SOL_TLS, TLS_TX, buf, &len), -1);
	EXPECT_EQ(errno, EINVAL);
	len = self->k.c->info_len - 1;
	EXPECT_EQ(getsockopt(self->tx, SOL_TLS, TLS_TX, buf, &len), -1);
	EXPECT_EQ(errno, EINVAL);
	len = self->k.c->info_len + 1;
	EXPECT_EQ(getsockopt(self->tx, SOL_TLS, TLS_TX, buf, &len), -1);
	EXPECT_EQ(errno, EINVAL);
}

/*
 * On a socket with the ULP but no TX keys yet: getsockopt is EBUSY,
 * and a TLS_TX whose optlen is not the cipher's struct size is EINVAL
 * and leaves the socket ready for the right one.
 */
TEST_F(tx, before_keys)
{
	unsigned char info[64];
	socklen_t len = sizeof(info);
	unsigned int n = self->k.c->info_len;
	int tx, rx;

	ulp_pair(_metadata, &tx, &rx);
	EXPECT_EQ(getsockopt(tx, SOL_TLS, TLS_TX, info, &len), -1);
	EXPECT_EQ(errno, EBUSY);
	pack_info(&self->k, info);
	EXPECT_EQ(setsockopt(tx, SOL_TLS, TLS_TX, info, n - 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(tx, SOL_TLS, TLS_TX, info, n + 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(tx, SOL_TLS, TLS_TX, info, 4), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(tx, SOL_TLS, TLS_TX, info, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	expect_usable(_metadata, tx, rx, &self->k);
	close(tx);
	close(rx);
}

/*
 * Sequence numbers never wrap (RFC 8446, section 5.3), and TX never uses
 * the last one, 2^64 - 1, as upstream's selftests expect: the record with
 * seq 2^64 - 2 goes out, the next send fails with EBADMSG without
 * sending anything, and so does every send after it, whatever its kind.
 */
static void expect_spent(struct __test_metadata *_metadata, int tx,
			 struct peer *p)
{
	off_t off = 0;
	int fd;

	EXPECT_EQ(send(tx, "over", 4, 0), -1);
	EXPECT_EQ(errno, EBADMSG);
	EXPECT_EQ(send(tx, "more", 4, MSG_MORE), -1);
	EXPECT_EQ(errno, EBADMSG);
	EXPECT_EQ(send_typed(tx, TYPE_ALERT, "\1\0", 2, 0), -1);
	EXPECT_EQ(errno, EBADMSG);
	fd = file_with(_metadata, "file", 4);
	EXPECT_EQ(sendfile(tx, fd, &off, 4), -1);
	EXPECT_EQ(errno, EBADMSG);
	close(fd);
	expect_quiet(_metadata, p->fd);
}

TEST_F(tx, seq_exhausted)
{
	struct tls_keys k = self->k;
	struct peer p;
	int tx;

	memset(k.rec_seq, 0xff, sizeof(k.rec_seq));
	k.rec_seq[sizeof(k.rec_seq) - 1] = 0xfe;
	tls_pair(_metadata, BIG_RCVBUF, 0, &k, &tx, &p);
	ASSERT_EQ(send(tx, "last", 4, 0), 4);
	expect_record(_metadata, &p, TYPE_DATA, "last", 4);
	expect_spent(_metadata, tx, &p);
	close(tx);
	close(p.fd);
}

/* Keys set at seq 2^64 - 1 send nothing at all, nor does close(). */
TEST_F(tx, seq_last_refused)
{
	struct tls_keys k = self->k;
	struct peer p;
	int tx;

	memset(k.rec_seq, 0xff, sizeof(k.rec_seq));
	tls_pair(_metadata, BIG_RCVBUF, 0, &k, &tx, &p);
	expect_spent(_metadata, tx, &p);
	close(tx);
	expect_eof(_metadata, p.fd);
	close(p.fd);
}

#define RACE_SENDS	24
#define RACE_LEN	20000

struct racer {
	int fd;
	unsigned char byte;
	int failed;
};

static void *race_send(void *arg)
{
	struct racer *r = arg;
	unsigned char buf[RACE_LEN];
	int i;

	memset(buf, r->byte, sizeof(buf));
	for (i = 0; i < RACE_SENDS; i++)
		if (send(r->fd, buf, sizeof(buf), 0) != sizeof(buf))
			r->failed = 1;
	return NULL;
}

/*
 * Two threads send on one socket with a small send buffer, so each of
 * them waits for room in the middle of its sends. Every send's bytes
 * must stay together: the stream is whole RACE_LEN runs of one byte.
 */
TEST_F(tx, concurrent_senders)
{
	struct racer a = { .byte = 'a' }, b = { .byte = 'b' };
	size_t total = 2 * RACE_SENDS * RACE_LEN, got = 0, run = 0;
	unsigned char cur = 0;
	pthread_t ta, tb;
	struct record r;
	struct peer p;
	size_t i;
	int tx;

	tls_pair(_metadata, SMALL_BUF, SMALL_BUF, &self->k, &tx, &p);
	a.fd = tx;
	b.fd = tx;
	ASSERT_EQ(pthread_create(&ta, NULL, race_send, &a), 0);
	ASSERT_EQ(pthread_create(&tb, NULL, race_send, &b), 0);
	while (got < total) {
		read_record(_metadata, &p, &r);
		ASSERT_EQ(r.type, TYPE_DATA);
		for (i = 0; i < r.len; i++) {
			if (!run)
				cur = r.data[i];
			ASSERT_EQ(r.data[i], cur) TH_LOG("send split at %zu",
							 got + i);
			run = (run + 1) % RACE_LEN;
		}
		got += r.len;
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	EXPECT_EQ(a.failed, 0);
	EXPECT_EQ(b.failed, 0);
	close(tx);
	expect_eof(_metadata, p.fd);
	close(p.fd);
}

/* ---- review findings: each case failed before its fix ---------------- */

#define SPLICE_CHUNK	100

/*
 * The splice cases build a stream in @want, *@len bytes so far, from
 * 1-byte sends and SPLICE_CHUNK-byte splices (each splice brings a page
 * of its own), then end the record and read the stream back.
 */
static void send_more_byte(struct __test_metadata *_metadata, int tx,
			   unsigned char *want, size_t *len, unsigned char c)
{
	want[*len] = c;
	ASSERT_EQ(send(tx, want + *len, 1, MSG_MORE), 1);
	(*len)++;
}

static void splice_chunk(struct __test_metadata *_metadata, int tx,
			 int pfd[2], unsigned char *want, size_t *len,
			 __u32 seed)
{
	fill(want + *len, SPLICE_CHUNK, seed);
	ASSERT_EQ(write(pfd[1], want + *len, SPLICE_CHUNK), SPLICE_CHUNK);
	ASSERT_EQ(splice(pfd[0], NULL, tx, NULL, SPLICE_CHUNK, SPLICE_F_MORE),
		  SPLICE_CHUNK);
	*len += SPLICE_CHUNK;
}

static void end_and_drain(struct __test_metadata *_metadata, int tx,
			  struct peer *p, unsigned char *want, size_t len)
{
	want[len] = 'e';
	ASSERT_EQ(send(tx, want + len, 1, 0), 1);
	drain(_metadata, p, want, len + 1);
}

/*
 * n splices of 100 bytes with SPLICE_F_MORE, for n on both sides of the
 * pieces a record may gather, a 1-byte MSG_MORE send, one more splice,
 * then a 1-byte send that ends the record: every byte reaches the peer,
 * in order. A record out of pieces for spliced pages, while a copy could
 * still grow its last one, took nothing and did not close: the sender
 * spun in the kernel for good.
 */
TEST_F(tx, splice_pieces_then_send)
{
	unsigned char *want;
	size_t len, n, i;
	int pfd[2];

	want = malloc(50 * SPLICE_CHUNK);
	ASSERT_TRUE(!!want);
	ASSERT_EQ(pipe(pfd), 0);
	for (n = 16; n <= 44; n++) {
		len = 0;
		for (i = 0; i < n; i++)
			splice_chunk(_metadata, self->tx, pfd, want, &len,
				     n * 64 + i);
		send_more_byte(_metadata, self->tx, want, &len, 'm');
		splice_chunk(_metadata, self->tx, pfd, want, &len, n * 64 + n);
		end_and_drain(_metadata, self->tx, &self->p, want, len);
	}
	expect_marker(_metadata, self->tx, &self->p);
	close(pfd[0]);
	close(pfd[1]);
	free(want);
}

/*
 * The neighbours: copies and spliced pages alternating in one record
 * (each takes a piece of its own) until it runs out of pieces, and
 * splices right after a record closed on them.
 */
TEST_F(tx, splice_send_alternate)
{
	const size_t rounds = 70;
	unsigned char *want;
	size_t len = 0, i;
	int pfd[2];

	want = malloc(rounds * (SPLICE_CHUNK + 1) + 1);
	ASSERT_TRUE(!!want);
	ASSERT_EQ(pipe(pfd), 0);
	for (i = 0; i < rounds; i++) {
		send_more_byte(_metadata, self->tx, want, &len, 'a' + i % 26);
		splice_chunk(_metadata, self->tx, pfd, want, &len, i);
	}
	end_and_drain(_metadata, self->tx, &self->p, want, len);
	expect_marker(_metadata, self->tx, &self->p);
	close(pfd[0]);
	close(pfd[1]);
	free(want);
}

/*
 * A typed send whose memory faults part way takes the bytes before the
 * fault. The next plain send must not append to that record and make it
 * data: the alert bytes arrive as an alert record, the data after it as
 * a data record.
 */
TEST_F(tx, record_type_fault_part_way)
{
	char cbuf[CMSG_SPACE(1)] = {};
	struct iovec iov[2] = {
		{ .iov_base = "AB", .iov_len = 2 },
		{ .iov_base = (void *)16, .iov_len = 100 },
	};
	struct msghdr msg = {
		.msg_iov = iov,
		.msg_iovlen = 2,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cmsg) = TYPE_ALERT;
	ASSERT_EQ(sendmsg(self->tx, &msg, 0), 2);
	ASSERT_EQ(send(self->tx, "data", 4, 0), 4);
	expect_record(_metadata, &self->p, TYPE_ALERT, "AB", 2);
	expect_record(_metadata, &self->p, TYPE_DATA, "data", 4);
}

/*
 * A sender with bytes it took waiting for a window the peer keeps shut:
 * blocking sends of whole records with a short SO_SNDTIMEO until one
 * times out, so the window had time to shut and a record waits in kTLS;
 * then SO_SNDTIMEO is back to "forever", the default. Returns the bytes
 * taken; they are buf[0..return).
 */
static size_t stall_sender(struct __test_metadata *_metadata, int tx,
			   const unsigned char *buf)
{
	struct timeval tv = { .tv_usec = 300000 }, forever = {};
	size_t sent = 0;
	ssize_t n;

	ASSERT_EQ(setsockopt(tx, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	do {
		ASSERT_LE(sent + MAX_PLAIN, FILL_MAX)
			TH_LOG("%zu bytes and no timeout", sent);
		n = send(tx, buf + sent, MAX_PLAIN, 0);
		if (n > 0)
			sent += n;
	} while (n == MAX_PLAIN);
	ASSERT_EQ(setsockopt(tx, SOL_SOCKET, SO_SNDTIMEO, &forever,
			     sizeof(forever)), 0);
	return sent;
}

/*
 * close() and shutdown() never wait for the peer's window: a peer that
 * keeps it shut pinned the closing thread until a signal (for NVMe/TCP
 * and SunRPC, kthreads: for good). What sends took still reaches the
 * peer, whole, once it reads.
 */
static void close_while_stalled(struct __test_metadata *_metadata,
				const struct tls_keys *k, bool shut,
				int linger_s)
{
	struct linger lg = { .l_onoff = 1, .l_linger = linger_s };
	struct timespec t0;
	unsigned char *buf;
	struct peer p;
	size_t sent;
	int tx;

	buf = malloc(FILL_MAX);
	ASSERT_TRUE(!!buf);
	fill(buf, FILL_MAX, 21);
	tls_pair(_metadata, SMALL_BUF, SMALL_BUF, k, &tx, &p);
	if (linger_s)
		ASSERT_EQ(setsockopt(tx, SOL_SOCKET, SO_LINGER, &lg,
				     sizeof(lg)), 0);
	sent = stall_sender(_metadata, tx, buf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(shut ? shutdown(tx, SHUT_WR) : close(tx), 0);
	/* SO_LINGER: TCP's close waits that long for the peer, no longer */
	EXPECT_LT(elapsed_ms(&t0), 5000 + linger_s * 1000);
	drain(_metadata, &p, buf, sent);
	expect_eof(_metadata, p.fd);
	if (shut)
		close(tx);
	close(p.fd);
	free(buf);
}

TEST_F(tx, close_zero_window)
{
	close_while_stalled(_metadata, &self->k, false, 0);
}

TEST_F(tx, close_zero_window_linger)
{
	close_while_stalled(_metadata, &self->k, false, 1);
}

TEST_F(tx, shutdown_zero_window)
{
	close_while_stalled(_metadata, &self->k, true, 0);
}

/* Waits up to @ms for @pid to end; true when it did. */
static bool reaped_within(pid_t pid, int ms)
{
	int i, status;

	for (i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * A writer waiting for another, which waits for the peer's window,
 * can be killed: the writers' lock was taken uninterruptibly, so the
 * second writer sat in D state until the peer opened its window.
 */
TEST_F(tx, waiting_writer_killable)
{
	unsigned char *buf;
	pid_t first, second;
	struct peer p;
	int tx;

	buf = calloc(1, FILL_MAX);
	ASSERT_TRUE(!!buf);
	tls_pair(_metadata, SMALL_BUF, SMALL_BUF, &self->k, &tx, &p);
	first = fork();
	ASSERT_GE(first, 0);
	if (!first) {
		send(tx, buf, FILL_MAX, 0);
		_exit(0);
	}
	usleep(300000);
	second = fork();
	ASSERT_GE(second, 0);
	if (!second) {
		send(tx, buf, 1, 0);
		_exit(0);
	}
	usleep(300000);
	ASSERT_EQ(kill(second, SIGKILL), 0);
	EXPECT_TRUE(reaped_within(second, 5000))
		TH_LOG("the second writer outlived SIGKILL");
	kill(first, SIGKILL);
	EXPECT_TRUE(reaped_within(first, 5000));
	kill(second, SIGKILL);
	waitpid(second, NULL, 0);
	close(tx);
	close(p.fd);
	free(buf);
}

/* ---- TLS_TX_MAX_PAYLOAD_LEN (RFC 8449 record size limit) ------------ */

static int set_max_payload(int fd, unsigned int val)
{
	__u16 v = val;

	return setsockopt(fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &v, sizeof(v));
}

static unsigned int get_max_payload(struct __test_metadata *_metadata, int fd)
{
	socklen_t len = sizeof(__u32);
	__u32 v = 0xdeadbeef;

	/* room for more: the kernel must say it wrote two bytes */
	ASSERT_EQ(getsockopt(fd, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &v, &len), 0)
		TH_LOG("getsockopt: %s", strerror(errno));
	ASSERT_EQ(len, sizeof(__u16));
	ASSERT_EQ(v >> 16, 0xdead) TH_LOG("wrote past the u16");
	return v & 0xffff;
}

/* The least value: RFC 8449's 64, less TLS 1.3's content type byte */
static unsigned int max_payload_min(__u16 version)
{
	return version == TLS13 ? 63 : 64;
}

/*
 * The records of one send of @len bytes under a limit of @max: full
 * records of @max bytes, then one with the rest.
 */
static void expect_records_max(struct __test_metadata *_metadata,
			       struct peer *p, unsigned char type,
			       const unsigned char *data, size_t len,
			       size_t max)
{
	size_t n;

	for (; len; data += n, len -= n) {
		n = len < max ? len : max;
		expect_record(_metadata, p, type, data, n);
	}
}

/* The value, its bounds and one past them, the option lengths. */
TEST_F(tx, max_payload_option)
{
	unsigned int min = max_payload_min(variant->version);
	socklen_t len;
	__u16 v;

	EXPECT_EQ(get_max_payload(_metadata, self->tx), MAX_PLAIN);
	EXPECT_EQ(set_max_payload(self->tx, min - 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(set_max_payload(self->tx, MAX_PLAIN + 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(set_max_payload(self->tx, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(set_max_payload(self->tx, 0xffff), -1);
	EXPECT_EQ(errno, EINVAL);
	/* a refused value changes nothing */
	EXPECT_EQ(get_max_payload(_metadata, self->tx), MAX_PLAIN);
	ASSERT_EQ(set_max_payload(self->tx, min), 0);
	EXPECT_EQ(get_max_payload(_metadata, self->tx), min);
	ASSERT_EQ(set_max_payload(self->tx, MAX_PLAIN), 0);
	EXPECT_EQ(get_max_payload(_metadata, self->tx), MAX_PLAIN);

	v = 1000;
	EXPECT_EQ(setsockopt(self->tx, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &v, 1),
		  -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(self->tx, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &v, 4),
		  -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(self->tx, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, NULL,
			     2), -1);
	EXPECT_EQ(errno, EINVAL);
	len = 1;
	EXPECT_EQ(getsockopt(self->tx, SOL_TLS, TLS_TX_MAX_PAYLOAD_LEN, &v,
			     &len), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(get_max_payload(_metadata, self->tx), MAX_PLAIN);
}

/*
 * Set right after the ULP, before any keys: the TLS 1.3 minimum is not
 * known yet, the value carries over to the keys set next.
 */
TEST_F(tx, max_payload_before_keys)
{
	unsigned char data[250];
	struct peer p;
	int tx, rx;

	fill(data, sizeof(data), 61);
	tcp_pair(_metadata, BIG_RCVBUF, 0, &tx, &rx);
	attach_tls(_metadata, tx);
	EXPECT_EQ(get_max_payload(_metadata, tx), MAX_PLAIN);
	EXPECT_EQ(set_max_payload(tx, 63), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(set_max_payload(tx, 100), 0);
	ASSERT_EQ(set_tx(tx, &self->k), 0);
	peer_init(&p, rx, &self->k);
	EXPECT_EQ(get_max_payload(_metadata, tx), 100);
	ASSERT_EQ(send(tx, data, sizeof(data), 0), sizeof(data));
	expect_records_max(_metadata, &p, TYPE_DATA, data, sizeof(data), 100);
	/* with the keys, TLS 1.3 takes one less */
	EXPECT_EQ(set_max_payload(tx, 63), variant->version == TLS13 ? 0 : -1);
	close(tx);
	close(rx);
}

/*
 * Sends at and around each limit, from the least to 2^14: the records on
 * the wire are the limit long, the last one the rest. Sends of a whole
 * record or more from user memory take the borrowed-pages path under
 * GCM and ChaCha20-Poly1305; small ones are copied.
 */
TEST_F(tx, max_payload_records)
{
	unsigned int limits[] = { max_payload_min(variant->version), 64, 65,
				  1000, 2048, 4096, MAX_PLAIN - 1, MAX_PLAIN };
	const size_t buf_len = 3 * MAX_PLAIN + 7;
	unsigned char *buf = malloc(buf_len);
	unsigned int i, j;

	ASSERT_TRUE(!!buf);
	fill(buf, buf_len, 62);
	for (i = 0; i < ARRAY_SIZE(limits); i++) {
		unsigned int max = limits[i];
		size_t sizes[] = { 1, max - 1, max, max + 1, 2 * max,
				   3 * max + 7 };

		ASSERT_EQ(set_max_payload(self->tx, max), 0);
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			ASSERT_EQ(send(self->tx, buf, sizes[j], 0), sizes[j]);
			expect_records_max(_metadata, &self->p, TYPE_DATA, buf,
					   sizes[j], max);
			if (_metadata->exit_code != KSFT_PASS) {
				TH_LOG("limit %u, send of %zu bytes", max,
				       sizes[j]);
				goto out;
			}
		}
	}
	expect_marker(_metadata, self->tx, &self->p);
out:
	free(buf);
}

/* MSG_MORE sends fill records up to the limit, not to 2^14. */
TEST_F(tx, max_payload_more)
{
	unsigned char data[501];
	int i;

	fill(data, sizeof(data), 63);
	ASSERT_EQ(set_max_payload(self->tx, 128), 0);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(send(self->tx, data + 100 * i, 100, MSG_MORE), 100);
	ASSERT_EQ(send(self->tx, data + 500, 1, 0), 1);
	expect_records_max(_metadata, &self->p, TYPE_DATA, data, sizeof(data),
			   128);
	expect_marker(_metadata, self->tx, &self->p);
}

/* sendfile() and splice() hand pages over: their records keep the limit. */
TEST_F(tx, max_payload_sendfile_splice)
{
	const size_t len = 10007;
	unsigned char *buf;
	off_t off = 0;
	int fd, pfd[2];

	buf = malloc(len);
	ASSERT_TRUE(!!buf);
	fill(buf, len, 64);
	fd = file_with(_metadata, buf, len);
	ASSERT_EQ(set_max_payload(self->tx, 1000), 0);
	ASSERT_EQ(sendfile(self->tx, fd, &off, len), len);
	expect_records_max(_metadata, &self->p, TYPE_DATA, buf, len, 1000);

	ASSERT_EQ(set_max_payload(self->tx, 4096), 0);
	ASSERT_EQ(pipe(pfd), 0);
	ASSERT_EQ(write(pfd[1], buf, 9000), 9000);
	ASSERT_EQ(splice(pfd[0], NULL, self->tx, NULL, 9000, 0), 9000);
	expect_records_max(_metadata, &self->p, TYPE_DATA, buf, 9000, 4096);
	expect_marker(_metadata, self->tx, &self->p);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	free(buf);
}

/* A control record longer than the limit goes as several of its type. */
TEST_F(tx, max_payload_control)
{
	unsigned int min = max_payload_min(variant->version);
	unsigned char data[300];

	fill(data, sizeof(data), 65);
	data[0] = 4;	/* not a KeyUpdate */
	ASSERT_EQ(set_max_payload(self->tx, min), 0);
	ASSERT_EQ(send_typed(self->tx, TYPE_HANDSHAKE, data, sizeof(data), 0),
		  sizeof(data));
	expect_records_max(_metadata, &self->p, TYPE_HANDSHAKE, data,
			   sizeof(data), min);
	ASSERT_EQ(send_typed(self->tx, TYPE_ALERT, data, 2, 0), 2);
	expect_record(_metadata, &self->p, TYPE_ALERT, data, 2);
	expect_marker(_metadata, self->tx, &self->p);
}

/* Not while a record is open: its room was counted with the old value. */
TEST_F(tx, max_payload_busy)
{
	unsigned char data[1000];

	fill(data, sizeof(data), 66);
	ASSERT_EQ(set_max_payload(self->tx, 500), 0);
	ASSERT_EQ(send(self->tx, data, 10, MSG_MORE), 10);
	EXPECT_EQ(set_max_payload(self->tx, 300), -1);
	EXPECT_EQ(errno, EBUSY);
	EXPECT_EQ(get_max_payload(_metadata, self->tx), 500);
	ASSERT_EQ(send(self->tx, data + 10, 600, 0), 600);
	expect_records_max(_metadata, &self->p, TYPE_DATA, data, 610, 500);
	ASSERT_EQ(set_max_payload(self->tx, 300), 0);
	ASSERT_EQ(send(self->tx, data, 700, 0), 700);
	expect_records_max(_metadata, &self->p, TYPE_DATA, data, 700, 300);
}

/*
 * The limit belongs to the connection: new TLS 1.3 keys (a KeyUpdate)
 * keep it. TLS 1.2 has no KeyUpdate: TLS_TX again is EBUSY, and the
 * limit stays too.
 */
TEST_F(tx, max_payload_keyupdate)
{
	static const unsigned char key_update[5] = { 24, 0, 0, 1, 0 };
	unsigned char data[250];
	struct tls_keys k2 = self->k;

	fill(data, sizeof(data), 67);
	ASSERT_EQ(set_max_payload(self->tx, 100), 0);
	ASSERT_EQ(send(self->tx, data, sizeof(data), 0), sizeof(data));
	expect_records_max(_metadata, &self->p, TYPE_DATA, data, sizeof(data),
			   100);
	k2.key[0] ^= 0xff;
	memset(k2.rec_seq, 0, sizeof(k2.rec_seq));
	if (variant->version == TLS13) {
		ASSERT_EQ(send_typed(self->tx, TYPE_HANDSHAKE, key_update,
				     sizeof(key_update), 0),
			  sizeof(key_update));
		expect_record(_metadata, &self->p, TYPE_HANDSHAKE, key_update,
			      sizeof(key_update));
		ASSERT_EQ(set_tx(self->tx, &k2), 0);
		peer_init(&self->p, self->p.fd, &k2);
	} else {
		EXPECT_EQ(set_tx(self->tx, &k2), -1);
		EXPECT_EQ(errno, EBUSY);
	}
	EXPECT_EQ(get_max_payload(_metadata, self->tx), 100);
	ASSERT_EQ(send(self->tx, data, sizeof(data), 0), sizeof(data));
	expect_records_max(_metadata, &self->p, TYPE_DATA, data, sizeof(data),
			   100);
	expect_marker(_metadata, self->tx, &self->p);
}

/*
 * TLS_INFO_TX_MAX_PAYLOAD_LEN of @fd as sock_diag reports it (the
 * INET_ULP_INFO_TLS nest of INET_DIAG_ULP_INFO), or -1 without it.
 */
static int diag_max_payload(struct __test_metadata *_metadata, int fd)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} rq = {};
	struct sockaddr_in local, remote;
	socklen_t alen = sizeof(local);
	struct inet_diag_msg *m;
	struct rtattr *a, *b, *c;
	struct nlmsghdr *nlh;
	int nl, len, blen, clen, ret = -1;
	char buf[8192];
	ssize_t n;

	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&local, &alen), 0);
	alen = sizeof(remote);
	ASSERT_EQ(getpeername(fd, (struct sockaddr *)&remote, &alen), 0);
	nl = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	ASSERT_GE(nl, 0) TH_LOG("NETLINK_SOCK_DIAG: %s", strerror(errno));
	rq.nlh.nlmsg_len = sizeof(rq);
	rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	rq.nlh.nlmsg_flags = NLM_F_REQUEST;
	rq.req.sdiag_family = AF_INET;
	rq.req.sdiag_protocol = IPPROTO_TCP;
	rq.req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
	rq.req.idiag_states = ~0U;
	rq.req.id.idiag_sport = local.sin_port;
	rq.req.id.idiag_dport = remote.sin_port;
	rq.req.id.idiag_src[0] = local.sin_addr.s_addr;
	rq.req.id.idiag_dst[0] = remote.sin_addr.s_addr;
	rq.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	rq.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	ASSERT_EQ(send(nl, &rq, sizeof(rq), 0), sizeof(rq));
	n = recv(nl, buf, sizeof(buf), 0);
	ASSERT_GT(n, 0);
	nlh = (struct nlmsghdr *)buf;
	ASSERT_TRUE(NLMSG_OK(nlh, n));
	ASSERT_EQ(nlh->nlmsg_type, SOCK_DIAG_BY_FAMILY)
		TH_LOG("sock_diag answered type %d (error %d)",
		       nlh->nlmsg_type,
		       ((struct nlmsgerr *)NLMSG_DATA(nlh))->error);
	m = NLMSG_DATA(nlh);
	len = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	for (a = (struct rtattr *)(m + 1); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if ((a->rta_type & NLA_TYPE_MASK) != INET_DIAG_ULP_INFO)
			continue;
		blen = RTA_PAYLOAD(a);
		for (b = RTA_DATA(a); RTA_OK(b, blen); b = RTA_NEXT(b, blen)) {
			if ((b->rta_type & NLA_TYPE_MASK) != INET_ULP_INFO_TLS)
				continue;
			clen = RTA_PAYLOAD(b);
			for (c = RTA_DATA(b); RTA_OK(c, clen);
			     c = RTA_NEXT(c, clen))
				if ((c->rta_type & NLA_TYPE_MASK) ==
				    TLS_INFO_TX_MAX_PAYLOAD_LEN) {
					ASSERT_EQ(RTA_PAYLOAD(c), 2);
					ret = *(__u16 *)RTA_DATA(c);
				}
		}
	}
	close(nl);
	return ret;
}

/* sock_diag reports the value, the default one too. */
TEST_F(tx, max_payload_diag)
{
	EXPECT_EQ(diag_max_payload(_metadata, self->tx), MAX_PLAIN);
	ASSERT_EQ(set_max_payload(self->tx, 1000), 0);
	EXPECT_EQ(diag_max_payload(_metadata, self->tx), 1000);
}

TEST_HARNESS_MAIN
