// SPDX-License-Identifier: GPL-2.0
/*
 * dereg_while_peer_writes rxe|siw: two guests. b registers 16 MiB (zeros)
 * for a; a keeps 8 WRITEs of 1 MiB of a pattern in flight to it, and b
 * DEREGs the region while they are. Once b's DEREG has returned no byte of
 * b's buffer may change any more (no late write lands in memory b owns
 * again): b copies its buffer, waits 2 s, and compares. Every byte b has is
 * either the pattern or untouched. a's WRITEs each complete once, with their
 * length or -ENOENT (the region is gone) and nothing else, and after the
 * first -ENOENT a submits nothing more; the connection then still works.
 */
#include "bzc_test.h"

#define REGION	(16 << 20)
#define CHUNK	(1 << 20)
#define DEPTH	8

static void side_b(const char *prov, struct io_uring *ring, int f)
{
	unsigned char *buf = bzc_alloc(REGION), *copy = bzc_alloc(REGION);
	size_t changed = 0, foreign = 0, written = 0;

	KL_EXPECT_EQ(bzc_reg(ring, f, buf, REGION, BZC_ACCESS_REMOTE_WRITE), 1, "b: REG of 16 MiB");
	bzc_barrier("registered");
	bzc_barrier("streaming");
	usleep(500 * 1000);
	KL_EXPECT_EQ(bzc_dereg(ring, f, 1), 0, "b: DEREG while a's WRITEs are in flight");
	memcpy(copy, buf, REGION);
	sleep(2);
	for (size_t i = 0; i < REGION; i++) {
		if (buf[i] != copy[i])
			changed++;
		if (buf[i] && buf[i] != bzc_byte(2, i % CHUNK))
			foreign++;
		if (buf[i])
			written++;
	}
	KL_EXPECT_EQ(changed, 0, "b: bytes of its buffer that changed after DEREG returned");
	KL_EXPECT_EQ(foreign, 0, "b: bytes that are neither a's pattern nor untouched");
	KL_ASSERT(written > 0, "b: none of a's WRITEs landed before the DEREG");
	bzc_barrier("checked");
	kl_info("%s: guest b: DEREG under 8 WRITEs in flight; %zu bytes written before it, none after", prov,
		written);
}

static void side_a(const char *prov, struct io_uring *ring, int f)
{
	static char done[4096];
	unsigned char *buf = bzc_alloc(CHUNK);
	int inflight = 0, submitted = 0, ok = 0, gone = 0;
	long long end;
	struct kl_cqe c;

	bzc_fill(buf, CHUNK, 2);
	bzc_barrier("registered");
	bzc_barrier("streaming");
	end = kl_now_ms() + 60000LL * kl_scale();
	for (;;) {
		bzc_keep_writing(ring, f, buf, CHUNK, REGION, DEPTH, !gone, (int)sizeof(done), &submitted, &inflight);
		if (!inflight)
			break;
		KL_ASSERT(kl_now_ms() < end, "a: %d WRITEs still in flight after %d s", inflight, 60 * kl_scale());
		if (kl_wait_timeout(ring, 200, &c))
			continue;
		KL_ASSERT(c.user_data < (__u64)submitted && !done[c.user_data],
			  "a: a completion for WRITE %llu, which %s", (unsigned long long)c.user_data,
			  c.user_data < (__u64)submitted ? "had completed already" : "was never submitted");
		done[c.user_data] = 1;
		inflight--;
		if (c.res == CHUNK)
			ok++;
		else if (c.res == -ENOENT)
			gone++;
		else
			kl_fail("a: WRITE %llu completed with %d (%s): want its length, or -ENOENT once b's region is gone",
				(unsigned long long)c.user_data, c.res, c.res < 0 ? strerror(-c.res) : "short");
	}
	KL_ASSERT(gone > 0, "a: %d WRITEs, all placed: the DEREG never showed", submitted);
	bzc_barrier("checked");
	/* the connection outlives the region */
	KL_EXPECT_EQ(bzc_rw(ring, f, BZC_U_CMD_WRITE, buf, 0, 1, 1), -ENOENT, "a: a WRITE to the gone region");
	kl_info("%s: guest a: %d WRITEs of 1 MiB: %d placed, %d refused -ENOENT once b's region went", prov,
		submitted, ok, gone);
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	struct io_uring ring;
	int l, f, is_b;

	l = bzc_pair_connect(prov, &ring, &f, &is_b);
	if (is_b)
		side_b(prov, &ring, f);
	else
		side_a(prov, &ring, f);
	bzc_barrier("end");
	close(f);
	if (l >= 0)
		close(l);
	io_uring_queue_exit(&ring);
	bzc_barrier("closed");
	bzc_link_delete(prov);
	kl_pass();
}
