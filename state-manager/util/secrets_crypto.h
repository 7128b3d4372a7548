/* Graph secrets at rest (spec §12): AES-256-GCM through OpenSSL EVP.
 *
 * Key: URL-safe base64 (padded, 44 chars) of exactly 32 bytes, normally from env
 * SECRETS_ENCRYPTION_KEY.  Stored value: URL-safe base64 (padded) of
 * nonce(12) || ciphertext || tag(16), no associated data; every encryption uses a
 * fresh random nonce.  Thread-safe (no shared state). */
#ifndef EXO_SM_SECRETS_CRYPTO_H
#define EXO_SM_SECRETS_CRYPTO_H

#include <stddef.h>

#define EXO_SECRET_KEY_BYTES 32
#define EXO_SECRET_NONCE_BYTES 12
#define EXO_SECRET_TAG_BYTES 16

typedef struct exo_secret_key {
    unsigned char bytes[EXO_SECRET_KEY_BYTES];
} exo_secret_key;

/* Decodes a key.  Returns 0, or -1 with err set to (reference wording):
 *   NULL/empty text      "SECRETS_ENCRYPTION_KEY is not set"
 *   not URL-safe base64  "Key must be URL-safe base64 (44 chars for 32-byte key)"
 *   wrong length         "Key must be 32 raw bytes (256 bits)" */
int exo_secret_key_load(const char *b64, exo_secret_key *key, char *err, size_t errlen);
/* exo_secret_key_load(getenv("SECRETS_ENCRYPTION_KEY"), ...). */
int exo_secret_key_from_env(exo_secret_key *key, char *err, size_t errlen);

/* Encrypts UTF-8 plaintext; returns the malloc'd stored value or NULL with err. */
char *exo_secret_encrypt(const exo_secret_key *key, const char *plaintext, char *err,
                         size_t errlen);
/* Decrypts a stored value; returns malloc'd plaintext or NULL with err (bad base64,
 * too short, authentication failure = wrong key or tampered value). */
char *exo_secret_decrypt(const exo_secret_key *key, const char *stored, char *err,
                         size_t errlen);

/* Stored-value sanity rule: >= 32 chars, valid URL-safe base64, decoded >= 12 bytes.
 * Returns NULL when fine, else the static message
 * "Value appears to be too short for an encrypted string" or
 * "Value is not valid URL-safe base64 encoded". */
const char *exo_secret_check_stored(const char *stored);

/* URL-safe base64 helpers (padded output; input must be padded correctly).
 * encode returns malloc'd text; decode returns malloc'd bytes (*outlen set) or NULL. */
char *exo_b64url_encode(const unsigned char *data, size_t len);
unsigned char *exo_b64url_decode(const char *text, size_t *outlen);

#endif
