/* Owns box's default seccomp profile (as data, in docker's profile format) and the
 * translation of any docker-format profile into OCI linux.seccomp for one capability set,
 * architecture and kernel. */
#include "runtime/seccomp-profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "linux/caps.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/json.h"

/* Syscalls every box may make: the ordinary life of a process, with nothing that reaches
 * outside its namespaces. */
static const char default_allowed[]
    = "accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown "
      "chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime "
      "clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect "
      "copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old "
      "epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit "
      "exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir "
      "fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr "
      "flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 "
      "fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv "
      "futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid "
      "geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp "
      "getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 "
      "getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid "
      "gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 "
      "inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents "
      "io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill "
      "landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 "
      "lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr "
      "lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore "
      "mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr "
      "mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend "
      "mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock "
      "munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 "
      "pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll "
      "ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 "
      "pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv "
      "recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat "
      "renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask "
      "rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 "
      "rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max "
      "sched_get_priority_min sched_getscheduler sched_rr_get_interval "
      "sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam "
      "sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop "
      "semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 "
      "setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority "
      "setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 "
      "setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid "
      "setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 "
      "sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx "
      "symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create "
      "timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime "
      "timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime "
      "timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat "
      "utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev";

/* The namespace flags clone must not carry without CAP_SYS_ADMIN: CLONE_NEWNS | NEWUTS | NEWIPC
 * | NEWUSER | NEWPID | NEWNET | NEWCGROUP. */
#define CLONE_NAMESPACE_FLAGS 2114060288ULL
#define AF_VSOCK_FAMILY 40
#define PERSONALITY_LINUX32 8
#define PERSONALITY_UNAME26 0x20000
#define PERSONALITY_QUERY 0xffffffffULL

typedef struct profile_group {
  const char *names;        /* space-separated */
  const char *action;       /* NULL: SCMP_ACT_ALLOW */
  int errno_ret;            /* with SCMP_ACT_ERRNO */
  const char *include_caps; /* space-separated; all required */
  const char *exclude_caps; /* space-separated; any excludes */
  const char *include_arches;
  const char *exclude_arches;
  const char *min_kernel;
  int arg_index; /* -1: no argument condition */
  unsigned long long arg_value;
  const char *arg_op;
} profile_group;

#define NO_ARG -1, 0, NULL

static const profile_group default_groups[] = {
  { default_allowed, NULL, 0, NULL, NULL, NULL, NULL, NULL, NO_ARG },
  { "process_vm_readv process_vm_writev ptrace", NULL, 0, NULL, NULL, NULL, NULL, "4.8", NO_ARG },
  { "socket", NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, AF_VSOCK_FAMILY, "SCMP_CMP_NE" },
  { "personality", NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, "SCMP_CMP_EQ" },
  { "personality", NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, PERSONALITY_LINUX32, "SCMP_CMP_EQ" },
  { "personality", NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, PERSONALITY_UNAME26, "SCMP_CMP_EQ" },
  { "personality", NULL, 0, NULL, NULL, NULL, NULL, NULL, 0,
    PERSONALITY_UNAME26 | PERSONALITY_LINUX32, "SCMP_CMP_EQ" },
  { "personality", NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, PERSONALITY_QUERY, "SCMP_CMP_EQ" },
  { "sync_file_range2 swapcontext", NULL, 0, NULL, NULL, "ppc64le", NULL, NULL, NO_ARG },
  { "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", NULL, 0,
    NULL, NULL, "arm arm64", NULL, NULL, NO_ARG },
  { "arch_prctl", NULL, 0, NULL, NULL, "amd64 x32", NULL, NULL, NO_ARG },
  { "modify_ldt", NULL, 0, NULL, NULL, "amd64 x32 x86", NULL, NULL, NO_ARG },
  { "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", NULL, 0, NULL, NULL, "s390 s390x",
    NULL, NULL, NO_ARG },
  { "riscv_flush_icache", NULL, 0, NULL, NULL, "riscv64", NULL, NULL, NO_ARG },
  { "open_by_handle_at", NULL, 0, "CAP_DAC_READ_SEARCH", NULL, NULL, NULL, NULL, NO_ARG },
  { "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
    "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
    "sethostname setns syslog umount umount2 unshare",
    NULL, 0, "CAP_SYS_ADMIN", NULL, NULL, NULL, NULL, NO_ARG },
  { "clone", NULL, 0, NULL, "CAP_SYS_ADMIN", NULL, "s390 s390x", NULL, 0, CLONE_NAMESPACE_FLAGS,
    "SCMP_CMP_MASKED_EQ" },
  { "clone", NULL, 0, NULL, "CAP_SYS_ADMIN", "s390 s390x", NULL, NULL, 1, CLONE_NAMESPACE_FLAGS,
    "SCMP_CMP_MASKED_EQ" },
  /* clone3's flags live in memory seccomp cannot read: ENOSYS makes libc fall back to clone,
     whose flags the rule above checks */
  { "clone3", "SCMP_ACT_ERRNO", 38, NULL, "CAP_SYS_ADMIN", NULL, NULL, NULL, NO_ARG },
  { "reboot", NULL, 0, "CAP_SYS_BOOT", NULL, NULL, NULL, NULL, NO_ARG },
  { "chroot", NULL, 0, "CAP_SYS_CHROOT", NULL, NULL, NULL, NULL, NO_ARG },
  { "delete_module init_module finit_module", NULL, 0, "CAP_SYS_MODULE", NULL, NULL, NULL, NULL,
    NO_ARG },
  { "acct", NULL, 0, "CAP_SYS_PACCT", NULL, NULL, NULL, NULL, NO_ARG },
  { "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", NULL, 0,
    "CAP_SYS_PTRACE", NULL, NULL, NULL, NULL, NO_ARG },
  { "iopl ioperm", NULL, 0, "CAP_SYS_RAWIO", NULL, NULL, NULL, NULL, NO_ARG },
  { "settimeofday stime clock_settime clock_settime64", NULL, 0, "CAP_SYS_TIME", NULL, NULL, NULL,
    NULL, NO_ARG },
  { "vhangup", NULL, 0, "CAP_SYS_TTY_CONFIG", NULL, NULL, NULL, NULL, NO_ARG },
  { "get_mempolicy mbind set_mempolicy set_mempolicy_home_node", NULL, 0, "CAP_SYS_NICE", NULL,
    NULL, NULL, NULL, NO_ARG },
  { "syslog", NULL, 0, "CAP_SYSLOG", NULL, NULL, NULL, NULL, NO_ARG },
  { "bpf", NULL, 0, "CAP_BPF", NULL, NULL, NULL, NULL, NO_ARG },
  { "perf_event_open", NULL, 0, "CAP_PERFMON", NULL, NULL, NULL, NULL, NO_ARG },
};

static json_t *
words_array (const char *words)
{
  json_t *array = json_array ();
  if (!array)
    return NULL;
  const char *p = words;
  while (*p)
    {
      while (*p == ' ')
        p++;
      size_t len = strcspn (p, " ");
      if (len == 0)
        break;
      if (json_array_append_new (array, json_stringn (p, len)) < 0)
        {
          json_decref (array);
          return NULL;
        }
      p += len;
    }
  return array;
}

static json_t *
group_to_json (const profile_group *g)
{
  json_t *entry = json_pack ("{s:o, s:s}", "names", words_array (g->names), "action",
                             g->action ? g->action : "SCMP_ACT_ALLOW");
  if (!entry)
    return NULL;
  int rc = 0;
  if (g->errno_ret)
    rc |= json_object_set_new (entry, "errnoRet", json_integer (g->errno_ret));
  if (g->arg_index >= 0)
    rc |= json_object_set_new (entry, "args",
                               json_pack ("[{s:i, s:I, s:I, s:s}]", "index", g->arg_index, "value",
                                          (json_int_t) g->arg_value, "valueTwo", (json_int_t) 0,
                                          "op", g->arg_op));
  if (g->include_caps || g->include_arches || g->min_kernel)
    {
      json_t *includes = json_object ();
      rc |= json_object_set_new (entry, "includes", includes);
      if (includes && g->include_caps)
        rc |= json_object_set_new (includes, "caps", words_array (g->include_caps));
      if (includes && g->include_arches)
        rc |= json_object_set_new (includes, "arches", words_array (g->include_arches));
      if (includes && g->min_kernel)
        rc |= json_object_set_new (includes, "minKernel", json_string (g->min_kernel));
    }
  if (g->exclude_caps || g->exclude_arches)
    {
      json_t *excludes = json_object ();
      rc |= json_object_set_new (entry, "excludes", excludes);
      if (excludes && g->exclude_caps)
        rc |= json_object_set_new (excludes, "caps", words_array (g->exclude_caps));
      if (excludes && g->exclude_arches)
        rc |= json_object_set_new (excludes, "arches", words_array (g->exclude_arches));
    }
  if (rc)
    {
      json_decref (entry);
      return NULL;
    }
  return entry;
}

json_t *
seccomp_profile_default (void)
{
  _cleanup_json_ json_t *syscalls = json_array ();
  if (!syscalls)
    return NULL;
  for (size_t i = 0; i < ARRAY_SIZE (default_groups); i++)
    if (json_array_append_new (syscalls, group_to_json (&default_groups[i])) < 0)
      return NULL;
  return json_pack (
      "{s:s, s:i, s:[{s:s, s:[s,s]}, {s:s, s:[s]}, {s:s, s:[s]}, {s:s, s:[s,s]}], s:O}",
      "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", 1, "archMap", "architecture",
      "SCMP_ARCH_X86_64", "subArchitectures", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "architecture",
      "SCMP_ARCH_AARCH64", "subArchitectures", "SCMP_ARCH_ARM", "architecture", "SCMP_ARCH_S390X",
      "subArchitectures", "SCMP_ARCH_S390", "architecture", "SCMP_ARCH_PPC64LE", "subArchitectures",
      "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC", "syscalls", syscalls);
}

/* A string and its end into an FNV-1a hash (NULL is told apart from ""). */
static uint64_t
fnv_add (uint64_t h, const char *s)
{
  if (!s)
    s = "\x01";
  return digest_fnv1a (h, s, strlen (s) + 1);
}

static uint64_t
fnv_add_u64 (uint64_t h, uint64_t v)
{
  char digits[24];
  snprintf (digits, sizeof digits, "%llx", (unsigned long long) v);
  return fnv_add (h, digits);
}

/* ---- translation ------------------------------------------------------------------------ */

typedef struct host_facts {
  const char *docker_arch; /* docker's (Go's) name: amd64, arm64, ... */
  const char *scmp_arch;   /* SCMP_ARCH_X86_64, ... */
  int kernel_major, kernel_minor;
} host_facts;

static void
host_facts_detect (host_facts *facts)
{
#if defined(__x86_64__)
  facts->docker_arch = "amd64";
  facts->scmp_arch = "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
  facts->docker_arch = "arm64";
  facts->scmp_arch = "SCMP_ARCH_AARCH64";
#elif defined(__s390x__)
  facts->docker_arch = "s390x";
  facts->scmp_arch = "SCMP_ARCH_S390X";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  facts->docker_arch = "ppc64le";
  facts->scmp_arch = "SCMP_ARCH_PPC64LE";
#elif defined(__riscv) && __riscv_xlen == 64
  facts->docker_arch = "riscv64";
  facts->scmp_arch = "SCMP_ARCH_RISCV64";
#else
  facts->docker_arch = "unknown";
  facts->scmp_arch = "SCMP_ARCH_NATIVE";
#endif
  struct utsname uts;
  facts->kernel_major = facts->kernel_minor = 0;
  if (uname (&uts) == 0)
    sscanf (uts.release, "%d.%d", &facts->kernel_major, &facts->kernel_minor);
}

static bool
array_has_string (const json_t *array, const char *s)
{
  size_t i;
  json_t *v;
  json_array_foreach (array, i, v) if (json_is_string (v)
                                       && strcmp (json_string_value (v), s) == 0) return true;
  return false;
}

/* Checks a "caps" list: all present (want_all) or any present (!want_all). */
static int
caps_condition (const json_t *list, uint64_t caps, bool want_all, bool *out, box_error **err)
{
  size_t i;
  json_t *v;
  bool all = true, any = false;
  json_array_foreach (list, i, v)
  {
    int cap = json_is_string (v) ? caps_from_name (json_string_value (v)) : -1;
    if (cap < 0)
      return box_err (err, BOX_E_INVALID, "unknown capability %s in a seccomp condition",
                      json_is_string (v) ? json_string_value (v) : "(not a string)");
    bool has = caps & (UINT64_C (1) << cap);
    all &= has;
    any |= has;
  }
  *out = want_all ? all : any;
  return 0;
}

static int
entry_applies (const json_t *entry, uint64_t caps, const host_facts *facts, bool *out,
               box_error **err)
{
  *out = false;
  const json_t *includes = json_object_get (entry, "includes");
  const json_t *excludes = json_object_get (entry, "excludes");
  bool ok;
  if (includes && !json_is_object (includes))
    return box_err (err, BOX_E_INVALID, "\"includes\" is not an object");
  if (excludes && !json_is_object (excludes))
    return box_err (err, BOX_E_INVALID, "\"excludes\" is not an object");
  if (includes)
    {
      const json_t *arches = json_object_get (includes, "arches");
      if (json_is_array (arches) && json_array_size (arches) > 0
          && !array_has_string (arches, facts->docker_arch))
        return 0;
      const json_t *list = json_object_get (includes, "caps");
      if (json_is_array (list) && json_array_size (list) > 0)
        {
          if (caps_condition (list, caps, true, &ok, err) < 0)
            return box_err_code (err);
          if (!ok)
            return 0;
        }
      const json_t *min_kernel = json_object_get (includes, "minKernel");
      if (json_is_string (min_kernel))
        {
          int major = 0, minor = 0;
          if (sscanf (json_string_value (min_kernel), "%d.%d", &major, &minor) < 1)
            return box_err (err, BOX_E_INVALID, "invalid minKernel \"%s\"",
                            json_string_value (min_kernel));
          if (facts->kernel_major < major
              || (facts->kernel_major == major && facts->kernel_minor < minor))
            return 0;
        }
    }
  if (excludes)
    {
      const json_t *arches = json_object_get (excludes, "arches");
      if (json_is_array (arches) && array_has_string (arches, facts->docker_arch))
        return 0;
      const json_t *list = json_object_get (excludes, "caps");
      if (json_is_array (list) && json_array_size (list) > 0)
        {
          if (caps_condition (list, caps, false, &ok, err) < 0)
            return box_err_code (err);
          if (ok)
            return 0;
        }
    }
  *out = true;
  return 0;
}

/* Whether the kernel runs x32 binaries (CONFIG_X86_X32_ABI, off in most distributions). A
 * filter section for an ABI the kernel refuses anyway only makes every box's filter bigger. */
static bool
kernel_has_x32 (void)
{
#if defined(__x86_64__)
  static int known = -1;
  if (known < 0)
    {
      /* getpid through the x32 entry: ENOSYS when the ABI is compiled out */
      long rc = syscall (0x40000000L | 39L);
      known = !(rc < 0 && errno == ENOSYS);
    }
  return known;
#else
  return false;
#endif
}

static int
architectures_for_host (const json_t *profile, const host_facts *facts, json_t **out,
                        box_error **err)
{
  const json_t *plain = json_object_get (profile, "architectures");
  if (json_is_array (plain))
    {
      *out = json_deep_copy (plain);
      return *out ? 0 : box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  _cleanup_json_ json_t *archs = json_array ();
  if (!archs)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  const json_t *arch_map = json_object_get (profile, "archMap");
  size_t i;
  json_t *m;
  json_array_foreach (arch_map, i, m)
  {
    const json_t *arch = json_object_get (m, "architecture");
    if (!json_is_string (arch) || strcmp (json_string_value (arch), facts->scmp_arch) != 0)
      continue;
    json_array_append (archs, (json_t *) arch);
    size_t j;
    json_t *sub;
    json_array_foreach (json_object_get (m, "subArchitectures"), j,
                        sub) if (json_is_string (sub)
                                 && (strcmp (json_string_value (sub), "SCMP_ARCH_X32") != 0
                                     || kernel_has_x32 ())) json_array_append (archs, sub);
  }
  *out = TAKE_PTR (archs);
  return 0;
}

int
seccomp_profile_to_oci (const json_t *profile, uint64_t caps, json_t **out, box_error **err)
{
  if (!json_is_object (profile))
    return box_err (err, BOX_E_INVALID, "seccomp profile: expected a JSON object");
  const json_t *default_action = json_object_get (profile, "defaultAction");
  if (!json_is_string (default_action))
    return box_err (err, BOX_E_INVALID, "seccomp profile: \"defaultAction\" is missing");
  host_facts facts;
  host_facts_detect (&facts);

  _cleanup_json_ json_t *result = json_pack ("{s:O}", "defaultAction", default_action);
  _cleanup_json_ json_t *syscalls = json_array ();
  if (!result || !syscalls)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  const json_t *default_errno = json_object_get (profile, "defaultErrnoRet");
  if (default_errno)
    {
      if (!json_is_integer (default_errno))
        return box_err (err, BOX_E_INVALID, "seccomp profile: \"defaultErrnoRet\" is not a number");
      json_object_set (result, "defaultErrnoRet", (json_t *) default_errno);
    }
  json_t *archs = NULL;
  if (architectures_for_host (profile, &facts, &archs, err) < 0)
    return box_err_wrap (err, "seccomp profile");
  json_object_set_new (result, "architectures", archs);

  const json_t *entries = json_object_get (profile, "syscalls");
  if (entries && !json_is_array (entries))
    return box_err (err, BOX_E_INVALID, "seccomp profile: \"syscalls\" is not an array");
  size_t i;
  json_t *entry;
  json_array_foreach (entries, i, entry)
  {
    if (!json_is_object (entry))
      return box_err (err, BOX_E_INVALID, "seccomp profile: syscalls[%zu] is not an object", i);
    bool applies;
    if (entry_applies (entry, caps, &facts, &applies, err) < 0)
      return box_err_wrap (err, "seccomp profile: syscalls[%zu]", i);
    if (!applies)
      continue;
    const json_t *action = json_object_get (entry, "action");
    if (!json_is_string (action))
      return box_err (err, BOX_E_INVALID, "seccomp profile: syscalls[%zu]: \"action\" is missing",
                      i);
    _cleanup_json_ json_t *names = NULL;
    const json_t *list = json_object_get (entry, "names");
    const json_t *single = json_object_get (entry, "name");
    if (json_is_array (list))
      names = json_deep_copy (list);
    else if (json_is_string (single))
      names = json_pack ("[O]", single);
    else
      return box_err (err, BOX_E_INVALID, "seccomp profile: syscalls[%zu]: no \"names\"", i);
    _cleanup_json_ json_t *rule = json_pack ("{s:O, s:O}", "names", names, "action", action);
    if (!rule)
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    const json_t *errno_ret = json_object_get (entry, "errnoRet");
    if (errno_ret)
      json_object_set (rule, "errnoRet", (json_t *) errno_ret);
    const json_t *args = json_object_get (entry, "args");
    if (json_is_array (args) && json_array_size (args) > 0)
      json_object_set (rule, "args", (json_t *) args);
    json_array_append (syscalls, rule);
  }
  json_object_set (result, "syscalls", syscalls);
  *out = TAKE_PTR (result);
  return 0;
}

/* ---- the default profile's translation, kept as text ------------------------------------- */

/* what a cache file's name covers besides its inputs: the file's layout */
#define DEFAULT_OCI_CACHE_FORMAT "box-seccomp-oci-1"
#define HASH_LINE 17 /* 16 hex digits and a newline */

/* Every input of the translation: the default profile's data, the capabilities, the host. */
static uint64_t
default_oci_key (uint64_t caps, const host_facts *facts)
{
  uint64_t h = fnv_add (DIGEST_FNV1A_INIT, DEFAULT_OCI_CACHE_FORMAT);
  for (size_t i = 0; i < ARRAY_SIZE (default_groups); i++)
    {
      const profile_group *g = &default_groups[i];
      h = fnv_add (h, g->names);
      h = fnv_add (h, g->action);
      h = fnv_add_u64 (h, (uint64_t) g->errno_ret);
      h = fnv_add (h, g->include_caps);
      h = fnv_add (h, g->exclude_caps);
      h = fnv_add (h, g->include_arches);
      h = fnv_add (h, g->exclude_arches);
      h = fnv_add (h, g->min_kernel);
      h = fnv_add_u64 (h, (uint64_t) g->arg_index);
      h = fnv_add_u64 (h, g->arg_value);
      h = fnv_add (h, g->arg_op);
    }
  h = fnv_add_u64 (h, caps);
  h = fnv_add (h, facts->docker_arch);
  h = fnv_add (h, facts->scmp_arch);
  h = fnv_add_u64 (h, (uint64_t) facts->kernel_major);
  return fnv_add_u64 (h, (uint64_t) facts->kernel_minor);
}

/* A cache file: the text's hash on the first line, then the text. NULL when missing, torn or
 * altered. */
static char *
default_oci_read (int dir_fd, const char *name)
{
  _cleanup_free_ char *data = NULL;
  size_t len = 0;
  box_error *ignored = NULL;
  if (dir_fd < 0 || fs_read_file (dir_fd, name, &data, &len, &ignored) < 0)
    {
      box_error_free (ignored);
      return NULL;
    }
  char expected[HASH_LINE + 1];
  if (len <= HASH_LINE)
    return NULL;
  snprintf (expected, sizeof expected, "%016llx\n",
            (unsigned long long) digest_fnv1a (DIGEST_FNV1A_INIT, data + HASH_LINE, len - HASH_LINE));
  if (memcmp (data, expected, HASH_LINE) != 0 || data[HASH_LINE] != '{')
    return NULL;
  memmove (data, data + HASH_LINE, len - HASH_LINE + 1);
  return TAKE_PTR (data);
}

int
seccomp_profile_default_oci_text (uint64_t caps, const char *cache_dir, char **out,
                                  box_error **err)
{
  host_facts facts;
  host_facts_detect (&facts);
  char name[64];
  snprintf (name, sizeof name, "oci-%016llx.json",
            (unsigned long long) default_oci_key (caps, &facts));
  if (mkdir (cache_dir, 0700) < 0 && errno != EEXIST)
    return box_err_errno (err, errno, "mkdir %s", cache_dir);
  _cleanup_close_ int dir_fd = open (cache_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  char *cached = default_oci_read (dir_fd, name);
  if (cached)
    {
      *out = cached;
      return 0;
    }

  _cleanup_json_ json_t *profile = seccomp_profile_default ();
  _cleanup_json_ json_t *oci = NULL;
  if (!profile)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (seccomp_profile_to_oci (profile, caps, &oci, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *text = json_dumps (oci, JSON_COMPACT);
  _cleanup_free_ char *file = NULL;
  if (!text
      || asprintf (&file, "%016llx\n%s", (unsigned long long) digest_fnv1a (DIGEST_FNV1A_INIT, text, strlen (text)),
                   text)
             < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  /* a cache that cannot be written costs the next box this translation again, nothing more */
  box_error *ignored = NULL;
  if (dir_fd < 0 || fs_write_file_replace (dir_fd, name, file, strlen (file), 0600, &ignored) < 0)
    box_error_free (ignored);
  *out = TAKE_PTR (text);
  return 0;
}
