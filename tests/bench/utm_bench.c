/*
 * utm_bench: CPU per check of the utm plugin against a real snmpd and an
 * `openssl s_server` on loopback, through the real loader and host API.
 *
 *   build/bench/utm_bench [checks=10000] [in_flight=50] [ref_runs=200]
 *
 * Kinds measured (each `checks` runs, OK expected):
 *   v2c    SNMP v2c, FortiGate profile scalars + one interface (ifName walk)
 *   v3     the same over SNMPv3 authPriv (SHA/AES)
 *   https  the HTTPS part only: TCP connect, TLS handshake, certificate
 *          checks; checks/5 runs, 8 in flight (s_server answers one
 *          connection at a time, ~250 handshakes/s here)
 * and, as references in the same run, the CPU of one `snmpget` process
 * fetching the same scalars (what an exec'd check_snmp-style poll costs)
 * and of one `openssl s_client` handshake, per run, `ref_runs` times.
 * Output lines end in "X us CPU/check" / "X us CPU/run" for
 * tests/bench/section-netplugins.sh.  Exit 0, 1 (a run not OK), 77 (no
 * snmpd/openssl).
 */
#include "plugbench.h"

#include <sys/stat.h>

#define COMMUNITY "benchcomm"
#define SCALARS                                                                                    \
	"1.3.6.1.2.1.1.3.0", "1.3.6.1.4.1.12356.101.4.1.3.0", "1.3.6.1.4.1.12356.101.4.1.4.0",     \
	    "1.3.6.1.4.1.12356.101.4.1.8.0"

struct servers {
	char dir[64];
	int snmp_port, tls_port;
	pid_t snmpd, tls;
};

/* 0600: the community and passwords are secrets (the core refuses them
 * readable by others). */
static int write_file(const char *dir, const char *name, const char *text)
{
	char path[128];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) != 0 ? -1 : chmod(path, 0600);
}

static int run_wait(char *const argv[])
{
	int st;
	pid_t pid = pb_spawn(argv, NULL);
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0
	                                                                                       : -1;
}

/* A self-signed certificate for localhost/127.0.0.1, valid one year. */
static int make_cert(const struct servers *sv)
{
	char key[128], crt[128];
	snprintf(key, sizeof(key), "%s/tls.key", sv->dir);
	snprintf(crt, sizeof(crt), "%s/tls.crt", sv->dir);
	char *argv[] = { "/usr/bin/openssl",
		         "req",
		         "-x509",
		         "-newkey",
		         "ec",
		         "-pkeyopt",
		         "ec_paramgen_curve:P-256",
		         "-nodes",
		         "-days",
		         "365",
		         "-subj",
		         "/CN=localhost",
		         "-addext",
		         "subjectAltName=DNS:localhost,IP:127.0.0.1",
		         "-keyout",
		         key,
		         "-out",
		         crt,
		         NULL };
	return run_wait(argv);
}

static int start_snmpd(struct servers *sv)
{
	char conf[128], log[128], listen[64], env[128], cmd[64];
	char *argv[] = { "/usr/sbin/snmpd", "-f", "-Lo", "-C",   "-c", conf, "-M",
		         "/nonexistent",    "-m", "",    listen, NULL };
	const char *text = "rocommunity " COMMUNITY " 127.0.0.1\n"
	                   "createUser bench SHA \"benchauth123\" AES \"benchpriv123\"\n"
	                   "rouser bench authpriv\n"
	                   "dontLogTCPWrappersConnects yes\n"
	                   "override .1.3.6.1.2.1.31.1.1.1.1.1 octet_str \"wan1\"\n"
	                   "override .1.3.6.1.4.1.12356.101.4.1.3.0 unsigned 23\n"
	                   "override .1.3.6.1.4.1.12356.101.4.1.4.0 unsigned 41\n"
	                   "override .1.3.6.1.4.1.12356.101.4.1.8.0 unsigned 1234\n";
	snprintf(conf, sizeof(conf), "%s/snmpd.conf", sv->dir);
	snprintf(log, sizeof(log), "%s/snmpd.log", sv->dir);
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%d", sv->snmp_port);
	snprintf(env, sizeof(env), "SNMP_PERSISTENT_DIR=%s", sv->dir);
	if (write_file(sv->dir, "snmpd.conf", text) != 0 || putenv(env) != 0)
		return -1;
	sv->snmpd = pb_spawn(argv, log);
	unsetenv("SNMP_PERSISTENT_DIR");
	if (sv->snmpd < 0)
		return -1;
	/* ready when it answers a GET */
	snprintf(cmd, sizeof(cmd), "127.0.0.1:%d", sv->snmp_port);
	char *get[] = { "/usr/bin/snmpget",  "-v2c", "-c", COMMUNITY, "-t", "0.2", "-r", "0", cmd,
		        "1.3.6.1.2.1.1.3.0", NULL };
	for (int i = 0; i < 50; i++) {
		if (run_wait(get) == 0)
			return 0;
		poll(NULL, 0, 100);
	}
	return -1;
}

static int start_tls(struct servers *sv)
{
	char acc[64], key[128], crt[128];
	char *argv[] = {
		"/usr/bin/openssl", "s_server", "-accept", acc, "-cert", crt, "-key", key, "-www",
		"-quiet",           NULL
	};
	snprintf(acc, sizeof(acc), "127.0.0.1:%d", sv->tls_port);
	snprintf(key, sizeof(key), "%s/tls.key", sv->dir);
	snprintf(crt, sizeof(crt), "%s/tls.crt", sv->dir);
	sv->tls = pb_spawn(argv, NULL);
	return sv->tls < 0 ? -1 : pb_wait_tcp(sv->tls_port, 5000);
}

static void references(const struct servers *sv, long runs)
{
	char target[64], conn[64];
	char *get[] = { "/usr/bin/snmpget", "-v2c", "-c", COMMUNITY, "-On", target, SCALARS, NULL };
	char *cli[] = { "/usr/bin/openssl", "s_client",  "-connect", conn,
		        "-servername",      "localhost", NULL };
	double us;
	snprintf(target, sizeof(target), "127.0.0.1:%d", sv->snmp_port);
	snprintf(conn, sizeof(conn), "127.0.0.1:%d", sv->tls_port);
	us = pb_reference(get, runs);
	printf("%-22s %ld runs: %.1f us CPU/run (one snmpget process, 4 scalars)\n", "ref snmpget",
	       runs, us);
	us = pb_reference(cli, runs);
	printf("%-22s %ld runs: %.1f us CPU/run (one s_client process, one handshake)\n",
	       "ref s_client", runs, us);
}

static int measure_all(struct pb *b, const struct servers *sv, long n, long conc)
{
	char conf[1024];
	const char *common =
	    "profile = \"fortigate\"; interfaces = [ \"WAN=wan1\" ]; "
	    "reboot_window = \"0\"; sessions = { warning = \"80000\"; critical = \"95000\"; };";
	snprintf(conf, sizeof(conf),
	         "check = { %s snmp = { port = %d; community_file = \"%s/community\"; timeout = "
	         "\"1s\"; }; };",
	         common, sv->snmp_port, sv->dir);
	if (pb_measure(b, "utm v2c", conf, n, conc, MAMORI_OK, "127.0.0.1") < 0)
		return -1;
	snprintf(conf, sizeof(conf),
	         "check = { %s snmp = { port = %d; version = \"3\"; user = \"bench\"; "
	         "auth_protocol = \"SHA\";"
	         " auth_password_file = \"%s/auth\"; priv_protocol = \"AES\"; priv_password_file = "
	         "\"%s/priv\";"
	         " timeout = \"1s\"; }; };",
	         common, sv->snmp_port, sv->dir, sv->dir);
	if (pb_measure(b, "utm v3", conf, n, conc, MAMORI_OK, "127.0.0.1") < 0)
		return -1;
	snprintf(
	    conf, sizeof(conf),
	    "check = { https = { url = \"https://localhost:%d/\"; ca_file = \"%s/tls.crt\"; }; };",
	    sv->tls_port, sv->dir);
	if (pb_measure(b, "utm https", conf, n / 5 > 0 ? n / 5 : 1, conc < 8 ? conc : 8, MAMORI_OK,
	               "127.0.0.1") < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000, conc = argc > 2 ? atol(argv[2]) : 50;
	long refs = argc > 3 ? atol(argv[3]) : 200;
	const char *so = getenv("UTM_SO") ? getenv("UTM_SO") : "build/plugins/utm.so";
	struct servers sv = { .snmpd = -1, .tls = -1 };
	struct pb b = { 0 };
	int rc = 1, made = 0;

	if (n < 1 || conc < 1 || refs < 1)
		return 2;
	if (access("/usr/sbin/snmpd", X_OK) || access("/usr/bin/snmpget", X_OK) ||
	    access("/usr/bin/openssl", X_OK)) {
		fprintf(
		    stderr,
		    "utm_bench: needs snmpd, snmpget and openssl (Debian: snmpd snmp openssl)\n");
		return 77;
	}
	snprintf(sv.dir, sizeof(sv.dir), "%s", "/tmp/mamori-utm-bench.XXXXXX");
	sv.snmp_port = pb_free_port(SOCK_DGRAM);
	sv.tls_port = pb_free_port(SOCK_STREAM);
	made = mkdtemp(sv.dir) != NULL;
	if (!made || write_file(sv.dir, "community", COMMUNITY "\n") ||
	    write_file(sv.dir, "auth", "benchauth123\n") ||
	    write_file(sv.dir, "priv", "benchpriv123\n") || make_cert(&sv) != 0) {
		fprintf(stderr, "utm_bench: cannot prepare %s\n", sv.dir);
		goto out;
	}
	if (start_snmpd(&sv) != 0 || start_tls(&sv) != 0) {
		fprintf(stderr, "utm_bench: snmpd or s_server did not start (logs in %s)\n",
		        sv.dir);
		goto out;
	}
	if (pb_open(&b, so) == 0 && measure_all(&b, &sv, n, conc) == 0) {
		references(&sv, refs);
		rc = 0;
	}
out:
	pb_close(&b);
	pb_stop(sv.snmpd);
	pb_stop(sv.tls);
	if (made) {
		char *rm[] = { "/bin/rm", "-rf", sv.dir, NULL };
		run_wait(rm);
	}
	return rc;
}
