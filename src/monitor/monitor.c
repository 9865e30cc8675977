/* box-monitor: the process that watches one running box (like conmon).
 *
 *   box-monitor ROOT ID [--direct] [--attach-stdin] [--attach-stdout] [--attach-stderr]
 *               [--exit-fd] [--attach-fd]
 *
 * Spawned detached by the engine's start, in its own session (monitor-launch.c: it is nobody's
 * child, so nobody has to reap it). The monitor becomes a
 * subreaper, creates and starts the box through the runtime backend (so the box's init is its
 * child), owns the box's stdio (pipes or a pty), writes the json-file log, serves attached
 * clients (attach.c: the one a start passed as MONITOR_ATTACH_FD, and those that ATTACH on
 * the socket), serves KILL / STOP / WAIT / RESIZE on boxes/<id>/monitor.sock, records the exit
 * (code, signal, OOM, time) in the store, releases the runtime state and the rootfs mount,
 * removes an --rm box, and exits.
 *
 * It starts the box before it opens the store: the store's config comes through
 * MONITOR_CONFIG_FD, and the store opens while the box's init gets ready (runtime.h,
 * while_init_prepares). The one connection then stays open until the exit is recorded. */
#include <errno.h>
#include <fcntl.h>
#include <linux/ioprio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "attach.h"
#include "engine/attach-protocol.h"
#include "engine/lifecycle.h"
#include "engine/rootfs.h"
#include "linux/cgroup.h"
#include "linux/proc.h"
#include "logwriter.h"
#include "sanitizer.h"
#include "spare.h"
#include "store/boxes.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"
#include "util/timeutil.h"

#define MAX_CLIENTS 64
/* after the box's init exits, output still in the pipes is read for at most this long */
#define DRAIN_TIMEOUT_MS 2000
#define READ_CHUNK ATTACH_CHUNK_MAX
/* the niceness of the cleanup after the exit is reported: a tenth of a normal CPU share,
 * enough to finish in milliseconds on a busy host */
#define CLEANUP_NICE 10

typedef struct client {
  int fd;
  bool waiting; /* gets "EXIT <code>" at the end */
} client;

typedef struct monitor {
  const char *root;
  const char *id;
  char *dir;
  int dir_fd;
  bool direct, attach_stdin, attach_stdout, attach_stderr, want_exit_fd, want_attach_fd;
  bool tty, open_stdin, stdin_once;
  attach_request first_attach; /* what the client passed as MONITOR_ATTACH_FD asks for */
  int64_t log_max_bytes;
  int log_max_files;
  char *runtime_name;

  engine_runtime rt;
  pid_t box_pid;
  /* the box's mount namespace, held so that the init's exit does not tear its mounts down
   * (an RCU grace period and an unmount per mount, before the kernel reports the exit):
   * that happens when the monitor lets go of it, after the exit is reported */
  int mnt_ns_fd;
  int prepared_net_ns_fd; /* a spare's network namespace for the box, -1: none */
  int console_fd;
  int out_r, err_r; /* pipes from the box, -1 when closed */
  int stdin_fd;     /* attached stdin forwarded to the console (tty), -1 otherwise */
  int signal_fd, listen_fd, timer_fd;
  client clients[MAX_CLIENTS];
  size_t n_clients;

  attach_set attach;

  box_engine eng;      /* the store, open from the start on (eng.store NULL until then) */
  box_error *open_err; /* why it did not open */
  bool files_opened;   /* the log and the control socket (open_box_files) */
  int files_rc;
  box_error *files_err;

  log_writer log;
  log_stream_buffer out_buf, err_buf;
  bool out_forward, err_forward;

  bool exited, stopped;
  int exit_status;
} monitor;

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Opens the store, once; 0 when it is open. */
static int
open_engine (monitor *m, box_error **err)
{
  if (m->eng.store)
    return 0;
  if (m->open_err)
    return box_err (err, box_error_code_of (m->open_err), "%s", box_error_message (m->open_err));
  m->eng.root = (char *) m->root;
  m->eng.root_fd = -1;
  m->eng.spare_fd = -1;
  _cleanup_free_ char *db = NULL;
  if (asprintf (&db, "%s/box.db", m->root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (store_open (db, &m->eng.store, &m->open_err) < 0)
    return box_err (err, box_error_code_of (m->open_err), "%s", box_error_message (m->open_err));
  /* a checkpoint (fsyncs) after a commit would delay whoever waits for that commit: the
   * monitor checkpoints once nobody waits for it */
  store_defer_checkpoints (m->eng.store);
  return 0;
}

/* Holds the box's mount namespace (see mnt_ns_fd); before its init may exec and exit. */
static void
hold_mount_namespace (monitor *m, pid_t init_pid)
{
  if (m->mnt_ns_fd >= 0)
    return;
  char ns_path[64];
  snprintf (ns_path, sizeof ns_path, "/proc/%d/ns/mnt", (int) init_pid);
  m->mnt_ns_fd = open (ns_path, O_RDONLY | O_CLOEXEC);
}

static int open_box_files (monitor *m, box_error **err);

/* runtime_context.while_init_prepares: the store opens while the box's init gets ready */
static void
while_init_prepares (void *arg, pid_t init_pid)
{
  monitor *m = arg;
  hold_mount_namespace (m, init_pid);
  open_box_files (m, NULL);
  open_engine (m, NULL);
}

static void
close_engine (monitor *m)
{
  store_close (m->eng.store);
  m->eng.store = NULL;
  box_error_free (m->open_err);
  m->open_err = NULL;
}

static void write_line (int fd, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
write_line (int fd, const char *fmt, ...)
{
  char buf[MONITOR_MESSAGE_MAX];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;
  if ((size_t) n >= sizeof buf)
    n = sizeof buf - 1;
  while (write (fd, buf, (size_t) n) < 0 && errno == EINTR)
    ;
}

/* A log option: a decimal string (docker's type), or a number (boxes created before);
 * 0 (the default) when absent or not a plain number. */
static int64_t
log_option (const json_t *log_config, const char *key)
{
  const json_t *v = json_object_get (log_config, key);
  if (json_is_integer (v))
    return json_integer_value (v);
  const char *text = json_string_value (v);
  if (!text || !*text)
    return 0;
  char *end;
  errno = 0;
  long long n = strtoll (text, &end, 10);
  return *end || errno || n < 0 ? 0 : n;
}

/* What the monitor needs of the box's stored config (MONITOR_CONFIG_FD). */
static int
load_config (monitor *m, box_error **err)
{
  _cleanup_free_ char *text = NULL;
  int rc = fs_read_fd (MONITOR_CONFIG_FD, "the box's config", &text, NULL, err);
  close (MONITOR_CONFIG_FD);
  if (rc < 0)
    return rc;
  _cleanup_json_ json_t *doc = NULL;
  if (json_parse_object (text, "box config", &doc, err) < 0)
    return box_err_code (err);
  json_t *config = json_object_get (doc, "Config");
  json_t *host = json_object_get (doc, "HostConfig");
  m->tty = json_is_true (json_object_get (config, "Tty"));
  m->open_stdin = json_is_true (json_object_get (config, "OpenStdin"));
  m->stdin_once = json_is_true (json_object_get (config, "StdinOnce"));
  json_t *log_config = json_object_get (json_object_get (host, "LogConfig"), "Config");
  m->log_max_bytes = log_option (log_config, "max-size");
  m->log_max_files = (int) log_option (log_config, "max-file");
  return 0;
}

static int
open_control_socket (monitor *m, box_error **err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/" ENGINE_MONITOR_SOCKET,
            m->dir_fd);
  unlinkat (m->dir_fd, ENGINE_MONITOR_SOCKET, 0);
  m->listen_fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (m->listen_fd < 0)
    return box_err_errno (err, errno, "socket");
  if (bind (m->listen_fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return box_err_errno (err, errno, "bind %s/" ENGINE_MONITOR_SOCKET, m->dir);
  if (listen (m->listen_fd, 16) < 0)
    return box_err_errno (err, errno, "listen %s/" ENGINE_MONITOR_SOCKET, m->dir);
  return 0;
}

/* The box's log and the monitor's socket: opened once, while the box's init gets ready (no
 * client connects and nothing is read from the box before the box runs). */
static int
open_box_files (monitor *m, box_error **err)
{
  if (m->files_opened)
    return m->files_rc < 0 ? box_err (err, box_error_code_of (m->files_err), "%s",
                                      box_error_message (m->files_err))
                           : 0;
  m->files_opened = true;
  int rc = 0;
  if (!m->direct)
    {
      _cleanup_close_ int dir_rw = open (m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir_rw < 0 || log_writer_open (&m->log, dir_rw, m->log_max_bytes, m->log_max_files) < 0)
        rc = box_err_errno (&m->files_err, errno, "open the log of box %s", m->id);
      else
        m->log.dir_fd = TAKE_FD (dir_rw);
    }
  if (rc >= 0)
    rc = open_control_socket (m, &m->files_err);
  m->files_rc = rc;
  return open_box_files (m, err);
}

/* Creates and starts the box; on return it runs (or an error says why not). */
static int
start_box (monitor *m, box_error **err)
{
  int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, in_pipe[2] = { -1, -1 };
  runtime_stdio stdio = { -1, -1, -1 };
  if (m->direct)
    {
      stdio.stdin_fd = m->attach_stdin ? STDIN_FILENO : -1;
      stdio.stdout_fd = STDOUT_FILENO;
      stdio.stderr_fd = STDERR_FILENO;
    }
  else if (!m->tty)
    {
      if (pipe2 (out_pipe, O_CLOEXEC) < 0 || pipe2 (err_pipe, O_CLOEXEC) < 0)
        return box_err_errno (err, errno, "pipe");
      stdio.stdin_fd = m->attach_stdin && m->open_stdin ? STDIN_FILENO : -1;
      if (m->open_stdin && !m->attach_stdin)
        {
          /* -i: the box's stdin is a pipe that attached clients write to */
          if (pipe2 (in_pipe, O_CLOEXEC) < 0)
            return box_err_errno (err, errno, "pipe");
          stdio.stdin_fd = in_pipe[0];
        }
      stdio.stdout_fd = out_pipe[1];
      stdio.stderr_fd = err_pipe[1];
    }
  int console = -1;
  m->rt.ctx.while_init_prepares = while_init_prepares;
  m->rt.ctx.while_init_prepares_arg = m;
  m->rt.ctx.has_prepared_net_ns = m->prepared_net_ns_fd >= 0;
  m->rt.ctx.prepared_net_ns_fd = m->prepared_net_ns_fd;
  /* a terminal gets its size between create and start; else nothing happens there */
  bool run_now = m->rt.backend->run && !m->tty;
  int rc = (run_now ? m->rt.backend->run : m->rt.backend->create) (
      m->rt.backend, &m->rt.ctx, m->id, m->dir, &stdio, &m->box_pid, &console, err);
  m->rt.ctx.while_init_prepares = NULL;
  m->rt.ctx.has_prepared_net_ns = false;
  close_fd (&m->prepared_net_ns_fd); /* the box holds it, or it goes unused */
  if (out_pipe[1] >= 0)
    close (out_pipe[1]);
  if (err_pipe[1] >= 0)
    close (err_pipe[1]);
  if (in_pipe[0] >= 0)
    close (in_pipe[0]);
  if (in_pipe[1] >= 0)
    {
      fcntl (in_pipe[1], F_SETFL, O_NONBLOCK);
      attach_set_input (&m->attach, in_pipe[1], true);
    }
  m->out_r = out_pipe[0];
  m->err_r = err_pipe[0];
  m->console_fd = console;
  if (rc < 0 || open_box_files (m, err) < 0)
    return rc < 0 ? rc : box_err_code (err);
  if (run_now)
    return 0;
  hold_mount_namespace (m, m->box_pid);
  if (m->tty && m->console_fd >= 0)
    {
      /* the console gets the attached terminal's size */
      struct winsize ws = { .ws_row = m->first_attach.rows, .ws_col = m->first_attach.cols };
      if (ws.ws_row && ws.ws_col)
        ioctl (m->console_fd, TIOCSWINSZ, &ws);
      else if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        ioctl (m->console_fd, TIOCSWINSZ, &ws);
      m->out_r = m->console_fd;
      if (m->attach_stdin && m->open_stdin)
        m->stdin_fd = STDIN_FILENO;
      /* the monitor never waits on the box's terminal: reads and writes do not block */
      fcntl (m->console_fd, F_SETFL, fcntl (m->console_fd, F_GETFL) | O_NONBLOCK);
      if (m->open_stdin)
        attach_set_input (&m->attach, m->console_fd, false);
    }
  return m->rt.backend->start (m->rt.backend, &m->rt.ctx, m->id, err);
}

static int
record_running (monitor *m, box_error **err)
{
  if (open_engine (m, err) < 0)
    return box_err_code (err);
  box_engine *eng = &m->eng;
  _cleanup_tx_ store_tx tx = { 0 };
  if (store_tx_begin (eng->store, &tx, err) < 0)
    return box_err_code (err);
  _cleanup_ (box_box_freep) box_box *box = NULL;
  int found = store_box_get_by_id (eng->store, m->id, &box, err);
  if (found <= 0)
    return found < 0 ? found : box_err (err, BOX_E_NOT_FOUND, "No such box: %s", m->id);
  store_box_state_update update = {
    .state = BOX_STATE_RUNNING,
    .pid = m->box_pid,
    .started_ns = time_now_ns (),
    .monitor_pid = getpid (),
    .monitor_start = proc_start_ticks (getpid ()),
  };
  if (store_box_set_state (eng->store, m->id, &update, err) < 0
      || engine_box_event (eng, box, "start", NULL, err) < 0)
    return box_err_code (err);
  return store_tx_commit (&tx, err);
}

/* Records the box-level event of a signal sent on request ("kill", like docker). */
static void
record_kill_event (monitor *m, int sig)
{
  box_error *err = NULL;
  if (open_engine (m, &err) == 0)
    {
      _cleanup_ (box_box_freep) box_box *box = NULL;
      if (store_box_get_by_id (m->eng.store, m->id, &box, &err) > 0)
        {
          char extra[64];
          snprintf (extra, sizeof extra, "{\"signal\":\"%d\"}", sig);
          engine_box_event (&m->eng, box, "kill", extra, &err);
        }
    }
  box_error_free (err);
}

static void
send_signal (monitor *m, int sig, bool all)
{
  box_error *err = NULL;
  m->rt.backend->kill (m->rt.backend, &m->rt.ctx, m->id, sig, all, &err);
  box_error_free (err);
}

static void reply (int fd, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
reply (int fd, const char *fmt, ...)
{
  char buf[MONITOR_MESSAGE_MAX];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (n > 0)
    send (fd, buf, (size_t) n < sizeof buf ? (size_t) n : sizeof buf - 1,
          MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void
drop_client (monitor *m, size_t i)
{
  close (m->clients[i].fd);
  m->clients[i] = m->clients[--m->n_clients];
}

/* Sets the box's terminal size; the kernel sends SIGWINCH to its foreground group. */
static void
resize_console (monitor *m, unsigned short rows, unsigned short cols)
{
  struct winsize ws = { .ws_row = rows, .ws_col = cols };
  if (m->console_fd >= 0 && rows && cols)
    ioctl (m->console_fd, TIOCSWINSZ, &ws);
}

static void
handle_request (monitor *m, size_t i)
{
  char buf[MONITOR_MESSAGE_MAX];
  ssize_t n = recv (m->clients[i].fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  if (n <= 0)
    {
      if (n == 0 || (errno != EAGAIN && errno != EINTR))
        drop_client (m, i);
      return;
    }
  buf[n] = '\0';
  int sig, timeout;
  if (sscanf (buf, "KILL %d", &sig) == 1)
    {
      if (m->exited)
        {
          reply (m->clients[i].fd, "ERR %d box %s is not running", BOX_E_CONFLICT, m->id);
          return;
        }
      record_kill_event (m, sig);
      box_error *err = NULL;
      if (m->rt.backend->kill (m->rt.backend, &m->rt.ctx, m->id, sig, false, &err) < 0)
        reply (m->clients[i].fd, "ERR %d %s", box_error_code_of (err), box_error_message (err));
      else
        reply (m->clients[i].fd, "OK");
      box_error_free (err);
    }
  else if (sscanf (buf, "STOP %d %d", &sig, &timeout) == 2)
    {
      m->clients[i].waiting = true;
      if (m->exited)
        return;
      m->stopped = true;
      record_kill_event (m, sig);
      send_signal (m, sig, false);
      if (timeout == 0)
        {
          if (sig != SIGKILL)
            {
              record_kill_event (m, SIGKILL);
              send_signal (m, SIGKILL, true);
            }
        }
      else if (timeout > 0) /* < 0: no limit */
        {
          struct itimerspec its = { .it_value = { .tv_sec = timeout } };
          timerfd_settime (m->timer_fd, 0, &its, NULL);
        }
    }
  else if (strcmp (buf, "WAIT") == 0)
    m->clients[i].waiting = true;
  else if (str_has_prefix (buf, "ATTACH "))
    {
      attach_request request;
      if (attach_parse_request (buf, &request) < 0)
        {
          reply (m->clients[i].fd, "ERR %d bad attach request", BOX_E_INVALID);
          return;
        }
      if (m->exited)
        {
          reply (m->clients[i].fd, "ERR %d box %s is not running", BOX_E_CONFLICT, m->id);
          return;
        }
      /* the connection becomes an attached client */
      int fd = m->clients[i].fd;
      m->clients[i] = m->clients[--m->n_clients];
      resize_console (m, request.rows, request.cols);
      attach_add (&m->attach, fd, &request);
    }
  else if (sscanf (buf, "RESIZE %d %d", &sig, &timeout) == 2)
    {
      if (!m->tty || m->console_fd < 0)
        reply (m->clients[i].fd, "ERR %d box %s has no terminal", BOX_E_CONFLICT, m->id);
      else if (sig <= 0 || timeout <= 0 || sig > 0xffff || timeout > 0xffff)
        reply (m->clients[i].fd, "ERR %d bad terminal size %d x %d", BOX_E_INVALID, sig, timeout);
      else
        {
          resize_console (m, (unsigned short) sig, (unsigned short) timeout);
          reply (m->clients[i].fd, "OK");
        }
    }
  else
    reply (m->clients[i].fd, "ERR %d unknown request", BOX_E_INVALID);
}

static void
forward (int fd, bool *enabled, const char *data, size_t len)
{
  if (!*enabled)
    return;
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          *enabled = false; /* the attached client went away: keep logging */
          return;
        }
      data += n;
      len -= (size_t) n;
    }
}

/* Reads what the box wrote; returns false at EOF. */
static bool
read_output (monitor *m, int fd, bool is_err)
{
  static char chunk[READ_CHUNK];
  ssize_t n = read (fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false; /* EOF; EIO on a pty whose other side closed */
  const char *stream = is_err ? "stderr" : "stdout";
  log_writer_append (&m->log, is_err ? &m->err_buf : &m->out_buf, stream, chunk, (size_t) n);
  forward (is_err ? STDERR_FILENO : STDOUT_FILENO, is_err ? &m->err_forward : &m->out_forward,
           chunk, (size_t) n);
  attach_output (&m->attach, is_err ? ATTACH_FRAME_STDERR : ATTACH_FRAME_STDOUT, chunk, (size_t) n);
  return true;
}

static void
reap (monitor *m)
{
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, WNOHANG);
      if (pid <= 0)
        return;
      if (pid == m->box_pid && !m->exited)
        {
          m->exited = true;
          m->exit_status = status;
        }
    }
}

static void
event_loop (monitor *m)
{
  int64_t drain_deadline = 0;
  for (;;)
    {
      if (m->exited)
        {
          int64_t now = time_now_ns ();
          if (!drain_deadline)
            drain_deadline = now + (int64_t) DRAIN_TIMEOUT_MS * 1000000;
          if ((m->out_r < 0 && m->err_r < 0) || now >= drain_deadline)
            return;
        }
      /* a lossless attached client that fell behind: the box's output waits for it */
      bool paused = attach_output_paused (&m->attach);
      struct pollfd fds[8 + MAX_CLIENTS + ATTACH_MAX_CLIENTS + 1];
      size_t n = 0;
      fds[n++] = (struct pollfd){ .fd = m->signal_fd, .events = POLLIN };
      fds[n++] = (struct pollfd){ .fd = m->timer_fd, .events = POLLIN };
      fds[n++] = (struct pollfd){ .fd = m->listen_fd, .events = POLLIN };
      fds[n++] = (struct pollfd){ .fd = paused ? -1 : m->out_r, .events = POLLIN };
      fds[n++] = (struct pollfd){ .fd = paused ? -1 : m->err_r, .events = POLLIN };
      fds[n++] = (struct pollfd){ .fd = m->exited ? -1 : m->stdin_fd, .events = POLLIN };
      size_t first_attach = n;
      n += attach_poll_fds (&m->attach, fds + n);
      size_t first_client = n;
      for (size_t i = 0; i < m->n_clients; i++)
        fds[n++] = (struct pollfd){ .fd = m->clients[i].fd, .events = POLLIN };
      int timeout = m->exited ? 50 : -1;
      int ready = poll (fds, n, timeout);
      if (ready < 0)
        {
          if (errno == EINTR)
            continue;
          return;
        }
      if (fds[0].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          while (read (m->signal_fd, &si, sizeof si) == sizeof si)
            ;
          reap (m);
        }
      if (fds[1].revents & POLLIN)
        {
          uint64_t expirations;
          if (read (m->timer_fd, &expirations, sizeof expirations) > 0 && !m->exited)
            {
              record_kill_event (m, SIGKILL);
              send_signal (m, SIGKILL, true);
            }
        }
      if (fds[2].revents & POLLIN)
        {
          int c = accept4 (m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (c >= 0 && m->n_clients < MAX_CLIENTS)
            m->clients[m->n_clients++] = (client){ .fd = c };
          else if (c >= 0)
            close (c);
        }
      bool progress = false;
      if (fds[3].revents & (POLLIN | POLLHUP | POLLERR))
        {
          progress = true;
          if (!read_output (m, m->out_r, false))
            {
              if (m->out_r == m->console_fd)
                {
                  m->console_fd = -1;
                  if (m->attach.input_fd == m->out_r)
                    attach_set_input (&m->attach, -1, false);
                }
              close_fd (&m->out_r);
            }
        }
      if (fds[4].revents & (POLLIN | POLLHUP | POLLERR))
        {
          progress = true;
          if (!read_output (m, m->err_r, true))
            close_fd (&m->err_r);
        }
      if (fds[5].revents & (POLLIN | POLLHUP | POLLERR))
        {
          char buf[4096];
          ssize_t got = read (m->stdin_fd, buf, sizeof buf);
          if (got <= 0)
            m->stdin_fd = -1; /* the client's stdin ended; the console stays */
          else if (m->console_fd >= 0)
            {
              bool ok = true;
              forward (m->console_fd, &ok, buf, (size_t) got);
            }
        }
      if (attach_handle (&m->attach, fds + first_attach, first_client - first_attach))
        progress = true;
      /* after the box's end, output is drained as long as it moves (a lossless client may
       * take its time), and at most DRAIN_TIMEOUT_MS past the last progress */
      if (m->exited && progress)
        drain_deadline = time_now_ns () + (int64_t) DRAIN_TIMEOUT_MS * 1000000;
      /* clients last: handling may drop one and reorder the array */
      for (size_t k = n; k-- > first_client;)
        if (fds[k].revents & (POLLIN | POLLHUP | POLLERR))
          handle_request (m, k - first_client);
    }
}

static void
monitor_clear (monitor *m)
{
  attach_clear (&m->attach);
  box_error_free (m->files_err);
  m->files_err = NULL;
  close_fd (&m->mnt_ns_fd);
  close_fd (&m->prepared_net_ns_fd);
  engine_runtime_clear (&m->rt);
  free (m->runtime_name);
  free (m->dir);
  m->runtime_name = m->dir = NULL;
}

static int
exit_code_of (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 255;
}

/* After a failed start: release what the start took, record why, tell the engine. */
static void
fail_start (monitor *m, box_error *err)
{
  box_error *ignored = NULL;
  if (m->rt.backend)
    m->rt.backend->delete (m->rt.backend, &m->rt.ctx, m->id, true, &ignored);
  box_error_free (ignored);
  ignored = NULL;
  engine_box_release (m->root, m->id, m->runtime_name, &ignored);
  box_error_free (ignored);
  ignored = NULL;
  if (open_engine (m, &ignored) == 0)
    store_box_set_error (m->eng.store, m->id, box_error_message (err),
                         engine_start_failure_exit_code (err), &ignored);
  close_engine (m);
  box_error_free (ignored);
  unlinkat (m->dir_fd, ENGINE_MONITOR_SOCKET, 0);
  char message[MONITOR_MESSAGE_MAX - 32];
  snprintf (message, sizeof message, "%s", box_error_message (err));
  for (char *p = message; *p; p++)
    if (*p == '\n')
      *p = ' ';
  write_line (MONITOR_SYNC_FD, "ERR %d %s\n", box_error_code_of (err), message);
}

/* The store's part of the box's end. */
typedef struct exit_recording {
  monitor *m;
  const engine_exit *exit_info;
  bool intent_held;
  int rc;
  bool removed; /* an --rm box's row went: its directory is to retire */
  box_error *err;
} exit_recording;

static void
record_exit (exit_recording *r)
{
  r->rc = open_engine (r->m, &r->err);
  if (r->rc >= 0 && r->intent_held)
    r->rc = engine_box_record_exit_row (&r->m->eng, r->m->id, r->exit_info, &r->removed, &r->err);
  else if (r->rc >= 0)
    r->rc = engine_box_record_exit (&r->m->eng, r->m->id, r->exit_info, false, NULL, &r->err);
}

/* A part of the box's release on a thread of its own: the unmount of its rootfs, or its
 * runtime's resources (cgroups, state). */
typedef struct box_release {
  monitor *m;
  bool rootfs; /* else the runtime's part */
  pthread_t thread;
  bool threaded;
  int rc;
  box_error *err;
} box_release;

static void *
release_part (void *arg)
{
  box_release *r = arg;
  r->rc = r->rootfs ? rootfs_unmount (r->m->dir, &r->err)
                    : engine_box_release_runtime (r->m->root, r->m->id, r->m->runtime_name,
                                                  &r->err);
  return NULL;
}

static void
release_begin (box_release *r)
{
  r->threaded = pthread_create (&r->thread, NULL, release_part, r) == 0;
  if (!r->threaded)
    release_part (r);
}

/* Waits for it; its error moves to *err unless *err is set already. */
static int
release_end (box_release *r, box_error **err)
{
  if (r->threaded)
    pthread_join (r->thread, NULL);
  if (r->rc < 0 && !*err)
    *err = TAKE_PTR (r->err);
  box_error_freep (&r->err);
  return r->rc;
}

/* A release that failed after the exit was recorded: the box's error says why. */
static void
record_release_error (monitor *m, const box_error *why)
{
  box_error *ignored = NULL;
  store_box_set_error (m->eng.store, m->id, box_error_message (why), 0, &ignored);
  box_error_free (ignored);
}

/* The box's end, before it is reported: its resources go on two threads (the rootfs mount:
 * an unmount waits for an RCU grace period; the runtime state and cgroups, once whether it
 * died of OOM is known) while this one records the exit in the store, the longest of the
 * three (waiting for a thread that finished last cost a cross-CPU wakeup, 0.1-0.2 ms here),
 * all under the box's intent lock (a start that follows at once must not meet the cgroups
 * being removed). An --rm box's directory is only moved to the trash (*trash_fd, for
 * engine_trash_remove): its deletion, slow where freed blocks are discarded, waits until
 * nobody waits for the monitor. Returns whether the exit is recorded. */
static bool
end_box (monitor *m, engine_exit *exit_info, int *trash_fd)
{
  box_error *err = NULL;
  unlinkat (m->dir_fd, ENGINE_MONITOR_SOCKET, 0);
  int intent_fd = -1;
  if (engine_intent_lock (m->root, m->id, true, &intent_fd, &err) < 0)
    box_error_freep (&err); /* recorded without it: a removal takes it itself */
  /* the row of an --rm box may go before the runtime is released (below, in parallel): a
   * monitor killed in between leaves the runtime's name to whoever finishes the intent */
  if (intent_fd >= 0)
    engine_intent_note_runtime (
        intent_fd, m->runtime_name && *m->runtime_name ? m->runtime_name : ENGINE_DEFAULT_RUNTIME);

  box_release unmounting = { .m = m, .rootfs = true };
  release_begin (&unmounting);
  /* while the rootfs goes: whether the box died of OOM, before its cgroups go */
  runtime_stats stats = { 0 };
  if (m->rt.backend->stats
      && m->rt.backend->stats (m->rt.backend, &m->rt.ctx, m->id, RUNTIME_STATS_OOM_ONLY, &stats,
                               &err)
             == 0)
    exit_info->oom_killed = stats.oom_killed;
  box_error_freep (&err);
  box_release releasing = { .m = m };
  release_begin (&releasing);
  exit_recording rec = { .m = m, .exit_info = exit_info, .intent_held = intent_fd >= 0 };
  record_exit (&rec);
  /* the runtime's error first, as before */
  int release_rc = release_end (&releasing, &err);
  if (release_end (&unmounting, &err) < 0)
    release_rc = -1;
  bool recorded = rec.rc >= 0;
  if (release_rc < 0 && recorded && !rec.removed)
    record_release_error (m, err);
  box_error_freep (&err);

  *trash_fd = -1;
  if (rec.removed && engine_box_retire_dir (m->root, m->id, trash_fd, &err) < 0)
    {
      box_error_freep (&err); /* reconcile finishes it under the intent */
      close_fd (&intent_fd);
    }
  if (intent_fd >= 0)
    engine_intent_done (m->root, m->id, intent_fd);
  box_error_free (rec.err);
  return recorded;
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf (stderr, "box-monitor: started by the box engine, not by hand\n");
      return 2;
    }
  monitor_sanitizer_report_to (argv[1]);

  monitor m = { .root = argv[1],
                .dir_fd = -1,
                .console_fd = -1,
                .out_r = -1,
                .err_r = -1,
                .stdin_fd = -1,
                .signal_fd = -1,
                .listen_fd = -1,
                .timer_fd = -1,
                .mnt_ns_fd = -1,
                .prepared_net_ns_fd = -1,
                .log = { .fd = -1, .dir_fd = -1 } };
  if (strcmp (argv[2], MONITOR_SPARE_ARG) == 0)
    {
      /* spawned ahead: the box's network namespace is made while the engine creates the
       * box. The store opens later, while the box's init sets up (while_init_prepares):
       * opened here, after the namespace, the spare was often still opening it when its
       * start came (the two take 1-2 ms, with the engine's process busy on the other CPU),
       * and the start waited for it */
      monitor_spare_reserve_slots ();
      if (monitor_spare_prepare_net_ns (&m.prepared_net_ns_fd) < 0)
        return 1; /* stuck in the new namespace: the engine spawns a monitor instead */
      cgroup_prepare ();
      if (monitor_spare_wait (&argc, &argv) < 0 || argc < 3)
        {
          close_fd (&m.prepared_net_ns_fd);
          return 0;
        }
    }
  m.id = argv[2];
  for (int i = 3; i < argc; i++)
    {
      if (strcmp (argv[i], "--direct") == 0)
        m.direct = true;
      else if (strcmp (argv[i], "--attach-stdin") == 0)
        m.attach_stdin = true;
      else if (strcmp (argv[i], "--attach-stdout") == 0)
        m.attach_stdout = true;
      else if (strcmp (argv[i], "--attach-stderr") == 0)
        m.attach_stderr = true;
      else if (strcmp (argv[i], "--exit-fd") == 0)
        m.want_exit_fd = true;
      else if (strcmp (argv[i], "--attach-fd") == 0)
        m.want_attach_fd = true;
      else if (strcmp (argv[i], "--runtime") == 0 && i + 1 < argc)
        m.runtime_name = strdup (argv[++i]);
    }
  m.out_forward = m.attach_stdout;
  m.err_forward = m.attach_stderr;

  /* the engine's fds arrive without close-on-exec (dup2 clears it): the box must not inherit
   * them (the intent lock, or the pipes a client waits on, would live as long as the box) */
  for (int fd = MONITOR_SYNC_FD; fd <= MONITOR_CONFIG_FD; fd++)
    fcntl (fd, F_SETFD, FD_CLOEXEC);

  prctl (PR_SET_CHILD_SUBREAPER, 1);
  prctl (PR_SET_NAME, "box-monitor");
  signal (SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGHUP);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  m.signal_fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  m.timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

  box_error *err = NULL;
  int load_rc = m.runtime_name ? 0 : box_err (&err, BOX_E_INVALID, "no --runtime given");
  if (load_rc >= 0)
    load_rc = engine_box_dir (m.root, m.id, &m.dir, &err);
  if (load_rc >= 0)
    load_rc = load_config (&m, &err);
  attach_init (&m.attach, m.tty, m.stdin_once);
  if (load_rc >= 0 && m.want_attach_fd)
    {
      /* the client that started the box attached: its request waits in the socket */
      char request[MONITOR_MESSAGE_MAX];
      ssize_t got;
      do
        got = recv (MONITOR_ATTACH_FD, request, sizeof request - 1, MSG_DONTWAIT);
      while (got < 0 && errno == EINTR);
      if (got > 0)
        request[got] = '\0';
      if (got <= 0 || attach_parse_request (request, &m.first_attach) < 0)
        load_rc = box_err (&err, BOX_E_INTERNAL, "the attach request of the start is missing");
    }
  if (load_rc < 0)
    {
      fail_start (&m, err);
      box_error_free (err);
      monitor_clear (&m);
      return 1;
    }
  m.dir_fd = open (m.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int rc = m.dir_fd < 0 ? box_err_errno (&err, errno, "open %s", m.dir) : 0;
  if (rc >= 0)
    rc = engine_runtime_open (m.root, m.runtime_name, &m.rt, &err);
  if (rc >= 0)
    rc = start_box (&m, &err);
  if (rc >= 0)
    rc = record_running (&m, &err);
  if (rc < 0)
    {
      fail_start (&m, err);
      box_error_free (err);
      monitor_clear (&m);
      return 1;
    }
  if (m.want_attach_fd)
    {
      /* before the event loop reads any output: nothing the box writes is lost to it */
      int fd = fcntl (MONITOR_ATTACH_FD, F_DUPFD_CLOEXEC, 0);
      if (fd >= 0)
        attach_add (&m.attach, fd, &m.first_attach);
      close (MONITOR_ATTACH_FD);
    }
  /* the start's intent ends here (the engine handed it over with the start, and no longer
   * holds it): the box's end takes it again at once, without waiting for the engine */
  engine_intent_done (m.root, m.id, MONITOR_INTENT_FD);
  write_line (MONITOR_SYNC_FD, "OK %d\n", (int) m.box_pid);
  close (MONITOR_SYNC_FD);
  /* the attached stdio the box does not use directly is ours only to forward to */
  if (!m.direct && m.stdin_fd != STDIN_FILENO)
    {
      int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (devnull >= 0)
        {
          dup2 (devnull, STDIN_FILENO);
          close (devnull);
        }
    }
  if (m.direct)
    {
      /* the box holds the client's stdio itself: the monitor lets go of its copies, so the
       * client sees EOF as soon as the box is done */
      int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
      if (devnull >= 0)
        {
          dup2 (devnull, STDIN_FILENO);
          dup2 (devnull, STDOUT_FILENO);
          dup2 (devnull, STDERR_FILENO);
          close (devnull);
        }
    }

  event_loop (&m);
  reap (&m);
  if (!m.direct)
    {
      log_writer_flush (&m.log, &m.out_buf, "stdout");
      log_writer_flush (&m.log, &m.err_buf, "stderr");
      log_writer_close (&m.log);
    }

  engine_exit exit_info
      = { .exit_code = m.exited ? exit_code_of (m.exit_status) : 255, .stopped = m.stopped };
  int trash_fd = -1;
  bool recorded = end_box (&m, &exit_info, &trash_fd);

  if (m.want_exit_fd)
    write_line (MONITOR_EXIT_FD, "EXIT %d\n", exit_info.exit_code);
  for (size_t i = 0; i < m.n_clients; i++)
    if (m.clients[i].waiting)
      reply (m.clients[i].fd, "EXIT %d", exit_info.exit_code);
  /* attached clients get their output and the exit code before the cleanup */
  attach_finish (&m.attach, exit_info.exit_code, DRAIN_TIMEOUT_MS);
  if (m.want_exit_fd)
    close (MONITOR_EXIT_FD);
  for (size_t i = 0; i < m.n_clients; i++)
    close (m.clients[i].fd);
  m.n_clients = 0;
  /* nor may an attached client's pipes stay open for what follows */
  int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0)
    {
      dup2 (devnull, STDIN_FILENO);
      dup2 (devnull, STDOUT_FILENO);
      dup2 (devnull, STDERR_FILENO);
      close (devnull);
    }

  /* what follows is cleanup nobody waits for: it yields the CPU and the disk to whatever
   * runs meanwhile (typically the next box's start) */
  setpriority (PRIO_PROCESS, 0, CLEANUP_NICE);
  syscall (SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE (IOPRIO_CLASS_BE, 7));
  close_fd (&m.mnt_ns_fd);
  if (recorded)
    store_upkeep_if_due (m.eng.store);
  if (trash_fd >= 0 && engine_trash_recycle (m.root, m.id, trash_fd, &err) < 0)
    box_error_freep (&err); /* reconcile deletes it on a later open */
  /* last: while any process has the store open, one that opens it does not have to rebuild
   * the WAL index (SQLite does that for the first connection only), which the next box's
   * start, often under way by now, would otherwise do */
  close_engine (&m);
  monitor_clear (&m);
  /* a normal exit: in sanitizer builds LeakSanitizer checks what the monitor still holds */
  monitor_sanitizer_exit_watchdog ();
  return 0;
}
