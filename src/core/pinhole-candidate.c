/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-candidate.c: candidates, their RFC 8445 §5.1.2 priorities, and their validated JSON
 * form. A peer's candidates are network input: every field is checked. */
#define G_LOG_DOMAIN "pinhole-agent"

#include "pinhole-candidate.h"
#include "pinhole-error.h"
#include "pinhole-stanza.h"

#include <string.h>

static const char *const type_names[] = {
  [PINHOLE_CANDIDATE_HOST] = "host",
  [PINHOLE_CANDIDATE_MAPPED] = "mapped",
  [PINHOLE_CANDIDATE_SRFLX] = "srflx",
  [PINHOLE_CANDIDATE_PRFLX] = "prflx",
};

/* RFC 8445 §5.1.2.2 type preferences; a router mapping needs no punching, so it ranks above
 * the reflexive types */
static const guint type_preference[] = {
  [PINHOLE_CANDIDATE_HOST] = 126,
  [PINHOLE_CANDIDATE_MAPPED] = 120,
  [PINHOLE_CANDIDATE_SRFLX] = 100,
  [PINHOLE_CANDIDATE_PRFLX] = 110,
};

PinholeCandidate *
pinhole_candidate_new (PinholeCandidateType  type,
                       PinholeTransport      transport,
                       GInetSocketAddress   *address,
                       PinholePathKind       via)
{
  PinholeCandidate *c = g_new0 (PinholeCandidate, 1);

  c->type = type;
  c->transport = transport;
  c->address = g_object_ref (address);
  c->via = via;
  c->priority = pinhole_candidate_compute_priority (type, transport, 65535);
  return c;
}

PinholeCandidate *
pinhole_candidate_copy (const PinholeCandidate *candidate)
{
  PinholeCandidate *c = g_memdup2 (candidate, sizeof *candidate);

  g_object_ref (c->address);
  return c;
}

void
pinhole_candidate_free (PinholeCandidate *candidate)
{
  g_clear_object (&candidate->address);
  g_free (candidate);
}

static gboolean
socket_address_equal (GInetSocketAddress *a,
                       GInetSocketAddress *b)
{
  return g_inet_socket_address_get_port (a) == g_inet_socket_address_get_port (b) &&
         g_inet_address_equal (g_inet_socket_address_get_address (a),
                               g_inet_socket_address_get_address (b));
}

/* the same transport address (type and priority aside) */
gboolean
pinhole_candidate_equal (const PinholeCandidate *a,
                         const PinholeCandidate *b)
{
  return a->transport == b->transport && socket_address_equal (a->address, b->address);
}

const char *
pinhole_candidate_type_to_string (PinholeCandidateType type)
{
  g_return_val_if_fail (type <= PINHOLE_CANDIDATE_PRFLX, NULL);
  return type_names[type];
}

const char *
pinhole_transport_to_string (PinholeTransport transport)
{
  return transport == PINHOLE_TRANSPORT_TCP ? "tcp" : "udp";
}

/* Returns: (transfer full): "203.0.113.7:41000" or "[2001:db8::1]:41000" */
char *
pinhole_socket_address_to_string (GSocketAddress *address)
{
  GInetSocketAddress *inet;
  g_autofree char *host = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("?");
  inet = G_INET_SOCKET_ADDRESS (address);
  host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, g_inet_socket_address_get_port (inet));
  return g_strdup_printf ("%s:%u", host, g_inet_socket_address_get_port (inet));
}

/* Returns: (transfer full): "udp srflx 203.0.113.7:41000" */
char *
pinhole_candidate_to_string (const PinholeCandidate *candidate)
{
  g_autofree char *address = pinhole_socket_address_to_string (G_SOCKET_ADDRESS (
    candidate->address));

  if (candidate->type == PINHOLE_CANDIDATE_MAPPED)
    return g_strdup_printf ("%s mapped (%s) %s", pinhole_transport_to_string (candidate->transport),
                            pinhole_path_kind_to_string (candidate->via), address);
  return g_strdup_printf ("%s %s %s", pinhole_transport_to_string (candidate->transport),
                          type_names[candidate->type], address);
}

/* RFC 8445 §5.1.2.1 with one component; TCP ranks just below UDP (RFC 6544 §4.2 spirit) */
guint32
pinhole_candidate_compute_priority (PinholeCandidateType type,
                                    PinholeTransport     transport,
                                    guint                local_preference)
{
  guint32 local = MIN (local_preference, 65535u);

  if (transport == PINHOLE_TRANSPORT_TCP)
    local /= 2;
  return (guint32) type_preference[type] << 24 | local << 8 | (256 - 1);
}

/* the IPv4 address in an IPv4 one or an IPv4-mapped IPv6 one (::ffff:a.b.c.d) */
static gboolean
get_ipv4 (GInetAddress *address,
          guint8        out[4])
{
  const guint8 *bytes = g_inet_address_to_bytes (address);
  static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    {
      memcpy (out, bytes, 4);
      return TRUE;
    }
  if (memcmp (bytes, mapped, sizeof mapped) == 0)
    {
      memcpy (out, bytes + 12, 4);
      return TRUE;
    }
  return FALSE;
}

/**
 * pinhole_candidate_is_peer_address:
 * @allow_loopback: the peer is known to be on this machine
 * @out_reason: (out) (optional): why not, for the log
 *
 * Whether a candidate the peer sent names an address a peer can have (docs/protocol.md §8):
 * a contact must not make us send checks or connect to our own loopback, to the link-local
 * services next to us, to a broadcast or multicast group, or to port 0. Private ranges
 * (10/8, 172.16/12, 192.168/16) are allowed: a path on the same LAN needs them. Link-local
 * addresses are refused: we cannot tell that the peer is on the same link (our own gatherer
 * offers none either).
 */
gboolean
pinhole_candidate_is_peer_address (const PinholeCandidate *candidate,
                                   gboolean                allow_loopback,
                                   const char            **out_reason)
{
  GInetAddress *address = g_inet_socket_address_get_address (candidate->address);
  const char *reason = NULL;
  guint8 v4[4];

  if (g_inet_socket_address_get_port (candidate->address) == 0)
    reason = "port 0";
  else if (get_ipv4 (address, v4))
    {
      if (v4[0] == 0)
        reason = "unspecified";   /* 0/8: "this network", never a destination */
      else if (v4[0] == 127)
        reason = allow_loopback ? NULL : "loopback";
      else if (v4[0] == 169 && v4[1] == 254)
        reason = "link-local";
      else if (v4[0] >= 224 && v4[0] <= 239)
        reason = "multicast";
      else if (v4[0] == 255 && v4[1] == 255 && v4[2] == 255 && v4[3] == 255)
        reason = "broadcast";
    }
  else if (g_inet_address_get_is_any (address))
    reason = "unspecified";
  else if (g_inet_address_get_is_loopback (address))
    reason = allow_loopback ? NULL : "loopback";
  else if (g_inet_address_get_is_link_local (address))
    reason = "link-local";
  else if (g_inet_address_get_is_multicast (address))
    reason = "multicast";

  if (out_reason != NULL)
    *out_reason = reason;
  return reason == NULL;
}

/* Returns: (transfer full): {"type","transport","address","port","priority"[, "via"]} */
JsonObject *
pinhole_candidate_to_json (const PinholeCandidate *candidate)
{
  JsonObject *o = json_object_new ();
  g_autofree char *host =
    g_inet_address_to_string (g_inet_socket_address_get_address (candidate->address));

  json_object_set_string_member (o, "type", type_names[candidate->type]);
  json_object_set_string_member (o, "transport",
                                 pinhole_transport_to_string (candidate->transport));
  json_object_set_string_member (o, "address", host);
  json_object_set_int_member (o, "port", g_inet_socket_address_get_port (candidate->address));
  json_object_set_int_member (o, "priority", candidate->priority);
  if (candidate->type == PINHOLE_CANDIDATE_MAPPED)
    json_object_set_string_member (o, "via", pinhole_path_kind_to_string (candidate->via));
  return o;
}

/**
 * pinhole_candidate_from_json:
 * The syntax only: whether the address may be used is pinhole_candidate_is_peer_address().
 * Returns: (transfer full): the candidate, or %NULL with PINHOLE_ERROR_PROTOCOL naming the field
 */
PinholeCandidate *
pinhole_candidate_from_json (JsonObject *object,
                             GError    **error)
{
  const char *type, *transport, *host, *via = NULL;
  gint64 port, priority;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocketAddress) socket_address = NULL;
  PinholeCandidate *c;
  guint t;

  if ((type = pinhole_stanza_require_string (object, "type", 16, error)) == NULL ||
      (transport = pinhole_stanza_require_string (object, "transport", 8, error)) == NULL ||
      (host = pinhole_stanza_require_string (object, "address", 64, error)) == NULL ||
      !pinhole_stanza_require_int (object, "port", 0, 65535, &port, error) ||
      !pinhole_stanza_require_int (object, "priority", 1, G_MAXUINT32, &priority, error))
    return NULL;
  for (t = 0; t < G_N_ELEMENTS (type_names); t++)
    if (strcmp (type, type_names[t]) == 0)
      break;
  if (t == G_N_ELEMENTS (type_names))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "candidate type \"%s\" is unknown", type);
      return NULL;
    }
  if (strcmp (transport, "udp") != 0 && strcmp (transport, "tcp") != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "candidate transport \"%s\" is neither udp nor tcp", transport);
      return NULL;
    }
  address = g_inet_address_new_from_string (host);
  if (address == NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "candidate address \"%s\" is not an IP address", host);
      return NULL;
    }
  if (t == PINHOLE_CANDIDATE_MAPPED)
    {
      PinholePathKind kind;

      via = pinhole_stanza_require_string (object, "via", 16, error);
      if (via == NULL)
        return NULL;
      if (!pinhole_path_kind_from_string (via, &kind) ||
          (kind != PINHOLE_PATH_KIND_UPNP && kind != PINHOLE_PATH_KIND_NAT_PMP &&
           kind != PINHOLE_PATH_KIND_PCP))
        {
          g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "mapped candidate \"via\" is \"%s\", not upnp, pcp or nat-pmp", via);
          return NULL;
        }
    }
  socket_address = g_inet_socket_address_new (address, (guint16) port);
  c = pinhole_candidate_new ((PinholeCandidateType) t,
                             strcmp (transport, "tcp") == 0 ? PINHOLE_TRANSPORT_TCP
                                                            : PINHOLE_TRANSPORT_UDP,
                             G_INET_SOCKET_ADDRESS (socket_address), PINHOLE_PATH_KIND_LAN);
  if (via != NULL)
    pinhole_path_kind_from_string (via, &c->via);
  c->priority = (guint32) priority;
  return c;
}

/* 32 upper-case hex pairs joined by colons */
static gboolean
fingerprint_valid (const char *text)
{
  if (strlen (text) != 32 * 3 - 1)
    return FALSE;
  for (guint i = 0; text[i] != '\0'; i++)
    {
      if (i % 3 == 2 ? text[i] != ':'
                     : !(g_ascii_isdigit (text[i]) || (text[i] >= 'A' && text[i] <= 'F')))
        return FALSE;
    }
  return TRUE;
}

gboolean
pinhole_candidates_quic_fingerprint (JsonObject   *message,
                                     const char  **out,
                                     GError      **error)
{
  const char *text;

  *out = NULL;
  if (!json_object_has_member (message, "quic"))
    return TRUE;
  text = pinhole_stanza_require_string (message, "quic", 128, error);
  if (text == NULL)
    return FALSE;
  if (!fingerprint_valid (text))
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "\"quic\" is not a SHA-256 fingerprint");
      return FALSE;
    }
  *out = text;
  return TRUE;
}
