/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-nat-info.c: a side's NAT facts, as its gatherer found them and as they cross the
 * wire: {"mapping": "independent", "udp": true, "tcp": true, "port_mapping": false}. */
#include "pinhole-nat-info.h"

#include "pinhole-enum-strings.h"
#include "pinhole-error.h"

#include <glib/gi18n-lib.h>

G_DEFINE_BOXED_TYPE (PinholeNatInfo, pinhole_nat_info, pinhole_nat_info_copy,
                     pinhole_nat_info_free)

PinholeNatInfo *
pinhole_nat_info_copy (const PinholeNatInfo *info)
{
  return g_memdup2 (info, sizeof *info);
}

void
pinhole_nat_info_free (PinholeNatInfo *info)
{
  g_free (info);
}

/* @gatherer: (nullable): without one, nothing is known and nothing works */
void
pinhole_nat_info_of_gatherer (PinholeGatherer *gatherer,
                              PinholeNatInfo  *out_info)
{
  out_info->mapping = gatherer ? pinhole_gatherer_get_nat_mapping (gatherer)
                               : PINHOLE_NAT_MAPPING_UNKNOWN;
  out_info->udp = gatherer && pinhole_gatherer_get_udp_works (gatherer);
  out_info->tcp = gatherer && pinhole_gatherer_get_tcp_works (gatherer);
  out_info->port_mapping = gatherer && pinhole_gatherer_has_mapping (gatherer);
}

JsonObject *
pinhole_nat_info_to_json (const PinholeNatInfo *info)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "mapping",
                                 pinhole_enum_to_nick (PINHOLE_TYPE_NAT_MAPPING, info->mapping));
  json_object_set_boolean_member (o, "udp", info->udp);
  json_object_set_boolean_member (o, "tcp", info->tcp);
  json_object_set_boolean_member (o, "port_mapping", info->port_mapping);
  return o;
}

static gboolean
get_flag (JsonObject  *object,
          const char  *name,
          gboolean    *out,
          GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                   "NAT facts without a true or false \"%s\"", name);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* Returns: %FALSE with @error when a field is missing or of the wrong type; an unknown
 * mapping name (a newer peer's) reads as unknown */
gboolean
pinhole_nat_info_from_json (JsonObject      *object,
                            PinholeNatInfo  *out_info,
                            GError         **error)
{
  JsonNode *mapping = json_object_get_member (object, "mapping");
  PinholeNatInfo info = { PINHOLE_NAT_MAPPING_UNKNOWN };
  int value;

  if (mapping == NULL || json_node_get_value_type (mapping) != G_TYPE_STRING)
    {
      g_set_error_literal (error, PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                           "NAT facts without a \"mapping\" name");
      return FALSE;
    }
  if (pinhole_enum_from_nick (PINHOLE_TYPE_NAT_MAPPING, json_node_get_string (mapping), &value))
    info.mapping = value;
  if (!get_flag (object, "udp", &info.udp, error) ||
      !get_flag (object, "tcp", &info.tcp, error) ||
      !get_flag (object, "port_mapping", &info.port_mapping, error))
    return FALSE;
  *out_info = info;
  return TRUE;
}

/* Returns: (transfer full): "endpoint-independent NAT, UDP gets no STUN answer, …" */
char *
pinhole_nat_info_describe (const PinholeNatInfo *info)
{
  GString *s = g_string_new (pinhole_enum_to_sentence (PINHOLE_TYPE_NAT_MAPPING, info->mapping));

  if (!info->udp)
    /* Translators: what a side's network allows, after its NAT kind ("no NAT, …") */
    g_string_append_printf (s, ", %s", _("UDP gets no STUN answer"));
  if (!info->tcp)
    g_string_append_printf (s, ", %s", _("TCP gets no STUN answer"));
  g_string_append_printf (s, ", %s",
                          info->port_mapping ? _("router port mapping") : _("no port mapping"));
  return g_string_free (s, FALSE);
}
