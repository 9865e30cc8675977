/* Owns capability names, docker's default capability set and the raw capset / prctl calls
 * that apply capability sets to the calling process. */
#include "linux/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stddef.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

static const char *const cap_names[CAPS_LAST + 1] = {
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
};

#define BIT(c) (UINT64_C (1) << (c))

uint64_t
caps_docker_default (void)
{
  return BIT (CAP_CHOWN) | BIT (CAP_DAC_OVERRIDE) | BIT (CAP_FSETID) | BIT (CAP_FOWNER)
         | BIT (CAP_MKNOD) | BIT (CAP_NET_RAW) | BIT (CAP_SETGID) | BIT (CAP_SETUID)
         | BIT (CAP_SETFCAP) | BIT (CAP_SETPCAP) | BIT (CAP_NET_BIND_SERVICE) | BIT (CAP_SYS_CHROOT)
         | BIT (CAP_KILL) | BIT (CAP_AUDIT_WRITE);
}

uint64_t
caps_all (void)
{
  return (BIT (CAPS_LAST) << 1) - 1;
}

int
caps_from_name (const char *name)
{
  if (!name)
    return -1;
  const char *bare = strncasecmp (name, "CAP_", 4) == 0 ? name + 4 : name;
  for (int i = 0; i <= CAPS_LAST; i++)
    if (strcasecmp (bare, cap_names[i] + 4) == 0)
      return i;
  return -1;
}

bool
caps_name_is_all (const char *name)
{
  return strcasecmp (name, "ALL") == 0 || strcasecmp (name, "CAP_ALL") == 0;
}

const char *
caps_name (int cap)
{
  if (cap < 0 || cap > CAPS_LAST)
    return NULL;
  return cap_names[cap];
}

int
caps_drop_bounding (uint64_t bounding, int *failed_cap)
{
  for (int cap = 0; cap <= 63; cap++)
    {
      if (cap <= CAPS_LAST && (bounding & BIT (cap)))
        continue;
      if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        {
          if (errno == EINVAL) /* past the kernel's last capability */
            break;
          *failed_cap = cap;
          return -errno;
        }
    }
  return 0;
}

int
caps_apply (const caps_sets *sets, int *failed_cap)
{
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = {
    { (uint32_t) sets->effective, (uint32_t) sets->permitted, (uint32_t) sets->inheritable },
    { (uint32_t) (sets->effective >> 32), (uint32_t) (sets->permitted >> 32),
      (uint32_t) (sets->inheritable >> 32) },
  };
  if (syscall (SYS_capset, &header, data) < 0)
    {
      *failed_cap = -1;
      return -errno;
    }
  if (sets->ambient == 0)
    return 0;
  for (int cap = 0; cap <= CAPS_LAST; cap++)
    if ((sets->ambient & BIT (cap)) && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      {
        *failed_cap = cap;
        return -errno;
      }
  return 0;
}
