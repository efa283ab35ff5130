// SPDX-License-Identifier: GPL-2.0
/* IOSQE_IO_LINK: a short READ breaks the chain, the linked WRITE gets -ECANCELED. */
#include "link_common.h"

int main(void)
{
	int rd = 0, wr = 0;

	short_read_then_write(IOSQE_IO_LINK, &rd, &wr);
	KL_EXPECT_EQ(rd, 4096, "short READ result");
	KL_EXPECT_EQ(wr, -ECANCELED, "linked WRITE after a short READ");
	kl_pass();
}
