/* Owns the monitor's attached clients: per-client output queues, input to the box's stdin,
 * and the final "EXIT <code>" (protocol: lib/engine/attach-protocol.h). Nothing here blocks:
 * every socket and the box's input are written with non-blocking calls, and what does not
 * fit waits in memory (bounded by ATTACH_QUEUE_MAX per client). */
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine/attach-protocol.h"
#include "util/timeutil.h"

struct attach_message {
  attach_message *next;
  size_t len;
  char data[];
};

int
attach_parse_request (const char *text, attach_request *out)
{
  char flags[8];
  unsigned rows = 0, cols = 0;
  memset (out, 0, sizeof *out);
  if (sscanf (text, "ATTACH %7s %u %u", flags, &rows, &cols) != 3 || rows > 0xffff || cols > 0xffff)
    return -1;
  for (const char *f = flags; *f; f++)
    switch (*f)
      {
      case 'i':
        out->stdin = true;
        break;
      case 'o':
        out->stdout = true;
        break;
      case 'e':
        out->stderr = true;
        break;
      case 'l':
        out->lossless = true;
        break;
      case '-':
        break;
      default:
        return -1;
      }
  out->rows = (unsigned short) rows;
  out->cols = (unsigned short) cols;
  return 0;
}

void
attach_init (attach_set *s, bool tty, bool stdin_once)
{
  memset (s, 0, sizeof *s);
  s->tty = tty;
  s->stdin_once = stdin_once;
  s->input_fd = -1;
}

static void
close_input (attach_set *s)
{
  if (s->input_fd >= 0 && s->input_owned)
    close (s->input_fd);
  s->input_fd = -1;
  free (s->pending);
  s->pending = NULL;
  s->pending_len = s->pending_off = 0;
  s->pending_close = false;
}

void
attach_set_input (attach_set *s, int fd, bool owned)
{
  close_input (s);
  s->input_fd = fd;
  s->input_owned = owned;
}

static void
free_queue (attach_client *c)
{
  for (attach_message *m = c->head, *next; m; m = next)
    {
      next = m->next;
      free (m);
    }
  c->head = c->tail = NULL;
  c->queued = 0;
}

static void
drop_client (attach_set *s, size_t i)
{
  attach_client *c = &s->clients[i];
  /* input of the client left unread would make the close reset the connection, and the
   * client's next read fail (ECONNRESET) before it has read what it was sent: no more
   * input, and what came is discarded */
  shutdown (c->fd, SHUT_RD);
  char sink;
  while (recv (c->fd, &sink, 1, MSG_DONTWAIT | MSG_TRUNC) > 0)
    ;
  close (c->fd);
  free_queue (c);
  if (c->dropping)
    s->n_dropping--;
  s->clients[i] = s->clients[--s->n];
}

/* Sends what the client's queue holds; false when the client is gone. */
static bool
flush_client (attach_client *c, bool *progress)
{
  while (c->head)
    {
      attach_message *m = c->head;
      ssize_t n = send (c->fd, m->data, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return true;
      if (n < 0)
        return false;
      /* a datagram-like socket takes the whole message or nothing */
      c->head = m->next;
      if (!c->head)
        c->tail = NULL;
      c->queued -= m->len;
      free (m);
      if (progress)
        *progress = true;
    }
  return true;
}

/* Queues one frame for a client (after what it has not taken yet), or sends it at once when
 * nothing waits; false when the client is gone. */
static bool
send_frame (attach_client *c, int frame, const char *data, size_t len)
{
  char frame_byte = (char) frame;
  if (!c->head)
    {
      struct iovec iov[2] = { { &frame_byte, 1 }, { (void *) data, len } };
      struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
      ssize_t n;
      do
        n = sendmsg (c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
      while (n < 0 && errno == EINTR);
      if (n >= 0)
        return true;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return false;
    }
  attach_message *m = malloc (sizeof *m + 1 + len);
  if (!m)
    return false; /* out of memory: this client loses its attachment, the box goes on */
  m->next = NULL;
  m->len = 1 + len;
  m->data[0] = frame_byte;
  memcpy (m->data + 1, data, len);
  if (c->tail)
    c->tail->next = m;
  else
    c->head = m;
  c->tail = m;
  c->queued += m->len;
  return true;
}

bool
attach_add (attach_set *s, int fd, const attach_request *request)
{
  /* a dropped client that does not even take its message gives its slot up */
  if (s->n >= ATTACH_MAX_CLIENTS)
    for (size_t i = 0; i < s->n; i++)
      if (s->clients[i].dropping)
        {
          drop_client (s, i);
          break;
        }
  if (s->n >= ATTACH_MAX_CLIENTS)
    {
      close (fd);
      return false;
    }
  /* the monitor's sockets never block it */
  int flags = fcntl (fd, F_GETFL);
  if (flags >= 0)
    fcntl (fd, F_SETFL, flags | O_NONBLOCK);
  attach_client *c = &s->clients[s->n++];
  *c = (attach_client){ .fd = fd,
                        .wants_stdin = request->stdin,
                        .wants_stdout = request->stdout,
                        .wants_stderr = request->stderr,
                        .lossless = request->lossless };
  char answer[16];
  int len = snprintf (answer, sizeof answer, "OK %d", s->tty ? 1 : 0);
  if (!send_frame (c, ATTACH_FRAME_CONTROL, answer, (size_t) len))
    {
      drop_client (s, s->n - 1);
      return false;
    }
  return true;
}

/* Drops a client that fell too far behind, telling it why: its queued output is discarded
 * and the DROPPED message takes its place, after what its socket already holds. It gets no
 * more output and its input is ignored; it is closed once it has the message. */
static void
begin_drop (attach_set *s, size_t i)
{
  attach_client *c = &s->clients[i];
  free_queue (c);
  c->dropping = true;
  s->n_dropping++;
  static const char text[] = "DROPPED " ATTACH_DROPPED_BEHIND;
  /* sent at once (the socket had room) or failed: nothing more to wait for */
  if (!send_frame (c, ATTACH_FRAME_CONTROL, text, sizeof text - 1) || !c->head)
    drop_client (s, i);
}

void
attach_output (attach_set *s, int stream, const char *data, size_t len)
{
  for (size_t i = s->n; i-- > 0;)
    {
      attach_client *c = &s->clients[i];
      bool wants = stream == ATTACH_FRAME_STDERR ? c->wants_stderr : c->wants_stdout;
      if (!wants || c->dropping)
        continue;
      if (!send_frame (c, stream, data, len))
        drop_client (s, i);
      else if (!c->lossless && c->queued > ATTACH_QUEUE_MAX)
        begin_drop (s, i);
    }
}

bool
attach_output_paused (const attach_set *s)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->clients[i].lossless && s->clients[i].queued >= ATTACH_QUEUE_MAX)
      return true;
  return false;
}

size_t
attach_poll_fds (const attach_set *s, struct pollfd *fds)
{
  size_t n = 0;
  bool input_waits = s->pending != NULL;
  fds[n++] = (struct pollfd){ .fd = input_waits ? s->input_fd : -1, .events = POLLOUT };
  for (size_t i = 0; i < s->n; i++)
    {
      const attach_client *c = &s->clients[i];
      /* a dropped client is only waited on to take its message */
      short events = input_waits || c->dropping ? 0 : POLLIN;
      if (c->head)
        events |= POLLOUT;
      fds[n++] = (struct pollfd){ .fd = c->fd, .events = events };
    }
  return n;
}

/* Writes input to the box; what it cannot take now waits in pending. */
static void
write_input (attach_set *s, const char *data, size_t len, bool *progress)
{
  if (s->input_fd < 0)
    return; /* the box has no stdin (or it was closed): the input is dropped, like docker */
  while (len > 0 && !s->pending)
    {
      ssize_t n = write (s->input_fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n <= 0)
        {
          close_input (s); /* the box's stdin is gone (it exited, or closed it) */
          return;
        }
      data += n;
      len -= (size_t) n;
      *progress = true;
    }
  if (len == 0)
    return;
  char *copy = malloc (len);
  if (!copy)
    return;
  memcpy (copy, data, len);
  s->pending = copy;
  s->pending_len = len;
  s->pending_off = 0;
}

/* The end of a client's input. A StdinOnce box without a tty loses its stdin (its pipe
 * ends). A box whose stdin stays open (StdinOnce false: run -d -i) keeps it for later clients
 * and this client's output ends instead, as docker's daemon closes the attachment's stdout
 * and stderr; the client stays connected, without output or input, to be told the exit code
 * at the end. A terminal has no end of input to give: nothing changes (docker ends the
 * client's output there too, losing what the box answers to a piped input; box keeps it). */
static void
end_input (attach_set *s, attach_client *c)
{
  if (s->tty)
    return;
  if (s->stdin_once)
    {
      if (s->input_fd < 0)
        return;
      if (s->pending)
        s->pending_close = true;
      else
        close_input (s);
      return;
    }
  c->wants_stdin = c->wants_stdout = c->wants_stderr = false;
  c->lossless = false; /* nothing more for it to fall behind on */
}

static void
flush_input (attach_set *s, bool *progress)
{
  while (s->pending && s->pending_off < s->pending_len)
    {
      ssize_t n = write (s->input_fd, s->pending + s->pending_off, s->pending_len - s->pending_off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0)
        {
          close_input (s);
          return;
        }
      s->pending_off += (size_t) n;
      *progress = true;
    }
  bool close_after = s->pending_close;
  free (s->pending);
  s->pending = NULL;
  s->pending_len = s->pending_off = 0;
  s->pending_close = false;
  if (close_after)
    close_input (s);
}

/* Reads one message of a client; false when the client is gone. */
static bool
read_client (attach_set *s, attach_client *c, bool *progress)
{
  static char buf[ATTACH_CHUNK_MAX + 1];
  ssize_t n = recv (c->fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0)
    return errno == EAGAIN || errno == EINTR;
  if (n == 0)
    return false;
  if (!c->wants_stdin || c->dropping)
    return true;
  if (buf[0] == ATTACH_FRAME_STDIN)
    write_input (s, buf + 1, (size_t) n - 1, progress);
  else if (buf[0] == ATTACH_FRAME_STDIN_CLOSE)
    end_input (s, c);
  return true;
}

bool
attach_handle (attach_set *s, const struct pollfd *fds, size_t n)
{
  bool progress = false;
  if (n == 0)
    return false;
  if (fds[0].fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP)))
    flush_input (s, &progress);
  /* from the last: dropping a client moves the last one into its place */
  for (size_t k = n; k-- > 1;)
    {
      size_t i = k - 1;
      if (i >= s->n || !fds[k].revents)
        continue;
      attach_client *c = &s->clients[i];
      bool alive = true;
      if (fds[k].revents & POLLOUT)
        alive = flush_client (c, &progress);
      if (alive && c->dropping && !c->head)
        alive = false; /* it has its DROPPED message */
      if (alive && (fds[k].revents & POLLIN))
        alive = read_client (s, c, &progress);
      if (alive && (fds[k].revents & (POLLHUP | POLLERR)) && !(fds[k].revents & POLLIN))
        alive = false;
      if (!alive)
        drop_client (s, i);
    }
  return progress;
}

void
attach_finish (attach_set *s, int exit_code, int idle_ms)
{
  close_input (s);
  char text[32];
  int len = snprintf (text, sizeof text, "EXIT %d", exit_code);
  for (size_t i = s->n; i-- > 0;)
    if (!s->clients[i].dropping
        && !send_frame (&s->clients[i], ATTACH_FRAME_CONTROL, text, (size_t) len))
      drop_client (s, i);
  int64_t deadline = time_monotonic_ms () + idle_ms;
  for (;;)
    {
      struct pollfd fds[ATTACH_MAX_CLIENTS];
      size_t n = 0;
      for (size_t i = 0; i < s->n; i++)
        if (s->clients[i].head)
          fds[n++] = (struct pollfd){ .fd = s->clients[i].fd, .events = POLLOUT };
      int64_t left = deadline - time_monotonic_ms ();
      if (n == 0 || left <= 0)
        break;
      int ready = poll (fds, n, (int) left);
      if (ready < 0 && errno != EINTR)
        break;
      bool progress = false;
      for (size_t i = s->n; i-- > 0;)
        if (s->clients[i].head && !flush_client (&s->clients[i], &progress))
          drop_client (s, i);
      if (progress)
        deadline = time_monotonic_ms () + idle_ms;
    }
  attach_clear (s);
}

void
attach_clear (attach_set *s)
{
  while (s->n > 0)
    drop_client (s, s->n - 1);
  close_input (s);
}
