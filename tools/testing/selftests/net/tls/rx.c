// SPDX-License-Identifier: GPL-2.0
/*
 * The kTLS software receive path, fed from user space.
 *
 * The receiver is a TCP socket with the "tls" ULP and TLS_RX keys; the
 * sender is a plain TCP socket. The test seals every record itself with
 * OpenSSL (RFC 5246, 5288, 6655, 7905 and 8446 rules) and writes the
 * bytes raw, so it controls what the kernel's parser and decrypt path
 * see: record boundaries that cross TCP writes, padding, sizes at and
 * past the limits, bad headers and tags, sequence numbers near the wrap,
 * control records and TLS 1.3 KeyUpdate.
 *
 * Cases named rekey_* check the Linux 6.14 KeyUpdate semantics; a 6.12
 * kernel (upstream or Debian) has no RX rekey and fails them. A few
 * cases assert the contract where the 6.12 base kernel does something
 * else, and fail there too; each says why: seq_wrap, seq_wrap_queued,
 * too_short_sticky and outer_type_not_data.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>
#include <netpacket/packet.h>

#include <linux/bpf.h>
#include <linux/kcm.h>
#include <linux/tcp.h>
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
#ifndef EKEYEXPIRED
#define EKEYEXPIRED 127
#endif

#define TLS12 TLS_1_2_VERSION
#define TLS13 TLS_1_3_VERSION

#define HDR_LEN		5
#define TAG_LEN		16
#define NONCE_LEN	12
#define EXPLICIT_LEN	8
#define MAX_PLAIN	16384
/* RFC 8446 5.4: the inner plaintext (content, type, padding) <= 2^14 + 1 */
#define MAX_INNER	(MAX_PLAIN + 1)
/* RFC 8446 5.2: no TLSCiphertext is longer than 2^14 + 256 */
#define MAX_CIPHERTEXT	(MAX_PLAIN + 256)
/* Room for any record we build, the over-long ones included. */
#define WIRE_MAX	(HDR_LEN + MAX_CIPHERTEXT + 64)

#define TYPE_ALERT	21
#define TYPE_HANDSHAKE	22
#define TYPE_DATA	23

/* Handshake message types (RFC 8446 section 4). */
#define HS_NEW_SESSION_TICKET	4
#define HS_KEY_UPDATE		24

/* Timeout of a blocking recv: a record that never comes fails soon. */
#define RCVTIMEO_MS	2000

enum aead_mode { MODE_GCM, MODE_CCM, MODE_CHACHA };

struct cipher {
	__u16 id;
	const char *name;
	enum aead_mode mode;
	unsigned int key_len;
	unsigned int salt_len;
	unsigned int iv_len;
	unsigned int info_len;	/* the uAPI struct's size: TLS_RX optlen */
	const char *evp;	/* the OpenSSL AEAD that seals its records */
	const char *block;	/* or, when evp is NULL, our GCM/CCM on this */
};

/*
 * Debian's OpenSSL 3.0 has no SM4-GCM or SM4-CCM, so SM4 records are
 * sealed by the GCM and CCM modes below (NIST SP 800-38D, 800-38C) over
 * OpenSSL's SM4-ECB. AES-CCM goes through the same code, so that a
 * zero-length TLS 1.2 record seals without depending on how OpenSSL's
 * CCM treats an empty message; soft_aead_selftest checks the modes
 * against RFC 8998 and against OpenSSL's AES-GCM and AES-CCM.
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
		.block = "AES-128-ECB",
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

/* One direction's keys, as user space hands them to TLS_RX. */
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

/* The TLS_RX optval: header, then iv, key, salt, rec_seq (uAPI order). */
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
 * Distinct keys per cipher and @gen (a KeyUpdate makes a new generation).
 * rec_seq sits just below a byte boundary, so a kernel that counts it as
 * anything but a 64-bit big-endian number fails within a few records.
 */
static void make_keys(struct tls_keys *k, __u16 version, __u16 cipher,
		      unsigned int gen)
{
	static const unsigned char seq[8] = {
		0x00, 0x00, 0x00, 0x02, 0xff, 0xff, 0xff, 0xfe,
	};
	unsigned int i;

	memset(k, 0, sizeof(*k));
	k->version = version;
	k->c = find_cipher(cipher);
	for (i = 0; i < sizeof(k->key); i++)
		k->key[i] = 0x21 + 7 * i + cipher + 0x35 * gen;
	for (i = 0; i < sizeof(k->iv); i++)
		k->iv[i] = 0xc3 - 5 * i + gen;
	k->salt[0] = 0x0d;
	k->salt[1] = 0xec;
	k->salt[2] = 0xaf;
	k->salt[3] = 0x00 + gen;
	memcpy(k->rec_seq, seq, sizeof(seq));
}

/* ---- AEAD sealing --------------------------------------------------- */

/* OpenSSL's AEAD @name: @out gets the ciphertext, then the tag. */
static bool evp_seal(const char *name, bool ccm, const unsigned char *key,
		     const unsigned char *nonce, const unsigned char *aad,
		     size_t aad_len, const unsigned char *in, size_t len,
		     unsigned char *out)
{
	const EVP_CIPHER *alg = EVP_get_cipherbyname(name);
	EVP_CIPHER_CTX *ctx;
	int n, ok;

	if (!alg)
		return false;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return false;
	/* CCM wants the tag length and the message length up front. */
	ok = EVP_EncryptInit_ex(ctx, alg, NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, NONCE_LEN,
				 NULL) &&
	     (!ccm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
					  NULL)) &&
	     EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) &&
	     (!ccm || EVP_EncryptUpdate(ctx, NULL, &n, NULL, len)) &&
	     (!aad_len || EVP_EncryptUpdate(ctx, NULL, &n, aad, aad_len)) &&
	     (!len || EVP_EncryptUpdate(ctx, out, &n, in, len)) &&
	     EVP_EncryptFinal_ex(ctx, out + len, &n) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
				 out + len);
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

static void block_encrypt(EVP_CIPHER_CTX *ecb, const unsigned char *in,
			  unsigned char *out)
{
	int n;

	EVP_EncryptUpdate(ecb, out, &n, in, 16);
}

/* x = x * h in GF(2^128), bit-reflected (SP 800-38D section 6.3). */
static void gf128_mul(unsigned char *x, const unsigned char *h)
{
	__u64 vh = get_be64(h), vl = get_be64(h + 8), zh = 0, zl = 0;
	__u64 carry;
	int i;

	for (i = 0; i < 128; i++) {
		if (x[i >> 3] & (0x80 >> (i & 7))) {
			zh ^= vh;
			zl ^= vl;
		}
		carry = vl & 1;
		vl = vl >> 1 | vh << 63;
		vh >>= 1;
		if (carry)
			vh ^= 0xe1ULL << 56;
	}
	put_be64(x, zh);
	put_be64(x + 8, zl);
}

/* GHASH state @y absorbs @p, zero-padded to a whole number of blocks. */
static void ghash(unsigned char *y, const unsigned char *h,
		  const unsigned char *p, size_t len)
{
	size_t i, n;

	while (len) {
		n = len < 16 ? len : 16;
		for (i = 0; i < n; i++)
			y[i] ^= p[i];
		gf128_mul(y, h);
		p += n;
		len -= n;
	}
}

/* CBC-MAC state @x absorbs @p, zero-padded to whole blocks. */
static void cbc_mac(EVP_CIPHER_CTX *ecb, unsigned char *x,
		    const unsigned char *p, size_t len)
{
	size_t i, n;

	while (len) {
		n = len < 16 ? len : 16;
		for (i = 0; i < n; i++)
			x[i] ^= p[i];
		block_encrypt(ecb, x, x);
		p += n;
		len -= n;
	}
}

/* CTR mode from counter block @ctr; its last @width bytes count. */
static void ctr_xor(EVP_CIPHER_CTX *ecb, unsigned char *ctr, int width,
		    const unsigned char *in, size_t len, unsigned char *out)
{
	unsigned char ks[16];
	size_t i, n;
	int b;

	while (len) {
		n = len < 16 ? len : 16;
		block_encrypt(ecb, ctr, ks);
		for (i = 0; i < n; i++)
			out[i] = in[i] ^ ks[i];
		for (b = 15; b >= 16 - width; b--)
			if (++ctr[b])
				break;
		in += n;
		out += n;
		len -= n;
	}
}

static void soft_gcm_seal(EVP_CIPHER_CTX *ecb, const unsigned char *nonce,
			  const unsigned char *aad, size_t aad_len,
			  const unsigned char *in, size_t len,
			  unsigned char *out)
{
	unsigned char h[16] = {}, j0[16] = {}, y[16] = {};
	unsigned char ctr[16], lens[16], ek[16];
	int i;

	block_encrypt(ecb, h, h);
	memcpy(j0, nonce, NONCE_LEN);
	j0[15] = 1;
	memcpy(ctr, j0, 16);
	ctr[15] = 2;
	ctr_xor(ecb, ctr, 4, in, len, out);
	ghash(y, h, aad, aad_len);
	ghash(y, h, out, len);
	put_be64(lens, (__u64)aad_len << 3);
	put_be64(lens + 8, (__u64)len << 3);
	ghash(y, h, lens, 16);
	block_encrypt(ecb, j0, ek);
	for (i = 0; i < TAG_LEN; i++)
		out[len + i] = y[i] ^ ek[i];
}

static void soft_ccm_seal(EVP_CIPHER_CTX *ecb, const unsigned char *nonce,
			  const unsigned char *aad, size_t aad_len,
			  const unsigned char *in, size_t len,
			  unsigned char *out)
{
	/* 12-byte nonce: 3 length bytes (L' = 2); 16-byte tag: M' = 7. */
	unsigned char b0[16] = {}, x[16] = {}, a[16] = {}, s0[16];
	unsigned char hdr_aad[2 + 32];
	int i;

	b0[0] = (aad_len ? 0x40 : 0) | ((TAG_LEN - 2) / 2) << 3 | 2;
	memcpy(b0 + 1, nonce, NONCE_LEN);
	b0[13] = len >> 16;
	b0[14] = len >> 8;
	b0[15] = len;
	cbc_mac(ecb, x, b0, 16);
	if (aad_len) {
		hdr_aad[0] = aad_len >> 8;
		hdr_aad[1] = aad_len;
		memcpy(hdr_aad + 2, aad, aad_len);
		cbc_mac(ecb, x, hdr_aad, aad_len + 2);
	}
	cbc_mac(ecb, x, in, len);

	a[0] = 2;
	memcpy(a + 1, nonce, NONCE_LEN);
	block_encrypt(ecb, a, s0);
	a[15] = 1;
	ctr_xor(ecb, a, 3, in, len, out);
	for (i = 0; i < TAG_LEN; i++)
		out[len + i] = x[i] ^ s0[i];
}

/* GCM or CCM over the ECB block cipher @block. */
static bool soft_seal(const char *block, enum aead_mode mode,
		      const unsigned char *key, const unsigned char *nonce,
		      const unsigned char *aad, size_t aad_len,
		      const unsigned char *in, size_t len, unsigned char *out)
{
	const EVP_CIPHER *alg = EVP_get_cipherbyname(block);
	EVP_CIPHER_CTX *ecb;
	bool ok = false;

	if (!alg || aad_len > 32)
		return false;
	ecb = EVP_CIPHER_CTX_new();
	if (ecb && EVP_EncryptInit_ex(ecb, alg, NULL, key, NULL) &&
	    EVP_CIPHER_CTX_set_padding(ecb, 0)) {
		if (mode == MODE_GCM)
			soft_gcm_seal(ecb, nonce, aad, aad_len, in, len, out);
		else
			soft_ccm_seal(ecb, nonce, aad, aad_len, in, len, out);
		ok = true;
	}
	EVP_CIPHER_CTX_free(ecb);
	return ok;
}

static bool aead_seal(const struct cipher *c, const unsigned char *key,
		      const unsigned char *nonce, const unsigned char *aad,
		      size_t aad_len, const unsigned char *in, size_t len,
		      unsigned char *out)
{
	if (c->evp)
		return evp_seal(c->evp, false, key, nonce, aad, aad_len, in,
				len, out);
	return soft_seal(c->block, c->mode, key, nonce, aad, aad_len, in, len,
			 out);
}

/* ---- records -------------------------------------------------------- */

/* RFC 5288: TLS 1.2 GCM and CCM carry 8 bytes of nonce in each record. */
static bool has_explicit_nonce(const struct tls_keys *k)
{
	return k->version == TLS12 && k->c->mode != MODE_CHACHA;
}

/* Wire bytes after the header of a record with no plaintext at all. */
static size_t min_body(const struct tls_keys *k)
{
	if (has_explicit_nonce(k))
		return EXPLICIT_LEN + TAG_LEN;
	if (k->version == TLS13)
		return 1 + TAG_LEN;
	return TAG_LEN;
}

/* The longest valid record body: 2^14 plaintext (2^14 + 1 inner). */
static size_t max_body(const struct tls_keys *k)
{
	return MAX_PLAIN + min_body(k);
}

/*
 * The explicit nonce we put on the wire. It is not the sequence number
 * (RFC 5288 lets the sender choose), so a receiver that builds the nonce
 * from its own counter instead of reading it fails.
 */
static __u64 explicit_nonce(__u64 seq)
{
	return seq ^ 0x5aa5c33c0ff0e11eULL;
}

/* RFC 7905, RFC 8446 5.3: the static iv XOR the left-padded seq. */
static void xor_nonce(const struct tls_keys *k, __u64 seq,
		      unsigned char *nonce)
{
	int i;

	memcpy(nonce, k->salt, k->c->salt_len);
	memcpy(nonce + k->c->salt_len, k->iv, k->c->iv_len);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (seq >> (56 - 8 * i)) & 0xff;
}

/*
 * Seals one record into @out and returns its length on the wire.
 * TLS 1.2: header type @type, AAD = seq || type || version || length.
 * TLS 1.3: outer type 23, inner plaintext = data || @type || @pad zeros,
 * AAD = the header. @type 0 with no data makes an all-zero inner
 * plaintext.
 */
static size_t seal_record(const struct tls_keys *k, __u64 seq,
			  unsigned char type, const void *data, size_t len,
			  size_t pad, unsigned char *out)
{
	unsigned char nonce[NONCE_LEN], aad[13], *inner, *body;
	size_t inner_len = len, aad_len, body_len;

	if (k->version == TLS13)
		inner_len += 1 + pad;
	inner = calloc(1, inner_len + 1);
	if (!inner)
		abort();
	if (len)
		memcpy(inner, data, len);
	if (k->version == TLS13)
		inner[len] = type;

	body_len = inner_len + TAG_LEN;
	body = out + HDR_LEN;
	out[0] = k->version == TLS13 ? TYPE_DATA : type;
	out[1] = 3;
	out[2] = 3;

	memset(nonce, 0, sizeof(nonce));
	if (has_explicit_nonce(k)) {
		memcpy(nonce, k->salt, 4);
		put_be64(nonce + 4, explicit_nonce(seq));
		memcpy(body, nonce + 4, EXPLICIT_LEN);
		body += EXPLICIT_LEN;
		body_len += EXPLICIT_LEN;
	} else {
		xor_nonce(k, seq, nonce);
	}
	out[3] = body_len >> 8;
	out[4] = body_len & 0xff;

	if (k->version == TLS13) {
		memcpy(aad, out, HDR_LEN);
		aad_len = HDR_LEN;
	} else {
		put_be64(aad, seq);
		aad[8] = type;
		aad[9] = 3;
		aad[10] = 3;
		aad[11] = len >> 8;
		aad[12] = len & 0xff;
		aad_len = 13;
	}
	if (!aead_seal(k->c, k->key, nonce, aad, aad_len, inner, inner_len,
		       body))
		abort();
	free(inner);
	return HDR_LEN + body_len;
}

/* The plain TCP end: seals with @k and counts sequence numbers. */
struct sender {
	int fd;
	struct tls_keys k;
	__u64 seq;
};

static void sender_init(struct sender *s, int fd, const struct tls_keys *k)
{
	s->fd = fd;
	s->k = *k;
	s->seq = get_be64(k->rec_seq);
}

/* Writes all of @buf to @fd. */
static void raw_write(struct __test_metadata *_metadata, int fd,
		      const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		ASSERT_GT(n, 0) TH_LOG("send: %s", strerror(errno));
		p += n;
		len -= n;
	}
}

/* Seals the next record into a new buffer; *@wire_len gets its size. */
static unsigned char *build(struct sender *s, unsigned char type,
			    const void *data, size_t len, size_t pad,
			    size_t *wire_len)
{
	unsigned char *wire = malloc(WIRE_MAX);

	if (!wire)
		abort();
	*wire_len = seal_record(&s->k, s->seq++, type, data, len, pad, wire);
	return wire;
}

static void send_rec_pad(struct __test_metadata *_metadata, struct sender *s,
			 unsigned char type, const void *data, size_t len,
			 size_t pad)
{
	unsigned char *wire;
	size_t n;

	wire = build(s, type, data, len, pad, &n);
	raw_write(_metadata, s->fd, wire, n);
	free(wire);
}

static void send_rec(struct __test_metadata *_metadata, struct sender *s,
		     unsigned char type, const void *data, size_t len)
{
	send_rec_pad(_metadata, s, type, data, len, 0);
}

static void send_data(struct __test_metadata *_metadata, struct sender *s,
		      const void *data, size_t len)
{
	send_rec(_metadata, s, TYPE_DATA, data, len);
}

/* ---- receiving ------------------------------------------------------ */

/*
 * recvmsg() with room for a TLS_GET_RECORD_TYPE cmsg when @type is not
 * NULL; *@type is the record type reported, or -1 when none was. When
 * @msg_flags is not NULL it gets what the kernel set in msg_flags.
 */
static ssize_t recv_flags(int fd, void *buf, size_t len, int flags, int *type,
			  int *msg_flags)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	if (type) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		*type = -1;
	}
	n = recvmsg(fd, &msg, flags);
	if (msg_flags)
		*msg_flags = msg.msg_flags;
	if (n < 0 || !type)
		return n;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_TLS &&
		    cmsg->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *CMSG_DATA(cmsg);
	return n;
}

static ssize_t recv_typed(int fd, void *buf, size_t len, int flags, int *type)
{
	return recv_flags(fd, buf, len, flags, type, NULL);
}

/* One recv returns exactly @len bytes of a record of @want_type. */
static void expect_rec(struct __test_metadata *_metadata, int fd,
		       int want_type, const void *data, size_t len)
{
	unsigned char *buf = malloc(len + 64);
	ssize_t n;
	int type;

	ASSERT_TRUE(!!buf);
	n = recv_typed(fd, buf, len + 64, 0, &type);
	ASSERT_EQ(n, (ssize_t)len) TH_LOG("recv: %s",
					  n < 0 ? strerror(errno) : "short");
	EXPECT_EQ(type, want_type);
	EXPECT_EQ(memcmp(buf, data, len), 0) TH_LOG("data differs");
	free(buf);
}

/* Reads data records until @len bytes came; they must be @data. */
static void expect_stream(struct __test_metadata *_metadata, int fd,
			  const unsigned char *data, size_t len)
{
	unsigned char *buf = malloc(len + 1);
	size_t got = 0;
	ssize_t n;
	int type;

	ASSERT_TRUE(!!buf);
	while (got < len) {
		n = recv_typed(fd, buf + got, len + 1 - got, 0, &type);
		ASSERT_GT(n, 0) TH_LOG("after %zu of %zu bytes: %s", got, len,
				       n ? strerror(errno) : "EOF");
		ASSERT_EQ(type, TYPE_DATA);
		got += n;
	}
	ASSERT_EQ(got, len);
	EXPECT_EQ(memcmp(buf, data, len), 0) TH_LOG("data differs");
	free(buf);
}

/* The next recv fails with @err. */
static void expect_err(struct __test_metadata *_metadata, int fd, int flags,
		       int err)
{
	unsigned char buf[256];
	ssize_t n;
	int type;

	n = recv_typed(fd, buf, sizeof(buf), flags, &type);
	ASSERT_EQ(n, -1) TH_LOG("recv gave %zd bytes (type %d), not %s", n,
				type, strerror(err));
	ASSERT_EQ(errno, err) TH_LOG("recv: %s, not %s", strerror(errno),
				     strerror(err));
}

static short poll_events(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	return pfd.revents;
}

/* ---- sockets -------------------------------------------------------- */

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

static void sleep_ms(int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};

	nanosleep(&ts, NULL);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

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

static void set_rcvtimeo(struct __test_metadata *_metadata, int fd, int ms)
{
	struct timeval tv = {
		.tv_sec = ms / 1000,
		.tv_usec = (ms % 1000) * 1000,
	};

	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
		  0);
}

/*
 * A connected loopback pair: *@tx sends with TCP_NODELAY, so each write
 * leaves as its own segment; *@rx gives up a blocking recv after
 * RCVTIMEO_MS.
 */
static void tcp_pair(struct __test_metadata *_metadata, int *tx, int *rx)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(addr);
	int lfd, one = 1;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(bind(lfd, (struct sockaddr *)&addr, len), 0);
	ASSERT_EQ(listen(lfd, 1), 0);
	ASSERT_EQ(getsockname(lfd, (struct sockaddr *)&addr, &len), 0);
	*tx = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(*tx, 0);
	ASSERT_EQ(connect(*tx, (struct sockaddr *)&addr, len), 0);
	*rx = accept(lfd, NULL, NULL);
	ASSERT_GE(*rx, 0);
	close(lfd);
	ASSERT_EQ(setsockopt(*tx, IPPROTO_TCP, TCP_NODELAY, &one,
			     sizeof(one)), 0);
	set_rcvtimeo(_metadata, *rx, RCVTIMEO_MS);
}

static void attach_tls(struct __test_metadata *_metadata, int fd)
{
	ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 4), 0)
		TH_LOG("TCP_ULP tls: %s", strerror(errno));
}

static int set_rx(int fd, const struct tls_keys *k)
{
	unsigned char info[64];
	size_t len = pack_info(k, info);

	return setsockopt(fd, SOL_TLS, TLS_RX, info, len);
}

/* *@rx: TLS_RX with @k; @s: the plain TCP end that seals with @k. */
static void rx_pair(struct __test_metadata *_metadata,
		    const struct tls_keys *k, struct sender *s, int *rx)
{
	int tx;

	tcp_pair(_metadata, &tx, rx);
	attach_tls(_metadata, *rx);
	ASSERT_EQ(set_rx(*rx, k), 0) TH_LOG("TLS_RX %s: %s", k->c->name,
					    strerror(errno));
	sender_init(s, tx, k);
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

/* Writes @len bytes after @delay_ms, from a thread. */
struct late_write {
	pthread_t thread;
	int fd;
	int delay_ms;
	unsigned char *buf;
	size_t len;
	int failed;
};

static void *late_write_fn(void *arg)
{
	struct late_write *w = arg;
	size_t off = 0;
	ssize_t n;

	sleep_ms(w->delay_ms);
	while (off < w->len) {
		n = send(w->fd, w->buf + off, w->len - off, MSG_NOSIGNAL);
		if (n <= 0) {
			w->failed = 1;
			break;
		}
		off += n;
	}
	return NULL;
}

/* Seals the sender's next data record now and writes it @delay_ms later. */
static void write_later(struct __test_metadata *_metadata, struct sender *s,
			struct late_write *w, const void *data, size_t len,
			int delay_ms)
{
	memset(w, 0, sizeof(*w));
	w->fd = s->fd;
	w->delay_ms = delay_ms;
	w->buf = build(s, TYPE_DATA, data, len, 0, &w->len);
	ASSERT_EQ(pthread_create(&w->thread, NULL, late_write_fn, w), 0);
}

static void join_later(struct __test_metadata *_metadata,
		       struct late_write *w)
{
	pthread_join(w->thread, NULL);
	free(w->buf);
	EXPECT_EQ(w->failed, 0);
}

/* ---- tests without a fixture ---------------------------------------- */

/* First: every test below needs the ULP; its absence fails, never skips. */
TEST(ulp_registered)
{
	expect_ulp_registered(_metadata);
}

/*
 * Our GCM and CCM must be right, or the SM4 and AES-CCM variants prove
 * nothing: RFC 8998 appendix A gives SM4-GCM and SM4-CCM answers, and on
 * AES they must agree with OpenSSL's own GCM and CCM.
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

static const unsigned char rfc8998_pt[8] = {
	0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0xee, 0xaa,
};

/* Ciphertext || tag, RFC 8998 A.1 (GCM) and A.2 (CCM). */
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

TEST(soft_aead_selftest)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 100, MAX_INNER };
	static const size_t aad_lens[] = { 13, 5, 0 };
	unsigned char key[16], nonce[12], aad[13], pt[64], out[80];
	unsigned char *in, *soft, *ref;
	enum aead_mode mode;
	unsigned int i;
	size_t len;
	int j;

	/* RFC 8998: 8 bytes each of aa bb cc dd ee ff ee aa. */
	for (j = 0; j < 64; j++)
		pt[j] = rfc8998_pt[j / 8];
	ASSERT_TRUE(soft_seal("SM4-ECB", MODE_GCM, rfc8998_key, rfc8998_nonce,
			      rfc8998_aad, sizeof(rfc8998_aad), pt, 64, out));
	EXPECT_EQ(memcmp(out, rfc8998_gcm, 80), 0);
	ASSERT_TRUE(soft_seal("SM4-ECB", MODE_CCM, rfc8998_key, rfc8998_nonce,
			      rfc8998_aad, sizeof(rfc8998_aad), pt, 64, out));
	EXPECT_EQ(memcmp(out, rfc8998_ccm, 80), 0);

	in = malloc(MAX_INNER);
	soft = malloc(MAX_INNER + TAG_LEN);
	ref = malloc(MAX_INNER + TAG_LEN);
	ASSERT_TRUE(in && soft && ref);
	for (mode = MODE_GCM; mode <= MODE_CCM; mode++) {
		for (i = 0; i < ARRAY_SIZE(lens); i++) {
			len = lens[i];
			/* OpenSSL's CCM cannot be trusted with len 0 */
			if (mode == MODE_CCM && !len)
				continue;
			fill(key, sizeof(key), 10 + i);
			fill(nonce, sizeof(nonce), 20 + i);
			fill(aad, sizeof(aad), 30 + i);
			fill(in, len, 40 + i);
			ASSERT_TRUE(soft_seal("AES-128-ECB", mode, key, nonce,
					      aad, aad_lens[i % 3], in, len,
					      soft));
			ASSERT_TRUE(evp_seal(mode == MODE_CCM ? "AES-128-CCM" :
					     "AES-128-GCM", mode == MODE_CCM,
					     key, nonce, aad, aad_lens[i % 3],
					     in, len, ref));
			EXPECT_EQ(memcmp(soft, ref, len + TAG_LEN), 0)
				TH_LOG("mode %d length %zu", mode, len);
		}
	}
	free(in);
	free(soft);
	free(ref);
}

/*
 * TlsRxSw counts sockets that got software RX keys, TlsCurrRxSw those
 * that have them now; attaching alone or a refused TLS_RX counts nothing.
 */
TEST(tls_stat_rx)
{
	long curr0, total0;
	struct tls_keys k;
	int tx1, rx1, tx2, rx2;

	curr0 = read_tls_stat(_metadata, "TlsCurrRxSw");
	total0 = read_tls_stat(_metadata, "TlsRxSw");
	tcp_pair(_metadata, &tx1, &rx1);
	tcp_pair(_metadata, &tx2, &rx2);
	attach_tls(_metadata, rx1);
	attach_tls(_metadata, rx2);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrRxSw"), curr0);
	make_keys(&k, 0x0305, TLS_CIPHER_AES_GCM_128, 0);
	EXPECT_EQ(set_rx(rx1, &k), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrRxSw"), curr0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxSw"), total0);

	make_keys(&k, TLS12, TLS_CIPHER_AES_GCM_128, 0);
	ASSERT_EQ(set_rx(rx1, &k), 0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrRxSw"), curr0 + 1);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxSw"), total0 + 1);
	make_keys(&k, TLS13, TLS_CIPHER_CHACHA20_POLY1305, 0);
	ASSERT_EQ(set_rx(rx2, &k), 0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrRxSw"), curr0 + 2);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxSw"), total0 + 2);

	close(rx1);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrRxSw"), curr0 + 1);
	close(rx2);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsCurrRxSw"), curr0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxSw"), total0 + 2);
	close(tx1);
	close(tx2);
}

/*
 * TLS 1.2 has no KeyUpdate: a second TLS_RX is EBUSY, whatever it
 * carries, and the socket goes on decrypting with its first keys.
 */
TEST(set_rx_twice_tls12)
{
	struct tls_keys k, other;
	struct sender s;
	unsigned int i;
	int rx;

	for (i = 0; i < ARRAY_SIZE(ciphers); i++) {
		make_keys(&k, TLS12, ciphers[i].id, 0);
		rx_pair(_metadata, &k, &s, &rx);
		send_data(_metadata, &s, "one", 3);
		make_keys(&other, TLS12, ciphers[i].id, 1);
		memset(other.rec_seq, 0, sizeof(other.rec_seq));
		EXPECT_EQ(set_rx(rx, &other), -1);
		EXPECT_EQ(errno, EBUSY) TH_LOG("%s", k.c->name);
		EXPECT_EQ(set_rx(rx, &k), -1);
		EXPECT_EQ(errno, EBUSY) TH_LOG("%s", k.c->name);
		send_data(_metadata, &s, "two", 3);
		expect_stream(_metadata, rx, (const unsigned char *)"onetwo",
			      6);
		close(s.fd);
		close(rx);
	}
}

/* TLS_RX_EXPECT_NO_PAD is a TLS 1.3 option that needs RX keys. */
TEST(no_pad_needs_tls13_rx)
{
	struct tls_keys k;
	struct sender s;
	int tx, rx, one = 1;

	tcp_pair(_metadata, &tx, &rx);
	attach_tls(_metadata, rx);
	EXPECT_EQ(setsockopt(rx, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
			     sizeof(one)), -1);
	EXPECT_EQ(errno, EINVAL);
	close(tx);
	close(rx);

	make_keys(&k, TLS12, TLS_CIPHER_AES_GCM_128, 0);
	rx_pair(_metadata, &k, &s, &rx);
	EXPECT_EQ(setsockopt(rx, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
			     sizeof(one)), -1);
	EXPECT_EQ(errno, EINVAL);
	send_data(_metadata, &s, "ok", 2);
	expect_rec(_metadata, rx, TYPE_DATA, "ok", 2);
	close(s.fd);
	close(rx);
}

/*
 * SO_RCVTIMEO: with half a record queued, a blocking recv gives up with
 * EAGAIN after the timeout, not before, and the half record still
 * completes afterwards.
 */
TEST(rcvtimeo)
{
	unsigned char *wire;
	struct timespec t0;
	struct tls_keys k;
	struct sender s;
	size_t n;
	long ms;
	int rx;

	make_keys(&k, TLS13, TLS_CIPHER_AES_GCM_128, 0);
	rx_pair(_metadata, &k, &s, &rx);
	set_rcvtimeo(_metadata, rx, 300);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_err(_metadata, rx, 0, EAGAIN);
	ms = elapsed_ms(&t0);
	EXPECT_GE(ms, 250);
	EXPECT_LT(ms, 1500);

	wire = build(&s, TYPE_DATA, "timeout", 7, 0, &n);
	raw_write(_metadata, s.fd, wire, n / 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_err(_metadata, rx, 0, EAGAIN);
	ms = elapsed_ms(&t0);
	EXPECT_GE(ms, 250);
	EXPECT_LT(ms, 1500);

	raw_write(_metadata, s.fd, wire + n / 2, n - n / 2);
	expect_rec(_metadata, rx, TYPE_DATA, "timeout", 7);
	free(wire);
	close(s.fd);
	close(rx);
}

/*
 * TLS 1.2: the header's content type is in the AAD, so a record whose
 * type was changed on the way fails authentication.
 */
TEST(tls12_type_in_aad)
{
	unsigned char *wire;
	struct tls_keys k;
	struct sender s;
	unsigned int i;
	size_t n;
	int rx;

	for (i = 0; i < ARRAY_SIZE(ciphers); i++) {
		make_keys(&k, TLS12, ciphers[i].id, 0);
		rx_pair(_metadata, &k, &s, &rx);
		send_data(_metadata, &s, "good", 4);
		expect_rec(_metadata, rx, TYPE_DATA, "good", 4);
		wire = build(&s, TYPE_DATA, "aad", 3, 0, &n);
		wire[0] = TYPE_ALERT;
		raw_write(_metadata, s.fd, wire, n);
		free(wire);
		expect_err(_metadata, rx, 0, EBADMSG);
		close(s.fd);
		close(rx);
	}
}

/* ---- per version and cipher ----------------------------------------- */

FIXTURE(rx)
{
	int rx;
	struct sender s;
	struct tls_keys k;
};

FIXTURE_VARIANT(rx)
{
	__u16 version;
	__u16 cipher;
};

/* One variant per version and cipher: { version, cipher } */
FIXTURE_VARIANT_ADD(rx, 12_aes_gcm) { TLS12, TLS_CIPHER_AES_GCM_128 };
FIXTURE_VARIANT_ADD(rx, 12_aes_gcm_256) { TLS12, TLS_CIPHER_AES_GCM_256 };
FIXTURE_VARIANT_ADD(rx, 12_aes_ccm) { TLS12, TLS_CIPHER_AES_CCM_128 };
FIXTURE_VARIANT_ADD(rx, 12_chacha) { TLS12, TLS_CIPHER_CHACHA20_POLY1305 };
FIXTURE_VARIANT_ADD(rx, 12_sm4_gcm) { TLS12, TLS_CIPHER_SM4_GCM };
FIXTURE_VARIANT_ADD(rx, 12_sm4_ccm) { TLS12, TLS_CIPHER_SM4_CCM };
FIXTURE_VARIANT_ADD(rx, 12_aria_gcm) { TLS12, TLS_CIPHER_ARIA_GCM_128 };
FIXTURE_VARIANT_ADD(rx, 12_aria_gcm_256) { TLS12, TLS_CIPHER_ARIA_GCM_256 };
FIXTURE_VARIANT_ADD(rx, 13_aes_gcm) { TLS13, TLS_CIPHER_AES_GCM_128 };
FIXTURE_VARIANT_ADD(rx, 13_aes_gcm_256) { TLS13, TLS_CIPHER_AES_GCM_256 };
FIXTURE_VARIANT_ADD(rx, 13_aes_ccm) { TLS13, TLS_CIPHER_AES_CCM_128 };
FIXTURE_VARIANT_ADD(rx, 13_chacha) { TLS13, TLS_CIPHER_CHACHA20_POLY1305 };
FIXTURE_VARIANT_ADD(rx, 13_sm4_gcm) { TLS13, TLS_CIPHER_SM4_GCM };
FIXTURE_VARIANT_ADD(rx, 13_sm4_ccm) { TLS13, TLS_CIPHER_SM4_CCM };

FIXTURE_SETUP(rx)
{
	self->rx = -1;
	self->s.fd = -1;
	expect_ulp_registered(_metadata);
	make_keys(&self->k, variant->version, variant->cipher, 0);
	rx_pair(_metadata, &self->k, &self->s, &self->rx);
}

FIXTURE_TEARDOWN(rx)
{
	if (self->rx >= 0)
		close(self->rx);
	if (self->s.fd >= 0)
		close(self->s.fd);
}

/* Records of several sizes, each read back whole. */
TEST_F(rx, sizes)
{
	static const size_t sizes[] = { 1, 2, 15, 16, 17, 1000, MAX_PLAIN };
	unsigned char *buf = malloc(MAX_PLAIN);
	unsigned int i;

	ASSERT_TRUE(!!buf);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill(buf, sizes[i], i);
		send_data(_metadata, &self->s, buf, sizes[i]);
		expect_rec(_metadata, self->rx, TYPE_DATA, buf, sizes[i]);
	}
	free(buf);
}

/* Queued data records come back as one stream, in order. */
TEST_F(rx, several_records_one_read)
{
	unsigned char buf[3000];
	int i;

	fill(buf, sizeof(buf), 7);
	for (i = 0; i < 3; i++)
		send_data(_metadata, &self->s, buf + 1000 * i, 1000);
	expect_stream(_metadata, self->rx, buf, sizeof(buf));
}

/*
 * Sequence numbers never wrap (RFC 5246 6.1, RFC 8446 5.3): the record
 * with seq 2^64 - 1 is read; the next one, which a wrapping sender seals
 * with seq 0, must never be decrypted. The contract says the wrap aborts
 * the connection with EBADMSG, and that is what these cases assert.
 *
 * The 6.12 base kernel differs: when its counter wraps after the last
 * record it sets sk_err to EBADMSG, but it looks at sk_err only while
 * no record is ready, so it decrypts the next record with the wrapped
 * seq 0 and returns "wrap" (appended to "last" when both are queued).
 */
TEST_F(rx, seq_wrap)
{
	struct tls_keys k = self->k;
	struct sender s;
	int rx;

	memset(k.rec_seq, 0xff, sizeof(k.rec_seq));
	rx_pair(_metadata, &k, &s, &rx);
	send_data(_metadata, &s, "last", 4);
	expect_rec(_metadata, rx, TYPE_DATA, "last", 4);
	ASSERT_EQ(s.seq, 0);
	send_data(_metadata, &s, "wrap", 4);
	expect_err(_metadata, rx, 0, EBADMSG);
	close(s.fd);
	close(rx);
}

/* The same with both records queued before the first recv. */
TEST_F(rx, seq_wrap_queued)
{
	struct tls_keys k = self->k;
	struct sender s;
	int rx;

	memset(k.rec_seq, 0xff, sizeof(k.rec_seq));
	rx_pair(_metadata, &k, &s, &rx);
	send_data(_metadata, &s, "last", 4);
	send_data(_metadata, &s, "wrap", 4);
	expect_rec(_metadata, rx, TYPE_DATA, "last", 4);
	expect_err(_metadata, rx, 0, EBADMSG);
	close(s.fd);
	close(rx);
}

/* Only 0x0303 is valid on the wire, TLS 1.3 included (RFC 8446 5.1). */
TEST_F(rx, bad_header_version)
{
	static const __u16 versions[] = { 0x0301, 0x0302, 0x0304, 0x0203,
					  0x0000, 0x0103 };
	unsigned char *wire;
	struct sender s;
	unsigned int i;
	size_t n;
	int rx;

	for (i = 0; i < ARRAY_SIZE(versions); i++) {
		rx_pair(_metadata, &self->k, &s, &rx);
		wire = build(&s, TYPE_DATA, "version", 7, 0, &n);
		wire[1] = versions[i] >> 8;
		wire[2] = versions[i] & 0xff;
		raw_write(_metadata, s.fd, wire, n);
		free(wire);
		expect_err(_metadata, rx, 0, EINVAL);
		close(s.fd);
		close(rx);
	}
}

/* A record of exactly 2^14 bytes of plaintext is accepted. */
TEST_F(rx, max_len)
{
	unsigned char *buf = malloc(MAX_PLAIN), *wire;
	size_t n;

	ASSERT_TRUE(!!buf);
	fill(buf, MAX_PLAIN, 99);
	wire = build(&self->s, TYPE_DATA, buf, MAX_PLAIN, 0, &n);
	EXPECT_EQ(n, HDR_LEN + max_body(&self->k));
	raw_write(_metadata, self->s.fd, wire, n);
	expect_rec(_metadata, self->rx, TYPE_DATA, buf, MAX_PLAIN);
	free(wire);
	free(buf);
}

/*
 * One byte over the maximum is EMSGSIZE; the connection is dead after
 * it, and a non-blocking recv then finds nothing: EAGAIN.
 */
TEST_F(rx, over_max_len)
{
	unsigned char *buf = calloc(1, MAX_PLAIN + 2), *wire;
	size_t n, pad = 0, len = MAX_PLAIN + 1;

	ASSERT_TRUE(!!buf);
	if (self->k.version == TLS13) {
		/* the inner plaintext 2^14 + 2: data, type and a zero */
		len = MAX_PLAIN;
		pad = 1;
	}
	wire = build(&self->s, TYPE_DATA, buf, len, pad, &n);
	EXPECT_EQ(n, HDR_LEN + max_body(&self->k) + 1);
	raw_write(_metadata, self->s.fd, wire, n);
	expect_err(_metadata, self->rx, 0, EMSGSIZE);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
	free(wire);
	free(buf);
}

/* The header alone decides: a body never sent does not matter. */
TEST_F(rx, over_max_len_header_only)
{
	size_t len = max_body(&self->k) + 1;
	unsigned char hdr[HDR_LEN + EXPLICIT_LEN] = {
		TYPE_DATA, 3, 3, len >> 8, len & 0xff,
	};

	raw_write(_metadata, self->s.fd, hdr, sizeof(hdr));
	expect_err(_metadata, self->rx, 0, EMSGSIZE);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
}

/*
 * A length the record parser refuses: shorter than the explicit nonce
 * and the tag (TLS 1.2) or than the tag (TLS 1.3).
 */
static size_t parser_too_short(const struct tls_keys *k)
{
	return (k->version == TLS13 ? TAG_LEN : min_body(k)) - 1;
}

/*
 * Too short to hold the cipher's explicit nonce and tag (and, in
 * TLS 1.3, the content type): EBADMSG, even for length 0. A TLS 1.3
 * record of exactly the tag passes the parser and fails in decryption.
 */
TEST_F(rx, too_short)
{
	size_t lens[] = { min_body(&self->k) - 1, TAG_LEN - 1, 1, 0 };
	unsigned char wire[HDR_LEN + 64];
	struct sender s;
	unsigned int i;
	int rx;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		rx_pair(_metadata, &self->k, &s, &rx);
		memset(wire, 0x42, sizeof(wire));
		wire[0] = TYPE_DATA;
		wire[1] = 3;
		wire[2] = 3;
		wire[3] = 0;
		wire[4] = lens[i];
		raw_write(_metadata, s.fd, wire, HDR_LEN + lens[i]);
		/* something after it, so the parser never waits for more */
		raw_write(_metadata, s.fd, wire, sizeof(wire));
		expect_err(_metadata, rx, 0, EBADMSG);
		close(s.fd);
		close(rx);
	}
}

/*
 * Contract: after EBADMSG, the next recv returns EBADMSG again, here
 * for a record the parser refuses as too short.
 *
 * The 6.12 base kernel differs: a parser error is reported once (like
 * EMSGSIZE), and a non-blocking recv after it gives EAGAIN. Its
 * EBADMSG is sticky only for records that fail decryption (bad_tag).
 */
TEST_F(rx, too_short_sticky)
{
	unsigned char wire[HDR_LEN + 64];
	size_t len = parser_too_short(&self->k);

	memset(wire, 0x42, sizeof(wire));
	wire[0] = TYPE_DATA;
	wire[1] = 3;
	wire[2] = 3;
	wire[3] = 0;
	wire[4] = len;
	raw_write(_metadata, self->s.fd, wire, sizeof(wire));
	expect_err(_metadata, self->rx, 0, EBADMSG);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EBADMSG);
}

/*
 * A record that fails authentication is EBADMSG, counted in
 * TlsDecryptError, and every recv after it is EBADMSG too: no later
 * record is ever decrypted.
 */
TEST_F(rx, bad_tag)
{
	unsigned char *wire;
	long err0;
	size_t n;

	err0 = read_tls_stat(_metadata, "TlsDecryptError");
	send_data(_metadata, &self->s, "good", 4);
	wire = build(&self->s, TYPE_DATA, "evil", 4, 0, &n);
	wire[n - 1] ^= 0x01;
	raw_write(_metadata, self->s.fd, wire, n);
	free(wire);
	send_data(_metadata, &self->s, "late", 4);
	expect_rec(_metadata, self->rx, TYPE_DATA, "good", 4);
	expect_err(_metadata, self->rx, 0, EBADMSG);
	expect_err(_metadata, self->rx, 0, EBADMSG);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EBADMSG);
	EXPECT_GT(read_tls_stat(_metadata, "TlsDecryptError"), err0);
}

/* A record sealed for a sequence number other than the expected one. */
TEST_F(rx, bad_seq)
{
	send_data(_metadata, &self->s, "good", 4);
	expect_rec(_metadata, self->rx, TYPE_DATA, "good", 4);
	self->s.seq++;
	send_data(_metadata, &self->s, "skip", 4);
	expect_err(_metadata, self->rx, 0, EBADMSG);
}

/*
 * Zero-length application data (RFC 5246 6.2.1 allows it; in TLS 1.3 it
 * is an inner plaintext of just the type byte) carries nothing: recv
 * skips it and never returns 0, which would read as EOF.
 */
TEST_F(rx, zero_len_data)
{
	send_data(_metadata, &self->s, "", 0);
	send_data(_metadata, &self->s, "", 0);
	send_data(_metadata, &self->s, "abc", 3);
	expect_rec(_metadata, self->rx, TYPE_DATA, "abc", 3);

	send_data(_metadata, &self->s, "", 0);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
	EXPECT_EQ(poll_events(self->rx, 0) & POLLIN, 0);
	send_data(_metadata, &self->s, "def", 3);
	expect_rec(_metadata, self->rx, TYPE_DATA, "def", 3);
}

/*
 * A record written one byte per TCP segment: poll() shows no POLLIN and
 * a non-blocking recv finds nothing until the last byte is in.
 */
TEST_F(rx, split_bytes)
{
	unsigned char data[40], *wire;
	size_t n, i;

	fill(data, sizeof(data), 3);
	wire = build(&self->s, TYPE_DATA, data, sizeof(data), 0, &n);
	for (i = 0; i < n - 1; i++) {
		raw_write(_metadata, self->s.fd, wire + i, 1);
		sleep_ms(1);
		ASSERT_EQ(poll_events(self->rx, 0) & POLLIN, 0)
			TH_LOG("POLLIN after %zu of %zu bytes", i + 1, n);
	}
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
	raw_write(_metadata, self->s.fd, wire + n - 1, 1);
	EXPECT_NE(poll_events(self->rx, 1000) & POLLIN, 0);
	expect_rec(_metadata, self->rx, TYPE_DATA, data, sizeof(data));
	free(wire);
}

/*
 * A receive buffer smaller than one record: TCP only opens its window as
 * bytes are consumed, so a receiver that left whole records in TCP until
 * they were complete would stall here. Every record must come through.
 */
TEST_F(rx, small_rcvbuf)
{
	const int nrec = 8, rcvbuf = 4096;
	unsigned char *data = malloc(nrec * MAX_PLAIN);
	struct late_write w = { .fd = self->s.fd };
	size_t n;
	int i;

	ASSERT_TRUE(!!data);
	ASSERT_EQ(setsockopt(self->rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			     sizeof(rcvbuf)), 0);
	fill(data, nrec * MAX_PLAIN, 11);
	w.buf = malloc(nrec * WIRE_MAX);
	ASSERT_TRUE(!!w.buf);
	for (i = 0; i < nrec; i++) {
		unsigned char *wire = build(&self->s, TYPE_DATA,
					    data + i * MAX_PLAIN, MAX_PLAIN,
					    0, &n);

		memcpy(w.buf + w.len, wire, n);
		w.len += n;
		free(wire);
	}
	ASSERT_EQ(pthread_create(&w.thread, NULL, late_write_fn, &w), 0);
	expect_stream(_metadata, self->rx, data, nrec * MAX_PLAIN);
	join_later(_metadata, &w);
	free(data);
}

/* The window @fd's peer offers, once all @fd sent is acknowledged */
static void peer_window(struct __test_metadata *_metadata, int fd,
			__u32 *wnd)
{
	struct tcp_info ti;
	socklen_t len;
	int i;

	for (i = 0; i < 100; i++) {
		len = sizeof(ti);
		ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
		ASSERT_GE(len, offsetof(struct tcp_info, tcpi_snd_wnd) +
			  sizeof(ti.tcpi_snd_wnd));
		if (!ti.tcpi_unacked)
			break;
		sleep_ms(10);
	}
	ASSERT_EQ(ti.tcpi_unacked, 0);
	*wnd = ti.tcpi_snd_wnd;
}

/*
 * Records that fill the receiver's window up to the first 1 to 4 bytes
 * of the next header, sent in one go. TCP offers no window after them;
 * once the records are read it still charges the whole last skb (up to
 * 32 KiB on loopback) for those few bytes, and with a 48 KiB receive
 * buffer (SO_RCVBUF doubles the 24 KiB asked) that leaves less room than
 * a segment: TCP opens its window again only if the parser takes them
 * out of TCP. Then the rest of the record must come through.
 */
TEST_F(rx, header_at_window_edge)
{
	unsigned char *data, *wire, *next, *buf;
	size_t ovh, plain, left, got, len, n, nn, k;
	int rx, on = 1, off = 0, rcvbuf = 24576;
	struct sender s;
	__u32 wnd;

	for (k = 1; k < HDR_LEN; k++) {
		rx_pair(_metadata, &self->k, &s, &rx);
		/* one record tells the cipher's overhead */
		wire = build(&s, TYPE_DATA, "x", 1, 0, &ovh);
		raw_write(_metadata, s.fd, wire, ovh);
		free(wire);
		expect_rec(_metadata, rx, TYPE_DATA, "x", 1);
		ovh--;
		ASSERT_EQ(setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				     sizeof(rcvbuf)), 0);
		peer_window(_metadata, s.fd, &wnd);
		ASSERT_GT(wnd, 4 * (ovh + HDR_LEN));

		data = malloc(wnd);
		buf = malloc(wnd + WIRE_MAX);
		ASSERT_TRUE(!!data);
		ASSERT_TRUE(!!buf);
		fill(data, wnd, k);
		/* records of wnd - k bytes in all, none shorter than ovh */
		for (left = wnd - k, got = 0, len = 0; left; left -= n) {
			plain = left - ovh < MAX_PLAIN ? left - ovh : MAX_PLAIN;
			if (left - ovh - plain && left - ovh - plain < ovh)
				plain -= ovh;
			wire = build(&s, TYPE_DATA, data + got, plain, 0, &n);
			memcpy(buf + len, wire, n);
			free(wire);
			len += n;
			got += plain;
		}
		ASSERT_EQ(len, wnd - k);
		next = build(&s, TYPE_DATA, "next", 4, 0, &nn);
		memcpy(buf + len, next, k);

		ASSERT_EQ(setsockopt(s.fd, IPPROTO_TCP, TCP_CORK, &on,
				     sizeof(on)), 0);
		raw_write(_metadata, s.fd, buf, wnd);
		ASSERT_EQ(setsockopt(s.fd, IPPROTO_TCP, TCP_CORK, &off,
				     sizeof(off)), 0);
		sleep_ms(20);
		expect_stream(_metadata, rx, data, got);
		raw_write(_metadata, s.fd, next + k, nn - k);
		expect_rec(_metadata, rx, TYPE_DATA, "next", 4);

		free(next);
		free(buf);
		free(data);
		close(s.fd);
		close(rx);
	}
}

/* Two records in one write, cut in the middle of the second header. */
TEST_F(rx, split_in_header)
{
	unsigned char *w1, *w2, *both;
	size_t n1, n2;

	w1 = build(&self->s, TYPE_DATA, "first", 5, 0, &n1);
	w2 = build(&self->s, TYPE_DATA, "second", 6, 0, &n2);
	both = malloc(n1 + n2);
	ASSERT_TRUE(!!both);
	memcpy(both, w1, n1);
	memcpy(both + n1, w2, n2);
	raw_write(_metadata, self->s.fd, both, n1 + 3);
	expect_rec(_metadata, self->rx, TYPE_DATA, "first", 5);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
	sleep_ms(5);
	raw_write(_metadata, self->s.fd, both + n1 + 3, n2 - 3);
	expect_rec(_metadata, self->rx, TYPE_DATA, "second", 6);
	free(w1);
	free(w2);
	free(both);
}

/*
 * TLS_RX decrypts what TCP queued before it: whole records and the
 * first part of one, whose rest arrives after the keys.
 */
TEST_F(rx, queued_before_rx)
{
	unsigned char data[4 * 500], *wire;
	struct sender s;
	int tx, rx, i;
	size_t n;

	fill(data, sizeof(data), 11);
	tcp_pair(_metadata, &tx, &rx);
	attach_tls(_metadata, rx);
	sender_init(&s, tx, &self->k);
	for (i = 0; i < 3; i++)
		send_data(_metadata, &s, data + 500 * i, 500);
	wire = build(&s, TYPE_DATA, data + 1500, 500, 0, &n);
	raw_write(_metadata, tx, wire, 7);
	sleep_ms(10);
	ASSERT_EQ(set_rx(rx, &self->k), 0);
	raw_write(_metadata, tx, wire + 7, n - 7);
	expect_stream(_metadata, rx, data, sizeof(data));
	free(wire);
	close(tx);
	close(rx);
}

/* Data read in clear before TLS_RX is not touched by it. */
TEST_F(rx, clear_then_records)
{
	char buf[16];
	struct sender s;
	int tx, rx;

	tcp_pair(_metadata, &tx, &rx);
	attach_tls(_metadata, rx);
	sender_init(&s, tx, &self->k);
	raw_write(_metadata, tx, "hello", 5);
	ASSERT_EQ(recv(rx, buf, sizeof(buf), 0), 5);
	EXPECT_EQ(memcmp(buf, "hello", 5), 0);
	send_data(_metadata, &s, "crypt", 5);
	ASSERT_EQ(set_rx(rx, &self->k), 0);
	expect_rec(_metadata, rx, TYPE_DATA, "crypt", 5);
	close(tx);
	close(rx);
}

/* A control record comes with its type in a TLS_GET_RECORD_TYPE cmsg. */
TEST_F(rx, control_cmsg)
{
	static const unsigned char alert[2] = { 1, 0 };	/* close_notify */
	static const unsigned char hs[4] = { HS_NEW_SESSION_TICKET, 0, 0, 0 };

	send_rec(_metadata, &self->s, TYPE_ALERT, alert, sizeof(alert));
	send_rec(_metadata, &self->s, TYPE_HANDSHAKE, hs, sizeof(hs));
	send_rec(_metadata, &self->s, 99, "odd", 3);
	expect_rec(_metadata, self->rx, TYPE_ALERT, alert, sizeof(alert));
	expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, hs, sizeof(hs));
	expect_rec(_metadata, self->rx, 99, "odd", 3);
}

/* Without a cmsg buffer a control record is EIO and stays queued. */
TEST_F(rx, control_without_cmsg)
{
	static const unsigned char alert[2] = { 2, 40 };
	unsigned char buf[16];

	send_rec(_metadata, &self->s, TYPE_ALERT, alert, sizeof(alert));
	send_data(_metadata, &self->s, "after", 5);
	EXPECT_EQ(recv(self->rx, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EIO);
	EXPECT_EQ(recv(self->rx, buf, sizeof(buf), MSG_PEEK), -1);
	EXPECT_EQ(errno, EIO);
	EXPECT_EQ(recv(self->rx, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EIO);
	expect_rec(_metadata, self->rx, TYPE_ALERT, alert, sizeof(alert));
	ASSERT_EQ(recv(self->rx, buf, sizeof(buf), 0), 5);
	EXPECT_EQ(memcmp(buf, "after", 5), 0);
}

/* Data, control, data: three reads, never two types in one. */
TEST_F(rx, no_merge)
{
	static const unsigned char hs[5] = { HS_NEW_SESSION_TICKET, 0, 0, 1,
					     7 };
	unsigned char buf[64];
	int type;

	send_data(_metadata, &self->s, "aa", 2);
	send_data(_metadata, &self->s, "bb", 2);
	send_rec(_metadata, &self->s, TYPE_HANDSHAKE, hs, sizeof(hs));
	send_rec(_metadata, &self->s, TYPE_HANDSHAKE, hs, sizeof(hs));
	send_data(_metadata, &self->s, "cc", 2);
	/* let all five be queued */
	sleep_ms(10);

	/* peeking stops at the type change as well */
	ASSERT_EQ(recv_typed(self->rx, buf, sizeof(buf), MSG_PEEK, &type), 4);
	EXPECT_EQ(type, TYPE_DATA);
	EXPECT_EQ(memcmp(buf, "aabb", 4), 0);
	ASSERT_EQ(recv_typed(self->rx, buf, sizeof(buf), MSG_WAITALL, &type),
		  4);
	EXPECT_EQ(type, TYPE_DATA);
	EXPECT_EQ(memcmp(buf, "aabb", 4), 0);
	/* one control record per read, even of the same type */
	expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, hs, sizeof(hs));
	expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, hs, sizeof(hs));
	expect_rec(_metadata, self->rx, TYPE_DATA, "cc", 2);
}

/* MSG_PEEK sees several queued data records and consumes nothing. */
TEST_F(rx, peek_records)
{
	unsigned char data[900], buf[1000];
	int i, type;

	fill(data, sizeof(data), 5);
	for (i = 0; i < 3; i++)
		send_data(_metadata, &self->s, data + 300 * i, 300);
	/* let all three be queued */
	sleep_ms(10);
	for (i = 0; i < 2; i++) {
		memset(buf, 0, sizeof(buf));
		ASSERT_EQ(recv_typed(self->rx, buf, sizeof(buf), MSG_PEEK,
				     &type), sizeof(data));
		EXPECT_EQ(type, TYPE_DATA);
		EXPECT_EQ(memcmp(buf, data, sizeof(data)), 0);
	}
	/* a short peek, then partial reads, then the rest */
	ASSERT_EQ(recv(self->rx, buf, 10, MSG_PEEK), 10);
	EXPECT_EQ(memcmp(buf, data, 10), 0);
	ASSERT_EQ(recv(self->rx, buf, 100, 0), 100);
	EXPECT_EQ(memcmp(buf, data, 100), 0);
	ASSERT_EQ(recv(self->rx, buf, sizeof(buf), MSG_PEEK), 800);
	EXPECT_EQ(memcmp(buf, data + 100, 800), 0);
	expect_stream(_metadata, self->rx, data + 100, 800);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
}

/* MSG_WAITALL waits for records that are still on their way. */
TEST_F(rx, waitall)
{
	unsigned char data[3000], buf[3000];
	struct late_write w;

	fill(data, sizeof(data), 8);
	send_data(_metadata, &self->s, data, 1000);
	send_data(_metadata, &self->s, data + 1000, 1000);
	write_later(_metadata, &self->s, &w, data + 2000, 1000, 100);
	ASSERT_EQ(recv(self->rx, buf, sizeof(buf), MSG_WAITALL),
		  sizeof(buf));
	EXPECT_EQ(memcmp(buf, data, sizeof(data)), 0);
	join_later(_metadata, &w);
}

/*
 * SO_RCVLOWAT: a blocking recv does not return the first record alone
 * when it is shorter than the low-water mark; it waits for the next.
 * The next record is longer than the mark by itself: TCP wakes readers
 * once its queue holds SO_RCVLOWAT bytes, as for plain TCP, and a
 * shorter one would only be found at SO_RCVTIMEO.
 */
TEST_F(rx, rcvlowat)
{
	unsigned char data[3000], buf[4000];
	struct late_write w;
	int lowat = 1500;
	ssize_t n;

	fill(data, sizeof(data), 9);
	ASSERT_EQ(setsockopt(self->rx, SOL_SOCKET, SO_RCVLOWAT, &lowat,
			     sizeof(lowat)), 0);
	send_data(_metadata, &self->s, data, 1000);
	write_later(_metadata, &self->s, &w, data + 1000, 2000, 100);
	n = recv(self->rx, buf, sizeof(buf), 0);
	ASSERT_EQ(n, sizeof(data)) TH_LOG("recv: %zd %s", n,
					  n < 0 ? strerror(errno) : "");
	EXPECT_EQ(memcmp(buf, data, sizeof(data)), 0);
	join_later(_metadata, &w);
}

/* One record read in small pieces, each with the record's type. */
TEST_F(rx, partial_reads)
{
	unsigned char data[1000], buf[1000];
	size_t got = 0;
	ssize_t n;
	int type;

	fill(data, sizeof(data), 12);
	send_data(_metadata, &self->s, data, sizeof(data));
	send_rec(_metadata, &self->s, TYPE_ALERT, "\x01\x00", 2);
	while (got < sizeof(data)) {
		n = recv_typed(self->rx, buf + got, 7, 0, &type);
		ASSERT_GT(n, 0);
		ASSERT_LE(n, 7);
		ASSERT_EQ(type, TYPE_DATA);
		got += n;
	}
	EXPECT_EQ(memcmp(buf, data, sizeof(data)), 0);
	/* a control record read in parts keeps its type too */
	ASSERT_EQ(recv_typed(self->rx, buf, 1, 0, &type), 1);
	EXPECT_EQ(type, TYPE_ALERT);
	EXPECT_EQ(buf[0], 1);
	ASSERT_EQ(recv_typed(self->rx, buf, 1, 0, &type), 1);
	EXPECT_EQ(type, TYPE_ALERT);
	EXPECT_EQ(buf[0], 0);
}

/* One reader thread on a shared socket: a recv() or a splice() of 100 bytes */
struct turn_reader {
	pthread_t thread;
	int fd;
	bool splice;
	unsigned char buf[100];
	ssize_t n;
	int err;
};

static void *turn_read_fn(void *arg)
{
	struct turn_reader *r = arg;
	int p[2];

	if (!r->splice) {
		r->n = recv(r->fd, r->buf, sizeof(r->buf), 0);
		r->err = errno;
		return NULL;
	}
	r->n = -1;
	r->err = errno;
	if (pipe(p))
		return NULL;
	r->n = splice(r->fd, NULL, p[1], NULL, sizeof(r->buf), 0);
	r->err = errno;
	if (r->n > 0 && read(p[0], r->buf, r->n) != r->n)
		r->n = -1;
	close(p[0]);
	close(p[1]);
	return NULL;
}

/*
 * Two readers sleep on an empty socket; a 1000-byte record comes. One
 * takes 100 bytes and leaves the rest queued: the other must wake and
 * take the next 100 although TCP has nothing more for it, and before a
 * record that comes later (which used to be read first, or, without it,
 * the reader slept on with plaintext queued).
 */
static void readers_take_turns(struct __test_metadata *_metadata,
			       struct sender *s, int fd, bool splice)
{
	unsigned char data[1000], next[300], all[1100];
	struct turn_reader r[2];
	struct late_write w;
	int i, first;

	fill(data, sizeof(data), 41);
	fill(next, sizeof(next), 42);
	set_rcvtimeo(_metadata, fd, 3000);
	for (i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].fd = fd;
		r[i].splice = splice && i;
		ASSERT_EQ(pthread_create(&r[i].thread, NULL, turn_read_fn,
					 &r[i]), 0);
	}
	sleep_ms(300);
	send_data(_metadata, s, data, sizeof(data));
	write_later(_metadata, s, &w, next, sizeof(next), 1000);
	for (i = 0; i < 2; i++) {
		pthread_join(r[i].thread, NULL);
		EXPECT_EQ(r[i].n, 100) TH_LOG("reader %d (%s): %s", i,
					      r[i].splice ? "splice" : "recv",
					      r[i].n < 0 ? strerror(r[i].err) :
							   "short");
	}
	join_later(_metadata, &w);
	first = memcmp(r[0].buf, data, 100) ? 1 : 0;
	EXPECT_EQ(memcmp(r[first].buf, data, 100), 0);
	EXPECT_EQ(memcmp(r[!first].buf, data + 100, 100), 0)
		TH_LOG("the second reader did not get bytes 100-199");
	memcpy(all, data + 200, 800);
	memcpy(all + 800, next, sizeof(next));
	expect_stream(_metadata, fd, all, 800 + sizeof(next));
}

TEST_F(rx, readers_take_turns)
{
	readers_take_turns(_metadata, &self->s, self->rx, false);
}

TEST_F(rx, readers_take_turns_splice)
{
	readers_take_turns(_metadata, &self->s, self->rx, true);
}

/* splice() to a pipe gives the plaintext of data records. */
TEST_F(rx, splice_data)
{
	unsigned char data[5000], buf[5000];
	size_t got = 0;
	int p[2];
	ssize_t n;

	fill(data, sizeof(data), 13);
	ASSERT_EQ(pipe(p), 0);
	send_data(_metadata, &self->s, data, 3000);
	send_data(_metadata, &self->s, data + 3000, 2000);
	while (got < sizeof(data)) {
		n = splice(self->rx, NULL, p[1], NULL, sizeof(data) - got, 0);
		ASSERT_GT(n, 0) TH_LOG("splice: %s", strerror(errno));
		ASSERT_EQ(read(p[0], buf + got, n), n);
		got += n;
	}
	EXPECT_EQ(memcmp(buf, data, sizeof(data)), 0);
	close(p[0]);
	close(p[1]);
}

/* splice() refuses a control record with EINVAL and leaves it queued. */
TEST_F(rx, splice_control)
{
	static const unsigned char alert[2] = { 1, 0 };
	unsigned char buf[16];
	int p[2];

	ASSERT_EQ(pipe(p), 0);
	send_rec(_metadata, &self->s, TYPE_ALERT, alert, sizeof(alert));
	send_data(_metadata, &self->s, "data", 4);
	EXPECT_EQ(splice(self->rx, NULL, p[1], NULL, 100, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(splice(self->rx, NULL, p[1], NULL, 100, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	expect_rec(_metadata, self->rx, TYPE_ALERT, alert, sizeof(alert));
	ASSERT_EQ(splice(self->rx, NULL, p[1], NULL, 100, 0), 4);
	ASSERT_EQ(read(p[0], buf, sizeof(buf)), 4);
	EXPECT_EQ(memcmp(buf, "data", 4), 0);
	close(p[0]);
	close(p[1]);
}

/* ---- record boundaries: MSG_EOR, empty records ---------------------- */

/* The case a table-driven test is at, for its failure messages */
static char read_case[96];

/*
 * One recvmsg() of at most @len bytes (with a cmsg buffer) must return
 * @want bytes of @want_type, of which @data is the start, with MSG_EOR
 * set exactly when @eor says.
 */
static void expect_read(struct __test_metadata *_metadata, int fd, int flags,
			size_t len, int want_type, const void *data,
			size_t want, bool eor)
{
	unsigned char buf[2 * MAX_PLAIN];
	int type, mflags;
	ssize_t n;

	ASSERT_LE(len, sizeof(buf));
	n = recv_flags(fd, buf, len, flags, &type, &mflags);
	ASSERT_EQ(n, (ssize_t)want) TH_LOG("%srecv(%zu%s): %s", read_case, len,
					   flags & MSG_PEEK ? ", MSG_PEEK" : "",
					   n < 0 ? strerror(errno) : "length");
	EXPECT_EQ(type, want_type) TH_LOG("%s", read_case);
	if (data)
		EXPECT_EQ(memcmp(buf, data, want), 0) TH_LOG("data differs");
	EXPECT_EQ(!!(mflags & MSG_EOR), eor)
		TH_LOG("%srecv(%zu%s) of %zu bytes: MSG_EOR %s", read_case, len,
		       flags & MSG_PEEK ? ", MSG_PEEK" : "", want,
		       eor ? "missing" : "set inside a record");
	EXPECT_EQ(mflags & MSG_CTRUNC, 0);
}

/* A read that takes a whole record, or exactly its length, ends it. */
TEST_F(rx, eor_whole_record)
{
	unsigned char data[300];

	fill(data, sizeof(data), 21);
	send_data(_metadata, &self->s, data, 5);
	expect_read(_metadata, self->rx, 0, 100, TYPE_DATA, data, 5, true);
	send_data(_metadata, &self->s, data, sizeof(data));
	expect_read(_metadata, self->rx, 0, sizeof(data), TYPE_DATA, data,
		    sizeof(data), true);
	send_data(_metadata, &self->s, data, 1);
	expect_read(_metadata, self->rx, 0, MAX_PLAIN, TYPE_DATA, data, 1,
		    true);
}

/* Reads that stop inside a record have no MSG_EOR; the one ending it has. */
TEST_F(rx, eor_partial_reads)
{
	unsigned char data[1000];

	fill(data, sizeof(data), 22);
	send_data(_metadata, &self->s, data, sizeof(data));
	expect_read(_metadata, self->rx, 0, 400, TYPE_DATA, data, 400, false);
	expect_read(_metadata, self->rx, 0, 400, TYPE_DATA, data + 400, 400,
		    false);
	expect_read(_metadata, self->rx, 0, 1000, TYPE_DATA, data + 800, 200,
		    true);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
}

/* MSG_PEEK follows the same rule, from where reads have got to. */
TEST_F(rx, eor_peek)
{
	unsigned char data[1000];

	fill(data, sizeof(data), 23);
	send_data(_metadata, &self->s, data, sizeof(data));
	expect_read(_metadata, self->rx, MSG_PEEK, 1000, TYPE_DATA, data, 1000,
		    true);
	expect_read(_metadata, self->rx, MSG_PEEK, 400, TYPE_DATA, data, 400,
		    false);
	expect_read(_metadata, self->rx, 0, 400, TYPE_DATA, data, 400, false);
	expect_read(_metadata, self->rx, MSG_PEEK, 100, TYPE_DATA, data + 400,
		    100, false);
	expect_read(_metadata, self->rx, MSG_PEEK, 1000, TYPE_DATA, data + 400,
		    600, true);
	expect_read(_metadata, self->rx, 0, 1000, TYPE_DATA, data + 400, 600,
		    true);
}

/* Control records: whole with MSG_EOR, in parts only the last part. */
TEST_F(rx, eor_control)
{
	static const unsigned char alert[2] = { 2, 40 };
	unsigned char hs[100];

	fill(hs, sizeof(hs), 24);
	hs[0] = HS_NEW_SESSION_TICKET;
	send_rec(_metadata, &self->s, TYPE_ALERT, alert, sizeof(alert));
	send_rec(_metadata, &self->s, TYPE_HANDSHAKE, hs, sizeof(hs));
	expect_read(_metadata, self->rx, 0, 100, TYPE_ALERT, alert,
		    sizeof(alert), true);
	expect_read(_metadata, self->rx, MSG_PEEK, 40, TYPE_HANDSHAKE, hs, 40,
		    false);
	expect_read(_metadata, self->rx, 0, 40, TYPE_HANDSHAKE, hs, 40, false);
	expect_read(_metadata, self->rx, MSG_PEEK, 100, TYPE_HANDSHAKE, hs + 40,
		    60, true);
	expect_read(_metadata, self->rx, 0, 100, TYPE_HANDSHAKE, hs + 40, 60,
		    true);
}

/*
 * A read over several records: MSG_EOR when it ends where one does, none
 * when it stops inside a later one, even though an earlier one ended in
 * it.
 */
TEST_F(rx, eor_across_records)
{
	unsigned char data[600];
	int i;

	fill(data, sizeof(data), 25);
	for (i = 0; i < 3; i++) {
		send_data(_metadata, &self->s, data, 300);
		send_data(_metadata, &self->s, data + 300, 300);
		/* let both be queued */
		sleep_ms(10);
		switch (i) {
		case 0:
			expect_read(_metadata, self->rx, 0, 1000, TYPE_DATA,
				    data, 600, true);
			break;
		case 1:
			expect_read(_metadata, self->rx, 0, 450, TYPE_DATA,
				    data, 450, false);
			expect_read(_metadata, self->rx, 0, 1000, TYPE_DATA,
				    data + 450, 150, true);
			break;
		default:
			expect_read(_metadata, self->rx, MSG_PEEK, 450,
				    TYPE_DATA, data, 450, false);
			expect_read(_metadata, self->rx, MSG_PEEK, 600,
				    TYPE_DATA, data, 600, true);
			expect_read(_metadata, self->rx, 0, 600, TYPE_DATA,
				    data, 600, true);
		}
	}
	/* data then a control record: the data read ends with its record */
	send_data(_metadata, &self->s, data, 100);
	send_rec(_metadata, &self->s, TYPE_ALERT, data, 2);
	sleep_ms(10);
	expect_read(_metadata, self->rx, 0, 1000, TYPE_DATA, data, 100, true);
	expect_read(_metadata, self->rx, 0, 1000, TYPE_ALERT, data, 2, true);
}

/*
 * An empty data record in front of a control record changes nothing:
 * splice() still refuses the control record with EINVAL (not EAGAIN, as
 * if the empty control record were nothing), and recvmsg() returns it
 * with its own type (not 0 bytes of data, as if at the end of the stream).
 */
TEST_F(rx, empty_data_then_control)
{
	static const unsigned char alert[2] = { 1, 0 };
	unsigned char buf[16];
	int p[2], i;

	ASSERT_EQ(pipe(p), 0);
	for (i = 0; i < 2; i++) {
		send_data(_metadata, &self->s, "", 0);
		if (i)
			send_rec(_metadata, &self->s, TYPE_ALERT, alert,
				 sizeof(alert));
		else
			send_rec(_metadata, &self->s, TYPE_HANDSHAKE, "", 0);
		sleep_ms(10);
		EXPECT_EQ(splice(self->rx, NULL, p[1], NULL, sizeof(buf),
				 SPLICE_F_NONBLOCK), -1);
		EXPECT_EQ(errno, EINVAL) TH_LOG("splice: %s", strerror(errno));
		EXPECT_EQ(splice(self->rx, NULL, p[1], NULL, sizeof(buf),
				 SPLICE_F_NONBLOCK), -1);
		EXPECT_EQ(errno, EINVAL) TH_LOG("splice: %s", strerror(errno));
		if (i)
			expect_rec(_metadata, self->rx, TYPE_ALERT, alert,
				   sizeof(alert));
		else
			expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, "", 0);
	}
	/* and with nothing in between, recvmsg() too */
	send_data(_metadata, &self->s, "", 0);
	send_rec(_metadata, &self->s, TYPE_ALERT, alert, sizeof(alert));
	expect_rec(_metadata, self->rx, TYPE_ALERT, alert, sizeof(alert));
	send_data(_metadata, &self->s, "", 0);
	send_data(_metadata, &self->s, "data", 4);
	ASSERT_EQ(splice(self->rx, NULL, p[1], NULL, sizeof(buf),
			 SPLICE_F_NONBLOCK), 4);
	ASSERT_EQ(read(p[0], buf, sizeof(buf)), 4);
	EXPECT_EQ(memcmp(buf, "data", 4), 0);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
	close(p[0]);
	close(p[1]);
}

/*
 * Empty records, in every order of up to three among: empty data, empty
 * control, control, data. An empty data record carries nothing and is
 * skipped by every read; an empty control record is a record like any
 * other: recvmsg() returns it alone (0 bytes, with its type and MSG_EOR),
 * splice() refuses it with EINVAL and leaves it queued.
 */
enum rec_kind { REC_EMPTY_DATA, REC_EMPTY_CTRL, REC_CTRL, REC_DATA, REC_KINDS };

#define ORDER_MAX	3

struct rec_plan {
	int kind[ORDER_MAX];
	int n;
};

/* The type and bytes of record @i of @plan */
static int plan_rec(const struct rec_plan *plan, int i, unsigned char *buf,
		    size_t *len)
{
	switch (plan->kind[i]) {
	case REC_EMPTY_DATA:
		*len = 0;
		return TYPE_DATA;
	case REC_EMPTY_CTRL:
		*len = 0;
		return TYPE_HANDSHAKE;
	case REC_CTRL:
		buf[0] = 1;
		buf[1] = 'a' + i;
		*len = 2;
		return TYPE_ALERT;
	default:
		memcpy(buf, "data", 4);
		buf[4] = '0' + i;
		*len = 5;
		return TYPE_DATA;
	}
}

static void plan_send(struct __test_metadata *_metadata, struct sender *s,
		      const struct rec_plan *plan)
{
	unsigned char buf[8];
	size_t len;
	int i, type;

	for (i = 0; i < plan->n; i++) {
		type = plan_rec(plan, i, buf, &len);
		send_rec(_metadata, s, type, buf, len);
	}
	/* let all be queued: a read takes only what is complete */
	sleep_ms(2);
}

/*
 * What the next read from record *@i on returns: the control record
 * there, or the data of the records up to the next control record.
 * Empty data records are passed over. *@type is -1 when nothing is left.
 */
static size_t plan_next_read(const struct rec_plan *plan, int *i,
			     bool one_record, unsigned char *out, int *type)
{
	unsigned char buf[8];
	size_t len, got = 0;
	int t;

	*type = -1;
	while (*i < plan->n) {
		t = plan_rec(plan, *i, buf, &len);
		if (t == TYPE_DATA && !len) {
			(*i)++;
			continue;
		}
		if (t != TYPE_DATA) {
			if (*type < 0) {
				*type = t;
				memcpy(out, buf, len);
				got = len;
				(*i)++;
			}
			break;
		}
		*type = TYPE_DATA;
		memcpy(out + got, buf, len);
		got += len;
		(*i)++;
		if (one_record)
			break;
	}
	return got;
}

enum plan_read { READ_RECV, READ_PEEK, READ_SPLICE };

static void plan_check(struct __test_metadata *_metadata, int fd,
		       const struct rec_plan *plan, enum plan_read how)
{
	unsigned char want[ORDER_MAX * 8], buf[64];
	int i = 0, type, p[2];
	size_t len;
	ssize_t n;

	ASSERT_EQ(pipe(p), 0);
	for (;;) {
		len = plan_next_read(plan, &i, how == READ_SPLICE, want, &type);
		if (type < 0)
			break;
		if (how == READ_PEEK)
			expect_read(_metadata, fd, MSG_PEEK, sizeof(buf), type,
				    want, len, true);
		if (how != READ_SPLICE || type != TYPE_DATA) {
			if (how == READ_SPLICE) {
				n = splice(fd, NULL, p[1], NULL, sizeof(buf),
					   SPLICE_F_NONBLOCK);
				ASSERT_EQ(n, -1) TH_LOG("%ssplice took a control record",
							read_case);
				ASSERT_EQ(errno, EINVAL) TH_LOG("%ssplice: %s",
								read_case,
								strerror(errno));
			}
			expect_read(_metadata, fd, 0, sizeof(buf), type, want,
				    len, true);
			continue;
		}
		n = splice(fd, NULL, p[1], NULL, sizeof(buf), SPLICE_F_NONBLOCK);
		ASSERT_EQ(n, (ssize_t)len) TH_LOG("%ssplice: %s", read_case,
						  n < 0 ? strerror(errno) :
							  "length");
		ASSERT_EQ(read(p[0], buf, n), n);
		EXPECT_EQ(memcmp(buf, want, len), 0);
	}
	/* all read: nothing is left, for any kind of read */
	expect_err(_metadata, fd, MSG_DONTWAIT, EAGAIN);
	expect_err(_metadata, fd, MSG_DONTWAIT | MSG_PEEK, EAGAIN);
	n = splice(fd, NULL, p[1], NULL, sizeof(buf), SPLICE_F_NONBLOCK);
	EXPECT_EQ(n, -1) TH_LOG("%ssplice at the end", read_case);
	EXPECT_EQ(errno, EAGAIN) TH_LOG("%ssplice at the end: %s", read_case,
					strerror(errno));
	close(p[0]);
	close(p[1]);
}

TEST_F(rx, empty_records_every_order)
{
	static const char *const how_name[] = { "recv", "peek", "splice" };
	static const char *const kind_name[] = {
		"empty-data", "empty-control", "control", "data",
	};
	struct rec_plan plan;
	int n, code, how, j, c;

	for (n = 1; n <= ORDER_MAX; n++) {
		int orders = 1;

		for (j = 0; j < n; j++)
			orders *= REC_KINDS;
		for (code = 0; code < orders; code++) {
			plan.n = n;
			for (j = 0, c = code; j < n; j++, c /= REC_KINDS)
				plan.kind[j] = c % REC_KINDS;
			for (how = READ_RECV; how <= READ_SPLICE; how++) {
				snprintf(read_case, sizeof(read_case),
					 "records %s%s%s%s%s, read by %s: ",
					 kind_name[plan.kind[0]],
					 n > 1 ? " " : "",
					 n > 1 ? kind_name[plan.kind[1]] : "",
					 n > 2 ? " " : "",
					 n > 2 ? kind_name[plan.kind[2]] : "",
					 how_name[how]);
				plan_send(_metadata, &self->s, &plan);
				plan_check(_metadata, self->rx, &plan, how);
				if (_metadata->exit_code != KSFT_PASS)
					return;
			}
		}
	}
}

/* EOF after the last record: recv returns 0 only once all is read. */
TEST_F(rx, eof_after_records)
{
	unsigned char buf[16];

	send_data(_metadata, &self->s, "tail", 4);
	close(self->s.fd);
	self->s.fd = -1;
	expect_rec(_metadata, self->rx, TYPE_DATA, "tail", 4);
	EXPECT_EQ(recv(self->rx, buf, sizeof(buf), 0), 0);
}

/*
 * Sends "tail" from @tx, then a FIN, then a reset (close() with a zero
 * SO_LINGER), and waits until @rx has taken the reset: poll() sees the
 * error and the hang-up.
 */
static void fin_then_reset(struct __test_metadata *_metadata, int tx, int rx,
			   struct sender *s)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd pfd = { .fd = rx };

	if (s)
		send_data(_metadata, s, "tail", 4);
	else
		ASSERT_EQ(send(tx, "tail", 4, 0), 4);
	ASSERT_EQ(shutdown(tx, SHUT_WR), 0);
	ASSERT_EQ(setsockopt(tx, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)), 0);
	close(tx);
	ASSERT_EQ(poll(&pfd, 1, 5000), 1);
	ASSERT_EQ(pfd.revents & (POLLERR | POLLHUP), POLLERR | POLLHUP);
}

/*
 * The peer's FIN, then its reset: TCP reads the FIN as the end of the
 * stream before it looks at the error the reset left (EPIPE, for a
 * reset in CLOSE_WAIT), so recv() returns what came, then 0, and the
 * error waits for SO_ERROR. The plain TCP pair shows that; kTLS reads
 * the same.
 *
 * The 6.12 base kernel differs: after the record, its recv() fails with
 * EPIPE.
 */
TEST_F(rx, eof_then_reset)
{
	unsigned char buf[16];
	socklen_t len = sizeof(int);
	int tx, rx, err, i;

	tcp_pair(_metadata, &tx, &rx);
	fin_then_reset(_metadata, tx, rx, NULL);
	ASSERT_EQ(recv(rx, buf, sizeof(buf), 0), 4);
	EXPECT_EQ(recv(rx, buf, sizeof(buf), 0), 0);
	ASSERT_EQ(getsockopt(rx, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	EXPECT_EQ(err, EPIPE);
	close(rx);

	fin_then_reset(_metadata, self->s.fd, self->rx, &self->s);
	self->s.fd = -1;
	expect_rec(_metadata, self->rx, TYPE_DATA, "tail", 4);
	for (i = 0; i < 2; i++)
		EXPECT_EQ(recv(self->rx, buf, sizeof(buf), MSG_DONTWAIT), 0);
	ASSERT_EQ(getsockopt(self->rx, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	EXPECT_EQ(err, EPIPE);
}

/* ---- TLS 1.3 only --------------------------------------------------- */

FIXTURE(rx13)
{
	int rx;
	struct sender s;
	struct tls_keys k;
};

FIXTURE_VARIANT(rx13)
{
	__u16 cipher;
};

FIXTURE_VARIANT_ADD(rx13, aes_gcm) { TLS_CIPHER_AES_GCM_128 };
FIXTURE_VARIANT_ADD(rx13, aes_gcm_256) { TLS_CIPHER_AES_GCM_256 };
FIXTURE_VARIANT_ADD(rx13, aes_ccm) { TLS_CIPHER_AES_CCM_128 };
FIXTURE_VARIANT_ADD(rx13, chacha) { TLS_CIPHER_CHACHA20_POLY1305 };
FIXTURE_VARIANT_ADD(rx13, sm4_gcm) { TLS_CIPHER_SM4_GCM };
FIXTURE_VARIANT_ADD(rx13, sm4_ccm) { TLS_CIPHER_SM4_CCM };

FIXTURE_SETUP(rx13)
{
	self->rx = -1;
	self->s.fd = -1;
	expect_ulp_registered(_metadata);
	make_keys(&self->k, TLS13, variant->cipher, 0);
	rx_pair(_metadata, &self->k, &self->s, &self->rx);
}

FIXTURE_TEARDOWN(rx13)
{
	if (self->rx >= 0)
		close(self->rx);
	if (self->s.fd >= 0)
		close(self->s.fd);
}

/* Zeros after the content type are padding (RFC 8446 5.4): stripped. */
TEST_F(rx13, padding)
{
	static const size_t pads[] = { 1, 15, 16, 255, 4096 };
	unsigned char data[100];
	unsigned int i;

	fill(data, sizeof(data), 21);
	for (i = 0; i < ARRAY_SIZE(pads); i++) {
		send_rec_pad(_metadata, &self->s, TYPE_DATA, data, 10 * i + 1,
			     pads[i]);
		expect_rec(_metadata, self->rx, TYPE_DATA, data, 10 * i + 1);
	}
	/* control records may be padded as well */
	send_rec_pad(_metadata, &self->s, TYPE_ALERT, "\x01\x00", 2, 33);
	expect_rec(_metadata, self->rx, TYPE_ALERT, "\x01\x00", 2);
	/* data that ends in zeros keeps them: only zeros after the type go */
	memset(data, 0, 8);
	data[0] = 'z';
	send_rec_pad(_metadata, &self->s, TYPE_DATA, data, 8, 8);
	expect_rec(_metadata, self->rx, TYPE_DATA, data, 8);
}

/*
 * The largest inner plaintext is 2^14 + 1 bytes however it is split
 * between content and padding; the length field is then 2^14 + 17.
 */
TEST_F(rx13, max_padding)
{
	unsigned char data[1000];
	size_t n;

	fill(data, sizeof(data), 22);
	send_rec_pad(_metadata, &self->s, TYPE_DATA, data, 1000,
		     MAX_PLAIN - 1000);
	expect_rec(_metadata, self->rx, TYPE_DATA, data, 1000);
	/* only padding: a zero-length record, skipped */
	send_rec_pad(_metadata, &self->s, TYPE_DATA, NULL, 0, MAX_PLAIN);
	send_data(_metadata, &self->s, "x", 1);
	expect_rec(_metadata, self->rx, TYPE_DATA, "x", 1);
	free(build(&self->s, TYPE_DATA, NULL, 0, MAX_PLAIN, &n));
	EXPECT_EQ(n, HDR_LEN + MAX_PLAIN + 1 + TAG_LEN);
}

/* One byte of padding more than 2^14 + 1 allows: EMSGSIZE. */
TEST_F(rx13, over_max_padding)
{
	send_rec_pad(_metadata, &self->s, TYPE_DATA, "p", 1, MAX_PLAIN);
	expect_err(_metadata, self->rx, 0, EMSGSIZE);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EAGAIN);
}

/*
 * RFC 8446 5.2 lets a TLSCiphertext grow to 2^14 + 256, but with 16-byte
 * tags and 2^14 + 1 bytes of inner plaintext no valid record here is
 * longer than 2^14 + 17: a length field of 2^14 + 256 is EMSGSIZE.
 */
TEST_F(rx13, ciphertext_2_14_plus_256)
{
	send_rec_pad(_metadata, &self->s, TYPE_DATA, NULL, 0,
		     MAX_CIPHERTEXT - TAG_LEN - 1);
	expect_err(_metadata, self->rx, 0, EMSGSIZE);
}

/* An inner plaintext of only zeros has no content type: EBADMSG. */
TEST_F(rx13, all_zero_inner)
{
	static const size_t pads[] = { 0, 1, 100 };
	struct sender s;
	unsigned int i;
	int rx;

	for (i = 0; i < ARRAY_SIZE(pads); i++) {
		rx_pair(_metadata, &self->k, &s, &rx);
		send_data(_metadata, &s, "fine", 4);
		send_rec_pad(_metadata, &s, 0, NULL, 0, pads[i]);
		send_data(_metadata, &s, "never", 5);
		expect_rec(_metadata, rx, TYPE_DATA, "fine", 4);
		expect_err(_metadata, rx, 0, EBADMSG);
		close(s.fd);
		close(rx);
	}
}

/*
 * The outer type of a TLS 1.3 record is always 23, and the AAD is the
 * header as it came (RFC 8446 5.2, the contract): a record whose outer
 * type was changed fails authentication, EBADMSG.
 *
 * The 6.12 base kernel differs: it builds the TLS 1.3 AAD with type 23
 * whatever the header says, so it accepts this record and returns its
 * data.
 */
TEST_F(rx13, outer_type_not_data)
{
	unsigned char *wire;
	size_t n;

	send_data(_metadata, &self->s, "good", 4);
	expect_rec(_metadata, self->rx, TYPE_DATA, "good", 4);
	wire = build(&self->s, TYPE_DATA, "aad", 3, 0, &n);
	wire[0] = TYPE_ALERT;
	raw_write(_metadata, self->s.fd, wire, n);
	free(wire);
	expect_err(_metadata, self->rx, 0, EBADMSG);
}

/* A record of just the tag: an empty inner plaintext, EBADMSG. */
TEST_F(rx13, empty_inner)
{
	const struct tls_keys *k = &self->k;
	unsigned char nonce[NONCE_LEN], wire[HDR_LEN + TAG_LEN] = {
		TYPE_DATA, 3, 3, 0, TAG_LEN,
	};

	send_data(_metadata, &self->s, "good", 4);
	expect_rec(_metadata, self->rx, TYPE_DATA, "good", 4);
	xor_nonce(k, self->s.seq++, nonce);
	ASSERT_TRUE(aead_seal(k->c, k->key, nonce, wire, HDR_LEN, NULL, 0,
			      wire + HDR_LEN));
	raw_write(_metadata, self->s.fd, wire, sizeof(wire));
	expect_err(_metadata, self->rx, 0, EBADMSG);
}

static void set_no_pad(struct __test_metadata *_metadata, int fd, int val)
{
	socklen_t len = sizeof(int);
	int got = -1;

	ASSERT_EQ(setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &val,
			     sizeof(val)), 0) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(getsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &got, &len),
		  0);
	EXPECT_EQ(got, val);
}

/*
 * Records that TLS_RX_EXPECT_NO_PAD lets the kernel decrypt straight into
 * the reader's buffer and decrypt again when the guess was wrong: 1, or
 * 0 under CCM, whose records always go through kernel memory (a buffer
 * the reader's threads may write is no place to compute a CCM tag).
 */
static long no_pad_retries(const struct tls_keys *k)
{
	return k->c->mode == MODE_CCM ? 0 : 1;
}

/*
 * The most plaintext a record may have and still be small, decrypted into
 * kernel memory and copied rather than guessed for (TLS_RX_SMALL_MAX in
 * net/tls/rx.h): the guessing cases use larger records.
 */
#define SMALL_MAX	512
/* Content of a larger record, in the guessing cases */
#define GUESS_LEN	(SMALL_MAX + 100)

/* A NewSessionTicket-like handshake record too large to be small */
static void send_big_control(struct __test_metadata *_metadata,
			     struct sender *s, unsigned char *buf)
{
	fill(buf, GUESS_LEN, 37);
	buf[0] = HS_NEW_SESSION_TICKET;
	send_rec(_metadata, s, TYPE_HANDSHAKE, buf, GUESS_LEN);
}

/*
 * TLS_RX_EXPECT_NO_PAD: a padded record still reads right; the kernel
 * decrypts it twice, counted in TlsDecryptRetry and TlsRxNoPadViolation.
 * An unpadded data record needs no retry.
 */
TEST_F(rx13, no_pad_padded)
{
	long retry0, viol0, n = no_pad_retries(&self->k);
	unsigned char data[GUESS_LEN];

	fill(data, sizeof(data), 23);
	set_no_pad(_metadata, self->rx, 1);
	retry0 = read_tls_stat(_metadata, "TlsDecryptRetry");
	viol0 = read_tls_stat(_metadata, "TlsRxNoPadViolation");

	send_data(_metadata, &self->s, data, sizeof(data));
	expect_rec(_metadata, self->rx, TYPE_DATA, data, sizeof(data));
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"), retry0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxNoPadViolation"), viol0);

	send_rec_pad(_metadata, &self->s, TYPE_DATA, data, sizeof(data), 20);
	expect_rec(_metadata, self->rx, TYPE_DATA, data, sizeof(data));
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"), retry0 + n);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxNoPadViolation"), viol0 + n);

	send_data(_metadata, &self->s, data, 100);
	expect_rec(_metadata, self->rx, TYPE_DATA, data, 100);
	set_no_pad(_metadata, self->rx, 0);
}

/*
 * With no-pad, a control record larger than a small one is a retry (it
 * could not go to user memory directly) but not a padding violation; it
 * reads right.
 */
TEST_F(rx13, no_pad_control)
{
	long retry0, viol0, n = no_pad_retries(&self->k);
	unsigned char nst[GUESS_LEN];

	set_no_pad(_metadata, self->rx, 1);
	retry0 = read_tls_stat(_metadata, "TlsDecryptRetry");
	viol0 = read_tls_stat(_metadata, "TlsRxNoPadViolation");
	send_big_control(_metadata, &self->s, nst);
	send_data(_metadata, &self->s, "d", 1);
	expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, nst, sizeof(nst));
	expect_rec(_metadata, self->rx, TYPE_DATA, "d", 1);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"), retry0 + n);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxNoPadViolation"), viol0);
}

/* Padded records after which the kernel stops guessing (net/tls/rx.h) */
#define PAD_SEEN_MAX	4

static int get_no_pad(struct __test_metadata *_metadata, int fd)
{
	socklen_t len = sizeof(int);
	int val = -1;

	EXPECT_EQ(getsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &val, &len),
		  0);
	return val;
}

/*
 * Without TLS_RX_EXPECT_NO_PAD, TLS 1.3 data records are decrypted
 * straight into the reader's buffer all the same, on the guess that the
 * peer does not pad: an unpadded record costs no retry; a padded one
 * reads right and costs one (TlsDecryptRetry; not TlsRxNoPadViolation,
 * as nothing was promised). After PAD_SEEN_MAX padded records the socket
 * stops guessing: padded records then cost no retry. The option still
 * reads 0.
 *
 * The 6.12 base kernel differs: without the option it never guesses, so
 * no record costs a retry.
 */
TEST_F(rx13, guess_padded)
{
	long retry0, viol0, n = no_pad_retries(&self->k);
	unsigned char data[GUESS_LEN + 16];
	int i;

	fill(data, sizeof(data), 29);
	retry0 = read_tls_stat(_metadata, "TlsDecryptRetry");
	viol0 = read_tls_stat(_metadata, "TlsRxNoPadViolation");
	send_data(_metadata, &self->s, data, sizeof(data));
	expect_rec(_metadata, self->rx, TYPE_DATA, data, sizeof(data));
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"), retry0);

	for (i = 0; i < PAD_SEEN_MAX + 3; i++) {
		send_rec_pad(_metadata, &self->s, TYPE_DATA, data,
			     GUESS_LEN + i, 1 + i);
		expect_rec(_metadata, self->rx, TYPE_DATA, data, GUESS_LEN + i);
		EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"),
			  retry0 + n * (i < PAD_SEEN_MAX ? i + 1 :
							   PAD_SEEN_MAX));
	}
	send_data(_metadata, &self->s, data, GUESS_LEN);
	expect_rec(_metadata, self->rx, TYPE_DATA, data, GUESS_LEN);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"),
		  retry0 + n * PAD_SEEN_MAX);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxNoPadViolation"), viol0);
	EXPECT_EQ(get_no_pad(_metadata, self->rx), 0);
}

/*
 * Guessing, a control record is a retry too (its plaintext went into the
 * reader's buffer, past what the read returned, and is decrypted again
 * into kernel memory), but not a sign of padding: after more control
 * records than PAD_SEEN_MAX, a padded data record is still guessed for.
 */
TEST_F(rx13, guess_control)
{
	long retry0, n = no_pad_retries(&self->k);
	unsigned char nst[GUESS_LEN], data[GUESS_LEN];
	int i;

	fill(data, sizeof(data), 41);
	retry0 = read_tls_stat(_metadata, "TlsDecryptRetry");
	for (i = 0; i < PAD_SEEN_MAX + 1; i++) {
		send_big_control(_metadata, &self->s, nst);
		send_data(_metadata, &self->s, "d", 1);
		expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, nst,
			   sizeof(nst));
		expect_rec(_metadata, self->rx, TYPE_DATA, "d", 1);
	}
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"),
		  retry0 + n * (PAD_SEEN_MAX + 1));
	send_rec_pad(_metadata, &self->s, TYPE_DATA, data, sizeof(data), 9);
	expect_rec(_metadata, self->rx, TYPE_DATA, data, sizeof(data));
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"),
		  retry0 + n * (PAD_SEEN_MAX + 2));
}

/*
 * Small records are decrypted into kernel memory and copied, whatever the
 * cipher: padded data, control records and records of padding only read
 * right and are never decrypted twice, with TLS_RX_EXPECT_NO_PAD or
 * without, and do not count towards PAD_SEEN_MAX: a larger padded record
 * after many small ones is still guessed for.
 *
 * Fails before small records were copied: every padded or control record
 * cost a retry (but under CCM, which never guessed).
 */
TEST_F(rx13, small_no_retry)
{
	static const unsigned char alert[2] = { 1, 0 };
	long retry0, viol0, n = no_pad_retries(&self->k);
	unsigned char data[GUESS_LEN];
	int i;

	fill(data, sizeof(data), 43);
	retry0 = read_tls_stat(_metadata, "TlsDecryptRetry");
	viol0 = read_tls_stat(_metadata, "TlsRxNoPadViolation");
	for (i = 0; i < 2 * PAD_SEEN_MAX; i++) {
		set_no_pad(_metadata, self->rx, i & 1);
		/* content, type byte and padding: SMALL_MAX in all */
		send_rec_pad(_metadata, &self->s, TYPE_DATA, data, 64 + i,
			     SMALL_MAX - 1 - 64 - i);
		send_rec(_metadata, &self->s, TYPE_ALERT, alert, sizeof(alert));
		send_rec_pad(_metadata, &self->s, TYPE_DATA, data, 0, 3);
		send_data(_metadata, &self->s, data, SMALL_MAX - 1);
		expect_rec(_metadata, self->rx, TYPE_DATA, data, 64 + i);
		expect_rec(_metadata, self->rx, TYPE_ALERT, alert,
			   sizeof(alert));
		expect_rec(_metadata, self->rx, TYPE_DATA, data, SMALL_MAX - 1);
	}
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"), retry0);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxNoPadViolation"), viol0);

	set_no_pad(_metadata, self->rx, 0);
	send_rec_pad(_metadata, &self->s, TYPE_DATA, data, sizeof(data), 5);
	expect_rec(_metadata, self->rx, TYPE_DATA, data, sizeof(data));
	EXPECT_EQ(read_tls_stat(_metadata, "TlsDecryptRetry"), retry0 + n);
}

/*
 * A stream of every kind of record, guessed for, read with buffers that
 * fit each record, that are too small for it, and that span several:
 * every byte and every type comes back as sent.
 */
TEST_F(rx13, guess_mixed_stream)
{
	static const unsigned char alert[2] = { 1, 0 };
	static const unsigned char nst[8] = { HS_NEW_SESSION_TICKET, 0, 0, 4,
					      0, 0, 0, 9 };
	unsigned char data[3000], got[3000];
	int type, i;

	fill(data, sizeof(data), 31);
	for (i = 0; i < 3; i++) {
		send_data(_metadata, &self->s, data, 1000);
		send_rec_pad(_metadata, &self->s, TYPE_DATA, data + 1000, 1000,
			     3 * i + 1);
		send_rec(_metadata, &self->s, TYPE_ALERT, alert,
			 sizeof(alert));
		send_data(_metadata, &self->s, data + 2000, 1000);
		send_rec(_metadata, &self->s, TYPE_HANDSHAKE, nst,
			 sizeof(nst));

		/* the first two records in one read, then the alert */
		ASSERT_EQ(recv_typed(self->rx, got, sizeof(got), MSG_WAITALL,
				     &type), 2000);
		EXPECT_EQ(type, TYPE_DATA);
		EXPECT_EQ(memcmp(got, data, 2000), 0);
		expect_rec(_metadata, self->rx, TYPE_ALERT, alert,
			   sizeof(alert));
		/* a buffer too small for the next record, then the rest */
		ASSERT_EQ(recv_typed(self->rx, got, 100, 0, &type), 100);
		EXPECT_EQ(memcmp(got, data + 2000, 100), 0);
		ASSERT_EQ(recv_typed(self->rx, got, sizeof(got), 0, &type),
			  900);
		EXPECT_EQ(memcmp(got, data + 2100, 900), 0);
		expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, nst,
			   sizeof(nst));
	}
}

/* A handshake record other than KeyUpdate does not stop the receiver. */
TEST_F(rx13, handshake_not_keyupdate)
{
	static const unsigned char nst[8] = { HS_NEW_SESSION_TICKET, 0, 0, 4,
					      0, 0, 0, 9 };

	send_rec(_metadata, &self->s, TYPE_HANDSHAKE, nst, sizeof(nst));
	send_data(_metadata, &self->s, "same key", 8);
	expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, nst, sizeof(nst));
	EXPECT_NE(poll_events(self->rx, 1000) & POLLIN, 0);
	expect_rec(_metadata, self->rx, TYPE_DATA, "same key", 8);
}

/*
 * KeyUpdate (RFC 8446 4.6.3), with the Linux 6.14 receive semantics:
 * after the KeyUpdate record is read, recv and splice fail with
 * EKEYEXPIRED and poll shows no POLLIN until new TLS_RX keys come; the
 * next record (already queued, sealed with the new key at seq 0) then
 * decrypts. The 6.12 base kernel has no RX rekey: these cases fail there.
 */
static const unsigned char key_update[2][5] = {
	{ HS_KEY_UPDATE, 0, 0, 1, 0 },	/* update_not_requested */
	{ HS_KEY_UPDATE, 0, 0, 1, 1 },	/* update_requested */
};

/* The keys after a KeyUpdate: another key and iv, seq from 0. */
static void next_keys(const struct tls_keys *old, struct tls_keys *k,
		      unsigned int gen)
{
	make_keys(k, old->version, old->c->id, gen);
	memset(k->rec_seq, 0, sizeof(k->rec_seq));
}

static void rekey_once(struct __test_metadata *_metadata, struct sender *s,
		       int rx, const unsigned char *ku, unsigned int gen)
{
	unsigned char buf[16];
	struct tls_keys nk;
	int p[2];

	next_keys(&s->k, &nk, gen);
	send_data(_metadata, s, "old", 3);
	send_rec(_metadata, s, TYPE_HANDSHAKE, ku, 5);
	sender_init(s, s->fd, &nk);
	send_data(_metadata, s, "new", 3);
	sleep_ms(5);

	expect_rec(_metadata, rx, TYPE_DATA, "old", 3);
	expect_rec(_metadata, rx, TYPE_HANDSHAKE, ku, 5);
	expect_err(_metadata, rx, 0, EKEYEXPIRED);
	expect_err(_metadata, rx, MSG_DONTWAIT, EKEYEXPIRED);
	EXPECT_EQ(poll_events(rx, 100) & POLLIN, 0);
	ASSERT_EQ(pipe(p), 0);
	EXPECT_EQ(splice(rx, NULL, p[1], NULL, 100, SPLICE_F_NONBLOCK), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	close(p[0]);
	close(p[1]);

	ASSERT_EQ(set_rx(rx, &nk), 0) TH_LOG("TLS_RX rekey: %s",
					     strerror(errno));
	EXPECT_NE(poll_events(rx, 1000) & POLLIN, 0);
	ASSERT_EQ(recv(rx, buf, sizeof(buf), 0), 3);
	EXPECT_EQ(memcmp(buf, "new", 3), 0);
}

TEST_F(rx13, rekey_keyupdate)
{
	rekey_once(_metadata, &self->s, self->rx, key_update[0], 1);
}

TEST_F(rx13, rekey_keyupdate_requested)
{
	rekey_once(_metadata, &self->s, self->rx, key_update[1], 1);
}

/* Several KeyUpdates in a row, each with fresh keys. */
TEST_F(rx13, rekey_repeated)
{
	unsigned int gen;

	for (gen = 1; gen <= 3; gen++)
		rekey_once(_metadata, &self->s, self->rx,
			   key_update[gen & 1], gen);
}

/*
 * The KeyUpdate is where the receiver stops, even when a read could take
 * more: data before it comes first, data after it only with the new key.
 */
TEST_F(rx13, rekey_data_around)
{
	unsigned char buf[64];
	struct tls_keys nk;
	int type;

	next_keys(&self->k, &nk, 1);
	send_data(_metadata, &self->s, "before", 6);
	send_rec(_metadata, &self->s, TYPE_HANDSHAKE, key_update[0], 5);
	sender_init(&self->s, self->s.fd, &nk);
	send_data(_metadata, &self->s, "after", 5);
	sleep_ms(5);
	ASSERT_EQ(recv_typed(self->rx, buf, sizeof(buf), MSG_WAITALL, &type),
		  6);
	EXPECT_EQ(type, TYPE_DATA);
	EXPECT_EQ(memcmp(buf, "before", 6), 0);
	/* peeking the KeyUpdate leaves it, and RX, where they are */
	ASSERT_EQ(recv_typed(self->rx, buf, sizeof(buf), MSG_PEEK, &type), 5);
	EXPECT_EQ(type, TYPE_HANDSHAKE);
	expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, key_update[0], 5);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EKEYEXPIRED);
	ASSERT_EQ(set_rx(self->rx, &nk), 0) TH_LOG("%s", strerror(errno));
	expect_rec(_metadata, self->rx, TYPE_DATA, "after", 5);
}

/*
 * The 6.14 counters: TlsRxRekeyReceived when a KeyUpdate is decrypted,
 * TlsRxRekeyOk when the new keys are installed.
 */
TEST_F(rx13, rekey_counters)
{
	long recvd0, ok0;
	struct tls_keys nk;

	recvd0 = read_tls_stat(_metadata, "TlsRxRekeyReceived");
	ok0 = read_tls_stat(_metadata, "TlsRxRekeyOk");
	next_keys(&self->k, &nk, 1);
	send_rec(_metadata, &self->s, TYPE_HANDSHAKE, key_update[1], 5);
	sender_init(&self->s, self->s.fd, &nk);
	send_data(_metadata, &self->s, "counted", 7);
	expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, key_update[1], 5);
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxRekeyReceived"), recvd0 + 1);
	ASSERT_EQ(set_rx(self->rx, &nk), 0) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(read_tls_stat(_metadata, "TlsRxRekeyOk"), ok0 + 1);
	expect_rec(_metadata, self->rx, TYPE_DATA, "counted", 7);
}

/* A rekey must keep the version and cipher: EINVAL otherwise. */
TEST_F(rx13, rekey_other_cipher)
{
	struct tls_keys nk;
	__u16 other;

	other = self->k.c->id == TLS_CIPHER_AES_GCM_128 ?
		TLS_CIPHER_AES_GCM_256 : TLS_CIPHER_AES_GCM_128;
	send_rec(_metadata, &self->s, TYPE_HANDSHAKE, key_update[0], 5);
	expect_rec(_metadata, self->rx, TYPE_HANDSHAKE, key_update[0], 5);
	make_keys(&nk, TLS13, other, 1);
	EXPECT_EQ(set_rx(self->rx, &nk), -1);
	EXPECT_EQ(errno, EINVAL);
	make_keys(&nk, TLS12, self->k.c->id, 1);
	EXPECT_EQ(set_rx(self->rx, &nk), -1);
	EXPECT_EQ(errno, EINVAL);
	expect_err(_metadata, self->rx, MSG_DONTWAIT, EKEYEXPIRED);
	next_keys(&self->k, &nk, 1);
	sender_init(&self->s, self->s.fd, &nk);
	ASSERT_EQ(set_rx(self->rx, &nk), 0) TH_LOG("%s", strerror(errno));
	send_data(_metadata, &self->s, "ok", 2);
	expect_rec(_metadata, self->rx, TYPE_DATA, "ok", 2);
}

/*
 * The header after a KeyUpdate belongs to the next keys, and so does an
 * error in it: reads say EKEYEXPIRED, and poll() reports neither POLLIN
 * nor POLLERR, until TLS_RX installs them; then the record fails as it
 * would have: EBADMSG when too short to hold a tag, EMSGSIZE when over
 * the limit. Found by make fuzz (seed 1, case 155): the header was parsed
 * as the KeyUpdate left TCP, and its EBADMSG came before EKEYEXPIRED.
 */
TEST_F(rx13, rekey_then_bad_header)
{
	size_t lens[] = { parser_too_short(&self->k), max_body(&self->k) + 1 };
	int errs[] = { EBADMSG, EMSGSIZE };
	unsigned char wire[HDR_LEN + 64];
	struct tls_keys nk;
	struct sender s;
	unsigned int i;
	int rx;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		rx_pair(_metadata, &self->k, &s, &rx);
		next_keys(&self->k, &nk, 1);
		send_rec(_metadata, &s, TYPE_HANDSHAKE, key_update[0], 5);
		memset(wire, 0x42, sizeof(wire));
		wire[0] = TYPE_DATA;
		wire[1] = 3;
		wire[2] = 3;
		wire[3] = lens[i] >> 8;
		wire[4] = lens[i] & 0xff;
		raw_write(_metadata, s.fd, wire, sizeof(wire));
		sleep_ms(5);
		expect_rec(_metadata, rx, TYPE_HANDSHAKE, key_update[0], 5);
		expect_err(_metadata, rx, MSG_DONTWAIT, EKEYEXPIRED);
		EXPECT_EQ(poll_events(rx, 100), 0);
		expect_err(_metadata, rx, 0, EKEYEXPIRED);
		ASSERT_EQ(set_rx(rx, &nk), 0) TH_LOG("%s", strerror(errno));
		EXPECT_NE(poll_events(rx, 1000) & (POLLIN | POLLERR), 0);
		expect_err(_metadata, rx, 0, errs[i]);
		close(s.fd);
		close(rx);
	}
}

/* ---- review findings: each case failed before its fix ---------------- */

struct scribbler {
	unsigned char *buf;
	size_t len;
	int stop;	/* __atomic: the reader's thread sets it */
};

static void *scribble_fn(void *arg)
{
	struct scribbler *w = arg;
	unsigned char x = 0;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED))
		memset(w->buf, x++, w->len);
	return NULL;
}

/*
 * Records read into a buffer that another thread of the reader keeps
 * writing. Its contents are then anyone's guess, but each read must
 * succeed: CCM computes its tag over the plaintext it wrote, and when
 * that was the reader's own buffer a good record failed with EBADMSG,
 * and the connection with it. (TLS 1.3 promises no padding, so that its
 * records go straight to the reader too.)
 */
TEST_F(rx, reader_buffer_written_meanwhile)
{
	const size_t len = MAX_PLAIN, records = 40;
	struct scribbler w = { .len = len };
	unsigned char *data;
	pthread_t t;
	int one = 1;
	size_t i;

	if (variant->version == TLS13)
		ASSERT_EQ(setsockopt(self->rx, SOL_TLS, TLS_RX_EXPECT_NO_PAD,
				     &one, sizeof(one)), 0);
	data = malloc(len);
	w.buf = malloc(len);
	ASSERT_TRUE(!!data);
	ASSERT_TRUE(!!w.buf);
	fill(data, len, 77);
	ASSERT_EQ(pthread_create(&t, NULL, scribble_fn, &w), 0);
	for (i = 0; i < records; i++) {
		send_data(_metadata, &self->s, data, len);
		EXPECT_EQ(recv(self->rx, w.buf, len, MSG_WAITALL), (ssize_t)len)
			TH_LOG("record %zu: %s", i, strerror(errno));
	}
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	send_data(_metadata, &self->s, "END", 3);
	expect_rec(_metadata, self->rx, TYPE_DATA, "END", 3);
	free(w.buf);
	free(data);
}

#define KCM_MSG_LEN	16

/* A KCM parser that frames the stream into KCM_MSG_LEN-byte messages. */
static int kcm_fixed_len_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = KCM_MSG_LEN },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {
		.prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
		.insns = (__u64)(unsigned long)insns,
		.insn_cnt = 2,
		.license = (__u64)(unsigned long)"GPL",
	};

	return syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

/*
 * KCM on a kTLS socket: KCM's strparser reads through read_sock() from
 * the data_ready callback, in softirq, where decryption may not sleep.
 * The read moves to strparser's work item; the messages, spread over
 * records and sharing them, arrive whole and in order, and a kernel with
 * DEBUG_ATOMIC_SLEEP reports nothing (it reported a sleeping function
 * called from an invalid context).
 */
TEST_F(rx, kcm_read_sock)
{
	unsigned char data[4 * KCM_MSG_LEN], buf[64];
	struct kcm_attach attach;
	int kcm, prog, i;

	fill(data, sizeof(data), 5);
	prog = kcm_fixed_len_prog();
	ASSERT_GE(prog, 0) TH_LOG("BPF_PROG_LOAD: %s", strerror(errno));
	kcm = socket(AF_KCM, SOCK_DGRAM, KCMPROTO_CONNECTED);
	ASSERT_GE(kcm, 0) TH_LOG("AF_KCM: %s", strerror(errno));
	set_rcvtimeo(_metadata, kcm, RCVTIMEO_MS);
	attach.fd = self->rx;
	attach.bpf_fd = prog;
	ASSERT_EQ(ioctl(kcm, SIOCKCMATTACH, &attach), 0)
		TH_LOG("SIOCKCMATTACH: %s", strerror(errno));
	/* two messages in one record, one across two, one in the last */
	send_data(_metadata, &self->s, data, 40);
	send_data(_metadata, &self->s, data + 40, 8);
	send_data(_metadata, &self->s, data + 48, 16);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(recv(kcm, buf, sizeof(buf), 0), KCM_MSG_LEN)
			TH_LOG("message %d: %s", i, strerror(errno));
		EXPECT_EQ(memcmp(buf, data + i * KCM_MSG_LEN, KCM_MSG_LEN), 0);
	}
	close(kcm);
	close(prog);
}

/* ---- segments that overlap ------------------------------------------ */

/*
 * TCP queues a segment that overlaps bytes it already holds whole, its
 * first bytes shadowed by the skb before it (tcp_recvmsg() skips them
 * by sequence number). A sender sends such segments when it cuts a
 * retransmission differently from the original (after an RTO, say). To
 * make them on purpose the test plays the peer by hand: a veth pair in
 * a network namespace of its own, the kTLS socket behind one end, and a
 * packet socket on the other end that sends the segments, cut as the
 * test likes.
 */
#define OVL_LOCAL	"10.77.0.1"
#define OVL_PEER	"10.77.0.2"
#define OVL_PORT	4433
#define OVL_PEER_PORT	40000
#define OVL_ISS		0x7ffff000u
#define OVL_ETH_P_IP	0x0800
#define OVL_HDRS	40	/* IPv4 and TCP headers, no options */
#define OVL_SYN		0x02
#define OVL_ACK		0x10

struct ovl_peer {
	int pkt;		/* the packet socket, on the peer's end */
	struct sockaddr_ll to;	/* the kTLS end's link address */
	__u32 ack;		/* what the peer acknowledges */
	unsigned char saddr[4];
	unsigned char daddr[4];
};

static void put16(unsigned char *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(unsigned char *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static __u32 get32(const unsigned char *p)
{
	return (__u32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* The ones' complement sum of @len bytes, added to @sum, not folded */
static __u32 ovl_sum(__u32 sum, const unsigned char *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += p[0] << 8 | p[1];
	if (len)
		sum += p[0] << 8;
	return sum;
}

static __u16 ovl_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Send a segment from the peer: @flags, @seq, and @len bytes of @data */
static void ovl_send(struct __test_metadata *_metadata, struct ovl_peer *p,
		     unsigned char flags, __u32 seq, const void *data,
		     size_t len)
{
	unsigned char pkt[OVL_HDRS + 1400] = {}, pseudo[4];
	unsigned char *tcp = pkt + 20;
	__u32 sum;

	ASSERT_LE(len, sizeof(pkt) - OVL_HDRS);
	pkt[0] = 0x45;
	put16(pkt + 2, OVL_HDRS + len);
	pkt[8] = 64;
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 12, p->saddr, 4);
	memcpy(pkt + 16, p->daddr, 4);
	put16(pkt + 10, ovl_fold(ovl_sum(0, pkt, 20)));

	put16(tcp, OVL_PEER_PORT);
	put16(tcp + 2, OVL_PORT);
	put32(tcp + 4, seq);
	put32(tcp + 8, flags & OVL_ACK ? p->ack : 0);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 0xffff);
	if (len)
		memcpy(tcp + 20, data, len);
	/* the pseudo header: addresses, protocol, TCP length */
	pseudo[0] = 0;
	pseudo[1] = IPPROTO_TCP;
	put16(pseudo + 2, 20 + len);
	sum = ovl_sum(0, pkt + 12, 8);
	sum = ovl_sum(sum, pseudo, sizeof(pseudo));
	put16(tcp + 16, ovl_fold(ovl_sum(sum, tcp, 20 + len)));
	ASSERT_EQ(sendto(p->pkt, pkt, OVL_HDRS + len, 0,
			 (struct sockaddr *)&p->to, sizeof(p->to)),
		  (ssize_t)(OVL_HDRS + len)) TH_LOG("sendto: %s",
						    strerror(errno));
}

/* Wait for the kTLS end's SYN-ACK; the peer acknowledges its SYN */
static void ovl_wait_synack(struct __test_metadata *_metadata,
			    struct ovl_peer *p)
{
	unsigned char pkt[1500];
	struct sockaddr_ll from;
	socklen_t flen;
	ssize_t n;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(p->pkt, pkt, sizeof(pkt), 0,
			     (struct sockaddr *)&from, &flen);
		ASSERT_GT(n, 0) TH_LOG("no SYN-ACK: %s", strerror(errno));
		if (from.sll_pkttype == PACKET_OUTGOING || n < OVL_HDRS ||
		    pkt[9] != IPPROTO_TCP || memcmp(pkt + 12, p->daddr, 4))
			continue;
		if ((pkt[20 + 13] & (OVL_SYN | OVL_ACK)) ==
		    (OVL_SYN | OVL_ACK))
			break;
	}
	p->ack = get32(pkt + 20 + 4) + 1;
}

/* The kTLS end's veth, with the peer's link address fixed: no ARP */
static const char *const ovl_setup[] = {
	"ip link set lo up",
	"ip link add ovl0 address 02:00:00:00:77:01 type veth peer name ovl1 address 02:00:00:00:77:02",
	"ip addr add " OVL_LOCAL "/24 dev ovl0",
	"ip link set ovl0 up",
	"ip link set ovl1 up",
	"ip neigh add " OVL_PEER " lladdr 02:00:00:00:77:02 dev ovl0 nud permanent",
};

/*
 * The veth pair, the packet socket on the peer's end, and a kTLS socket
 * with @k connected to the peer: *@fd. Segments of the peer carry the
 * stream's byte 0 at OVL_ISS + 1.
 */
static void ovl_connect(struct __test_metadata *_metadata, struct ovl_peer *p,
			const struct tls_keys *k, int *fd)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(OVL_PORT),
	};
	cpu_set_t one_cpu;
	int lfd, on = 1;
	unsigned int i;

	/* one CPU: the segments reach TCP in the order they are sent */
	CPU_ZERO(&one_cpu);
	CPU_SET(0, &one_cpu);
	ASSERT_EQ(sched_setaffinity(0, sizeof(one_cpu), &one_cpu), 0);
	ASSERT_EQ(unshare(CLONE_NEWNET), 0) TH_LOG("unshare: %s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(ovl_setup); i++)
		ASSERT_EQ(system(ovl_setup[i]), 0) TH_LOG("setup command %u", i);
	inet_pton(AF_INET, OVL_PEER, p->saddr);
	inet_pton(AF_INET, OVL_LOCAL, p->daddr);

	p->pkt = socket(AF_PACKET, SOCK_DGRAM, htons(OVL_ETH_P_IP));
	ASSERT_GE(p->pkt, 0) TH_LOG("AF_PACKET: %s", strerror(errno));
	memset(&p->to, 0, sizeof(p->to));
	p->to.sll_family = AF_PACKET;
	p->to.sll_protocol = htons(OVL_ETH_P_IP);
	p->to.sll_ifindex = if_nametoindex("ovl1");
	ASSERT_NE(p->to.sll_ifindex, 0);
	p->to.sll_halen = 6;
	memcpy(p->to.sll_addr, "\x02\x00\x00\x00\x77\x01", 6);
	ASSERT_EQ(bind(p->pkt, (struct sockaddr *)&p->to, sizeof(p->to)), 0);
	set_rcvtimeo(_metadata, p->pkt, RCVTIMEO_MS);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)),
		  0);
	inet_pton(AF_INET, OVL_LOCAL, &addr.sin_addr);
	ASSERT_EQ(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ASSERT_EQ(listen(lfd, 1), 0);
	set_rcvtimeo(_metadata, lfd, RCVTIMEO_MS);

	ovl_send(_metadata, p, OVL_SYN, OVL_ISS, NULL, 0);
	ovl_wait_synack(_metadata, p);
	ovl_send(_metadata, p, OVL_ACK, OVL_ISS + 1, NULL, 0);
	*fd = accept(lfd, NULL, NULL);
	ASSERT_GE(*fd, 0) TH_LOG("accept: %s", strerror(errno));
	close(lfd);
	set_rcvtimeo(_metadata, *fd, RCVTIMEO_MS);
	attach_tls(_metadata, *fd);
	ASSERT_EQ(set_rx(*fd, k), 0) TH_LOG("TLS_RX: %s", strerror(errno));
}

/*
 * Three records sent in segments that overlap the ones before them, at
 * both ends, in order and out of order, and one that TCP holds whole
 * already: the reader gets the plaintext, once.
 */
TEST_F(rx, overlapping_segments)
{
	/* [from, to) of the wire bytes, in the order they are sent */
	static const struct {
		size_t from, to;
	} cuts[] = {
		{ 0, 600 },	/* in order */
		{ 900, 1700 },	/* out of order */
		{ 500, 1000 },	/* over the tail of the 1st, the 2nd's head */
		{ 1600, 2400 },	/* over the tail of the 2nd */
		{ 0, 300 },	/* old: dropped */
		{ 2300, 0 },	/* the rest; 0 is the end */
	};
	unsigned char plain[3000], wire[3 * WIRE_MAX];
	struct ovl_peer p;
	struct sender s;
	size_t len = 0, n, to;
	unsigned char *rec;
	unsigned int i;
	int fd;

	ovl_connect(_metadata, &p, &self->k, &fd);
	sender_init(&s, -1, &self->k);
	fill(plain, sizeof(plain), 11);
	for (i = 0; i < 3; i++) {
		rec = build(&s, TYPE_DATA, plain + 1000 * i, 1000, 0, &n);
		memcpy(wire + len, rec, n);
		free(rec);
		len += n;
	}
	ASSERT_GT(len, 2400);
	for (i = 0; i < ARRAY_SIZE(cuts); i++) {
		to = cuts[i].to ?: len;
		ovl_send(_metadata, &p, OVL_ACK, OVL_ISS + 1 + cuts[i].from,
			 wire + cuts[i].from, to - cuts[i].from);
	}
	expect_stream(_metadata, fd, plain, sizeof(plain));
	close(fd);
	close(p.pkt);
}

/*
 * Reading a record that TCP holds in many skbs costs time linear in their
 * number. The decrypt path walks TCP's queue to each piece of the record;
 * a walk that started from the head for every piece took time quadratic
 * in the skbs per record, which any peer can choose by cutting its
 * segments small. The peer here sends a full record a byte at a time,
 * each segment overlapping the one before by a byte: TCP cannot merge an
 * overlapping segment into the skb before it, so each byte stays an skb
 * of its own, 16,000 of them.
 *
 * The yardstick is the time the peer took to send them: each segment
 * went through the veth pair, IP and TCP's receive path, which is
 * thousands of instructions. Reading the record takes a small part of
 * that when each skb costs a few hundred (half of it under KASAN and
 * kmemleak, which make each skb's free dear); with a walk from the head
 * for each it takes many times as long. Both are measured in the same
 * run, on the same clock, so a slow or busy host scales both alike.
 */
static long long ns_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000000000LL +
	       t1.tv_nsec - t0->tv_nsec;
}

/*
 * Send a full record from @at of the stream, a byte per skb, and read it:
 * the nanoseconds each took go to @send_ns and @read_ns. @at moves on.
 */
static void byte_skbs_round(struct __test_metadata *_metadata,
			    struct ovl_peer *p, struct sender *s, int fd,
			    size_t *at, long long *send_ns, long long *read_ns)
{
	unsigned char *plain, *got, *rec;
	struct timespec t0;
	size_t n, i;
	ssize_t ret;

	plain = malloc(MAX_PLAIN);
	got = malloc(MAX_PLAIN + 1);
	ASSERT_TRUE(plain && got);
	fill(plain, MAX_PLAIN, *at);
	rec = build(s, TYPE_DATA, plain, MAX_PLAIN, 0, &n);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ovl_send(_metadata, p, OVL_ACK, OVL_ISS + 1 + *at, rec, 1);
	for (i = 1; i < n; i++)
		ovl_send(_metadata, p, OVL_ACK, OVL_ISS + *at + i, rec + i - 1,
			 2);
	*send_ns = ns_since(&t0);
	*at += n;
	free(rec);

	/* the whole record is in TCP before the clock starts */
	ASSERT_TRUE(poll_events(fd, RCVTIMEO_MS) & POLLIN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = recv(fd, got, MAX_PLAIN + 1, 0);
	*read_ns = ns_since(&t0);
	ASSERT_EQ(ret, MAX_PLAIN) TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(memcmp(got, plain, MAX_PLAIN), 0);
	free(plain);
	free(got);
}

/* The best of three rounds: a pause of the host counts in none */
#define BYTE_SKBS_ROUNDS 3

/*
 * Injecting three times 16,000 packets takes over 25 s on a debug kernel
 * (KASAN, lockdep) with one vCPU: more than the harness's default 30 s
 * once the record is read too
 */
TEST_F_TIMEOUT(rx, many_skbs_per_record, 120)
{
	long long send_ns = -1, read_ns = -1, sent, read;
	int fd, big = 64 << 20;
	struct ovl_peer p;
	struct sender s;
	size_t at = 0;
	int i;

	ovl_connect(_metadata, &p, &self->k, &fd);
	/* room for 16,000 skbs without TCP collapsing them into fewer */
	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big,
			     sizeof(big)), 0);
	sender_init(&s, -1, &self->k);
	for (i = 0; i < BYTE_SKBS_ROUNDS; i++) {
		byte_skbs_round(_metadata, &p, &s, fd, &at, &sent, &read);
		if (send_ns < 0 || sent < send_ns)
			send_ns = sent;
		if (read_ns < 0 || read < read_ns)
			read_ns = read;
	}
	ksft_print_msg("a record in 16,000 skbs: sent in %lld us, read in %lld us\n",
		       send_ns / 1000, read_ns / 1000);
	EXPECT_LE(read_ns, 2 * send_ns)
		TH_LOG("reading took %.1f times as long as sending",
		       (double)read_ns / send_ns);
	close(fd);
	close(p.pkt);
}

TEST_HARNESS_MAIN
