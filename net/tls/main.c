// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel TLS (kTLS): module init and exit.
 *
 * Documentation/networking/tls.rst describes the socket API and which
 * file of this directory does what.
 */

#include <linux/module.h>

#include "device.h"
#include "key.h"
#include "stat.h"
#include "ulp.h"

static int __init tls_init(void)
{
	int err;

	err = tls_stat_init();
	if (err)
		return err;
	err = tls_dev_init();
	if (err)
		goto stat;
	err = tcp_register_ulp(&tls_ulp_ops);
	if (err)
		goto dev;
	tls_key_debugfs_init();
	return 0;
dev:
	tls_dev_exit();
stat:
	tls_stat_exit();
	return err;
}

static void __exit tls_exit(void)
{
	tls_key_debugfs_exit();
	tcp_unregister_ulp(&tls_ulp_ops);
	tls_dev_exit();
	tls_stat_exit();
}

module_init(tls_init);
module_exit(tls_exit);

MODULE_DESCRIPTION("Kernel TLS (kTLS): TLS records in the kernel");
MODULE_LICENSE("GPL");
MODULE_ALIAS_TCP_ULP("tls");
