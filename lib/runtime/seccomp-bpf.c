/* Owns the translation of OCI seccomp rules into a BPF program (libseccomp) and its loading,
 * and the on-disk cache of compiled programs. libseccomp is loaded on first use (see
 * util/dynload.h): with the cache warm, a box's monitor never needs it. */
#include "runtime/seccomp-bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/seccomp-tree.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/dynload.h"
#include "util/fs.h"
#include "util/strutil.h"

/* the soname the build linked against (libseccomp2's ABI) */
#define SECCOMP_SONAME "libseccomp.so.2"

#define SECCOMP_FUNCTIONS(X)                                                                       \
  X (seccomp_init)                                                                                 \
  X (seccomp_release)                                                                              \
  X (seccomp_attr_set)                                                                             \
  X (seccomp_arch_add)                                                                             \
  X (seccomp_syscall_resolve_name)                                                                 \
  X (seccomp_syscall_resolve_name_arch)                                                            \
  X (seccomp_arch_native)                                                                          \
  X (seccomp_rule_add_exact_array)                                                                 \
  X (seccomp_rule_add_array)                                                                       \
  X (seccomp_export_bpf)

static struct {
#define SECCOMP_SLOT(name) __typeof__ (&name) name;
  SECCOMP_FUNCTIONS (SECCOMP_SLOT)
#undef SECCOMP_SLOT
} libseccomp;

static pthread_once_t libseccomp_once = PTHREAD_ONCE_INIT;
static bool libseccomp_loaded;
static char libseccomp_error[256];

static void
libseccomp_load_once (void)
{
#define SECCOMP_NAME(name) #name,
  static const char *const names[] = { SECCOMP_FUNCTIONS (SECCOMP_NAME) };
#undef SECCOMP_NAME
  _Static_assert(sizeof names / sizeof names[0] * sizeof (void *) == sizeof libseccomp,
                 "every slot has a name");
  libseccomp_loaded
      = dynload_library (SECCOMP_SONAME, names, (void **) &libseccomp, ARRAY_SIZE (names),
                         libseccomp_error, sizeof libseccomp_error)
        == 0;
}

static bool
libseccomp_load (void)
{
  pthread_once (&libseccomp_once, libseccomp_load_once);
  return libseccomp_loaded;
}

static uint32_t
action_to_scmp (oci_seccomp_action action, bool has_errno, uint32_t errno_ret)
{
  switch (action)
    {
    case OCI_SECCOMP_KILL:
      return SCMP_ACT_KILL_THREAD;
    case OCI_SECCOMP_KILL_PROCESS:
      return SCMP_ACT_KILL_PROCESS;
    case OCI_SECCOMP_TRAP:
      return SCMP_ACT_TRAP;
    case OCI_SECCOMP_ERRNO:
      return SCMP_ACT_ERRNO (has_errno ? errno_ret : EPERM);
    case OCI_SECCOMP_TRACE:
      return SCMP_ACT_TRACE (has_errno ? errno_ret : EPERM);
    case OCI_SECCOMP_LOG:
      return SCMP_ACT_LOG;
    case OCI_SECCOMP_ALLOW:
    default:
      return SCMP_ACT_ALLOW;
    }
}

static enum scmp_compare
op_to_scmp (oci_seccomp_op op)
{
  switch (op)
    {
    case OCI_SECCOMP_OP_NE:
      return SCMP_CMP_NE;
    case OCI_SECCOMP_OP_LT:
      return SCMP_CMP_LT;
    case OCI_SECCOMP_OP_LE:
      return SCMP_CMP_LE;
    case OCI_SECCOMP_OP_EQ:
      return SCMP_CMP_EQ;
    case OCI_SECCOMP_OP_GE:
      return SCMP_CMP_GE;
    case OCI_SECCOMP_OP_GT:
      return SCMP_CMP_GT;
    case OCI_SECCOMP_OP_MASKED_EQ:
    default:
      return SCMP_CMP_MASKED_EQ;
    }
}

static void
seccomp_releasep (scmp_filter_ctx *ctx)
{
  if (*ctx)
    libseccomp.seccomp_release (*ctx);
}

static uint32_t
arch_from_name (const char *name)
{
  static const struct {
    const char *name;
    uint32_t arch;
  } archs[] = {
    { "SCMP_ARCH_X86", SCMP_ARCH_X86 },         { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
    { "SCMP_ARCH_X32", SCMP_ARCH_X32 },         { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
    { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 }, { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
    { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },     { "SCMP_ARCH_PPC", SCMP_ARCH_PPC },
    { "SCMP_ARCH_S390", SCMP_ARCH_S390 },       { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
    { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
  };
  for (size_t i = 0; i < ARRAY_SIZE (archs); i++)
    if (strcmp (name, archs[i].name) == 0)
      return archs[i].arch;
  return 0;
}

/* Several conditions on the same argument mean "any of them" in docker's profiles
 * (personality): one rule per condition, as runc does. Both compilers read rules this way. */
static bool
conditions_are_alternatives (const oci_seccomp_rule *rule)
{
  bool same_arg = rule->n_args > 1;
  for (size_t k = 1; k < rule->n_args; k++)
    same_arg &= rule->args[k].index == rule->args[0].index;
  return same_arg;
}

int
seccomp_program_compile_libseccomp (const oci_seccomp *s, seccomp_program *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  if (!libseccomp_load ())
    return box_err (err, BOX_E_UNSUPPORTED, "seccomp: %s", libseccomp_error);
  uint32_t default_action
      = action_to_scmp (s->default_action, s->has_default_errno_ret, s->default_errno_ret);
  _cleanup_ (seccomp_releasep) scmp_filter_ctx ctx = libseccomp.seccomp_init (default_action);
  if (!ctx)
    return box_err (err, BOX_E_INTERNAL, "seccomp: cannot initialise libseccomp");
  /* no_new_privs is the box's own choice (process.noNewPrivileges), not libseccomp's */
  libseccomp.seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  /* a binary tree of syscall numbers: every syscall of the box is checked in O(log n) */
  libseccomp.seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (char **a = s->architectures; a && *a; a++)
    {
      uint32_t arch = arch_from_name (*a);
      if (!arch)
        return box_err (err, BOX_E_INVALID, "seccomp: unknown architecture %s", *a);
      int rc = libseccomp.seccomp_arch_add (ctx, arch);
      if (rc < 0 && rc != -EEXIST)
        return box_err_errno (err, -rc, "seccomp: add architecture %s", *a);
    }
  for (size_t i = 0; i < s->n_rules; i++)
    {
      const oci_seccomp_rule *rule = &s->rules[i];
      uint32_t action = action_to_scmp (rule->action, rule->has_errno_ret, rule->errno_ret);
      if (action == default_action)
        continue; /* libseccomp refuses rules that repeat the default */
      struct scmp_arg_cmp cmps[6];
      for (size_t k = 0; k < rule->n_args; k++)
        cmps[k] = (struct scmp_arg_cmp){ rule->args[k].index, op_to_scmp (rule->args[k].op),
                                         rule->args[k].value, rule->args[k].value_two };
      for (char **name = rule->names; name && *name; name++)
        {
          int nr = libseccomp.seccomp_syscall_resolve_name (*name);
          if (nr == __NR_SCMP_ERROR)
            continue;
          int rc;
          if (conditions_are_alternatives (rule))
            {
              rc = 0;
              for (size_t k = 0; k < rule->n_args && rc == 0; k++)
                rc = libseccomp.seccomp_rule_add_exact_array (ctx, action, nr, 1, &cmps[k]);
              if (rc == -EOPNOTSUPP || rc == -EDOM)
                for (size_t k = 0;
                     k < rule->n_args && (rc == 0 || rc == -EOPNOTSUPP || rc == -EDOM); k++)
                  rc = libseccomp.seccomp_rule_add_array (ctx, action, nr, 1, &cmps[k]);
            }
          else
            {
              rc = libseccomp.seccomp_rule_add_exact_array (ctx, action, nr,
                                                            (unsigned) rule->n_args, cmps);
              /* a syscall that is multiplexed or absent on a secondary architecture */
              if (rc == -EOPNOTSUPP || rc == -EDOM)
                rc = libseccomp.seccomp_rule_add_array (ctx, action, nr, (unsigned) rule->n_args,
                                                        cmps);
            }
          if (rc < 0 && rc != -EEXIST)
            return box_err_errno (err, -rc, "seccomp: add rule for %s", *name);
        }
    }
  /* libseccomp 2.5 exports only to an fd: a memfd, read back */
  _cleanup_close_ int fd = memfd_create ("seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0)
    return box_err_errno (err, errno, "seccomp: memfd_create");
  int rc = libseccomp.seccomp_export_bpf (ctx, fd);
  if (rc < 0)
    return box_err_errno (err, -rc, "seccomp: export the BPF program");
  struct stat st;
  if (fstat (fd, &st) < 0)
    return box_err_errno (err, errno, "seccomp: fstat");
  size_t n = (size_t) st.st_size / sizeof (struct sock_filter);
  if (n == 0 || n > BPF_MAXINSNS)
    return box_err (err, BOX_E_INVALID, "seccomp: the program has %zu instructions (max %d)", n,
                    BPF_MAXINSNS);
  _cleanup_free_ struct sock_filter *filter = malloc ((size_t) st.st_size);
  if (!filter)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (pread (fd, filter, (size_t) st.st_size, 0) != st.st_size)
    return box_err_errno (err, errno, "seccomp: read the BPF program back");
  out->filter = TAKE_PTR (filter);
  out->length = (unsigned short) n;
  return 0;
}

/* ---- the range tree (runtime/seccomp-tree.h) ------------------------------------------- */

/* The architectures the tree compiler is held to libseccomp on (tests/unit/test-seccomp.c
 * runs on x86_64): x86_64 with x86 and x32 beside it. Elsewhere, libseccomp's program. */
static bool
tree_knows_arch (uint32_t arch, bool *wide)
{
  *wide = arch == SCMP_ARCH_X86_64;
  return arch == SCMP_ARCH_X86_64 || arch == SCMP_ARCH_X86;
}

#define X32_SYSCALL_BIT 0x40000000u

/* x86 reaches the socket and System V IPC calls through multiplexers (socketcall, ipc: the
 * call's number in the first argument) and, since Linux 4.3 and 5.1, most of them directly
 * too. libseccomp resolves their names there to pseudo numbers (-101 for socket, -201 for
 * semop...) and gives a rule both ways in: the direct syscall, and the multiplexer with that
 * first argument. */
#define X86_SOCKETCALL 102
#define X86_IPC 117
#define X86_SOCKET_PSEUDO_BASE 100 /* -(100 + SYS_SOCKET...) */
#define X86_IPC_PSEUDO_BASE 200    /* -(200 + SEMOP...) */

/* the direct x86 syscall of a pseudo number, 0 when it has none */
static uint32_t
x86_direct_syscall (int pseudo)
{
  static const struct {
    int pseudo;
    uint32_t nr;
  } direct[] = {
    { -101, 359 }, { -102, 361 }, { -103, 362 }, { -104, 363 }, { -106, 367 }, { -107, 368 },
    { -108, 360 }, { -111, 369 }, { -112, 371 }, { -113, 373 }, { -114, 366 }, { -115, 365 },
    { -116, 370 }, { -117, 372 }, { -118, 364 }, { -119, 337 }, { -120, 345 }, { -202, 393 },
    { -203, 394 }, { -211, 400 }, { -212, 401 }, { -213, 399 }, { -214, 402 }, { -221, 397 },
    { -222, 398 }, { -223, 395 }, { -224, 396 },
  };
  for (size_t i = 0; i < ARRAY_SIZE (direct); i++)
    if (direct[i].pseudo == pseudo)
      return direct[i].nr;
  return 0;
}

/* "the first argument is call": the multiplexer's case for one call */
#define CALL_ARG(call)                                                                             \
  {                                                                                                \
    0, call, 0, OCI_SECCOMP_OP_EQ                                                                  \
  }
static const oci_seccomp_arg multiplexed_call_args[] = {
  CALL_ARG (0),  CALL_ARG (1),  CALL_ARG (2),  CALL_ARG (3),  CALL_ARG (4),
  CALL_ARG (5),  CALL_ARG (6),  CALL_ARG (7),  CALL_ARG (8),  CALL_ARG (9),
  CALL_ARG (10), CALL_ARG (11), CALL_ARG (12), CALL_ARG (13), CALL_ARG (14),
  CALL_ARG (15), CALL_ARG (16), CALL_ARG (17), CALL_ARG (18), CALL_ARG (19),
  CALL_ARG (20), CALL_ARG (21), CALL_ARG (22), CALL_ARG (23), CALL_ARG (24),
};

/* A rule's way in through a multiplexer, added once every rule is read: a multiplexer that a
 * rule with the same action allows whatever its arguments makes it moot. */
typedef struct multiplexed {
  uint32_t multiplexer, call, action;
  bool conditional; /* the rule compares arguments the multiplexer only points to */
} multiplexed;

/* The syscalls of one section, as the rules are read. */
typedef struct tree_section {
  seccomp_tree_arch arch;
  size_t cap;
  multiplexed *multiplexed;
  size_t n_multiplexed;
} tree_section;

static void
tree_sections_clear (tree_section *sections, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      for (size_t k = 0; k < sections[i].arch.n_syscalls; k++)
        free (sections[i].arch.syscalls[k].cases);
      free (sections[i].arch.syscalls);
      free (sections[i].multiplexed);
    }
}

/* The syscall nr of a section, NULL when no rule names it yet. */
static seccomp_tree_syscall *
find_syscall (tree_section *section, uint32_t nr)
{
  for (size_t i = 0; i < section->arch.n_syscalls; i++)
    if (section->arch.syscalls[i].nr == nr)
      return &section->arch.syscalls[i];
  return NULL;
}

static seccomp_tree_syscall *
section_syscall (tree_section *section, uint32_t nr, uint32_t action, bool *conflict)
{
  seccomp_tree_arch *arch = &section->arch;
  seccomp_tree_syscall *found = find_syscall (section, nr);
  if (found)
    {
      /* two actions for one syscall: libseccomp's precedence between them is not reproduced
       * here */
      *conflict = found->action != action;
      return found;
    }
  if (arch->n_syscalls == section->cap)
    {
      size_t cap = section->cap ? 2 * section->cap : 256;
      seccomp_tree_syscall *grown = realloc (arch->syscalls, cap * sizeof *grown);
      if (!grown)
        return NULL;
      arch->syscalls = grown;
      section->cap = cap;
    }
  seccomp_tree_syscall *sys = &arch->syscalls[arch->n_syscalls++];
  *sys = (seccomp_tree_syscall){ .nr = nr, .action = action };
  return sys;
}

/* A rule's conditions as cases: one case each when they are alternatives, else one case
 * with all of them. */
static int
add_rule_cases (seccomp_tree_syscall *sys, const oci_seccomp_rule *rule)
{
  bool same_arg = conditions_are_alternatives (rule);
  size_t n = same_arg ? rule->n_args : 1;
  seccomp_tree_case *grown = realloc (sys->cases, (sys->n_cases + n) * sizeof *grown);
  if (!grown)
    return -1;
  sys->cases = grown;
  for (size_t k = 0; k < n; k++)
    sys->cases[sys->n_cases++] = same_arg ? (seccomp_tree_case){ &rule->args[k], 1 }
                                          : (seccomp_tree_case){ rule->args, rule->n_args };
  return 0;
}

static int
by_number (const void *a, const void *b)
{
  uint32_t x = ((const seccomp_tree_syscall *) a)->nr, y = ((const seccomp_tree_syscall *) b)->nr;
  return x < y ? -1 : x > y;
}

static int
add_rule (tree_section *section, uint32_t number, uint32_t action, const oci_seccomp_rule *rule,
          bool low_word_only, const char *name, box_error **err)
{
  bool conflict = false;
  seccomp_tree_syscall *sys = section_syscall (section, number, action, &conflict);
  if (!sys)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  sys->low_word_only = low_word_only;
  if (conflict)
    return box_err (err, BOX_E_UNSUPPORTED, "seccomp: two actions for %s", name);
  if (add_rule_cases (sys, rule) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

/* Notes the multiplexer's way in for an x86 pseudo number (others are no syscall there). */
static int
add_multiplexed (tree_section *section, int pseudo, uint32_t action, const oci_seccomp_rule *rule,
                 box_error **err)
{
  uint32_t multiplexer, call;
  if (pseudo <= -X86_SOCKET_PSEUDO_BASE - 1 && pseudo >= -X86_SOCKET_PSEUDO_BASE - 20)
    multiplexer = X86_SOCKETCALL, call = (uint32_t) (-pseudo - X86_SOCKET_PSEUDO_BASE);
  else if (pseudo <= -X86_IPC_PSEUDO_BASE - 1 && pseudo >= -X86_IPC_PSEUDO_BASE - 24)
    multiplexer = X86_IPC, call = (uint32_t) (-pseudo - X86_IPC_PSEUDO_BASE);
  else
    return 0;
  multiplexed *grown
      = realloc (section->multiplexed, (section->n_multiplexed + 1) * sizeof *section->multiplexed);
  if (!grown)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  section->multiplexed = grown;
  section->multiplexed[section->n_multiplexed++]
      = (multiplexed){ multiplexer, call, action, rule->n_args > 0 };
  return 0;
}

static int
add_multiplexers (tree_section *section, box_error **err)
{
  for (size_t i = 0; i < section->n_multiplexed; i++)
    {
      const multiplexed *m = &section->multiplexed[i];
      const seccomp_tree_syscall *sys = find_syscall (section, m->multiplexer);
      bool moot = false;
      for (size_t k = 0; sys && sys->action == m->action && k < sys->n_cases; k++)
        moot |= sys->cases[k].n_args == 0;
      if (moot)
        continue;
      if (m->conditional)
        return box_err (err, BOX_E_UNSUPPORTED, "seccomp: conditions on a multiplexed call");
      oci_seccomp_rule call_rule
          = { .args = (oci_seccomp_arg *) &multiplexed_call_args[m->call], .n_args = 1 };
      if (add_rule (section, m->multiplexer, m->action, &call_rule, false, "a multiplexer", err)
          < 0)
        return box_err_code (err);
    }
  return 0;
}

int
seccomp_program_compile_tree (const oci_seccomp *s, seccomp_program *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  if (!libseccomp_load ())
    return box_err (err, BOX_E_UNSUPPORTED, "seccomp: %s", libseccomp_error);
  uint32_t default_action
      = action_to_scmp (s->default_action, s->has_default_errno_ret, s->default_errno_ret);
  /* the native architecture is always in libseccomp's filters, listed or not */
  uint32_t native = libseccomp.seccomp_arch_native ();
  bool wide;
  if (native != SCMP_ARCH_X86_64)
    return box_err (err, BOX_E_UNSUPPORTED, "seccomp: no range tree on this architecture");
  uint32_t listed[4];
  size_t n_listed = 0;
  listed[n_listed++] = native;
  bool x32 = false;
  for (char **a = s->architectures; a && *a; a++)
    {
      uint32_t arch = arch_from_name (*a);
      if (!arch)
        return box_err (err, BOX_E_INVALID, "seccomp: unknown architecture %s", *a);
      if (arch == SCMP_ARCH_X32)
        {
          x32 = true; /* x86_64's numbers with the x32 bit: in its section */
          continue;
        }
      if (!tree_knows_arch (arch, &wide))
        return box_err (err, BOX_E_UNSUPPORTED, "seccomp: no range tree for %s", *a);
      bool seen = false;
      for (size_t i = 0; i < n_listed; i++)
        seen |= listed[i] == arch;
      if (!seen)
        listed[n_listed++] = arch; /* at most x86_64 and x86 */
    }

  tree_section sections[ARRAY_SIZE (listed)];
  memset (sections, 0, sizeof sections);
  int rc = 0;
  for (size_t a = 0; a < n_listed && rc == 0; a++)
    {
      tree_section *section = &sections[a];
      tree_knows_arch (listed[a], &section->arch.wide_args);
      section->arch.audit_arch = listed[a];
      section->arch.x32_bit_is_bad = listed[a] == SCMP_ARCH_X86_64 && !x32;
      /* x86_64's section resolves every name a second time as an x32 syscall, when listed */
      int passes = listed[a] == SCMP_ARCH_X86_64 && x32 ? 2 : 1;
      for (size_t i = 0; i < s->n_rules && rc == 0; i++)
        {
          const oci_seccomp_rule *rule = &s->rules[i];
          uint32_t action = action_to_scmp (rule->action, rule->has_errno_ret, rule->errno_ret);
          if (action == default_action)
            continue; /* as libseccomp: a rule that repeats the default is none */
          for (char **name = rule->names; name && *name && rc == 0; name++)
            for (int pass = 0; pass < passes && rc == 0; pass++)
              {
                int nr = libseccomp.seccomp_syscall_resolve_name_arch (
                    pass == 0 ? listed[a] : SCMP_ARCH_X32, *name);
                uint32_t number = pass == 0 ? (uint32_t) nr : (uint32_t) nr | X32_SYSCALL_BIT;
                if (nr < 0)
                  {
                    /* not a syscall of this architecture, but x86's multiplexed calls */
                    if (listed[a] != SCMP_ARCH_X86)
                      continue;
                    rc = add_multiplexed (section, nr, action, rule, err);
                    number = x86_direct_syscall (nr);
                    if (rc < 0 || !number)
                      continue;
                  }
                /* x32's arguments are compared on their low word, as libseccomp does */
                rc = add_rule (section, number, action, rule, pass == 1, *name, err);
              }
        }
      if (rc == 0)
        rc = add_multiplexers (section, err);
      if (rc == 0)
        qsort (section->arch.syscalls, section->arch.n_syscalls, sizeof (seccomp_tree_syscall),
               by_number);
    }
  if (rc == 0)
    {
      seccomp_tree_arch archs[ARRAY_SIZE (listed)];
      for (size_t a = 0; a < n_listed; a++)
        archs[a] = sections[a].arch;
      rc = seccomp_tree_build (archs, n_listed, default_action, SCMP_ACT_KILL_THREAD, out, err);
    }
  tree_sections_clear (sections, n_listed);
  return rc;
}

int
seccomp_program_compile (const oci_seccomp *s, seccomp_program *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  seccomp_program tree = { 0 };
  box_error *tree_err = NULL;
  int rc = seccomp_program_compile_tree (s, &tree, &tree_err);
  if (rc < 0 && rc != BOX_E_UNSUPPORTED)
    return box_err_propagate (err, &tree_err);
  box_error_free (tree_err);
  /* the shorter program: the kernel compiles a filter in time that grows with its length.
   * The tree is shorter for profiles that allow much (docker's: 435 instructions against
   * 863), libseccomp's for those that allow a few syscalls and refuse the rest. */
  seccomp_program reference = { 0 };
  box_error *reference_err = NULL;
  if (seccomp_program_compile_libseccomp (s, &reference, &reference_err) < 0)
    {
      if (rc == 0)
        {
          box_error_free (reference_err);
          *out = tree;
          return 0;
        }
      return box_err_propagate (err, &reference_err);
    }
  if (rc == 0 && tree.length <= reference.length)
    {
      seccomp_program_clear (&reference);
      *out = tree;
      return 0;
    }
  seccomp_program_clear (&tree);
  *out = reference;
  return 0;
}

int
seccomp_program_load (const seccomp_program *program)
{
  struct sock_fprog prog = { program->length, program->filter };
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    return -errno;
  return 0;
}

void
seccomp_program_clear (seccomp_program *program)
{
  free (program->filter);
  program->filter = NULL;
  program->length = 0;
}

/* ---- the cache -------------------------------------------------------------------------- */

#define CACHE_MAGIC "BOXBPF2"
#define CACHE_HEADER 16 /* magic, canonical rules length, program length */

/* The rules as bytes, with everything that changes the program: the cache key is a hash of
 * them and the cache file repeats them, so a hash collision is caught by comparison (no
 * cryptographic hash needed, so no libcrypto in the monitor). */
typedef struct canon {
  char *data;
  size_t len, cap;
  bool failed;
} canon;

static void
canon_add (canon *c, const void *data, size_t len)
{
  if (c->failed)
    return;
  if (c->len + len > c->cap)
    {
      size_t cap = c->cap ? c->cap * 2 : 4096;
      while (cap < c->len + len)
        cap *= 2;
      char *grown = realloc (c->data, cap);
      if (!grown)
        {
          c->failed = true;
          return;
        }
      c->data = grown;
      c->cap = cap;
    }
  memcpy (c->data + c->len, data, len);
  c->len += len;
}

static void
canon_str (canon *c, const char *s)
{
  canon_add (c, s, strlen (s) + 1); /* with the NUL: "ab","c" differs from "a","bc" */
}

static void
canon_u64 (canon *c, uint64_t v)
{
  canon_add (c, &v, sizeof v);
}

static int
canonical_rules (const oci_seccomp *s, canon *c, box_error **err)
{
  char version[96];
  /* the header's version: the library the cache was compiled with (same soname, same ABI) */
  snprintf (version, sizeof version, "box-seccomp-cache-3 libseccomp %d.%d.%d %s", SCMP_VER_MAJOR,
            SCMP_VER_MINOR, SCMP_VER_MICRO,
#if defined(__x86_64__)
            "x86_64"
#elif defined(__aarch64__)
            "aarch64"
#else
            "other"
#endif
  );
  canon_str (c, version);
  canon_u64 (c, s->default_action);
  canon_u64 (c, s->has_default_errno_ret);
  canon_u64 (c, s->default_errno_ret);
  for (char **a = s->architectures; a && *a; a++)
    canon_str (c, *a);
  canon_str (c, "");
  canon_u64 (c, s->n_rules);
  for (size_t i = 0; i < s->n_rules; i++)
    {
      const oci_seccomp_rule *r = &s->rules[i];
      for (char **n = r->names; n && *n; n++)
        canon_str (c, *n);
      canon_str (c, "");
      canon_u64 (c, r->action);
      canon_u64 (c, r->has_errno_ret);
      canon_u64 (c, r->errno_ret);
      canon_u64 (c, r->n_args);
      for (size_t k = 0; k < r->n_args; k++)
        {
          canon_u64 (c, r->args[k].index);
          canon_u64 (c, r->args[k].value);
          canon_u64 (c, r->args[k].value_two);
          canon_u64 (c, r->args[k].op);
        }
    }
  if (c->failed)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

static uint64_t
canon_hash (const canon *c)
{
  return digest_fnv1a (DIGEST_FNV1A_INIT, c->data, c->len);
}

static bool
cache_read (const char *path, const canon *c, seccomp_program *out)
{
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  struct stat st;
  char header[CACHE_HEADER];
  if (fstat (fd, &st) < 0 || st.st_size < (off_t) sizeof header
      || read (fd, header, sizeof header) != (ssize_t) sizeof header
      || memcmp (header, CACHE_MAGIC, 8) != 0)
    return false;
  uint32_t canon_len, length;
  memcpy (&canon_len, header + 8, sizeof canon_len);
  memcpy (&length, header + 12, sizeof length);
  size_t bytes = (size_t) length * sizeof (struct sock_filter);
  if (canon_len != c->len || length == 0 || length > BPF_MAXINSNS
      || (size_t) st.st_size != sizeof header + canon_len + bytes)
    return false;
  _cleanup_free_ char *rules = malloc (canon_len + bytes);
  if (!rules || read (fd, rules, canon_len + bytes) != (ssize_t) (canon_len + bytes)
      || memcmp (rules, c->data, canon_len) != 0)
    return false;
  struct sock_filter *filter = malloc (bytes);
  if (!filter)
    return false;
  memcpy (filter, rules + canon_len, bytes);
  out->filter = filter;
  out->length = (unsigned short) length;
  return true;
}

/* A failed write only costs the next box a compile: errors are not reported. */
static void
cache_write (const char *cache_dir, const char *name, const canon *c, const seccomp_program *p)
{
  if (fs_mkdir_p (cache_dir, 0700, NULL) < 0)
    return;
  _cleanup_close_ int dirfd = open (cache_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return;
  size_t bytes = (size_t) p->length * sizeof (struct sock_filter);
  size_t total = CACHE_HEADER + c->len + bytes;
  _cleanup_free_ char *buf = malloc (total);
  if (!buf)
    return;
  memcpy (buf, CACHE_MAGIC, 8);
  uint32_t canon_len = (uint32_t) c->len, length = p->length;
  memcpy (buf + 8, &canon_len, sizeof canon_len);
  memcpy (buf + 12, &length, sizeof length);
  memcpy (buf + CACHE_HEADER, c->data, c->len);
  memcpy (buf + CACHE_HEADER + c->len, p->filter, bytes);
  fs_write_file_atomic (dirfd, name, buf, total, 0600, NULL);
}

int
seccomp_program_get (const oci_seccomp *s, const char *cache_dir, seccomp_program *out,
                     box_error **err)
{
  memset (out, 0, sizeof *out);
  if (!cache_dir)
    return seccomp_program_compile (s, out, err);
  canon c = { 0 };
  int rc = canonical_rules (s, &c, err);
  if (rc == 0)
    {
      char name[32], path[4200];
      snprintf (name, sizeof name, "%016llx.bpf", (unsigned long long) canon_hash (&c));
      snprintf (path, sizeof path, "%s/%s", cache_dir, name);
      if (!cache_read (path, &c, out))
        {
          rc = seccomp_program_compile (s, out, err);
          if (rc == 0)
            cache_write (cache_dir, name, &c, out);
        }
    }
  free (c.data);
  return rc;
}
