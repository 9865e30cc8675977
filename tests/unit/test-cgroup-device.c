/* The cgroup v2 device filter's compiler: the programs it builds from device rules, run by a
 * small interpreter of the instructions it emits, give the v1 devices controller's verdicts.
 * (The kernel's verifier and the real enforcement are exercised in the cgroup v2 guest:
 * tests/integration/test_cgroup_v2.py.) */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "linux/cgroup-device.h"
#include "util/error.h"

#define C BPF_DEVCG_DEV_CHAR
#define B BPF_DEVCG_DEV_BLOCK
#define M BPF_DEVCG_ACC_MKNOD
#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE

/* Runs the program on one access; fails the test on an instruction the compiler should not
 * emit, a jump out of the program, or a fall off its end. */
static int
run (const struct bpf_insn *prog, size_t count, int type, int access, uint32_t major,
     uint32_t minor)
{
  uint32_t ctx[3] = { (uint32_t) access << 16 | (uint32_t) type, major, minor };
  uint64_t reg[11] = { 0 };
  for (size_t pc = 0; pc < count; pc++)
    {
      const struct bpf_insn *i = &prog[pc];
      uint64_t imm = (uint64_t) (int64_t) i->imm;
      switch (i->code)
        {
        case BPF_LDX | BPF_W | BPF_MEM:
          assert_int_equal (i->src_reg, BPF_REG_1);
          assert_true (i->off >= 0 && i->off <= 8 && i->off % 4 == 0);
          reg[i->dst_reg] = ctx[i->off / 4];
          break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
          reg[i->dst_reg] = imm;
          break;
        case BPF_ALU64 | BPF_MOV | BPF_X:
          reg[i->dst_reg] = reg[i->src_reg];
          break;
        case BPF_ALU64 | BPF_AND | BPF_K:
          reg[i->dst_reg] &= imm;
          break;
        case BPF_ALU64 | BPF_RSH | BPF_K:
          reg[i->dst_reg] >>= i->imm;
          break;
        case BPF_JMP32 | BPF_JNE | BPF_K:
        case BPF_JMP32 | BPF_JEQ | BPF_K:
          {
            bool equal = (uint32_t) reg[i->dst_reg] == (uint32_t) i->imm;
            if (equal == (BPF_OP (i->code) == BPF_JEQ))
              pc += (size_t) i->off;
            assert_true (pc + 1 < count);
            break;
          }
        case BPF_JMP | BPF_EXIT:
          return (int) reg[BPF_REG_0];
        default:
          fail_msg ("unexpected instruction %#x at %zu", i->code, pc);
        }
    }
  fail_msg ("the program fell off its end");
  return -1;
}

/* docker's default rules, as the spec builder writes them */
static const char docker_rules[] = "-a *:* rwm\n+c *:* m\n+b *:* m\n+c 1:3 rwm\n+c 1:8 rwm\n"
                                   "+c 1:7 rwm\n+c 5:0 rwm\n+c 1:5 rwm\n+c 1:9 rwm\n+c 5:1 rwm\n"
                                   "+c 136:* rwm\n+c 5:2 rwm\n+c 10:200 rwm\n";

static void
test_docker_defaults (void **state)
{
  struct bpf_insn *prog = NULL;
  size_t n = 0;
  box_error *err = NULL;
  assert_ok (cgroup_device_program_build (docker_rules, &prog, &n, &err), err);
  /* the standard nodes: any access */
  assert_int_equal (run (prog, n, C, R | W, 1, 3), 1);    /* null */
  assert_int_equal (run (prog, n, C, M, 1, 9), 1);        /* urandom */
  assert_int_equal (run (prog, n, C, R, 136, 42), 1);     /* a pty */
  assert_int_equal (run (prog, n, C, R | W, 10, 200), 1); /* tun */
  /* mknod of anything, but nothing else opens */
  assert_int_equal (run (prog, n, B, M, 8, 0), 1);
  assert_int_equal (run (prog, n, B, R, 8, 0), 0);
  assert_int_equal (run (prog, n, B, M | R, 8, 0), 0);
  assert_int_equal (run (prog, n, C, W, 1, 11), 0);    /* kmsg */
  assert_int_equal (run (prog, n, C, R, 1, 1), 0);     /* mem */
  assert_int_equal (run (prog, n, B, R | W, 1, 3), 0); /* a block device 1:3 is not null */
  assert_int_equal (run (prog, n, C, R, 4294967295u, 3), 0);
  free (prog);
}

static void
test_order_and_defaults (void **state)
{
  struct bpf_insn *prog = NULL;
  size_t n = 0;
  box_error *err = NULL;
  /* privileged: everything */
  assert_ok (cgroup_device_program_build ("+a *:* rwm\n", &prog, &n, &err), err);
  assert_int_equal (run (prog, n, B, R | W | M, 8, 0), 1);
  free (prog);
  /* a later rule wins over an earlier one; a deny covering part of an access denies it */
  assert_ok (cgroup_device_program_build ("+a *:* rwm\n-c 1:* w\n+c 1:3 w\n", &prog, &n, &err),
             err);
  assert_int_equal (run (prog, n, C, W, 1, 3), 1);
  assert_int_equal (run (prog, n, C, R | W, 1, 5), 0);
  assert_int_equal (run (prog, n, C, R, 1, 5), 1);
  assert_int_equal (run (prog, n, B, W, 1, 5), 1);
  free (prog);
  /* a wildcard rule resets what came before it */
  assert_ok (cgroup_device_program_build ("+c 1:3 rwm\n-a *:* rwm\n", &prog, &n, &err), err);
  assert_int_equal (run (prog, n, C, R, 1, 3), 0);
  free (prog);
  /* big device numbers compare as unsigned 32-bit */
  assert_ok (cgroup_device_program_build ("-a *:* rwm\n+b 4294967295:7 r\n", &prog, &n, &err), err);
  assert_int_equal (run (prog, n, B, R, 4294967295u, 7), 1);
  assert_int_equal (run (prog, n, B, R | W, 4294967295u, 7), 0);
  assert_int_equal (run (prog, n, B, R, 7, 7), 0);
  free (prog);
}

static void
test_malformed (void **state)
{
  static const char *const bad[] = {
    "c 1:3 rwm\n", "+x 1:3 rwm\n",        "+c 1:3\n",   "+c 1:3 rwx\n",
    "+c 1 rwm\n",  "+c 4294967296:1 r\n", "+c a:1 r\n", "+c 1:3  r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      struct bpf_insn *prog = NULL;
      size_t n = 0;
      box_error *err = NULL;
      assert_int_equal (cgroup_device_program_build (bad[i], &prog, &n, &err) < 0, 1);
      assert_null (prog);
      assert_non_null (strstr (box_error_message (err), "malformed"));
      box_error_free (err);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_docker_defaults),
    cmocka_unit_test (test_order_and_defaults),
    cmocka_unit_test (test_malformed),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
