/* Owns the native backend: box's own Linux runtime. create() clones the box's init into new
 * namespaces (clone3, straight into its cgroup where the host has a unified hierarchy), which
 * sets the box up and blocks reading a pipe it holds both ends of; start() opens the write end
 * through /proc/<pid>/fd and writes one byte, so start works from any process and costs no
 * file in the state directory. The state of a box is one file, <state_dir>/<id>.json (pid,
 * its start time, the start pipe's fd number, bundle, cgroup), written once at create: file
 * creation on the state directory's filesystem is a measurable part of a box's start.
 *
 * The caller (the box's monitor) is single-threaded: the clone3 child is a plain copy of it. */
#include "runtime/native.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/cgroup.h"
#include "linux/cpus.h"
#include "runtime/native-init.h"
#include "runtime/seccomp-bpf.h"
#include "runtime/seccomp-profile.h"
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fdpass.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define DEFAULT_CGROUP_PARENT "/box"
#define ID_MAX 128
#define CGROUP_EMPTY_TIMEOUT_MS 2000

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args as of Linux 5.7 (with cgroup), spelled out so that old headers do. */
typedef struct clone3_args {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
} clone3_args;

static pid_t
clone3_fork (uint64_t flags, int cgroup_fd)
{
  clone3_args args = { .flags = flags, .exit_signal = SIGCHLD };
  if (cgroup_fd >= 0)
    {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = (uint64_t) cgroup_fd;
    }
  return (pid_t) syscall (SYS_clone3, &args, sizeof args);
}

/* ---- per-box state ---------------------------------------------------------------------- */

typedef struct native_state {
  pid_t pid;
  unsigned long long start_time; /* /proc/<pid>/stat field 22: tells a reused pid apart */
  int start_fd;                  /* the write end of the start pipe, as numbered in the init */
  int exec_fd;                   /* the read end of the exec pipe, as numbered in the init */
  char *bundle;
  char *cgroup;
} native_state;

static void
native_state_clear (native_state *s)
{
  free (s->bundle);
  free (s->cgroup);
  memset (s, 0, sizeof *s);
}

static void
native_state_clearp (native_state **s)
{
  native_state_clear (*s);
}

static int
check_id (const char *id, box_error **err)
{
  size_t len = id ? strlen (id) : 0;
  if (len == 0 || len > ID_MAX || id[0] == '.')
    return box_err (err, BOX_E_INVALID, "invalid box id \"%s\"", id ? id : "");
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
          || *p == '-' || *p == '_' || *p == '.'))
      return box_err (err, BOX_E_INVALID, "invalid box id \"%s\"", id);
  return 0;
}

static int
state_path (const runtime_context *ctx, const char *id, char *out, size_t size, box_error **err)
{
  if (check_id (id, err) < 0)
    return box_err_code (err);
  if (!ctx || !ctx->state_dir)
    return box_err (err, BOX_E_INVALID, "the native runtime needs a state directory");
  int len = snprintf (out, size, "%s/%s.json", ctx->state_dir, id);
  if (len < 0 || (size_t) len >= size)
    return box_err (err, BOX_E_INVALID, "state path too long");
  return 0;
}

/* Reads field 22 (start time) and the state letter of /proc/<pid>/stat. */
static int
proc_stat (pid_t pid, unsigned long long *start_time, char *state)
{
  char path[64], buf[1024];
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return -EIO;
  buf[n] = '\0';
  char *p = strrchr (buf, ')');
  if (!p)
    return -EIO;
  /* ") S ppid pgrp ..." : state is field 3, starttime field 22 */
  if (sscanf (p + 2,
              "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
              "%*d %llu",
              state, start_time)
      != 2)
    return -EIO;
  return 0;
}

static bool
state_alive (const native_state *s)
{
  unsigned long long start;
  char letter;
  if (s->pid <= 0 || proc_stat (s->pid, &start, &letter) < 0)
    return false;
  return start == s->start_time && letter != 'Z' && letter != 'X';
}

/* True while the init still waits for start: it holds the start pipe until it execs. */
static bool
state_waiting (const native_state *s)
{
  char path[64], target[64];
  snprintf (path, sizeof path, "/proc/%d/fd/%d", (int) s->pid, s->start_fd);
  ssize_t n = readlink (path, target, sizeof target - 1);
  return n > 5 && strncmp (target, "pipe:", 5) == 0;
}

/* Fills the state file created (empty, O_EXCL) at the start of create. */
static int
write_state (int fd, const char *path, const native_state *s, box_error **err)
{
  _cleanup_json_ json_t *j
      = json_pack ("{s:i, s:I, s:i, s:i, s:s, s:s}", "pid", (int) s->pid, "start_time",
                   (json_int_t) s->start_time, "start_fd", s->start_fd, "exec_fd", s->exec_fd,
                   "bundle", s->bundle, "cgroup", s->cgroup);
  _cleanup_free_ char *text = j ? json_dumps (j, JSON_COMPACT) : NULL;
  if (!text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  /* one write of a small buffer: readers see nothing or everything. Runtime state is as
     ephemeral as the processes it describes (runc keeps it on a tmpfs): never fsync'ed */
  size_t len = strlen (text);
  if (pwrite (fd, text, len, 0) != (ssize_t) len)
    return box_err_errno (err, errno, "write %s", path);
  return 0;
}

/* BOX_E_NOT_FOUND without a state file; an empty one (create in progress) reads as pid 0. */
static int
read_state (const char *path, native_state *s, box_error **err)
{
  memset (s, 0, sizeof *s);
  s->start_fd = s->exec_fd = -1;
  _cleanup_free_ char *text = NULL;
  size_t len;
  if (fs_read_file (AT_FDCWD, path, &text, &len, err) < 0)
    return box_err_code (err);
  if (len == 0)
    return 0;
  _cleanup_json_ json_t *j = NULL;
  if (json_parse_object (text, path, &j, err) < 0)
    return box_err_code (err);
  int pid = 0, start_fd = -1, exec_fd = -1;
  json_int_t start = 0;
  const char *bundle = NULL, *cgroup = NULL;
  json_error_t jerr;
  if (json_unpack_ex (j, &jerr, 0, "{s:i, s:I, s:i, s:i, s:s, s:s}", "pid", &pid, "start_time",
                      &start, "start_fd", &start_fd, "exec_fd", &exec_fd, "bundle", &bundle,
                      "cgroup", &cgroup)
      < 0)
    return box_err (err, BOX_E_INTERNAL, "%s: %s", path, jerr.text);
  s->pid = pid;
  s->start_time = (unsigned long long) start;
  s->start_fd = start_fd;
  s->exec_fd = exec_fd;
  s->bundle = strdup (bundle);
  s->cgroup = strdup (cgroup);
  if (!s->bundle || !s->cgroup)
    {
      native_state_clear (s);
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  return 0;
}

static int
load_box (const runtime_context *ctx, const char *id, char *path, size_t size, native_state *s,
          box_error **err)
{
  if (state_path (ctx, id, path, size, err) < 0)
    return box_err_code (err);
  if (read_state (path, s, err) < 0)
    {
      if (box_err_code (err) == BOX_E_NOT_FOUND)
        {
          box_error_freep (err);
          return box_err (err, BOX_E_NOT_FOUND, "no box %s in the native runtime", id);
        }
      return box_err_code (err);
    }
  if (s->pid == 0)
    {
      native_state_clear (s);
      return box_err (err, BOX_E_CONFLICT, "box %s is still being created", id);
    }
  return 0;
}

/* The filter of config's seccomp profile, when it has one (compiled once, then taken from
 * the cache under the state directory). */
static int
load_seccomp (const runtime_context *ctx, const oci_config *config, seccomp_program *out,
              box_error **err)
{
  if (!config->seccomp)
    return 0;
  char cache[PATH_MAX + 16];
  snprintf (cache, sizeof cache, "%s/" SECCOMP_CACHE_DIR, ctx->state_dir);
  return seccomp_program_get (config->seccomp, cache, out, err);
}

/* ---- talking to the child --------------------------------------------------------------- */

/* Receives one message; *out_fd gets an SCM_RIGHTS fd when one came. Returns the message
 * kind, 0 on EOF, -errno on failure. */
static int
receive_message (int fd, native_message *msg, int *out_fd)
{
  ssize_t n = fd_receive (fd, msg, sizeof *msg, out_fd);
  /* An init that failed during its setup without reading GO closed its end with that unread:
   * the socket reports ECONNRESET once, before the messages it sent (its error). */
  if (n == -ECONNRESET)
    n = fd_receive (fd, msg, sizeof *msg, out_fd);
  if (n <= 0)
    return (int) n;
  if ((size_t) n < sizeof *msg)
    return -EPROTO;
  msg->text[sizeof msg->text - 1] = '\0';
  return (unsigned char) msg->kind;
}

/* receive_message, for the messages that follow a console: its fd replaces *console. */
static int
receive_message_keeping_console (int fd, native_message *msg, int *console)
{
  for (;;)
    {
      int passed = -1;
      int kind = receive_message (fd, msg, &passed);
      if (kind == NATIVE_MSG_CONSOLE && passed >= 0)
        {
          closep (console);
          *console = passed;
          continue;
        }
      if (passed >= 0)
        close (passed);
      return kind;
    }
}

static int
child_error (const native_message *msg, box_error **err)
{
  if (msg->errno_value)
    {
      int code = box_err_errno (err, msg->errno_value, "%s", "");
      /* box_err_errno formats "<text>: <strerror>"; the child already appended strerror */
      if (err && *err)
        {
          free ((*err)->message);
          (*err)->message = strdup (msg->text);
        }
      return code;
    }
  return box_err (err, msg->code ? (box_error_code) msg->code : BOX_E_IO, "%s", msg->text);
}

/* A step of create failed after the clone. The init may have failed first (its setup runs
 * meanwhile, and the step then failed only because the init was gone): its own error, when
 * it sent one, is the one to report. */
static bool
prefer_init_error (int sync_fd, box_error **err)
{
  int flags = fcntl (sync_fd, F_GETFL);
  if (flags < 0 || fcntl (sync_fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return false;
  native_message msg;
  int console = -1;
  int kind = receive_message_keeping_console (sync_fd, &msg, &console);
  closep (&console);
  fcntl (sync_fd, F_SETFL, flags);
  if (kind != NATIVE_MSG_ERROR)
    return false;
  box_error_freep (err);
  child_error (&msg, err);
  return true;
}

/* Sends the seccomp program to the init (NATIVE_MSG_SECCOMP, one message). 0 or -1 (errno). */
static int
send_seccomp (int sync_fd, const seccomp_program *program)
{
  native_seccomp_header header = { .kind = NATIVE_MSG_SECCOMP, .length = program->length };
  struct iovec iov[2] = { { &header, sizeof header },
                          { program->filter, program->length * sizeof *program->filter } };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
  ssize_t n;
  do
    n = sendmsg (sync_fd, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -1 : 0;
}

/* Describes how a child that closed the sync socket without a word ended. */
static int
child_vanished (pid_t pid, const char *what, box_error **err)
{
  int status = 0;
  pid_t r;
  do
    r = waitpid (pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r == pid && WIFSIGNALED (status))
    return box_err (err, BOX_E_IO, "%s: the box's init was killed by signal %d during setup", what,
                    WTERMSIG (status));
  if (r == pid && WIFEXITED (status))
    return box_err (err, BOX_E_IO, "%s: the box's init exited with status %d during setup", what,
                    WEXITSTATUS (status));
  return box_err (err, BOX_E_IO, "%s: the box's init vanished during setup", what);
}

static int
write_id_map (pid_t pid, const char *file, const spec_id_map *maps, size_t n, box_error **err)
{
  char buf[4096] = "";
  size_t used = 0;
  for (size_t i = 0; i < n && used < sizeof buf; i++)
    used += (size_t) snprintf (buf + used, sizeof buf - used, "%u %u %u\n", maps[i].container_id,
                               maps[i].host_id, maps[i].size);
  if (used >= sizeof buf)
    return box_err (err, BOX_E_INVALID, "%s: too many mappings", file);
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, file);
  _cleanup_close_ int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write (fd, buf, used) != (ssize_t) used)
    return box_err_errno (err, errno, "write %s", path);
  return 0;
}

/* ---- create ----------------------------------------------------------------------------- */

static bool
engine_has_capability (int cap)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct data[2];
  memset (data, 0, sizeof data);
  if (syscall (SYS_capget, &header, data) < 0)
    return false;
  return data[cap / 32].effective & (UINT32_C (1) << (cap % 32));
}

/* A hard limit above the engine's own needs CAP_SYS_RESOURCE: without it, a clear error here
   rather than the init's bare EPERM. */
static int
check_rlimits (const oci_process *p, box_error **err)
{
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      const oci_rlimit *r = &p->rlimits[i];
      struct rlimit current;
      if (getrlimit (r->resource, &current) < 0)
        return box_err_errno (err, errno, "getrlimit");
      if (r->hard > current.rlim_max && current.rlim_max != RLIM_INFINITY
          && !engine_has_capability (CAP_SYS_RESOURCE))
        return box_err (err, BOX_E_PERMISSION,
                        "ulimit %s=%llu:%llu: the hard limit %llu is above this host's hard "
                        "limit %llu, and raising a hard limit needs CAP_SYS_RESOURCE, which "
                        "the engine does not have",
                        spec_rlimit_name (r->resource), (unsigned long long) r->soft,
                        (unsigned long long) r->hard, (unsigned long long) r->hard,
                        (unsigned long long) current.rlim_max);
    }
  return 0;
}

static int
resolve_cgroup_path (const oci_config *c, const char *id, char **out, box_error **err)
{
  int rc;
  if (!c->cgroups_path || !*c->cgroups_path)
    rc = asprintf (out, DEFAULT_CGROUP_PARENT "/%s", id);
  else if (strchr (c->cgroups_path, ':'))
    return box_err (err, BOX_E_UNSUPPORTED,
                    "cgroupsPath \"%s\": systemd slices are not supported, use a path",
                    c->cgroups_path);
  else if (c->cgroups_path[0] == '/')
    rc = asprintf (out, "%s", c->cgroups_path);
  else
    rc = asprintf (out, "/%s", c->cgroups_path);
  if (rc < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

static void
limits_from_config (const oci_config *c, cgroup_limits *l)
{
  *l = (cgroup_limits){
    .memory_limit = c->resources.memory_limit,
    .memory_swap = c->resources.memory_swap,
    .cpu_shares = c->resources.cpu_shares,
    .cpu_quota = c->resources.cpu_quota,
    .cpu_period = c->resources.cpu_period,
    .pids_limit = c->resources.pids_limit,
    .devices_rules = c->resources.devices_rules,
  };
}

static void
seccomp_program_clearp (seccomp_program *p)
{
  seccomp_program_clear (p);
}

typedef struct create_cleanup {
  char state_file[PATH_MAX];
  char *cgroup;
  pid_t pid;
  bool armed;
} create_cleanup;

static void
create_cleanup_run (create_cleanup *c)
{
  if (!c->armed)
    return;
  if (c->pid > 0)
    {
      kill (c->pid, SIGKILL);
      while (waitpid (c->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  if (c->cgroup)
    cgroup_destroy (c->cgroup, CGROUP_EMPTY_TIMEOUT_MS, NULL);
  if (c->state_file[0])
    unlink (c->state_file);
  free (c->cgroup);
}

/* create(), or with run_now run(): the init execs the process as soon as it is set up
 * instead of waiting for start(), and the creator's wait ends at the execve (the sync
 * socket closes with it) or with the error that stopped it. */
static int
create_box (const runtime_backend *rt, const runtime_context *ctx, const char *id,
            const char *bundle_dir, const runtime_stdio *stdio, pid_t *out_pid, int *out_console_fd,
            bool run_now, box_error **err)
{
  *out_pid = 0;
  if (out_console_fd)
    *out_console_fd = -1;
  char path[PATH_MAX];
  if (state_path (ctx, id, path, sizeof path, err) < 0)
    return box_err_code (err);
  char bundle[PATH_MAX];
  if (!realpath (bundle_dir, bundle))
    return box_err_errno (err, errno, "bundle %s", bundle_dir);
  _cleanup_ (oci_config_freep) oci_config *config = NULL;
  if (spec_load_bundle (bundle, &config, err) < 0)
    return box_err_code (err);
  if (config->process.terminal && !out_console_fd)
    return box_err (err, BOX_E_INVALID,
                    "the bundle asks for a terminal but the caller takes no console");
  const oci_namespace *pidns = oci_config_namespace (config, CLONE_NEWPID);
  if (pidns && pidns->path)
    return box_err (err, BOX_E_UNSUPPORTED,
                    "joining an existing pid namespace is not supported by the native runtime");
  if (check_rlimits (&config->process, err) < 0)
    return box_err_code (err);
  char rootfs[PATH_MAX];
  int len = config->root_path[0] == '/'
                ? snprintf (rootfs, sizeof rootfs, "%s", config->root_path)
                : snprintf (rootfs, sizeof rootfs, "%s/%s", bundle, config->root_path);
  if (len < 0 || (size_t) len >= sizeof rootfs)
    return box_err (err, BOX_E_INVALID, "root path too long");
  struct stat st;
  if (stat (rootfs, &st) < 0 || !S_ISDIR (st.st_mode))
    return box_err (err, BOX_E_NOT_FOUND, "root filesystem %s is not a directory", rootfs);

  _cleanup_ (create_cleanup_run) create_cleanup cleanup = { .armed = true };
  if (resolve_cgroup_path (config, id, &cleanup.cgroup, err) < 0)
    return box_err_code (err);
  if (fs_mkdir_p (ctx->state_dir, 0700, err) < 0)
    return box_err_code (err);
  _cleanup_close_ int state_fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (state_fd < 0)
    {
      if (errno == EEXIST)
        return box_err (err, BOX_E_CONFLICT, "box %s already exists in the native runtime", id);
      return box_err_errno (err, errno, "create %s", path);
    }
  snprintf (cleanup.state_file, sizeof cleanup.state_file, "%s", path);
  /* pid 0 until the init is ready: what delete needs to clean up after a crash */
  native_state state
      = { .start_fd = -1, .exec_fd = -1, .bundle = bundle, .cgroup = cleanup.cgroup };
  if (write_state (state_fd, path, &state, err) < 0)
    return box_err_code (err);

  /* the init holds both ends of two pipes, all closed when it execs. The start pipe: its
     read blocks until start() writes through /proc/<init>/fd/<write end>. The exec pipe:
     start() opens its read end the same way and reads until EOF, which comes when the
     init's copy of the write end closes, at execve: so start returns once the box runs */
  int start_pipe[2], exec_pipe[2];
  if (pipe2 (start_pipe, O_CLOEXEC) < 0)
    return box_err_errno (err, errno, "pipe");
  _cleanup_close_ int start_fd = start_pipe[0];
  _cleanup_close_ int start_write_fd = start_pipe[1];
  if (pipe2 (exec_pipe, O_CLOEXEC) < 0)
    return box_err_errno (err, errno, "pipe");
  _cleanup_close_ int exec_read_fd = exec_pipe[0];
  _cleanup_close_ int exec_write_fd = exec_pipe[1];
  /* the init moves its stdio onto 0-2: keep the pipes above them */
  int *pipe_fds[] = { &start_fd, &start_write_fd, &exec_read_fd, &exec_write_fd };
  for (size_t i = 0; i < ARRAY_SIZE (pipe_fds); i++)
    for (int *fd = pipe_fds[i]; fd; fd = NULL)
      if (*fd < 3)
        {
          int moved = fcntl (*fd, F_DUPFD_CLOEXEC, 3);
          if (moved < 0)
            return box_err_errno (err, errno, "dup the start pipe");
          close (*fd);
          *fd = moved;
        }
  _cleanup_close_ int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    return box_err_errno (err, errno, "open /dev/null");

  cgroup_limits limits;
  limits_from_config (config, &limits);

  int pair[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return box_err_errno (err, errno, "socketpair");
  _cleanup_close_ int sync_parent = pair[0];
  _cleanup_close_ int sync_child = pair[1];

  cgroup_mode mode = cgroup_host_mode ();
  uint64_t flags = 0;
  static const int new_namespaces[]
      = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUSER };
  for (size_t i = 0; i < ARRAY_SIZE (new_namespaces); i++)
    {
      const oci_namespace *ns = oci_config_namespace (config, new_namespaces[i]);
      if (ns && !ns->path)
        flags |= (uint64_t) new_namespaces[i];
    }
  bool userns = flags & CLONE_NEWUSER;
  /* Without a user namespace the init sets up its mounts while this process makes the box's
   * cgroups and puts it in them (it waits only where they matter, native-init.h), 0.3 ms off
   * the start. In a new user namespace it first needs its id maps, and on a pure cgroup v2
   * host it is cloned into its cgroup instead of moved there while it works (a cgroup v2
   * guest once locked up with both CPUs in box-monitor after that move; cause unknown): there
   * the cgroups are made first, then the init cloned into them. */
  bool cgroups_meanwhile = !userns && mode != CGROUP_MODE_V2;
  _cleanup_close_ int unified_fd = -1;
  if (!cgroups_meanwhile && cgroup_create (cleanup.cgroup, &limits, &unified_fd, err) < 0)
    return box_err_wrap (err, "create box %s", id);
  /* a network namespace made ahead, owned by the host's user namespace: the init joins it
   * before anything else (not from inside a new user namespace, which may not) */
  int net_ns_fd = -1;
  bool own_net_ns = flags & CLONE_NEWNET;
  if (ctx->has_prepared_net_ns && ctx->prepared_net_ns_fd >= 0 && (flags & CLONE_NEWNET) && !userns)
    {
      flags &= ~(uint64_t) CLONE_NEWNET;
      net_ns_fd = ctx->prepared_net_ns_fd;
    }
  const oci_namespace *cgroupns = oci_config_namespace (config, CLONE_NEWCGROUP);
  /* never CLONE_NEWCGROUP: clone3 roots a new cgroup namespace at the parent's cgroup, even
     with CLONE_INTO_CGROUP; the child unshares it once it is in its own cgroups */
  bool want_cgroupns = cgroupns && !cgroupns->path;

  /* inherited by the init: it stops waiting for start when this process is gone */
  _cleanup_close_ int monitor_pidfd = (int) syscall (SYS_pidfd_open, getpid (), 0);
  native_init_args args = {
    .config = config,
    .process = &config->process,
    .rootfs = rootfs,
    .seccomp_follows = config->seccomp != NULL,
    .sync_fd = sync_child,
    .start_fd = run_now ? -1 : start_fd,
    .stdio = { stdio ? stdio->stdin_fd : -1, stdio ? stdio->stdout_fd : -1,
               stdio ? stdio->stderr_fd : -1 },
    .monitor_pidfd = run_now ? -1 : monitor_pidfd,
    .devnull_fd = devnull,
    .net_ns_fd = net_ns_fd,
    .loopback_up = own_net_ns,
    .report_exec = run_now,
    .unshare_cgroupns = want_cgroupns,
    .setup_before_go = cgroups_meanwhile,
    .userns = userns,
    .cgroup_mode = mode,
  };

  /* the init sets up beside this process, which makes its cgroups and opens the box's files
   * meanwhile: queued behind it on one CPU, the two took turns with another CPU idle */
  cpu_set_t own_cpus, other_cpus;
  if (cpus_beside_current (&own_cpus, &other_cpus))
    {
      args.parent_cpus = &own_cpus;
      args.moved_to_cpus = &other_cpus;
    }
  pid_t pid = clone3_fork (flags, unified_fd);
  if (pid < 0 && errno == EINVAL && unified_fd >= 0)
    {
      /* a kernel without CLONE_INTO_CGROUP (before 5.7): attach afterwards */
      close (TAKE_FD (unified_fd));
      pid = clone3_fork (flags, -1);
    }
  if (pid < 0)
    return box_err_errno (err, errno, "clone3 the box's init");
  if (pid == 0)
    {
      close (sync_parent);
      native_init_run (&args);
    }
  cleanup.pid = pid;
  if (args.moved_to_cpus)
    sched_setaffinity (pid, sizeof other_cpus, &other_cpus);
  close (TAKE_FD (sync_child));
  if (cgroups_meanwhile && cgroup_create (cleanup.cgroup, &limits, &unified_fd, err) < 0)
    {
      prefer_init_error (sync_parent, err);
      return box_err_wrap (err, "create box %s", id);
    }

  if (userns
      && (write_id_map (pid, "uid_map", config->uid_mappings, config->n_uid_mappings, err) < 0
          || write_id_map (pid, "gid_map", config->gid_mappings, config->n_gid_mappings, err) < 0))
    return box_err_wrap (err, "create box %s", id);
  /* cloned into the unified hierarchy's cgroup when it was made first (CLONE_INTO_CGROUP) */
  bool in_unified = !cgroups_meanwhile && unified_fd >= 0;
  if ((mode != CGROUP_MODE_V2 || !in_unified)
      && cgroup_attach (cleanup.cgroup, pid, in_unified, err) < 0)
    {
      prefer_init_error (sync_parent, err);
      return box_err_wrap (err, "create box %s", id);
    }
  if (run_now)
    {
      /* the box runs without a start: its state must name it before it does */
      state.pid = pid;
      char letter;
      if (proc_stat (pid, &state.start_time, &letter) < 0
          || write_state (state_fd, path, &state, err) < 0)
        {
          box_error_freep (err);
          return box_err (err, BOX_E_IO, "create box %s: record its init %d", id, (int) pid);
        }
    }
  native_message go = { .kind = NATIVE_MSG_GO };
  if (send (sync_parent, &go, sizeof go, MSG_NOSIGNAL) < 0)
    {
      if (prefer_init_error (sync_parent, err))
        return box_err_wrap (err, "create box %s", id);
      return child_vanished (pid, "create", err);
    }
  /* the filter, which the init applies last: read (from the cache, or compiled) while it
   * sets up, off the start's path */
  if (config->seccomp)
    {
      _cleanup_ (seccomp_program_clearp) seccomp_program seccomp = { 0 };
      if (load_seccomp (ctx, config, &seccomp, err) < 0)
        {
          prefer_init_error (sync_parent, err);
          return box_err_wrap (err, "create box %s", id);
        }
      if (send_seccomp (sync_parent, &seccomp) < 0)
        {
          if (prefer_init_error (sync_parent, err))
            return box_err_wrap (err, "create box %s", id);
          return child_vanished (pid, "create", err);
        }
    }
  if (ctx->while_init_prepares)
    ctx->while_init_prepares (ctx->while_init_prepares_arg, pid);

  _cleanup_close_ int console = -1;
  native_message msg;
  int kind = receive_message_keeping_console (sync_parent, &msg, &console);
  if (run_now && kind == NATIVE_MSG_READY)
    {
      /* the execve follows: its end of the socket closes (close-on-exec), or the execve
       * failed and the error follows */
      kind = receive_message_keeping_console (sync_parent, &msg, &console);
      if (kind == 0)
        kind = NATIVE_MSG_READY;
      else if (kind == NATIVE_MSG_READY)
        kind = -EPROTO;
    }
  if (kind == NATIVE_MSG_ERROR)
    {
      child_error (&msg, err);
      return box_err_wrap (err, "create box %s", id);
    }
  if (kind < 0)
    return box_err_errno (err, -kind, "create box %s: read from the box's init", id);
  if (kind != NATIVE_MSG_READY)
    return child_vanished (pid, "create", err);

  if (!run_now)
    {
      state.pid = pid;
      state.start_fd = start_write_fd;
      state.exec_fd = exec_read_fd;
      char letter;
      if (proc_stat (pid, &state.start_time, &letter) < 0)
        return box_err (err, BOX_E_IO, "create box %s: its init %d vanished", id, (int) pid);
      if (write_state (state_fd, path, &state, err) < 0)
        return box_err_code (err);
    }

  cleanup.armed = false;
  free (cleanup.cgroup);
  *out_pid = pid;
  if (out_console_fd)
    *out_console_fd = TAKE_FD (console);
  return 0;
}

static int
native_create (const runtime_backend *rt, const runtime_context *ctx, const char *id,
               const char *bundle_dir, const runtime_stdio *stdio, pid_t *out_pid,
               int *out_console_fd, box_error **err)
{
  return create_box (rt, ctx, id, bundle_dir, stdio, out_pid, out_console_fd, false, err);
}

static int
native_run (const runtime_backend *rt, const runtime_context *ctx, const char *id,
            const char *bundle_dir, const runtime_stdio *stdio, pid_t *out_pid, int *out_console_fd,
            box_error **err)
{
  return create_box (rt, ctx, id, bundle_dir, stdio, out_pid, out_console_fd, true, err);
}

/* ---- start, state, kill, delete, stats -------------------------------------------------- */

static int
native_start (const runtime_backend *rt, const runtime_context *ctx, const char *id,
              box_error **err)
{
  char path[PATH_MAX];
  native_state state;
  if (load_box (ctx, id, path, sizeof path, &state, err) < 0)
    return box_err_code (err);
  _cleanup_ (native_state_clearp) native_state *state_owner = &state;
  char start_path[64], exec_path[64];
  snprintf (start_path, sizeof start_path, "/proc/%d/fd/%d", (int) state.pid, state.start_fd);
  snprintf (exec_path, sizeof exec_path, "/proc/%d/fd/%d", (int) state.pid, state.exec_fd);
  _cleanup_close_ int start_fd = -1, exec_fd = -1;
  if (state_alive (&state))
    {
      exec_fd = open (exec_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      start_fd = open (start_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    }
  struct stat st1, st2;
  /* the start time is checked again once the pipes are open: the pid was not reused */
  if (start_fd < 0 || exec_fd < 0 || fstat (start_fd, &st1) < 0 || !S_ISFIFO (st1.st_mode)
      || fstat (exec_fd, &st2) < 0 || !S_ISFIFO (st2.st_mode) || !state_alive (&state))
    {
      if (!state_alive (&state))
        return box_err (err, BOX_E_CONFLICT, "start box %s: its init has exited", id);
      return box_err (err, BOX_E_CONFLICT, "box %s was already started", id);
    }
  if (write (start_fd, "1", 1) != 1)
    return box_err_errno (err, errno, "start box %s: write to its start pipe", id);
  /* wait for the execve (or the init's end): the init's write end of the exec pipe closes */
  int flags = fcntl (exec_fd, F_GETFL);
  if (flags < 0 || fcntl (exec_fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
    return box_err_errno (err, errno, "start box %s: fcntl", id);
  char byte;
  while (read (exec_fd, &byte, 1) < 0 && errno == EINTR)
    ;
  return 0;
}

static int
native_state_op (const runtime_backend *rt, const runtime_context *ctx, const char *id,
                 runtime_state *out, box_error **err)
{
  char path[PATH_MAX];
  native_state state;
  if (state_path (ctx, id, path, sizeof path, err) < 0 || read_state (path, &state, err) < 0)
    {
      if (box_err_code (err) == BOX_E_NOT_FOUND)
        {
          box_error_freep (err);
          return box_err (err, BOX_E_NOT_FOUND, "no box %s in the native runtime", id);
        }
      return box_err_code (err);
    }
  if (state.pid == 0)
    {
      out->status = RUNTIME_STATUS_CREATING;
      out->pid = 0;
    }
  else if (state_alive (&state))
    {
      out->status = state_waiting (&state) ? RUNTIME_STATUS_CREATED : RUNTIME_STATUS_RUNNING;
      out->pid = state.pid;
    }
  else
    {
      out->status = RUNTIME_STATUS_STOPPED;
      out->pid = 0;
    }
  native_state_clear (&state);
  return 0;
}

static int
native_kill (const runtime_backend *rt, const runtime_context *ctx, const char *id, int signal,
             bool all, box_error **err)
{
  char path[PATH_MAX];
  native_state state;
  if (load_box (ctx, id, path, sizeof path, &state, err) < 0)
    return box_err_code (err);
  int rc = 0;
  if (all)
    rc = cgroup_kill (state.cgroup, signal, err);
  else
    {
      _cleanup_close_ int pidfd = (int) syscall (SYS_pidfd_open, state.pid, 0);
      /* the pidfd pins the process: checking the start time after opening it rules out a
         reused pid */
      if (pidfd < 0 || !state_alive (&state))
        rc = box_err (err, BOX_E_CONFLICT, "box %s is not running", id);
      else if (syscall (SYS_pidfd_send_signal, pidfd, signal, NULL, 0) < 0)
        rc = box_err_errno (err, errno, "signal %d to box %s", signal, id);
    }
  native_state_clear (&state);
  return rc;
}

static int
native_delete (const runtime_backend *rt, const runtime_context *ctx, const char *id, bool force,
               box_error **err)
{
  char path[PATH_MAX];
  native_state state;
  if (state_path (ctx, id, path, sizeof path, err) < 0)
    return box_err_code (err);
  box_error *local = NULL;
  if (read_state (path, &state, &local) < 0)
    {
      int code = box_err_code (&local);
      box_error_freep (&local);
      if (code == BOX_E_NOT_FOUND)
        return 0; /* deleting an unknown box succeeds (reconcile) */
      return box_err (err, code, "delete box %s: its runtime state is unreadable", id);
    }
  _cleanup_ (native_state_clearp) native_state *state_owner = &state;
  if (state.pid > 0 && state_alive (&state) && !state_waiting (&state) && !force)
    return box_err (err, BOX_E_CONFLICT, "box %s is running: stop it first, or force", id);
  if (state.cgroup)
    {
      /* a created box's init, or what a forced delete stops */
      cgroup_kill (state.cgroup, SIGKILL, NULL);
      if (cgroup_destroy (state.cgroup, CGROUP_EMPTY_TIMEOUT_MS, err) < 0)
        return box_err_wrap (err, "delete box %s", id);
    }
  if (unlink (path) < 0 && errno != ENOENT)
    return box_err_errno (err, errno, "delete box %s: unlink %s", id, path);
  return 0;
}

static int
native_stats (const runtime_backend *rt, const runtime_context *ctx, const char *id,
              runtime_stats_scope scope, runtime_stats *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  char path[PATH_MAX];
  native_state state;
  if (load_box (ctx, id, path, sizeof path, &state, err) < 0)
    return box_err_code (err);
  int rc = runtime_stats_from_cgroup (state.cgroup, scope, out, err);
  native_state_clear (&state);
  return rc;
}

/* ---- exec ------------------------------------------------------------------------------- */

static void
oci_process_clearp (oci_process *p)
{
  oci_process_clear (p);
}

static int
native_exec (const runtime_backend *rt, const runtime_context *ctx, const char *id,
             const char *process_json, const runtime_stdio *stdio, pid_t *out_pid,
             int *out_console_fd, box_error **err)
{
  *out_pid = 0;
  if (out_console_fd)
    *out_console_fd = -1;
  char path[PATH_MAX];
  native_state state;
  if (load_box (ctx, id, path, sizeof path, &state, err) < 0)
    return box_err_code (err);
  _cleanup_ (native_state_clearp) native_state *state_owner = &state;
  if (!state_alive (&state))
    return box_err (err, BOX_E_CONFLICT, "box %s is not running", id);

  _cleanup_ (oci_config_freep) oci_config *config = NULL;
  if (spec_load_bundle (state.bundle, &config, err) < 0)
    return box_err_code (err);
  _cleanup_json_ json_t *process_obj = NULL;
  if (json_parse_object (process_json, "exec process", &process_obj, err) < 0)
    return box_err_code (err);
  _cleanup_ (oci_process_clearp) oci_process process = { 0 };
  if (spec_parse_process (process_obj, &process, err) < 0)
    return box_err_wrap (err, "exec in box %s", id);
  if (process.terminal && !out_console_fd)
    return box_err (err, BOX_E_INVALID,
                    "the process asks for a terminal but the caller takes no console");
  if (check_rlimits (&process, err) < 0)
    return box_err_code (err);
  _cleanup_ (seccomp_program_clearp) seccomp_program seccomp = { 0 };
  if (load_seccomp (ctx, config, &seccomp, err) < 0)
    return box_err_code (err);

  _cleanup_close_ int pidfd = (int) syscall (SYS_pidfd_open, state.pid, 0);
  if (pidfd < 0 || !state_alive (&state))
    return box_err (err, BOX_E_CONFLICT, "box %s is not running", id);
  _cleanup_close_ int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    return box_err_errno (err, errno, "open /dev/null");
  int pair[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    return box_err_errno (err, errno, "socketpair");
  _cleanup_close_ int sync_parent = pair[0];
  _cleanup_close_ int sync_child = pair[1];

  int ns_flags = 0;
  for (size_t i = 0; i < config->n_namespaces; i++)
    ns_flags |= config->namespaces[i].type;

  native_init_args args = {
    .config = config,
    .process = &process,
    .rootfs = "/",
    .seccomp = config->seccomp ? &seccomp : NULL,
    .sync_fd = sync_child,
    .start_fd = -1,
    .stdio = { stdio ? stdio->stdin_fd : -1, stdio ? stdio->stdout_fd : -1,
               stdio ? stdio->stderr_fd : -1 },
    .devnull_fd = devnull,
    .net_ns_fd = -1,
    .userns = ns_flags & CLONE_NEWUSER,
    .cgroup_mode = cgroup_host_mode (),
    .monitor_pidfd = -1,
  };

  /* an intermediate process joins the box's cgroups and namespaces; setns into a pid
     namespace only applies to children, so it forks the real process as a sibling
     (CLONE_PARENT: the monitor's child) and exits */
  pid_t helper = clone3_fork (0, -1);
  if (helper < 0)
    return box_err_errno (err, errno, "clone3 the exec helper");
  if (helper == 0)
    {
      close (sync_parent);
      box_error *local = NULL;
      if (cgroup_attach (state.cgroup, 0, false, &local) < 0)
        {
          native_send_error (sync_child, box_err_code (&local), 0, "%s", box_error_message (local));
          _exit (1);
        }
      if (setns (pidfd, ns_flags) < 0)
        {
          native_send_error (sync_child, 0, errno, "join the namespaces of box %s", id);
          _exit (1);
        }
      clone3_args cargs = { .flags = CLONE_PARENT };
      pid_t child = (pid_t) syscall (SYS_clone3, &cargs, sizeof cargs);
      if (child < 0)
        {
          native_send_error (sync_child, 0, errno, "fork into box %s", id);
          _exit (1);
        }
      if (child == 0)
        native_init_exec (&args);
      native_message msg = { .kind = NATIVE_MSG_PID, .pid = child };
      send (sync_child, &msg, sizeof msg, MSG_NOSIGNAL);
      _exit (0);
    }
  close (TAKE_FD (sync_child));

  pid_t pid = 0;
  _cleanup_close_ int console = -1;
  int rc = 0;
  /* messages until EOF: the helper exits, the process's copy closes on execve */
  for (;;)
    {
      native_message msg;
      int kind = receive_message_keeping_console (sync_parent, &msg, &console);
      if (kind == NATIVE_MSG_PID)
        pid = msg.pid;
      else if (kind == NATIVE_MSG_ERROR && rc == 0)
        rc = child_error (&msg, err);
      else if (kind <= 0)
        break;
    }
  while (waitpid (helper, NULL, 0) < 0 && errno == EINTR)
    ;
  if (rc < 0)
    {
      if (pid > 0)
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
          ;
      return box_err_wrap (err, "exec in box %s", id);
    }
  if (pid <= 0)
    return box_err (err, BOX_E_IO, "exec in box %s: the helper died before forking", id);
  *out_pid = pid;
  if (out_console_fd)
    *out_console_fd = TAKE_FD (console);
  return 0;
}

const runtime_backend native_backend = {
  .name = "native",
  .create = native_create,
  .run = native_run,
  .start = native_start,
  .kill = native_kill,
  .delete = native_delete,
  .state = native_state_op,
  .exec = native_exec,
  .stats = native_stats,
};
