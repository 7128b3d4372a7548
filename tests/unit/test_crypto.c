/* Unit tests for state-manager/secrets_crypto.c: §12 key loading, AES-256-GCM format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets_crypto.h"

/* 32 bytes 0x00..0x1f, URL-safe base64 (contains '-' / '_' free text but exercises padding). */
static const char *KEY_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

static void test_key_loading(void **state)
{
    (void)state;
    exo_secret_key key;
    char err[128] = "";
    assert_int_equal(exo_secret_key_load(KEY_B64, &key, err, sizeof err), 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(key.bytes[i], i);
    assert_int_equal(exo_secret_key_load("AAEC", &key, err, sizeof err), -1);
    assert_string_equal(err, "Key must be 32 raw bytes (256 bits)");
    assert_int_equal(exo_secret_key_load("not base64 at all!!", &key, err, sizeof err), -1);
    assert_string_equal(err, "Key must be URL-safe base64 (44 chars for 32-byte key)");
    assert_int_equal(exo_secret_key_load("", &key, err, sizeof err), -1);
    assert_string_equal(err, "SECRETS_ENCRYPTION_KEY is not set");
    assert_int_equal(exo_secret_key_load(NULL, &key, err, sizeof err), -1);
    setenv("SECRETS_ENCRYPTION_KEY", KEY_B64, 1);
    assert_int_equal(exo_secret_key_from_env(&key, err, sizeof err), 0);
}

static void test_base64url(void **state)
{
    (void)state;
    const unsigned char data[] = {0xfb, 0xff, 0xfe, 0x00, 0x41};
    char *enc = exo_b64url_encode(data, sizeof data);
    assert_string_equal(enc, "-__-AEE=");
    size_t n = 0;
    unsigned char *dec = exo_b64url_decode(enc, &n);
    assert_int_equal(n, sizeof data);
    assert_memory_equal(dec, data, sizeof data);
    free(dec);
    free(enc);
    assert_null(exo_b64url_decode("abc", &n));     /* bad padding */
    assert_null(exo_b64url_decode("ab=c", &n));    /* '=' inside */
    assert_null(exo_b64url_decode("a b c d ", &n)); /* bad characters */
    dec = exo_b64url_decode("", &n);
    assert_non_null(dec);
    assert_int_equal(n, 0);
    free(dec);
}

static void test_round_trip_and_format(void **state)
{
    (void)state;
    exo_secret_key key;
    char err[128] = "";
    assert_int_equal(exo_secret_key_load(KEY_B64, &key, err, sizeof err), 0);
    const char *plain[] = {"", "plain-text", "ünïcødé ✓", "a much longer secret value that spans several AES blocks ......."};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        char *a = exo_secret_encrypt(&key, plain[i], err, sizeof err);
        char *b = exo_secret_encrypt(&key, plain[i], err, sizeof err);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_not_equal(a, b); /* fresh nonce every time */
        size_t n = 0;
        unsigned char *raw = exo_b64url_decode(a, &n);
        assert_int_equal(n, 12 + strlen(plain[i]) + 16);
        free(raw);
        assert_null(strchr(a, '+'));
        assert_null(strchr(a, '/'));
        assert_null(exo_secret_check_stored(a));
        char *back = exo_secret_decrypt(&key, a, err, sizeof err);
        assert_non_null(back);
        assert_string_equal(back, plain[i]);
        free(back);
        free(a);
        free(b);
    }
}

/* Interoperability: GCM spec test case 14 (zero key, zero IV, 16 zero bytes). */
static void test_known_vector(void **state)
{
    (void)state;
    exo_secret_key key;
    memset(&key, 0, sizeof key);
    unsigned char raw[12 + 16 + 16] = {0};
    const unsigned char ct[16] = {0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e,
                                  0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18};
    const unsigned char tag[16] = {0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0,
                                   0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19};
    memcpy(raw + 12, ct, 16);
    memcpy(raw + 28, tag, 16);
    char *stored = exo_b64url_encode(raw, sizeof raw);
    char err[128] = "";
    char *plain = exo_secret_decrypt(&key, stored, err, sizeof err);
    assert_non_null(plain);
    const unsigned char zeros[16] = {0};
    assert_memory_equal(plain, zeros, 16);
    free(plain);
    free(stored);
    raw[43] ^= 1; /* tampered tag */
    stored = exo_b64url_encode(raw, sizeof raw);
    assert_null(exo_secret_decrypt(&key, stored, err, sizeof err));
    assert_non_null(strstr(err, "decryption failed"));
    free(stored);
}

static void test_wrong_key_and_garbage(void **state)
{
    (void)state;
    exo_secret_key key, other;
    char err[128] = "";
    assert_int_equal(exo_secret_key_load(KEY_B64, &key, err, sizeof err), 0);
    memcpy(&other, &key, sizeof key);
    other.bytes[0] ^= 0x80;
    char *stored = exo_secret_encrypt(&key, "s3cret", err, sizeof err);
    assert_null(exo_secret_decrypt(&other, stored, err, sizeof err));
    free(stored);
    assert_null(exo_secret_decrypt(&key, "%%%%", err, sizeof err));
    assert_string_equal(err, "Value is not valid URL-safe base64 encoded");
    assert_null(exo_secret_decrypt(&key, "AAAA", err, sizeof err));
}

static void test_stored_value_sanity_rule(void **state)
{
    (void)state;
    assert_string_equal(exo_secret_check_stored("short"), "Value appears to be too short for an encrypted string");
    assert_string_equal(exo_secret_check_stored("this is definitely not base64 but long enough"),
                        "Value is not valid URL-safe base64 encoded");
    /* 32 chars of valid base64 = 24 bytes >= 12 */
    assert_null(exo_secret_check_stored("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_loading),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_round_trip_and_format),
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_wrong_key_and_garbage),
        cmocka_unit_test(test_stored_value_sanity_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
