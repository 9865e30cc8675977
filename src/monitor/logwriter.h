/* The monitor's log writer: docker's json-file format, one JSON object per line
 * {"log":"...","stream":"stdout","time":"RFC 3339 with ns"}, with size-capped rotation
 * (json.log -> json.log.1 -> ... -> json.log.<max_files-1>). */
#ifndef BOX_MONITOR_LOGWRITER_H
#define BOX_MONITOR_LOGWRITER_H

#include <stddef.h>
#include <stdint.h>

/* docker cuts lines longer than this into several records (the last without "\n") */
#define LOG_LINE_MAX 16384

typedef struct log_stream_buffer {
  char data[LOG_LINE_MAX];
  size_t used;
} log_stream_buffer;

typedef struct log_writer {
  int dir_fd;   /* the box's directory */
  int fd;       /* json.log, -1 when not open */
  int64_t size; /* bytes in json.log */
  int64_t max_bytes;
  int max_files;
  int failed; /* writing failed (disk full...): logging stops, the box goes on */
} log_writer;

int log_writer_open (log_writer *w, int dir_fd, int64_t max_bytes, int max_files);
void log_writer_close (log_writer *w);

/* Appends data read from a stream: complete lines become records; a partial line waits in
 * the buffer (flushed as a record when full, or at the end with log_writer_flush). */
void log_writer_append (log_writer *w, log_stream_buffer *buf, const char *stream,
                        const char *data, size_t len);
void log_writer_flush (log_writer *w, log_stream_buffer *buf, const char *stream);

#endif
