/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-session-receive.c: the receiving half of a session: packets dispatched by kind, the
 * replay window over DATA counters, and in-order delivery through the reorder buffer. */
#define G_LOG_DOMAIN "pinhole-session"

#include "pinhole-session-private.h"

#include <sodium.h>
#include <string.h>

/* counters this far below the highest seen are refused as stale */
#define REPLAY_WINDOW            (REPLAY_WINDOW_BITS - 64)

/* ---- receiving frames ---- */

static gboolean
replay_check (PinholeSession *self,
              guint64         counter)
{
  if (!self->rx_any || counter > self->rx_top)
    return TRUE;
  if (self->rx_top - counter >= REPLAY_WINDOW)
    return FALSE;
  return (self->rx_bitmap[(counter / 64) % G_N_ELEMENTS (self->rx_bitmap)] &
          (G_GUINT64_CONSTANT (1) << (counter % 64))) == 0;
}

static void
replay_mark (PinholeSession *self,
             guint64         counter)
{
  if (!self->rx_any || (counter > self->rx_top && counter - self->rx_top >= REPLAY_WINDOW))
    {
      memset (self->rx_bitmap, 0, sizeof self->rx_bitmap);
      self->rx_any = TRUE;
      self->rx_top = counter;
    }
  else if (counter > self->rx_top)
    {
      /* clear the words the window slides onto; the window is one word shorter than the
       * bitmap, so this never clears the word of a counter still inside it */
      for (guint64 w = self->rx_top / 64 + 1; w <= counter / 64; w++)
        self->rx_bitmap[w % G_N_ELEMENTS (self->rx_bitmap)] = 0;
      self->rx_top = counter;
    }
  self->rx_bitmap[(counter / 64) % G_N_ELEMENTS (self->rx_bitmap)] |=
    G_GUINT64_CONSTANT (1) << (counter % 64);
}

static void
deliver (PinholeSession *self,
         guint8          channel,
         GBytes         *payload)
{
  g_signal_emit (self, _pinhole_session_signals[PINHOLE_SESSION_SIGNAL_FRAME_RECEIVED], 0,
                 (guint) channel, payload);
}

static void
receive_data (PinholeSession      *self,
              PinholeSessionFrame *frame)
{
  guint64 seq = frame->seq;

  self->last_data_time = g_get_monotonic_time ();
  /* duplicates and frames past the window are dropped, but acked again: our ack may be lost */
  _pinhole_session_schedule_ack (self);

  if (seq <= self->rx_acked)
    {
      g_debug ("duplicate DATA seq %" G_GUINT64_FORMAT " dropped", seq);
      return;
    }
  if (seq - self->rx_acked > PINHOLE_SESSION_RX_WINDOW)
    {
      g_debug ("DATA seq %" G_GUINT64_FORMAT " beyond the receive window dropped", seq);
      return;
    }

  if (seq != self->rx_acked + 1)
    {
      RxSlot *slot = &self->rx_slots[seq % PINHOLE_SESSION_RX_WINDOW];

      if (slot->seq == 0)
        {
          slot->seq = seq;
          slot->channel = frame->channel;
          slot->payload = g_bytes_ref (frame->payload);
        }
      return;
    }

  self->rx_acked = seq;
  deliver (self, frame->channel, frame->payload);

  while (self->state == PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      RxSlot *slot = &self->rx_slots[(self->rx_acked + 1) % PINHOLE_SESSION_RX_WINDOW];
      g_autoptr(GBytes) payload = NULL;

      if (slot->seq != self->rx_acked + 1)
        break;
      payload = g_steal_pointer (&slot->payload);
      slot->seq = 0;
      self->rx_acked++;
      deliver (self, slot->channel, payload);
    }
}

static void
handle_frame (PinholeSession      *self,
              PinholeSessionFrame *frame)
{
  _pinhole_session_process_ack (self, frame->ack, frame->type == PINHOLE_SESSION_FRAME_ACK);
  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    return;

  switch (frame->type)
    {
    case PINHOLE_SESSION_FRAME_DATA:
      receive_data (self, frame);
      break;

    case PINHOLE_SESSION_FRAME_ACK:
      break;

    case PINHOLE_SESSION_FRAME_PING:
      _pinhole_session_transmit_frame (self, PINHOLE_SESSION_FRAME_PONG, frame->seq, 0, NULL);
      break;

    case PINHOLE_SESSION_FRAME_PONG:
      if (self->ping_outstanding && frame->seq == self->ping_id)
        {
          gdouble sample = (g_get_monotonic_time () - self->ping_sent_time) / 1000.0;

          self->ping_outstanding = FALSE;
          _pinhole_session_rtt_sample (self, sample);
          _pinhole_session_set_rtt_ms (self, sample);
        }
      break;

    case PINHOLE_SESSION_FRAME_CLOSE:
      _pinhole_session_finish (self, NULL);
      break;

    default:
      g_assert_not_reached ();
    }
}

static void
handle_data_packet (PinholeSession             *self,
                    const PinholeSessionPacket *packet)
{
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PinholeSessionFrame) frame = NULL;
  g_autoptr(GError) error = NULL;

  if (self->state != PINHOLE_SESSION_STATE_ESTABLISHED)
    {
      g_debug ("DATA before the handshake completed dropped");
      return;
    }
  if (!replay_check (self, packet->counter))
    {
      g_debug ("replayed or stale DATA counter %" G_GUINT64_FORMAT " dropped", packet->counter);
      return;
    }
  plain = pinhole_session_packet_open (packet, self->rx_key, &error);
  if (plain == NULL && self->have_prev_keys && !self->peer_confirmed)
    {
      /* the responder completed the attempt before our restart after all: back to its keys */
      plain = pinhole_session_packet_open (packet, self->prev_rx_key, NULL);
      if (plain != NULL)
        {
          g_debug ("session with %s confirmed under the keys before the restart",
                   self->peer_id);
          memcpy (self->tx_key, self->prev_tx_key, sizeof self->tx_key);
          memcpy (self->rx_key, self->prev_rx_key, sizeof self->rx_key);
        }
    }
  if (plain == NULL)
    {
      g_debug ("DATA dropped: %s", error->message);
      return;
    }
  replay_mark (self, packet->counter);
  self->last_rx_time = g_get_monotonic_time ();
  if (self->rx_entry != NULL)
    self->rx_entry->last_rx = self->last_rx_time;

  if (self->initiator && !self->peer_confirmed)
    {
      self->peer_confirmed = TRUE;
      self->have_prev_keys = FALSE;
      sodium_memzero (self->prev_tx_key, sizeof self->prev_tx_key);
      sodium_memzero (self->prev_rx_key, sizeof self->prev_rx_key);
      _pinhole_session_wipe_handshake_secrets (self);
      g_clear_pointer (&self->hs_packet, g_bytes_unref);
      self->progress_time = self->last_rx_time;
      _pinhole_session_arm_retransmit (self);
    }

  frame = pinhole_session_frame_parse (plain, &error);
  if (frame == NULL)
    {
      g_debug ("frame dropped: %s", error->message);
      return;
    }
  handle_frame (self, frame);
}

void
_pinhole_session_process_packet (PinholeSession *self,
                                 GBytes         *bytes)
{
  g_autoptr(PinholeSessionPacket) packet = NULL;
  g_autoptr(GError) error = NULL;

  if (!_pinhole_session_is_live (self))
    return;

  packet = pinhole_session_packet_parse (bytes, &error);
  if (packet == NULL)
    {
      g_debug ("packet from %s dropped: %s", self->peer_id, error->message);
      return;
    }

  switch (packet->kind)
    {
    case PINHOLE_SESSION_PACKET_HELLO:
      _pinhole_session_handle_hello (self, packet);
      break;
    case PINHOLE_SESSION_PACKET_RESPONSE:
      _pinhole_session_handle_response (self, packet);
      break;
    case PINHOLE_SESSION_PACKET_FINISH:
      _pinhole_session_handle_finish (self, packet);
      break;
    case PINHOLE_SESSION_PACKET_DATA:
      handle_data_packet (self, packet);
      break;
    default:
      g_assert_not_reached ();
    }
}
