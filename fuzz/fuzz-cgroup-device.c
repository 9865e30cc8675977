/* Fuzzes the cgroup v2 device filter's compiler: no rule text may crash it, and a program it
 * builds must be one the kernel's verifier takes: every jump forward and inside the program,
 * no path that falls off its end, r0 set before every exit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "linux/cgroup-device.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_input_string (data, size);
  if (!s)
    return 0;
  struct bpf_insn *prog = NULL;
  size_t count = 0;
  box_error *err = NULL;
  if (cgroup_device_program_build (s, &prog, &count, &err) == 0)
    {
      if (count < 2 || prog[count - 1].code != (BPF_JMP | BPF_EXIT))
        abort ();
      for (size_t pc = 0; pc < count; pc++)
        {
          const struct bpf_insn *i = &prog[pc];
          if (BPF_CLASS (i->code) == BPF_JMP32
              && (i->off < 0 || pc + 1 + (size_t) i->off >= count))
            abort ();
          if (i->code == (BPF_JMP | BPF_EXIT)
              && (pc == 0 || prog[pc - 1].code != (BPF_ALU64 | BPF_MOV | BPF_K)
                  || prog[pc - 1].dst_reg != BPF_REG_0))
            abort ();
        }
      free (prog);
    }
  else
    box_error_free (err);
  free (s);
  return 0;
}
