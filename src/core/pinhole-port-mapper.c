/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-port-mapper.c: port mappings at the home router with UPnP-IGD (miniupnpc) and
 * NAT-PMP (RFC 6886 via libnatpmp): map, renew at half the lease (§3.3), delete (§3.4).
 * Both libraries block, so every router exchange runs in a GTask worker on a copied job. */
#define G_LOG_DOMAIN "pinhole-portmap"

#include "pinhole-port-mapper.h"

#include <errno.h>
#include <string.h>
#include <sys/select.h>
#include <arpa/inet.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#define ENABLE_STRNATPMPERR 1
#include <natpmp.h>

#include "pinhole-error.h"

/* how long a libnatpmp wait sleeps at most between looks at the cancellable */
#define NAT_PMP_STEP_MS 50
/* shutdown deletes what it can within this time */
#define SHUTDOWN_DEADLINE_MS 3000
/* a failed renewal is retried while at least this much of the lease is left */
#define RENEW_MIN_LEFT_MS 2000
/* external ports tried after the internal port is taken at the IGD (UPnP error 718) */
#define UPNP_PORT_TRIES 4

/* UPnP-IGD v1 error codes we act on (UPnP IGD WANIPConnection:1 §2.4.16) */
#define UPNP_ERR_CONFLICT         718
#define UPNP_ERR_ONLY_PERMANENT   725

typedef enum
{
  ANSWER_NOT_TRIED,
  ANSWER_NONE,
  ANSWER_YES,
} Answer;

typedef enum
{
  JOB_MAP,
  JOB_RENEW,
  JOB_DELETE,
} JobKind;

/* Everything a worker needs and returns; the worker owns its copy and never sees the
 * mapper. */
typedef struct
{
  /* input */
  JobKind                kind;
  PinholePortMapMethods  methods;
  PinholePortMapProtocol protocol;
  guint16                internal_port;
  char                  *internal_address;   /* nullable: caller's choice */
  guint                  lifetime_s;         /* what to ask for; 0: permanent */
  guint                  upnp_discover_ms;
  guint                  nat_pmp_deadline_ms;

  /* input for renew/delete, output of map */
  PinholePathKind        method;
  char                  *control_url;        /* UPnP */
  char                  *service_type;       /* UPnP */
  char                  *lan_address;        /* UPnP NewInternalClient */
  in_addr_t              gateway;            /* NAT-PMP, network order */
  guint16                external_port;

  /* output */
  char                  *external_address;   /* nullable */
  char                  *nat_pmp_source;     /* our address towards the gateway */
  guint                  granted_lifetime_s;
  char                  *reason;             /* what failed before the method that worked */
  Answer                 upnp_answer;
  Answer                 nat_pmp_answer;
} PortJob;

static void
port_job_free (PortJob *job)
{
  g_free (job->internal_address);
  g_free (job->control_url);
  g_free (job->service_type);
  g_free (job->lan_address);
  g_free (job->external_address);
  g_free (job->nat_pmp_source);
  g_free (job->reason);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PortJob, port_job_free)

static PortJob *
port_job_copy (const PortJob *src)
{
  PortJob *job = g_memdup2 (src, sizeof *src);

  job->internal_address = g_strdup (src->internal_address);
  job->control_url = g_strdup (src->control_url);
  job->service_type = g_strdup (src->service_type);
  job->lan_address = g_strdup (src->lan_address);
  job->external_address = g_strdup (src->external_address);
  job->nat_pmp_source = g_strdup (src->nat_pmp_source);
  job->reason = g_strdup (src->reason);
  return job;
}

/* one mapping the mapper keeps alive; lives on the main context only */
typedef struct
{
  PinholePortMapping *mapping;      /* owned: what callers see */
  PortJob            *job;          /* owned: how to renew and delete it */
  gint64              expires_us;   /* monotonic; G_MAXINT64 when permanent */
  GSource            *renew_source; /* owned: the next renewal, on the mapper's context */
  gboolean            renewing;
} Record;

static void
record_free (Record *record)
{
  if (record->renew_source != NULL)
    {
      g_source_destroy (record->renew_source);
      g_clear_pointer (&record->renew_source, g_source_unref);
    }
  pinhole_port_mapping_free (record->mapping);
  port_job_free (record->job);
  g_free (record);
}

struct _PinholePortMapper
{
  GObject                parent_instance;

  /* owned */
  GMainContext          *context;         /* where signals and timers run */
  GCancellable          *cancellable;     /* renewals; cancelled in dispose and shutdown */
  GHashTable            *records;         /* id → Record */
  GInetAddress          *external_address;

  PinholePortMapMethods  methods;
  GTask                 *shutdown_task;   /* owned: waits for renewals in flight */
  guint                  renewals_in_flight;
  guint                  next_id;
  Answer                 upnp_answer;
  Answer                 nat_pmp_answer;
  gboolean               shut_down;
};

G_DEFINE_FINAL_TYPE (PinholePortMapper, pinhole_port_mapper, G_TYPE_OBJECT)
G_DEFINE_BOXED_TYPE (PinholePortMapping, pinhole_port_mapping,
                     pinhole_port_mapping_copy, pinhole_port_mapping_free)

enum { SIGNAL_MAPPING_CHANGED, SIGNAL_MAPPING_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

static void schedule_renewal (PinholePortMapper *self, Record *record, gint64 delay_ms);
static void start_delete     (PinholePortMapper *self, GTask *task);

/* ---- PinholePortMapping ---- */

PinholePortMapping *
pinhole_port_mapping_copy (const PinholePortMapping *mapping)
{
  PinholePortMapping *copy;

  g_return_val_if_fail (mapping != NULL, NULL);

  copy = g_memdup2 (mapping, sizeof *mapping);
  if (copy->internal_address)
    g_object_ref (copy->internal_address);
  if (copy->external_address)
    g_object_ref (copy->external_address);
  copy->reason = g_strdup (mapping->reason);
  return copy;
}

void
pinhole_port_mapping_free (PinholePortMapping *mapping)
{
  if (mapping == NULL)
    return;
  g_clear_object (&mapping->internal_address);
  g_clear_object (&mapping->external_address);
  g_free (mapping->reason);
  g_free (mapping);
}

static const char *
protocol_name (PinholePortMapProtocol protocol)
{
  return protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP ? "TCP" : "UDP";
}

char *
pinhole_port_mapping_to_string (const PinholePortMapping *mapping)
{
  g_autofree char *ext = NULL;
  g_autofree char *in = NULL;

  g_return_val_if_fail (mapping != NULL, NULL);

  ext = mapping->external_address ? g_inet_address_to_string (mapping->external_address)
                                  : g_strdup ("?");
  in = mapping->internal_address ? g_inet_address_to_string (mapping->internal_address)
                                 : g_strdup ("?");
  return g_strdup_printf ("%s %s %s:%u -> %s:%u lease %u s",
                          pinhole_path_kind_to_string (mapping->kind),
                          mapping->protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP ? "tcp" : "udp",
                          ext, mapping->external_port, in, mapping->internal_port,
                          mapping->lifetime_s);
}

/* ---- UPnP-IGD (worker thread) ---- */

typedef struct
{
  struct UPNPUrls urls;
  struct IGDdatas data;
  char            lan_address[64];
  int             igd_state;      /* UPNP_GetValidIGD's answer */
} Igd;

static const char *
upnp_strerror (int r)
{
  const char *s = strupnperror (r);
  return s ? s : "unknown error";
}

/* SSDP discovery, then the IGD's description. FALSE when no IGD answered within
 * discover_ms (SSDP) and miniupnpc's own HTTP timeouts (description). */
static gboolean
upnp_find_igd (guint    discover_ms,
               Igd     *igd,
               GString *reason)
{
  /* every IGD and WAN connection type at once (searchalltypes), so that discovery waits
   * discover_ms once and not once per type */
  static const char * const types[] = {
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
    NULL,
  };
  struct UPNPDev *devices;
  int error = 0;

  memset (igd, 0, sizeof *igd);
  /* "" skips minissdpd: its socket in /var/run is shared by every network namespace and
   * would describe another network than ours */
  devices = upnpDiscoverDevices (types, (int) discover_ms, NULL, "", UPNP_LOCAL_PORT_ANY,
                                 0, 2, &error, 1);
  if (devices == NULL)
    {
      g_string_append_printf (reason, "no UPnP-IGD answered within %.3g s",
                              discover_ms / 1000.0);
      if (error != UPNPDISCOVER_SUCCESS)
        g_string_append_printf (reason, " (discovery error %d)", error);
      return FALSE;
    }

#if MINIUPNPC_API_VERSION >= 18
  {
    char wan_address[64] = "";
    igd->igd_state = UPNP_GetValidIGD (devices, &igd->urls, &igd->data, igd->lan_address,
                                       sizeof igd->lan_address, wan_address,
                                       sizeof wan_address);
  }
#else
  igd->igd_state = UPNP_GetValidIGD (devices, &igd->urls, &igd->data, igd->lan_address,
                                     sizeof igd->lan_address);
#endif
  freeUPNPDevlist (devices);

  /* 1: a connected IGD. API 17 (2.2.4): 2 is an IGD that calls itself not connected;
   * API 18: 2 is an IGD whose external address is private or reserved (double NAT, or a
   * lab on documentation ranges) and 3 a disconnected one. Routers get both wrong often
   * enough that only AddPortMapping can tell: try it for all of them. */
#if MINIUPNPC_API_VERSION >= 18
  if (igd->igd_state >= 1 && igd->igd_state <= 3)
#else
  if (igd->igd_state == 1 || igd->igd_state == 2)
#endif
    {
      g_debug ("UPnP-IGD at %s (state %d), we are %s", igd->urls.controlURL,
               igd->igd_state, igd->lan_address);
      return TRUE;
    }

  if (igd->igd_state != 0)
    FreeUPNPUrls (&igd->urls);
  g_string_append (reason, "UPnP devices answered, but none is an Internet Gateway Device");
  return FALSE;
}

static void
upnp_read_external_address (Igd     *igd,
                            PortJob *job)
{
  char address[64] = "";
  int r;

  r = UPNP_GetExternalIPAddress (igd->urls.controlURL, igd->data.first.servicetype, address);
  if (r == UPNPCOMMAND_SUCCESS && address[0] != '\0')
    {
      g_free (job->external_address);
      job->external_address = g_strdup (address);
    }
  else
    g_debug ("UPnP GetExternalIPAddress: %d %s", r, upnp_strerror (r));
}

/* AddPortMapping for job's ports; also renews (the same call refreshes the lease). */
static int
upnp_add (PortJob    *job,
          const char *control_url,
          const char *service_type,
          guint16     external_port,
          guint      *out_lifetime_s)
{
  char ext[8], in[8], lease[16];
  guint asked = job->lifetime_s;
  int r;

  g_snprintf (ext, sizeof ext, "%u", external_port);
  g_snprintf (in, sizeof in, "%u", job->internal_port);
  g_snprintf (lease, sizeof lease, "%u", asked);
  r = UPNP_AddPortMapping (control_url, service_type, ext, in, job->lan_address, "pinhole",
                           protocol_name (job->protocol), NULL, lease);
  if (r == UPNP_ERR_ONLY_PERMANENT && asked != 0)
    {
      asked = 0;
      r = UPNP_AddPortMapping (control_url, service_type, ext, in, job->lan_address,
                               "pinhole", protocol_name (job->protocol), NULL, "0");
      if (r == UPNPCOMMAND_SUCCESS)
        job->lifetime_s = 0;
    }
  if (r != UPNPCOMMAND_SUCCESS)
    return r;

  *out_lifetime_s = asked;
  {
    /* the lease the IGD really holds, when it says (miniupnpd does, as time left) */
    char client[64] = "", port[8] = "", desc[80] = "", enabled[8] = "", left[16] = "";

    if (UPNP_GetSpecificPortMappingEntry (control_url, service_type, ext,
                                          protocol_name (job->protocol), NULL, client, port,
                                          desc, enabled, left) == UPNPCOMMAND_SUCCESS)
      {
        guint64 v;

        if (g_ascii_string_to_unsigned (left, 10, 0, G_MAXUINT32, &v, NULL) && v > 0)
          *out_lifetime_s = MIN ((guint) v, asked == 0 ? (guint) v : asked);
      }
  }
  return r;
}

static gboolean
upnp_map (GTask        *task,
          PortJob      *job,
          GString      *reason,
          GCancellable *cancellable)
{
  Igd igd;
  int r = 0;
  guint try;

  if (!upnp_find_igd (job->upnp_discover_ms, &igd, reason))
    {
      job->upnp_answer = ANSWER_NONE;
      return FALSE;
    }
  job->upnp_answer = ANSWER_YES;

  if (job->internal_address == NULL)
    job->lan_address = g_strdup (igd.lan_address);
  else
    job->lan_address = g_strdup (job->internal_address);
  if (job->lifetime_s == 0)
    job->lifetime_s = PINHOLE_PORT_MAPPER_DEFAULT_LEASE_S;

  upnp_read_external_address (&igd, job);

  /* from here on the router holds state for us: no silent return on cancel */
  if (!g_task_set_return_on_cancel (task, FALSE))
    {
      FreeUPNPUrls (&igd.urls);
      return FALSE;
    }

  for (try = 0; try < UPNP_PORT_TRIES; try++)
    {
      guint16 port = try == 0 ? job->internal_port
                              : (guint16) g_random_int_range (20000, 60000);

      r = upnp_add (job, igd.urls.controlURL, igd.data.first.servicetype, port,
                    &job->granted_lifetime_s);
      if (r == UPNPCOMMAND_SUCCESS)
        {
          job->external_port = port;
          break;
        }
      g_debug ("UPnP AddPortMapping %s %u -> %s:%u: %d %s", protocol_name (job->protocol),
               port, job->lan_address, job->internal_port, r, upnp_strerror (r));
      if (r != UPNP_ERR_CONFLICT)
        break;
    }

  if (r != UPNPCOMMAND_SUCCESS)
    {
      g_string_append_printf (reason, "UPnP-IGD at %s refused AddPortMapping: %d %s",
                              igd.urls.controlURL, r, upnp_strerror (r));
      if (igd.igd_state != 1)
        g_string_append (reason, " (the IGD reports no public connection)");
      FreeUPNPUrls (&igd.urls);
      return FALSE;
    }

  job->method = PINHOLE_PATH_KIND_UPNP;
  job->control_url = g_strdup (igd.urls.controlURL);
  job->service_type = g_strdup (igd.data.first.servicetype);
  FreeUPNPUrls (&igd.urls);
  return TRUE;
}

static int
upnp_delete (const PortJob *job)
{
  char ext[8];

  g_snprintf (ext, sizeof ext, "%u", job->external_port);
  return UPNP_DeletePortMapping (job->control_url, job->service_type, ext,
                                 protocol_name (job->protocol), NULL);
}

/* ---- NAT-PMP (worker thread) ---- */

/* libnatpmp has no code for these two */
#define NAT_PMP_CANCELLED (-1000)
#define NAT_PMP_DEADLINE  (-1001)

/* Waits for the answer to the pending request, retransmitting on libnatpmp's schedule
 * (250 ms doubling: RFC 6886 §3.1) until deadline_us; looks at the cancellable every
 * NAT_PMP_STEP_MS. */
static int
nat_pmp_wait (natpmp_t     *np,
              natpmpresp_t *response,
              gint64        deadline_us,
              GCancellable *cancellable)
{
  for (;;)
    {
      struct timeval tv;
      fd_set fds;
      gint64 now = g_get_monotonic_time ();
      gint64 step_us;
      int r;

      if (g_cancellable_is_cancelled (cancellable))
        return NAT_PMP_CANCELLED;
      if (now >= deadline_us)
        return NAT_PMP_DEADLINE;

      r = getnatpmprequesttimeout (np, &tv);
      if (r < 0)
        return r;
      step_us = (gint64) tv.tv_sec * G_USEC_PER_SEC + tv.tv_usec;
      step_us = CLAMP (step_us, 0, NAT_PMP_STEP_MS * 1000);
      step_us = MIN (step_us, deadline_us - now);
      tv.tv_sec = step_us / G_USEC_PER_SEC;
      tv.tv_usec = step_us % G_USEC_PER_SEC;

      FD_ZERO (&fds);
      FD_SET (np->s, &fds);
      if (select (np->s + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
        return NATPMP_ERR_SOCKETERROR;

      r = readnatpmpresponseorretry (np, response);
      if (r != NATPMP_TRYAGAIN)
        return r;
    }
}

static const char *
nat_pmp_strerror (int r)
{
  if (r == NAT_PMP_DEADLINE)
    return "no answer";
  if (r == NAT_PMP_CANCELLED)
    return "cancelled";
  return strnatpmperr (r);
}

/* inet_ntop, as inet_ntoa's static buffer is shared by every worker */
static char *
gateway_to_string (in_addr_t gateway)
{
  char buf[INET_ADDRSTRLEN] = "";
  struct in_addr in = { .s_addr = gateway };

  inet_ntop (AF_INET, &in, buf, sizeof buf);
  return g_strdup (buf);
}

/* our source address towards the gateway: the address NAT-PMP maps to */
static char *
nat_pmp_local_address (natpmp_t *np)
{
  struct sockaddr_in local;
  socklen_t len = sizeof local;
  char buf[INET_ADDRSTRLEN] = "";

  if (getsockname (np->s, (struct sockaddr *) &local, &len) < 0 || local.sin_family != AF_INET)
    return NULL;
  inet_ntop (AF_INET, &local.sin_addr, buf, sizeof buf);
  return g_strdup (buf);
}

/* One mapping request (lifetime 0 with port 0 deletes: RFC 6886 §3.4). */
static int
nat_pmp_request (natpmp_t     *np,
                 PortJob      *job,
                 guint16       suggested_port,
                 guint32       lifetime_s,
                 gint64        deadline_us,
                 natpmpresp_t *response,
                 GCancellable *cancellable)
{
  int proto = job->protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP ? NATPMP_PROTOCOL_TCP
                                                              : NATPMP_PROTOCOL_UDP;
  int r;

  r = sendnewportmappingrequest (np, proto, job->internal_port, suggested_port, lifetime_s);
  if (r < 0)
    return r;
  return nat_pmp_wait (np, response, deadline_us, cancellable);
}

static gboolean
nat_pmp_map (GTask        *task,
             PortJob      *job,
             GString      *reason,
             GCancellable *cancellable)
{
  natpmp_t np;
  natpmpresp_t response;
  gint64 deadline_us = g_get_monotonic_time () + job->nat_pmp_deadline_ms * 1000;
  g_autofree char *gateway = NULL;
  int r;

  r = initnatpmp (&np, job->gateway != 0, job->gateway);
  if (r < 0)
    {
      job->nat_pmp_answer = ANSWER_NONE;
      g_string_append_printf (reason, "NAT-PMP: %s", nat_pmp_strerror (r));
      return FALSE;
    }
  gateway = gateway_to_string (np.gateway);
  job->gateway = np.gateway;
  job->nat_pmp_source = nat_pmp_local_address (&np);

  /* the external address first (RFC 6886 §3.2): it is also the cheapest "is anyone there" */
  r = sendpublicaddressrequest (&np);
  if (r >= 0)
    r = nat_pmp_wait (&np, &response, deadline_us, cancellable);
  if (r == 0)
    {
      job->nat_pmp_answer = ANSWER_YES;
      g_free (job->external_address);
      job->external_address = gateway_to_string (response.pnu.publicaddress.addr.s_addr);
    }
  else if (r == NAT_PMP_CANCELLED)
    {
      closenatpmp (&np);
      return FALSE;
    }
  else if (r == NAT_PMP_DEADLINE || r == NATPMP_ERR_NOGATEWAYSUPPORT)
    {
      /* before our deadline, NOGATEWAYSUPPORT means an ICMP port unreachable */
      job->nat_pmp_answer = ANSWER_NONE;
      g_string_append_printf (reason, "NAT-PMP: gateway %s %s", gateway,
                              r == NAT_PMP_DEADLINE ? "did not answer" : "refused port 5351");
      closenatpmp (&np);
      return FALSE;
    }
  else
    {
      /* an error answer (miniupnpd: "network failure" without a public address) still
       * shows a NAT-PMP server: ask for the mapping all the same */
      job->nat_pmp_answer = ANSWER_YES;
      g_debug ("NAT-PMP public address from %s: %d %s", gateway, r, nat_pmp_strerror (r));
    }

  r = nat_pmp_request (&np, job, job->internal_port, job->lifetime_s, deadline_us, &response,
                       cancellable);
  if (r == 0 && !g_task_set_return_on_cancel (task, FALSE))
    r = NAT_PMP_CANCELLED;
  if (r == NAT_PMP_CANCELLED || r == NAT_PMP_DEADLINE)
    {
      /* the router may hold a mapping whose answer we did not wait for: drop it, best
       * effort, one datagram */
      sendnewportmappingrequest (&np, job->protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP
                                        ? NATPMP_PROTOCOL_TCP : NATPMP_PROTOCOL_UDP,
                                 job->internal_port, 0, 0);
    }
  closenatpmp (&np);
  if (r == NAT_PMP_CANCELLED)
    return FALSE;
  if (r != 0)
    {
      g_string_append_printf (reason, "NAT-PMP: gateway %s refused the mapping: %s", gateway,
                              nat_pmp_strerror (r));
      return FALSE;
    }

  job->method = PINHOLE_PATH_KIND_NAT_PMP;
  job->external_port = response.pnu.newportmapping.mappedpublicport;
  job->granted_lifetime_s = response.pnu.newportmapping.lifetime;
  return TRUE;
}

/* renews (lifetime > 0) or deletes (lifetime 0) job's NAT-PMP mapping at job->gateway */
static int
nat_pmp_refresh (PortJob      *job,
                 guint32       lifetime_s,
                 GCancellable *cancellable)
{
  natpmp_t np;
  natpmpresp_t response;
  gint64 deadline_us = g_get_monotonic_time () + job->nat_pmp_deadline_ms * 1000;
  int r;

  r = initnatpmp (&np, 1, job->gateway);
  if (r < 0)
    return r;
  if (lifetime_s > 0)
    {
      /* a renewal also notices a new external address (RFC 6886 §3.2.1) */
      r = sendpublicaddressrequest (&np);
      if (r >= 0)
        r = nat_pmp_wait (&np, &response, deadline_us, cancellable);
      if (r == 0)
        {
          g_free (job->external_address);
          job->external_address = gateway_to_string (response.pnu.publicaddress.addr.s_addr);
        }
      else if (r == NAT_PMP_CANCELLED)
        {
          closenatpmp (&np);
          return r;
        }
    }
  r = nat_pmp_request (&np, job, lifetime_s ? job->external_port : 0, lifetime_s,
                       deadline_us, &response, cancellable);
  closenatpmp (&np);
  if (r == 0 && lifetime_s > 0)
    {
      job->external_port = response.pnu.newportmapping.mappedpublicport;
      job->granted_lifetime_s = response.pnu.newportmapping.lifetime;
    }
  return r;
}

/* ---- workers ---- */

static void
map_thread (GTask        *task,
            gpointer      source_object,
            gpointer      task_data,
            GCancellable *cancellable)
{
  PortJob *job = task_data;
  g_autoptr(GString) reason = g_string_new (NULL);
  gboolean ok = FALSE;

  job->upnp_answer = ANSWER_NOT_TRIED;
  job->nat_pmp_answer = ANSWER_NOT_TRIED;

  if ((job->methods & PINHOLE_PORT_MAP_METHOD_UPNP) && !g_cancellable_is_cancelled (cancellable))
    ok = upnp_map (task, job, reason, cancellable);

  if (!ok && (job->methods & PINHOLE_PORT_MAP_METHOD_NAT_PMP)
      && !g_cancellable_is_cancelled (cancellable))
    {
      if (reason->len > 0)
        g_string_append (reason, "; ");
      ok = nat_pmp_map (task, job, reason, cancellable);
    }

  if (ok && g_cancellable_is_cancelled (cancellable))
    {
      /* the caller is gone: take the mapping back */
      if (job->method == PINHOLE_PATH_KIND_UPNP)
        upnp_delete (job);
      else
        nat_pmp_refresh (job, 0, NULL);
      ok = FALSE;
    }

  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "port mapping cancelled");
      return;
    }
  if (!ok)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                               "no port mapping: %s",
                               reason->len ? reason->str : "no method enabled");
      return;
    }

  g_clear_pointer (&job->reason, g_free);
  if (reason->len > 0)
    job->reason = g_strdup (reason->str);
  g_task_return_boolean (task, TRUE);
}

static void
renew_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  PortJob *job = task_data;
  int r;

  if (job->method == PINHOLE_PATH_KIND_UPNP)
    {
      guint granted = 0;

      r = upnp_add (job, job->control_url, job->service_type, job->external_port, &granted);
      if (r == UPNPCOMMAND_SUCCESS)
        {
          char address[64] = "";

          job->granted_lifetime_s = granted;
          if (UPNP_GetExternalIPAddress (job->control_url, job->service_type, address)
              == UPNPCOMMAND_SUCCESS && address[0] != '\0')
            {
              g_free (job->external_address);
              job->external_address = g_strdup (address);
            }
          g_task_return_boolean (task, TRUE);
        }
      else
        g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                                 "UPnP-IGD renewal failed: %d %s", r, upnp_strerror (r));
      return;
    }

  r = nat_pmp_refresh (job, job->lifetime_s, cancellable);
  if (r == NAT_PMP_CANCELLED)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "renewal cancelled");
  else if (r != 0)
    g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                             "NAT-PMP renewal failed: %s", nat_pmp_strerror (r));
  else
    g_task_return_boolean (task, TRUE);
}

typedef struct
{
  GPtrArray *jobs;      /* PortJob */
  gint64     deadline_us;
} DeleteJobs;

static void
delete_jobs_free (DeleteJobs *d)
{
  g_ptr_array_unref (d->jobs);
  g_free (d);
}

static void
delete_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  DeleteJobs *d = task_data;
  guint failed = 0, i;
  g_autoptr(GString) errors = g_string_new (NULL);

  for (i = 0; i < d->jobs->len; i++)
    {
      PortJob *job = g_ptr_array_index (d->jobs, i);
      gint64 left_ms = (d->deadline_us - g_get_monotonic_time ()) / 1000;
      int r;

      if (left_ms <= 0)
        {
          failed += d->jobs->len - i;
          g_string_append (errors, " (out of time)");
          break;
        }
      if (job->method == PINHOLE_PATH_KIND_UPNP)
        {
          r = upnp_delete (job);
          if (r != UPNPCOMMAND_SUCCESS)
            {
              failed++;
              g_string_append_printf (errors, " UPnP %s %u: %d %s",
                                      protocol_name (job->protocol), job->external_port, r,
                                      upnp_strerror (r));
            }
        }
      else
        {
          job->nat_pmp_deadline_ms = (guint) MIN (left_ms, job->nat_pmp_deadline_ms);
          r = nat_pmp_refresh (job, 0, NULL);
          if (r != 0)
            {
              failed++;
              g_string_append_printf (errors, " NAT-PMP %s %u: %s",
                                      protocol_name (job->protocol), job->external_port,
                                      nat_pmp_strerror (r));
            }
        }
    }

  if (failed > 0)
    g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_FAILED,
                             "%u of %u port mappings not deleted:%s", failed, d->jobs->len,
                             errors->str);
  else
    g_task_return_boolean (task, TRUE);
}

/* ---- main-context side ---- */

static GInetAddress *
address_or_null (const char *s)
{
  return s ? g_inet_address_new_from_string (s) : NULL;
}

static void
set_external_address (PinholePortMapper *self,
                      const char        *address)
{
  g_autoptr(GInetAddress) a = address_or_null (address);

  if (a != NULL)
    g_set_object (&self->external_address, a);
}

static PinholePortMapping *
mapping_from_job (const PortJob *job,
                  guint          id)
{
  PinholePortMapping *m = g_new0 (PinholePortMapping, 1);

  m->id = id;
  m->kind = job->method;
  m->protocol = job->protocol;
  m->internal_port = job->internal_port;
  m->internal_address = address_or_null (job->method == PINHOLE_PATH_KIND_UPNP
                                          ? job->lan_address : job->nat_pmp_source);
  m->external_address = address_or_null (job->external_address);
  m->external_port = job->external_port;
  m->lifetime_s = job->granted_lifetime_s;
  m->reason = g_strdup (job->reason);
  return m;
}

static gint64
renew_delay_ms (guint lifetime_s)
{
  /* renew at half the lease: RFC 6886 §3.3; a permanent UPnP mapping is checked as often
   * as a default lease would be renewed, to notice a router that forgot it */
  if (lifetime_s == 0)
    lifetime_s = PINHOLE_PORT_MAPPER_DEFAULT_LEASE_S;
  return (gint64) lifetime_s * 1000 / 2;
}

static void
record_set_lease (Record *record,
                  guint   lifetime_s)
{
  record->expires_us = lifetime_s == 0
    ? G_MAXINT64 : g_get_monotonic_time () + (gint64) lifetime_s * G_USEC_PER_SEC;
}

static void
lose_record (PinholePortMapper *self,
             Record            *record,
             const GError      *error)
{
  g_autoptr(PinholePortMapping) mapping = pinhole_port_mapping_copy (record->mapping);

  g_debug ("lost mapping %u: %s", mapping->id, error->message);
  g_hash_table_remove (self->records, GUINT_TO_POINTER (mapping->id));
  g_signal_emit (self, signals[SIGNAL_MAPPING_LOST], 0, mapping, error);
}

static void
renew_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  PinholePortMapper *self = PINHOLE_PORT_MAPPER (source);
  guint id = GPOINTER_TO_UINT (user_data);
  PortJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  Record *record;
  gboolean changed;

  g_task_propagate_boolean (G_TASK (result), &error);
  g_assert (self->renewals_in_flight > 0);
  self->renewals_in_flight--;
  if (self->shut_down)
    {
      /* deleting now cannot race with a renewal that re-adds the mapping after it */
      if (self->renewals_in_flight == 0 && self->shutdown_task != NULL)
        {
          g_autoptr(GTask) task = g_steal_pointer (&self->shutdown_task);
          start_delete (self, task);
        }
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  record = g_hash_table_lookup (self->records, GUINT_TO_POINTER (id));
  if (record == NULL)
    return;
  record->renewing = FALSE;

  if (error != NULL)
    {
      gint64 left_ms = record->expires_us == G_MAXINT64
        ? G_MAXINT64 : (record->expires_us - g_get_monotonic_time ()) / 1000;

      if (left_ms > RENEW_MIN_LEFT_MS && record->expires_us != G_MAXINT64)
        {
          g_debug ("renewing mapping %u failed (%s); again in %" G_GINT64_FORMAT " ms", id,
                   error->message, left_ms / 2);
          schedule_renewal (self, record, left_ms / 2);
          return;
        }
      lose_record (self, record, error);
      return;
    }

  changed = record->job->external_port != job->external_port
    || g_strcmp0 (record->job->external_address, job->external_address) != 0;
  record->job->external_port = job->external_port;
  g_free (record->job->external_address);
  record->job->external_address = g_strdup (job->external_address);
  record->job->granted_lifetime_s = job->granted_lifetime_s;
  record->job->lifetime_s = job->lifetime_s;
  g_clear_object (&record->mapping->external_address);
  record->mapping->external_address = address_or_null (job->external_address);
  set_external_address (self, job->external_address);
  record->mapping->external_port = job->external_port;
  record->mapping->lifetime_s = job->granted_lifetime_s;
  record_set_lease (record, job->granted_lifetime_s);
  g_debug ("renewed mapping %u: lease %u s", id, job->granted_lifetime_s);
  schedule_renewal (self, record, renew_delay_ms (job->granted_lifetime_s));
  if (changed)
    g_signal_emit (self, signals[SIGNAL_MAPPING_CHANGED], 0, record->mapping);
}

typedef struct
{
  PinholePortMapper *self;   /* borrowed: the mapper removes its sources in dispose */
  guint              id;
} RenewSource;

static gboolean
renew_source_cb (gpointer user_data)
{
  RenewSource *rs = user_data;
  PinholePortMapper *self = rs->self;
  Record *record = g_hash_table_lookup (self->records, GUINT_TO_POINTER (rs->id));
  g_autoptr(GTask) task = NULL;

  if (record == NULL)
    return G_SOURCE_REMOVE;
  g_clear_pointer (&record->renew_source, g_source_unref);
  record->renewing = TRUE;
  self->renewals_in_flight++;

  task = g_task_new (self, self->cancellable, renew_done_cb, GUINT_TO_POINTER (rs->id));
  g_task_set_source_tag (task, renew_source_cb);
  g_task_set_task_data (task, port_job_copy (record->job), (GDestroyNotify) port_job_free);
  g_task_run_in_thread (task, renew_thread);
  return G_SOURCE_REMOVE;
}

static void
schedule_renewal (PinholePortMapper *self,
                  Record            *record,
                  gint64             delay_ms)
{
  RenewSource *rs = g_new0 (RenewSource, 1);
  GSource *source;

  rs->self = self;
  rs->id = record->mapping->id;
  if (record->renew_source != NULL)
    {
      g_source_destroy (record->renew_source);
      g_source_unref (record->renew_source);
    }
  source = g_timeout_source_new ((guint) CLAMP (delay_ms, 0, G_MAXUINT));
  g_source_set_callback (source, renew_source_cb, rs, g_free);
  g_source_set_static_name (source, "[pinhole] port mapping renewal");
  g_source_attach (source, self->context);
  record->renew_source = source;
}

/* ---- public API ---- */

PinholePortMapper *
pinhole_port_mapper_new (void)
{
  return g_object_new (PINHOLE_TYPE_PORT_MAPPER, NULL);
}

void
pinhole_port_mapper_set_methods (PinholePortMapper     *self,
                                 PinholePortMapMethods  methods)
{
  g_return_if_fail (PINHOLE_IS_PORT_MAPPER (self));
  self->methods = methods & PINHOLE_PORT_MAP_METHOD_ALL;
}

PinholePortMapMethods
pinhole_port_mapper_get_methods (PinholePortMapper *self)
{
  g_return_val_if_fail (PINHOLE_IS_PORT_MAPPER (self), 0);
  return self->methods;
}

void
pinhole_port_mapper_map_async (PinholePortMapper      *self,
                               PinholePortMapProtocol  protocol,
                               guint16                 internal_port,
                               GInetAddress           *internal_address,
                               guint                   lifetime_s,
                               GCancellable           *cancellable,
                               GAsyncReadyCallback     callback,
                               gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  PortJob *job;

  g_return_if_fail (PINHOLE_IS_PORT_MAPPER (self));
  g_return_if_fail (protocol == PINHOLE_PORT_MAP_PROTOCOL_UDP
                    || protocol == PINHOLE_PORT_MAP_PROTOCOL_TCP);
  g_return_if_fail (internal_port != 0);
  g_return_if_fail (internal_address == NULL || G_IS_INET_ADDRESS (internal_address));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_port_mapper_map_async);

  if (self->shut_down)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "the port mapper is shut down");
      return;
    }

  job = g_new0 (PortJob, 1);
  job->kind = JOB_MAP;
  job->methods = self->methods;
  job->protocol = protocol;
  job->internal_port = internal_port;
  job->internal_address = internal_address ? g_inet_address_to_string (internal_address) : NULL;
  job->lifetime_s = lifetime_s;
  job->upnp_discover_ms = PINHOLE_PORT_MAPPER_UPNP_DISCOVER_MS;
  job->nat_pmp_deadline_ms = PINHOLE_PORT_MAPPER_NAT_PMP_DEADLINE_MS;
  g_task_set_task_data (task, job, (GDestroyNotify) port_job_free);
  /* discovery cannot be interrupted: a cancelled caller gets its answer at once and the
   * worker finishes alone, taking back anything it made (map_thread) */
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, map_thread);
}

static void
note_answers (PinholePortMapper *self,
              const PortJob     *job)
{
  if (job == NULL)
    return;
  if (job->upnp_answer != ANSWER_NOT_TRIED)
    self->upnp_answer = job->upnp_answer;
  if (job->nat_pmp_answer != ANSWER_NOT_TRIED)
    self->nat_pmp_answer = job->nat_pmp_answer;
}

PinholePortMapping *
pinhole_port_mapper_map_finish (PinholePortMapper  *self,
                                GAsyncResult       *result,
                                GError            **error)
{
  GTask *task = G_TASK (result);
  g_autoptr(GError) local_error = NULL;
  PortJob *job;
  Record *record;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (task) == pinhole_port_mapper_map_async, NULL);

  if (!g_task_propagate_boolean (task, &local_error))
    {
      /* a cancelled worker may still be running (return-on-cancel): leave its job alone */
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        note_answers (self, g_task_get_task_data (task));
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  job = g_task_get_task_data (task);
  note_answers (self, job);

  if (job->external_address)
    set_external_address (self, job->external_address);

  if (self->shut_down)
    {
      /* shut down while the worker mapped: take it back without keeping it */
      g_autoptr(GTask) del = g_task_new (NULL, NULL, NULL, NULL);
      DeleteJobs *d = g_new0 (DeleteJobs, 1);

      d->jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) port_job_free);
      g_ptr_array_add (d->jobs, port_job_copy (job));
      d->deadline_us = g_get_monotonic_time () + SHUTDOWN_DEADLINE_MS * 1000;
      g_task_set_task_data (del, d, (GDestroyNotify) delete_jobs_free);
      g_task_run_in_thread (del, delete_thread);
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED, "the port mapper is shut down");
      return NULL;
    }

  record = g_new0 (Record, 1);
  record->job = port_job_copy (job);
  record->mapping = mapping_from_job (job, ++self->next_id);
  record_set_lease (record, job->granted_lifetime_s);
  g_hash_table_insert (self->records, GUINT_TO_POINTER (record->mapping->id), record);
  schedule_renewal (self, record, renew_delay_ms (job->granted_lifetime_s));

  {
    g_autofree char *s = pinhole_port_mapping_to_string (record->mapping);
    g_debug ("mapped %s", s);
  }
  return pinhole_port_mapping_copy (record->mapping);
}

static GPtrArray *
take_all_jobs (PinholePortMapper *self)
{
  GPtrArray *jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) port_job_free);
  GHashTableIter iter;
  Record *record;

  g_hash_table_iter_init (&iter, self->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &record))
    g_ptr_array_add (jobs, port_job_copy (record->job));
  g_hash_table_remove_all (self->records);
  return jobs;
}

static void
start_delete (PinholePortMapper *self,
              GTask             *task)
{
  DeleteJobs *d = g_new0 (DeleteJobs, 1);

  d->jobs = take_all_jobs (self);
  d->deadline_us = g_get_monotonic_time () + SHUTDOWN_DEADLINE_MS * 1000;
  g_task_set_task_data (task, d, (GDestroyNotify) delete_jobs_free);
  g_task_run_in_thread (task, delete_thread);
}

void
pinhole_port_mapper_shutdown_async (PinholePortMapper   *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GHashTableIter iter;
  Record *record;

  g_return_if_fail (PINHOLE_IS_PORT_MAPPER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pinhole_port_mapper_shutdown_async);

  if (self->shut_down)
    {
      g_task_return_new_error (task, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                               "the port mapper is shut down already");
      return;
    }
  self->shut_down = TRUE;
  /* NAT-PMP renewals stop waiting at once; UPnP ones finish their one SOAP call */
  g_cancellable_cancel (self->cancellable);
  g_hash_table_iter_init (&iter, self->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &record))
    if (record->renew_source != NULL)
      {
        g_source_destroy (record->renew_source);
        g_clear_pointer (&record->renew_source, g_source_unref);
      }

  if (self->renewals_in_flight > 0)
    self->shutdown_task = g_steal_pointer (&task);
  else
    start_delete (self, task);
}

gboolean
pinhole_port_mapper_shutdown_finish (PinholePortMapper  *self,
                                     GAsyncResult       *result,
                                     GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

GInetAddress *
pinhole_port_mapper_get_external_address (PinholePortMapper *self)
{
  g_return_val_if_fail (PINHOLE_IS_PORT_MAPPER (self), NULL);
  return self->external_address;
}

GPtrArray *
pinhole_port_mapper_dup_mappings (PinholePortMapper *self)
{
  GPtrArray *out;
  GHashTableIter iter;
  Record *record;

  g_return_val_if_fail (PINHOLE_IS_PORT_MAPPER (self), NULL);

  out = g_ptr_array_new_with_free_func ((GDestroyNotify) pinhole_port_mapping_free);
  g_hash_table_iter_init (&iter, self->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &record))
    g_ptr_array_add (out, pinhole_port_mapping_copy (record->mapping));
  return out;
}

static const char *
answer_name (Answer a)
{
  switch (a)
    {
    case ANSWER_YES:
      return "answered";
    case ANSWER_NONE:
      return "none";
    case ANSWER_NOT_TRIED:
    default:
      return "not tried";
    }
}

char *
pinhole_port_mapper_dup_summary (PinholePortMapper *self)
{
  g_return_val_if_fail (PINHOLE_IS_PORT_MAPPER (self), NULL);
  return g_strdup_printf ("upnp: %s, nat-pmp: %s", answer_name (self->upnp_answer),
                          answer_name (self->nat_pmp_answer));
}

/* ---- GObject ---- */

static void
pinhole_port_mapper_dispose (GObject *object)
{
  PinholePortMapper *self = PINHOLE_PORT_MAPPER (object);

  g_cancellable_cancel (self->cancellable);
  if (self->records != NULL && g_hash_table_size (self->records) > 0)
    {
      /* best effort: a worker of its own deletes what shutdown did not */
      g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);
      DeleteJobs *d = g_new0 (DeleteJobs, 1);

      d->jobs = take_all_jobs (self);
      d->deadline_us = g_get_monotonic_time () + SHUTDOWN_DEADLINE_MS * 1000;
      g_task_set_task_data (task, d, (GDestroyNotify) delete_jobs_free);
      g_task_run_in_thread (task, delete_thread);
    }
  g_clear_pointer (&self->records, g_hash_table_unref);
  g_clear_object (&self->external_address);

  G_OBJECT_CLASS (pinhole_port_mapper_parent_class)->dispose (object);
}

static void
pinhole_port_mapper_finalize (GObject *object)
{
  PinholePortMapper *self = PINHOLE_PORT_MAPPER (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->shutdown_task);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (pinhole_port_mapper_parent_class)->finalize (object);
}

static void
pinhole_port_mapper_class_init (PinholePortMapperClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pinhole_port_mapper_dispose;
  object_class->finalize = pinhole_port_mapper_finalize;

  /**
   * PinholePortMapper::mapping-changed:
   * @mapping: the mapping with its new external address or port
   * A renewal gave the mapping another external address or port.
   */
  signals[SIGNAL_MAPPING_CHANGED] =
    g_signal_new ("mapping-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1,
                  PINHOLE_TYPE_PORT_MAPPING | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * PinholePortMapper::mapping-lost:
   * @mapping: the mapping as it was
   * @error: why it could not be renewed
   * The router would not renew the mapping; the mapper no longer keeps it.
   */
  signals[SIGNAL_MAPPING_LOST] =
    g_signal_new ("mapping-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2,
                  PINHOLE_TYPE_PORT_MAPPING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
pinhole_port_mapper_init (PinholePortMapper *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
  self->records = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) record_free);
  self->methods = PINHOLE_PORT_MAP_METHOD_ALL;
}
