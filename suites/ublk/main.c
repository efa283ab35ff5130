// SPDX-License-Identifier: GPL-2.0
/*
 * kl-ublk command line:
 *   add -t null|loop [-q N] [-d DEPTH] [-m MODE] [-n ID] [-s MiB] [--recovery]
 *       [--foreground] [FILE]
 *   del -n ID | --all
 *   list [-n ID]
 *   features
 *   recover -n ID
 *   stats -n ID
 *
 * "add" and "recover" fork a daemon that serves the device; the command
 * itself returns (printing the device id) only once /dev/ublkbN exists, so
 * a test can use the disk on the next line. The daemon logs to
 * /tmp/.kl-ublk/<id>.log and keeps what "recover" needs in <id>.conf.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kl_ublk.h"
#include "ublk_mode.h"

#define KL_START_TIMEOUT_MS	60000	/* TCG guests are slow */
#define KL_DEL_TIMEOUT_MS	60000

static const struct kl_mode_ops *kl_modes[] = {
	&kl_mode_copy, &kl_mode_user_copy, &kl_mode_fused_zc, &kl_mode_reg_zc,
	&kl_mode_auto_zc,
};

const struct kl_mode_ops *kl_mode_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(kl_modes) / sizeof(kl_modes[0]); i++)
		if (!strcmp(kl_modes[i]->name, name))
			return kl_modes[i];
	return NULL;
}

void kl_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "kl-ublk[%d]: ", getpid());
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	va_end(ap);
}

static void kl_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------- */
/* status pipe between the daemon and the command that forked it          */

struct kl_status {
	int code;		/* KL_UBLK_OK / ERR / SKIP */
	int dev_id;
	char msg[256];
};

struct kl_server {
	struct kl_dev *dev;
	struct kl_ctrl ctrl;
	int status_fd;		/* -1 in the foreground */
	bool recover;
	bool added;		/* ADD_DEV done by us: DEL it on failure */
};

static void kl_report(struct kl_server *s, int code, const char *fmt, ...)
{
	struct kl_status st = { .code = code, .dev_id = s->dev->info.dev_id };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st.msg, sizeof(st.msg), fmt, ap);
	va_end(ap);
	if (code != KL_UBLK_OK)
		kl_log("%s", st.msg);
	if (s->status_fd < 0) {
		if (code == KL_UBLK_OK) {
			printf("%d\n", st.dev_id);
			fflush(stdout);
		} else if (code == KL_UBLK_SKIP) {
			printf("SKIP: %s\n", st.msg);
		}
		return;
	}
	if (write(s->status_fd, &st, sizeof(st)) != sizeof(st))
		kl_log("status pipe: %s", strerror(errno));
	close(s->status_fd);
	s->status_fd = -1;
}

/* ---------------------------------------------------------------------- */
/* run directory: logs and the per-device config "recover" needs           */

static void kl_run_path(char *buf, size_t len, int id, const char *ext)
{
	snprintf(buf, len, "%s/%d.%s", KL_UBLK_RUN_DIR, id, ext);
}

static int kl_save_cfg(const struct kl_dev *dev)
{
	char path[PATH_MAX];
	FILE *f;

	kl_run_path(path, sizeof(path), dev->info.dev_id, "conf");
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "target=%s\nmode=%s\nqueues=%d\ndepth=%d\nsize=%llu\n"
		"recovery=%d\npoison_sqes=%d\nfile=%s\n",
		kl_tgt_name(dev->cfg.tgt), dev->cfg.mode->name,
		dev->cfg.nr_queues, dev->cfg.depth,
		(unsigned long long)dev->size, dev->cfg.recovery,
		dev->cfg.poison_sqes, dev->cfg.file);
	fclose(f);
	return 0;
}

static int kl_load_cfg(int id, struct kl_dev_cfg *cfg)
{
	char path[PATH_MAX], line[PATH_MAX + 16];
	FILE *f;

	kl_run_path(path, sizeof(path), id, "conf");
	f = fopen(path, "r");
	if (!f)
		return -errno;
	memset(cfg, 0, sizeof(*cfg));
	cfg->dev_id = id;
	cfg->mode = &kl_mode_copy;
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = '\0';
		v[strcspn(v, "\n")] = '\0';
		if (!strcmp(line, "target"))
			kl_tgt_parse(v, &cfg->tgt);
		else if (!strcmp(line, "mode") && kl_mode_find(v))
			cfg->mode = kl_mode_find(v);
		else if (!strcmp(line, "queues"))
			cfg->nr_queues = atoi(v);
		else if (!strcmp(line, "depth"))
			cfg->depth = atoi(v);
		else if (!strcmp(line, "size"))
			cfg->size = strtoull(v, NULL, 0);
		else if (!strcmp(line, "recovery"))
			cfg->recovery = atoi(v);
		else if (!strcmp(line, "poison_sqes"))
			cfg->poison_sqes = atoi(v);
		else if (!strcmp(line, "file"))
			snprintf(cfg->file, sizeof(cfg->file), "%s", v);
	}
	fclose(f);
	return 0;
}

static void kl_forget_dev(int id)
{
	char path[PATH_MAX];

	kl_run_path(path, sizeof(path), id, "conf");
	unlink(path);
	kl_run_path(path, sizeof(path), id, "stats");
	unlink(path);
}

const char *const kl_stat_names[KL_ST_NR] = {
	[KL_ST_REQS] = "reqs",
	[KL_ST_REQ_BYTES] = "req_bytes",
	[KL_ST_ERRS] = "errs",
	[KL_ST_DRV_COPY_BYTES] = "drv_copy_bytes",
	[KL_ST_UCOPY_CALLS] = "ucopy_calls",
	[KL_ST_UCOPY_BYTES] = "ucopy_bytes",
	[KL_ST_UCOPY_NS] = "ucopy_ns",
	[KL_ST_FILL_BYTES] = "fill_bytes",
	[KL_ST_FILL_NS] = "fill_ns",
	[KL_ST_FUSED] = "fused",
	[KL_ST_BUF_REGS] = "buf_regs",
	[KL_ST_AUTO_REGS] = "auto_regs",
	[KL_ST_ZC_BYTES] = "zc_bytes",
};

/*
 * Map <id>.stats for the queue threads to count in. A recovered server
 * goes on counting where the dead one stopped. Without the file the
 * device still works; the counters then stay private.
 */
static void kl_stats_map(struct kl_dev *dev)
{
	char path[PATH_MAX];
	struct kl_stats_file *st;
	int fd;

	kl_run_path(path, sizeof(path), dev->info.dev_id, "stats");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, sizeof(*st))) {
		kl_log("%s: %s (counters not shared)", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (st == MAP_FAILED) {
		kl_log("mmap %s: %s (counters not shared)", path, strerror(errno));
		return;
	}
	st->magic = KL_STATS_MAGIC;
	st->nr_queues = dev->info.nr_hw_queues;
	st->dev_flags = dev->info.flags;
	snprintf(st->mode, sizeof(st->mode), "%s", dev->cfg.mode->name);
	dev->stats = st;
}

/* ---------------------------------------------------------------------- */
/* device nodes                                                            */

/*
 * devtmpfs creates /dev/ublkcN and /dev/ublkbN by itself; without it (a
 * bare /dev) make the node from the dev_t the driver reports.
 */
static int kl_wait_node(struct kl_ctrl *c, int id, bool blk, int timeout_ms)
{
	char path[64];
	struct ublk_params p;
	struct stat st;
	int waited;

	snprintf(path, sizeof(path), "/dev/ublk%c%d", blk ? 'b' : 'c', id);
	for (waited = 0; waited < timeout_ms; waited += 10) {
		if (!stat(path, &st))
			return 0;
		if (waited == 1000 && !kl_ctrl_get_params(c, id, &p)) {
			dev_t dt = blk ? makedev(p.devt.disk_major, p.devt.disk_minor) :
					 makedev(p.devt.char_major, p.devt.char_minor);

			mknod(path, (blk ? S_IFBLK : S_IFCHR) | 0600, dt);
		}
		kl_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

static int kl_open_cdev(struct kl_server *s)
{
	char path[64];
	int id = s->dev->info.dev_id, i, ret;

	ret = kl_wait_node(&s->ctrl, id, false, 5000);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	/* after a crash the old server's file may still be closing: EBUSY */
	for (i = 0; i < 100; i++) {
		s->dev->cdev_fd = open(path, O_RDWR | O_CLOEXEC);
		if (s->dev->cdev_fd >= 0)
			return 0;
		if (errno != EBUSY)
			break;
		kl_sleep_ms(100);
	}
	return -errno;
}

/* ---------------------------------------------------------------------- */
/* the server                                                              */

static int kl_add_dev(struct kl_server *s)
{
	struct kl_dev *dev = s->dev;
	const struct kl_mode_ops *m = dev->cfg.mode;
	struct ublk_params p;
	__u64 want = m->dev_flags | (dev->cfg.recovery ? UBLK_F_USER_RECOVERY : 0);
	int ret;

	memset(&dev->info, 0, sizeof(dev->info));
	dev->info.nr_hw_queues = dev->cfg.nr_queues;
	dev->info.queue_depth = dev->cfg.depth;
	dev->info.max_io_buf_bytes = KL_UBLK_IO_BUF_BYTES;
	dev->info.dev_id = dev->cfg.dev_id < 0 ? (__u32)-1 : (__u32)dev->cfg.dev_id;
	dev->info.flags = want;
	ret = kl_ctrl_add_dev(&s->ctrl, &dev->info);
	if (ret) {
		kl_report(s, KL_UBLK_ERR, "ADD_DEV: %s", strerror(-ret));
		return ret;
	}
	s->added = true;
	/* the driver clears flags it does not know: that is a missing feature */
	if ((dev->info.flags & want) != want) {
		kl_report(s, KL_UBLK_SKIP, "kernel dropped flags 0x%llx at ADD_DEV",
			  (unsigned long long)(want & ~dev->info.flags));
		return -EOPNOTSUPP;
	}
	kl_tgt_params(dev, &p);
	ret = kl_ctrl_set_params(&s->ctrl, dev->info.dev_id, &p);
	if (ret) {
		kl_report(s, KL_UBLK_ERR, "SET_PARAMS: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

/* Move the pending log to <id>.log now that the id is known. */
static void kl_name_log(int dev_id)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(from, sizeof(from), "%s/pending-%d.log", KL_UBLK_RUN_DIR, getpid());
	kl_run_path(to, sizeof(to), dev_id, "log");
	rename(from, to);
}

static int kl_go_live(struct kl_server *s)
{
	struct kl_dev *dev = s->dev;
	int id = dev->info.dev_id;
	int ret;

	ret = kl_open_cdev(s);
	if (ret) {
		kl_report(s, KL_UBLK_ERR, "open /dev/ublkc%d: %s", id, strerror(-ret));
		return ret;
	}
	ret = kl_queues_start(dev);
	if (ret) {
		kl_report(s, KL_UBLK_ERR, "queue setup: %s", strerror(-ret));
		return ret;
	}
	if (s->recover)
		ret = kl_ctrl_end_recovery(&s->ctrl, id, getpid(), KL_START_TIMEOUT_MS);
	else
		ret = kl_ctrl_start_dev(&s->ctrl, id, getpid(), KL_START_TIMEOUT_MS);
	if (ret) {
		kl_report(s, KL_UBLK_ERR, "%s: %s",
			  s->recover ? "END_USER_RECOVERY" : "START_DEV", strerror(-ret));
		return ret;
	}
	ret = kl_wait_node(&s->ctrl, id, true, 10000);
	if (ret) {
		kl_report(s, KL_UBLK_ERR, "/dev/ublkb%d did not appear", id);
		return ret;
	}
	return 0;
}

/* Undo a half-built device; the queue threads leave on UBLK_IO_RES_ABORT. */
static void kl_abort(struct kl_server *s)
{
	if (s->added) {
		kl_ctrl_del_dev(&s->ctrl, s->dev->info.dev_id, false, 5000);
		kl_forget_dev(s->dev->info.dev_id);
	}
	if (s->dev->nr_threads && s->added)
		kl_queues_join(s->dev);
}

static int kl_serve(const struct kl_dev_cfg *cfg, bool recover, int status_fd)
{
	struct kl_server s = { .status_fd = status_fd, .recover = recover };
	struct kl_dev *dev = calloc(1, sizeof(*dev));
	int ret;

	if (!dev)
		return KL_UBLK_ERR;
	s.dev = dev;
	dev->cfg = *cfg;
	dev->cdev_fd = -1;
	dev->info.dev_id = cfg->dev_id;
	ret = kl_ctrl_open(&s.ctrl);
	if (ret) {
		kl_report(&s, KL_UBLK_ERR, "/dev/ublk-control: %s", strerror(-ret));
		return KL_UBLK_ERR;
	}
	ret = kl_tgt_open(dev);
	if (ret) {
		kl_report(&s, KL_UBLK_ERR, "backing file %s: %s", cfg->file,
			  strerror(-ret));
		return KL_UBLK_ERR;
	}
	if (recover) {
		ret = kl_ctrl_get_info(&s.ctrl, cfg->dev_id, &dev->info);
		if (ret)
			kl_report(&s, KL_UBLK_ERR, "GET_DEV_INFO: %s", strerror(-ret));
	} else {
		ret = kl_add_dev(&s);
		if (!ret)
			kl_save_cfg(dev);
	}
	if (!ret) {
		if (status_fd >= 0)
			kl_name_log(dev->info.dev_id);
		kl_stats_map(dev);
		ret = kl_go_live(&s);
	}
	if (ret) {
		kl_abort(&s);
		return ret == -EOPNOTSUPP ? KL_UBLK_SKIP : KL_UBLK_ERR;
	}
	kl_log("dev %d %s: %s target, %s mode, %d queue(s) x %d, %llu bytes%s",
	       dev->info.dev_id, recover ? "recovered" : "live",
	       kl_tgt_name(cfg->tgt), cfg->mode->name, dev->info.nr_hw_queues,
	       dev->info.queue_depth, (unsigned long long)dev->size,
	       dev->tgt_direct ? ", O_DIRECT backing" : "");
	kl_report(&s, KL_UBLK_OK, "ok");

	kl_ctrl_close(&s.ctrl);
	kl_queues_join(dev);
	kl_log("dev %d: all queues stopped, server exits", dev->info.dev_id);
	close(dev->cdev_fd);
	kl_tgt_close(dev);
	free(dev);
	return KL_UBLK_OK;
}

/*
 * Fork the daemon and wait until it reports the device live (or failed).
 * The daemon gets its own session and a log file for stdout/stderr, so a
 * caller's $(kl-ublk add ...) does not wait for it.
 */
static int kl_spawn(const struct kl_dev_cfg *cfg, bool recover)
{
	struct kl_status st;
	char log[PATH_MAX];
	int pfd[2], fd;
	ssize_t n;
	pid_t pid;

	if (cfg->foreground)
		return kl_serve(cfg, recover, -1);

	mkdir(KL_UBLK_RUN_DIR, 0755);
	if (pipe(pfd))
		return KL_UBLK_ERR;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return KL_UBLK_ERR;
	if (pid == 0) {
		close(pfd[0]);
		setsid();
		if (chdir("/"))
			_exit(KL_UBLK_ERR);
		signal(SIGHUP, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		if (recover)
			kl_run_path(log, sizeof(log), cfg->dev_id, "log");
		else
			snprintf(log, sizeof(log), "%s/pending-%d.log",
				 KL_UBLK_RUN_DIR, getpid());
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		_exit(kl_serve(cfg, recover, pfd[1]));
	}
	close(pfd[1]);
	n = read(pfd[0], &st, sizeof(st));
	close(pfd[0]);
	if (n != sizeof(st)) {
		fprintf(stderr, "kl-ublk: server %d died during setup (see %s/)\n",
			pid, KL_UBLK_RUN_DIR);
		waitpid(pid, NULL, WNOHANG);
		return KL_UBLK_ERR;
	}
	if (st.code == KL_UBLK_OK) {
		printf("%d\n", st.dev_id);
		return KL_UBLK_OK;
	}
	/* failed daemons exit right after reporting: reap them */
	waitpid(pid, NULL, 0);
	if (st.code == KL_UBLK_SKIP)
		printf("SKIP: %s\n", st.msg);
	else
		fprintf(stderr, "kl-ublk: %s\n", st.msg);
	return st.code;
}

/* ---------------------------------------------------------------------- */
/* commands                                                                */

static void kl_usage(void)
{
	fprintf(stderr,
		"usage: kl-ublk add -t null|loop [-q N] [-d DEPTH] [-m copy|user-copy|fused-zc|reg-zc|auto-zc]\n"
		"                   [-n ID] [-s MiB] [--recovery] [--foreground] [--poison-sqes] [FILE]\n"
		"       kl-ublk del -n ID | --all\n"
		"       kl-ublk list [-n ID]\n"
		"       kl-ublk features\n"
		"       kl-ublk recover -n ID\n"
		"       kl-ublk stats -n ID\n"
		"exit: 0 ok, 1 error, 2 usage, 4 skip (kernel lacks the feature)\n");
}

static const struct option kl_opts[] = {
	{ "type", required_argument, NULL, 't' },
	{ "queues", required_argument, NULL, 'q' },
	{ "depth", required_argument, NULL, 'd' },
	{ "mode", required_argument, NULL, 'm' },
	{ "number", required_argument, NULL, 'n' },
	{ "size", required_argument, NULL, 's' },
	{ "recovery", no_argument, NULL, 'r' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "poison-sqes", no_argument, NULL, 'P' },
	{ "all", no_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct kl_args {
	struct kl_dev_cfg cfg;
	bool have_tgt;
	bool all;
};

static int kl_parse(int argc, char **argv, struct kl_args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->cfg.nr_queues = KL_UBLK_DEF_QUEUES;
	a->cfg.depth = KL_UBLK_DEF_DEPTH;
	a->cfg.dev_id = -1;
	a->cfg.mode = &kl_mode_copy;
	optind = 2;	/* argv[1] is the command */
	while ((c = getopt_long(argc, argv, "t:q:d:m:n:s:rfPah", kl_opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (kl_tgt_parse(optarg, &a->cfg.tgt))
				return -EINVAL;
			a->have_tgt = true;
			break;
		case 'q':
			a->cfg.nr_queues = atoi(optarg);
			break;
		case 'd':
			a->cfg.depth = atoi(optarg);
			break;
		case 'm':
			a->cfg.mode = kl_mode_find(optarg);
			if (!a->cfg.mode)
				return -EINVAL;
			break;
		case 'n':
			a->cfg.dev_id = atoi(optarg);
			break;
		case 's':
			a->cfg.size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'r':
			a->cfg.recovery = true;
			break;
		case 'f':
			a->cfg.foreground = true;
			break;
		case 'P':
			a->cfg.poison_sqes = true;
			break;
		case 'a':
			a->all = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		if (!realpath(argv[optind], a->cfg.file))
			snprintf(a->cfg.file, sizeof(a->cfg.file), "%s", argv[optind]);
	}
	return 0;
}

static int kl_open_ctrl_or_skip(struct kl_ctrl *c)
{
	int ret = kl_ctrl_open(c);

	if (ret == -ENOENT) {
		printf("SKIP: no /dev/ublk-control (kernel without CONFIG_BLK_DEV_UBLK?)\n");
		return KL_UBLK_SKIP;
	}
	if (ret) {
		fprintf(stderr, "kl-ublk: /dev/ublk-control: %s\n", strerror(-ret));
		return KL_UBLK_ERR;
	}
	return KL_UBLK_OK;
}

static int kl_cmd_add(struct kl_args *a)
{
	struct kl_dev_cfg *cfg = &a->cfg;
	struct kl_ctrl c;
	__u64 features = 0;
	const char *why;
	int ret;

	if (!a->have_tgt || cfg->nr_queues < 1 || cfg->nr_queues > KL_UBLK_MAX_QUEUES ||
	    cfg->depth < 1 || cfg->depth > UBLK_MAX_QUEUE_DEPTH ||
	    (cfg->tgt == KL_TGT_LOOP && !cfg->file[0])) {
		kl_usage();
		return KL_UBLK_USAGE;
	}
	ret = kl_open_ctrl_or_skip(&c);
	if (ret)
		return ret;
	ret = kl_ctrl_get_features(&c, &features);
	kl_ctrl_close(&c);
	if (ret)	/* pre-6.5 kernels: no GET_FEATURES, assume the basics */
		features = UBLK_F_URING_CMD_COMP_IN_TASK | UBLK_F_USER_RECOVERY;
	why = cfg->mode->probe(features);
	if (why) {
		printf("SKIP: %s\n", why);
		return KL_UBLK_SKIP;
	}
	if (cfg->recovery && !(features & UBLK_F_USER_RECOVERY)) {
		printf("SKIP: kernel lacks UBLK_F_USER_RECOVERY\n");
		return KL_UBLK_SKIP;
	}
	return kl_spawn(cfg, false);
}

/* Device ids present, from sysfs, else from /dev. */
static int kl_dev_ids(int *ids, int max)
{
	const char *dirs[] = { "/sys/class/ublk-char", "/dev" };
	int n = 0, id;
	size_t i;

	for (i = 0; i < 2 && !n; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		if (!d)
			continue;
		while ((e = readdir(d)) && n < max)
			if (sscanf(e->d_name, "ublkc%d", &id) == 1)
				ids[n++] = id;
		closedir(d);
	}
	return n;
}

static void kl_print_dev(const struct ublksrv_ctrl_dev_info *info)
{
	struct kl_dev_cfg cfg;
	bool known = !kl_load_cfg(info->dev_id, &cfg);

	printf("dev %u state %s pid %d queues %u depth %u flags 0x%llx target %s mode %s\n",
	       info->dev_id, kl_state_name(info->state), info->ublksrv_pid,
	       info->nr_hw_queues, info->queue_depth,
	       (unsigned long long)info->flags,
	       known ? kl_tgt_name(cfg.tgt) : "?", known ? cfg.mode->name : "?");
}

static int kl_cmd_list(struct kl_args *a)
{
	struct ublksrv_ctrl_dev_info info;
	struct kl_ctrl c;
	int ids[256], n, i, ret;

	ret = kl_open_ctrl_or_skip(&c);
	if (ret)
		return ret;
	if (a->cfg.dev_id >= 0) {
		ret = kl_ctrl_get_info(&c, a->cfg.dev_id, &info);
		if (ret)
			fprintf(stderr, "kl-ublk: dev %d: %s\n", a->cfg.dev_id,
				strerror(-ret));
		else
			kl_print_dev(&info);
		kl_ctrl_close(&c);
		return ret ? KL_UBLK_ERR : KL_UBLK_OK;
	}
	n = kl_dev_ids(ids, 256);
	for (i = 0; i < n; i++)
		if (!kl_ctrl_get_info(&c, ids[i], &info))
			kl_print_dev(&info);
	kl_ctrl_close(&c);
	return KL_UBLK_OK;
}

/*
 * STOP_DEV makes the driver abort the server's commands, so its queue
 * threads leave and it closes /dev/ublkcN; DEL_DEV then waits for that.
 */
static int kl_del_one(struct kl_ctrl *c, int id)
{
	int ret;

	ret = kl_ctrl_stop_dev(c, id);
	if (ret && ret != -ENODEV)
		fprintf(stderr, "kl-ublk: STOP_DEV %d: %s (deleting anyway)\n", id,
			strerror(-ret));
	ret = kl_ctrl_del_dev(c, id, true, KL_DEL_TIMEOUT_MS);
	if (ret) {
		fprintf(stderr, "kl-ublk: DEL_DEV %d: %s\n", id, strerror(-ret));
		return KL_UBLK_ERR;
	}
	kl_forget_dev(id);
	return KL_UBLK_OK;
}

static int kl_cmd_del(struct kl_args *a)
{
	struct kl_ctrl c;
	int ids[256], n, i, ret, rc = KL_UBLK_OK;

	if (!a->all && a->cfg.dev_id < 0) {
		kl_usage();
		return KL_UBLK_USAGE;
	}
	ret = kl_open_ctrl_or_skip(&c);
	if (ret)
		return ret;
	if (a->all) {
		n = kl_dev_ids(ids, 256);
		for (i = 0; i < n; i++)
			if (kl_del_one(&c, ids[i]))
				rc = KL_UBLK_ERR;
	} else {
		rc = kl_del_one(&c, a->cfg.dev_id);
	}
	kl_ctrl_close(&c);
	return rc;
}

static int kl_cmd_features(void)
{
	static const char *const names[] = {
		"SUPPORT_ZERO_COPY", "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA",
		"USER_RECOVERY", "USER_RECOVERY_REISSUE", "UNPRIVILEGED_DEV",
		"CMD_IOCTL_ENCODE", "USER_COPY", "ZONED", "USER_RECOVERY_FAIL_IO",
		"UPDATE_SIZE", "AUTO_BUF_REG",
	};
	struct kl_ctrl c;
	__u64 f;
	size_t i;
	int ret;

	ret = kl_open_ctrl_or_skip(&c);
	if (ret)
		return ret;
	ret = kl_ctrl_get_features(&c, &f);
	kl_ctrl_close(&c);
	if (ret) {
		fprintf(stderr, "kl-ublk: GET_FEATURES: %s\n", strerror(-ret));
		return KL_UBLK_ERR;
	}
	printf("features 0x%llx\n", (unsigned long long)f);
	for (i = 0; i < 64; i++) {
		if (!(f & (1ULL << i)))
			continue;
		if (i < sizeof(names) / sizeof(names[0]))
			printf("  UBLK_F_%s\n", names[i]);
		else if ((1ULL << i) == UBLK_F_FUSED_ZERO_COPY)
			printf("  UBLK_F_FUSED_ZERO_COPY (lab)\n");
		else
			printf("  bit %zu\n", i);
	}
	for (i = 0; i < sizeof(kl_modes) / sizeof(kl_modes[0]); i++) {
		const char *why = kl_modes[i]->probe(f);

		printf("mode %s: %s\n", kl_modes[i]->name, why ? why : "ok");
	}
	return KL_UBLK_OK;
}

/*
 * One line: the device's mode and flags, then each counter of struct
 * kl_stats_file summed over the queues, as "name value" pairs.
 */
static int kl_cmd_stats(struct kl_args *a)
{
	__u64 sum[KL_ST_NR] = { 0 };
	struct kl_stats_file st;
	char path[PATH_MAX];
	unsigned int i, j;
	ssize_t n;
	int fd;

	if (a->cfg.dev_id < 0) {
		kl_usage();
		return KL_UBLK_USAGE;
	}
	kl_run_path(path, sizeof(path), a->cfg.dev_id, "stats");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kl-ublk: no counters for dev %d: %s: %s\n",
			a->cfg.dev_id, path, strerror(errno));
		return KL_UBLK_ERR;
	}
	n = pread(fd, &st, sizeof(st), 0);
	close(fd);
	if (n != sizeof(st) || st.magic != KL_STATS_MAGIC ||
	    st.nr_queues > KL_UBLK_MAX_QUEUES) {
		fprintf(stderr, "kl-ublk: %s is not a kl-ublk counter file\n", path);
		return KL_UBLK_ERR;
	}
	for (i = 0; i < st.nr_queues; i++)
		for (j = 0; j < KL_ST_NR; j++)
			sum[j] += st.q[i][j];
	st.mode[sizeof(st.mode) - 1] = '\0';
	printf("dev %d mode %s flags 0x%llx", a->cfg.dev_id, st.mode,
	       (unsigned long long)st.dev_flags);
	for (j = 0; j < KL_ST_NR; j++)
		printf(" %s %llu", kl_stat_names[j], (unsigned long long)sum[j]);
	printf("\n");
	return KL_UBLK_OK;
}

/*
 * START_USER_RECOVERY is refused (-EBUSY) until the dead server's files are
 * released and the driver has quiesced the device: retry for a while.
 */
static int kl_cmd_recover(struct kl_args *a)
{
	struct ublksrv_ctrl_dev_info info;
	struct kl_dev_cfg cfg;
	struct kl_ctrl c;
	int id = a->cfg.dev_id, ret, i;

	if (id < 0) {
		kl_usage();
		return KL_UBLK_USAGE;
	}
	ret = kl_load_cfg(id, &cfg);
	if (ret) {
		fprintf(stderr, "kl-ublk: no saved config for dev %d: %s\n", id,
			strerror(-ret));
		return KL_UBLK_ERR;
	}
	ret = kl_open_ctrl_or_skip(&c);
	if (ret)
		return ret;
	ret = kl_ctrl_get_info(&c, id, &info);
	if (!ret && !(info.flags & UBLK_F_USER_RECOVERY)) {
		fprintf(stderr, "kl-ublk: dev %d was not added with --recovery\n", id);
		kl_ctrl_close(&c);
		return KL_UBLK_ERR;
	}
	for (i = 0; !ret && i < 150; i++) {
		ret = kl_ctrl_start_recovery(&c, id);
		if (ret != -EBUSY)
			break;
		kl_sleep_ms(100);
	}
	kl_ctrl_close(&c);
	if (ret) {
		fprintf(stderr, "kl-ublk: START_USER_RECOVERY %d: %s\n", id,
			strerror(-ret));
		return KL_UBLK_ERR;
	}
	cfg.foreground = a->cfg.foreground;
	return kl_spawn(&cfg, true);
}

int main(int argc, char **argv)
{
	struct kl_args a;
	const char *cmd;

	if (argc < 2) {
		kl_usage();
		return KL_UBLK_USAGE;
	}
	cmd = argv[1];
	if (kl_parse(argc, argv, &a)) {
		kl_usage();
		return KL_UBLK_USAGE;
	}
	if (!strcmp(cmd, "add"))
		return kl_cmd_add(&a);
	if (!strcmp(cmd, "del"))
		return kl_cmd_del(&a);
	if (!strcmp(cmd, "list"))
		return kl_cmd_list(&a);
	if (!strcmp(cmd, "features"))
		return kl_cmd_features();
	if (!strcmp(cmd, "recover"))
		return kl_cmd_recover(&a);
	if (!strcmp(cmd, "stats"))
		return kl_cmd_stats(&a);
	kl_usage();
	return KL_UBLK_USAGE;
}
