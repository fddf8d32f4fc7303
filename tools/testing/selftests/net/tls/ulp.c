// SPDX-License-Identifier: GPL-2.0
/*
 * The attach contract of the "tls" TCP upper layer protocol: when
 * setsockopt(TCP_ULP, "tls") succeeds and fails, and what a socket with
 * the ULP attached but no keys does (it stays plain TCP on the wire).
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/tls.h>

#include "../../kselftest_harness.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

static int attach_tls(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"));
}

/* Listening socket on loopback, any port, of the given family. */
static int listen_any(struct __test_metadata *_metadata, int family,
		      struct sockaddr_storage *addr, socklen_t *len)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
	struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
	int fd;

	memset(addr, 0, sizeof(*addr));
	if (family == AF_INET) {
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a4);
	} else {
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
		*len = sizeof(*a6);
	}
	fd = socket(family, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)addr, *len), 0);
	ASSERT_EQ(listen(fd, 4), 0);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)addr, len), 0);
	return fd;
}

/* The ULP core lists what is registered; kTLS must be among it. */
TEST(registered)
{
	char buf[256] = {};
	char *tok, *save;
	bool found = false;
	FILE *f;

	f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	ASSERT_TRUE(!!f);
	ASSERT_TRUE(!!fgets(buf, sizeof(buf), f));
	fclose(f);
	for (tok = strtok_r(buf, "\n ", &save); tok;
	     tok = strtok_r(NULL, "\n ", &save))
		found |= !strcmp(tok, "tls");
	EXPECT_TRUE(found) TH_LOG("tcp_available_ulp: %s", buf);
}

TEST(unconnected)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(attach_tls(fd), -1);
	EXPECT_EQ(errno, ENOTCONN);
	close(fd);
}

TEST(listening)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int fd;

	fd = listen_any(_metadata, AF_INET, &addr, &len);
	EXPECT_EQ(attach_tls(fd), -1);
	EXPECT_EQ(errno, ENOTCONN);
	close(fd);
}

/*
 * Without the ULP, SOL_TLS is a level TCP passes on to IP, which does not
 * know it: setsockopt() fails with ENOPROTOOPT, getsockopt() on IPv4 with
 * EOPNOTSUPP (the IPv4 getsockopt() code for an unknown level).
 */
TEST(sol_tls_without_ulp)
{
	struct tls12_crypto_info_aes_gcm_128 info = {
		.info.version = TLS_1_2_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
	};
	socklen_t len = sizeof(info);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(setsockopt(fd, SOL_TLS, TLS_TX, &info, sizeof(info)), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	EXPECT_EQ(getsockopt(fd, SOL_TLS, TLS_TX, &info, &len), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	close(fd);
}

/* An established connection over loopback: cfd connected to sfd. */
FIXTURE(conn)
{
	int cfd, sfd;
};

FIXTURE_VARIANT(conn)
{
	int family;
};

FIXTURE_VARIANT_ADD(conn, ipv4)
{
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(conn, ipv6)
{
	.family = AF_INET6,
};

FIXTURE_SETUP(conn)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int lfd;

	lfd = listen_any(_metadata, variant->family, &addr, &len);
	self->cfd = socket(variant->family, SOCK_STREAM, 0);
	ASSERT_GE(self->cfd, 0);
	ASSERT_EQ(connect(self->cfd, (struct sockaddr *)&addr, len), 0);
	self->sfd = accept(lfd, NULL, NULL);
	ASSERT_GE(self->sfd, 0);
	close(lfd);
}

FIXTURE_TEARDOWN(conn)
{
	close(self->cfd);
	close(self->sfd);
}

TEST_F(conn, attach)
{
	char name[16] = {};
	socklen_t len = sizeof(name);

	ASSERT_EQ(attach_tls(self->cfd), 0);
	ASSERT_EQ(getsockopt(self->cfd, IPPROTO_TCP, TCP_ULP, name, &len), 0);
	EXPECT_STREQ(name, "tls");
}

TEST_F(conn, attach_twice)
{
	ASSERT_EQ(attach_tls(self->cfd), 0);
	EXPECT_EQ(attach_tls(self->cfd), -1);
	EXPECT_EQ(errno, EEXIST);
}

/* Attaching changes nothing on the wire, in either direction. */
TEST_F(conn, clear_until_keys)
{
	static const char out[] = "no keys, no records";
	char in[sizeof(out) + 8];

	ASSERT_EQ(attach_tls(self->cfd), 0);
	ASSERT_EQ(attach_tls(self->sfd), 0);

	EXPECT_EQ(send(self->cfd, out, sizeof(out), 0), sizeof(out));
	EXPECT_EQ(recv(self->sfd, in, sizeof(in), MSG_WAITALL | MSG_DONTWAIT),
		  sizeof(out));
	EXPECT_EQ(memcmp(in, out, sizeof(out)), 0);

	EXPECT_EQ(write(self->sfd, out, sizeof(out)), sizeof(out));
	EXPECT_EQ(read(self->cfd, in, sizeof(in)), sizeof(out));
	EXPECT_EQ(memcmp(in, out, sizeof(out)), 0);
}

/* Other levels still reach TCP and IP. */
TEST_F(conn, tcp_options)
{
	int one = 1, val = 0;
	socklen_t len = sizeof(val);

	ASSERT_EQ(attach_tls(self->cfd), 0);
	ASSERT_EQ(setsockopt(self->cfd, IPPROTO_TCP, TCP_NODELAY, &one,
			     sizeof(one)), 0);
	ASSERT_EQ(getsockopt(self->cfd, IPPROTO_TCP, TCP_NODELAY, &val, &len),
		  0);
	EXPECT_EQ(val, 1);
	len = sizeof(val);
	ASSERT_EQ(getsockopt(self->cfd, SOL_SOCKET, SO_TYPE, &val, &len), 0);
	EXPECT_EQ(val, SOCK_STREAM);
}

TEST_F(conn, unknown_option)
{
	int val = 1;
	socklen_t len = sizeof(val);

	ASSERT_EQ(attach_tls(self->cfd), 0);
	EXPECT_EQ(setsockopt(self->cfd, SOL_TLS, 1000, &val, sizeof(val)), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	EXPECT_EQ(getsockopt(self->cfd, SOL_TLS, 1000, &val, &len), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
}

/* connect(AF_UNSPEC) must not hand the socket back to plain TCP. */
TEST_F(conn, disconnect)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };

	ASSERT_EQ(attach_tls(self->cfd), 0);
	EXPECT_EQ(connect(self->cfd, &unspec, sizeof(unspec)), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
}

/* After shutdown() the socket cannot be turned into anything else. */
TEST_F(conn, shutdown_no_reuse)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);

	ASSERT_EQ(attach_tls(self->cfd), 0);
	ASSERT_EQ(getpeername(self->cfd, (struct sockaddr *)&addr, &len), 0);
	ASSERT_EQ(shutdown(self->cfd, SHUT_RDWR), 0);
	EXPECT_EQ(listen(self->cfd, 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(connect(self->cfd, (struct sockaddr *)&addr, len), -1);
	EXPECT_EQ(errno, EISCONN);
}

/* Closing with unread data (a reset) and with zero linger goes to TCP. */
TEST_F(conn, close_paths)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	char c;

	ASSERT_EQ(attach_tls(self->cfd), 0);
	ASSERT_EQ(attach_tls(self->sfd), 0);
	ASSERT_EQ(send(self->cfd, "x", 1, 0), 1);
	ASSERT_EQ(setsockopt(self->cfd, SOL_SOCKET, SO_LINGER, &lin,
			     sizeof(lin)), 0);
	/* sfd has unread data: closing it resets the connection */
	EXPECT_EQ(close(self->sfd), 0);
	EXPECT_EQ(recv(self->cfd, &c, 1, 0), -1);
	EXPECT_EQ(errno, ECONNRESET);
	self->sfd = socket(AF_INET, SOCK_STREAM, 0);
}

TEST_HARNESS_MAIN
