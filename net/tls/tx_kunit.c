// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of what only in-kernel callers can hand the TX path:
 * memory spliced in with MSG_SPLICE_PAGES, which user space never
 * chooses. Each case runs over a real TCP connection on the loopback
 * device of init_net, a client with TLS_TX keys and a server with the
 * same keys as TLS_RX, so the records are sealed and opened by the real
 * record layer and crypto API.
 *
 * A spliced page is referenced by the open record and read when the
 * record is sealed, which a send with MSG_MORE puts off until a later
 * send. A page reference does not keep a slab object alive, though: by
 * then kmalloc() memory may have been freed and handed out again. Such
 * bytes must be copied when they are taken, as TCP refuses them
 * (sendpage_ok()). The cases overwrite the memory between the two sends,
 * as its next owner would, and look at what the peer gets.
 */

#include <kunit/test.h>
#include <linux/bvec.h>
#include <linux/in.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/tcp.h>
#include <linux/tls.h>
#include <linux/uio.h>
#include <net/net_namespace.h>
#include <net/sock.h>

/* a power of two: one kmalloc() object of it never crosses a page */
#define TX_KUNIT_LEN	128
/* bounds each blocking call, far above what TCG needs for a record */
#define TX_KUNIT_TIMEO	(30 * HZ)

struct tx_kunit_conn {
	struct socket *listener;
	struct socket *client;	/* TLS_TX */
	struct socket *server;	/* TLS_RX, the same keys */
};

/* What the spliced memory holds at the send, and what it holds after */
static void tx_kunit_fill(u8 *buf, bool later)
{
	unsigned int i;

	for (i = 0; i < TX_KUNIT_LEN; i++)
		buf[i] = later ? 0xff - i : i;
}

/* Built in, the tests run before user space brings loopback up */
static int tx_kunit_lo_up(void)
{
	int err;

	rtnl_lock();
	err = dev_open(init_net.loopback_dev, NULL);
	rtnl_unlock();
	return err;
}

/* Attach kTLS to @sock with fixed TLS 1.2 AES-GCM-128 keys for @dir */
static int tx_kunit_tls(struct socket *sock, int dir)
{
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info.version = TLS_1_2_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
	};
	char ulp[] = "tls";
	int err;

	memset(ci.key, 0x4b, sizeof(ci.key));
	memset(ci.iv, 0x49, sizeof(ci.iv));
	memset(ci.salt, 0x53, sizeof(ci.salt));
	err = sock->ops->setsockopt(sock, SOL_TCP, TCP_ULP,
				    KERNEL_SOCKPTR(ulp), sizeof(ulp));
	if (err)
		return err;
	return sock->ops->setsockopt(sock, SOL_TLS, dir, KERNEL_SOCKPTR(&ci),
				     sizeof(ci));
}

static int tx_kunit_init(struct kunit *test)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct tx_kunit_conn *c;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	test->priv = c;

	KUNIT_ASSERT_EQ(test, tx_kunit_lo_up(), 0);
	KUNIT_ASSERT_EQ(test, sock_create_kern(&init_net, AF_INET, SOCK_STREAM,
					       IPPROTO_TCP, &c->listener), 0);
	KUNIT_ASSERT_EQ(test, kernel_bind(c->listener, (struct sockaddr *)&addr,
					  sizeof(addr)), 0);
	KUNIT_ASSERT_EQ(test, kernel_listen(c->listener, 1), 0);
	/* the port the kernel picked */
	KUNIT_ASSERT_EQ(test, kernel_getsockname(c->listener,
						 (struct sockaddr *)&addr),
			(int)sizeof(addr));
	KUNIT_ASSERT_EQ(test, sock_create_kern(&init_net, AF_INET, SOCK_STREAM,
					       IPPROTO_TCP, &c->client), 0);
	KUNIT_ASSERT_EQ(test, kernel_connect(c->client, (struct sockaddr *)&addr,
					     sizeof(addr), 0), 0);
	KUNIT_ASSERT_EQ(test, kernel_accept(c->listener, &c->server, 0), 0);
	WRITE_ONCE(c->client->sk->sk_sndtimeo, TX_KUNIT_TIMEO);
	WRITE_ONCE(c->server->sk->sk_rcvtimeo, TX_KUNIT_TIMEO);

	KUNIT_ASSERT_EQ(test, tx_kunit_tls(c->client, TLS_TX), 0);
	KUNIT_ASSERT_EQ(test, tx_kunit_tls(c->server, TLS_RX), 0);
	return 0;
}

static void tx_kunit_exit(struct kunit *test)
{
	struct tx_kunit_conn *c = test->priv;

	if (!c)
		return;
	if (c->client)
		sock_release(c->client);
	if (c->server)
		sock_release(c->server);
	if (c->listener)
		sock_release(c->listener);
}

/*
 * Splice TX_KUNIT_LEN bytes at @off in @page, the direct map's @buf,
 * into a record that MSG_MORE keeps open; overwrite them; end the record
 * with one more byte. Return what the peer got, that byte included.
 */
static u8 *tx_kunit_overwrite_open(struct kunit *test, struct page *page,
				   unsigned int off, u8 *buf)
{
	struct tx_kunit_conn *c = test->priv;
	struct msghdr msg = { .msg_flags = MSG_SPLICE_PAGES | MSG_MORE };
	unsigned int len = TX_KUNIT_LEN + 1;
	struct kvec kv = {};
	struct bio_vec bv;
	u8 tail = 'z';
	u8 *got;

	got = kunit_kzalloc(test, len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, got);
	KUNIT_ASSERT_LE(test, off + TX_KUNIT_LEN, PAGE_SIZE);

	tx_kunit_fill(buf, false);
	bvec_set_page(&bv, page, TX_KUNIT_LEN, off);
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bv, 1, TX_KUNIT_LEN);
	KUNIT_ASSERT_EQ(test, sock_sendmsg(c->client, &msg), TX_KUNIT_LEN);

	tx_kunit_fill(buf, true);
	memset(&msg, 0, sizeof(msg));
	kv.iov_base = &tail;
	kv.iov_len = sizeof(tail);
	KUNIT_ASSERT_EQ(test, kernel_sendmsg(c->client, &msg, &kv, 1,
					     sizeof(tail)), 1);

	memset(&msg, 0, sizeof(msg));
	kv.iov_base = got;
	kv.iov_len = len;
	KUNIT_ASSERT_EQ(test, kernel_recvmsg(c->server, &msg, &kv, 1, len,
					     MSG_WAITALL), (int)len);
	KUNIT_EXPECT_EQ(test, got[TX_KUNIT_LEN], tail);
	return got;
}

/* A kmalloc() object spliced in: the peer gets the bytes of the send */
static void splice_slab_copied(struct kunit *test)
{
	u8 *buf, *want, *got;

	buf = kunit_kmalloc(test, TX_KUNIT_LEN, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	want = kunit_kmalloc(test, TX_KUNIT_LEN, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, want);
	/* nothing to check unless it is one */
	KUNIT_ASSERT_FALSE(test, sendpage_ok(virt_to_page(buf)));

	got = tx_kunit_overwrite_open(test, virt_to_page(buf),
				      offset_in_page(buf), buf);
	tx_kunit_fill(want, false);
	KUNIT_EXPECT_MEMEQ(test, got, want, TX_KUNIT_LEN);
}

static void tx_kunit_put_page(void *page)
{
	put_page(page);
}

/*
 * A page of its own spliced in stays referenced, not copied, until the
 * record is sealed: the peer gets what it holds then. This is the
 * contract of MSG_SPLICE_PAGES, and what makes the case above fail when
 * slab memory goes the same way.
 */
static void splice_page_referenced(struct kunit *test)
{
	struct page *page;
	u8 *want, *got;

	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, tx_kunit_put_page,
							page), 0);
	want = kunit_kmalloc(test, TX_KUNIT_LEN, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, want);
	KUNIT_ASSERT_TRUE(test, sendpage_ok(page));

	got = tx_kunit_overwrite_open(test, page, 0, page_address(page));
	tx_kunit_fill(want, true);
	KUNIT_EXPECT_MEMEQ(test, got, want, TX_KUNIT_LEN);
}

static struct kunit_case tx_kunit_cases[] = {
	KUNIT_CASE(splice_slab_copied),
	KUNIT_CASE(splice_page_referenced),
	{}
};

static struct kunit_suite tx_kunit_suite = {
	.name = "tls_tx",
	.init = tx_kunit_init,
	.exit = tx_kunit_exit,
	.test_cases = tx_kunit_cases,
};

kunit_test_suite(tx_kunit_suite);

MODULE_DESCRIPTION("KUnit tests for the kTLS transmit path");
MODULE_LICENSE("GPL");
