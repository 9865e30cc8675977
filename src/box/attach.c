/* Owns starting a box attached to this terminal (run without -d, start -a): the box's
 * output reaches our stdout/stderr, our stdin reaches it with -i, the signals we get go to
 * the box (without a tty), and we exit with its exit code. */
#include "attach.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "runopts.h"

static struct termios saved_termios;
static bool termios_saved;

static void
restore_terminal (void)
{
  if (termios_saved)
    tcsetattr (STDIN_FILENO, TCSADRAIN, &saved_termios);
  termios_saved = false;
}

static void
make_terminal_raw (void)
{
  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &saved_termios) < 0)
    return;
  struct termios raw = saved_termios;
  cfmakeraw (&raw);
  if (tcsetattr (STDIN_FILENO, TCSADRAIN, &raw) == 0)
    {
      termios_saved = true;
      atexit (restore_terminal);
    }
}

int
cli_attach_start (box_engine *eng, const char *id, const cli_attach_options *a, int *exit_code)
{
  /* signals arriving while we start the box are held, then proxied */
  static const int proxied[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
  sigset_t mask, previous;
  sigemptyset (&mask);
  for (size_t i = 0; i < sizeof proxied / sizeof proxied[0]; i++)
    sigaddset (&mask, proxied[i]);
  bool proxy = !a->tty;
  int sfd = -1;
  if (proxy)
    {
      sigprocmask (SIG_BLOCK, &mask, &previous);
      sfd = signalfd (-1, &mask, SFD_CLOEXEC);
    }
  if (a->tty)
    make_terminal_raw ();

  box_start_options so = BOX_START_OPTIONS_INIT;
  so.stdin_fd = a->interactive ? STDIN_FILENO : -1;
  so.stdout_fd = STDOUT_FILENO;
  so.stderr_fd = STDERR_FILENO;
  so.direct_stdio = a->direct;
  int exit_fd = -1;
  so.exit_fd = &exit_fd;
  box_error *err = NULL;
  if (box_box_start (eng, id, &so, &err) < 0)
    {
      restore_terminal ();
      int code = cli_start_error_exit_code (err);
      cli_report (err);
      if (sfd >= 0)
        close (sfd);
      if (proxy)
        sigprocmask (SIG_SETMASK, &previous, NULL);
      return code;
    }

  char buf[128];
  size_t used = 0;
  int status = CLI_EXIT_ENGINE_ERROR;
  for (;;)
    {
      struct pollfd fds[2] = { { .fd = exit_fd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
      int ready = poll (fds, sfd >= 0 ? 2 : 1, -1);
      if (ready < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (sfd >= 0 && (fds[1].revents & POLLIN))
        {
          struct signalfd_siginfo si;
          if (read (sfd, &si, sizeof si) == sizeof si)
            {
              char name[16];
              snprintf (name, sizeof name, "%u", si.ssi_signo);
              box_error *kill_err = NULL;
              if (box_box_kill (eng, id, name, &kill_err) < 0)
                box_error_free (kill_err); /* it may have just exited */
            }
        }
      if (fds[0].revents & (POLLIN | POLLHUP))
        {
          ssize_t n = read (exit_fd, buf + used, sizeof buf - 1 - used);
          if (n < 0 && errno == EINTR)
            continue;
          if (n > 0)
            {
              used += (size_t) n;
              buf[used] = '\0';
              if (!strchr (buf, '\n') && used < sizeof buf - 1)
                continue;
            }
          buf[used] = '\0';
          if (strncmp (buf, "EXIT ", 5) == 0)
            status = atoi (buf + 5);
          else
            {
              /* the monitor died: what the store says (reconciled) */
              int code = 0;
              box_error *wait_err = NULL;
              if (box_box_wait (eng, id, &code, &wait_err) < 0)
                {
                  box_error_free (wait_err);
                  fprintf (stderr, "box: the box's monitor exited without its exit status\n");
                }
              else
                status = code;
            }
          break;
        }
    }
  close (exit_fd);
  restore_terminal ();
  if (sfd >= 0)
    close (sfd);
  if (proxy)
    sigprocmask (SIG_SETMASK, &previous, NULL);
  *exit_code = status;
  return 0;
}
