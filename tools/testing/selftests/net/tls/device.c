// SPDX-License-Identifier: GPL-2.0
/*
 * kTLS TX device offload, checked over netdevsim's emulated TLS engine.
 *
 * Two namespaces, A (sender) and B (receiver), joined twice: by a pair
 * of linked netdevsim ports, which take TLS TX keys and encrypt records
 * as they leave, and by a veth pair, which does not. The receiver's
 * address is routed through netdevsim, with a second route through veth
 * behind it; moving the route, taking the port down or removing it sends
 * the rest of a stream through veth, where the kernel must encrypt in
 * software. The receiver is kTLS in software (or a raw TCP socket, to
 * compare bytes), so every record's tag is checked: a record the engine
 * or the fallback got wrong fails the read with EBADMSG.
 *
 * Each case asserts where its records were encrypted, from the engine's
 * debugfs counters and /proc/net/tls_stat, not only that the data
 * arrived.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/tls.h>

#include "../../kselftest_harness.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define NS_A		"ktls-dev-a"
#define NS_B		"ktls-dev-b"
#define NSIM_ID		4711
#define ADDR_A		"10.9.0.1"
#define ADDR_B		"10.9.0.2"
#define PORT		4433
#define CHUNK		(64 * 1024)
/*
 * Seconds a case may take: a debug kernel (KASAN) under TCG moves a MiB
 * through the engine's generic AES-GCM in minutes, not the default 30 s
 */
#define DEV_TIMEOUT	600

/* Run a shell command; its status, 0 on success */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	return WIFEXITED(ret) ? WEXITSTATUS(ret) : -1;
}

/* First line of a command's output as a number; -1 when there is none */
static long long sh_num(const char *fmt, ...)
{
	char cmd[1024], line[128];
	long long val = -1;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f))
		val = strtoll(line, NULL, 0);
	pclose(f);
	return val;
}

/* The engine's debugfs file @name, of port 0 of the netdevsim device */
static const char *nsim_file(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/netdevsim/netdevsim%d/ports/0/tls/%s",
		 NSIM_ID, name);
	return path;
}

static long long nsim_get(const char *name)
{
	return sh_num("cat %s", nsim_file(name));
}

static int nsim_set(const char *name, long long val)
{
	return sh("echo %lld > %s", val, nsim_file(name));
}

/* A counter of /proc/net/tls_stat in namespace A */
static long long tls_stat(const char *name)
{
	return sh_num("ip netns exec " NS_A " awk '$1 == \"%s\" { print $2 }' /proc/net/tls_stat",
		      name);
}

/* Bytes a device in namespace A has sent */
static long long tx_bytes(const char *dev)
{
	return sh_num("ip netns exec " NS_A " cat /sys/class/net/%s/statistics/tx_bytes",
		      dev);
}

/* Name of the netdevsim port of device @id, which is in namespace @ns */
static int nsim_ifname(int id, char *name, size_t size)
{
	char cmd[256];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls /sys/bus/netdevsim/devices/netdevsim%d/net/", id);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(name, size, f)) {
		pclose(f);
		return -1;
	}
	pclose(f);
	name[strcspn(name, "\n")] = 0;
	return name[0] ? 0 : -1;
}

static void teardown_net(void)
{
	sh("echo %d > /sys/bus/netdevsim/del_device 2>/dev/null", NSIM_ID);
	sh("echo %d > /sys/bus/netdevsim/del_device 2>/dev/null", NSIM_ID + 1);
	sh("ip netns del " NS_A " 2>/dev/null");
	sh("ip netns del " NS_B " 2>/dev/null");
}

/*
 * The two namespaces, the netdevsim pair (device NSIM_ID in A, port
 * "nsa"; NSIM_ID + 1 in B, "nsb") and the veth pair (va, vb).
 */
static int setup_net(void)
{
	char a[64], b[64];
	long long ia, ib;

	teardown_net();
	if (sh("ip netns add " NS_A " && ip netns add " NS_B) ||
	    sh("echo '%d 1' > /sys/bus/netdevsim/new_device", NSIM_ID) ||
	    sh("echo '%d 1' > /sys/bus/netdevsim/new_device", NSIM_ID + 1) ||
	    nsim_ifname(NSIM_ID, a, sizeof(a)) ||
	    nsim_ifname(NSIM_ID + 1, b, sizeof(b)))
		return -1;
	if (sh("ip link set %s netns " NS_A " name nsa", a) ||
	    sh("ip link set %s netns " NS_B " name nsb", b))
		return -1;
	/* link_device takes "netns-fd:ifindex" pairs */
	ia = sh_num("ip -n " NS_A " -o link show nsa | cut -d: -f1");
	ib = sh_num("ip -n " NS_B " -o link show nsb | cut -d: -f1");
	if (ia <= 0 || ib <= 0 ||
	    sh("exec 3</run/netns/%s 4</run/netns/%s; echo '3:%lld 4:%lld' > %s",
	       NS_A, NS_B, ia, ib, "/sys/bus/netdevsim/link_device"))
		return -1;
	if (sh("ip link add va netns " NS_A " type veth peer name vb netns " NS_B))
		return -1;
	return sh("set -e; A='ip -n " NS_A "'; B='ip -n " NS_B "'\n"
		  "$A link set lo up; $B link set lo up\n"
		  "$A addr add " ADDR_A "/32 dev lo; $B addr add " ADDR_B "/32 dev lo\n"
		  "$A addr add 10.0.1.1/24 dev nsa; $B addr add 10.0.1.2/24 dev nsb\n"
		  "$A addr add 10.0.2.1/24 dev va; $B addr add 10.0.2.2/24 dev vb\n"
		  "$A link set nsa up; $B link set nsb up\n"
		  "$A link set va up; $B link set vb up\n"
		  "$A route add " ADDR_B "/32 via 10.0.1.2 src " ADDR_A " metric 10\n"
		  "$A route add " ADDR_B "/32 via 10.0.2.2 src " ADDR_A " metric 20\n"
		  "$B route add " ADDR_A "/32 via 10.0.2.1 src " ADDR_B "\n");
}

static int enter_ns(const char *name)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

/* A connection from A to B: *cfd in A, *sfd in B; the process ends in A */
static int connect_pair(int *cfd, int *sfd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int one = 1, lfd;

	if (enter_ns(NS_B))
		return -1;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, ADDR_B, &sa.sin_addr);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (void *)&sa, sizeof(sa)) || listen(lfd, 1))
		return -1;
	if (enter_ns(NS_A))
		return -1;
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*cfd, (void *)&sa, sizeof(sa)))
		return -1;
	*sfd = accept(lfd, NULL, NULL);
	close(lfd);
	return *sfd < 0 ? -1 : 0;
}

/* crypto_info for every variant: the largest struct, filled per cipher */
union keys {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

static socklen_t keys_fill(union keys *k, __u16 version, __u16 cipher)
{
	memset(k, 0, sizeof(*k));
	k->info.version = version;
	k->info.cipher_type = cipher;
	switch (cipher) {
	case TLS_CIPHER_AES_GCM_128:
		memset(k->gcm128.key, 0x11, sizeof(k->gcm128.key));
		memset(k->gcm128.salt, 0x22, sizeof(k->gcm128.salt));
		memset(k->gcm128.iv, 0x33, sizeof(k->gcm128.iv));
		k->gcm128.rec_seq[7] = 5;
		return sizeof(k->gcm128);
	case TLS_CIPHER_AES_GCM_256:
		memset(k->gcm256.key, 0x44, sizeof(k->gcm256.key));
		memset(k->gcm256.salt, 0x55, sizeof(k->gcm256.salt));
		memset(k->gcm256.iv, 0x66, sizeof(k->gcm256.iv));
		k->gcm256.rec_seq[7] = 9;
		return sizeof(k->gcm256);
	case TLS_CIPHER_CHACHA20_POLY1305:
		memset(k->chacha.key, 0x77, sizeof(k->chacha.key));
		memset(k->chacha.iv, 0x88, sizeof(k->chacha.iv));
		return sizeof(k->chacha);
	}
	return 0;
}

static int tls_set(int fd, int dir, __u16 version, __u16 cipher)
{
	union keys k;
	socklen_t len = keys_fill(&k, version, cipher);

	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")))
		return -1;
	return setsockopt(fd, SOL_TLS, dir, &k, len);
}

/* Byte @i of every stream the tests send */
static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 11) * 13 + 1);
}

static void pattern_fill(unsigned char *buf, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(off + i);
}

enum send_mode { SEND_PLAIN, SEND_MORE, SEND_SENDFILE, SEND_SPLICE, SEND_RECORDS };

/* Send bytes [@off, @off + @len) of the pattern; 0 on success */
static int send_part(int fd, enum send_mode mode, size_t off, size_t len)
{
	static unsigned char buf[CHUNK];
	int p[2], mfd;

	while (len) {
		size_t n = len < CHUNK ? len : CHUNK;
		ssize_t ret = 0;
		off_t pos = 0;

		/* odd sizes: records and segments end anywhere */
		if (mode != SEND_RECORDS)
			n = n > 12345 ? n - (off % 4096) : n;
		else
			n = n < 10000 ? n : 10000;
		pattern_fill(buf, off, n);
		switch (mode) {
		case SEND_PLAIN:
		case SEND_RECORDS:
			ret = send(fd, buf, n, 0);
			break;
		case SEND_MORE:
			ret = send(fd, buf, n, len > n ? MSG_MORE : 0);
			break;
		case SEND_SENDFILE:
			mfd = memfd_create("ktls", 0);
			if (mfd < 0 || write(mfd, buf, n) != (ssize_t)n)
				return -1;
			ret = sendfile(fd, mfd, &pos, n);
			close(mfd);
			break;
		case SEND_SPLICE:
			if (pipe(p) || write(p[1], buf, n) != (ssize_t)n)
				return -1;
			ret = splice(p[0], NULL, fd, NULL, n, 0);
			close(p[0]);
			close(p[1]);
			break;
		}
		if (ret <= 0)
			return -1;
		off += ret;
		len -= ret;
	}
	return 0;
}

/* Read @len bytes and check them against the pattern from @off */
static int recv_check(int fd, size_t off, size_t len)
{
	static unsigned char buf[CHUNK];
	size_t i;

	while (len) {
		ssize_t n = recv(fd, buf, len < CHUNK ? len : CHUNK, 0);

		if (n <= 0) {
			fprintf(stderr, "# recv at %zu: %zd (%s)\n", off, n,
				n ? strerror(errno) : "EOF");
			return -1;
		}
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pattern(off + i)) {
				fprintf(stderr, "# byte %zu differs\n", off + i);
				return -1;
			}
		off += n;
		len -= n;
	}
	return 0;
}

/* What happens between the two halves of a stream */
enum midway { MID_NONE, MID_ROUTE, MID_DOWN, MID_REMOVE, MID_FEATURE };

static int midway_act(enum midway mid)
{
	switch (mid) {
	case MID_NONE:
		return 0;
	case MID_ROUTE:
		return sh("ip -n " NS_A " route del " ADDR_B "/32 via 10.0.1.2 metric 10");
	case MID_DOWN:
		return sh("ip -n " NS_A " link set nsa down");
	case MID_REMOVE:
		return sh("echo %d > /sys/bus/netdevsim/del_device", NSIM_ID);
	case MID_FEATURE:
		return sh("ip netns exec " NS_A " ethtool -K nsa tls-hw-tx-offload off");
	}
	return -1;
}

/*
 * Send @total bytes from @cfd (a child does, in namespace A), read and
 * check them on @sfd; halfway, the sender waits for @mid to be done.
 */
static int stream(int cfd, int sfd, enum send_mode mode, size_t total,
		  enum midway mid)
{
	size_t half = total / 2;
	int go[2], status;
	char c = 0;
	pid_t pid;

	if (pipe(go))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(sfd);
		if (send_part(cfd, mode, 0, half) ||
		    read(go[0], &c, 1) != 1 ||
		    send_part(cfd, mode, half, total - half))
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	if (recv_check(sfd, 0, half) || midway_act(mid) ||
	    write(go[1], &c, 1) != 1 || recv_check(sfd, half, total - half)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(go[1]);
		return -1;
	}
	close(go[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	return 0;
}

FIXTURE(dev)
{
	int cfd, sfd;
};

FIXTURE_VARIANT(dev)
{
	__u16 version;
	__u16 cipher;
	bool offload;	/* netdevsim takes these keys */
};

FIXTURE_VARIANT_ADD(dev, 12_aes_gcm)
{
	.version = TLS_1_2_VERSION,
	.cipher = TLS_CIPHER_AES_GCM_128,
	.offload = true,
};

FIXTURE_VARIANT_ADD(dev, 12_aes_gcm_256)
{
	.version = TLS_1_2_VERSION,
	.cipher = TLS_CIPHER_AES_GCM_256,
	.offload = true,
};

FIXTURE_VARIANT_ADD(dev, 13_aes_gcm)
{
	.version = TLS_1_3_VERSION,
	.cipher = TLS_CIPHER_AES_GCM_128,
	.offload = false,
};

FIXTURE_VARIANT_ADD(dev, 12_chacha)
{
	.version = TLS_1_2_VERSION,
	.cipher = TLS_CIPHER_CHACHA20_POLY1305,
	.offload = false,
};

static void expect_ulp_registered(struct __test_metadata *_metadata)
{
	ASSERT_EQ(sh("grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp"), 0)
		TH_LOG("the tls ULP is not registered");
}

FIXTURE_SETUP(dev)
{
	expect_ulp_registered(_metadata);
	ASSERT_EQ(setup_net(), 0) TH_LOG("netdevsim/veth setup failed");
	ASSERT_EQ(sh("test -d %s", nsim_file("")), 0)
		TH_LOG("netdevsim has no TLS engine (CONFIG_TLS_DEVICE?)");
	ASSERT_EQ(connect_pair(&self->cfd, &self->sfd), 0);
}

FIXTURE_TEARDOWN(dev)
{
	close(self->cfd);
	close(self->sfd);
	teardown_net();
}

/* Keys on both ends; the sender's went where @offload says */
static void keys_on(struct __test_metadata *_metadata, int cfd, int sfd,
		    __u16 version, __u16 cipher, bool offload)
{
	ASSERT_EQ(tls_set(cfd, TLS_TX, version, cipher), 0);
	ASSERT_EQ(tls_set(sfd, TLS_RX, version, cipher), 0);
	EXPECT_EQ(nsim_get("adds"), offload ? 1 : 0);
	EXPECT_EQ(tls_stat("TlsCurrTxDevice"), offload ? 1 : 0);
	EXPECT_EQ(tls_stat("TlsCurrTxSw"), offload ? 0 : 1);
}

#define KEYS_ON() keys_on(_metadata, self->cfd, self->sfd, variant->version, \
			  variant->cipher, variant->offload)

/* The engine encrypted (at least) the records of @total bytes, or none */
static void expect_engine(struct __test_metadata *_metadata, bool offload,
			  size_t total)
{
	if (offload) {
		EXPECT_GE(nsim_get("records"), (long long)(total / 16384));
		EXPECT_GT(nsim_get("packets"), 0);
	} else {
		EXPECT_EQ(nsim_get("packets"), 0);
		EXPECT_EQ(nsim_get("records"), 0);
	}
}

TEST_F_TIMEOUT(dev, send, DEV_TIMEOUT)
{
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_PLAIN, 1 << 20, MID_NONE), 0);
	expect_engine(_metadata, variant->offload, 1 << 20);
}

TEST_F_TIMEOUT(dev, msg_more, DEV_TIMEOUT)
{
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_MORE, 1 << 19, MID_NONE), 0);
	expect_engine(_metadata, variant->offload, 1 << 19);
}

TEST_F_TIMEOUT(dev, sendfile, DEV_TIMEOUT)
{
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_SENDFILE, 1 << 19, MID_NONE), 0);
	expect_engine(_metadata, variant->offload, 1 << 19);
}

TEST_F_TIMEOUT(dev, splice, DEV_TIMEOUT)
{
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_SPLICE, 1 << 19, MID_NONE), 0);
	expect_engine(_metadata, variant->offload, 1 << 19);
}

/*
 * TLS_TX_ZEROCOPY_RO: sendfile()'s pages go to the device as they are,
 * not copied, so bytes still queued when the file changes leave with the
 * new contents (the application promised not to do that; here it is how
 * to see the pages were not copied). The software path seals records
 * before sendfile() returns: the old contents, whatever the option says.
 */
TEST_F_TIMEOUT(dev, sendfile_zc_ro, DEV_TIMEOUT)
{
	size_t total = 2 << 20, i, fresh = 0;
	int one = 1, sndbuf = 8 << 20, mfd;
	unsigned char *buf;
	off_t off = 0;

	buf = malloc(total);
	ASSERT_TRUE(!!buf);
	KEYS_ON();
	ASSERT_EQ(setsockopt(self->cfd, SOL_TLS, TLS_TX_ZEROCOPY_RO, &one,
			     sizeof(one)), 0);
	/* all of it queued at once; the receiver's window holds a little */
	ASSERT_EQ(setsockopt(self->cfd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
			     sizeof(sndbuf)), 0);
	mfd = memfd_create("ktls-zc", 0);
	ASSERT_GE(mfd, 0);
	pattern_fill(buf, 0, total);
	ASSERT_EQ(write(mfd, buf, total), (ssize_t)total);
	ASSERT_EQ(sendfile(self->cfd, mfd, &off, total), (ssize_t)total);
	for (i = 0; i < total; i++)
		buf[i] = ~pattern(i);
	ASSERT_EQ(pwrite(mfd, buf, total, 0), (ssize_t)total);
	close(mfd);

	for (off = 0; off < (off_t)total; ) {
		ssize_t n = recv(self->sfd, buf, total - off, 0);

		ASSERT_GT(n, 0) TH_LOG("recv at %lld: %s", (long long)off,
				       strerror(errno));
		for (i = 0; i < (size_t)n; i++) {
			unsigned char want = pattern(off + i);

			ASSERT_TRUE(buf[i] == want || buf[i] == (unsigned char)~want);
			fresh += buf[i] != want;
		}
		off += n;
	}
	free(buf);
	if (variant->offload)
		EXPECT_GT(fresh, total / 2);
	if (!variant->offload)
		EXPECT_EQ(fresh, 0);
	expect_engine(_metadata, variant->offload, total);
}

/* Every 5th packet lost: retransmissions start in the middle of records */
TEST_F_TIMEOUT(dev, drops, DEV_TIMEOUT)
{
	ASSERT_EQ(nsim_set("drop_every", 5), 0);
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_PLAIN, 1 << 19, MID_NONE), 0);
	expect_engine(_metadata, variant->offload, 1 << 19);
	if (variant->offload) {
		EXPECT_GT(nsim_get("drops"), 0);
		EXPECT_GT(nsim_get("rebuilds"), 0);
	}
}

/* The rest of the stream leaves through veth: software fallback */
TEST_F_TIMEOUT(dev, route_moved, DEV_TIMEOUT)
{
	long long va;

	KEYS_ON();
	va = tx_bytes("va");
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_PLAIN, 1 << 19, MID_ROUTE), 0);
	expect_engine(_metadata, variant->offload, 1 << 18);
	EXPECT_GT(tx_bytes("va") - va, 1 << 17);
	EXPECT_EQ(nsim_get("conns"), variant->offload ? 1 : 0);
}

/* The port goes down mid-stream: the keys leave it, the socket goes on */
TEST_F_TIMEOUT(dev, link_down, DEV_TIMEOUT)
{
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_PLAIN, 1 << 19, MID_DOWN), 0);
	expect_engine(_metadata, variant->offload, 1 << 18);
	EXPECT_EQ(nsim_get("dels"), variant->offload ? 1 : 0);
	EXPECT_EQ(nsim_get("conns"), 0);
}

/* The device is removed mid-stream */
TEST_F_TIMEOUT(dev, device_removed, DEV_TIMEOUT)
{
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_PLAIN, 1 << 19, MID_REMOVE), 0);
	EXPECT_EQ(tls_stat("TlsCurrTxDevice"), variant->offload ? 1 : 0);
}

/*
 * Turning the feature off stops new offloads; the device keeps the keys
 * it has (as every NIC driver does), and the stream goes on.
 */
TEST_F_TIMEOUT(dev, feature_off, DEV_TIMEOUT)
{
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_PLAIN, 1 << 19, MID_FEATURE), 0);
	EXPECT_EQ(nsim_get("conns"), variant->offload ? 1 : 0);
	close(self->cfd);
	close(self->sfd);
	ASSERT_EQ(connect_pair(&self->cfd, &self->sfd), 0);
	ASSERT_EQ(tls_set(self->cfd, TLS_TX, variant->version, variant->cipher), 0);
	EXPECT_EQ(nsim_get("adds"), variant->offload ? 1 : 0);
}

/* The device refuses the keys: software, and the same stream */
TEST_F_TIMEOUT(dev, refused, DEV_TIMEOUT)
{
	ASSERT_EQ(nsim_set("refuse_add", 1), 0);
	ASSERT_EQ(tls_set(self->cfd, TLS_TX, variant->version, variant->cipher), 0);
	ASSERT_EQ(tls_set(self->sfd, TLS_RX, variant->version, variant->cipher), 0);
	EXPECT_EQ(tls_stat("TlsCurrTxSw"), 1);
	EXPECT_EQ(tls_stat("TlsCurrTxDevice"), 0);
	EXPECT_EQ(nsim_get("refusals"), variant->offload ? 1 : 0);
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_PLAIN, 1 << 18, MID_NONE), 0);
	EXPECT_EQ(nsim_get("packets"), 0);
}

/* The device refuses this cipher only */
TEST_F_TIMEOUT(dev, cipher_refused, DEV_TIMEOUT)
{
	ASSERT_EQ(nsim_set("refuse_cipher", variant->cipher), 0);
	ASSERT_EQ(tls_set(self->cfd, TLS_TX, variant->version, variant->cipher), 0);
	ASSERT_EQ(tls_set(self->sfd, TLS_RX, variant->version, variant->cipher), 0);
	EXPECT_EQ(tls_stat("TlsCurrTxDevice"), 0);
	EXPECT_EQ(nsim_get("adds"), 0);
	ASSERT_EQ(stream(self->cfd, self->sfd, SEND_PLAIN, 1 << 18, MID_NONE), 0);
}

/*
 * The records on the wire are the bytes the software path makes from the
 * same keys and sequence numbers: one connection offloaded, one refused,
 * both read raw.
 */
TEST_F_TIMEOUT(dev, same_bytes_as_software, DEV_TIMEOUT)
{
	size_t total = 200000, got[2] = { 0, 0 };
	unsigned char *wire[2];
	int i, status;

	wire[0] = malloc(2 * total);
	wire[1] = malloc(2 * total);
	ASSERT_TRUE(wire[0] && wire[1]);
	for (i = 0; i < 2; i++) {
		pid_t pid;

		if (i) {
			close(self->cfd);
			close(self->sfd);
			ASSERT_EQ(nsim_set("refuse_add", 1), 0);
			ASSERT_EQ(connect_pair(&self->cfd, &self->sfd), 0);
		}
		ASSERT_EQ(tls_set(self->cfd, TLS_TX, variant->version,
				  variant->cipher), 0);
		EXPECT_EQ(tls_stat("TlsCurrTxDevice"),
			  i == 0 && variant->offload ? 1 : 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid)
			_exit(send_part(self->cfd, SEND_RECORDS, 0, total) ? 1 : 0);
		close(self->cfd);
		self->cfd = -1;
		for (;;) {
			ssize_t n = recv(self->sfd, wire[i] + got[i],
					 2 * total - got[i], 0);

			if (n <= 0)
				break;
			got[i] += n;
		}
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	EXPECT_GT(got[0], total);
	ASSERT_EQ(got[0], got[1]);
	EXPECT_EQ(memcmp(wire[0], wire[1], got[0]), 0);
	expect_engine(_metadata, variant->offload, total);
	free(wire[0]);
	free(wire[1]);
}

/*
 * One record of @type through sendmsg() or recvmsg() (@in): @len bytes
 * at @buf, the type in a SOL_TLS control message. Returns the call's
 * result; *@type is the received type.
 */
static ssize_t typed_msg(int fd, bool in, unsigned char *type, void *buf,
			 size_t len)
{
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(1)];
	} ctl = {};
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.space, .msg_controllen = sizeof(ctl.space),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t ret;

	if (!in) {
		*c = (struct cmsghdr){ .cmsg_len = CMSG_LEN(1),
				       .cmsg_level = SOL_TLS,
				       .cmsg_type = TLS_SET_RECORD_TYPE };
		*CMSG_DATA(c) = *type;
		return sendmsg(fd, &msg, 0);
	}
	ret = recvmsg(fd, &msg, 0);
	c = CMSG_FIRSTHDR(&msg);
	*type = c && c->cmsg_type == TLS_GET_RECORD_TYPE ? *CMSG_DATA(c) : 0;
	return ret;
}

/*
 * A typed record of 0 bytes (TLS libraries send such handshake records):
 * framed like any other, and what follows it intact
 */
TEST_F_TIMEOUT(dev, empty_typed_record, DEV_TIMEOUT)
{
	unsigned char type, byte;
	int i;

	KEYS_ON();
	for (i = 0; i < 3; i++) {
		type = 22;	/* handshake */
		ASSERT_EQ(typed_msg(self->cfd, false, &type, &byte, 0), 0);
		ASSERT_EQ(send_part(self->cfd, SEND_PLAIN, i * 20000, 20000), 0);
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(typed_msg(self->sfd, true, &type, &byte, 1), 0);
		EXPECT_EQ(type, 22);
		ASSERT_EQ(recv_check(self->sfd, i * 20000, 20000), 0);
	}
	expect_engine(_metadata, variant->offload, 0);
}

/*
 * close() with records in flight: the device forgets the keys once the
 * socket is gone, exactly once.
 */
TEST_F_TIMEOUT(dev, close_in_flight, DEV_TIMEOUT)
{
	int i;

	KEYS_ON();
	ASSERT_EQ(send_part(self->cfd, SEND_PLAIN, 0, 1 << 17), 0);
	close(self->cfd);
	self->cfd = -1;
	ASSERT_EQ(recv_check(self->sfd, 0, 1 << 17), 0);
	close(self->sfd);
	self->sfd = -1;
	/* the socket is destroyed once FIN/ACK are done; give it time */
	for (i = 0; i < 100 && nsim_get("conns") > 0; i++)
		usleep(100000);
	EXPECT_EQ(nsim_get("conns"), 0);
	EXPECT_EQ(nsim_get("dels"), nsim_get("adds"));
	EXPECT_EQ(tls_stat("TlsCurrTxDevice"), 0);
}

TEST_HARNESS_MAIN
