/* box-init: a minimal pid 1 for boxes run with --init (like tini / docker-init).
 *
 *   box-init -- PROGRAM [ARG...]
 *
 * Runs PROGRAM as its child, forwards every catchable signal to it, reaps every process that
 * ends up parented to pid 1, and exits with PROGRAM's status (128 + signal when it was
 * killed). Statically linked: it runs inside any image. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  int first = 1;
  if (first < argc && strcmp (argv[first], "--") == 0)
    first++;
  if (first >= argc)
    {
      fprintf (stderr, "box-init: usage: box-init -- PROGRAM [ARG...]\n");
      return 2;
    }

  sigset_t all, previous;
  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, &previous);

  pid_t child = fork ();
  if (child < 0)
    {
      perror ("box-init: fork");
      return 2;
    }
  if (child == 0)
    {
      sigprocmask (SIG_SETMASK, &previous, NULL);
      /* the child gets its own process group, so a terminal's signals reach it */
      setpgid (0, 0);
      execvp (argv[first], argv + first);
      int code = errno == ENOENT ? 127 : 126;
      fprintf (stderr, "box-init: exec %s: %s\n", argv[first], strerror (errno));
      _exit (code);
    }

  for (;;)
    {
      siginfo_t info;
      int sig = sigwaitinfo (&all, &info);
      if (sig < 0)
        continue;
      if (sig != SIGCHLD)
        {
          kill (child, sig);
          continue;
        }
      int status;
      pid_t pid;
      while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
        if (pid == child)
          {
            if (WIFEXITED (status))
              return WEXITSTATUS (status);
            return 128 + WTERMSIG (status);
          }
    }
}
