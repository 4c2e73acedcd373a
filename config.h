/* Written by ./configure */
#ifndef MAMORI_CONFIG_H
#define MAMORI_CONFIG_H
#define MAMORI_VERSION "0.1.0"
#define MAMORI_PLUGINDIR "/usr/local/lib/mamori/plugins"
#define MAMORI_DATADIR "/usr/local/share/mamori"
#define MAMORI_SYSCONFDIR "/usr/local/etc/mamori"
#define MAMORI_STATEDIR "/usr/local/var/lib/mamori"
#endif
