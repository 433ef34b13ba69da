/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-transfer-message.h: the frames of a transfer on the session (docs/transfer.md
 * §3-4): the JSON messages of channel 2 and the binary BLOCK and DATA frames of the data
 * channels, each validated whole before anything reads it. */
#pragma once

#include <glib.h>

#include "pinhole-manifest.h"

G_BEGIN_DECLS

#define PINHOLE_TRANSFER_ID_LEN          32     /* lowercase hex digits */
#define PINHOLE_TRANSFER_MAX_PART        (16 * 1024)   /* manifest bytes in one offer part */
#define PINHOLE_TRANSFER_MAX_HAVE        (16 * 1024)   /* bitmap bytes in one have */
#define PINHOLE_TRANSFER_MAX_WINDOW      64
#define PINHOLE_TRANSFER_MAX_REASON      1024
#define PINHOLE_TRANSFER_BLOCK_FRAME     (1 + 4 + 4 + PINHOLE_MANIFEST_SHA256_BYTES)
#define PINHOLE_TRANSFER_DATA_HEADER     (1 + 4 + 8)

typedef enum
{
  PINHOLE_TRANSFER_MESSAGE_OFFER,
  PINHOLE_TRANSFER_MESSAGE_ACCEPT,
  PINHOLE_TRANSFER_MESSAGE_DECLINE,
  PINHOLE_TRANSFER_MESSAGE_TAKEN,
  PINHOLE_TRANSFER_MESSAGE_HAVE,
  PINHOLE_TRANSFER_MESSAGE_READY,
  PINHOLE_TRANSFER_MESSAGE_SENDING,
  PINHOLE_TRANSFER_MESSAGE_VERIFIED,
  PINHOLE_TRANSFER_MESSAGE_RESENT,
  PINHOLE_TRANSFER_MESSAGE_FILE_DONE,
  PINHOLE_TRANSFER_MESSAGE_DONE,
  PINHOLE_TRANSFER_MESSAGE_PAUSE,
  PINHOLE_TRANSFER_MESSAGE_RESUME,
  PINHOLE_TRANSFER_MESSAGE_CANCEL,
  PINHOLE_TRANSFER_MESSAGE_FAILED,
} PinholeTransferMessageType;

typedef struct
{
  PinholeTransferMessageType  type;
  char                        id[PINHOLE_TRANSFER_ID_LEN + 1];

  /* offer */
  guint64   manifest_size;
  guint64   offset;
  GBytes   *part;                 /* owned */
  guint64   files;
  guint64   bytes;
  /* accept */
  GArray   *entries;              /* guint32, owned */
  /* accept, ready */
  guint     window;
  /* have, verified, resent, file-done */
  guint32   entry;
  /* have: the bitmap's first block (a multiple of 8) and its bits, or done */
  guint64   first;
  GBytes   *blocks;               /* owned; NULL when done */
  gboolean  done;
  /* verified, resent */
  guint64   block;
  /* sending */
  guint     channel;
  /* file-done */
  guint8    sha256[PINHOLE_MANIFEST_SHA256_BYTES];
  /* failed (code and reason), cancel (reason, nullable) */
  gint      code;
  char     *reason;               /* owned */
} PinholeTransferMessage;

typedef enum
{
  PINHOLE_TRANSFER_DATA_BLOCK = 1,
  PINHOLE_TRANSFER_DATA_DATA  = 2,
} PinholeTransferDataKind;

/* a parsed data frame; data points into the payload it came from */
typedef struct
{
  PinholeTransferDataKind  kind;
  guint32                  entry;
  guint64                  block;       /* BLOCK */
  guint8                   sha256[PINHOLE_MANIFEST_SHA256_BYTES];   /* BLOCK */
  guint64                  offset;      /* DATA */
  const guint8            *data;        /* DATA */
  gsize                    len;         /* DATA */
} PinholeTransferData;

PinholeTransferMessage *pinhole_transfer_message_new    (PinholeTransferMessageType  type,
                                                         const char                 *id);
void                    pinhole_transfer_message_free   (PinholeTransferMessage     *self);
PinholeTransferMessage *pinhole_transfer_message_parse  (GBytes                     *payload,
                                                         GError                    **error);
GBytes                 *pinhole_transfer_message_encode (const PinholeTransferMessage *self);
const char             *pinhole_transfer_message_type_to_string (PinholeTransferMessageType type);

gboolean                pinhole_transfer_id_is_valid    (const char                 *id);
char                   *pinhole_transfer_id_new         (void);

gboolean                pinhole_transfer_data_parse     (GBytes                     *payload,
                                                         PinholeTransferData        *out,
                                                         GError                    **error);
GBytes                 *pinhole_transfer_data_build_block (guint32       entry,
                                                           guint64       block,
                                                           const guint8 *sha256);
GBytes                 *pinhole_transfer_data_build_data  (guint32       entry,
                                                           guint64       offset,
                                                           const guint8 *data,
                                                           gsize         len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PinholeTransferMessage, pinhole_transfer_message_free)

G_END_DECLS
