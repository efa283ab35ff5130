// SPDX-License-Identifier: GPL-2.0
/*
 * A program attaches only to IORING_SETUP_DEFER_TASKRUN rings that are not
 * IOPOLL (SQPOLL cannot be DEFER_TASKRUN): plain, SINGLE_ISSUER-only, SQPOLL
 * and DEFER_TASKRUN|IOPOLL rings refuse with -EINVAL. Only programs of the
 * io_uring CQE type are accepted, one at a time; the argument must be a
 * pointer and nr_args 1. Attaching disables IOSQE_IO_DRAIN like
 * IOSQE_CQE_SKIP_SUCCESS does.
 */
#include "ubpf.h"

static void refuse(unsigned int flags, const char *what, int prog)
{
	struct io_uring ring;
	int ret = ubpf_ring(&ring, 4, flags);

	/* every one of these setups exists in 6.12 (the guest runs as root) */
	if (ret)
		kl_fail("%s: ring setup failed (%s), the refusal cannot be checked", what,
			strerror(-ret));
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), -EINVAL, what);
	io_uring_queue_exit(&ring);
}

static int socket_filter_prog(void)
{
	const struct bpf_insn insns[] = { I_RET(0) };
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = 2;
	attr.license = (uintptr_t)"GPL";
	return syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

int main(void)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int prog = ubpf_require(), other, ret;
	__s32 fd;

	refuse(0, "plain ring", prog);
	refuse(IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER without DEFER_TASKRUN", prog);
	refuse(IORING_SETUP_SQPOLL, "SQPOLL ring", prog);
	refuse(IORING_SETUP_SQPOLL | IORING_SETUP_SINGLE_ISSUER, "SQPOLL|SINGLE_ISSUER ring", prog);
	refuse(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_IOPOLL,
	       "DEFER_TASKRUN|IOPOLL ring", prog);

	ubpf_defer_ring(&ring, 8);
	other = socket_filter_prog();
	if (other >= 0)
		KL_EXPECT_EQ(ubpf_attach(&ring, other), -EINVAL, "socket filter program");
	KL_EXPECT_EQ(ubpf_attach(&ring, ring.ring_fd), -EINVAL, "fd that is not a program");
	KL_EXPECT_EQ(ubpf_attach(&ring, 1000), -EBADF, "closed fd");
	fd = prog;
	KL_EXPECT_EQ(ubpf_register(ring.ring_fd, IORING_REGISTER_CQE_BPF, &fd, 2), -EINVAL,
		     "nr_args 2");
	KL_EXPECT_EQ(ubpf_register(ring.ring_fd, IORING_REGISTER_CQE_BPF, NULL, 1), -EINVAL,
		     "NULL arg");
	KL_EXPECT_EQ(ubpf_register(ring.ring_fd, IORING_REGISTER_CQE_BPF, (void *)8, 1), -EFAULT,
		     "bad pointer");
	KL_EXPECT_EQ(ubpf_register(ring.ring_fd, IORING_UNREGISTER_CQE_BPF, &fd, 1), -EINVAL,
		     "unregister with an argument");
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "DEFER_TASKRUN ring");
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), -EBUSY, "second program");

	sqe = ubpf_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_IO_DRAIN;
	io_uring_submit(&ring);
	ret = io_uring_wait_cqe(&ring, &cqe);
	KL_EXPECT_EQ(ret, 0, "wait");
	KL_EXPECT_EQ(cqe->res, -EOPNOTSUPP, "IOSQE_IO_DRAIN with a program attached");
	io_uring_queue_exit(&ring);
	kl_pass();
}
