// SPDX-License-Identifier: GPL-2.0
/*
 * A fused secondary on a file without ->read_iter (/dev/kmsg has only
 * ->read) would go through loop_rw_iter(), which for a bvec iterator calls
 * ->read() with sqe->addr as the user address, and a secondary's ->addr is
 * an offset into the lent buffer. It is refused instead: the secondary is
 * -EOPNOTSUPP, its primary completes (0) after it, and nothing is written:
 * neither user memory mapped at the address equal to that offset (0x10000)
 * nor the request, whose client, once the server commits it without data,
 * reads back what its buffer held (review T3).
 */
#include "fused_lib.h"

#define REQ_LEN		(128U << 10)
#define SEC_OFF		0x10000UL	/* into the request; also the victim's address */
#define SEC_LEN		4096U
#define OFF		(1 << 20)

int main(void)
{
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	unsigned char *victim, *buf;
	int kmsg, pres = 1, sres = 1;
	unsigned int tag, i;
	long long end;
	bool last;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	/* O_NONBLOCK: a ->read() reached by mistake returns a record at once */
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg < 0)
		kl_fail("open /dev/kmsg: %s", strerror(errno));
	victim = mmap((void *)SEC_OFF, SEC_LEN, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (victim == MAP_FAILED || victim != (void *)SEC_OFF)
		kl_fail("mapping the victim at %#lx: %s", SEC_OFF,
			victim == MAP_FAILED ? strerror(errno) : "placed elsewhere");
	memset(victim, 0x77, SEC_LEN);
	kl_ublk_dev_setup(&d, 0);

	kl_ublk_client_start(&c, d.dev_id, false, REQ_LEN, OFF);	/* its buffer zeroed */
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, OFF);
	if ((d.iods[tag].nr_sectors << 9) < SEC_OFF + SEC_LEN)
		kl_fail("the client's READ came as a request of %u bytes, want %u",
			d.iods[tag].nr_sectors << 9, REQ_LEN);

	fu_fused_rw(&d, tag, IORING_OP_READ, kmsg, SEC_OFF, SEC_LEN, 0, &pres, &sres, &last);
	if (sres != -EOPNOTSUPP)
		kl_fail("secondary READ of /dev/kmsg (no ->read_iter): want -EOPNOTSUPP, got %s (%d)",
			kl_err(sres), sres);
	KL_EXPECT_EQ(pres, 0, "its primary");
	KL_ASSERT(last, "the primary's CQE came before its secondary's");
	for (i = 0; i < SEC_LEN; i++)
		if (victim[i] != 0x77)
			kl_fail("user memory at %#lx, the secondary's ->addr, was written", SEC_OFF);

	kl_ublk_commit(&d, tag, REQ_LEN);
	end = kl_now_ms() + KL_TIMEOUT_MS;
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE)) {
		if (kl_now_ms() > end)
			kl_fail("the client's READ did not complete after the commit");
		kl_ublk_reap(&d, 5, NULL);
	}
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), (ssize_t)REQ_LEN, "the client's READ");
	buf = c.buf;
	for (i = 0; i < REQ_LEN; i++)
		if (buf[i])
			kl_fail("byte %u of the request is %#x, want the client's 0", i, buf[i]);
	kl_info("secondary %d, primary %d after it, victim and request untouched", sres, pres);
	close(kmsg);
	kl_ublk_dev_del(&d);
	kl_pass();
}
