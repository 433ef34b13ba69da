/* SPDX-License-Identifier: GPL-3.0-or-later
 * ph-netem.c: holds every packet of one NFQUEUE for a fixed delay, then accepts it, in arrival
 * order: the NAT lab's link delay, since this kernel has no sch_netem (so no `tc netem`).
 * Usage: ph-netem --queue N --delay-ms D; prints "ready" once bound; ends on SIGTERM/SIGINT. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define QUEUE_MAXLEN 65536

typedef struct
{
  uint32_t id;
  int64_t  due_us;    /* CLOCK_MONOTONIC */
} Held;

static volatile sig_atomic_t stopping;

static struct mnl_socket *nl;
static unsigned int       portid;
static uint32_t           queue_num;
static int64_t            delay_us;

/* a FIFO ring: with one fixed delay, arrival order is also release order */
static Held  *ring;
static size_t ring_cap, ring_head, ring_len;

static int64_t
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
on_signal (int sig)
{
  (void) sig;
  stopping = 1;
}

static int
send_verdict (uint32_t id)
{
  char buf[8192];
  struct nlmsghdr *nlh;

  nlh = nfq_nlmsg_put (buf, NFQNL_MSG_VERDICT, queue_num);
  nfq_nlmsg_verdict_put (nlh, id, NF_ACCEPT);
  if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    {
      perror ("ph-netem: verdict");
      return -1;
    }
  return 0;
}

static int
ring_push (uint32_t id,
           int64_t  due_us)
{
  if (ring_len == ring_cap)
    {
      size_t new_cap = ring_cap ? ring_cap * 2 : 1024;
      Held *grown = calloc (new_cap, sizeof *grown);
      size_t i;

      if (grown == NULL)
        return -1;
      for (i = 0; i < ring_len; i++)
        grown[i] = ring[(ring_head + i) % ring_cap];
      free (ring);
      ring = grown;
      ring_cap = new_cap;
      ring_head = 0;
    }
  ring[(ring_head + ring_len) % ring_cap] = (Held) { id, due_us };
  ring_len++;
  return 0;
}

/* accepts every held packet that is due (all of them with flush) */
static int
release_due (int flush)
{
  int64_t now = now_us ();

  while (ring_len > 0 && (flush || ring[ring_head].due_us <= now))
    {
      if (send_verdict (ring[ring_head].id) < 0)
        return -1;
      ring_head = (ring_head + 1) % ring_cap;
      ring_len--;
    }
  return 0;
}

static int
queue_cb (const struct nlmsghdr *nlh,
          void                  *data)
{
  struct nlattr *attr[NFQA_MAX + 1] = { NULL };
  struct nfqnl_msg_packet_hdr *ph;
  uint32_t id;

  (void) data;
  if (nfq_nlmsg_parse (nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL)
    return MNL_CB_OK;
  ph = mnl_attr_get_payload (attr[NFQA_PACKET_HDR]);
  id = ntohl (ph->packet_id);
  if (ring_push (id, now_us () + delay_us) < 0)
    return send_verdict (id) < 0 ? MNL_CB_ERROR : MNL_CB_OK;   /* out of memory: no delay */
  return MNL_CB_OK;
}

static int
configure (void)
{
  char buf[8192];
  struct nlmsghdr *nlh;
  int one = 1;

  nlh = nfq_nlmsg_put (buf, NFQNL_MSG_CONFIG, queue_num);
  nfq_nlmsg_cfg_put_cmd (nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    return -1;

  /* only the packet id is needed, never the payload */
  nlh = nfq_nlmsg_put (buf, NFQNL_MSG_CONFIG, queue_num);
  nfq_nlmsg_cfg_put_params (nlh, NFQNL_COPY_META, 0);
  nfq_nlmsg_cfg_put_qmaxlen (nlh, QUEUE_MAXLEN);
  mnl_attr_put_u32 (nlh, NFQA_CFG_FLAGS, htonl (NFQA_CFG_F_GSO));
  mnl_attr_put_u32 (nlh, NFQA_CFG_MASK, htonl (NFQA_CFG_F_GSO));
  if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    return -1;

  /* a burst larger than the socket buffer loses notifications, not the loop */
  mnl_socket_setsockopt (nl, NETLINK_NO_ENOBUFS, &one, sizeof one);
  return 0;
}

static int
parse_uint (const char *s,
            unsigned long max,
            unsigned long *out)
{
  char *end;

  errno = 0;
  *out = strtoul (s, &end, 10);
  return (errno == 0 && end != s && *end == '\0' && *out <= max) ? 0 : -1;
}

int
main (int    argc,
      char **argv)
{
  static char buf[0xffff + 4096];
  struct sigaction sa;
  unsigned long q = 0, d = 0;
  int have_q = 0, have_d = 0;
  int i, status = 0;

  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--queue") == 0 && i + 1 < argc &&
          parse_uint (argv[i + 1], 65535, &q) == 0)
        have_q = 1, i++;
      else if (strcmp (argv[i], "--delay-ms") == 0 && i + 1 < argc &&
               parse_uint (argv[i + 1], 60000, &d) == 0)
        have_d = 1, i++;
      else
        {
          fprintf (stderr, "ph-netem: bad argument '%s'\n"
                   "usage: ph-netem --queue N --delay-ms D\n", argv[i]);
          return 2;
        }
    }
  if (!have_q || !have_d)
    {
      fprintf (stderr, "usage: ph-netem --queue N --delay-ms D\n");
      return 2;
    }
  queue_num = q;
  delay_us = (int64_t) d * 1000;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;   /* no SA_RESTART: poll returns EINTR */
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  nl = mnl_socket_open (NETLINK_NETFILTER);
  if (nl == NULL || mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      perror ("ph-netem: netlink socket");
      return 1;
    }
  portid = mnl_socket_get_portid (nl);
  if (configure () < 0)
    {
      perror ("ph-netem: binding the queue");
      mnl_socket_close (nl);
      return 1;
    }
  printf ("ready queue=%u delay-ms=%lu\n", queue_num, d);
  fflush (stdout);

  while (!stopping)
    {
      struct pollfd pfd = { mnl_socket_get_fd (nl), POLLIN, 0 };
      int timeout_ms = -1;
      int n;

      if (ring_len > 0)
        {
          int64_t wait_us = ring[ring_head].due_us - now_us ();

          timeout_ms = wait_us <= 0 ? 0 : (int) ((wait_us + 999) / 1000);
        }
      n = poll (&pfd, 1, timeout_ms);
      if (n < 0 && errno != EINTR)
        {
          perror ("ph-netem: poll");
          status = 1;
          break;
        }
      if (n > 0 && (pfd.revents & POLLIN))
        {
          ssize_t len = mnl_socket_recvfrom (nl, buf, sizeof buf);

          if (len < 0 && errno != ENOBUFS && errno != EINTR)
            {
              perror ("ph-netem: recv");
              status = 1;
              break;
            }
          /* an error reply (a verdict for a packet the kernel already dropped) is no reason
           * to stop delaying the others */
          if (len > 0 && mnl_cb_run (buf, len, 0, portid, queue_cb, NULL) < 0)
            perror ("ph-netem: netlink message");
        }
      if (release_due (0) < 0)
        {
          status = 1;
          break;
        }
    }

  /* nothing held is lost when the lab stops the helper */
  release_due (1);
  mnl_socket_close (nl);
  free (ring);
  return status;
}
