/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-chat.h: the steps the chat tests share (test-chat, test-chat-failures): send
 * and see it arrive, the texts a listen received, numbered lines, the "sent" events. */
#pragma once

#include "pinhole-test-fixture.h"

G_BEGIN_DECLS

void       ph_chat_listen_stop     (PhProc     *p);
GPtrArray *ph_chat_received_texts  (PhProc     *p,
                                    const char *from);
gboolean   ph_chat_wait_texts      (PhProc     *p,
                                    const char *from,
                                    guint       count,
                                    guint       timeout_ms);
guint      ph_chat_check_sent      (PhResult   *r,
                                    guint       expected,
                                    guint      *stored);
void       ph_chat_send_live       (PhFixture  *f,
                                    const char *from,
                                    const char *to,
                                    PhProc     *listener,
                                    const char *text);
char      *ph_chat_numbered_lines  (const char *prefix,
                                    guint       first,
                                    guint       last);
void       ph_chat_assert_numbered (GPtrArray  *texts,
                                    const char *prefix,
                                    guint       n);

G_END_DECLS
