/* Owns config.json: building it from spec_options with docker's defaults (capabilities,
 * mounts, masked and read-only paths, device rules, seccomp profile) and parsing it into an
 * oci_config. */
#include "runtime/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "linux/caps.h"
#include "runtime/seccomp-profile.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* ---- docker's defaults ------------------------------------------------------------------- */

typedef struct default_mount {
  const char *destination, *type, *source;
  const char *options[8];
} default_mount;

static const default_mount default_mounts[] = {
  { "/proc", "proc", "proc", { "nosuid", "noexec", "nodev" } },
  { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
  { "/dev/pts",
    "devpts",
    "devpts",
    { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
  { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro" } },
  { "/sys/fs/cgroup", "cgroup", "cgroup", { "ro", "nosuid", "noexec", "nodev" } },
  { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
  { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
};

static const char *const default_masked_paths[] = {
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
  NULL,
};

static const char *const default_readonly_paths[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* The device cgroup rules docker gives an unprivileged container: deny everything, allow
 * mknod of any node, and read/write of the standard devices, ptys and tun. */
typedef struct device_rule {
  bool allow;
  const char *type;
  int64_t major, minor; /* -1: any */
  const char *access;
} device_rule;

static const device_rule default_device_rules[] = {
  { false, "a", -1, -1, "rwm" }, { true, "c", -1, -1, "m" },    { true, "b", -1, -1, "m" },
  { true, "c", 1, 3, "rwm" },    { true, "c", 1, 8, "rwm" },    { true, "c", 1, 7, "rwm" },
  { true, "c", 5, 0, "rwm" },    { true, "c", 1, 5, "rwm" },    { true, "c", 1, 9, "rwm" },
  { true, "c", 5, 1, "rwm" },    { true, "c", 136, -1, "rwm" }, { true, "c", 5, 2, "rwm" },
  { true, "c", 10, 200, "rwm" },
};

#define CPU_PERIOD_US 100000

typedef struct rlimit_name {
  const char *name;   /* the OCI spec's */
  const char *docker; /* docker's --ulimit name */
  int resource;
} rlimit_name;

static const rlimit_name rlimit_names[] = {
  { "RLIMIT_AS", "as", RLIMIT_AS },
  { "RLIMIT_CORE", "core", RLIMIT_CORE },
  { "RLIMIT_CPU", "cpu", RLIMIT_CPU },
  { "RLIMIT_DATA", "data", RLIMIT_DATA },
  { "RLIMIT_FSIZE", "fsize", RLIMIT_FSIZE },
  { "RLIMIT_LOCKS", "locks", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", "memlock", RLIMIT_MEMLOCK },
  { "RLIMIT_MSGQUEUE", "msgqueue", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", "nice", RLIMIT_NICE },
  { "RLIMIT_NOFILE", "nofile", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", "nproc", RLIMIT_NPROC },
  { "RLIMIT_RSS", "rss", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", "rtprio", RLIMIT_RTPRIO },
  { "RLIMIT_RTTIME", "rttime", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", "sigpending", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", "stack", RLIMIT_STACK },
};

/* RLIMIT_NOFILE for "RLIMIT_NOFILE", "nofile" or "NOFILE"; NULL when unknown. */
static const rlimit_name *
rlimit_lookup (const char *type)
{
  const char *bare = strncasecmp (type, "RLIMIT_", 7) == 0 ? type + 7 : type;
  for (size_t i = 0; i < ARRAY_SIZE (rlimit_names); i++)
    if (strcasecmp (bare, rlimit_names[i].name + 7) == 0)
      return &rlimit_names[i];
  return NULL;
}

int
spec_rlimit_resource (const char *name)
{
  const rlimit_name *found = rlimit_lookup (name);
  return found ? found->resource : -1;
}

const char *
spec_rlimit_name (int resource)
{
  for (size_t i = 0; i < ARRAY_SIZE (rlimit_names); i++)
    if (rlimit_names[i].resource == resource)
      return rlimit_names[i].docker;
  return "?";
}

/* ---- building ---------------------------------------------------------------------------- */

#define OOM() box_err (err, BOX_E_INTERNAL, "out of memory")

static json_t *
strv_to_json (const char *const *v)
{
  json_t *array = json_array ();
  for (; array && v && *v; v++)
    if (json_array_append_new (array, json_string (*v)) < 0)
      {
        json_decref (array);
        return NULL;
      }
  return array;
}

static json_t *
caps_to_json (uint64_t caps)
{
  json_t *array = json_array ();
  for (int cap = 0; array && cap <= CAPS_LAST; cap++)
    if (caps & (UINT64_C (1) << cap))
      json_array_append_new (array, json_string (caps_name (cap)));
  return array;
}

static bool
strv_has_all (const char *const *v)
{
  for (; v && *v; v++)
    if (caps_name_is_all (*v))
      return true;
  return false;
}

/* Every capability this process may still hand out: "all" for a privileged box means these
 * (as with docker), not capabilities the host took away from the engine (CAP_SYS_RESOURCE is
 * missing on some machines, and asking for it fails the start). */
static uint64_t
caps_all_available (void)
{
  uint64_t caps = 0;
  for (int cap = 0; cap <= CAPS_LAST; cap++)
    if (prctl (PR_CAPBSET_READ, (unsigned long) cap, 0, 0, 0) == 1)
      caps |= UINT64_C (1) << cap;
  return caps & caps_all ();
}

static int
compute_caps (const spec_options *opts, uint64_t *out, box_error **err)
{
  if (opts->privileged)
    {
      *out = caps_all_available ();
      return 0;
    }
  uint64_t caps = caps_docker_default ();
  if (strv_has_all (opts->cap_drop))
    caps = 0;
  for (const char *const *p = opts->cap_drop; p && *p; p++)
    {
      if (caps_name_is_all (*p))
        continue;
      int cap = caps_from_name (*p);
      if (cap < 0)
        return box_err (err, BOX_E_INVALID, "unknown capability to drop: \"%s\"", *p);
      caps &= ~(UINT64_C (1) << cap);
    }
  if (strv_has_all (opts->cap_add))
    caps = caps_all_available ();
  for (const char *const *p = opts->cap_add; p && *p; p++)
    {
      if (caps_name_is_all (*p))
        continue;
      int cap = caps_from_name (*p);
      if (cap < 0)
        return box_err (err, BOX_E_INVALID, "unknown capability to add: \"%s\"", *p);
      caps |= UINT64_C (1) << cap;
    }
  *out = caps;
  return 0;
}

static json_t *
mount_json (const char *destination, const char *type, const char *source,
            const char *const *options)
{
  json_t *m = json_pack ("{s:s, s:s, s:s}", "destination", destination, "type",
                         type ? type : "none", "source", source ? source : "none");
  if (m && options && *options)
    json_object_set_new (m, "options", strv_to_json (options));
  return m;
}

static bool
user_mount_covers (const spec_options *opts, const char *destination)
{
  for (size_t i = 0; i < opts->n_mounts; i++)
    if (str_eq (opts->mounts[i].destination, destination))
      return true;
  return false;
}

static int
build_mounts (const spec_options *opts, json_t *root, box_error **err)
{
  json_t *mounts = json_array ();
  if (!mounts || json_object_set_new (root, "mounts", mounts) < 0)
    return OOM ();
  for (size_t i = 0; i < ARRAY_SIZE (default_mounts); i++)
    {
      const default_mount *d = &default_mounts[i];
      if (user_mount_covers (opts, d->destination))
        continue;
      const char *privileged_sys[] = { "nosuid", "noexec", "nodev", "rw", NULL };
      const char *const *options = d->options;
      if (opts->privileged && strcmp (d->destination, "/sys") == 0)
        options = privileged_sys;
      /* mqueue and sysfs belong to the namespaces a user namespace cannot own the host's
         side of; runc and docker use the same defaults with userns, so keep them */
      if (json_array_append_new (mounts, mount_json (d->destination, d->type, d->source, options))
          < 0)
        return OOM ();
    }
  for (size_t i = 0; i < opts->n_mounts; i++)
    {
      const spec_mount *m = &opts->mounts[i];
      if (!m->destination || m->destination[0] != '/')
        return box_err (err, BOX_E_INVALID, "mount destination \"%s\" is not an absolute path",
                        m->destination ? m->destination : "");
      if (json_array_append_new (mounts,
                                 mount_json (m->destination, m->type, m->source, m->options))
          < 0)
        return OOM ();
    }
  return 0;
}

static int
build_process (const spec_options *opts, uint64_t caps, json_t *root, box_error **err)
{
  if (!opts->args || !opts->args[0])
    return box_err (err, BOX_E_INVALID, "no command to run");
  bool has_path = false;
  for (const char *const *e = opts->env; e && *e; e++)
    {
      if (!strchr (*e, '='))
        return box_err (err, BOX_E_INVALID, "environment entry \"%s\" has no '='", *e);
      has_path |= str_has_prefix (*e, "PATH=");
    }
  json_t *env = strv_to_json (opts->env);
  if (env && !has_path)
    json_array_insert_new (env, 0, json_string (SPEC_DEFAULT_PATH));

  json_t *gids = json_array ();
  for (size_t i = 0; gids && i < opts->n_additional_gids; i++)
    json_array_append_new (gids, json_integer (opts->additional_gids[i]));

  json_t *process = json_pack (
      "{s:b, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:{s:o, s:o, s:o, s:[], s:[]}, s:b}", "terminal",
      opts->terminal, "user", "uid", (json_int_t) opts->uid, "gid", (json_int_t) opts->gid,
      "additionalGids", gids, "args", strv_to_json (opts->args), "env", env, "cwd",
      opts->cwd && *opts->cwd ? opts->cwd : "/", "capabilities", "bounding", caps_to_json (caps),
      "effective", caps_to_json (caps), "permitted", caps_to_json (caps), "inheritable", "ambient",
      "noNewPrivileges", opts->no_new_privs);
  if (!process || json_object_set_new (root, "process", process) < 0)
    return OOM ();
  if (opts->cwd && *opts->cwd && opts->cwd[0] != '/')
    return box_err (err, BOX_E_INVALID, "working directory \"%s\" is not an absolute path",
                    opts->cwd);

  if (opts->n_rlimits > 0)
    {
      json_t *rlimits = json_array ();
      json_object_set_new (process, "rlimits", rlimits);
      for (size_t i = 0; i < opts->n_rlimits; i++)
        {
          const spec_rlimit *r = &opts->rlimits[i];
          const rlimit_name *name = r->type ? rlimit_lookup (r->type) : NULL;
          if (!name)
            return box_err (err, BOX_E_INVALID, "unknown ulimit \"%s\"", r->type ? r->type : "");
          if (r->soft > r->hard)
            return box_err (err, BOX_E_INVALID,
                            "ulimit %s: soft limit %llu is above the hard limit %llu", r->type,
                            (unsigned long long) r->soft, (unsigned long long) r->hard);
          if (json_array_append_new (rlimits,
                                     json_pack ("{s:s, s:I, s:I}", "type", name->name, "hard",
                                                (json_int_t) r->hard, "soft", (json_int_t) r->soft))
              < 0)
            return OOM ();
        }
    }
  if (opts->has_oom_score_adj)
    json_object_set_new (process, "oomScoreAdj", json_integer (opts->oom_score_adj));
  return 0;
}

static int
build_resources (const spec_options *opts, json_t *linux_obj, box_error **err)
{
  json_t *resources = json_object ();
  json_t *devices = json_array ();
  if (!resources || !devices || json_object_set_new (linux_obj, "resources", resources) < 0)
    {
      json_decref (devices);
      return OOM ();
    }
  json_object_set_new (resources, "devices", devices);
  if (opts->privileged)
    json_array_append_new (devices, json_pack ("{s:b, s:s}", "allow", true, "access", "rwm"));
  else
    for (size_t i = 0; i < ARRAY_SIZE (default_device_rules); i++)
      {
        const device_rule *r = &default_device_rules[i];
        json_t *rule = json_pack ("{s:b, s:s, s:s}", "allow", r->allow, "type", r->type, "access",
                                  r->access);
        if (rule && r->major >= 0)
          json_object_set_new (rule, "major", json_integer (r->major));
        if (rule && r->minor >= 0)
          json_object_set_new (rule, "minor", json_integer (r->minor));
        if (json_array_append_new (devices, rule) < 0)
          return OOM ();
      }
  /* each --device node: allowed after the defaults (a later rule wins), also when privileged
     (the allow-all rule already covers it, as docker writes it anyway) */
  for (size_t i = 0; i < opts->n_devices; i++)
    {
      const spec_device *d = &opts->devices[i];
      char type[2] = { d->type, '\0' };
      if (json_array_append_new (devices, json_pack ("{s:b, s:s, s:I, s:I, s:s}", "allow", true,
                                                     "type", type, "major", (json_int_t) d->major,
                                                     "minor", (json_int_t) d->minor, "access",
                                                     d->access))
          < 0)
        return OOM ();
    }

  if (opts->memory_bytes < 0 || opts->pids_limit < 0 || opts->cpus < 0 || isnan (opts->cpus))
    return box_err (err, BOX_E_INVALID, "negative resource limit");
  if (opts->memory_bytes > 0 || opts->memory_swap_bytes != 0)
    {
      json_t *memory = json_object ();
      json_object_set_new (resources, "memory", memory);
      if (opts->memory_bytes > 0)
        json_object_set_new (memory, "limit", json_integer (opts->memory_bytes));
      if (opts->memory_swap_bytes != 0)
        {
          if (opts->memory_swap_bytes > 0 && opts->memory_swap_bytes < opts->memory_bytes)
            return box_err (err, BOX_E_INVALID,
                            "memory+swap limit %lld is below the memory limit %lld",
                            (long long) opts->memory_swap_bytes, (long long) opts->memory_bytes);
          json_object_set_new (memory, "swap", json_integer (opts->memory_swap_bytes));
        }
    }
  if (opts->cpus > 0 || opts->cpu_shares > 0)
    {
      json_t *cpu = json_object ();
      json_object_set_new (resources, "cpu", cpu);
      if (opts->cpus > 0)
        {
          double quota = opts->cpus * CPU_PERIOD_US;
          if (quota < 1000 || quota > (double) INT64_MAX / 2)
            return box_err (err, BOX_E_INVALID, "--cpus %.3f is out of range (min 0.01)",
                            opts->cpus);
          json_object_set_new (cpu, "quota", json_integer ((json_int_t) (quota + 0.5)));
          json_object_set_new (cpu, "period", json_integer (CPU_PERIOD_US));
        }
      if (opts->cpu_shares > 0)
        json_object_set_new (cpu, "shares", json_integer ((json_int_t) opts->cpu_shares));
    }
  if (opts->pids_limit > 0)
    json_object_set_new (resources, "pids",
                         json_pack ("{s:I}", "limit", (json_int_t) opts->pids_limit));
  return 0;
}

/* linux.devices: the nodes the runtime creates in the box, owned by root */
static int
build_devices (const spec_options *opts, json_t *linux_obj, box_error **err)
{
  if (opts->n_devices == 0)
    return 0;
  json_t *devices = json_array ();
  if (!devices || json_object_set_new (linux_obj, "devices", devices) < 0)
    return OOM ();
  for (size_t i = 0; i < opts->n_devices; i++)
    {
      const spec_device *d = &opts->devices[i];
      if (!d->path || d->path[0] != '/' || (d->type != 'c' && d->type != 'b') || !d->access
          || !*d->access || strspn (d->access, "rwm") != strlen (d->access))
        return box_err (err, BOX_E_INVALID, "device %s: bad path, type or access",
                        d->path ? d->path : "(null)");
      char type[2] = { d->type, '\0' };
      if (json_array_append_new (
              devices, json_pack ("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path", d->path, "type",
                                  type, "major", (json_int_t) d->major, "minor",
                                  (json_int_t) d->minor, "fileMode",
                                  (json_int_t) (d->file_mode & 07777), "uid", (json_int_t) 0,
                                  "gid", (json_int_t) 0))
          < 0)
        return OOM ();
    }
  return 0;
}

static json_t *
id_maps_json (const spec_id_map *maps, size_t n)
{
  json_t *array = json_array ();
  for (size_t i = 0; array && i < n; i++)
    json_array_append_new (array, json_pack ("{s:I, s:I, s:I}", "containerID",
                                             (json_int_t) maps[i].container_id, "hostID",
                                             (json_int_t) maps[i].host_id, "size",
                                             (json_int_t) maps[i].size));
  return array;
}

static int
build_linux (const spec_options *opts, uint64_t caps, json_t *root, box_error **err)
{
  json_t *linux_obj = json_object ();
  if (!linux_obj || json_object_set_new (root, "linux", linux_obj) < 0)
    return OOM ();
  json_t *namespaces = json_pack ("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type",
                                  "ipc", "type", "uts", "type", "mount", "type", "cgroup");
  if (!namespaces)
    return OOM ();
  json_object_set_new (linux_obj, "namespaces", namespaces);
  json_t *net = json_pack ("{s:s}", "type", "network");
  if (net && opts->netns_path)
    json_object_set_new (net, "path", json_string (opts->netns_path));
  json_array_append_new (namespaces, net);
  if (opts->userns)
    {
      if (opts->n_uid_maps == 0 || opts->n_gid_maps == 0)
        return box_err (err, BOX_E_INVALID, "a user namespace needs uid and gid mappings");
      json_array_append_new (namespaces, json_pack ("{s:s}", "type", "user"));
      json_object_set_new (linux_obj, "uidMappings",
                           id_maps_json (opts->uid_maps, opts->n_uid_maps));
      json_object_set_new (linux_obj, "gidMappings",
                           id_maps_json (opts->gid_maps, opts->n_gid_maps));
    }
  if (build_devices (opts, linux_obj, err) < 0 || build_resources (opts, linux_obj, err) < 0)
    return box_err_code (err);
  if (opts->cgroups_path)
    json_object_set_new (linux_obj, "cgroupsPath", json_string (opts->cgroups_path));
  if (!opts->privileged)
    {
      json_object_set_new (linux_obj, "maskedPaths", strv_to_json (default_masked_paths));
      json_object_set_new (linux_obj, "readonlyPaths", strv_to_json (default_readonly_paths));
    }
  if (opts->sysctl && opts->sysctl[0])
    {
      json_t *sysctl = json_object ();
      json_object_set_new (linux_obj, "sysctl", sysctl);
      for (const char *const *p = opts->sysctl; *p; p++)
        {
          const char *eq = strchr (*p, '=');
          if (!eq || eq == *p)
            return box_err (err, BOX_E_INVALID, "sysctl \"%s\" is not key=value", *p);
          _cleanup_free_ char *key = strndup (*p, (size_t) (eq - *p));
          if (!key)
            return OOM ();
          json_object_set_new (sysctl, key, json_string (eq + 1));
        }
    }

  if (opts->privileged || opts->seccomp_mode == SPEC_SECCOMP_UNCONFINED)
    return 0;
  _cleanup_json_ json_t *profile = NULL;
  if (opts->seccomp_mode == SPEC_SECCOMP_PROFILE)
    {
      if (!opts->seccomp_profile_json)
        return box_err (err, BOX_E_INVALID, "no seccomp profile given");
      if (json_parse_object (opts->seccomp_profile_json, "seccomp profile", &profile, err) < 0)
        return box_err_code (err);
    }
  else
    profile = seccomp_profile_default ();
  if (!profile)
    return OOM ();
  json_t *seccomp = NULL;
  if (seccomp_profile_to_oci (profile, caps, &seccomp, err) < 0)
    return box_err_code (err);
  json_object_set_new (linux_obj, "seccomp", seccomp);
  return 0;
}

int
spec_build (const spec_options *opts, json_t **out, box_error **err)
{
  if (!opts->rootfs || !*opts->rootfs)
    return box_err (err, BOX_E_INVALID, "no root filesystem given");
  uint64_t caps = 0;
  if (compute_caps (opts, &caps, err) < 0)
    return box_err_code (err);
  _cleanup_json_ json_t *root = json_pack ("{s:s, s:{s:s, s:b}}", "ociVersion", "1.0.2", "root",
                                           "path", opts->rootfs, "readonly", opts->readonly_rootfs);
  if (!root)
    return OOM ();
  if (opts->hostname && json_object_set_new (root, "hostname", json_string (opts->hostname)) < 0)
    return OOM ();
  if (build_process (opts, caps, root, err) < 0 || build_mounts (opts, root, err) < 0
      || build_linux (opts, caps, root, err) < 0)
    return box_err_code (err);
  *out = TAKE_PTR (root);
  return 0;
}

/* Whether key is the last member of obj (jansson keeps the order members were set in). */
static bool
last_key_is (json_t *obj, const char *key)
{
  void *it = json_object_iter (obj), *next;
  if (!it)
    return false;
  while ((next = json_object_iter_next (obj, it)))
    it = next;
  return strcmp (json_object_iter_key (it), key) == 0;
}

/* config.json's text with the default seccomp profile's translation read from the cache
 * (seccomp_profile_default_oci_text) instead of made and written out again: the spec without
 * it, with the cached text put in as linux.seccomp, the last member of the last member.
 * NULL (nothing wrong) when the spec's layout is not that one: the caller builds it whole. */
static int
text_with_cached_seccomp (const spec_options *opts, char **out, box_error **err)
{
  *out = NULL;
  spec_options without = *opts;
  without.seccomp_mode = SPEC_SECCOMP_UNCONFINED;
  _cleanup_json_ json_t *config = NULL;
  uint64_t caps = 0;
  if (spec_build (&without, &config, err) < 0 || compute_caps (opts, &caps, err) < 0)
    return box_err_code (err);
  json_t *linux_obj = json_object_get (config, "linux");
  if (!json_is_object (linux_obj) || !last_key_is (config, "linux"))
    return 0;
  _cleanup_free_ char *seccomp = NULL;
  if (seccomp_profile_default_oci_text (caps, opts->seccomp_cache_dir, &seccomp, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *text = json_dumps (config, JSON_COMPACT);
  if (!text)
    return OOM ();
  size_t len = strlen (text);
  if (len < 2 || strcmp (text + len - 2, "}}") != 0)
    return 0;
  const char *comma = json_object_size (linux_obj) ? "," : "";
  text[len - 2] = '\0';
  if (asprintf (out, "%s%s\"seccomp\":%s}}", text, comma, seccomp) < 0)
    {
      *out = NULL;
      return OOM ();
    }
  return 0;
}

int
spec_write_bundle (const spec_options *opts, const char *bundle_dir, box_error **err)
{
  _cleanup_free_ char *text = NULL;
  if (opts->seccomp_cache_dir && !opts->privileged && opts->seccomp_mode == SPEC_SECCOMP_DEFAULT
      && text_with_cached_seccomp (opts, &text, err) < 0)
    return box_err_wrap (err, "bundle %s", bundle_dir);
  if (!text)
    {
      _cleanup_json_ json_t *config = NULL;
      if (spec_build (opts, &config, err) < 0)
        return box_err_wrap (err, "bundle %s", bundle_dir);
      text = json_dumps (config, JSON_COMPACT);
      if (!text)
        return OOM ();
    }
  _cleanup_close_ int dirfd = open (bundle_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return box_err_errno (err, errno, "open bundle %s", bundle_dir);
  /* atomic against crashed processes, without fsyncs: a bundle is written anew at every
   * start, so one torn by a power loss is never used again */
  if (fs_write_file_replace (dirfd, "config.json", text, strlen (text), 0600, err) < 0)
    return box_err_wrap (err, "bundle %s", bundle_dir);
  return 0;
}

/* ---- parsing ----------------------------------------------------------------------------- */

static void
strv_clear (char ***v)
{
  strv_free (*v);
  *v = NULL;
}

static int
get_string (const json_t *obj, const char *key, const char *where, bool required, char **out,
            box_error **err)
{
  const json_t *v = json_object_get (obj, key);
  if (!v || json_is_null (v))
    {
      if (required)
        return box_err (err, BOX_E_INVALID, "%s.%s is missing", where, key);
      return 0;
    }
  if (!json_is_string (v))
    return box_err (err, BOX_E_INVALID, "%s.%s is not a string", where, key);
  free (*out);
  *out = strdup (json_string_value (v));
  return *out ? 0 : OOM ();
}

static int
get_bool (const json_t *obj, const char *key, const char *where, bool *out, box_error **err)
{
  const json_t *v = json_object_get (obj, key);
  if (!v || json_is_null (v))
    return 0;
  if (!json_is_boolean (v))
    return box_err (err, BOX_E_INVALID, "%s.%s is not a boolean", where, key);
  *out = json_is_true (v);
  return 0;
}

static int
get_int (const json_t *obj, const char *key, const char *where, int64_t min, int64_t max,
         bool *present, int64_t *out, box_error **err)
{
  const json_t *v = json_object_get (obj, key);
  if (present)
    *present = false;
  if (!v || json_is_null (v))
    return 0;
  if (!json_is_integer (v))
    return box_err (err, BOX_E_INVALID, "%s.%s is not an integer", where, key);
  json_int_t n = json_integer_value (v);
  if (n < min || n > max)
    return box_err (err, BOX_E_INVALID, "%s.%s = %lld is out of range", where, key, (long long) n);
  *out = n;
  if (present)
    *present = true;
  return 0;
}

/* A JSON array of strings as a NULL-terminated vector (empty vector when absent). */
static int
get_strv (const json_t *obj, const char *key, const char *where, char ***out, box_error **err)
{
  const json_t *v = json_object_get (obj, key);
  if (v && !json_is_null (v) && !json_is_array (v))
    return box_err (err, BOX_E_INVALID, "%s.%s is not an array", where, key);
  size_t n = json_is_array (v) ? json_array_size (v) : 0;
  _cleanup_strv_ char **vec = calloc (n + 1, sizeof *vec);
  if (!vec)
    return OOM ();
  for (size_t i = 0; i < n; i++)
    {
      const json_t *s = json_array_get (v, i);
      if (!json_is_string (s))
        return box_err (err, BOX_E_INVALID, "%s.%s[%zu] is not a string", where, key, i);
      if (!(vec[i] = strdup (json_string_value (s))))
        return OOM ();
    }
  strv_clear (out);
  *out = TAKE_PTR (vec);
  return 0;
}

static int
get_caps (const json_t *obj, const char *key, uint64_t *out, box_error **err)
{
  const json_t *v = json_object_get (obj, key);
  *out = 0;
  if (!v || json_is_null (v))
    return 0;
  if (!json_is_array (v))
    return box_err (err, BOX_E_INVALID, "process.capabilities.%s is not an array", key);
  size_t i;
  const json_t *name;
  json_array_foreach (v, i, name)
  {
    int cap = json_is_string (name) ? caps_from_name (json_string_value (name)) : -1;
    if (cap < 0)
      return box_err (err, BOX_E_INVALID, "process.capabilities.%s[%zu]: unknown capability %s",
                      key, i, json_is_string (name) ? json_string_value (name) : "");
    *out |= UINT64_C (1) << cap;
  }
  return 0;
}

void
oci_process_clear (oci_process *p)
{
  strv_clear (&p->args);
  strv_clear (&p->env);
  free (p->cwd);
  free (p->additional_gids);
  free (p->rlimits);
  memset (p, 0, sizeof *p);
}

int
spec_parse_process (const json_t *process, oci_process *p, box_error **err)
{
  memset (p, 0, sizeof *p);
  if (!json_is_object (process))
    return box_err (err, BOX_E_INVALID, "process is not an object");
  if (get_bool (process, "terminal", "process", &p->terminal, err) < 0
      || get_strv (process, "args", "process", &p->args, err) < 0
      || get_strv (process, "env", "process", &p->env, err) < 0
      || get_string (process, "cwd", "process", true, &p->cwd, err) < 0
      || get_bool (process, "noNewPrivileges", "process", &p->no_new_privileges, err) < 0)
    goto fail;
  if (!p->args[0])
    {
      box_err (err, BOX_E_INVALID, "process.args is empty");
      goto fail;
    }
  if (p->cwd[0] != '/')
    {
      box_err (err, BOX_E_INVALID, "process.cwd \"%s\" is not absolute", p->cwd);
      goto fail;
    }
  const json_t *user = json_object_get (process, "user");
  if (user && !json_is_object (user))
    {
      box_err (err, BOX_E_INVALID, "process.user is not an object");
      goto fail;
    }
  int64_t n = 0;
  if (get_int (user, "uid", "process.user", 0, UINT32_MAX - 1, NULL, &n, err) < 0)
    goto fail;
  p->uid = (uint32_t) n;
  n = 0;
  if (get_int (user, "gid", "process.user", 0, UINT32_MAX - 1, NULL, &n, err) < 0)
    goto fail;
  p->gid = (uint32_t) n;
  const json_t *gids = json_object_get (user, "additionalGids");
  if (json_is_array (gids) && json_array_size (gids) > 0)
    {
      size_t count = json_array_size (gids);
      if (count > 65536)
        {
          box_err (err, BOX_E_INVALID, "process.user.additionalGids: too many groups");
          goto fail;
        }
      if (!(p->additional_gids = calloc (count, sizeof *p->additional_gids)))
        {
          OOM ();
          goto fail;
        }
      for (size_t i = 0; i < count; i++)
        {
          const json_t *g = json_array_get (gids, i);
          if (!json_is_integer (g) || json_integer_value (g) < 0
              || json_integer_value (g) >= UINT32_MAX)
            {
              box_err (err, BOX_E_INVALID, "process.user.additionalGids[%zu] is not a gid", i);
              goto fail;
            }
          p->additional_gids[p->n_additional_gids++] = (gid_t) json_integer_value (g);
        }
    }
  const json_t *caps = json_object_get (process, "capabilities");
  if (caps && !json_is_null (caps))
    {
      if (!json_is_object (caps))
        {
          box_err (err, BOX_E_INVALID, "process.capabilities is not an object");
          goto fail;
        }
      if (get_caps (caps, "bounding", &p->cap_bounding, err) < 0
          || get_caps (caps, "effective", &p->cap_effective, err) < 0
          || get_caps (caps, "permitted", &p->cap_permitted, err) < 0
          || get_caps (caps, "inheritable", &p->cap_inheritable, err) < 0
          || get_caps (caps, "ambient", &p->cap_ambient, err) < 0)
        goto fail;
    }
  const json_t *rlimits = json_object_get (process, "rlimits");
  if (json_is_array (rlimits) && json_array_size (rlimits) > 0)
    {
      size_t count = json_array_size (rlimits);
      if (!(p->rlimits = calloc (count, sizeof *p->rlimits)))
        {
          OOM ();
          goto fail;
        }
      for (size_t i = 0; i < count; i++)
        {
          const json_t *r = json_array_get (rlimits, i);
          const json_t *type = json_object_get (r, "type");
          const rlimit_name *name
              = json_is_string (type) ? rlimit_lookup (json_string_value (type)) : NULL;
          const json_t *soft = json_object_get (r, "soft"), *hard = json_object_get (r, "hard");
          if (!name || !json_is_integer (soft) || !json_is_integer (hard))
            {
              box_err (err, BOX_E_INVALID, "process.rlimits[%zu] is not a valid rlimit", i);
              goto fail;
            }
          /* JSON carries RLIM_INFINITY (2^64-1) as -1 once it passed through a signed int */
          p->rlimits[i].resource = name->resource;
          p->rlimits[i].soft = (uint64_t) json_integer_value (soft);
          p->rlimits[i].hard = (uint64_t) json_integer_value (hard);
          p->n_rlimits++;
        }
    }
  n = 0;
  if (get_int (process, "oomScoreAdj", "process", -1000, 1000, &p->has_oom_score_adj, &n, err) < 0)
    goto fail;
  p->oom_score_adj = (int) n;
  return 0;
fail:
  oci_process_clear (p);
  return box_err_code (err);
}

typedef struct mount_flag {
  const char *name;
  bool clear;
  unsigned long flag;
} mount_flag;

static const mount_flag mount_flags[] = {
  { "ro", false, MS_RDONLY },
  { "rw", true, MS_RDONLY },
  { "nosuid", false, MS_NOSUID },
  { "suid", true, MS_NOSUID },
  { "nodev", false, MS_NODEV },
  { "dev", true, MS_NODEV },
  { "noexec", false, MS_NOEXEC },
  { "exec", true, MS_NOEXEC },
  { "sync", false, MS_SYNCHRONOUS },
  { "async", true, MS_SYNCHRONOUS },
  { "dirsync", false, MS_DIRSYNC },
  { "remount", false, MS_REMOUNT },
  { "mand", false, MS_MANDLOCK },
  { "nomand", true, MS_MANDLOCK },
  { "noatime", false, MS_NOATIME },
  { "atime", true, MS_NOATIME },
  { "nodiratime", false, MS_NODIRATIME },
  { "diratime", true, MS_NODIRATIME },
  { "relatime", false, MS_RELATIME },
  { "norelatime", true, MS_RELATIME },
  { "strictatime", false, MS_STRICTATIME },
  { "nostrictatime", true, MS_STRICTATIME },
  { "bind", false, MS_BIND },
  { "rbind", false, MS_BIND | MS_REC },
};

static const mount_flag propagation_flags[] = {
  { "private", false, MS_PRIVATE },       { "rprivate", false, MS_PRIVATE | MS_REC },
  { "slave", false, MS_SLAVE },           { "rslave", false, MS_SLAVE | MS_REC },
  { "shared", false, MS_SHARED },         { "rshared", false, MS_SHARED | MS_REC },
  { "unbindable", false, MS_UNBINDABLE }, { "runbindable", false, MS_UNBINDABLE | MS_REC },
};

static unsigned long
propagation_from_name (const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE (propagation_flags); i++)
    if (strcmp (name, propagation_flags[i].name) == 0)
      return propagation_flags[i].flag;
  return 0;
}

static int
parse_mount (const json_t *m, size_t index, oci_mount *out, box_error **err)
{
  char where[64];
  snprintf (where, sizeof where, "mounts[%zu]", index);
  if (!json_is_object (m))
    return box_err (err, BOX_E_INVALID, "%s is not an object", where);
  if (get_string (m, "destination", where, true, &out->destination, err) < 0
      || get_string (m, "type", where, false, &out->type, err) < 0
      || get_string (m, "source", where, false, &out->source, err) < 0)
    return box_err_code (err);
  if (out->destination[0] != '/')
    return box_err (err, BOX_E_INVALID, "%s.destination \"%s\" is not absolute", where,
                    out->destination);
  const json_t *options = json_object_get (m, "options");
  if (options && !json_is_null (options) && !json_is_array (options))
    return box_err (err, BOX_E_INVALID, "%s.options is not an array", where);
  size_t data_len = 0;
  size_t i;
  const json_t *o;
  json_array_foreach (options, i, o)
  {
    if (!json_is_string (o))
      return box_err (err, BOX_E_INVALID, "%s.options[%zu] is not a string", where, i);
    data_len += strlen (json_string_value (o)) + 1;
  }
  if (!(out->data = calloc (1, data_len + 1)))
    return OOM ();
  json_array_foreach (options, i, o)
  {
    const char *opt = json_string_value (o);
    bool known = false;
    for (size_t f = 0; f < ARRAY_SIZE (mount_flags) && !known; f++)
      if (strcmp (opt, mount_flags[f].name) == 0)
        {
          known = true;
          if (mount_flags[f].clear)
            {
              out->flags &= ~mount_flags[f].flag;
              out->clear_flags |= mount_flags[f].flag;
            }
          else
            out->flags |= mount_flags[f].flag;
          if (mount_flags[f].flag & MS_BIND)
            out->bind = true;
        }
    unsigned long propagation = known ? 0 : propagation_from_name (opt);
    if (propagation)
      {
        out->propagation = propagation;
        known = true;
      }
    if (!known)
      {
        if (out->data[0])
          strcat (out->data, ",");
        strcat (out->data, opt);
      }
  }
  if (str_eq (out->type, "bind"))
    {
      out->bind = true;
      out->flags |= MS_BIND;
    }
  return 0;
}

static int
parse_id_maps (const json_t *linux_obj, const char *key, spec_id_map **out, size_t *n_out,
               box_error **err)
{
  const json_t *maps = json_object_get (linux_obj, key);
  if (!maps || json_is_null (maps))
    return 0;
  if (!json_is_array (maps))
    return box_err (err, BOX_E_INVALID, "linux.%s is not an array", key);
  size_t n = json_array_size (maps);
  if (n == 0)
    return 0;
  if (n > 340) /* the kernel's limit on lines in uid_map */
    return box_err (err, BOX_E_INVALID, "linux.%s: too many mappings", key);
  if (!(*out = calloc (n, sizeof **out)))
    return OOM ();
  for (size_t i = 0; i < n; i++)
    {
      const json_t *m = json_array_get (maps, i);
      int64_t c = -1, h = -1, s = -1;
      char where[64];
      snprintf (where, sizeof where, "linux.%s[%zu]", key, i);
      if (!json_is_object (m) || get_int (m, "containerID", where, 0, UINT32_MAX, NULL, &c, err) < 0
          || get_int (m, "hostID", where, 0, UINT32_MAX, NULL, &h, err) < 0
          || get_int (m, "size", where, 1, UINT32_MAX, NULL, &s, err) < 0)
        return box_err (err, BOX_E_INVALID, "%s is not a valid mapping", where);
      if (c < 0 || h < 0 || s < 0)
        return box_err (err, BOX_E_INVALID, "%s is incomplete", where);
      (*out)[i] = (spec_id_map){ (uint32_t) c, (uint32_t) h, (uint32_t) s };
      (*n_out)++;
    }
  return 0;
}

typedef struct namespace_name {
  const char *name;
  int type;
} namespace_name;

static const namespace_name namespace_names[] = {
  { "pid", CLONE_NEWPID },       { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
  { "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },     { "user", CLONE_NEWUSER },
  { "cgroup", CLONE_NEWCGROUP },
};

static int
parse_namespaces (const json_t *linux_obj, oci_config *c, box_error **err)
{
  const json_t *list = json_object_get (linux_obj, "namespaces");
  if (!list || json_is_null (list))
    return 0;
  if (!json_is_array (list))
    return box_err (err, BOX_E_INVALID, "linux.namespaces is not an array");
  size_t n = json_array_size (list);
  if (n == 0)
    return 0;
  if (!(c->namespaces = calloc (n, sizeof *c->namespaces)))
    return OOM ();
  for (size_t i = 0; i < n; i++)
    {
      const json_t *ns = json_array_get (list, i);
      const json_t *type = json_object_get (ns, "type");
      if (!json_is_string (type))
        return box_err (err, BOX_E_INVALID, "linux.namespaces[%zu].type is missing", i);
      int t = 0;
      for (size_t k = 0; k < ARRAY_SIZE (namespace_names); k++)
        if (strcmp (json_string_value (type), namespace_names[k].name) == 0)
          t = namespace_names[k].type;
      if (!t)
        return box_err (err, BOX_E_UNSUPPORTED, "linux.namespaces[%zu]: unsupported type \"%s\"", i,
                        json_string_value (type));
      if (oci_config_namespace (c, t))
        return box_err (err, BOX_E_INVALID, "linux.namespaces: \"%s\" appears twice",
                        json_string_value (type));
      c->namespaces[i].type = t;
      c->n_namespaces++;
      char where[64];
      snprintf (where, sizeof where, "linux.namespaces[%zu]", i);
      if (get_string (ns, "path", where, false, &c->namespaces[i].path, err) < 0)
        return box_err_code (err);
    }
  return 0;
}

static int
parse_resources (const json_t *linux_obj, oci_resources *r, box_error **err)
{
  r->memory_limit = -1;
  r->memory_swap = -1;
  r->cpu_quota = -1;
  const json_t *res = json_object_get (linux_obj, "resources");
  if (!res || json_is_null (res))
    return 0;
  if (!json_is_object (res))
    return box_err (err, BOX_E_INVALID, "linux.resources is not an object");
  const json_t *memory = json_object_get (res, "memory");
  if (memory)
    {
      bool present;
      int64_t v;
      if (get_int (memory, "limit", "linux.resources.memory", -1, INT64_MAX, &present, &v, err) < 0)
        return box_err_code (err);
      if (present && v > 0)
        r->memory_limit = v;
      if (get_int (memory, "swap", "linux.resources.memory", -1, INT64_MAX, &present, &v, err) < 0)
        return box_err_code (err);
      if (present)
        r->memory_swap = v == -1 ? INT64_MAX : v;
    }
  const json_t *cpu = json_object_get (res, "cpu");
  if (cpu)
    {
      bool present;
      int64_t v = 0;
      if (get_int (cpu, "shares", "linux.resources.cpu", 0, INT64_MAX, NULL, &v, err) < 0)
        return box_err_code (err);
      r->cpu_shares = (uint64_t) v;
      if (get_int (cpu, "quota", "linux.resources.cpu", -1, INT64_MAX, &present, &v, err) < 0)
        return box_err_code (err);
      if (present && v > 0)
        r->cpu_quota = v;
      v = 0;
      if (get_int (cpu, "period", "linux.resources.cpu", 0, 1000000, NULL, &v, err) < 0)
        return box_err_code (err);
      r->cpu_period = (uint64_t) v;
    }
  const json_t *pids = json_object_get (res, "pids");
  if (pids)
    {
      int64_t v = 0;
      if (get_int (pids, "limit", "linux.resources.pids", INT64_MIN, INT64_MAX, NULL, &v, err) < 0)
        return box_err_code (err);
      r->pids_limit = v;
    }
  const json_t *devices = json_object_get (res, "devices");
  if (json_is_array (devices) && json_array_size (devices) > 0)
    {
      size_t n = json_array_size (devices);
      /* "+a 4294967295:4294967295 rwm\n" is at most 32 bytes */
      if (!(r->devices_rules = calloc (n, 40)))
        return OOM ();
      char *p = r->devices_rules;
      for (size_t i = 0; i < n; i++)
        {
          const json_t *d = json_array_get (devices, i);
          bool allow = false;
          char where[64];
          snprintf (where, sizeof where, "linux.resources.devices[%zu]", i);
          if (!json_is_object (d) || get_bool (d, "allow", where, &allow, err) < 0)
            return box_err (err, BOX_E_INVALID, "%s is not a device rule", where);
          const json_t *type = json_object_get (d, "type");
          const json_t *access = json_object_get (d, "access");
          const char *t = json_is_string (type) ? json_string_value (type) : "a";
          const char *a = json_is_string (access) ? json_string_value (access) : "rwm";
          if (strlen (t) != 1 || !strchr ("acb", t[0]) || strlen (a) > 3
              || strspn (a, "rwm") != strlen (a) || !*a)
            return box_err (err, BOX_E_INVALID, "%s: bad type or access", where);
          int64_t major = -1, minor = -1;
          if (get_int (d, "major", where, -1, UINT32_MAX, NULL, &major, err) < 0
              || get_int (d, "minor", where, -1, UINT32_MAX, NULL, &minor, err) < 0)
            return box_err_code (err);
          char maj[24] = "*", min[24] = "*";
          if (major >= 0)
            snprintf (maj, sizeof maj, "%lld", (long long) major);
          if (minor >= 0)
            snprintf (min, sizeof min, "%lld", (long long) minor);
          p += sprintf (p, "%c%s %s:%s %s\n", allow ? '+' : '-', t, maj, min, a);
        }
    }
  return 0;
}

static int
parse_devices (const json_t *linux_obj, oci_config *c, box_error **err)
{
  const json_t *list = json_object_get (linux_obj, "devices");
  if (!json_is_array (list) || json_array_size (list) == 0)
    return 0;
  size_t n = json_array_size (list);
  if (!(c->devices = calloc (n, sizeof *c->devices)))
    return OOM ();
  for (size_t i = 0; i < n; i++)
    {
      const json_t *d = json_array_get (list, i);
      oci_device *dev = &c->devices[i];
      c->n_devices++;
      char where[64];
      snprintf (where, sizeof where, "linux.devices[%zu]", i);
      _cleanup_free_ char *type = NULL;
      int64_t major = 0, minor = 0, mode = 0666, uid = 0, gid = 0;
      if (!json_is_object (d) || get_string (d, "path", where, true, &dev->path, err) < 0
          || get_string (d, "type", where, true, &type, err) < 0
          || get_int (d, "major", where, 0, UINT32_MAX, NULL, &major, err) < 0
          || get_int (d, "minor", where, 0, UINT32_MAX, NULL, &minor, err) < 0
          || get_int (d, "fileMode", where, 0, 07777, NULL, &mode, err) < 0
          || get_int (d, "uid", where, 0, UINT32_MAX, NULL, &uid, err) < 0
          || get_int (d, "gid", where, 0, UINT32_MAX, NULL, &gid, err) < 0)
        return box_err (err, BOX_E_INVALID, "%s is not a valid device", where);
      if (strlen (type) != 1 || !strchr ("cbup", type[0]) || dev->path[0] != '/')
        return box_err (err, BOX_E_INVALID, "%s: bad type or path", where);
      dev->type = type[0];
      dev->major = major;
      dev->minor = minor;
      dev->file_mode = (uint32_t) mode;
      dev->uid = (uint32_t) uid;
      dev->gid = (uint32_t) gid;
    }
  return 0;
}

typedef struct name_value {
  const char *name;
  int value;
} name_value;

static const name_value seccomp_actions[] = {
  { "SCMP_ACT_KILL", OCI_SECCOMP_KILL },
  { "SCMP_ACT_KILL_THREAD", OCI_SECCOMP_KILL },
  { "SCMP_ACT_KILL_PROCESS", OCI_SECCOMP_KILL_PROCESS },
  { "SCMP_ACT_TRAP", OCI_SECCOMP_TRAP },
  { "SCMP_ACT_ERRNO", OCI_SECCOMP_ERRNO },
  { "SCMP_ACT_TRACE", OCI_SECCOMP_TRACE },
  { "SCMP_ACT_ALLOW", OCI_SECCOMP_ALLOW },
  { "SCMP_ACT_LOG", OCI_SECCOMP_LOG },
};

static const name_value seccomp_ops[] = {
  { "SCMP_CMP_NE", OCI_SECCOMP_OP_NE },
  { "SCMP_CMP_LT", OCI_SECCOMP_OP_LT },
  { "SCMP_CMP_LE", OCI_SECCOMP_OP_LE },
  { "SCMP_CMP_EQ", OCI_SECCOMP_OP_EQ },
  { "SCMP_CMP_GE", OCI_SECCOMP_OP_GE },
  { "SCMP_CMP_GT", OCI_SECCOMP_OP_GT },
  { "SCMP_CMP_MASKED_EQ", OCI_SECCOMP_OP_MASKED_EQ },
};

static int
lookup_name (const name_value *table, size_t n, const json_t *v, int *out)
{
  if (!json_is_string (v))
    return -1;
  for (size_t i = 0; i < n; i++)
    if (strcmp (json_string_value (v), table[i].name) == 0)
      {
        *out = table[i].value;
        return 0;
      }
  return -1;
}

static void
seccomp_free (oci_seccomp *s)
{
  if (!s)
    return;
  strv_free (s->architectures);
  for (size_t i = 0; i < s->n_rules; i++)
    {
      strv_free (s->rules[i].names);
      free (s->rules[i].args);
    }
  free (s->rules);
  free (s);
}

static int
parse_seccomp (const json_t *linux_obj, oci_config *c, box_error **err)
{
  const json_t *sec = json_object_get (linux_obj, "seccomp");
  if (!sec || json_is_null (sec))
    return 0;
  if (!json_is_object (sec))
    return box_err (err, BOX_E_INVALID, "linux.seccomp is not an object");
  oci_seccomp *s = calloc (1, sizeof *s);
  if (!s)
    return OOM ();
  c->seccomp = s;
  int action;
  if (lookup_name (seccomp_actions, ARRAY_SIZE (seccomp_actions),
                   json_object_get (sec, "defaultAction"), &action)
      < 0)
    return box_err (err, BOX_E_INVALID, "linux.seccomp.defaultAction is missing or unknown");
  s->default_action = action;
  int64_t v = 0;
  if (get_int (sec, "defaultErrnoRet", "linux.seccomp", 0, 4095, &s->has_default_errno_ret, &v, err)
      < 0)
    return box_err_code (err);
  s->default_errno_ret = (uint32_t) v;
  if (get_strv (sec, "architectures", "linux.seccomp", &s->architectures, err) < 0)
    return box_err_code (err);
  const json_t *syscalls = json_object_get (sec, "syscalls");
  if (syscalls && !json_is_null (syscalls) && !json_is_array (syscalls))
    return box_err (err, BOX_E_INVALID, "linux.seccomp.syscalls is not an array");
  size_t n = json_is_array (syscalls) ? json_array_size (syscalls) : 0;
  if (n > 0 && !(s->rules = calloc (n, sizeof *s->rules)))
    return OOM ();
  for (size_t i = 0; i < n; i++)
    {
      const json_t *entry = json_array_get (syscalls, i);
      oci_seccomp_rule *rule = &s->rules[i];
      s->n_rules++;
      char where[64];
      snprintf (where, sizeof where, "linux.seccomp.syscalls[%zu]", i);
      if (!json_is_object (entry))
        return box_err (err, BOX_E_INVALID, "%s is not an object", where);
      if (get_strv (entry, "names", where, &rule->names, err) < 0)
        return box_err_code (err);
      if (lookup_name (seccomp_actions, ARRAY_SIZE (seccomp_actions),
                       json_object_get (entry, "action"), &action)
          < 0)
        return box_err (err, BOX_E_INVALID, "%s.action is missing or unknown", where);
      rule->action = action;
      v = 0;
      if (get_int (entry, "errnoRet", where, 0, 4095, &rule->has_errno_ret, &v, err) < 0)
        return box_err_code (err);
      rule->errno_ret = (uint32_t) v;
      const json_t *args = json_object_get (entry, "args");
      if (args && !json_is_null (args) && !json_is_array (args))
        return box_err (err, BOX_E_INVALID, "%s.args is not an array", where);
      size_t n_args = json_is_array (args) ? json_array_size (args) : 0;
      if (n_args > 6)
        return box_err (err, BOX_E_INVALID, "%s.args: a syscall has at most 6 arguments", where);
      if (n_args > 0 && !(rule->args = calloc (n_args, sizeof *rule->args)))
        return OOM ();
      for (size_t k = 0; k < n_args; k++)
        {
          const json_t *a = json_array_get (args, k);
          int64_t index = -1;
          int op;
          char where_arg[96];
          snprintf (where_arg, sizeof where_arg, "%s.args[%zu]", where, k);
          if (!json_is_object (a) || get_int (a, "index", where_arg, 0, 5, NULL, &index, err) < 0
              || index < 0
              || lookup_name (seccomp_ops, ARRAY_SIZE (seccomp_ops), json_object_get (a, "op"), &op)
                     < 0)
            return box_err (err, BOX_E_INVALID, "%s.args[%zu] is not a valid condition", where, k);
          const json_t *value = json_object_get (a, "value");
          const json_t *value_two = json_object_get (a, "valueTwo");
          if (!json_is_integer (value) || (value_two && !json_is_integer (value_two)))
            return box_err (err, BOX_E_INVALID, "%s.args[%zu].value is not an integer", where, k);
          rule->args[k]
              = (oci_seccomp_arg){ (unsigned) index, (uint64_t) json_integer_value (value),
                                   value_two ? (uint64_t) json_integer_value (value_two) : 0,
                                   (oci_seccomp_op) op };
          rule->n_args++;
        }
    }
  return 0;
}

static int
parse_sysctl (const json_t *linux_obj, oci_config *c, box_error **err)
{
  const json_t *sysctl = json_object_get (linux_obj, "sysctl");
  if (!json_is_object (sysctl))
    return 0;
  size_t n = json_object_size (sysctl), i = 0;
  if (!(c->sysctl = calloc (n + 1, sizeof *c->sysctl)))
    return OOM ();
  const char *key;
  const json_t *value;
  json_object_foreach ((json_t *) sysctl, key, value)
  {
    if (!json_is_string (value) || strchr (key, '/') || strstr (key, ".."))
      return box_err (err, BOX_E_INVALID, "linux.sysctl.%s is not a valid setting", key);
    if (asprintf (&c->sysctl[i], "%s=%s", key, json_string_value (value)) < 0)
      {
        c->sysctl[i] = NULL;
        return OOM ();
      }
    i++;
  }
  return 0;
}

static int
parse_config (const json_t *root, oci_config *c, box_error **err)
{
  if (spec_parse_process (json_object_get (root, "process"), &c->process, err) < 0)
    return box_err_code (err);
  const json_t *r = json_object_get (root, "root");
  if (!json_is_object (r))
    return box_err (err, BOX_E_INVALID, "root is missing");
  if (get_string (r, "path", "root", true, &c->root_path, err) < 0
      || get_bool (r, "readonly", "root", &c->root_readonly, err) < 0
      || get_string (root, "hostname", "config", false, &c->hostname, err) < 0)
    return box_err_code (err);
  const json_t *mounts = json_object_get (root, "mounts");
  if (mounts && !json_is_null (mounts) && !json_is_array (mounts))
    return box_err (err, BOX_E_INVALID, "mounts is not an array");
  size_t n = json_is_array (mounts) ? json_array_size (mounts) : 0;
  if (n > 0 && !(c->mounts = calloc (n, sizeof *c->mounts)))
    return OOM ();
  for (size_t i = 0; i < n; i++)
    {
      c->n_mounts++;
      if (parse_mount (json_array_get (mounts, i), i, &c->mounts[i], err) < 0)
        return box_err_code (err);
    }
  const json_t *linux_obj = json_object_get (root, "linux");
  if (linux_obj && !json_is_object (linux_obj))
    return box_err (err, BOX_E_INVALID, "linux is not an object");
  c->rootfs_propagation = MS_PRIVATE | MS_REC;
  if (!linux_obj)
    {
      c->resources.memory_limit = c->resources.memory_swap = c->resources.cpu_quota = -1;
      c->masked_paths = calloc (1, sizeof (char *));
      c->readonly_paths = calloc (1, sizeof (char *));
      return c->masked_paths && c->readonly_paths ? 0 : OOM ();
    }
  _cleanup_free_ char *propagation = NULL;
  if (get_string (linux_obj, "rootfsPropagation", "linux", false, &propagation, err) < 0)
    return box_err_code (err);
  if (propagation)
    {
      c->rootfs_propagation = propagation_from_name (propagation);
      if (!c->rootfs_propagation)
        return box_err (err, BOX_E_INVALID, "linux.rootfsPropagation \"%s\" is unknown",
                        propagation);
    }
  if (parse_namespaces (linux_obj, c, err) < 0
      || parse_id_maps (linux_obj, "uidMappings", &c->uid_mappings, &c->n_uid_mappings, err) < 0
      || parse_id_maps (linux_obj, "gidMappings", &c->gid_mappings, &c->n_gid_mappings, err) < 0
      || get_string (linux_obj, "cgroupsPath", "linux", false, &c->cgroups_path, err) < 0
      || parse_resources (linux_obj, &c->resources, err) < 0
      || parse_devices (linux_obj, c, err) < 0
      || get_strv (linux_obj, "maskedPaths", "linux", &c->masked_paths, err) < 0
      || get_strv (linux_obj, "readonlyPaths", "linux", &c->readonly_paths, err) < 0
      || parse_sysctl (linux_obj, c, err) < 0 || parse_seccomp (linux_obj, c, err) < 0)
    return box_err_code (err);
  if (oci_config_namespace (c, CLONE_NEWUSER) && !oci_config_namespace (c, CLONE_NEWUSER)->path
      && (c->n_uid_mappings == 0 || c->n_gid_mappings == 0))
    return box_err (err, BOX_E_INVALID, "a new user namespace needs uidMappings and gidMappings");
  return 0;
}

int
spec_parse (const char *text, size_t len, oci_config **out, box_error **err)
{
  json_error_t jerr;
  _cleanup_json_ json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return box_err (err, BOX_E_INVALID, "config.json: invalid JSON at line %d column %d: %s",
                    jerr.line, jerr.column, jerr.text);
  if (!json_is_object (root))
    return box_err (err, BOX_E_INVALID, "config.json: expected a JSON object");
  _cleanup_ (oci_config_freep) oci_config *c = calloc (1, sizeof *c);
  if (!c)
    return OOM ();
  if (parse_config (root, c, err) < 0)
    return box_err_wrap (err, "config.json");
  *out = TAKE_PTR (c);
  return 0;
}

int
spec_load_bundle (const char *bundle_dir, oci_config **out, box_error **err)
{
  _cleanup_free_ char *path = NULL;
  if (asprintf (&path, "%s/config.json", bundle_dir) < 0)
    return OOM ();
  _cleanup_free_ char *text = NULL;
  size_t len;
  if (fs_read_file (AT_FDCWD, path, &text, &len, err) < 0)
    return box_err_wrap (err, "bundle %s", bundle_dir);
  if (spec_parse (text, len, out, err) < 0)
    return box_err_wrap (err, "bundle %s", bundle_dir);
  return 0;
}

const oci_namespace *
oci_config_namespace (const oci_config *c, int type)
{
  for (size_t i = 0; i < c->n_namespaces; i++)
    if (c->namespaces[i].type == type)
      return &c->namespaces[i];
  return NULL;
}

void
oci_config_free (oci_config *c)
{
  if (!c)
    return;
  oci_process_clear (&c->process);
  free (c->root_path);
  free (c->hostname);
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      free (c->mounts[i].destination);
      free (c->mounts[i].type);
      free (c->mounts[i].source);
      free (c->mounts[i].data);
    }
  free (c->mounts);
  for (size_t i = 0; i < c->n_namespaces; i++)
    free (c->namespaces[i].path);
  free (c->namespaces);
  free (c->uid_mappings);
  free (c->gid_mappings);
  free (c->cgroups_path);
  free (c->resources.devices_rules);
  for (size_t i = 0; i < c->n_devices; i++)
    free (c->devices[i].path);
  free (c->devices);
  strv_free (c->masked_paths);
  strv_free (c->readonly_paths);
  strv_free (c->sysctl);
  seccomp_free (c->seccomp);
  free (c);
}
