/*
 * exo-bench: measurements that need no host.
 *
 *   exo-bench floors   --uri U --key K --dir D   HTTP keep-alive /health, SQLite one-row
 *                                                transaction in D, bare fork+_exit+waitpid
 *   exo-bench sm-load  --uri U[,U2...] --key K [--states N] [--workers W] [--batch B]
 *                      (several URIs: replicas; the workers spread over them)
 *                      the state manager alone: W threads act as workers (enqueue, executed)
 *                      over N pre-triggered one-node runs, no forking
 *   exo-bench growth   --uri U --key K [--levels 10000,100000,1000000] [--stored N]
 *                      enqueue / executed latency with that many states already stored;
 *                      --stored: N states are stored already (seeded by the caller
 *                      directly in the database), only the rest are stored through the API
 *
 * Every command prints one JSON object on stdout (progress goes to stderr).
 */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "http_client.h"

#define NS "bench"
#define NODE "BenchLoad"
#define GRAPH "bench_load"

typedef struct options {
    const char *uri;
    const char *key;
    const char *dir;
    long states;
    int workers;
    int batch;
    const char *levels;
    long stored; /* growth: states the caller stored before (seeded), 0 by default */
} options;

/* ---- latency samples ------------------------------------------------------ */

typedef struct samples {
    int64_t *us;
    size_t n, cap;
} samples;

static void samples_add(samples *s, int64_t us)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *grown = realloc(s->us, cap * sizeof *grown);
        if (!grown) {
            perror("exo-bench: realloc");
            exit(1);
        }
        s->us = grown;
        s->cap = cap;
    }
    s->us[s->n++] = us;
}

static void samples_merge(samples *into, const samples *from)
{
    for (size_t i = 0; i < from->n; i++)
        samples_add(into, from->us[i]);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Percentile in milliseconds (q in [0,1]); sorts the samples. */
static double samples_pct_ms(samples *s, double q)
{
    if (s->n == 0)
        return 0.0;
    qsort(s->us, s->n, sizeof *s->us, cmp_i64);
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return (double)s->us[i] / 1000.0;
}

/* ---- HTTP helpers ------------------------------------------------------------ */

/* --uri may list replicas (a,b,...): each new connection takes the next one, so the
 * workers spread over them.  A process-wide counter: connections are made by the
 * main thread and by each worker thread as it starts. */
static atomic_uint next_replica;

static exo_http *connect_or_die(const options *o)
{
    size_t count = 1;
    for (const char *c = o->uri; *c; c++)
        count += *c == ',';
    size_t pick = atomic_fetch_add(&next_replica, 1) % count;
    const char *start = o->uri;
    for (size_t i = 0; i < pick; i++)
        start = strchr(start, ',') + 1;
    char uri[512];
    snprintf(uri, sizeof uri, "%.*s", (int)strcspn(start, ","), start);
    exo_http *h = exo_http_new(uri, o->key);
    if (!h) {
        fprintf(stderr, "exo-bench: out of memory\n");
        exit(1);
    }
    return h;
}

/* Calls and fails the whole benchmark on a transport error or unexpected status. */
static json_object *call_or_die(exo_http *h, const char *method, const char *path, const char *body,
                                long want_status)
{
    exo_http_response r;
    if (exo_http_call(h, method, path, body, &r) != 0 || r.status != want_status) {
        fprintf(stderr, "exo-bench: %s %s -> %ld %s %s\n", method, path, r.status, r.error,
                r.body ? r.body : "");
        exit(1);
    }
    json_object *j = json_tokener_parse(r.body);
    exo_http_response_free(&r);
    return j;
}

static void setup_graph(const options *o)
{
    exo_http *h = connect_or_die(o);
    json_object *j = call_or_die(
        h, "PUT", "/v0/namespace/" NS "/nodes/",
        "{\"runtime_name\":\"exo-bench\",\"nodes\":[{\"name\":\"" NODE "\","
        "\"inputs_schema\":{\"properties\":{\"x\":{\"title\":\"X\",\"type\":\"string\"}},"
        "\"required\":[\"x\"],\"title\":\"Inputs\",\"type\":\"object\"},"
        "\"outputs_schema\":{\"properties\":{\"y\":{\"title\":\"Y\",\"type\":\"string\"}},"
        "\"required\":[\"y\"],\"title\":\"Outputs\",\"type\":\"object\"},\"secrets\":[]}]}",
        200);
    json_object_put(j);
    j = call_or_die(h, "PUT", "/v0/namespace/" NS "/graph/" GRAPH,
                    "{\"secrets\":{},\"nodes\":[{\"node_name\":\"" NODE "\",\"namespace\":\"" NS
                    "\",\"identifier\":\"only\",\"inputs\":{\"x\":\"1\"},\"next_nodes\":[]}]}",
                    201);
    json_object_put(j);
    for (int i = 0; i < 200; i++) {
        j = call_or_die(h, "GET", "/v0/namespace/" NS "/graph/" GRAPH, NULL, 200);
        const char *st = json_object_get_string(json_object_object_get(j, "validation_status"));
        int valid = st && strcmp(st, "VALID") == 0;
        int pending = st && strcmp(st, "PENDING") == 0;
        json_object_put(j);
        if (valid)
            break;
        if (!pending) {
            fprintf(stderr, "exo-bench: graph did not validate\n");
            exit(1);
        }
        exo_sleep_ms(50);
    }
    exo_http_free(h);
}

/* ---- floors ------------------------------------------------------------------ */

static double floor_http(const options *o, int n)
{
    exo_http *h = connect_or_die(o);
    samples s = {0};
    for (int i = 0; i < n; i++) {
        int64_t t0 = exo_mono_us();
        json_object_put(call_or_die(h, "GET", "/health", NULL, 200));
        samples_add(&s, exo_mono_us() - t0);
    }
    exo_http_free(h);
    double p50 = samples_pct_ms(&s, 0.5);
    free(s.us);
    return p50;
}

static double floor_sqlite(const char *dir, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/floor.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "exo-bench: cannot open %s\n", path);
        exit(1);
    }
    /* Same durability settings as the state manager (WAL, synchronous=NORMAL). */
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES('x')", -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "exo-bench: sqlite: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    samples s = {0};
    for (int i = 0; i < n; i++) {
        int64_t t0 = exo_mono_us();
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_step(ins);
        sqlite3_reset(ins);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        samples_add(&s, exo_mono_us() - t0);
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    unlink(path);
    double p50 = samples_pct_ms(&s, 0.5);
    free(s.us);
    return p50;
}

static double floor_fork(int n)
{
    samples s = {0};
    for (int i = 0; i < n; i++) {
        int64_t t0 = exo_mono_us();
        pid_t pid = fork();
        if (pid < 0) {
            perror("exo-bench: fork");
            exit(1);
        }
        if (pid == 0)
            _exit(0);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        samples_add(&s, exo_mono_us() - t0);
    }
    double p50 = samples_pct_ms(&s, 0.5);
    free(s.us);
    return p50;
}

static int cmd_floors(const options *o)
{
    json_object *out = json_object_new_object();
    fprintf(stderr, "floors: HTTP keep-alive /health ...\n");
    json_object_object_add(out, "http_health_p50_ms", json_object_new_double(floor_http(o, 2000)));
    fprintf(stderr, "floors: SQLite one-row transaction ...\n");
    json_object_object_add(out, "sqlite_txn_p50_ms", json_object_new_double(floor_sqlite(o->dir, 2000)));
    fprintf(stderr, "floors: bare fork + _exit + waitpid ...\n");
    json_object_object_add(out, "fork_wait_p50_ms", json_object_new_double(floor_fork(2000)));
    printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    json_object_put(out);
    return 0;
}

/* ---- the state manager alone -------------------------------------------------- */

typedef struct load_shared {
    const options *o;
    long target;             /* states to complete */
    long done;               /* completed so far (guarded by lock) */
    pthread_mutex_t lock;
} load_shared;

typedef struct load_worker {
    pthread_t thread;
    load_shared *shared;
    samples enqueue_lat, executed_lat;
    long empty_polls;
} load_worker;

static void trigger_runs(const options *o, long n)
{
    exo_http *h = connect_or_die(o);
    for (long i = 0; i < n; i++) {
        json_object_put(call_or_die(h, "POST", "/v0/namespace/" NS "/graph/" GRAPH "/trigger",
                                    "{\"inputs\":{},\"store\":{},\"start_delay\":0}", 200));
        if (i % 50000 == 49999)
            fprintf(stderr, "  triggered %ld/%ld\n", i + 1, n);
    }
    exo_http_free(h);
}

static void *load_worker_main(void *arg)
{
    load_worker *w = arg;
    load_shared *sh = w->shared;
    exo_http *h = connect_or_die(sh->o);
    char body[128], path[256];
    snprintf(body, sizeof body, "{\"nodes\":[\"" NODE "\"],\"batch_size\":%d}", sh->o->batch);
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        int finished = sh->done >= sh->target;
        pthread_mutex_unlock(&sh->lock);
        if (finished)
            break;
        int64_t t0 = exo_mono_us();
        json_object *resp = call_or_die(h, "POST", "/v0/namespace/" NS "/states/enqueue", body, 200);
        samples_add(&w->enqueue_lat, exo_mono_us() - t0);
        json_object *states = json_object_object_get(resp, "states");
        size_t n = states ? json_object_array_length(states) : 0;
        if (n == 0)
            w->empty_polls++;
        for (size_t i = 0; i < n; i++) {
            json_object *st = json_object_array_get_idx(states, i);
            const char *id = json_object_get_string(json_object_object_get(st, "state_id"));
            snprintf(path, sizeof path, "/v0/namespace/" NS "/state/%s/executed", id);
            t0 = exo_mono_us();
            json_object_put(call_or_die(h, "POST", path, "{\"outputs\":[{\"y\":\"ok\"}]}", 200));
            samples_add(&w->executed_lat, exo_mono_us() - t0);
        }
        json_object_put(resp);
        pthread_mutex_lock(&sh->lock);
        long before = sh->done;
        sh->done += (long)n;
        if (before / 50000 != sh->done / 50000)
            fprintf(stderr, "  completed %ld/%ld\n", sh->done, sh->target);
        pthread_mutex_unlock(&sh->lock);
    }
    exo_http_free(h);
    return NULL;
}

/* Runs `count` states through W worker threads; fills the latency samples. */
static double run_load(const options *o, long count, samples *enq, samples *exe)
{
    load_shared sh = {.o = o, .target = count};
    pthread_mutex_init(&sh.lock, NULL);
    load_worker *w = calloc((size_t)o->workers, sizeof *w);
    if (!w) {
        perror("exo-bench: calloc");
        exit(1);
    }
    int64_t t0 = exo_mono_us();
    for (int i = 0; i < o->workers; i++) {
        w[i].shared = &sh;
        if (pthread_create(&w[i].thread, NULL, load_worker_main, &w[i]) != 0) {
            fprintf(stderr, "exo-bench: pthread_create failed\n");
            exit(1);
        }
    }
    for (int i = 0; i < o->workers; i++) {
        pthread_join(w[i].thread, NULL);
        samples_merge(enq, &w[i].enqueue_lat);
        samples_merge(exe, &w[i].executed_lat);
        free(w[i].enqueue_lat.us);
        free(w[i].executed_lat.us);
    }
    double secs = (double)(exo_mono_us() - t0) / 1e6;
    free(w);
    pthread_mutex_destroy(&sh.lock);
    return secs;
}

static int cmd_sm_load(const options *o)
{
    setup_graph(o);
    fprintf(stderr, "sm-load: triggering %ld runs ...\n", o->states);
    int64_t t0 = exo_mono_us();
    trigger_runs(o, o->states);
    double trigger_secs = (double)(exo_mono_us() - t0) / 1e6;
    fprintf(stderr, "sm-load: %d workers claiming and completing ...\n", o->workers);
    samples enq = {0}, exe = {0};
    double secs = run_load(o, o->states, &enq, &exe);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "states", json_object_new_int64(o->states));
    json_object_object_add(out, "triggers_per_s", json_object_new_double((double)o->states / trigger_secs));
    json_object_object_add(out, "states_per_s", json_object_new_double((double)o->states / secs));
    /* Each state makes three transitions: CREATED->QUEUED->EXECUTED->SUCCESS. */
    json_object_object_add(out, "transitions_per_s", json_object_new_double(3.0 * (double)o->states / secs));
    json_object_object_add(out, "enqueue_p50_ms", json_object_new_double(samples_pct_ms(&enq, 0.5)));
    json_object_object_add(out, "enqueue_p99_ms", json_object_new_double(samples_pct_ms(&enq, 0.99)));
    json_object_object_add(out, "executed_p50_ms", json_object_new_double(samples_pct_ms(&exe, 0.5)));
    json_object_object_add(out, "executed_p99_ms", json_object_new_double(samples_pct_ms(&exe, 0.99)));
    printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    json_object_put(out);
    free(enq.us);
    free(exe.us);
    return 0;
}

/* ---- growth ------------------------------------------------------------------ */

static int cmd_growth(const options *o)
{
    setup_graph(o);
    json_object *out = json_object_new_array();
    long stored = o->stored;
    char *levels = strdup(o->levels);
    if (!levels)
        return 1;
    for (char *save = NULL, *tok = strtok_r(levels, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long level = strtol(tok, NULL, 10);
        if (level > stored) {
            fprintf(stderr, "growth: storing %ld states ...\n", level - stored);
            trigger_runs(o, level - stored);
            samples a = {0}, b = {0};
            run_load(o, level - stored, &a, &b);
            free(a.us);
            free(b.us);
            stored = level;
        }
        fprintf(stderr, "growth: measuring at %ld stored states ...\n", stored);
        const long probe = 2000;
        trigger_runs(o, probe);
        samples enq = {0}, exe = {0};
        options one = *o;
        one.workers = 1; /* latency, not throughput */
        run_load(&one, probe, &enq, &exe);
        stored += probe;
        json_object *row = json_object_new_object();
        json_object_object_add(row, "stored_states", json_object_new_int64(level));
        json_object_object_add(row, "enqueue_p50_ms", json_object_new_double(samples_pct_ms(&enq, 0.5)));
        json_object_object_add(row, "enqueue_p99_ms", json_object_new_double(samples_pct_ms(&enq, 0.99)));
        json_object_object_add(row, "executed_p50_ms", json_object_new_double(samples_pct_ms(&exe, 0.5)));
        json_object_object_add(row, "executed_p99_ms", json_object_new_double(samples_pct_ms(&exe, 0.99)));
        json_object_array_add(out, row);
        free(enq.us);
        free(exe.us);
    }
    free(levels);
    printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    json_object_put(out);
    return 0;
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: exo-bench floors|sm-load|growth --uri URI --key KEY [--dir DIR] "
                    "[--states N] [--workers W] [--batch B] [--levels a,b,c] [--stored N]\n");
}

/* The value of a numeric option: a whole number 1..1e9, else -1 (reported). */
static long positive(const char *option, const char *value)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno || end == value || *end || n < 1 || n > 1000000000L) {
        fprintf(stderr, "exo-bench: %s wants a whole number from 1 to 1000000000, got '%s'\n", option, value);
        return -1;
    }
    return n;
}

int main(int argc, char **argv)
{
    options o = {.dir = ".", .states = 20000, .workers = 4, .batch = 16,
                 .levels = "10000,100000,1000000"};
    if (argc < 2) {
        usage();
        return 2;
    }
    for (int i = 2; i < argc; i += 2) { /* --option value pairs */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "exo-bench: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--uri"))
            o.uri = v;
        else if (!strcmp(a, "--key"))
            o.key = v;
        else if (!strcmp(a, "--dir"))
            o.dir = v;
        else if (!strcmp(a, "--states"))
            o.states = positive(a, v);
        else if (!strcmp(a, "--workers"))
            o.workers = (int)positive(a, v);
        else if (!strcmp(a, "--batch"))
            o.batch = (int)positive(a, v);
        else if (!strcmp(a, "--levels"))
            o.levels = v;
        else if (!strcmp(a, "--stored"))
            o.stored = positive(a, v);
        else {
            fprintf(stderr, "exo-bench: unknown option %s\n", a);
            usage();
            return 2;
        }
    }
    if (!o.uri || !o.key || o.states < 1 || o.workers < 1 || o.batch < 1 || o.stored < 0) {
        fprintf(stderr, "exo-bench: --uri and --key are required; --states, --workers, --batch, --stored must be >= 1\n");
        return 2;
    }
    if (exo_http_global_init() != 0)
        return 1;
    if (!strcmp(argv[1], "floors"))
        return cmd_floors(&o);
    if (!strcmp(argv[1], "sm-load"))
        return cmd_sm_load(&o);
    if (!strcmp(argv[1], "growth"))
        return cmd_growth(&o);
    usage();
    return 2;
}
