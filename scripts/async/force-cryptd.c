// SPDX-License-Identifier: GPL-2.0
/*
 * force-cryptd: make every AEAD kTLS uses complete asynchronously.
 *
 * kTLS allocates its AEADs by algorithm name with no flags, so it takes
 * the implementation of highest priority. The cryptd template wraps a
 * synchronous AEAD under the same algorithm name, 50 higher in priority,
 * and hands every request to a workqueue: the caller sees -EINPROGRESS
 * (or -EBUSY once cryptd's per-CPU queue is full, cryptd_max_cpu_qlen)
 * and a completion later. Binding an AF_ALG socket to "cryptd(NAME)"
 * instantiates it, and the instance stays registered after the socket
 * is closed.
 *
 * cryptd only wraps synchronous algorithms. The AES-NI glue registers
 * asynchronous SIMD wrappers above anything cryptd makes of AES, so the
 * guest must boot with initcall_blacklist=aesni_init for the AES names.
 *
 * Then, for each name:
 *   - /proc/crypto must show a cryptd instance with the top priority, a
 *     passed self-test and "async : yes", above every other driver;
 *   - an AF_ALG socket bound to the plain name must take a reference on
 *     that instance (the name now resolves to it);
 * and for each kTLS cipher, TLS 1.2 and 1.3, with -k:
 *   - setting TLS_TX and TLS_RX on a loopback pair takes two references
 *     on the cryptd instance, a few records (one past 16 KiB) go through
 *     byte-exact, and the references go away after close;
 * with -p, after those:
 *   - four processes pinned to one CPU each move records through their
 *     own kTLS pair at once, so that requests meet in that CPU's cryptd
 *     queue (with cryptd.cryptd_max_cpu_qlen=1, the backlog);
 * and with -e, after a test run:
 *   - within 30 seconds no cryptd instance has a user left: every kTLS
 *     socket of the run released its transforms.
 *
 * Prints one line per check, "ok ..." or "FAIL ...", and exits 1 if any
 * failed.
 *
 * usage: force-cryptd [-k | -p | -e]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_alg.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

/* The AEADs of net/tls/cipher.c; rfc5288 first, it wraps gcm(aes) */
static const char *const names[] = {
	"rfc5288(gcm(aes))", "gcm(aes)", "ccm(aes)",
	"rfc7539(chacha20,poly1305)", "gcm(sm4)", "ccm(sm4)", "gcm(aria)",
};

struct alg {
	char name[128], driver[128], type[32];
	int priority, refcnt;
	bool async, internal, passed;
};

static struct alg algs[2048];
static int nr_algs;
static int failures;

static void say(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		failures++;
}

/* Read /proc/crypto into algs[] */
static void read_algs(void)
{
	char line[512], *colon, *key, *val, *end;
	struct alg *a = NULL;
	FILE *f = fopen("/proc/crypto", "r");

	if (!f) {
		perror("/proc/crypto");
		exit(1);
	}
	nr_algs = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		colon = strchr(line, ':');
		if (!colon) {
			a = NULL;
			continue;
		}
		*colon = 0;
		key = line;
		for (end = colon - 1; end >= key && *end == ' '; end--)
			*end = 0;
		val = colon + 1;
		while (*val == ' ')
			val++;
		if (!strcmp(key, "name")) {
			if (nr_algs == (int)ARRAY_SIZE(algs))
				break;
			a = &algs[nr_algs++];
			memset(a, 0, sizeof(*a));
			snprintf(a->name, sizeof(a->name), "%s", val);
			continue;
		}
		if (!a)
			continue;
		if (!strcmp(key, "driver"))
			snprintf(a->driver, sizeof(a->driver), "%s", val);
		else if (!strcmp(key, "type"))
			snprintf(a->type, sizeof(a->type), "%s", val);
		else if (!strcmp(key, "priority"))
			a->priority = atoi(val);
		else if (!strcmp(key, "refcnt"))
			a->refcnt = atoi(val);
		else if (!strcmp(key, "async"))
			a->async = !strcmp(val, "yes");
		else if (!strcmp(key, "internal"))
			a->internal = !strcmp(val, "yes");
		else if (!strcmp(key, "selftest"))
			a->passed = !strcmp(val, "passed");
	}
	fclose(f);
}

static struct alg *find_driver(const char *driver)
{
	int i;

	for (i = 0; i < nr_algs; i++)
		if (!strcmp(algs[i].driver, driver))
			return &algs[i];
	return NULL;
}

static int refcnt_of(const char *driver)
{
	struct alg *a;

	read_algs();
	a = find_driver(driver);
	return a ? a->refcnt : -1;
}

/* The usable AEAD of highest priority for @name; NULL on a tie at the top */
static struct alg *top_of(const char *name, bool *tie)
{
	struct alg *best = NULL;
	int i;

	*tie = false;
	for (i = 0; i < nr_algs; i++) {
		struct alg *a = &algs[i];

		if (strcmp(a->name, name) || strcmp(a->type, "aead") ||
		    a->internal || !a->passed)
			continue;
		if (best && a->priority == best->priority)
			*tie = true;
		if (!best || a->priority > best->priority) {
			best = a;
			*tie = false;
		}
	}
	return best;
}

static int alg_socket(const char *name)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	int fd = socket(AF_ALG, SOCK_SEQPACKET, 0);

	if (fd < 0) {
		perror("socket(AF_ALG)");
		exit(1);
	}
	memcpy(sa.salg_type, "aead", sizeof("aead"));
	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", name);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* Instantiate cryptd over @name and check it is what @name resolves to */
static void force(const char *name)
{
	char wrapped[160], driver[128];
	struct alg *top;
	bool tie;
	int fd, before, after, tries;

	snprintf(wrapped, sizeof(wrapped), "cryptd(%s)", name);
	/*
	 * The new instance is named after the driver it wraps, not
	 * "cryptd(NAME)", so the bind itself may fail (EEXIST, ENOENT) even
	 * though the instance was registered: /proc/crypto decides.
	 */
	fd = alg_socket(wrapped);
	if (fd >= 0)
		close(fd);

	/* the instance is usable once testmgr has passed it: wait for that */
	for (tries = 0; tries < 100; tries++) {
		read_algs();
		top = top_of(name, &tie);
		if (top && !tie && !strncmp(top->driver, "cryptd(", 7))
			break;
		usleep(100000);
	}
	if (!top) {
		say(false, "%s: no usable AEAD in /proc/crypto", name);
		return;
	}
	if (tie || strncmp(top->driver, "cryptd(", 7) || !top->async) {
		say(false, "%s: top driver %s (priority %d, async %s%s), no cryptd on top",
		    name, top->driver, top->priority, top->async ? "yes" : "no",
		    tie ? ", tied" : "");
		return;
	}
	snprintf(driver, sizeof(driver), "%s", top->driver);
	say(true, "%s: top driver %s (priority %d, async yes)", name, driver,
	    top->priority);

	before = refcnt_of(driver);
	fd = alg_socket(name);
	if (fd < 0) {
		say(false, "%s: AF_ALG bind: %s", name, strerror(-fd));
		return;
	}
	after = refcnt_of(driver);
	close(fd);
	say(after == before + 1, "%s resolves to %s (refcnt %d -> %d with an AF_ALG socket)",
	    name, driver, before, after);
}

struct ktls_cipher {
	const char *label, *alg, *alg12;
	bool tls12_only;
	unsigned short type;
	size_t key, salt, iv, size;
};

/* @only12: ARIA is TLS 1.2 only (RFC 6209), kTLS refuses it for 1.3 */
#define C(label, alg, alg12, T, S, only12)				\
	{ label, alg, alg12, only12, TLS_CIPHER_##T,			\
	  TLS_CIPHER_##T##_KEY_SIZE, TLS_CIPHER_##T##_SALT_SIZE,	\
	  TLS_CIPHER_##T##_IV_SIZE, sizeof(struct S) }

static const struct ktls_cipher ciphers[] = {
	C("aes_gcm", "gcm(aes)", "rfc5288(gcm(aes))", AES_GCM_128,
	  tls12_crypto_info_aes_gcm_128, false),
	C("aes_gcm_256", "gcm(aes)", "rfc5288(gcm(aes))", AES_GCM_256,
	  tls12_crypto_info_aes_gcm_256, false),
	C("aes_ccm", "ccm(aes)", NULL, AES_CCM_128,
	  tls12_crypto_info_aes_ccm_128, false),
	C("chacha", "rfc7539(chacha20,poly1305)", NULL, CHACHA20_POLY1305,
	  tls12_crypto_info_chacha20_poly1305, false),
	C("sm4_gcm", "gcm(sm4)", NULL, SM4_GCM, tls12_crypto_info_sm4_gcm,
	  false),
	C("sm4_ccm", "ccm(sm4)", NULL, SM4_CCM, tls12_crypto_info_sm4_ccm,
	  false),
	C("aria_gcm", "gcm(aria)", NULL, ARIA_GCM_128,
	  tls12_crypto_info_aria_gcm_128, true),
	C("aria_gcm_256", "gcm(aria)", NULL, ARIA_GCM_256,
	  tls12_crypto_info_aria_gcm_256, true),
};

/* Whether TLS 1.2 AES-GCM keys use rfc5288 (debugfs tls/aead_rfc5288) */
static bool rfc5288_on(void)
{
	FILE *f = fopen("/sys/kernel/debug/tls/aead_rfc5288", "r");
	int c;

	if (!f)
		return true;
	c = fgetc(f);
	fclose(f);
	return c != 'N';
}

static void tcp_pair(int *cfd, int *sfd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || *cfd < 0 || bind(lfd, (void *)&sa, sizeof(sa)) ||
	    listen(lfd, 1) || getsockname(lfd, (void *)&sa, &len) ||
	    connect(*cfd, (void *)&sa, sizeof(sa))) {
		perror("tcp pair");
		exit(1);
	}
	*sfd = accept(lfd, NULL, NULL);
	if (*sfd < 0) {
		perror("accept");
		exit(1);
	}
	close(lfd);
}

static bool set_key(int fd, int dir, const struct ktls_cipher *c,
		    unsigned short version)
{
	unsigned char info[128] = { 0 };
	struct tls_crypto_info *hdr = (void *)info;
	size_t i;

	hdr->version = version;
	hdr->cipher_type = c->type;
	/* iv, key, salt, rec_seq follow the header in that order */
	for (i = sizeof(*hdr); i < c->size; i++)
		info[i] = (unsigned char)(i * 7 + 1);
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) ||
	    setsockopt(fd, SOL_TLS, dir, info, c->size)) {
		printf("# setsockopt: %s\n", strerror(errno));
		return false;
	}
	return true;
}

static bool echo(int tx, int rx)
{
	static unsigned char out[40000], in[40000];
	static const size_t sizes[] = { 1, 1000, 20000, 40000 };
	size_t i, j, got;
	ssize_t n;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (j = 0; j < sizes[i]; j++)
			out[j] = (unsigned char)(i + j * 13);
		if (send(tx, out, sizes[i], 0) != (ssize_t)sizes[i])
			return false;
		for (got = 0; got < sizes[i]; got += n) {
			n = recv(rx, in + got, sizes[i] - got, 0);
			if (n <= 0)
				return false;
		}
		if (memcmp(in, out, sizes[i]))
			return false;
	}
	return true;
}

/* One kTLS pair with @c: it must hold the cryptd instance of its AEAD */
static void ktls_check(const struct ktls_cipher *c, unsigned short version)
{
	const char *alg = c->alg, *vs = version == TLS_1_2_VERSION ? "1.2" : "1.3";
	char driver[128];
	struct alg *top;
	int cfd, sfd, base, held, left, tries;
	bool tie, ok;

	if (version == TLS_1_2_VERSION && c->alg12 && rfc5288_on())
		alg = c->alg12;
	read_algs();
	top = top_of(alg, &tie);
	if (!top || tie || strncmp(top->driver, "cryptd(", 7)) {
		say(false, "kTLS %s %s: %s is not forced to cryptd", vs, c->label, alg);
		return;
	}
	snprintf(driver, sizeof(driver), "%s", top->driver);
	base = top->refcnt;

	tcp_pair(&cfd, &sfd);
	ok = set_key(cfd, TLS_TX, c, version) && set_key(sfd, TLS_RX, c, version);
	held = refcnt_of(driver);
	ok = ok && echo(cfd, sfd);
	close(cfd);
	close(sfd);
	/* keys may be freed after close returns (deferred work, RCU) */
	for (tries = 0; (left = refcnt_of(driver)) != base && tries < 50; tries++)
		usleep(100000);
	say(ok && held == base + 2 && left == base,
	    "kTLS %s %s: TX+RX keys on %s (refcnt %d -> %d -> %d), records %s",
	    vs, c->label, driver, base, held, left, ok ? "byte-exact" : "FAILED");
}

#define STRESS_PROCS	4
#define STRESS_ROUNDS	100

/* One stress process: @c's TLS 1.3 keys, @rounds echoes, on CPU 0 */
static int stress_one(const struct ktls_cipher *c)
{
	cpu_set_t cpus;
	int cfd, sfd, i;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		return 1;
	tcp_pair(&cfd, &sfd);
	if (!set_key(cfd, TLS_TX, c, TLS_1_3_VERSION) ||
	    !set_key(sfd, TLS_RX, c, TLS_1_3_VERSION))
		return 1;
	for (i = 0; i < STRESS_ROUNDS; i++)
		if (!echo(cfd, sfd))
			return 1;
	close(cfd);
	close(sfd);
	return 0;
}

/* Requests of several sockets at once in one CPU's cryptd queue */
static void stress(void)
{
	const struct ktls_cipher *c = &ciphers[3];	/* the fastest: ChaCha20 */
	int i, st, bad = 0;
	pid_t pid;

	for (i = 0; i < STRESS_PROCS; i++) {
		pid = fork();
		if (pid < 0) {
			perror("fork");
			exit(1);
		}
		if (!pid)
			_exit(stress_one(c));
	}
	for (i = 0; i < STRESS_PROCS; i++)
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	say(!bad, "pinned: %d processes on CPU 0, %d rounds each of TLS 1.3 %s, %d failed",
	    STRESS_PROCS, STRESS_ROUNDS, c->label, bad);
}

/* Every cryptd instance back to the one reference its registration holds */
static void released(void)
{
	int i, tries, held = 0;

	for (tries = 0; tries < 300; tries++) {
		read_algs();
		held = 0;
		for (i = 0; i < nr_algs; i++)
			if (!strncmp(algs[i].driver, "cryptd(", 7) &&
			    algs[i].refcnt != 1)
				held++;
		if (!held)
			break;
		usleep(100000);
	}
	/* name the ones still held */
	for (i = 0; held && i < nr_algs; i++)
		if (!strncmp(algs[i].driver, "cryptd(", 7) &&
		    algs[i].refcnt != 1)
			say(false, "%s: refcnt %d after the run",
			    algs[i].driver, algs[i].refcnt);
	say(!held, "no transform on cryptd left after the run (%.1fs)",
	    tries / 10.0);
}

int main(int argc, char **argv)
{
	bool ktls = argc > 1 && !strcmp(argv[1], "-k");
	bool end = argc > 1 && !strcmp(argv[1], "-e");
	bool pin = argc > 1 && !strcmp(argv[1], "-p");
	size_t i;

	if (argc > 2 || (argc > 1 && !ktls && !end && !pin)) {
		fprintf(stderr, "usage: force-cryptd [-k | -p | -e]\n");
		return 2;
	}
	if (end)
		released();
	for (i = 0; i < ARRAY_SIZE(names); i++)
		force(names[i]);
	ktls |= pin;
	for (i = 0; ktls && i < ARRAY_SIZE(ciphers); i++) {
		ktls_check(&ciphers[i], TLS_1_2_VERSION);
		if (!ciphers[i].tls12_only)
			ktls_check(&ciphers[i], TLS_1_3_VERSION);
	}
	if (pin && !failures)
		stress();
	printf("%s: %d failed\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
