/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer.c: one transfer (docs/transfer.md §4-5). The sender reads blocks in a
 * worker, at most two ahead and no more than the recipient's window out; the recipient
 * assembles each block from its DATA frames, has the file writer verify and write it, and
 * answers verified or resent. A new run (after `have` and `ready`) starts on a fresh data
 * channel and sends only the blocks the recipient does not report. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-transfer-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pinhole-enum-types.h"
#include "pinhole-error.h"
#include "pinhole-file-reader.h"
#include "pinhole-file-writer.h"
#include "pinhole-session.h"

#define MAX_READS_AHEAD 2
#define RATE_INTERVAL_US (500 * 1000)
#define DATA_CHUNK (PINHOLE_SESSION_MAX_PAYLOAD - PINHOLE_TRANSFER_DATA_HEADER)

struct _PinholeTransfer
{
  GObject                   parent_instance;

  /* owned */
  char                     *id;
  PinholeManifest          *manifest;
  GPtrArray                *sources;        /* outgoing: char *, beside the entries */
  GCancellable             *cancellable;    /* cancelled when the transfer is over */
  char                     *error;
  GArray                   *accepted;       /* guint32 entry indices */
  GArray                   *todo;           /* outgoing: guint64 entry << 32 | block */
  GHashTable               *have;           /* outgoing: entry -> GByteArray bitmap, or NULL */
  char                     *folder;         /* incoming */
  char                     *peer_user;
  char                     *peer_device;
  GPtrArray                *writers;        /* incoming: PinholeFileWriter, beside accepted */
  GByteArray               *rx_buf;         /* incoming: the block being assembled */

  /* borrowed: the link clears it when it goes */
  PinholeTransferLink      *link;

  PinholeTransferDirection  direction;
  PinholeTransferState      state;
  guint64                   bytes_done;
  guint64                   bytes_total;
  guint64                   bytes_sent;     /* outgoing: DATA payload put on the session */
  gint64                    created;        /* seconds since the epoch: offered, or received */
  gdouble                   rate;
  gint64                    rate_time;
  guint64                   rate_bytes;
  gboolean                  paused_here;
  gboolean                  paused_there;
  guint                     window;
  gboolean                  accepted_here;  /* incoming: accept already sent */

  /* outgoing */
  guint                     channel;        /* the data channel of this run; 0: none */
  guint64                   run;
  gsize                     todo_head;
  guint                     outstanding;    /* blocks sent, not yet verified or resent */
  guint                     reads;

  /* incoming */
  int                       folder_fd;
  guint                     opened;         /* writers opened so far */
  gboolean                  ready_sent;
  gboolean                  rx_active;
  guint32                   rx_entry;
  guint64                   rx_block;
  guint64                   rx_len;
  guint8                    rx_hash[PINHOLE_MANIFEST_SHA256_BYTES];
  guint                     pending_writes;
  guint                     files_done;
  guint                     prepare_gen;    /* which recipient_prepare() is the current one */
  guint                     discards;       /* partials being removed without a writer */
  gboolean                  discard_when_open; /* cancelled while writers were opening */
};

G_DEFINE_FINAL_TYPE (PinholeTransfer, pinhole_transfer, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ID,
  PROP_DIRECTION,
  PROP_STATE,
  PROP_BYTES_DONE,
  PROP_BYTES_TOTAL,
  PROP_RATE,
  PROP_ERROR,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_RUN_STARTED, SIGNAL_FLUSHED, SIGNAL_LINKED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void sender_pump (PinholeTransfer *self);
static void discard_by_name (PinholeTransfer *self);
static void recipient_open_next (PinholeTransfer *self);

/* ---- the object ---- */

static void
pinhole_transfer_dispose (GObject *object)
{
  PinholeTransfer *self = PINHOLE_TRANSFER (object);

  g_cancellable_cancel (self->cancellable);
  G_OBJECT_CLASS (pinhole_transfer_parent_class)->dispose (object);
}

static void
pinhole_transfer_finalize (GObject *object)
{
  PinholeTransfer *self = PINHOLE_TRANSFER (object);

  g_free (self->id);
  pinhole_manifest_free (self->manifest);
  g_clear_pointer (&self->sources, g_ptr_array_unref);
  g_clear_object (&self->cancellable);
  g_free (self->error);
  g_clear_pointer (&self->accepted, g_array_unref);
  g_clear_pointer (&self->todo, g_array_unref);
  g_clear_pointer (&self->have, g_hash_table_unref);
  g_free (self->folder);
  g_free (self->peer_user);
  g_free (self->peer_device);
  g_clear_pointer (&self->writers, g_ptr_array_unref);
  g_clear_pointer (&self->rx_buf, g_byte_array_unref);
  if (self->folder_fd >= 0)
    close (self->folder_fd);
  G_OBJECT_CLASS (pinhole_transfer_parent_class)->finalize (object);
}

static void
pinhole_transfer_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PinholeTransfer *self = PINHOLE_TRANSFER (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_DIRECTION:
      g_value_set_enum (value, self->direction);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_BYTES_DONE:
      g_value_set_uint64 (value, self->bytes_done);
      break;
    case PROP_BYTES_TOTAL:
      g_value_set_uint64 (value, self->bytes_total);
      break;
    case PROP_RATE:
      g_value_set_double (value, self->rate);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pinhole_transfer_class_init (PinholeTransferClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = pinhole_transfer_dispose;
  object_class->finalize = pinhole_transfer_finalize;
  object_class->get_property = pinhole_transfer_get_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);
  properties[PROP_DIRECTION] =
    g_param_spec_enum ("direction", NULL, NULL, PINHOLE_TYPE_TRANSFER_DIRECTION,
                       PINHOLE_TRANSFER_DIRECTION_OUTGOING, flags);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, PINHOLE_TYPE_TRANSFER_STATE,
                       PINHOLE_TRANSFER_STATE_OFFERING, flags);
  properties[PROP_BYTES_DONE] = g_param_spec_uint64 ("bytes-done", NULL, NULL, 0, G_MAXUINT64,
                                                     0, flags);
  properties[PROP_BYTES_TOTAL] = g_param_spec_uint64 ("bytes-total", NULL, NULL, 0, G_MAXUINT64,
                                                      0, flags);
  /* bytes a second of verified blocks, over the last half second or more */
  properties[PROP_RATE] = g_param_spec_double ("rate", NULL, NULL, 0, G_MAXDOUBLE, 0, flags);
  properties[PROP_ERROR] = g_param_spec_string ("error", NULL, NULL, NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PinholeTransfer::run-started:
   * @missing: the bytes the sender is about to send: what the recipient does not hold
   * The sender begins a run, after the recipient's have and ready (the first, or a resume).
   */
  signals[SIGNAL_RUN_STARTED] =
    g_signal_new ("run-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  /**
   * PinholeTransfer::flushed:
   * The peer acknowledged every transfer message sent on the transfer's session so far (a
   * one-shot command that paused or cancelled may exit now).
   */
  /**
   * PinholeTransfer::linked:
   * A session carries the transfer now (the first, or a new one after a restart): answers
   * and controls reach the peer from here on.
   */
  signals[SIGNAL_LINKED] =
    g_signal_new ("linked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_FLUSHED] =
    g_signal_new ("flushed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
pinhole_transfer_init (PinholeTransfer *self)
{
  self->cancellable = g_cancellable_new ();
  self->folder_fd = -1;
  self->window = PINHOLE_TRANSFER_WINDOW;
}

static PinholeTransfer *
transfer_new (const char               *id,
              PinholeManifest          *manifest,
              PinholeTransferDirection  direction,
              PinholeTransferState      state)
{
  PinholeTransfer *self = g_object_new (PINHOLE_TYPE_TRANSFER, NULL);

  self->id = g_strdup (id);
  self->manifest = manifest;
  self->direction = direction;
  self->state = state;
  self->bytes_total = pinhole_manifest_get_total_bytes (manifest);
  self->created = g_get_real_time () / G_USEC_PER_SEC;
  return self;
}

/* @manifest, @sources: taken */
PinholeTransfer *
_pinhole_transfer_new_outgoing (const char      *id,
                                PinholeManifest *manifest,
                                GPtrArray       *sources)
{
  PinholeTransfer *self = transfer_new (id, manifest, PINHOLE_TRANSFER_DIRECTION_OUTGOING,
                                        PINHOLE_TRANSFER_STATE_OFFERING);

  self->sources = sources;
  self->todo = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->have = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                      (GDestroyNotify) g_byte_array_unref);
  return self;
}

/* a restarted sender's transfer that a device accepted before: the recipient's have and ready
 * on the next session with that device start its run. @manifest, @sources: taken; @accepted:
 * copied */
PinholeTransfer *
_pinhole_transfer_new_outgoing_accepted (const char      *id,
                                         PinholeManifest *manifest,
                                         GPtrArray       *sources,
                                         GArray          *accepted)
{
  PinholeTransfer *self = _pinhole_transfer_new_outgoing (id, manifest, sources);

  self->accepted = g_array_copy (accepted);
  self->bytes_total = 0;
  for (guint i = 0; i < self->accepted->len; i++)
    self->bytes_total += pinhole_manifest_get_entry (manifest,
                                                     g_array_index (accepted, guint32, i))->size;
  self->state = PINHOLE_TRANSFER_STATE_RUNNING;
  return self;
}

/* Returns: (transfer none) (nullable): outgoing: the local path of each entry */
GPtrArray *
_pinhole_transfer_get_sources (PinholeTransfer *self)
{
  return self->sources;
}

void
_pinhole_transfer_set_created (PinholeTransfer *self,
                               gint64           created)
{
  self->created = created;
}

/* Returns: when the offer was made (outgoing) or came (incoming), seconds since the epoch */
gint64
pinhole_transfer_get_created (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), 0);
  return self->created;
}

void
_pinhole_transfer_emit_flushed (PinholeTransfer *self)
{
  g_signal_emit (self, signals[SIGNAL_FLUSHED], 0);
}

/* Returns: whether nothing of the transfer is on its way: its peer acknowledged every
 * message it was sent (or no session carries it) and no partial file is being removed */
gboolean
pinhole_transfer_is_flushed (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), FALSE);
  return self->discards == 0 &&
         (self->link == NULL || _pinhole_transfer_link_is_flushed (self->link));
}

/* Returns: whether this side paused it */
gboolean
pinhole_transfer_is_paused_here (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), FALSE);
  return self->paused_here;
}

/* Returns: whether the transfer is on a session now */
gboolean
pinhole_transfer_is_linked (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), FALSE);
  return self->link != NULL;
}

/* Returns: (transfer none) (nullable): the link the transfer talks on */
PinholeTransferLink *
_pinhole_transfer_get_link (PinholeTransfer *self)
{
  return self->link;
}

/* @manifest: taken */
PinholeTransfer *
_pinhole_transfer_new_offered (const char      *id,
                               PinholeManifest *manifest)
{
  return transfer_new (id, manifest, PINHOLE_TRANSFER_DIRECTION_INCOMING,
                       PINHOLE_TRANSFER_STATE_OFFERED);
}

/**
 * pinhole_transfer_new_incoming_accepted:
 * An incoming transfer accepted before (its recipient restarted): handed to
 * pinhole_transfer_link_resume(), it reports the blocks it holds and goes on.
 * @manifest: taken; @entries: copied
 */
PinholeTransfer *
pinhole_transfer_new_incoming_accepted (const char      *id,
                                        PinholeManifest *manifest,
                                        const char      *folder,
                                        GArray          *entries)
{
  PinholeTransfer *self = _pinhole_transfer_new_offered (id, manifest);

  self->folder = g_strdup (folder);
  self->accepted = g_array_copy (entries);
  self->accepted_here = TRUE;
  self->state = PINHOLE_TRANSFER_STATE_RUNNING;
  return self;
}

void
_pinhole_transfer_set_link (PinholeTransfer     *self,
                            PinholeTransferLink *link)
{
  gboolean changed = link != NULL && link != self->link;

  self->link = link;
  if (changed)
    g_signal_emit (self, signals[SIGNAL_LINKED], 0);
}

/* ---- state ---- */

gboolean
pinhole_transfer_is_over (PinholeTransfer *self)
{
  return self->state >= PINHOLE_TRANSFER_STATE_DONE;
}

static void
set_state (PinholeTransfer      *self,
           PinholeTransferState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  if (pinhole_transfer_is_over (self))
    {
      g_cancellable_cancel (self->cancellable);
      if (self->link != NULL && self->channel != 0)
        _pinhole_transfer_link_release_channel (self->link, self->channel);
      self->channel = 0;
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
add_done (PinholeTransfer *self,
          guint64          bytes)
{
  gint64 now = g_get_monotonic_time ();

  self->bytes_done += bytes;
  if (self->rate_time == 0)
    {
      self->rate_time = now;
      self->rate_bytes = self->bytes_done - bytes;
    }
  else if (now - self->rate_time >= RATE_INTERVAL_US)
    {
      self->rate = (self->bytes_done - self->rate_bytes) * 1e6 / (now - self->rate_time);
      self->rate_time = now;
      self->rate_bytes = self->bytes_done;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RATE]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_DONE]);
}

static void
send_simple (PinholeTransfer            *self,
             PinholeTransferMessageType  type)
{
  g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_new (type, self->id);

  if (self->link != NULL)
    _pinhole_transfer_link_send (self->link, m);
}

/* over with an error: says so to the peer too (unless the peer said it) */
static void G_GNUC_PRINTF (4, 5)
fail (PinholeTransfer *self,
      gboolean         tell_peer,
      PinholeError     code,
      const char      *format,
      ...)
{
  va_list args;
  g_autofree char *reason = NULL;

  if (pinhole_transfer_is_over (self))
    return;
  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("transfer %s failed: %s", self->id, reason);
  if (tell_peer && self->link != NULL)
    {
      g_autoptr(PinholeTransferMessage) m =
        pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_FAILED, self->id);

      m->code = code;
      m->reason = g_utf8_make_valid (reason, MIN (strlen (reason),
                                                  (gsize) PINHOLE_TRANSFER_MAX_REASON - 8));
      _pinhole_transfer_link_send (self->link, m);
    }
  g_free (self->error);
  self->error = g_steal_pointer (&reason);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
  set_state (self, PINHOLE_TRANSFER_STATE_FAILED);
}

/* ---- the sender ---- */

static gboolean
is_accepted (PinholeTransfer *self,
             guint32          entry)
{
  for (guint i = 0; self->accepted != NULL && i < self->accepted->len; i++)
    if (g_array_index (self->accepted, guint32, i) == entry)
      return TRUE;
  return FALSE;
}

static gboolean
have_block (PinholeTransfer *self,
            guint32          entry,
            guint64          block)
{
  GByteArray *bits;

  if (!g_hash_table_contains (self->have, GUINT_TO_POINTER (entry)))
    return FALSE;
  bits = g_hash_table_lookup (self->have, GUINT_TO_POINTER (entry));
  if (bits == NULL)
    return TRUE;   /* done */
  return block / 8 < bits->len && (bits->data[block / 8] & (0x80 >> (block % 8))) != 0;
}

/* the recipient's `have`: remembered until its `ready` */
static void
sender_have (PinholeTransfer        *self,
             PinholeTransferMessage *m)
{
  GByteArray *bits;
  gsize len;
  const guint8 *p;

  if (!is_accepted (self, m->entry))
    {
      fail (self, TRUE, PINHOLE_ERROR_PROTOCOL, "have for entry %u, which was not accepted",
            m->entry);
      return;
    }
  if (m->done)
    {
      g_hash_table_insert (self->have, GUINT_TO_POINTER (m->entry), NULL);
      return;
    }
  bits = g_hash_table_lookup (self->have, GUINT_TO_POINTER (m->entry));
  if (bits == NULL)
    {
      if (g_hash_table_contains (self->have, GUINT_TO_POINTER (m->entry)))
        return;   /* done already */
      bits = g_byte_array_new ();
      g_hash_table_insert (self->have, GUINT_TO_POINTER (m->entry), bits);
    }
  p = g_bytes_get_data (m->blocks, &len);
  /* a bitmap past the file's blocks says nothing more */
  {
    guint64 n_bytes = (pinhole_manifest_entry_get_n_blocks (
                         pinhole_manifest_get_entry (self->manifest, m->entry)) + 7) / 8;
    guint64 start = m->first / 8;

    if (start >= n_bytes)
      return;
    len = (gsize) MIN ((guint64) len, n_bytes - start);
    if (bits->len < start + len)
      {
        guint old = bits->len;

        g_byte_array_set_size (bits, (guint) (start + len));
        memset (bits->data + old, 0, bits->len - old);
      }
    for (gsize i = 0; i < len; i++)
      bits->data[start + i] |= p[i];
  }
}

/* the recipient's `ready`: a new run sends what it does not have, on a fresh channel */
static void
sender_ready (PinholeTransfer        *self,
              PinholeTransferMessage *m)
{
  g_autoptr(PinholeTransferMessage) sending = NULL;
  guint64 have_bytes = 0;

  if (self->accepted == NULL)
    {
      fail (self, TRUE, PINHOLE_ERROR_PROTOCOL, "ready before accept");
      return;
    }
  self->run++;
  self->window = m->window;
  self->outstanding = 0;
  if (self->channel != 0)
    _pinhole_transfer_link_release_channel (self->link, self->channel);
  self->channel = _pinhole_transfer_link_claim_channel (self->link);
  if (self->channel == 0)
    {
      fail (self, TRUE, PINHOLE_ERROR_LIMIT, "too many transfers at once on this session");
      return;
    }
  g_array_set_size (self->todo, 0);
  self->todo_head = 0;
  for (guint i = 0; i < self->accepted->len; i++)
    {
      guint32 entry = g_array_index (self->accepted, guint32, i);
      PinholeManifestEntry *e = pinhole_manifest_get_entry (self->manifest, entry);

      for (guint64 b = 0; b < pinhole_manifest_entry_get_n_blocks (e); b++)
        {
          if (have_block (self, entry, b))
            have_bytes += pinhole_file_writer_block_length (e, b);
          else
            {
              guint64 code = (guint64) entry << 32 | b;

              g_array_append_val (self->todo, code);
            }
        }
    }
  g_hash_table_remove_all (self->have);
  self->bytes_done = have_bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_DONE]);
  g_debug ("transfer %s: run %" G_GUINT64_FORMAT " on channel %u, %u blocks to send", self->id,
           self->run, self->channel, self->todo->len);

  sending = pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_SENDING, self->id);
  sending->channel = self->channel;
  _pinhole_transfer_link_send (self->link, sending);
  g_signal_emit (self, signals[SIGNAL_RUN_STARTED], 0, self->bytes_total - have_bytes);
  if (!self->paused_here && !self->paused_there)
    set_state (self, PINHOLE_TRANSFER_STATE_RUNNING);
  sender_pump (self);
}

typedef struct
{
  PinholeTransfer     *self;   /* a reference */
  PinholeTransferLink *link;   /* a reference: the block's room is reserved on it */
  guint64              run;
  guint32              entry;
  guint64              block;
} ReadCtx;

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  ReadCtx *ctx = user_data;
  g_autoptr(PinholeTransfer) self = ctx->self;
  g_autoptr(GError) error = NULL;
  guint8 hash[PINHOLE_MANIFEST_SHA256_BYTES];
  g_autoptr(GBytes) data = pinhole_file_reader_read_block_finish (result, hash, &error);
  guint32 entry = ctx->entry;
  guint64 block = ctx->block, run = ctx->run;

  /* the block goes into the session now, or never: its room is free again either way */
  _pinhole_transfer_link_release_block (ctx->link);
  g_object_unref (ctx->link);
  g_free (ctx);
  self->reads--;
  if (pinhole_transfer_is_over (self) || run != self->run || self->link == NULL)
    return;
  if (data == NULL)
    {
      fail (self, TRUE, PINHOLE_ERROR_FAILED, "%s", error->message);
      return;
    }
  {
    g_autoptr(GBytes) frame = pinhole_transfer_data_build_block (entry, block, hash);
    gsize len;
    const guint8 *p = g_bytes_get_data (data, &len);

    if (!_pinhole_transfer_link_send_data (self->link, self->channel, frame))
      return;
    for (gsize off = 0; off < len; off += DATA_CHUNK)
      {
        gsize n = MIN (len - off, (gsize) DATA_CHUNK);
        g_autoptr(GBytes) chunk =
          pinhole_transfer_data_build_data (entry, block * PINHOLE_MANIFEST_BLOCK_SIZE + off,
                                            p + off, n);

        if (!_pinhole_transfer_link_send_data (self->link, self->channel, chunk))
          return;
        self->bytes_sent += n;
      }
  }
  self->outstanding++;
  sender_pump (self);
}

/* the link has room again in its session for a block */
void
_pinhole_transfer_pump (PinholeTransfer *self)
{
  sender_pump (self);
}

static void
sender_pump (PinholeTransfer *self)
{
  while (self->state == PINHOLE_TRANSFER_STATE_RUNNING && self->channel != 0 &&
         self->link != NULL && self->todo_head < self->todo->len &&
         self->reads < MAX_READS_AHEAD && self->outstanding + self->reads < self->window &&
         _pinhole_transfer_link_reserve_block (self->link))
    {
      guint64 code = g_array_index (self->todo, guint64, self->todo_head++);
      ReadCtx *ctx = g_new0 (ReadCtx, 1);
      guint32 entry = (guint32) (code >> 32);

      ctx->self = g_object_ref (self);
      ctx->link = g_object_ref (self->link);
      ctx->run = self->run;
      ctx->entry = entry;
      ctx->block = code & G_MAXUINT32;
      self->reads++;
      pinhole_file_reader_read_block_async (self->sources->pdata[entry],
                                            pinhole_manifest_get_entry (self->manifest, entry),
                                            ctx->block, self->cancellable, read_cb, ctx);
    }
}

static void
sender_handle (PinholeTransfer        *self,
               PinholeTransferMessage *m)
{
  switch (m->type)
    {
    case PINHOLE_TRANSFER_MESSAGE_ACCEPT:
      if (self->accepted != NULL)
        return;   /* a repeat after a restart: the have and ready that follow say the rest */
      for (guint i = 0; i < m->entries->len; i++)
        if (g_array_index (m->entries, guint32, i) >=
            pinhole_manifest_get_n_entries (self->manifest))
          {
            fail (self, TRUE, PINHOLE_ERROR_PROTOCOL, "accept of entry %u, which was not offered",
                  g_array_index (m->entries, guint32, i));
            return;
          }
      self->accepted = g_array_copy (m->entries);
      self->bytes_total = 0;
      for (guint i = 0; i < self->accepted->len; i++)
        self->bytes_total += pinhole_manifest_get_entry (self->manifest,
                                                         g_array_index (self->accepted,
                                                                        guint32, i))->size;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_TOTAL]);
      set_state (self, PINHOLE_TRANSFER_STATE_RUNNING);
      break;
    case PINHOLE_TRANSFER_MESSAGE_DECLINE:
      set_state (self, PINHOLE_TRANSFER_STATE_DECLINED);
      break;
    case PINHOLE_TRANSFER_MESSAGE_HAVE:
      sender_have (self, m);
      break;
    case PINHOLE_TRANSFER_MESSAGE_READY:
      sender_ready (self, m);
      break;
    case PINHOLE_TRANSFER_MESSAGE_VERIFIED:
    case PINHOLE_TRANSFER_MESSAGE_RESENT:
      if (!is_accepted (self, m->entry) ||
          m->block >= pinhole_manifest_entry_get_n_blocks (
                        pinhole_manifest_get_entry (self->manifest, m->entry)))
        {
          fail (self, TRUE, PINHOLE_ERROR_PROTOCOL, "%s of a block that was not sent",
                pinhole_transfer_message_type_to_string (m->type));
          return;
        }
      if (self->outstanding > 0)
        self->outstanding--;
      if (m->type == PINHOLE_TRANSFER_MESSAGE_VERIFIED)
        add_done (self, pinhole_file_writer_block_length (
                          pinhole_manifest_get_entry (self->manifest, m->entry), m->block));
      else
        {
          guint64 code = (guint64) m->entry << 32 | m->block;

          g_debug ("transfer %s: block %" G_GUINT64_FORMAT " of entry %u goes again", self->id,
                   m->block, m->entry);
          g_array_append_val (self->todo, code);
        }
      sender_pump (self);
      break;
    case PINHOLE_TRANSFER_MESSAGE_DONE:
      set_state (self, PINHOLE_TRANSFER_STATE_DONE);
      break;
    case PINHOLE_TRANSFER_MESSAGE_FILE_DONE:
    default:
      break;
    }
}

/* ---- the recipient ---- */

static gint
writer_index (PinholeTransfer *self,
              guint32          entry)
{
  for (guint i = 0; self->accepted != NULL && i < self->accepted->len; i++)
    if (g_array_index (self->accepted, guint32, i) == entry)
      return (gint) i;
  return -1;
}

static void
send_block_answer (PinholeTransfer            *self,
                   PinholeTransferMessageType  type,
                   guint32                     entry,
                   guint64                     block)
{
  g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_new (type, self->id);

  m->entry = entry;
  m->block = block;
  if (self->link != NULL)
    _pinhole_transfer_link_send (self->link, m);
}

typedef struct
{
  PinholeTransfer *self;   /* a reference */
  guint            index;
} WriterCtx;

static void
finish_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  WriterCtx *ctx = user_data;
  g_autoptr(PinholeTransfer) self = ctx->self;
  PinholeFileWriter *w = PINHOLE_FILE_WRITER (source);
  g_autoptr(GError) error = NULL;
  guint index = ctx->index;

  g_free (ctx);
  if (!pinhole_file_writer_finish_finish (w, result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail (self, TRUE, error->domain == PINHOLE_ERROR ? error->code : PINHOLE_ERROR_FAILED,
              "%s", error->message);
      return;
    }
  if (pinhole_transfer_is_over (self))
    return;
  {
    g_autoptr(PinholeTransferMessage) m =
      pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_FILE_DONE, self->id);
    guint32 entry = g_array_index (self->accepted, guint32, index);

    m->entry = entry;
    memcpy (m->sha256, pinhole_manifest_get_entry (self->manifest, entry)->sha256,
            PINHOLE_MANIFEST_SHA256_BYTES);
    if (self->link != NULL)
      _pinhole_transfer_link_send (self->link, m);
  }
  if (++self->files_done == self->accepted->len)
    {
      send_simple (self, PINHOLE_TRANSFER_MESSAGE_DONE);
      set_state (self, PINHOLE_TRANSFER_STATE_DONE);
    }
}

static void
maybe_finish (PinholeTransfer *self,
              guint            index)
{
  PinholeFileWriter *w = self->writers->pdata[index];
  WriterCtx *ctx;

  if (pinhole_file_writer_is_complete (w) && pinhole_file_writer_get_n_blocks (w) == 0 &&
      pinhole_manifest_get_entry (self->manifest,
                                  g_array_index (self->accepted, guint32, index))->folder)
    {
      /* a folder: made when opened */
      ctx = g_new0 (WriterCtx, 1);
      ctx->self = g_object_ref (self);
      ctx->index = index;
      pinhole_file_writer_finish_async (w, self->cancellable, finish_cb, ctx);
      return;
    }
  if (pinhole_file_writer_is_complete (w) ||
      pinhole_file_writer_get_verified_bytes (w) !=
        pinhole_manifest_get_entry (self->manifest,
                                    g_array_index (self->accepted, guint32, index))->size)
    return;
  ctx = g_new0 (WriterCtx, 1);
  ctx->self = g_object_ref (self);
  ctx->index = index;
  pinhole_file_writer_finish_async (w, self->cancellable, finish_cb, ctx);
}

typedef struct
{
  PinholeTransfer *self;   /* a reference */
  guint            index;
  guint32          entry;
  guint64          block;
  guint64          len;
} WriteCtx;

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  WriteCtx *ctx = user_data;
  g_autoptr(PinholeTransfer) self = ctx->self;
  g_autoptr(GError) error = NULL;
  gboolean ok = pinhole_file_writer_write_block_finish (PINHOLE_FILE_WRITER (source), result,
                                                        &error);
  WriteCtx c = *ctx;

  g_free (ctx);
  self->pending_writes--;
  if (pinhole_transfer_is_over (self))
    return;
  if (!ok && g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL))
    {
      /* the block does not match its hash: it comes again */
      g_debug ("transfer %s: %s", self->id, error->message);
      send_block_answer (self, PINHOLE_TRANSFER_MESSAGE_RESENT, c.entry, c.block);
      return;
    }
  if (!ok)
    {
      /* a full disk, among others: the verified blocks stay for a later resume */
      fail (self, TRUE, PINHOLE_ERROR_FAILED, "%s", error->message);
      return;
    }
  add_done (self, c.len);
  send_block_answer (self, PINHOLE_TRANSFER_MESSAGE_VERIFIED, c.entry, c.block);
  maybe_finish (self, c.index);
}

static void
recipient_data (PinholeTransfer     *self,
                PinholeTransferData *d)
{
  gint index = writer_index (self, d->entry);
  PinholeManifestEntry *e;

  if (!self->ready_sent || index < 0)
    {
      fail (self, TRUE, PINHOLE_ERROR_PROTOCOL, "data for entry %u, which was not accepted",
            d->entry);
      return;
    }
  e = pinhole_manifest_get_entry (self->manifest, d->entry);
  if (d->kind == PINHOLE_TRANSFER_DATA_BLOCK)
    {
      if (self->rx_active)
        {
          fail (self, TRUE, PINHOLE_ERROR_PROTOCOL, "a new block began before the last ended");
          return;
        }
      if (d->block >= pinhole_manifest_entry_get_n_blocks (e))
        {
          g_autofree char *quoted = g_strescape (e->path, NULL);

          fail (self, TRUE, PINHOLE_ERROR_PROTOCOL,
                "the sender sent more than it offered for \"%s\" (block %" G_GUINT64_FORMAT ")",
                quoted, d->block);
          return;
        }
      /* the window bounds what waits for the disk */
      if (self->pending_writes >= self->window)
        {
          fail (self, TRUE, PINHOLE_ERROR_PROTOCOL,
                "the sender ran past the window of %u blocks", self->window);
          return;
        }
      self->rx_active = TRUE;
      self->rx_entry = d->entry;
      self->rx_block = d->block;
      self->rx_len = pinhole_file_writer_block_length (e, d->block);
      memcpy (self->rx_hash, d->sha256, PINHOLE_MANIFEST_SHA256_BYTES);
      g_clear_pointer (&self->rx_buf, g_byte_array_unref);
      self->rx_buf = g_byte_array_sized_new ((guint) self->rx_len);
      return;
    }

  /* DATA: the next bytes of the announced block, and no more */
  if (!self->rx_active || d->entry != self->rx_entry ||
      d->offset != self->rx_block * PINHOLE_MANIFEST_BLOCK_SIZE + self->rx_buf->len ||
      d->len > self->rx_len - self->rx_buf->len)
    {
      g_autofree char *quoted = g_strescape (e->path, NULL);

      if (d->offset + d->len > e->size)
        fail (self, TRUE, PINHOLE_ERROR_PROTOCOL,
              "the sender sent more bytes than it offered for \"%s\"", quoted);
      else
        fail (self, TRUE, PINHOLE_ERROR_PROTOCOL,
              "data for \"%s\" at %" G_GUINT64_FORMAT " outside the block announced", quoted,
              d->offset);
      return;
    }
  g_byte_array_append (self->rx_buf, d->data, (guint) d->len);
  if (self->rx_buf->len == self->rx_len)
    {
      WriteCtx *ctx = g_new0 (WriteCtx, 1);
      g_autoptr(GBytes) block = g_byte_array_free_to_bytes (g_steal_pointer (&self->rx_buf));

      self->rx_active = FALSE;
      ctx->self = g_object_ref (self);
      ctx->index = (guint) index;
      ctx->entry = self->rx_entry;
      ctx->block = self->rx_block;
      ctx->len = self->rx_len;
      self->pending_writes++;
      pinhole_file_writer_write_block_async (self->writers->pdata[index], self->rx_block,
                                             self->rx_hash, block, self->cancellable, write_cb,
                                             ctx);
    }
}

/* every writer open: tell what is held, then ready */
static void
recipient_ready (PinholeTransfer *self)
{
  g_autoptr(PinholeTransferMessage) ready = NULL;
  guint64 held = 0;

  if (!self->accepted_here)
    {
      g_autoptr(PinholeTransferMessage) accept =
        pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_ACCEPT, self->id);

      accept->entries = g_array_copy (self->accepted);
      accept->window = self->window;
      _pinhole_transfer_link_send (self->link, accept);
      self->accepted_here = TRUE;
    }
  for (guint i = 0; i < self->writers->len; i++)
    {
      PinholeFileWriter *w = self->writers->pdata[i];
      g_autoptr(PinholeTransferMessage) have = NULL;
      g_autoptr(GBytes) bits = NULL;

      held += pinhole_file_writer_get_verified_bytes (w);
      if (pinhole_file_writer_get_verified_bytes (w) == 0 && !pinhole_file_writer_is_complete (w))
        continue;
      have = pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_HAVE, self->id);
      have->entry = g_array_index (self->accepted, guint32, i);
      bits = pinhole_file_writer_dup_have_bitmap (w);
      /* in parts of at most 16 KiB of bitmap */
      for (gsize off = 0; off < g_bytes_get_size (bits); off += PINHOLE_TRANSFER_MAX_HAVE)
        {
          gsize n = MIN (g_bytes_get_size (bits) - off, (gsize) PINHOLE_TRANSFER_MAX_HAVE);

          g_clear_pointer (&have->blocks, g_bytes_unref);
          have->blocks = g_bytes_new_from_bytes (bits, off, n);
          have->first = off * 8;
          _pinhole_transfer_link_send (self->link, have);
        }
    }
  self->bytes_done = held;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_DONE]);
  ready = pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_READY, self->id);
  ready->window = self->window;
  _pinhole_transfer_link_send (self->link, ready);
  self->ready_sent = TRUE;
  for (guint i = 0; i < self->writers->len; i++)
    maybe_finish (self, i);
}

static void
open_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(PinholeTransfer) self = user_data;
  g_autoptr(GError) error = NULL;

  gboolean ok = pinhole_file_writer_open_finish (PINHOLE_FILE_WRITER (source), result, &error);

  /* a new session began another preparation meanwhile: this writer is not one of it */
  if (self->writers == NULL || !g_ptr_array_find (self->writers, source, NULL))
    return;
  if (self->discard_when_open)
    {
      discard_by_name (self);
      return;
    }
  if (!ok)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail (self, TRUE, PINHOLE_ERROR_FAILED, "%s", error->message);
      return;
    }
  self->opened++;
  recipient_open_next (self);
}

static void
recipient_open_next (PinholeTransfer *self)
{
  PinholeFileWriter *w;

  if (pinhole_transfer_is_over (self) || self->link == NULL)
    return;
  if (self->opened == self->accepted->len)
    {
      recipient_ready (self);
      return;
    }
  w = pinhole_file_writer_new (self->folder_fd,
                               pinhole_manifest_get_entry (self->manifest,
                                                           g_array_index (self->accepted,
                                                                          guint32,
                                                                          self->opened)));
  g_ptr_array_add (self->writers, w);
  pinhole_file_writer_open_async (w, self->cancellable, open_cb, g_object_ref (self));
}

typedef struct
{
  char    *folder;
  guint64  needed;
  guint    gen;
} PrepareData;

static void
prepare_data_free (gpointer data)
{
  PrepareData *p = data;

  g_free (p->folder);
  g_free (p);
}

static void
prepare_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  PrepareData *p = task_data;
  g_autoptr(GError) error = NULL;
  int fd = open (p->folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    {
      int saved = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "Cannot open the folder %s: %s", p->folder, g_strerror (saved));
      return;
    }
  if (!pinhole_folder_check_space (fd, p->needed, &error))
    {
      close (fd);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_int (task, fd);
}

static void
prepare_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  PinholeTransfer *self = PINHOLE_TRANSFER (source);
  g_autoptr(GError) error = NULL;
  gssize fd = g_task_propagate_int (G_TASK (result), &error);
  PrepareData *p = g_task_get_task_data (G_TASK (result));

  if (p->gen != self->prepare_gen)
    {
      /* a new session began another preparation meanwhile */
      if (fd >= 0)
        close ((int) fd);
      return;
    }
  if (self->discard_when_open)
    {
      if (fd >= 0)
        close ((int) fd);
      discard_by_name (self);
      return;
    }
  if (fd < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail (self, TRUE, PINHOLE_ERROR_FAILED, "%s", error->message);
      return;
    }
  if (pinhole_transfer_is_over (self))
    {
      close ((int) fd);
      return;
    }
  if (self->folder_fd >= 0)
    close (self->folder_fd);   /* the folder opened for an earlier session */
  self->folder_fd = (int) fd;
  recipient_open_next (self);
}

/* opens the folder and checks its free space in a worker, then each writer in turn */
static void
recipient_prepare (PinholeTransfer *self)
{
  g_autoptr(GTask) task = g_task_new (self, self->cancellable, prepare_cb, NULL);
  PrepareData *p = g_new0 (PrepareData, 1);

  p->folder = g_strdup (self->folder);
  p->gen = ++self->prepare_gen;
  for (guint i = 0; i < self->accepted->len; i++)
    {
      PinholeManifestEntry *e = pinhole_manifest_get_entry (self->manifest,
                                                            g_array_index (self->accepted,
                                                                           guint32, i));

      p->needed += e->size + pinhole_file_writer_record_bytes (e);
    }
  if (self->writers != NULL)
    g_ptr_array_unref (self->writers);
  self->writers = g_ptr_array_new_with_free_func (g_object_unref);
  self->opened = 0;
  self->ready_sent = FALSE;
  self->rx_active = FALSE;
  g_task_set_task_data (task, p, prepare_data_free);
  g_task_run_in_thread (task, prepare_thread);
}

static void
recipient_handle (PinholeTransfer        *self,
                  PinholeTransferMessage *m)
{
  switch (m->type)
    {
    case PINHOLE_TRANSFER_MESSAGE_SENDING:
      self->rx_active = FALSE;
      _pinhole_transfer_link_map_incoming (self->link, m->channel, self);
      break;
    case PINHOLE_TRANSFER_MESSAGE_TAKEN:
      fail (self, FALSE, PINHOLE_ERROR_EXISTS, "another device of yours took this transfer");
      break;
    default:
      break;
    }
}

/* ---- both ---- */

static void
discard_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!pinhole_file_writer_discard_finish (PINHOLE_FILE_WRITER (source), result, &error))
    g_debug ("%s", error->message);
}

static void
discarded_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(PinholeTransfer) self = user_data;

  self->discards--;
  if (pinhole_transfer_is_flushed (self))
    g_signal_emit (self, signals[SIGNAL_FLUSHED], 0);
}

/* the partials found by name, in a worker: no writer is open, or some are on their way */
static void
discard_by_name (PinholeTransfer *self)
{
  self->discard_when_open = FALSE;
  self->discards++;
  pinhole_file_discard_partials_async (self->folder, self->manifest, self->accepted,
                                       discarded_cb, g_object_ref (self));
}

static void
remove_partials (PinholeTransfer *self)
{
  if (self->direction != PINHOLE_TRANSFER_DIRECTION_INCOMING || self->accepted == NULL ||
      self->folder == NULL)
    return;
  if (self->writers == NULL)
    {
      discard_by_name (self);   /* no session since a restart */
      return;
    }
  if (self->folder_fd < 0 || self->opened < self->writers->len ||
      self->writers->len < self->accepted->len)
    {
      /* the folder or a writer is being opened (it may make its partial yet): when that
       * ends, the partials go by name */
      self->discard_when_open = TRUE;
      return;
    }
  for (guint i = 0; i < self->writers->len; i++)
    pinhole_file_writer_discard_async (self->writers->pdata[i], NULL, discard_cb, NULL);
}

void
_pinhole_transfer_handle_message (PinholeTransfer        *self,
                                  PinholeTransferMessage *m)
{
  g_autoptr(PinholeTransfer) hold G_GNUC_UNUSED = g_object_ref (self);

  if (pinhole_transfer_is_over (self))
    return;
  switch (m->type)
    {
    case PINHOLE_TRANSFER_MESSAGE_PAUSE:
      self->paused_there = TRUE;
      if (self->state == PINHOLE_TRANSFER_STATE_RUNNING)
        set_state (self, PINHOLE_TRANSFER_STATE_PAUSED);
      return;
    case PINHOLE_TRANSFER_MESSAGE_RESUME:
      self->paused_there = FALSE;
      if (self->state == PINHOLE_TRANSFER_STATE_PAUSED && !self->paused_here)
        set_state (self, PINHOLE_TRANSFER_STATE_RUNNING);
      if (self->direction == PINHOLE_TRANSFER_DIRECTION_OUTGOING)
        sender_pump (self);
      return;
    case PINHOLE_TRANSFER_MESSAGE_CANCEL:
      remove_partials (self);
      set_state (self, PINHOLE_TRANSFER_STATE_CANCELLED);
      return;
    case PINHOLE_TRANSFER_MESSAGE_FAILED:
      fail (self, FALSE, m->code, "%s", m->reason);
      return;
    default:
      break;
    }
  if (self->direction == PINHOLE_TRANSFER_DIRECTION_OUTGOING)
    sender_handle (self, m);
  else
    recipient_handle (self, m);
}

void
_pinhole_transfer_handle_data (PinholeTransfer     *self,
                               PinholeTransferData *d)
{
  g_autoptr(PinholeTransfer) hold G_GNUC_UNUSED = g_object_ref (self);

  if (pinhole_transfer_is_over (self) || self->direction != PINHOLE_TRANSFER_DIRECTION_INCOMING)
    return;
  recipient_data (self, d);
}

/* a transfer the profile kept as paused by this side */
void
_pinhole_transfer_set_paused_here (PinholeTransfer *self)
{
  self->paused_here = TRUE;
  if (self->state == PINHOLE_TRANSFER_STATE_RUNNING)
    self->state = PINHOLE_TRANSFER_STATE_PAUSED;
}

/* what the profile keeps of the state: paused only when this side paused it */
PinholeTransferState
_pinhole_transfer_get_kept_state (PinholeTransfer *self)
{
  if (self->paused_here)
    return PINHOLE_TRANSFER_STATE_PAUSED;
  return self->state == PINHOLE_TRANSFER_STATE_PAUSED ? PINHOLE_TRANSFER_STATE_RUNNING
                                                      : self->state;
}

/* sends the offer (outgoing) or reports what it holds (an accepted incoming one); a side
 * that paused says so first on every new session */
void
_pinhole_transfer_start (PinholeTransfer *self)
{
  if (self->paused_here)
    send_simple (self, PINHOLE_TRANSFER_MESSAGE_PAUSE);
  if (self->direction == PINHOLE_TRANSFER_DIRECTION_INCOMING)
    {
      if (self->accepted != NULL)
        recipient_prepare (self);
      return;
    }
  if (self->state == PINHOLE_TRANSFER_STATE_OFFERING ||
      self->state == PINHOLE_TRANSFER_STATE_OFFERED)
    {
      gsize len;
      g_autofree char *text = pinhole_manifest_to_string (self->manifest, &len);
      g_autoptr(GBytes) all = g_bytes_new_take (g_steal_pointer (&text), len);

      for (gsize off = 0; off < len; off += PINHOLE_TRANSFER_MAX_PART)
        {
          g_autoptr(PinholeTransferMessage) m =
            pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_OFFER, self->id);

          m->manifest_size = len;
          m->offset = off;
          m->part = g_bytes_new_from_bytes (all, off, MIN (len - off,
                                                           (gsize) PINHOLE_TRANSFER_MAX_PART));
          m->files = pinhole_manifest_get_n_entries (self->manifest);
          m->bytes = pinhole_manifest_get_total_bytes (self->manifest);
          _pinhole_transfer_link_send (self->link, m);
        }
      set_state (self, PINHOLE_TRANSFER_STATE_OFFERED);
    }
}

/* over with @reason, told to the peer when a session is up (an offer that expired) */
void
_pinhole_transfer_fail (PinholeTransfer *self,
                        PinholeError     code,
                        const char      *reason)
{
  fail (self, TRUE, code, "%s", reason);
}

/* the session under it ended: a new one resumes it */
void
_pinhole_transfer_link_lost (PinholeTransfer *self)
{
  self->link = NULL;
  self->channel = 0;
  self->run++;
  self->rx_active = FALSE;
}

/* ---- public API ---- */

void
_pinhole_transfer_set_peer (PinholeTransfer *self,
                            const char      *user,
                            const char      *device)
{
  g_free (self->peer_user);
  g_free (self->peer_device);
  self->peer_user = g_strdup (user);
  self->peer_device = g_strdup (device);
}

/* Returns: (nullable): the contact's user name */
const char *
pinhole_transfer_get_peer (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);
  return self->peer_user;
}

/* Returns: (nullable): the contact's device, "user/device" */
const char *
pinhole_transfer_get_peer_device (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);
  return self->peer_device;
}

/* Returns: (nullable): where an accepted incoming transfer saves */
const char *
pinhole_transfer_get_folder (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);
  return self->folder;
}

/* Returns: (transfer none) (nullable): the accepted entries, guint32 indices */
GArray *
pinhole_transfer_get_accepted (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);
  return self->accepted;
}

const char *
pinhole_transfer_get_id (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);
  return self->id;
}

PinholeTransferDirection
pinhole_transfer_get_direction (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), 0);
  return self->direction;
}

PinholeTransferState
pinhole_transfer_get_state (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), 0);
  return self->state;
}

/* Returns: (transfer none): what is offered */
PinholeManifest *
pinhole_transfer_get_manifest (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);
  return self->manifest;
}

guint64
pinhole_transfer_get_bytes_done (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), 0);
  return self->bytes_done;
}

guint64
pinhole_transfer_get_bytes_total (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), 0);
  return self->bytes_total;
}

/* Returns: the content bytes the sender put on the session, over every run */
guint64
pinhole_transfer_get_bytes_sent (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), 0);
  return self->bytes_sent;
}

gdouble
pinhole_transfer_get_rate (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), 0);
  return self->rate;
}

/* Returns: (nullable): why it failed, a sentence */
const char *
pinhole_transfer_get_error (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);
  return self->error;
}

/**
 * pinhole_transfer_dup_local_path:
 * @entry: an index into the manifest
 * Where entry @entry is on this device: for an outgoing transfer the file or folder offered,
 * for an incoming one the name it took in the chosen folder once verified (maybe "a (1).txt").
 * Returns: (transfer full) (nullable): an absolute path, or %NULL when there is none (yet)
 */
char *
pinhole_transfer_dup_local_path (PinholeTransfer *self,
                                 guint            entry)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);

  if (entry >= pinhole_manifest_get_n_entries (self->manifest))
    return NULL;
  if (self->direction == PINHOLE_TRANSFER_DIRECTION_OUTGOING)
    /* a folder's source is "" (pinhole_manifest_build_finish()) */
    return self->sources != NULL && entry < self->sources->len &&
           *(const char *) self->sources->pdata[entry] != '\0'
             ? g_strdup (self->sources->pdata[entry]) : NULL;
  for (guint i = 0; self->accepted != NULL && self->writers != NULL && i < self->accepted->len &&
                    i < self->writers->len; i++)
    if (g_array_index (self->accepted, guint32, i) == entry)
      {
        const char *name = pinhole_file_writer_get_final_path (self->writers->pdata[i]);

        return name != NULL && self->folder != NULL
                 ? g_build_filename (self->folder, name, NULL) : NULL;
      }
  return NULL;
}

/* Returns: (nullable): the kind of path the transfer's session is on ("relay", "lan" …) */
const char *
pinhole_transfer_get_current_path (PinholeTransfer *self)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), NULL);
  return self->link != NULL ? _pinhole_transfer_link_get_path_text (self->link) : NULL;
}

/**
 * pinhole_transfer_accept:
 * @folder: where to save, a folder that exists
 * @entries: (nullable): the indices of the entries wanted; %NULL for all
 * Answers an offer: opens @folder and checks its free space in a worker, makes the partial
 * files and then asks for the blocks. Nothing is written before this call.
 * Returns: %FALSE with an error for entries that were not offered or a transfer not offered
 */
gboolean
pinhole_transfer_accept (PinholeTransfer  *self,
                         const char       *folder,
                         GArray           *entries,
                         GError          **error)
{
  g_return_val_if_fail (PINHOLE_IS_TRANSFER (self), FALSE);
  g_return_val_if_fail (folder != NULL, FALSE);

  if (self->direction != PINHOLE_TRANSFER_DIRECTION_INCOMING ||
      self->state != PINHOLE_TRANSFER_STATE_OFFERED || self->link == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED,
                   "transfer %s is not an offer waiting for an answer", self->id);
      return FALSE;
    }
  self->accepted = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint i = 0; i < (entries != NULL ? entries->len
                                         : pinhole_manifest_get_n_entries (self->manifest)); i++)
    {
      guint32 entry = entries != NULL ? g_array_index (entries, guint32, i) : i;

      if (entry >= pinhole_manifest_get_n_entries (self->manifest))
        {
          g_clear_pointer (&self->accepted, g_array_unref);
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_FOUND,
                       "transfer %s has no entry %u", self->id, entry);
          return FALSE;
        }
      g_array_append_val (self->accepted, entry);
    }
  self->bytes_total = 0;
  for (guint i = 0; i < self->accepted->len; i++)
    self->bytes_total += pinhole_manifest_get_entry (self->manifest,
                                                     g_array_index (self->accepted, guint32,
                                                                    i))->size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_TOTAL]);
  self->folder = g_strdup (folder);
  set_state (self, PINHOLE_TRANSFER_STATE_RUNNING);
  recipient_prepare (self);
  return TRUE;
}

void
pinhole_transfer_decline (PinholeTransfer *self)
{
  g_return_if_fail (PINHOLE_IS_TRANSFER (self));
  if (self->state != PINHOLE_TRANSFER_STATE_OFFERED ||
      self->direction != PINHOLE_TRANSFER_DIRECTION_INCOMING)
    return;
  send_simple (self, PINHOLE_TRANSFER_MESSAGE_DECLINE);
  set_state (self, PINHOLE_TRANSFER_STATE_DECLINED);
}

void
pinhole_transfer_pause (PinholeTransfer *self)
{
  g_return_if_fail (PINHOLE_IS_TRANSFER (self));
  if (pinhole_transfer_is_over (self) || self->paused_here)
    return;
  self->paused_here = TRUE;
  send_simple (self, PINHOLE_TRANSFER_MESSAGE_PAUSE);
  if (self->state == PINHOLE_TRANSFER_STATE_RUNNING)
    set_state (self, PINHOLE_TRANSFER_STATE_PAUSED);
}

void
pinhole_transfer_resume (PinholeTransfer *self)
{
  g_return_if_fail (PINHOLE_IS_TRANSFER (self));
  if (pinhole_transfer_is_over (self) || !self->paused_here)
    return;
  self->paused_here = FALSE;
  send_simple (self, PINHOLE_TRANSFER_MESSAGE_RESUME);
  if (self->state == PINHOLE_TRANSFER_STATE_PAUSED && !self->paused_there)
    set_state (self, PINHOLE_TRANSFER_STATE_RUNNING);
  if (self->direction == PINHOLE_TRANSFER_DIRECTION_OUTGOING)
    sender_pump (self);
}

/* over for both sides; the recipient removes its partial files */
void
pinhole_transfer_cancel (PinholeTransfer *self)
{
  g_return_if_fail (PINHOLE_IS_TRANSFER (self));
  if (pinhole_transfer_is_over (self))
    return;
  send_simple (self, PINHOLE_TRANSFER_MESSAGE_CANCEL);
  remove_partials (self);
  set_state (self, PINHOLE_TRANSFER_STATE_CANCELLED);
}
