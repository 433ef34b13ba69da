/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-port-mapper-pcp.c: the PCP backend of PinholePortMapper (RFC 6887): MAP to the
 * default gateway on port 5351 (§11), retransmitted per §8.1.1 within a bound, renewal with
 * the same nonce (§11.2.1, §15), deletion with lifetime 0 (§15), the epoch checked (§8.5).
 * Debian has no PCP client library, so the blocking socket I/O is ours, in the mapper's
 * GTask workers; the messages come from pinhole-pcp-message.c. */
#define G_LOG_DOMAIN "pinhole-portmap"

#include "pinhole-port-mapper-private.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <natpmp.h>
#include <sodium.h>

#include "pinhole-error.h"

/* how long a wait sleeps at most between looks at the cancellable */
#define PCP_STEP_MS 50
/* §8.1.1 sets IRT to 3 s, which would leave one transmission in our bound of a few seconds:
 * start at NAT-PMP's 250 ms (RFC 6886 §3.1) and double, with PCP's ±10% randomisation */
#define PCP_IRT_MS 250
/* a server's ANNOUNCEs of lost state make us send again at once, at most this often per
 * exchange: a flood of them gets no more than this many requests out of us */
#define PCP_MAX_ANNOUNCE_RESENDS 4

typedef enum
{
  PCP_OK,
  PCP_CANCELLED,
  PCP_SILENT,          /* nothing came back before the deadline */
  PCP_NO_VALID,        /* only datagrams we had to drop (or ANNOUNCEs) came back */
  PCP_REFUSED,         /* ICMP port unreachable: nobody listens on 5351 */
  PCP_OTHER_VERSION,   /* a NAT-PMP (or PCPv1) server answered */
  PCP_SOCKET_ERROR,
} PcpOutcome;

static const char *
outcome_words (PcpOutcome o)
{
  switch (o)
    {
    case PCP_OK: return "answered";
    case PCP_CANCELLED: return "cancelled";
    case PCP_SILENT: return "did not answer";
    case PCP_NO_VALID: return "sent no valid answer";
    case PCP_REFUSED: return "refused port 5351";
    case PCP_OTHER_VERSION: return "speaks NAT-PMP, not PCP";
    case PCP_SOCKET_ERROR:
    default: return "could not be reached (socket error)";
    }
}

typedef struct
{
  int          fd;          /* connected to gateway:5351 */
  in_addr_t    gateway;
  guint8       client_address[16];   /* our source address, IPv4-mapped (§5) */
  char        *gateway_string;
  char        *source_string;
} PcpSocket;

static void
pcp_socket_close (PcpSocket *s)
{
  if (s->fd >= 0)
    close (s->fd);
  s->fd = -1;
  g_clear_pointer (&s->gateway_string, g_free);
  g_clear_pointer (&s->source_string, g_free);
}

static char *
ipv4_to_string (const struct in_addr *in)
{
  char buf[INET_ADDRSTRLEN] = "";

  inet_ntop (AF_INET, in, buf, sizeof buf);
  return g_strdup (buf);
}

/* the default gateway as libnatpmp finds it (its initnatpmp reads the routing table) */
static gboolean
find_gateway (in_addr_t *gateway)
{
  natpmp_t np;

  if (initnatpmp (&np, 0, 0) < 0)
    return FALSE;
  *gateway = np.gateway;
  closenatpmp (&np);
  return *gateway != 0;
}

static gboolean
pcp_socket_open (PcpSocket    *s,
                 in_addr_t     gateway,
                 GError      **error)
{
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons (PINHOLE_PCP_SERVER_PORT),
                            .sin_addr.s_addr = gateway };
  struct sockaddr_in local;
  socklen_t len = sizeof local;

  s->fd = -1;
  s->gateway = gateway;
  s->gateway_string = ipv4_to_string (&to.sin_addr);
  s->fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  /* connected: the kernel drops datagrams from anyone but the server (§8.3) and reports
   * its ICMP errors */
  if (s->fd < 0 || connect (s->fd, (struct sockaddr *) &to, sizeof to) < 0 ||
      getsockname (s->fd, (struct sockaddr *) &local, &len) < 0)
    {
      int e = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "PCP socket to %s: %s",
                   s->gateway_string, g_strerror (e));
      return FALSE;
    }
  memset (s->client_address, 0, 10);
  s->client_address[10] = s->client_address[11] = 0xff;
  memcpy (s->client_address + 12, &local.sin_addr, 4);
  s->source_string = ipv4_to_string (&local.sin_addr);
  return TRUE;
}

/* the next retransmission timeout: RT = (1 + RAND) * 2 * RTprev, RAND in [-0.1, 0.1]
 * (§8.1.1); the first is (1 + RAND) * IRT */
static gint64
next_timeout_us (gint64 previous_us)
{
  double rand = g_random_double_range (-0.1, 0.1);

  if (previous_us == 0)
    return (gint64) ((1 + rand) * PCP_IRT_MS * 1000);
  return (gint64) ((1 + rand) * 2 * previous_us);
}

/* Sends request and waits for the matching response (map: the MAP it asks for; NULL: an
 * ANNOUNCE), retransmitting until deadline_us. Datagrams §8.3 says to drop are dropped;
 * an ANNOUNCE that shows the server lost its state (§14.1.3) makes us send again at once. */
static PcpOutcome
pcp_exchange (PcpSocket            *s,
              const guint8         *request,
              gsize                 request_len,
              const PinholePcpMap  *map,
              PinholePcpEpoch      *epoch,
              gint64                deadline_us,
              GCancellable         *cancellable,
              PinholePcpResponse   *out)
{
  gint64 rt_us = 0, resend_us = 0;
  gboolean heard = FALSE;
  guint announce_resends = 0;

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
      guint8 buf[PINHOLE_PCP_MAX_MESSAGE + 4];
      g_autoptr(GError) error = NULL;
      gint64 wait_us;
      ssize_t n;

      if (g_cancellable_is_cancelled (cancellable))
        return PCP_CANCELLED;
      if (now >= deadline_us)
        return heard ? PCP_NO_VALID : PCP_SILENT;
      if (now >= resend_us)
        {
          if (send (s->fd, request, request_len, 0) < 0 && errno != EAGAIN && errno != EINTR)
            return errno == ECONNREFUSED ? PCP_REFUSED : PCP_SOCKET_ERROR;
          rt_us = next_timeout_us (rt_us);
          resend_us = now + rt_us;
        }
      wait_us = MIN (MIN (resend_us, deadline_us) - now, PCP_STEP_MS * 1000);
      if (poll (&pfd, 1, (int) ((wait_us + 999) / 1000)) < 0 && errno != EINTR)
        return PCP_SOCKET_ERROR;
      if (!(pfd.revents & (POLLIN | POLLERR)))
        continue;
      n = recv (s->fd, buf, sizeof buf, 0);
      if (n < 0)
        {
          if (errno == EAGAIN || errno == EINTR)
            continue;
          return errno == ECONNREFUSED ? PCP_REFUSED : PCP_SOCKET_ERROR;
        }
      heard = TRUE;
      if (!pinhole_pcp_decode_response (buf, (gsize) n, map, out, &error))
        {
          if (g_error_matches (error, PINHOLE_ERROR, PINHOLE_ERROR_NOT_ALLOWED))
            return PCP_OTHER_VERSION;
          g_debug ("PCP from %s dropped: %s", s->gateway_string, error->message);
          continue;
        }
      if (map != NULL && out->opcode == PINHOLE_PCP_OPCODE_ANNOUNCE)
        {
          if (!pinhole_pcp_epoch_update (epoch, out->epoch_s, g_get_monotonic_time ()) &&
              announce_resends++ < PCP_MAX_ANNOUNCE_RESENDS)
            {
              g_debug ("PCP server %s announced a new epoch: asking again", s->gateway_string);
              resend_us = 0;
              rt_us = 0;
            }
          continue;
        }
      return PCP_OK;
    }
}

static guint8
pcp_protocol (const PinholePortMapperJob *job)
{
  return job->protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP ? PINHOLE_PCP_PROTOCOL_TCP
                                                        : PINHOLE_PCP_PROTOCOL_UDP;
}

static void
job_map_fields (const PinholePortMapperJob *job,
                guint16                     suggested_port,
                PinholePcpMap              *map)
{
  memset (map, 0, sizeof *map);
  memcpy (map->nonce, job->pcp_nonce, sizeof map->nonce);
  map->protocol = pcp_protocol (job);
  map->internal_port = job->internal_port;
  map->external_port = suggested_port;
  /* §11.1: no preferred external address is the all-zeros IPv4-mapped address */
  map->external_address[10] = map->external_address[11] = 0xff;
}

/* (transfer full) (nullable) "203.0.113.21" from an IPv4-mapped address */
static char *
mapped_to_string (const guint8 address[16])
{
  static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  struct in_addr in;

  if (memcmp (address, prefix, sizeof prefix) != 0)
    return NULL;
  memcpy (&in, address + 12, 4);
  return ipv4_to_string (&in);
}

/* One MAP exchange for job: lifetime 0 deletes. On PCP_OK, *response holds the answer,
 * whatever its result code. */
static PcpOutcome
pcp_map_once (PinholePortMapperJob *job,
              PcpSocket            *s,
              guint16               suggested_port,
              guint32               lifetime_s,
              gint64                deadline_us,
              GCancellable         *cancellable,
              PinholePcpResponse   *response)
{
  guint8 request[PINHOLE_PCP_MAP_REQUEST_SIZE];
  PinholePcpMap map;

  job_map_fields (job, suggested_port, &map);
  pinhole_pcp_encode_map (request, lifetime_s, s->client_address, &map);
  return pcp_exchange (s, request, sizeof request, &map, &job->pcp_epoch, deadline_us,
                       cancellable, response);
}

/* a SUCCESS that maps nothing: external port 0, or a lease of 0 s (in PCP: no mapping) */
static gboolean
grant_usable (const PinholePcpResponse *response)
{
  return response->map.external_port != 0 && response->lifetime_s > 0;
}

/* fills job from a SUCCESS response */
static void
take_grant (PinholePortMapperJob     *job,
            const PinholePcpResponse *response)
{
  g_autofree char *external = mapped_to_string (response->map.external_address);

  job->external_port = response->map.external_port;
  job->granted_lifetime_s = response->lifetime_s;
  if (external != NULL)
    {
      g_free (job->external_address);
      job->external_address = g_steal_pointer (&external);
    }
}

/* the lease we ask for: PCP has no permanent mapping (lifetime 0 deletes) */
static guint32
asked_lifetime (const PinholePortMapperJob *job)
{
  return job->lifetime_s > 0 ? job->lifetime_s : PINHOLE_PORT_MAPPER_DEFAULT_LEASE_S;
}

static gboolean
pcp_map (GTask                *task,
         PinholePortMapperJob *job,
         GString              *reason,
         GCancellable         *cancellable)
{
  PcpSocket s = { .fd = -1 };
  PinholePcpResponse response;
  g_autoptr(GError) error = NULL;
  gint64 deadline_us = g_get_monotonic_time () + (gint64) job->pcp_deadline_ms * 1000;
  PcpOutcome o;

  job->pcp_answer = PINHOLE_PORT_MAPPER_ANSWER_NONE;
  if (job->gateway == 0 && !find_gateway (&job->gateway))
    {
      g_string_append (reason, "PCP: no default gateway");
      return FALSE;
    }
  if (!pcp_socket_open (&s, job->gateway, &error))
    {
      g_string_append_printf (reason, "PCP: %s", error->message);
      pcp_socket_close (&s);
      return FALSE;
    }
  g_free (job->gateway_source);
  job->gateway_source = g_strdup (s.source_string);
  /* §11.2: a nonce of our own per mapping, unguessable by anyone off the path */
  randombytes_buf (job->pcp_nonce, sizeof job->pcp_nonce);
  memset (&job->pcp_epoch, 0, sizeof job->pcp_epoch);

  o = pcp_map_once (job, &s, job->internal_port, asked_lifetime (job), deadline_us, cancellable,
                    &response);
  if (o == PCP_OK && !g_task_set_return_on_cancel (task, FALSE))
    o = PCP_CANCELLED;
  if (o == PCP_CANCELLED || o == PCP_SILENT || o == PCP_NO_VALID)
    {
      /* the server may hold a mapping whose answer we did not wait for: drop it, best
       * effort, one datagram */
      guint8 request[PINHOLE_PCP_MAP_REQUEST_SIZE];
      PinholePcpMap map;

      job_map_fields (job, 0, &map);
      pinhole_pcp_encode_map (request, 0, s.client_address, &map);
      if (send (s.fd, request, sizeof request, 0) < 0)
        g_debug ("PCP delete after %s: %s", outcome_words (o), g_strerror (errno));
    }
  if (o == PCP_CANCELLED)
    {
      pcp_socket_close (&s);
      return FALSE;
    }
  if (o != PCP_OK)
    {
      job->port_5351_silent = o == PCP_SILENT;
      g_string_append_printf (reason, "PCP: gateway %s %s", s.gateway_string, outcome_words (o));
      pcp_socket_close (&s);
      return FALSE;
    }
  job->pcp_answer = PINHOLE_PORT_MAPPER_ANSWER_YES;
  pinhole_pcp_epoch_update (&job->pcp_epoch, response.epoch_s, g_get_monotonic_time ());
  if (response.result != PINHOLE_PCP_RESULT_SUCCESS)
    {
      g_string_append_printf (reason, "PCP: gateway %s refused the mapping: %s",
                              s.gateway_string, pinhole_pcp_result_to_string (response.result));
      pcp_socket_close (&s);
      return FALSE;
    }
  if (!grant_usable (&response))
    {
      g_string_append_printf (reason, "PCP: gateway %s granted no usable mapping (port %u, "
                              "lease %u s)", s.gateway_string, response.map.external_port,
                              response.lifetime_s);
      pcp_socket_close (&s);
      return FALSE;
    }
  pcp_socket_close (&s);

  job->method = PINHOLE_PATH_KIND_PCP;
  take_grant (job, &response);
  return TRUE;
}

/* renews (lifetime > 0) or deletes (lifetime 0) job's PCP mapping, with its nonce */
static PcpOutcome
pcp_refresh (PinholePortMapperJob *job,
             guint32               lifetime_s,
             guint                 deadline_ms,
             GCancellable         *cancellable,
             PinholePcpResponse   *response,
             GError              **error)
{
  PcpSocket s = { .fd = -1 };
  gint64 deadline_us = g_get_monotonic_time () + (gint64) deadline_ms * 1000;
  PcpOutcome o;

  if (!pcp_socket_open (&s, job->gateway, error))
    {
      pcp_socket_close (&s);
      return PCP_SOCKET_ERROR;
    }
  o = pcp_map_once (job, &s, job->external_port, lifetime_s, deadline_us, cancellable,
                    response);
  if (o != PCP_OK && o != PCP_CANCELLED)
    g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "gateway %s %s",
                 s.gateway_string, outcome_words (o));
  else if (o == PCP_OK && response->result != PINHOLE_PCP_RESULT_SUCCESS)
    g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "gateway %s answered %s",
                 s.gateway_string, pinhole_pcp_result_to_string (response->result));
  pcp_socket_close (&s);
  return o;
}

static gboolean
pcp_renew (PinholePortMapperJob  *job,
           GCancellable          *cancellable,
           GError               **error)
{
  PinholePcpResponse response;
  g_autoptr(GError) local = NULL;
  PcpOutcome o;

  o = pcp_refresh (job, asked_lifetime (job), job->pcp_deadline_ms, cancellable, &response,
                   &local);
  if (o == PCP_CANCELLED)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "renewal cancelled");
      return FALSE;
    }
  if (local != NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "PCP renewal failed: %s",
                   local->message);
      return FALSE;
    }
  /* §8.5: a server that lost its state made the mapping anew on this very request, perhaps
   * on another port: take what it says now */
  if (!grant_usable (&response))
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH, "PCP renewal granted no usable "
                   "mapping (port %u, lease %u s)", response.map.external_port,
                   response.lifetime_s);
      return FALSE;
    }
  if (!pinhole_pcp_epoch_update (&job->pcp_epoch, response.epoch_s, g_get_monotonic_time ()))
    g_debug ("PCP server lost its state (epoch %u): mapping %s %u made anew", response.epoch_s,
             _pinhole_port_mapper_protocol_name (job->protocol), job->internal_port);
  take_grant (job, &response);
  return TRUE;
}

static gboolean
pcp_remove (PinholePortMapperJob  *job,
            gint64                 left_ms,
            GError               **error)
{
  PinholePcpResponse response;
  g_autoptr(GError) local = NULL;

  pcp_refresh (job, 0, (guint) MIN (left_ms, (gint64) job->pcp_deadline_ms), NULL, &response,
               &local);
  if (local != NULL)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "PCP %s %u: %s",
                   _pinhole_port_mapper_protocol_name (job->protocol), job->external_port,
                   local->message);
      return FALSE;
    }
  return TRUE;
}

const PinholePortMapperBackend _pinhole_port_mapper_pcp_backend = {
  .kind = PINHOLE_PATH_KIND_PCP,
  .method = PINHOLE_PORT_MAP_METHOD_PCP,
  .map = pcp_map,
  .renew = pcp_renew,
  .remove = pcp_remove,
};
