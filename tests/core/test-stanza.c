/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-stanza.c: rendezvous stanza parsing (valid, malformed, limits, truncation), typed field
 * access, user and device names, relay frames and the error code mapping (docs/protocol.md). */
#include "pinhole-stanza.h"
#include "pinhole-error.h"

#include <string.h>

static const char *const valid_stanzas[] = {
  "{\"type\":\"login\",\"id\":\"1\",\"user\":\"alice\",\"device\":\"laptop\","
  "\"token\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}",
  "{\"type\":\"register\",\"id\":\"r1\",\"user\":\"bob.smith\",\"device\":\"Phone_2\","
  "\"password\":\"correct horse\",\"device_key\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}",
  "{\"type\":\"result\",\"id\":\"7\",\"contacts\":[{\"user\":\"bob\",\"relation\":\"mutual\","
  "\"devices\":[{\"device\":\"phone\",\"key\":\"AAAA\",\"show\":\"online\"}]}],\"own_devices\":[]}",
  "{\"type\":\"presence\",\"user\":\"bob\",\"device\":\"phone\",\"show\":\"away\"}",
  "{\"type\":\"message\",\"id\":\"m\",\"user\":\"bob\",\"device\":\"phone\",\"message\":\"x1\","
  "\"sealed\":\"aGVsbG8gd29ybGQ=\"}",
  "{\"type\":\"relay-open\",\"id\":\"3\",\"user\":\"bob\",\"device\":\"phone\"}",
  "{\"type\":\"error\",\"id\":\"3\",\"code\":404,\"condition\":\"item-not-found\","
  "\"text\":\"can't find ws://h/x #1 [x] {y}\"}",
  "  {\"type\" : \"roster\", \"id\" : \"\\u0031\", \"note\" : \"\\\"[[[[[[[[[[\"}\n",
};

static JsonObject *
parse_ok (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonObject *o = pinhole_stanza_parse (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_nonnull (o);
  return o;
}

static void
assert_parse_fails (const char *text,
                    gsize       len,
                    int         code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) o = pinhole_stanza_parse (text, len, &error);

  g_assert_null (o);
  g_assert_error (error, PINHOLE_ERROR, code);
}

static void
test_parse_valid (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (valid_stanzas); i++)
    {
      g_autoptr(JsonObject) o = parse_ok (valid_stanzas[i]);

      g_assert_nonnull (pinhole_stanza_get_type (o));
    }

  {
    g_autoptr(JsonObject) o = parse_ok (valid_stanzas[0]);
    g_assert_cmpstr (pinhole_stanza_get_type (o), ==, "login");
    g_assert_cmpstr (pinhole_stanza_get_id (o), ==, "1");
  }
  {
    /* escapes decode; brackets inside strings do not count as nesting */
    g_autoptr(JsonObject) o = parse_ok (valid_stanzas[G_N_ELEMENTS (valid_stanzas) - 1]);
    g_assert_cmpstr (pinhole_stanza_get_type (o), ==, "roster");
    g_assert_cmpstr (pinhole_stanza_get_id (o), ==, "1");
  }
  {
    /* no "id" is allowed: pushes have none */
    g_autoptr(JsonObject) o = parse_ok ("{\"type\":\"presence\",\"id\":7}");
    g_assert_null (pinhole_stanza_get_id (o));
  }
  {
    /* a large number that json-glib writes back as plain digits stays */
    g_autoptr(JsonObject) o = parse_ok ("{\"type\":\"a\",\"x\":1e16}");
    g_assert_cmpfloat (json_object_get_double_member (o, "x"), ==, 1e16);
  }
  {
    /* a surrogate pair is one character, U+1F600 */
    g_autoptr(JsonObject) o = parse_ok ("{\"type\":\"\\ud83d\\ude00\"}");
    g_assert_cmpstr (pinhole_stanza_get_type (o), ==, "\xf0\x9f\x98\x80");
  }
}

static void
test_parse_malformed (void)
{
  static const char not_utf8[] = "{\"type\":\"m\xff\xfe\"}";
  static const char with_nul[] = "{\"type\":\"a\0b\"}";
  static const char *const bad[] = {
    "",
    " ",
    "{",
    "}",
    "{\"type\":}",
    "{\"type\":\"login\"",
    "{\"type\":\"login\"}}",
    "{\"type\":\"a\",}",
    "not json at all",
    "[]",
    "[{\"type\":\"login\"}]",
    "42",
    "\"login\"",
    "null",
    "true",
    "{}",
    "{\"id\":\"1\"}",
    "{\"type\":1}",
    "{\"type\":null}",
    "{\"type\":[\"login\"]}",
    "{\"type\":{\"a\":\"b\"}}",
    "{\"type\":true}",
    /* what json-glib reads but JSON does not have */
    "{\"type\":'login'}",
    "{\"type\":\"a\"/* c */}",
    "{\"type\":\"a\"} // c",
    "{\"type\":\"a\"} # c",
    /* numbers that would serialise as "inf" */
    "{\"type\":\"a\",\"x\":1e400}",
    "{\"type\":\"a\",\"p\":{\"c\":[1,-1E+999]}}",
    /* numbers that json-glib would write back as "1e+40.0" */
    "{\"type\":\"a\",\"rtt\":1e40}",
    "{\"type\":\"a\",\"p\":[1.0e17]}",
    /* lone surrogate escapes followed by more text, which json-glib decodes into bytes that
     * are not UTF-8 (at the end of a string it refuses them itself) */
    "{\"type\":\"a\",\"x\":\"\\udb66x\"}",
    "{\"type\":\"a\",\"x\":\"ab\\ude00cd\"}",
    "{\"type\":\"a\",\"p\":{\"\\ud800k\":1}}",
  };

  /* empty also with a non-NULL pointer and zero length */
  assert_parse_fails ("{\"type\":\"a\"}", 0, PINHOLE_ERROR_PROTOCOL);
  assert_parse_fails (not_utf8, sizeof not_utf8 - 1, PINHOLE_ERROR_PROTOCOL);
  assert_parse_fails (with_nul, sizeof with_nul - 1, PINHOLE_ERROR_PROTOCOL);
  /* a trailing NUL counted in the length is still an embedded NUL */
  assert_parse_fails ("{\"type\":\"a\"}", sizeof "{\"type\":\"a\"}", PINHOLE_ERROR_PROTOCOL);
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("malformed: %s", bad[i]);
      assert_parse_fails (bad[i], strlen (bad[i]), PINHOLE_ERROR_PROTOCOL);
    }
}

static char *
nested (guint depth)
{
  GString *s = g_string_new ("{\"type\":\"t\",\"x\":");

  /* the stanza object itself is one level */
  for (guint i = 1; i < depth; i++)
    g_string_append_c (s, '[');
  g_string_append (s, "1");
  for (guint i = 1; i < depth; i++)
    g_string_append_c (s, ']');
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

static void
test_parse_depth (void)
{
  g_autofree char *at_limit = nested (PINHOLE_STANZA_MAX_DEPTH);
  g_autofree char *over = nested (PINHOLE_STANZA_MAX_DEPTH + 1);
  g_autoptr(JsonObject) o = parse_ok (at_limit);

  assert_parse_fails (over, strlen (over), PINHOLE_ERROR_PROTOCOL);
}

static void
test_parse_deep_brackets (void)
{
  /* more than the size limit and just under it: both refused without recursing */
  gsize sizes[] = { 100000, PINHOLE_STANZA_MAX_BYTES };

  for (gsize k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      g_autofree char *text = g_malloc (sizes[k]);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) o = NULL;
      gint64 start = g_get_monotonic_time ();

      memset (text, '[', sizes[k]);
      o = pinhole_stanza_parse (text, sizes[k], &error);
      g_assert_null (o);
      g_assert_nonnull (error);
      g_assert_true (error->domain == PINHOLE_ERROR);
      g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
    }

  {
    g_autofree char *text = g_strnfill (PINHOLE_STANZA_MAX_BYTES, '{');
    assert_parse_fails (text, strlen (text), PINHOLE_ERROR_PROTOCOL);
  }
}

/* json-glib also reads comments and single-quoted strings: whatever it might skip must not hide
 * brackets from the depth check */
static void
test_parse_hidden_nesting (void)
{
  static const char *const prefixes[] = {
    "{\"type\":\"t\",\"x\":#\"\n",
    "{\"type\":\"t\",\"x\":/*\"*/",
    "{\"type\":\"t\",\"y\":'\"',\"x\":",
  };

  for (gsize k = 0; k < G_N_ELEMENTS (prefixes); k++)
    {
      GString *s = g_string_new (prefixes[k]);
      g_autofree char *text = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) o = NULL;

      for (guint i = 0; i < 30000; i++)
        g_string_append_c (s, '[');
      for (guint i = 0; i < 30000; i++)
        g_string_append_c (s, ']');
      g_string_append_c (s, '}');
      text = g_string_free (s, FALSE);
      g_assert_cmpuint (strlen (text), <=, PINHOLE_STANZA_MAX_BYTES);
      o = pinhole_stanza_parse (text, strlen (text), &error);
      g_assert_null (o);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
    }
}

static void
test_parse_too_large (void)
{
  /* a valid stanza, padded with spaces to one byte over the limit */
  const char *head = "{\"type\":\"presence\",\"pad\":\"";
  gsize len = PINHOLE_STANZA_MAX_BYTES + 1;
  g_autofree char *text = g_malloc (len + 1);
  g_autoptr(JsonObject) ok = NULL;
  g_autoptr(GError) error = NULL;

  memset (text, 'a', len);
  memcpy (text, head, strlen (head));
  memcpy (text + len - 2, "\"}", 2);
  text[len] = '\0';
  assert_parse_fails (text, len, PINHOLE_ERROR_LIMIT);

  /* one byte less is accepted */
  memcpy (text + len - 3, "\"}", 3);
  ok = pinhole_stanza_parse (text, len - 1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ok);
}

static void
test_truncated (void)
{
  for (gsize k = 0; k < G_N_ELEMENTS (valid_stanzas); k++)
    {
      const char *text = valid_stanzas[k];
      gsize len = strlen (text);
      guint parsed = 0;

      for (gsize n = 0; n < len; n++)
        {
          /* an exact copy of n bytes, so that an over-read is seen by ASan and valgrind */
          g_autofree char *prefix = g_memdup2 (text, n ? n : 1);
          g_autoptr(GError) error = NULL;
          g_autoptr(JsonObject) o = pinhole_stanza_parse (prefix, n, &error);

          if (o != NULL)
            {
              /* only a prefix that lacks nothing but trailing white space is complete */
              g_assert_no_error (error);
              g_assert_nonnull (pinhole_stanza_get_type (o));
              g_assert_cmpuint (strspn (text + n, " \n"), ==, len - n);
              parsed++;
            }
          else
            g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
        }
      g_assert_cmpuint (parsed, <=, 1);
    }
}

static void
test_to_string_round_trip (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (valid_stanzas); i++)
    {
      g_autoptr(JsonObject) o = parse_ok (valid_stanzas[i]);
      gsize len = 0;
      g_autofree char *text = pinhole_stanza_to_string (o, &len);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) back = pinhole_stanza_parse (text, len, &error);
      g_autofree char *again = NULL;

      g_assert_no_error (error);
      g_assert_cmpuint (len, ==, strlen (text));
      g_assert_cmpstr (pinhole_stanza_get_type (back), ==, pinhole_stanza_get_type (o));
      g_assert_cmpstr (pinhole_stanza_get_id (back), ==, pinhole_stanza_get_id (o));
      again = pinhole_stanza_to_string (back, NULL);
      g_assert_cmpstr (again, ==, text);
    }
}

static void
test_require_string (void)
{
  g_autoptr(JsonObject) o =
    parse_ok ("{\"type\":\"t\",\"user\":\"alice\",\"n\":5,\"nul\":null,\"arr\":[\"a\"],"
              "\"obj\":{},\"long\":\"0123456789\"}");
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (pinhole_stanza_require_string (o, "user", 32, &error), ==, "alice");
  g_assert_no_error (error);
  g_assert_cmpstr (pinhole_stanza_require_string (o, "user", 5, &error), ==, "alice");
  g_assert_no_error (error);

  g_assert_null (pinhole_stanza_require_string (o, "device", 64, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "device"));
  g_clear_error (&error);

  g_assert_null (pinhole_stanza_require_string (o, "nul", 64, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "nul"));
  g_clear_error (&error);

  for (guint i = 0; i < 3; i++)
    {
      const char *member = (const char *[]) { "n", "arr", "obj" }[i];

      g_assert_null (pinhole_stanza_require_string (o, member, 64, &error));
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (error->message, member));
      g_assert_nonnull (strstr (error->message, "not a string"));
      g_clear_error (&error);
    }

  g_assert_null (pinhole_stanza_require_string (o, "long", 9, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "\"long\""));
  g_assert_nonnull (strstr (error->message, "10"));
  g_clear_error (&error);
  g_assert_cmpstr (pinhole_stanza_require_string (o, "long", 10, &error), ==, "0123456789");
  g_assert_no_error (error);

  /* optional: absent or null is no error, a wrong type still is */
  g_assert_null (pinhole_stanza_optional_string (o, "device", 64, &error));
  g_assert_no_error (error);
  g_assert_null (pinhole_stanza_optional_string (o, "nul", 64, &error));
  g_assert_no_error (error);
  g_assert_null (pinhole_stanza_optional_string (o, "n", 64, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_cmpstr (pinhole_stanza_optional_string (o, "user", 64, &error), ==, "alice");
  g_assert_no_error (error);
}

static void
test_require_int (void)
{
  g_autoptr(JsonObject) o =
    parse_ok ("{\"type\":\"t\",\"channel\":7,\"neg\":-3,\"big\":9223372036854775807,"
              "\"f\":1.5,\"s\":\"7\",\"b\":true,\"nul\":null,\"arr\":[7]}");
  g_autoptr(GError) error = NULL;
  gint64 v = -1;

  g_assert_true (pinhole_stanza_require_int (o, "channel", 1, G_MAXUINT32, &v, &error));
  g_assert_no_error (error);
  g_assert_cmpint (v, ==, 7);
  g_assert_true (pinhole_stanza_require_int (o, "channel", 7, 7, &v, &error));
  g_assert_no_error (error);
  g_assert_true (pinhole_stanza_require_int (o, "big", 0, G_MAXINT64, &v, &error));
  g_assert_cmpint (v, ==, G_MAXINT64);
  g_assert_true (pinhole_stanza_require_int (o, "neg", G_MININT64, 0, &v, &error));
  g_assert_cmpint (v, ==, -3);

  /* out of range: the value stays untouched */
  v = 42;
  g_assert_false (pinhole_stanza_require_int (o, "channel", 8, 100, &v, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "channel"));
  g_clear_error (&error);
  g_assert_false (pinhole_stanza_require_int (o, "channel", 1, 6, &v, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_false (pinhole_stanza_require_int (o, "neg", 1, G_MAXUINT32, &v, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_false (pinhole_stanza_require_int (o, "big", 0, G_MAXUINT32, &v, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_cmpint (v, ==, 42);

  for (guint i = 0; i < 6; i++)
    {
      const char *member = (const char *[]) { "f", "s", "b", "nul", "arr", "missing" }[i];

      g_assert_false (pinhole_stanza_require_int (o, member, G_MININT64, G_MAXINT64, &v,
                                                  &error));
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (error->message, member));
      g_clear_error (&error);
    }
  g_assert_cmpint (v, ==, 42);
}

static void
test_require_base64 (void)
{
  g_autoptr(JsonObject) o =
    parse_ok ("{\"type\":\"t\",\"key\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\","
              "\"hello\":\"aGVsbG8=\",\"bad\":\"aGVs bG8=\",\"bad2\":\"aGVsbG8*\","
              "\"url\":\"a-_b\",\"empty\":\"\",\"n\":3,"
              "\"mid\":\"aG=sbG8=\",\"short\":\"aGVsbG8\",\"pad3\":\"aGV===\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = NULL;
  g_autoptr(GBytes) hello = NULL;
  g_autoptr(GBytes) none = NULL;
  guint8 expected[32];

  for (guint i = 0; i < 32; i++)
    expected[i] = (guint8) i;
  key = pinhole_stanza_require_base64 (o, "key", 32, 32, &error);
  g_assert_no_error (error);
  g_assert_nonnull (key);
  g_assert_cmpmem (g_bytes_get_data (key, NULL), g_bytes_get_size (key), expected, 32);

  hello = pinhole_stanza_require_base64 (o, "hello", 1, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (hello, NULL), g_bytes_get_size (hello), "hello", 5);

  /* wrong decoded length, both ways */
  g_assert_null (pinhole_stanza_require_base64 (o, "key", 33, 64, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "key"));
  g_clear_error (&error);
  g_assert_null (pinhole_stanza_require_base64 (o, "hello", 6, 6, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);
  /* longer than max: refused on its text length or its decoded length */
  g_assert_null (pinhole_stanza_require_base64 (o, "hello", 1, 4, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_null (pinhole_stanza_require_base64 (o, "key", 16, 31, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* characters outside the standard alphabet, '=' before the end, groups not of four */
  for (guint i = 0; i < 6; i++)
    {
      const char *member = (const char *[]) { "bad", "bad2", "url", "mid", "short", "pad3" }[i];

      g_assert_null (pinhole_stanza_require_base64 (o, member, 0, 64, &error));
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (error->message, member));
      g_clear_error (&error);
    }

  /* empty text is zero bytes: fine with min 0, refused with min 1 */
  none = pinhole_stanza_require_base64 (o, "empty", 0, 8, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (none), ==, 0);
  g_assert_null (pinhole_stanza_require_base64 (o, "empty", 1, 8, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* missing and wrong type */
  g_assert_null (pinhole_stanza_require_base64 (o, "sealed", 1, 64, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "sealed"));
  g_clear_error (&error);
  g_assert_null (pinhole_stanza_require_base64 (o, "n", 1, 64, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_clear_error (&error);
}

static void
test_set_base64 (void)
{
  g_autoptr(JsonObject) o = pinhole_stanza_new ("message", "m1");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) back = NULL;
  guint8 data[100];

  for (guint i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 37 + 11);
  {
    g_autoptr(GBytes) bytes = g_bytes_new (data, sizeof data);
    pinhole_stanza_set_base64 (o, "sealed", bytes);
  }
  back = pinhole_stanza_require_base64 (o, "sealed", sizeof data, sizeof data, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (back, NULL), g_bytes_get_size (back), data, sizeof data);
  g_assert_cmpstr (pinhole_stanza_get_type (o), ==, "message");
  g_assert_cmpstr (pinhole_stanza_get_id (o), ==, "m1");
}

static void
test_names (void)
{
  static const char *const good_users[] = {
    "alice", "bob.smith", "a", "0day", "x_y-z.w", "abcdefghijklmnopqrstuvwxyz012345",
  };
  static const char *const bad_users[] = {
    "", "Alice", "ALICE", "bob smith", "a/b", "../etc", ".alice", "-alice", "_alice",
    "abcdefghijklmnopqrstuvwxyz0123456", "al\xc3\xa9", "a\tb", "a:b", "a@b",
  };
  static const char *const good_devices[] = {
    "laptop", "Phone_2", "A", "0", "my-Desktop",
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
  };
  static const char *const bad_devices[] = {
    "", "my laptop", "a/b", "..", "a.b", "dev\xc3\xa9", "x\n",
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-x",
  };

  g_assert_cmpuint (strlen (good_users[5]), ==, 32);
  g_assert_cmpuint (strlen (bad_users[9]), ==, 33);
  g_assert_cmpuint (strlen (good_devices[5]), ==, 64);
  g_assert_cmpuint (strlen (bad_devices[7]), ==, 65);

  for (gsize i = 0; i < G_N_ELEMENTS (good_users); i++)
    g_assert_true (pinhole_user_name_is_valid (good_users[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (bad_users); i++)
    {
      g_test_message ("user name: \"%s\"", bad_users[i]);
      g_assert_false (pinhole_user_name_is_valid (bad_users[i]));
    }
  g_assert_false (pinhole_user_name_is_valid (NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (good_devices); i++)
    g_assert_true (pinhole_device_name_is_valid (good_devices[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (bad_devices); i++)
    {
      g_test_message ("device name: \"%s\"", bad_devices[i]);
      g_assert_false (pinhole_device_name_is_valid (bad_devices[i]));
    }
  g_assert_false (pinhole_device_name_is_valid (NULL));
}

static void
test_relay_frame (void)
{
  guint32 channels[] = { 0, 1, 0x01020304, G_MAXUINT32 };
  gsize sizes[] = { 0, 1, 1000, PINHOLE_RELAY_MAX_PAYLOAD };
  g_autofree guint8 *payload = g_malloc (PINHOLE_RELAY_MAX_PAYLOAD);

  for (gsize i = 0; i < PINHOLE_RELAY_MAX_PAYLOAD; i++)
    payload[i] = (guint8) (i * 7);

  for (gsize c = 0; c < G_N_ELEMENTS (channels); c++)
    for (gsize s = 0; s < G_N_ELEMENTS (sizes); s++)
      {
        g_autoptr(GBytes) frame = pinhole_relay_frame_build (channels[c], payload, sizes[s]);
        g_autoptr(GBytes) out = NULL;
        g_autoptr(GError) error = NULL;
        guint32 channel = 0xdeadbeef;

        g_assert_cmpuint (g_bytes_get_size (frame), ==, PINHOLE_RELAY_HEADER_BYTES + sizes[s]);
        g_assert_true (pinhole_relay_frame_parse (frame, &channel, &out, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (channel, ==, channels[c]);
        g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), payload,
                         sizes[s]);
      }

  {
    /* the channel is in network byte order */
    g_autoptr(GBytes) frame = pinhole_relay_frame_build (0x01020304, (const guint8 *) "hi", 2);
    const guint8 expected[] = { 1, 2, 3, 4, 'h', 'i' };
    g_assert_cmpmem (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), expected,
                     sizeof expected);
  }

  /* shorter than the header */
  for (gsize n = 0; n < PINHOLE_RELAY_HEADER_BYTES; n++)
    {
      g_autoptr(GBytes) frame = g_bytes_new (payload, n);
      g_autoptr(GBytes) out = NULL;
      g_autoptr(GError) error = NULL;
      guint32 channel = 99;

      g_assert_false (pinhole_relay_frame_parse (frame, &channel, &out, &error));
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      g_assert_null (out);
      g_assert_cmpuint (channel, ==, 99);
    }

  /* payload one byte over the limit */
  {
    gsize len = PINHOLE_RELAY_HEADER_BYTES + PINHOLE_RELAY_MAX_PAYLOAD + 1;
    g_autofree guint8 *big = g_malloc0 (len);
    g_autoptr(GBytes) frame = g_bytes_new_take (g_steal_pointer (&big), len);
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GError) error = NULL;
    guint32 channel = 99;

    g_assert_false (pinhole_relay_frame_parse (frame, &channel, &out, &error));
    g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
    g_assert_null (out);
  }

  /* the payload is optional for a caller that needs only the channel */
  {
    g_autoptr(GBytes) frame = pinhole_relay_frame_build (5, payload, 10);
    guint32 channel = 0;

    g_assert_true (pinhole_relay_frame_parse (frame, &channel, NULL, NULL));
    g_assert_cmpuint (channel, ==, 5);
  }
}

/* building a frame with too long a payload is a programming error: a critical and NULL. Checked
 * in this process, not a subprocess, so that valgrind sees the early return allocates nothing. */
static void
test_relay_frame_build_too_long (void)
{
  g_autofree guint8 *payload = g_malloc0 (PINHOLE_RELAY_MAX_PAYLOAD + 1);
  GBytes *frame;

  g_test_expect_message ("pinhole-stanza", G_LOG_LEVEL_CRITICAL,
                         "*len <= PINHOLE_RELAY_MAX_PAYLOAD*");
  frame = pinhole_relay_frame_build (1, payload, PINHOLE_RELAY_MAX_PAYLOAD + 1);
  g_test_assert_expected_messages ();
  g_assert_null (frame);
}

static void
test_error_mapping (void)
{
  static const struct
  {
    PinholeError local;
    int code;
    const char *condition;
  } pairs[] = {
    { PINHOLE_ERROR_PROTOCOL, 400, "bad-request" },
    { PINHOLE_ERROR_AUTH, 401, "not-authorized" },
    { PINHOLE_ERROR_NOT_ALLOWED, 403, "forbidden" },
    { PINHOLE_ERROR_NOT_FOUND, 404, "item-not-found" },
    { PINHOLE_ERROR_EXISTS, 409, "conflict" },
    { PINHOLE_ERROR_LIMIT, 503, "unavailable" },
  };

  /* both ways for the errors that map one to one */
  for (gsize i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_autoptr(GError) local = g_error_new_literal (PINHOLE_ERROR, pairs[i].local, "x");
      g_autoptr(GError) back = NULL;
      int code = pinhole_stanza_error_code_for (local);

      g_assert_cmpint (code, ==, pairs[i].code);
      g_assert_cmpstr (pinhole_stanza_error_condition (code), ==, pairs[i].condition);
      pinhole_stanza_error_to_gerror (code, "the text", &back);
      g_assert_error (back, PINHOLE_ERROR, (int) pairs[i].local);
      g_assert_cmpstr (back->message, ==, "the text");
    }

  /* errors with no stanza code of their own */
  {
    g_autoptr(GError) no_path = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "x");
    g_autoptr(GError) failed = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "x");
    g_autoptr(GError) timeout = g_error_new_literal (PINHOLE_ERROR, PINHOLE_ERROR_TIMEOUT, "x");
    g_autoptr(GError) io = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "x");

    g_assert_cmpint (pinhole_stanza_error_code_for (no_path), ==, 503);
    g_assert_cmpint (pinhole_stanza_error_code_for (failed), ==, 500);
    g_assert_cmpint (pinhole_stanza_error_code_for (timeout), ==, 500);
    /* another domain's code must not be read as a PinholeError */
    g_assert_cmpint (pinhole_stanza_error_code_for (io), ==, 500);
  }

  /* codes only a server sends, and unknown ones */
  {
    static const struct { int code; PinholeError local; const char *condition; } in[] = {
      { 413, PINHOLE_ERROR_LIMIT, "too-large" },
      { 429, PINHOLE_ERROR_LIMIT, "rate-limited" },
      { 500, PINHOLE_ERROR_FAILED, "internal-error" },
      { 0, PINHOLE_ERROR_FAILED, "internal-error" },
      { 418, PINHOLE_ERROR_FAILED, "internal-error" },
      { -1, PINHOLE_ERROR_FAILED, "internal-error" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (in); i++)
      {
        g_autoptr(GError) e = NULL;

        pinhole_stanza_error_to_gerror (in[i].code, "t", &e);
        g_assert_error (e, PINHOLE_ERROR, (int) in[i].local);
        g_assert_cmpstr (pinhole_stanza_error_condition (in[i].code), ==, in[i].condition);
      }
  }
}

static void
test_new_error (void)
{
  g_autoptr(JsonObject) e = pinhole_stanza_new_error ("q1", 409, "user exists");
  gsize len = 0;
  g_autofree char *text = pinhole_stanza_to_string (e, &len);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) back = pinhole_stanza_parse (text, len, &error);
  gint64 code = 0;

  g_assert_no_error (error);
  g_assert_cmpstr (pinhole_stanza_get_type (back), ==, "error");
  g_assert_cmpstr (pinhole_stanza_get_id (back), ==, "q1");
  g_assert_true (pinhole_stanza_require_int (back, "code", 0, 999, &code, &error));
  g_assert_cmpint (code, ==, 409);
  g_assert_cmpstr (pinhole_stanza_require_string (back, "condition", 64, &error), ==,
                   "conflict");
  g_assert_cmpstr (pinhole_stanza_require_string (back, "text", 64, &error), ==, "user exists");
  g_assert_no_error (error);

  {
    g_autoptr(JsonObject) push = pinhole_stanza_new ("presence", NULL);
    g_assert_cmpstr (pinhole_stanza_get_type (push), ==, "presence");
    g_assert_null (pinhole_stanza_get_id (push));
    g_assert_false (json_object_has_member (push, "id"));
  }
}

/* json-glib would cut "ab\u0000cd" to "ab": a string holding U+0000 refuses the stanza, with
 * an error naming the member, and an escaped backslash before "u0000" is no NUL */
static void
test_parse_nul (void)
{
  static const struct
  {
    const char *text;
    const char *member;   /* in the error; NULL: a member name */
  } bad[] = {
    { "{\"type\":\"login\",\"user\":\"alice\\u0000admin\"}", "user" },
    { "{\"type\":\"login\",\"user\" : \"\\u0000\"}", "user" },
    { "{\"type\":\"x\",\"list\":[\"a\",\"b\\u0000\"]}", "list" },
    { "{\"type\":\"x\",\"us\\u0000er\":\"a\"}", NULL },
    { "{\"type\":\"\\u0000login\"}", "type" },
  };
  const char *good = "{\"type\":\"x\",\"path\":\"a\\\\u0000b\"}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) stanza = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) e = NULL;
      g_autoptr(JsonObject) o = pinhole_stanza_parse (bad[i].text, strlen (bad[i].text), &e);
      g_autofree char *quoted = g_strdup_printf ("\"%s\"", bad[i].member);

      g_test_message ("%s", bad[i].text);
      g_assert_null (o);
      g_assert_error (e, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (e->message, bad[i].member != NULL ? quoted : "member name"));
    }
  stanza = pinhole_stanza_parse (good, strlen (good), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pinhole_stanza_require_string (stanza, "path", 16, &error), ==, "a\\u0000b");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stanza/parse/valid", test_parse_valid);
  g_test_add_func ("/stanza/parse/malformed", test_parse_malformed);
  g_test_add_func ("/stanza/parse/depth", test_parse_depth);
  g_test_add_func ("/stanza/parse/deep-brackets", test_parse_deep_brackets);
  g_test_add_func ("/stanza/parse/hidden-nesting", test_parse_hidden_nesting);
  g_test_add_func ("/stanza/parse/too-large", test_parse_too_large);
  g_test_add_func ("/stanza/parse/truncated", test_truncated);
  g_test_add_func ("/stanza/parse/nul", test_parse_nul);
  g_test_add_func ("/stanza/to-string/round-trip", test_to_string_round_trip);
  g_test_add_func ("/stanza/field/require-string", test_require_string);
  g_test_add_func ("/stanza/field/require-int", test_require_int);
  g_test_add_func ("/stanza/field/require-base64", test_require_base64);
  g_test_add_func ("/stanza/field/set-base64", test_set_base64);
  g_test_add_func ("/stanza/names", test_names);
  g_test_add_func ("/stanza/relay-frame/round-trip", test_relay_frame);
  g_test_add_func ("/stanza/relay-frame/build-too-long", test_relay_frame_build_too_long);
  g_test_add_func ("/stanza/error/mapping", test_error_mapping);
  g_test_add_func ("/stanza/error/new", test_new_error);
  return g_test_run ();
}
