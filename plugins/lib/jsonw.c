#include "util/jsonw.c"
