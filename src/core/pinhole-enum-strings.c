/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-enum-strings.c: names and sentences of the model's enums. A value's name is its
 * GEnumValue nick (gnome.mkenums_simple makes PINHOLE_PATH_KIND_NAT_PMP "nat-pmp"); the
 * sentences below are the only place its words are written. */
#include "pinhole-enum-strings.h"

#include <glib/gi18n-lib.h>

typedef struct
{
  GType (*get_type) (void);
  int         value;
  const char *sentence;
} Sentence;

static const Sentence sentences[] = {
  { pinhole_relation_get_type, PINHOLE_RELATION_NONE, N_("not a contact") },
  { pinhole_relation_get_type, PINHOLE_RELATION_REQUESTED, N_("asked, no answer yet") },
  { pinhole_relation_get_type, PINHOLE_RELATION_INCOMING, N_("wants to be your contact") },
  { pinhole_relation_get_type, PINHOLE_RELATION_MUTUAL, N_("contact") },
  { pinhole_relation_get_type, PINHOLE_RELATION_BLOCKED, N_("blocked") },

  { pinhole_presence_get_type, PINHOLE_PRESENCE_OFFLINE, N_("offline") },
  { pinhole_presence_get_type, PINHOLE_PRESENCE_AWAY, N_("away") },
  { pinhole_presence_get_type, PINHOLE_PRESENCE_ONLINE, N_("online") },

  { pinhole_key_state_get_type, PINHOLE_KEY_STATE_TRUSTED, N_("key trusted") },
  { pinhole_key_state_get_type, PINHOLE_KEY_STATE_UNVERIFIED,
    N_("key not seen before: trusted at first use") },
  { pinhole_key_state_get_type, PINHOLE_KEY_STATE_CHANGED,
    N_("key changed: compare fingerprints, then trust") },

  { pinhole_message_state_get_type, PINHOLE_MESSAGE_STATE_QUEUED, N_("sending") },
  { pinhole_message_state_get_type, PINHOLE_MESSAGE_STATE_SENT, N_("sent") },
  { pinhole_message_state_get_type, PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE,
    N_("stored until the contact is online") },
  { pinhole_message_state_get_type, PINHOLE_MESSAGE_STATE_DELIVERED, N_("delivered") },
  { pinhole_message_state_get_type, PINHOLE_MESSAGE_STATE_FAILED, N_("not sent") },
  { pinhole_message_state_get_type, PINHOLE_MESSAGE_STATE_RECEIVED, N_("received") },
  { pinhole_message_state_get_type, PINHOLE_MESSAGE_STATE_HELD,
    N_("held until you accept the contact's new key") },

  { pinhole_path_kind_get_type, PINHOLE_PATH_KIND_LAN, N_("direct, on the local network") },
  { pinhole_path_kind_get_type, PINHOLE_PATH_KIND_UPNP, N_("direct, through a UPnP port mapping") },
  { pinhole_path_kind_get_type, PINHOLE_PATH_KIND_NAT_PMP,
    N_("direct, through a NAT-PMP port mapping") },
  { pinhole_path_kind_get_type, PINHOLE_PATH_KIND_PCP, N_("direct, through a PCP port mapping") },
  { pinhole_path_kind_get_type, PINHOLE_PATH_KIND_UDP_PUNCH, N_("direct, by UDP hole punching") },
  { pinhole_path_kind_get_type, PINHOLE_PATH_KIND_TCP_PUNCH, N_("direct, by TCP hole punching") },
  { pinhole_path_kind_get_type, PINHOLE_PATH_KIND_RELAY, N_("relayed by the server") },
  { pinhole_path_kind_get_type, PINHOLE_PATH_KIND_NONE, N_("not connected") },

  { pinhole_nat_mapping_get_type, PINHOLE_NAT_MAPPING_UNKNOWN, N_("unknown NAT") },
  { pinhole_nat_mapping_get_type, PINHOLE_NAT_MAPPING_NONE, N_("no NAT") },
  { pinhole_nat_mapping_get_type, PINHOLE_NAT_MAPPING_INDEPENDENT,
    N_("endpoint-independent NAT") },
  { pinhole_nat_mapping_get_type, PINHOLE_NAT_MAPPING_DEPENDENT,
    N_("endpoint-dependent (symmetric) NAT") },

  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_NONE, N_("not relayed") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_NOT_YET, N_("no direct path yet") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_SEARCHING,
    N_("looking for a direct path") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_RELAY_ONLY, N_("relay-only by choice") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_CONTACT_RELAY_ONLY,
    N_("relay-only by the contact's choice") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_DIRECT_OFF, N_("direct paths are off") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_NO_SOCKETS,
    N_("no local sockets for direct paths") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_BOTH_SYMMETRIC,
    N_("both sides endpoint-dependent NAT, no port mapping") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_LOCAL_SYMMETRIC,
    N_("this side's endpoint-dependent NAT has no port mapping, and the contact could not be "
       "reached") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_CONTACT_SYMMETRIC,
    N_("the contact's endpoint-dependent NAT has no port mapping, and this side could not be "
       "reached") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_UDP_BLOCKED_HERE,
    N_("UDP is blocked on this network and TCP punching failed") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_UDP_BLOCKED_CONTACT,
    N_("UDP is blocked on the contact's network and TCP punching failed") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_UDP_BLOCKED_BOTH,
    N_("UDP is blocked on both networks and TCP punching failed") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_CHECKS_FAILED,
    N_("no candidate pair answered") },
  { pinhole_relay_reason_get_type, PINHOLE_RELAY_REASON_PATH_LOST,
    N_("the direct path stopped answering; looking again") },

  { pinhole_connection_state_get_type, PINHOLE_CONNECTION_STATE_OFFLINE, N_("offline") },
  { pinhole_connection_state_get_type, PINHOLE_CONNECTION_STATE_CONNECTING,
    N_("connecting to the server") },
  { pinhole_connection_state_get_type, PINHOLE_CONNECTION_STATE_ONLINE,
    N_("connected to the server") },
  { pinhole_connection_state_get_type, PINHOLE_CONNECTION_STATE_REFUSED,
    N_("the server refused this log-in; retrying will not help") },
};

/* Returns: (transfer none): the name of @value, or "unknown" for a value @enum_type lacks */
const char *
pinhole_enum_to_nick (GType enum_type,
                      int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (enum_type);
  GEnumValue *v = g_enum_get_value (klass, value);

  /* the class stays alive: enum classes are never finalized once referenced */
  return v != NULL ? v->value_nick : "unknown";
}

/* Returns: whether @nick names a value of @enum_type */
gboolean
pinhole_enum_from_nick (GType       enum_type,
                        const char *nick,
                        int        *out_value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (enum_type);
  GEnumValue *v = nick != NULL ? g_enum_get_value_by_nick (klass, nick) : NULL;

  if (v == NULL)
    return FALSE;
  *out_value = v->value;
  return TRUE;
}

/* Returns: (transfer none): the translated sentence for @value, or its name without one */
const char *
pinhole_enum_to_sentence (GType enum_type,
                          int   value)
{
  for (gsize i = 0; i < G_N_ELEMENTS (sentences); i++)
    if (sentences[i].value == value && sentences[i].get_type () == enum_type)
      return g_dgettext (GETTEXT_PACKAGE, sentences[i].sentence);
  return pinhole_enum_to_nick (enum_type, value);
}
