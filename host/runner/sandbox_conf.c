/* Defaults of the sandbox group of host.conf; shared by the host (config parsing)
 * and the state runner (a job without some limit). */
#include <stdio.h>
#include <string.h>

#include "sandbox_conf.h"

void host_sandbox_defaults(host_sandbox_conf *sb)
{
    memset(sb, 0, sizeof *sb);
    sb->timeout_ms = 30000;
    sb->memory_mb = 256;
    sb->cpu_seconds = 60;
    sb->open_files = 64;
    sb->file_size_mb = 64;
    sb->processes = 0;
    sb->max_threads = 64;
    sb->scratch_mb = 256;
    sb->output_kb = 1024;
    sb->network = false;
    snprintf(sb->user, sizeof sb->user, "nobody");
}
