/* Owns the stage thread and its ring of chunks (see stage.h). */
#include "registry/stage.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* 8 x 1 MiB: deep enough to absorb a slow write, small next to a layer. */
#define STAGE_CHUNKS 8
#define STAGE_CHUNK_SIZE (1024 * 1024)

struct stage {
  stage_consume_fn consume;
  void *userdata;
  pthread_t thread;
  bool thread_started, joined;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  char *chunks[STAGE_CHUNKS];
  size_t lengths[STAGE_CHUNKS];
  size_t head;   /* the chunk the producer fills */
  size_t filled; /* bytes in the head chunk */
  size_t ready;  /* committed chunks the consumer has not taken */
  size_t tail;   /* the next chunk the consumer takes */
  bool eof, aborted, failed;
  box_error *error;
};

static void *
stage_main (void *arg)
{
  stage *s = arg;
  for (;;)
    {
      pthread_mutex_lock (&s->lock);
      while (s->ready == 0 && !s->eof && !s->aborted)
        pthread_cond_wait (&s->changed, &s->lock);
      if (s->aborted || s->ready == 0)
        {
          pthread_mutex_unlock (&s->lock);
          return NULL;
        }
      size_t index = s->tail;
      pthread_mutex_unlock (&s->lock);

      box_error *local = NULL;
      int rc = s->consume (s->userdata, s->chunks[index], s->lengths[index], &local);

      pthread_mutex_lock (&s->lock);
      s->tail = (s->tail + 1) % STAGE_CHUNKS;
      s->ready--;
      if (rc < 0)
        {
          s->failed = true;
          s->error = local;
        }
      pthread_cond_broadcast (&s->changed);
      pthread_mutex_unlock (&s->lock);
      if (rc < 0)
        return NULL;
    }
}

int
stage_start (stage_consume_fn consume, void *userdata, stage **out, box_error **err)
{
  stage *s = calloc (1, sizeof *s);
  if (!s)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  s->consume = consume;
  s->userdata = userdata;
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->changed, NULL);
  for (size_t i = 0; i < STAGE_CHUNKS; i++)
    if (!(s->chunks[i] = malloc (STAGE_CHUNK_SIZE)))
      {
        stage_free (s);
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      }
  int rc = pthread_create (&s->thread, NULL, stage_main, s);
  if (rc != 0)
    {
      stage_free (s);
      return box_err_errno (err, rc, "start a pipeline thread");
    }
  s->thread_started = true;
  *out = s;
  return 0;
}

/* Commits the head chunk (under the lock); waits for a free one first. Returns false when
 * the consumer failed. */
static bool
commit_head_locked (stage *s)
{
  s->lengths[s->head] = s->filled;
  s->ready++;
  s->head = (s->head + 1) % STAGE_CHUNKS;
  s->filled = 0;
  pthread_cond_broadcast (&s->changed);
  /* the next head must not be a chunk the consumer still owns */
  while (s->ready == STAGE_CHUNKS && !s->failed)
    pthread_cond_wait (&s->changed, &s->lock);
  return !s->failed;
}

static int
failed_error (stage *s, box_error **err)
{
  if (s->error)
    {
      /* keep the stage's error for finish; hand out a copy of its message */
      return box_err (err, box_error_code_of (s->error), "%s", box_error_message (s->error));
    }
  return box_err (err, BOX_E_INTERNAL, "pipeline stage failed");
}

int
stage_write (stage *s, const void *data, size_t len, box_error **err)
{
  const char *p = data;
  pthread_mutex_lock (&s->lock);
  bool failed = s->failed;
  pthread_mutex_unlock (&s->lock);
  while (len > 0 && !failed)
    {
      /* the head chunk is the producer's alone until it is committed: no lock to fill it */
      size_t room = STAGE_CHUNK_SIZE - s->filled;
      size_t n = len < room ? len : room;
      memcpy (s->chunks[s->head] + s->filled, p, n);
      s->filled += n;
      p += n;
      len -= n;
      if (s->filled == STAGE_CHUNK_SIZE)
        {
          pthread_mutex_lock (&s->lock);
          failed = !commit_head_locked (s);
          pthread_mutex_unlock (&s->lock);
        }
    }
  if (!failed)
    return 0;
  pthread_mutex_lock (&s->lock);
  int rc = failed_error (s, err);
  pthread_mutex_unlock (&s->lock);
  return rc;
}

int
stage_finish (stage *s, box_error **err)
{
  pthread_mutex_lock (&s->lock);
  if (s->filled > 0 && !s->failed)
    {
      s->lengths[s->head] = s->filled;
      s->ready++;
      s->head = (s->head + 1) % STAGE_CHUNKS;
      s->filled = 0;
    }
  s->eof = true;
  pthread_cond_broadcast (&s->changed);
  pthread_mutex_unlock (&s->lock);
  pthread_join (s->thread, NULL);
  s->joined = true;
  if (s->failed)
    {
      box_err_propagate (err, &s->error);
      return box_err_code (err);
    }
  return 0;
}

void
stage_free (stage *s)
{
  if (!s)
    return;
  if (s->thread_started && !s->joined)
    {
      pthread_mutex_lock (&s->lock);
      s->aborted = true;
      pthread_cond_broadcast (&s->changed);
      pthread_mutex_unlock (&s->lock);
      pthread_join (s->thread, NULL);
    }
  for (size_t i = 0; i < STAGE_CHUNKS; i++)
    free (s->chunks[i]);
  box_error_free (s->error);
  pthread_mutex_destroy (&s->lock);
  pthread_cond_destroy (&s->changed);
  free (s);
}
