/* Owns the client side of attaching to a box (box_box_attach, box_box_start_attached,
 * box_attach_run, box_box_resize): one connection to the box's monitor carries the box's
 * output to the caller's fds and the caller's input to the box (attach-protocol.h). With a
 * tty, the caller's input is watched for the detach keys (docker's ctrl-p,ctrl-q). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine/attach-protocol.h"
#include "engine/lifecycle.h"
#include "util/json.h"
#include "util/strutil.h"

#define DETACH_KEYS_MAX 16
#define DEFAULT_DETACH_KEYS "ctrl-p,ctrl-q"
/* fds handed to the monitor at spawn are moved at least this high, above the fixed numbers
 * the spawn places them at (3..6), so one never overwrites another */
#define SPAWN_FD_FLOOR 10

struct box_attach {
  box_engine *eng; /* borrowed: it outlives the handle */
  char id[BOX_ID_HEX_LENGTH + 1];
  int sock;
  int stdin_fd, stdout_fd, stderr_fd;
  bool tty;
  bool sends_stdin, stdin_ended;
  unsigned char keys[DETACH_KEYS_MAX];
  size_t n_keys, keys_matched;
  char *input; /* input read but not yet taken by the socket */
  size_t input_len, input_off;
  bool input_close_pending; /* send the end of input after it */
  int exit_code;
  char *buffer; /* one message */
};

/* ---- detach keys ------------------------------------------------------------------------- */

/* docker's syntax: keys separated by commas, each a single character or "ctrl-X" with X one
 * of a-z @ [ \ ] ^ _ */
static int
parse_detach_keys (const char *text, unsigned char *keys, size_t *n_keys, box_error **err)
{
  *n_keys = 0;
  if (!*text)
    return 0; /* no detach keys at all */
  const char *p = text;
  for (;;)
    {
      const char *comma = strchr (p, ',');
      size_t len = comma ? (size_t) (comma - p) : strlen (p);
      unsigned char key;
      if (len == 1)
        key = (unsigned char) p[0];
      else if (len == 6 && strncasecmp (p, "ctrl-", 5) == 0)
        {
          char c = p[5];
          if (c >= 'a' && c <= 'z')
            key = (unsigned char) (c - 'a' + 1);
          else if (c >= 'A' && c <= 'Z')
            key = (unsigned char) (c - 'A' + 1);
          else if (c == '@')
            key = 0;
          else if (c >= '[' && c <= '_')
            key = (unsigned char) (c - '[' + 27);
          else
            return box_err (err, BOX_E_INVALID, "invalid detach keys \"%s\": unknown key %.*s",
                            text, (int) len, p);
        }
      else
        return box_err (err, BOX_E_INVALID, "invalid detach keys \"%s\": unknown key %.*s", text,
                        (int) len, p);
      if (*n_keys >= DETACH_KEYS_MAX)
        return box_err (err, BOX_E_INVALID, "invalid detach keys \"%s\": more than %d keys", text,
                        DETACH_KEYS_MAX);
      keys[(*n_keys)++] = key;
      if (!comma)
        break;
      p = comma + 1;
    }
  return 0;
}

int
box_detach_keys_validate (const char *keys, box_error **err)
{
  unsigned char parsed[DETACH_KEYS_MAX];
  size_t n;
  return parse_detach_keys (keys, parsed, &n, err);
}

/* ---- the handle -------------------------------------------------------------------------- */

void
box_attach_free (box_attach *a)
{
  if (!a)
    return;
  if (a->sock >= 0)
    close (a->sock);
  free (a->input);
  free (a->buffer);
  free (a);
}

DEFINE_POINTER_CLEANUP (box_attach, box_attach_free)

int
box_attach_exit_code (const box_attach *a)
{
  return a->exit_code;
}

int
box_attach_tty (const box_attach *a)
{
  return a->tty;
}

/* What the box was created with: a tty, an open stdin. */
static int
box_stdio_config (const box_box *box, bool *tty, bool *open_stdin, box_error **err)
{
  _cleanup_json_ json_t *doc = NULL;
  if (engine_box_config (box, &doc, err) < 0)
    return box_err_code (err);
  json_t *config = json_object_get (doc, "Config");
  *tty = json_is_true (json_object_get (config, "Tty"));
  *open_stdin = json_is_true (json_object_get (config, "OpenStdin"));
  return 0;
}

static int
new_handle (box_engine *eng, const box_box *box, const box_attach_options *opts, box_attach **out,
            box_error **err)
{
  if (opts->version != BOX_ATTACH_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_attach_options: unknown version %u", opts->version);
  _cleanup_ (box_attach_freep) box_attach *a = calloc (1, sizeof *a);
  if (!a || !(a->buffer = malloc (ATTACH_CHUNK_MAX + 1)))
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  a->eng = eng;
  a->sock = -1;
  memcpy (a->id, box->id, sizeof a->id);
  bool open_stdin = false;
  if (box_stdio_config (box, &a->tty, &open_stdin, err) < 0)
    return box_err_code (err);
  a->stdin_fd = opts->stdin_fd;
  a->stdout_fd = opts->stdout_fd;
  a->stderr_fd = opts->stderr_fd;
  /* input goes only to a box created with an open stdin (-i), like docker */
  a->sends_stdin = opts->stdin_fd >= 0 && open_stdin;
  if (a->tty
      && parse_detach_keys (opts->detach_keys ? opts->detach_keys : DEFAULT_DETACH_KEYS, a->keys,
                            &a->n_keys, err)
             < 0)
    return box_err_code (err);
  *out = TAKE_PTR (a);
  return 0;
}

static void
format_request (const box_attach *a, const box_attach_options *opts, bool lossless, char *buf,
                size_t size)
{
  char flags[8];
  size_t n = 0;
  if (a->sends_stdin)
    flags[n++] = 'i';
  if (opts->stdout_fd >= 0)
    flags[n++] = 'o';
  if (opts->stderr_fd >= 0)
    flags[n++] = 'e';
  if (lossless)
    flags[n++] = 'l';
  if (n == 0)
    flags[n++] = '-';
  flags[n] = '\0';
  snprintf (buf, size, "ATTACH %s %u %u", flags, (unsigned) opts->rows, (unsigned) opts->cols);
}

/* Reads the monitor's answer to ATTACH: "OK <tty>" framed, or an "ERR <code> <message>". */
static int
read_answer (box_attach *a, box_error **err)
{
  ssize_t n;
  do
    n = recv (a->sock, a->buffer, ATTACH_CHUNK_MAX + 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return box_err_errno (err, errno, "attach to box %s: read the monitor's answer", a->id);
  if (n == 0)
    return box_err (err, BOX_E_CONFLICT, "attach to box %s: the box is not running", a->id);
  a->buffer[n] = '\0';
  if (a->buffer[0] == ATTACH_FRAME_CONTROL && str_has_prefix (a->buffer + 1, "OK "))
    return 0;
  if (str_has_prefix (a->buffer, "ERR "))
    {
      int code = monitor_reply_error (a->buffer, "the monitor refused", err);
      box_err_wrap (err, "attach to box %s", a->id);
      return code;
    }
  return box_err (err, BOX_E_INTERNAL, "attach to box %s: unexpected answer from the monitor",
                  a->id);
}

int
box_box_attach (box_engine *eng, const char *ref, const box_attach_options *opts, box_attach **out,
                box_error **err)
{
  box_attach_options defaults = BOX_ATTACH_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  if (box->state != BOX_STATE_RUNNING)
    return box_err (err, BOX_E_CONFLICT, "you cannot attach to a stopped box %s, start it first",
                    ref);
  _cleanup_ (box_attach_freep) box_attach *a = NULL;
  if (new_handle (eng, box, opts, &a, err) < 0)
    return box_err_wrap (err, "attach to %s", ref);
  box_error *local = NULL;
  if (monitor_connect (eng->root, a->id, &a->sock, &local) < 0)
    {
      /* no monitor listens: the box just ended */
      box_error_free (local);
      return box_err (err, BOX_E_CONFLICT, "you cannot attach to a stopped box %s, start it first",
                      ref);
    }
  char request[64];
  format_request (a, opts, false, request, sizeof request);
  ssize_t n;
  do
    n = send (a->sock, request, strlen (request), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return box_err_errno (err, errno, "attach to %s: send to the monitor", ref);
  if (read_answer (a, err) < 0)
    return box_err_code (err);
  *out = TAKE_PTR (a);
  return 0;
}

int
box_box_start_attached (box_engine *eng, const char *ref, const box_attach_options *opts,
                        box_attach **out, box_error **err)
{
  box_attach_options defaults = BOX_ATTACH_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  _cleanup_ (box_attach_freep) box_attach *a = NULL;
  if (new_handle (eng, box, opts, &a, err) < 0)
    return box_err_wrap (err, "start %s", ref);
  int pair[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return box_err_errno (err, errno, "start %s: socketpair", ref);
  a->sock = pair[0];
  _cleanup_close_ int monitor_end = fcntl (pair[1], F_DUPFD_CLOEXEC, SPAWN_FD_FLOOR);
  close (pair[1]);
  if (monitor_end < 0)
    return box_err_errno (err, errno, "start %s: dup", ref);
  /* the monitor finds the request waiting when it starts, before the box runs */
  char request[64];
  format_request (a, opts, true, request, sizeof request);
  if (send (a->sock, request, strlen (request), MSG_NOSIGNAL) < 0)
    return box_err_errno (err, errno, "start %s: send the attach request", ref);
  box_start_options so = BOX_START_OPTIONS_INIT;
  if (engine_box_start (eng, a->id, &so, monitor_end, err) < 0)
    return box_err_code (err);
  closep (&monitor_end);
  if (read_answer (a, err) < 0)
    return box_err_code (err);
  *out = TAKE_PTR (a);
  return 0;
}

int
box_box_resize (box_engine *eng, const char *ref, unsigned rows, unsigned cols, box_error **err)
{
  if (rows == 0 || cols == 0 || rows > 0xffff || cols > 0xffff)
    return box_err (err, BOX_E_INVALID, "resize %s: bad terminal size %u x %u", ref, rows, cols);
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  if (box->state != BOX_STATE_RUNNING)
    return box_err (err, BOX_E_CONFLICT, "resize %s: the box is not running", ref);
  _cleanup_close_ int fd = -1;
  box_error *local = NULL;
  if (monitor_connect (eng->root, box->id, &fd, &local) < 0)
    {
      box_error_free (local);
      return box_err (err, BOX_E_CONFLICT, "resize %s: the box is not running", ref);
    }
  char request[64], reply[MONITOR_MESSAGE_MAX];
  snprintf (request, sizeof request, "RESIZE %u %u", rows, cols);
  if (monitor_request (fd, request, reply, sizeof reply, err) < 0)
    return box_err_wrap (err, "resize %s", ref);
  if (strcmp (reply, "OK") == 0)
    return 0;
  if (str_has_prefix (reply, "ERR "))
    {
      int code = monitor_reply_error (reply, "", err);
      box_err_wrap (err, "resize %s", ref);
      return code;
    }
  return box_err (err, BOX_E_INTERNAL, "resize %s: unexpected answer %s", ref, reply);
}

/* ---- the running attachment --------------------------------------------------------------- */

static int
write_all (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          struct pollfd p = { .fd = fd, .events = POLLOUT };
          poll (&p, 1, -1);
          continue;
        }
      if (n <= 0)
        return -1;
      data += n;
      len -= (size_t) n;
    }
  return 0;
}

/* Appends input for the box to the queue for the socket. */
static int
queue_input (box_attach *a, const char *data, size_t len)
{
  if (len == 0)
    return 0;
  size_t waiting = a->input_len - a->input_off;
  char *bigger = malloc (waiting + len);
  if (!bigger)
    return -1;
  if (waiting)
    memcpy (bigger, a->input + a->input_off, waiting);
  memcpy (bigger + waiting, data, len);
  free (a->input);
  a->input = bigger;
  a->input_len = waiting + len;
  a->input_off = 0;
  return 0;
}

/* Filters the caller's input for the detach keys; true when they were typed. Input before
 * them is queued; a partial match is held until the next key shows whether it continues. */
static bool
filter_input (box_attach *a, const char *data, size_t len)
{
  if (a->n_keys == 0)
    {
      queue_input (a, data, len);
      return false;
    }
  size_t start = 0;
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char) data[i];
      if (c == a->keys[a->keys_matched])
        {
          /* the bytes before a possible sequence go now; the sequence is held */
          if (a->keys_matched == 0)
            {
              queue_input (a, data + start, i - start);
              start = i;
            }
          a->keys_matched++;
          start = i + 1;
          if (a->keys_matched == a->n_keys)
            return true;
          continue;
        }
      if (a->keys_matched > 0)
        {
          /* not the sequence after all: what was held goes to the box */
          queue_input (a, (const char *) a->keys, a->keys_matched);
          a->keys_matched = 0;
          start = i;
          if (c == a->keys[0])
            {
              a->keys_matched = 1;
              start = i + 1;
              if (a->n_keys == 1)
                return true;
            }
        }
    }
  if (a->keys_matched == 0)
    queue_input (a, data + start, len - start);
  return false;
}

/* Sends queued input without blocking; < 0 when the monitor is gone. */
static int
send_input (box_attach *a)
{
  while (a->input_off < a->input_len)
    {
      size_t len = a->input_len - a->input_off;
      if (len > ATTACH_CHUNK_MAX)
        len = ATTACH_CHUNK_MAX;
      char frame = ATTACH_FRAME_STDIN;
      struct iovec iov[2] = { { &frame, 1 }, { a->input + a->input_off, len } };
      struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
      ssize_t n = sendmsg (a->sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
      if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
        {
          /* the monitor takes no more input from us (it closes the connection): what it
           * sent before is still to be read, up to its end */
          a->stdin_ended = true;
          a->input_close_pending = false;
          break;
        }
      if (n < 0)
        return -1;
      a->input_off += len;
    }
  free (a->input);
  a->input = NULL;
  a->input_len = a->input_off = 0;
  if (a->input_close_pending)
    {
      char frame = ATTACH_FRAME_STDIN_CLOSE;
      ssize_t n = send (a->sock, &frame, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
      a->input_close_pending = false;
    }
  return 0;
}

/* The monitor went away without an exit status: what the store says (after reconcile). */
static void
exit_code_from_store (box_attach *a)
{
  int code = 255;
  box_error *local = NULL;
  if (box_box_wait (a->eng, a->id, &code, &local) < 0)
    box_error_free (local);
  a->exit_code = code;
}

int
box_attach_run (box_attach *a, int wake_fd, box_error **err)
{
  for (;;)
    {
      bool input_waits = a->input_off < a->input_len || a->input_close_pending;
      struct pollfd fds[3] = {
        { .fd = a->sock, .events = POLLIN | (input_waits ? POLLOUT : 0) },
        { .fd = a->sends_stdin && !a->stdin_ended && !input_waits ? a->stdin_fd : -1,
          .events = POLLIN },
        { .fd = wake_fd, .events = POLLIN },
      };
      int ready = poll (fds, 3, -1);
      if (ready < 0)
        {
          if (errno == EINTR)
            continue;
          return box_err_errno (err, errno, "attach to box %s: poll", a->id);
        }
      if (fds[2].revents)
        return BOX_ATTACH_WOKEN;
      if (fds[0].revents & POLLIN)
        {
          ssize_t n = recv (a->sock, a->buffer, ATTACH_CHUNK_MAX + 1, MSG_DONTWAIT);
          /* ECONNRESET: the monitor closed with our input unread; it is reported once,
           * before the messages it sent, which are still to be read */
          if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ECONNRESET))
            continue;
          if (n <= 0)
            {
              exit_code_from_store (a);
              return BOX_ATTACH_EXITED;
            }
          int frame = a->buffer[0];
          const char *data = a->buffer + 1;
          size_t len = (size_t) n - 1;
          int out = frame == ATTACH_FRAME_STDOUT   ? a->stdout_fd
                    : frame == ATTACH_FRAME_STDERR ? a->stderr_fd
                                                   : -1;
          if (out >= 0 && write_all (out, data, len) < 0)
            return box_err_errno (err, errno, "attach to box %s: write the box's output", a->id);
          if (frame == ATTACH_FRAME_CONTROL)
            {
              a->buffer[n] = '\0';
              if (str_has_prefix (data, "EXIT "))
                {
                  a->exit_code = atoi (data + 5);
                  return BOX_ATTACH_EXITED;
                }
              /* the monitor gave up on us (we read too slowly); it closes the connection */
              if (str_has_prefix (data, "DROPPED "))
                return box_err (err, BOX_E_IO, "attach to box %s: dropped: %s", a->id, data + 8);
            }
          continue; /* output first: the socket may hold more */
        }
      if (fds[0].revents & (POLLHUP | POLLERR))
        {
          exit_code_from_store (a);
          return BOX_ATTACH_EXITED;
        }
      if (fds[0].revents & POLLOUT)
        if (send_input (a) < 0)
          {
            exit_code_from_store (a);
            return BOX_ATTACH_EXITED;
          }
      if (fds[1].revents)
        {
          char buf[4096];
          ssize_t n = read (a->stdin_fd, buf, sizeof buf);
          if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
          if (n <= 0)
            {
              /* the end of the caller's input: held detach keys go as typed */
              if (a->keys_matched)
                queue_input (a, (const char *) a->keys, a->keys_matched);
              a->keys_matched = 0;
              a->stdin_ended = true;
              a->input_close_pending = true;
            }
          else if (a->tty && filter_input (a, buf, (size_t) n))
            {
              send_input (a); /* what came before the keys */
              return BOX_ATTACH_DETACHED;
            }
          else if (!a->tty)
            queue_input (a, buf, (size_t) n);
          if (send_input (a) < 0)
            {
              exit_code_from_store (a);
              return BOX_ATTACH_EXITED;
            }
        }
    }
}
