// SPDX-License-Identifier: GPL-2.0
/*
 * Only the ring's submitter task may attach or detach a program (review T3):
 * a DEFER_TASKRUN ring is SINGLE_ISSUER, and io_uring_register() from any
 * other task, a thread of the same process or a forked child holding the
 * ring fd, is -EEXIST before the opcode is looked at. So a second attach
 * from another task is -EEXIST, not -EBUSY, and neither an attach nor a
 * detach from another task changes what the ring has: checked through the
 * submitter (-ENXIO: nothing attached; a skip-all program still drops CQEs).
 */
#include "ubpf.h"
#include <pthread.h>
#include <sys/wait.h>

struct other_task {
	struct io_uring *ring;
	int prog;
	int attach_ret;
	int detach_ret;
};

static void *other_thread(void *arg)
{
	struct other_task *t = arg;

	t->attach_ret = ubpf_attach(t->ring, t->prog);
	t->detach_ret = ubpf_detach(t->ring);
	return NULL;
}

static void from_thread(struct io_uring *ring, int prog, const char *when)
{
	struct other_task t = { .ring = ring, .prog = prog };
	pthread_t th;
	char what[160];
	int err;

	err = pthread_create(&th, NULL, other_thread, &t);
	if (err)
		kl_fail("pthread_create: %s", strerror(err));
	pthread_join(th, NULL);
	snprintf(what, sizeof(what), "attach from another thread, %s", when);
	KL_EXPECT_EQ(t.attach_ret, -EEXIST, what);
	snprintf(what, sizeof(what), "detach from another thread, %s", when);
	KL_EXPECT_EQ(t.detach_ret, -EEXIST, what);
}

/* the child reports attach's and detach's results as its exit code */
static void from_child(struct io_uring *ring, int prog, const char *when)
{
	int status, attach_ret, detach_ret;
	pid_t pid = fork();

	if (pid < 0)
		kl_fail("fork: %s", strerror(errno));
	if (!pid) {
		attach_ret = ubpf_attach(ring, prog);
		detach_ret = ubpf_detach(ring);
		_exit((attach_ret == -EEXIST ? 0 : 1) | (detach_ret == -EEXIST ? 0 : 2));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		kl_fail("child process (%s) did not exit normally", when);
	KL_ASSERT(!(WEXITSTATUS(status) & 1),
		  "attach from a forked child holding the ring fd, %s: want -EEXIST, got another result",
		  when);
	KL_ASSERT(!(WEXITSTATUS(status) & 2),
		  "detach from a forked child holding the ring fd, %s: want -EEXIST, got another result",
		  when);
}

int main(void)
{
	struct io_uring ring;
	int prog;

	close(ubpf_require());
	prog = UBPF_LOAD(I_RET(UBPF_SKIP));
	if (prog < 0)
		kl_fail("load skip-all program: %s\n%s", strerror(errno), ubpf_log);
	ubpf_defer_ring(&ring, 16);

	/* nothing attached: the other tasks cannot attach */
	from_thread(&ring, prog, "no program attached");
	from_child(&ring, prog, "no program attached");
	KL_EXPECT_EQ(ubpf_detach(&ring), -ENXIO,
		     "submitter's detach after the other tasks' attach (nothing may be attached)");
	KL_EXPECT_EQ(ubpf_nops(&ring, 8), 8, "CQEs of NOPs with no program");

	/* attached by the submitter: the other tasks can neither replace nor detach it */
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach from the submitter");
	from_thread(&ring, prog, "program attached");
	from_child(&ring, prog, "program attached");
	KL_EXPECT_EQ(ubpf_nops(&ring, 8), 0,
		     "CQEs of NOPs after the other tasks' detach (the skip-all program must still run)");
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), -EBUSY, "second attach from the submitter");
	KL_EXPECT_EQ(ubpf_detach(&ring), 0, "detach from the submitter");
	KL_EXPECT_EQ(ubpf_nops(&ring, 8), 8, "CQEs of NOPs after the submitter's detach");
	io_uring_queue_exit(&ring);
	kl_pass();
}
