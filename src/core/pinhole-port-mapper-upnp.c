/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-port-mapper-upnp.c: the UPnP-IGD backend of PinholePortMapper (miniupnpc): SSDP
 * discovery, AddPortMapping (which also renews) and DeletePortMapping, in the mapper's
 * GTask workers, as miniupnpc blocks. */
#define G_LOG_DOMAIN "pinhole-portmap"

#include "pinhole-port-mapper-private.h"

#include <string.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "pinhole-error.h"

/* external ports tried after the internal port is taken at the IGD (UPnP error 718) */
#define UPNP_PORT_TRIES 4

/* UPnP-IGD v1 error codes we act on (UPnP IGD WANIPConnection:1 §2.4.16) */
#define UPNP_ERR_CONFLICT         718
#define UPNP_ERR_ONLY_PERMANENT   725

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
upnp_read_external_address (Igd                  *igd,
                            PinholePortMapperJob *job)
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
upnp_add (PinholePortMapperJob *job,
          const char           *control_url,
          const char           *service_type,
          guint16               external_port,
          guint                *out_lifetime_s)
{
  const char *protocol = _pinhole_port_mapper_protocol_name (job->protocol);
  char ext[8], in[8], lease[16];
  guint asked = job->lifetime_s;
  int r;

  g_snprintf (ext, sizeof ext, "%u", external_port);
  g_snprintf (in, sizeof in, "%u", job->internal_port);
  g_snprintf (lease, sizeof lease, "%u", asked);
  r = UPNP_AddPortMapping (control_url, service_type, ext, in, job->lan_address, "pinhole",
                           protocol, NULL, lease);
  if (r == UPNP_ERR_ONLY_PERMANENT && asked != 0)
    {
      asked = 0;
      r = UPNP_AddPortMapping (control_url, service_type, ext, in, job->lan_address,
                               "pinhole", protocol, NULL, "0");
      if (r == UPNPCOMMAND_SUCCESS)
        job->lifetime_s = 0;
    }
  if (r != UPNPCOMMAND_SUCCESS)
    return r;

  *out_lifetime_s = asked;
  {
    /* the lease the IGD really holds, when it says (miniupnpd does, as time left) */
    char client[64] = "", port[8] = "", desc[80] = "", enabled[8] = "", left[16] = "";

    if (UPNP_GetSpecificPortMappingEntry (control_url, service_type, ext, protocol, NULL,
                                          client, port, desc, enabled, left)
        == UPNPCOMMAND_SUCCESS)
      {
        guint64 v;

        if (g_ascii_string_to_unsigned (left, 10, 0, G_MAXUINT32, &v, NULL) && v > 0)
          *out_lifetime_s = MIN ((guint) v, asked == 0 ? (guint) v : asked);
      }
  }
  return r;
}

static gboolean
upnp_map (GTask                *task,
          PinholePortMapperJob *job,
          GString              *reason,
          GCancellable         *cancellable)
{
  Igd igd;
  int r = 0;
  guint try;

  if (!upnp_find_igd (job->upnp_discover_ms, &igd, reason))
    {
      job->upnp_answer = PINHOLE_PORT_MAPPER_ANSWER_NONE;
      return FALSE;
    }
  job->upnp_answer = PINHOLE_PORT_MAPPER_ANSWER_YES;

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
      g_debug ("UPnP AddPortMapping %s %u -> %s:%u: %d %s",
               _pinhole_port_mapper_protocol_name (job->protocol), port, job->lan_address,
               job->internal_port, r, upnp_strerror (r));
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
upnp_delete (const PinholePortMapperJob *job)
{
  char ext[8];

  g_snprintf (ext, sizeof ext, "%u", job->external_port);
  return UPNP_DeletePortMapping (job->control_url, job->service_type, ext,
                                 _pinhole_port_mapper_protocol_name (job->protocol), NULL);
}

static gboolean
upnp_renew (PinholePortMapperJob  *job,
            GCancellable          *cancellable,
            GError               **error)
{
  guint granted = 0;
  int r;

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
      return TRUE;
    }
  g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
               "UPnP-IGD renewal failed: %d %s", r, upnp_strerror (r));
  return FALSE;
}

/* SOAP calls have miniupnpc's own timeouts: left_ms is not needed */
static gboolean
upnp_remove (PinholePortMapperJob  *job,
             gint64                 left_ms,
             GError               **error)
{
  int r = upnp_delete (job);

  if (r != UPNPCOMMAND_SUCCESS)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "UPnP %s %u: %d %s",
                   _pinhole_port_mapper_protocol_name (job->protocol), job->external_port, r,
                   upnp_strerror (r));
      return FALSE;
    }
  return TRUE;
}

const PinholePortMapperBackend _pinhole_port_mapper_upnp_backend = {
  .kind = PINHOLE_PATH_KIND_UPNP,
  .method = PINHOLE_PORT_MAP_METHOD_UPNP,
  .map = upnp_map,
  .renew = upnp_renew,
  .remove = upnp_remove,
};
