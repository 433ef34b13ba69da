/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-link.c: the transfers of one session. Channel 2 frames are parsed as
 * transfer messages and handed to the transfer they name; an offer is assembled from its parts
 * (at most 1 MiB, in order, 16 at once) into an incoming transfer; frames of a data channel go
 * to the transfer that announced it with `sending`. A frame that does not parse fails the
 * transfer it names, or is dropped when it names none. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-transfer-private.h"

#include <string.h>

#include "pinhole-error.h"
#include "pinhole-path.h"

#define MAX_PENDING_OFFERS 16

struct _PinholeTransferLink
{
  GObject          parent_instance;

  /* owned */
  PinholeSession  *session;
  GHashTable      *transfers;         /* id -> PinholeTransfer */
  GHashTable      *offers;            /* id -> GByteArray: a manifest being assembled */

  /* borrowed: entries are cleared when their transfer leaves */
  PinholeTransfer *incoming[256];     /* data channel (peer's numbering) -> transfer */

  gulong           frame_id;
  gulong           acked_id;
  guint64          last_sent;         /* the session's id of our latest transfer message */
  guint64          last_acked;
  guint64          reserved;          /* session bytes the blocks being read will take */
  gboolean         wants_room;        /* a sender found no room: pump on the next ack */
  gboolean         outgoing[256];     /* our data channels in use */
  guint            next_channel;
};

G_DEFINE_FINAL_TYPE (PinholeTransferLink, pinhole_transfer_link, G_TYPE_OBJECT)

enum { SIGNAL_OFFER_RECEIVED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* an offer out to several devices of the user is in each one's link, but talks on one */
static void
detach_transfer (PinholeTransferLink *self,
                 PinholeTransfer     *transfer)
{
  if (_pinhole_transfer_get_link (transfer) == self)
    _pinhole_transfer_link_lost (transfer);
}

void
pinhole_transfer_link_close (PinholeTransferLink *self)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (PINHOLE_IS_TRANSFER_LINK (self));
  if (self->session != NULL)
    {
      g_clear_signal_handler (&self->frame_id, self->session);
      g_clear_signal_handler (&self->acked_id, self->session);
    }
  g_clear_object (&self->session);
  memset (self->incoming, 0, sizeof self->incoming);
  g_hash_table_iter_init (&iter, self->transfers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    detach_transfer (self, value);
  g_hash_table_remove_all (self->transfers);
  g_hash_table_remove_all (self->offers);
}

static void
pinhole_transfer_link_dispose (GObject *object)
{
  pinhole_transfer_link_close (PINHOLE_TRANSFER_LINK (object));
  G_OBJECT_CLASS (pinhole_transfer_link_parent_class)->dispose (object);
}

static void
pinhole_transfer_link_finalize (GObject *object)
{
  PinholeTransferLink *self = PINHOLE_TRANSFER_LINK (object);

  g_hash_table_unref (self->transfers);
  g_hash_table_unref (self->offers);
  G_OBJECT_CLASS (pinhole_transfer_link_parent_class)->finalize (object);
}

static void
pinhole_transfer_link_class_init (PinholeTransferLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_transfer_link_dispose;
  object_class->finalize = pinhole_transfer_link_finalize;

  /**
   * PinholeTransferLink::offer-received:
   * @transfer: an incoming transfer in the state offered, its manifest checked
   */
  signals[SIGNAL_OFFER_RECEIVED] =
    g_signal_new ("offer-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, PINHOLE_TYPE_TRANSFER);
}

static void
pinhole_transfer_link_init (PinholeTransferLink *self)
{
  self->transfers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->offers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_byte_array_unref);
  self->next_channel = PINHOLE_SESSION_CHANNEL_BULK;
}

/* ---- sending ---- */

gboolean
_pinhole_transfer_link_send (PinholeTransferLink    *self,
                             PinholeTransferMessage *message)
{
  g_autoptr(GBytes) payload = pinhole_transfer_message_encode (message);
  g_autoptr(GError) error = NULL;

  guint64 id = 0;

  if (self->session == NULL ||
      !pinhole_session_send (self->session, PINHOLE_SESSION_CHANNEL_TRANSFER, payload, &id,
                             &error))
    {
      g_debug ("transfer message not sent: %s", error != NULL ? error->message : "no session");
      return FALSE;
    }
  self->last_sent = id;
  return TRUE;
}

/* whether the peer acknowledged every transfer message of ours on this session */
gboolean
_pinhole_transfer_link_is_flushed (PinholeTransferLink *self)
{
  return self->session != NULL && self->last_acked >= self->last_sent;
}

/* the transfers that talk on this link, each with a reference */
static GPtrArray *
own_transfers (PinholeTransferLink *self)
{
  GPtrArray *transfers = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->transfers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (_pinhole_transfer_get_link (value) == self)
      g_ptr_array_add (transfers, g_object_ref (value));
  return transfers;
}

/* A block goes into the session whole (a block frame and its data frames): the sender reads
 * one only when the session's queue has room for it beside the blocks already being read, so
 * that a send never fails half-way through a block, however many transfers share the
 * session; what the queue keeps free beyond that is for chat and control frames. */
#define BLOCK_ROOM   (PINHOLE_MANIFEST_BLOCK_SIZE + 64 * 1024)
#define URGENT_ROOM  (1024 * 1024)

gboolean
_pinhole_transfer_link_reserve_block (PinholeTransferLink *self)
{
  if (self->session == NULL ||
      pinhole_session_get_send_queue_bytes (self->session) + self->reserved + BLOCK_ROOM >
      PINHOLE_SESSION_MAX_QUEUE - URGENT_ROOM)
    {
      self->wants_room = TRUE;
      return FALSE;
    }
  self->reserved += BLOCK_ROOM;
  return TRUE;
}

void
_pinhole_transfer_link_release_block (PinholeTransferLink *self)
{
  g_return_if_fail (self->reserved >= BLOCK_ROOM);
  self->reserved -= BLOCK_ROOM;
}

/* ids are acknowledged in the order they went out */
static void
acked_cb (PinholeSession      *session,
          guint64              id,
          PinholeTransferLink *self)
{
  g_autoptr(PinholeTransferLink) hold G_GNUC_UNUSED = g_object_ref (self);
  gboolean was = self->last_acked >= self->last_sent;

  self->last_acked = MAX (self->last_acked, id);
  /* the queue has room again for the senders that found none */
  if (self->wants_room)
    {
      g_autoptr(GPtrArray) transfers = own_transfers (self);

      self->wants_room = FALSE;
      for (guint i = 0; i < transfers->len; i++)
        _pinhole_transfer_pump (transfers->pdata[i]);
    }
  if (was || self->last_acked < self->last_sent)
    return;
  {
    g_autoptr(GPtrArray) transfers = own_transfers (self);

    for (guint i = 0; i < transfers->len; i++)
      _pinhole_transfer_emit_flushed (transfers->pdata[i]);
  }
}

gboolean
_pinhole_transfer_link_send_data (PinholeTransferLink *self,
                                  guint                channel,
                                  GBytes              *frame)
{
  g_autoptr(GError) error = NULL;

  if (self->session == NULL ||
      !pinhole_session_send (self->session, (guint8) channel, frame, NULL, &error))
    {
      g_debug ("transfer data not sent: %s", error != NULL ? error->message : "no session");
      return FALSE;
    }
  return TRUE;
}

/* Returns: a free data channel of ours, or 0 when all are taken */
guint
_pinhole_transfer_link_claim_channel (PinholeTransferLink *self)
{
  for (guint i = 0; i < 256 - PINHOLE_SESSION_CHANNEL_BULK; i++)
    {
      guint channel = self->next_channel;

      self->next_channel = channel == 255 ? PINHOLE_SESSION_CHANNEL_BULK : channel + 1;
      if (!self->outgoing[channel])
        {
          self->outgoing[channel] = TRUE;
          return channel;
        }
    }
  return 0;
}

void
_pinhole_transfer_link_release_channel (PinholeTransferLink *self,
                                        guint                channel)
{
  g_return_if_fail (channel >= PINHOLE_SESSION_CHANNEL_BULK && channel <= 255);
  self->outgoing[channel] = FALSE;
}

void
_pinhole_transfer_link_map_incoming (PinholeTransferLink *self,
                                     guint                channel,
                                     PinholeTransfer     *transfer)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->incoming); i++)
    if (self->incoming[i] == transfer)
      self->incoming[i] = NULL;
  self->incoming[channel] = transfer;
}

const char *
_pinhole_transfer_link_get_path_text (PinholeTransferLink *self)
{
  PinholePath *path = self->session != NULL ? pinhole_session_get_path (self->session) : NULL;

  return path != NULL ? pinhole_path_kind_to_string (pinhole_path_get_kind (path)) : NULL;
}

/* ---- receiving ---- */

static void
add_transfer (PinholeTransferLink *self,
              PinholeTransfer     *transfer)
{
  PinholeTransfer *old = g_hash_table_lookup (self->transfers,
                                              pinhole_transfer_get_id (transfer));

  if (old != NULL && old != transfer)
    detach_transfer (self, old);
  _pinhole_transfer_set_link (transfer, self);
  g_hash_table_replace (self->transfers, g_strdup (pinhole_transfer_get_id (transfer)),
                        g_object_ref (transfer));
}

/**
 * _pinhole_transfer_link_withdraw:
 * @type: %PINHOLE_TRANSFER_MESSAGE_TAKEN or _CANCEL to say why, or -1 to say nothing
 * The transfer leaves this session: another device accepted it, or it is over.
 * Returns: whether the session carried it
 */
gboolean
_pinhole_transfer_link_withdraw (PinholeTransferLink        *self,
                                 PinholeTransfer            *transfer,
                                 PinholeTransferMessageType  type)
{
  const char *id = pinhole_transfer_get_id (transfer);

  if (g_hash_table_lookup (self->transfers, id) != transfer)
    return FALSE;
  if ((gint) type >= 0)
    {
      g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_new (type, id);

      _pinhole_transfer_link_send (self, m);
    }
  detach_transfer (self, transfer);
  g_hash_table_remove (self->transfers, id);
  return TRUE;
}

/* incoming offers of this session that wait for an answer */
static guint
count_unanswered (PinholeTransferLink *self)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->transfers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (pinhole_transfer_get_direction (value) == PINHOLE_TRANSFER_DIRECTION_INCOMING &&
        pinhole_transfer_get_state (value) == PINHOLE_TRANSFER_STATE_OFFERED)
      n++;
  return n;
}

/* an outgoing offer went to every online device of the user, each on its own session: the
 * first accept wins and moves the transfer onto its session; a later one learns it was taken.
 * Returns: whether @m goes on to the transfer */
static gboolean
arbitrate (PinholeTransferLink    *self,
           PinholeTransfer        *transfer,
           PinholeTransferMessage *m)
{
  if (pinhole_transfer_get_direction (transfer) != PINHOLE_TRANSFER_DIRECTION_OUTGOING ||
      _pinhole_transfer_get_link (transfer) == self)
    return TRUE;
  if (m->type == PINHOLE_TRANSFER_MESSAGE_ACCEPT &&
      pinhole_transfer_get_state (transfer) == PINHOLE_TRANSFER_STATE_OFFERED &&
      pinhole_transfer_get_accepted (transfer) == NULL)
    {
      _pinhole_transfer_set_link (transfer, self);
      return TRUE;
    }
  if (m->type == PINHOLE_TRANSFER_MESSAGE_DECLINE &&
      pinhole_transfer_get_accepted (transfer) == NULL)
    return TRUE;   /* the same user said no on one of their devices */
  if (m->type == PINHOLE_TRANSFER_MESSAGE_ACCEPT)
    {
      g_debug ("transfer %s was accepted elsewhere: taken", m->id);
      _pinhole_transfer_link_withdraw (self, transfer, PINHOLE_TRANSFER_MESSAGE_TAKEN);
      return FALSE;
    }
  g_debug ("%s for transfer %s from a device that did not take it dropped",
           pinhole_transfer_message_type_to_string (m->type), m->id);
  return FALSE;
}

static void
offer_part (PinholeTransferLink    *self,
            PinholeTransferMessage *m)
{
  GByteArray *text = g_hash_table_lookup (self->offers, m->id);
  g_autoptr(PinholeManifest) manifest = NULL;
  g_autoptr(PinholeTransfer) transfer = NULL;
  g_autoptr(GError) error = NULL;

  if (text == NULL)
    {
      /* what a peer can make us hold: offers being assembled and offers not answered */
      if (g_hash_table_size (self->offers) + count_unanswered (self) >= MAX_PENDING_OFFERS)
        {
          g_autoptr(PinholeTransferMessage) refusal =
            pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_FAILED, m->id);

          g_debug ("offer %s refused: %d wait already", m->id, MAX_PENDING_OFFERS);
          refusal->code = PINHOLE_ERROR_LIMIT;
          refusal->reason = g_strdup_printf ("more than %d offers wait for an answer",
                                             MAX_PENDING_OFFERS);
          _pinhole_transfer_link_send (self, refusal);
          return;
        }
      text = g_byte_array_new ();
      g_hash_table_insert (self->offers, g_strdup (m->id), text);
    }
  if (m->offset != text->len)
    {
      g_set_error (&error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "offer part at %" G_GUINT64_FORMAT ", %u bytes expected", m->offset, text->len);
      goto refuse;
    }
  g_byte_array_append (text, g_bytes_get_data (m->part, NULL), (guint) g_bytes_get_size (m->part));
  if (text->len < m->manifest_size)
    return;

  manifest = pinhole_manifest_parse ((const char *) text->data, text->len, &error);
  if (manifest == NULL)
    goto refuse;
  g_hash_table_remove (self->offers, m->id);
  transfer = _pinhole_transfer_new_offered (m->id, g_steal_pointer (&manifest));
  add_transfer (self, transfer);
  g_signal_emit (self, signals[SIGNAL_OFFER_RECEIVED], 0, transfer);
  return;

refuse:
  g_debug ("offer %s refused: %s", m->id, error->message);
  g_hash_table_remove (self->offers, m->id);
  {
    g_autoptr(PinholeTransferMessage) refusal =
      pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_FAILED, m->id);

    refusal->code = error->domain == PINHOLE_ERROR ? error->code : PINHOLE_ERROR_PROTOCOL;
    refusal->reason = g_strdup_printf ("the offer was refused: %s", error->message);
    _pinhole_transfer_link_send (self, refusal);
  }
}

static void
frame_cb (PinholeSession      *session,
          guint                channel,
          GBytes              *payload,
          PinholeTransferLink *self)
{
  g_autoptr(PinholeTransferLink) hold G_GNUC_UNUSED = g_object_ref (self);
  g_autoptr(GError) error = NULL;

  if (channel == PINHOLE_SESSION_CHANNEL_TRANSFER)
    {
      g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_parse (payload, &error);
      PinholeTransfer *transfer;

      if (m == NULL)
        {
          g_debug ("transfer message dropped: %s", error->message);
          return;
        }
      transfer = g_hash_table_lookup (self->transfers, m->id);
      if (m->type == PINHOLE_TRANSFER_MESSAGE_OFFER && transfer == NULL)
        offer_part (self, m);
      else if (transfer != NULL && arbitrate (self, transfer, m))
        _pinhole_transfer_handle_message (transfer, m);
      else
        g_debug ("%s for unknown transfer %s dropped",
                 pinhole_transfer_message_type_to_string (m->type), m->id);
      return;
    }
  if (channel >= PINHOLE_SESSION_CHANNEL_BULK && self->incoming[channel] != NULL)
    {
      PinholeTransferData d;

      if (!pinhole_transfer_data_parse (payload, &d, &error))
        {
          g_debug ("transfer data dropped: %s", error->message);
          return;
        }
      _pinhole_transfer_handle_data (self->incoming[channel], &d);
    }
}

/**
 * pinhole_transfer_link_new:
 * Carries the transfers of @session: its channel 2 and its data channels.
 */
PinholeTransferLink *
pinhole_transfer_link_new (PinholeSession *session)
{
  PinholeTransferLink *self = g_object_new (PINHOLE_TYPE_TRANSFER_LINK, NULL);

  self->session = g_object_ref (session);
  self->frame_id = g_signal_connect (session, "frame-received", G_CALLBACK (frame_cb), self);
  self->acked_id = g_signal_connect (session, "acked", G_CALLBACK (acked_cb), self);
  return self;
}

/**
 * pinhole_transfer_link_offer:
 * @manifest: (transfer full): from pinhole_manifest_build_async()
 * @sources: (transfer full): the local path of each entry
 * Returns: (transfer full): the outgoing transfer, its offer sent
 */
PinholeTransfer *
pinhole_transfer_link_offer (PinholeTransferLink  *self,
                             PinholeManifest      *manifest,
                             GPtrArray            *sources,
                             GError              **error)
{
  g_autofree char *id = pinhole_transfer_id_new ();
  g_autoptr(PinholeTransfer) transfer = NULL;

  g_return_val_if_fail (PINHOLE_IS_TRANSFER_LINK (self), NULL);
  if (!pinhole_manifest_validate (manifest, error))
    {
      pinhole_manifest_free (manifest);
      g_ptr_array_unref (sources);
      return NULL;
    }
  transfer = _pinhole_transfer_new_outgoing (id, manifest, sources);
  add_transfer (self, transfer);
  _pinhole_transfer_start (transfer);
  return g_steal_pointer (&transfer);
}

/**
 * pinhole_transfer_link_resume:
 * Carries on @transfer on this session (a new session, or the recipient restarted): an
 * accepted incoming transfer reports the blocks it holds and asks for the rest.
 */
void
pinhole_transfer_link_resume (PinholeTransferLink *self,
                              PinholeTransfer     *transfer)
{
  g_return_if_fail (PINHOLE_IS_TRANSFER_LINK (self));
  add_transfer (self, transfer);
  _pinhole_transfer_start (transfer);
}

/* Returns: (transfer none) (nullable) */
PinholeTransfer *
pinhole_transfer_link_lookup (PinholeTransferLink *self,
                              const char          *id)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER_LINK (self), NULL);
  return g_hash_table_lookup (self->transfers, id);
}
