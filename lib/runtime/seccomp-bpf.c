/* Owns the translation of OCI seccomp rules into a BPF program (libseccomp) and its loading. */
#include "runtime/seccomp-bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

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
    seccomp_release (*ctx);
}

static uint32_t
arch_from_name (const char *name)
{
  static const struct
  {
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

int
seccomp_program_compile (const oci_seccomp *s, seccomp_program *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  uint32_t default_action
      = action_to_scmp (s->default_action, s->has_default_errno_ret, s->default_errno_ret);
  _cleanup_ (seccomp_releasep) scmp_filter_ctx ctx = seccomp_init (default_action);
  if (!ctx)
    return box_err (err, BOX_E_INTERNAL, "seccomp: cannot initialise libseccomp");
  /* no_new_privs is the box's own choice (process.noNewPrivileges), not libseccomp's */
  seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  /* a binary tree of syscall numbers: every syscall of the box is checked in O(log n) */
  seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (char **a = s->architectures; a && *a; a++)
    {
      uint32_t arch = arch_from_name (*a);
      if (!arch)
        return box_err (err, BOX_E_INVALID, "seccomp: unknown architecture %s", *a);
      int rc = seccomp_arch_add (ctx, arch);
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
          int nr = seccomp_syscall_resolve_name (*name);
          if (nr == __NR_SCMP_ERROR)
            continue;
          /* several conditions on the same argument mean "any of them" in docker's
             profiles (personality): one rule per condition, as runc does */
          bool same_arg = rule->n_args > 1;
          for (size_t k = 1; k < rule->n_args; k++)
            same_arg &= rule->args[k].index == rule->args[0].index;
          int rc;
          if (same_arg)
            {
              rc = 0;
              for (size_t k = 0; k < rule->n_args && rc == 0; k++)
                rc = seccomp_rule_add_exact_array (ctx, action, nr, 1, &cmps[k]);
              if (rc == -EOPNOTSUPP || rc == -EDOM)
                for (size_t k = 0; k < rule->n_args && (rc == 0 || rc == -EOPNOTSUPP || rc == -EDOM); k++)
                  rc = seccomp_rule_add_array (ctx, action, nr, 1, &cmps[k]);
            }
          else
            {
              rc = seccomp_rule_add_exact_array (ctx, action, nr, (unsigned) rule->n_args, cmps);
              /* a syscall that is multiplexed or absent on a secondary architecture */
              if (rc == -EOPNOTSUPP || rc == -EDOM)
                rc = seccomp_rule_add_array (ctx, action, nr, (unsigned) rule->n_args, cmps);
            }
          if (rc < 0 && rc != -EEXIST)
            return box_err_errno (err, -rc, "seccomp: add rule for %s", *name);
        }
    }
  /* libseccomp 2.5 exports only to an fd: a memfd, read back */
  _cleanup_close_ int fd = memfd_create ("seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0)
    return box_err_errno (err, errno, "seccomp: memfd_create");
  int rc = seccomp_export_bpf (ctx, fd);
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

#define CACHE_MAGIC "BOXBPF1"

static void
hash_add (EVP_MD_CTX *h, const void *data, size_t len)
{
  EVP_DigestUpdate (h, data, len);
}

static void
hash_str (EVP_MD_CTX *h, const char *s)
{
  /* with the NUL: "ab","c" and "a","bc" hash differently */
  hash_add (h, s, strlen (s) + 1);
}

static void
hash_u64 (EVP_MD_CTX *h, uint64_t v)
{
  hash_add (h, &v, sizeof v);
}

static int
rules_digest (const oci_seccomp *s, char hex[65], box_error **err)
{
  EVP_MD_CTX *h = EVP_MD_CTX_new ();
  if (!h || EVP_DigestInit_ex (h, EVP_sha256 (), NULL) != 1)
    {
      EVP_MD_CTX_free (h);
      return box_err (err, BOX_E_INTERNAL, "seccomp: cannot initialise SHA-256");
    }
  const struct scmp_version *v = seccomp_version ();
  char version[96];
  snprintf (version, sizeof version, "box-seccomp-cache-1 libseccomp %u.%u.%u native %u",
            v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0, seccomp_arch_native ());
  hash_str (h, version);
  hash_u64 (h, s->default_action);
  hash_u64 (h, s->has_default_errno_ret);
  hash_u64 (h, s->default_errno_ret);
  for (char **a = s->architectures; a && *a; a++)
    hash_str (h, *a);
  hash_str (h, "");
  hash_u64 (h, s->n_rules);
  for (size_t i = 0; i < s->n_rules; i++)
    {
      const oci_seccomp_rule *r = &s->rules[i];
      for (char **n = r->names; n && *n; n++)
        hash_str (h, *n);
      hash_str (h, "");
      hash_u64 (h, r->action);
      hash_u64 (h, r->has_errno_ret);
      hash_u64 (h, r->errno_ret);
      hash_u64 (h, r->n_args);
      for (size_t k = 0; k < r->n_args; k++)
        {
          hash_u64 (h, r->args[k].index);
          hash_u64 (h, r->args[k].value);
          hash_u64 (h, r->args[k].value_two);
          hash_u64 (h, r->args[k].op);
        }
    }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  int ok = EVP_DigestFinal_ex (h, md, &md_len);
  EVP_MD_CTX_free (h);
  if (ok != 1 || md_len != 32)
    return box_err (err, BOX_E_INTERNAL, "seccomp: SHA-256 failed");
  hex_encode (md, 32, hex);
  return 0;
}

static bool
cache_read (const char *path, seccomp_program *out)
{
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  struct stat st;
  char header[12];
  if (fstat (fd, &st) < 0 || st.st_size < (off_t) sizeof header
      || read (fd, header, sizeof header) != (ssize_t) sizeof header
      || memcmp (header, CACHE_MAGIC, 8) != 0)
    return false;
  uint32_t length;
  memcpy (&length, header + 8, sizeof length);
  size_t bytes = (size_t) length * sizeof (struct sock_filter);
  if (length == 0 || length > BPF_MAXINSNS || (size_t) st.st_size != sizeof header + bytes)
    return false;
  struct sock_filter *filter = malloc (bytes);
  if (!filter)
    return false;
  if (read (fd, filter, bytes) != (ssize_t) bytes)
    {
      free (filter);
      return false;
    }
  out->filter = filter;
  out->length = (unsigned short) length;
  return true;
}

/* A failed write only costs the next box a compile: errors are not reported. */
static void
cache_write (const char *cache_dir, const char *name, const seccomp_program *p)
{
  if (fs_mkdir_p (cache_dir, 0700, NULL) < 0)
    return;
  _cleanup_close_ int dirfd = open (cache_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return;
  size_t bytes = (size_t) p->length * sizeof (struct sock_filter);
  _cleanup_free_ char *buf = malloc (12 + bytes);
  if (!buf)
    return;
  memcpy (buf, CACHE_MAGIC, 8);
  uint32_t length = p->length;
  memcpy (buf + 8, &length, sizeof length);
  memcpy (buf + 12, p->filter, bytes);
  fs_write_file_atomic (dirfd, name, buf, 12 + bytes, 0600, NULL);
}

int
seccomp_program_get (const oci_seccomp *s, const char *cache_dir, seccomp_program *out,
                     box_error **err)
{
  memset (out, 0, sizeof *out);
  if (!cache_dir)
    return seccomp_program_compile (s, out, err);
  char hex[65];
  if (rules_digest (s, hex, err) < 0)
    return box_err_code (err);
  char name[80], path[4200];
  snprintf (name, sizeof name, "%s.bpf", hex);
  snprintf (path, sizeof path, "%s/%s", cache_dir, name);
  if (cache_read (path, out))
    return 0;
  if (seccomp_program_compile (s, out, err) < 0)
    return box_err_code (err);
  cache_write (cache_dir, name, out);
  return 0;
}
