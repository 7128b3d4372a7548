/* exo-host-runner: exo-host's fork server, the parent of every state's process
 * (see zygote.h and child.h).  A separate, small program (linked without libcurl)
 * whose memory never held the host's credentials. */
#include <stdio.h>
#include <string.h>

#include "child.h"
#include "runner.h"
#include "version.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && argc <= 4 && strcmp(argv[1], "--zygote") == 0)
        host_zygote_serve(HOST_ZYGOTE_FD, argc >= 3 ? argv[2] : NULL, argc == 4 ? argv[3] : NULL);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "--probe") == 0)
        host_probe_main(argv[2], argc == 4 ? argv[3] : NULL);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        exo_version_print(stdout, "exo-host-runner");
        return 0;
    }
    fprintf(stderr, "exo-host-runner is started by exo-host; it is not meant to be run by "
                    "hand\n");
    return 2;
}
