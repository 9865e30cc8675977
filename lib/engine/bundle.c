/* Owns the OCI bundle of a box at start: mounts its rootfs, resolves its user inside it,
 * creates its working directory, and writes boxes/<id>/config.json through the runtime's
 * spec builder from the box's stored config. */
#include "engine/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/devices.h"
#include "engine/lifecycle.h"
#include "engine/rootfs.h"
#include "runtime/user.h"
#include "util/fs.h"
#include "image/image.h"
#include "runtime/seccomp-profile.h"
#include "runtime/spec.h"
#include "util/json.h"
#include "util/strutil.h"

DEFINE_POINTER_CLEANUP (image_for_box, image_for_box_free)

/* Where --init's program appears inside the box (docker uses /sbin/docker-init). */
#define INIT_PATH_IN_BOX "/sbin/box-init"

/* mkdir -p of an absolute path inside the rootfs, never leaving it. */
static int
mkdir_in_root (int rootfs_fd, const char *path, box_error **err)
{
  _cleanup_free_ char *copy = strdup (path);
  if (!copy)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (char *p = copy + 1;; p++)
    {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                              .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
      int fd = (int) syscall (SYS_openat2, rootfs_fd, copy, &how, sizeof how);
      if (fd >= 0)
        close (fd);
      else if (errno == ENOENT)
        {
          /* create the last component inside its (confined) parent */
          char *slash = strrchr (copy, '/');
          *slash = '\0';
          struct open_how parent_how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
          _cleanup_close_ int parent = (int) syscall (SYS_openat2, rootfs_fd,
                                                      *copy ? copy : "/", &parent_how,
                                                      sizeof parent_how);
          *slash = '/';
          if (parent < 0)
            return box_err_errno (err, errno, "working directory %s", path);
          if (mkdirat (parent, slash + 1, 0755) < 0 && errno != EEXIST)
            return box_err_errno (err, errno, "create working directory %s", path);
        }
      else
        return box_err_errno (err, errno, "working directory %s", path);
      *p = saved;
      if (saved == '\0' || p[1] == '\0')
        break;
    }
  return 0;
}

/* NULL-terminated copy of a JSON array of strings (borrowing the strings). */
static const char **
string_vector (json_t *array, const char *prepend)
{
  size_t n = json_array_size (array);
  const char **v = calloc (n + 2, sizeof *v);
  if (!v)
    return NULL;
  size_t k = 0;
  if (prepend)
    v[k++] = prepend;
  for (size_t i = 0; i < n; i++)
    {
      const char *s = json_string_value (json_array_get (array, i));
      if (s)
        v[k++] = s;
    }
  return v;
}

static bool
env_has (json_t *env, const char *key)
{
  size_t len = strlen (key), i;
  json_t *item;
  json_array_foreach (env, i, item)
  {
    const char *s = json_string_value (item);
    if (s && strncmp (s, key, len) == 0 && s[len] == '=')
      return true;
  }
  return false;
}

int
engine_box_write_bundle (box_engine *eng, const box_box *box, box_error **err)
{
  _cleanup_json_ json_t *doc = NULL;
  if (engine_box_config (box, &doc, err) < 0)
    return box_err_code (err);
  json_t *config = json_object_get (doc, "Config");
  json_t *host = json_object_get (doc, "HostConfig");
  const char *image_id = json_string_value (json_object_get (doc, "ImageID"));
  if (!json_is_object (config) || !json_is_object (host) || !image_id)
    return box_err (err, BOX_E_INVALID,
                    "box %s was created as a record only (no image config): it cannot start",
                    box->id);

  _cleanup_free_ char *dir = NULL;
  if (engine_box_dir (eng->root, box->id, &dir, err) < 0)
    return box_err_code (err);

  /* the rootfs: the image's layers, resolved again (they may have moved since create) */
  _cleanup_ (image_for_box_freep) image_for_box *image = NULL;
  if (image_resolve_for_box (eng, image_id, &image, err) < 0)
    return box_err_wrap (err, "image of box %s", box->id);
  /* the skeleton goes on top of the image's layers: the runtime's mount points */
  _cleanup_free_ char *skeleton = NULL;
  if (rootfs_skeleton (eng->root, &skeleton, err) < 0)
    return box_err_wrap (err, "start box %s", box->id);
  _cleanup_free_ char **layers = calloc (image->n_layers + 1, sizeof *layers);
  if (!layers)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  memcpy (layers, image->layer_dirs, image->n_layers * sizeof *layers);
  layers[image->n_layers] = skeleton;
  bool auto_remove = json_is_true (json_object_get (host, "AutoRemove"));
  if (rootfs_mount (dir, layers, image->n_layers + 1, auto_remove, err) < 0)
    return box_err_code (err);

  _cleanup_free_ char *rootfs = NULL;
  if (asprintf (&rootfs, "%s/rootfs", dir) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_close_ int rootfs_fd = open (rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfs_fd < 0)
    return box_err_errno (err, errno, "open %s", rootfs);

  user_ids user;
  if (user_resolve (rootfs_fd, json_string_value (json_object_get (config, "User")),
                           &user, err) < 0)
    return box_err_code (err);
  int rc = 0;
  const char *workdir = json_string_value (json_object_get (config, "WorkingDir"));
  if (!workdir || !*workdir)
    workdir = "/";
  if (strcmp (workdir, "/") != 0)
    rc = mkdir_in_root (rootfs_fd, workdir, err);

  /* argv: Path + Args, behind box-init with --init */
  bool use_init = json_is_true (json_object_get (host, "Init"));
  _cleanup_free_ char *init_program = NULL;
  _cleanup_json_ json_t *argv = json_array ();
  if (use_init)
    {
      if (rc >= 0)
        rc = engine_find_helper ("box-init", &init_program, err);
      json_array_append_new (argv, json_string (INIT_PATH_IN_BOX));
      json_array_append_new (argv, json_string ("--"));
    }
  json_array_append (argv, json_object_get (doc, "Path"));
  json_array_extend (argv, json_object_get (doc, "Args"));

  json_t *env = json_object_get (config, "Env");
  _cleanup_free_ char *hostname_env = NULL, *home_env = NULL;
  const char *hostname = json_string_value (json_object_get (config, "Hostname"));
  if (asprintf (&hostname_env, "HOSTNAME=%s", hostname ? hostname : "") < 0
      || asprintf (&home_env, "HOME=%s", user.home ? user.home : "/") < 0)
    rc = rc < 0 ? rc : box_err (err, BOX_E_INTERNAL, "out of memory");
  /* docker sets HOSTNAME always and HOME when the image does not */
  _cleanup_json_ json_t *full_env = json_array ();
  json_array_append_new (full_env, json_string (hostname_env));
  json_array_extend (full_env, env);
  if (!env_has (env, "HOME"))
    json_array_append_new (full_env, json_string (home_env));

  _cleanup_free_ const char **args_v = string_vector (argv, NULL);
  _cleanup_free_ const char **env_v = string_vector (full_env, NULL);
  _cleanup_free_ const char **cap_add_v = string_vector (json_object_get (host, "CapAdd"), NULL);
  _cleanup_free_ const char **cap_drop_v = string_vector (json_object_get (host, "CapDrop"), NULL);
  if (!args_v || !env_v || !cap_add_v || !cap_drop_v)
    rc = rc < 0 ? rc : box_err (err, BOX_E_INTERNAL, "out of memory");

  _cleanup_free_ char *hosts = NULL, *hostname_file = NULL, *resolv = NULL;
  if (asprintf (&hosts, "%s/hosts", dir) < 0 || asprintf (&hostname_file, "%s/hostname", dir) < 0
      || asprintf (&resolv, "%s/resolv.conf", dir) < 0)
    rc = rc < 0 ? rc : box_err (err, BOX_E_INTERNAL, "out of memory");
  static const char *const bind_rw[] = { "rbind", "rprivate", NULL };
  static const char *const bind_ro[] = { "rbind", "rprivate", "ro", NULL };
  spec_mount mounts[4] = {
    { "/etc/hosts", "bind", hosts, bind_rw },
    { "/etc/hostname", "bind", hostname_file, bind_rw },
    { "/etc/resolv.conf", "bind", resolv, bind_rw },
    { INIT_PATH_IN_BOX, "bind", init_program, bind_ro },
  };

  _cleanup_free_ char *cgroups_path = NULL;
  if (asprintf (&cgroups_path, ENGINE_CGROUP_PARENT "/%s", box->id) < 0)
    rc = rc < 0 ? rc : box_err (err, BOX_E_INTERNAL, "out of memory");

  _cleanup_free_ spec_device *devices = NULL;
  size_t n_devices = 0;
  if (rc >= 0 && engine_devices_resolve (json_object_get (host, "Devices"), &devices, &n_devices, err) < 0)
    rc = box_err_wrap (err, "start box %s", box->id);

  _cleanup_free_ char *seccomp_cache = NULL;
  if (asprintf (&seccomp_cache, "%s/" ENGINE_RUNTIME_DIR "/" SECCOMP_CACHE_DIR, eng->root) < 0)
    rc = rc < 0 ? rc : box_err (err, BOX_E_INTERNAL, "out of memory");

  spec_options so = {
    .seccomp_cache_dir = seccomp_cache,
    .cgroups_path = cgroups_path,
    .args = args_v,
    .env = env_v,
    .cwd = workdir,
    .uid = user.uid,
    .gid = user.gid,
    .additional_gids = user.additional_gids,
    .n_additional_gids = user.n_additional_gids,
    .hostname = hostname,
    .terminal = json_is_true (json_object_get (config, "Tty")),
    .rootfs = "rootfs",
    .readonly_rootfs = json_is_true (json_object_get (host, "ReadonlyRootfs")),
    .mounts = mounts,
    .n_mounts = use_init ? 4 : 3,
    .cap_add = cap_add_v,
    .cap_drop = cap_drop_v,
    .privileged = json_is_true (json_object_get (host, "Privileged")),
    .memory_bytes = json_integer_value (json_object_get (host, "Memory")),
    .cpus = (double) json_integer_value (json_object_get (host, "NanoCpus")) / 1e9,
    .cpu_shares = (uint64_t) json_integer_value (json_object_get (host, "CpuShares")),
    .pids_limit = json_integer_value (json_object_get (host, "PidsLimit")),
    .devices = devices,
    .n_devices = n_devices,
  };

  /* --security-opt */
  _cleanup_free_ char *seccomp_profile = NULL;
  size_t i;
  json_t *item;
  json_array_foreach (json_object_get (host, "SecurityOpt"), i, item)
  {
    const char *o = json_string_value (item);
    if (!o || rc < 0)
      continue;
    if (str_has_prefix (o, "no-new-privileges"))
      so.no_new_privs = !strstr (o, "false");
    else if (str_has_prefix (o, "seccomp=") || str_has_prefix (o, "seccomp:"))
      {
        const char *value = o + strlen ("seccomp=");
        if (strcmp (value, "unconfined") == 0)
          so.seccomp_mode = SPEC_SECCOMP_UNCONFINED;
        else
          {
            free (seccomp_profile);
            seccomp_profile = NULL;
            if (fs_read_file (AT_FDCWD, value, &seccomp_profile, NULL, err) < 0)
              rc = box_err_wrap (err, "seccomp profile");
            so.seccomp_mode = SPEC_SECCOMP_PROFILE;
            so.seccomp_profile_json = seccomp_profile;
          }
      }
  }

  size_t n_ulimits = json_array_size (json_object_get (host, "Ulimits"));
  _cleanup_free_ spec_rlimit *rlimits = calloc (n_ulimits + 1, sizeof *rlimits);
  json_array_foreach (json_object_get (host, "Ulimits"), i, item)
  {
    rlimits[i].type = json_string_value (json_object_get (item, "Name"));
    rlimits[i].soft = (uint64_t) json_integer_value (json_object_get (item, "Soft"));
    rlimits[i].hard = (uint64_t) json_integer_value (json_object_get (item, "Hard"));
  }
  so.rlimits = rlimits;
  so.n_rlimits = n_ulimits;

  if (rc >= 0 && spec_write_bundle (&so, dir, err) < 0)
    rc = box_err_wrap (err, "write the bundle of box %s", box->id);
  user_ids_clear (&user);
  return rc < 0 ? rc : 0;
}
