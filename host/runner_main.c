/* exo-host-runner: the process of one state, started by exo-host (see child.h).
 * A separate, small program so that it starts fast: it is linked without libcurl. */
#include <stdio.h>
#include <string.h>

#include "child.h"

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--run-state") == 0)
        host_runner_main();
    fprintf(stderr, "exo-host-runner is started by exo-host for each state; "
                    "it is not meant to be run by hand\n");
    return 2;
}
