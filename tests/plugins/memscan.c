/* Healthy (diagnostic): searches its own process memory for a string and reports
 * whether it was found.  The string is passed reversed so that the input itself
 * does not contain it.  Used to check that no API key reaches a state's child. */
#include <exo/node.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

EXO_NODE("MemScanNode", EXO_INPUTS("reversed"), EXO_OUTPUTS("found", "regions"), EXO_SECRETS());

#define CHUNK (1 << 20)

typedef struct { unsigned long lo, hi; } span;

/* 1 when needle occurs in [lo, hi) of this process, leaving out the skip spans (the
 * needle's and the buffer's own pages: the kernel may merge those mappings with a
 * neighbour, so they are left out by address, not by mapping). */
static int scan(int mem, char *buf, const char *needle, size_t n, unsigned long lo, unsigned long hi,
                const span *skip, size_t nskip)
{
    for (size_t i = 0; i < nskip; i++) {
        if (skip[i].hi <= lo || skip[i].lo >= hi)
            continue;
        return (skip[i].lo > lo && scan(mem, buf, needle, n, lo, skip[i].lo, skip + i + 1, nskip - i - 1)) ||
               (skip[i].hi < hi && scan(mem, buf, needle, n, skip[i].hi, hi, skip + i + 1, nskip - i - 1));
    }
    for (unsigned long at = lo; at < hi; at += CHUNK - 4096) {
        size_t want = hi - at < CHUNK ? hi - at : CHUNK;
        ssize_t got = pread(mem, buf, want, (off_t)at);
        if (got <= 0)
            return 0;
        if (memmem(buf, (size_t)got, needle, n))
            return 1;
    }
    return 0;
}

int exo_execute(exo_ctx *ctx)
{
    const char *rev = exo_input(ctx, "reversed");
    size_t n = strlen(rev);
    /* Needle and scratch live in private mappings that are skipped while scanning. */
    char *needle = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *buf = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (needle == MAP_FAILED || buf == MAP_FAILED || n == 0 || n >= 4096)
        return exo_fail(ctx, "setup failed");
    for (size_t i = 0; i < n; i++)
        needle[i] = rev[n - 1 - i];
    FILE *maps = fopen("/proc/self/maps", "r");
    int mem = open("/proc/self/mem", O_RDONLY);
    if (!maps || mem < 0)
        return exo_fail(ctx, "cannot open /proc/self/maps or mem");
    char line[512];
    int found = 0, regions = 0;
    const span skip[] = {{(unsigned long)needle, (unsigned long)needle + 4096},
                         {(unsigned long)buf, (unsigned long)buf + CHUNK}};
    while (!found && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
            continue;
        if (strstr(line, "[vvar"))
            continue;
        if (hi - lo > (1UL << 30))
            continue; /* sanitizer shadow reservations, not data */
        regions++;
        found = scan(mem, buf, needle, n, lo, hi, skip, sizeof skip / sizeof skip[0]);
    }
    fclose(maps);
    close(mem);
    exo_output(ctx, "found", found ? "yes" : "no");
    return exo_outputf(ctx, "regions", "%d", regions);
}
