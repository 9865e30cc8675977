/* Owns attaching this terminal to a box (run without -d, start -a, attach): the box's output
 * reaches our stdout/stderr, our stdin reaches it with -i, with a tty our terminal is raw,
 * its size follows ours (SIGWINCH) and the detach keys leave the box running; without a tty
 * the signals we get go to the box (--sig-proxy); we exit with its exit code. */
#include "attach.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "runopts.h"

int
cli_parse_detach_keys (const char *verb, const char *value, const char **out)
{
  box_error *err = NULL;
  if (box_detach_keys_validate (value, &err) < 0)
    {
      /* the library's message names the keys and what is wrong with them */
      int status = cli_usage_error (verb, "%s", box_error_message (err));
      box_error_free (err);
      return status;
    }
  *out = value;
  return 0;
}

int
cli_parse_sig_proxy (const char *verb, const char *value, bool *out)
{
  if (!value || strcmp (value, "true") == 0 || strcmp (value, "1") == 0)
    *out = true;
  else if (strcmp (value, "false") == 0 || strcmp (value, "0") == 0)
    *out = false;
  else
    return cli_usage_error (verb, "invalid --sig-proxy value: %s", value);
  return 0;
}

int
cli_check_input_terminal (bool tty, bool attach_stdin)
{
  if (!tty || !attach_stdin || isatty (STDIN_FILENO))
    return 0;
  fprintf (stderr, "box: the input device is not a TTY\n");
  return 1;
}

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
  if (termios_saved || !isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &saved_termios) < 0)
    return;
  struct termios raw = saved_termios;
  cfmakeraw (&raw);
  if (tcsetattr (STDIN_FILENO, TCSADRAIN, &raw) == 0)
    {
      termios_saved = true;
      atexit (restore_terminal);
    }
}

/* the signals an attached CLI passes on to a box without a tty */
static const int proxied_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/* Signals held from before the box starts (none is lost), read through a signalfd. */
typedef struct signal_watch {
  int fd;
  sigset_t previous;
  bool blocked;
} signal_watch;

static void
signal_watch_begin (signal_watch *w, const cli_attach_options *a)
{
  sigset_t mask;
  sigemptyset (&mask);
  if (a->sig_proxy)
    for (size_t i = 0; i < sizeof proxied_signals / sizeof proxied_signals[0]; i++)
      sigaddset (&mask, proxied_signals[i]);
  if (a->tty)
    sigaddset (&mask, SIGWINCH);
  w->fd = -1;
  w->blocked = !sigisemptyset (&mask);
  if (!w->blocked)
    return;
  sigprocmask (SIG_BLOCK, &mask, &w->previous);
  w->fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void
signal_watch_end (signal_watch *w)
{
  if (w->fd >= 0)
    close (w->fd);
  w->fd = -1;
  if (w->blocked)
    sigprocmask (SIG_SETMASK, &w->previous, NULL);
  w->blocked = false;
}

/* Our terminal's size, when we have one. */
static bool
terminal_size (unsigned short *rows, unsigned short *cols)
{
  struct winsize ws;
  int fds[] = { STDOUT_FILENO, STDIN_FILENO, STDERR_FILENO };
  for (size_t i = 0; i < 3; i++)
    if (ioctl (fds[i], TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
      {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
        return true;
      }
  return false;
}

static void
handle_signals (box_engine *eng, const char *id, signal_watch *w)
{
  struct signalfd_siginfo si;
  while (read (w->fd, &si, sizeof si) == sizeof si)
    {
      box_error *err = NULL;
      if (si.ssi_signo == SIGWINCH)
        {
          unsigned short rows, cols;
          if (terminal_size (&rows, &cols))
            box_box_resize (eng, id, rows, cols, &err);
        }
      else
        {
          char name[16];
          snprintf (name, sizeof name, "%u", si.ssi_signo);
          box_box_kill (eng, id, name, &err);
        }
      box_error_free (err); /* the box may have just exited */
    }
}

static void
fill_options (const cli_attach_options *a, box_attach_options *o)
{
  o->stdin_fd = a->interactive ? STDIN_FILENO : -1;
  o->stdout_fd = a->without_stdout ? -1 : STDOUT_FILENO;
  o->stderr_fd = a->without_stderr ? -1 : STDERR_FILENO;
  o->detach_keys = a->detach_keys;
  if (a->tty)
    terminal_size (&o->rows, &o->cols);
}

/* Copies until the box ends or we detach. */
static int
attach_loop (box_engine *eng, const char *id, box_attach *h, signal_watch *w, int *exit_code,
             bool *detached)
{
  *detached = false;
  for (;;)
    {
      box_error *err = NULL;
      int rc = box_attach_run (h, w->fd, &err);
      if (rc < 0)
        return cli_report (err);
      if (rc == BOX_ATTACH_WOKEN)
        {
          handle_signals (eng, id, w);
          continue;
        }
      if (rc == BOX_ATTACH_DETACHED)
        *detached = true;
      else
        *exit_code = box_attach_exit_code (h);
      return 0;
    }
}

/* run --rm without a tty: the box gets our stdio itself, the monitor only reports the exit */
static int
start_direct (box_engine *eng, const char *id, const cli_attach_options *a, signal_watch *w,
              int *exit_code)
{
  box_start_options so = BOX_START_OPTIONS_INIT;
  so.stdin_fd = a->interactive ? STDIN_FILENO : -1;
  so.stdout_fd = STDOUT_FILENO;
  so.stderr_fd = STDERR_FILENO;
  so.direct_stdio = 1;
  int exit_fd = -1;
  so.exit_fd = &exit_fd;
  box_error *err = NULL;
  if (box_box_start (eng, id, &so, &err) < 0)
    {
      int code = cli_start_error_exit_code (err);
      cli_report (err);
      return code;
    }
  char buf[128];
  size_t used = 0;
  int status = CLI_EXIT_ENGINE_ERROR;
  for (;;)
    {
      struct pollfd fds[2]
          = { { .fd = exit_fd, .events = POLLIN }, { .fd = w->fd, .events = POLLIN } };
      if (poll (fds, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (fds[1].revents & POLLIN)
        handle_signals (eng, id, w);
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
  *exit_code = status;
  return 0;
}

int
cli_attach_start (box_engine *eng, const char *id, const cli_attach_options *a, int *exit_code)
{
  signal_watch w;
  signal_watch_begin (&w, a);
  if (a->direct)
    {
      int rc = start_direct (eng, id, a, &w, exit_code);
      signal_watch_end (&w);
      return rc;
    }
  if (a->tty && a->interactive)
    make_terminal_raw ();
  box_attach_options o = BOX_ATTACH_OPTIONS_INIT;
  fill_options (a, &o);
  box_attach *h = NULL;
  box_error *err = NULL;
  if (box_box_start_attached (eng, id, &o, &h, &err) < 0)
    {
      restore_terminal ();
      signal_watch_end (&w);
      int code = cli_start_error_exit_code (err);
      cli_report (err);
      return code;
    }
  bool detached;
  int rc = attach_loop (eng, id, h, &w, exit_code, &detached);
  box_attach_free (h);
  restore_terminal ();
  signal_watch_end (&w);
  if (rc == 0 && detached)
    *exit_code = 0; /* docker run / start -a: a detach is a success */
  return rc;
}

int
cli_attach_running (box_engine *eng, const char *id, const cli_attach_options *a, int *exit_code,
                    bool *detached)
{
  signal_watch w;
  signal_watch_begin (&w, a);
  box_attach_options o = BOX_ATTACH_OPTIONS_INIT;
  fill_options (a, &o);
  box_attach *h = NULL;
  box_error *err = NULL;
  if (box_box_attach (eng, id, &o, &h, &err) < 0)
    {
      signal_watch_end (&w);
      return cli_report (err);
    }
  if (a->tty && a->interactive)
    make_terminal_raw ();
  int rc = attach_loop (eng, id, h, &w, exit_code, detached);
  box_attach_free (h);
  restore_terminal ();
  signal_watch_end (&w);
  return rc;
}
