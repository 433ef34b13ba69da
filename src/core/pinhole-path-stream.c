/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-path-stream.c: the rules the framed paths (TCP, QUIC on UDP) share: what
 * send() refuses, the frame-length limit on what they read, and closing once with ::closed. */
#define G_LOG_DOMAIN "pinhole-path"

#include "pinhole-path-private.h"

#include "pinhole-error.h"

void
_pinhole_path_stream_init (PinholePathStream  *stream,
                           PinholePath        *path,
                           const char         *log_domain,
                           const char         *transport,
                           gsize               max_queued,
                           void              (*shut_down) (PinholePath *path))
{
  stream->path = path;
  stream->log_domain = log_domain;
  stream->transport = transport;
  stream->max_queued = max_queued;
  stream->shut_down = shut_down;
}

void
_pinhole_path_stream_clear (PinholePathStream *stream)
{
  g_clear_pointer (&stream->remote, g_free);
}

/* room in the send queue for one packet's frame: counts it in queued, or says why not */
gboolean
_pinhole_path_stream_reserve (PinholePathStream  *stream,
                              gsize               len,
                              GError            **error)
{
  if (stream->closed)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_CLOSED,
                   "the %s path to %s is closed", stream->transport, stream->remote);
      return FALSE;
    }
  if (len > PINHOLE_PATH_MAX_PACKET)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "packet of %" G_GSIZE_FORMAT " bytes exceeds the limit of %d", len,
                   PINHOLE_PATH_MAX_PACKET);
      return FALSE;
    }
  if (stream->queued + PINHOLE_PATH_FRAME_HEADER + len > stream->max_queued)
    {
      g_set_error (error, PINHOLE_ERROR, PINHOLE_ERROR_LIMIT,
                   "the %s path to %s has %" G_GSIZE_FORMAT " bytes queued, no room for %"
                   G_GSIZE_FORMAT " more", stream->transport, stream->remote, stream->queued,
                   PINHOLE_PATH_FRAME_HEADER + len);
      return FALSE;
    }
  stream->queued += PINHOLE_PATH_FRAME_HEADER + len;
  return TRUE;
}

/* a frame header read from the peer: FALSE, and the path closed, when it claims too much */
gboolean
_pinhole_path_stream_check_frame (PinholePathStream *stream,
                                  gsize              len)
{
  g_autoptr(GError) error = NULL;

  if (len <= PINHOLE_PATH_MAX_PACKET)
    return TRUE;
  error = g_error_new (PINHOLE_ERROR, PINHOLE_ERROR_PROTOCOL,
                       "frame of %" G_GSIZE_FORMAT " bytes exceeds the limit of %d", len,
                       PINHOLE_PATH_MAX_PACKET);
  _pinhole_path_stream_close (stream, error);
  return FALSE;
}

/* stops the path and emits ::closed once: with @error when it failed, NULL when asked to */
void
_pinhole_path_stream_close (PinholePathStream *stream,
                            const GError      *error)
{
  /* a copy: shutting down may free what @error points into */
  g_autoptr(GError) copy = error != NULL ? g_error_copy (error) : NULL;

  if (stream->closed)
    return;
  if (copy != NULL)
    g_log (stream->log_domain, G_LOG_LEVEL_DEBUG, "%s: closing: %s", stream->remote,
           copy->message);
  stream->shut_down (stream->path);
  g_assert (stream->closed);
  pinhole_path_emit_closed (stream->path, copy);
}
