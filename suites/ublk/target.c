// SPDX-License-Identifier: GPL-2.0
/*
 * Targets: "null" (no backing store, requests complete at once) and "loop"
 * (a backing file, read and written through the queue's io_uring).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "kl_ublk.h"

const char *kl_tgt_name(enum kl_tgt_type t)
{
	return t == KL_TGT_LOOP ? "loop" : "null";
}

int kl_tgt_parse(const char *s, enum kl_tgt_type *t)
{
	if (!strcmp(s, "null"))
		*t = KL_TGT_NULL;
	else if (!strcmp(s, "loop"))
		*t = KL_TGT_LOOP;
	else
		return -EINVAL;
	return 0;
}

/*
 * O_DIRECT keeps the page cache out of the data path, but not every file
 * system takes it (in the guest the file lives on tmpfs): if the open or a
 * first aligned read fails with EINVAL, use buffered IO.
 */
static int kl_tgt_open_file(struct kl_dev *dev)
{
	void *buf;
	int fd;

	fd = open(dev->cfg.file, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd >= 0 && posix_memalign(&buf, 4096, 4096) == 0) {
		ssize_t n = pread(fd, buf, 4096, 0);

		free(buf);
		if (n >= 0) {
			dev->tgt_direct = true;
			return fd;
		}
	}
	if (fd >= 0)
		close(fd);
	dev->tgt_direct = false;
	fd = open(dev->cfg.file, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int kl_tgt_file_size(int fd, __u64 *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size))
			return -errno;
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = st.st_size;
	return 0;
}

int kl_tgt_open(struct kl_dev *dev)
{
	int fd, ret;

	dev->tgt_fd = -1;
	if (dev->cfg.tgt == KL_TGT_NULL) {
		dev->size = dev->cfg.size ? dev->cfg.size : KL_UBLK_NULL_SIZE;
		return 0;
	}
	fd = kl_tgt_open_file(dev);
	if (fd < 0)
		return fd;
	ret = kl_tgt_file_size(fd, &dev->size);
	if (!ret && dev->size < 4096)
		ret = -EINVAL;	/* smaller than one page: not a usable disk */
	if (ret) {
		close(fd);
		return ret;
	}
	dev->size &= ~511ULL;
	dev->tgt_fd = fd;
	return 0;
}

void kl_tgt_close(struct kl_dev *dev)
{
	if (dev->tgt_fd >= 0)
		close(dev->tgt_fd);
	dev->tgt_fd = -1;
}

void kl_tgt_params(const struct kl_dev *dev, struct ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->types = UBLK_PARAM_TYPE_BASIC;
	/* loop has a page cache behind it (or may): ask for FLUSH */
	p->basic.attrs = dev->cfg.tgt == KL_TGT_LOOP ?
			 UBLK_ATTR_VOLATILE_CACHE : 0;
	p->basic.logical_bs_shift = 9;
	p->basic.physical_bs_shift = 12;
	p->basic.io_opt_shift = 12;
	p->basic.io_min_shift = 9;
	p->basic.max_sectors = dev->info.max_io_buf_bytes >> 9;
	p->basic.dev_sectors = dev->size >> 9;
}
