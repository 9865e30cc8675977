/* The native runtime's child side: what runs between clone3 and execve. The parent (the
 * backend, in the monitor's process) prepares everything that needs allocation or parsing;
 * the child only makes syscalls and reports failures as messages on the sync socket. */
#ifndef BOX_RUNTIME_NATIVE_INIT_H
#define BOX_RUNTIME_NATIVE_INIT_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "linux/cgroup-mode.h"
#include "runtime/seccomp-bpf.h"
#include "runtime/spec.h"

/* Messages on the sync socket (SOCK_SEQPACKET: one message per send). */
typedef enum native_message_kind {
  NATIVE_MSG_GO = 'G',      /* parent -> child: cgroups and id maps are in place */
  NATIVE_MSG_READY = 'R',   /* child -> parent: set up, waiting for start */
  NATIVE_MSG_ERROR = 'E',   /* child -> parent: setup failed (code, errno, text) */
  NATIVE_MSG_CONSOLE = 'C', /* child -> parent: the pty master, as SCM_RIGHTS */
  NATIVE_MSG_PID = 'P',     /* exec helper -> parent: the host pid of the new process */
  NATIVE_MSG_SECCOMP = 'S', /* parent -> child, after GO: the seccomp program
                               (native_seccomp_header, then its instructions) */
} native_message_kind;

typedef struct native_message {
  char kind;
  int code;        /* box_error_code for errors */
  int errno_value; /* 0 when none */
  int pid;
  char text[512];
} native_message;

/* The seccomp program as one message: this header, then the instructions (length of them). */
typedef struct native_seccomp_header {
  char kind; /* NATIVE_MSG_SECCOMP */
  unsigned short length;
} native_seccomp_header;

typedef struct native_init_args {
  const oci_config *config;       /* the bundle's config (mounts, paths, namespaces, ...) */
  const oci_process *process;     /* the process to run (config->process, or an exec's) */
  const char *rootfs;             /* absolute host path of the root filesystem */
  const seccomp_program *seccomp; /* NULL: no filter, or one that follows (seccomp_follows) */
  bool seccomp_follows; /* the parent sends the program after GO (NATIVE_MSG_SECCOMP): it
                           reads it from its cache while this process sets up, which needs
                           it only at its last step */
  int sync_fd;
  int start_fd;          /* create: the start pipe's read end, to block on until start (the init
                   also holds the write end); -1: run at once (exec) */
  int stdio[3];          /* -1: /dev/null */
  int monitor_pidfd;     /* create: a pidfd of the process that created the init; waiting for
                            start ends when it exits (the init must not outlive it unstarted) */
  int devnull_fd;        /* an open /dev/null of the host, for the -1 stdio slots */
  int net_ns_fd;         /* a prepared network namespace to join first, -1: none */
  bool loopback_up;      /* in a network namespace of its own: bring lo up */
  bool report_exec;      /* run at once (start_fd -1): READY right before the execve */
  bool unshare_cgroupns; /* cgroup namespace after the parent attached us (v1, hybrid) */
  bool setup_before_go;  /* the parent makes and joins the box's cgroups while this process
                            sets up: wait for GO only where they matter (the cgroup namespace
                            and mounts, the exec); false: wait for GO first (id maps) */
  bool userns;           /* in a new user namespace: bind devices instead of mknod */
  cgroup_mode cgroup_mode;
  /* set up beside its parent (linux/cpus.h): the parent moved it to moved_to_cpus, and its
   * exec gets parent_cpus back; NULL: not moved */
  const cpu_set_t *parent_cpus;
  const cpu_set_t *moved_to_cpus;
} native_init_args;

/* The box's init: sets up the box, reports READY, waits for start, execs. Never returns. */
__attribute__ ((noreturn)) void native_init_run (const native_init_args *args);

/* An exec'd process already inside the box's namespaces and cgroups: applies the process
 * settings (console, rlimits, cwd, user, capabilities, seccomp) and execs. Never returns. */
__attribute__ ((noreturn)) void native_init_exec (const native_init_args *args);

/* Sends an error message (code, errno, printf text) on fd. Async-signal-safe enough for a
 * forked child of a single-threaded process. */
void native_send_error (int fd, int code, int errno_value, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

#endif
