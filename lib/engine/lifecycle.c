/* Owns the lifecycle verbs of the public API: start (spawning the box's monitor), stop,
 * kill, wait, remove, top, inspect, and recording how a run ended. Every state change is
 * written together with its event in one transaction. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/attach-protocol.h"
#include "engine/bundle.h"
#include "engine/lifecycle.h"
#include "engine/monitor-launch.h"
#include "engine/rootfs.h"
#include "linux/proc.h"
#include "store/boxes.h"
#include "store/events.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"
#include "util/timeutil.h"




/* ---- signals ------------------------------------------------------------------------------ */

static const struct
{
  const char *name;
  int number;
} signal_names[] = {
  { "HUP", SIGHUP },     { "INT", SIGINT },     { "QUIT", SIGQUIT },   { "ILL", SIGILL },
  { "TRAP", SIGTRAP },   { "ABRT", SIGABRT },   { "IOT", SIGIOT },     { "BUS", SIGBUS },
  { "FPE", SIGFPE },     { "KILL", SIGKILL },   { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },
  { "USR2", SIGUSR2 },   { "PIPE", SIGPIPE },   { "ALRM", SIGALRM },   { "TERM", SIGTERM },
  { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },   { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },   { "TTOU", SIGTTOU },   { "URG", SIGURG },
  { "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
  { "WINCH", SIGWINCH }, { "IO", SIGIO },       { "POLL", SIGPOLL },   { "PWR", SIGPWR },
  { "SYS", SIGSYS },
};

int
box_signal_parse (const char *name, box_error **err)
{
  if (!name || !*name)
    return box_err (err, BOX_E_INVALID, "empty signal");
  char *end;
  long number = strtol (name, &end, 10);
  if (*end == '\0')
    {
      if (number < 1 || number > SIGRTMAX)
        return box_err (err, BOX_E_INVALID, "invalid signal: %s", name);
      return (int) number;
    }
  const char *bare = strncasecmp (name, "SIG", 3) == 0 ? name + 3 : name;
  for (size_t i = 0; i < ARRAY_SIZE (signal_names); i++)
    if (strcasecmp (bare, signal_names[i].name) == 0)
      return signal_names[i].number;
  if (strncasecmp (bare, "RTMIN", 5) == 0 || strncasecmp (bare, "RTMAX", 5) == 0)
    {
      long offset = bare[5] ? strtol (bare + 5, &end, 10) : 0;
      int base = strncasecmp (bare, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX;
      if ((bare[5] == '\0' || *end == '\0') && base + offset >= SIGRTMIN
          && base + offset <= SIGRTMAX)
        return (int) (base + offset);
    }
  return box_err (err, BOX_E_INVALID, "invalid signal: %s", name);
}

/* ---- stored config ------------------------------------------------------------------------- */

int
engine_box_config (const box_box *box, json_t **out, box_error **err)
{
  return json_parse_object (box->config_json ? box->config_json : "{}", "box config", out, err);
}

/* The box's stop signal and timeout from its config (docker's defaults otherwise). */
static void
stop_settings (const box_box *box, int *signal_out, int *timeout_out)
{
  *signal_out = SIGTERM;
  *timeout_out = ENGINE_DEFAULT_STOP_TIMEOUT;
  _cleanup_json_ json_t *doc = NULL;
  if (engine_box_config (box, &doc, NULL) < 0)
    return;
  json_t *config = json_object_get (doc, "Config");
  const char *sig = json_string_value (json_object_get (config, "StopSignal"));
  if (sig && *sig)
    {
      int n = box_signal_parse (sig, NULL);
      if (n > 0)
        *signal_out = n;
    }
  json_t *timeout = json_object_get (config, "StopTimeout");
  if (json_is_integer (timeout))
    *timeout_out = (int) json_integer_value (timeout);
}

static bool
box_auto_remove (const box_box *box)
{
  _cleanup_json_ json_t *doc = NULL;
  if (engine_box_config (box, &doc, NULL) < 0)
    return false;
  return json_is_true (json_object_get (json_object_get (doc, "HostConfig"), "AutoRemove"));
}

static bool
state_is_live (box_state state)
{
  return state == BOX_STATE_RUNNING || state == BOX_STATE_PAUSED
         || state == BOX_STATE_RESTARTING;
}

/* ---- recording how a run ended --------------------------------------------------------- */

int
engine_box_record_exit_row (box_engine *eng, const char *id, const engine_exit *exit_info,
                            bool *out_removed, box_error **err)
{
  *out_removed = false;
  _cleanup_ (box_box_freep) box_box *box = NULL;
  _cleanup_tx_ store_tx tx = { 0 };
  if (store_tx_begin (eng->store, &tx, err) < 0)
    return box_err_wrap (err, "record the exit of box %s", id);
  /* under the write lock: whoever records first (the monitor, or reconcile after its death)
   * wins; the other sees the box no longer live */
  int found = store_box_get_by_id (eng->store, id, &box, err);
  if (found < 0)
    return box_err_wrap (err, "record the exit of box %s", id);
  if (found == 0 || !state_is_live (box->state))
    return 0; /* nothing to write */
  bool remove = box_auto_remove (box);
  int rc = 0;
  if (exit_info->oom_killed)
    rc = engine_box_event (eng, box, "oom", NULL, err);
  char extra[128];
  snprintf (extra, sizeof extra, "{\"exitCode\":\"%d\"}", exit_info->exit_code);
  if (rc >= 0)
    rc = engine_box_event (eng, box, "die", extra, err);
  if (rc >= 0 && exit_info->stopped)
    rc = engine_box_event (eng, box, "stop", NULL, err);
  if (rc >= 0 && remove)
    {
      rc = store_box_delete (eng->store, id, err);
      if (rc >= 0)
        rc = engine_box_event (eng, box, "destroy", NULL, err);
    }
  else if (rc >= 0)
    {
      store_box_state_update update = {
        .state = BOX_STATE_EXITED,
        .exit_code = exit_info->exit_code,
        .finished_ns = time_now_ns (),
        .oom_killed = exit_info->oom_killed,
        .error = exit_info->error,
      };
      rc = store_box_set_state (eng->store, id, &update, err);
    }
  if (rc >= 0)
    rc = store_tx_commit (&tx, err);
  if (rc < 0)
    return box_err_wrap (err, "record the exit of box %s", id);
  *out_removed = remove;
  return 0;
}

int
engine_box_record_exit (box_engine *eng, const char *id, const engine_exit *exit_info,
                        bool intent_held, int *trash_lock_fd, box_error **err)
{
  if (trash_lock_fd)
    *trash_lock_fd = -1;
  int intent_fd = -1;
  _cleanup_ (box_box_freep) box_box *box = NULL;
  int found = store_box_get_by_id (eng->store, id, &box, err);
  if (found <= 0)
    return found;
  /* a removal runs under the intent lock, so a crash between the row and the directory
   * leaves an intent reconcile finishes (a flock is per open file: taking it again while
   * our caller holds it would wait forever) */
  if (box_auto_remove (box) && !intent_held
      && engine_intent_lock (eng->root, id, true, &intent_fd, err) < 0)
    return box_err_wrap (err, "record the exit of box %s", id);

  bool removed;
  int rc = engine_box_record_exit_row (eng, id, exit_info, &removed, err);
  if (rc >= 0 && removed)
    rc = trash_lock_fd ? engine_box_retire_dir (eng->root, id, trash_lock_fd, err)
                       : engine_box_remove_dir (eng->root, id, err);
  if (intent_fd >= 0)
    {
      if (rc >= 0)
        engine_intent_done (eng->root, id, intent_fd);
      else
        close (intent_fd);
    }
  return rc < 0 ? box_err_wrap (err, "record the exit of box %s", id) : 0;
}

int
engine_box_mark_dead (box_engine *eng, const char *id, const char *why, bool intent_held,
                      box_error **err)
{
  _cleanup_ (box_box_freep) box_box *box = NULL;
  int found = store_box_get_by_id (eng->store, id, &box, err);
  if (found <= 0)
    return found;
  store_box_monitor monitor = { 0 };
  if (store_box_get_monitor (eng->store, id, &monitor, err) < 0)
    return box_err_code (err);
  if (state_is_live (box->state) && proc_is_alive (monitor.pid, monitor.start_ticks))
    return 0; /* alive after all */
  if (engine_box_release (eng->root, id, box->runtime, err) < 0)
    return box_err_code (err);
  if (!state_is_live (box->state))
    return 0;
  /* what the monitor would have recorded is lost with it: docker reports 255 then */
  engine_exit exit_info = { .exit_code = 255, .error = why };
  return engine_box_record_exit (eng, id, &exit_info, intent_held, NULL, err);
}

/* ---- start ---------------------------------------------------------------------------------- */

int
engine_start_failure_exit_code (const box_error *why)
{
  switch (box_error_code_of (why))
    {
    case BOX_E_NOT_FOUND:
      return 127;
    case BOX_E_PERMISSION:
      return 126;
    default:
      return 128;
    }
}

static void
record_start_error (box_engine *eng, const char *id, const box_error *why)
{
  box_error *ignored = NULL;
  store_box_set_error (eng->store, id, box_error_message (why),
                       engine_start_failure_exit_code (why), &ignored);
  box_error_free (ignored);
}

/* Reads the monitor's one-line report from the sync pipe. */
static int
read_sync (int fd, char *buf, size_t size)
{
  size_t used = 0;
  while (used + 1 < size)
    {
      ssize_t n = read (fd, buf + used, size - used - 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      used += (size_t) n;
      if (memchr (buf, '\n', used))
        break;
    }
  buf[used] = '\0';
  char *nl = strchr (buf, '\n');
  if (nl)
    *nl = '\0';
  return (int) used;
}

/* The box's config for the monitor, in a sealed-off memory file (not argv: it holds the
 * box's environment, which other users must not read in /proc). */
static int
config_memfd (const box_box *box, int *out, box_error **err)
{
  const char *text = box->config_json ? box->config_json : "{}";
  _cleanup_close_ int fd = memfd_create ("box-config", MFD_CLOEXEC);
  if (fd < 0)
    return box_err_errno (err, errno, "memfd_create");
  if (fs_write_all (fd, text, strlen (text)) < 0 || lseek (fd, 0, SEEK_SET) < 0)
    return box_err_errno (err, errno, "write the box's config for its monitor");
  *out = TAKE_FD (fd);
  return 0;
}

static int
spawn_monitor (box_engine *eng, const box_box *box, const box_start_options *opts,
               int intent_fd, int sync_w, int exit_w, int attach_fd, box_error **err)
{
  _cleanup_close_ int config_fd = -1;
  if (config_memfd (box, &config_fd, err) < 0)
    return box_err_code (err);
  monitor_launch l = { .fds = { opts->stdin_fd, opts->stdout_fd, opts->stderr_fd, sync_w,
                                intent_fd, exit_w, attach_fd, config_fd } };
  l.args[l.n_args++] = box->id;
  l.args[l.n_args++] = "--runtime";
  l.args[l.n_args++] = box->runtime && *box->runtime ? box->runtime : ENGINE_DEFAULT_RUNTIME;
  if (opts->direct_stdio)
    l.args[l.n_args++] = "--direct";
  if (opts->stdin_fd >= 0)
    l.args[l.n_args++] = "--attach-stdin";
  if (opts->stdout_fd >= 0)
    l.args[l.n_args++] = "--attach-stdout";
  if (opts->stderr_fd >= 0)
    l.args[l.n_args++] = "--attach-stderr";
  if (exit_w >= 0)
    l.args[l.n_args++] = "--exit-fd";
  if (attach_fd >= 0)
    l.args[l.n_args++] = "--attach-fd";
  return monitor_launch_start (eng, &l, err);
}

int
box_box_start (box_engine *eng, const char *ref, const box_start_options *opts, box_error **err)
{
  return engine_box_start (eng, ref, opts, -1, err);
}

int
engine_box_start (box_engine *eng, const char *ref, const box_start_options *opts,
                  int attach_fd, box_error **err)
{
  box_start_options defaults = BOX_START_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  if (opts->version != BOX_START_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_start_options: unknown version %u", opts->version);
  bool attached = opts->stdout_fd >= 0 || opts->stderr_fd >= 0 || opts->exit_fd
                  || attach_fd >= 0;

  /* a full id (what `run` passes) is looked up once, under the lock; any other reference
   * is resolved first */
  char id[BOX_ID_HEX_LENGTH + 1];
  bool full_id = strlen (ref) == BOX_ID_HEX_LENGTH && str_is_lower_hex (ref);
  if (full_id)
    memcpy (id, ref, sizeof id);
  else
    {
      _cleanup_ (box_box_freep) box_box *found = NULL;
      if (engine_resolve_box (eng, ref, &found, err) < 0)
        return box_err_code (err);
      memcpy (id, found->id, sizeof id);
    }

  int intent_fd = -1;
  if (engine_intent_lock (eng->root, id, true, &intent_fd, err) < 0)
    return box_err_wrap (err, "start %s", ref);
  /* under the lock: the state as it is now */
  _cleanup_ (box_box_freep) box_box *box = NULL;
  int rc = store_box_get_by_id (eng->store, id, &box, err);
  if (rc == 0 && full_id)
    {
      /* no box has this id: it may still be a name or a prefix of another's */
      engine_intent_done (eng->root, id, intent_fd);
      _cleanup_ (box_box_freep) box_box *found = NULL;
      if (engine_resolve_box (eng, ref, &found, err) < 0)
        return box_err_code (err);
      return engine_box_start (eng, found->id, opts, attach_fd, err);
    }
  if (rc == 0)
    rc = box_err (err, BOX_E_NOT_FOUND, "No such box: %s", ref);
  if (rc >= 0 && state_is_live (box->state))
    {
      store_box_monitor monitor = { 0 };
      store_box_get_monitor (eng->store, id, &monitor, NULL);
      if (!proc_is_alive (monitor.pid, monitor.start_ticks))
        {
          /* its monitor died: the box is over */
          close (intent_fd);
          intent_fd = -1;
          if (engine_box_mark_dead (eng, id, "the box's monitor died", false, err) < 0)
            return box_err_wrap (err, "start %s", ref);
          return engine_box_start (eng, id, opts, attach_fd, err);
        }
      if (attached)
        rc = box_err (err, BOX_E_CONFLICT, "start %s: the box is already running", ref);
      close (intent_fd);
      return rc < 0 ? rc : 0;
    }
  if (rc >= 0 && box->state != BOX_STATE_CREATED && box->state != BOX_STATE_EXITED)
    rc = box_err (err, BOX_E_CONFLICT, "start %s: the box is %s", ref,
                  box_state_name (box->state));
  if (rc >= 0 && engine_box_write_bundle (eng, box, err) < 0)
    rc = box_err_wrap (err, "start %s", ref);
  if (rc < 0)
    {
      if (box)
        {
          box_error *ignored = NULL;
          engine_box_release (eng->root, id, box->runtime, &ignored);
          box_error_free (ignored);
          record_start_error (eng, id, *err);
        }
      engine_intent_done (eng->root, id, intent_fd);
      return rc;
    }

  int sync_pipe[2] = { -1, -1 }, exit_pipe[2] = { -1, -1 };
  if (pipe2 (sync_pipe, O_CLOEXEC) < 0 || (opts->exit_fd && pipe2 (exit_pipe, O_CLOEXEC) < 0))
    rc = box_err_errno (err, errno, "start %s: pipe", ref);
  if (rc >= 0)
    rc = spawn_monitor (eng, box, opts, intent_fd, sync_pipe[1], exit_pipe[1], attach_fd, err);
  if (rc >= 0)
    {
      /* the monitor holds the intent from here on (the same lock: its copy of the fd) and
       * ends it once the box runs, so that its own work at the box's end need not wait for
       * us to see its report. Should the start fail, we take the intent again to clean up. */
      close (intent_fd);
      intent_fd = -1;
    }
  if (sync_pipe[1] >= 0)
    close (sync_pipe[1]);
  if (exit_pipe[1] >= 0)
    close (exit_pipe[1]);
  char report[MONITOR_MESSAGE_MAX];
  report[0] = '\0';
  if (rc >= 0)
    read_sync (sync_pipe[0], report, sizeof report);
  if (sync_pipe[0] >= 0)
    close (sync_pipe[0]);

  if (rc >= 0 && str_has_prefix (report, "OK"))
    {
      if (opts->exit_fd)
        *opts->exit_fd = exit_pipe[0];
      return 0;
    }
  if (exit_pipe[0] >= 0)
    close (exit_pipe[0]);
  if (rc >= 0 && intent_fd < 0)
    {
      /* the monitor failed or died: its copy of the intent goes with it */
      box_error *relock_err = NULL;
      if (engine_intent_lock (eng->root, id, true, &intent_fd, &relock_err) < 0)
        box_error_free (relock_err); /* cleaned up without it, as a monitor's death is */
    }
  if (rc >= 0 && str_has_prefix (report, "ERR "))
    {
      /* "ERR <code> <message>": the monitor cleaned up and recorded the error */
      rc = monitor_reply_error (report, "the monitor failed", err);
    }
  else if (rc >= 0)
    {
      /* the monitor died without a word: clean up after it */
      rc = box_err (err, BOX_E_INTERNAL, "start %s: the box's monitor exited before starting it",
                    ref);
      box_error *ignored = NULL;
      engine_box_mark_dead (eng, id, "the box's monitor died while starting it", intent_fd >= 0,
                            &ignored);
      engine_box_release (eng->root, id, box->runtime, &ignored);
      box_error_free (ignored);
      record_start_error (eng, id, *err);
    }
  else
    {
      box_error *ignored = NULL;
      engine_box_release (eng->root, id, box->runtime, &ignored);
      box_error_free (ignored);
    }
  engine_intent_done (eng->root, id, intent_fd);
  return rc;
}

/* ---- talking to a running box's monitor ---------------------------------------------------- */

/* Sends request to the box's monitor; BOX_E_CONFLICT when the box is not running (a dead
 * monitor is recorded as such first). A monitor that is finishing (its socket gone, or
 * closed before answering) is waited for until the store shows the box's end. */
static int
ask_monitor (box_engine *eng, const box_box *box, const char *request, char *reply,
             size_t reply_size, box_error **err)
{
  /* how long a finishing monitor may take to record the exit */
  enum { RETRY_SLEEP_US = 5000, RETRIES = 2000 };
  char id[BOX_ID_HEX_LENGTH + 1];
  memcpy (id, box->id, sizeof id);
  box_state state = box->state;
  for (int attempt = 0;; attempt++)
    {
      if (!state_is_live (state))
        return box_err (err, BOX_E_CONFLICT, "box %s is not running", id);
      int fd = -1;
      box_error *local = NULL;
      if (monitor_connect (eng->root, id, &fd, &local) == 0)
        {
          int rc = monitor_request (fd, request, reply, reply_size, &local);
          close (fd);
          if (rc == 0)
            return 0;
        }
      box_error_free (local);
      store_box_monitor monitor = { 0 };
      store_box_get_monitor (eng->store, id, &monitor, NULL);
      _cleanup_ (box_box_freep) box_box *now = NULL;
      int found = store_box_get_by_id (eng->store, id, &now, err);
      if (found < 0)
        return found;
      if (found == 0)
        return box_err (err, BOX_E_CONFLICT, "box %s is not running (removed)", id);
      state = now->state;
      if (!state_is_live (state))
        continue;
      if (!proc_is_alive (monitor.pid, monitor.start_ticks))
        {
          if (engine_box_mark_dead (eng, id, "the box's monitor died", false, err) < 0)
            return box_err_code (err);
          return box_err (err, BOX_E_CONFLICT, "box %s is not running", id);
        }
      if (attempt >= RETRIES)
        return box_err (err, BOX_E_IO, "box %s: its monitor does not answer", id);
      usleep (RETRY_SLEEP_US);
    }
}

static int
parse_exit_reply (const char *reply, int *exit_code, box_error **err)
{
  if (str_has_prefix (reply, "EXIT "))
    {
      *exit_code = atoi (reply + 5);
      return 0;
    }
  if (str_has_prefix (reply, "ERR "))
    return monitor_reply_error (reply, "monitor error", err);
  return box_err (err, BOX_E_INTERNAL, "unexpected reply from the monitor: %s", reply);
}

int
box_box_kill (box_engine *eng, const char *ref, const char *signal_name, box_error **err)
{
  int sig = signal_name ? box_signal_parse (signal_name, err) : SIGKILL;
  if (sig < 0)
    return box_err_wrap (err, "kill %s", ref);
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  char request[64], reply[MONITOR_MESSAGE_MAX];
  snprintf (request, sizeof request, "KILL %d", sig);
  if (ask_monitor (eng, box, request, reply, sizeof reply, err) < 0)
    return box_err_wrap (err, "kill %s", ref);
  if (strcmp (reply, "OK") == 0)
    return 0;
  int ignored;
  if (parse_exit_reply (reply, &ignored, err) < 0)
    return box_err_wrap (err, "kill %s", ref);
  return 0;
}

int
box_box_stop (box_engine *eng, const char *ref, int timeout, box_error **err)
{
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  if (!state_is_live (box->state))
    return 0;
  int sig, box_timeout;
  stop_settings (box, &sig, &box_timeout);
  if (timeout == BOX_STOP_TIMEOUT_DEFAULT)
    timeout = box_timeout;
  if (timeout < 0)
    timeout = BOX_STOP_TIMEOUT_FOREVER; /* the monitor never sends SIGKILL */
  char request[64], reply[MONITOR_MESSAGE_MAX];
  snprintf (request, sizeof request, "STOP %d %d", sig, timeout);
  box_error *local = NULL;
  if (ask_monitor (eng, box, request, reply, sizeof reply, &local) < 0)
    {
      if (box_error_code_of (local) == BOX_E_CONFLICT)
        {
          box_error_free (local); /* it was not running after all */
          return 0;
        }
      box_err_propagate (err, &local);
      return box_err_wrap (err, "stop %s", ref);
    }
  int exit_code;
  if (parse_exit_reply (reply, &exit_code, err) < 0)
    return box_err_wrap (err, "stop %s", ref);
  return 0;
}

int
box_box_wait (box_engine *eng, const char *ref, int *exit_code, box_error **err)
{
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  char id[BOX_ID_HEX_LENGTH + 1];
  memcpy (id, box->id, sizeof id);
  if (state_is_live (box->state))
    {
      char reply[MONITOR_MESSAGE_MAX];
      box_error *local = NULL;
      if (ask_monitor (eng, box, "WAIT", reply, sizeof reply, &local) < 0)
        {
          if (box_error_code_of (local) != BOX_E_CONFLICT)
            {
              box_err_propagate (err, &local);
              return box_err_wrap (err, "wait %s", ref);
            }
          box_error_free (local);
        }
      else
        {
          int code;
          if (parse_exit_reply (reply, &code, err) < 0)
            return box_err_wrap (err, "wait %s", ref);
          if (exit_code)
            *exit_code = code;
          return 0;
        }
      box_box_free (box);
      box = NULL;
      int found = store_box_get_by_id (eng->store, id, &box, err);
      if (found < 0)
        return found;
      if (found == 0)
        return box_err (err, BOX_E_NOT_FOUND, "No such box: %s", ref);
    }
  if (exit_code)
    *exit_code = box->exit_code;
  return 0;
}

/* ---- remove -------------------------------------------------------------------------------- */

int
box_box_remove_force (box_engine *eng, const char *ref, int force, box_error **err)
{
  _cleanup_ (box_box_freep) box_box *box = NULL;
  if (engine_resolve_box (eng, ref, &box, err) < 0)
    return box_err_code (err);
  char id[BOX_ID_HEX_LENGTH + 1];
  memcpy (id, box->id, sizeof id);
  if (state_is_live (box->state))
    {
      if (!force)
        return box_err (err, BOX_E_CONFLICT,
                        "cannot remove box %s: the box is %s; stop it before removing it or "
                        "force remove",
                        ref, box_state_name (box->state));
      if (box_box_kill (eng, id, "KILL", err) < 0 && box_err_code (err) != BOX_E_CONFLICT)
        return box_err_wrap (err, "remove %s", ref);
      if (err && *err)
        {
          box_error_free (*err);
          *err = NULL;
        }
      int ignored;
      if (box_box_wait (eng, id, &ignored, err) < 0)
        return box_err_wrap (err, "remove %s", ref);
    }

  int intent_fd = -1;
  if (engine_intent_lock (eng->root, id, true, &intent_fd, err) < 0)
    return box_err_wrap (err, "remove %s", ref);
  /* release first: once the row is gone, nothing says which backend held the box */
  _cleanup_ (box_box_freep) box_box *current = NULL;
  int rc = store_box_get_by_id (eng->store, id, &current, err);
  if (rc == 0)
    {
      close (intent_fd);
      if (force) /* an --rm box may have removed itself while we waited */
        return 0;
      return box_err (err, BOX_E_NOT_FOUND, "No such box: %s", ref);
    }
  if (rc > 0 && state_is_live (current->state))
    rc = box_err (err, BOX_E_CONFLICT, "cannot remove box %s: it was started again", ref);
  if (rc >= 0)
    rc = engine_box_release (eng->root, id, current->runtime, err);
  if (rc >= 0)
    rc = engine_box_remove_record (eng, id, NULL, err);
  if (rc >= 0)
    rc = engine_box_remove_dir (eng->root, id, err);
  if (rc >= 0)
    engine_intent_done (eng->root, id, intent_fd);
  else
    close (intent_fd); /* reconcile finishes the removal */
  return rc < 0 ? rc : 0;
}

int
box_box_remove (box_engine *eng, const char *ref, box_error **err)
{
  return box_box_remove_force (eng, ref, 0, err);
}
