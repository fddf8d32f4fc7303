// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-dev-bench: what kTLS costs the sending host, and the receiving
 * one, with device offload, against software kTLS and plain TCP. Run in
 * a guest under QEMU's icount by scripts/guest-bench-device.sh, where
 * guest time counts executed instructions.
 *
 * The sender runs in the current network namespace and sends a file (or
 * writes it in 16 KiB pieces) over TCP to a receiver forked into the
 * namespace NETNS (/run/netns/NETNS), which reads and discards the bytes:
 * its kTLS is off, so it never decrypts and the records on the wire may
 * be anything (the netdevsim engine's "bypass" knob leaves them
 * unencrypted). The sender's keys are TLS 1.2 AES-128-GCM, set directly
 * after attaching the ULP; whether they went to the device is read back
 * from /proc/net/tls_stat and must match the scheme.
 *
 * The rx-* schemes measure the receiver instead: it sets TLS_RX with
 * the same keys (rx-tcp: no kTLS at all) and reads the stream in 16 KiB
 * calls; the sender sends the file with sendfile(), encrypting in
 * software (rx-sw, rx-dev-engine) or, for rx-dev, through the engine in
 * bypass, so that the records arrive as plaintext frames which the
 * receiving engine, also in bypass, marks decrypted: exactly what a NIC
 * hands the stack, without the emulation's cipher work.
 *
 * usage: ktls-dev-bench SCHEME MIB FILE NETNS ADDR
 *   SCHEME  tcp-sendfile | sw-sendfile | sw-write | dev-sendfile |
 *           dev-write | dev-sendfile-zc (TLS_TX_ZEROCOPY_RO) |
 *           rx-tcp | rx-sw | rx-dev | rx-dev-engine
 *   (the device schemes need the route to ADDR to offload, and the
 *   receiver's device for rx-dev*; the sw ones that it does not: the
 *   caller sets the engines' knobs)
 * Prints "bench SCHEME MIB OWN GUEST": the measured process's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID, user + system: the sender's, or the
 * receiver's for rx-*) and the guest's elapsed time, both in ns per MiB,
 * from the first byte until the receiver has read the last one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define PORT	5544

/* What the scheme asks of each side */
struct scheme {
	int	tx_tls;		/* the sender sets TLS_TX */
	int	tx_dev;		/* ... and the device must take it */
	int	rx_tls;		/* the receiver sets TLS_RX */
	int	rx_dev;		/* ... and the device must take it */
	int	measure_rx;	/* OWN is the receiver's */
};

static struct scheme scheme_of(const char *name)
{
	struct scheme s = { 0 };

	if (!strncmp(name, "rx-", 3)) {
		s.measure_rx = 1;
		s.rx_tls = strcmp(name, "rx-tcp") != 0;
		s.tx_tls = s.rx_tls;
		s.rx_dev = !strncmp(name, "rx-dev", 6);
		s.tx_dev = !strcmp(name, "rx-dev");
	} else {
		s.tx_tls = strcmp(name, "tcp-sendfile") != 0;
		s.tx_dev = !strncmp(name, "dev-", 4);
	}
	return s;
}

static void die(const char *what)
{
	fprintf(stderr, "ktls-dev-bench: error: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long tls_stat(const char *name)
{
	char line[128], key[64];
	long long val, found = -1;
	FILE *f = fopen("/proc/net/tls_stat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", key, &val) == 2 && !strcmp(key, name))
			found = val;
	fclose(f);
	return found;
}

static void tls_keys(struct tls12_crypto_info_aes_gcm_128 *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->info.version = TLS_1_2_VERSION;
	ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memset(ci->key, 0x5a, sizeof(ci->key));
	memset(ci->salt, 0xa5, sizeof(ci->salt));
}

/* Keys for the receiver; the device must (not) take them, as @s says */
static void tls_rx_on(int fd, const struct scheme *s)
{
	struct tls12_crypto_info_aes_gcm_128 ci;
	long long dev0, dev1;

	tls_keys(&ci);
	dev0 = tls_stat("TlsRxDevice");
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) ||
	    setsockopt(fd, SOL_TLS, TLS_RX, &ci, sizeof(ci)))
		die("TLS_RX");
	dev1 = tls_stat("TlsRxDevice");
	if ((dev1 > dev0) != s->rx_dev) {
		fprintf(stderr, "ktls-dev-bench: error: TlsRxDevice %lld -> %lld\n",
			dev0, dev1);
		exit(1);
	}
}

/*
 * The receiver, in NETNS: accept one connection, read it to the end.
 * When it is the one measured, its CPU time goes back through @report.
 */
static void receiver(const char *netns, int ready, int report,
		     const struct scheme *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	static char buf[1 << 16];
	long long cpu0, cpu;
	char path[256];
	int fd, lfd, one = 1;
	ssize_t n;

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die("setns");
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (void *)&sa, sizeof(sa)) || listen(lfd, 1))
		die("listen");
	if (write(ready, "r", 1) != 1)
		die("ready");
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	if (s->rx_tls)
		tls_rx_on(fd, s);
	/* the sender starts once the keys are in: the device follows all */
	if (write(ready, "k", 1) != 1)
		die("ready");
	cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
	while ((n = read(fd, buf, s->measure_rx ? 16384 : sizeof(buf))) > 0)
		;
	if (n < 0)
		die("read");
	cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	if (write(report, &cpu, sizeof(cpu)) != sizeof(cpu))
		die("report");
	/* the sender waits for this close: the last byte has arrived */
	close(fd);
	exit(0);
}

static void tls_tx_on(int fd)
{
	struct tls12_crypto_info_aes_gcm_128 ci;

	tls_keys(&ci);
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) ||
	    setsockopt(fd, SOL_TLS, TLS_TX, &ci, sizeof(ci)))
		die("TLS_TX");
}

static void send_all(int fd, int file, size_t size, int write_mode)
{
	static char buf[16384];
	off_t off = 0;

	while ((size_t)off < size) {
		ssize_t n;

		if (write_mode) {
			n = pread(file, buf, sizeof(buf), off);
			if (n > 0)
				n = write(fd, buf, n);
		} else {
			n = sendfile(fd, file, &off, size - off);
			if (n > 0)
				continue;
		}
		if (n <= 0)
			die("send");
		off += n;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	long long cpu0, wall0, cpu, wall, dev0, dev1, rx_cpu;
	int fd, file, ready[2], report[2], one = 1, status;
	const char *scheme;
	struct scheme s;
	char c, buf[16];
	size_t size;
	pid_t pid;

	if (argc != 6) {
		fprintf(stderr, "usage: ktls-dev-bench SCHEME MIB FILE NETNS ADDR\n");
		return 2;
	}
	scheme = argv[1];
	s = scheme_of(scheme);
	size = strtoul(argv[2], NULL, 0) << 20;
	file = open(argv[3], O_RDONLY);
	if (file < 0)
		die(argv[3]);
	if (pipe(ready) || pipe(report))
		die("pipe");
	pid = fork();
	if (!pid)
		receiver(argv[4], ready[1], report[1], &s);
	if (read(ready[0], &c, 1) != 1)
		die("receiver");

	fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, argv[5], &sa.sin_addr);
	if (connect(fd, (void *)&sa, sizeof(sa)))
		die("connect");
	dev0 = tls_stat("TlsTxDevice");
	if (s.tx_tls)
		tls_tx_on(fd);
	dev1 = tls_stat("TlsTxDevice");
	if (read(ready[0], &c, 1) != 1)
		die("receiver keys");
	if ((dev1 > dev0) != s.tx_dev) {
		fprintf(stderr, "ktls-dev-bench: error: %s: TlsTxDevice %lld -> %lld\n",
			scheme, dev0, dev1);
		return 1;
	}
	if (!strcmp(scheme, "dev-sendfile-zc") &&
	    setsockopt(fd, SOL_TLS, TLS_TX_ZEROCOPY_RO, &one, sizeof(one)))
		die("TLS_TX_ZEROCOPY_RO");

	cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
	wall0 = now(CLOCK_MONOTONIC);
	send_all(fd, file, size, strstr(scheme, "-write") != NULL);
	shutdown(fd, SHUT_WR);
	/* the receiver closes once it has read everything */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	wall = now(CLOCK_MONOTONIC) - wall0;
	close(fd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("receiver failed");
	if (read(report[0], &rx_cpu, sizeof(rx_cpu)) != sizeof(rx_cpu))
		die("receiver report");
	if (s.measure_rx)
		cpu = rx_cpu;
	printf("bench %s %zu %lld %lld\n", scheme, size >> 20,
	       cpu / (long long)(size >> 20), wall / (long long)(size >> 20));
	return 0;
}
