/* Builds a seccomp classic-BPF program from resolved per-architecture rules as a binary search
 * over ranges of syscall numbers: consecutive numbers with the same outcome (docker's default
 * profile allows ~290 x86_64 syscalls in ~30 runs) cost one comparison together. The
 * program is a third of the size of libseccomp's, which keeps a leaf per syscall; the
 * kernel JIT-compiles a filter at every load, in time that grows with its length (about
 * 0.27 ms for libseccomp's 863 instructions here, on the path of every box's start), and
 * every syscall of the box runs through it. */
#ifndef BOX_RUNTIME_SECCOMP_TREE_H
#define BOX_RUNTIME_SECCOMP_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/seccomp-bpf.h"
#include "runtime/spec.h"
#include "util/error.h"

/* One way a syscall's rule matches: all of its conditions hold (none: always). */
typedef struct seccomp_tree_case {
  const oci_seccomp_arg *args;
  size_t n_args;
} seccomp_tree_case;

/* A syscall with a rule: `action` when any case matches, the default action otherwise. */
typedef struct seccomp_tree_syscall {
  uint32_t nr;
  uint32_t action; /* SECCOMP_RET_* with its data */
  seccomp_tree_case *cases;
  size_t n_cases;
  bool low_word_only; /* compares the low word of its arguments on a 64-bit architecture
                         (x32's syscalls in x86_64's section, as libseccomp does) */
} seccomp_tree_syscall;

typedef struct seccomp_tree_arch {
  uint32_t audit_arch; /* AUDIT_ARCH_*, as in seccomp_data.arch */
  bool wide_args;      /* 64-bit arguments: both words compared; else the low word only */
  /* x86_64 without x32: numbers with the x32 bit (but -1) are of no architecture the filter
   * knows, and get the bad-architecture action, as with libseccomp */
  bool x32_bit_is_bad;
  seccomp_tree_syscall *syscalls; /* sorted by nr, each nr once */
  size_t n_syscalls;
} seccomp_tree_arch;

/* Builds the program; BOX_E_UNSUPPORTED when a condition cannot be expressed for an
 * architecture (a 64-bit value on a 32-bit one): the caller then uses libseccomp. */
int seccomp_tree_build (const seccomp_tree_arch *archs, size_t n_archs, uint32_t default_action,
                        uint32_t bad_arch_action, seccomp_program *out, box_error **err);

#endif
