/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-manifest.c: libFuzzer harness for the transfer manifest (docs/transfer.md §2): parse;
 * what parses passes every name rule again, re-serialises to a manifest that parses the same,
 * and stays within the limits. The same bytes also go through the path check alone. */
#include "pinhole-manifest.h"
#include "pinhole-error.h"

#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeManifest) m = pinhole_manifest_parse ((const char *) data, size, &error);

  if (m == NULL)
    g_assert (error != NULL && error->domain == PINHOLE_ERROR);
  else
    {
      g_autoptr(PinholeManifest) again = NULL;
      g_autofree char *text = NULL;
      g_autofree char *text_again = NULL;
      gsize len = 0;

      g_assert (error == NULL);
      g_assert (pinhole_manifest_get_n_entries (m) >= 1 &&
                pinhole_manifest_get_n_entries (m) <= PINHOLE_MANIFEST_MAX_ENTRIES);
      for (guint i = 0; i < pinhole_manifest_get_n_entries (m); i++)
        {
          PinholeManifestEntry *e = pinhole_manifest_get_entry (m, i);
          g_auto(GStrv) parts = g_strsplit (e->path, "/", -1);

          g_assert (pinhole_manifest_check_path (e->path, NULL));
          for (guint p = 0; parts[p] != NULL; p++)
            g_assert (parts[p][0] != '\0' && strcmp (parts[p], ".") != 0 &&
                      strcmp (parts[p], "..") != 0 && strlen (parts[p]) <= 255);
          g_assert (e->size <= PINHOLE_MANIFEST_MAX_SIZE);
          g_assert (!e->folder || e->size == 0);
        }
      text = pinhole_manifest_to_string (m, &len);
      again = pinhole_manifest_parse (text, len, &error);
      if (again == NULL)
        g_error ("re-serialised manifest does not parse: %s", error->message);
      text_again = pinhole_manifest_to_string (again, NULL);
      g_assert (strcmp (text, text_again) == 0);
    }

  /* the bytes as one path */
  if (size <= PINHOLE_MANIFEST_MAX_PATH + 16)
    {
      g_autofree char *path = g_strndup ((const char *) data, size);
      g_autoptr(GError) path_error = NULL;

      if (pinhole_manifest_check_path (path, &path_error))
        {
          g_assert (path_error == NULL);
          g_assert (g_utf8_validate (path, -1, NULL));
          g_assert (path[0] != '/' && strchr (path, '\n') == NULL && strchr (path, 27) == NULL);
        }
      else
        g_assert (path_error != NULL && path_error->domain == PINHOLE_ERROR);
    }
  return 0;
}
