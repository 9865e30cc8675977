/* Owns the oci backend: create/start/kill/delete/state/exec/stats through an OCI runtime's
 * command line (runc's dialect, which crun and runsc share), with its state directory under
 * the engine's (--root), its errors captured from its JSON log. */
#include "runtime/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fdpass.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define MAX_OCI_BACKENDS 8
#define MAX_ARGS 24

typedef struct oci_backend {
  runtime_backend base; /* first: the contract passes runtime_backend pointers */
  char binary[PATH_MAX];
  char name[PATH_MAX + 8];
} oci_backend;

extern char **environ;

/* ---- running the binary ----------------------------------------------------------------- */

typedef struct run_result {
  int status; /* wait status */
  char *out;  /* its stdout (when captured) */
  char *log;  /* its stderr and JSON log */
} run_result;

static void
run_result_clear (run_result *r)
{
  free (r->out);
  free (r->log);
  memset (r, 0, sizeof *r);
}

static char *
read_memfd (int fd)
{
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    return strdup ("");
  char *buf = malloc ((size_t) st.st_size + 1);
  if (!buf)
    return NULL;
  ssize_t n = pread (fd, buf, (size_t) st.st_size, 0);
  buf[n > 0 ? n : 0] = '\0';
  return buf;
}

/* The message of the last "error" entry of runc's JSON log, else the trimmed raw text. */
static void
log_message (const char *log, char *out, size_t size)
{
  out[0] = '\0';
  if (!log)
    return;
  const char *line = log;
  while (*line)
    {
      size_t len = strcspn (line, "\n");
      json_t *j = json_loadb (line, len, 0, NULL);
      const char *level = j ? json_string_value (json_object_get (j, "level")) : NULL;
      const char *msg = j ? json_string_value (json_object_get (j, "msg")) : NULL;
      if (level && msg && (strcmp (level, "error") == 0 || strcmp (level, "fatal") == 0))
        snprintf (out, size, "%s", msg);
      else if (!j && len > 0 && !out[0])
        snprintf (out, size, "%.*s", (int) len, line);
      json_decref (j);
      line += len;
      if (*line == '\n')
        line++;
    }
}

/* Starts binary with argv, child_fds[i] as its fd i (i < 4), and SIGKILL as its parent-death
 * signal: a runc outliving a killed monitor would go on creating a box (mounts, /dev nodes
 * under its rootfs) that reconcile has already removed. (The signal follows the calling
 * thread: runtime operations run on the thread that waits for them.) */
static int
spawn_dying_with_us (const char *binary, const char *const *argv, const int child_fds[4],
                     pid_t *out_pid, box_error **err)
{
  /* above the targets first, so no dup2 in the child overwrites a source it still needs */
  int high[4] = { -1, -1, -1, -1 };
  for (int i = 0; i < 4; i++)
    if ((high[i] = fcntl (child_fds[i], F_DUPFD_CLOEXEC, 10)) < 0)
      {
        int saved = errno;
        for (int j = 0; j < i; j++)
          close (high[j]);
        return box_err_errno (err, saved, "run %s: dup", binary);
      }
  pid_t parent = getpid ();
  pid_t pid = fork ();
  if (pid == 0)
    {
      /* only async-signal-safe calls from here on */
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != parent)
        _exit (127);
      for (int i = 0; i < 4; i++)
        if (dup2 (high[i], i) < 0)
          _exit (127);
      execve (binary, (char *const *) argv, environ);
      _exit (127);
    }
  int saved = errno;
  for (int i = 0; i < 4; i++)
    close (high[i]);
  if (pid < 0)
    return box_err_errno (err, saved, "run %s: fork", binary);
  *out_pid = pid;
  return 0;
}

/* Runs the runtime: argv after the global options; stdio fds for the box (NULL: capture
 * stdout, stderr into the log). */
static int
run_runtime (const oci_backend *b, const runtime_context *ctx, const char *const *args,
             const runtime_stdio *stdio, run_result *result, box_error **err)
{
  memset (result, 0, sizeof *result);
  if (!ctx || !ctx->state_dir)
    return box_err (err, BOX_E_INVALID, "the oci runtime needs a state directory");
  if (fs_mkdir_p (ctx->state_dir, 0700, err) < 0)
    return box_err_code (err);
  _cleanup_close_ int out_fd = memfd_create ("oci-stdout", MFD_CLOEXEC);
  _cleanup_close_ int log_fd = memfd_create ("oci-log", MFD_CLOEXEC);
  _cleanup_close_ int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (out_fd < 0 || log_fd < 0 || devnull < 0)
    return box_err_errno (err, errno, "oci runtime: memfd_create");

  char log_path[64];
  snprintf (log_path, sizeof log_path, "/proc/self/fd/%d", log_fd);
  const char *argv[MAX_ARGS + 8];
  size_t n = 0;
  argv[n++] = b->binary;
  argv[n++] = "--root";
  argv[n++] = ctx->state_dir;
  argv[n++] = "--log-format";
  argv[n++] = "json";
  for (size_t i = 0; args[i] && i < MAX_ARGS; i++)
    argv[n++] = args[i];
  argv[n] = NULL;

  int fds[3];
  if (stdio)
    {
      fds[0] = stdio->stdin_fd >= 0 ? stdio->stdin_fd : devnull;
      fds[1] = stdio->stdout_fd >= 0 ? stdio->stdout_fd : devnull;
      fds[2] = stdio->stderr_fd >= 0 ? stdio->stderr_fd : devnull;
    }
  else
    {
      fds[0] = devnull;
      fds[1] = out_fd;
      fds[2] = log_fd;
    }
  /* runc logs to --log; our memfd reaches it through the child's own fd table */
  int log_in_child = 3;
  int child_fds[4] = { fds[0], fds[1], fds[2], log_fd };
  char child_log[32];
  snprintf (child_log, sizeof child_log, "/proc/self/fd/%d", log_in_child);
  /* insert "--log <path>" after the global options */
  const char *with_log[MAX_ARGS + 10];
  size_t k = 0;
  for (size_t i = 0; i < 5; i++)
    with_log[k++] = argv[i];
  with_log[k++] = "--log";
  with_log[k++] = child_log;
  for (size_t i = 5; i <= n; i++)
    with_log[k++] = argv[i];

  pid_t pid = -1;
  if (spawn_dying_with_us (b->binary, with_log, child_fds, &pid, err) < 0)
    return box_err_code (err);
  int status;
  pid_t r;
  do
    r = waitpid (pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return box_err_errno (err, errno, "wait for %s", b->binary);
  result->status = status;
  result->out = read_memfd (out_fd);
  result->log = read_memfd (log_fd);
  if (!result->out || !result->log)
    {
      run_result_clear (result);
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  return 0;
}

static bool
succeeded (const run_result *r)
{
  return WIFEXITED (r->status) && WEXITSTATUS (r->status) == 0;
}

static int
runtime_failed (const oci_backend *b, const char *verb, const char *id, const run_result *r,
                box_error **err)
{
  char message[1024];
  log_message (r->log, message, sizeof message);
  box_error_code code = BOX_E_IO;
  if (strstr (message, "does not exist") || strstr (message, "not found"))
    code = BOX_E_NOT_FOUND;
  else if (strstr (message, "already exists") || strstr (message, "not running")
           || strstr (message, "cannot start") || strstr (message, "is running")
           || strstr (message, "not stopped") || strstr (message, "is paused"))
    code = BOX_E_CONFLICT;
  if (strstr (message, "executable file not found")
      || strstr (message, "no such file or directory"))
    code = BOX_E_NOT_FOUND;
  else if (strstr (message, "permission denied"))
    code = BOX_E_PERMISSION;
  return box_err (err, code, "%s %s %s: %s", b->binary, verb, id,
                  message[0] ? message : "failed without a message");
}

static const oci_backend *
as_oci (const runtime_backend *rt)
{
  return (const oci_backend *) rt;
}

/* ---- console socket ---------------------------------------------------------------------- */

/* The socket the runtime sends the pty master to. Its path must fit a sockaddr_un (108
 * bytes) and the runtime connects to it by path, so a long state directory cannot hold it:
 * it lives in a private directory of its own under /tmp (removed by console_forget). */
static int
console_listen (const runtime_context *ctx, const char *id, char *path, size_t size,
                box_error **err)
{
  (void) ctx;
  (void) id;
  char dir[] = "/tmp/box-console-XXXXXX";
  if (!mkdtemp (dir))
    return box_err_errno (err, errno, "create a directory for the console socket in /tmp");
  snprintf (path, size, "%s/console.sock", dir);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  strcpy (addr.sun_path, path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved = errno;
      rmdir (dir);
      return box_err_errno (err, saved, "socket");
    }
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 1) < 0)
    {
      int saved = errno;
      close (fd);
      unlink (path);
      rmdir (dir);
      return box_err_errno (err, saved, "listen on %s", path);
    }
  return fd;
}

/* Removes the console socket and its directory. */
static void
console_forget (char *path)
{
  unlink (path);
  char *slash = strrchr (path, '/');
  if (slash)
    {
      *slash = '\0';
      rmdir (path);
    }
}

/* The runtime connected and sent the pty master before it exited: take it. */
static int
console_receive (int listen_fd, int *out, box_error **err)
{
  _cleanup_close_ int conn = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (conn < 0)
    return box_err_errno (err, errno, "accept the console from the runtime");
  char byte[256];
  int console = -1;
  ssize_t n = fd_receive (conn, byte, sizeof byte, &console);
  if (n < 0)
    return box_err_errno (err, (int) -n, "receive the console from the runtime");
  if (console < 0)
    return box_err (err, BOX_E_IO, "the runtime sent no console");
  *out = console;
  return 0;
}

/* ---- operations -------------------------------------------------------------------------- */

/* Where create tells the box's pid: <state_dir>/<id>.pid. runc writes it as .<id>.pid first
 * and renames it: hidden picks that name. */
static void
pid_file_path (const runtime_context *ctx, const char *id, bool hidden, char *out, size_t size)
{
  snprintf (out, size, "%s/%s%s.pid", ctx->state_dir, hidden ? "." : "", id);
}

static int
read_pid_file (const char *path, pid_t *out, box_error **err)
{
  _cleanup_free_ char *text = NULL;
  size_t len;
  if (fs_read_file (AT_FDCWD, path, &text, &len, err) < 0)
    return box_err_code (err);
  long pid = strtol (text, NULL, 10);
  if (pid <= 0)
    return box_err (err, BOX_E_IO, "%s: no pid", path);
  *out = (pid_t) pid;
  return 0;
}

/* Runs `<binary> <verb_args...> --pid-file PID_FILE [--console-socket SOCKET] ID`, the shape
 * of create and exec: the runtime leaves the process waiting (create) or running detached
 * (exec) and tells its pid through the pid file, and its terminal (when the process has one)
 * over the console socket. */
static int
run_with_pid_file (const oci_backend *b, const runtime_context *ctx, const char *verb,
                   const char *const verb_args[5], const char *id, const char *pid_file,
                   bool terminal, const runtime_stdio *stdio, pid_t *out_pid,
                   int *out_console_fd, box_error **err)
{
  char console_path[PATH_MAX + 64];
  unlink (pid_file);
  _cleanup_close_ int console_listener = -1;
  if (terminal)
    {
      console_listener = console_listen (ctx, id, console_path, sizeof console_path, err);
      if (console_listener < 0)
        return box_err_code (err);
    }
  const char *args[13];
  size_t n = 0;
  for (size_t i = 0; i < 5 && verb_args[i]; i++)
    args[n++] = verb_args[i];
  args[n++] = "--pid-file";
  args[n++] = pid_file;
  if (terminal)
    {
      args[n++] = "--console-socket";
      args[n++] = console_path;
    }
  args[n++] = id;
  args[n] = NULL;
  run_result r;
  int rc = run_runtime (b, ctx, args, stdio, &r, err);
  if (terminal)
    console_forget (console_path);
  if (rc < 0)
    return rc;
  if (!succeeded (&r))
    {
      rc = runtime_failed (b, verb, id, &r, err);
      run_result_clear (&r);
      return rc;
    }
  run_result_clear (&r);
  if (read_pid_file (pid_file, out_pid, err) < 0)
    return box_err_wrap (err, "%s %s %s", b->binary, verb, id);
  unlink (pid_file);
  if (terminal && console_receive (console_listener, out_console_fd, err) < 0)
    return box_err_wrap (err, "%s %s %s", b->binary, verb, id);
  return 0;
}

/* create, or with run_now `run --detach` (one runtime process where create and start take
 * two) */
static int
create_box (const runtime_backend *rt, const runtime_context *ctx, const char *id,
            const char *bundle_dir, const runtime_stdio *stdio, pid_t *out_pid, int *out_console_fd,
            bool run_now, box_error **err)
{
  const oci_backend *b = as_oci (rt);
  *out_pid = 0;
  if (out_console_fd)
    *out_console_fd = -1;
  if (!ctx || !ctx->state_dir)
    return box_err (err, BOX_E_INVALID, "the oci runtime needs a state directory");
  if (fs_mkdir_p (ctx->state_dir, 0700, err) < 0)
    return box_err_code (err);
  _cleanup_ (oci_config_freep) oci_config *config = NULL;
  if (spec_load_bundle (bundle_dir, &config, err) < 0)
    return box_err_code (err);
  bool terminal = config->process.terminal;
  if (terminal && !out_console_fd)
    return box_err (err, BOX_E_INVALID,
                    "the bundle asks for a terminal but the caller takes no console");

  char pid_file[PATH_MAX + 64];
  pid_file_path (ctx, id, false, pid_file, sizeof pid_file);
  const char *const create_args[5] = { "create", "--bundle", bundle_dir, NULL, NULL };
  const char *const run_args[5] = { "run", "--detach", "--bundle", bundle_dir, NULL };
  return run_with_pid_file (b, ctx, run_now ? "run" : "create", run_now ? run_args : create_args,
                            id, pid_file, terminal, stdio, out_pid, out_console_fd, err);
}

static int
oci_create (const runtime_backend *rt, const runtime_context *ctx, const char *id,
            const char *bundle_dir, const runtime_stdio *stdio, pid_t *out_pid, int *out_console_fd,
            box_error **err)
{
  return create_box (rt, ctx, id, bundle_dir, stdio, out_pid, out_console_fd, false, err);
}

static int
oci_run (const runtime_backend *rt, const runtime_context *ctx, const char *id,
         const char *bundle_dir, const runtime_stdio *stdio, pid_t *out_pid, int *out_console_fd,
         box_error **err)
{
  return create_box (rt, ctx, id, bundle_dir, stdio, out_pid, out_console_fd, true, err);
}

static int
simple_verb (const runtime_backend *rt, const runtime_context *ctx, const char *verb,
             const char *id, const char *const *args, run_result *out, box_error **err)
{
  const oci_backend *b = as_oci (rt);
  run_result r;
  if (run_runtime (b, ctx, args, NULL, &r, err) < 0)
    return box_err_code (err);
  if (!succeeded (&r))
    {
      int rc = runtime_failed (b, verb, id, &r, err);
      run_result_clear (&r);
      return rc;
    }
  if (out)
    *out = r;
  else
    run_result_clear (&r);
  return 0;
}

static int
oci_start (const runtime_backend *rt, const runtime_context *ctx, const char *id, box_error **err)
{
  const char *args[] = { "start", id, NULL };
  return simple_verb (rt, ctx, "start", id, args, NULL, err);
}

static int
oci_kill (const runtime_backend *rt, const runtime_context *ctx, const char *id, int signal,
          bool all, box_error **err)
{
  char sig[16];
  snprintf (sig, sizeof sig, "%d", signal);
  const char *args[] = { "kill", all ? "--all" : id, all ? id : sig, all ? sig : NULL, NULL };
  return simple_verb (rt, ctx, "kill", id, args, NULL, err);
}

static int
oci_delete (const runtime_backend *rt, const runtime_context *ctx, const char *id, bool force,
            box_error **err)
{
  const char *args[] = { "delete", force ? "--force" : id, force ? id : NULL, NULL };
  box_error *local = NULL;
  if (simple_verb (rt, ctx, "delete", id, args, NULL, &local) < 0)
    {
      if (box_err_code (&local) != BOX_E_NOT_FOUND)
        return box_err_propagate (err, &local);
      box_error_freep (&local); /* deleting an unknown box succeeds (reconcile) */
    }
  /* the pid file of a create whose caller was killed before it read it, and the runtime's
   * own temporary one when the runtime was killed */
  if (ctx && ctx->state_dir)
    for (int hidden = 0; hidden < 2; hidden++)
      {
        char pid_file[PATH_MAX + 64];
        pid_file_path (ctx, id, hidden, pid_file, sizeof pid_file);
        unlink (pid_file);
      }
  return 0;
}

/* `<binary> state ID`, parsed ("state" answers for stopped boxes too). */
static int
read_runtime_state (const runtime_backend *rt, const runtime_context *ctx, const char *id,
                    json_t **out, box_error **err)
{
  const char *args[] = { "state", id, NULL };
  run_result r;
  if (simple_verb (rt, ctx, "state", id, args, &r, err) < 0)
    return box_err_code (err);
  int rc = json_parse_object (r.out, "runtime state", out, err);
  run_result_clear (&r);
  return rc;
}

static int
oci_state (const runtime_backend *rt, const runtime_context *ctx, const char *id,
           runtime_state *out, box_error **err)
{
  _cleanup_json_ json_t *j = NULL;
  if (read_runtime_state (rt, ctx, id, &j, err) < 0)
    return box_err_code (err);
  const char *status = json_string_value (json_object_get (j, "status"));
  json_t *pid = json_object_get (j, "pid");
  out->pid = json_is_integer (pid) ? (pid_t) json_integer_value (pid) : 0;
  if (str_eq (status, "created"))
    out->status = RUNTIME_STATUS_CREATED;
  else if (str_eq (status, "running") || str_eq (status, "paused"))
    out->status = RUNTIME_STATUS_RUNNING;
  else if (str_eq (status, "creating"))
    out->status = RUNTIME_STATUS_CREATING;
  else
    {
      out->status = RUNTIME_STATUS_STOPPED;
      out->pid = 0;
    }
  return 0;
}

static int
oci_exec (const runtime_backend *rt, const runtime_context *ctx, const char *id,
          const char *process_json, const runtime_stdio *stdio, pid_t *out_pid, int *out_console_fd,
          box_error **err)
{
  const oci_backend *b = as_oci (rt);
  *out_pid = 0;
  if (out_console_fd)
    *out_console_fd = -1;
  _cleanup_json_ json_t *process_obj = NULL;
  if (json_parse_object (process_json, "exec process", &process_obj, err) < 0)
    return box_err_code (err);
  bool terminal = json_is_true (json_object_get (process_obj, "terminal"));
  if (terminal && !out_console_fd)
    return box_err (err, BOX_E_INVALID,
                    "the process asks for a terminal but the caller takes no console");
  if (fs_mkdir_p (ctx->state_dir, 0700, err) < 0)
    return box_err_code (err);
  char process_file[PATH_MAX + 64], pid_file[PATH_MAX + 64];
  snprintf (process_file, sizeof process_file, "%s/%s.exec.json", ctx->state_dir, id);
  snprintf (pid_file, sizeof pid_file, "%s/%s.exec.pid", ctx->state_dir, id);
  _cleanup_close_ int dirfd = open (ctx->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return box_err_errno (err, errno, "open %s", ctx->state_dir);
  if (fs_write_file_atomic (dirfd, strrchr (process_file, '/') + 1, process_json,
                            strlen (process_json), 0600, err)
      < 0)
    return box_err_code (err);
  const char *const verb_args[5] = { "exec", "--detach", "--process", process_file, NULL };
  int rc = run_with_pid_file (b, ctx, "exec", verb_args, id, pid_file, terminal, stdio, out_pid,
                              out_console_fd, err);
  unlink (process_file);
  return rc;
}

static uint64_t
json_u64_path (const json_t *j, const char *a, const char *b, const char *c)
{
  const json_t *v = json_object_get (j, a);
  if (b)
    v = json_object_get (v, b);
  if (c)
    v = json_object_get (v, c);
  return json_is_integer (v) ? (uint64_t) json_integer_value (v) : 0;
}

/* The bundle runc recorded for the box ("runc state" answers for stopped boxes too). */
static int
runtime_bundle (const runtime_backend *rt, const runtime_context *ctx, const char *id, char **out,
                box_error **err)
{
  _cleanup_json_ json_t *j = NULL;
  if (read_runtime_state (rt, ctx, id, &j, err) < 0)
    return box_err_code (err);
  const char *bundle = json_string_value (json_object_get (j, "bundle"));
  if (!bundle)
    return box_err (err, BOX_E_IO, "%s state %s: no bundle", as_oci (rt)->binary, id);
  *out = strdup (bundle);
  return *out ? 0 : box_err (err, BOX_E_INTERNAL, "out of memory");
}

static int
oci_stats (const runtime_backend *rt, const runtime_context *ctx, const char *id,
           runtime_stats_scope scope, runtime_stats *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  /* with an absolute linux.cgroupsPath (the engine always sets one), the cgroup is known and
     readable whether the box runs or has exited: the same reader as the native backend, so
     OOM kills are reported the same way */
  _cleanup_free_ char *bundle = NULL;
  if (runtime_bundle (rt, ctx, id, &bundle, err) < 0)
    return box_err_code (err);
  _cleanup_ (oci_config_freep) oci_config *config = NULL;
  if (spec_load_bundle (bundle, &config, err) < 0)
    return box_err_code (err);
  if (config->cgroups_path && config->cgroups_path[0] == '/')
    return runtime_stats_from_cgroup (config->cgroups_path, scope, out, err);
  /* a cgroup placed relative to the runtime's own: only the runtime knows it, and answers
     only while the box runs */
  const char *args[] = { "events", "--stats", id, NULL };
  run_result r;
  if (simple_verb (rt, ctx, "events", id, args, &r, err) < 0)
    return box_err_code (err);
  _cleanup_json_ json_t *j = NULL;
  int rc = json_parse_object (r.out, "runtime stats", &j, err);
  run_result_clear (&r);
  if (rc < 0)
    return rc;
  const json_t *data = json_object_get (j, "data");
  out->memory_usage_bytes = json_u64_path (data, "memory", "usage", "usage");
  uint64_t limit = json_u64_path (data, "memory", "usage", "limit");
  out->memory_limit_bytes = limit >= (UINT64_C (1) << 62) ? 0 : limit;
  out->cpu_usage_ns = json_u64_path (data, "cpu", "usage", "total");
  out->pids_current = json_u64_path (data, "pids", "current", NULL);
  out->oom_killed = json_u64_path (json_object_get (json_object_get (data, "memory"), "raw"),
                                   "oom_kill", NULL, NULL)
                    > 0;
  return 0;
}

static pthread_mutex_t backends_lock = PTHREAD_MUTEX_INITIALIZER;
static oci_backend backends[MAX_OCI_BACKENDS];
static size_t n_backends;

static bool
find_in_path (const char *name, char *out, size_t size)
{
  if (strchr (name, '/'))
    {
      if (access (name, X_OK) < 0)
        return false;
      snprintf (out, size, "%s", name);
      return true;
    }
  const char *path = getenv ("PATH");
  if (!path)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (*path)
    {
      size_t len = strcspn (path, ":");
      snprintf (out, size, "%.*s/%s", (int) len, path, name);
      if (len > 0 && access (out, X_OK) == 0)
        return true;
      path += len;
      if (*path == ':')
        path++;
    }
  return false;
}

const runtime_backend *
oci_backend_for (const char *binary)
{
  char resolved[PATH_MAX];
  if (!binary || !*binary || !find_in_path (binary, resolved, sizeof resolved))
    return NULL;
  const runtime_backend *found = NULL;
  pthread_mutex_lock (&backends_lock);
  for (size_t i = 0; i < n_backends && !found; i++)
    if (strcmp (backends[i].binary, resolved) == 0)
      found = &backends[i].base;
  if (!found && n_backends < MAX_OCI_BACKENDS)
    {
      oci_backend *b = &backends[n_backends++];
      snprintf (b->binary, sizeof b->binary, "%s", resolved);
      snprintf (b->name, sizeof b->name, "oci:%s", resolved);
      b->base = (runtime_backend){
        .name = b->name,
        .create = oci_create,
        .run = oci_run,
        .start = oci_start,
        .kill = oci_kill,
        .delete = oci_delete,
        .state = oci_state,
        .exec = oci_exec,
        .stats = oci_stats,
      };
      found = &b->base;
    }
  pthread_mutex_unlock (&backends_lock);
  return found;
}
