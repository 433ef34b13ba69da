/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-transfer-text.c: a transfer card's words (pinhole-transfer-text.c) and where cards go
 * among the messages (pinhole-timeline.c), both GTK-free. */
#include <locale.h>
#include <string.h>

#include "pinhole-message.h"
#include "pinhole-message-window.h"
#include "pinhole-timeline.h"
#include "pinhole-transfer-private.h"
#include "pinhole-transfer-text.h"

static const guint8 zero_hash[PINHOLE_MANIFEST_SHA256_BYTES];

static PinholeManifest *
manifest_of (const char *const *paths)
{
  PinholeManifest *m = pinhole_manifest_new ();

  for (guint i = 0; paths[i] != NULL; i++)
    if (g_str_has_suffix (paths[i], "/"))
      {
        g_autofree char *folder = g_strndup (paths[i], strlen (paths[i]) - 1);

        pinhole_manifest_add_folder (m, folder);
      }
    else
      pinhole_manifest_add_file (m, paths[i], 2500000, 0, zero_hash);
  return m;
}

static void
test_title (void)
{
  const char *one[] = { "beach.jpg", NULL };
  const char *tree[] = { "photos/", "photos/a.jpg", "photos/2024/b.jpg", NULL };
  const char *several[] = { "a.txt", "b.txt", "c/", NULL };
  g_autoptr(PinholeManifest) m1 = manifest_of (one);
  g_autoptr(PinholeManifest) m2 = manifest_of (tree);
  g_autoptr(PinholeManifest) m3 = manifest_of (several);
  g_autofree char *t1 = pinhole_transfer_text_title (m1);
  g_autofree char *t2 = pinhole_transfer_text_title (m2);
  g_autofree char *t3 = pinhole_transfer_text_title (m3);
  g_autofree char *s1 = pinhole_transfer_text_size (m1);
  g_autofree char *s3 = pinhole_transfer_text_size (m3);

  g_assert_cmpstr (t1, ==, "beach.jpg");
  g_assert_cmpstr (t2, ==, "photos");
  g_assert_cmpstr (t3, ==, "2 files");
  g_assert_cmpstr (s1, ==, "2.5\u00a0MB");
  g_assert_cmpstr (s3, ==, "5.0\u00a0MB · 2 files");
  /* what Open opens: the one file, the folder everything is in, or nothing of its own */
  g_assert_cmpint (pinhole_transfer_text_main_entry (m1), ==, 0);
  g_assert_cmpint (pinhole_transfer_text_main_entry (m2), ==, 0);
  g_assert_cmpint (pinhole_transfer_text_main_entry (m3), ==, -1);
  {
    const char *inside[] = { "holiday/day 1/a.jpg", "holiday/notes.txt", NULL };
    g_autoptr(PinholeManifest) m4 = manifest_of (inside);
    g_autofree char *c1 = pinhole_transfer_text_common_folder (m1);
    g_autofree char *c2 = pinhole_transfer_text_common_folder (m2);
    g_autofree char *c3 = pinhole_transfer_text_common_folder (m3);
    g_autofree char *c4 = pinhole_transfer_text_common_folder (m4);

    /* the folder Open shows when a whole folder was sent */
    g_assert_null (c1);
    g_assert_cmpstr (c2, ==, "photos");
    g_assert_null (c3);
    g_assert_cmpstr (c4, ==, "holiday");
  }
}

static void
test_progress (void)
{
  g_autofree char *moving = pinhole_transfer_text_progress (12300000, 1000000000, 24e6, FALSE);
  g_autofree char *paused = pinhole_transfer_text_progress (12300000, 1000000000, 24e6, TRUE);
  g_autofree char *unmeasured = pinhole_transfer_text_progress (0, 1000000000, 0, FALSE);
  g_autofree char *s40 = pinhole_transfer_text_time_left (40);
  g_autofree char *m3 = pinhole_transfer_text_time_left (170);
  g_autofree char *h2 = pinhole_transfer_text_time_left (2 * 3600 + 5 * 60 + 9);

  g_assert_cmpstr (moving, ==, "12.3\u00a0MB of 1.0\u00a0GB · 24.0\u00a0MB/s · 41 s left");
  g_assert_cmpstr (paused, ==, "12.3\u00a0MB of 1.0\u00a0GB");
  g_assert_cmpstr (unmeasured, ==, "0 bytes of 1.0\u00a0GB");
  g_assert_cmpstr (s40, ==, "40 s left");
  g_assert_cmpstr (m3, ==, "3 min left");
  g_assert_cmpstr (h2, ==, "2 h 5 min left");
}

static void
test_path_and_status (void)
{
  g_autofree char *punch = pinhole_transfer_text_path ("udp-punch");
  g_autofree char *relay = pinhole_transfer_text_path ("relay");
  g_autofree char *none = pinhole_transfer_text_path (NULL);
  g_autofree char *waiting = pinhole_transfer_text_status (PINHOLE_TRANSFER_DIRECTION_OUTGOING,
                                                           PINHOLE_TRANSFER_STATE_OFFERED,
                                                           "bob", NULL);
  g_autofree char *failed = pinhole_transfer_text_status (PINHOLE_TRANSFER_DIRECTION_INCOMING,
                                                          PINHOLE_TRANSFER_STATE_FAILED, "bob",
                                                          "\"a\" did not match the SHA-256");

  /* the header's words, without the round-trip time */
  g_assert_cmpstr (punch, ==, "Direct · UDP hole punch");
  g_assert_cmpstr (relay, ==, "Relayed via server");
  g_assert_null (none);
  g_assert_cmpstr (waiting, ==, "Waiting for bob to accept");
  g_assert_cmpstr (failed, ==, "The transfer failed: \"a\" did not match the SHA-256");
}

static PinholeTransfer *
transfer_with (const char *peer)
{
  const char *one[] = { "f.bin", NULL };
  PinholeTransfer *t = _pinhole_transfer_new_offered ("00112233445566778899aabbccddeeff",
                                                      manifest_of (one));

  _pinhole_transfer_set_peer (t, peer, "device");
  return t;
}

static void
append_message (GListStore *store,
                gint64      timestamp)
{
  g_autofree char *id = g_strdup_printf ("m%" G_GINT64_FORMAT, timestamp);
  g_autoptr(PinholeMessage) m = pinhole_message_new (id, PINHOLE_MESSAGE_DIRECTION_IN, "hi",
                                                     timestamp, PINHOLE_MESSAGE_STATE_RECEIVED);

  g_list_store_append (store, m);
}

static gint changes;

static void
count_cb (void)
{
  changes++;
}

/* a card goes where its time falls among the messages, only for its contact, and leaves the
 * list with the messages around it when the window pages away */
static void
test_timeline (void)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GListStore) messages = g_list_store_new (PINHOLE_TYPE_MESSAGE);
  g_autoptr(GListStore) transfers = g_list_store_new (PINHOLE_TYPE_TRANSFER);
  g_autoptr(PinholeMessageWindow) window = NULL;
  g_autoptr(PinholeTimeline) timeline = NULL;
  g_autoptr(PinholeTransfer) mine = transfer_with ("bob");
  g_autoptr(PinholeTransfer) other = transfer_with ("carol");
  g_autoptr(GObject) third = NULL;

  for (gint i = 0; i < 5; i++)
    append_message (messages, now - 1000 + i);          /* older than the transfer */
  append_message (messages, now + 1000);                /* newer */
  window = pinhole_message_window_new (G_LIST_MODEL (messages), 3);
  pinhole_message_window_show_latest (window, 3);
  timeline = pinhole_timeline_new (window, G_LIST_MODEL (transfers), "bob");
  g_signal_connect (timeline, "items-changed", G_CALLBACK (count_cb), NULL);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (timeline)), ==, 3);

  g_list_store_append (transfers, other);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (timeline)), ==, 3);
  g_list_store_append (transfers, mine);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (timeline)), ==, 4);
  g_assert_cmpuint (pinhole_timeline_count_transfers (timeline), ==, 1);
  third = g_list_model_get_item (G_LIST_MODEL (timeline), 2);
  g_assert_true (third == G_OBJECT (mine));      /* before the newer message, after the rest */
  g_assert_cmpint (changes, ==, 1);

  /* the window moves up to the oldest three: the card's place is below them, out of view */
  pinhole_message_window_show_older (window, 3);
  g_assert_cmpuint (pinhole_timeline_count_transfers (timeline), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (timeline)), ==, 3);
  pinhole_message_window_show_latest (window, 3);
  g_assert_cmpuint (pinhole_timeline_count_transfers (timeline), ==, 1);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "C.UTF-8");
  g_setenv ("LANGUAGE", "C", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/app/transfer-text/title", test_title);
  g_test_add_func ("/app/transfer-text/progress", test_progress);
  g_test_add_func ("/app/transfer-text/path-and-status", test_path_and_status);
  g_test_add_func ("/app/timeline/cards-among-messages", test_timeline);
  return g_test_run ();
}
