/* Program versions: every program's --version prints the project's version (from
 * CMake's project()) and, when built from a git checkout, `git describe` of it,
 * both fixed at configure time in the generated exo_version_gen.h. */
#ifndef EXO_VERSION_H
#define EXO_VERSION_H

#include <stdio.h>

#include "exo_version_gen.h"

/* "0.1.0" or "0.1.0 (git v0.1.0-12-gabc1234-dirty)": static storage, never NULL. */
const char *exo_version_string(void);

/* Prints "PROGRAM VERSION[ (git DESCRIBE)]\n" to out: what --version prints. */
void exo_version_print(FILE *out, const char *program);

#endif
