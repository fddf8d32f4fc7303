// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-mem: the kernel memory an idle kTLS socket holds (issue 20, item
 * 4). Run as root in a guest (scripts/guest-bench-mem.sh).
 *
 * Opens N loopback TCP connections first, so that their TCP state is not
 * counted; then, on one end of each, attaches the "tls" ULP and sets
 * TLS_TX and TLS_RX keys (AES-128-GCM, TLS 1.2 or 1.3); with "sent", each
 * of those ends then sends one 64-byte record, which the other end reads
 * whole, so that the socket is idle after use rather than unused. It
 * reports how much the slab grew (/proc/slabinfo: active objects times
 * object size, per cache) and how much MemFree fell, per socket. Caches must not be
 * merged (the kernel's default here: CONFIG_SLAB_MERGE_DEFAULT is off),
 * or kTLS's objects would be counted under another cache's name.
 *
 * usage: ktls-mem SOCKETS VERSION [sent]   (VERSION: 12 or 13)
 * Prints "mem tlsVV[-sent] slab BYTES free BYTES" (per socket) and one
 * "cache NAME BYTES OBJSIZE" line per cache that grew by more than 16
 * bytes per socket. Exit 1 when a call fails or the ULP is missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#define MAX_CACHES 512

struct cache {
	char name[64];
	long bytes;
	long objsize;
};

static void die(const char *what)
{
	fprintf(stderr, "ktls-mem: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Bytes in use per slab cache */
static int slab_snapshot(struct cache *c)
{
	FILE *f = fopen("/proc/slabinfo", "r");
	char line[512];
	int n = 0;

	if (!f)
		die("/proc/slabinfo");
	while (n < MAX_CACHES && fgets(line, sizeof(line), f)) {
		long active, total, size;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %ld %ld %ld", c[n].name, &active,
			   &total, &size) != 4)
			continue;
		c[n].bytes = active * size;
		c[n].objsize = size;
		n++;
	}
	fclose(f);
	return n;
}

static long slab_bytes(const struct cache *c, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(c[i].name, name))
			return c[i].bytes;
	return 0;
}

static long memfree_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char key[64];
	long kb;

	if (!f)
		die("/proc/meminfo");
	while (fscanf(f, "%63s %ld kB\n", key, &kb) == 2) {
		if (!strcmp(key, "MemFree:")) {
			fclose(f);
			return kb * 1024;
		}
	}
	fclose(f);
	errno = ENOENT;
	die("MemFree");
	return 0;
}

static void tls_on(int fd, int version, int i)
{
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info.version = version == 13 ? TLS_1_3_VERSION :
						TLS_1_2_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
	};

	memset(ci.key, i, sizeof(ci.key));
	memset(ci.iv, i >> 8, sizeof(ci.iv));
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", 3))
		die("TCP_ULP tls");
	if (setsockopt(fd, SOL_TLS, TLS_TX, &ci, sizeof(ci)))
		die("TLS_TX");
	if (setsockopt(fd, SOL_TLS, TLS_RX, &ci, sizeof(ci)))
		die("TLS_RX");
}

/* One 64-byte record from each kTLS end, read whole (as ciphertext) */
static void send_one(int *fds, int n, int version)
{
	int len = (version == 13 ? 5 + 1 : 5 + 8) + 64 + 16;
	char buf[128];
	int i, got, r;

	memset(buf, 0x61, sizeof(buf));
	for (i = 0; i < n; i++) {
		if (write(fds[2 * i], buf, 64) != 64)
			die("write");
		for (got = 0; got < len; got += r) {
			r = read(fds[2 * i + 1], buf, len - got);
			if (r <= 0)
				die("read");
		}
	}
}

int main(int argc, char **argv)
{
	static struct cache before[MAX_CACHES], after[MAX_CACHES];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	int n, version, ls, i, nb, na, sent;
	long free0, slab0 = 0, slab1 = 0;
	struct rlimit rl;
	int *fds;

	sent = argc == 4 && !strcmp(argv[3], "sent");
	if (argc != 3 + sent)
		return fprintf(stderr, "usage: ktls-mem SOCKETS 12|13 [sent]\n"), 2;
	n = atoi(argv[1]);
	version = atoi(argv[2]);
	if (n <= 0 || (version != 12 && version != 13))
		return fprintf(stderr, "usage: ktls-mem SOCKETS 12|13 [sent]\n"), 2;

	rl.rlim_cur = rl.rlim_max = 2 * n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("RLIMIT_NOFILE");
	fds = calloc(2 * n, sizeof(*fds));
	if (!fds)
		die("calloc");
	ls = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (void *)&sa, sizeof(sa)) || listen(ls, 4096) ||
	    getsockname(ls, (void *)&sa, &salen))
		die("listener");
	for (i = 0; i < n; i++) {
		fds[2 * i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[2 * i] < 0 ||
		    connect(fds[2 * i], (void *)&sa, sizeof(sa)))
			die("connect");
		fds[2 * i + 1] = accept(ls, NULL, NULL);
		if (fds[2 * i + 1] < 0)
			die("accept");
	}

	/* let the handshakes' skbs and timers settle */
	sleep(1);
	nb = slab_snapshot(before);
	free0 = memfree_bytes();
	for (i = 0; i < n; i++)
		tls_on(fds[2 * i], version, i);
	if (sent)
		send_one(fds, n, version);
	sleep(1);
	na = slab_snapshot(after);

	for (i = 0; i < nb; i++)
		slab0 += before[i].bytes;
	for (i = 0; i < na; i++)
		slab1 += after[i].bytes;
	printf("mem tls%d%s slab %ld free %ld\n", version, sent ? "-sent" : "",
	       (slab1 - slab0) / n, (free0 - memfree_bytes()) / n);
	for (i = 0; i < na; i++) {
		long d = after[i].bytes - slab_bytes(before, nb, after[i].name);

		if (d > 16L * n || d < -16L * n)
			printf("cache %s %ld %ld\n", after[i].name, d / n,
			       after[i].objsize);
	}
	return 0;
}
