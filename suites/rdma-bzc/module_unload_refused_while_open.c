// SPDX-License-Identifier: GPL-2.0
/*
 * module_unload_refused_while_open rxe|siw: bzc built as a module (ib_bzc).
 * While any bzc file is open its unload is refused, delete_module(2) says
 * -EWOULDBLOCK (in use), the module and /dev/bzc stay and the file answers:
 * an unbound file; a connection to this guest's own address with a region
 * registered and a WRITE done; and, once the application has closed every
 * file descriptor, a ring that still holds a file with an ACCEPT parked on
 * it. When the ring exits the file goes, and so may the module: unload
 * succeeds within a bound, /dev/bzc and /sys/module/ib_bzc are gone, and no
 * cm_id, RC QP or MR of it is left (`rdma resource show`) with the device
 * still there. Loaded again, it counts the device and a new connection
 * carries 1 MiB, verified.
 */
#include <sys/syscall.h>
#include <sys/wait.h>
#include "bzc_test.h"

#define MOD	"ib_bzc"
#define LEN	(1 << 20)

static int unload(void)
{
	return syscall(SYS_delete_module, MOD, O_NONBLOCK) ? -errno : 0;
}

static int loaded(void)
{
	return access("/sys/module/" MOD, F_OK) == 0;
}

static long refcnt(void)
{
	FILE *f = fopen("/sys/module/" MOD "/refcnt", "r");
	long n = -1;

	KL_ASSERT(f, "/sys/module/%s/refcnt: %s (bzc must be a module the kernel can unload)", MOD,
		  strerror(errno));
	KL_ASSERT(fscanf(f, "%ld", &n) == 1, "/sys/module/%s/refcnt unreadable", MOD);
	fclose(f);
	return n;
}

static void modprobe(void)
{
	int status;
	pid_t pid = fork();

	KL_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		execlp("modprobe", "modprobe", MOD, (char *)NULL);
		_exit(127);
	}
	KL_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	KL_ASSERT(WIFEXITED(status) && !WEXITSTATUS(status), "modprobe %s: status %#x", MOD, status);
}

/* A failed check must not leave the suite's later tests without the module. */
static void reload_if_gone(void)
{
	if (!loaded() && system("modprobe " MOD) != 0)
		kl_info("modprobe %s failed: the tests after this one have no %s", MOD, BZC_DEV);
}

/* Refused while something holds a file (in use: -EWOULDBLOCK); the module and its device stay. */
static void refused(const char *while_what)
{
	int ret = unload();

	KL_ASSERT(ret == -EWOULDBLOCK, "unload of %s %s: %d (%s), want -EWOULDBLOCK (in use)", MOD,
		  while_what, ret, strerror(-ret));
	KL_ASSERT(loaded() && access(BZC_DEV, F_OK) == 0, "%s or %s gone after a refused unload %s",
		  "/sys/module/" MOD, BZC_DEV, while_what);
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *region = bzc_alloc(LEN), *buf = bzc_alloc(LEN);
	int u, l, a, k, w, ret, devs;
	struct bzc_query q = { 0 };
	long long t0, took;
	struct io_uring ring;
	long base;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	/*
	 * The set's config builds bzc as a module; a kernel with it built in
	 * (a --config-item of one's own) has no /sys/module/ib_bzc/refcnt.
	 * No manifest requirement says so: the suite's config items are merged
	 * into the base's kernel too, which has no such symbol.
	 */
	KL_ASSERT(access("/sys/module/" MOD "/refcnt", F_OK) == 0,
		  "no unloadable module %s: bzc built in, or not loaded at boot (the set's config has CONFIG_INFINIBAND_BZC=m and CONFIG_MODULE_UNLOAD=y; the kernel log says why a module did not load)",
		  MOD);
	atexit(reload_if_gone);
	bzc_link_add(prov);
	kl_ring_init(&ring, 8, BZC_RING);
	base = refcnt();

	/* an unbound file */
	u = bzc_open();
	KL_ASSERT(refcnt() > base, "an open file takes no reference on %s (refcnt %ld)", MOD, refcnt());
	refused("with an unbound file open");
	KL_EXPECT_EQ(bzc_query(&ring, u, &q, sizeof(q)), (int)sizeof(q), "QUERY after the refused unload");
	devs = q.num_devices;
	KL_ASSERT(devs >= 1, "QUERY counts %d RDMA devices with kl_%s0 added", devs, prov);

	/* a connection with a region and a WRITE done */
	bzc_connect_self(&ring, &l, &a, &k);
	KL_EXPECT_EQ(bzc_reg(&ring, a, region, LEN, BZC_ACCESS_REMOTE_WRITE), 1, "REG");
	bzc_fill(buf, LEN, 5);
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, LEN, 1), LEN, "WRITE");
	refused("with a connection open");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, LEN, 1), LEN,
		     "WRITE after the refused unload");

	/* every descriptor closed, the ring holding one file with an ACCEPT parked */
	w = bzc_open();
	bzc_prep_accept(&ring, w, l, 'A');
	KL_EXPECT_EQ(io_uring_submit(&ring), 1, "submit an ACCEPT nobody pairs");
	close(u);
	close(k);
	close(a);
	close(l);
	close(w);
	refused("with every descriptor closed but a ring holding a file");

	io_uring_queue_exit(&ring);
	t0 = kl_now_ms();
	while ((ret = unload()) == -EWOULDBLOCK && kl_now_ms() - t0 < 10000LL * kl_scale())
		usleep(20 * 1000);
	took = kl_now_ms() - t0;
	KL_ASSERT(ret == 0, "unload of %s after the ring exited: %d (%s) after %lld ms", MOD, ret,
		  strerror(-ret), took);
	KL_ASSERT(!loaded(), "/sys/module/%s still there after the unload", MOD);
	KL_ASSERT(access(BZC_DEV, F_OK) != 0 && errno == ENOENT, "%s still there after the unload",
		  BZC_DEV);
	KL_EXPECT_EQ(bzc_rdma_res("cm_id"), 0, "cm_ids after the unload");
	KL_EXPECT_EQ(bzc_rdma_res("qp | grep -w RC"), 0, "RC QPs after the unload");
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "MRs after the unload");

	/* loaded again: it finds the device that stayed, and works */
	modprobe();
	KL_ASSERT(loaded() && access(BZC_DEV, F_OK) == 0, "%s not back after modprobe", BZC_DEV);
	kl_ring_init(&ring, 8, BZC_RING);
	u = bzc_open();
	KL_EXPECT_EQ(bzc_query(&ring, u, &q, sizeof(q)), (int)sizeof(q), "QUERY after the reload");
	KL_EXPECT_EQ((int)q.num_devices, devs, "RDMA devices counted after the reload");
	close(u);
	bzc_connect_self(&ring, &l, &a, &k);
	memset(region, 0, LEN);
	KL_EXPECT_EQ(bzc_reg(&ring, a, region, LEN, BZC_ACCESS_REMOTE_WRITE), 1, "REG after the reload");
	bzc_fill(buf, LEN, 6);
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, LEN, 1), LEN, "WRITE after the reload");
	KL_EXPECT_EQ(bzc_dereg(&ring, a, 1), 0, "DEREG after the reload");
	KL_ASSERT(bzc_check(region, LEN, 6) < 0, "the WRITE after the reload: byte %lld differs",
		  bzc_check(region, LEN, 6));
	io_uring_queue_exit(&ring);
	close(k);
	close(a);
	close(l);
	kl_info("%s: unload refused (in use) with a file open, a connection, a ring holding a file; done %lld ms after the ring exited, nothing left; reloaded, 1 MiB verified",
		prov, took);
	bzc_link_delete(prov);
	kl_pass();
}
