// SPDX-License-Identifier: GPL-2.0
/*
 * When the request for a fused command's secondary can't be allocated, the
 * primary fails with -ENOMEM; the secondary SQE must still be consumed and
 * cancelled, never left at the SQ head to be submitted next as a plain
 * request (review B1). Here the secondary is a READ from /dev/zero whose
 * ->addr (a buffer offset for a secondary) is a valid user address: run on
 * its own, it would zero that memory.
 *
 * The allocation is made to fail with failslab restricted to the task
 * (make-it-fail) and to allocations whose stack holds
 * io_init_secondary_req(), and with the ring's request cache empty at the
 * secondary: a fresh ring takes requests from the slab 8 at a time, so
 * k NOPs ahead of the pair make the secondary the one to refill it for some
 * k < 8 (for the other k the secondary's own prep fails, which is no
 * concern here). /proc/self/fail-nth alone can't do it: the refill tries a
 * bulk allocation, then a single one, and fail-nth fails only one call.
 */
#include "fused_lib.h"
#include <ctype.h>

#define FS "/sys/kernel/debug/failslab/"

static void put(const char *file, const char *val)
{
	int fd = open(file, O_WRONLY);

	if (fd < 0)
		kl_fail("open %s: %s", file, strerror(errno));
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		kl_fail("write %s to %s: %s", val, file, strerror(errno));
	close(fd);
}

/* [start, end) of a kernel text symbol: up to the next symbol's address. */
static void text_range(const char *name, unsigned long *start, unsigned long *end)
{
	unsigned long a, s = 0, e = ~0UL;
	char line[512], sym[256], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		kl_fail("open /proc/kallsyms: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s", &a, &type, sym) == 3 &&
		    tolower(type) == 't' && !strcmp(sym, name))
			s = a;
	}
	if (!s)
		kl_fail("%s not in /proc/kallsyms (or addresses hidden)", name);
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx", &a) == 1 && a > s && a < e)
			e = a;
	}
	fclose(f);
	*start = s;
	*end = e;
}

static void inject(bool on)
{
	put("/proc/thread-self/make-it-fail", on ? "1" : "0");
}

int main(void)
{
	unsigned long start, end;
	unsigned int k, hits = 0;
	unsigned char *victim;
	char buf[64];
	int zero, ret;

	fu_require_fused();
	if (access(FS "require-start", W_OK))
		kl_skip("kernel lacks failslab with a stack filter (" FS "require-start: %s)",
			strerror(errno));
	text_range("io_init_secondary_req", &start, &end);
	put(FS "probability", "0");
	put(FS "interval", "1");
	put(FS "times", "-1");
	put(FS "space", "0");
	put(FS "verbose", "0");
	put(FS "task-filter", "Y");
	put(FS "ignore-gfp-wait", "N");
	put(FS "stacktrace-depth", "32");
	snprintf(buf, sizeof(buf), "0x%lx", start);
	put(FS "require-start", buf);
	snprintf(buf, sizeof(buf), "0x%lx", end);
	put(FS "require-end", buf);
	put(FS "probability", "100");

	zero = open("/dev/zero", O_RDONLY);
	if (zero < 0)
		kl_fail("open /dev/zero: %s", strerror(errno));
	victim = malloc(4096);

	for (k = 0; k < 12; k++) {
		int pres = 1, sres = 1, submitted, n, i;
		struct io_uring_sqe *s;
		struct io_uring ring;
		unsigned int j;

		memset(victim, 0xa5, 4096);
		ret = io_uring_queue_init(32, &ring, IORING_SETUP_FUSED_REQ);
		if (ret)
			kl_fail("io_uring_setup(FUSED_REQ): %s", strerror(-ret));
		for (i = 0; i < (int)k; i++) {
			s = io_uring_get_sqe(&ring);
			io_uring_prep_nop(s);
			s->user_data = 100 + i;
		}
		fu_prep_primary(io_uring_get_sqe(&ring), zero, 0, 1);
		fu_prep_secondary(io_uring_get_sqe(&ring), IORING_OP_READ, zero,
				  (__u64)(uintptr_t)victim, 4096, 0, 2);
		inject(true);
		submitted = io_uring_submit(&ring);
		inject(false);
		/* whatever the first call left in the SQ ring, as an application would */
		ret = io_uring_submit(&ring);
		if (ret < 0)
			kl_fail("%u NOPs: second io_uring_enter: %s", k, strerror(-ret));
		for (n = 0; n < (int)k + 2; n++) {
			struct kl_cqe cqe;

			if (kl_wait_timeout(&ring, KL_TIMEOUT_MS, &cqe))
				kl_fail("%u NOPs: CQE %d of %u missing (primary %d, secondary %d)",
					k, n + 1, k + 2, pres, sres);
			if (cqe.user_data == 1)
				pres = cqe.res;
			else if (cqe.user_data == 2)
				sres = cqe.res;
		}
		io_uring_queue_exit(&ring);
		kl_info("%u NOPs: first submit %d, then %d; primary %d, secondary %d",
			k, submitted, ret, pres, sres);
		for (j = 0; j < 4096; j++)
			if (victim[j] != 0xa5)
				kl_fail("%u NOPs, primary %d: the secondary ran as a plain READ into its buffer offset taken as an address (byte %u zeroed, secondary res %d)",
					k, pres, j, sres);
		KL_EXPECT_EQ(submitted, (int)k + 2,
			     "SQEs consumed by the first io_uring_enter (the secondary's too)");
		/*
		 * With the request cache still holding one, the secondary gets
		 * its request and what fails is its own READ prep (its async
		 * data): it completes with -ENOMEM itself, as any request does.
		 */
		if (sres == -ENOMEM && pres == -ENOMEM)
			continue;
		KL_EXPECT_EQ(sres, -ECANCELED, "the secondary's CQE");
		if (pres == -ENOMEM)
			hits++;	/* its request could not be allocated */
	}
	put(FS "probability", "0");
	if (!hits)
		kl_fail("the secondary's allocation never failed (no primary -ENOMEM for 0..11 NOPs ahead)");
	kl_pass();
}
