// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: READ(8192 of a 4096-byte file) -> WRITE(4096) pairs where the
 * short read must not stop the chain.
 *
 *   bpf       - a CQE program returns CONTINUE for failed READs: one
 *               submission per chain, no CQE is acted upon.
 *   userspace - no program: the short read cancels the rest of the link,
 *               userspace resubmits it from the cancelled WRITE on.
 *
 * Cases: "pair" (chains of 1 pair) and "chain16" (16 pairs, 32 linked SQEs).
 * Also "nop32": batches of 32 NOPs with no program vs a program returning 0,
 * the cost of running a program per completion.
 * Prints one BENCH {json} line per case and mode (pairs or NOPs per second,
 * SAMPLES samples of at least SAMPLE_S seconds) and a summary line.
 */
#include "../uring-bpf/ubpf.h"
#include <math.h>

#define SAMPLES		7
#define SAMPLE_S	0.5
#define MAXK		16

static int in_fd, out_fd;
static char buf[8192];

static void queue_pair(struct io_uring *ring, int i, int read, int link_last)
{
	struct io_uring_sqe *sqe = ubpf_sqe(ring);

	if (read) {
		io_uring_prep_read(sqe, in_fd, buf, 8192, 0);
		sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = 2 * i;
	} else {
		io_uring_prep_write(sqe, out_fd, buf, 4096, (__u64)(i % 64) * 4096);
		if (link_last)
			sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = 2 * i + 1;
	}
}

/* Run chains of k pairs starting at SQE index @from (0..2k-1); returns CQEs seen. */
static int run_chain(struct io_uring *ring, int k, int from, int *first_cancel)
{
	struct io_uring_cqe *cqe;
	int s, want = 2 * k - from, got = 0, ret;

	for (s = from; s < 2 * k; s++)
		queue_pair(ring, s / 2, !(s & 1), s + 1 < 2 * k);
	ret = io_uring_submit_and_wait(ring, want);
	if (ret < 0)
		kl_fail("submit: %s", strerror(-ret));
	*first_cancel = 2 * k;
	while (got < want) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret)
			kl_fail("wait: %s", strerror(-ret));
		if (cqe->res == -ECANCELED) {
			if ((int)cqe->user_data < *first_cancel)
				*first_cancel = cqe->user_data;
		} else if (cqe->res < 0) {
			kl_fail("user_data %llu: %s", (unsigned long long)cqe->user_data,
				strerror(-cqe->res));
		} else if (!(cqe->user_data & 1) && cqe->res != 4096) {
			kl_fail("read: want 4096, got %d", cqe->res);
		}
		io_uring_cqe_seen(ring, cqe);
		got++;
	}
	return got;
}

static double sample_pairs(struct io_uring *ring, int k, int bpf)
{
	double t0 = ubpf_now(), t;
	long pairs = 0;

	do {
		int from = 0, cancel;

		for (;;) {
			run_chain(ring, k, from, &cancel);
			if (cancel >= 2 * k)
				break;
			if (bpf)
				kl_fail("a chain broke with the program attached (SQE %d)", cancel);
			from = cancel;	/* resubmit from the cancelled WRITE on */
		}
		pairs += k;
		t = ubpf_now() - t0;
	} while (t < SAMPLE_S);
	return pairs / t;
}

static double sample_nops(struct io_uring *ring)
{
	double t0 = ubpf_now(), t;
	long nops = 0;
	struct io_uring_cqe *cqe;
	int i;

	do {
		for (i = 0; i < 32; i++)
			io_uring_prep_nop(ubpf_sqe(ring));
		if (io_uring_submit_and_wait(ring, 32) < 0)
			kl_fail("submit nops");
		for (i = 0; i < 32; i++) {
			if (io_uring_wait_cqe(ring, &cqe))
				kl_fail("wait nop");
			io_uring_cqe_seen(ring, cqe);
		}
		nops += 32;
		t = ubpf_now() - t0;
	} while (t < SAMPLE_S);
	return nops / t;
}

static double mean(const double *x, int n)
{
	double s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += x[i];
	return s / n;
}

static double stddev(const double *x, int n)
{
	double m = mean(x, n), s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += (x[i] - m) * (x[i] - m);
	return n > 1 ? sqrt(s / (n - 1)) : 0;
}

static void emit(const char *cas, const char *mode, const char *metric, const double *x)
{
	char s[512];
	int i, o = 0;

	for (i = 0; i < SAMPLES; i++)
		o += snprintf(s + o, sizeof(s) - o, "%s%.1f", i ? "," : "", x[i]);
	printf("BENCH {\"bench\":\"uring-bpf\",\"case\":\"%s\",\"mode\":\"%s\",\"metric\":\"%s\","
	       "\"unit\":\"ops/s\",\"samples\":[%s],\"baseline\":\"%s\",\"higherIsBetter\":true}\n",
	       cas, mode, metric, s, strcmp(cas, "nop32") ? "userspace" : "no-program");
	fflush(stdout);
}

static void summary(const char *cas, const char *a, const double *x, const char *b,
		    const double *y)
{
	kl_info("%s: %s %.0f +- %.0f ops/s, %s %.0f +- %.0f ops/s, ratio %.2f", cas,
		a, mean(x, SAMPLES), stddev(x, SAMPLES), b, mean(y, SAMPLES),
		stddev(y, SAMPLES), mean(x, SAMPLES) / mean(y, SAMPLES));
}

int main(void)
{
	double bpf[SAMPLES], us[SAMPLES];
	char inpath[256], outpath[256];
	struct io_uring ring_bpf, ring_us;
	int prog, def, i, k;

	close(ubpf_require());
	prog = UBPF_ASM(
		I_MOV_IMM(R0, 0),
		I_LDX(BPF_W, R2, R1, UBPF_OFF_FLAGS),
		I_JMP_IMM(BPF_JSET, R2, UBPF_F_FAILED, TO(1)),
		I_EXIT(),
		UBPF_L(1),
		I_LDX(BPF_B, R3, R1, UBPF_OFF_OPCODE),
		I_JMP_IMM(BPF_JNE, R3, IORING_OP_READ, TO(2)),
		I_MOV_IMM(R0, UBPF_CONTINUE),
		UBPF_L(2),
		I_EXIT());
	def = UBPF_LOAD(I_RET(0));
	if (prog < 0 || def < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	in_fd = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out_fd = ubpf_out_file("out", outpath, sizeof(outpath));

	ubpf_defer_ring(&ring_bpf, 2 * MAXK);
	ubpf_defer_ring(&ring_us, 2 * MAXK);
	KL_EXPECT_EQ(ubpf_attach(&ring_bpf, prog), 0, "attach");

	for (k = 1; k <= MAXK; k += MAXK - 1) {
		const char *cas = k == 1 ? "pair" : "chain16";

		/* interleave the modes so that drift hits both */
		for (i = 0; i < SAMPLES; i++) {
			bpf[i] = sample_pairs(&ring_bpf, k, 1);
			us[i] = sample_pairs(&ring_us, k, 0);
		}
		emit(cas, "userspace", "pairs", us);
		emit(cas, "bpf", "pairs", bpf);
		summary(cas, "bpf", bpf, "userspace", us);
	}

	KL_EXPECT_EQ(ubpf_detach(&ring_bpf), 0, "detach");
	KL_EXPECT_EQ(ubpf_attach(&ring_bpf, def), 0, "attach default program");
	for (i = 0; i < SAMPLES; i++) {
		bpf[i] = sample_nops(&ring_bpf);
		us[i] = sample_nops(&ring_us);
	}
	emit("nop32", "no-program", "nops", us);
	emit("nop32", "program", "nops", bpf);
	summary("nop32", "program", bpf, "no-program", us);
	io_uring_queue_exit(&ring_bpf);
	io_uring_queue_exit(&ring_us);
	kl_pass();
}
