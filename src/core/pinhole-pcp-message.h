/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-pcp-message.h: the Port Control Protocol codec (RFC 6887): MAP and ANNOUNCE
 * requests, their responses checked against the request, and the epoch rule (§8.5). Pure
 * functions, no I/O: the port mapper's PCP backend (pinhole-port-mapper-pcp.c) does that.
 * Our own code because Debian ships no PCP client library (libnatpmp and miniupnpc speak
 * NAT-PMP and UPnP-IGD only). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PINHOLE_PCP_SERVER_PORT   5351   /* RFC 6887 §19.1 */
#define PINHOLE_PCP_VERSION       2
/* RFC 6887 §7: "PCP messages MUST be a multiple of 4 octets and ... at most 1100 octets" */
#define PINHOLE_PCP_MAX_MESSAGE   1100
#define PINHOLE_PCP_HEADER_SIZE   24
#define PINHOLE_PCP_MAP_SIZE      36
#define PINHOLE_PCP_MAP_REQUEST_SIZE (PINHOLE_PCP_HEADER_SIZE + PINHOLE_PCP_MAP_SIZE)
#define PINHOLE_PCP_NONCE_SIZE    12

typedef enum
{
  PINHOLE_PCP_OPCODE_ANNOUNCE = 0,
  PINHOLE_PCP_OPCODE_MAP      = 1,
} PinholePcpOpcode;

/* RFC 6887 §7.4 */
typedef enum
{
  PINHOLE_PCP_RESULT_SUCCESS                 = 0,
  PINHOLE_PCP_RESULT_UNSUPP_VERSION          = 1,
  PINHOLE_PCP_RESULT_NOT_AUTHORIZED          = 2,
  PINHOLE_PCP_RESULT_MALFORMED_REQUEST       = 3,
  PINHOLE_PCP_RESULT_UNSUPP_OPCODE           = 4,
  PINHOLE_PCP_RESULT_UNSUPP_OPTION           = 5,
  PINHOLE_PCP_RESULT_MALFORMED_OPTION        = 6,
  PINHOLE_PCP_RESULT_NETWORK_FAILURE         = 7,
  PINHOLE_PCP_RESULT_NO_RESOURCES            = 8,
  PINHOLE_PCP_RESULT_UNSUPP_PROTOCOL         = 9,
  PINHOLE_PCP_RESULT_USER_EX_QUOTA           = 10,
  PINHOLE_PCP_RESULT_CANNOT_PROVIDE_EXTERNAL = 11,
  PINHOLE_PCP_RESULT_ADDRESS_MISMATCH        = 12,
  PINHOLE_PCP_RESULT_EXCESSIVE_REMOTE_PEERS  = 13,
} PinholePcpResult;

/* IANA protocol numbers, as MAP carries them */
#define PINHOLE_PCP_PROTOCOL_TCP 6
#define PINHOLE_PCP_PROTOCOL_UDP 17

/**
 * PinholePcpMap:
 * The MAP opcode's fields (RFC 6887 §11.1); addresses are 16 bytes, IPv4 as IPv4-mapped
 * IPv6 (::ffff:a.b.c.d, §5). In a request @external_port and @external_address are the
 * suggestion (zero: none); in a response, what the server assigned.
 */
typedef struct
{
  guint8  nonce[PINHOLE_PCP_NONCE_SIZE];
  guint8  protocol;
  guint16 internal_port;
  guint16 external_port;
  guint8  external_address[16];
} PinholePcpMap;

/**
 * PinholePcpResponse:
 * A response that passed every check of RFC 6887 §8.3 and, for MAP, §11.4.
 */
typedef struct
{
  PinholePcpOpcode opcode;
  guint8           result;       /* PinholePcpResult; other values are kept as they came */
  guint32          lifetime_s;   /* granted, or on error how long not to retry (§7.2) */
  guint32          epoch_s;
  PinholePcpMap    map;          /* MAP only */
} PinholePcpResponse;

/* writes a MAP request of PINHOLE_PCP_MAP_REQUEST_SIZE bytes into out; lifetime 0 deletes
 * the mapping (§15) */
void         pinhole_pcp_encode_map      (guint8               out[PINHOLE_PCP_MAP_REQUEST_SIZE],
                                          guint32              lifetime_s,
                                          const guint8         client_address[16],
                                          const PinholePcpMap *map);
/* writes an ANNOUNCE request of PINHOLE_PCP_HEADER_SIZE bytes (§14.1) */
void         pinhole_pcp_encode_announce (guint8               out[PINHOLE_PCP_HEADER_SIZE],
                                          const guint8         client_address[16]);

/* Decodes a response to request (nullable: an ANNOUNCE is expected, or any unsolicited
 * ANNOUNCE). PINHOLE_ERROR_PROTOCOL for what §8.3 says to drop silently (short, not a
 * multiple of 4, too long, a request, wrong opcode, truncated or unknown mandatory option,
 * a MAP answer to another nonce, protocol or port); PINHOLE_ERROR_NOT_ALLOWED when the
 * server speaks another version (a NAT-PMP server answers version 0). A response with a
 * result code other than SUCCESS decodes: the caller reads out->result. */
gboolean     pinhole_pcp_decode_response (const guint8         *data,
                                          gsize                 len,
                                          const PinholePcpMap  *request,
                                          PinholePcpResponse   *out,
                                          GError              **error);

/* "NO_RESOURCES", "result 99" for an unknown one */
const char  *pinhole_pcp_result_to_string (guint8 result);

/* a result worth trying again later (§7.4: short-term errors), versus a refusal */
gboolean     pinhole_pcp_result_is_transient (guint8 result);

/**
 * PinholePcpEpoch:
 * What a client remembers of the server's epoch (RFC 6887 §8.5); zeroed: nothing yet.
 */
typedef struct
{
  gboolean known;
  guint32  server_s;      /* the server's epoch in its last response */
  gint64   client_us;     /* our monotonic time when it came */
} PinholePcpEpoch;

/* Checks a response's epoch against the previous one and remembers it. FALSE when the
 * server lost its state (rebooted, or its epoch jumped: §8.5), so its mappings must be made
 * anew. */
gboolean     pinhole_pcp_epoch_update     (PinholePcpEpoch *epoch,
                                           guint32          server_s,
                                           gint64           client_us);

G_END_DECLS
