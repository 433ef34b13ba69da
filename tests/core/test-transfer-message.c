/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-transfer-message.c: the transfer messages and data frames (docs/transfer.md §3-4):
 * a round trip of every type, malformed members, bounds, truncation sweeps. */
#include "pinhole-transfer-message.h"
#include "pinhole-error.h"
#include "pinhole-session.h"

#include <string.h>

#define ID "0123456789abcdef0123456789abcdef"

static PinholeTransferMessage *
round_trip (const PinholeTransferMessage *m)
{
  g_autoptr(GBytes) encoded = pinhole_transfer_message_encode (m);
  g_autoptr(GError) error = NULL;
  PinholeTransferMessage *back = pinhole_transfer_message_parse (encoded, &error);

  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_cmpint (back->type, ==, m->type);
  g_assert_cmpstr (back->id, ==, m->id);
  g_assert_cmpuint (g_bytes_get_size (encoded), <=, PINHOLE_SESSION_MAX_PAYLOAD);
  return back;
}

static void
test_round_trip (void)
{
  for (int t = PINHOLE_TRANSFER_MESSAGE_OFFER; t <= PINHOLE_TRANSFER_MESSAGE_FAILED; t++)
    {
      g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_new (t, ID);
      g_autoptr(PinholeTransferMessage) back = NULL;
      guint32 entries[] = { 0, 7, 4095 };

      m->manifest_size = 40000;
      m->offset = 16384;
      m->part = g_bytes_new_take (g_malloc0 (PINHOLE_TRANSFER_MAX_PART), PINHOLE_TRANSFER_MAX_PART);
      m->files = 3;
      m->bytes = G_GUINT64_CONSTANT (5000000000);
      m->entries = g_array_new (FALSE, FALSE, sizeof (guint32));
      g_array_append_vals (m->entries, entries, 3);
      m->window = 8;
      m->entry = 7;
      m->first = 1024;
      m->blocks = g_bytes_new_static ("\xff\x80", 2);
      m->block = 1 << 29;
      m->channel = 200;
      memset (m->sha256, 0xab, sizeof m->sha256);
      m->code = PINHOLE_ERROR_PROTOCOL;
      m->reason = g_strdup ("beach.jpg did not match the SHA-256 offered");

      back = round_trip (m);
      switch (t)
        {
        case PINHOLE_TRANSFER_MESSAGE_OFFER:
          g_assert_cmpuint (back->manifest_size, ==, 40000);
          g_assert_cmpuint (back->offset, ==, 16384);
          g_assert_true (g_bytes_equal (back->part, m->part));
          g_assert_cmpuint (back->files, ==, 3);
          g_assert_cmpuint (back->bytes, ==, G_GUINT64_CONSTANT (5000000000));
          break;
        case PINHOLE_TRANSFER_MESSAGE_ACCEPT:
          g_assert_cmpmem (back->entries->data, back->entries->len * 4, entries, sizeof entries);
          g_assert_cmpuint (back->window, ==, 8);
          break;
        case PINHOLE_TRANSFER_MESSAGE_HAVE:
          g_assert_cmpuint (back->entry, ==, 7);
          g_assert_cmpuint (back->first, ==, 1024);
          g_assert_true (g_bytes_equal (back->blocks, m->blocks));
          g_assert_false (back->done);
          break;
        case PINHOLE_TRANSFER_MESSAGE_READY:
          g_assert_cmpuint (back->window, ==, 8);
          break;
        case PINHOLE_TRANSFER_MESSAGE_SENDING:
          g_assert_cmpuint (back->channel, ==, 200);
          break;
        case PINHOLE_TRANSFER_MESSAGE_VERIFIED:
        case PINHOLE_TRANSFER_MESSAGE_RESENT:
          g_assert_cmpuint (back->entry, ==, 7);
          g_assert_cmpuint (back->block, ==, 1 << 29);
          break;
        case PINHOLE_TRANSFER_MESSAGE_FILE_DONE:
          g_assert_cmpmem (back->sha256, 32, m->sha256, 32);
          break;
        case PINHOLE_TRANSFER_MESSAGE_FAILED:
          g_assert_cmpint (back->code, ==, PINHOLE_ERROR_PROTOCOL);
          g_assert_cmpstr (back->reason, ==, m->reason);
          break;
        case PINHOLE_TRANSFER_MESSAGE_CANCEL:
          g_assert_cmpstr (back->reason, ==, m->reason);
          break;
        default:
          break;
        }
    }

  {
    g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_HAVE,
                                                                        ID);
    g_autoptr(PinholeTransferMessage) back = NULL;

    m->done = TRUE;
    back = round_trip (m);
    g_assert_true (back->done);
    g_assert_null (back->blocks);
  }
  {
    g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_new (PINHOLE_TRANSFER_MESSAGE_CANCEL,
                                                                        ID);
    g_autoptr(PinholeTransferMessage) back = round_trip (m);

    g_assert_null (back->reason);
  }
}

static void
assert_fails (const char *text,
              const char *words)
{
  g_autoptr(GBytes) payload = g_bytes_new (text, strlen (text));
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_parse (payload, &error);

  if (m != NULL)
    g_error ("accepted: %s", text);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  if (words != NULL && strstr (error->message, words) == NULL)
    g_error ("\"%s\" does not say \"%s\"", error->message, words);
}

static void
test_malformed (void)
{
  assert_fails ("{\"type\":\"offer\"}", "id");
  assert_fails ("{\"type\":\"steal\",\"id\":\"" ID "\"}", "unknown");
  assert_fails ("{\"type\":\"done\",\"id\":\"0123456789ABCDEF0123456789abcdef\"}", "id");
  assert_fails ("{\"type\":\"done\",\"id\":\"0123\"}", "id");
  assert_fails ("{\"type\":\"done\",\"id\":7}", "id");
  /* offer */
  assert_fails ("{\"type\":\"offer\",\"id\":\"" ID "\",\"size\":10,\"offset\":8,\"files\":1,"
                "\"bytes\":1,\"part\":\"AAAAAA==\"}", "overruns");
  assert_fails ("{\"type\":\"offer\",\"id\":\"" ID "\",\"size\":2000000,\"offset\":0,\"files\":1,"
                "\"bytes\":1,\"part\":\"AAAA\"}", "size");
  assert_fails ("{\"type\":\"offer\",\"id\":\"" ID "\",\"size\":10,\"offset\":0,\"files\":0,"
                "\"bytes\":1,\"part\":\"AAAA\"}", "no files");
  assert_fails ("{\"type\":\"offer\",\"id\":\"" ID "\",\"size\":10,\"offset\":0,\"files\":5000,"
                "\"bytes\":1,\"part\":\"AAAA\"}", "files");
  assert_fails ("{\"type\":\"offer\",\"id\":\"" ID "\",\"size\":10,\"offset\":0,\"files\":1,"
                "\"bytes\":1,\"part\":\"\"}", "part");
  assert_fails ("{\"type\":\"offer\",\"id\":\"" ID "\",\"size\":10,\"offset\":-1,\"files\":1,"
                "\"bytes\":1,\"part\":\"AAAA\"}", "offset");
  /* accept */
  assert_fails ("{\"type\":\"accept\",\"id\":\"" ID "\",\"entries\":[],\"window\":8}", "entries");
  assert_fails ("{\"type\":\"accept\",\"id\":\"" ID "\",\"entries\":[1,1],\"window\":8}", "twice");
  assert_fails ("{\"type\":\"accept\",\"id\":\"" ID "\",\"entries\":[4096],\"window\":8}", "index");
  assert_fails ("{\"type\":\"accept\",\"id\":\"" ID "\",\"entries\":[\"1\"],\"window\":8}", "index");
  assert_fails ("{\"type\":\"accept\",\"id\":\"" ID "\",\"entries\":[1],\"window\":0}", "window");
  assert_fails ("{\"type\":\"accept\",\"id\":\"" ID "\",\"entries\":[1],\"window\":65}", "window");
  assert_fails ("{\"type\":\"accept\",\"id\":\"" ID "\",\"entries\":{},\"window\":8}", "entries");
  /* have */
  assert_fails ("{\"type\":\"have\",\"id\":\"" ID "\",\"entry\":0,\"first\":3,\"blocks\":\"AA==\"}",
                "multiple of 8");
  assert_fails ("{\"type\":\"have\",\"id\":\"" ID "\",\"entry\":0,\"first\":0}", "blocks");
  assert_fails ("{\"type\":\"have\",\"id\":\"" ID "\",\"entry\":4096,\"done\":true}", "entry");
  /* the rest */
  assert_fails ("{\"type\":\"sending\",\"id\":\"" ID "\",\"channel\":2}", "channel");
  assert_fails ("{\"type\":\"sending\",\"id\":\"" ID "\",\"channel\":256}", "channel");
  assert_fails ("{\"type\":\"verified\",\"id\":\"" ID "\",\"entry\":0}", "block");
  assert_fails ("{\"type\":\"verified\",\"id\":\"" ID "\",\"entry\":0,\"block\":1073741825}",
                "block");
  assert_fails ("{\"type\":\"file-done\",\"id\":\"" ID "\",\"entry\":0,\"sha256\":\"00\"}",
                "sha256");
  assert_fails ("{\"type\":\"failed\",\"id\":\"" ID "\",\"code\":99,\"reason\":\"x\"}", "code");
  assert_fails ("{\"type\":\"failed\",\"id\":\"" ID "\",\"code\":1}", "reason");
  assert_fails ("{\"type\":\"cancel\",\"id\":\"" ID "\",\"reason\":5}", "reason");
  assert_fails ("not json", NULL);
}

static void
test_long_reason (void)
{
  g_autofree char *reason = g_strnfill (PINHOLE_TRANSFER_MAX_REASON + 1, 'r');
  g_autofree char *text = g_strdup_printf ("{\"type\":\"failed\",\"id\":\"" ID "\",\"code\":1,"
                                           "\"reason\":\"%s\"}", reason);

  assert_fails (text, "reason");
}

static void
test_truncated (void)
{
  for (int t = PINHOLE_TRANSFER_MESSAGE_OFFER; t <= PINHOLE_TRANSFER_MESSAGE_FAILED; t++)
    {
      g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_new (t, ID);
      g_autoptr(GBytes) encoded = NULL;
      gsize len;
      const char *data;

      m->manifest_size = 10;
      m->part = g_bytes_new_static ("abc", 3);
      m->files = 1;
      m->entries = g_array_new (FALSE, FALSE, sizeof (guint32));
      g_array_append_val (m->entries, m->entry);
      m->window = 1;
      m->blocks = g_bytes_new_static ("\x01", 1);
      m->channel = 3;
      m->reason = g_strdup ("r");
      encoded = pinhole_transfer_message_encode (m);
      data = g_bytes_get_data (encoded, &len);
      for (gsize n = 0; n < len; n++)
        {
          g_autoptr(GBytes) cut = g_bytes_new (data, n);
          g_autoptr(GError) error = NULL;
          g_autoptr(PinholeTransferMessage) back = pinhole_transfer_message_parse (cut, &error);

          g_assert_null (back);
          g_assert_nonnull (error);
        }
    }
}

static void
test_ids (void)
{
  g_autofree char *a = pinhole_transfer_id_new ();
  g_autofree char *b = pinhole_transfer_id_new ();

  g_assert_true (pinhole_transfer_id_is_valid (a));
  g_assert_true (pinhole_transfer_id_is_valid (b));
  g_assert_cmpstr (a, !=, b);
  g_assert_false (pinhole_transfer_id_is_valid (""));
  g_assert_false (pinhole_transfer_id_is_valid ("../../../../0123456789abcdef012345"));
}

static void
test_data_frames (void)
{
  guint8 hash[32];
  guint8 chunk[1000];
  g_autoptr(GBytes) block = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GError) error = NULL;
  PinholeTransferData d;

  memset (hash, 0x5c, sizeof hash);
  for (gsize i = 0; i < sizeof chunk; i++)
    chunk[i] = (guint8) i;
  block = pinhole_transfer_data_build_block (4095, 1 << 30, hash);
  g_assert_cmpuint (g_bytes_get_size (block), ==, PINHOLE_TRANSFER_BLOCK_FRAME);
  g_assert_true (pinhole_transfer_data_parse (block, &d, &error));
  g_assert_cmpint (d.kind, ==, PINHOLE_TRANSFER_DATA_BLOCK);
  g_assert_cmpuint (d.entry, ==, 4095);
  g_assert_cmpuint (d.block, ==, 1 << 30);
  g_assert_cmpmem (d.sha256, 32, hash, 32);

  data = pinhole_transfer_data_build_data (3, G_GUINT64_CONSTANT (5000000000), chunk,
                                           sizeof chunk);
  g_assert_true (pinhole_transfer_data_parse (data, &d, &error));
  g_assert_no_error (error);
  g_assert_cmpint (d.kind, ==, PINHOLE_TRANSFER_DATA_DATA);
  g_assert_cmpuint (d.entry, ==, 3);
  g_assert_cmpuint (d.offset, ==, G_GUINT64_CONSTANT (5000000000));
  g_assert_cmpmem (d.data, d.len, chunk, sizeof chunk);

  /* every prefix of both fails, but for a DATA frame cut after some data */
  for (gsize n = 0; n < PINHOLE_TRANSFER_BLOCK_FRAME; n++)
    {
      g_autoptr(GBytes) cut = g_bytes_new (g_bytes_get_data (block, NULL), n);
      g_autoptr(GError) cut_error = NULL;

      g_assert_false (pinhole_transfer_data_parse (cut, &d, &cut_error));
      g_assert_error (cut_error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
    }
  for (gsize n = 0; n <= PINHOLE_TRANSFER_DATA_HEADER; n++)
    {
      g_autoptr(GBytes) cut = g_bytes_new (g_bytes_get_data (data, NULL), n);
      g_autoptr(GError) cut_error = NULL;

      g_assert_false (pinhole_transfer_data_parse (cut, &d, &cut_error));
    }
}

static void
test_data_malformed (void)
{
  guint8 frame[64] = { 0 };
  PinholeTransferData d;

  /* an unknown kind */
  frame[0] = 3;
  {
    g_autoptr(GBytes) b = g_bytes_new (frame, 41);
    g_autoptr(GError) error = NULL;

    g_assert_false (pinhole_transfer_data_parse (b, &d, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  }
  /* a BLOCK of the wrong length */
  frame[0] = PINHOLE_TRANSFER_DATA_BLOCK;
  {
    g_autoptr(GBytes) b = g_bytes_new (frame, 42);

    g_assert_false (pinhole_transfer_data_parse (b, &d, NULL));
  }
  /* an entry past any manifest */
  frame[1] = 0xff;
  {
    g_autoptr(GBytes) b = g_bytes_new (frame, 41);

    g_assert_false (pinhole_transfer_data_parse (b, &d, NULL));
  }
  /* DATA whose end overflows */
  memset (frame, 0xff, sizeof frame);
  frame[0] = PINHOLE_TRANSFER_DATA_DATA;
  frame[1] = frame[2] = frame[3] = frame[4] = 0;
  {
    g_autoptr(GBytes) b = g_bytes_new (frame, sizeof frame);

    g_assert_false (pinhole_transfer_data_parse (b, &d, NULL));
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/transfer/message/round-trip", test_round_trip);
  g_test_add_func ("/transfer/message/malformed", test_malformed);
  g_test_add_func ("/transfer/message/long-reason", test_long_reason);
  g_test_add_func ("/transfer/message/truncated", test_truncated);
  g_test_add_func ("/transfer/message/ids", test_ids);
  g_test_add_func ("/transfer/message/data-frames", test_data_frames);
  g_test_add_func ("/transfer/message/data-malformed", test_data_malformed);
  return g_test_run ();
}
