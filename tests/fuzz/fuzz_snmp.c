/*
 * fuzz_snmp: what an SNMP agent answers, as the utm plugin handles it:
 * varbinds of any type, OID and value (as Net-SNMP hands them to
 * vb_store in plugins/utm/snmpq.c) stored, then judged against a vendor
 * profile shipped in share/mamori/profiles (plugins/utm/judge.c: uptime
 * and reboots, interfaces, CPU, memory, sessions, storage, extra
 * perfdata).  The agent is a box on the customer's network: its answers
 * are not trusted.
 *
 * Input: [profile byte][options byte] then records
 *   [type][oid base][suffix length][suffix arcs, 1 byte each][value...]
 * where the base picks one of the OIDs the profile asks for (so records
 * land where the judge looks), and the value is 8 bytes for numbers,
 * [n][n bytes] for strings, [base][n][n arcs] for OIDs.
 * Promises: values stored are within their limits (OID length, string
 * terminated and printable); the verdict has a state, terminated texts,
 * at most UTM_PERF_MAX perfdata items each with a label.
 */
#include "tests/fuzz/fuzz.h"

#include "perfdata/perfdata.h"
#include "plugins/utm/judge.c"
#include "plugins/utm/profile.c"
#include "plugins/utm/snmpq.c"

static const char *const profile_files[] = {
	"share/mamori/profiles/fortigate.conf",
	"share/mamori/profiles/generic.conf",
	"share/mamori/profiles/paloalto.conf",
	"share/mamori/profiles/yamaha-rtx.conf",
};
#define N_PROFILES (sizeof profile_files / sizeof profile_files[0])
static struct utm_profile profiles[N_PROFILES];

#define MAX_BASES 128
struct bases {
	struct utm_oid o[MAX_BASES];
	size_t n;
};
static struct bases bases[N_PROFILES];

static void base_add(struct bases *b, const struct utm_oid *o)
{
	if (b->n < MAX_BASES && o->len)
		b->o[b->n++] = *o;
}

static void base_add_text(struct bases *b, const char *s)
{
	struct utm_oid o;
	if (utm_oid_parse(s, &o) == 0)
		base_add(b, &o);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	for (size_t i = 0; i < N_PROFILES; i++) {
		if (utm_profile_load(profile_files[i], &profiles[i], err, sizeof err) != 0) {
			fprintf(stderr, "fuzz_snmp: %s: %s (run from the repository root)\n",
			        profile_files[i], err);
			exit(1);
		}
		struct utm_request req;
		utm_request_build(&profiles[i], 1, &req);
		for (size_t k = 0; k < req.n_scalar; k++)
			base_add(&bases[i], &req.scalar[k]);
		for (size_t k = 0; k < req.n_column; k++)
			base_add(&bases[i], &req.column[k]);
		for (size_t k = 0; k < profiles[i].n; k++) {
			base_add(&bases[i], &profiles[i].m[k].a);
			base_add(&bases[i], &profiles[i].m[k].b);
		}
		base_add_text(&bases[i], "1.3.6.1.2.1.25.2.1.2"); /* hrStorageRam */
		base_add_text(&bases[i], "1.3.6.1.2.1.25.2.1.4"); /* hrStorageFixedDisk */
	}
	return 0;
}

struct in {
	const uint8_t *p;
	size_t n;
};

static int get(struct in *in, void *out, size_t k)
{
	if (in->n < k)
		return -1;
	memcpy(out, in->p, k);
	in->p += k;
	in->n -= k;
	return 0;
}

static int get_oid(struct in *in, const struct bases *b, oid *arcs, size_t *len, size_t max)
{
	uint8_t base, extra;
	if (get(in, &base, 1) || get(in, &extra, 1))
		return -1;
	*len = 0;
	if (base < 0xf0 && b->n) { /* one of the profile's OIDs */
		const struct utm_oid *o = &b->o[base % b->n];
		for (size_t k = 0; k < o->len && *len < max; k++)
			arcs[(*len)++] = o->arc[k];
	}
	for (size_t k = 0; k < extra; k++) {
		uint8_t a;
		if (get(in, &a, 1))
			return -1;
		if (*len < max)
			arcs[(*len)++] = a;
	}
	return 0;
}

static const u_char types[] = { ASN_INTEGER,       ASN_GAUGE,         ASN_COUNTER,
	                        ASN_TIMETICKS,     ASN_COUNTER64,     ASN_OCTET_STR,
	                        ASN_OBJECT_ID,     SNMP_NOSUCHOBJECT, SNMP_NOSUCHINSTANCE,
	                        SNMP_ENDOFMIBVIEW, ASN_NULL,          ASN_IPADDRESS };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t psel = 0, opts = 0;
	get(&in, &psel, 1);
	get(&in, &opts, 1);
	size_t pi = psel % N_PROFILES;
	const struct bases *b = &bases[pi];

	struct utm_values values = { 0 };
	struct utm_snmp q;
	memset(&q, 0, sizeof q);
	q.out = &values;
	size_t records = 0;
	for (;;) {
		uint8_t t;
		oid name[MAX_OID_LEN], objid[MAX_OID_LEN];
		size_t name_len, objid_len = 0;
		long integer = 0;
		struct counter64 c64 = { 0, 0 };
		u_char str[256];
		if (get(&in, &t, 1) || get_oid(&in, b, name, &name_len, MAX_OID_LEN))
			break;
		netsnmp_variable_list v;
		memset(&v, 0, sizeof v);
		v.name = name;
		v.name_length = name_len;
		v.type = types[t % sizeof types];
		switch (v.type) {
		case ASN_COUNTER64:
			if (get(&in, &c64.high, 4) || get(&in, &c64.low, 4))
				goto done;
			v.val.counter64 = &c64;
			v.val_len = sizeof c64;
			break;
		case ASN_OCTET_STR:
		case ASN_IPADDRESS: {
			uint8_t n;
			if (get(&in, &n, 1) || get(&in, str, n))
				goto done;
			v.val.string = str;
			v.val_len = n;
			break;
		}
		case ASN_OBJECT_ID:
			if (get_oid(&in, b, objid, &objid_len, MAX_OID_LEN))
				goto done;
			v.val.objid = objid;
			v.val_len = objid_len * sizeof(oid);
			break;
		default:
			if (get(&in, &integer, sizeof integer))
				goto done;
			v.val.integer = &integer;
			v.val_len = sizeof integer;
		}
		vb_store(&q, &v);
		records++;
	}
done:
	FUZZ_CHECK(values.n <= records, "%zu values from %zu records", values.n, records);
	for (size_t i = 0; i < values.n; i++) {
		const struct utm_vb *vb = &values.v[i];
		FUZZ_CHECK(vb->oid.len <= UTM_OID_MAX && vb->oval.len <= UTM_OID_MAX,
		           "OID too long");
		FUZZ_CHECK(memchr(vb->str, '\0', sizeof vb->str), "string not terminated");
		for (const char *s = vb->str; *s; s++)
			FUZZ_CHECK(*s >= 0x20 && *s < 0x7f, "string byte 0x%02x kept",
			           (unsigned char)*s);
	}

	static const char *const iface_sets[][2] = { { "port1", "LABEL=wan1" },
		                                     { "internal", "" },
		                                     { "WAN=lan1", "x" } };
	const char *const *ifaces = iface_sets[opts % 3];
	struct utm_judge_in jin;
	memset(&jin, 0, sizeof jin);
	jin.profile = &profiles[pi];
	jin.values = &values;
	jin.ifaces = ifaces;
	jin.n_ifaces = (opts >> 2) % 3;
	perf_range_parse("80", &jin.cpu.warn);
	perf_range_parse("90", &jin.cpu.crit);
	perf_range_parse("85", &jin.memory.warn);
	if (opts & 0x10)
		perf_range_parse("@0:10", &jin.sessions.crit);
	jin.now = 1796000000.0;
	jin.prev_uptime = (opts & 0x20) ? 42949672.0 + (opts & 0xc0) : -1;
	jin.prev_check = jin.now - 300;
	jin.reboot_window = (opts & 0x40) ? 3600 : 0;
	jin.range_state = perf_range_state;
	struct utm_judge_out *o = calloc(1, sizeof *o);
	utm_judge(&jin, o);
	FUZZ_CHECK(o->state >= MAMORI_OK && o->state <= MAMORI_UNKNOWN, "state %d", o->state);
	FUZZ_CHECK(memchr(o->output, '\0', sizeof o->output) &&
	               memchr(o->long_output, '\0', sizeof o->long_output),
	           "texts not terminated");
	FUZZ_CHECK(o->n_perf <= UTM_PERF_MAX, "%zu perfdata", o->n_perf);
	for (size_t i = 0; i < o->n_perf; i++)
		FUZZ_CHECK(o->perf[i].label && o->perf[i].label[0], "perfdata %zu without label",
		           i);
	char perf[8192];
	perf_format_all(o->perf, o->n_perf, perf, sizeof perf);
	free(o);
	utm_values_free(&values);
	return 0;
}
