/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Networking helpers of the lab's tests. The guest's init brings up lo only when
 * a suite asks for a network; a test that needs loopback TCP or UDP calls
 * kl_lo_up() itself.
 */
#ifndef KL_NET_H
#define KL_NET_H

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kl_test.h"

static inline void kl_lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
		kl_fail("lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		kl_fail("bringing lo up: %s", strerror(errno));
	close(s);
}

#endif
