/* libbox — the box sandbox engine as an embeddable C library.
 *
 * This header is the whole public interface; libbox.so exports nothing else.
 *
 * Conventions:
 *  - every fallible function returns 0 (or a count) on success and a negative box_error_code
 *    on failure, with `box_error **err` as its last parameter (may be NULL); a returned error
 *    belongs to the caller and is released with box_error_free();
 *  - everything the library returns has a matching _free(), and every _free() accepts NULL;
 *  - options structs start with a version field; initialise them with their _INIT macro.
 */
#ifndef BOX_BOX_H
#define BOX_BOX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BOX_BUILDING_LIBRARY)
#define BOX_API __attribute__ ((visibility ("default")))
#else
#define BOX_API
#endif

/* ---------------------------------------------------------------------------------------- */
/* Errors                                                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef enum box_error_code {
  BOX_OK = 0,
  BOX_E_INVALID = -1,     /* invalid argument or malformed input */
  BOX_E_NOT_FOUND = -2,   /* no such box, image, volume, ... */
  BOX_E_CONFLICT = -3,    /* already exists, or the state does not allow the operation */
  BOX_E_AMBIGUOUS = -4,   /* a reference matches more than one object */
  BOX_E_BUSY = -5,        /* in use by something else */
  BOX_E_IO = -6,          /* the filesystem, the network or a subprocess failed */
  BOX_E_UNSUPPORTED = -7, /* not supported on this host or by this backend */
  BOX_E_INTERNAL = -8,    /* a bug, or an invariant of the state directory broken */
  BOX_E_PERMISSION = -9,  /* denied: by the host, or by a registry (authentication) */
} box_error_code;

typedef struct box_error box_error;

BOX_API box_error_code box_error_code_of (const box_error *err);
BOX_API const char *box_error_message (const box_error *err);
BOX_API void box_error_free (box_error *err);

/* The name of a code ("not found"), its HTTP status for the Docker API (404) and its exit
 * status for the CLI (125 for every engine error, as docker does). */
BOX_API const char *box_error_code_name (box_error_code code);
BOX_API int box_error_http_status (box_error_code code);
BOX_API int box_error_exit_code (box_error_code code);

/* ---------------------------------------------------------------------------------------- */
/* Engine                                                                                   */
/* ---------------------------------------------------------------------------------------- */

#define BOX_VERSION "0.1.0"
#define BOX_DEFAULT_ROOT "/var/lib/box"

typedef struct box_engine box_engine;

/* The caller is about to start a box (box run): the engine spawns a box monitor program
 * right away, which gets ready (its program startup, its store connection) while the caller
 * creates the box; the next start of this engine hands it the box. Unused, it exits when
 * the engine is closed. */
#define BOX_ENGINE_PREPARE_START 0x1u

#define BOX_ENGINE_OPTIONS_VERSION 2
typedef struct box_engine_options {
  unsigned version; /* 1: the fields up to root */
  const char *root; /* state directory; NULL: $BOX_ROOT, else BOX_DEFAULT_ROOT */
  unsigned flags;   /* BOX_ENGINE_PREPARE_START */
} box_engine_options;
#define BOX_ENGINE_OPTIONS_INIT { BOX_ENGINE_OPTIONS_VERSION, NULL, 0 }

/* Opens (creating if needed) the state directory and its store, and repairs whatever an
 * interrupted operation of an earlier process left behind. */
BOX_API int box_engine_open (const box_engine_options *opts, box_engine **out, box_error **err);
BOX_API void box_engine_close (box_engine *eng);
BOX_API const char *box_engine_root (const box_engine *eng);

/* Engine facts as a JSON object (state dir, schema version, kernel, cgroup mode, features).
 * The returned string is the caller's; free() it. */
BOX_API int box_engine_info_json (box_engine *eng, char **out_json, box_error **err);

/* ---------------------------------------------------------------------------------------- */
/* Boxes: identity and records                                                              */
/* ---------------------------------------------------------------------------------------- */

#define BOX_ID_HEX_LENGTH 64
#define BOX_SHORT_ID_LENGTH 12
#define BOX_NAME_MAX 255
#define BOX_EXTERNAL_REF_MAX 255

typedef enum box_state {
  BOX_STATE_CREATED = 0,
  BOX_STATE_RUNNING,
  BOX_STATE_PAUSED,
  BOX_STATE_RESTARTING,
  BOX_STATE_REMOVING,
  BOX_STATE_EXITED,
  BOX_STATE_DEAD,
} box_state;

/* "created", "running", ... (docker's State.Status words). */
BOX_API const char *box_state_name (box_state state);

typedef struct box_label {
  char *key;
  char *value;
} box_label;

/* A snapshot of one box as the store holds it. Read-only for callers; release with
 * box_box_free(). Fields are only ever appended, so the layout is stable. */
typedef struct box_box {
  char id[BOX_ID_HEX_LENGTH + 1];
  char *name;         /* never NULL: a box created without a name gets a generated one */
  char *external_ref; /* NULL when unset */
  char *image;        /* the image reference the box was created from */
  char *config_json;  /* the creation config, a JSON object */
  box_state state;
  int pid;            /* 0 when not running */
  int exit_code;
  int64_t created_ns; /* nanoseconds since the epoch; 0 when it never happened */
  int64_t started_ns;
  int64_t finished_ns;
  box_label *labels;
  size_t n_labels;
  /* appended by the lifecycle */
  int oom_killed;     /* the box's last run ended in an OOM kill */
  char *error;        /* why the last start failed, "" when it did not */
  char *runtime;      /* the backend the box runs on ("native", "runc", ...) */
} box_box;

BOX_API void box_box_free (box_box *box);
BOX_API void box_box_list_free (box_box **boxes, size_t n);

/* A resource limit for the box's processes (--ulimit NAME=SOFT[:HARD]). */
typedef struct box_ulimit {
  const char *name; /* "nofile", "nproc", "core", ... (RLIMIT_ without the prefix) */
  int64_t soft;
  int64_t hard;
} box_ulimit;

/* A host device made available in the box (docker's --device HOST[:BOX][:PERMISSIONS]): at
 * each start the node is created in the box with the host node's type, major, minor and
 * permission bits (owner root), and the box's device cgroup allows it with permissions.
 * A host directory stands for every device node below it (subdirectories included, symlinks
 * and other files skipped), each at the same relative path below path_in_box; a directory
 * without one is refused, as docker refuses it. */
typedef struct box_device {
  const char *path_on_host; /* absolute path of a device node, or of a directory of them */
  const char *path_in_box;  /* absolute; NULL: path_on_host */
  const char *permissions;  /* a subset of "rwm" (read, write, mknod); NULL: "rwm" */
} box_device;

/* Parses docker's --device value: HOST, HOST:BOX, HOST:PERMISSIONS or HOST:BOX:PERMISSIONS
 * (the middle word of two is read as permissions when it is a valid one, as docker does).
 * Checks the syntax only (absolute paths without "..", permissions a subset of "rwm"); the
 * host node is checked when the box is created and again at each start. *out is one
 * allocation, released with box_device_free(). */
BOX_API int box_device_parse (const char *spec, box_device **out, box_error **err);
BOX_API void box_device_free (box_device *device);

/* What the box runs and how: docker's `run` options. Everything left zero/NULL takes the
 * image's value (command, env, workdir, user, stop signal) or docker's default. */
/* 1: up to log_max_files; 2: devices; 3: detach (older structs are still accepted) */
#define BOX_RUN_OPTIONS_VERSION 4
typedef struct box_run_options {
  unsigned version;
  const char *const *cmd; /* NULL: the image's Cmd */
  size_t n_cmd;
  const char *const *entrypoint; /* used when entrypoint_set; {} (n 0) clears the image's */
  size_t n_entrypoint;
  int entrypoint_set;
  const char *const *env; /* KEY=VALUE, over the image's Env; "KEY" alone unsets nothing */
  size_t n_env;
  const char *workdir;  /* NULL: the image's WorkingDir, else "/" */
  const char *user;     /* user[:group] (names or ids); NULL: the image's User */
  const char *hostname; /* NULL: the short id */
  int tty;              /* -t: a pseudo-terminal for the box */
  int open_stdin;       /* -i: keep stdin open */
  int read_only;        /* --read-only root filesystem */
  int privileged;       /* every capability, no seccomp, no masked paths */
  int init;             /* --init: box-init as pid 1 (reaps, forwards signals) */
  int auto_remove;      /* --rm: removed (record, rootfs, logs) once it exits */
  int64_t memory_bytes; /* 0: unlimited */
  int64_t nano_cpus;    /* --cpus x 1e9; 0: unlimited */
  int64_t cpu_shares;   /* 0: default */
  int64_t pids_limit;   /* 0: unlimited */
  const char *const *cap_add; /* "NET_ADMIN", "CAP_NET_ADMIN" or "ALL" */
  size_t n_cap_add;
  const char *const *cap_drop;
  size_t n_cap_drop;
  const char *const *security_opt; /* "no-new-privileges", "seccomp=unconfined|FILE" */
  size_t n_security_opt;
  const box_ulimit *ulimits;
  size_t n_ulimits;
  const char *stop_signal; /* NULL: the image's StopSignal, else SIGTERM */
  int stop_timeout; /* seconds; BOX_STOP_TIMEOUT_DEFAULT: 10; BOX_STOP_TIMEOUT_FOREVER (or any
                     * other negative, as in docker): the stop never sends SIGKILL */
  const char *runtime;     /* NULL: "native"; "runc"; "oci:/path/to/runtime" */
  int64_t log_max_bytes;   /* size of one log file before rotation; 0: 10 MiB */
  int log_max_files;       /* log files kept (the live one included); 0: 2 */
  /* version 2 */
  const box_device *devices; /* --device: host devices made available in the box */
  size_t n_devices;
  /* version 3 */
  int detach; /* -d: nobody attaches when it starts. Docker's Config then records
               * AttachStdin/AttachStdout/AttachStderr false and StdinOnce false (its stdin
               * stays open when an attached client's input ends); otherwise AttachStdout and
               * AttachStderr are true and AttachStdin = StdinOnce = open_stdin, as for
               * `docker run` without -d and `docker create`. */
  /* version 4 */
  unsigned attach_streams; /* -a: BOX_ATTACH_STREAM_* recorded as Config.AttachStdin/Stdout/
                            * Stderr (0: docker's default, stdout and stderr); -i attaches
                            * stdin in any case. Refused with detach. */
} box_run_options;
#define BOX_ATTACH_STREAM_STDIN 0x1u
#define BOX_ATTACH_STREAM_STDOUT 0x2u
#define BOX_ATTACH_STREAM_STDERR 0x4u
/* stop timeouts: the default (the box's, else 10 seconds), and none (wait for the box) */
#define BOX_STOP_TIMEOUT_DEFAULT (-2147483647 - 1)
#define BOX_STOP_TIMEOUT_FOREVER (-1)
#define BOX_RUN_OPTIONS_INIT                                                                       \
  { .version = BOX_RUN_OPTIONS_VERSION, .stop_timeout = BOX_STOP_TIMEOUT_DEFAULT }

#define BOX_BOX_CREATE_OPTIONS_VERSION 1
typedef struct box_box_create_options {
  unsigned version;
  const char *name;         /* NULL: generate a readable unique name */
  const char *external_ref; /* NULL: none */
  const char *image;        /* required */
  const char *config_json;  /* record-only boxes (run == NULL): NULL means "{}" */
  const box_label *labels;
  size_t n_labels;
  /* NULL: only record the box (no image lookup, no bundle; it cannot be started). Else the
   * image is resolved and the box's bundle (rootfs dirs, config.json, /etc files) written;
   * config_json must then be NULL: the engine writes the docker-style config itself. */
  const box_run_options *run;
} box_box_create_options;
#define BOX_BOX_CREATE_OPTIONS_INIT { BOX_BOX_CREATE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, NULL }

/* Creates a new box in state "created". Name and external_ref must be unused. */
BOX_API int box_box_create (box_engine *eng, const box_box_create_options *opts, box_box **out,
                            box_error **err);

/* Resolves a user-supplied reference: exact id, exact name (a leading '/' is ignored), exact
 * external_ref, then unique id prefix. Two prefix matches give BOX_E_AMBIGUOUS. */
BOX_API int box_box_get (box_engine *eng, const char *ref, box_box **out, box_error **err);

/* Every box, newest first. */
BOX_API int box_box_list (box_engine *eng, box_box ***out, size_t *out_n, box_error **err);

BOX_API int box_box_rename (box_engine *eng, const char *ref, const char *new_name, box_error **err);

/* Removes the box: record, rootfs, bundle and logs. A running box is refused with
 * BOX_E_CONFLICT. */
BOX_API int box_box_remove (box_engine *eng, const char *ref, box_error **err);

/* ---------------------------------------------------------------------------------------- */
/* Boxes: lifecycle                                                                         */
/* ---------------------------------------------------------------------------------------- */

/* The stdio a started box is attached to. Fds are the caller's and are only borrowed: the
 * monitor gets copies. With all three -1 the box is detached (stdin /dev/null, output to the
 * log only). */
#define BOX_START_OPTIONS_VERSION 1
typedef struct box_start_options {
  unsigned version;
  int stdin_fd;  /* -1: none (/dev/null), unless open_stdin */
  int stdout_fd; /* -1: log only */
  int stderr_fd;
  /* When set, the box's stdout/stderr go straight to stdout_fd/stderr_fd (no pipe through the
   * monitor, no log): the fast path of an attached `run --rm`, whose log nobody can read. */
  int direct_stdio;
  /* When not NULL, receives an fd that becomes readable (and reads "EXIT <code>\n") once
   * the box has exited and its exit is recorded. Close it when done. */
  int *exit_fd;
} box_start_options;
#define BOX_START_OPTIONS_INIT { BOX_START_OPTIONS_VERSION, -1, -1, -1, 0, NULL }

/* Starts a created or exited box: mounts its rootfs and spawns its monitor, which creates
 * and starts it through the runtime backend. Returns once the box's process runs. */
BOX_API int box_box_start (box_engine *eng, const char *ref, const box_start_options *opts,
                           box_error **err);

/* ---- attaching ---------------------------------------------------------------------- */

/* An attachment to a running box's stdio through its monitor (several may exist at once;
 * the monitor never waits for a slow one). */
typedef struct box_attach box_attach;

#define BOX_ATTACH_OPTIONS_VERSION 1
typedef struct box_attach_options {
  unsigned version;
  /* read and sent to the box (only if it was created with OpenStdin); -1. Without a tty,
   * its end ends the box's stdin when the box was created with StdinOnce; otherwise (run -d
   * -i) the box's stdin stays open and this attachment gets no more output, as docker's
   * daemon does: box_attach_run returns when the box exits. */
  int stdin_fd;
  int stdout_fd; /* receives the box's stdout (with a tty: all its output); -1: not wanted */
  int stderr_fd; /* receives the box's stderr; -1: not wanted */
  /* with a tty, typing these on stdin_fd detaches (docker's syntax, "ctrl-p,ctrl-q" when
   * NULL; "" for none); the keys themselves do not reach the box */
  const char *detach_keys;
  unsigned short rows, cols; /* > 0: set the box's terminal to this size on attach */
} box_attach_options;
#define BOX_ATTACH_OPTIONS_INIT { BOX_ATTACH_OPTIONS_VERSION, -1, -1, -1, NULL, 0, 0 }

/* Attaches to a running box (BOX_E_CONFLICT when it does not run). The fds are borrowed
 * until box_attach_free. Output written before the attach is not replayed (see the logs). */
BOX_API int box_box_attach (box_engine *eng, const char *ref, const box_attach_options *opts,
                            box_attach **out, box_error **err);

/* Starts a created or exited box with this attachment in place before it runs (no output
 * is missed; the box's output waits for this client rather than being lost to it).
 * BOX_E_CONFLICT when the box already runs. */
BOX_API int box_box_start_attached (box_engine *eng, const char *ref,
                                    const box_attach_options *opts, box_attach **out,
                                    box_error **err);

typedef enum box_attach_status {
  BOX_ATTACH_EXITED = 1,   /* the box ended: box_attach_exit_code() */
  BOX_ATTACH_DETACHED = 2, /* the detach keys were typed: the box goes on */
  BOX_ATTACH_WOKEN = 3,    /* wake_fd became readable (the caller reads it) */
} box_attach_status;

/* Copies output and input until the box ends, the detach keys are typed, or wake_fd (>= 0;
 * e.g. a signalfd for SIGWINCH) is readable. Returns a box_attach_status or < 0. Call again
 * after BOX_ATTACH_WOKEN. An attachment made by box_box_attach that falls more than 1 MiB
 * behind the box's output is dropped by the monitor: BOX_E_IO, with a message saying so. */
BOX_API int box_attach_run (box_attach *a, int wake_fd, box_error **err);
/* The box's exit code once box_attach_run returned BOX_ATTACH_EXITED. */
BOX_API int box_attach_exit_code (const box_attach *a);
/* Whether the box has a tty (its output is then one stream). */
BOX_API int box_attach_tty (const box_attach *a);
/* Detaches (if still attached) and frees. */
BOX_API void box_attach_free (box_attach *a);

/* Sets the size of a running box's terminal (BOX_E_CONFLICT without one). */
BOX_API int box_box_resize (box_engine *eng, const char *ref, unsigned rows, unsigned cols,
                            box_error **err);

/* Checks detach keys in docker's syntax ("ctrl-p,ctrl-q", "ctrl-a,x"). */
BOX_API int box_detach_keys_validate (const char *keys, box_error **err);

/* Sends the stop signal (the box's, else signal_name when given), waits up to timeout
 * seconds (BOX_STOP_TIMEOUT_DEFAULT: the box's stop timeout; another negative: no limit),
 * then SIGKILL; returns once the box has exited.
 * Stopping a box that is not running succeeds. */
BOX_API int box_box_stop (box_engine *eng, const char *ref, int timeout, box_error **err);

/* Sends a signal ("KILL", "SIGTERM", "15"; NULL: SIGKILL) to the box's main process. */
BOX_API int box_box_kill (box_engine *eng, const char *ref, const char *signal_name,
                          box_error **err);

/* Waits until the box is not running and stores its exit code. */
BOX_API int box_box_wait (box_engine *eng, const char *ref, int *exit_code, box_error **err);

/* Removes a box; force: stop (SIGKILL) a running one first. */
BOX_API int box_box_remove_force (box_engine *eng, const char *ref, int force, box_error **err);

/* The box's processes as docker top shows them: a JSON object {"Titles":[...],
 * "Processes":[[...],...]}; free() it. Same as box_box_top with the default ps_args. */
BOX_API int box_box_top_json (box_engine *eng, const char *ref, char **out_json,
                              box_error **err);

#define BOX_TOP_OPTIONS_VERSION 1
typedef struct box_top_options {
  unsigned version;
  /* docker's ps_args, read the way ps reads them: NULL or "" means "-ef" (UID PID PPID C
   * STIME TTY TIME CMD); "aux" (BSD's user format); "-o pid,comm,args" or "-eo pid=ID,stat"
   * (ps format keywords: pid ppid pgid sid uid user ruser gid group comm args cmd stat s c
   * %cpu %mem rss vsz ni nlwp tty time etime etimes stime start ...). Selection options
   * (-e, -A, a, x) change nothing: the rows are always every process of the box. */
  const char *ps_args;
} box_top_options;
#define BOX_TOP_OPTIONS_INIT { BOX_TOP_OPTIONS_VERSION, NULL }

/* The box's processes (those of its cgroup and the cgroups below it, as docker lists them:
 * processes joined to the box or in a nested pid namespace included; sorted by host pid) in
 * the columns ps would print for opts->ps_args; *out_json as box_box_top_json. An unknown
 * option or keyword is BOX_E_INVALID. opts may be NULL. */
BOX_API int box_box_top (box_engine *eng, const char *ref, const box_top_options *opts,
                         char **out_json, box_error **err);

/* The box's merged inspect document (docker's container inspect shape) as JSON; free() it. */
BOX_API int box_box_inspect_json (box_engine *eng, const char *ref, char **out_json,
                                  box_error **err);

/* Parses a signal given as "KILL", "SIGKILL" or "9"; returns the number or BOX_E_INVALID. */
BOX_API int box_signal_parse (const char *name, box_error **err);

/* ---------------------------------------------------------------------------------------- */
/* Logs                                                                                     */
/* ---------------------------------------------------------------------------------------- */

typedef enum box_log_stream {
  BOX_LOG_STDOUT = 1,
  BOX_LOG_STDERR = 2,
} box_log_stream;

/* Called for every log record; return non-zero to stop reading. */
typedef int (*box_log_callback) (void *data, box_log_stream stream, int64_t time_ns,
                                 const char *bytes, size_t len);

#define BOX_LOGS_OPTIONS_VERSION 1
typedef struct box_logs_options {
  unsigned version;
  int follow;       /* keep reading while the box runs; ends once its monitor is gone and
                       what it wrote is read (rotated files are followed) */
  int64_t tail;     /* < 0: all; else only the last N records */
  int64_t since_ns; /* 0: no bound */
  int64_t until_ns; /* 0: no bound */
} box_logs_options;
#define BOX_LOGS_OPTIONS_INIT { BOX_LOGS_OPTIONS_VERSION, 0, -1, 0, 0 }

BOX_API int box_box_logs (box_engine *eng, const char *ref, const box_logs_options *opts,
                          box_log_callback callback, void *data, box_error **err);

/* ---------------------------------------------------------------------------------------- */
/* Events                                                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef struct box_event {
  int64_t seq;
  int64_t time_ns;
  const char *type;       /* "container", ... */
  const char *action;     /* "create", "start", "die", ... */
  const char *actor_id;
  const char *attributes_json; /* JSON object of strings */
} box_event;

/* Return non-zero to stop. */
typedef int (*box_event_callback) (void *data, const box_event *event);

#define BOX_EVENTS_OPTIONS_VERSION 1
typedef struct box_events_options {
  unsigned version;
  int64_t since_ns; /* 0: with follow, the events committed after the call begins; without,
                       from the start */
  int64_t until_ns; /* 0: forever (follow) or up to now */
  int follow;       /* stream new events until until_ns or the callback stops */
} box_events_options;
#define BOX_EVENTS_OPTIONS_INIT { BOX_EVENTS_OPTIONS_VERSION, 0, 0, 0 }

BOX_API int box_events_read (box_engine *eng, const box_events_options *opts,
                             box_event_callback callback, void *data, box_error **err);

/* Validation rules, for callers that want to check input before acting. */
BOX_API int box_name_validate (const char *name, box_error **err);
BOX_API int box_external_ref_validate (const char *ref, box_error **err);

/* ---------------------------------------------------------------------------------------- */
/* Registries: pull, push, login                                                            */
/* ---------------------------------------------------------------------------------------- */

/* What a progress event of a long operation (pull, push, import) reports. Layer events carry
 * the layer's blob digest in `id`. */
typedef enum box_transfer_status {
  BOX_TRANSFER_RESOLVED = 0,    /* id: the manifest digest the reference resolved to */
  BOX_TRANSFER_WAITING,         /* a layer is queued ("Pulling fs layer" / "Preparing") */
  BOX_TRANSFER_ALREADY_EXISTS,  /* a layer is present locally (pull) or remotely (push) */
  BOX_TRANSFER_DOWNLOADING,     /* current/total bytes of a layer blob */
  BOX_TRANSFER_EXTRACTING,      /* unpacking a layer whose blob was already stored */
  BOX_TRANSFER_LAYER_COMPLETE,  /* downloaded, verified and unpacked ("Pull complete") */
  BOX_TRANSFER_UPLOADING,       /* current/total bytes of a layer blob being pushed */
  BOX_TRANSFER_MOUNTED,         /* a blob mounted from another repository (push) */
  BOX_TRANSFER_PUSHED,          /* a blob uploaded (push) */
  BOX_TRANSFER_IMPORTING,       /* current/total bytes read of a tarball being imported (id:
                                   its path, or "-" for a file descriptor); total -1: unknown */
} box_transfer_status;

typedef struct box_transfer_progress {
  box_transfer_status status;
  const char *id; /* "sha256:<hex>" (import: the source) */
  int64_t current;
  int64_t total; /* -1 when unknown */
} box_transfer_progress;

/* Called from the library's worker threads, one call at a time (the library serializes them);
 * must not call back into the engine. */
typedef void (*box_transfer_progress_fn) (const box_transfer_progress *event, void *userdata);

#define BOX_PULL_OPTIONS_VERSION 1
typedef struct box_pull_options {
  unsigned version;
  const char *platform;      /* "os/arch[/variant]" from an index; NULL: linux/<host arch> */
  box_transfer_progress_fn progress;  /* NULL: no progress */
  void *progress_userdata;
  unsigned max_parallel;     /* layers transferred at once; 0: 3 */
} box_pull_options;
#define BOX_PULL_OPTIONS_INIT { BOX_PULL_OPTIONS_VERSION, NULL, NULL, NULL, 0 }

/* Pulls ref (docker's reference syntax: `busybox`, `host:5000/a/b:tag`, `name@sha256:...`)
 * into the image store: layers download in parallel and are verified, decompressed and
 * unpacked while they stream in; layers already present are skipped. *out_image_id (may be
 * NULL) receives the image id ("sha256:<config digest>"; free()). Credentials come from
 * docker's config.json, credential helpers, or BOX_REGISTRY_AUTH_HOST + BOX_REGISTRY_AUTH. */
BOX_API int box_image_pull (box_engine *eng, const char *ref, const box_pull_options *opts,
                            char **out_image_id, box_error **err);

#define BOX_PUSH_OPTIONS_VERSION 1
typedef struct box_push_options {
  unsigned version;
  box_transfer_progress_fn progress;
  void *progress_userdata;
  int64_t chunk_size; /* blobs larger than this are uploaded in chunks of it; 0: 64 MiB */
} box_push_options;
#define BOX_PUSH_OPTIONS_INIT { BOX_PUSH_OPTIONS_VERSION, NULL, NULL, 0 }

/* Pushes the local image tagged ref to its registry: blobs the registry has are skipped,
 * blobs it has in another repository are mounted, the rest uploaded, then the manifest.
 * *out_digest (may be NULL) receives the manifest digest (free()). */
BOX_API int box_image_push (box_engine *eng, const char *ref, const box_push_options *opts,
                            char **out_digest, box_error **err);

/* Verifies username/password against registry host ("host[:port]"; NULL or "docker.io" for
 * docker's default registry) and stores them in docker's config.json (or the credential
 * helper it names). */
BOX_API int box_registry_login (box_engine *eng, const char *host, const char *username,
                                const char *password, box_error **err);

/* Removes stored credentials for host; BOX_E_NOT_FOUND when there were none. */
BOX_API int box_registry_logout (box_engine *eng, const char *host, box_error **err);

/* ---------------------------------------------------------------------------------------- */
/* Images                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* An image as the store holds it. References are in docker's familiar form
 * ("busybox:latest", "localhost:5000/app@sha256:…"). Release with box_image_free(). */
typedef struct box_image {
  char *id;              /* "sha256:<hex>" of the image config */
  char **repo_tags;      /* sorted; none for a dangling image */
  size_t n_repo_tags;
  char **repo_digests;
  size_t n_repo_digests;
  int64_t created_ns;    /* the config's creation time */
  int64_t size;          /* uncompressed bytes of its layers */
  box_label *labels;
  size_t n_labels;
  size_t n_layers;
} box_image;

BOX_API void box_image_free (box_image *image);
BOX_API void box_image_list_free (box_image **images, size_t n);

/* Resolves a reference (name[:tag], name@digest, full id, "sha256:" id, unique id prefix;
 * an ambiguous prefix is BOX_E_AMBIGUOUS) to an image. */
BOX_API int box_image_get (box_engine *eng, const char *ref, box_image **out, box_error **err);

#define BOX_IMAGE_LIST_OPTIONS_VERSION 1
typedef struct box_image_list_options {
  unsigned version;
  /* docker's filters, each "key=value": reference=PATTERN (a glob over name and name:tag),
   * label=KEY or label=KEY=VALUE, dangling=true|false; several of one key match any, keys
   * must all match */
  const char *const *filters;
  size_t n_filters;
} box_image_list_options;
#define BOX_IMAGE_LIST_OPTIONS_INIT { BOX_IMAGE_LIST_OPTIONS_VERSION, NULL, 0 }

/* Images, newest first. opts may be NULL. */
BOX_API int box_image_list (box_engine *eng, const box_image_list_options *opts,
                            box_image ***out, size_t *out_n, box_error **err);

/* Docker-like image inspect JSON (Id, RepoTags, RepoDigests, Created, Size, Config,
 * RootFS{Type,Layers}, Architecture, Os, ...) as a string the caller free()s. */
BOX_API int box_image_inspect_json (box_engine *eng, const char *ref, char **out_json,
                                    box_error **err);

#define BOX_IMAGE_IMPORT_OPTIONS_VERSION 1
typedef struct box_image_import_options {
  unsigned version;
  const char *source_path; /* a tarball (plain, gzip or zstd); NULL: read source_fd */
  int source_fd;
  const char *reference;   /* tag for the new image; NULL: untagged */
  const char *const *changes; /* Dockerfile-style: "ENV A=b", "CMD [\"sh\"]", "WORKDIR /x", ... */
  size_t n_changes;
  const char *message;     /* history comment; NULL: "Imported from <source>" */
  box_transfer_progress_fn progress; /* BOX_TRANSFER_IMPORTING events; NULL: none */
  void *progress_userdata;
} box_image_import_options;
#define BOX_IMAGE_IMPORT_OPTIONS_INIT                                                             \
  { BOX_IMAGE_IMPORT_OPTIONS_VERSION, NULL, -1, NULL, NULL, 0, NULL, NULL, NULL }

/* Creates a one-layer image from a filesystem tarball, like `docker import`. *out_id (may be
 * NULL) receives the new image id; free() it. */
BOX_API int box_image_import (box_engine *eng, const box_image_import_options *opts,
                              char **out_id, box_error **err);

/* The layouts of box_image_save (box_image_load reads both). */
typedef enum box_image_archive_format {
  BOX_IMAGE_ARCHIVE_DOCKER = 0, /* `docker save`'s: manifest.json, <id>.json, layer tars */
  BOX_IMAGE_ARCHIVE_OCI = 1,    /* an OCI image layout: oci-layout, index.json, blobs/sha256 */
} box_image_archive_format;

#define BOX_IMAGE_SAVE_OPTIONS_VERSION 1
typedef struct box_image_save_options {
  unsigned version;
  box_image_archive_format format;
  const char *output_path; /* written under a temporary name, renamed when complete */
  int output_fd;           /* used when output_path is NULL (a pipe is fine) */
} box_image_save_options;
#define BOX_IMAGE_SAVE_OPTIONS_INIT { BOX_IMAGE_SAVE_OPTIONS_VERSION, BOX_IMAGE_ARCHIVE_DOCKER, NULL, -1 }

/* Writes the images refs name (tags add their tag to the archive, ids add none) as one
 * archive, like `docker save`. */
BOX_API int box_image_save (box_engine *eng, const char *const *refs, size_t n_refs,
                            const box_image_save_options *opts, box_error **err);

#define BOX_IMAGE_LOAD_OPTIONS_VERSION 1
typedef struct box_image_load_options {
  unsigned version;
  const char *input_path; /* a docker-archive or oci-archive; NULL: read input_fd */
  int input_fd;
} box_image_load_options;
#define BOX_IMAGE_LOAD_OPTIONS_INIT { BOX_IMAGE_LOAD_OPTIONS_VERSION, NULL, -1 }

/* Loads every image of an archive, like `docker load`. *out_loaded (may be NULL) gets one
 * string per loaded name ("busybox:latest") or, for an unnamed image, its id; free it with
 * box_image_load_list_free. */
BOX_API int box_image_load (box_engine *eng, const box_image_load_options *opts,
                            char ***out_loaded, size_t *out_n, box_error **err);
BOX_API void box_image_load_list_free (char **loaded, size_t n);

/* Points target (a name[:tag]; default tag latest) at the image source resolves to. */
BOX_API int box_image_tag (box_engine *eng, const char *source, const char *target,
                           box_error **err);

/* What a removal did, one entry per step, like docker's ImageDeleteResponseItem. */
typedef struct box_image_delete_item {
  char *untagged; /* a familiar reference that was removed, or NULL */
  char *deleted;  /* an image id that was deleted, or NULL */
} box_image_delete_item;
BOX_API void box_image_delete_items_free (box_image_delete_item *items, size_t n);

#define BOX_IMAGE_REMOVE_OPTIONS_VERSION 1
typedef struct box_image_remove_options {
  unsigned version;
  int force; /* remove an image referenced by several repositories; untag one a box uses */
} box_image_remove_options;
#define BOX_IMAGE_REMOVE_OPTIONS_INIT { BOX_IMAGE_REMOVE_OPTIONS_VERSION, 0 }

/* Removes a reference, or by id the image with all its references, then the image itself
 * when nothing names it any more, then blobs and layers no other image uses. An image a box
 * references is refused with BOX_E_CONFLICT; with force its references go and the image
 * stays (dangling) until the box is gone. opts may be NULL. */
BOX_API int box_image_remove (box_engine *eng, const char *ref,
                              const box_image_remove_options *opts,
                              box_image_delete_item **out_items, size_t *out_n, box_error **err);

#define BOX_IMAGE_PRUNE_OPTIONS_VERSION 1
typedef struct box_image_prune_options {
  unsigned version;
  int all; /* every image no box references, not only dangling ones */
  const char *const *filters; /* label=..., label!=... */
  size_t n_filters;
} box_image_prune_options;
#define BOX_IMAGE_PRUNE_OPTIONS_INIT { BOX_IMAGE_PRUNE_OPTIONS_VERSION, 0, NULL, 0 }

/* Removes dangling (or, with all, unused) images; *out_reclaimed gets the bytes freed. */
BOX_API int box_image_prune (box_engine *eng, const box_image_prune_options *opts,
                             box_image_delete_item **out_items, size_t *out_n,
                             uint64_t *out_reclaimed, box_error **err);

#ifdef __cplusplus
}
#endif

#endif
