// SPDX-License-Identifier: GPL-2.0
/* io_uring is present; list the opcodes the kernel supports (IORING_REGISTER_PROBE). */
#include "kl_uring.h"
#include "kl_uapi.h"

int main(void)
{
	struct io_uring ring;
	struct io_uring_probe *probe;
	int supported = 0;

	kl_ring_init(&ring, 4, 0);
	probe = io_uring_get_probe_ring(&ring);
	if (!probe)
		kl_fail("IORING_REGISTER_PROBE failed");
	kl_info("last opcode: %u", probe->last_op);
	for (int op = 0; op <= probe->last_op; op++) {
		if (!io_uring_opcode_supported(probe, op))
			continue;
		supported++;
		printf("%d ", op);
	}
	printf("\n");
	kl_info("%d opcodes supported; fused cmd (%d): %s", supported, IORING_OP_FUSED_CMD,
		probe->last_op >= IORING_OP_FUSED_CMD &&
		io_uring_opcode_supported(probe, IORING_OP_FUSED_CMD) ? "yes" : "no");
	KL_ASSERT(io_uring_opcode_supported(probe, IORING_OP_NOP), "NOP not supported");
	KL_ASSERT(io_uring_opcode_supported(probe, IORING_OP_READ_FIXED), "READ_FIXED not supported");
	KL_ASSERT(io_uring_opcode_supported(probe, IORING_OP_URING_CMD), "URING_CMD not supported");
	io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	kl_pass();
}
