/* What the lifecycle modules (create, start, stop, reconcile, logs) and the monitor share:
 * the per-box directory layout, intent locks, and the monitor's protocol. */
#ifndef BOX_ENGINE_LIFECYCLE_H
#define BOX_ENGINE_LIFECYCLE_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "engine/engine.h"
#include "runtime/runtime.h"

/* <root>/boxes/<id>: the bundle (config.json, rootfs/, upper/, work/), /etc files, logs and
 * the monitor's socket. */
#define ENGINE_BOXES_DIR "boxes"
/* <root>/intents/<id>: an flock()ed file held while a box is being created, started or
 * removed. A crash leaves the file unlocked; reconcile finds it and finishes the job. */
#define ENGINE_INTENTS_DIR "intents"
/* every box's cgroup, as the bundle names it: ENGINE_CGROUP_PARENT "/<id>" */
#define ENGINE_CGROUP_PARENT "/box"
/* how long a released box's cgroup may take to empty once killed */
#define ENGINE_CGROUP_EMPTY_TIMEOUT_MS 2000
/* <root>/trash/<id>: the directory of a removed box. Removal renames boxes/<id> here in
 * one step (the box is gone for everyone at once), then deletes the tree: on a filesystem
 * mounted with discard, each freed directory block costs milliseconds, which the monitor of
 * an --rm box spends after its client has the exit code. The deleting process holds an
 * flock() on the directory; reconcile deletes the unlocked entries a crash left. */
#define ENGINE_TRASH_DIR "trash"
/* <root>/spare/<layout>-<random>: emptied directories of removed boxes, each made again what
 * a new box's directory is (rootfs/, upper/, work/ and nothing else) and renamed here only
 * then, so complete by construction; the next box renames one into place instead of making
 * its directories (engine_box_make_dir, engine_trash_recycle). At most ENGINE_SPARE_DIRS. */
#define ENGINE_SPARE_DIR "spare"
#define ENGINE_SPARE_DIRS 4
/* <root>/runtime: the backends' state directory */
#define ENGINE_RUNTIME_DIR "runtime"

#define ENGINE_LOG_FILE "json.log"
#define ENGINE_MONITOR_SOCKET "monitor.sock"
/* docker's default grace period between the stop signal and SIGKILL */
#define ENGINE_DEFAULT_STOP_TIMEOUT 10
#define ENGINE_DEFAULT_RUNTIME "native"
/* logs are capped: one file of this size is rotated to json.log.1 (and so on) */
#define ENGINE_DEFAULT_LOG_MAX_BYTES (10 * 1024 * 1024)
#define ENGINE_DEFAULT_LOG_MAX_FILES 2

DEFINE_POINTER_CLEANUP (box_box, box_box_free)

int engine_box_dir (const char *root, const char *id, char **out, box_error **err);

/* Takes the intent lock of a box (creating the file). wait: block until it is free; else
 * return 0 when another process holds it. 1 and *out_fd (the locked file) on success. */
int engine_intent_lock (const char *root, const char *id, bool wait, int *out_fd,
                        box_error **err);
/* Removes the intent file and closes fd (the job is complete). */
void engine_intent_done (const char *root, const char *id, int fd);

/* Writes into a held intent the runtime whose state the job still has to release, for a job
 * that may delete the box's row first (a monitor ending an --rm box records the removal
 * while the runtime is released): whoever finishes the intent after a crash then knows,
 * with the row gone, which runtime to ask. Best effort: 0 or -errno. */
int engine_intent_note_runtime (int fd, const char *runtime_name);
/* That note, into buf (empty when there is none). */
void engine_intent_read_runtime (int fd, char *buf, size_t size);

/* Runtime context of an engine root (state dir <root>/runtime). */
typedef struct engine_runtime {
  char *state_dir;
  runtime_context ctx;
  const runtime_backend *backend;
} engine_runtime;
int engine_runtime_open (const char *root, const char *name, engine_runtime *out,
                         box_error **err);
void engine_runtime_clear (engine_runtime *rt);

/* Releases what a box that no longer runs may still hold: the backend's state (cgroups,
 * processes: killed) and the rootfs mount. Idempotent. */
int engine_box_release (const char *root, const char *id, const char *runtime_name,
                        box_error **err);
/* The same without the rootfs mount (rootfs_unmount of rootfs.h is the rest). */
int engine_box_release_runtime (const char *root, const char *id, const char *runtime_name,
                                box_error **err);

/* Makes boxes/<id> holding rootfs/, upper/ and work/ (*out: its path): a spare directory
 * renamed into place when there is one, else new directories. */
int engine_box_make_dir (const char *root, const char *id, char **out, box_error **err);

/* Removes the box's directory (after its rootfs is unmounted): retire, then trash_remove. */
int engine_box_remove_dir (const char *root, const char *id, box_error **err);
/* Unmounts the box's rootfs and renames its directory to trash/<id>, locked: *out_lock_fd
 * (-1 when there was no directory) is for engine_trash_remove. */
int engine_box_retire_dir (const char *root, const char *id, int *out_lock_fd, box_error **err);
/* Deletes trash/<id> and closes lock_fd (its lock). */
int engine_trash_remove (const char *root, const char *id, int lock_fd, box_error **err);
/* The same, except that while fewer than ENGINE_SPARE_DIRS are kept, trash/<id> is emptied
 * and kept as a spare instead of deleted. */
int engine_trash_recycle (const char *root, const char *id, int lock_fd, box_error **err);

/* Repairs what crashed processes left behind (see ARCHITECTURE.md, "reconcile"). */
int engine_reconcile (box_engine *eng, box_error **err);

/* Records that a box whose monitor is gone has exited (exit code 255 unless known), or
 * removes it when it was --rm; releases its runtime state and mount. intent_held: the
 * caller holds the box's intent lock (else a removal takes it). */
int engine_box_mark_dead (box_engine *eng, const char *id, const char *why, bool intent_held,
                          box_error **err);

/* How a run ended, as the monitor (or reconcile) records it. */
typedef struct engine_exit {
  int exit_code;   /* the process's code, or 128 + signal */
  int oom_killed;
  int stopped;     /* a stop request ended it: a "stop" event follows "die" */
  const char *error;
} engine_exit;

/* The exit code a box whose start failed records (docker's): 127 when its command was not
 * found, 126 when it could not be run, else 128. */
int engine_start_failure_exit_code (const box_error *why);

/* Records the exit (state exited + events oom/die/stop in one transaction), or for an
 * --rm box removes it (die, destroy; then its directory). The caller released the runtime
 * state and the mount first. intent_held as for engine_box_mark_dead. trash_lock_fd NULL:
 * the directory is deleted before return; else it is only retired to the trash and the
 * caller deletes it with engine_trash_remove (*trash_lock_fd, -1 when there is nothing to
 * delete). */
int engine_box_record_exit (box_engine *eng, const char *id, const engine_exit *exit_info,
                            bool intent_held, int *trash_lock_fd, box_error **err);
/* Its store part alone, in one transaction: *out_removed says an --rm box's row went, and
 * its directory is for the caller to retire. A removal must hold the box's intent lock. */
int engine_box_record_exit_row (box_engine *eng, const char *id, const engine_exit *exit_info,
                                bool *out_removed, box_error **err);

/* The stored creation config of a box (parsed config_json). */
int engine_box_config (const box_box *box, json_t **out, box_error **err);

/* ---- the monitor ---------------------------------------------------------------------- */

/* fds the monitor finds at fixed numbers (its stdin/stdout/stderr are the attached stdio) */
#define MONITOR_SYNC_FD 3  /* write end: "OK <pid>\n" or "ERR <code> <message>\n" */
/* the start's intent lock, handed over: the monitor ends it (engine_intent_done) once the box
 * runs, before it writes OK; on ERR or its death the engine takes the intent again */
#define MONITOR_INTENT_FD 4
#define MONITOR_EXIT_FD 5  /* optional write end: "EXIT <code>\n" once the exit is recorded */
/* (6 is MONITOR_ATTACH_FD, attach-protocol.h) */
#define MONITOR_CONFIG_FD 7 /* the box's stored config_json, to read to its end: the monitor
                               starts the box before it opens the store */
#define MONITOR_FD_SLOTS 8  /* 0-2 (stdio) and the fds above */

/* A spare monitor, spawned ahead by an engine opened with BOX_ENGINE_PREPARE_START, runs as
 * "box-monitor ROOT --spare PLACEHOLDER" with one end of a SOCK_SEQPACKET pair as
 * MONITOR_SPARE_FD. It makes the box's network namespace and waits for one message: a
 * uint32_t whose bit n says the message carries the fd for slot n, then the rest of a
 * monitor's command line (ID and options, each NUL-terminated); the fds come as SCM_RIGHTS in
 * slot order. It then runs as a monitor spawned with that command line (it rewrites its
 * own: "box-monitor ROOT ID"). End of file instead: nobody needs it, it exits. */
#define MONITOR_SPARE_FD 8
#define MONITOR_SPARE_ARG "--spare"
#define MONITOR_SPARE_MESSAGE_MAX 4096

/* Requests on the monitor's socket (SOCK_SEQPACKET, one message each):
 *   "KILL <signal>"            -> "OK" | "ERR <code> <message>"
 *   "STOP <signal> <seconds>"  -> "EXIT <code>" once the box has exited
 *   "WAIT"                     -> "EXIT <code>" once the box has exited                   */
#define MONITOR_MESSAGE_MAX 1024

/* Connects to a box's monitor; BOX_E_NOT_FOUND when no monitor listens. */
int monitor_connect (const char *root, const char *id, int *out_fd, box_error **err);
/* Sends a request and reads one reply. timeout_ms < 0: wait forever. */
int monitor_request (int fd, const char *request, char *reply, size_t reply_size,
                     box_error **err);
/* The error a monitor's "ERR <code> <message>" reply (or sync report) says: its code when it
 * is a box error code (BOX_E_INTERNAL otherwise) and its message, fallback when empty. */
int monitor_reply_error (const char *reply, const char *fallback, box_error **err);

/* box_box_start; attach_fd >= 0: the monitor gets it as MONITOR_ATTACH_FD, an attached
 * client from before the box runs (attach-protocol.h). */
int engine_box_start (box_engine *eng, const char *ref, const box_start_options *opts,
                      int attach_fd, box_error **err);

/* Where the box-monitor and box-init programs are. */
int engine_find_helper (const char *name, char **out, box_error **err);

#endif
