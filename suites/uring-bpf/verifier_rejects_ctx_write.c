// SPDX-License-Identifier: GPL-2.0
/*
 * The context is read-only and whole fields only: stores (immediate or
 * register) to any field, reads of the reserved bytes and narrow reads are
 * rejected at load time with the verifier's reason.
 */
#include "ubpf.h"

static void expect_reject(int fd, const char *what, const char *reason)
{
	if (fd >= 0)
		kl_fail("%s: loaded, want rejection", what);
	if (errno != EACCES && errno != EINVAL)
		kl_fail("%s: want EACCES/EINVAL, got %s", what, strerror(errno));
	if (!strstr(ubpf_log, reason))
		kl_fail("%s: verifier log lacks \"%s\":\n%s", what, reason, ubpf_log);
	kl_info("%s: rejected (%s): %s", what, strerror(errno), reason);
}

int main(void)
{
	int fd;

	close(ubpf_require());
	fd = UBPF_LOAD(I_LDX(BPF_W, R2, R1, UBPF_OFF_RES), I_RET(0));
	if (fd < 0)
		kl_fail("whole-field read rejected: %s\n%s", strerror(errno), ubpf_log);
	close(fd);

	expect_reject(UBPF_LOAD(I_ST_IMM(BPF_W, R1, UBPF_OFF_RES, 0), I_RET(0)),
		      "store imm to ctx->res", "invalid bpf_context access");
	expect_reject(UBPF_LOAD(I_MOV_IMM(R2, 1), I_STX(BPF_DW, R1, R2, UBPF_OFF_USER_DATA),
				I_RET(0)),
		      "store reg to ctx->user_data", "invalid bpf_context access");
	expect_reject(UBPF_LOAD(I_MOV_IMM(R2, 0), I_STX(BPF_B, R1, R2, UBPF_OFF_OPCODE),
				I_RET(0)),
		      "store to ctx->opcode", "invalid bpf_context access");
	expect_reject(UBPF_LOAD(I_LDX(BPF_B, R2, R1, UBPF_OFF_OPCODE + 1), I_RET(0)),
		      "read of ctx->resv", "invalid bpf_context access");
	expect_reject(UBPF_LOAD(I_LDX(BPF_B, R2, R1, UBPF_OFF_RES), I_RET(0)),
		      "narrow read of ctx->res", "invalid bpf_context access");
	expect_reject(UBPF_LOAD(I_LDX(BPF_W, R2, R1, 24), I_RET(0)),
		      "read past the context", "invalid bpf_context access");
	kl_pass();
}
