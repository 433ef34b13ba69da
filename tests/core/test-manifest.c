/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-manifest.c: the transfer manifest (docs/transfer.md §2): round trips, every hostile path
 * of the name rules, malformed and oversized manifests, and a truncation sweep. */
#include "pinhole-manifest.h"
#include "pinhole-error.h"

#include <json-glib/json-glib.h>
#include <string.h>

static const guint8 zero_hash[32] = { 0 };

static const char *
hex_of (const guint8 *hash)
{
  static char hex[65];

  for (int i = 0; i < 32; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", hash[i]);
  return hex;
}

static char *
manifest_with_path (const char *json_path)
{
  return g_strdup_printf ("{\"version\":1,\"block_size\":1048576,\"entries\":[{\"path\":%s,"
                          "\"size\":1,\"mtime\":0,\"sha256\":\"%s\"}]}", json_path,
                          hex_of (zero_hash));
}

static void
test_round_trip (void)
{
  g_autoptr(PinholeManifest) m = pinhole_manifest_new ();
  g_autoptr(PinholeManifest) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint8 hash[32];
  gsize len;

  for (int i = 0; i < 32; i++)
    hash[i] = (guint8) (i * 7 + 1);
  pinhole_manifest_add_file (m, "photos/2024/beach.jpg", 2480121, 1718000000, hash);
  pinhole_manifest_add_file (m, "empty.txt", 0, -5, zero_hash);
  pinhole_manifest_add_file (m, "Überall/日本語 ファイル.txt", 3 * 1048576, 1, hash);
  pinhole_manifest_add_folder (m, "photos/empty");
  pinhole_manifest_add_file (m, ".hidden..name", 1048577, 1, hash);
  g_assert_true (pinhole_manifest_validate (m, &error));
  g_assert_no_error (error);

  text = pinhole_manifest_to_string (m, &len);
  back = pinhole_manifest_parse (text, len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pinhole_manifest_get_n_entries (back), ==, 5);
  for (guint i = 0; i < 5; i++)
    {
      PinholeManifestEntry *a = pinhole_manifest_get_entry (m, i);
      PinholeManifestEntry *b = pinhole_manifest_get_entry (back, i);

      g_assert_cmpstr (a->path, ==, b->path);
      g_assert_cmpint (a->folder, ==, b->folder);
      g_assert_cmpuint (a->size, ==, b->size);
      g_assert_cmpint (a->mtime, ==, b->mtime);
      g_assert_cmpmem (a->sha256, 32, b->sha256, 32);
    }
  g_assert_cmpuint (pinhole_manifest_get_total_bytes (back), ==, 2480121 + 3 * 1048576 + 1048577);
  g_assert_cmpuint (pinhole_manifest_entry_get_n_blocks (pinhole_manifest_get_entry (back, 0)),
                    ==, 3);
  g_assert_cmpuint (pinhole_manifest_entry_get_n_blocks (pinhole_manifest_get_entry (back, 1)),
                    ==, 0);
  g_assert_cmpuint (pinhole_manifest_entry_get_n_blocks (pinhole_manifest_get_entry (back, 2)),
                    ==, 3);
  g_assert_cmpuint (pinhole_manifest_entry_get_n_blocks (pinhole_manifest_get_entry (back, 4)),
                    ==, 2);
}

/* every hostile name of issue 10, and the rest of §2.1 */
static const char *const hostile_paths[] = {
  "../x", "/etc/x", "a/../../b", "a/./b", ".", "..", "./x", "x/..",
  "a\nb", "evil\033[2Jname", "\033]0;title\007", "tab\there", "del\177", "c1\302\233x",
  "a//b", "a/", "", "x\xff", "\xc0\xaf", "rtl\342\200\256gpj.exe", "iso\342\201\246x",
  "a:b", "a<b", "a>b", "a\"b", "a\\b", "a|b", "a?b", "a*b",
  "trailing.", "trailing ", "dir./x", "CON", "con.txt", "Nul", "aux.tar.gz", "COM1", "lpt9.log",
  "photo.jpg.pinhole-partial", "d/.x.pinhole-partial",
};

static void
test_hostile_paths (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (hostile_paths); i++)
    {
      g_autoptr(GError) error = NULL;

      if (pinhole_manifest_check_path (hostile_paths[i], &error))
        g_error ("path %zu (\"%s\") accepted", i, g_strescape (hostile_paths[i], NULL));
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
      /* the message never carries the raw control characters */
      for (const char *p = error->message; *p != '\0'; p++)
        g_assert_true ((guchar) *p >= 0x20 && (guchar) *p != 0x7f);
    }
}

/* the reason is the first rule a path breaks, in words the user can act on */
static void
test_hostile_reasons (void)
{
  struct { const char *path; const char *words; } cases[] = {
    { "../x", "\"..\" component" },
    { "a/../../b", "\"..\" component" },
    { "./x", "\".\" or" },
    { "/etc/x", "is absolute" },
    { "a\nb", "control character" },
    { "evil\033[2J", "control character" },
    { "a:b", "Windows or macOS" },
    { "CON", "Windows reserves" },
    { "x.pinhole-partial", ".pinhole-partial" },
    { "a//b", "empty component" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (pinhole_manifest_check_path (cases[i].path, &error));
      if (strstr (error->message, cases[i].words) == NULL)
        g_error ("\"%s\" does not say \"%s\"", error->message, cases[i].words);
    }
}

static void
test_hostile_in_manifest (void)
{
  /* the same paths through the parser, as a peer sends them */
  for (gsize i = 0; i < G_N_ELEMENTS (hostile_paths); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);
      g_autofree char *quoted = NULL;
      g_autofree char *text = NULL;
      g_autoptr(PinholeManifest) m = NULL;

      if (!g_utf8_validate (hostile_paths[i], -1, NULL))
        continue;   /* JSON text must be UTF-8: the stanza rules refuse the whole text */
      json_node_set_string (node, hostile_paths[i]);
      quoted = json_to_string (node, FALSE);
      text = manifest_with_path (quoted);
      m = pinhole_manifest_parse (text, strlen (text), &error);
      g_assert_null (m);
      g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
    }
}

static void
test_good_paths (void)
{
  g_autofree char *long_name = g_strnfill (255, 'a');
  g_autoptr(GString) long_utf8 = g_string_new (NULL);
  g_autoptr(GString) deep = g_string_new (NULL);
  const char *good[] = { "a", "a/b/c.txt", ".bashrc", "a..b", "x.y.z", "ä ö ü/日本", "con-x",
                         "COM0", "LPT10", "console.txt", "-rf", "  lead", "emoji 😀.png" };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (pinhole_manifest_check_path (good[i], &error));
      g_assert_no_error (error);
    }
  g_assert_true (pinhole_manifest_check_path (long_name, NULL));
  /* 85 three-byte characters: 255 bytes */
  for (int i = 0; i < 85; i++)
    g_string_append (long_utf8, "日");
  g_assert_true (pinhole_manifest_check_path (long_utf8->str, NULL));
  g_string_append (long_utf8, "a");
  g_assert_false (pinhole_manifest_check_path (long_utf8->str, NULL));

  for (int i = 0; i < 64; i++)
    g_string_append (deep, i == 0 ? "d" : "/d");
  g_assert_true (pinhole_manifest_check_path (deep->str, NULL));
  g_string_append (deep, "/d");
  g_assert_false (pinhole_manifest_check_path (deep->str, NULL));
}

static void
test_long_paths (void)
{
  g_autofree char *too_long_name = g_strnfill (256, 'a');
  g_autoptr(GString) path = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (pinhole_manifest_check_path (too_long_name, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "255 bytes"));
  g_clear_error (&error);

  while (path->len <= PINHOLE_MANIFEST_MAX_PATH)
    g_string_append (path, path->len == 0 ? "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                           : "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  g_assert_false (pinhole_manifest_check_path (path->str, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL);
}

static void
assert_manifest_fails (const char *text,
                       int         code,
                       const char *words)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) m = pinhole_manifest_parse (text, strlen (text), &error);

  g_assert_null (m);
  g_assert_error (error, PINHOLE_ERROR, code);
  if (words != NULL && strstr (error->message, words) == NULL)
    g_error ("\"%s\" does not say \"%s\"", error->message, words);
}

/* a manifest of version 1 whose entries are the JSON @format makes */
static char * G_GNUC_PRINTF (1, 2)
with_entries (const char *format,
              ...)
{
  va_list args;
  g_autofree char *entries = NULL;

  va_start (args, format);
  entries = g_strdup_vprintf (format, args);
  va_end (args);
  return g_strdup_printf ("{\"version\":1,\"block_size\":1048576,\"entries\":[%s]}", entries);
}

static void
test_malformed (void)
{
  const char *h = hex_of (zero_hash);
  g_autofree char *file_a = g_strdup_printf ("{\"path\":\"a\",\"size\":1,\"mtime\":0,"
                                             "\"sha256\":\"%s\"}", h);
  g_autofree char *v2 = g_strdup_printf ("{\"version\":2,\"block_size\":1048576,"
                                         "\"entries\":[%s]}", file_a);
  g_autofree char *bs = g_strdup_printf ("{\"version\":1,\"block_size\":65536,"
                                         "\"entries\":[%s]}", file_a);
  g_autofree char *dup = with_entries ("%s,{\"path\":\"a\",\"folder\":true}", file_a);
  g_autofree char *below = with_entries ("%s,{\"path\":\"a/b/c\",\"folder\":true}", file_a);
  g_autofree char *upper_m = NULL;
  g_autofree char *negative = with_entries ("{\"path\":\"a\",\"size\":-1,\"mtime\":0,"
                                            "\"sha256\":\"%s\"}", h);
  g_autofree char *huge = with_entries ("{\"path\":\"a\",\"size\":1125899906842625,"
                                        "\"mtime\":0,\"sha256\":\"%s\"}", h);
  g_autofree char *mtime = with_entries ("{\"path\":\"a\",\"size\":1,\"mtime\":\"0\","
                                         "\"sha256\":\"%s\"}", h);
  g_autofree char *float_size = with_entries ("{\"path\":\"a\",\"size\":1.5,\"mtime\":0,"
                                              "\"sha256\":\"%s\"}", h);

  upper_m = with_entries ("%s", file_a);
  /* a zero hash has no upper case: make one that has */
  upper_m[strlen (upper_m) - 5] = 'A';

  assert_manifest_fails (v2, PINHOLE_ERROR_PROTOCOL, "version");
  assert_manifest_fails (bs, PINHOLE_ERROR_PROTOCOL, "block_size");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576}", PINHOLE_ERROR_PROTOCOL,
                         "entries");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":{}}",
                         PINHOLE_ERROR_PROTOCOL, "entries");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":[]}",
                         PINHOLE_ERROR_PROTOCOL, "nothing");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":[3]}",
                         PINHOLE_ERROR_PROTOCOL, "not an object");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":[{\"path\":\"a\"}]}",
                         PINHOLE_ERROR_PROTOCOL, "size");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":[{\"path\":\"a\","
                         "\"folder\":false}]}", PINHOLE_ERROR_PROTOCOL, "folder");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":[{\"path\":\"a\","
                         "\"folder\":true,\"size\":3}]}", PINHOLE_ERROR_PROTOCOL, "folder");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":[{\"path\":7,"
                         "\"folder\":true}]}", PINHOLE_ERROR_PROTOCOL, "path");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":[{\"path\":\"a\","
                         "\"size\":1,\"mtime\":0,\"sha256\":\"abc\"}]}", PINHOLE_ERROR_PROTOCOL,
                         "sha256");
  assert_manifest_fails (upper_m, PINHOLE_ERROR_PROTOCOL, "sha256");
  assert_manifest_fails (dup, PINHOLE_ERROR_PROTOCOL, "twice");
  assert_manifest_fails (below, PINHOLE_ERROR_PROTOCOL, "below");
  assert_manifest_fails (negative, PINHOLE_ERROR_PROTOCOL, "size");
  assert_manifest_fails (huge, PINHOLE_ERROR_PROTOCOL, "size");
  assert_manifest_fails (mtime, PINHOLE_ERROR_PROTOCOL, "mtime");
  assert_manifest_fails (float_size, PINHOLE_ERROR_PROTOCOL, "size");
  assert_manifest_fails ("[1]", PINHOLE_ERROR_PROTOCOL, "object");
  assert_manifest_fails ("{\"version\":1,\"block_size\":1048576,\"entries\":[{\"path\":"
                         "\"a\\u0000b\",\"folder\":true}]}", PINHOLE_ERROR_PROTOCOL, "NUL");
}

static void
test_limits (void)
{
  g_autoptr(PinholeManifest) m = pinhole_manifest_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) parsed = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GString) big = NULL;
  gsize len;

  /* one entry too many */
  for (int i = 0; i <= PINHOLE_MANIFEST_MAX_ENTRIES; i++)
    {
      g_autofree char *name = g_strdup_printf ("f%d", i);

      pinhole_manifest_add_file (m, name, 1, 0, zero_hash);
    }
  g_assert_false (pinhole_manifest_validate (m, &error));
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_clear_error (&error);
  text = pinhole_manifest_to_string (m, &len);
  parsed = pinhole_manifest_parse (text, len, &error);
  g_assert_null (parsed);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, "4096"));
  g_clear_error (&error);

  /* exactly the limit parses */
  g_ptr_array_remove_index (m->entries, m->entries->len - 1);
  g_clear_pointer (&text, g_free);
  text = pinhole_manifest_to_string (m, &len);
  parsed = pinhole_manifest_parse (text, len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pinhole_manifest_get_n_entries (parsed), ==, PINHOLE_MANIFEST_MAX_ENTRIES);

  /* over 1 MiB of text is refused before it is parsed */
  big = g_string_new ("{\"version\":1,\"block_size\":1048576,\"pad\":\"");
  while (big->len <= PINHOLE_MANIFEST_MAX_BYTES)
    g_string_append (big, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  g_string_append (big, "\",\"entries\":[{\"path\":\"a\",\"folder\":true}]}");
  g_clear_pointer (&parsed, pinhole_manifest_free);
  parsed = pinhole_manifest_parse (big->str, big->len, &error);
  g_assert_null (parsed);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT);
}

static void
test_truncated (void)
{
  g_autoptr(PinholeManifest) m = pinhole_manifest_new ();
  g_autofree char *text = NULL;
  gsize len;

  pinhole_manifest_add_file (m, "a/b.txt", 10, 5, zero_hash);
  pinhole_manifest_add_folder (m, "c");
  text = pinhole_manifest_to_string (m, &len);
  for (gsize n = 0; n < len; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PinholeManifest) cut = pinhole_manifest_parse (text, n, &error);

      g_assert_null (cut);
      g_assert_nonnull (error);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/transfer/manifest/round-trip", test_round_trip);
  g_test_add_func ("/transfer/manifest/hostile-paths", test_hostile_paths);
  g_test_add_func ("/transfer/manifest/hostile-reasons", test_hostile_reasons);
  g_test_add_func ("/transfer/manifest/hostile-in-manifest", test_hostile_in_manifest);
  g_test_add_func ("/transfer/manifest/good-paths", test_good_paths);
  g_test_add_func ("/transfer/manifest/long-paths", test_long_paths);
  g_test_add_func ("/transfer/manifest/malformed", test_malformed);
  g_test_add_func ("/transfer/manifest/limits", test_limits);
  g_test_add_func ("/transfer/manifest/truncated", test_truncated);
  return g_test_run ();
}
