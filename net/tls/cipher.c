// SPDX-License-Identifier: GPL-2.0
/*
 * The cipher table: what kTLS needs to know of each cipher of the uAPI,
 * and the checks of a crypto_info struct that user space hands in.
 *
 * The record rules of every cipher are the same but for the nonce (see
 * enum tls_nonce_rule) and CCM's IV format, so a row of this table is all
 * that a new cipher needs.
 */

#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/kernel.h>

#include "cipher.h"

/* The uAPI struct size: header, iv, key, salt, rec_seq */
#define TLS_INFO_SIZE(iv, key, salt) \
	(sizeof(struct tls_crypto_info) + (iv) + (key) + (salt) + \
	 TLS_CIPHER_SEQ_SIZE)

/* CCM with a 12-byte nonce has a 3-byte length field: L - 1 = 2 */
#define TLS_CCM_B0		2

static const struct tls_cipher tls_ciphers[] = {
	{
		.type = TLS_CIPHER_AES_GCM_128, .name = "gcm(aes)",
		.name12 = "rfc5288(gcm(aes))",
		.iv_size = 8, .key_size = 16, .salt_size = 4,
		.info_size = TLS_INFO_SIZE(8, 16, 4),
	}, {
		.type = TLS_CIPHER_AES_GCM_256, .name = "gcm(aes)",
		.name12 = "rfc5288(gcm(aes))",
		.iv_size = 8, .key_size = 32, .salt_size = 4,
		.info_size = TLS_INFO_SIZE(8, 32, 4),
	}, {
		.type = TLS_CIPHER_AES_CCM_128, .name = "ccm(aes)",
		.iv_size = 8, .key_size = 16, .salt_size = 4,
		.info_size = TLS_INFO_SIZE(8, 16, 4), .ccm_b0 = TLS_CCM_B0,
	}, {
		.type = TLS_CIPHER_CHACHA20_POLY1305,
		.name = "rfc7539(chacha20,poly1305)",
		.iv_size = 12, .key_size = 32, .salt_size = 0,
		.info_size = TLS_INFO_SIZE(12, 32, 0),
	}, {
		.type = TLS_CIPHER_SM4_GCM, .name = "gcm(sm4)",
		.iv_size = 8, .key_size = 16, .salt_size = 4,
		.info_size = TLS_INFO_SIZE(8, 16, 4),
	}, {
		.type = TLS_CIPHER_SM4_CCM, .name = "ccm(sm4)",
		.iv_size = 8, .key_size = 16, .salt_size = 4,
		.info_size = TLS_INFO_SIZE(8, 16, 4), .ccm_b0 = TLS_CCM_B0,
	}, {
		.type = TLS_CIPHER_ARIA_GCM_128, .name = "gcm(aria)",
		.iv_size = 8, .key_size = 16, .salt_size = 4,
		.info_size = TLS_INFO_SIZE(8, 16, 4), .tls12_only = true,
	}, {
		.type = TLS_CIPHER_ARIA_GCM_256, .name = "gcm(aria)",
		.iv_size = 8, .key_size = 32, .salt_size = 4,
		.info_size = TLS_INFO_SIZE(8, 32, 4), .tls12_only = true,
	},
};

/* The table must describe the uAPI structs exactly. */
static_assert(TLS_INFO_SIZE(8, 16, 4) ==
	      sizeof(struct tls12_crypto_info_aes_gcm_128));
static_assert(TLS_INFO_SIZE(8, 32, 4) ==
	      sizeof(struct tls12_crypto_info_aes_gcm_256));
static_assert(TLS_INFO_SIZE(8, 16, 4) ==
	      sizeof(struct tls12_crypto_info_aes_ccm_128));
static_assert(TLS_INFO_SIZE(12, 32, 0) ==
	      sizeof(struct tls12_crypto_info_chacha20_poly1305));
static_assert(TLS_INFO_SIZE(8, 16, 4) ==
	      sizeof(struct tls12_crypto_info_sm4_gcm));
static_assert(TLS_INFO_SIZE(8, 16, 4) ==
	      sizeof(struct tls12_crypto_info_sm4_ccm));
static_assert(TLS_INFO_SIZE(8, 16, 4) ==
	      sizeof(struct tls12_crypto_info_aria_gcm_128));
static_assert(TLS_INFO_SIZE(8, 32, 4) ==
	      sizeof(struct tls12_crypto_info_aria_gcm_256));
static_assert(TLS_INFO_SIZE(12, 32, 0) == TLS_CIPHER_INFO_MAX);

/**
 * tls_cipher_find() - the table row of a cipher
 * @type: a TLS_CIPHER_* number
 *
 * Return: the row, or NULL for a number the uAPI does not define.
 */
const struct tls_cipher *tls_cipher_find(u16 type)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(tls_ciphers); i++)
		if (tls_ciphers[i].type == type)
			return &tls_ciphers[i];
	return NULL;
}

/**
 * tls_cipher_check() - check a crypto_info struct from user space
 * @info: its header; @size bytes of it are readable
 * @size: the optlen user space passed
 * @cipher: set to the cipher's row on success
 *
 * Return: 0, or -EINVAL for an unknown version or cipher, a cipher that
 * the version does not define, or a size that is not the cipher's.
 */
int tls_cipher_check(const struct tls_crypto_info *info, unsigned int size,
		     const struct tls_cipher **cipher)
{
	const struct tls_cipher *c;

	if (size < sizeof(*info))
		return -EINVAL;
	if (info->version != TLS_1_2_VERSION &&
	    info->version != TLS_1_3_VERSION)
		return -EINVAL;
	c = tls_cipher_find(info->cipher_type);
	if (!c || size != c->info_size)
		return -EINVAL;
	if (c->tls12_only && info->version != TLS_1_2_VERSION)
		return -EINVAL;
	*cipher = c;
	return 0;
}

/**
 * tls_cipher_nonce_rule() - how records of @cipher under @version get
 * their nonce
 * @cipher: a row of the table
 * @version: TLS_1_2_VERSION or TLS_1_3_VERSION
 *
 * Return: the rule (see enum tls_nonce_rule).
 */
enum tls_nonce_rule tls_cipher_nonce_rule(const struct tls_cipher *cipher,
					  u16 version)
{
	if (version == TLS_1_3_VERSION || !cipher->salt_size)
		return TLS_NONCE_XOR;
	return TLS_NONCE_EXPLICIT;
}
