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
    while (!found && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
            continue;
        if (lo == (unsigned long)needle || lo == (unsigned long)buf || strstr(line, "[vvar"))
            continue;
        if (hi - lo > (1UL << 30))
            continue; /* sanitizer shadow reservations, not data */
        regions++;
        for (unsigned long at = lo; at < hi && !found; at += CHUNK - 4096) {
            size_t want = hi - at < CHUNK ? hi - at : CHUNK;
            ssize_t got = pread(mem, buf, want, (off_t)at);
            if (got <= 0)
                break;
            found = memmem(buf, (size_t)got, needle, n) != NULL;
        }
    }
    fclose(maps);
    close(mem);
    exo_output(ctx, "found", found ? "yes" : "no");
    return exo_outputf(ctx, "regions", "%d", regions);
}
