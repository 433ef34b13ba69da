/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session-send.c: the sending half of a session's reliable stream: sealing frames,
 * the send window, coalesced acks, retransmission (RFC 6298 timeouts, fast retransmit on
 * duplicate acks) and the peer's cumulative acks. */
#define G_LOG_DOMAIN "pinhole-session"

#include "pinhole-session-private.h"

#include "pinhole-error.h"

#define MAX_RTO_MS               10000
#define FAST_RETRANSMIT_DUPACKS  3

/* ---- round-trip time and retransmission timeout (RFC 6298) ---- */

void
_pinhole_session_rtt_sample (PinholeSession *self,
                             gdouble         sample_ms)
{
  if (self->min_rtt < 0 || sample_ms < self->min_rtt)
    self->min_rtt = sample_ms;
  self->last_rtt = sample_ms;
  if (self->srtt < 0)
    {
      self->srtt = sample_ms;
      self->rttvar = sample_ms / 2;
    }
  else
    {
      self->rttvar = 0.75 * self->rttvar + 0.25 * ABS (self->srtt - sample_ms);
      self->srtt = 0.875 * self->srtt + 0.125 * sample_ms;
    }
}

static guint
current_rto_ms (PinholeSession *self)
{
  gdouble base;

  if (self->srtt < 0)
    base = self->initial_rto_ms;
  else
    base = MAX ((gdouble) self->min_rto_ms, self->srtt + MAX (1.0, 4 * self->rttvar));
  for (guint i = 0; i < self->backoff && base < MAX_RTO_MS; i++)
    base *= 2;
  return (guint) MIN (base, (gdouble) MAX_RTO_MS);
}

/* ---- the bulk window ---- */

/* frames of this session queued on the way (in buffers, not on the wire) that the bulk window
 * keeps, at least and at most (Vegas's alpha and beta; Vegas has 2 and 4, with which the
 * relay's transfers were a fifth slower for no lower chat latency, docs/benchmarks.md §9) */
#define BULK_QUEUE_LOW  4
#define BULK_QUEUE_HIGH 8

/* a new path: its delay is not known yet */
void
_pinhole_session_reset_bulk_window (PinholeSession *self)
{
  self->bulk_window = PINHOLE_SESSION_BULK_WINDOW_START;
  self->bulk_slow_start = TRUE;
  self->bulk_limited = FALSE;
  self->bulk_decreased = FALSE;
  self->round_end = self->next_seq;
  self->last_rtt = -1;
  self->min_rtt = -1;
}

/* After each RTT sample, the frames in flight are split, as TCP Vegas does, into those that
 * the path's least RTT accounts for and those that wait in a queue somewhere (a send or
 * receive buffer, the server, a router): frames in flight × (1 − least RTT / latest RTT).
 * With more than BULK_QUEUE_HIGH queued the bulk window drops by the excess at once, once a
 * round (a round ends when the frames sent at its start are acknowledged). At the end of a
 * round in which bulk frames waited for the window and fewer than BULK_QUEUE_LOW were
 * queued, it grows: doubling until the first queue (slow start), then by one frame. A chat
 * frame goes past every bulk frame in the session, but not past those already queued on the
 * way: this keeps them few, whatever the path's speed. */
static void
bulk_window_update (PinholeSession *self,
                    guint64         ack)
{
  gdouble queued;
  gint window = (gint) self->bulk_window;

  if (self->min_rtt <= 0 || self->last_rtt <= 0)
    return;
  queued = self->in_flight.length * (1.0 - self->min_rtt / self->last_rtt);
  if (queued > BULK_QUEUE_HIGH && !self->bulk_decreased)
    {
      window = MIN (window, (gint) self->bulk_in_flight) - (gint) (queued - BULK_QUEUE_HIGH);
      self->bulk_decreased = TRUE;
      self->bulk_slow_start = FALSE;
      self->round_end = self->next_seq;
    }
  else if (ack >= self->round_end)
    {
      if (queued < BULK_QUEUE_LOW && self->bulk_limited && !self->bulk_decreased)
        window = self->bulk_slow_start ? window * 2 : window + 1;
      else if (queued >= BULK_QUEUE_LOW)
        self->bulk_slow_start = FALSE;
      self->round_end = self->next_seq;
      self->bulk_limited = FALSE;
      self->bulk_decreased = FALSE;
    }
  window = CLAMP (window, PINHOLE_SESSION_BULK_WINDOW_MIN, PINHOLE_SESSION_WINDOW);
  if ((guint) window != self->bulk_window)
    g_debug ("bulk window to %s: %d frames (rtt %.2f ms, least %.2f ms, %.1f queued)",
             self->peer_id, window, self->last_rtt, self->min_rtt, queued);
  self->bulk_window = (guint) window;
}

/* ---- transmitting frames ---- */

void
_pinhole_session_transmit_frame (PinholeSession          *self,
                                 PinholeSessionFrameType  type,
                                 guint64                  seq,
                                 guint8                   channel,
                                 GBytes                  *payload)
{
  g_autoptr(PinholeSessionFrame) frame = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) packet = NULL;

  g_assert (self->state == PINHOLE_SESSION_STATE_ESTABLISHED);

  /* every frame carries the cumulative ack, so no separate ACK is needed now */
  frame = pinhole_session_frame_new (type, seq, self->rx_acked, channel, payload);
  self->ack_pending = FALSE;
  g_clear_handle_id (&self->ack_source, g_source_remove);

  plain = pinhole_session_frame_encode (frame);
  /* a fresh counter for every transmission, retransmissions included: no nonce reuse */
  packet = pinhole_session_packet_build_sealed (PINHOLE_SESSION_PACKET_DATA, NULL,
                                                self->tx_counter++, self->tx_key, plain);
  _pinhole_session_send_packet (self, packet);
}

void
_pinhole_session_transmit_data (PinholeSession *self,
                                TxFrame        *frame)
{
  if (frame->transmissions > 0)
    self->retransmissions++;
  frame->transmissions++;
  frame->sent_time = g_get_monotonic_time ();
  _pinhole_session_transmit_frame (self, PINHOLE_SESSION_FRAME_DATA, frame->seq, frame->channel,
                                   frame->payload);
}

/* a bulk frame goes to the current path only when the path holds nothing its socket has not
 * taken: then a chat frame queued after it waits behind at most that one */
static gboolean
path_takes_bulk (PinholeSession *self)
{
  PinholePath *path = pinhole_session_get_path (self);

  return path != NULL && pinhole_path_get_queued_bytes (path) == 0;
}

/* the next bulk frame, round-robin over the channels that have one */
static TxFrame *
pop_bulk (PinholeSession *self)
{
  for (guint i = 0; i < 256 - PINHOLE_SESSION_CHANNEL_BULK; i++)
    {
      guint channel = self->bulk_next;
      TxFrame *frame = g_queue_pop_head (&self->bulk[channel]);

      self->bulk_next = channel == 255 ? PINHOLE_SESSION_CHANNEL_BULK : channel + 1;
      if (frame != NULL)
        {
          self->bulk_waiting--;
          return frame;
        }
    }
  g_assert_not_reached ();
  return NULL;
}

static gboolean
bulk_turn_cb (gpointer user_data)
{
  PinholeSession *self = user_data;

  self->bulk_source = 0;
  self->bulk_budget = PINHOLE_SESSION_BULK_PER_TURN;
  _pinhole_session_pump (self);
  return G_SOURCE_REMOVE;
}

/* bulk frames go a few per turn of the main loop, at the default priority: whatever else is
 * ready (a chat message the app sends, an ack that arrived) is dispatched between two turns,
 * so it never waits behind more than PINHOLE_SESSION_BULK_PER_TURN frames' sealing and
 * writing, however many bulk frames a transfer queued at once */
static void
schedule_bulk_turn (PinholeSession *self)
{
  if (self->bulk_source == 0)
    self->bulk_source = g_idle_add_full (G_PRIORITY_DEFAULT, bulk_turn_cb, self, NULL);
}

/* move waiting frames into the window: channels 0-2 first, then bulk (docs/session.md §6) */
void
_pinhole_session_pump (PinholeSession *self)
{
  gboolean started = FALSE;

  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED || self->pumping)
    return;

  self->pumping = TRUE;
  while (self->in_flight.length < PINHOLE_SESSION_RX_WINDOW)
    {
      guint urgent_in_flight = self->in_flight.length - self->bulk_in_flight;
      TxFrame *frame;

      if (self->waiting.length > 0 && urgent_in_flight < PINHOLE_SESSION_WINDOW)
        frame = g_queue_pop_head (&self->waiting);
      else if (self->bulk_waiting > 0 && self->bulk_in_flight >= self->bulk_window)
        {
          self->bulk_limited = TRUE;
          break;
        }
      else if (self->bulk_waiting > 0 && path_takes_bulk (self))
        {
          if (self->bulk_budget == 0)
            {
              schedule_bulk_turn (self);
              break;
            }
          self->bulk_budget--;
          frame = pop_bulk (self);
          self->bulk_in_flight++;
        }
      else
        break;

      frame->seq = self->next_seq++;
      if (self->in_flight.length == 0)
        started = TRUE;
      g_queue_push_tail (&self->in_flight, frame);
      _pinhole_session_transmit_data (self, frame);
      if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
        break;   /* the path failed under us */
    }
  self->pumping = FALSE;

  if (started)
    {
      /* the no-progress deadline counts from when something is outstanding */
      self->progress_time = g_get_monotonic_time ();
      self->backoff = 0;
      self->retx_due = self->progress_time + (gint64) current_rto_ms (self) * 1000;
      _pinhole_session_arm_retransmit (self);
    }
}

static gboolean
send_ack_cb (gpointer user_data)
{
  PinholeSession *self = user_data;

  self->ack_source = 0;
  if (self->ack_pending && self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    _pinhole_session_transmit_frame (self, PINHOLE_SESSION_FRAME_ACK, 0, 0, NULL);
  return G_SOURCE_REMOVE;
}

/* coalesce: at most one ACK per main-loop turn, and none when data carries it */
void
_pinhole_session_schedule_ack (PinholeSession *self)
{
  self->ack_pending = TRUE;
  if (self->ack_source == 0)
    self->ack_source = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, send_ack_cb, self, NULL);
}

/* ---- retransmission timer ---- */

static gboolean
needs_retransmit_timer (PinholeSession *self)
{
  switch (self->state)
    {
    case PINHOLE_SESSION_STATE_HANDSHAKING:
      return TRUE;
    case PINHOLE_SESSION_STATE_ESTABLISHED:
      return self->in_flight.length > 0 || (self->initiator && !self->peer_confirmed);
    case PINHOLE_SESSION_STATE_NEW:
    case PINHOLE_SESSION_STATE_CLOSED:
    case PINHOLE_SESSION_STATE_FAILED:
    default:
      return FALSE;
    }
}

static gboolean
retransmit_cb (gpointer user_data)
{
  PinholeSession *self = user_data;
  gint64 now = g_get_monotonic_time ();

  self->retx_source = 0;
  if (!needs_retransmit_timer (self))
    return G_SOURCE_REMOVE;

  if (now - self->progress_time >= (gint64) self->timeout_ms * 1000)
    {
      if (self->state == PINHOLE_SESSION_STATE_HANDSHAKING)
        _pinhole_session_fail (self, PINHOLE_ERROR_TIMEOUT, "No handshake with %s within %u ms",
                               self->peer_id, self->timeout_ms);
      else
        _pinhole_session_fail (self, PINHOLE_ERROR_TIMEOUT, "%s acknowledged nothing for %u ms",
                               self->peer_id, self->timeout_ms);
      return G_SOURCE_REMOVE;
    }

  if (now >= self->retx_due)
    {
      if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED && self->initiator &&
          !self->peer_confirmed && self->restarts == self->finish_restarts &&
          self->restarts < PINHOLE_SESSION_HS_RESTARTS &&
          self->backoff >= PINHOLE_SESSION_HS_RESTART_AFTER * (self->restarts + 1))
        _pinhole_session_restart_handshake (self);
      else if (self->hs_packet != NULL &&
               (self->state == PINHOLE_SESSION_STATE_HANDSHAKING || !self->peer_confirmed))
        {
          g_debug ("retransmitting handshake packet to %s", self->peer_id);
          _pinhole_session_send_packet (self, self->hs_packet);
        }
      if (self->state == PINHOLE_SESSION_STATE_ESTABLISHED && self->in_flight.length > 0)
        {
          TxFrame *first = g_queue_peek_head (&self->in_flight);
          TxFrame *last = g_queue_peek_tail (&self->in_flight);

          /* resend the oldest; partial acks then walk the remaining holes */
          g_debug ("retransmission timeout: resending seq %" G_GUINT64_FORMAT, first->seq);
          self->recover_seq = last->seq;
          _pinhole_session_transmit_data (self, first);
        }
      self->backoff++;
      self->retx_due = now + (gint64) current_rto_ms (self) * 1000;
    }

  _pinhole_session_arm_retransmit (self);
  return G_SOURCE_REMOVE;
}

void
_pinhole_session_arm_retransmit (PinholeSession *self)
{
  gint64 now, deadline, when;

  g_clear_handle_id (&self->retx_source, g_source_remove);
  if (!needs_retransmit_timer (self))
    return;

  now = g_get_monotonic_time ();
  deadline = self->progress_time + (gint64) self->timeout_ms * 1000;
  when = self->hs_packet != NULL || self->in_flight.length > 0 ?
         MIN (self->retx_due, deadline) : deadline;
  self->retx_source = g_timeout_add (when > now ? (guint) ((when - now + 999) / 1000) : 0,
                                     retransmit_cb, self);
}

void
_pinhole_session_restart_retransmit (PinholeSession *self)
{
  self->backoff = 0;
  self->retx_due = g_get_monotonic_time () + (gint64) current_rto_ms (self) * 1000;
  _pinhole_session_arm_retransmit (self);
}

/* ---- acknowledgements from the peer ---- */

void
_pinhole_session_process_ack (PinholeSession *self,
                              guint64         ack,
                              gboolean        pure_ack)
{
  g_autoptr(GArray) acked = NULL;
  gint64 now;
  gint64 freed = 0;
  gint64 newest_sent = 0;
  gboolean clean_sample = TRUE;
  guint64 highest_sent = self->next_seq - 1;

  if (ack > highest_sent)
    {
      g_debug ("ack %" G_GUINT64_FORMAT " beyond the highest sent %" G_GUINT64_FORMAT
               " ignored", ack, highest_sent);
      return;
    }

  if (ack <= self->peer_acked)
    {
      if (ack == self->peer_acked && pure_ack && self->in_flight.length > 0 &&
          ++self->dup_acks == FAST_RETRANSMIT_DUPACKS && self->recover_seq == 0)
        {
          TxFrame *first = g_queue_peek_head (&self->in_flight);
          TxFrame *last = g_queue_peek_tail (&self->in_flight);

          g_debug ("fast retransmit of seq %" G_GUINT64_FORMAT, first->seq);
          self->recover_seq = last->seq;
          _pinhole_session_transmit_data (self, first);
        }
      return;
    }

  now = g_get_monotonic_time ();
  acked = g_array_new (FALSE, FALSE, sizeof (guint64));
  while (self->in_flight.length > 0)
    {
      TxFrame *frame = g_queue_peek_head (&self->in_flight);

      if (frame->seq > ack)
        break;
      g_queue_pop_head (&self->in_flight);
      /* Karn's algorithm, extended to cumulative acks: when a retransmission filled a hole,
       * the ack also covers frames that waited behind it, so no frame gives a clean sample */
      if (frame->transmissions > 1)
        clean_sample = FALSE;
      newest_sent = frame->sent_time;
      freed += g_bytes_get_size (frame->payload);
      if (frame->channel >= PINHOLE_SESSION_CHANNEL_BULK)
        self->bulk_in_flight--;
      g_array_append_val (acked, frame->id);
      _pinhole_session_tx_frame_free (frame);
    }
  if (clean_sample && acked->len > 0)
    {
      _pinhole_session_rtt_sample (self, (now - newest_sent) / 1000.0);
      bulk_window_update (self, ack);
    }
  self->peer_acked = ack;
  self->dup_acks = 0;
  self->progress_time = now;

  if (self->recover_seq != 0 && ack < self->recover_seq && self->in_flight.length > 0)
    {
      /* partial ack: next hole */
      _pinhole_session_transmit_data (self, g_queue_peek_head (&self->in_flight));
    }
  else
    {
      self->recover_seq = 0;
    }

  _pinhole_session_pump (self);
  _pinhole_session_restart_retransmit (self);
  _pinhole_session_update_send_queue_bytes (self, -freed);

  for (guint i = 0; i < acked->len && _pinhole_session_is_live (self); i++)
    g_signal_emit (self, _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_ACKED], 0,
                   g_array_index (acked, guint64, i));
}
