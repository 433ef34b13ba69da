/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-manifest.c: a transfer's manifest (docs/transfer.md §2) as JSON through the stanza
 * parser's strict rules, and the checks every received path passes before anything uses it:
 * relative, no "." or "..", no controls, nothing Windows or macOS refuse, bounded sizes. */
#define G_LOG_DOMAIN "pinhole-transfer"

#include "pinhole-manifest.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "pinhole-error.h"
#include "pinhole-stanza.h"

static void
entry_free (gpointer data)
{
  PinholeManifestEntry *entry = data;

  g_free (entry->path);
  g_free (entry);
}

PinholeManifest *
pinhole_manifest_new (void)
{
  PinholeManifest *self = g_new0 (PinholeManifest, 1);

  self->entries = g_ptr_array_new_with_free_func (entry_free);
  return self;
}

void
pinhole_manifest_free (PinholeManifest *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->entries);
  g_free (self);
}

void
pinhole_manifest_add_file (PinholeManifest *self,
                           const char      *path,
                           guint64          size,
                           gint64           mtime,
                           const guint8    *sha256)
{
  PinholeManifestEntry *entry = g_new0 (PinholeManifestEntry, 1);

  entry->path = g_strdup (path);
  entry->size = size;
  entry->mtime = mtime;
  memcpy (entry->sha256, sha256, PINHOLE_MANIFEST_SHA256_BYTES);
  g_ptr_array_add (self->entries, entry);
}

void
pinhole_manifest_add_folder (PinholeManifest *self,
                             const char      *path)
{
  PinholeManifestEntry *entry = g_new0 (PinholeManifestEntry, 1);

  entry->path = g_strdup (path);
  entry->folder = TRUE;
  g_ptr_array_add (self->entries, entry);
}

guint
pinhole_manifest_get_n_entries (PinholeManifest *self)
{
  return self->entries->len;
}

/* Returns: (transfer none): entry @index, which must exist */
PinholeManifestEntry *
pinhole_manifest_get_entry (PinholeManifest *self,
                            guint            index)
{
  g_return_val_if_fail (index < self->entries->len, NULL);
  return g_ptr_array_index (self->entries, index);
}

guint64
pinhole_manifest_get_total_bytes (PinholeManifest *self)
{
  guint64 total = 0;

  for (guint i = 0; i < self->entries->len; i++)
    total += ((PinholeManifestEntry *) g_ptr_array_index (self->entries, i))->size;
  return total;
}

guint64
pinhole_manifest_entry_get_n_blocks (const PinholeManifestEntry *entry)
{
  if (entry->folder)
    return 0;
  return (entry->size + PINHOLE_MANIFEST_BLOCK_SIZE - 1) / PINHOLE_MANIFEST_BLOCK_SIZE;
}

/* ---- path rules (§2.1) ---- */

/* a path for an error message: controls and non-ASCII as escapes, never raw on a terminal */
static char *
quote_path (const char *path)
{
  g_autofree char *cut = g_strndup (path, 80);

  return g_strescape (cut, NULL);
}

static gboolean
is_reserved_on_windows (const char *name,
                        gsize       len)
{
  static const char *const reserved[] = { "CON", "PRN", "AUX", "NUL" };
  const char *dot = memchr (name, '.', len);
  gsize base = dot != NULL ? (gsize) (dot - name) : len;

  for (gsize i = 0; i < G_N_ELEMENTS (reserved); i++)
    if (base == 3 && g_ascii_strncasecmp (name, reserved[i], 3) == 0)
      return TRUE;
  /* COM1-COM9 and LPT1-LPT9 */
  return base == 4 && (g_ascii_strncasecmp (name, "COM", 3) == 0 ||
                       g_ascii_strncasecmp (name, "LPT", 3) == 0) &&
         name[3] >= '1' && name[3] <= '9';
}

/* Returns: a sentence for what is wrong with one component, or %NULL when it is fine */
static const char *
component_problem (const char *name,
                   gsize       len)
{
  const char *p;

  if (len == 0)
    return "has an empty component";
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return "has a \".\" or \"..\" component";
  if (len > PINHOLE_MANIFEST_MAX_NAME)
    return "has a component over 255 bytes";
  for (p = name; p < name + len; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
        return "has a control character";
      /* bidirectional overrides make a name display as another one */
      if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
        return "has a character that reorders how it displays";
      if (c < 0x80 && strchr ("<>:\"\\|?*", (int) c) != NULL)
        return "has a character Windows or macOS refuse in a name (< > : \" \\ | ? *)";
    }
  if (name[len - 1] == ' ' || name[len - 1] == '.')
    return "has a component that ends with a space or a dot";
  if (is_reserved_on_windows (name, len))
    return "has a component that Windows reserves (CON, PRN, AUX, NUL, COM1-9, LPT1-9)";
  if (len >= strlen (PINHOLE_PARTIAL_SUFFIX) &&
      memcmp (name + len - strlen (PINHOLE_PARTIAL_SUFFIX), PINHOLE_PARTIAL_SUFFIX,
              strlen (PINHOLE_PARTIAL_SUFFIX)) == 0)
    return "has a component that ends with " PINHOLE_PARTIAL_SUFFIX;
  return NULL;
}

/**
 * pinhole_manifest_check_path:
 * Returns: whether @path is a relative path that is safe to create on any system (§2.1);
 *   otherwise %FALSE with PINHOLE_ERROR_PROTOCOL and the path quoted with escapes
 */
gboolean
pinhole_manifest_check_path (const char *path,
                             GError    **error)
{
  gsize len = strlen (path);
  const char *problem = NULL;
  const char *start = path;
  guint depth = 0;

  if (len == 0)
    problem = "is empty";
  else if (len > PINHOLE_MANIFEST_MAX_PATH)
    problem = "is over 4096 bytes";
  else if (!g_utf8_validate_len (path, len, NULL))
    problem = "is not valid UTF-8";
  else if (path[0] == '/')
    problem = "is absolute";
  while (problem == NULL)
    {
      const char *slash = strchr (start, '/');
      gsize n = slash != NULL ? (gsize) (slash - start) : strlen (start);

      if (++depth > PINHOLE_MANIFEST_MAX_DEPTH)
        problem = "has more than 64 components";
      else
        problem = component_problem (start, n);
      if (slash == NULL)
        break;
      start = slash + 1;
    }
  if (problem != NULL)
    {
      g_autofree char *quoted = quote_path (path);

      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL, "the path \"%s\" %s", quoted,
                   problem);
      return FALSE;
    }
  return TRUE;
}

/* ---- the manifest as a whole ---- */

gboolean
pinhole_manifest_validate (PinholeManifest *self,
                           GError         **error)
{
  g_autoptr(GHashTable) kinds = NULL;   /* path -> GINT_TO_POINTER (1 file, 2 folder) */

  if (self->entries->len == 0)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "the manifest offers nothing");
      return FALSE;
    }
  if (self->entries->len > PINHOLE_MANIFEST_MAX_ENTRIES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "the manifest offers %u entries, at most %d allowed", self->entries->len,
                   PINHOLE_MANIFEST_MAX_ENTRIES);
      return FALSE;
    }

  kinds = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < self->entries->len; i++)
    {
      PinholeManifestEntry *entry = g_ptr_array_index (self->entries, i);

      if (!pinhole_manifest_check_path (entry->path, error))
        return FALSE;
      if (!entry->folder && entry->size > PINHOLE_MANIFEST_MAX_SIZE)
        {
          g_autofree char *quoted = quote_path (entry->path);

          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                       "\"%s\" is %" G_GUINT64_FORMAT " bytes, over the limit of 1 PiB", quoted,
                       entry->size);
          return FALSE;
        }
      if (!g_hash_table_insert (kinds, entry->path, GINT_TO_POINTER (entry->folder ? 2 : 1)))
        {
          g_autofree char *quoted = quote_path (entry->path);

          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "the path \"%s\" is offered twice", quoted);
          return FALSE;
        }
    }

  /* no entry may lie below a file: "a" the file and "a/b" cannot both exist */
  for (guint i = 0; i < self->entries->len; i++)
    {
      PinholeManifestEntry *entry = g_ptr_array_index (self->entries, i);
      g_autofree char *prefix = g_strdup (entry->path);
      char *slash;

      while ((slash = strrchr (prefix, '/')) != NULL)
        {
          *slash = '\0';
          if (GPOINTER_TO_INT (g_hash_table_lookup (kinds, prefix)) == 1)
            {
              g_autofree char *quoted = quote_path (entry->path);

              g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "the path \"%s\" lies below an offered file", quoted);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* Returns: whether @hex is 64 lowercase hex digits; then @out holds their 32 bytes */
gboolean
pinhole_sha256_from_hex (const char *hex,
                         guint8     *out)
{
  if (strlen (hex) != 2 * PINHOLE_MANIFEST_SHA256_BYTES)
    return FALSE;
  for (gsize i = 0; i < PINHOLE_MANIFEST_SHA256_BYTES; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      /* lowercase only: one spelling per hash */
      if (hi < 0 || lo < 0 || g_ascii_isupper (hex[2 * i]) || g_ascii_isupper (hex[2 * i + 1]))
        return FALSE;
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

static gboolean
parse_entry (PinholeManifest *self,
             JsonNode        *node,
             guint            index,
             GError         **error)
{
  JsonObject *object;
  const char *path;
  const char *hex;
  gint64 size, mtime;
  guint8 sha256[PINHOLE_MANIFEST_SHA256_BYTES];

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "manifest entry %u is not an object", index);
      return FALSE;
    }
  object = json_node_get_object (node);
  path = pinhole_stanza_require_string (object, "path", PINHOLE_MANIFEST_MAX_PATH, error);
  if (path == NULL)
    goto bad;
  if (json_object_has_member (object, "folder"))
    {
      if (!pinhole_stanza_get_flag (object, "folder"))
        {
          g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "\"folder\" is not true");
          goto bad;
        }
      if (json_object_has_member (object, "size") || json_object_has_member (object, "sha256"))
        {
          g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                               "a folder has a size or a hash");
          goto bad;
        }
      pinhole_manifest_add_folder (self, path);
      return TRUE;
    }
  if (!pinhole_stanza_require_int (object, "size", 0, (gint64) PINHOLE_MANIFEST_MAX_SIZE, &size,
                                   error) ||
      !pinhole_stanza_require_int (object, "mtime", G_MININT64, G_MAXINT64, &mtime, error))
    goto bad;
  hex = pinhole_stanza_require_string (object, "sha256", 64, error);
  if (hex == NULL)
    goto bad;
  if (!pinhole_sha256_from_hex (hex, sha256))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "\"sha256\" is not 64 lowercase hex digits");
      goto bad;
    }
  pinhole_manifest_add_file (self, path, (guint64) size, mtime, sha256);
  return TRUE;

bad:
  g_prefix_error (error, "manifest entry %u: ", index);
  return FALSE;
}

/* @out: 65 bytes: the 64 lowercase hex digits of @sha256 and a NUL */
void
pinhole_sha256_to_hex (const guint8 *sha256,
                       char         *out)
{
  static const char digits[] = "0123456789abcdef";

  for (gsize i = 0; i < PINHOLE_MANIFEST_SHA256_BYTES; i++)
    {
      out[2 * i] = digits[sha256[i] >> 4];
      out[2 * i + 1] = digits[sha256[i] & 0xf];
    }
  out[2 * PINHOLE_MANIFEST_SHA256_BYTES] = '\0';
}

/**
 * pinhole_manifest_parse:
 * Returns: (transfer full): the manifest, every rule of docs/transfer.md §2 checked; or %NULL
 *   with PINHOLE_ERROR_PROTOCOL (PINHOLE_ERROR_LIMIT for one too large or too long)
 */
PinholeManifest *
pinhole_manifest_parse (const char *text,
                        gsize       len,
                        GError    **error)
{
  g_autoptr(JsonObject) root = NULL;
  g_autoptr(PinholeManifest) self = NULL;
  JsonNode *entries;
  JsonArray *array;
  gint64 version, block_size;

  root = pinhole_stanza_parse_document ("manifest", text, len, PINHOLE_MANIFEST_MAX_BYTES,
                                        error);
  if (root == NULL)
    return NULL;
  if (!pinhole_stanza_require_int (root, "version", PINHOLE_MANIFEST_VERSION,
                                   PINHOLE_MANIFEST_VERSION, &version, error) ||
      !pinhole_stanza_require_int (root, "block_size", PINHOLE_MANIFEST_BLOCK_SIZE,
                                   PINHOLE_MANIFEST_BLOCK_SIZE, &block_size, error))
    {
      g_prefix_error (error, "manifest: ");
      return NULL;
    }
  entries = json_object_get_member (root, "entries");
  if (entries == NULL || !JSON_NODE_HOLDS_ARRAY (entries))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "manifest: \"entries\" is not an array");
      return NULL;
    }
  array = json_node_get_array (entries);
  if (json_array_get_length (array) > PINHOLE_MANIFEST_MAX_ENTRIES)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "the manifest offers %u entries, at most %d allowed",
                   json_array_get_length (array), PINHOLE_MANIFEST_MAX_ENTRIES);
      return NULL;
    }

  self = pinhole_manifest_new ();
  for (guint i = 0; i < json_array_get_length (array); i++)
    if (!parse_entry (self, json_array_get_element (array, i), i, error))
      return NULL;
  if (!pinhole_manifest_validate (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* Returns: (transfer full): the manifest as JSON, in the order of its entries */
char *
pinhole_manifest_to_string (PinholeManifest *self,
                            gsize           *out_len)
{
  g_autoptr(JsonObject) root = json_object_new ();
  JsonArray *array = json_array_new ();

  json_object_set_int_member (root, "version", PINHOLE_MANIFEST_VERSION);
  json_object_set_int_member (root, "block_size", PINHOLE_MANIFEST_BLOCK_SIZE);
  for (guint i = 0; i < self->entries->len; i++)
    {
      PinholeManifestEntry *entry = g_ptr_array_index (self->entries, i);
      JsonObject *object = json_object_new ();

      json_object_set_string_member (object, "path", entry->path);
      if (entry->folder)
        json_object_set_boolean_member (object, "folder", TRUE);
      else
        {
          char hex[2 * PINHOLE_MANIFEST_SHA256_BYTES + 1];

          pinhole_sha256_to_hex (entry->sha256, hex);
          json_object_set_int_member (object, "size", (gint64) entry->size);
          json_object_set_int_member (object, "mtime", entry->mtime);
          json_object_set_string_member (object, "sha256", hex);
        }
      json_array_add_object_element (array, object);
    }
  json_object_set_array_member (root, "entries", array);
  return pinhole_stanza_to_string (root, out_len);
}
