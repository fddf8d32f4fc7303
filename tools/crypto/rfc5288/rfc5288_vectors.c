// SPDX-License-Identifier: GPL-2.0
/*
 * rfc5288_vectors.c - generate crypto/testmgr.h test vectors for the
 * "rfc5288(gcm(aes))" AEAD template (TLS 1.2 AES-GCM records, RFC 5288).
 *
 * This program is independent of the kernel: it computes the vectors with
 * OpenSSL 3's EVP AES-GCM (EVP_aes_{128,192,256}_gcm) and prints, on stdout,
 * the C array aes_gcm_rfc5288_tv_template[] in testmgr.h style.
 *
 * The committed vectors were produced with:
 *
 *   gcc -O2 -Wall -o rfc5288_vectors rfc5288_vectors.c -lcrypto && \
 *	./rfc5288_vectors > vectors.h
 *
 * The two large vectors are a page and a byte long, not a whole TLS
 * record: testmgr gives each scatterlist entry at most two pages, so a
 * vector must fit in 8 KiB. Records of 2^14 and 2^14 + 1 bytes are checked
 * against OpenSSL by the kTLS selftests instead: through kTLS, and driver
 * by driver through AF_ALG (tools/testing/selftests/net/tls/aead.c).
 * The array printed (without its leading comment) is
 * aes_gcm_rfc5288_tv_template in crypto/testmgr.h.
 *
 * Template interface being tested:
 *   key:  AES key (16, 24 or 32 bytes) || 4-byte salt   (klen 20, 28, 36)
 *   iv:   8-byte explicit nonce || 13-byte TLS AAD       (ivsize 21)
 *	   AAD = seq_num (8, BE) || type (1) || version (2, 03 03) ||
 *		 length (2, BE, = plaintext length)
 *   tag:  16 bytes, appended to the ciphertext; assoclen is 0.
 *   AES-GCM nonce = salt || explicit nonce, GCM AAD = the 13 bytes above.
 *
 * All inputs are deterministic.  Byte i of a field is
 *	(i * 29 + seed) & 0xff
 * with seed = 0x11 * n for the key (including the salt, which is simply the
 * last 4 bytes of .key) and seed = 0x11 * n + 0x80 for the plaintext, where n
 * is the 1-based vector number.  seq_num, explicit nonce and content type
 * are listed per vector in specs[] below.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#ifndef BIG_LEN
#define BIG_LEN		4097	/* PAGE_SIZE + 1 on x86 */
#endif

#define SALT_LEN	4
#define NONCE_LEN	8
#define AAD_LEN		13
#define IV_LEN		(NONCE_LEN + AAD_LEN)
#define GCM_IV_LEN	(SALT_LEN + NONCE_LEN)
#define TAG_LEN		16
#define MAX_KEY_LEN	(32 + SALT_LEN)

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define TLS_APPLICATION_DATA	0x17
#define TLS_HANDSHAKE		0x16
#define TLS_ALERT		0x15

enum fault {
	FAULT_NONE,	/* authentic vector */
	FAULT_TAG,	/* last tag byte flipped */
	FAULT_AAD,	/* sealed with type 0x16, .iv says 0x17 */
	FAULT_CTEXT,	/* one ciphertext byte flipped */
};

struct vec_spec {
	const char *what;	/* comment printed with the vector */
	unsigned int aes_len;	/* AES key length: 16, 24 or 32 */
	unsigned int plen;
	uint64_t seq;
	uint64_t nonce;		/* explicit nonce */
	uint8_t type;
	enum fault fault;
};

static const struct vec_spec specs[] = {
	{ "AES-128, empty record",
	  16, 0, 0, 0, TLS_APPLICATION_DATA, FAULT_NONE },
	{ "AES-128, 1-byte record",
	  16, 1, 0x00000000ffffffffULL, 0x00000000ffffffffULL,
	  TLS_APPLICATION_DATA, FAULT_NONE },
	{ "AES-128, 64-byte record, seq 1",
	  16, 64, 1, 1, TLS_APPLICATION_DATA, FAULT_NONE },
	{ "AES-128, 4097-byte record, seq 2^64 - 2",
	  16, BIG_LEN, 0xfffffffffffffffeULL, 0xfffffffffffffffeULL,
	  TLS_APPLICATION_DATA, FAULT_NONE },
	{ "AES-192, 13-byte record, explicit nonce unrelated to seq",
	  24, 13, 5, 0xc0ffee0123456789ULL, TLS_APPLICATION_DATA,
	  FAULT_NONE },
	{ "AES-256, empty record",
	  32, 0, 0x0102030405060708ULL, 0x0102030405060708ULL,
	  TLS_APPLICATION_DATA, FAULT_NONE },
	{ "AES-256, 1-byte record",
	  32, 1, 0x8000000000000000ULL, 0x8000000000000000ULL,
	  TLS_APPLICATION_DATA, FAULT_NONE },
	{ "AES-256, 4097-byte alert record",
	  32, BIG_LEN, 7, 7, TLS_ALERT, FAULT_NONE },
	{ "AES-128, must fail: last tag byte flipped",
	  16, 16, 9, 9, TLS_APPLICATION_DATA, FAULT_TAG },
	{ "AES-256, must fail: sealed with type 0x16, .iv has 0x17",
	  32, 32, 10, 10, TLS_APPLICATION_DATA, FAULT_AAD },
	{ "AES-128, must fail: ciphertext byte 5 flipped",
	  16, 16, 11, 11, TLS_APPLICATION_DATA, FAULT_CTEXT },
};

static const char *const header[] = {
	"/*",
	" * rfc5288(gcm(aes)) test vectors: TLS 1.2 AES-GCM records (RFC 5288).",
	" * Generated with OpenSSL EVP by rfc5288_vectors.c.",
	" * .key is the AES key followed by the 4-byte salt; .iv is the 8-byte",
	" * explicit nonce followed by the 13-byte TLS AAD (seq_num, type,",
	" * version, length).  The GCM nonce is salt || explicit nonce and",
	" * .ctext is the ciphertext followed by the 16-byte tag.",
	" */",
	"static const struct aead_testvec aes_gcm_rfc5288_tv_template[] = {",
};

static void pattern(uint8_t *buf, unsigned int len, unsigned int seed)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 29 + seed) & 0xff);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

/* iv = explicit nonce || seq_num || type || 0x03 0x03 || length */
static void build_iv(uint8_t iv[IV_LEN], uint64_t nonce, uint64_t seq,
		     uint8_t type, unsigned int len)
{
	put_be64(iv, nonce);
	put_be64(iv + NONCE_LEN, seq);
	iv[16] = type;
	iv[17] = 0x03;
	iv[18] = 0x03;
	iv[19] = (uint8_t)(len >> 8);
	iv[20] = (uint8_t)(len & 0xff);
}

static const EVP_CIPHER *aes_gcm(unsigned int aes_len)
{
	switch (aes_len) {
	case 16:
		return EVP_aes_128_gcm();
	case 24:
		return EVP_aes_192_gcm();
	case 32:
		return EVP_aes_256_gcm();
	}
	return NULL;
}

/*
 * AES-GCM seal of one TLS record.  key is the AES key followed by the salt,
 * iv is the 21-byte template IV.  Writes plen + TAG_LEN bytes to out.
 */
static int seal(const uint8_t *key, unsigned int aes_len,
		const uint8_t iv[IV_LEN], const uint8_t *ptext,
		unsigned int plen, uint8_t *out)
{
	const EVP_CIPHER *cipher = aes_gcm(aes_len);
	uint8_t gcm_iv[GCM_IV_LEN];
	EVP_CIPHER_CTX *ctx;
	int outl, ok = 0;

	if (!cipher)
		return -1;
	memcpy(gcm_iv, key + aes_len, SALT_LEN);
	memcpy(gcm_iv + SALT_LEN, iv, NONCE_LEN);

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	if (EVP_EncryptInit_ex(ctx, cipher, NULL, NULL, NULL) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_IV_LEN,
				NULL) != 1)
		goto out;
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, key, gcm_iv) != 1)
		goto out;
	if (EVP_EncryptUpdate(ctx, NULL, &outl, iv + NONCE_LEN, AAD_LEN) != 1)
		goto out;
	outl = 0;
	if (plen && EVP_EncryptUpdate(ctx, out, &outl, ptext, (int)plen) != 1)
		goto out;
	if ((unsigned int)outl != plen)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, out + plen, &outl) != 1 || outl != 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
				out + plen) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Print a byte string as testmgr.h does: 8 "\x.." escapes per line. */
static void print_bytes(const char *field, const uint8_t *p, unsigned int len)
{
	unsigned int i;

	printf("\t\t.%s\t= ", field);
	if (!len) {
		printf("\"\",\n");
		return;
	}
	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			printf(i ? "\t\t\t  \"" : "\"");
		printf("\\x%02x", p[i]);
		if (i == len - 1)
			printf("\",\n");
		else if (i % 8 == 7)
			printf("\"\n");
	}
}

static void print_hex(const uint8_t *p, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		printf("\\x%02x", p[i]);
}

static void print_iv(const uint8_t iv[IV_LEN])
{
	printf("\t\t.iv\t= \"");
	print_hex(iv, 8);
	printf("\" /* nonce */\n\t\t\t  \"");
	print_hex(iv + 8, 8);
	printf("\" /* seq_num */\n\t\t\t  \"");
	print_hex(iv + 16, 5);
	printf("\", /* type, version, length */\n");
}

static int emit(const struct vec_spec *s, unsigned int n)
{
	const unsigned int klen = s->aes_len + SALT_LEN;
	const unsigned int clen = s->plen + TAG_LEN;
	uint8_t key[MAX_KEY_LEN], iv[IV_LEN], seal_iv[IV_LEN];
	uint8_t *ptext, *ctext;
	int err = -1;

	ptext = malloc(s->plen + 1);
	ctext = malloc(clen);
	if (!ptext || !ctext)
		goto out;

	pattern(key, klen, 0x11 * n);
	pattern(ptext, s->plen, 0x11 * n + 0x80);
	build_iv(iv, s->nonce, s->seq, s->type, s->plen);

	memcpy(seal_iv, iv, IV_LEN);
	if (s->fault == FAULT_AAD)
		seal_iv[16] = TLS_HANDSHAKE;
	if (seal(key, s->aes_len, seal_iv, ptext, s->plen, ctext))
		goto out;
	if (s->fault == FAULT_TAG)
		ctext[clen - 1] ^= 0x01;
	if (s->fault == FAULT_CTEXT)
		ctext[5] ^= 0x01;

	printf("\t%s{ /* %s */\n", n == 1 ? "" : "}, ", s->what);
	print_bytes("key", key, klen);
	printf("\t\t.klen\t= %u,\n", klen);
	print_iv(iv);
	print_bytes("ptext", ptext, s->plen);
	printf("\t\t.plen\t= %u,\n", s->plen);
	if (s->fault != FAULT_NONE)
		printf("\t\t.novrfy\t= 1,\n");
	print_bytes("ctext", ctext, clen);
	printf("\t\t.clen\t= %u,\n", clen);
	err = 0;
out:
	free(ptext);
	free(ctext);
	return err;
}

int main(void)
{
	unsigned int i;

	if (BIG_LEN > 0xffff) {
		fprintf(stderr, "BIG_LEN must fit the 16-bit length field\n");
		return 1;
	}

	for (i = 0; i < ARRAY_SIZE(header); i++)
		puts(header[i]);
	for (i = 0; i < ARRAY_SIZE(specs); i++) {
		if (emit(&specs[i], i + 1)) {
			fprintf(stderr, "vector %u: encryption failed\n",
				i + 1);
			return 1;
		}
	}
	printf("\t}\n};\n");

	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "error writing output\n");
		return 1;
	}
	return 0;
}
