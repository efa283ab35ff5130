// SPDX-License-Identifier: GPL-2.0
/*
 * READ_FIXED into a request buffer from a file that has ->read but no
 * ->read_iter (/dev/kmsg): io_uring falls back to loop_rw_iter(), which
 * passes ->read() a user address, and a kernel buffer has none: its
 * "address" is an offset from 0 (0003: loop_rw_iter() refuses it, -EFAULT).
 *
 * -EFAULT alone would not tell the refusal from ->read() faulting on user
 * address 0, so the test maps a page at address 0 (vm.mmap_min_addr set to
 * 0 for the test): without the refusal the kernel record would land in that
 * page and the READ_FIXED would return its length. A READ_FIXED from
 * /dev/kmsg into a user buffer (slot 6) shows the file does take that path
 * and has a record to give. The request is then served from the backing
 * file as usual and the client checks its data.
 */
#include <sys/mman.h>

#include "zc_lib.h"

#define MIN_ADDR	"/proc/sys/vm/mmap_min_addr"

static char old_min[32];

static void restore_min_addr(void)
{
	int fd = open(MIN_ADDR, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, old_min, strlen(old_min)) < 0)
			kl_info("restoring %s: %s", MIN_ADDR, strerror(errno));
		close(fd);
	}
}

/* a page at user address 0; the pointer is laundered so the compiler cannot assume NULL */
static unsigned char *map_page_zero(void)
{
	uintptr_t addr = 0;
	void *p;
	ssize_t n;
	int fd;

	fd = open(MIN_ADDR, O_RDWR);
	if (fd < 0)
		kl_fail("open %s: %s", MIN_ADDR, strerror(errno));
	n = read(fd, old_min, sizeof(old_min) - 1);
	if (n <= 0)
		kl_fail("read %s: %s", MIN_ADDR, strerror(errno));
	old_min[n] = 0;
	if (pwrite(fd, "0\n", 2, 0) != 2)
		kl_fail("write 0 to %s: %s", MIN_ADDR, strerror(errno));
	close(fd);
	atexit(restore_min_addr);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		kl_fail("mapping a page at address 0: %s", strerror(errno));
	if (p != NULL)
		kl_fail("mmap at address 0 returned %p", p);
	__asm__ volatile("" : "+r"(addr));
	return (unsigned char *)addr;	/* a fresh anonymous page: zeroes */
}

int main(void)
{
	static unsigned char user[4096] __attribute__((aligned(4096)));
	struct iovec iov = { .iov_base = user, .iov_len = sizeof(user) };
	unsigned char *zero;
	struct kl_ublk_dev d;
	unsigned int tag, i;
	int fd, kmsg, ret;
	pid_t pid;

	kl_ublk_require(&d, &zc_cfg);
	zero = map_page_zero();
	fd = kl_tmp_file(4096, kl_fill_byte, 0x3c);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg < 0)
		kl_fail("open /dev/kmsg: %s", strerror(errno));
	kl_ublk_dev_setup(&d, 0);
	KL_EXPECT_EQ(io_uring_register_buffers_update_tag(&d.ring, 6, &iov, NULL, 1), 1,
		     "a user buffer at slot 6");
	ret = zc_fixed_rw(&d, IORING_OP_READ_FIXED, kmsg, (__u64)(uintptr_t)user, sizeof(user),
			  0, 6);
	KL_ASSERT(ret > 0, "READ_FIXED of a /dev/kmsg record into a user buffer: %d", ret);

	pid = kl_ublk_child(&d, false, 0, 4096, 0x3c, true);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 5), 0, "register the request at 5");
	ret = zc_fixed_rw(&d, IORING_OP_READ_FIXED, kmsg, 0, 4096, 0, 5);
	KL_EXPECT_EQ(ret, -EFAULT, "READ_FIXED from /dev/kmsg (no ->read_iter) into slot 5");
	for (i = 0; i < 4096; i++)
		KL_ASSERT(zero[i] == 0,
			  "the kernel record went to user address 0 (byte %u is %#x)", i, zero[i]);

	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_READ_FIXED, fd, 0, 4096, 0, 5), 4096,
		     "READ_FIXED from the backing file into slot 5");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 5), 0, "unregister 5");
	kl_ublk_commit(&d, tag, 4096);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0,
		     "client read completes with the backing file's bytes");
	close(kmsg);
	kl_ublk_dev_del(&d);
	kl_pass();
}
