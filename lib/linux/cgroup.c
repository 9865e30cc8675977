/* Owns box cgroups: creation with limits, attaching processes, killing, stats, removal, for
 * cgroup v1, hybrid and v2 hosts. */
#include "linux/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "linux/cgroup-device.h"
#include "util/cleanup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* The v1 controllers a box's limits and accounting live in. */
static const char *const v1_controllers[] = { "memory", "cpu", "cpuacct", "pids", "devices" };

cgroup_mode
cgroup_host_mode (void)
{
  static cgroup_mode mode = CGROUP_MODE_UNKNOWN;
  if (mode == CGROUP_MODE_UNKNOWN)
    mode = cgroup_mode_detect (CGROUP_ROOT);
  return mode;
}

static bool
has_v1 (void)
{
  cgroup_mode m = cgroup_host_mode ();
  return m == CGROUP_MODE_V1 || m == CGROUP_MODE_HYBRID;
}

/* The unified hierarchy's mount point, or NULL on a pure v1 host. */
static const char *
unified_root (void)
{
  switch (cgroup_host_mode ())
    {
    case CGROUP_MODE_V2:
      return CGROUP_ROOT;
    case CGROUP_MODE_HYBRID:
      return CGROUP_ROOT "/unified";
    default:
      return NULL;
    }
}

static int
write_at (int dirfd, const char *file, const char *value)
{
  int fd;
  do
    fd = openat (dirfd, file, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -errno;
  size_t len = strlen (value);
  ssize_t n;
  do
    n = write (fd, value, len);
  while (n < 0 && errno == EINTR);
  int saved = errno;
  close (fd);
  if (n < 0)
    return -saved;
  return (size_t) n == len ? 0 : -EIO;
}

static int
read_at (int dirfd, const char *file, char *buf, size_t size)
{
  int fd;
  do
    fd = openat (dirfd, file, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -errno;
  size_t total = 0;
  while (total + 1 < size)
    {
      ssize_t n = read (fd, buf + total, size - 1 - total);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      total += (size_t) n;
    }
  close (fd);
  buf[total] = '\0';
  return (int) total;
}

static int
write_limit (int dirfd, const char *where, const char *file, const char *value, box_error **err)
{
  int rc = write_at (dirfd, file, value);
  if (rc < 0)
    return box_err_errno (err, -rc, "cgroup %s: write %s = %s", where, file, value);
  return 0;
}

/* mkdir -p root/path, returning an O_DIRECTORY fd of the last directory. The parents exist
 * after the first box: the leaf is tried first. */
static int
mkdir_cgroup (const char *root, const char *path, int *out_fd, box_error **err)
{
  char full[4096];
  int len = snprintf (full, sizeof full, "%s%s", root, path);
  if (len < 0 || (size_t) len >= sizeof full)
    return box_err (err, BOX_E_INVALID, "cgroup path %s is too long", path);
  if (mkdir (full, 0755) < 0 && errno != EEXIST)
    {
      if (errno != ENOENT)
        return box_err_errno (err, errno, "mkdir %s", full);
      for (char *p = full + strlen (root) + 1; *p; p++)
        if (*p == '/')
          {
            *p = '\0';
            if (mkdir (full, 0755) < 0 && errno != EEXIST)
              return box_err_errno (err, errno, "mkdir %s", full);
            *p = '/';
          }
      if (mkdir (full, 0755) < 0 && errno != EEXIST)
        return box_err_errno (err, errno, "mkdir %s", full);
    }
  int fd = open (full, O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return box_err_errno (err, errno, "open %s", full);
  *out_fd = fd;
  return 0;
}

static int
apply_v1 (const char *controller, int fd, const cgroup_limits *l, box_error **err)
{
  char value[64];
  if (strcmp (controller, "memory") == 0)
    {
      if (l->memory_limit > 0)
        {
          snprintf (value, sizeof value, "%" PRId64, l->memory_limit);
          if (write_limit (fd, controller, "memory.limit_in_bytes", value, err) < 0)
            return -1;
        }
      if (l->memory_swap > 0)
        {
          if (l->memory_swap == INT64_MAX)
            snprintf (value, sizeof value, "-1");
          else
            snprintf (value, sizeof value, "%" PRId64, l->memory_swap);
          int rc = write_at (fd, "memory.memsw.limit_in_bytes", value);
          /* without swap accounting (no memsw files) there is no swap to limit */
          if (rc < 0 && rc != -ENOENT)
            return box_err_errno (err, -rc, "cgroup memory: write memory.memsw.limit_in_bytes");
        }
    }
  else if (strcmp (controller, "cpu") == 0)
    {
      if (l->cpu_shares > 0)
        {
          snprintf (value, sizeof value, "%" PRIu64, l->cpu_shares);
          if (write_limit (fd, controller, "cpu.shares", value, err) < 0)
            return -1;
        }
      if (l->cpu_period > 0)
        {
          snprintf (value, sizeof value, "%" PRIu64, l->cpu_period);
          if (write_limit (fd, controller, "cpu.cfs_period_us", value, err) < 0)
            return -1;
        }
      if (l->cpu_quota > 0)
        {
          snprintf (value, sizeof value, "%" PRId64, l->cpu_quota);
          if (write_limit (fd, controller, "cpu.cfs_quota_us", value, err) < 0)
            return -1;
        }
    }
  else if (strcmp (controller, "pids") == 0)
    {
      if (l->pids_limit != 0)
        {
          if (l->pids_limit > 0)
            snprintf (value, sizeof value, "%" PRId64, l->pids_limit);
          else
            snprintf (value, sizeof value, "max");
          if (write_limit (fd, controller, "pids.max", value, err) < 0)
            return -1;
        }
    }
  else if (strcmp (controller, "devices") == 0 && l->devices_rules)
    {
      /* each write is one rule; the files stay open across the rules */
      _cleanup_close_ int allow = -1, deny = -1;
      const char *p = l->devices_rules;
      while (*p)
        {
          size_t len = strcspn (p, "\n");
          if (len > 2 && len < sizeof value)
            {
              memcpy (value, p + 1, len - 1);
              value[len - 1] = '\0';
              bool is_allow = p[0] == '+';
              int *fd_slot = is_allow ? &allow : &deny;
              if (*fd_slot < 0)
                *fd_slot = openat (fd, is_allow ? "devices.allow" : "devices.deny",
                                   O_WRONLY | O_CLOEXEC);
              ssize_t n = *fd_slot < 0 ? -1 : write (*fd_slot, value, len - 1);
              if (n != (ssize_t) (len - 1))
                return box_err_errno (err, errno, "cgroup devices: write %s = %s",
                                      is_allow ? "devices.allow" : "devices.deny", value);
            }
          p += len;
          if (*p == '\n')
            p++;
        }
    }
  return 0;
}

/* cpu.weight from cpu.shares, the conversion runc and systemd use. */
static uint64_t
shares_to_weight (uint64_t shares)
{
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

static int
apply_v2 (int fd, const cgroup_limits *l, box_error **err)
{
  char value[64];
  if (l->memory_limit > 0)
    {
      snprintf (value, sizeof value, "%" PRId64, l->memory_limit);
      if (write_limit (fd, "unified", "memory.max", value, err) < 0)
        return -1;
    }
  if (l->memory_swap > 0)
    {
      /* v2 limits swap alone; OCI's swap is memory + swap */
      if (l->memory_swap == INT64_MAX)
        snprintf (value, sizeof value, "max");
      else
        snprintf (value, sizeof value, "%" PRId64,
                  l->memory_swap - (l->memory_limit > 0 ? l->memory_limit : 0));
      int rc = write_at (fd, "memory.swap.max", value);
      if (rc < 0 && rc != -ENOENT)
        return box_err_errno (err, -rc, "cgroup unified: write memory.swap.max");
    }
  if (l->cpu_quota > 0 || l->cpu_period > 0)
    {
      char quota[32] = "max";
      if (l->cpu_quota > 0)
        snprintf (quota, sizeof quota, "%" PRId64, l->cpu_quota);
      snprintf (value, sizeof value, "%s %" PRIu64, quota, l->cpu_period ? l->cpu_period : 100000);
      if (write_limit (fd, "unified", "cpu.max", value, err) < 0)
        return -1;
    }
  if (l->cpu_shares > 0)
    {
      snprintf (value, sizeof value, "%" PRIu64, shares_to_weight (l->cpu_shares));
      if (write_limit (fd, "unified", "cpu.weight", value, err) < 0)
        return -1;
    }
  if (l->pids_limit != 0)
    {
      if (l->pids_limit > 0)
        snprintf (value, sizeof value, "%" PRId64, l->pids_limit);
      else
        snprintf (value, sizeof value, "max");
      if (write_limit (fd, "unified", "pids.max", value, err) < 0)
        return -1;
    }
  return 0;
}

/* On v2, the controllers must be enabled in every ancestor's subtree_control. */
static int
enable_v2_controllers (const char *path, box_error **err)
{
  char dir[4096];
  snprintf (dir, sizeof dir, "%s", CGROUP_ROOT);
  const char *p = path;
  for (;;)
    {
      _cleanup_close_ int fd = open (dir, O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        return box_err_errno (err, errno, "open %s", dir);
      char available[512];
      if (read_at (fd, "cgroup.controllers", available, sizeof available) < 0)
        return box_err_errno (err, errno, "read %s/cgroup.controllers", dir);
      static const char *const wanted[] = { "memory", "cpu", "pids" };
      char words[520];
      snprintf (words, sizeof words, " %s ", available);
      for (char *c = words; *c; c++)
        if (*c == '\n')
          *c = ' ';
      for (size_t i = 0; i < ARRAY_SIZE (wanted); i++)
        {
          char word[32];
          snprintf (word, sizeof word, " %s ", wanted[i]);
          if (!strstr (words, word))
            continue;
          char enable[32];
          snprintf (enable, sizeof enable, "+%s", wanted[i]);
          int rc = write_at (fd, "cgroup.subtree_control", enable);
          if (rc < 0 && rc != -EBUSY)
            return box_err_errno (err, -rc, "enable %s in %s", wanted[i], dir);
        }
      while (*p == '/')
        p++;
      size_t len = strcspn (p, "/");
      if (p[len] == '\0') /* the box's own cgroup needs nothing enabled below it */
        return 0;
      size_t used = strlen (dir);
      snprintf (dir + used, sizeof dir - used, "/%.*s", (int) len, p);
      if (mkdir (dir, 0755) < 0 && errno != EEXIST)
        return box_err_errno (err, errno, "mkdir %s", dir);
      p += len;
    }
}

/* Moving a process between cgroups takes the kernel's global cgroup_threadgroup_rwsem for
 * writing, which by default waits for an RCU grace period: 5-10 ms per box on a v1 hierarchy,
 * where the init cannot be born in its cgroup (CLONE_INTO_CGROUP is for the unified tree
 * only). The cgroup2 mount option "favordynmods" (Linux 6.0) keeps that lock in the mode
 * where writers do not wait, at a small cost to fork and exit: the trade systemd offers and
 * that hosts running many short-lived boxes want. It is global, so one remount of the
 * unified hierarchy serves every v1 hierarchy too. Best effort: a kernel without the option
 * refuses the remount and boxes start as before. */
static void
favor_dynamic_modifications (void)
{
  static bool done;
  if (done)
    return;
  done = true;
  const char *unified = unified_root ();
  if (!unified)
    return;
  _cleanup_fclose_ FILE *f = fopen ("/proc/self/mountinfo", "re");
  if (!f)
    return;
  _cleanup_free_ char *line = NULL;
  size_t cap = 0;
  char needle[96];
  snprintf (needle, sizeof needle, " %s ", unified);
  while (getline (&line, &cap, f) > 0)
    {
      char *at = strstr (line, needle);
      if (!at || !strstr (line, " - cgroup2 "))
        continue;
      if (strstr (line, "favordynmods"))
        return;
      unsigned long flags = MS_REMOUNT;
      /* keep the per-mount flags: a remount resets what it does not repeat */
      const char *opts = at + strlen (needle);
      size_t len = strcspn (opts, " ");
      char mount_opts[256];
      snprintf (mount_opts, sizeof mount_opts, ",%.*s,", (int) len, opts);
      if (strstr (mount_opts, ",nosuid,"))
        flags |= MS_NOSUID;
      if (strstr (mount_opts, ",nodev,"))
        flags |= MS_NODEV;
      if (strstr (mount_opts, ",noexec,"))
        flags |= MS_NOEXEC;
      if (strstr (mount_opts, ",relatime,"))
        flags |= MS_RELATIME;
      bool delegate = strstr (line, "nsdelegate") != NULL;
      bool memory_recursiveprot = strstr (line, "memory_recursiveprot") != NULL;
      char data[128];
      snprintf (data, sizeof data, "favordynmods%s%s", delegate ? ",nsdelegate" : "",
                memory_recursiveprot ? ",memory_recursiveprot" : "");
      mount (NULL, unified, NULL, flags, data);
      return;
    }
}

void
cgroup_prepare (void)
{
  if (cgroup_host_mode () != CGROUP_MODE_UNKNOWN && has_v1 ())
    favor_dynamic_modifications ();
}

int
cgroup_create (const char *path, const cgroup_limits *limits, int *out_unified_fd, box_error **err)
{
  *out_unified_fd = -1;
  if (!path || path[0] != '/' || strstr (path, "..") || strlen (path) < 2)
    return box_err (err, BOX_E_INVALID, "invalid cgroup path \"%s\"", path ? path : "");
  cgroup_mode mode = cgroup_host_mode ();
  if (mode == CGROUP_MODE_UNKNOWN)
    return box_err (err, BOX_E_UNSUPPORTED, "no cgroup filesystem at " CGROUP_ROOT);
  if (has_v1 ())
    favor_dynamic_modifications ();
  if (has_v1 ())
    for (size_t i = 0; i < ARRAY_SIZE (v1_controllers); i++)
      {
        /* every cgroup costs a mkdir and an rmdir per box: cpu only with cpu limits, cpuacct
           only where no unified tree counts cpu time (its cpu.stat works without
           controllers) */
        const char *c = v1_controllers[i];
        if (strcmp (c, "cpu") == 0 && !limits->cpu_shares && limits->cpu_quota <= 0
            && !limits->cpu_period)
          continue;
        if (strcmp (c, "cpuacct") == 0 && unified_root ())
          continue;
        char root[64];
        snprintf (root, sizeof root, CGROUP_ROOT "/%s", v1_controllers[i]);
        if (access (root, F_OK) < 0)
          continue; /* a controller this kernel does not mount */
        _cleanup_close_ int fd = -1;
        if (mkdir_cgroup (root, path, &fd, err) < 0
            || apply_v1 (v1_controllers[i], fd, limits, err) < 0)
          goto fail;
      }
  const char *unified = unified_root ();
  if (unified)
    {
      if (mode == CGROUP_MODE_V2 && enable_v2_controllers (path, err) < 0)
        goto fail;
      _cleanup_close_ int fd = -1;
      if (mkdir_cgroup (unified, path, &fd, err) < 0)
        goto fail;
      if (mode == CGROUP_MODE_V2 && apply_v2 (fd, limits, err) < 0)
        goto fail;
      /* v2 has no devices controller: its rules are an eBPF program on the cgroup (hybrid
         hosts keep them in the v1 devices hierarchy) */
      if (mode == CGROUP_MODE_V2 && limits->devices_rules
          && cgroup_device_filter_attach (fd, limits->devices_rules, err) < 0)
        {
          box_err_wrap (err, "cgroup %s", path);
          goto fail;
        }
      *out_unified_fd = TAKE_FD (fd);
    }
  return 0;
fail:
  cgroup_destroy (path, 0, NULL);
  return box_err_code (err);
}

int
cgroup_attach (const char *path, pid_t pid, bool skip_unified, box_error **err)
{
  char value[24];
  snprintf (value, sizeof value, "%d", (int) pid);
  char file[4096];
  if (has_v1 ())
    for (size_t i = 0; i < ARRAY_SIZE (v1_controllers); i++)
      {
        snprintf (file, sizeof file, CGROUP_ROOT "/%s%s/cgroup.procs", v1_controllers[i], path);
        int rc = write_at (AT_FDCWD, file, value);
        /* controllers the box was not given a cgroup in (see cgroup_create) */
        if (rc == -ENOENT && strcmp (v1_controllers[i], "memory") != 0)
          continue;
        if (rc < 0)
          return box_err_errno (err, -rc, "attach %d to %s", (int) pid, file);
      }
  const char *unified = unified_root ();
  if (unified && !skip_unified)
    {
      snprintf (file, sizeof file, "%s%s", unified, path);
      _cleanup_close_ int fd = open (file, O_DIRECTORY | O_CLOEXEC);
      int rc = fd < 0 ? -errno : write_at (fd, "cgroup.procs", value);
      if (rc < 0)
        return box_err_errno (err, -rc, "attach %d to %s", (int) pid, file);
    }
  return 0;
}

/* The directory whose cgroup.procs lists every process of the box. */
static void
tracking_dir (const char *path, char *out, size_t size)
{
  const char *unified = unified_root ();
  if (unified)
    snprintf (out, size, "%s%s", unified, path);
  else
    snprintf (out, size, CGROUP_ROOT "/memory%s", path);
}

static int
signal_procs (const char *dir, int signal, int *count)
{
  char file[4200];
  snprintf (file, sizeof file, "%s/cgroup.procs", dir);
  _cleanup_fclose_ FILE *f = fopen (file, "re");
  if (!f)
    return -errno;
  int pid;
  *count = 0;
  while (fscanf (f, "%d", &pid) == 1)
    {
      if (kill (pid, signal) == 0)
        (*count)++;
    }
  return 0;
}

int
cgroup_kill (const char *path, int signal, box_error **err)
{
  char dir[4096];
  tracking_dir (path, dir, sizeof dir);
  if (signal == SIGKILL && unified_root ())
    {
      _cleanup_close_ int fd = open (dir, O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        return errno == ENOENT ? 0 : box_err_errno (err, errno, "open %s", dir);
      int rc = write_at (fd, "cgroup.kill", "1");
      if (rc == 0)
        return 0;
      if (rc != -ENOENT) /* kernels before 5.14 have no cgroup.kill */
        return box_err_errno (err, -rc, "write %s/cgroup.kill", dir);
    }
  /* v1 without a freezer dance: a process forking while we read may escape one round, so
     the caller repeats until the cgroup is empty (cgroup_destroy does) */
  int count;
  int rc = signal_procs (dir, signal, &count);
  if (rc < 0 && rc != -ENOENT)
    return box_err_errno (err, -rc, "signal the processes of %s", dir);
  return 0;
}

bool
cgroup_populated (const char *path)
{
  char dir[4096];
  tracking_dir (path, dir, sizeof dir);
  _cleanup_close_ int fd = open (dir, O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char buf[256];
  if (unified_root ())
    {
      if (read_at (fd, "cgroup.events", buf, sizeof buf) < 0)
        return false;
      return strstr (buf, "populated 1") != NULL;
    }
  if (read_at (fd, "cgroup.procs", buf, sizeof buf) < 0)
    return false;
  return buf[0] != '\0';
}

/* A cgroup tree is at most this deep below the box's cgroup (the kernel allows more; a box
 * that nests deeper has its deeper processes left out rather than a stack overflow). */
#define CGROUP_LIST_MAX_DEPTH 32

typedef struct pid_list {
  pid_t *pids;
  size_t n, cap;
} pid_list;

static int
pid_list_add (pid_list *l, pid_t pid)
{
  if (l->n == l->cap)
    {
      size_t cap = l->cap ? l->cap * 2 : 32;
      pid_t *bigger = realloc (l->pids, cap * sizeof *bigger);
      if (!bigger)
        return -ENOMEM;
      l->pids = bigger;
      l->cap = cap;
    }
  l->pids[l->n++] = pid;
  return 0;
}

/* cgroup.procs of the cgroup at dirfd, then of each child cgroup; a cgroup removed while
 * read is skipped. Returns 0 or -errno. */
static int
collect_procs (int dirfd, int depth, pid_list *l)
{
  int fd = openat (dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;
  _cleanup_fclose_ FILE *f = fdopen (fd, "re");
  if (!f)
    {
      int saved = errno;
      close (fd);
      return -saved;
    }
  long pid;
  while (fscanf (f, "%ld", &pid) == 1)
    if (pid > 0 && pid_list_add (l, (pid_t) pid) < 0)
      return -ENOMEM;
  if (depth >= CGROUP_LIST_MAX_DEPTH)
    return 0;
  int dup_fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0)
    return errno == ENOENT ? 0 : -errno;
  _cleanup_closedir_ DIR *dir = fdopendir (dup_fd);
  if (!dir)
    {
      int saved = errno;
      close (dup_fd);
      return -saved;
    }
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      _cleanup_close_ int child
          = openat (dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0)
        {
          if (errno == ENOENT)
            continue;
          return -errno;
        }
      int rc = collect_procs (child, depth + 1, l);
      if (rc < 0)
        return rc;
    }
  return 0;
}

static int
compare_pids (const void *a, const void *b)
{
  pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
  return x < y ? -1 : x > y;
}

int
cgroup_list_pids (const char *path, pid_t member, pid_t **out, size_t *out_n, box_error **err)
{
  *out = NULL;
  *out_n = 0;
  /* where the runtimes put every box: the unified tree when there is one, and box's v1
     controllers (a runtime that left the unified tree alone on a hybrid host) */
  char dirs[3][4096];
  size_t n_dirs = 0;
  tracking_dir (path, dirs[n_dirs++], sizeof dirs[0]);
  if (has_v1 ())
    {
      snprintf (dirs[n_dirs++], sizeof dirs[0], CGROUP_ROOT "/pids%s", path);
      snprintf (dirs[n_dirs++], sizeof dirs[0], CGROUP_ROOT "/memory%s", path);
    }
  pid_list first = { 0 };
  bool found = false;
  for (size_t i = 0; i < n_dirs; i++)
    {
      _cleanup_close_ int fd = open (dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        {
          if (errno == ENOENT)
            continue;
          free (first.pids);
          return box_err_errno (err, errno, "open %s", dirs[i]);
        }
      pid_list l = { 0 };
      int rc = collect_procs (fd, 0, &l);
      if (rc < 0)
        {
          free (l.pids);
          free (first.pids);
          return box_err_errno (err, -rc, "read the processes of cgroup %s", dirs[i]);
        }
      qsort (l.pids, l.n, sizeof *l.pids, compare_pids);
      if (member <= 0 || bsearch (&member, l.pids, l.n, sizeof *l.pids, compare_pids))
        {
          free (first.pids);
          *out = l.pids;
          *out_n = l.n;
          return 0;
        }
      if (!found)
        first = l;
      else
        free (l.pids);
      found = true;
    }
  if (!found)
    return box_err (err, BOX_E_NOT_FOUND, "no cgroup %s in any hierarchy under " CGROUP_ROOT, path);
  *out = first.pids;
  *out_n = first.n;
  return 0;
}

static void
sleep_ms (int ms)
{
  struct timespec ts = { 0, ms * 1000000L };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* rmdir of a cgroup and, depth first, of the cgroups a box made below it (a cgroup with
 * children refuses rmdir with EBUSY). 0, or -errno of the first failure. */
static int
rmdir_cgroup (const char *dir, int depth)
{
  if (rmdir (dir) == 0 || errno == ENOENT)
    return 0;
  int saved = errno;
  if (saved != EBUSY || depth >= 32)
    return -saved;
  _cleanup_closedir_ DIR *d = opendir (dir);
  if (!d)
    return errno == ENOENT ? 0 : -saved;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      char child[4096];
      if ((size_t) snprintf (child, sizeof child, "%s/%s", dir, de->d_name) >= sizeof child)
        return -ENAMETOOLONG;
      int rc = rmdir_cgroup (child, depth + 1);
      if (rc < 0)
        return rc;
    }
  if (rmdir (dir) == 0 || errno == ENOENT)
    return 0;
  return -errno;
}

static int
rmdir_tree_path (const char *root, const char *path, box_error **err)
{
  char full[4096];
  snprintf (full, sizeof full, "%s%s", root, path);
  int rc = rmdir_cgroup (full, 0);
  if (rc < 0)
    return box_err_errno (err, -rc, "rmdir %s", full);
  return 0;
}

static int
rmdir_in_v1_hierarchies (const char *path, box_error **err)
{
  _cleanup_closedir_ DIR *dir = opendir (CGROUP_ROOT);
  if (!dir)
    return box_err_errno (err, errno, "open %s", CGROUP_ROOT);
  int rc = 0;
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      /* co-mounted controllers appear as symlinks ("cpu" -> "cpu,cpuacct"): once is enough */
      if (de->d_type != DT_DIR || de->d_name[0] == '.' || strcmp (de->d_name, "unified") == 0)
        continue;
      char root[300];
      snprintf (root, sizeof root, CGROUP_ROOT "/%s", de->d_name);
      if (rmdir_tree_path (root, path, rc < 0 ? NULL : err) < 0)
        rc = -1;
    }
  return rc;
}

int
cgroup_destroy (const char *path, int timeout_ms, box_error **err)
{
  if (!path || path[0] != '/' || strstr (path, ".."))
    return box_err (err, BOX_E_INVALID, "invalid cgroup path");
  for (int waited = 0; cgroup_populated (path) && waited < timeout_ms; waited++)
    {
      if (waited % 50 == 0)
        cgroup_kill (path, SIGKILL, NULL);
      sleep_ms (1);
    }
  int rc = 0;
  const char *unified = unified_root ();
  /* v1 memory cgroups may stay busy for a moment after the last task left */
  for (int attempt = 0; attempt < 100; attempt++)
    {
      box_error *local = NULL;
      rc = 0;
      if (has_v1 () && rmdir_in_v1_hierarchies (path, &local) < 0)
        rc = -1;
      if (unified && rmdir_tree_path (unified, path, rc < 0 ? NULL : &local) < 0)
        rc = -1;
      if (rc == 0)
        return 0;
      if (attempt == 99 || !local || local->errno_value != EBUSY)
        return box_err_propagate (err, &local);
      box_error_freep (&local);
      sleep_ms (1);
    }
  return rc;
}

static uint64_t
read_u64 (int dirfd, const char *file)
{
  char buf[64];
  if (read_at (dirfd, file, buf, sizeof buf) <= 0)
    return 0;
  return strtoull (buf, NULL, 10);
}

/* The value after "key " in a flat keyed text ("oom_kill 3\n"); 0 when it has none. */
static uint64_t
keyed_value (const char *text, const char *key)
{
  size_t klen = strlen (key);
  for (const char *line = text; line && *line;
       line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    if (strncmp (line, key, klen) == 0 && line[klen] == ' ')
      return strtoull (line + klen + 1, NULL, 10);
  return 0;
}

/* The value after "key " in a flat keyed file. */
static uint64_t
read_keyed (int dirfd, const char *file, const char *key)
{
  char buf[2048];
  if (read_at (dirfd, file, buf, sizeof buf) <= 0)
    return 0;
  return keyed_value (buf, key);
}

/* The directory of the cgroup in the hierarchy that counts its OOM kills (v2: the unified
 * one, v1: memory), opened into *out. */
static int
open_memory_cgroup (const char *path, int *out, box_error **err)
{
  char dir[4096];
  if (cgroup_host_mode () == CGROUP_MODE_V2)
    snprintf (dir, sizeof dir, CGROUP_ROOT "%s", path);
  else
    snprintf (dir, sizeof dir, CGROUP_ROOT "/memory%s", path);
  *out = open (dir, O_DIRECTORY | O_CLOEXEC);
  if (*out < 0)
    return box_err_errno (err, errno, "open %s", dir);
  return 0;
}

int
cgroup_read_oom_kills (const char *path, uint64_t *out, box_error **err)
{
  *out = 0;
  _cleanup_close_ int fd = -1;
  if (open_memory_cgroup (path, &fd, err) < 0)
    return box_err_code (err);
  *out = read_keyed (fd, cgroup_host_mode () == CGROUP_MODE_V2 ? "memory.events"
                                                               : "memory.oom_control",
                     "oom_kill");
  return 0;
}

int
cgroup_read_stats (const char *path, cgroup_stats *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  _cleanup_close_ int memory = -1;
  if (open_memory_cgroup (path, &memory, err) < 0)
    return box_err_code (err);
  char dir[4096];
  if (cgroup_host_mode () == CGROUP_MODE_V2)
    {
      out->memory_usage_bytes = read_u64 (memory, "memory.current");
      out->memory_limit_bytes = read_u64 (memory, "memory.max"); /* "max" parses as 0 */
      out->cpu_usage_ns = read_keyed (memory, "cpu.stat", "usage_usec") * 1000;
      out->pids_current = read_u64 (memory, "pids.current");
      char events[2048];
      if (read_at (memory, "memory.events", events, sizeof events) > 0)
        {
          out->oom_kills = keyed_value (events, "oom_kill");
          out->oom_limit_hit = keyed_value (events, "oom") > 0;
        }
      return 0;
    }
  out->memory_usage_bytes = read_u64 (memory, "memory.usage_in_bytes");
  uint64_t limit = read_u64 (memory, "memory.limit_in_bytes");
  /* v1 reports "no limit" as a huge page-rounded number */
  out->memory_limit_bytes = limit >= (UINT64_C (1) << 62) ? 0 : limit;
  char oom_control[2048];
  if (read_at (memory, "memory.oom_control", oom_control, sizeof oom_control) > 0)
    {
      out->oom_kills = keyed_value (oom_control, "oom_kill");
      out->oom_limit_hit = keyed_value (oom_control, "under_oom") > 0;
    }
  if (!out->oom_limit_hit)
    out->oom_limit_hit = read_u64 (memory, "memory.failcnt") > 0;
  if (unified_root ())
    {
      snprintf (dir, sizeof dir, "%s%s", unified_root (), path);
      _cleanup_close_ int unified = open (dir, O_DIRECTORY | O_CLOEXEC);
      if (unified >= 0)
        out->cpu_usage_ns = read_keyed (unified, "cpu.stat", "usage_usec") * 1000;
    }
  else
    {
      snprintf (dir, sizeof dir, CGROUP_ROOT "/cpuacct%s", path);
      _cleanup_close_ int cpuacct = open (dir, O_DIRECTORY | O_CLOEXEC);
      if (cpuacct >= 0)
        out->cpu_usage_ns = read_u64 (cpuacct, "cpuacct.usage");
    }
  snprintf (dir, sizeof dir, CGROUP_ROOT "/pids%s", path);
  _cleanup_close_ int pids = open (dir, O_DIRECTORY | O_CLOEXEC);
  if (pids >= 0)
    out->pids_current = read_u64 (pids, "pids.current");
  return 0;
}
