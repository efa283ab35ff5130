// SPDX-License-Identifier: GPL-2.0
/*
 * Programs must terminate and return a verdict: an infinite loop, a loop
 * waiting for the request's result to change, and a return value outside the
 * verdict bits (0..7) are rejected at load time with the verifier's reason.
 * (A loop whose bound the verifier cannot see is also refused, at the 1M
 * instruction limit; not exercised here, it takes minutes on a debug kernel
 * under TCG.)
 */
#include "ubpf.h"

static void expect_reject(int fd, const char *what, const char *r1, const char *r2)
{
	if (fd >= 0)
		kl_fail("%s: loaded, want rejection", what);
	if (!strstr(ubpf_log, r1) && (!r2 || !strstr(ubpf_log, r2)))
		kl_fail("%s: verifier log lacks \"%s\"%s%s:\n%s", what, r1, r2 ? " or " : "",
			r2 ? r2 : "", ubpf_log);
	kl_info("%s: rejected (%s): %s", what, strerror(errno), strstr(ubpf_log, r1) ? r1 : r2);
}

int main(void)
{
	int fd;

	close(ubpf_require());
	expect_reject(UBPF_ASM(
			I_LDX(BPF_W, R2, R1, UBPF_OFF_RES),
			I_MOV_IMM(R0, 0),
			I_JMP32_IMM(BPF_JEQ, R2, 5, TO(2)),
			UBPF_L(1),
			I_JA(TO(1)),
			UBPF_L(2),
			I_EXIT()),
		      "jump to itself unless res == 5", "infinite loop detected", "back-edge");
	expect_reject(UBPF_ASM(
			I_LDX(BPF_W, R2, R1, UBPF_OFF_RES),
			UBPF_L(1),
			I_JMP32_IMM(BPF_JNE, R2, 5, TO(1)),
			I_RET(0)),
		      "spin until res == 5", "infinite loop detected", "back-edge");
	expect_reject(UBPF_LOAD(I_RET(8)), "return 8", "should have been in", NULL);
	expect_reject(UBPF_LOAD(I_LDX(BPF_W, R0, R1, UBPF_OFF_RES), I_EXIT()),
		      "return the result", "should have been in", NULL);
	fd = UBPF_LOAD(I_RET(7));
	if (fd < 0)
		kl_fail("return 7 rejected: %s\n%s", strerror(errno), ubpf_log);
	close(fd);
	kl_pass();
}
