/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-stanza.c: libFuzzer harness for the rendezvous stanza codec: parse; on success read the
 * common members through the typed getters, re-serialise and parse again; and parse the same
 * bytes as a relay frame. */
#include "pinhole-stanza.h"
#include "pinhole-error.h"

#include <stdint.h>
#include <string.h>

static void
exercise_getters (JsonObject *stanza)
{
  static const char *const strings[] = {
    "user", "device", "channel", "message", "from", "from_device", "show", "password",
    "text", "condition", "relation", "to",
  };
  static const char *const ints[] = { "channel", "code", "ts", "stored", "protocol", "port" };
  static const char *const base64[] = { "sealed", "device_key", "token", "key" };
  const char *type = pinhole_stanza_get_type (stanza);
  const char *id = pinhole_stanza_get_id (stanza);
  const char *s;
  gint64 v;

  /* a parsed stanza always has a string type */
  g_assert (type != NULL);
  if (id != NULL)
    g_assert (g_utf8_validate (id, -1, NULL));

  for (gsize i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      g_autoptr(GError) error = NULL;

      s = pinhole_stanza_require_string (stanza, strings[i], 64, &error);
      g_assert ((s == NULL) == (error != NULL));
      if (s != NULL)
        {
          g_assert (strlen (s) <= 64);
          /* the checks themselves must answer, whatever the text */
          pinhole_user_name_is_valid (s);
          pinhole_device_name_is_valid (s);
        }
      g_clear_error (&error);
      s = pinhole_stanza_optional_string (stanza, strings[i], 8, &error);
      g_assert (s == NULL || strlen (s) <= 8);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (ints); i++)
    {
      g_autoptr(GError) error = NULL;

      v = -1;
      if (pinhole_stanza_require_int (stanza, ints[i], 1, G_MAXUINT32, &v, &error))
        g_assert (v >= 1 && v <= G_MAXUINT32);
      else
        g_assert (error != NULL && v == -1);
      g_clear_error (&error);
      if (pinhole_stanza_require_int (stanza, ints[i], G_MININT64, G_MAXINT64, &v, &error))
        {
          int code = (int) CLAMP (v, -1000, 1000);
          g_autoptr(GError) mapped = NULL;

          pinhole_stanza_error_condition (code);
          pinhole_stanza_error_to_gerror (code, "t", &mapped);
          g_assert (mapped != NULL && mapped->domain == PINHOLE_ERROR);
        }
    }

  for (gsize i = 0; i < G_N_ELEMENTS (base64); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) any = pinhole_stanza_require_base64 (stanza, base64[i], 0, 64 * 1024,
                                                              &error);
      g_autoptr(GBytes) key = NULL;

      g_assert ((any == NULL) == (error != NULL));
      g_clear_error (&error);
      key = pinhole_stanza_require_base64 (stanza, base64[i], 32, 32, &error);
      g_assert ((key == NULL) == (error != NULL));
      if (key != NULL)
        g_assert (g_bytes_get_size (key) == 32);
      /* what decodes, encodes back to the same bytes */
      if (any != NULL)
        {
          g_autoptr(JsonObject) copy = pinhole_stanza_new ("t", NULL);
          g_autoptr(GBytes) back = NULL;

          pinhole_stanza_set_base64 (copy, "b", any);
          back = pinhole_stanza_require_base64 (copy, "b", 0, 64 * 1024, NULL);
          g_assert (back != NULL && g_bytes_equal (back, any));
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) stanza = NULL;

  stanza = pinhole_stanza_parse ((const char *) data, size, &error);
  if (stanza == NULL)
    g_assert (error != NULL && error->domain == PINHOLE_ERROR);
  else
    {
      g_autoptr(JsonObject) again = NULL;
      g_autofree char *text = NULL;
      g_autofree char *text_again = NULL;
      gsize len = 0;

      g_assert (error == NULL);
      exercise_getters (stanza);

      /* what parsed serialises to a stanza that parses the same */
      text = pinhole_stanza_to_string (stanza, &len);
      again = pinhole_stanza_parse (text, len, &error);
      if (again == NULL)
        g_error ("re-serialised stanza does not parse: %s\n%s", error->message, text);
      g_assert (g_strcmp0 (pinhole_stanza_get_type (again), pinhole_stanza_get_type (stanza))
                == 0);
      g_assert (g_strcmp0 (pinhole_stanza_get_id (again), pinhole_stanza_get_id (stanza)) == 0);
      text_again = pinhole_stanza_to_string (again, NULL);
      g_assert (strcmp (text, text_again) == 0);
    }

  /* the same bytes as a binary relay frame */
  {
    g_autoptr(GBytes) frame = g_bytes_new_static (data, size);
    g_autoptr(GBytes) payload = NULL;
    g_autoptr(GError) frame_error = NULL;
    guint32 channel = 0;

    if (pinhole_relay_frame_parse (frame, &channel, &payload, &frame_error))
      {
        g_autoptr(GBytes) rebuilt = NULL;

        g_assert (frame_error == NULL);
        g_assert (g_bytes_get_size (payload) == size - PINHOLE_RELAY_HEADER_BYTES);
        rebuilt = pinhole_relay_frame_build (channel, g_bytes_get_data (payload, NULL),
                                             g_bytes_get_size (payload));
        g_assert (g_bytes_equal (rebuilt, frame));
      }
    else
      g_assert (frame_error != NULL &&
                (size < PINHOLE_RELAY_HEADER_BYTES ||
                 size - PINHOLE_RELAY_HEADER_BYTES > PINHOLE_RELAY_MAX_PAYLOAD));
  }
  return 0;
}
