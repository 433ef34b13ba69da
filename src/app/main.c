/* SPDX-License-Identifier: GPL-3.0-or-later
 * main.c: `pinhole`, the desktop app: a GtkApplication over one profile (pinhole-application.c). */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "pinhole-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(PinholeApplication) app = NULL;

  setlocale (LC_ALL, "");
  /* PINHOLE_LOCALEDIR: the build tree's _build/po, for running uninstalled and in tests */
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("PINHOLE_LOCALEDIR") ? g_getenv ("PINHOLE_LOCALEDIR")
                                                                    : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = pinhole_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
