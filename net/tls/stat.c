// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/tls_stat: kTLS counters of a network namespace.
 *
 * Each line is "Name value". The names are the interface: tools such as
 * nstat and the selftests look them up, so they do not change.
 */

#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#include "stat.h"

static const struct {
	const char	*name;
	int		field;
} tls_stat_names[] = {
	{ "TlsCurrTxSw",		LINUX_MIB_TLSCURRTXSW },
	{ "TlsCurrRxSw",		LINUX_MIB_TLSCURRRXSW },
	{ "TlsCurrTxDevice",		LINUX_MIB_TLSCURRTXDEVICE },
	{ "TlsCurrRxDevice",		LINUX_MIB_TLSCURRRXDEVICE },
	{ "TlsTxSw",			LINUX_MIB_TLSTXSW },
	{ "TlsRxSw",			LINUX_MIB_TLSRXSW },
	{ "TlsTxDevice",		LINUX_MIB_TLSTXDEVICE },
	{ "TlsRxDevice",		LINUX_MIB_TLSRXDEVICE },
	{ "TlsDecryptError",		LINUX_MIB_TLSDECRYPTERROR },
	{ "TlsRxDeviceResync",		LINUX_MIB_TLSRXDEVICERESYNC },
	{ "TlsDecryptRetry",		LINUX_MIB_TLSDECRYPTRETRY },
	{ "TlsRxNoPadViolation",	LINUX_MIB_TLSRXNOPADVIOL },
	{ "TlsRxRekeyOk",		LINUX_MIB_TLSRXREKEYOK },
	{ "TlsRxRekeyError",		LINUX_MIB_TLSRXREKEYERROR },
	{ "TlsTxRekeyOk",		LINUX_MIB_TLSTXREKEYOK },
	{ "TlsTxRekeyError",		LINUX_MIB_TLSTXREKEYERROR },
	{ "TlsRxRekeyReceived",		LINUX_MIB_TLSRXREKEYRECEIVED },
};

static int __maybe_unused tls_stat_show(struct seq_file *seq, void *v)
{
	struct net *net = seq->private;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(tls_stat_names); i++) {
		/* the "current" counters go down too: fold them as signed */
		long val = snmp_fold_field(net->mib.tls_statistics,
					   tls_stat_names[i].field);

		seq_printf(seq, "%-32s\t%ld\n", tls_stat_names[i].name, val);
	}
	return 0;
}

static int __net_init tls_stat_net_init(struct net *net)
{
	net->mib.tls_statistics = alloc_percpu(struct linux_tls_mib);
	if (!net->mib.tls_statistics)
		return -ENOMEM;
	if (!proc_create_net_single("tls_stat", 0444, net->proc_net,
				    tls_stat_show, NULL) &&
	    IS_ENABLED(CONFIG_PROC_FS)) {
		free_percpu(net->mib.tls_statistics);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit tls_stat_net_exit(struct net *net)
{
	remove_proc_entry("tls_stat", net->proc_net);
	free_percpu(net->mib.tls_statistics);
}

static struct pernet_operations tls_stat_net_ops = {
	.init = tls_stat_net_init,
	.exit = tls_stat_net_exit,
};

int tls_stat_init(void)
{
	return register_pernet_subsys(&tls_stat_net_ops);
}

void tls_stat_exit(void)
{
	unregister_pernet_subsys(&tls_stat_net_ops);
}
