/* SPDX-License-Identifier: GPL-3.0-or-later
 * test-port-mapper.c: PinholePortMapper where no router answers, in a network namespace of
 * its own (unshare), so that no SSDP or NAT-PMP packet leaves it: bounded failure, reasons,
 * cancellation. Mapping at a real router is tests/natlab/test-port-mapper.c. */
#define _GNU_SOURCE
#include "pinhole-error.h"
#include "pinhole-port-mapper.h"
#include "../pinhole-test-missing.h"
#include "pinhole-test-util.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

/* UPnP discovery plus the NAT-PMP deadline, with room for a loaded machine */
#define NO_PATH_BOUND_MS (PINHOLE_PORT_MAPPER_UPNP_DISCOVER_MS \
                          + PINHOLE_PORT_MAPPER_NAT_PMP_DEADLINE_MS + 1500)
#define CANCEL_BOUND_MS 500

static char *netns_unavailable;   /* why the namespace could not be made, or NULL */

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
require_netns (void)
{
  if (netns_unavailable == NULL)
    return TRUE;
  {
    g_autofree char *what = g_strdup_printf ("no network namespace: %s", netns_unavailable);

    ph_test_missing (what);
  }
  return FALSE;
}

static gboolean
run_ip (const char *args,
        GError    **error)
{
  g_autofree char *cmd = g_strdup_printf ("ip %s", args);
  g_autofree char *err = NULL;
  g_auto(GStrv) argv = NULL;
  int status;

  if (!g_shell_parse_argv (cmd, NULL, &argv, error))
    return FALSE;
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                     NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", cmd, err);
      return FALSE;
    }
  return TRUE;
}

/* a default route out of one end of a veth pair whose other end has no address: frames to
 * the "gateway" 192.0.2.1 (a fixed neighbour entry, so no ARP) are dropped inside our
 * namespace, as by a router that ignores us */
static gboolean
ensure_silent_gateway (void)
{
  static gboolean done;
  g_autoptr(GError) error = NULL;

  if (done)
    return TRUE;
  if (!run_ip ("link set lo up", &error)
      || !run_ip ("link add ph-gw0 type veth peer name ph-gw1", &error)
      || !run_ip ("addr add 192.0.2.2/24 dev ph-gw0", &error)
      || !run_ip ("link set ph-gw0 up", &error)
      || !run_ip ("link set ph-gw1 up", &error)
      || !run_ip ("neigh replace 192.0.2.1 lladdr 02:00:5e:00:02:01 dev ph-gw0", &error)
      || !run_ip ("route add default via 192.0.2.1", &error))
    {
      g_autofree char *what = g_strdup_printf ("cannot make a silent gateway: %s",
                                               error->message);

      ph_test_missing (what);
      return FALSE;
    }
  done = TRUE;
  return TRUE;
}

static void
map_expect_no_path (const char *reason_upnp,
                    const char *reason_pcp,
                    const char *reason_nat_pmp,
                    const char *summary)
{
  g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PinholePortMapping) mapping = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *got_summary = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 took_ms;

  pinhole_port_mapper_map_async (mapper, PINHOLE_PORT_MAP_PROTOCOL_UDP, 40000, NULL, 60, NULL,
                                 store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer *) &result, NO_PATH_BOUND_MS + 5000));
  took_ms = (g_get_monotonic_time () - start) / 1000;
  mapping = pinhole_port_mapper_map_finish (mapper, result, &error);
  g_assert_null (mapping);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_NO_PATH);
  g_test_message ("failed after %" G_GINT64_FORMAT " ms: %s", took_ms, error->message);
  g_assert_cmpint (took_ms, <, NO_PATH_BOUND_MS);
  g_assert_nonnull (strstr (error->message, reason_upnp));
  g_assert_nonnull (strstr (error->message, reason_pcp));
  g_assert_nonnull (strstr (error->message, reason_nat_pmp));

  got_summary = pinhole_port_mapper_dup_summary (mapper);
  g_assert_cmpstr (got_summary, ==, summary);
  g_assert_null (pinhole_port_mapper_get_external_address (mapper));
}

/* nothing but a down loopback: no route for SSDP, no default gateway for NAT-PMP */
static void
test_no_network (void)
{
  if (!require_netns ())
    return;
  map_expect_no_path ("no UPnP-IGD answered within 2 s", "PCP: no default gateway",
                      "NAT-PMP: cannot get default gateway", "upnp: none, pcp: none, nat-pmp: none");
}

static void
test_silent_gateway (void)
{
  if (!require_netns () || !ensure_silent_gateway ())
    return;
  /* PCP waits its deadline on port 5351; NAT-PMP, on the same port, is not made to wait
   * again (the bound has room for one of the two only) */
  map_expect_no_path ("no UPnP-IGD answered within 2 s",
                      "PCP: gateway 192.0.2.1 did not answer",
                      "NAT-PMP: gateway 192.0.2.1 did not answer (nor PCP",
                      "upnp: none, pcp: none, nat-pmp: none");
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
cancel_after (guint                 delay_ms,
              PinholePortMapMethods methods)
{
  g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(PinholePortMapping) mapping = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 took_ms;

  pinhole_port_mapper_set_methods (mapper, methods);
  g_timeout_add (delay_ms, cancel_cb, cancellable);
  pinhole_port_mapper_map_async (mapper, PINHOLE_PORT_MAP_PROTOCOL_TCP, 40001, NULL, 60,
                                 cancellable, store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer *) &result, NO_PATH_BOUND_MS + 5000));
  took_ms = (g_get_monotonic_time () - start) / 1000;
  mapping = pinhole_port_mapper_map_finish (mapper, result, &error);
  g_assert_null (mapping);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_test_message ("cancelled at %u ms, returned at %" G_GINT64_FORMAT " ms", delay_ms, took_ms);
  g_assert_cmpint (took_ms, >=, delay_ms);
  g_assert_cmpint (took_ms, <, delay_ms + CANCEL_BOUND_MS);
}

/* during SSDP discovery, which miniupnpc cannot interrupt */
static void
test_cancel_upnp (void)
{
  if (!require_netns () || !ensure_silent_gateway ())
    return;
  cancel_after (300, PINHOLE_PORT_MAP_METHOD_ALL);
}

/* during NAT-PMP retransmissions */
static void
test_cancel_nat_pmp (void)
{
  if (!require_netns () || !ensure_silent_gateway ())
    return;
  cancel_after (600, PINHOLE_PORT_MAP_METHOD_NAT_PMP);
}

/* during PCP retransmissions */
static void
test_cancel_pcp (void)
{
  if (!require_netns () || !ensure_silent_gateway ())
    return;
  cancel_after (600, PINHOLE_PORT_MAP_METHOD_PCP);
}

/* cancelled before it starts: no worker needed to say so */
static void
test_cancel_before (void)
{
  g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholePortMapping) mapping = NULL;

  if (!require_netns ())
    return;
  g_cancellable_cancel (cancellable);
  pinhole_port_mapper_map_async (mapper, PINHOLE_PORT_MAP_PROTOCOL_UDP, 40002, NULL, 60,
                                 cancellable, store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer *) &result, CANCEL_BOUND_MS));
  mapping = pinhole_port_mapper_map_finish (mapper, result, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (mapping);
}

/* with no mapping, shutdown has nothing to delete; a later map is refused */
static void
test_shutdown_empty (void)
{
  g_autoptr(PinholePortMapper) mapper = pinhole_port_mapper_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PinholePortMapping) mapping = NULL;
  g_autoptr(GPtrArray) mappings = NULL;

  if (!require_netns ())
    return;
  pinhole_port_mapper_shutdown_async (mapper, NULL, store_result_cb, &result);
  g_assert_true (ph_wait_pointer ((gpointer *) &result, 1000));
  g_assert_true (pinhole_port_mapper_shutdown_finish (mapper, result, &error));
  g_assert_no_error (error);

  pinhole_port_mapper_map_async (mapper, PINHOLE_PORT_MAP_PROTOCOL_UDP, 40003, NULL, 60, NULL,
                                 store_result_cb, &result2);
  g_assert_true (ph_wait_pointer ((gpointer *) &result2, 1000));
  mapping = pinhole_port_mapper_map_finish (mapper, result2, &error);
  g_assert_null (mapping);
  g_assert_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED);
  mappings = pinhole_port_mapper_dup_mappings (mapper);
  g_assert_cmpuint (mappings->len, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  /* before any thread exists: unshare moves only the calling thread, and threads made
   * later inherit its namespace */
  if (unshare (CLONE_NEWNET) != 0)
    netns_unavailable = g_strdup_printf ("unshare(CLONE_NEWNET): %s", g_strerror (errno));

  g_test_init (&argc, &argv, NULL);

  /* the order matters: the silent gateway, once made, stays for the later cases */
  g_test_add_func ("/portmap/mapper/no-network", test_no_network);
  g_test_add_func ("/portmap/mapper/cancel-before", test_cancel_before);
  g_test_add_func ("/portmap/mapper/shutdown-empty", test_shutdown_empty);
  g_test_add_func ("/portmap/mapper/silent-gateway", test_silent_gateway);
  g_test_add_func ("/portmap/mapper/cancel-upnp", test_cancel_upnp);
  g_test_add_func ("/portmap/mapper/cancel-nat-pmp", test_cancel_nat_pmp);
  g_test_add_func ("/portmap/mapper/cancel-pcp", test_cancel_pcp);

  return g_test_run ();
}
