/* SPDX-License-Identifier: GPL-3.0-or-later
 * fuzz-pcp-message.c: libFuzzer harness for the PCP codec: decode as a MAP answer and as an
 * ANNOUNCE; what decodes as a MAP answer matches the request's nonce, protocol and port, and
 * its epoch goes through the §8.5 rule without harm. */
#include "pinhole-pcp-message.h"

#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  PinholePcpMap map = { .nonce = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 },
                        .protocol = PINHOLE_PCP_PROTOCOL_UDP, .internal_port = 41000 };
  PinholePcpResponse resp;
  PinholePcpEpoch epoch = { 0 };
  GError *error = NULL;

  if (pinhole_pcp_decode_response (data, size, &map, &resp, &error))
    {
      g_assert (error == NULL);
      g_assert (size >= PINHOLE_PCP_HEADER_SIZE && size <= PINHOLE_PCP_MAX_MESSAGE);
      g_assert (size % 4 == 0);
      if (resp.opcode == PINHOLE_PCP_OPCODE_MAP)
        {
          g_assert (memcmp (resp.map.nonce, map.nonce, sizeof map.nonce) == 0);
          g_assert (resp.map.protocol == map.protocol);
          g_assert (resp.map.internal_port == map.internal_port);
        }
      g_assert (pinhole_pcp_result_to_string (resp.result) != NULL);
      pinhole_pcp_epoch_update (&epoch, resp.epoch_s, 0);
      pinhole_pcp_epoch_update (&epoch, resp.epoch_s, 1);
    }
  else
    {
      g_assert (error != NULL);
      g_clear_error (&error);
    }

  if (pinhole_pcp_decode_response (data, size, NULL, &resp, &error))
    g_assert (resp.opcode == PINHOLE_PCP_OPCODE_ANNOUNCE);
  else
    g_clear_error (&error);
  return 0;
}
