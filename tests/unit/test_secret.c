/* Unit tests: util/secret (the permission rules for secret files and the
 * state directory): which modes are accepted and refused, what the
 * messages say (the file, the mode, the chmod that fixes it - never the
 * content), a missing file, a FIFO and a directory in a secret's place, a
 * file too large to be a secret, the trailing newline. */
#include "util/secret.h"
#include "tests/lib/tmpdir.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONTENT "s3cret-never-shown"

static char dir[64], path[128];

static void setup(void)
{
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "secret"), 0);
	snprintf(path, sizeof path, "%s/pw", dir);
}

static void teardown(void)
{
	ck_assert_int_eq(tmpdir_remove(dir), 0);
}

START_TEST(accepted_modes)
{
	static const unsigned ok[] = { 0600, 0640, 0400, 0440, 0700 };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char err[512] = "", *s = NULL;
		size_t len = 0;
		ck_assert_int_eq(tmpdir_write_file(path, CONTENT "\n", ok[i]), 0);
		ck_assert_msg(secret_check_mode(path, err, sizeof err) == 0, "%04o: %s", ok[i],
		              err);
		ck_assert_msg(secret_read_file(path, &s, &len, err, sizeof err) == 0, "%04o: %s",
		              ok[i], err);
		ck_assert_str_eq(s, CONTENT);
		ck_assert_uint_eq(len, strlen(CONTENT));
		secret_free(s, len);
	}
}
END_TEST

START_TEST(refused_modes)
{
	static const struct {
		unsigned mode;
		const char *why;
	} bad[] = {
		{ 0644, "readable by others" },    { 0604, "readable by others" },
		{ 0660, "writable by its group" }, { 0620, "writable by its group" },
		{ 0602, "writable by others" },    { 0666, "writable by others" },
		{ 0601, "accessible by others" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[512] = "", want[256], *s = (char *)"untouched";
		ck_assert_int_eq(tmpdir_write_file(path, CONTENT "\n", bad[i].mode), 0);
		ck_assert_int_eq(secret_check_mode(path, err, sizeof err), -1);
		ck_assert_msg(strstr(err, bad[i].why), "%04o: %s", bad[i].mode, err);
		err[0] = '\0';
		ck_assert_int_eq(secret_read_file(path, &s, NULL, err, sizeof err), -1);
		ck_assert_ptr_null(s);
		snprintf(want, sizeof want, "bad permissions %04o on %s", bad[i].mode, path);
		ck_assert_msg(strstr(err, want), "%s", err);
		ck_assert_msg(strstr(err, bad[i].why), "%s", err);
		snprintf(want, sizeof want, "chmod 600 %s", path);
		ck_assert_msg(strstr(err, want), "no fix in: %s", err);
		ck_assert_msg(!strstr(err, CONTENT), "content in the message: %s", err);
	}
}
END_TEST

START_TEST(missing_and_odd_files)
{
	char err[512] = "", *s = NULL, want[256];
	snprintf(want, sizeof want, "cannot read %s: No such file or directory", path);
	ck_assert_int_eq(secret_check_mode(path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, want), "%s", err);
	err[0] = '\0';
	ck_assert_int_eq(secret_read_file(path, &s, NULL, err, sizeof err), -1);
	ck_assert_msg(strstr(err, want), "%s", err);

	/* a FIFO must not block the open, and is not a secret file */
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(secret_read_file(path, &s, NULL, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "not a regular file"), "%s", err);
	ck_assert_int_eq(secret_check_mode(path, err, sizeof err), -1);
	unlink(path);
	/* a directory neither */
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(secret_read_file(path, &s, NULL, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "not a regular file"), "%s", err);
	rmdir(path);

	/* too large to be a password */
	char *big = malloc(SECRET_MAX + 2);
	memset(big, 'x', SECRET_MAX + 1);
	big[SECRET_MAX + 1] = '\0';
	ck_assert_int_eq(tmpdir_write_file(path, big, 0600), 0);
	free(big);
	ck_assert_int_eq(secret_read_file(path, &s, NULL, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "larger than"), "%s", err);
}
END_TEST

START_TEST(newline_stripped_once)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "pw\n", "pw" },     { "pw\r\n", "pw" }, { "pw", "pw" },
		{ "pw\n\n", "pw\n" }, { "", "" },         { "a b\nc\n", "a b\nc" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[512] = "", *s = NULL;
		size_t len = 0;
		ck_assert_int_eq(tmpdir_write_file(path, cases[i].text, 0600), 0);
		ck_assert_msg(secret_read_file(path, &s, &len, err, sizeof err) == 0, "%s", err);
		ck_assert_str_eq(s, cases[i].want);
		ck_assert_uint_eq(len, strlen(cases[i].want));
		secret_free(s, len);
	}
	secret_free(NULL, 0);
}
END_TEST

START_TEST(state_dir_modes)
{
	static const unsigned ok[] = { 0700, 0750, 0755, 0711 };
	static const unsigned bad[] = { 0777, 0770, 0757, 01777, 0730 };
	char d[160], err[512], want[256];
	snprintf(d, sizeof d, "%s/state", dir);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		err[0] = '\0';
		ck_assert_int_eq(chmod(d, ok[i]), 0);
		ck_assert_msg(secret_check_dir("state_dir", d, err, sizeof err) == 0, "%04o: %s",
		              ok[i], err);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(chmod(d, bad[i]), 0);
		ck_assert_int_eq(secret_check_dir("state_dir", d, err, sizeof err), -1);
		snprintf(want, sizeof want, "bad permissions %04o on state_dir %s: writable by",
		         bad[i], d);
		ck_assert_msg(strstr(err, want), "%s", err);
		snprintf(want, sizeof want, "chmod 750 %s", d);
		ck_assert_msg(strstr(err, want), "%s", err);
	}
	/* not a directory, missing */
	ck_assert_int_eq(tmpdir_write_file(path, "x", 0600), 0);
	ck_assert_int_eq(secret_check_dir("state_dir", path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "is not a directory"), "%s", err);
	snprintf(d, sizeof d, "%s/none", dir);
	ck_assert_int_eq(secret_check_dir("state_dir", d, err, sizeof err), -1);
	ck_assert_msg(strstr(err, d) && strstr(err, "No such file"), "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secret");
	TCase *tc = tcase_create("secret");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, accepted_modes);
	tcase_add_test(tc, refused_modes);
	tcase_add_test(tc, missing_and_odd_files);
	tcase_add_test(tc, newline_stripped_once);
	tcase_add_test(tc, state_dir_modes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
