// SPDX-License-Identifier: GPL-2.0
/*
 * Device offload: handing a socket's keys to the NIC it sends through,
 * and taking them back. RX offload (device_rx.c) shares the device
 * lookup, the locks and the handling of a device that goes down.
 *
 * setsockopt(TLS_TX) offers the keys to the route's device when it has
 * NETIF_F_HW_TLS_TX (tls_dev_tx_start()). From then on the socket frames
 * its records in plaintext and sends them marked decrypted (device_tx.c);
 * tls_validate_xmit_skb() lets them through to that device and encrypts
 * them in software on any other (device_fallback.c).
 *
 * Lifetime. A driver may look at the socket's context, and at the records,
 * for every skb of the socket it transmits, and skbs outlive close(). So
 * the state lives until the socket is destroyed: close() leaves the
 * context in place (ulp.c), tls_dev_sk_destruct() drops the socket's
 * reference, and tls_dev_del() runs once, from whichever comes first of
 * the socket's destruction (tls_dev_destroy()) and the device going down
 * (tls_dev_down()). tls_dev_rwsem keeps a device from going down while
 * one of its adds runs; tls_dev_list_lock decides which side unbinds.
 */

#include <linux/module.h>
#include <linux/netdevice.h>
#include <net/dst.h>
#include <net/tcp.h>

#include "device.h"
#include "sock.h"
#include "stat.h"
#include "tx.h"

/* Taken for reading around tls_dev_add(), for writing by device down */
static DECLARE_RWSEM(tls_dev_rwsem);
/* Guards the lists and the bound flags; taken in sk_destruct */
static DEFINE_SPINLOCK(tls_dev_list_lock);
static LIST_HEAD(tls_dev_list);
static LIST_HEAD(tls_dev_rx_list);
/* tls_dev_del() may sleep; sockets are destroyed in any context */
static struct workqueue_struct *tls_dev_wq;

/**
 * tls_dev_route() - the device the socket's packets leave through
 * @sk: the socket
 *
 * Under bonds, the lowest device the socket's flow maps to: the one that
 * sends, and (with symmetric hashing) receives its packets.
 *
 * Return: the device, held (dev_put()), or NULL.
 */
struct net_device *tls_dev_route(struct sock *sk)
{
	struct net_device *netdev = NULL;
	struct dst_entry *dst;

	dst = sk_dst_get(sk);
	if (!dst)
		return NULL;
	if (dst->dev) {
		rcu_read_lock();
		netdev = netdev_sk_get_lowest_dev(dst->dev, sk);
		dev_hold(netdev);
		rcu_read_unlock();
	}
	dst_release(dst);
	return netdev;
}

/* 6.12's devices offload TLS 1.2 AES-GCM; other keys stay in software */
static bool tls_dev_tx_keys_ok(const struct tls_tx *tx)
{
	u16 type = tx->key.cipher->type;

	return tx->key.version == TLS_1_2_VERSION &&
	       (type == TLS_CIPHER_AES_GCM_128 ||
		type == TLS_CIPHER_AES_GCM_256);
}

static bool tls_dev_tx_capable(const struct net_device *netdev)
{
	return (netdev->features & NETIF_F_HW_TLS_TX) && netdev->tlsdev_ops &&
	       (netdev->flags & IFF_UP) && !netif_is_bond_master(netdev);
}

static void tls_dev_free(struct tls_dev_tx *dev)
{
	tls_dev_tx_records_free(dev);
	tls_dev_fb_free(dev);
	kfree(dev);
}

/**
 * tls_dev_tx_put() - drop a reference on a socket's TX offload state
 * @dev: the state; process context
 *
 * The last one frees it, and the socket's struct tls_sock with it: the
 * socket is gone and no device knows the keys any more.
 */
void tls_dev_tx_put(struct tls_dev_tx *dev)
{
	if (!refcount_dec_and_test(&dev->refs))
		return;
	kfree(container_of(dev->ctx, struct tls_sock, ctx));
	tls_dev_free(dev);
	module_put(THIS_MODULE);
}

/* The socket is gone: forget the keys on the device unless it did */
static void tls_dev_destroy(struct work_struct *work)
{
	struct tls_dev_tx *dev = container_of(work, struct tls_dev_tx, destroy);

	if (dev->unbind) {
		dev->netdev->tlsdev_ops->tls_dev_del(dev->netdev, dev->ctx,
						     TLS_OFFLOAD_CTX_DIR_TX);
		netdev_put(dev->netdev, &dev->tracker);
		tls_dev_tx_put(dev);
	}
	tls_dev_tx_put(dev);
}

/*
 * The socket's destructor, in any context: no skb of the socket is left,
 * so the records can go; the rest needs process context.
 */
static void tls_dev_sk_destruct(struct sock *sk)
{
	struct tls_dev_tx *dev = tls_dev_tx_of(tls_get_ctx(sk));
	unsigned long flags;

	dev->sk_destruct(sk);
	clean_acked_data_disable(inet_csk(sk));

	spin_lock_irqsave(&tls_dev_list_lock, flags);
	dev->unbind = dev->bound;
	if (dev->bound) {
		dev->bound = false;
		list_del_init(&dev->node);
	}
	dev->sk = NULL;
	spin_unlock_irqrestore(&tls_dev_list_lock, flags);

	tls_dev_tx_records_free(dev);
	queue_work(tls_dev_wq, &dev->destroy);
}

/* The start marker: what the socket sent before offload began */
static int tls_dev_tx_marker(struct sock *sk, struct tls_dev_tx *dev,
			     u64 first_sn)
{
	struct tls_record_info *rec;

	rec = kzalloc(sizeof(*rec), sk->sk_allocation);
	if (!rec)
		return -ENOMEM;
	rec->end_seq = tcp_sk(sk)->write_seq;
	list_add_tail(&rec->list, &dev->records);
	dev->first_sn = first_sn;
	return 0;
}

static struct tls_dev_tx *tls_dev_tx_alloc(struct sock *sk, struct tls_tx *tx)
{
	struct tls_dev_tx *dev;

	dev = kzalloc(sizeof(*dev), sk->sk_allocation);
	if (!dev)
		return NULL;
	spin_lock_init(&dev->pub.lock);
	INIT_LIST_HEAD(&dev->records);
	INIT_LIST_HEAD(&dev->node);
	INIT_WORK(&dev->destroy, tls_dev_destroy);
	spin_lock_init(&dev->fb_lock);
	/* the marker is the record before the first one the device gets */
	if (tls_dev_tx_marker(sk, dev, tx->key.seq - 1) ||
	    tls_dev_fb_init(dev, &tx->key)) {
		tls_dev_free(dev);
		return NULL;
	}
	return dev;
}

/**
 * tls_dev_add() - offer one direction's keys to a device
 * @netdev: the device, up when the route was read
 * @sk: the socket, locked; tls_dev_rwsem held
 * @dir: TLS_OFFLOAD_CTX_DIR_TX or TLS_OFFLOAD_CTX_DIR_RX
 * @key: the keys, as user space set them (no record under them yet)
 * @start: the TCP sequence number of the first record under them
 *
 * Return: the driver's tls_dev_add() result, or -ENODEV when the device
 * went down since the route was read.
 */
int tls_dev_add(struct net_device *netdev, struct sock *sk,
		enum tls_offload_ctx_dir dir, const struct tls_key *key,
		u32 start)
{
	/* drivers copy what they keep of it */
	u8 info[TLS_CIPHER_INFO_MAX];
	int err;

	if (!(netdev->flags & IFF_UP))
		return -ENODEV;
	tls_key_export(key, info);
	err = netdev->tlsdev_ops->tls_dev_add(netdev, sk, dir,
					      (struct tls_crypto_info *)info,
					      start);
	memzero_explicit(info, sizeof(info));
	return err;
}

/* Offer the keys to @netdev; socket locked, tls_dev_rwsem held */
static int tls_dev_tx_add(struct sock *sk, struct tls_dev_tx *dev,
			  struct tls_tx *tx, struct net_device *netdev)
{
	/* the first offloaded byte starts an skb of its own */
	if (netdev->flags & IFF_UP)
		tcp_write_collapse_fence(sk);
	return tls_dev_add(netdev, sk, TLS_OFFLOAD_CTX_DIR_TX, &tx->key,
			   tcp_sk(sk)->write_seq);
}

/* The keys are on @netdev: make the socket's skbs go to it marked */
static void tls_dev_tx_bind(struct sock *sk, struct tls_dev_tx *dev,
			    struct net_device *netdev)
{
	netdev_hold(netdev, &dev->tracker, GFP_KERNEL);
	dev->netdev = netdev;
	dev->sk = sk;
	refcount_set(&dev->refs, 2);
	rcu_assign_pointer(dev->ctx->netdev, netdev);

	spin_lock_irq(&tls_dev_list_lock);
	dev->bound = true;
	list_add_tail(&dev->node, &tls_dev_list);
	spin_unlock_irq(&tls_dev_list_lock);

	__module_get(THIS_MODULE);
	dev->sk_destruct = sk->sk_destruct;
	sk->sk_destruct = tls_dev_sk_destruct;
	clean_acked_data_enable(inet_csk(sk), tls_dev_tx_clean_acked);
	/*
	 * tls_is_skb_tx_device_offloaded() turns true with this store; the
	 * acquire there sees the driver state and ctx->netdev set before
	 */
	smp_store_release(&sk->sk_validate_xmit_skb, tls_validate_xmit_skb);
}

/**
 * tls_dev_tx_start() - hand TX keys to the device, if one takes them
 * @sk: the socket, locked
 * @ts: its kTLS state
 * @tx: its TX path, keyed, not published yet
 *
 * Return: the offload state, or NULL: the socket encrypts in software
 * (no capable device on the route, keys it does not take, or it refused).
 */
struct tls_dev_tx *tls_dev_tx_start(struct sock *sk, struct tls_sock *ts,
				    struct tls_tx *tx)
{
	struct net_device *netdev;
	struct tls_dev_tx *dev;
	int err;

	if (!tls_dev_tx_keys_ok(tx))
		return NULL;
	netdev = tls_dev_route(sk);
	if (!netdev)
		return NULL;
	if (!tls_dev_tx_capable(netdev)) {
		dev_put(netdev);
		return NULL;
	}
	dev = tls_dev_tx_alloc(sk, tx);
	if (!dev) {
		dev_put(netdev);
		return NULL;
	}
	dev->ctx = &ts->ctx;
	/* the driver finds its state area through the context */
	ts->ctx.priv_ctx_tx = &dev->pub;

	down_read(&tls_dev_rwsem);
	err = tls_dev_tx_add(sk, dev, tx, netdev);
	if (!err)
		tls_dev_tx_bind(sk, dev, netdev);
	up_read(&tls_dev_rwsem);
	dev_put(netdev);
	if (err) {
		ts->ctx.priv_ctx_tx = NULL;
		tls_dev_free(dev);
		return NULL;
	}
	return dev;
}

/* Keep devices from going down (tls_dev_down()) meanwhile; sleeps */
void tls_dev_read_lock(void)
{
	down_read(&tls_dev_rwsem);
}

void tls_dev_read_unlock(void)
{
	up_read(&tls_dev_rwsem);
}

/**
 * tls_offload_tx_resync_request() - a driver lost track of a TX stream
 * @sk: the socket
 * @got_seq: the TCP sequence number the driver saw
 * @exp_seq: the one it expected
 *
 * The core calls tls_dev_resync() with the start of the next record it
 * sends; until that returns 0, tls_offload_tx_resync_pending() is true.
 */
void tls_offload_tx_resync_request(struct sock *sk, u32 got_seq, u32 exp_seq)
{
	set_bit(TLS_TX_SYNC_SCHED, &tls_get_ctx(sk)->flags);
}
EXPORT_SYMBOL_GPL(tls_offload_tx_resync_request);

/**
 * tls_dev_rx_link() - note that @dev's device holds RX keys
 * @dev: the RX offload state, its tls_dev_add() done; tls_dev_rwsem held
 */
void tls_dev_rx_link(struct tls_dev_rx *dev)
{
	spin_lock_irq(&tls_dev_list_lock);
	dev->bound = true;
	list_add_tail(&dev->node, &tls_dev_rx_list);
	spin_unlock_irq(&tls_dev_list_lock);
}

/**
 * tls_dev_rx_unlink() - take @dev off its device, unless the device did
 * @dev: the RX offload state; tls_dev_rwsem held
 *
 * Return: true when the caller owes the device its tls_dev_del().
 */
bool tls_dev_rx_unlink(struct tls_dev_rx *dev)
{
	bool bound;

	spin_lock_irq(&tls_dev_list_lock);
	bound = dev->bound;
	if (bound) {
		dev->bound = false;
		list_del_init(&dev->node);
	}
	spin_unlock_irq(&tls_dev_list_lock);
	return bound;
}

/* The RX half of tls_dev_down(): no resync reaches @netdev from now */
static void tls_dev_rx_down(struct net_device *netdev, struct list_head *gone)
{
	struct tls_dev_rx *dev, *tmp;

	list_for_each_entry_safe(dev, tmp, &tls_dev_rx_list, node) {
		if (dev->netdev != netdev)
			continue;
		dev->bound = false;
		list_move_tail(&dev->node, gone);
		RCU_INIT_POINTER(dev->live, NULL);
	}
}

/*
 * The RX half, after the grace period. The state stays with the socket
 * (tls_dev_rx_stop() frees it), which holds tls_dev_rwsem for reading
 * while it does: it cannot be freed under us.
 */
static void tls_dev_rx_del(struct net_device *netdev, struct list_head *gone)
{
	struct tls_dev_rx *dev, *tmp;

	list_for_each_entry_safe(dev, tmp, gone, node) {
		list_del_init(&dev->node);
		netdev->tlsdev_ops->tls_dev_del(netdev, dev->ctx,
						TLS_OFFLOAD_CTX_DIR_RX);
		netdev_put(netdev, &dev->tracker);
	}
}

/*
 * @netdev goes down or away: every socket offloaded to it encrypts and
 * decrypts in software from now on, and the device forgets the keys.
 * rtnl held.
 */
static void tls_dev_down(struct net_device *netdev)
{
	struct tls_dev_tx *dev, *tmp;
	LIST_HEAD(rx_gone);
	LIST_HEAD(gone);

	down_write(&tls_dev_rwsem);
	spin_lock_irq(&tls_dev_list_lock);
	tls_dev_rx_down(netdev, &rx_gone);
	list_for_each_entry_safe(dev, tmp, &tls_dev_list, node) {
		if (dev->netdev != netdev)
			continue;
		/* bound: the socket is not destroyed before we unlock */
		dev->bound = false;
		list_move_tail(&dev->node, &gone);
		/* tls_is_skb_tx_device_offloaded() acquires it: false now */
		smp_store_release(&dev->sk->sk_validate_xmit_skb,
				  tls_dev_validate_sw);
		RCU_INIT_POINTER(dev->ctx->netdev, NULL);
	}
	spin_unlock_irq(&tls_dev_list_lock);

	/* no transmit that saw the old hook, no resync, still runs */
	synchronize_net();
	tls_dev_rx_del(netdev, &rx_gone);
	list_for_each_entry_safe(dev, tmp, &gone, node) {
		list_del_init(&dev->node);
		netdev->tlsdev_ops->tls_dev_del(netdev, dev->ctx,
						TLS_OFFLOAD_CTX_DIR_TX);
		netdev_put(netdev, &dev->tracker);
		tls_dev_tx_put(dev);
	}
	up_write(&tls_dev_rwsem);
	/* sockets destroyed meanwhile: their tls_dev_del() is done too */
	flush_workqueue(tls_dev_wq);
}

/* A device that claims TLS offload must have the callbacks for it */
static int tls_dev_check(struct net_device *netdev)
{
	const struct tlsdev_ops *ops = netdev->tlsdev_ops;

	if (netif_is_bond_master(netdev))
		return NOTIFY_DONE;
	if (!ops || !ops->tls_dev_add || !ops->tls_dev_del)
		return NOTIFY_BAD;
	if ((netdev->features & NETIF_F_HW_TLS_RX) && !ops->tls_dev_resync)
		return NOTIFY_BAD;
	return NOTIFY_DONE;
}

static int tls_dev_event(struct notifier_block *nb, unsigned long event,
			 void *ptr)
{
	struct net_device *netdev = netdev_notifier_info_to_dev(ptr);

	if (!netdev->tlsdev_ops &&
	    !(netdev->features & (NETIF_F_HW_TLS_TX | NETIF_F_HW_TLS_RX)))
		return NOTIFY_DONE;
	switch (event) {
	case NETDEV_REGISTER:
	case NETDEV_FEAT_CHANGE:
		return tls_dev_check(netdev);
	case NETDEV_DOWN:
	case NETDEV_UNREGISTER:
		tls_dev_down(netdev);
		return NOTIFY_DONE;
	}
	return NOTIFY_DONE;
}

static struct notifier_block tls_dev_notifier = {
	.notifier_call	= tls_dev_event,
};

int __init tls_dev_init(void)
{
	int err;

	tls_dev_wq = alloc_workqueue("tls-dev", 0, 0);
	if (!tls_dev_wq)
		return -ENOMEM;
	err = register_netdevice_notifier(&tls_dev_notifier);
	if (err)
		destroy_workqueue(tls_dev_wq);
	return err;
}

void tls_dev_exit(void)
{
	unregister_netdevice_notifier(&tls_dev_notifier);
	destroy_workqueue(tls_dev_wq);
}
