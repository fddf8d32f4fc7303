/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_CIPHER_H
#define _TLS_CIPHER_H

#include <linux/types.h>
#include <uapi/linux/tls.h>

/* Every cipher of include/uapi/linux/tls.h has an 8-byte rec_seq, a 16-byte tag */
#define TLS_CIPHER_SEQ_SIZE	8
#define TLS_CIPHER_TAG_SIZE	16
/* salt || iv is the 12-byte AEAD nonce of every TLS cipher */
#define TLS_CIPHER_NONCE_SIZE	12
/* Largest crypto_info struct (AES-GCM-256, ChaCha20-Poly1305, ARIA-256) */
#define TLS_CIPHER_INFO_MAX	56

/**
 * enum tls_nonce_rule - how a record's AEAD nonce is made
 * @TLS_NONCE_EXPLICIT: salt || an 8-byte explicit nonce that the record
 *	carries after its header (TLS 1.2 GCM and CCM ciphers: RFC 5288,
 *	RFC 6655)
 * @TLS_NONCE_XOR: the 12-byte IV XOR the left-padded record sequence
 *	number, nothing on the wire (TLS 1.2 ChaCha20-Poly1305: RFC 7905;
 *	every TLS 1.3 cipher: RFC 8446, section 5.3)
 */
enum tls_nonce_rule {
	TLS_NONCE_EXPLICIT,
	TLS_NONCE_XOR,
};

/**
 * struct tls_cipher - one cipher of the uAPI
 * @type: its TLS_CIPHER_* number
 * @name: the kernel crypto API's name of the AEAD
 * @name12: an AEAD for TLS 1.2 records that takes the explicit nonce and
 *	the AAD in its IV (rfc5288, include/crypto/gcm.h), tried before
 *	@name for TLS 1.2; or NULL
 * @iv_size: bytes of the crypto_info iv field
 * @key_size: bytes of the key field
 * @salt_size: bytes of the salt field (0 or 4); salt || iv is the nonce
 * @info_size: size of the whole crypto_info struct: the header, then the
 *	iv, key, salt and rec_seq fields in that order
 * @ccm_b0: CCM's crypto API IV starts with a flags byte (L - 1, the size
 *	of CCM's length field minus one; RFC 3610); 0 for other modes
 * @tls12_only: not defined for TLS 1.3 (ARIA: RFC 6209 only)
 */
struct tls_cipher {
	u16		type;
	const char	*name;
	const char	*name12;
	u8		iv_size;
	u8		key_size;
	u8		salt_size;
	u8		info_size;
	u8		ccm_b0;
	bool		tls12_only;
};

const struct tls_cipher *tls_cipher_find(u16 type);
int tls_cipher_check(const struct tls_crypto_info *info, unsigned int size,
		     const struct tls_cipher **cipher);
enum tls_nonce_rule tls_cipher_nonce_rule(const struct tls_cipher *cipher,
					  u16 version);

/* Where the fields of a crypto_info struct of @c start */
static inline unsigned int tls_cipher_iv_off(const struct tls_cipher *c)
{
	return sizeof(struct tls_crypto_info);
}

static inline unsigned int tls_cipher_key_off(const struct tls_cipher *c)
{
	return tls_cipher_iv_off(c) + c->iv_size;
}

static inline unsigned int tls_cipher_salt_off(const struct tls_cipher *c)
{
	return tls_cipher_key_off(c) + c->key_size;
}

static inline unsigned int tls_cipher_seq_off(const struct tls_cipher *c)
{
	return tls_cipher_salt_off(c) + c->salt_size;
}

#endif /* _TLS_CIPHER_H */
