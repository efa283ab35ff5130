/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uring-bpf suite helpers: programs built from raw BPF instructions in C and
 * loaded with bpf(2) BPF_PROG_LOAD (no libbpf, no BTF, no ELF), rings set up
 * with SINGLE_ISSUER|DEFER_TASKRUN, attach/detach through io_uring_register(2).
 *
 * The numbers below are the lab's (kernel-patches/uring-bpf/README.md); when
 * the tested kernel's headers carry them, static asserts check they agree.
 */
#ifndef UBPF_H
#define UBPF_H

#include "kl_uapi.h"	/* kernel's <linux/io_uring.h> before liburing's copy */
#include <linux/bpf.h>
#include <liburing.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "kl_test.h"

#define UBPF_PROG_TYPE		48	/* BPF_PROG_TYPE_IO_URING_CQE */
#define UBPF_FUNC_SET_RES	256	/* BPF_FUNC_io_uring_cqe_set_res */

/* struct io_uring_cqe_bpf_ctx */
#define UBPF_OFF_USER_DATA	0	/* __u64 */
#define UBPF_OFF_RES		8	/* __s32 */
#define UBPF_OFF_LEN		12	/* __u32 */
#define UBPF_OFF_FLAGS		16	/* __u32 */
#define UBPF_OFF_OPCODE		20	/* __u8 */

#define UBPF_F_LINK		(1U << 0)
#define UBPF_F_HARDLINK		(1U << 1)
#define UBPF_F_FAILED		(1U << 2)
#define UBPF_F_CQE_SKIP		(1U << 3)

#define UBPF_DEFAULT		0
#define UBPF_CONTINUE		(1U << 0)
#define UBPF_BREAK		(1U << 1)
#define UBPF_SKIP		(1U << 2)

#ifdef IORING_CQE_BPF_VERDICT_MASK	/* tested kernel has the set */
_Static_assert(BPF_PROG_TYPE_IO_URING_CQE == UBPF_PROG_TYPE, "prog type");
_Static_assert(BPF_FUNC_io_uring_cqe_set_res == UBPF_FUNC_SET_RES, "helper");
_Static_assert(offsetof(struct io_uring_cqe_bpf_ctx, user_data) == UBPF_OFF_USER_DATA, "user_data");
_Static_assert(offsetof(struct io_uring_cqe_bpf_ctx, res) == UBPF_OFF_RES, "res");
_Static_assert(offsetof(struct io_uring_cqe_bpf_ctx, len) == UBPF_OFF_LEN, "len");
_Static_assert(offsetof(struct io_uring_cqe_bpf_ctx, flags) == UBPF_OFF_FLAGS, "flags");
_Static_assert(offsetof(struct io_uring_cqe_bpf_ctx, opcode) == UBPF_OFF_OPCODE, "opcode");
_Static_assert(IORING_CQE_BPF_F_FAILED == UBPF_F_FAILED, "F_FAILED");
_Static_assert(IORING_CQE_BPF_F_HARDLINK == UBPF_F_HARDLINK, "F_HARDLINK");
_Static_assert(IORING_CQE_BPF_CONTINUE == UBPF_CONTINUE, "CONTINUE");
_Static_assert(IORING_CQE_BPF_BREAK == UBPF_BREAK, "BREAK");
_Static_assert(IORING_CQE_BPF_SKIP == UBPF_SKIP, "SKIP");
#endif

/* ---- BPF instructions (eBPF encoding, see Documentation/bpf/standardization) ---- */
#define R0 0
#define R1 1
#define R2 2
#define R3 3
#define R6 6
#define R7 7
#define R10 10

#define I_MOV_IMM(d, v)	((struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = (d), .imm = (v) })
#define I_MOV_REG(d, s)	((struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = (d), .src_reg = (s) })
#define I_ALU_IMM(op, d, v) ((struct bpf_insn){ .code = BPF_ALU64 | (op) | BPF_K, .dst_reg = (d), .imm = (v) })
#define I_LDX(sz, d, s, o) ((struct bpf_insn){ .code = BPF_LDX | (sz) | BPF_MEM, .dst_reg = (d), .src_reg = (s), .off = (o) })
#define I_STX(sz, d, s, o) ((struct bpf_insn){ .code = BPF_STX | (sz) | BPF_MEM, .dst_reg = (d), .src_reg = (s), .off = (o) })
#define I_ST_IMM(sz, d, o, v) ((struct bpf_insn){ .code = BPF_ST | (sz) | BPF_MEM, .dst_reg = (d), .off = (o), .imm = (v) })
/* 64-bit compare against an immediate: if (d op v) goto pc + 1 + o */
#define I_JMP_IMM(op, d, v, o) ((struct bpf_insn){ .code = BPF_JMP | (op) | BPF_K, .dst_reg = (d), .off = (o), .imm = (v) })
/* 32-bit (signed where the op is) compare, for __s32 res */
#define I_JMP32_IMM(op, d, v, o) ((struct bpf_insn){ .code = BPF_JMP32 | (op) | BPF_K, .dst_reg = (d), .off = (o), .imm = (v) })
#define I_JA(o)		((struct bpf_insn){ .code = BPF_JMP | BPF_JA, .off = (o) })
#define I_CALL(f)	((struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .imm = (f) })
#define I_EXIT()	((struct bpf_insn){ .code = BPF_JMP | BPF_EXIT })
#define I_RET(v)	I_MOV_IMM(R0, (v)), I_EXIT()

#define UBPF_LOG_SIZE (256 * 1024)
static char ubpf_log[UBPF_LOG_SIZE];

/* Load a BPF_PROG_TYPE_IO_URING_CQE program; the verifier log is in ubpf_log. */
static inline int ubpf_load(const struct bpf_insn *insns, unsigned int cnt)
{
	union bpf_attr attr;
	int i, fd = -1;

	memset(&attr, 0, sizeof(attr));
	ubpf_log[0] = 0;
	attr.prog_type = UBPF_PROG_TYPE;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = cnt;
	attr.license = (uintptr_t)"GPL";
	attr.log_buf = (uintptr_t)ubpf_log;
	attr.log_size = sizeof(ubpf_log);
	attr.log_level = 1;
	/*
	 * The verifier gives up with EAGAIN when a signal or task work (e.g.
	 * from a ring being torn down) is pending; retry like libbpf does.
	 */
	for (i = 0; i < 10; i++) {
		fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd;
}
#define UBPF_LOAD(...) ({						\
	const struct bpf_insn __i[] = { __VA_ARGS__ };			\
	ubpf_load(__i, sizeof(__i) / sizeof(__i[0]));			\
})

/*
 * Labels: UBPF_L(n) marks a position, a jump to it is written with off TO(n).
 * ubpf_load_asm() drops the marks and resolves the offsets.
 */
#define UBPF_L(n)	((struct bpf_insn){ .code = 0xff, .imm = (n) })
#define TO(n)		(-1000 - (n))

static inline int ubpf_load_asm(const struct bpf_insn *in, unsigned int cnt)
{
	struct bpf_insn out[512];
	int pos[64];
	unsigned int i, n = 0;

	for (i = 0; i < 64; i++)
		pos[i] = -1;
	for (i = 0; i < cnt; i++) {
		if (in[i].code == 0xff)
			pos[in[i].imm] = n;
		else
			n++;
	}
	if (n > 512)
		kl_fail("program too long for the test assembler");
	n = 0;
	for (i = 0; i < cnt; i++) {
		__u8 cls = BPF_CLASS(in[i].code), op = BPF_OP(in[i].code);

		if (in[i].code == 0xff)
			continue;
		out[n] = in[i];
		if ((cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_CALL &&
		    op != BPF_EXIT && out[n].off <= -1000) {
			int l = -1000 - out[n].off;

			if (l >= 64 || pos[l] < 0)
				kl_fail("test assembler: label %d undefined", l);
			out[n].off = pos[l] - (int)(n + 1);
		}
		n++;
	}
	return ubpf_load(out, n);
}
#define UBPF_ASM(...) ({						\
	const struct bpf_insn __i[] = { __VA_ARGS__ };			\
	ubpf_load_asm(__i, sizeof(__i) / sizeof(__i[0]));		\
})

/* r<d> = map fd (two instructions) */
#define I_LD_MAP(d, fd)	((struct bpf_insn){ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = (d), \
					    .src_reg = BPF_PSEUDO_MAP_FD, .imm = (fd) }), \
			((struct bpf_insn){ 0 })
/* lock *(u64 *)(d + o) += s */
#define I_ATOMIC_ADD64(d, s, o) ((struct bpf_insn){ .code = BPF_STX | BPF_DW | BPF_ATOMIC, \
					    .dst_reg = (d), .src_reg = (s), .off = (o), .imm = BPF_ADD })

/* A one-slot u64 array map, used as a counter by programs. */
static inline int ubpf_counter_map(void)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = 1;
	fd = syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		kl_fail("BPF_MAP_CREATE array: %s", strerror(errno));
	return fd;
}

static inline __u64 ubpf_counter_read(int map_fd)
{
	union bpf_attr attr;
	__u32 key = 0;
	__u64 val = 0;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uintptr_t)&key;
	attr.value = (uintptr_t)&val;
	if (syscall(__NR_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr)))
		kl_fail("BPF_MAP_LOOKUP_ELEM: %s", strerror(errno));
	return val;
}

/* Instructions: count this run in @map; clobbers r1-r5, r0; needs ctx saved in r6. */
#define I_COUNT_RUN(map)						\
	I_ST_IMM(BPF_W, R10, -4, 0),					\
	I_MOV_REG(R2, R10),						\
	I_ALU_IMM(BPF_ADD, R2, -4),					\
	I_LD_MAP(R1, map),						\
	I_CALL(BPF_FUNC_map_lookup_elem),				\
	I_JMP_IMM(BPF_JEQ, R0, 0, 2),					\
	I_MOV_IMM(R1, 1),						\
	I_ATOMIC_ADD64(R0, R1, 0)

/* Number of loaded programs of the io_uring CQE type (needs CAP_SYS_ADMIN). */
static inline int ubpf_count_loaded(void)
{
	union bpf_attr attr;
	struct bpf_prog_info info;
	__u32 id = 0;
	int n = 0, fd;

	for (;;) {
		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (syscall(__NR_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof(attr)))
			break;
		id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = id;
		fd = syscall(__NR_bpf, BPF_PROG_GET_FD_BY_ID, &attr, sizeof(attr));
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = fd;
		attr.info.info_len = sizeof(info);
		attr.info.info = (uintptr_t)&info;
		if (!syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) &&
		    info.type == UBPF_PROG_TYPE)
			n++;
		close(fd);
	}
	return n;
}

static inline int ubpf_register(int ring_fd, unsigned int op, void *arg, unsigned int nr)
{
	int ret = syscall(__NR_io_uring_register, ring_fd, op, arg, nr);

	return ret < 0 ? -errno : ret;
}

static inline int ubpf_attach(struct io_uring *ring, int prog_fd)
{
	__s32 fd = prog_fd;

	return ubpf_register(ring->ring_fd, IORING_REGISTER_CQE_BPF, &fd, 1);
}

static inline int ubpf_detach(struct io_uring *ring)
{
	return ubpf_register(ring->ring_fd, IORING_UNREGISTER_CQE_BPF, NULL, 0);
}

static inline int ubpf_ring(struct io_uring *ring, unsigned int entries, unsigned int flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	return io_uring_queue_init_params(entries, ring, &p);
}

static inline void ubpf_defer_ring(struct io_uring *ring, unsigned int entries)
{
	int ret = ubpf_ring(ring, entries, IORING_SETUP_SINGLE_ISSUER |
			    IORING_SETUP_DEFER_TASKRUN);

	/* every 6.12 kernel has DEFER_TASKRUN: failing to set one up is a failure */
	if (ret)
		kl_fail("DEFER_TASKRUN ring: %s", strerror(-ret));
}

/*
 * SKIP only when the kernel lacks the uring-bpf set; FAIL when it has it and it
 * is broken. A kernel without the program type refuses it with EINVAL before
 * the verifier runs (an empty verifier log); EINVAL with a log means the type
 * exists and the verifier rejected a "return 0" program. Any other error, or a
 * type that loads but cannot be attached, is the set's failure too.
 * Returns a "return 0" prog.
 */
static inline int ubpf_require(void)
{
	struct io_uring ring;
	int fd, ret;

	fd = UBPF_LOAD(I_RET(0));
	if (fd < 0) {
		if (errno == EINVAL && ubpf_log[0] == '\0')
			kl_skip("kernel lacks BPF_PROG_TYPE_IO_URING_CQE (%d): uring-bpf patch set not applied or CONFIG_IO_URING_CQE_BPF off",
				UBPF_PROG_TYPE);
		kl_fail("BPF_PROG_LOAD of a \"return 0\" program of the type: %s\n%s",
			strerror(errno), ubpf_log);
	}
	ubpf_defer_ring(&ring, 4);
	ret = ubpf_attach(&ring, fd);
	if (ret)
		kl_fail("the program type loads, but attaching it to a DEFER_TASKRUN ring (IORING_REGISTER_CQE_BPF %d): want 0, got %d (%s)",
			IORING_REGISTER_CQE_BPF, ret, strerror(-ret));
	io_uring_queue_exit(&ring);
	return fd;
}

static inline const char *ubpf_tmpdir(void)
{
	const char *d = getenv("KL_TMP");

	return d && *d ? d : "/tmp";
}

/* A file of @size bytes of a known pattern; returns an O_RDONLY fd. */
static inline int ubpf_make_file(const char *name, size_t size, char *path, size_t pathsz)
{
	char buf[4096];
	size_t i, done = 0;
	int fd;

	snprintf(path, pathsz, "%s/%s", ubpf_tmpdir(), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		kl_fail("create %s: %s", path, strerror(errno));
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	while (done < size) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);

		if (write(fd, buf, n) != (ssize_t)n)
			kl_fail("write %s: %s", path, strerror(errno));
		done += n;
	}
	close(fd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		kl_fail("open %s: %s", path, strerror(errno));
	return fd;
}

static inline int ubpf_out_file(const char *name, char *path, size_t pathsz)
{
	int fd;

	snprintf(path, pathsz, "%s/%s", ubpf_tmpdir(), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		kl_fail("create %s: %s", path, strerror(errno));
	return fd;
}

struct ubpf_cqe {
	__u64 user_data;
	__s32 res;
	__u32 flags;
};

/*
 * Reap CQEs until none arrives for @idle_ms (waiting also runs the ring's
 * deferred task work, which is where linked requests get issued).
 */
static inline int ubpf_reap(struct io_uring *ring, struct ubpf_cqe *out, int max, int idle_ms)
{
	struct __kernel_timespec ts = { .tv_sec = idle_ms / 1000,
					.tv_nsec = (idle_ms % 1000) * 1000000L };
	struct io_uring_cqe *cqe;
	int n = 0, ret;

	for (;;) {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (ret == -ETIME)
			break;
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			kl_fail("wait cqe: %s", strerror(-ret));
		if (n >= max)
			kl_fail("more than %d CQEs (extra user_data %llu res %d)", max,
				(unsigned long long)cqe->user_data, cqe->res);
		out[n].user_data = cqe->user_data;
		out[n].res = cqe->res;
		out[n].flags = cqe->flags;
		n++;
		io_uring_cqe_seen(ring, cqe);
	}
	return n;
}

static inline struct ubpf_cqe *ubpf_find(struct ubpf_cqe *c, int n, __u64 user_data)
{
	int i;

	for (i = 0; i < n; i++)
		if (c[i].user_data == user_data)
			return &c[i];
	return NULL;
}

static inline __s32 ubpf_res(struct ubpf_cqe *c, int n, __u64 user_data, const char *what)
{
	struct ubpf_cqe *e = ubpf_find(c, n, user_data);

	if (!e)
		kl_fail("%s: no CQE for user_data %llu (%d CQEs)", what,
			(unsigned long long)user_data, n);
	return e->res;
}

static inline struct io_uring_sqe *ubpf_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		kl_fail("SQ ring full");
	return sqe;
}

/* Submit @nr NOPs (user_data 0..nr-1) and count the CQEs that come back. */
static inline int ubpf_nops(struct io_uring *ring, int nr)
{
	struct ubpf_cqe c[64];
	int i;

	if (nr > 64)
		kl_fail("ubpf_nops: at most 64 NOPs, asked for %d", nr);
	for (i = 0; i < nr; i++) {
		struct io_uring_sqe *sqe = ubpf_sqe(ring);

		io_uring_prep_nop(sqe);
		sqe->user_data = i;
	}
	io_uring_submit(ring);
	return ubpf_reap(ring, c, 64, 100);
}

/* READ @len at offset 0 of @in into @buf, then WRITE @wlen of @buf to @out. */
static inline void ubpf_queue_read_write(struct io_uring *ring, int in, int out, char *buf,
					 unsigned int len, unsigned int wlen, __u8 link_flag,
					 __u64 ud_read, __u64 ud_write, __u64 off)
{
	struct io_uring_sqe *sqe;

	sqe = ubpf_sqe(ring);
	io_uring_prep_read(sqe, in, buf, len, 0);
	sqe->flags |= link_flag;
	sqe->user_data = ud_read;
	sqe = ubpf_sqe(ring);
	io_uring_prep_write(sqe, out, buf, wlen, off);
	sqe->user_data = ud_write;
}

static inline double ubpf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
