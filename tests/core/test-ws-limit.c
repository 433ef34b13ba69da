/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-ws-limit.c: PinholeWsLimit, the frame-header scanner under libsoup's WebSocket:
 * whole messages within the limit pass, fragmented or not, fed a byte at a time or at once;
 * the frame that takes a message past the limit is refused before its payload, with the
 * bytes before its header let through; control frames are bounded (RFC 6455 §5.5); and a
 * server's request head with a body, a folded line or bare line ends is refused. */
#include "pinhole-ws-limit.h"
#include "pinhole-error.h"

#include <string.h>

#define MAX_TEXT   1000
#define MAX_BINARY 2000

static const char head[] =
  "GET /pinhole HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\r\n";

/* appends one frame: a header (masked like a client's) and @len bytes of payload */
static void
add_frame (GByteArray *out,
           guint8      opcode,
           gboolean    fin,
           guint64     len)
{
  guint8 h[14];
  guint n = 0;

  h[n++] = (fin ? 0x80 : 0) | opcode;
  if (len < 126)
    h[n++] = 0x80 | (guint8) len;
  else if (len < 65536)
    {
      h[n++] = 0x80 | 126;
      h[n++] = len >> 8;
      h[n++] = len;
    }
  else
    {
      h[n++] = 0x80 | 127;
      for (int i = 7; i >= 0; i--)
        h[n++] = len >> (8 * i);
    }
  memset (h + n, 0x5a, 4);
  n += 4;
  g_byte_array_append (out, h, n);
  for (guint64 i = 0; i < len; i++)
    g_byte_array_append (out, (const guint8 *) "x", 1);
}

/* Returns: how many bytes of @bytes pass, fed @step at a time (0: all at once) */
static gsize
scan (GByteArray *bytes,
      gboolean    with_head,
      gsize       step,
      GError    **error)
{
  PinholeWsLimit limit;
  gsize pos = 0;

  pinhole_ws_limit_init (&limit, with_head, MAX_TEXT, MAX_BINARY);
  while (pos < bytes->len)
    {
      gsize n = step == 0 ? bytes->len - pos : MIN (step, bytes->len - pos);
      gsize pass = pinhole_ws_limit_scan (&limit, bytes->data + pos, n, error);

      if (pass < n)
        return pos + pass;
      pos += n;
    }
  return pos;
}

static void
test_within (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  static const gsize steps[] = { 0, 1, 3, 7, 100 };

  g_byte_array_append (b, (const guint8 *) head, strlen (head));
  add_frame (b, 0x1, TRUE, MAX_TEXT);            /* just the limit, whole */
  add_frame (b, 0x1, FALSE, 400);                /* the limit, in three fragments */
  add_frame (b, 0x9, TRUE, 125);                 /* a ping between fragments */
  add_frame (b, 0x0, FALSE, 300);
  add_frame (b, 0x0, TRUE, 300);
  add_frame (b, 0x2, FALSE, 1999);               /* binary has its own limit */
  add_frame (b, 0x0, TRUE, 1);
  add_frame (b, 0x1, TRUE, 0);
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_cmpuint (scan (b, TRUE, steps[i], &error), ==, b->len);
      g_assert_no_error (error);
    }
}

/* the refused frame's header and everything after it are held back */
static void
expect_refused_at (GByteArray *b,
                   gboolean    with_head,
                   gsize       at,
                   const char *message)
{
  static const gsize steps[] = { 0, 1, 5 };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr(GError) error = NULL;
      gsize pass = scan (b, with_head, steps[i], &error);

      g_assert_nonnull (error);
      g_assert_true (error->domain == PINHOLE_ERROR);
      g_assert_nonnull (strstr (error->message, message));
      /* fed in pieces, the header's first bytes may have passed, but not its last one, and
       * no payload */
      g_assert_cmpuint (pass, >=, at);
      g_assert_cmpuint (pass, <, at + 14);
    }
}

static void
test_fragments_over (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  gsize at;

  add_frame (b, 0x1, FALSE, 600);
  add_frame (b, 0x0, FALSE, 400);
  at = b->len;
  add_frame (b, 0x0, FALSE, 1);                  /* 1001 bytes */
  add_frame (b, 0x0, TRUE, 10);
  expect_refused_at (b, FALSE, at, "a text message of more than 1000 bytes");
}

static void
test_binary_over (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();

  add_frame (b, 0x2, FALSE, 2000);
  add_frame (b, 0x0, FALSE, 0);                  /* empty fragments are fine */
  add_frame (b, 0x0, TRUE, 1);
  expect_refused_at (b, FALSE, b->len - 15, "a binary message of more than 2000 bytes");
}

/* a length near 2^64 must not wrap the running total */
static void
test_huge_length (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  /* a continuation of 2^64 - 256 bytes, masked */
  const guint8 huge[] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
                          0, 0, 0, 0 };
  guint8 first[] = { 0x01, 0x80 | 100, 0, 0, 0, 0 };

  g_byte_array_append (b, first, sizeof first);
  for (guint i = 0; i < 100; i++)
    g_byte_array_append (b, (const guint8 *) "x", 1);
  g_byte_array_append (b, huge, sizeof huge);
  expect_refused_at (b, FALSE, 106, "more than 1000 bytes");
}

static void
test_control_over (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();

  add_frame (b, 0x9, TRUE, 126);
  expect_refused_at (b, FALSE, 0, "a control frame of 126 bytes");
}

/* a message that ends lets the next one start from zero */
static void
test_fin_resets (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 50; i++)
    {
      add_frame (b, 0x1, FALSE, 500);
      add_frame (b, 0x0, TRUE, 500);
    }
  g_assert_cmpuint (scan (b, FALSE, 0, &error), ==, b->len);
  g_assert_no_error (error);
}

static void
test_bad_heads (void)
{
  static const struct
  {
    const char *head;
    const char *message;
  } cases[] = {
    { "GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\n", "with a body" },
    { "GET / HTTP/1.1\r\ncontent-length : 0\r\n\r\n", "with a body" },
    { "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "with a body" },
    { "GET / HTTP/1.1\r\nHost: a\r\n Content-Length: 2\r\n\r\n", "folded" },
    { "GET / HTTP/1.1\nHost: a\r\n\r\n", "bare CR or LF" },
    { "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", "bare CR or LF" },
    { "\r\nGET / HTTP/1.1\r\n\r\n", "empty line before" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) b = g_byte_array_new ();
      g_autoptr(GError) error = NULL;

      g_byte_array_append (b, (const guint8 *) cases[i].head, strlen (cases[i].head));
      add_frame (b, 0x1, TRUE, 5);
      g_assert_cmpuint (scan (b, TRUE, 0, &error), <, strlen (cases[i].head));
      g_assert_nonnull (error);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].message));
    }
}

static void
test_long_head (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  g_byte_array_append (b, (const guint8 *) "GET / HTTP/1.1\r\n", 16);
  for (guint i = 0; i < 2000; i++)
    g_byte_array_append (b, (const guint8 *) "X-Pad: 12345\r\n", 14);
  g_assert_cmpuint (scan (b, TRUE, 0, &error), ==, PINHOLE_WS_LIMIT_MAX_HEAD);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
}

/* every prefix of a valid stream passes whole: nothing is refused for being cut short */
static void
test_truncated (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();

  g_byte_array_append (b, (const guint8 *) head, strlen (head));
  add_frame (b, 0x1, FALSE, 200);
  add_frame (b, 0x0, TRUE, 200);
  add_frame (b, 0x2, TRUE, 300);
  for (gsize n = 0; n <= b->len; n++)
    {
      PinholeWsLimit limit;
      g_autoptr(GError) error = NULL;

      pinhole_ws_limit_init (&limit, TRUE, MAX_TEXT, MAX_BINARY);
      g_assert_cmpuint (pinhole_ws_limit_scan (&limit, b->data, n, &error), ==, n);
      g_assert_no_error (error);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ws/limit/within", test_within);
  g_test_add_func ("/ws/limit/fragments-over", test_fragments_over);
  g_test_add_func ("/ws/limit/binary-over", test_binary_over);
  g_test_add_func ("/ws/limit/huge-length", test_huge_length);
  g_test_add_func ("/ws/limit/control-over", test_control_over);
  g_test_add_func ("/ws/limit/fin-resets", test_fin_resets);
  g_test_add_func ("/ws/limit/bad-heads", test_bad_heads);
  g_test_add_func ("/ws/limit/long-head", test_long_head);
  g_test_add_func ("/ws/limit/truncated", test_truncated);
  return g_test_run ();
}
