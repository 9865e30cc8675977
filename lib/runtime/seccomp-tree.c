/* Owns the compilation of resolved seccomp rules into a classic-BPF binary search over ranges
 * of syscall numbers (see seccomp-tree.h). */
#include "runtime/seccomp-tree.h"

#include <linux/filter.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* offsets in struct seccomp_data, whose arguments are little-endian u64 on the architectures
 * this compiler is given (x86_64, x86, x32, aarch64, arm) */
#define DATA_NR 0
#define DATA_ARCH 4
#define DATA_ARG_LOW(i) (16 + 8 * (i))
#define DATA_ARG_HIGH(i) (20 + 8 * (i))

/* the x32 ABI's marker in x86_64 syscall numbers, and the number a tracer uses to skip one */
#define X32_SYSCALL_BIT 0x40000000u
#define SKIPPED_SYSCALL 0xffffffffu

/* a conditional jump reaches at most this many instructions ahead */
#define JUMP_MAX 255

typedef struct code {
  struct sock_filter *insns;
  size_t len, cap;
  bool failed;
} code;

static void
code_clear (code *c)
{
  free (c->insns);
  memset (c, 0, sizeof *c);
}

static size_t
emit (code *c, uint16_t op, uint8_t jt, uint8_t jf, uint32_t k)
{
  if (c->len == c->cap)
    {
      size_t cap = c->cap ? 2 * c->cap : 64;
      struct sock_filter *grown = realloc (c->insns, cap * sizeof *grown);
      if (!grown)
        {
          c->failed = true;
          return c->len;
        }
      c->insns = grown;
      c->cap = cap;
    }
  c->insns[c->len] = (struct sock_filter){ op, jt, jf, k };
  return c->len++;
}

static void
append (code *c, const code *tail)
{
  for (size_t i = 0; i < tail->len && !c->failed; i++)
    emit (c, tail->insns[i].code, tail->insns[i].jt, tail->insns[i].jf, tail->insns[i].k);
  c->failed |= tail->failed;
}

static void
emit_load (code *c, uint32_t offset)
{
  emit (c, BPF_LD | BPF_W | BPF_ABS, 0, 0, offset);
}

static void
emit_return (code *c, uint32_t action)
{
  emit (c, BPF_RET | BPF_K, 0, 0, action);
}

/* A comparison's "no" exits: jumps, to be pointed at the end of the case they belong to. */
typedef struct exits {
  size_t at[16];
  bool true_branch[16];
  size_t n;
} exits;

/* A conditional jump that goes on at the next instruction one way and leaves the case the
 * other way (when `fail_if_true`, the jump is taken to leave). */
static void
emit_test (code *c, exits *e, uint16_t jump, uint32_t k, bool fail_if_true)
{
  size_t at = emit (c, BPF_JMP | jump | BPF_K, 0, 0, k);
  e->at[e->n] = at;
  e->true_branch[e->n] = fail_if_true;
  e->n++;
}

/* One word of an ordering comparison, for the low word, or both when wide. `jump` and
 * `fail_if_true` test the low word; the high word decides alone when it differs. */
static void
emit_ordered (code *c, exits *e, const oci_seccomp_arg *a, bool wide, uint16_t jump,
              bool fail_if_true)
{
  uint32_t high = (uint32_t) (a->value >> 32), low = (uint32_t) a->value;
  bool greater = a->op == OCI_SECCOMP_OP_GT || a->op == OCI_SECCOMP_OP_GE;
  if (wide)
    {
      emit_load (c, DATA_ARG_HIGH (a->index));
      if (greater)
        /* high above: holds (over the next three); high below: fails */
        emit (c, BPF_JMP | BPF_JGT | BPF_K, 3, 0, high);
      else
        /* high below: holds; high above: fails */
        emit (c, BPF_JMP | BPF_JGE | BPF_K, 0, 3, high);
      emit_test (c, e, BPF_JEQ, high, false);
    }
  emit_load (c, DATA_ARG_LOW (a->index));
  emit_test (c, e, jump, low, fail_if_true);
}

/* The test of one condition; its failures join `e`. */
static int
emit_condition (code *c, exits *e, const oci_seccomp_arg *a, bool wide, box_error **err)
{
  if (a->index > 5)
    return box_err (err, BOX_E_INVALID, "seccomp: argument index %u (0 to 5)", a->index);
  uint64_t value = a->value, datum = a->value_two;
  if (!wide && ((value >> 32) || (a->op == OCI_SECCOMP_OP_MASKED_EQ && (datum >> 32))))
    return box_err (err, BOX_E_UNSUPPORTED, "seccomp: a 64-bit value on a 32-bit architecture");
  switch (a->op)
    {
    case OCI_SECCOMP_OP_EQ:
      if (wide)
        {
          emit_load (c, DATA_ARG_HIGH (a->index));
          emit_test (c, e, BPF_JEQ, (uint32_t) (value >> 32), false);
        }
      emit_load (c, DATA_ARG_LOW (a->index));
      emit_test (c, e, BPF_JEQ, (uint32_t) value, false);
      return 0;
    case OCI_SECCOMP_OP_NE:
      if (wide)
        {
          emit_load (c, DATA_ARG_HIGH (a->index));
          /* another high word: holds, past the low word's load and test */
          emit (c, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, (uint32_t) (value >> 32));
        }
      emit_load (c, DATA_ARG_LOW (a->index));
      emit_test (c, e, BPF_JEQ, (uint32_t) value, true);
      return 0;
    case OCI_SECCOMP_OP_MASKED_EQ:
      /* value is the mask, value_two what the masked argument must be */
      if (wide)
        {
          emit_load (c, DATA_ARG_HIGH (a->index));
          emit (c, BPF_ALU | BPF_AND | BPF_K, 0, 0, (uint32_t) (value >> 32));
          emit_test (c, e, BPF_JEQ, (uint32_t) (datum >> 32), false);
        }
      emit_load (c, DATA_ARG_LOW (a->index));
      emit (c, BPF_ALU | BPF_AND | BPF_K, 0, 0, (uint32_t) value);
      emit_test (c, e, BPF_JEQ, (uint32_t) datum, false);
      return 0;
    case OCI_SECCOMP_OP_GT:
      emit_ordered (c, e, a, wide, BPF_JGT, false);
      return 0;
    case OCI_SECCOMP_OP_GE:
      emit_ordered (c, e, a, wide, BPF_JGE, false);
      return 0;
    case OCI_SECCOMP_OP_LT:
      emit_ordered (c, e, a, wide, BPF_JGE, true);
      return 0;
    case OCI_SECCOMP_OP_LE:
      emit_ordered (c, e, a, wide, BPF_JGT, true);
      return 0;
    }
  return box_err (err, BOX_E_INVALID, "seccomp: unknown comparison %d", (int) a->op);
}

/* The code for one syscall with conditions: each case in turn, then the default. */
static int
emit_conditional (code *c, const seccomp_tree_syscall *s, bool wide, uint32_t default_action,
                  box_error **err)
{
  for (size_t i = 0; i < s->n_cases; i++)
    {
      const seccomp_tree_case *k = &s->cases[i];
      if (k->n_args > 6)
        return box_err (err, BOX_E_INVALID, "seccomp: %zu conditions in one rule (at most 6)",
                        k->n_args);
      exits e = { .n = 0 };
      for (size_t a = 0; a < k->n_args; a++)
        if (emit_condition (c, &e, &k->args[a], wide, err) < 0)
          return box_err_code (err);
      emit_return (c, s->action);
      if (c->failed)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      /* every failure goes to the next case: the instruction after the return */
      for (size_t x = 0; x < e.n; x++)
        {
          size_t distance = c->len - (e.at[x] + 1);
          if (distance > JUMP_MAX)
            return box_err (err, BOX_E_INTERNAL, "seccomp: a rule's code is too long");
          if (e.true_branch[x])
            c->insns[e.at[x]].jt = (uint8_t) distance;
          else
            c->insns[e.at[x]].jf = (uint8_t) distance;
        }
    }
  emit_return (c, default_action);
  return 0;
}

/* A range of syscall numbers with one outcome: an action, or a syscall's conditions. */
typedef struct segment {
  uint32_t first;
  const seccomp_tree_syscall *syscall; /* NULL: `action` for the whole range */
  uint32_t action;
} segment;

typedef struct segments {
  segment *items;
  size_t n, cap;
  bool failed;
} segments;

/* Appends [first, ...) with an outcome, merged into the last range when that one has the
 * same action. */
static void
add_segment (segments *s, uint32_t first, const seccomp_tree_syscall *syscall, uint32_t action)
{
  if (s->n > 0 && !syscall && !s->items[s->n - 1].syscall && s->items[s->n - 1].action == action)
    return;
  if (s->n == s->cap)
    {
      size_t cap = s->cap ? 2 * s->cap : 64;
      segment *grown = realloc (s->items, cap * sizeof *grown);
      if (!grown)
        {
          s->failed = true;
          return;
        }
      s->items = grown;
      s->cap = cap;
    }
  s->items[s->n++] = (segment){ first, syscall, action };
}

static bool
always_matches (const seccomp_tree_syscall *s)
{
  if (s->n_cases == 0)
    return true;
  for (size_t i = 0; i < s->n_cases; i++)
    if (s->cases[i].n_args == 0)
      return true;
  return false;
}

/* What numbers outside the rules get: the default, or the bad-architecture action. */
static uint32_t
unlisted_action (const seccomp_tree_arch *arch, uint32_t nr, uint32_t default_action,
                 uint32_t bad_arch_action)
{
  if (arch->x32_bit_is_bad && nr >= X32_SYSCALL_BIT && nr != SKIPPED_SYSCALL)
    return bad_arch_action;
  return default_action;
}

/* The gap [from, to] between listed syscalls (to >= from), split where the action changes. */
static void
add_gap (segments *s, const seccomp_tree_arch *arch, uint64_t from, uint64_t to,
         uint32_t default_action, uint32_t bad_arch_action)
{
  static const uint32_t boundaries[] = { X32_SYSCALL_BIT, SKIPPED_SYSCALL };
  add_segment (s, (uint32_t) from, NULL,
               unlisted_action (arch, (uint32_t) from, default_action, bad_arch_action));
  for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++)
    if (boundaries[i] > from && boundaries[i] <= to)
      add_segment (s, boundaries[i], NULL,
                   unlisted_action (arch, boundaries[i], default_action, bad_arch_action));
}

static int
arch_segments (const seccomp_tree_arch *arch, uint32_t default_action, uint32_t bad_arch_action,
               segments *s, box_error **err)
{
  uint64_t next = 0; /* the first number not yet covered */
  for (size_t i = 0; i < arch->n_syscalls; i++)
    {
      const seccomp_tree_syscall *sys = &arch->syscalls[i];
      if (sys->nr < next)
        return box_err (err, BOX_E_INTERNAL, "seccomp: syscall %u listed out of order", sys->nr);
      if (sys->nr > next)
        add_gap (s, arch, next, sys->nr - 1, default_action, bad_arch_action);
      if (always_matches (sys))
        add_segment (s, sys->nr, NULL, sys->action);
      else
        add_segment (s, sys->nr, sys, 0);
      next = (uint64_t) sys->nr + 1;
    }
  if (next <= UINT32_MAX)
    add_gap (s, arch, next, UINT32_MAX, default_action, bad_arch_action);
  return s->failed ? box_err (err, BOX_E_INTERNAL, "out of memory") : 0;
}

/* The search over items[lo, hi): the number is in the accumulator. */
static int
emit_search (code *c, const segment *items, size_t lo, size_t hi, bool wide,
             uint32_t default_action, box_error **err)
{
  if (hi - lo == 1)
    {
      if (!items[lo].syscall)
        {
          emit_return (c, items[lo].action);
          return 0;
        }
      return emit_conditional (c, items[lo].syscall, wide && !items[lo].syscall->low_word_only,
                               default_action, err);
    }
  size_t mid = lo + (hi - lo) / 2;
  _cleanup_ (code_clear) code below = { 0 };
  if (emit_search (&below, items, lo, mid, wide, default_action, err) < 0)
    return box_err_code (err);
  /* at or above the middle range's first number: past the code for the ranges below */
  if (below.len <= JUMP_MAX)
    emit (c, BPF_JMP | BPF_JGE | BPF_K, (uint8_t) below.len, 0, items[mid].first);
  else
    {
      emit (c, BPF_JMP | BPF_JGE | BPF_K, 0, 1, items[mid].first);
      emit (c, BPF_JMP | BPF_JA, 0, 0, (uint32_t) below.len);
    }
  append (c, &below);
  return emit_search (c, items, mid, hi, wide, default_action, err);
}

int
seccomp_tree_build (const seccomp_tree_arch *archs, size_t n_archs, uint32_t default_action,
                    uint32_t bad_arch_action, seccomp_program *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  _cleanup_ (code_clear) code program = { 0 };
  code sections[8] = { 0 };
  if (n_archs == 0 || n_archs > sizeof sections / sizeof sections[0])
    return box_err (err, BOX_E_INVALID, "seccomp: %zu architectures", n_archs);
  int rc = 0;
  for (size_t a = 0; a < n_archs && rc == 0; a++)
    {
      segments s = { 0 };
      rc = arch_segments (&archs[a], default_action, bad_arch_action, &s, err);
      if (rc == 0)
        {
          emit_load (&sections[a], DATA_NR);
          rc = emit_search (&sections[a], s.items, 0, s.n, archs[a].wide_args, default_action, err);
        }
      free (s.items);
      if (rc == 0 && sections[a].failed)
        rc = box_err (err, BOX_E_INTERNAL, "out of memory");
    }

  if (rc == 0)
    {
      /* the dispatch on the architecture: a test and a long jump to its section each, then
       * the return for any other architecture */
      emit_load (&program, DATA_ARCH);
      size_t section = 1 + 2 * n_archs + 1; /* where the first section begins */
      for (size_t a = 0; a < n_archs; a++)
        {
          emit (&program, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, archs[a].audit_arch);
          /* a jump counts from the instruction after it */
          emit (&program, BPF_JMP | BPF_JA, 0, 0, (uint32_t) (section - (program.len + 1)));
          section += sections[a].len;
        }
      emit_return (&program, bad_arch_action);
      for (size_t a = 0; a < n_archs; a++)
        append (&program, &sections[a]);
      if (program.failed)
        rc = box_err (err, BOX_E_INTERNAL, "out of memory");
      else if (program.len > BPF_MAXINSNS)
        rc = box_err (err, BOX_E_INVALID, "seccomp: the program has %zu instructions (max %d)",
                      program.len, BPF_MAXINSNS);
    }
  for (size_t a = 0; a < n_archs; a++)
    code_clear (&sections[a]);
  if (rc < 0)
    return rc;
  out->length = (unsigned short) program.len;
  out->filter = TAKE_PTR (program.insns);
  return 0;
}
