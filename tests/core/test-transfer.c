/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-transfer.c: transfers between two sessions in this process (docs/transfer.md §4-5):
 * a tree arrives whole; a recipient that goes away mid-transfer and comes back gets only the
 * blocks it lacks (counted on the sender); a block that does not match its hash is sent
 * again; a sender that sends more than it offered fails; decline and cancel from both sides;
 * at most 16 offers wait for an answer; three transfers whose blocks would pass the session's
 * queue all arrive. */
#include "pinhole-file-reader.h"
#include "pinhole-file-writer.h"
#include "pinhole-transfer-link.h"
#include "pinhole-transfer-message.h"
#include "pinhole-error.h"
#include "pinhole-test-session.h"
#include "pinhole-test-transfer.h"
#include "pinhole-test-util.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <string.h>

#define MIB (1024 * 1024)

typedef struct
{
  PinholeTestSessions  s;
  char                *root;
  char                *inbox;
  PinholeTransferLink *alice;
  PinholeTransferLink *bob;
  PinholeTransfer     *offer;      /* bob's, as received */
  gboolean             accept_all;
} Fixture;

static void
offer_cb (PinholeTransferLink *link,
          PinholeTransfer     *transfer,
          Fixture             *f)
{
  g_set_object (&f->offer, transfer);
  if (f->accept_all)
    g_assert_true (pinhole_transfer_accept (transfer, f->inbox, NULL, NULL));
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  pinhole_test_sessions_setup (&f->s, NULL);
  pinhole_test_sessions_establish (&f->s);
  f->root = ph_make_tmp_dir ("xfer-engine-XXXXXX");
  f->inbox = g_build_filename (f->root, "inbox", NULL);
  g_assert_cmpint (g_mkdir (f->inbox, 0755), ==, 0);
  f->alice = pinhole_transfer_link_new (f->s.alice.session);
  f->bob = pinhole_transfer_link_new (f->s.bob.session);
  g_signal_connect (f->bob, "offer-received", G_CALLBACK (offer_cb), f);
  f->accept_all = TRUE;
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->offer);
  g_clear_object (&f->alice);
  g_clear_object (&f->bob);
  /* let the workers of what was cancelled finish */
  ph_iterate_for (100);
  pinhole_test_sessions_teardown (&f->s, NULL);
  g_assert_true (ph_remove_tree (f->root));
  g_free (f->root);
  g_free (f->inbox);
}

static PinholeTransfer *
offer (Fixture    *f,
       const char *path)
{
  const char *paths[] = { path, NULL };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *sources = NULL;
  PinholeManifest *manifest;
  PinholeTransfer *transfer;

  pinhole_manifest_build_async (paths, NULL, ph_test_store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer const *) &result, 30000));
  manifest = pinhole_manifest_build_finish (result, &sources, &error);
  g_assert_no_error (error);
  transfer = pinhole_transfer_link_offer (f->alice, manifest, sources, &error);
  g_assert_no_error (error);
  return transfer;
}

static gboolean
is_over (gpointer data)
{
  return pinhole_transfer_is_over (*(PinholeTransfer **) data);
}

static void
wait_over (PinholeTransfer **transfer)
{
  g_assert_true (ph_iterate_until (is_over, transfer, 30000));
}

static void
assert_same_file (const char *a,
                  const char *b)
{
  g_autofree char *x = NULL, *y = NULL;
  gsize lx, ly;

  g_assert_true (g_file_get_contents (a, &x, &lx, NULL));
  g_assert_true (g_file_get_contents (b, &y, &ly, NULL));
  g_assert_cmpmem (x, lx, y, ly);
}

static void
test_tree (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *tree = g_build_filename (f->root, "send/album", NULL);
  g_autofree char *empty = g_build_filename (tree, "empty", NULL);
  g_autoptr(PinholeTransfer) sent = NULL;
  const char *files[] = { "album/big.bin", "album/sub/small.txt", "album/sub/zero" };
  gsize sizes[] = { 3 * MIB + 123, 4000, 0 };
  guint64 total = 0;

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *rel = g_build_filename ("send", files[i], NULL);

      ph_test_write_file (f->root, rel, sizes[i], (guint8) i);
      total += sizes[i];
    }
  g_assert_cmpint (g_mkdir_with_parents (empty, 0755), ==, 0);

  sent = offer (f, tree);
  wait_over (&sent);
  g_assert_cmpint (pinhole_transfer_get_state (sent), ==, PINHOLE_TRANSFER_STATE_DONE);
  g_assert_nonnull (f->offer);
  wait_over (&f->offer);
  g_assert_cmpint (pinhole_transfer_get_state (f->offer), ==, PINHOLE_TRANSFER_STATE_DONE);
  g_assert_cmpuint (pinhole_transfer_get_bytes_done (sent), ==, total);
  g_assert_cmpuint (pinhole_transfer_get_bytes_done (f->offer), ==, total);
  g_assert_cmpuint (pinhole_transfer_get_bytes_sent (sent), ==, total);
  g_assert_cmpstr (pinhole_transfer_get_current_path (sent), ==, "relay");
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *src = g_build_filename (f->root, "send", files[i], NULL);
      g_autofree char *dst = g_build_filename (f->inbox, files[i], NULL);

      assert_same_file (src, dst);
    }
  {
    g_autofree char *made = g_build_filename (f->inbox, "album/empty", NULL);

    g_assert_true (g_file_test (made, G_FILE_TEST_IS_DIR));
  }
}

/* Three transfers at once on a slow link: the blocks they would queue (the recipient lets
 * each have 8 out) pass the session's 16 MiB, so each sender reads a block only when the
 * session has room for it, and every transfer arrives whole */
static void
test_shared_session_queue (Fixture       *f,
                           gconstpointer  data)
{
  PinholeTransfer *sent[3];
  const char *names[] = { "a.bin", "b.bin", "c.bin" };

  /* 40 MB/s: slower than the disk, so that the blocks wait in the session */
  pinhole_test_path_set_rate (f->s.path_a, 40 * 1000 * 1000);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *rel = g_build_filename ("send", names[i], NULL);
      g_autofree char *src = g_build_filename (f->root, rel, NULL);

      ph_test_write_file (f->root, rel, 12 * MIB + i, (guint8) (i + 1));
      sent[i] = offer (f, src);
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *src = g_build_filename (f->root, "send", names[i], NULL);
      g_autofree char *dst = g_build_filename (f->inbox, names[i], NULL);

      wait_over (&sent[i]);
      if (pinhole_transfer_get_state (sent[i]) != PINHOLE_TRANSFER_STATE_DONE)
        g_test_fail_printf ("%s: %s", names[i],
                            pinhole_transfer_get_error (sent[i]) != NULL
                              ? pinhole_transfer_get_error (sent[i]) : "not done");
      else
        assert_same_file (src, dst);
      g_object_unref (sent[i]);
    }
  g_assert_cmpuint (pinhole_session_get_send_queue_bytes (f->s.alice.session), <=,
                    PINHOLE_SESSION_MAX_QUEUE);
}

static gboolean
has_bytes (gpointer data)
{
  Fixture *f = data;

  return f->offer != NULL && pinhole_transfer_get_bytes_done (f->offer) >= 3 * MIB;
}

static void
run_started_cb (PinholeTransfer *transfer,
                guint64          missing,
                GArray          *runs)
{
  g_array_append_val (runs, missing);
}

/* the recipient goes away mid-transfer (its objects are gone, its partial stays) and comes
 * back: the sender sends exactly the bytes it does not hold */
static void
test_resume_recipient (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->root, "movie.bin", NULL);
  g_autofree char *got = g_build_filename (f->inbox, "movie.bin", NULL);
  g_autoptr(PinholeTransfer) sent = NULL;
  g_autoptr(PinholeTransfer) again = NULL;
  g_autofree char *id = NULL;
  g_autofree char *manifest_text = NULL;
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GArray) runs = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 total = 32 * MIB + 5, before, held;
  guint32 zero = 0;
  gsize len;

  ph_test_write_file (f->root, "movie.bin", total, 9);
  sent = offer (f, path);
  g_signal_connect (sent, "run-started", G_CALLBACK (run_started_cb), runs);
  g_assert_true (ph_iterate_until (has_bytes, f, 30000));
  id = g_strdup (pinhole_transfer_get_id (f->offer));
  manifest_text = pinhole_manifest_to_string (pinhole_transfer_get_manifest (f->offer), &len);

  /* the recipient quits */
  g_clear_object (&f->offer);
  g_clear_object (&f->bob);
  ph_iterate_for (300);
  g_assert_cmpint (pinhole_transfer_get_state (sent), ==, PINHOLE_TRANSFER_STATE_RUNNING);
  before = pinhole_transfer_get_bytes_sent (sent);
  g_assert_cmpuint (before, <, total);

  /* what its partial file holds, verified */
  {
    g_autoptr(PinholeManifest) m = pinhole_manifest_parse (manifest_text, len, NULL);
    int fd = open (f->inbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_autoptr(PinholeFileWriter) w = pinhole_file_writer_new (fd, pinhole_manifest_get_entry (m,
                                                                                            0));
    g_autoptr(GAsyncResult) result = NULL;

    pinhole_file_writer_open_async (w, NULL, ph_test_store_result_cb, &result);
    g_assert_true (ph_wait_pointer ((gpointer const *) &result, 30000));
    g_assert_true (pinhole_file_writer_open_finish (w, result, NULL));
    held = pinhole_file_writer_get_verified_bytes (w);
    close (fd);
  }
  g_assert_cmpuint (held, >=, 3 * MIB);

  /* and starts again, from what its profile kept */
  f->bob = pinhole_transfer_link_new (f->s.bob.session);
  g_array_append_val (entries, zero);
  again = pinhole_transfer_new_incoming_accepted (id, pinhole_manifest_parse (manifest_text, len,
                                                                              NULL),
                                                  f->inbox, entries);
  pinhole_transfer_link_resume (f->bob, again);
  wait_over (&again);
  wait_over (&sent);
  g_assert_cmpint (pinhole_transfer_get_state (again), ==, PINHOLE_TRANSFER_STATE_DONE);
  g_assert_cmpint (pinhole_transfer_get_state (sent), ==, PINHOLE_TRANSFER_STATE_DONE);
  assert_same_file (path, got);

  /* what the recipient held was not sent again: the second run sent exactly the rest */
  g_test_message ("the recipient held %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                  " bytes; %" G_GUINT64_FORMAT " were sent before it quit, %" G_GUINT64_FORMAT
                  " after", held, total, before, pinhole_transfer_get_bytes_sent (sent) - before);
  g_assert_cmpuint (pinhole_transfer_get_bytes_sent (sent) - before, ==, total - held);
  /* and said so when it began the run */
  g_assert_cmpuint (runs->len, ==, 2);
  g_assert_cmpuint (g_array_index (runs, guint64, 0), ==, total);
  g_assert_cmpuint (g_array_index (runs, guint64, 1), ==, total - held);
  g_signal_handlers_disconnect_by_data (sent, runs);
}

/* ---- a hand-made sender, to send what a real one would not ---- */

typedef struct
{
  GPtrArray *messages;   /* PinholeTransferMessage from bob */
} Heard;

static void
heard_cb (PinholeSession *session,
          guint           channel,
          GBytes         *payload,
          Heard          *heard)
{
  PinholeTransferMessage *m;

  if (channel != PINHOLE_SESSION_CHANNEL_TRANSFER)
    return;
  m = pinhole_transfer_message_parse (payload, NULL);
  g_assert_nonnull (m);
  g_ptr_array_add (heard->messages, m);
}

static gboolean
heard_type (Heard                      *heard,
            PinholeTransferMessageType  type)
{
  for (guint i = 0; i < heard->messages->len; i++)
    if (((PinholeTransferMessage *) heard->messages->pdata[i])->type == type)
      return TRUE;
  return FALSE;
}

typedef struct
{
  Heard                      *heard;
  PinholeTransferMessageType  type;
} HeardWait;

static gboolean
heard_wait (gpointer data)
{
  HeardWait *w = data;

  return heard_type (w->heard, w->type);
}

static void
wait_heard (Heard                      *heard,
            PinholeTransferMessageType  type)
{
  HeardWait w = { heard, type };

  g_assert_true (ph_iterate_until (heard_wait, &w, 10000));
}

static void
raw_send (Fixture *f,
          guint    channel,
          GBytes  *payload)
{
  g_assert_true (pinhole_session_send (f->s.alice.session, (guint8) channel, payload, NULL,
                                       NULL));
}

static void
raw_message (Fixture                *f,
             PinholeTransferMessage *m)
{
  g_autoptr(GBytes) payload = pinhole_transfer_message_encode (m);

  raw_send (f, PINHOLE_SESSION_CHANNEL_TRANSFER, payload);
}

#define RAW_ID "00112233445566778899aabbccddeeff"

/* offers one file of @content by hand and waits for bob's ready */
static void
raw_offer (Fixture    *f,
           Heard      *heard,
           const char *content)
{
  g_autoptr(PinholeManifest) m = pinhole_manifest_new ();
  g_autoptr(PinholeTransferMessage) offer_msg = NULL;
  g_autoptr(PinholeTransferMessage) sending = NULL;
  g_autofree char *text = NULL;
  guint8 hash[32];
  gsize len, hash_len = 32;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, (const guchar *) content, -1);
  g_checksum_get_digest (sum, hash, &hash_len);
  pinhole_manifest_add_file (m, "x.txt", strlen (content), 1, hash);
  text = pinhole_manifest_to_string (m, &len);
  offer_msg = pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_OFFER, RAW_ID);
  offer_msg->manifest_size = len;
  offer_msg->part = g_bytes_new (text, len);
  offer_msg->files = 1;
  offer_msg->bytes = strlen (content);
  raw_message (f, offer_msg);
  wait_heard (heard, PINHOLE_TRANSFER_MESSAGE_READY);
  sending = pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_SENDING, RAW_ID);
  sending->channel = 7;
  raw_message (f, sending);
}

static void
raw_block (Fixture      *f,
           const char   *content,
           const guint8 *hash_or_null)
{
  guint8 hash[32];
  gsize hash_len = 32;
  g_autoptr(GBytes) block = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (hash_or_null == NULL)
    {
      g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

      g_checksum_update (sum, (const guchar *) content, -1);
      g_checksum_get_digest (sum, hash, &hash_len);
    }
  else
    memcpy (hash, hash_or_null, 32);
  block = pinhole_transfer_data_build_block (0, 0, hash);
  bytes = pinhole_transfer_data_build_data (0, 0, (const guint8 *) content, strlen (content));
  raw_send (f, 7, block);
  raw_send (f, 7, bytes);
}

static void
test_corrupted_block (Fixture       *f,
                      gconstpointer  data)
{
  Heard heard = { g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_transfer_message_free) };
  g_autofree char *got = g_build_filename (f->inbox, "x.txt", NULL);
  g_autofree char *contents = NULL;
  guint8 wrong[32] = { 0xee };

  g_signal_connect (f->s.alice.session, "frame-received", G_CALLBACK (heard_cb), &heard);
  raw_offer (f, &heard, "the right bytes");
  /* the block does not match the hash announced: bob asks for it again */
  raw_block (f, "the right bytes", wrong);
  wait_heard (&heard, PINHOLE_TRANSFER_MESSAGE_RESENT);
  g_assert_false (heard_type (&heard, PINHOLE_TRANSFER_MESSAGE_VERIFIED));
  g_assert_false (g_file_test (got, G_FILE_TEST_EXISTS));
  raw_block (f, "the right bytes", NULL);
  wait_heard (&heard, PINHOLE_TRANSFER_MESSAGE_DONE);
  g_assert_true (g_file_get_contents (got, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "the right bytes");
  g_signal_handlers_disconnect_by_data (f->s.alice.session, &heard);
  g_ptr_array_unref (heard.messages);
}

static void
test_more_than_offered (Fixture       *f,
                        gconstpointer  data)
{
  Heard heard = { g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_transfer_message_free) };
  g_autoptr(GBytes) extra = pinhole_transfer_data_build_data (0, 0, (const guint8 *) "abcdefg",
                                                              7);
  g_autoptr(GBytes) block = NULL;
  guint8 hash[32] = { 0 };

  g_signal_connect (f->s.alice.session, "frame-received", G_CALLBACK (heard_cb), &heard);
  raw_offer (f, &heard, "abc");
  block = pinhole_transfer_data_build_block (0, 0, hash);
  raw_send (f, 7, block);
  /* seven bytes at the start of a 3-byte file */
  raw_send (f, 7, extra);
  wait_over (&f->offer);
  g_assert_cmpint (pinhole_transfer_get_state (f->offer), ==, PINHOLE_TRANSFER_STATE_FAILED);
  g_assert_nonnull (strstr (pinhole_transfer_get_error (f->offer), "more bytes than it offered"));
  wait_heard (&heard, PINHOLE_TRANSFER_MESSAGE_FAILED);
  g_signal_handlers_disconnect_by_data (f->s.alice.session, &heard);
  g_ptr_array_unref (heard.messages);
}

static void
test_decline (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->root, "a.txt", NULL);
  g_autoptr(PinholeTransfer) sent = NULL;

  f->accept_all = FALSE;
  ph_test_write_file (f->root, "a.txt", 10, 1);
  sent = offer (f, path);
  g_assert_true (ph_wait_pointer ((gpointer const *) &f->offer, 10000));
  g_assert_cmpint (pinhole_transfer_get_state (f->offer), ==, PINHOLE_TRANSFER_STATE_OFFERED);
  pinhole_transfer_decline (f->offer);
  wait_over (&sent);
  g_assert_cmpint (pinhole_transfer_get_state (sent), ==, PINHOLE_TRANSFER_STATE_DECLINED);
  {
    g_autoptr(GDir) d = g_dir_open (f->inbox, 0, NULL);

    g_assert_null (g_dir_read_name (d));
  }
}

static void
cancel_midway (Fixture       *f,
               gboolean       by_recipient)
{
  g_autofree char *path = g_build_filename (f->root, "big.bin", NULL);
  g_autofree char *partial = g_build_filename (f->inbox, ".big.bin.pinhole-partial", NULL);
  g_autoptr(PinholeTransfer) sent = NULL;

  ph_test_write_file (f->root, "big.bin", 24 * MIB, 3);
  sent = offer (f, path);
  g_assert_true (ph_iterate_until (has_bytes, f, 30000));
  g_assert_true (g_file_test (partial, G_FILE_TEST_EXISTS));
  pinhole_transfer_cancel (by_recipient ? f->offer : sent);
  wait_over (&sent);
  wait_over (&f->offer);
  g_assert_cmpint (pinhole_transfer_get_state (sent), ==, PINHOLE_TRANSFER_STATE_CANCELLED);
  g_assert_cmpint (pinhole_transfer_get_state (f->offer), ==, PINHOLE_TRANSFER_STATE_CANCELLED);
  ph_iterate_for (200);
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  {
    g_autofree char *final = g_build_filename (f->inbox, "big.bin", NULL);

    g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
  }
}

static void
test_cancel_by_recipient (Fixture       *f,
                          gconstpointer  data)
{
  cancel_midway (f, TRUE);
}

static void
test_cancel_by_sender (Fixture       *f,
                       gconstpointer  data)
{
  cancel_midway (f, FALSE);
}

static void
count_offer_cb (PinholeTransferLink *link,
                PinholeTransfer     *transfer,
                GPtrArray           *received)
{
  g_ptr_array_add (received, g_object_ref (transfer));
}

static gboolean
is_failed (gpointer data)
{
  return pinhole_transfer_get_state (data) == PINHOLE_TRANSFER_STATE_FAILED;
}

/* a peer can make us hold at most 16 unanswered offers; an answer makes room */
static void
test_offer_limit (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->root, "note.txt", NULL);
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) received = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(PinholeTransfer) after = NULL;
  PinholeTransfer *refused;

  f->accept_all = FALSE;
  g_signal_connect (f->bob, "offer-received", G_CALLBACK (count_offer_cb), received);
  ph_test_write_file (f->root, "note.txt", 10, 1);
  for (guint i = 0; i < 17; i++)
    g_ptr_array_add (sent, offer (f, path));
  refused = sent->pdata[16];
  g_assert_true (ph_iterate_until (is_failed, refused, 10000));
  g_assert_cmpstr (pinhole_transfer_get_error (refused), ==,
                   "more than 16 offers wait for an answer");
  g_assert_cmpuint (received->len, ==, 16);
  for (guint i = 0; i < 16; i++)
    g_assert_cmpint (pinhole_transfer_get_state (sent->pdata[i]), ==,
                     PINHOLE_TRANSFER_STATE_OFFERED);
  /* one answered: the next offer waits too */
  pinhole_transfer_decline (received->pdata[0]);
  after = offer (f, path);
  ph_iterate_for (300);
  g_assert_cmpint (pinhole_transfer_get_state (after), ==, PINHOLE_TRANSFER_STATE_OFFERED);
  g_assert_cmpuint (received->len, ==, 17);
  g_signal_handlers_disconnect_by_data (f->bob, received);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/transfer/engine/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("tree", test_tree);
  ADD ("shared-session-queue", test_shared_session_queue);
  ADD ("resume-recipient", test_resume_recipient);
  ADD ("corrupted-block", test_corrupted_block);
  ADD ("more-than-offered", test_more_than_offered);
  ADD ("decline", test_decline);
  ADD ("cancel-by-recipient", test_cancel_by_recipient);
  ADD ("cancel-by-sender", test_cancel_by_sender);
  ADD ("offer-limit", test_offer_limit);
#undef ADD
  return g_test_run ();
}
