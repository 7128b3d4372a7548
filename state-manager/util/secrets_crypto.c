/* AES-256-GCM secrets at rest (spec §12); see secrets_crypto.h. */
#include "secrets_crypto.h"
#include "strfmt.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *exo_b64url_encode(const unsigned char *data, size_t len)
{
    size_t out_len = 4 * ((len + 2) / 3);
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* Value of one base64 character; '+' and '/' are accepted like Python's decoder. */
static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

unsigned char *exo_b64url_decode(const char *text, size_t *outlen)
{
    size_t len = strlen(text);
    if (len % 4 != 0)
        return NULL;
    size_t pad = 0;
    while (pad < 2 && pad < len && text[len - 1 - pad] == '=')
        pad++;
    unsigned char *out = malloc(len / 4 * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            size_t pos = i + j;
            int d = pos >= len - pad ? 0 : b64_value(text[pos]);
            if (d < 0) {
                free(out);
                return NULL;
            }
            v = (v << 6) | (uint32_t)d;
        }
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    *outlen = o - pad;
    return out;
}

int exo_secret_key_load(const char *b64, exo_secret_key *key, char *err, size_t errlen)
{
    if (!b64 || !*b64) {
        exo_errf(err, errlen, "SECRETS_ENCRYPTION_KEY is not set");
        return -1;
    }
    size_t n = 0;
    unsigned char *raw = exo_b64url_decode(b64, &n);
    if (!raw) {
        exo_errf(err, errlen, "Key must be URL-safe base64 (44 chars for 32-byte key)");
        return -1;
    }
    if (n != EXO_SECRET_KEY_BYTES) {
        OPENSSL_cleanse(raw, n);
        free(raw);
        exo_errf(err, errlen, "Key must be 32 raw bytes (256 bits)");
        return -1;
    }
    memcpy(key->bytes, raw, EXO_SECRET_KEY_BYTES);
    OPENSSL_cleanse(raw, n);
    free(raw);
    return 0;
}

int exo_secret_key_from_env(exo_secret_key *key, char *err, size_t errlen)
{
    return exo_secret_key_load(getenv("SECRETS_ENCRYPTION_KEY"), key, err, errlen);
}

char *exo_secret_encrypt(const exo_secret_key *key, const char *plaintext, char *err, size_t errlen)
{
    size_t plain_len = strlen(plaintext);
    if (plain_len > INT32_MAX - 64) {
        exo_errf(err, errlen, "secret value too large");
        return NULL;
    }
    size_t total = EXO_SECRET_NONCE_BYTES + plain_len + EXO_SECRET_TAG_BYTES;
    unsigned char *buf = malloc(total);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    char *out = NULL;
    int len = 0;
    if (!buf || !ctx) {
        exo_errf(err, errlen, "Out of memory");
        goto done;
    }
    unsigned char *nonce = buf, *cipher = buf + EXO_SECRET_NONCE_BYTES;
    if (RAND_bytes(nonce, EXO_SECRET_NONCE_BYTES) != 1) {
        exo_errf(err, errlen, "cannot draw a random nonce");
        goto done;
    }
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, EXO_SECRET_NONCE_BYTES, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key->bytes, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, cipher, &len, (const unsigned char *)plaintext, (int)plain_len) != 1 ||
        EVP_EncryptFinal_ex(ctx, cipher + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, EXO_SECRET_TAG_BYTES, cipher + plain_len) != 1) {
        exo_errf(err, errlen, "AES-GCM encryption failed");
        goto done;
    }
    out = exo_b64url_encode(buf, total);
    if (!out)
        exo_errf(err, errlen, "Out of memory");
done:
    EVP_CIPHER_CTX_free(ctx);
    free(buf);
    return out;
}

char *exo_secret_decrypt(const exo_secret_key *key, const char *stored, char *err, size_t errlen)
{
    size_t n = 0;
    unsigned char *raw = exo_b64url_decode(stored, &n);
    if (!raw) {
        exo_errf(err, errlen, "Value is not valid URL-safe base64 encoded");
        return NULL;
    }
    if (n < EXO_SECRET_NONCE_BYTES + EXO_SECRET_TAG_BYTES) {
        free(raw);
        exo_errf(err, errlen, "Encrypted value is too short");
        return NULL;
    }
    size_t cipher_len = n - EXO_SECRET_NONCE_BYTES - EXO_SECRET_TAG_BYTES;
    unsigned char *nonce = raw, *cipher = raw + EXO_SECRET_NONCE_BYTES, *tag = cipher + cipher_len;
    char *plain = malloc(cipher_len + 1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, ok = 0;
    if (!plain || !ctx) {
        exo_errf(err, errlen, "Out of memory");
        goto done;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, EXO_SECRET_NONCE_BYTES, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key->bytes, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, cipher, (int)cipher_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, EXO_SECRET_TAG_BYTES, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + len, &len) != 1) {
        exo_errf(err, errlen, "Secret decryption failed (wrong key or corrupted value)");
        goto done;
    }
    plain[cipher_len] = '\0';
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    free(raw);
    if (!ok) {
        free(plain);
        return NULL;
    }
    return plain;
}

const char *exo_secret_check_stored(const char *stored)
{
    if (strlen(stored) < 32)
        return "Value appears to be too short for an encrypted string";
    size_t n = 0;
    unsigned char *raw = exo_b64url_decode(stored, &n);
    if (!raw || n < EXO_SECRET_NONCE_BYTES) {
        free(raw);
        return "Value is not valid URL-safe base64 encoded";
    }
    free(raw);
    return NULL;
}
