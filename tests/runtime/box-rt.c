/* box-rt: a small monitor-like driver of the runtime backends, for the runtime's integration
 * tests and benchmark, independent of the engine. Single-threaded, subreaper, like the monitor.
 *
 *   box-rt spec BUNDLE [options] -- ARGS...     write BUNDLE/config.json (spec_write_bundle)
 *   box-rt run RUNTIME STATE ID BUNDLE [--stats-out FILE] [--exec-json FILE] [--check-states]
 *       create + start + wait + delete with this process's stdio; exits with the box's status
 *       (128+signal when killed; 125/126/127 when create fails, like docker)
 *   box-rt bench RUNTIME STATE BUNDLE N          N x (create, start, wait, delete): times in ms
 *   box-rt lifecycle RUNTIME STATE ID BUNDLE     checks the state machine on a long-running
 *       bundle: delete of a created box, start, delete refused while running, kill, delete
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "runtime/spec.h"
#include "util/fs.h"

#define MAX_ITEMS 64

static int
die (box_error *err, const char *what)
{
  fprintf (stderr, "box-rt: %s: %s\n", what, err ? box_error_message (err) : "failed");
  int code = err ? box_error_code_of (err) : BOX_E_IO;
  box_error_free (err);
  if (code == BOX_E_NOT_FOUND)
    return 127;
  if (code == BOX_E_PERMISSION)
    return 126;
  return 125;
}

static int
spec_command (int argc, char **argv)
{
  if (argc < 3)
    return 2;
  const char *bundle = argv[2];
  const char *env[MAX_ITEMS + 1] = { 0 }, *cap_add[MAX_ITEMS + 1] = { 0 },
                              *cap_drop[MAX_ITEMS + 1] = { 0 };
  spec_rlimit rlimits[MAX_ITEMS];
  spec_mount mounts[MAX_ITEMS];
  char *mount_opts[MAX_ITEMS][3];
  size_t n_env = 0, n_add = 0, n_drop = 0;
  spec_options o = { .rootfs = "rootfs" };
  char *profile = NULL;
  spec_id_map map = { 0, 100000, 65536 };
  int i = 3;
  for (; i < argc && strcmp (argv[i], "--") != 0; i++)
    {
      const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
      if (!strcmp (a, "--rootfs"))
        o.rootfs = v, i++;
      else if (!strcmp (a, "--env") && n_env < MAX_ITEMS)
        env[n_env++] = v, i++;
      else if (!strcmp (a, "--cwd"))
        o.cwd = v, i++;
      else if (!strcmp (a, "--user"))
        sscanf (v, "%u:%u", &o.uid, &o.gid), i++;
      else if (!strcmp (a, "--cgroup"))
        o.cgroups_path = v, i++;
      else if (!strcmp (a, "--hostname"))
        o.hostname = v, i++;
      else if (!strcmp (a, "--read-only"))
        o.readonly_rootfs = true;
      else if (!strcmp (a, "--memory"))
        o.memory_bytes = strtoll (v, NULL, 10), o.memory_swap_bytes = o.memory_bytes, i++;
      else if (!strcmp (a, "--pids"))
        o.pids_limit = strtoll (v, NULL, 10), i++;
      else if (!strcmp (a, "--cpus"))
        o.cpus = strtod (v, NULL), i++;
      else if (!strcmp (a, "--cap-add") && n_add < MAX_ITEMS)
        cap_add[n_add++] = v, i++;
      else if (!strcmp (a, "--cap-drop") && n_drop < MAX_ITEMS)
        cap_drop[n_drop++] = v, i++;
      else if (!strcmp (a, "--privileged"))
        o.privileged = true;
      else if (!strcmp (a, "--no-new-privs"))
        o.no_new_privs = true;
      else if (!strcmp (a, "--tty"))
        o.terminal = true;
      else if (!strcmp (a, "--userns"))
        {
          o.userns = true;
          o.uid_maps = o.gid_maps = &map;
          o.n_uid_maps = o.n_gid_maps = 1;
        }
      else if (!strcmp (a, "--seccomp"))
        {
          i++;
          if (!strcmp (v, "unconfined"))
            o.seccomp_mode = SPEC_SECCOMP_UNCONFINED;
          else
            {
              size_t len;
              box_error *err = NULL;
              if (fs_read_file (AT_FDCWD, v, &profile, &len, &err) < 0)
                return die (err, "seccomp profile");
              o.seccomp_mode = SPEC_SECCOMP_PROFILE;
              o.seccomp_profile_json = profile;
            }
        }
      else if (!strcmp (a, "--ulimit") && o.n_rlimits < MAX_ITEMS)
        {
          /* name=soft:hard */
          static char names[MAX_ITEMS][32];
          unsigned long long soft = 0, hard = 0;
          if (sscanf (v, "%31[^=]=%llu:%llu", names[o.n_rlimits], &soft, &hard) != 3)
            return 2;
          rlimits[o.n_rlimits] = (spec_rlimit){ names[o.n_rlimits], soft, hard };
          o.n_rlimits++;
          o.rlimits = rlimits;
          i++;
        }
      else if (!strcmp (a, "--bind") && o.n_mounts < MAX_ITEMS)
        {
          /* SRC:DST[:ro] */
          char *copy = strdup (v);
          char *src = strtok (copy, ":"), *dst = strtok (NULL, ":"), *ro = strtok (NULL, ":");
          size_t k = o.n_mounts;
          mount_opts[k][0] = "rbind";
          mount_opts[k][1] = ro ? "ro" : NULL;
          mount_opts[k][2] = NULL;
          mounts[k] = (spec_mount){ dst, "bind", src, (const char *const *) mount_opts[k] };
          o.n_mounts++;
          o.mounts = mounts;
          i++;
        }
      else
        {
          fprintf (stderr, "box-rt spec: unknown option %s\n", a);
          return 2;
        }
    }
  if (i >= argc)
    return 2;
  o.args = (const char *const *) &argv[i + 1];
  o.env = env;
  o.cap_add = cap_add;
  o.cap_drop = cap_drop;
  box_error *err = NULL;
  int rc = spec_write_bundle (&o, bundle, &err);
  free (profile);
  if (rc < 0)
    return die (err, "spec");
  return 0;
}

static int
wait_status (pid_t pid)
{
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}

static bool
expect_status (const runtime_backend *rt, const runtime_context *ctx, const char *id,
               runtime_status want, const char *when)
{
  runtime_state st;
  box_error *err = NULL;
  if (rt->state (rt, ctx, id, &st, &err) < 0)
    {
      fprintf (stderr, "box-rt: state %s: %s\n", when, box_error_message (err));
      box_error_free (err);
      return false;
    }
  if (st.status != want)
    {
      fprintf (stderr, "box-rt: state %s: status %d, expected %d\n", when, st.status, want);
      return false;
    }
  return true;
}

static int
run_command (int argc, char **argv)
{
  if (argc < 6)
    return 2;
  const runtime_backend *rt = runtime_backend_lookup (argv[2]);
  if (!rt)
    {
      fprintf (stderr, "box-rt: no runtime %s\n", argv[2]);
      return 2;
    }
  runtime_context ctx = { .state_dir = argv[3] };
  const char *id = argv[4], *bundle = argv[5], *stats_out = NULL, *exec_json = NULL;
  bool check_states = false;
  for (int i = 6; i < argc; i++)
    {
      if (!strcmp (argv[i], "--stats-out") && i + 1 < argc)
        stats_out = argv[++i];
      else if (!strcmp (argv[i], "--exec-json") && i + 1 < argc)
        exec_json = argv[++i];
      else if (!strcmp (argv[i], "--check-states"))
        check_states = true;
    }
  prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  runtime_stdio stdio = { 0, 1, 2 };
  pid_t pid;
  int console = -1;
  box_error *err = NULL;
  if (rt->create (rt, &ctx, id, bundle, &stdio, &pid, &console, &err) < 0)
    return die (err, "create");
  if (check_states && !expect_status (rt, &ctx, id, RUNTIME_STATUS_CREATED, "after create"))
    return 99;
  if (rt->start (rt, &ctx, id, &err) < 0)
    return die (err, "start");
  if (console >= 0)
    {
      /* copy the terminal's output to stdout until the box closes it */
      char buf[4096];
      ssize_t n;
      while ((n = read (console, buf, sizeof buf)) > 0)
        if (write (1, buf, (size_t) n) < 0)
          break;
      close (console);
    }
  int exec_status = -1;
  if (exec_json)
    {
      char *process = NULL;
      size_t len;
      if (fs_read_file (AT_FDCWD, exec_json, &process, &len, &err) < 0)
        return die (err, "exec json");
      if (check_states && !expect_status (rt, &ctx, id, RUNTIME_STATUS_RUNNING, "after start"))
        return 99;
      pid_t exec_pid;
      int exec_console = -1;
      int rc = rt->exec (rt, &ctx, id, process, &stdio, &exec_pid, &exec_console, &err);
      free (process);
      if (rc < 0)
        {
          int code = die (err, "exec");
          rt->delete (rt, &ctx, id, true, NULL);
          wait_status (pid);
          return code;
        }
      if (exec_console >= 0)
        {
          char buf[4096];
          ssize_t n;
          while ((n = read (exec_console, buf, sizeof buf)) > 0)
            if (write (1, buf, (size_t) n) < 0)
              break;
          close (exec_console);
        }
      exec_status = wait_status (exec_pid);
      rt->kill (rt, &ctx, id, SIGKILL, true, NULL);
    }
  int status = wait_status (pid);
  if (check_states && !expect_status (rt, &ctx, id, RUNTIME_STATUS_STOPPED, "after exit"))
    return 99;
  if (stats_out)
    {
      runtime_stats stats, oom_only;
      if (rt->stats (rt, &ctx, id, RUNTIME_STATS_ALL, &stats, &err) < 0
          || rt->stats (rt, &ctx, id, RUNTIME_STATS_OOM_ONLY, &oom_only, &err) < 0)
        return die (err, "stats");
      FILE *f = fopen (stats_out, "w");
      if (f)
        {
          fprintf (f,
                   "{\"oom_killed\": %s, \"oom_killed_alone\": %s, \"memory_limit\": %llu, "
                   "\"pids\": %llu}\n",
                   stats.oom_killed ? "true" : "false", oom_only.oom_killed ? "true" : "false",
                   (unsigned long long) stats.memory_limit_bytes,
                   (unsigned long long) stats.pids_current);
          fclose (f);
        }
    }
  if (rt->delete (rt, &ctx, id, false, &err) < 0)
    return die (err, "delete");
  return exec_json ? exec_status : status;
}

#define CHECK(cond, ...)                                                                           \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "box-rt lifecycle: ");                                                  \
          fprintf (stderr, __VA_ARGS__);                                                           \
          fprintf (stderr, "\n");                                                                  \
          return 1;                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static int
lifecycle_command (int argc, char **argv)
{
  if (argc < 6)
    return 2;
  const runtime_backend *rt = runtime_backend_lookup (argv[2]);
  if (!rt)
    return 2;
  runtime_context ctx = { .state_dir = argv[3] };
  const char *id = argv[4], *bundle = argv[5];
  prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  runtime_stdio stdio = { -1, 1, 2 };
  box_error *err = NULL;
  pid_t pid;
  runtime_state st;

  /* a created box that is deleted never runs, and its init goes away */
  if (rt->create (rt, &ctx, id, bundle, &stdio, &pid, NULL, &err) < 0)
    return die (err, "create");
  CHECK (rt->state (rt, &ctx, id, &st, &err) == 0 && st.status == RUNTIME_STATUS_CREATED
             && st.pid == pid,
         "state after create: %d pid %d", st.status, (int) st.pid);
  pid_t second;
  CHECK (rt->create (rt, &ctx, id, bundle, &stdio, &second, NULL, &err) == BOX_E_CONFLICT,
         "a second create with the same id must conflict");
  box_error_free (err);
  err = NULL;
  if (rt->delete (rt, &ctx, id, false, &err) < 0)
    return die (err, "delete created");
  int status = wait_status (pid);
  CHECK (status == 128 + SIGKILL, "the created box's init ended with %d", status);
  CHECK (rt->state (rt, &ctx, id, &st, &err) == BOX_E_NOT_FOUND, "state after delete");
  box_error_free (err);
  err = NULL;
  CHECK (rt->delete (rt, &ctx, id, false, &err) == 0, "delete of an unknown box succeeds");
  printf ("deleted created box\n");

  /* a running box: delete refused, kill, stopped, delete */
  if (rt->create (rt, &ctx, id, bundle, &stdio, &pid, NULL, &err) < 0)
    return die (err, "create");
  if (rt->start (rt, &ctx, id, &err) < 0)
    return die (err, "start");
  CHECK (rt->state (rt, &ctx, id, &st, &err) == 0 && st.status == RUNTIME_STATUS_RUNNING,
         "state after start: %d", st.status);
  CHECK (rt->start (rt, &ctx, id, &err) < 0, "a second start must fail");
  box_error_free (err);
  err = NULL;
  CHECK (rt->delete (rt, &ctx, id, false, &err) == BOX_E_CONFLICT,
         "delete of a running box without force must conflict");
  box_error_free (err);
  err = NULL;
  runtime_stats stats;
  if (rt->stats (rt, &ctx, id, RUNTIME_STATS_ALL, &stats, &err) < 0)
    return die (err, "stats");
  CHECK (stats.pids_current >= 1, "pids.current %llu", (unsigned long long) stats.pids_current);
  if (rt->kill (rt, &ctx, id, SIGKILL, false, &err) < 0)
    return die (err, "kill");
  status = wait_status (pid);
  CHECK (status == 128 + SIGKILL, "killed box ended with %d", status);
  CHECK (rt->state (rt, &ctx, id, &st, &err) == 0 && st.status == RUNTIME_STATUS_STOPPED,
         "state after kill: %d", st.status);
  if (rt->delete (rt, &ctx, id, false, &err) < 0)
    return die (err, "delete stopped");
  printf ("killed running box\n");

  /* kill --all reaches every process; a forced delete stops a running box */
  if (rt->create (rt, &ctx, id, bundle, &stdio, &pid, NULL, &err) < 0)
    return die (err, "create");
  if (rt->start (rt, &ctx, id, &err) < 0)
    return die (err, "start");
  if (rt->delete (rt, &ctx, id, true, &err) < 0)
    return die (err, "forced delete");
  status = wait_status (pid);
  CHECK (status == 128 + SIGKILL, "force-deleted box ended with %d", status);
  printf ("force-deleted running box\n");
  return 0;
}

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static int
bench_command (int argc, char **argv)
{
  if (argc < 6)
    return 2;
  const runtime_backend *rt = runtime_backend_lookup (argv[2]);
  if (!rt)
    return 2;
  runtime_context ctx = { .state_dir = argv[3] };
  const char *bundle = argv[4];
  int n = atoi (argv[5]);
  if (n <= 0 || n > 100000)
    return 2;
  prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  double *times = calloc ((size_t) n, sizeof *times);
  int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  runtime_stdio stdio = { devnull, devnull, devnull };
  for (int i = 0; i < n; i++)
    {
      char id[32];
      snprintf (id, sizeof id, "bench-%d-%d", (int) getpid (), i);
      double t0 = now_ms ();
      pid_t pid;
      box_error *err = NULL;
      if (rt->create (rt, &ctx, id, bundle, &stdio, &pid, NULL, &err) < 0)
        return die (err, "create");
      if (rt->start (rt, &ctx, id, &err) < 0)
        return die (err, "start");
      int status = wait_status (pid);
      if (rt->delete (rt, &ctx, id, false, &err) < 0)
        return die (err, "delete");
      times[i] = now_ms () - t0;
      if (status != 0)
        {
          fprintf (stderr, "box-rt bench: box exited %d\n", status);
          return 1;
        }
    }
  qsort (times, (size_t) n, sizeof *times, compare_double);
  printf ("{\"runtime\": \"%s\", \"n\": %d, \"median_ms\": %.3f, \"p10_ms\": %.3f, "
          "\"p90_ms\": %.3f, \"min_ms\": %.3f}\n",
          argv[2], n, times[n / 2], times[n / 10], times[(n * 9) / 10], times[0]);
  free (times);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: box-rt spec|run|bench ...\n");
      return 2;
    }
  if (!strcmp (argv[1], "spec"))
    return spec_command (argc, argv);
  if (!strcmp (argv[1], "run"))
    return run_command (argc, argv);
  if (!strcmp (argv[1], "bench"))
    return bench_command (argc, argv);
  if (!strcmp (argv[1], "lifecycle"))
    return lifecycle_command (argc, argv);
  return 2;
}
