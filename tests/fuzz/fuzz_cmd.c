/*
 * fuzz_cmd: a contact center's command (mamori.cmd/1 on
 * mamori/v1/cmd/{center}) through cmd_parse (src/proto/cmd.c), then the
 * answer the server would publish.  Promises: an accepted command has an
 * id, alert and author of printable characters and a note where its
 * action needs one; a refused one names why and keeps no memory; the
 * answer (mamori.cmdresult/1) for any id the parser kept is valid JSON
 * that jsonw accepts and that carries the same id back; the processed-id
 * table finds what it recorded.
 */
#include "tests/fuzz/fuzz.h"
#include "proto/cmd.h"
#include "util/jsonw.h"

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	struct cmd c;
	char msg[256];
	msg[0] = '\0';
	enum cmd_err e = cmd_parse(buf, size, &c, msg, sizeof msg);
	free(buf);
	FUZZ_CHECK(e >= CMD_OK && e < CMD_E__COUNT, "error %d", e);
	FUZZ_CHECK(memchr(c.id, '\0', sizeof c.id), "id not terminated");
	FUZZ_CHECK(printable(c.id), "id with control characters");
	if (e == CMD_OK) {
		FUZZ_CHECK(c.id[0] && c.alert && c.alert[0] && c.by && c.by[0], "fields missing");
		FUZZ_CHECK(printable(c.alert) && printable(c.by), "control characters accepted");
		if (c.action == ALERT_ACT_RESOLVE || c.action == ALERT_ACT_COMMENT)
			FUZZ_CHECK(c.note != NULL, "resolve/comment without a note");
		if (c.action == ALERT_ACT_DISPATCH)
			FUZZ_CHECK(c.vendor || c.result || c.planned_at != 0, "empty dispatch");
	} else {
		FUZZ_CHECK(msg[0] != '\0', "refused without a message");
		FUZZ_CHECK(!c.alert && !c.by && !c.note && !c.vendor && !c.result,
		           "fields kept after a refusal");
	}
	FUZZ_CHECK(cmd_errname(e) != NULL, "error unnamed");

	/* the answer */
	char *res = cmd_format_result(c.id, c.alert, e, e == CMD_OK ? NULL : msg, "node-1");
	FUZZ_CHECK(res != NULL, "no answer");
	struct jsonw_error je;
	cJSON *o = jsonw_parse(res, strlen(res), NULL, &je);
	FUZZ_CHECK(o != NULL, "answer is not JSON (%s at %zu): %s", jsonw_errname(je.code),
	           je.offset, res);
	const char *id = NULL;
	if (c.id[0])
		FUZZ_CHECK(jsonw_get_string(o, "id", &id) == 1 && strcmp(id, c.id) == 0,
		           "answer's id differs: %s", res);
	cJSON_Delete(o);
	free(res);

	if (c.id[0]) {
		struct cmd_seen *s = cmd_seen_new(4, 0);
		enum cmd_err got = CMD_OK;
		FUZZ_CHECK(cmd_seen_add(s, "center-a", c.id, e, 1) == 0, "seen_add failed");
		FUZZ_CHECK(cmd_seen_lookup(s, "center-a", c.id, &got) == 1 && got == e,
		           "recorded id not found");
		FUZZ_CHECK(cmd_seen_lookup(s, "center-b", c.id, &got) == 0,
		           "id found for another center");
		cmd_seen_free(s);
	}
	cmd_clear(&c);
	return 0;
}
