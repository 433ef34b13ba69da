/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-port-mapper-natpmp.c: the NAT-PMP backend of PinholePortMapper (RFC 6886 via
 * libnatpmp): the external address (§3.2), map and renew (§3.3), delete (§3.4), in the
 * mapper's GTask workers, as libnatpmp blocks. */
#define G_LOG_DOMAIN "pinhole-portmap"

#include "pinhole-port-mapper-private.h"

#include <errno.h>
#include <sys/select.h>
#include <arpa/inet.h>

#define ENABLE_STRNATPMPERR 1
#include <natpmp.h>

#include "pinhole-error.h"

/* how long a libnatpmp wait sleeps at most between looks at the cancellable */
#define NAT_PMP_STEP_MS 50

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

/* the lease to ask for: NAT-PMP has no permanent mapping (lifetime 0 deletes, RFC 6886
 * §3.4), so a permanent one (0) is asked for as the default lease and renewed */
static guint32
asked_lifetime (const PinholePortMapperJob *job)
{
  return job->lifetime_s > 0 ? job->lifetime_s : PINHOLE_PORT_MAPPER_DEFAULT_LEASE_S;
}

/* One mapping request (lifetime 0 with port 0 deletes: RFC 6886 §3.4). */
static int
nat_pmp_request (natpmp_t             *np,
                 PinholePortMapperJob *job,
                 guint16               suggested_port,
                 guint32               lifetime_s,
                 gint64                deadline_us,
                 natpmpresp_t         *response,
                 GCancellable         *cancellable)
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
nat_pmp_map (GTask                *task,
             PinholePortMapperJob *job,
             GString              *reason,
             GCancellable         *cancellable)
{
  natpmp_t np;
  natpmpresp_t response;
  gint64 deadline_us = g_get_monotonic_time () + job->nat_pmp_deadline_ms * 1000;
  g_autofree char *gateway = NULL;
  int r;

  if (job->port_5351_silent)
    {
      /* PCP (RFC 6887) shares port 5351 and waited there for its whole deadline: a gateway
       * that ignored it is not asked again for as long */
      gateway = gateway_to_string (job->gateway);
      job->nat_pmp_answer = PINHOLE_PORT_MAPPER_ANSWER_NONE;
      g_string_append_printf (reason, "NAT-PMP: gateway %s did not answer (nor PCP, on the "
                              "same port)", gateway);
      return FALSE;
    }
  r = initnatpmp (&np, job->gateway != 0, job->gateway);
  if (r < 0)
    {
      job->nat_pmp_answer = PINHOLE_PORT_MAPPER_ANSWER_NONE;
      g_string_append_printf (reason, "NAT-PMP: %s", nat_pmp_strerror (r));
      return FALSE;
    }
  gateway = gateway_to_string (np.gateway);
  job->gateway = np.gateway;
  g_free (job->gateway_source);
  job->gateway_source = nat_pmp_local_address (&np);

  /* the external address first (RFC 6886 §3.2): it is also the cheapest "is anyone there" */
  r = sendpublicaddressrequest (&np);
  if (r >= 0)
    r = nat_pmp_wait (&np, &response, deadline_us, cancellable);
  if (r == 0)
    {
      job->nat_pmp_answer = PINHOLE_PORT_MAPPER_ANSWER_YES;
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
      job->nat_pmp_answer = PINHOLE_PORT_MAPPER_ANSWER_NONE;
      g_string_append_printf (reason, "NAT-PMP: gateway %s %s", gateway,
                              r == NAT_PMP_DEADLINE ? "did not answer" : "refused port 5351");
      closenatpmp (&np);
      return FALSE;
    }
  else
    {
      /* an error answer (miniupnpd: "network failure" without a public address) still
       * shows a NAT-PMP server: ask for the mapping all the same */
      job->nat_pmp_answer = PINHOLE_PORT_MAPPER_ANSWER_YES;
      g_debug ("NAT-PMP public address from %s: %d %s", gateway, r, nat_pmp_strerror (r));
    }

  r = nat_pmp_request (&np, job, job->internal_port, asked_lifetime (job), deadline_us,
                       &response, cancellable);
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
nat_pmp_refresh (PinholePortMapperJob *job,
                 guint32               lifetime_s,
                 GCancellable         *cancellable)
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

static gboolean
nat_pmp_renew (PinholePortMapperJob  *job,
               GCancellable          *cancellable,
               GError               **error)
{
  int r = nat_pmp_refresh (job, asked_lifetime (job), cancellable);

  if (r == NAT_PMP_CANCELLED)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "renewal cancelled");
  else if (r != 0)
    g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH,
                 "NAT-PMP renewal failed: %s", nat_pmp_strerror (r));
  return r == 0;
}

static gboolean
nat_pmp_remove (PinholePortMapperJob  *job,
                gint64                 left_ms,
                GError               **error)
{
  int r;

  job->nat_pmp_deadline_ms = (guint) MIN (left_ms, job->nat_pmp_deadline_ms);
  r = nat_pmp_refresh (job, 0, NULL);
  if (r != 0)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_FAILED, "NAT-PMP %s %u: %s",
                   _pinhole_port_mapper_protocol_name (job->protocol), job->external_port,
                   nat_pmp_strerror (r));
      return FALSE;
    }
  return TRUE;
}

const PinholePortMapperBackend _pinhole_port_mapper_natpmp_backend = {
  .kind = PINHOLE_PATH_KIND_NAT_PMP,
  .method = PINHOLE_PORT_MAP_METHOD_NAT_PMP,
  .map = nat_pmp_map,
  .renew = nat_pmp_renew,
  .remove = nat_pmp_remove,
};
