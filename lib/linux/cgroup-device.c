/* Owns the cgroup v2 device filter: v1-style device rules compiled into an eBPF
 * BPF_PROG_TYPE_CGROUP_DEVICE program, loaded and attached to a box's cgroup. */
#include "linux/cgroup-device.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* the access bits of struct bpf_cgroup_dev_ctx, by their v1 letters */
#define ACCESS_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)

typedef struct device_rule {
  bool allow;
  int type;      /* BPF_DEVCG_DEV_CHAR, BPF_DEVCG_DEV_BLOCK, 0: any */
  int64_t major; /* -1: any */
  int64_t minor; /* -1: any */
  int access;    /* BPF_DEVCG_ACC_* bits */
} device_rule;

static int
parse_number (const char **p, int64_t *out)
{
  if (**p == '*')
    {
      (*p)++;
      *out = -1;
      return 0;
    }
  if (**p < '0' || **p > '9')
    return -1;
  int64_t v = 0;
  while (**p >= '0' && **p <= '9')
    {
      v = v * 10 + (**p - '0');
      if (v > UINT32_MAX)
        return -1;
      (*p)++;
    }
  *out = v;
  return 0;
}

/* One rule: [+-][acb] MAJOR:MINOR ACCESS, the line ending at end. */
static int
parse_rule (const char *p, const char *end, device_rule *r)
{
  if (end - p < 8 || (p[0] != '+' && p[0] != '-'))
    return -1;
  r->allow = p[0] == '+';
  switch (p[1])
    {
    case 'a':
      r->type = 0;
      break;
    case 'c':
      r->type = BPF_DEVCG_DEV_CHAR;
      break;
    case 'b':
      r->type = BPF_DEVCG_DEV_BLOCK;
      break;
    default:
      return -1;
    }
  if (p[2] != ' ')
    return -1;
  p += 3;
  if (parse_number (&p, &r->major) < 0 || *p++ != ':' || parse_number (&p, &r->minor) < 0
      || *p++ != ' ')
    return -1;
  r->access = 0;
  for (; p < end; p++)
    switch (*p)
      {
      case 'r':
        r->access |= BPF_DEVCG_ACC_READ;
        break;
      case 'w':
        r->access |= BPF_DEVCG_ACC_WRITE;
        break;
      case 'm':
        r->access |= BPF_DEVCG_ACC_MKNOD;
        break;
      default:
        return -1;
      }
  return r->access ? 0 : -1;
}

/* ---- instructions ----------------------------------------------------------------------- */

static struct bpf_insn
insn (uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

#define LOAD_CTX_U32(dst, off) insn (BPF_LDX | BPF_W | BPF_MEM, dst, BPF_REG_1, off, 0)
#define ALU64_IMM(op, dst, imm) insn (BPF_ALU64 | (op) | BPF_K, dst, 0, 0, imm)
#define MOV64_REG(dst, src) insn (BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define JMP32_IMM(op, dst, imm, off) insn (BPF_JMP32 | (op) | BPF_K, dst, 0, off, imm)
#define RETURN_IMM(value) ALU64_IMM (BPF_MOV, BPF_REG_0, value)
#define EXIT() insn (BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* registers the prologue fills */
enum {
  R_TYPE = BPF_REG_2,
  R_ACCESS = BPF_REG_3,
  R_MAJOR = BPF_REG_4,
  R_MINOR = BPF_REG_5,
  R_SCRATCH = BPF_REG_6
};

/* The rule's block: every test jumps past the block when it fails; the block ends by
   returning the rule's verdict. Returns the number of instructions written (at most 7). */
static size_t
emit_rule (const device_rule *r, struct bpf_insn *out)
{
  size_t n = 0;
  size_t jumps[5];
  size_t n_jumps = 0;
  if (r->type)
    {
      jumps[n_jumps++] = n;
      out[n++] = JMP32_IMM (BPF_JNE, R_TYPE, r->type, 0);
    }
  if (r->major >= 0)
    {
      jumps[n_jumps++] = n;
      out[n++] = JMP32_IMM (BPF_JNE, R_MAJOR, (int32_t) (uint32_t) r->major, 0);
    }
  if (r->minor >= 0)
    {
      jumps[n_jumps++] = n;
      out[n++] = JMP32_IMM (BPF_JNE, R_MINOR, (int32_t) (uint32_t) r->minor, 0);
    }
  int not_covered = ACCESS_ALL & ~r->access;
  if (r->allow && not_covered)
    {
      /* allow only an access entirely within the rule's */
      out[n++] = MOV64_REG (R_SCRATCH, R_ACCESS);
      out[n++] = ALU64_IMM (BPF_AND, R_SCRATCH, not_covered);
      jumps[n_jumps++] = n;
      out[n++] = JMP32_IMM (BPF_JNE, R_SCRATCH, 0, 0);
    }
  else if (!r->allow && not_covered)
    {
      /* deny an access that touches the rule's */
      out[n++] = MOV64_REG (R_SCRATCH, R_ACCESS);
      out[n++] = ALU64_IMM (BPF_AND, R_SCRATCH, r->access);
      jumps[n_jumps++] = n;
      out[n++] = JMP32_IMM (BPF_JEQ, R_SCRATCH, 0, 0);
    }
  out[n++] = RETURN_IMM (r->allow ? 1 : 0);
  out[n++] = EXIT ();
  for (size_t i = 0; i < n_jumps; i++)
    out[jumps[i]].off = (int16_t) (n - jumps[i] - 1);
  return n;
}

#define MAX_INSNS_PER_RULE 9

int
cgroup_device_program_build (const char *rules, struct bpf_insn **out, size_t *out_count,
                             box_error **err)
{
  *out = NULL;
  *out_count = 0;
  size_t n_lines = 1;
  for (const char *p = rules; *p; p++)
    n_lines += *p == '\n';
  _cleanup_free_ device_rule *list = calloc (n_lines, sizeof *list);
  if (!list)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  size_t n_rules = 0;
  bool default_allow = false; /* the v1 controller's own default is allow; rules start with
                                 "a *:*" in practice, and a filter without one denies */
  for (const char *p = rules; *p;)
    {
      const char *end = p + strcspn (p, "\n");
      if (end > p)
        {
          device_rule r;
          if (parse_rule (p, end, &r) < 0)
            return box_err (err, BOX_E_INVALID, "device rule \"%.*s\" is malformed",
                            (int) (end - p), p);
          if (r.type == 0 && r.major < 0 && r.minor < 0 && r.access == ACCESS_ALL)
            {
              default_allow = r.allow;
              n_rules = 0;
            }
          else
            list[n_rules++] = r;
        }
      p = *end ? end + 1 : end;
    }

  size_t cap = 6 + n_rules * MAX_INSNS_PER_RULE + 2;
  struct bpf_insn *prog = calloc (cap, sizeof *prog);
  if (!prog)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  size_t n = 0;
  /* struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, access_type:
     access << 16 | type */
  prog[n++] = LOAD_CTX_U32 (R_TYPE, 0);
  prog[n++] = MOV64_REG (R_ACCESS, R_TYPE);
  prog[n++] = ALU64_IMM (BPF_AND, R_TYPE, 0xffff);
  prog[n++] = ALU64_IMM (BPF_RSH, R_ACCESS, 16);
  prog[n++] = LOAD_CTX_U32 (R_MAJOR, 4);
  prog[n++] = LOAD_CTX_U32 (R_MINOR, 8);
  /* the last matching rule decides: test them from the last */
  for (size_t i = n_rules; i-- > 0;)
    n += emit_rule (&list[i], prog + n);
  prog[n++] = RETURN_IMM (default_allow ? 1 : 0);
  prog[n++] = EXIT ();
  *out = prog;
  *out_count = n;
  return 0;
}

static int
bpf (int cmd, union bpf_attr *attr)
{
  return (int) syscall (SYS_bpf, cmd, attr, sizeof *attr);
}

int
cgroup_device_filter_attach (int cgroup_fd, const char *rules, box_error **err)
{
  _cleanup_free_ struct bpf_insn *prog = NULL;
  size_t count;
  if (cgroup_device_program_build (rules, &prog, &count, err) < 0)
    return box_err_code (err);
  char log[4096] = "";
  union bpf_attr load;
  memset (&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t) (uintptr_t) prog;
  load.insn_cnt = (uint32_t) count;
  load.license = (uint64_t) (uintptr_t) "Apache-2.0";
  load.log_buf = (uint64_t) (uintptr_t) log;
  load.log_size = sizeof log;
  load.log_level = 1;
  int prog_fd;
  do
    prog_fd = bpf (BPF_PROG_LOAD, &load);
  while (prog_fd < 0 && errno == EINTR);
  if (prog_fd < 0)
    {
      int saved = errno;
      /* a log too small for the verifier's story is no reason to fail: load without one */
      if (saved == ENOSPC)
        {
          load.log_buf = 0;
          load.log_size = 0;
          load.log_level = 0;
          prog_fd = bpf (BPF_PROG_LOAD, &load);
          saved = errno;
        }
      if (prog_fd < 0)
        return box_err_errno (err, saved, "load the cgroup device filter (%zu instructions)%s%s",
                              count, log[0] ? ": " : "", log);
    }
  _cleanup_close_ int fd = prog_fd;
  union bpf_attr attach;
  memset (&attach, 0, sizeof attach);
  attach.target_fd = (uint32_t) cgroup_fd;
  attach.attach_bpf_fd = (uint32_t) fd;
  attach.attach_type = BPF_CGROUP_DEVICE;
  if (bpf (BPF_PROG_ATTACH, &attach) < 0)
    return box_err_errno (err, errno, "attach the device filter to the box's cgroup");
  return 0;
}
