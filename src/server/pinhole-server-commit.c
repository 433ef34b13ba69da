/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-server-commit.c: answers that say a write is durable go only after the store's sync
 * that covers it. A commit puts a barrier into the outgoing queue of the requester and of
 * every connection the request pushes to; what follows a barrier waits behind it, so each
 * connection gets its stanzas in the order the server made them (docs/architecture.md "The
 * server's durability"). */
#define G_LOG_DOMAIN "pinhole-server"

#include "pinhole-server-private.h"
#include "pinhole-stanza.h"

#include <string.h>

struct _PinholeServerCommit
{
  /* borrowed: the server cancels the syncs in dispose, and then nothing here touches it */
  PinholeServer           *server;

  /* owned */
  PinholeServerConnection *requester;
  char                    *id;
  GPtrArray               *waiting;   /* PinholeServerConnection*: barriers on this commit */
  GError                  *error;     /* the sync's, once done */

  PinholeServerCommitFlags flags;
  gboolean                 done;
  gint64                   began;     /* monotonic µs, for /metrics */
};

/* one thing to send, or a barrier */
typedef struct
{
  PinholeServerCommit *commit;    /* (nullable) owned: the barrier's, or the answer's */
  char                *text;      /* a stanza, or NULL */
  GBytes              *binary;    /* a relay frame, or NULL */
  gsize                size;
  gboolean             answer;    /* the commit's answer: an error instead if the sync fails */
} Held;

static void
commit_free (PinholeServerCommit *commit)
{
  g_clear_pointer (&commit->requester, _pinhole_server_connection_unref);
  g_free (commit->id);
  g_clear_pointer (&commit->waiting, g_ptr_array_unref);
  g_clear_error (&commit->error);
}

static PinholeServerCommit *
commit_ref (PinholeServerCommit *commit)
{
  return g_rc_box_acquire (commit);
}

static void
commit_unref (PinholeServerCommit *commit)
{
  g_rc_box_release_full (commit, (GDestroyNotify) commit_free);
}

static void
held_free (Held *h)
{
  g_clear_pointer (&h->commit, commit_unref);
  g_free (h->text);
  g_clear_pointer (&h->binary, g_bytes_unref);
  g_free (h);
}

/* drops what waits for @c: it is closed */
void
_pinhole_server_outbox_clear (PinholeServerConnection *c)
{
  g_queue_clear_full (&c->outbox, (GDestroyNotify) held_free);
  c->outbox_bytes = 0;
}

static gboolean
outbox_open (PinholeServerConnection *c)
{
  return !c->closed && soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

static void
outbox_push (PinholeServerConnection *c,
             Held                    *h)
{
  g_queue_push_tail (&c->outbox, h);
  c->outbox_bytes += h->size;
  /* the same bound as the stream's own (max_queued_bytes): a client cannot make us hold more
   * by keeping a commit pending */
  if (c->outbox_bytes > c->server->limits.max_queued_bytes)
    {
      _pinhole_server_connection_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                        "too much waits for it behind a write to disk");
      _pinhole_server_outbox_clear (c);
    }
}

/* a barrier for @commit on @c, unless the last one there is for it already */
static void
outbox_wait_for (PinholeServerConnection *c,
                 PinholeServerCommit     *commit)
{
  Held *h;

  for (GList *l = c->outbox.tail; l != NULL; l = l->prev)
    {
      Held *other = l->data;

      if (other->text == NULL && other->binary == NULL)
        {
          if (other->commit == commit)
            return;
          break;
        }
    }
  h = g_new0 (Held, 1);
  h->commit = commit_ref (commit);
  g_queue_push_tail (&c->outbox, h);
  g_ptr_array_add (commit->waiting, _pinhole_server_connection_ref (c));
}

/* sends what no pending barrier holds back */
static void
outbox_flush (PinholeServerConnection *c)
{
  Held *h;

  while ((h = g_queue_peek_head (&c->outbox)) != NULL)
    {
      PinholeServerCommit *commit = h->commit;

      if (!outbox_open (c))
        {
          _pinhole_server_outbox_clear (c);
          return;
        }
      if (h->text == NULL && h->binary == NULL && !commit->done)
        return;
      g_queue_pop_head (&c->outbox);
      c->outbox_bytes -= h->size;
      if (h->answer && commit->error != NULL)
        {
          g_autoptr(JsonObject) error =
            pinhole_stanza_new_error (commit->id, PINHOLE_STANZA_ERROR_INTERNAL,
                                      "not done: the server could not write it to its disk");
          g_autofree char *text = pinhole_stanza_to_string (error, NULL);

          _pinhole_server_write_text (c, text);
          if (commit->flags & PINHOLE_SERVER_COMMIT_CLOSE_ON_FAILURE)
            _pinhole_server_connection_close (c, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
                                              "the server could not write to its disk");
        }
      else if (h->text != NULL)
        _pinhole_server_write_text (c, h->text);
      else if (h->binary != NULL)
        _pinhole_server_write_binary (c, h->binary);
      held_free (h);
    }
}

/* Takes @text. @answer_id: the request @text answers, or %NULL for a push */
void
_pinhole_server_output_text (PinholeServerConnection *c,
                             char                    *text,
                             const char              *answer_id)
{
  PinholeServerCommit *commit = c->server->commit;
  Held *h;

  if (!outbox_open (c))
    {
      g_free (text);
      return;
    }
  if (commit != NULL)
    outbox_wait_for (c, commit);
  if (g_queue_is_empty (&c->outbox))
    {
      _pinhole_server_write_text (c, text);
      g_free (text);
      return;
    }
  h = g_new0 (Held, 1);
  h->text = text;
  h->size = strlen (text);
  if (commit != NULL && c == commit->requester && g_strcmp0 (answer_id, commit->id) == 0)
    {
      h->answer = TRUE;
      h->commit = commit_ref (commit);
    }
  outbox_push (c, h);
}

/* a relay frame: behind what waits, so that a channel's frames never overtake its opening;
 * the caller has checked the relay window (counting what waits here) */
void
_pinhole_server_output_binary (PinholeServerConnection *c,
                               GBytes                  *frame)
{
  Held *h;

  if (!outbox_open (c))
    return;
  if (g_queue_is_empty (&c->outbox))
    {
      _pinhole_server_write_binary (c, frame);
      return;
    }
  h = g_new0 (Held, 1);
  h->binary = g_bytes_ref (frame);
  h->size = g_bytes_get_size (frame);
  outbox_push (c, h);
}

static void
commit_synced_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PinholeServerCommit *commit = user_data;
  g_autoptr(GPtrArray) waiting = NULL;
  GError *error = NULL;

  if (!pinhole_store_sync_finish (PINHOLE_STORE (source), result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* the server is gone: only the connections are let go */
      g_error_free (error);
      for (guint i = 0; i < commit->waiting->len; i++)
        _pinhole_server_outbox_clear (g_ptr_array_index (commit->waiting, i));
      commit_unref (commit);
      return;
    }
  commit->done = TRUE;
  commit->error = error;
  commit->server->metrics.commits++;
  commit->server->metrics.commit_wait_us += g_get_monotonic_time () - commit->began;
  if (error != NULL)
    commit->server->metrics.commit_failures++;
  if (error != NULL)
    g_message ("answering %s/%s's request %s with an error: %s",
               commit->requester->user != NULL ? commit->requester->user : "(not logged in)",
               commit->requester->device != NULL ? commit->requester->device : "",
               commit->id, error->message);
  else
    g_debug ("request %s is on disk: its answer goes", commit->id);
  /* barriers put on later (a connection closing now) find none: flushed below */
  waiting = g_steal_pointer (&commit->waiting);
  commit->waiting = g_ptr_array_new_with_free_func (
    (GDestroyNotify) _pinhole_server_connection_unref);
  for (guint i = 0; i < waiting->len; i++)
    outbox_flush (g_ptr_array_index (waiting, i));
  commit->server->pending_commits--;
  _pinhole_server_commit_settled (commit->server);
  commit_unref (commit);
}

/**
 * _pinhole_server_commit_begin:
 * @c: the connection whose request @id wrote to the store
 *
 * Until _pinhole_server_commit_end(), the answer to @id and everything sent to any connection
 * waits for the store's next sync; if it fails, the answer is an error instead.
 */
void
_pinhole_server_commit_begin (PinholeServerConnection  *c,
                              const char               *id,
                              PinholeServerCommitFlags  flags)
{
  PinholeServer *server = c->server;
  PinholeServerCommit *commit = g_rc_box_new0 (PinholeServerCommit);

  g_assert (server->commit == NULL);
  commit->server = server;
  commit->requester = _pinhole_server_connection_ref (c);
  commit->id = g_strdup (id);
  commit->flags = flags;
  commit->began = g_get_monotonic_time ();
  commit->waiting = g_ptr_array_new_with_free_func (
    (GDestroyNotify) _pinhole_server_connection_unref);
  server->commit = commit;
  server->pending_commits++;
  if (outbox_open (c))
    outbox_wait_for (c, commit);
  pinhole_store_sync_async (server->store, server->cancellable, commit_synced_cb,
                            commit_ref (commit));
}

void
_pinhole_server_commit_end (PinholeServer *server)
{
  g_assert (server->commit != NULL);
  g_clear_pointer (&server->commit, commit_unref);
}
