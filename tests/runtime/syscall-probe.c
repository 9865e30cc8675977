/* syscall-probe: tries one syscall and prints "<name> ok" or "<name> <errno name>", so the
 * runtime's tests can see what seccomp and capabilities allow inside a box. Built static by
 * the tests and copied into the test rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static long
probe (const char *name)
{
  if (!strcmp (name, "keyctl"))
    return syscall (SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
  if (!strcmp (name, "add_key"))
    return syscall (SYS_add_key, "user", "box-probe", "x", 1, -3);
  if (!strcmp (name, "unshare"))
    return unshare (CLONE_NEWUTS);
  if (!strcmp (name, "mount"))
    return mount ("none", "/tmp", "tmpfs", 0, NULL);
  if (!strcmp (name, "clone3"))
    return syscall (SYS_clone3, NULL, 0);
  if (!strcmp (name, "vsock"))
    return socket (AF_VSOCK, SOCK_STREAM, 0);
  if (!strcmp (name, "getpid"))
    return getpid ();
  errno = EINVAL;
  return -2;
}

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      errno = 0;
      long rc = probe (argv[i]);
      if (rc >= 0)
        printf ("%s ok\n", argv[i]);
      else
        printf ("%s %s\n", argv[i], strerrorname_np (errno) ? strerrorname_np (errno) : "?");
    }
  return 0;
}
