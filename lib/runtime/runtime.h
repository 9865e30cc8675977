/* The neutral runtime contract: how the engine drives an isolation backend. A backend runs
 * OCI bundles (a directory with config.json per the OCI runtime spec and the rootfs it
 * names); nothing here is specific to one backend. Backends that need extra files (a runsc
 * binary, a kernel image) get them from the asset map, verified by sha256 before use.
 *
 * The caller of create() is the box's monitor: it is the subreaper the box's processes are
 * reparented to, so every backend's init process ends up as the monitor's child. */
#ifndef BOX_RUNTIME_RUNTIME_H
#define BOX_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* Named, content-addressed files a backend may need. */
typedef struct runtime_asset {
  const char *name;   /* "runsc", "kernel", ... */
  const char *path;   /* absolute path */
  const char *sha256; /* lowercase hex; the backend verifies before use */
} runtime_asset;

typedef struct runtime_context {
  const char *state_dir; /* per-engine directory the backend may keep state in */
  const runtime_asset *assets;
  size_t n_assets;
  /* The caller's work that may overlap the box's init getting ready (its namespaces,
   * mounts, seccomp): create() and run() call it at most once, once the init exists (its pid
   * given) and before they wait for it. A backend that cannot overlap does not call it; the
   * caller then does the work after create() returns. NULL: nothing to overlap. */
  void (*while_init_prepares) (void *arg, pid_t init_pid);
  void *while_init_prepares_arg;
  /* A new network namespace the caller made ahead, unused: a box whose config asks for a
   * new one may take it (creating one is half a millisecond of a start). A backend that
   * does not take it ignores it; the caller closes it after create(). */
  bool has_prepared_net_ns;
  int prepared_net_ns_fd;
} runtime_context;

/* The stdio the box's process gets: three fds (any may be -1 for /dev/null), or, when the
 * bundle asks for a terminal, the backend creates a pty and hands its master back in
 * *out_console_fd. */
typedef struct runtime_stdio {
  int stdin_fd;
  int stdout_fd;
  int stderr_fd;
} runtime_stdio;

typedef enum runtime_status {
  RUNTIME_STATUS_CREATING,
  RUNTIME_STATUS_CREATED, /* init process exists, user process not yet started */
  RUNTIME_STATUS_RUNNING,
  RUNTIME_STATUS_STOPPED,
} runtime_status;

typedef struct runtime_state {
  runtime_status status;
  pid_t pid; /* host pid of the box's init process, 0 when none */
} runtime_state;

typedef struct runtime_stats {
  uint64_t memory_usage_bytes;
  uint64_t memory_limit_bytes; /* 0 when unlimited */
  uint64_t cpu_usage_ns;
  uint64_t pids_current;
  bool oom_killed; /* the box's cgroup saw an OOM kill */
} runtime_stats;

/* What a stats call reads: all of runtime_stats, or only oom_killed (what a box's end records:
 * one cgroup file instead of up to eight). */
typedef enum runtime_stats_scope {
  RUNTIME_STATS_ALL,
  RUNTIME_STATS_OOM_ONLY,
} runtime_stats_scope;

typedef struct runtime_backend runtime_backend;
struct runtime_backend {
  const char *name;

  /* Creates the box from bundle_dir/config.json; on return its init process exists (pid in
   * *out_pid, a child of the caller or, for runtimes that fork twice, reparented to the
   * caller as subreaper) and waits for start(). The command is resolved at create: a missing
   * executable fails with BOX_E_NOT_FOUND (docker's exit 127), one that cannot be executed
   * with BOX_E_PERMISSION (126). Give the bundle an absolute linux.cgroupsPath ("/box/<id>",
   * the native default) so that every backend puts the box in the same place. */
  int (*create) (const runtime_backend *rt, const runtime_context *ctx, const char *id,
                 const char *bundle_dir, const runtime_stdio *stdio, pid_t *out_pid,
                 int *out_console_fd, box_error **err);
  /* create() and start() in one: the box's process runs as soon as its init is set up
   * (what the caller cannot do in between: set a terminal's size). On return it runs. NULL:
   * the caller calls create() and start(). */
  int (*run) (const runtime_backend *rt, const runtime_context *ctx, const char *id,
              const char *bundle_dir, const runtime_stdio *stdio, pid_t *out_pid,
              int *out_console_fd, box_error **err);
  /* Runs the user process of a created box. */
  int (*start) (const runtime_backend *rt, const runtime_context *ctx, const char *id,
                box_error **err);
  /* Sends signal to the init process (all: to every process of the box). */
  int (*kill) (const runtime_backend *rt, const runtime_context *ctx, const char *id, int signal,
               bool all, box_error **err);
  /* Releases everything the backend holds for the box (cgroups, its own state); force: kill
   * what still runs first. Deleting an unknown id succeeds (idempotent, for reconcile). */
  int (*delete) (const runtime_backend *rt, const runtime_context *ctx, const char *id, bool force,
                 box_error **err);
  int (*state) (const runtime_backend *rt, const runtime_context *ctx, const char *id,
                runtime_state *out, box_error **err);
  /* Runs another process in the box; process_json is an OCI "process" object. */
  int (*exec) (const runtime_backend *rt, const runtime_context *ctx, const char *id,
               const char *process_json, const runtime_stdio *stdio, pid_t *out_pid,
               int *out_console_fd, box_error **err);
  /* Fills *out, at least what scope names (the rest zero), from the box's cgroups, running or
   * exited. */
  int (*stats) (const runtime_backend *rt, const runtime_context *ctx, const char *id,
                runtime_stats_scope scope, runtime_stats *out, box_error **err);
};

/* What a backend's stats reads from the box's cgroup at cgroup_path (absolute, "/box/<id>"):
 * *out as scope names, the rest zero. */
int runtime_stats_from_cgroup (const char *cgroup_path, runtime_stats_scope scope, runtime_stats *out,
                               box_error **err);

/* The backend with that name ("native", "runc", "crun", "runsc", "oci:<path-to-binary>"),
 * or NULL when unknown (or the binary is not installed). NULL or "" name the default,
 * native. */
const runtime_backend *runtime_backend_lookup (const char *name);

#endif
