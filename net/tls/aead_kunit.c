// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the AEADs kTLS seals its records with, called through
 * the crypto API alone, in the shape kTLS gives them: TLS 1.2 AES-128-GCM
 * on rfc5288(gcm(aes)) (the 13-byte AAD in the IV after the explicit
 * nonce) and on gcm(aes) (the AAD as the first scatterlist entry), TLS 1.3
 * AES-128-GCM and ChaCha20-Poly1305 (the 5-byte record header as AAD, the
 * inner content type sealed after the plaintext). The payload lies in
 * pages, one scatterlist entry per page, with the tag right after it, and
 * is sealed and opened in place.
 *
 * The fast cases check that a record opens to its plaintext, that a
 * flipped tag bit fails it with -EBADMSG, and that both TLS 1.2 layouts
 * give the same record.
 *
 * The slow case "cost" measures what one record costs the cipher, for the
 * benchmark's bound (scripts/bench.sh). Under QEMU's -icount shift=0 the
 * guest clock advances one nanosecond per instruction, so a ktime_get_ns()
 * delta counts the instructions in between, exactly. Each operation is
 * timed on its own, the median of the runs taken (a timer tick lands in
 * a few of them), and the median of an empty timed interval subtracted.
 * It prints the empty interval, then one line per cipher, driver, payload
 * size and direction:
 *   tls_aead_empty INSTRUCTIONS
 *   tls_aead_cost CIPHER TAG SIZE enc|dec INSTRUCTIONS DRIVER
 * Without icount the numbers are nanoseconds of a clock that may tick in
 * jiffies (0 with two vCPUs under plain TCG): only the assertions count.
 */

#include <crypto/aead.h>
#include <crypto/gcm.h>
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/unaligned.h>

#define AEAD_KUNIT_TAG		16
#define AEAD_KUNIT_HDR		5
/* TLS's largest plaintext; the buffer also holds the type byte and tag */
#define AEAD_KUNIT_MAX		16384
#define AEAD_KUNIT_BUF		(AEAD_KUNIT_MAX + 1 + AEAD_KUNIT_TAG)
#define AEAD_KUNIT_PAGES	DIV_ROUND_UP(AEAD_KUNIT_BUF, PAGE_SIZE)
#define AEAD_KUNIT_ORDER	get_order(AEAD_KUNIT_BUF)
/* Timed runs: odd, so that the median is one of them */
#define AEAD_KUNIT_RUNS		33
/* Untimed runs first: the first calls touch cold caches and tables */
#define AEAD_KUNIT_WARMUP	4
#define AEAD_KUNIT_DATA		0x17	/* TLS content type application_data */

/* One way kTLS calls an AEAD: a cipher, a version and a driver */
struct aead_kunit_row {
	const char *cipher;	/* the name ktls-bench reports */
	const char *tag;	/* which driver kTLS picked, in the cost line */
	const char *alg;	/* crypto_alloc_aead()'s name, as kTLS asks */
	unsigned int key_len;	/* rfc5288's includes the 4-byte salt */
	bool aad_in_iv;		/* rfc5288: the AAD follows the nonce in IV */
	bool tls13;		/* header as AAD, inner type byte sealed */
};

static const struct aead_kunit_row aead_kunit_rows[] = {
	{ "tls12-aes128-gcm", "rfc5288", "rfc5288(gcm(aes))", 16 + 4,
	  true, false },
	{ "tls12-aes128-gcm", "gcm", "gcm(aes)", 16, false, false },
	{ "tls13-aes128-gcm", "gcm", "gcm(aes)", 16, false, true },
	{ "tls13-chacha20-poly1305", "chacha", "rfc7539(chacha20,poly1305)",
	  32, false, true },
};

/* One record and the request that seals and opens it, reused */
struct aead_kunit_rec {
	const struct aead_kunit_row *row;
	struct crypto_aead *tfm;
	struct aead_request *req;
	u8 *data;		/* plaintext (and type byte), then the tag */
	unsigned int len;	/* bytes sealed: payload and type byte */
	unsigned int aad_len;
	/* rfc5288's IV is the largest: explicit nonce and AAD */
	u8 iv[GCM_RFC5288_IV_SIZE];
	u8 aad[GCM_RFC5288_AAD_SIZE];
	/* the AAD entry, then one entry per page */
	struct scatterlist sg[1 + AEAD_KUNIT_PAGES];
};

KUNIT_DEFINE_ACTION_WRAPPER(aead_kunit_free_tfm, crypto_free_aead,
			    struct crypto_aead *);

static void aead_kunit_free_pages(void *data)
{
	free_pages((unsigned long)data, AEAD_KUNIT_ORDER);
}

/* A key as kTLS hands it over: rfc5288 takes the salt after the key */
static struct crypto_aead *aead_kunit_tfm(struct kunit *test,
					  const struct aead_kunit_row *row)
{
	struct crypto_aead *tfm;
	u8 key[32 + 4];
	int err;

	tfm = crypto_alloc_aead(row->alg, 0, 0);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, tfm);
	err = kunit_add_action_or_reset(test, aead_kunit_free_tfm, tfm);
	KUNIT_ASSERT_EQ(test, err, 0);

	memset(key, 0x4b, sizeof(key));
	KUNIT_ASSERT_EQ(test, crypto_aead_setkey(tfm, key, row->key_len), 0);
	KUNIT_ASSERT_EQ(test, crypto_aead_setauthsize(tfm, AEAD_KUNIT_TAG), 0);
	return tfm;
}

/*
 * The record's nonce and AAD, for sequence number 1. TLS 1.2's nonce is
 * salt || explicit nonce (rfc5288 keeps the salt itself), TLS 1.3's the
 * IV from the key block XORed with the sequence number: both are just
 * fixed bytes here, the same for the two TLS 1.2 rows.
 */
static void aead_kunit_iv_aad(struct aead_kunit_rec *rec, unsigned int size)
{
	u8 *explicit = rec->iv;

	memset(rec->iv, 0, sizeof(rec->iv));
	if (rec->row->tls13) {
		memset(rec->iv, 0x49, 12);
		rec->iv[11] ^= 1;
		/* RFC 8446 section 5.2: the header of the record on the wire */
		rec->aad[0] = AEAD_KUNIT_DATA;
		rec->aad[1] = 3;
		rec->aad[2] = 3;
		put_unaligned_be16(rec->len + AEAD_KUNIT_TAG, rec->aad + 3);
		rec->aad_len = AEAD_KUNIT_HDR;
		return;
	}
	if (!rec->row->aad_in_iv) {
		memset(rec->iv, 0x4b, 4);	/* the salt, after the key */
		explicit += 4;
	}
	put_unaligned_be64(1, explicit);
	/* RFC 5246 section 6.2.3.3: seq_num, type, version, length */
	put_unaligned_be64(1, rec->aad);
	rec->aad[8] = AEAD_KUNIT_DATA;
	rec->aad[9] = 3;
	rec->aad[10] = 3;
	put_unaligned_be16(size, rec->aad + 11);
	rec->aad_len = GCM_RFC5288_AAD_SIZE;
}

/* The AAD entry, then the record's pages up to the end of the tag */
static void aead_kunit_sg(struct aead_kunit_rec *rec)
{
	unsigned int left = rec->len + AEAD_KUNIT_TAG;
	unsigned int n = DIV_ROUND_UP(left, PAGE_SIZE);
	unsigned int i;

	sg_init_table(rec->sg, 1 + n);
	sg_set_buf(&rec->sg[0], rec->aad, rec->aad_len);
	for (i = 0; i < n; i++) {
		sg_set_page(&rec->sg[1 + i],
			    virt_to_page(rec->data + i * PAGE_SIZE),
			    min_t(unsigned int, left, PAGE_SIZE), 0);
		left -= rec->sg[1 + i].length;
	}
}

/* The plaintext: a pattern, and TLS 1.3's inner content type after it */
static void aead_kunit_fill(struct aead_kunit_rec *rec, unsigned int size)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		rec->data[i] = i * 7 + 1;
	if (rec->row->tls13)
		rec->data[size] = AEAD_KUNIT_DATA;
}

/* A record of @size bytes of payload under @tfm, filled, not yet sealed */
static struct aead_kunit_rec *
aead_kunit_rec_new(struct kunit *test, const struct aead_kunit_row *row,
		   struct crypto_aead *tfm, unsigned int size)
{
	struct aead_kunit_rec *rec;
	int err;

	rec = kunit_kzalloc(test, sizeof(*rec), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, rec);
	rec->req = kunit_kzalloc(test, sizeof(*rec->req) +
				 crypto_aead_reqsize(tfm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, rec->req);
	rec->data = (u8 *)__get_free_pages(GFP_KERNEL, AEAD_KUNIT_ORDER);
	KUNIT_ASSERT_NOT_NULL(test, rec->data);
	err = kunit_add_action_or_reset(test, aead_kunit_free_pages,
					rec->data);
	KUNIT_ASSERT_EQ(test, err, 0);

	rec->row = row;
	rec->tfm = tfm;
	rec->len = size + (row->tls13 ? 1 : 0);
	aead_kunit_iv_aad(rec, size);
	aead_kunit_sg(rec);
	aead_kunit_fill(rec, size);
	return rec;
}

/*
 * Seal (@enc) or open the record in place. The request is set up again
 * each time, as kTLS does per record (tls_key_req()): the tfm, the AAD
 * copied into rfc5288's IV, the scatterlists with or without the AAD
 * entry. A synchronous driver returns at once; an asynchronous one is
 * waited for, as kTLS waits.
 */
static int aead_kunit_op(struct aead_kunit_rec *rec, bool enc)
{
	unsigned int cryptlen = rec->len + (enc ? 0 : AEAD_KUNIT_TAG);
	struct aead_request *req = rec->req;
	unsigned int aad_len = rec->aad_len;
	struct scatterlist *sg = rec->sg;
	DECLARE_CRYPTO_WAIT(wait);
	int err;

	aead_request_set_tfm(req, rec->tfm);
	if (rec->row->aad_in_iv) {
		memcpy(rec->iv + GCM_RFC5288_NONCE_SIZE, rec->aad,
		       GCM_RFC5288_AAD_SIZE);
		sg++;
		aad_len = 0;
	}
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	aead_request_set_crypt(req, sg, sg, cryptlen, rec->iv);
	aead_request_set_ad(req, aad_len);
	err = enc ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);
	return crypto_wait_req(err, &wait);
}

/* The fast cases: each row with a small record and a full one */
struct aead_kunit_param {
	const struct aead_kunit_row *row;
	unsigned int size;
};

static const struct aead_kunit_param aead_kunit_params[] = {
	{ &aead_kunit_rows[0], 64 }, { &aead_kunit_rows[0], AEAD_KUNIT_MAX },
	{ &aead_kunit_rows[1], 64 }, { &aead_kunit_rows[1], AEAD_KUNIT_MAX },
	{ &aead_kunit_rows[2], 64 }, { &aead_kunit_rows[2], AEAD_KUNIT_MAX },
	{ &aead_kunit_rows[3], 64 }, { &aead_kunit_rows[3], AEAD_KUNIT_MAX },
};

static void aead_kunit_param_desc(const struct aead_kunit_param *p,
				  char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s %s %u", p->row->cipher,
		 p->row->tag, p->size);
}

KUNIT_ARRAY_PARAM(aead_kunit, aead_kunit_params, aead_kunit_param_desc);

static struct aead_kunit_rec *aead_kunit_param_rec(struct kunit *test)
{
	const struct aead_kunit_param *p = test->param_value;

	return aead_kunit_rec_new(test, p->row, aead_kunit_tfm(test, p->row),
			      p->size);
}

/* Sealed, the payload changes; opened, it is back, type byte and all */
static void seal_open(struct kunit *test)
{
	struct aead_kunit_rec *rec = aead_kunit_param_rec(test);
	u8 *plain;

	plain = kunit_kmalloc(test, rec->len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, plain);
	memcpy(plain, rec->data, rec->len);

	KUNIT_ASSERT_EQ(test, aead_kunit_op(rec, true), 0);
	KUNIT_EXPECT_MEMNEQ(test, rec->data, plain, rec->len);
	KUNIT_ASSERT_EQ(test, aead_kunit_op(rec, false), 0);
	KUNIT_EXPECT_MEMEQ(test, rec->data, plain, rec->len);
}

/* One bit of the tag wrong, the record must not open */
static void bad_tag(struct kunit *test)
{
	struct aead_kunit_rec *rec = aead_kunit_param_rec(test);

	KUNIT_ASSERT_EQ(test, aead_kunit_op(rec, true), 0);
	rec->data[rec->len + AEAD_KUNIT_TAG - 1] ^= 0x80;
	KUNIT_EXPECT_EQ(test, aead_kunit_op(rec, false), -EBADMSG);
}

/*
 * rfc5288 is GCM with the AAD moved into the IV: under the same key,
 * nonce and AAD it must give gcm(aes)'s record byte for byte, or kTLS's
 * TLS 1.2 records would change with the driver it picked.
 */
static void tls12_same_record(struct kunit *test)
{
	const struct aead_kunit_row *r5288 = &aead_kunit_rows[0];
	const struct aead_kunit_row *gcm = &aead_kunit_rows[1];
	struct aead_kunit_rec *a, *b;

	a = aead_kunit_rec_new(test, r5288, aead_kunit_tfm(test, r5288), 1000);
	b = aead_kunit_rec_new(test, gcm, aead_kunit_tfm(test, gcm), 1000);
	KUNIT_ASSERT_EQ(test, aead_kunit_op(a, true), 0);
	KUNIT_ASSERT_EQ(test, aead_kunit_op(b, true), 0);
	KUNIT_EXPECT_MEMEQ(test, a->data, b->data, a->len + AEAD_KUNIT_TAG);
}

static int aead_kunit_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 aead_kunit_median(u64 *t)
{
	sort(t, AEAD_KUNIT_RUNS, sizeof(*t), aead_kunit_cmp, NULL);
	return t[AEAD_KUNIT_RUNS / 2];
}

/* The median of an empty timed interval: what every timing adds */
static u64 aead_kunit_empty(void)
{
	u64 t[AEAD_KUNIT_RUNS];
	unsigned int i;

	for (i = 0; i < AEAD_KUNIT_RUNS; i++) {
		t[i] = ktime_get_ns();
		t[i] = ktime_get_ns() - t[i];
	}
	return aead_kunit_median(t);
}

/*
 * Seal and open the record in turn, each timed on its own: opening
 * restores the plaintext, so every seal sees the same input and every
 * open a good record. Fills @enc and @dec with the medians.
 */
static void aead_kunit_time(struct kunit *test, struct aead_kunit_rec *rec,
			    u64 *enc, u64 *dec)
{
	/* [0]: seals, [1]: opens */
	u64 runs[2][AEAD_KUNIT_RUNS], t;
	unsigned int i, d;
	int err;

	for (i = 0; i < AEAD_KUNIT_WARMUP + AEAD_KUNIT_RUNS; i++) {
		for (d = 0; d < 2; d++) {
			t = ktime_get_ns();
			err = aead_kunit_op(rec, !d);
			t = ktime_get_ns() - t;
			KUNIT_ASSERT_EQ(test, err, 0);
			if (i >= AEAD_KUNIT_WARMUP)
				runs[d][i - AEAD_KUNIT_WARMUP] = t;
		}
	}
	*enc = aead_kunit_median(runs[0]);
	*dec = aead_kunit_median(runs[1]);
}

static void aead_kunit_cost_row(struct kunit *test,
				const struct aead_kunit_row *row, u64 empty)
{
	static const unsigned int sizes[] = { 64, 4096, AEAD_KUNIT_MAX };
	struct crypto_aead *tfm = aead_kunit_tfm(test, row);
	struct aead_kunit_rec *rec;
	unsigned int i;
	u64 enc, dec;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		rec = aead_kunit_rec_new(test, row, tfm, sizes[i]);
		aead_kunit_time(test, rec, &enc, &dec);
		/* the plaintext survived all the runs */
		aead_kunit_fill(rec, sizes[i]);
		KUNIT_EXPECT_EQ(test, aead_kunit_op(rec, true), 0);
		KUNIT_EXPECT_EQ(test, aead_kunit_op(rec, false), 0);

		kunit_info(test, "tls_aead_cost %s %s %u enc %llu %s\n",
			   row->cipher, row->tag, sizes[i], enc - empty,
			   crypto_aead_driver_name(tfm));
		kunit_info(test, "tls_aead_cost %s %s %u dec %llu %s\n",
			   row->cipher, row->tag, sizes[i], dec - empty,
			   crypto_aead_driver_name(tfm));
	}
}

/* Instructions per record under icount: the benchmark's cipher bound */
static void cost(struct kunit *test)
{
	u64 empty = aead_kunit_empty();
	unsigned int i;

	kunit_info(test, "tls_aead_empty %llu\n", empty);
	for (i = 0; i < ARRAY_SIZE(aead_kunit_rows); i++)
		aead_kunit_cost_row(test, &aead_kunit_rows[i], empty);
}

static struct kunit_case aead_kunit_cases[] = {
	KUNIT_CASE_PARAM(seal_open, aead_kunit_gen_params),
	KUNIT_CASE_PARAM(bad_tag, aead_kunit_gen_params),
	KUNIT_CASE(tls12_same_record),
	KUNIT_CASE_SLOW(cost),
	{}
};

static struct kunit_suite aead_kunit_suite = {
	.name = "tls_aead",
	.test_cases = aead_kunit_cases,
};

kunit_test_suite(aead_kunit_suite);
