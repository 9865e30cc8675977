/* The OCI runtime spec (config.json) of a box: built from a neutral description with docker's
 * defaults, and parsed back into the form the native runtime consumes. The same config.json
 * runs under every backend (native, runc, ...).
 *
 * Building: fill a spec_options (everything optional except args and rootfs), call
 * spec_build() for the JSON object or spec_write_bundle() for <bundle>/config.json.
 * Parsing: spec_parse() gives an oci_config with every list resolved (capabilities as bit
 * masks, namespaces as CLONE_* flags, seccomp as rules ready for the kernel). */
#ifndef BOX_RUNTIME_SPEC_H
#define BOX_RUNTIME_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/cleanup.h"
#include "util/error.h"

/* ---- building ---------------------------------------------------------------------------- */

typedef struct spec_mount {
  const char *destination; /* absolute path inside the box */
  const char *type;        /* "bind", "tmpfs", "proc", ... */
  const char *source;
  const char *const *options; /* NULL-terminated; may be NULL */
} spec_mount;

typedef struct spec_rlimit {
  const char *type; /* "RLIMIT_NOFILE", "nofile", ... */
  uint64_t soft;
  uint64_t hard;
} spec_rlimit;

typedef struct spec_id_map {
  uint32_t container_id;
  uint32_t host_id;
  uint32_t size;
} spec_id_map;

/* A device node made in the box (linux.devices) and allowed by its device cgroup with access
 * (a linux.resources.devices allow rule). */
typedef struct spec_device {
  const char *path; /* absolute path inside the box */
  char type;        /* 'c' or 'b' */
  uint32_t major, minor;
  uint32_t file_mode; /* permission bits of the node; its owner is root */
  const char *access; /* a subset of "rwm" */
} spec_device;

typedef enum spec_seccomp_mode {
  SPEC_SECCOMP_DEFAULT = 0, /* docker's default profile */
  SPEC_SECCOMP_UNCONFINED,  /* no filter */
  SPEC_SECCOMP_PROFILE,     /* seccomp_profile_json: a profile in docker's format */
} spec_seccomp_mode;

typedef struct spec_options {
  const char *const *args; /* NULL-terminated, required */
  const char *const *env;  /* NULL-terminated "KEY=value"; PATH gets docker's default if absent */
  const char *cwd;         /* NULL: "/" */
  uint32_t uid;
  uint32_t gid;
  const uint32_t *additional_gids;
  size_t n_additional_gids;
  const char *hostname; /* NULL: none set */
  bool terminal;
  const char *rootfs; /* root.path: absolute, or relative to the bundle */
  bool readonly_rootfs;

  /* Added after docker's default mounts; a mount at a default's destination replaces it. */
  const spec_mount *mounts;
  size_t n_mounts;

  const char *const *cap_add;  /* NULL-terminated names ("NET_ADMIN", "CAP_SYS_TIME", "ALL") */
  const char *const *cap_drop; /* NULL-terminated names, "ALL" drops everything first */
  bool privileged; /* every capability, no seccomp, no masked/read-only paths, rw /sys */
  bool no_new_privs;
  spec_seccomp_mode seccomp_mode;
  const char *seccomp_profile_json; /* for SPEC_SECCOMP_PROFILE */

  const spec_rlimit *rlimits;
  size_t n_rlimits;

  int64_t memory_bytes;      /* 0: unlimited */
  int64_t memory_swap_bytes; /* memory + swap; 0: unset, -1: unlimited swap */
  double cpus;               /* 0: unlimited; 1.5 = 150000us every 100000us */
  uint64_t cpu_shares;       /* 0: unset */
  int64_t pids_limit;        /* 0: unlimited */

  bool userns; /* a new user namespace with uid_maps / gid_maps */
  const spec_id_map *uid_maps;
  size_t n_uid_maps;
  const spec_id_map *gid_maps;
  size_t n_gid_maps;

  const char *netns_path; /* join this network namespace instead of a new one */
  bool has_oom_score_adj;
  int oom_score_adj;
  const char *cgroups_path;  /* linux.cgroupsPath, e.g. "/box/<id>"; NULL: none (backend's) */
  const char *const *sysctl; /* NULL-terminated "key=value" */

  const spec_device *devices; /* host devices (--device), after the standard ones */
  size_t n_devices;

  /* spec_write_bundle: where the default seccomp profile's translation is kept as text
   * (seccomp_profile_default_oci_text); NULL: translated for every bundle */
  const char *seccomp_cache_dir;
} spec_options;

/* The RLIMIT_* of a ulimit's name ("nofile", "NOFILE", "RLIMIT_NOFILE"); -1 when unknown. */
int spec_rlimit_resource (const char *name);

/* Docker's name of an RLIMIT_* ("nofile"); "?" when unknown. */
const char *spec_rlimit_name (int resource);

/* config.json as a JSON object (OCI runtime spec 1.0.2). */
int spec_build (const spec_options *opts, json_t **out, box_error **err);

/* Writes <bundle_dir>/config.json atomically. */
int spec_write_bundle (const spec_options *opts, const char *bundle_dir, box_error **err);

/* docker's default PATH. */
#define SPEC_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- parsing ----------------------------------------------------------------------------- */

typedef struct oci_mount {
  char *destination;
  char *type;
  char *source;
  unsigned long flags;       /* MS_* from the options */
  unsigned long clear_flags; /* MS_* the options turn off ("rw", "suid", ...) */
  unsigned long propagation; /* MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE, 0 */
  char *data;                /* the remaining options, comma-joined ("mode=755,size=65536k") */
  bool bind;                 /* "bind" or "rbind" option, or type "bind" */
} oci_mount;

typedef struct oci_rlimit {
  int resource; /* RLIMIT_* */
  uint64_t soft;
  uint64_t hard;
} oci_rlimit;

typedef struct oci_namespace {
  int type;   /* CLONE_NEW* */
  char *path; /* join this namespace; NULL: a new one */
} oci_namespace;

typedef struct oci_device {
  char *path;
  char type; /* 'c', 'b', 'u', 'p' */
  int64_t major, minor;
  uint32_t file_mode;
  uint32_t uid, gid;
} oci_device;

typedef enum oci_seccomp_action {
  OCI_SECCOMP_KILL,
  OCI_SECCOMP_KILL_PROCESS,
  OCI_SECCOMP_TRAP,
  OCI_SECCOMP_ERRNO,
  OCI_SECCOMP_TRACE,
  OCI_SECCOMP_ALLOW,
  OCI_SECCOMP_LOG,
} oci_seccomp_action;

typedef enum oci_seccomp_op {
  OCI_SECCOMP_OP_NE,
  OCI_SECCOMP_OP_LT,
  OCI_SECCOMP_OP_LE,
  OCI_SECCOMP_OP_EQ,
  OCI_SECCOMP_OP_GE,
  OCI_SECCOMP_OP_GT,
  OCI_SECCOMP_OP_MASKED_EQ,
} oci_seccomp_op;

typedef struct oci_seccomp_arg {
  unsigned index;
  uint64_t value;
  uint64_t value_two;
  oci_seccomp_op op;
} oci_seccomp_arg;

typedef struct oci_seccomp_rule {
  char **names; /* NULL-terminated */
  oci_seccomp_action action;
  bool has_errno_ret;
  uint32_t errno_ret;
  oci_seccomp_arg *args;
  size_t n_args;
} oci_seccomp_rule;

typedef struct oci_seccomp {
  oci_seccomp_action default_action;
  bool has_default_errno_ret;
  uint32_t default_errno_ret;
  char **architectures; /* NULL-terminated "SCMP_ARCH_X86_64", ... */
  oci_seccomp_rule *rules;
  size_t n_rules;
} oci_seccomp;

typedef struct oci_process {
  bool terminal;
  char **args; /* NULL-terminated, at least one */
  char **env;  /* NULL-terminated */
  char *cwd;
  uint32_t uid, gid;
  gid_t *additional_gids;
  size_t n_additional_gids;
  uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
  bool no_new_privileges;
  oci_rlimit *rlimits;
  size_t n_rlimits;
  bool has_oom_score_adj;
  int oom_score_adj;
} oci_process;

typedef struct oci_resources {
  int64_t memory_limit; /* -1: unset */
  int64_t memory_swap;  /* -1: unset (OCI -1 "unlimited" is kept as INT64_MAX) */
  uint64_t cpu_shares;  /* 0: unset */
  int64_t cpu_quota;    /* -1: unset */
  uint64_t cpu_period;  /* 0: unset */
  int64_t pids_limit;   /* 0: unset; -1 or less: unlimited */
  char *devices_rules;  /* v1 devices cgroup rules, one "a|c|b major:minor rwm" per line, each
                           prefixed with '+' (allow) or '-' (deny); NULL: none */
} oci_resources;

typedef struct oci_config {
  oci_process process;
  char *root_path; /* as written: absolute, or relative to the bundle */
  bool root_readonly;
  char *hostname;
  oci_mount *mounts;
  size_t n_mounts;
  oci_namespace *namespaces;
  size_t n_namespaces;
  spec_id_map *uid_mappings;
  size_t n_uid_mappings;
  spec_id_map *gid_mappings;
  size_t n_gid_mappings;
  char *cgroups_path;
  oci_resources resources;
  oci_device *devices;
  size_t n_devices;
  char **masked_paths;              /* NULL-terminated */
  char **readonly_paths;            /* NULL-terminated */
  char **sysctl;                    /* NULL-terminated "key=value" */
  oci_seccomp *seccomp;             /* NULL: no filter */
  unsigned long rootfs_propagation; /* MS_PRIVATE (default), MS_SLAVE, MS_SHARED */
} oci_config;

/* Parses config.json text. Unknown fields are ignored (the spec allows extensions); known
 * fields with the wrong shape are errors that name the field. */
int spec_parse (const char *text, size_t len, oci_config **out, box_error **err);

/* Parses an OCI "process" object (config.json's process, or runc exec --process). */
int spec_parse_process (const json_t *process, oci_process *out, box_error **err);
void oci_process_clear (oci_process *process);

/* Reads and parses <bundle_dir>/config.json. */
int spec_load_bundle (const char *bundle_dir, oci_config **out, box_error **err);

void oci_config_free (oci_config *config);
DEFINE_POINTER_CLEANUP (oci_config, oci_config_free)

/* The namespace of that CLONE_NEW* type in the config, or NULL. */
const oci_namespace *oci_config_namespace (const oci_config *config, int type);

#endif
