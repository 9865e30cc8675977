/* Compiles a parsed linux.seccomp (runtime/spec.h) into a classic BPF program, in the
 * runtime's own process, so that the box's init only has to hand the ready program to the
 * kernel (one prctl between clone and execve). The program is the shorter of a range tree
 * (runtime/seccomp-tree.h) and libseccomp's. */
#ifndef BOX_RUNTIME_SECCOMP_BPF_H
#define BOX_RUNTIME_SECCOMP_BPF_H

#include <linux/filter.h>
#include <stddef.h>

#include "runtime/spec.h"
#include "util/error.h"

typedef struct seccomp_program {
  struct sock_filter *filter;
  unsigned short length;
} seccomp_program;

/* Syscall names this libseccomp does not know are skipped, as runc does (profiles list
 * syscalls of newer kernels and other architectures). */
int seccomp_program_compile (const oci_seccomp *seccomp, seccomp_program *out, box_error **err);

/* The two candidates. The tree resolves names with libseccomp and mirrors its decisions (the
 * tests hold it to them); it is BOX_E_UNSUPPORTED where it cannot (two actions for one
 * syscall, conditions on a multiplexed x86 call, 64-bit values on a 32-bit architecture,
 * an architecture it does not know). */
int seccomp_program_compile_tree (const oci_seccomp *seccomp, seccomp_program *out,
                                  box_error **err);
int seccomp_program_compile_libseccomp (const oci_seccomp *seccomp, seccomp_program *out,
                                        box_error **err);

/* Like seccomp_program_compile, through a cache of compiled programs in cache_dir (created
 * when missing), keyed by the SHA-256 of the rules, the libseccomp version and the
 * architecture: compiling docker's default profile takes libseccomp 10-20 ms, reading the
 * cached program a few microseconds. cache_dir NULL: no cache. */
int seccomp_program_get (const oci_seccomp *seccomp, const char *cache_dir, seccomp_program *out,
                         box_error **err);

/* Installs the program in the calling thread (needs no_new_privs or CAP_SYS_ADMIN).
 * Returns 0 or -errno; async-signal-safe. */
int seccomp_program_load (const seccomp_program *program);

void seccomp_program_clear (seccomp_program *program);

#endif
