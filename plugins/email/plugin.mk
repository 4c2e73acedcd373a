# email notifier: libcurl (SMTP and IMAP on the loop through plugins/lib/curlloop.c).
PLUGIN_CFLAGS_email = $(CURL_CFLAGS)
PLUGIN_LIBS_email = $(CURL_LIBS)
