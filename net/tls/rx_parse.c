// SPDX-License-Identifier: GPL-2.0
/*
 * Record boundaries on TCP's receive queue.
 *
 * Records are not taken out of TCP until they are decrypted: the parser
 * only reads the 5-byte header at the head of the queue and remembers the
 * record's length. A record is ready once TCP holds all of it; it is then
 * decrypted from TCP's own skbs and consumed with tcp_read_done(), so the
 * only bytes kTLS ever holds beyond TCP's are plaintext being read.
 *
 * Why not net/strparser: it takes every skb out of TCP as it arrives and
 * clones it into a message of its own, which costs a clone and a queue
 * per record and keeps a second copy of the receive accounting; its
 * callbacks would have to do this header check anyway. Reading the header
 * in place costs one small copy per record, and the decryption walks the
 * same skbs TCP keeps.
 *
 * Leaving the bytes in TCP has one trap: TCP only opens its window as the
 * reader consumes, so a receive buffer too small for the rest of a record
 * would stall the connection for good. When TCP says it is squeezed, the
 * head record moves out of TCP, as it arrives, into a buffer of its own
 * (@rx->part), and is decrypted from there. This holds for the first
 * bytes of a header too: TCP charges them the whole skb they came in,
 * which can be enough to keep its window shut.
 *
 * All of this runs with the socket owned by the caller, or from the
 * data_ready callback while nobody owns it: TCP's queue does not change
 * underneath.
 */

#include <linux/unaligned.h>
#include <net/tcp.h>

#include "device.h"
#include "rx.h"

/*
 * Where is @seq in @skb of TCP's queue? Return 0 with @off set when the
 * skb holds it, 1 when the skb ends before it, -1 when it starts after.
 */
static int tls_rx_skb_find(const struct sk_buff *skb, u32 seq, u32 *off)
{
	u32 start = TCP_SKB_CB(skb)->seq;

	/* a SYN takes a sequence number but no byte of the skb */
	if (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_SYN)
		start++;
	if (before(seq, start))
		return -1;
	if (seq - start >= skb->len)
		return 1;
	*off = seq - start;
	return 0;
}

/*
 * The first skb from @skb on (NULL: the head) that holds sequence number
 * @seq, and where; NULL past TCP's end.
 */
static struct sk_buff *tls_rx_tcp_skb(struct sock *sk, struct sk_buff *skb,
				      u32 seq, u32 *off)
{
	struct sk_buff_head *queue = &sk->sk_receive_queue;

	skb = skb ? skb : skb_peek(queue);
	for (; skb; skb = skb_peek_next(skb, queue)) {
		int where = tls_rx_skb_find(skb, seq, off);

		if (!where)
			return skb;
		if (where < 0)
			break;
	}
	return NULL;
}

/*
 * A place in TCP's receive queue. TCP keeps the queue in sequence order
 * and without gaps, but not without overlaps: a retransmission that
 * covers bytes TCP already queued is queued whole, its first bytes
 * shadowed by the skb before it (tcp_recvmsg() skips them by sequence
 * number). So the place is a sequence number, and a walk that leaves an
 * skb looks for that number in the next ones: it finds its start once
 * and goes forward from there, one pass over the queue however many
 * skbs a record spans.
 */
struct tls_rx_pos {
	struct sk_buff	*skb;
	u32		off;
	u32		seq;
};

/* Start at @off past the first unread byte; @pos->skb NULL past TCP's end */
static void tls_rx_pos_init(struct sock *sk, struct tls_rx_pos *pos, u32 off)
{
	pos->off = 0;
	pos->seq = tcp_sk(sk)->copied_seq + off;
	pos->skb = tls_rx_tcp_skb(sk, NULL, pos->seq, &pos->off);
}

/* Move @pos @n bytes on, within its skb or into the next that holds them */
static void tls_rx_pos_advance(struct sock *sk, struct tls_rx_pos *pos, u32 n)
{
	pos->off += n;
	pos->seq += n;
	if (pos->off < pos->skb->len)
		return;
	pos->off = 0;
	pos->skb = skb_peek_next(pos->skb, &sk->sk_receive_queue);
	if (pos->skb)
		pos->skb = tls_rx_tcp_skb(sk, pos->skb, pos->seq, &pos->off);
}

/* Copy @len bytes from @pos on and move past them: 0, or -EAGAIN */
static int tls_rx_pos_copy(struct sock *sk, struct tls_rx_pos *pos, void *to,
			   u32 len)
{
	while (len) {
		u32 n;

		if (!pos->skb)
			return -EAGAIN;
		n = min(len, pos->skb->len - pos->off);
		if (skb_copy_bits(pos->skb, pos->off, to, n))
			return -EFAULT;
		tls_rx_pos_advance(sk, pos, n);
		to += n;
		len -= n;
	}
	return 0;
}

/*
 * Copy @len bytes out of TCP's receive queue, from @off past the first
 * unread byte. Return 0, or -EAGAIN when TCP does not hold them all yet.
 */
static int tls_rx_tcp_copy(struct sock *sk, u32 off, void *to, u32 len)
{
	struct tls_rx_pos pos;

	tls_rx_pos_init(sk, &pos, off);
	return tls_rx_pos_copy(sk, &pos, to, len);
}

/**
 * tls_rx_skb_alloc() - a paged skb for one record
 * @len: its bytes
 * @gfp: how to allocate
 *
 * Its pages are never highmem (@gfp has no __GFP_HIGHMEM), so that
 * tls_rx_tcp_copy_skb() writes them through their kernel address.
 *
 * Return: the skb, its length @len and its bytes undefined; or NULL.
 */
struct sk_buff *tls_rx_skb_alloc(unsigned int len, gfp_t gfp)
{
	struct sk_buff *skb;
	int err;

	skb = alloc_skb_with_frags(0, len, PAGE_ALLOC_COSTLY_ORDER, &err, gfp);
	if (!skb)
		return NULL;
	skb->len = len;
	skb->data_len = len;
	return skb;
}

/**
 * tls_rx_tcp_copy_skb() - copy bytes out of TCP into a tls_rx_skb_alloc() skb
 * @sk: the socket
 * @off: where they start in TCP, counted from the first unread byte
 * @skb: the destination
 * @at: where they go in @skb
 * @len: how many
 *
 * Return: 0, or -EAGAIN when TCP does not hold them all yet.
 */
int tls_rx_tcp_copy_skb(struct sock *sk, u32 off, struct sk_buff *skb,
			u32 at, u32 len)
{
	struct tls_rx_pos pos;
	u32 start = 0;
	int i, err;

	tls_rx_pos_init(sk, &pos, off);
	for (i = 0; i < skb_shinfo(skb)->nr_frags && len; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];
		u32 end = start + skb_frag_size(f), n;

		if (at < end) {
			u8 *to = page_address(skb_frag_page(f)) +
				 skb_frag_off(f) + at - start;

			n = min(len, end - at);
			err = tls_rx_pos_copy(sk, &pos, to, n);
			if (err)
				return err;
			at += n;
			len -= n;
		}
		start = end;
	}
	return 0;
}

/* Scatterlist entries skb_to_sgvec() makes for @skb, or -1 when unknown */
static int tls_rx_skb_segs(const struct sk_buff *skb)
{
	if (skb_has_frag_list(skb))
		return -1;
	return 1 + skb_shinfo(skb)->nr_frags;
}

/*
 * Point @sg (@max entries, not terminated) at @len bytes of TCP's receive
 * queue from @off past the first unread byte. Return the entries used, or
 * -EMSGSIZE when the bytes are spread over more.
 */
static int tls_rx_tcp_sg(struct sock *sk, u32 off, u32 len,
			 struct scatterlist *sg, unsigned int max)
{
	struct tls_rx_pos pos;
	unsigned int n = 0;

	tls_rx_pos_init(sk, &pos, off);
	while (len) {
		int segs, ret;
		u32 chunk;

		if (!pos.skb)
			return -EMSGSIZE;
		segs = tls_rx_skb_segs(pos.skb);
		if (segs < 0 || n + segs > max)
			return -EMSGSIZE;
		chunk = min(len, pos.skb->len - pos.off);
		tls_rx_sg_prep(sg + n, segs);
		ret = skb_to_sgvec_nomark(pos.skb, sg + n, pos.off, chunk);
		if (ret < 0)
			return -EMSGSIZE;
		tls_rx_pos_advance(sk, &pos, chunk);
		n += ret;
		len -= chunk;
	}
	return n;
}

/* The most that a full record of @key's cipher takes on the wire */
static u32 tls_rx_wire_max(const struct tls_key *key)
{
	return TLS_MAX_PAYLOAD_SIZE + key->overhead;
}

/*
 * Check the header of the head record, whose first bytes may have left
 * TCP for @rx->part. The order of the checks is part of the interface:
 * an implausible length is reported before a bad version, as the kTLS
 * selftests expect.
 *
 * Return: the record's wire length, its content type in @type; 0 while
 * the header is incomplete, or a negative errno for a header no sender of
 * these keys could have sent.
 */
static int tls_rx_header(struct sock *sk, const struct tls_rx *rx, u8 *type)
{
	u32 moved = min_t(u32, rx->part_len, TLS_HEADER_SIZE);
	const struct tls_key *key = &rx->key;
	u8 hdr[TLS_HEADER_SIZE];
	unsigned int len;

	if (moved && skb_copy_bits(rx->part, 0, hdr, moved))
		return 0;
	if (tls_rx_tcp_copy(sk, 0, hdr + moved, sizeof(hdr) - moved))
		return 0;
	len = get_unaligned_be16(hdr + 3);
	if (len > tls_rx_wire_max(key) - TLS_HEADER_SIZE)
		return -EMSGSIZE;
	/* the least: an empty record */
	if (len < key->overhead - TLS_HEADER_SIZE)
		return -EBADMSG;
	if (get_unaligned_be16(hdr + 1) != TLS_1_2_VERSION)
		return -EINVAL;
	*type = hdr[0];
	return len + TLS_HEADER_SIZE;
}

/*
 * Would TCP stop taking the peer's bytes before the record is whole? Its
 * receive memory is nearly used up, or the window it offers is down to
 * less than a segment: only a reader consuming bytes opens it again. Or
 * it just dropped a segment for want of memory: TCP then schedules an
 * ACK_NOMEM and calls data_ready before the drop, with the memory use
 * possibly still under tcp_rmem_pressure()'s mark (the segment did not
 * fit), and will drop every retransmission alike.
 */
static bool tls_rx_tcp_squeezed(struct sock *sk)
{
	return tcp_rmem_pressure(sk) ||
	       tcp_receive_window(tcp_sk(sk)) <= inet_csk(sk)->icsk_ack.rcv_mss ||
	       (inet_csk(sk)->icsk_ack.pending & ICSK_ACK_NOMEM);
}

/*
 * The first @n bytes of TCP's queue were just copied to the end of
 * @rx->part: give back their ciphertext where a device decrypted them,
 * for the record is now decrypted in software.
 */
static void tls_rx_part_reseal(struct sock *sk, struct tls_rx *rx, u32 n)
{
	struct tls_rx_pos pos;
	u32 at = rx->part_len;

	tls_rx_pos_init(sk, &pos, 0);
	while (n && pos.skb) {
		u32 chunk = min(n, pos.skb->len - pos.off);

		if (skb_is_decrypted(pos.skb))
			tls_dev_rx_reseal(sk, rx, at, chunk);
		tls_rx_pos_advance(sk, &pos, chunk);
		at += chunk;
		n -= chunk;
	}
}

/*
 * Move what TCP holds of the head record into @rx->part: up to its end,
 * or up to the end of its header while its length is unknown.
 */
static void tls_rx_part_fill(struct sock *sk, struct tls_rx *rx)
{
	u32 end = rx->rec_len ?: TLS_HEADER_SIZE;
	u32 n = min_t(u32, tcp_inq(sk), end - rx->part_len);

	if (!n || tls_rx_tcp_copy_skb(sk, 0, rx->part, rx->part_len, n))
		return;
	if (rx->dev)
		tls_rx_part_reseal(sk, rx, n);
	tcp_read_done(sk, n);
	WRITE_ONCE(rx->part_len, rx->part_len + n);
}

/*
 * A partial head record, or header, in a squeezed TCP: take it out of
 * TCP. Before the header is whole, @rx->part is sized for the longest
 * record; only its first @rx->rec_len bytes are used once the length is
 * known.
 */
static void tls_rx_squeeze(struct sock *sk, struct tls_rx *rx, gfp_t gfp)
{
	bool want;

	if (tls_rx_rec_ready(sk, rx)) {
		WRITE_ONCE(rx->part_wanted, false);
		return;
	}
	if (!rx->part) {
		want = tcp_inq(sk) && tls_rx_tcp_squeezed(sk);
		/* the length is checked: this is at most one record */
		if (want)
			rx->part = tls_rx_skb_alloc(rx->rec_len ?:
						    tls_rx_wire_max(&rx->key),
						    gfp | __GFP_NOWARN);
		/*
		 * A squeezed TCP may get no further segment to call us
		 * again: have a reader try where it may sleep.
		 */
		WRITE_ONCE(rx->part_wanted, want && !rx->part);
		if (!rx->part)
			return;
	}
	tls_rx_part_fill(sk, rx);
}

/**
 * tls_rx_parse() - look for the next record's header
 * @sk: the socket, owned or in its data_ready callback
 * @rx: its RX state
 * @gfp: how to allocate, should the record have to leave TCP
 *
 * Sets @rx->rec_len once the header is there. A malformed header stops
 * the parser and is reported once through sk_err, as TCP reports its own
 * errors; the bytes stay where they are. A record too short to hold a
 * tag fails as a record that does not authenticate: for good.
 *
 * Nothing is parsed after a KeyUpdate until TLS_RX brings the next keys
 * (tls_rx_rekey() parses then): the next record is theirs, and so is any
 * error in its header, which must not overtake EKEYEXPIRED.
 */
void tls_rx_parse(struct sock *sk, struct tls_rx *rx, gfp_t gfp)
{
	u8 type;
	int ret;

	if (rx->stopped || rx->expired)
		return;
	if (!rx->rec_len) {
		ret = tls_rx_header(sk, rx, &type);
		if (ret < 0) {
			WRITE_ONCE(rx->stopped, true);
			if (ret == -EBADMSG)
				WRITE_ONCE(rx->err, ret);
			WRITE_ONCE(sk->sk_err, -ret);
			sk_error_report(sk);
			return;
		}
		if (ret) {
			rx->rec_type = type;
			WRITE_ONCE(rx->rec_len, ret);
			if (rx->dev)
				tls_dev_rx_header(sk, rx);
		}
	}
	tls_rx_squeeze(sk, rx, gfp);
}

/**
 * tls_rx_rec_ready() - is the head record whole?
 * @sk: the socket
 * @rx: its RX state
 *
 * Safe without the socket lock, for poll(): it reads counters only.
 *
 * Return: true when TCP (and @rx->part) hold all of it.
 */
bool tls_rx_rec_ready(struct sock *sk, const struct tls_rx *rx)
{
	u32 len = READ_ONCE(rx->rec_len);

	return len && !READ_ONCE(rx->stopped) &&
	       READ_ONCE(rx->part_len) + tcp_inq(sk) >= len;
}

/**
 * tls_rx_rec_gather() - put the whole head record in one place
 * @sk: the socket, owned
 * @rx: its RX state; the record is ready (tls_rx_rec_ready())
 *
 * A record that started to leave TCP leaves it entirely; one that did
 * not stays there. tls_rx_rec_copy() and tls_rx_rec_sg() then read it.
 */
void tls_rx_rec_gather(struct sock *sk, struct tls_rx *rx)
{
	if (rx->part)
		tls_rx_part_fill(sk, rx);
}

/**
 * tls_rx_rec_copy() - copy bytes of the gathered head record
 * @sk: the socket, owned
 * @rx: its RX state
 * @off: where they start in the record
 * @to: their destination
 * @len: how many
 *
 * Return: 0, or a negative errno.
 */
int tls_rx_rec_copy(struct sock *sk, struct tls_rx *rx, u32 off, void *to,
		    u32 len)
{
	if (rx->part)
		return skb_copy_bits(rx->part, off, to, len);
	return tls_rx_tcp_copy(sk, off, to, len);
}

/**
 * tls_rx_rec_sg() - point a scatterlist at bytes of the gathered record
 * @sk: the socket, owned
 * @rx: its RX state
 * @off: where they start in the record
 * @len: how many
 * @sg: the entries to fill, not initialised: this prepares those it may
 *	use (tls_rx_sg_prep()), and does not terminate them
 * @max: how many there are
 *
 * Return: entries used, or -EMSGSIZE when the bytes are spread over more
 * than @max: the caller copies them instead.
 */
int tls_rx_rec_sg(struct sock *sk, struct tls_rx *rx, u32 off, u32 len,
		  struct scatterlist *sg, unsigned int max)
{
	int segs;

	if (!rx->part)
		return tls_rx_tcp_sg(sk, off, len, sg, max);
	segs = tls_rx_skb_segs(rx->part);
	if (segs < 0 || segs > max)
		return -EMSGSIZE;
	tls_rx_sg_prep(sg, segs);
	return skb_to_sgvec_nomark(rx->part, sg, off, len);
}

/**
 * tls_rx_rec_copy_msg() - copy bytes of the head record to a reader
 * @sk: the socket, owned
 * @rx: its RX state; the record whole and in TCP, not in @rx->part
 * @off: where they start in the record
 * @msg: the reader's message
 * @len: how many
 *
 * Return: 0, or -EFAULT with some bytes copied.
 */
int tls_rx_rec_copy_msg(struct sock *sk, struct tls_rx *rx, u32 off,
			struct msghdr *msg, u32 len)
{
	struct tls_rx_pos pos;

	tls_rx_pos_init(sk, &pos, off);
	while (len) {
		u32 n;

		if (WARN_ON_ONCE(!pos.skb))
			return -EFAULT;
		n = min(len, pos.skb->len - pos.off);
		if (skb_copy_datagram_msg(pos.skb, pos.off, msg, n))
			return -EFAULT;
		tls_rx_pos_advance(sk, &pos, n);
		len -= n;
	}
	return 0;
}

/**
 * tls_rx_rec_take() - move the whole head record out of TCP
 * @sk: the socket, owned
 * @rx: its RX state; the record whole and in TCP
 *
 * For a record a device decrypted in part: it is restored to ciphertext
 * on the way (tls_rx_part_reseal()), then read from @rx->part.
 *
 * Return: 0, or -ENOMEM and the record where it was.
 */
int tls_rx_rec_take(struct sock *sk, struct tls_rx *rx)
{
	rx->part = tls_rx_skb_alloc(rx->rec_len, sk->sk_allocation);
	if (!rx->part)
		return -ENOMEM;
	tls_rx_part_fill(sk, rx);
	return 0;
}

/**
 * tls_rx_tcp_marks() - which of the first bytes of TCP's queue a device
 *	decrypted
 * @sk: the socket, owned
 * @len: how many bytes to look at
 *
 * Return: TLS_RX_MARK_PLAIN if some skb among them is marked decrypted,
 * TLS_RX_MARK_CIPHER if some is not, or both.
 */
unsigned int tls_rx_tcp_marks(struct sock *sk, u32 len)
{
	unsigned int seen = 0;
	struct tls_rx_pos pos;

	tls_rx_pos_init(sk, &pos, 0);
	while (len && pos.skb) {
		u32 n = min(len, pos.skb->len - pos.off);

		seen |= skb_is_decrypted(pos.skb) ? TLS_RX_MARK_PLAIN :
						    TLS_RX_MARK_CIPHER;
		tls_rx_pos_advance(sk, &pos, n);
		len -= n;
	}
	return seen;
}

/**
 * tls_rx_unseen_rec() - the first record start TCP has not received yet
 * @sk: the socket, owned
 * @rx: its RX state, between two records
 * @seq: the TCP sequence number where it starts
 * @sn: its record sequence number
 *
 * Walks the headers of the records queued from the head one on; the
 * head record's header may not be there yet, and may have moved to
 * @rx->part with some of its bytes.
 *
 * Return: 0, or -EAGAIN when a header is cut off at TCP's end (its
 * record's length is not known yet).
 */
int tls_rx_unseen_rec(struct sock *sk, struct tls_rx *rx, u32 *seq, u64 *sn)
{
	u32 off = 0, inq = tcp_inq(sk);
	u64 n = rx->key.seq;
	u8 hdr[TLS_HEADER_SIZE];

	if (rx->rec_len) {
		off = rx->rec_len - rx->part_len;
		n++;
	}

	while (off < inq) {
		if (tls_rx_tcp_copy(sk, off, hdr, sizeof(hdr)))
			return -EAGAIN;
		off += TLS_HEADER_SIZE + get_unaligned_be16(hdr + 3);
		n++;
	}
	*seq = tcp_sk(sk)->copied_seq + off;
	*sn = n;
	return 0;
}

/**
 * tls_rx_tcp_done() - consume the head record
 * @sk: the socket, owned
 * @rx: its RX state
 *
 * TCP frees the skbs, opens its window, and acknowledges; the parser
 * moves on to the next header.
 */
void tls_rx_tcp_done(struct sock *sk, struct tls_rx *rx)
{
	u32 len = rx->rec_len - rx->part_len;

	if (rx->part) {
		consume_skb(rx->part);
		rx->part = NULL;
		WRITE_ONCE(rx->part_len, 0);
	}
	WRITE_ONCE(rx->part_wanted, false);
	WRITE_ONCE(rx->rec_len, 0);
	if (len)
		tcp_read_done(sk, len);
	tls_rx_parse(sk, rx, sk->sk_allocation);
}
