/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What bzc_bw and tcp_bw share: `<prog> a|b MODE SIZE QD COUNT TAG`, and the
 * barriers of one run (TAG-what), which both guests pass in step.
 */
#ifndef BW_ARGS_H
#define BW_ARGS_H

#include "../rdma-bzc/bzc_test.h"

struct bw_args {
	int is_b;		/* guest b (the passive side) */
	const char *mode;	/* one of the program's two modes */
	size_t size;		/* 1 B..16M (bzc's largest command) */
	unsigned int qd;	/* 1..32 in flight (bzc's most per connection) */
	unsigned long long count;	/* messages in all, QD or more */
	const char *tag;
};

static inline struct bw_args bw_parse(int argc, char **argv, const char *mode1, const char *mode2)
{
	const char *role = argc > 1 ? argv[1] : "", *mode = argc > 2 ? argv[2] : "";
	struct bw_args a = { 0 };
	unsigned long long v;
	char *end;

	KL_ASSERT(argc == 7 && (!strcmp(role, "a") || !strcmp(role, "b")) &&
			  (!strcmp(mode, mode1) || !strcmp(mode, mode2)),
		  "usage: %s a|b %s|%s SIZE QD COUNT TAG", argv[0], mode1, mode2);
	v = strtoull(argv[3], &end, 10);
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	KL_ASSERT(!*end && v >= 1 && v <= (16 << 20), "SIZE '%s': want 1 B..16M", argv[3]);
	a.is_b = !strcmp(role, "b");
	a.mode = mode;
	a.size = v;
	a.qd = (unsigned int)atoi(argv[4]);
	a.count = strtoull(argv[5], NULL, 10);
	KL_ASSERT(a.qd >= 1 && a.qd <= 32 && a.count >= a.qd, "QD '%s' (1..32) and COUNT '%s' (QD or more)",
		  argv[4], argv[5]);
	a.tag = argv[6];
	return a;
}

/* The barrier TAG-what of this run. */
static inline void bw_barrier(const char *tag, const char *what)
{
	char t[64];

	snprintf(t, sizeof(t), "%s-%s", tag, what);
	bzc_barrier(t);
}

#endif
