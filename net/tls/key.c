// SPDX-License-Identifier: GPL-2.0
/*
 * Record keys: the AEAD transform of one direction, and the nonce, AAD
 * and sequence number rules of RFC 5246 (section 6.2.3.3), RFC 5288,
 * RFC 6655, RFC 7905 and RFC 8446 (sections 5.2 and 5.3).
 *
 * The TX and RX paths build records around these helpers; they never
 * look at the version or the cipher themselves.
 */

#include <crypto/gcm.h>
#include <linux/debugfs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <net/tls.h>

#include "key.h"

/*
 * Whether TLS 1.2 keys try the cipher's name12 AEAD first. Read when a key
 * is set, so that both kinds of transform can be tested on one kernel;
 * sockets keep what they got. Users have no reason to turn it off: the
 * switch is for tests, in debugfs, not a module parameter.
 */
static bool tls_key_name12 = true;
static struct dentry *tls_key_debugfs;

/**
 * tls_key_debugfs_init() - add the test switch, debugfs tls/aead_rfc5288
 *
 * Like all of debugfs, optional: the default holds without it.
 */
void tls_key_debugfs_init(void)
{
	tls_key_debugfs = debugfs_create_dir("tls", NULL);
	debugfs_create_bool("aead_rfc5288", 0600, tls_key_debugfs,
			    &tls_key_name12);
}

/**
 * tls_key_debugfs_exit() - remove what tls_key_debugfs_init() added
 */
void tls_key_debugfs_exit(void)
{
	debugfs_remove(tls_key_debugfs);
}

static struct crypto_aead *tls_key_alloc(const char *name, const u8 *key,
					 unsigned int keylen)
{
	struct crypto_aead *aead;
	int err;

	aead = crypto_alloc_aead(name, 0, 0);
	if (IS_ERR(aead))
		return aead;
	err = crypto_aead_setkey(aead, key, keylen);
	if (!err)
		err = crypto_aead_setauthsize(aead, TLS_CIPHER_TAG_SIZE);
	if (err) {
		crypto_free_aead(aead);
		return ERR_PTR(err);
	}
	return aead;
}

/*
 * rfc5288 takes the salt after the key. Any failure (no such algorithm,
 * or one refused in FIPS mode) just means the plain AEAD is used.
 */
static struct crypto_aead *tls_key_alloc12(const struct tls_cipher *c,
					   const u8 *info)
{
	u8 key[32 + GCM_RFC5288_SALT_SIZE];
	struct crypto_aead *aead;

	if (!c->name12 || !READ_ONCE(tls_key_name12) ||
	    c->key_size + c->salt_size > sizeof(key))
		return NULL;
	memcpy(key, info + tls_cipher_key_off(c), c->key_size);
	memcpy(key + c->key_size, info + tls_cipher_salt_off(c), c->salt_size);
	aead = tls_key_alloc(c->name12, key, c->key_size + c->salt_size);
	memzero_explicit(key, sizeof(key));
	return IS_ERR(aead) ? NULL : aead;
}

/**
 * tls_key_init() - set up one direction's keys
 * @key: zeroed state to fill in
 * @cipher: the cipher, from tls_cipher_check()
 * @info: the crypto_info struct user space set, @cipher->info_size bytes
 *
 * Allocates the AEAD transform, which may sleep.
 *
 * Return: 0, -ENOENT when the kernel lacks the cipher's algorithm,
 * another negative errno from the crypto API.
 */
int tls_key_init(struct tls_key *key, const struct tls_cipher *cipher,
		 const u8 *info)
{
	const struct tls_crypto_info *hdr = (const void *)info;
	struct crypto_aead *aead = NULL;

	if (WARN_ON_ONCE(cipher->key_size > sizeof(key->secret)))
		return -EINVAL;
	if (hdr->version == TLS_1_2_VERSION)
		aead = tls_key_alloc12(cipher, info);
	key->aad_in_iv = !!aead;
	if (!aead)
		aead = tls_key_alloc(cipher->name,
				     info + tls_cipher_key_off(cipher),
				     cipher->key_size);
	if (IS_ERR(aead))
		return PTR_ERR(aead);

	key->cipher = cipher;
	key->aead = aead;
	key->version = hdr->version;
	key->rule = tls_cipher_nonce_rule(cipher, hdr->version);
	key->prefix = TLS_HEADER_SIZE;
	if (key->rule == TLS_NONCE_EXPLICIT)
		key->prefix += cipher->iv_size;
	key->overhead = key->prefix + TLS_CIPHER_TAG_SIZE;
	if (key->version == TLS_1_3_VERSION)
		key->overhead += 1;
	memcpy(key->nonce, info + tls_cipher_salt_off(cipher),
	       cipher->salt_size);
	memcpy(key->nonce + cipher->salt_size,
	       info + tls_cipher_iv_off(cipher), cipher->iv_size);
	key->seq = get_unaligned_be64(info + tls_cipher_seq_off(cipher));
	memcpy(key->secret, info + tls_cipher_key_off(cipher),
	       cipher->key_size);
	return 0;
}

void tls_key_free(struct tls_key *key)
{
	if (key->aead)
		crypto_free_aead(key->aead);
	memzero_explicit(key, sizeof(*key));
}

/**
 * tls_key_export() - the crypto_info struct as it is now
 * @key: set up keys
 * @info: @key->cipher->info_size bytes to fill
 *
 * What user space set, with the iv and rec_seq fields of the next record:
 * a TLS library that takes the connection back carries on from there.
 * The fields fill the struct: none of its bytes is left unwritten.
 */
void tls_key_export(const struct tls_key *key, u8 *info)
{
	struct tls_crypto_info *hdr = (struct tls_crypto_info *)info;
	const struct tls_cipher *c = key->cipher;

	BUILD_BUG_ON(sizeof(*hdr) != 4);
	hdr->version = key->version;
	hdr->cipher_type = c->type;
	memcpy(info + tls_cipher_iv_off(c), key->nonce + c->salt_size,
	       c->iv_size);
	memcpy(info + tls_cipher_key_off(c), key->secret, c->key_size);
	memcpy(info + tls_cipher_salt_off(c), key->nonce, c->salt_size);
	put_unaligned_be64(key->seq, info + tls_cipher_seq_off(c));
}

/**
 * tls_key_prefix() - write the bytes that precede a record's ciphertext
 * @key: the sending direction's keys
 * @prefix: @key->prefix bytes
 * @type: the record's content type
 * @len: its plaintext length
 *
 * The header, and under %TLS_NONCE_EXPLICIT the explicit nonce. TLS 1.3
 * hides the type in the ciphertext; the header says application_data.
 *
 * Return: the record's length on the wire.
 */
unsigned int tls_key_prefix(const struct tls_key *key, u8 *prefix, u8 type,
			    unsigned int len)
{
	unsigned int rec_len = len + key->overhead;

	prefix[0] = key->version == TLS_1_3_VERSION ?
		    TLS_RECORD_TYPE_DATA : type;
	/* legacy_record_version: 1.2's number for both versions */
	put_unaligned_be16(TLS_1_2_VERSION, prefix + 1);
	put_unaligned_be16(rec_len - TLS_HEADER_SIZE, prefix + 3);
	if (key->rule == TLS_NONCE_EXPLICIT)
		memcpy(prefix + TLS_HEADER_SIZE,
		       key->nonce + key->cipher->salt_size,
		       key->cipher->iv_size);
	return rec_len;
}

/**
 * tls_key_aad() - write a record's additional authenticated data
 * @key: the direction's keys
 * @aad: %TLS_KEY_AAD_MAX bytes
 * @type: the record's content type
 * @len: its plaintext length (without TLS 1.3's inner type)
 * @prefix: the record's header as on the wire
 *
 * Return: the AAD's length.
 */
unsigned int tls_key_aad(const struct tls_key *key, u8 *aad, u8 type,
			 unsigned int len, const u8 *prefix)
{
	if (key->version == TLS_1_3_VERSION) {
		/* RFC 8446, section 5.2: the record header */
		memcpy(aad, prefix, TLS_HEADER_SIZE);
		return TLS_HEADER_SIZE;
	}
	/* RFC 5246, section 6.2.3.3: seq_num, type, version, length */
	put_unaligned_be64(key->seq, aad);
	aad[8] = type;
	put_unaligned_be16(TLS_1_2_VERSION, aad + 9);
	put_unaligned_be16(len, aad + 11);
	return TLS_KEY_AAD_MAX;
}

/**
 * tls_key_iv() - the AEAD IV of the next record
 * @key: the direction's keys
 * @iv: %TLS_KEY_IV_MAX bytes, in the layout the transform expects
 */
void tls_key_iv(const struct tls_key *key, u8 *iv)
{
	u8 *nonce = iv;
	unsigned int i;

	memset(iv, 0, TLS_KEY_IV_MAX);
	if (key->aad_in_iv) {
		/* the explicit nonce; tls_key_req() adds the AAD */
		memcpy(iv, key->nonce + key->cipher->salt_size,
		       GCM_RFC5288_NONCE_SIZE);
		return;
	}
	if (key->cipher->ccm_b0) {
		iv[0] = key->cipher->ccm_b0;
		nonce = iv + 1;
	}
	memcpy(nonce, key->nonce, TLS_CIPHER_NONCE_SIZE);
	if (key->rule != TLS_NONCE_XOR)
		return;
	/* RFC 8446, section 5.3: XOR with the seq, left-padded to 12 bytes */
	for (i = 0; i < TLS_CIPHER_SEQ_SIZE; i++)
		nonce[TLS_CIPHER_NONCE_SIZE - 1 - i] ^= (u8)(key->seq >> (8 * i));
}

/**
 * tls_key_iv_explicit() - the AEAD IV of a received record
 * @key: the receiving direction's keys
 * @iv: %TLS_KEY_IV_MAX bytes, in the layout the transform expects
 * @explicit: under %TLS_NONCE_EXPLICIT, the nonce the record carries
 *	after its header; ignored otherwise
 *
 * The sender chooses the explicit nonce (RFC 5288, section 3); the
 * receiver takes it as it comes.
 */
void tls_key_iv_explicit(const struct tls_key *key, u8 *iv, const u8 *explicit)
{
	const struct tls_cipher *c = key->cipher;

	tls_key_iv(key, iv);
	if (key->aad_in_iv)
		memcpy(iv, explicit, c->iv_size);
	else if (key->rule == TLS_NONCE_EXPLICIT)
		memcpy(iv + (c->ccm_b0 ? 1 : 0) + c->salt_size, explicit,
		       c->iv_size);
}

/**
 * tls_key_req() - point a record's AEAD request at its buffers
 * @key: the direction's keys
 * @op: the record's call: its IV from tls_key_iv() or
 *	tls_key_iv_explicit(), its AAD from tls_key_aad()
 * @src: scatterlist whose entry 0 is @op's AAD, followed by the payload
 * @dst: the same for the destination; may be @src
 * @cryptlen: bytes to encrypt, or to decrypt including the tag
 * @aad_len: the AAD's length
 *
 * When @key->aad_in_iv the AAD goes into the IV instead and entry 0 is
 * left out: the transform then sees the record's payload and tag only.
 * Calling this again with the same arguments gives the same request.
 */
void tls_key_req(const struct tls_key *key, struct tls_key_op *op,
		 struct scatterlist *src, struct scatterlist *dst,
		 unsigned int cryptlen, unsigned int aad_len)
{
	struct aead_request *req = &op->req;

	BUILD_BUG_ON(TLS_KEY_IV_MAX < GCM_RFC5288_IV_SIZE);
	aead_request_set_tfm(req, key->aead);
	if (key->aad_in_iv) {
		memcpy(op->iv + GCM_RFC5288_NONCE_SIZE, op->aad,
		       GCM_RFC5288_AAD_SIZE);
		src++;
		dst++;
		aad_len = 0;
	}
	aead_request_set_crypt(req, src, dst, cryptlen, op->iv);
	aead_request_set_ad(req, aad_len);
}

/**
 * tls_key_op_mem() - allocate the memory of one record's AEAD call
 * @key: the direction's keys, whose transform the request is for
 * @size: bytes of the caller's struct, which holds a struct tls_key_op last
 * @off: where in it the struct tls_key_op is
 * @gfp: allocation flags
 *
 * For a struct that holds one, use tls_key_op_alloc(), which works out
 * @size and @off and checks the member's type; for a struct tls_key_op
 * alone, @size is its size and @off 0.
 *
 * Return: the caller's struct, its request's transform set; or NULL.
 */
void *tls_key_op_mem(const struct tls_key *key, size_t size, size_t off,
		     gfp_t gfp)
{
	unsigned int ctx_size = crypto_aead_reqsize(key->aead);
	struct tls_key_op *op;
	void *mem;

	mem = kmalloc(size + ctx_size, gfp);
	if (!mem)
		return NULL;
	op = mem + off;
	op->ctx_size = ctx_size;
	aead_request_set_tfm(&op->req, key->aead);
	return mem;
}

/**
 * tls_key_op_free() - free what tls_key_op_alloc() gave
 * @mem: the caller's struct
 * @op: the struct tls_key_op in it
 *
 * @op is wiped first: its IV holds the key's salt, and the request's
 * context may hold state a transform derived from the key, which is why
 * aead_request_free() wipes it too. The scatterlists before it hold no
 * secret and are left as they are.
 */
void tls_key_op_free(void *mem, struct tls_key_op *op)
{
	memzero_explicit(op, sizeof(*op) + op->ctx_size);
	kfree(mem);
}

/**
 * tls_key_advance() - move on to the next record
 * @key: the direction's keys
 *
 * A sequence number is never used twice (RFC 8446, section 5.3): once the
 * last one is used, the direction is exhausted for good.
 */
void tls_key_advance(struct tls_key *key)
{
	u8 *explicit = key->nonce + key->cipher->salt_size;

	if (key->seq == U64_MAX)
		key->exhausted = true;
	key->seq++;
	if (key->rule == TLS_NONCE_EXPLICIT)
		put_unaligned_be64(get_unaligned_be64(explicit) + 1, explicit);
}
