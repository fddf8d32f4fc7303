/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TLS_STAT_H
#define _TLS_STAT_H

#include <net/ip.h>
#include <net/snmp.h>

/* The per-netns counters of /proc/net/tls_stat (LINUX_MIB_TLS*) */
static inline void tls_stat_inc(struct net *net, int field)
{
	SNMP_INC_STATS(net->mib.tls_statistics, field);
}

static inline void tls_stat_dec(struct net *net, int field)
{
	SNMP_DEC_STATS(net->mib.tls_statistics, field);
}

int tls_stat_init(void);
void tls_stat_exit(void);

#endif /* _TLS_STAT_H */
