// SPDX-License-Identifier: GPL-2.0-only
/*
 * rfc5288: AES-GCM for TLS 1.2 records, over any GCM AEAD.
 *
 * A TLS 1.2 AES-GCM record (RFC 5288) is sealed under a 12-byte nonce made
 * of a 4-byte salt from the key block and an 8-byte explicit nonce sent in
 * the record, with 13 bytes of additional data (sequence number, type,
 * version, length). The plain GCM interface wants those 13 bytes at the
 * front of the scatterlists, so every caller had to stage them next to the
 * payload. Here they travel in the IV instead (see include/crypto/gcm.h);
 * this generic version puts them in front of the payload for the inner
 * GCM, inside its own request, so callers never have to. Architecture code
 * can implement the same algorithm directly and hash the 13 bytes from the
 * IV without any scatterlist (arch/x86/crypto/aesni-intel_glue.c does).
 *
 * The name follows rfc4106 and rfc4543: the RFC that defines how a
 * protocol uses GCM. Unlike those, the additional data is not ESP's but
 * TLS's, so it cannot be left to the caller's scatterlist shape.
 */

#include <crypto/gcm.h>
#include <crypto/internal/aead.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>

/* Per transform: the inner GCM and the implicit part of the nonce. */
struct rfc5288_ctx {
	struct crypto_aead *gcm;
	u8 salt[GCM_RFC5288_SALT_SIZE];
};

/*
 * Per request. The inner request must come last: its own context follows
 * it. The 12-byte GCM nonce is placed after that, aligned for the inner
 * algorithm (rfc5288_nonce()).
 */
struct rfc5288_req {
	u8 aad[GCM_RFC5288_AAD_SIZE];
	struct scatterlist src[2];
	struct scatterlist dst[2];
	struct aead_request inner;
};

static u8 *rfc5288_nonce(struct aead_request *req)
{
	struct rfc5288_ctx *ctx = crypto_aead_ctx(crypto_aead_reqtfm(req));
	struct rfc5288_req *rreq = aead_request_ctx(req);
	u8 *end = (u8 *)(&rreq->inner + 1) + crypto_aead_reqsize(ctx->gcm);

	return PTR_ALIGN(end, crypto_aead_alignmask(ctx->gcm) + 1);
}

static int rfc5288_setkey(struct crypto_aead *tfm, const u8 *key,
			  unsigned int keylen)
{
	struct rfc5288_ctx *ctx = crypto_aead_ctx(tfm);

	if (keylen <= GCM_RFC5288_SALT_SIZE)
		return -EINVAL;
	keylen -= GCM_RFC5288_SALT_SIZE;
	memcpy(ctx->salt, key + keylen, GCM_RFC5288_SALT_SIZE);

	crypto_aead_clear_flags(ctx->gcm, CRYPTO_TFM_REQ_MASK);
	crypto_aead_set_flags(ctx->gcm, crypto_aead_get_flags(tfm) &
			      CRYPTO_TFM_REQ_MASK);
	return crypto_aead_setkey(ctx->gcm, key, keylen);
}

static int rfc5288_setauthsize(struct crypto_aead *tfm, unsigned int authsize)
{
	struct rfc5288_ctx *ctx = crypto_aead_ctx(tfm);

	/* RFC 5288 section 3: the full 16-byte tag, nothing shorter */
	if (authsize != GCM_RFC5288_TAG_SIZE)
		return -EINVAL;
	return crypto_aead_setauthsize(ctx->gcm, authsize);
}

/*
 * Build the inner GCM request: the 13 bytes copied out of the IV become an
 * entry of their own chained in front of the caller's src (and dst when
 * it differs; GCM never writes the additional data to dst).
 */
static struct aead_request *rfc5288_inner(struct aead_request *req)
{
	struct rfc5288_ctx *ctx = crypto_aead_ctx(crypto_aead_reqtfm(req));
	struct rfc5288_req *rreq = aead_request_ctx(req);
	struct scatterlist *dst = rreq->src;
	u8 *nonce = rfc5288_nonce(req);

	memcpy(nonce, ctx->salt, GCM_RFC5288_SALT_SIZE);
	memcpy(nonce + GCM_RFC5288_SALT_SIZE, req->iv, GCM_RFC5288_NONCE_SIZE);
	memcpy(rreq->aad, req->iv + GCM_RFC5288_NONCE_SIZE, GCM_RFC5288_AAD_SIZE);

	sg_init_table(rreq->src, 2);
	sg_set_buf(&rreq->src[0], rreq->aad, GCM_RFC5288_AAD_SIZE);
	sg_chain(rreq->src, 2, req->src);
	if (req->dst != req->src) {
		dst = rreq->dst;
		sg_init_table(dst, 2);
		sg_set_buf(&dst[0], rreq->aad, GCM_RFC5288_AAD_SIZE);
		sg_chain(dst, 2, req->dst);
	}

	aead_request_set_tfm(&rreq->inner, ctx->gcm);
	aead_request_set_callback(&rreq->inner, req->base.flags,
				  req->base.complete, req->base.data);
	aead_request_set_crypt(&rreq->inner, rreq->src, dst, req->cryptlen,
			       nonce);
	aead_request_set_ad(&rreq->inner, GCM_RFC5288_AAD_SIZE);
	return &rreq->inner;
}

static int rfc5288_encrypt(struct aead_request *req)
{
	if (req->assoclen)
		return -EINVAL;
	return crypto_aead_encrypt(rfc5288_inner(req));
}

static int rfc5288_decrypt(struct aead_request *req)
{
	if (req->assoclen)
		return -EINVAL;
	return crypto_aead_decrypt(rfc5288_inner(req));
}

static int rfc5288_init_tfm(struct crypto_aead *tfm)
{
	struct aead_instance *inst = aead_alg_instance(tfm);
	struct rfc5288_ctx *ctx = crypto_aead_ctx(tfm);
	struct crypto_aead *gcm;
	unsigned int align;

	gcm = crypto_spawn_aead(aead_instance_ctx(inst));
	if (IS_ERR(gcm))
		return PTR_ERR(gcm);

	ctx->gcm = gcm;
	/* room for rfc5288_nonce() to align the nonce for the inner GCM */
	align = crypto_aead_alignmask(gcm);
	crypto_aead_set_reqsize(tfm, sizeof(struct rfc5288_req) +
				crypto_aead_reqsize(gcm) + align +
				GCM_AES_IV_SIZE);
	return 0;
}

static void rfc5288_exit_tfm(struct crypto_aead *tfm)
{
	struct rfc5288_ctx *ctx = crypto_aead_ctx(tfm);

	crypto_free_aead(ctx->gcm);
}

static void rfc5288_free(struct aead_instance *inst)
{
	crypto_drop_aead(aead_instance_ctx(inst));
	kfree(inst);
}

static int rfc5288_create(struct crypto_template *tmpl, struct rtattr **tb)
{
	struct aead_instance *inst;
	struct aead_alg *gcm;
	u32 mask;
	int err = crypto_check_attr_type(tb, CRYPTO_ALG_TYPE_AEAD, &mask);

	if (err)
		return err;
	/* the instance, with the spawn of the inner GCM as its context */
	inst = kzalloc(sizeof(*inst) + sizeof(struct crypto_aead_spawn),
		       GFP_KERNEL);
	if (!inst)
		return -ENOMEM;
	err = crypto_grab_aead(aead_instance_ctx(inst),
			       aead_crypto_instance(inst),
			       crypto_attr_alg_name(tb[1]), 0, mask);
	if (err)
		goto out_free;
	gcm = crypto_spawn_aead_alg(aead_instance_ctx(inst));

	/* a GCM: 12-byte nonce, stream cipher, room for a full tag */
	err = -EINVAL;
	if (crypto_aead_alg_ivsize(gcm) != GCM_AES_IV_SIZE ||
	    gcm->base.cra_blocksize != 1 ||
	    crypto_aead_alg_maxauthsize(gcm) < GCM_RFC5288_TAG_SIZE)
		goto out_free;

	err = crypto_inst_setname(aead_crypto_instance(inst), tmpl->name,
				  &gcm->base);
	if (err)
		goto out_free;

	inst->alg.base.cra_priority = gcm->base.cra_priority;
	inst->alg.base.cra_blocksize = 1;
	inst->alg.base.cra_alignmask = gcm->base.cra_alignmask;
	inst->alg.base.cra_ctxsize = sizeof(struct rfc5288_ctx);
	inst->alg.ivsize = GCM_RFC5288_IV_SIZE;
	inst->alg.maxauthsize = GCM_RFC5288_TAG_SIZE;
	inst->alg.chunksize = crypto_aead_alg_chunksize(gcm);
	inst->alg.init = rfc5288_init_tfm;
	inst->alg.exit = rfc5288_exit_tfm;
	inst->alg.setkey = rfc5288_setkey;
	inst->alg.setauthsize = rfc5288_setauthsize;
	inst->alg.encrypt = rfc5288_encrypt;
	inst->alg.decrypt = rfc5288_decrypt;
	inst->free = rfc5288_free;

	err = aead_register_instance(tmpl, inst);
	if (!err)
		return 0;
out_free:
	rfc5288_free(inst);
	return err;
}

static struct crypto_template rfc5288_tmpl = {
	.name = "rfc5288",
	.create = rfc5288_create,
	.module = THIS_MODULE,
};

static int __init rfc5288_init(void)
{
	return crypto_register_template(&rfc5288_tmpl);
}

static void __exit rfc5288_exit(void)
{
	crypto_unregister_template(&rfc5288_tmpl);
}

subsys_initcall(rfc5288_init);
module_exit(rfc5288_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("AES-GCM for TLS 1.2 records (RFC 5288)");
MODULE_ALIAS_CRYPTO("rfc5288");
