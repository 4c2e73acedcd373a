/* Test plugin: a shared object without mamori_plugin_v1. */
#include <mamori/plugin.h>
MAMORI_EXPORT int not_a_plugin(void);
int not_a_plugin(void)
{
	return 42;
}
