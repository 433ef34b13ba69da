/* SPDX-License-Identifier: GPL-3.0-or-later
 * pinhole-test-bus.c: starts dbus-daemon --session --nofork for one test, reads the address
 * it prints, and stops it by its PID. A machine without dbus-daemon fails the test
 * (tests/pinhole-test-missing.h). */
#define G_LOG_DOMAIN "pinhole-test"

#include "pinhole-test-bus.h"
#include "../pinhole-test-missing.h"

#include <glib/gstdio.h>
#include <unistd.h>

#define PH_BUS_START_MS 10000

static gboolean
has_address (gpointer data)
{
  PhProc *p = data;

  return p->lines->len > 0 || p->exited;
}

/* a bus that lets anyone in without saying who they are: the bus cannot tell a caller's uid,
 * as for a caller of another user */
static const char anonymous_config[] =
  "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
  " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
  "<busconfig>\n"
  "  <type>session</type>\n"
  "  <listen>unix:tmpdir=/tmp</listen>\n"
  "  <auth>ANONYMOUS</auth>\n"
  "  <allow_anonymous/>\n"
  "  <policy context=\"default\">\n"
  "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
  "    <allow eavesdrop=\"true\"/>\n"
  "    <allow own=\"*\"/>\n"
  "  </policy>\n"
  "</busconfig>\n";

static PhBus *
bus_start (const char *config_text)
{
  g_autofree char *program = g_find_program_in_path ("dbus-daemon");
  g_autofree char *config_arg = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { NULL, "--session", "--nofork", "--nopidfile", "--print-address=1",
                         NULL };
  PhBus *bus;

  if (program == NULL)
    {
      ph_test_missing ("dbus-daemon is not installed (Debian: apt-get install dbus-daemon; "
                       "build-aux/install-deps.sh does)");
      return NULL;
    }
  argv[0] = program;
  bus = g_new0 (PhBus, 1);
  if (config_text != NULL)
    {
      int fd = g_file_open_tmp ("pinhole-test-bus-XXXXXX.conf", &bus->config, &error);

      if (fd < 0 || !g_file_set_contents (bus->config, config_text, -1, &error))
        {
          g_test_fail_printf ("cannot write a bus configuration: %s", error->message);
          if (fd >= 0)
            close (fd);
          ph_bus_free (bus);
          return NULL;
        }
      close (fd);
      config_arg = g_strconcat ("--config-file=", bus->config, NULL);
      argv[1] = config_arg;
    }
  bus->proc = ph_proc_spawn (argv, NULL, FALSE, &error);
  if (bus->proc == NULL)
    {
      g_test_fail_printf ("cannot start %s: %s", program, error->message);
      ph_bus_free (bus);
      return NULL;
    }
  if (!ph_iterate_until (has_address, bus->proc, PH_BUS_START_MS) ||
      bus->proc->lines->len == 0)
    {
      g_test_fail_printf ("dbus-daemon printed no address: %s", bus->proc->err_text->str);
      ph_bus_free (bus);
      return NULL;
    }
  bus->address = g_strdup (g_ptr_array_index (bus->proc->lines, 0));
  bus->env = g_strconcat ("DBUS_SESSION_BUS_ADDRESS=", bus->address, NULL);
  g_test_message ("session bus %s (pid %s)", bus->address, ph_proc_get_pid (bus->proc));
  return bus;
}

/**
 * ph_bus_start:
 * Returns: (transfer full) (nullable): a running session bus, or %NULL with the test failed
 *   (or skipped, where skips are allowed) when dbus-daemon is missing or does not start
 */
PhBus *
ph_bus_start (void)
{
  return bus_start (NULL);
}

/* ph_bus_start(), but the bus admits anonymous connections and so knows no caller's uid */
PhBus *
ph_bus_start_anonymous (void)
{
  return bus_start (anonymous_config);
}

void
ph_bus_free (PhBus *bus)
{
  if (bus == NULL)
    return;
  if (bus->proc != NULL)
    ph_proc_stop (bus->proc);
  g_clear_pointer (&bus->proc, ph_proc_free);
  if (bus->config != NULL)
    g_unlink (bus->config);
  g_free (bus->config);
  g_free (bus->address);
  g_free (bus->env);
  g_free (bus);
}
