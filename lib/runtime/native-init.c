/* Owns the inside of a native box's setup: namespaces joined by path, the root filesystem
 * (mounts, devices, console, pivot_root, masked and read-only paths), and the process
 * (rlimits, working directory, user, capabilities, no_new_privs, seccomp) up to execve.
 *
 * This runs in a clone3 child of the single-threaded monitor: a private copy of its memory,
 * so plain libc calls are fine; every failure is reported to the parent as a message and the
 * child exits. */
#include "runtime/native-init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "linux/caps.h"
#include "linux/cpus.h"
#include "linux/net.h"
#include "util/fs.h"
#include "util/strutil.h"

#define FD_PATH_MAX 32 /* "/proc/self/fd/2147483647" */

void
native_send_error (int fd, int code, int errno_value, const char *fmt, ...)
{
  native_message msg = { .kind = NATIVE_MSG_ERROR, .code = code, .errno_value = errno_value };
  va_list ap;
  va_start (ap, fmt);
  int len = vsnprintf (msg.text, sizeof msg.text, fmt, ap);
  va_end (ap);
  if (errno_value && len >= 0 && (size_t) len < sizeof msg.text)
    snprintf (msg.text + len, sizeof msg.text - (size_t) len, ": %s", strerror (errno_value));
  while (send (fd, &msg, sizeof msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
    ;
}

/* Reports and exits. The errno-derived code is left to the parent (BOX_E_IO family). */
#define FAIL(a, code, errno_value, ...)                                                            \
  do                                                                                               \
    {                                                                                              \
      native_send_error ((a)->sync_fd, (code), (errno_value), __VA_ARGS__);                        \
      _exit (1);                                                                                   \
    }                                                                                              \
  while (0)

#define FAIL_ERRNO(a, ...) FAIL (a, 0, errno, __VA_ARGS__)

static void
fd_path (int fd, char *buf)
{
  snprintf (buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
}

static int
openat2_in_root (int rootfd, const char *path, int flags)
{
  struct open_how how = { .flags = (uint64_t) flags | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  int fd;
  do
    fd = (int) syscall (SYS_openat2, rootfd, path, &how, sizeof how);
  while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return fd;
}

/* Opens path inside the rootfs (O_PATH), creating it (a directory, or an empty file when
 * as_file) and its missing parents. Every lookup stays inside rootfd. */
static int
open_or_create_in_root (int rootfd, const char *path, bool as_file)
{
  int fd = openat2_in_root (rootfd, path, O_PATH);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  char parent[4096];
  snprintf (parent, sizeof parent, "%s", path);
  size_t len = strlen (parent);
  while (len > 1 && parent[len - 1] == '/')
    parent[--len] = '\0';
  char *slash = strrchr (parent, '/');
  if (!slash)
    return -1;
  const char *base = path + (slash - parent) + 1;
  char name[256];
  snprintf (name, sizeof name, "%.*s", (int) strcspn (base, "/"), base);
  if (slash == parent)
    slash[1] = '\0';
  else
    *slash = '\0';
  int parentfd = open_or_create_in_root (rootfd, parent, false);
  if (parentfd < 0)
    return -1;
  int rc;
  if (as_file)
    {
      rc = openat (parentfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (rc >= 0)
        close (rc);
    }
  else
    rc = mkdirat (parentfd, name, 0755);
  int saved = errno;
  close (parentfd);
  if (rc < 0 && saved != EEXIST)
    {
      errno = saved;
      return -1;
    }
  return openat2_in_root (rootfd, path, O_PATH);
}

static bool
is_regular_host_file (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && !S_ISDIR (st.st_mode);
}

/* The mount flags that are locked on a mount a user namespace inherited: remounts must keep
 * them. */
static unsigned long
locked_flags (const char *target)
{
  struct statvfs vfs;
  if (statvfs (target, &vfs) < 0)
    return 0;
  unsigned long flags = 0;
  if (vfs.f_flag & ST_NOSUID)
    flags |= MS_NOSUID;
  if (vfs.f_flag & ST_NODEV)
    flags |= MS_NODEV;
  if (vfs.f_flag & ST_NOEXEC)
    flags |= MS_NOEXEC;
  if (vfs.f_flag & ST_RDONLY)
    flags |= MS_RDONLY;
  return flags;
}

/* ---- devices ---------------------------------------------------------------------------- */

typedef struct default_device {
  const char *name;
  unsigned major, minor;
} default_device;

static const default_device default_devices[] = {
  { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
  { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

/* The node name in dirfd, path its place in the box (for messages, and the host node a user
 * namespace binds: runc's rule, the same path on the host). */
static void
make_device (const native_init_args *a, int dirfd, const char *name, const char *path, mode_t type,
             mode_t mode, unsigned major, unsigned minor, uid_t uid, gid_t gid)
{
  if (!a->userns)
    {
      if (mknodat (dirfd, name, type | mode, makedev (major, minor)) < 0 && errno != EEXIST)
        FAIL_ERRNO (a, "mknod %s", path);
      if (fchmodat (dirfd, name, mode, 0) < 0 || fchownat (dirfd, name, uid, gid, 0) < 0)
        FAIL_ERRNO (a, "chmod %s", path);
      return;
    }
  /* a user namespace may not create device nodes: bind the host's */
  int fd = openat (dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno != EEXIST)
    FAIL_ERRNO (a, "create %s", path);
  if (fd >= 0)
    close (fd);
  int target = openat (dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (target < 0)
    FAIL_ERRNO (a, "open %s", path);
  char target_path[FD_PATH_MAX];
  fd_path (target, target_path);
  if (mount (path, target_path, NULL, MS_BIND, NULL) < 0)
    FAIL_ERRNO (a, "bind %s", path);
  close (target);
}

static bool
config_has_device (const oci_config *c, const char *path)
{
  for (size_t i = 0; i < c->n_devices; i++)
    if (strcmp (c->devices[i].path, path) == 0)
      return true;
  return false;
}

/* The config's devices (linux.devices), anywhere in the box: missing parent directories are
 * made, and whatever non-directory held the path is replaced by the node. */
static void
create_config_devices (const native_init_args *a, int rootfd)
{
  for (size_t i = 0; i < a->config->n_devices; i++)
    {
      const oci_device *d = &a->config->devices[i];
      char parent[4096];
      if (strlen (d->path) >= sizeof parent)
        FAIL (a, BOX_E_INVALID, 0, "device %.64s...: path too long", d->path);
      snprintf (parent, sizeof parent, "%s", d->path);
      char *slash = strrchr (parent, '/');
      const char *name = d->path + (slash - parent) + 1;
      if (!*name || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        FAIL (a, BOX_E_INVALID, 0, "device %s: not a path of a file", d->path);
      slash[slash == parent ? 1 : 0] = '\0';
      int dirfd = open_or_create_in_root (rootfd, parent, false);
      if (dirfd < 0)
        FAIL_ERRNO (a, "device %s: create its directory", d->path);
      struct stat st;
      if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR (st.st_mode)
          && unlinkat (dirfd, name, 0) < 0)
        FAIL_ERRNO (a, "device %s: replace the file there", d->path);
      mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
      make_device (a, dirfd, name, d->path, type, d->file_mode & 07777, (unsigned) d->major,
                   (unsigned) d->minor, d->uid, d->gid);
      close (dirfd);
    }
}

static void
create_devices (const native_init_args *a, int rootfd)
{
  int devfd = openat2_in_root (rootfd, "/dev", O_DIRECTORY);
  if (devfd < 0)
    FAIL_ERRNO (a, "open /dev of the box");
  for (size_t i = 0; i < sizeof default_devices / sizeof default_devices[0]; i++)
    {
      char path[64];
      snprintf (path, sizeof path, "/dev/%s", default_devices[i].name);
      /* a device of the config at a standard path replaces the standard one (runc) */
      if (!config_has_device (a->config, path))
        make_device (a, devfd, default_devices[i].name, path, S_IFCHR, 0666,
                     default_devices[i].major, default_devices[i].minor, 0, 0);
    }
  static const char *const links[][2] = {
    { "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" },
    { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
    { "pts/ptmx", "ptmx" },
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat (links[i][0], devfd, links[i][1]) < 0 && errno != EEXIST)
      FAIL_ERRNO (a, "symlink /dev/%s", links[i][1]);
  /* /dev/core as runc makes it: only where the kernel has a /proc/kcore (the host's /proc,
     still ours before pivot_root) */
  if (access ("/proc/kcore", F_OK) == 0 && symlinkat ("/proc/kcore", devfd, "core") < 0
      && errno != EEXIST)
    FAIL_ERRNO (a, "symlink /dev/core");
  close (devfd);
}

/* ---- console ---------------------------------------------------------------------------- */

static void
send_fd (const native_init_args *a, int fd)
{
  native_message msg = { .kind = NATIVE_MSG_CONSOLE };
  struct iovec iov = { &msg, sizeof msg };
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  memset (&control, 0, sizeof control);
  struct msghdr mh = { .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &fd, sizeof fd);
  ssize_t n;
  do
    n = sendmsg (a->sync_fd, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    FAIL_ERRNO (a, "send the console to the runtime");
}

/* Opens a pty pair in the devpts at dirfd/ptmx_path, sends the master to the parent and
 * returns the slave (O_CLOEXEC: it is dup'ed onto 0-2 before exec). */
static int
open_console (const native_init_args *a, int dirfd, const char *ptmx_path)
{
  int master = openat (dirfd, ptmx_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    FAIL_ERRNO (a, "open %s", ptmx_path);
  int unlock = 0;
  if (ioctl (master, TIOCSPTLCK, &unlock) < 0)
    FAIL_ERRNO (a, "unlock the pty");
  int slave = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    FAIL_ERRNO (a, "open the pty's peer");
  send_fd (a, master);
  close (master);
  return slave;
}

static void
bind_console (const native_init_args *a, int rootfd, int slave)
{
  int target = open_or_create_in_root (rootfd, "/dev/console", true);
  if (target < 0)
    FAIL_ERRNO (a, "create /dev/console");
  char source[FD_PATH_MAX], target_path[FD_PATH_MAX];
  fd_path (slave, source);
  fd_path (target, target_path);
  if (mount (source, target_path, NULL, MS_BIND, NULL) < 0)
    FAIL_ERRNO (a, "bind the console on /dev/console");
  close (target);
}

static void
become_console_owner (const native_init_args *a, int slave)
{
  if (setsid () < 0)
    FAIL_ERRNO (a, "setsid");
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    FAIL_ERRNO (a, "make the pty the controlling terminal");
  for (int i = 0; i < 3; i++)
    if (dup2 (slave, i) < 0)
      FAIL_ERRNO (a, "dup the pty to fd %d", i);
  if (slave > 2)
    close (slave);
}

/* ---- mounts ----------------------------------------------------------------------------- */

static const char *const v1_cgroup_controllers[]
    = { "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids" };

/* Bit i: the host mounts v1_cgroup_controllers[i]. Looked at in the host's /sys/fs/cgroup,
 * before pivot_root: the cgroup mounts may come after it (cgroup_mounts_after_pivot). */
static unsigned
host_v1_cgroup_controllers (void)
{
  static unsigned mask;
  static bool known;
  if (!known)
    {
      for (size_t i = 0; i < sizeof v1_cgroup_controllers / sizeof v1_cgroup_controllers[0]; i++)
        {
          char host[64];
          snprintf (host, sizeof host, "/sys/fs/cgroup/%s", v1_cgroup_controllers[i]);
          if (access (host, F_OK) == 0)
            mask |= 1u << i;
        }
      known = true;
    }
  return mask;
}

/* Waits for the parent's GO: the box's cgroups (and id maps) are in place. */
static void
receive_go (const native_init_args *a)
{
  static bool received;
  if (received)
    return;
  native_message go;
  ssize_t n;
  do
    n = recv (a->sync_fd, &go, sizeof go, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0 || go.kind != NATIVE_MSG_GO)
    _exit (1);
  received = true;
}

/* From here on the init must be in the box's cgroups: after GO, the cgroup namespace (rooted
 * at the cgroup this process is in when it unshares). */
static void
enter_cgroups (const native_init_args *a)
{
  static bool entered;
  if (entered)
    return;
  receive_go (a);
  if (a->unshare_cgroupns && unshare (CLONE_NEWCGROUP) < 0)
    FAIL_ERRNO (a, "unshare the cgroup namespace");
  entered = true;
}

/* The "cgroup" mount: cgroup2 on v2; on v1 and hybrid, a tmpfs with one cgroup mount per
 * controller (the box's cgroup namespace makes each show only the box's subtree). */
static void
mount_cgroup (const native_init_args *a, int rootfd, const oci_mount *m, int target)
{
  char target_path[FD_PATH_MAX];
  fd_path (target, target_path);
  unsigned long flags = m->flags | MS_NOSUID | MS_NOEXEC | MS_NODEV;
  enter_cgroups (a); /* what the box's cgroup namespace shows */
  if (a->cgroup_mode == CGROUP_MODE_V2)
    {
      if (mount ("cgroup", target_path, "cgroup2", flags, NULL) < 0)
        FAIL_ERRNO (a, "mount cgroup2 on %s", m->destination);
      return;
    }
  if (a->userns)
    return; /* v1 hierarchies cannot be mounted from a user namespace: leave it empty */
  if (mount ("tmpfs", target_path, "tmpfs", (flags & ~MS_RDONLY), "mode=755") < 0)
    FAIL_ERRNO (a, "mount tmpfs on %s", m->destination);
  int dirfd = openat2_in_root (rootfd, m->destination, O_DIRECTORY);
  if (dirfd < 0)
    FAIL_ERRNO (a, "open %s", m->destination);
  for (size_t i = 0; i < sizeof v1_cgroup_controllers / sizeof v1_cgroup_controllers[0]; i++)
    {
      const char *c = v1_cgroup_controllers[i];
      if (!(host_v1_cgroup_controllers () & (1u << i)))
        continue;
      if (mkdirat (dirfd, c, 0755) < 0 && errno != EEXIST)
        FAIL_ERRNO (a, "mkdir %s/%s", m->destination, c);
      int sub = openat (dirfd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      char sub_path[FD_PATH_MAX];
      fd_path (sub, sub_path);
      if (sub < 0 || mount ("cgroup", sub_path, "cgroup", flags, c) < 0)
        FAIL_ERRNO (a, "mount the %s cgroup on %s/%s", c, m->destination, c);
      close (sub);
    }
  if (a->cgroup_mode == CGROUP_MODE_HYBRID)
    {
      if (mkdirat (dirfd, "unified", 0755) < 0 && errno != EEXIST)
        FAIL_ERRNO (a, "mkdir %s/unified", m->destination);
      int sub = openat (dirfd, "unified", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      char sub_path[FD_PATH_MAX];
      fd_path (sub, sub_path);
      if (sub < 0 || mount ("cgroup2", sub_path, "cgroup2", flags, NULL) < 0)
        FAIL_ERRNO (a, "mount cgroup2 on %s/unified", m->destination);
      close (sub);
    }
  close (dirfd);
  if (flags & MS_RDONLY)
    {
      int tmpfs = openat2_in_root (rootfd, m->destination, O_PATH);
      char tmpfs_path[FD_PATH_MAX];
      fd_path (tmpfs, tmpfs_path);
      if (tmpfs < 0 || mount (NULL, tmpfs_path, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
        FAIL_ERRNO (a, "remount %s read-only", m->destination);
      close (tmpfs);
    }
}

static void
do_mount (const native_init_args *a, int rootfd, const oci_mount *m)
{
  bool file_target = m->bind && m->source && is_regular_host_file (m->source);
  int target = open_or_create_in_root (rootfd, m->destination, file_target);
  if (target < 0)
    FAIL_ERRNO (a, "create the mount point %s", m->destination);
  char target_path[FD_PATH_MAX];
  fd_path (target, target_path);

  if (str_eq (m->type, "cgroup"))
    mount_cgroup (a, rootfd, m, target);
  else if (m->bind)
    {
      if (mount (m->source, target_path, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
        FAIL_ERRNO (a, "bind %s on %s", m->source ? m->source : "", m->destination);
      unsigned long extra = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
      if (extra)
        {
          /* a bind mount takes flags only on a remount of itself */
          int mounted = openat2_in_root (rootfd, m->destination, O_PATH);
          char mounted_path[FD_PATH_MAX];
          fd_path (mounted, mounted_path);
          unsigned long keep = a->userns ? locked_flags (mounted_path) : 0;
          if (mounted < 0
              || mount (NULL, mounted_path, NULL, MS_REMOUNT | MS_BIND | extra | keep, NULL) < 0)
            FAIL_ERRNO (a, "remount %s with its options", m->destination);
          close (mounted);
        }
    }
  else
    {
      const char *data = m->data && *m->data ? m->data : NULL;
      if (mount (m->source, target_path, m->type, m->flags & ~MS_REMOUNT, data) < 0)
        {
          int saved = errno;
          /* sysfs of a network namespace the user namespace does not own: bind the host's */
          if (str_eq (m->type, "sysfs") && a->userns && (saved == EPERM || saved == EACCES))
            {
              if (mount ("/sys", target_path, NULL, MS_BIND | MS_REC, NULL) == 0)
                goto mounted;
            }
          FAIL (a, 0, saved, "mount %s (%s) on %s", m->source ? m->source : "",
                m->type ? m->type : "", m->destination);
        }
    }
mounted:
  if (m->propagation)
    {
      int mounted = openat2_in_root (rootfd, m->destination, O_PATH);
      char mounted_path[FD_PATH_MAX];
      fd_path (mounted, mounted_path);
      if (mounted < 0 || mount (NULL, mounted_path, NULL, m->propagation, NULL) < 0)
        FAIL_ERRNO (a, "set the propagation of %s", m->destination);
      close (mounted);
    }
  close (target);
}

static void
mask_paths (const native_init_args *a)
{
  for (char **p = a->config->masked_paths; p && *p; p++)
    {
      struct stat st;
      if (lstat (*p, &st) < 0)
        {
          if (errno == ENOENT)
            continue;
          FAIL_ERRNO (a, "stat %s", *p);
        }
      int rc = S_ISDIR (st.st_mode) ? mount ("tmpfs", *p, "tmpfs",
                                             MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0")
                                    : mount ("/dev/null", *p, NULL, MS_BIND, NULL);
      if (rc < 0 && errno != ENOENT)
        FAIL_ERRNO (a, "mask %s", *p);
    }
}

static void
remount_readonly (const native_init_args *a, const char *path, bool recursive)
{
  unsigned long rec = recursive ? MS_REC : 0;
  if (mount (path, path, NULL, MS_BIND | rec, NULL) < 0)
    {
      if (errno == ENOENT)
        return;
      FAIL_ERRNO (a, "bind %s on itself", path);
    }
  if (mount (NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | rec | locked_flags (path), NULL)
      < 0)
    FAIL_ERRNO (a, "remount %s read-only", path);
}

/* Whether path is base or beneath it (trailing slashes of base aside; "/" is above
 * everything). */
static bool
path_at_or_beneath (const char *path, const char *base)
{
  size_t len = strlen (base);
  while (len > 1 && base[len - 1] == '/')
    len--;
  return strncmp (path, base, len) == 0 && (path[len] == '/' || path[len] == '\0' || len == 1);
}

/* Whether mount i, a cgroup mount, comes after the others: while the box's cgroups are
 * being made (setup_before_go) it waits for them, so the init does the rest first, unless a
 * later mount goes beneath it. */
static bool
cgroup_mount_deferred (const native_init_args *a, size_t i)
{
  const oci_config *c = a->config;
  if (!a->setup_before_go || !str_eq (c->mounts[i].type, "cgroup"))
    return false;
  for (size_t j = i + 1; j < c->n_mounts; j++)
    if (path_at_or_beneath (c->mounts[j].destination, c->mounts[i].destination))
      return false;
  return true;
}

/* Whether the deferred cgroup mounts can wait until after pivot_root and the masked and
 * read-only paths: then what the init does while its cgroups are made includes those, and
 * less is left once they are (traced: the init waited 0.3-0.4 ms for them, with the pivot,
 * the old root's detach and 20 mounts still to do). Only where nothing else could differ:
 * the box's /proc is a proc (the mounts find their targets through /proc/self/fd) and no
 * masked or read-only path is at, above or beneath a cgroup mount. */
static bool
cgroup_mounts_after_pivot (const native_init_args *a)
{
  const oci_config *c = a->config;
  bool deferred = false, proc = false;
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      if (str_eq (c->mounts[i].type, "proc") && strcmp (c->mounts[i].destination, "/proc") == 0)
        proc = true;
      if (!cgroup_mount_deferred (a, i))
        continue;
      deferred = true;
      for (char **lists[] = { c->masked_paths, c->readonly_paths }, ***l = lists;
           l < lists + 2; l++)
        for (char **p = *l; p && *p; p++)
          if (path_at_or_beneath (*p, c->mounts[i].destination)
              || path_at_or_beneath (c->mounts[i].destination, *p))
            return false;
    }
  return deferred && proc;
}

static void
setup_rootfs (const native_init_args *a, int *out_console_slave)
{
  const oci_config *c = a->config;
  bool cgroups_last = cgroup_mounts_after_pivot (a);
  if (a->cgroup_mode != CGROUP_MODE_V2)
    host_v1_cgroup_controllers ();
  if (mount (NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    FAIL_ERRNO (a, "make the mounts of the box private");
  /* a bind of the rootfs on itself: pivot_root needs a mount point */
  if (mount (a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    FAIL_ERRNO (a, "bind the root filesystem %s", a->rootfs);
  if (mount (NULL, a->rootfs, NULL, c->rootfs_propagation, NULL) < 0)
    FAIL_ERRNO (a, "set the propagation of the root filesystem");
  int rootfd = open (a->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    FAIL_ERRNO (a, "open the root filesystem %s", a->rootfs);

  bool dev_is_tmpfs = false;
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      if (cgroup_mount_deferred (a, i))
        continue;
      do_mount (a, rootfd, &c->mounts[i]);
      if (strcmp (c->mounts[i].destination, "/dev") == 0)
        dev_is_tmpfs = str_eq (c->mounts[i].type, "tmpfs");
    }
  if (dev_is_tmpfs)
    create_devices (a, rootfd);
  create_config_devices (a, rootfd);
  for (size_t i = 0; i < c->n_mounts && !cgroups_last; i++)
    if (cgroup_mount_deferred (a, i))
      do_mount (a, rootfd, &c->mounts[i]);

  if (a->process->terminal)
    {
      int slave = open_console (a, rootfd, "dev/pts/ptmx");
      bind_console (a, rootfd, slave);
      *out_console_slave = slave;
    }

  if (fchdir (rootfd) < 0)
    FAIL_ERRNO (a, "chdir to the root filesystem");
  /* pivot_root(".", "."): the old root ends up stacked on the new one and is detached */
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    FAIL_ERRNO (a, "pivot_root into %s", a->rootfs);
  if (umount2 (".", MNT_DETACH) < 0)
    FAIL_ERRNO (a, "detach the host's root");
  if (chdir ("/") < 0)
    FAIL_ERRNO (a, "chdir /");

  mask_paths (a);
  for (char **p = c->readonly_paths; p && *p; p++)
    remount_readonly (a, *p, true);
  /* rootfd is the new root now */
  for (size_t i = 0; i < c->n_mounts && cgroups_last; i++)
    if (cgroup_mount_deferred (a, i))
      do_mount (a, rootfd, &c->mounts[i]);
  close (rootfd);
  if (c->root_readonly)
    {
      if (mount (NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags ("/"), NULL) < 0)
        FAIL_ERRNO (a, "remount / read-only");
    }
}

static void
apply_sysctl (const native_init_args *a)
{
  for (char **s = a->config->sysctl; s && *s; s++)
    {
      const char *eq = strchr (*s, '=');
      char path[512];
      int len = snprintf (path, sizeof path, "/proc/sys/%.*s", (int) (eq - *s), *s);
      for (char *p = path + 10; p < path + len; p++)
        if (*p == '.')
          *p = '/';
      int fd = open (path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, eq + 1, strlen (eq + 1)) < 0)
        FAIL_ERRNO (a, "sysctl %s", *s);
      close (fd);
    }
}

/* ---- the process ------------------------------------------------------------------------ */

static const char *
env_get (char **env, const char *name)
{
  size_t len = strlen (name);
  for (char **e = env; e && *e; e++)
    if (strncmp (*e, name, len) == 0 && (*e)[len] == '=')
      return *e + len + 1;
  return NULL;
}

/* Resolves args[0] like execvp, reporting "not found" (127) and "permission denied" (126)
 * as distinct codes the engine maps to docker's exit statuses. */
static void
resolve_executable (const native_init_args *a, char *out, size_t size)
{
  const char *name = a->process->args[0];
  if (strchr (name, '/'))
    {
      snprintf (out, size, "%s", name);
      struct stat st;
      if (stat (out, &st) < 0)
        FAIL (a, BOX_E_NOT_FOUND, 0, "exec: \"%s\": stat %s: no such file or directory", name,
              name);
      if (S_ISDIR (st.st_mode) || access (out, X_OK) < 0)
        FAIL (a, BOX_E_PERMISSION, 0, "exec: \"%s\": permission denied", name);
      return;
    }
  const char *path = env_get (a->process->env, "PATH");
  if (!path)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  bool denied = false;
  while (*path)
    {
      size_t len = strcspn (path, ":");
      snprintf (out, size, "%.*s%s%s", (int) len, path, len ? "/" : "", name);
      struct stat st;
      if (stat (out, &st) == 0 && !S_ISDIR (st.st_mode))
        {
          if (access (out, X_OK) == 0)
            return;
          denied = true;
        }
      path += len;
      if (*path == ':')
        path++;
    }
  if (denied)
    FAIL (a, BOX_E_PERMISSION, 0, "exec: \"%s\": permission denied", name);
  FAIL (a, BOX_E_NOT_FOUND, 0, "exec: \"%s\": executable file not found in $PATH", name);
}

static void
make_cwd (const native_init_args *a)
{
  const oci_process *p = a->process;
  char path[4096];
  snprintf (path, sizeof path, "%s", p->cwd);
  for (char *s = path + 1;; s++)
    {
      if (*s != '/' && *s != '\0')
        continue;
      char saved = *s;
      *s = '\0';
      if (mkdir (path, 0755) == 0)
        {
          if (chown (path, p->uid, p->gid) < 0)
            FAIL_ERRNO (a, "chown the working directory %s", path);
        }
      else if (errno != EEXIST)
        FAIL_ERRNO (a, "create the working directory %s", path);
      *s = saved;
      if (!saved)
        break;
    }
}

static void
apply_rlimits (const native_init_args *a)
{
  for (size_t i = 0; i < a->process->n_rlimits; i++)
    {
      const oci_rlimit *r = &a->process->rlimits[i];
      struct rlimit limit = { r->soft, r->hard };
      if (setrlimit (r->resource, &limit) < 0)
        {
          int saved = errno;
          struct rlimit current = { 0, 0 };
          getrlimit (r->resource, &current);
          if (saved == EPERM)
            FAIL (a, BOX_E_PERMISSION, 0,
                  "ulimit %s=%llu:%llu: the hard limit is above the current hard limit %llu, "
                  "and raising a hard limit needs CAP_SYS_RESOURCE, which the engine does not "
                  "have",
                  spec_rlimit_name (r->resource), (unsigned long long) r->soft,
                  (unsigned long long) r->hard, (unsigned long long) current.rlim_max);
          FAIL (a, 0, saved, "ulimit %s", spec_rlimit_name (r->resource));
        }
    }
}

static void
write_oom_score_adj (const native_init_args *a)
{
  if (!a->process->has_oom_score_adj)
    return;
  char value[16];
  int len = snprintf (value, sizeof value, "%d", a->process->oom_score_adj);
  int fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write (fd, value, (size_t) len) < 0)
    FAIL_ERRNO (a, "set oom_score_adj to %d", a->process->oom_score_adj);
  close (fd);
}

static void
load_seccomp (const native_init_args *a, const seccomp_program *program)
{
  int rc = seccomp_program_load (program);
  if (rc < 0)
    FAIL (a, 0, -rc, "load the seccomp filter");
}

/* The program the parent sends after GO (seccomp_follows), in *out (its filter malloc'ed). */
static void
receive_seccomp (const native_init_args *a, seccomp_program *out)
{
  receive_go (a);
  size_t size = sizeof (native_seccomp_header) + BPF_MAXINSNS * sizeof (struct sock_filter);
  char *buf = malloc (size);
  if (!buf)
    FAIL (a, BOX_E_INTERNAL, ENOMEM, "receive the seccomp filter");
  ssize_t n;
  do
    n = recv (a->sync_fd, buf, size, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    _exit (1); /* the parent is gone: it failed, and reports why */
  native_seccomp_header header;
  memcpy (&header, buf, sizeof header);
  size_t filter_size = (size_t) header.length * sizeof (struct sock_filter);
  if (header.kind != NATIVE_MSG_SECCOMP || header.length == 0 || header.length > BPF_MAXINSNS
      || (size_t) n != sizeof header + filter_size)
    FAIL (a, BOX_E_INTERNAL, 0, "receive the seccomp filter: a malformed message");
  memmove (buf, buf + sizeof header, filter_size);
  out->filter = (struct sock_filter *) buf;
  out->length = header.length;
}

/* User, groups, capabilities, no_new_privs, seccomp: the order that keeps each step
 * possible (setuid needs CAP_SETUID, a filter without no_new_privs needs CAP_SYS_ADMIN). */
static void
drop_privileges (const native_init_args *a)
{
  const oci_process *p = a->process;
  seccomp_program received = { 0 };
  const seccomp_program *seccomp = a->seccomp;
  if (a->seccomp_follows)
    {
      receive_seccomp (a, &received);
      seccomp = &received;
    }
  int failed_cap = -1;
  int rc = caps_drop_bounding (p->cap_bounding, &failed_cap);
  if (rc < 0)
    FAIL (a, 0, -rc, "drop %s from the bounding set", caps_name (failed_cap));
  if (seccomp && !p->no_new_privileges)
    load_seccomp (a, seccomp);
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    FAIL_ERRNO (a, "prctl PR_SET_KEEPCAPS");
  if (setgroups (p->n_additional_gids, p->additional_gids) < 0)
    FAIL_ERRNO (a, "setgroups");
  if (setresgid (p->gid, p->gid, p->gid) < 0)
    FAIL_ERRNO (a, "setgid %u", p->gid);
  if (setresuid (p->uid, p->uid, p->uid) < 0)
    FAIL_ERRNO (a, "setuid %u", p->uid);
  caps_sets sets
      = { p->cap_bounding, p->cap_effective, p->cap_permitted, p->cap_inheritable, p->cap_ambient };
  rc = caps_apply (&sets, &failed_cap);
  if (rc < 0)
    FAIL (a, 0, -rc, "set capabilities%s%s", failed_cap >= 0 ? " (ambient " : "",
          failed_cap >= 0 ? caps_name (failed_cap) : "");
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    FAIL_ERRNO (a, "prctl PR_SET_NO_NEW_PRIVS");
  if (seccomp && p->no_new_privileges)
    load_seccomp (a, seccomp);
}

static void
reset_signals (void)
{
  sigset_t all;
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction (sig, &dfl, NULL);
}

/* Moves the stdio fds onto 0, 1 and 2 (via copies above 2, so that a source already on 0-2
 * is not clobbered). */
static void
setup_stdio (const native_init_args *a)
{
  int copies[3];
  for (int i = 0; i < 3; i++)
    {
      int src = a->stdio[i] >= 0 ? a->stdio[i] : a->devnull_fd;
      copies[i] = fcntl (src, F_DUPFD_CLOEXEC, 3);
      if (copies[i] < 0)
        FAIL_ERRNO (a, "dup stdio fd %d", src);
    }
  for (int i = 0; i < 3; i++)
    {
      if (dup2 (copies[i], i) < 0)
        FAIL_ERRNO (a, "dup2 stdio %d", i);
      close (copies[i]);
    }
}

__attribute__ ((noreturn)) static void
finish_and_exec (const native_init_args *a, int console_slave)
{
  const oci_process *p = a->process;
  write_oom_score_adj (a);
  apply_rlimits (a);
  make_cwd (a);
  if (console_slave >= 0)
    become_console_owner (a, console_slave);
  /* both before the seccomp filter, which may not allow them: nothing the box's creator held
     reaches the box's process (the init's own fds are close-on-exec already), and the CPUs */
  fs_cloexec_from (3);
  if (a->parent_cpus)
    cpus_restore_if_unchanged (a->parent_cpus, a->moved_to_cpus);
  drop_privileges (a);
  if (chdir (p->cwd) < 0)
    FAIL_ERRNO (a, "chdir to the working directory %s", p->cwd);
  char executable[4096];
  resolve_executable (a, executable, sizeof executable);

  if (a->start_fd >= 0)
    {
      native_message ready = { .kind = NATIVE_MSG_READY };
      if (send (a->sync_fd, &ready, sizeof ready, MSG_NOSIGNAL) < 0)
        _exit (1);
      close (a->sync_fd);
      /* wait for start, or for the creator's end: an init orphaned before start would wait
         forever, holding copies of its creator's fds (an attached CLI's exit pipe among
         them). The parent-death signal is not enough: it is lost when the creator dies
         before the prctl runs. */
      struct pollfd waits[2] = { { .fd = a->start_fd, .events = POLLIN },
                                 { .fd = a->monitor_pidfd, .events = POLLIN } };
      int ready_count;
      do
        ready_count = poll (waits, a->monitor_pidfd >= 0 ? 2 : 1, -1);
      while (ready_count < 0 && errno == EINTR);
      if (ready_count < 0 || (waits[1].revents & (POLLIN | POLLHUP | POLLERR)))
        _exit (1);
      char byte;
      ssize_t n;
      do
        n = read (a->start_fd, &byte, 1);
      while (n < 0 && errno == EINTR);
      if (n != 1)
        _exit (1); /* deleted before start */
      if (a->monitor_pidfd >= 0)
        close (a->monitor_pidfd);
      close (a->start_fd);
    }
  reset_signals ();
  umask (022);
  if (a->report_exec)
    {
      /* the creator takes the end of the socket that follows (close-on-exec) as success */
      native_message ready = { .kind = NATIVE_MSG_READY };
      if (send (a->sync_fd, &ready, sizeof ready, MSG_NOSIGNAL) < 0)
        _exit (1);
    }
  execve (executable, p->args, p->env);
  int saved = errno;
  if (a->start_fd < 0) /* exec: the caller still listens */
    FAIL (a, saved == ENOENT ? BOX_E_NOT_FOUND : BOX_E_PERMISSION, saved, "exec %s", executable);
  dprintf (2, "box: exec %s: %s\n", executable, strerror (saved));
  _exit (saved == ENOENT ? 127 : 126);
}

static void
join_namespaces (const native_init_args *a)
{
  /* the user namespace first: the others are joined with its privileges */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < a->config->n_namespaces; i++)
      {
        const oci_namespace *ns = &a->config->namespaces[i];
        if (!ns->path || (pass == 0) != (ns->type == CLONE_NEWUSER))
          continue;
        int fd = open (ns->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
          FAIL_ERRNO (a, "open namespace %s", ns->path);
        if (setns (fd, ns->type) < 0)
          FAIL_ERRNO (a, "join namespace %s", ns->path);
        close (fd);
      }
}

void
native_init_run (const native_init_args *a)
{
  umask (0);
  if (prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    FAIL_ERRNO (a, "prctl PR_SET_PDEATHSIG");
  setup_stdio (a);

  if (!a->setup_before_go)
    receive_go (a);
  if (a->net_ns_fd >= 0)
    {
      if (setns (a->net_ns_fd, CLONE_NEWNET) < 0)
        FAIL_ERRNO (a, "join the box's network namespace");
      close (a->net_ns_fd);
    }
  join_namespaces (a);
  /* in a new user namespace the maps are written now: become its root, so that files this
     process creates belong to a uid the namespace knows */
  if (a->userns && (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0))
    FAIL_ERRNO (a, "become root of the user namespace");
  if (!a->setup_before_go)
    enter_cgroups (a);
  if (a->loopback_up)
    {
      int rc = net_loopback_up ();
      if (rc < 0)
        FAIL (a, BOX_E_IO, -rc, "bring up the box's loopback interface");
    }
  if (a->config->hostname && oci_config_namespace (a->config, CLONE_NEWUTS)
      && sethostname (a->config->hostname, strlen (a->config->hostname)) < 0)
    FAIL_ERRNO (a, "sethostname %s", a->config->hostname);

  int console_slave = -1;
  setup_rootfs (a, &console_slave);
  apply_sysctl (a);
  enter_cgroups (a);
  /* the monitor's death must not kill a box that outlives it by design: the engine's
     reconcile handles orphans; only setup is tied to the runtime's life */
  prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
  finish_and_exec (a, console_slave);
}

void
native_init_exec (const native_init_args *a)
{
  umask (0);
  setup_stdio (a);
  int console_slave = -1;
  if (a->process->terminal)
    console_slave = open_console (a, AT_FDCWD, "/dev/pts/ptmx");
  finish_and_exec (a, console_slave);
}
