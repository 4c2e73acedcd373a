#include "util/tmpl.c"
