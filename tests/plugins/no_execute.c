/* Load error: declares a node but no exo_execute. */
#include <exo/node.h>

EXO_NODE("NoExecuteNode", EXO_INPUTS(), EXO_OUTPUTS(), EXO_SECRETS());
