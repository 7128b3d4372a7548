/* Leaves a mess in its scratch directory: input "files" files, a directory tree
 * "depth" levels deep (deeper than PATH_MAX), and a symbolic link to / at the
 * bottom (a cleanup that follows it would empty the machine). */
#include <exo/node.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

EXO_NODE("ScratchMessNode", EXO_INPUTS(EXO_DEFAULT("files", "1000"), EXO_DEFAULT("depth", "100")),
         EXO_OUTPUTS("made"), EXO_SECRETS());

int exo_execute(exo_ctx *ctx)
{
    int files = atoi(exo_input(ctx, "files")), depth = atoi(exo_input(ctx, "depth"));
    char name[32];
    for (int i = 0; i < files; i++) {
        snprintf(name, sizeof name, "f%d", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
            return exo_fail(ctx, "cannot create file %d", i);
        close(fd);
    }
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < depth && dir >= 0; i++) {
        if (mkdirat(dir, "deeper-and-deeper", 0700) < 0)
            return exo_fail(ctx, "mkdir at level %d failed", i);
        int next = openat(dir, "deeper-and-deeper", O_RDONLY | O_DIRECTORY);
        close(dir);
        dir = next;
    }
    if (dir < 0 || symlinkat("/", dir, "escape") < 0)
        return exo_fail(ctx, "cannot finish the tree");
    close(dir);
    return exo_outputf(ctx, "made", "%d files, %d levels", files, depth);
}
