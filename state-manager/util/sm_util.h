/* The bottom layer of the state manager (state-manager/util/): pure helpers every
 * other layer uses — ids, timestamps and JSON text here, pydantic-style request
 * checks in reqcheck.h, secret encryption in secrets_crypto.h.  No I/O besides
 * the kernel's randomness. */
#ifndef EXO_SM_UTIL_H
#define EXO_SM_UTIL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "utf8.h" /* exo_utf8_sanitize, formerly here */

#define EXO_ID_LEN 24   /* state / graph / node ids: 24 lower-case hex chars */
#define EXO_UUID_LEN 36
/* Maximum nesting of a request body (json-c depth).  The reference accepts about 990
 * levels (Python's recursion limit); every recursive walk of ours and of json-c
 * (free, serialise, deep copy, repr) stays far inside the 8 MiB thread stacks at
 * this depth, also under ASan (tests/integration/test_sm_api.py pins both sides). */
#define EXO_JSON_DEPTH 1000
/* Stored documents wrap accepted client JSON in a few more levels. */
#define EXO_STORED_JSON_DEPTH (EXO_JSON_DEPTH + 64)

/* New 24-hex id, time-ordered like a MongoDB ObjectId (the reference's ids): 4 bytes
 * of Unix seconds, 5 random bytes drawn once per process, a 3-byte counter (random
 * start).  Ids made later sort later (within a second: by this process's counter),
 * so new rows land on the last pages of the indexes keyed by them.  Returns 0, -1
 * when the kernel gives no randomness. */
int exo_id_new(char out[EXO_ID_LEN + 1]);
/* The canonical (lower-case) form of an id given by a client: 0 with out set when s
 * is exactly 24 hex characters (either case), -1 otherwise. */
int exo_id_canonical(const char *s, char out[EXO_ID_LEN + 1]);
/* New UUID4, canonical lower-case. */
void exo_uuid4(char out[EXO_UUID_LEN + 1]);
/* 1 if s parses as a UUID (hyphens, braces, "urn:uuid:" prefix removed: 32 hex digits). */
int exo_uuid_parseable(const char *s);

/* Unix ms -> "YYYY-MM-DDTHH:MM:SS[.ffffff]" in UTC (fraction only when non-zero). */
void exo_iso_time(int64_t ms, char out[40]);
json_object *exo_json_time(int64_t ms);
/* A point in time given by a client: Unix ms ("1764633600000"), or UTC ISO-8601
 * "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]" with an optional "Z" / "+00:00"
 * (the API's own timestamps read back).  0 with *ms set, -1 when malformed. */
int exo_parse_time(const char *text, int64_t *ms);

/* Compact JSON text (no slash escaping); the string belongs to obj. */
const char *exo_json_text(json_object *obj);
/* Parses stored JSON text; NULL on failure (never for text we wrote ourselves). */
json_object *exo_json_parse(const char *text);
/* strdup that returns NULL for NULL. */
char *exo_strdup_or_null(const char *s);
/* Trimmed copy (ASCII whitespace) of s; NULL on allocation failure. */
char *exo_trim_dup(const char *s);

#endif
