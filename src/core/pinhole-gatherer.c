/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-gatherer.c: gathers candidates in parallel, each source with its own deadline, so
 * that host candidates are there at once and the slowest router never holds up the rest:
 * interface addresses (getifaddrs), STUN over UDP from the shared socket to the server's two
 * ports (the second tells endpoint-independent from endpoint-dependent mapping, RFC 5780
 * §4.3), STUN over TCP from the shared TCP port, and UDP and TCP port mappings. */
#define G_LOG_DOMAIN "pinhole-gatherer"

#include "pinhole-gatherer.h"
#include "pinhole-enum-strings.h"
#include "pinhole-error.h"
#include "pinhole-stun-client.h"

#include <glib/gi18n-lib.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#define STUN_RTO_MS        200
#define STUN_TRIES         5
#define STUN_TCP_TIMEOUT_MS 3000
#define MAPPING_LIFETIME_S 3600

struct _PinholeGatherer
{
  GObject            parent_instance;

  /* owned */
  PinholeEndpoint   *endpoint;
  PinholePortMapper *mapper;       /* nullable */
  GCancellable      *cancellable;  /* of the current round */
  GPtrArray         *candidates;   /* PinholeCandidate */
  char              *stun_host;
  GInetAddress      *stun_address;
  GInetSocketAddress *mapped_main;  /* what STUN saw over UDP, main and alternate port */
  GInetSocketAddress *mapped_alt;
  char              *portmap_reason;

  guint16            stun_port;
  guint16            stun_alt_port;
  guint              pending;
  gboolean           done;
  gboolean           udp_works;
  gboolean           tcp_works;
  PinholeNatMapping  nat_mapping;
};

G_DEFINE_FINAL_TYPE (PinholeGatherer, pinhole_gatherer, G_TYPE_OBJECT)

enum { SIGNAL_CANDIDATE_ADDED, SIGNAL_DONE, N_SIGNALS };
static guint signals[N_SIGNALS];

const char *
pinhole_nat_mapping_to_string (PinholeNatMapping mapping)
{
  return pinhole_enum_to_sentence (PINHOLE_TYPE_NAT_MAPPING, mapping);
}

/* ---- bookkeeping ---- */

static gboolean
is_host_address (PinholeGatherer    *self,
                 GInetSocketAddress *address)
{
  GInetAddress *ip = g_inet_socket_address_get_address (address);

  for (guint i = 0; i < self->candidates->len; i++)
    {
      PinholeCandidate *c = g_ptr_array_index (self->candidates, i);

      if (c->type == PINHOLE_CANDIDATE_HOST &&
          g_inet_address_equal (g_inet_socket_address_get_address (c->address), ip))
        return TRUE;
    }
  return FALSE;
}

static void
add_candidate (PinholeGatherer      *self,
               PinholeCandidateType  type,
               PinholeTransport      transport,
               GInetSocketAddress   *address,
               PinholePathKind       via,
               guint                 local_preference)
{
  g_autoptr(PinholeCandidate) c = pinhole_candidate_new (type, transport, address, via);
  g_autofree char *text = NULL;

  c->priority = pinhole_candidate_compute_priority (type, transport, local_preference);
  for (guint i = 0; i < self->candidates->len; i++)
    {
      PinholeCandidate *known = g_ptr_array_index (self->candidates, i);

      if (!pinhole_candidate_equal (known, c))
        continue;
      /* a router mapping that kept the port STUN saw is both: the mapping is what matters */
      if (known->type == PINHOLE_CANDIDATE_SRFLX && type == PINHOLE_CANDIDATE_MAPPED)
        {
          known->type = type;
          known->via = via;
          known->priority = c->priority;
          text = pinhole_candidate_to_string (known);
          g_debug ("candidate %s (was server-reflexive)", text);
          g_signal_emit (self, signals[SIGNAL_CANDIDATE_ADDED], 0, known);
        }
      return;
    }
  if (self->candidates->len >= PINHOLE_CANDIDATES_MAX)
    return;
  text = pinhole_candidate_to_string (c);
  g_debug ("candidate %s", text);
  g_ptr_array_add (self->candidates, pinhole_candidate_copy (c));
  g_signal_emit (self, signals[SIGNAL_CANDIDATE_ADDED], 0, c);
}

static void
source_done (PinholeGatherer *self)
{
  g_assert (self->pending > 0);
  if (--self->pending > 0)
    return;
  if (self->mapped_main != NULL && self->mapped_alt != NULL &&
      self->nat_mapping != PINHOLE_NAT_MAPPING_NONE)
    {
      gboolean same = g_inet_socket_address_get_port (self->mapped_main) ==
                      g_inet_socket_address_get_port (self->mapped_alt) &&
                      g_inet_address_equal (g_inet_socket_address_get_address (self->mapped_main),
                                            g_inet_socket_address_get_address (self->mapped_alt));
      self->nat_mapping = same ? PINHOLE_NAT_MAPPING_INDEPENDENT : PINHOLE_NAT_MAPPING_DEPENDENT;
    }
  self->done = TRUE;
  g_debug ("gathering done: %u candidates, %s", self->candidates->len,
           pinhole_nat_mapping_to_string (self->nat_mapping));
  g_signal_emit (self, signals[SIGNAL_DONE], 0);
}

/* ---- interfaces ---- */

/* a server on this machine's loopback means the peers are on this machine too: their only
 * useful host candidates are loopback ones, and nothing needs to leave the machine */
static gboolean
server_is_local (PinholeGatherer *self)
{
  g_autoptr(GInetAddress) address = NULL;

  if (self->stun_host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (self->stun_host, "localhost") == 0)
    return TRUE;
  address = g_inet_address_new_from_string (self->stun_host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

static void
gather_host (PinholeGatherer *self)
{
  struct ifaddrs *list = NULL;
  guint16 ports[2] = { pinhole_endpoint_get_udp_port (self->endpoint),
                       pinhole_endpoint_get_tcp_port (self->endpoint) };
  guint preference = 65535;
  g_autoptr(GPtrArray) loopback = g_ptr_array_new_with_free_func (g_object_unref);

  if (server_is_local (self))
    /* only the loopback addresses below */
    g_ptr_array_add (loopback, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4));
  else if (getifaddrs (&list) != 0)
    return;
  for (struct ifaddrs *ifa = list; ifa != NULL; ifa = ifa->ifa_next)
    {
      g_autoptr(GInetAddress) ip = NULL;

      if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != AF_INET ||
          !(ifa->ifa_flags & IFF_UP))
        continue;
      ip = g_inet_address_new_from_bytes (
        (const guint8 *) &((struct sockaddr_in *) ifa->ifa_addr)->sin_addr,
        G_SOCKET_FAMILY_IPV4);
      if (g_inet_address_get_is_link_local (ip))
        continue;
      if (g_inet_address_get_is_loopback (ip))
        {
          g_ptr_array_add (loopback, g_steal_pointer (&ip));
          continue;
        }
      for (guint t = 0; t < 2; t++)
        {
          g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (ip, ports[t]);
          add_candidate (self, PINHOLE_CANDIDATE_HOST, (PinholeTransport) t,
                         G_INET_SOCKET_ADDRESS (sa), PINHOLE_PATH_KIND_LAN, preference);
        }
      preference = preference > 1024 ? preference - 1024 : preference;
    }
  if (list != NULL)
    freeifaddrs (list);

  /* a machine with only loopback (tests, or two profiles on one machine) still goes direct */
  if (self->candidates->len == 0)
    for (guint i = 0; i < loopback->len; i++)
      for (guint t = 0; t < 2; t++)
        {
          g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (
            g_ptr_array_index (loopback, i), ports[t]);
          add_candidate (self, PINHOLE_CANDIDATE_HOST, (PinholeTransport) t,
                         G_INET_SOCKET_ADDRESS (sa), PINHOLE_PATH_KIND_LAN, 1);
        }
}

/* ---- STUN ---- */

/* one source of one gathering round: a later round cancels the earlier one's sources, and
 * their late answers must not count in the new round */
typedef struct
{
  PinholeGatherer *gatherer;     /* owned reference */
  GCancellable    *cancellable;  /* owned: the round's */
  gboolean         alt;
} Round;

static Round *
round_new (PinholeGatherer *self,
           gboolean         alt)
{
  Round *r = g_new0 (Round, 1);

  r->gatherer = g_object_ref (self);
  r->cancellable = g_object_ref (self->cancellable);
  r->alt = alt;
  return r;
}

static void
round_free (Round *r)
{
  g_object_unref (r->gatherer);
  g_object_unref (r->cancellable);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Round, round_free)

static void
udp_stun_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(Round) r = user_data;
  PinholeGatherer *self = r->gatherer;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunMessage) reply =
    pinhole_endpoint_stun_request_finish (PINHOLE_ENDPOINT (source), result, &error);

  if (g_cancellable_is_cancelled (r->cancellable))
    return;
  if (reply == NULL || reply->klass != PINHOLE_STUN_CLASS_SUCCESS ||
      reply->xor_mapped_address == NULL)
    g_debug ("STUN over UDP (%s port): %s", r->alt ? "alternate" : "main",
             error ? error->message : "no XOR-MAPPED-ADDRESS");
  else
    {
      GInetSocketAddress *mapped = reply->xor_mapped_address;

      self->udp_works = TRUE;
      g_set_object (r->alt ? &self->mapped_alt : &self->mapped_main, mapped);
      if (is_host_address (self, mapped))
        self->nat_mapping = PINHOLE_NAT_MAPPING_NONE;
      else
        add_candidate (self, PINHOLE_CANDIDATE_SRFLX, PINHOLE_TRANSPORT_UDP, mapped,
                       PINHOLE_PATH_KIND_UDP_PUNCH, r->alt ? 32768 : 65535);
    }
  source_done (self);
}

static void
udp_stun_request (PinholeGatherer *self,
                  guint16          port,
                  gboolean         alt)
{
  g_autoptr(PinholeStunMessage) request = pinhole_stun_message_new (
    PINHOLE_STUN_CLASS_REQUEST, PINHOLE_STUN_METHOD_BINDING, NULL);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (self->stun_address, port);
  g_autoptr(GBytes) bytes = NULL;

  pinhole_stun_message_set_random_transaction_id (request);
  bytes = pinhole_stun_message_encode (request, NULL, 0, TRUE, NULL);
  self->pending++;
  pinhole_endpoint_stun_request_async (self->endpoint, to, bytes, request->transaction_id,
                                       STUN_RTO_MS, STUN_TRIES, self->cancellable, udp_stun_cb,
                                       round_new (self, alt));
}

static void
tcp_stun_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(Round) r = user_data;
  PinholeGatherer *self = r->gatherer;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholeStunClientResult) reply = pinhole_stun_client_binding_tcp_finish (result,
                                                                                      &error);

  if (g_cancellable_is_cancelled (r->cancellable))
    return;
  if (reply == NULL)
    g_debug ("STUN over TCP: %s", error->message);
  else
    {
      self->tcp_works = TRUE;
      if (!is_host_address (self, reply->mapped_address))
        add_candidate (self, PINHOLE_CANDIDATE_SRFLX, PINHOLE_TRANSPORT_TCP,
                       reply->mapped_address, PINHOLE_PATH_KIND_TCP_PUNCH, 65535);
    }
  source_done (self);
}

static void
tcp_stun_request (PinholeGatherer *self)
{
  g_autoptr(PinholeStunClientOptions) options = pinhole_stun_client_options_new ();
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) server = g_inet_socket_address_new (self->stun_address,
                                                                self->stun_port);

  options->tcp_timeout_ms = STUN_TCP_TIMEOUT_MS;
  options->tcp_local_address = g_inet_socket_address_new (
    any, pinhole_endpoint_get_tcp_port (self->endpoint));
  self->pending++;
  pinhole_stun_client_binding_tcp_async (server, options, self->cancellable, tcp_stun_cb,
                                         round_new (self, FALSE));
}

static void
resolved_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(Round) r = user_data;
  PinholeGatherer *self = r->gatherer;
  g_autoptr(GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);

  if (g_cancellable_is_cancelled (r->cancellable))
    {
      g_resolver_free_addresses (addresses);
      return;
    }
  for (GList *l = addresses; l != NULL; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      {
        g_set_object (&self->stun_address, l->data);
        break;
      }
  g_resolver_free_addresses (addresses);
  if (self->stun_address == NULL)
    g_debug ("STUN server %s has no IPv4 address: %s", self->stun_host,
             error ? error->message : "none");
  else
    {
      udp_stun_request (self, self->stun_port, FALSE);
      if (self->stun_alt_port != 0)
        udp_stun_request (self, self->stun_alt_port, TRUE);
      tcp_stun_request (self);
    }
  source_done (self);
}

/* ---- port mappings ---- */

static void
mapped_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(Round) r = user_data;
  PinholeGatherer *self = r->gatherer;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholePortMapping) mapping =
    pinhole_port_mapper_map_finish (PINHOLE_PORT_MAPPER (source), result, &error);

  if (g_cancellable_is_cancelled (r->cancellable))
    return;
  if (mapping == NULL)
    {
      g_debug ("port mapping: %s", error->message);
      if (self->portmap_reason == NULL)
        self->portmap_reason = g_strdup (error->message);
    }
  else
    {
      g_autoptr(GSocketAddress) external = g_inet_socket_address_new (
        mapping->external_address, mapping->external_port);

      add_candidate (self, PINHOLE_CANDIDATE_MAPPED,
                     mapping->protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP ? PINHOLE_TRANSPORT_TCP
                                                                        : PINHOLE_TRANSPORT_UDP,
                     G_INET_SOCKET_ADDRESS (external), mapping->kind, 65535);
    }
  source_done (self);
}

static void
request_mappings (PinholeGatherer *self)
{
  self->pending += 2;
  pinhole_port_mapper_map_async (self->mapper, PINHOLE_PORT_MAP_PROTOCOL_UDP,
                                 pinhole_endpoint_get_udp_port (self->endpoint), NULL,
                                 MAPPING_LIFETIME_S, self->cancellable, mapped_cb,
                                 round_new (self, FALSE));
  pinhole_port_mapper_map_async (self->mapper, PINHOLE_PORT_MAP_PROTOCOL_TCP,
                                 pinhole_endpoint_get_tcp_port (self->endpoint), NULL,
                                 MAPPING_LIFETIME_S, self->cancellable, mapped_cb,
                                 round_new (self, FALSE));
}

/* ---- public ---- */

/**
 * pinhole_gatherer_gather:
 * Starts (again) from scratch: after log-in and whenever the network changes. Emits
 * ::candidate-added (PinholeCandidate *) as candidates come, then ::done.
 */
void
pinhole_gatherer_gather (PinholeGatherer *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_ptr_array_set_size (self->candidates, 0);
  g_clear_object (&self->mapped_main);
  g_clear_object (&self->mapped_alt);
  g_clear_object (&self->stun_address);
  g_clear_pointer (&self->portmap_reason, g_free);
  self->done = FALSE;
  self->udp_works = FALSE;
  self->tcp_works = FALSE;
  self->nat_mapping = PINHOLE_NAT_MAPPING_UNKNOWN;
  self->pending = 1;   /* held until every source has started */

  gather_host (self);
  if (self->stun_host != NULL)
    {
      self->pending++;
      g_resolver_lookup_by_name_async (g_resolver_get_default (), self->stun_host,
                                       self->cancellable, resolved_cb, round_new (self, FALSE));
    }
  if (self->mapper != NULL)
    request_mappings (self);
  source_done (self);
}

gboolean
pinhole_gatherer_is_done (PinholeGatherer *self)
{
  return self->done;
}

/* Returns: (transfer none) (element-type PinholeCandidate): the candidates so far */
GPtrArray *
pinhole_gatherer_get_candidates (PinholeGatherer *self)
{
  return self->candidates;
}

PinholeNatMapping
pinhole_gatherer_get_nat_mapping (PinholeGatherer *self)
{
  return self->nat_mapping;
}

gboolean
pinhole_gatherer_get_udp_works (PinholeGatherer *self)
{
  return self->udp_works;
}

gboolean
pinhole_gatherer_get_tcp_works (PinholeGatherer *self)
{
  return self->tcp_works;
}

gboolean
pinhole_gatherer_has_mapping (PinholeGatherer *self)
{
  for (guint i = 0; i < self->candidates->len; i++)
    if (((PinholeCandidate *) g_ptr_array_index (self->candidates, i))->type ==
        PINHOLE_CANDIDATE_MAPPED)
      return TRUE;
  return FALSE;
}

/* Returns: (transfer full): "endpoint-independent NAT, UDP and TCP reach the server, UPnP…" */
char *
pinhole_gatherer_describe (PinholeGatherer *self)
{
  GString *s = g_string_new (pinhole_nat_mapping_to_string (self->nat_mapping));

  /* the same words as pinhole_nat_info_describe(), which says them of the contact's side */
  if (!self->udp_works)
    g_string_append_printf (s, ", %s", _("UDP gets no STUN answer"));
  if (!self->tcp_works)
    g_string_append_printf (s, ", %s", _("TCP gets no STUN answer"));
  if (pinhole_gatherer_has_mapping (self))
    g_string_append_printf (s, ", %s", _("router port mapping"));
  else if (self->mapper != NULL)
    {
      g_autofree char *summary = pinhole_port_mapper_dup_summary (self->mapper);
      /* the routers' answers stay as the protocols name them: "upnp: no answer, …" */
      g_string_append_printf (s, ", %s (%s)", _("no port mapping"), summary ? summary : "none");
    }
  return g_string_free (s, FALSE);
}

void
pinhole_gatherer_set_stun_server (PinholeGatherer *self,
                                  const char      *host,
                                  guint16          port,
                                  guint16          alt_port)
{
  g_free (self->stun_host);
  self->stun_host = g_strdup (host);
  self->stun_port = port;
  self->stun_alt_port = alt_port;
}

static void
pinhole_gatherer_dispose (GObject *object)
{
  PinholeGatherer *self = PINHOLE_GATHERER (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->endpoint);
  g_clear_object (&self->mapper);
  g_clear_object (&self->stun_address);
  g_clear_object (&self->mapped_main);
  g_clear_object (&self->mapped_alt);
  G_OBJECT_CLASS (pinhole_gatherer_parent_class)->dispose (object);
}

static void
pinhole_gatherer_finalize (GObject *object)
{
  PinholeGatherer *self = PINHOLE_GATHERER (object);

  g_ptr_array_unref (self->candidates);
  g_free (self->stun_host);
  g_free (self->portmap_reason);
  G_OBJECT_CLASS (pinhole_gatherer_parent_class)->finalize (object);
}

static void
pinhole_gatherer_class_init (PinholeGathererClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_gatherer_dispose;
  object_class->finalize = pinhole_gatherer_finalize;

  /* (PinholeCandidate *candidate): borrowed for the emission */
  signals[SIGNAL_CANDIDATE_ADDED] =
    g_signal_new ("candidate-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_DONE] =
    g_signal_new ("done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
pinhole_gatherer_init (PinholeGatherer *self)
{
  self->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_candidate_free);
}

/**
 * pinhole_gatherer_new:
 * @mapper: (nullable): asks the router for port mappings when given
 * Returns: (transfer full)
 */
PinholeGatherer *
pinhole_gatherer_new (PinholeEndpoint   *endpoint,
                      PinholePortMapper *mapper)
{
  PinholeGatherer *self = g_object_new (PINHOLE_TYPE_GATHERER, NULL);

  self->endpoint = g_object_ref (endpoint);
  self->mapper = mapper ? g_object_ref (mapper) : NULL;
  return self;
}
