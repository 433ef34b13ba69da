/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-enums.h: the states the core model exposes as properties: how a contact relates to
 * us, whether a device is online, whether its key is trusted, where a message is, why a
 * session is on the relay, and whether the client is connected to its server. Their GTypes come from gnome.mkenums_simple (pinhole-enum-types.h);
 * each value's nick is its one name on the wire, in the CLI's JSON and in D-Bus, and
 * pinhole-enum-strings.h gives the sentence a person reads. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* a contact as the roster has it, from our side */
typedef enum
{
  PINHOLE_RELATION_NONE,
  PINHOLE_RELATION_REQUESTED,   /* we asked, no answer yet */
  PINHOLE_RELATION_INCOMING,    /* they asked, we have not answered */
  PINHOLE_RELATION_MUTUAL,
} PinholeRelation;

/* in order: a contact's presence is the highest of its devices' */
typedef enum
{
  PINHOLE_PRESENCE_OFFLINE,
  PINHOLE_PRESENCE_AWAY,
  PINHOLE_PRESENCE_ONLINE,
} PinholePresence;

typedef enum
{
  PINHOLE_KEY_STATE_TRUSTED,     /* the key on record, or trusted by the user */
  PINHOLE_KEY_STATE_UNVERIFIED,  /* not used yet: it will be trusted on first use */
  PINHOLE_KEY_STATE_CHANGED,     /* differs from the record: held back until `trust` */
} PinholeKeyState;

typedef enum
{
  PINHOLE_MESSAGE_STATE_QUEUED,              /* waiting for a session or the server */
  PINHOLE_MESSAGE_STATE_SENT,                /* on a session, not acknowledged yet */
  PINHOLE_MESSAGE_STATE_STORED_FOR_OFFLINE,  /* sealed on the server for an offline device */
  PINHOLE_MESSAGE_STATE_DELIVERED,           /* a device of the contact has it */
  PINHOLE_MESSAGE_STATE_FAILED,              /* neither delivered nor stored: see its reason */
  PINHOLE_MESSAGE_STATE_RECEIVED,            /* an incoming message */
  PINHOLE_MESSAGE_STATE_HELD,                /* outgoing, kept back: a device key of the contact
                                              * changed and waits for the user's trust */
} PinholeMessageState;

typedef enum
{
  PINHOLE_MESSAGE_DIRECTION_OUT,
  PINHOLE_MESSAGE_DIRECTION_IN,
} PinholeMessageDirection;

/* why a device's session is on the relay (NONE: it is not, or there is no session) */
typedef enum
{
  PINHOLE_RELAY_REASON_NONE,
  PINHOLE_RELAY_REASON_NOT_YET,             /* the session just came up */
  PINHOLE_RELAY_REASON_SEARCHING,           /* candidates are being checked */
  PINHOLE_RELAY_REASON_RELAY_ONLY,          /* our choice for this contact */
  PINHOLE_RELAY_REASON_CONTACT_RELAY_ONLY,  /* the contact's choice */
  PINHOLE_RELAY_REASON_DIRECT_OFF,          /* this client does not look for direct paths */
  PINHOLE_RELAY_REASON_NO_SOCKETS,          /* the local sockets could not be opened */
  PINHOLE_RELAY_REASON_BOTH_SYMMETRIC,
  PINHOLE_RELAY_REASON_LOCAL_SYMMETRIC,
  PINHOLE_RELAY_REASON_CONTACT_SYMMETRIC,
  PINHOLE_RELAY_REASON_UDP_BLOCKED_HERE,
  PINHOLE_RELAY_REASON_UDP_BLOCKED_CONTACT,
  PINHOLE_RELAY_REASON_UDP_BLOCKED_BOTH,
  PINHOLE_RELAY_REASON_CHECKS_FAILED,       /* the checks found nothing; the agent says why */
  PINHOLE_RELAY_REASON_PATH_LOST,           /* the direct path stopped answering */
} PinholeRelayReason;

/* the client's connection to its server, as PinholeReconnector keeps it */
typedef enum
{
  PINHOLE_CONNECTION_STATE_OFFLINE,     /* not connected; a retry may be scheduled */
  PINHOLE_CONNECTION_STATE_CONNECTING,  /* connecting and logging in */
  PINHOLE_CONNECTION_STATE_ONLINE,      /* logged in */
  PINHOLE_CONNECTION_STATE_REFUSED,     /* refused in a way retrying will not fix */
} PinholeConnectionState;

G_END_DECLS
