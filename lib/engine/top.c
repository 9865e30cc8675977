/* Owns `top`: the processes of a running box (those of its cgroup, read from /proc), shown
 * in the columns ps would print for docker's ps_args ("-ef" by default, "aux",
 * "-o pid,comm,args", ...). Nothing runs ps: every value is computed here the way
 * procps computes it, so the output matches `docker top` without a ps on the host. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "engine/top.h"
#include "linux/cgroup.h"
#include "util/json.h"
#include "util/strutil.h"

/* one process as /proc shows it */
typedef struct proc_facts {
  pid_t pid, ppid, pgid, sid, tpgid;
  char state;
  char comm[64];
  char *args; /* the command line joined by spaces; "[comm]" when empty (zombie, kernel) */
  unsigned ruid, euid, egid;
  unsigned long long utime, stime, start_ticks; /* clock ticks */
  unsigned long long vsize_bytes;
  long long rss_pages;
  long nice, threads;
  unsigned tty_nr;
} proc_facts;

/* what every row shares: the clock and the machine */
typedef struct top_clock {
  long ticks_per_second;
  long page_kib;
  double uptime_seconds;
  time_t boot_time;
  time_t now;
  unsigned long long mem_total_kib;
} top_clock;

typedef void (*column_format) (const proc_facts *p, const top_clock *c, char *out, size_t size);

typedef struct column_def {
  const char *keywords; /* ps's names for it, separated by '|' */
  const char *header;
  column_format format;
} column_def;

/* ---- reading /proc ---------------------------------------------------------------------- */

static ssize_t
read_file (int dir_fd, const char *name, char *buf, size_t size)
{
  _cleanup_close_ int fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  size_t used = 0;
  while (used + 1 < size)
    {
      ssize_t n = read (fd, buf + used, size - 1 - used);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      used += (size_t) n;
    }
  buf[used] = '\0';
  return (ssize_t) used;
}

static int
read_proc_facts (pid_t pid, proc_facts *p)
{
  char dir[32], buf[4096];
  snprintf (dir, sizeof dir, "/proc/%d", (int) pid);
  _cleanup_close_ int dir_fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || read_file (dir_fd, "stat", buf, sizeof buf) <= 0)
    return -1;
  memset (p, 0, sizeof *p);
  p->pid = pid;
  /* the command name may hold spaces and parentheses: fields resume after the last ')' */
  char *open_paren = strchr (buf, '('), *close_paren = strrchr (buf, ')');
  if (!open_paren || !close_paren || close_paren < open_paren)
    return -1;
  snprintf (p->comm, sizeof p->comm, "%.*s", (int) (close_paren - open_paren - 1), open_paren + 1);
  int ppid, pgid, sid, tty_nr, tpgid;
  long priority;
  unsigned long long ignored;
  if (sscanf (close_paren + 2,
              "%c %d %d %d %d %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %ld %ld %ld "
              "%llu %llu %llu %lld",
              &p->state, &ppid, &pgid, &sid, &tty_nr, &tpgid, &ignored, &ignored, &ignored,
              &ignored, &ignored, &p->utime, &p->stime, &ignored, &ignored, &priority, &p->nice,
              &p->threads, &ignored, &p->start_ticks, &p->vsize_bytes, &p->rss_pages)
      != 22)
    return -1;
  p->ppid = ppid;
  p->pgid = pgid;
  p->sid = sid;
  p->tty_nr = (unsigned) tty_nr;
  p->tpgid = tpgid;

  if (read_file (dir_fd, "status", buf, sizeof buf) > 0)
    {
      char *uid = strstr (buf, "\nUid:"), *gid = strstr (buf, "\nGid:");
      if (uid)
        sscanf (uid + 5, "%u %u", &p->ruid, &p->euid);
      if (gid)
        {
          unsigned rgid;
          sscanf (gid + 5, "%u %u", &rgid, &p->egid);
        }
    }

  char cmdline[8192];
  ssize_t n = read_file (dir_fd, "cmdline", cmdline, sizeof cmdline);
  if (n > 0)
    {
      while (n > 0 && cmdline[n - 1] == '\0')
        n--;
      for (ssize_t i = 0; i < n; i++)
        if (cmdline[i] == '\0' || cmdline[i] == '\n' || cmdline[i] == '\t')
          cmdline[i] = ' ';
      cmdline[n] = '\0';
      p->args = strdup (cmdline);
    }
  else if (asprintf (&p->args, "[%s]", p->comm) < 0)
    p->args = NULL;
  return p->args ? 0 : -1;
}

static void
read_clock (top_clock *c)
{
  memset (c, 0, sizeof *c);
  c->ticks_per_second = sysconf (_SC_CLK_TCK);
  if (c->ticks_per_second <= 0)
    c->ticks_per_second = 100;
  c->page_kib = sysconf (_SC_PAGESIZE) / 1024;
  c->now = time (NULL);
  char buf[8192];
  if (read_file (AT_FDCWD, "/proc/uptime", buf, sizeof buf) > 0)
    c->uptime_seconds = strtod (buf, NULL);
  if (read_file (AT_FDCWD, "/proc/stat", buf, sizeof buf) > 0)
    {
      char *btime = strstr (buf, "\nbtime ");
      if (btime)
        c->boot_time = (time_t) strtoll (btime + 7, NULL, 10);
    }
  if (!c->boot_time)
    c->boot_time = c->now - (time_t) c->uptime_seconds;
  if (read_file (AT_FDCWD, "/proc/meminfo", buf, sizeof buf) > 0)
    {
      char *total = strstr (buf, "MemTotal:");
      if (total)
        c->mem_total_kib = strtoull (total + 9, NULL, 10);
    }
}

/* ---- columns, formatted as procps formats them ---------------------------------------- */

static double
seconds_running (const proc_facts *p, const top_clock *c)
{
  double s = c->uptime_seconds - (double) p->start_ticks / (double) c->ticks_per_second;
  return s > 0 ? s : 0;
}

static unsigned long long
cpu_seconds (const proc_facts *p, const top_clock *c)
{
  return (p->utime + p->stime) / (unsigned long long) c->ticks_per_second;
}

/* CPU use over the process's life in per mille (procps' pcpu) */
static unsigned long long
cpu_per_mille (const proc_facts *p, const top_clock *c)
{
  double running = seconds_running (p, c);
  if (running <= 0)
    return 0;
  double used = (double) (p->utime + p->stime) / (double) c->ticks_per_second;
  return (unsigned long long) (used * 1000.0 / running);
}

static void
user_name (unsigned uid, char *out, size_t size)
{
  struct passwd pw, *found = NULL;
  char buf[1024];
  if (getpwuid_r (uid, &pw, buf, sizeof buf, &found) == 0 && found)
    snprintf (out, size, "%s", found->pw_name);
  else
    snprintf (out, size, "%u", uid);
}

static void
format_pid (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%d", (int) p->pid);
}

static void
format_ppid (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%d", (int) p->ppid);
}

static void
format_pgid (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%d", (int) p->pgid);
}

static void
format_sid (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%d", (int) p->sid);
}

static void
format_euid (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%u", p->euid);
}

static void
format_ruid (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%u", p->ruid);
}

static void
format_euser (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  user_name (p->euid, out, size);
}

static void
format_ruser (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  user_name (p->ruid, out, size);
}

static void
format_egid (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%u", p->egid);
}

static void
format_egroup (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  struct group gr, *found = NULL;
  char buf[4096];
  if (getgrgid_r (p->egid, &gr, buf, sizeof buf, &found) == 0 && found)
    snprintf (out, size, "%s", found->gr_name);
  else
    snprintf (out, size, "%u", p->egid);
}

static void
format_comm (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%s", p->comm);
}

static void
format_args (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%s", p->args);
}

static void
format_state (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%c", p->state);
}

/* the state letter and BSD's flags: < high priority, N low, s session leader, l threads,
 * + in the foreground process group of its terminal */
static void
format_stat (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  char flags[8];
  size_t n = 0;
  flags[n++] = p->state;
  if (p->nice < 0)
    flags[n++] = '<';
  else if (p->nice > 0)
    flags[n++] = 'N';
  if (p->pid == p->sid)
    flags[n++] = 's';
  if (p->threads > 1)
    flags[n++] = 'l';
  if (p->tpgid > 0 && p->tpgid == p->pgid)
    flags[n++] = '+';
  flags[n] = '\0';
  snprintf (out, size, "%s", flags);
}

/* ps's C: integer CPU percent over the process's life, at most 99 */
static void
format_c (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  unsigned long long percent = cpu_per_mille (p, c) / 10;
  snprintf (out, size, "%llu", percent > 99 ? 99 : percent);
}

static void
format_pcpu (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  unsigned long long per_mille = cpu_per_mille (p, c);
  snprintf (out, size, "%llu.%llu", per_mille / 10, per_mille % 10);
}

static void
format_pmem (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  unsigned long long rss_kib = (unsigned long long) (p->rss_pages > 0 ? p->rss_pages : 0)
                               * (unsigned long long) c->page_kib;
  unsigned long long per_mille = c->mem_total_kib ? rss_kib * 1000 / c->mem_total_kib : 0;
  snprintf (out, size, "%llu.%llu", per_mille / 10, per_mille % 10);
}

static void
format_rss (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  snprintf (out, size, "%lld", (p->rss_pages > 0 ? p->rss_pages : 0) * (long long) c->page_kib);
}

static void
format_vsz (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%llu", p->vsize_bytes / 1024);
}

static void
format_nice (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%ld", p->nice);
}

static void
format_threads (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  snprintf (out, size, "%ld", p->threads);
}

/* the controlling terminal the way ps names it: pts/N, ttyN, ttySN, or ? for none */
static void
format_tty (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  (void) c;
  unsigned major = major (p->tty_nr), minor = minor (p->tty_nr);
  if (p->tty_nr == 0)
    snprintf (out, size, "?");
  else if (major >= 136 && major <= 143)
    snprintf (out, size, "pts/%u", (major - 136) * 256 + minor);
  else if (major == 4 && minor < 64)
    snprintf (out, size, "tty%u", minor);
  else if (major == 4)
    snprintf (out, size, "ttyS%u", minor - 64);
  else if (major == 5 && minor == 1)
    snprintf (out, size, "console");
  else
    snprintf (out, size, "%u,%u", major, minor);
}

/* cumulative CPU time, [DD-]HH:MM:SS */
static void
format_time (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  unsigned long long t = cpu_seconds (p, c);
  unsigned long long days = t / 86400, hours = t / 3600 % 24, minutes = t / 60 % 60,
                     seconds = t % 60;
  if (days)
    snprintf (out, size, "%llu-%02llu:%02llu:%02llu", days, hours, minutes, seconds);
  else
    snprintf (out, size, "%02llu:%02llu:%02llu", hours, minutes, seconds);
}

/* BSD's TIME (ps aux): minutes:seconds of CPU */
static void
format_bsdtime (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  unsigned long long t = cpu_seconds (p, c);
  snprintf (out, size, "%llu:%02llu", t / 60, t % 60);
}

/* elapsed time since the start, [[DD-]hh:]mm:ss */
static void
format_etime (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  unsigned long long t = (unsigned long long) seconds_running (p, c);
  unsigned long long days = t / 86400, hours = t / 3600 % 24, minutes = t / 60 % 60,
                     seconds = t % 60;
  if (days)
    snprintf (out, size, "%llu-%02llu:%02llu:%02llu", days, hours, minutes, seconds);
  else if (hours)
    snprintf (out, size, "%02llu:%02llu:%02llu", hours, minutes, seconds);
  else
    snprintf (out, size, "%02llu:%02llu", minutes, seconds);
}

static void
format_etimes (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  snprintf (out, size, "%llu", (unsigned long long) seconds_running (p, c));
}

static time_t
start_time (const proc_facts *p, const top_clock *c)
{
  return c->boot_time + (time_t) (p->start_ticks / (unsigned long long) c->ticks_per_second);
}

/* STIME of ps -f: HH:MM within the last day, else MmmDD within the year, else the year */
static void
format_stime (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  time_t t = start_time (p, c);
  struct tm tm;
  localtime_r (&t, &tm);
  size_t n;
  if (c->now - t < 24 * 3600)
    n = strftime (out, size, "%H:%M", &tm);
  else if (c->now - t < 365 * 24 * 3600)
    n = strftime (out, size, "%b%d", &tm);
  else
    n = strftime (out, size, "%Y", &tm);
  if (n == 0)
    snprintf (out, size, "?");
}

/* START of ps -o start: HH:MM:SS within the last day, else "Mmm DD" */
static void
format_start (const proc_facts *p, const top_clock *c, char *out, size_t size)
{
  time_t t = start_time (p, c);
  struct tm tm;
  localtime_r (&t, &tm);
  size_t n = c->now - t < 24 * 3600 ? strftime (out, size, "%H:%M:%S", &tm)
                                    : strftime (out, size, "%b %d", &tm);
  if (n == 0)
    snprintf (out, size, "?");
}

static const column_def columns[] = {
  { "pid|tgid", "PID", format_pid },
  { "ppid", "PPID", format_ppid },
  { "pgid|pgrp", "PGID", format_pgid },
  { "sid|sess|session", "SID", format_sid },
  { "uid|euid", "UID", format_euid },
  { "ruid", "RUID", format_ruid },
  { "user|euser|uname", "USER", format_euser },
  { "ruser", "RUSER", format_ruser },
  { "gid|egid", "GID", format_egid },
  { "group|egroup", "GROUP", format_egroup },
  { "comm|ucomm|ucmd", "COMMAND", format_comm },
  { "args|command", "COMMAND", format_args },
  { "cmd", "CMD", format_args },
  { "stat", "STAT", format_stat },
  { "s|state", "S", format_state },
  { "c|cp", "C", format_c },
  { "pcpu|%cpu", "%CPU", format_pcpu },
  { "pmem|%mem", "%MEM", format_pmem },
  { "rss|rssize|rsz", "RSS", format_rss },
  { "vsz|vsize", "VSZ", format_vsz },
  { "ni|nice", "NI", format_nice },
  { "nlwp|thcount", "NLWP", format_threads },
  { "tty|tt|tname", "TT", format_tty },
  { "time|cputime", "TIME", format_time },
  { "bsdtime", "TIME", format_bsdtime },
  { "etime", "ELAPSED", format_etime },
  { "etimes", "ELAPSED", format_etimes },
  { "stime", "STIME", format_stime },
  { "start_time", "START", format_stime },
  { "start", "STARTED", format_start },
};

/* ---- ps_args ------------------------------------------------------------------------------ */

#define MAX_COLUMNS 64

typedef struct column_choice {
  const column_def *def;
  const char *header; /* a header given as keyword=HEADER, else the definition's */
} column_choice;

typedef struct top_format {
  column_choice chosen[MAX_COLUMNS];
  size_t n;
  char *storage; /* the -o lists, split in place */
} top_format;

static const column_def *
find_column (const char *keyword)
{
  size_t len = strlen (keyword);
  for (size_t i = 0; i < ARRAY_SIZE (columns); i++)
    for (const char *k = columns[i].keywords; *k;)
      {
        const char *bar = strchr (k, '|');
        size_t klen = bar ? (size_t) (bar - k) : strlen (k);
        if (klen == len && strncmp (k, keyword, len) == 0)
          return &columns[i];
        k += klen + (bar ? 1 : 0);
      }
  return NULL;
}

static int
add_column (top_format *f, const char *keyword, const char *header, box_error **err)
{
  const column_def *def = find_column (keyword);
  if (!def)
    return box_err (err, BOX_E_INVALID, "unknown ps format keyword \"%s\"", keyword);
  if (f->n >= MAX_COLUMNS)
    return box_err (err, BOX_E_INVALID, "too many ps columns (at most %d)", MAX_COLUMNS);
  f->chosen[f->n++] = (column_choice){ def, header ? header : def->header };
  return 0;
}

/* A -o list: "pid,comm", "pid user args", "pid=ID,args=WHAT" (a header runs to the end of its
 * item; ps lets the last one run to the end of the list, which is what the split gives). */
static int
add_format_list (top_format *f, char *list, box_error **err)
{
  char *save = NULL;
  size_t before = f->n;
  for (char *item = strtok_r (list, ", ", &save); item; item = strtok_r (NULL, ", ", &save))
    {
      char *eq = strchr (item, '=');
      if (eq)
        *eq = '\0';
      if (add_column (f, item, eq ? eq + 1 : NULL, err) < 0)
        return box_err_code (err);
    }
  if (f->n == before)
    return box_err (err, BOX_E_INVALID, "empty ps format list \"%s\"", list);
  return 0;
}

static int
add_columns (top_format *f, const char *const *keywords, size_t n, box_error **err)
{
  for (size_t i = 0; i < n; i++)
    if (add_column (f, keywords[i], NULL, err) < 0)
      return box_err_code (err);
  return 0;
}

/* Reads docker's ps_args. Selection options (-e, -A, a, x, ...) change nothing: the rows are
 * always the box's processes (docker selects them by pid the same way). The format is -o
 * lists when given, else BSD's user format for "u", else ps -f's full format for "-f", else
 * ps's default. */
static int
parse_ps_args (const char *ps_args, top_format *f, box_error **err)
{
  memset (f, 0, sizeof *f);
  if (!ps_args || !*ps_args)
    ps_args = "-ef";
  f->storage = strdup (ps_args);
  if (!f->storage)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  bool full = false, user = false, listed = false;
  char *save = NULL;
  for (char *word = strtok_r (f->storage, " \t", &save); word; word = strtok_r (NULL, " \t", &save))
    {
      if (strcmp (word, "--format") == 0 || strcmp (word, "-o") == 0 || strcmp (word, "o") == 0)
        {
          char *list = strtok_r (NULL, " \t", &save);
          if (!list)
            return box_err (err, BOX_E_INVALID, "ps option %s needs a format list", word);
          if (add_format_list (f, list, err) < 0)
            return box_err_code (err);
          listed = true;
          continue;
        }
      bool dashed = word[0] == '-';
      for (char *ch = word + (dashed ? 1 : 0); *ch; ch++)
        {
          if (*ch == 'o')
            {
              /* the list follows in the same word ("-opid,comm") or the next one */
              char *list = ch[1] ? ch + 1 : strtok_r (NULL, " \t", &save);
              if (!list)
                return box_err (err, BOX_E_INVALID, "ps option %s needs a format list", word);
              if (add_format_list (f, list, err) < 0)
                return box_err_code (err);
              listed = true;
              break;
            }
          if (strchr ("eAaxgNwH", *ch) || (!dashed && *ch == 'f'))
            continue; /* selection, width and forest options: no effect on the columns */
          if (dashed && (*ch == 'f' || *ch == 'F'))
            full = true;
          else if (!dashed && *ch == 'u')
            user = true;
          else
            return box_err (err, BOX_E_INVALID, "unsupported ps option \"%s\" (at '%c')", word,
                            *ch);
        }
    }
  if (listed)
    return 0;
  if (user)
    {
      static const char *const bsd_user[] = { "user", "pid",  "%cpu",       "%mem",    "vsz", "rss",
                                              "tty",  "stat", "start_time", "bsdtime", "args" };
      if (add_columns (f, bsd_user, ARRAY_SIZE (bsd_user), err) < 0)
        return box_err_code (err);
      /* ps aux's headers */
      f->chosen[6].header = "TTY";
      return 0;
    }
  if (full)
    {
      static const char *const full_format[]
          = { "user", "pid", "ppid", "c", "stime", "tty", "time", "cmd" };
      if (add_columns (f, full_format, ARRAY_SIZE (full_format), err) < 0)
        return box_err_code (err);
      f->chosen[0].header = "UID"; /* ps -f shows the user's name under UID */
      f->chosen[5].header = "TTY";
      return 0;
    }
  static const char *const plain[] = { "pid", "tty", "time", "cmd" };
  if (add_columns (f, plain, ARRAY_SIZE (plain), err) < 0)
    return box_err_code (err);
  f->chosen[1].header = "TTY";
  return 0;
}

/* ---- the verb ------------------------------------------------------------------------------ */

static void
top_format_clear (top_format *f)
{
  free (f->storage);
  f->storage = NULL;
}

int
box_box_top (box_engine *eng, const char *ref, const box_top_options *opts, char **out_json,
             box_error **err)
{
  box_top_options defaults = BOX_TOP_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  if (opts->version != BOX_TOP_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_top_options: unknown version %u", opts->version);
  _cleanup_ (top_format_clear) top_format format = { 0 };
  if (parse_ps_args (opts->ps_args, &format, err) < 0)
    return box_err_wrap (err, "top %s", ref);
  _cleanup_ (box_box_freep) box_box *b = NULL;
  if (engine_resolve_box (eng, ref, &b, err) < 0)
    return box_err_code (err);
  if (b->state != BOX_STATE_RUNNING || b->pid <= 0)
    return box_err (err, BOX_E_CONFLICT, "box %s is not running", ref);

  /* the box's processes are those of its cgroup (and the cgroups below it), as docker reads
     them: a process that joined the box (exec) is one, and so is one in a nested pid
     namespace, while one that only entered the box's pid namespace is not */
  char cgroup[sizeof ENGINE_CGROUP_PARENT + BOX_ID_HEX_LENGTH + 2];
  snprintf (cgroup, sizeof cgroup, ENGINE_CGROUP_PARENT "/%s", b->id);
  _cleanup_free_ pid_t *pids = NULL;
  size_t n_pids = 0;
  if (cgroup_list_pids (cgroup, b->pid, &pids, &n_pids, err) < 0)
    return box_err_wrap (err, "top %s", ref);

  top_clock clock;
  read_clock (&clock);
  _cleanup_json_ json_t *titles = json_array ();
  _cleanup_json_ json_t *rows = json_array ();
  if (!titles || !rows)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < format.n; i++)
    json_array_append_new (titles, json_string (format.chosen[i].header));
  for (size_t i = 0; i < n_pids; i++)
    {
      proc_facts p = { 0 };
      if (read_proc_facts (pids[i], &p) < 0)
        {
          free (p.args);
          continue; /* it exited meanwhile */
        }
      json_t *row = json_array ();
      for (size_t k = 0; row && k < format.n; k++)
        {
          char value[8192];
          format.chosen[k].def->format (&p, &clock, value, sizeof value);
          json_t *cell = json_string (value);
          if (!cell)
            {
              /* a command line that is not UTF-8: its other bytes shown as '?' */
              for (char *c = value; *c; c++)
                if ((unsigned char) *c >= 0x80)
                  *c = '?';
              cell = json_string (value);
            }
          json_array_append_new (row, cell);
        }
      free (p.args);
      if (!row)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      json_array_append_new (rows, row);
    }
  _cleanup_json_ json_t *o = json_pack ("{s:O,s:O}", "Titles", titles, "Processes", rows);
  char *text = o ? json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  if (!text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out_json = text;
  return 0;
}

int
engine_top_columns (const char *ps_args, char **out_headers, size_t *out_n, box_error **err)
{
  _cleanup_ (top_format_clear) top_format format = { 0 };
  if (parse_ps_args (ps_args, &format, err) < 0)
    return box_err_code (err);
  size_t len = 1;
  for (size_t i = 0; i < format.n; i++)
    len += strlen (format.chosen[i].header) + 1;
  char *text = calloc (1, len);
  if (!text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < format.n; i++)
    {
      if (i)
        strcat (text, " ");
      strcat (text, format.chosen[i].header);
    }
  *out_headers = text;
  *out_n = format.n;
  return 0;
}

int
box_box_top_json (box_engine *eng, const char *ref, char **out_json, box_error **err)
{
  return box_box_top (eng, ref, NULL, out_json, err);
}
