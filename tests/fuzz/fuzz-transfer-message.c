/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-transfer-message.c: libFuzzer harness for the frames of a transfer (docs/transfer.md
 * §3-4): the bytes as a message of channel 2 (what parses stays within its bounds and encodes
 * to a message that parses the same) and as a data frame. */
#include "pinhole-transfer-message.h"
#include "pinhole-error.h"
#include "pinhole-session.h"

#include <stdint.h>
#include <string.h>

static void
check_bounds (const PinholeTransferMessage *m)
{
  g_assert (pinhole_transfer_id_is_valid (m->id));
  switch (m->type)
    {
    case PINHOLE_TRANSFER_MESSAGE_OFFER:
      g_assert (m->manifest_size <= PINHOLE_MANIFEST_MAX_BYTES);
      g_assert (m->offset + g_bytes_get_size (m->part) <= m->manifest_size);
      g_assert (g_bytes_get_size (m->part) <= PINHOLE_TRANSFER_MAX_PART);
      g_assert (m->files >= 1 && m->files <= PINHOLE_MANIFEST_MAX_ENTRIES);
      break;
    case PINHOLE_TRANSFER_MESSAGE_ACCEPT:
      g_assert (m->entries->len >= 1 && m->entries->len <= PINHOLE_MANIFEST_MAX_ENTRIES);
      for (guint i = 0; i < m->entries->len; i++)
        g_assert (g_array_index (m->entries, guint32, i) < PINHOLE_MANIFEST_MAX_ENTRIES);
      /* fall through */
    case PINHOLE_TRANSFER_MESSAGE_READY:
      g_assert (m->window >= 1 && m->window <= PINHOLE_TRANSFER_MAX_WINDOW);
      break;
    case PINHOLE_TRANSFER_MESSAGE_HAVE:
      g_assert (m->entry < PINHOLE_MANIFEST_MAX_ENTRIES);
      g_assert (m->done || (m->first % 8 == 0 && m->blocks != NULL &&
                            g_bytes_get_size (m->blocks) <= PINHOLE_TRANSFER_MAX_HAVE));
      break;
    case PINHOLE_TRANSFER_MESSAGE_SENDING:
      g_assert (m->channel >= PINHOLE_SESSION_CHANNEL_BULK && m->channel <= 255);
      break;
    case PINHOLE_TRANSFER_MESSAGE_FAILED:
      g_assert (m->reason != NULL && strlen (m->reason) <= PINHOLE_TRANSFER_MAX_REASON);
      break;
    default:
      break;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) payload = g_bytes_new_static (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeTransferMessage) m = pinhole_transfer_message_parse (payload, &error);
  PinholeTransferData d;

  if (m == NULL)
    g_assert (error != NULL && error->domain == PINHOLE_ERROR);
  else
    {
      g_autoptr(GBytes) encoded = pinhole_transfer_message_encode (m);
      g_autoptr(PinholeTransferMessage) again = NULL;
      g_autoptr(GBytes) encoded_again = NULL;

      check_bounds (m);
      again = pinhole_transfer_message_parse (encoded, &error);
      if (again == NULL)
        g_error ("re-encoded transfer message does not parse: %s", error->message);
      encoded_again = pinhole_transfer_message_encode (again);
      g_assert (g_bytes_equal (encoded, encoded_again));
    }

  if (pinhole_transfer_data_parse (payload, &d, NULL))
    {
      g_autoptr(GBytes) rebuilt = NULL;

      g_assert (d.entry < PINHOLE_MANIFEST_MAX_ENTRIES);
      if (d.kind == PINHOLE_TRANSFER_DATA_BLOCK)
        rebuilt = pinhole_transfer_data_build_block (d.entry, d.block, d.sha256);
      else if (d.len <= PINHOLE_SESSION_MAX_PAYLOAD - PINHOLE_TRANSFER_DATA_HEADER)
        rebuilt = pinhole_transfer_data_build_data (d.entry, d.offset, d.data, d.len);
      if (rebuilt != NULL)
        g_assert (g_bytes_equal (rebuilt, payload));
    }
  return 0;
}
