// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_REGISTER_PROBE reports IORING_OP_FUSED_CMD (96) as supported and
 * the opcode slots between the last 6.12 opcode and it as unsupported; the
 * feature bit is advertised.
 */
#include "fused_lib.h"

int main(void)
{
	struct io_uring_probe *probe;
	struct io_uring ring;
	int ret, op;

	fu_require_fused();
	ret = io_uring_queue_init(4, &ring, IORING_SETUP_FUSED_REQ);
	if (ret)
		kl_fail("ring with IORING_SETUP_FUSED_REQ: want 0, got %s",
			strerror(-ret));
	probe = calloc(1, sizeof(*probe) + 256 * sizeof(probe->ops[0]));
	ret = io_uring_register_probe(&ring, probe, 256);
	if (ret)
		kl_fail("IORING_REGISTER_PROBE: %s", strerror(-ret));
	if (probe->last_op < IORING_OP_FUSED_CMD)
		kl_fail("probe last_op %u, want >= %u", probe->last_op,
			IORING_OP_FUSED_CMD);
	if (!(probe->ops[IORING_OP_FUSED_CMD].flags & IO_URING_OP_SUPPORTED))
		kl_fail("IORING_OP_FUSED_CMD (%u) not reported supported",
			IORING_OP_FUSED_CMD);
	if (probe->last_op != IORING_OP_FUSED_CMD)
		kl_fail("probe last_op %u, want %u: no set of the lab adds opcodes past FUSED_CMD",
			probe->last_op, IORING_OP_FUSED_CMD);
	/* 58 = first opcode after 6.12's IORING_OP_LISTEN: the filler slots */
	for (op = 58; op < IORING_OP_FUSED_CMD; op++) {
		if (probe->ops[op].flags & IO_URING_OP_SUPPORTED)
			kl_fail("unused opcode %d reported supported", op);
	}
	if (probe->ops[57].flags & IO_URING_OP_SUPPORTED)
		kl_info("IORING_OP_LISTEN supported");
	kl_info("last_op %u, FUSED_CMD supported", probe->last_op);
	io_uring_queue_exit(&ring);
	kl_pass();
}
