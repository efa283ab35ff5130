// SPDX-License-Identifier: GPL-2.0
/*
 * IOSQE_IO_DRAIN and a fused pair: the drain sequence counts the secondary
 * SQE the primary took from the ring, so a drained pair waits for exactly
 * the requests submitted before it and then runs (before the fix it waited
 * for one CQE too many, its secondary's, and sat on the defer list until
 * the ring was closed). On a ring of its own (the queue ring's idle FETCH
 * commands would hold any drain back), behind a 100 ms TIMEOUT:
 * - the primary has IOSQE_IO_DRAIN;
 * - the primary heads a link whose next member, a NOP, has IOSQE_IO_DRAIN
 *   (the whole link is drained);
 * - the pair follows a link with a drained member (drained as the request
 *   after that link).
 * In each, every CQE arrives, the pair's only after the TIMEOUT's, the
 * secondary's before the primary's, and the client (a forked process, so a
 * failing server exits cleanly) reads the file's bytes the secondary put in
 * the request's buffer.
 */
#include "fused_lib.h"

#define LEN	(8U << 10)
#define UD_TMO	(18ULL << 32)
#define UD_NOP	(19ULL << 32)
#define MAX_CQES 5

enum drain_case { PRIMARY_DRAINED, LINK_MEMBER_DRAINED, AFTER_DRAINED_LINK, NR_CASES };

static const char *const case_name[NR_CASES] = {
	"primary with IOSQE_IO_DRAIN",
	"primary heading a link with a drained NOP",
	"pair after a link with a drained member",
};

static struct __kernel_timespec tmo = { .tv_nsec = 100000000 };

static struct io_uring_sqe *get_sqe(struct io_uring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);

	if (!sqe)
		kl_fail("no SQE left on the test's ring");
	return sqe;
}

/* Queue the case's SQEs on @r; returns how many CQEs they make. */
static int queue_case(struct io_uring *r, enum drain_case k, int cdev_fd,
		      unsigned int tag, int fd, off_t off)
{
	struct io_uring_sqe *sqe, *prim, *sec;
	int nr = 3;

	sqe = get_sqe(r);
	io_uring_prep_timeout(sqe, &tmo, 0, 0);
	sqe->user_data = UD_TMO;
	if (k == AFTER_DRAINED_LINK) {
		/* TIMEOUT -> NOP(DRAIN): the NOP drains the link's head too */
		sqe->flags |= IOSQE_IO_HARDLINK;
		sqe = get_sqe(r);
		io_uring_prep_nop(sqe);
		sqe->flags |= IOSQE_IO_DRAIN;
		sqe->user_data = UD_NOP;
		nr++;
	}
	prim = get_sqe(r);
	sec = get_sqe(r);
	fu_prep_primary(prim, cdev_fd, tag, FU_UD_PRIM | tag);
	fu_prep_secondary(sec, IORING_OP_READ, fd, 0, LEN, off, FU_UD_SEC | tag);
	if (k == PRIMARY_DRAINED)
		prim->flags |= IOSQE_IO_DRAIN;
	if (k == LINK_MEMBER_DRAINED) {
		prim->flags |= IOSQE_IO_LINK;
		sqe = get_sqe(r);
		io_uring_prep_nop(sqe);
		sqe->flags |= IOSQE_IO_DRAIN;
		sqe->user_data = UD_NOP;
		nr++;
	}
	return nr;
}

static int pos_of(const __u64 *kinds, int nr, __u64 kind)
{
	for (int i = 0; i < nr; i++)
		if (kinds[i] == kind)
			return i;
	return -1;
}

int main(void)
{
	__u64 kinds[MAX_CQES];
	int res[MAX_CQES];
	struct kl_ublk_dev d;
	struct io_uring r;
	int fd, ret, k;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	kl_ring_init(&r, 16, IORING_SETUP_FUSED_REQ); /* a ring of the test's own */
	/* case k's bytes: 0x40 + k */
	fd = kl_tmp_file(NR_CASES * LEN, kl_fill_byte, 0);
	for (k = 0; k < NR_CASES; k++) {
		unsigned char buf[LEN];

		memset(buf, 0x40 + k, LEN);
		if (pwrite(fd, buf, LEN, (off_t)k * LEN) != LEN)
			kl_fail("writing the file: %s", strerror(errno));
	}

	for (k = 0; k < NR_CASES; k++) {
		off_t off = (off_t)k * LEN;
		int nr, got, submitted, t, s, pr, n;
		unsigned int tag;
		pid_t pid;

		pid = kl_ublk_child(&d, false, off, LEN, 0x40 + k, true);
		tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, off);
		nr = queue_case(&r, k, d.cdev_fd, tag, fd, off);
		submitted = io_uring_submit(&r);
		KL_EXPECT_EQ(submitted, nr, "SQEs submitted");
		for (got = 0; got < nr; got++) {
			struct kl_cqe cqe;

			ret = kl_wait_timeout(&r, KL_TIMEOUT_MS, &cqe);
			if (ret)
				kl_fail("%s: CQE %d of %d never came (%s): the drained request is stuck",
					case_name[k], got + 1, nr, strerror(-ret));
			kinds[got] = KL_UBLK_UD_KIND(cqe.user_data);
			res[got] = cqe.res;
		}
		t = pos_of(kinds, nr, UD_TMO);
		s = pos_of(kinds, nr, FU_UD_SEC);
		pr = pos_of(kinds, nr, FU_UD_PRIM);
		n = pos_of(kinds, nr, UD_NOP);
		KL_ASSERT(t >= 0 && s >= 0 && pr >= 0 && (nr == 3 || n >= 0),
			  "%s: a CQE is missing or doubled", case_name[k]);
		KL_EXPECT_EQ(res[t], -ETIME, "TIMEOUT");
		KL_EXPECT_EQ(res[s], LEN, "secondary READ");
		KL_EXPECT_EQ(res[pr], 0, "primary");
		KL_ASSERT(t < s, "%s: the pair ran before the TIMEOUT it drains behind completed",
			  case_name[k]);
		KL_ASSERT(s < pr, "%s: primary's CQE before its secondary's", case_name[k]);
		if (k == LINK_MEMBER_DRAINED) {
			KL_EXPECT_EQ(res[n], 0, "linked NOP");
			KL_ASSERT(n > pr, "%s: the NOP linked after the primary completed first",
				  case_name[k]);
		}
		if (k == AFTER_DRAINED_LINK) {
			/* the hardlinked NOP runs after the TIMEOUT, whatever its result */
			KL_EXPECT_EQ(res[n], 0, "NOP hardlinked after the TIMEOUT");
			KL_ASSERT(t < n && n < s, "%s: the pair did not wait for the drained link",
				  case_name[k]);
		}
		kl_ublk_commit(&d, tag, LEN);
		ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
		if (ret)
			kl_fail("%s: the client %s (%d)", case_name[k],
				ret == 2 ? "read other bytes than the file's" : "failed", ret);
		kl_info("%s: ok", case_name[k]);
	}
	io_uring_queue_exit(&r);
	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
