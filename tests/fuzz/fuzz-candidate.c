/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-candidate.c: libFuzzer harness for the control messages a peer sends inside a session
 * (docs/protocol.md §8): the JSON object, its QUIC fingerprint, then each candidate, which
 * must survive a round trip unchanged. */
#include <stdint.h>
#include <string.h>

#include "pinhole-candidate.h"
#include "pinhole-stanza.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(JsonObject) message = pinhole_stanza_parse_object ((const char *) data, size, NULL);
  JsonNode *list;
  const char *quic = NULL;

  if (message == NULL)
    return 0;
  pinhole_stanza_optional_string (message, "t", 16, NULL);
  /* an accepted fingerprint is one a certificate could have: 95 characters */
  if (pinhole_candidates_quic_fingerprint (message, &quic, NULL) && quic != NULL &&
      strlen (quic) != 95)
    __builtin_trap ();
  list = json_object_get_member (message, "candidates");
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    return 0;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (list)) && i < 64; i++)
    {
      JsonNode *item = json_array_get_element (json_node_get_array (list), i);
      g_autoptr(PinholeCandidate) c = NULL;
      g_autoptr(PinholeCandidate) again = NULL;
      g_autoptr(JsonObject) json = NULL;
      g_autofree char *text = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        continue;
      c = pinhole_candidate_from_json (json_node_get_object (item), NULL);
      if (c == NULL)
        continue;
      text = pinhole_candidate_to_string (c);
      json = pinhole_candidate_to_json (c);
      again = pinhole_candidate_from_json (json, NULL);
      if (again == NULL || !pinhole_candidate_equal (c, again) || again->type != c->type ||
          again->priority != c->priority)
        __builtin_trap ();
    }
  return 0;
}
