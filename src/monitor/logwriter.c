/* Owns the monitor's json-file log writing and rotation. */
#include "logwriter.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "util/timeutil.h"

int
log_writer_open (log_writer *w, int dir_fd, int64_t max_bytes, int max_files)
{
  w->dir_fd = dir_fd;
  w->max_bytes = max_bytes > 0 ? max_bytes : ENGINE_DEFAULT_LOG_MAX_BYTES;
  w->max_files = max_files > 0 ? max_files : ENGINE_DEFAULT_LOG_MAX_FILES;
  w->failed = 0;
  w->fd = openat (dir_fd, ENGINE_LOG_FILE, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (w->fd < 0)
    return -errno;
  struct stat st;
  w->size = fstat (w->fd, &st) == 0 ? st.st_size : 0;
  return 0;
}

void
log_writer_close (log_writer *w)
{
  if (w->fd >= 0)
    close (w->fd);
  w->fd = -1;
}

static void
rotate (log_writer *w)
{
  close (w->fd);
  w->fd = -1;
  char from[64], to[64];
  if (w->max_files <= 1)
    unlinkat (w->dir_fd, ENGINE_LOG_FILE, 0);
  else
    {
      for (int i = w->max_files - 1; i >= 1; i--)
        {
          if (i == 1)
            snprintf (from, sizeof from, "%s", ENGINE_LOG_FILE);
          else
            snprintf (from, sizeof from, "%s.%d", ENGINE_LOG_FILE, i - 1);
          snprintf (to, sizeof to, "%s.%d", ENGINE_LOG_FILE, i);
          renameat (w->dir_fd, from, w->dir_fd, to);
        }
    }
  w->fd = openat (w->dir_fd, ENGINE_LOG_FILE, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC,
                  0640);
  w->size = 0;
  if (w->fd < 0)
    w->failed = 1;
}

static int
write_all (int fd, const char *p, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

/* JSON string escaping of arbitrary bytes; invalid UTF-8 becomes U+FFFD as docker does. */
static size_t
escape_json (char *out, const unsigned char *s, size_t len)
{
  size_t o = 0;
  for (size_t i = 0; i < len;)
    {
      unsigned char c = s[i];
      if (c == '"' || c == '\\')
        {
          out[o++] = '\\';
          out[o++] = (char) c;
          i++;
        }
      else if (c == '\n')
        out[o++] = '\\', out[o++] = 'n', i++;
      else if (c == '\r')
        out[o++] = '\\', out[o++] = 'r', i++;
      else if (c == '\t')
        out[o++] = '\\', out[o++] = 't', i++;
      else if (c < 0x20 || c == 0x7f)
        {
          o += (size_t) sprintf (out + o, "\\u%04x", c);
          i++;
        }
      else if (c < 0x80)
        out[o++] = (char) c, i++;
      else
        {
          /* validate one UTF-8 sequence */
          size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
          bool valid = n > 0 && i + n <= len;
          for (size_t k = 1; valid && k < n; k++)
            valid = (s[i + k] & 0xc0) == 0x80;
          if (valid && n == 3 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0)))
            valid = false;
          if (valid && n == 4 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90)))
            valid = false;
          if (valid)
            {
              memcpy (out + o, s + i, n);
              o += n;
              i += n;
            }
          else
            {
              memcpy (out + o, "\xef\xbf\xbd", 3);
              o += 3;
              i++;
            }
        }
    }
  return o;
}

static void
write_record (log_writer *w, const char *stream, const char *data, size_t len)
{
  if (w->fd < 0 || w->failed)
    return;
  char time_text[TIME_RFC3339_MAX];
  time_format_rfc3339 (time_now_ns (), time_text, sizeof time_text);
  /* each input byte becomes at most 6 output bytes (\u00XX) */
  size_t cap = len * 6 + 128;
  char *line = malloc (cap);
  if (!line)
    return;
  size_t o = (size_t) snprintf (line, cap, "{\"log\":\"");
  o += escape_json (line + o, (const unsigned char *) data, len);
  o += (size_t) snprintf (line + o, cap - o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream,
                          time_text);
  if (w->size > 0 && w->size + (int64_t) o > w->max_bytes)
    rotate (w);
  if (w->fd >= 0 && write_all (w->fd, line, o) == 0)
    w->size += (int64_t) o;
  else
    w->failed = 1;
  free (line);
}

void
log_writer_append (log_writer *w, log_stream_buffer *buf, const char *stream, const char *data,
                   size_t len)
{
  while (len > 0)
    {
      size_t room = sizeof buf->data - buf->used;
      size_t take = len < room ? len : room;
      memcpy (buf->data + buf->used, data, take);
      buf->used += take;
      data += take;
      len -= take;
      /* emit every complete line */
      size_t start = 0;
      for (size_t i = 0; i < buf->used; i++)
        if (buf->data[i] == '\n')
          {
            write_record (w, stream, buf->data + start, i + 1 - start);
            start = i + 1;
          }
      if (start > 0)
        {
          memmove (buf->data, buf->data + start, buf->used - start);
          buf->used -= start;
        }
      if (buf->used == sizeof buf->data)
        log_writer_flush (w, buf, stream);
    }
}

void
log_writer_flush (log_writer *w, log_stream_buffer *buf, const char *stream)
{
  if (buf->used > 0)
    write_record (w, stream, buf->data, buf->used);
  buf->used = 0;
}
