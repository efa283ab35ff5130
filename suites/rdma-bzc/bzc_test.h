/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rdma-bzc suite helpers: /dev/bzc files and the SQE128|CQE32 rings their
 * io_uring commands need. Numbers: suites/include/kl_uapi.h (the tested
 * kernel's <rdma/bzc_user.h> when it has one).
 */
#ifndef BZC_TEST_H
#define BZC_TEST_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include "kl_uapi.h"	/* the kernel's <linux/io_uring.h> before liburing's copy */
#include "kl_uring.h"

#define BZC_DEV		"/dev/bzc"
#define BZC_RING	(IORING_SETUP_SQE128 | IORING_SETUP_CQE32)

/* Open /dev/bzc; the suite requires the rdma-bzc set, so a missing node is a failure. */
static inline int bzc_open(void)
{
	int fd = open(BZC_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		kl_fail("open %s: %s (the kernel carries rdma-bzc: the misc device must exist)", BZC_DEV,
			strerror(errno));
	return fd;
}

/* A command in a cleared slot: only what the caller sets is non-zero (both halves of a big SQE). */
static inline struct io_uring_sqe *bzc_prep(struct io_uring *ring, int fd, __u32 op,
					    const void *payload, size_t len)
{
	struct io_uring_sqe *sqe = kl_sqe(ring);
	size_t slot = (ring->flags & IORING_SETUP_SQE128) ? 128 : 64;

	memset(sqe, 0, slot);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	if (payload) {
		KL_ASSERT(slot == 128 || len <= 16, "a %zu-byte payload needs a big SQE", len);
		memcpy(sqe->cmd, payload, len);
	}
	sqe->user_data = op;
	return sqe;
}

/* Submit what was prepared, wait for its CQE, return cqe->res. */
static inline int bzc_run(struct io_uring *ring)
{
	int ret = io_uring_submit(ring);

	KL_ASSERT(ret == 1, "io_uring_submit: %d (%s)", ret, ret < 0 ? strerror(-ret) : "not 1 SQE");
	return kl_wait(ring).res;
}

/* QUERY into *out (out_len bytes of it asked for); returns cqe->res. */
static inline int bzc_query(struct io_uring *ring, int fd, struct bzc_query *out, __u32 out_len)
{
	struct bzc_cmd_query q = { .out_ptr = (__u64)(uintptr_t)out, .out_len = out_len };

	bzc_prep(ring, fd, BZC_U_CMD_QUERY, &q, sizeof(q));
	return bzc_run(ring);
}

/* ---- connections: a soft RDMA device on eth0, addresses from KL_ADDR ---- */

#include <arpa/inet.h>
#include <netinet/in.h>

#define BZC_PORT	18515

/* The device a test attached, deleted at exit whatever happened, so the next test starts clean. */
static char bzc_link[16];

static inline void bzc_link_cleanup(void)
{
	char cmd[64];

	if (!bzc_link[0])
		return;
	/*
	 * In the background: this process still holds its /dev/bzc files,
	 * which hold the device until the exit that follows closes them.
	 */
	snprintf(cmd, sizeof(cmd), "rdma link delete %s >/dev/null 2>&1 &", bzc_link);
	if (system(cmd) != 0)
		fprintf(stderr, "# %s\n", cmd);
}

/* Attach provider (rxe or siw) to eth0 as kl_<provider>0 and wait for its port to be ACTIVE. */
static inline void bzc_link_add(const char *provider)
{
	char cmd[160], path[128], state[64] = "";

	/* a test before this one may still be deleting its device (bzc_link_cleanup()) */
	snprintf(path, sizeof(path), "/sys/class/infiniband/kl_%s0", provider);
	for (int i = 0; i < 100 * kl_scale() && access(path, F_OK) == 0; i++)
		usleep(100 * 1000);
	snprintf(cmd, sizeof(cmd), "rdma link add kl_%s0 type %s netdev eth0", provider, provider);
	KL_ASSERT(system(cmd) == 0, "'%s' failed", cmd);
	snprintf(bzc_link, sizeof(bzc_link), "kl_%s0", provider);
	atexit(bzc_link_cleanup);
	snprintf(path, sizeof(path), "/sys/class/infiniband/kl_%s0/ports/1/state", provider);
	for (int i = 0; i < 100 * kl_scale(); i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			if (!fgets(state, sizeof(state), f))
				state[0] = 0;
			fclose(f);
			if (strstr(state, "ACTIVE"))
				return;
		}
		usleep(100 * 1000);
	}
	kl_fail("kl_%s0: port not ACTIVE after %d s (state '%s')", provider, 10 * kl_scale(), state);
}

static inline void bzc_link_delete(const char *provider)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rdma link delete kl_%s0", provider);
	bzc_link[0] = 0;
	KL_ASSERT(system(cmd) == 0, "'%s' failed", cmd);
}

/* The IPv4 address in environment variable var (set by the agent) and port as a struct bzc_addr. */
static inline struct bzc_addr bzc_env_addr(const char *var, __u16 port)
{
	const char *a = getenv(var);
	struct bzc_addr out = { .family = AF_INET, .port = htons(port) };

	KL_ASSERT(a && *a, "%s unset: the agent gave this guest no such address", var);
	KL_ASSERT(inet_pton(AF_INET, a, out.addr) == 1, "%s '%s' is not an IPv4 address", var, a);
	return out;
}

/* eth0's own address (KL_ADDR). */
#define bzc_my_addr(port)	bzc_env_addr("KL_ADDR", port)
/* The other guest's eth0 address (KL_PEER): two-guest tests only. */
#define bzc_peer_addr(port)	bzc_env_addr("KL_PEER", port)

static inline void bzc_prep_listen(struct io_uring *ring, int fd, __u16 port, __u32 backlog)
{
	struct bzc_cmd_listen l = { .addr = bzc_my_addr(port), .backlog = backlog };

	bzc_prep(ring, fd, BZC_U_CMD_LISTEN, &l, sizeof(l));
}

static inline void bzc_prep_accept(struct io_uring *ring, int fd, int listen_fd, __u64 user_data)
{
	struct bzc_cmd_accept a = { .listen_fd = listen_fd };

	bzc_prep(ring, fd, BZC_U_CMD_ACCEPT, &a, sizeof(a))->user_data = user_data;
}

static inline void bzc_prep_connect(struct io_uring *ring, int fd, struct bzc_addr dst, __u64 user_data)
{
	struct bzc_cmd_connect c = { .dst = dst, .timeout_ms = 2000 * kl_scale() };

	bzc_prep(ring, fd, BZC_U_CMD_CONNECT, &c, sizeof(c))->user_data = user_data;
}

static inline void bzc_prep_disconnect(struct io_uring *ring, int fd, __u64 user_data)
{
	struct bzc_cmd_disconnect d = { 0 };

	bzc_prep(ring, fd, BZC_U_CMD_DISCONNECT, &d, sizeof(d))->user_data = user_data;
}

/* EVENT with these flags (0 but to test their refusal). */
static inline void bzc_prep_event(struct io_uring *ring, int fd, __u32 flags, __u64 user_data)
{
	struct bzc_cmd_event e = { .flags = flags };

	bzc_prep(ring, fd, BZC_U_CMD_EVENT, &e, sizeof(e))->user_data = user_data;
}

/* Wait at most the lab's scaled bound for one CQE; a hang is a failure, named. */
static inline struct kl_cqe bzc_wait(struct io_uring *ring, const char *what)
{
	struct kl_cqe c;
	int ret = kl_wait_timeout(ring, 15000 * kl_scale(), &c);

	KL_ASSERT(ret == 0, "%s: no completion within %d s (%s)", what, 15 * kl_scale(), strerror(-ret));
	return c;
}

/* How many lines `rdma resource show <what>` prints (0: none of that resource). */
static inline int bzc_rdma_res(const char *what)
{
	char cmd[96], line[512];
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "rdma resource show %s 2>&1", what);
	p = popen(cmd, "r");
	KL_ASSERT(p, "popen %s", cmd);
	while (fgets(line, sizeof(line), p))
		if (line[0] != '\n')
			n++;
	pclose(p);
	return n;
}

/*
 * A connection to this guest's own address: *lf listens, *af accepts, *kf
 * connects; all three asserted. The ring needs room for two SQEs.
 */
static inline void bzc_connect_self(struct io_uring *ring, int *lf, int *af, int *kf)
{
	struct kl_cqe c;

	*lf = bzc_open();
	*af = bzc_open();
	*kf = bzc_open();
	bzc_prep_listen(ring, *lf, BZC_PORT, 4);
	KL_EXPECT_EQ(bzc_run(ring), 0, "LISTEN on KL_ADDR");
	bzc_prep_accept(ring, *af, *lf, 'A');
	bzc_prep_connect(ring, *kf, bzc_my_addr(BZC_PORT), 'C');
	KL_EXPECT_EQ(io_uring_submit(ring), 2, "submit ACCEPT and CONNECT");
	for (int i = 0; i < 2; i++) {
		c = bzc_wait(ring, "ACCEPT and CONNECT");
		KL_EXPECT_EQ(c.res, 0, c.user_data == 'A' ? "ACCEPT" : "CONNECT");
	}
}

/* ---- regions and data ---- */

#include <sys/mman.h>

/* REG [buf, buf + len) on a connected file; returns cqe->res (the region id, or -errno). */
static inline int bzc_reg(struct io_uring *ring, int fd, const void *buf, __u64 len, __u32 access)
{
	struct bzc_cmd_reg r = { .addr = (__u64)(uintptr_t)buf, .len = len, .access = access };
	struct kl_cqe c;

	bzc_prep(ring, fd, BZC_U_CMD_REG, &r, sizeof(r));
	io_uring_submit(ring);
	c = bzc_wait(ring, "REG");
	return c.res;
}

static inline int bzc_dereg(struct io_uring *ring, int fd, __u32 region)
{
	struct bzc_cmd_dereg d = { .region = region };
	struct kl_cqe c;

	bzc_prep(ring, fd, BZC_U_CMD_DEREG, &d, sizeof(d));
	io_uring_submit(ring);
	c = bzc_wait(ring, "DEREG");
	return c.res;
}

static inline void bzc_prep_rw(struct io_uring *ring, int fd, __u32 op, const void *buf, __u64 remote_off,
			       __u32 len, __u32 region, __u64 user_data)
{
	struct bzc_cmd_rw rw = {
		.addr = (__u64)(uintptr_t)buf, .remote_off = remote_off, .len = len, .region = region,
	};

	bzc_prep(ring, fd, op, &rw, sizeof(rw))->user_data = user_data;
}

/* One WRITE or READ, waited for; returns cqe->res. */
static inline int bzc_rw(struct io_uring *ring, int fd, __u32 op, const void *buf, __u64 remote_off,
			 __u32 len, __u32 region)
{
	bzc_prep_rw(ring, fd, op, buf, remote_off, len, region, op);
	io_uring_submit(ring);
	return bzc_wait(ring, op == BZC_U_CMD_WRITE ? "WRITE" : "READ").res;
}

/* What bzc_queue_outstanding() REGs: 33 fast-registration MRs over siw, 17 over rxe. */
#define BZC_MORE	(32 << 20)

/*
 * Queue what the fault tests leave in flight, on a connection to this guest's own address
 * (bzc_connect_self()) with region 1 of at least 16 MiB registered on *a*: 16 WRITEs and 16
 * READs of 1 MiB on *k* between buf (16 MiB) and the region's first 16 MiB, an ACCEPT on a
 * new file that nobody will pair (returned), and a REG of more (BZC_MORE) on *a*, whose MR
 * registrations (in batches) queue behind the WRITEs and READs in the send queue, so what
 * cuts them may find the REG still registering. Not submitted: 34 SQEs, the ring needs room
 * for them.
 */
static inline int bzc_queue_outstanding(struct io_uring *ring, int l, int a, int k,
					unsigned char *buf, unsigned char *more)
{
	struct bzc_cmd_reg r = { .addr = (__u64)(uintptr_t)more, .len = BZC_MORE,
				 .access = BZC_ACCESS_REMOTE_READ };
	int w = bzc_open();

	bzc_prep_accept(ring, w, l, 'A');
	for (int i = 0; i < 16; i++) {
		bzc_prep_rw(ring, k, BZC_U_CMD_WRITE, buf + ((size_t)i << 20), (__u64)i << 20, 1 << 20, 1, 'W');
		bzc_prep_rw(ring, k, BZC_U_CMD_READ, buf + ((size_t)i << 20), (__u64)i << 20, 1 << 20, 1, 'R');
	}
	bzc_prep(ring, a, BZC_U_CMD_REG, &r, sizeof(r));
	return w;
}

/* Anonymous memory, never shared with anything but the device. */
static inline unsigned char *bzc_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	KL_ASSERT(p != MAP_FAILED, "mmap %zu: %s", len, strerror(errno));
	return p;
}

/* A pattern both sides can compute: byte i of stream seed. */
static inline unsigned char bzc_byte(unsigned int seed, size_t i)
{
	__u32 x = (__u32)(i >> 2) * 2654435761u ^ seed * 40503u;

	x ^= x >> 15;
	return (unsigned char)(x >> (8 * (i & 3)));
}

static inline void bzc_fill(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = bzc_byte(seed, i);
}

/* The first byte of p that is not stream seed, or -1: a mismatch is named by its offset. */
static inline long long bzc_check(const unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != bzc_byte(seed, i))
			return (long long)i;
	return -1;
}

/* VmPin of this process in kB (pages pinned long-term against RLIMIT_MEMLOCK). */
static inline long bzc_vmpin_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	KL_ASSERT(f, "/proc/self/status: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	KL_ASSERT(kb >= 0, "no VmPin in /proc/self/status");
	return kb;
}

/*
 * Keep a stream of WRITEs of chunk bytes from buf to region 1 of the peer (of region_len
 * bytes, round robin) at depth in flight on connection f, while go: user_data is each one's
 * number. *submitted and *inflight count them.
 */
static inline void bzc_keep_writing(struct io_uring *ring, int f, const void *buf, __u32 chunk,
				    __u64 region_len, int depth, int go, int max, int *submitted,
				    int *inflight)
{
	while (*inflight < depth && go && *submitted < max) {
		bzc_prep_rw(ring, f, BZC_U_CMD_WRITE, buf, (__u64)(*submitted % (region_len / chunk)) * chunk,
			    chunk, 1, *submitted);
		KL_ASSERT(io_uring_submit(ring) == 1, "a: submit WRITE %d", *submitted);
		(*submitted)++;
		(*inflight)++;
	}
}

/*
 * Over siw (TCP) a dead link or peer shows only once TCP gives up: tcp_retries2 4 for the
 * test (seconds, not the default's quarter hour), the old value back at exit.
 */
#define BZC_RETRIES2	"/proc/sys/net/ipv4/tcp_retries2"
static char bzc_retries2[32];

static inline void bzc_set_retries2(const char *v)
{
	FILE *t = fopen(BZC_RETRIES2, "w");

	KL_ASSERT(t && fputs(v, t) >= 0 && !fclose(t), BZC_RETRIES2 ": %s", strerror(errno));
}

static inline void bzc_restore_retries2(void)
{
	if (bzc_retries2[0])
		bzc_set_retries2(bzc_retries2);
}

static inline void bzc_short_tcp_retries(const char *prov)
{
	FILE *t;

	if (strcmp(prov, "siw"))
		return;
	t = fopen(BZC_RETRIES2, "r");
	KL_ASSERT(t && fgets(bzc_retries2, sizeof(bzc_retries2), t), BZC_RETRIES2 ": %s", strerror(errno));
	fclose(t);
	atexit(bzc_restore_retries2);
	bzc_set_retries2("4\n");
}

/* ---- two guests (a suite with "network": "pair"; harness/pair.ts holds the barriers) ---- */

#include <dirent.h>
#include <poll.h>

static int bzc_ctl_fd = -1;

/* The kl.ctl virtio port of this guest, opened once. */
static inline int bzc_ctl(void)
{
	char path[300], name[32];
	struct dirent *d;
	DIR *dir;

	if (bzc_ctl_fd >= 0)
		return bzc_ctl_fd;
	dir = opendir("/sys/class/virtio-ports");
	KL_ASSERT(dir, "no /sys/class/virtio-ports: this guest runs alone");
	while ((d = readdir(dir))) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && !strncmp(name, "kl.ctl", 6) && (name[6] == '\n' || !name[6])) {
			snprintf(path, sizeof(path), "/dev/%s", d->d_name);
			bzc_ctl_fd = open(path, O_RDWR | O_CLOEXEC);
		}
		fclose(f);
	}
	closedir(dir);
	KL_ASSERT(bzc_ctl_fd >= 0, "no kl.ctl port: this guest runs alone");
	return bzc_ctl_fd;
}

/*
 * Write @out (a line, without its newline) to kl.ctl and read the host's lines until one
 * is @ok (returns 0) or starts with @bad (returns 1, the rest of that line in @why),
 * within @secs (scaled); -1 after that. Lines for other requests are skipped.
 */
static inline int bzc_ctl_ask(const char *out, const char *ok, const char *bad, int secs,
			      char *why, size_t whylen)
{
	long long end = kl_now_ms() + 1000LL * secs * kl_scale();
	int fd = bzc_ctl();
	char buf[512];
	size_t len = 0;

	KL_ASSERT(dprintf(fd, "%s\n", out) == (int)strlen(out) + 1, "%s: write kl.ctl: %s", out,
		  strerror(errno));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - kl_now_ms();
		char *nl;
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)(left < 1000 ? left : 1000)) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			continue;
		len += n;
		buf[len] = 0;
		while ((nl = strchr(buf, '\n'))) {
			*nl = 0;
			if (!strcmp(buf, ok))
				return 0;
			if (!strncmp(buf, bad, strlen(bad))) {
				snprintf(why, whylen, "%s", buf + strlen(bad));
				return 1;
			}
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			len = 0;
	}
}

/* "<verb> <suite>/<test><rest>" into @s */
static inline void bzc_ctl_line(char *s, size_t n, const char *verb, const char *rest)
{
	const char *suite = getenv("KL_SUITE"), *test = getenv("KL_TEST");

	KL_ASSERT(suite && test, "KL_SUITE/KL_TEST unset");
	snprintf(s, n, "%s %s/%s%s", verb, suite, test, rest);
}

/*
 * Wait until the other guest reaches the same barrier of this test, at most @secs
 * (scaled); the other guest's end fails us.
 */
static inline void bzc_barrier_within(const char *tag, int secs)
{
	char out[400], ok[400], gone[400], rest[80], why[8];
	int ret;

	snprintf(rest, sizeof(rest), " %s", tag);
	bzc_ctl_line(out, sizeof(out), "barrier", rest);
	bzc_ctl_line(ok, sizeof(ok), "go", rest);
	bzc_ctl_line(gone, sizeof(gone), "gone", rest);
	ret = bzc_ctl_ask(out, ok, gone, secs, why, sizeof(why));
	KL_ASSERT(ret >= 0, "barrier %s: the other guest did not get there within %d s", tag, secs * kl_scale());
	KL_ASSERT(ret == 0, "barrier %s: the other guest ended", tag);
}

static inline void bzc_barrier(const char *tag)
{
	bzc_barrier_within(tag, 60);
}

/* Ask the host for @req ("link down", "link up": this guest's cable) and wait for its "ok". */
static inline void bzc_ctl_request(const char *req)
{
	char out[400], ok[400], bad[400], why[256];
	int ret;

	bzc_ctl_line(out, sizeof(out), req, "");
	bzc_ctl_line(ok, sizeof(ok), req, " ok");
	bzc_ctl_line(bad, sizeof(bad), req, " error ");
	ret = bzc_ctl_ask(out, ok, bad, 30, why, sizeof(why));
	KL_ASSERT(ret >= 0, "the host did not answer '%s' within %d s", req, 30 * kl_scale());
	KL_ASSERT(ret == 0, "the host refused '%s': %s", req, why);
}

/*
 * The start of every two-guest test over provider (rxe or siw): the role from KL_ROLE, the
 * device, *ring (8 entries) and the connection: b listens on its address and ACCEPTs on *fp,
 * a CONNECTs *fp to b, each asserted. *is_b says which guest this is; returns b's listener
 * (-1 on a).
 */
static inline void bzc_leave(void);

static inline int bzc_pair_connect(const char *prov, struct io_uring *ring, int *fp, int *is_b)
{
	const char *role = getenv("KL_ROLE");
	struct kl_cqe c;
	int l = -1;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "provider '%s': rxe or siw", prov);
	KL_ASSERT(role && (!strcmp(role, "a") || !strcmp(role, "b")), "KL_ROLE '%s': a two-guest test", role ? role : "");
	atexit(bzc_leave);
	bzc_link_add(prov);
	kl_ring_init(ring, 8, BZC_RING);
	*fp = bzc_open();
	*is_b = !strcmp(role, "b");
	if (*is_b) {
		l = bzc_open();
		bzc_prep_listen(ring, l, BZC_PORT, 1);
		KL_EXPECT_EQ(bzc_run(ring), 0, "b: LISTEN on its address");
		bzc_prep_accept(ring, *fp, l, 'A');
		KL_EXPECT_EQ(io_uring_submit(ring), 1, "b: submit ACCEPT");
		bzc_barrier("listening");
		c = bzc_wait(ring, "b: ACCEPT");
		KL_EXPECT_EQ(c.res, 0, "b: ACCEPT of a's connection");
	} else {
		bzc_barrier("listening");
		bzc_prep_connect(ring, *fp, bzc_peer_addr(BZC_PORT), 'C');
		io_uring_submit(ring);
		c = bzc_wait(ring, "a: CONNECT to b");
		KL_EXPECT_EQ(c.res, 0, "a: CONNECT to b");
	}
	return l;
}

/* At exit: this test is over on this guest, so the other stops waiting at its barriers. */
static inline void bzc_leave(void)
{
	const char *suite = getenv("KL_SUITE"), *test = getenv("KL_TEST");
	char line[400];

	if (bzc_ctl_fd < 0 || !suite || !test)
		return;
	snprintf(line, sizeof(line), "leave %s/%s\n", suite, test);
	if (write(bzc_ctl_fd, line, strlen(line)) < 0)
		fprintf(stderr, "# leave: %s\n", strerror(errno));
}

#endif
