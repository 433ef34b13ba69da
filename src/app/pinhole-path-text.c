/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path-text.c: the path indicator's words. The kind comes first ("Direct" or
 * "Relayed via server"), then how the direct path was made, then the latest round-trip time
 * when the device has measured one. */
#include "pinhole-path-text.h"

#include <glib/gi18n.h>

/* a word for the contact row's badge: empty when there is no session */
const char *
pinhole_path_text_badge (PinholePathKind kind)
{
  switch (kind)
    {
    case PINHOLE_PATH_KIND_LAN:
    case PINHOLE_PATH_KIND_UPNP:
    case PINHOLE_PATH_KIND_NAT_PMP:
    case PINHOLE_PATH_KIND_PCP:
    case PINHOLE_PATH_KIND_UDP_PUNCH:
    case PINHOLE_PATH_KIND_TCP_PUNCH:
      /* Translators: the contact row's badge: messages skip the server. Keep it short */
      return _("Direct");
    case PINHOLE_PATH_KIND_RELAY:
      /* Translators: the contact row's badge: messages pass through the server. Keep it short */
      return _("Relayed");
    case PINHOLE_PATH_KIND_NONE:
    default:
      return "";
    }
}

const char *
pinhole_path_text_icon_name (PinholePathKind kind)
{
  switch (kind)
    {
    case PINHOLE_PATH_KIND_LAN:
      return "network-wired-symbolic";
    case PINHOLE_PATH_KIND_UPNP:
    case PINHOLE_PATH_KIND_NAT_PMP:
    case PINHOLE_PATH_KIND_PCP:
    case PINHOLE_PATH_KIND_UDP_PUNCH:
    case PINHOLE_PATH_KIND_TCP_PUNCH:
      return "network-transmit-receive-symbolic";
    case PINHOLE_PATH_KIND_RELAY:
      return "network-server-symbolic";
    case PINHOLE_PATH_KIND_NONE:
    default:
      return "network-offline-symbolic";
    }
}

/* Returns: (transfer full): "0.4 ms", "23 ms", or %NULL before the first measurement */
char *
pinhole_path_text_rtt (gdouble rtt_ms)
{
  if (rtt_ms < 0)
    return NULL;
  /* below 10 ms a tenth tells a LAN from a fast link; above, it is noise */
  if (rtt_ms < 10)
    /* Translators: a round-trip time in milliseconds, e.g. "0.4 ms" */
    return g_strdup_printf (_("%.1f ms"), rtt_ms);
  /* Translators: a round-trip time in milliseconds, e.g. "23 ms" */
  return g_strdup_printf (_("%.0f ms"), rtt_ms);
}

/* Returns: (transfer full): the header bar's line, e.g. "Direct · same network · 0.4 ms" */
char *
pinhole_path_text_title (PinholePathKind kind,
                         gdouble         rtt_ms)
{
  g_autofree char *rtt = pinhole_path_text_rtt (rtt_ms);
  const char *words;

  switch (kind)
    {
    case PINHOLE_PATH_KIND_LAN:
      /* Translators: the conversation header's path: "Direct", then how it was made */
      words = _("Direct · same network");
      break;
    case PINHOLE_PATH_KIND_UPNP:
      words = _("Direct · UPnP");
      break;
    case PINHOLE_PATH_KIND_NAT_PMP:
      words = _("Direct · NAT-PMP");
      break;
    case PINHOLE_PATH_KIND_PCP:
      /* Translators: PCP is the Port Control Protocol, a successor of NAT-PMP */
      words = _("Direct · PCP");
      break;
    case PINHOLE_PATH_KIND_UDP_PUNCH:
      /* Translators: "hole punch": a way through both NATs (UDP/TCP hole punching) */
      words = _("Direct · UDP hole punch");
      break;
    case PINHOLE_PATH_KIND_TCP_PUNCH:
      words = _("Direct · TCP hole punch");
      break;
    case PINHOLE_PATH_KIND_RELAY:
      /* Translators: the conversation header's path: messages pass through the server */
      words = _("Relayed via server");
      break;
    case PINHOLE_PATH_KIND_NONE:
    default:
      /* Translators: the conversation header's path while the contact is offline */
      return g_strdup (_("Not connected"));
    }
  if (rtt == NULL)
    return g_strdup (words);
  return g_strdup_printf ("%s · %s", words, rtt);
}

/* Returns: (transfer full): the header bar's line where the full one does not fit (a narrow
 * window): "Direct · 0.4 ms", "Relayed · 41 ms"; the popover has the rest */
char *
pinhole_path_text_short_title (PinholePathKind kind,
                               gdouble         rtt_ms)
{
  g_autofree char *rtt = pinhole_path_text_rtt (rtt_ms);
  const char *badge = pinhole_path_text_badge (kind);

  if (*badge == '\0')
    return pinhole_path_text_title (kind, rtt_ms);
  if (rtt == NULL)
    return g_strdup (badge);
  return g_strdup_printf ("%s · %s", badge, rtt);
}

/* Returns: (transfer full): the popover's sentence on how messages travel to @user */
char *
pinhole_path_text_explain (PinholePathKind kind,
                           const char     *user)
{
  switch (kind)
    {
    case PINHOLE_PATH_KIND_LAN:
      /* Translators: %s is the contact's user name */
      return g_strdup_printf (_("Messages go straight to %s’s device on your local network."),
                              user);
    case PINHOLE_PATH_KIND_UPNP:
    case PINHOLE_PATH_KIND_NAT_PMP:
    case PINHOLE_PATH_KIND_PCP:
      return g_strdup_printf (_("Messages go straight to %s’s device through a port the "
                                "router opened."), user);
    case PINHOLE_PATH_KIND_UDP_PUNCH:
    case PINHOLE_PATH_KIND_TCP_PUNCH:
      return g_strdup_printf (_("Messages go straight to %s’s device through a hole punched "
                                "in both NATs."), user);
    case PINHOLE_PATH_KIND_RELAY:
      return g_strdup_printf (_("Messages to %s pass through the server, still end-to-end "
                                "encrypted."), user);
    case PINHOLE_PATH_KIND_NONE:
    default:
      return g_strdup_printf (_("There is no session with %s right now."), user);
    }
}

/**
 * pinhole_path_text_split_check:
 * @line: a line of pinhole_device_dup_checks(): "udp srflx 203.0.113.7:41000: succeeded in
 *   12.3 ms (udp-punch)"
 * @out_candidate: (out): "udp srflx 203.0.113.7:41000"
 * @out_result: (out): "succeeded in 12.3 ms (udp-punch)"
 *
 * Returns: %TRUE when the check succeeded (or its connection did)
 */
gboolean
pinhole_path_text_split_check (const char  *line,
                               char       **out_candidate,
                               char       **out_result)
{
  /* the result never holds ": ", an address may hold ':' (a port, IPv6) */
  const char *sep = g_strrstr (line, ": ");

  if (sep == NULL)
    {
      *out_candidate = g_strdup (line);
      *out_result = g_strdup ("");
      return FALSE;
    }
  *out_candidate = g_strndup (line, sep - line);
  *out_result = g_strdup (sep + 2);
  return g_str_has_prefix (*out_result, "succeeded") || g_str_equal (*out_result, "connected");
}
