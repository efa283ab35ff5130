/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernel-lab test helpers: one program per behaviour.
 *
 * A test program exits KL_PASS, KL_FAIL or KL_SKIP (kselftest's codes); the guest
 * agent turns that into a KTAP result line. Anything printed goes into the test's
 * log as KTAP diagnostics; the last "FAIL:"/"SKIP:" line is the reason shown.
 * Failure messages say what was expected and what came back:
 *	kl_fail("want -ECANCELED, got %d", cqe->res);
 */
#ifndef KL_TEST_H
#define KL_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KL_PASS 0
#define KL_FAIL 1
#define KL_SKIP 4

static inline void kl_vmsg(const char *tag, const char *fmt, va_list ap)
{
	printf("%s", tag);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

/* Diagnostic line, kept in the test's log. */
static inline __attribute__((format(printf, 1, 2))) void kl_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kl_vmsg("", fmt, ap);
	va_end(ap);
}

static inline __attribute__((noreturn, format(printf, 1, 2))) void kl_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kl_vmsg("FAIL: ", fmt, ap);
	va_end(ap);
	exit(KL_FAIL);
}

/* The kernel or environment lacks what the test needs: never a failure. */
static inline __attribute__((noreturn, format(printf, 1, 2))) void kl_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kl_vmsg("SKIP: ", fmt, ap);
	va_end(ap);
	exit(KL_SKIP);
}

static inline __attribute__((noreturn)) void kl_pass(void)
{
	exit(KL_PASS);
}

/* errno name for a negative result, "" otherwise: "-125 (Operation canceled)". */
static inline const char *kl_err(long long v)
{
	return v < 0 && v > -4096 ? strerror((int)-v) : "";
}

/* Check an expected value: KL_EXPECT_EQ(cqe->res, -ECANCELED, "linked write"). */
#define KL_EXPECT_EQ(got, want, what)                                             \
	do {                                                                      \
		long long __g = (long long)(got), __w = (long long)(want);        \
		if (__g != __w)                                                   \
			kl_fail("%s: want %lld%s%s%s, got %lld%s%s%s", what, __w, \
				*kl_err(__w) ? " (" : "", kl_err(__w),            \
				*kl_err(__w) ? ")" : "", __g,                      \
				*kl_err(__g) ? " (" : "", kl_err(__g),            \
				*kl_err(__g) ? ")" : "");                         \
	} while (0)

#define KL_ASSERT(cond, ...)                                                      \
	do {                                                                      \
		if (!(cond))                                                      \
			kl_fail(__VA_ARGS__);                                     \
	} while (0)

/* The lab's timeout multiplier: KL_SCALE, 1 under KVM, more under TCG. */
static inline int kl_scale(void)
{
	const char *s = getenv("KL_SCALE");
	int v = s ? atoi(s) : 1;

	return v > 0 ? v : 1;
}

/* How long a test waits for one thing to happen (a completion, a request, a command). */
#define KL_TIMEOUT_MS	(10000 * kl_scale())

static inline long long kl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#endif
