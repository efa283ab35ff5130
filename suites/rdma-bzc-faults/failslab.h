/* SPDX-License-Identifier: GPL-2.0 */
/* failslab's debugfs knobs, for this suite's tests that fail slab allocations. */
#ifndef KL_FAILSLAB_H
#define KL_FAILSLAB_H

#define FS	"/sys/kernel/debug/failslab/"

static void fs_write(const char *knob, const char *v)
{
	char path[128];
	int fd, n;

	snprintf(path, sizeof(path), FS "%s", knob);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	KL_ASSERT(fd >= 0, "%s: %s (the kernel has CONFIG_FAILSLAB and CONFIG_FAULT_INJECTION_DEBUG_FS; "
		  "require-* and stacktrace-depth need CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)", path, strerror(errno));
	n = write(fd, v, strlen(v));
	KL_ASSERT(n == (int)strlen(v), "write '%s' to %s: %s", v, path, strerror(errno));
	close(fd);
}

static void fs_read(const char *knob, char *out, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), FS "%s", knob);
	f = fopen(path, "r");
	KL_ASSERT(f && fgets(out, (int)len, f), "%s: %s", path, strerror(errno));
	fclose(f);
	out[strcspn(out, "\n")] = 0;
}

#endif
