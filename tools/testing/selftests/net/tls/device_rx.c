// SPDX-License-Identifier: GPL-2.0
/*
 * kTLS RX device offload, checked over netdevsim's emulated TLS engine.
 *
 * Namespace A sends, namespace B receives. They are joined by a linked
 * pair of netdevsim ports (nsa in A, nsb in B) and by a veth pair (va,
 * vb); both sides route to each other through netdevsim first, veth
 * second. nsb has tls-hw-rx-offload on, so a TLS_RX socket in B hands its
 * keys to nsb's engine, which decrypts records as their packets come in.
 * nsa's TX offload is off: unless a case says otherwise, A seals records
 * with software kTLS, or in user space with libcrypto when a case needs
 * records the kernel would never send (a broken tag).
 *
 * The engine is made to lose its place (dropped packets, netem's
 * reordering, duplicates and losses, records it stops decrypting halfway)
 * and must get back in step through each of the three resync models it
 * offers. Every case checks the bytes read against what was sent, and
 * asserts from the engine's debugfs counters and /proc/net/tls_stat that
 * the offload (or the software path) really did the work.
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tls.h>

#include <openssl/evp.h>

#include "../../kselftest_harness.h"

#ifndef SOL_TLS
#define SOL_TLS		282
#endif
#ifndef TCP_ULP
#define TCP_ULP		31
#endif

#define NS_A		"ktls-drx-a"
#define NS_B		"ktls-drx-b"
#define NSIM_A		4731	/* netdevsim device of port nsa (sender) */
#define NSIM_B		4732	/* netdevsim device of port nsb (receiver) */
#define ADDR_A		"10.19.0.1"
#define ADDR_B		"10.19.0.2"
#define PORT		4443
/* a case may take minutes: AES-GCM in a TCG guest, twice when retried */
#define DEV_TIMEOUT	600
/* a receiver that waits this long for data reports a stall */
#define RECV_TIMEOUT	120
#define MAX_IO		(64 * 1024)

#define REC_HDR		5
#define REC_TAG		16
#define REC_MAX		16384

#define TYPE_ALERT	21
#define TYPE_HANDSHAKE	22
#define TYPE_DATA	23

/* ---- shell helpers ---------------------------------------------------- */

/* Run a shell command; its exit status, or -1 */
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* The number a command prints first, or -1 when it prints none */
static long long run_num(const char *fmt, ...)
{
	char cmd[1024], out[128];
	long long val = -1;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(out, sizeof(out), p) && out[0] >= '0' && out[0] <= '9')
		val = strtoll(out, NULL, 10);
	pclose(p);
	return val;
}

/* ---- the engines' debugfs files ---------------------------------------- */

static void nsim_path(char *path, size_t size, int dev, const char *name)
{
	snprintf(path, size,
		 "/sys/kernel/debug/netdevsim/netdevsim%d/ports/0/tls/%s",
		 dev, name);
}

/* A counter or knob of device @dev's engine; -1 when it cannot be read */
static long long nsim_read(int dev, const char *name)
{
	char path[256], line[64];
	long long val = -1;
	FILE *f;

	nsim_path(path, sizeof(path), dev, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f))
		val = strtoll(line, NULL, 0);
	fclose(f);
	return val;
}

static int nsim_write(int dev, const char *name, long long val)
{
	char path[256];
	FILE *f;
	int err;

	nsim_path(path, sizeof(path), dev, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	err = fprintf(f, "%lld\n", val) < 0;
	err |= fclose(f) != 0;
	return err ? -1 : 0;
}

/* The receiving engine (nsb) and the transmitting one (nsa) */
#define rx_cnt(name)		nsim_read(NSIM_B, name)
#define rx_knob(name, val)	nsim_write(NSIM_B, name, val)
#define tx_cnt(name)		nsim_read(NSIM_A, name)

/* A line of /proc/net/tls_stat in namespace @ns */
static long long ns_tls_stat(const char *ns, const char *name)
{
	return run_num("ip netns exec %s awk '$1 == \"%s\" { print $2 }' /proc/net/tls_stat",
		       ns, name);
}

#define stat_b(name)	ns_tls_stat(NS_B, name)
#define stat_a(name)	ns_tls_stat(NS_A, name)

/* A statistic of interface @dev in namespace @ns */
static long long if_stat(const char *ns, const char *dev, const char *name)
{
	return run_num("ip netns exec %s cat /sys/class/net/%s/statistics/%s",
		       ns, dev, name);
}

static const char * const rx_counters[] = {
	"rx_adds", "rx_dels", "rx_conns", "rx_refusals", "rx_packets",
	"rx_records", "rx_auth_fails", "rx_passed", "rx_losses",
	"rx_requests", "rx_resyncs", "rx_drops",
};

static const char * const b_stats[] = {
	"TlsRxSw", "TlsRxDevice", "TlsCurrRxSw", "TlsCurrRxDevice",
	"TlsDecryptError", "TlsRxDeviceResync", "TlsDecryptRetry",
};

/* One line with every RX counter, for the log of a run */
static void log_counters(const char *when)
{
	char line[1024];
	size_t i, len;

	len = snprintf(line, sizeof(line), "# %s: nsb", when);
	for (i = 0; i < ARRAY_SIZE(rx_counters); i++)
		len += snprintf(line + len, sizeof(line) - len, " %s=%lld",
				rx_counters[i] + 3, rx_cnt(rx_counters[i]));
	len += snprintf(line + len, sizeof(line) - len, "; B");
	for (i = 0; i < ARRAY_SIZE(b_stats); i++)
		len += snprintf(line + len, sizeof(line) - len, " %s=%lld",
				b_stats[i] + 3, stat_b(b_stats[i]));
	printf("%s\n", line);
	fflush(stdout);
}

/* ---- the two namespaces ---------------------------------------------------- */

static void net_teardown(void)
{
	run("echo %d > /sys/bus/netdevsim/del_device 2>/dev/null", NSIM_A);
	run("echo %d > /sys/bus/netdevsim/del_device 2>/dev/null", NSIM_B);
	run("ip netns del " NS_A " 2>/dev/null");
	run("ip netns del " NS_B " 2>/dev/null");
}

/* The interface netdevsim made for device @dev, in @name */
static int nsim_ifname(int dev, char *name, size_t size)
{
	char cmd[128];
	FILE *p;
	int ok;

	snprintf(cmd, sizeof(cmd), "ls /sys/bus/netdevsim/devices/netdevsim%d/net/",
		 dev);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	ok = !!fgets(name, size, p);
	pclose(p);
	if (!ok)
		return -1;
	name[strcspn(name, "\n")] = '\0';
	return name[0] ? 0 : -1;
}

static int net_setup(void)
{
	char a[64], b[64];
	long long ia, ib;

	net_teardown();
	if (run("ip netns add " NS_A) || run("ip netns add " NS_B))
		return -1;
	if (run("echo '%d 1' > /sys/bus/netdevsim/new_device", NSIM_A) ||
	    run("echo '%d 1' > /sys/bus/netdevsim/new_device", NSIM_B) ||
	    nsim_ifname(NSIM_A, a, sizeof(a)) ||
	    nsim_ifname(NSIM_B, b, sizeof(b)))
		return -1;
	if (run("ip link set %s netns " NS_A " name nsa", a) ||
	    run("ip link set %s netns " NS_B " name nsb", b))
		return -1;
	ia = run_num("ip -n " NS_A " -o link show nsa | cut -d: -f1");
	ib = run_num("ip -n " NS_B " -o link show nsb | cut -d: -f1");
	if (ia <= 0 || ib <= 0)
		return -1;
	/* netdevsim links ports given as "netns fd:ifindex" */
	if (run("exec 5</run/netns/" NS_A " 6</run/netns/" NS_B
		"; echo '5:%lld 6:%lld' > /sys/bus/netdevsim/link_device",
		ia, ib))
		return -1;
	if (run("ip link add va netns " NS_A " type veth peer name vb netns " NS_B))
		return -1;
	return run("set -e\n"
		   "A='ip -n " NS_A "'; B='ip -n " NS_B "'\n"
		   "$A link set lo up; $B link set lo up\n"
		   "$A addr add " ADDR_A "/32 dev lo\n"
		   "$B addr add " ADDR_B "/32 dev lo\n"
		   "$A addr add 10.19.1.1/24 dev nsa; $B addr add 10.19.1.2/24 dev nsb\n"
		   "$A addr add 10.19.2.1/24 dev va; $B addr add 10.19.2.2/24 dev vb\n"
		   "$A link set nsa up; $B link set nsb up\n"
		   "$A link set va up; $B link set vb up\n"
		   "$A route add " ADDR_B "/32 via 10.19.1.2 src " ADDR_A " metric 10\n"
		   "$A route add " ADDR_B "/32 via 10.19.2.2 src " ADDR_A " metric 20\n"
		   "$B route add " ADDR_A "/32 via 10.19.1.1 src " ADDR_B " metric 10\n"
		   "$B route add " ADDR_A "/32 via 10.19.2.1 src " ADDR_B " metric 20\n");
}

static int enter_ns(const char *ns)
{
	char path[128];
	int fd, err;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	err = setns(fd, CLONE_NEWNET);
	close(fd);
	return err;
}

/*
 * A TCP connection from A (*cfd) to B (*sfd), the sender's MSS clamped to
 * @mss when not 0. The process is left in namespace A.
 */
static int connect_pair(int *cfd, int *sfd, int mss)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct timeval tv = { .tv_sec = RECV_TIMEOUT };
	int one = 1, lfd;

	*cfd = -1;
	*sfd = -1;
	inet_pton(AF_INET, ADDR_B, &sa.sin_addr);
	if (enter_ns(NS_B))
		return -1;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1))
		goto fail;
	if (enter_ns(NS_A))
		goto fail;
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (*cfd < 0)
		goto fail;
	if (mss && setsockopt(*cfd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)))
		goto fail;
	if (connect(*cfd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	*sfd = accept(lfd, NULL, NULL);
	if (*sfd < 0)
		goto fail;
	close(lfd);
	/* a stall fails the read instead of running into the harness timeout */
	setsockopt(*sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
fail:
	close(lfd);
	return -1;
}

/* ---- keys ------------------------------------------------------------------ */

/* The secrets of one direction, from which crypto_info and records are made */
struct keyset {
	__u16 version;
	__u16 cipher;
	unsigned char key[32];
	unsigned char salt[4];
	unsigned char iv[12];
	unsigned char seq[8];
	int key_len, salt_len, iv_len;
};

union crypto_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

static void keyset_make(struct keyset *ks, __u16 version, __u16 cipher)
{
	int i;

	memset(ks, 0, sizeof(*ks));
	ks->version = version;
	ks->cipher = cipher;
	for (i = 0; i < 32; i++)
		ks->key[i] = 0x3c + 7 * i;
	for (i = 0; i < 4; i++)
		ks->salt[i] = 0xa1 + i;
	for (i = 0; i < 12; i++)
		ks->iv[i] = 0x11 * (i + 1);
	/* records start at sequence number 0x1f0 */
	ks->seq[6] = 0x01;
	ks->seq[7] = 0xf0;
	switch (cipher) {
	case TLS_CIPHER_AES_GCM_128:
		ks->key_len = 16;
		ks->salt_len = 4;
		ks->iv_len = 8;
		break;
	case TLS_CIPHER_AES_GCM_256:
		ks->key_len = 32;
		ks->salt_len = 4;
		ks->iv_len = 8;
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		ks->key_len = 32;
		ks->salt_len = 0;
		ks->iv_len = 12;
		break;
	}
}

static socklen_t keyset_info(const struct keyset *ks, union crypto_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->info.version = ks->version;
	ci->info.cipher_type = ks->cipher;
	switch (ks->cipher) {
	case TLS_CIPHER_AES_GCM_128:
		memcpy(ci->gcm128.key, ks->key, ks->key_len);
		memcpy(ci->gcm128.salt, ks->salt, ks->salt_len);
		memcpy(ci->gcm128.iv, ks->iv, ks->iv_len);
		memcpy(ci->gcm128.rec_seq, ks->seq, 8);
		return sizeof(ci->gcm128);
	case TLS_CIPHER_AES_GCM_256:
		memcpy(ci->gcm256.key, ks->key, ks->key_len);
		memcpy(ci->gcm256.salt, ks->salt, ks->salt_len);
		memcpy(ci->gcm256.iv, ks->iv, ks->iv_len);
		memcpy(ci->gcm256.rec_seq, ks->seq, 8);
		return sizeof(ci->gcm256);
	case TLS_CIPHER_CHACHA20_POLY1305:
		memcpy(ci->chacha.key, ks->key, ks->key_len);
		memcpy(ci->chacha.iv, ks->iv, ks->iv_len);
		memcpy(ci->chacha.rec_seq, ks->seq, 8);
		return sizeof(ci->chacha);
	}
	return 0;
}

/* setsockopt(SOL_TLS, @dir) with @ks; the ULP must be on already */
static int keys_set(int fd, int dir, const struct keyset *ks)
{
	union crypto_info ci;
	socklen_t len = keyset_info(ks, &ci);

	return setsockopt(fd, SOL_TLS, dir, &ci, len);
}

static int tls_attach(int fd, int dir, const struct keyset *ks)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")))
		return -1;
	return keys_set(fd, dir, ks);
}

static bool ulp_is_tls(int fd)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	if (getsockopt(fd, IPPROTO_TCP, TCP_ULP, name, &len))
		return false;
	return !strcmp(name, "tls");
}

/*
 * One record, sealed in user space as a TLS stack would: @len bytes of
 * @data, content type @type, sequence number @seq. Written to @out; its
 * length on the wire, or 0 when libcrypto failed.
 */
static size_t record_seal(const struct keyset *ks, __u64 seq, unsigned char type,
			  const unsigned char *data, size_t len, unsigned char *out)
{
	size_t explicit = 0, inner, body, i;
	unsigned char nonce[12], aad[13], seq_be[8];
	const EVP_CIPHER *alg;
	EVP_CIPHER_CTX *ctx;
	int aad_len, n, ok;

	for (i = 0; i < 8; i++)
		seq_be[i] = seq >> (56 - 8 * i);
	switch (ks->cipher) {
	case TLS_CIPHER_AES_GCM_128:
		alg = EVP_aes_128_gcm();
		break;
	case TLS_CIPHER_AES_GCM_256:
		alg = EVP_aes_256_gcm();
		break;
	default:
		alg = EVP_chacha20_poly1305();
		break;
	}
	if (ks->version == TLS_1_2_VERSION && ks->cipher != TLS_CIPHER_CHACHA20_POLY1305) {
		/* RFC 5288: salt, then 8 bytes sent before the ciphertext */
		memcpy(nonce, ks->salt, 4);
		memcpy(nonce + 4, seq_be, 8);
		explicit = 8;
	} else {
		/* RFC 7905, RFC 8446: a 12-byte IV XORed with the sequence */
		memcpy(nonce, ks->salt, ks->salt_len);
		memcpy(nonce + ks->salt_len, ks->iv, ks->iv_len);
		for (i = 0; i < 8; i++)
			nonce[4 + i] ^= seq_be[i];
	}
	inner = ks->version == TLS_1_3_VERSION;
	body = explicit + len + inner + REC_TAG;

	out[0] = inner ? TYPE_DATA : type;
	out[1] = 3;
	out[2] = 3;
	out[3] = body >> 8;
	out[4] = body;
	memcpy(out + REC_HDR, seq_be, explicit);
	memcpy(out + REC_HDR + explicit, data, len);
	if (inner)
		out[REC_HDR + explicit + len] = type;

	if (inner) {
		memcpy(aad, out, REC_HDR);
		aad_len = REC_HDR;
	} else {
		memcpy(aad, seq_be, 8);
		aad[8] = type;
		aad[9] = 3;
		aad[10] = 3;
		aad[11] = len >> 8;
		aad[12] = len;
		aad_len = 13;
	}

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return 0;
	ok = EVP_EncryptInit_ex(ctx, alg, NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
	     EVP_EncryptInit_ex(ctx, NULL, NULL, ks->key, nonce) &&
	     EVP_EncryptUpdate(ctx, NULL, &n, aad, aad_len) &&
	     EVP_EncryptUpdate(ctx, out + REC_HDR + explicit, &n,
			       out + REC_HDR + explicit, len + inner) &&
	     EVP_EncryptFinal_ex(ctx, out + REC_HDR + explicit + len + inner, &n) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, REC_TAG,
				 out + REC_HDR + explicit + len + inner);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? REC_HDR + body : 0;
}

static __u64 keyset_seq(const struct keyset *ks)
{
	__u64 seq = 0;
	int i;

	for (i = 0; i < 8; i++)
		seq = seq << 8 | ks->seq[i];
	return seq;
}

/* ---- sock_diag ------------------------------------------------------------- */

/*
 * The TLS_INFO_* attribute @attr (a u16) that sock_diag reports for @fd,
 * a socket of namespace @ns; -1 when it reports none.
 */
static int diag_tls_u16(int fd, const char *ns, int attr)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q;
	struct sockaddr_in me, peer;
	socklen_t alen = sizeof(me);
	struct rtattr *ulp, *tls, *at;
	int nl, val = -1, l1, l2, l3;
	struct inet_diag_msg *msg;
	struct nlmsghdr *nlh;
	char buf[16384];
	ssize_t n;

	if (getsockname(fd, (struct sockaddr *)&me, &alen))
		return -1;
	alen = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &alen))
		return -1;
	if (enter_ns(ns))
		return -1;
	nl = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	if (enter_ns(NS_A) || nl < 0)
		goto out;

	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.req.sdiag_family = AF_INET;
	q.req.sdiag_protocol = IPPROTO_TCP;
	q.req.idiag_states = ~0U;
	/* the ULP's attributes come with the INFO extension */
	q.req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
	q.req.id.idiag_sport = me.sin_port;
	q.req.id.idiag_dport = peer.sin_port;
	q.req.id.idiag_src[0] = me.sin_addr.s_addr;
	q.req.id.idiag_dst[0] = peer.sin_addr.s_addr;
	q.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (send(nl, &q, sizeof(q), 0) != sizeof(q))
		goto out;
	n = recv(nl, buf, sizeof(buf), 0);
	nlh = (struct nlmsghdr *)buf;
	if (n <= 0 || !NLMSG_OK(nlh, n) || nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		goto out;
	msg = NLMSG_DATA(nlh);
	l1 = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*msg));
	for (ulp = (struct rtattr *)(msg + 1); RTA_OK(ulp, l1); ulp = RTA_NEXT(ulp, l1)) {
		if ((ulp->rta_type & NLA_TYPE_MASK) != INET_DIAG_ULP_INFO)
			continue;
		l2 = RTA_PAYLOAD(ulp);
		for (tls = RTA_DATA(ulp); RTA_OK(tls, l2); tls = RTA_NEXT(tls, l2)) {
			if ((tls->rta_type & NLA_TYPE_MASK) != INET_ULP_INFO_TLS)
				continue;
			l3 = RTA_PAYLOAD(tls);
			for (at = RTA_DATA(tls); RTA_OK(at, l3); at = RTA_NEXT(at, l3))
				if ((at->rta_type & NLA_TYPE_MASK) == attr &&
				    RTA_PAYLOAD(at) == sizeof(__u16))
					val = *(__u16 *)RTA_DATA(at);
		}
	}
out:
	if (nl >= 0)
		close(nl);
	return val;
}

/* ---- streams --------------------------------------------------------------- */

/* Byte @i of every stream */
static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 131) ^ (i >> 9) ^ (i >> 17));
}

static void pattern_fill(unsigned char *buf, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(off + i);
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, 0);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

enum read_mode { READ_RECV, READ_PEEK, READ_SPLICE };

/*
 * What a stream does: A sends @total bytes of the pattern in sends of
 * @send_sz (cycled), B reads them with reads of @recv_sz (cycled), in
 * @mode. With @mid, B calls it once it has read @mid_at bytes, while A
 * waits after @pause_at bytes for it to be done, then sets @tx_rekey's
 * keys when given.
 */
struct plan {
	size_t total;
	const unsigned int *send_sz;
	size_t n_send;
	const unsigned int *recv_sz;
	size_t n_recv;
	enum read_mode mode;
	int (*mid)(void *arg);
	size_t mid_at, pause_at;
	const struct keyset *tx_rekey;
	void *arg;
};

static int sender(int fd, const struct plan *p, int go)
{
	static unsigned char buf[MAX_IO];
	bool paused = false;
	size_t off = 0, i = 0, n;
	char c;

	for (;;) {
		if (p->mid && !paused && off == p->pause_at) {
			if (read(go, &c, 1) != 1)
				return -1;
			if (p->tx_rekey && keys_set(fd, TLS_TX, p->tx_rekey))
				return -1;
			paused = true;
		}
		if (off >= p->total)
			return 0;
		n = p->send_sz[i++ % p->n_send];
		if (n > p->total - off)
			n = p->total - off;
		if (p->mid && !paused && off + n > p->pause_at)
			n = p->pause_at - off;
		pattern_fill(buf, off, n);
		if (send_all(fd, buf, n))
			return -1;
		off += n;
	}
}

/* Read up to @want bytes into @buf the way @mode says */
static ssize_t read_some(int fd, enum read_mode mode, unsigned char *buf,
			 size_t want, int *pipefd)
{
	static unsigned char peeked[MAX_IO];
	ssize_t n, m, got;

	switch (mode) {
	case READ_RECV:
		return recv(fd, buf, want, 0);
	case READ_PEEK:
		m = recv(fd, peeked, want, MSG_PEEK);
		if (m <= 0)
			return m;
		n = recv(fd, buf, m, 0);
		if (n != m || memcmp(buf, peeked, n)) {
			fprintf(stderr, "# peeked %zd bytes, read %zd%s\n", m, n,
				n == m ? ", not the same" : "");
			return -1;
		}
		return n;
	case READ_SPLICE:
		n = splice(fd, NULL, pipefd[1], NULL, want, 0);
		if (n <= 0)
			return n;
		for (got = 0; got < n; got += m) {
			m = read(pipefd[0], buf + got, n - got);
			if (m <= 0)
				return -1;
		}
		return n;
	}
	return -1;
}

static int receiver(int fd, const struct plan *p, int go)
{
	static unsigned char buf[MAX_IO];
	size_t off = 0, j = 0, want, i;
	int pipefd[2] = { -1, -1 }, ret = -1;
	bool done = false;
	ssize_t n;

	if (p->mode == READ_SPLICE && pipe(pipefd))
		return -1;
	for (;;) {
		if (p->mid && !done && off == p->mid_at) {
			if (p->mid(p->arg)) {
				fprintf(stderr, "# the midway step failed\n");
				goto out;
			}
			if (write(go, "g", 1) != 1)
				goto out;
			done = true;
		}
		if (off >= p->total)
			break;
		want = p->recv_sz[j++ % p->n_recv];
		if (want > p->total - off)
			want = p->total - off;
		if (p->mid && !done && off + want > p->mid_at)
			want = p->mid_at - off;
		n = read_some(fd, p->mode, buf, want, pipefd);
		if (n <= 0) {
			fprintf(stderr, "# read at %zu of %zu: %zd (%s)\n", off,
				p->total, n, n ? strerror(errno) : "EOF");
			goto out;
		}
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pattern(off + i)) {
				fprintf(stderr, "# byte %zu is %#x, sent %#x\n",
					off + i, buf[i], pattern(off + i));
				goto out;
			}
		off += n;
	}
	ret = 0;
out:
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	return ret;
}

/* Run @p from @cfd (a child sends) to @sfd; 0 when every byte came right */
static int stream(int cfd, int sfd, const struct plan *p)
{
	int go[2], st, ret;
	pid_t pid;

	if (pipe(go))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(go[1]);
		close(sfd);
		_exit(sender(cfd, p, go[0]) ? 1 : 0);
	}
	close(go[0]);
	ret = receiver(sfd, p, go[1]);
	close(go[1]);
	if (ret)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		if (!ret)
			fprintf(stderr, "# the sender failed\n");
		ret = -1;
	}
	return ret;
}

/* Send sizes: tiny records, full ones, and sends that make several */
static const unsigned int sz_mixed[] = {
	1, 16384, 100, 7000, 16384, 3, 32773, 1500, 16383, 400, 12345, 16385,
};

/* Smaller records, so the engine has some to decrypt between losses */
static const unsigned int sz_small[] = { 1200, 3000, 700, 2500, 5000, 300, 1800 };

/* Multi-packet records */
static const unsigned int sz_big[] = { 16384, 9000, 12000, 4000, 16384, 14000 };

/* Odd read sizes */
static const unsigned int rd_odd[] = { 1, 13, 333, 4097, 16385, 65535, 777, 2, 30000 };

/* ---- the fixture ----------------------------------------------------------- */

FIXTURE(drx)
{
	int cfd, sfd;
	struct keyset ks;
};

FIXTURE_VARIANT(drx)
{
	__u16 version;
	__u16 cipher;
	bool offload;	/* nsb's engine takes these RX keys */
};

FIXTURE_VARIANT_ADD(drx, 12_aes_gcm)
{
	.version = TLS_1_2_VERSION,
	.cipher = TLS_CIPHER_AES_GCM_128,
	.offload = true,
};

FIXTURE_VARIANT_ADD(drx, 12_aes_gcm_256)
{
	.version = TLS_1_2_VERSION,
	.cipher = TLS_CIPHER_AES_GCM_256,
	.offload = true,
};

FIXTURE_VARIANT_ADD(drx, 13_aes_gcm)
{
	.version = TLS_1_3_VERSION,
	.cipher = TLS_CIPHER_AES_GCM_128,
	.offload = false,
};

FIXTURE_VARIANT_ADD(drx, 12_chacha)
{
	.version = TLS_1_2_VERSION,
	.cipher = TLS_CIPHER_CHACHA20_POLY1305,
	.offload = false,
};

FIXTURE_SETUP(drx)
{
	self->cfd = -1;
	self->sfd = -1;
	keyset_make(&self->ks, variant->version, variant->cipher);
	ASSERT_EQ(run("grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp"), 0)
		TH_LOG("the tls ULP is not registered");
	ASSERT_EQ(run("command -v ethtool >/dev/null"), 0)
		TH_LOG("ethtool is missing");
	ASSERT_EQ(net_setup(), 0) TH_LOG("namespace/netdevsim/veth setup failed");
	ASSERT_GE(rx_cnt("rx_adds"), 0)
		TH_LOG("netdevsim has no TLS RX engine (no rx_adds in debugfs)");
	ASSERT_EQ(run("ip netns exec " NS_A " ethtool -K nsa tls-hw-tx-offload off"), 0);
	ASSERT_EQ(run("ip netns exec " NS_B " ethtool -K nsb tls-hw-rx-offload on"), 0)
		TH_LOG("nsb cannot turn tls-hw-rx-offload on");
	ASSERT_EQ(run("ip netns exec " NS_B " ethtool -k nsb | grep -q '%s: on'",
		      "tls-hw-rx-offload"), 0);
	ASSERT_EQ(connect_pair(&self->cfd, &self->sfd, 0), 0);
}

FIXTURE_TEARDOWN(drx)
{
	if (self->cfd >= 0)
		close(self->cfd);
	if (self->sfd >= 0)
		close(self->sfd);
	net_teardown();
}

/*
 * A new connection: the sender's MSS clamped to @mss when not 0; with
 * @one_seg, nsa sends one segment per skb (gso_max_segs 1), so the engine
 * sees every packet apart and a record spans many of them.
 */
static void reconnect(struct __test_metadata *_metadata, int *cfd, int *sfd,
		      int mss, bool one_seg)
{
	close(*cfd);
	close(*sfd);
	if (one_seg)
		ASSERT_EQ(run("ip -n " NS_A " link set nsa gso_max_segs 1"), 0);
	ASSERT_EQ(connect_pair(cfd, sfd, mss), 0);
}

/*
 * Keys on both ends: A's TX in software (nsa's TX offload is off), B's RX
 * where @hw says, checked in every place that tells.
 */
static void keys_on(struct __test_metadata *_metadata, int cfd, int sfd,
		    const struct keyset *ks, bool hw)
{
	ASSERT_EQ(tls_attach(cfd, TLS_TX, ks), 0) TH_LOG("TLS_TX: %s", strerror(errno));
	ASSERT_EQ(tls_attach(sfd, TLS_RX, ks), 0) TH_LOG("TLS_RX: %s", strerror(errno));
	ASSERT_TRUE(ulp_is_tls(sfd));
	ASSERT_TRUE(ulp_is_tls(cfd));
	EXPECT_EQ(tx_cnt("adds"), 0);
	EXPECT_EQ(stat_a("TlsCurrTxSw"), 1);
	EXPECT_EQ(rx_cnt("rx_adds"), hw ? 1 : 0);
	EXPECT_EQ(rx_cnt("rx_conns"), hw ? 1 : 0);
	EXPECT_EQ(stat_b("TlsRxDevice"), hw ? 1 : 0);
	EXPECT_EQ(stat_b("TlsCurrRxDevice"), hw ? 1 : 0);
	EXPECT_EQ(stat_b("TlsRxSw"), hw ? 0 : 1);
	EXPECT_EQ(stat_b("TlsCurrRxSw"), hw ? 0 : 1);
	EXPECT_EQ(diag_tls_u16(sfd, NS_B, TLS_INFO_RXCONF), hw ? TLS_CONF_HW : TLS_CONF_SW);
}

#define KEYS_ON() keys_on(_metadata, self->cfd, self->sfd, &self->ks, variant->offload)

/* The engine decrypted records, or (software) never saw the connection */
static void expect_engine(struct __test_metadata *_metadata, bool hw)
{
	if (hw) {
		EXPECT_GT(rx_cnt("rx_records"), 0);
		EXPECT_GT(rx_cnt("rx_packets"), 0);
	} else {
		EXPECT_EQ(rx_cnt("rx_adds"), 0);
		EXPECT_EQ(rx_cnt("rx_packets"), 0);
		EXPECT_EQ(rx_cnt("rx_records"), 0);
		EXPECT_EQ(rx_cnt("rx_passed"), 0);
	}
}

/* Wait up to 10 s for @cond to hold */
#define WAIT_FOR(cond) do {						\
		int __i;						\
		for (__i = 0; __i < 100 && !(cond); __i++)		\
			usleep(100000);					\
	} while (0)

/* Close both ends: the engine lets the keys go, once, and the gauges fall */
static void close_both(struct __test_metadata *_metadata, int *cfd, int *sfd)
{
	close(*cfd);
	close(*sfd);
	*cfd = -1;
	*sfd = -1;
	WAIT_FOR(rx_cnt("rx_conns") == 0 && stat_b("TlsCurrRxDevice") == 0 &&
		 stat_b("TlsCurrRxSw") == 0);
	EXPECT_EQ(rx_cnt("rx_conns"), 0);
	EXPECT_EQ(rx_cnt("rx_dels"), rx_cnt("rx_adds"));
	EXPECT_EQ(stat_b("TlsCurrRxDevice"), 0);
	EXPECT_EQ(stat_b("TlsCurrRxSw"), 0);
}

#define PLAN(tot, ssz, rsz) {						\
		.total = (tot),						\
		.send_sz = (ssz), .n_send = ARRAY_SIZE(ssz),		\
		.recv_sz = (rsz), .n_recv = ARRAY_SIZE(rsz),		\
	}

/* ---- 1. the basic stream ----------------------------------------------------- */

TEST_F_TIMEOUT(drx, basic, DEV_TIMEOUT)
{
	struct plan p = PLAN(3 << 20, sz_mixed, rd_odd);

	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("basic");
	expect_engine(_metadata, variant->offload);
	if (variant->offload)
		/* 3 MiB is at least 192 full records */
		EXPECT_GE(rx_cnt("rx_records"), 192);
	EXPECT_EQ(stat_b("TlsDecryptError"), 0);
	/* still offloaded after all of it */
	EXPECT_EQ(stat_b("TlsCurrRxDevice"), variant->offload ? 1 : 0);
	close_both(_metadata, &self->cfd, &self->sfd);
	EXPECT_EQ(rx_cnt("rx_dels"), variant->offload ? 1 : 0);
}

/* ---- 2. record and packet boundaries ------------------------------------------ */

/*
 * 100-byte records with Nagle on: nsa's TSO sends many of them in one
 * skb, which the engine sees whole.
 */
TEST_F_TIMEOUT(drx, many_records_per_skb, DEV_TIMEOUT)
{
	static const unsigned int sz[] = { 100 };
	struct plan p = PLAN(300000, sz, rd_odd);
	long long recs, pkts;

	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("many_records_per_skb");
	expect_engine(_metadata, variant->offload);
	if (variant->offload) {
		recs = rx_cnt("rx_records");
		pkts = rx_cnt("rx_packets");
		EXPECT_GT(recs, 1000);
		/* more records than skbs: skbs that carry several */
		EXPECT_GT(recs, pkts)
			TH_LOG("%lld records in %lld packets", recs, pkts);
	}
}

/* 16 KiB records over 536-byte segments, one per skb */
TEST_F_TIMEOUT(drx, one_record_many_skbs, DEV_TIMEOUT)
{
	static const unsigned int sz[] = { 16384 };
	struct plan p = PLAN(1 << 20, sz, rd_odd);
	long long recs, pkts, txp, txb;
	int mss;
	socklen_t len = sizeof(mss);

	reconnect(_metadata, &self->cfd, &self->sfd, 536, true);
	ASSERT_EQ(getsockopt(self->cfd, IPPROTO_TCP, TCP_MAXSEG, &mss, &len), 0);
	EXPECT_LE(mss, 536);
	KEYS_ON();
	txp = if_stat(NS_A, "nsa", "tx_packets");
	txb = if_stat(NS_A, "nsa", "tx_bytes");
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("one_record_many_skbs");
	txp = if_stat(NS_A, "nsa", "tx_packets") - txp;
	txb = if_stat(NS_A, "nsa", "tx_bytes") - txb;
	/* the setup did what it says: small skbs on the wire */
	ASSERT_GT(txp, 0);
	EXPECT_LT(txb / txp, 700) TH_LOG("%lld bytes in %lld skbs", txb, txp);
	expect_engine(_metadata, variant->offload);
	if (variant->offload) {
		recs = rx_cnt("rx_records");
		pkts = rx_cnt("rx_packets");
		EXPECT_GE(recs, (1 << 20) / 16384 / 2);
		EXPECT_GT(pkts, 10 * recs)
			TH_LOG("%lld records in %lld packets", recs, pkts);
	}
}

/* ---- 3. other ways to read ----------------------------------------------------- */

TEST_F_TIMEOUT(drx, splice_read, DEV_TIMEOUT)
{
	struct plan p = PLAN(1 << 20, sz_mixed, rd_odd);

	p.mode = READ_SPLICE;
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("splice_read");
	expect_engine(_metadata, variant->offload);
}

TEST_F_TIMEOUT(drx, peek_read, DEV_TIMEOUT)
{
	struct plan p = PLAN(1 << 20, sz_mixed, rd_odd);

	p.mode = READ_PEEK;
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("peek_read");
	expect_engine(_metadata, variant->offload);
}

/* ---- 4. control records --------------------------------------------------------- */

struct segment {
	unsigned char type;
	size_t len;
};

static const struct segment ctl_segments[] = {
	{ TYPE_DATA, 3000 }, { TYPE_ALERT, 2 }, { TYPE_DATA, 5000 },
	{ TYPE_HANDSHAKE, 300 }, { TYPE_DATA, 100000 }, { TYPE_ALERT, 2 },
	{ TYPE_HANDSHAKE, 40 }, { TYPE_DATA, 20000 }, { TYPE_HANDSHAKE, 9000 },
	{ TYPE_DATA, 1 },
};

#define N_CTL	ARRAY_SIZE(ctl_segments)

static int send_typed(int fd, unsigned char type, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(1)] = {};
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cm) = type;
	return sendmsg(fd, &msg, 0) == (ssize_t)len ? 0 : -1;
}

/* recvmsg() of up to @len bytes; *@type from the cmsg, -1 without one */
static ssize_t recv_typed(int fd, void *buf, size_t len, int *type)
{
	char cbuf[CMSG_SPACE(16)];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*type = -1;
	n = recvmsg(fd, &msg, 0);
	for (cm = CMSG_FIRSTHDR(&msg); n >= 0 && cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *CMSG_DATA(cm);
	return n;
}

TEST_F_TIMEOUT(drx, control_records, DEV_TIMEOUT)
{
	size_t total = 0, off, k, seg_off;
	unsigned char *want, *buf;
	int st, type;
	pid_t pid;

	for (k = 0; k < N_CTL; k++)
		total += ctl_segments[k].len;
	want = malloc(total);
	buf = malloc(REC_MAX);
	ASSERT_TRUE(want && buf);
	pattern_fill(want, 0, total);
	for (off = 0, k = 0; k < N_CTL; off += ctl_segments[k++].len) {
		if (ctl_segments[k].type == TYPE_ALERT) {
			want[off] = 1;		/* warning */
			want[off + 1] = 90;	/* user_canceled */
		} else if (ctl_segments[k].type == TYPE_HANDSHAKE) {
			want[off] = 4;		/* new_session_ticket, not a KeyUpdate */
		}
	}

	KEYS_ON();
	fflush(stdout);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		for (off = 0, k = 0; k < N_CTL; off += ctl_segments[k++].len) {
			int err = ctl_segments[k].type == TYPE_DATA ?
				send_all(self->cfd, want + off, ctl_segments[k].len) :
				send_typed(self->cfd, ctl_segments[k].type, want + off,
					   ctl_segments[k].len);
			if (err)
				_exit(1);
		}
		_exit(0);
	}

	for (off = 0, k = 0; k < N_CTL; off += ctl_segments[k++].len) {
		for (seg_off = 0; seg_off < ctl_segments[k].len; ) {
			size_t ask = ctl_segments[k].len - seg_off;
			ssize_t n;

			if (ask > REC_MAX)
				ask = REC_MAX;
			n = recv_typed(self->sfd, buf, ask, &type);
			ASSERT_GT(n, 0) TH_LOG("segment %zu at %zu: %s", k, seg_off,
					       n ? strerror(errno) : "EOF");
			ASSERT_EQ(type, ctl_segments[k].type) TH_LOG("segment %zu", k);
			ASSERT_EQ(memcmp(buf, want + off + seg_off, n), 0)
				TH_LOG("segment %zu at %zu", k, seg_off);
			seg_off += n;
			/* a control record comes whole, in one read */
			if (type != TYPE_DATA)
				ASSERT_EQ(seg_off, ctl_segments[k].len);
		}
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	log_counters("control_records");
	expect_engine(_metadata, variant->offload);
	if (variant->offload)
		/* the 5 control records are in there too */
		EXPECT_GE(rx_cnt("rx_records"), 10);
	free(want);
	free(buf);
}

/* ---- 5. packets dropped before the engine ---------------------------------------- */

/* What a receiver saw of the engine as the stream went */
struct watch {
	long long mark;			/* rx_records after the midway step */
	const struct keyset *ks;	/* keys for a midway rekey */
	int sfd;
	long long rekey_ret, rekey_errno;
	int sleep_ms;
	long long adds_at_mid, dels_at_mid, conns_at_mid, curr_dev_at_mid;
};

/* Check that the engine lost its place and was brought back in step */
static void expect_resynced(struct __test_metadata *_metadata, bool hw)
{
	if (!hw) {
		expect_engine(_metadata, false);
		EXPECT_EQ(rx_cnt("rx_losses"), 0);
		EXPECT_EQ(stat_b("TlsRxDeviceResync"), 0);
		return;
	}
	EXPECT_GT(rx_cnt("rx_losses"), 0);
	EXPECT_GT(rx_cnt("rx_resyncs"), 0);
	EXPECT_GT(stat_b("TlsRxDeviceResync"), 0);
}

/* The drops end: none after the bytes B has read so far */
static int mid_drops_off(void *arg)
{
	struct watch *w = arg;

	w->mark = rx_cnt("rx_records");
	return rx_knob("rx_drop_every", 0);
}

/*
 * Every 11th packet is lost for the first quarter of the stream; then A
 * waits for B to turn the drops off and sends the rest. While packets
 * are lost, whether the engine ever gets through a record between a
 * resync and the next loss depends on how many packets are in flight,
 * which the scheduler decides; with the losses over, it must get back
 * in step and decrypt the rest, whatever the resync model.
 */
static void drops(struct __test_metadata *_metadata, int *cfd, int *sfd,
		  const struct keyset *ks, bool hw, int model)
{
	struct watch w = { 0 };
	struct plan p = PLAN(768 << 10, sz_small, rd_odd);

	p.mid = mid_drops_off;
	p.arg = &w;
	p.mid_at = p.total / 4;
	p.pause_at = p.total / 4;
	reconnect(_metadata, cfd, sfd, 0, true);
	ASSERT_EQ(rx_knob("rx_resync", model), 0);
	ASSERT_EQ(rx_knob("rx_drop_every", 11), 0);
	keys_on(_metadata, *cfd, *sfd, ks, hw);
	ASSERT_EQ(stream(*cfd, *sfd, &p), 0);
	log_counters("drops");
	if (hw) {
		EXPECT_GT(rx_cnt("rx_drops"), 0);
	} else {
		EXPECT_EQ(rx_cnt("rx_drops"), 0);
	}
	expect_resynced(_metadata, hw);
	if (hw) {
		EXPECT_GT(rx_cnt("rx_records"), w.mark)
			TH_LOG("no record decrypted by the engine once no packet was lost");
	}
}

TEST_F_TIMEOUT(drx, drops_resync_driver, DEV_TIMEOUT)
{
	drops(_metadata, &self->cfd, &self->sfd, &self->ks, variant->offload, 0);
}

TEST_F_TIMEOUT(drx, drops_resync_core, DEV_TIMEOUT)
{
	drops(_metadata, &self->cfd, &self->sfd, &self->ks, variant->offload, 1);
}

TEST_F_TIMEOUT(drx, drops_resync_async, DEV_TIMEOUT)
{
	drops(_metadata, &self->cfd, &self->sfd, &self->ks, variant->offload, 2);
}

/* ---- 6. netem on the way ------------------------------------------------------------- */

/* What netem's impairment must do to the engine */
enum netem_expect {
	/* lose its place, and get back in step */
	NETEM_REGAIN,
	/* lose its place, and be told where a record starts (see below) */
	NETEM_HINTED,
	/* nothing: a duplicate is old news, let by as ciphertext */
	NETEM_PASSED,
};

/* The stream through netem on nsa, with resync model @model */
static void netem_case(struct __test_metadata *_metadata, int *cfd, int *sfd,
		       const struct keyset *ks, bool hw, int model, const char *how,
		       enum netem_expect expect)
{
	struct plan p = PLAN(512 << 10, sz_small, rd_odd);

	ASSERT_EQ(run("command -v tc >/dev/null"), 0) TH_LOG("tc is missing");
	reconnect(_metadata, cfd, sfd, 0, true);
	ASSERT_EQ(run("ip netns exec " NS_A " tc qdisc add dev nsa root netem %s", how), 0)
		TH_LOG("no netem qdisc: CONFIG_NET_SCH_NETEM missing?");
	ASSERT_EQ(rx_knob("rx_resync", model), 0);
	keys_on(_metadata, *cfd, *sfd, ks, hw);
	ASSERT_EQ(stream(*cfd, *sfd, &p), 0);
	log_counters(how);
	run("ip netns exec " NS_A " tc -s qdisc show dev nsa | sed 's/^/# /'");
	EXPECT_EQ(stat_b("TlsDecryptError"), 0);
	if (!hw) {
		expect_resynced(_metadata, false);
		return;
	}
	switch (expect) {
	case NETEM_REGAIN:
		/*
		 * Out-of-order packets may well make the engine lose its
		 * place again before a record is through: back in step at
		 * least once is what is asked here.
		 */
		expect_resynced(_metadata, hw);
		break;
	case NETEM_HINTED:
		EXPECT_GT(rx_cnt("rx_losses"), 0);
		EXPECT_GT(stat_b("TlsRxDeviceResync"), 0);
		break;
	case NETEM_PASSED:
		EXPECT_GT(rx_cnt("rx_passed"), 0);
		EXPECT_GT(rx_cnt("rx_records"), 0);
		break;
	}
}

#define NETEM(model, how, expect)					\
	netem_case(_metadata, &self->cfd, &self->sfd, &self->ks,	\
		   variant->offload, model, how, expect)

#define REORDER "delay 2ms reorder 25% 50%"
#define LOSS "loss 3%"

TEST_F_TIMEOUT(drx, netem_reorder_resync_driver, DEV_TIMEOUT)
{
	NETEM(0, REORDER, NETEM_REGAIN);
}

/*
 * CORE_NEXT_HINT names the first record start after TCP's in-order
 * bytes; with a quarter of the packets sent early, the engine has often
 * seen bytes past it already and must refuse the hint. The core must
 * still give hints; getting back in step is asked of the loss case.
 */
TEST_F_TIMEOUT(drx, netem_reorder_resync_core, DEV_TIMEOUT)
{
	NETEM(1, REORDER, NETEM_HINTED);
}

TEST_F_TIMEOUT(drx, netem_reorder_resync_async, DEV_TIMEOUT)
{
	NETEM(2, REORDER, NETEM_REGAIN);
}

TEST_F_TIMEOUT(drx, netem_duplicate_resync_core, DEV_TIMEOUT)
{
	NETEM(1, "duplicate 10%", NETEM_PASSED);
}

TEST_F_TIMEOUT(drx, netem_loss_resync_driver, DEV_TIMEOUT)
{
	NETEM(0, LOSS, NETEM_REGAIN);
}

TEST_F_TIMEOUT(drx, netem_loss_resync_core, DEV_TIMEOUT)
{
	NETEM(1, LOSS, NETEM_REGAIN);
}

TEST_F_TIMEOUT(drx, netem_loss_resync_async, DEV_TIMEOUT)
{
	NETEM(2, LOSS, NETEM_REGAIN);
}

/* ---- 7. records the engine decrypted in part ----------------------------------------- */

TEST_F_TIMEOUT(drx, mixed_records, DEV_TIMEOUT)
{
	struct plan p = PLAN(1 << 20, sz_big, rd_odd);

	reconnect(_metadata, &self->cfd, &self->sfd, 0, true);
	ASSERT_EQ(rx_knob("rx_stop_every", 3), 0);
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("mixed_records");
	expect_engine(_metadata, variant->offload);
	if (variant->offload) {
		EXPECT_GT(stat_b("TlsDecryptRetry"), 0);
		EXPECT_GT(rx_cnt("rx_losses"), 0);
		EXPECT_GT(rx_cnt("rx_resyncs"), 0);
	} else {
		EXPECT_EQ(stat_b("TlsDecryptRetry"), 0);
	}
	EXPECT_EQ(stat_b("TlsDecryptError"), 0);
}

/* ---- 8. records that do not authenticate -------------------------------------------- */

/*
 * A sends records it sealed itself over plain TCP: good ones, then one
 * with a flipped byte (the last of its tag, or one in the middle of a
 * record many packets long), then one more good one. B reads the good
 * bytes, then EBADMSG.
 */
static void bad_record(struct __test_metadata *_metadata, int *cfd, int *sfd,
		       const struct keyset *ks, bool hw, bool in_ciphertext)
{
	static const unsigned int good[] = { 100, 5000, 16384, 1, 9000, 12000 };
	size_t total = 0, off, len, i, flip;
	unsigned char *plain, *wire;
	__u64 seq = keyset_seq(ks);
	ssize_t n;
	pid_t pid;
	int st;

	if (in_ciphertext)
		reconnect(_metadata, cfd, sfd, 0, true);
	for (i = 0; i < ARRAY_SIZE(good); i++)
		total += good[i];
	plain = malloc(total + 2 * REC_MAX);
	wire = malloc(REC_MAX + 64);
	ASSERT_TRUE(plain && wire);
	pattern_fill(plain, 0, total + 2 * REC_MAX);

	ASSERT_EQ(tls_attach(*sfd, TLS_RX, ks), 0) TH_LOG("TLS_RX: %s", strerror(errno));
	ASSERT_TRUE(ulp_is_tls(*sfd));
	EXPECT_EQ(stat_b("TlsCurrRxDevice"), hw ? 1 : 0);
	EXPECT_EQ(rx_cnt("rx_adds"), hw ? 1 : 0);

	fflush(stdout);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		for (off = 0, i = 0; i < ARRAY_SIZE(good); i++) {
			len = record_seal(ks, seq++, TYPE_DATA, plain + off, good[i], wire);
			if (!len || send_all(*cfd, wire, len))
				_exit(1);
			off += good[i];
		}
		/* the bad one */
		n = in_ciphertext ? 15000 : 3000;
		len = record_seal(ks, seq++, TYPE_DATA, plain + off, n, wire);
		if (!len)
			_exit(1);
		flip = in_ciphertext ? REC_HDR + 7000 : len - 1;
		wire[flip] ^= 0x20;
		if (send_all(*cfd, wire, len))
			_exit(1);
		off += n;
		len = record_seal(ks, seq++, TYPE_DATA, plain + off, 500, wire);
		if (!len || send_all(*cfd, wire, len))
			_exit(1);
		_exit(0);
	}

	for (off = 0; off < total; off += n) {
		n = recv(*sfd, wire, total - off < 4000 ? total - off : 4000, 0);
		ASSERT_GT(n, 0) TH_LOG("good records, at %zu: %s", off,
				       n ? strerror(errno) : "EOF");
		ASSERT_EQ(memcmp(wire, plain + off, n), 0) TH_LOG("at %zu", off);
	}
	n = recv(*sfd, wire, 4000, 0);
	EXPECT_EQ(n, -1);
	EXPECT_EQ(errno, EBADMSG) TH_LOG("the bad record read as: %s", strerror(errno));
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	log_counters(in_ciphertext ? "bad_ciphertext" : "bad_tag");
	EXPECT_GE(stat_b("TlsDecryptError"), 1);
	if (hw) {
		EXPECT_GT(rx_cnt("rx_auth_fails"), 0);
		EXPECT_GT(rx_cnt("rx_records"), 0);
	} else {
		expect_engine(_metadata, false);
		EXPECT_EQ(rx_cnt("rx_auth_fails"), 0);
	}
	free(plain);
	free(wire);
}

TEST_F_TIMEOUT(drx, bad_tag, DEV_TIMEOUT)
{
	bad_record(_metadata, &self->cfd, &self->sfd, &self->ks, variant->offload, false);
}

TEST_F_TIMEOUT(drx, bad_ciphertext, DEV_TIMEOUT)
{
	bad_record(_metadata, &self->cfd, &self->sfd, &self->ks, variant->offload, true);
}

/* ---- 9. the device goes away mid-stream -------------------------------------------- */

static int mid_feature_off(void *arg)
{
	return run("ip netns exec " NS_B " ethtool -K nsb tls-hw-rx-offload off");
}

/* A's traffic moves to veth, then nsb goes down and comes back up */
static int mid_link_down(void *arg)
{
	struct watch *w = arg;

	if (run("ip -n " NS_A " route del " ADDR_B "/32 via 10.19.1.2 metric 10") ||
	    run("ip -n " NS_B " link set nsb down"))
		return -1;
	/* the keys leave the engine as the port goes down */
	WAIT_FOR(rx_cnt("rx_conns") == 0);
	w->dels_at_mid = rx_cnt("rx_dels");
	w->conns_at_mid = rx_cnt("rx_conns");
	return run("ip -n " NS_B " link set nsb up");
}

static int mid_remove(void *arg)
{
	if (run("ip -n " NS_A " route del " ADDR_B "/32 via 10.19.1.2 metric 10"))
		return -1;
	return run("echo %d > /sys/bus/netdevsim/del_device", NSIM_B);
}

/* Both sides route through veth: B's offloaded socket gets ciphertext */
static int mid_route(void *arg)
{
	if (run("ip -n " NS_A " route del " ADDR_B "/32 via 10.19.1.2 metric 10"))
		return -1;
	return run("ip -n " NS_B " route del " ADDR_A "/32 via 10.19.1.1 metric 10");
}

static void midway(struct __test_metadata *_metadata, int cfd, int sfd,
		   const struct keyset *ks, bool hw, int (*mid)(void *), void *arg)
{
	struct plan p = PLAN(1 << 20, sz_mixed, rd_odd);

	p.mid = mid;
	p.arg = arg;
	p.mid_at = 1 << 19;
	p.pause_at = 1 << 19;
	keys_on(_metadata, cfd, sfd, ks, hw);
	ASSERT_EQ(stream(cfd, sfd, &p), 0);
}

TEST_F_TIMEOUT(drx, feature_off, DEV_TIMEOUT)
{
	midway(_metadata, self->cfd, self->sfd, &self->ks, variant->offload,
	       mid_feature_off, NULL);
	log_counters("feature_off");
	expect_engine(_metadata, variant->offload);
	close_both(_metadata, &self->cfd, &self->sfd);
	/* a new socket stays in software */
	ASSERT_EQ(connect_pair(&self->cfd, &self->sfd, 0), 0);
	ASSERT_EQ(tls_attach(self->sfd, TLS_RX, &self->ks), 0);
	EXPECT_EQ(rx_cnt("rx_adds"), variant->offload ? 1 : 0);
	EXPECT_EQ(stat_b("TlsCurrRxSw"), 1);
	EXPECT_EQ(stat_b("TlsCurrRxDevice"), 0);
	EXPECT_EQ(diag_tls_u16(self->sfd, NS_B, TLS_INFO_RXCONF), TLS_CONF_SW);
}

TEST_F_TIMEOUT(drx, link_down, DEV_TIMEOUT)
{
	struct watch w = { .dels_at_mid = -1, .conns_at_mid = -1 };
	long long vb = if_stat(NS_B, "vb", "rx_bytes");

	midway(_metadata, self->cfd, self->sfd, &self->ks, variant->offload,
	       mid_link_down, &w);
	log_counters("link_down");
	expect_engine(_metadata, variant->offload);
	EXPECT_EQ(w.dels_at_mid, variant->offload ? 1 : 0) TH_LOG("rx_dels at the down");
	EXPECT_EQ(w.conns_at_mid, 0) TH_LOG("rx_conns at the down");
	EXPECT_EQ(rx_cnt("rx_dels"), rx_cnt("rx_adds"));
	EXPECT_GT(if_stat(NS_B, "vb", "rx_bytes") - vb, 1 << 18);
	close_both(_metadata, &self->cfd, &self->sfd);
}

TEST_F_TIMEOUT(drx, device_removed, DEV_TIMEOUT)
{
	midway(_metadata, self->cfd, self->sfd, &self->ks, variant->offload,
	       mid_remove, NULL);
	EXPECT_EQ(run("test -e /sys/bus/netdevsim/devices/netdevsim%d", NSIM_B), 1);
	close(self->cfd);
	close(self->sfd);
	self->cfd = -1;
	self->sfd = -1;
	WAIT_FOR(stat_b("TlsCurrRxDevice") == 0 && stat_b("TlsCurrRxSw") == 0);
	EXPECT_EQ(stat_b("TlsCurrRxDevice"), 0);
	EXPECT_EQ(stat_b("TlsCurrRxSw"), 0);
	EXPECT_EQ(stat_b("TlsRxDevice"), variant->offload ? 1 : 0);
}

TEST_F_TIMEOUT(drx, route_moved, DEV_TIMEOUT)
{
	long long vb = if_stat(NS_B, "vb", "rx_bytes");

	midway(_metadata, self->cfd, self->sfd, &self->ks, variant->offload,
	       mid_route, NULL);
	log_counters("route_moved");
	expect_engine(_metadata, variant->offload);
	EXPECT_GT(if_stat(NS_B, "vb", "rx_bytes") - vb, 1 << 18);
	EXPECT_EQ(stat_b("TlsDecryptError"), 0);
	close_both(_metadata, &self->cfd, &self->sfd);
}

/* ---- 10. the engine refuses the keys ---------------------------------------------- */

TEST_F_TIMEOUT(drx, refused, DEV_TIMEOUT)
{
	struct plan p = PLAN(1 << 20, sz_mixed, rd_odd);

	ASSERT_EQ(rx_knob("rx_refuse_add", 1), 0);
	/* refused or not offered: software either way */
	keys_on(_metadata, self->cfd, self->sfd, &self->ks, false);
	EXPECT_EQ(rx_cnt("rx_refusals"), variant->offload ? 1 : 0);
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("refused");
	EXPECT_EQ(rx_cnt("rx_packets"), 0);
	EXPECT_EQ(rx_cnt("rx_records"), 0);
	EXPECT_EQ(stat_b("TlsRxDevice"), 0);
	EXPECT_EQ(stat_b("TlsRxSw"), 1);
	close_both(_metadata, &self->cfd, &self->sfd);
}

/* ---- 11. both ends offloaded --------------------------------------------------------- */

TEST_F_TIMEOUT(drx, both_offloaded, DEV_TIMEOUT)
{
	struct plan p = PLAN(2 << 20, sz_mixed, rd_odd);
	bool hw = variant->offload;

	ASSERT_EQ(run("ip netns exec " NS_A " ethtool -K nsa tls-hw-tx-offload on"), 0);
	/* a socket takes its route's features when it connects */
	reconnect(_metadata, &self->cfd, &self->sfd, 0, false);
	ASSERT_EQ(tls_attach(self->cfd, TLS_TX, &self->ks), 0);
	ASSERT_EQ(tls_attach(self->sfd, TLS_RX, &self->ks), 0);
	ASSERT_TRUE(ulp_is_tls(self->sfd));
	EXPECT_EQ(tx_cnt("adds"), hw ? 1 : 0);
	EXPECT_EQ(stat_a("TlsCurrTxDevice"), hw ? 1 : 0);
	EXPECT_EQ(rx_cnt("rx_adds"), hw ? 1 : 0);
	EXPECT_EQ(stat_b("TlsCurrRxDevice"), hw ? 1 : 0);
	EXPECT_EQ(diag_tls_u16(self->sfd, NS_B, TLS_INFO_RXCONF), hw ? TLS_CONF_HW : TLS_CONF_SW);
	EXPECT_EQ(diag_tls_u16(self->cfd, NS_A, TLS_INFO_TXCONF), hw ? TLS_CONF_HW : TLS_CONF_SW);
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("both_offloaded");
	printf("# nsa TX engine: records=%lld packets=%lld\n", tx_cnt("records"),
	       tx_cnt("packets"));
	expect_engine(_metadata, hw);
	if (hw) {
		EXPECT_GT(tx_cnt("records"), 0);
	} else {
		EXPECT_EQ(tx_cnt("records"), 0);
	}
	EXPECT_EQ(stat_b("TlsDecryptError"), 0);
}

/* ---- 12. new RX keys on a TLS 1.2 socket ------------------------------------------- */

static int mid_rekey(void *arg)
{
	struct watch *w = arg;
	int ret;

	errno = 0;
	ret = keys_set(w->sfd, TLS_RX, w->ks);
	w->rekey_ret = ret;
	w->rekey_errno = ret ? errno : 0;
	w->mark = rx_cnt("rx_records");
	return 0;
}

/* A loopback TCP pair in the current namespace: *c connected to *a */
static int loopback_pair(int *c, int *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int l;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&sa, &len))
		return -1;
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	*a = accept(l, NULL, NULL);
	close(l);
	return *a < 0 ? -1 : 0;
}

TEST_F_TIMEOUT(drx, rekey, DEV_TIMEOUT)
{
	struct watch w = { .ks = &self->ks, .sfd = self->sfd };
	struct plan p = PLAN(1 << 20, sz_mixed, rd_odd);
	int c, a, sw_ret, sw_errno;

	/* what the software path answers: a loopback socket, no engine */
	ASSERT_EQ(loopback_pair(&c, &a), 0);
	ASSERT_EQ(tls_attach(a, TLS_RX, &self->ks), 0);
	errno = 0;
	sw_ret = keys_set(a, TLS_RX, &self->ks);
	sw_errno = sw_ret ? errno : 0;
	close(c);
	close(a);
	if (variant->version == TLS_1_2_VERSION) {
		/* no KeyUpdate in TLS 1.2 */
		EXPECT_EQ(sw_ret, -1);
		EXPECT_NE(sw_errno, 0);
	}
	TH_LOG("software TLS_RX again: %d (%s)", sw_ret, strerror(sw_errno));

	p.mid = mid_rekey;
	p.arg = &w;
	p.mid_at = 1 << 19;
	p.pause_at = 1 << 19;
	/* TLS 1.3: the peer's next keys; the sender moves to them too */
	if (!sw_ret)
		p.tx_rekey = &self->ks;
	KEYS_ON();
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("rekey");
	EXPECT_EQ(w.rekey_ret, sw_ret);
	EXPECT_EQ(w.rekey_errno, sw_errno) TH_LOG("offloaded: %s, software: %s",
						  strerror(w.rekey_errno),
						  strerror(sw_errno));
	expect_engine(_metadata, variant->offload);
	if (variant->offload) {
		/* still offloaded after the refusal, and the engine still at work */
		EXPECT_EQ(stat_b("TlsCurrRxDevice"), 1);
		EXPECT_EQ(diag_tls_u16(self->sfd, NS_B, TLS_INFO_RXCONF), TLS_CONF_HW);
		EXPECT_GT(rx_cnt("rx_records"), w.mark);
	}
	EXPECT_EQ(stat_b("TlsDecryptError"), 0);
}

/* ---- 13. keys set after records arrived --------------------------------------------- */

static int mid_late_keys(void *arg)
{
	struct watch *w = arg;

	/* what A sent so far reaches B's TCP before the keys are set */
	usleep(w->sleep_ms * 1000);
	if (tls_attach(w->sfd, TLS_RX, w->ks))
		return -1;
	w->adds_at_mid = rx_cnt("rx_adds");
	w->curr_dev_at_mid = stat_b("TlsCurrRxDevice");
	return 0;
}

TEST_F_TIMEOUT(drx, late_keys, DEV_TIMEOUT)
{
	struct watch w = { .ks = &self->ks, .sfd = self->sfd, .sleep_ms = 1000 };
	struct plan p = PLAN(1 << 20, sz_mixed, rd_odd);
	bool hw = variant->offload;

	ASSERT_EQ(tls_attach(self->cfd, TLS_TX, &self->ks), 0);
	p.mid = mid_late_keys;
	p.arg = &w;
	p.mid_at = 0;
	/* more than the receive window takes: some records wait in A */
	p.pause_at = 256 << 10;
	ASSERT_EQ(stream(self->cfd, self->sfd, &p), 0);
	log_counters("late_keys");
	ASSERT_TRUE(ulp_is_tls(self->sfd));
	EXPECT_EQ(w.adds_at_mid, hw ? 1 : 0);
	EXPECT_EQ(w.curr_dev_at_mid, hw ? 1 : 0);
	expect_engine(_metadata, hw);
	EXPECT_EQ(stat_b("TlsDecryptError"), 0);
	close_both(_metadata, &self->cfd, &self->sfd);
}

TEST_HARNESS_MAIN
