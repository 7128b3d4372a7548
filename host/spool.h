/* The spool: every report is written to <state_dir>/spool before its first delivery
 * attempt and removed once the state manager answered it for good (2xx or a final
 * 4xx).  Files found at start-up are replayed, so a kill -9 loses no finished result.
 * File format (JSON): {"state_id": ..., "node": ..., "path": "/v0/namespace/ns/state/ID/executed",
 * "body": {...}}.  Writes are atomic (temporary file, fsync, rename, fsync of the dir). */
#ifndef EXO_HOST_SPOOL_H
#define EXO_HOST_SPOOL_H

#include <json-c/json.h>
#include <stddef.h>

/* Creates dir (and parents) if needed. */
int host_spool_init(const char *dir, char *err, size_t errlen);

/* Writes one entry; returns the malloc'd file path, or NULL (errno set). */
char *host_spool_write(const char *dir, const char *state_id, const char *node, const char *path,
                       json_object *body);

int host_spool_remove(const char *file);

/* Calls fn for each spooled entry in the order they were written. */
typedef void (*host_spool_fn)(void *arg, const char *file, json_object *entry);
int host_spool_replay(const char *dir, host_spool_fn fn, void *arg);

/* mkdir -p */
int host_mkdirs(const char *path, mode_t mode);

#endif
