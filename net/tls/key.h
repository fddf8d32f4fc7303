/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_KEY_H
#define _TLS_KEY_H

#include <crypto/aead.h>
#include <net/tls.h>

#include "cipher.h"

/*
 * The AEAD IV buffer: CCM's is 16 bytes, rfc5288's 21 (explicit nonce and
 * AAD), the others' 12
 */
#define TLS_KEY_IV_MAX		24
/* Largest AAD: TLS 1.2's seq(8) type(1) version(2) length(2) */
#define TLS_KEY_AAD_MAX		13
/* Largest record prefix: the header and TLS 1.2's explicit nonce */
#define TLS_KEY_PREFIX_MAX	(TLS_HEADER_SIZE + 8)
/* Largest key field of a crypto_info struct (256-bit keys) */
#define TLS_KEY_SECRET_MAX	32

/**
 * struct tls_key - the keys and counters of one direction of a connection
 * @cipher: the cipher's row of the table
 * @aead: the transform, keyed
 * @aad_in_iv: @aead is @cipher->name12: the AAD goes in the IV, not in
 *	front of the payload (tls_key_req())
 * @version: TLS_1_2_VERSION or TLS_1_3_VERSION
 * @rule: how record nonces are made
 * @prefix: bytes of a record before its ciphertext: the header, and the
 *	explicit nonce under %TLS_NONCE_EXPLICIT
 * @overhead: bytes a record adds to its plaintext: @prefix, the tag, and
 *	TLS 1.3's inner content type
 * @nonce: salt || iv. Under %TLS_NONCE_EXPLICIT the iv part is the next
 *	record's explicit nonce, counting up from what user space set.
 * @seq: the next record's sequence number
 * @exhausted: the record with sequence number 2^64 - 1 was taken: no
 *	record may follow it
 * @secret: the key field of the crypto_info struct user space set, its
 *	first @cipher->key_size bytes, for tls_key_export() and device
 *	offload. The rest of that struct is @version, @cipher, @nonce and
 *	@seq.
 *
 * Written under the socket lock. The key material is wiped on free.
 */
struct tls_key {
	const struct tls_cipher	*cipher;
	struct crypto_aead	*aead;
	bool			aad_in_iv;
	u16			version;
	enum tls_nonce_rule	rule;
	u8			prefix;
	u8			overhead;
	u8			nonce[TLS_CIPHER_NONCE_SIZE];
	bool			exhausted;
	u64			seq;
	u8			secret[TLS_KEY_SECRET_MAX];
};

/**
 * struct tls_key_op - one record's AEAD call, beside its scatterlists
 * @iv: the IV, from tls_key_iv() or tls_key_iv_explicit()
 * @aad: the AAD, which entry 0 of the scatterlists points at
 * @type: TLS 1.3's content type byte after the plaintext: sealed from
 *	here, or decrypted into here when the plaintext goes to the reader
 * @ctx_size: crypto_aead_reqsize() of the transform, kept for the wipe in
 *	tls_key_op_free(): the transform may be gone by then (a KeyUpdate
 *	frees the old keys as soon as the record under them is sealed)
 * @req: the request, its @ctx_size bytes of context after it
 *
 * Allocated for one record and freed once its crypto call returned
 * (every call waits for completion), so that an idle socket holds none
 * of it. It ends with the request's context: a struct that holds it must
 * hold it last.
 */
struct tls_key_op {
	u8			iv[TLS_KEY_IV_MAX];
	u8			aad[TLS_KEY_AAD_MAX];
	u8			type;
	unsigned int		ctx_size;
	struct aead_request	req;
};

void *tls_key_op_mem(const struct tls_key *key, size_t size, size_t off,
		     gfp_t gfp);
void tls_key_op_free(void *mem, struct tls_key_op *op);

/*
 * Allocate a @type, which ends with the struct tls_key_op @member, with
 * room for the request's context of @key's transform
 */
#define tls_key_op_alloc(key, type, member, gfp)			\
	((type *)tls_key_op_mem(key, sizeof(type), offsetof(type, member) + \
		BUILD_BUG_ON_ZERO(!__same_type(((type *)0)->member,	\
					       struct tls_key_op)), gfp))

int tls_key_init(struct tls_key *key, const struct tls_cipher *cipher,
		 const u8 *info);
void tls_key_free(struct tls_key *key);
void tls_key_export(const struct tls_key *key, u8 *info);
unsigned int tls_key_prefix(const struct tls_key *key, u8 *prefix, u8 type,
			    unsigned int len);
unsigned int tls_key_aad(const struct tls_key *key, u8 *aad, u8 type,
			 unsigned int len, const u8 *prefix);
void tls_key_iv(const struct tls_key *key, u8 *iv);
void tls_key_iv_explicit(const struct tls_key *key, u8 *iv,
			 const u8 *explicit);
void tls_key_req(const struct tls_key *key, struct tls_key_op *op,
		 struct scatterlist *src, struct scatterlist *dst,
		 unsigned int cryptlen, unsigned int aad_len);
void tls_key_advance(struct tls_key *key);
void tls_key_debugfs_init(void);
void tls_key_debugfs_exit(void);

#endif /* _TLS_KEY_H */
