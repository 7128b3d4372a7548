/* The spool: every report is written to <state_dir>/spool before its first delivery
 * attempt and removed once the state manager answered it for good (2xx or a final
 * 4xx).  Files found at start-up are replayed, so a kill -9 loses no finished result.
 * File format (JSON): {"state_id": ..., "node": ..., "path": "/v0/namespace/ns/state/ID/executed",
 * "body": {...}}, possibly followed by spaces (a reused file is not truncated).  Writes are atomic (temporary file, rename) and survive the host's
 * death at once (the page cache is the kernel's); surviving the machine's needs an
 * fsync, which costs about a millisecond: the host calls host_spool_sync for the
 * reports that are still undelivered shortly after they were written, in one batch
 * (a report the state manager has acknowledged needs no fsync at all). */
#ifndef EXO_HOST_SPOOL_H
#define EXO_HOST_SPOOL_H

#include <json-c/json.h>
#include <stddef.h>

#define HOST_SPOOL_SPARE_MAX 64

/* One spool directory; owned by the host (one per process, single-threaded). */
typedef struct host_spool {
    char *dir;
    /* Files of delivered entries, moved aside to <dir>.spare/ to be written again:
     * creating and deleting a file per state costs more on ext4 than rewriting one
     * (inode allocation). */
    char *spare_dir; /* NULL: files are deleted, not kept */
    char *spare[HOST_SPOOL_SPARE_MAX];
    size_t n_spare;
    unsigned seq; /* orders the entries written within one millisecond */
} host_spool;

/* Creates dir (and parents) if needed and fills *sp (a zeroed or released one). */
int host_spool_init(host_spool *sp, const char *dir, char *err, size_t errlen);

/* Writes one entry; returns the malloc'd file path, or NULL (errno set). */
char *host_spool_write(host_spool *sp, const char *state_id, const char *node, const char *path,
                       json_object *body);

/* fsync of the n files (missing ones are skipped) and then of the directory. */
int host_spool_sync(const host_spool *sp, char *const *files, size_t n);

/* The entry was delivered: it is no longer an entry (its file may be kept aside,
 * under another name that replay ignores, to be written again). */
int host_spool_remove(host_spool *sp, const char *file);

/* Deletes the files kept aside and frees what *sp holds (host shutdown).  Safe on a
 * zeroed spool. */
void host_spool_release(host_spool *sp);

/* Calls fn for each spooled entry in the order they were written. */
typedef void (*host_spool_fn)(void *arg, const char *file, json_object *entry);
int host_spool_replay(const host_spool *sp, host_spool_fn fn, void *arg);

#endif
