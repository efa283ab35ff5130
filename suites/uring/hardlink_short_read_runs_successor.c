// SPDX-License-Identifier: GPL-2.0
/* IOSQE_IO_HARDLINK: a short READ does not break the chain, the WRITE runs. */
#include "link_common.h"

int main(void)
{
	int rd = 0, wr = 0;

	short_read_then_write(IOSQE_IO_HARDLINK, &rd, &wr);
	KL_EXPECT_EQ(rd, 4096, "short READ result");
	KL_EXPECT_EQ(wr, 4096, "hard-linked WRITE after a short READ");
	kl_pass();
}
