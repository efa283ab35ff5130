// SPDX-License-Identifier: GPL-2.0
/*
 * test_verifier without bpf_testmod.ko. Upstream's load_bpf_testmod() (testing_helpers.c)
 * opens and finit_module()s the module, and do_test() gives up on every test when that
 * fails. The lab's kernels have no module support and no BTF (the module needs both), so
 * this says the module is absent and lets the tests run: those that need its kfuncs fail
 * on their own ("Failed to find BTF ID"), the rest do not need it.
 */
#include <stdbool.h>
#include <stdio.h>

int load_bpf_testmod(bool verbose)
{
	(void)verbose;
	printf("bpf_testmod.ko: not loaded, the lab's kernel has no modules and no BTF\n");
	return 0;
}

int unload_bpf_testmod(bool verbose)
{
	(void)verbose;
	return 0;
}
