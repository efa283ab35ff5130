// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF_PROG_TYPE_IO_URING_CQE program written in C (clang -target bpf),
 * loaded by elf_program_loads.c with its own small ELF reader: no maps, no
 * relocations, so neither libbpf nor BTF is needed.
 *
 * Short READ: replace its result with 0x5151 and CONTINUE the link.
 */
#include <linux/types.h>

struct io_uring_cqe_bpf_ctx {	/* as in the kernel's <linux/io_uring.h> */
	__u64	user_data;
	__s32	res;
	__u32	len;
	__u32	flags;
	__u8	opcode;
	__u8	resv[3];
};

#define OP_READ			22	/* IORING_OP_READ */
#define F_FAILED		(1U << 2)
#define VERDICT_CONTINUE	(1U << 0)

static long (*bpf_io_uring_cqe_set_res)(struct io_uring_cqe_bpf_ctx *ctx, __s32 res) =
	(void *)256;

__attribute__((section("io_uring_cqe"), used))
int continue_short_reads(struct io_uring_cqe_bpf_ctx *ctx)
{
	if (ctx->opcode != OP_READ || !(ctx->flags & F_FAILED))
		return 0;
	if (ctx->res >= 0 && (__u32)ctx->res < ctx->len)
		bpf_io_uring_cqe_set_res(ctx, 0x5151);
	return VERDICT_CONTINUE;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
