// SPDX-License-Identifier: GPL-2.0
/*
 * A buffered READ through a registered (fixed) file that finds only its first
 * page in the page cache still returns every byte asked for.
 *
 * io_uring's first, non-blocking attempt copies the cached page and stops at
 * the first missing one; because the file is a regular file (REQ_F_ISREG),
 * io_uring then reads the rest itself instead of posting the short count.
 * For a fixed file REQ_F_ISREG comes from the file table's slot
 * (io_slot_flags()), not from the file: if a series moves the flag past bit
 * 31 of what that helper returns, fixed-file reads come back short, which is
 * what liburing's read-write test saw on fused + uring-bpf (both inserted a
 * REQ_F_* bit ahead of REQ_F_ISREG_BIT). The same read through a plain fd is
 * the control.
 *
 * Needs a disk filesystem (tmpfs never reads short): the run's blank scratch
 * disk /dev/vda, made an ext4 here unless liburing's runner already mounted it.
 */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "kl_uring.h"

#define DEV	"/dev/vda"
#define MNT	"/mnt/kl-uring"
#define LEN	(256 * 1024)
#define PG	4096

static char mounted_here;

static void unmount(void)
{
	if (mounted_here)
		umount(MNT);
}

/* Where DEV is mounted, mounting it (a fresh ext4) if it is not. */
static const char *scratch_dir(void)
{
	static char dir[256];
	char dev[256];
	struct stat st;
	FILE *f;

	if (stat(DEV, &st) || !S_ISBLK(st.st_mode))
		kl_fail("%s is not a block device: the lab gives every guest its blank scratch disk there", DEV);
	f = fopen("/proc/mounts", "r");
	KL_ASSERT(f, "open /proc/mounts: %s", strerror(errno));
	while (fscanf(f, "%255s %255s %*[^\n]", dev, dir) == 2) {
		if (!strcmp(dev, DEV)) {
			fclose(f);
			return dir;
		}
	}
	fclose(f);
	KL_ASSERT(system("mkfs.ext4 -q -F " DEV " >/dev/null 2>&1") == 0, "mkfs.ext4 %s failed", DEV);
	mkdir(MNT, 0755);
	KL_ASSERT(mount(DEV, MNT, "ext4", 0, NULL) == 0, "mount %s on %s: %s", DEV, MNT, strerror(errno));
	mounted_here = 1;
	atexit(unmount);
	return MNT;
}

/* Only page 0 of fd cached; checked, so that a pass is never vacuous. */
static void cache_first_page_only(int fd)
{
	static char one[PG];
	unsigned char vec[LEN / PG];
	void *map;

	KL_EXPECT_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0, "fadvise DONTNEED");
	KL_EXPECT_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM), 0, "fadvise RANDOM (no readahead)");
	KL_EXPECT_EQ(pread(fd, one, PG, 0), PG, "pread of page 0");
	map = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	KL_ASSERT(map != MAP_FAILED, "mmap: %s", strerror(errno));
	KL_EXPECT_EQ(mincore(map, LEN, vec), 0, "mincore");
	munmap(map, LEN);
	KL_ASSERT(vec[0] & 1, "page 0 is not in the page cache after pread");
	for (int i = 1; i < LEN / PG; i++)
		KL_ASSERT(!(vec[i] & 1), "page %d is cached: the read could not come back short", i);
}

static void read_all(struct io_uring *ring, int fd, int fixed, const char *what)
{
	static unsigned char buf[LEN];
	struct io_uring_sqe *sqe;
	struct kl_cqe cqe;

	memset(buf, 0, sizeof(buf));
	sqe = kl_sqe(ring);
	io_uring_prep_read(sqe, fixed ? 0 : fd, buf, LEN, 0);
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_submit(ring);
	cqe = kl_wait(ring);
	KL_ASSERT(cqe.res == LEN, "%s: READ of %d bytes, page 0 cached, returned %d%s", what, LEN,
		  cqe.res, cqe.res > 0 ? ": a short read posted instead of completed" : "");
	for (int i = 0; i < LEN; i++)
		KL_ASSERT(buf[i] == (unsigned char)(i * 131 + 17), "%s: byte %d differs", what, i);
	kl_info("%s: %d bytes, all verified", what, LEN);
}

int main(void)
{
	static unsigned char data[LEN];
	struct io_uring ring;
	char path[300];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/kl-short-read", scratch_dir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	KL_ASSERT(fd >= 0, "create %s: %s", path, strerror(errno));
	for (int i = 0; i < LEN; i++)
		data[i] = (unsigned char)(i * 131 + 17);
	KL_EXPECT_EQ(pwrite(fd, data, LEN, 0), LEN, "pwrite");
	KL_EXPECT_EQ(fsync(fd), 0, "fsync");

	kl_ring_init(&ring, 4, 0);
	ret = io_uring_register_files(&ring, &fd, 1);
	KL_EXPECT_EQ(ret, 0, "io_uring_register_files");

	cache_first_page_only(fd);
	read_all(&ring, fd, 0, "plain fd");
	cache_first_page_only(fd);
	read_all(&ring, fd, 1, "fixed file");

	io_uring_queue_exit(&ring);
	close(fd);
	unlink(path);
	kl_pass();
}
