// SPDX-License-Identifier: GPL-2.0
/*
 * TX device offload: the records a device may need again.
 *
 * Under offload a record is framed, not sealed: header, explicit nonce,
 * plaintext and room for the tag go to TCP marked decrypted, and the
 * device encrypts them as they leave. A retransmission can start
 * anywhere in a record, and GCM cannot be resumed mid-record without the
 * bytes before, so every record stays listed, with a reference on its
 * pages, until TCP's una passes its end: tls_get_record() finds it by
 * TCP sequence number for the driver or the software fallback.
 *
 * The list grows at the tail under the socket lock and shrinks at the
 * head from ACK processing (softirq); both hold the context's lock, which
 * drivers also take (irqsave) around tls_get_record().
 */

#include <net/tcp.h>

#include "device.h"

static void tls_dev_record_free(struct tls_record_info *rec)
{
	int i;

	for (i = 0; i < rec->num_frags; i++)
		put_page(skb_frag_page(&rec->frags[i]));
	kfree(rec);
}

/* No skb of the socket is left: no driver looks at the records any more */
void tls_dev_tx_records_free(struct tls_dev_tx *dev)
{
	struct tls_record_info *rec, *tmp;
	unsigned long flags;
	LIST_HEAD(gone);

	spin_lock_irqsave(&dev->pub.lock, flags);
	list_splice_init(&dev->records, &gone);
	spin_unlock_irqrestore(&dev->pub.lock, flags);
	list_for_each_entry_safe(rec, tmp, &gone, list)
		tls_dev_record_free(rec);
}

/*
 * A driver asked to be told where a record starts: this one, which is
 * the next TCP sends, starting an skb of its own. Sleeps.
 */
static void tls_dev_tx_resync(struct sock *sk, struct tls_dev_tx *dev,
			      u64 sn)
{
	struct net_device *netdev;
	__be64 rcd_sn = cpu_to_be64(sn);
	int err = -ENODEV;

	tcp_write_collapse_fence(sk);
	/* device down cannot delete the keys while the driver resyncs */
	tls_dev_read_lock();
	netdev = rcu_dereference_protected(dev->ctx->netdev, true);
	if (netdev && netdev->tlsdev_ops->tls_dev_resync)
		err = netdev->tlsdev_ops->tls_dev_resync(netdev, sk,
							 tcp_sk(sk)->write_seq,
							 (u8 *)&rcd_sn,
							 TLS_OFFLOAD_CTX_DIR_TX);
	tls_dev_read_unlock();
	if (!err) {
		/* the driver's new state is visible before the flag clears */
		smp_mb__before_atomic();
		clear_bit(TLS_TX_SYNC_SCHED, &dev->ctx->flags);
	}
}

/**
 * tls_dev_tx_record() - list a framed record before TCP gets it
 * @sk: the socket, locked; TCP has taken every byte before the record
 * @dev: its offload state
 * @seg: the record's memory: header, nonce, plaintext, tag room
 * @nr: pieces of @seg
 * @len: the record's length
 * @sn: its record sequence number
 *
 * Return: 0, or -ENOMEM with nothing changed.
 */
int tls_dev_tx_record(struct sock *sk, struct tls_dev_tx *dev,
		      const struct bio_vec *seg, unsigned int nr,
		      unsigned int len, u64 sn)
{
	struct tls_record_info *rec;
	unsigned int i, left;
	unsigned long flags;

	for (i = 0, left = 0; i < nr; i++)
		left += seg[i].bv_len;
	/* drivers and the fallback read @len bytes from the frags */
	if (WARN_ON_ONCE(nr > MAX_SKB_FRAGS || left < len))
		return -EINVAL;
	rec = kmalloc(sizeof(*rec), sk->sk_allocation);
	if (!rec)
		return -ENOMEM;
	for (i = 0, left = len; i < nr && left; i++) {
		unsigned int n = min(left, seg[i].bv_len);

		get_page(seg[i].bv_page);
		skb_frag_fill_page_desc(&rec->frags[i], seg[i].bv_page,
					seg[i].bv_offset, n);
		left -= n;
	}
	rec->num_frags = i;
	rec->len = len;
	rec->end_seq = tcp_sk(sk)->write_seq + len;

	if (unlikely(test_bit(TLS_TX_SYNC_SCHED, &dev->ctx->flags)))
		tls_dev_tx_resync(sk, dev, sn);

	spin_lock_irqsave(&dev->pub.lock, flags);
	list_add_tail(&rec->list, &dev->records);
	spin_unlock_irqrestore(&dev->pub.lock, flags);
	return 0;
}

/**
 * tls_get_record() - the sent record that holds a TCP sequence number
 * @context: the socket's TX offload context; its lock held (irqsave)
 * @seq: the TCP sequence number
 * @p_record_sn: set to the record's sequence number
 *
 * The record, its frags and their pages stay valid while the lock is
 * held; a caller that keeps a page longer takes its own reference.
 *
 * Return: the record; the start marker when @seq was sent before offload
 * began and the marker is not acknowledged yet; NULL when @seq is not in
 * a record TCP still holds.
 */
struct tls_record_info *tls_get_record(struct tls_offload_context_tx *context,
				       u32 seq, u64 *p_record_sn)
{
	struct tls_dev_tx *dev = container_of(context, struct tls_dev_tx, pub);
	struct tls_record_info *rec;
	u64 sn = dev->first_sn;

	rec = list_first_entry_or_null(&dev->records, struct tls_record_info,
				       list);
	if (!rec)
		return NULL;
	if (!tls_record_is_start_marker(rec) &&
	    before(seq, tls_record_start_seq(rec)))
		return NULL;
	list_for_each_entry(rec, &dev->records, list) {
		if (before(seq, rec->end_seq)) {
			*p_record_sn = sn;
			return rec;
		}
		sn++;
	}
	return NULL;
}
EXPORT_SYMBOL(tls_get_record);

/**
 * tls_dev_tx_clean_acked() - TCP's una moved: drop the records behind it
 * @sk: the socket, from ACK processing
 * @acked_seq: the new una
 */
void tls_dev_tx_clean_acked(struct sock *sk, u32 acked_seq)
{
	struct tls_dev_tx *dev = tls_dev_tx_of(tls_get_ctx(sk));
	struct tls_record_info *rec, *tmp;
	unsigned long flags;

	spin_lock_irqsave(&dev->pub.lock, flags);
	list_for_each_entry_safe(rec, tmp, &dev->records, list) {
		if (before(acked_seq, rec->end_seq))
			break;
		list_del(&rec->list);
		tls_dev_record_free(rec);
		dev->first_sn++;
	}
	spin_unlock_irqrestore(&dev->pub.lock, flags);
}
