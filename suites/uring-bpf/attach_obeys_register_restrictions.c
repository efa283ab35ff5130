// SPDX-License-Identifier: GPL-2.0
/*
 * A ring locked down with IORING_REGISTER_RESTRICTIONS (review T3) lets a
 * program be attached or detached only if the restrictions allow that
 * register opcode: IORING_REGISTER_CQE_BPF (64) not allowed is -EACCES and
 * attaches nothing; allowed, the attach works (its skip-all program drops
 * the NOPs' CQEs) while IORING_UNREGISTER_CQE_BPF (65), not allowed, is
 * -EACCES and leaves the program attached. Each opcode is its own bit: 64
 * and 65 sit past upstream's last register opcode, so IORING_REGISTER_LAST
 * must have grown to cover them.
 */
#include "ubpf.h"

static void restricted_ring(struct io_uring *ring, __u8 allowed_register_op)
{
	struct io_uring_restriction res[2];
	int ret;

	ret = ubpf_ring(ring, 16, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_R_DISABLED);
	if (ret)
		kl_fail("DEFER_TASKRUN|R_DISABLED ring: %s", strerror(-ret));
	memset(res, 0, sizeof(res));
	res[0].opcode = IORING_RESTRICTION_REGISTER_OP;
	res[0].register_op = allowed_register_op;
	res[1].opcode = IORING_RESTRICTION_SQE_OP;
	res[1].sqe_op = IORING_OP_NOP;
	ret = ubpf_register(ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, 2);
	KL_EXPECT_EQ(ret, 0, "IORING_REGISTER_RESTRICTIONS allowing one register opcode and NOP");
	ret = ubpf_register(ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	KL_EXPECT_EQ(ret, 0, "IORING_REGISTER_ENABLE_RINGS");
}

int main(void)
{
	struct io_uring ring;
	int prog;

	close(ubpf_require());
	prog = UBPF_LOAD(I_RET(UBPF_SKIP));
	if (prog < 0)
		kl_fail("load skip-all program: %s\n%s", strerror(errno), ubpf_log);

	/* only detach allowed */
	restricted_ring(&ring, IORING_UNREGISTER_CQE_BPF);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), -EACCES,
		     "attach on a ring whose restrictions allow only IORING_UNREGISTER_CQE_BPF");
	KL_EXPECT_EQ(ubpf_detach(&ring), -ENXIO,
		     "detach (allowed) after the refused attach: nothing may be attached");
	KL_EXPECT_EQ(ubpf_nops(&ring, 8), 8, "CQEs of NOPs after the refused attach");
	io_uring_queue_exit(&ring);

	/* only attach allowed */
	restricted_ring(&ring, IORING_REGISTER_CQE_BPF);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0,
		     "attach on a ring whose restrictions allow IORING_REGISTER_CQE_BPF");
	KL_EXPECT_EQ(ubpf_nops(&ring, 8), 0, "CQEs of NOPs with the skip-all program attached");
	KL_EXPECT_EQ(ubpf_detach(&ring), -EACCES,
		     "detach on a ring whose restrictions allow only IORING_REGISTER_CQE_BPF");
	KL_EXPECT_EQ(ubpf_nops(&ring, 8), 0, "CQEs of NOPs after the refused detach (program must stay)");
	io_uring_queue_exit(&ring);
	kl_pass();
}
