/* Test plugin: lacks init; must be refused. */
#include <mamori/plugin.h>
static void d(void *inst)
{
}
MAMORI_PLUGIN_DEFINE(.name = "no_init", .version = "0", .flags = MAMORI_PLUGIN_PASSIVE,
                     .destroy = d);
